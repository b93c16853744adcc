"""The error budget: a service-level objective, its burn rate, and the freeze a fast burn causes.

Bad time is failure exposure: a failure's duration × the share of users it reaches
(``Incident.exposed_share``). Every ``check_every`` hours the monitor measures the burn
rate over the last ``burn_window``::

    burn = exposure in [now - burn_window, now] / burn_window / (1 - objective)

(1 spends the budget exactly as fast as the objective allows). Above
``freeze_burn_rate`` feature deployments freeze — fixes and hotfixes still ship
(:meth:`Delivery.candidates`) — until the burn rate is back at or below 1. Each freeze is
recorded in the ``freezes`` table.

With ``reliability_work`` the team uses the freeze: a developer who would start a new
feature does a piece of reliability work instead (:class:`ReliabilityWork`), which makes
the test suite better at catching defects from then on.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable, Generator, Optional

import simpy

from trunksim.engine.entities import Incident
from trunksim.engine.log import EventLog
from trunksim.tables import FreezeRecord

if TYPE_CHECKING:  # pragma: no cover
    from trunksim.engine.ci import CIService
    from trunksim.engine.delivery import Delivery
    from trunksim.engine.people import Developer
    from trunksim.scenario.mechanisms import ErrorBudget


def exposure_between(incidents: list[Incident], start: float, end: float, now: float) -> float:
    """User-hours of failure in ``[start, end]``: Σ overlap × exposed share (an open failure lasts until ``now``)."""
    total = 0.0
    for incident in reversed(incidents):
        restored = incident.restored if incident.restored >= 0 else now
        overlap = min(restored, end) - max(incident.started, start)
        if overlap > 0:
            total += overlap * incident.exposed_share
    return total


class ErrorBudgetMonitor:
    """Checks the burn rate and freezes or thaws feature deployments.

    Parameters
    ----------
    env : simpy.Environment
        The simulation.
    settings : scenario error_budget section
        Objective, windows, threshold, check interval.
    incidents : list of Incident
        The incident desk's incidents (read as they grow).
    delivery : Delivery
        Its ``frozen`` flag is set here; it is poked when a freeze ends.
    log : EventLog
        Freezes are recorded there.
    """

    def __init__(self, env: simpy.Environment, settings: "ErrorBudget", incidents: list[Incident], delivery: "Delivery", log: EventLog) -> None:
        self.env = env
        self.settings = settings
        self.incidents = incidents
        self.delivery = delivery
        self.log = log
        self.frozen_since = -1.0
        self.frozen_burn = math.nan
        env.process(self.watch())

    def burn_rate(self) -> float:
        """The burn rate over the last ``burn_window``, multiples of the budgeted rate."""
        now, settings = self.env.now, self.settings
        exposure = exposure_between(self.incidents, now - settings.burn_window, now, now)
        return exposure / settings.burn_window / (1.0 - settings.objective)

    def watch(self) -> Generator:
        """Every ``check_every`` hours: freeze on a fast burn, thaw once the burn is back under budget."""
        settings = self.settings
        while True:
            yield self.env.timeout(settings.check_every)
            burn = self.burn_rate()
            if not self.delivery.frozen and burn > settings.freeze_burn_rate:
                self.delivery.frozen = True
                self.frozen_since, self.frozen_burn = self.env.now, burn
            elif self.delivery.frozen and burn <= 1.0:
                self.delivery.frozen = False
                self.log.freezes.append(FreezeRecord(self.frozen_since, self.env.now, self.frozen_burn))
                self.delivery.poke()

    def open_freeze(self) -> list[FreezeRecord]:
        """The freeze still on at the end of the run, if any (its end is NaN)."""
        return [FreezeRecord(self.frozen_since, math.nan, self.frozen_burn)] if self.delivery.frozen else []


class ReliabilityWork:
    """What a team does with a freeze: reliability work instead of new features.

    While feature deployments are frozen, a developer who would start a new feature
    works ``reliability_task`` working hours on reliability instead (activity
    ``reliability``: tests, alerts, postmortem actions); each piece closes
    ``reliability_detection_gain`` of the gap to 1 in the suite's chance of catching a
    defect of every severity (:meth:`CIService.learn_all`), for the rest of the run.
    Work already started (a change being coded, a plan's next piece) goes on.

    Parameters
    ----------
    settings : scenario error_budget section
        ``reliability_task`` (working hours) and ``reliability_detection_gain`` (fraction).
    delivery : Delivery
        Its ``frozen`` flag says whether a freeze is on.
    ci : CIService
        The suite that learns.
    """

    def __init__(self, settings: "ErrorBudget", delivery: "Delivery", ci: "CIService") -> None:
        self.settings = settings
        self.delivery = delivery
        self.ci = ci

    def now(self) -> Optional[Callable[["Developer"], Generator]]:
        """The work to do instead of starting a feature, or ``None`` when there is no freeze."""
        return self.work if self.delivery.frozen else None

    def work(self, dev: "Developer") -> Generator:
        """A task body: one piece of reliability work."""
        yield from dev.work(self.settings.reliability_task, "reliability")
        self.ci.learn_all(self.settings.reliability_detection_gain)

"""The delivery model: one replication of one scenario, wired together and run.

Time inside the engine is **clock hours** since Monday 00:00 of week 0; human effort
is **working hours**, which become clock time only through the working calendar
(:mod:`trunksim.engine.calendar`).

``DeliveryModel`` builds the components, each given only what it uses:

* :class:`~trunksim.engine.backlog.Backlog` — features, defects and changes are born;
* :class:`~trunksim.engine.people.Team` — developers, the review queue, on call;
* :class:`~trunksim.engine.branches.Branches` — branches and merge bookkeeping;
* :class:`~trunksim.engine.ci.CIService` — the runner pool;
* :class:`~trunksim.engine.flow.Flow` — review, sync, CI and merge; post-merge builds;
* :class:`~trunksim.engine.delivery.Delivery` — deployments, canaries, flags, rollbacks;
* :class:`~trunksim.engine.incidents.IncidentDesk` — failures and their restoration;
* :class:`~trunksim.engine.repairs.Repairs` — fixes of defects found after merge;

and the strategy plug-in, which acts only through :class:`~trunksim.engine.port.EnginePort`.
"""

from __future__ import annotations

import contextlib
import gc
import time
from typing import Iterator, Optional

import simpy

from trunksim.engine.backlog import Backlog
from trunksim.engine.branches import Branches
from trunksim.engine.budget import ErrorBudgetMonitor, ReliabilityWork
from trunksim.engine.calendar import WorkingCalendar, personal_calendars
from trunksim.engine.ci import CIService
from trunksim.engine.delivery import Delivery
from trunksim.engine.flags import FlagKeeper
from trunksim.engine.flow import Flow
from trunksim.engine.incidents import IncidentDesk
from trunksim.engine.log import EventLog
from trunksim.engine.merging import DefaultMergeModel, MergeModel
from trunksim.engine.people import Team
from trunksim.engine.port import EnginePort
from trunksim.engine.queue import MergeQueue
from trunksim.engine.repairs import Repairs
from trunksim.engine.scheduling import run_until, scheduled_events
from trunksim.randomness import UNIFORM, Streams
from trunksim.scenario.schema import Scenario
from trunksim.strategies.registry import strategy_class
from trunksim.tables import Run

CHECK_EVERY_EVENTS = 2_000
"""Events between two checks of a replication's bounds (``max_events``, ``max_wall_seconds``), events."""


class SimulationLimitError(RuntimeError):
    """A replication passed its event or wall-clock bound (``simulation.max_events``/``max_wall_seconds``)."""


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while one replication is built, run and tabulated.

    A replication allocates hundreds of thousands of small objects that live until it
    ends (changes, defects, records); the collector would scan them again and again
    (about 10% of a replication's CPU) and find almost nothing: the engine makes few
    reference cycles until the model itself is dropped. On leaving, the collector is
    switched back on (if it was on) and the young generations are collected once, which
    frees the finished model. Results never depend on it.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
            gc.collect(1)


def run_bounded(env: simpy.Environment, scenario: Scenario, seed: int, replication: int) -> None:
    """Run ``env`` for ``simulation.duration`` hours, checking the bounds every :data:`CHECK_EVERY_EVENTS` events.

    Raises
    ------
    SimulationLimitError
        Past ``simulation.max_events`` scheduled events or ``simulation.max_wall_seconds``
        of real time; the message names the scenario, the replication and the seed.
    """
    settings = scenario.simulation
    started = time.perf_counter()

    def check_limits() -> None:
        where = (
            f"scenario {scenario.name!r}, replication {replication} (seed {seed}): "
            f"stopped at {env.now:.0f} h of {settings.duration:.0f} h: more than"
        )
        if scheduled_events(env) > settings.max_events:
            raise SimulationLimitError(
                f"{where} simulation.max_events={settings.max_events} events; raise the bound or shorten simulation.duration"
            )
        if time.perf_counter() - started > settings.max_wall_seconds:
            raise SimulationLimitError(
                f"{where} simulation.max_wall_seconds={settings.max_wall_seconds:g} s; "
                "raise the bound or shorten simulation.duration"
            )

    run_until(env, settings.duration, CHECK_EVERY_EVENTS, check_limits)
    check_limits()


class DeliveryModel:
    """One replication: build it, then call :meth:`run`.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario.
    seed : int
        Root seed of the random streams.
    replication : int
        Replication index (selects the streams), 0-based.
    merge_model : MergeModel, optional
        Replaces the default merge-conflict and breakage model.
    env : simpy.Environment, optional
        The simulation to join: an organisation's repositories share one (default: a
        new one of its own).
    unit : str
        An organisation's repository: the namespace of its random streams ("" for a
        one-team scenario).
    """

    def __init__(
        self, scenario: Scenario, seed: int, replication: int = 0, merge_model: Optional[MergeModel] = None,
        env: Optional[simpy.Environment] = None, unit: str = "",
    ) -> None:
        self.scenario = scenario
        self.seed = seed
        self.replication = replication
        env = self.env = env if env is not None else simpy.Environment()
        streams = self.streams = Streams(seed, replication, unit)
        log = self.log = EventLog()
        cal = scenario.team.calendar
        calendar = self.calendar = WorkingCalendar(cal.enabled, cal.hours_per_day, cal.days_per_week, cal.day_start_hour)
        merge_model = merge_model or DefaultMergeModel(
            scenario.merging.conflict_coefficient, scenario.merging.semantic_breakage_probability
        )
        merge_u = streams.buffered("merge", UNIFORM)

        strategy_type = strategy_class(scenario.strategy.name)
        production = strategy_type.production_branch
        self.branches = Branches(env, log, [], scenario.ci.post_merge, merge_model, merge_u)
        port = EnginePort(env, calendar, self.branches)
        self.strategy = strategy_type(scenario.strategy, port)
        for name in self.strategy.long_lived_branches():
            self.branches.create(name)

        review = scenario.review
        response_time = streams.buffered("review_response", review.response_time) if review.response_time is not None else None
        self.team = Team(env, scenario.team, review.reviewers, response_time, calendar)
        self.backlog = Backlog(scenario, streams, log, lambda: env.now, self.strategy.integration_branch)
        self.ci = CIService(env, scenario.ci, streams, log)
        self.flow = Flow(
            env, scenario, streams, merge_u, self.team, self.branches, self.ci, self.backlog, merge_model,
            self.strategy.on_merged, self.strategy.verification_hours, calendar,
        )
        if scenario.merge_queue.enabled:
            self.flow.queue = MergeQueue(
                env, scenario.merge_queue, self.ci, self.branches, merge_model, merge_u,
                lambda change, branch: self.flow.merge(change, branch, breaks=False),
            )
        self.delivery = Delivery(env, scenario, streams, self.branches[production])
        self.repairs = Repairs(
            env, scenario.ci, self.team, self.backlog, self.flow, self.branches, self.branches[production],
            self.strategy.fix_target, self.strategy.reverts_known_defects,
        )
        self.incidents = IncidentDesk(
            env, scenario.incidents, streams, self.team, self.delivery, self.repairs, self.flow, self.branches[production],
            scenario.postmortems,
        )
        port.connect(self.team, self.flow, self.repairs)
        self.branches.on_green = self._on_green
        # Processes start in this order (it fixes the order of same-instant events):
        # the deployer, the developers, the post-merge builds, the strategy's own.
        self.delivery.connect(self.incidents, self.repairs)
        calendars = personal_calendars(calendar, scenario.team.developers, cal.start_spread, list(cal.time_zones))
        self.team.hire(calendars, log, self.backlog, self.flow.review, self.flow.submit, self.strategy.plan)
        if scenario.ci.post_merge:
            for branch in list(self.branches.values()):
                env.process(self.flow.build_branch(branch))
        self.strategy.start()
        if scenario.flags.enabled:
            shares = scenario.work.severity_shares
            self.incidents.severity_shares = [share / sum(shares) for share in shares]
            self.delivery.flags = FlagKeeper(env, scenario.flags, streams, self.incidents.misconfigure)
            self.team.coding_factor = self.delivery.flags.coding_factor
        self.team.flag_every_feature = scenario.flags.enabled and scenario.flags.every_feature
        self.budget = (
            ErrorBudgetMonitor(env, scenario.error_budget, self.incidents.incidents, self.delivery, log)
            if scenario.error_budget.enabled else None
        )
        if scenario.error_budget.enabled and scenario.error_budget.reliability_work:
            self.team.instead_of_new_work = ReliabilityWork(scenario.error_budget, self.delivery, self.flow.ci).now

    def _on_green(self, branch) -> None:
        if branch is self.delivery.branch:
            self.delivery.poke()

    def run(self) -> Run:
        """Simulate ``simulation.duration`` hours and return the event tables.

        The bounds are checked every :data:`CHECK_EVERY_EVENTS` events (a few
        milliseconds of work), so a replication stops within moments of passing one,
        however many events a simulated hour holds; checking never changes what is
        simulated.

        Raises
        ------
        SimulationLimitError
            If the run passes ``simulation.max_events`` scheduled events or
            ``simulation.max_wall_seconds`` of real time; the message names the
            scenario, the replication and the seed.
        """
        started = time.perf_counter()
        run_bounded(self.env, self.scenario, self.seed, self.replication)
        return self.result(time.perf_counter() - started)

    def result(self, wall_seconds: float) -> Run:
        """Package the event log of a finished run."""
        if self.budget is not None:
            self.log.freezes.extend(self.budget.open_freeze())
        frames = self.log.tables(self.delivery.deployments, self.incidents.incidents, self.branches.values())
        return Run(
            scenario=self.scenario, seed=self.seed, replication=self.replication, **frames,
            wall_seconds=wall_seconds, developers=len(self.team),
            integration_branch_name=self.strategy.integration_branch,
        )

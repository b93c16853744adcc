"""Continuous integration on a shared pool of runners (:class:`~trunksim.engine.scheduling.PriorityPool`, a priority queue).

A run waits for a runner (queue wait; FIFO within priority), then takes a drawn duration. It fails for real
when the code under test carries a defect the suite covers (a defect's ``ci_u`` below
``ci.defect_detection_probability``) or when the build is semantically broken; otherwise
it fails spuriously with ``ci.flaky_failure_probability``. A failed run is re-run
automatically up to ``ci.automatic_retries`` times (a real failure fails again); after
that a person looks at it. Hotfix runs jump the queue, then builds of long-lived
branches and merge-queue batches, then everything else (first come, first served
within a priority).

With test selection (``ci.test_selection``) a run takes ``duration_factor`` of its drawn
duration and catches a covered defect only if its draw also falls under
``detection_factor`` (the subset missed it otherwise): the effective detection
probability is ``defect_detection_probability × detection_factor``, on the same draw, so
selection can only miss what the full suite would catch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Generator, Iterable, Optional

import simpy

from trunksim.engine.entities import Change
from trunksim.engine.log import EventLog
from trunksim.engine.scheduling import PriorityPool
from trunksim.randomness import UNIFORM, Streams
from trunksim.tables import CIRunRecord

if TYPE_CHECKING:  # pragma: no cover
    from trunksim.scenario.schema import CI

PRIORITY_HOTFIX = 0
PRIORITY_BRANCH_BUILD = 1  # post-merge builds of long-lived branches go before pull requests, as most CI setups do
PRIORITY_NORMAL = 2


class CIService:
    """The runner pool and the act of running a pipeline.

    Parameters
    ----------
    env : simpy.Environment
        The simulation.
    settings : scenario CI section
        Runners, duration, detection and flaky probabilities, retries.
    streams : Streams
        Draws from ``ci`` (durations) and ``flaky``.
    log : EventLog
        Every run is recorded there.
    """

    def __init__(self, env: simpy.Environment, settings: "CI", streams: Streams, log: EventLog) -> None:
        self.env = env
        self.settings = settings
        self.log = log
        self.runners = PriorityPool(self.env, settings.runners)
        self.duration = streams.buffered("ci", settings.duration)
        self.flaky_u = streams.buffered("flaky", UNIFORM)
        selection = settings.test_selection
        self.duration_factor = selection.duration_factor if selection.enabled else 1.0
        self.detection_probability = settings.defect_detection_probability * (
            selection.detection_factor if selection.enabled else 1.0
        )
        """Chance a run catches a given defect, probability (the suite's coverage, times test selection's)."""
        self._run_ids = 0
        self.detection_by_severity = [self.detection_probability] * 4
        self.contract_detection = 0.0
        """Chance the consumers' contract tests catch an incompatible API change (organisations), probability."""
        """The same, by defect severity (index 1-3); postmortem actions raise it (:meth:`learn`)."""

    def catches(self, defect) -> bool:
        """True if the suite covers this unfixed defect (performance regressions it never does).

        An incompatible API change (``defect.contract``, organisations) is caught only by
        the consumers' contract tests, with ``contract_detection`` (0 without them).
        """
        if defect.fixed or defect.performance:
            return False
        if defect.contract:
            return defect.ci_u < self.contract_detection
        return defect.ci_u < self.detection_by_severity[defect.severity]

    def learn(self, severity: int, gain: float) -> None:
        """A postmortem's action: close ``gain`` of the gap to 1 in the chance of catching defects of ``severity``."""
        p = self.detection_by_severity[severity]
        self.detection_by_severity[severity] = p + gain * (1.0 - p)

    def learn_all(self, gain: float) -> None:
        """Reliability work: close ``gain`` of the gap to 1 in the chance of catching a defect of any severity."""
        for severity in (1, 2, 3):
            self.learn(severity, gain)

    def run_once(
        self,
        purpose: str,
        branch: str,
        change: Optional[Change],
        code: Iterable[Change],
        attempt: int,
        priority: int = PRIORITY_NORMAL,
        on_start: Optional[Callable[[], None]] = None,
    ) -> Generator:
        """One pipeline run; returns ``"pass"``, ``"fail"`` (real) or ``"flaky"``."""
        env = self.env
        queued = env.now
        handed_over = self.runners.acquire(priority)
        if handed_over is not None:
            yield handed_over
        started = env.now
        if on_start is not None:
            on_start()
        duration = self.duration()
        yield env.timeout(duration if self.duration_factor == 1.0 else duration * self.duration_factor)
        self.runners.release()
        outcome = self.judge(code)
        self._run_ids += 1
        self.log.ci_runs.append(
            CIRunRecord(self._run_ids, change.change_id if change else -1, branch, purpose, attempt, queued, started, env.now, outcome)
        )
        return outcome

    def judge(self, code: Iterable[Change]) -> str:
        """The outcome for code made of these changes: real failure, flaky failure or pass."""
        catches = self.catches
        for change in code:
            if change.breaks_build:
                return "fail"
            for defect in change.defects:
                if catches(defect):
                    return "fail"
        return "flaky" if self.flaky_u() < self.settings.flaky_failure_probability else "pass"

    def run_with_retries(
        self,
        purpose: str,
        branch: str,
        change: Optional[Change],
        code: Callable[[], list[Change]],
        priority: int = PRIORITY_NORMAL,
    ) -> Generator:
        """Run, re-running failures automatically; returns the last outcome.

        For a change's own run the change's lead-time stage moves to ``ci_queue`` while it
        waits for a runner and to ``ci`` while it runs.
        """
        outcome = "pass"
        for attempt in range(self.settings.automatic_retries + 1):
            if change is not None:
                change.enter("ci_queue", self.env.now)
                change.ci_runs += 1
                on_start = lambda c=change: c.enter("ci", self.env.now)  # noqa: E731
            else:
                on_start = None
            outcome = yield from self.run_once(purpose, branch, change, code(), attempt, priority, on_start)
            if outcome == "pass":
                break
        return outcome

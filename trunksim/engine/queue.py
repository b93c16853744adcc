"""The merge queue (merge-on-green): changes land only after CI passes on the merged result.

One process per target branch (started when the first change joins its queue):

    wait for changes → form up to ``speculation_depth`` batches of up to ``max_batch``
    (waiting up to ``batch_wait`` for a full first batch) → test them at once, batch k
    assuming batches 0..k-1 pass → take the results in order: a passing batch lands;
    the first failing batch is bisected (sequential runs) until its breaking changes are
    isolated and sent back; the runs behind it are thrown away and their changes wait for
    the next round.

Semantic breakage is drawn per change when a batch is formed, with the same model as an
untested merge (:meth:`MergeModel.breakage_probability`) over the changes that landed on
the target since the change's own CI base plus those ahead of it in the queue's test; a
batch that holds a breaking change fails its run (CI judges ``breaks_build``). So a
change can no longer break the target after it lands. A flaky failure is retried
``flaky_retries`` times, then treated like a real one: bisection reaches a single change
whose run failed spuriously and evicts it, innocent, as real queues do.

The queue's runs are CI runs (``purpose`` ``merge_queue``) on the shared runner pool at
the priority of branch builds; a run whose result was thrown away is recorded with
``discarded`` true.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Callable, Generator

import simpy

from trunksim.engine.branches import Branches
from trunksim.engine.ci import PRIORITY_BRANCH_BUILD, CIService
from trunksim.engine.entities import Branch, Change
from trunksim.engine.merging import MergeModel, merges_since

if TYPE_CHECKING:  # pragma: no cover
    from trunksim.scenario.mechanisms import MergeQueue as MergeQueueSettings

LANDED = "landed"
EJECTED = "ejected"  # it breaks the target: its author fixes it
EVICTED = "evicted"  # a flaky failure isolated it: its author reads the run and sends it again


class MergeQueue:
    """The merge queues of every target branch.

    Parameters
    ----------
    env : simpy.Environment
        The simulation.
    settings : scenario merge_queue section
        Batch size, wait, speculation depth, flaky retries.
    ci : CIService
        Runs the batches.
    branches : Branches
        The targets.
    merge_model : MergeModel
        Semantic-breakage probability.
    merge_u : callable
        The ``merge`` stream's uniforms.
    land : callable
        ``land(change, branch)``: merge a change that passed (the flow's merge, without breakage).
    """

    def __init__(
        self, env: simpy.Environment, settings: "MergeQueueSettings", ci: CIService, branches: Branches,
        merge_model: MergeModel, merge_u: Callable[[], float], land: Callable[[Change, Branch], None],
    ) -> None:
        self.env = env
        self.settings = settings
        self.ci = ci
        self.branches = branches
        self.merge_model = merge_model
        self.merge_u = merge_u
        self.land = land
        self.waiting: dict[str, deque[tuple[Change, simpy.Event]]] = {}
        self._arrival: dict[str, simpy.Event] = {}

    def enter(self, change: Change, target: Branch) -> simpy.Event:
        """Queue a change for ``target``; the event's value is ``"landed"``, ``"ejected"`` or ``"evicted"``."""
        done = self.env.event()
        change.queued = self.env.now
        change.enter("merge_queue", self.env.now)
        if target.name not in self.waiting:
            self.waiting[target.name] = deque()
            self.env.process(self.serve(target))
        self.waiting[target.name].append((change, done))
        arrival = self._arrival.get(target.name)
        if arrival is not None and not arrival.triggered:
            arrival.succeed()
        return done

    def _wait_for_arrival(self, target: Branch) -> simpy.Event:
        event = self._arrival[target.name] = self.env.event()
        return event

    # -- the queue's process ----------------------------------------------------------------
    def serve(self, target: Branch) -> Generator:
        """Form batches, test them (speculatively), land or bisect, forever."""
        settings = self.settings
        queue = self.waiting[target.name]
        while True:
            while not queue:
                yield self._wait_for_arrival(target)
            if len(queue) < settings.max_batch and settings.batch_wait > 0:
                deadline = self.env.timeout(settings.batch_wait)
                while len(queue) < settings.max_batch and not deadline.triggered:
                    yield self.env.any_of([deadline, self._wait_for_arrival(target)])
            batches = []
            while queue and len(batches) < settings.speculation_depth:
                batch = [queue.popleft() for _ in range(min(settings.max_batch, len(queue)))]
                batches.append(batch)
            self.draw_breakage(target, [change for batch in batches for change, _ in batch])
            runs = [self.env.process(self.test(target, [c for c, _ in batch])) for batch in batches]
            for index, (batch, run) in enumerate(zip(batches, runs)):
                outcome, record = yield run
                if outcome == "pass":
                    for change, done in batch:
                        self.land_one(change, target, done)
                    continue
                # This batch failed: find its breaking changes; the runs behind it are thrown away.
                for later in runs[index + 1:]:
                    self.env.process(self.discard_when_done(later))
                yield from self.bisect(target, batch)
                for later_batch in reversed(batches[index + 1:]):
                    for item in reversed(later_batch):
                        item[0].breaks_build = False
                        queue.appendleft(item)
                break

    def draw_breakage(self, target: Branch, changes: list[Change]) -> None:
        """Does each change break the target, tested on the tip with the changes ahead of it?"""
        for ahead, change in enumerate(changes):
            concurrent = merges_since(target, change.ci_base_at, self.branches.areas_of(change)) + ahead
            change.breaks_build = self.merge_u() < self.merge_model.breakage_probability(concurrent)

    def test(self, target: Branch, changes: list[Change]) -> Generator:
        """One batch's CI, flaky failures retried; returns ``(outcome, index of the last run record)``."""
        outcome, record = "pass", -1
        for attempt in range(self.settings.flaky_retries + 1):
            outcome = yield from self.ci.run_once("merge_queue", target.name, None, changes, attempt, PRIORITY_BRANCH_BUILD)
            record = len(self.ci.log.ci_runs) - 1
            if outcome != "flaky":
                break
        return outcome, record

    def discard_when_done(self, run) -> Generator:
        """A speculative run whose result is thrown away: mark its record once it finishes."""
        _, record = yield run
        self.ci.log.ci_runs[record] = self.ci.log.ci_runs[record]._replace(discarded=True)

    def bisect(self, target: Branch, batch: list[tuple[Change, simpy.Event]]) -> Generator:
        """Split a failed batch in halves and test each until every change has landed or gone back."""
        pending = [batch]
        while pending:
            group = pending.pop(0)
            if len(group) == 1:
                change, done = group[0]
                self.send_back(change, done, EJECTED if change.breaks_build else EVICTED)
                continue
            half = len(group) // 2
            for part in (group[:half], group[half:]):
                outcome, _ = yield from self.test(target, [c for c, _ in part])
                if outcome == "pass":
                    for change, done in part:
                        self.land_one(change, target, done)
                else:
                    pending.append(part)

    def land_one(self, change: Change, target: Branch, done: simpy.Event) -> None:
        """A change passed on the tip: it lands; the author's process goes on."""
        change.breaks_build = False
        self.land(change, target)
        done.succeed(LANDED)

    def send_back(self, change: Change, done: simpy.Event, why: str) -> None:
        """A change that failed alone goes back to its author."""
        change.breaks_build = False
        done.succeed(why)

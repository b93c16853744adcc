"""The path of a change from submission to merge, and the care of long-lived branches.

``integrate`` drives each submitted change (a generator run by
:func:`~trunksim.engine.scheduling.detached`, as a process nobody waits for)::

    review (wait for pickup, review, rework findings, re-review)
      → sync with the target (merge-conflict check; resolving costs the author time)
      → pre-merge CI (queue, run, automatic retries; a red run costs triage and a fix)
      → merge (semantic-breakage draw) → waits for deployment

``build_branch`` is one process per long-lived branch: post-merge CI on every new head.
A red build sends the author of the breaking change to revert it or fix forward.
``expedite`` is the hotfix path: review at once, CI ahead of the queue, merge (the
caller deploys at once). The on-call engineer works it around the clock, so its
working-hour draws become clock time one for one (:meth:`WorkingCalendar.around_the_clock`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Generator

import simpy

from trunksim.engine.backlog import Backlog
from trunksim.engine.branches import Branches
from trunksim.engine.calendar import WorkingCalendar, around_the_clock
from trunksim.engine.ci import PRIORITY_BRANCH_BUILD, PRIORITY_HOTFIX, CIService
from trunksim.engine.entities import Branch, Change, Defect
from trunksim.engine.merging import MergeModel, lines_landed_since, merges_since
from trunksim.engine.scheduling import detached
from trunksim.randomness import Streams
from trunksim.scenario.schema import Scenario
from trunksim.tables import BranchStatusRecord

from trunksim.engine.queue import EJECTED, LANDED

if TYPE_CHECKING:  # pragma: no cover
    from trunksim.engine.people import Developer, Team
    from trunksim.engine.queue import MergeQueue

PRIORITY_BRANCH = 0
PRIORITY_REWORK = 1


class Flow:
    """Review, sync, CI and merge of changes; post-merge builds of branches.

    Parameters
    ----------
    env : simpy.Environment
        The simulation.
    scenario : Scenario
        Reads ``review``, ``ci``, ``merging`` and ``work.fix_time``.
    streams : Streams
        Draws from ``review``, ``fix``, ``triage`` and ``resolution``.
    merge_u : callable
        The ``merge`` stream's uniforms (shared with :class:`Branches`' back-merges).
    team, branches, ci, backlog, merge_model
        The components a change passes through.
    on_merged : callable
        ``on_merged(change, branch_name)``, the strategy's hook after every merge.
    verification_hours : callable
        ``verification_hours(change, branch_name)``: the strategy's QA before a merge, working hours.
    calendar : WorkingCalendar
        The calendar verification (a QA team) works on.
    """

    def __init__(
        self, env: simpy.Environment, scenario: Scenario, streams: Streams, merge_u: Callable[[], float], team: "Team",
        branches: Branches, ci: CIService, backlog: Backlog, merge_model: MergeModel,
        on_merged: Callable[[Change, str], None], verification_hours: Callable[[Change, str], float],
        calendar: WorkingCalendar,
    ) -> None:
        self.env = env
        self.team = team
        self.branches = branches
        self.ci = ci
        self.backlog = backlog
        self.merge_model = merge_model
        self.on_merged = on_merged
        self.verification_hours = verification_hours
        self.calendar = calendar
        self.review_settings = scenario.review
        self.ci_settings = scenario.ci
        self.resolution_defect_probability = scenario.merging.resolution_defect_probability
        self.review_duration = streams.buffered("review", scenario.review.duration)
        self.fix_time = streams.buffered("fix", scenario.work.fix_time)
        self.triage_time = streams.buffered("triage", scenario.ci.triage_time)
        self.resolution_time = streams.buffered("resolution", scenario.merging.resolution_time)
        self.merge_u = merge_u
        self.review_events: dict[int, simpy.Event] = {}
        self.queue: "MergeQueue | None" = None
        """The merge queue, when ``merge_queue.enabled`` (set by the model)."""
        self.repairing: set[int] = set()  # breaking changes whose author is already on it

    # -- submission and review ---------------------------------------------------------
    def submit(self, change: Change) -> None:
        """The author finished coding: the change enters integration."""
        change.submitted = self.env.now
        self.team[change.author].open_changes += 1
        detached(self.env, self.integrate(change))

    def review(self, reviewer: "Developer", change: Change) -> Generator:
        """A reviewer reviews ``change`` (runs inside the reviewer's process)."""
        settings = self.review_settings
        change.enter("review", self.env.now)
        change.review_rounds += 1
        scale = (change.lines / settings.reference_lines) ** settings.size_exponent
        hours = self.review_duration() * scale
        if change.review_rounds > 1:
            hours *= settings.rereview_factor
        yield from reviewer.work(hours, "reviewing", change.change_id)
        found: list[Defect] = []
        if change.review_rounds == 1:
            p_find = settings.detection_probability / (1.0 + change.lines / settings.half_effectiveness_lines)
            for defect in change.defects:
                if not defect.fixed and not defect.found_by and not defect.performance and defect.review_u < p_find:
                    defect.found_by = "review"
                    defect.found_at = self.env.now
                    found.append(defect)
        self.review_events.pop(change.change_id).succeed(found)

    def fix_defects(self, change: Change, defects: list[Defect], activity: str):
        """A task body: fix each defect (``work.fix_time`` each)."""

        def work(dev: "Developer") -> Generator:
            for defect in defects:
                yield from dev.work(self.fix_time(), activity, change.change_id)
                defect.fixed = True
                defect.repaired = True

        return work

    # -- integration -----------------------------------------------------------------
    def integrate(self, change: Change, approved: bool = False) -> Generator:
        """Take a submitted change through review, sync, CI and merge."""
        env = self.env
        author = self.team[change.author]
        target = self.branches[change.target]
        review_on = self.review_settings.enabled
        while True:
            if review_on and not approved:
                change.enter("review_wait", env.now)
                done = self.review_events[change.change_id] = env.event()
                self.team.request_review(change)
                found = yield done
                if found:
                    change.enter("rework", env.now)
                    yield author.assign(PRIORITY_REWORK, self.fix_defects(change, found, "rework"))
                    continue
                approved = True
            yield from self.sync(change, target, author)
            change.ci_base_at = env.now
            outcome = yield from self.ci.run_with_retries("pre_merge", target.name, change, lambda: [change])
            if outcome != "pass":
                change.enter("rework", env.now)
                yield author.assign(PRIORITY_REWORK, self.triage(change, outcome))
                continue
            hours = self.verification_hours(change, target.name)
            if hours > 0:
                yield env.timeout(self.calendar.finish_time(env.now, hours) - env.now)
            if self.queue is not None:
                outcome = yield self.queue.enter(change, target)
                if outcome == LANDED:
                    return
                change.enter("rework", env.now)
                work = self.fix_breakage(change) if outcome == EJECTED else self.read_eviction(change)
                yield author.assign(PRIORITY_REWORK, work)
                continue
            concurrent = merges_since(target, change.ci_base_at, self.branches.areas_of(change))
            breaks = self.merge_u() < self.merge_model.breakage_probability(concurrent)
            self.merge(change, target, breaks)
            return

    def sync(self, change: Change, target: Branch, author: "Developer") -> Generator:
        """Take in the target (rebase): may conflict; resolving costs the author time."""
        landed = lines_landed_since(target, change.synced_at, self.branches.areas_of(change))
        change.landed_lines = landed
        change.synced_at = self.env.now
        p_conflict = self.merge_model.conflict_probability(change.lines, landed)
        if self.merge_u() < p_conflict:
            change.conflicts += 1
            change.enter("rework", self.env.now)
            yield author.assign(PRIORITY_REWORK, self.resolve_conflict(change))
            change.synced_at = self.env.now

    def resolve_conflict(self, change: Change):
        """A task body: resolve a merge conflict; may write a new defect."""

        def work(dev: "Developer") -> Generator:
            yield from dev.work(self.resolution_time(), "conflict", change.change_id)
            if self.merge_u() < self.resolution_defect_probability:
                self.backlog.inject_defect(change)

        return work

    def triage(self, change: Change, outcome: str):
        """A task body: read a red run; fix what it found if it was real."""

        def work(dev: "Developer") -> Generator:
            activity = "triage_flaky" if outcome == "flaky" else "triage_real"
            yield from dev.work(self.triage_time(), activity, change.change_id)
            if outcome == "fail":
                for defect in change.defects:
                    if self.ci.catches(defect):
                        defect.found_by = defect.found_by or "ci"
                        defect.found_at = self.env.now
                        yield from dev.work(self.fix_time(), "rework", change.change_id)
                        defect.fixed = True
                        defect.repaired = True

        return work

    # -- merging ---------------------------------------------------------------------
    def merge(self, change: Change, branch: Branch, breaks: bool) -> None:
        """Land ``change`` on ``branch``; the strategy hears of it."""
        now = self.env.now
        self.branches.merge(change, branch, breaks)
        if breaks:
            if self.ci_settings.post_merge:
                change.breaks_build = True
                branch.broken_by.append(change)
            else:
                # Nobody builds the branch: the breakage ships as a latent defect.
                self.backlog.inject_defect(change)
        change.enter("deploy_wait", now)
        if change.fixes is not None:
            change.fixes.fixed = True
        author = self.team[change.author]
        if change.kind != "hotfix":
            author.open_changes -= 1
            author.poke()
        self.branches.commit(branch)
        self.on_merged(change, branch.name)

    # -- post-merge builds -------------------------------------------------------------
    def build_branch(self, branch: Branch) -> Generator:
        """Post-merge CI on every new head of ``branch``; a red build gets repaired."""
        env = self.env
        team = self.team
        while True:
            while branch.built_version == branch.version:
                yield self.branches.commit_event(branch)
            version = branch.version
            code = [c for c in branch.broken_by if c.merge_version <= version]
            outcome = yield from self.ci.run_with_retries("post_merge", branch.name, None, lambda: code, PRIORITY_BRANCH_BUILD)
            branch.built_version = version
            if outcome == "pass":
                if branch.red_since >= 0:
                    self.branches.log.branch_status.append(BranchStatusRecord(branch.name, branch.red_since, env.now, branch.red_cause))
                    branch.red_since = -1.0
                self.branches.green(branch, version)
                continue
            if branch.red_since < 0:
                branch.red_since = env.now
                branch.red_cause = "breakage" if outcome == "fail" else "flaky"
            if outcome == "fail":
                for culprit in code:
                    if culprit.change_id not in self.repairing and culprit.breaks_build:
                        self.repairing.add(culprit.change_id)
                        author = team[culprit.author]
                        author.assign(PRIORITY_BRANCH, self.repair_branch(culprit, branch))
            else:
                # Flaky red: whoever merged last reads it and re-runs; if they are answering
                # incidents, the first developer who is not does.
                last = branch.pending.last()
                who = team[last.author] if last is not None else team[0]
                if who.responding:
                    who = next((dev for dev in team.developers if not dev.responding), who)
                yield who.assign(PRIORITY_BRANCH, self.rerun_flaky(branch))

    def rerun_flaky(self, branch: Branch):
        """A task body: read a flaky red branch build, then ask for a re-run."""

        def work(dev: "Developer") -> Generator:
            yield from dev.work(self.triage_time(), "triage_flaky", -1)
            branch.built_version = -1

        return work

    def repair_branch(self, culprit: Change, branch: Branch):
        """A task body: the author of a breaking change reverts it or fixes forward."""
        policy = self.ci_settings.red_branch_policy
        branches = self.branches

        def work(dev: "Developer") -> Generator:
            yield from repair(dev)
            self.repairing.discard(culprit.change_id)

        def repair(dev: "Developer") -> Generator:
            if policy == "revert":
                yield from dev.work(self.ci_settings.revert_time, "red_branch", culprit.change_id)
                culprit.breaks_build = False
                branch.broken_by.remove(culprit)
                if culprit in branch.pending and not culprit.deploying:
                    culprit.enter("rework", self.env.now)
                    branches.unmerge(culprit, branch)
                    dev.open_changes += 1
                    detached(self.env, self.reintegrate(culprit))
                else:
                    branch.version += 1
                    branches.commit(branch, lines=0.0)
            else:
                yield from dev.work(self.fix_time(), "red_branch", culprit.change_id)
                culprit.breaks_build = False
                branch.broken_by.remove(culprit)
                branch.version += 1
                branches.commit(branch, lines=0.0)

        return work

    def reintegrate(self, change: Change, fix=None) -> Generator:
        """A reverted change: its author fixes it (``fix``, a task body), then sync, CI and merge again."""
        author = self.team[change.author]
        yield author.assign(PRIORITY_REWORK, fix or self.fix_breakage(change))
        yield from self.integrate(change, approved=True)

    def read_eviction(self, change: Change):
        """A task body: a flaky failure evicted the change from the merge queue; its author reads the run."""

        def work(dev: "Developer") -> Generator:
            yield from dev.work(self.triage_time(), "triage_flaky", change.change_id)

        return work

    def fix_breakage(self, change: Change):
        """A task body: make a reverted change work with what landed beside it."""

        def work(dev: "Developer") -> Generator:
            yield from dev.work(self.fix_time(), "rework", change.change_id)

        return work

    # -- the hotfix path -----------------------------------------------------------------
    def expedite(self, change: Change, branch: Branch) -> Generator:
        """Hotfix path: immediate review, CI ahead of the queue, merge; the caller deploys at once.

        The on-call engineer works it around the clock, so review, triage and fix
        (working-hour draws) take as many clock hours.
        """
        env = self.env
        change.submitted = env.now
        if self.review_settings.enabled:
            change.enter("review", env.now)
            change.review_rounds += 1
            yield env.timeout(around_the_clock(self.review_duration() * self.review_settings.rereview_factor))
        while True:
            change.ci_base_at = env.now
            outcome = yield from self.ci.run_with_retries("hotfix", branch.name, change, lambda: [change], PRIORITY_HOTFIX)
            if outcome == "pass":
                break
            change.enter("rework", env.now)
            yield env.timeout(around_the_clock(self.triage_time()))
            for defect in change.unfixed_defects:
                yield env.timeout(around_the_clock(self.fix_time()))
                defect.fixed = defect.repaired = True
        hours = self.verification_hours(change, branch.name)
        if hours > 0:
            yield env.timeout(around_the_clock(hours))
        self.merge(change, branch, breaks=False)

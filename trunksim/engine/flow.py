"""The path of a change from submission to merge, and the care of long-lived branches.

``integrate`` is one SimPy process per submitted change::

    review (wait for pickup, review, rework findings, re-review)
      → sync with the target (merge-conflict check; resolving costs the author time)
      → pre-merge CI (queue, run, automatic retries; a red run costs triage and a fix)
      → merge (semantic-breakage draw) → waits for deployment

``build_branch`` is one process per long-lived branch: post-merge CI on every new head.
A red build sends the author of the breaking change to revert it or fix forward.
``expedite`` is the hotfix path: review at once, CI ahead of the queue, deploy at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generator

from trunksim.engine.ci import PRIORITY_BRANCH_BUILD, PRIORITY_HOTFIX
from trunksim.engine.entities import Branch, Change, Defect
from trunksim.engine.merging import lines_landed_since, merges_since
from trunksim.randomness import UNIFORM

if TYPE_CHECKING:  # pragma: no cover
    from trunksim.engine.model import DeliveryModel
    from trunksim.engine.people import Developer

PRIORITY_BRANCH = 0
PRIORITY_REWORK = 1


class Flow:
    """Review, sync, CI and merge of changes; post-merge builds of branches."""

    def __init__(self, model: "DeliveryModel") -> None:
        self.model = model
        self.env = model.env
        scenario = model.scenario
        self.review_settings = scenario.review
        self.review_duration = model.streams.buffered("review", scenario.review.duration)
        self.fix_time = model.streams.buffered("fix", scenario.work.fix_time)
        self.triage_time = model.streams.buffered("triage", scenario.ci.triage_time)
        self.resolution_time = model.streams.buffered("resolution", scenario.merging.resolution_time)
        self.merge_u = model.streams.buffered("merge", UNIFORM)
        self.review_events: dict[int, object] = {}
        self.repairing: set[int] = set()  # breaking changes whose author is already on it

    # -- submission and review ---------------------------------------------------------
    def submit(self, change: Change) -> None:
        """The author finished coding: the change enters integration."""
        change.submitted = self.env.now
        self.model.developers[change.author].open_changes += 1
        self.env.process(self.integrate(change))

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
                if not defect.fixed and not defect.found_by and defect.review_u < p_find:
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
        model = self.model
        env = self.env
        author = model.developers[change.author]
        target = model.branches[change.target]
        review_on = self.review_settings.enabled
        while True:
            if review_on and not approved:
                change.enter("review_wait", env.now)
                done = self.review_events[change.change_id] = env.event()
                model.request_review(change)
                found = yield done
                if found:
                    change.enter("rework", env.now)
                    yield author.assign(PRIORITY_REWORK, self.fix_defects(change, found, "rework"))
                    continue
                approved = True
            yield from self.sync(change, target, author)
            change.ci_base_at = env.now
            outcome = yield from model.ci.run_with_retries("pre_merge", target.name, change, lambda: [change])
            if outcome != "pass":
                change.enter("rework", env.now)
                yield author.assign(PRIORITY_REWORK, self.triage(change, outcome))
                continue
            concurrent = merges_since(target, change.ci_base_at)
            breaks = self.merge_u() < model.merge_model.breakage_probability(concurrent)
            self.merge(change, target, breaks)
            return

    def sync(self, change: Change, target: Branch, author: "Developer") -> Generator:
        """Take in the target (rebase): may conflict; resolving costs the author time."""
        landed = lines_landed_since(target, change.synced_at)
        change.landed_lines = landed
        change.synced_at = self.env.now
        p_conflict = self.model.merge_model.conflict_probability(change.lines, landed)
        if self.merge_u() < p_conflict:
            change.conflicts += 1
            change.enter("rework", self.env.now)
            yield author.assign(PRIORITY_REWORK, self.resolve_conflict(change))
            change.synced_at = self.env.now

    def resolve_conflict(self, change: Change):
        """A task body: resolve a merge conflict; may write a new defect."""

        def work(dev: "Developer") -> Generator:
            yield from dev.work(self.resolution_time(), "conflict", change.change_id)
            if self.merge_u() < self.model.scenario.merging.resolution_defect_probability:
                self.model.inject_defect(change)

        return work

    def triage(self, change: Change, outcome: str):
        """A task body: read a red run; fix what it found if it was real."""

        def work(dev: "Developer") -> Generator:
            activity = "triage_flaky" if outcome == "flaky" else "triage_real"
            yield from dev.work(self.triage_time(), activity, change.change_id)
            if outcome == "fail":
                p_detect = self.model.scenario.ci.defect_detection_probability
                for defect in change.defects:
                    if not defect.fixed and defect.ci_u < p_detect:
                        defect.found_by = defect.found_by or "ci"
                        defect.found_at = self.env.now
                        yield from dev.work(self.fix_time(), "rework", change.change_id)
                        defect.fixed = True
                        defect.repaired = True

        return work

    # -- merging ---------------------------------------------------------------------
    def merge(self, change: Change, branch: Branch, breaks: bool) -> None:
        """Land ``change`` on ``branch``."""
        model = self.model
        now = self.env.now
        branch.version += 1
        change.merge_version = branch.version
        change.merged = now
        branch.pending.append(change)
        branch.merge_times.append(now)
        previous = branch.merge_lines_cumulative[-1] if branch.merge_lines_cumulative else 0.0
        branch.merge_lines_cumulative.append(previous + change.lines)
        model.log.merges.append((change.change_id, branch.name, now, change.lines, change.landed_lines, change.conflicts, breaks))
        if breaks:
            if model.scenario.ci.post_merge:
                change.breaks_build = True
                branch.broken_by.append(change)
            else:
                # Nobody builds the branch: the breakage ships as a latent defect.
                model.inject_defect(change)
        change.enter("deploy_wait", now)
        if change.fixes is not None:
            change.fixes.fixed = True
        author = model.developers[change.author]
        if change.kind != "hotfix":
            author.open_changes -= 1
            author.poke()
        model.branch_changed(branch)
        model.strategy.on_merged(change, branch)

    # -- post-merge builds -------------------------------------------------------------
    def build_branch(self, branch: Branch) -> Generator:
        """Post-merge CI on every new head of ``branch``; a red build gets repaired."""
        model = self.model
        env = self.env
        while True:
            while branch.built_version == branch.version:
                yield model.commit_event(branch)
            version = branch.version
            code = [c for c in branch.broken_by if c.merge_version <= version]
            outcome = yield from model.ci.run_with_retries("post_merge", branch.name, None, lambda: code, PRIORITY_BRANCH_BUILD)
            branch.built_version = version
            if outcome == "pass":
                if branch.red_since >= 0:
                    model.log.branch_status.append((branch.name, branch.red_since, env.now, branch.red_cause))
                    branch.red_since = -1.0
                branch.green_version = max(branch.green_version, version)
                model.branch_green(branch)
                continue
            if branch.red_since < 0:
                branch.red_since = env.now
                branch.red_cause = "breakage" if outcome == "fail" else "flaky"
            if outcome == "fail":
                for culprit in code:
                    if culprit.change_id not in self.repairing and culprit.breaks_build:
                        self.repairing.add(culprit.change_id)
                        author = model.developers[culprit.author]
                        author.assign(PRIORITY_BRANCH, self.repair_branch(culprit, branch))
            else:
                # Flaky red: whoever merged last reads it and re-runs.
                last = branch.pending[-1] if branch.pending else None
                who = model.developers[last.author] if last is not None else model.developers[0]
                yield who.assign(PRIORITY_BRANCH, self.rerun_flaky(branch))

    def rerun_flaky(self, branch: Branch):
        """A task body: read a flaky red branch build, then ask for a re-run."""

        def work(dev: "Developer") -> Generator:
            yield from dev.work(self.triage_time(), "triage_flaky", -1)
            branch.built_version = -1

        return work

    def repair_branch(self, culprit: Change, branch: Branch):
        """A task body: the author of a breaking change reverts it or fixes forward."""
        policy = self.model.scenario.ci.red_branch_policy

        def work(dev: "Developer") -> Generator:
            yield from repair(dev)
            self.repairing.discard(culprit.change_id)

        def repair(dev: "Developer") -> Generator:
            model = self.model
            if policy == "revert":
                yield from dev.work(model.scenario.ci.revert_time, "red_branch", culprit.change_id)
                culprit.breaks_build = False
                branch.broken_by.remove(culprit)
                if culprit in branch.pending and not culprit.deploying:
                    branch.pending.remove(culprit)
                    culprit.merged = -1.0
                    culprit.merge_version = -1
                    culprit.enter("rework", self.env.now)
                    branch.version += 1
                    model.branch_changed(branch, lines=culprit.lines)
                    dev.open_changes += 1
                    self.env.process(self.reintegrate(culprit))
                else:
                    branch.version += 1
                    model.branch_changed(branch, lines=0.0)
            else:
                yield from dev.work(self.fix_time(), "red_branch", culprit.change_id)
                culprit.breaks_build = False
                branch.broken_by.remove(culprit)
                branch.version += 1
                model.branch_changed(branch, lines=0.0)

        return work

    def revert_defective(self, change: Change, defect: Defect, branch: Branch):
        """A task body: revert a change with a known defect from ``branch``; it comes back fixed."""

        def work(dev: "Developer") -> Generator:
            yield from dev.work(self.model.scenario.ci.revert_time, "revert", change.change_id)
            if change in branch.pending and not change.deploying and not change.in_production:
                branch.pending.remove(change)
                change.merged = -1.0
                change.merge_version = -1
                change.enter("rework", self.env.now)
                branch.version += 1
                self.model.branch_changed(branch, lines=change.lines)
                dev.open_changes += 1
                self.env.process(self.reintegrate(change, self.fix_defects(change, [defect], "rework")))
            else:
                self.model.repair(defect)

        return work

    def reintegrate(self, change: Change, fix=None) -> Generator:
        """A reverted change: its author fixes it (``fix``, a task body), then sync, CI and merge again."""
        author = self.model.developers[change.author]
        yield author.assign(PRIORITY_REWORK, fix or self.fix_breakage(change))
        yield from self.integrate(change, approved=True)

    def fix_breakage(self, change: Change):
        """A task body: make a reverted change work with what landed beside it."""

        def work(dev: "Developer") -> Generator:
            yield from dev.work(self.fix_time(), "rework", change.change_id)

        return work

    # -- the hotfix path -----------------------------------------------------------------
    def expedite(self, change: Change, branch: Branch) -> Generator:
        """Hotfix path: immediate review, CI ahead of the queue, merge, deploy at once.

        Returns the deployment that rolled the fix out.
        """
        model = self.model
        env = self.env
        change.submitted = env.now
        if self.review_settings.enabled:
            change.enter("review", env.now)
            change.review_rounds += 1
            yield env.timeout(self.review_duration() * self.review_settings.rereview_factor)
        while True:
            change.ci_base_at = env.now
            outcome = yield from model.ci.run_with_retries("hotfix", branch.name, change, lambda: [change], PRIORITY_HOTFIX)
            if outcome == "pass":
                break
            change.enter("rework", env.now)
            yield env.timeout(self.triage_time())
            for defect in change.unfixed_defects:
                yield env.timeout(self.fix_time())
                defect.fixed = defect.repaired = True
        self.merge(change, branch, breaks=False)
        deployment = yield from model.delivery.deploy("hotfix")
        return deployment

"""GitFlow: features merge into ``develop``; releases are cut, stabilised by QA, merged to ``main``.

Every ``release_cadence`` hours a release branch is cut from the green head of
``develop`` (everything merged since the previous cut). QA stabilises it for
``qa_duration`` working hours and finds each latent defect with probability
``qa_detection_probability``; the author fixes it on the release branch (review, CI)
and the fix is merged back into ``develop``. When QA is over and every fix has landed,
the release merges into ``main``, which deploys (``deployment.mode: continuous`` deploys
it at once). Production fixes go through hotfix branches cut from ``main``, merged into
``main`` (and deployed) and back into ``develop``. Back-merges can conflict.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from trunksim.engine.merging import lines_landed_since
from trunksim.units import Hours, PositiveHours
from trunksim.strategies.base import Strategy, StrategyParams

DEVELOP = "develop"
MAIN = "main"


class Params(StrategyParams):
    """Parameters of GitFlow."""

    name: Literal["gitflow"]
    release_cadence: PositiveHours = Field(336.0, description="time between release cuts, hours (336 = two weeks)")
    release_offset: Hours = Field(58.0, description="time of the first release cut, hours after the start (Wednesday 10:00)")
    qa_duration: PositiveHours = Field(24.0, description="QA stabilisation of a release branch, working hours")
    qa_detection_probability: Annotated[float, Field(ge=0, le=1)] = Field(
        0.5, description="chance QA finds a given latent defect in the release, probability"
    )
    pull_requests_per_feature: Annotated[int, Field(ge=1, le=1000)] = Field(
        1, description="pull requests a feature branch is delivered in, pull requests"
    )


class GitFlow(Strategy):
    """develop, release branches with QA, main, hotfix branches."""

    name = "gitflow"
    description = "features merge to develop; release branches cut on a cadence, stabilised by QA, merged to main and deployed; hotfix branches from main"
    integration_branch = DEVELOP
    production_branch = MAIN

    def __init__(self, params: Params, model) -> None:
        super().__init__(params, model)
        self.releases = 0
        self.open_fixes: dict[int, int] = {}
        self.fixes_done: dict[int, object] = {}
        self.cut_at: dict[int, float] = {}

    def plan(self, feature):
        return self.split(feature, self.params.pull_requests_per_feature)

    def start(self) -> None:
        self.model.env.process(self.release_cycle())

    def release_cycle(self):
        """Cut a release from develop's green head every ``release_cadence`` hours."""
        env = self.model.env
        next_cut = self.params.release_offset
        while True:
            yield env.timeout(max(0.0, next_cut - env.now))
            next_cut += self.params.release_cadence
            develop = self.model.branches[DEVELOP]
            green = develop.green_version
            cut = [c for c in develop.pending if c.merge_version <= green and not c.breaks_build]
            if not cut:
                continue
            taken = set(id(c) for c in cut)
            develop.pending = [c for c in develop.pending if id(c) not in taken]
            self.releases += 1
            env.process(self.stabilise(self.releases, cut))

    def stabilise(self, number: int, cut):
        """QA a release branch, wait for its fixes, merge it into main."""
        from trunksim.engine.entities import Branch

        model = self.model
        env = model.env
        name = f"release/{number}"
        branch = model.branches[name] = Branch(name)
        self.cut_at[number] = env.now
        for change in cut:
            change.release = number
        qa_end = model.calendar.finish_time(env.now, self.params.qa_duration)
        p_find = self.params.qa_detection_probability
        found = [
            d for c in cut for d in c.defects if not d.fixed and not d.found_by and d.qa_u < p_find
        ]
        self.open_fixes[number] = len(found)
        done = self.fixes_done[number] = env.event()
        if not found:
            done.succeed()
        for defect in found:
            # Findings spread over the QA period: u / p is uniform on [0, 1).
            env.process(self.qa_finds(defect, (defect.qa_u / p_find) * (qa_end - env.now)))
        yield env.timeout(qa_end - env.now)
        yield done
        main = model.branches[MAIN]
        main.version += 1
        shipped = cut + branch.pending
        for change in shipped:
            change.merge_version = main.version
            if change.target == name:
                # The release branch is gone; if this fix is ever reverted it comes back through develop.
                change.target = DEVELOP
        main.pending.extend(shipped)
        del model.branches[name]
        model.branch_changed(main, lines=sum(c.lines for c in shipped))

    def qa_finds(self, defect, delay: float):
        """QA reports a defect after ``delay`` hours; its author fixes it on the release branch."""
        yield self.model.env.timeout(delay)
        defect.found_by = "qa"
        defect.found_at = self.model.env.now
        self.model.repair(defect)

    def fix_target(self, defect, kind: str) -> str:
        change = defect.change
        if defect.found_by == "qa" and change is not None and f"release/{change.release}" in self.model.branches:
            return f"release/{change.release}"
        return MAIN

    def on_merged(self, change, branch) -> None:
        if branch.name.startswith("release/"):
            number = int(branch.name.split("/", 1)[1])
            if change.fixes is not None:
                change.fixes.repaired = True
            self.open_fixes[number] -= 1
            if self.open_fixes[number] == 0:
                self.fixes_done[number].succeed()
            self.back_merge(change, since=self.cut_at[number])
        elif branch.name == MAIN and change.kind in ("fix", "hotfix"):
            self.back_merge(change, since=change.created)

    def back_merge(self, change, since: float) -> None:
        """Merge a release or hotfix fix back into develop; it may conflict."""
        model = self.model
        develop = model.branches[DEVELOP]
        landed = lines_landed_since(develop, since)
        conflict = model.flow.merge_u() < model.merge_model.conflict_probability(change.lines, landed)
        model.log.merges.append((change.change_id, DEVELOP, model.env.now, change.lines, landed, int(conflict), False))
        if conflict:
            change.conflicts += 1
            model.developers[change.author].assign(1, model.flow.resolve_conflict(change))
        develop.version += 1
        model.branch_changed(develop, lines=change.lines)


STRATEGY = GitFlow

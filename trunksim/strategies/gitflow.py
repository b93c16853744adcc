"""GitFlow: features merge into ``develop``; releases are cut, stabilised by QA, merged to ``main``.

Every ``release_cadence`` hours a release branch is cut from the green head of
``develop`` (everything merged since the previous cut). QA stabilises it for
``qa_duration`` working hours and finds each latent defect with probability
``qa_detection_probability``; the author fixes it on the release branch (review, CI)
and the fix is merged back into ``develop``. When QA is over and every fix has landed,
the release merges into ``main``, which deploys (``deployment.mode: continuous`` deploys
it at once). Production fixes go through hotfix branches cut from ``main``: review, CI,
``hotfix_qa_duration`` of QA, merged into ``main`` (and deployed) and back into
``develop``. Back-merges can conflict. A release that fails in production is not taken
apart: after a rollback, ``main`` waits for the fix, and the release ships again with it
(a rework deployment), never as the same bundle.

QA's finding draw is the defect's ``strategy_u``, fixed when the defect is born (common
random numbers: a higher ``qa_detection_probability`` can only find more).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from trunksim.strategies.base import Plan, Strategy, StrategyParams
from trunksim.units import ClockHours, PositiveClockHours, PositiveWorkingHours, WorkingHours

DEVELOP = "develop"
MAIN = "main"


class Params(StrategyParams):
    """Parameters of GitFlow."""

    name: Literal["gitflow"]
    release_cadence: PositiveClockHours = Field(336.0, description="time between release cuts, clock hours (336 = two weeks)")
    release_offset: ClockHours = Field(58.0, description="time of the first release cut, clock hours after the start (Wednesday 10:00)")
    qa_duration: PositiveWorkingHours = Field(24.0, description="QA stabilisation of a release branch, working hours")
    qa_detection_probability: Annotated[float, Field(ge=0, le=1)] = Field(
        0.5, description="chance QA finds a given latent defect in the release, probability"
    )
    pull_requests_per_feature: Annotated[int, Field(ge=1, le=1000)] = Field(
        1, description="pull requests a feature branch is delivered in, pull requests"
    )
    hotfix_qa_duration: WorkingHours = Field(
        4.0, description="QA of a fix on a hotfix branch before it merges into main, working hours (an on-call hotfix's QA works them around the clock)"
    )

    batch_field = "pull_requests_per_feature"
    batch_advice = "fewer strategy.pull_requests_per_feature"

    def changes_per_feature(self, effort_hours: float, lines: float) -> float:
        """One change per pull request."""
        return float(self.pull_requests_per_feature)

    def release_interval_hours(self) -> float:
        """A release every ``release_cadence``."""
        return self.release_cadence


class GitFlow(Strategy):
    """develop, release branches with QA, main, hotfix branches."""

    Params = Params
    name = "gitflow"
    description = "features merge to develop; release branches cut on a cadence, stabilised by QA, merged to main and deployed; hotfix branches from main"
    integration_branch = DEVELOP
    production_branch = MAIN
    reverts_known_defects = False  # a release merged to main is fixed on a hotfix branch, not taken apart

    def __init__(self, params: Params, port) -> None:
        super().__init__(params, port)
        self.releases = 0
        self.open_fixes: dict[int, int] = {}
        self.fixes_done: dict[int, object] = {}
        self.cut_at: dict[int, float] = {}
        self.release_of: dict[int, int] = {}  # change id → number of the release it was cut into

    def plan(self, feature):
        return Plan(self.split(feature, self.params.pull_requests_per_feature))

    def start(self) -> None:
        self.port.start(self.release_cycle())

    def release_cycle(self):
        """Cut a release from develop's green head every ``release_cadence`` hours."""
        port = self.port
        next_cut = self.params.release_offset
        while True:
            yield port.after(max(0.0, next_cut - port.now))
            next_cut += self.params.release_cadence
            cut = port.take_green(DEVELOP)
            if not cut:
                continue
            self.releases += 1
            port.start(self.stabilise(self.releases, cut))

    def stabilise(self, number: int, cut):
        """QA a release branch, wait for its fixes, merge it into main."""
        port = self.port
        name = f"release/{number}"
        port.create_branch(name)
        self.cut_at[number] = port.now
        for change in cut:
            self.release_of[change.change_id] = number
        qa_end = port.working_to_clock(port.now, self.params.qa_duration)
        p_find = self.params.qa_detection_probability
        found = [d for c in cut for d in c.defects if not d.fixed and not d.found_by and d.strategy_u < p_find]
        self.open_fixes[number] = len(found)
        done = self.fixes_done[number] = port.signal()
        if not found:
            done.succeed()
        for defect in found:
            # Findings spread over the QA period: u / p is uniform on [0, 1).
            port.start(self.qa_finds(defect, (defect.strategy_u / p_find) * (qa_end - port.now)))
        yield port.after(qa_end - port.now)
        yield done
        shipped = cut + port.merged_into(name)
        port.remove_branch(name, retarget_to=DEVELOP)  # a fix reverted later comes back through develop
        port.land(shipped, onto=MAIN)

    def qa_finds(self, defect, delay: float):
        """QA reports a defect after ``delay`` hours; its author fixes it on the release branch."""
        yield self.port.after(delay)
        self.port.report_defect(defect, "qa")

    def verification_hours(self, change, branch: str) -> float:
        """A fix bound for main passes the hotfix branch's QA."""
        return self.params.hotfix_qa_duration if branch == MAIN and change.kind in ("fix", "hotfix") else 0.0

    def fix_target(self, defect, kind: str) -> str:
        change = defect.change
        if defect.found_by == "qa" and change is not None:
            release = f"release/{self.release_of.get(change.change_id, -1)}"
            if self.port.has_branch(release):
                return release
        return MAIN

    def on_merged(self, change, branch: str) -> None:
        if branch.startswith("release/"):
            number = int(branch.split("/", 1)[1])
            if change.fixes is not None:
                self.port.mark_repaired(change.fixes)
            self.open_fixes[number] -= 1
            if self.open_fixes[number] == 0:
                self.fixes_done[number].succeed()
            self.port.back_merge(change, onto=DEVELOP, since=self.cut_at[number])
        elif branch == MAIN and change.kind in ("fix", "hotfix"):
            self.port.back_merge(change, onto=DEVELOP, since=change.created)

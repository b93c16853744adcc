"""Repairs of defects found after merge: by QA, a canary, or in production.

The author of the defective change fixes it through the normal flow (a ``fix`` change:
review, CI, merge, deployment), on the branch the strategy names
(:meth:`Strategy.fix_target`). A known defect in a change still waiting to ship is,
with ``ci.red_branch_policy: revert``, reverted from the production branch so the rest
ships, and comes back fixed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Generator

import simpy

from trunksim.engine.backlog import Backlog
from trunksim.engine.branches import Branches
from trunksim.engine.entities import Branch, Change, Defect
from trunksim.engine.scheduling import detached

if TYPE_CHECKING:  # pragma: no cover
    from trunksim.engine.flow import Flow
    from trunksim.engine.people import Developer, Team
    from trunksim.scenario.schema import CI


class Repairs:
    """Who fixes a defect found after merge, and how.

    Parameters
    ----------
    env : simpy.Environment
        The simulation.
    ci_settings : scenario CI section
        ``red_branch_policy`` and ``revert_time`` (working hours).
    team, backlog, flow, branches
        The components a fix passes through.
    production_branch : Branch
        The branch production deploys from.
    fix_target : callable
        ``fix_target(defect, kind)``: the strategy's choice of branch for a fix.
    reverts_known_defects : bool
        Whether the strategy lets a known defect be reverted out of the production branch.
    """

    def __init__(
        self, env: simpy.Environment, ci_settings: "CI", team: "Team", backlog: Backlog, flow: "Flow", branches: Branches,
        production_branch: Branch, fix_target: Callable[[Defect, str], str], reverts_known_defects: bool = True,
    ) -> None:
        self.env = env
        self.ci_settings = ci_settings
        self.team = team
        self.backlog = backlog
        self.flow = flow
        self.branches = branches
        self.production_branch = production_branch
        self.fix_target = fix_target
        self.reverts_known_defects = reverts_known_defects

    def fix_change(self, defect: Defect, author: int, kind: str, effort_hours: float) -> Change:
        """A change that repairs a defect found after merge (canary, production, QA); coding is done."""
        source = defect.change
        change = self.backlog.new_change(
            author, source.feature if source else None, effort_hours, [], kind=kind, created=self.env.now,
            target=self.fix_target(defect, kind),
        )
        change.fixes = defect
        defect.fix = change
        change.coded_hours = effort_hours
        change.first_commit = self.env.now
        change.enter("coding", self.env.now)
        return change

    def repair(self, defect: Defect) -> None:
        """The author of a defect found after merge fixes it through the normal flow."""
        source = defect.change
        author = self.team[source.author if source else 0]

        def work(dev: "Developer") -> Generator:
            hours = self.flow.fix_time()
            yield from dev.work(hours, "fix", source.change_id if source else -1)
            fix = self.fix_change(defect, author=dev.index, kind="fix", effort_hours=hours)
            self.flow.submit(fix)

        author.assign(1, work)

    def handle_known_defect(self, defect: Defect) -> None:
        """A defect found after merge (canary, or in production before a rollback) that is not in production.

        With ``ci.red_branch_policy: revert`` its author reverts the change from the
        production branch, so the rest can ship, and brings it back fixed; otherwise
        (``fix-forward``) a fix change goes through the normal flow while deployments wait.
        """
        change = defect.change
        branch = self.production_branch
        if (
            self.ci_settings.red_branch_policy == "revert"
            and self.reverts_known_defects
            and change is not None
            and not change.in_production
            and not change.deploying
            and change in branch.pending
        ):
            self.team[change.author].assign(0, self.revert_defective(change, defect, branch))
        else:
            self.repair(defect)

    def revert_defective(self, change: Change, defect: Defect, branch: Branch):
        """A task body: revert a change with a known defect from ``branch``; it comes back fixed."""

        def work(dev: "Developer") -> Generator:
            yield from dev.work(self.ci_settings.revert_time, "revert", change.change_id)
            if change in branch.pending and not change.deploying and not change.in_production:
                change.enter("rework", self.env.now)
                self.branches.unmerge(change, branch)
                dev.open_changes += 1
                detached(self.env, self.flow.reintegrate(change, self.flow.fix_defects(change, [defect], "rework")))
            else:
                self.repair(defect)

        return work

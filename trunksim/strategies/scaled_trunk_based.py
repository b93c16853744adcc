"""Scaled trunk-based development: a short-lived branch per task, merged on green within a day.

The transitional model for teams moving to trunk ("branch-per-task but merge-on-green
within hours"): a feature is cut into tasks of at most ``max_branch_hours`` working
hours of coding; each task lives on its own short branch taken from ``trunk``, becomes
one pull request, is reviewed, synced with trunk, passes pre-merge CI and merges, so
no branch outlives a working day by default. Trunk stays deployable: every green trunk
build may deploy, and an unfinished feature's merged tasks are dark behind a feature
flag (``feature_flags``) until its last task is in production.

It differs from ``trunk-based`` in how work is cut (by the time a branch may live,
not by the lines a change may hold) and in that flags can be switched off.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import Field

from trunksim.strategies.base import Plan, Strategy, StrategyParams
from trunksim.units import PositiveWorkingHours


class Params(StrategyParams):
    """Parameters of scaled trunk-based development."""

    name: Literal["scaled-trunk-based"]
    max_branch_hours: PositiveWorkingHours = Field(
        8.0, description="most coding a task branch holds before its pull request opens, working hours (8 = one working day)"
    )
    feature_flags: bool = Field(True, description="unfinished features merge dark behind a flag, turned on when complete")

    batch_field = "max_branch_hours"
    batch_advice = "a larger strategy.max_branch_hours"
    reference_changes_per_feature = 4.0

    def changes_per_feature(self, effort_hours: float, lines: float) -> float:
        """E[ceil(E / h)] tasks for a feature of E working hours well above h."""
        return max(1.0, effort_hours / self.max_branch_hours + 0.5)


class ScaledTrunkBased(Strategy):
    """Task branches of at most a day, one pull request each, merged to trunk on green; trunk deploys."""

    Params = Params
    name = "scaled-trunk-based"
    description = "a short-lived branch and pull request per task (at most a day of work), merged to trunk on green; trunk deploys"
    integration_branch = "trunk"
    production_branch = "trunk"

    def plan(self, feature):
        tasks = max(1, math.ceil(feature.effort_hours / self.params.max_branch_hours - 1e-9))
        return Plan(self.split(feature, tasks), flagged=self.params.feature_flags and tasks > 1)

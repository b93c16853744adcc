"""Trunk-based development: small changes straight to trunk, dark behind feature flags.

A feature is cut into changes of at most ``max_change_lines`` lines (DORA's capability
guide: merge to trunk at least daily). Each change is reviewed, passes pre-merge CI
and merges to ``trunk``; every green trunk build may deploy. While a feature is
unfinished its merged changes are dark behind a feature flag; the flag goes on when
the last change is in production, and a failure behind a flag is restored by turning
the flag off.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from trunksim.strategies.base import Plan, Strategy, StrategyParams


class Params(StrategyParams):
    """Parameters of trunk-based development."""

    name: Literal["trunk-based"]
    max_change_lines: Annotated[float, Field(gt=0, le=100_000)] = Field(
        100.0, description="largest change merged to trunk, lines (a feature is cut into ceil(lines / this) changes)"
    )
    feature_flags: bool = Field(True, description="unfinished features merge dark behind a flag, turned on when complete")

    batch_field = "max_change_lines"
    batch_advice = "a larger strategy.max_change_lines"
    reference_changes_per_feature = 6.0

    def changes_per_feature(self, effort_hours: float, lines: float) -> float:
        """E[ceil(L / m)] for a feature of L lines well above m."""
        return max(1.0, lines / self.max_change_lines + 0.5)


class TrunkBased(Strategy):
    """Small batches merged to trunk behind flags; trunk deploys."""

    Params = Params
    name = "trunk-based"
    description = "small changes merged to trunk at least daily, dark behind feature flags; trunk deploys"
    integration_branch = "trunk"
    production_branch = "trunk"

    def plan(self, feature):
        pieces = self.pieces_for(feature.lines, self.params.max_change_lines)
        return Plan(self.split(feature, pieces), flagged=self.params.feature_flags and pieces > 1)

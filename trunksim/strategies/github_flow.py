"""GitHub flow: a branch per feature, a pull request, merge to main, deploy main.

The developer codes the whole feature on a branch taken from ``main`` when the feature
starts; it becomes ``pull_requests_per_feature`` pull requests (1: the branch lives
until the feature is done). Each pull request is reviewed, synced with ``main`` (where
it may conflict with everything that landed since the branch was cut), passes CI and
merges; ``main`` deploys per merge (``deployment.mode: continuous``) or on a cadence.
No feature flags: merged work is live at once.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from trunksim.strategies.base import Plan, Strategy, StrategyParams


class Params(StrategyParams):
    """Parameters of GitHub flow."""

    name: Literal["github-flow"]
    pull_requests_per_feature: Annotated[int, Field(ge=1, le=1000)] = Field(
        1, description="pull requests a feature branch is delivered in, pull requests"
    )

    batch_field = "pull_requests_per_feature"
    batch_advice = "fewer strategy.pull_requests_per_feature"

    def changes_per_feature(self, effort_hours: float, lines: float) -> float:
        """One change per pull request."""
        return float(self.pull_requests_per_feature)


class GitHubFlow(Strategy):
    """One branch and pull request per feature, merged to main; main deploys."""

    Params = Params
    name = "github-flow"
    description = "a branch and pull request per feature, reviewed and merged to main; main deploys"
    integration_branch = "main"
    production_branch = "main"

    def plan(self, feature):
        return Plan(self.split(feature, self.params.pull_requests_per_feature))

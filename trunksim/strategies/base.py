"""The strategy interface: what a branching strategy decides, and nothing else.

A strategy decides

* how a feature is cut into changes (:meth:`Strategy.plan`) and whether its changes are
  dark behind a feature flag until the feature is complete;
* which long-lived branches exist, where changes merge (``integration_branch``) and
  which branch production deploys from (``production_branch``);
* anything that happens on its own schedule (:meth:`start`, e.g. GitFlow's releases);
* the hotfix path (:meth:`hotfix`) and where repairs go (:meth:`fix_target`).

Strategy modules do not import SimPy: they use the model's environment and
components, so the engine stays the only place that knows the simulation library.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar, Generator

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:  # pragma: no cover
    from trunksim.engine.entities import Branch, Change, Defect, Feature
    from trunksim.engine.model import DeliveryModel


class StrategyParams(BaseModel):
    """Base of every strategy's parameters: strict and frozen, like the rest of the scenario."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False)


class Strategy:
    """Base class of the strategies; the default behaviour is plain trunk/main delivery."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    integration_branch: str = "main"
    production_branch: str = "main"

    def __init__(self, params: StrategyParams, model: "DeliveryModel") -> None:
        self.params = params
        self.model = model

    def long_lived_branches(self) -> list[str]:
        """Branch names that exist for the whole run (each gets post-merge CI)."""
        return list(dict.fromkeys([self.integration_branch, self.production_branch]))

    def start(self) -> None:
        """Start any process the strategy runs on its own schedule."""

    def plan(self, feature: "Feature") -> list[tuple[float, list["Defect"]]]:
        """Cut a feature into changes: a list of ``(effort_hours, defects)``, one per change."""
        return self.split(feature, 1)

    @staticmethod
    def split(feature: "Feature", pieces: int) -> list[tuple[float, list["Defect"]]]:
        """Cut a feature into ``pieces`` equal changes; each defect goes to the piece holding its position."""
        pieces = max(1, pieces)
        feature.planned_changes = pieces
        effort = feature.effort_hours / pieces
        parts: list[list] = [[] for _ in range(pieces)]
        for defect in feature.defects:
            parts[min(pieces - 1, int(defect.position * pieces))].append(defect)
        return [(effort, part) for part in parts]

    @staticmethod
    def pieces_for(lines: float, max_lines: float) -> int:
        """How many changes of at most ``max_lines`` lines a feature of ``lines`` lines needs."""
        return max(1, math.ceil(lines / max_lines - 1e-9))

    def fix_target(self, defect: "Defect", kind: str) -> str:
        """Where a fix for a defect found after merge goes."""
        return self.production_branch

    def on_merged(self, change: "Change", branch: "Branch") -> None:
        """Called after every merge."""

    def on_green(self, branch: "Branch") -> None:
        """Called after every green post-merge build."""

    def hotfix(self, change: "Change") -> Generator:
        """The expedited path of a fix-forward change; returns when it is deployed."""
        branch = self.model.branches[self.production_branch]
        deployment = yield from self.model.flow.expedite(change, branch)
        return deployment

"""The strategy interface: what a branching strategy decides, and the port it decides through.

A strategy decides

* how a feature is cut into changes (:meth:`Strategy.plan`) and whether its changes are
  dark behind a feature flag until the feature is complete;
* which long-lived branches exist, where changes merge (``integration_branch``) and
  which branch production deploys from (``production_branch``);
* anything that happens on its own schedule (:meth:`Strategy.start`, e.g. GitFlow's
  releases) and what follows a merge (:meth:`Strategy.on_merged`, e.g. back-merges);
* where repairs go (:meth:`Strategy.fix_target`).

It acts on the simulation only through the :class:`StrategyPort` the engine hands it,
and keeps its own state (release branches, what QA found) itself. Strategy modules
import no engine and no SimPy; the engine never asks which strategy it runs.

A strategy's ``Params`` also answer the questions the size estimate asks before a run
(:meth:`StrategyParams.changes_per_feature`, :meth:`StrategyParams.release_interval_hours`),
so a strategy that batches work its own way is sized correctly without being guessed at.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Generator, Optional, Protocol, Sequence

from pydantic import BaseModel, ConfigDict


# -- what a strategy sees of the engine's records (read-only views) -------------------
class Defect(Protocol):
    """A latent fault, as a strategy sees it."""

    position: float  # where in its feature's work it sits, [0, 1)
    fixed: bool
    found_by: str  # "", review, ci, qa, canary, production
    strategy_u: float  # the defect's own uniform draw for a strategy's finding stage (common random numbers)
    change: Optional["Change"]


class Change(Protocol):
    """A change (a commit or a pull request), as a strategy sees it."""

    change_id: int
    kind: str  # feature, fix, hotfix
    created: float  # clock hours
    defects: list[Defect]
    fixes: Optional[Defect]


class Feature(Protocol):
    """A feature pulled from the backlog, as a strategy sees it."""

    effort_hours: float  # working hours
    lines: float
    defects: list[Defect]


class StrategyParams(BaseModel):
    """Base of every strategy's parameters: strict and frozen, like the rest of the scenario.

    Subclasses answer the size estimate's questions; the defaults describe a strategy that
    delivers a feature as one change and releases whenever the deployment settings say.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False)

    batch_field: ClassVar[Optional[str]] = None
    """The parameter (under ``strategy.``) that sets how many changes a feature becomes, if any."""
    batch_advice: ClassVar[str] = ""
    """How to make features into fewer changes, said to a user whose scenario is too big."""
    reference_changes_per_feature: ClassVar[float] = 1.0
    """Changes per feature of the shipped base team under this strategy (the size guard's yardstick)."""

    def changes_per_feature(self, effort_hours: float, lines: float) -> float:
        """Expected changes a feature of ``effort_hours`` working hours and ``lines`` lines is cut into, changes."""
        return 1.0

    def release_interval_hours(self) -> float:
        """Clock hours between the strategy's own releases (0: it releases whenever deployment allows)."""
        return 0.0


@dataclass(frozen=True)
class Plan:
    """How a feature is cut: one ``(effort_working_hours, defects)`` per change, and whether it is flagged."""

    pieces: list[tuple[float, list["Defect"]]]
    flagged: bool = False


class Signal(Protocol):
    """A one-shot event a strategy's process can wait for (``yield signal``) and fire."""

    @property
    def triggered(self) -> bool: ...  # noqa: D102

    def succeed(self, value: Any = None) -> Any: ...  # noqa: D102


class StrategyPort(Protocol):
    """What the engine offers a strategy; the only way a strategy acts on a simulation.

    Times are clock hours since the start of the run; efforts are working hours.
    Processes are generator functions that ``yield`` what :meth:`after` and
    :meth:`signal` return.
    """

    @property
    def now(self) -> float:
        """Simulation time now, clock hours."""

    # -- scheduling ----------------------------------------------------------------
    def start(self, process: Generator) -> None:
        """Run a strategy process (a generator) from now on."""

    def after(self, hours: float) -> Any:
        """Something to ``yield`` to wait ``hours`` clock hours."""

    def signal(self) -> Signal:
        """A new one-shot signal."""

    def working_to_clock(self, start: float, working_hours: float) -> float:
        """The clock time at which ``working_hours`` of work begun at ``start`` is done (the team's calendar)."""

    # -- branches ------------------------------------------------------------------
    def has_branch(self, name: str) -> bool:
        """True while a branch of that name exists."""

    def create_branch(self, name: str) -> None:
        """Cut a new long-lived branch (a release branch); it gets post-merge CI like any other."""

    def remove_branch(self, name: str, retarget_to: str) -> None:
        """Delete a branch; changes that were headed for it are retargeted to ``retarget_to``."""

    def take_green(self, name: str) -> list["Change"]:
        """Take from a branch the merged changes covered by its last green build (cutting a release)."""

    def merged_into(self, name: str) -> list["Change"]:
        """Changes merged into a branch and not yet passed on, oldest first (a copy)."""

    def land(self, changes: Sequence["Change"], onto: str) -> None:
        """Land changes that already merged elsewhere onto a branch as one commit (a release merge)."""

    def back_merge(self, change: "Change", onto: str, since: float) -> None:
        """Merge a change made elsewhere back into a branch; it may conflict with what landed there since ``since``."""

    # -- defects -------------------------------------------------------------------
    def report_defect(self, defect: "Defect", found_by: str) -> None:
        """A defect found after merge (by QA, say): record who found it; its author fixes it through the normal flow."""

    def mark_repaired(self, defect: "Defect") -> None:
        """A defect's fix landed where the defect never reached users (a release branch): it is repaired."""


class Strategy:
    """Base class of the strategies; the default behaviour is plain trunk/main delivery.

    Parameters
    ----------
    params : StrategyParams
        The strategy's validated parameters (``scenario.strategy``).
    port : StrategyPort
        The engine's port for this replication.
    """

    Params: ClassVar[type[StrategyParams]] = StrategyParams
    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    integration_branch: ClassVar[str] = "main"
    production_branch: ClassVar[str] = "main"
    reverts_known_defects: ClassVar[bool] = True
    """A known defect in a change waiting on the production branch (after a rollback, or found by a
    canary) may be reverted out of it, so the rest ships (``ci.red_branch_policy: revert``). False:
    the production branch holds a release that is not taken apart; it waits for the fix."""

    def __init__(self, params: StrategyParams, port: StrategyPort) -> None:
        self.params = params
        self.port = port

    def long_lived_branches(self) -> list[str]:
        """Branch names that exist for the whole run (each gets post-merge CI)."""
        return list(dict.fromkeys([self.integration_branch, self.production_branch]))

    def start(self) -> None:
        """Start any process the strategy runs on its own schedule."""

    def plan(self, feature: "Feature") -> Plan:
        """Cut a feature into changes (default: one change, no flag)."""
        return Plan(self.split(feature, 1))

    @staticmethod
    def split(feature: "Feature", pieces: int) -> list[tuple[float, list["Defect"]]]:
        """Cut a feature into ``pieces`` equal changes; each defect goes to the piece holding its position."""
        pieces = max(1, pieces)
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
        """Where a fix for a defect found after merge goes (``kind``: fix or hotfix)."""
        return self.production_branch

    def on_merged(self, change: "Change", branch: str) -> None:
        """Called after every merge of ``change`` into the branch named ``branch``."""

    def verification_hours(self, change: "Change", branch: str) -> float:
        """Working hours of verification (QA) a change gets after its CI passes and before it merges into ``branch``."""
        return 0.0

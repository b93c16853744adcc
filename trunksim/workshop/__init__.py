"""The workshop: its four rounds, the exercises, and the figures its teaching material states.

``scenarios/workshop/<n>-*.yaml`` are the rounds (one team, four ways of shipping);
:data:`EXERCISES` are the variations the exercises of ``notebooks/03-workshop.ipynb``
run. The facilitator's guide (``docs/workshop.md``) and the notebook's folded answers
are **generated** from runs of these (:mod:`trunksim.workshop.figures`)::

    python -m trunksim.workshop figures          # run the rounds, write the figures into the guide and notebook
    python -m trunksim.workshop figures --check  # fail if the guide disagrees with a fresh run

This package sits in the top layer (with the command line and the web app): it uses
the running layer and is used by nothing below it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from trunksim.scenario.schema import Scenario

ROOT = Path(__file__).resolve().parent.parent.parent
"""The repository (the workshop's scenarios, guide and notebook live there, not in the package)."""

SCENARIOS = ROOT / "scenarios" / "workshop"
GUIDE = ROOT / "docs" / "workshop.md"
NOTEBOOK = ROOT / "notebooks" / "03-workshop.ipynb"

REPLICATIONS = 10
"""Replications per scenario in the workshop (the notebook's ``REPLICATIONS``)."""
SEED = 1
"""Root seed of the workshop (the notebook's ``SEED``)."""
SHORT: Mapping[str, Any] = {"simulation.duration": "8w"}
"""The workshop's runs are 8 weeks long (2 of warm-up): a few seconds per round."""


@dataclass(frozen=True)
class Variant:
    """A named change to a round: what an exercise runs.

    ``key`` names it in the figures (``e1a``), ``base`` is the round it changes,
    ``overrides`` the dotted paths it sets (its ``name`` included).
    """

    key: str
    base: int
    overrides: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.overrides["name"])


EXERCISES: dict[int, tuple[Variant, ...]] = {
    1: (
        Variant("e1a", 4, {"name": "(a) 4 runners", "ci.runners": 4}),
        Variant("e1b", 4, {"name": "(b) 15-min CI", "ci.duration.median": "15m", "ci.duration.p90": "40m"}),
        Variant("e1c", 4, {"name": "(c) no flakes", "ci.flaky_failure_probability": 0.03}),
        Variant("e1d", 4, {"name": "(d) canary", "deployment.canary.enabled": True}),
    ),
    2: (Variant("e2", 1, {"name": "weekly train", "strategy.release_cadence": "1w"}),),
    3: (Variant("e3", 2, {"name": "3 PRs per feature", "strategy.pull_requests_per_feature": 3}),),
    4: (Variant("e4", 3, {"name": "no canary", "deployment.canary.enabled": False}),),
}
"""The exercises of the workshop notebook: exercise number → the variants it compares with its round."""

ROUNDS: tuple[int, ...] = (1, 2, 3, 4)


def round_path(number: int) -> Path:
    """The scenario file of a round: ``scenarios/workshop/<number>-*.yaml``."""
    found = sorted(SCENARIOS.glob(f"{number}-*.yaml"))
    if not found:
        raise FileNotFoundError(f"no scenario for workshop round {number} in {SCENARIOS}")
    return found[0]


def load_round(number: int, *, short: bool = True) -> Scenario:
    """The scenario of a round, shortened to the workshop's 8 weeks unless ``short`` is false."""
    from trunksim.scenario.loading import load_scenario

    scenario = load_scenario(round_path(number))
    return scenario.with_overrides(dict(SHORT)) if short else scenario


def variant_scenario(variant: Variant, rounds: Mapping[int, Scenario] | None = None) -> Scenario:
    """The scenario an exercise variant runs: its round with its overrides."""
    base = rounds[variant.base] if rounds is not None else load_round(variant.base)
    return base.with_overrides(dict(variant.overrides))


__all__ = [
    "EXERCISES", "GUIDE", "NOTEBOOK", "REPLICATIONS", "ROOT", "ROUNDS", "SCENARIOS", "SEED", "SHORT", "Variant",
    "load_round", "round_path", "variant_scenario",
]

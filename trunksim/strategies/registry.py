"""The strategy registry: name → module, with string entry points (as Gymnasium does).

Adding a strategy is one module and one line here. The registry also builds the
discriminated union of every strategy's parameters that the scenario schema uses.
"""

from __future__ import annotations

import importlib
from typing import Annotated, Union

from pydantic import Field

REGISTRY: dict[str, str] = {
    "trunk-based": "trunksim.strategies.trunk_based",
    "github-flow": "trunksim.strategies.github_flow",
    "gitflow": "trunksim.strategies.gitflow",
}
"""Strategy name (as written in YAML) → module defining ``Params`` and ``STRATEGY``."""


def _module(name: str):
    if name not in REGISTRY:
        raise KeyError(f"unknown strategy {name!r}; registered: {', '.join(REGISTRY)}")
    return importlib.import_module(REGISTRY[name])


def strategy_class(name: str):
    """The :class:`~trunksim.strategies.base.Strategy` subclass registered as ``name``."""
    return _module(name).STRATEGY


def describe() -> dict[str, str]:
    """Registered strategy names with their one-line descriptions."""
    return {name: _module(name).STRATEGY.description for name in REGISTRY}


def _parameter_union():
    models = tuple(_module(name).Params for name in REGISTRY)
    return Annotated[Union[models], Field(discriminator="name")]  # type: ignore[valid-type]


StrategyParameters = _parameter_union()
"""Any registered strategy's parameters, told apart by ``name``."""

"""The strategy registry: name → string entry point, resolved lazily (as Gymnasium does).

Adding a strategy is one module and one line here. A strategy module defines a
pydantic ``Params`` model (its YAML parameters, data only) and a
:class:`~trunksim.strategies.base.Strategy` subclass (its behaviour, which talks to
the engine only through :class:`~trunksim.strategies.base.StrategyPort`). Strategy
modules import only leaves (pydantic, :mod:`trunksim.units`, :mod:`trunksim.strategies.base`),
so the scenario schema can read every strategy's parameters without loading the engine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import Field

if TYPE_CHECKING:  # pragma: no cover
    from trunksim.strategies.base import Strategy, StrategyParams

REGISTRY: dict[str, str] = {
    "trunk-based": "trunksim.strategies.trunk_based:TrunkBased",
    "scaled-trunk-based": "trunksim.strategies.scaled_trunk_based:ScaledTrunkBased",
    "github-flow": "trunksim.strategies.github_flow:GitHubFlow",
    "gitflow": "trunksim.strategies.gitflow:GitFlow",
}
"""Strategy name (as written in YAML) → ``"module:Class"`` of its behaviour."""


def strategy_class(name: str) -> type["Strategy"]:
    """The :class:`~trunksim.strategies.base.Strategy` subclass registered as ``name`` (imported on first use).

    Raises
    ------
    KeyError
        If no strategy of that name is registered.
    """
    if name not in REGISTRY:
        raise KeyError(f"unknown strategy {name!r}; registered: {', '.join(REGISTRY)}")
    module, _, attribute = REGISTRY[name].partition(":")
    return getattr(importlib.import_module(module), attribute)


def params_model(name: str) -> type["StrategyParams"]:
    """The pydantic parameter model of the strategy registered as ``name``."""
    return strategy_class(name).Params


def describe() -> dict[str, str]:
    """Registered strategy names with their one-line descriptions."""
    return {name: strategy_class(name).description for name in REGISTRY}


def parameter_union() -> Any:
    """Any registered strategy's parameters, told apart by ``name`` (a pydantic discriminated union)."""
    models = tuple(params_model(name) for name in REGISTRY)
    return Annotated[Union[models], Field(discriminator="name")]  # type: ignore[valid-type]

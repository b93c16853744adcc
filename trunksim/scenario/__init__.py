"""Scenario schema, loading and validation.

``load_scenario(path)`` reads a YAML file (safely), resolves ``extends:``, validates it
against :class:`~trunksim.scenario.schema.Scenario` and returns the frozen scenario;
every problem is reported with file, line and field path.

Importing this package imports nothing else: the names below are loaded on first use,
so ``import trunksim.scenario.schema`` (or the strategy registry) never drags in the
loader, and the loader is free to import the schema.
"""

from __future__ import annotations

from typing import Any

_LAZY = {
    "SCHEMA_VERSION": "trunksim.scenario.schema",
    "Scenario": "trunksim.scenario.schema",
    "Problem": "trunksim.scenario.problems",
    "ScenarioError": "trunksim.scenario.problems",
    "apply_overrides": "trunksim.scenario.loading",
    "json_schema": "trunksim.scenario.loading",
    "load_scenario": "trunksim.scenario.loading",
    "parse_assignment": "trunksim.scenario.loading",
    "validate_paths": "trunksim.scenario.loading",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'trunksim.scenario' has no attribute {name!r}")

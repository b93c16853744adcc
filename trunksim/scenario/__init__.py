"""Scenario schema, loading and validation.

``load_scenario(path)`` reads a YAML file (safely), resolves ``extends:``, validates it
against :class:`~trunksim.scenario.schema.Scenario` and returns the frozen scenario;
every problem is reported with file, line and field path.
"""

from trunksim.scenario.loading import (
    Problem,
    ScenarioError,
    apply_overrides,
    json_schema,
    load_scenario,
    parse_assignment,
    validate_paths,
)
from trunksim.scenario.schema import SCHEMA_VERSION, Scenario

__all__ = [
    "SCHEMA_VERSION",
    "Problem",
    "Scenario",
    "ScenarioError",
    "apply_overrides",
    "json_schema",
    "load_scenario",
    "parse_assignment",
    "validate_paths",
]

"""The scenario schema: finite numbers only, and a JSON Schema that agrees with the loader."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import textwrap
import typing
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel, ValidationError

from trunksim.scenario import Scenario, ScenarioError, json_schema, load_scenario
from trunksim.units import parse_duration
from trunksim.strategies.registry import REGISTRY, params_model

jsonschema = pytest.importorskip("jsonschema")

SCENARIOS = sorted(p for p in (Path(__file__).resolve().parent.parent / "scenarios").glob("*.yaml") if not p.name.startswith("_"))


def schema_errors(document: object) -> list[str]:
    validator = jsonschema.Draft202012Validator(json_schema())
    return [f"{'.'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(document)]


def loader_accepts(tmp_path: Path, document: dict) -> bool:
    path = tmp_path / "s.yaml"
    path.write_text(json.dumps(document), encoding="utf-8")  # JSON is YAML
    try:
        load_scenario(path)
    except ScenarioError:
        return False
    return True


def merged(path: Path) -> dict:
    """The file as written, with the files it ``extends`` merged underneath it."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    parent = document.pop("extends", None)
    return document if parent is None else deep_merge(merged(path.parent / parent), document)


def deep_merge(base: dict, top: dict) -> dict:
    result = dict(base)
    for key, value in top.items():
        both = isinstance(value, dict) and isinstance(result.get(key), dict)
        result[key] = deep_merge(result[key], value) if both else value
    return result


def float_fields(model: type[BaseModel], prefix: str = "") -> typing.Iterator[str]:
    """Dotted paths of every plain float field below ``model`` (sections, not distributions)."""
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel) and "dist" not in annotation.model_fields:
            yield from float_fields(annotation, f"{prefix}{name}.")
        elif annotation is float:
            yield f"{prefix}{name}"


def nested(dotted: str, value: object) -> dict:
    *sections, leaf = dotted.split(".")
    document: dict = {leaf: value}
    for section in reversed(sections):
        document = {section: document}
    return document


FLOAT_FIELDS = [("trunk-based", path) for path in float_fields(Scenario)] + [
    (strategy, f"strategy.{path}") for strategy in REGISTRY for path in float_fields(params_model(strategy))
]


# --- Finite numbers -------------------------------------------------------------------


def test_every_float_field_is_found():
    paths = {path for _, path in FLOAT_FIELDS}

    assert {"review.reference_lines", "simulation.max_wall_seconds", "deployment.canary.detection_sensitivity"} <= paths
    assert "strategy.max_change_lines" in paths


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, "inf", "nan"], ids=repr)
@pytest.mark.parametrize(("strategy", "path"), FLOAT_FIELDS)
def test_no_float_field_accepts_nan_or_infinity(strategy, path, value):
    document = deep_merge({"strategy": {"name": strategy}}, nested(path, value))

    with pytest.raises(ValidationError) as caught:
        Scenario.model_validate(document)

    assert [".".join(map(str, e["loc"])) for e in caught.value.errors()] in (
        [path],
        [path.replace("strategy.", f"strategy.{strategy}.", 1)],  # pydantic names the union member
    )


# --- Durations ------------------------------------------------------------------------


def test_a_negative_duration_string_is_negative_not_malformed():
    with pytest.raises(ValueError, match="must not be negative"):
        parse_duration("-1h")


# --- The JSON Schema --------------------------------------------------------------------


def test_the_json_schema_is_itself_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(json_schema())


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_every_shipped_scenario_as_loaded_satisfies_the_json_schema(path):
    assert schema_errors(load_scenario(path).model_dump(mode="json")) == []


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_every_shipped_scenario_as_written_satisfies_the_json_schema(path):
    assert schema_errors(merged(path)) == []
    assert schema_errors(yaml.safe_load(path.read_text(encoding="utf-8"))) == []  # `extends:` included


def test_a_minimal_document_with_shorthand_durations_satisfies_the_json_schema():
    document = yaml.safe_load(
        textwrap.dedent(
            """\
            strategy: {name: gitflow, qa_duration: 16h}
            team: {focus_block: 90m}
            review: {duration: 30m}
            ci: {duration: 0.25, triage_time: {value: 20m}}
            deployment: {canary: {bake_time: 0}}
            """
        )
    )

    assert schema_errors(document) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("review.duration", "30m"),
        ("review.duration", 0.5),
        ("review.duration", 0),
        ("review.duration", {"value": "1h"}),
        ("review.duration", {"dist": "lognormal", "median": "20m", "p90": "1h"}),
        ("review.duration", "-1h"),
        ("review.duration", -1),
        ("review.duration", "30 minutes"),
        ("review.duration", {"median": "1h"}),
        ("review.duration", {"dist": "exponential", "mean": 0}),
        ("review.duration", {"dist": "exponential", "mean": "0h"}),
        ("team.focus_block", "2h"),
        ("team.focus_block", " 1.5e1 m "),
        ("team.focus_block", "0.01h"),
        ("team.focus_block", 0),
        ("team.focus_block", "0h"),
        ("team.focus_block", "0.0e3h"),
        ("team.focus_block", "-2h"),
        ("team.focus_block", "2"),
        ("deployment.canary.bake_time", 0),
        ("deployment.canary.bake_time", "0m"),
        ("deployment.canary.bake_time", -0.5),
        ("deployment.canary.bake_time", "1d"),
        ("team.focus_block", "1d"),  # working hours: no days or weeks
        ("team.focus_block", "8h"),
        ("team.focus_block", "90 m"),
        ("team.focus_block", "10min"),
        ("team.focus_block", "2H"),
        ("review.duration", "1d"),
        ("review.duration", {"dist": "lognormal", "median": "1d", "p90": "2d"}),
        ("review.duration", {"dist": "empirical", "values": ["1h", "1w"]}),
        ("ci.duration", "1d"),  # clock hours: days and weeks welcome
        ("ci.duration", {"dist": "exponential", "mean": "1w"}),
        ("ci.duration", "90 m"),
        ("simulation.duration", "4w"),
        ("strategy.qa_duration", "3d"),
        ("strategy.qa_duration", "24h"),
        ("strategy.release_cadence", "2w"),
    ],
    ids=lambda v: json.dumps(v) if isinstance(v, dict) else repr(v),
)
def test_the_json_schema_and_the_loader_agree_on_durations(tmp_path, field, value):
    strategy = "gitflow" if field.startswith("strategy.") else "trunk-based"
    document = deep_merge({"strategy": {"name": strategy}}, nested(field, value))

    assert (schema_errors(document) == []) == loader_accepts(tmp_path, document)


def test_positive_durations_export_an_exclusive_minimum():
    focus_block = json_schema()["$defs"]["Team"]["properties"]["focus_block"]

    assert {"type": "number", "exclusiveMinimum": 0} in focus_block["anyOf"]


def patterns(schema: object) -> typing.Iterator[str]:
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "pattern" and isinstance(value, str):
                yield value
            else:
                yield from patterns(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from patterns(item)


def test_json_schema_patterns_use_no_python_only_syntax():
    found = list(patterns(json_schema()))

    assert found, "the duration pattern should be exported"
    assert not [p for p in found if "(?P" in p or "\\A" in p or "\\Z" in p]


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to compile JavaScript regular expressions")
def test_json_schema_patterns_compile_as_javascript_regular_expressions():
    script = "for (const p of JSON.parse(require('fs').readFileSync(0, 'utf8'))) new RegExp(p, 'u');"
    found = sorted(set(patterns(json_schema())))

    result = subprocess.run(["node", "-e", script], input=json.dumps(found), capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr

"""Reading scenarios: files with ``extends``, overrides, and validation with located problems.

:func:`load_scenario` reads a file into a located tree (:mod:`trunksim.scenario.yamltree`),
lays overrides from ``--set`` on top, and validates the result against
:class:`~trunksim.scenario.schema.Scenario`. Every pydantic error becomes one
:class:`Problem` that names the file, line, field path and what is allowed
(:mod:`trunksim.scenario.problems`); all of them are raised together in a
:class:`ScenarioError`, and nothing half-valid is ever returned.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any, Iterable, Mapping

from pydantic import ValidationError

from trunksim.scenario.problems import ROOT, Problem, ScenarioError, _Fatal, _problem, _show
from trunksim.scenario.schema import Scenario
from trunksim.scenario.yamltree import _from_plain, _load_file, _Node, _parse, _plain

__all__ = [
    "OVERRIDE",
    "ROOT",
    "Problem",
    "ScenarioError",
    "apply_overrides",
    "json_schema",
    "load_scenario",
    "parse_assignment",
    "validate_paths",
]

OVERRIDE = "<override>"
"""The file name reported for problems in overrides (``--set``, ``with_overrides``)."""

_PATHS = "allowed: dotted paths to fields, such as ci.runners"
_EXTENDS = "a scenario file, relative to this one, merged underneath: mappings merge key by key, this file wins"


# --- Overrides ------------------------------------------------------------------------


def _apply(root: _Node, overrides: Mapping[str, Any]) -> list[Problem]:
    """Set each dotted path in ``root`` to its value; return the problems with paths."""
    problems = []
    for dotted, value in overrides.items():
        problem = _set(root, dotted, value)
        if problem is not None:
            problems.append(problem)
    return problems


def _set(root: _Node, dotted: Any, value: Any) -> Problem | None:
    parts = dotted.split(".") if isinstance(dotted, str) else [""]
    if not all(part and part.strip() == part for part in parts):
        return Problem(OVERRIDE, None, str(dotted) or ROOT, f"malformed field path ({_PATHS})")
    node = root
    for depth, part in enumerate(parts[:-1]):
        child = node.child(part)
        if child is None and isinstance(node.value, dict):  # a section the file left at its defaults
            child = node.value[part] = _Node({}, OVERRIDE, None)
        if child is None:
            where = ".".join(parts[:depth])
            return Problem(OVERRIDE, None, dotted, f"{where} has no item {part!r} (allowed: 0 to {len(node.value) - 1})")
        if not isinstance(child.value, (dict, list)):
            where = ".".join(parts[: depth + 1])
            return Problem(OVERRIDE, None, dotted, f"{where} is {_show(child.value)}, not a section ({_PATHS})")
        node = child
    leaf = _from_plain(value, OVERRIDE)
    if isinstance(node.value, dict):
        node.value[parts[-1]] = leaf
    elif node.child(parts[-1]) is not None:
        node.value[int(parts[-1])] = leaf
    else:
        return Problem(OVERRIDE, None, dotted, f"no item {parts[-1]!r} (allowed: 0 to {len(node.value) - 1})")
    return None


def apply_overrides(scenario: Scenario, overrides: Mapping[str, Any]) -> Scenario:
    """Return a new scenario with dotted-path fields replaced.

    Parameters
    ----------
    scenario : Scenario
        The scenario to start from; it is not changed.
    overrides : mapping of str to value
        Dotted field path → value, e.g. ``{"ci.runners": 8, "review.duration": "30m"}``.
        Values are validated exactly as if written in the YAML file.

    Returns
    -------
    Scenario
        A new, validated scenario.

    Raises
    ------
    ScenarioError
        If a path is unknown or a value invalid; problems name the file ``<override>``.
    """
    try:
        root = _from_plain(scenario.model_dump(mode="json"), OVERRIDE)
        problems = _apply(root, overrides)
    except _Fatal as exc:
        raise ScenarioError(exc.problems) from None
    return _validate(root, problems)


def parse_assignment(text: str) -> tuple[str, Any]:
    """Split a ``FIELD.PATH=VALUE`` assignment (the CLI's ``--set``).

    Parameters
    ----------
    text : str
        ``"ci.runners=8"``; the value is read as YAML, so ``8`` is an int, ``true`` a
        bool, ``30m`` a string and ``[1, 2]`` a list.

    Returns
    -------
    tuple of (str, value)
        The dotted path and the parsed value.

    Raises
    ------
    ScenarioError
        If there is no ``=``, the path is malformed or the value is not valid YAML.
    """
    field, equals, raw = text.partition("=")
    field = field.strip()
    parts = field.split(".")
    if not equals or not all(part and part.strip() == part for part in parts):
        message = f"malformed assignment {text!r} (allowed: FIELD.PATH=VALUE, e.g. ci.runners=8)"
        raise ScenarioError([Problem(OVERRIDE, None, field or ROOT, message)])
    try:
        tree, problems = _parse(raw, OVERRIDE)
    except _Fatal as exc:
        problems, tree = exc.problems, None
    if problems:
        raise ScenarioError([replace(problem, line=None, field=field) for problem in problems])
    return field, None if tree is None else _plain(tree)


# --- Validation -----------------------------------------------------------------------


def _validate(root: _Node, problems: list[Problem]) -> Scenario:
    refused: list[Problem] = []
    data = _plain(root, (), refused)
    problems = [*problems, *refused]
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        seen = {problem.field for problem in refused}
        for error in exc.errors(include_url=False):
            problem = _problem(error, root.locate)
            if problem.field not in seen:
                problems.append(problem)
    if problems:
        files = list(dict.fromkeys(problem.file for problem in problems if problem.file != OVERRIDE)) + [OVERRIDE]
        raise ScenarioError(sorted(problems, key=lambda p: (files.index(p.file), p.line or 0)))
    return scenario


def load_scenario(path: str | os.PathLike, overrides: Mapping[str, Any] | None = None) -> Scenario:
    """Read, merge and validate a scenario file.

    Parameters
    ----------
    path : str or os.PathLike
        The YAML file. ``extends: other.yaml`` in it is read relative to it.
    overrides : mapping of str to value, optional
        Dotted field path → value, applied on top of the file before validation, so
        their problems are reported together with the file's.

    Returns
    -------
    Scenario
        The validated, frozen scenario.

    Raises
    ------
    ScenarioError
        With every problem found, each naming file, line, field path and what is allowed.
    """
    file = os.fspath(path)
    problems: list[Problem] = []
    try:
        root = _load_file(file, (), problems)
        problems += _apply(root, overrides or {})
    except _Fatal as exc:
        raise ScenarioError([*problems, *exc.problems]) from None
    return _validate(root, problems)


def validate_paths(paths: Iterable[str | os.PathLike] | str | os.PathLike) -> list[Problem]:
    """Validate scenario files and return all their problems (empty: all valid).

    Parameters
    ----------
    paths : iterable of str or os.PathLike
        The files to check; a single path is accepted too.

    Returns
    -------
    list of Problem
        Every problem in every file, file by file.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    problems: list[Problem] = []
    for path in paths:
        try:
            load_scenario(path)
        except ScenarioError as exc:
            problems.extend(exc.problems)
    return problems


def json_schema() -> dict:
    """The scenario schema as a JSON Schema document (for editors and ``trunksim schema``).

    It describes a scenario file. ``extends`` is allowed at the top level, and a file
    that extends another need not repeat the required fields; the merged result is
    only checked in full by :func:`load_scenario`.

    Returns
    -------
    dict
        JSON-serialisable JSON Schema of :class:`~trunksim.scenario.schema.Scenario`,
        plus the top-level ``extends`` key that only files have.
    """
    schema = Scenario.model_json_schema()
    extends = {"type": "string", "minLength": 1, "title": "Extends", "description": _EXTENDS}
    schema["properties"] = {"extends": extends, **schema["properties"]}
    # A file that extends another may leave required fields (the strategy) to its parent.
    required = schema.pop("required", [])
    if required:
        schema["if"] = {"required": ["extends"]}
        schema["else"] = {"required": required}
    return schema

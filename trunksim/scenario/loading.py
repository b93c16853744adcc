"""Reading scenarios: files with ``extends``, overrides, and validation with located problems.

:func:`load_scenario` reads a file into a located tree (:mod:`trunksim.scenario.yamltree`),
lays overrides from ``--set`` on top (:mod:`trunksim.scenario.overrides`), and validates the result against
:class:`~trunksim.scenario.schema.Scenario`. Every pydantic error becomes one
:class:`Problem` that names the file, line, field path and what is allowed
(:mod:`trunksim.scenario.problems`); all of them are raised together in a
:class:`ScenarioError`, and nothing half-valid is ever returned.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any, Iterable, Mapping

from trunksim.scenario.overrides import OVERRIDE, apply_overrides, apply_to_tree, validate_tree
from trunksim.scenario.problems import ROOT, FatalProblems, Problem, ScenarioError
from trunksim.scenario.schema import Scenario
from trunksim.scenario.yamltree import load_tree, parse_yaml, plain_value

__all__ = [
    "OVERRIDE",
    "ROOT",
    "Problem",
    "ScenarioError",
    "apply_overrides",
    "json_schema",
    "load_scenario",
    "locate_field",
    "parse_assignment",
    "validate_paths",
]

_EXTENDS = "a scenario file, relative to this one, merged underneath: mappings merge key by key, this file wins"


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
        tree, problems = parse_yaml(raw, OVERRIDE)
    except FatalProblems as exc:
        problems, tree = exc.problems, None
    if problems:
        raise ScenarioError([replace(problem, line=None, field=field) for problem in problems])
    return field, None if tree is None else plain_value(tree)


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
        root = load_tree(file, (), problems)
        problems += apply_to_tree(root, overrides or {})
    except FatalProblems as exc:
        raise ScenarioError([*problems, *exc.problems]) from None
    return validate_tree(Scenario, root, problems)


def locate_field(path: str | os.PathLike, overrides: Mapping[str, Any] | None, field: str) -> tuple[str, int | None]:
    """Where a field of a scenario was written: the file (or one it extends) and line.

    Parameters
    ----------
    path : str or os.PathLike
        The scenario file.
    overrides : mapping of str to value, optional
        The overrides the scenario was loaded with; a field they set is at ``<override>``.
    field : str
        Dotted field path, such as ``team.developers``.

    Returns
    -------
    tuple of (str, int or None)
        File and 1-based line; a field not written anywhere gives the enclosing section's
        place, and a file that cannot be read gives ``(path, None)``.
    """
    file = os.fspath(path)
    try:
        root = load_tree(file, (), [])
        apply_to_tree(root, overrides or {})
    except FatalProblems:
        return file, None
    return root.locate(tuple(field.split(".")))


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

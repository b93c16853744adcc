"""Overrides: dotted field paths laid over a located tree, and validation into a model.

``--set ci.runners=8``, ``Scenario.with_overrides({...})`` and a sweep's points all
replace fields by dotted path. :func:`apply_to_tree` sets them in a located tree
(:mod:`trunksim.scenario.yamltree`), so a bad value is reported as written in
``<override>``; :func:`validate_tree` validates a tree against a model and raises every
problem together in a :class:`~trunksim.scenario.problems.ScenarioError`.

This module knows no schema: the model is given (the scenario schema itself uses it for
:meth:`~trunksim.scenario.schema.Scenario.with_overrides`), so the schema can import it
without an import cycle.
"""

from __future__ import annotations

import warnings
from typing import Any, Mapping, TypeVar

from pydantic import BaseModel, ValidationError

from trunksim.scenario.problems import OVERRIDE, ROOT, FatalProblems, Problem, ScenarioError, problem_from_error, show_value
from trunksim.scenario.yamltree import Node, plain_value, tree_from_plain

__all__ = ["OVERRIDE", "apply_overrides", "apply_to_tree", "check_valid", "validate_tree"]

_PATHS = "allowed: dotted paths to fields, such as ci.runners"

M = TypeVar("M", bound=BaseModel)


def apply_to_tree(root: Node, overrides: Mapping[str, Any]) -> list[Problem]:
    """Set each dotted path in ``root`` to its value; return the problems with paths.

    Raises
    ------
    FatalProblems
        If a value is too large or too deeply nested to be a scenario value.
    """
    problems = []
    for dotted, value in overrides.items():
        problem = _set(root, dotted, value)
        if problem is not None:
            problems.append(problem)
    return problems


def _set(root: Node, dotted: Any, value: Any) -> Problem | None:
    parts = dotted.split(".") if isinstance(dotted, str) else [""]
    if not all(part and part.strip() == part for part in parts):
        return Problem(OVERRIDE, None, str(dotted) or ROOT, f"malformed field path ({_PATHS})")
    if parts[0] == "extends":
        message = (
            "extends is read only from a scenario file, when the file is loaded, so it cannot be overridden "
            "(allowed: write extends: in the file, or load the file you want to start from)"
        )
        return Problem(OVERRIDE, None, dotted, message)
    node = root
    for depth, part in enumerate(parts[:-1]):
        child = node.child(part)
        if child is None and isinstance(node.value, dict):  # a section the file left at its defaults
            child = node.value[part] = Node({}, OVERRIDE, None)
        if child is None:
            where = ".".join(parts[:depth])
            return Problem(OVERRIDE, None, dotted, f"{where} has no item {part!r} (allowed: 0 to {len(node.value) - 1})")
        if not isinstance(child.value, (dict, list)):
            where = ".".join(parts[: depth + 1])
            return Problem(OVERRIDE, None, dotted, f"{where} is {show_value(child.value)}, not a section ({_PATHS})")
        node = child
    leaf = tree_from_plain(value, OVERRIDE)
    if isinstance(node.value, dict):
        node.value[parts[-1]] = leaf
    elif node.child(parts[-1]) is not None:
        node.value[int(parts[-1])] = leaf
    else:
        return Problem(OVERRIDE, None, dotted, f"no item {parts[-1]!r} (allowed: 0 to {len(node.value) - 1})")
    return None


def validate_tree(model: type[M], root: Node, problems: list[Problem]) -> M:
    """Validate a located tree against ``model``; raise every problem (``problems`` first found) together.

    Raises
    ------
    ScenarioError
        With every problem, sorted by file (files first, ``<override>`` last) and line.
    """
    refused: list[Problem] = []
    data = plain_value(root, (), refused)
    problems = [*problems, *refused]
    try:
        validated = model.model_validate(data)
    except ValidationError as exc:
        seen = {problem.field for problem in problems}  # already reported where it was written (NaN, 0x10, ...)
        for error in exc.errors(include_url=False):
            problem = problem_from_error(error, root.locate, model)
            if problem.field not in seen:
                problems.append(problem)
    if problems:
        files = list(dict.fromkeys(problem.file for problem in problems if problem.file != OVERRIDE)) + [OVERRIDE]
        raise ScenarioError(sorted(problems, key=lambda p: (files.index(p.file), p.line or 0)))
    return validated


def apply_overrides(instance: M, overrides: Mapping[str, Any]) -> M:
    """Return a new, validated model with dotted-path fields replaced.

    Parameters
    ----------
    instance : BaseModel
        The model to start from (a scenario); it is not changed.
    overrides : mapping of str to value
        Dotted field path → value, e.g. ``{"ci.runners": 8, "review.duration": "30m"}``.
        Values are validated exactly as if written in the YAML file.

    Returns
    -------
    BaseModel
        A new instance of the same model.

    Raises
    ------
    ScenarioError
        If a path is unknown or a value invalid; problems name the file ``<override>``.
    """
    try:
        root = tree_from_plain(instance.model_dump(mode="json"), OVERRIDE)
        problems = apply_to_tree(root, overrides)
    except FatalProblems as exc:
        raise ScenarioError(exc.problems) from None
    return validate_tree(type(instance), root, problems)


def _first_difference(a: Any, b: Any, path: tuple = ()) -> tuple:
    """The first path at which two plain values differ (``()`` if they are equal there)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in [*a, *(k for k in b if k not in a)]:
            if key not in a or key not in b:
                return (*path, key)
            found = _first_difference(a[key], b[key], (*path, key))
            if found:
                return found
        return ()
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for index, (x, y) in enumerate(zip(a, b)):
            found = _first_difference(x, y, (*path, index))
            if found:
                return found
        return ()
    return () if a == b and type(a) is type(b) else (path or (ROOT,))


def check_valid(instance: M, where: str | None = None) -> M:
    """``instance`` if the schema accepts it as it is; every problem, located, otherwise.

    Models are validated when they are made (loading, :func:`apply_overrides`), but
    ``instance.model_copy(update=...)`` copies values in without validation. Running
    such an instance could give numbers from a scenario the schema refuses (zero CI
    runners), so the run functions check again here: it costs a fraction of a millisecond.

    Parameters
    ----------
    instance : BaseModel
        The model (a scenario).
    where : str, optional
        The file name problems name; default ``<scenario 'NAME'>`` (or ``<model>``).

    Returns
    -------
    BaseModel
        ``instance`` itself.

    Raises
    ------
    ScenarioError
        With every problem the schema finds, or naming the first field whose value the
        schema would have changed (a value copied in unvalidated, such as text for a number).
    """
    if where is None:
        name = getattr(instance, "name", None)
        where = f"<scenario {name!r}>" if isinstance(name, str) else "<model>"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydantic warns when it dumps a value of the wrong type
        data = instance.model_dump(mode="json")
    try:
        again = type(instance).model_validate(data)
    except ValidationError:
        validate_tree(type(instance), tree_from_plain(data, where), [])
        raise  # pragma: no cover - validate_tree raises for what model_validate refused
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cleaned = again.model_dump(mode="json")
    if cleaned != data:
        field = ".".join(map(str, _first_difference(data, cleaned)))
        message = (
            "was set without validation (model_copy(update=...)) to a value the schema reads differently "
            "(allowed: change a scenario with with_overrides, which validates)"
        )
        raise ScenarioError([Problem(where, None, field or ROOT, message)])
    return instance

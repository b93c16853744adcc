"""Located problems: what is wrong with a scenario, where, and what is allowed instead.

A :class:`Problem` names the file, line and dotted field path of one mistake and says
what may be written there; a :class:`ScenarioError` carries every problem found in a
load. This module also turns pydantic's validation errors into such messages: it walks
the annotations of the model validated (the :class:`~trunksim.scenario.schema.Scenario`,
given by the caller: this module imports no schema) along an error's ``loc``
(dropping the tags of discriminated unions, which the user never wrote) and describes
the allowed values from the field's type, bounds and description.
"""

from __future__ import annotations

import difflib
import math
import re
import types
import typing
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Literal, Mapping

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from trunksim.units import duration_unit

ROOT = "<root>"
"""The field path reported for problems with a whole document."""

OVERRIDE = "<override>"
"""The file name reported for problems in overrides (``--set``, ``with_overrides``, sweeps)."""

_NOUNS = {"name": "strategy", "dist": "distribution"}
_BOUNDS = ((annotated_types.Gt, ">"), (annotated_types.Ge, ">="), (annotated_types.Lt, "<"), (annotated_types.Le, "<="))


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario, located in the file it was written in.

    Attributes
    ----------
    file : str
        The file the value was written in (``<override>`` for overrides).
    line : int or None
        1-based line of the key or value, or None when unknown.
    field : str
        Dotted field path (``work.severity_shares.1``), or ``<root>``.
    message : str
        What is wrong, then what is allowed in parentheses.
    """

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        line = "?" if self.line is None else self.line
        return f"{_one_line(self.file)}:{line}: {_one_line(self.field)}: {_one_line(self.message)}"


def _one_line(text: str) -> str:
    """``text`` with control characters and line breaks escaped (``\\n``), so a problem prints as one line."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


class ScenarioError(ValueError):
    """A scenario could not be loaded; ``problems`` lists every reason.

    Parameters
    ----------
    problems : list of Problem
        All problems found, in the order found.
    """

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(problem) for problem in self.problems)

    def __reduce__(self):
        return (type(self), (self.problems,))


class FieldsError(ValueError):
    """A rule broken by the fields of one section together, naming those fields.

    Raised by a section's own validator (``warm_up`` must be shorter than ``duration``),
    so the problem is located at the field that broke it — at ``<override>`` when an
    override set one of them, else at the first field named — instead of at the section.

    Parameters
    ----------
    message : str
        The rule, as a problem states it.
    *fields : str or tuple
        The fields involved, in the section, most likely culprit first; a tuple is a
        path below the section (``("grid", "ci.runners")``).
    """

    def __init__(self, message: str, *fields: str | tuple) -> None:
        super().__init__(message)
        self.fields = fields


class FatalProblems(Exception):
    """Problems after which nothing more can be checked (a file unreadable, not YAML, ...).

    Raised while reading a scenario and turned into a :class:`ScenarioError` by the loader,
    together with the problems found before it.
    """

    def __init__(self, *problems: Problem) -> None:
        super().__init__()
        self.problems = list(problems)


# --- Messages -------------------------------------------------------------------------


@dataclass
class _Place:
    """Where a pydantic ``loc`` points in the schema, with union tags dropped from ``path``."""

    path: tuple
    annotation: Any = None
    metadata: tuple = ()
    field: FieldInfo | None = None
    owner: type[BaseModel] | None = None


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _unwrap(annotation: Any) -> tuple[Any, list]:
    metadata: list = []
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation, *more = typing.get_args(annotation)
            metadata += more
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation, metadata
            annotation = members[0]
        else:
            return annotation, metadata


def _tagged(annotation: Any, field: FieldInfo | None) -> dict[Any, type[BaseModel]]:
    """Tag → member of a discriminated union (empty if ``annotation`` is not one)."""
    key = field.discriminator if field is not None else None
    if typing.get_origin(annotation) not in (typing.Union, types.UnionType) or not isinstance(key, str):
        return {}
    members = {}
    for member in typing.get_args(annotation):
        if _is_model(member) and key in member.model_fields:
            for tag in typing.get_args(member.model_fields[key].annotation):
                members[tag] = member
    return members


def _place(loc: tuple, model: type[BaseModel]) -> _Place:
    annotation: Any = model
    metadata: list = []
    field = owner = None
    path: list = []
    for part in loc:
        annotation, more = _unwrap(annotation)
        metadata += more
        members = _tagged(annotation, field)
        if _is_model(annotation):
            owner, field = annotation, annotation.model_fields.get(part) if isinstance(part, str) else None
            path.append(part)
            annotation, metadata = (field.annotation, list(field.metadata)) if field else (None, [])
        elif part in members:  # a union tag: not part of what the user wrote
            annotation, metadata = members[part], []
        else:
            path.append(part)
            args = typing.get_args(annotation)
            origin = typing.get_origin(annotation)
            if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
                annotation = args[0]
            elif origin is tuple and isinstance(part, int) and part < len(args):
                annotation = args[part]
            elif origin in (dict, list):
                annotation = args[-1]
            else:
                annotation = None
            metadata = []
    annotation, more = _unwrap(annotation)
    return _Place(tuple(path), annotation, tuple(metadata + more), field, owner)


def _number(value: Any) -> str:
    if isinstance(value, int) and abs(value) >= 10**15:  # str() of a 5000-digit int raises; nobody reads one
        return f"a {int(abs(value).bit_length() * 0.30103) + 1}-digit number"
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _range(metadata: Iterable) -> str:
    bounds = []
    for item in metadata:
        if isinstance(item, FieldInfo):
            bounds.append(_range(item.metadata))
        for kind, symbol in _BOUNDS:
            if isinstance(item, kind):
                bounds.append(f"{symbol} {_number(getattr(item, kind.__name__.lower()))}")
    return " and ".join(bound for bound in bounds if bound)


def _expected(place: _Place) -> str:
    """What may be written at ``place``, in words."""
    annotation, metadata = place.annotation, place.metadata
    members = _tagged(annotation, place.field)
    if members:
        key, tags = place.field.discriminator, ", ".join(map(str, members))
        if key == "dist":
            unit = duration_unit(metadata)
            hours = f"a number of {unit.name}" if unit is not None else "a number of hours"
            return f'{hours}, a duration like "30m" (a constant), or a mapping with dist: one of {tags}'
        return f"a mapping with {key}: one of {tags}"
    if _is_model(annotation):
        return "a mapping with keys: " + ", ".join(annotation.model_fields)
    if typing.get_origin(annotation) is Literal:
        return "one of " + ", ".join(map(str, typing.get_args(annotation)))
    bounds = _range(metadata)
    args = typing.get_args(annotation)
    unit = duration_unit(metadata)
    if unit is not None:
        return unit.allowed + (f"; must be {bounds} {unit.name}" if bounds else "")
    base = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}.get(annotation)
    if base is None and typing.get_origin(annotation) is tuple:
        base = "a list" if args[-1:] == (Ellipsis,) else f"a list of exactly {len(args)} values"
    if base is None and typing.get_origin(annotation) is dict:
        base = "a mapping"
    if base is None:
        return place.field.description if place.field and place.field.description else "see the scenario schema"
    return f"{base} {bounds}".strip()


def show_value(value: Any) -> str:
    """A value as a problem message quotes it (YAML spellings; long text cut; containers named)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null (an empty value)"
    if isinstance(value, float) and not math.isfinite(value):
        return {math.inf: ".inf", -math.inf: "-.inf"}.get(value, ".nan")
    if isinstance(value, (int, float)):
        return _number(value)
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return f"a {type(value).__name__}"


def dotted_path(path: Iterable) -> str:
    """A field path as written in problems: ``ci.runners``, ``work.severity_shares.1``; ``<root>`` if empty."""
    return ".".join(str(part) for part in path) or ROOT


def _explain(error: Mapping[str, Any], place: _Place, model: type[BaseModel]) -> tuple[tuple, str]:
    """The field path and message for one pydantic error."""
    kind, ctx, value, path = error["type"], error.get("ctx") or {}, error.get("input"), place.path
    if kind == "extra_forbidden" and place.owner is not None:
        allowed = [*place.owner.model_fields, *(["extends"] if place.owner is model else [])]  # a file's top level
        close = difflib.get_close_matches(str(path[-1]), allowed, n=1)
        hint = f", did you mean {close[0]!r}?" if close else ""
        return path, f"unknown field {path[-1]!r}{hint} (allowed: {', '.join(allowed)})"
    if kind == "missing":
        if path and isinstance(path[-1], int):
            return path, f"item {path[-1]} is missing (allowed: {_expected(_place(error['loc'][:-1], model))})"
        return path, f"required field {path[-1]!r} is missing (allowed: {_expected(place)})"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        key = str(ctx.get("discriminator", "")).strip("'")
        expected = re.findall(r"'([^']*)'", str(ctx.get("expected_tags", "")))
        tags = ", ".join(expected or map(str, _tagged(place.annotation, place.field)))
        if kind == "union_tag_not_found":
            return (*path, key), f"{key!r} is missing (allowed: {_expected(place)})"
        tag = value.get(key) if isinstance(value, dict) else ctx.get("tag")
        return (*path, key), f"unknown {_NOUNS.get(key, key)} {show_value(tag)} (allowed: {tags})"
    if kind == "finite_number":  # NaN or an infinity, e.g. written as the text nan or inf
        return path, f"{show_value(value)} is not a finite number (allowed: {_expected(place)})"
    if kind == "literal_error":
        return path, f"{show_value(value)} is not allowed (allowed: {_expected(place)})"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        bounds = _range(place.metadata) or error["msg"].replace("Input should be ", "")
        unit = duration_unit(place.metadata)
        return path, f"{show_value(value)} is out of range (must be {bounds}{'' if unit is None else ' ' + unit.name})"
    if kind in ("too_short", "too_long", "string_too_short", "string_too_long"):
        words = "at least" if kind.endswith("short") else "at most"
        limit = ctx.get("min_length" if kind.endswith("short") else "max_length")
        unit = ("character" if kind.startswith("string") else "item") + ("" if limit == 1 else "s")
        what = f"{len(value)} {unit.rstrip('s')}s" if isinstance(value, (str, list, tuple)) else "the wrong length"
        return path, f"has {what} (allowed: {words} {limit} {unit})"
    if kind == "invalid_key":
        return path, f"key {show_value(value)} is not text (allowed: field names such as ci or runners)"
    if kind == "value_error":  # the schema's own validators state the rule
        return path, str(ctx.get("error", error["msg"]))
    return path, f"{show_value(value)} is not accepted here (allowed: {_expected(place)})"


def problem_from_error(
    error: Mapping[str, Any], locate: Callable[[tuple], tuple[str, int | None]], model: type[BaseModel]
) -> Problem:
    """One pydantic error as a Problem.

    Parameters
    ----------
    error : mapping
        One item of ``ValidationError.errors()``.
    locate : callable
        ``locate(path) -> (file, line)``: where the value at a field path was written.
    model : type of BaseModel
        The model that was validated (the scenario), whose annotations say what is allowed.
    """
    path, message = _explain(error, _place(tuple(error["loc"]), model), model)
    fields = getattr((error.get("ctx") or {}).get("error"), "fields", ())
    if error["type"] == "value_error" and fields:  # a rule about several fields: point at one of them
        below = [name if isinstance(name, tuple) else (name,) for name in fields]
        places = [((*path, *part), locate((*path, *part))) for part in below]
        path, (file, line) = next((place for place in places if place[1][0] == OVERRIDE), places[0])
        return Problem(file, line, dotted_path(path), message)
    file, line = locate(path)
    return Problem(file, line, dotted_path(path), message)

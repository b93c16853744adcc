"""Reading scenario files: safe YAML, ``extends``, overrides, and located problems.

A scenario file is parsed by PyYAML's safe parser (libyaml when installed) and composed
here, from the parse events, into a tree that remembers for every value the file and
line it was written on. ``extends:`` files are merged
underneath (mappings merge key by key, anything else in the child wins), overrides
from ``--set`` are laid on top, and the result is validated against
:class:`~trunksim.scenario.schema.Scenario`. Every pydantic error becomes one
:class:`Problem` that names the file, line, field path and what is allowed; all of
them are raised together in a :class:`ScenarioError`, and nothing half-valid is ever
returned.

Files are untrusted input. Tags (``!!python/object`` and the like) are refused, duplicate
keys are errors, and file size, nesting depth and alias expansion are bounded, so a
hostile file fails fast instead of hanging or exhausting memory.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import types
import typing
from dataclasses import dataclass, replace
from typing import Any, Iterable, Literal, Mapping

import annotated_types
import yaml
from pydantic import BaseModel, BeforeValidator, ValidationError
from pydantic.fields import FieldInfo

from trunksim.scenario.durations import ALLOWED as DURATION_ALLOWED
from trunksim.scenario.durations import parse_duration
from trunksim.scenario.schema import Scenario

MAX_FILE_BYTES = 5 * 1024 * 1024
"""Largest scenario file read, bytes."""
MAX_ALIAS_NODES = 100_000
"""Most values produced by expanding aliases (``*name``) in one document, values."""
MAX_DEPTH = 100
"""Deepest nesting of mappings and lists, levels."""
MAX_EXTENDS = 32
"""Longest chain of ``extends`` files, files."""
MAX_OVERRIDE_NODES = 1_000_000
"""Most values in the Python values given as overrides, values."""

OVERRIDE = "<override>"
"""The file name reported for problems in overrides (``--set``, ``with_overrides``)."""
ROOT = "<root>"
"""The field path reported for problems with a whole document."""

_EXAMPLE = "a mapping of sections, at least strategy: {name: trunk-based}"
_SCALAR_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "timestamp")}
_MAP_TAG, _SEQ_TAG, _MERGE_TAG = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:merge"
_NOUNS = {"name": "strategy", "dist": "distribution"}
_NO_TAGS = "allowed: plain values, lists and mappings; no tags"
_PATHS = "allowed: dotted paths to fields, such as ci.runners"
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
        return f"{self.file}:{'?' if self.line is None else self.line}: {self.field}: {self.message}"


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


class _Fatal(Exception):
    """Internal: problems after which nothing more can be checked."""

    def __init__(self, *problems: Problem) -> None:
        super().__init__()
        self.problems = list(problems)


@dataclass(slots=True)
class _Node:
    """A value with where it was written; mappings and lists hold _Nodes."""

    value: Any
    file: str
    line: int | None
    key_line: int | None = None

    def child(self, part: Any) -> "_Node | None":
        if isinstance(self.value, dict):
            return self.value.get(part)
        if isinstance(self.value, list):
            index = int(part) if isinstance(part, str) and part.isdigit() else part
            if isinstance(index, int) and 0 <= index < len(self.value):
                return self.value[index]
        return None

    @property
    def where(self) -> int | None:
        return self.key_line if self.key_line is not None else self.line


# --- YAML -----------------------------------------------------------------------------


_Parser = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's C parser when installed


class _Composer:
    """Builds a located _Node tree straight from YAML parse events.

    PyYAML's own composer recurses once per nesting level and shares aliased nodes, so
    a deep or alias-heavy document is only dangerous later; here depth is checked
    before descending and every value an alias expands to is counted.
    """

    def __init__(self, loader: Any, file: str) -> None:
        self.loader, self.file = loader, file
        self.anchors: dict[str, _Node | None] = {}  # None: the anchored node is still open
        self.expanded = 0
        self.problems: list[Problem] = []

    def fatal(self, event: yaml.Event, message: str, path: tuple = ()) -> _Fatal:
        return _Fatal(Problem(self.file, event.start_mark.line + 1, _dotted(path), message))

    def document(self) -> _Node | None:
        self.loader.get_event()  # stream start
        if self.loader.check_event(yaml.StreamEndEvent):
            return None
        self.loader.get_event()  # document start
        root = self.node((), 0)
        self.loader.get_event()  # document end
        if not self.loader.check_event(yaml.StreamEndEvent):
            raise self.fatal(self.loader.peek_event(), "a second document starts here (allowed: one document per file)")
        return root

    def node(self, path: tuple, depth: int) -> _Node:
        event = self.loader.get_event()
        if isinstance(event, yaml.AliasEvent):
            if self.anchors.get(event.anchor, event) is event:
                raise self.fatal(event, f"unknown alias *{event.anchor} (allowed: aliases of anchors defined above)", path)
            if self.anchors[event.anchor] is None:
                message = f"alias *{event.anchor} is inside its own anchor (allowed: aliases of finished anchors)"
                raise self.fatal(event, message, path)
            return self.copy(self.anchors[event.anchor], event, depth)
        if depth > MAX_DEPTH:
            raise self.fatal(event, f"nested more than {MAX_DEPTH} levels deep (allowed: at most {MAX_DEPTH})")
        if event.anchor is not None:
            self.anchors[event.anchor] = None
        line = event.start_mark.line + 1
        if isinstance(event, yaml.ScalarEvent):
            node = _Node(self.scalar(event, path), self.file, line)
        elif isinstance(event, yaml.SequenceStartEvent):
            self.check_tag(event, yaml.SequenceNode, _SEQ_TAG, path)
            items: list[_Node] = []
            while not self.loader.check_event(yaml.SequenceEndEvent):
                items.append(self.node((*path, len(items)), depth + 1))
            self.loader.get_event()
            node = _Node(items, self.file, line)
        else:
            self.check_tag(event, yaml.MappingNode, _MAP_TAG, path)
            node = _Node(self.mapping(path, depth), self.file, line)
        if event.anchor is not None:
            self.anchors[event.anchor] = node
        return node

    def tag(self, event: yaml.Event, kind: type) -> str:
        if event.tag not in (None, "!"):
            return event.tag
        return self.loader.resolve(kind, getattr(event, "value", None), event.implicit)

    def check_tag(self, event: yaml.Event, kind: type, allowed: str, path: tuple) -> None:
        if self.tag(event, kind) != allowed:
            raise self.fatal(event, f"tag {event.tag!r} is refused ({_NO_TAGS})", path)

    def scalar(self, event: yaml.ScalarEvent, path: tuple) -> Any:
        tag = self.tag(event, yaml.ScalarNode)
        if tag == _MERGE_TAG:  # "<<" anywhere but a key is just text
            return event.value
        if tag not in _SCALAR_TAGS:
            raise self.fatal(event, f"tag {event.tag!r} is refused ({_NO_TAGS})", path)
        node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
        try:
            return self.loader.yaml_constructors[tag](self.loader, node)
        except (ValueError, OverflowError, yaml.YAMLError) as exc:
            raise self.fatal(event, f"cannot read {event.value[:40]!r}: {exc} (allowed: a plain YAML value)", path) from None

    def mapping(self, path: tuple, depth: int) -> dict:
        entries: dict[Any, _Node] = {}
        merged: dict[Any, _Node] = {}
        while not self.loader.check_event(yaml.MappingEndEvent):
            key_event = self.loader.peek_event()
            merge = isinstance(key_event, yaml.ScalarEvent) and self.tag(key_event, yaml.ScalarNode) == _MERGE_TAG
            key = self.node(path, depth + 1).value
            if isinstance(key, (dict, list)):
                raise self.fatal(key_event, "a key must be a plain value (allowed: names such as runners)", path)
            value = self.node((*path, key), depth + 1)
            if merge:  # "<<: *base" merges anchored mappings under the explicit keys
                sources = value.value if isinstance(value.value, list) else [value]
                if not all(isinstance(source.value, dict) for source in sources):
                    message = "'<<' merges only mappings (allowed: an alias of a mapping, or a list of them)"
                    raise self.fatal(key_event, message, path)
                for source in sources:
                    for name, child in source.value.items():
                        merged.setdefault(name, child)
                continue
            value.key_line = key_event.start_mark.line + 1
            if key in entries:
                first = entries[key].key_line
                message = f"duplicate key {key!r}, first written on line {first} (allowed: each key once per mapping)"
                self.problems.append(Problem(self.file, value.key_line, _dotted((*path, key)), message))
            entries[key] = value
        self.loader.get_event()
        return {**merged, **entries}

    def copy(self, node: _Node, event: yaml.Event, depth: int) -> _Node:
        """A fresh copy of an anchored value, counted against MAX_ALIAS_NODES."""
        self.expanded += 1
        if self.expanded > MAX_ALIAS_NODES:
            message = f"aliases expand to more than {MAX_ALIAS_NODES} values (allowed: fewer, less nested aliases)"
            raise self.fatal(event, message)
        if depth > MAX_DEPTH:
            raise self.fatal(event, f"nested more than {MAX_DEPTH} levels deep (allowed: at most {MAX_DEPTH})")
        value = node.value
        if isinstance(value, dict):
            value = {key: self.copy(child, event, depth + 1) for key, child in value.items()}
        elif isinstance(value, list):
            value = [self.copy(child, event, depth + 1) for child in value]
        return _Node(value, node.file, node.line, node.key_line)


def _parse(text: str, file: str) -> tuple[_Node | None, list[Problem]]:
    """Parse one YAML document into a located tree (None if the document is empty)."""
    try:
        loader = _Parser(text)
        composer = _Composer(loader, file)
        return composer.document(), composer.problems
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = " ".join(part for part in (exc.context, exc.problem) if part)
        column = f" at column {mark.column + 1}" if mark else ""
        line = mark.line + 1 if mark else None
        raise _Fatal(Problem(file, line, ROOT, f"invalid YAML{column}: {what} (allowed: YAML 1.1)")) from None
    except yaml.reader.ReaderError as exc:
        raise _Fatal(_reader_problem(exc, text, file)) from None
    except yaml.YAMLError as exc:
        raise _Fatal(Problem(file, None, ROOT, f"invalid YAML: {exc} (allowed: YAML 1.1)")) from None


def _reader_problem(exc: yaml.reader.ReaderError, text: str, file: str) -> Problem:
    line = text.count("\n", 0, exc.position) + 1
    return Problem(file, line, ROOT, f"character {exc.character!r} is not allowed in YAML (allowed: printable text)")


def _read(file: str) -> tuple[_Node | None, list[Problem]]:
    try:
        with open(file, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise _Fatal(Problem(file, None, ROOT, "file not found (allowed: an existing scenario file)")) from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the name
        reason = getattr(exc, "strerror", None) or exc
        raise _Fatal(Problem(file, None, ROOT, f"cannot read the file: {reason} (allowed: a readable file)")) from None
    if len(data) > MAX_FILE_BYTES:
        megabytes = MAX_FILE_BYTES // 2**20
        raise _Fatal(Problem(file, None, ROOT, f"file is larger than {megabytes} MB (allowed: at most {megabytes} MB)"))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise _Fatal(Problem(file, line, ROOT, f"byte 0x{data[exc.start]:02x} is not UTF-8 (allowed: UTF-8 text)")) from None
    return _parse(text, file)


def _load_file(file: str, chain: tuple[tuple[str, str], ...], problems: list[Problem]) -> _Node:
    """Read ``file`` and the files it extends, merged; ``chain`` holds (name, real path) above it."""
    tree, found = _read(file)
    problems.extend(found)
    if tree is None:
        raise _Fatal(Problem(file, None, ROOT, f"file is empty (allowed: {_EXAMPLE})"))
    if not isinstance(tree.value, dict):
        message = f"the document is {_show(tree.value)}, not a mapping (allowed: {_EXAMPLE})"
        raise _Fatal(Problem(file, tree.line, ROOT, message))
    extends = tree.value.pop("extends", None)
    if extends is None:
        return tree
    if not isinstance(extends.value, str) or not extends.value.strip():
        message = f"{_show(extends.value)} is not a file name (allowed: a path relative to this file)"
        raise _Fatal(Problem(file, extends.where, "extends", message))
    parent = os.path.normpath(os.path.join(os.path.dirname(file), extends.value))
    chain = (*chain, (file, os.path.realpath(file)))
    real_paths = [real for _, real in chain]
    if os.path.realpath(parent) in real_paths:
        cycle = [name for name, _ in chain[real_paths.index(os.path.realpath(parent)) :]]
        message = f"extends cycle: {' -> '.join([*cycle, parent])} (allowed: a chain of files without repeats)"
        raise _Fatal(Problem(file, extends.where, "extends", message))
    if len(chain) >= MAX_EXTENDS:
        message = f"more than {MAX_EXTENDS} files extend each other (allowed: at most {MAX_EXTENDS})"
        raise _Fatal(Problem(file, extends.where, "extends", message))
    if not os.path.isfile(parent):
        message = f"file {extends.value!r} not found, looked for {parent} (allowed: a path relative to this file)"
        raise _Fatal(Problem(file, extends.where, "extends", message))
    return _merge(_load_file(parent, chain, problems), tree)


def _merge(parent: _Node, child: _Node) -> _Node:
    """Deep merge: mappings merge key by key; anything else in the child replaces the parent."""
    if not (isinstance(parent.value, dict) and isinstance(child.value, dict)):
        return child
    merged = dict(parent.value)
    for key, value in child.value.items():
        merged[key] = _merge(parent.value[key], value) if key in parent.value else value
    return _Node(merged, child.file, child.line, child.key_line)


def _from_plain(value: Any, file: str, depth: int = 0, budget: list[int] | None = None) -> _Node:
    """A located tree for a Python value (an override); bounded like a YAML document."""
    budget = [MAX_OVERRIDE_NODES] if budget is None else budget
    budget[0] -= 1
    if budget[0] < 0 or depth > MAX_DEPTH:
        message = f"value is too large or nested more than {MAX_DEPTH} levels (allowed: a scenario-sized value)"
        raise _Fatal(Problem(file, None, ROOT, message))
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if isinstance(value, Mapping):
        return _Node({k: _from_plain(v, file, depth + 1, budget) for k, v in value.items()}, file, None)
    if isinstance(value, (list, tuple)):
        return _Node([_from_plain(v, file, depth + 1, budget) for v in value], file, None)
    return _Node(value, file, None)


def _plain(node: _Node, path: tuple = (), refused: list[Problem] | None = None) -> Any:
    """The plain value of a tree; NaN and infinities are reported into ``refused``."""
    value = node.value
    if isinstance(value, dict):
        return {key: _plain(child, (*path, key), refused) for key, child in value.items()}
    if isinstance(value, list):
        return [_plain(child, (*path, i), refused) for i, child in enumerate(value)]
    if refused is not None and isinstance(value, float) and not math.isfinite(value):
        message = f"{_show(value)} is not a finite number (allowed: finite numbers)"
        refused.append(Problem(node.file, node.where, _dotted(path), message))
    return value


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
            problem = _problem(error, root)
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

    Returns
    -------
    dict
        JSON-serialisable JSON Schema of :class:`~trunksim.scenario.schema.Scenario`.
    """
    return Scenario.model_json_schema()


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


def _place(loc: tuple) -> _Place:
    annotation: Any = Scenario
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


def _is_duration(metadata: Iterable) -> bool:
    return any(isinstance(item, BeforeValidator) and item.func is parse_duration for item in metadata)


def _expected(place: _Place) -> str:
    """What may be written at ``place``, in words."""
    annotation, metadata = place.annotation, place.metadata
    members = _tagged(annotation, place.field)
    if members:
        key, tags = place.field.discriminator, ", ".join(map(str, members))
        if key == "dist":
            return f'a number of hours, a duration like "30m" (a constant), or a mapping with dist: one of {tags}'
        return f"a mapping with {key}: one of {tags}"
    if _is_model(annotation):
        return "a mapping with keys: " + ", ".join(annotation.model_fields)
    if typing.get_origin(annotation) is Literal:
        return "one of " + ", ".join(map(str, typing.get_args(annotation)))
    bounds = _range(metadata)
    args = typing.get_args(annotation)
    if _is_duration(metadata):
        return DURATION_ALLOWED + (f"; must be {bounds} hours" if bounds else "")
    base = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}.get(annotation)
    if base is None and typing.get_origin(annotation) is tuple:
        base = "a list" if args[-1:] == (Ellipsis,) else f"a list of exactly {len(args)} values"
    if base is None and typing.get_origin(annotation) is dict:
        base = "a mapping"
    if base is None:
        return place.field.description if place.field and place.field.description else "see the scenario schema"
    return f"{base} {bounds}".strip()


def _show(value: Any) -> str:
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


def _dotted(path: Iterable) -> str:
    return ".".join(str(part) for part in path) or ROOT


def _explain(error: Mapping[str, Any], place: _Place) -> tuple[tuple, str]:
    """The field path and message for one pydantic error."""
    kind, ctx, value, path = error["type"], error.get("ctx") or {}, error.get("input"), place.path
    if kind == "extra_forbidden" and place.owner is not None:
        allowed = [*place.owner.model_fields, *(["extends"] if place.owner is Scenario else [])]
        close = difflib.get_close_matches(str(path[-1]), allowed, n=1)
        hint = f", did you mean {close[0]!r}?" if close else ""
        return path, f"unknown field {path[-1]!r}{hint} (allowed: {', '.join(allowed)})"
    if kind == "missing":
        if path and isinstance(path[-1], int):
            return path, f"item {path[-1]} is missing (allowed: {_expected(_place(error['loc'][:-1]))})"
        return path, f"required field {path[-1]!r} is missing (allowed: {_expected(place)})"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        key = str(ctx.get("discriminator", "")).strip("'")
        expected = re.findall(r"'([^']*)'", str(ctx.get("expected_tags", "")))
        tags = ", ".join(expected or map(str, _tagged(place.annotation, place.field)))
        if kind == "union_tag_not_found":
            return (*path, key), f"{key!r} is missing (allowed: {_expected(place)})"
        tag = value.get(key) if isinstance(value, dict) else ctx.get("tag")
        return (*path, key), f"unknown {_NOUNS.get(key, key)} {_show(tag)} (allowed: {tags})"
    if kind == "literal_error":
        return path, f"{_show(value)} is not allowed (allowed: {_expected(place)})"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        bounds = _range(place.metadata) or error["msg"].replace("Input should be ", "")
        unit = " hours" if _is_duration(place.metadata) else ""
        return path, f"{_show(value)} is out of range (must be {bounds}{unit})"
    if kind in ("too_short", "too_long", "string_too_short", "string_too_long"):
        words = "at least" if kind.endswith("short") else "at most"
        limit = ctx.get("min_length" if kind.endswith("short") else "max_length")
        unit = ("character" if kind.startswith("string") else "item") + ("" if limit == 1 else "s")
        what = f"{len(value)} {unit.rstrip('s')}s" if isinstance(value, (str, list, tuple)) else "the wrong length"
        return path, f"has {what} (allowed: {words} {limit} {unit})"
    if kind == "invalid_key":
        return path, f"key {_show(value)} is not text (allowed: field names such as ci or runners)"
    if kind == "value_error":  # the schema's own validators state the rule
        return path, str(ctx.get("error", error["msg"]))
    return path, f"{_show(value)} is not accepted here (allowed: {_expected(place)})"


def _problem(error: Mapping[str, Any], root: _Node) -> Problem:
    path, message = _explain(error, _place(tuple(error["loc"])))
    node = root
    for part in path:
        child = node.child(part)
        if child is None:  # not written (a missing field): point at the enclosing mapping
            break
        node = child
    return Problem(node.file, node.where, _dotted(path), message)

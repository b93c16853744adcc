"""Located YAML trees: scenario files read safely into values that remember their line.

A scenario file is parsed by PyYAML's safe parser (libyaml when installed) and composed
here, from the parse events, into a tree of :class:`Node` that remembers for every
value the file and line it was written on. ``extends:`` files are merged underneath
(mappings merge key by key, anything else in the child wins), and Python values given
as overrides become trees of the same kind, so every later problem can be located.

Files are untrusted input. Tags (``!!python/object`` and the like) are refused, duplicate
keys are errors, and file size, nesting depth and alias expansion are bounded, so a
hostile file fails fast instead of hanging or exhausting memory. Only regular files and
pipes are read: a folder or a device (``/dev/zero``) is named as such, and a pipe is read
without ever blocking for longer than :data:`PIPE_SECONDS` (a named pipe nothing writes
to is reported at once, not waited on).

Numbers are read as people write them, not as YAML 1.1's corners would have it: a whole
number is decimal, so ``010``, ``0x10``, ``0b10`` and base-60 ``1:30`` (YAML 1.1's octal 8,
hexadecimal 16, binary 2 and 90) are refused with the decimal spelling to use (quote
them to mean text); and scientific notation is a number with or without a sign or a dot
in the exponent (``1e3`` is 1000.0 and ``1e-1`` is 0.1, where YAML 1.1 reads both as text),
in files and in ``--set`` alike. A whole-number field takes a number whose value is whole
(``1e3`` runners are 1000 runners; ``2.5`` is refused).
"""

from __future__ import annotations

import bisect
import math
import os
import re
import select
import stat
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Mapping

import yaml
from pydantic import BaseModel

from trunksim.scenario.problems import ROOT, FatalProblems, Problem, dotted_path, show_value

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
PIPE_SECONDS = 30.0
"""Longest wait for a pipe (``<(...)``, a named pipe) to deliver the rest of a scenario, seconds."""

_EXAMPLE = "a mapping of sections, at least strategy: {name: trunk-based}"
_SCALAR_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "timestamp")}
_MAP_TAG, _SEQ_TAG, _MERGE_TAG = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:merge"
_NO_TAGS = "allowed: plain values, lists and mappings; no tags"
_INT_TAG, _FLOAT_TAG, _STR_TAG = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:str"
_DECIMAL = re.compile(r"[-+]?(?:0|[1-9][0-9_]*)")
_SCIENTIFIC = re.compile(r"[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)[eE][-+]?[0-9]+")


@dataclass(slots=True)
class Node:
    """A value with where it was written; mappings and lists hold Nodes."""

    value: Any
    file: str
    line: int | None
    key_line: int | None = None

    def child(self, part: Any) -> "Node | None":
        """The value under a key (mapping) or an index, also written as text (list); None if absent."""
        if isinstance(self.value, dict):
            return self.value.get(part)
        if isinstance(self.value, list):
            index = int(part) if isinstance(part, str) and part.isdigit() else part
            if isinstance(index, int) and 0 <= index < len(self.value):
                return self.value[index]
        return None

    @property
    def where(self) -> int | None:
        """The line to report for this value: its key's line when it has one."""
        return self.key_line if self.key_line is not None else self.line

    def locate(self, path: tuple) -> tuple[str, int | None]:
        """File and line of ``path`` below this node; a part not written gives its enclosing value's."""
        node = self
        for part in path:
            child = node.child(part)
            if child is None:  # not written (a missing field): point at the enclosing mapping
                break
            node = child
        return node.file, node.where


# --- YAML -----------------------------------------------------------------------------


_Parser = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's C parser when installed

_EXOTIC_BREAKS = ("\x85", "\u2028", "\u2029")
_NEWLINE = re.compile(r"\r\n|\r|\n")


class _Lines:
    """Line numbers as editors count them (``\\n``, ``\\r\\n``, ``\\r``), for a parser mark.

    YAML 1.1 also breaks lines at U+0085, U+2028 and U+2029, which editors show inside a
    line; a file holding one would otherwise be reported a line or more too far down.
    Marks past the end (the end of a file without a final newline) name the last line.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.count = len(_NEWLINE.findall(text)) + 1
        self.exotic = any(char in text for char in _EXOTIC_BREAKS)
        self._starts: list[int] | None = None

    def at(self, index: int) -> int:
        """The 1-based line holding character ``index``."""
        if self._starts is None:
            self._starts = [0] + [match.end() for match in _NEWLINE.finditer(self.text)]
        return min(bisect.bisect_right(self._starts, index), self.count)

    def of(self, mark: Any) -> int:
        """The 1-based line of a parser mark."""
        return self.at(mark.index) if self.exotic else min(mark.line + 1, self.count)


class _Composer:
    """Builds a located Node tree straight from YAML parse events.

    PyYAML's own composer recurses once per nesting level and shares aliased nodes, so
    a deep or alias-heavy document is only dangerous later; here depth is checked
    before descending and every value an alias expands to is counted.
    """

    def __init__(self, loader: Any, file: str, lines: "_Lines") -> None:
        self.loader, self.file, self.lines = loader, file, lines
        self.anchors: dict[str, Node | None] = {}  # None: the anchored node is still open
        self.sizes: dict[str, int] = {}  # values in each anchored node, aliases expanded
        self.nodes = 0  # values composed so far
        self.expanded = 0
        self.problems: list[Problem] = []

    def fatal(self, event: yaml.Event, message: str, path: tuple = ()) -> FatalProblems:
        return FatalProblems(Problem(self.file, self.lines.of(event.start_mark), dotted_path(path), message))

    def document(self) -> Node | None:
        self.loader.get_event()  # stream start
        if self.loader.check_event(yaml.StreamEndEvent):
            return None
        self.loader.get_event()  # document start
        root = self.node((), 0)
        self.loader.get_event()  # document end
        if not self.loader.check_event(yaml.StreamEndEvent):
            raise self.fatal(self.loader.peek_event(), "a second document starts here (allowed: one document per file)")
        return root

    def node(self, path: tuple, depth: int) -> Node:
        event = self.loader.get_event()
        if isinstance(event, yaml.AliasEvent):
            if self.anchors.get(event.anchor, event) is event:
                raise self.fatal(event, f"unknown alias *{event.anchor} (allowed: aliases of anchors defined above)", path)
            if self.anchors[event.anchor] is None:
                message = f"alias *{event.anchor} is inside its own anchor (allowed: aliases of finished anchors)"
                raise self.fatal(event, message, path)
            # Counted before copying, so a billion laughs fails at its first oversized alias.
            self.expanded += self.sizes[event.anchor]
            if self.expanded > MAX_ALIAS_NODES:
                message = f"aliases expand to more than {MAX_ALIAS_NODES} values (allowed: fewer, less nested aliases)"
                raise self.fatal(event, message, path)
            return self.copy(self.anchors[event.anchor], event, depth)
        if depth > MAX_DEPTH:
            raise self.fatal(event, f"nested more than {MAX_DEPTH} levels deep (allowed: at most {MAX_DEPTH})")
        if event.anchor is not None:
            self.anchors[event.anchor] = None
        first = self.nodes
        line = self.lines.of(event.start_mark)
        if isinstance(event, yaml.ScalarEvent):
            node = Node(self.scalar(event, path), self.file, line)
        elif isinstance(event, yaml.SequenceStartEvent):
            self.check_tag(event, yaml.SequenceNode, _SEQ_TAG, path)
            items: list[Node] = []
            while not self.loader.check_event(yaml.SequenceEndEvent):
                items.append(self.node((*path, len(items)), depth + 1))
            self.loader.get_event()
            node = Node(items, self.file, line)
        else:
            self.check_tag(event, yaml.MappingNode, _MAP_TAG, path)
            node = Node(self.mapping(path, depth), self.file, line)
        self.nodes += 1
        if event.anchor is not None:
            self.anchors[event.anchor] = node
            self.sizes[event.anchor] = self.nodes - first
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
        if event.tag in (None, "!") and event.implicit[0]:  # a plain scalar: numbers are decimal
            if tag == _STR_TAG and _SCIENTIFIC.fullmatch(event.value):
                tag = _FLOAT_TAG
            elif (tag == _INT_TAG and not _DECIMAL.fullmatch(event.value)) or (tag == _FLOAT_TAG and ":" in event.value):
                message = _not_decimal(event.value, tag, self.loader, event)
                self.problems.append(Problem(self.file, self.lines.of(event.start_mark), dotted_path(path), message))
                return event.value
        if tag not in _SCALAR_TAGS:
            raise self.fatal(event, f"tag {event.tag!r} is refused ({_NO_TAGS})", path)
        node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
        try:
            return self.loader.yaml_constructors[tag](self.loader, node)
        except Exception as exc:  # PyYAML's constructors raise KeyError (!!bool x), AttributeError (!!timestamp x), ...
            written = tag.replace("tag:yaml.org,2002:", "!!")
            message = f"cannot read {event.value[:40]!r} as {written} (allowed: a plain YAML value)"
            raise self.fatal(event, message, path) from None

    def mapping(self, path: tuple, depth: int) -> dict:
        entries: dict[Any, Node] = {}
        merged: dict[Any, Node] = {}
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
            value.key_line = self.lines.of(key_event.start_mark)
            if key in entries:
                first = entries[key].key_line
                message = f"duplicate key {key!r}, first written on line {first} (allowed: each key once per mapping)"
                self.problems.append(Problem(self.file, value.key_line, dotted_path((*path, key)), message))
            entries[key] = value
        self.loader.get_event()
        return {**merged, **entries}

    def copy(self, node: Node, event: yaml.Event, depth: int) -> Node:
        """A fresh copy of an anchored value (already counted against MAX_ALIAS_NODES)."""
        self.nodes += 1
        if depth > MAX_DEPTH:
            raise self.fatal(event, f"nested more than {MAX_DEPTH} levels deep (allowed: at most {MAX_DEPTH})")
        value = node.value
        if isinstance(value, dict):
            value = {key: self.copy(child, event, depth + 1) for key, child in value.items()}
        elif isinstance(value, list):
            value = [self.copy(child, event, depth + 1) for child in value]
        return Node(value, node.file, node.line, node.key_line)


def _not_decimal(text: str, tag: str, loader: Any, event: yaml.ScalarEvent) -> str:
    """Why a plain number in octal, hexadecimal, binary or base 60 is refused, and the decimal spelling to use."""
    try:
        read = loader.yaml_constructors[tag](loader, yaml.ScalarNode(tag, text, event.start_mark, event.end_mark))
    except Exception:  # pragma: no cover - every YAML 1.1 number reads
        read = None
    digits = text.replace("_", "").lstrip("+-").lower()
    if ":" in text:
        kind = "base-60"
    elif digits.startswith("0x"):
        kind = "hexadecimal"
    elif digits.startswith("0b"):
        kind = "binary"
    else:
        sign = "-" if text.startswith("-") else ""
        return (
            f"{text!r} has a leading zero, which YAML 1.1 reads as the octal number {read} "
            f"(allowed: decimal whole numbers without leading zeros, such as {sign}{digits.lstrip('0') or '0'}; "
            f"quote it to mean text: '{text}')"
        )
    duration = "; a duration is written like 1.5h or 90m" if kind == "base-60" else ""
    return (
        f"{text!r} is read by YAML 1.1 as the {kind} number {read} "
        f"(allowed: decimal numbers, such as {read}{duration}; quote it to mean text: '{text}')"
    )


def parse_yaml(text: str, file: str) -> tuple[Node | None, list[Problem]]:
    """Parse one YAML document into a located tree (None if the document is empty)."""
    lines = _Lines(text)
    try:
        loader = _Parser(text)
        composer = _Composer(loader, file, lines)
        return composer.document(), composer.problems
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = " ".join(part for part in (exc.context, exc.problem) if part)
        column = f" at column {mark.column + 1}" if mark else ""
        line = lines.of(mark) if mark else None
        raise FatalProblems(Problem(file, line, ROOT, f"invalid YAML{column}: {what} (allowed: YAML 1.1)")) from None
    except yaml.reader.ReaderError as exc:
        raise FatalProblems(_reader_problem(exc, text, file)) from None
    except yaml.YAMLError as exc:
        raise FatalProblems(Problem(file, None, ROOT, f"invalid YAML: {exc} (allowed: YAML 1.1)")) from None


def _reader_problem(exc: yaml.reader.ReaderError, text: str, file: str) -> Problem:
    line = _Lines(text).at(exc.position)
    code = exc.character if isinstance(exc.character, int) else ord(exc.character)  # libyaml gives the code
    return Problem(file, line, ROOT, f"character U+{code:04X} is not allowed in YAML (allowed: printable text)")


_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)
_PIPES: "OrderedDict[tuple[str, int, int], bytes]" = OrderedDict()
"""What each pipe delivered, by (name, device, inode): a pipe can be read once, and
``trunksim validate <(...)`` reads its file twice (once to validate, once to size it)."""


def file_kind(path: str) -> str | None:
    """What ``path`` is when it is not something a scenario can be read from (None: a file or a pipe).

    Raises
    ------
    OSError, ValueError
        As :func:`os.stat` (``FileNotFoundError`` when nothing is there).
    """
    mode = os.stat(path).st_mode
    return next((kind for test, kind in _KINDS if test(mode)), None)


def is_pipe(path: str) -> bool:
    """Whether ``path`` is a pipe (``<(...)``, ``/dev/stdin`` from a pipe, or a named pipe made with mkfifo)."""
    try:
        return stat.S_ISFIFO(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def _read_pipe(file: str, handle: int, key: tuple[str, int, int]) -> bytes:
    """All a pipe delivers until its writers close it, waiting at most PIPE_SECONDS for more."""
    if key in _PIPES:
        return _PIPES[key]
    chunks: list[bytes] = []
    size = 0
    deadline = time.monotonic() + PIPE_SECONDS
    while True:
        try:
            chunk = os.read(handle, 1 << 16)
        except BlockingIOError:  # a writer is there, nothing written yet
            left = deadline - time.monotonic()
            if left <= 0:
                message = f"nothing more came through this pipe in {PIPE_SECONDS:g} s (allowed: a scenario file, or a pipe that delivers one)"
                raise FatalProblems(Problem(file, None, ROOT, message)) from None
            select.select([handle], [], [], min(left, 1.0))
            continue
        if not chunk:  # every writer closed it (or there never was one)
            break
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_FILE_BYTES:
            break
    data = b"".join(chunks)
    if not data:
        message = "is a pipe that nothing wrote to (allowed: a scenario file, or a pipe a process writes a scenario into)"
        raise FatalProblems(Problem(file, None, ROOT, message))
    _PIPES[key] = data
    while len(_PIPES) > 8:
        _PIPES.popitem(last=False)
    return data


def _read_bytes(file: str) -> bytes:
    try:
        kind = file_kind(file)
        if kind is not None:
            message = f"is {kind}, not a scenario file (allowed: a scenario file, or a pipe such as <(...))"
            raise FatalProblems(Problem(file, None, ROOT, message))
        # Never blocks: a named pipe without a writer opens at once and reads as ended.
        handle = os.open(file, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise FatalProblems(Problem(file, None, ROOT, "file not found (allowed: an existing scenario file)")) from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the name
        reason = getattr(exc, "strerror", None) or exc
        raise FatalProblems(Problem(file, None, ROOT, f"cannot read the file: {reason} (allowed: a readable file)")) from None
    try:
        info = os.fstat(handle)
        if stat.S_ISFIFO(info.st_mode):
            return _read_pipe(file, handle, (file, info.st_dev, info.st_ino))
        if hasattr(os, "set_blocking"):
            os.set_blocking(handle, True)
        with os.fdopen(handle, "rb", closefd=False) as stream:
            return stream.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise FatalProblems(Problem(file, None, ROOT, f"cannot read the file: {reason} (allowed: a readable file)")) from None
    finally:
        os.close(handle)


def _read(file: str) -> tuple[Node | None, list[Problem]]:
    data = _read_bytes(file)
    if len(data) > MAX_FILE_BYTES:
        megabytes = MAX_FILE_BYTES // 2**20
        raise FatalProblems(Problem(file, None, ROOT, f"file is larger than {megabytes} MB (allowed: at most {megabytes} MB)"))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise FatalProblems(Problem(file, line, ROOT, f"byte 0x{data[exc.start]:02x} is not UTF-8 (allowed: UTF-8 text)")) from None
    return parse_yaml(text, file)


def load_tree(file: str, chain: tuple[tuple[str, str], ...], problems: list[Problem]) -> Node:
    """Read ``file`` and the files it extends, merged, as one located tree.

    ``chain`` holds (name, real path) of the files above this one (``()`` for the file a
    user named); problems that do not stop the reading (duplicate keys) are appended to
    ``problems``, and :class:`~trunksim.scenario.problems.FatalProblems` is raised for
    those that do.
    """
    tree, found = _read(file)
    problems.extend(found)
    if tree is None:
        raise FatalProblems(Problem(file, None, ROOT, f"file is empty (allowed: {_EXAMPLE})"))
    if not isinstance(tree.value, dict):
        message = f"the document is {show_value(tree.value)}, not a mapping (allowed: {_EXAMPLE})"
        raise FatalProblems(Problem(file, tree.line, ROOT, message))
    extends = tree.value.pop("extends", None)
    if extends is None:
        return tree
    if not isinstance(extends.value, str) or not extends.value.strip():
        message = f"{show_value(extends.value)} is not a file name (allowed: a path relative to this file)"
        raise FatalProblems(Problem(file, extends.where, "extends", message))
    # A file read from a pipe (<(...)) has no folder: its extends is relative to the current folder.
    piped = is_pipe(file)
    folder = "" if piped else os.path.dirname(file)
    relative = "relative to the current folder, as this file came through a pipe" if piped else "relative to this file"
    parent = os.path.normpath(os.path.join(folder, extends.value))
    chain = (*chain, (file, os.path.realpath(file)))
    real_paths = [real for _, real in chain]
    if os.path.realpath(parent) in real_paths:
        cycle = [name for name, _ in chain[real_paths.index(os.path.realpath(parent)) :]]
        message = f"extends cycle: {' -> '.join([*cycle, parent])} (allowed: a chain of files without repeats)"
        raise FatalProblems(Problem(file, extends.where, "extends", message))
    if len(chain) >= MAX_EXTENDS:
        message = f"more than {MAX_EXTENDS} files extend each other (allowed: at most {MAX_EXTENDS})"
        raise FatalProblems(Problem(file, extends.where, "extends", message))
    try:
        kind = file_kind(parent)
    except (FileNotFoundError, NotADirectoryError):
        message = f"file {extends.value!r} not found, looked for {parent} (allowed: a path {relative})"
        raise FatalProblems(Problem(file, extends.where, "extends", message)) from None
    except (OSError, ValueError):  # unreadable: reported in the parent, by reading it
        kind = None
    if kind is not None:
        message = f"{extends.value!r} is {kind} ({parent}), not a scenario file (allowed: a path to a scenario file, {relative})"
        raise FatalProblems(Problem(file, extends.where, "extends", message))
    return _merge(load_tree(parent, chain, problems), tree)


def _merge(parent: Node, child: Node) -> Node:
    """Deep merge: mappings merge key by key; anything else in the child replaces the parent."""
    if not (isinstance(parent.value, dict) and isinstance(child.value, dict)):
        return child
    merged = dict(parent.value)
    for key, value in child.value.items():
        merged[key] = _merge(parent.value[key], value) if key in parent.value else value
    return Node(merged, child.file, child.line, child.key_line)


def tree_from_plain(value: Any, file: str, depth: int = 0, budget: list[int] | None = None) -> Node:
    """A located tree for a Python value (an override); bounded like a YAML document."""
    budget = [MAX_OVERRIDE_NODES] if budget is None else budget
    budget[0] -= 1
    if budget[0] < 0 or depth > MAX_DEPTH:
        message = f"value is too large or nested more than {MAX_DEPTH} levels (allowed: a scenario-sized value)"
        raise FatalProblems(Problem(file, None, ROOT, message))
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if isinstance(value, Mapping):
        return Node({k: tree_from_plain(v, file, depth + 1, budget) for k, v in value.items()}, file, None)
    if isinstance(value, (list, tuple)):
        return Node([tree_from_plain(v, file, depth + 1, budget) for v in value], file, None)
    return Node(value, file, None)


def plain_value(node: Node, path: tuple = (), refused: list[Problem] | None = None) -> Any:
    """The plain value of a tree; NaN and infinities are reported into ``refused``.

    The schema refuses them too, but not where it takes any value (``sweep``), and this
    way a ``.nan`` is reported at its line even when the field it is in is unknown.
    """
    value = node.value
    if isinstance(value, dict):
        return {key: plain_value(child, (*path, key), refused) for key, child in value.items()}
    if isinstance(value, list):
        return [plain_value(child, (*path, i), refused) for i, child in enumerate(value)]
    if refused is not None and isinstance(value, float) and not math.isfinite(value):
        message = f"{show_value(value)} is not a finite number (allowed: finite numbers)"
        refused.append(Problem(node.file, node.where, dotted_path(path), message))
    return value

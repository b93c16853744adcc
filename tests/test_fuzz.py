"""Fuzzed loading: generated hostile scenario files each end in located problems, never a traceback.

Every generated input goes to ``load_scenario`` or to the CLI's ``validate`` and must end
either in a valid scenario or in a :class:`ScenarioError` whose problems each print as
one line, ``FILE:LINE: field.path: message``, naming a file the input consists of. Any
other exception, a problem spread over several lines, or an exit status other than 0/1
fails the test, and hypothesis shrinks the input to a minimal reproduction.

How many inputs each test tries is its ``EXAMPLES`` entry (hypothesis ``max_examples``);
a counter checks that they really ran and is recorded as the ``fuzz_inputs`` property of
the test (``--junitxml`` shows it). The total per run is :data:`TOTAL` (1,310).
"""

from __future__ import annotations

import math
import os
import re
import shutil
import string
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from trunksim.cli import app
from trunksim.scenario import Problem, Scenario, ScenarioError, load_scenario, parse_assignment
from trunksim.scenario.loading import OVERRIDE, ROOT
from trunksim.scenario.size import check_size

from conftest import ROOT as PROJECT, SCENARIOS

EXAMPLES = {
    "mutated_documents": 350,
    "mutated_files": 250,
    "cli_validate": 150,
    "bytes": 120,
    "alias_bombs": 60,
    "tags": 100,
    "nesting_and_length": 60,
    "duplicate_keys": 80,
    "assignments": 140,
}
"""Generated inputs per test, inputs."""
SCALE = float(os.environ.get("TRUNKSIM_FUZZ_SCALE", "1"))
"""Multiplies every count above: ``TRUNKSIM_FUZZ_SCALE=20`` for a longer hunt than CI's."""
EXAMPLES = {name: max(1, round(count * SCALE)) for name, count in EXAMPLES.items()}
TOTAL = sum(EXAMPLES.values())

SHIPPED = sorted(p for p in SCENARIOS.rglob("*.yaml") if not p.name.startswith("_"))
runner = CliRunner()


def fuzz(name: str, **extra: Any):
    """Hypothesis settings for the fuzz test ``name``: its example count, no deadline."""
    return settings(
        max_examples=EXAMPLES[name], deadline=None, suppress_health_check=list(HealthCheck), **extra
    )


class Tried:
    """Counts the inputs a test really ran, checks the count, and records it on the test."""

    def __init__(self, name: str, record_property) -> None:
        self.name, self.count, self.record = name, 0, record_property

    def __call__(self) -> None:
        self.count += 1

    def check(self) -> None:
        self.record("fuzz_inputs", self.count)
        assert self.count >= EXAMPLES[self.name], f"only {self.count} of {EXAMPLES[self.name]} inputs ran"


# --- What every outcome must look like ----------------------------------------------------


def lines_in(file: str) -> int:
    """Lines as an editor counts them: ``\\n``, ``\\r\\n`` and ``\\r`` end a line."""
    with open(file, "rb") as handle:
        return len(re.findall(rb"\r\n|\r|\n", handle.read())) + 1


def assert_located(problems: list[Problem], files: set[str]) -> None:
    """Each problem is one line naming one of ``files`` (or an override), a line in it, a field and a message."""
    assert problems, "a ScenarioError without problems"
    for problem in problems:
        text = str(problem)
        assert len(text.splitlines()) == 1 and "\n" not in text and "\r" not in text, repr(text)
        assert problem.file in files | {OVERRIDE}, (problem.file, files)
        assert problem.field and problem.message.strip(), repr(text)
        assert text.startswith(f"{problem.file}:{'?' if problem.line is None else problem.line}: "), repr(text)
        if problem.file != OVERRIDE:
            assert problem.line is not None or problem.field == ROOT, f"unlocated: {text!r}"
            assert problem.line is None or 1 <= problem.line <= lines_in(problem.file), text


def outcome(path: Path, files: set[str] | None = None, **kwargs: Any) -> Scenario | None:
    """Load ``path``: the scenario if valid; None after checking that every problem is located."""
    try:
        return load_scenario(path, **kwargs)
    except ScenarioError as error:
        assert_located(error.problems, files or {str(path)})
        return None


# --- Inputs ---------------------------------------------------------------------------------


def base_documents() -> list[dict]:
    """Every shipped scenario, merged and complete, as plain data (the valid starting points)."""
    return [load_scenario(path).model_dump(mode="json") for path in SHIPPED]


BASES = base_documents()

NUMBERS = st.sampled_from(
    [0, -1, -0.0, 1e-300, -1e-9, 1.0000001, 1.5, 2, 101, 1e9, 1e308, -1e308, 2**63, 2**64, 10**30, 10**400, -(10**400)]
)
NON_FINITE = st.sampled_from([math.nan, math.inf, -math.inf])
WEIRD_TEXT = st.sampled_from(
    ["", " ", "-1h", "0s", "0h", "1e400h", "1e-400h", "nan", "infh", "1 hour", "5x", "P1D", "1_000h", "0x10h", "-.inf",
     "trunk-based ", "Trunk-Based", "gitflow\n", "é", "\x00", "\u2028", "a\nb", "%", "*", "&x", "!!str", "yes", "~"]
)
KEYS = st.one_of(
    st.text(string.ascii_letters + "_", min_size=1, max_size=12),
    st.text(min_size=1, max_size=8),  # any unicode, control characters included
    st.sampled_from(["<<", "extends", "name", "runnerz", "dist", "0", "true", "null", "ci.runners", "a: b", "a\nb"]),
    st.integers(-3, 3),
    st.booleans(),
)
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), NUMBERS, NON_FINITE, st.floats(), WEIRD_TEXT, st.text(max_size=40)
)
VALUES = st.recursive(
    SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)), max_leaves=12
)


def nested(depth: int, kind: str) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value] if kind == "list" else {"x": value}
    return value


def paths_of(tree: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value in a plain tree: mapping keys and list indexes."""
    found = [prefix]
    if isinstance(tree, dict):
        for key, value in tree.items():
            found += paths_of(value, (*prefix, key))
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            found += paths_of(value, (*prefix, index))
    return found


def get(tree: Any, path: tuple) -> Any:
    for part in path:
        tree = tree[part]
    return tree


@st.composite
def mutation(draw, tree: Any):
    """Apply one hostile change to ``tree`` in place (the root may be replaced: returned)."""
    path = draw(st.sampled_from(paths_of(tree)))
    current = get(tree, path)
    kind = draw(
        st.sampled_from(["replace", "delete", "unknown", "negate", "outside", "non_finite", "enormous", "deep", "long", "type"])
    )
    if kind == "delete" and path:
        parent = get(tree, path[:-1])
        del parent[path[-1]]
        return tree
    if kind == "unknown" and isinstance(current, dict):
        current[draw(KEYS)] = draw(SCALARS)
        return tree
    if kind == "negate" and isinstance(current, (int, float)) and not isinstance(current, bool):
        value: Any = draw(st.sampled_from([-abs(current), 0, -1, -1e-12]))
    elif kind == "outside":
        value = draw(st.sampled_from([-0.01, 1.01, 1.5, 100, -1e9]))
    elif kind == "non_finite":
        value = draw(NON_FINITE)
    elif kind == "enormous":
        value = draw(st.sampled_from([10**20, 10**400, -(10**400), 1e308, 2**63, 2**64, 1e-320]))
    elif kind == "deep":
        value = nested(draw(st.integers(20, 130)), draw(st.sampled_from(["list", "dict"])))
    elif kind == "long":
        size = draw(st.integers(1_000, 60_000))
        value = draw(st.sampled_from(["x" * size, list(range(size)), {f"k{i}": i for i in range(size // 20)}]))
    elif kind == "type":
        value = draw(st.sampled_from([[], {}, "text", True, None, 12, [1, 2, 3], {"dist": "lognormal"}]))
    else:
        value = draw(VALUES)
    if not path:
        return value
    get(tree, path[:-1])[path[-1]] = value
    return tree


@st.composite
def mutated_document(draw) -> Any:
    import copy

    tree = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(1, 3))):
        tree = draw(mutation(tree))
        if not isinstance(tree, (dict, list)):
            break
    return tree


def dump(tree: Any) -> str:
    return yaml.safe_dump(tree, sort_keys=False, allow_unicode=True, width=10**9)  # one line per scalar


@pytest.fixture(scope="module")
def shipped_copy(tmp_path_factory) -> Path:
    """A copy of ``scenarios/`` so mutated files can ``extends`` their real parents."""
    folder = tmp_path_factory.mktemp("fuzz") / "scenarios"
    shutil.copytree(SCENARIOS, folder)
    return folder


# --- The loader --------------------------------------------------------------------------------


def test_mutated_scenarios_load_or_fail_with_located_problems(tmp_path_factory, record_property):
    """Valid scenarios with wrong types, missing and unknown fields, bad numbers, deep and long values."""
    path = tmp_path_factory.mktemp("mutated") / "scenario.yaml"
    tried = Tried("mutated_documents", record_property)

    @fuzz("mutated_documents")
    @given(document=mutated_document())
    def check(document):
        tried()
        path.write_text(dump(document), encoding="utf-8")
        outcome(path)

    check()
    tried.check()


HOSTILE_TOKENS = [
    "-1", "0", "-0.5", ".nan", ".inf", "-.inf", "1e999", "10000000000000000000000000000000000", "0x1F", "0o17", "1_000",
    "2001-12-14", "2001-02-30", "~", "yes", "[", "{", "]", "'", '"open', "*undefined", "&anchor", "&a [*a]", "|", ">",
    "@", "`", "%TAG", "!!binary aGVsbG8=", "!!set {a, b}", "!!omap [a: 1]", "!!python/name:os.system",
    "!!python/object/apply:os.system ['true']", "!custom 3", "!!float abc", "!!int 1.5", "!!timestamp nope", "? complex",
    "- listed", "a: b: c", "{dist: normal, mean: 1h}", "{dist: lognormal, median: 2h, p90: 1h}", "[0.5, 0.5]", "[]", "{}",
    "\t1", "1h # comment", "'1h'", "null", "1e-400", "3 hours", "-1h", "0s",
]


@st.composite
def mutated_text(draw, folder: Path) -> tuple[str, bytes]:
    """A shipped scenario file with its text damaged; returns (its folder, the damaged bytes)."""
    source = draw(st.sampled_from(sorted(folder.rglob("*.yaml"))))
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 3))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        line = lines[i]
        indent = line[: len(line) - len(line.lstrip(" "))]
        kind = draw(st.sampled_from(["value", "delete", "duplicate", "unknown", "indent", "tab", "truncate", "control"]))
        if kind == "value" and ":" in line:
            lines[i] = line.split(":", 1)[0] + ": " + draw(st.sampled_from(HOSTILE_TOKENS)) + "\n"
        elif kind == "delete":
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, line)
        elif kind == "unknown":
            lines.insert(i, f"{indent}{draw(st.sampled_from(['runnerz', 'x', 'strategy', 'extends', '<<', 'dist']))}: 1\n")
        elif kind == "indent":
            lines[i] = " " * draw(st.integers(0, 6)) + line.lstrip(" ")
        elif kind == "tab":
            lines[i] = "\t" + line
        elif kind == "truncate":
            lines[i] = line[: draw(st.integers(0, len(line)))]
            del lines[i + 1 :]
        else:
            char = draw(st.sampled_from(["\x00", "\x07", "\x1b", "\ufeff", "\x85", "\u2028", "\ud800", "\x7f"]))
            cut = draw(st.integers(0, len(line)))
            lines[i] = line[:cut] + char + line[cut:]
    data = "".join(lines).encode("utf-8", errors="surrogatepass")
    if draw(st.booleans()) and data:
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=4)) + data[at:]
    return str(source.parent), data


def test_damaged_shipped_files_fail_with_problems_located_in_them_or_their_parents(shipped_copy, record_property):
    """Deleted, duplicated, re-indented and truncated lines, hostile values, control and invalid bytes."""
    tried = Tried("mutated_files", record_property)
    files = {os.path.normpath(str(p)) for p in shipped_copy.rglob("*.yaml")}

    @fuzz("mutated_files")
    @given(damaged=mutated_text(shipped_copy))
    def check(damaged):
        tried()
        folder, data = damaged
        path = Path(folder) / "fuzzed.yaml"
        path.write_bytes(data)
        try:
            outcome(path, files | {str(path)})
        finally:
            path.unlink()

    check()
    tried.check()


def test_random_bytes_fail_with_a_located_problem(tmp_path_factory, record_property):
    """Binary, non-UTF-8, other encodings, byte-order marks and empty files."""
    path = tmp_path_factory.mktemp("bytes") / "scenario.yaml"
    valid = (SCENARIOS / "trunk-based.yaml").read_text(encoding="utf-8").replace("extends: _base.yaml", "")
    inputs = st.one_of(
        st.binary(max_size=3000),
        st.text(alphabet=" \t\r\n#", max_size=40).map(str.encode),
        st.sampled_from(["utf-16", "utf-32", "latin-1", "cp1252", "utf-8-sig"]).map(lambda c: (valid + "name: café\n").encode(c)),
        st.tuples(st.binary(min_size=1, max_size=8), st.integers(0, len(valid))).map(
            lambda t: valid.encode()[: t[1]] + t[0] + valid.encode()[t[1] :]
        ),
    )
    tried = Tried("bytes", record_property)

    @fuzz("bytes")
    @given(data=inputs)
    def check(data):
        tried()
        path.write_bytes(data)
        outcome(path)

    check()
    tried.check()


@st.composite
def alias_bomb(draw) -> str:
    """A "billion laughs" document: each anchor aliases the previous one ``width`` times."""
    width, depth = draw(st.integers(2, 16)), draw(st.integers(2, 14))
    flow = draw(st.booleans())
    lines = [f"a0: &a0 [{', '.join(['lol'] * width)}]"]
    for level in range(1, depth):
        items = [f"*a{level - 1}"] * width
        lines.append(f"a{level}: &a{level} [{', '.join(items)}]" if flow else f"a{level}: &a{level}\n" + "".join(f"  - {i}\n" for i in items).rstrip("\n"))
    if draw(st.booleans()):  # merge keys multiply mappings too
        lines.append(f"m: &m {{k: *a{depth - 1}}}\nn:\n  <<: [*m, *m]")
    prefix = draw(st.sampled_from(["", "strategy: {name: trunk-based}\n", "strategy:\n  name: gitflow\nsweep:\n  grid:\n"]))
    return prefix + "\n".join(lines) + "\n"


def test_alias_bombs_fail_fast(tmp_path_factory, record_property):
    path = tmp_path_factory.mktemp("bombs") / "bomb.yaml"
    tried = Tried("alias_bombs", record_property)

    @fuzz("alias_bombs")
    @given(text=alias_bomb())
    def check(text):
        tried()
        path.write_text(text, encoding="utf-8")
        started = time.process_time()  # CPU time, not wall time on a busy machine
        assert outcome(path) is None
        assert time.process_time() - started < 5.0

    check()
    tried.check()


TAGS = [
    "!!python/object/apply:os.system", "!!python/object/new:os.system", "!!python/object:os.system", "!!python/name:os.system",
    "!!python/module:os", "!!python/tuple", "!!python/bytes", "!!python/str", "!!python/unicode", "!!python/list",
    "!!python/dict", "!<tag:yaml.org,2002:python/object/apply:subprocess.call>", "!!binary", "!!set", "!!omap", "!!pairs",
    "!custom", "!", "!!int", "!!float", "!!str", "!!bool", "!!null", "!!timestamp", "!!map", "!!seq", "!!merge",
]


def test_tags_are_refused_or_read_as_plain_values_and_never_run_code(tmp_path_factory, record_property):
    folder = tmp_path_factory.mktemp("tags")
    path, marker = folder / "tagged.yaml", folder / "pwned"
    tried = Tried("tags", record_property)
    base = dump(BASES[0]).splitlines()

    @fuzz("tags")
    @given(tag=st.sampled_from(TAGS), line=st.integers(0, len(base) - 1), form=st.integers(0, 3))
    def check(tag, line, form):
        tried()
        argument = [f"'touch {marker}'", f"[touch, {marker}]", f"{{args: [touch, {marker}]}}", "3"][form]
        lines = list(base)
        key, colon, _ = lines[line].partition(":")
        lines[line] = f"{key}: {tag} {argument}" if colon else f"{tag} {argument}"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        outcome(path)
        assert not marker.exists()

    check()
    tried.check()


@st.composite
def nested_or_long(draw) -> str:
    kind = draw(st.sampled_from(["flow", "block", "mapping", "keys", "string", "list"]))
    size = draw(st.integers(1, 400 if kind in ("flow", "block", "mapping") else 20_000))
    head = "strategy: {name: trunk-based}\n"
    if kind == "flow":
        return head + "sweep: {grid: {x: " + "[" * size + "]" * size + "}}\n"
    if kind == "block":
        return head + "description:\n" + "".join("  " * i + "-\n" for i in range(1, size)) + "  " * size + "- 1\n"
    if kind == "mapping":
        return head + "ci: " + "{a: " * size + "1" + "}" * size + "\n"
    if kind == "keys":
        return head + "".join(f"unknown_{i}: {i}\n" for i in range(size))
    if kind == "string":
        return head + "description: " + "x" * (size * 50) + "\n"
    return head + "work:\n  severity_shares: [" + ", ".join(["0.1"] * size) + "]\n"


def test_deep_and_long_documents_fail_with_located_problems(tmp_path_factory, record_property):
    path = tmp_path_factory.mktemp("long") / "long.yaml"
    tried = Tried("nesting_and_length", record_property)

    @fuzz("nesting_and_length")
    @given(text=nested_or_long())
    def check(text):
        tried()
        path.write_text(text, encoding="utf-8")
        outcome(path)

    check()
    tried.check()


@st.composite
def duplicated(draw) -> tuple[str, str]:
    """A valid scenario in block style with one key written twice; returns (text, the key's dotted path)."""
    document = draw(st.sampled_from(BASES))
    text = dump(document).splitlines(keepends=True)
    keyed = [i for i, line in enumerate(text) if ":" in line and not line.lstrip().startswith("-")]
    i = draw(st.sampled_from(keyed))
    key = text[i].split(":")[0]
    value = draw(st.integers().map(str) | st.sampled_from(["~", "[]", "{}", "x", "true", "1h"]))
    text.insert(i, f"{key}: {value}\n")  # just above, same indentation: the same mapping
    return "".join(text), key.strip()


def test_duplicate_keys_are_reported_at_their_second_occurrence(tmp_path_factory, record_property):
    path = tmp_path_factory.mktemp("duplicates") / "dup.yaml"
    tried = Tried("duplicate_keys", record_property)

    @fuzz("duplicate_keys")
    @given(case=duplicated())
    def check(case):
        tried()
        text, key = case
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ScenarioError) as caught:
            load_scenario(path)
        assert_located(caught.value.problems, {str(path)})
        assert any(f"duplicate key {key!r}" in p.message for p in caught.value.problems)

    check()
    tried.check()


def test_assignments_and_overrides_fail_with_override_problems(tmp_path_factory, record_property):
    """``--set FIELD=VALUE`` text as the CLI reads it, laid over a valid file."""
    path = tmp_path_factory.mktemp("overrides") / "s.yaml"
    path.write_text("strategy: {name: trunk-based}\n", encoding="utf-8")
    fields = sorted({".".join(map(str, p)) for base in BASES for p in paths_of(base) if p})
    tried = Tried("assignments", record_property)
    texts = st.one_of(
        st.text(max_size=40),
        st.tuples(st.sampled_from(fields) | st.text(max_size=12), st.sampled_from(HOSTILE_TOKENS) | st.text(max_size=20)).map(
            lambda t: f"{t[0]}={t[1]}"
        ),
    )

    @fuzz("assignments")
    @given(assignments=st.lists(texts, min_size=1, max_size=3))
    def check(assignments):
        tried()
        try:
            overrides = dict(parse_assignment(text) for text in assignments)
        except ScenarioError as error:
            assert_located(error.problems, set())
            return
        outcome(path, overrides=overrides)

    check()
    tried.check()


# --- The CLI -------------------------------------------------------------------------------


def test_cli_validate_exits_one_with_one_located_line_per_problem(tmp_path_factory, record_property):
    path = tmp_path_factory.mktemp("cli") / "scenario.yaml"
    tried = Tried("cli_validate", record_property)

    @fuzz("cli_validate")
    @given(document=mutated_document())
    def check(document):
        tried()
        path.write_text(dump(document), encoding="utf-8")
        result = runner.invoke(app, ["validate", str(path)])
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
        assert "Traceback" not in result.output
        try:
            check_size(load_scenario(path), file=path)  # validate refuses runaway scenarios too
        except ScenarioError as error:
            assert result.exit_code == 1
            assert result.stdout.splitlines() == [str(problem) for problem in error.problems]
        else:
            assert result.exit_code == 0, result.output

    check()
    tried.check()


HOSTILE_FILES = {
    "bomb.yaml": "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    + "".join(f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcdefgh", "bcdefghi")),
    "tag.yaml": "strategy: {name: trunk-based}\nname: !!python/object/apply:os.system ['touch {marker}']\n",
    "cycle-a.yaml": "extends: cycle-b.yaml\nstrategy: {name: trunk-based}\n",
    "cycle-b.yaml": "extends: cycle-a.yaml\n",
    "empty.yaml": "",
    "binary.yaml": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe",
    "duplicate.yaml": "strategy: {name: trunk-based}\nci:\n  runners: 2\n  runners: 3\n",
    "nan.yaml": "strategy: {name: trunk-based}\nci: {flaky_failure_probability: .nan}\n",
    "huge.yaml": "strategy: {name: trunk-based}\nteam: {focus_block: " + "9" * 400 + "}\n",
}


@pytest.fixture
def hostile_files(tmp_path) -> dict[str, Path]:
    paths = {}
    for name, content in HOSTILE_FILES.items():
        path = paths[name] = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content.replace("{marker}", str(tmp_path / "pwned")), encoding="utf-8")
    return paths


def test_the_real_command_validates_hostile_files_with_one_line_each_and_exit_one(hostile_files, tmp_path):
    files = [str(hostile_files[name]) for name in HOSTILE_FILES if name != "cycle-b.yaml"]
    done = subprocess.run(
        [sys.executable, "-m", "trunksim", "validate", *files], capture_output=True, text=True, timeout=120, cwd=PROJECT
    )

    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    lines = done.stdout.splitlines()
    # One line per file, in order; the cycle is reported where it closes, in the file a extends.
    assert [line.split(":", 1)[0] for line in lines] == [f.replace("cycle-a", "cycle-b") for f in files]
    assert "aliases expand to more than" in lines[0] and "refused" in lines[1] and "extends cycle" in lines[2]
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("name", ["bomb.yaml", "tag.yaml", "cycle-a.yaml", "huge.yaml"])
def test_the_real_run_command_refuses_a_hostile_file_before_running(hostile_files, tmp_path, name):
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "trunksim", "run", str(hostile_files[name]), "-o", str(out), "-q"],
        capture_output=True, text=True, timeout=120, cwd=PROJECT,
    )

    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert done.stderr.startswith(str(hostile_files[name.replace("cycle-a", "cycle-b")]) + ":")
    assert not out.exists()

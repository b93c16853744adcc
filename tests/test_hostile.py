"""Hostile input, by hand: every case here once crashed, hung or misled, or is a trap worth pinning.

``tests/test_scenario_loading.py`` covers the classic hostile files (alias bombs, Python
tags, extends cycles, duplicate keys, non-UTF-8, empty and oversized files). This file
pins what fuzzing found since (see ``docs/reliability.md``) and the traps around it:
huge integers, control characters in keys, tags PyYAML cannot construct, errors at the
end of a file, hostile Python values handed to ``with_overrides`` from a notebook, long
``extends`` chains, and sweeps too big to expand.
"""

from __future__ import annotations

import datetime
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from trunksim.cli import app
from trunksim.scenario import Problem, Scenario, ScenarioError, load_scenario
from trunksim.scenario.schema import MAX_SWEEP_POINTS
from trunksim.scenario.yamltree import MAX_ALIAS_NODES, MAX_EXTENDS

MINIMAL = "strategy: {name: trunk-based}\n"
BASE = Scenario.model_validate({"strategy": {"name": "trunk-based"}})
runner = CliRunner()


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def only_problem(path: Path) -> Problem:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    (problem,) = caught.value.problems
    return problem


def override_problem(overrides: dict) -> Problem:
    with pytest.raises(ScenarioError) as caught:
        BASE.with_overrides(overrides)
    (problem,) = caught.value.problems
    return problem


# --- Found by fuzzing ---------------------------------------------------------------------


def test_an_integer_with_hundreds_of_digits_as_a_duration_is_a_problem_not_an_overflow(tmp_path):
    """Was: OverflowError from float() inside the duration parser, a traceback from validate."""
    path = write(tmp_path, "s.yaml", MINIMAL + "team: {focus_block: " + "9" * 400 + "}\n")

    problem = only_problem(path)

    assert (problem.line, problem.field) == (2, "team.focus_block")
    assert problem.message.startswith("duration is too large")


def test_an_integer_with_thousands_of_digits_is_described_not_printed():
    """Was: ValueError from str() of a >4300-digit int while writing the message."""
    problem = override_problem({"ci.runners": 10**5000})

    assert problem.message == "a 5001-digit number is out of range (must be >= 1 and <= 100000)"


def test_a_key_with_a_line_break_prints_as_one_line(tmp_path):
    """Was: a problem spread over two lines, breaking FILE:LINE: field: message."""
    path = write(tmp_path, "s.yaml", MINIMAL + '"ci\\nrunners": 1\n"\\u2028": 2\n')

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    printed = str(caught.value).split("\n")
    assert printed == [f"{path}:2: ci\\nrunners: {caught.value.problems[0].message}", f"{path}:3: \\u2028: {caught.value.problems[1].message}"]
    assert caught.value.problems[0].field == "ci\nrunners"  # the raw key stays available


@pytest.mark.parametrize(("tag", "shown"), [("!!bool", "!!bool"), ("!!timestamp", "!!timestamp"), ("!!int", "!!int"), ("!!float", "!!float")])
def test_a_standard_tag_that_cannot_read_its_value_is_a_located_problem(tmp_path, tag, shown):
    """Was: KeyError (!!bool) and AttributeError (!!timestamp) from PyYAML's constructors."""
    path = write(tmp_path, "s.yaml", MINIMAL + f"name: {tag} nope\n")

    problem = only_problem(path)

    assert (problem.line, problem.field) == (2, "name")
    assert problem.message == f"cannot read 'nope' as {shown} (allowed: a plain YAML value)"


def test_an_error_at_the_end_of_a_file_without_a_final_newline_names_its_last_line(tmp_path):
    """Was: line N+1 of an N-line file (the parser's end-of-stream mark)."""
    path = tmp_path / "s.yaml"
    path.write_bytes(b"strategy: {name: trunk-based}\nteam:\n  developers: 8\n  f")

    problem = only_problem(path)

    assert problem.line == 4 and "invalid YAML" in problem.message


@pytest.mark.parametrize("separator", ["\x85", "\u2028", "\u2029"])
def test_yaml_only_line_breaks_do_not_shift_line_numbers(tmp_path, separator):
    """Was: YAML 1.1 breaks lines at NEL, LS and PS, editors do not, so problems were reported too far down."""
    path = tmp_path / "s.yaml"
    path.write_text(f"strategy: {{name: trunk-based}}\n{separator}ci: {{runnerz: 1}}\nteam: {{developers: 0}}\n", encoding="utf-8")

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    assert [(p.line, p.field) for p in caught.value.problems] == [(2, "ci.runnerz"), (3, "team.developers")]


def test_old_mac_line_endings_count_as_lines(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_bytes(b"strategy: {name: trunk-based}\rci: {runnerz: 1}\r\nteam: {developers: 0}")

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    assert [p.line for p in caught.value.problems] == [2, 3]


def test_a_control_character_is_named_by_its_code_point(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_bytes(b'strategy: {name: trunk-based}\nname: "a\x07"\n')

    problem = only_problem(path)

    assert (problem.line, problem.message) == (2, "character U+0007 is not allowed in YAML (allowed: printable text)")


def test_an_alias_bomb_is_refused_at_its_first_oversized_alias_without_expanding_it(tmp_path):
    """Aliases are counted by the size of what they stand for before any copy is made."""
    path = write(tmp_path, "bomb.yaml", "a: &a [" + ", ".join(["x"] * 1000) + "]\nb: &b [" + ", ".join(["*a"] * 1000) + "]\n")

    started = time.process_time()  # CPU time: a busy machine (tests in parallel) does not count against it
    problem = only_problem(path)

    assert time.process_time() - started < 1.0
    assert (problem.line, problem.field) == (2, "b.99")  # 100 copies of 1,001 values pass MAX_ALIAS_NODES
    assert f"aliases expand to more than {MAX_ALIAS_NODES}" in problem.message


# --- Python values from a notebook ------------------------------------------------------------


def test_a_list_that_contains_itself_is_refused_not_recursed_forever():
    cycle: list = []
    cycle.append(cycle)

    problem = override_problem({"description": cycle})

    assert "nested more than 100 levels" in problem.message


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"ci.flaky_failure_probability": np.float64("nan")}, "ci.flaky_failure_probability", ".nan is not a finite number"),
        ({"review.reference_lines": np.float64("inf")}, "review.reference_lines", ".inf is not a finite number"),
        ({"ci.revert_time": datetime.timedelta(minutes=5)}, "ci.revert_time", "expected a duration, got timedelta"),
        ({"name": object()}, "name", "a object is not accepted here"),
        ({3: 1}, "3", "malformed field path"),
        ({"ci.runners.count": 1}, "ci.runners.count", "not a section"),
    ],
)
def test_odd_python_values_in_overrides_are_problems(overrides, field, message):
    problem = override_problem(overrides)

    assert (problem.file, problem.field) == ("<override>", field)
    assert message in problem.message


def test_numpy_numbers_in_overrides_are_read_as_numbers():
    changed = BASE.with_overrides({"ci.runners": np.int64(6), "review.enabled": np.bool_(False)})

    assert (changed.ci.runners, changed.review.enabled) == (6, False)


# --- extends ----------------------------------------------------------------------------------


def test_an_extends_chain_longer_than_the_bound_is_refused(tmp_path):
    for i in range(MAX_EXTENDS + 2):
        write(tmp_path, f"s{i}.yaml", f"extends: s{i + 1}.yaml\n")
    write(tmp_path, f"s{MAX_EXTENDS + 2}.yaml", MINIMAL)

    problem = only_problem(tmp_path / "s0.yaml")

    assert problem.field == "extends" and f"more than {MAX_EXTENDS} files extend each other" in problem.message


@pytest.mark.parametrize(
    ("parent", "expected"),
    [("- a list\n", "not a mapping"), ("", "file is empty"), ("strategy: [\n", "invalid YAML")],
)
def test_a_broken_parent_is_reported_in_the_parent(tmp_path, parent, expected):
    write(tmp_path, "parent.yaml", parent)
    child = write(tmp_path, "child.yaml", "extends: parent.yaml\n" + MINIMAL)

    problem = only_problem(child)

    assert problem.file == str(tmp_path / "parent.yaml") and expected in problem.message


@pytest.mark.parametrize("value", ["[a.yaml]", "{file: a.yaml}", "''", "3"])
def test_extends_that_is_not_a_file_name_is_refused(tmp_path, value):
    problem = only_problem(write(tmp_path, "s.yaml", f"extends: {value}\n" + MINIMAL))

    assert (problem.line, problem.field) == (1, "extends") and "is not a file name" in problem.message


def test_extends_naming_a_directory_or_a_device_says_what_it_is(tmp_path):
    (tmp_path / "folder").mkdir()
    for target, kind in (("folder", "is a folder"), ("/dev/zero", "is a character device")):
        problem = only_problem(write(tmp_path, "s.yaml", f"extends: {target}\n" + MINIMAL))
        assert problem.field == "extends" and kind in problem.message and "not a scenario file" in problem.message


def test_a_device_that_never_ends_is_refused_without_reading_it():
    problem = only_problem(Path("/dev/zero"))

    assert "is a character device, not a scenario file" in problem.message


# --- Sweeps --------------------------------------------------------------------------------------


def test_a_sweep_too_big_to_expand_is_refused_at_its_line(tmp_path):
    values = "[" + ", ".join(map(str, range(1, 101))) + "]"
    path = write(tmp_path, "s.yaml", MINIMAL + f"sweep:\n  grid:\n    ci.runners: {values}\n    team.developers: {values}\n    ci.automatic_retries: [0, 1]\n")

    problem = only_problem(path)

    assert (problem.line, problem.field) == (2, "sweep")
    assert f"the sweep has 20,000 points (allowed: at most {MAX_SWEEP_POINTS:,}" in problem.message


def test_a_sweep_at_the_bound_is_accepted():
    grid = {"ci.runners": list(range(1, 101)), "team.developers": list(range(1, 101))}

    assert len(BASE.with_overrides({"sweep": {"grid": grid}}).sweep.grid) == 2


# --- The CLI ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "assignment",
    ["x=!!python/object/apply:os.system ['touch {marker}']", "ci.runners=" + "9" * 5000, "ci.runners=[1, 2", "=3", "ci..runners=1"],
)
def test_a_hostile_set_on_the_command_line_is_one_line_and_exit_one_before_running(tmp_path, assignment):
    out, marker = tmp_path / "out", tmp_path / "pwned"
    scenario = write(tmp_path, "s.yaml", MINIMAL)

    result = runner.invoke(app, ["run", str(scenario), "-q", "-o", str(out), "--set", assignment.replace("{marker}", str(marker))])

    assert result.exit_code == 1
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("<override>:?: ")
    assert not out.exists() and not marker.exists()


def test_validate_given_a_directory_and_a_missing_file_reports_each_on_one_line(tmp_path):
    result = runner.invoke(app, ["validate", str(tmp_path), str(tmp_path / "absent.yaml")])

    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{tmp_path}:?: <root>: is a folder, not a scenario file (allowed: a scenario file, or a pipe such as <(...))",
        f"{tmp_path / 'absent.yaml'}:?: <root>: file not found (allowed: an existing scenario file)",
    ]

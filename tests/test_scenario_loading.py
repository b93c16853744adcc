"""Loading scenario files: located problems, ``extends``, overrides and hostile input."""

from __future__ import annotations

import json
import pickle
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trunksim.scenario import (
    Problem,
    Scenario,
    ScenarioError,
    apply_overrides,
    json_schema,
    load_scenario,
    parse_assignment,
    validate_paths,
)
from trunksim.scenario.distributions import ClockConstant, WorkingConstant, WorkingLogNormal
from trunksim.scenario.yamltree import MAX_DEPTH, MAX_FILE_BYTES
from trunksim.strategies.registry import REGISTRY

MINIMAL = "strategy: {name: trunk-based}\n"


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems_of(path: Path, **kwargs) -> list[Problem]:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, **kwargs)
    return caught.value.problems


def only_problem(path: Path, **kwargs) -> Problem:
    problems = problems_of(path, **kwargs)
    assert len(problems) == 1, problems
    return problems[0]


# --- Valid files ----------------------------------------------------------------------


def test_a_strategy_name_alone_is_a_valid_scenario(tmp_path):
    scenario = load_scenario(write(tmp_path, "s.yaml", MINIMAL))

    assert scenario.strategy.name == "trunk-based"
    assert scenario == Scenario.model_validate({"strategy": {"name": "trunk-based"}})


def test_load_scenario_accepts_a_path_object_and_a_string(tmp_path):
    path = write(tmp_path, "s.yaml", MINIMAL)

    assert load_scenario(path) == load_scenario(str(path))


def test_a_plain_number_or_duration_string_means_a_constant_distribution(tmp_path):
    path = write(
        tmp_path,
        "s.yaml",
        """\
        strategy: {name: trunk-based}
        review: {duration: 45m}
        ci: {duration: 0.5}
        """,
    )

    scenario = load_scenario(path)

    assert scenario.review.duration == WorkingConstant(dist="constant", value=0.75)
    assert scenario.ci.duration == ClockConstant(dist="constant", value=0.5)


def test_a_mapping_with_only_a_value_means_a_constant_distribution(tmp_path):
    path = write(tmp_path, "s.yaml", MINIMAL + "review: {duration: {value: 1h}}\n")

    assert load_scenario(path).review.duration == WorkingConstant(dist="constant", value=1.0)


def test_a_lognormal_is_written_by_median_and_p90(tmp_path):
    path = write(tmp_path, "s.yaml", MINIMAL + "review: {duration: {dist: lognormal, median: 30m, p90: 2h}}\n")

    assert load_scenario(path).review.duration == WorkingLogNormal(dist="lognormal", median=0.5, p90=2.0)


def test_yaml_merge_keys_pull_in_an_anchored_mapping(tmp_path):
    path = write(
        tmp_path,
        "s.yaml",
        """\
        strategy: {name: trunk-based}
        review: &shared
          enabled: false
        ci:
          <<: {runners: 3, post_merge: false}
          runners: 5
        """,
    )

    scenario = load_scenario(path)

    assert (scenario.ci.runners, scenario.ci.post_merge, scenario.review.enabled) == (5, False, False)


# --- Problems: where and what ---------------------------------------------------------


def test_problem_prints_file_line_field_and_message():
    assert str(Problem("a.yaml", 3, "ci.runners", "bad (allowed: 1)")) == "a.yaml:3: ci.runners: bad (allowed: 1)"
    assert str(Problem("a.yaml", None, "<root>", "empty")) == "a.yaml:?: <root>: empty"


def test_scenario_error_is_a_value_error_whose_text_is_one_problem_per_line():
    problems = [Problem("a.yaml", 1, "x", "one"), Problem("a.yaml", 2, "y", "two")]
    error = ScenarioError(problems)

    assert isinstance(error, ValueError)
    assert str(error) == "a.yaml:1: x: one\na.yaml:2: y: two"
    assert error.problems == problems


def test_scenario_error_survives_pickling_for_process_executors():
    error = ScenarioError([Problem("a.yaml", 1, "x", "one")])

    assert pickle.loads(pickle.dumps(error)).problems == error.problems


def test_unknown_key_reports_its_line_field_path_and_the_allowed_keys(tmp_path):
    path = write(
        tmp_path,
        "s.yaml",
        """\
        strategy: {name: trunk-based}
        ci:
          runners: 2
          runnerz: 3
        """,
    )

    problem = only_problem(path)

    assert (problem.file, problem.line, problem.field) == (str(path), 4, "ci.runnerz")
    assert "unknown field 'runnerz'" in problem.message
    assert "did you mean 'runners'" in problem.message
    assert "(allowed: runners, duration, " in problem.message


def test_unknown_top_level_key_lists_the_sections_and_extends(tmp_path):
    problem = only_problem(write(tmp_path, "s.yaml", MINIMAL + "simulaton: {}\n"))

    assert problem.field == "simulaton"
    assert "simulation" in problem.message and "extends" in problem.message


def test_out_of_range_probability_states_the_allowed_range(tmp_path):
    path = write(tmp_path, "s.yaml", MINIMAL + "review:\n  detection_probability: 1.5\n")

    problem = only_problem(path)

    assert (problem.line, problem.field) == (3, "review.detection_probability")
    assert "1.5" in problem.message and "must be >= 0 and <= 1" in problem.message


def test_list_items_are_numbered_in_the_field_path(tmp_path):
    path = write(tmp_path, "s.yaml", MINIMAL + "work:\n  severity_shares:\n    - 0.5\n    - 1.5\n    - 0.1\n")

    problem = only_problem(path)

    assert (problem.line, problem.field) == (5, "work.severity_shares.1")


def test_bad_duration_string_says_how_durations_are_written(tmp_path):
    path = write(tmp_path, "s.yaml", MINIMAL + "team:\n  focus_block: 3 hours\n")

    problem = only_problem(path)

    assert (problem.line, problem.field) == (3, "team.focus_block")
    assert "'3 hours' is not a duration" in problem.message and '"45m"' in problem.message


@pytest.mark.parametrize(
    "section",
    ["team:\n  focus_block: -1h\n", "team:\n  focus_block: -1\n", "review:\n  duration: -1h\n"],
    ids=["string", "number", "distribution"],
)
def test_a_negative_duration_says_it_must_not_be_negative(tmp_path, section):
    path = write(tmp_path, "s.yaml", MINIMAL + section)

    problem = only_problem(path)

    assert problem.line == 3
    assert "must not be negative" in problem.message and "not a duration" not in problem.message


def test_missing_strategy_points_at_the_enclosing_mapping(tmp_path):
    path = write(tmp_path, "s.yaml", "# a team without a strategy\nci:\n  runners: 3\n")

    problem = only_problem(path)

    assert (problem.line, problem.field) == (2, "strategy")
    assert "required field 'strategy' is missing" in problem.message
    assert all(name in problem.message for name in REGISTRY)


def test_bad_strategy_name_lists_the_registered_strategies(tmp_path):
    path = write(tmp_path, "s.yaml", "name: demo\nstrategy:\n  name: trunk-base\n")

    problem = only_problem(path)

    assert (problem.line, problem.field) == (3, "strategy.name")
    assert "unknown strategy 'trunk-base'" in problem.message
    assert f"(allowed: {', '.join(REGISTRY)})" in problem.message
    assert "tag" not in problem.message  # no discriminated-union jargon


def test_union_tags_are_dropped_from_field_paths(tmp_path):
    path = write(
        tmp_path,
        "s.yaml",
        """\
        strategy:
          name: trunk-based
          max_change_lines: -1
        review:
          duration: {dist: lognormal, median: 1h, p90: -2h}
        """,
    )

    fields = {problem.field: problem for problem in problems_of(path)}

    assert set(fields) == {"strategy.max_change_lines", "review.duration.p90"}
    assert fields["strategy.max_change_lines"].line == 3
    assert "must be > 0 and <= 100000" in fields["strategy.max_change_lines"].message


def test_parameter_of_another_strategy_lists_this_strategys_parameters(tmp_path):
    path = write(tmp_path, "s.yaml", "strategy: {name: github-flow, max_change_lines: 50}\n")

    problem = only_problem(path)

    assert problem.field == "strategy.max_change_lines"
    assert "(allowed: name, pull_requests_per_feature)" in problem.message


def test_unknown_distribution_lists_the_distributions(tmp_path):
    path = write(tmp_path, "s.yaml", MINIMAL + "ci:\n  duration: {dist: normal, mean: 1h}\n")

    problem = only_problem(path)

    assert (problem.line, problem.field) == (3, "ci.duration.dist")
    assert "unknown distribution 'normal'" in problem.message and "lognormal, uniform" in problem.message


def test_lognormal_p90_below_median_is_an_error(tmp_path):
    path = write(tmp_path, "s.yaml", MINIMAL + "review:\n  duration: {dist: lognormal, median: 2h, p90: 1h}\n")

    problem = only_problem(path)

    assert (problem.line, problem.field) == (3, "review.duration.p90")
    assert "p90 must be at least the median" in problem.message


def test_literal_values_are_listed(tmp_path):
    problem = only_problem(write(tmp_path, "s.yaml", MINIMAL + "ci: {red_branch_policy: ignore}\n"))

    assert problem.field == "ci.red_branch_policy"
    assert "(allowed: one of revert, fix-forward)" in problem.message


def test_every_problem_in_a_file_is_reported_in_line_order(tmp_path):
    path = write(
        tmp_path,
        "s.yaml",
        """\
        strategy: {name: trunk-based}
        team:
          developers: 0
        review:
          detection_probability: -0.1
        ci:
          runnerz: 3
          red_branch_policy: ignore
        simulation:
          seed: lots
        """,
    )

    problems = problems_of(path)

    assert [(p.line, p.field) for p in problems] == [
        (3, "team.developers"),
        (5, "review.detection_probability"),
        (7, "ci.runnerz"),
        (8, "ci.red_branch_policy"),
        (10, "simulation.seed"),
    ]


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
def test_nan_and_infinity_are_refused_even_where_the_schema_has_no_upper_bound(tmp_path, value):
    path = write(tmp_path, "s.yaml", MINIMAL + f"review: {{reference_lines: {value}}}\n")

    problem = only_problem(path)

    assert (problem.line, problem.field) == (2, "review.reference_lines")
    assert "not a finite number" in problem.message


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "infinity"])
def test_nan_and_infinity_written_as_text_are_refused_with_the_allowed_range(tmp_path, value):
    path = write(tmp_path, "s.yaml", MINIMAL + f"review: {{reference_lines: {value}}}\n")

    problem = only_problem(path)

    assert (problem.line, problem.field) == (2, "review.reference_lines")
    assert problem.message == f"{value!r} is not a finite number (allowed: a number > 0)"


# --- extends ----------------------------------------------------------------------------


def test_extends_deep_merges_mappings_and_the_child_wins(tmp_path):
    write(
        tmp_path,
        "base.yaml",
        """\
        name: base
        strategy: {name: trunk-based, max_change_lines: 50}
        ci: {runners: 8, post_merge: false}
        review: {duration: {dist: lognormal, median: 1h, p90: 3h}}
        """,
    )
    child = write(
        tmp_path,
        "child.yaml",
        """\
        extends: base.yaml
        name: child
        ci: {runners: 2}
        review: {duration: 30m}
        """,
    )

    scenario = load_scenario(child)

    assert scenario.name == "child"
    assert (scenario.ci.runners, scenario.ci.post_merge) == (2, False)
    assert scenario.strategy.max_change_lines == 50
    assert scenario.review.duration == WorkingConstant(dist="constant", value=0.5)


def test_extends_chains_and_each_path_is_relative_to_the_file_that_says_it(tmp_path):
    write(tmp_path, "shared/root.yaml", MINIMAL + "team: {developers: 3}\n")
    write(tmp_path, "shared/middle.yaml", "extends: root.yaml\nci: {runners: 7}\n")
    leaf = write(tmp_path, "teams/leaf.yaml", "extends: ../shared/middle.yaml\n")

    scenario = load_scenario(leaf)

    assert (scenario.team.developers, scenario.ci.runners) == (3, 7)


def test_a_parents_problem_is_reported_in_the_parents_file_at_its_line(tmp_path):
    base = write(tmp_path, "base.yaml", MINIMAL + "ci:\n  runners: 8\n  flaky_failure_probability: 2\n")
    child = write(tmp_path, "child.yaml", "extends: base.yaml\nci: {runners: 2}\n")

    problem = only_problem(child)

    assert (problem.file, problem.line, problem.field) == (str(base), 4, "ci.flaky_failure_probability")


def test_extends_cycle_is_an_error_naming_the_files(tmp_path):
    first = write(tmp_path, "a.yaml", "extends: b.yaml\n")
    write(tmp_path, "b.yaml", "extends: a.yaml\n")

    problem = only_problem(first)

    assert problem.field == "extends" and problem.line == 1
    assert "extends cycle" in problem.message
    assert "a.yaml -> " in problem.message and "b.yaml -> " in problem.message


def test_a_file_extending_itself_is_a_cycle(tmp_path):
    problem = only_problem(write(tmp_path, "a.yaml", "extends: a.yaml\n"))

    assert "extends cycle" in problem.message


def test_missing_extends_file_is_reported_at_the_extends_line(tmp_path):
    path = write(tmp_path, "s.yaml", "name: x\nextends: nowhere.yaml\n")

    problem = only_problem(path)

    assert (problem.file, problem.line, problem.field) == (str(path), 2, "extends")
    assert "'nowhere.yaml' not found" in problem.message


# --- Hostile and broken input -----------------------------------------------------------


def test_python_object_tags_are_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"
    path = write(tmp_path, "s.yaml", MINIMAL + f'name: !!python/object/apply:os.system ["touch {marker}"]\n')

    problem = only_problem(path)

    assert (problem.line, problem.field) == (2, "name")
    assert "refused" in problem.message
    assert not marker.exists()


def test_alias_bomb_fails_fast_with_a_clear_message(tmp_path):
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for previous, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]")
    path = write(tmp_path, "bomb.yaml", "\n".join(lines) + "\n")

    started = time.process_time()  # CPU time, not wall time on a busy machine
    problem = only_problem(path)

    assert time.process_time() - started < 2.0
    assert "aliases expand to more than" in problem.message


def test_an_alias_inside_its_own_anchor_is_refused(tmp_path):
    problem = only_problem(write(tmp_path, "s.yaml", "x: &loop [1, *loop]\n"))

    assert "inside its own anchor" in problem.message


def test_duplicate_key_is_reported_at_its_second_occurrence(tmp_path):
    path = write(tmp_path, "s.yaml", MINIMAL + "ci:\n  runners: 2\n  post_merge: true\n  runners: 3\n")

    problem = only_problem(path)

    assert (problem.line, problem.field) == (5, "ci.runners")
    assert "duplicate key 'runners', first written on line 3" in problem.message


def test_non_utf8_bytes_are_a_located_problem(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_bytes(b"strategy: {name: trunk-based}\nname: caf\xe9\n")

    problem = only_problem(path)

    assert problem.line == 2 and "not UTF-8" in problem.message


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_empty_file_is_a_problem_saying_so(tmp_path, text):
    problem = only_problem(write(tmp_path, "s.yaml", text))

    assert problem.field == "<root>" and "file is empty" in problem.message


@pytest.mark.parametrize("text", ["- 1\n- 2\n", "just text\n", "~\n"])
def test_a_top_level_that_is_not_a_mapping_is_refused(tmp_path, text):
    problem = only_problem(write(tmp_path, "s.yaml", text))

    assert problem.field == "<root>" and "not a mapping" in problem.message


def test_yaml_syntax_error_is_reported_at_the_marks_line(tmp_path):
    path = write(tmp_path, "s.yaml", MINIMAL + "ci:\n  runners: [1, 2\n  post_merge: true\n")

    problem = only_problem(path)

    assert problem.line in (3, 4, 5) and "invalid YAML" in problem.message


def test_two_documents_in_one_file_are_refused(tmp_path):
    problem = only_problem(write(tmp_path, "s.yaml", MINIMAL + "---\n" + MINIMAL))

    assert problem.line == 2 and "one document per file" in problem.message


def test_files_over_five_megabytes_are_refused(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_bytes(MINIMAL.encode() + b"#" * MAX_FILE_BYTES)

    problem = only_problem(path)

    assert "larger than 5 MB" in problem.message


def test_nesting_deeper_than_the_bound_is_refused(tmp_path):
    depth = MAX_DEPTH + 5
    problem = only_problem(write(tmp_path, "s.yaml", "x: " + "[" * depth + "]" * depth + "\n"))

    assert "nested more than" in problem.message


def test_a_missing_file_is_a_problem_not_an_os_error(tmp_path):
    problem = only_problem(tmp_path / "absent.yaml")

    assert "file not found" in problem.message


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.sampled_from(list("ab:-[]{}&*!,'\"#\n 1.\\%|>?")), max_size=60))
def test_arbitrary_text_yields_a_scenario_or_a_scenario_error(tmp_path, text):
    path = tmp_path / "fuzz.yaml"
    path.write_text(text, encoding="utf-8")

    try:
        load_scenario(path)
    except ScenarioError as error:
        assert error.problems and all(isinstance(problem, Problem) for problem in error.problems)


# --- Overrides --------------------------------------------------------------------------


def test_with_overrides_returns_a_new_scenario_and_leaves_the_original_untouched():
    original = Scenario.model_validate({"strategy": {"name": "trunk-based"}})

    changed = original.with_overrides(
        {"ci.runners": 8, "deployment.canary.enabled": True, "strategy.max_change_lines": 50}
    )

    assert (changed.ci.runners, changed.deployment.canary.enabled, changed.strategy.max_change_lines) == (8, True, 50)
    assert (original.ci.runners, original.deployment.canary.enabled, original.strategy.max_change_lines) == (4, False, 100)


def test_override_values_are_read_as_in_yaml_so_durations_take_units():
    scenario = Scenario.model_validate({"strategy": {"name": "gitflow"}})

    changed = apply_overrides(scenario, {"ci.revert_time": "30m", "strategy.qa_duration": "16h", "ci.duration": "30m"})

    assert (changed.ci.revert_time, changed.strategy.qa_duration) == (0.5, 16.0)
    assert changed.ci.duration == ClockConstant(dist="constant", value=0.5)


def test_unknown_override_path_is_reported_as_an_override_problem():
    scenario = Scenario.model_validate({"strategy": {"name": "trunk-based"}})

    with pytest.raises(ScenarioError) as caught:
        scenario.with_overrides({"ci.runnerz": 8})

    (problem,) = caught.value.problems
    assert (problem.file, problem.line, problem.field) == ("<override>", None, "ci.runnerz")
    assert "did you mean 'runners'" in problem.message


def test_override_below_a_plain_value_is_reported():
    scenario = Scenario.model_validate({"strategy": {"name": "trunk-based"}})

    with pytest.raises(ScenarioError) as caught:
        scenario.with_overrides({"ci.runners.count": 8})

    assert "ci.runners is 4, not a section" in str(caught.value)


def test_invalid_override_value_is_reported_with_the_allowed_range():
    scenario = Scenario.model_validate({"strategy": {"name": "trunk-based"}})

    with pytest.raises(ScenarioError, match=r"<override>:\?: ci.flaky_failure_probability: 3 is out of range"):
        scenario.with_overrides({"ci.flaky_failure_probability": 3})


def test_load_scenario_reports_override_and_file_problems_together(tmp_path):
    path = write(tmp_path, "s.yaml", MINIMAL + "ci: {runnerz: 3}\n")

    problems = problems_of(path, overrides={"team.developerz": 3, "review.enabled": False})

    assert [(p.file, p.field) for p in problems] == [(str(path), "ci.runnerz"), ("<override>", "team.developerz")]


def test_load_scenario_overrides_fill_sections_the_file_left_out(tmp_path):
    path = write(tmp_path, "s.yaml", MINIMAL)

    scenario = load_scenario(path, overrides={"deployment.canary.enabled": True, "review.duration": "10m"})

    assert scenario.deployment.canary.enabled
    assert scenario.review.duration == WorkingConstant(dist="constant", value=1 / 6)


@pytest.mark.parametrize("name", list(REGISTRY))
def test_round_trip_without_overrides_gives_an_equal_scenario(name):
    scenario = Scenario.model_validate(
        {
            "strategy": {"name": name},
            "work": {"feature_effort": {"dist": "empirical", "values": ["1h", "3h", "16h"]}},
            "review": {"duration": {"dist": "triangular", "low": "10m", "mode": "20m", "high": "2h"}},
            "ci": {"duration": "12m", "triage_time": {"dist": "uniform", "low": "5m", "high": "1h"}},
            "sweep": {"grid": {"ci.runners": [2, 4, 8]}},
        }
    )

    assert apply_overrides(scenario, {}) == scenario


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ci.runners=8", ("ci.runners", 8)),
        ("deployment.canary.enabled=true", ("deployment.canary.enabled", True)),
        ("review.duration=30m", ("review.duration", "30m")),
        ("work.severity_shares=[0.5, 0.3, 0.2]", ("work.severity_shares", [0.5, 0.3, 0.2])),
        ("description=a=b", ("description", "a=b")),
        ("review.duration={dist: exponential, mean: 1h}", ("review.duration", {"dist": "exponential", "mean": "1h"})),
    ],
)
def test_parse_assignment_splits_on_the_first_equals_and_reads_the_value_as_yaml(text, expected):
    assert parse_assignment(text) == expected


@pytest.mark.parametrize("text", ["ci.runners", "=8", "ci..runners=8", "ci.runners=[1, 2", "x=!!python/name:os.system ''"])
def test_malformed_assignment_raises_a_scenario_error(text):
    with pytest.raises(ScenarioError) as caught:
        parse_assignment(text)

    assert all(problem.file == "<override>" for problem in caught.value.problems)


def test_parsed_assignments_feed_load_scenario(tmp_path):
    path = write(tmp_path, "s.yaml", MINIMAL)

    scenario = load_scenario(path, overrides=dict(parse_assignment(t) for t in ["ci.runners=6", "ci.duration=20m"]))

    assert scenario.ci.runners == 6 and scenario.ci.duration == ClockConstant(dist="constant", value=1 / 3)


# --- Several files and the JSON Schema --------------------------------------------------


def test_validate_paths_returns_every_files_problems_and_never_raises(tmp_path):
    good = write(tmp_path, "good.yaml", MINIMAL)
    bad = write(tmp_path, "bad.yaml", MINIMAL + "ci: {runners: 0}\n")
    empty = write(tmp_path, "empty.yaml", "")

    problems = validate_paths([good, bad, empty, tmp_path / "absent.yaml", tmp_path])

    assert [Path(p.file).name for p in problems] == ["bad.yaml", "empty.yaml", "absent.yaml", tmp_path.name]
    assert validate_paths([good]) == []
    assert validate_paths(good) == []


def test_json_schema_is_json_serialisable_and_describes_the_sections():
    schema = json_schema()

    assert json.loads(json.dumps(schema)) == schema
    assert {"strategy", "ci", "simulation"} <= set(schema["properties"])
    assert schema["else"]["required"] == ["strategy"]  # required unless the file `extends` another
    assert schema["if"] == {"required": ["extends"]}


# --- Numbers are decimal (issue 12, item 9) ----------------------------------------------


@pytest.mark.parametrize(
    ("written", "says"),
    [
        ("010", "'010' has a leading zero, which YAML 1.1 reads as the octal number 8 (allowed: decimal whole numbers "
                "without leading zeros, such as 10; quote it to mean text: '010')"),
        ("0x10", "'0x10' is read by YAML 1.1 as the hexadecimal number 16 (allowed: decimal numbers, such as 16;"),
        ("0b10", "'0b10' is read by YAML 1.1 as the binary number 2"),
        ("1:30", "'1:30' is read by YAML 1.1 as the base-60 number 90 (allowed: decimal numbers, such as 90; "
                 "a duration is written like 1.5h or 90m;"),
        ("-010", "such as -10"),
        ("00", "such as 0"),
    ],
)
def test_a_whole_number_not_in_decimal_is_refused_at_its_line(tmp_path, written, says):
    path = write(tmp_path, "s.yaml", MINIMAL + f"team:\n  developers: {written}\n")

    problem = only_problem(path)

    assert (problem.line, problem.field) == (3, "team.developers") and says in problem.message


def test_a_base_60_duration_is_refused_instead_of_being_ninety_hours(tmp_path):
    problem = only_problem(write(tmp_path, "s.yaml", MINIMAL + "ci:\n  duration: 1:30\n"))

    assert problem.field == "ci.duration" and "base-60 number 90" in problem.message


@pytest.mark.parametrize(("written", "value"), [("0", 0), ("10", 10), ("1_000", 1000), ("+7", 7)])
def test_decimal_whole_numbers_read_as_written(written, value):
    assert parse_assignment(f"x={written}") == ("x", value)


def test_a_quoted_leading_zero_is_text(tmp_path):
    scenario = load_scenario(write(tmp_path, "s.yaml", MINIMAL + "name: '007'\n"))

    assert scenario.name == "007"


@pytest.mark.parametrize(("written", "value"), [("1e3", 1000.0), ("1e-1", 0.1), ("1.5E3", 1500.0), (".5e2", 50.0), ("-2e0", -2.0)])
def test_scientific_notation_is_a_number_in_files_and_overrides(written, value):
    assert parse_assignment(f"x={written}") == ("x", value)


def test_one_rule_for_scientific_notation_a_whole_number_field_takes_a_whole_value(tmp_path):
    path = write(tmp_path, "s.yaml", MINIMAL)

    scenario = load_scenario(path, overrides=dict(parse_assignment(t) for t in ["ci.runners=1e3", "ci.flaky_failure_probability=1e-1"]))

    assert (scenario.ci.runners, scenario.ci.flaky_failure_probability) == (1000, 0.1)
    problem = only_problem(path, overrides=dict([parse_assignment("ci.runners=2.5e0")]))
    assert problem.field == "ci.runners"


def test_a_number_refused_in_an_override_is_reported_at_the_override():
    with pytest.raises(ScenarioError) as caught:
        parse_assignment("team.developers=0x10")

    (problem,) = caught.value.problems
    assert str(problem).startswith("<override>:?: team.developers: '0x10' is read by YAML 1.1 as the hexadecimal number 16")


def test_a_refused_number_is_reported_once_not_again_by_the_schema(tmp_path):
    problems = problems_of(write(tmp_path, "s.yaml", MINIMAL + "ci: {runners: 010, duration: 0x10}\n"))

    assert [p.field for p in problems] == ["ci.runners", "ci.duration"]


# --- Overrides reported where they were made (item 10) -----------------------------------


def test_set_extends_says_extends_belongs_in_a_file():
    with pytest.raises(ScenarioError) as caught:
        Scenario.model_validate({"strategy": {"name": "trunk-based"}}).with_overrides({"extends": "x"})

    (problem,) = caught.value.problems
    assert (problem.file, problem.field) == ("<override>", "extends")
    assert "extends is read only from a scenario file" in problem.message and "did you mean" not in problem.message


def test_a_rule_broken_by_an_override_is_reported_at_the_override_not_the_parent_file(tmp_path):
    write(tmp_path, "base.yaml", "work:\n  severity_shares: [0.6, 0.3, 0.1]\n")
    child = write(tmp_path, "child.yaml", "extends: base.yaml\n" + MINIMAL)

    problem = only_problem(child, overrides={"work.severity_shares": [0.5, 0.5, 0.5]})

    assert str(problem) == "<override>:?: work.severity_shares: severity_shares must sum to 1"


def test_a_rule_broken_in_a_file_is_reported_at_the_field_that_breaks_it(tmp_path):
    path = write(tmp_path, "s.yaml", MINIMAL + "work:\n  lines_per_coding_hour: 20\n  severity_shares: [0.5, 0.5, 0.5]\n")

    problem = only_problem(path)

    assert (problem.line, problem.field) == (4, "work.severity_shares")


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"simulation.warm_up": "20w"}, "simulation.warm_up"),
        ({"simulation.duration": "1h"}, "simulation.duration"),
        ({"team.calendar.day_start_hour": 20}, "team.calendar.day_start_hour"),
        ({"review.reviewers": 1}, "review.reviewers"),
        ({"work.feature_effort.p90": "1h"}, "work.feature_effort.p90"),
    ],
)
def test_rules_across_fields_name_the_field_the_override_set(tmp_path, override, field):
    path = write(
        tmp_path, "s.yaml",
        MINIMAL + "simulation: {duration: 4w, warm_up: 1w}\nwork: {feature_effort: {dist: lognormal, median: 16h, p90: 60h}}\n",
    )

    problem = only_problem(path, overrides=override)

    assert (problem.file, problem.field) == ("<override>", field)


# --- Folders, devices and pipes (item 10) -------------------------------------------------


@pytest.mark.parametrize(("target", "kind"), [(".", "a folder"), ("/dev/zero", "a character device"), ("/dev/null", "a character device")])
def test_extends_naming_something_that_is_not_a_file_says_what_it_is(tmp_path, target, kind):
    problem = only_problem(write(tmp_path, "s.yaml", f"extends: {target}\n" + MINIMAL))

    assert (problem.line, problem.field) == (1, "extends")
    assert f"is {kind}" in problem.message and "not found" not in problem.message


def test_a_folder_or_device_given_as_the_scenario_is_named_as_such(tmp_path):
    assert "is a folder, not a scenario file" in only_problem(tmp_path).message
    assert "is a character device, not a scenario file" in only_problem(Path("/dev/zero")).message


def make_fifo(path: Path) -> Path:
    if not hasattr(__import__("os"), "mkfifo"):
        pytest.skip("no named pipes here")
    __import__("os").mkfifo(path)
    return path


def test_a_named_pipe_nothing_writes_to_is_refused_at_once_instead_of_hanging(tmp_path):
    fifo = make_fifo(tmp_path / "fifo")

    started = time.monotonic()
    problem = only_problem(fifo)

    assert time.monotonic() - started < 2
    assert "is a pipe that nothing wrote to" in problem.message


def test_extends_naming_a_named_pipe_says_it_is_a_pipe(tmp_path):
    make_fifo(tmp_path / "fifo")

    problem = only_problem(write(tmp_path, "s.yaml", "extends: fifo\n" + MINIMAL))

    assert "is a pipe that nothing wrote to" in problem.message and problem.file == str(tmp_path / "fifo")


def test_a_pipe_that_delivers_a_scenario_is_read_and_can_be_read_twice(tmp_path):
    import os
    import threading

    fifo = make_fifo(tmp_path / "fifo")

    def feed():
        with open(fifo, "w", encoding="utf-8") as handle:  # blocks until the loader opens the pipe
            handle.write(MINIMAL + "ci: {runners: 7}\n")

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    deadline = time.monotonic() + 10
    scenario = None
    while scenario is None and time.monotonic() < deadline:  # the writer may not have opened it yet
        try:
            scenario = load_scenario(fifo)
        except ScenarioError as error:
            assert "nothing wrote to" in str(error)
            time.sleep(0.05)
    writer.join(5)

    assert scenario is not None and scenario.ci.runners == 7
    assert load_scenario(fifo) == scenario  # validate reads a file twice; the pipe's bytes are kept
    os.unlink(fifo)


def test_a_pipe_that_stays_silent_is_given_up_after_the_pipe_timeout(tmp_path, monkeypatch):
    import os

    from trunksim.scenario import yamltree

    monkeypatch.setattr(yamltree, "PIPE_SECONDS", 0.3)
    fifo = make_fifo(tmp_path / "fifo")
    keep_open = os.open(fifo, os.O_RDWR)  # a writer that never writes
    try:
        started = time.monotonic()
        problem = only_problem(fifo)
    finally:
        os.close(keep_open)

    assert time.monotonic() - started < 3 and "nothing more came through this pipe in 0.3 s" in problem.message


def test_validate_reads_process_substitution(tmp_path):
    import shutil
    import subprocess
    import sys

    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash for <(...)")
    good = write(tmp_path, "good.yaml", MINIMAL)
    child = write(tmp_path, "child.yaml", "extends: good.yaml\nname: child\n")
    command = f"{sys.executable} -m trunksim validate <(cat {good}) && {sys.executable} -m trunksim validate <(cat {child})"

    done = subprocess.run([bash, "-c", command], capture_output=True, text=True, timeout=120, cwd=tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == ["1 scenario file(s) valid"] * 2  # extends of a pipe: the current folder


def test_a_pipe_that_extends_a_missing_file_says_where_it_looked(tmp_path):
    import shutil
    import subprocess
    import sys

    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash for <(...)")
    child = write(tmp_path, "child.yaml", "extends: absent.yaml\n" + MINIMAL)

    done = subprocess.run([bash, "-c", f"{sys.executable} -m trunksim validate <(cat {child})"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)

    assert done.returncode == 1 and len(done.stdout.splitlines()) == 1
    assert "relative to the current folder, as this file came through a pipe" in done.stdout

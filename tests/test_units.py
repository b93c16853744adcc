"""Clock hours and working hours: two types, one rule for writing a duration (issue 10 point 6, issue 12 point 9).

The rule (``trunksim.units``): a number is hours of the field's unit; text is a number
written together with one unit letter, ``s``, ``m``, ``h`` and, in clock-hours fields only,
``d`` (24 h) or ``w`` (168 h). Everything else is refused with the spelling to use.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from trunksim.scenario import ScenarioError, json_schema, load_scenario, parse_assignment
from trunksim.scenario.reference import parameter_table
from trunksim.scenario.schema import Scenario
from trunksim.strategies.registry import REGISTRY, params_model
from trunksim.units import CLOCK, WORKING, DurationUnit, duration_unit, parse_duration

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted(p for p in (ROOT / "scenarios").rglob("*.yaml") if not p.name.startswith("_"))
MINIMAL = "strategy: {name: trunk-based}\n"

# The decision, field by field: human effort is working hours; machines, cadences and
# incidents (the on-call works around the clock) are clock hours.
WORKING_FIELDS = {
    "team.focus_block",
    "work.feature_effort",
    "work.fix_time",
    "review.duration",
    "ci.triage_time",
    "ci.revert_time",
    "merging.resolution_time",
    "review.response_time",
    "postmortems.postmortem_time",
    "error_budget.reliability_task",
}
CLOCK_FIELDS = {
    "team.on_call_rotation",
    "team.calendar.start_spread",
    "incidents.customer_report_delay",
    "merge_queue.batch_wait",
    "error_budget.window",
    "error_budget.burn_window",
    "error_budget.check_every",
    "progressive.switch_back_time",
    "postmortems.action_lag",
    "flags.removal_delay",
    "ci.duration",
    "deployment.cadence",
    "deployment.offset",
    "deployment.pipeline_duration",
    "deployment.canary.bake_time",
    "deployment.approval.cadence",
    "deployment.approval.offset",
    "incidents.time_to_failure",
    "incidents.detection_delay",
    "incidents.diagnosis_time",
    "incidents.rollback_time",
    "incidents.flag_off_time",
    "incidents.fix_time",
    "simulation.duration",
    "simulation.warm_up",
}


def duration_fields(model: type[BaseModel], prefix: str = "") -> typing.Iterator[tuple[str, DurationUnit | None, str]]:
    """(dotted path, unit, description) of every field below ``model`` that holds a duration or a distribution of one."""
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel) and "dist" not in annotation.model_fields:
            yield from duration_fields(annotation, f"{prefix}{name}.")
            continue
        unit = duration_unit(field.metadata)
        if unit is not None:
            yield f"{prefix}{name}", unit, field.description or ""


SCENARIO_DURATIONS = {path: unit for path, unit, _ in duration_fields(Scenario)}
STRATEGY_DURATIONS = [
    (strategy, f"strategy.{path}", unit, description)
    for strategy in REGISTRY
    for path, unit, description in duration_fields(params_model(strategy))
]


def write(directory: Path, text: str) -> Path:
    path = directory / "s.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def only_problem(path: Path, **kwargs):
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, **kwargs)
    (problem,) = caught.value.problems
    return problem


# --- The two types ----------------------------------------------------------------------


def test_every_duration_field_of_the_scenario_has_the_unit_decided_for_it():
    assert {path for path, unit in SCENARIO_DURATIONS.items() if unit is WORKING} == WORKING_FIELDS
    assert {path for path, unit in SCENARIO_DURATIONS.items() if unit is CLOCK} == CLOCK_FIELDS


@pytest.mark.parametrize(
    ("path", "unit", "description"),
    [(path, unit, description) for path, unit, description in duration_fields(Scenario)]
    + [(path, unit, description) for _, path, unit, description in STRATEGY_DURATIONS],
    ids=lambda value: value if isinstance(value, str) and "." in value and " " not in value else "",
)
def test_every_duration_field_says_its_unit_in_words(path, unit, description):
    assert unit.name in description


def test_no_field_described_in_hours_is_left_untyped():
    """A float whose description ends in clock or working hours must carry the unit's type."""

    def floats(model, prefix=""):
        for name, field in model.model_fields.items():
            annotation = field.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel) and "dist" not in annotation.model_fields:
                yield from floats(annotation, f"{prefix}{name}.")
            elif duration_unit(field.metadata) is None and field.description:
                yield f"{prefix}{name}", field.description

    untyped = [
        (path, text)
        for model, prefix in [(Scenario, ""), *((params_model(s), "strategy.") for s in REGISTRY)]
        for path, text in floats(model, prefix)
        if text.rstrip(")").endswith(("clock hours", "working hours"))
    ]

    assert untyped == []


def test_the_json_schema_names_the_unit_of_each_duration_field():
    definitions = json_schema()["$defs"]

    assert "working hours" in definitions["Team"]["properties"]["focus_block"]["description"]
    assert "clock hours" in definitions["Simulation"]["properties"]["duration"]["description"]
    assert "working hours" in definitions["WorkingLogNormal"]["properties"]["median"]["description"]
    assert "clock hours" in definitions["ClockLogNormal"]["properties"]["median"]["description"]


def test_the_json_schema_patterns_follow_the_rule():
    import re

    for written in ("45m", "2h", "0.5h", "1e-3h", "90s"):
        assert re.search(WORKING.pattern, written) and re.search(CLOCK.pattern, written)
    for written in ("3d", "2w"):
        assert re.search(CLOCK.pattern, written) and not re.search(WORKING.pattern, written)
    for written in ("90 m", "10min", " 1h", "2", "2H", "-1h"):
        assert not re.search(CLOCK.pattern, written) and not re.search(WORKING.pattern, written)


def test_the_parameter_reference_names_both_units_and_shows_working_defaults_in_hours():
    table = parameter_table()
    rows = {line.split("|")[1].strip(" `"): line for line in table.splitlines() if line.startswith("| `")}

    assert "**clock hours**" in table and "**working hours**" in table
    for path in WORKING_FIELDS:
        assert "working hours" in rows[path], rows[path]
    for path in CLOCK_FIELDS:
        assert "clock hours" in rows[path], rows[path]
    assert "| 24h |" in rows["strategy.qa_duration"]  # 24 working hours are not "1d"
    assert "| 2w |" in rows["strategy.release_cadence"]


def test_the_committed_parameter_reference_is_current():
    assert (ROOT / "docs" / "parameters.md").read_text(encoding="utf-8") == parameter_table()


# --- One rule for writing a duration -------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "hours"),
    [(2, 2.0), (0.5, 0.5), (0, 0.0), ("45m", 0.75), ("1.5h", 1.5), ("90s", 0.025), ("3d", 72.0), ("2w", 336.0),
     ("1e-3h", 0.001), (".5h", 0.5)],
    ids=repr,
)
def test_clock_hours_take_a_number_of_hours_or_a_number_with_its_letter(written, hours):
    assert CLOCK.parse(written) == pytest.approx(hours)


@pytest.mark.parametrize(
    ("written", "advice"),
    [
        ("90 m", "write 90m"),
        ("10min", "write 10m"),
        ("2 hours", "write 2h"),
        ("2H", "write 2h"),
        (" 1h", "write 1h"),
        ("2", "text needs a unit, write 2h"),
        ("ten minutes", "is not a duration"),
        ("1.h", "is not a duration"),
        ("", "is not a duration"),
    ],
    ids=repr,
)
def test_any_other_spelling_is_refused_with_the_spelling_to_use(written, advice):
    for unit in (CLOCK, WORKING):
        with pytest.raises(ValueError) as caught:
            unit.parse(written)
        assert advice in str(caught.value) and unit.name in str(caught.value)


def test_a_misspelt_clock_duration_in_days_is_refused_with_the_spelling_to_use():
    with pytest.raises(ValueError, match="write 3d"):
        CLOCK.parse("3 days")


@pytest.mark.parametrize("written", ["-1h", "-2", -1, "-3 days"], ids=repr)
def test_a_negative_duration_is_called_negative(written):
    with pytest.raises(ValueError, match="must not be negative"):
        parse_duration(written)


@pytest.mark.parametrize(
    ("written", "advice"),
    [("3d", "like 24h for 3 working days of 8 hours"), ("2w", "like 80h for 2 working weeks"), ("0.5d", "like 4h for 0.5")],
)
def test_working_hours_refuse_days_and_weeks_and_say_what_to_write(written, advice):
    with pytest.raises(ValueError) as caught:
        WORKING.parse(written)

    message = str(caught.value)
    assert "this field is working hours: write hours" in message
    assert advice in message and "team.calendar.hours_per_day" in message


def test_working_hours_take_seconds_minutes_hours_and_numbers():
    assert [WORKING.parse(v) for v in ("3600s", "90m", "16h", 16)] == [1.0, 1.5, 16.0, 16.0]


def test_both_units_read_a_number_and_a_string_the_same_way():
    for written in (0.25, "15m", "2h", "1e1h"):
        assert CLOCK.parse(written) == WORKING.parse(written)


def test_a_working_duration_is_formatted_without_days_or_weeks():
    assert (WORKING.format(24.0), WORKING.format(168.0), WORKING.format(0.5)) == ("24h", "168h", "30m")
    assert (CLOCK.format(24.0), CLOCK.format(168.0)) == ("1d", "1w")


# --- In scenario files, overrides and strategies ----------------------------------------------


@pytest.mark.parametrize(
    ("section", "field", "line"),
    [
        ("team:\n  focus_block: 1d\n", "team.focus_block", 3),
        ("work:\n  feature_effort: 3d\n", "work.feature_effort", 3),
        ("work:\n  feature_effort: {dist: lognormal, median: 2d, p90: 60h}\n", "work.feature_effort.median", 3),
        ("review:\n  duration:\n    dist: empirical\n    values: [1h, 1w]\n", "review.duration.values.1", 5),
        ("ci:\n  revert_time: 1d\n", "ci.revert_time", 3),
    ],
)
def test_days_in_a_working_hours_field_are_a_located_problem(tmp_path, section, field, line):
    problem = only_problem(write(tmp_path, MINIMAL + section))

    assert (problem.line, problem.field) == (line, field)
    assert "this field is working hours: write hours" in problem.message


def test_days_in_a_strategys_working_hours_field_are_a_located_problem(tmp_path):
    problem = only_problem(write(tmp_path, "strategy:\n  name: gitflow\n  qa_duration: 3d\n"))

    assert (problem.line, problem.field) == (3, "strategy.qa_duration")
    assert "like 24h for 3 working days of 8 hours" in problem.message


def test_days_set_on_the_command_line_in_a_working_hours_field_are_an_override_problem(tmp_path):
    field, value = parse_assignment("team.focus_block=1d")

    problem = only_problem(write(tmp_path, MINIMAL), overrides={field: value})

    assert (problem.file, problem.field) == ("<override>", "team.focus_block")
    assert "write hours, like 8h for 1 working day of 8 hours" in problem.message


def test_clock_hours_fields_take_days_and_weeks(tmp_path):
    scenario = load_scenario(
        write(
            tmp_path,
            MINIMAL
            + "team: {on_call_rotation: 1w}\nci: {duration: {dist: uniform, low: 0, high: 1d}}\n"
            + "incidents: {time_to_failure: {dist: exponential, mean: 3d}, fix_time: 1d}\n"
            + "simulation: {duration: 4w, warm_up: 2d}\n",
        )
    )

    assert scenario.team.on_call_rotation == 168.0
    assert scenario.ci.duration.high == 24.0 and scenario.incidents.fix_time.value == 24.0
    assert (scenario.simulation.duration, scenario.simulation.warm_up) == (672.0, 48.0)


def test_a_bare_number_is_hours_of_the_fields_unit(tmp_path):
    scenario = load_scenario(write(tmp_path, MINIMAL + "team: {focus_block: 3}\nci: {duration: 0.25}\n"))

    assert scenario.team.focus_block == 3.0 and scenario.ci.duration.value == 0.25


def test_a_positive_working_field_says_its_bound_in_working_hours(tmp_path):
    problem = only_problem(write(tmp_path, MINIMAL + "team: {focus_block: 0}\n"))

    assert "must be > 0 working hours" in problem.message


def test_a_malformed_distribution_says_its_unit(tmp_path):
    problem = only_problem(write(tmp_path, MINIMAL + "review: {duration: [1h]}\n"))

    assert "a number of working hours" in problem.message


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT / "scenarios")))
def test_no_shipped_scenario_writes_days_or_weeks_in_a_working_hours_field(path):
    load_scenario(path)  # d or w in a working-hours field would be a ScenarioError


# --- Imports ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "import trunksim.scenario, sys; assert 'trunksim.scenario.loading' not in sys.modules",
        "import trunksim.scenario.schema, sys; assert 'trunksim.scenario.loading' not in sys.modules",
        "import trunksim.strategies.registry",
        "import trunksim.units, sys; assert not [m for m in sys.modules if m.startswith('trunksim.') and m != 'trunksim.units']",
        "from trunksim.scenario import load_scenario, Scenario, ScenarioError, Problem",
    ],
)
def test_the_scenario_package_loads_nothing_eagerly(statement):
    done = subprocess.run([sys.executable, "-c", statement], capture_output=True, text=True, timeout=120, cwd=ROOT)

    assert done.returncode == 0, done.stderr

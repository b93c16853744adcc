"""Runaway guards: absurd scenarios are refused before they run; a run stops at its bounds.

Two lines of defence. Before anything runs, :func:`trunksim.scenario.size.check_size`
estimates the events one replication needs from the scenario's parameters and refuses a
scenario past ``simulation.max_events`` (or one that would cut a feature into millions of
changes) with a located problem saying why and what to do. While running, each
replication stops with :class:`SimulationLimitError` when it passes
``simulation.max_events`` or ``simulation.max_wall_seconds``; the CLI reports either as
one line and exit status 1.
"""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import trunksim
from trunksim.cli import app
from trunksim.engine.model import DeliveryModel, SimulationLimitError
from trunksim.experiment import simulate
from trunksim.scenario import Scenario, ScenarioError, load_scenario
from trunksim.scenario.size import MAX_CHANGES_PER_FEATURE, SizeEstimate, check_size, estimate
from trunksim.strategies.base import StrategyParams
from trunksim.strategies.registry import REGISTRY

from conftest import ROOT, SCENARIOS, small

runner = CliRunner()
TRUNK = SCENARIOS / "trunk-based.yaml"
BASE = SCENARIOS / "_base.yaml"
SHIPPED = sorted(p for p in SCENARIOS.rglob("*.yaml") if not p.name.startswith("_"))
INSTANT_PIPELINE = {
    "review.enabled": False, "ci.duration": "1s", "ci.post_merge": False, "deployment.pipeline_duration": "1s",
}


def refusal(scenario: Scenario, **kwargs):
    with pytest.raises(ScenarioError) as caught:
        check_size(scenario, **kwargs)
    (problem,) = caught.value.problems
    return problem


def line_of(path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


# --- Refused before running ---------------------------------------------------------------


def test_a_hundred_thousand_developers_are_refused_at_the_line_that_says_so():
    scenario = load_scenario(TRUNK, overrides={"team.developers": 100_000})

    problem = refusal(scenario, file=TRUNK)

    assert (problem.file, problem.line, problem.field) == (str(BASE), line_of(BASE, "developers:"), "team.developers")
    assert "100,000 developers" in problem.message
    assert "more than simulation.max_events = 5,000,000" in problem.message
    assert "(allowed: fewer team.developers, or raise simulation.max_events if this size is meant)" in problem.message


def test_a_field_set_by_an_override_is_reported_as_the_override():
    overrides = {"team.developers": 100_000}

    problem = refusal(load_scenario(TRUNK, overrides=overrides), file=TRUNK, overrides=overrides)

    assert (problem.file, problem.line, problem.field) == ("<override>", None, "team.developers")


def test_without_a_file_the_problem_names_the_scenario():
    problem = refusal(small("trunk-based", team={"developers": 100_000}))

    assert str(problem).startswith("<scenario 'trunk-based'>:?: team.developers: ")


def test_a_year_of_sub_second_coding_with_an_instant_pipeline_and_forty_people_is_refused():
    overrides = {"work.feature_effort": "0.5s", "simulation.duration": "52w", "team.developers": 40, **INSTANT_PIPELINE}

    problem = refusal(load_scenario(TRUNK, overrides=overrides))

    assert problem.field == "work.feature_effort"
    assert "a longer work.feature_effort" in problem.message


def test_a_year_of_sub_second_coding_through_review_and_ci_is_not_absurd():
    """The engine codes a feature for at least a minute and review and CI pace the rest (~2e5 events)."""
    scenario = load_scenario(TRUNK, overrides={"work.feature_effort": "0.5s", "simulation.duration": "52w"})

    assert check_size(scenario).events < 1e6


def test_a_trunk_cut_into_millions_of_changes_per_feature_is_refused_before_it_is_planned():
    scenario = load_scenario(TRUNK, overrides={"strategy.max_change_lines": 1e-6})

    problem = refusal(scenario, file=TRUNK)

    assert (problem.file, problem.line, problem.field) == (str(TRUNK), line_of(TRUNK, "max_change_lines:"), "strategy.max_change_lines")
    assert f"at most {MAX_CHANGES_PER_FEATURE:,} changes" in problem.message


def test_scaled_trunk_cut_into_tasks_of_seconds_is_refused_naming_its_own_batch_field():
    scenario = Scenario.model_validate({"strategy": {"name": "scaled-trunk-based", "max_branch_hours": "1s"}})

    problem = refusal(scenario)

    assert problem.field == "strategy.max_branch_hours"
    assert "(allowed: a larger strategy.max_branch_hours, so a feature is at most" in problem.message


class ChunkedParams(StrategyParams):
    """A strategy the size estimate has never heard of: it must ask, not guess by name."""

    name: str = "chunked"
    chunks: int = 3
    release_every: float = 0.0

    batch_field = "chunks"
    batch_advice = "fewer strategy.chunks"
    reference_changes_per_feature = 3.0

    def changes_per_feature(self, effort_hours: float, lines: float) -> float:
        return float(self.chunks)

    def release_interval_hours(self) -> float:
        return self.release_every


def with_strategy(params: StrategyParams, **sections) -> Scenario:
    base = Scenario.model_validate({"strategy": {"name": "github-flow"}, **sections})
    return base.model_copy(update={"strategy": params})  # not validated: the union knows only registered strategies


def test_the_estimate_asks_the_strategy_how_many_changes_a_feature_becomes():
    assert estimate(with_strategy(ChunkedParams(chunks=7))).changes_per_feature == 7.0
    assert estimate(with_strategy(ChunkedParams(chunks=1))).changes_per_feature == 1.0


def test_the_estimate_asks_the_strategy_how_often_it_releases():
    continuous = estimate(with_strategy(ChunkedParams()))
    monthly = estimate(with_strategy(ChunkedParams(release_every=4 * 168.0)))

    assert monthly.deployments == pytest.approx(12 / 4) and continuous.deployments > monthly.deployments


def test_an_unknown_strategys_batch_field_is_named_when_it_makes_features_too_many_changes():
    problem = refusal(with_strategy(ChunkedParams(chunks=MAX_CHANGES_PER_FEATURE + 1)))

    assert problem.field == "strategy.chunks"
    assert "(allowed: fewer strategy.chunks, so a feature is at most" in problem.message


def test_an_unknown_strategys_batch_field_is_named_as_the_cause_of_too_many_events():
    problem = refusal(with_strategy(ChunkedParams(chunks=3000)), limit=1_000)

    assert problem.field == "strategy.chunks" and "(allowed: fewer strategy.chunks, or raise" in problem.message


def test_a_strategy_without_a_batch_field_is_never_blamed():
    class Whole(ChunkedParams):
        batch_field = None

    problem = refusal(with_strategy(Whole(chunks=1), team={"developers": 100_000}))

    assert problem.field == "team.developers"


def test_a_millennium_is_refused_naming_the_duration():
    problem = refusal(load_scenario(TRUNK, overrides={"simulation.duration": "52000w"}))

    assert problem.field == "simulation.duration" and "a shorter simulation.duration" in problem.message


def test_raising_max_events_lets_a_big_scenario_through_when_it_is_meant():
    scenario = load_scenario(TRUNK, overrides={"team.developers": 100_000, "simulation.max_events": 10**9})

    size = check_size(scenario)

    assert isinstance(size, SizeEstimate) and 2e7 < size.events < 1e9


def test_an_explicit_limit_replaces_max_events():
    scenario = load_scenario(TRUNK)

    assert check_size(scenario, limit=1e6).events < 1e6
    assert "more than the limit of 1,000" in refusal(scenario, limit=1_000).message


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(SCENARIOS)))
def test_every_shipped_scenario_passes_the_guard(path):
    assert check_size(load_scenario(path)).events < 1e5


def measured_events(scenario: Scenario) -> int:
    model = DeliveryModel(scenario, seed=1, replication=0)
    model.run()
    return next(model.env._eid)  # SimPy's count of scheduled events, what max_events bounds


def test_the_estimate_is_within_a_factor_of_two_and_a_half_of_measured_events(record_property):
    """Calibration against the real engine: every shipped scenario at full length, one replication."""
    rows = []
    for path in SHIPPED:
        scenario = load_scenario(path)
        rows.append((str(path.relative_to(SCENARIOS)), estimate(scenario).events, measured_events(scenario)))
    record_property("estimated_vs_measured_events", rows)

    for name, estimated, measured in rows:
        assert 0.4 <= estimated / measured <= 2.5, (name, estimated, measured)


EXTREMES = st.fixed_dictionaries(
    {
        "team.developers": st.sampled_from([1, 7, 1000, 100_000]),
        "team.calendar.enabled": st.booleans(),
        "team.focus_block": st.sampled_from(["1s", "2h", "168000h"]),  # working hours: no d or w
        "work.feature_effort": st.sampled_from(
            ["0s", "1s", "16h", "1.68e8h", {"dist": "lognormal", "median": "1s", "p90": "1e300h"}, {"dist": "uniform", "low": 0, "high": 0}]
        ),
        "work.lines_per_coding_hour": st.sampled_from([1e-9, 20, 10_000]),
        "work.defects_per_100_lines": st.sampled_from([0, 0.15, 100]),
        "review.enabled": st.booleans(),
        "review.duration": st.sampled_from(["0s", "20m", "1e300h"]),
        "ci.duration": st.sampled_from(["0s", "10m", "1e300h"]),
        "ci.flaky_failure_probability": st.sampled_from([0, 0.5, 1]),
        "merging.semantic_breakage_probability": st.sampled_from([0, 0.03, 1]),
        "deployment.mode": st.sampled_from(["continuous", "cadence"]),
        "deployment.pipeline_duration": st.sampled_from(["0s", "15m"]),
        "simulation.duration": st.sampled_from(["1s", "12w", "1e300h"]),
        "simulation.warm_up": st.just(0),
    }
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(strategy=st.sampled_from(list(REGISTRY)), overrides=EXTREMES)
def test_the_estimate_never_fails_and_the_guard_only_ever_refuses_with_a_scenario_error(strategy, overrides):
    scenario = Scenario.model_validate({"strategy": {"name": strategy}}).with_overrides(overrides)

    size = estimate(scenario)

    assert not math.isnan(size.events) and size.events >= 0
    try:
        check_size(scenario)
    except ScenarioError as error:
        assert len(error.problems) == 1 and "\n" not in str(error)


# --- Stopped while running ----------------------------------------------------------------


def test_a_run_past_max_events_stops_with_a_clear_error():
    scenario = small("trunk-based", simulation={"max_events": 1000})

    with pytest.raises(SimulationLimitError, match=r"more than simulation.max_events=1000 events; raise the bound or shorten"):
        simulate(scenario, seed=1)


def test_a_run_past_max_wall_seconds_stops_with_a_clear_error():
    scenario = small("gitflow", simulation={"max_wall_seconds": 1e-9})

    with pytest.raises(SimulationLimitError, match=r"more than simulation.max_wall_seconds=1e-09 s; raise the bound"):
        simulate(scenario, seed=1)


def test_the_limit_error_reaches_the_caller_from_a_worker_process():
    """Not a BrokenProcessPool: the error pickles and the pool shuts down."""
    scenario = small("github-flow", simulation={"max_wall_seconds": 1e-9})

    with pytest.raises(SimulationLimitError, match="max_wall_seconds"):
        trunksim.run([scenario], replications=2, seed=1, jobs=2)


def test_the_api_refuses_a_scenario_that_would_pass_max_events_before_running():
    with pytest.raises(ScenarioError, match="simulation.max_events = 1,000"):
        trunksim.run([small("trunk-based", simulation={"max_events": 1000})], replications=1, seed=1)


def run_cli(*args: str):
    return runner.invoke(app, ["run", *map(str, args)])


@pytest.mark.parametrize(
    ("setting", "expected"),
    [("simulation.max_wall_seconds=1e-9", "simulation.max_wall_seconds=1e-09 s"), ("simulation.max_events=1000", "simulation.max_events")],
)
def test_the_cli_reports_a_bound_as_one_line_and_exit_one(tmp_path, setting, expected):
    result = run_cli(TRUNK, "-n", 2, "-q", "--no-plots", "--set", "simulation.duration=3w", "--set", "simulation.warm_up=1w",
                     "--set", setting, "-o", tmp_path / "out")

    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert len(result.stderr.splitlines()) == 1 and expected in result.stderr
    assert "Traceback" not in result.output


def test_the_cli_refuses_a_hundred_thousand_developers_before_writing_anything(tmp_path):
    out = tmp_path / "out"

    result = run_cli(TRUNK, "-q", "--set", "team.developers=100000", "-o", out)

    assert result.exit_code == 1
    assert result.stderr.startswith("<override>:?: team.developers: one replication would need about")
    assert not out.exists()


def test_validate_refuses_an_absurd_file_with_one_located_line(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_text("strategy: {name: github-flow}\nteam:\n  developers: 100000\n", encoding="utf-8")

    result = runner.invoke(app, ["validate", str(path)])

    assert result.exit_code == 1
    assert result.stdout.startswith(f"{path}:3: team.developers: one replication would need about")
    assert len(result.stdout.splitlines()) == 1


def test_the_cli_refuses_an_absurd_sweep_point_with_one_line(tmp_path):
    """Found here: the point was refused inside run_batch and escaped as a traceback; fixed in the CLI (54313d4)."""
    done = subprocess.run(
        [sys.executable, "-m", "trunksim", "run", str(TRUNK), "--grid", "team.developers=[8,100000]", "-q", "-o", str(tmp_path / "o")],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )

    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert len(done.stderr.splitlines()) == 1 and "team.developers" in done.stderr


# --- Every parameter that multiplies events (issue 12, item 8) ----------------------------


def test_focus_blocks_of_a_third_of_a_second_are_refused_naming_the_focus_block():
    """The issue's case: three weeks of 0.36-second focus blocks (~9.9 million events, measured 8.1 million,
    80 s of one loaded core per replication) passed the old 20-million bound, blamed on nothing."""
    overrides = {"team.focus_block": 0.0001, "simulation.duration": "3w", "simulation.warm_up": "1w"}

    problem = refusal(load_scenario(TRUNK, overrides=overrides), file=TRUNK, overrides=overrides)

    assert (problem.file, problem.field) == ("<override>", "team.focus_block")
    assert "more than simulation.max_events = 5,000,000" in problem.message
    assert "focus blocks" in problem.message and "(allowed: a longer team.focus_block, or raise" in problem.message


def test_the_field_blamed_is_the_one_whose_default_shrinks_the_estimate_most():
    """Eight developers at the shipped default are never blamed for what a focus block does."""
    problem = refusal(load_scenario(TRUNK, overrides={"team.focus_block": "1s"}))

    assert problem.field == "team.focus_block"


def test_ci_that_never_passes_with_instant_triage_is_refused():
    """Every run flaky: the change is triaged and re-run until the run ends; the old estimate saw ~2,000 events."""
    overrides = {"ci.flaky_failure_probability": 1, "ci.triage_time": "0.36s", "ci.duration": "0.36s"}

    problem = refusal(load_scenario(TRUNK, overrides=overrides))

    assert problem.field == "ci.flaky_failure_probability"
    assert "(allowed: a lower ci.flaky_failure_probability, or raise" in problem.message


def test_ci_that_never_passes_is_paced_by_the_runners_when_triage_takes_no_time():
    assert check_size(load_scenario(TRUNK, overrides={"ci.flaky_failure_probability": 1, "ci.triage_time": 0})).events < 1e5


def test_a_periodic_check_every_fraction_of_a_second_is_refused_naming_it():
    if "error_budget" not in Scenario.model_fields:
        pytest.skip("no error budget in this schema")
    overrides = {"error_budget.enabled": True, "error_budget.check_every": "0.36s"}

    problem = refusal(load_scenario(TRUNK, overrides=overrides))

    assert problem.field == "error_budget.check_every"


RED_CYCLES = [
    {"ci.flaky_failure_probability": 0.9},
    {"ci.flaky_failure_probability": 1.0},
    {"ci.flaky_failure_probability": 1.0, "ci.triage_time": 0},
    {"ci.flaky_failure_probability": 1.0, "ci.triage_time": "1m", "ci.duration": "1m", "team.developers": 2},
    {"ci.flaky_failure_probability": 0.99, "ci.automatic_retries": 0, "ci.triage_time": "1m"},
    {"team.focus_block": "36s"},
]


@pytest.mark.parametrize("overrides", RED_CYCLES, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
def test_the_estimate_follows_red_ci_cycles_and_short_focus_blocks_within_a_factor_of_two_and_a_half(overrides):
    scenario = load_scenario(TRUNK, overrides={"simulation.duration": "2w", "simulation.warm_up": 0, **overrides})

    ratio = estimate(scenario).events / measured_events(scenario)

    assert 0.4 <= ratio <= 2.5, ratio


# --- Bounds checked every few thousand events, and the scenario named ---------------------------


def test_a_wall_clock_bound_stops_a_dense_replication_within_moments():
    """Checked once per simulated week before, ``max_wall_seconds: 1`` fired after 31 s."""
    import time

    scenario = load_scenario(TRUNK, overrides={
        "team.focus_block": 0.0001, "simulation.duration": "2w", "simulation.warm_up": 0,
        "simulation.max_events": 10**9, "simulation.max_wall_seconds": 0.5,
    })

    started = time.perf_counter()
    with pytest.raises(SimulationLimitError, match="simulation.max_wall_seconds=0.5 s") as caught:
        simulate(scenario, seed=3, replication=2)

    assert time.perf_counter() - started < 5
    assert str(caught.value).startswith("scenario 'trunk-based', replication 2 (seed 3): stopped at ")


def test_an_event_bound_stops_a_replication_within_one_check_of_the_bound():
    from trunksim.engine.model import CHECK_EVERY_EVENTS

    scenario = small("trunk-based", team={"focus_block": 0.001}, simulation={"max_events": 20_000})
    model = DeliveryModel(scenario, seed=1)

    with pytest.raises(SimulationLimitError, match="scenario 'trunk-based', replication 0 \\(seed 1\\): stopped at"):
        model.run()

    assert next(model.env._eid) <= 20_000 + 2 * CHECK_EVERY_EVENTS
    assert model.env.now < scenario.simulation.duration


def test_checking_the_bounds_as_often_as_every_event_changes_no_number(monkeypatch):
    import pandas as pd

    import trunksim.engine.model as model_module

    scenario = small("gitflow")
    usual = simulate(scenario, seed=5)
    monkeypatch.setattr(model_module, "CHECK_EVERY_EVENTS", 1)
    checked = simulate(scenario, seed=5)

    for table in ("changes", "deployments", "incidents", "ci_runs", "activity", "merges", "branch_status"):
        pd.testing.assert_frame_equal(getattr(usual, table), getattr(checked, table), check_exact=True)


def test_the_cli_limit_line_names_the_scenario(tmp_path):
    result = run_cli(TRUNK, "-n", 1, "-q", "--no-plots", "--set", "simulation.duration=3w", "--set", "simulation.warm_up=1w",
                     "--set", "simulation.max_wall_seconds=1e-9", "-o", tmp_path / "out")

    assert result.exit_code == 1 and len(result.stderr.splitlines()) == 1
    assert "scenario 'trunk-based', replication 0 (seed 1): stopped at" in result.stderr

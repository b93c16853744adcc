"""Sweeps and the Python API take effect or are refused before any compute, with one located line.

Issue 12, items 4, 10 (the sweep's names) and 12: sweeping the seed or the replication
count, the whole strategy, a grid mixing a distribution and a constant, a seed past
2**63, a ``--grid`` path twice, a path both ``--set`` and swept, a repeated value, a
valid long name under a sweep, ``trunksim.sweep('file.yaml')``, a scalar grid value,
``model_copy`` bypassing validation, a negative seed and empty frames.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import trunksim
from trunksim import plotting
from trunksim.cli import app
from trunksim.engine.model import DeliveryModel
from trunksim.experiment import (
    MAX_NAME_LENGTH,
    RunOptions,
    check_results,
    columns_for,
    expand_sweep,
    parse_grid,
    point_name,
    scenario_points,
    simulate,
)
from trunksim.scenario import ScenarioError, load_scenario
from trunksim.scenario.schema import MAX_SWEEP_POINTS, SWEEP_REFUSED

from conftest import ROOT, SCENARIOS, small

runner = CliRunner()
TRUNK = SCENARIOS / "trunk-based.yaml"
SHORT = {"simulation.duration": "2w", "simulation.warm_up": 0}


@pytest.fixture(scope="module")
def base():
    return small("trunk-based", simulation={"duration": "2w", "warm_up": 0, "replications": 2})


def refused(call) -> str:
    """The one line a ScenarioError says."""
    with pytest.raises(ScenarioError) as caught:
        call()
    assert len(caught.value.problems) == 1, caught.value.problems
    text = str(caught.value)
    assert "\n" not in text
    return text


def counting_replicate(monkeypatch):
    """Count replications that start: a refusal must come before any."""
    import trunksim.experiment as experiment

    calls = []
    original = experiment.replicate

    def counted(task):
        calls.append(task)
        return original(task)

    monkeypatch.setattr(experiment, "replicate", counted)
    return calls


# --- Item 4: seed, replications, strategy are refused before any compute --------------------


@pytest.mark.parametrize("path", ["simulation.seed", "simulation.replications"])
def test_sweeping_the_seed_or_the_replications_is_refused_before_anything_runs(base, monkeypatch, path):
    calls = counting_replicate(monkeypatch)

    line = refused(lambda: trunksim.sweep(base, {path: [1, 2]}, replications=1))

    assert line.startswith(f"<override>:?: {path}: cannot be swept: ")
    assert "--seed" in line if path.endswith("seed") else "-n" in line
    assert calls == []


def test_a_variant_setting_the_seed_is_refused_too(base):
    line = refused(lambda: expand_sweep(base, None, [{"name": "other", "set": {"simulation.seed": 9}}]))

    assert "variants.0.set.simulation.seed: cannot be swept" in line


def test_a_whole_section_holding_the_seed_is_refused(base):
    line = refused(lambda: expand_sweep(base, {"simulation": [{"duration": "2w"}]}))

    assert "simulation: cannot be swept as a whole: it holds simulation.seed" in line


def test_a_grid_over_the_whole_strategy_is_refused_before_compute_with_what_to_do_instead(base, monkeypatch):
    calls = counting_replicate(monkeypatch)

    line = refused(lambda: trunksim.sweep(base, {"strategy": [{"name": "trunk-based"}, {"name": "github-flow"}]}))

    assert line.startswith("<override>:?: strategy: cannot be swept") and "strategy.max_change_lines" in line
    assert calls == []


def test_variants_that_set_the_strategy_do_compare_strategies(base):
    frame = trunksim.sweep(base, variants=[{"name": "tbd", "set": {}}, {"name": "gf", "set": {"strategy": {"name": "github-flow"}}}],
                           replications=1, seed=1)

    assert list(frame["strategy"]) == ["trunk-based", "github-flow"] and list(frame["variant"]) == ["tbd", "gf"]


def test_a_grid_mixing_a_constant_and_a_distribution_gives_one_text_column_that_parquet_takes(base, tmp_path):
    grid = {"ci.duration": ["10m", {"dist": "exponential", "mean": "10m"}]}

    frame = trunksim.sweep(base, grid, replications=1, seed=1)

    values = list(frame["ci.duration"])
    assert all(isinstance(v, str) for v in values)
    assert json.loads(values[0]) == {"dist": "constant", "value": pytest.approx(1 / 6)}
    assert json.loads(values[1])["dist"] == "exponential"
    frame.to_parquet(tmp_path / "f.parquet")  # crashed after all the compute before


def test_a_grid_of_constants_alone_stays_numbers(base):
    points = expand_sweep(base, {"ci.duration": ["10m", "20m"]})

    assert [p.parameters["ci.duration"] for p in points] == pytest.approx([1 / 6, 1 / 3])


@pytest.mark.parametrize("seed", [-1, 2**63, 2**64])
def test_a_seed_outside_the_schema_bound_is_refused_before_any_compute(base, monkeypatch, seed):
    calls = counting_replicate(monkeypatch)

    with pytest.raises(ValueError, match=r"seed must be from 0 to 2\*\*63 - 1 \(the bound of simulation.seed\)"):
        trunksim.run(base, seed=seed, replications=1)
    assert calls == []


def test_the_largest_seed_runs_and_survives_parquet(base, tmp_path):
    frame = trunksim.run(base, seed=2**63 - 1, replications=1)

    frame.to_parquet(tmp_path / "f.parquet")
    assert frame["seed"].iloc[0] == 2**63 - 1


@pytest.mark.parametrize(
    ("keywords", "error", "text"),
    [
        ({"seed": True}, TypeError, "seed must be a whole number"),
        ({"seed": 1.5}, TypeError, "seed must be a whole number"),
        ({"replications": 0}, ValueError, "replications must be from 1 to 100,000"),
        ({"replications": 100_001}, ValueError, "replications must be from 1 to 100,000"),
        ({"jobs": 0}, ValueError, "jobs must be at least 1"),
    ],
)
def test_run_options_are_checked_when_made(keywords, error, text):
    with pytest.raises(error, match=text):
        RunOptions(**keywords)


def test_numpy_integers_are_whole_numbers():
    assert RunOptions(seed=np.int64(3), replications=np.int32(2)).seed == 3


@pytest.mark.parametrize(
    ("grid", "expected"),
    [
        ({"ci.runners": [1, 1]}, "ci.runners: the value 1 is given twice"),
        ({"ci.runners": [1, 1.0]}, "ci.runners: the values 1 and 1.0 are the same value"),
        ({"ci.duration": ["10m", "600s"]}, "ci.duration: the values '10m' and '600s' are the same value"),
        ({"ci.runners": []}, "ci.runners: has no values"),
        ({"ci": [{"runners": 2}], "ci.runners": [1]}, "ci.runners: ci.runners is inside ci, which the sweep also sets"),
    ],
)
def test_grids_that_would_make_identical_or_clashing_points_are_refused(base, grid, expected):
    assert expected in refused(lambda: expand_sweep(base, grid))


def test_variants_with_one_name_are_refused(base):
    assert "variants.1.name: variant name 'a' is also variant 1's" in refused(
        lambda: expand_sweep(base, None, [{"name": "a", "set": {}}, {"name": "a", "set": {"ci.runners": 2}}])
    )


def test_a_sweep_past_the_point_bound_is_refused_before_any_point_is_made(base):
    grid = {"ci.runners": list(range(1, 101)), "team.developers": list(range(1, 102))}

    line = refused(lambda: expand_sweep(base, grid))

    assert f"the sweep has 10,100 points (allowed: at most {MAX_SWEEP_POINTS:,}" in line


# --- The command line's --grid and --set (parse_grid, scenario_points) ------------------------


def test_the_same_grid_path_twice_is_refused_with_one_line():
    line = refused(lambda: parse_grid(["ci.runners=[1,2]", "ci.runners=[4]"]))

    assert line == (
        "<override>:?: ci.runners: --grid ci.runners is given twice (allowed: each path once, with every value in one list: "
        "ci.runners=[a, b, c])"
    )


@pytest.mark.parametrize("fixed", [{"ci.runners": 3}, {"ci": {"runners": 3}}])
def test_a_path_both_set_and_swept_is_refused(fixed):
    line = refused(lambda: parse_grid(["ci.runners=[1,2]"], fixed))

    assert line.startswith("<override>:?: ci.runners: is set") and "by --set and swept by --grid" in line


@pytest.mark.parametrize("text", ["simulation.seed=[1,2]", "simulation.replications=[1,2]", "strategy=[{name: gitflow}]", "ci.runners=[2,2]"])
def test_parse_grid_refuses_what_expansion_would(text):
    assert refused(lambda: parse_grid([text])).startswith(f"<override>:?: {text.split('=')[0]}: ")


def test_parse_grid_reads_one_value_as_a_one_value_list():
    assert parse_grid(["ci.runners=3", "ci.duration=[5m, 10m]"], {"team.developers": 3}) == {
        "ci.runners": [3], "ci.duration": ["5m", "10m"],
    }


def test_a_file_sweep_block_that_sweeps_a_set_path_is_refused(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("strategy: {name: trunk-based}\nsweep:\n  grid: {ci.runners: [1, 2]}\n", encoding="utf-8")
    scenario = load_scenario(path, overrides={"ci.runners": 3})

    line = refused(lambda: scenario_points(scenario, fixed={"ci.runners": 3}))

    assert line.startswith("<scenario 'scenario'>:?: ci.runners: is set by --set and swept by the file's sweep: block")


def test_scenario_points_follow_the_grid_then_the_block_then_the_scenario(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("strategy: {name: trunk-based}\nsweep:\n  grid: {ci.runners: [1, 2]}\n", encoding="utf-8")
    scenario = load_scenario(path)

    assert len(scenario_points(scenario, {"ci.duration": ["5m"]})) == 1
    assert [p.parameters for p in scenario_points(scenario)] == [{"ci.runners": 1}, {"ci.runners": 2}]
    assert scenario_points(small())[0].parameters == {}


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["--grid", "ci.runners=[1,2]", "--grid", "ci.runners=[4]"], "<override>:?: ci.runners: --grid ci.runners is given twice"),
        (["--set", "ci.runners=3", "--grid", "ci.runners=[1,2]"], "<override>:?: ci.runners: is set by --set and swept by --grid"),
        (["--grid", "simulation.seed=[1,2]"], "<override>:?: simulation.seed: cannot be swept"),
        (["--grid", "ci.runners=[1,1]"], "<override>:?: ci.runners: the value 1 is given twice"),
    ],
)
def test_the_cli_refuses_each_sweep_mistake_with_one_line_before_making_a_folder(tmp_path, arguments, expected):
    out = tmp_path / "out"

    result = runner.invoke(app, ["run", str(TRUNK), "-q", "-n", "1", *arguments, "-o", str(out)])

    assert result.exit_code == 1
    assert result.stderr.startswith(expected) and len(result.stderr.splitlines()) == 1
    assert not out.exists()


def test_the_cli_refuses_a_seed_grid_before_making_a_folder(tmp_path):
    """Already through expand_sweep (or the --grid check), whatever the wiring."""
    out = tmp_path / "out"

    result = runner.invoke(app, ["run", str(TRUNK), "-q", "-n", "1", "--grid", "simulation.seed=[1,2]", "-o", str(out)])

    assert result.exit_code == 1 and len(result.stderr.splitlines()) == 1 and "cannot be swept" in result.stderr
    assert not out.exists()


# --- Item 10: a valid name never becomes too long because of its sweep ------------------------


def test_a_199_character_name_runs_under_a_grid_and_points_keep_distinct_names_within_the_limit(base):
    long = base.with_overrides({"name": "n" * 199})

    points = expand_sweep(long, {"ci.runners": [1, 2], "ci.flaky_failure_probability": [0, 0.05]})

    names = [p.scenario.name for p in points]
    assert all(len(name) == MAX_NAME_LENGTH for name in names) and len(set(names)) == 4
    assert names[0].endswith("… [ci.runners=1, ci.flaky_failure_probability=0]")


def test_a_label_too_long_even_alone_is_cut_with_a_digest_so_points_differ(base):
    points = expand_sweep(base, {"description": ["a" * 400, "a" * 399 + "b"]})

    names = [p.scenario.name for p in points]
    assert len(set(names)) == 2 and all(len(name) <= MAX_NAME_LENGTH for name in names)
    assert [p.parameters["description"][-1] for p in points] == ["a", "b"]  # the columns hold the values in full


def test_a_short_name_is_untouched():
    assert point_name("trunk", "ci.runners=2") == "trunk [ci.runners=2]"


def test_a_199_character_name_runs_under_grid_from_the_command_line(tmp_path):
    out = tmp_path / "out"

    result = runner.invoke(app, ["run", str(TRUNK), "-q", "-n", "1", "--no-plots", "--set", "name=" + "n" * 199,
                                 "--set", "simulation.duration=1w", "--set", "simulation.warm_up=0",
                                 "--grid", "ci.runners=[1,2]", "-o", str(out)])

    assert result.exit_code == 0, result.output
    assert (out / "replications.csv").exists()


# --- Item 12: the Python API ---------------------------------------------------------------------


def test_sweep_of_a_file_runs_the_files_own_sweep_block(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(textwrap.dedent("""\
        strategy: {name: trunk-based}
        team: {developers: 3}
        simulation: {duration: 1w, warm_up: 0, replications: 1}
        sweep:
          grid: {ci.runners: [1, 2]}
          variants:
            - {name: slow-ci, set: {ci.duration: 1h}}
    """), encoding="utf-8")

    frame = trunksim.sweep(str(path))

    assert list(frame["scenario"]) == ["scenario [ci.runners=1]", "scenario [ci.runners=2]", "scenario [slow-ci]"]
    assert list(frame["ci.runners"].iloc[:2]) == [1, 2] and frame["variant"].iloc[2] == "slow-ci"


def test_sweep_without_a_grid_of_a_scenario_without_a_block_says_so(base):
    with pytest.raises(ValueError, match="no sweep: block of its own"):
        trunksim.sweep(base)


@pytest.mark.parametrize("value", [3, np.int64(3), "3"])
def test_a_single_value_in_a_grid_is_a_one_value_sweep(base, value):
    points = expand_sweep(base, {"ci.runners": value})

    assert [p.parameters for p in points] == [{"ci.runners": 3}]


def test_text_is_one_value_not_its_characters(base):
    assert [p.scenario.name for p in expand_sweep(base, {"ci.duration": "10m"})] == ["trunk-based [ci.duration=10m]"]


@pytest.mark.parametrize("values", [range(1, 3), (1, 2), np.array([1, 2])])
def test_any_iterable_of_values_is_a_grid(base, values):
    assert [p.parameters["ci.runners"] for p in expand_sweep(base, {"ci.runners": values})] == [1, 2]


def test_a_grid_that_is_not_a_mapping_is_a_clear_type_error(base):
    with pytest.raises(TypeError, match=r"a sweep grid must be a mapping of dotted field path to values"):
        trunksim.sweep(base, [("ci.runners", [1, 2])])


def test_a_scenario_changed_with_model_copy_is_validated_again_before_it_runs(base, monkeypatch):
    calls = counting_replicate(monkeypatch)
    broken = base.model_copy(update={"ci": base.ci.model_copy(update={"runners": 0})})

    for call in (lambda: trunksim.run(broken, replications=1), lambda: simulate(broken)):
        line = refused(call)
        assert line.startswith("<scenario 'trunk-based'>:?: ci.runners: 0 is out of range")
    assert calls == []


def test_a_value_copied_in_with_the_wrong_type_is_named(base):
    sneaky = base.model_copy(update={"ci": base.ci.model_copy(update={"runners": "3"})})

    line = refused(lambda: simulate(sneaky))

    assert "ci.runners: was set without validation (model_copy(update=...))" in line and "with_overrides" in line


def test_a_valid_scenario_passes_the_check_unchanged(base):
    assert simulate(base, seed=1).scenario is base


@pytest.mark.parametrize(("keywords", "text"), [({"seed": -1}, "seed must be from 0"), ({"replication": -1}, "replication must be at least 0")])
def test_simulate_says_what_is_wrong_with_a_seed_or_replication(base, keywords, text):
    with pytest.raises(ValueError, match=text):
        simulate(base, **keywords)


def test_run_with_a_negative_seed_gives_trunksims_message_not_numpys(base):
    with pytest.raises(ValueError) as caught:
        trunksim.run(base, seed=-1)

    assert "simulation.seed" in str(caught.value) and "SeedSequence" not in str(caught.value)


EMPTY = pd.DataFrame(columns=columns_for([]))


@pytest.mark.parametrize(
    "call",
    [
        lambda f: trunksim.summarize(f),
        lambda f: plotting.metric_distribution(f, "deploys_per_day"),
        lambda f: plotting.stage_breakdown(f),
        lambda f: plotting.dora_panel(f),
        lambda f: plotting.sweep_plot(f.assign(**{"ci.runners": []}), "ci.runners", "deploys_per_day"),
        lambda f: plotting.tornado(f.assign(**{"ci.runners": []}), "deploys_per_day"),
        lambda f: check_results(f, "write_outputs"),
    ],
    ids=["summarize", "metric_distribution", "stage_breakdown", "dora_panel", "sweep_plot", "tornado", "write_outputs-check"],
)
def test_an_empty_results_frame_is_a_clear_value_error(call):
    with pytest.raises(ValueError, match=r"needs a results frame with at least one row"):
        call(EMPTY)


def test_level_shares_of_an_empty_frame_is_a_clear_value_error():
    with pytest.raises(ValueError, match=r"level_shares\(\) needs a results frame with at least one row"):
        plotting.level_shares(EMPTY.assign(dora_level=[]))


def test_save_standard_plots_refuses_an_empty_frame_before_making_its_folder(tmp_path):
    with pytest.raises(ValueError, match="at least one row"):
        plotting.save_standard_plots(EMPTY, tmp_path / "plots")

    assert not (tmp_path / "plots").exists()


@pytest.mark.parametrize(
    "call",
    [lambda: trunksim.summarize(pd.DataFrame()), lambda: plotting.metric_distribution(pd.DataFrame({"scenario": ["a"]}), "x")],
)
def test_a_frame_without_the_columns_read_says_which(call):
    with pytest.raises(ValueError, match=r"needs a results frame with the column"):
        call()


def test_summarize_of_an_unknown_metric_says_so(base):
    frame = trunksim.run(base, replications=1, seed=1)

    with pytest.raises(ValueError, match="summarize\\(\\): the frame has no column 'nope'"):
        trunksim.summarize(frame, ["nope"])


def test_a_plot_given_something_else_than_a_frame_is_a_type_error():
    with pytest.raises(TypeError, match="needs a results frame"):
        plotting.stage_breakdown([1, 2])


def test_write_outputs_refuses_an_empty_frame_before_writing(tmp_path):
    from trunksim import batch

    with pytest.raises(ValueError, match="at least one row"):
        batch.write_outputs(EMPTY, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("block", "line", "field", "says"),
    [
        ("  grid:\n    ci.runners: [1, 2]\n    simulation.seed: [1, 2]\n", 5, "sweep.grid.simulation.seed", "cannot be swept"),
        ("  grid:\n    ci.runners: [1, 2, 1]\n", 4, "sweep.grid.ci.runners", "the value 1 is given twice"),
        ("  grid:\n    ci.runners: []\n", 4, "sweep.grid.ci.runners", "has no values"),
        ("  grid:\n    strategy: [{name: gitflow}]\n", 4, "sweep.grid.strategy", "cannot be swept"),
        ("  variants:\n    - {name: a, set: {ci.runners: 2}}\n    - name: a\n      set: {ci.runners: 3}\n", 5,
         "sweep.variants.1.name", "variant name 'a' is also variant 1's"),
        ("  variants:\n    - {name: a, set: {simulation.replications: 2}}\n", 4,
         "sweep.variants.0.set.simulation.replications", "cannot be swept"),
    ],
)
def test_a_files_sweep_block_is_checked_where_it_is_written(tmp_path, block, line, field, says):
    path = tmp_path / "s.yaml"
    path.write_text("strategy: {name: trunk-based}\nsweep:\n" + block, encoding="utf-8")

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    (problem,) = caught.value.problems
    assert (problem.file, problem.line, problem.field) == (str(path), line, field) and says in problem.message

"""One options object for run, sweep and run_batch; one check of the metrics profile and the DORA year."""

from __future__ import annotations

import dataclasses
import inspect

import pandas as pd
import pytest

from trunksim.batch import run_batch
from trunksim.experiment import RUN_OPTION_NAMES, Measure, Point, RunOptions, run, sweep
from trunksim.metrics import check_profile, check_year, compute_metrics
from trunksim.metrics.levels import overall_level
from trunksim.metrics.profiles import profile_metrics

from conftest import small

PROFILE_MESSAGE = "unknown metrics profile 'jira' (allowed: trunksim, fourkeys, devlake)"
YEAR_MESSAGE = "unknown DORA year 2019 (allowed: 2023, 2024)"


@pytest.mark.parametrize("function", [run, sweep, run_batch])
def test_every_entry_point_shows_the_options_as_keywords(function):
    parameters = inspect.signature(function).parameters
    for field in dataclasses.fields(RunOptions):
        assert parameters[field.name].kind is inspect.Parameter.KEYWORD_ONLY
        assert parameters[field.name].default == field.default
    assert "options" in parameters
    assert RUN_OPTION_NAMES == tuple(f.name for f in dataclasses.fields(RunOptions))


@pytest.mark.parametrize("function, arguments", [(run, ()), (sweep, ()), (run_batch, ("out",))])
def test_an_unknown_keyword_is_a_type_error_naming_the_function(function, arguments):
    with pytest.raises(TypeError, match=rf"{function.__name__}\(\) got an unexpected keyword argument 'replicatons'"):
        function([Point(small())], *arguments, replicatons=2)


def test_keywords_replace_the_fields_of_given_options():
    base = RunOptions(replications=4, seed=9, metrics_profile="devlake")
    options = RunOptions.of(base, {"seed": 1, "jobs": 2}, "run")
    assert (options.replications, options.seed, options.jobs, options.metrics_profile) == (4, 1, 2, "devlake")
    assert options.measure == Measure("devlake", 2023)
    assert RunOptions.of(None, {}, "run") == RunOptions()


@pytest.mark.parametrize(
    "make",
    [
        lambda: RunOptions(metrics_profile="jira"),
        lambda: Measure(profile="jira"),
        lambda: check_profile("jira"),
        lambda: run([Point(small())], metrics_profile="jira"),
    ],
)
def test_an_unknown_profile_has_one_message(make):
    with pytest.raises(ValueError) as error:
        make()
    assert str(error.value) == PROFILE_MESSAGE


@pytest.mark.parametrize(
    "make",
    [
        lambda: RunOptions(dora_year=2019),
        lambda: Measure(year=2019),
        lambda: check_year(2019),
        lambda: overall_level({"deploys_per_day": 1.0}, year=2019),
        lambda: sweep(small(), {"ci.runners": [1]}, dora_year=2019),
    ],
)
def test_an_unknown_year_has_one_message(make):
    with pytest.raises(ValueError) as error:
        make()
    assert str(error.value) == YEAR_MESSAGE


def test_metrics_functions_use_the_same_check():
    from trunksim.experiment import simulate

    result = simulate(small(simulation={"duration": "2w"}), seed=1)
    for call in (lambda: compute_metrics(result, "jira"), lambda: profile_metrics(result, "jira")):
        with pytest.raises(ValueError, match=r"\(allowed: trunksim, fourkeys, devlake\)$"):
            call()
    with pytest.raises(ValueError, match=r"\(allowed: 2023, 2024\)$"):
        compute_metrics(result, year=2019)


def test_an_options_object_and_keywords_give_the_same_frame(tmp_path):
    scenarios = [small("trunk-based"), small("github-flow")]
    by_keywords = run(scenarios, replications=2, seed=4, metrics_profile="fourkeys", dora_year=2024)
    options = RunOptions(replications=2, seed=4, metrics_profile="fourkeys", dora_year=2024)
    pd.testing.assert_frame_equal(run(scenarios, options=options), by_keywords, check_exact=True)
    batch = run_batch([Point(s) for s in scenarios], tmp_path / "out", options=options, plots=False, report=False)
    pd.testing.assert_frame_equal(batch, by_keywords, check_exact=False, rtol=1e-9, check_dtype=False)  # read back from %.10g CSV

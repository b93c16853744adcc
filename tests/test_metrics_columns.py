"""The NumPy-column metrics (trunksim.metrics.columns) against the pandas formulas they replaced.

``compute_metrics`` reads each table's columns once as NumPy arrays. These tests pin
the vectorised rework flags to the row-by-row rule they replaced (on random
deployment histories, with rollbacks, ties and repeated ids), and check that every
metric function gives the same number whether it gets a DataFrame or its Columns.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import trunksim
from trunksim.metrics import compute_metrics, cost, dora, flow
from trunksim.metrics.columns import Columns, columns_of, nanmean, nansum
from trunksim.metrics.window import Window


def rework_by_rows(deployments: pd.DataFrame, changes: pd.DataFrame) -> list[bool]:
    """The deployment rework rule row by row, in the order deployments started (the reference)."""
    remedy_ids = set(changes.loc[changes["remedies"].isin(dora.REMEDIED_IN_PRODUCTION), "change_id"].astype(int))
    ordered = deployments.sort_values(["started_hours", "deployment_id"])
    rolled_back: set[int] = set()
    flags: dict[int, bool] = {}
    for row in ordered.itertuples(index=False):
        ids = {int(i) for i in row.change_ids.split()} if isinstance(row.change_ids, str) else set()
        flags[row.deployment_id] = bool(ids & remedy_ids) or bool(ids & rolled_back)
        if row.rolled_back:
            rolled_back |= ids
    return deployments["deployment_id"].map(flags).fillna(False).astype(bool).tolist()


def random_history(rng: np.random.Generator, count: int, repeated_ids: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    changes = pd.DataFrame({
        "change_id": np.arange(1, 41),
        "remedies": rng.choice(["", "production", "canary", "qa"], size=40, p=[0.7, 0.1, 0.1, 0.1]),
    })
    lists = []
    for _ in range(count):
        size = int(rng.integers(0, 4))
        lists.append(" ".join(str(i) for i in rng.choice(np.arange(1, 41), size=size)) if rng.random() > 0.1 else math.nan)
    ids = rng.integers(1, max(2, count // 2), size=count) if repeated_ids else rng.permutation(count) + 1
    deployments = pd.DataFrame({
        "deployment_id": ids,
        "started_hours": rng.choice([1.0, 2.0, 3.0, 4.0, math.nan], size=count),  # ties and missing starts
        "finished_hours": rng.uniform(0.0, 60.0, size=count),
        "change_ids": pd.Series(lists, dtype=object),
        "rolled_back": rng.random(count) < 0.3,
    })
    return deployments, changes


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("repeated_ids", [False, True])
def test_rework_flags_follow_the_row_by_row_rule(seed, repeated_ids):
    deployments, changes = random_history(np.random.default_rng(seed), int(np.random.default_rng(seed).integers(0, 30)), repeated_ids)
    assert dora.rework_deployments(deployments, changes).tolist() == rework_by_rows(deployments, changes)


def test_rework_of_no_deployment_is_empty_and_its_rate_nan():
    deployments = pd.DataFrame(columns=["deployment_id", "started_hours", "finished_hours", "change_ids", "rolled_back"])
    changes = pd.DataFrame(columns=["change_id", "remedies"])
    assert dora.rework_deployments(deployments, changes).tolist() == []
    assert math.isnan(dora.rework_rate(deployments, changes, Window(0.0, 48.0)))


def test_sums_and_means_match_pandas_bit_for_bit():
    values = np.random.default_rng(3).lognormal(size=1001)
    values[::7] = np.nan
    series = pd.Series(values)
    assert nansum(values) == float(series.sum())
    assert nanmean(values) == float(series.dropna().mean())
    assert math.isnan(nanmean(np.array([math.nan])))


def test_columns_convert_each_column_once_and_compare_text_like_isin():
    frame = pd.DataFrame({"kind": pd.Series(["a", "b", None, "c"], dtype="str"), "hours": [1.0, None, 3.0, 4.0]})
    columns = columns_of(frame)
    assert columns_of(columns) is columns
    assert columns["kind"] is columns["kind"] and columns.floats("hours") is columns.floats("hours")
    assert columns.isin("kind", ("a", "c")).tolist() == frame["kind"].isin(("a", "c")).tolist()
    assert np.isnan(columns.floats("hours")[1]) and len(columns) == 4 and "kind" in columns


@pytest.fixture(scope="module")
def run():
    scenario = trunksim.load_scenario("scenarios/trunk-based.yaml").with_overrides({"simulation.duration": "30d", "simulation.warm_up": "5d"})
    return trunksim.simulate(scenario, seed=2, replication=0)


def test_every_metric_function_gives_the_same_number_from_a_frame_or_its_columns(run):
    w = Window(run.scenario.simulation.warm_up, run.scenario.simulation.duration)
    tables = {name: getattr(run, name) for name in ("changes", "deployments", "incidents", "ci_runs", "activity", "merges", "features")}
    calls = [
        (dora.trunksim_dora_metrics, ("changes", "deployments", "incidents")),
        (dora.lead_time_mean_hours, ("changes",)),
        (dora.merge_to_production_median_hours, ("changes",)),
        (dora.rollback_recovery_median_hours, ("incidents",)),
        (flow.stage_mean_hours, ("changes",)),
        (flow.review_wait_mean_hours, ("changes",)),
        (flow.merge_queue_wait_mean_hours, ("changes",)),
        (flow.ci_queue_wait_mean_hours, ("ci_runs",)),
        (flow.ci_pass_rate, ("ci_runs",)),
        (flow.ci_flaky_failure_share, ("ci_runs",)),
        (flow.wasted_ci_runs_per_week, ("ci_runs",)),
        (flow.ci_runs_per_landed_change, ("ci_runs", "merges")),
        (flow.merge_conflict_rate, ("merges",)),
        (flow.flag_metrics, ("features", "incidents")),
        (cost.developer_hours_per_week, ("activity",)),
        (cost.ci_runner_hours_per_week, ("ci_runs",)),
    ]
    for function, names in calls:
        from_frames = function(*(tables[n] for n in names), w)
        from_columns = function(*(Columns(tables[n]) for n in names), w)
        assert repr(from_frames) == repr(from_columns), function.__name__
    for kinds in (("coding",), ("incident", "conflict")):
        assert flow.activity_hours_per_week(run.activity, w, kinds) == flow.activity_hours_per_week(Columns(run.activity), w, kinds)
        assert repr(flow.activity_share(run.activity, w, kinds)) == repr(flow.activity_share(Columns(run.activity), w, kinds))
    assert flow.delivered_changes(run.changes, w).index.tolist() == np.flatnonzero(dora.delivered_mask(run.changes, w)).tolist()
    assert compute_metrics(run)["rework_rate"] == dora.rework_rate(run.deployments, run.changes, w)

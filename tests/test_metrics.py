"""Metric functions on small hand-built event tables with known answers."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from trunksim.stats import median_interval
from trunksim.metrics import dora, flow
from trunksim.metrics.window import Window

W = Window(0.0, 48.0)  # two days


def deployments(*rows):
    return pd.DataFrame(rows, columns=["deployment_id", "kind", "finished_hours"])


def incidents(*rows):
    return pd.DataFrame(rows, columns=["incident_id", "deployment_id", "source", "started_hours", "restored_hours"])


def test_deploys_per_day_counts_deployments_ending_in_the_window():
    frame = deployments((1, "regular", 5.0), (2, "hotfix", 30.0), (3, "regular", 60.0))
    assert dora.deploys_per_day(frame, W) == 1.0


def test_lead_time_is_first_commit_to_deployment_interpolated():
    changes = pd.DataFrame({"first_commit_hours": [1.0, 2.0, 3.0, 4.0, 50.0], "deployed_hours": [2.0, 4.0, 6.0, math.nan, 60.0], "merged_hours": [1.5, 3.0, 5.0, 5.0, 55.0]})
    assert dora.lead_time_median_hours(changes, W) == 2.0  # 1, 2, 3 → 2 (row 4 in flight, row 5 outside)
    assert dora.lead_time_p90_hours(changes, W) == pytest.approx(2.8)  # numpy linear interpolation
    assert dora.merge_to_production_median_hours(changes, W) == 1.0


def test_change_failure_rate_counts_deployments_with_a_failure_once():
    deps = deployments((1, "regular", 1.0), (2, "regular", 2.0), (3, "regular", 3.0), (4, "hotfix", 4.0))
    incs = incidents((1, 2, "production", 2.5, 3.5), (2, 2, "production", 2.6, 3.6), (3, 3, "canary", 3.0, 3.2))
    assert dora.change_failure_rate(deps, incs, W) == 0.5
    assert dora.change_failure_rate(deps, incs, W, escaped_only=True) == 0.25


def test_recovery_time_is_failure_to_restore():
    incs = incidents((1, 1, "production", 1.0, 2.0), (2, 1, "production", 10.0, 14.0), (3, 1, "production", 20.0, math.nan))
    assert dora.recovery_time_median_hours(incs, W) == 2.5


def test_rework_rate_counts_hotfixes_fixes_of_production_failures_and_redeployments_after_a_rollback():
    deps = pd.DataFrame(
        [
            (1, "regular", 1.0, 1.0, "1 2", True),  # rolled back
            (2, "hotfix", 2.0, 2.0, "3", False),  # a hotfix of a production failure
            (3, "regular", 3.0, 3.0, "1", False),  # ships change 1 again after the rollback
            (4, "regular", 4.0, 4.0, "4 5", False),  # a fix-forward change riding the regular pipeline
            (5, "regular", 5.0, 5.0, "6", False),  # planned work
            (6, "regular", 6.0, 6.0, "7", False),  # a fix of what QA found: planned
        ],
        columns=["deployment_id", "kind", "started_hours", "finished_hours", "change_ids", "rolled_back"],
    )
    changes = pd.DataFrame(
        {"change_id": [1, 2, 3, 4, 5, 6, 7], "remedies": ["", "", "production", "", "canary", "", "qa"]}
    )
    assert dora.rework_deployments(deps, changes).tolist() == [False, True, True, True, False, False]
    assert dora.rework_rate(deps, changes, W) == pytest.approx(3 / 6)


def test_failure_exposure_weighs_each_failure_by_the_share_of_users_it_reached():
    incs = pd.DataFrame(
        {
            "started_hours": [1.0, 10.0, 40.0, -5.0],
            "restored_hours": [3.0, 11.0, math.nan, 1.0],
            "exposed_share": [1.0, 0.05, 1.0, 1.0],
        }
    )
    # 2 user-hours + 0.05 + 8 (open to the end of the window) + 1 (clipped at its start), over 48/168 weeks
    assert dora.failure_exposure_user_hours_per_week(incs, W) == pytest.approx((2.0 + 0.05 + 8.0 + 1.0) / (48 / 168))


def test_no_deployments_means_undefined_failure_rate():
    assert math.isnan(dora.change_failure_rate(deployments(), incidents(), W))


def test_red_share_clips_periods_to_the_window():
    status = pd.DataFrame({"branch": ["trunk", "trunk", "main"], "red_from_hours": [-4.0, 40.0, 0.0], "green_at_hours": [4.0, math.nan, 48.0]})
    assert flow.red_share(status, "trunk", W) == pytest.approx((4.0 + 8.0) / 48.0)


def test_merge_conflict_rate():
    merges = pd.DataFrame({"time_hours": [1.0, 2.0, 3.0, 4.0], "conflict": [0, 1, 2, 0]})
    assert flow.merge_conflict_rate(merges, W) == 0.5


def test_median_interval_covers_the_median_and_widens_for_few_values():
    low, high = median_interval(pd.Series(range(1, 101), dtype=float).to_numpy())
    assert low < 50.5 < high
    assert (low, high) == (40.0, 61.0)  # ranks 40 and 61 (Conover, Practical Nonparametric Statistics)
    assert median_interval(pd.Series([1.0, 2.0, 3.0]).to_numpy()) == (1.0, 3.0)

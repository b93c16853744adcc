"""Metric profiles: Four Keys' and DevLake's rules on small hand-built histories with known answers."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pandas as pd
import pytest

from trunksim.experiment import simulate
from trunksim.metrics import DORA_COLUMNS, FLOW_COLUMNS, METRIC_COLUMNS, compute_metrics
from trunksim.metrics.profiles import (
    EPOCH,
    PROFILES,
    commit_id,
    compare_profiles,
    devlake_profile,
    fourkeys_deployment_frequency,
    fourkeys_metrics,
    lower_median,
    profile_metrics,
)

from conftest import small

T0 = pd.Timestamp(EPOCH)


def at(hours):
    return T0 + pd.Timedelta(hours=hours)


def tables(deployments, changes, incidents=()):
    """Four Keys tables from (deploy_id, hours, [change ids]), (change id, hours), (incident, created h, resolved h, [change ids])."""
    return {
        "changes": pd.DataFrame({"change_id": [c for c, _ in changes], "time_created": [at(h) for _, h in changes]}),
        "deployments": pd.DataFrame(
            {"deploy_id": [d for d, _, _ in deployments], "time_created": [at(h) for _, h, _ in deployments], "changes": [c for *_, c in deployments]}
        ),
        "incidents": pd.DataFrame(
            {
                "incident_id": [i[0] for i in incidents],
                "time_created": [at(i[1]) for i in incidents],
                "time_resolved": [at(i[2]) if i[2] is not None else pd.NaT for i in incidents],
                "changes": [i[3] for i in incidents],
            }
        ),
    }


NOW, SINCE = at(24 * 28), at(0)  # four weeks after Monday 2026-01-05


def test_fourkeys_lead_time_is_whole_minutes_drops_non_positive_and_interpolates():
    t = tables(
        deployments=[("d1", 10.0, ["a", "b"]), ("d2", 20.0, ["c", "d"])],
        changes=[("a", 10.0 - 0.1 / 3600), ("b", 8.0), ("c", 20.0), ("d", 19.5)],  # 0.1 s → 0 min, dropped; 120; 0 dropped; 30
    )
    result = fourkeys_metrics(t, NOW, SINCE)
    assert result["lead_time_median_hours"] == pytest.approx(75 / 60)  # PERCENTILE_CONT of [30, 120]
    assert result["lead_time_bucket"] == "One day"


def test_fourkeys_lead_time_is_zero_without_deployments_as_in_the_dashboard_ifnull():
    result = fourkeys_metrics(tables(deployments=[], changes=[("a", 1.0)]), NOW, SINCE)
    assert result["lead_time_median_hours"] == 0.0
    assert result["change_failure_rate"] == 0.0
    assert result["deploys_per_day"] == 0.0


def test_fourkeys_restore_time_truncates_to_whole_hours_and_ignores_open_incidents():
    t = tables(
        deployments=[("d1", 1.0, ["a"])], changes=[("a", 0.5)],
        incidents=[("i1", 5.0, 6.99, ["a"]), ("i2", 5.0, 8.5, ["a"]), ("i3", 5.0, None, ["a"])],
    )
    assert fourkeys_metrics(t, NOW, SINCE)["recovery_time_median_hours"] == 2.0  # median of [1, 3]


def test_fourkeys_change_failure_rate_counts_incident_matches_per_deployment():
    t = tables(
        deployments=[("d1", 1.0, ["a", "b"]), ("d2", 2.0, ["c"]), ("d3", 3.0, ["e"]), ("d4", 4.0, ["f"])],
        changes=[(c, 0.5) for c in "abcef"],
        incidents=[("i1", 5.0, 6.0, ["a"]), ("i2", 5.0, 6.0, ["b"]), ("i3", 5.0, 6.0, ["c"])],
    )
    result = fourkeys_metrics(t, NOW, SINCE)
    assert result["change_failure_rate"] == pytest.approx(3 / 4)  # d1 counts twice: matches, not failed deployments
    assert result["change_failure_rate_bucket"] == "46-60%"


def test_fourkeys_counts_only_what_happened_after_the_lookback_cutoff():
    t = tables(deployments=[("d0", -5.0, ["a"]), ("d1", 5.0, ["b"])], changes=[("a", -6.0), ("b", 4.0)])
    result = fourkeys_metrics(t, NOW, SINCE)
    assert result["deploys_per_day"] == pytest.approx(1 / 28)
    assert result["lead_time_median_hours"] == 1.0


@pytest.mark.parametrize(
    "days, bucket",
    [
        (lambda w: [0, 1, 2], "Daily"),  # Mon-Wed of every week
        (lambda w: [1], "Weekly"),
        (lambda w: [1] if w % 2 == 0 else [], "Monthly"),
        (lambda w: [], "Yearly"),
    ],
)
def test_fourkeys_deployment_frequency_buckets_deployment_days(days, bucket):
    hours = [24 * (7 * w + d) + 10 for w in range(12) for d in days(w)]
    deployments = pd.DataFrame({"time_created": [at(h) for h in hours]})
    assert fourkeys_deployment_frequency(deployments, at(24 * 84), SINCE) == bucket


def test_lower_median_is_devlakes_percent_rank_median():
    assert lower_median([4, 1, 3, 2]) == 2
    assert lower_median([5, 1, 3]) == 3
    assert lower_median([7]) == 7
    assert math.isnan(lower_median([]))


def fake_run(changes, deployments, incidents, warm_up=0.0, duration=24 * 28):
    return SimpleNamespace(
        changes=pd.DataFrame(changes, columns=["change_id", "first_commit_hours", "submitted_hours", "merged_hours", "deployed_hours"]),
        deployments=pd.DataFrame(deployments, columns=["deployment_id", "finished_hours", "rolled_out"]),
        incidents=pd.DataFrame(incidents, columns=["incident_id", "deployment_id", "detected_hours", "restored_hours"]),
        scenario=SimpleNamespace(simulation=SimpleNamespace(warm_up=warm_up, duration=duration)),
    )


def test_devlake_blames_the_last_deployment_before_the_incident_not_the_cause():
    run = fake_run(
        changes=[(1, 0.0, 1.0, 2.0, 3.0)],
        deployments=[(1, 3.0, True), (2, 10.0, True), (3, 11.0, False), (4, 20.0, True)],
        incidents=[(1, 1, 12.0, 14.5)],  # caused by deployment 1, opened after deployment 2 finished
    )
    result = devlake_profile(run)
    assert result["change_failure_rate"] == pytest.approx(1 / 3)  # deployment 2 of the three successful ones
    assert result["recovery_time_median_hours"] == pytest.approx(4.5)  # deployment 2's finish → resolved


def test_devlake_blames_nobody_for_an_incident_before_any_successful_deployment():
    """A canary that failed every rollout opens incidents with no successful deployment to blame (DevLake counts none)."""
    run = fake_run(
        changes=[(1, 0.0, 1.0, 2.0, float("nan"))],
        deployments=[(1, 3.0, False)],
        incidents=[(1, 1, 3.5, 4.0)],
    )
    result = devlake_profile(run)
    assert result["deploys_per_day"] == 0.0
    assert math.isnan(result["change_failure_rate"]) and math.isnan(result["recovery_time_median_hours"])
    both = fake_run(
        changes=[(1, 0.0, 1.0, 2.0, 6.0)],
        deployments=[(1, 3.0, False), (2, 6.0, True)],
        incidents=[(1, 1, 3.5, 4.0), (2, 2, 7.0, 8.0)],  # the first opened before any success: not blamed
    )
    result = devlake_profile(both)
    assert result["change_failure_rate"] == 1.0 and result["recovery_time_median_hours"] == pytest.approx(2.0)


def test_devlake_lead_time_sums_three_spans_rounded_up_to_minutes_and_takes_the_lower_median():
    run = fake_run(
        changes=[(1, 0.0, 1.0 + 1 / 7200, 2.0, 3.0), (2, 0.0, 1.0, 2.0, 5.0), (3, 0.0, 1.0, 2.0, 7.0), (4, 0.0, 1.0, 2.0, 9.0)],
        deployments=[(1, 3.0, True)], incidents=[],
    )
    result = devlake_profile(run)
    assert result["lead_time_median_hours"] == pytest.approx(300 / 60)  # [181, 300, 420, 540] → lower median 300
    assert result["lead_time_bucket"] == "Less than one day"
    assert math.isnan(result["recovery_time_median_hours"])


def test_devlake_deployment_frequency_uses_deployment_days_per_week():
    every_weekday = [(i, 24 * (7 * w + d) + 12, True) for i, (w, d) in enumerate((w, d) for w in range(4) for d in range(5))]
    assert devlake_profile(fake_run([], every_weekday, []))["deployment_frequency_bucket"] == "On-demand"
    three_days = [row for row in every_weekday if (row[1] // 24) % 7 < 3]
    assert devlake_profile(fake_run([], three_days, []))["deployment_frequency_bucket"] == "Between once per day and once per week"


def test_commit_ids_are_forty_hex_digits_that_give_the_change_back():
    assert commit_id(26) == "0" * 38 + "1a" and int(commit_id(26), 16) == 26


@pytest.fixture(scope="module")
def incident_run():
    return simulate(small("github-flow", work={"defects_per_100_lines": 0.6}), seed=9)


def test_every_profile_keeps_the_column_set_and_the_flow_metrics(incident_run):
    measured = {p: compute_metrics(incident_run, profile=p) for p in PROFILES}
    for values in measured.values():
        assert list(values) == list(METRIC_COLUMNS)
        for name in FLOW_COLUMNS:
            assert values[name] == pytest.approx(measured["trunksim"][name], nan_ok=True)
    for profile in ("fourkeys", "devlake"):
        for name in ("lead_time_p90_hours", "change_failure_rate_escaped", "rework_rate"):
            assert math.isnan(measured[profile][name])
    assert measured["fourkeys"]["recovery_time_median_hours"] != measured["trunksim"]["recovery_time_median_hours"]


def test_unknown_profile_is_refused(incident_run):
    with pytest.raises(ValueError, match="fourkeys"):
        compute_metrics(incident_run, profile="jira")


def test_trunksim_profile_is_compute_metrics(incident_run):
    values = compute_metrics(incident_run)
    measured = profile_metrics(incident_run, "trunksim")
    for name in DORA_COLUMNS:
        assert measured[name] == pytest.approx(values[name], nan_ok=True)


def test_compare_profiles_gives_one_row_per_run_and_profile(incident_run):
    other = simulate(small("trunk-based"), seed=9)
    frame = compare_profiles([incident_run, other])
    assert len(frame) == 2 * len(PROFILES)
    assert list(frame["profile"][:3]) == list(PROFILES)
    assert set(frame["dora_level"]) <= {"elite", "high", "medium", "low"}
    assert frame["dora_quick_check_score"].between(0, 10).all()
    single = compare_profiles(incident_run)
    pd.testing.assert_frame_equal(single, frame.iloc[:3].reset_index(drop=True))

"""DORA levels (State of DevOps 2023/2024, trunksim's documented rule) and the Quick Check score."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from trunksim.experiment import run
from trunksim.metrics import levels
from trunksim.metrics.levels import (
    change_failure_rate_level,
    classify,
    deployment_frequency_level,
    lead_time_level,
    level_shares,
    overall_level,
    quick_check_score,
    recovery_time_level,
)

from conftest import small

ELITE = {"deploys_per_day": 3.0, "lead_time_median_hours": 5.0, "change_failure_rate": 0.03, "recovery_time_median_hours": 0.5}


@pytest.mark.parametrize(
    "per_day, level",
    [(1.0, "elite"), (0.99, "high"), (1 / 7, "high"), (1 / 8, "medium"), (1 / 30.4375, "medium"), (1 / 31, "low"), (0.0, "low")],
)
def test_deployment_frequency_levels(per_day, level):
    assert deployment_frequency_level(per_day, 2023) == deployment_frequency_level(per_day, 2024) == level


@pytest.mark.parametrize("hours, level", [(23.9, "elite"), (24.0, "high"), (167.9, "high"), (168.0, "medium"), (730.4, "medium"), (730.5, "low")])
def test_lead_time_levels(hours, level):
    assert lead_time_level(hours, 2023) == lead_time_level(hours, 2024) == level


@pytest.mark.parametrize(
    "rate, level_2023, level_2024",
    [
        (0.0, "elite", "elite"),
        (0.075, "elite", "elite"),  # the midpoint between 5% and 10% goes to the better level
        (0.08, "high", "medium"),  # 2024's medium centre (10%) is below its high centre (20%)
        (0.13, "medium", "medium"),
        (0.18, "medium", "high"),
        (0.35, "medium", "low"),
        (0.45, "low", "low"),
    ],
)
def test_change_failure_rate_takes_the_nearest_cluster_centre(rate, level_2023, level_2024):
    assert change_failure_rate_level(rate, 2023) == level_2023
    assert change_failure_rate_level(rate, 2024) == level_2024


@pytest.mark.parametrize(
    "hours, level_2023, level_2024",
    [(0.9, "elite", "elite"), (1.0, "high", "high"), (23.0, "high", "high"), (30.0, "medium", "low"), (200.0, "low", "low")],
)
def test_recovery_time_levels(hours, level_2023, level_2024):
    assert recovery_time_level(hours, 2023) == level_2023
    assert recovery_time_level(hours, 2024) == level_2024


def test_overall_level_is_the_worst_metric_level():
    assert overall_level(ELITE) == "elite"
    assert overall_level(dict(ELITE, change_failure_rate=0.11)) == "high"
    assert overall_level(dict(ELITE, lead_time_median_hours=400.0)) == "medium"
    assert overall_level(dict(ELITE, deploys_per_day=0.01)) == "low"


def test_a_replication_without_failures_is_not_penalised_for_its_undefined_recovery_time():
    assert overall_level(dict(ELITE, recovery_time_median_hours=math.nan, change_failure_rate=0.0)) == "elite"


def test_unknown_year_is_refused():
    with pytest.raises(ValueError, match="2023"):
        overall_level(ELITE, year=2019)


def test_quick_check_score_maps_answers_linearly_and_averages():
    assert quick_check_score(dict(ELITE, lead_time_median_hours=0.5, change_failure_rate=0.0, rework_rate=0.0)) == 10.0
    worst = {"deploys_per_day": 0.001, "lead_time_median_hours": 1e5, "change_failure_rate": 1.0,
             "recovery_time_median_hours": 1e5, "rework_rate": 1.0}
    assert quick_check_score(worst) == 0.0
    # lead time < 1 day (answer 5 → 8), on demand (6 → 10), CFR 20% (8), recovery 1 day–1 week (4 → 6), rework 10% (9)
    middle = {"deploys_per_day": 2.0, "lead_time_median_hours": 5.0, "change_failure_rate": 0.2,
              "recovery_time_median_hours": 30.0, "rework_rate": 0.1}
    assert quick_check_score(middle) == pytest.approx((8 + 10 + 8 + 6 + 9) / 5)
    assert quick_check_score(middle, edition=2024) == pytest.approx((8 + 10 + 8 + 6) / 4)


def test_quick_check_skips_unanswerable_metrics():
    assert quick_check_score({"deploys_per_day": 2.0, "lead_time_median_hours": math.nan}) == 10.0


def test_level_shares_sum_to_one_per_scenario_and_name_the_most_frequent_level():
    frame = pd.DataFrame(
        {
            "scenario": ["a", "a", "a", "a", "b", "b"],
            "strategy": ["x"] * 4 + ["y"] * 2,
            "dora_level": ["high", "high", "low", None, "elite", "low"],
        }
    )
    shares = level_shares(frame)
    assert list(shares["scenario"]) == ["a", "b"]
    a, b = shares.iloc[0], shares.iloc[1]
    assert a["replications"] == 3 and a["high_share"] == pytest.approx(2 / 3) and a["most_frequent_level"] == "high"
    assert b["most_frequent_level"] == "elite"  # a tie goes to the better level
    share_columns = [f"{level}_share" for level in levels.LEVELS]
    assert shares[share_columns].sum(axis=1).tolist() == pytest.approx([1.0, 1.0])


def test_run_results_carry_a_level_and_a_quick_check_score():
    frame = run(small("trunk-based"), replications=2, seed=3)
    assert set(frame["dora_level"]) <= set(levels.LEVELS)
    assert frame["dora_quick_check_score"].between(0, 10).all()
    reclassified = classify(frame, year=2023)
    assert list(reclassified["dora_level"]) == list(frame["dora_level"])
    assert {"deploys_per_day_level", "change_failure_rate_level"} <= set(reclassified.columns)

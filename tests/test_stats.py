"""Statistics helpers (trunksim.stats) and the summary built on them."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from trunksim.stats import binomial_half_cdf, describe, median_interval, paired_difference, paired_differences


def test_binomial_half_cdf_is_exact():
    assert binomial_half_cdf(10) == pytest.approx(np.cumsum([math.comb(10, k) for k in range(6)]) / 1024)


def test_median_interval_drops_the_order_statistics_the_binomial_allows():
    values = np.arange(10, 0, -1, dtype=float)  # unsorted on purpose
    # P(Bin(10, 1/2) <= 1) = 11/1024 <= 0.025 < P(<= 2): one value excluded on each side
    assert median_interval(values) == (2.0, 9.0)
    assert median_interval(values, confidence=0.5) == (4.0, 7.0)
    assert median_interval([np.nan, 3.0, np.nan]) == (3.0, 3.0)
    assert all(math.isnan(x) for x in median_interval([np.nan]))


def test_describe_ignores_nan():
    summary = describe(pd.Series([1.0, np.nan, 3.0, 2.0]))
    assert summary["replications"] == 3
    assert (summary["mean"], summary["median"]) == (2.0, 2.0)
    assert (summary["median_ci95_low"], summary["median_ci95_high"]) == (1.0, 3.0)
    assert summary["p2_5"] == pytest.approx(1.05) and summary["p97_5"] == pytest.approx(2.95)
    empty = describe([np.nan])
    assert empty["replications"] == 0 and all(math.isnan(empty[k]) for k in empty if k != "replications")


def test_paired_differences_match_replications_by_index():
    values = pd.Series([5.0, 7.0, 9.0], index=[0, 1, 2])
    baseline = pd.Series([1.0, 2.0], index=[1, 0])
    assert np.array_equal(paired_differences(values, baseline), [3.0, 6.0, np.nan], equal_nan=True)
    assert paired_difference(values, baseline) == {
        "paired_diff_median": 4.5, "paired_diff_ci95_low": 3.0, "paired_diff_ci95_high": 6.0,
    }


def _summary_as_before(frame: pd.DataFrame, metrics: list[str]) -> pd.DataFrame:
    """The summary as experiment.summarize computed it before the statistics moved to trunksim.stats."""
    order = list(dict.fromkeys(frame["scenario"]))
    base = frame[frame["scenario"] == order[0]].set_index("replication")
    rows = []
    for name in order:
        part = frame[frame["scenario"] == name].set_index("replication")
        for metric in metrics:
            values = part[metric].to_numpy(dtype=float)
            finite = values[~np.isnan(values)]
            low, high = median_interval(values)
            paired = (part[metric] - base[metric].reindex(part.index)).to_numpy(dtype=float)
            d_low, d_high = median_interval(paired)
            paired_finite = paired[~np.isnan(paired)]
            rows.append({
                "scenario": name, "strategy": part["strategy"].iloc[0], "metric": metric, "replications": int(len(finite)),
                "mean": float(finite.mean()) if len(finite) else math.nan,
                "median": float(np.median(finite)) if len(finite) else math.nan,
                "median_ci95_low": low, "median_ci95_high": high,
                "p2_5": float(np.percentile(finite, 2.5)) if len(finite) else math.nan,
                "p97_5": float(np.percentile(finite, 97.5)) if len(finite) else math.nan,
                "baseline": order[0],
                "paired_diff_median": float(np.median(paired_finite)) if len(paired_finite) else math.nan,
                "paired_diff_ci95_low": d_low, "paired_diff_ci95_high": d_high,
            })
    return pd.DataFrame(rows)


def test_summarize_gives_the_numbers_it_gave_before():
    from trunksim.experiment import summarize

    generator = np.random.default_rng(3)
    rows = []
    for scenario in ("a", "b", "c"):
        for replication in range(12):
            rows.append({
                "scenario": scenario, "strategy": scenario.upper(), "replication": replication,
                "deploys_per_day": generator.lognormal(), "rework_rate": np.nan if replication % 5 == 0 else generator.random(),
                "change_failure_rate": np.nan,
            })
    frame = pd.DataFrame(rows).drop(index=[30])  # c lacks a replication
    metrics = ["deploys_per_day", "rework_rate", "change_failure_rate"]
    pd.testing.assert_frame_equal(summarize(frame, metrics), _summary_as_before(frame, metrics), check_exact=True)
    pd.testing.assert_frame_equal(summarize(frame), _summary_as_before(frame, metrics[:1] + metrics[2:] + metrics[1:2]), check_exact=True)

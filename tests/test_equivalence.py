"""Statistical equivalence of the engine against a frozen reference (issue 13).

A speed-up that changes the stream of events (the order of same-instant events, how
draws are batched) changes single replications without changing what the model means.
The exact golden file (``tests/test_golden.py``) then has to move; this test shows that
nothing else did.

Reference: ``tests/golden/equivalence_reference_seed1_n30.csv``, the per-replication
metrics of trunk-based, GitHub flow and GitFlow (the shipped scenarios, seed 1,
replications 0-29) made by the engine **before** any change that reorders events.
Regenerate it (``python tests/test_equivalence.py``) only when the *model* changes on
purpose, saying why in the commit; never to make a speed-up pass.

Method: for every strategy and every numeric metric, the 30 paired differences
(replication *k* now minus replication *k* in the reference; common random numbers make
them paired). A Wilcoxon signed-rank test (two-sided; zero differences dropped, as an
unchanged replication is no evidence either way) gives a p-value; a metric **moved** if
p < 0.05 / m, where m is the number of tests (Bonferroni). Replications where the metric
is undefined (NaN) on exactly one side count as a difference of presence: more than
3 of 30 fails the check. With fewer than 6 non-zero differences the signed-rank test
cannot reach the corrected level: such a metric is reported, not judged.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import wilcoxon

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "golden" / "equivalence_reference_seed1_n30.csv"
STRATEGIES = ("trunk-based", "github-flow", "gitflow")
REPLICATIONS = 30
ALPHA = 0.05
ID_COLUMNS = ("scenario", "strategy", "replication", "seed")


def produce() -> pd.DataFrame:
    """Per-replication metrics of the three shipped strategies, seed 1, replications 0-29."""
    sys.path.insert(0, str(ROOT))
    import trunksim

    scenarios = [trunksim.load_scenario(ROOT / "scenarios" / f"{name}.yaml") for name in STRATEGIES]
    return trunksim.run(scenarios, replications=REPLICATIONS, seed=1, jobs=1)


def metric_columns(frame: pd.DataFrame) -> list[str]:
    """Numeric metric columns (identifiers and text left out)."""
    return [c for c in frame.columns if c not in ID_COLUMNS and pd.api.types.is_numeric_dtype(frame[c])]


def paired_shifts(reference: pd.DataFrame, candidate: pd.DataFrame, alpha: float = ALPHA) -> pd.DataFrame:
    """One row per (scenario, metric): paired differences, the Wilcoxon p-value and the verdict.

    Columns: ``scenario``, ``metric``, ``reference_median``, ``candidate_median``,
    ``median_difference``, ``changed`` (replications that differ), ``presence`` (replications
    defined on one side only), ``p`` (NaN when not judged), ``moved`` (bool).
    """
    metrics = [m for m in metric_columns(reference) if m in candidate.columns]
    rows = []
    for scenario in reference["scenario"].unique():
        a = reference[reference["scenario"] == scenario].set_index("replication").sort_index()
        b = candidate[candidate["scenario"] == scenario].set_index("replication").sort_index()
        assert list(a.index) == list(b.index), f"{scenario}: not the same replications"
        for metric in metrics:
            x = a[metric].to_numpy(dtype=float)
            y = b[metric].to_numpy(dtype=float)
            both = ~np.isnan(x) & ~np.isnan(y)
            presence = int((np.isnan(x) != np.isnan(y)).sum())
            d = y[both] - x[both]
            nonzero = d[d != 0]
            p = math.nan
            if len(nonzero) >= 6:
                p = float(wilcoxon(nonzero).pvalue)
            rows.append((scenario, metric, float(np.nanmedian(x)) if both.any() else math.nan,
                         float(np.nanmedian(y)) if both.any() else math.nan,
                         float(np.median(d)) if len(d) else math.nan, int((d != 0).sum()) + presence, presence, p))
    table = pd.DataFrame(rows, columns=["scenario", "metric", "reference_median", "candidate_median",
                                        "median_difference", "changed", "presence", "p"])
    tests = len(table)
    table["moved"] = (table["p"] < alpha / tests) | (table["presence"] > 3)
    return table


@pytest.mark.slow
def test_no_metric_of_any_strategy_moves_beyond_chance_against_the_reference() -> None:
    reference = pd.read_csv(REFERENCE)
    candidate = produce()
    candidate = pd.read_csv(pd.io.common.StringIO(candidate.to_csv(index=False)))  # the same parsing as the file
    table = paired_shifts(reference, candidate)
    moved = table[table["moved"]]
    assert len(table) >= 3 * 40, "too few metrics compared"
    assert moved.empty, "metrics moved beyond chance (Bonferroni over %d tests):\n%s" % (len(table), moved.to_string())


def test_the_check_sees_a_real_shift_and_passes_noise() -> None:
    """The check is not blind: a 5% longer lead time is caught; a relabelling of replications within noise is not."""
    reference = pd.read_csv(REFERENCE)
    shifted = reference.copy()
    shifted["lead_time_median_hours"] *= 1.05
    table = paired_shifts(reference, shifted)
    caught = table[table["moved"]]
    assert set(caught["metric"]) == {"lead_time_median_hours"}
    assert set(caught["scenario"]) == set(reference["scenario"].unique())
    # Noise: every replication replaced by one drawn at random (with replacement) from
    # the same scenario's replications, the same population without a shift: no metric
    # may read as moved (under no shift, Bonferroni expects a false alarm in 1 run of 20).
    rng = np.random.default_rng(3)
    noise = reference.copy()
    for scenario in noise["scenario"].unique():
        rows = noise.index[noise["scenario"] == scenario]
        noise.loc[rows, metric_columns(noise)] = noise.loc[rng.choice(rows, size=len(rows)), metric_columns(noise)].to_numpy()
    table = paired_shifts(reference, noise)
    assert not table["moved"].any(), table[table["moved"]].to_string()


if __name__ == "__main__":  # regenerate the reference (only when the model changes on purpose)
    produce().to_csv(REFERENCE, index=False)
    print(f"wrote {REFERENCE}")

"""Statistics of replications: distribution-free intervals for the median, paired differences.

Pure functions of arrays and series, with no knowledge of scenarios, metrics or the
engine. Replications of a stochastic simulation are independent but their distributions
are skewed and sometimes have few distinct values, so intervals are for the **median**
and distribution-free (binomial order statistics) rather than normal-theory intervals
for the mean. Differences between scenarios are **paired** by replication index: under
common random numbers replication *k* of every scenario sees the same work, so the
per-replication difference removes most of the noise the scenarios share.

A leaf module: it imports only the standard library and NumPy (pandas Series are
accepted, never needed: pandas is not imported here).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Union

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

ArrayLike = Union[np.ndarray, "pd.Series", "list[float]"]


def median_interval(values: ArrayLike, confidence: float = 0.95) -> tuple[float, float]:
    """A distribution-free confidence interval for the median (binomial order statistics).

    With ``n`` sorted values ``x(1) <= ... <= x(n)`` the interval is ``[x(j+1), x(n-j)]``,
    where ``j`` is the largest integer with ``P(Binomial(n, 1/2) <= j) <= (1 - confidence) / 2``;
    its coverage is ``1 - 2 P(Binomial(n, 1/2) <= j) >= confidence`` (Conover, *Practical
    Nonparametric Statistics*). Below six values no such ``j`` exists and the interval is
    the sample range (coverage under the nominal level). NaN values are ignored.
    """
    values = np.sort(np.asarray(values, dtype=float))
    values = values[~np.isnan(values)]
    n = len(values)
    if n == 0:
        return math.nan, math.nan
    alpha = (1.0 - confidence) / 2.0
    below = np.nonzero(binomial_half_cdf(n) <= alpha)[0]
    j = int(below[-1]) if len(below) else 0  # values excluded on each side
    return float(values[j]), float(values[n - 1 - j])


def binomial_half_cdf(n: int) -> np.ndarray:
    """``P(Binomial(n, 1/2) <= i)`` for ``i = 0 .. n // 2`` (log-space, so large ``n`` is fine; no SciPy)."""
    i = np.arange(n // 2 + 1)
    log_pmf = np.array([math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) for k in i]) - n * math.log(2.0)
    return np.cumsum(np.exp(log_pmf))


def describe(values: ArrayLike, confidence: float = 0.95) -> dict[str, Any]:
    """Count, mean, median with its interval, and the central 95 % range of some values (NaN ignored).

    Returns
    -------
    dict
        ``replications`` (values that are not NaN), ``mean``, ``median``,
        ``median_ci95_low``, ``median_ci95_high`` (:func:`median_interval` at
        ``confidence``), ``p2_5``, ``p97_5`` (percentiles, linear interpolation). NaN
        where there is no value.
    """
    values = np.asarray(values, dtype=float)
    finite = values[~np.isnan(values)]
    low, high = median_interval(values, confidence)
    return {
        "replications": int(len(finite)),
        "mean": float(finite.mean()) if len(finite) else math.nan,
        "median": float(np.median(finite)) if len(finite) else math.nan,
        "median_ci95_low": low,
        "median_ci95_high": high,
        "p2_5": float(np.percentile(finite, 2.5)) if len(finite) else math.nan,
        "p97_5": float(np.percentile(finite, 97.5)) if len(finite) else math.nan,
    }


def paired_differences(values: pd.Series, baseline: pd.Series) -> np.ndarray:
    """``values - baseline`` matched by index (replication); NaN where the baseline has no such index."""
    return (values - baseline.reindex(values.index)).to_numpy(dtype=float)


def paired_difference(values: pd.Series, baseline: pd.Series, confidence: float = 0.95) -> dict[str, float]:
    """The median of the paired differences (:func:`paired_differences`) with its interval.

    Returns
    -------
    dict
        ``paired_diff_median``, ``paired_diff_ci95_low``, ``paired_diff_ci95_high``
        (NaN where no pair has both values).
    """
    differences = paired_differences(values, baseline)
    finite = differences[~np.isnan(differences)]
    low, high = median_interval(differences, confidence)
    return {
        "paired_diff_median": float(np.median(finite)) if len(finite) else math.nan,
        "paired_diff_ci95_low": low,
        "paired_diff_ci95_high": high,
    }


__all__ = ["binomial_half_cdf", "describe", "median_interval", "paired_difference", "paired_differences"]

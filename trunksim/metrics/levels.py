"""DORA performance levels (State of DevOps 2023 and 2024) and the DORA Quick Check score.

The State of DevOps reports describe four clusters of respondents, not cut-offs
(``docs/references.md``); turning them into a classifier of one replication is
trunksim's own rule, stated here and in ``docs/metrics.md``.

Per metric (``deploys_per_day`` = d, lead time and recovery time in hours; a month is
730.5 h = 365.25 × 24 / 12, a week 168 h):

* deployment frequency: elite d ≥ 1 a day ("on demand": at least daily on average,
  more than once per working day), high d ≥ 1/7, medium d ≥ 1/30.44, low below. Both
  years; in 2023 low's published range equals medium's, so low is what lies below it.
* lead time for changes: elite < 24 h, high < 168 h, medium < 730.5 h, low otherwise
  (both years; 2023's low range equals medium's, as above).
* change failure rate: the **nearest cluster centre** (one-dimensional k-means
  membership), ties to the better level. 2023 centres 5 / 10 / 15 / 64 % → elite
  ≤ 7.5 %, high ≤ 12.5 %, medium ≤ 39.5 %, low above. 2024 centres 5 / 20 / 10 / 40 %
  (high and medium inverted) → elite ≤ 7.5 %, **medium** ≤ 15 %, **high** ≤ 30 %, low
  above: under 2024 a worse rate can earn a better level, faithfully to the report.
* failed deployment recovery time: 2023 elite < 1 h, high < 24 h, medium < 168 h
  (1 day–1 week), low otherwise (the 1 week–1 month gap falls to low). 2024: elite
  < 1 h, high < 24 h (medium's published "< 1 day" equals high's, so no recovery time
  is medium), low otherwise.

Overall level: the **worst** per-metric level among the metrics that are defined
(recovery time is undefined without failures, and then does not count): a replication
is elite only if every metric is in the elite row, as each cluster row of the report
describes its members on all four metrics.

Quick Check (dora.dev/quickcheck; dora-team/dora.dev ``svelte/quick-check/src/lib/
data-service.ts``): lead time and recovery time are answered on the 6-point scale
(1 > 6 months, 2 1–6 months, 3 1 week–1 month, 4 1 day–1 week, 5 < 1 day, 6 < 1 hour),
deployment frequency on its 6-point scale (1 < once per 6 months, 2 monthly–6-monthly,
3 weekly–monthly, 4 daily–weekly, 5 "between once per hour and once per day", read as
at least five a week, 6 on demand, read as d ≥ 1 a day); each answer maps linearly to
0–10 (``(answer - 1) / 5 * 10``), change failure rate and rework rate to
``10 × (1 − rate)``; the score is the mean over answered metrics (the 2025 edition
includes rework rate, the 2024 edition does not). Undefined metrics count as
unanswered, as the Quick Check skips unanswered questions.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Mapping, Optional

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd  # imported by level_shares, the one function that makes a frame

LEVELS: tuple[str, ...] = ("elite", "high", "medium", "low")
"""Performance levels, best first."""

YEARS: tuple[int, ...] = (2023, 2024)
"""State of DevOps editions with a level table."""

LEVEL_METRICS: tuple[str, ...] = (
    "deploys_per_day", "lead_time_median_hours", "change_failure_rate", "recovery_time_median_hours",
)
"""The metric columns a level is computed from."""

HOURS_PER_WEEK = 168.0
HOURS_PER_MONTH = 730.5  # 365.25 * 24 / 12
DAYS_PER_MONTH = 30.4375

CFR_CENTRES: dict[int, dict[str, float]] = {
    2023: {"elite": 0.05, "high": 0.10, "medium": 0.15, "low": 0.64},
    2024: {"elite": 0.05, "high": 0.20, "medium": 0.10, "low": 0.40},
}
"""Change failure rate cluster centres of the State of DevOps reports (``docs/references.md``)."""

RECOVERY_LIMITS_HOURS: dict[int, tuple[tuple[float, str], ...]] = {
    2023: ((1.0, "elite"), (24.0, "high"), (HOURS_PER_WEEK, "medium")),
    2024: ((1.0, "elite"), (24.0, "high")),
}


def _undefined(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def check_year(year: int) -> int:
    """``year`` if it is a State of DevOps edition with a level table (:data:`YEARS`).

    The one check of a DORA year in trunksim (``compute_metrics``, ``trunksim.run``,
    ``--dora-year``, the classifiers here).

    Raises
    ------
    ValueError
        ``unknown DORA year 2019 (allowed: 2023, 2024)``.
    """
    if year not in YEARS:
        raise ValueError(f"unknown DORA year {year!r} (allowed: {', '.join(map(str, YEARS))})")
    return year


def deployment_frequency_level(deploys_per_day: float, year: int = 2023) -> Optional[str]:
    """Level of a deployment frequency (deployments per 24-h day): elite ≥ 1, high ≥ 1/7, medium ≥ 1/30.44, else low."""
    check_year(year)
    if _undefined(deploys_per_day):
        return None
    if deploys_per_day >= 1.0:
        return "elite"
    if deploys_per_day >= 1.0 / 7.0:
        return "high"
    if deploys_per_day >= 1.0 / DAYS_PER_MONTH:
        return "medium"
    return "low"


def lead_time_level(hours: float, year: int = 2023) -> Optional[str]:
    """Level of a median lead time: elite < 1 day, high < 1 week, medium < 1 month (730.5 h), else low."""
    check_year(year)
    if _undefined(hours):
        return None
    for limit, level in ((24.0, "elite"), (HOURS_PER_WEEK, "high"), (HOURS_PER_MONTH, "medium")):
        if hours < limit:
            return level
    return "low"


def change_failure_rate_level(rate: float, year: int = 2023) -> Optional[str]:
    """Level whose published cluster centre is nearest to ``rate`` (ties to the better level)."""
    check_year(year)
    if _undefined(rate):
        return None
    centres = CFR_CENTRES[year]
    return min(LEVELS, key=lambda level: (abs(rate - centres[level]), LEVELS.index(level)))


def recovery_time_level(hours: float, year: int = 2023) -> Optional[str]:
    """Level of a median failed deployment recovery time (2023: < 1 h, < 1 day, < 1 week; 2024: < 1 h, < 1 day)."""
    check_year(year)
    if _undefined(hours):
        return None
    for limit, level in RECOVERY_LIMITS_HOURS[year]:
        if hours < limit:
            return level
    return "low"


_CLASSIFIERS = {
    "deploys_per_day": deployment_frequency_level,
    "lead_time_median_hours": lead_time_level,
    "change_failure_rate": change_failure_rate_level,
    "recovery_time_median_hours": recovery_time_level,
}


def metric_levels(metrics: Mapping[str, Any], year: int = 2023) -> dict[str, Optional[str]]:
    """Per-metric level of one replication's metrics (None where the metric is undefined)."""
    return {name: _CLASSIFIERS[name](metrics.get(name, math.nan), year) for name in LEVEL_METRICS}


def overall_level(metrics: Mapping[str, Any], year: int = 2023) -> Optional[str]:
    """The worst per-metric level among defined metrics (None if none is defined).

    Parameters
    ----------
    metrics : mapping
        At least ``deploys_per_day``, ``lead_time_median_hours``,
        ``change_failure_rate``, ``recovery_time_median_hours`` (NaN = undefined).
    year : {2023, 2024}
        State of DevOps edition whose table is used.
    """
    levels = [level for level in metric_levels(metrics, year).values() if level is not None]
    return max(levels, key=LEVELS.index) if levels else None


def _duration_answer(hours: float) -> Optional[int]:
    if _undefined(hours):
        return None
    for limit, answer in ((1.0, 6), (24.0, 5), (HOURS_PER_WEEK, 4), (HOURS_PER_MONTH, 3), (6 * HOURS_PER_MONTH, 2)):
        if hours < limit:
            return answer
    return 1


def _frequency_answer(deploys_per_day: float) -> Optional[int]:
    if _undefined(deploys_per_day):
        return None
    for limit, answer in ((1.0, 6), (5.0 / 7.0, 5), (1.0 / 7.0, 4), (1.0 / DAYS_PER_MONTH, 3), (1.0 / (6 * DAYS_PER_MONTH), 2)):
        if deploys_per_day >= limit:
            return answer
    return 1


def quick_check_answers(metrics: Mapping[str, Any]) -> dict[str, Optional[float]]:
    """The Quick Check answers a replication would give: 1–6 for the scales, 0–100 % for the rates."""
    def percent(name: str) -> Optional[float]:
        value = metrics.get(name, math.nan)
        return None if _undefined(value) else 100.0 * min(max(float(value), 0.0), 1.0)

    return {
        "leadtime": _duration_answer(metrics.get("lead_time_median_hours", math.nan)),
        "deployfreq": _frequency_answer(metrics.get("deploys_per_day", math.nan)),
        "failurerecovery": _duration_answer(metrics.get("recovery_time_median_hours", math.nan)),
        "changefailure": percent("change_failure_rate"),
        "rework": percent("rework_rate"),
    }


def quick_check_score(metrics: Mapping[str, Any], edition: int = 2025) -> float:
    """The DORA Quick Check performance score, 0 (worst) – 10 (best).

    ``score = mean over answered metrics of s``, with ``s = (answer − 1) / 5 × 10`` for
    the 6-point questions and ``s = 10 × (1 − rate)`` for change failure and rework
    rates (dora-team/dora.dev ``calculatePerformanceAverage``). ``edition=2024`` leaves
    out rework rate. NaN if nothing is answered.
    """
    answers = quick_check_answers(metrics)
    scores = []
    for name in ("leadtime", "deployfreq", "failurerecovery"):
        if answers[name] is not None:
            scores.append((answers[name] - 1) / 5.0 * 10.0)
    for name in ("changefailure", "rework") if edition >= 2025 else ("changefailure",):
        if answers[name] is not None:
            scores.append(10.0 - answers[name] / 10.0)
    return float(sum(scores) / len(scores)) if scores else math.nan


def classify(frame: pd.DataFrame, year: int = 2023) -> pd.DataFrame:
    """A copy of a replications frame with ``<metric>_level`` columns and ``dora_level`` for ``year``."""
    result = frame.copy()
    records = result[list(LEVEL_METRICS)].to_dict("records")
    for name in LEVEL_METRICS:
        result[f"{name}_level"] = [_CLASSIFIERS[name](r[name], year) for r in records]
    result["dora_level"] = [overall_level(r, year) for r in records]
    return result


def level_shares(frame: pd.DataFrame, column: str = "dora_level") -> pd.DataFrame:
    """Share of replications at each DORA level, per scenario.

    Parameters
    ----------
    frame : pandas.DataFrame
        Replications (``trunksim.run``), with ``scenario`` and ``column``.
    column : str
        The level column, ``dora_level`` by default (see :func:`classify` for another year).

    Returns
    -------
    pandas.DataFrame
        One row per scenario in order of appearance: ``scenario``, ``strategy`` (if
        present), ``replications`` (with a level), ``elite_share``, ``high_share``,
        ``medium_share``, ``low_share`` (they sum to 1) and ``most_frequent_level``
        (ties go to the better level).
    """
    import pandas as pd

    rows = []
    for name in dict.fromkeys(frame["scenario"]):
        part = frame[frame["scenario"] == name]
        levels = part[column].dropna()
        counts = {level: int((levels == level).sum()) for level in LEVELS}
        total = sum(counts.values())
        row: dict[str, Any] = {"scenario": name}
        if "strategy" in part:
            row["strategy"] = part["strategy"].iloc[0]
        row["replications"] = total
        row.update({f"{level}_share": (counts[level] / total if total else math.nan) for level in LEVELS})
        row["most_frequent_level"] = max(LEVELS, key=lambda level: (counts[level], -LEVELS.index(level))) if total else None
        rows.append(row)
    return pd.DataFrame(rows)

"""The figures of a history, by one set of rules for the team's records and for simulated ones.

:func:`observe` measures a :class:`~trunksim.calibrate.history.History` over its window
(``since`` to ``now`` where a source states them, else first to last event). The
calibration measures the team's history and every simulated one (written in the same
formats and read back, :func:`trunksim.calibrate.formats.simulated_history`) with this
function, so a difference between the two is the model's, not the rules'.

=================================== =================================================================================
figure                              rule
=================================== =================================================================================
``deploys_per_day``                 successful production deployments finished in the window ÷ window days
``lead_time_median_hours``          median over changes deployed in the window of deployed − start, where start is
                                    the first commit if the source records it, else the pull request's opening
``change_failure_rate``             deployments finished in the window that caused an incident ÷ deployments; an
                                    incident's cause is the first deployment carrying a root-cause change it names,
                                    else (DevLake's rule) the last deployment finished before it was created
``recovery_time_median_hours``      median over incidents created in the window and resolved of resolved − created
``incidents_per_week``              incidents created in the window ÷ window weeks
``changes_per_week``                changes deployed in the window ÷ weeks (merged, where nothing links changes to
                                    deployments; first committed, where nothing records merges either)
``change_size_median_lines``        median lines (added + deleted) of changes merged or deployed in the window
``review_wait_median_hours``        median first review − opened (clock hours), pull requests opened in the window
``changes_requested_share``         pull requests with a review asking for changes ÷ reviewed pull requests
``ci_duration_median_hours``        median started → finished of CI runs created in the window
``ci_failure_rate``                 failed CI runs ÷ CI runs (cancelled and skipped ones left out)
``ci_queue_median_hours``           median created → started of CI runs
``deploy_duration_median_hours``    median started → finished of production deployments
=================================== =================================================================================

A figure a history cannot show is NaN (no incidents recorded at all: no failure rate;
an incident table without rows: a rate of 0). :attr:`Observation.counts` holds the
number of events each figure rests on, which decides whether a back-test verdict is
worth stating.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from trunksim.calibrate.history import History

FIGURES: tuple[str, ...] = (
    "deploys_per_day", "lead_time_median_hours", "change_failure_rate", "recovery_time_median_hours", "incidents_per_week",
    "changes_per_week", "change_size_median_lines", "review_wait_median_hours", "changes_requested_share",
    "ci_duration_median_hours", "ci_failure_rate", "ci_queue_median_hours", "deploy_duration_median_hours",
)
"""Every figure :func:`observe` returns, in order."""

DORA_FIGURES: tuple[str, ...] = ("deploys_per_day", "lead_time_median_hours", "change_failure_rate", "recovery_time_median_hours")
"""The four DORA keys among :data:`FIGURES`."""

UNITS: dict[str, str] = {
    "deploys_per_day": "per day", "lead_time_median_hours": "hours", "change_failure_rate": "share",
    "recovery_time_median_hours": "hours", "incidents_per_week": "per week", "changes_per_week": "per week",
    "change_size_median_lines": "lines", "review_wait_median_hours": "hours", "changes_requested_share": "share",
    "ci_duration_median_hours": "hours", "ci_failure_rate": "share", "ci_queue_median_hours": "hours",
    "deploy_duration_median_hours": "hours",
}
"""The unit of each figure."""

INCIDENT_TABLES = frozenset({"incidents", "issues"})


@dataclass
class Observation:
    """Figures of one history: ``values`` (NaN where not shown) and ``counts`` (events each rests on)."""

    values: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    days: float = math.nan

    def as_row(self) -> dict[str, float]:
        """The values as a flat row."""
        return {name: self.values.get(name, math.nan) for name in FIGURES}


def _hours(later: pd.Series, earlier: pd.Series) -> np.ndarray:
    return ((later - earlier).dt.total_seconds() / 3600.0).to_numpy(dtype=float)


def _median(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(np.median(values)) if len(values) else math.nan


def _inside(times: pd.Series, start: pd.Timestamp, end: pd.Timestamp) -> np.ndarray:
    return ((times > start) & (times <= end)).fillna(False).to_numpy(dtype=bool)


def observe(history: History) -> Observation:
    """Measure a history (rules in the module docstring)."""
    start, end = history.window()
    out = Observation()
    if pd.isna(start) or pd.isna(end) or end <= start:
        out.values = {name: math.nan for name in FIGURES}
        out.counts = {name: 0 for name in FIGURES}
        return out
    days = (end - start).total_seconds() / 86_400.0
    weeks = days / 7.0
    out.days = days
    values, counts = out.values, out.counts

    deployments = history.deployments
    good = deployments[deployments["success"].astype(bool)]
    good_in = good[_inside(good["finished"], start, end)]
    values["deploys_per_day"] = len(good_in) / days if len(deployments) or _has(history, "deployments") else math.nan
    counts["deploys_per_day"] = len(good_in)

    changes = history.changes
    begin = changes["first_commit"].where(changes["first_commit"].notna(), changes["opened"])
    delivered = _inside(changes["deployed"], start, end)
    lead = _hours(changes["deployed"], begin)[delivered]
    lead = lead[~np.isnan(lead)]
    values["lead_time_median_hours"] = _median(lead)
    counts["lead_time_median_hours"] = len(lead)

    if delivered.any():
        counted = int(delivered.sum())
    elif changes["merged"].notna().any():
        counted = int(_inside(changes["merged"], start, end).sum())
    else:
        counted = int(_inside(changes["first_commit"], start, end).sum())
    values["changes_per_week"] = counted / weeks if len(changes) else math.nan
    counts["changes_per_week"] = counted

    landed = delivered | _inside(changes["merged"], start, end)
    sizes = changes.loc[landed, "lines"].to_numpy(dtype=float)
    values["change_size_median_lines"] = _median(sizes)
    counts["change_size_median_lines"] = int((~np.isnan(sizes)).sum())

    opened = _inside(changes["opened"], start, end)
    waits = _hours(changes["first_review"], changes["opened"])[opened]
    values["review_wait_median_hours"] = _median(waits)
    counts["review_wait_median_hours"] = int((~np.isnan(waits)).sum())
    rounds = changes.loc[opened, "review_rounds"].to_numpy(dtype=float)
    rounds = rounds[~np.isnan(rounds)]
    values["changes_requested_share"] = float(np.mean(rounds > 1)) if len(rounds) else math.nan
    counts["changes_requested_share"] = int((rounds > 1).sum())

    incidents = history.incidents
    recorded = any(s.table in INCIDENT_TABLES for s in history.sources)
    created_in = incidents[_inside(incidents["created"], start, end)]
    values["incidents_per_week"] = len(created_in) / weeks if recorded else math.nan
    counts["incidents_per_week"] = len(created_in)
    restore = _hours(created_in["resolved"], created_in["created"])
    values["recovery_time_median_hours"] = _median(restore) if recorded else math.nan
    counts["recovery_time_median_hours"] = int((~np.isnan(restore)).sum())
    if recorded and len(good_in):
        failed = _failed_deployments(good, incidents)
        values["change_failure_rate"] = float(good_in["deploy_id"].astype(str).isin(failed).mean())
    else:
        values["change_failure_rate"] = math.nan
    counts["change_failure_rate"] = len(created_in)

    runs = history.ci_runs
    runs_in = runs[_inside(runs["created"], start, end) & ~runs["conclusion"].isin(["cancelled", "skipped", "neutral"]).to_numpy()]
    duration = _hours(runs_in["finished"], runs_in["started"])
    values["ci_duration_median_hours"] = _median(duration)
    counts["ci_duration_median_hours"] = int((~np.isnan(duration)).sum())
    failed_runs = runs_in["conclusion"].isin(["failure", "timed_out", "startup_failure"]).to_numpy()
    values["ci_failure_rate"] = float(failed_runs.mean()) if len(runs_in) else math.nan
    counts["ci_failure_rate"] = int(failed_runs.sum())
    queue = _hours(runs_in["started"], runs_in["created"])
    values["ci_queue_median_hours"] = _median(queue)
    counts["ci_queue_median_hours"] = int((~np.isnan(queue)).sum())

    pipeline = _hours(good_in["finished"], good_in["started"])
    values["deploy_duration_median_hours"] = _median(pipeline)
    counts["deploy_duration_median_hours"] = int((~np.isnan(pipeline)).sum())
    for name in FIGURES:
        values.setdefault(name, math.nan)
        counts.setdefault(name, 0)
    out.values = {name: values[name] for name in FIGURES}
    return out


def _has(history: History, table: str) -> bool:
    return any(s.table in (table, "cicd_deployment_commits", "runs") for s in history.sources)


def _failed_deployments(good: pd.DataFrame, incidents: pd.DataFrame) -> set[str]:
    """The successful deployments that caused an incident (ids as text)."""
    ordered = good.sort_values("finished", kind="stable")
    first_carrier: dict[str, str] = {}
    for deploy_id, ids in zip(ordered["deploy_id"], ordered["changes"]):
        if ids is None:
            continue
        for change in ids:
            first_carrier.setdefault(str(change), str(deploy_id))
    finished = ordered["finished"].array.asi8
    failed: set[str] = set()
    for created, ids in zip(incidents["created"], incidents["changes"]):
        blamed = None
        if ids:
            carriers = [first_carrier[str(c)] for c in ids if str(c) in first_carrier]
            blamed = carriers[0] if carriers else None
        if blamed is None and not ids and len(ordered):
            slot = int(np.searchsorted(finished, pd.Timestamp(created).value, side="right")) - 1
            if slot >= 0:
                blamed = str(ordered["deploy_id"].iloc[slot])
        if blamed is not None:
            failed.add(blamed)
    return failed

"""The five DORA metrics, trunksim's own profile (definitions and sources in docs/metrics.md and docs/references.md).

Every function is a pure function of the event tables of one replication
(:class:`trunksim.tables.Run`) and a :class:`~trunksim.metrics.window.Window`.
Medians and percentiles are interpolated (``numpy.percentile``'s default, linear),
as in Four Keys' ``PERCENTILE_CONT``. Sources: DORA State of DevOps 2023 and 2024
for the metric names and meanings; dora-team/fourkeys ``METRICS.md`` for the table
shapes.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from trunksim.metrics.window import Window


def _quantile(values: pd.Series, q: float) -> float:
    values = values.dropna()
    return float(np.percentile(values.to_numpy(dtype=float), q)) if len(values) else math.nan


def window_deployments(deployments: pd.DataFrame, window: Window) -> pd.DataFrame:
    """Production deployments that ended (rolled out, or rolled back by the canary) in the window."""
    return deployments[window.mask(deployments["finished_hours"])]


def deploys_per_day(deployments: pd.DataFrame, window: Window) -> float:
    """Deployment frequency.

    ``deploys_per_day = N / D`` where ``N`` counts production deployments that ended in
    the window — regular, hotfix and canary-failed alike (canary traffic is
    production) — and ``D`` is the window's length in days of 24 h.
    """
    return len(window_deployments(deployments, window)) / window.days


def lead_times_hours(changes: pd.DataFrame, window: Window) -> pd.Series:
    """Lead time for changes, per change, hours.

    ``deployed_hours - first_commit_hours`` for every change whose first commit lies in
    the window and that is in production for good at the end: a change is credited to
    the deployment that put it in production and stayed (a rollback takes the credit
    back). Changes still in flight at the end are not in this series; see
    ``changes_in_flight_at_end``.
    """
    delivered = changes[window.mask(changes["first_commit_hours"]) & changes["deployed_hours"].notna()]
    return delivered["deployed_hours"] - delivered["first_commit_hours"]


def lead_time_median_hours(changes: pd.DataFrame, window: Window) -> float:
    """Median lead time for changes (first commit → running for all users), hours, interpolated."""
    return _quantile(lead_times_hours(changes, window), 50)


def lead_time_p90_hours(changes: pd.DataFrame, window: Window) -> float:
    """90th percentile of lead time for changes, hours, interpolated."""
    return _quantile(lead_times_hours(changes, window), 90)


def lead_time_mean_hours(changes: pd.DataFrame, window: Window) -> float:
    """Mean lead time for changes, hours: the mean of :func:`lead_times_hours`.

    Unlike the median it cannot jump between the "same evening" and "next morning"
    modes that a working calendar creates, and the ``stage_*_mean_hours`` sum to it.
    """
    values = lead_times_hours(changes, window).dropna()
    return float(values.mean()) if len(values) else math.nan


def merge_to_production_median_hours(changes: pd.DataFrame, window: Window) -> float:
    """Median of ``deployed_hours - merged_hours`` (the other lead-time definition in use), hours."""
    delivered = changes[window.mask(changes["first_commit_hours"]) & changes["deployed_hours"].notna()]
    return _quantile(delivered["deployed_hours"] - delivered["merged_hours"], 50)


def change_failure_rate(deployments: pd.DataFrame, incidents: pd.DataFrame, window: Window, escaped_only: bool = False) -> float:
    """Change failure rate.

    ``deployments in the window that caused at least one failure needing remediation /
    deployments in the window``. The simulator knows the true cause of every failure,
    so attribution is exact. Canary-caught failures count (canary traffic is
    production) unless ``escaped_only``, which counts only failures that reached full
    rollout (``change_failure_rate_escaped``). NaN when there were no deployments.
    """
    shipped = window_deployments(deployments, window)
    if len(shipped) == 0:
        return math.nan
    failures = incidents if not escaped_only else incidents[incidents["source"].isin(ESCAPED_SOURCES)]
    failed = shipped["deployment_id"].isin(failures["deployment_id"])
    return float(failed.mean())


def recovery_times_hours(incidents: pd.DataFrame, window: Window) -> pd.Series:
    """Failed deployment recovery time per incident: ``restored_hours - started_hours``.

    ``started_hours`` is when the failure reached users; incidents that started in
    the window and were restored before the end. Canary-caught failures are included
    (their users were hurt until the rollback).
    """
    restored = incidents[window.mask(incidents["started_hours"]) & incidents["restored_hours"].notna()]
    return restored["restored_hours"] - restored["started_hours"]


def recovery_time_median_hours(incidents: pd.DataFrame, window: Window) -> float:
    """Median failed deployment recovery time, hours, interpolated; NaN with no incidents."""
    return _quantile(recovery_times_hours(incidents, window), 50)


ESCAPED_SOURCES = ("production", "downstream")
"""Incident sources of failures that reached every user (a broken API contract fails in its callers)."""

ROLLBACK_PATHS = ("rollback", "canary_rollback")
"""``restored_by`` values of failures restored by taking the deployment back (under blue/green: switching back)."""


def rollback_recovery_median_hours(incidents: pd.DataFrame, window: Window) -> float:
    """Median recovery time of the failures restored by a rollback, hours; NaN with none.

    Formula: median of ``restored_hours - started_hours`` over incidents that started in
    the window, were restored, and have ``restored_by`` in :data:`ROLLBACK_PATHS` (a
    production rollback or a canary's). It isolates the path blue/green shortens, which
    the all-incident median hides when most failures are fixed forward.
    """
    times = recovery_times_hours(incidents, window)
    return _quantile(times[incidents.loc[times.index, "restored_by"].isin(ROLLBACK_PATHS)], 50)


REMEDIED_IN_PRODUCTION = ("production", "canary")
"""Who found a defect whose fix is unplanned work: users in production (or a canary's users)."""


def rework_deployments(deployments: pd.DataFrame, changes: pd.DataFrame) -> pd.Series:
    """Per deployment (aligned with ``deployments``): was it unplanned, made as a result of a production failure?

    True when the deployment ships at least one change that remedies a failure users
    met (``remedies`` is production or canary: a hotfix, or a fix-forward change that
    rode the regular pipeline), or when it ships again changes of an earlier deployment
    that was rolled back (the re-deployment after a rollback).
    """
    remedy_ids = set(changes.loc[changes["remedies"].isin(REMEDIED_IN_PRODUCTION), "change_id"].astype(int))
    ordered = deployments.sort_values(["started_hours", "deployment_id"])
    rolled_back: set[int] = set()
    flags: dict[int, bool] = {}
    for row in ordered.itertuples(index=False):
        ids = {int(i) for i in row.change_ids.split()} if isinstance(row.change_ids, str) else set()
        flags[row.deployment_id] = bool(ids & remedy_ids) or bool(ids & rolled_back)
        if row.rolled_back:
            rolled_back |= ids
    return deployments["deployment_id"].map(flags).fillna(False).astype(bool)


def rework_rate(deployments: pd.DataFrame, changes: pd.DataFrame, window: Window) -> float:
    """Deployment rework rate.

    ``deployments that are unplanned but happen as a result of an incident in production
    / all deployments`` in the window (DORA 2024). Unplanned deployments are those of
    :func:`rework_deployments`: a hotfix, a fix-forward change riding the regular
    pipeline, or the re-deployment of changes a rollback took out. A rollback itself
    is a remediation of the deployment it undoes, not a new deployment. NaN when there
    were no deployments.
    """
    shipped = window_deployments(deployments, window)
    if len(shipped) == 0:
        return math.nan
    return float(rework_deployments(deployments, changes)[shipped.index].mean())


def failure_exposure_user_hours_per_week(incidents: pd.DataFrame, window: Window) -> float:
    """Failure exposure: user-hours of failure per week.

    ``sum over failures of (restored_hours - started_hours) × exposed_share / weeks``,
    each failure clipped to the window (a failure still open at the end counts to the
    end). ``exposed_share`` is 1 for a failure all users met, and the canary's traffic
    share for one a canary caught: it shows what canaries and flags buy even where they
    raise the change failure rate (a canary rollback is a failed deployment).
    """
    if len(incidents) == 0:
        return 0.0
    start = incidents["started_hours"].to_numpy(dtype=float)
    end = incidents["restored_hours"].fillna(window.end_hours).to_numpy(dtype=float)
    overlap = np.clip(np.minimum(end, window.end_hours) - np.maximum(start, window.start_hours), 0.0, None)
    share = incidents["exposed_share"].to_numpy(dtype=float)
    return float((overlap * share).sum() / window.weeks)


def canary_failure_rate(deployments: pd.DataFrame, window: Window, canary_enabled: bool) -> float:
    """Failed canaries ÷ canary attempts: regular deployments ended in the window whose canary caught a defect.

    Every regular deployment goes through the canary when it is enabled; NaN without a
    canary or without regular deployments in the window.
    """
    if not canary_enabled:
        return math.nan
    regular = window_deployments(deployments, window)
    regular = regular[regular["kind"] == "regular"]
    return float(regular["canary_failed"].astype(bool).mean()) if len(regular) else math.nan

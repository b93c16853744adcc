"""The five DORA metrics, trunksim's own profile (the definitions in DESIGN.md §2 and §4).

Every function is a pure function of the event tables of one replication
(:class:`trunksim.engine.model.Run` frames) and a :class:`~trunksim.metrics.window.Window`.
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
    the window and that a deployment rolled out to all users before the end (a change
    is credited to the first deployment that holds it). Changes still in flight at the
    end are not in this series; see ``changes_in_flight_at_end``.
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
    failures = incidents if not escaped_only else incidents[incidents["source"] == "production"]
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


def rework_rate(deployments: pd.DataFrame, window: Window) -> float:
    """Deployment rework rate.

    ``unplanned deployments made to remedy a production failure (hotfix / fix-forward) /
    all deployments`` in the window (DORA 2024: "deployments that are unplanned but
    happen as a result of an incident in production"). A rollback is a remediation of
    the deployment it undoes, not a new deployment. NaN when there were no deployments.
    """
    shipped = window_deployments(deployments, window)
    if len(shipped) == 0:
        return math.nan
    return float((shipped["kind"] == "hotfix").mean())

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
from itertools import chain

from typing import TYPE_CHECKING

import numpy as np

from trunksim.metrics.columns import Columns, Table, columns_of, nanmean, quantile
from trunksim.metrics.window import Window

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd  # the metrics read NumPy columns; only rework_deployments makes a Series


def _shipped(deployments: Columns, window: Window) -> np.ndarray:
    """Mask of :func:`window_deployments`."""
    return window.mask(deployments.floats("finished_hours"))


def delivered_mask(changes: Table, window: Window) -> np.ndarray:
    """Which changes were delivered: their first commit lies in the window and they reached all users.

    The changes whose lead time :func:`lead_times_hours` measures (a boolean array, one
    entry per row of ``changes``).
    """
    changes = columns_of(changes)
    return window.mask(changes.floats("first_commit_hours")) & ~np.isnan(changes.floats("deployed_hours"))


def _lead_times(changes: Columns, window: Window) -> np.ndarray:
    """:func:`lead_times_hours` as an array."""
    delivered = delivered_mask(changes, window)
    return changes.floats("deployed_hours")[delivered] - changes.floats("first_commit_hours")[delivered]


def trunksim_dora_metrics(changes: Table, deployments: Table, incidents: Table, window: Window) -> dict[str, float]:
    """The DORA columns by trunksim's rules (``trunksim.metrics.DORA_COLUMNS``, in that order), over ``window``."""
    changes, deployments, incidents = columns_of(changes), columns_of(deployments), columns_of(incidents)
    return {
        "deploys_per_day": deploys_per_day(deployments, window),
        "lead_time_median_hours": lead_time_median_hours(changes, window),
        "lead_time_p90_hours": lead_time_p90_hours(changes, window),
        "change_failure_rate": change_failure_rate(deployments, incidents, window),
        "change_failure_rate_escaped": change_failure_rate(deployments, incidents, window, escaped_only=True),
        "recovery_time_median_hours": recovery_time_median_hours(incidents, window),
        "rework_rate": rework_rate(deployments, changes, window),
        "failure_exposure_user_hours_per_week": failure_exposure_user_hours_per_week(incidents, window),
    }


def _restored(incidents: Columns, window: Window) -> np.ndarray:
    """Mask of the incidents of :func:`recovery_times_hours`."""
    return window.mask(incidents.floats("started_hours")) & ~np.isnan(incidents.floats("restored_hours"))


def window_deployments(deployments: pd.DataFrame, window: Window) -> pd.DataFrame:
    """Production deployments that ended (rolled out, or rolled back by the canary) in the window."""
    return deployments[window.mask(deployments["finished_hours"])]


def deploys_per_day(deployments: Table, window: Window) -> float:
    """Deployment frequency.

    ``deploys_per_day = N / D`` where ``N`` counts production deployments that ended in
    the window — regular, hotfix and canary-failed alike (canary traffic is
    production) — and ``D`` is the window's length in days of 24 h.
    """
    return int(_shipped(columns_of(deployments), window).sum()) / window.days


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


def lead_time_median_hours(changes: Table, window: Window) -> float:
    """Median lead time for changes (first commit → running for all users), hours, interpolated."""
    return quantile(_lead_times(columns_of(changes), window), 50)


def lead_time_p90_hours(changes: Table, window: Window) -> float:
    """90th percentile of lead time for changes, hours, interpolated."""
    return quantile(_lead_times(columns_of(changes), window), 90)


def lead_time_mean_hours(changes: Table, window: Window) -> float:
    """Mean lead time for changes, hours: the mean of :func:`lead_times_hours`.

    Unlike the median it cannot jump between the "same evening" and "next morning"
    modes that a working calendar creates, and the ``stage_*_mean_hours`` sum to it.
    """
    return nanmean(_lead_times(columns_of(changes), window))


def merge_to_production_median_hours(changes: Table, window: Window) -> float:
    """Median of ``deployed_hours - merged_hours`` (the other lead-time definition in use), hours."""
    changes = columns_of(changes)
    delivered = delivered_mask(changes, window)
    return quantile(changes.floats("deployed_hours")[delivered] - changes.floats("merged_hours")[delivered], 50)


def change_failure_rate(deployments: Table, incidents: Table, window: Window, escaped_only: bool = False) -> float:
    """Change failure rate.

    ``deployments in the window that caused at least one failure needing remediation /
    deployments in the window``. The simulator knows the true cause of every failure,
    so attribution is exact. Canary-caught failures count (canary traffic is
    production) unless ``escaped_only``, which counts only failures that reached full
    rollout (``change_failure_rate_escaped``). NaN when there were no deployments.
    """
    deployments, incidents = columns_of(deployments), columns_of(incidents)
    shipped = deployments["deployment_id"][_shipped(deployments, window)]
    if len(shipped) == 0:
        return math.nan
    causes = incidents["deployment_id"]
    if escaped_only:
        causes = causes[incidents.isin("source", ESCAPED_SOURCES)]
    return int(np.isin(shipped, causes).sum()) / len(shipped)


def recovery_times_hours(incidents: pd.DataFrame, window: Window) -> pd.Series:
    """Failed deployment recovery time per incident: ``restored_hours - started_hours``.

    ``started_hours`` is when the failure reached users; incidents that started in
    the window and were restored before the end. Canary-caught failures are included
    (their users were hurt until the rollback).
    """
    restored = incidents[window.mask(incidents["started_hours"]) & incidents["restored_hours"].notna()]
    return restored["restored_hours"] - restored["started_hours"]


def recovery_time_median_hours(incidents: Table, window: Window) -> float:
    """Median failed deployment recovery time, hours, interpolated; NaN with no incidents."""
    incidents = columns_of(incidents)
    restored = _restored(incidents, window)
    return quantile(incidents.floats("restored_hours")[restored] - incidents.floats("started_hours")[restored], 50)


ESCAPED_SOURCES = ("production", "downstream")
"""Incident sources of failures that reached every user (a broken API contract fails in its callers)."""

ROLLBACK_PATHS = ("rollback", "canary_rollback")
"""``restored_by`` values of failures restored by taking the deployment back (under blue/green: switching back)."""


def rollback_recovery_median_hours(incidents: Table, window: Window) -> float:
    """Median recovery time of the failures restored by a rollback, hours; NaN with none.

    Formula: median of ``restored_hours - started_hours`` over incidents that started in
    the window, were restored, and have ``restored_by`` in :data:`ROLLBACK_PATHS` (a
    production rollback or a canary's). It isolates the path blue/green shortens, which
    the all-incident median hides when most failures are fixed forward.
    """
    incidents = columns_of(incidents)
    counted = _restored(incidents, window) & incidents.isin("restored_by", ROLLBACK_PATHS)
    return quantile(incidents.floats("restored_hours")[counted] - incidents.floats("started_hours")[counted], 50)


REMEDIED_IN_PRODUCTION = ("production", "canary")
"""Who found a defect whose fix is unplanned work: users in production (or a canary's users)."""


def rework_deployments(deployments: Table, changes: Table) -> pd.Series:
    """Per deployment (aligned with ``deployments``): was it unplanned, made as a result of a production failure?

    True when the deployment ships at least one change that remedies a failure users
    met (``remedies`` is production or canary: a hotfix, or a fix-forward change that
    rode the regular pipeline), or when it ships again changes of an earlier deployment
    that was rolled back (the re-deployment after a rollback). "Earlier" is the order
    of ``(started_hours, deployment_id)``.
    """
    import pandas as pd

    deployments = columns_of(deployments)
    return pd.Series(_rework_flags(deployments, columns_of(changes)), index=deployments.frame.index, name="deployment_id")


def _rework_flags(deployments: Columns, changes: Columns) -> np.ndarray:
    """:func:`rework_deployments` as a boolean array, one entry per row of ``deployments``."""
    count = len(deployments)
    if count == 0:
        return np.zeros(0, dtype=bool)
    remedy_ids = changes["change_id"][changes.isin("remedies", REMEDIED_IN_PRODUCTION)].astype(int)
    lists = [text.split() if isinstance(text, str) else [] for text in deployments["change_ids"]]
    sizes = np.fromiter(map(len, lists), dtype=np.intp, count=count)
    shipped = np.fromiter(map(int, chain.from_iterable(lists)), dtype=np.int64, count=int(sizes.sum()))  # every (row, change) pair...
    row = np.repeat(np.arange(count), sizes)  # ...and its deployment's row
    ids = deployments["deployment_id"]
    order = np.lexsort((ids, deployments.floats("started_hours")))  # rows in the order the deployments started
    position = np.empty(count, dtype=np.intp)
    position[order] = np.arange(count)
    # A change ships again after a rollback when a rolled-back deployment earlier in that order shipped it.
    change, which = np.unique(shipped, return_inverse=True)
    rolled_back = np.asarray(deployments["rolled_back"], dtype=bool)[row]
    first_rolled_back = np.full(len(change), count)
    np.minimum.at(first_rolled_back, which[rolled_back], position[row[rolled_back]])
    rework = np.isin(shipped, remedy_ids) | (first_rolled_back[which] < position[row])
    flags = np.bincount(row[rework], minlength=count) > 0
    # One flag per deployment id: a repeated id takes the flag of its last deployment in that order.
    unique_ids, id_of_row = np.unique(ids, return_inverse=True)
    last = np.full(len(unique_ids), -1)
    np.maximum.at(last, id_of_row, position)
    return flags[order[last]][id_of_row]


def rework_rate(deployments: Table, changes: Table, window: Window) -> float:
    """Deployment rework rate.

    ``deployments that are unplanned but happen as a result of an incident in production
    / all deployments`` in the window (DORA 2024). Unplanned deployments are those of
    :func:`rework_deployments`: a hotfix, a fix-forward change riding the regular
    pipeline, or the re-deployment of changes a rollback took out. A rollback itself
    is a remediation of the deployment it undoes, not a new deployment. NaN when there
    were no deployments.
    """
    deployments = columns_of(deployments)
    shipped = _shipped(deployments, window)
    if not shipped.any():
        return math.nan
    return int(_rework_flags(deployments, columns_of(changes))[shipped].sum()) / int(shipped.sum())


def failure_exposure_user_hours_per_week(incidents: Table, window: Window) -> float:
    """Failure exposure: user-hours of failure per week.

    ``sum over failures of (restored_hours - started_hours) × exposed_share / weeks``,
    each failure clipped to the window (a failure still open at the end counts to the
    end). ``exposed_share`` is 1 for a failure all users met, and the canary's traffic
    share for one a canary caught: it shows what canaries and flags buy even where they
    raise the change failure rate (a canary rollback is a failed deployment).
    """
    if len(incidents) == 0:
        return 0.0
    incidents = columns_of(incidents)
    start = incidents.floats("started_hours")
    restored = incidents.floats("restored_hours")
    end = np.where(np.isnan(restored), window.end_hours, restored)
    overlap = np.clip(np.minimum(end, window.end_hours) - np.maximum(start, window.start_hours), 0.0, None)
    share = incidents.floats("exposed_share")
    return float((overlap * share).sum() / window.weeks)


def canary_failure_rate(deployments: Table, window: Window, canary_enabled: bool) -> float:
    """Failed canaries ÷ canary attempts: regular deployments ended in the window whose canary caught a defect.

    Every regular deployment goes through the canary when it is enabled; NaN without a
    canary or without regular deployments in the window.
    """
    if not canary_enabled:
        return math.nan
    deployments = columns_of(deployments)
    regular = _shipped(deployments, window) & deployments.isin("kind", ("regular",))
    count = int(regular.sum())
    return int(np.asarray(deployments["canary_failed"], dtype=bool)[regular].sum()) / count if count else math.nan

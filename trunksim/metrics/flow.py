"""Flow metrics: the mechanisms behind the DORA numbers.

Pure functions of one replication's event tables and the measurement window. Units
are in the names. Each docstring gives the formula.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from typing import TYPE_CHECKING

from trunksim.tables import EVERY_INTEGRATION_BRANCH, STAGES
from trunksim.metrics.window import Window

if TYPE_CHECKING:  # pragma: no cover
    from trunksim.tables import Run


def _mean(values: pd.Series) -> float:
    values = values.dropna()
    return float(values.mean()) if len(values) else math.nan


def delivered_changes(changes: pd.DataFrame, window: Window) -> pd.DataFrame:
    """Changes whose first commit lies in the window and that reached all users."""
    return changes[window.mask(changes["first_commit_hours"]) & changes["deployed_hours"].notna()]


def stage_mean_hours(changes: pd.DataFrame, window: Window) -> dict[str, float]:
    """Mean hours a delivered change spent in each lead-time stage.

    ``stage_<s>_mean_hours = mean over delivered changes of stage_<s>_hours``; the stages
    of a change sum to its lead time, so these means sum to the mean lead time.
    """
    delivered = delivered_changes(changes, window)
    return {f"stage_{s}_mean_hours": _mean(delivered[f"stage_{s}_hours"]) for s in STAGES}


def review_wait_mean_hours(changes: pd.DataFrame, window: Window) -> float:
    """Mean time a delivered change waited for a reviewer to pick it up (all rounds), hours."""
    return _mean(delivered_changes(changes, window)["stage_review_wait_hours"])


def ci_runs_in_window(ci_runs: pd.DataFrame, window: Window) -> pd.DataFrame:
    """CI runs queued in the window."""
    return ci_runs[window.mask(ci_runs["queued_hours"])]


def ci_queue_wait_mean_hours(ci_runs: pd.DataFrame, window: Window) -> float:
    """Mean wait for a CI runner: ``mean(started_hours - queued_hours)`` over runs queued in the window, hours."""
    runs = ci_runs_in_window(ci_runs, window)
    return _mean(runs["started_hours"] - runs["queued_hours"])


def ci_pass_rate(ci_runs: pd.DataFrame, window: Window) -> float:
    """Share of CI runs (queued in the window) that passed: ``passes / runs``."""
    runs = ci_runs_in_window(ci_runs, window)
    return float((runs["outcome"] == "pass").mean()) if len(runs) else math.nan


def ci_flaky_failure_share(ci_runs: pd.DataFrame, window: Window) -> float:
    """Share of failed CI runs that failed spuriously: ``flaky / (flaky + real failures)``."""
    runs = ci_runs_in_window(ci_runs, window)
    failed = runs[runs["outcome"] != "pass"]
    return float((failed["outcome"] == "flaky").mean()) if len(failed) else math.nan


def activity_hours_per_week(activity: pd.DataFrame, window: Window, kinds: tuple[str, ...]) -> float:
    """Developer working hours per week spent on the given activities (stretches that ended in the window)."""
    rows = activity[window.mask(activity["end_hours"]) & activity["activity"].isin(kinds)]
    return float(rows["working_hours"].sum()) / window.weeks


def activity_share(activity: pd.DataFrame, window: Window, kinds: tuple[str, ...]) -> float:
    """Share of all recorded developer hours in the window spent on the given activities.

    ``waiting_share`` is this share for ``("waiting",)``: working hours a developer spent
    idle because nothing was left to do — no task, no review, and no coding allowed,
    either because the backlog ran dry (``work.backlog_features``) or because
    ``team.max_open_changes`` of their changes were in review or CI. It is 0 in the
    shipped scenarios, whose backlog never runs dry and whose WIP limit is rarely
    reached; it is measured, not assumed (``tests/test_workshop_metrics.py``).
    """
    rows = activity[window.mask(activity["end_hours"])]
    total = float(rows["working_hours"].sum())
    if total == 0:
        return math.nan
    return float(rows.loc[rows["activity"].isin(kinds), "working_hours"].sum()) / total


def red_share(branch_status: pd.DataFrame, branch: str, window: Window) -> float:
    """Share of the window during which ``branch`` was red (its post-merge build failing).

    ``sum over red periods of overlap([red_from, green_at or end], window) / window length``.
    """
    rows = branch_status[branch_status["branch"] == branch]
    if len(rows) == 0:
        return 0.0
    start = rows["red_from_hours"].clip(lower=window.start_hours)
    end = rows["green_at_hours"].fillna(window.end_hours).clip(upper=window.end_hours)
    overlap = (end - start).clip(lower=0.0)
    return float(overlap.sum()) / (window.end_hours - window.start_hours)


def integration_red_share(run: "Run", window: Window) -> float:
    """Share of the window the integration branch was red; for several repositories, their mean.

    One repository: :func:`red_share` of ``run.integration_branch_name``. An organisation
    of several repositories (``EVERY_INTEGRATION_BRANCH``): the unweighted mean over the
    repositories of each one's integration-branch red share (``<service>/<branch>``).
    """
    if run.integration_branch_name != EVERY_INTEGRATION_BRANCH:
        return red_share(run.branch_status, run.integration_branch_name, window)
    shares = [red_share(run.branch_status, f"{name}/{unit.integration_branch_name}", window) for name, unit in run.units.items()]
    return float(np.mean(shares)) if shares else math.nan


def merge_conflict_rate(merges: pd.DataFrame, window: Window) -> float:
    """Share of merges (in the window) that hit at least one merge conflict: ``conflicted / merges``."""
    rows = merges[window.mask(merges["time_hours"])]
    return float((rows["conflict"] > 0).mean()) if len(rows) else math.nan


def per_week(times: pd.Series, window: Window) -> float:
    """How many of these instants fall in the window, per week."""
    return float(window.mask(times).sum()) / window.weeks


def median(values: pd.Series) -> float:
    """Interpolated median ignoring NaN; NaN when empty."""
    values = values.dropna()
    return float(np.percentile(values.to_numpy(dtype=float), 50)) if len(values) else math.nan


def merge_queue_wait_mean_hours(changes: pd.DataFrame, window: Window) -> float:
    """Mean time a delivered change spent in a merge queue (joining it to landing, all rounds), hours.

    ``mean(stage_merge_queue_hours)`` over delivered changes that ever joined a queue;
    NaN without a merge queue.
    """
    delivered = delivered_changes(changes, window)
    return _mean(delivered.loc[delivered["queued_hours"].notna(), "stage_merge_queue_hours"])


def ci_runs_per_landed_change(ci_runs: pd.DataFrame, merges: pd.DataFrame, window: Window) -> float:
    """CI runs spent to land a change: ``(pre-merge + merge-queue runs) / merges``, both in the window.

    Post-merge builds and hotfix runs are left out (they do not decide whether a change
    lands). NaN without merges.
    """
    runs = ci_runs_in_window(ci_runs, window)
    landed = merges[window.mask(merges["time_hours"])]
    if len(landed) == 0:
        return math.nan
    return float(runs["purpose"].isin(("pre_merge", "merge_queue")).sum()) / len(landed)


def wasted_ci_runs_per_week(ci_runs: pd.DataFrame, window: Window) -> float:
    """CI runs whose result was thrown away (a merge queue's speculative runs behind a failed batch), per week."""
    runs = ci_runs_in_window(ci_runs, window)
    return float(runs["discarded"].astype(bool).sum()) / window.weeks


def flag_metrics(features: pd.DataFrame, incidents: pd.DataFrame, window: Window) -> dict[str, float]:
    """The flag lifecycle's metrics (``scenario.flags``), over the window.

    * ``flags_live_mean``: time-average number of live flags — Σ over flags of the hours of
      ``[flag_released, flag_removed or end]`` inside the window ÷ the window's hours;
    * ``flags_added_per_week`` / ``flags_removed_per_week``: flags released / removed in the window, per week;
    * ``flag_age_at_removal_median_days``: median of ``flag_removed - flag_released`` over flags removed
      in the window, days (24 h);
    * ``misconfiguration_incidents_per_week``: failures of a live flag's configuration (no deployment caused them).

    NaN-free zeros when no flag went live (counts), NaN for the median without removals.
    """
    released = features["flag_released_hours"].to_numpy(dtype=float)
    removed = features["flag_removed_hours"].to_numpy(dtype=float)
    has = ~np.isnan(released)
    start = np.maximum(released[has], window.start_hours)
    end = np.minimum(np.where(np.isnan(removed[has]), window.end_hours, removed[has]), window.end_hours)
    live_hours = float(np.clip(end - start, 0.0, None).sum())
    removed_in = features[window.mask(features["flag_removed_hours"])]
    ages = (removed_in["flag_removed_hours"] - removed_in["flag_released_hours"]) / 24.0
    source = incidents["source"] if "source" in incidents else pd.Series([], dtype=object)
    return {
        "flags_live_mean": live_hours / (window.end_hours - window.start_hours),
        "flags_added_per_week": per_week(features["flag_released_hours"], window),
        "flags_removed_per_week": per_week(features["flag_removed_hours"], window),
        "flag_age_at_removal_median_days": float(ages.median()) if len(ages) else math.nan,
        "misconfiguration_incidents_per_week": per_week(incidents.loc[source == "misconfiguration", "started_hours"], window),
    }

"""Flow metrics: the mechanisms behind the DORA numbers.

Pure functions of one replication's event tables and the measurement window. Units
are in the names. Each docstring gives the formula.
"""

from __future__ import annotations

import math

import numpy as np

from typing import TYPE_CHECKING, Union

from trunksim.tables import EVERY_INTEGRATION_BRANCH, STAGES
from trunksim.metrics.columns import Columns, Table, columns_of, nanmean, nansum, quantile
from trunksim.metrics.dora import delivered_mask
from trunksim.metrics.window import Window

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from trunksim.tables import Run


def _share(hits: np.ndarray) -> float:
    """``hits.mean()`` of a boolean array (``true / all``), NaN when empty."""
    return int(hits.sum()) / len(hits) if len(hits) else math.nan


def delivered_changes(changes: pd.DataFrame, window: Window) -> pd.DataFrame:
    """Changes whose first commit lies in the window and that reached all users (:func:`~trunksim.metrics.dora.delivered_mask`)."""
    return changes[delivered_mask(changes, window)]


def stage_mean_hours(changes: Table, window: Window) -> dict[str, float]:
    """Mean hours a delivered change spent in each lead-time stage.

    ``stage_<s>_mean_hours = mean over delivered changes of stage_<s>_hours``; the stages
    of a change sum to its lead time, so these means sum to the mean lead time.
    """
    changes = columns_of(changes)
    delivered = delivered_mask(changes, window)
    return {f"stage_{s}_mean_hours": nanmean(changes.floats(f"stage_{s}_hours")[delivered]) for s in STAGES}


def review_wait_mean_hours(changes: Table, window: Window) -> float:
    """Mean time a delivered change waited for a reviewer to pick it up (all rounds), hours."""
    changes = columns_of(changes)
    return nanmean(changes.floats("stage_review_wait_hours")[delivered_mask(changes, window)])


def _queued(ci_runs: Columns, window: Window) -> np.ndarray:
    """Mask of :func:`ci_runs_in_window`."""
    return window.mask(ci_runs.floats("queued_hours"))


def ci_runs_in_window(ci_runs: pd.DataFrame, window: Window) -> pd.DataFrame:
    """CI runs queued in the window."""
    return ci_runs[_queued(columns_of(ci_runs), window)]


def ci_queue_wait_mean_hours(ci_runs: Table, window: Window) -> float:
    """Mean wait for a CI runner: ``mean(started_hours - queued_hours)`` over runs queued in the window, hours."""
    ci_runs = columns_of(ci_runs)
    queued = _queued(ci_runs, window)
    return nanmean(ci_runs.floats("started_hours")[queued] - ci_runs.floats("queued_hours")[queued])


def ci_pass_rate(ci_runs: Table, window: Window) -> float:
    """Share of CI runs (queued in the window) that passed: ``passes / runs``."""
    ci_runs = columns_of(ci_runs)
    return _share(ci_runs.isin("outcome", ("pass",))[_queued(ci_runs, window)])


def ci_flaky_failure_share(ci_runs: Table, window: Window) -> float:
    """Share of failed CI runs that failed spuriously: ``flaky / (flaky + real failures)``."""
    ci_runs = columns_of(ci_runs)
    failed = _queued(ci_runs, window) & ~ci_runs.isin("outcome", ("pass",))
    return _share(ci_runs.isin("outcome", ("flaky",))[failed])


def activity_hours_per_week(activity: Table, window: Window, kinds: tuple[str, ...]) -> float:
    """Developer working hours per week spent on the given activities (stretches that ended in the window)."""
    activity = columns_of(activity)
    rows = window.mask(activity.floats("end_hours")) & activity.isin("activity", kinds)
    return nansum(activity.floats("working_hours")[rows]) / window.weeks


def activity_share(activity: Table, window: Window, kinds: tuple[str, ...]) -> float:
    """Share of all recorded developer hours in the window spent on the given activities.

    ``waiting_share`` is this share for ``("waiting",)``: working hours a developer spent
    idle because nothing was left to do — no task, no review, and no coding allowed,
    either because the backlog ran dry (``work.backlog_features``) or because
    ``team.max_open_changes`` of their changes were in review or CI. It is 0 in the
    shipped scenarios, whose backlog never runs dry and whose WIP limit is rarely
    reached; it is measured, not assumed (``tests/test_workshop_metrics.py``).
    """
    activity = columns_of(activity)
    ended = window.mask(activity.floats("end_hours"))
    hours = activity.floats("working_hours")[ended]
    total = nansum(hours)
    if total == 0:
        return math.nan
    return nansum(hours[activity.isin("activity", kinds)[ended]]) / total


def red_share(branch_status: Table, branch: str, window: Window) -> float:
    """Share of the window during which ``branch`` was red (its post-merge build failing).

    ``sum over red periods of overlap([red_from, green_at or end], window) / window length``.
    """
    branch_status = columns_of(branch_status)
    rows = branch_status.isin("branch", (branch,))
    if not rows.any():
        return 0.0
    start = _clip(branch_status.floats("red_from_hours")[rows], lower=window.start_hours)
    green = branch_status.floats("green_at_hours")[rows]
    end = _clip(np.where(np.isnan(green), window.end_hours, green), upper=window.end_hours)
    overlap = _clip(end - start, lower=0.0)
    return nansum(overlap) / (window.end_hours - window.start_hours)


def _clip(values: np.ndarray, lower: float = -math.inf, upper: float = math.inf) -> np.ndarray:
    """``Series.clip``: values beyond a bound become the bound; NaN stays NaN."""
    return np.where(values < lower, lower, np.where(values > upper, upper, values))


def integration_red_share(run: "Run", window: Window) -> float:
    """Share of the window the integration branch was red; for several repositories, their mean.

    One repository: :func:`red_share` of ``run.integration_branch_name``. An organisation
    of several repositories (``EVERY_INTEGRATION_BRANCH``): the unweighted mean over the
    repositories of each one's integration-branch red share (``<service>/<branch>``).
    """
    branch_status = Columns.of_run(run, "branch_status")  # its columns: no DataFrame built
    if run.integration_branch_name != EVERY_INTEGRATION_BRANCH:
        return red_share(branch_status, run.integration_branch_name, window)
    shares = [red_share(branch_status, f"{name}/{unit.integration_branch_name}", window) for name, unit in run.units.items()]
    return float(np.mean(shares)) if shares else math.nan


def merge_conflict_rate(merges: Table, window: Window) -> float:
    """Share of merges (in the window) that hit at least one merge conflict: ``conflicted / merges``."""
    merges = columns_of(merges)
    return _share(merges["conflict"][window.mask(merges.floats("time_hours"))] > 0)


def per_week(times: Union[pd.Series, np.ndarray], window: Window) -> float:
    """How many of these instants fall in the window, per week."""
    return int(window.mask(np.asarray(times, dtype=float)).sum()) / window.weeks


def median(values: Union[pd.Series, np.ndarray]) -> float:
    """Interpolated median ignoring NaN; NaN when empty."""
    return quantile(values, 50)


def merge_queue_wait_mean_hours(changes: Table, window: Window) -> float:
    """Mean time a delivered change spent in a merge queue (joining it to landing, all rounds), hours.

    ``mean(stage_merge_queue_hours)`` over delivered changes that ever joined a queue;
    NaN without a merge queue.
    """
    changes = columns_of(changes)
    queued = delivered_mask(changes, window) & ~np.isnan(changes.floats("queued_hours"))
    return nanmean(changes.floats("stage_merge_queue_hours")[queued])


def ci_runs_per_landed_change(ci_runs: Table, merges: Table, window: Window) -> float:
    """CI runs spent to land a change: ``(pre-merge + merge-queue runs) / merges``, both in the window.

    Post-merge builds and hotfix runs are left out (they do not decide whether a change
    lands). NaN without merges.
    """
    ci_runs, merges = columns_of(ci_runs), columns_of(merges)
    landed = int(window.mask(merges.floats("time_hours")).sum())
    if landed == 0:
        return math.nan
    return int(ci_runs.isin("purpose", ("pre_merge", "merge_queue"))[_queued(ci_runs, window)].sum()) / landed


def wasted_ci_runs_per_week(ci_runs: Table, window: Window) -> float:
    """CI runs whose result was thrown away (a merge queue's speculative runs behind a failed batch), per week."""
    ci_runs = columns_of(ci_runs)
    return int(np.asarray(ci_runs["discarded"], dtype=bool)[_queued(ci_runs, window)].sum()) / window.weeks


def flag_metrics(features: Table, incidents: Table, window: Window) -> dict[str, float]:
    """The flag lifecycle's metrics (``scenario.flags``), over the window.

    * ``flags_live_mean``: time-average number of live flags — Σ over flags of the hours of
      ``[flag_released, flag_removed or end]`` inside the window ÷ the window's hours;
    * ``flags_added_per_week`` / ``flags_removed_per_week``: flags released / removed in the window, per week;
    * ``flag_age_at_removal_median_days``: median of ``flag_removed - flag_released`` over flags removed
      in the window, days (24 h);
    * ``misconfiguration_incidents_per_week``: failures of a live flag's configuration (no deployment caused them).

    NaN-free zeros when no flag went live (counts), NaN for the median without removals.
    """
    features, incidents = columns_of(features), columns_of(incidents)
    released = features.floats("flag_released_hours")
    removed = features.floats("flag_removed_hours")
    has = ~np.isnan(released)
    start = np.maximum(released[has], window.start_hours)
    end = np.minimum(np.where(np.isnan(removed[has]), window.end_hours, removed[has]), window.end_hours)
    live_hours = float(np.clip(end - start, 0.0, None).sum())
    removed_in = window.mask(removed)
    ages = (removed[removed_in] - released[removed_in]) / 24.0
    ages = ages[~np.isnan(ages)]
    misconfigured = incidents.isin("source", ("misconfiguration",)) if "source" in incidents else np.zeros(len(incidents), dtype=bool)
    return {
        "flags_live_mean": live_hours / (window.end_hours - window.start_hours),
        "flags_added_per_week": per_week(released, window),
        "flags_removed_per_week": per_week(removed, window),
        "flag_age_at_removal_median_days": float(np.nanmedian(ages)) if len(ages) else math.nan,  # as Series.median
        "misconfiguration_incidents_per_week": per_week(incidents.floats("started_hours")[misconfigured], window),
    }

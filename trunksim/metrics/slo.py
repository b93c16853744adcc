"""Service-level metrics of the error-budget mechanism (``scenario.error_budget``).

Bad time is failure exposure, as in :func:`trunksim.metrics.dora.failure_exposure_user_hours_per_week`:
each failure's duration × the share of users it reached. NaN when the scenario sets no
error budget.
"""

from __future__ import annotations

import math

import numpy as np

from trunksim.metrics.columns import Table, columns_of
from trunksim.metrics.window import Window


def _exposure_between(incidents: Table, start: np.ndarray, end: np.ndarray, now: float) -> np.ndarray:
    """User-hours of failure in each interval ``[start_i, end_i]`` (open failures last until ``now``)."""
    if len(incidents) == 0:
        return np.zeros(len(start))
    incidents = columns_of(incidents)
    began = incidents.floats("started_hours")[None, :]
    restored = incidents.floats("restored_hours")
    restored = np.where(np.isnan(restored), now, restored)[None, :]  # Series.fillna(now)
    share = incidents.floats("exposed_share")[None, :]
    overlap = np.clip(np.minimum(restored, end[:, None]) - np.maximum(began, start[:, None]), 0.0, None)
    return (overlap * share).sum(axis=1)


def slo_compliance(incidents: Table, window: Window, objective: float, slo_window_hours: float) -> float:
    """Share of the measurement window during which the service met its objective.

    On an hourly grid ``t`` over the window: the rolling good share over
    ``[t - slo_window_hours, t]`` is ``1 - exposure / slo_window_hours``; the compliance is
    the share of grid points where it is at least ``objective``.
    """
    grid = np.arange(window.start_hours, window.end_hours + 1e-9, 1.0)
    if len(grid) == 0:
        return math.nan
    good = 1.0 - _exposure_between(incidents, grid - slo_window_hours, grid, window.end_hours) / slo_window_hours
    return float((good >= objective).mean())


def error_budget_remaining(incidents: Table, window: Window, objective: float, slo_window_hours: float) -> float:
    """Share of the error budget left at the end of the run: ``1 - exposure over the last SLO window / ((1 - objective) × window)``.

    Negative when the budget is overspent.
    """
    end = np.array([window.end_hours])
    spent = _exposure_between(incidents, end - slo_window_hours, end, window.end_hours)[0]
    return float(1.0 - spent / ((1.0 - objective) * slo_window_hours))


def deploy_freeze_hours_per_week(freezes: Table, window: Window) -> float:
    """Hours per week feature deployments were frozen by a fast burn (freezes clipped to the window)."""
    if len(freezes) == 0:
        return 0.0
    freezes = columns_of(freezes)
    start = freezes.floats("start_hours")
    end = freezes.floats("end_hours")
    end = np.where(np.isnan(end), window.end_hours, end)  # Series.fillna(window.end_hours)
    overlap = np.clip(np.minimum(end, window.end_hours) - np.maximum(start, window.start_hours), 0.0, None)
    return float(overlap.sum() / window.weeks)

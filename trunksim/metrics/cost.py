"""Cost accounting: what a replication's delivery costs, from its event tables and the scenario's prices.

Pure functions of one replication's event tables, the measurement window and
:class:`Prices` (the scenario's ``cost`` section, one currency unit per hour; the unit is
the user's). Units are in the names; each docstring gives the formula.

* **Developers** are paid for every working hour the ``activity`` table records —
  coding, reviewing, rework, triage, conflicts, incidents, fixes and waiting alike
  (stretches that ended in the window, as :func:`trunksim.metrics.flow.activity_hours_per_week`).
* **CI runners** are paid for their busy hours (per-minute billing of hosted runners):
  ``finished − started`` of each run, clipped to the window.
* **Environments**: production runs every clock hour of the window; blue/green keeps a
  second one (``progressive.blue_green``).
* **Failure impact**: failure exposure (:func:`trunksim.metrics.dora.failure_exposure_user_hours_per_week`)
  priced per user-hour.

``ci_runner_hours_per_week`` is always computed; the currency columns are NaN unless
``cost.enabled`` (:func:`prices_of` returns None).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from trunksim.metrics.columns import Table, columns_of, nansum
from trunksim.metrics.dora import failure_exposure_user_hours_per_week
from trunksim.metrics.window import Window

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

ACTIVITIES: tuple[str, ...] = (
    "coding", "reviewing", "rework", "triage_real", "triage_flaky", "conflict", "red_branch", "revert",
    "incident", "fix", "waiting",
)
"""The activities of the ``activity`` table (``trunksim.tables.ActivityRecord``), in report order; ``waiting`` is idle time."""

COST_COLUMNS: tuple[str, ...] = (
    "ci_runner_hours_per_week",
    "developer_cost_per_week",
    "ci_cost_per_week",
    "environment_cost_per_week",
    "impact_cost_per_week",
    "cost_per_week",
    "cost_per_feature",
    "cost_per_deployment",
)
"""The cost columns of a replication, in order (:func:`cost_metrics`)."""

CLOCK_HOURS_PER_WEEK = 168.0


@dataclass(frozen=True)
class Prices:
    """Prices of one scenario, currency per hour (the scenario's ``cost`` section).

    ``environments`` is how many production environments run all the time: 2 under
    blue/green, else 1.
    """

    developer_hour: float
    ci_runner_hour: float
    environment_hour: float
    impact_user_hour: float
    environments: int = 1


def prices_of(scenario: Any) -> Optional[Prices]:
    """The prices of a scenario, or None when its ``cost.enabled`` is false (currency metrics are then NaN).

    A scenario object without a ``cost`` section (one made by hand, or before cost
    accounting existed) has no prices either.
    """
    section = getattr(scenario, "cost", None)
    if section is None or not section.enabled:
        return None
    progressive = getattr(scenario, "progressive", None)
    return Prices(
        developer_hour=float(section.developer_hour),
        ci_runner_hour=float(section.ci_runner_hour),
        environment_hour=float(section.environment_hour),
        impact_user_hour=float(section.impact_user_hour),
        environments=2 if progressive is not None and progressive.blue_green else 1,
    )


def developer_hours_by_activity(activity: pd.DataFrame, window: Window) -> dict[str, float]:
    """Developer working hours per week, by activity.

    ``Σ working_hours / weeks`` over stretches that ended in the window, for each activity
    of :data:`ACTIVITIES` (0 when absent; ``waiting`` is the idle time), then any other
    activity the table holds, by name.
    """
    rows = activity[window.mask(activity["end_hours"])]
    sums = rows.groupby("activity")["working_hours"].sum()
    names = list(ACTIVITIES) + sorted(set(sums.index) - set(ACTIVITIES))
    return {name: float(sums.get(name, 0.0)) / window.weeks for name in names}


def developer_hours_per_week(activity: Table, window: Window) -> float:
    """Every recorded developer working hour per week, idle (``waiting``) included: ``Σ working_hours / weeks``."""
    activity = columns_of(activity)
    return nansum(activity.floats("working_hours")[window.mask(activity.floats("end_hours"))]) / window.weeks


def ci_runner_hours_per_week(ci_runs: Table, window: Window) -> float:
    """Busy CI runner hours per week.

    ``Σ over runs of overlap([started, finished], window) / weeks``: every run that held a
    runner counts, whatever its purpose or outcome (retries and a merge queue's discarded
    speculative runs included); a run still going at the end counts to the end; a run
    never started holds no runner.
    """
    if len(ci_runs) == 0:
        return 0.0
    ci_runs = columns_of(ci_runs)
    start = ci_runs.floats("started_hours")
    end = ci_runs.floats("finished_hours")
    end = np.where(np.isnan(end), window.end_hours, end)
    overlap = np.minimum(end, window.end_hours) - np.maximum(start, window.start_hours)
    overlap = np.clip(np.nan_to_num(overlap, nan=0.0), 0.0, None)
    return float(overlap.sum()) / window.weeks


def developer_cost_per_week(activity: Table, window: Window, prices: Optional[Prices]) -> float:
    """``developer_hours_per_week × developer_hour``; NaN without prices."""
    return math.nan if prices is None else developer_hours_per_week(activity, window) * prices.developer_hour


def ci_cost_per_week(ci_runs: Table, window: Window, prices: Optional[Prices]) -> float:
    """``ci_runner_hours_per_week × ci_runner_hour``; NaN without prices."""
    return math.nan if prices is None else ci_runner_hours_per_week(ci_runs, window) * prices.ci_runner_hour


def environment_cost_per_week(prices: Optional[Prices]) -> float:
    """``168 clock hours × environment_hour × environments`` (2 under blue/green); NaN without prices."""
    return math.nan if prices is None else CLOCK_HOURS_PER_WEEK * prices.environment_hour * prices.environments


def impact_cost_per_week(incidents: Table, window: Window, prices: Optional[Prices]) -> float:
    """``failure_exposure_user_hours_per_week × impact_user_hour``; NaN without prices."""
    if prices is None:
        return math.nan
    return failure_exposure_user_hours_per_week(incidents, window) * prices.impact_user_hour


def cost_per_week(activity: Table, ci_runs: Table, incidents: Table, window: Window, prices: Optional[Prices]) -> float:
    """Total cost per week: developers + CI runners + environments + failure impact; NaN without prices."""
    if prices is None:
        return math.nan
    return (
        developer_cost_per_week(activity, window, prices)
        + ci_cost_per_week(ci_runs, window, prices)
        + environment_cost_per_week(prices)
        + impact_cost_per_week(incidents, window, prices)
    )


def cost_per_feature(weekly_cost: float, features: Table, window: Window) -> float:
    """``weekly_cost × weeks / features completed in the window``; NaN when none was completed (or no prices)."""
    delivered = int(window.mask(columns_of(features).floats("completed_hours")).sum())
    return weekly_cost * window.weeks / delivered if delivered else math.nan


def cost_per_deployment(weekly_cost: float, deployments: Table, window: Window) -> float:
    """``weekly_cost × weeks / production deployments that ended in the window`` (as ``deploys_per_day`` counts them); NaN when none."""
    shipped = int(window.mask(columns_of(deployments).floats("finished_hours")).sum())
    return weekly_cost * window.weeks / shipped if shipped else math.nan


def cost_metrics(
    activity: Table,
    ci_runs: Table,
    incidents: Table,
    features: Table,
    deployments: Table,
    window: Window,
    prices: Optional[Prices],
) -> dict[str, float]:
    """Every column of :data:`COST_COLUMNS`; the currency ones NaN when ``prices`` is None.

    Each part is computed once; ``cost_per_week`` adds them as :func:`cost_per_week` does.
    """
    runner_hours = ci_runner_hours_per_week(ci_runs, window)
    if prices is None:
        return {name: runner_hours if name == "ci_runner_hours_per_week" else math.nan for name in COST_COLUMNS}
    developers = developer_cost_per_week(activity, window, prices)
    ci = runner_hours * prices.ci_runner_hour  # ci_cost_per_week
    environments = environment_cost_per_week(prices)
    impact = impact_cost_per_week(incidents, window, prices)
    weekly = developers + ci + environments + impact  # cost_per_week
    return {
        "ci_runner_hours_per_week": runner_hours,
        "developer_cost_per_week": developers,
        "ci_cost_per_week": ci,
        "environment_cost_per_week": environments,
        "impact_cost_per_week": impact,
        "cost_per_week": weekly,
        "cost_per_feature": cost_per_feature(weekly, features, window),
        "cost_per_deployment": cost_per_deployment(weekly, deployments, window),
    }

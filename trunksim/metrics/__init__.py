"""Metrics: the event log of a replication → DORA and flow metrics.

``compute_metrics(run)`` returns one flat dict per replication, with the columns of
:data:`METRIC_COLUMNS` in that order. Every metric is a pure function of the run's
event tables (never a counter kept by the engine); formulas are in the docstrings of
:mod:`trunksim.metrics.dora` and :mod:`trunksim.metrics.flow`, and in the README.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trunksim.engine.entities import STAGES
from trunksim.metrics import dora, flow
from trunksim.metrics.window import Window

if TYPE_CHECKING:  # pragma: no cover
    from trunksim.engine.model import Run

DORA_COLUMNS: tuple[str, ...] = (
    "deploys_per_day",
    "lead_time_median_hours",
    "lead_time_p90_hours",
    "change_failure_rate",
    "change_failure_rate_escaped",
    "recovery_time_median_hours",
    "rework_rate",
)
"""The DORA metrics, trunksim profile."""

FLOW_COLUMNS: tuple[str, ...] = (
    "merge_to_production_median_hours",
    "review_wait_mean_hours",
    "ci_queue_wait_mean_hours",
    "ci_pass_rate",
    "ci_flaky_failure_share",
    "flaky_triage_hours_per_week",
    "merge_conflict_rate",
    "conflict_hours_per_week",
    "red_branch_share",
    "incidents_per_week",
    "incident_hours_per_week",
    "coding_share",
    "change_size_median_lines",
    "changes_delivered_per_week",
    "features_delivered_per_week",
    "changes_in_flight_at_end",
) + tuple(f"stage_{s}_mean_hours" for s in STAGES)
"""Flow metrics that explain the DORA numbers."""

METRIC_COLUMNS: tuple[str, ...] = DORA_COLUMNS + FLOW_COLUMNS
"""Every metric column of ``trunksim.run`` and ``replications.csv``, in order."""

RATE_COLUMNS: tuple[str, ...] = (
    "change_failure_rate", "change_failure_rate_escaped", "rework_rate", "ci_pass_rate",
    "ci_flaky_failure_share", "merge_conflict_rate", "red_branch_share", "coding_share",
)
"""Metrics that are shares and must lie in [0, 1]."""


def window_of(run: "Run") -> Window:
    """The measurement window of a run: ``[warm_up, duration]`` hours."""
    settings = run.scenario.simulation
    return Window(settings.warm_up, settings.duration)


def compute_metrics(run: "Run") -> dict[str, float]:
    """Every metric of one replication, in :data:`METRIC_COLUMNS` order.

    Parameters
    ----------
    run : Run
        A finished replication (``trunksim.simulate``).

    Returns
    -------
    dict
        Metric name → value (float; NaN where undefined, e.g. recovery time with no
        incident).
    """
    w = window_of(run)
    changes, deployments, incidents = run.changes, run.deployments, run.incidents
    ci_runs, activity, merges = run.ci_runs, run.activity, run.merges
    delivered = flow.delivered_changes(changes, w)
    features = run.features
    values = {
        "deploys_per_day": dora.deploys_per_day(deployments, w),
        "lead_time_median_hours": dora.lead_time_median_hours(changes, w),
        "lead_time_p90_hours": dora.lead_time_p90_hours(changes, w),
        "change_failure_rate": dora.change_failure_rate(deployments, incidents, w),
        "change_failure_rate_escaped": dora.change_failure_rate(deployments, incidents, w, escaped_only=True),
        "recovery_time_median_hours": dora.recovery_time_median_hours(incidents, w),
        "rework_rate": dora.rework_rate(deployments, w),
        "merge_to_production_median_hours": dora.merge_to_production_median_hours(changes, w),
        "review_wait_mean_hours": flow.review_wait_mean_hours(changes, w),
        "ci_queue_wait_mean_hours": flow.ci_queue_wait_mean_hours(ci_runs, w),
        "ci_pass_rate": flow.ci_pass_rate(ci_runs, w),
        "ci_flaky_failure_share": flow.ci_flaky_failure_share(ci_runs, w),
        "flaky_triage_hours_per_week": flow.activity_hours_per_week(activity, w, ("triage_flaky",)),
        "merge_conflict_rate": flow.merge_conflict_rate(merges, w),
        "conflict_hours_per_week": flow.activity_hours_per_week(activity, w, ("conflict",)),
        "red_branch_share": flow.red_share(run.branch_status, run.integration_branch_name, w),
        "incidents_per_week": flow.per_week(incidents["started_hours"], w),
        "incident_hours_per_week": flow.activity_hours_per_week(activity, w, ("incident",)),
        "coding_share": flow.activity_share(activity, w, ("coding",)),
        "change_size_median_lines": flow.median(delivered["lines"]),
        "changes_delivered_per_week": flow.per_week(changes["deployed_hours"], w),
        "features_delivered_per_week": flow.per_week(features["completed_hours"], w),
        "changes_in_flight_at_end": float((changes["state"] == "in_flight").sum()),
    }
    values.update(flow.stage_mean_hours(changes, w))
    return {name: values[name] for name in METRIC_COLUMNS}


__all__ = ["DORA_COLUMNS", "FLOW_COLUMNS", "METRIC_COLUMNS", "RATE_COLUMNS", "compute_metrics", "window_of"]

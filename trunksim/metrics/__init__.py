"""Metrics: the event log of a replication → DORA and flow metrics.

``compute_metrics(run)`` returns one flat dict per replication, with the columns of
:data:`METRIC_COLUMNS` in that order. Every metric is a pure function of the run's
event tables (never a counter kept by the engine); formulas are in the docstrings of
:mod:`trunksim.metrics.dora` and :mod:`trunksim.metrics.flow`, and in the README.
``compute_metrics(run, profile="fourkeys")`` (or ``"devlake"``) measures the DORA
columns by that tool's rules instead (:mod:`trunksim.metrics.profiles`); the last two
columns are the replication's DORA level and Quick Check score
(:mod:`trunksim.metrics.levels`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from trunksim.metrics import cost, dora, flow, levels, profiles, slo
from trunksim.metrics.columns import Columns
from trunksim.metrics.levels import check_year
from trunksim.metrics.profiles import check_profile
from trunksim.metrics.window import Window
from trunksim.tables import STAGES

if TYPE_CHECKING:  # pragma: no cover
    from trunksim.tables import Run

DORA_COLUMNS: tuple[str, ...] = (
    "deploys_per_day",
    "lead_time_median_hours",
    "lead_time_p90_hours",
    "change_failure_rate",
    "change_failure_rate_escaped",
    "recovery_time_median_hours",
    "rework_rate",
    "failure_exposure_user_hours_per_week",
)
"""The DORA metrics, trunksim profile, and the user impact beside the change failure rate."""

FLOW_COLUMNS: tuple[str, ...] = (
    "lead_time_mean_hours",
    "merge_to_production_median_hours",
    "review_wait_mean_hours",
    "ci_queue_wait_mean_hours",
    "ci_pass_rate",
    "ci_flaky_failure_share",
    "flaky_triage_hours_per_week",
    "merge_queue_wait_mean_hours",
    "ci_runs_per_landed_change",
    "wasted_ci_runs_per_week",
    "slo_compliance",
    "error_budget_remaining",
    "deploy_freeze_hours_per_week",
    "canary_failure_rate",
    "rollback_recovery_median_hours",
    "flags_live_mean",
    "flags_added_per_week",
    "flags_removed_per_week",
    "flag_age_at_removal_median_days",
    "misconfiguration_incidents_per_week",
    "merge_conflict_rate",
    "conflict_hours_per_week",
    "red_branch_share",
    "incidents_per_week",
    "downstream_incidents_per_week",
    "incident_hours_per_week",
    "coding_share",
    "waiting_share",
    "change_size_median_lines",
    "changes_delivered_per_week",
    "planned_changes_delivered_per_week",
    "fix_changes_delivered_per_week",
    "features_delivered_per_week",
    "changes_in_flight_at_end",
) + tuple(f"stage_{s}_mean_hours" for s in STAGES) + cost.COST_COLUMNS
"""Flow metrics that explain the DORA numbers."""

LEVEL_COLUMNS: tuple[str, ...] = ("dora_level", "dora_quick_check_score")
"""The replication's overall DORA level (elite/high/medium/low) and its DORA Quick Check score (0-10)."""

METRIC_COLUMNS: tuple[str, ...] = DORA_COLUMNS + FLOW_COLUMNS + LEVEL_COLUMNS
"""Every metric column of ``trunksim.run`` and ``replications.csv``, in order."""

PROFILES: tuple[str, ...] = profiles.PROFILES
"""Metric profiles: ``trunksim`` (default), ``fourkeys``, ``devlake`` (checked by :func:`check_profile`)."""

YEARS: tuple[int, ...] = levels.YEARS
"""State of DevOps editions with a level table: 2023, 2024 (checked by :func:`check_year`)."""

DEFAULT_LEVEL_YEAR = 2023
"""State of DevOps edition used for ``dora_level`` unless ``year`` says otherwise."""

RATE_COLUMNS: tuple[str, ...] = (
    "change_failure_rate", "change_failure_rate_escaped", "rework_rate", "ci_pass_rate",
    "ci_flaky_failure_share", "merge_conflict_rate", "red_branch_share", "coding_share",
    "waiting_share", "slo_compliance", "canary_failure_rate",
)
"""Metrics that are shares and must lie in [0, 1]."""


def window_of(run: "Run") -> Window:
    """The measurement window of a run: ``[warm_up, duration]`` hours."""
    settings = run.scenario.simulation
    return Window(settings.warm_up, settings.duration)


def slo_metrics(run: "Run", window: Window) -> dict[str, float]:
    """The error-budget metrics of :mod:`trunksim.metrics.slo` (NaN without an error budget)."""
    budget = run.scenario.error_budget
    if not budget.enabled:
        return {"slo_compliance": math.nan, "error_budget_remaining": math.nan, "deploy_freeze_hours_per_week": math.nan}
    incidents, freezes = Columns.of_run(run, "incidents"), Columns.of_run(run, "freezes")  # no DataFrame built
    return {
        "slo_compliance": slo.slo_compliance(incidents, window, budget.objective, budget.window),
        "error_budget_remaining": slo.error_budget_remaining(incidents, window, budget.objective, budget.window),
        "deploy_freeze_hours_per_week": slo.deploy_freeze_hours_per_week(freezes, window),
    }


def across_repositories(run: "Run", window: Window) -> dict[str, float]:
    """The metrics of several repositories (a polyrepo) that depend on each repository's own settings.

    Every other metric is computed on the repositories' tables put together. These are
    not, because each repository has its own error budget, canary and environment
    (its scenario, with a team's or service's ``set``, is ``run.units[name].scenario``):

    * ``slo_compliance``, ``error_budget_remaining``, ``deploy_freeze_hours_per_week``:
      the mean over the repositories with an error budget (each its own SLO);
    * ``canary_failure_rate``: failed canaries ÷ canary attempts over the repositories
      with a canary;
    * the currency columns: the sum over the repositories of each one's weekly costs
      at its own prices (an environment per repository), and ``cost_per_feature`` /
      ``cost_per_deployment`` that total over every repository's completed features /
      deployments in the window.

    Only an organisation's run has units: pandas is imported here, not for one repository.
    """
    import pandas as pd

    units = list(run.units.values())
    budgets = [slo_metrics(unit, window) for unit in units if unit.scenario.error_budget.enabled]
    values: dict[str, float] = {
        name: float(np.mean([b[name] for b in budgets])) if budgets else math.nan
        for name in ("slo_compliance", "error_budget_remaining", "deploy_freeze_hours_per_week")
    }
    canaried = [unit.deployments for unit in units if unit.scenario.deployment.canary.enabled]
    values["canary_failure_rate"] = (
        dora.canary_failure_rate(pd.concat(canaried, ignore_index=True), window, True) if canaried else math.nan
    )
    priced = [(unit, cost.prices_of(unit.scenario)) for unit in units]
    if all(prices is not None for _, prices in priced):
        each = [cost.cost_metrics(u.activity, u.ci_runs, u.incidents, u.features, u.deployments, window, p) for u, p in priced]
        weekly = {
            name: sum(costs[name] for costs in each)
            for name in ("developer_cost_per_week", "ci_cost_per_week", "environment_cost_per_week", "impact_cost_per_week", "cost_per_week")
        }
        values.update(weekly)
        values["cost_per_feature"] = cost.cost_per_feature(weekly["cost_per_week"], run.features, window)
        values["cost_per_deployment"] = cost.cost_per_deployment(weekly["cost_per_week"], run.deployments, window)
    elif any(prices is not None for _, prices in priced):
        values.update({name: math.nan for name in cost.COST_COLUMNS if name != "ci_runner_hours_per_week"})
    return values


def compute_metrics(run: "Run", profile: str = "trunksim", *, year: int = DEFAULT_LEVEL_YEAR) -> dict[str, Any]:
    """Every metric of one replication, in :data:`METRIC_COLUMNS` order.

    Parameters
    ----------
    run : Run
        A finished replication (``trunksim.simulate``).
    profile : {"trunksim", "fourkeys", "devlake"}
        Rules for the DORA columns. Under ``fourkeys`` and ``devlake``,
        ``deploys_per_day``, ``lead_time_median_hours``, ``change_failure_rate`` and
        ``recovery_time_median_hours`` are that tool's numbers (same names and units;
        :mod:`trunksim.metrics.profiles`); ``lead_time_p90_hours``,
        ``change_failure_rate_escaped``, ``rework_rate`` and
        ``failure_exposure_user_hours_per_week``, which the tools do not define, are NaN. Flow metrics are the same under every profile.
    year : {2023, 2024}
        State of DevOps edition for ``dora_level`` (:mod:`trunksim.metrics.levels`).

    Returns
    -------
    dict
        Metric name → value (float; NaN where undefined, e.g. recovery time with no
        incident), then ``dora_level`` (str) and ``dora_quick_check_score`` (0-10),
        both computed from this profile's DORA columns.
    """
    check_profile(profile)
    check_year(year)
    w = window_of(run)
    # Each table's columns become NumPy arrays once, and every metric reads those (trunksim.metrics.columns);
    # a table the engine handed over as typed columns is read as such, without building its DataFrame.
    changes, deployments, incidents = (Columns.of_run(run, name) for name in ("changes", "deployments", "incidents"))
    ci_runs, activity, merges = (Columns.of_run(run, name) for name in ("ci_runs", "activity", "merges"))
    features = Columns.of_run(run, "features")
    delivered = dora.delivered_mask(changes, w)
    planned = changes.isin("kind", ("feature",))
    values = dora.trunksim_dora_metrics(changes, deployments, incidents, w)  # profiles.trunksim_profile
    values.update({
        "lead_time_mean_hours": dora.lead_time_mean_hours(changes, w),
        "merge_to_production_median_hours": dora.merge_to_production_median_hours(changes, w),
        "review_wait_mean_hours": flow.review_wait_mean_hours(changes, w),
        "ci_queue_wait_mean_hours": flow.ci_queue_wait_mean_hours(ci_runs, w),
        "ci_pass_rate": flow.ci_pass_rate(ci_runs, w),
        "ci_flaky_failure_share": flow.ci_flaky_failure_share(ci_runs, w),
        "flaky_triage_hours_per_week": flow.activity_hours_per_week(activity, w, ("triage_flaky",)),
        "merge_queue_wait_mean_hours": flow.merge_queue_wait_mean_hours(changes, w),
        "ci_runs_per_landed_change": flow.ci_runs_per_landed_change(ci_runs, merges, w),
        "wasted_ci_runs_per_week": flow.wasted_ci_runs_per_week(ci_runs, w),
        **slo_metrics(run, w),
        "canary_failure_rate": dora.canary_failure_rate(deployments, w, run.scenario.deployment.canary.enabled),
        "rollback_recovery_median_hours": dora.rollback_recovery_median_hours(incidents, w),
        **flow.flag_metrics(features, incidents, w),
        "merge_conflict_rate": flow.merge_conflict_rate(merges, w),
        "conflict_hours_per_week": flow.activity_hours_per_week(activity, w, ("conflict",)),
        "red_branch_share": flow.integration_red_share(run, w),
        "incidents_per_week": flow.per_week(incidents.floats("started_hours"), w),
        "downstream_incidents_per_week": flow.per_week(incidents.floats("started_hours")[incidents.isin("source", ("downstream",))], w),
        "incident_hours_per_week": flow.activity_hours_per_week(activity, w, ("incident",)),
        "coding_share": flow.activity_share(activity, w, ("coding",)),
        "waiting_share": flow.activity_share(activity, w, ("waiting",)),
        "change_size_median_lines": flow.median(changes.floats("lines")[delivered]),
        "changes_delivered_per_week": flow.per_week(changes.floats("deployed_hours"), w),
        "planned_changes_delivered_per_week": flow.per_week(changes.floats("deployed_hours")[planned], w),
        "fix_changes_delivered_per_week": flow.per_week(changes.floats("deployed_hours")[~planned], w),
        "features_delivered_per_week": flow.per_week(features.floats("completed_hours"), w),
        "changes_in_flight_at_end": float(int(changes.isin("state", ("in_flight",)).sum())),
    })
    values.update(flow.stage_mean_hours(changes, w))
    values.update(cost.cost_metrics(activity, ci_runs, incidents, features, deployments, w, cost.prices_of(run.scenario)))
    if run.units:
        values.update(across_repositories(run, w))
    if profile != "trunksim":
        measured = profiles.profile_metrics(run, profile)
        values.update({name: measured.get(name, math.nan) for name in DORA_COLUMNS})
    values["dora_level"] = levels.overall_level(values, year=year)
    values["dora_quick_check_score"] = levels.quick_check_score(values)
    return {name: values[name] for name in METRIC_COLUMNS}


__all__ = [
    "DEFAULT_LEVEL_YEAR", "DORA_COLUMNS", "FLOW_COLUMNS", "LEVEL_COLUMNS", "METRIC_COLUMNS", "PROFILES", "RATE_COLUMNS", "YEARS",
    "check_profile", "check_year", "compute_metrics", "window_of",
]

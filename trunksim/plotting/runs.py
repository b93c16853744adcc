"""Plots of one replication (``trunksim.simulate``): its changes, deployments, incidents and CI.

:func:`timeline` draws each change as a swim lane from first commit to production,
laid out in time by :func:`stage_segments`; :func:`ci_queue_and_red` draws the CI
queue (counted by :func:`ci_occupancy`) and the periods a branch was red. Times on
the x axis are days since the run began (Monday 00:00); weekends are shaded when the
team keeps a working calendar.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd

from trunksim.tables import STAGES
from trunksim.plotting.style import INK, STAGE_COLOURS, axes_or_new, make_legible, stage_handles, stage_style


_PHASES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("first_commit_hours", "submitted_hours", ("coding",)),
    ("submitted_hours", "merged_hours", ("review_wait", "review", "rework", "ci_queue", "ci")),
    ("merged_hours", "deployed_hours", ("deploy_wait", "deploy")),
)


def stage_segments(changes: pd.DataFrame) -> pd.DataFrame:
    """Lay each delivered change's lead-time stages out in time (for :func:`timeline`).

    The change table gives, per change, the exact hours spent in each stage and four
    timestamps: first commit, submitted (coding done), merged and deployed. Segments
    are anchored at those timestamps: coding fills first commit → submitted; review
    wait, review, rework, CI queue and CI fill submitted → merged; waiting to deploy and
    deploy fill merged → deployed. Within a phase the stages are drawn in that canonical
    order with lengths proportional to their recorded hours — **the order within a
    phase is approximated** (a change that went review → rework → review → CI is drawn
    as review then rework then CI); the phase boundaries and each stage's share are
    exact. A change whose timestamps are missing or out of order (for instance one
    reverted and merged again) is laid out stage after stage from its first commit.

    Parameters
    ----------
    changes : DataFrame
        The change table of a run (``Run.changes``).

    Returns
    -------
    DataFrame
        ``change_id, stage, start_hours, end_hours``, one row per non-empty segment of
        every delivered change.
    """
    rows: list[tuple[int, str, float, float]] = []
    delivered = changes[changes["deployed_hours"].notna() & changes["first_commit_hours"].notna()]
    for record in delivered.to_dict("records"):
        change_id = int(record["change_id"])
        hours = {s: max(float(record.get(f"stage_{s}_hours", 0.0) or 0.0), 0.0) for s in STAGES}
        bounds = [record[a] for a, _, _ in _PHASES] + [record["deployed_hours"]]
        if any(pd.isna(b) for b in bounds) or any(b2 < b1 for b1, b2 in zip(bounds, bounds[1:])):
            t = float(record["first_commit_hours"])
            for stage in STAGES:
                if hours[stage] > 0:
                    rows.append((change_id, stage, t, t + hours[stage]))
                    t += hours[stage]
            continue
        for (start_col, end_col, stages) in _PHASES:
            start, end = float(record[start_col]), float(record[end_col])
            if end <= start:
                continue
            weights = [hours[s] for s in stages]
            total = sum(weights)
            if total <= 0:
                weights, total = [1.0] + [0.0] * (len(stages) - 1), 1.0
            t = start
            for stage, weight in zip(stages, weights):
                if weight <= 0:
                    continue
                width = weight / total * (end - start)
                rows.append((change_id, stage, t, t + width))
                t += width
    return pd.DataFrame(rows, columns=["change_id", "stage", "start_hours", "end_hours"])


def _shade_weekends(ax, run, start_hours: float, end_hours: float) -> bool:
    calendar = run.scenario.team.calendar
    if not calendar.enabled or calendar.days_per_week >= 7:
        return False
    week = 168.0
    for w in range(int(start_hours // week), int(end_hours // week) + 1):
        ax.axvspan((w * week + calendar.days_per_week * 24.0) / 24.0, (w + 1) * 7.0, color=INK, alpha=0.06,
                   linewidth=0, zorder=0)
    return True


def _day_axis(ax, left_hours: float, right_hours: float, weekends: bool) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.set_xlim(left_hours / 24.0, right_hours / 24.0)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=14, integer=True))
    ax.set_xlabel("days since the run began (Monday 00:00)" + ("; grey: weekends" if weekends else ""))


def timeline(
    run,
    ax=None,
    *,
    start: Optional[float] = None,
    hours: float = 168.0,
    max_changes: int = 40,
    title: Optional[str] = None,
):
    """One replication as swim lanes: each change from first commit to production, coloured by stage.

    Lanes are the changes whose first commit falls in ``[start, start + hours)``, oldest
    on top (at most ``max_changes``). Each delivered change is drawn from its first
    commit to its full rollout, split into its lead-time stages by
    :func:`stage_segments`: the phase boundaries (submitted, merged, deployed) are
    exact, the order of stages inside a phase is approximated (see there). A change not
    in production by the end of the run shows its coding, then a grey bar to the end.
    Above the lanes: production deployments (▲; ◆ for hotfixes; △ when the canary
    caught a fault) and incidents (a black bar from failure to restored service; ✕ on
    the lane of the change that caused it). Weekends are shaded.

    Parameters
    ----------
    run : Run
        One replication (``trunksim.simulate``).
    ax : matplotlib Axes, optional
        Where to draw; a new figure if None.
    start : float, optional
        Start of the window, hours; defaults to the end of the warm-up.
    hours : float
        Length of the window in which lanes start, hours (default one week). The x axis
        runs on until the last lane is in production.
    max_changes : int
        Most lanes to draw.
    title : str, optional
        Title; defaults to the scenario name.

    Returns
    -------
    matplotlib.axes.Axes
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    simulation = run.scenario.simulation
    start = float(simulation.warm_up if start is None else start)
    end_of_run = float(simulation.duration)
    changes = run.changes
    first = changes["first_commit_hours"]
    chosen = (
        changes[first.notna() & (first >= start) & (first < start + hours) & (changes["state"] != "abandoned")]
        .sort_values(["first_commit_hours", "change_id"])
        .head(max_changes)
    )
    lanes = {int(c): i for i, c in enumerate(chosen["change_id"])}
    n = len(lanes)
    ax = axes_or_new(ax, figsize=(14, 3.4 + 0.26 * max(n, 6)))

    segments = stage_segments(chosen)
    for stage in STAGES:
        part = segments[segments["stage"] == stage]
        if len(part):
            ax.barh(part["change_id"].map(lanes), (part["end_hours"] - part["start_hours"]) / 24.0,
                    left=part["start_hours"] / 24.0, height=0.75, zorder=2, **stage_style(stage))
    in_flight = chosen[chosen["deployed_hours"].isna()]
    for record in in_flight.to_dict("records"):
        y = lanes[int(record["change_id"])]
        coded = record["submitted_hours"] if pd.notna(record["submitted_hours"]) else end_of_run
        ax.barh(y, (coded - record["first_commit_hours"]) / 24.0, left=record["first_commit_hours"] / 24.0, height=0.75,
                zorder=2, **stage_style("coding"))
        ax.barh(y, (end_of_run - coded) / 24.0, left=coded / 24.0, height=0.75, color="#DDDDDD", hatch="..",
                edgecolor="#777777", linewidth=0, zorder=2)
    ends = list(chosen["deployed_hours"].fillna(end_of_run)) + [start + hours]
    right = min(max(ends) + 6.0, end_of_run)
    left = start - 6.0

    deploy_row, incident_row = -2.4, -1.3
    deployments = run.deployments
    shown = deployments[(deployments["finished_hours"] >= left) & (deployments["finished_hours"] <= right)]
    kinds = (
        (shown[(shown["kind"] != "hotfix") & ~shown["canary_failed"].astype(bool)], "^", INK, "deployment"),
        (shown[shown["kind"] == "hotfix"], "D", INK, "hotfix deployment"),
        (shown[shown["canary_failed"].astype(bool)], "^", "white", "canary caught a fault"),
    )
    handles = stage_handles()
    for part, marker, face, name in kinds:
        ax.scatter(part["finished_hours"] / 24.0, np.full(len(part), deploy_row), marker=marker, s=90, facecolor=face,
                   edgecolor=INK, linewidths=1.2, zorder=4)
        handles.append(Line2D([], [], marker=marker, linestyle="", markersize=10, markerfacecolor=face,
                              markeredgecolor=INK, label=name))
    incidents = run.incidents
    restored = incidents["restored_hours"].fillna(end_of_run)
    visible = incidents[(restored >= left) & (incidents["started_hours"] <= right)]
    for record in visible.to_dict("records"):
        finish = record["restored_hours"] if pd.notna(record["restored_hours"]) else end_of_run
        width = max((finish - record["started_hours"]) / 24.0, 0.04)
        ax.barh(incident_row, width, left=record["started_hours"] / 24.0, height=0.6, color=INK, zorder=4)
        lane = lanes.get(int(record["change_id"]))
        if lane is not None:
            ax.scatter([record["started_hours"] / 24.0], [lane], marker="X", s=120, color=INK, edgecolor="white",
                       linewidths=1.0, zorder=5)
    handles.append(Patch(facecolor=INK, label="incident: failure → restored"))
    handles.append(Line2D([], [], marker="X", linestyle="", markersize=11, markerfacecolor=INK,
                          markeredgecolor="white", label="this change caused a failure"))
    if len(in_flight):
        handles.append(Patch(facecolor="#DDDDDD", hatch="..", edgecolor="#777777", label="not in production at the end"))

    weekends = _shade_weekends(ax, run, left, right)
    _day_axis(ax, left, right, weekends)
    ax.axhline(-0.75, color=INK, linewidth=0.8)
    ax.set_ylim(max(n, 1) - 0.4, deploy_row - 0.8)
    ticks = [deploy_row, incident_row] + ([0, n - 1] if n > 1 else [0] if n else [])
    names = ["deploys", "incidents"] + (["first change", f"change {n}"] if n > 1 else ["change 1"] if n else [])
    ax.set_yticks(ticks)
    ax.set_yticklabels(names)
    ax.set_ylabel(f"{n} changes, one lane each")
    ax.set_title(title or f"{run.scenario.name}: changes first committed in days "
                          f"{start / 24:.0f}–{(start + hours) / 24:.0f}, from first commit to production")
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.grid(axis="x", alpha=0.3)
    make_legible(ax)
    return ax


def ci_occupancy(ci_runs: pd.DataFrame) -> pd.DataFrame:
    """CI runs waiting for a runner and running, over time (a step function).

    A run waits from ``queued_hours`` to ``started_hours`` and runs from
    ``started_hours`` to ``finished_hours``; a missing time means "still so at the end".

    Returns
    -------
    DataFrame
        ``time_hours, waiting, running``: the counts from each instant until the next row.
    """
    queued = ci_runs["queued_hours"].to_numpy(dtype=float)
    started = ci_runs["started_hours"].to_numpy(dtype=float)
    finished = ci_runs["finished_hours"].to_numpy(dtype=float)
    s, f = started[~np.isnan(started)], finished[~np.isnan(finished)]
    q = queued[~np.isnan(queued)]
    events = pd.DataFrame(
        {
            "time_hours": np.concatenate([[0.0], q, s, f]),
            "waiting": np.concatenate([[0], np.ones(len(q)), -np.ones(len(s)), np.zeros(len(f))]),
            "running": np.concatenate([[0], np.zeros(len(q)), np.ones(len(s)), -np.ones(len(f))]),
        }
    )
    steps = events.groupby("time_hours", sort=True).sum().cumsum().reset_index()
    steps[["waiting", "running"]] = steps[["waiting", "running"]].round().astype(int)
    return steps


def ci_queue_and_red(run, ax=None, *, start: Optional[float] = None, hours: Optional[float] = None):
    """CI runs waiting for a runner and running over time, with the periods a branch was red.

    Parameters
    ----------
    run : Run
        One replication (``trunksim.simulate``).
    ax : matplotlib Axes, optional
        Where to draw; a new figure if None.
    start, hours : float, optional
        Window to show, hours; by default the whole run.

    Returns
    -------
    matplotlib.axes.Axes
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    end_of_run = float(run.scenario.simulation.duration)
    left = 0.0 if start is None else float(start)
    right = end_of_run if hours is None else min(left + float(hours), end_of_run)
    ax = axes_or_new(ax, figsize=(14, 4.8))
    steps = ci_occupancy(run.ci_runs)
    times = np.append(steps["time_hours"].to_numpy(), end_of_run) / 24.0
    waiting = np.append(steps["waiting"].to_numpy(), steps["waiting"].iloc[-1])
    running = np.append(steps["running"].to_numpy(), steps["running"].iloc[-1])
    ax.fill_between(times, waiting, step="post", color=STAGE_COLOURS["ci_queue"], alpha=0.9, linewidth=0, zorder=2)
    ax.step(times, waiting, where="post", color="#8A7F00", linewidth=1.0, zorder=3)
    ax.step(times, running, where="post", color=STAGE_COLOURS["ci"], linewidth=2.0, zorder=3)
    runners = int(run.scenario.ci.runners)
    ax.axhline(runners, color=INK, linestyle="--", linewidth=1.5, zorder=3)
    status = run.branch_status
    branches = list(dict.fromkeys(status["branch"]))
    for record in status.to_dict("records"):
        green = record["green_at_hours"] if pd.notna(record["green_at_hours"]) else end_of_run
        ax.axvspan(record["red_from_hours"] / 24.0, green / 24.0, color="#D55E00", alpha=0.3, linewidth=0, zorder=1)
    handles = [
        Patch(facecolor=STAGE_COLOURS["ci_queue"], edgecolor="#8A7F00", label="runs waiting for a runner"),
        Line2D([], [], color=STAGE_COLOURS["ci"], linewidth=2.0, label="runs running"),
        Line2D([], [], color=INK, linestyle="--", linewidth=1.5, label=f"runners: {runners}"),
        Patch(facecolor="#D55E00", alpha=0.3, label="red: " + (", ".join(branches) if branches else "never")),
    ]
    window = (steps["time_hours"] >= left) & (steps["time_hours"] <= right)
    top = max(int(steps.loc[window, ["waiting", "running"]].to_numpy().max(initial=0)), runners)
    ax.set_ylim(0, top * 1.15 + 1)
    weekends = _shade_weekends(ax, run, left, right)
    _day_axis(ax, left, right, weekends)
    ax.set_ylabel("CI runs")
    ax.set_title(f"{run.scenario.name}: CI queue and red branches")
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.grid(axis="y", alpha=0.3)
    make_legible(ax)
    return ax

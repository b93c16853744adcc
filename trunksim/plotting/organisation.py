"""Plots of an organisation's teams and services: where in the organisation delivery is fast or slow.

The input is the **long units frame** of organisation scenarios — one row per scenario ×
replication × level × unit × metric (columns ``scenario, replication, level, unit,
metric, value``), as :func:`trunksim.run_organisation` returns and a batch writes as
``units.csv``. :func:`team_panel` draws one panel per metric with a horizontal bar per
team (or service): the median over replications, with the distribution-free 95 %
interval of the median (:func:`trunksim.stats.median_interval`, as in ``summary.csv``)
as an error bar, the teams of each scenario grouped together in the scenario's colour.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd

from trunksim.plotting.results import require_results
from trunksim.plotting.style import OKABE_ITO, label, make_legible, percent_format, projector_style
from trunksim.stats import median_interval

TEAM_PLOT_METRICS: tuple[str, ...] = (
    "deploys_per_day", "lead_time_median_hours", "change_failure_rate", "recovery_time_median_hours",
)
"""The metrics :func:`team_panel` draws by default: the four DORA keys."""

UNITS_FRAME_COLUMNS: tuple[str, ...] = ("scenario", "replication", "level", "unit", "metric", "value")
"""The columns a long units frame has (``units.csv``)."""


def _is_share(metric: str) -> bool:
    return metric.endswith("_rate") or metric.endswith("_share")


def unit_medians(units: pd.DataFrame, metric: str, level: str = "team", confidence: float = 0.95) -> pd.DataFrame:
    """Per scenario and unit of ``level``: the median of ``metric`` over replications and its interval.

    Parameters
    ----------
    units : pandas.DataFrame
        The long units frame (columns :data:`UNITS_FRAME_COLUMNS`).
    metric : str
        A metric of the frame (``deploys_per_day``, ...).
    level : str
        ``"team"`` (default), ``"service"`` or ``"organisation"``.
    confidence : float
        Coverage of the interval of the median (:func:`trunksim.stats.median_interval`).

    Returns
    -------
    pandas.DataFrame
        Columns ``scenario, unit, replications, median, low, high``, one row per scenario
        and unit in the order they first appear (NaN values left out; NaN where none is
        left).
    """
    chosen = units[(units["level"] == level) & (units["metric"] == metric)]
    rows = []
    for (scenario, unit), part in chosen.groupby(["scenario", "unit"], sort=False):
        values = part["value"].to_numpy(dtype=float)
        finite = values[~np.isnan(values)]
        low, high = median_interval(values, confidence)
        rows.append(
            {
                "scenario": scenario, "unit": unit, "replications": int(len(finite)),
                "median": float(np.median(finite)) if len(finite) else math.nan, "low": low, "high": high,
            }
        )
    return pd.DataFrame(rows, columns=["scenario", "unit", "replications", "median", "low", "high"])


def team_panel(units: pd.DataFrame, metrics: Sequence[str] = TEAM_PLOT_METRICS, *, level: str = "team"):
    """A figure with one panel per metric and a horizontal bar per team, teams grouped by scenario.

    Each bar is the median over replications of the team's metric; the error bar is the
    distribution-free 95 % interval of that median. The teams of a scenario sit together
    in its colour (the legend names the scenarios), a thin line between scenarios; a
    team without a value is marked "n/a". Shares (rates) are shown as percentages.

    Parameters
    ----------
    units : pandas.DataFrame
        The long units frame of organisation scenarios (columns
        :data:`UNITS_FRAME_COLUMNS`: ``trunksim.run_organisation``'s second frame, or
        ``units.csv``).
    metrics : sequence of str
        One panel each, in order; the four DORA keys by default (:data:`TEAM_PLOT_METRICS`).
    level : str
        Which units get a bar: ``"team"`` (default) or ``"service"`` (polyrepo).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    TypeError
        ``units`` is not a DataFrame.
    ValueError
        An empty frame, one without the units columns, no metric to draw, no unit of
        ``level``, or a metric the frame does not have.
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    require_results(units, "team_panel", UNITS_FRAME_COLUMNS)
    metrics = list(metrics)
    if not metrics:
        raise ValueError("team_panel() needs at least one metric to draw")
    if not (units["level"] == level).any():
        present = ", ".join(dict.fromkeys(units["level"].astype(str)))
        raise ValueError(f"team_panel(): the frame has no unit of level {level!r} (its levels: {present})")
    known = set(units.loc[units["level"] == level, "metric"])
    unknown = [metric for metric in metrics if metric not in known]
    if unknown:
        raise ValueError(f"team_panel(): the frame has no metric {unknown[0]!r} at level {level!r}")

    placed = unit_medians(units, metrics[0], level)[["scenario", "unit"]]
    scenarios = list(dict.fromkeys(placed["scenario"]))
    colours = {name: OKABE_ITO[i % len(OKABE_ITO)] for i, name in enumerate(scenarios)}
    positions, y, boundaries = [], 0.0, []
    for k, name in enumerate(scenarios):
        if k:
            boundaries.append(y - 0.25)
            y += 0.5  # a gap between scenarios
        for unit in placed.loc[placed["scenario"] == name, "unit"]:
            positions.append((name, unit, y))
            y += 1.0
    bars = len(positions)
    with projector_style():
        columns = 2 if len(metrics) > 1 else 1
        rows = math.ceil(len(metrics) / columns)
        figure = Figure(figsize=(7.5 * columns, (1.6 + 0.45 * (bars + 0.5 * len(scenarios))) * rows + 1.0), layout="constrained")
        axes = figure.subplots(rows, columns, squeeze=False).ravel()
        for ax, metric in zip(axes, metrics):
            table = unit_medians(units, metric, level).set_index(["scenario", "unit"])
            ys, medians, lows, highs, colour = [], [], [], [], []
            for name, unit, yi in positions:
                ys.append(yi)
                row = table.loc[(name, unit)] if (name, unit) in table.index else None
                medians.append(float(row["median"]) if row is not None else math.nan)
                lows.append(float(row["low"]) if row is not None else math.nan)
                highs.append(float(row["high"]) if row is not None else math.nan)
                colour.append(colours[name])
            medians_a = np.array(medians)
            shown = ~np.isnan(medians_a)
            ax.barh(np.array(ys)[shown], medians_a[shown], color=np.array(colour)[shown], height=0.7, linewidth=0)
            below = np.nan_to_num(medians_a - np.array(lows), nan=0.0).clip(min=0)
            above = np.nan_to_num(np.array(highs) - medians_a, nan=0.0).clip(min=0)
            ax.errorbar(
                medians_a[shown], np.array(ys)[shown], xerr=[below[shown], above[shown]],
                fmt="none", ecolor="black", elinewidth=1.5, capsize=4,
            )
            for yi, present in zip(ys, shown):
                if not present:
                    ax.annotate(" n/a", (0.0, yi), va="center", ha="left", fontsize=12)
            for boundary in boundaries:
                ax.axhline(boundary, color="#999999", linewidth=0.8)
            ax.set_yticks(ys)
            ax.set_yticklabels([unit for _, unit, _ in positions])
            ax.set_ylim(y - 0.4, -0.6)
            ax.set_title(label(metric))
            if _is_share(metric):
                ax.xaxis.set_major_formatter(percent_format())
            ends = np.concatenate([np.array(lows), np.array(highs), medians_a, [0.0]])
            ends = ends[~np.isnan(ends)]
            left, right = float(ends.min()), float(ends.max())
            span = max(right - left, 1e-9)
            ax.set_xlim(left - (0.1 * span if left < 0 else 0.0), right + 0.1 * span)
            ax.grid(axis="x", alpha=0.3)
            make_legible(ax)
        for ax in axes[len(metrics):]:
            ax.set_visible(False)
        handles = [Patch(facecolor=colours[name], label=name) for name in scenarios]
        figure.legend(handles=handles, loc="outside lower center", ncol=min(len(scenarios), 3), frameon=False, fontsize=12)
        replications = units["replication"].nunique()
        what = "team" if level == "team" else level
        figure.suptitle(f"Per {what}: median over {replications} replications (whisker: 95% interval of the median)", fontsize=16)
    return figure

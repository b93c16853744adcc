"""Plots of a results frame: how the replications of each scenario spread.

The input is a **results frame** (``trunksim.run`` / ``trunksim.sweep``: one row per
scenario × replication). :func:`metric_distribution` shows one metric per scenario,
:func:`dora_panel` every DORA metric, :func:`stage_breakdown` where lead time goes and
:func:`level_shares` how often each scenario reached each DORA performance level.
Drawing functions take ``ax=None`` and return the axes (:func:`dora_panel` returns its
figure).
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np
import pandas as pd

from trunksim.metrics.columns import quantile
from trunksim.tables import STAGES
from trunksim.plotting.style import (
    DORA_PLOT_METRICS,
    LEVEL_COLOURS,
    LEVELS,
    OKABE_ITO,
    STAGE_LABELS,
    axes_or_new,
    compact_labels,
    label,
    legend_below,
    make_legible,
    percent_format,
    projector_style,
    stage_handles,
    stage_style,
    text_colour,
    wrapped_labels,
)


def require_results(frame: object, caller: str, columns: Sequence[str] = ("scenario",)) -> None:
    """Refuse, in one clear line, what is not a results frame with rows and the ``columns`` a plot reads.

    Raises
    ------
    TypeError
        ``frame`` is not a DataFrame.
    ValueError
        A column is missing, or the frame has no rows (an empty frame would otherwise
        fail deep inside NumPy or matplotlib).
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(
            f"{caller}() needs a results frame (a pandas DataFrame from trunksim.run or trunksim.sweep), "
            f"not {type(frame).__name__}"
        )
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        shown = ", ".join(repr(column) for column in missing)
        raise ValueError(
            f"{caller}() needs a results frame with the column{'s' if len(missing) > 1 else ''} {shown} "
            "(one row per scenario × replication, as trunksim.run returns); this frame has "
            + ("no columns" if frame.columns.empty else f"{len(frame.columns)} other columns")
        )
    if frame.empty:
        raise ValueError(
            f"{caller}() needs a results frame with at least one row (one per scenario × replication); this one is empty"
        )


def _scenarios(frame: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(frame["scenario"]))


def metric_distribution(frame: pd.DataFrame, metric: str, ax=None, log: Optional[bool] = None):
    """Distribution of one metric per scenario: violin, replications as dots, median marked.

    Parameters
    ----------
    frame : DataFrame
        Replication results (one row per scenario × replication).
    metric : str
        Column to plot.
    ax : matplotlib Axes, optional
        Where to draw; a new figure if None.
    log : bool, optional
        Log scale; by default on for hour metrics spanning more than two decades.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ValueError
        An empty frame, or one without a ``scenario`` or ``metric`` column.
    """
    require_results(frame, "metric_distribution", ("scenario", metric))
    ax = axes_or_new(ax)
    names = _scenarios(frame)
    data = [frame.loc[frame["scenario"] == n, metric].dropna().to_numpy(dtype=float) for n in names]
    positions = np.arange(1, len(names) + 1)
    finite = np.concatenate([d for d in data if len(d)]) if any(len(d) for d in data) else np.array([])
    if log is None:
        positive = finite[finite > 0]
        log = metric.endswith("_hours") and len(positive) > 0 and positive.max() / max(positive.min(), 1e-9) > 100
    for i, (values, pos) in enumerate(zip(data, positions)):
        colour = OKABE_ITO[i % len(OKABE_ITO)]
        if len(values) > 1 and np.ptp(values) > 0:
            shown = np.log10(values[values > 0]) if log else values
            if len(shown) > 1 and np.ptp(shown) > 0:
                parts = ax.violinplot([shown], positions=[pos], showextrema=False, widths=0.8)
                for body in parts["bodies"]:
                    body.set_facecolor(colour)
                    body.set_alpha(0.35)
        jitter = np.linspace(-0.12, 0.12, len(values)) if len(values) > 1 else np.zeros(len(values))
        shown_points = np.log10(np.clip(values, 1e-9, None)) if log else values
        ax.scatter(pos + jitter, shown_points, s=14, color=colour, alpha=0.8, zorder=3)
        if len(values):
            med = float(np.median(values))
            y = math.log10(max(med, 1e-9)) if log else med
            ax.hlines(y, pos - 0.3, pos + 0.3, color="black", linewidth=2.5, zorder=4)
            if len(names) <= 6:  # beyond that the bars speak; numbers would run into each other
                ax.annotate(f"{med:.3g}", (pos + 0.32, y), va="center", fontsize=12)
    ax.set_xticks(positions)
    labels, shared = compact_labels(names)
    if len(names) > 4:  # many scenarios (a sweep): slanted labels
        ax.set_xticklabels(labels, rotation=45, ha="right", rotation_mode="anchor")
    else:
        ax.set_xticklabels(wrapped_labels(labels), rotation=0)
    if shared:
        ax.set_xlabel(shared)
    ax.set_xlim(0.4, len(names) + 0.9)
    if log:
        ticks = ax.get_yticks()
        ax.set_yticks(ticks)
        ax.set_yticklabels([f"{10 ** t:.3g}" for t in ticks])
    ax.set_title(label(metric))
    ax.grid(axis="y", alpha=0.3)
    make_legible(ax)
    return ax


def dora_panel(frame: pd.DataFrame, metrics: Sequence[str] = DORA_PLOT_METRICS):
    """A figure with one distribution panel per DORA metric; returns the figure.

    Raises ``ValueError`` for an empty frame, or one without ``scenario``, ``replication``
    or one of ``metrics``.
    """
    from matplotlib.figure import Figure

    require_results(frame, "dora_panel", ("scenario", "replication", *metrics))

    with projector_style():
        cols = 3
        rows = math.ceil(len(metrics) / cols)
        figure = Figure(figsize=(6 * cols, 4.6 * rows), layout="constrained")
        axes = figure.subplots(rows, cols, squeeze=False).ravel()
        for ax, metric in zip(axes, metrics):
            metric_distribution(frame, metric, ax=ax)
        for ax in axes[len(metrics):]:
            ax.set_visible(False)
        figure.suptitle(f"DORA metrics over {frame['replication'].nunique()} replications (black bar: median)", fontsize=16)
    return figure


def stage_breakdown(frame: pd.DataFrame, ax=None):
    """Mean lead time split into stages, one bar per scenario.

    Each segment is the median over replications of that stage's mean hours per
    delivered change; the total is written at the end of the bar. Waiting stages
    (for review, for a CI runner, to deploy) are hatched.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ValueError
        An empty frame, or one without ``scenario`` or a ``stage_<stage>_mean_hours`` column.
    """
    require_results(frame, "stage_breakdown", ("scenario", *(f"stage_{stage}_mean_hours" for stage in STAGES)))
    ax = axes_or_new(ax, figsize=(11, 2.2 + 0.9 * frame["scenario"].nunique()))
    names = _scenarios(frame)
    left = np.zeros(len(names))
    for stage in STAGES:
        column = f"stage_{stage}_mean_hours"
        # the median of the replications where the stage was measured (0 where it never was)
        values = np.array([quantile(frame.loc[frame["scenario"] == n, column].to_numpy(dtype=float), 50) for n in names])
        values = np.nan_to_num(values)
        ax.barh(names, values, left=left, label=STAGE_LABELS[stage], height=0.7, **stage_style(stage))
        left += values
    for y, total in enumerate(left):
        ax.annotate(f" {total:.3g} h", (total, y), va="center", ha="left", fontsize=12)
    ax.set_xlim(0, max(left.max(), 1e-9) * 1.14)
    ax.invert_yaxis()
    ax.set_xlabel("mean hours per delivered change")
    ax.set_title("Where lead time goes")
    legend_below(ax, handles=stage_handles(), ncol=4)
    ax.grid(axis="x", alpha=0.3)
    make_legible(ax)
    return ax


def level_shares(frame: pd.DataFrame, ax=None, *, by: str = "scenario", column: str = "dora_level"):
    """Share of replications in each DORA performance level, one 100 % bar per scenario.

    Parameters
    ----------
    frame : DataFrame
        Replication results with a ``dora_level`` column (elite, high, medium, low).
    ax : matplotlib Axes, optional
        Where to draw; a new figure if None.
    by : str
        Column giving one bar each: ``"scenario"`` (default; each shipped strategy file is
        its own scenario) or ``"strategy"``.
    column : str
        Column holding the level of each replication.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if isinstance(frame, pd.DataFrame) and column not in frame:
        raise KeyError(f"level_shares needs a {column!r} column (elite/high/medium/low per replication)")
    require_results(frame, "level_shares", (by, column))
    groups = list(dict.fromkeys(frame[by]))
    levels = frame[column].where(frame[column].notna(), "n/a").astype(str).str.lower()
    others = [v for v in dict.fromkeys(levels) if v not in LEVELS]
    order = list(LEVELS) + others
    counts = pd.crosstab(frame[by], levels).reindex(index=groups, columns=order, fill_value=0)
    shares = counts.div(counts.sum(axis=1).replace(0, np.nan), axis=0).fillna(0.0)
    ax = axes_or_new(ax, figsize=(10, 2.0 + 0.8 * len(groups)))
    y = np.arange(len(groups))
    left = np.zeros(len(groups))
    for level in order:
        colour = LEVEL_COLOURS.get(level, "#BBBBBB")
        width = shares[level].to_numpy(dtype=float)
        ax.barh(y, width, left=left, color=colour, label=level, height=0.7, edgecolor="white", linewidth=1)
        for yi, (l, w) in enumerate(zip(left, width)):
            if w >= 0.08:
                ax.text(l + w / 2, yi, f"{w:.0%}", ha="center", va="center", fontsize=12, color=text_colour(colour))
        left += width
    ax.set_yticks(y)
    ax.set_yticklabels(groups)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(percent_format())
    ax.set_xlabel("share of replications")
    ax.set_title("DORA performance level of each replication")
    legend_below(ax, ncol=len(order))
    make_legible(ax)
    return ax

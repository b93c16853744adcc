"""Plots of replication results and of single runs, readable on a projector.

Two kinds of input:

* a **results frame** (``trunksim.run`` / ``trunksim.sweep``: one row per scenario ×
  replication) — :func:`metric_distribution`, :func:`dora_panel`,
  :func:`stage_breakdown`, :func:`level_shares`, :func:`sweep_plot`, :func:`tornado`;
* one **run** (``trunksim.simulate``: the event tables of one replication) —
  :func:`timeline` and :func:`ci_queue_and_red`.

Every drawing function takes ``ax=None``; it draws on ``ax`` (or on a new figure's
axes) and returns the axes. Colours are the Okabe–Ito colour-blind-safe palette, waiting
stages are also hatched (so they read in grey scale too), and text is at least 11 pt.
Times on run plots are in days since the run began (Monday 00:00). Only this module
imports matplotlib.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np
import pandas as pd

from trunksim.engine.entities import STAGES

OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
"""Colour-blind-safe palette (Okabe & Ito 2008)."""

STAGE_COLOURS = dict(zip(STAGES, ("#0072B2", "#56B4E9", "#009E73", "#CC79A7", "#F0E442", "#E69F00", "#D55E00", "#999999")))
"""One colour per lead-time stage."""

WAITING_STAGES: tuple[str, ...] = ("review_wait", "ci_queue", "deploy_wait")
"""Stages in which a change waits for someone or something; drawn hatched."""

STAGE_LABELS = {
    "coding": "coding",
    "review_wait": "waiting for review",
    "review": "review",
    "rework": "rework (fixes, conflicts)",
    "ci_queue": "waiting for a CI runner",
    "ci": "CI",
    "deploy_wait": "waiting to deploy",
    "deploy": "deploy / canary",
}
"""Readable names of the lead-time stages."""

LEVELS: tuple[str, ...] = ("elite", "high", "medium", "low")
"""DORA performance levels, best first (values of the ``dora_level`` column)."""

LEVEL_COLOURS = {"elite": "#009E73", "high": "#56B4E9", "medium": "#E69F00", "low": "#D55E00"}
"""One colour per DORA level."""

LABELS = {
    "deploys_per_day": "Deployments per day",
    "lead_time_median_hours": "Lead time, median (hours)",
    "lead_time_p90_hours": "Lead time, p90 (hours)",
    "change_failure_rate": "Change failure rate",
    "change_failure_rate_escaped": "Change failure rate (escaped canary)",
    "recovery_time_median_hours": "Recovery time, median (hours)",
    "rework_rate": "Deployment rework rate",
    "lead_time_mean_hours": "Lead time, mean (hours)",
    "merge_to_production_median_hours": "Merge to production, median (hours)",
    "review_wait_mean_hours": "Wait for review, mean (hours)",
    "ci_queue_wait_mean_hours": "Wait for a CI runner, mean (hours)",
    "ci_pass_rate": "CI pass rate",
    "ci_flaky_failure_share": "Share of CI failures that were flaky",
    "flaky_triage_hours_per_week": "Reading flaky runs (developer hours/week)",
    "merge_conflict_rate": "Merges with a conflict",
    "conflict_hours_per_week": "Resolving conflicts (developer hours/week)",
    "red_branch_share": "Share of time the branch was red",
    "incidents_per_week": "Incidents per week",
    "incident_hours_per_week": "Incident work (developer hours/week)",
    "changes_delivered_per_week": "Changes delivered per week",
    "features_delivered_per_week": "Features delivered per week",
}
"""Axis labels of the DORA metrics and of the flow metrics most often plotted."""

DORA_PLOT_METRICS = (
    "deploys_per_day", "lead_time_median_hours", "change_failure_rate", "recovery_time_median_hours", "rework_rate",
    "lead_time_p90_hours",
)
"""The metrics in the standard DORA panel."""

FONT = {
    "font.size": 13, "axes.titlesize": 15, "axes.labelsize": 13, "xtick.labelsize": 12, "ytick.labelsize": 12,
    "legend.fontsize": 12, "legend.title_fontsize": 12, "figure.titlesize": 16,
}
"""Font sizes for projectors."""

MIN_FONT = 11.0
"""No text drawn by this module is smaller than this (points)."""

_WAIT_HATCH = "///"
_INK = "#000000"


# -- shared helpers ------------------------------------------------------------------------------
def use_projector_style() -> None:
    """Set matplotlib's defaults to this module's projector font sizes (for notebooks)."""
    import matplotlib

    matplotlib.rcParams.update(FONT)


def _axes(ax, figsize=(7, 4.5)):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _legible(ax) -> None:
    """Raise every text of ``ax`` to the projector sizes (never below :data:`MIN_FONT`)."""
    ax.title.set_fontsize(max(ax.title.get_fontsize(), FONT["axes.titlesize"]))
    for text in (ax.xaxis.label, ax.yaxis.label):
        text.set_fontsize(max(text.get_fontsize(), FONT["axes.labelsize"]))
    for tick in ax.get_xticklabels() + ax.get_yticklabels():
        tick.set_fontsize(max(tick.get_fontsize(), FONT["xtick.labelsize"]))
    ax.tick_params(labelsize=FONT["xtick.labelsize"])
    for text in ax.texts:
        text.set_fontsize(max(text.get_fontsize(), MIN_FONT))
    legend = ax.get_legend()
    if legend is not None:
        for text in legend.get_texts():
            text.set_fontsize(max(text.get_fontsize(), FONT["legend.fontsize"]))
        legend.get_title().set_fontsize(max(legend.get_title().get_fontsize(), FONT["legend.title_fontsize"]))


def _wrapped(names: Sequence[str], room: int = 48) -> list[str]:
    """Tick labels broken over lines when, side by side, they would run into each other."""
    import textwrap

    width = max(8, room // max(len(names), 1))
    if sum(len(str(n)) for n in names) + 2 * len(names) <= room:
        return [str(n) for n in names]
    return [textwrap.fill(str(n), width=width, break_long_words=False) for n in names]


def _scenarios(frame: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(frame["scenario"]))


def label(metric: str) -> str:
    """A readable label for a metric column."""
    return LABELS.get(metric, metric.replace("_", " "))


def _stage_style(stage: str) -> dict[str, Any]:
    style: dict[str, Any] = {"color": STAGE_COLOURS[stage], "linewidth": 0}
    if stage in WAITING_STAGES:
        style.update(hatch=_WAIT_HATCH, edgecolor="white")
    return style


def _stage_handles() -> list:
    from matplotlib.patches import Patch

    return [
        Patch(facecolor=STAGE_COLOURS[s], hatch=_WAIT_HATCH if s in WAITING_STAGES else None,
              edgecolor="white", label=STAGE_LABELS[s])
        for s in STAGES
    ]


def _legend_below(ax, gap_inches: float = 0.75, **kwargs):
    """A legend centred under the axes, a fixed distance below them (clear of tick labels and x label)."""
    from matplotlib.transforms import ScaledTranslation

    transform = ax.transAxes + ScaledTranslation(0, -gap_inches, ax.figure.dpi_scale_trans)
    return ax.legend(loc="upper center", bbox_to_anchor=(0.5, 0.0), bbox_transform=transform, frameon=False, **kwargs)


def _text_colour(background: str) -> str:
    """Black or white, whichever reads better on ``background`` (WCAG relative luminance)."""
    from matplotlib.colors import to_rgb

    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in to_rgb(background))
    return "black" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.18 else "white"


# -- results frames ------------------------------------------------------------------------------
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
    """
    ax = _axes(ax)
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
            ax.annotate(f"{med:.3g}", (pos + 0.32, y), va="center", fontsize=12)
    ax.set_xticks(positions)
    ax.set_xticklabels(_wrapped(names), rotation=0)
    ax.set_xlim(0.4, len(names) + 0.9)
    if log:
        ticks = ax.get_yticks()
        ax.set_yticks(ticks)
        ax.set_yticklabels([f"{10 ** t:.3g}" for t in ticks])
    ax.set_title(label(metric))
    ax.grid(axis="y", alpha=0.3)
    _legible(ax)
    return ax


def dora_panel(frame: pd.DataFrame, metrics: Sequence[str] = DORA_PLOT_METRICS):
    """A figure with one distribution panel per DORA metric; returns the figure."""
    from matplotlib.figure import Figure

    with _style():
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
    """
    ax = _axes(ax, figsize=(11, 2.2 + 0.9 * frame["scenario"].nunique()))
    names = _scenarios(frame)
    left = np.zeros(len(names))
    for stage in STAGES:
        column = f"stage_{stage}_mean_hours"
        values = np.array([np.nanmedian(frame.loc[frame["scenario"] == n, column].to_numpy(dtype=float)) for n in names])
        values = np.nan_to_num(values)
        ax.barh(names, values, left=left, label=STAGE_LABELS[stage], height=0.7, **_stage_style(stage))
        left += values
    for y, total in enumerate(left):
        ax.annotate(f" {total:.3g} h", (total, y), va="center", ha="left", fontsize=12)
    ax.set_xlim(0, max(left.max(), 1e-9) * 1.14)
    ax.invert_yaxis()
    ax.set_xlabel("mean hours per delivered change")
    ax.set_title("Where lead time goes")
    _legend_below(ax, handles=_stage_handles(), ncol=4)
    ax.grid(axis="x", alpha=0.3)
    _legible(ax)
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
    if column not in frame:
        raise KeyError(f"level_shares needs a {column!r} column (elite/high/medium/low per replication)")
    groups = list(dict.fromkeys(frame[by]))
    levels = frame[column].where(frame[column].notna(), "n/a").astype(str).str.lower()
    others = [v for v in dict.fromkeys(levels) if v not in LEVELS]
    order = list(LEVELS) + others
    counts = pd.crosstab(frame[by], levels).reindex(index=groups, columns=order, fill_value=0)
    shares = counts.div(counts.sum(axis=1).replace(0, np.nan), axis=0).fillna(0.0)
    ax = _axes(ax, figsize=(10, 2.0 + 0.8 * len(groups)))
    y = np.arange(len(groups))
    left = np.zeros(len(groups))
    for level in order:
        colour = LEVEL_COLOURS.get(level, "#BBBBBB")
        width = shares[level].to_numpy(dtype=float)
        ax.barh(y, width, left=left, color=colour, label=level, height=0.7, edgecolor="white", linewidth=1)
        for yi, (l, w) in enumerate(zip(left, width)):
            if w >= 0.08:
                ax.text(l + w / 2, yi, f"{w:.0%}", ha="center", va="center", fontsize=12, color=_text_colour(colour))
        left += width
    ax.set_yticks(y)
    ax.set_yticklabels(groups)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(_percent())
    ax.set_xlabel("share of replications")
    ax.set_title("DORA performance level of each replication")
    _legend_below(ax, ncol=len(order))
    _legible(ax)
    return ax


def _percent():
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(xmax=1.0, decimals=0)


def _is_ordered(values: pd.Series) -> bool:
    """Whether a column's values are numbers (booleans count: off < on), so they have an order."""
    present = values.dropna()
    if pd.api.types.is_numeric_dtype(present) or pd.api.types.is_bool_dtype(present):
        return True
    return len(present) > 0 and all(isinstance(v, (bool, int, float, np.bool_, np.number)) for v in present)


def _is_continuous(values: pd.Series) -> bool:
    """Numbers that are not booleans: drawn on a numeric axis."""
    present = values.dropna()
    return _is_ordered(present) and not all(isinstance(v, (bool, np.bool_)) for v in present)


def _value_text(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "on" if value else "off"
    if isinstance(value, (int, float, np.integer, np.floating)):
        return f"{value:g}"
    return str(value)


def sweep_plot(
    frame: pd.DataFrame,
    parameter: str,
    metric: str,
    ax=None,
    *,
    by: str = "strategy",
    confidence: float = 0.95,
    points: bool = True,
    logx: bool = False,
):
    """A metric against a swept parameter: median per value with a confidence band, one line per strategy.

    Parameters
    ----------
    frame : DataFrame
        Sweep results (``trunksim.sweep``, or several concatenated): one row per
        scenario × replication with a column named ``parameter``.
    parameter : str
        The swept column (a dotted path such as ``"ci.runners"``, or ``"variant"``).
        Numbers are placed on a numeric axis, joined by a line with a band; anything
        else (booleans as off/on, variant names in order of first appearance) is
        categorical, drawn as a median dot with its interval as a whisker.
    metric : str
        The metric column on the y axis.
    ax : matplotlib Axes, optional
        Where to draw; a new figure if None.
    by : str
        One line per distinct value of this column (default ``"strategy"``).
    confidence : float
        Coverage of the band: a distribution-free interval for the median
        (binomial order statistics, :func:`trunksim.experiment.median_interval`); with
        few replications it widens to the sample range.
    points : bool
        Also show each replication as a faint dot.
    logx : bool
        Logarithmic x axis (numeric parameters only).

    Returns
    -------
    matplotlib.axes.Axes
    """
    from trunksim.experiment import median_interval

    data = frame[frame[parameter].notna()]
    ordered = _is_continuous(data[parameter])
    if ordered:
        values = sorted(dict.fromkeys(data[parameter]))
    elif _is_ordered(data[parameter]):
        values = sorted(dict.fromkeys(data[parameter]))  # booleans: off, on
    else:
        values = list(dict.fromkeys(data[parameter]))
    position = {v: (float(v) if ordered else float(i)) for i, v in enumerate(values)}
    groups = list(dict.fromkeys(data[by]))
    ax = _axes(ax, figsize=(8, 5))
    for i, name in enumerate(groups):
        colour = OKABE_ITO[i % len(OKABE_ITO)]
        part = data[data[by] == name]
        xs, medians, lows, highs = [], [], [], []
        for value in values:
            observed = part.loc[part[parameter] == value, metric].to_numpy(dtype=float)
            observed = observed[~np.isnan(observed)]
            if len(observed) == 0:
                continue
            low, high = median_interval(observed, confidence)
            xs.append(position[value])
            medians.append(float(np.median(observed)))
            lows.append(low)
            highs.append(high)
            offset = 0.0 if ordered else (i - (len(groups) - 1) / 2) * 0.12
            xs[-1] += offset
            if points:
                beside = 0.0 if ordered else 0.05  # beside the whisker, not under it
                ax.scatter(np.full(len(observed), xs[-1] + beside), observed, s=14, color=colour, alpha=0.4,
                           linewidths=0, zorder=2)
        if not xs:
            continue
        if ordered:
            ax.fill_between(xs, lows, highs, color=colour, alpha=0.2, linewidth=0, zorder=1)
            ax.plot(xs, medians, marker="o", markersize=7, linewidth=2.5, color=colour, label=str(name), zorder=3)
        else:
            # Categories have no "between": a median with its interval as a whisker, no line.
            error = [np.subtract(medians, lows), np.subtract(highs, medians)]
            ax.errorbar(xs, medians, yerr=error, fmt="o", markersize=8, elinewidth=2.5, capsize=6, color=colour,
                        label=str(name), zorder=3)
    if ordered and logx:
        ax.set_xscale("log")
    if not ordered or len(values) <= 10:
        ax.set_xticks([position[v] for v in values])
        ax.set_xticklabels([_value_text(v) for v in values])
        ax.minorticks_off()
    if not ordered:
        ax.set_xlim(-0.5, len(values) - 0.5)
    ax.set_xlabel(parameter)
    ax.set_ylabel(label(metric))
    ax.set_title(label(metric))
    ax.grid(alpha=0.3)
    band = "band" if ordered else "bar"
    _legend_below(ax, gap_inches=0.7, ncol=min(len(groups), 3), title=f"dot: median, {band}: {confidence:.0%} CI of the median")
    _legible(ax)
    return ax


def sweep_parameters(frame: pd.DataFrame) -> list[str]:
    """The swept-parameter columns of a sweep frame: columns named as dotted paths, and ``variant``."""
    return [c for c in frame.columns if "." in str(c) or c == "variant"]


def _middle(values: pd.Series) -> Any:
    unique = list(dict.fromkeys(values.dropna()))
    if not unique:
        return None
    if _is_ordered(values):
        unique = sorted(unique)
        return unique[(len(unique) - 1) // 2]
    return unique[0]


def tornado(
    frame: pd.DataFrame,
    metric: str,
    ax=None,
    *,
    parameters: Optional[Sequence[str]] = None,
    baseline: Optional[Mapping[str, Any]] = None,
    strategy: Optional[str] = None,
):
    """Rank swept parameters by how far they move a metric (a tornado chart).

    For each parameter the chart takes the **one-at-a-time slice** through the baseline:
    the rows where every *other* parameter is at its baseline value (or NaN, meaning that
    row comes from a sweep that did not touch it, so it ran at the scenario's own
    value). Within the slice it takes the median of ``metric`` at each swept value. The
    bar runs from the baseline median (rows with every parameter at baseline, the
    vertical line) to the median at the parameter's lowest swept value (blue) and at its
    highest (orange); intermediate values are black ticks. Bars are sorted by swing
    (largest median minus smallest), largest on top. Without a baseline row the bar is
    the grey range of the medians.

    Parameters
    ----------
    frame : DataFrame
        A sweep frame (``trunksim.sweep`` over a grid, or one-at-a-time sweeps
        concatenated) with one column per swept parameter.
    metric : str
        The metric column to rank by.
    ax : matplotlib Axes, optional
        Where to draw; a new figure if None.
    parameters : sequence of str, optional
        Parameter columns; by default every column named as a dotted path (and ``variant``).
    baseline : mapping, optional
        Baseline value of each parameter, in the frame's units (durations in hours).
        Default: the middle of its sorted swept values (the first value seen for
        non-numeric parameters).
    strategy : str, optional
        Draw this strategy's rows; required when the frame holds several strategies.

    Returns
    -------
    matplotlib.axes.Axes
    """
    data = frame
    if strategy is not None:
        data = data[data["strategy"] == strategy]
    elif "strategy" in data and data["strategy"].nunique() > 1:
        raise ValueError(f"tornado draws one strategy; pass strategy= one of {sorted(data['strategy'].unique())}")
    params = list(parameters) if parameters is not None else sweep_parameters(data)
    if not params:
        raise ValueError("tornado needs swept-parameter columns (dotted paths such as 'ci.runners')")
    base = {p: (baseline[p] if baseline and p in baseline else _middle(data[p])) for p in params}
    at_base = {p: data[p].isna() | (data[p] == base[p]) for p in params}
    everything = np.logical_and.reduce([at_base[p].to_numpy() for p in params])
    centre = float(np.nanmedian(data.loc[everything, metric])) if everything.any() else math.nan
    bars = []
    for p in params:
        others = [at_base[q].to_numpy() for q in params if q != p]
        mask = (np.logical_and.reduce(others) if others else np.ones(len(data), bool)) & data[p].notna().to_numpy()
        medians = data.loc[mask].groupby(p, sort=False)[metric].median().dropna()
        if medians.empty:
            continue
        ordered = _is_ordered(data[p])
        if ordered:
            medians = medians.sort_index()
        bars.append((p, medians, ordered, float(medians.max() - medians.min())))
    bars.sort(key=lambda bar: bar[3], reverse=True)
    ax = _axes(ax, figsize=(10, 1.8 + 0.9 * max(len(bars), 1)))
    span = [centre] if np.isfinite(centre) else []
    for y, (p, medians, ordered, _) in enumerate(bars):
        low_value, high_value = medians.index[0], medians.index[-1]
        m_low, m_high = float(medians.iloc[0]), float(medians.iloc[-1])
        span += [float(medians.min()), float(medians.max())]
        if np.isfinite(centre) and ordered:
            segments = [(m_low, "#0072B2", "lowest value swept"), (m_high, "#E69F00", "highest value swept")]
            for end, colour, name in sorted(segments, key=lambda seg: abs(seg[0] - centre), reverse=True):
                ax.barh(y, end - centre, left=centre, height=0.6, color=colour, label=name)
            middle = centre
        else:
            ax.barh(y, float(medians.max() - medians.min()), left=float(medians.min()), height=0.6, color="#999999",
                    label="range of medians")
            middle = float(medians.min() + medians.max()) / 2
        for m in medians.iloc[1:-1]:
            ax.plot([m, m], [y - 0.3, y + 0.3], color=_INK, linewidth=1.5)
        ends = [(low_value, m_low), (high_value, m_high)] if len(medians) > 1 else [(low_value, m_low)]
        scale = max(float(medians.max() - medians.min()), abs(middle), 1e-9)
        for k, (value, m) in enumerate(ends):
            direction = np.sign(m - middle)
            if abs(m - middle) < 0.02 * scale:  # at the centre: the side away from the other end
                other = ends[1 - k][1] if len(ends) > 1 else middle
                direction = -np.sign(other - middle) or (-1.0 if k == 0 else 1.0)
            ax.annotate(_value_text(value), (m, y), xytext=(7 * direction, 0), textcoords="offset points",
                        ha="right" if direction < 0 else "left", va="center", fontsize=12)
    if np.isfinite(centre):
        ax.axvline(centre, color=_INK, linewidth=1.5, label=f"baseline: {centre:.3g}")
    ax.set_yticks(np.arange(len(bars)))
    ax.set_yticklabels([bar[0] for bar in bars])
    ax.set_ylim(len(bars) - 0.4, -0.6)
    if span:
        low, high = min(span), max(span)
        pad = (high - low) * 0.18 or max(abs(high), 1.0) * 0.1
        ax.set_xlim(low - pad, high + pad)
    ax.set_xlabel(label(metric))
    ax.set_title(f"What moves {label(metric).lower()}")
    ax.grid(axis="x", alpha=0.3)
    handles, names = ax.get_legend_handles_labels()
    unique = dict(sorted(zip(names, handles), key=lambda item: ("lowest" not in item[0], item[0])))
    _legend_below(ax, handles=list(unique.values()), labels=list(unique.keys()), ncol=2)
    _legible(ax)
    return ax


# -- one run -----------------------------------------------------------------------------------
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
        ax.axvspan((w * week + calendar.days_per_week * 24.0) / 24.0, (w + 1) * 7.0, color=_INK, alpha=0.06,
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
    ax = _axes(ax, figsize=(14, 3.4 + 0.26 * max(n, 6)))

    segments = stage_segments(chosen)
    for stage in STAGES:
        part = segments[segments["stage"] == stage]
        if len(part):
            ax.barh(part["change_id"].map(lanes), (part["end_hours"] - part["start_hours"]) / 24.0,
                    left=part["start_hours"] / 24.0, height=0.75, zorder=2, **_stage_style(stage))
    in_flight = chosen[chosen["deployed_hours"].isna()]
    for record in in_flight.to_dict("records"):
        y = lanes[int(record["change_id"])]
        coded = record["submitted_hours"] if pd.notna(record["submitted_hours"]) else end_of_run
        ax.barh(y, (coded - record["first_commit_hours"]) / 24.0, left=record["first_commit_hours"] / 24.0, height=0.75,
                zorder=2, **_stage_style("coding"))
        ax.barh(y, (end_of_run - coded) / 24.0, left=coded / 24.0, height=0.75, color="#DDDDDD", hatch="..",
                edgecolor="#777777", linewidth=0, zorder=2)
    ends = list(chosen["deployed_hours"].fillna(end_of_run)) + [start + hours]
    right = min(max(ends) + 6.0, end_of_run)
    left = start - 6.0

    deploy_row, incident_row = -2.4, -1.3
    deployments = run.deployments
    shown = deployments[(deployments["finished_hours"] >= left) & (deployments["finished_hours"] <= right)]
    kinds = (
        (shown[(shown["kind"] != "hotfix") & ~shown["canary_failed"].astype(bool)], "^", _INK, "deployment"),
        (shown[shown["kind"] == "hotfix"], "D", _INK, "hotfix deployment"),
        (shown[shown["canary_failed"].astype(bool)], "^", "white", "canary caught a fault"),
    )
    handles = _stage_handles()
    for part, marker, face, name in kinds:
        ax.scatter(part["finished_hours"] / 24.0, np.full(len(part), deploy_row), marker=marker, s=90, facecolor=face,
                   edgecolor=_INK, linewidths=1.2, zorder=4)
        handles.append(Line2D([], [], marker=marker, linestyle="", markersize=10, markerfacecolor=face,
                              markeredgecolor=_INK, label=name))
    incidents = run.incidents
    restored = incidents["restored_hours"].fillna(end_of_run)
    visible = incidents[(restored >= left) & (incidents["started_hours"] <= right)]
    for record in visible.to_dict("records"):
        finish = record["restored_hours"] if pd.notna(record["restored_hours"]) else end_of_run
        width = max((finish - record["started_hours"]) / 24.0, 0.04)
        ax.barh(incident_row, width, left=record["started_hours"] / 24.0, height=0.6, color=_INK, zorder=4)
        lane = lanes.get(int(record["change_id"]))
        if lane is not None:
            ax.scatter([record["started_hours"] / 24.0], [lane], marker="X", s=120, color=_INK, edgecolor="white",
                       linewidths=1.0, zorder=5)
    handles.append(Patch(facecolor=_INK, label="incident: failure → restored"))
    handles.append(Line2D([], [], marker="X", linestyle="", markersize=11, markerfacecolor=_INK,
                          markeredgecolor="white", label="this change caused a failure"))
    if len(in_flight):
        handles.append(Patch(facecolor="#DDDDDD", hatch="..", edgecolor="#777777", label="not in production at the end"))

    weekends = _shade_weekends(ax, run, left, right)
    _day_axis(ax, left, right, weekends)
    ax.axhline(-0.75, color=_INK, linewidth=0.8)
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
    _legible(ax)
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
    ax = _axes(ax, figsize=(14, 4.8))
    steps = ci_occupancy(run.ci_runs)
    times = np.append(steps["time_hours"].to_numpy(), end_of_run) / 24.0
    waiting = np.append(steps["waiting"].to_numpy(), steps["waiting"].iloc[-1])
    running = np.append(steps["running"].to_numpy(), steps["running"].iloc[-1])
    ax.fill_between(times, waiting, step="post", color=STAGE_COLOURS["ci_queue"], alpha=0.9, linewidth=0, zorder=2)
    ax.step(times, waiting, where="post", color="#8A7F00", linewidth=1.0, zorder=3)
    ax.step(times, running, where="post", color=STAGE_COLOURS["ci"], linewidth=2.0, zorder=3)
    runners = int(run.scenario.ci.runners)
    ax.axhline(runners, color=_INK, linestyle="--", linewidth=1.5, zorder=3)
    status = run.branch_status
    branches = list(dict.fromkeys(status["branch"]))
    for record in status.to_dict("records"):
        green = record["green_at_hours"] if pd.notna(record["green_at_hours"]) else end_of_run
        ax.axvspan(record["red_from_hours"] / 24.0, green / 24.0, color="#D55E00", alpha=0.3, linewidth=0, zorder=1)
    handles = [
        Patch(facecolor=STAGE_COLOURS["ci_queue"], edgecolor="#8A7F00", label="runs waiting for a runner"),
        Line2D([], [], color=STAGE_COLOURS["ci"], linewidth=2.0, label="runs running"),
        Line2D([], [], color=_INK, linestyle="--", linewidth=1.5, label=f"runners: {runners}"),
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
    _legible(ax)
    return ax


# -- files ---------------------------------------------------------------------------------------
class _style:
    def __enter__(self):
        import matplotlib

        self._context = matplotlib.rc_context(FONT)
        self._context.__enter__()
        return self

    def __exit__(self, *exc):
        return self._context.__exit__(*exc)


def save_standard_plots(frame: pd.DataFrame, folder: str | Path) -> dict[str, Path]:
    """Write the standard plots of a results frame as PNG files; returns name → path.

    ``dora.png`` (every DORA metric), one ``<metric>.png`` per DORA metric,
    ``lead_time_stages.png`` and, when the frame has a ``dora_level`` column,
    ``dora_levels.png``.
    """
    from matplotlib.figure import Figure

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}

    def save(figure, name: str) -> None:
        path = folder / f"{name}.png"
        temporary = folder / f".{name}.png.tmp"
        figure.savefig(temporary, dpi=110, format="png")
        temporary.replace(path)
        written[name] = path

    save(dora_panel(frame), "dora")
    with _style():
        for metric in DORA_PLOT_METRICS:
            figure = Figure(figsize=(7.5, 5), layout="constrained")
            metric_distribution(frame, metric, ax=figure.subplots())
            save(figure, metric)
        figure = Figure(figsize=(12, 2.6 + 1.0 * frame["scenario"].nunique()), layout="constrained")
        stage_breakdown(frame, ax=figure.subplots())
        save(figure, "lead_time_stages")
        if "dora_level" in frame:
            figure = Figure(figsize=(10, 2.4 + 0.8 * frame["scenario"].nunique()), layout="constrained")
            level_shares(frame, ax=figure.subplots())
            save(figure, "dora_levels")
    return written

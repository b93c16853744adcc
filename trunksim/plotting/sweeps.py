"""Plots of a sweep frame: what a swept parameter does to a metric, and which parameter matters most.

The input is a **sweep frame** (``trunksim.sweep``, or several sweeps concatenated):
a results frame with one column per swept parameter, named by its dotted path
(``ci.runners``) or ``variant`` — :func:`sweep_parameters` finds them.
:func:`sweep_plot` draws a metric against one parameter with a confidence band per
strategy; :func:`tornado` ranks the parameters by how far they move a metric.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional, Sequence

import numpy as np
import pandas as pd

from trunksim.plotting.results import require_results
from trunksim.plotting.style import INK, OKABE_ITO, axes_or_new, label, legend_below, make_legible
from trunksim.stats import median_interval


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
        (binomial order statistics, :func:`trunksim.stats.median_interval`); with
        few replications it widens to the sample range.
    points : bool
        Also show each replication as a faint dot.
    logx : bool
        Logarithmic x axis (numeric parameters only).

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ValueError
        An empty frame, one without the ``parameter``, ``metric`` or ``by`` column, or
        one in which ``parameter`` is never set.
    """
    require_results(frame, "sweep_plot", (parameter, metric, by))
    data = frame[frame[parameter].notna()]
    if data.empty:
        raise ValueError(f"sweep_plot() found no row with a value of {parameter!r}: every row has it empty")
    ordered = _is_continuous(data[parameter])
    if ordered:
        values = sorted(dict.fromkeys(data[parameter]))
    elif _is_ordered(data[parameter]):
        values = sorted(dict.fromkeys(data[parameter]))  # booleans: off, on
    else:
        values = list(dict.fromkeys(data[parameter]))
    position = {v: (float(v) if ordered else float(i)) for i, v in enumerate(values)}
    groups = list(dict.fromkeys(data[by]))
    ax = axes_or_new(ax, figsize=(8, 5))
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
    legend_below(ax, gap_inches=0.7, ncol=min(len(groups), 3), title=f"dot: median, {band}: {confidence:.0%} CI of the median")
    make_legible(ax)
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
    require_results(frame, "tornado", (metric,))
    data = frame
    if strategy is not None:
        data = data[data["strategy"] == strategy]
        if data.empty:
            raise ValueError(f"tornado found no row of strategy {strategy!r}")
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
    ax = axes_or_new(ax, figsize=(10, 1.8 + 0.9 * max(len(bars), 1)))
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
            ax.plot([m, m], [y - 0.3, y + 0.3], color=INK, linewidth=1.5, label="a value swept in between")
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
        ax.axvline(centre, color=INK, linewidth=1.5, label=f"baseline: {centre:.3g}")
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
    legend_below(ax, handles=list(unique.values()), labels=list(unique.keys()), ncol=2)
    make_legible(ax)
    return ax

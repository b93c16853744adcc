"""The cost plot of a results frame: what a week of delivery costs, and where the money goes.

The input is a **results frame** (``trunksim.run`` / ``trunksim.sweep``) of scenarios with
``cost.enabled`` (:mod:`trunksim.metrics.cost`); a scenario without prices has NaN cost
columns and is drawn without a bar, marked "cost accounting off".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from trunksim.plotting.style import OKABE_ITO, axes_or_new, legend_below, make_legible

COST_PARTS: tuple[tuple[str, str, str], ...] = (
    ("developer_cost_per_week", "developers", OKABE_ITO[0]),
    ("ci_cost_per_week", "CI runners", OKABE_ITO[1]),
    ("environment_cost_per_week", "environments", OKABE_ITO[2]),
    ("impact_cost_per_week", "failure impact", OKABE_ITO[5]),
)
"""The parts of ``cost_per_week``, in drawing order: column, legend label, colour."""


def has_costs(frame: pd.DataFrame) -> bool:
    """True when the frame has cost columns with at least one value (some scenario had ``cost.enabled``)."""
    return "cost_per_week" in frame and bool(frame["cost_per_week"].notna().any())


def cost_breakdown(frame: pd.DataFrame, ax=None):
    """Cost per week split into developers, CI runners, environments and failure impact, one bar per scenario.

    Each segment is the median over replications of that part's cost per week; the
    median total cost per week is written at the end of the bar, with the parts other
    than developers (often too thin to see beside them). Failure impact is
    hatched (it is a business loss, not a bill), so the parts read in grey scale too.

    Parameters
    ----------
    frame : DataFrame
        Replication results (one row per scenario × replication) with the cost columns.
    ax : matplotlib Axes, optional
        Where to draw; a new figure if None.

    Returns
    -------
    matplotlib.axes.Axes
    """
    from matplotlib.ticker import FuncFormatter

    names = list(dict.fromkeys(frame["scenario"]))
    ax = axes_or_new(ax, figsize=(11, 2.2 + 0.9 * len(names)))
    y = np.arange(len(names))

    def medians(column: str) -> np.ndarray:
        if column not in frame:
            return np.full(len(names), np.nan)
        out = []
        for name in names:
            values = frame.loc[frame["scenario"] == name, column].to_numpy(dtype=float)
            values = values[~np.isnan(values)]
            out.append(float(np.median(values)) if len(values) else np.nan)
        return np.array(out)

    totals = medians("cost_per_week")
    priced = ~np.isnan(totals)
    parts = {column: np.nan_to_num(medians(column)) for column, _, _ in COST_PARTS}
    left = np.zeros(len(names))
    for column, text, colour in COST_PARTS:
        style = {"hatch": "///", "edgecolor": "white"} if column == "impact_cost_per_week" else {}
        ax.barh(y, parts[column], left=left, color=colour, label=text, height=0.7, linewidth=0, **style)
        left += parts[column]
    largest = max(float(np.nanmax(totals)) if priced.any() else 0.0, 1e-9)
    for yi, (end, total, shown) in enumerate(zip(left, totals, priced)):
        if not shown:
            ax.annotate(" cost accounting off", (0.0, yi), va="center", ha="left", fontsize=12)
            continue
        small = " · ".join(f"{text} {parts[column][yi]:,.0f}" for column, text, _ in COST_PARTS[1:])
        ax.annotate(f" {total:,.0f} per week\n {small}", (end, yi), va="center", ha="left", fontsize=11)
    ax.set_xlim(0, largest * 1.75)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    ax.set_yticks(y)
    ax.set_yticklabels(names)
    ax.invert_yaxis()
    ax.set_xlabel("cost per week, median over replications (the scenario's currency)")
    ax.set_title("What a week of delivery costs")
    legend_below(ax, ncol=len(COST_PARTS))
    ax.grid(axis="x", alpha=0.3)
    make_legible(ax)
    return ax

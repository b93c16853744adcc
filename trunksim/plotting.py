"""Plots of replication results, readable on a projector.

Every function takes a results frame (``trunksim.run``) and ``ax=None``; it draws on
``ax`` (or a new figure's axes) and returns the axes. Colours are the Okabe–Ito
colour-blind-safe palette; fonts are large. Only this module imports matplotlib.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import pandas as pd

from trunksim.engine.entities import STAGES

OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
"""Colour-blind-safe palette (Okabe & Ito 2008)."""

STAGE_COLOURS = dict(zip(STAGES, ("#0072B2", "#56B4E9", "#009E73", "#CC79A7", "#F0E442", "#E69F00", "#D55E00", "#999999")))
"""One colour per lead-time stage."""

LABELS = {
    "deploys_per_day": "Deployments per day",
    "lead_time_median_hours": "Lead time, median (hours)",
    "lead_time_p90_hours": "Lead time, p90 (hours)",
    "change_failure_rate": "Change failure rate",
    "change_failure_rate_escaped": "Change failure rate (escaped canary)",
    "recovery_time_median_hours": "Recovery time, median (hours)",
    "rework_rate": "Deployment rework rate",
}
"""Axis labels of the DORA metrics."""

DORA_PLOT_METRICS = (
    "deploys_per_day", "lead_time_median_hours", "change_failure_rate", "recovery_time_median_hours", "rework_rate",
    "lead_time_p90_hours",
)
"""The metrics in the standard DORA panel."""

FONT = {"font.size": 13, "axes.titlesize": 15, "axes.labelsize": 13, "xtick.labelsize": 12, "ytick.labelsize": 12}
"""Font sizes for projectors."""


def _axes(ax, figsize=(7, 4.5)):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize)
    return ax


def _scenarios(frame: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(frame["scenario"]))


def label(metric: str) -> str:
    """A readable label for a metric column."""
    return LABELS.get(metric, metric.replace("_", " "))


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
            ax.annotate(f"{med:.3g}", (pos + 0.32, y), va="center", fontsize=11)
    ax.set_xticks(positions)
    ax.set_xticklabels(names, rotation=0)
    ax.set_xlim(0.4, len(names) + 0.9)
    if log:
        ticks = ax.get_yticks()
        ax.set_yticks(ticks)
        ax.set_yticklabels([f"{10 ** t:.3g}" for t in ticks])
    ax.set_title(label(metric))
    ax.grid(axis="y", alpha=0.3)
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
    """Mean lead time split into stages, one bar per scenario (median over replications of each stage mean)."""
    ax = _axes(ax, figsize=(9, 1.2 + 0.9 * frame["scenario"].nunique()))
    names = _scenarios(frame)
    left = np.zeros(len(names))
    for stage in STAGES:
        column = f"stage_{stage}_mean_hours"
        values = np.array([np.nanmedian(frame.loc[frame["scenario"] == n, column].to_numpy(dtype=float)) for n in names])
        values = np.nan_to_num(values)
        ax.barh(names, values, left=left, color=STAGE_COLOURS[stage], label=stage.replace("_", " "), edgecolor="white")
        left += values
    ax.invert_yaxis()
    ax.set_xlabel("mean hours per delivered change")
    ax.set_title("Where lead time goes")
    ax.legend(ncol=4, fontsize=10, loc="upper center", bbox_to_anchor=(0.5, -0.25), frameon=False)
    ax.grid(axis="x", alpha=0.3)
    return ax


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

    ``dora.png`` (every DORA metric), one ``<metric>.png`` per DORA metric, and
    ``lead_time_stages.png``.
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
        figure = Figure(figsize=(11, 1.8 + 1.0 * frame["scenario"].nunique()), layout="constrained")
        stage_breakdown(frame, ax=figure.subplots())
        save(figure, "lead_time_stages")
    return written

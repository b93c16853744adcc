"""The look shared by every trunksim plot: palette, fonts, labels and projector helpers.

Colours are the Okabe–Ito colour-blind-safe palette; waiting stages are also hatched,
so they read in grey scale too; no text is smaller than :data:`MIN_FONT`. The helpers
here (:func:`axes_or_new`, :func:`make_legible`, :func:`legend_below`,
:func:`stage_style`, :func:`stage_handles`, :func:`projector_style`, ...) are shared by
the other modules of :mod:`trunksim.plotting`. matplotlib is imported inside the
functions that need it, so importing this module stays cheap.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator, Sequence

from trunksim.tables import STAGES

OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
"""Colour-blind-safe palette (Okabe & Ito 2008)."""

STAGE_COLOURS = {
    "coding": "#0072B2", "review_wait": "#56B4E9", "review": "#009E73", "rework": "#CC79A7", "ci_queue": "#F0E442",
    "ci": "#E69F00", "merge_queue": "#8C6D31", "deploy_wait": "#D55E00", "deploy": "#999999",
}
"""One colour per lead-time stage."""

WAITING_STAGES: tuple[str, ...] = ("review_wait", "ci_queue", "merge_queue", "deploy_wait")
"""Stages in which a change waits for someone or something; drawn hatched."""

STAGE_LABELS = {
    "coding": "coding",
    "review_wait": "waiting for review",
    "review": "review",
    "rework": "rework (fixes, conflicts)",
    "ci_queue": "waiting for a CI runner",
    "ci": "CI",
    "merge_queue": "waiting in the merge queue",
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
    "failure_exposure_user_hours_per_week": "Failure exposure (user-hours/week)",
    "lead_time_mean_hours": "Lead time, mean (hours)",
    "merge_to_production_median_hours": "Merge to production, median (hours)",
    "review_wait_mean_hours": "Wait for review, mean (hours)",
    "ci_queue_wait_mean_hours": "Wait for a CI runner, mean (hours)",
    "ci_pass_rate": "CI pass rate",
    "ci_flaky_failure_share": "Share of CI failures that were flaky",
    "flaky_triage_hours_per_week": "Reading flaky runs (developer hours/week)",
    "merge_queue_wait_mean_hours": "Wait in the merge queue, mean (hours)",
    "ci_runs_per_landed_change": "CI runs per landed change",
    "wasted_ci_runs_per_week": "CI runs thrown away per week",
    "slo_compliance": "Share of time within the SLO",
    "error_budget_remaining": "Error budget left at the end",
    "deploy_freeze_hours_per_week": "Feature-deploy freeze (hours/week)",
    "canary_failure_rate": "Failed canaries per canary attempt",
    "flags_live_mean": "Live feature flags, mean",
    "misconfiguration_incidents_per_week": "Flag misconfigurations per week",
    "merge_conflict_rate": "Merges with a conflict",
    "conflict_hours_per_week": "Resolving conflicts (developer hours/week)",
    "red_branch_share": "Share of time the branch was red",
    "incidents_per_week": "Incidents per week",
    "incident_hours_per_week": "Incident work (developer hours/week)",
    "changes_delivered_per_week": "Changes delivered per week",
    "planned_changes_delivered_per_week": "Planned changes delivered per week",
    "fix_changes_delivered_per_week": "Fixes delivered per week",
    "features_delivered_per_week": "Features delivered per week",
    "ci_runner_hours_per_week": "CI runners busy (hours/week)",
    "developer_cost_per_week": "Developers (cost/week)",
    "ci_cost_per_week": "CI runners (cost/week)",
    "environment_cost_per_week": "Environments (cost/week)",
    "impact_cost_per_week": "Failure impact (cost/week)",
    "cost_per_week": "Cost per week",
    "cost_per_feature": "Cost per feature delivered",
    "cost_per_deployment": "Cost per deployment",
}
"""Axis labels of the DORA metrics and of the flow metrics most often plotted."""

DORA_PLOT_METRICS = (
    "deploys_per_day", "lead_time_median_hours", "lead_time_p90_hours", "change_failure_rate",
    "failure_exposure_user_hours_per_week", "recovery_time_median_hours", "rework_rate", "lead_time_mean_hours",
    "planned_changes_delivered_per_week",
)
"""The metrics in the standard DORA panel: the five keys, with the lead time's spread (mean, p90) and the
failure exposure beside the change failure rate (what canaries buy), and planned throughput."""

FONT = {
    "font.size": 13, "axes.titlesize": 15, "axes.labelsize": 13, "xtick.labelsize": 12, "ytick.labelsize": 12,
    "legend.fontsize": 12, "legend.title_fontsize": 12, "figure.titlesize": 16,
}
"""Font sizes for projectors."""

MIN_FONT = 11.0
"""No text drawn by this module is smaller than this (points)."""

_WAIT_HATCH = "///"

INK = "#000000"
"""Colour of marks that are not a stage or a level: deployments, incidents, runner limits, weekends."""


def use_projector_style() -> None:
    """Set matplotlib's defaults to this module's projector font sizes (for notebooks)."""
    import matplotlib

    matplotlib.rcParams.update(FONT)


def axes_or_new(ax, figsize=(7, 4.5)):
    """``ax`` itself, or the axes of a new figure of ``figsize`` inches when it is None."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def make_legible(ax) -> None:
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


def wrapped_labels(names: Sequence[str], room: int = 48) -> list[str]:
    """Tick labels broken over lines when, side by side, they would run into each other."""
    import textwrap

    width = max(8, room // max(len(names), 1))
    if sum(len(str(n)) for n in names) + 2 * len(names) <= room:
        return [str(n) for n in names]
    return [textwrap.fill(str(n), width=width, break_long_words=False) for n in names]


def compact_labels(names: Sequence[str]) -> tuple[list[str], str]:
    """Scenario names short enough to sit side by side, and what they share (for an axis label).

    Sweep points are named ``"<base> [path=value, ...]"``
    (:func:`trunksim.experiment.expand_sweep`). When every name has the same base and
    sets the same paths, each becomes its values alone (``"2 / 0.05"``) and the shared
    text names the base and the paths' last parts (``"trunk-based: runners /
    flaky_failure_probability"``); sweep variants keep their own names. Other names come
    back as they are, with nothing shared.
    """
    import re

    texts = [str(n) for n in names]
    found = [re.fullmatch(r"(.*) \[(.*)\]", text, flags=re.S) for text in texts]
    if len(texts) < 2 or not all(found) or len({m.group(1) for m in found if m}) != 1:
        return texts, ""
    base = found[0].group(1) if found[0] else ""
    settings = [[part.split("=", 1) for part in m.group(2).split(", ")] for m in found if m]
    paths = {tuple(pair[0] for pair in setting) for setting in settings}
    if len(paths) == 1 and all(len(pair) == 2 for setting in settings for pair in setting):
        shared = " / ".join(path.rsplit(".", 1)[-1] for path in next(iter(paths)))
        return [" / ".join(pair[1] for pair in setting) for setting in settings], f"{base}: {shared}"
    return [m.group(2) for m in found if m], base


def label(metric: str) -> str:
    """A readable label for a metric column."""
    return LABELS.get(metric, metric.replace("_", " "))


def stage_style(stage: str) -> dict[str, Any]:
    """Keyword arguments that draw a bar of ``stage``: its colour, hatched if it is a waiting stage."""
    style: dict[str, Any] = {"color": STAGE_COLOURS[stage], "linewidth": 0}
    if stage in WAITING_STAGES:
        style.update(hatch=_WAIT_HATCH, edgecolor="white")
    return style


def stage_handles() -> list:
    """Legend handles for every stage, in :data:`STAGES` order, drawn as :func:`stage_style` draws them."""
    from matplotlib.patches import Patch

    return [
        Patch(facecolor=STAGE_COLOURS[s], hatch=_WAIT_HATCH if s in WAITING_STAGES else None,
              edgecolor="white", label=STAGE_LABELS[s])
        for s in STAGES
    ]


def legend_below(ax, gap_inches: float = 0.75, **kwargs):
    """A legend centred under the axes, a fixed distance below them (clear of tick labels and x label)."""
    from matplotlib.transforms import ScaledTranslation

    transform = ax.transAxes + ScaledTranslation(0, -gap_inches, ax.figure.dpi_scale_trans)
    return ax.legend(loc="upper center", bbox_to_anchor=(0.5, 0.0), bbox_transform=transform, frameon=False, **kwargs)


def text_colour(background: str) -> str:
    """Black or white, whichever reads better on ``background`` (WCAG relative luminance)."""
    from matplotlib.colors import to_rgb

    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in to_rgb(background))
    return "black" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.18 else "white"


def percent_format():
    """An axis formatter showing shares (0–1) as whole percentages."""
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(xmax=1.0, decimals=0)


@contextlib.contextmanager
def projector_style() -> Iterator[None]:
    """``with projector_style():`` draws at the projector font sizes (:data:`FONT`) without changing the defaults."""
    import matplotlib

    with matplotlib.rc_context(FONT):
        yield


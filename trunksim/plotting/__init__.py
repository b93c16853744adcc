"""Plots of replication results and of single runs, readable on a projector.

Three kinds of input:

* a **results frame** (``trunksim.run`` / ``trunksim.sweep``: one row per scenario ×
  replication) — :func:`metric_distribution`, :func:`dora_panel`,
  :func:`stage_breakdown`, :func:`level_shares` (:mod:`trunksim.plotting.results`);
* a **sweep frame** (a results frame with one column per swept parameter) —
  :func:`sweep_plot`, :func:`tornado` (:mod:`trunksim.plotting.sweeps`);
* one **run** (``trunksim.simulate``: the event tables of one replication) —
  :func:`timeline` and :func:`ci_queue_and_red` (:mod:`trunksim.plotting.runs`);
* the **units frame** of organisation scenarios (``trunksim.run_organisation``'s second
  frame, ``units.csv``: one row per scenario × replication × team or service × metric) —
  :func:`team_panel` (:mod:`trunksim.plotting.organisation`).

:func:`save_standard_plots` writes the standard set as PNG files
(:mod:`trunksim.plotting.files`). Every drawing function takes ``ax=None``; it draws
on ``ax`` (or on a new figure's axes) and returns the axes. Colours are the Okabe–Ito
colour-blind-safe palette, waiting stages are also hatched (so they read in grey scale
too), and text is at least 11 pt (:mod:`trunksim.plotting.style`). Times on run plots
are in days since the run began (Monday 00:00). Only this package imports matplotlib,
and only inside the functions that draw, so importing it is cheap.
"""

from __future__ import annotations

from trunksim.tables import STAGES
from trunksim.plotting.cost import cost_breakdown
from trunksim.plotting.files import save_standard_plots
from trunksim.plotting.organisation import TEAM_PLOT_METRICS, team_panel, unit_medians
from trunksim.plotting.results import dora_panel, level_shares, metric_distribution, stage_breakdown
from trunksim.plotting.runs import ci_occupancy, ci_queue_and_red, stage_segments, timeline
from trunksim.plotting.style import (
    DORA_PLOT_METRICS,
    FONT,
    LABELS,
    LEVEL_COLOURS,
    LEVELS,
    MIN_FONT,
    OKABE_ITO,
    STAGE_COLOURS,
    STAGE_LABELS,
    WAITING_STAGES,
    label,
    use_projector_style,
)
from trunksim.plotting.sweeps import sweep_parameters, sweep_plot, tornado

__all__ = [
    "DORA_PLOT_METRICS",
    "FONT",
    "LABELS",
    "LEVELS",
    "LEVEL_COLOURS",
    "MIN_FONT",
    "OKABE_ITO",
    "STAGES",
    "STAGE_COLOURS",
    "STAGE_LABELS",
    "TEAM_PLOT_METRICS",
    "WAITING_STAGES",
    "ci_occupancy",
    "ci_queue_and_red",
    "cost_breakdown",
    "dora_panel",
    "label",
    "level_shares",
    "metric_distribution",
    "save_standard_plots",
    "stage_breakdown",
    "stage_segments",
    "sweep_parameters",
    "sweep_plot",
    "team_panel",
    "timeline",
    "tornado",
    "unit_medians",
    "use_projector_style",
]

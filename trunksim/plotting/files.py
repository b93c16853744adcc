"""The standard plots of a results frame, written as PNG files (what ``trunksim run`` saves).

:func:`save_standard_plots` draws on :class:`matplotlib.figure.Figure` objects made
directly, not through pyplot, so it leaves no figures open and works without a display
(in a batch, a CLI or a worker process). Each file is written atomically
(:func:`trunksim.io.atomic_path`), so an interrupted run never leaves half a PNG behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Optional

import pandas as pd

from trunksim.io import atomic_path
from trunksim.plotting.cost import cost_breakdown, has_costs
from trunksim.plotting.organisation import team_panel
from trunksim.plotting.results import dora_panel, level_shares, metric_distribution, require_results, stage_breakdown
from trunksim.plotting.style import DORA_PLOT_METRICS, projector_style
from trunksim.plotting.sweeps import sweep_parameters, sweep_plot, tornado

_TORNADO_METRICS = ("lead_time_median_hours", "deploys_per_day")
"""Metrics ranked by a tornado chart when a one-strategy sweep swept several parameters."""


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)


def _facets(frame: pd.DataFrame, parameters: list[str]) -> tuple[object, list]:
    """The second swept parameter and its values when every row sets it (a grid): one panel each.

    ``(None, [None])`` — a single panel — for a one-parameter sweep, or when the second
    parameter is unset in some rows (sweeps concatenated, each over its own parameter).
    """
    if len(parameters) < 2 or frame[parameters[1]].isna().any():
        return None, [None]
    values = list(dict.fromkeys(frame[parameters[1]]))
    try:
        values = sorted(values)
    except TypeError:
        pass
    return parameters[1], values


def save_standard_plots(
    frame: pd.DataFrame,
    folder: str | Path,
    baseline: Optional[Mapping[str, Any]] = None,
    units: Optional[pd.DataFrame] = None,
) -> dict[str, Path]:
    """Write the standard plots of a results frame as PNG files; returns name → path.

    ``dora.png`` (every DORA metric), one ``<metric>.png`` per DORA metric,
    ``lead_time_stages.png``, when the frame has a ``dora_level`` column,
    ``dora_levels.png``, and when it has cost figures (``cost.enabled``),
    ``cost.png``. When the frame comes from a sweep (it has swept-parameter
    columns, :func:`~trunksim.plotting.sweeps.sweep_parameters`), also
    ``sweep_<metric>.png`` per DORA metric against the first swept parameter (one line
    per strategy, 95 % band; a grid over two or more parameters gets one panel per value
    of the second, and says which others it pools) and, when two or more parameters were
    swept for a single strategy, ``tornado_lead_time_median_hours.png`` and
    ``tornado_deploys_per_day.png``, whose baseline is ``baseline`` (the swept paths'
    values in the scenario before the sweep; the grid's middle values without it).
    Given ``units`` with team rows (organisation scenarios), also ``teams.png``: the
    DORA metrics per team (:func:`~trunksim.plotting.organisation.team_panel`).

    Parameters
    ----------
    frame : DataFrame
        Replication results (``trunksim.run`` / ``trunksim.sweep``).
    folder : str or Path
        Where to write; created if missing. Existing files of the same names are replaced.
    baseline : mapping, optional
        The swept paths' values before the sweep (the tornado charts' baseline).
    units : DataFrame, optional
        The long per-team and per-service results of organisation scenarios (columns
        ``scenario, replication, level, unit, metric, value``; ``units.csv``).

    Returns
    -------
    dict of str to Path
        Each plot's name (its file name without ``.png``) → its path.
    """
    from matplotlib.figure import Figure

    require_results(frame, "save_standard_plots", ("scenario", "replication"))  # before a folder is made
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}

    def save(figure, name: str) -> None:
        path = folder / f"{name}.png"
        with atomic_path(path) as temporary:
            figure.savefig(temporary, dpi=110, format="png")
        written[name] = path

    save(dora_panel(frame), "dora")
    with projector_style():
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
        if has_costs(frame):
            figure = Figure(figsize=(12, 2.6 + 1.0 * frame["scenario"].nunique()), layout="constrained")
            cost_breakdown(frame, ax=figure.subplots())
            save(figure, "cost")
        parameters = sweep_parameters(frame)
        if parameters:
            facet, facets = _facets(frame, parameters)
            columns = min(len(facets), 3)
            rows = -(-len(facets) // columns)
            for metric in DORA_PLOT_METRICS:
                figure = Figure(figsize=(8 if facet is None else 6.5 * columns, 5.5 * rows), layout="constrained")
                axes = figure.subplots(rows, columns, squeeze=False, sharey=True).ravel()
                for k, (ax, value) in enumerate(zip(axes, facets)):
                    part = frame if facet is None else frame[frame[facet] == value]
                    sweep_plot(part, parameters[0], metric, ax=ax, confidence=0.95)
                    if facet is not None:
                        ax.set_title(f"{facet} = {_shown(value)}")
                        if k and ax.get_legend() is not None:  # the first panel's legend serves all
                            ax.get_legend().remove()
                for ax in axes[len(facets):]:
                    ax.set_visible(False)
                if len(parameters) > 2:
                    figure.suptitle(f"pooled over {', '.join(parameters[2:])}", fontsize=13)
                save(figure, f"sweep_{metric}")
        one_strategy = "strategy" not in frame or frame["strategy"].nunique() <= 1
        if len(parameters) >= 2 and one_strategy:
            for metric in _TORNADO_METRICS:
                figure = Figure(figsize=(10, 2.6 + 0.9 * len(parameters)), layout="constrained")
                tornado(frame, metric, ax=figure.subplots(), parameters=parameters, baseline=baseline)
                save(figure, f"tornado_{metric}")
    if units is not None and len(units) and (units["level"] == "team").any():
        save(team_panel(units), "teams")
    return written

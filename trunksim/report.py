"""A self-contained HTML report: scenarios, summary and comparison tables, every plot embedded.

One file a lead can mail to their team: no external assets, images as base64 PNG.

A reader of results: it is given the replications frame, its summary
(``trunksim.summarize``), the scenarios and the paths of plots already drawn, and runs
nothing itself.
"""

from __future__ import annotations

import base64
import html
import math
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Mapping, Optional, Sequence

import pandas as pd

from trunksim.io import write_text
from trunksim.metrics import DORA_COLUMNS

STYLE = """
body { font-family: system-ui, -apple-system, Segoe UI, sans-serif; margin: 2rem auto; max-width: 1200px; color: #222; }
h1 { font-size: 1.8rem; } h2 { margin-top: 2.2rem; border-bottom: 2px solid #0072B2; padding-bottom: .2rem; }
table { border-collapse: collapse; margin: .8rem 0; font-size: .92rem; }
th, td { border: 1px solid #ccc; padding: .3rem .6rem; text-align: right; }
th { background: #f0f4f8; } td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; margin: .8rem 0; border: 1px solid #eee; }
.lesson { color: #444; font-style: italic; } .muted { color: #777; font-size: .9rem; }
"""


def comparison_table(summary: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """A wide table for people: one row per metric, one column per scenario, ``median [low, high]``.

    ``summary`` is a summary frame (``trunksim.summarize``); metrics it lacks are left out.
    """
    cells = summary[summary["metric"].isin(metrics)].copy()

    def fmt(row: pd.Series) -> str:
        if math.isnan(row["median"]):
            return "n/a"
        return f"{row['median']:.3g} [{row['median_ci95_low']:.3g}, {row['median_ci95_high']:.3g}]"

    cells["cell"] = cells.apply(fmt, axis=1)
    table = cells.pivot(index="metric", columns="scenario", values="cell")
    return table.reindex(index=[m for m in metrics if m in set(cells["metric"])], columns=list(dict.fromkeys(summary["scenario"])))


SHORT_NAMES: dict[str, str] = {
    "deploys_per_day": "deploys/day",
    "lead_time_median_hours": "lead h",
    "lead_time_p90_hours": "lead p90 h",
    "change_failure_rate": "fail rate",
    "change_failure_rate_escaped": "escaped",
    "recovery_time_median_hours": "recover h",
    "rework_rate": "rework",
    "failure_exposure_user_hours_per_week": "exposure",
}
"""Column headings of :func:`terminal_table` when it has to be narrow."""


def terminal_table(summary: pd.DataFrame, metrics: Sequence[str], width: int = 100) -> str:
    """The DORA summary as text no wider than ``width`` columns (what ``trunksim run`` prints).

    :func:`comparison_table` (a row per metric, ``median [low, high]`` per scenario) when it
    fits; otherwise one row per scenario — sweep points named by their values
    (:func:`trunksim.plotting.style.compact_labels`) — and one short column per metric,
    medians only, with a line saying where the intervals are.
    """
    wide = comparison_table(summary, metrics).to_string()
    if max(map(len, wide.splitlines()), default=0) <= width:
        return wide
    from trunksim.plotting.style import compact_labels

    order = list(dict.fromkeys(summary["scenario"]))
    labels, shared = compact_labels(order)
    medians = summary[summary["metric"].isin(metrics)].pivot(index="scenario", columns="metric", values="median")
    medians = medians.reindex(index=order, columns=[m for m in metrics if m in medians.columns])
    table = pd.DataFrame(
        [[_fmt(float(v)) for v in row] for row in medians.to_numpy()],
        index=[label.replace("\n", " ")[:40] for label in labels],
        columns=[SHORT_NAMES.get(m, m)[:12] for m in medians.columns],
    )
    lines = table.to_string().splitlines()
    if max(map(len, lines), default=0) > width:  # still too wide: fewer metrics, the first ones
        keep = max(1, len(table.columns) * width // max(map(len, lines)))
        lines = table.iloc[:, :keep].to_string().splitlines()
    heading = f"{shared}: medians" if shared else "medians"
    return "\n".join([heading[:width], *lines, "(their 95% intervals are in summary.csv and report.html)"])


UNIT_METRICS: tuple[str, ...] = (
    "deploys_per_day", "lead_time_median_hours", "change_failure_rate", "recovery_time_median_hours",
    "incidents_per_week", "downstream_incidents_per_week", "ci_queue_wait_mean_hours", "red_branch_share",
)
"""The metrics of the per-team and per-service tables: the four DORA keys, then what the
organisation adds (incidents, those a dependency caused, CI queueing, a red trunk)."""

UNIT_SHORT_NAMES: dict[str, str] = {
    **SHORT_NAMES,
    "incidents_per_week": "incid/wk",
    "downstream_incidents_per_week": "downstr/wk",
    "ci_queue_wait_mean_hours": "CI wait h",
    "red_branch_share": "red share",
}
"""Column headings of :func:`terminal_unit_table`."""

_LEVEL_ORDER = ("organisation", "team", "service")


def scenario_unit_table(
    units_summary: pd.DataFrame, scenario: str, metrics: Sequence[str] = UNIT_METRICS, levels: Sequence[str] = _LEVEL_ORDER
) -> pd.DataFrame:
    """One scenario's per-team and per-service medians: one row per (level, unit), one column per metric.

    Parameters
    ----------
    units_summary : pandas.DataFrame
        ``units_summary.csv`` (:func:`trunksim.experiment.summarize_units`): columns
        ``scenario, level, unit, metric, median``, ...
    scenario : str
        Whose units.
    metrics : sequence of str
        The columns, in order; metrics the summary lacks are left out.
    levels : sequence of str
        Which levels, in this order (organisation, team, service by default); within a
        level, units in the order of the summary.

    Returns
    -------
    pandas.DataFrame
        Index ``level``, a ``unit`` column, then one column per metric (medians; NaN
        where a unit has no value).
    """
    part = units_summary[(units_summary["scenario"] == scenario) & units_summary["level"].isin(levels)]
    part = part[part["metric"].isin(metrics)]
    keys = list(dict.fromkeys(zip(part["level"], part["unit"])))
    keys.sort(key=lambda key: list(levels).index(key[0]))  # stable: units keep their order within a level
    medians = part.set_index(["level", "unit", "metric"])["median"]
    present = [m for m in metrics if m in set(part["metric"])]
    rows = [[level, unit, *(float(medians.get((level, unit, m), math.nan)) for m in present)] for level, unit in keys]
    table = pd.DataFrame(rows, columns=["level", "unit", *present]).set_index("level")
    return table


def terminal_unit_table(
    units_summary: pd.DataFrame, width: int = 100, metrics: Sequence[str] = UNIT_METRICS, max_scenarios: int = 8
) -> str:
    """Per organisation scenario, its organisation and teams as text no wider than ``width`` columns.

    What ``trunksim run`` prints after the DORA summary: for each scenario of
    ``units_summary``, a heading line and one row for the organisation and one per
    team, with short column headings (:data:`UNIT_SHORT_NAMES`) and medians only.

    Parameters
    ----------
    units_summary : pandas.DataFrame
        ``units_summary.csv`` (:func:`trunksim.experiment.summarize_units`).
    width : int
        The widest line allowed; columns are dropped from the right while a table is
        wider, names are cut to 24 characters and headings to ``width``.
    metrics : sequence of str
        The columns, in order (:data:`UNIT_METRICS` by default).
    max_scenarios : int
        At most this many scenarios are shown (a large sweep would fill the screen); a
        last line says how many more are in ``units_summary.csv``.

    Returns
    -------
    str
        The tables, ending with a line saying where the services and the 95% intervals
        are; empty text for an empty summary.
    """
    if units_summary is None or units_summary.empty:
        return ""
    blocks = []
    scenarios = list(dict.fromkeys(units_summary["scenario"]))
    for scenario in scenarios[:max_scenarios]:
        table = scenario_unit_table(units_summary, scenario, metrics, levels=("organisation", "team"))
        if table.empty:
            continue
        names = ["organisation" if level == "organisation" else str(unit) for level, unit in zip(table.index, table["unit"])]
        values = table.drop(columns="unit")
        text = pd.DataFrame(
            [[_fmt(float(v)) for v in row] for row in values.to_numpy()],
            index=[name[:24] for name in names],
            columns=[UNIT_SHORT_NAMES.get(m, m)[:12] for m in values.columns],
        )
        lines = text.to_string().splitlines()
        keep = len(text.columns)
        while keep > 1 and max(map(len, lines)) > width:
            keep -= 1
            lines = text.iloc[:, :keep].to_string().splitlines()
        heading = f"{str(scenario).replace(chr(10), ' ')}: organisation and teams, medians"
        blocks.append("\n".join([heading[:width], *lines]))
    if not blocks:
        return ""
    more = len(scenarios) - max_scenarios
    tail = [f"({more} more organisation scenario(s) in units_summary.csv)"] if more > 0 else []
    return "\n\n".join(blocks) + "\n" + "\n".join([*tail, "(services and 95% intervals are in units_summary.csv and report.html)"])


def difference_table(summary: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """Paired differences from the baseline for people: one row per metric, one column per other scenario.

    Each cell is ``median [low, high]`` of the per-replication differences (signed), the
    columns in the order the scenarios ran; ``summary`` is a summary frame
    (``trunksim.summarize``), its first scenario the baseline.
    """
    cells = summary[(summary["scenario"] != summary["baseline"]) & summary["metric"].isin(metrics)]
    if cells.empty:
        return pd.DataFrame()

    def signed(value: float) -> str:
        return "n/a" if math.isnan(value) else f"{value:+.3g}"

    text = [
        "n/a" if math.isnan(median) else f"{signed(median)} [{signed(low)}, {signed(high)}]"
        for median, low, high in zip(cells["paired_diff_median"], cells["paired_diff_ci95_low"], cells["paired_diff_ci95_high"])
    ]
    table = cells.assign(cell=text).pivot(index="metric", columns="scenario", values="cell")
    present = set(cells["scenario"])
    return table.reindex(
        index=[m for m in metrics if m in set(cells["metric"])],
        columns=[name for name in dict.fromkeys(summary["scenario"]) if name in present],
    )


def _img(path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(Path(path).stem)}" src="data:image/png;base64,{data}">'


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.3g}"
    return html.escape(str(value))


def _table(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in [frame.index.name or ""] + list(frame.columns))
    body = "".join(
        "<tr>" + f"<td>{html.escape(str(index))}</td>" + "".join(f"<td>{_fmt(v)}</td>" for v in row) + "</tr>"
        for index, row in zip(frame.index, frame.itertuples(index=False))
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_report(
    frame: pd.DataFrame,
    summary: pd.DataFrame,
    scenarios: Sequence,
    plots: Mapping[str, Path],
    units_summary: Optional[pd.DataFrame] = None,
) -> str:
    """The report as one HTML string.

    Parameters
    ----------
    frame : pandas.DataFrame
        Replications (``trunksim.run``).
    summary : pandas.DataFrame
        Its summary (``trunksim.summarize``), first scenario the baseline.
    scenarios : sequence of Scenario
        The scenarios run (name, strategy, description and lesson are shown).
    plots : mapping of name → path
        PNG files to embed, in order.
    units_summary : pandas.DataFrame, optional
        ``units_summary.csv`` of organisation scenarios
        (:func:`trunksim.experiment.summarize_units`); when it has rows, a section
        "Teams and services" shows, per scenario, the medians of :data:`UNIT_METRICS`
        for the organisation, each team and each service.

    Returns
    -------
    str
        The whole HTML document.
    """
    from trunksim import __version__

    reps = frame["replication"].nunique() if len(frame) else 0
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>trunksim report</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>trunksim report</h1>",
        f"<p class='muted'>{reps} replications per scenario · trunksim {html.escape(__version__)} · "
        f"{datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}</p>",
        "<h2>Scenarios</h2>",
    ]
    seen = set()
    for scenario in scenarios:
        if scenario.name in seen:
            continue
        seen.add(scenario.name)
        parts.append(f"<h3>{html.escape(scenario.name)} <span class='muted'>({html.escape(scenario.strategy.name)})</span></h3>")
        if scenario.description:
            parts.append(f"<p>{html.escape(scenario.description)}</p>")
        if scenario.lesson:
            parts.append(f"<p class='lesson'>{html.escape(scenario.lesson)}</p>")
    if len(summary):
        parts.append("<h2>DORA metrics: median [95% interval of the median]</h2>")
        parts.append(_table(comparison_table(summary, DORA_COLUMNS)))
        diff = summary[summary["scenario"] != summary["baseline"]]
        if len(diff):
            parts.append(f"<h2>Paired difference from {html.escape(str(summary['baseline'].iloc[0]))}: "
                         "median [95% interval of the median difference]</h2>")
            parts.append(_table(difference_table(summary, DORA_COLUMNS)))
        parts.extend(_units_section(units_summary))
        parts.append("<h2>Every metric: median</h2>")
        wide = summary.pivot(index="metric", columns="scenario", values="median")
        order = list(dict.fromkeys(summary["metric"]))
        parts.append(_table(wide.reindex(order)[list(dict.fromkeys(summary["scenario"]))]))
    if plots:
        parts.append("<h2>Plots</h2>")
        for name, path in plots.items():
            parts.append(f"<h3>{html.escape(name)}</h3>{_img(path)}")
    parts.append("</body></html>")
    return "\n".join(parts)


def _units_section(units_summary: Optional[pd.DataFrame]) -> list[str]:
    """The "Teams and services" section's HTML parts (none without units)."""
    if units_summary is None or units_summary.empty:
        return []
    parts = [
        "<h2>Teams and services</h2>",
        "<p class='muted'>Medians over replications of the organisation, each team and (polyrepo) each service; "
        "their 95% intervals are in units_summary.csv, every replication in units.csv.</p>",
    ]
    for scenario in dict.fromkeys(units_summary["scenario"]):
        table = scenario_unit_table(units_summary, scenario)
        if table.empty:
            continue
        parts.append(f"<h3>{html.escape(str(scenario))}</h3>")
        parts.append(_table(table))
    return parts


def write_report(
    frame: pd.DataFrame,
    summary: pd.DataFrame,
    scenarios: Sequence,
    plots: Mapping[str, Path],
    path: str | os.PathLike,
    units_summary: Optional[pd.DataFrame] = None,
) -> Path:
    """Write :func:`render_report` to ``path`` atomically (UTF-8); returns the path.

    Parameters
    ----------
    frame, summary, scenarios, plots, units_summary
        As for :func:`render_report` (``units_summary`` adds the "Teams and services"
        section).
    path : path
        The HTML file to write.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    return write_text(path, render_report(frame, summary, scenarios, plots, units_summary))

"""``calibration.html``: what was read, what was estimated and how, and the back-test, in one self-contained file.

Written beside the calibrated scenario. Sections: the history (files, window, counts,
warnings), the scenario written, every parameter with its method and evidence (measured,
fitted, given, or left at its default because the records cannot show it), the
back-test table with a verdict per figure, and the back-test plot: for each figure, the
simulated replications (violin and dots, median bar) with the observed value as a dashed
line and the simulated 90 % interval shaded. The plot is drawn by
:mod:`trunksim.plotting` (the only package that imports matplotlib) and embedded as a
PNG.
"""

from __future__ import annotations

import base64
import html
import io
import math
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Optional, Sequence

import pandas as pd

from trunksim.calibrate.observe import UNITS

if TYPE_CHECKING:  # pragma: no cover
    from trunksim.calibrate.pipeline import Calibration

STYLE = """
body { font-family: system-ui, -apple-system, Segoe UI, sans-serif; margin: 2rem auto; max-width: 1200px; color: #222; }
h1 { font-size: 1.8rem; } h2 { margin-top: 2.2rem; border-bottom: 2px solid #0072B2; padding-bottom: .2rem; }
table { border-collapse: collapse; margin: .8rem 0; font-size: .9rem; }
th, td { border: 1px solid #ccc; padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #f0f4f8; } td.num { text-align: right; white-space: nowrap; }
.inside { background: #e3f4e8; } .outside { background: #fbe3e0; } .warn { color: #a5410b; }
pre { background: #f6f8fa; padding: .8rem; overflow-x: auto; font-size: .85rem; }
img { max-width: 100%; margin: .8rem 0; border: 1px solid #eee; } .muted { color: #777; font-size: .9rem; }
"""

PLOT_FIGURES: tuple[str, ...] = (
    "deploys_per_day", "lead_time_median_hours", "change_failure_rate", "recovery_time_median_hours", "incidents_per_week",
    "changes_per_week", "change_size_median_lines", "review_wait_median_hours", "ci_duration_median_hours", "ci_failure_rate",
)
"""Figures drawn in the back-test plot (those the history shows)."""


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        return f"{value:.3g}"
    return html.escape(str(value))


def backtest_figure(table: pd.DataFrame, simulated: pd.DataFrame):
    """The back-test plot as a matplotlib figure (drawn by :mod:`trunksim.plotting`); None when nothing to draw."""
    from trunksim.plotting.results import dora_panel, metric_distribution
    from trunksim.plotting.style import OKABE_ITO, projector_style

    shown = [name for name in PLOT_FIGURES if name in set(table["figure"]) and name in simulated and simulated[name].notna().any()]
    if not shown:
        return None
    frame = simulated[shown].copy()
    frame.insert(0, "scenario", "calibrated model")
    frame.insert(1, "replication", range(len(frame)))
    figure = dora_panel(frame, shown)
    rows = table.set_index("figure")
    with projector_style():
        for ax, name in zip(figure.axes, shown):
            ax.clear()
            metric_distribution(frame, name, ax=ax, log=False)
            row = rows.loc[name]
            ax.axhspan(row["simulated_p5"], row["simulated_p95"], color=OKABE_ITO[0], alpha=0.12, zorder=0)
            ax.axhline(row["observed"], color=OKABE_ITO[5], linestyle="--", linewidth=2.5, zorder=5)
            ax.annotate(f"observed {row['observed']:.3g}", (0.02, row["observed"]), xycoords=("axes fraction", "data"),
                        va="bottom", ha="left", fontsize=12, color=OKABE_ITO[5])
            ax.set_title(f"{name.replace('_', ' ')}\n{row['verdict']}", fontsize=13)
        figure.suptitle(
            f"Back-test: {len(frame)} simulated histories (violin, dots, median bar; 90% interval shaded) and the observed figure (dashed)",
            fontsize=15,
        )
    return figure


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _table(frame: pd.DataFrame, columns: Sequence[str], classes: Optional[Sequence[str]] = None) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for index, row in enumerate(frame[list(columns)].itertuples(index=False)):
        css = f" class='{classes[index]}'" if classes else ""
        cells = "".join(
            f"<td class='num'>{_fmt(v)}</td>" if isinstance(v, (int, float)) and not isinstance(v, bool) else f"<td>{_fmt(v)}</td>" for v in row
        )
        body.append(f"<tr{css}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render(calibration: "Calibration", plot: bool = True) -> str:
    """The report as one HTML string."""
    from trunksim import __version__

    history = calibration.history
    start, end = history.window()
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>trunksim calibration</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>Calibration: {html.escape(calibration.scenario.name)}</h1>",
        f"<p class='muted'>trunksim {html.escape(__version__)} · {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} · "
        f"{calibration.simulations} simulated replications</p>",
        "<h2>History read</h2>",
        f"<p>{html.escape(history.describe())}, from {html.escape(str(start))} to {html.escape(str(end))}.</p>",
        "<ul>" + "".join(
            f"<li>{html.escape(s.path)}: {html.escape(s.kind)} {html.escape(s.table)}, {s.rows:,} rows</li>" for s in history.sources
        ) + "</ul>",
    ]
    warnings = list(calibration.warnings)
    if warnings:
        parts.append("<h2>Warnings</h2><ul>" + "".join(f"<li class='warn'>{html.escape(w)}</li>" for w in warnings) + "</ul>")
    parts.append("<h2>Back-test: the calibrated model against the team's own figures</h2>")
    table = calibration.backtest.table.copy()
    if len(table):
        table["figure"] = [f"{f} ({UNITS[f]})" for f in table["figure"]]
        classes = ["inside" if v == "inside" else ("outside" if v.startswith("outside") else "") for v in table["verdict"]]
        parts.append(
            "<p>Each simulated replication is written in the history's formats, read back and measured by the same rules as "
            "the team's records. <b>inside</b>: the observed figure lies in the simulated 90% interval.</p>"
        )
        parts.append(_table(table, ["figure", "observed", "events", "simulated_median", "simulated_p5", "simulated_p95", "verdict", "caution"], classes))
    if plot:
        figure = backtest_figure(calibration.backtest.table, calibration.backtest.simulated)
        if figure is not None:
            parts.append(f"<img alt='back-test' src='data:image/png;base64,{_png(figure)}'>")
    parts.append("<h2>Parameters: how each was obtained</h2>")
    parts.append(
        "<p><b>measured</b>: read off the records; <b>fitted</b>: found by simulation so the model reproduces what the "
        "records show; <b>given</b>: set by the caller; <b>default</b>: the records cannot show it, the schema default "
        "is kept; <b>reported</b>: a finding, not a parameter.</p>"
    )
    estimates = pd.DataFrame([vars(e) for e in calibration.estimates])
    if len(estimates):
        estimates["value"] = [("" if v is None else str(v)) for v in estimates["value"]]
        parts.append(_table(estimates, ["path", "value", "how", "method", "evidence", "n"]))
    if calibration.notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in calibration.notes) + "</ul>")
    parts.append(f"<h2>Scenario written: {html.escape(str(calibration.scenario_path))}</h2>")
    parts.append(f"<pre>{html.escape(calibration.scenario_text)}</pre>")
    if calibration.design is not None and len(calibration.design):
        parts.append("<h2>Fit design (simulated points of the response surface)</h2>")
        design = calibration.design.copy()
        parts.append(_table(design, list(design.columns)))
    parts.append("</body></html>")
    return "\n".join(parts)


__all__ = ["PLOT_FIGURES", "backtest_figure", "render"]

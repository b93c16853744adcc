"""The back-test: does the calibrated model reproduce the team's own figures?

The calibrated scenario is simulated ``replications`` times over a window as long as the
history's; each replication is written in the history's formats, read back and measured
by the same rules (:func:`~trunksim.calibrate.observe.observe`). For each figure the
table gives the observed value, the simulated median and 90 % interval (5th to 95th
percentile of the replications) and a verdict:

* ``inside`` — the observed figure lies within the simulated 90 % interval;
* ``outside (above)`` / ``outside (below)`` — it does not: the model misses it;
* ``not observed`` — the records do not show this figure.

A verdict resting on little is flagged in ``caution``: a figure resting on fewer than
:data:`~trunksim.calibrate.history.SHORT_EVENTS` events (incidents for the failure
rate and recovery time), and every figure when the history is *too short*: fewer than
:data:`~trunksim.calibrate.history.SHORT_CHANGES` changes or fewer than
:data:`~trunksim.calibrate.history.SHORT_WEEKS` weeks (LinearB's forecasts ask for 30
items over 5 weeks for the same reason: below that one odd week moves every figure).
A 90 % interval misses one figure in ten by chance, so one ``outside`` among ten
figures is no alarm; several, or one on a figure that matters to the question asked,
are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from trunksim.calibrate.fitting import Simulator
from trunksim.calibrate.history import SHORT_CHANGES, SHORT_EVENTS, SHORT_WEEKS
from trunksim.calibrate.observe import DORA_FIGURES, FIGURES, UNITS, Observation

EVENT_COUNTED = {
    "change_failure_rate": "incidents", "recovery_time_median_hours": "resolved incidents", "incidents_per_week": "incidents",
    "lead_time_median_hours": "deployed changes", "deploys_per_day": "deployments", "changes_requested_share": "reviews asking for changes",
    "ci_failure_rate": "failed CI runs",
}
"""What each figure's count counts (for the caution column)."""


@dataclass
class BackTest:
    """The back-test's table, the simulated figures per replication, and warnings."""

    table: pd.DataFrame
    simulated: pd.DataFrame
    warnings: list[str] = field(default_factory=list)

    def verdicts(self) -> dict[str, str]:
        """Figure → verdict."""
        return dict(zip(self.table["figure"], self.table["verdict"]))


def too_short(observed: Observation) -> list[str]:
    """Why a history is too short to judge the model by (empty when it is long enough)."""
    reasons = []
    changes = observed.counts.get("changes_per_week", 0)
    weeks = observed.days / 7.0 if not math.isnan(observed.days) else 0.0
    if changes < SHORT_CHANGES:
        reasons.append(f"{changes} changes (fewer than {SHORT_CHANGES})")
    if weeks < SHORT_WEEKS:
        reasons.append(f"{weeks:.1f} weeks (fewer than {SHORT_WEEKS:g})")
    return reasons


def judge(observed: Observation, simulated: pd.DataFrame) -> pd.DataFrame:
    """The back-test table: one row per figure (module docstring)."""
    rows = []
    short = too_short(observed)
    for name in FIGURES:
        value = observed.values.get(name, math.nan)
        values = simulated[name].dropna().to_numpy(dtype=float) if name in simulated else np.array([])
        if math.isnan(value):
            continue
        if len(values):
            low, median, high = (float(v) for v in np.quantile(values, [0.05, 0.5, 0.95]))
        else:
            low = median = high = math.nan
        if math.isnan(median):
            verdict = "not simulated"
        elif low - 1e-12 <= value <= high + 1e-12:
            verdict = "inside"
        else:
            verdict = "outside (above)" if value > high else "outside (below)"
        count = observed.counts.get(name, 0)
        caution = []
        if name in ("change_failure_rate", "recovery_time_median_hours", "incidents_per_week") and count < SHORT_EVENTS:
            caution.append(f"rests on {count} {EVENT_COUNTED[name]}: too few to judge")
        if short:
            caution.append("history too short: " + ", ".join(short))
        rows.append({
            "figure": name, "unit": UNITS[name], "dora": name in DORA_FIGURES, "observed": value, "events": count,
            "simulated_median": median, "simulated_p5": low, "simulated_p95": high, "verdict": verdict, "caution": "; ".join(caution),
        })
    return pd.DataFrame(rows)


def backtest(scenario: Any, observed: Observation, simulator: Simulator, replications: int = 20) -> BackTest:
    """Simulate the calibrated scenario and judge each figure (module docstring)."""
    if simulator.progress:
        simulator.progress(f"back-test: {replications} replications of the calibrated scenario")
    simulated = simulator.figures([scenario], replications)[0]
    simulated.insert(0, "replication", range(len(simulated)))
    table = judge(observed, simulated)
    warnings = []
    short = too_short(observed)
    if short:
        warnings.append(
            "the history is too short to judge the model by: " + ", ".join(short)
            + f"; a back-test wants at least {SHORT_CHANGES} changes over {SHORT_WEEKS:g} weeks"
        )
    missed = table[table["verdict"].str.startswith("outside") & table["dora"]]
    if len(missed):
        warnings.append("the calibrated model misses " + ", ".join(missed["figure"]) + ": read its what-ifs on these with care")
    return BackTest(table, simulated, warnings)


__all__ = ["BackTest", "EVENT_COUNTED", "backtest", "judge", "too_short"]

"""Round trips: simulate a team with non-default parameters, write its records, calibrate from the records alone.

Three histories, each in a different tool's shape:

* ``fourkeys``: the example team (examples/synthetic-team.yaml) exported with
  ``trunksim export``'s function (Four Keys tables);
* ``gh+git``: a trunk-based team as ``gh pr list``, ``gh run list`` and ``git log`` show it;
* ``devlake``: a GitFlow team as Apache DevLake's domain tables show it.

For each, the parameters the records can show must come back within the stated
tolerance, and the calibrated scenario's medians of deployment frequency, lead time and
change failure rate must fall within the original's 90 % interval (5th-95th percentile
of its replications). Print the recovered-versus-true tables with::

    .venv/bin/python tests/test_calibrate_roundtrip.py
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script
    sys.path.insert(0, str(ROOT))

import trunksim  # noqa: E402
from trunksim.calibrate.formats import devlake, github, gitlog  # noqa: E402
from trunksim.export import export_fourkeys  # noqa: E402

DORA_CHECKED = ("deploys_per_day", "lead_time_median_hours", "change_failure_rate")
"""The medians the round trip holds to the original's interval."""

INTERVAL_REPLICATIONS = 16
"""Replications of the original and of the calibrated scenario behind each interval and median."""


def hours(text: Any) -> float:
    """A duration as a scenario writes it ('14.04h', '9.8m', 336) → hours."""
    if isinstance(text, (int, float)):
        return float(text)
    number, unit = float(text[:-1]), text[-1]
    return number * {"s": 1 / 3600, "m": 1 / 60, "h": 1.0, "d": 24.0, "w": 168.0}[unit]


@dataclass
class Check:
    """One recovered parameter: its field, the truth, how close is close enough, and how to read the value."""

    path: str
    truth: Any
    tolerance: str  # how the check is stated in the table
    ok: Callable[[Any, Any], bool]
    read: Callable[[Any], Any] = lambda v: v


def exact() -> Callable[[Any, Any], bool]:
    return lambda found, truth: found == truth


def within(absolute: float) -> Callable[[Any, Any], bool]:
    return lambda found, truth: found is not None and abs(found - truth) <= absolute


def factor(ratio: float) -> Callable[[Any, Any], bool]:
    return lambda found, truth: found is not None and truth / ratio <= found <= truth * ratio


@dataclass
class Case:
    name: str
    scenario: Callable[[], Any]
    write: Callable[[Any, Path], None]
    checks: list[Check]
    seed: int = 11
    options: dict = field(default_factory=dict)


def write_fourkeys(run, folder: Path) -> None:
    export_fourkeys(run, folder)  # what `trunksim export` writes


def write_gh_and_git(run, folder: Path) -> None:
    github.write(github.records_from_run(run), folder)
    gitlog.write(gitlog.text_from_run(run), folder / "git-log.txt")


def write_devlake(run, folder: Path) -> None:
    devlake.write(devlake.records_from_run(run), folder)


def median_of(distribution: Any) -> float:
    return hours(distribution["median"])


CASES = {
    "fourkeys": Case(
        "fourkeys",
        lambda: trunksim.load_scenario(ROOT / "examples" / "synthetic-team.yaml"),
        write_fourkeys,
        [
            Check("strategy.name", "trunk-based", "exact", exact()),
            Check("team.developers", 5, "±1 (fitted by throughput)", within(1)),
            Check("team.calendar.day_start_hour", 8, "exact", exact()),
            Check("team.calendar.hours_per_day", 8, "exact", exact()),
            Check("team.calendar.days_per_week", 5, "exact", exact()),
            Check("deployment.mode", "cadence", "exact", exact()),
            Check("deployment.cadence", 24.0, "exact", exact(), hours),
            Check("deployment.offset", 14.0, "±0.5 h", within(0.5), hours),
            Check("work.defects_per_100_lines", 0.3, "×/÷ 1.6 (fitted)", factor(1.6)),
        ],
        options={"fit_points": 8},
    ),
    "gh+git": Case(
        "gh+git",
        lambda: trunksim.Scenario.model_validate({
            "name": "gh-team", "strategy": {"name": "trunk-based", "max_change_lines": 150},
            "team": {"developers": 6, "calendar": {"day_start_hour": 10, "hours_per_day": 7}},
            "work": {"defects_per_100_lines": 0.25},
            "ci": {"runners": 2, "duration": {"dist": "lognormal", "median": "18m", "p90": "40m"}, "flaky_failure_probability": 0.06},
            "deployment": {"pipeline_duration": {"dist": "lognormal", "median": "25m", "p90": "50m"}},
            "simulation": {"duration": "8w", "warm_up": "2w"},
        }),
        write_gh_and_git,
        [
            Check("strategy.name", "trunk-based", "exact", exact()),
            Check("team.developers", 6, "exact (authors)", exact()),
            Check("team.calendar.day_start_hour", 10, "exact", exact()),
            Check("team.calendar.hours_per_day", 7, "exact", exact()),
            Check("strategy.max_change_lines", 150.0, "exact (90th percentile of sizes, rounded up to 10)", exact()),
            Check("ci.runners", 2, "exact (runs queued)", exact()),
            Check("ci.duration", 0.3, "median ±20%", lambda f, t: abs(f - t) <= 0.2 * t, median_of),
            Check("ci.flaky_failure_probability", 0.06, "±0.02", within(0.02)),
            Check("deployment.pipeline_duration", 25 / 60, "median ±20%", lambda f, t: abs(f - t) <= 0.2 * t, median_of),
            Check("work.defects_per_100_lines", 0.25, "×/÷ 1.6 (fitted to CI and review findings)", factor(1.6)),
        ],
        seed=4,
        options={"fit_points": 6},
    ),
    "devlake": Case(
        "devlake",
        lambda: trunksim.Scenario.model_validate({
            "name": "devlake-team", "strategy": {"name": "gitflow", "release_cadence": "1w", "release_offset": "34h", "qa_duration": "16h"},
            "team": {"developers": 7},
            "work": {"defects_per_100_lines": 0.3},
            "simulation": {"duration": "10w", "warm_up": "2w"},
        }),
        write_devlake,
        [
            Check("strategy.name", "gitflow", "exact", exact()),
            Check("team.developers", 7, "exact (authors)", exact()),
            Check("strategy.release_cadence", 168.0, "exact", exact(), hours),
            Check("strategy.release_offset", 34.0, "±0.5 h (release pull requests opened)", within(0.5), hours),
            Check("work.defects_per_100_lines", 0.3, "×/÷ 1.6 (fitted)", factor(1.6)),
        ],
        seed=6,
        options={"fit_points": 6},
    ),
}


def roundtrip(case: Case, folder: Path, replications: int = 10) -> dict[str, pd.DataFrame]:
    """Simulate, write, calibrate; the recovered-versus-true table and the DORA medians table."""
    original = case.scenario()
    run = trunksim.simulate(original, seed=case.seed)
    records = folder / "records"
    case.write(run, records)
    result = trunksim.calibrate([records], folder / "calibrated" / "team.yaml", replications=replications, fit_replications=2,
                                seed=1, **case.options)
    found = {}
    for estimate in result.estimates:
        if estimate.how in ("measured", "fitted", "given") and estimate.value is not None:
            found[estimate.path] = estimate.value
    rows = []
    for check in case.checks:
        value = found.get(check.path)
        read = check.read(value) if value is not None else None
        rows.append({
            "history": case.name, "parameter": check.path, "true": check.truth, "recovered": read,
            "tolerance": check.tolerance, "ok": value is not None and bool(check.ok(read, check.truth)),
        })
    calibrated = trunksim.load_scenario(result.scenario_path)
    frame = trunksim.run([original.with_overrides({"name": "original"}), calibrated.with_overrides({"name": "calibrated"})],
                         replications=INTERVAL_REPLICATIONS, seed=21)
    dora = []
    for metric in DORA_CHECKED:
        before = frame.loc[frame["scenario"] == "original", metric].dropna().to_numpy()
        after = frame.loc[frame["scenario"] == "calibrated", metric].dropna().to_numpy()
        low, high = np.quantile(before, [0.05, 0.95])
        median = float(np.median(after))
        dora.append({
            "history": case.name, "metric": metric, "original_median": float(np.median(before)), "original_p5": low,
            "original_p95": high, "calibrated_median": median, "inside": bool(low - 1e-12 <= median <= high + 1e-12),
        })
    verdicts = result.backtest.table[["figure", "observed", "simulated_p5", "simulated_p95", "verdict"]].assign(history=case.name)
    return {"parameters": pd.DataFrame(rows), "dora": pd.DataFrame(dora), "backtest": verdicts, "result": result}


@pytest.mark.parametrize("name", list(CASES))
def test_round_trip_recovers_what_records_show_and_the_dora_medians(name, tmp_path):
    tables = roundtrip(CASES[name], tmp_path)
    parameters, dora = tables["parameters"], tables["dora"]
    assert parameters["ok"].all(), "\n" + parameters.to_string()
    assert dora["inside"].all(), "\n" + dora.to_string()
    result = tables["result"]
    assert result.report_path is not None and result.report_path.exists()
    html = result.report_path.read_text()
    assert "Back-test" in html and "data:image/png;base64," in html and "inside" in html
    assert result.scenario_path.read_text().startswith("# Calibrated scenario written by `trunksim calibrate`")


if __name__ == "__main__":
    import tempfile

    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 20)
    pd.set_option("display.max_colwidth", 60)
    for name, case in CASES.items():
        with tempfile.TemporaryDirectory() as folder:
            tables = roundtrip(case, Path(folder), replications=20)
        print(f"\n== {name} ==")
        print(tables["parameters"].drop(columns=["history"]).to_string(index=False))
        print(tables["dora"].drop(columns=["history"]).round(3).to_string(index=False))
        print(tables["backtest"].drop(columns=["history"]).round(3).to_string(index=False))

"""A batch worker imports no pandas (issue 13, target (k)): the replication task runs on NumPy columns.

A worker unpickles ``(replicate, (point, seed, replication, measure))`` and returns one row.
For a scenario of one team and every default metric profile, that imports neither pandas
(which in pandas 3 brings pyarrow: ~70 MiB of the worker's memory) nor matplotlib nor
Dask, and the row is the one this process computes. Users who read frames still get them.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import trunksim
from trunksim.engine.log import records_frame
from trunksim.experiment import UNITS_KEY, Measure, Point, replicate, simulate
from trunksim.metrics import PROFILES
from trunksim.metrics.profiles import (
    devlake_profile,
    fourkeys_metrics,
    fourkeys_profile,
    fourkeys_tables,
    timestamps,
)
from trunksim.scenario.loading import load_scenario
from trunksim.tables import COLUMNS, raw_columns

from conftest import SCENARIOS, small

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("pandas", "pyarrow", "matplotlib", "dask")

WORKER = """
import pickle, sys
function, tasks = pickle.loads(sys.stdin.buffer.read())
rows = [function(task) for task in tasks]
loaded = [name for name in {heavy!r} if sys.modules.get(name) is not None]
sys.stdout.buffer.write(pickle.dumps((loaded, rows)))
"""


def _environment() -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    environment["PYTHONPATH"] = str(ROOT)
    return environment


def _in_a_fresh_worker(tasks: list) -> tuple[list[str], list[dict]]:
    """Run the tasks as a spawned or Dask worker does: unpickle ``replicate`` and its tasks, run them."""
    result = subprocess.run(
        [sys.executable, "-c", WORKER.format(heavy=HEAVY)], input=pickle.dumps((replicate, tasks)),
        cwd=ROOT, env=_environment(), capture_output=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr.decode()
    return pickle.loads(result.stdout)


def _same(a: dict, b: dict) -> None:
    """Bit for bit: the same keys, and the same value, type and repr for each (NaN equals NaN)."""
    assert list(a) == list(b)
    for key in a:
        assert type(a[key]) is type(b[key]) and repr(a[key]) == repr(b[key]), (key, a[key], b[key])


SHIPPED = {  # shipped scenarios, shortened; between them: an empty branch_status, freezes, canaries, a release branch
    "trunk-based": {"simulation.duration": "8w"},
    "github-flow": {"simulation.duration": "6w"},
    "gitflow": {"simulation.duration": "10w"},
    "mechanisms/error-budget": {"simulation.duration": "6w"},
}


def test_a_worker_imports_neither_pandas_nor_pyarrow_matplotlib_dask_and_returns_the_same_rows():
    tasks = []
    for name, overrides in SHIPPED.items():
        point = Point(load_scenario(SCENARIOS / f"{name}.yaml").with_overrides(overrides))
        tasks += [(point, 7, replication, Measure(profile=profile)) for profile in PROFILES for replication in (0, 1)]
    loaded, rows = _in_a_fresh_worker(tasks)
    assert loaded == [], f"a worker running replicate() imported {', '.join(loaded)}"
    assert len(rows) == len(tasks)
    for task, row in zip(tasks, rows):
        _same(row, replicate(task))


def test_an_organisation_scenario_still_measures_its_units_with_frames():
    point = Point(load_scenario(SCENARIOS / "org" / "polyrepo.yaml").with_overrides({"simulation.duration": "3w"}))
    task = (point, 2, 0, Measure(units=True))
    _, (row,) = _in_a_fresh_worker([task])
    expected = replicate(task)
    units = row.pop(UNITS_KEY)
    assert units and repr(units) == repr(expected.pop(UNITS_KEY))
    _same(row, expected)


@pytest.fixture(scope="module", params=[("github-flow", "6w"), ("trunk-based", "20w"), ("gitflow", "30w")])
def measured_run(request):
    kind, duration = request.param
    scenario = small(kind, work={"defects_per_100_lines": 0.6}, simulation={"duration": duration, "warm_up": "5d"})
    return simulate(scenario, seed=11)


def test_the_fourkeys_profile_is_fourkeys_metrics_of_the_exported_tables(measured_run):
    """fourkeys_profile computes in NumPy what fourkeys_metrics reads from fourkeys_tables' DataFrames."""
    (now,) = timestamps(np.array([measured_run.scenario.simulation.duration]))
    from_tables = fourkeys_metrics(fourkeys_tables(measured_run), now=now)
    assert len(measured_run.incidents) > 0
    _same(fourkeys_profile(measured_run), from_tables)


def test_with_nothing_deployed_the_fourkeys_profile_and_fourkeys_metrics_agree():
    """A run too short to deploy anything: the exported commit table is empty (pandas could not map it)."""
    run = simulate(small("trunk-based", simulation={"duration": "1h", "warm_up": 0}), seed=1)
    (now,) = timestamps(np.array([run.scenario.simulation.duration]))
    from_tables = fourkeys_metrics(fourkeys_tables(run), now=now)
    assert from_tables["deploys_per_day"] == 0.0 and from_tables["lead_time_median_hours"] == 0.0
    _same(fourkeys_profile(run), from_tables)


def test_the_profiles_are_the_same_from_columns_and_from_frames(measured_run):
    fresh = simulate(measured_run.scenario, seed=11)
    _ = measured_run.frames  # every DataFrame built: the profiles read their columns
    assert raw_columns(fresh, "deployments") is not None and raw_columns(measured_run, "deployments") is None
    for profile in (fourkeys_profile, devlake_profile):
        _same(profile(fresh), profile(measured_run))


def test_months_before_is_pandas_date_offset():
    from trunksim.metrics.profiles import months_before

    for day in pd.date_range("2024-01-01", "2027-12-31", freq="D"):
        assert months_before(day.date(), 3) == (day - pd.DateOffset(months=3)).date()


def test_a_table_without_records_reads_as_pandas_empty_frame():
    run = simulate(small("trunk-based"), seed=1)  # no error budget: no freezes
    columns = raw_columns(run, "freezes")
    assert columns is not None and list(columns) == list(COLUMNS["freezes"])
    frame = run.freezes  # built now, as before
    expected = records_frame("freezes", [])
    assert frame.equals(expected) and (frame.dtypes == expected.dtypes).all()
    assert all(frame[name].to_numpy().dtype == values.dtype for name, values in columns.items())


def test_users_still_get_frames():
    code = (
        "import sys, trunksim\n"
        "from trunksim.scenario.schema import Scenario\n"
        "s = Scenario.model_validate({'name': 't', 'strategy': {'name': 'trunk-based'}, 'team': {'developers': 3},"
        " 'simulation': {'duration': '3w', 'warm_up': '1w'}})\n"
        "run = trunksim.simulate(s, seed=1)\n"
        "assert 'pandas' not in sys.modules\n"
        "print(type(run.changes).__name__, type(run.freezes).__name__, len(run.changes) > 0)\n"
        "print(type(trunksim.run(s, replications=2, seed=1)).__name__)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_environment(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["DataFrame", "DataFrame", "True", "DataFrame"]

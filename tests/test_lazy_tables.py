"""Run's DataFrames are built only when asked for (issue 13): the metrics read the engine's typed columns."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import trunksim
from trunksim.engine.log import records_frame
from trunksim.metrics import compute_metrics
from trunksim.tables import COLUMNS, TABLES, TableColumns, raw_columns

from conftest import small


@pytest.fixture(scope="module")
def run():
    return trunksim.simulate(small("trunk-based"), seed=3)


def test_metrics_read_the_columns_without_building_the_big_frames(run):
    fresh = trunksim.simulate(small("trunk-based"), seed=3)
    compute_metrics(fresh)
    for name in ("changes", "deployments", "incidents", "ci_runs", "activity", "merges", "features"):
        assert raw_columns(fresh, name) is not None, f"{name}: a DataFrame was built for the metrics"


def test_a_frame_built_on_first_read_is_the_one_pandas_makes_of_the_records(run):
    for name in TABLES:
        frame = getattr(run, name)  # built now
        assert raw_columns(run, name) is None and getattr(run, name) is frame  # once
        if name in ("changes", "features", "deployments", "incidents") or not len(frame):
            continue
        rows = list(frame.itertuples(index=False, name=None))
        expected = records_frame(name, rows)
        assert list(frame.columns) == list(expected.columns)
        assert (frame.dtypes == expected.dtypes).all(), name
        assert frame.equals(expected), name


def test_metrics_are_the_same_from_columns_and_from_frames():
    lazy = trunksim.simulate(small("github-flow"), seed=4)
    eager = trunksim.simulate(small("github-flow"), seed=4)
    _ = eager.frames  # every DataFrame built first
    a, b = compute_metrics(lazy), compute_metrics(eager)
    assert a.keys() == b.keys()
    for key in a:
        assert a[key] == b[key] or (a[key] != a[key] and b[key] != b[key]), key


def test_the_shared_columns_cannot_be_changed_in_place_and_a_run_pickles():
    fresh = trunksim.simulate(small("trunk-based"), seed=5)
    columns = raw_columns(fresh, "activity")
    numeric = next(values for values in columns.values() if isinstance(values, np.ndarray))
    with pytest.raises(ValueError):
        numeric[0] = 0
    copy = pickle.loads(pickle.dumps(fresh))
    assert copy.activity.equals(fresh.activity)
    assert isinstance(TableColumns({"x": np.arange(3)}).frame().x.to_numpy(), np.ndarray)


def test_an_empty_table_is_a_fresh_copy_each_time():
    first = records_frame("freezes", [])
    first["start_hours"] = [1.0] * len(first)
    first.loc[0] = [1.0, 2.0, "x"]  # changing one run's empty table must not reach the next run's
    assert len(records_frame("freezes", [])) == 0


def test_records_of_another_shape_or_type_are_left_to_pandas():
    """``typed_columns`` transposes the records in one pass; a record it cannot type exactly gives None."""
    from trunksim.engine.log import typed_columns

    good = [(1, "trunk", 2.0, 10.0, 0.0, 0, False), (2, "trunk", -1.0, 5, 3.5, 1, True)]
    columns = typed_columns("merges", good)
    assert tuple(columns) == COLUMNS["merges"]
    assert columns["change_id"].dtype == np.int64 and columns["target"] == ["trunk", "trunk"]
    assert columns["lines"].dtype == np.float64 and columns["lines"][1] == 5.0
    assert np.isnan(columns["time_hours"][1]) and columns["breaks_build"].tolist() == [False, True]
    expected = records_frame("merges", good)
    assert np.array_equal(columns["time_hours"], expected["time_hours"].to_numpy(), equal_nan=True)
    assert typed_columns("merges", [good[0], good[1][:-1]]) is None  # a record short of a column
    assert typed_columns("merges", [good[0], (2, "trunk", 1.0, 5.0, 3.5, 1.5, True)]) is None  # a float in an int column
    assert typed_columns("merges", [good[0], (2, "trunk", 1.0, 5.0, 3.5, 1, None)]) is None  # None in a flag

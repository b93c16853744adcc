"""One event table's columns as NumPy arrays, each converted once.

The metrics read the same few columns of the same tables many times. Reading a
column of a :class:`pandas.DataFrame` and then filtering, comparing and summing it
through pandas costs tens of microseconds per step, which on tables of a few thousand
rows is most of the time a replication's metrics take. :class:`Columns` converts each
column it is asked for once (``Series.to_numpy()``) and hands out that array
afterwards; the metric functions do their work in NumPy.

Every metric function of :mod:`trunksim.metrics` that takes a table accepts either a
DataFrame or a :class:`Columns` (:func:`columns_of`): ``compute_metrics`` wraps each
table of a run once, for that call, so that every metric reads the same arrays.
"""

from __future__ import annotations

import math

from typing import TYPE_CHECKING, Any, Callable, Optional, Union

import numpy as np

from trunksim.tables import Run, raw_columns

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd  # never imported here: a table read from its columns needs no pandas


class Columns:
    """A read-only view of one event table whose columns are NumPy arrays, converted on first use.

    ``columns["x"]`` is the column's values as they are (``Series.to_numpy()``: an
    object array for text); :meth:`floats` the column as float64 (missing → NaN);
    :meth:`isin` compares a text column with a few values. ``frame`` is the table
    itself, for what needs pandas.
    """

    __slots__ = ("_frame", "_read_frame", "_raw", "_values", "_floats")

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame: Optional[pd.DataFrame] = frame
        self._read_frame: Optional[Callable[[], pd.DataFrame]] = None
        self._raw: Optional[dict[str, Any]] = None
        self._values: dict[str, np.ndarray] = {}
        self._floats: dict[str, np.ndarray] = {}

    @classmethod
    def of_run(cls, run: Run, name: str) -> "Columns":
        """Table ``name`` of ``run``: its typed columns while its DataFrame is not built (none is built
        for reading them), else the DataFrame's."""
        raw = raw_columns(run, name)
        if raw is None:
            return cls(getattr(run, name))
        columns = cls.__new__(cls)
        columns._frame, columns._read_frame, columns._raw = None, lambda: getattr(run, name), raw
        columns._values, columns._floats = {}, {}
        return columns

    @property
    def frame(self) -> pd.DataFrame:
        """The table as a DataFrame (built from the run's columns if it was not yet), for what needs pandas."""
        if self._frame is None:
            assert self._read_frame is not None
            self._frame = self._read_frame()
        return self._frame

    def __len__(self) -> int:
        if self._raw is not None:
            return len(next(iter(self._raw.values()))) if self._raw else 0
        return len(self.frame)

    def __contains__(self, name: str) -> bool:
        return name in self._raw if self._raw is not None else name in self.frame

    def __getitem__(self, name: str) -> np.ndarray:
        values = self._values.get(name)
        if values is None:
            if self._raw is not None:
                raw = self._raw[name]
                # text: an object array of the strings, as Series.to_numpy() gives
                values = raw if isinstance(raw, np.ndarray) else np.array(raw, dtype=object)
            else:
                values = self.frame[name].to_numpy()
            self._values[name] = values
        return values

    def floats(self, name: str) -> np.ndarray:
        """The column as a float64 array (NaN where missing)."""
        values = self._floats.get(name)
        if values is None:
            if self._raw is not None:
                values = np.asarray(self._raw[name], dtype=float)
            else:
                values = np.asarray(self.frame[name].to_numpy(dtype=float, na_value=np.nan), dtype=float)
            self._floats[name] = values
        return values

    def isin(self, name: str, options: tuple) -> np.ndarray:
        """Elementwise ``value in options`` for the column, as ``Series.isin`` (a missing value is in none)."""
        values = self[name]
        found = np.zeros(len(values), dtype=bool)
        try:
            for option in options:
                found |= values == option
        except TypeError:  # a nullable column's missing value (pd.NA) cannot be compared: pandas can
            return self.frame[name].isin(options).to_numpy(dtype=bool)
        return found


Table = Union["pd.DataFrame", Columns]
"""An event table as the metric functions take it: a DataFrame, or its :class:`Columns`."""


def columns_of(table: Table) -> Columns:
    """``table`` as :class:`Columns` (itself if it already is one)."""
    return table if isinstance(table, Columns) else Columns(table)


def nansum(values: np.ndarray) -> float:
    """``Series.sum()`` of these values: NaN counts as 0, summed in place (NumPy's pairwise sum, in the same order)."""
    values = np.asarray(values, dtype=float)
    return float(np.where(np.isnan(values), 0.0, values).sum())


def nanmean(values: np.ndarray) -> float:
    """``Series.dropna().mean()`` of these values: the mean of the non-NaN ones (``sum / count``), NaN when there is none."""
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    return float(values.sum() / len(values)) if len(values) else float("nan")


def quantile(values: np.ndarray, q: float) -> float:
    """The ``q``-th percentile of the non-NaN values (linear interpolation, ``np.percentile``), NaN when there is none."""
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    return float(np.percentile(values, q)) if len(values) else math.nan

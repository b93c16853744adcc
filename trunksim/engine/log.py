"""The event log: records appended by the processes, turned into the tables of :mod:`trunksim.tables`.

Processes append the typed records of the results contract (``CIRunRecord``,
``MergeRecord``, ...); changes, features, deployments and incidents are entities the
engine keeps updating, so their tables are taken from them at the end of the run.
Nothing is aggregated here: metrics (:mod:`trunksim.metrics`) are pure functions of
the tables. All times are clock hours since Monday 00:00 of week 0.
"""

from __future__ import annotations

import itertools
import math
from functools import partial
from operator import attrgetter
from typing import TYPE_CHECKING, Iterable

import numpy as np

from trunksim.engine.entities import Branch, Change, Deployment, Feature, Incident
from trunksim.tables import (
    CHANGE_COLUMNS,
    COLUMNS,
    DTYPES,
    STAGES,
    ActivityRecord,
    BranchStatusRecord,
    CIRunRecord,
    DeploymentRecord,
    FreezeRecord,
    IncidentRecord,
    MergeRecord,
    TableColumns,
    empty_columns,
)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd  # imported by _records_frame, the one place that makes a DataFrame


_NUMPY = {"i": np.int64, "f": np.float64, "b": np.bool_}
"""NumPy dtype of each numeric table kind; text columns stay lists."""


class EventLog:
    """Append-only records of one replication."""

    def __init__(self) -> None:
        self.ci_runs: list[CIRunRecord] = []
        self.activity: list[ActivityRecord] = []
        self.merges: list[MergeRecord] = []
        self.branch_status: list[BranchStatusRecord] = []
        self.freezes: list[FreezeRecord] = []
        self.changes: list[Change] = []
        self.features: list[Feature] = []

    def change_columns(self) -> dict[str, object]:
        """The change table, column by column, taken from the change records at the end of the run.

        Each change is read once (its attributes in one tuple, while the object is in the
        CPU cache) and the tuples transposed into columns; numeric columns go straight into
        NumPy arrays of their table dtype (:data:`trunksim.tables.DTYPES`), not through
        lists of Python numbers.
        """
        kinds = DTYPES["changes"]
        changes = self.changes
        count = len(changes)
        # One pass over the changes (each object read once, while it is in the cache), then
        # transposed: reading them attribute by attribute cost a pass over memory per column.
        fields = list(zip(*map(_CHANGE_GETTER, changes))) or [()] * len(_CHANGE_SOURCES)
        values = dict(zip(_CHANGE_SOURCES, fields))

        columns: dict[str, object] = {}
        for name, source in _CHANGE_ATTRIBUTES:
            columns[name] = np.fromiter(values[source], dtype=_NUMPY[kinds[name]], count=count)
        columns["feature_id"] = np.fromiter(
            (f.feature_id if f is not None else -1 for f in values["feature"]), dtype=np.int64, count=count
        )
        columns["defects"] = np.fromiter(map(len, values["defects"]), dtype=np.int64, count=count)
        columns["kind"] = list(values["kind"])
        columns["target"] = list(values["target"])
        columns["state"] = np.where(columns["deployed_hours"] >= 0, "deployed", "in_flight").tolist()
        columns["remedies"] = [f.found_by if f is not None else "" for f in values["fixes"]]
        stages = np.fromiter(
            itertools.chain.from_iterable(values["stage_hours"]), dtype=np.float64, count=count * len(STAGES)
        ).reshape(count, len(STAGES))
        for i, stage in enumerate(STAGES):
            columns[f"stage_{stage}_hours"] = stages[:, i]
        return {name: columns[name] for name in CHANGE_COLUMNS}

    def feature_rows(self) -> list[tuple]:
        """The feature table rows."""
        return [
            (
                f.feature_id, f.developer, f.effort_hours, f.lines, len(f.defects), len(f.changes), f.started, f.completed,
                f.flagged, f.flag_released, f.flag_removed,
            )
            for f in self.features
        ]

    def tables(
        self, deployments: Iterable[Deployment], incidents: Iterable[Incident], branches: Iterable[Branch]
    ) -> "dict[str, pd.DataFrame | TableColumns]":
        """Every table in the shape :data:`trunksim.tables.COLUMNS` declares: typed columns
        (:class:`~trunksim.tables.TableColumns`, a DataFrame when first read), or a
        DataFrame pandas made where a column did not fit its declared dtype. A table
        without records is the columns of pandas' empty frame
        (:func:`~trunksim.tables.empty_columns`), that frame (:func:`records_frame`)
        when first read: a run whose tables are not read imports no pandas.

        Missing times (-1) become NaN; red periods still open at the end are reported up
        to the end of the run (``green_at_hours`` NaN). The appended records are released
        table by table as their frame is built, so a big run does not hold its log twice
        (the biggest logs first: the peak memory of a big run is reached here); call it
        once, at the end of the run.
        """
        sources = {
            "activity": lambda: self.activity,
            "ci_runs": lambda: self.ci_runs,
            "merges": lambda: self.merges,
            "changes": self.change_columns,
            "features": self.feature_rows,
            "deployments": lambda: [deployment_record(d) for d in deployments],
            "incidents": lambda: [incident_record(i) for i in incidents],
            "freezes": lambda: self.freezes,
            "branch_status": lambda: self.branch_status + [
                BranchStatusRecord(b.name, b.red_since, math.nan, b.red_cause) for b in branches if b.red_since >= 0
            ],
        }
        tables: dict[str, "pd.DataFrame | TableColumns"] = {}
        for name, rows_of in sources.items():
            rows = rows_of()
            columns = typed_columns(name, rows) if isinstance(rows, dict) or rows else None
            if columns is not None:
                table: "pd.DataFrame | TableColumns" = TableColumns(columns)
            elif rows:
                table = records_frame(name, rows)
            else:  # no records: the frame pandas makes of none, built only if the table is read
                table = TableColumns(empty_columns(name), build=partial(records_frame, name, []))
            del rows, columns
            if name in ("ci_runs", "activity", "merges"):
                getattr(self, name).clear()
            tables[name] = table
        return tables


def typed_columns(name: str, rows: "list[tuple] | dict[str, object]") -> "dict[str, object] | None":
    """Table ``name`` column by column in the dtypes the results contract declares (:data:`DTYPES`).

    ``rows`` are the table's records (tuples in :data:`COLUMNS` order) or its columns by
    name. Numeric columns become NumPy arrays, which must come out in their declared
    dtype kind (``_hours`` columns: floats, NaN where the time is negative, i.e. did not
    happen); text columns stay lists, which pandas reads as its text dtype. Returns None
    when a column holds values of another type (a record the engine should not make: a
    float in an integer column, None in a flag), leaving the table to
    :func:`records_frame`, which infers the dtypes as pandas does, so nothing is
    silently converted.
    """
    columns = COLUMNS[name]
    kinds = DTYPES[name]
    if isinstance(rows, dict):
        by_column = rows
    else:
        # Transposed in one pass over the records (reading them column by column cost a pass
        # over memory per column); a record shorter than the table leaves a column missing.
        by_column = dict(zip(columns, zip(*rows)))
        if len(by_column) < len(columns):
            return None
    data: dict[str, object] = {}
    for column in columns:
        values = by_column[column]
        kind = kinds[column]
        if kind == "O":
            data[column] = values if isinstance(values, list) else list(values)
            continue
        array = values if isinstance(values, np.ndarray) else np.array(values)
        if column.endswith("_hours") and array.dtype.kind in "if":  # times: floats, as pandas makes them
            array = np.where(array >= 0, array.astype(np.float64), np.nan)
        elif array.dtype.kind != kind:  # a value of another type: pandas decides, as before
            return None
        data[column] = array
    return data  # in COLUMNS order: the dict was filled in it


def records_frame(name: str, rows: "list[tuple] | dict[str, object]") -> pd.DataFrame:
    """Table ``name`` as pandas makes it of the records (dtypes inferred; ``_hours``: NaN where negative).

    A table without records is a copy of the one pandas made the first time: building an
    empty frame costs pandas about as much as one of a few thousand rows.
    """
    if not rows:
        template = _EMPTY_TABLES.get(name)
        if template is None:
            template = _EMPTY_TABLES[name] = _records_frame(name, rows)
        return template.copy()
    return _records_frame(name, rows)


_EMPTY_TABLES: dict[str, pd.DataFrame] = {}
"""Each table without records, as pandas makes it (copied for every empty table)."""


def _records_frame(name: str, rows: "list[tuple] | dict[str, object]") -> pd.DataFrame:
    import pandas as pd

    columns = COLUMNS[name]
    if isinstance(rows, dict):
        frame = pd.DataFrame(rows, columns=list(columns))
    else:
        frame = pd.DataFrame.from_records(rows, columns=list(columns))
    for column in columns:
        if column.endswith("_hours") and column in frame:
            values = frame[column].to_numpy(dtype=float)
            frame[column] = np.where(values >= 0, values, np.nan)
    return frame


_CHANGE_ATTRIBUTES: tuple[tuple[str, str], ...] = (
    ("change_id", "change_id"), ("author", "author"), ("lines", "lines"), ("created_hours", "created"),
    ("first_commit_hours", "first_commit"), ("submitted_hours", "submitted"), ("merged_hours", "merged"),
    ("deployed_hours", "deployed"), ("deployment_id", "deployment_id"), ("review_rounds", "review_rounds"),
    ("ci_runs", "ci_runs"), ("conflicts", "conflicts"), ("flagged", "flagged"), ("queued_hours", "queued"),
)
"""Change-table columns read straight from an attribute of the change: (column, attribute)."""

_CHANGE_SOURCES: tuple[str, ...] = tuple(source for _, source in _CHANGE_ATTRIBUTES) + (
    "feature", "defects", "kind", "target", "fixes", "stage_hours",
)
"""Every attribute of a change the change table reads."""

_CHANGE_GETTER = attrgetter(*_CHANGE_SOURCES)


def deployment_record(d: Deployment) -> DeploymentRecord:
    """The table record of a deployment at the end of the run."""
    return DeploymentRecord(
        d.deployment_id, d.source, d.kind, d.started, d.finished if d.finished >= 0 else math.nan,
        len(d.changes), len(d.new_changes), d.rolled_out, d.canary_failed, d.rolled_back,
        d.rolled_back_at if d.rolled_back_at >= 0 else math.nan, " ".join([str(c.change_id) for c in d.changes]),
    )


def incident_record(i: Incident) -> IncidentRecord:
    """The table record of an incident at the end of the run."""
    return IncidentRecord(
        i.incident_id, i.deployment_id, i.defect.change.change_id if i.defect.change else -1, i.defect.severity,
        i.source, i.started, i.detected if i.detected >= 0 else math.nan,
        i.restored if i.restored >= 0 else math.nan, i.restored_by, i.responder, i.exposed_share,
    )

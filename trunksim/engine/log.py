"""The event log: records appended by the processes, turned into the tables of :mod:`trunksim.tables`.

Processes append the typed records of the results contract (``CIRunRecord``,
``MergeRecord``, ...); changes, features, deployments and incidents are entities the
engine keeps updating, so their tables are taken from them at the end of the run.
Nothing is aggregated here: metrics (:mod:`trunksim.metrics`) are pure functions of
the tables. All times are clock hours since Monday 00:00 of week 0.
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np
import pandas as pd

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
)


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

        Built by columns rather than rows so a big run does not hold a tuple per change;
        numeric columns go straight into NumPy arrays of their table dtype
        (:data:`trunksim.tables.DTYPES`), not through lists of Python numbers.
        """
        kinds = DTYPES["changes"]
        count = len(self.changes)

        def column_of(name: str, values: Iterable) -> object:
            dtype = _NUMPY.get(kinds[name])
            return np.fromiter(values, dtype=dtype, count=count) if dtype is not None else list(values)

        columns: dict[str, object] = {}
        fields = (
            ("change_id", lambda c: c.change_id), ("feature_id", lambda c: c.feature.feature_id if c.feature else -1),
            ("author", lambda c: c.author), ("kind", lambda c: c.kind), ("target", lambda c: c.target),
            ("lines", lambda c: c.lines), ("defects", lambda c: len(c.defects)), ("created_hours", lambda c: c.created),
            ("first_commit_hours", lambda c: c.first_commit), ("submitted_hours", lambda c: c.submitted),
            ("merged_hours", lambda c: c.merged), ("deployed_hours", lambda c: c.deployed),
            ("deployment_id", lambda c: c.deployment_id),
            ("state", lambda c: "deployed" if c.deployed >= 0 else "in_flight"),
            ("review_rounds", lambda c: c.review_rounds), ("ci_runs", lambda c: c.ci_runs),
            ("conflicts", lambda c: c.conflicts), ("flagged", lambda c: c.flagged),
            ("remedies", lambda c: c.fixes.found_by if c.fixes is not None else ""),
            ("queued_hours", lambda c: c.queued),
        )
        for name, get in fields:
            columns[name] = column_of(name, (get(c) for c in self.changes))
        for i, stage in enumerate(STAGES):
            name = f"stage_{stage}_hours"
            columns[name] = column_of(name, (c.stage_hours[i] for c in self.changes))
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
    ) -> dict[str, pd.DataFrame]:
        """Every table as a DataFrame, in the shape :data:`trunksim.tables.COLUMNS` declares.

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
        frames = {}
        for name, rows_of in sources.items():
            columns = COLUMNS[name]
            rows = rows_of()
            if isinstance(rows, dict):
                frame = pd.DataFrame(rows, columns=list(columns))
            else:
                frame = pd.DataFrame.from_records(rows, columns=list(columns))
            del rows
            if name in ("ci_runs", "activity", "merges"):
                getattr(self, name).clear()
            for column in columns:
                if column.endswith("_hours") and column in frame:
                    values = frame[column].to_numpy(dtype=float)
                    frame[column] = np.where(values >= 0, values, np.nan)
            frames[name] = frame
        return frames


def deployment_record(d: Deployment) -> DeploymentRecord:
    """The table record of a deployment at the end of the run."""
    return DeploymentRecord(
        d.deployment_id, d.source, d.kind, d.started, d.finished if d.finished >= 0 else math.nan,
        len(d.changes), len(d.new_changes), d.rolled_out, d.canary_failed, d.rolled_back,
        d.rolled_back_at if d.rolled_back_at >= 0 else math.nan, " ".join(str(c.change_id) for c in d.changes),
    )


def incident_record(i: Incident) -> IncidentRecord:
    """The table record of an incident at the end of the run."""
    return IncidentRecord(
        i.incident_id, i.deployment_id, i.defect.change.change_id if i.defect.change else -1, i.defect.severity,
        i.source, i.started, i.detected if i.detected >= 0 else math.nan,
        i.restored if i.restored >= 0 else math.nan, i.restored_by, i.responder, i.exposed_share,
    )

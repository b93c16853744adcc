"""Four Keys tables: ``changes``, ``deployments``, ``incidents`` as CSV or JSON lines.

The shape of dora-team/fourkeys' derived tables (``queries/changes.sql``,
``deployments.sql``, ``incidents.sql``) and of ``trunksim export``
(:mod:`trunksim.export`). Columns read:

=============== ============================================== =====================================
table           needed                                         read as
=============== ============================================== =====================================
``changes``     ``change_id``, ``time_created``                a change; ``time_created`` = first commit
``deployments`` ``deploy_id``, ``time_created``, ``changes``   a successful deployment finished at
                                                               ``time_created``, carrying ``changes``
                                                               (a JSON array of commit ids);
                                                               ``main_commit`` if present
``incidents``   ``incident_id``, ``time_created``,             an incident; ``time_resolved`` NULL =
                ``time_resolved``, ``changes``                 still open; ``changes`` = root causes
=============== ============================================== =====================================

Other columns (``source``, ``event_type``, ``metadata``) are ignored. A file's table is
told by its name (``changes.csv``, ``deployments.jsonl``, ...; a prefix such as
``team_deployments.csv`` works too). ``metadata.json`` of a trunksim export, if given,
states the window (``measured_from``, ``now``). Four Keys records no authors, sizes,
reviews or CI: those parameters keep their defaults or are fitted.

Note Four Keys' own rule for an incident's start: the earlier of its creation and the
deployment of its root cause, so ``time_resolved - time_created`` runs from the
deployment of the defect, not from the failure (see ``docs/metrics.md``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import pandas as pd

from trunksim.calibrate.history import CalibrationInputError, History, SourceFile, conform
from trunksim.calibrate.parsing import (
    Rows, check_order, csv_rows, id_lists, json_array_rows, jsonl_rows, read_text, require_columns, texts, times,
)
from trunksim.export import FOURKEYS_COLUMNS, fourkeys_records
from trunksim.metrics.profiles import EPOCH

if TYPE_CHECKING:  # pragma: no cover
    from trunksim.tables import Run

KIND = "fourkeys"

NEEDED: dict[str, tuple[str, ...]] = {
    "changes": ("change_id", "time_created"),
    "deployments": ("deploy_id", "time_created", "changes"),
    "incidents": ("incident_id", "time_created", "time_resolved", "changes"),
}
"""The columns each Four Keys table must have."""

COLUMNS: dict[str, tuple[str, ...]] = FOURKEYS_COLUMNS
"""Columns written (as ``trunksim export`` writes them)."""


def table_of(path: str | Path) -> Optional[str]:
    """The Four Keys table a file name stands for (``deployments.csv`` → ``deployments``), or None."""
    stem = Path(path).name.lower()
    for suffix in (".csv", ".jsonl", ".ndjson", ".json"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    for table in NEEDED:
        if stem == table or stem.endswith("_" + table) or stem.endswith("-" + table):
            return table
    return None


def parse(table: str, rows: Rows, file: str, columns: Any, assume_utc: bool = False) -> History:
    """Rows of one Four Keys table → a history holding that table."""
    require_columns(columns, NEEDED[table], file, f"the Four Keys {table} table")
    history = History()
    if table == "changes":
        frame = pd.DataFrame({
            "change_id": texts(rows, "change_id"),
            "first_commit": times(rows, "time_created", file, assume_utc=assume_utc),
            "source": KIND,
        })
        history.changes = conform("changes", frame)
    elif table == "deployments":
        frame = pd.DataFrame({
            "deploy_id": texts(rows, "deploy_id"),
            "finished": times(rows, "time_created", file, assume_utc=assume_utc),
            "success": True,
            "changes": pd.Series(id_lists(rows, "changes", file), dtype=object),
            "commit": texts(rows, "main_commit"),
            "source": KIND,
        })
        history.deployments = conform("deployments", frame)
    else:
        created = times(rows, "time_created", file, assume_utc=assume_utc)
        resolved = times(rows, "time_resolved", file, required=False, assume_utc=assume_utc)
        check_order(rows, created, resolved, "time_created", "time_resolved", file)
        frame = pd.DataFrame({
            "incident_id": texts(rows, "incident_id"),
            "created": created,
            "resolved": resolved,
            "changes": pd.Series(id_lists(rows, "changes", file), dtype=object),
            "source": KIND,
        })
        history.incidents = conform("incidents", frame)
    return history


def read(path: str | Path, assume_utc: bool = False) -> History:
    """Read one Four Keys file (its table told by its name) or a trunksim export's ``metadata.json``."""
    file = str(path)
    if Path(path).name.lower() == "metadata.json":
        return read_metadata(path)
    table = table_of(path)
    if table is None:
        raise CalibrationInputError("is not a Four Keys table (name it changes, deployments or incidents .csv/.jsonl)", file)
    text = read_text(path)
    if file.lower().endswith(".csv"):
        header, rows = csv_rows(text, file)
        columns: Any = header
    else:
        rows = jsonl_rows(text, file) if not text.lstrip().startswith("[") else json_array_rows(text, file)
        columns = set().union(*(record.keys() for _, record in rows)) if rows else set()
        if rows:
            for where, record in rows:
                missing = [c for c in NEEDED[table] if c not in record]
                if missing:
                    require_columns(record.keys(), NEEDED[table], file, f"the Four Keys {table} table", line=where)
    if not rows and table != "incidents":
        raise CalibrationInputError(f"has no rows (an empty {table} table: the history is empty)", file)
    history = parse(table, rows, file, columns, assume_utc)
    history.sources.append(SourceFile(file, KIND, table, len(rows)))
    return history


def read_metadata(path: str | Path) -> History:
    """The window a trunksim export states (``measured_from``, ``now``)."""
    file = str(path)
    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as error:
        raise CalibrationInputError(f"is not JSON ({error.msg})", file, error.lineno) from None
    if not isinstance(data, dict):
        raise CalibrationInputError("is not a JSON object (a trunksim export's metadata.json)", file)
    history = History()
    rows = [(1, data)]
    for key, attribute in (("measured_from", "since"), ("now", "now")):
        if data.get(key) is not None:
            setattr(history, attribute, times(rows, key, file).iloc[0])
    history.sources.append(SourceFile(file, KIND, "metadata", 1))
    return history


# -- a simulated run, as Four Keys would hold it -------------------------------------------
def records_from_run(run: "Run") -> dict[str, list[dict[str, Any]]]:
    """The run's measured window as Four Keys records (what ``trunksim export`` writes), table → records."""
    return fourkeys_records(run)


def window_of(run: "Run") -> tuple[pd.Timestamp, pd.Timestamp]:
    """The measured window of a run as UTC timestamps (simulation hour 0 = :data:`EPOCH`)."""
    settings = run.scenario.simulation
    start = pd.Timestamp(EPOCH) + pd.to_timedelta(float(settings.warm_up), unit="h")
    end = pd.Timestamp(EPOCH) + pd.to_timedelta(float(settings.duration), unit="h")
    return start.floor("s"), end.floor("s")


def history_from_run(run: "Run") -> History:
    """The run read back as a Four Keys history (the same parsing as files)."""
    records = records_from_run(run)
    history = History()
    for table, records_ in records.items():
        part = parse(table, list(enumerate(records_, start=2)), f"<simulated {table}>", COLUMNS[table])
        setattr(history, table, part.table(table))
        history.sources.append(SourceFile(f"<simulated {table}>", KIND, table, len(records_)))
    history.since, history.now = window_of(run)
    return history


def write(records: dict[str, list[dict[str, Any]]], folder: str | Path, metadata: Optional[dict] = None) -> list[Path]:
    """Write Four Keys records as ``<table>.csv`` (JSON arrays in cells), atomically; returns the paths."""
    from trunksim.io import write_csv, write_text

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for table, records_ in records.items():
        frame = pd.DataFrame(records_, columns=list(COLUMNS[table]))
        if "changes" in frame:
            frame["changes"] = [json.dumps(v) for v in frame["changes"]]
        written.append(write_csv(frame, out / f"{table}.csv"))
    if metadata is not None:
        written.append(write_text(out / "metadata.json", json.dumps(metadata, indent=2) + "\n"))
    return written


__all__ = ["COLUMNS", "KIND", "NEEDED", "history_from_run", "parse", "read", "read_metadata", "records_from_run", "table_of", "window_of", "write"]

"""Export one replication as Four Keys tables, so other DORA tooling can read what trunksim simulated.

``export_fourkeys(run, folder)`` writes the ``changes``, ``deployments`` and
``incidents`` tables of dora-team/fourkeys (the derived tables of ``queries/changes.sql``,
``queries/deployments.sql`` and ``queries/incidents.sql``: same column names, same
meanings), each as CSV and as JSON lines, plus ``metadata.json``.

* Timestamps are ISO-8601 UTC (``2026-01-05T11:00:00Z``), truncated to whole seconds;
  simulation hour 0 is :data:`trunksim.metrics.profiles.EPOCH`, Monday
  2026-01-05T00:00:00Z. An empty CSV cell / JSON ``null`` is a NULL
  (``time_resolved`` of an incident not yet restored).
* ``change_id`` and ``main_commit`` are commit shas standing for trunksim changes: the
  change id as 40 hex digits (``int(sha, 16)`` gives the trunksim ``change_id`` back).
  ``deploy_id`` and ``incident_id`` are the trunksim ids as strings.
* ``changes`` (an ``ARRAY<STRING>`` in Four Keys) is a JSON array in both formats (in
  CSV, a JSON array in one cell).
* ``metadata.json``: the epoch, the run's end (the dashboard's "now"), the start of the
  measurement window (end of the warm-up), scenario, strategy, seed, replication.
* Every file is UTF-8 with ``\n`` line ends, written atomically (:mod:`trunksim.io`).

Which rows go in, and why, is in :mod:`trunksim.metrics.profiles`; the ``fourkeys``
metric profile is computed from exactly these tables, so recomputing the Four Keys
dashboard from the files gives the profile's numbers (``tests/test_export.py`` does).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import pandas as pd

from trunksim.io import write_csv, write_text
from trunksim.metrics.profiles import EPOCH, fourkeys_tables, timestamps

if TYPE_CHECKING:  # pragma: no cover
    from trunksim.tables import Run

FOURKEYS_COLUMNS: dict[str, tuple[str, ...]] = {
    "changes": ("source", "event_type", "change_id", "time_created"),
    "deployments": ("source", "deploy_id", "time_created", "main_commit", "changes"),
    "incidents": ("source", "incident_id", "time_created", "time_resolved", "changes"),
}
"""Column order of each exported table (as in dora-team/fourkeys ``queries/*.sql``)."""

ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def _iso(value: Any) -> Any:
    return None if pd.isna(value) else pd.Timestamp(value).strftime(ISO_FORMAT)


def _records(frame: pd.DataFrame, columns: tuple[str, ...]) -> list[dict[str, Any]]:
    records = []
    for row in frame[list(columns)].itertuples(index=False):
        record = {}
        for name, value in zip(columns, row):
            if name.startswith("time_"):
                value = _iso(value)
            elif name == "changes":
                value = list(value)
            record[name] = value
        records.append(record)
    return records


def fourkeys_records(run: "Run", include_warm_up: bool = False) -> dict[str, list[dict[str, Any]]]:
    """The run as Four Keys records, table → list of rows (what :func:`export_fourkeys` writes).

    Times are ISO-8601 strings (None for NULL); ``changes`` are lists of commit ids.
    """
    tables = fourkeys_tables(run, include_warm_up=include_warm_up)
    return {name: _records(tables[name], columns) for name, columns in FOURKEYS_COLUMNS.items()}


def export_fourkeys(
    run: "Run", folder: Union[str, os.PathLike], formats: tuple[str, ...] = ("csv", "jsonl"), include_warm_up: bool = False
) -> dict[str, Path]:
    """Write one replication as Four Keys ``changes``, ``deployments`` and ``incidents`` tables.

    Parameters
    ----------
    run : Run
        A finished replication (``trunksim.simulate``).
    folder : path
        Output folder, created if needed; existing files of the same names are replaced.
    formats : tuple of {"csv", "jsonl"}
        Which formats to write (both by default).
    include_warm_up : bool
        False (default): only the measured window (deployments and incidents after the
        warm-up, and the commits they need), so the files loaded as is into Four Keys
        give ``--metrics-profile fourkeys``'s figures. True: the whole history.

    Returns
    -------
    dict of str to Path
        ``"<table>.<format>"`` (e.g. ``"deployments.csv"``) → path written, and
        ``"metadata.json"``.
    """
    unknown = set(formats) - {"csv", "jsonl"}
    if unknown:
        raise ValueError(f"unknown export format(s) {sorted(unknown)}; known: csv, jsonl")
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    all_records = fourkeys_records(run, include_warm_up=include_warm_up)
    written: dict[str, Path] = {}
    for name, columns in FOURKEYS_COLUMNS.items():
        records = all_records[name]
        if "csv" in formats:
            frame = pd.DataFrame(records, columns=list(columns))
            if "changes" in frame:
                frame["changes"] = [json.dumps(v) for v in frame["changes"]]
            path = out / f"{name}.csv"
            written[path.name] = write_csv(frame, path)
        if "jsonl" in formats:
            path = out / f"{name}.jsonl"
            written[path.name] = write_text(path, "".join(json.dumps(r) + "\n" for r in records))
    settings = run.scenario.simulation
    now, since = timestamps(pd.Series([settings.duration, settings.warm_up]))
    metadata = {
        "format": "Four Keys derived tables (dora-team/fourkeys queries/changes.sql, deployments.sql, incidents.sql)",
        "epoch": EPOCH.strftime(ISO_FORMAT),
        "now": _iso(now),
        "measured_from": _iso(since),
        "rows": "the whole run, warm-up included" if include_warm_up else "the measured window (after the warm-up) only",
        "scenario": run.scenario.name,
        "strategy": run.scenario.strategy.name,
        "seed": int(run.seed),
        "replication": int(run.replication),
        "change_id": "trunksim change id as 40 hexadecimal digits",
        "timestamps": "ISO-8601 UTC, truncated to whole seconds; simulation hour 0 = epoch",
    }
    written["metadata.json"] = write_text(out / "metadata.json", json.dumps(metadata, indent=2) + "\n")
    return written

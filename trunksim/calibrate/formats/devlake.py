"""Apache DevLake domain-layer tables exported as CSV: ``cicd_deployment_commits``, ``pull_requests``, ``issues``.

Column names are DevLake's own (``backend/core/models/domainlayer``:
``devops/cicd_deployment_commit.go``, ``code/pull_request.go``, ``ticket/issue.go``; the
domain layer schema of the DevLake docs). Export each table with its header, e.g.
``SELECT * FROM cicd_deployment_commits`` to CSV. Read:

=========================== ================================================ ===============================================
table                       needed                                           read as
=========================== ================================================ ===============================================
``cicd_deployment_commits`` ``cicd_deployment_id``, ``result``,              one deployment per ``cicd_deployment_id`` with
                            ``environment``, ``finished_date``,              ``environment`` PRODUCTION (rows of several
                            ``commit_sha``                                   repositories merged); success = ``result``
                                                                             SUCCESS; ``started_date``, ``ref_name`` if
                                                                             present; rows whose ``status`` is not DONE
                                                                             are left out
``pull_requests``           ``id``, ``created_date``, ``merged_date``,       a change: opened, merged (NULL: not merged),
                            ``base_ref``, ``head_ref``                       branches; ``author_name`` (or ``author_id``),
                                                                             ``merge_commit_sha``, ``additions`` and
                                                                             ``deletions`` if present
``issues``                  ``id``, ``type``, ``created_date``,              an incident for each ``type`` INCIDENT;
                            ``resolution_date``                              resolved NULL = still open
=========================== ================================================ ===============================================

DevLake's ``datetime(3)`` columns hold UTC without saying so; a CSV of them has naive
times, which are refused unless the caller states they are UTC (``--assume-utc``). A
pull request is linked to the deployment whose ``commit_sha`` is its
``merge_commit_sha``, otherwise to the first successful deployment started after its
merge (:mod:`trunksim.calibrate.linking`); DevLake's own ``commits_diffs`` table is not
needed. An incident without a named cause is blamed, as DevLake does, on the last
deployment finished before it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import numpy as np
import pandas as pd

from trunksim.calibrate.formats.common import author_name, commit_id, head_name, in_window, release_promotions, stamps
from trunksim.calibrate.history import CalibrationInputError, History, SourceFile, conform
from trunksim.calibrate.parsing import Rows, check_order, csv_rows, numbers, read_text, require_columns, texts, times

if TYPE_CHECKING:  # pragma: no cover
    from trunksim.tables import Run

KIND = "devlake"

NEEDED: dict[str, tuple[str, ...]] = {
    "cicd_deployment_commits": ("cicd_deployment_id", "result", "environment", "finished_date", "commit_sha"),
    "pull_requests": ("id", "created_date", "merged_date", "base_ref", "head_ref"),
    "issues": ("id", "type", "created_date", "resolution_date"),
}
"""The columns each DevLake table must have."""

COLUMNS: dict[str, tuple[str, ...]] = {
    "cicd_deployment_commits": (
        "id", "cicd_scope_id", "cicd_deployment_id", "name", "result", "status", "environment", "created_date",
        "queued_date", "started_date", "finished_date", "duration_sec", "commit_sha", "ref_name", "repo_id", "repo_url",
        "prev_success_deployment_commit_id",
    ),
    "pull_requests": (
        "id", "base_repo_id", "head_repo_id", "status", "original_status", "title", "url", "author_name", "author_id",
        "pull_request_key", "created_date", "merged_date", "closed_date", "type", "merge_commit_sha", "head_ref",
        "base_ref", "base_commit_sha", "head_commit_sha",
    ),
    "issues": (
        "id", "url", "issue_key", "title", "type", "original_type", "status", "original_status", "created_date",
        "updated_date", "resolution_date", "lead_time_minutes", "priority", "severity", "creator_name", "assignee_name",
    ),
}
"""Columns written for a simulated run (a subset of DevLake's; the ones a calibration reads and their neighbours)."""


def table_of(path: str | Path) -> Optional[str]:
    """The DevLake table a file name stands for, or None."""
    stem = Path(path).name.lower()
    if stem.endswith(".csv"):
        stem = stem[:-4]
    for table in NEEDED:
        if stem == table or stem.endswith("_" + table) or stem.endswith("-" + table) or stem.startswith(table):
            return table
    return None


def parse(table: str, rows: Rows, file: str, columns: Any, assume_utc: bool = False) -> History:
    """Rows of one DevLake table → a history holding what it shows."""
    require_columns(columns, NEEDED[table], file, f"DevLake's {table} table")
    history = History()
    if table == "cicd_deployment_commits":
        status = texts(rows, "status").fillna("DONE").str.upper() if "status" in columns else pd.Series(["DONE"] * len(rows), dtype=object)
        environment = texts(rows, "environment").fillna("").str.upper()
        keep = (environment == "PRODUCTION").to_numpy() & (status == "DONE").to_numpy()
        if len(rows) and not (environment == "PRODUCTION").any():
            seen = ", ".join(sorted(set(environment))[:5]) or "(empty)"
            raise CalibrationInputError(
                f"no row has environment PRODUCTION (found: {seen}); DevLake marks production deployments with PRODUCTION",
                file, None, "environment",
            )
        kept: Rows = [row for row, flag in zip(rows, keep) if flag]
        finished = times(kept, "finished_date", file, assume_utc=assume_utc)
        started = times(kept, "started_date", file, required=False, assume_utc=assume_utc) if "started_date" in columns else pd.Series(pd.NaT, index=finished.index, dtype=finished.dtype)
        check_order(kept, started, finished, "started_date", "finished_date", file)
        frame = pd.DataFrame({
            "deploy_id": texts(kept, "cicd_deployment_id"),
            "started": started,
            "finished": finished,
            "success": (texts(kept, "result").fillna("").str.upper() == "SUCCESS").to_numpy(),
            "ref": texts(kept, "ref_name") if "ref_name" in columns else None,
            "commit": texts(kept, "commit_sha"),
        })
        grouped = frame.groupby("deploy_id", sort=False).agg(
            started=("started", "min"), finished=("finished", "max"), success=("success", "all"), ref=("ref", "first"), commit=("commit", "last"),
        ).reset_index()
        grouped["changes"] = None
        grouped["source"] = KIND
        history.deployments = conform("deployments", grouped)
    elif table == "pull_requests":
        opened = times(rows, "created_date", file, assume_utc=assume_utc)
        merged = times(rows, "merged_date", file, required=False, assume_utc=assume_utc)
        check_order(rows, opened, merged, "created_date", "merged_date", file)
        author = texts(rows, "author_name") if "author_name" in columns else pd.Series([None] * len(rows), dtype=object)
        if "author_id" in columns:
            author = author.where(author.notna(), texts(rows, "author_id"))
        lines = pd.Series(np.nan, index=range(len(rows)))
        if "additions" in columns and "deletions" in columns:
            lines = numbers(rows, "additions", file) + numbers(rows, "deletions", file)
        frame = pd.DataFrame({
            "change_id": texts(rows, "merge_commit_sha").where(lambda s: s.notna(), texts(rows, "id")) if "merge_commit_sha" in columns else texts(rows, "id"),
            "author": author,
            "opened": opened,
            "merged": merged,
            "lines": lines,
            "base": texts(rows, "base_ref"),
            "head": texts(rows, "head_ref"),
            "source": KIND,
        })
        history.changes = conform("changes", frame)
    else:
        kind = texts(rows, "type").fillna("").str.upper()
        kept = [row for row, flag in zip(rows, (kind == "INCIDENT").to_numpy()) if flag]
        created = times(kept, "created_date", file, assume_utc=assume_utc)
        resolved = times(kept, "resolution_date", file, required=False, assume_utc=assume_utc)
        check_order(kept, created, resolved, "created_date", "resolution_date", file)
        frame = pd.DataFrame({"incident_id": texts(kept, "id"), "created": created, "resolved": resolved, "source": KIND})
        history.incidents = conform("incidents", frame)
    return history


def read(path: str | Path, assume_utc: bool = False) -> History:
    """Read one DevLake CSV (its table told by its name)."""
    file = str(path)
    table = table_of(path)
    if table is None:
        raise CalibrationInputError("is not a DevLake table (name it cicd_deployment_commits, pull_requests or issues .csv)", file)
    header, rows = csv_rows(read_text(path), file)
    if not rows and table != "issues":
        raise CalibrationInputError(f"has no rows (an empty {table} table: the history is empty)", file)
    history = parse(table, rows, file, header, assume_utc)
    history.sources.append(SourceFile(file, KIND, table, len(rows)))
    return history


# -- a simulated run, as DevLake would hold it ----------------------------------------------
def records_from_run(run: "Run") -> dict[str, list[dict[str, Any]]]:
    """The run's measured window as DevLake domain-layer records, table → records."""
    strategy = run.scenario.strategy.name
    deployments = run.deployments
    shown = deployments[in_window(deployments["finished_hours"], run) & (deployments["rolled_out"].astype(bool) | deployments["canary_failed"].astype(bool))]
    deploy_rows = []
    started, finished = stamps(shown["started_hours"]), stamps(shown["finished_hours"])
    for row, start, finish in zip(shown.itertuples(index=False), started, finished):
        ids = [int(x) for x in str(row.change_ids).split()] if isinstance(row.change_ids, str) and row.change_ids.strip() else []
        sha = commit_id(ids[-1]) if ids else commit_id(0)
        success = bool(row.rolled_out)
        deploy_rows.append({
            "id": f"trunksim:deployment:{int(row.deployment_id)}:https://example.invalid/team/service",
            "cicd_scope_id": "trunksim:scope:1", "cicd_deployment_id": f"trunksim:deployment:{int(row.deployment_id)}",
            "name": f"deploy {row.source}", "result": "SUCCESS" if success else "FAILURE", "status": "DONE",
            "environment": "PRODUCTION", "created_date": start, "queued_date": start, "started_date": start,
            "finished_date": finish, "duration_sec": round((row.finished_hours - row.started_hours) * 3600.0, 3),
            "commit_sha": sha, "ref_name": row.source, "repo_id": "trunksim:repo:1",
            "repo_url": "https://example.invalid/team/service", "prev_success_deployment_commit_id": "",
        })
    changes = run.changes
    opened = changes[in_window(changes["submitted_hours"], run)]
    pr_rows = []
    created, merged = stamps(opened["submitted_hours"]), stamps(opened["merged_hours"])
    for row, create, merge in zip(opened.itertuples(index=False), created, merged):
        pr_rows.append({
            "id": f"trunksim:pr:{int(row.change_id)}", "base_repo_id": "trunksim:repo:1", "head_repo_id": "trunksim:repo:1",
            "status": "MERGED" if merge else "OPEN", "original_status": "closed" if merge else "open",
            "title": f"{row.kind} change {int(row.change_id)}", "url": "", "author_name": author_name(row.author),
            "author_id": f"trunksim:account:{int(row.author)}", "pull_request_key": int(row.change_id),
            "created_date": create, "merged_date": merge, "closed_date": merge, "type": str(row.kind),
            "merge_commit_sha": commit_id(row.change_id) if merge else "", "head_ref": head_name(row, strategy),
            "base_ref": str(row.target), "base_commit_sha": "", "head_commit_sha": "",
        })
    for k, cut, merged_hours, _ in release_promotions(run):
        create, merge = stamps([cut, merged_hours])
        pr_rows.append({
            "id": f"trunksim:pr:release-{k}", "base_repo_id": "trunksim:repo:1", "head_repo_id": "trunksim:repo:1",
            "status": "MERGED", "original_status": "closed", "title": f"release {k}", "url": "",
            "author_name": "release-manager", "author_id": "trunksim:account:release", "pull_request_key": 900_000 + k,
            "created_date": create, "merged_date": merge, "closed_date": merge, "type": "release",
            "merge_commit_sha": "", "head_ref": f"release/{k}", "base_ref": "main", "base_commit_sha": "", "head_commit_sha": "",
        })
    incidents = run.incidents
    seen = incidents[(incidents["source"] == "production") & in_window(incidents["detected_hours"], run)]
    issue_rows = []
    created, resolved = stamps(seen["detected_hours"]), stamps(seen["restored_hours"])
    for row, create, resolve in zip(seen.itertuples(index=False), created, resolved):
        issue_rows.append({
            "id": f"trunksim:incident:{int(row.incident_id)}", "url": "", "issue_key": str(int(row.incident_id)),
            "title": f"production failure {int(row.incident_id)}", "type": "INCIDENT", "original_type": "incident",
            "status": "DONE" if resolve else "IN_PROGRESS", "original_status": "closed" if resolve else "open",
            "created_date": create, "updated_date": resolve or create, "resolution_date": resolve, "lead_time_minutes": "",
            "priority": "", "severity": str(int(row.severity)), "creator_name": "monitoring", "assignee_name": "",
        })
    return {"cicd_deployment_commits": deploy_rows, "pull_requests": pr_rows, "issues": issue_rows}


def history_from_run(run: "Run") -> History:
    """The run read back as a DevLake history (the same parsing as files)."""
    from trunksim.calibrate.formats.fourkeys import window_of
    from trunksim.calibrate.history import merge

    parts = []
    for table, records in records_from_run(run).items():
        part = parse(table, list(enumerate(records, start=2)), f"<simulated {table}>", COLUMNS[table])
        part.sources.append(SourceFile(f"<simulated {table}>", KIND, table, len(records)))
        parts.append(part)
    history = merge(parts)
    history.since, history.now = window_of(run)
    return history


def write(records: dict[str, list[dict[str, Any]]], folder: str | Path) -> list[Path]:
    """Write DevLake records as ``<table>.csv`` atomically; returns the paths."""
    from trunksim.io import write_csv

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    return [write_csv(pd.DataFrame(rows, columns=list(COLUMNS[table])), out / f"{table}.csv") for table, rows in records.items()]


__all__ = ["COLUMNS", "KIND", "NEEDED", "history_from_run", "parse", "read", "records_from_run", "table_of", "write"]

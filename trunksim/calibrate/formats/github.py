"""GitHub's own exports with the ``gh`` command line: pull requests and workflow runs.

Make them with::

    gh pr list --state all --limit 2000 --json number,createdAt,mergedAt,closedAt,additions,deletions,headRefName,baseRefName,author,reviews > prs.json
    gh run list --limit 5000 --json databaseId,createdAt,startedAt,updatedAt,conclusion,status,workflowName,headBranch > runs.json

Both print a JSON array of objects; a file is recognised by its fields (``number`` and
``mergedAt``: pull requests; ``databaseId`` and ``workflowName``: runs). Read:

* **pull requests**: needed ``number``, ``createdAt``, ``mergedAt`` (null: not merged),
  ``baseRefName``, ``headRefName``; ``additions + deletions`` is the size, ``author.login``
  the author, ``reviews[].submittedAt`` by someone else than the author gives the first
  review, and 1 + the reviews in state ``CHANGES_REQUESTED`` the review rounds.
* **workflow runs**: all eight fields are needed. Runs whose ``status`` is not
  ``completed`` are left out. A run of a workflow whose name matches the deployment
  pattern (:data:`DEPLOY_WORKFLOW`, case-insensitive: ``deploy``, ``production``,
  ``prod``, ``cd``; the caller may give another) is a production deployment
  (``startedAt`` → ``updatedAt``, success = ``conclusion`` success); every other run is a
  CI run (queued at ``createdAt``, ran ``startedAt`` → ``updatedAt``).

A pull request is linked to the first successful deployment of its base branch started
after its merge, or, for a base that is not deployed (``develop``), to the deployment of
the first pull request from that branch (or a ``release/*`` branch) into a deployed
branch opened after it (:mod:`trunksim.calibrate.linking`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import numpy as np
import pandas as pd

from trunksim.calibrate.formats.common import author_name, head_name, in_window, release_promotions, stamps
from trunksim.calibrate.history import CalibrationInputError, History, SourceFile, conform
from trunksim.calibrate.parsing import Rows, check_order, is_null, json_array_rows, numbers, read_text, require_fields, texts, times

if TYPE_CHECKING:  # pragma: no cover
    from trunksim.tables import Run

PR_KIND = "gh-pr"
RUN_KIND = "gh-run"

PR_FIELDS: tuple[str, ...] = (
    "number", "createdAt", "mergedAt", "closedAt", "additions", "deletions", "headRefName", "baseRefName", "author", "reviews",
)
"""The fields ``gh pr list --json`` is asked for."""
PR_NEEDED: tuple[str, ...] = ("number", "createdAt", "mergedAt", "baseRefName", "headRefName")
"""The pull-request fields a calibration cannot do without."""

RUN_FIELDS: tuple[str, ...] = ("databaseId", "createdAt", "startedAt", "updatedAt", "conclusion", "status", "workflowName", "headBranch")
"""The fields ``gh run list --json`` is asked for (all needed)."""

DEPLOY_WORKFLOW = r"deploy|production|\bprod\b|\bcd\b"
"""Workflow names read as production deployments (case-insensitive regular expression)."""

FAILED = frozenset({"failure", "timed_out", "startup_failure"})
"""Run conclusions that are failures."""


def kind_of(rows: Rows) -> Optional[str]:
    """``gh-pr`` or ``gh-run`` from the fields of the first object, or None."""
    if not rows:
        return None
    keys = set(rows[0][1])
    if {"number", "mergedAt"} <= keys or {"number", "createdAt", "baseRefName"} <= keys:
        return PR_KIND
    if {"databaseId", "workflowName"} <= keys:
        return RUN_KIND
    return None


def _login(value: Any) -> Optional[str]:
    if isinstance(value, dict):
        value = value.get("login") or value.get("name")
    return None if is_null(value) else str(value)


def parse_prs(rows: Rows, file: str) -> History:
    """``gh pr list --json ...`` records → a history of changes."""
    require_fields(rows, PR_NEEDED, file, "gh pr list --json")
    opened = times(rows, "createdAt", file)
    merged = times(rows, "mergedAt", file, required=False)
    check_order(rows, opened, merged, "createdAt", "mergedAt", file)
    first_review, rounds = [], []
    for (where, record), author in zip(rows, (_login(r.get("author")) for _, r in rows)):
        reviews = record.get("reviews") or []
        if not isinstance(reviews, list):
            raise CalibrationInputError("is not a JSON array of reviews", file, where, "reviews")
        stamps_ = []
        requested = 0
        for index, review in enumerate(reviews):
            if not isinstance(review, dict):
                raise CalibrationInputError("is not a review object", file, where, f"reviews[{index}]")
            if _login(review.get("author")) == author and author is not None:
                continue
            if str(review.get("state", "")).upper() == "CHANGES_REQUESTED":
                requested += 1
            if not is_null(review.get("submittedAt")):
                stamps_.append((index, review.get("submittedAt")))
        if stamps_:
            parsed = times([(where, {"submittedAt": s}) for _, s in stamps_], "submittedAt", file)
            first_review.append(parsed.min())
        else:
            first_review.append(pd.NaT)
        rounds.append(1 + requested if reviews else np.nan)
    lines = pd.Series(np.nan, index=range(len(rows)))
    if rows and all("additions" in r and "deletions" in r for _, r in rows):
        lines = numbers(rows, "additions", file) + numbers(rows, "deletions", file)
    frame = pd.DataFrame({
        "change_id": texts(rows, "number").map(lambda v: None if v is None else f"pr-{v}"),
        "author": pd.Series([_login(r.get("author")) for _, r in rows], dtype=object),
        "opened": opened,
        "first_review": pd.Series(pd.to_datetime(pd.Series(first_review, dtype=object), utc=True).array) if rows else pd.Series([], dtype="datetime64[ns, UTC]"),
        "merged": merged,
        "lines": lines,
        "base": texts(rows, "baseRefName"),
        "head": texts(rows, "headRefName"),
        "review_rounds": pd.Series(rounds, dtype=float),
        "source": PR_KIND,
    })
    history = History()
    history.changes = conform("changes", frame)
    return history


def parse_runs(rows: Rows, file: str, deploy_workflow: str = DEPLOY_WORKFLOW) -> History:
    """``gh run list --json ...`` records → a history of CI runs and deployments."""
    require_fields(rows, RUN_FIELDS, file, "gh run list --json")
    try:
        pattern = re.compile(deploy_workflow, re.IGNORECASE)
    except re.error as error:
        raise CalibrationInputError(f"the deployment workflow pattern {deploy_workflow!r} is not a regular expression ({error})") from None
    done = [row for row in rows if str(row[1].get("status", "")).lower() == "completed"]
    created = times(done, "createdAt", file)
    started = times(done, "startedAt", file)
    finished = times(done, "updatedAt", file)
    check_order(done, created, started, "createdAt", "startedAt", file)
    check_order(done, started, finished, "startedAt", "updatedAt", file)
    workflow = texts(done, "workflowName").fillna("")
    conclusion = texts(done, "conclusion").fillna("").str.lower()
    deploy = workflow.map(lambda name: bool(pattern.search(name))).to_numpy(dtype=bool) if len(done) else np.zeros(0, dtype=bool)
    frame = pd.DataFrame({
        "id": texts(done, "databaseId"), "created": created, "started": started, "finished": finished,
        "conclusion": conclusion, "branch": texts(done, "headBranch"), "workflow": workflow,
    })
    history = History()
    runs = frame[~deploy]
    history.ci_runs = conform("ci_runs", runs.rename(columns={"id": "run_id"}).assign(source=RUN_KIND))
    deploys = frame[deploy]
    history.deployments = conform("deployments", pd.DataFrame({
        "deploy_id": deploys["id"].to_numpy(), "started": deploys["started"].array, "finished": deploys["finished"].array,
        "success": (deploys["conclusion"] == "success").to_numpy(), "changes": None, "ref": deploys["branch"].to_numpy(),
        "source": RUN_KIND,
    }))
    return history


def read(path: str | Path, deploy_workflow: str = DEPLOY_WORKFLOW) -> History:
    """Read one ``gh pr list`` or ``gh run list`` JSON file (told apart by its fields)."""
    file = str(path)
    rows = json_array_rows(read_text(path), file)
    if not rows:
        raise CalibrationInputError("is an empty JSON array (no pull requests or runs: the history is empty)", file)
    kind = kind_of(rows)
    if kind is None:
        raise CalibrationInputError(
            f"item 1 has neither gh pr list fields ({', '.join(PR_NEEDED)}) nor gh run list fields ({', '.join(RUN_FIELDS)})", file
        )
    history = parse_prs(rows, file) if kind == PR_KIND else parse_runs(rows, file, deploy_workflow)
    history.sources.append(SourceFile(file, kind, "pull_requests" if kind == PR_KIND else "runs", len(rows)))
    return history


# -- a simulated run, as gh would print it ------------------------------------------------
def _release_prs(run: "Run") -> list[dict[str, Any]]:
    """GitFlow's release pull requests (``release/<n>`` into ``main``), one per release deployed."""
    rows = []
    for k, cut, merged_hours, lines in release_promotions(run):
        created, merged = stamps([cut, merged_hours])
        additions = int(round(lines * 0.75))
        rows.append({
            "number": 900_000 + k, "createdAt": created, "mergedAt": merged, "closedAt": merged,
            "additions": additions, "deletions": int(round(lines)) - additions,
            "headRefName": f"release/{k}", "baseRefName": "main", "author": {"login": "release-manager"}, "reviews": [],
        })
    return rows


def records_from_run(run: "Run") -> dict[str, list[dict[str, Any]]]:
    """The run's measured window as ``gh pr list`` and ``gh run list`` records: ``{"prs": [...], "runs": [...]}``."""
    strategy = run.scenario.strategy.name
    changes = run.changes
    opened = changes[in_window(changes["submitted_hours"], run)]
    reviewing = run.activity[run.activity["activity"] == "reviewing"].sort_values("end_hours")
    reviews_of: dict[int, list[tuple[float, int]]] = {}
    for developer, end, detail in zip(reviewing["developer"], reviewing["end_hours"], reviewing["detail"]):
        reviews_of.setdefault(int(detail), []).append((float(end), int(developer)))
    prs = []
    created, merged = stamps(opened["submitted_hours"]), stamps(opened["merged_hours"])
    for row, create, merge in zip(opened.itertuples(index=False), created, merged):
        done = reviews_of.get(int(row.change_id), [])
        rounds = int(row.review_rounds) if not pd.isna(row.review_rounds) else 1
        reviews = []
        for index, (end, developer) in enumerate(done):
            state = "APPROVED" if index == len(done) - 1 else ("CHANGES_REQUESTED" if index < rounds - 1 else "COMMENTED")
            reviews.append({"author": {"login": author_name(developer)}, "state": state, "submittedAt": stamps([end])[0]})
        additions = int(round(float(row.lines) * 0.75))
        prs.append({
            "number": int(row.change_id), "createdAt": create, "mergedAt": merge, "closedAt": merge,
            "additions": additions, "deletions": int(round(float(row.lines))) - additions,
            "headRefName": head_name(row, strategy), "baseRefName": str(row.target),
            "author": {"login": author_name(row.author)}, "reviews": reviews,
        })
    if strategy == "gitflow":
        prs.extend(_release_prs(run))
    heads = {int(r.change_id): head_name(r, strategy) for r in changes.itertuples(index=False)}
    ci = run.ci_runs[in_window(run.ci_runs["queued_hours"], run)]
    runs = []
    for row, create, start, finish in zip(ci.itertuples(index=False), stamps(ci["queued_hours"]), stamps(ci["started_hours"]), stamps(ci["finished_hours"])):
        if start is None or finish is None:
            continue
        branch = heads.get(int(row.change_id), row.branch) if row.purpose in ("pre_merge", "hotfix") else row.branch
        discarded = bool(getattr(row, "discarded", False))
        runs.append({
            "databaseId": int(row.run_id), "createdAt": create, "startedAt": start, "updatedAt": finish,
            "conclusion": "cancelled" if discarded else ("success" if row.outcome == "pass" else "failure"),
            "status": "completed", "workflowName": "CI", "headBranch": branch,
        })
    deployments = run.deployments[in_window(run.deployments["finished_hours"], run)]
    for row, start, finish in zip(deployments.itertuples(index=False), stamps(deployments["started_hours"]), stamps(deployments["finished_hours"])):
        runs.append({
            "databaseId": 50_000_000 + int(row.deployment_id), "createdAt": start, "startedAt": start, "updatedAt": finish,
            "conclusion": "success" if bool(row.rolled_out) else "failure", "status": "completed",
            "workflowName": "Deploy production", "headBranch": str(row.source),
        })
    runs.sort(key=lambda r: r["createdAt"])
    return {"prs": prs, "runs": runs}


def history_from_run(run: "Run") -> History:
    """The run read back as a gh history (the same parsing as files)."""
    from trunksim.calibrate.formats.fourkeys import window_of
    from trunksim.calibrate.history import merge

    records = records_from_run(run)
    prs = parse_prs([(f"item {i}", r) for i, r in enumerate(records["prs"], start=1)], "<simulated prs>")
    prs.sources.append(SourceFile("<simulated prs>", PR_KIND, "pull_requests", len(records["prs"])))
    runs = parse_runs([(f"item {i}", r) for i, r in enumerate(records["runs"], start=1)], "<simulated runs>")
    runs.sources.append(SourceFile("<simulated runs>", RUN_KIND, "runs", len(records["runs"])))
    history = merge([prs, runs])
    history.since, history.now = window_of(run)
    return history


def write(records: dict[str, list[dict[str, Any]]], folder: str | Path) -> list[Path]:
    """Write ``gh-prs.json`` and ``gh-runs.json`` (as gh prints them) atomically; returns the paths."""
    import json

    from trunksim.io import write_text

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    return [
        write_text(out / "gh-prs.json", json.dumps(records["prs"]) + "\n"),
        write_text(out / "gh-runs.json", json.dumps(records["runs"]) + "\n"),
    ]


__all__ = [
    "DEPLOY_WORKFLOW", "FAILED", "PR_FIELDS", "PR_KIND", "PR_NEEDED", "RUN_FIELDS", "RUN_KIND", "history_from_run", "kind_of",
    "parse_prs", "parse_runs", "read", "records_from_run", "write",
]

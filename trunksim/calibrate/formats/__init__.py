"""Readers of each source format, and the same formats written from a simulated run.

:func:`read_sources` reads files and folders of any mix of formats into one
:class:`~trunksim.calibrate.history.History`; each file's format is told by its name or
content:

=================================================== ====================================== ==========================
file                                                format                                 module
=================================================== ====================================== ==========================
``changes``/``deployments``/``incidents`` ``.csv``  Four Keys tables (``trunksim export``)  :mod:`.fourkeys`
or ``.jsonl``; ``metadata.json``
``cicd_deployment_commits``/``pull_requests``/      Apache DevLake domain layer             :mod:`.devlake`
``issues`` ``.csv``
a ``.json`` array of objects with ``number`` …      ``gh pr list --json ...``               :mod:`.github`
a ``.json`` array of objects with ``databaseId`` …  ``gh run list --json ...``              :mod:`.github`
text whose first line starts with ``>`` and a tab   ``git log`` in :data:`.gitlog.FORMAT`   :mod:`.gitlog`
=================================================== ====================================== ==========================

A folder stands for the files in it that have one of these shapes (a table given both as
CSV and JSON lines is read once, from the CSV). :func:`simulated_history` writes a run in
the formats a history was read from and reads it back, so the calibration measures the
simulation exactly as it measured the team.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence, Union

from trunksim.calibrate.formats import devlake, fourkeys, github, gitlog
from trunksim.calibrate.history import CalibrationInputError, History, merge
from trunksim.calibrate.linking import combine
from trunksim.calibrate.parsing import read_text

if TYPE_CHECKING:  # pragma: no cover
    from trunksim.tables import Run

PathLike = Union[str, "os.PathLike[str]"]

__all__ = ["devlake", "expand", "fourkeys", "github", "gitlog", "read_file", "read_sources", "simulated_history"]

_SUFFIXES = (".csv", ".jsonl", ".ndjson", ".json", ".log", ".txt")


def expand(paths: Iterable[PathLike]) -> list[Path]:
    """Files to read: each file as given, each folder's files of a known shape (sorted); CSV wins over JSON lines."""
    files: list[Path] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            inside = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in _SUFFIXES and not p.name.startswith("."))
            known = [p for p in inside if _known_name(p) or p.suffix.lower() in (".json", ".log", ".txt")]
            tables = {(fourkeys.table_of(p) or devlake.table_of(p)) for p in known if p.suffix.lower() == ".csv"}
            known = [p for p in known if not (p.suffix.lower() in (".jsonl", ".ndjson") and fourkeys.table_of(p) in tables)]
            known = [p for p in known if p.name.lower() != "calibration.json"]
            if not known:
                raise CalibrationInputError(
                    "holds no file of a known shape (Four Keys or DevLake CSV tables, gh JSON, a git log)", str(path)
                )
            files.extend(known)
        else:
            files.append(path)
    return files


def _known_name(path: Path) -> bool:
    return path.name.lower() == "metadata.json" or fourkeys.table_of(path) is not None or devlake.table_of(path) is not None


def read_file(path: PathLike, *, assume_utc: bool = False, deploy_workflow: str = github.DEPLOY_WORKFLOW) -> History:
    """Read one file of any known format (told by name, then by content)."""
    path = Path(path)
    file = str(path)
    name = path.name.lower()
    if name == "metadata.json":
        return fourkeys.read_metadata(path)
    if devlake.table_of(path) is not None and name.endswith(".csv"):
        return devlake.read(path, assume_utc=assume_utc)
    if fourkeys.table_of(path) is not None and name.endswith((".csv", ".jsonl", ".ndjson")):
        return fourkeys.read(path, assume_utc=assume_utc)
    text = read_text(path)
    if name.endswith(".json") or text.lstrip().startswith("["):
        if fourkeys.table_of(path) is not None:
            return fourkeys.read(path, assume_utc=assume_utc)
        return github.read(path, deploy_workflow=deploy_workflow)
    if gitlog.looks_like(text):
        return gitlog.read(path)
    raise CalibrationInputError(
        "cannot tell what this file is (expected Four Keys changes/deployments/incidents .csv/.jsonl, DevLake "
        "cicd_deployment_commits/pull_requests/issues .csv, gh pr/run list JSON, or a git log made with: "
        f"{gitlog.COMMAND})", file,
    )


def read_sources(
    paths: Union[PathLike, Sequence[PathLike]], *, assume_utc: bool = False, deploy_workflow: str = github.DEPLOY_WORKFLOW
) -> History:
    """Read every file (folders expanded) into one history, joined (:func:`trunksim.calibrate.linking.combine`).

    Raises
    ------
    CalibrationInputError
        For the first problem met: file, line or row, column.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files = expand(paths)
    if not files:
        raise CalibrationInputError("no file given (give Four Keys, DevLake, gh or git log files, or folders holding them)")
    return combine(merge(read_file(f, assume_utc=assume_utc, deploy_workflow=deploy_workflow) for f in files))


def simulated_history(run: "Run", like: History) -> History:
    """A simulated run written in the formats (and tables) ``like`` was read from, read back and joined."""
    shown = {(s.kind, s.table) for s in like.sources}
    kinds = {kind for kind, _ in shown}
    parts = []
    if "fourkeys" in kinds:
        part = fourkeys.history_from_run(run)
        tables = {t for k, t in shown if k == "fourkeys"}
        for table in ("changes", "deployments", "incidents"):
            if table not in tables:
                setattr(part, table, History().table(table))
        parts.append(part)
    if "devlake" in kinds:
        part = devlake.history_from_run(run)
        tables = {t for k, t in shown if k == "devlake"}
        for table, attribute in (("cicd_deployment_commits", "deployments"), ("pull_requests", "changes"), ("issues", "incidents")):
            if table not in tables:
                setattr(part, attribute, History().table(attribute))
        parts.append(part)
    if kinds & {github.PR_KIND, github.RUN_KIND}:
        part = github.history_from_run(run)
        if github.PR_KIND not in kinds:
            part.changes = History().changes
        if github.RUN_KIND not in kinds:
            part.ci_runs, part.deployments = History().ci_runs, History().deployments
        parts.append(part)
    if gitlog.KIND in kinds:
        parts.append(gitlog.history_from_run(run))
    history = merge(parts)
    history.sources = list(like.sources)
    if like.since is None:  # measured like the team's: its window from the records too
        history.since = None
    if like.now is None:
        history.now = None
    return combine(history)

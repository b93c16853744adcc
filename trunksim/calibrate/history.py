"""A team's delivery history in one shape, whatever tool it came from.

Every reader (:mod:`trunksim.calibrate.formats`) turns its files into a
:class:`History`: up to five tables whose times are UTC timestamps (pandas
``datetime64[ns, UTC]``), with NaT/NaN where a source does not record something.

``changes``
    one row per change under review or landed: a pull request (``gh pr list``, DevLake
    ``pull_requests``), a Four Keys change (a commit), or a commit on main (``git log``).
    ``change_id``, ``author``, ``first_commit`` (coding started), ``opened`` (the pull
    request was opened), ``first_review`` (first review submitted), ``merged``,
    ``deployed`` (the first successful production deployment that carried it, where the
    source links changes to deployments), ``lines`` (added + deleted), ``base`` and
    ``head`` (branch names), ``review_rounds`` (1 + reviews asking for changes) and
    ``source`` (the reader).
``deployments``
    one row per production deployment: ``deploy_id``, ``started``, ``finished``,
    ``success`` (bool), ``changes`` (a tuple of ``change_id``, or None where the source
    does not list them), ``ref`` (the branch deployed), ``commit`` (the commit deployed,
    where known) and ``source``.
``incidents``
    ``incident_id``, ``created``, ``resolved`` (NaT while open), ``changes`` (root-cause
    change ids, or None) and ``source``.
``ci_runs``
    ``run_id``, ``created``, ``started``, ``finished``, ``conclusion`` (``success``,
    ``failure``, ...), ``branch``, ``workflow``, ``source``.
``commits``
    the first-parent history of the main branch (``git log``): ``sha``, ``parents``
    (count), ``author``, ``authored``, ``committed``, ``lines``, ``subject``.

Problems in the input are raised as :class:`CalibrationInputError`, one clear line that
names the file, the line or row and the column.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

import numpy as np
import pandas as pd

UTC_DTYPE = "datetime64[ns, UTC]"

CHANGE_FIELDS: tuple[str, ...] = (
    "change_id", "author", "first_commit", "opened", "first_review", "merged", "deployed", "lines", "base", "head",
    "review_rounds", "source",
)
"""Columns of :attr:`History.changes`."""

DEPLOYMENT_FIELDS: tuple[str, ...] = ("deploy_id", "started", "finished", "success", "changes", "ref", "commit", "source")
"""Columns of :attr:`History.deployments`."""

INCIDENT_FIELDS: tuple[str, ...] = ("incident_id", "created", "resolved", "changes", "source")
"""Columns of :attr:`History.incidents`."""

CI_RUN_FIELDS: tuple[str, ...] = ("run_id", "created", "started", "finished", "conclusion", "branch", "workflow", "source")
"""Columns of :attr:`History.ci_runs`."""

COMMIT_FIELDS: tuple[str, ...] = ("sha", "parents", "author", "authored", "committed", "lines", "subject", "source")
"""Columns of :attr:`History.commits`."""

FIELDS: dict[str, tuple[str, ...]] = {
    "changes": CHANGE_FIELDS,
    "deployments": DEPLOYMENT_FIELDS,
    "incidents": INCIDENT_FIELDS,
    "ci_runs": CI_RUN_FIELDS,
    "commits": COMMIT_FIELDS,
}
"""Every table of a history and its columns."""

TIME_FIELDS: frozenset[str] = frozenset(
    {"first_commit", "opened", "first_review", "merged", "deployed", "started", "finished", "created", "resolved", "authored", "committed"}
)
"""The columns holding UTC timestamps."""

MIN_CHANGES = 10
"""Fewer changes than this and nothing can be estimated: the history is refused, changes."""
MIN_DAYS = 14.0
"""A history spanning fewer days than this is refused (no weekly pattern can be seen), days."""
SHORT_CHANGES = 30
"""Below this many changes a history is *too short to say*: the report warns, changes."""
SHORT_WEEKS = 5.0
"""Below this many weeks a history is *too short to say*: the report warns, weeks."""
SHORT_EVENTS = 5
"""A rate or median resting on fewer events than this (incidents, failed deployments) is not judged, events."""


class CalibrationInputError(ValueError):
    """Input a calibration cannot use; the message is one line naming file, line or row, and column.

    Parameters
    ----------
    message : str
        What is wrong and what is allowed.
    file : str, optional
        The file, or a short description of several.
    line : int, optional
        1-based line (CSV lines count the header as line 1; JSON arrays name the item).
    column : str, optional
        The column or field.
    """

    def __init__(self, message: str, file: Optional[str] = None, line: Optional[int | str] = None, column: Optional[str] = None) -> None:
        self.file, self.line, self.column, self.problem = file, line, column, message
        where = ""
        if file is not None:
            where = str(file)
            if line is not None:
                where += f":{line}" if isinstance(line, int) else f": {line}"
            where += ": "
        if column is not None:
            where += f"{column}: "
        super().__init__(" ".join(f"{where}{message}".split()))


_EMPTY: dict[str, pd.DataFrame] = {}


def empty_table(name: str) -> pd.DataFrame:
    """An empty table of a history with the right columns and time dtypes."""
    if name not in _EMPTY:
        columns = {}
        for column in FIELDS[name]:
            if column in TIME_FIELDS:
                columns[column] = pd.Series([], dtype=UTC_DTYPE)
            elif column in ("lines", "review_rounds", "parents"):
                columns[column] = pd.Series([], dtype=float)
            else:
                columns[column] = pd.Series([], dtype=object)
        _EMPTY[name] = pd.DataFrame(columns)
    return _EMPTY[name].copy()


def conform(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with exactly the columns of table ``name`` (missing ones added empty), time columns in UTC."""
    n = len(frame)
    columns: dict[str, object] = {}
    for column in FIELDS[name]:
        if column in frame:
            values = frame[column]
            if column in TIME_FIELDS:
                if str(values.dtype) != UTC_DTYPE:
                    values = pd.to_datetime(values, utc=True).astype(UTC_DTYPE)
                columns[column] = values.array
            else:
                columns[column] = values.to_numpy()
        elif column in TIME_FIELDS:
            columns[column] = pd.array([pd.NaT] * n, dtype=UTC_DTYPE)
        elif column in ("lines", "review_rounds", "parents"):
            columns[column] = np.full(n, np.nan)
        else:
            columns[column] = np.array([None] * n, dtype=object)
    return pd.DataFrame(columns, index=pd.RangeIndex(n))


@dataclass
class SourceFile:
    """One file read: where, what it was read as, and how many rows it gave."""

    path: str
    kind: str  # fourkeys, devlake, gh-pr, gh-run, git-log
    table: str
    rows: int


@dataclass
class History:
    """A delivery history: the five tables (see the module docstring) and what they came from.

    Attributes
    ----------
    changes, deployments, incidents, ci_runs, commits : pandas.DataFrame
        The tables, UTC timestamps.
    sources : list of SourceFile
        The files read.
    since, now : pandas.Timestamp, optional
        The window the records cover, when a source states it (a trunksim export's
        ``metadata.json``); otherwise it is taken from the records (:meth:`window`).
    """

    changes: pd.DataFrame = field(default_factory=lambda: empty_table("changes"))
    deployments: pd.DataFrame = field(default_factory=lambda: empty_table("deployments"))
    incidents: pd.DataFrame = field(default_factory=lambda: empty_table("incidents"))
    ci_runs: pd.DataFrame = field(default_factory=lambda: empty_table("ci_runs"))
    commits: pd.DataFrame = field(default_factory=lambda: empty_table("commits"))
    sources: list[SourceFile] = field(default_factory=list)
    since: Optional[pd.Timestamp] = None
    now: Optional[pd.Timestamp] = None

    @property
    def kinds(self) -> tuple[str, ...]:
        """The source kinds read, in order of first appearance."""
        return tuple(dict.fromkeys(s.kind for s in self.sources))

    def table(self, name: str) -> pd.DataFrame:
        """One table by name."""
        return getattr(self, name)

    def window(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """The period the records cover: ``(start, end)``.

        ``since``/``now`` where a source states them; otherwise from the first to the
        last event of the records. The start is the first deployment, incident, CI run,
        pull request opened or merged, or commit landed on main; first commits and author
        dates are left out of the start (an export lists old commits that a change or a
        deployment in the window carries).
        """
        starts: list[pd.Timestamp] = []
        ends: list[pd.Timestamp] = []
        for name, begin, finish in (
            ("deployments", ("finished",), ("finished",)),
            ("incidents", ("created",), ("created", "resolved")),
            ("ci_runs", ("created",), ("created", "finished")),
            ("changes", ("opened", "merged"), ("opened", "merged", "deployed", "first_review", "first_commit")),
            ("commits", ("committed",), ("committed",)),
        ):
            frame = self.table(name)
            for columns, into in ((begin, starts), (finish, ends)):
                for column in columns:
                    values = frame[column].dropna()
                    if len(values):
                        into.append(values.min() if into is starts else values.max())
        if not starts:  # Four Keys changes alone: their commit times
            values = self.changes["first_commit"].dropna()
            if len(values):
                starts.append(values.min())
        start = self.since if self.since is not None else (min(starts) if starts else pd.NaT)
        end = self.now if self.now is not None else (max(ends) if ends else pd.NaT)
        return start, end

    def span_days(self) -> float:
        """Days between the window's start and end (NaN when there are no records)."""
        start, end = self.window()
        if pd.isna(start) or pd.isna(end):
            return math.nan
        return (end - start).total_seconds() / 86_400.0

    def describe(self) -> str:
        """One line: rows per table and the span."""
        counts = ", ".join(f"{len(self.table(n)):,} {n.replace('_', ' ')}" for n in FIELDS if len(self.table(n)))
        return f"{counts or 'no rows'} over {self.span_days():.1f} days"


def merge(parts: Iterable[History]) -> History:
    """One history from several (files of several tools): tables concatenated, rows with a repeated id dropped.

    A row whose id already came from an earlier part of the same source kind is left out
    (the same table given as CSV and as JSON lines, say).
    """
    parts = list(parts)
    merged = History()
    keys = {"changes": "change_id", "deployments": "deploy_id", "incidents": "incident_id", "ci_runs": "run_id", "commits": "sha"}
    for name, key in keys.items():
        frames = [p.table(name) for p in parts if len(p.table(name))]
        if frames:
            frame = pd.concat(frames, ignore_index=True)
            frame = frame.drop_duplicates(subset=[key, "source"], keep="first").reset_index(drop=True)
            setattr(merged, name, conform(name, frame))
    for part in parts:
        merged.sources.extend(part.sources)
        if part.since is not None:
            merged.since = part.since if merged.since is None else min(merged.since, part.since)
        if part.now is not None:
            merged.now = part.now if merged.now is None else max(merged.now, part.now)
    return merged


def describe_files(sources: Iterable[SourceFile]) -> str:
    """The files of a history, for a message that concerns all of them."""
    names = list(dict.fromkeys(Path(s.path).name for s in sources))
    if not names:
        return "<no files>"
    return ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")

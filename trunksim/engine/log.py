"""The event log: plain rows appended by the processes, turned into DataFrames at the end.

Rows are tuples in the column order below (columnar and cheap to append); nothing is
aggregated here. Metrics (:mod:`trunksim.metrics`) are pure functions of these tables.
All times are simulation hours since Monday 00:00 of week 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from trunksim.engine.entities import Change, Feature
from trunksim.tables import STAGES

CI_RUN_COLUMNS = ("run_id", "change_id", "branch", "purpose", "attempt", "queued_hours", "started_hours", "finished_hours", "outcome")
"""One row per CI run. ``purpose``: pre_merge, post_merge, hotfix. ``outcome``: pass, fail (real), flaky (spurious)."""

DEPLOYMENT_COLUMNS = (
    "deployment_id", "source", "kind", "started_hours", "finished_hours", "changes", "new_changes",
    "rolled_out", "canary_failed", "rolled_back", "rolled_back_hours", "change_ids",
)
"""One row per production deployment. ``kind``: regular or hotfix (unplanned, to restore service)."""

INCIDENT_COLUMNS = (
    "incident_id", "deployment_id", "change_id", "severity", "source", "started_hours", "detected_hours",
    "restored_hours", "restored_by", "responder",
)
"""One row per production failure; ``source`` is production or canary; unrestored ones have NaN restore time."""

ACTIVITY_COLUMNS = ("developer", "activity", "start_hours", "end_hours", "working_hours", "detail")
"""One row per stretch of developer time. ``activity``: coding, reviewing, rework, triage_real, triage_flaky,
conflict, red_branch, revert, incident, fix, waiting (idle working hours: nothing they were allowed to pick up)."""

MERGE_COLUMNS = ("change_id", "target", "time_hours", "lines", "lines_landed_since_sync", "conflict", "breaks_build")
"""One row per merge attempt (after the branch synced with its target)."""

BRANCH_COLUMNS = ("branch", "red_from_hours", "green_at_hours", "cause")
"""One row per period a long-lived branch was red (post-merge CI failing)."""

CHANGE_COLUMNS = (
    "change_id", "feature_id", "author", "kind", "target", "lines", "defects", "created_hours", "first_commit_hours",
    "submitted_hours", "merged_hours", "deployed_hours", "deployment_id", "state", "review_rounds", "ci_runs",
    "conflicts", "flagged",
) + tuple(f"stage_{s}_hours" for s in STAGES)
"""One row per change born. ``state``: deployed, in_flight or abandoned."""

FEATURE_COLUMNS = ("feature_id", "developer", "effort_hours", "lines", "defects", "changes", "started_hours", "completed_hours")
"""One row per feature started."""


class EventLog:
    """Append-only tables of one replication."""

    def __init__(self) -> None:
        self.ci_runs: list[tuple] = []
        self.deployments: list[tuple] = []
        self.incidents: list[tuple] = []
        self.activity: list[tuple] = []
        self.merges: list[tuple] = []
        self.branch_status: list[tuple] = []
        self.changes: list[Change] = []
        self.features: list[Feature] = []

    def change_columns(self) -> dict[str, list]:
        """The change table, column by column, taken from the change records at the end of the run.

        Built by columns rather than rows so a big run does not hold a tuple per change.
        """
        columns: dict[str, list] = {name: [] for name in CHANGE_COLUMNS}
        stage_columns = [columns[f"stage_{s}_hours"] for s in STAGES]
        fields = (
            ("change_id", lambda c: c.change_id), ("feature_id", lambda c: c.feature.feature_id if c.feature else -1),
            ("author", lambda c: c.author), ("kind", lambda c: c.kind), ("target", lambda c: c.target),
            ("lines", lambda c: c.lines), ("defects", lambda c: len(c.defects)), ("created_hours", lambda c: c.created),
            ("first_commit_hours", lambda c: c.first_commit), ("submitted_hours", lambda c: c.submitted),
            ("merged_hours", lambda c: c.merged), ("deployed_hours", lambda c: c.deployed),
            ("deployment_id", lambda c: c.deployment_id),
            ("state", lambda c: "abandoned" if c.abandoned else ("deployed" if c.deployed >= 0 else "in_flight")),
            ("review_rounds", lambda c: c.review_rounds), ("ci_runs", lambda c: c.ci_runs),
            ("conflicts", lambda c: c.conflicts), ("flagged", lambda c: c.flagged),
        )
        for name, get in fields:
            column = columns[name]
            column.extend(get(c) for c in self.changes)
        for i, column in enumerate(stage_columns):
            column.extend(c.stage_hours[i] for c in self.changes)
        return columns

    def feature_rows(self) -> list[tuple]:
        """The feature table rows."""
        return [
            (f.feature_id, f.developer, f.effort_hours, f.lines, len(f.defects), len(f.changes), f.started, f.completed)
            for f in self.features
        ]

    def frames(self) -> dict[str, pd.DataFrame]:
        """Every table as a DataFrame; missing times (-1) become NaN.

        The appended rows are released table by table as their frame is built, so a
        big run does not hold its log twice; call it once, at the end of the run.
        """
        tables = {
            "changes": (lambda: self.change_columns(), CHANGE_COLUMNS),
            "features": (lambda: self.feature_rows(), FEATURE_COLUMNS),
            "ci_runs": (lambda: self.ci_runs, CI_RUN_COLUMNS),
            "deployments": (lambda: self.deployments, DEPLOYMENT_COLUMNS),
            "incidents": (lambda: self.incidents, INCIDENT_COLUMNS),
            "activity": (lambda: self.activity, ACTIVITY_COLUMNS),
            "merges": (lambda: self.merges, MERGE_COLUMNS),
            "branch_status": (lambda: self.branch_status, BRANCH_COLUMNS),
        }
        frames = {}
        for name, (rows_of, columns) in tables.items():
            rows = rows_of()
            if isinstance(rows, dict):
                frame = pd.DataFrame(rows, columns=list(columns))
            else:
                frame = pd.DataFrame.from_records(rows, columns=list(columns))
            del rows
            if isinstance(getattr(self, name, None), list) and name not in ("changes", "features"):
                getattr(self, name).clear()
            for column in columns:
                if column.endswith("_hours") and column in frame:
                    values = frame[column].to_numpy(dtype=float)
                    frame[column] = np.where(values >= 0, values, np.nan)
            frames[name] = frame
        return frames

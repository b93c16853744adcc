"""The event log: plain rows appended by the processes, turned into DataFrames at the end.

Rows are tuples in the column order below (columnar and cheap to append); nothing is
aggregated here. Metrics (:mod:`trunksim.metrics`) are pure functions of these tables.
All times are simulation hours since Monday 00:00 of week 0.
"""

from __future__ import annotations

import pandas as pd

from trunksim.engine.entities import STAGES, Change, Feature

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

    def change_rows(self) -> list[tuple]:
        """The change table rows, taken from the change records at the end of the run."""
        rows = []
        for c in self.changes:
            if c.abandoned:
                state = "abandoned"
            elif c.deployed >= 0:
                state = "deployed"
            else:
                state = "in_flight"
            stages = tuple(c.stage_hours)
            rows.append(
                (
                    c.change_id, c.feature.feature_id if c.feature else -1, c.author, c.kind, c.target, c.lines,
                    len(c.defects), c.created, c.first_commit, c.submitted, c.merged, c.deployed, c.deployment_id,
                    state, c.review_rounds, c.ci_runs, c.conflicts, c.flagged,
                )
                + stages
            )
        return rows

    def feature_rows(self) -> list[tuple]:
        """The feature table rows."""
        return [
            (f.feature_id, f.developer, f.effort_hours, f.lines, len(f.defects), len(f.changes), f.started, f.completed)
            for f in self.features
        ]

    def frames(self) -> dict[str, pd.DataFrame]:
        """Every table as a DataFrame; missing times (-1) become NaN."""
        tables = {
            "changes": (self.change_rows(), CHANGE_COLUMNS),
            "features": (self.feature_rows(), FEATURE_COLUMNS),
            "ci_runs": (self.ci_runs, CI_RUN_COLUMNS),
            "deployments": (self.deployments, DEPLOYMENT_COLUMNS),
            "incidents": (self.incidents, INCIDENT_COLUMNS),
            "activity": (self.activity, ACTIVITY_COLUMNS),
            "merges": (self.merges, MERGE_COLUMNS),
            "branch_status": (self.branch_status, BRANCH_COLUMNS),
        }
        frames = {}
        for name, (rows, columns) in tables.items():
            frame = pd.DataFrame.from_records(rows, columns=list(columns))
            for column in columns:
                if column.endswith("_hours") and column in frame:
                    frame[column] = frame[column].astype(float).where(frame[column].astype(float) >= 0)
            frames[name] = frame
        return frames

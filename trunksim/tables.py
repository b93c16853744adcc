"""The results contract: the event tables of one replication, their records, columns, dtypes and stages.

Everything that reads results (metrics, export, plotting, report) imports its
vocabulary from here, never from the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, NamedTuple, Optional

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd  # imported where a DataFrame is built: a batch worker never builds one

STAGES: tuple[str, ...] = ("coding", "review_wait", "review", "rework", "ci_queue", "ci", "merge_queue", "deploy_wait", "deploy")
"""Stages of a change's lead time, in the order a change usually passes them.

``coding`` runs from the first commit to the end of coding; ``rework`` holds fixing what
review, CI or a merge conflict found; ``ci`` includes a strategy's verification before
merge (GitFlow's hotfix QA); ``merge_queue`` is the wait in a merge queue, from joining it
to landing; ``deploy_wait`` runs from merge to the start of the
deployment that rolls the change out (for GitFlow it includes the release branch and
QA); ``deploy`` is that deployment's pipeline and canary. The stage hours of a delivered
change sum to its lead time.
"""

STAGE_INDEX: dict[str, int] = {stage: i for i, stage in enumerate(STAGES)}
"""Position of each stage in :data:`STAGES`."""



# -- records the engine appends, one per event ---------------------------------------
# Each is a NamedTuple: its field names are the table's columns, in order. Times are
# hours since the start of the run; a time that did not happen is recorded as -1 and
# becomes NaN in the table.


class CIRunRecord(NamedTuple):
    """One CI pipeline run."""

    run_id: int
    change_id: int  # -1 for a build of a long-lived branch
    branch: str
    purpose: str  # pre_merge, post_merge, hotfix, merge_queue
    attempt: int  # 0 for the first run, 1.. for automatic retries
    queued_hours: float
    started_hours: float
    finished_hours: float
    outcome: str  # pass, fail (real), flaky (spurious)
    discarded: bool = False  # a speculative merge-queue run whose result was thrown away


class MergeRecord(NamedTuple):
    """One merge attempt (after the branch synced with its target), or a back-merge."""

    change_id: int
    target: str
    time_hours: float
    lines: float
    lines_landed_since_sync: float
    conflict: int  # conflicts the change met so far (0 or more); for a back-merge 0 or 1
    breaks_build: bool


class ActivityRecord(NamedTuple):
    """One stretch of a developer's time."""

    developer: int
    activity: str  # coding, reviewing, rework, triage_real, triage_flaky, conflict, red_branch, revert, incident, fix, postmortem, reliability, waiting
    start_hours: float
    end_hours: float
    working_hours: float
    detail: int  # the change (or incident) worked on; -1 for none


class BranchStatusRecord(NamedTuple):
    """One period a long-lived branch was red (post-merge CI failing)."""

    branch: str
    red_from_hours: float
    green_at_hours: float  # NaN while still red at the end of the run
    cause: str  # breakage or flaky


class DeploymentRecord(NamedTuple):
    """One production deployment."""

    deployment_id: int
    source: str  # the branch deployed
    kind: str  # regular, or hotfix (unplanned, to restore service)
    started_hours: float
    finished_hours: float
    changes: int  # changes the artifact holds that were not in production
    new_changes: int  # of those, changes never deployed before
    rolled_out: bool
    canary_failed: bool
    rolled_back: bool
    rolled_back_hours: float
    change_ids: str  # space-separated


class IncidentRecord(NamedTuple):
    """One production failure (or a failure caught by a canary)."""

    incident_id: int
    deployment_id: int
    change_id: int
    severity: int  # 1 minor, 2 major, 3 critical
    source: str  # production, canary, misconfiguration (a live flag, no deployment), or downstream (organisations: a broken API contract failing in the services that call it)
    started_hours: float
    detected_hours: float
    restored_hours: float  # NaN while unrestored
    restored_by: str  # flag_off, rollback, fix_forward, ticket, canary_rollback, already_gone
    responder: int  # -1 when nobody was paged (a ticket, a canary)
    exposed_share: float  # share of users the failure reached: 1, or the canary's traffic share


class FreezeRecord(NamedTuple):
    """One period feature deployments were frozen by a fast error-budget burn."""

    start_hours: float
    end_hours: float  # NaN while still frozen at the end of the run
    burn_rate: float  # the burn rate that started the freeze, multiples of the budgeted rate


CI_RUN_COLUMNS: tuple[str, ...] = CIRunRecord._fields
"""Columns of the ``ci_runs`` table."""
MERGE_COLUMNS: tuple[str, ...] = MergeRecord._fields
"""Columns of the ``merges`` table."""
ACTIVITY_COLUMNS: tuple[str, ...] = ActivityRecord._fields
"""Columns of the ``activity`` table."""
BRANCH_COLUMNS: tuple[str, ...] = BranchStatusRecord._fields
"""Columns of the ``branch_status`` table."""
DEPLOYMENT_COLUMNS: tuple[str, ...] = DeploymentRecord._fields
"""Columns of the ``deployments`` table."""
INCIDENT_COLUMNS: tuple[str, ...] = IncidentRecord._fields
"""Columns of the ``incidents`` table."""
FREEZE_COLUMNS: tuple[str, ...] = FreezeRecord._fields
"""Columns of the ``freezes`` table."""

CHANGE_COLUMNS: tuple[str, ...] = (
    "change_id", "feature_id", "author", "kind", "target", "lines", "defects", "created_hours", "first_commit_hours",
    "submitted_hours", "merged_hours", "deployed_hours", "deployment_id", "state", "review_rounds", "ci_runs",
    "conflicts", "flagged", "remedies", "queued_hours",
) + tuple(f"stage_{s}_hours" for s in STAGES)
"""Columns of the ``changes`` table: one row per change born. ``kind``: feature, fix or hotfix;
``state``: deployed or in_flight; ``remedies``: for a fix or hotfix, who found the defect it
repairs (production, canary, qa; empty otherwise): a fix of a production or canary failure is
unplanned work (rework); ``queued_hours``: when it last joined a merge queue (NaN: never);
``stage_<stage>_hours``: lead-time hours spent in each stage."""

FEATURE_COLUMNS: tuple[str, ...] = (
    "feature_id", "developer", "effort_hours", "lines", "defects", "changes", "started_hours", "completed_hours",
    "flagged", "flag_released_hours", "flag_removed_hours",
)
"""Columns of the ``features`` table: one row per feature started (``effort_hours`` are working hours;
``flag_released_hours``/``flag_removed_hours``: when its flag went live and when its code was deleted, with the
flag lifecycle on; NaN otherwise)."""

COLUMNS: dict[str, tuple[str, ...]] = {
    "changes": CHANGE_COLUMNS,
    "features": FEATURE_COLUMNS,
    "deployments": DEPLOYMENT_COLUMNS,
    "incidents": INCIDENT_COLUMNS,
    "ci_runs": CI_RUN_COLUMNS,
    "activity": ACTIVITY_COLUMNS,
    "merges": MERGE_COLUMNS,
    "branch_status": BRANCH_COLUMNS,
    "freezes": FREEZE_COLUMNS,
}
"""Every table's columns, in order."""

_KINDS = {"int": "i", "float": "f", "str": "O", "bool": "b"}


def _dtypes(record: type) -> dict[str, str]:
    return {name: _KINDS[getattr(kind, '__forward_arg__', kind)] for name, kind in record.__annotations__.items()}


DTYPES: dict[str, dict[str, str]] = {
    "ci_runs": _dtypes(CIRunRecord),
    "merges": _dtypes(MergeRecord),
    "activity": _dtypes(ActivityRecord),
    "branch_status": _dtypes(BranchStatusRecord),
    "deployments": _dtypes(DeploymentRecord),
    "incidents": _dtypes(IncidentRecord),
    "freezes": _dtypes(FreezeRecord),
    "changes": {
        **{name: "i" for name in ("change_id", "feature_id", "author", "defects", "deployment_id", "review_rounds", "ci_runs", "conflicts")},
        **{name: "O" for name in ("kind", "target", "state", "remedies")},
        "flagged": "b",
        **{name: "f" for name in CHANGE_COLUMNS if name.endswith("_hours") or name == "lines"},
    },
    "features": {
        **{name: "i" for name in ("feature_id", "developer", "defects", "changes")},
        **{name: "f" for name in ("effort_hours", "lines", "started_hours", "completed_hours", "flag_released_hours", "flag_removed_hours")},
        "flagged": "b",
    },
}
"""Every column's NumPy dtype kind (``i`` integer, ``f`` float, ``b`` bool, ``O`` text): a
column's ``dtype.kind`` in a non-empty table. Columns ending in ``_hours`` are floats with
NaN for what did not happen."""

TABLES: tuple[str, ...] = (
    "changes", "features", "deployments", "incidents", "ci_runs", "activity", "merges", "branch_status", "freezes",
)
"""The event tables of a replication, by name."""


@dataclass
class Run:
    """The event tables of one replication.

    Every table is a DataFrame whose times are hours since the start of the run (Monday
    00:00 of week 0). Compute metrics with :func:`trunksim.metrics.compute_metrics`.

    Attributes
    ----------
    scenario : Scenario
        The scenario simulated.
    seed : int
        Root seed of the random streams.
    replication : int
        Replication index, 0-based.
    changes, features, deployments, incidents, ci_runs, activity, merges, branch_status, freezes : pandas.DataFrame
        The event tables. Each may be given as :class:`TableColumns` (the engine does):
        its DataFrame is then built the first time it is read.
    wall_seconds : float
        Real time the simulation took, seconds.
    developers : int
        Team size, people.
    integration_branch_name : str
        The branch changes merge into (``trunk``, ``main``, ``develop``); for an
        organisation of several repositories, :data:`EVERY_INTEGRATION_BRANCH`.
    units : dict of str to Run
        An organisation of several repositories (polyrepo): each repository's own run,
        by service name; the tables above are theirs put together (:func:`combine_runs`).
        Empty for one repository.
    developer_teams : tuple of str
        An organisation: the team of each developer, by developer index in the tables
        above. Empty for a one-team scenario.
    """

    scenario: Any  # the trunksim.scenario.schema.Scenario simulated (not imported: the contract is a leaf)
    seed: int
    replication: int
    changes: pd.DataFrame
    features: pd.DataFrame
    deployments: pd.DataFrame
    incidents: pd.DataFrame
    ci_runs: pd.DataFrame
    activity: pd.DataFrame
    merges: pd.DataFrame
    branch_status: pd.DataFrame
    freezes: pd.DataFrame
    wall_seconds: float
    developers: int
    integration_branch_name: str = "trunk"
    units: dict[str, "Run"] = field(default_factory=dict)
    developer_teams: tuple[str, ...] = ()

    @property
    def frames(self) -> dict[str, pd.DataFrame]:
        """Every event table by name."""
        return {name: getattr(self, name) for name in TABLES}


class TableColumns:
    """One event table as typed columns, turned into its DataFrame the first time the table is read.

    ``columns`` maps every column of the table, in :data:`COLUMNS` order, to a read-only
    NumPy array of its declared dtype (:data:`DTYPES`) or, for text, a list of strings.
    A :class:`Run` may hold a table this way: the metrics read the columns directly
    (:func:`raw_columns`), and the DataFrame is built only if something asks for
    ``run.<table>``. ``build``, if given, makes that DataFrame instead of
    ``pandas.DataFrame(columns)`` (a table without records: :func:`empty_columns`).
    """

    __slots__ = ("columns", "build")

    def __init__(self, columns: dict[str, Any], build: "Optional[Callable[[], pd.DataFrame]]" = None) -> None:
        for values in columns.values():
            if isinstance(values, np.ndarray):
                values.flags.writeable = False  # shared with readers until the frame is built
        self.columns = columns
        self.build = build

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def frame(self) -> pd.DataFrame:
        """The table as a DataFrame (its own copy of the columns); pandas is imported here, not before."""
        if self.build is not None:
            return self.build()
        import pandas as pd

        return pd.DataFrame(self.columns)


def empty_columns(name: str) -> dict[str, np.ndarray]:
    """The columns of table ``name`` without records, as the DataFrame pandas makes of no records holds them.

    ``pandas.DataFrame.from_records([], columns=...)`` gives every column the object
    dtype, then the ``_hours`` columns become float64
    (:func:`trunksim.engine.log.records_frame`): so are these arrays, and the metrics
    read the same (empty) columns from them as from that frame, without pandas.
    """
    return {
        column: np.empty(0, dtype=np.float64 if column.endswith("_hours") else object) for column in COLUMNS[name]
    }


class _Table:
    """A table attribute of :class:`Run`: a DataFrame, built from :class:`TableColumns` on first read."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, run: Any, owner: Any = None) -> Any:
        if run is None:
            return self
        value = run.__dict__[self.name]
        if isinstance(value, TableColumns):
            value = run.__dict__[self.name] = value.frame()
        return value

    def __set__(self, run: Any, value: Any) -> None:
        run.__dict__[self.name] = value


for _name in TABLES:
    setattr(Run, _name, _Table(_name))


def raw_columns(run: Run, name: str) -> "dict[str, Any] | None":
    """The typed columns of table ``name`` of ``run`` if its DataFrame has not been built (else None)."""
    value = run.__dict__.get(name)
    return value.columns if isinstance(value, TableColumns) else None


EVERY_INTEGRATION_BRANCH = "*"
"""``Run.integration_branch_name`` of an organisation of several repositories: each
repository's integration branch, named ``<service>/<branch>`` in ``branch_status``."""

_ID_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "changes": (("change_id", "change"), ("feature_id", "feature"), ("author", "developer"), ("deployment_id", "deployment")),
    "features": (("feature_id", "feature"), ("developer", "developer")),
    "deployments": (("deployment_id", "deployment"),),
    "incidents": (("incident_id", "incident"), ("deployment_id", "deployment"), ("change_id", "change"), ("responder", "developer")),
    "ci_runs": (("run_id", "run"), ("change_id", "change")),
    "activity": (("developer", "developer"),),
    "merges": (("change_id", "change"),),
}
"""Identifier columns renumbered when runs are put together, and which numbering each uses (-1 stays -1)."""

_NUMPY_KIND = {"i": "int64", "f": "float64", "b": "bool"}

_INCIDENT_ACTIVITIES = ("incident", "postmortem")
"""Activities whose ``detail`` is an incident id; every other ``detail`` is a change id (or -1)."""

_BRANCH_COLUMNS: dict[str, str] = {
    "changes": "target", "deployments": "source", "ci_runs": "branch", "merges": "target", "branch_status": "branch",
}
"""Branch-name columns prefixed with the repository's name when runs are put together."""


def combine_runs(runs: Mapping[str, Run], scenario: Any, developer_teams: tuple[str, ...]) -> Run:
    """Several repositories' runs of one replication as one organisation's run.

    Each table is the repositories' tables one after another (in ``runs`` order), with
    identifiers renumbered so they stay unique (repository *k*'s change 1 becomes
    1 + the changes of the repositories before it; likewise features, deployments,
    incidents, CI runs and developers; ``-1`` stays ``-1``; ``deployments.change_ids``
    and ``activity.detail`` — an incident for ``incident`` and ``postmortem`` time, else a
    change — follow theirs) and branch names prefixed with the repository's name
    (``web/trunk``). ``branch_status`` keeps each repository's integration branch only,
    so :data:`EVERY_INTEGRATION_BRANCH` reads the red share of every repository.
    """
    import pandas as pd

    first = next(iter(runs.values()))
    offsets = {"change": 0, "feature": 0, "deployment": 0, "incident": 0, "run": 0, "developer": 0}
    parts: dict[str, list[pd.DataFrame]] = {name: [] for name in TABLES}
    for unit, run in runs.items():
        sizes = {
            "change": len(run.changes), "feature": len(run.features), "deployment": len(run.deployments),
            "incident": len(run.incidents), "run": len(run.ci_runs), "developer": run.developers,
        }
        for name in TABLES:
            frame = getattr(run, name).copy()
            for column, numbering in _ID_COLUMNS.get(name, ()):
                values = frame[column].to_numpy()
                frame[column] = values + (values >= 0) * offsets[numbering]
            if name == "activity" and len(frame):
                detail = frame["detail"].to_numpy()
                shift = np.where(frame["activity"].isin(_INCIDENT_ACTIVITIES), offsets["incident"], offsets["change"])
                frame["detail"] = detail + (detail >= 0) * shift
            if name == "deployments" and len(frame):
                shift = offsets["change"]
                frame["change_ids"] = [" ".join(str(int(i) + shift) for i in str(ids).split()) for ids in frame["change_ids"]]
            if name == "branch_status":
                frame = frame[frame["branch"] == run.integration_branch_name]
            column = _BRANCH_COLUMNS.get(name)
            if column is not None and len(frame):
                frame[column] = unit + "/" + frame[column].astype(str)
            parts[name].append(frame)
        for key, size in sizes.items():
            offsets[key] += size
    frames = {name: pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(COLUMNS[name]))
              for name, frames in parts.items()}
    for name, frame in frames.items():
        for column, kind in DTYPES[name].items():
            if column in frame and kind in _NUMPY_KIND:
                frame[column] = frame[column].astype(_NUMPY_KIND[kind])
    return Run(
        scenario=scenario, seed=first.seed, replication=first.replication, **frames,
        wall_seconds=max(run.wall_seconds for run in runs.values()), developers=sum(run.developers for run in runs.values()),
        integration_branch_name=EVERY_INTEGRATION_BRANCH, units=dict(runs), developer_teams=developer_teams,
    )

"""The things the engine moves around: features, changes, defects, branches, deployments, incidents.

These are plain mutable records of the engine. Every timestamp is simulation time in
clock hours; efforts are working hours. Processes update them and append records to
the log (:mod:`trunksim.engine.log`); metrics read only the tables the log becomes
(:mod:`trunksim.tables`).
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Optional

from trunksim.tables import STAGE_INDEX, STAGES

_NO_STAGE_HOURS = array("d", [0.0] * len(STAGES))
"""A change's stage hours before it enters any stage (copied for every change)."""



@dataclass(slots=True, eq=False)
class Defect:
    """A latent fault. Its detection draws are fixed at birth (common random numbers).

    A stage detects the defect when its uniform draw falls below that stage's detection
    probability, so raising a probability can only find more defects.
    """

    defect_id: int
    feature_id: int
    position: float  # where in the feature's work it sits, [0, 1)
    severity: int  # 1 minor, 2 major, 3 critical
    review_u: float
    ci_u: float
    canary_u: float
    strategy_u: float  # reserved for a strategy's own finding stage (GitFlow's QA)
    time_to_failure_hours: float
    rollback_u: float = 1.0  # below incidents.irreversible_failure_share: rolling back does not cure its failure
    monitor_u: float = 0.0  # below incidents.monitoring_coverage: monitoring alerts on its failure
    performance: bool = False  # a performance regression: no test catches it, only users or a canary
    contract: bool = False  # an incompatible API change: only contract tests catch it; it fails in the callers
    change: Optional["Change"] = None
    found_by: str = ""  # "", review, ci, qa, canary, production
    found_at: float = -1.0
    fixed: bool = False  # the code is fixed (before merge, or a fix change merged)
    fix: Optional["Change"] = None  # the latest fix change written for it after merge, if any
    repaired: bool = False  # no longer in production: fixed before release, or its fix deployed
    live_token: int = 0  # bumped whenever the defect stops being live in production
    live_since: float = -1.0
    incident: Optional["Incident"] = None


@dataclass(slots=True, eq=False)
class Feature:
    """A unit of planned work drawn from the backlog."""

    feature_id: int
    effort_hours: float
    lines: float
    defects: list[Defect]
    developer: int = -1
    started: float = -1.0
    changes: list["Change"] = field(default_factory=list)
    planned_changes: int = 0
    flagged: bool = False
    flag_on: bool = False
    flag_on_at: float = -1.0
    completed: float = -1.0  # every change in production (and flag on, if flagged)
    flag_released: float = -1.0  # its flag first went on (went live), with the flag lifecycle on
    flag_removed: float = -1.0  # its flag's code was deleted
    area: int = -1  # a monorepo of several services: the service (index) it is in; -1 otherwise


@dataclass(slots=True, eq=False)
class Change:
    """What gets integrated: a commit on trunk or a pull request."""

    change_id: int
    feature: Optional[Feature]
    author: int
    kind: str  # feature, fix, hotfix
    effort_hours: float
    lines: float
    target: str  # branch it merges into
    defects: list[Defect] = field(default_factory=list)
    created: float = -1.0  # coding started
    first_commit: float = -1.0
    submitted: float = -1.0
    merged: float = -1.0
    deployed: float = -1.0  # the full rollout that put it in production for good (so far)
    deployment_id: int = -1
    coded_hours: float = 0.0
    synced_at: float = 0.0  # last time the branch took in its target
    ci_base_at: float = 0.0  # when the last CI run's base was taken
    merge_version: int = -1  # target branch version that took the merge
    in_production: bool = False
    deploying: bool = False
    current_deployment: Optional["Deployment"] = None
    landed_lines: float = 0.0  # lines landed on the target since the branch last synced, at the last sync
    breaks_build: bool = False
    review_rounds: int = 0
    ci_runs: int = 0
    conflicts: int = 0
    flagged: bool = False
    stage: str = ""
    stage_since: float = 0.0
    stage_hours: "array[float]" = field(default_factory=lambda: array("d", _NO_STAGE_HOURS))
    """Hours spent in each lead-time stage, in STAGES order (an array of doubles: no object per number,
    nothing for the garbage collector to scan)."""
    fixes: Optional[Defect] = None  # the defect a fix/hotfix change repairs
    area: int = -1  # a monorepo of several services: the service (index) it changes; -1 otherwise
    queued: float = -1.0  # last time it joined a merge queue

    def enter(self, stage: str, now: float) -> None:
        """Close the current stage at ``now`` and start ``stage`` (lead-time accounting).

        Stages are only counted from the first commit on, and stop at the first full
        rollout: after that the change's lead time is final.
        """
        if self.deployed >= 0 or self.first_commit < 0:
            return
        if self.stage:
            self.stage_hours[STAGE_INDEX[self.stage]] += now - self.stage_since
        self.stage = stage
        self.stage_since = now

    def uncredit(self) -> None:
        """The deployment that delivered this change was rolled back: it is not delivered any more.

        Lead-time accounting resumes as ``deploy_wait`` from the rollout that did not last.
        """
        if self.deployed < 0:
            return
        self.stage = "deploy_wait"
        self.stage_since = self.deployed
        self.deployed = -1.0
        self.deployment_id = -1

    @property
    def unfixed_defects(self) -> list[Defect]:
        """Defects in this change that no fix has repaired yet."""
        return [d for d in self.defects if not d.fixed]


class ChangeSet:
    """Changes in the order they were added, with O(1) membership, removal and last item.

    A branch's ``pending`` and ``broken_by`` can hold thousands of changes while a busy
    branch is red; a list made every merge, revert and deployment scan them.
    """

    __slots__ = ("_by_id",)

    def __init__(self, changes: Iterable["Change"] = ()) -> None:
        self._by_id: dict[int, Change] = {c.change_id: c for c in changes}

    def __iter__(self) -> Iterator["Change"]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, change: object) -> bool:
        return isinstance(change, Change) and self._by_id.get(change.change_id) is change

    def append(self, change: "Change") -> None:
        """Add a change at the end."""
        self._by_id[change.change_id] = change

    def extend(self, changes: Iterable["Change"]) -> None:
        """Add changes at the end, in order."""
        for change in changes:
            self._by_id[change.change_id] = change

    def prepend(self, changes: Iterable["Change"]) -> None:
        """Put changes first, in order (changes a rollback returned)."""
        first = {c.change_id: c for c in changes}
        first.update(self._by_id)
        self._by_id = first

    def remove(self, change: "Change") -> None:
        """Take a change out (KeyError if it is not there)."""
        del self._by_id[change.change_id]

    def discard_all(self, changes: Iterable["Change"]) -> None:
        """Take out those of ``changes`` that are here."""
        by_id = self._by_id
        for change in changes:
            if by_id.get(change.change_id) is change:
                del by_id[change.change_id]

    def last(self) -> Optional["Change"]:
        """The change added last, or None."""
        return next(reversed(self._by_id.values())) if self._by_id else None


@dataclass(slots=True, eq=False)
class Branch:
    """A long-lived branch: trunk/main, develop, a release branch.

    ``pending`` are the changes merged into it and not yet passed on (deployed, for the
    production branch; cut into a release, for GitFlow's develop); ``broken_by`` the
    merged changes that currently break its build; ``version`` counts its commits; ``merge_times``/``merge_lines_cumulative`` let the conflict model ask how
    much landed since a given instant.
    """

    name: str
    pending: ChangeSet = field(default_factory=ChangeSet)
    version: int = 0
    merge_times: list[float] = field(default_factory=list)
    merge_lines_cumulative: list[float] = field(default_factory=list)
    area_times: dict[int, list[float]] = field(default_factory=dict)  # a monorepo's services: merge times by service
    area_lines: dict[int, list[float]] = field(default_factory=dict)  # and cumulative lines by service
    green_version: int = 0
    built_version: int = 0
    red_since: float = -1.0
    red_cause: str = ""
    broken_by: ChangeSet = field(default_factory=ChangeSet)


@dataclass(slots=True, eq=False)
class Deployment:
    """An artifact rolled out to production."""

    deployment_id: int
    source: str
    kind: str  # regular, hotfix
    started: float
    changes: list[Change]
    new_changes: list[Change]
    finished: float = -1.0
    rolled_out: bool = False
    canary_failed: bool = False
    rolled_back: bool = False
    rolled_back_at: float = -1.0


@dataclass(slots=True, eq=False)
class Incident:
    """A production failure caused by a deployment."""

    incident_id: int
    defect: Defect
    deployment_id: int
    started: float
    detected: float = -1.0
    restored: float = -1.0
    restored_by: str = ""  # flag_off, rollback, fix_forward, canary_rollback
    responder: int = -1
    source: str = "production"  # production, canary, misconfiguration, or downstream (a broken API contract)
    exposed_share: float = 1.0  # share of users the failure reached (a canary's traffic share)

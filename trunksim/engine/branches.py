"""Branches and merge bookkeeping: the one place where commits land on a branch.

A branch counts its commits (``version``); the post-merge build process of a long-lived
branch waits on :meth:`Branches.commit_event` and builds each new head. Every way
code lands — a reviewed change (:meth:`Branches.merge`), a release merge
(:meth:`Branches.land`), a back-merge (:meth:`Branches.back_merge`), a revert or a fix
(:meth:`Branches.commit`) — goes through here, so the record of what landed when (which
the conflict model reads) is written once.
"""

from __future__ import annotations

from typing import Callable, Iterable, Optional

import simpy

from trunksim.engine.entities import Branch, Change
from trunksim.engine.log import EventLog
from trunksim.engine.merging import MergeModel, lines_landed_since
from trunksim.tables import MergeRecord


class Branches:
    """The branches of one replication.

    Parameters
    ----------
    env : simpy.Environment
        The simulation.
    log : EventLog
        Where merges are recorded.
    names : iterable of str
        The long-lived branches.
    post_merge : bool
        ``ci.post_merge``: a branch's head is green only once a post-merge build passes;
        otherwise every commit counts as green at once.
    merge_model : MergeModel
        Conflict and breakage probabilities.
    merge_u : callable
        The ``merge`` stream's uniform draws.
    """

    def __init__(
        self, env: simpy.Environment, log: EventLog, names: Iterable[str], post_merge: bool, merge_model: MergeModel,
        merge_u: Callable[[], float],
    ) -> None:
        self.env = env
        self.log = log
        self.post_merge = post_merge
        self.merge_model = merge_model
        self.merge_u = merge_u
        self.by_name: dict[str, Branch] = {name: Branch(name) for name in names}
        self._commit_events: dict[str, simpy.Event] = {}
        self.on_green: Callable[[Branch], None] = lambda branch: None
        """Called when a branch's head turns green (the deployer listens)."""
        self.neighbours: Optional[tuple[tuple[int, ...], ...]] = None
        """A monorepo of several services: for each service (index), the services whose merges race a change
        in it (itself, those it calls, those calling it); ``None``: every merge races every change."""

    def __getitem__(self, name: str) -> Branch:
        return self.by_name[name]

    def __contains__(self, name: str) -> bool:
        return name in self.by_name

    def values(self):
        """Every branch, long-lived first."""
        return self.by_name.values()

    def create(self, name: str) -> Branch:
        """A new branch (a release branch)."""
        branch = self.by_name[name] = Branch(name)
        return branch

    def remove(self, name: str, retarget_to: str) -> None:
        """Delete a branch; changes merged into it and headed for it now belong to ``retarget_to``."""
        for change in self.by_name.pop(name).pending:
            if change.target == name:
                change.target = retarget_to

    # -- commits -----------------------------------------------------------------------
    def commit_event(self, branch: Branch) -> simpy.Event:
        """An event that fires at the next commit on ``branch``."""
        event = self._commit_events.get(branch.name)
        if event is None or event.triggered:
            event = self._commit_events[branch.name] = self.env.event()
        return event

    def record_lines(self, branch: Branch, lines: float, area: int = -1) -> None:
        """Remember that ``lines`` landed on ``branch`` now (what the conflict model asks about).

        With services (``neighbours``) and a known ``area``, also by service.
        """
        now = self.env.now
        branch.merge_times.append(now)
        previous = branch.merge_lines_cumulative[-1] if branch.merge_lines_cumulative else 0.0
        branch.merge_lines_cumulative.append(previous + lines)
        if self.neighbours is not None:
            self.record_area(branch, lines, area)

    def record_area(self, branch: Branch, lines: float, area: int) -> None:
        """Remember that ``lines`` landed now in service ``area`` of ``branch`` (a monorepo's services; -1: none)."""
        if area >= 0:
            times = branch.area_times.setdefault(area, [])
            cumulative = branch.area_lines.setdefault(area, [])
            times.append(self.env.now)
            cumulative.append((cumulative[-1] if cumulative else 0.0) + lines)

    def areas_of(self, change: Change) -> Optional[tuple[int, ...]]:
        """The services whose merges race ``change`` (its own and its neighbours'), or ``None``: the whole branch."""
        if self.neighbours is None or change.area < 0:
            return None
        return self.neighbours[change.area]

    def commit(self, branch: Branch, lines: Optional[float] = None, area: int = -1) -> None:
        """A commit landed on ``branch`` (a merge, a revert, a fix): wake its build, or call it green."""
        if lines is not None and lines > 0:
            self.record_lines(branch, lines, area)
        if not self.post_merge:
            branch.green_version = branch.version
            self.on_green(branch)
        event = self._commit_events.get(branch.name)
        if event is not None and not event.triggered:
            event.succeed()

    def green(self, branch: Branch, version: int) -> None:
        """A post-merge build of ``version`` passed."""
        branch.green_version = max(branch.green_version, version)
        self.on_green(branch)

    # -- merges --------------------------------------------------------------------------
    def merge(self, change: Change, branch: Branch, breaks: bool) -> None:
        """Land a reviewed, built change on ``branch`` (bookkeeping only; the caller commits)."""
        now = self.env.now
        branch.version += 1
        change.merge_version = branch.version
        change.merged = now
        branch.pending.append(change)
        self.record_lines(branch, change.lines, change.area)
        self.log.merges.append(
            MergeRecord(change.change_id, branch.name, now, change.lines, change.landed_lines, change.conflicts, breaks)
        )

    def unmerge(self, change: Change, branch: Branch) -> None:
        """Revert a merged change out of ``branch``: it is no longer merged; the revert is a commit.

        A reverted fix takes its repair with it: the defect it fixed is unfixed again
        until the fix merges anew.
        """
        branch.pending.remove(change)
        if change.fixes is not None and not change.fixes.repaired:
            change.fixes.fixed = False
        change.merged = -1.0
        change.merge_version = -1
        branch.version += 1
        self.commit(branch, lines=change.lines, area=change.area)

    def land(self, changes: list[Change], onto: Branch) -> None:
        """Land changes that merged elsewhere onto a branch as one commit (a release merge)."""
        onto.version += 1
        for change in changes:
            change.merge_version = onto.version
        onto.pending.extend(changes)
        self.commit(onto, lines=sum(c.lines for c in changes))
        if self.neighbours is not None:  # a monorepo's services: what landed, by service
            for change in changes:
                self.record_area(onto, change.lines, change.area)

    def back_merge(self, change: Change, onto: Branch, since: float) -> bool:
        """Merge ``change`` back into ``onto`` as one commit; returns True if it conflicted.

        The conflict draw sees what landed on ``onto`` since ``since`` (the release cut, or
        the hotfix branch's start).
        """
        landed = lines_landed_since(onto, since)
        conflict = self.merge_u() < self.merge_model.conflict_probability(change.lines, landed)
        self.log.merges.append(MergeRecord(change.change_id, onto.name, self.env.now, change.lines, landed, int(conflict), False))
        if conflict:
            change.conflicts += 1
        onto.version += 1
        return conflict

    def take_green(self, branch: Branch) -> list[Change]:
        """Take from ``branch`` the merged changes its last green build covers (and that do not break it)."""
        green = branch.green_version
        cut = [c for c in branch.pending if c.merge_version <= green and not c.breaks_build]
        branch.pending.discard_all(cut)
        return cut

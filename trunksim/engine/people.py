"""Developers: one long-lived SimPy process each.

A developer works through, in this order of priority:

1. incidents, when on call (an interrupt: answered at any hour, whatever they were doing);
2. their own urgent tasks: a branch they broke (priority 0), rework on their own changes
   — review findings, red CI, conflicts, defects found later (priority 1);
3. reviews of other people's changes waiting in the shared queue (oldest first);
4. coding their current feature, one focus block at a time, unless they already have
   ``team.max_open_changes`` changes submitted and not merged;
5. otherwise they wait until something arrives (logged as ``waiting``).

Between focus blocks they look at 2 and 3 again, which is why review pickup waits grow
with ``team.focus_block``. Human work follows the working calendar; incident response
does not.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from typing import TYPE_CHECKING, Callable, Generator, Optional

import simpy

from trunksim.engine.calendar import WorkingCalendar
from trunksim.engine.entities import Change, Feature
from trunksim.engine.log import EventLog
from trunksim.tables import ActivityRecord

if TYPE_CHECKING:  # pragma: no cover
    from trunksim.engine.backlog import Backlog
    from trunksim.engine.flow import Flow
    from trunksim.scenario.schema import Team as TeamSettings
    from trunksim.strategies.base import Plan

EPS = 1e-9

Work = Callable[["Developer"], Generator]
"""A task body: a generator function taking the developer who does it."""


class Team:
    """The developers, the shared review queue, the index of who is idle, and the on-call rotation.

    Parameters
    ----------
    env : simpy.Environment
        The simulation.
    settings : scenario Team section
        ``developers``, ``focus_block``, ``max_open_changes``, ``on_call_rotation``.
    """

    def __init__(self, env: simpy.Environment, settings: "TeamSettings") -> None:
        self.env = env
        self.settings = settings
        self.developers: list[Developer] = []
        self.review_queue: deque[Change] = deque()
        self.idle: dict[int, Developer] = {}  # waiting for work, in the order they became idle

    def hire(
        self, calendar: WorkingCalendar, log: EventLog, backlog: "Backlog", flow: "Flow", plan: Callable[[Feature], "Plan"]
    ) -> None:
        """Start every developer's process."""
        self.developers = [
            Developer(self.env, i, self.settings, calendar, log, self, backlog, flow, plan)
            for i in range(self.settings.developers)
        ]

    def __getitem__(self, index: int) -> "Developer":
        return self.developers[index]

    def __len__(self) -> int:
        return len(self.developers)

    def request_review(self, change: Change) -> None:
        """Put a change in the shared review queue and wake an idle reviewer."""
        self.review_queue.append(change)
        solo = len(self.developers) == 1
        for dev in self.idle.values():
            if solo or dev.index != change.author:
                dev.poke()
                break

    def take_review(self, dev: "Developer") -> Optional[Change]:
        """The oldest change waiting for review that ``dev`` did not write (anyone's, in a team of one)."""
        queue = self.review_queue
        solo = len(self.developers) == 1
        for i, change in enumerate(queue):
            if solo or change.author != dev.index:
                del queue[i]
                return change
        return None

    def on_call(self) -> "Developer":
        """The developer on call now (a rotation of ``team.on_call_rotation`` clock hours)."""
        turn = int(self.env.now // self.settings.on_call_rotation)
        return self.developers[turn % len(self.developers)]


class Developer:
    """One developer and their SimPy process."""

    def __init__(
        self, env: simpy.Environment, index: int, settings: "TeamSettings", calendar: WorkingCalendar, log: EventLog,
        team: Team, backlog: "Backlog", flow: "Flow", plan: Callable[[Feature], "Plan"],
    ) -> None:
        self.env = env
        self.index = index
        self.settings = settings
        self.calendar = calendar
        self.log = log
        self.team = team
        self.backlog = backlog
        self.flow = flow
        self.plan = plan
        self.tasks: list[tuple[int, int, Work, simpy.Event]] = []
        self._seq = itertools.count()
        self.feature: Optional[Feature] = None
        self.plans: deque[tuple[float, list]] = deque()
        self.change: Optional[Change] = None
        self.open_changes = 0
        self.wake: Optional[simpy.Event] = None
        self.responding = False
        self.incident_queue: deque = deque()
        self._last_row = -1  # index of this developer's latest activity row
        self.process = self.env.process(self.run())

    # -- being told about work -------------------------------------------------
    def assign(self, priority: int, work: Work) -> simpy.Event:
        """Queue a task; returns an event that succeeds when the task is done."""
        done = self.env.event()
        heapq.heappush(self.tasks, (priority, next(self._seq), work, done))
        self.poke()
        return done

    def poke(self) -> None:
        """Wake the developer if they are idle."""
        if self.wake is not None and not self.wake.triggered:
            self.wake.succeed()

    def respond(self, incident_work: Work) -> None:
        """Page this developer (on call) with incident work; interrupts whatever they do."""
        self.incident_queue.append(incident_work)
        if not self.responding:
            self.responding = True
            self.process.interrupt("incident")

    # -- the process ----------------------------------------------------------------
    def run(self) -> Generator:
        """The developer's life: pick the most urgent thing, do it, repeat."""
        while True:
            if self.tasks:
                _, _, work, done = heapq.heappop(self.tasks)
                yield from work(self)
                done.succeed()
                continue
            change = self.team.take_review(self)
            if change is not None:
                yield from self.flow.review(self, change)
                continue
            if self.ready_to_code():
                yield from self.code_block()
                continue
            yield from self.idle()

    def ready_to_code(self) -> bool:
        """True when there is (or can be) coding to do and WIP allows it."""
        if self.open_changes >= self.settings.max_open_changes:
            return False
        if self.change is not None or self.plans:
            return True
        return self.backlog.has_work()

    def code_block(self) -> Generator:
        """Code one focus block of the current change, starting a feature or change if needed."""
        now = self.env.now
        if self.change is None:
            if not self.plans:
                feature = self.feature = self.backlog.start_feature(self.index)
                if feature is None:
                    return
                plan = self.plan(feature)
                feature.planned_changes = len(plan.pieces)
                feature.flagged = plan.flagged
                self.plans.extend(plan.pieces)
            effort, defects = self.plans.popleft()
            self.change = self.backlog.new_change(self.index, self.feature, effort, defects, kind="feature", created=now)
        change = self.change
        block = min(self.settings.focus_block, change.effort_hours - change.coded_hours)
        yield from self.work(block, "coding", change.change_id)
        change.coded_hours += block
        if change.first_commit < 0:
            change.first_commit = self.env.now
            change.enter("coding", self.env.now)
        if change.coded_hours >= change.effort_hours - EPS:
            self.change = None
            self.flow.submit(change)

    def idle(self) -> Generator:
        """Wait until poked (logged as ``waiting`` working hours); an incident page is answered."""
        self.wake = self.env.event()
        idle = self.team.idle
        idle[self.index] = self
        start = self.env.now
        try:
            yield self.wake
            paged = False
        except simpy.Interrupt:
            paged = True
        self.wake = None
        del idle[self.index]
        self._log_wait(start)
        if paged:
            yield from self.answer_pages()

    def _log_wait(self, start: float) -> None:
        hours = self.calendar.working_hours_between(start, self.env.now)
        if hours > 0:
            self.record("waiting", start, self.env.now, hours, -1)

    def work(self, hours: float, activity: str, detail: int = -1) -> Generator:
        """Spend ``hours`` working hours on ``activity``, on the working calendar.

        An incident page interrupts the work; it resumes afterwards with what is left.
        """
        calendar = self.calendar
        remaining = hours
        while remaining > EPS:
            start = self.env.now
            end = calendar.finish_time(start, remaining)
            try:
                yield self.env.timeout(end - start)
                self.record(activity, start, end, remaining, detail)
                return
            except simpy.Interrupt:
                done = min(calendar.working_hours_between(start, self.env.now), remaining)
                if done > 0:
                    self.record(activity, start, self.env.now, done, detail)
                remaining -= done
                yield from self.answer_pages()

    def record(self, activity: str, start: float, end: float, hours: float, detail: int) -> None:
        """Log a stretch of this developer's time; a stretch that continues their previous one extends it."""
        rows = self.log.activity
        last = self._last_row
        if last >= 0:
            row = rows[last]
            if row.activity == activity and row.detail == detail and row.end_hours == start:
                rows[last] = ActivityRecord(self.index, activity, row.start_hours, end, row.working_hours + hours, detail)
                return
        self._last_row = len(rows)
        rows.append(ActivityRecord(self.index, activity, start, end, hours, detail))

    def work_around_the_clock(self, hours: float, activity: str, detail: int = -1) -> Generator:
        """Spend ``hours`` clock hours on ``activity`` (incident response ignores the calendar)."""
        start = self.env.now
        yield self.env.timeout(hours)
        self.record(activity, start, self.env.now, hours, detail)

    def answer_pages(self) -> Generator:
        """Handle every queued incident page, one after another."""
        while self.incident_queue:
            work = self.incident_queue.popleft()
            yield from work(self)
        self.responding = False

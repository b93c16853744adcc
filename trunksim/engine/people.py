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
with ``team.focus_block``. Human work follows the working calendar (each developer's own,
shifted by their time zone and start time); incident response does not.

**Review pickup** (``review.response_time``, ``review.reviewers``). Only the first
``review.reviewers`` developers review (0: everyone), so review capacity is a choice. A
request waits in the shared queue until a reviewer ends a focus block or a task, as
above; with a response time, the request also *pings* a reviewer once it has waited
its drawn response time (working hours on the team's calendar): a reviewer who is
coding puts the code aside at once, reviews, and goes back to it (an idle one is woken
at once in any case). A responsive team (short response times) waits less; a busy
one (few reviewers, long reviews) queues. Sources in docs/references.md.
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

    def __init__(
        self, env: simpy.Environment, settings: "TeamSettings", reviewers: int = 0,
        response_time: Optional[Callable[[], float]] = None, calendar: Optional[WorkingCalendar] = None,
    ) -> None:
        self.env = env
        self.settings = settings
        self.developers: list[Developer] = []
        self.review_queue: deque[Change] = deque()
        self.idle: dict[int, Developer] = {}  # waiting for work, in the order they became idle
        self.reviewers = reviewers if 0 < reviewers < settings.developers else settings.developers
        self.flag_every_feature = False
        """Every feature goes behind a flag (``flags.every_feature``)."""
        self.coding_factor: Optional[Callable[[], float]] = None
        """Working hours per hour of coding effort (flag debt), when the flag lifecycle is on."""
        self.team_of: Optional[tuple[int, ...]] = None
        """The team of each developer (a monorepo of several teams): people review only their own team's changes
        (set with :meth:`split_into_teams`)."""
        self._team_sizes: dict[int, int] = {}
        self.instead_of_new_work: Optional[Callable[[], Optional[Work]]] = None
        """Work to do instead of starting a new feature, if any now (an error-budget freeze's reliability work)."""
        self.response_time = response_time
        self.calendar = calendar

    def hire(
        self, calendars: list[WorkingCalendar], log: EventLog, backlog: "Backlog", review: Callable, submit: Callable,
        plan: Callable[[Feature], "Plan"],
    ) -> None:
        """Start every developer's process; developer ``i`` works on ``calendars[i]``.

        ``review(developer, change)`` is the task body of a review; ``submit(change)`` sends
        a finished change into integration (both :class:`~trunksim.engine.flow.Flow`'s).
        """
        self.developers = [
            Developer(self.env, i, self.settings, calendars[i], log, self, backlog, review, submit, plan)
            for i in range(self.settings.developers)
        ]

    def __getitem__(self, index: int) -> "Developer":
        return self.developers[index]

    def __len__(self) -> int:
        return len(self.developers)

    def split_into_teams(self, team_of: tuple[int, ...]) -> None:
        """Developer ``i`` belongs to team ``team_of[i]``: from now on people review only their own team's changes."""
        self.team_of = team_of
        self._team_sizes = {team: team_of.count(team) for team in set(team_of)}

    def may_review(self, dev: "Developer", change: Change) -> bool:
        """``dev`` is a reviewer and did not write ``change`` (or nobody else could review it)."""
        if dev.index >= self.reviewers:
            return False
        team_of = self.team_of
        if team_of is not None:
            if team_of[dev.index] != team_of[change.author]:
                return False
            if dev.index == change.author:
                return self._team_sizes[team_of[dev.index]] == 1
            return True
        return dev.index != change.author or len(self.developers) == 1 or (self.reviewers == 1 and change.author == 0)

    def request_review(self, change: Change) -> None:
        """Put a change in the shared review queue and wake an idle reviewer; with a response time, ping one later."""
        self.review_queue.append(change)
        for dev in self.idle.values():
            if self.may_review(dev, change):
                dev.poke()
                break
        if self.response_time is not None:
            now = self.env.now
            delay = self.calendar.finish_time(now, self.response_time()) - now
            self.env.timeout(delay).callbacks.append(lambda _event: self.ping(change))

    def ping(self, change: Change) -> None:
        """The request's response time is up: if nobody took it yet, a coding reviewer takes it now."""
        if change not in self.review_queue:
            return
        for dev in self.developers[: self.reviewers]:
            if dev.coding and self.may_review(dev, change):
                dev.coding = False
                dev.process.interrupt("review")
                return

    def take_review(self, dev: "Developer") -> Optional[Change]:
        """The oldest change waiting for review that ``dev`` may review."""
        if dev.index >= self.reviewers:
            return None
        queue = self.review_queue
        for i, change in enumerate(queue):
            if self.may_review(dev, change):
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
        team: Team, backlog: "Backlog", review: Callable, submit: Callable, plan: Callable[[Feature], "Plan"],
    ) -> None:
        self.env = env
        self.index = index
        self.settings = settings
        self.calendar = calendar
        self.log = log
        self.team = team
        self.backlog = backlog
        self.review = review
        self.submit = submit
        self.plan = plan
        self.tasks: list[tuple[int, int, Work, simpy.Event]] = []
        self._seq = itertools.count()
        self.feature: Optional[Feature] = None
        self.plans: deque[tuple[float, list]] = deque()
        self.change: Optional[Change] = None
        self.open_changes = 0
        self.wake: Optional[simpy.Event] = None
        self.responding = False
        self.coding = False  # in a coding stretch a review ping may interrupt
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
                yield from self.review(self, change)
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
                instead = self.team.instead_of_new_work
                work = instead() if instead is not None else None
                if work is not None:
                    yield from work(self)
                    return
                feature = self.feature = self.backlog.start_feature(self.index)
                if feature is None:
                    return
                plan = self.plan(feature)
                feature.planned_changes = len(plan.pieces)
                feature.flagged = plan.flagged or self.team.flag_every_feature
                self.plans.extend(plan.pieces)
            effort, defects = self.plans.popleft()
            self.change = self.backlog.new_change(self.index, self.feature, effort, defects, kind="feature", created=now)
        change = self.change
        block = min(self.settings.focus_block, change.effort_hours - change.coded_hours)
        factor = self.team.coding_factor
        yield from self.work(block if factor is None else block * factor(), "coding", change.change_id, interruptible=True)
        change.coded_hours += block
        if change.first_commit < 0:
            change.first_commit = self.env.now
            change.enter("coding", self.env.now)
        if change.coded_hours >= change.effort_hours - EPS:
            self.change = None
            self.submit(change)

    def idle(self) -> Generator:
        """Wait until poked (logged as ``waiting`` working hours); an incident page is answered."""
        self.wake = self.env.event()
        idle = self.team.idle
        idle[self.index] = self
        start = self.env.now
        cause = None
        try:
            yield self.wake
        except simpy.Interrupt as interrupt:
            cause = interrupt.cause
        self.wake = None
        del idle[self.index]
        self._log_wait(start)
        if cause is not None:
            yield from self.interrupted(cause)

    def _log_wait(self, start: float) -> None:
        hours = self.calendar.working_hours_between(start, self.env.now)
        if hours > 0:
            self.record("waiting", start, self.env.now, hours, -1)

    def work(self, hours: float, activity: str, detail: int = -1, interruptible: bool = False) -> Generator:
        """Spend ``hours`` working hours on ``activity``, on the working calendar.

        An incident page interrupts the work (and, if ``interruptible``, a review ping);
        it resumes afterwards with what is left.
        """
        calendar = self.calendar
        remaining = hours
        while remaining > EPS:
            start = self.env.now
            end = calendar.finish_time(start, remaining)
            self.coding = interruptible
            try:
                yield self.env.timeout(end - start)
                self.coding = False
                self.record(activity, start, end, remaining, detail)
                return
            except simpy.Interrupt as interrupt:
                self.coding = False
                done = min(calendar.working_hours_between(start, self.env.now), remaining)
                if done > 0:
                    self.record(activity, start, self.env.now, done, detail)
                remaining -= done
                yield from self.interrupted(interrupt.cause)

    def interrupted(self, cause: object) -> Generator:
        """Handle what interrupted the developer: an incident page, or a review ping."""
        if cause == "review":
            change = self.team.take_review(self)
            if change is not None:
                yield from self.review(self, change)
        else:
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
        """Spend ``hours`` clock hours on ``activity`` (incident response ignores the calendar).

        A review ping that arrives meanwhile is ignored: the request stays in the queue.
        """
        start = self.env.now
        remaining = hours
        while True:
            since = self.env.now
            try:
                yield self.env.timeout(remaining)
                break
            except simpy.Interrupt:
                remaining -= self.env.now - since
        self.record(activity, start, self.env.now, hours, detail)

    def answer_pages(self) -> Generator:
        """Handle every queued incident page, one after another."""
        while self.incident_queue:
            work = self.incident_queue.popleft()
            yield from work(self)
        self.responding = False

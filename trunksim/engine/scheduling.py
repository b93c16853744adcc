"""Lighter stand-ins for SimPy machinery, and the one place the engine reads SimPy's private state.

Every SimPy event costs a heap push, a heap pop and a dispatch. Two kinds of event in a
replication carry no information:

* the **end event of a process** nobody waits for (one ``integrate`` per submitted
  change): :func:`detached` drives such a generator from the events it yields and ends
  it silently; inside :func:`run_until` it also skips the **start event** whenever that
  event would have been the very next one processed (no other urgent event waiting at
  the instant), starting the generator right after the current step instead;
* the **request and release events of a resource** that is usually free (the CI
  runners): :class:`PriorityPool` hands a free unit over without an event and passes a
  released unit straight to the next waiter. (The deployment slot stays a
  ``simpy.PriorityResource``: with constant durations its same-instant ties matter, and
  a pool would resolve them differently.)

It also holds :func:`run_until`, SimPy's ``Environment.run(until=...)`` stepped in
batches with a check between them, and :func:`scheduled_events`, SimPy's running count of
events.

Ordering (documented in ``docs/architecture.md``): a detached generator starts where
its urgent start event would have been processed, as a process does, so nothing is
reordered; a pool acquired while
free continues in the same step, where a SimPy request would have resumed it one event
later (the CI runners, since before these changes). Everything else keeps SimPy's order:
events at the same instant are processed by priority, then in the order they were
scheduled.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from typing import Callable, Generator, Optional

import simpy


class PriorityPool:
    """``capacity`` identical units, first come first served within priority (lower first).

    Behaves like ``simpy.PriorityResource`` without preemption, but hands a free unit
    over without scheduling an event and passes a released unit straight to the first
    waiter.

    Parameters
    ----------
    env : simpy.Environment
        The simulation.
    capacity : int
        How many units (CI runners), count.
    """

    __slots__ = ("env", "capacity", "busy", "waiting", "_seq")

    def __init__(self, env: simpy.Environment, capacity: int) -> None:
        self.env = env
        self.capacity = capacity
        self.busy = 0
        self.waiting: list[tuple[int, int, simpy.Event]] = []
        self._seq = itertools.count()

    def acquire(self, priority: int) -> Optional[simpy.Event]:
        """Take a unit: ``None`` if one was free, else an event that fires when one is handed over."""
        if self.busy < self.capacity and not self.waiting:
            self.busy += 1
            return None
        event = self.env.event()
        heapq.heappush(self.waiting, (priority, next(self._seq), event))
        return event

    def release(self) -> None:
        """Give a unit back: to the first waiter, or to the pool."""
        if self.waiting:
            heapq.heappop(self.waiting)[2].succeed()
        else:
            self.busy -= 1


class _Detached:
    """Drives one generator: resumes it with the value of each event it yields."""

    __slots__ = ("_generator",)

    def __init__(self, generator: Generator) -> None:
        self._generator = generator

    def _resume(self, event: Optional[simpy.Event]) -> None:
        generator = self._generator
        while True:
            try:
                if event is None:
                    target = next(generator)
                elif event._ok:
                    target = generator.send(event._value)
                else:
                    event._defused = True  # type: ignore[attr-defined]
                    target = generator.throw(event._value)
            except StopIteration:
                return
            callbacks = target.callbacks
            if callbacks is not None:  # not processed yet: wait for it
                callbacks.append(self._resume)
                return
            event = target  # already processed: go on at once, as a SimPy process does


def detached(env: simpy.Environment, generator: Generator) -> None:
    """Drive ``generator`` by the events it yields, like a SimPy process nobody waits for.

    It starts as ``env.process`` starts a process — in an urgent event scheduled now, so
    its first step runs after the current step, in the same order as before — but it
    schedules no end event. Inside :func:`run_until` it needs no start event either: when
    no other urgent event is waiting at this instant, the urgent start event would be the
    very next one processed, so the generator is started right after the current step
    (in the order ``detached`` was called); otherwise it gets its start event as above.
    An exception it raises propagates out of the step that resumed it, stopping the
    simulation, as an unhandled process failure does. It cannot be interrupted (nothing in
    the engine interrupts these).
    """
    runner = _Detached(generator)
    starts = getattr(env, _STARTS, None)
    if starts is not None and not _urgent_pending(env):
        # Inside run_until: started right after the current step, where the urgent start
        # event would have been processed (nothing else urgent is waiting now), without it.
        starts.append(runner)
        return
    env.schedule(_start_event(env, runner), simpy.core.URGENT)


_STARTS = "_trunksim_starts"
"""Attribute of an environment being run by :func:`run_until`: the detached generators to start after the current step."""


def _urgent_pending(env: simpy.Environment) -> bool:
    """An urgent event (a process start, an interruption, the "until" event) is waiting at the current instant."""
    queue = env._queue
    return bool(queue) and queue[0][1] <= simpy.core.URGENT and queue[0][0] == env._now


def _start_event(env: simpy.Environment, runner: _Detached) -> simpy.Event:
    """The start event of a detached generator (not yet scheduled), as ``env.process`` makes a process's."""
    start = _succeeded(env)
    start.callbacks.append(runner._resume)  # type: ignore[union-attr]
    return start


def _succeeded(env: simpy.Environment) -> simpy.Event:
    """An event already succeeded (value None) and not yet scheduled, as SimPy makes its own start and "until" events."""
    event = simpy.Event(env)
    event._ok = True
    event._value = None
    return event


def scheduled_events(env: simpy.Environment) -> int:
    """How many events ``env`` has scheduled so far (SimPy's own running count)."""
    return next(env._eid)


def run_until(env: simpy.Environment, at: float, every: int, check: Callable[[], None]) -> None:
    """``env.run(until=at)``, calling ``check()`` after every ``every`` events.

    The same "until" event SimPy's ``run`` schedules (urgent, at ``at``), so the same order
    of events; ``check`` may raise to stop the run (it is how a replication's bounds are
    enforced without a wrapper around every step). On a plain ``simpy.Environment`` each
    step is SimPy 4's ``Environment.step`` written out in the loop (the same heap, the
    same order of callbacks, the same crash on an undefused failure), which saves a
    method call and its attribute lookups on every event; an environment with a step of
    its own (``simpy.rt.RealtimeEnvironment``, a tracing wrapper) is stepped through it.
    """
    until = _succeeded(env)
    env.schedule(until, simpy.core.URGENT, at - env.now)
    until.callbacks.append(simpy.core.StopSimulation.callback)  # type: ignore[union-attr]
    starts: deque[_Detached] = deque()
    setattr(env, _STARTS, starts)
    try:
        if type(env).step is simpy.core.Environment.step and "step" not in vars(env):
            _steps(env, starts, every, check)
        else:
            _steps_through(env, starts, every, check)
    finally:
        delattr(env, _STARTS)
        if starts:  # the run stopped (an error) before starting them: they get the start events they stood for
            _schedule_first(env, starts)


def _steps(env: simpy.Environment, starts: "deque[_Detached]", every: int, check: Callable[[], None]) -> None:
    """Process events until the "until" event stops the run (the body of :func:`run_until`)."""
    queue = env._queue
    pop = heapq.heappop
    while True:
        for _ in itertools.repeat(None, every):
            try:
                env._now, _, _, event = pop(queue)
            except IndexError:
                raise simpy.core.EmptySchedule from None
            callbacks, event.callbacks = event.callbacks, None
            try:
                for callback in callbacks:
                    callback(event)
            except simpy.core.StopSimulation:
                # As SimPy does: the rest of the callbacks run when the simulation resumes.
                event.callbacks = callbacks[callbacks.index(callback) + 1:]
                env.schedule(event, simpy.core.EventPriority(-1))
                return
            if not event._ok and not hasattr(event, "_defused"):
                exc = type(event._value)(*event._value.args)
                exc.__cause__ = event._value
                raise exc
            if starts and _start(starts):
                return
        check()
        if starts and _start(starts):
            return


def _steps_through(env: simpy.Environment, starts: "deque[_Detached]", every: int, check: Callable[[], None]) -> None:
    """:func:`_steps` for an environment whose ``step`` is its own: every step goes through it."""
    step = env.step
    try:
        while True:
            for _ in itertools.repeat(None, every):
                step()
                if starts and _start(starts):
                    return
            check()
            if starts and _start(starts):
                return
    except simpy.core.StopSimulation:
        return


def _start(starts: "deque[_Detached]") -> bool:
    """Start what :func:`detached` asked for since the last step, in order (each may ask for more); True if
    one of them stopped the simulation (as SimPy's run stops when a start event's callback does)."""
    try:
        while starts:
            starts.popleft()._resume(None)
    except simpy.core.StopSimulation:
        return True
    return False


def _schedule_first(env: simpy.Environment, runners: "deque[_Detached]") -> None:
    """Give ``runners`` the urgent start events they stood for, ahead of every urgent event scheduled after them.

    A runner is deferred only when no urgent event waits at the instant, so in SimPy's
    order its start event comes before every urgent event now waiting at this instant:
    their tie-breaking ids are made just below the lowest of those, in order.
    """
    now = env._now
    pending = [eid for time, priority, eid, _ in env._queue if time == now and priority == simpy.core.URGENT]
    below = min(pending) if pending else next(env._eid)
    count = len(runners)
    for k, runner in enumerate(runners):
        heapq.heappush(env._queue, (now, simpy.core.URGENT, below - 1 + (k + 1) / (count + 1), _start_event(env, runner)))
    runners.clear()

"""Lighter stand-ins for SimPy machinery, and the one place the engine reads SimPy's private state.

Every SimPy event costs a heap push, a heap pop and a dispatch. Three kinds of event in
a replication carried no information:

* the **start and end events of a process** nobody waits for (one ``integrate`` per
  submitted change): :func:`detached` drives such a generator from the events it yields,
  starting it at once and ending it silently;
* the **request and release events of a resource** that is usually free (the
  deployment slot, the CI runners): :class:`PriorityPool` hands a free unit over without
  an event and passes a released unit straight to the next waiter;
* the **event announcing a review's verdict** to the change waiting for it: a detached
  generator may yield a :class:`Signal`, which the reviewer fires to resume it at once.

It also holds :func:`run_until`, SimPy's ``Environment.run(until=...)`` stepped in
batches with a check between them, and :func:`scheduled_events`, SimPy's running count of
events.

Ordering (documented in ``docs/architecture.md``): a detached generator runs its first
step inside the step that starts it, where ``env.process`` would have run it in an
urgent event later in the same instant; a pool acquired while free continues in the same
step, where a SimPy request would have resumed it one event later; a fired signal resumes
its generator inside the firing step, where a succeeded event would have resumed it after
the events already scheduled for that instant. Everything else keeps
SimPy's order: events at the same instant are processed by priority, then in the order
they were scheduled.
"""

from __future__ import annotations

import heapq
import itertools
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
        How many units (CI runners; 1 for the deployment slot), count.
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


class Signal:
    """A one-shot wake-up for a detached generator: :meth:`fire` resumes it at once, inside the caller's step.

    Yielded by a generator run by :func:`detached` where it waits for something the
    engine itself will announce (a review's verdict), instead of a SimPy event that would
    be scheduled and processed later in the same instant.
    """

    __slots__ = ("_waiter",)

    def __init__(self) -> None:
        self._waiter: Optional[Callable[[object], None]] = None

    def fire(self, value: object) -> None:
        """Resume the generator waiting on this signal with ``value``."""
        waiter, self._waiter = self._waiter, None
        if waiter is None:
            raise RuntimeError("a signal fired before anything waited on it, or twice")
        waiter(value)


class _Detached:
    """Drives one generator: resumes it with the value of each event (or :class:`Signal`) it yields."""

    __slots__ = ("_generator",)

    def __init__(self, generator: Generator) -> None:
        self._generator = generator

    def _resume(self, event: simpy.Event) -> None:
        """SimPy callback: the event the generator waits for was processed."""
        if event._ok:
            self._advance(event._value, None)
        else:
            event._defused = True  # type: ignore[attr-defined]
            self._advance(None, event._value)

    def _send(self, value: object) -> None:
        """A :class:`Signal` fired: go on with its value."""
        self._advance(value, None)

    def _advance(self, value: object, error: Optional[BaseException]) -> None:
        """Run the generator until it waits for something not yet processed (or ends)."""
        generator = self._generator
        while True:
            try:
                target = generator.send(value) if error is None else generator.throw(error)
            except StopIteration:
                return
            if type(target) is Signal:
                target._waiter = self._send
                return
            callbacks = target.callbacks
            if callbacks is not None:  # not processed yet: wait for it
                callbacks.append(self._resume)
                return
            # already processed: go on at once with its outcome, as a SimPy process does
            if target._ok:
                value, error = target._value, None
            else:
                target._defused = True  # type: ignore[attr-defined]
                value, error = None, target._value


def detached(generator: Generator) -> None:
    """Start ``generator`` now and drive it by the events it yields, like a SimPy process nobody waits for.

    Unlike ``env.process`` it schedules no start event (the first step runs now, inside
    the caller's step) and no end event; an exception it raises propagates out of the
    step that resumed it, stopping the simulation, as an unhandled process failure does.
    It cannot be interrupted (nothing in the engine interrupts these).
    """
    _Detached(generator)._advance(None, None)


def scheduled_events(env: simpy.Environment) -> int:
    """How many events ``env`` has scheduled so far (SimPy's own running count)."""
    return next(env._eid)


def run_until(env: simpy.Environment, at: float, every: int, check: Callable[[], None]) -> None:
    """``env.run(until=at)``, calling ``check()`` after every ``every`` events.

    The same "until" event SimPy's ``run`` schedules (urgent, at ``at``), so the same order
    of events; ``check`` may raise to stop the run (it is how a replication's bounds are
    enforced without a wrapper around every step).
    """
    until = simpy.Event(env)
    until._ok = True
    until._value = None
    env.schedule(until, simpy.core.URGENT, at - env.now)
    until.callbacks.append(simpy.core.StopSimulation.callback)  # type: ignore[union-attr]
    step = env.step
    try:
        while True:
            for _ in itertools.repeat(None, every):
                step()
            check()
    except simpy.core.StopSimulation:
        pass

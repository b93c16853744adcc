"""The engine's lighter SimPy machinery keeps SimPy's order of events (``trunksim.engine.scheduling``)."""

from __future__ import annotations

import itertools

import pytest
import simpy

from trunksim.engine.scheduling import detached, run_until, scheduled_events


def _scenario(env: simpy.Environment, start, log: list) -> None:
    """At t=1 one process starts three generators around a process start and a same-instant timeout.

    ``start(env, generator)`` starts a generator: ``env.process`` (SimPy's own order,
    the reference) or :func:`detached`.
    """

    def child(name: str, spawn: bool = False):
        log.append((env.now, name, "first step"))
        if spawn:  # a generator that starts another one in its first step
            start(env, child(name + ".grandchild"))
        yield env.timeout(0)
        log.append((env.now, name, "after a zero timeout"))

    def plain(name: str):
        log.append((env.now, name, "process first step"))
        yield env.timeout(0)
        log.append((env.now, name, "process after a zero timeout"))

    def parent():
        yield env.timeout(1)
        env.timeout(0).callbacks.append(lambda _e: log.append((env.now, "timeout", "fired")))
        start(env, child("a", spawn=True))
        start(env, child("b"))
        env.process(plain("p"))  # an urgent start event now waits: the next generator must queue behind it
        start(env, child("c", spawn=True))
        yield env.timeout(1)
        start(env, child("d"))  # nothing waiting: starts right after this step

    env.process(parent())


@pytest.mark.parametrize("every", [1, 3, 1000])
def test_detached_generators_start_in_the_order_simpy_starts_processes(every):
    reference: list = []
    env = simpy.Environment()
    _scenario(env, lambda e, g: e.process(g), reference)
    env.run(until=5)

    order: list = []
    env = simpy.Environment()
    _scenario(env, detached, order)
    run_until(env, 5, every, lambda: None)

    assert order == reference
    # SimPy's order: urgent starts first (a grandchild queues behind the starts already
    # waiting), then the same-instant timeouts in the order they were scheduled
    assert [name for _, name, step in order if step in ("first step", "process first step")] == [
        "a", "b", "p", "c", "a.grandchild", "c.grandchild", "d",
    ]
    assert order.index((1, "c.grandchild", "first step")) < order.index((1, "timeout", "fired"))


def test_a_detached_start_needs_no_event_unless_an_urgent_one_waits():
    counts = []
    for start in (lambda e, g: e.process(g), detached):
        env = simpy.Environment()
        _scenario(env, start, [])
        run_until(env, 5, 1000, lambda: None)
        counts.append(scheduled_events(env))
    # six processes: a start and an end event each. Six detached generators: no end event; a, b
    # and d need no start event; c, and the grandchildren started while p's (then a
    # grandchild's) start event waits, get theirs
    assert counts[0] - counts[1] == 6 + 3


def test_outside_run_until_a_detached_generator_gets_its_start_event():
    env = simpy.Environment()
    log: list = []

    def child():
        log.append(env.now)
        yield env.timeout(1)
        log.append(env.now)

    detached(env, child())
    assert env.peek() == 0 and log == []  # not started yet: its start event waits
    env.run(until=3)
    assert log == [0, 1]


def test_a_failure_in_a_detached_first_step_stops_the_run():
    env = simpy.Environment()

    def broken():
        raise RuntimeError("engine bug")
        yield  # pragma: no cover

    def starter():
        yield env.timeout(1)
        detached(env, broken())

    env.process(starter())
    with pytest.raises(RuntimeError, match="engine bug"):
        run_until(env, 5, 10, lambda: None)


def test_run_until_stops_at_the_instant_and_can_resume():
    env = simpy.Environment()
    ticks: list = []

    def clock():
        for t in itertools.count():
            ticks.append(env.now)
            yield env.timeout(1)

    env.process(clock())
    run_until(env, 3, 2, lambda: None)
    assert env.now == 3 and ticks == [0, 1, 2]
    run_until(env, 5, 2, lambda: None)
    assert ticks == [0, 1, 2, 3, 4]


def _resumed_after_a_failure(start) -> list:
    """A step asks for a start, then a process start, then fails; the run is resumed."""
    env = simpy.Environment()
    log: list = []

    def child(name: str):
        log.append((env.now, name))
        yield env.timeout(0)

    def boom():
        yield env.timeout(1)
        failed = env.event()

        def callback(_event):
            start(env, child("g"))
            env.process(child("p"))  # an urgent start event scheduled after g's would have been

        failed.callbacks.append(callback)
        failed.fail(RuntimeError("nobody defused this"))
        yield env.timeout(5)

    env.process(boom())
    with pytest.raises(RuntimeError, match="nobody defused"):
        run_until(env, 10, 1000, lambda: None)
    run_until(env, 10, 1000, lambda: None)
    return log


def test_starts_asked_for_in_a_failed_step_keep_their_place_when_the_run_resumes():
    assert _resumed_after_a_failure(detached) == _resumed_after_a_failure(lambda e, g: e.process(g)) == [(1, "g"), (1, "p")]


def test_a_start_asked_for_between_steps_comes_before_the_next_event():
    order: list = []
    env = simpy.Environment()

    def child():
        order.append(("started", env.now))
        yield env.timeout(0)

    def ticker():
        while True:
            order.append(("tick", env.now))
            yield env.timeout(1)

    env.process(ticker())
    asked = []

    def check():  # a check that starts a generator (the engine's checks never do)
        if not asked:
            asked.append(env.now)
            detached(env, child())

    run_until(env, 3, 2, check)
    assert order.index(("started", asked[0])) == order.index(("tick", asked[0])) + 1


def test_an_environment_with_its_own_step_is_stepped_through_it_in_the_same_order():
    """SimPy's tracing recipe replaces ``env.step``; a RealtimeEnvironment has its own."""
    reference: list = []
    env = simpy.Environment()
    _scenario(env, lambda e, g: e.process(g), reference)
    env.run(until=5)

    traced: list = []
    steps = []
    env = simpy.Environment()
    plain_step = env.step
    env.step = lambda: (steps.append(env.peek()), plain_step())[1]
    _scenario(env, detached, traced)
    run_until(env, 5, 3, lambda: None)
    assert traced == reference and steps

    realtime: list = []
    env = simpy.rt.RealtimeEnvironment(factor=1e-6, strict=False)
    _scenario(env, detached, realtime)
    run_until(env, 5, 3, lambda: None)
    assert realtime == reference


def test_a_started_generator_that_stops_the_simulation_stops_the_run():
    env = simpy.Environment()
    after: list = []

    def stopper():
        raise simpy.core.StopSimulation(None)
        yield  # pragma: no cover

    def starter():
        yield env.timeout(1)
        detached(env, stopper())
        yield env.timeout(1)
        after.append(env.now)

    env.process(starter())
    run_until(env, 5, 10, lambda: None)
    assert env.now == 1 and after == []

"""The engine's CI runner pool against queueing theory (docs/validation.md, section 1).

The component under test is :class:`trunksim.engine.ci.CIService` itself — the runner
pool (a ``simpy.PriorityResource``), its duration stream and its log — driven by a
minimal stand-in model (``env``, ``streams``, ``log``, ``scenario``). Service times are
exponential (``ci.duration: {dist: exponential, mean: 10m}``), nothing fails, nothing
is retried, so the pool is an M/M/c queue:

* open system, Poisson arrivals: **Erlang C**,
  ``Wq = C(c, a) / (c·μ − λ)`` with ``a = λ/μ`` and
  ``C(c, a) = (a^c/c! · c/(c−a)) / (Σ_{k<c} a^k/k! + a^c/c! · c/(c−a))``;
* closed system, ``N`` developers each submitting a run after an exponential think
  time and waiting for its result (machine-repairman, M/M/c//N): with
  ``p_k ∝ N!/(N−k)! · r^k / (k! if k ≤ c else c!·c^(k−c))``, ``r = λ/μ``,
  ``Wq = Σ_{k>c} (k−c)·p_k / (λ·(N − L))``.

Tolerance: waits are averaged in 30 batches of consecutive runs after a warm-up
(batch means); the test requires the batch-means 95% confidence half-width to be
under 1.5% of the formula (so the comparison has the power to see a 3% error) and the
simulated mean to lie within 3% of the formula. Seeds are fixed.
"""

from __future__ import annotations

import math

import numpy as np
import simpy
from scipy import stats

from trunksim.engine.ci import CIService
from trunksim.engine.log import EventLog
from trunksim.randomness import Streams

from conftest import small

MEAN_SERVICE_HOURS = 10 / 60  # one pipeline run, hours
BATCHES = 30


class PoolOnly:
    """The least a CIService needs from a DeliveryModel."""

    def __init__(self, runners: int, seed: int) -> None:
        self.scenario = small(
            "trunk-based",
            ci={
                "runners": runners,
                "duration": {"dist": "exponential", "mean": "10m"},
                "flaky_failure_probability": 0.0,
                "automatic_retries": 0,
            },
        )
        self.env = simpy.Environment()
        self.streams = Streams(seed, 0)
        self.log = EventLog()
        self.ci = CIService(self)


def erlang_c_wait_hours(arrivals_per_hour: float, service_per_hour: float, runners: int) -> float:
    """Mean wait in queue of M/M/c (Erlang C)."""
    a = arrivals_per_hour / service_per_hour
    top = a**runners / math.factorial(runners) * runners / (runners - a)
    probability_wait = top / (sum(a**k / math.factorial(k) for k in range(runners)) + top)
    return probability_wait / (runners * service_per_hour - arrivals_per_hour)


def finite_source_wait_hours(sources: int, think_hours: float, service_per_hour: float, runners: int) -> float:
    """Mean wait in queue of M/M/c//N (machine repairman with c repairmen)."""
    r = (1 / think_hours) / service_per_hour
    weights = []
    for k in range(sources + 1):
        arrangements = math.factorial(sources) / math.factorial(sources - k)
        servers = math.factorial(k) if k <= runners else math.factorial(runners) * runners ** (k - runners)
        weights.append(arrangements * r**k / servers)
    p = np.array(weights) / sum(weights)
    in_system = float(np.dot(np.arange(sources + 1), p))
    queued = float(sum((k - runners) * p[k] for k in range(runners + 1, sources + 1)))
    throughput = (sources - in_system) / think_hours
    return queued / throughput


def batch_means(waits: np.ndarray, warm_up: int) -> tuple[float, float]:
    """Mean and 95% confidence half-width from ``BATCHES`` batch means after ``warm_up`` observations."""
    kept = waits[warm_up:]
    kept = kept[: len(kept) // BATCHES * BATCHES]
    means = kept.reshape(BATCHES, -1).mean(axis=1)
    half_width = stats.t.ppf(0.975, BATCHES - 1) * means.std(ddof=1) / math.sqrt(BATCHES)
    return float(means.mean()), float(half_width)


def waits_in_arrival_order(model: PoolOnly) -> np.ndarray:
    rows = sorted(model.log.ci_runs, key=lambda row: row[5])  # queued_hours
    return np.array([started - queued for *_, queued, started, _finished, _outcome in rows])


def test_ci_pool_with_poisson_arrivals_matches_erlang_c():
    runners, arrivals_per_hour, jobs = 4, 18.0, 150_000  # load 0.75
    model = PoolOnly(runners, seed=11)
    rng = np.random.default_rng(1011)

    def arrivals():
        for gap in rng.exponential(1 / arrivals_per_hour, jobs):
            yield model.env.timeout(gap)
            model.env.process(model.ci.run_once("pre_merge", "trunk", None, [], 0))

    model.env.process(arrivals())
    model.env.run()
    expected = erlang_c_wait_hours(arrivals_per_hour, 1 / MEAN_SERVICE_HOURS, runners)
    mean, half_width = batch_means(waits_in_arrival_order(model), warm_up=1_000)
    assert half_width < 0.015 * expected
    assert abs(mean - expected) < 0.03 * expected, (mean, expected, half_width)


def test_ci_pool_with_developers_as_sources_matches_the_finite_source_formula():
    runners, sources, think_hours, rounds = 3, 10, 40 / 60, 12_000
    model = PoolOnly(runners, seed=12)
    rng = np.random.default_rng(1012)

    def developer():
        for think in rng.exponential(think_hours, rounds):
            yield model.env.timeout(think)
            yield from model.ci.run_once("pre_merge", "trunk", None, [], 0)

    for _ in range(sources):
        model.env.process(developer())
    model.env.run()
    expected = finite_source_wait_hours(sources, think_hours, 1 / MEAN_SERVICE_HOURS, runners)
    mean, half_width = batch_means(waits_in_arrival_order(model), warm_up=1_000)
    assert half_width < 0.015 * expected
    assert abs(mean - expected) < 0.03 * expected, (mean, expected, half_width)


def test_erlang_c_formula_matches_a_textbook_value():
    # c = 2, a = 1 (λ = 1, μ = 1): C = 1/3, Wq = C / (c·μ − λ) = 1/3.
    assert math.isclose(erlang_c_wait_hours(1.0, 1.0, 2), 1 / 3)
    # One runner, one source: the finite-source queue never waits.
    assert finite_source_wait_hours(1, 1.0, 1.0, 1) == 0.0

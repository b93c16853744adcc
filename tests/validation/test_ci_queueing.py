"""The engine's CI runner pool against queueing theory (docs/validation.md, section 1).

The component under test is :class:`trunksim.engine.ci.CIService` itself — the runner
pool (``PriorityPool``, first come first served within priority), its duration stream and its log — driven by a
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
(batch means, Student t with 29 degrees of freedom). The test requires the 99%
confidence half-width to be under 3% of the formula, and the formula to lie inside
that interval: the simulated mean wait agrees with the formula to within 3%, at 99%
confidence. Seeds are fixed; an unbiased simulator fails this for about 1 seed in 100.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
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
        self.ci = CIService(self.env, self.scenario.ci, self.streams, self.log)


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


def batch_means(waits: np.ndarray, warm_up: int, confidence: float = 0.99) -> tuple[float, float]:
    """Mean and confidence half-width from ``BATCHES`` batch means after ``warm_up`` observations."""
    kept = waits[warm_up:]
    kept = kept[: len(kept) // BATCHES * BATCHES]
    means = kept.reshape(BATCHES, -1).mean(axis=1)
    half_width = stats.t.ppf(0.5 + confidence / 2, BATCHES - 1) * means.std(ddof=1) / math.sqrt(BATCHES)
    return float(means.mean()), float(half_width)


def waits_in_arrival_order(model: PoolOnly) -> np.ndarray:
    rows = sorted(model.log.ci_runs, key=lambda row: row.queued_hours)
    return np.array([row.started_hours - row.queued_hours for row in rows])


def open_pool_experiment(runners: int = 2, arrivals_per_hour: float = 6.0, jobs: int = 700_000, seed: int = 11) -> dict:
    """Poisson arrivals into the runner pool; load λ/(c·μ) = 0.5 by default. Returns formula and simulation, hours."""
    model = PoolOnly(runners, seed=seed)
    rng = np.random.default_rng(1000 + seed)

    def arrivals():
        for gap in rng.exponential(1 / arrivals_per_hour, jobs):
            yield model.env.timeout(gap)
            model.env.process(model.ci.run_once("pre_merge", "trunk", None, [], 0))

    model.env.process(arrivals())
    model.env.run()
    mean, half_width = batch_means(waits_in_arrival_order(model), warm_up=1_000)
    return {"formula": erlang_c_wait_hours(arrivals_per_hour, 1 / MEAN_SERVICE_HOURS, runners), "mean": mean, "half_width_99": half_width}


def closed_pool_experiment(runners: int = 2, sources: int = 8, think_hours: float = 0.5, rounds: int = 20_000, seed: int = 12) -> dict:
    """Developers as sources: each thinks (exponential), submits a run and waits for it. Hours."""
    model = PoolOnly(runners, seed=seed)
    rng = np.random.default_rng(1000 + seed)

    def developer():
        for think in rng.exponential(think_hours, rounds):
            yield model.env.timeout(think)
            yield from model.ci.run_once("pre_merge", "trunk", None, [], 0)

    for _ in range(sources):
        model.env.process(developer())
    model.env.run()
    mean, half_width = batch_means(waits_in_arrival_order(model), warm_up=1_000)
    formula = finite_source_wait_hours(sources, think_hours, 1 / MEAN_SERVICE_HOURS, runners)
    return {"formula": formula, "mean": mean, "half_width_99": half_width}


@pytest.mark.parametrize("experiment", [open_pool_experiment, closed_pool_experiment], ids=["erlang-c", "finite-source"])
def test_ci_pool_mean_queue_wait_matches_queueing_theory_within_3_percent(experiment):
    result = experiment()
    assert result["half_width_99"] < 0.03 * result["formula"]
    assert abs(result["mean"] - result["formula"]) < result["half_width_99"], result


def test_ci_pool_is_exactly_a_first_come_first_served_multi_server_queue():
    """Given the logged arrival and service times, the Kiefer-Wolfowitz recursion reproduces every logged start."""
    runners = 3
    model = PoolOnly(runners, seed=13)
    rng = np.random.default_rng(1013)

    def arrivals():
        for gap in rng.exponential(1 / 15.0, 20_000):
            yield model.env.timeout(gap)
            model.env.process(model.ci.run_once("pre_merge", "trunk", None, [], 0))

    model.env.process(arrivals())
    model.env.run()
    rows = sorted(model.log.ci_runs, key=lambda row: row.queued_hours)
    free_at = [0.0] * runners
    for row in rows:
        queued, started, finished = row.queued_hours, row.started_hours, row.finished_hours
        runner = min(range(runners), key=free_at.__getitem__)
        expected_start = max(free_at[runner], queued)
        assert started == pytest.approx(expected_start, abs=1e-9)
        free_at[runner] = expected_start + (finished - started)


def test_erlang_c_formula_matches_a_textbook_value():
    # c = 2, a = 1 (λ = 1, μ = 1): C = 1/3, Wq = C / (c·μ − λ) = 1/3.
    assert math.isclose(erlang_c_wait_hours(1.0, 1.0, 2), 1 / 3)
    # One runner, one source: the finite-source queue never waits.
    assert finite_source_wait_hours(1, 1.0, 1.0, 1) == 0.0

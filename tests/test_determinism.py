"""Determinism: the same seed gives identical results wherever the replications run.

For every shipped scenario file and every registered strategy (each shipped scenario is
also run under the other strategies: same team and work, other process), shortened to
four weeks: the results frame is bit-identical serially, with two local processes and on
a two-worker Dask cluster of processes; the full event tables of a replication are
identical in this process, in a worker process and on Dask; a fresh interpreter with
another hash seed gives the same bytes; and a different seed gives a different frame.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor

import pandas as pd
import pytest

import trunksim
from trunksim.experiment import simulate
from trunksim.scenario import load_scenario
from trunksim.strategies.registry import REGISTRY

from conftest import ROOT, SCENARIOS

SHORT = {"simulation.duration": "4w", "simulation.warm_up": "1w"}
REPLICATIONS = 2
SEED = 11
SHIPPED = sorted(p for p in SCENARIOS.rglob("*.yaml") if not p.name.startswith("_"))


def variants():
    """Every shipped scenario, shortened, under its own strategy and under every other registered one."""
    scenarios = []
    for path in SHIPPED:
        scenario = load_scenario(path, overrides=SHORT)
        label = str(path.relative_to(SCENARIOS))
        scenarios.append(scenario.with_overrides({"name": label}))
        for strategy in REGISTRY:
            if strategy != scenario.strategy.name:
                scenarios.append(scenario.with_overrides({"name": f"{label} as {strategy}", "strategy": {"name": strategy}}))
    return scenarios


SCENARIO_VARIANTS = variants()


def test_every_shipped_scenario_and_every_registered_strategy_is_covered():
    assert {s.strategy.name for s in SCENARIO_VARIANTS} == set(REGISTRY)
    assert len(SCENARIO_VARIANTS) == len(SHIPPED) * len(REGISTRY)


@pytest.fixture(scope="module")
def serial() -> pd.DataFrame:
    return trunksim.run(SCENARIO_VARIANTS, replications=REPLICATIONS, seed=SEED)


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
    ) as cluster, distributed.Client(cluster) as client:
        yield client


def test_running_twice_in_one_process_gives_the_identical_frame(serial):
    again = trunksim.run(SCENARIO_VARIANTS, replications=REPLICATIONS, seed=SEED)

    pd.testing.assert_frame_equal(serial, again, check_exact=True)


def test_two_local_processes_give_the_identical_frame(serial):
    parallel = trunksim.run(SCENARIO_VARIANTS, replications=REPLICATIONS, seed=SEED, jobs=2)

    pd.testing.assert_frame_equal(serial, parallel, check_exact=True)


def test_a_dask_cluster_gives_the_identical_frame(serial, dask_client):
    on_dask = trunksim.run(SCENARIO_VARIANTS, replications=REPLICATIONS, seed=SEED, executor=dask_client)

    pd.testing.assert_frame_equal(serial, on_dask, check_exact=True)


def test_a_different_seed_gives_a_different_frame_for_every_scenario(serial):
    other = trunksim.run(SCENARIO_VARIANTS, replications=REPLICATIONS, seed=SEED + 1)
    metrics = [c for c in serial.columns if c not in ("scenario", "strategy", "replication", "seed")]

    for name in dict.fromkeys(serial["scenario"]):
        mine = serial.loc[serial["scenario"] == name, metrics].reset_index(drop=True)
        theirs = other.loc[other["scenario"] == name, metrics].reset_index(drop=True)
        assert not mine.equals(theirs), name


def event_tables(scenario, seed=SEED, replication=1):
    """All event tables of one replication (a picklable task for any executor)."""
    return simulate(scenario, seed=seed, replication=replication).frames


def assert_same_tables(first: dict, second: dict) -> None:
    assert first.keys() == second.keys()
    for name in first:
        pd.testing.assert_frame_equal(first[name], second[name], check_exact=True, obj=name)


def test_event_tables_are_identical_in_a_worker_process_and_on_dask(dask_client):
    here = [event_tables(s) for s in SCENARIO_VARIANTS]
    with ProcessPoolExecutor(max_workers=2) as pool:
        in_processes = list(pool.map(event_tables, SCENARIO_VARIANTS))
    on_dask = dask_client.gather(dask_client.map(event_tables, SCENARIO_VARIANTS, pure=False))

    for mine, theirs, dasks in zip(here, in_processes, on_dask):
        assert_same_tables(mine, theirs)
        assert_same_tables(mine, dasks)


DIGEST = """
import hashlib, sys
import trunksim
from trunksim.scenario import load_scenario
files = sys.argv[1:]
frame = trunksim.run([load_scenario(f, overrides={"simulation.duration": "4w", "simulation.warm_up": "1w"}) for f in files],
                     replications=2, seed=11)
print(hashlib.sha256(frame.to_csv(index=False, float_format="%.17g").encode()).hexdigest())
"""


def test_a_fresh_interpreter_with_another_hash_seed_gives_the_same_bytes():
    """Python randomises str hashes per process; no result may depend on set or dict-of-str order."""
    files = [str(SCENARIOS / f"{name}.yaml") for name in ("trunk-based", "github-flow", "gitflow")]
    digests = set()
    for hash_seed in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run(
            [sys.executable, "-c", DIGEST, *files], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300
        )
        assert done.returncode == 0, done.stderr
        digests.add(done.stdout.strip())
    here = trunksim.run([load_scenario(f, overrides=SHORT) for f in files], replications=2, seed=11)
    digests.add(hashlib.sha256(here.to_csv(index=False, float_format="%.17g").encode()).hexdigest())

    assert len(digests) == 1

"""Parallel, Dask and batch runs give the same results as a serial run, and lose nothing when stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from trunksim.batch import run_batch
from trunksim.experiment import Point, expand_sweep, run, sweep

from conftest import SCENARIOS, small


def test_two_processes_give_the_same_frame_as_one():
    scenarios = [small("trunk-based"), small("gitflow")]
    serial = run(scenarios, replications=3, seed=5, jobs=1)
    parallel = run(scenarios, replications=3, seed=5, jobs=2)
    pd.testing.assert_frame_equal(serial, parallel, check_exact=True)


def test_a_dask_cluster_gives_the_same_frame_as_one_process():
    distributed = pytest.importorskip("dask.distributed")
    scenarios = [small("github-flow"), small("trunk-based")]
    serial = run(scenarios, replications=3, seed=6)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            on_dask = run(scenarios, replications=3, seed=6, executor=client)
    pd.testing.assert_frame_equal(serial, on_dask, check_exact=True)


def test_sweep_adds_one_column_per_parameter_and_pairs_the_points():
    frame = sweep(small("trunk-based"), {"ci.runners": [1, 3], "ci.duration": ["10m", "30m"]}, replications=2, seed=7)
    assert list(frame.columns[4:6]) == ["ci.runners", "ci.duration"]
    assert sorted(set(frame["ci.runners"])) == [1, 3]
    assert sorted(set(frame["ci.duration"])) == [pytest.approx(10 / 60), 0.5]
    assert frame.groupby("scenario").size().tolist() == [2, 2, 2, 2]


def test_sweep_variants_are_named():
    points = expand_sweep(small("trunk-based"), variants=[{"name": "fast", "set": {"ci.duration": "2m"}}])
    assert points[0].scenario.name.endswith("[fast]")
    assert points[0].parameters == {"variant": "fast"}


def test_resume_recomputes_only_what_is_missing(tmp_path):
    points = [Point(small("trunk-based")), Point(small("github-flow"))]
    whole = run_batch(points, tmp_path / "a", replications=2, seed=8, plots=False, report=False)
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert all(entry["done"] for entry in manifest["scenarios"])
    (tmp_path / "a" / "runs" / "001.csv").unlink()
    before = (tmp_path / "a" / "runs" / "000.csv").stat().st_mtime_ns
    resumed = run_batch(points, tmp_path / "a", replications=2, seed=8, resume=True, plots=False, report=False)
    assert (tmp_path / "a" / "runs" / "000.csv").stat().st_mtime_ns == before
    pd.testing.assert_frame_equal(whole, resumed)


def test_changing_a_scenario_invalidates_its_saved_results(tmp_path):
    first = [Point(small("trunk-based"))]
    run_batch(first, tmp_path, replications=2, seed=9, plots=False, report=False)
    changed = [Point(small("trunk-based", ci={"runners": 1}))]
    frame = run_batch(changed, tmp_path, replications=2, seed=9, resume=True, plots=False, report=False)
    fresh = run(changed[0], replications=2, seed=9)
    assert frame["ci_queue_wait_mean_hours"].tolist() == pytest.approx(fresh["ci_queue_wait_mean_hours"].tolist())


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_batch_keeps_finished_work_and_resumes_to_the_same_result(tmp_path, signum):
    files = [str(SCENARIOS / f"{name}.yaml") for name in ("trunk-based", "github-flow", "gitflow", "scaled-trunk-based")]
    args = [sys.executable, "-m", "trunksim", "run", *files, "-n", "16", "--seed", "4", "-q", "--no-plots",
            "--set", "simulation.duration=4w", "--set", "simulation.warm_up=1w"]
    out = tmp_path / "stopped"
    process = subprocess.Popen(args + ["-o", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    manifest = out / "manifest.json"
    deadline = time.time() + 120
    while time.time() < deadline:
        if manifest.exists() and '"done": true' in manifest.read_text():
            break
        time.sleep(0.05)
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    entries = json.loads(manifest.read_text())["scenarios"]
    finished = [e for e in entries if e["done"]]
    assert process.returncode == 130, err
    assert "--resume" in err and "Traceback" not in err
    assert 1 <= len(finished) < len(entries)
    for entry in finished:
        assert len(pd.read_csv(out / entry["file"])) == 16
    assert not (out / "replications.csv").exists()
    done = subprocess.run(args + ["-o", str(out), "--resume"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    fresh = subprocess.run(args + ["-o", str(tmp_path / "fresh")], capture_output=True, text=True, timeout=300)
    assert fresh.returncode == 0, fresh.stderr
    assert (out / "replications.csv").read_bytes() == (tmp_path / "fresh" / "replications.csv").read_bytes()


def test_the_cli_on_a_dask_scheduler_writes_the_same_files_as_one_process(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    from typer.testing import CliRunner

    from trunksim.cli import app

    args = [str(SCENARIOS / "trunk-based.yaml"), "-n", "3", "--seed", "2", "-q", "--no-plots",
            "--set", "simulation.duration=4w", "--set", "simulation.warm_up=1w"]
    runner = CliRunner()
    assert runner.invoke(app, ["run", *args, "-o", str(tmp_path / "local")]).exit_code == 0
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        result = runner.invoke(app, ["run", *args, "-o", str(tmp_path / "dask"), "--scheduler", cluster.scheduler_address])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "dask" / "replications.csv").read_bytes() == (tmp_path / "local" / "replications.csv").read_bytes()


def test_the_html_report_is_self_contained(tmp_path):
    points = [Point(small("trunk-based")), Point(small("gitflow"))]
    run_batch(points, tmp_path, replications=2, seed=3, plots=True, report=True)
    html = (tmp_path / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 3
    assert "lead_time_median_hours" in html and "gitflow" in html
    assert "src=\"http" not in html and "href=\"http" not in html

"""Batch output folders under a careless or unlucky user (issue 12, items 1, 2, 3, 7, 8 and 11), in this process.

One run per folder (a lock, released on every exit path, a stale one taken over); a fresh
run clears only an earlier run's files; ``--resume`` verifies every kept file against the
hash in the manifest; names survive every file format; output-folder failures are one
line with the path and leave no temporary file; ``-n`` is bounded; the README's globs work
and the baseline is said. Signals, worker processes and Dask are in
``tests/test_batch_processes.py``.
"""

from __future__ import annotations

import csv
import glob
import hashlib
import json
import os
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from trunksim import batch as batch_module
from trunksim.batch import (
    LOCK,
    MAX_REPLICATIONS,
    BatchError,
    BatchInterrupted,
    FolderInUse,
    FolderLock,
    OutputFolderError,
    read_results_csv,
    run_batch,
)
from trunksim.cli import app
from trunksim.experiment import Point

from conftest import ROOT, SCENARIOS, small

runner = CliRunner()
SHORT = ["--set", "simulation.duration=3w", "--set", "simulation.warm_up=1w"]


def tiny(kind: str = "trunk-based", **sections):
    """A scenario that simulates in a few hundredths of a second."""
    return small(kind, simulation={"duration": "3w", "warm_up": "1w"}, **sections)


def points(*kinds: str) -> list[Point]:
    return [Point(tiny(kind)) for kind in kinds]


def quiet_batch(pts, out, **keywords):
    notes: list[str] = []
    keywords.setdefault("replications", 2)
    keywords.setdefault("seed", 3)
    keywords.setdefault("plots", False)
    keywords.setdefault("report", False)
    frame = run_batch(pts, out, notify=notes.append, **keywords)
    return frame, notes


def temporaries(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*.tmp")] if folder.exists() else []


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def one_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert "Traceback" not in result.output
    assert len(lines) == 1, result.output
    return lines[0]


# --- 1. One run per folder -----------------------------------------------------------------


def test_a_run_into_a_folder_another_run_holds_is_refused_naming_the_owner(tmp_path):
    out = tmp_path / "out"
    with FolderLock(out):
        with pytest.raises(FolderInUse, match=rf"{out} is in use by another trunksim run \(pid {os.getpid()} on .*, started"):
            quiet_batch(points("trunk-based"), out)
        result = invoke("run", SCENARIOS / "trunk-based.yaml", "-n", 1, "-q", "--no-plots", "-o", out, *SHORT)
        assert result.exit_code == 1
        assert one_line(result).startswith(f"error: {out} is in use by another trunksim run (pid {os.getpid()}")
        assert sorted(p.name for p in out.iterdir()) == [LOCK]  # nothing of the refused run
    assert not (out / LOCK).exists()


def test_a_stale_lock_of_a_dead_run_is_taken_over_with_a_message(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / LOCK).write_text(json.dumps({"pid": 999_999_999, "host": "elsewhere", "started": "2020-01-01 00:00:00 UTC"}))
    _, notes = quiet_batch(points("trunk-based"), out)
    assert any("took over" in note and "no longer running" in note and "pid 999999999" in note for note in notes), notes
    assert not (out / LOCK).exists()
    assert (out / "replications.csv").exists()


@pytest.mark.parametrize("how", ["finishes", "error in a replication", "interrupt", "error writing outputs"])
def test_the_lock_is_released_on_every_way_out(tmp_path, monkeypatch, how):
    out = tmp_path / "out"
    if how == "error in a replication":
        def fail(task):
            raise RuntimeError("boom")
        monkeypatch.setattr(batch_module, "replicate", fail)
    elif how == "interrupt":
        def stop(task):
            raise KeyboardInterrupt
        monkeypatch.setattr(batch_module, "replicate", stop)
    elif how == "error writing outputs":
        def full(*args, **kwargs):
            raise OSError(27, "File too large", str(out / "summary.csv"))
        monkeypatch.setattr(batch_module, "write_outputs", full)
    expected = {"finishes": None, "error in a replication": RuntimeError, "interrupt": BatchInterrupted,
                "error writing outputs": OutputFolderError}[how]
    if expected is None:
        quiet_batch(points("trunk-based"), out)
    else:
        with pytest.raises(expected):
            quiet_batch(points("trunk-based"), out)
    assert not (out / LOCK).exists()
    with FolderLock(out):  # and it can be taken again
        pass


def test_worker_processes_do_not_inherit_the_lock(tmp_path):
    out = tmp_path / "out"
    with FolderLock(out) as lock:
        descriptor = lock.descriptor
        child = os.fork()
        if child == 0:  # the child (a forked worker) must not hold a descriptor of the lock
            os._exit(0 if lock.descriptor is None and not _open(descriptor) else 1)
        _, status = os.waitpid(child, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert lock.descriptor == descriptor and _open(descriptor)
        with pytest.raises(FolderInUse):  # still held by this process
            FolderLock(out).acquire()


def _open(descriptor: int) -> bool:
    try:
        os.fstat(descriptor)
    except OSError:
        return False
    return True


# --- 1 and 7. A fresh run into a used folder ------------------------------------------------------


def test_a_fresh_run_clears_only_an_earlier_runs_files_and_says_which(tmp_path):
    out = tmp_path / "out"
    quiet_batch(points("trunk-based", "github-flow", "gitflow"), out, plots=True, report=True)
    (out / "notes.txt").write_text("mine")
    (out / "runs" / "README").write_text("mine too")
    assert len(list((out / "plots").glob("*.png"))) > 3
    frame, notes = quiet_batch(points("github-flow"), out, seed=9)
    assert set(frame["scenario"]) == {"github-flow"}
    assert sorted(p.name for p in (out / "runs").iterdir()) == ["000.csv", "README"]
    assert list((out / "plots").glob("*.png")) == []  # no plot of the earlier run passes for this one's
    assert not (out / "report.html").exists()
    assert (out / "notes.txt").read_text() == "mine"
    assert set(pd.read_csv(out / "replications.csv")["seed"]) == {9}
    (note,) = notes
    assert note.startswith(f"cleared an earlier run's results from {out}: manifest.json, replications.csv")
    assert "runs/ (3 files)" in note and "plots/ (" in note and "other files are left as they are" in note


@pytest.mark.parametrize("name", ["summary.csv", "replications.csv", "runs/000.csv", "plots/dora.png"])
def test_results_that_no_manifest_accounts_for_are_never_overwritten(tmp_path, name):
    out = tmp_path / "out"
    (out / name).parent.mkdir(parents=True, exist_ok=True)
    (out / name).write_text("someone else's")
    for resume in (False, True):
        with pytest.raises(OutputFolderError, match="holds results that no trunksim manifest accounts for"):
            quiet_batch(points("trunk-based"), out, resume=resume)
        assert (out / name).read_text() == "someone else's"
    assert not (out / LOCK).exists() and not (out / "manifest.json").exists()


# --- 2. Resume trusts nothing unverified -------------------------------------------------------


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    lines = data.splitlines(keepends=True)
    if how == "header only":
        path.write_bytes(lines[0])
    elif how == "row cut in the middle":
        path.write_bytes(b"".join(lines[:2]) + lines[2][: len(lines[2]) // 2])
    elif how == "garbage":
        path.write_bytes(b"\x00\xff garbage, not, csv\n" * 3)
    elif how == "one number changed":
        path.write_bytes(data.replace(b",0.", b",1.", 1))
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "deleted":
        path.unlink()
    elif how == "rows of another scenario":  # a valid file of the right shape, from elsewhere
        path.write_bytes((path.parent / "000.csv").read_bytes())


@pytest.mark.parametrize(
    "how", ["header only", "row cut in the middle", "garbage", "one number changed", "empty", "deleted", "rows of another scenario"]
)
def test_resume_recomputes_a_damaged_runs_file_and_ends_as_an_uninterrupted_run(tmp_path, how):
    pts = points("trunk-based", "github-flow", "gitflow")
    whole, _ = quiet_batch(pts, tmp_path / "whole")
    out = tmp_path / "out"
    quiet_batch(pts, out)
    _damage(out / "runs" / "001.csv", how)
    kept = (out / "runs" / "000.csv").stat().st_mtime_ns
    resumed, notes = quiet_batch(pts, out, resume=True)
    assert any(note.startswith(f"{out / 'runs' / '001.csv'}: ") and note.endswith("recomputing it") for note in notes), notes
    assert "1 to run" in notes[-1]
    assert (out / "runs" / "000.csv").stat().st_mtime_ns == kept  # what verifies is kept
    assert (out / "replications.csv").read_bytes() == (tmp_path / "whole" / "replications.csv").read_bytes()
    pd.testing.assert_frame_equal(resumed, whole)


def test_a_runs_file_of_an_older_manifest_without_a_hash_is_recomputed(tmp_path):
    pts = points("trunk-based")
    out = tmp_path / "out"
    quiet_batch(pts, out)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["manifest_version"] = 1
    for entry in manifest["scenarios"]:
        entry.pop("file_sha256")
    (out / "manifest.json").write_text(json.dumps(manifest))
    _, notes = quiet_batch(pts, out, resume=True)
    assert any("no content hash recorded" in note for note in notes), notes


@pytest.mark.parametrize(
    "content, why",
    [
        ("[]", "it holds a list, not an object"),
        ("null", "it holds null, not an object"),
        ('"text"', "it holds a string, not an object"),
        ('{"scenarios": 5}', "no manifest_version"),
        ('{"manifest_version": 2, "scenarios": 5}', "'scenarios' is a number, not a list"),
        ('{"manifest_version": 2, "scenarios": [{}, 2]}', "an entry of 'scenarios' is a number, not an object"),
        ('{"manifest_version": 2}', "'scenarios' is null, not a list"),
        ('{"manifest_version": 99, "scenarios": []}', "was written by a newer trunksim"),
        ("{not json", "not valid JSON"),
        ("[" * 100_000, "not valid JSON"),
        ("\udcff", "not valid JSON"),
    ],
)
def test_a_manifest_of_the_wrong_shape_is_one_line_and_left_alone(tmp_path, content, why):
    out = tmp_path / "out"
    out.mkdir()
    data = content.encode("utf-8", "surrogateescape")
    (out / "manifest.json").write_bytes(data)
    for extra in (["--resume"], []):
        result = invoke("run", SCENARIOS / "trunk-based.yaml", "-n", 1, "-q", "--no-plots", "-o", out, *SHORT, *extra)
        assert result.exit_code == 1
        line = one_line(result)
        assert line.startswith(f"error: {out / 'manifest.json'}") and why in line, line
        assert (out / "manifest.json").read_bytes() == data
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json"]


def test_entries_of_a_manifest_with_odd_fields_are_recomputed_not_trusted(tmp_path):
    pts = points("trunk-based", "github-flow")
    out = tmp_path / "out"
    quiet_batch(pts, out)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["scenarios"][0].update(done="yes", file=None)
    manifest["scenarios"][1].update(file="../../etc/passwd", file_sha256=7)
    (out / "manifest.json").write_text(json.dumps(manifest))
    _, notes = quiet_batch(pts, out, resume=True)
    assert "0 of 2 scenario(s) kept, 2 to run" in notes[-1]


def test_no_summary_is_written_from_a_file_that_changed_during_the_run(tmp_path, monkeypatch):
    pts = points("trunk-based", "github-flow")
    out = tmp_path / "out"
    record = batch_module.Batch.record

    def record_then_damage(self, index, *args, **kwargs):
        record(self, index, *args, **kwargs)
        if index == 1:
            _damage(out / "runs" / "000.csv", "header only")

    monkeypatch.setattr(batch_module.Batch, "record", record_then_damage)
    with pytest.raises(BatchError, match=r"runs/000.csv: its content changed after it was written; nothing is summarized"):
        quiet_batch(pts, out)
    for name in ("replications.csv", "summary.csv", "replications.parquet"):
        assert not (out / name).exists()
    assert not (out / LOCK).exists()


def test_an_interrupt_while_the_outputs_are_written_leaves_no_partial_outputs_and_resume_writes_them(tmp_path, monkeypatch):
    pts = points("trunk-based", "github-flow")
    out = tmp_path / "out"
    real = batch_module.write_report

    def interrupted(*args, **kwargs):  # replications.csv and summary.csv are written by then
        assert (out / "summary.csv").exists()
        real(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(batch_module, "write_report", interrupted)
    with pytest.raises(BatchInterrupted, match="interrupted while writing the outputs: all 2 scenario"):
        quiet_batch(pts, out, report=True)
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "runs"]
    assert json.loads((out / "manifest.json").read_text())["complete"] is False
    monkeypatch.setattr(batch_module, "write_report", real)
    _, notes = quiet_batch(pts, out, report=True, resume=True)
    assert "2 of 2 scenario(s) kept, 0 to run" in notes[-1]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is True
    assert set(manifest["outputs"]) >= {"replications.csv", "summary.csv", "report.html"}


def test_every_finished_file_is_recorded_with_its_hash(tmp_path):
    out = tmp_path / "out"
    quiet_batch(points("trunk-based", "gitflow"), out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["manifest_version"] == 2 and manifest["complete"] is True
    for entry in manifest["scenarios"]:
        assert entry["file_sha256"] == hashlib.sha256((out / entry["file"]).read_bytes()).hexdigest()
        assert entry["rows"] == 2


# --- 3. Names are data -------------------------------------------------------------------------

NAMES = ["NA", "nan", "NaN", "None", "null", "TRUE", "false", "007", "1e5", "-", "#x", " spaced ", "a,b", 'q"uote', "x\ny", "ünï 😀"]


def test_scenario_names_survive_every_file_format_exactly(tmp_path):
    pts = [Point(tiny().with_overrides({"name": name})) for name in NAMES] + [
        Point(tiny().with_overrides({"name": "1"})), Point(tiny().with_overrides({"name": "01"}))
    ]
    names = NAMES + ["1", "01"]
    frame, _ = quiet_batch(pts, tmp_path, replications=1, report=True)
    assert frame["scenario"].tolist() == names
    with open(tmp_path / "replications.csv", newline="", encoding="utf-8") as handle:
        assert [row["scenario"] for row in csv.DictReader(handle)] == names
    assert read_results_csv(str((tmp_path / "replications.csv").read_text(encoding="utf-8")))["scenario"].tolist() == names
    summary = read_results_csv((tmp_path / "summary.csv").read_text(encoding="utf-8"))
    assert list(dict.fromkeys(summary["scenario"])) == names
    assert set(summary["baseline"].astype(str)) == {"NA"}
    if (tmp_path / "replications.parquet").exists():
        assert pd.read_parquet(tmp_path / "replications.parquet")["scenario"].tolist() == names
    runs = [read_results_csv((tmp_path / "runs" / f"{i:03d}.csv").read_text(encoding="utf-8"))["scenario"][0] for i in range(len(names))]
    assert runs == names


@pytest.mark.parametrize("name", ['"NA"', '"nan"', '"None"', '"null"', '"TRUE"', '"007"'])
def test_a_name_set_on_the_command_line_survives_the_run(tmp_path, name):
    result = invoke("run", SCENARIOS / "trunk-based.yaml", "-n", 1, "-q", "--no-plots", "-o", tmp_path, *SHORT, "--set", f"name={name}")
    assert result.exit_code == 0, result.output
    assert pd.read_csv(tmp_path / "replications.csv", dtype=str, keep_default_na=False)["scenario"].tolist() == [name.strip('"')]


def test_two_scenarios_of_one_name_are_refused_before_anything_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(batch_module, "replicate", lambda task: pytest.fail("computed"))
    with pytest.raises(ValueError, match=r"scenarios 1 and 3 are both named 'trunk-based'"):
        quiet_batch(points("trunk-based", "gitflow", "trunk-based"), tmp_path / "out")
    assert not (tmp_path / "out").exists()
    trunk = SCENARIOS / "trunk-based.yaml"
    result = invoke("run", trunk, SCENARIOS / "gitflow.yaml", trunk, "-n", 1, "-q", "-o", tmp_path / "cli", *SHORT)
    assert result.exit_code == 1
    assert one_line(result) == (
        f"error: two scenarios are named 'trunk-based' ({trunk} (twice)); names identify the rows of every output: "
        "give each scenario its own `name:`"
    )
    assert not (tmp_path / "cli").exists()


def test_names_that_differ_only_in_ways_csv_would_hide_are_distinct(tmp_path):
    pts = [Point(tiny().with_overrides({"name": n})) for n in ("1", "01", "1.0", " 1")]
    frame, _ = quiet_batch(pts, tmp_path, replications=1)
    assert frame["scenario"].tolist() == ["1", "01", "1.0", " 1"]
    assert len(read_results_csv((tmp_path / "summary.csv").read_text())["scenario"].unique()) == 4


def test_a_name_a_csv_file_cannot_give_back_is_refused_before_anything_runs(tmp_path):
    with pytest.raises(ValueError, match=r"the scenario name 'a\\rb' would not read back .* carriage return"):
        quiet_batch([Point(tiny().with_overrides({"name": "a\rb"}))], tmp_path / "out")
    assert not (tmp_path / "out").exists()


# --- 7. Output-folder failures: one line with the path, exit 1, no temporary ----------------------


def _run_into(out, *extra):
    return invoke("run", SCENARIOS / "trunk-based.yaml", "-n", 1, "-q", "-o", out, *SHORT, *extra)


def test_an_existing_file_as_the_output_folder_is_one_line(tmp_path):
    file = tmp_path / "file.txt"
    file.write_text("keep")
    for out, message in ((file, f"error: cannot use {file} as the output folder: it exists and is not a folder"),
                         (file / "sub", f"error: cannot create the output folder {file / 'sub'}: {file} is a file, not a folder")):
        result = _run_into(out)
        assert result.exit_code == 1
        assert one_line(result) == message
    assert file.read_text() == "keep"


@pytest.mark.parametrize("empty", ["", " "])
def test_an_empty_output_folder_name_is_refused(tmp_path, monkeypatch, empty):
    monkeypatch.chdir(tmp_path)
    result = _run_into(empty)
    assert result.exit_code == 1
    assert one_line(result) == "error: the output folder is an empty name (-o ''); name a folder, e.g. -o results"
    assert list(tmp_path.iterdir()) == []


def test_a_read_only_output_folder_is_one_line_with_the_path(tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    if os.geteuid() == 0:  # root writes anywhere: make the folder refuse every new file instead
        real_open = os.open

        def refusing(path, flags, *args, **kwargs):
            if str(path).startswith(str(out)) and flags & os.O_CREAT:
                raise PermissionError(13, "Permission denied", str(path))
            return real_open(path, flags, *args, **kwargs)

        monkeypatch.setattr(os, "open", refusing)
        expected = f"error: cannot write {out / LOCK}: Permission denied"
    else:
        out.chmod(0o555)
        expected = f"error: cannot write {out}: permission denied"
    try:
        result = _run_into(out)
    finally:
        out.chmod(0o755)
    assert result.exit_code == 1
    assert one_line(result) == expected
    assert list(out.iterdir()) == []


def test_a_folder_that_cannot_be_created_is_one_line(tmp_path):
    out = "/proc/trunksim-cannot-be-here" if Path("/proc/self").exists() else tmp_path / ("x" * 300)
    result = _run_into(out)
    assert result.exit_code == 1
    line = one_line(result)
    assert line.startswith("error: cannot ") and str(out)[:6] in line, line


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE")
def test_a_full_disk_is_one_line_with_the_path_and_leaves_no_temporary_and_resume_completes(tmp_path):
    import resource
    import subprocess

    out = tmp_path / "out"
    args = [sys.executable, "-m", "trunksim", "run", str(SCENARIOS / "trunk-based.yaml"), "-n", "2", "-q", "-o", str(out), *SHORT]
    limit = 40 * 1024  # larger than the runs files, smaller than the plots: the disk is "full" once the batch has run

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    full = subprocess.run(args, capture_output=True, text=True, preexec_fn=small_files, timeout=300)
    assert full.returncode == 1
    line = full.stderr.strip()  # the Parquet file or a plot, whichever passes the limit first
    assert line.startswith(f"error: cannot write {out}/") and "File too large" in line, line
    assert len(full.stderr.strip().splitlines()) == 1
    assert temporaries(out) == []
    assert not (out / "summary.csv").exists() and not (out / LOCK).exists()
    done = runner.invoke(app, args[3:] + ["--resume", "--no-plots"])  # room again: the rest, in this process
    assert done.exit_code == 0, done.output
    assert "1 of 1 scenario(s) kept, 0 to run" in done.output
    assert temporaries(out) == [] and (out / "summary.csv").exists()


def test_temporary_files_left_by_a_killed_run_are_removed_by_the_next(tmp_path):
    out = tmp_path / "out"
    quiet_batch(points("trunk-based"), out)
    left = [out / ".replications.csv.12345.0123abcd.tmp", out / "runs" / ".000.csv.999.deadbeef.tmp"]
    for path in left:
        path.write_text("half")
    (out / "mine.tmp").write_text("not trunksim's")
    quiet_batch(points("trunk-based"), out, resume=True)
    assert temporaries(out) == [out / "mine.tmp"]


# --- 8. -n bounded like the file -----------------------------------------------------------


@pytest.mark.parametrize("n", [0, -1, MAX_REPLICATIONS + 1, 100_000_000])
def test_replications_on_the_command_line_are_bounded_like_the_file(tmp_path, n):
    result = _run_into(tmp_path / "out", "-n", n)
    assert result.exit_code == 1
    assert one_line(result) == f"error: -n/--replications: {n:,} is not between 1 and 100,000 (the bound of simulation.replications)"
    assert not (tmp_path / "out").exists()


def test_the_bound_is_the_files_bound(tmp_path):
    from pydantic import ValidationError

    from trunksim.scenario.schema import Scenario

    Scenario.model_validate({"strategy": {"name": "trunk-based"}, "simulation": {"replications": MAX_REPLICATIONS}})
    with pytest.raises(ValidationError):
        Scenario.model_validate({"strategy": {"name": "trunk-based"}, "simulation": {"replications": MAX_REPLICATIONS + 1}})
    with pytest.raises(ValueError, match="100,000"):
        run_batch(points("trunk-based"), tmp_path / "out", replications=MAX_REPLICATIONS + 1)
    assert not (tmp_path / "out").exists()


# --- 11. The README's globs and the baseline ---------------------------------------------------


def _readme_glob(pattern: str) -> list[str]:
    return sorted(glob.glob(str(ROOT / pattern)))


def test_the_readme_commands_over_scenarios_glob_work(tmp_path):
    files = _readme_glob("scenarios/*.yaml")
    assert any(Path(f).name == "_base.yaml" for f in files)  # the fragment is in the glob
    for command in ("validate", "explain"):
        result = invoke(command, *files)
        assert result.exit_code == 0, result.output
        assert f"skipped {ROOT / 'scenarios' / '_base.yaml'}: a fragment" in result.output
    result = invoke("run", *files, "--baseline", "trunk-based", "--jobs", 2, "-n", 1, "-q", "--no-plots", "-o", tmp_path, *SHORT)
    assert result.exit_code == 0, result.output
    scenarios = [Path(f).stem for f in files if not Path(f).name.startswith("_")]
    expected = ["trunk-based"] + [name for name in scenarios if name != "trunk-based"]
    assert list(dict.fromkeys(pd.read_csv(tmp_path / "replications.csv")["scenario"])) == expected
    assert "paired differences in summary.csv are from the baseline: trunk-based (--baseline)" in result.output


def test_the_baseline_is_said_and_can_be_chosen(tmp_path):
    files = [SCENARIOS / "gitflow.yaml", SCENARIOS / "github-flow.yaml", SCENARIOS / "trunk-based.yaml"]
    result = invoke("run", *files, "-n", 2, "-q", "--no-plots", "-o", tmp_path / "first", *SHORT)
    assert result.exit_code == 0, result.output
    assert "from the baseline: gitflow (the first scenario given; --baseline NAME chooses another)" in result.output
    assert set(pd.read_csv(tmp_path / "first" / "summary.csv")["baseline"]) == {"gitflow"}
    result = invoke("run", *files, "-n", 2, "-q", "--no-plots", "-o", tmp_path / "chosen", *SHORT, "--baseline", "trunk-based")
    assert result.exit_code == 0, result.output
    assert "from the baseline: trunk-based (--baseline)" in result.output
    summary = pd.read_csv(tmp_path / "chosen" / "summary.csv")
    assert set(summary["baseline"]) == {"trunk-based"}
    assert summary[summary["scenario"] == "trunk-based"]["paired_diff_median"].fillna(0).eq(0).all()
    result = invoke("run", *files, "-n", 1, "-q", "-o", tmp_path / "x", *SHORT, "--baseline", "trunk")
    assert result.exit_code == 1
    assert one_line(result) == "error: --baseline 'trunk': no scenario of this run has that name (allowed: 'gitflow', 'github-flow', 'trunk-based')"
    assert not (tmp_path / "x").exists()


def test_only_fragments_is_one_line(tmp_path):
    for command in ("run", "validate", "explain"):
        result = invoke(command, SCENARIOS / "_base.yaml")
        assert result.exit_code == 1
        assert result.output.splitlines()[-1] == (
            f"error: nothing to {command}: every file given is a fragment (a name starting with '_' marks a file meant only to be extended)"
        )


def test_write_outputs_of_an_empty_frame_writes_nothing(tmp_path):
    from trunksim.batch import write_outputs
    from trunksim.experiment import columns_for

    empty = pd.DataFrame(columns=columns_for(points("trunk-based")))
    with pytest.raises(ValueError, match="at least one row"):
        write_outputs(empty, tmp_path / "out")
    assert not (tmp_path / "out").exists()

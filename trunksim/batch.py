"""Batch runs that lose nothing: per-scenario results written as they finish, a manifest, resume.

Layout of an output folder::

    OUT/manifest.json         what was asked (scenario content hashes, seed, replications,
                              package version) and what finished (with timings)
    OUT/runs/NNN.csv          one file per scenario or sweep point, written atomically
    OUT/replications.csv      every row, in scenario order   } written when the whole
    OUT/replications.parquet  the same, if pyarrow is there  } batch has finished
    OUT/summary.csv           medians, 95% intervals, paired differences
    OUT/plots/*.png, OUT/report.html

An interrupted batch (Ctrl-C, SIGTERM) keeps every finished ``runs/NNN.csv``;
``resume=True`` recomputes only what is missing or whose scenario changed (by content
hash). The results of a resumed batch are identical to an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any, Optional, Sequence

import pandas as pd

from trunksim.executors import completed, executor_for
from trunksim.io import parquet_available, write_csv, write_parquet, write_text
from trunksim.experiment import (
    Measure,
    Point,
    RunOptions,
    columns_for,
    progress_bar,
    replicate,
    resolve,
    summarize,
    takes_run_options,
)
from trunksim.metrics.levels import LEVELS, level_shares
from trunksim.report import write_report
from trunksim.scenario.size import check_size

MANIFEST_VERSION = 1


class BatchInterrupted(Exception):
    """A batch stopped early; ``finished`` of ``total`` points are safely on disk."""

    def __init__(self, folder: Path, finished: int, total: int) -> None:
        super().__init__(
            f"interrupted: {finished} of {total} scenario(s) finished and kept in {folder}; "
            "run the same command with --resume to complete the rest"
        )
        self.folder, self.finished, self.total = folder, finished, total


def scenario_hash(point: Point, seed: int, replications: int, measure: Measure = Measure()) -> str:
    """SHA-256 of what determines a point's results: scenario, swept values, seed, replications, metric rules."""
    payload = {
        "scenario": point.scenario.model_dump(mode="json"),
        "parameters": dict(point.parameters),
        "seed": seed,
        "replications": replications,
        "metrics_profile": measure.profile,
        "dora_year": measure.year,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


RESULTS_FLOAT_FORMAT = "%.10g"
"""How floats are printed in results CSV files (``runs/NNN.csv``, ``replications.csv``, ``summary.csv``): equal frames give equal bytes."""


def write_results_csv(frame: pd.DataFrame, path: Path) -> Path:
    """Atomically write a results CSV with :data:`RESULTS_FLOAT_FORMAT`; returns the path."""
    return write_csv(frame, path, float_format=RESULTS_FLOAT_FORMAT)


class Batch:
    """The output folder of a batch: what is done, and writing what finishes."""

    def __init__(
        self, folder: Path, points: Sequence[Point], seed: int, replications: int, resume: bool, measure: Measure = Measure()
    ) -> None:
        from trunksim import __version__

        self.folder = Path(folder)
        self.runs = self.folder / "runs"
        self.runs.mkdir(parents=True, exist_ok=True)
        self.points = list(points)
        self.hashes = [scenario_hash(p, seed, replications, measure) for p in self.points]
        previous = self._read_manifest() if resume else {}
        done_before = {entry["sha256"]: entry for entry in previous.get("scenarios", []) if entry.get("done")}
        self.entries = []
        for index, (point, digest) in enumerate(zip(self.points, self.hashes)):
            file = f"runs/{index:03d}.csv"
            old = done_before.get(digest)
            done = bool(old) and old.get("file") == file and (self.folder / file).exists()
            self.entries.append(
                {
                    "index": index, "name": point.scenario.name, "strategy": point.scenario.strategy.name,
                    "parameters": {k: v for k, v in point.parameters.items()}, "sha256": digest, "file": file,
                    "done": done, "seconds": old.get("seconds") if done and old else None,
                }
            )
        self.header = {
            "manifest_version": MANIFEST_VERSION, "trunksim_version": __version__, "seed": seed,
            "replications": replications, "metrics_profile": measure.profile, "dora_year": measure.year,
        }
        self._write_manifest()

    def _read_manifest(self) -> dict[str, Any]:
        try:
            return json.loads((self.folder / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def _write_manifest(self) -> None:
        write_text(self.folder / "manifest.json", json.dumps({**self.header, "scenarios": self.entries}, indent=2, default=str))

    def pending(self) -> list[int]:
        """Indices of points still to run."""
        return [e["index"] for e in self.entries if not e["done"]]

    def record(self, index: int, rows: list[dict], seconds: float, columns: list[str]) -> None:
        """A point finished: write its rows, then mark it done in the manifest."""
        write_results_csv(pd.DataFrame(rows, columns=columns), self.folder / self.entries[index]["file"])
        self.entries[index].update(done=True, seconds=round(seconds, 3))
        self._write_manifest()

    def frame(self, columns: list[str]) -> pd.DataFrame:
        """Every finished point's rows, in point order, with the result columns' types."""
        parts = [pd.read_csv(self.folder / e["file"]) for e in self.entries if e["done"]]
        frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
        return frame.reindex(columns=columns)


@takes_run_options
def run_batch(
    points: Sequence[Point],
    out: str | os.PathLike,
    *,
    resume: bool = False,
    plots: bool = True,
    report: bool = True,
    options: Optional[RunOptions] = None,
    **keywords: Any,
) -> pd.DataFrame:
    """Run points into an output folder, writing each as it finishes; return all rows.

    Parameters
    ----------
    points : sequence of Point
        Scenarios (or sweep points) to run.
    out : path
        Output folder (created).
    resume : bool
        Keep finished points recorded in ``out/manifest.json`` whose content hash still
        matches; run only the rest.
    plots, report : bool
        Write ``plots/*.png``; write ``report.html``.
    options : RunOptions, optional
        How to run and measure, as in :func:`trunksim.experiment.run`.
    replications, seed, jobs, scheduler, executor, progress, metrics_profile, dora_year
        Keyword arguments setting the fields of :class:`~trunksim.experiment.RunOptions`.

    Raises
    ------
    BatchInterrupted
        On Ctrl-C or SIGTERM, after everything finished has been written.
    """
    options = RunOptions.of(options, keywords, "run_batch")
    for point in points:
        check_size(point.scenario)
    n, root = resolve(points, options.replications, options.seed)
    measure = options.measure
    folder = Path(out)
    batch = Batch(folder, points, root, n, resume, measure)
    columns = columns_for(points)
    pending = batch.pending()
    tasks = [(points[i], root, k, measure) for i in pending for k in range(n)]
    rows: dict[int, dict[int, dict]] = {i: {} for i in pending}
    started = {i: time.perf_counter() for i in pending}
    try:
        with executor_for(jobs=options.jobs, scheduler=options.scheduler, executor=options.executor) as pool, \
                progress_bar(len(tasks), options.progress) as bar:
            for index, row in completed(replicate, tasks, pool):
                point_index, replication = pending[index // n], index % n
                rows[point_index][replication] = row
                bar.update()
                if len(rows[point_index]) == n:
                    ordered = [rows[point_index][k] for k in range(n)]
                    batch.record(point_index, ordered, time.perf_counter() - started[point_index], columns)
                    del rows[point_index]
    except KeyboardInterrupt:
        finished = sum(1 for e in batch.entries if e["done"])
        raise BatchInterrupted(folder, finished, len(points)) from None
    frame = batch.frame(columns)
    write_outputs(frame, folder, points=points, plots=plots, report=report)
    return frame


def summary_with_levels(summary: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    """The summary plus, per scenario, the share of replications at each DORA level.

    Level shares are rows with ``metric = dora_level_<level>_share`` whose ``mean`` and
    ``median`` hold the share (0–1) and ``replications`` the count it is out of.
    """
    if "dora_level" not in frame or frame.empty:
        return summary
    shares = level_shares(frame)
    rows = []
    for _, row in shares.iterrows():
        for level in LEVELS:
            rows.append(
                {
                    "scenario": row["scenario"], "strategy": row["strategy"], "metric": f"dora_level_{level}_share",
                    "replications": int(row["replications"]), "mean": row[f"{level}_share"],
                    "median": row[f"{level}_share"], "baseline": summary["baseline"].iloc[0] if len(summary) else "",
                }
            )
    return pd.concat([summary, pd.DataFrame(rows)], ignore_index=True)


def write_outputs(frame: pd.DataFrame, folder: Path, *, points: Sequence[Point] = (), plots: bool = True, report: bool = True) -> dict[str, Path]:
    """Write ``replications.csv`` (and ``.parquet``), ``summary.csv``, plots and the HTML report."""
    folder.mkdir(parents=True, exist_ok=True)
    written = {"replications": write_results_csv(frame, folder / "replications.csv")}
    if parquet_available():
        written["parquet"] = write_parquet(frame, folder / "replications.parquet")
    summary = summarize(frame)
    written["summary"] = write_results_csv(summary_with_levels(summary, frame), folder / "summary.csv")
    plot_paths: dict[str, Path] = {}
    if plots:
        from trunksim import plotting

        plot_paths = plotting.save_standard_plots(frame, folder / "plots")
        written.update({f"plot:{k}": v for k, v in plot_paths.items()})
    if report:
        written["report"] = write_report(frame, summary, [p.scenario for p in points], plot_paths, folder / "report.html")
    return written

"""Batch runs that lose nothing and mix nothing: one run per folder, results written as they finish, resume.

Layout of an output folder::

    OUT/.trunksim.lock        held by the run writing the folder (pid, host, start)
    OUT/manifest.json         what was asked (scenario content hashes, seed, replications,
                              package version), what finished (with the SHA-256 of each
                              runs file and timings) and, once complete, the outputs
    OUT/runs/NNN.csv          one file per scenario or sweep point, written atomically
    OUT/runs/NNN.units.csv    an organisation scenario's point only: every metric of the
                              organisation, each team and (polyrepo) each service, per
                              replication (long: scenario, replication, level, unit,
                              metric, value), written and hashed with its runs file
    OUT/replications.csv      every row, in scenario order   } written when the whole
    OUT/replications.parquet  the same, if pyarrow is there  } batch has finished and
    OUT/summary.csv           medians, 95% intervals,        } every runs file has been
                              paired differences             } verified against its hash
    OUT/units.csv             every point's unit rows, in point order  } only when some
    OUT/units_summary.csv     per scenario, level, unit and metric:    } point is an
                              replications, median, 95% interval of    } organisation
                              the median                               } scenario
    OUT/plots/*.png, OUT/report.html
                              (with units also plots/teams.png, and a "Teams and
                              services" section in the report)

The rules, each held by a test (``tests/test_batch_reliability.py``):

* **One run per folder.** A run holds ``OUT/.trunksim.lock`` (an OS file lock, with the
  owner's pid, host and start time in the file) from before it touches the folder until
  it ends, however it ends; a second run into the folder is refused with one line naming
  the owner. The OS releases the lock of a killed process; the next run says it took over
  a lock left by a run that is no longer running.
* **A fresh run clears only what a trunksim run wrote there.** Into a folder whose
  ``manifest.json`` is a trunksim manifest, a run without ``--resume`` removes that
  run's files (``manifest.json``, ``runs/NNN.csv``, ``runs/NNN.units.csv``,
  ``replications.csv``/``.parquet``, ``summary.csv``, ``units.csv``,
  ``units_summary.csv``, ``report.html``, ``plots/*.png``, temporary files) and says how many;
  everything else in the folder stays. A folder holding result files without a trunksim
  manifest, or a ``manifest.json`` that is not one, is refused: nothing is overwritten.
* **Resume trusts nothing unverified.** ``resume=True`` keeps a ``runs/NNN.csv`` only if
  its scenario's content hash still matches *and* the file's SHA-256 matches the one
  recorded when it was written (and it parses to the expected rows), and, for an
  organisation scenario, its ``runs/NNN.units.csv`` passes the same checks; anything
  else is recomputed, and said. The outputs are written only from the complete,
  verified set.
* **Names are data.** ``replications.csv`` is the verified runs files put together byte
  for byte (one header), and so is ``units.csv``; the frames are read back with scenario,
  strategy, team and service names as text, so a scenario named ``NA``, ``TRUE`` or
  ``007`` stays itself. Two points with the same name are refused before anything runs.
* **Stopping.** Ctrl-C or SIGTERM raises :class:`BatchInterrupted` after everything
  finished is on disk; while the outputs are being written, the partial outputs are
  removed first. A lost worker or scheduler raises :class:`BatchIncomplete` the same way.
  ``resume=True`` completes either.
* **Folder failures** (a file as the folder, no permission, a full disk) raise
  :class:`OutputFolderError` with the path, leaving no temporary file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io as _stringio
import json
import os
import re
import socket
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import pandas as pd

from trunksim.executors import ExecutorError, completed, executor_for
from trunksim.experiment import (
    MAX_REPLICATIONS,
    UNIT_ID_COLUMNS,
    UNITS_KEY,
    Measure,
    Point,
    RunOptions,
    columns_for,
    progress_bar,
    replicate,
    resolve,
    summarize,
    summarize_units,
    takes_run_options,
    unit_rows,
)
from trunksim.io import parquet_available, remove_stale_temporaries, write_csv, write_parquet, write_text
from trunksim.metrics.levels import LEVELS, level_shares
from trunksim.report import write_report
from trunksim.scenario.overrides import check_valid
from trunksim.scenario.size import check_size

MANIFEST_VERSION = 2
"""Version 2 records each runs file's SHA-256 and row count, ``complete`` and ``outputs``."""

MANIFEST = "manifest.json"
LOCK = ".trunksim.lock"
OUTPUT_FILES = ("replications.csv", "replications.parquet", "summary.csv", "units.csv", "units_summary.csv", "report.html")
"""The files written from the whole batch (besides ``plots/*.png``); ``units*.csv`` only when some point has units."""

RUN_FILE = re.compile(r"^[0-9]{3,}\.csv$")
UNITS_FILE = re.compile(r"^[0-9]{3,}\.units\.csv$")
"""``runs/NNN.units.csv``: the per-team and per-service rows of an organisation scenario's point."""

MAX_MANIFEST_BYTES = 256 * 1024 * 1024
TEXT_COLUMNS = ("scenario", "strategy")
"""Result columns read back exactly as written: names are text, never numbers, booleans or missing."""

UNIT_TEXT_COLUMNS = ("scenario", "level", "unit", "metric")
"""The same for the per-team and per-service files (``runs/NNN.units.csv``, ``units.csv``, ``units_summary.csv``)."""


class BatchError(Exception):
    """A batch cannot go on, or its results cannot be trusted; the message is one line."""


class OutputFolderError(BatchError):
    """The output folder cannot be used or written; the message names the path."""


class FolderInUse(OutputFolderError):
    """Another run holds the output folder's lock."""


class BatchInterrupted(BatchError):
    """A batch stopped early (Ctrl-C, SIGTERM); ``finished`` of ``total`` points are safely on disk."""

    def __init__(self, folder: Path, finished: int, total: int, outputs: bool = False) -> None:
        if outputs:
            text = (
                f"interrupted while writing the outputs: all {total} scenario(s) finished and are kept in {folder}; "
                "run the same command with --resume to write replications.csv, summary.csv and the rest"
            )
        else:
            text = (
                f"interrupted: {finished} of {total} scenario(s) finished and kept in {folder}; "
                "run the same command with --resume to complete the rest"
            )
        super().__init__(text)
        self.folder, self.finished, self.total = folder, finished, total


class BatchIncomplete(BatchError):
    """Where the replications ran failed (a lost worker or scheduler); finished points are kept."""

    def __init__(self, reason: str, folder: Path, finished: int, total: int) -> None:
        super().__init__(
            f"{reason}; {finished} of {total} scenario(s) finished and kept in {folder}; "
            "run the same command with --resume to complete the rest"
        )
        self.folder, self.finished, self.total = folder, finished, total



_SAID: set[str] = set()


def say_once(message: str) -> None:
    """Print a note on standard error once per process (not once per batch)."""
    if message not in _SAID:
        _SAID.add(message)
        print(f"note: {message}", file=sys.stderr)

def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@contextlib.contextmanager
def _writing(what: str = "write"):
    """Turn an ``OSError`` of the block into an :class:`OutputFolderError` naming the file."""
    try:
        yield
    except OSError as error:
        raise OutputFolderError(describe_os_error(error, what)) from error


def describe_os_error(error: OSError, what: str = "write") -> str:
    """``cannot write PATH: reason`` for an ``OSError``."""
    reason = error.strerror or str(error) or type(error).__name__
    where = error.filename if error.filename is not None else "the output folder"
    return f"cannot {what} {where}: {reason}"


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


def results_csv_text(frame: pd.DataFrame) -> str:
    """A results frame as CSV text, exactly as :func:`write_results_csv` writes it."""
    return frame.to_csv(index=False, float_format=RESULTS_FLOAT_FORMAT, lineterminator="\n")


def write_results_csv(frame: pd.DataFrame, path: Path) -> Path:
    """Atomically write a results CSV with :data:`RESULTS_FLOAT_FORMAT`; returns the path."""
    return write_csv(frame, path, float_format=RESULTS_FLOAT_FORMAT)


def read_results_csv(source: Any, columns: Optional[Sequence[str]] = None) -> pd.DataFrame:
    """Read a results CSV back (a path or CSV text): names exactly as written, numbers as numbers.

    ``scenario``, ``strategy`` and ``variant`` are read as text, and only an empty cell is
    missing in any column (what pandas writes for NaN; a name is never empty), so a
    scenario named ``NA``, ``null``, ``TRUE``, ``007`` or ``1e5`` stays itself.
    ``columns``, if given, orders the frame.
    """
    handle = _stringio.StringIO(source) if isinstance(source, str) else source
    frame = pd.read_csv(
        handle, dtype={name: str for name in (*TEXT_COLUMNS, "variant")}, keep_default_na=False, na_values=[""]
    )
    return frame.reindex(columns=list(columns)) if columns is not None else frame


def read_units_csv(source: Any) -> pd.DataFrame:
    """Read a per-team and per-service results CSV back (a path or CSV text), names exactly as written.

    ``scenario``, ``level``, ``unit`` and ``metric`` are read as text (a team named
    ``007`` or ``NA`` stays itself), and only an empty cell is missing.

    Parameters
    ----------
    source : path, file or str
        ``runs/NNN.units.csv``, ``units.csv`` or ``units_summary.csv``, or its text.

    Returns
    -------
    pandas.DataFrame
        The rows as written, with the file's columns.
    """
    handle = _stringio.StringIO(source) if isinstance(source, str) else source
    return pd.read_csv(handle, dtype={name: str for name in UNIT_TEXT_COLUMNS}, keep_default_na=False, na_values=[""])


UNITS_HEADER = results_csv_text(pd.DataFrame(columns=list(UNIT_ID_COLUMNS)))
"""The first line of every ``runs/NNN.units.csv`` and of ``units.csv``."""


# -- the output folder: checks, lock, clearing ----------------------------------------------


def check_output_folder(out: Any) -> Path:
    """The output folder as a path, checked without creating anything.

    Raises
    ------
    OutputFolderError
        An empty name, a path that is a file (or under one), or a folder whose nearest
        existing parent cannot be written.
    """
    text = str(os.fspath(out))
    if not text.strip():
        raise OutputFolderError("the output folder is an empty name (-o ''); name a folder, e.g. -o results")
    if "\x00" in text:
        raise OutputFolderError(f"the output folder {text!r} contains a NUL character")
    folder = Path(text)
    try:
        if folder.exists() and not folder.is_dir():
            raise OutputFolderError(f"cannot use {folder} as the output folder: it exists and is not a folder")
        existing = folder
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if existing.exists() and not existing.is_dir():
            raise OutputFolderError(f"cannot create the output folder {folder}: {existing} is a file, not a folder")
        if existing.exists() and not os.access(existing, os.W_OK | os.X_OK):
            raise OutputFolderError(f"cannot write {existing}: permission denied")
    except OSError as error:
        raise OutputFolderError(describe_os_error(error, "use")) from error
    return folder


def _owner_text(info: dict) -> str:
    """``pid 123 on host, started 2024-05-01 10:00:00 UTC``."""
    text = f"pid {info.get('pid', '?')}"
    if info.get("host"):
        text += f" on {info['host']}"
    if info.get("started"):
        text += f", started {info['started']}"
    return text


_HELD_LOCKS: "set[FolderLock]" = set()


class FolderLock:
    """The lock that makes a run the only writer of an output folder.

    An OS lock (``flock``) on ``OUT/.trunksim.lock``, so a killed owner's lock is
    released by the operating system; the file records the owner (pid, host, start time)
    for the messages. Worker processes forked while it is held do not inherit it.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK
        self.descriptor: Optional[int] = None
        self.took_over: Optional[dict] = None

    def acquire(self) -> None:
        """Take the lock (creating the folder); raise :class:`FolderInUse` if another run holds it."""
        with _writing("create the output folder"):
            self.folder.mkdir(parents=True, exist_ok=True)
        while True:
            with _writing():
                descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                held = _lock_descriptor(descriptor)
            except BaseException:
                os.close(descriptor)
                raise
            if not held:
                info = _read_lock(descriptor)
                os.close(descriptor)
                if info is None:  # the owner is still writing its details
                    time.sleep(0.05)
                    info = _read_lock_file(self.path) or {}
                raise FolderInUse(
                    f"{self.folder} is in use by another trunksim run ({_owner_text(info)}); "
                    "wait for it to end, or choose another -o"
                )
            try:
                same = os.fstat(descriptor).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # its owner removed it as we opened it: take the new one
                os.close(descriptor)
                continue
            break
        self.took_over = _read_lock(descriptor) or None
        mine = {
            "pid": os.getpid(), "host": socket.gethostname(),
            "started": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"), "command": " ".join(sys.argv)[:500],
        }
        try:
            os.ftruncate(descriptor, 0)
            os.lseek(descriptor, 0, os.SEEK_SET)
            os.write(descriptor, (json.dumps(mine) + "\n").encode())
        except OSError as error:
            os.close(descriptor)
            raise OutputFolderError(describe_os_error(OSError(error.errno, error.strerror, str(self.path)))) from error
        self.descriptor = descriptor
        _HELD_LOCKS.add(self)

    def release(self) -> None:
        """Remove the lock file and release the lock (idempotent)."""
        descriptor, self.descriptor = self.descriptor, None
        _HELD_LOCKS.discard(self)
        if descriptor is None:
            return
        with contextlib.suppress(OSError):
            if os.fstat(descriptor).st_ino == os.stat(self.path).st_ino:
                os.unlink(self.path)
        with contextlib.suppress(OSError):
            os.close(descriptor)

    def __enter__(self) -> "FolderLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _lock_descriptor(descriptor: int) -> bool:
    """Lock an open file exclusively without waiting; False if another process holds it."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: the lock file's pid decides
        return True
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as error:
        if error.errno in (11, 13, 35):  # EAGAIN, EACCES, EWOULDBLOCK (macOS)
            return False
        raise
    return True


def _read_lock(descriptor: int) -> Optional[dict]:
    """The owner recorded in a lock file (``{"pid": "?"}`` if unreadable), or None if it is empty."""
    try:
        os.lseek(descriptor, 0, os.SEEK_SET)
        data = os.read(descriptor, 4096)
    except OSError:
        return None
    if not data.strip():
        return None
    try:
        info = json.loads(data.decode("utf-8"))
    except ValueError:
        return {"pid": "?"}
    return info if isinstance(info, dict) else {"pid": "?"}


def _read_lock_file(path: Path) -> Optional[dict]:
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return _read_lock(descriptor)
    finally:
        os.close(descriptor)


def release_held_locks() -> None:
    """Release every output-folder lock this process holds (for an emergency exit)."""
    for lock in list(_HELD_LOCKS):
        lock.release()


def _close_inherited_locks() -> None:
    """In a forked child: close the lock descriptors (the parent keeps its lock), so workers never hold it."""
    for lock in list(_HELD_LOCKS):
        if lock.descriptor is not None:
            with contextlib.suppress(OSError):
                os.close(lock.descriptor)
        lock.descriptor = None
    _HELD_LOCKS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_inherited_locks)


def _json_kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")


def read_manifest(folder: Path) -> Optional[dict]:
    """The trunksim manifest in ``folder``, or None if there is none.

    Raises
    ------
    OutputFolderError
        ``manifest.json`` cannot be read, is not JSON, or is not shaped as a trunksim
        manifest (an object with ``manifest_version`` and a list ``scenarios`` of
        objects), or was written by a newer trunksim. Such a file is never overwritten.
    """
    path = folder / MANIFEST
    if not path.exists():
        return None
    refuse = f"; it is left as it is: move it away, or choose another -o"
    with _writing("read"):
        if not path.is_file():
            raise OutputFolderError(f"{path} is not a file" + refuse)
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            raise OutputFolderError(f"{path} is not a trunksim manifest (larger than {MAX_MANIFEST_BYTES // 2**20} MB)" + refuse)
        data = path.read_bytes()
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):
        raise OutputFolderError(f"{path} is not a trunksim manifest (not valid JSON)" + refuse) from None
    if not isinstance(manifest, dict):
        raise OutputFolderError(f"{path} is not a trunksim manifest (it holds {_json_kind(manifest)}, not an object)" + refuse)
    version = manifest.get("manifest_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise OutputFolderError(f"{path} is not a trunksim manifest (no manifest_version)" + refuse)
    if version > MANIFEST_VERSION:
        raise OutputFolderError(
            f"{path} was written by a newer trunksim (manifest_version {version}, this one reads up to {MANIFEST_VERSION})" + refuse
        )
    scenarios = manifest.get("scenarios")
    if not isinstance(scenarios, list):
        raise OutputFolderError(f"{path} is not a trunksim manifest ('scenarios' is {_json_kind(scenarios)}, not a list)" + refuse)
    odd = next((entry for entry in scenarios if not isinstance(entry, dict)), {})
    if not isinstance(odd, dict):
        raise OutputFolderError(f"{path} is not a trunksim manifest (an entry of 'scenarios' is {_json_kind(odd)}, not an object)" + refuse)
    return manifest


def _run_files(runs: Path) -> list[Path]:
    """The runs files (``NNN.csv``) and units files (``NNN.units.csv``) in ``runs``."""
    try:
        return sorted(p for p in runs.iterdir() if (RUN_FILE.match(p.name) or UNITS_FILE.match(p.name)) and p.is_file())
    except OSError:
        return []


def _plot_files(plots: Path) -> list[Path]:
    try:
        return sorted(p for p in plots.iterdir() if p.suffix == ".png" and p.is_file())
    except OSError:
        return []


def _result_files(folder: Path) -> list[Path]:
    """Files a trunksim run writes in ``folder`` (besides the manifest and the lock) that are there now."""
    files = [folder / name for name in OUTPUT_FILES if (folder / name).is_file()]
    return files + _run_files(folder / "runs") + _plot_files(folder / "plots")


_NOT_RECORDED = object()
"""An old manifest entry without ``units_file``: written before units files existed."""


def _units_name(index: int) -> str:
    """``runs/NNN.units.csv`` of point ``index``."""
    return f"runs/{index:03d}.units.csv"


def _names(folder: Path, files: Sequence[Path]) -> str:
    """``replications.csv, runs/ (3 files), plots/ (2 files)``."""
    top, grouped = [], {}
    for path in files:
        relative = path.relative_to(folder)
        if len(relative.parts) == 1:
            top.append(relative.name)
        else:
            grouped.setdefault(relative.parts[0], 0)
            grouped[relative.parts[0]] += 1
    return ", ".join(top + [f"{name}/ ({count} file{'s' if count != 1 else ''})" for name, count in grouped.items()])


class Batch:
    """The output folder of a batch, locked by its caller: what is done, and writing what finishes.

    Made when the folder's lock is held. A fresh batch clears an earlier run's files; a
    resumed one keeps the runs files (and units files) that verify and clears the rest.

    Each manifest entry names its runs file (``file``, ``file_sha256``, ``rows``) and its
    units file: ``units_file``, ``units_sha256`` and ``units_rows`` for a point whose
    rows carried per-team and per-service metrics (an organisation scenario), all three
    null for one whose rows did not.
    """

    def __init__(
        self,
        folder: Path,
        points: Sequence[Point],
        seed: int,
        replications: int,
        resume: bool,
        measure: Measure = Measure(),
        notify: Callable[[str], None] = _say,
        columns: Optional[Sequence[str]] = None,
    ) -> None:
        from trunksim import __version__

        self.folder = Path(folder)
        self.runs = self.folder / "runs"
        self.points = list(points)
        self.replications = replications
        self.columns = list(columns) if columns is not None else columns_for(self.points)
        self.header = results_csv_text(pd.DataFrame(columns=self.columns))
        self.notify = notify
        self.hashes = [scenario_hash(p, seed, replications, measure) for p in self.points]
        manifest = read_manifest(self.folder)
        if manifest is None:
            foreign = _result_files(self.folder)
            if foreign:
                raise OutputFolderError(
                    f"{self.folder} holds results that no trunksim manifest accounts for ({_names(self.folder, foreign)}); "
                    "they are left as they are: choose another -o, or move them away"
                )
        with _writing("clean"):
            remove_stale_temporaries([self.folder, self.runs, self.folder / "plots"])
        kept = self._verified(manifest) if resume and manifest is not None else {}
        keep = {self.folder / name for entry in kept.values() for name in (entry["file"], entry.get("units_file")) if name}
        self._clear(manifest, keep=keep, resume=resume)
        self.entries = []
        for index, (point, digest) in enumerate(zip(self.points, self.hashes)):
            old = kept.get(index) or {}
            self.entries.append(
                {
                    "index": index, "name": point.scenario.name, "strategy": point.scenario.strategy.name,
                    "parameters": {k: v for k, v in point.parameters.items()}, "sha256": digest, "file": f"runs/{index:03d}.csv",
                    "done": bool(old), "rows": old.get("rows"), "file_sha256": old.get("file_sha256"),
                    "units_file": old.get("units_file"), "units_rows": old.get("units_rows"),
                    "units_sha256": old.get("units_sha256"), "seconds": old.get("seconds"),
                }
            )
        if resume and manifest is None:
            notify(f"nothing to resume in {self.folder} (no manifest.json): running every scenario")
        elif resume:
            notify(f"resuming in {self.folder}: {len(kept)} of {len(self.points)} scenario(s) kept, {len(self.points) - len(kept)} to run")
        self.manifest_header = {
            "manifest_version": MANIFEST_VERSION, "trunksim_version": __version__, "seed": seed,
            "replications": replications, "metrics_profile": measure.profile, "dora_year": measure.year,
        }
        self.complete = False
        self.outputs: list[str] = []
        with _writing():
            self.runs.mkdir(parents=True, exist_ok=True)
            self._write_manifest()

    # -- what to keep --
    def _verified(self, manifest: dict) -> dict[int, dict]:
        """Finished entries of the old manifest whose scenario is unchanged and whose file verifies; says what it drops."""
        done_before: dict[str, dict] = {}
        for entry in manifest.get("scenarios", []):
            if entry.get("done") is True and isinstance(entry.get("sha256"), str):
                done_before[entry["sha256"]] = entry
        kept = {}
        for index, (point, digest) in enumerate(zip(self.points, self.hashes)):
            old = done_before.get(digest)
            file = f"runs/{index:03d}.csv"
            if old is None or old.get("file") != file:
                continue
            problem = self._problem_with(file, old.get("file_sha256"), point.scenario.name)
            if problem:
                self.notify(f"{self.folder / file}: {problem}; recomputing it")
                continue
            units_file = _units_name(index)
            recorded = old.get("units_file", _NOT_RECORDED)
            if recorded is _NOT_RECORDED and getattr(point.scenario, "organisation", None) is None:
                recorded = None  # a manifest written before units files: a one-team point has none
            if recorded is None:
                kept[index] = old
                continue
            if recorded is _NOT_RECORDED:
                problem = "no units file recorded for it in manifest.json (written by an older trunksim)"
            elif recorded != units_file:
                continue  # an odd entry: not trusted
            else:
                problem = self._units_problem_with(units_file, old.get("units_sha256"), old.get("units_rows"), point.scenario.name)
            if problem:
                self.notify(f"{self.folder / units_file}: {problem}; recomputing it")
                continue
            kept[index] = old
        return kept

    def _problem_with(self, file: str, recorded: Any, name: str) -> Optional[str]:
        """Why a finished runs file cannot be trusted, or None."""
        return self._file_problem(file, recorded, lambda data: self._content_problem(data, name))

    def _units_problem_with(self, file: str, recorded: Any, rows: Any, name: str) -> Optional[str]:
        """Why a finished units file cannot be trusted, or None."""
        return self._file_problem(file, recorded, lambda data: self._units_content_problem(data, name, rows))

    def _file_problem(self, file: str, recorded: Any, content_problem: Callable[[bytes], Optional[str]]) -> Optional[str]:
        """Why a finished file cannot be trusted (missing, unreadable, no or another hash, bad content), or None."""
        path = self.folder / file
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return "missing"
        except OSError as error:
            return f"cannot be read ({error.strerror or error})"
        if not isinstance(recorded, str):
            return "no content hash recorded for it in manifest.json (written by an older trunksim)"
        if _sha256(data) != recorded:
            return "its content does not match the SHA-256 recorded in manifest.json (changed or damaged)"
        return content_problem(data)

    def _units_content_problem(self, data: bytes, name: str, rows: Any) -> Optional[str]:
        """Why the bytes of a units file are not a units file of point ``name`` with ``rows`` rows, or None."""
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return "not UTF-8 text"
        if not text.startswith(UNITS_HEADER):
            return "its columns are not a units file's"
        try:
            frame = read_units_csv(text)
        except Exception as error:  # pandas' parser errors
            return f"not readable as CSV ({str(error).splitlines()[0] if str(error) else type(error).__name__})"
        if not isinstance(rows, int) or isinstance(rows, bool) or len(frame) != rows:
            return f"{len(frame)} rows instead of the {rows} recorded in manifest.json"
        if not (frame["scenario"] == name).all():
            return f"its rows are not scenario {name!r}'s"
        if sorted(set(frame["replication"].tolist())) != list(range(self.replications)):
            return "its replications are not 0.." + str(self.replications - 1)
        return None

    def _content_problem(self, data: bytes, name: str) -> Optional[str]:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return "not UTF-8 text"
        if not text.startswith(self.header):
            return "its columns are not this batch's"
        try:
            frame = read_results_csv(text)
        except Exception as error:  # pandas' parser errors
            return f"not readable as CSV ({str(error).splitlines()[0] if str(error) else type(error).__name__})"
        if len(frame) != self.replications:
            return f"{len(frame)} rows instead of {self.replications}"
        if not (frame["scenario"] == name).all():
            return f"its rows are not scenario {name!r}'s"
        if frame["replication"].tolist() != list(range(self.replications)):
            return "its replications are not 0.." + str(self.replications - 1)
        return None

    def _clear(self, manifest: Optional[dict], keep: set[Path], resume: bool) -> None:
        """Remove an earlier run's files (all but ``keep``); say which."""
        files = [p for p in _result_files(self.folder) if p not in keep]
        if not files and (manifest is None or resume):
            return
        with _writing("remove"):
            for path in files:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
        if resume:  # the outputs are written again at the end; dropped runs files are said by _verified
            return
        listed = ["manifest.json"] + ([_names(self.folder, files)] if files else [])
        self.notify(f"cleared an earlier run's results from {self.folder}: {', '.join(listed)}; other files are left as they are")

    # -- manifest --
    def _write_manifest(self) -> None:
        body = {**self.manifest_header, "complete": self.complete, "outputs": self.outputs, "scenarios": self.entries}
        write_text(self.folder / MANIFEST, json.dumps(body, indent=2, default=str))

    def pending(self) -> list[int]:
        """Indices of points still to run."""
        return [e["index"] for e in self.entries if not e["done"]]

    def finished(self) -> int:
        return sum(1 for e in self.entries if e["done"])

    def record(self, index: int, rows: list[dict], seconds: float, columns: Optional[list[str]] = None) -> None:
        """A point finished: write its rows, then mark it done in the manifest with the file's SHA-256.

        Rows that carry per-team and per-service metrics (:data:`~trunksim.experiment.UNITS_KEY`)
        also write ``runs/NNN.units.csv``, recorded with its SHA-256 and row count.
        """
        text = results_csv_text(pd.DataFrame(rows, columns=columns if columns is not None else self.columns))
        data = text.encode("utf-8")
        units = unit_rows(rows) if any(UNITS_KEY in row for row in rows) else None
        with _writing():
            if units is not None:
                units_text = results_csv_text(units)
                write_text(self.folder / _units_name(index), units_text)
                self.entries[index].update(
                    units_file=_units_name(index), units_rows=len(units), units_sha256=_sha256(units_text.encode("utf-8"))
                )
            else:
                self.entries[index].update(units_file=None, units_rows=None, units_sha256=None)
            write_text(self.folder / self.entries[index]["file"], text)
            self.entries[index].update(done=True, rows=len(rows), file_sha256=_sha256(data), seconds=round(seconds, 3))
            self._write_manifest()

    def assemble(self) -> tuple[str, pd.DataFrame]:
        """Every point's rows, verified against the manifest: ``replications.csv``'s text and the typed frame.

        Raises
        ------
        BatchError
            A point is not finished, or its file no longer matches what was recorded:
            nothing is summarized from a partial or altered set.
        """
        bodies = []
        for entry in self.entries:
            path = self.folder / entry["file"]
            if not entry["done"]:
                raise BatchError(f"{path} is not finished; nothing is summarized from a partial set (run again with --resume)")
            try:
                data = path.read_bytes()
            except OSError as error:
                raise OutputFolderError(describe_os_error(OSError(error.errno, error.strerror, str(path)), "read")) from error
            problem = None if _sha256(data) == entry["file_sha256"] else "its content changed after it was written"
            problem = problem or self._content_problem(data, entry["name"])
            if problem:
                raise BatchError(f"{path}: {problem}; nothing is summarized from it (run again with --resume to recompute it)")
            bodies.append(data.decode("utf-8")[len(self.header):])
        text = self.header + "".join(bodies)
        return text, read_results_csv(text, self.columns)

    def assemble_units(self) -> tuple[Optional[str], Optional[pd.DataFrame]]:
        """Every point's per-team and per-service rows, verified against the manifest: ``units.csv``'s text and the frame.

        Returns
        -------
        (str, pandas.DataFrame) or (None, None)
            The units files put together byte for byte in point order (one header) and
            that text read back (columns :data:`~trunksim.experiment.UNIT_ID_COLUMNS`),
            or ``(None, None)`` when no point has units.

        Raises
        ------
        BatchError
            A point is not finished, or its units file no longer matches what was recorded.
        """
        bodies = []
        for entry in self.entries:
            if not entry["done"]:
                raise BatchError(f"{self.folder / entry['file']} is not finished; nothing is summarized from a partial set (run again with --resume)")
            if not entry.get("units_file"):
                continue
            path = self.folder / entry["units_file"]
            try:
                data = path.read_bytes()
            except OSError as error:
                raise OutputFolderError(describe_os_error(OSError(error.errno, error.strerror, str(path)), "read")) from error
            problem = None if _sha256(data) == entry["units_sha256"] else "its content changed after it was written"
            problem = problem or self._units_content_problem(data, entry["name"], entry["units_rows"])
            if problem:
                raise BatchError(f"{path}: {problem}; nothing is summarized from it (run again with --resume to recompute it)")
            bodies.append(data.decode("utf-8")[len(UNITS_HEADER):])
        if not bodies:
            return None, None
        text = UNITS_HEADER + "".join(bodies)
        frame = read_units_csv(text).astype({"replication": "int64", "value": "float64"})
        return text, frame

    def finish(self, written: dict[str, Path]) -> None:
        """Record the outputs and mark the folder complete."""
        self.outputs = sorted({Path(p).relative_to(self.folder).as_posix() for p in written.values()})
        self.complete = True
        with _writing():
            self._write_manifest()

    def remove_outputs(self) -> None:
        """Remove whatever outputs exist (after a failure while writing them), so no partial set stands."""
        for path in [self.folder / name for name in OUTPUT_FILES] + _plot_files(self.folder / "plots"):
            with contextlib.suppress(OSError):
                path.unlink()


def check_names(points: Sequence[Point]) -> None:
    """Refuse points that share a name, or whose name would not survive a CSV file: names identify rows in every output.

    Raises
    ------
    ValueError
        Two points with the same scenario name (the message names it and their
        positions), or a name (or variant name) that a CSV file would not give back as
        written (a carriage return).
    """
    seen: dict[str, int] = {}
    for index, point in enumerate(points):
        name = point.scenario.name
        if name in seen:
            raise ValueError(
                f"scenarios {seen[name] + 1} and {index + 1} are both named {name!r}; "
                "names identify the rows of every output, so each scenario needs its own name"
            )
        seen[name] = index
    texts = {"scenario": [p.scenario.name for p in points], "strategy": [p.scenario.strategy.name for p in points]}
    variants = [p.parameters["variant"] for p in points if isinstance(p.parameters.get("variant"), str)]
    for column, values in {**texts, "variant": variants}.items():
        if not values:
            continue
        back = read_results_csv(results_csv_text(pd.DataFrame({column: values})))[column].tolist()
        for value, read in zip(values, back):
            if value != read:
                why = " (it contains a carriage return)" if "\r" in value else ""
                raise ValueError(f"the {column} name {value!r} would not read back from a CSV file as written{why}; rename it")


@takes_run_options
def run_batch(
    points: Sequence[Point],
    out: str | os.PathLike,
    *,
    resume: bool = False,
    plots: bool = True,
    report: bool = True,
    notify: Callable[[str], None] = _say,
    return_units: bool = False,
    options: Optional[RunOptions] = None,
    **keywords: Any,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Run points into an output folder, writing each as it finishes; return all rows.

    Parameters
    ----------
    points : sequence of Point
        Scenarios (or sweep points) to run; their names must differ.
    out : path
        Output folder (created). Locked while the batch runs; see the module docstring
        for what a fresh run clears and what a resumed run keeps.
    resume : bool
        Keep finished points recorded in ``out/manifest.json`` whose content hash still
        matches and whose file verifies; run only the rest.
    plots, report : bool
        Write ``plots/*.png``; write ``report.html``.
    notify : callable
        Receives one-line notes (an earlier run's files cleared, a stale lock taken over,
        a runs file recomputed); by default printed on standard error.
    return_units : bool
        Also return the per-team and per-service results of organisation scenarios
        (what ``units.csv`` holds), as :func:`trunksim.experiment.run_organisation` does.
    options : RunOptions, optional
        How to run and measure, as in :func:`trunksim.experiment.run`.
    replications, seed, jobs, scheduler, executor, progress, metrics_profile, dora_year
        Keyword arguments setting the fields of :class:`~trunksim.experiment.RunOptions`.

    Returns
    -------
    pandas.DataFrame or (pandas.DataFrame, pandas.DataFrame)
        Every row (``replications.csv`` read back); with ``return_units``, also the long
        frame of ``units.csv`` (columns :data:`~trunksim.experiment.UNIT_ID_COLUMNS`;
        empty when no point is an organisation scenario).

    Raises
    ------
    ValueError
        Two points share a name, or more than :data:`MAX_REPLICATIONS` replications.
    OutputFolderError
        The folder cannot be used (another run holds it, a file is in the way, a
        foreign ``manifest.json``, no permission, a full disk).
    trunksim.executors.ExecutorError
        A Dask scheduler cannot be used (checked before the folder is touched).
    BatchInterrupted
        On Ctrl-C or SIGTERM, after everything finished has been written.
    BatchIncomplete
        A worker process or the Dask scheduler was lost; everything finished is kept.
    BatchError
        A finished file changed while the batch ran; nothing is summarized.
    """
    options = RunOptions.of(options, keywords, "run_batch")
    points = list(points)
    if not points:
        raise ValueError("run_batch() needs at least one scenario")
    check_names(points)
    for point in points:
        check_valid(point.scenario)
        check_size(point.scenario)
    n, root = resolve(points, options.replications, options.seed)
    if n > MAX_REPLICATIONS:
        raise ValueError(f"{n:,} replications per scenario is more than {MAX_REPLICATIONS:,} (the bound of simulation.replications)")
    measure = dataclasses.replace(options.measure, units=True)  # an organisation's teams and services: units.csv
    folder = check_output_folder(out)
    columns = columns_for(points)
    with executor_for(jobs=options.jobs, scheduler=options.scheduler, executor=options.executor) as pool:
        with FolderLock(folder) as lock:
            if lock.took_over:
                notify(f"took over {lock.path} left by a trunksim run that is no longer running ({_owner_text(lock.took_over)})")
            batch = Batch(folder, points, root, n, resume, measure, notify, columns)
            _run_pending(batch, points, root, n, measure, pool, options.progress)
            try:
                text, frame = batch.assemble()
                units_text, units = batch.assemble_units()
                with _writing():
                    written = write_outputs(
                        frame, folder, points=points, plots=plots, report=report, replications_text=text,
                        units=units, units_text=units_text,
                    )
                batch.finish(written)
            except KeyboardInterrupt:
                batch.remove_outputs()
                raise BatchInterrupted(folder, batch.finished(), len(points), outputs=True) from None
            except BaseException:
                batch.remove_outputs()
                raise
    if return_units:
        return frame, (units if units is not None else unit_rows([]))
    return frame


def _run_pending(batch: Batch, points: list[Point], root: int, n: int, measure: Measure, pool: Any, progress: bool) -> None:
    """Run the points not yet done, recording each as soon as its replications are all in."""
    pending = batch.pending()
    tasks = [(points[i], root, k, measure) for i in pending for k in range(n)]
    rows: dict[int, dict[int, dict]] = {i: {} for i in pending}
    started = {i: time.perf_counter() for i in pending}
    try:
        with progress_bar(len(tasks), progress) as bar:
            for index, row in completed(replicate, tasks, pool):
                point_index, replication = pending[index // n], index % n
                rows[point_index][replication] = row
                bar.update()
                if len(rows[point_index]) == n:
                    ordered = [rows[point_index][k] for k in range(n)]
                    batch.record(point_index, ordered, time.perf_counter() - started[point_index])
                    del rows[point_index]
    except KeyboardInterrupt:
        raise BatchInterrupted(batch.folder, batch.finished(), len(points)) from None
    except ExecutorError as error:
        raise BatchIncomplete(str(error), batch.folder, batch.finished(), len(points)) from None


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


def write_outputs(
    frame: pd.DataFrame,
    folder: Path,
    *,
    points: Sequence[Point] = (),
    plots: bool = True,
    report: bool = True,
    replications_text: Optional[str] = None,
    units: Optional[pd.DataFrame] = None,
    units_text: Optional[str] = None,
) -> dict[str, Path]:
    """Write ``replications.csv`` (and ``.parquet``), ``summary.csv``, plots and the HTML report.

    ``replications_text``, if given, is written as ``replications.csv`` instead of
    ``frame`` printed again (a batch gives the verified runs files put together, so what
    was computed is what is written).

    ``units``, the per-team and per-service results of organisation scenarios (columns
    :data:`~trunksim.experiment.UNIT_ID_COLUMNS`), when it has rows, also writes
    ``units.csv`` (``units_text`` if given, else ``units`` printed),
    ``units_summary.csv`` (:func:`~trunksim.experiment.summarize_units`),
    ``plots/teams.png`` and the report's "Teams and services" section.

    Parameters
    ----------
    frame : pandas.DataFrame
        Replication results (one row per scenario × replication).
    folder : path
        Where to write (created).
    points : sequence of Point
        The points run (the report's scenarios; the tornado charts' baseline).
    plots, report : bool
        Write ``plots/*.png``; write ``report.html``.
    replications_text, units_text : str, optional
        The exact text of ``replications.csv`` and ``units.csv``.
    units : pandas.DataFrame, optional
        Per-team and per-service results; nothing of them is written when None or empty.

    Returns
    -------
    dict of str to Path
        What was written: ``replications``, ``parquet``, ``summary``, ``units``,
        ``units_summary``, ``plot:<name>``, ``report`` → path.

    Raises
    ------
    ValueError
        An empty frame (before anything is written).
    """
    if len(frame) == 0:
        raise ValueError("write_outputs() needs a results frame with at least one row; this one is empty (nothing was written)")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if replications_text is not None:
        written = {"replications": write_text(folder / "replications.csv", replications_text)}
    else:
        written = {"replications": write_results_csv(frame, folder / "replications.csv")}
    if parquet_available():
        written["parquet"] = write_parquet(frame, folder / "replications.parquet")
    else:
        say_once("replications.parquet not written: pyarrow is not installed (pip install 'trunksim[parquet]'); "
                 "replications.csv has the same rows")
    summary = summarize(frame)
    written["summary"] = write_results_csv(summary_with_levels(summary, frame), folder / "summary.csv")
    has_units = units is not None and len(units) > 0
    units_summary = None
    if has_units:
        written["units"] = write_text(folder / "units.csv", units_text if units_text is not None else results_csv_text(units))
        units_summary = summarize_units(units)
        written["units_summary"] = write_results_csv(units_summary, folder / "units_summary.csv")
    plot_paths: dict[str, Path] = {}
    if plots:
        from trunksim import plotting

        baseline = next((dict(point.baseline) for point in points if point.baseline), None)
        plot_paths = plotting.save_standard_plots(frame, folder / "plots", baseline=baseline, units=units if has_units else None)
        written.update({f"plot:{k}": v for k, v in plot_paths.items()})
    if report:
        written["report"] = write_report(
            frame, summary, [p.scenario for p in points], plot_paths, folder / "report.html", units_summary=units_summary
        )
    return written

"""Atomic file writing: a reader sees the old file or the new one, never half of one.

Every file trunksim writes (results CSV and Parquet, the manifest, summaries, the HTML
report, plots, Four Keys exports) goes through :func:`atomic_path`: the content is
written to a temporary file in the same folder (``.<name>.<pid>.<random>.tmp``),
flushed to disk (``fsync``) and moved over the target with :func:`os.replace`, which
is atomic on POSIX and Windows. If anything fails on the way, the temporary file is
removed and the target is left as it was, and an ``OSError`` names the target (not the
temporary file). A process that must exit at once (a second Ctrl-C) removes the temporary
files it is writing with :func:`remove_temporaries`; a folder's owner removes those left
by a killed process with :func:`remove_stale_temporaries`.

A leaf module: it imports only the standard library (pandas is used through the
frames it is given; pyarrow only when Parquet is asked for).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator, Optional, Union

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

PathLike = Union[str, "os.PathLike[str]"]

TEMPORARY_NAME = re.compile(r"^\..+\.[0-9]+\.[0-9a-f]{8}\.tmp$")
"""The names of :func:`atomic_path`'s temporary files: ``.<name>.<pid>.<8 hex digits>.tmp``."""

_WRITING: "set[Path]" = set()


def _fsync(path: Path) -> None:
    """Flush a written file's content to disk."""
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def _fsync_folder(folder: Path) -> None:
    """Flush a folder's entries (the rename) to disk, where the platform allows it (not Windows)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """A temporary path to write ``path``'s new content to; moved into place when the block ends.

    Use it for writers that want a file name (``figure.savefig``, ``frame.to_parquet``)::

        with atomic_path(folder / "plot.png") as temporary:
            figure.savefig(temporary, format="png")

    The temporary file is created empty (with the permissions a new file gets under the
    process umask) in the target's folder. When the block ends normally it is flushed to
    disk and replaces ``path``; when the block raises (including ``KeyboardInterrupt``),
    or the move fails, it is removed and ``path`` is untouched.
    """
    target = Path(path)
    while True:
        temporary = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        try:
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:  # pragma: no cover - 32 random bits collided
            continue
        except OSError as error:
            raise _naming(error, target) from None
        os.close(descriptor)
        break
    _WRITING.add(temporary)
    try:
        yield temporary
        _fsync(temporary)
        os.replace(temporary, target)
    except BaseException as error:
        with contextlib.suppress(OSError):
            temporary.unlink()
        if isinstance(error, OSError):
            raise _naming(error, target) from error
        raise
    finally:
        _WRITING.discard(temporary)
    _fsync_folder(target.parent)


def _naming(error: OSError, target: Path) -> OSError:
    """``error`` as an ``OSError`` of the same kind whose file name is ``target`` (not its temporary file)."""
    if error.filename == str(target):
        return error
    if error.errno is not None:
        return OSError(error.errno, error.strerror, str(target))  # the subclass of the errno (PermissionError...)
    renamed = OSError(str(error))
    renamed.filename = str(target)
    return renamed


def remove_temporaries() -> None:
    """Remove the temporary files this process is writing right now (before an emergency exit)."""
    for temporary in list(_WRITING):
        with contextlib.suppress(OSError):
            os.unlink(temporary)
    _WRITING.clear()


def remove_stale_temporaries(folders: Iterable[PathLike]) -> list[Path]:
    """Remove temporary files of :func:`atomic_path` that no write of this process owns, in ``folders``.

    For the owner of a folder (who holds its lock): such files were left by a process
    that was killed while writing. Returns the files removed.
    """
    removed = []
    for folder in folders:
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            path = Path(folder) / name
            if TEMPORARY_NAME.match(name) and path not in _WRITING and path.is_file():
                with contextlib.suppress(OSError):
                    path.unlink()
                    removed.append(path)
    return removed


def write_bytes(path: PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    target = Path(path)
    with atomic_path(target) as temporary:
        with open(temporary, "wb") as handle:
            handle.write(data)
    return target


def write_text(path: PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically, encoded as given, line ends exactly as in ``text``; returns the path."""
    return write_bytes(path, text.encode(encoding))


def write_csv(frame: "pd.DataFrame", path: PathLike, float_format: Optional[str] = None) -> Path:
    """Write a frame as CSV atomically: no index, ``\\n`` line ends, UTF-8; returns the path.

    ``float_format`` (e.g. ``"%.10g"``) fixes how floats are printed, so equal frames give
    byte-identical files.
    """
    return write_text(path, frame.to_csv(index=False, float_format=float_format, lineterminator="\n"))


def parquet_available() -> bool:
    """Whether Parquet can be written (pyarrow is installed)."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def write_parquet(frame: "pd.DataFrame", path: PathLike) -> Path:
    """Write a frame as Parquet (no index) atomically; returns the path. Needs pyarrow (:func:`parquet_available`)."""
    target = Path(path)
    with atomic_path(target) as temporary:
        frame.to_parquet(temporary, index=False)
    return target


__all__ = [
    "atomic_path", "parquet_available", "remove_stale_temporaries", "remove_temporaries", "write_bytes", "write_csv",
    "write_parquet", "write_text",
]

"""Reading records out of files, with one located message for the first thing wrong.

Every reader goes through the same three steps: the file becomes *rows* (a list of
``(where, record)`` pairs: CSV lines with the header as line 1, JSON lines, or items of a
JSON array), the columns a table needs are checked, and values are converted column by
column (timestamps, numbers, JSON arrays). The first problem raises
:class:`~trunksim.calibrate.history.CalibrationInputError` naming the file, the line (or
item) and the column. The same functions read the histories trunksim writes from a
simulation (:mod:`trunksim.calibrate.formats`), so observed and simulated records are
read by one set of rules.

Timestamps must say their time zone: ``2026-01-05T11:00:00Z``, ``...+01:00``, or
BigQuery's ``2026-01-05 11:00:00 UTC``. A time without one is refused (a history mixing
local and UTC times would shift every lead time by hours) unless the caller says the
naive times are UTC (``assume_utc``, for DevLake's MySQL exports, which store UTC without
saying so).
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

import numpy as np
import pandas as pd

from trunksim.calibrate.history import UTC_DTYPE, CalibrationInputError

Rows = list[tuple[Any, dict[str, Any]]]
"""Records of one file: ``(where, record)``; ``where`` is a line number (int) or an item label (str)."""

ZONE = re.compile(r"(?:[Zz]|[+-]\d{2}(?::?\d{2})?|\s*UTC|\s*GMT)$")
"""The end of a timestamp that says its time zone."""

TIME_EXAMPLE = "ISO-8601 with a time zone, e.g. 2026-01-05T11:00:00Z or 2026-01-05T12:00:00+01:00"

MAX_FILE_BYTES = 512 * 1024 * 1024
"""Largest input file read, bytes."""


def read_text(path: str | Path) -> str:
    """A file's text (UTF-8, a byte-order mark dropped); a located error if it cannot be read."""
    file = str(path)
    try:
        size = Path(path).stat().st_size
        if size > MAX_FILE_BYTES:
            raise CalibrationInputError(f"the file is {size:,} bytes (allowed: at most {MAX_FILE_BYTES:,})", file)
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise CalibrationInputError("no such file", file) from None
    except IsADirectoryError:
        raise CalibrationInputError("is a folder, not a file", file) from None
    except OSError as error:
        raise CalibrationInputError(f"cannot be read ({error.strerror or error})", file) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise CalibrationInputError("is not UTF-8 text", file, line) from None


def csv_rows(text: str, file: str) -> tuple[list[str], Rows]:
    """Header and rows of CSV text; ``where`` is the physical line each record ends on."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise CalibrationInputError("is empty (expected a CSV header line)", file, 1) from None
    except csv.Error as error:
        raise CalibrationInputError(f"is not CSV ({error})", file, 1) from None
    header = [name.strip() for name in header]
    rows: Rows = []
    try:
        for values in reader:
            if not values or all(not v.strip() for v in values):
                continue
            if len(values) != len(header):
                raise CalibrationInputError(
                    f"has {len(values)} values where the header names {len(header)} columns", file, reader.line_num
                )
            rows.append((reader.line_num, dict(zip(header, values))))
    except csv.Error as error:
        raise CalibrationInputError(f"is not CSV ({error})", file, reader.line_num) from None
    return header, rows


def jsonl_rows(text: str, file: str) -> Rows:
    """Records of JSON lines text (one object per line; blank lines skipped)."""
    rows: Rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise CalibrationInputError(f"is not JSON ({error.msg})", file, number) from None
        if not isinstance(record, dict):
            raise CalibrationInputError(f"is a JSON {type(record).__name__}, not an object", file, number)
        rows.append((number, record))
    return rows


def json_array_rows(text: str, file: str) -> Rows:
    """Items of a JSON array of objects (what ``gh ... --json`` prints); ``where`` is ``item N`` (1-based)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise CalibrationInputError(f"is not JSON ({error.msg})", file, error.lineno) from None
    if not isinstance(data, list):
        raise CalibrationInputError(f"holds a JSON {type(data).__name__}; expected an array of objects (gh ... --json)", file)
    rows: Rows = []
    for index, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            raise CalibrationInputError(f"is a JSON {type(item).__name__}, not an object", file, f"item {index}")
        rows.append((f"item {index}", item))
    return rows


def require_columns(present: Iterable[str], needed: Sequence[str], file: str, what: str, line: Any = 1) -> None:
    """Raise a located error naming every column of ``needed`` missing from ``present``."""
    have = set(present)
    missing = [name for name in needed if name not in have]
    if missing:
        names = ", ".join(repr(m) for m in missing)
        raise CalibrationInputError(
            f"missing column{'s' if len(missing) > 1 else ''} {names} ({what} needs: {', '.join(needed)})", file, line
        )


def require_fields(rows: Rows, needed: Sequence[str], file: str, what: str) -> None:
    """Every record of a JSON source has each field of ``needed`` (located at the first record lacking one)."""
    for where, record in rows:
        missing = [name for name in needed if name not in record]
        if missing:
            names = ", ".join(repr(m) for m in missing)
            raise CalibrationInputError(
                f"missing field{'s' if len(missing) > 1 else ''} {names} ({what} needs: {', '.join(needed)})", file, where
            )


def is_null(value: Any) -> bool:
    """An empty CSV cell, JSON null, or NaN."""
    return value is None or (isinstance(value, str) and not value.strip()) or (isinstance(value, float) and np.isnan(value))


def times(
    rows: Rows, column: str, file: str, *, required: bool = True, assume_utc: bool = False, getter=None
) -> pd.Series:
    """One column of ``rows`` as UTC timestamps; NULL gives NaT where ``required`` is False.

    ``getter(record)`` reads the value when it is not simply ``record[column]`` (nested
    JSON). Raises a located error for the first value that is missing (if required), not
    a timestamp, or without a time zone (unless ``assume_utc``).
    """
    raw = [record.get(column) if getter is None else getter(record) for _, record in rows]
    text = pd.Series(["" if is_null(v) else str(v).strip() for v in raw], dtype=object)
    empty = (text == "").to_numpy()
    if required and empty.any():
        where = rows[int(np.argmax(empty))][0]
        raise CalibrationInputError(f"is empty (allowed: {TIME_EXAMPLE})", file, where, column)
    if len(text) == 0:
        return pd.Series([], dtype=UTC_DTYPE)
    cleaned = text.str.replace(r"\s*(UTC|GMT)$", "+00:00", regex=True)
    parsed = pd.to_datetime(cleaned.where(~empty, None), format="ISO8601", utc=True, errors="coerce")
    bad = parsed.isna().to_numpy() & ~empty
    if bad.any():
        index = int(np.argmax(bad))
        raise CalibrationInputError(f"{text.iloc[index]!r} is not a timestamp (allowed: {TIME_EXAMPLE})", file, rows[index][0], column)
    zoned = text.str.contains(ZONE, regex=True).to_numpy() | empty
    if not assume_utc and not zoned.all():
        index = int(np.argmin(zoned))
        raise CalibrationInputError(
            f"{text.iloc[index]!r} has no time zone (allowed: {TIME_EXAMPLE}; a naive time is refused, as it may be "
            "local time; if every naive time of these files is UTC, say so with --assume-utc)",
            file, rows[index][0], column,
        )
    return pd.Series(parsed.array, dtype=UTC_DTYPE)


def numbers(rows: Rows, column: str, file: str, *, required: bool = False, getter=None, minimum: Optional[float] = 0.0) -> pd.Series:
    """One column of ``rows`` as floats (NULL → NaN unless ``required``); a located error for text or a negative value."""
    values = []
    for where, record in rows:
        value = record.get(column) if getter is None else getter(record)
        if is_null(value):
            if required:
                raise CalibrationInputError("is empty (allowed: a number)", file, where, column)
            values.append(np.nan)
            continue
        try:
            number = float(value) if not isinstance(value, bool) else float("nan")
        except (TypeError, ValueError):
            number = float("nan")
        if not np.isfinite(number):
            raise CalibrationInputError(f"{value!r} is not a number", file, where, column)
        if minimum is not None and number < minimum:
            raise CalibrationInputError(f"{value!r} is below {minimum:g}", file, where, column)
        values.append(number)
    return pd.Series(values, dtype=float)


def texts(rows: Rows, column: str, *, getter=None) -> pd.Series:
    """One column as text (NULL → None)."""
    values = []
    for _, record in rows:
        value = record.get(column) if getter is None else getter(record)
        values.append(None if is_null(value) else str(value))
    return pd.Series(values, dtype=object)


def id_lists(rows: Rows, column: str, file: str) -> list[Optional[tuple[str, ...]]]:
    """A column holding a list of ids: a JSON array (also as text in a CSV cell); NULL → None."""
    lists: list[Optional[tuple[str, ...]]] = []
    for where, record in rows:
        value = record.get(column)
        if is_null(value):
            lists.append(None)
            continue
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise CalibrationInputError(
                    f"{value[:60]!r} is not a JSON array of ids (allowed: e.g. [\"a1b2...\", \"c3d4...\"])", file, where, column
                ) from None
        if not isinstance(value, list) or not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value):
            raise CalibrationInputError("is not a JSON array of ids (allowed: e.g. [\"a1b2...\"])", file, where, column)
        lists.append(tuple(str(v) for v in value))
    return lists


def check_order(rows: Rows, early: pd.Series, late: pd.Series, early_name: str, late_name: str, file: str) -> None:
    """A located error for the first row whose ``late`` time comes before its ``early`` time."""
    wrong = (late < early).fillna(False).to_numpy()
    if wrong.any():
        index = int(np.argmax(wrong))
        raise CalibrationInputError(
            f"{late.iloc[index].isoformat()} is before {early_name} {early.iloc[index].isoformat()}", file, rows[index][0], late_name
        )


def iso(stamp: Any) -> Optional[str]:
    """A timestamp as ``YYYY-MM-DDTHH:MM:SSZ`` (whole seconds, UTC); None for NaT."""
    if stamp is None or pd.isna(stamp):
        return None
    return pd.Timestamp(stamp).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")

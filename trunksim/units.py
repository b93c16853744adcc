"""Durations written with units: ``"45m"``, ``"2h"``, ``"3d"``, ``"2w"``.

Simulation time in trunksim is measured in **hours**. A duration string is a number
followed by one unit: ``s`` (seconds), ``m`` (minutes), ``h`` (hours), ``d`` (days of
24 hours) or ``w`` (weeks of 7 days). A plain number is read as hours. Calendar days
and working days are different things: ``3d`` here is 72 wall-clock hours; how much
*work* fits in them is the working calendar's business (``team.calendar``).
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, WithJsonSchema

HOURS_PER_UNIT: dict[str, float] = {
    "s": 1.0 / 3600.0,
    "m": 1.0 / 60.0,
    "h": 1.0,
    "d": 24.0,
    "w": 168.0,
}

_NUMBER = r"[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?"
_DURATION = re.compile(rf"^\s*(-?)\s*({_NUMBER})\s*([smhdw])\s*$")  # the sign only to say "negative"

PATTERN = rf"^\s*{_NUMBER}\s*[smhdw]\s*$"
"""A duration string, as a regular expression that JavaScript (JSON Schema) reads too."""
POSITIVE_PATTERN = rf"^\s*(?=[0-9.]*[1-9]){_NUMBER}\s*[smhdw]\s*$"
"""A duration string whose number is not zero (a digit 1-9 before any exponent)."""

ALLOWED = 'a number of hours or a string like "45m", "2h", "3d", "2w"'


def parse_duration(value: Any) -> float:
    """Return a duration in hours.

    Parameters
    ----------
    value : float | int | str
        A number (hours) or a string ``"<number><unit>"`` with unit one of
        ``s, m, h, d, w``.

    Returns
    -------
    float
        The duration in hours. Finite and not negative.

    Raises
    ------
    ValueError
        If the value is not a duration, is negative, NaN or infinite.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a duration, got a boolean ({ALLOWED})")
    if isinstance(value, (int, float)):
        try:
            hours = float(value)
        except OverflowError:  # an integer with hundreds of digits
            raise ValueError(f"duration is too large ({ALLOWED})") from None
    elif isinstance(value, str):
        match = _DURATION.match(value)
        if match is None:
            raise ValueError(f"{value!r} is not a duration ({ALLOWED})")
        sign, number, unit = match.groups()
        if sign:
            raise ValueError(f"duration must not be negative ({ALLOWED})")
        hours = float(number) * HOURS_PER_UNIT[unit]
    else:
        raise ValueError(f"expected a duration, got {type(value).__name__} ({ALLOWED})")
    if not math.isfinite(hours):
        raise ValueError(f"duration must be finite ({ALLOWED})")
    if hours < 0:
        raise ValueError(f"duration must not be negative ({ALLOWED})")
    return hours


def format_duration(hours: float) -> str:
    """Render hours back as the shortest exact duration string (``0.5`` → ``"30m"``)."""
    for unit in ("w", "d", "h", "m"):
        count = hours / HOURS_PER_UNIT[unit]
        if count >= 1 and abs(count - round(count)) < 1e-9:
            return f"{int(round(count))}{unit}"
    return f"{hours:g}h"


def _json_schema(bound: str, pattern: str) -> WithJsonSchema:
    return WithJsonSchema(
        {
            "anyOf": [{"type": "number", bound: 0}, {"type": "string", "pattern": pattern}],
            "description": "hours, or a number with a unit: s, m, h, d, w",
        }
    )


Hours = Annotated[float, BeforeValidator(parse_duration), _json_schema("minimum", PATTERN)]
"""A non-negative duration in hours, written as a number of hours or with a unit."""

PositiveHours = Annotated[
    float, BeforeValidator(parse_duration), Field(gt=0), _json_schema("exclusiveMinimum", POSITIVE_PATTERN)
]
"""A strictly positive duration in hours."""


# Working hours and clock hours are different quantities. Clock hours are simulation
# time (machines, pipelines, incidents and cadences run around the clock); working hours
# are human effort, which becomes clock time only through the working calendar
# (``team.calendar``). The two aliases below name the unit of each schema field; the
# engine converts working hours with ``WorkingCalendar.finish_time``.
ClockHours = Hours
"""A non-negative duration of clock (simulation) time, hours."""
PositiveClockHours = PositiveHours
"""A strictly positive duration of clock (simulation) time, hours."""
WorkingHours = Hours
"""A non-negative amount of human effort, working hours (clock time only through the calendar)."""
PositiveWorkingHours = PositiveHours
"""A strictly positive amount of human effort, working hours."""

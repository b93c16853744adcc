"""Durations and their two units: clock hours and working hours.

Simulation time is measured in **clock hours** from Monday 00:00: machines (CI runners,
deployment pipelines), cadences and incidents run around the clock. Human effort is
measured in **working hours**: coding, reviewing, fixing and triaging happen inside the
team's working calendar (``team.calendar``), and an amount of effort becomes clock time
only through that calendar (``WorkingCalendar.finish_time`` in the engine). The two are
different quantities, so a scenario field has one of two types here:
:data:`ClockHours` or :data:`WorkingHours` (and their strictly positive forms).

How a duration is written (one rule for every duration field):

* a **number** is hours of the field's unit: ``ci.duration: 0.5`` is half a clock hour,
  ``team.focus_block: 2`` is two working hours;
* **text** is a number written together with one unit letter, nothing else:
  ``s`` (seconds), ``m`` (minutes), ``h`` (hours), and in clock-hours fields only
  ``d`` (days of 24 hours) and ``w`` (weeks of 168 hours). ``"45m"``, ``"1.5h"``,
  ``"3d"``, ``"2w"``, ``"1e-3h"``.

Anything else is refused with the spelling to use instead: no space between number and
unit (``"90 m"``: write ``90m``), no other unit words (``"10min"``: write ``10m``;
``"2 hours"``: write ``2h``), no bare number as text (``"2"``: write ``2h``), nothing
negative. ``d`` and ``w`` are refused in working-hours fields, because a working day is
not 24 hours (a 3-day feature is ``24h`` of work with 8-hour days) and how long it is
depends on ``team.calendar.hours_per_day``: write working hours instead.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, WithJsonSchema

HOURS_PER_UNIT: dict[str, float] = {
    "s": 1.0 / 3600.0,
    "m": 1.0 / 60.0,
    "h": 1.0,
    "d": 24.0,
    "w": 168.0,
}
"""Hours in one of each unit letter, hours."""

NUMBER = r"[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?"
"""A non-negative decimal number, as a regular expression (no sign)."""

# Spellings people write, only to say which letter to use instead.
_SPELLINGS = {
    "s": ("s", "sec", "secs", "second", "seconds"),
    "m": ("m", "min", "mins", "minute", "minutes"),
    "h": ("h", "hr", "hrs", "hour", "hours"),
    "d": ("d", "day", "days"),
    "w": ("w", "wk", "wks", "week", "weeks"),
}
_LETTER = {spelling: letter for letter, spellings in _SPELLINGS.items() for spelling in spellings}
_WRITTEN = re.compile(rf"(-?)\s*({NUMBER})\s*([A-Za-z]*)")  # to diagnose what was meant


@dataclass(frozen=True)
class DurationUnit:
    """The unit of a duration field and the rule its values are read by.

    Attributes
    ----------
    name : str
        ``"clock hours"`` or ``"working hours"``; what the docs, the JSON Schema and the
        problems call the unit.
    letters : str
        The unit letters a value may be written with (``"smhdw"`` or ``"smh"``).
    """

    name: str
    letters: str

    @property
    def pattern(self) -> str:
        """A duration string of this unit, as a regular expression JavaScript (JSON Schema) reads too."""
        return rf"^{NUMBER}[{self.letters}]$"

    @property
    def positive_pattern(self) -> str:
        """A duration string whose number is not zero (a digit 1-9 before any exponent)."""
        return rf"^(?=[0-9.]*[1-9]){NUMBER}[{self.letters}]$"

    @property
    def allowed(self) -> str:
        """What may be written, in words (the parenthesis of a problem)."""
        letters = ", ".join(self.letters[:-1]) + " or " + self.letters[-1]
        examples = '"45m", "2h", "3d", "2w"' if "d" in self.letters else '"45m", "2h", "16h"'
        return f"{self.name}: a number of hours, or a number written together with {letters}, like {examples}"

    def parse(self, value: Any) -> float:
        """Return a duration of this unit in hours.

        Parameters
        ----------
        value : float | int | str
            A number (hours) or a string ``"<number><letter>"`` (see the module docstring).

        Returns
        -------
        float
            The duration in hours of this unit. Finite and not negative.

        Raises
        ------
        ValueError
            If the value is not a duration of this unit, is negative, NaN or infinite; the
            message says what to write instead.
        """
        if isinstance(value, bool):
            raise ValueError(f"expected a duration, got a boolean ({self.allowed})")
        if isinstance(value, (int, float)):
            try:
                hours = float(value)
            except OverflowError:  # an integer with hundreds of digits
                raise ValueError(f"duration is too large ({self.allowed})") from None
        elif isinstance(value, str):
            hours = self._parse_text(value)
        else:
            raise ValueError(f"expected a duration, got {type(value).__name__} ({self.allowed})")
        if not math.isfinite(hours):
            raise ValueError(f"duration must be finite ({self.allowed})")
        if hours < 0:
            raise ValueError(f"duration must not be negative ({self.allowed})")
        return hours

    def _parse_text(self, text: str) -> float:
        written = _WRITTEN.fullmatch(text.strip())
        if written is None:
            raise ValueError(f"{text!r} is not a duration ({self.allowed})")
        sign, number, word = written.groups()
        if sign:
            raise ValueError(f"duration must not be negative ({self.allowed})")
        if not word:
            raise ValueError(f"{text!r} is not a duration: text needs a unit, write {number}h ({self.allowed})")
        letter = _LETTER.get(word.lower())
        if letter is None:
            raise ValueError(f"{text!r} is not a duration ({self.allowed})")
        if letter not in self.letters:
            raise ValueError(self._refused_letter(text, number, letter))
        if text != number + letter:
            raise ValueError(f"{text!r} is not a duration: write {number}{letter} ({self.allowed})")
        return float(number) * HOURS_PER_UNIT[letter]

    def _refused_letter(self, text: str, number: str, letter: str) -> str:
        count = float(number)
        plural = "" if count == 1 else "s"
        if letter == "d":
            example = f"{count * 8:g}h for {count:g} working day{plural} of 8 hours"
            what = "days of 24 clock hours"
        else:
            example = f"{count * 40:g}h for {count:g} working week{plural} of 5 days of 8 hours"
            what = "weeks of 168 clock hours"
        return (
            f"{text!r} is in {what}, but this field is working hours: write hours, like {example} "
            f"(a working day's length is team.calendar.hours_per_day; allowed: {self.allowed})"
        )

    def format(self, hours: float) -> str:
        """Render hours back as the shortest exact duration string of this unit (``0.5`` → ``"30m"``)."""
        for letter in ("w", "d", "h", "m"):
            if letter not in self.letters:
                continue
            count = hours / HOURS_PER_UNIT[letter]
            if count >= 1 and abs(count - round(count)) < 1e-9:
                return f"{int(round(count))}{letter}"
        return f"{hours:g}h"


CLOCK = DurationUnit("clock hours", "smhdw")
"""Simulation time: machines, pipelines, cadences and incidents run around the clock."""
WORKING = DurationUnit("working hours", "smh")
"""Human effort, which becomes clock time only through the working calendar."""


def parse_duration(value: Any, unit: DurationUnit = CLOCK) -> float:
    """Return a duration in hours of ``unit`` (clock hours unless told), read by the rule above.

    Raises
    ------
    ValueError
        If the value is not a duration of that unit, is negative, NaN or infinite.
    """
    return unit.parse(value)


def duration_unit(metadata: Any) -> DurationUnit | None:
    """The unit among a field's or type's metadata items, or None if it is not a duration."""
    for item in metadata:
        if isinstance(item, DurationUnit):
            return item
    return None


def _json_schema(unit: DurationUnit, positive: bool) -> WithJsonSchema:
    """What editors see: a number (hours) or a duration string of the unit, described in words."""
    return WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "exclusiveMinimum" if positive else "minimum": 0},
                {"type": "string", "pattern": unit.positive_pattern if positive else unit.pattern},
            ],
            "description": unit.allowed,
        }
    )


# The unit object rides in each type's metadata, so problems, the parameter reference
# and tests can tell the two apart (``duration_unit(field.metadata)``).
ClockHours = Annotated[float, CLOCK, BeforeValidator(CLOCK.parse), _json_schema(CLOCK, False)]
"""A non-negative duration of clock (simulation) time, clock hours."""
PositiveClockHours = Annotated[float, CLOCK, BeforeValidator(CLOCK.parse), Field(gt=0), _json_schema(CLOCK, True)]
"""A strictly positive duration of clock (simulation) time, clock hours."""
WorkingHours = Annotated[float, WORKING, BeforeValidator(WORKING.parse), _json_schema(WORKING, False)]
"""A non-negative amount of human effort, working hours (clock time only through the calendar)."""
PositiveWorkingHours = Annotated[float, WORKING, BeforeValidator(WORKING.parse), Field(gt=0), _json_schema(WORKING, True)]
"""A strictly positive amount of human effort, working hours."""

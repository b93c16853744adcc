"""Probability distributions of durations, written the way practitioners know them.

Every distribution here describes a duration in hours of one unit, **clock hours** or
**working hours** (:mod:`trunksim.units`), and is written in YAML in one of these forms::

    review_time: 30m                                   # a constant
    review_time: {dist: constant, value: 30m}           # also {value: 30m}
    review_time: {dist: exponential, mean: 2h}
    review_time: {dist: lognormal, median: 1h, p90: 5h}
    review_time: {dist: uniform, low: 10m, high: 1h}
    review_time: {dist: triangular, low: 10m, mode: 30m, high: 2h}
    review_time: {dist: empirical, values: [20m, 35m, 1h, 3h]}

A field's type says its unit: :data:`ClockHoursDistribution` (machines, cadences,
incidents) reads its values as clock hours, :data:`WorkingHoursDistribution` (human
effort) as working hours, where ``d`` and ``w`` are refused (a working day is not 24
hours). The two flavours share their behaviour: :class:`Constant`, :class:`LogNormal`
and the others are the unit-free bases, ``Clock*`` and ``Working*`` their typed forms.

The log-normal is given by its median and 90th percentile because those are what a
team can read off its own tooling; ``sigma = ln(p90 / median) / z(0.9)`` with
``z(0.9) = 1.2815515655446004``. The empirical form resamples the observed values
with equal weight (a bootstrap of the team's history).

Sampling is vectorised: ``dist.sample(rng, n)`` returns ``n`` draws as a NumPy array,
so the engine can draw in batches.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Callable, Literal, Mapping, Union

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, GetJsonSchemaHandler, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from trunksim.scenario.problems import FieldsError
from trunksim.units import (
    CLOCK,
    WORKING,
    ClockHours,
    DurationUnit,
    PositiveClockHours,
    PositiveWorkingHours,
    WorkingHours,
)

Z90 = 1.2815515655446004
"""The standard normal quantile at 0.9."""


class Distribution(BaseModel):
    """Base of every duration distribution: strict, frozen, finite."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:  # pragma: no cover - abstract
        """Draw ``size`` values in hours (of the field's unit) from ``rng``."""
        raise NotImplementedError

    def mean_hours(self) -> float:  # pragma: no cover - abstract
        """The distribution's mean in hours of the field's unit (used for size estimates and docs)."""
        raise NotImplementedError


# --- Behaviour, whatever the unit ----------------------------------------------------------


class Constant(Distribution):
    """Always the same value."""

    dist: Literal["constant"] = "constant"
    value: float

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return np.full(size, self.value)

    def mean_hours(self) -> float:
        return self.value


class Exponential(Distribution):
    """Memoryless waits, given by their mean."""

    dist: Literal["exponential"]
    mean: float

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.exponential(self.mean, size)

    def mean_hours(self) -> float:
        return self.mean


class LogNormal(Distribution):
    """Skewed, long-tailed durations, given by median and 90th percentile."""

    dist: Literal["lognormal"]
    median: float
    p90: float

    @model_validator(mode="after")
    def _p90_not_below_median(self) -> "LogNormal":
        if self.p90 < self.median:
            raise FieldsError("p90 must be at least the median", "p90", "median")
        return self

    @property
    def sigma(self) -> float:
        """The log-scale standard deviation implied by median and p90."""
        return math.log(self.p90 / self.median) / Z90

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.lognormal(math.log(self.median), self.sigma, size)

    def mean_hours(self) -> float:
        return self.median * math.exp(self.sigma**2 / 2)


class Uniform(Distribution):
    """Any value between low and high equally likely."""

    dist: Literal["uniform"]
    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> "Uniform":
        if self.high < self.low:
            raise FieldsError("high must be at least low", "high", "low")
        return self

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.uniform(self.low, self.high, size)

    def mean_hours(self) -> float:
        return (self.low + self.high) / 2


class Triangular(Distribution):
    """A three-point estimate: lowest, most likely, highest."""

    dist: Literal["triangular"]
    low: float
    mode: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> "Triangular":
        if not (self.low <= self.mode <= self.high) or self.low == self.high:
            raise FieldsError("need low <= mode <= high and low < high", "mode", "low", "high")
        return self

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.triangular(self.low, self.mode, self.high, size)

    def mean_hours(self) -> float:
        return (self.low + self.mode + self.high) / 3


class Empirical(Distribution):
    """Resample observed values (a bootstrap of the team's own history)."""

    dist: Literal["empirical"]
    values: tuple[float, ...]

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.choice(np.asarray(self.values, dtype=float), size)

    def mean_hours(self) -> float:
        return float(np.mean(self.values))


# --- Clock hours: machines, cadences, incidents ----------------------------------------------


class ClockConstant(Constant):
    """Always the same value, clock hours."""

    value: ClockHours = Field(description="the value, clock hours")


class ClockExponential(Exponential):
    """Memoryless waits, given by their mean, clock hours."""

    mean: PositiveClockHours = Field(description="mean, clock hours")


class ClockLogNormal(LogNormal):
    """Skewed, long-tailed durations, given by median and 90th percentile, clock hours."""

    median: PositiveClockHours = Field(description="median, clock hours")
    p90: PositiveClockHours = Field(description="90th percentile, clock hours; at least the median")


class ClockUniform(Uniform):
    """Any value between low and high equally likely, clock hours."""

    low: ClockHours = Field(description="lowest value, clock hours")
    high: ClockHours = Field(description="highest value, clock hours; at least low")


class ClockTriangular(Triangular):
    """A three-point estimate: lowest, most likely, highest, clock hours."""

    low: ClockHours = Field(description="lowest value, clock hours")
    mode: ClockHours = Field(description="most likely value, clock hours")
    high: ClockHours = Field(description="highest value, clock hours")


class ClockEmpirical(Empirical):
    """Resample observed values, clock hours."""

    values: tuple[ClockHours, ...] = Field(min_length=1, max_length=100_000, description="observed values, clock hours")


# --- Working hours: human effort -----------------------------------------------------------


class WorkingConstant(Constant):
    """Always the same value, working hours."""

    value: WorkingHours = Field(description="the value, working hours")


class WorkingExponential(Exponential):
    """Memoryless waits, given by their mean, working hours."""

    mean: PositiveWorkingHours = Field(description="mean, working hours")


class WorkingLogNormal(LogNormal):
    """Skewed, long-tailed durations, given by median and 90th percentile, working hours."""

    median: PositiveWorkingHours = Field(description="median, working hours")
    p90: PositiveWorkingHours = Field(description="90th percentile, working hours; at least the median")


class WorkingUniform(Uniform):
    """Any value between low and high equally likely, working hours."""

    low: WorkingHours = Field(description="lowest value, working hours")
    high: WorkingHours = Field(description="highest value, working hours; at least low")


class WorkingTriangular(Triangular):
    """A three-point estimate: lowest, most likely, highest, working hours."""

    low: WorkingHours = Field(description="lowest value, working hours")
    mode: WorkingHours = Field(description="most likely value, working hours")
    high: WorkingHours = Field(description="highest value, working hours")


class WorkingEmpirical(Empirical):
    """Resample observed values, working hours."""

    values: tuple[WorkingHours, ...] = Field(
        min_length=1, max_length=100_000, description="observed values, working hours"
    )


# --- The field types -----------------------------------------------------------------------


def _constant_shorthand(unit: DurationUnit) -> Callable[[Any], Any]:
    """``30m``, ``0.5`` and ``{value: 30m}`` (no ``dist``) all mean a constant, read in ``unit``."""

    def shorthand(value: Any) -> Any:
        if isinstance(value, (int, float, str)) and not isinstance(value, bool):
            return {"dist": "constant", "value": unit.parse(value)}
        if isinstance(value, Mapping) and "dist" not in value and "value" in value:
            return {"dist": "constant", **value}
        return value

    return shorthand


class _ShorthandJsonSchema:
    """JSON Schema metadata: a distribution may also be written as a plain duration of its unit.

    The validator accepts ``30m`` or ``0.5`` for a constant (see ``_constant_shorthand``),
    so the exported schema must too, or editors would flag valid files.
    """

    def __init__(self, unit: DurationUnit) -> None:
        self.unit = unit

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        mappings = handler(schema)
        shorthand = [{"type": "number", "minimum": 0}, {"type": "string", "pattern": self.unit.pattern}]
        return {"anyOf": [*shorthand, mappings]}


def _distribution(unit: DurationUnit, members: tuple[type[Distribution], ...]) -> Any:
    union = Annotated[Union[members], Field(discriminator="dist")]  # type: ignore[valid-type]
    return Annotated[union, unit, BeforeValidator(_constant_shorthand(unit)), _ShorthandJsonSchema(unit)]


ClockHoursDistribution = _distribution(
    CLOCK, (ClockConstant, ClockExponential, ClockLogNormal, ClockUniform, ClockTriangular, ClockEmpirical)
)
"""A distribution of clock hours; a plain number or duration string is a constant."""

WorkingHoursDistribution = _distribution(
    WORKING, (WorkingConstant, WorkingExponential, WorkingLogNormal, WorkingUniform, WorkingTriangular, WorkingEmpirical)
)
"""A distribution of working hours (``d`` and ``w`` refused); a plain number or duration string is a constant."""

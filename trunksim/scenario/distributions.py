"""Probability distributions for durations, written the way practitioners know them.

Every distribution here describes a duration in **hours** and is written in YAML in
one of these forms::

    review_time: 30m                                   # a constant
    review_time: {dist: constant, value: 30m}           # also {value: 30m}
    review_time: {dist: exponential, mean: 2h}
    review_time: {dist: lognormal, median: 1h, p90: 5h}
    review_time: {dist: uniform, low: 10m, high: 1h}
    review_time: {dist: triangular, low: 10m, mode: 30m, high: 2h}
    review_time: {dist: empirical, values: [20m, 35m, 1h, 3h]}

The log-normal is given by its median and 90th percentile because those are what a
team can read off its own tooling; ``sigma = ln(p90 / median) / z(0.9)`` with
``z(0.9) = 1.2815515655446004``. The empirical form resamples the observed values
with equal weight (a bootstrap of the team's history).

Sampling is vectorised: ``dist.sample(rng, n)`` returns ``n`` draws as a NumPy array,
so the engine can draw in batches.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, Mapping, Union

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, GetJsonSchemaHandler, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from trunksim.units import PATTERN, Hours, PositiveHours, parse_duration

Z90 = 1.2815515655446004
"""The standard normal quantile at 0.9."""


class _Dist(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:  # pragma: no cover - abstract
        """Draw ``size`` values in hours from ``rng``."""
        raise NotImplementedError

    def mean_hours(self) -> float:  # pragma: no cover - abstract
        """The distribution's mean in hours (used for size estimates and docs)."""
        raise NotImplementedError


class Constant(_Dist):
    """Always the same value."""

    dist: Literal["constant"] = "constant"
    value: Hours = Field(description="the value, hours")

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return np.full(size, self.value)

    def mean_hours(self) -> float:
        return self.value


class Exponential(_Dist):
    """Memoryless waits, given by their mean."""

    dist: Literal["exponential"]
    mean: PositiveHours = Field(description="mean, hours")

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.exponential(self.mean, size)

    def mean_hours(self) -> float:
        return self.mean


class LogNormal(_Dist):
    """Skewed, long-tailed durations, given by median and 90th percentile."""

    dist: Literal["lognormal"]
    median: PositiveHours = Field(description="median, hours")
    p90: PositiveHours = Field(description="90th percentile, hours; at least the median")

    @model_validator(mode="after")
    def _p90_not_below_median(self) -> "LogNormal":
        if self.p90 < self.median:
            raise ValueError("p90 must be at least the median")
        return self

    @property
    def sigma(self) -> float:
        """The log-scale standard deviation implied by median and p90."""
        return math.log(self.p90 / self.median) / Z90

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.lognormal(math.log(self.median), self.sigma, size)

    def mean_hours(self) -> float:
        return self.median * math.exp(self.sigma**2 / 2)


class Uniform(_Dist):
    """Any value between low and high equally likely."""

    dist: Literal["uniform"]
    low: Hours = Field(description="lowest value, hours")
    high: Hours = Field(description="highest value, hours; at least low")

    @model_validator(mode="after")
    def _ordered(self) -> "Uniform":
        if self.high < self.low:
            raise ValueError("high must be at least low")
        return self

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.uniform(self.low, self.high, size)

    def mean_hours(self) -> float:
        return (self.low + self.high) / 2


class Triangular(_Dist):
    """A three-point estimate: lowest, most likely, highest."""

    dist: Literal["triangular"]
    low: Hours = Field(description="lowest value, hours")
    mode: Hours = Field(description="most likely value, hours")
    high: Hours = Field(description="highest value, hours")

    @model_validator(mode="after")
    def _ordered(self) -> "Triangular":
        if not (self.low <= self.mode <= self.high) or self.low == self.high:
            raise ValueError("need low <= mode <= high and low < high")
        return self

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.triangular(self.low, self.mode, self.high, size)

    def mean_hours(self) -> float:
        return (self.low + self.mode + self.high) / 3


class Empirical(_Dist):
    """Resample observed values (a bootstrap of the team's own history)."""

    dist: Literal["empirical"]
    values: tuple[Hours, ...] = Field(min_length=1, max_length=100_000, description="observed values, hours")

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.choice(np.asarray(self.values, dtype=float), size)

    def mean_hours(self) -> float:
        return float(np.mean(self.values))


def _constant_shorthand(value: Any) -> Any:
    """``30m``, ``0.5`` and ``{value: 30m}`` (no ``dist``) all mean a constant."""
    if isinstance(value, (int, float, str)) and not isinstance(value, bool):
        return {"dist": "constant", "value": parse_duration(value)}
    if isinstance(value, Mapping) and "dist" not in value and "value" in value:
        return {"dist": "constant", **value}
    return value


class _ShorthandJsonSchema:
    """JSON Schema metadata: a distribution may also be written as a plain duration.

    The validator accepts ``30m`` or ``0.5`` for a constant (see ``_constant_shorthand``),
    so the exported schema must too, or editors would flag valid files.
    """

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        mappings = handler(schema)
        shorthand = [{"type": "number", "minimum": 0}, {"type": "string", "pattern": PATTERN}]
        return {"anyOf": [*shorthand, mappings]}


_DistUnion = Annotated[
    Union[Constant, Exponential, LogNormal, Uniform, Triangular, Empirical],
    Field(discriminator="dist"),
]


DurationDistribution = Annotated[_DistUnion, BeforeValidator(_constant_shorthand), _ShorthandJsonSchema()]
"""A duration distribution in hours; a plain number or duration string is a constant."""

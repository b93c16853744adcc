"""The measurement window shared by every metric.

A replication counts only what happens after the warm-up: the window is
``[simulation.warm_up, simulation.duration]`` in hours. Each metric says which
timestamp decides whether a row is in the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


@dataclass(frozen=True)
class Window:
    """A measurement window in simulation hours."""

    start_hours: float
    end_hours: float

    @property
    def days(self) -> float:
        """Window length, days (24 h)."""
        return (self.end_hours - self.start_hours) / 24.0

    @property
    def weeks(self) -> float:
        """Window length, weeks (168 h)."""
        return (self.end_hours - self.start_hours) / 168.0

    def mask(self, times: Union[pd.Series, np.ndarray]) -> Union[pd.Series, np.ndarray]:
        """Rows whose time lies in ``[start, end]`` (NaN times are outside); a Series for a Series, an array for an array."""
        return (times >= self.start_hours) & (times <= self.end_hours)

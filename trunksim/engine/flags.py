"""The lifecycle of feature flags (``scenario.flags``): release, removal or debt, slowdown, misconfiguration.

A flag goes live the first time its feature is turned on. Its removal is drawn then,
from the ``flags`` stream: with probability ``removal_probability`` it is removed after
``removal_delay``; otherwise it stays live to the end (flag debt). Live flags slow coding
(:meth:`FlagKeeper.coding_factor`) and cause misconfiguration failures: every clock hour
the number of new ones is Poisson with mean ``live × misconfiguration_rate / 168 × (1 -
guard_effectiveness)``, each handed to the incident desk.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Generator

import simpy

from trunksim.engine.entities import Feature
from trunksim.randomness import UNIFORM, Streams

if TYPE_CHECKING:  # pragma: no cover
    from trunksim.scenario.mechanisms import FlagLifecycle

HOURS_PER_WEEK = 168.0


class FlagKeeper:
    """Which flags are live, when they go, and what they cost.

    Parameters
    ----------
    env : simpy.Environment
        The simulation.
    settings : scenario flags section
        Removal, debt and misconfiguration parameters.
    streams : Streams
        Draws from ``flags``.
    misconfigure : callable
        Called with no argument for each misconfiguration failure (the incident desk's).
    """

    def __init__(self, env: simpy.Environment, settings: "FlagLifecycle", streams: Streams, misconfigure: Callable[[], None]) -> None:
        self.env = env
        self.settings = settings
        self.rng = streams["flags"]
        self.uniform = streams.buffered("flags", UNIFORM)
        self.removal_delay = streams.buffered("flags", settings.removal_delay)
        self.misconfigure = misconfigure
        self.live: dict[int, Feature] = {}
        env.process(self.misconfigurations())

    def released(self, feature: Feature) -> None:
        """A feature's flag was turned on: the first time, it goes live and its removal is drawn."""
        if feature.flag_released >= 0:
            return
        feature.flag_released = self.env.now
        self.live[feature.feature_id] = feature
        removed = self.uniform() < self.settings.removal_probability
        delay = self.removal_delay()
        if removed:
            self.env.timeout(delay).callbacks.append(lambda _event: self.remove(feature))

    def remove(self, feature: Feature) -> None:
        """The flag's code is deleted: it is no longer live (the feature stays as it is)."""
        if self.live.pop(feature.feature_id, None) is not None:
            feature.flag_removed = self.env.now

    def coding_factor(self) -> float:
        """Working hours one hour of coding effort takes with today's live flags: ``1 + k × live``."""
        return 1.0 + self.settings.coding_slowdown_per_flag * len(self.live)

    def misconfigurations(self) -> Generator:
        """Every clock hour: Poisson(live × rate / 168 × (1 - guards)) new misconfiguration failures."""
        settings = self.settings
        per_flag_hour = settings.misconfiguration_rate / HOURS_PER_WEEK * (1.0 - settings.guard_effectiveness)
        while True:
            yield self.env.timeout(1.0)
            if self.live and per_flag_hour > 0:
                for _ in range(int(self.rng.poisson(per_flag_hour * len(self.live)))):
                    self.misconfigure()

"""Random streams: one named, independent NumPy generator per source of randomness.

A replication's streams derive from the root seed with :class:`numpy.random.SeedSequence`
and a **spawn key** ``(replication, stream_id)`` where ``stream_id`` is a stable hash of
the stream's name. Streams therefore depend on their names, never on the order in
which they are first used, and the same ``(seed, replication)`` gives the same draws in
every scenario: this is what makes *common random numbers* across strategies work
(feature *i* has the same effort and the same latent defects under every strategy).

Nothing here touches the global ``random`` or ``np.random`` state.
"""

from __future__ import annotations

import zlib
from typing import Protocol

import numpy as np

STREAM_NAMES: tuple[str, ...] = (
    "features",  # feature effort
    "defects",  # latent defects of a feature: count, position, severity, detection draws
    "review",  # review durations
    "ci",  # CI run durations
    "flaky",  # flaky-failure draws per CI run
    "fix",  # time to fix a found defect
    "triage",  # time to read a red CI run
    "resolution",  # merge-conflict resolution times
    "merge",  # merge-conflict and semantic-breakage draws
    "deploy",  # deployment pipeline durations
    "incident",  # detection, diagnosis and hotfix times
    "injected",  # defects written while resolving conflicts or by untested breakage
    "defect_traits",  # per latent defect: does rolling back cure its failure, does monitoring see it
    "injected_traits",  # the same traits for injected defects
    "customer",  # how long customers take to report a failure monitoring missed
    "review_response",  # how long a review request waits before a reviewer responds
    "perf_traits",  # per latent defect: is it a performance regression
    "flags",  # flag lifecycle: removal draws and delays, misconfiguration counts
    "misconfiguration",  # severity of each misconfiguration failure
    "api",  # organisations: which features change a service's API, and whether incompatibly
)
"""The named sources of randomness; each gets its own stream."""

BLOCK = 256
"""How many values a buffered draw takes from NumPy at once."""


def stream_id(name: str) -> int:
    """A stable 32-bit identifier for a stream name (CRC-32; independent of Python's hash seed)."""
    return zlib.crc32(name.encode("utf-8"))


def stream(seed: int, replication: int, name: str) -> np.random.Generator:
    """Return the generator for one named stream of one replication.

    Parameters
    ----------
    seed : int
        The root seed (``simulation.seed``), a non-negative integer.
    replication : int
        The replication index, 0-based.
    name : str
        The source of randomness, e.g. ``"features"``.

    Returns
    -------
    numpy.random.Generator
        A PCG64 generator seeded by ``SeedSequence(seed, spawn_key=(replication, stream_id(name)))``.
    """
    sequence = np.random.SeedSequence(entropy=seed, spawn_key=(replication, stream_id(name)))
    return np.random.Generator(np.random.PCG64(sequence))


class Sampler(Protocol):
    """Anything with ``sample(rng, size) -> ndarray`` (the scenario distributions)."""

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray: ...  # pragma: no cover


class Buffered:
    """Draws from one distribution on one generator, ``BLOCK`` values at a time.

    One NumPy call per value costs more than the simulation step around it; drawing in
    blocks keeps the sequence deterministic while paying NumPy's call overhead once
    per block.
    """

    __slots__ = ("_dist", "_rng", "_values", "_next")

    def __init__(self, dist: Sampler, rng: np.random.Generator) -> None:
        self._dist = dist
        self._rng = rng
        self._values: list[float] = []
        self._next = 0

    def __call__(self) -> float:
        """The next draw."""
        if self._next >= len(self._values):
            self._values = self._dist.sample(self._rng, BLOCK).tolist()
            self._next = 0
        value = self._values[self._next]
        self._next += 1
        return value


class _UniformDist:
    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.random(size)


UNIFORM = _UniformDist()
"""A sampler of uniform values on [0, 1), for :class:`Buffered`."""


class Streams:
    """All named streams of one replication, created on first use.

    Parameters
    ----------
    seed : int
        Root seed.
    replication : int
        Replication index, 0-based.
    unit : str
        Namespace of one repository of an organisation (its name): its streams are
        ``"<unit>/<name>"``, independent of every other repository's. Empty (a one-team
        scenario): the plain names, so the draws are those of every earlier version.
    """

    def __init__(self, seed: int, replication: int, unit: str = "") -> None:
        self.seed = seed
        self.replication = replication
        self.unit = unit
        self._generators: dict[str, np.random.Generator] = {}

    def __getitem__(self, name: str) -> np.random.Generator:
        if name not in STREAM_NAMES:
            raise KeyError(f"unknown random stream {name!r}; known: {', '.join(STREAM_NAMES)}")
        generator = self._generators.get(name)
        if generator is None:
            generator = self._generators[name] = stream(self.seed, self.replication, f"{self.unit}/{name}" if self.unit else name)
        return generator

    def buffered(self, name: str, dist: Sampler) -> Buffered:
        """A buffered sampler of ``dist`` on stream ``name``.

        Two buffered samplers must not share a stream, or their order of use would
        matter; the engine gives each its own stream name or uses them in a fixed
        order.
        """
        return Buffered(dist, self[name])

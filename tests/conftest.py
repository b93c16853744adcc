"""Shared fixtures: small scenarios that run in a fraction of a second."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

from trunksim.scenario.schema import Scenario

# Property tests draw the same examples on every run (a suite that fails at random cannot
# gate a merge); `make explore` draws new ones (`--hypothesis-profile=explore`) to hunt
# for bugs, and prints the blob that reproduces a failure.
settings.register_profile("deterministic", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile("deterministic")

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"


def _merge(base: dict, extra: dict) -> dict:
    merged = dict(base)
    for key, value in extra.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
    return merged


def small(kind: str = "trunk-based", **sections) -> Scenario:
    """A four-developer, six-week scenario of strategy ``kind`` (one week of warm-up); ``sections`` deep-merge."""
    data = {
        "name": kind,
        "strategy": {"name": kind},
        "team": {"developers": 4},
        "simulation": {"duration": "6w", "warm_up": "1w", "replications": 3},
    }
    return Scenario.model_validate(_merge(data, sections))


@pytest.fixture
def trunk() -> Scenario:
    return small("trunk-based")


@pytest.fixture(params=["trunk-based", "github-flow", "gitflow"])
def any_strategy(request) -> Scenario:
    return small(request.param)

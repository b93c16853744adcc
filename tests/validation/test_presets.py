"""The DORA-level presets land in their levels (docs/validation.md, section 4).

Each ``scenarios/presets/<level>.yaml`` must have ``<level>`` as its most frequent
``dora_level``. The figures over 100 replications are in docs/validation.md; here the
first 30 of those replications (same root seed) are checked, to keep the suite fast.
"""

from __future__ import annotations

import pytest

from trunksim.experiment import run
from trunksim.metrics.levels import LEVELS, level_shares
from trunksim.scenario.loading import load_scenario

from conftest import SCENARIOS

REPLICATIONS = 30
SEED = 1


@pytest.mark.parametrize("level", LEVELS)
def test_each_preset_lands_most_often_in_its_named_level(level):
    frame = run(load_scenario(SCENARIOS / "presets" / f"{level}.yaml"), replications=REPLICATIONS, seed=SEED)
    shares = level_shares(frame).iloc[0]
    assert shares["most_frequent_level"] == level
    assert shares[f"{level}_share"] >= 0.6


@pytest.mark.parametrize("level", LEVELS)
def test_each_preset_teaches_a_lesson(level):
    scenario = load_scenario(SCENARIOS / "presets" / f"{level}.yaml")
    assert scenario.name == level
    assert len(scenario.lesson.split()) >= 20

"""The browser app's logic without a browser: what a participant can pick and what a run gives (issue 17, point 2).

The page itself is tested in a real browser by tests/test_web.py.
"""

from __future__ import annotations

import csv
import io

import pytest

from trunksim.web import choices, runner


def test_the_four_rounds_come_first_with_the_parameters_they_are_about():
    available = choices.choices()
    assert [c.round for c in available[:4]] == [1, 2, 3, 4]
    offered = {c.round: [p.key for p in c.offered(c.load(8))] for c in available[:4]}
    assert offered[1][0] == "release_cadence_weeks"
    assert offered[3][0] == "strategy.max_change_lines"
    assert offered[4] == ["ci.runners", "ci_median_minutes", "ci.flaky_failure_probability", "ci.automatic_retries",
                          "deployment.canary.enabled"]
    assert any(c.key == "scenario-trunk-based" for c in available) and any(c.key == "preset-elite" for c in available)


def test_every_choice_loads_and_offers_only_parameters_it_has():
    for choice in choices.choices():
        scenario = choice.load(6)
        for parameter in choice.offered(scenario):
            value = parameter.value_in(scenario)
            assert value is not None
            assert choices.overrides_for(choice, scenario, {parameter.key: value}) == {}, (choice.key, parameter.key)


def test_values_become_overrides_in_the_scenario_s_units():
    round4 = choices.choice("round-4")
    scenario = round4.load(8)
    overrides = choices.overrides_for(round4, scenario, {"ci.runners": 4, "ci_median_minutes": 15, "deployment.canary.enabled": True})
    assert overrides == {"ci.runners": 4, "ci.duration.median": "15m", "ci.duration.p90": "40m", "deployment.canary.enabled": True}
    changed = scenario.with_overrides(overrides)
    assert changed.ci.runners == 4 and changed.deployment.canary.enabled
    round1 = choices.choice("round-1")
    assert choices.overrides_for(round1, round1.load(8), {"release_cadence_weeks": 1}) == {"strategy.release_cadence": "1w"}
    assert choices.describe_changes(round4, scenario, {"ci.runners": 4, "ci.automatic_retries": 0}) == "CI runners 4"


def test_a_run_compares_the_participant_s_version_with_the_round_as_shipped():
    calls = []
    outcome = runner.run_choice(choices.choice("round-4"), {"ci.runners": 4}, replications=3, weeks=4, seed=3,
                                progress=lambda done, total: calls.append((done, total)))
    assert calls[0] == (0, calls[-1][1]) and calls[-1][0] == calls[-1][1] in (3, 6)
    assert list(outcome.headline.index) == ["4 trunk, no safety net", runner.YOURS]
    assert "usual DORA level" in outcome.headline
    assert set(outcome.images) == {"dora", "stages", "timeline", "levels"}
    assert all(image.startswith(b"\x89PNG") for image in outcome.images.values())
    rows = list(csv.DictReader(io.StringIO(outcome.csv())))
    assert len(rows) == 6 and rows[0]["replication"] == "0" and "deploys_per_day" in rows[0]
    assert outcome.changed == "CI runners 4"

    again = runner.run_choice(choices.choice("round-4"), {"ci.runners": 2}, replications=3, weeks=4, seed=3)
    assert again.headline.iloc[0].equals(outcome.headline.iloc[0])  # the shipped scenario: same seed, same numbers (cached)
    assert not again.headline.iloc[1].equals(outcome.headline.iloc[1])


def test_a_run_with_nothing_changed_runs_the_scenario_once_and_says_so():
    outcome = runner.run_choice(choices.choice("round-3"), {}, replications=3, weeks=4, seed=5)
    assert outcome.frame["scenario"].nunique() == 1 and outcome.notes


def test_the_shipped_round_in_the_app_gives_the_guide_s_numbers():
    """The app runs a round as the notebook and the guide do (seed 1, 8 weeks; 2 of warm-up)."""
    from trunksim.experiment import run
    from trunksim.workshop import load_round

    app = runner.run_choice(choices.choice("round-2"), {}, replications=3, weeks=8, seed=1).frame
    notebook = run(load_round(2), replications=3, seed=1)
    assert app["lead_time_median_hours"].tolist() == pytest.approx(notebook["lead_time_median_hours"].tolist())


def test_the_exercises_of_a_round_set_its_parameters_as_the_notebook_does():
    from trunksim.workshop import EXERCISES

    round4 = choices.choice("round-4")
    found = choices.exercises(round4)
    assert list(found) == [f"Exercise 1: {v.name}" for v in EXERCISES[1]]
    shipped = round4.load(8)
    for variant in EXERCISES[1]:
        values = found[f"Exercise 1: {variant.name}"]
        wanted = {k: v for k, v in variant.overrides.items() if k != "name"}
        assert choices.overrides_for(round4, shipped, values) == wanted
    assert choices.exercises(choices.choice("scenario-trunk-based")) == {}
    assert len(choices.exercises(choices.choice("round-1"))) == 1

"""The tornado chart's baseline is the scenario's own values, not the grid's middle (issue 17, point 4)."""

from __future__ import annotations

from trunksim.experiment import expand_sweep

from conftest import small


def test_grid_points_carry_the_scenario_s_own_values_as_the_baseline():
    scenario = small("trunk-based", ci={"runners": 4}, team={"developers": 8})
    points = expand_sweep(scenario, {"ci.runners": [1, 2, 8], "team.developers": [4, 12]})
    assert len(points) == 6
    assert all(point.baseline == {"ci.runners": 4, "team.developers": 8} for point in points)
    assert {point.parameters["ci.runners"] for point in points} == {1, 2, 8}

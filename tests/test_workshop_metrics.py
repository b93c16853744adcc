"""``waiting_share`` measures developers with nothing to do (issue 17, point 5).

It is 0 in the shipped scenarios because their backlog never runs dry and the WIP limit
is rarely reached; it must rise when work runs out.
"""

from __future__ import annotations

import trunksim
from trunksim.metrics import compute_metrics
from trunksim.workshop import round_path

SHORT = {"simulation.duration": "4w", "simulation.warm_up": "1w"}


def shares(overrides):
    scenario = trunksim.load_scenario(round_path(3)).with_overrides({**SHORT, **overrides})
    metrics = compute_metrics(trunksim.simulate(scenario, seed=1))
    return metrics["waiting_share"], metrics["coding_share"]


def test_waiting_share_is_zero_while_work_never_runs_out():
    waiting, coding = shares({})
    assert waiting == 0 and coding > 0.5


def test_waiting_share_measures_a_team_whose_backlog_runs_dry():
    waiting, coding = shares({"work.backlog_features": 12})
    assert 0.3 < waiting < 1 and coding < 0.5


def test_waiting_share_measures_developers_blocked_by_their_wip_limit():
    waiting, _ = shares({"team.max_open_changes": 1, "ci.runners": 1, "ci.duration.median": "45m", "ci.duration.p90": "2h"})
    assert waiting > 0.05

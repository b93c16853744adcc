"""Metamorphic relations across all three strategies, under common random numbers (docs/validation.md, section 3).

``tests/test_metamorphic.py`` holds the first relations; these extend them to every
strategy and add new levers. Each test runs paired replications (same seeds) of two
variants of one small scenario — one lever changed — and compares medians over
replications, so only the lever differs. Relations that must hold exactly are checked
on every replication.
"""

from __future__ import annotations

import math

import pytest

from trunksim.experiment import run, simulate
from trunksim.metrics import compute_metrics
from trunksim.metrics.profiles import PROFILES

from conftest import small

REPS = 5
STRATEGIES = ["trunk-based", "github-flow", "gitflow"]


def medians(frame, metric):
    return frame.groupby("scenario", sort=False)[metric].median()


def test_common_random_numbers_give_every_strategy_the_same_features():
    runs = [simulate(small(kind), seed=4) for kind in STRATEGIES]
    shared = min(len(r.features) for r in runs)
    efforts = [r.features["effort_hours"].iloc[:shared].tolist() for r in runs]
    defects = [r.features["defects"].iloc[:shared].tolist() for r in runs]
    assert efforts[0] == efforts[1] == efforts[2]
    assert defects[0] == defects[1] == defects[2]


def test_more_runners_never_lengthen_the_ci_queue_under_gitflow():
    ci = {"duration": {"dist": "lognormal", "median": "40m", "p90": "1h"}}
    one = small("gitflow", name="one", ci=dict(ci, runners=1), team={"developers": 8})
    eight = small("gitflow", name="eight", ci=dict(ci, runners=8), team={"developers": 8})
    m = medians(run([one, eight], replications=REPS, seed=31), "ci_queue_wait_mean_hours")
    assert m["eight"] <= m["one"] and m["one"] > 0


@pytest.mark.parametrize("kind", STRATEGIES)
def test_a_longer_release_train_never_deploys_more_often(kind):
    daily = small(kind, name="daily", deployment={"mode": "cadence", "cadence": "1d"})
    weekly = small(kind, name="weekly", deployment={"mode": "cadence", "cadence": "1w"})
    frame = run([daily, weekly], replications=REPS, seed=32)
    assert medians(frame, "deploys_per_day")["weekly"] <= medians(frame, "deploys_per_day")["daily"]
    assert medians(frame, "lead_time_median_hours")["weekly"] >= medians(frame, "lead_time_median_hours")["daily"]


def test_bigger_features_conflict_more_under_gitflow():
    short = small("gitflow", name="short", work={"feature_effort": "8h"})
    long = small("gitflow", name="long", work={"feature_effort": "40h"})
    m = medians(run([short, long], replications=REPS, seed=33), "merge_conflict_rate")
    assert m["long"] > m["short"]


def test_trunk_based_cuts_big_features_small_and_conflicts_less_than_github_flow():
    work = {"feature_effort": "40h"}
    trunk = small("trunk-based", name="trunk", work=work)
    branches = small("github-flow", name="branches", work=work)
    frame = run([trunk, branches], replications=REPS, seed=34)
    assert medians(frame, "merge_conflict_rate")["trunk"] <= medians(frame, "merge_conflict_rate")["branches"]
    assert medians(frame, "change_size_median_lines")["trunk"] < medians(frame, "change_size_median_lines")["branches"]


@pytest.mark.parametrize("kind", STRATEGIES)
def test_more_flaky_failures_lower_the_ci_pass_rate(kind):
    calm = small(kind, name="calm", ci={"flaky_failure_probability": 0.0})
    flaky = small(kind, name="flaky", ci={"flaky_failure_probability": 0.3})
    m = medians(run([calm, flaky], replications=REPS, seed=35), "ci_pass_rate")
    assert m["flaky"] < m["calm"]


@pytest.mark.parametrize("kind", STRATEGIES)
def test_a_change_approval_board_never_shortens_lead_time_nor_raises_deployment_frequency(kind):
    free = small(kind, name="free")
    # Thursday 14:00, so the board also delays GitFlow's releases (ready on Mondays)
    board = small(kind, name="board", deployment={"approval": {"enabled": True, "offset": "86h"}})
    frame = run([free, board], replications=REPS, seed=36)
    assert medians(frame, "lead_time_median_hours")["board"] >= medians(frame, "lead_time_median_hours")["free"]
    assert medians(frame, "deploys_per_day")["board"] <= medians(frame, "deploys_per_day")["free"]


@pytest.mark.parametrize("kind", STRATEGIES)
def test_sharper_review_never_raises_the_escaped_failure_rate(kind):
    work = {"defects_per_100_lines": 0.5}
    blunt = small(kind, name="blunt", work=work, review={"detection_probability": 0.1})
    sharp = small(kind, name="sharp", work=work, review={"detection_probability": 0.95})
    m = medians(run([blunt, sharp], replications=REPS, seed=37), "change_failure_rate_escaped")
    assert m["sharp"] <= m["blunt"]


@pytest.mark.parametrize("kind", STRATEGIES)
def test_a_bigger_team_delivers_more_changes(kind):
    four = small(kind, name="four")
    eight = small(kind, name="eight", team={"developers": 8})
    m = medians(run([four, eight], replications=REPS, seed=38), "changes_delivered_per_week")
    assert m["eight"] > m["four"]


@pytest.mark.parametrize("kind", STRATEGIES)
def test_code_without_defects_never_fails_under_any_profile(kind):
    """No latent defect, no defect from conflict resolution, breakage caught by post-merge CI: nothing can fail."""
    flawless = small(
        kind, work={"defects_per_100_lines": 0.0}, merging={"resolution_defect_probability": 0.0},
        simulation={"duration": "8w", "warm_up": "1w"},
    )
    for replication in range(2):
        result = simulate(flawless, seed=39, replication=replication)
        assert len(result.incidents) == 0
        for profile in PROFILES:
            values = compute_metrics(result, profile=profile)
            assert values["change_failure_rate"] == 0.0
            assert math.isnan(values["recovery_time_median_hours"])

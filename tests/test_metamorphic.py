"""Metamorphic checks under common random numbers: change one lever, the metric moves the right way.

Each test runs paired replications (same seeds) of two variants of one small scenario
and compares medians over replications, so the comparison is exact in its randomness
and only the lever differs.
"""

from __future__ import annotations

import numpy as np
import pytest

from trunksim.experiment import run

from conftest import small

REPS = 6


def medians(frame, metric):
    return frame.groupby("scenario", sort=False)[metric].median()


@pytest.mark.parametrize("kind", ["trunk-based", "github-flow", "gitflow"])
def test_more_flaky_failures_never_shorten_median_lead_time(kind):
    calm = small(kind, name="calm", ci={"flaky_failure_probability": 0.0, "automatic_retries": 0})
    flaky = small(kind, name="flaky", ci={"flaky_failure_probability": 0.4, "automatic_retries": 0})
    frame = run([calm, flaky], replications=REPS, seed=21)
    m = medians(frame, "lead_time_median_hours")
    assert m["flaky"] >= m["calm"]
    f = medians(frame, "flaky_triage_hours_per_week")
    assert f["flaky"] > f["calm"] == 0.0


@pytest.mark.parametrize("kind", ["trunk-based", "github-flow"])
def test_more_runners_never_lengthen_ci_queue_wait(kind):
    ci = {"duration": {"dist": "lognormal", "median": "40m", "p90": "1h"}}
    one = small(kind, name="one", ci=dict(ci, runners=1), team={"developers": 8})
    eight = small(kind, name="eight", ci=dict(ci, runners=8), team={"developers": 8})
    frame = run([one, eight], replications=REPS, seed=22)
    m = medians(frame, "ci_queue_wait_mean_hours")
    assert m["eight"] <= m["one"]
    assert m["one"] > 0


@pytest.mark.parametrize("kind", ["trunk-based", "github-flow", "gitflow"])
def test_canary_never_raises_the_escaped_failure_rate(kind):
    work = {"defects_per_100_lines": 0.5}
    plain = small(kind, name="plain", work=work)
    canary = small(kind, name="canary", work=work, deployment={"canary": {"enabled": True}})
    frame = run([plain, canary], replications=REPS, seed=23)
    m = medians(frame, "change_failure_rate_escaped")
    assert m["canary"] <= m["plain"]


def test_bigger_features_conflict_more_under_github_flow():
    short = small("github-flow", name="short", work={"feature_effort": "8h"})
    long = small("github-flow", name="long", work={"feature_effort": "40h"})
    frame = run([short, long], replications=REPS, seed=24)
    m = medians(frame, "merge_conflict_rate")
    assert m["long"] > m["short"]


def test_longer_release_cadence_never_raises_gitflow_deployment_frequency():
    weekly = small("gitflow", name="weekly", strategy={"name": "gitflow", "release_cadence": "1w"})
    monthly = small("gitflow", name="monthly", strategy={"name": "gitflow", "release_cadence": "4w"})
    frame = run([weekly, monthly], replications=REPS, seed=25)
    m = medians(frame, "deploys_per_day")
    assert m["monthly"] <= m["weekly"]


def test_smaller_trunk_batches_give_smaller_changes_and_fewer_conflicts():
    fine = small("trunk-based", name="fine", strategy={"name": "trunk-based", "max_change_lines": 50})
    coarse = small("trunk-based", name="coarse", strategy={"name": "trunk-based", "max_change_lines": 800})
    frame = run([fine, coarse], replications=REPS, seed=26)
    assert medians(frame, "change_size_median_lines")["fine"] < medians(frame, "change_size_median_lines")["coarse"]
    assert medians(frame, "merge_conflict_rate")["fine"] <= medians(frame, "merge_conflict_rate")["coarse"]
    assert np.all(frame["replication"].value_counts() == 2)

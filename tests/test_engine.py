"""Behaviour of the engine on small scenarios: determinism, accounting, invariants."""

from __future__ import annotations

import numpy as np
import pandas as pd

from trunksim.metrics import compute_metrics
from trunksim.tables import STAGES
from trunksim.experiment import simulate
from trunksim.metrics import METRIC_COLUMNS, RATE_COLUMNS

from conftest import small


def test_same_seed_gives_identical_tables(any_strategy):
    first = simulate(any_strategy, seed=3)
    second = simulate(any_strategy, seed=3)
    for name, frame in first.frames.items():
        pd.testing.assert_frame_equal(frame, second.frames[name], check_exact=True)


def test_different_seed_gives_different_history(any_strategy):
    assert not simulate(any_strategy, seed=3).changes.equals(simulate(any_strategy, seed=4).changes)


def test_every_change_ends_in_exactly_one_state(any_strategy):
    changes = simulate(any_strategy, seed=5).changes
    assert set(changes["state"]) <= {"deployed", "in_flight", "abandoned"}
    deployed = changes["state"] == "deployed"
    assert changes.loc[deployed, "deployed_hours"].notna().all()
    assert changes.loc[~deployed, "deployed_hours"].isna().all()


def test_stage_hours_sum_to_lead_time(any_strategy):
    changes = simulate(any_strategy, seed=6).changes
    delivered = changes[changes["state"] == "deployed"]
    stages = delivered[[f"stage_{s}_hours" for s in STAGES]].sum(axis=1)
    lead = delivered["deployed_hours"] - delivered["first_commit_hours"]
    np.testing.assert_allclose(stages, lead, atol=1e-6)
    assert (delivered[[f"stage_{s}_hours" for s in STAGES]] >= -1e-9).all().all()


def test_deployments_are_in_time_order_and_incidents_name_a_deployment(any_strategy):
    run = simulate(any_strategy, seed=7)
    assert run.deployments["started_hours"].is_monotonic_increasing
    assert run.incidents["deployment_id"].isin(run.deployments["deployment_id"]).all()


def test_metrics_are_in_range(any_strategy):
    metrics = compute_metrics(simulate(any_strategy, seed=8))
    assert list(metrics) == list(METRIC_COLUMNS)
    for name in RATE_COLUMNS:
        value = metrics[name]
        assert np.isnan(value) or 0.0 <= value <= 1.0, name
    assert metrics["deploys_per_day"] > 0
    assert metrics["lead_time_median_hours"] > 0


def test_same_replication_sees_the_same_features_under_every_strategy():
    efforts = []
    for strategy in ("trunk-based", "github-flow", "gitflow"):
        features = simulate(small(strategy), seed=9, replication=2).features
        efforts.append(features.set_index("feature_id")[["effort_hours", "defects"]])
    common = efforts[0].index.intersection(efforts[1].index).intersection(efforts[2].index)
    assert len(common) > 10
    for other in efforts[1:]:
        pd.testing.assert_frame_equal(efforts[0].loc[common], other.loc[common])


def test_trunk_based_changes_are_smaller_than_github_flow_pull_requests():
    trunk = simulate(small("trunk-based"), seed=10).changes
    github = simulate(small("github-flow"), seed=10).changes
    feature_changes = lambda c: c[c["kind"] == "feature"]["lines"]  # noqa: E731
    assert feature_changes(trunk).median() < feature_changes(github).median()
    assert feature_changes(trunk).max() <= 100 + 1e-6


def test_gitflow_deploys_only_at_releases_and_hotfixes():
    scenario = small("gitflow", strategy={"name": "gitflow", "release_cadence": "1w"})
    run = simulate(scenario, seed=11)
    regular = run.deployments[run.deployments["kind"] == "regular"]
    # At most one regular deployment per release cut, plus re-deployments after rollbacks.
    releases = int(np.floor((scenario.simulation.duration - scenario.strategy.release_offset) / 168.0)) + 1
    rollbacks = int(run.deployments["rolled_back"].sum())
    assert len(regular) <= releases + rollbacks
    assert len(regular) >= 1


def test_nothing_merged_long_ago_is_left_undeployed():
    """A delivery pipeline that silently jams (a red branch nobody repairs, a block nobody lifts) fails this."""
    for kind, grace_hours in (("trunk-based", 72.0), ("github-flow", 72.0), ("gitflow", 5 * 168.0)):
        scenario = small(
            kind, simulation={"duration": "10w", "warm_up": "1w"}, work={"defects_per_100_lines": 0.6},
            merging={"semantic_breakage_probability": 0.3},
        )
        for replication in range(4):
            run = simulate(scenario, seed=31, replication=replication)
            changes = run.changes
            end = scenario.simulation.duration
            # A change waits again from the rollback that took it out of production.
            waiting_since = changes.set_index("change_id")["merged_hours"].copy()
            for ids, at in run.deployments.loc[run.deployments["rolled_back"], ["change_ids", "rolled_back_hours"]].itertuples(index=False):
                for i in ids.split():
                    waiting_since[int(i)] = max(waiting_since[int(i)], at)
            since = changes["change_id"].map(waiting_since)
            stale = changes[(since < end - grace_hours) & changes["deployed_hours"].isna()]
            assert stale.empty, (kind, replication, stale[["change_id", "kind", "target", "merged_hours"]])


def test_a_release_train_deploys_only_at_train_times():
    scenario = small("trunk-based", deployment={"mode": "cadence", "cadence": "1d", "offset": "10h"})
    deployments = simulate(scenario, seed=12).deployments
    regular = deployments[deployments["kind"] == "regular"]
    assert len(regular) > 10
    offsets = (regular["started_hours"] - 10.0) % 24.0
    assert (offsets < 1e-6).all()


def test_an_approval_board_holds_deployments_until_it_meets():
    scenario = small("github-flow", deployment={"approval": {"enabled": True, "cadence": "1w", "offset": "14h"}})
    deployments = simulate(scenario, seed=13).deployments
    regular = deployments[deployments["kind"] == "regular"]
    assert len(regular) >= 3
    assert (((regular["started_hours"] - 14.0) % 168.0) < 1e-6).all()


def test_waiting_time_is_recorded_when_work_in_progress_limits_bite():
    scenario = small("github-flow", team={"max_open_changes": 1}, ci={"runners": 1, "duration": "3h"})
    activity = simulate(scenario, seed=14).activity
    assert activity.loc[activity["activity"] == "waiting", "working_hours"].sum() > 0

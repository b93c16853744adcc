"""Fidelity: the comparison between strategies must be right (issue 11).

Invariants over random valid scenarios (hypothesis), regression tests of the biases an
audit found, and metamorphic tests of the new mechanisms under common random numbers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from trunksim.engine.model import DeliveryModel
from trunksim.experiment import run
from trunksim.scenario import load_scenario

from conftest import SCENARIOS, small
from test_properties import scenarios as random_scenarios

KNOWN_IN_PRODUCTION = ("production", "canary")
SHIPPED = [SCENARIOS / f"{name}.yaml" for name in ("trunk-based", "scaled-trunk-based", "github-flow", "gitflow")]


def watched_model(scenario, seed: int, replication: int = 0) -> tuple[DeliveryModel, list[str]]:
    """A model whose rollouts are checked as they happen; returns it and the list of violations found."""
    model = DeliveryModel(scenario, seed=seed, replication=replication)
    delivery = model.delivery
    violations: list[str] = []
    roll_out = delivery.roll_out

    def checked_roll_out(deployment):
        for change in deployment.changes:
            for defect in change.defects:
                known = defect.found_by in KNOWN_IN_PRODUCTION and 0 <= defect.found_at < deployment.started
                # The build fixes the defect if the change itself was fixed, or if the fix
                # change ships in this deployment or is already live (merged is not enough).
                fix = defect.fix
                in_build = defect.fixed and (fix is None or fix.in_production or fix in deployment.changes)
                if known and not defect.repaired and not in_build:
                    violations.append(
                        f"deployment {deployment.deployment_id} ({deployment.kind}) shipped change {change.change_id} "
                        f"with defect {defect.defect_id} found by {defect.found_by} at {defect.found_at:.1f} h, "
                        "not fixed in this build"
                    )
            if change.merged < 0:
                violations.append(f"deployment {deployment.deployment_id} shipped change {change.change_id}, not merged")
        roll_out(deployment)

    delivery.roll_out = checked_roll_out
    return model, violations


def crediting_problems(result) -> list[str]:
    """Delivered changes credited to a rolled-back deployment, or to one before their last merge."""
    changes = result.changes
    deployments = result.deployments.set_index("deployment_id")
    delivered = changes[changes["state"] == "deployed"]
    problems = []
    for row in delivered.itertuples():
        deployment = deployments.loc[row.deployment_id]
        if deployment.rolled_back:
            problems.append(f"change {row.change_id} credited to rolled-back deployment {row.deployment_id}")
        if row.deployed_hours < row.merged_hours - 1e-9:
            problems.append(f"change {row.change_id} deployed at {row.deployed_hours:.1f} h before its merge at {row.merged_hours:.1f} h")
    return problems


def bare_reships(result) -> list[str]:
    """Deployments that ship again exactly the changes of a rolled-back deployment, unchanged and with no fix.

    A re-shipped set is fixed when it holds a fix or hotfix change, or a change that merged
    again after the rollback (reverted, fixed and brought back).
    """
    deployments = result.deployments.sort_values("started_hours")
    changes = result.changes.set_index("change_id")
    problems = []
    rolled_back: list[tuple[frozenset, float]] = []
    for row in deployments.itertuples():
        ids = frozenset(int(i) for i in str(row.change_ids).split()) if isinstance(row.change_ids, str) else frozenset()
        for earlier, at in rolled_back:
            if ids and ids == earlier:
                fixed = any(changes.at[i, "kind"] in ("fix", "hotfix") or changes.at[i, "merged_hours"] > at for i in ids)
                if not fixed:
                    problems.append(f"deployment {row.deployment_id} re-ships rolled-back changes {sorted(ids)} without a fix")
        if row.rolled_back:
            rolled_back.append((ids, row.rolled_back_hours))
    return problems


# -- invariants over random valid scenarios ---------------------------------------------


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(random_scenarios())
def test_no_deployment_ships_a_known_unfixed_defect_and_credit_stays_with_the_deployment_that_lasted(scenario):
    model, violations = watched_model(scenario, seed=5)
    result = model.run()
    assert violations == []
    assert crediting_problems(result) == []
    assert bare_reships(result) == []


def test_a_fix_that_merged_but_is_not_yet_green_does_not_unblock_a_rolled_back_build():
    """Found by the property test above (CI, stop 18): a canary caught a defect, the fix
    merged minutes before the next release train, and the train shipped the last green
    build, which did not hold the fix, as if it did. The train must wait for a build with the fix."""
    scenario = small(
        "github-flow",
        team={"developers": 1, "max_open_changes": 1, "focus_block": 0.5, "calendar": {"enabled": False}},
        work={"feature_effort": {"dist": "lognormal", "median": "2h", "p90": "3h"}, "defects_per_100_lines": 0.1},
        review={"detection_probability": 0.0},
        ci={"runners": 1, "duration": {"dist": "lognormal", "median": "30m", "p90": "75m"}, "automatic_retries": 0,
            "defect_detection_probability": 0.0, "flaky_failure_probability": 0.0, "red_branch_policy": "fix-forward"},
        merging={"semantic_breakage_probability": 0.0},
        deployment={"mode": "cadence", "cadence": "4h", "canary": {"enabled": True, "automatic_rollback": False}},
        incidents={"time_to_failure": {"dist": "exponential", "mean": "4h"}, "rollback_enabled": False},
        simulation={"duration": "2w", "warm_up": 0},
    )
    checked = 0
    for seed in (5, 6, 7):
        model, violations = watched_model(scenario, seed=seed)
        result = model.run()
        assert violations == []
        assert bare_reships(result) == []
        checked += int(result.deployments["rolled_back"].sum())
    assert checked > 0  # the case arises: canaries did roll builds back


# -- the shipped scenarios -------------------------------------------------------------


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_scenarios_credit_each_change_to_the_deployment_that_stayed(path: Path):
    scenario = load_scenario(path)
    for replication in range(3):
        model, violations = watched_model(scenario, seed=1, replication=replication)
        result = model.run()
        assert violations == []
        assert crediting_problems(result) == []
        assert bare_reships(result) == []
        delivered = result.changes[result.changes["state"] == "deployed"]
        assert (delivered["deployed_hours"] >= delivered["merged_hours"]).all()


def test_gitflow_change_14_is_credited_to_the_deployment_that_stayed():
    """The audit's example: change 14 was credited to deployment 2, which was rolled back."""
    result = DeliveryModel(load_scenario(SCENARIOS / "gitflow.yaml"), seed=1).run()
    change = result.changes.set_index("change_id").loc[14]
    deployment = result.deployments.set_index("deployment_id").loc[change.deployment_id]
    assert not deployment.rolled_back
    assert change.deployed_hours >= change.merged_hours


def test_a_hotfix_deployment_ships_only_hotfixes():
    scenario = small("github-flow", work={"defects_per_100_lines": 0.6}, incidents={"rollback_enabled": False})
    result = DeliveryModel(scenario, seed=3).run()
    kinds = result.changes.set_index("change_id")["kind"]
    hotfixes = result.deployments[result.deployments["kind"] == "hotfix"]
    assert len(hotfixes) > 0
    for ids in hotfixes["change_ids"]:
        assert {kinds[int(i)] for i in ids.split()} == {"hotfix"}


def test_gitflow_never_takes_a_release_on_main_apart():
    """A failed release is fixed on a hotfix branch and shipped again with the fix, never reverted out of main."""
    scenario = load_scenario(SCENARIOS / "gitflow.yaml")
    for replication in range(3):
        result = DeliveryModel(scenario, seed=1, replication=replication).run()
        assert result.deployments["rolled_back"].any()
        assert not (result.activity["activity"] == "revert").any()
        fixes = result.changes[result.changes["remedies"].isin(["production", "canary"])]
        assert len(fixes) > 0 and (fixes["target"] == "main").all()


def test_irreversible_failures_are_never_restored_by_a_rollback():
    scenario = small("github-flow", work={"defects_per_100_lines": 0.5}, incidents={"irreversible_failure_share": 1.0})
    incidents = DeliveryModel(scenario, seed=4).run().incidents
    production = incidents[incidents["source"] == "production"]
    assert len(production) > 0
    assert not (production["restored_by"] == "rollback").any()


def test_low_severity_failures_become_tickets_restored_when_the_fix_ships():
    scenario = small("github-flow", work={"defects_per_100_lines": 0.5}, incidents={"ticket_max_severity": 2})
    result = DeliveryModel(scenario, seed=4).run()
    incidents = result.incidents[result.incidents["source"] == "production"]
    tickets = incidents[incidents["restored_by"] == "ticket"]
    assert set(tickets["severity"]) <= {1, 2} and len(tickets) > 0
    assert (incidents.loc[incidents["severity"] == 3, "restored_by"] != "ticket").all()
    assert (tickets["responder"] == -1).all()


# -- metamorphic: review pickup and recovery paths ---------------------------------------


def paired_mean(frame, metric, name):
    return frame.loc[frame["scenario"] == name, metric].mean()


def test_a_more_responsive_team_waits_less_for_review():
    slow = small("github-flow", name="slow", review={"response_time": {"dist": "lognormal", "median": "4h", "p90": "12h"}})
    quick = small("github-flow", name="quick", review={"response_time": {"dist": "lognormal", "median": "30m", "p90": "90m"}})
    frame = run([slow, quick], replications=6, seed=31)
    assert paired_mean(frame, "review_wait_mean_hours", "quick") <= paired_mean(frame, "review_wait_mean_hours", "slow")


def test_more_reviewers_never_lengthen_the_review_wait():
    review = {"duration": {"dist": "lognormal", "median": "1h", "p90": "3h"}}
    two = small("trunk-based", name="two", team={"developers": 8}, review=dict(review, reviewers=2))
    all_ = small("trunk-based", name="all", team={"developers": 8}, review=dict(review, reviewers=0))
    frame = run([two, all_], replications=6, seed=32)
    assert paired_mean(frame, "review_wait_mean_hours", "all") <= paired_mean(frame, "review_wait_mean_hours", "two")
    assert paired_mean(frame, "review_wait_mean_hours", "two") > 0


@pytest.mark.parametrize(
    "slow_overrides",
    [
        {"incidents.fix_time": {"dist": "lognormal", "median": "8h", "p90": "24h"}},
        {"incidents.ticket_max_severity": 2},
        {"incidents.monitoring_coverage": 0.0},
    ],
    ids=["slower-fix-forward", "tickets", "no-monitoring"],
)
def test_a_slower_recovery_path_never_shortens_recovery(slow_overrides):
    base = small("github-flow", name="base", work={"defects_per_100_lines": 0.5}, incidents={"rollback_enabled": False})
    slow = base.with_overrides({"name": "slow", **slow_overrides})
    frame = run([base, slow], replications=6, seed=34)
    metric = "recovery_time_median_hours"
    assert np.nanmedian(frame.loc[frame["scenario"] == "slow", metric]) >= np.nanmedian(frame.loc[frame["scenario"] == "base", metric])


def test_a_longer_hotfix_qa_never_shortens_gitflow_recovery():
    base = small("gitflow", name="base", work={"defects_per_100_lines": 0.5}, incidents={"rollback_enabled": False})
    slow = base.with_overrides({"name": "slow", "strategy.hotfix_qa_duration": "24h"})
    frame = run([base, slow], replications=6, seed=35)
    metric = "recovery_time_median_hours"
    assert np.nanmedian(frame.loc[frame["scenario"] == "slow", metric]) >= np.nanmedian(frame.loc[frame["scenario"] == "base", metric])


def test_a_reverted_fix_takes_its_repair_with_it():
    """Review finding (stop 19): a fix reverted out of the branch left its defect marked fixed."""
    from trunksim.engine.entities import Defect

    model = DeliveryModel(small("trunk-based"), seed=1)
    trunk = model.branches[model.strategy.integration_branch]
    defect = Defect(defect_id=1, feature_id=-1, position=0.0, severity=2, review_u=1.0, ci_u=1.0, canary_u=1.0,
                    strategy_u=1.0, time_to_failure_hours=1.0, found_by="production")
    fix = model.repairs.fix_change(defect, author=0, kind="fix", effort_hours=1.0)
    model.branches.merge(fix, trunk, breaks=False)
    defect.fixed = True  # what Flow.merge does when a fix lands
    model.branches.unmerge(fix, trunk)
    assert not defect.fixed and defect.fix is fix

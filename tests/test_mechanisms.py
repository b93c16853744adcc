"""Delivery mechanisms any strategy can switch on (issue 14): each moves its metric the documented way.

Paired replications under common random numbers: the same scenario with the mechanism
off and on, so only the mechanism differs.
"""

from __future__ import annotations

import numpy as np
import pytest

from trunksim.engine.model import DeliveryModel
from trunksim.experiment import run
from trunksim.scenario import load_scenario

from conftest import SCENARIOS, small

REPS = 6


def median(frame, scenario, metric):
    values = frame.loc[frame["scenario"] == scenario, metric].dropna()
    return float(np.median(values)) if len(values) else float("nan")


# -- merge queue ------------------------------------------------------------------------


def busy_trunk(name, breakage=0.05, **sections):
    """A team big enough that concurrent merges break trunk without a queue."""
    return small(
        "trunk-based", name=name, team={"developers": 16}, ci={"runners": 8},
        merging={"semantic_breakage_probability": breakage}, **sections,
    )


def test_a_merge_queue_keeps_semantic_breakage_off_the_target_and_reports_its_wait():
    plain = busy_trunk("plain")
    queued = busy_trunk("queued", merge_queue={"enabled": True, "max_batch": 4, "speculation_depth": 2})
    frame = run([plain, queued], replications=REPS, seed=41)
    assert median(frame, "plain", "red_branch_share") > 0
    breakage_red = []
    for replication in range(REPS):
        status = DeliveryModel(queued, seed=41, replication=replication).run().branch_status
        breakage_red.append(int((status["cause"] == "breakage").sum()))
    assert breakage_red == [0] * REPS
    assert median(frame, "queued", "merge_queue_wait_mean_hours") > 0
    assert np.isnan(median(frame, "plain", "merge_queue_wait_mean_hours"))
    assert median(frame, "queued", "ci_runs_per_landed_change") > median(frame, "plain", "ci_runs_per_landed_change")


def test_speculative_batches_behind_a_failed_one_are_thrown_away_and_counted():
    queued = busy_trunk(
        "queued", breakage=0.15,
        merge_queue={"enabled": True, "max_batch": 2, "speculation_depth": 4, "batch_wait": 0.5},
    )
    result = DeliveryModel(queued, seed=42).run()
    runs = result.ci_runs[result.ci_runs["purpose"] == "merge_queue"]
    assert runs["discarded"].any()
    assert not result.ci_runs.loc[result.ci_runs["purpose"] != "merge_queue", "discarded"].any()
    frame = run([queued], replications=2, seed=42)
    assert (frame["wasted_ci_runs_per_week"] > 0).all()


def test_a_flaky_queue_evicts_innocent_changes_which_come_back():
    flaky = small(
        "trunk-based", name="flaky", merging={"semantic_breakage_probability": 0.0},
        ci={"flaky_failure_probability": 0.3, "automatic_retries": 3},
        merge_queue={"enabled": True, "max_batch": 4, "flaky_retries": 0},
    )
    result = DeliveryModel(flaky, seed=43).run()
    queue_runs = result.ci_runs[result.ci_runs["purpose"] == "merge_queue"]
    assert (queue_runs["outcome"] == "fail").sum() == 0  # nothing breaks: every failure is spurious
    assert (queue_runs["outcome"] == "flaky").sum() > 0
    evicted = result.activity[(result.activity["activity"] == "triage_flaky") & (result.activity["detail"] >= 0)]
    assert len(evicted) > 0  # innocent changes sent back to be read and queued again
    delivered = result.changes[result.changes["change_id"].isin(evicted["detail"])]
    assert (delivered["state"] == "deployed").any()


def test_the_shipped_merge_queue_scenario_turns_red_from_breakage_to_zero():
    base = load_scenario(SCENARIOS / "trunk-based.yaml").with_overrides({"simulation.duration": "6w"})
    queued = load_scenario(SCENARIOS / "mechanisms" / "merge-queue.yaml").with_overrides({"simulation.duration": "6w"})
    for replication in range(2):
        assert (DeliveryModel(queued, seed=1, replication=replication).run().branch_status["cause"] != "breakage").all()
    assert (DeliveryModel(base, seed=1, replication=0).run().branch_status["cause"] == "breakage").any()


# -- test selection ---------------------------------------------------------------------


def test_test_selection_shortens_the_ci_stage_and_lets_more_defects_escape():
    work = {"defects_per_100_lines": 0.6}
    full = small("trunk-based", name="full", work=work)
    selected = small(
        "trunk-based", name="selected", work=work,
        ci={"test_selection": {"enabled": True, "duration_factor": 0.5, "detection_factor": 0.7}},
    )
    frame = run([full, selected], replications=REPS, seed=44)
    assert median(frame, "selected", "stage_ci_mean_hours") < median(frame, "full", "stage_ci_mean_hours")
    assert median(frame, "selected", "incidents_per_week") >= median(frame, "full", "incidents_per_week")
    assert median(frame, "selected", "change_failure_rate_escaped") >= median(frame, "full", "change_failure_rate_escaped")


def test_test_selection_can_only_miss_what_the_full_suite_catches():
    """Same draws: every defect the subset catches in CI, the full suite catches too."""
    work = {"defects_per_100_lines": 0.6}
    full = DeliveryModel(small("trunk-based", work=work), seed=45)
    selected = DeliveryModel(
        small("trunk-based", work=work, ci={"test_selection": {"enabled": True, "detection_factor": 0.5}}), seed=45
    )
    assert selected.ci.detection_probability == full.ci.detection_probability * 0.5
    assert selected.ci.duration_factor == 0.5 and full.ci.duration_factor == 1.0


# -- error budget -----------------------------------------------------------------------


def test_a_fast_burn_freezes_feature_deployments_and_lets_fixes_through():
    work = {"defects_per_100_lines": 0.5}
    budget = small("github-flow", name="budget", work=work, error_budget={"enabled": True, "freeze_burn_rate": 3})
    result = DeliveryModel(budget, seed=46).run()
    assert len(result.freezes) > 0
    kinds = result.changes.set_index("change_id")["kind"]
    for freeze in result.freezes.itertuples():
        end = freeze.end_hours if freeze.end_hours == freeze.end_hours else budget.simulation.duration
        during = result.deployments[(result.deployments["started_hours"] > freeze.start_hours) & (result.deployments["started_hours"] < end)]
        for ids in during["change_ids"]:
            assert all(kinds[int(i)] != "feature" for i in ids.split()), "a feature shipped during a freeze"
    frame = run([budget.with_overrides({"error_budget.enabled": False, "name": "plain"}), budget], replications=4, seed=46)
    assert median(frame, "budget", "deploy_freeze_hours_per_week") > 0
    assert np.isnan(median(frame, "plain", "deploy_freeze_hours_per_week"))
    assert 0 <= median(frame, "budget", "slo_compliance") <= 1
    assert median(frame, "budget", "deploys_per_day") <= median(frame, "plain", "deploys_per_day")


def test_a_team_that_uses_its_freezes_for_reliability_work_fails_less():
    """The error-budget policy: while frozen, reliability work instead of new features (paired, CRN)."""
    work = {"defects_per_100_lines": 0.5}
    used = small("github-flow", name="used", work=work, simulation={"duration": "12w"}, error_budget={"enabled": True})
    idle = used.with_overrides({"error_budget.reliability_work": False, "name": "deferred only"})
    frame = run([idle, used], replications=8, seed=46)
    before = frame.loc[frame["scenario"] == "deferred only", "incidents_per_week"].to_numpy()
    after = frame.loc[frame["scenario"] == "used", "incidents_per_week"].to_numpy()
    assert np.median(after - before) < 0
    assert (after < before).sum() >= 6
    activity = DeliveryModel(used, seed=46).run().activity
    assert activity.loc[activity["activity"] == "reliability", "working_hours"].sum() > 0
    activity = DeliveryModel(idle, seed=46).run().activity
    assert (activity["activity"] != "reliability").all()


def test_slo_metrics_on_a_hand_built_history():
    import pandas as pd

    from trunksim.metrics import slo
    from trunksim.metrics.window import Window

    window = Window(0.0, 100.0)
    incidents = pd.DataFrame({"started_hours": [10.0], "restored_hours": [11.0], "exposed_share": [1.0]})
    # One hour of full failure: the 50-hour rolling good share is 0.98 while it is in view.
    # Hours 11..60 see the failure in their 50-hour window (good share 0.98 < 0.99): 50 of 101 grid points.
    assert slo.slo_compliance(incidents, window, 0.99, 50.0) == pytest.approx((101 - 50) / 101)
    assert slo.error_budget_remaining(incidents, window, 0.99, 50.0) == pytest.approx(1.0)  # out of view at the end
    freezes = pd.DataFrame({"start_hours": [-5.0, 90.0], "end_hours": [5.0, float("nan")], "burn_rate": [4.0, 5.0]})
    assert slo.deploy_freeze_hours_per_week(freezes, window) == pytest.approx(15.0 / (100 / 168))


# -- progressive delivery and blue/green --------------------------------------------------


def test_canary_steps_cut_failure_exposure_against_no_canary():
    work = {"defects_per_100_lines": 0.5}
    plain = small("trunk-based", name="plain", work=work)
    steps = small(
        "trunk-based", name="steps", work=work, deployment={"canary": {"enabled": True}},
        progressive={"steps": [{"traffic_share": 0.01, "bake_time": "10m"}, {"traffic_share": 0.5, "bake_time": "30m"}]},
    )
    frame = run([plain, steps], replications=REPS, seed=47)
    assert median(frame, "steps", "failure_exposure_user_hours_per_week") < median(frame, "plain", "failure_exposure_user_hours_per_week")
    incidents = DeliveryModel(steps, seed=47).run().incidents
    canary = incidents[incidents["source"] == "canary"]
    assert len(canary) > 0 and set(canary["exposed_share"]) <= {0.01, 0.5}


def test_blue_green_restores_faster_than_a_plain_rollback():
    work = {"defects_per_100_lines": 0.5}
    fast = {"rollback_time": "30m", "time_to_failure": {"dist": "exponential", "mean": "2h"}}
    plain = small("github-flow", name="plain", work=work, incidents=fast)
    blue_green = small(
        "github-flow", name="bg", work=work, incidents=fast,
        progressive={"blue_green": True, "switch_back_time": "3m"},
    )
    restore = {}
    for scenario in (plain, blue_green):
        incidents = DeliveryModel(scenario, seed=48).run().incidents
        rolled = incidents[incidents["restored_by"] == "rollback"]
        assert len(rolled) > 0
        restore[scenario.name] = float((rolled["restored_hours"] - rolled["started_hours"]).median())
    assert restore["bg"] < restore["plain"]
    # The metric that isolates that path, paired over replications (common random numbers).
    frame = run([plain, blue_green], replications=4, seed=48)
    before = frame.loc[frame["scenario"] == "plain", "rollback_recovery_median_hours"].to_numpy()
    after = frame.loc[frame["scenario"] == "bg", "rollback_recovery_median_hours"].to_numpy()
    assert np.median(after - before) < 0
    assert (after < before).sum() >= 3  # not every pair: trajectories part once a restore is faster


def test_rollback_recovery_counts_only_failures_restored_by_a_rollback():
    import pandas as pd

    from trunksim.metrics import dora
    from trunksim.metrics.window import Window

    incidents = pd.DataFrame({
        "started_hours": [1.0, 2.0, 3.0, 4.0, 5.0],
        "restored_hours": [2.0, 12.0, 3.5, float("nan"), 5.25],
        "restored_by": ["rollback", "fix_forward", "canary_rollback", "", "flag_off"],
    })
    assert dora.rollback_recovery_median_hours(incidents, Window(0.0, 100.0)) == pytest.approx(0.75)
    assert np.isnan(dora.rollback_recovery_median_hours(incidents.iloc[[1, 4]], Window(0.0, 100.0)))


def test_performance_regressions_escape_ci():
    work = {"defects_per_100_lines": 0.6}
    none = small("trunk-based", name="none", work=work, ci={"defect_detection_probability": 1.0})
    perf = small(
        "trunk-based", name="perf", work=work, ci={"defect_detection_probability": 1.0},
        progressive={"performance_regression_share": 0.5},
    )
    frame = run([none, perf], replications=4, seed=49)
    assert median(frame, "perf", "incidents_per_week") > median(frame, "none", "incidents_per_week")


# -- postmortems --------------------------------------------------------------------------


def test_postmortems_lower_incidents_over_a_long_run_and_cost_time():
    work = {"defects_per_100_lines": 0.4}
    long = {"duration": "20w", "warm_up": "2w"}
    plain = small("trunk-based", name="plain", work=work, simulation=long)
    learning = small("trunk-based", name="learning", work=work, simulation=long, postmortems={"enabled": True})
    frame = run([plain, learning], replications=4, seed=50)
    assert median(frame, "learning", "incidents_per_week") < median(frame, "plain", "incidents_per_week")
    activity = DeliveryModel(learning, seed=50).run().activity
    assert (activity["activity"] == "postmortem").any()


def test_every_mechanism_scenario_extends_a_shipped_strategy_scenario_and_runs():
    for path in sorted((SCENARIOS / "mechanisms").glob("*.yaml")):
        scenario = load_scenario(path).with_overrides({"simulation.duration": "3w", "simulation.warm_up": "1w"})
        assert scenario.lesson, path
        assert "extends: ../" in path.read_text(), path
        DeliveryModel(scenario, seed=1).run()


# -- flag lifecycle -----------------------------------------------------------------------


def test_flag_debt_grows_when_flags_are_never_removed_and_brings_misconfigurations():
    long = {"duration": "16w", "warm_up": "2w"}
    flags = {"enabled": True, "misconfiguration_rate": 0.05}
    tidy = small("trunk-based", name="tidy", simulation=long, flags=dict(flags, removal_probability=1.0))
    never = small("trunk-based", name="never", simulation=long, flags=dict(flags, removal_probability=0.0))
    guarded = small("trunk-based", name="guarded", simulation=long, flags=dict(flags, removal_probability=0.0, guard_effectiveness=0.9))
    frame = run([tidy, never, guarded], replications=4, seed=51)
    assert median(frame, "never", "flags_live_mean") > median(frame, "tidy", "flags_live_mean") > 0
    assert median(frame, "never", "flags_removed_per_week") == 0 < median(frame, "tidy", "flags_removed_per_week")
    assert median(frame, "never", "misconfiguration_incidents_per_week") > median(frame, "tidy", "misconfiguration_incidents_per_week")
    assert median(frame, "guarded", "misconfiguration_incidents_per_week") < median(frame, "never", "misconfiguration_incidents_per_week")
    assert median(frame, "tidy", "flag_age_at_removal_median_days") > 0


def test_misconfigurations_are_failures_no_deployment_caused():
    scenario = small("trunk-based", flags={"enabled": True, "misconfiguration_rate": 0.2}, simulation={"duration": "10w"})
    incidents = DeliveryModel(scenario, seed=52).run().incidents
    misconfigured = incidents[incidents["source"] == "misconfiguration"]
    assert len(misconfigured) > 0
    assert (misconfigured["deployment_id"] == -1).all()
    restored = misconfigured[misconfigured["restored_hours"].notna()]
    assert len(restored) > 0 and (restored["restored_by"] == "flag_off").all()


def test_flag_debt_slows_coding():
    scenario = small("trunk-based", flags={"enabled": True, "removal_probability": 0.0, "coding_slowdown_per_flag": 0.05})
    slow = DeliveryModel(scenario, seed=53).run()
    plain = DeliveryModel(small("trunk-based"), seed=53).run()
    assert len(slow.changes) < len(plain.changes)


# -- the seed's end-to-end scenarios ------------------------------------------------------


def test_the_four_end_to_end_scenarios_run_and_teach():
    paths = sorted((SCENARIOS / "end-to-end").glob("*.yaml"))
    assert len(paths) == 4
    for path in paths:
        scenario = load_scenario(path).with_overrides({"simulation.duration": "3w", "simulation.warm_up": "1w"})
        assert len(scenario.lesson.split()) >= 20, path
        DeliveryModel(scenario, seed=1).run()


def test_canary_failure_rate_is_failed_canaries_over_canary_attempts():
    work = {"defects_per_100_lines": 0.6}
    canary = small("github-flow", name="canary", work=work, deployment={"canary": {"enabled": True, "traffic_share": 0.2}})
    plain = small("github-flow", name="plain", work=work)
    frame = run([plain, canary], replications=3, seed=54)
    assert np.isnan(median(frame, "plain", "canary_failure_rate"))
    assert 0 < median(frame, "canary", "canary_failure_rate") < 1
    deployments = DeliveryModel(canary, seed=54).run().deployments
    regular = deployments[(deployments["kind"] == "regular") & (deployments["finished_hours"] >= canary.simulation.warm_up)]
    frame_one = run([canary], replications=1, seed=54)
    assert frame_one["canary_failure_rate"].iloc[0] == pytest.approx(regular["canary_failed"].mean())

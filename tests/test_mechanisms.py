"""Delivery mechanisms any strategy can switch on (issue 14): each moves its metric the documented way.

Paired replications under common random numbers: the same scenario with the mechanism
off and on, so only the mechanism differs.
"""

from __future__ import annotations

import numpy as np

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

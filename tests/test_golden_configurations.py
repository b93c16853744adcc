"""Same numbers in configurations the shipped scenarios do not cover.

The shipped scenarios have continuous durations, a review and several developers, so
same-instant ties are rare there. Speed-ups that change *when in an instant* something
happens show up elsewhere: one developer (the author reviews their own change), no
review, constant durations, a single CI runner. This test hashes every event table and
the metrics of 30 such configurations (6 weeks, seed 5) against
``tests/golden/configurations_seed5.json``; a change that moves them on purpose
regenerates the file (``python tests/test_golden_configurations.py``) and says which
moved and why.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden" / "configurations_seed5.json"
S = str(ROOT / "scenarios") + "/"
BASE = {"simulation.duration": "6w", "simulation.warm_up": "1w"}
TABLES = ("changes", "features", "deployments", "incidents", "ci_runs", "activity", "merges", "branch_status", "freezes")

cases = [
 ("trunk-based.yaml", {}),
 ("trunk-based.yaml", {"review.enabled": False}),
 ("trunk-based.yaml", {"review.enabled": False, "ci.runners": 1}),
 ("trunk-based.yaml", {"team.developers": 1}),
 ("trunk-based.yaml", {"team.developers": 2, "review.enabled": False}),
 ("trunk-based.yaml", {"team.calendar.enabled": False}),
 ("trunk-based.yaml", {"team.calendar.enabled": False, "review.enabled": False}),
 ("trunk-based.yaml", {"review.response_time": "1h"}),
 ("trunk-based.yaml", {"work.severity_shares": [0.0, 0.0, 1.0], "incidents.ticket_max_severity": 0}),
 ("trunk-based.yaml", {"work.severity_shares": [0.5, 0.5, 0.0]}),
 ("trunk-based.yaml", {"work.feature_effort": {"dist": "empirical", "values": [2, 5, 9, 20, 40]}}),
 ("trunk-based.yaml", {"work.feature_effort": {"dist": "triangular", "low": 2, "mode": 8, "high": 40}}),
 ("trunk-based.yaml", {"deployment.mode": "cadence", "deployment.cadence": 24, "deployment.offset": 9}),
 ("trunk-based.yaml", {"deployment.approval.enabled": True, "deployment.approval.offset": 9, "deployment.approval.cadence": 24}),
 ("trunk-based.yaml", {"deployment.canary.enabled": True, "deployment.canary.automatic_rollback": False}),
 ("trunk-based.yaml", {"deployment.pipeline_duration": 0.5, "ci.duration": 0.25, "review.duration": 1}),
 ("trunk-based.yaml", {"ci.red_branch_policy": "fix-forward"}),
 ("trunk-based.yaml", {"ci.post_merge": False}),
 ("gitflow.yaml", {}),
 ("gitflow.yaml", {"deployment.pipeline_duration": 1, "review.enabled": False}),
 ("github-flow.yaml", {"ci.runners": 1}),
 ("trunk-based-poor-ci.yaml", {}),
 ("mechanisms/merge-queue.yaml", {}),
 ("mechanisms/merge-queue.yaml", {"review.enabled": False, "ci.runners": 1}),
 ("mechanisms/error-budget.yaml", {}),
 ("mechanisms/flag-lifecycle.yaml", {}),
 ("mechanisms/blue-green.yaml", {}),
 ("end-to-end/incident-and-postmortem.yaml", {"incidents.time_to_failure": 2}),
 ("org/monorepo.yaml", {}),
 ("org/polyrepo.yaml", {}),
]


def key_of(case: tuple[str, dict]) -> str:
    return case[0] + " " + json.dumps(case[1], sort_keys=True)


def fingerprint(case: tuple[str, dict]) -> dict[str, str]:
    """Hash of every event table (as CSV, with its length) and of the metrics of one configuration."""
    sys.path.insert(0, str(ROOT))
    from trunksim.experiment import simulate
    from trunksim.metrics import compute_metrics
    from trunksim.scenario.loading import load_scenario

    run = simulate(load_scenario(S + case[0], {**BASE, **case[1]}), seed=5)
    found = {}
    for table in TABLES:
        frame = getattr(run, table)
        found[table] = hashlib.sha1(frame.to_csv(index=False).encode()).hexdigest()[:12] + f"/{len(frame)}"
    found["metrics"] = hashlib.sha1(repr(sorted(compute_metrics(run).items())).encode()).hexdigest()[:12]
    return found


@pytest.mark.parametrize("case", cases, ids=[key_of(c) for c in cases])
def test_configuration_reproduces_its_golden_tables(case):
    golden = json.loads(GOLDEN.read_text())
    assert fingerprint(case) == golden[key_of(case)], "event tables moved; if on purpose, regenerate and say why"


if __name__ == "__main__":  # regenerate
    GOLDEN.write_text(json.dumps({key_of(c): fingerprint(c) for c in cases}, indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN}")

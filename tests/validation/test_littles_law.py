"""Little's law on changes in flight (docs/validation.md, section 2).

A change is *in flight* from its first commit until the deployment that rolls it out
to everyone — exactly the span its lead time measures. Over the measurement window
of a long run, Little's law says

    time-average number in flight  L  =  throughput λ  ×  mean lead time W.

``L`` is measured by sampling the engine's live state every 0.1 h (a SimPy process
added to the model, independent of the event table); ``λ`` (changes rolled out per
hour in the window) and ``W`` (their mean lead time) come from the ``changes`` event
table. On one sample path the two sides differ only by changes that straddle the
window's edges, so with a window of 48 weeks they agree within 2%. The event table's
own time integral of work in flight must match the sampled state (within 0.5%: the
sampling grid is the only difference).
"""

from __future__ import annotations

import numpy as np
import pytest

from trunksim.engine.model import DeliveryModel

from conftest import small

SAMPLE_EVERY_HOURS = 0.1


def in_flight_samples(model: DeliveryModel, start: float, end: float) -> list[int]:
    """Start a process that counts committed, not yet deployed changes every SAMPLE_EVERY_HOURS in [start, end)."""
    samples: list[int] = []

    def sampler():
        seen, open_changes = 0, []
        yield model.env.timeout(start)
        while model.env.now < end - SAMPLE_EVERY_HOURS / 2:
            open_changes.extend(model.log.changes[seen:])
            seen = len(model.log.changes)
            open_changes = [c for c in open_changes if c.deployed < 0]
            samples.append(sum(1 for c in open_changes if c.first_commit >= 0))
            yield model.env.timeout(SAMPLE_EVERY_HOURS)

    model.env.process(sampler())
    return samples


def littles_law_experiment(kind: str, seed: int = 3) -> dict:
    """One 52-week replication (4 weeks of warm-up, 8 developers): L sampled, L from the table, λ and W."""
    scenario = small(kind, team={"developers": 8}, simulation={"duration": "52w", "warm_up": "4w"})
    model = DeliveryModel(scenario, seed=seed)
    start, end = scenario.simulation.warm_up, scenario.simulation.duration
    samples = in_flight_samples(model, start, end)
    changes = model.run().changes
    window = end - start
    delivered = changes[changes["deployed_hours"].between(start, end)]
    committed = changes["first_commit_hours"]
    deployed = changes["deployed_hours"].fillna(np.inf)
    return {
        "sampled_wip": float(np.mean(samples)),
        "table_wip": float((np.minimum(deployed, end) - np.maximum(committed, start)).clip(lower=0).sum()) / window,
        "throughput_per_hour": len(delivered) / window,
        "mean_lead_time_hours": float((delivered["deployed_hours"] - delivered["first_commit_hours"]).mean()),
        "delivered": len(delivered),
    }


@pytest.mark.parametrize("kind", ["trunk-based", "github-flow", "gitflow"])
def test_work_in_flight_equals_throughput_times_lead_time(kind):
    result = littles_law_experiment(kind)
    assert result["delivered"] > 300
    little = result["throughput_per_hour"] * result["mean_lead_time_hours"]
    assert little == pytest.approx(result["sampled_wip"], rel=0.02)
    assert result["table_wip"] == pytest.approx(result["sampled_wip"], rel=0.005)

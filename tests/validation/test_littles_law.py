"""Little's law on changes in flight (docs/validation.md, section 2).

A change is *in flight* from its first commit until the deployment that puts it in
production for good — exactly the span its lead time measures (a rollback takes the
credit back: the change is in flight again until it ships and stays). Over the measurement window
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
    """Start a process that counts committed changes not yet in production for good every SAMPLE_EVERY_HOURS in [start, end).

    The live state cannot know which rollout a later rollback will undo, so each sample
    also notes the deployments live then that a rollback could still reach; once the run
    is over, the changes of those whose credit was taken back are counted too (call the
    returned list's ``finish()`` after the run).
    """
    samples: list[int] = []
    reachable: list[tuple[float, list]] = []

    def sampler():
        seen, open_changes, taken_back = 0, [], set()
        delivery = model.delivery
        yield model.env.timeout(start)
        while model.env.now < end - SAMPLE_EVERY_HOURS / 2:
            open_changes.extend(model.log.changes[seen:])
            seen = len(model.log.changes)
            for deployment in delivery.deployments[-20:]:  # a rollback puts its changes back in flight
                if deployment.rolled_back and deployment.deployment_id not in taken_back:
                    taken_back.add(deployment.deployment_id)
                    open_changes.extend(deployment.changes)
            open_changes = list({id(c): c for c in open_changes if c.deployed < 0}.values())
            samples.append(sum(1 for c in open_changes if c.first_commit >= 0))
            reachable.append((model.env.now, list(delivery.live[-3:])))
            yield model.env.timeout(SAMPLE_EVERY_HOURS)

    def finish() -> list[int]:
        """Add, to each sample, the changes that were in production then but whose credit a later rollback took back."""
        totals = []
        for count, (now, deployments) in zip(samples, reachable):
            later = {id(c): c for d in deployments if d.rolled_back for c in d.changes}
            totals.append(count + sum(1 for c in later.values() if c.first_commit >= 0 and not 0 <= c.deployed <= now))
        return totals

    model.env.process(sampler())
    return finish


def littles_law_experiment(kind: str, seed: int = 3) -> dict:
    """One 52-week replication (4 weeks of warm-up, 8 developers): L sampled, L from the table, λ and W."""
    scenario = small(kind, team={"developers": 8}, simulation={"duration": "52w", "warm_up": "4w"})
    model = DeliveryModel(scenario, seed=seed)
    start, end = scenario.simulation.warm_up, scenario.simulation.duration
    finish = in_flight_samples(model, start, end)
    changes = model.run().changes
    samples = finish()
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

"""The backlog: features, their latent defects, and the changes they become.

Feature *i* draws its effort from the ``features`` stream and its defects (with every
detection draw) from the ``defects`` stream in backlog order, when a developer pulls
it, so it is the same feature with the same defects under every strategy (common
random numbers). Defects written later (conflict resolution, untested breakage) come
from the ``injected`` stream.
"""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from trunksim.engine.entities import Change, Defect, Feature
from trunksim.engine.log import EventLog
from trunksim.randomness import Streams
from trunksim.scenario.schema import Scenario

MIN_FEATURE_EFFORT_HOURS = 1.0 / 60.0
"""Smallest feature effort the engine accepts, working hours (one minute)."""


class Backlog:
    """Where features, defects and changes are born.

    Parameters
    ----------
    scenario : Scenario
        Reads ``work`` and ``incidents.time_to_failure``.
    streams : Streams
        The replication's random streams.
    log : EventLog
        Every feature and change born is kept there.
    clock : callable
        The simulation time now, clock hours.
    integration_branch : str
        Where a change merges unless told otherwise.
    """

    def __init__(self, scenario: Scenario, streams: Streams, log: EventLog, clock: Callable[[], float], integration_branch: str) -> None:
        self.work = scenario.work
        self.time_to_failure = scenario.incidents.time_to_failure
        self.performance_share = scenario.progressive.performance_regression_share
        self.streams = streams
        self.log = log
        self.clock = clock
        self.integration_branch = integration_branch
        self.features_started = 0
        self._change_ids = 0
        self._defect_ids = 0

    def has_work(self) -> bool:
        """True while features remain (always, unless ``work.backlog_features`` caps them)."""
        cap = self.work.backlog_features
        return cap == 0 or self.features_started < cap

    def start_feature(self, developer: int) -> Optional[Feature]:
        """Pull the next feature from the backlog; its effort and latent defects are drawn now."""
        if not self.has_work():
            return None
        work = self.work
        effort = float(work.feature_effort.sample(self.streams["features"], 1)[0])
        effort = max(effort, MIN_FEATURE_EFFORT_HOURS)
        lines = effort * work.lines_per_coding_hour
        rng = self.streams["defects"]
        count = int(rng.poisson(work.defects_per_100_lines * lines / 100.0))
        feature = Feature(feature_id=self.features_started + 1, effort_hours=effort, lines=lines, defects=[])
        self.features_started += 1
        feature.defects = self.draw_defects(rng, feature.feature_id, count, self.streams["defect_traits"])
        feature.developer = developer
        feature.started = self.clock()
        self.log.features.append(feature)
        return feature

    def draw_defects(self, rng: np.random.Generator, feature_id: int, count: int, traits: np.random.Generator) -> list[Defect]:
        """Draw ``count`` latent defects: position, severity, time to failure and every detection draw at once.

        ``rng`` gives what every defect has had from the first version of the model;
        ``traits`` (a stream of its own, so adding traits moves no earlier draw) gives
        whether rolling back cures its failure and whether monitoring sees it.
        """
        if count == 0:
            return []
        work = self.work
        uniforms = rng.random((count, 5))
        severities = rng.choice(3, size=count, p=np.asarray(work.severity_shares, dtype=float) / sum(work.severity_shares)) + 1
        failures = self.time_to_failure.sample(rng, count)
        extra = traits.random((count, 2))
        defects = []
        for i in range(count):
            self._defect_ids += 1
            u = uniforms[i]
            defects.append(
                Defect(
                    defect_id=self._defect_ids, feature_id=feature_id, position=float(u[0]), severity=int(severities[i]),
                    review_u=float(u[1]), ci_u=float(u[2]), canary_u=float(u[3]), strategy_u=float(u[4]),
                    time_to_failure_hours=float(failures[i]), rollback_u=float(extra[i, 0]), monitor_u=float(extra[i, 1]),
                )
            )
        if self.performance_share > 0:  # a stream of its own: switching the class on moves no other draw
            regressions = self.streams["perf_traits"].random(count) < self.performance_share
            for defect, regression in zip(defects, regressions):
                defect.performance = bool(regression)
        return sorted(defects, key=lambda d: d.position)

    def inject_defect(self, change: Change) -> Defect:
        """A new defect written into ``change`` (conflict resolution, untested breakage)."""
        feature_id = change.feature.feature_id if change.feature else -1
        defect = self.draw_defects(self.streams["injected"], feature_id, 1, self.streams["injected_traits"])[0]
        defect.change = change
        change.defects.append(defect)
        return defect

    def new_change(
        self, author: int, feature: Optional[Feature], effort_hours: float, defects: list[Defect], kind: str,
        created: float, target: Optional[str] = None,
    ) -> Change:
        """A change is born: its size follows from its effort (working hours); it carries the given defects."""
        self._change_ids += 1
        change = Change(
            change_id=self._change_ids, feature=feature, author=author, kind=kind, effort_hours=effort_hours,
            lines=max(1.0, effort_hours * self.work.lines_per_coding_hour),
            target=target or self.integration_branch, defects=list(defects), created=created,
        )
        change.synced_at = created
        for defect in change.defects:
            defect.change = change
        if feature is not None and kind == "feature":
            feature.changes.append(change)
            change.flagged = feature.flagged
        self.log.changes.append(change)
        return change

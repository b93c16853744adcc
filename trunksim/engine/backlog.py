"""The backlog: features, their latent defects, and the changes they become.

Feature *i* draws its effort from the ``features`` stream and its defects (with every
detection draw) from the ``defects`` stream in backlog order, when a developer pulls
it, so it is the same feature with the same defects under every strategy (common
random numbers). Defects written later (conflict resolution, untested breakage) come
from the ``injected`` stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from trunksim.engine.entities import Change, Defect, Feature
from trunksim.engine.log import EventLog
from trunksim.randomness import Streams
from trunksim.scenario.schema import Scenario

MIN_FEATURE_EFFORT_HOURS = 1.0 / 60.0
"""Smallest feature effort the engine accepts, working hours (one minute)."""


@dataclass(frozen=True)
class ApiChanges:
    """How a repository's features change the APIs other services call (organisations).

    Each feature draws, from the ``api`` stream, whether it changes the API of one of the
    repository's services that has dependents (``change_share``) and whether the change
    is incompatible as first written (``breaking_share``). ``mode`` says what follows:

    * ``"contract"`` (polyrepo): an incompatible change carries a **contract defect** —
      severity drawn as any defect's, failing as soon as it is live (its callers use the
      API at once), caught by no review or QA and by CI only through contract tests;
    * ``"expand"`` (polyrepo with expand/contract): every API change is made backwards
      compatible, at ``effort_factor`` times the feature's effort; nothing breaks;
    * ``"atomic"`` (monorepo): the author updates every caller in the same change,
      ``update_hours`` of extra effort per dependent service; nothing breaks.

    ``dependents[k]`` is how many services call service ``k`` of the repository;
    ``service_of_developer`` (monorepo) picks, for a feature's developer, the services
    their team owns (indices into ``dependents``); ``None``: every service of the repository.
    """

    mode: str
    change_share: float
    breaking_share: float
    dependents: tuple[int, ...]
    effort_factor: float = 1.0
    update_hours: float = 0.0
    service_of_developer: Optional[tuple[tuple[int, ...], ...]] = None


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
        self.api: Optional[ApiChanges] = None
        """How features change other services' APIs (organisations); ``None`` for a one-team scenario."""
        # Feature efforts come BLOCK at a time from their own stream: the same sequence as
        # one draw per feature (NumPy draws these distributions value by value).
        self.feature_effort = streams.buffered("features", scenario.work.feature_effort)
        shares = np.asarray(scenario.work.severity_shares, dtype=float)
        # NumPy's Generator.choice(3, p=shares) without its per-call checks: the same
        # cumulative table and one uniform per draw, so the same severities.
        self._severity_cdf = (shares / sum(scenario.work.severity_shares)).cumsum()
        self._severity_cdf /= self._severity_cdf[-1]

    def has_work(self) -> bool:
        """True while features remain (always, unless ``work.backlog_features`` caps them)."""
        cap = self.work.backlog_features
        return cap == 0 or self.features_started < cap

    def start_feature(self, developer: int) -> Optional[Feature]:
        """Pull the next feature from the backlog; its effort and latent defects are drawn now."""
        if not self.has_work():
            return None
        work = self.work
        effort = self.feature_effort()
        effort = max(effort, MIN_FEATURE_EFFORT_HOURS)
        breaking, area = False, -1
        if self.api is not None:
            effort, breaking, area = self.shape_api_change(effort, developer)
        lines = effort * work.lines_per_coding_hour
        rng = self.streams["defects"]
        count = int(rng.poisson(work.defects_per_100_lines * lines / 100.0))
        feature = Feature(feature_id=self.features_started + 1, effort_hours=effort, lines=lines, defects=[], area=area)
        self.features_started += 1
        feature.defects = self.draw_defects(rng, feature.feature_id, count, self.streams["defect_traits"])
        if breaking:
            feature.defects = sorted(feature.defects + [self.contract_defect(feature.feature_id)], key=lambda d: d.position)
        feature.developer = developer
        feature.started = self.clock()
        self.log.features.append(feature)
        return feature

    def shape_api_change(self, effort: float, developer: int) -> tuple[float, bool, int]:
        """An organisation's feature: its effort with the API work, whether it breaks a contract, its service.

        Draws, from the ``api`` stream, which of the developer's services the feature is in
        (its ``area``) and whether it changes that service's API incompatibly (see
        :class:`ApiChanges`).
        """
        api = self.api
        assert api is not None
        u = self.streams["api"].random(3)
        services = api.service_of_developer[developer] if api.service_of_developer is not None else range(len(api.dependents))
        services = tuple(services)
        area = services[min(int(u[0] * len(services)), len(services) - 1)]
        dependents = api.dependents[area]
        if dependents == 0 or u[1] >= api.change_share:
            return effort, False, area
        breaking = bool(u[2] < api.breaking_share)
        if api.mode == "expand":
            return effort * api.effort_factor, False, area
        if api.mode == "atomic":
            return (effort + api.update_hours * dependents, False, area) if breaking else (effort, False, area)
        return effort, breaking, area

    def contract_defect(self, feature_id: int) -> Defect:
        """An incompatible API change: it fails in the callers as soon as it is live.

        Drawn from the ``api`` stream: where in the feature it sits, its severity, and the
        contract tests' and the canary's detection draws. Review and QA never see it
        (``review_u`` and ``strategy_u`` are 1); rolling back cures it; monitoring sees it.
        """
        rng = self.streams["api"]
        u = rng.random(3)
        shares = np.asarray(self.work.severity_shares, dtype=float)
        severity = int(rng.choice(3, p=shares / shares.sum())) + 1
        self._defect_ids += 1
        return Defect(
            defect_id=self._defect_ids, feature_id=feature_id, position=float(u[0]), severity=severity,
            review_u=1.0, ci_u=float(u[1]), canary_u=float(u[2]), strategy_u=1.0, time_to_failure_hours=0.0,
            rollback_u=1.0, monitor_u=0.0, contract=True,
        )

    def draw_defects(self, rng: np.random.Generator, feature_id: int, count: int, traits: np.random.Generator) -> list[Defect]:
        """Draw ``count`` latent defects: position, severity, time to failure and every detection draw at once.

        ``rng`` gives what every defect has had from the first version of the model;
        ``traits`` (a stream of its own, so adding traits moves no earlier draw) gives
        whether rolling back cures its failure and whether monitoring sees it.
        """
        if count == 0:
            return []
        uniforms = rng.random((count, 5))
        severities = self._severity_cdf.searchsorted(rng.random(count), side="right") + 1
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
        if feature is not None:
            change.area = feature.area
        for defect in change.defects:
            defect.change = change
        if feature is not None and kind == "feature":
            feature.changes.append(change)
            change.flagged = feature.flagged
        self.log.changes.append(change)
        return change

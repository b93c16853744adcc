"""The delivery model: one replication of one scenario, wired together.

Time inside the engine is **hours** since Monday 00:00 of week 0.

``DeliveryModel`` owns the SimPy environment, the random streams, the branches, the
shared review queue and the components (:mod:`people`, :mod:`ci`, :mod:`flow`,
:mod:`delivery`, :mod:`incidents`); the strategy plug-in decides how features are cut
into changes, where they merge and how releases and hotfixes happen.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import pandas as pd
import simpy

from trunksim.engine.calendar import WorkingCalendar
from trunksim.engine.ci import CIService
from trunksim.engine.delivery import Delivery
from trunksim.engine.entities import Branch, Change, Defect, Feature
from trunksim.engine.flow import Flow
from trunksim.engine.incidents import IncidentDesk
from trunksim.engine.log import EventLog
from trunksim.engine.merging import DefaultMergeModel, MergeModel
from trunksim.engine.people import Developer
from trunksim.randomness import Streams
from trunksim.scenario.schema import Scenario
from trunksim.strategies.registry import strategy_class


class SimulationLimitError(RuntimeError):
    """A replication passed its event or wall-clock bound (``simulation.max_events``/``max_wall_seconds``)."""


class DeliveryModel:
    """One replication: build it, then call :meth:`run`.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario.
    seed : int
        Root seed of the random streams.
    replication : int
        Replication index (selects the streams), 0-based.
    merge_model : MergeModel, optional
        Replaces the default merge-conflict and breakage model.
    """

    def __init__(self, scenario: Scenario, seed: int, replication: int = 0, merge_model: Optional[MergeModel] = None) -> None:
        self.scenario = scenario
        self.seed = seed
        self.replication = replication
        self.env = simpy.Environment()
        self.streams = Streams(seed, replication)
        self.log = EventLog()
        cal = scenario.team.calendar
        self.calendar = WorkingCalendar(cal.enabled, cal.hours_per_day, cal.days_per_week, cal.day_start_hour)
        self.merge_model: MergeModel = merge_model or DefaultMergeModel(
            scenario.merging.conflict_coefficient, scenario.merging.semantic_breakage_probability
        )
        self.strategy = strategy_class(scenario.strategy.name)(scenario.strategy, self)
        self.branches: dict[str, Branch] = {name: Branch(name) for name in self.strategy.long_lived_branches()}
        self._commit_events: dict[str, simpy.Event] = {}
        self.review_queue: deque[Change] = deque()
        self.idle_developers: dict[int, Developer] = {}  # waiting for work, in the order they became idle
        self._features_started = 0
        self._change_ids = 0
        self._defect_ids = 0
        self.ci = CIService(self)
        self.flow = Flow(self)
        self.incidents = IncidentDesk(self)
        self.delivery = Delivery(self, self.branches[self.strategy.production_branch])
        self.developers = [Developer(self, i) for i in range(scenario.team.developers)]
        if scenario.ci.post_merge:
            for branch in self.branches.values():
                self.env.process(self.flow.build_branch(branch))
        self.strategy.start()

    # -- the backlog -----------------------------------------------------------------
    def backlog_has_work(self) -> bool:
        """True while features remain (always, unless ``work.backlog_features`` caps them)."""
        cap = self.scenario.work.backlog_features
        return cap == 0 or self._features_started < cap

    def start_feature(self, dev: Developer) -> Optional[Feature]:
        """Pull the next feature from the backlog; its effort and latent defects are drawn now.

        Feature *i* draws from the ``features`` and ``defects`` streams in backlog order,
        so it is the same feature with the same defects under every strategy.
        """
        if not self.backlog_has_work():
            return None
        work = self.scenario.work
        effort = float(work.feature_effort.sample(self.streams["features"], 1)[0])
        effort = max(effort, 1.0 / 60.0)
        lines = effort * work.lines_per_coding_hour
        rng = self.streams["defects"]
        count = int(rng.poisson(work.defects_per_100_lines * lines / 100.0))
        feature = Feature(feature_id=self._features_started + 1, effort_hours=effort, lines=lines, defects=[])
        self._features_started += 1
        feature.defects = self.draw_defects(rng, feature.feature_id, count)
        feature.developer = dev.index
        feature.started = self.env.now
        self.log.features.append(feature)
        return feature

    def draw_defects(self, rng: np.random.Generator, feature_id: int, count: int) -> list[Defect]:
        """Draw ``count`` latent defects: position, severity and every detection draw at once."""
        if count == 0:
            return []
        work = self.scenario.work
        uniforms = rng.random((count, 5))
        severities = rng.choice(3, size=count, p=np.asarray(work.severity_shares, dtype=float) / sum(work.severity_shares)) + 1
        failures = self.scenario.incidents.time_to_failure.sample(rng, count)
        defects = []
        for i in range(count):
            self._defect_ids += 1
            u = uniforms[i]
            defects.append(
                Defect(
                    defect_id=self._defect_ids, feature_id=feature_id, position=float(u[0]), severity=int(severities[i]),
                    review_u=float(u[1]), ci_u=float(u[2]), canary_u=float(u[3]), qa_u=float(u[4]),
                    time_to_failure_hours=float(failures[i]),
                )
            )
        return sorted(defects, key=lambda d: d.position)

    def inject_defect(self, change: Change) -> Defect:
        """A new defect written into ``change`` (conflict resolution, untested breakage)."""
        feature_id = change.feature.feature_id if change.feature else -1
        defect = self.draw_defects(self.streams["injected"], feature_id, 1)[0]
        defect.change = change
        change.defects.append(defect)
        return defect

    # -- changes -----------------------------------------------------------------------
    def new_change(
        self, dev: Developer, feature: Optional[Feature], effort_hours: float, defects: list[Defect], kind: str,
        created: float, target: Optional[str] = None,
    ) -> Change:
        """A change is born: its size follows from its effort; it carries the given defects."""
        self._change_ids += 1
        change = Change(
            change_id=self._change_ids, feature=feature, author=dev.index, kind=kind, effort_hours=effort_hours,
            lines=max(1.0, effort_hours * self.scenario.work.lines_per_coding_hour),
            target=target or self.strategy.integration_branch, defects=list(defects), created=created,
        )
        change.synced_at = created
        for defect in change.defects:
            defect.change = change
        if feature is not None and kind == "feature":
            feature.changes.append(change)
            change.flagged = feature.flagged
        self.log.changes.append(change)
        return change

    def fix_change(self, defect: Defect, author: int, kind: str, effort_hours: float) -> Change:
        """A change that repairs a defect found after merge (canary, production, QA)."""
        source = defect.change
        target = self.strategy.fix_target(defect, kind)
        change = self.new_change(
            self.developers[author], source.feature if source else None, effort_hours, [], kind=kind,
            created=self.env.now, target=target,
        )
        change.fixes = defect
        change.coded_hours = effort_hours
        change.first_commit = self.env.now
        change.enter("coding", self.env.now)
        return change

    def repair(self, defect: Defect) -> None:
        """The author of a defect found in production (or by a canary) fixes it through the normal flow."""
        source = defect.change
        author = self.developers[source.author if source else 0]

        def work(dev: Developer):
            hours = self.flow.fix_time()
            yield from dev.work(hours, "fix", source.change_id if source else -1)
            fix = self.fix_change(defect, author=dev.index, kind="fix", effort_hours=hours)
            self.flow.submit(fix)

        author.assign(1, work)

    def handle_known_defect(self, defect: Defect) -> None:
        """A defect found after merge (canary, or in production before a rollback) that is not in production.

        With ``ci.red_branch_policy: revert`` its author reverts the change from the
        production branch, so the rest can ship, and brings it back fixed; otherwise
        (``fix-forward``) a fix change goes through the normal flow while deployments wait.
        """
        change = defect.change
        branch = self.delivery.branch
        if (
            self.scenario.ci.red_branch_policy == "revert"
            and change is not None
            and not change.in_production
            and not change.deploying
            and change in branch.pending
        ):
            self.developers[change.author].assign(0, self.flow.revert_defective(change, defect, branch))
        else:
            self.repair(defect)

    # -- review queue -----------------------------------------------------------------
    def request_review(self, change: Change) -> None:
        """Put a change in the shared review queue and wake an idle reviewer."""
        self.review_queue.append(change)
        solo = len(self.developers) == 1
        for dev in self.idle_developers.values():
            if solo or dev.index != change.author:
                dev.poke()
                break

    def take_review(self, dev: Developer) -> Optional[Change]:
        """The oldest change waiting for review that ``dev`` did not write (anyone's, in a team of one)."""
        queue = self.review_queue
        solo = len(self.developers) == 1
        for i, change in enumerate(queue):
            if solo or change.author != dev.index:
                del queue[i]
                return change
        return None

    # -- branches ------------------------------------------------------------------------
    def commit_event(self, branch: Branch) -> simpy.Event:
        """An event that fires at the next commit on ``branch``."""
        event = self._commit_events.get(branch.name)
        if event is None or event.triggered:
            event = self._commit_events[branch.name] = self.env.event()
        return event

    def branch_changed(self, branch: Branch, lines: Optional[float] = None) -> None:
        """A commit landed on ``branch`` (a merge, a revert, a fix)."""
        if lines is not None and lines > 0:
            branch.merge_times.append(self.env.now)
            previous = branch.merge_lines_cumulative[-1] if branch.merge_lines_cumulative else 0.0
            branch.merge_lines_cumulative.append(previous + lines)
        if not self.scenario.ci.post_merge:
            branch.green_version = branch.version
            self.branch_green(branch)
        event = self._commit_events.get(branch.name)
        if event is not None and not event.triggered:
            event.succeed()

    def branch_green(self, branch: Branch) -> None:
        """A green build on ``branch``: tell whoever deploys or releases from it."""
        if branch is self.delivery.branch:
            self.delivery.poke()
        self.strategy.on_green(branch)

    # -- people ----------------------------------------------------------------------------
    def on_call(self) -> Developer:
        """The developer on call now (a rotation of ``team.on_call_rotation`` hours)."""
        turn = int(self.env.now // self.scenario.team.on_call_rotation)
        return self.developers[turn % len(self.developers)]

    # -- running ---------------------------------------------------------------------------
    def run(self) -> "Run":
        """Simulate ``simulation.duration`` hours and return the event tables.

        Raises
        ------
        SimulationLimitError
            If the run passes ``simulation.max_events`` scheduled events or
            ``simulation.max_wall_seconds`` of real time.
        """
        settings = self.scenario.simulation
        started = time.perf_counter()
        step = 24.0 * 7
        while self.env.now < settings.duration:
            self.env.run(until=min(settings.duration, self.env.now + step))
            events = next(self.env._eid)  # SimPy's running count of scheduled events
            if events > settings.max_events:
                raise SimulationLimitError(
                    f"replication stopped at {self.env.now:.0f} h of {settings.duration:.0f} h: more than "
                    f"simulation.max_events={settings.max_events} events; raise the bound or shorten simulation.duration"
                )
            if time.perf_counter() - started > settings.max_wall_seconds:
                raise SimulationLimitError(
                    f"replication stopped at {self.env.now:.0f} h of {settings.duration:.0f} h: more than "
                    f"simulation.max_wall_seconds={settings.max_wall_seconds:g} s; raise the bound or shorten simulation.duration"
                )
        return self.result(time.perf_counter() - started)

    def result(self, wall_seconds: float) -> "Run":
        """Package the event log of a finished run."""
        frames = self.log.frames()
        deployments = self.delivery.deployments
        frames["deployments"] = pd.DataFrame.from_records(
            [
                (
                    d.deployment_id, d.source, d.kind, d.started, d.finished if d.finished >= 0 else math.nan,
                    len(d.changes), len(d.new_changes), d.rolled_out, d.canary_failed, d.rolled_back,
                    d.rolled_back_at if d.rolled_back_at >= 0 else math.nan, " ".join(str(c.change_id) for c in d.changes),
                )
                for d in deployments
            ],
            columns=list(frames["deployments"].columns),
        )
        frames["incidents"] = pd.DataFrame.from_records(
            [
                (
                    i.incident_id, i.deployment_id, i.defect.change.change_id if i.defect.change else -1, i.defect.severity,
                    i.source, i.started, i.detected if i.detected >= 0 else math.nan,
                    i.restored if i.restored >= 0 else math.nan, i.restored_by, i.responder,
                )
                for i in self.incidents.incidents
            ],
            columns=list(frames["incidents"].columns),
        )
        # Red periods still open at the end are reported up to the end of the run.
        open_red = [
            (b.name, b.red_since, math.nan, b.red_cause) for b in self.branches.values() if b.red_since >= 0
        ]
        if open_red:
            frames["branch_status"] = pd.concat(
                [frames["branch_status"], pd.DataFrame(open_red, columns=frames["branch_status"].columns)], ignore_index=True
            )
        return Run(
            scenario=self.scenario, seed=self.seed, replication=self.replication, frames=frames,
            wall_seconds=wall_seconds, developers=len(self.developers),
            integration_branch_name=self.strategy.integration_branch,
        )


@dataclass
class Run:
    """The event tables of one replication.

    Attributes are DataFrames (``changes``, ``features``, ``deployments``, ``incidents``,
    ``ci_runs``, ``activity``, ``merges``, ``branch_status``); times are hours since the
    start of the run. ``metrics()`` computes the DORA and flow metrics from them.
    """

    scenario: Scenario
    seed: int
    replication: int
    frames: dict[str, pd.DataFrame]
    wall_seconds: float
    developers: int
    integration_branch_name: str = "trunk"

    def __getattr__(self, name: str) -> pd.DataFrame:
        frames = self.__dict__.get("frames", {})
        if name in frames:
            return frames[name]
        raise AttributeError(name)

    def metrics(self, profile: str = "trunksim", year: int = 2023) -> dict[str, Any]:
        """The replication's metrics under a metric profile (see :func:`trunksim.metrics.compute_metrics`)."""
        from trunksim.metrics import compute_metrics

        return compute_metrics(self, profile, year=year)

"""Production: the deployment pipeline, canaries, rollbacks, feature flags.

A deployment takes every change merged into the production branch, covered by a green
post-merge build and not yet in production (a change is credited to the first
deployment that rolls it out to everyone). It runs the pipeline
(``deployment.pipeline_duration``), then, with a canary, exposes the new changes to
``traffic_share`` of users for ``bake_time``; a live defect of severity ``s`` is caught
with probability ``1 - exp(-sensitivity * s * traffic_share * bake_time)``. A caught
defect fails the canary: the deployment is rolled back (``incidents.rollback_time``)
and never reaches everyone.

**When** deployments happen is ``deployment.mode``: ``continuous`` deploys each new
green build as soon as the previous deployment is done; ``cadence`` runs a release
train every ``deployment.cadence`` hours. An approval board (``deployment.approval``)
holds regular deployments until its next meeting. Hotfix deployments skip the train,
the board and the canary.

A known, unrepaired defect in what would ship (found by a canary or in production,
after a rollback) blocks regular deployments: with ``ci.red_branch_policy: revert`` its
author reverts the change so the rest ships; with ``fix-forward`` until its fix merges.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Generator, Optional, Protocol

import simpy

from trunksim.engine.entities import Branch, Change, Defect, Deployment, Feature, Incident
from trunksim.randomness import Streams

if TYPE_CHECKING:  # pragma: no cover
    from trunksim.engine.flags import FlagKeeper
    from trunksim.engine.repairs import Repairs
    from trunksim.scenario.schema import Scenario


class FailureDesk(Protocol):
    """What production needs of the incident desk (:class:`~trunksim.engine.incidents.IncidentDesk`)."""

    def detection_delay(self) -> float:
        """A drawn time for a person to notice an alarm, clock hours."""

    def update(self, defect: Defect) -> None:
        """Production changed: is the defect live now?"""

    def record_canary(self, defect: Defect, deployment: Deployment, started: float, rolled_back: float, exposed_share: float) -> None:
        """A failure a canary caught."""

KNOWN_IN_PRODUCTION = ("canary", "production")


class Delivery:
    """The production environment and the process that deploys to it.

    Parameters
    ----------
    env : simpy.Environment
        The simulation.
    scenario : Scenario
        Reads ``deployment`` and ``incidents.rollback_time``.
    streams : Streams
        Draws pipeline durations from ``deploy``.
    branch : Branch
        The production branch.

    The incident desk and the repairs are connected after construction (:meth:`connect`):
    production failures and deployments answer each other.
    """

    def __init__(self, env: simpy.Environment, scenario: "Scenario", streams: Streams, branch: Branch) -> None:
        self.env = env
        self.branch = branch
        self.settings = scenario.deployment
        self.rollback_time = scenario.incidents.rollback_time
        progressive = scenario.progressive
        self.blue_green = progressive.blue_green
        self.switch_back_time = progressive.switch_back_time
        canary = self.settings.canary
        self.canary_steps: list[tuple[float, float]] = (
            [(step.traffic_share, step.bake_time) for step in progressive.steps]
            or [(canary.traffic_share, canary.bake_time)]
        )
        """(traffic share, bake time) of each canary step, in order."""
        self.stepped = bool(progressive.steps)
        self.flags: Optional["FlagKeeper"] = None
        """The flag lifecycle, when ``flags.enabled``."""
        self.frozen = False
        """True while a fast error-budget burn freezes feature deployments (fixes still ship)."""
        self.incidents: FailureDesk
        self.repairs: "Repairs"
        self.slot = simpy.PriorityResource(self.env, capacity=1)
        self.pipeline_duration = streams.buffered("deploy", self.settings.pipeline_duration)
        self.deployments: list[Deployment] = []
        self.live: list[Deployment] = []  # rolled out and not rolled back, oldest first
        self._poke: Optional[simpy.Event] = None

    def connect(self, incidents: FailureDesk, repairs: "Repairs") -> None:
        """Connect the incident desk and the repairs, then start deploying."""
        self.incidents = incidents
        self.repairs = repairs
        deployer = self.continuous if self.settings.mode == "continuous" else self.release_train
        self.env.process(deployer())

    # -- when to deploy ----------------------------------------------------------------
    def poke(self) -> None:
        """Something changed that may allow a deployment."""
        if self._poke is not None and not self._poke.triggered:
            self._poke.succeed()

    def candidates(self, kind: str = "regular") -> list[Change]:
        """Changes that the next deployment of ``kind`` would roll out.

        A regular deployment ships what the last green build of the production branch
        covers. A hotfix deployment ships only hotfixes (each passed its own CI run), on
        top of what is live: nothing untested or unreviewed rides along with it.
        """
        if kind == "hotfix":
            return [c for c in self.branch.pending if not c.deploying and c.kind == "hotfix"]
        green = self.branch.green_version
        if self.frozen:  # an error-budget freeze: only fixes ship
            return [c for c in self.branch.pending if not c.deploying and c.merge_version <= green and c.kind != "feature"]
        return [c for c in self.branch.pending if not c.deploying and c.merge_version <= green]

    @staticmethod
    def blocked(changes: list[Change]) -> bool:
        """True if a change carries a defect found in production that this build does not fix.

        The build fixes it when the change itself was fixed (reverted and brought back) or
        when the fix change ships in the same build or is already in production. A fix
        that has merged but is not yet in the last green build does not count: the green
        build still holds the defect.
        """
        for change in changes:
            for defect in change.defects:
                if defect.found_by in KNOWN_IN_PRODUCTION and not defect.repaired:
                    if not defect.fixed:
                        return True
                    fix = defect.fix
                    if fix is not None and not fix.in_production and fix not in changes:
                        return True
        return False

    def continuous(self) -> Generator:
        """Deploy every new green build, one deployment at a time."""
        while True:
            changes = self.candidates()
            if changes and not self.blocked(changes):
                yield from self.wait_for_approval()
                yield from self.deploy("regular")
            else:
                self._poke = self.env.event()
                yield self._poke

    def release_train(self) -> Generator:
        """Deploy what is green at fixed times; a blocked or empty train is skipped."""
        settings = self.settings
        next_train = settings.offset
        while True:
            yield self.env.timeout(max(0.0, next_train - self.env.now))
            next_train += settings.cadence
            changes = self.candidates()
            if changes and not self.blocked(changes):
                yield from self.wait_for_approval()
                yield from self.deploy("regular")

    def wait_for_approval(self) -> Generator:
        """Hold until the next change-approval board meeting, if there is a board."""
        board = self.settings.approval
        if board.enabled:
            now = self.env.now
            meetings = max(0, math.ceil((now - board.offset) / board.cadence))
            yield self.env.timeout(board.offset + meetings * board.cadence - now)

    # -- deploying ---------------------------------------------------------------------
    def deploy(self, kind: str) -> Generator:
        """Run one deployment now; returns it (or ``None`` if there was nothing to ship)."""
        env = self.env
        priority = 0 if kind == "hotfix" else 1
        with self.slot.request(priority=priority) as request:
            yield request
            changes = self.candidates(kind)
            if not changes or self.blocked(changes):
                return None
            deployment = Deployment(
                deployment_id=len(self.deployments) + 1, source=self.branch.name, kind=kind, started=env.now,
                changes=changes, new_changes=[c for c in changes if c.deployed < 0],
            )
            self.deployments.append(deployment)
            for change in changes:
                change.deploying = True
                change.enter("deploy", env.now)
            yield env.timeout(self.pipeline_duration())
            canary = self.settings.canary
            if canary.enabled and kind == "regular" and changes:
                canary_start = env.now
                caught, share = [], canary.traffic_share
                exposure = 0.0
                for share, bake in self.canary_steps:
                    yield env.timeout(bake)
                    exposure += share * bake
                    caught = self.canary_catches(changes, exposure=exposure if self.stepped else None)
                    if caught:
                        break
                if caught:
                    if not canary.automatic_rollback:
                        # A person has to notice the canary's alarm before rolling back.
                        yield env.timeout(self.incidents.detection_delay())
                    yield env.timeout(self.switch_back_time if self.blue_green else self.rollback_time)
                    deployment.canary_failed = True
                    deployment.rolled_back = True
                    deployment.rolled_back_at = deployment.finished = env.now
                    for change in changes:
                        change.deploying = False
                        change.enter("deploy_wait", env.now)
                    for defect in caught:
                        defect.found_by = "canary"
                        defect.found_at = canary_start
                        self.incidents.record_canary(defect, deployment, canary_start, env.now, share)
                        self.repairs.handle_known_defect(defect)
                    return deployment
            self.roll_out(deployment)
        return deployment

    def canary_catches(self, changes: list[Change], ignore_flags: bool = False, exposure: Optional[float] = None) -> list[Defect]:
        """Defects the canary sees: live once rolled out, and caught by the severity-weighted draw.

        Code dark behind an off flag is invisible to a deployment canary
        (``ignore_flags`` is for the progressive flag rollout, which exposes it).
        ``exposure`` is the traffic-hours seen so far (Σ share × bake over the canary's
        steps; default: the single canary's share × bake). A defect is caught once its
        fixed draw falls under ``1 - exp(-sensitivity × severity × exposure)``, so a longer
        or wider canary can only catch more.
        """
        canary = self.settings.canary
        if exposure is None:
            exposure = canary.traffic_share * canary.bake_time
        exposure = canary.detection_sensitivity * exposure
        caught = []
        for change in changes:
            dark = change.flagged and change.feature is not None and not change.feature.flag_on
            if dark and not ignore_flags:
                continue
            for defect in change.defects:
                if not defect.repaired and not defect.found_by and defect.canary_u < -math.expm1(-exposure * defect.severity):
                    caught.append(defect)
        return caught

    def roll_out(self, deployment: Deployment) -> None:
        """Every user now runs the deployment: credit changes, make their defects live."""
        now = self.env.now
        deployment.finished = now
        deployment.rolled_out = True
        self.live.append(deployment)
        self.branch.pending.discard_all(deployment.changes)
        for change in deployment.changes:
            change.deploying = False
            change.in_production = True
            change.current_deployment = deployment
            if change.deployed < 0:
                change.enter("", now)
                change.deployed = now
                change.deployment_id = deployment.deployment_id
            if change.fixes is not None:
                repaired = change.fixes
                repaired.repaired = True
                self.incidents.update(repaired)
                feature = repaired.change.feature if repaired.change else None
                if feature is not None and feature.flagged and not feature.flag_on and feature.completed >= 0:
                    self.release_flag(feature)
        for change in deployment.changes:
            for defect in change.defects:
                self.incidents.update(defect)
            feature = change.feature
            if feature is not None and feature.completed < 0 and change.kind == "feature":
                self.check_complete(feature)

    def check_complete(self, feature: Feature) -> None:
        """A feature is complete when all its changes run in production; its flag then goes on."""
        if len(feature.changes) < feature.planned_changes:
            return
        if all(c.in_production for c in feature.changes):
            feature.completed = self.env.now
            if feature.flagged:
                self.release_flag(feature)

    def release_flag(self, feature: Feature) -> None:
        """Turn a finished feature on: at once, or progressively when canaries are on."""
        if self.settings.canary.enabled:
            self.env.process(self.progressive_flag(feature))
        else:
            self.set_flag(feature, True)

    def progressive_flag(self, feature: Feature) -> Generator:
        """Flag on for the canary's share of users for its bake time (or step by step), judged like a canary deployment.

        A caught defect leaves the flag off (the exposed users were hurt until then: a
        canary-caught failure of the deployment that shipped the change); its fix
        being deployed starts a new progressive rollout.
        """
        started = self.env.now
        exposure, share, caught = 0.0, self.settings.canary.traffic_share, []
        for share, bake in self.canary_steps:
            yield self.env.timeout(bake)
            exposure += share * bake
            if feature.flag_on:
                return
            if not all(c.in_production for c in feature.changes):
                # A rollback took part of the feature out meanwhile; it is released again when all of it is back.
                feature.completed = -1.0
                return
            caught = self.canary_catches(feature.changes, ignore_flags=True, exposure=exposure if self.stepped else None)
            if caught:
                break
        if not caught:
            self.set_flag(feature, True)
            return
        for defect in caught:
            defect.found_by = "canary"
            defect.found_at = started
            deployment = defect.change.current_deployment if defect.change else None
            if deployment is not None:
                self.incidents.record_canary(defect, deployment, started, self.env.now, share)
            self.repairs.repair(defect)

    def set_flag(self, feature: Feature, on: bool) -> None:
        """Turn a feature's flag on or off; its defects become live or dark."""
        feature.flag_on = on
        if on:
            feature.flag_on_at = self.env.now
            if self.flags is not None:
                self.flags.released(feature)
        for change in feature.changes:
            for defect in change.defects:
                self.incidents.update(defect)

    def latest(self) -> Optional[Deployment]:
        """The most recent deployment still live."""
        return self.live[-1] if self.live else None

    def can_roll_back(self, incident: Incident) -> bool:
        """True if the failing change came with the latest live deployment."""
        change = incident.defect.change
        latest = self.latest()
        return latest is not None and change is not None and change.current_deployment is latest and len(self.live) > 1

    def roll_back(self, deployment: Deployment) -> None:
        """Return production to the previous deployment; its changes wait to ship again.

        A change this deployment delivered is no longer delivered: its credit is taken
        back and its lead time runs on (as ``deploy_wait``, from the rollout that did not
        last) until a deployment that stays in production ships it again.
        """
        now = self.env.now
        deployment.rolled_back = True
        deployment.rolled_back_at = now
        self.live.remove(deployment)
        previous = self.latest()
        returned = []
        for change in deployment.changes:
            if change.current_deployment is deployment:
                change.in_production = False
                change.current_deployment = previous
                if change.deployment_id == deployment.deployment_id:
                    change.uncredit()
                feature = change.feature
                if feature is not None and change.kind == "feature" and feature.completed >= 0:
                    feature.completed = -1.0  # complete again once all of it is back in production
                returned.append(change)
        self.branch.pending.prepend(returned)
        for change in returned:
            for defect in change.defects:
                self.incidents.update(defect)

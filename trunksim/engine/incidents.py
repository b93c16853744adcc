"""Production failures: when a live defect fails, how it is noticed, and how service comes back.

A defect is *live* while its change runs in production, it is not repaired, and (for a
flagged feature) the flag is on. From the moment it becomes live it fails after its
own ``time_to_failure`` (drawn when the defect was born). The failure starts an
incident; monitoring notices it after ``incidents.detection_delay``; the on-call
developer (a weekly rotation, any hour of the day) diagnoses it and restores service
by the cheapest path available:

1. **flag off** — the defect sits behind a feature flag that is on;
2. **rollback** — the defect came with the latest live deployment, rollback is on, and
   rolling back cures this failure (``incidents.irreversible_failure_share`` of failures,
   such as a data migration gone wrong, it does not);
3. **fix forward** — write a fix and send it down the strategy's hotfix path; service is
   restored when that hotfix deployment has rolled out (an unplanned deployment).

After a flag-off or rollback the author still fixes the defect through the normal
flow; the flag comes back on when the fix is deployed.

What makes recovery slow in real organisations is modelled, not set: a failure that
monitoring misses (``1 - incidents.monitoring_coverage`` of them) is noticed only when
customers report it (``incidents.customer_report_delay``); a failure of low severity
(at most ``incidents.ticket_max_severity``) pages nobody: it becomes a ticket, fixed by
the author through the normal flow, and service is restored only when that fix ships
(under GitFlow, with the next release or a hotfix through QA); and a failure that
rollback cannot cure waits for a fix forward.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generator

import simpy

from trunksim.engine.entities import Branch, Defect, Deployment, Incident
from trunksim.randomness import Streams

if TYPE_CHECKING:  # pragma: no cover
    from trunksim.engine.delivery import Delivery
    from trunksim.engine.flow import Flow
    from trunksim.engine.people import Developer, Team
    from trunksim.engine.repairs import Repairs
    from trunksim.scenario.mechanisms import Postmortems as PostmortemSettings
    from trunksim.scenario.schema import Incidents


class IncidentDesk:
    """Schedules failures of live defects and runs each incident to its restoration.

    Parameters
    ----------
    env : simpy.Environment
        The simulation.
    settings : scenario Incidents section
        Detection, diagnosis, rollback, flag-off and fix-forward times.
    streams : Streams
        Draws from ``incident``.
    team : Team
        Its on-call rotation answers.
    delivery : Delivery
        Flags and rollbacks; hotfix deployments.
    repairs : Repairs
        Fixes after service is restored.
    flow : Flow
        The hotfix path (:meth:`Flow.expedite`) onto ``hotfix_branch``.
    hotfix_branch : Branch
        Where hotfixes merge (the production branch).
    postmortems : scenario postmortems section
        Postmortems after production incidents, and game days.
    """

    def __init__(
        self, env: simpy.Environment, settings: "Incidents", streams: Streams, team: "Team", delivery: "Delivery",
        repairs: "Repairs", flow: "Flow", hotfix_branch: Branch, postmortems: "PostmortemSettings",
    ) -> None:
        self.env = env
        self.settings = settings
        self.team = team
        self.delivery = delivery
        self.repairs = repairs
        self.flow = flow
        self.hotfix_branch = hotfix_branch
        self.postmortems = postmortems
        self.detection_delay = streams.buffered("incident", settings.detection_delay)
        self.diagnosis_time = streams.buffered("incident", settings.diagnosis_time)
        self.hotfix_time = streams.buffered("incident", settings.fix_time)
        self.customer_report_delay = streams.buffered("customer", settings.customer_report_delay)
        self.misconfiguration_rng = streams["misconfiguration"]
        self.severity_shares: list[float] = []  # set by the model when the flag lifecycle is on
        self.incidents: list[Incident] = []
        self._gone: dict[int, simpy.Event] = {}  # defect id → fires when the defect stops being live

    @staticmethod
    def is_live(defect: Defect) -> bool:
        """True while the defect can hurt users."""
        change = defect.change
        if change is None or not change.in_production or defect.repaired:
            return False
        feature = change.feature
        return not (change.flagged and feature is not None and not feature.flag_on)

    def update(self, defect: Defect) -> None:
        """Re-evaluate liveness after production changed; schedule or cancel the failure."""
        live = self.is_live(defect)
        if live and defect.live_since < 0:
            defect.live_since = self.env.now
            if self.may_fail(defect):
                self.env.process(self.fail_later(defect, defect.live_token))
        elif not live and defect.live_since >= 0:
            defect.live_since = -1.0
            defect.live_token += 1
            gone = self._gone.pop(defect.defect_id, None)
            if gone is not None:
                gone.succeed()

    @staticmethod
    def may_fail(defect: Defect) -> bool:
        """A live defect fails unless an incident of its own is still open (one shipped again after its
        incident was restored, still unfixed, fails again)."""
        return defect.incident is None or defect.incident.restored >= 0

    def fail_later(self, defect: Defect, token: int) -> Generator:
        """Fail after the defect's time to failure, unless it stopped being live meanwhile."""
        yield self.env.timeout(defect.time_to_failure_hours)
        if defect.live_token == token and self.may_fail(defect) and self.is_live(defect):
            yield from self.incident(defect)

    def incident(self, defect: Defect) -> Generator:
        """One production incident, from failure to restored service."""
        env = self.env
        change = defect.change
        deployment = change.current_deployment if change is not None else None
        incident = Incident(
            incident_id=len(self.incidents) + 1, defect=defect,
            deployment_id=deployment.deployment_id if deployment is not None else -1, started=env.now,
            source="downstream" if defect.contract else "production",
        )
        self.incidents.append(incident)
        defect.incident = incident
        defect.found_by = "production"
        defect.found_at = env.now
        delay = self.detection_delay()
        if defect.monitor_u >= self.settings.monitoring_coverage:
            delay = self.customer_report_delay()  # monitoring missed it: a customer tells us
        yield env.timeout(delay)
        incident.detected = env.now
        if defect.severity <= self.settings.ticket_max_severity:
            yield from self.ticket(incident)
            return
        restored = env.event()
        responder = self.team.on_call()
        incident.responder = responder.index
        responder.respond(lambda dev: self.respond(dev, incident, restored))
        yield restored
        incident.restored = env.now
        if self.postmortems.enabled:
            self.postmortem(incident, responder)

    def respond(self, dev: "Developer", incident: Incident, restored) -> Generator:
        """The on-call developer's work on an incident (runs in their process, any hour)."""
        settings = self.settings
        delivery = self.delivery
        repairs = self.repairs
        defect = incident.defect
        diagnosis = self.diagnosis_time()
        if self.postmortems.game_day_diagnosis_factor != 1.0:
            diagnosis *= self.postmortems.game_day_diagnosis_factor
        yield from dev.work_around_the_clock(diagnosis, "incident", incident.incident_id)
        change = defect.change
        feature = change.feature if change is not None else None
        if not self.is_live(defect):
            # Gone with an earlier rollback or flag-off; it still has to be fixed.
            incident.restored_by = "already_gone"
            restored.succeed()
            repairs.handle_known_defect(defect)
        elif change is not None and change.flagged and feature is not None and feature.flag_on and feature.flag_removed < 0:
            yield from dev.work_around_the_clock(settings.flag_off_time, "incident", incident.incident_id)
            delivery.set_flag(feature, False)
            incident.restored_by = "flag_off"
            restored.succeed()
            repairs.repair(defect)
        elif settings.rollback_enabled and self.rollback_cures(defect) and delivery.can_roll_back(incident):
            yield from dev.work_around_the_clock(
                delivery.switch_back_time if delivery.blue_green else settings.rollback_time, "incident", incident.incident_id
            )
            if delivery.can_roll_back(incident):
                delivery.roll_back(delivery.latest())
            incident.restored_by = "rollback"
            restored.succeed()
            repairs.handle_known_defect(defect)
        else:
            hours = self.hotfix_time()
            yield from dev.work_around_the_clock(hours, "incident", incident.incident_id)
            fix = repairs.fix_change(defect, author=dev.index, kind="hotfix", effort_hours=hours)
            incident.restored_by = "fix_forward"
            self.env.process(self.ship_hotfix(fix, restored))

    def postmortem(self, incident: Incident, responder: "Developer") -> None:
        """The responder writes a postmortem; its action teaches the suite this class of defect, after a lag."""
        settings = self.postmortems

        def write(dev: "Developer") -> Generator:
            yield from dev.work(settings.postmortem_time, "postmortem", incident.incident_id)
            lag = self.env.timeout(settings.action_lag)
            lag.callbacks.append(lambda _event: self.flow.ci.learn(incident.defect.severity, settings.detection_gain))

        responder.assign(1, write)

    def misconfigure(self) -> None:
        """A live flag exposes wrong behaviour: a failure no deployment caused, restored by switching the flag back."""
        severity = int(self.misconfiguration_rng.choice(3, p=self.severity_shares)) + 1
        defect = Defect(
            defect_id=-1, feature_id=-1, position=0.0, severity=severity, review_u=1.0, ci_u=1.0, canary_u=1.0,
            strategy_u=1.0, time_to_failure_hours=0.0,
        )
        self.env.process(self.misconfiguration(defect))

    def misconfiguration(self, defect: Defect) -> Generator:
        """One misconfiguration failure, from failure to the flag switched back."""
        env = self.env
        incident = Incident(
            incident_id=len(self.incidents) + 1, defect=defect, deployment_id=-1, started=env.now, source="misconfiguration",
        )
        self.incidents.append(incident)
        defect.incident = incident
        defect.found_by = "production"
        defect.found_at = env.now
        yield env.timeout(self.detection_delay())
        incident.detected = env.now
        restored = env.event()
        responder = self.team.on_call()
        incident.responder = responder.index

        def respond(dev: "Developer") -> Generator:
            yield from dev.work_around_the_clock(
                self.diagnosis_time() * self.postmortems.game_day_diagnosis_factor, "incident", incident.incident_id
            )
            yield from dev.work_around_the_clock(self.settings.flag_off_time, "incident", incident.incident_id)
            incident.restored_by = "flag_off"
            restored.succeed()

        responder.respond(respond)
        yield restored
        incident.restored = env.now

    def rollback_cures(self, defect: Defect) -> bool:
        """False for the share of failures rolling back does not cure (data migrations, corrupted state)."""
        return defect.rollback_u >= self.settings.irreversible_failure_share

    def ticket(self, incident: Incident) -> Generator:
        """A low-severity failure: nobody is paged; its author fixes it through the normal flow.

        Service is restored when the defect stops hurting users: its fix is deployed (or a
        rollback or flag-off for another reason takes it out first).
        """
        defect = incident.defect
        incident.restored_by = "ticket"
        if self.is_live(defect):
            gone = self._gone[defect.defect_id] = self.env.event()
            self.repairs.repair(defect)
            yield gone
        else:
            self.repairs.handle_known_defect(defect)
        incident.restored = self.env.now

    def ship_hotfix(self, fix, restored) -> Generator:
        """Send a hotfix down the hotfix path (merged onto the production branch, deployed at once); service is back when it is live."""
        yield from self.flow.expedite(fix, self.hotfix_branch)
        yield from self.delivery.deploy("hotfix")
        restored.succeed()

    def record_canary(self, defect: Defect, deployment: Deployment, started: float, rolled_back: float, exposed_share: float) -> None:
        """A failure caught by the canary: the users it reached (``exposed_share``) were hurt until the rollback."""
        incident = Incident(
            incident_id=len(self.incidents) + 1, defect=defect, deployment_id=deployment.deployment_id,
            started=started, detected=started, restored=rolled_back, restored_by="canary_rollback", source="canary",
            exposed_share=exposed_share,
        )
        self.incidents.append(incident)
        defect.incident = incident

"""An organisation: several repositories (or one monorepo) simulated together.

:func:`trunksim.scenario.organisation.unit_plans` turns an organisation scenario into
one-team scenarios, one per repository. Each becomes a :class:`DeliveryModel` in **one
shared SimPy environment**, with random streams of its own (named after the
repository), so the repositories run side by side in the same simulated time:

* **polyrepo** — one model per service: its trunk, CI pool, pipeline and on-call are
  its own. A feature that changes the API of a service with dependents may break their
  contract (:class:`~trunksim.engine.backlog.ApiChanges`, mode ``contract``): the
  provider's CI catches it only with contract tests; otherwise it fails in production as
  soon as it is live, as a ``downstream`` incident answered by the provider's on-call
  (rollback, or a fix forward). With ``expand_contract`` API changes cost more and
  never break.
* **monorepo** — one model for everyone: one trunk, one CI pool, one pipeline and one
  on-call rotation; developers review their own team's changes; an incompatible API
  change updates its callers in the same change (mode ``atomic``) and costs effort,
  not an incident.

The repositories' tables are put together into one run
(:func:`trunksim.tables.combine_runs`); ``Run.units`` keeps each repository's own run.
"""

from __future__ import annotations

import time

import simpy

from trunksim.engine.backlog import ApiChanges
from trunksim.engine.model import DeliveryModel, run_bounded
from trunksim.scenario.organisation import Organisation, unit_plans
from trunksim.scenario.schema import Scenario
from trunksim.tables import Run, combine_runs


class OrganisationModel:
    """One replication of an organisation scenario: build it, then call :meth:`run`.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario with ``organisation`` set.
    seed : int
        Root seed of the random streams.
    replication : int
        Replication index, 0-based.
    """

    def __init__(self, scenario: Scenario, seed: int, replication: int = 0) -> None:
        org: Organisation = scenario.organisation
        self.scenario = scenario
        self.seed = seed
        self.replication = replication
        self.env = simpy.Environment()
        self.plans = unit_plans(scenario)
        self.models: dict[str, DeliveryModel] = {}
        contract = org.contract_tests.detection_probability if org.contract_tests.enabled else 0.0
        for plan in self.plans:
            if org.layout == "polyrepo":
                model = DeliveryModel(plan.scenario, seed, replication, env=self.env, unit=plan.name)
                if plan.dependents:
                    model.backlog.api = ApiChanges(
                        mode="expand" if org.expand_contract else "contract", change_share=org.api_change_share,
                        breaking_share=org.breaking_share, dependents=(len(plan.dependents),),
                        effort_factor=org.expand_contract_effort_factor,
                    )
                model.ci.contract_detection = contract
            else:
                model = DeliveryModel(plan.scenario, seed, replication, env=self.env)
                self._monorepo(model, org, plan.team_of_developer)
            self.models[plan.name] = model

    @staticmethod
    def _monorepo(model: DeliveryModel, org: Organisation, team_of_developer: tuple[str, ...]) -> None:
        """Teams review their own changes; API changes update their callers in the same change."""
        teams = [team.name for team in org.teams]
        index = {name: i for i, name in enumerate(teams)}
        model.team.split_into_teams(tuple(index[name] for name in team_of_developer))
        services = [service.name for service in org.services]
        if len(services) == 1:
            return  # one service: nothing to place changes in, and no API between services
        dependents = tuple(len(org.dependents(name)) for name in services)
        owned = {team.name: tuple(services.index(s) for s in team.services) for team in org.teams}
        model.backlog.api = ApiChanges(
            mode="atomic", change_share=org.api_change_share, breaking_share=org.breaking_share,
            dependents=dependents, update_hours=org.consumer_update_hours,
            service_of_developer=tuple(owned[name] for name in team_of_developer),
        )
        model.branches.neighbours = tuple(
            tuple(sorted({k} | {services.index(d) for d in org.services[k].depends_on}
                         | {services.index(d) for d in org.dependents(name)}))
            for k, name in enumerate(services)
        )

    def run(self) -> Run:
        """Simulate ``simulation.duration`` hours; the organisation's run, each repository's in ``units``.

        Raises
        ------
        SimulationLimitError
            Past ``simulation.max_events`` (counted over the whole organisation) or
            ``simulation.max_wall_seconds``.
        """
        started = time.perf_counter()
        run_bounded(self.env, self.scenario, self.seed, self.replication)
        seconds = time.perf_counter() - started
        runs = {name: model.result(seconds) for name, model in self.models.items()}
        teams = tuple(name for plan in self.plans for name in plan.team_of_developer)
        if self.scenario.organisation.layout == "monorepo":
            (only,) = runs.values()
            only.scenario = self.scenario
            only.developer_teams = teams
            return only
        return combine_runs(runs, self.scenario, teams)

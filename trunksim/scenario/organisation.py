"""An organisation: several teams and services, one repository or one per service.

A scenario without ``organisation`` is one team working in one repository with one
pipeline, exactly as before. With it, the scenario's sections describe what every team
and service shares (the work, review habits, CI, the pipeline, incidents), and
``organisation`` says who owns what and how the code is laid out:

* ``layout: polyrepo`` — every service is a repository of its own, with its own trunk
  (or main, develop...), CI runner pool (``ci.runners`` each), pipeline and on-call
  rotation, worked on by its share of the owning team's developers. A team's or a
  service's ``set`` overrides any shared setting for its repositories (review habits,
  strategy options, canary, ...).
* ``layout: monorepo`` — one repository for everyone: one trunk, one CI pool holding
  every service's runners (``ci.runners`` × services), one coordinated pipeline that
  deploys all services together, one on-call rotation; developers review changes of
  their own team only.

Services depend on each other (``depends_on``: the APIs a service calls). A share of a
providing service's features change the API its dependents call
(``api_change_share``), and a share of those are incompatible as first written
(``breaking_share``). What happens to such a change follows from the layout:

* in a polyrepo it is a **contract break**, a latent fault no review or own test finds:
  the provider's consumer-driven contract tests catch it in CI with
  ``contract_tests.detection_probability`` (when enabled); otherwise it reaches
  production and fails at once in the services that call it (an incident with
  ``downstream`` set), restored like any failure (rollback, or a fix forward by the
  provider). With ``expand_contract`` the author makes every API change backwards
  compatible instead (expand, migrate, contract), at ``expand_contract_effort_factor``
  times the effort, and nothing breaks;
* in a monorepo the build compiles and tests every caller with the change, so its
  author updates the callers in the same change: ``consumer_update_hours`` of extra
  work per dependent service, and nothing breaks downstream.

The numbers of a one-team scenario never depend on this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from trunksim.scenario.problems import FieldsError
from trunksim.units import WorkingHours

Probability = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]

NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
"""Team and service names: letters, digits, ``_ . -``, at most 64 characters."""

REFUSED_IN_SET = ("organisation", "simulation", "sweep", "name", "description", "lesson", "schema_version", "team.developers")
"""Paths a team's or a service's ``set`` may not touch: they belong to the whole organisation."""


def _refused(path: str) -> bool:
    """True if a ``set`` path is, is inside, or holds one of :data:`REFUSED_IN_SET`.

    ``team`` as a whole is allowed (its ``developers`` is set again from the team's size).
    """
    for refused in REFUSED_IN_SET:
        if path == refused or path.startswith(refused + "."):
            return True
        if refused.startswith(path + ".") and not (path == "team" and refused == "team.developers"):
            return True
    return False


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False)


class OrgTeam(_Section):
    """A team: its size, the services it owns, and its own settings."""

    name: str = Field(pattern=NAME, description="team name, used in tables and plots")
    developers: Annotated[int, Field(ge=1, le=100_000)] = Field(description="developers in the team, people")
    services: tuple[Annotated[str, Field(pattern=NAME)], ...] = Field(
        min_length=1, description="the services the team owns (each owned by exactly one team)"
    )
    set: dict[str, Any] = Field(
        default_factory=dict,
        description="dotted field path -> value for this team's repositories (polyrepo only), as with --set",
    )


class OrgService(_Section):
    """A service: what it calls, and its own pipeline settings."""

    name: str = Field(pattern=NAME, description="service name, used in tables and plots")
    depends_on: tuple[Annotated[str, Field(pattern=NAME)], ...] = Field(
        (), description="services whose API this one calls"
    )
    set: dict[str, Any] = Field(
        default_factory=dict,
        description="dotted field path -> value for this service's repository (polyrepo only), as with --set",
    )


class ContractTests(_Section):
    """Consumer-driven contract tests: the consumers' expectations run in the provider's CI."""

    enabled: bool = Field(False, description="providers run their consumers' contract tests in CI (polyrepo)")
    detection_probability: Probability = Field(
        0.9, description="chance the contract tests catch a given incompatible API change, probability"
    )


class Organisation(_Section):
    """Several teams and services; see :mod:`trunksim.scenario.organisation`."""

    layout: Literal["monorepo", "polyrepo"] = Field(
        description="monorepo: one repository, trunk, CI pool and pipeline for all; polyrepo: one per service"
    )
    teams: tuple[OrgTeam, ...] = Field(min_length=1, description="the teams")
    services: tuple[OrgService, ...] = Field(min_length=1, description="the services")
    api_change_share: Probability = Field(
        0.2, description="share of a service's features that change the API its dependents call, probability"
    )
    breaking_share: Probability = Field(
        0.25, description="share of API changes that are incompatible as first written, probability"
    )
    contract_tests: ContractTests = Field(default_factory=ContractTests)
    expand_contract: bool = Field(
        False, description="polyrepo: every API change is made backwards compatible (expand, migrate, contract)"
    )
    expand_contract_effort_factor: Annotated[float, Field(ge=1.0, le=10.0)] = Field(
        1.5, description="effort of an API-changing feature made backwards compatible, times its plain effort"
    )
    consumer_update_hours: WorkingHours = Field(
        2.0, description="monorepo: extra work to update the callers in one dependent service, working hours"
    )

    @model_validator(mode="after")
    def _a_consistent_organisation(self) -> "Organisation":
        teams = [team.name for team in self.teams]
        services = [service.name for service in self.services]
        for kind, names, field in (("team", teams, "teams"), ("service", services, "services")):
            repeated = sorted({name for name in names if names.count(name) > 1})
            if repeated:
                raise FieldsError(f"{kind} names must be unique; repeated: {', '.join(repeated)}", field)
        known = set(services)
        owners: dict[str, str] = {}
        for i, team in enumerate(self.teams):
            for service in team.services:
                if service not in known:
                    raise FieldsError(
                        f"team {team.name!r} owns {service!r}, which is not a service (known: {', '.join(services)})",
                        ("teams", i, "services"),
                    )
                if service in owners:
                    raise FieldsError(
                        f"service {service!r} is owned by both {owners[service]!r} and {team.name!r} (each service has one owner)",
                        ("teams", i, "services"),
                    )
                owners[service] = team.name
            if self.layout == "polyrepo" and team.developers < len(team.services):
                raise FieldsError(
                    f"team {team.name!r} has {team.developers} developers for {len(team.services)} repositories "
                    "(polyrepo: at least one developer per service it owns)",
                    ("teams", i, "developers"),
                )
        unowned = [name for name in services if name not in owners]
        if unowned:
            raise FieldsError(f"services without an owning team: {', '.join(unowned)}", "teams")
        for i, service in enumerate(self.services):
            for dependency in service.depends_on:
                if dependency not in known:
                    raise FieldsError(
                        f"service {service.name!r} depends on {dependency!r}, which is not a service", ("services", i, "depends_on")
                    )
                if dependency == service.name:
                    raise FieldsError(f"service {service.name!r} depends on itself", ("services", i, "depends_on"))
        for kind, items in (("teams", self.teams), ("services", self.services)):
            for i, item in enumerate(items):
                if item.set and self.layout == "monorepo":
                    raise FieldsError(
                        "per-team and per-service settings need layout: polyrepo (a monorepo shares one trunk, CI and pipeline)",
                        (kind, i, "set"),
                    )
                for path in item.set:
                    if _refused(path):
                        raise FieldsError(
                            f"{path} belongs to the whole organisation and cannot be set per team or service", (kind, i, "set", path)
                        )
        return self

    # -- derived ---------------------------------------------------------------------
    @property
    def developers(self) -> int:
        """Developers in the organisation, people."""
        return sum(team.developers for team in self.teams)

    def owner(self, service: str) -> OrgTeam:
        """The team that owns ``service``."""
        return next(team for team in self.teams if service in team.services)

    def dependents(self, service: str) -> tuple[str, ...]:
        """Services that call ``service``'s API, in declaration order."""
        return tuple(s.name for s in self.services if service in s.depends_on)


@dataclass(frozen=True)
class UnitPlan:
    """One repository of a polyrepo (a service), or the whole monorepo.

    ``scenario`` is a one-team scenario for that repository (no ``organisation``);
    ``team_of_developer`` names the team of each of its developers, in index order.
    """

    name: str
    services: tuple[str, ...]
    dependents: tuple[str, ...]
    scenario: Any
    team_of_developer: tuple[str, ...]


def _split(developers: int, parts: int) -> list[int]:
    """``developers`` split into ``parts`` nearly equal whole numbers, larger first."""
    base, extra = divmod(developers, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def unit_plans(scenario: Any) -> list[UnitPlan]:
    """The repositories of an organisation scenario, each as a one-team scenario.

    Polyrepo: one per service, in ``services`` order; the owning team's developers are
    split over its services (nearly equal, the first services taking the remainder);
    the team's ``set`` and then the service's ``set`` are applied. Monorepo: one unit,
    ``monorepo``, with every developer (teams in order) and ``ci.runners`` × services.
    """
    org: Organisation = scenario.organisation
    base = scenario.model_copy(update={"organisation": None, "sweep": None})
    if org.layout == "monorepo":
        team_of = tuple(team.name for team in org.teams for _ in range(team.developers))
        unit = base.with_overrides({"team.developers": org.developers, "ci.runners": scenario.ci.runners * len(org.services)})
        names = tuple(service.name for service in org.services)
        return [UnitPlan("monorepo", names, (), unit, team_of)]
    sizes: dict[str, int] = {}
    for team in org.teams:
        for service, size in zip(team.services, _split(team.developers, len(team.services))):
            sizes[service] = size
    plans = []
    for service in org.services:
        team = org.owner(service.name)
        overrides = dict(team.set)
        overrides.update(service.set)
        # Applied last, so no set (``team: {...}`` as a whole, say) can change a repository's headcount or name.
        overrides["team.developers"] = sizes[service.name]
        overrides["name"] = f"{scenario.name}/{service.name}"[:200]
        unit = base.with_overrides(overrides)
        plans.append(UnitPlan(service.name, (service.name,), org.dependents(service.name), unit, (team.name,) * sizes[service.name]))
    return plans


def stream_unit(name: str) -> str:
    """The random-stream namespace of a unit: its name (a one-team scenario has none)."""
    return re.sub(r"\s+", "_", name)

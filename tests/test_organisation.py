"""Organisations (issue 15): several teams and services, one repository or one per service.

A one-team scenario keeps its numbers; the layouts differ by what the model does, not by
a switch that sets numbers; contract tests and expand/contract act on the cross-service
breaks they exist for (paired, common random numbers).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import trunksim
from trunksim.engine.model import DeliveryModel
from trunksim.engine.organisation import OrganisationModel
from trunksim.experiment import run, run_organisation, simulate
from trunksim.metrics.organisation import organisation_metrics, team_run
from trunksim.scenario import load_scenario
from trunksim.scenario.loading import ScenarioError
from trunksim.tables import TABLES

from conftest import SCENARIOS, small

SHORT = {"duration": "4w", "warm_up": "1w"}


def organisation(layout: str, **extra) -> dict:
    """Three teams, four services: web calls api, api calls db and auth."""
    org = {
        "layout": layout,
        "teams": [
            {"name": "shop", "developers": 4, "services": ["web"]},
            {"name": "core", "developers": 4, "services": ["api", "db"]},
            {"name": "identity", "developers": 2, "services": ["auth"]},
        ],
        "services": [
            {"name": "web", "depends_on": ["api"]},
            {"name": "api", "depends_on": ["db", "auth"]},
            {"name": "db"},
            {"name": "auth"},
        ],
        "api_change_share": 0.5,
        "breaking_share": 0.5,
    }
    org.update(extra)
    return org


def org_scenario(layout: str, name: str | None = None, sections: dict | None = None, **extra):
    return small("trunk-based", name=name or layout, simulation=SHORT, organisation=organisation(layout, **extra), **(sections or {}))


# -- a one-team scenario keeps its numbers ------------------------------------------------


def test_a_monorepo_of_one_team_and_one_service_is_the_plain_scenario_event_for_event():
    plain = small("github-flow", simulation=SHORT)
    one = plain.with_overrides({"organisation": {
        "layout": "monorepo", "teams": [{"name": "all", "developers": 4, "services": ["app"]}], "services": [{"name": "app"}],
    }})
    a = DeliveryModel(plain, seed=3).run()
    b = OrganisationModel(one, seed=3).run()
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_dtype=False)
    assert b.developer_teams == ("all",) * 4


def test_the_shipped_one_team_scenarios_do_not_read_the_organisation_streams():
    """The ``api`` stream is new; a scenario without an organisation never draws from it."""
    model = DeliveryModel(load_scenario(SCENARIOS / "trunk-based.yaml"), seed=1)
    model.run()
    assert "api" not in model.streams._generators
    assert model.backlog.api is None


# -- the organisation's run ---------------------------------------------------------------


def test_polyrepo_runs_one_repository_per_service_and_puts_their_tables_together():
    scenario = org_scenario("polyrepo")
    result = simulate(scenario, seed=2)
    assert list(result.units) == ["web", "api", "db", "auth"]
    assert [u.developers for u in result.units.values()] == [4, 2, 2, 2]  # core's four split over api and db
    assert result.developers == 10 and len(result.developer_teams) == 10
    assert len(result.changes) == sum(len(u.changes) for u in result.units.values())
    assert result.changes["change_id"].is_unique and result.deployments["deployment_id"].is_unique
    # Every delivered change is listed by the deployment it is credited to.
    listed = {int(i): d for d, ids in zip(result.deployments["deployment_id"], result.deployments["change_ids"]) for i in str(ids).split()}
    delivered = result.changes[result.changes["state"] == "deployed"]
    assert all(listed[c] == d for c, d in zip(delivered["change_id"], delivered["deployment_id"]))
    assert set(result.changes["target"].str.split("/").str[0]) == {"web", "api", "db", "auth"}
    # Only services with callers carry contract breaks: db and auth have callers, web has none.
    web = result.units["web"]
    assert (web.incidents["source"] != "downstream").all()


def test_the_same_seed_gives_the_same_organisation_and_the_repositories_have_their_own_streams():
    scenario = org_scenario("polyrepo")
    a, b = simulate(scenario, seed=5), simulate(scenario, seed=5)
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    efforts = [tuple(u.features["effort_hours"].round(6)[:5]) for u in a.units.values()]
    assert len(set(efforts)) == len(efforts)  # no two repositories draw the same features


def test_a_monorepo_shares_one_trunk_and_people_review_only_their_own_team():
    scenario = org_scenario("monorepo")
    result = simulate(scenario, seed=2)
    assert result.units == {}
    assert set(result.changes["target"]) <= {"trunk"}
    teams = result.developer_teams
    authors = result.changes.set_index("change_id")["author"]
    reviews = result.activity[result.activity["activity"] == "reviewing"]
    assert len(reviews) > 0
    for reviewer, change in zip(reviews["developer"], reviews["detail"]):
        assert teams[reviewer] == teams[int(authors[change])]


def test_team_runs_partition_a_monorepo():
    result = simulate(org_scenario("monorepo"), seed=4)
    parts = [team_run(result, team) for team in ("shop", "core", "identity")]
    assert sum(len(p.changes) for p in parts) == len(result.changes)
    assert sum(len(p.features) for p in parts) == len(result.features)
    assert sum(p.developers for p in parts) == result.developers
    with pytest.raises(ValueError, match="no developer of team 'nobody'"):
        team_run(result, "nobody")


def test_metrics_come_by_organisation_team_and_service():
    poly = organisation_metrics(simulate(org_scenario("polyrepo"), seed=1))
    assert set(poly["level"]) == {"organisation", "team", "service"}
    assert set(poly.loc[poly["level"] == "team", "unit"]) == {"shop", "core", "identity"}
    assert set(poly.loc[poly["level"] == "service", "unit"]) == {"web", "api", "db", "auth"}
    assert poly["metric"].isin(trunksim.METRIC_COLUMNS).all()
    mono = organisation_metrics(simulate(org_scenario("monorepo"), seed=1))
    assert set(mono["level"]) == {"organisation", "team"}
    # The organisation's deployments are the services' deployments, together (polyrepo).
    value = poly.set_index(["level", "unit", "metric"])["value"]
    services = sum(value[("service", s, "deploys_per_day")] for s in ("web", "api", "db", "auth"))
    assert value[("organisation", "polyrepo", "deploys_per_day")] == pytest.approx(services)


def test_run_organisation_gives_the_totals_and_the_units_the_same_serial_or_parallel():
    scenarios = [org_scenario("polyrepo"), small("trunk-based", simulation=SHORT)]
    frame, units = run_organisation(scenarios, replications=2, seed=1)
    frame2, units2 = run_organisation(scenarios, replications=2, seed=1, jobs=2)
    pd.testing.assert_frame_equal(frame, frame2)
    pd.testing.assert_frame_equal(units, units2)
    assert set(units["scenario"]) == {"polyrepo"}  # the one-team scenario has no unit rows
    pd.testing.assert_frame_equal(frame, run(scenarios, replications=2, seed=1))


# -- cross-service changes: contract breaks, contract tests, expand/contract ----------------


def paired(frame: pd.DataFrame, a: str, b: str, metric: str) -> np.ndarray:
    return frame.loc[frame["scenario"] == b, metric].to_numpy() - frame.loc[frame["scenario"] == a, metric].to_numpy()


def test_contract_breaks_fail_downstream_and_contract_tests_catch_them():
    plain = org_scenario("polyrepo", "no contract tests")
    tested = org_scenario("polyrepo", "contract tests", contract_tests={"enabled": True, "detection_probability": 0.9})
    frame = run([plain, tested], replications=4, seed=11)
    off = frame.loc[frame["scenario"] == "no contract tests", "downstream_incidents_per_week"]
    assert (off > 0).all()
    difference = paired(frame, "no contract tests", "contract tests", "downstream_incidents_per_week")
    assert (difference < 0).all()


def test_a_contract_break_is_found_by_no_review_and_fails_as_soon_as_it_is_live():
    result = simulate(org_scenario("polyrepo"), seed=11)
    downstream = result.incidents[result.incidents["source"] == "downstream"]
    assert len(downstream) > 0
    deployments = result.deployments.set_index("deployment_id")
    flagged = result.changes.set_index("change_id")["flagged"]
    checked = 0
    for row in downstream.itertuples():
        if row.deployment_id > 0 and not deployments.loc[row.deployment_id, "canary_failed"]:
            rolled_out = deployments.loc[row.deployment_id, "finished_hours"]
            assert row.started_hours >= rolled_out - 1e-9
            if not flagged[row.change_id]:  # live at rollout (a flagged change: when its flag goes on)
                assert row.started_hours == pytest.approx(rolled_out)
                checked += 1
    assert checked > 0


def test_expand_contract_breaks_nothing_and_costs_effort():
    plain = org_scenario("polyrepo", "plain")
    careful = org_scenario("polyrepo", "expand/contract", expand_contract=True, expand_contract_effort_factor=2.0)
    a, b = simulate(plain, seed=11), simulate(careful, seed=11)
    assert (b.incidents["source"] != "downstream").all()
    assert (a.incidents["source"] == "downstream").any()
    # The same first features (common random numbers), the API-changing ones twice the effort.
    api = b.units["api"].features.set_index("feature_id")["effort_hours"]
    base = a.units["api"].features.set_index("feature_id")["effort_hours"]
    first = api.index[:10]
    ratios = (api[first] / base[first]).round(6)
    assert set(ratios) <= {1.0, 2.0} and 2.0 in set(ratios)


def test_a_monorepo_updates_callers_in_the_same_change_and_breaks_nothing_downstream():
    result = simulate(org_scenario("monorepo", consumer_update_hours="3h"), seed=11)
    assert (result.incidents["source"] != "downstream").all()
    none = simulate(org_scenario("monorepo", api_change_share=0.0), seed=11)
    efforts = result.features.set_index("feature_id")["effort_hours"]
    plain = none.features.set_index("feature_id")["effort_hours"]
    first = efforts.index[:20]
    extra = (efforts[first] - plain[first]).round(6)
    # A breaking change in api (1 caller), db or auth (api calls each) costs 3 h per caller.
    assert set(extra) <= {0.0, 3.0} and 3.0 in set(extra)


def test_a_merge_queue_keeps_a_busy_monorepo_trunk_green():
    busy = {"team": {"developers": 4}, "merging": {"semantic_breakage_probability": 0.08}}
    mono = org_scenario("monorepo", "monorepo", sections=busy)
    queued = org_scenario("monorepo", "monorepo + queue", sections={**busy, "merge_queue": {"enabled": True}})
    frame = run([mono, queued], replications=3, seed=2)
    assert (paired(frame, "monorepo", "monorepo + queue", "red_branch_share") < 0).all()
    assert (frame.loc[frame["scenario"] == "monorepo + queue", "merge_queue_wait_mean_hours"] > 0).all()


# -- the shipped organisation scenarios ---------------------------------------------------


@pytest.mark.parametrize("name", ["monorepo", "polyrepo"])
def test_the_shipped_organisation_scenarios_describe_the_same_organisation(name):
    scenario = load_scenario(SCENARIOS / "org" / f"{name}.yaml")
    other = load_scenario(SCENARIOS / "org" / (("polyrepo" if name == "monorepo" else "monorepo") + ".yaml"))
    assert scenario.lesson and scenario.organisation.layout == name
    assert scenario.organisation.model_dump(exclude={"layout"}) == other.organisation.model_dump(exclude={"layout"})
    assert scenario.model_dump(exclude={"organisation", "name", "description", "lesson"}) == other.model_dump(
        exclude={"organisation", "name", "description", "lesson"}
    )


# -- bad input names the file, the line and the field -------------------------------------


@pytest.mark.parametrize(
    "organisation, message",
    [
        ("teams: [{name: a, developers: 2, services: [x]}]\n  services: [{name: y}]", "owns 'x', which is not a service"),
        ("teams: [{name: a, developers: 2, services: [x]}, {name: b, developers: 2, services: [x]}]\n  services: [{name: x}]",
         "owned by both"),
        ("teams: [{name: a, developers: 2, services: [x]}]\n  services: [{name: x, depends_on: [z]}]", "depends on 'z'"),
        ("teams: [{name: a, developers: 2, services: [x]}]\n  services: [{name: x}, {name: y}]", "without an owning team: y"),
        ("teams: [{name: a, developers: 1, services: [x, y]}]\n  services: [{name: x}, {name: y}]", "at least one developer per service"),
    ],
)
def test_an_inconsistent_organisation_is_refused_where_it_is_written(tmp_path: Path, organisation, message):
    path = tmp_path / "org.yaml"
    path.write_text("strategy: {name: trunk-based}\norganisation:\n  layout: polyrepo\n  " + organisation + "\n")
    with pytest.raises(ScenarioError) as error:
        load_scenario(path)
    text = str(error.value)
    assert message in text and str(path) in text
    assert ":?:" not in text  # a line number, not "?"


def test_per_team_settings_need_a_polyrepo_and_may_not_set_organisation_wide_fields(tmp_path: Path):
    path = tmp_path / "org.yaml"
    path.write_text(textwrap.dedent("""\
        strategy: {name: trunk-based}
        organisation:
          layout: monorepo
          teams: [{name: a, developers: 2, services: [x], set: {review.detection_probability: 0.2}}]
          services: [{name: x}]
        """))
    with pytest.raises(ScenarioError, match="need layout: polyrepo"):
        load_scenario(path)
    path.write_text(path.read_text().replace("monorepo", "polyrepo").replace("review.detection_probability", "simulation.duration"))
    with pytest.raises(ScenarioError, match="belongs to the whole organisation"):
        load_scenario(path)
    path.write_text(path.read_text().replace("simulation.duration: 0.2", "review.detection_probability: 7"))
    with pytest.raises(ScenarioError, match="review.detection_probability"):
        load_scenario(path)


def test_per_team_settings_reach_that_teams_repositories_only():
    scenario = org_scenario("polyrepo")
    org = scenario.organisation.model_dump()
    org["teams"][0]["set"] = {"review.detection_probability": 0.05}
    scenario = scenario.with_overrides({"organisation": org})
    model = OrganisationModel(scenario, seed=1)
    assert model.models["web"].scenario.review.detection_probability == 0.05
    assert model.models["api"].scenario.review.detection_probability == scenario.review.detection_probability


# -- review findings, kept fixed ----------------------------------------------------------


def test_a_teams_set_cannot_change_its_headcount():
    scenario = org_scenario("polyrepo")
    org = scenario.organisation.model_dump()
    org["teams"][0]["set"] = {"team": {"developers": 12, "focus_block": 1.0}}
    plans = OrganisationModel(scenario.with_overrides({"organisation": org}), seed=1).plans
    web = next(plan for plan in plans if plan.name == "web")
    assert web.scenario.team.developers == 4 and web.scenario.team.focus_block == 1.0


def test_the_size_check_counts_every_repository_of_an_organisation():
    from trunksim.scenario.size import check_size

    scenario = org_scenario("polyrepo")
    org = scenario.organisation.model_dump()
    org["teams"][0]["developers"] = 50_000
    with pytest.raises(ScenarioError, match="organisation.teams: one replication would need about"):
        check_size(scenario.with_overrides({"organisation": org}))
    assert check_size(scenario).events > 0


def test_combined_tables_keep_their_types_and_renumber_what_activity_points_at():
    from trunksim.tables import DTYPES

    result = simulate(org_scenario("polyrepo", sections={"work": {"defects_per_100_lines": 0.0}}, api_change_share=0.0), seed=1)
    assert len(result.incidents) == 0  # empty in every repository: the float columns must stay floats
    for name in ("changes", "deployments", "incidents", "ci_runs", "activity", "merges", "freezes"):
        frame = getattr(result, name)
        for column, kind in DTYPES[name].items():
            if kind in "ifb" and len(frame):
                assert frame[column].dtype.kind == kind, (name, column)
    result = simulate(org_scenario("polyrepo"), seed=1)
    coding = result.activity[result.activity["activity"] == "coding"]
    authors = result.changes.set_index("change_id")["author"]
    assert (authors[coding["detail"]].to_numpy() == coding["developer"].to_numpy()).all()


def test_repository_settings_are_combined_explicitly_at_organisation_and_team_level():
    scenario = org_scenario("polyrepo", sections={"error_budget": {"enabled": True}, "cost": {"enabled": True}})
    org = scenario.organisation.model_dump()
    org["services"][0]["set"] = {"deployment.canary.enabled": True}  # web only
    result = simulate(scenario.with_overrides({"organisation": org}), seed=1)
    values = organisation_metrics(result).set_index(["level", "unit", "metric"])["value"]
    services = ("web", "api", "db", "auth")
    assert values[("organisation", "polyrepo", "canary_failure_rate")] == values[("service", "web", "canary_failure_rate")]
    assert values[("team", "shop", "canary_failure_rate")] == values[("service", "web", "canary_failure_rate")]
    assert values[("organisation", "polyrepo", "environment_cost_per_week")] == pytest.approx(
        sum(values[("service", s, "environment_cost_per_week")] for s in services)
    )
    assert values[("organisation", "polyrepo", "error_budget_remaining")] == pytest.approx(
        np.mean([values[("service", s, "error_budget_remaining")] for s in services])
    )


def test_plain_runs_do_not_pay_for_per_team_metrics():
    from trunksim.experiment import UNITS_KEY, Measure, Point, replicate

    point = Point(org_scenario("polyrepo"))
    assert UNITS_KEY not in replicate((point, 1, 0, Measure()))
    assert UNITS_KEY in replicate((point, 1, 0, Measure(units=True)))


def test_explain_lists_the_teams_and_services_of_an_organisation():
    from typer.testing import CliRunner

    from trunksim.cli import app

    result = CliRunner().invoke(app, ["explain", str(SCENARIOS / "org" / "polyrepo.yaml")])
    assert result.exit_code == 0, result.output
    assert "organisation: polyrepo, 5 teams, 40 developers, 8 services" in result.output
    assert "team commerce: 8 developers, owns orders, payments" in result.output
    assert "service orders: calls payments, inventory, notifications, accounts" in result.output


# -- random organisations -----------------------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@st.composite
def organisations(draw):
    """A random organisation: 1-4 services, each owned by one of 1-3 teams, calling earlier services."""
    services = [f"s{k}" for k in range(draw(st.integers(1, 4)))]
    teams = [f"t{k}" for k in range(draw(st.integers(1, min(3, len(services)))))]
    owners = {service: teams[k] if k < len(teams) else draw(st.sampled_from(teams)) for k, service in enumerate(services)}
    layout = draw(st.sampled_from(["monorepo", "polyrepo"]))
    org = {
        "layout": layout,
        "teams": [
            {"name": team, "developers": draw(st.integers(max(1, sum(o == team for o in owners.values())), 4)),
             "services": [s for s in services if owners[s] == team]}
            for team in teams
        ],
        "services": [
            {"name": s, "depends_on": sorted(draw(st.sets(st.sampled_from(services[:k]), max_size=2))) if k else []}
            for k, s in enumerate(services)
        ],
        "api_change_share": draw(st.sampled_from([0.0, 0.5, 1.0])),
        "breaking_share": draw(st.sampled_from([0.0, 0.5, 1.0])),
        "contract_tests": {"enabled": draw(st.booleans()), "detection_probability": 0.5},
        "expand_contract": draw(st.booleans()),
    }
    strategy = draw(st.sampled_from(["trunk-based", "github-flow", "gitflow"]))
    merge_queue = draw(st.booleans())
    return small(strategy, simulation={"duration": "3w", "warm_up": "1w"}, organisation=org,
                 merge_queue={"enabled": merge_queue}, work={"defects_per_100_lines": 0.5})


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(organisations())
def test_any_organisation_runs_and_its_parts_add_up(scenario):
    org = scenario.organisation
    result = simulate(scenario, seed=3)
    assert result.developers == org.developers == len(result.developer_teams)
    assert result.changes["change_id"].is_unique and result.deployments["deployment_id"].is_unique
    downstream = result.incidents[result.incidents["source"] == "downstream"]
    if org.layout == "monorepo" or org.expand_contract or org.breaking_share == 0 or org.api_change_share == 0:
        assert len(downstream) == 0
    if org.layout == "polyrepo":
        assert len(result.changes) == sum(len(u.changes) for u in result.units.values())
        providers = {s.name for s in org.services if org.dependents(s.name)}
        for service, unit in result.units.items():
            if service not in providers:
                assert (unit.incidents["source"] != "downstream").all()
    else:
        parts = [team_run(result, team.name) for team in org.teams]
        assert sum(len(p.changes) for p in parts) == len(result.changes)
    values = organisation_metrics(result)
    assert set(values.loc[values["level"] == "team", "unit"]) == {team.name for team in org.teams}
    assert not np.isinf(values["value"]).any()


def test_a_team_of_a_run_without_deployments_keeps_the_deployment_columns():
    """Found by random organisations: filtering an empty deployments table with an empty list selected no columns."""
    scenario = small("gitflow", simulation={"duration": "3w", "warm_up": "1w"}, organisation={
        "layout": "monorepo", "teams": [{"name": "t0", "developers": 1, "services": ["s0"]}], "services": [{"name": "s0"}],
    })
    result = simulate(scenario, seed=3)
    assert len(result.deployments) == 0
    part = team_run(result, "t0")
    assert list(part.deployments.columns) == list(result.deployments.columns)
    values = organisation_metrics(result).set_index(["level", "unit", "metric"])["value"]
    assert values[("team", "t0", "deploys_per_day")] == 0

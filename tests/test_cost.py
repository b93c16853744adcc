"""Cost accounting (issue 14, item 7): each formula on hand-built tables, the shipped scenario, a paired runner pool.

The formulas are in the docstrings of :mod:`trunksim.metrics.cost` and in docs/metrics.md.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

import trunksim  # noqa: E402
from conftest import SCENARIOS, small  # noqa: E402
from trunksim.metrics import FLOW_COLUMNS, METRIC_COLUMNS, compute_metrics  # noqa: E402
from trunksim.metrics import cost  # noqa: E402
from trunksim.metrics.window import Window  # noqa: E402
from trunksim.plotting import MIN_FONT, cost_breakdown, save_standard_plots  # noqa: E402
from trunksim.plotting.cost import has_costs  # noqa: E402
from trunksim.tables import ACTIVITY_COLUMNS, CI_RUN_COLUMNS, DEPLOYMENT_COLUMNS, FEATURE_COLUMNS, INCIDENT_COLUMNS  # noqa: E402

WEEK = Window(168.0, 504.0)  # two weeks, after a one-week warm-up
PRICES = cost.Prices(developer_hour=100.0, ci_runner_hour=0.5, environment_hour=2.0, impact_user_hour=1000.0)


def table(columns, rows) -> pd.DataFrame:
    return pd.DataFrame([dict(zip(columns, row)) for row in rows], columns=list(columns))


def activity_table() -> pd.DataFrame:
    """Stretches ending in the window: coding 50 h, reviewing 10 h, waiting 20 h, postmortem 4 h; one coding stretch of 99 h ends before it."""
    return table(ACTIVITY_COLUMNS, [
        (0, "coding", 100.0, 160.0, 99.0, 1),     # ends in the warm-up: not counted
        (0, "coding", 160.0, 200.0, 30.0, 2),     # started before, ends in: counted whole
        (1, "coding", 300.0, 320.0, 20.0, 3),
        (1, "reviewing", 320.0, 330.0, 10.0, 3),
        (2, "waiting", 200.0, 300.0, 20.0, -1),
        (2, "postmortem", 400.0, 404.0, 4.0, 7),  # an activity the list does not name
        (3, "coding", 500.0, 510.0, 8.0, 4),      # ends after the window: not counted
    ])


def ci_table() -> pd.DataFrame:
    """Busy hours in the window: 2 + 3 (of 5, straddling the start) + 4 (of 6, straddling the end) + 4 (unfinished) = 13."""
    rows = [
        (1, 1, "trunk", "pre_merge", 0, 200.0, 200.0, 202.0, "pass", False),
        (2, 2, "trunk", "pre_merge", 0, 165.0, 166.0, 171.0, "fail", False),
        (3, -1, "trunk", "post_merge", 0, 500.0, 500.0, 506.0, "pass", False),
        (4, 3, "trunk", "merge_queue", 0, 300.0, 500.0, math.nan, "pass", True),   # still running at the end
        (5, 4, "trunk", "pre_merge", 0, 500.0, math.nan, math.nan, "pass", False),  # never got a runner
        (6, 5, "trunk", "pre_merge", 0, 10.0, 10.0, 20.0, "pass", False),           # in the warm-up
    ]
    return table(CI_RUN_COLUMNS, rows)


def incident_table() -> pd.DataFrame:
    """Exposure in the window: 3 h × 1 + 10 h × 0.05 = 3.5 user-hours, 1.75 per week."""
    return table(INCIDENT_COLUMNS, [
        (1, 1, 1, 2, "production", 200.0, 200.5, 203.0, "rollback", 0, 1.0),
        (2, 2, 2, 1, "canary", 300.0, 301.0, 310.0, "canary_rollback", -1, 0.05),
        (3, 3, 3, 1, "production", 50.0, 51.0, 60.0, "rollback", 0, 1.0),  # in the warm-up
    ])


def feature_table(completed: list[float]) -> pd.DataFrame:
    return table(FEATURE_COLUMNS, [(i, 0, 8.0, 100.0, 0, 1, 0.0, t) for i, t in enumerate(completed)])


def deployment_table(finished: list[float]) -> pd.DataFrame:
    return table(DEPLOYMENT_COLUMNS, [
        (i, "trunk", "regular", t - 0.5, t, 1, 1, True, False, False, math.nan, str(i)) for i, t in enumerate(finished)
    ])


# -- the formulas, on tables with known answers ---------------------------------------------


def test_developer_hours_by_activity_counts_stretches_ending_in_the_window_per_week():
    hours = cost.developer_hours_by_activity(activity_table(), WEEK)
    assert list(hours)[: len(cost.ACTIVITIES)] == list(cost.ACTIVITIES)
    assert hours["coding"] == pytest.approx(50.0 / 2)
    assert hours["reviewing"] == pytest.approx(10.0 / 2)
    assert hours["waiting"] == pytest.approx(20.0 / 2)
    assert hours["postmortem"] == pytest.approx(4.0 / 2)
    assert hours["incident"] == 0.0
    assert cost.developer_hours_per_week(activity_table(), WEEK) == pytest.approx(84.0 / 2)
    assert sum(hours.values()) == pytest.approx(cost.developer_hours_per_week(activity_table(), WEEK))


def test_ci_runner_hours_are_busy_hours_clipped_to_the_window_per_week():
    assert cost.ci_runner_hours_per_week(ci_table(), WEEK) == pytest.approx(13.0 / 2)
    assert cost.ci_runner_hours_per_week(table(CI_RUN_COLUMNS, []), WEEK) == 0.0


def test_each_part_is_hours_times_its_price():
    activity, ci, incidents = activity_table(), ci_table(), incident_table()
    assert cost.developer_cost_per_week(activity, WEEK, PRICES) == pytest.approx(42.0 * 100.0)
    assert cost.ci_cost_per_week(ci, WEEK, PRICES) == pytest.approx(6.5 * 0.5)
    assert cost.environment_cost_per_week(PRICES) == pytest.approx(168.0 * 2.0)
    assert cost.impact_cost_per_week(incidents, WEEK, PRICES) == pytest.approx(1.75 * 1000.0)
    assert cost.cost_per_week(activity, ci, incidents, WEEK, PRICES) == pytest.approx(4200.0 + 3.25 + 336.0 + 1750.0)


def test_blue_green_pays_for_a_second_environment():
    two = cost.Prices(100.0, 0.5, 2.0, 1000.0, environments=2)
    assert cost.environment_cost_per_week(two) == pytest.approx(2 * cost.environment_cost_per_week(PRICES))
    scenario = small("trunk-based", cost={"enabled": True, "environment_hour": 3}, progressive={"blue_green": True})
    assert cost.prices_of(scenario) == cost.Prices(100.0, 0.5, 3.0, 1000.0, environments=2)
    assert cost.prices_of(small("trunk-based", cost={"enabled": True})).environments == 1


def test_cost_per_feature_and_per_deployment_spread_the_window_cost():
    weekly = 1000.0  # two weeks: 2,000 in the window
    features = feature_table([100.0, 200.0, 300.0, 400.0, math.nan])  # three completed in the window (one in the warm-up, one never)
    assert cost.cost_per_feature(weekly, features, WEEK) == pytest.approx(2000.0 / 3)
    deployments = deployment_table([170.0, 250.0, 300.0, 350.0, 600.0])  # four ended in the window
    assert cost.cost_per_deployment(weekly, deployments, WEEK) == pytest.approx(2000.0 / 4)
    assert math.isnan(cost.cost_per_feature(weekly, feature_table([100.0]), WEEK))
    assert math.isnan(cost.cost_per_deployment(weekly, deployment_table([]), WEEK))


def test_without_prices_only_the_runner_hours_are_numbers():
    values = cost.cost_metrics(
        activity_table(), ci_table(), incident_table(), feature_table([200.0]), deployment_table([200.0]), WEEK, None,
    )
    assert list(values) == list(cost.COST_COLUMNS)
    assert values["ci_runner_hours_per_week"] == pytest.approx(6.5)
    assert all(math.isnan(v) for name, v in values.items() if name != "ci_runner_hours_per_week")
    assert cost.prices_of(small("trunk-based")) is None
    assert cost.prices_of(SimpleNamespace(name="made by hand")) is None


def test_cost_metrics_add_up():
    values = cost.cost_metrics(
        activity_table(), ci_table(), incident_table(), feature_table([200.0, 300.0]), deployment_table([200.0]), WEEK, PRICES,
    )
    parts = ("developer_cost_per_week", "ci_cost_per_week", "environment_cost_per_week", "impact_cost_per_week")
    assert values["cost_per_week"] == pytest.approx(sum(values[p] for p in parts))
    assert values["cost_per_feature"] == pytest.approx(values["cost_per_week"] * 2 / 2)
    assert values["cost_per_deployment"] == pytest.approx(values["cost_per_week"] * 2 / 1)


# -- registered columns and the shipped scenario ------------------------------------------------


def test_cost_columns_are_flow_columns_after_the_others():
    assert FLOW_COLUMNS[-len(cost.COST_COLUMNS):] == cost.COST_COLUMNS
    assert set(cost.COST_COLUMNS) <= set(METRIC_COLUMNS)


@pytest.fixture(scope="module")
def shipped():
    """One replication of the shipped cost scenario and of the scenario it extends."""
    priced = trunksim.load_scenario(SCENARIOS / "mechanisms" / "cost.yaml")
    plain = trunksim.load_scenario(SCENARIOS / "trunk-based.yaml")
    return compute_metrics(trunksim.simulate(priced, seed=1)), compute_metrics(trunksim.simulate(plain, seed=1))


def test_the_shipped_cost_scenario_reports_positive_costs_and_changes_nothing_else(shipped):
    priced, plain = shipped
    for name in cost.COST_COLUMNS:
        assert priced[name] > 0, name
    for name in METRIC_COLUMNS:
        if name in cost.COST_COLUMNS and name != "ci_runner_hours_per_week":
            assert math.isnan(plain[name]), name
        elif isinstance(plain[name], float) and math.isnan(plain[name]):
            assert math.isnan(priced[name]), name
        else:
            assert priced[name] == plain[name], name  # prices are read after the run; the run is the same
    # a team of eight pays for about 40 working hours each a week
    assert priced["developer_cost_per_week"] == pytest.approx(8 * 40 * 100, rel=0.05)
    assert priced["impact_cost_per_week"] == pytest.approx(priced["failure_exposure_user_hours_per_week"] * 1000)


# -- paired: the size of the runner pool -----------------------------------------------------------


def test_runner_hours_are_demand_so_a_bigger_pool_costs_the_same_and_waits_less():
    """Busy runner hours are set by the runs the team makes, not by how many runners wait for them."""
    ci = {"duration": {"dist": "lognormal", "median": "30m", "p90": "1h"}}
    pools = [small("trunk-based", name=f"{n} runners", team={"developers": 6}, ci={"runners": n, **ci}, cost={"enabled": True}) for n in (2, 8)]
    frame = trunksim.run(pools, replications=3, seed=5)

    def median(scenario, metric):
        return float(np.median(frame.loc[frame["scenario"] == scenario, metric]))

    for metric in ("ci_runner_hours_per_week", "ci_cost_per_week"):
        assert 0.8 < median("2 runners", metric) / median("8 runners", metric) < 1.25, metric
    assert median("2 runners", "ci_queue_wait_mean_hours") > 0.02
    assert median("8 runners", "ci_queue_wait_mean_hours") < 0.25 * median("2 runners", "ci_queue_wait_mean_hours")


# -- the cost plot -----------------------------------------------------------------------------------


def cost_frame() -> pd.DataFrame:
    rows = []
    for scenario, developers, priced in (("cheap", 3000.0, True), ("dear", 4000.0, True), ("unpriced", math.nan, False)):
        for replication in range(3):
            parts = {
                "developer_cost_per_week": developers + replication,
                "ci_cost_per_week": 10.0 if priced else math.nan,
                "environment_cost_per_week": 336.0 if priced else math.nan,
                "impact_cost_per_week": 500.0 if priced else math.nan,
            }
            rows.append({"scenario": scenario, "replication": replication, **parts, "cost_per_week": sum(parts.values())})
    return pd.DataFrame(rows)


def test_cost_breakdown_stacks_the_four_parts_per_scenario_and_stays_legible():
    frame = cost_frame()
    ax = cost_breakdown(frame)
    assert isinstance(ax, Axes)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["cheap", "dear", "unpriced"]
    widths = [patch.get_width() for patch in ax.patches]
    assert widths[:3] == pytest.approx([3001.0, 4001.0, 0.0])  # developers: medians over replications
    assert sum(widths) == pytest.approx(3001 + 10 + 336 + 500 + 4001 + 10 + 336 + 500)
    notes = " ".join(t.get_text() for t in ax.texts)
    assert "3,847 per week" in notes and "cost accounting off" in notes
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["developers", "CI runners", "environments", "failure impact"]
    ax.figure.canvas.draw()
    assert all(t.get_fontsize() >= MIN_FONT for t in ax.texts)
    plt.close("all")


def test_standard_plots_draw_the_cost_plot_only_when_there_are_costs(tmp_path):
    priced = small("trunk-based", name="priced", cost={"enabled": True})
    frame = trunksim.run([priced, small("trunk-based", name="plain")], replications=2, seed=3)
    assert "cost" in save_standard_plots(frame, tmp_path)
    assert (tmp_path / "cost.png").stat().st_size > 0
    assert has_costs(frame) and not has_costs(frame[frame["scenario"] == "plain"])  # what save_standard_plots asks

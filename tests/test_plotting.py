"""The plots render on small runs, return their axes, and stay legible on a projector."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import trunksim  # noqa: E402
from conftest import SCENARIOS, small  # noqa: E402
from trunksim import plotting  # noqa: E402
from trunksim.tables import STAGES  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def runs():
    """One small replication per strategy (gitflow with a weekly train, so it deploys in six weeks)."""
    scenarios = {
        "trunk-based": small("trunk-based", deployment={"canary": {"enabled": True}}),
        "github-flow": small("github-flow"),
        "gitflow": small("gitflow", strategy={"name": "gitflow", "release_cadence": "1w"}),
    }
    return {name: trunksim.simulate(s, seed=3) for name, s in scenarios.items()}


@pytest.fixture(scope="module")
def frame():
    """Three strategies, three replications each."""
    scenarios = [small(kind) for kind in ("trunk-based", "github-flow", "gitflow")]
    return trunksim.run(scenarios, replications=3, seed=2)


def texts_of(ax: Axes) -> list:
    """Every text artist a reader sees on the axes."""
    texts = [ax.title, ax.xaxis.label, ax.yaxis.label, *ax.get_xticklabels(), *ax.get_yticklabels(), *ax.texts]
    legend = ax.get_legend()
    if legend is not None:
        texts += [*legend.get_texts(), legend.get_title()]
    return [t for t in texts if t.get_text()]


def assert_legible(ax: Axes) -> None:
    ax.figure.canvas.draw()
    small_texts = [(t.get_text(), t.get_fontsize()) for t in texts_of(ax) if t.get_fontsize() < plotting.MIN_FONT]
    assert not small_texts, f"text below {plotting.MIN_FONT} pt: {small_texts}"


# -- one run -----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["trunk-based", "github-flow", "gitflow"])
def test_timeline_draws_one_lane_per_change_in_the_window(runs, kind):
    run = runs[kind]
    ax = plotting.timeline(run, max_changes=25)
    assert isinstance(ax, Axes)
    first = run.changes["first_commit_hours"]
    warm_up = run.scenario.simulation.warm_up
    expected = min(25, int(((first >= warm_up) & (first < warm_up + 168) & (run.changes["state"] != "abandoned")).sum()))
    assert expected > 0
    assert ax.get_ylabel().startswith(f"{expected} changes")
    assert_legible(ax)


def test_timeline_draws_on_the_axes_it_is_given(runs):
    figure = Figure()
    ax = figure.subplots()
    assert plotting.timeline(runs["trunk-based"], ax=ax) is ax


def test_timeline_of_an_empty_window_still_renders(runs):
    ax = plotting.timeline(runs["trunk-based"], start=0.0, hours=1.0)
    assert ax.get_ylabel().startswith("0 changes")
    ax.figure.canvas.draw()


def test_timeline_legend_names_every_stage_and_the_markers(runs):
    ax = plotting.timeline(runs["gitflow"])
    names = [t.get_text() for t in ax.get_legend().get_texts()]
    assert [plotting.STAGE_LABELS[s] for s in STAGES] == names[: len(STAGES)]
    assert "deployment" in names and "incident: failure → restored" in names


@pytest.mark.parametrize("kind", ["trunk-based", "github-flow", "gitflow"])
def test_stage_segments_tile_each_change_from_first_commit_to_deployment(runs, kind):
    changes = runs[kind].changes
    segments = plotting.stage_segments(changes)
    delivered = changes[changes["deployed_hours"].notna()].set_index("change_id")
    assert set(segments["change_id"]) <= set(delivered.index)
    for change_id, part in segments.groupby("change_id"):
        change = delivered.loc[change_id]
        part = part.sort_values("start_hours")
        assert part["start_hours"].iloc[0] == pytest.approx(change["first_commit_hours"])
        assert part["end_hours"].iloc[-1] == pytest.approx(change["deployed_hours"], abs=1e-6)
        assert np.allclose(part["start_hours"].iloc[1:].to_numpy(), part["end_hours"].iloc[:-1].to_numpy())


def test_stage_segments_are_anchored_at_the_known_timestamps():
    changes = pd.DataFrame(
        [{
            "change_id": 7, "first_commit_hours": 10.0, "submitted_hours": 14.0, "merged_hours": 20.0,
            "deployed_hours": 30.0, "stage_coding_hours": 4.0, "stage_review_wait_hours": 1.0,
            "stage_review_hours": 1.0, "stage_rework_hours": 0.0, "stage_ci_queue_hours": 1.0, "stage_ci_hours": 3.0,
            "stage_deploy_wait_hours": 9.0, "stage_deploy_hours": 1.0,
        }]
    )
    segments = plotting.stage_segments(changes).set_index("stage")
    assert segments.loc["coding", ["start_hours", "end_hours"]].tolist() == [10.0, 14.0]
    assert segments.loc["ci", "end_hours"] == pytest.approx(20.0)  # merged
    assert segments.loc["ci", "end_hours"] - segments.loc["ci", "start_hours"] == pytest.approx(3.0)
    assert segments.loc["deploy", ["start_hours", "end_hours"]].tolist() == pytest.approx([29.0, 30.0])
    assert "rework" not in segments.index


def test_ci_occupancy_counts_runs_waiting_and_running():
    ci_runs = pd.DataFrame(
        {
            "queued_hours": [0.0, 0.0, 0.0],
            "started_hours": [0.0, 1.0, np.nan],  # the third never got a runner
            "finished_hours": [1.0, 2.0, np.nan],
        }
    )
    steps = plotting.ci_occupancy(ci_runs).set_index("time_hours")
    assert steps.loc[0.0].tolist() == [2, 1]
    assert steps.loc[1.0].tolist() == [1, 1]
    assert steps.loc[2.0].tolist() == [1, 0]


@pytest.mark.parametrize("kind", ["trunk-based", "gitflow"])
def test_ci_queue_and_red_renders(runs, kind):
    ax = plotting.ci_queue_and_red(runs[kind], start=168.0, hours=336.0)
    assert isinstance(ax, Axes)
    assert ax.get_xlim() == pytest.approx((7.0, 21.0))
    assert_legible(ax)


# -- results frames ----------------------------------------------------------------------------------
def test_stage_breakdown_has_one_bar_per_scenario_with_its_total(frame):
    ax = plotting.stage_breakdown(frame)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["trunk-based", "github-flow", "gitflow"]
    totals = [t.get_text() for t in ax.texts]
    assert len(totals) == 3 and all(t.strip().endswith("h") for t in totals)
    assert_legible(ax)


def test_metric_distribution_is_legible(frame):
    assert_legible(plotting.metric_distribution(frame, "lead_time_median_hours"))


def levels_frame() -> pd.DataFrame:
    levels = {"trunk": ["elite"] * 3 + ["high"], "gitflow": ["medium", "low", "low", "low"]}
    return pd.DataFrame(
        [{"scenario": s, "strategy": s, "replication": k, "dora_level": level}
         for s, values in levels.items() for k, level in enumerate(values)]
    )


def test_level_shares_bars_are_the_shares_of_replications():
    ax = plotting.level_shares(levels_frame())
    widths = {}
    for patch, level in zip(ax.patches, np.repeat(plotting.LEVELS, 2)):
        widths.setdefault(level, []).append(round(patch.get_width(), 6))
    assert widths == {"elite": [0.75, 0.0], "high": [0.25, 0.0], "medium": [0.0, 0.25], "low": [0.0, 0.75]}
    assert "75%" in [t.get_text() for t in ax.texts]
    assert_legible(ax)


def test_level_shares_without_the_column_says_what_it_needs(frame):
    with pytest.raises(KeyError, match="dora_level"):
        plotting.level_shares(frame.drop(columns=["dora_level"], errors="ignore"))


def sweep_frame() -> pd.DataFrame:
    """A hand-made sweep: lead time falls with runners for trunk, not for gitflow."""
    rows = []
    for strategy, effect in (("trunk-based", 10.0), ("gitflow", 0.0)):
        for runners in (1, 2, 4):
            for k in range(8):
                rows.append({
                    "scenario": f"{strategy} [ci.runners={runners}]", "strategy": strategy, "replication": k, "seed": 1,
                    "ci.runners": runners, "lead_time_median_hours": 50 + effect / runners + k,
                })
    return pd.DataFrame(rows)


def test_sweep_plot_draws_a_median_line_and_band_per_strategy():
    ax = plotting.sweep_plot(sweep_frame(), "ci.runners", "lead_time_median_hours")
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"trunk-based", "gitflow"}
    assert list(lines["trunk-based"].get_xdata()) == [1, 2, 4]
    assert list(lines["trunk-based"].get_ydata()) == pytest.approx([63.5, 58.5, 56.0])
    assert len(ax.collections) >= 2  # bands (and dots)
    assert_legible(ax)


def test_sweep_plot_treats_booleans_and_names_as_categories():
    frame = sweep_frame()
    frame["deployment.canary.enabled"] = frame["ci.runners"] > 1
    ax = plotting.sweep_plot(frame, "deployment.canary.enabled", "lead_time_median_hours")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["off", "on"]


def oat_frame() -> pd.DataFrame:
    """One-at-a-time sweeps concatenated (baseline: 4 runners, 100 lines): batch size matters far more."""
    rows = []
    for path, values, effect in (
        ("ci.runners", (1, 4, 8), lambda v: 2.0 / v - 0.5),
        ("strategy.max_change_lines", (50, 100, 400), lambda v: (v - 100) / 10),
    ):
        for value in values:
            for k in range(5):
                rows.append({"scenario": "trunk", "strategy": "trunk-based", "replication": k, path: value,
                             "lead_time_median_hours": 10 + effect(value) + k})
    return pd.DataFrame(rows)


def test_tornado_puts_the_parameter_that_moves_the_metric_most_on_top():
    ax = plotting.tornado(oat_frame(), "lead_time_median_hours", baseline={"ci.runners": 4, "strategy.max_change_lines": 100})
    assert [t.get_text() for t in ax.get_yticklabels()] == ["strategy.max_change_lines", "ci.runners"]
    baseline = [line for line in ax.get_lines() if line.get_label().startswith("baseline")]
    assert baseline and baseline[0].get_xdata()[0] == pytest.approx(12.0)  # 10 + the median replication offset
    assert_legible(ax)


def test_tornado_default_baseline_is_the_middle_value():
    ax = plotting.tornado(oat_frame(), "lead_time_median_hours")
    assert any(line.get_label() == "baseline: 12" for line in ax.get_lines())


def test_tornado_refuses_to_mix_strategies():
    frame = pd.concat([oat_frame(), oat_frame().assign(strategy="gitflow")])
    with pytest.raises(ValueError, match="one strategy"):
        plotting.tornado(frame, "lead_time_median_hours")
    assert isinstance(plotting.tornado(frame, "lead_time_median_hours", strategy="gitflow"), Axes)


# -- files ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sweep_results():
    """A 2 × 2 grid over two parameters, one strategy, two short replications per point."""
    scenario = trunksim.load_scenario(SCENARIOS / "trunk-based.yaml")
    short = scenario.with_overrides({"simulation.duration": "4w", "simulation.warm_up": "1w"})
    grid = {"ci.runners": [1, 2], "ci.flaky_failure_probability": [0.0, 0.1]}
    return trunksim.sweep(short, grid, replications=2, seed=1)


SWEEP_PLOTS = {f"sweep_{metric}" for metric in plotting.DORA_PLOT_METRICS}
TORNADO_PLOTS = {"tornado_lead_time_median_hours", "tornado_deploys_per_day"}


def test_save_standard_plots_writes_the_files_the_cli_promises(frame, tmp_path):
    written = plotting.save_standard_plots(frame, tmp_path)
    assert {"dora", "lead_time_stages"} <= set(written)
    assert all(path.stat().st_size > 5_000 for path in written.values())
    assert not set(written) & (SWEEP_PLOTS | TORNADO_PLOTS)  # not a sweep


def test_save_standard_plots_of_a_sweep_adds_sweep_and_tornado_plots(sweep_results, tmp_path):
    written = plotting.save_standard_plots(sweep_results, tmp_path)
    assert SWEEP_PLOTS | TORNADO_PLOTS <= set(written)
    assert {"dora", "lead_time_stages"} <= set(written)
    for name in SWEEP_PLOTS | TORNADO_PLOTS:
        assert written[name] == tmp_path / f"{name}.png"
        assert written[name].stat().st_size > 5_000
    assert not list(tmp_path.glob(".*.tmp"))


def test_save_standard_plots_of_a_sweep_over_several_strategies_draws_no_tornado(sweep_results, tmp_path):
    both = pd.concat([sweep_results, sweep_results.assign(strategy="gitflow")], ignore_index=True)
    written = plotting.save_standard_plots(both, tmp_path)
    assert SWEEP_PLOTS <= set(written)
    assert not set(written) & TORNADO_PLOTS

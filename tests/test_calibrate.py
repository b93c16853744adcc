"""Calibration from a team's records: readers, located errors, figures and estimators (fast checks).

The round trips (simulate → export → calibrate → compare with the truth) are in
tests/test_calibrate_roundtrip.py.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest

import trunksim
from trunksim.calibrate import CalibrationInputError
from trunksim.calibrate.command import calibrate_command_body
from trunksim.calibrate.estimators import Findings, ci, deployment, estimate, strategy, working_pattern
from trunksim.calibrate.formats import devlake, fourkeys, github, gitlog, read_sources, simulated_history
from trunksim.calibrate.history import History, SourceFile
from trunksim.calibrate.linking import combine
from trunksim.calibrate.observe import FIGURES, observe
from trunksim.experiment import simulate
from trunksim.metrics import compute_metrics
from tests.conftest import small

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "history"
EXAMPLE_GH = ROOT / "examples" / "history-gh"


@pytest.fixture(scope="module")
def trunk_run():
    return simulate(small("trunk-based", team={"developers": 5}), seed=3)


def copy_example(tmp_path: Path) -> Path:
    folder = tmp_path / "history"
    shutil.copytree(EXAMPLE, folder)
    return folder


def rewrite_cell(path: Path, line: int, column: str, value: str) -> None:
    """Set one CSV cell (``line`` counts the header as 1)."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[line - 2, column] = value
    frame.to_csv(path, index=False)


# -- readers ------------------------------------------------------------------------------
def test_the_example_history_reads_as_four_keys_with_its_window():
    history = read_sources(EXAMPLE)
    assert history.kinds == ("fourkeys",)
    assert {s.table for s in history.sources} == {"changes", "deployments", "incidents", "metadata"}
    assert [Path(s.path).suffix for s in history.sources if s.table != "metadata"] == [".csv"] * 3  # CSV read, JSON lines left
    metadata = json.loads((EXAMPLE / "metadata.json").read_text())
    start, end = history.window()
    assert start == pd.Timestamp(metadata["measured_from"]) and end == pd.Timestamp(metadata["now"])
    assert len(history.deployments) > 30 and len(history.incidents) > 5
    assert history.changes["deployed"].notna().mean() > 0.8  # linked through deployments.changes


def test_csv_and_json_lines_read_the_same(tmp_path):
    by_csv = read_sources([EXAMPLE / "changes.csv", EXAMPLE / "deployments.csv", EXAMPLE / "incidents.csv"])
    by_jsonl = read_sources([EXAMPLE / "changes.jsonl", EXAMPLE / "deployments.jsonl", EXAMPLE / "incidents.jsonl"])
    for name in ("changes", "deployments", "incidents"):
        pd.testing.assert_frame_equal(by_csv.table(name), by_jsonl.table(name))


def test_the_gh_and_git_log_example_reads_with_authors_sizes_reviews_and_ci():
    history = read_sources(EXAMPLE_GH)
    assert set(history.kinds) == {"gh-pr", "gh-run", "git-log"}
    changes = history.changes
    assert changes["author"].nunique() == 5
    assert changes["lines"].notna().all() and changes["first_review"].notna().mean() > 0.9
    assert len(history.ci_runs) > 100 and len(history.deployments) > 30
    assert changes["deployed"].notna().mean() > 0.8  # linked by time to the deploy workflow runs


@pytest.mark.parametrize("strategy_name", ["trunk-based", "scaled-trunk-based", "github-flow", "gitflow"])
def test_each_writer_reads_back_what_the_run_did(strategy_name):
    run = simulate(small(strategy_name, team={"developers": 5}), seed=2)
    settings = run.scenario.simulation
    window = run.deployments[(run.deployments["finished_hours"] > settings.warm_up) & (run.deployments["finished_hours"] <= settings.duration)]
    shipped = int(window["rolled_out"].sum())
    for module in (devlake, github):
        history = combine(module.history_from_run(run))
        assert int(history.deployments["success"].sum()) == shipped, module.__name__
    history = combine(fourkeys.history_from_run(run))
    assert len(history.deployments) == shipped
    incidents = run.incidents[(run.incidents["source"] == "production") & (run.incidents["detected_hours"] > settings.warm_up)]
    assert len(combine(devlake.history_from_run(run)).incidents) == len(incidents)
    log = gitlog.parse(gitlog.text_from_run(run), "<log>")
    assert len(log.commits) > 0 and (log.commits["committed"] >= log.commits["authored"]).all()


def test_simulated_history_takes_the_shape_of_the_history_it_is_like(trunk_run):
    like = History(sources=[SourceFile("p.json", "gh-pr", "pull_requests", 1)])
    history = simulated_history(trunk_run, like)
    assert len(history.changes) and not len(history.deployments) and not len(history.ci_runs) and not len(history.incidents)
    values = observe(history).values
    assert math.isnan(values["deploys_per_day"]) and math.isnan(values["change_failure_rate"])
    assert values["change_size_median_lines"] > 0


def test_the_four_keys_figures_of_a_run_agree_with_its_tables(trunk_run):
    history = combine(fourkeys.history_from_run(trunk_run))
    observed = observe(history)
    metrics = compute_metrics(trunk_run)
    assert observed.values["deploys_per_day"] == pytest.approx(metrics["deploys_per_day"], rel=1e-9)
    assert observed.values["incidents_per_week"] == pytest.approx(metrics["incidents_per_week"], rel=0.35, abs=0.5)
    assert set(observed.values) == set(FIGURES)


# -- estimators ------------------------------------------------------------------------------
def test_working_pattern_is_read_from_when_people_act():
    scenario = small("trunk-based", team={"developers": 5, "calendar": {"day_start_hour": 7, "hours_per_day": 9, "days_per_week": 4}})
    history = combine(github.history_from_run(simulate(scenario, seed=4)))
    findings = Findings()
    working_pattern(history, findings)
    assert findings.value("team.calendar.day_start_hour") == 7
    assert findings.value("team.calendar.hours_per_day") == 9
    assert findings.value("team.calendar.days_per_week") == 4


def test_a_release_train_is_found_and_continuous_deployment_is_not():
    train = small("trunk-based", deployment={"mode": "cadence", "cadence": "12h", "offset": "11h"})
    history = combine(fourkeys.history_from_run(simulate(train, seed=1)))
    findings = Findings()
    deployment(history, findings)
    period, phase, near = findings.facts["train"]
    assert period == 12.0 and near >= 0.8 and abs(phase % 12.0 - 11.0) < 0.6
    continuous = combine(fourkeys.history_from_run(simulate(small("trunk-based"), seed=1)))
    findings = Findings()
    deployment(continuous, findings)
    assert findings.facts["train"] is None and findings.value("deployment.mode") == "continuous"


@pytest.mark.parametrize("strategy_name", ["trunk-based", "scaled-trunk-based", "github-flow", "gitflow"])
def test_the_strategy_is_read_from_branches_and_sizes(strategy_name):
    scenario = small(strategy_name, team={"developers": 6}, simulation={"duration": "8w", "warm_up": "1w"})
    history = combine(github.history_from_run(simulate(scenario, seed=5)))
    findings = estimate(history, observe(history))
    assert findings.facts["strategy"] == strategy_name
    assert findings.facts["strategy_strength"] in ("fair", "strong")


def test_ci_parameters_are_read_from_runs(trunk_run):
    history = combine(github.history_from_run(trunk_run))
    findings = Findings()
    ci(history, findings)
    truth = trunk_run.scenario.ci
    runners = next(e for e in findings.estimates if e.path == "ci.runners")
    assert runners.value <= truth.runners and "lower bound" in runners.method  # runs never queued: the pool is not seen
    assert findings.value("ci.automatic_retries") == 1
    assert abs(findings.value("ci.flaky_failure_probability") - truth.flaky_failure_probability) < 0.02
    median = findings.value("ci.duration")["median"]
    assert median.endswith("m") and 7.0 < float(median[:-1]) < 13.0  # 10 minutes


def test_a_saturated_runner_pool_shows_its_size():
    scenario = small("trunk-based", team={"developers": 8}, ci={"runners": 2, "duration": {"dist": "lognormal", "median": "25m", "p90": "50m"}})
    history = combine(github.history_from_run(simulate(scenario, seed=1)))
    findings = Findings()
    ci(history, findings)
    runners = next(e for e in findings.estimates if e.path == "ci.runners")
    assert runners.value == 2 and "this is the pool" in runners.method


def test_without_branches_the_strategy_is_left_to_simulation(trunk_run):
    history = combine(fourkeys.history_from_run(trunk_run))
    findings = Findings()
    strategy(history, observe(history), findings)
    assert findings.facts["strategy_strength"] == "weak"


# -- bad input: one located line, nothing written ------------------------------------------------
def _error(paths, **keywords) -> str:
    with pytest.raises(CalibrationInputError) as caught:
        read_sources(paths, **keywords)
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_a_missing_column_is_named_with_the_file(tmp_path):
    folder = copy_example(tmp_path)
    frame = pd.read_csv(folder / "deployments.csv", dtype=str)
    frame.drop(columns=["changes"]).to_csv(folder / "deployments.csv", index=False)
    message = _error(folder / "deployments.csv")
    assert "deployments.csv:1: missing column 'changes'" in message and "deploy_id, time_created, changes" in message


def test_an_unparsable_timestamp_is_located_by_line_and_column(tmp_path):
    folder = copy_example(tmp_path)
    rewrite_cell(folder / "deployments.csv", 4, "time_created", "2026-13-45T25:00:00Z")
    message = _error(folder / "deployments.csv")
    assert message.startswith(f"{folder / 'deployments.csv'}:4: time_created: '2026-13-45T25:00:00Z' is not a timestamp")


def test_a_timezone_naive_timestamp_is_refused_unless_said_to_be_utc(tmp_path):
    folder = copy_example(tmp_path)
    value = pd.read_csv(folder / "incidents.csv", dtype=str)["time_created"][1]
    naive = value.replace("T", " ").rstrip("Z")
    rewrite_cell(folder / "incidents.csv", 3, "time_created", naive)
    message = _error(folder / "incidents.csv")
    assert f"incidents.csv:3: time_created: '{naive}' has no time zone" in message and "--assume-utc" in message
    assert len(read_sources(folder / "incidents.csv", assume_utc=True).incidents) > 0


def test_a_resolution_before_its_incident_is_located(tmp_path):
    folder = copy_example(tmp_path)
    rewrite_cell(folder / "incidents.csv", 2, "time_resolved", "2000-01-01T00:00:00Z")
    assert "incidents.csv:2: time_resolved: 2000-01-01T00:00:00+00:00 is before time_created" in _error(folder / "incidents.csv")


def test_bad_json_lines_and_gh_files_are_located(tmp_path):
    lines = (EXAMPLE / "deployments.jsonl").read_text().splitlines()
    lines[2] = lines[2][:-5]
    (tmp_path / "deployments.jsonl").write_text("\n".join(lines) + "\n")
    assert f"{tmp_path / 'deployments.jsonl'}:3: is not JSON" in _error(tmp_path / "deployments.jsonl")
    prs = json.loads((EXAMPLE_GH / "gh-prs.json").read_text())
    del prs[2]["mergedAt"]
    (tmp_path / "prs.json").write_text(json.dumps(prs))
    assert "prs.json: item 3: missing field 'mergedAt'" in _error(tmp_path / "prs.json")
    (tmp_path / "runs.json").write_text(json.dumps({"databaseId": 1}))
    assert "expected an array of objects" in _error(tmp_path / "runs.json")


def test_a_git_log_in_another_format_is_refused_with_the_command(tmp_path):
    text = (EXAMPLE_GH / "git-log.txt").read_text().splitlines()
    text.insert(3, "commit 1234567 something else")
    (tmp_path / "git-log.txt").write_text("\n".join(text) + "\n")
    message = _error(tmp_path / "git-log.txt")
    assert "git-log.txt:4:" in message and "git log --first-parent" in message


def test_devlake_exports_with_naive_times_need_assume_utc(trunk_run, tmp_path):
    records = devlake.records_from_run(trunk_run)
    for row in records["cicd_deployment_commits"]:
        for column in ("created_date", "queued_date", "started_date", "finished_date"):
            row[column] = row[column].replace("T", " ").replace("Z", ".000")
    devlake.write(records, tmp_path)
    message = _error(tmp_path / "cicd_deployment_commits.csv")
    assert "cicd_deployment_commits.csv:2: finished_date:" in message and "has no time zone" in message
    history = read_sources(tmp_path / "cicd_deployment_commits.csv", assume_utc=True)
    assert history.deployments["finished"].dt.tz is not None


def test_unknown_and_empty_files_are_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("hello\n")
    assert "cannot tell what this file is" in _error(tmp_path / "notes.txt")
    (tmp_path / "deployments.csv").write_text("source,deploy_id,time_created,main_commit,changes\n")
    assert "deployments.csv: has no rows" in _error(tmp_path / "deployments.csv")
    assert "no such file" in _error(tmp_path / "missing.csv")


def test_a_too_short_history_is_refused_in_one_line_and_nothing_is_written(tmp_path):
    folder = copy_example(tmp_path)
    (folder / "changes.jsonl").unlink()
    frame = pd.read_csv(folder / "changes.csv", dtype=str)
    frame.head(6).to_csv(folder / "changes.csv", index=False)
    out = tmp_path / "out" / "team.yaml"
    lines: list[str] = []
    status = calibrate_command_body([folder / "changes.csv"], out, echo=lines.append, echo_err=lines.append, quiet=True)
    assert status == 1 and len(lines) == 1
    assert lines[0].startswith("error: changes.csv: the history is too short: 6 changes")
    assert not out.exists() and not (out.parent / "calibration.html").exists()


def test_bad_input_leaves_an_existing_scenario_untouched(tmp_path):
    folder = copy_example(tmp_path)
    rewrite_cell(folder / "changes.csv", 5, "time_created", "yesterday")
    out = tmp_path / "team.yaml"
    out.write_text("kept: true\n")
    lines: list[str] = []
    assert calibrate_command_body([folder], out, echo=lines.append, echo_err=lines.append, quiet=True) == 1
    assert lines == [f"error: {folder / 'changes.csv'}:5: time_created: 'yesterday' is not a timestamp "
                     "(allowed: ISO-8601 with a time zone, e.g. 2026-01-05T11:00:00Z or 2026-01-05T12:00:00+01:00)"]
    assert out.read_text() == "kept: true\n" and not list(tmp_path.glob(".*.tmp"))


def test_the_command_refuses_an_unknown_strategy_and_a_bad_set(tmp_path):
    lines: list[str] = []
    assert calibrate_command_body([EXAMPLE], tmp_path / "t.yaml", strategy="waterfall", echo=lines.append, echo_err=lines.append) == 1
    assert lines[-1].startswith("error: --strategy: unknown strategy 'waterfall' (allowed: ")
    lines.clear()
    assert calibrate_command_body([EXAMPLE], tmp_path / "t.yaml", assignments=["ci.runners"], echo=lines.append, echo_err=lines.append) == 1
    assert "malformed assignment" in lines[-1]
    assert not (tmp_path / "t.yaml").exists()


def test_the_package_face_calls_calibrate_however_it_was_imported():
    import trunksim.calibrate as package
    from trunksim.calibrate.pipeline import calibrate

    assert callable(trunksim.calibrate) and callable(package)
    assert trunksim.calibrate is package or trunksim.calibrate is calibrate
    with pytest.raises(CalibrationInputError):
        trunksim.calibrate([ROOT / "no-such-folder"], None)
    with pytest.raises(CalibrationInputError):
        trunksim.calibrate([ROOT / "no-such-folder"], None)  # again: the name still calls


def test_the_command_writes_a_scenario_that_loads_and_says_what_it_found(tmp_path):
    lines: list[str] = []
    out = tmp_path / "team" / "team.yaml"
    status = calibrate_command_body([EXAMPLE_GH], out, replications=3, fit_replications=1, quiet=True,
                                    echo=lines.append, echo_err=lines.append)
    assert status == 0, lines
    assert lines[0].startswith("calibrated team (trunk-based) from ")
    assert any(line.strip().startswith("deploys_per_day") and "simulated 90%" in line for line in lines)
    assert lines[-2] == f"wrote {out} and {out.parent / 'calibration.html'}"
    scenario = trunksim.load_scenario(out)
    assert scenario.team.developers == 5 and scenario.deployment.mode == "cadence"
    assert "measured: people who authored at least two changes" in out.read_text()


def test_importing_the_calibration_loads_neither_the_engine_nor_matplotlib_nor_typer():
    import subprocess
    import sys

    code = "import sys, trunksim.calibrate, trunksim.calibrate.command; print(sorted(m for m in ('simpy', 'matplotlib', 'typer') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"

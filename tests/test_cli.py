"""The command line, through typer's test runner."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from typer.testing import CliRunner

from trunksim.cli import app
from trunksim.metrics import DORA_COLUMNS, RATE_COLUMNS

from conftest import ROOT, SCENARIOS

runner = CliRunner()
SHORT = ["--set", "simulation.duration=4w", "--set", "simulation.warm_up=1w"]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_strategies_lists_every_registered_strategy():
    from trunksim.strategies.registry import REGISTRY

    result = invoke("strategies")
    assert result.exit_code == 0
    names = [line.split()[0] for line in result.stdout.splitlines()]
    assert names == list(REGISTRY)
    assert {"trunk-based", "scaled-trunk-based", "github-flow", "gitflow"} <= set(names)


def test_an_unknown_dora_year_is_refused():
    result = runner.invoke(app, ["run", str(SCENARIOS / "trunk-based.yaml"), "--dora-year", "2019"])
    assert result.exit_code == 1
    assert "--dora-year: unknown DORA year 2019 (allowed: 2023, 2024)" in result.output


def test_schema_is_valid_json_describing_the_scenario():
    result = invoke("schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert "strategy" in schema["properties"]


def test_shipped_scenarios_validate():
    files = sorted(p for p in SCENARIOS.rglob("*.yaml") if not p.name.startswith("_"))
    result = invoke("validate", *files)
    assert result.exit_code == 0, result.stdout


def test_a_misspelt_key_fails_validation_with_file_line_and_field(tmp_path):
    shutil.copy(SCENARIOS / "_base.yaml", tmp_path / "_base.yaml")
    text = (SCENARIOS / "trunk-based.yaml").read_text().replace("max_change_lines:", "max_change_linez:")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    line = next(i for i, l in enumerate(text.splitlines(), 1) if "max_change_linez" in l)
    result = invoke("validate", bad)
    assert result.exit_code == 1
    assert f"bad.yaml:{line}: strategy.max_change_linez:" in result.stdout
    assert "Traceback" not in result.stdout + (result.stderr or "")


def test_run_writes_replications_summary_and_plots(tmp_path):
    out = tmp_path / "out"
    result = invoke("run", SCENARIOS / "trunk-based.yaml", "-n", 3, "--seed", 7, "-o", out, "-q", *SHORT)
    assert result.exit_code == 0, result.stdout
    frame = pd.read_csv(out / "replications.csv")
    assert len(frame) == 3
    assert set(DORA_COLUMNS) <= set(frame.columns)
    for column in RATE_COLUMNS:
        values = frame[column].dropna()
        assert ((values >= 0) & (values <= 1)).all(), column
    assert (out / "summary.csv").exists()
    assert (out / "plots" / "dora.png").stat().st_size > 10_000
    assert "lead_time_median_hours" in result.stdout


def test_running_twice_gives_byte_identical_replications(tmp_path):
    for name in ("a", "b"):
        invoke("run", SCENARIOS / "github-flow.yaml", "-n", 2, "--seed", 7, "-o", tmp_path / name, "-q", "--no-plots", *SHORT)
    assert (tmp_path / "a" / "replications.csv").read_bytes() == (tmp_path / "b" / "replications.csv").read_bytes()


def test_set_overrides_a_field(tmp_path):
    result = invoke("run", SCENARIOS / "trunk-based.yaml", "-n", 1, "-o", tmp_path, "-q", "--no-plots", "--set", "ci.runnerz=2")
    assert result.exit_code == 1
    assert "ci.runnerz" in result.stdout + (result.stderr or "")


def test_parameters_reference_is_current():
    result = invoke("parameters")
    assert result.stdout == (ROOT / "docs" / "parameters.md").read_text()


def test_metrics_profile_and_levels_reach_the_output(tmp_path):
    result = invoke("run", SCENARIOS / "trunk-based.yaml", "-n", 2, "-o", tmp_path, "-q", "--no-plots",
                    "--metrics-profile", "fourkeys", "--dora-year", "2024", *SHORT)
    assert result.exit_code == 0, result.stdout
    frame = pd.read_csv(tmp_path / "replications.csv")
    assert frame["lead_time_p90_hours"].isna().all()  # Four Keys does not define it
    assert set(frame["dora_level"]) <= {"elite", "high", "medium", "low"}
    summary = pd.read_csv(tmp_path / "summary.csv")
    shares = summary[summary["metric"].str.startswith("dora_level_")]
    assert shares["median"].sum() == pytest.approx(1.0)


def test_an_unknown_metrics_profile_is_refused():
    result = runner.invoke(app, ["run", str(SCENARIOS / "trunk-based.yaml"), "--metrics-profile", "sonar"])
    assert result.exit_code == 1
    assert "--metrics-profile: unknown metrics profile 'sonar' (allowed: trunksim, fourkeys, devlake)" in result.output


def test_export_writes_four_keys_tables(tmp_path):
    result = invoke("export", SCENARIOS / "github-flow.yaml", "-o", tmp_path, *SHORT)
    assert result.exit_code == 0, result.stdout
    deployments = pd.read_csv(tmp_path / "deployments.csv")
    assert {"deploy_id", "time_created", "main_commit", "changes"} <= set(deployments.columns)


def test_an_absurd_scenario_is_refused_before_it_runs(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_text("strategy: {name: trunk-based}\nteam: {developers: 100000}\n")
    for command in ("validate", "run"):
        result = runner.invoke(app, [command, str(path), "-o", str(tmp_path / "out")] if command == "run" else [command, str(path)])
        assert result.exit_code == 1
        assert "huge.yaml:2: team.developers:" in result.output
    assert not (tmp_path / "out" / "replications.csv").exists()

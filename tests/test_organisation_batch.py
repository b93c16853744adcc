"""A batch of organisation scenarios writes, hashes, verifies and summarizes its per-team and per-service results.

``runs/NNN.units.csv`` beside each organisation point's runs file (recorded in the
manifest with its SHA-256 and verified on ``--resume`` like the runs file), ``units.csv``
and ``units_summary.csv`` from the whole batch, ``plots/teams.png``, the report's "Teams
and services" section and the terminal's per-team table; nothing of the kind for a batch
of one-team scenarios.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from trunksim import batch as batch_module
from trunksim import plotting
from trunksim.batch import BatchInterrupted, OutputFolderError, read_units_csv, run_batch
from trunksim.cli import app
from trunksim.experiment import UNIT_ID_COLUMNS, UNIT_SUMMARY_COLUMNS, Point, run_organisation, summarize_units
from trunksim.report import UNIT_METRICS, terminal_unit_table
from trunksim.stats import describe

from conftest import SCENARIOS, small

TINY = {"duration": "3w", "warm_up": "1w"}
TEAMS = [
    {"name": "shop", "developers": 2, "services": ["web"]},
    {"name": "core", "developers": 3, "services": ["api", "db"]},
]
SERVICES = [{"name": "web", "depends_on": ["api"]}, {"name": "api", "depends_on": ["db"]}, {"name": "db"}]


def org(layout: str, name: str | None = None):
    """Two small teams, three services (web → api → db), three weeks."""
    organisation = {"layout": layout, "teams": TEAMS, "services": SERVICES, "api_change_share": 0.5, "breaking_share": 0.5}
    return small("trunk-based", name=name or layout, simulation=TINY, organisation=organisation)


def plain(kind: str = "trunk-based"):
    return small(kind, simulation=TINY)


def batch(pts, out, **keywords):
    notes: list[str] = []
    keywords.setdefault("replications", 2)
    keywords.setdefault("seed", 4)
    keywords.setdefault("plots", False)
    keywords.setdefault("report", False)
    frame = run_batch([Point(p) for p in pts], out, notify=notes.append, **keywords)
    return frame, notes


def manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


# -- the files ------------------------------------------------------------------------------


def test_units_files_are_written_beside_the_runs_files_recorded_and_put_together(tmp_path):
    out = tmp_path / "out"
    pts = [org("polyrepo"), org("monorepo"), plain()]
    batch(pts, out)
    assert sorted(p.name for p in (out / "runs").iterdir()) == ["000.csv", "000.units.csv", "001.csv", "001.units.csv", "002.csv"]
    entries = manifest(out)["scenarios"]
    for entry in entries[:2]:
        data = (out / entry["units_file"]).read_bytes()
        assert entry["units_sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["units_rows"] == len(read_units_csv(data.decode())) > 0
    assert [entries[0]["units_file"], entries[1]["units_file"]] == ["runs/000.units.csv", "runs/001.units.csv"]
    assert entries[2]["units_file"] is None and entries[2]["units_sha256"] is None
    assert {"units.csv", "units_summary.csv"} <= set(manifest(out)["outputs"])

    # units.csv is the units files put together (one header), in point order ...
    header, *first = (out / "runs" / "000.units.csv").read_text().splitlines(keepends=True)
    _, *second = (out / "runs" / "001.units.csv").read_text().splitlines(keepends=True)
    assert (out / "units.csv").read_text() == header + "".join(first + second)
    units = read_units_csv(out / "units.csv")
    assert list(units.columns) == list(UNIT_ID_COLUMNS)
    assert list(dict.fromkeys(units["scenario"])) == ["polyrepo", "monorepo"]
    # ... and what run_organisation gives for the same seed.
    _, expected = run_organisation(pts[:2], replications=2, seed=4)
    pd.testing.assert_frame_equal(units, expected, check_dtype=False)


def test_units_summary_has_every_level_with_the_summary_statistics(tmp_path):
    out = tmp_path / "out"
    batch([org("polyrepo"), org("monorepo"), plain()], out)
    summary = read_units_csv(out / "units_summary.csv")
    assert list(summary.columns) == list(UNIT_SUMMARY_COLUMNS)
    levels = summary.groupby("scenario", sort=False)["level"].apply(lambda s: list(dict.fromkeys(s))).to_dict()
    assert levels == {"polyrepo": ["organisation", "team", "service"], "monorepo": ["organisation", "team"]}
    poly = summary[summary["scenario"] == "polyrepo"]
    assert list(dict.fromkeys(poly.loc[poly["level"] == "team", "unit"])) == ["shop", "core"]
    assert list(dict.fromkeys(poly.loc[poly["level"] == "service", "unit"])) == ["web", "api", "db"]
    # the statistics are summary.csv's: stats.describe of the replications' values
    units = read_units_csv(out / "units.csv")
    row = summary[(summary["unit"] == "core") & (summary["metric"] == "deploys_per_day")].iloc[0]
    values = units[(units["scenario"] == row["scenario"]) & (units["unit"] == "core") & (units["metric"] == "deploys_per_day")]["value"]
    stats = describe(values)
    for column in ("replications", "median", "median_ci95_low", "median_ci95_high"):
        assert row[column] == pytest.approx(stats[column], rel=1e-9)
    # the organisation level is the organisation's row of summary.csv
    totals = pd.read_csv(out / "summary.csv")
    total = totals[(totals["scenario"] == "polyrepo") & (totals["metric"] == "deploys_per_day")]["median"].iloc[0]
    org_row = summary[(summary["scenario"] == "polyrepo") & (summary["level"] == "organisation") & (summary["metric"] == "deploys_per_day")]
    assert org_row["median"].iloc[0] == pytest.approx(total, rel=1e-9)


def test_team_and_scenario_names_survive_the_units_files_exactly(tmp_path):
    organisation = {
        "layout": "polyrepo",
        "teams": [{"name": "007", "developers": 2, "services": ["NA"]}, {"name": "TRUE", "developers": 2, "services": ["1e5"]}],
        "services": [{"name": "NA", "depends_on": ["1e5"]}, {"name": "1e5"}],
    }
    scenario = small("trunk-based", name="null", simulation=TINY, organisation=organisation)
    out = tmp_path / "out"
    _, units = run_batch([Point(scenario)], out, replications=1, seed=2, plots=False, report=False,
                         notify=lambda _: None, return_units=True)
    for frame in (units, read_units_csv(out / "units.csv"), read_units_csv(out / "units_summary.csv")):
        assert set(frame["unit"]) == {"null", "007", "TRUE", "NA", "1e5"}
        assert set(frame["scenario"]) == {"null"}
    _, notes = batch([scenario], out, replications=1, seed=2, resume=True)
    assert "1 of 1 scenario(s) kept, 0 to run" in notes[-1]


def test_summarize_units_of_a_frame_without_units_is_empty_and_refuses_other_frames():
    empty = pd.DataFrame(columns=list(UNIT_ID_COLUMNS))
    assert list(summarize_units(empty).columns) == list(UNIT_SUMMARY_COLUMNS) and summarize_units(empty).empty
    with pytest.raises(ValueError, match="summarize_units"):
        summarize_units(pd.DataFrame({"scenario": ["a"]}))


def test_a_batch_of_one_team_scenarios_writes_no_units_files(tmp_path):
    out = tmp_path / "out"
    frame, _ = batch([plain(), plain("github-flow")], out, plots=True, report=True)
    assert not list((out / "runs").glob("*.units.csv"))
    assert not (out / "units.csv").exists() and not (out / "units_summary.csv").exists()
    assert not (out / "plots" / "teams.png").exists()
    assert "Teams and services" not in (out / "report.html").read_text()
    assert all(entry["units_file"] is None for entry in manifest(out)["scenarios"])
    _, units = run_batch([Point(plain())], tmp_path / "again", replications=2, seed=4, plots=False, report=False,
                         notify=lambda _: None, return_units=True)
    assert units.empty and list(units.columns) == list(UNIT_ID_COLUMNS)


def test_a_fresh_run_clears_an_earlier_runs_units_files(tmp_path):
    out = tmp_path / "out"
    batch([org("polyrepo"), plain()], out)
    assert (out / "units.csv").exists()
    _, notes = batch([plain()], out)
    assert not (out / "units.csv").exists() and not (out / "units_summary.csv").exists()
    assert sorted(p.name for p in (out / "runs").iterdir()) == ["000.csv"]
    (note,) = notes
    assert "units.csv" in note and "units_summary.csv" in note and "runs/ (3 files)" in note


@pytest.mark.parametrize("name", ["units.csv", "units_summary.csv", "runs/000.units.csv"])
def test_units_files_no_manifest_accounts_for_are_never_overwritten(tmp_path, name):
    out = tmp_path / "out"
    (out / name).parent.mkdir(parents=True, exist_ok=True)
    (out / name).write_text("someone else's")
    with pytest.raises(OutputFolderError, match="holds results that no trunksim manifest accounts for"):
        batch([org("polyrepo")], out)
    assert (out / name).read_text() == "someone else's"


# -- resume -----------------------------------------------------------------------------------


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "deleted":
        path.unlink()
    elif how == "one number changed":
        path.write_bytes(data.replace(b",0.", b",1.", 1))
    elif how == "header only":
        path.write_bytes(data.splitlines(keepends=True)[0])
    elif how == "another point's units":
        path.write_bytes((path.parent / "000.units.csv").read_bytes())


@pytest.mark.parametrize("how", ["deleted", "one number changed", "header only", "another point's units"])
def test_resume_recomputes_a_damaged_units_file_and_ends_as_an_uninterrupted_run(tmp_path, how):
    pts = [org("polyrepo"), org("monorepo"), plain()]
    whole = tmp_path / "whole"
    batch(pts, whole)
    out = tmp_path / "out"
    batch(pts, out)
    _damage(out / "runs" / "001.units.csv", how)
    kept = (out / "runs" / "000.units.csv").stat().st_mtime_ns
    _, notes = batch(pts, out, resume=True)
    damaged = out / "runs" / "001.units.csv"
    assert any(note.startswith(f"{damaged}: ") and note.endswith("recomputing it") for note in notes), notes
    assert "2 of 3 scenario(s) kept, 1 to run" in notes[-1]
    assert (out / "runs" / "000.units.csv").stat().st_mtime_ns == kept  # what verifies is kept
    for name in ("units.csv", "units_summary.csv", "replications.csv", "runs/001.units.csv"):
        assert (out / name).read_bytes() == (whole / name).read_bytes(), name


def test_an_organisation_point_of_a_manifest_without_units_is_recomputed(tmp_path):
    """A manifest written before units files existed: its one-team points are kept, its organisation points are not."""
    pts = [org("polyrepo"), plain()]
    out = tmp_path / "out"
    batch(pts, out)
    old = manifest(out)
    for entry in old["scenarios"]:
        for key in ("units_file", "units_sha256", "units_rows"):
            entry.pop(key)
    (out / "manifest.json").write_text(json.dumps(old))
    _, notes = batch(pts, out, resume=True)
    assert any(note.startswith(f"{out / 'runs' / '000.units.csv'}: no units file recorded") for note in notes), notes
    assert "1 of 2 scenario(s) kept, 1 to run" in notes[-1]
    assert manifest(out)["scenarios"][0]["units_file"] == "runs/000.units.csv"


def test_no_units_summary_is_written_from_a_units_file_that_changed_during_the_run(tmp_path, monkeypatch):
    out = tmp_path / "out"
    record = batch_module.Batch.record

    def record_then_damage(self, index, *args, **kwargs):
        record(self, index, *args, **kwargs)
        if index == 1:
            _damage(out / "runs" / "000.units.csv", "header only")

    monkeypatch.setattr(batch_module.Batch, "record", record_then_damage)
    with pytest.raises(batch_module.BatchError, match=r"runs/000.units.csv: its content changed after it was written"):
        batch([org("polyrepo"), plain()], out)
    for name in ("replications.csv", "summary.csv", "units.csv", "units_summary.csv"):
        assert not (out / name).exists()


def test_an_interrupt_while_writing_the_outputs_keeps_the_units_files_and_resume_writes_the_rest(tmp_path, monkeypatch):
    pts = [org("monorepo"), plain()]
    whole = tmp_path / "whole"
    batch(pts, whole, report=True)
    out = tmp_path / "out"
    real = batch_module.write_report

    def interrupted(*args, **kwargs):
        assert (out / "units.csv").exists()
        real(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(batch_module, "write_report", interrupted)
    with pytest.raises(BatchInterrupted):
        batch(pts, out, report=True)
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "runs"]
    assert (out / "runs" / "000.units.csv").exists()
    monkeypatch.setattr(batch_module, "write_report", real)
    _, notes = batch(pts, out, report=True, resume=True)
    assert "2 of 2 scenario(s) kept, 0 to run" in notes[-1]
    assert (out / "units.csv").read_bytes() == (whole / "units.csv").read_bytes()


# -- the same bytes however it runs -----------------------------------------------------------------


def test_one_process_and_two_write_the_same_units_files(tmp_path):
    pts = [org("polyrepo"), plain(), org("monorepo")]
    batch(pts, tmp_path / "one", jobs=1)
    batch(pts, tmp_path / "two", jobs=2)
    for name in ("units.csv", "units_summary.csv", "runs/000.units.csv", "runs/002.units.csv", "replications.csv"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name


# -- report, plot and terminal ---------------------------------------------------------------------


def test_the_report_has_a_teams_and_services_section_and_teams_png_is_drawn(tmp_path):
    out = tmp_path / "out"
    batch([org("polyrepo"), org("monorepo"), plain()], out, plots=True, report=True)
    teams = out / "plots" / "teams.png"
    assert teams.stat().st_size > 5_000
    assert "plots/teams.png" in manifest(out)["outputs"]
    html = (out / "report.html").read_text()
    section = html[html.index("<h2>Teams and services</h2>"):html.index("<h2>Every metric")]
    for metric in UNIT_METRICS:
        assert f"<th>{metric}</th>" in section
    assert section.count("<table>") == 2  # one per organisation scenario, none for the plain one
    for name in ("shop", "core", "web", "api", "db"):
        assert f"<td>{name}</td>" in section
    polyrepo, monorepo = section.split("<h3>monorepo</h3>")
    assert "<td>service</td>" in polyrepo and "<td>service</td>" not in monorepo
    assert 'alt="teams"' in html


def _units_frame(scenarios=("a", "b"), teams=("x", "y"), replications=3) -> pd.DataFrame:
    rows = []
    for s, scenario in enumerate(scenarios):
        for k in range(replications):
            rows.append((scenario, k, "organisation", scenario, "deploys_per_day", 2.0 + k))
            for t, team in enumerate(teams):
                for m, metric in enumerate(plotting.TEAM_PLOT_METRICS):
                    rows.append((scenario, k, "team", team, metric, 0.1 * (1 + s + t + m + k)))
    return pd.DataFrame(rows, columns=list(UNIT_ID_COLUMNS))


def test_team_panel_draws_a_bar_per_team_with_the_interval_of_the_median():
    units = _units_frame()
    figure = plotting.team_panel(units)
    axes = [ax for ax in figure.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == [plotting.label(m) for m in plotting.TEAM_PLOT_METRICS]
    first = axes[0]
    assert [t.get_text() for t in first.get_yticklabels()] == ["x", "y", "x", "y"]
    widths = [patch.get_width() for patch in first.patches]
    expected = plotting.unit_medians(units, "deploys_per_day")["median"].tolist()
    assert widths == pytest.approx(expected)
    low, high = plotting.unit_medians(units, "deploys_per_day").iloc[0][["low", "high"]]
    assert low == pytest.approx(0.1) and high == pytest.approx(0.3)  # three values: the range
    texts = [t for ax in axes for t in ax.texts + ax.get_yticklabels() + [ax.title]]
    assert all(t.get_fontsize() >= plotting.MIN_FONT for t in texts)


def test_team_panel_says_what_it_needs():
    units = _units_frame()
    with pytest.raises(ValueError, match="no unit of level 'service'"):
        plotting.team_panel(units, level="service")
    with pytest.raises(ValueError, match="no metric 'rework_rate'"):
        plotting.team_panel(units, ["rework_rate"])
    with pytest.raises(ValueError, match="column"):
        plotting.team_panel(units.drop(columns="unit"))
    with pytest.raises(TypeError):
        plotting.team_panel([1, 2])


def test_a_team_without_a_value_is_marked_not_drawn():
    units = _units_frame()
    units.loc[(units["unit"] == "y") & (units["metric"] == "change_failure_rate"), "value"] = math.nan
    figure = plotting.team_panel(units, ["change_failure_rate"])
    (ax,) = [ax for ax in figure.axes if ax.get_visible()]
    assert len(ax.patches) == 2 and sum("n/a" in t.get_text() for t in ax.texts) == 2


def test_the_terminal_table_of_teams_fits_in_100_columns():
    units = _units_frame(scenarios=("an organisation with a very long name " * 4,), teams=("t" * 64, "core"))
    text = terminal_unit_table(summarize_units(units))
    assert max(map(len, text.splitlines())) <= 100
    assert "core" in text and "organisation" in text
    assert terminal_unit_table(summarize_units(units.iloc[:0])) == ""
    many = terminal_unit_table(summarize_units(_units_frame(scenarios=[f"s{k}" for k in range(10)])), max_scenarios=8)
    assert many.count("organisation and teams") == 8 and "(2 more organisation scenario(s) in units_summary.csv)" in many


def test_trunksim_run_prints_the_teams_and_writes_the_same_units_with_two_jobs(tmp_path):
    scenario = tmp_path / "org.yaml"
    scenario.write_text(
        f"extends: {SCENARIOS / 'trunk-based.yaml'}\n"
        "name: org\n"
        "organisation:\n  layout: polyrepo\n  teams:\n"
        "    - {name: shop, developers: 2, services: [web]}\n"
        "    - {name: core, developers: 3, services: [api, db]}\n"
        "  services:\n    - {name: web, depends_on: [api]}\n    - {name: api, depends_on: [db]}\n    - {name: db}\n"
    )
    runner = CliRunner()
    common = ["run", str(scenario), "-n", "2", "--seed", "3", "-q", "--no-plots",
              "--set", "simulation.duration=3w", "--set", "simulation.warm_up=1w"]
    one = runner.invoke(app, [*common, "--jobs", "1", "-o", str(tmp_path / "one")])
    assert one.exit_code == 0, one.output
    two = runner.invoke(app, [*common, "--jobs", "2", "-o", str(tmp_path / "two")])
    assert two.exit_code == 0, two.output
    assert (tmp_path / "one" / "units.csv").read_bytes() == (tmp_path / "two" / "units.csv").read_bytes()
    lines = one.stdout.splitlines()
    heading = lines.index("org: organisation and teams, medians")
    table = lines[heading + 1: heading + 5]
    assert max(map(len, lines[:-1])) <= 100  # the last names the output folder
    assert table[0].split()[:2] == ["deploys/day", "lead"]
    assert [line.split()[0] for line in table[1:]] == ["organisation", "shop", "core"]
    assert "units.csv, units_summary.csv" in lines[-1]
    units = np.unique(read_units_csv(tmp_path / "one" / "units.csv")["level"])
    assert set(units) == {"organisation", "team", "service"}

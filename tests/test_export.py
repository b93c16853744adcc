"""Four Keys export: the files alone, read with Four Keys' published rules, give the ``fourkeys`` profile.

The recomputation below is deliberately independent of :mod:`trunksim.metrics.profiles`:
plain ``csv``/``json``/``datetime`` and a hand-written ``PERCENTILE_CONT``, following the
stat panels of dora-team/fourkeys ``dashboard/fourkeys_dashboard.json`` line by line.
"""

from __future__ import annotations

import calendar
import csv
import json
import math
from datetime import date, datetime, timedelta, timezone

import pytest

from trunksim.experiment import simulate
from trunksim.export import FOURKEYS_COLUMNS, export_fourkeys
from trunksim.metrics import compute_metrics
from trunksim.metrics.profiles import fourkeys_profile

from conftest import small

UTC = timezone.utc


def parse(text):
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) if text else None


def percentile_cont(values, p):
    """BigQuery PERCENTILE_CONT: linear interpolation at rank (n - 1) * p; NULL for no values."""
    values = sorted(values)
    if not values:
        return None
    rank = (len(values) - 1) * p
    low = math.floor(rank)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (rank - low)


def months_before(day, months):
    """DATE_SUB(day, INTERVAL n MONTH): same day of the month, clamped to the month's last day."""
    month = day.month - months
    year = day.year + (month - 1) // 12
    month = (month - 1) % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def read_tables(folder):
    tables = {}
    for name in FOURKEYS_COLUMNS:
        with open(folder / f"{name}.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
        for row in rows:
            for column in ("time_created", "time_resolved"):
                if column in row:
                    row[column] = parse(row[column])
            if "changes" in row:
                row["changes"] = json.loads(row["changes"])
        tables[name] = rows
    return tables


def fourkeys_dashboard(folder):
    """The four Four Keys stat panels, recomputed from the exported files."""
    tables = read_tables(folder)
    meta = json.loads((folder / "metadata.json").read_text())
    now = parse(meta["now"])  # Four Keys knows no warm-up: the files hold only the measured window
    current_date = now.date()
    lookback = datetime.combine(months_before(current_date, 3), datetime.min.time(), UTC)
    cutoff = lookback  # WHERE time_created > DATE_SUB(CURRENT_DATE(), INTERVAL 3 MONTH)
    commits = {c["change_id"]: c["time_created"] for c in tables["changes"]}
    recent = [d for d in tables["deployments"] if d["time_created"] > cutoff]
    rows = [(d, change) for d in recent for change in d["changes"]]  # FROM deployments d, d.changes

    # Lead time: TIMESTAMP_DIFF(d.time_created, c.time_created, MINUTE) > 0, PERCENTILE_CONT 0.5, IFNULL(.., 0)
    minutes = [int((d["time_created"] - commits[c]).total_seconds() // 60) for d, c in rows if c in commits]
    lead_minutes = percentile_cont([m for m in minutes if m > 0], 0.5) or 0

    # Time to restore: TIMESTAMP_DIFF(time_resolved, time_created, HOUR), PERCENTILE_CONT 0.5
    hours = [
        int((i["time_resolved"] - i["time_created"]).total_seconds() / 3600)
        for i in tables["incidents"] if i["time_created"] > cutoff and i["time_resolved"] is not None
    ]
    restore = percentile_cont(hours, 0.5)

    # Change failure rate: SUM(IF(incident_id IS NULL, 0, 1)) / COUNT(DISTINCT deploy_id), 0 without changes
    incident_changes = [change for i in tables["incidents"] for change in i["changes"]]
    if not any(c in commits for _, c in rows):
        failure_rate = 0.0
    else:
        failure_rate = sum(incident_changes.count(c) for _, c in rows) / len({d["deploy_id"] for d, _ in rows})

    # Deployment frequency: days of the last three months, weeks from Sunday
    deploy_days = {d["time_created"].date() for d in tables["deployments"]}
    first = months_before(current_date, 3)
    weeks = {}
    day = first
    while day <= current_date:
        week = day - timedelta(days=(day.weekday() + 1) % 7)  # TIMESTAMP_TRUNC(day, WEEK): the Sunday before
        weeks.setdefault(week, []).append(day in deploy_days)
        day += timedelta(days=1)
    week_deployed = {w: int(any(flags)) for w, flags in weeks.items()}
    days_deployed = [sum(flags) for flags in weeks.values()]
    monthly = [sum(v for x, v in week_deployed.items() if (x.year, x.month) == (w.year, w.month)) for w in week_deployed]
    if percentile_cont(days_deployed, 0.5) >= 3:
        frequency = "Daily"
    elif percentile_cont(list(week_deployed.values()), 0.5) >= 1:
        frequency = "Weekly"
    elif percentile_cont(monthly, 0.5) >= 1:
        frequency = "Monthly"
    else:
        frequency = "Yearly"
    return {
        "deploys_per_day": len(recent) / ((now - cutoff).total_seconds() / 86400),
        "lead_time_median_hours": lead_minutes / 60,
        "change_failure_rate": failure_rate,
        "recovery_time_median_hours": math.nan if restore is None else restore,
        "deployment_frequency_bucket": frequency,
    }


LONG = {"simulation": {"duration": "20w", "warm_up": "1w"}}  # long enough for the 3-month lookback to bite


@pytest.mark.parametrize(
    "scenario",
    [
        small("github-flow", work={"defects_per_100_lines": 0.6}),
        small("trunk-based", work={"defects_per_100_lines": 0.6}, deployment={"canary": {"enabled": True}}),
        small("gitflow", work={"defects_per_100_lines": 0.4}, **LONG),
    ],
    ids=["github-flow", "trunk-canary", "gitflow-20w"],
)
def test_fourkeys_recomputed_from_the_exported_files_matches_the_fourkeys_profile(scenario, tmp_path):
    run = simulate(scenario, seed=5)
    export_fourkeys(run, tmp_path)
    recomputed = fourkeys_dashboard(tmp_path)
    profile = fourkeys_profile(run)
    metrics = compute_metrics(run, profile="fourkeys")
    assert len(run.incidents) > 0
    for name, value in recomputed.items():
        if name.endswith("_bucket"):
            assert profile[name] == value
            continue
        assert profile[name] == pytest.approx(value, rel=1e-12, nan_ok=True), name
        assert metrics[name] == pytest.approx(value, rel=1e-12, nan_ok=True), name


def test_export_writes_four_keys_columns_in_csv_and_json_lines_that_agree(tmp_path):
    run = simulate(small("github-flow", work={"defects_per_100_lines": 0.6}), seed=3)
    written = export_fourkeys(run, tmp_path)
    assert set(written) == {f"{t}.{f}" for t in FOURKEYS_COLUMNS for f in ("csv", "jsonl")} | {"metadata.json"}
    for name, columns in FOURKEYS_COLUMNS.items():
        with open(written[f"{name}.csv"], newline="") as handle:
            rows = list(csv.DictReader(handle))
        lines = [json.loads(line) for line in written[f"{name}.jsonl"].read_text().splitlines()]
        assert tuple(rows[0]) == columns and tuple(lines[0]) == columns
        assert len(rows) == len(lines)
        for row, line in zip(rows, lines):
            for column in columns:
                expected = line[column]
                got = json.loads(row[column]) if column == "changes" else (row[column] or None)
                assert got == expected


def test_exported_ids_and_times_map_back_to_the_simulated_history(tmp_path):
    run = simulate(small("trunk-based", work={"defects_per_100_lines": 0.6}), seed=4)
    export_fourkeys(run, tmp_path)
    tables = read_tables(tmp_path)
    epoch = parse(json.loads((tmp_path / "metadata.json").read_text())["epoch"])
    assert epoch == datetime(2026, 1, 5, tzinfo=UTC) and epoch.weekday() == 0
    first_commit = run.changes.set_index("change_id")["first_commit_hours"]
    for row in tables["changes"]:
        hours = first_commit[int(row["change_id"], 16)]
        assert row["time_created"] == epoch + timedelta(seconds=math.floor(hours * 3600 + 1e-6))
    rolled_out = set(run.deployments.loc[run.deployments["rolled_out"], "deployment_id"].astype(str))
    assert {d["deploy_id"] for d in tables["deployments"]} <= rolled_out
    # Every change appears in at most one deployment's list (new commits since the previous deployment).
    listed = [c for d in tables["deployments"] for c in d["changes"]]
    assert len(listed) == len(set(listed))


def test_incident_start_is_already_the_earlier_of_detection_and_root_cause_deployment(tmp_path):
    """Applying incidents.sql's MIN(root deployment time, issue time) to the export changes nothing."""
    run = simulate(small("github-flow", work={"defects_per_100_lines": 0.6}), seed=6)
    export_fourkeys(run, tmp_path)
    tables = read_tables(tmp_path)
    deployed_at = {}
    for d in tables["deployments"]:
        for change in d["changes"]:
            deployed_at[change] = min(deployed_at.get(change, d["time_created"]), d["time_created"])
    assert tables["incidents"]
    for incident in tables["incidents"]:
        roots = [deployed_at[c] for c in incident["changes"] if c in deployed_at]
        assert incident["time_created"] == min([incident["time_created"]] + roots)
        if incident["time_resolved"] is not None:
            assert incident["time_resolved"] >= incident["time_created"]


def test_export_refuses_unknown_formats(tmp_path):
    run = simulate(small("trunk-based"), seed=1)
    with pytest.raises(ValueError, match="parquet"):
        export_fourkeys(run, tmp_path, formats=("parquet",))


def test_the_export_of_a_shipped_replication_loaded_as_is_gives_the_fourkeys_profile(tmp_path):
    """The audit's case: trunk-based, seed 1, replication 1 (the export used to hold the warm-up too)."""
    from trunksim.scenario.loading import load_scenario

    from conftest import SCENARIOS

    run = simulate(load_scenario(SCENARIOS / "trunk-based.yaml"), seed=1, replication=1)
    export_fourkeys(run, tmp_path / "window")
    export_fourkeys(run, tmp_path / "all", include_warm_up=True)
    recomputed = fourkeys_dashboard(tmp_path / "window")
    metrics = compute_metrics(run, profile="fourkeys")
    for name in ("deploys_per_day", "lead_time_median_hours", "change_failure_rate", "recovery_time_median_hours"):
        assert metrics[name] == pytest.approx(recomputed[name], rel=1e-12, nan_ok=True), name
    window = read_tables(tmp_path / "window")
    whole = read_tables(tmp_path / "all")
    assert len(window["deployments"]) < len(whole["deployments"])
    warm_up_end = parse(json.loads((tmp_path / "window" / "metadata.json").read_text())["measured_from"])
    assert all(d["time_created"] > warm_up_end for d in window["deployments"])

"""Metric profiles: one simulated history measured by the rules of Four Keys and of Apache DevLake.

DORA numbers are argued over because tools define them differently. A *profile* is a
set of rules; ``trunksim`` (``docs/metrics.md``, :mod:`trunksim.metrics.dora`) is the default,
``fourkeys`` and ``devlake`` re-measure the same run the way those tools would. Every
function here is a pure function of the run's event tables.

Calendar. Tools bucket by calendar days, weeks and months, so simulation hour 0 is
pinned to :data:`EPOCH`, **2026-01-05T00:00:00Z (a Monday)**, matching the engine's
"hours since Monday 00:00". "Now" is the end of the run; the measurement window starts
at the end of the warm-up, as for the trunksim profile.

Four Keys (dora-team/fourkeys). The run is first turned into the three derived tables
of ``queries/changes.sql``, ``queries/deployments.sql`` and ``queries/incidents.sql``
(:func:`fourkeys_tables`; :func:`trunksim.export.export_fourkeys` writes them), then
:func:`fourkeys_metrics` applies the stat-panel queries of
``dashboard/fourkeys_dashboard.json`` to those tables alone:

* changes: one row per simulated change, a commit timestamped at its first commit
  (``change_id`` = the trunksim id as 40 hex digits); timestamps truncated to seconds
  (``TIMESTAMP_TRUNC(..., second)`` in changes.sql);
* deployments: successful (fully rolled-out) deployments only; ``time_created`` = end
  of rollout; ``main_commit`` = the newest change deployed; ``changes`` = the changes
  it rolled out for the first time (what ``additional_sha`` lists since the previous
  deployment), or ``[main_commit]`` for a re-deployment that brings nothing new (the
  same sha's push is joined again, as in deployments.sql); a deployment without
  commits has no row (deployments.sql cross-joins its commits);
* incidents: detected failures (canary-caught ones included); ``changes`` = the
  root-cause change; ``time_created`` = the earlier of the detection and the first
  deployment holding the root cause (incidents.sql's ``MIN(IF(root.time_created <
  issue.time_created, ...))``); ``time_resolved`` = service restored (NULL if not);
* window: rows with ``time_created >`` the later of ``CURRENT_DATE - 3 MONTH`` and the
  end of the warm-up (the panels' ``INTERVAL 3 MONTH`` filter);
* deployment frequency: the "Deployment Frequency" panel — over the days of the window
  (weeks start on Sunday, ``TIMESTAMP_TRUNC(day, WEEK)``), Daily if the interpolated
  median of deployment days per week ≥ 3, else Weekly if the median of "week had a
  deployment" ≥ 1, else Monthly if the median over weeks of "weeks with a deployment
  in that week's month" ≥ 1, else Yearly. ``deploys_per_day`` is the "Daily
  Deployments" panel averaged over the window;
* lead time: per (deployment, change) pair, ``TIMESTAMP_DIFF(deploy, commit, MINUTE)``
  (whole minutes, truncated), values ≤ 0 dropped, ``PERCENTILE_CONT`` median
  (interpolated), ``IFNULL(..., 0)``: 0 when nothing was deployed;
* time to restore: ``TIMESTAMP_DIFF(time_resolved, time_created, HOUR)`` (whole hours,
  truncated), interpolated median; NaN with no incident;
* change failure rate: the "Change Failure Rate" panel — incident/change matches over
  the window's deployment/change rows ÷ distinct deployments (an incident on a change
  deployed twice counts twice; 0 with no deployments). ``queries/change_failure_rate.sql``
  divides distinct failed deployments instead; the dashboard panel is used here.
  Four Keys has no p90 lead time, no escaped-only rate and no rework rate (NaN).

Apache DevLake (apache/incubator-devlake, ``backend/plugins/dora/tasks/`` and
``grafana/dashboards/DORA.json``; benchmarks of the v1.0 docs, 2023 report):

* deployments: successful production deployments (fully rolled out), at their finish;
* lead time per pull request (every change is one): ``pr_cycle_time`` of
  ``change_lead_time_calculator.go`` — coding (first commit → PR created) + review (PR
  created → merged) + deploy (merged → finish of the first successful deployment
  holding it), each in whole minutes rounded up (``computeTimeSpan``); PRs whose
  deployment finished in the window; **lower median** (``percent_rank() <= 0.5``,
  then ``max``);
* incidents: created at detection; each blamed on the **last successful deployment
  that finished at or before** its creation (``incident_deploy_connector.go``), not on
  its true cause;
* change failure rate: deployments finished in the window with ≥ 1 blamed incident ÷
  deployments finished in the window;
* failed deployment recovery time: blamed deployment's finish → incident resolved,
  whole minutes (``TIMESTAMPDIFF(MINUTE, ...)``), incidents resolved in the window,
  lower median;
* deployment frequency: the days of the window (weeks start on Monday,
  ``WEEKDAY``), lower median of deployment days per week and per month; buckets ≥ 5
  days a week, ≥ 1 a week, ≥ 1 a month (DevLake's own 2023 benchmarks).
  ``deploys_per_day``: successful deployments finished in the window ÷ window days.

Both profiles are computed from the run's columns in NumPy (:class:`~trunksim.metrics.columns.Columns`),
in whole seconds since :data:`EPOCH`, so measuring a replication imports no pandas (a
batch worker does not); :func:`fourkeys_profile` gives exactly what :func:`fourkeys_metrics`
reads from :func:`fourkeys_tables`, the DataFrames that ``trunksim export`` writes.
"""

from __future__ import annotations

import calendar
import math
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Iterable, Union

import numpy as np

from trunksim.metrics import dora, levels
from trunksim.metrics.columns import Columns
from trunksim.metrics.window import Window

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd  # imported by the functions that make or read DataFrames, not by the profiles

    from trunksim.tables import Run

EPOCH = datetime(2026, 1, 5, tzinfo=timezone.utc)
"""Simulation hour 0 as a wall-clock instant: Monday 2026-01-05 00:00 UTC."""

PROFILES: tuple[str, ...] = ("trunksim", "fourkeys", "devlake")
"""Metric profile names accepted by ``compute_metrics(run, profile=...)``."""

BUCKET_COLUMNS: tuple[str, ...] = (
    "deployment_frequency_bucket", "lead_time_bucket", "change_failure_rate_bucket", "recovery_time_bucket",
)
"""The tool's own label for each metric (Four Keys and DevLake dashboards); None under trunksim."""


def check_profile(profile: str) -> str:
    """``profile`` if it is a metrics profile (:data:`PROFILES`).

    The one check of a profile name in trunksim (``compute_metrics``,
    :func:`profile_metrics`, ``trunksim.run``, ``--metrics-profile``).

    Raises
    ------
    ValueError
        ``unknown metrics profile 'jira' (allowed: trunksim, fourkeys, devlake)``.
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown metrics profile {profile!r} (allowed: {', '.join(PROFILES)})")
    return profile


SOURCE = "trunksim"
"""The ``source`` column of the Four Keys tables."""

_DAY_SECONDS = 86_400


# -- time ---------------------------------------------------------------------------
def epoch_seconds(hours: Union[pd.Series, np.ndarray, float]) -> np.ndarray:
    """Simulation hours → whole seconds since :data:`EPOCH` (truncated; NaN stays NaN)."""
    values = np.asarray(hours, dtype=float) * 3600.0
    return np.floor(values + 1e-6)


def timestamps(hours: Union[pd.Series, np.ndarray]) -> pd.Series:
    """Simulation hours → UTC timestamps, truncated to whole seconds (NaN → NaT)."""
    import pandas as pd

    return pd.Series(pd.Timestamp(EPOCH) + pd.to_timedelta(epoch_seconds(hours), unit="s"))


def commit_id(change_id: int) -> str:
    """The commit sha standing for a trunksim change: its id as 40 hex digits (``int(sha, 16)`` reverses it)."""
    return f"{int(change_id):040x}"


def _interpolated_median(values: Iterable[float]) -> float:
    array = np.asarray(list(values), dtype=float)
    return float(np.percentile(array, 50)) if len(array) else math.nan


def lower_median(values: Iterable[float]) -> float:
    """DevLake's median: the largest value whose ``percent_rank`` is ≤ 0.5, i.e. ``sorted(x)[(n - 1) // 2]``."""
    array = np.sort(np.asarray(list(values), dtype=float))
    return float(array[(len(array) - 1) // 2]) if len(array) else math.nan


def _bucket(value: float, edges: tuple[tuple[float, str], ...], last: str) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    for limit, label in edges:
        if value < limit:
            return label
    return last


def _window_hours(run: "Run") -> tuple[float, float]:
    settings = run.scenario.simulation
    return float(settings.warm_up), float(settings.duration)


def _change_lists(values: pd.Series) -> list[list[int]]:
    return [[int(x) for x in v.split()] if isinstance(v, str) else [] for v in values]


# -- Four Keys ---------------------------------------------------------------------
def fourkeys_tables(run: "Run", include_warm_up: bool = False) -> dict[str, pd.DataFrame]:
    """The run as Four Keys' derived ``changes``, ``deployments`` and ``incidents`` tables.

    Columns as in dora-team/fourkeys ``queries/*.sql``: ``changes(source, event_type,
    change_id, time_created)``, ``deployments(source, deploy_id, time_created,
    main_commit, changes)``, ``incidents(source, incident_id, time_created,
    time_resolved, changes)``; times are UTC timestamps truncated to seconds,
    ``changes`` columns hold lists of commit ids. The rules are in the module docstring.

    By default only the measured window goes in: deployments and incidents created
    after the warm-up, and the commits created after it or named by those rows (their
    lead time needs them). Loaded as is into Four Keys, these tables give the
    ``fourkeys`` profile's figures. ``include_warm_up`` keeps the whole history.
    """
    import pandas as pd

    changes = run.changes
    committed = changes[changes["first_commit_hours"].notna()]
    change_table = pd.DataFrame(
        {
            "source": SOURCE, "event_type": "push",
            "change_id": [commit_id(c) for c in committed["change_id"]],
            "time_created": timestamps(committed["first_commit_hours"]).to_numpy(),
        }
    )
    deploys, opened = _fourkeys_events(Columns.of_run(run, "deployments"), Columns.of_run(run, "incidents"))
    rows = [
        (SOURCE, str(deploy_id), finished, commit_id(last), [commit_id(i) for i in listed])
        for deploy_id, finished, listed, last in deploys
    ]
    deploy_table = pd.DataFrame(rows, columns=["source", "deploy_id", "time_created", "main_commit", "changes"])
    deploy_table["time_created"] = pd.Timestamp(EPOCH) + pd.to_timedelta(deploy_table["time_created"].astype(float), unit="s")
    rows = [
        (SOURCE, str(incident_id), created, restored, [commit_id(i) for i in root])
        for incident_id, created, restored, root in opened
    ]
    incident_table = pd.DataFrame(rows, columns=["source", "incident_id", "time_created", "time_resolved", "changes"])
    for column in ("time_created", "time_resolved"):
        incident_table[column] = pd.Timestamp(EPOCH) + pd.to_timedelta(incident_table[column].astype(float), unit="s")
    if not include_warm_up:
        since = timestamps(np.array([_window_hours(run)[0]]))[0]
        deploy_table = deploy_table[deploy_table["time_created"] > since].reset_index(drop=True)
        incident_table = incident_table[incident_table["time_created"] > since].reset_index(drop=True)
        named = {sha for shas in list(deploy_table["changes"]) + list(incident_table["changes"]) for sha in shas}
        keep = (pd.to_datetime(change_table["time_created"], utc=True) > since) | change_table["change_id"].isin(named)
        change_table = change_table[keep].reset_index(drop=True)
    return {"changes": change_table, "deployments": deploy_table, "incidents": incident_table}


def _fourkeys_events(
    deployments: Columns, incidents: Columns,
) -> tuple[list[tuple[int, float, list[int], int]], list[tuple[int, float, float, list[int]]]]:
    """The run's Four Keys deployment and incident rows, warm-up included, with change ids for commits.

    Deployments: ``(deploy id, time_created, changes, main commit)`` for every successful
    deployment that listed changes, in time order; ``changes`` are those it shipped for the
    first time (or its last one, for a re-deployment). Incidents: ``(incident id,
    time_created, time_resolved, root-cause changes)`` for every opened incident, created at
    the first deployment of its cause if that came earlier than its detection. Times in
    whole seconds since :data:`EPOCH` (NaN: not resolved).
    """
    order = _shipped_order(deployments)
    seen: set[int] = set()
    first_deployed: dict[int, float] = {}
    deploys: list[tuple[int, float, list[int], int]] = []
    for deploy_id, finished, ids in zip(
        deployments["deployment_id"][order], epoch_seconds(deployments.floats("finished_hours")[order]),
        _change_lists(deployments["change_ids"][order]),
    ):
        if not ids:
            continue
        new = [i for i in ids if i not in seen]
        seen.update(ids)
        listed = new or ids[-1:]
        for i in listed:
            first_deployed[i] = min(first_deployed.get(i, math.inf), finished)
        deploys.append((int(deploy_id), finished, listed, ids[-1]))
    detected = incidents.floats("detected_hours")
    opened = ~np.isnan(detected)
    rows: list[tuple[int, float, float, list[int]]] = []
    for incident_id, change, detected_at, restored in zip(
        incidents["incident_id"][opened], incidents["change_id"][opened], epoch_seconds(detected[opened]),
        epoch_seconds(incidents.floats("restored_hours")[opened]),
    ):
        root = [int(change)] if change > 0 else []
        created = min([detected_at] + [first_deployed[i] for i in root if i in first_deployed])
        rows.append((int(incident_id), created, restored, root))
    return deploys, rows


def fourkeys_cutoff(now: pd.Timestamp, since: "pd.Timestamp | None" = None) -> pd.Timestamp:
    """Rows count when ``time_created >`` this: ``CURRENT_DATE - 3 MONTH`` (or ``since`` if later)."""
    import pandas as pd

    lookback = now.normalize() - pd.DateOffset(months=3)
    return lookback if since is None else max(lookback, since)


def _seconds(times: pd.Series) -> np.ndarray:
    import pandas as pd

    return ((times - pd.Timestamp(EPOCH)).dt.total_seconds()).to_numpy(dtype=float)


def fourkeys_deployment_frequency(deployments: pd.DataFrame, now: pd.Timestamp, since: "pd.Timestamp | None" = None) -> str:
    """The Four Keys "Deployment Frequency" panel: Daily, Weekly, Monthly or Yearly (see the module docstring)."""
    import pandas as pd

    lookback = now.normalize() - pd.DateOffset(months=3)
    first = (lookback if since is None else max(lookback, since.normalize())).date()
    last = now.normalize().date()
    return _fourkeys_frequency({t.date() for t in deployments["time_created"]}, first, last)


def _fourkeys_frequency(deploy_days: set[date], first: date, last: date) -> str:
    """:func:`fourkeys_deployment_frequency` of the UTC dates with a deployment, over the days ``first`` to ``last``."""
    weeks: dict[date, list[int]] = {}
    day = first
    while day <= last:
        week = day - timedelta(days=(day.weekday() + 1) % 7)
        weeks.setdefault(week, []).append(int(day in deploy_days))
        day += timedelta(days=1)
    week_deployed = {w: max(flags) for w, flags in weeks.items()}
    days_deployed = [sum(flags) for flags in weeks.values()]
    per_month: dict[tuple[int, int], int] = {}
    for w, deployed in week_deployed.items():
        per_month[(w.year, w.month)] = per_month.get((w.year, w.month), 0) + deployed
    monthly = [per_month[(w.year, w.month)] for w in week_deployed]
    if _interpolated_median(days_deployed) >= 3:
        return "Daily"
    if _interpolated_median(week_deployed.values()) >= 1:
        return "Weekly"
    if _interpolated_median(monthly) >= 1:
        return "Monthly"
    return "Yearly"


def fourkeys_metrics(tables: dict[str, pd.DataFrame], now: pd.Timestamp, since: "pd.Timestamp | None" = None) -> dict[str, Any]:
    """The Four Keys dashboard's numbers and buckets, from the three tables alone.

    Parameters
    ----------
    tables : dict
        ``changes``, ``deployments``, ``incidents`` as built by :func:`fourkeys_tables`.
    now : pandas.Timestamp
        The dashboard's "now" (``CURRENT_DATE`` is its date), UTC.
    since : pandas.Timestamp, optional
        If given, the 3-month lookback never reaches before it. The ``fourkeys`` profile
        passes none: Four Keys knows no warm-up; the tables hold only the measured window.

    Returns
    -------
    dict
        ``deploys_per_day``, ``lead_time_median_hours``, ``change_failure_rate``,
        ``recovery_time_median_hours`` and the four ``*_bucket`` labels.
    """
    import pandas as pd

    cutoff = fourkeys_cutoff(now, since)
    deployments = tables["deployments"].assign(time_created=lambda f: pd.to_datetime(f["time_created"], utc=True))
    recent = deployments[deployments["time_created"] > cutoff]
    pairs = recent[["deploy_id", "time_created", "changes"]].explode("changes").dropna(subset=["changes"])
    commit_times = pd.to_datetime(tables["changes"].drop_duplicates("change_id").set_index("change_id")["time_created"], utc=True)
    matched = pairs[pairs["changes"].isin(commit_times.index)]
    if len(matched):
        minutes = (_seconds(matched["time_created"]) - _seconds(matched["changes"].map(commit_times))) // 60
        minutes = minutes[minutes > 0]
    else:  # nothing deployed in the lookback (pandas cannot map an empty column through timestamps)
        minutes = np.array([], dtype=float)
    lead_minutes = _interpolated_median(minutes) if len(minutes) else 0.0
    incidents = tables["incidents"].assign(
        time_created=lambda f: pd.to_datetime(f["time_created"], utc=True), time_resolved=lambda f: pd.to_datetime(f["time_resolved"], utc=True)
    )
    recent_incidents = incidents[(incidents["time_created"] > cutoff) & incidents["time_resolved"].notna()]
    restore_hours = np.trunc((_seconds(recent_incidents["time_resolved"]) - _seconds(recent_incidents["time_created"])) / 3600.0)
    restore = _interpolated_median(restore_hours)
    if len(matched) == 0:
        failure_rate = 0.0
    else:
        causes = incidents[["incident_id", "changes"]].explode("changes")["changes"].dropna().value_counts()
        matches = float(pairs["changes"].map(causes).fillna(0).sum())
        failure_rate = matches / recent["deploy_id"].nunique()
    days = (now - cutoff).total_seconds() / _DAY_SECONDS
    frequency = fourkeys_deployment_frequency(deployments, now, since)
    return _fourkeys_result(len(recent), days, lead_minutes, failure_rate, restore, frequency)


def _fourkeys_result(deployed: int, days: float, lead_minutes: float, failure_rate: float, restore: float, frequency: str) -> dict[str, Any]:
    """The numbers and bucket labels of :func:`fourkeys_metrics` from what it counted."""
    lead_edges = ((24 * 60, "One day"), (168 * 60, "One week"), (730 * 60, "One month"), (730 * 6 * 60, "Six months"))
    restore_edges = tuple((limit / 60, label) for limit, label in lead_edges)
    return {
        "deploys_per_day": deployed / days if days > 0 else math.nan,
        "lead_time_median_hours": lead_minutes / 60.0,
        "change_failure_rate": failure_rate,
        "recovery_time_median_hours": restore,
        "deployment_frequency_bucket": frequency,
        "lead_time_bucket": _bucket(lead_minutes, lead_edges, "One year"),
        "change_failure_rate_bucket": "0-15%" if failure_rate <= 0.15 else ("16-45%" if failure_rate < 0.46 else "46-60%"),
        "recovery_time_bucket": _bucket(restore, restore_edges, "One year"),
    }


def months_before(day: date, months: int) -> date:
    """``day`` minus whole calendar months, the day clipped to the month's end (as ``pandas.DateOffset(months=...)``)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _day_of(seconds: float) -> int:
    """The day (0: :data:`EPOCH`'s date) of an instant in seconds since :data:`EPOCH`, a midnight UTC."""
    return int(math.floor(seconds / _DAY_SECONDS))


def _shipped_order(deployments: Columns) -> np.ndarray:
    """Row positions of the successful deployments (rolled out, finished), by ``(finished_hours, deployment_id)``.

    As ``deployments[rolled_out.astype(bool) & finished_hours.notna()].sort_values(["finished_hours",
    "deployment_id"], kind="stable")`` orders them (``np.lexsort`` is stable too).
    """
    finished = deployments.floats("finished_hours")
    rows = np.flatnonzero(np.asarray(deployments["rolled_out"], dtype=bool) & ~np.isnan(finished))
    if len(rows) == 0:
        return rows
    return rows[np.lexsort((deployments["deployment_id"][rows], finished[rows]))]


def fourkeys_profile(run: "Run") -> dict[str, Any]:
    """The run measured by Four Keys' rules: :func:`fourkeys_metrics` of :func:`fourkeys_tables`.

    Exactly what a Four Keys dashboard shows with the exported measured window loaded as
    is (``trunksim export``): the 3-month lookback from the end of the run, with nothing
    from the warm-up in the tables (days of the lookback before the window count as days
    without deployments, as they would in Four Keys).

    Computed from the run's columns in whole seconds since :data:`EPOCH`, without
    building the tables (nor importing pandas): the same rows, filters and arithmetic,
    hence the same numbers (``tests/test_worker_imports.py`` holds them equal).
    """
    start, end = _window_hours(run)
    changes, deployments, incidents = (Columns.of_run(run, name) for name in ("changes", "deployments", "incidents"))
    since, now = (float(s) for s in epoch_seconds(np.array([start, end])))
    # fourkeys_tables' commits: the time_created of each committed change, by change id (commit_id is one-to-one)
    first_commit = changes.floats("first_commit_hours")
    committed = ~np.isnan(first_commit)
    commit_seconds = dict(zip((int(c) for c in changes["change_id"][committed]), epoch_seconds(first_commit[committed])))
    # its deployments and incidents (fourkeys_tables' rows, with change ids for commits)
    deploys, opened_incidents = _fourkeys_events(deployments, incidents)
    # only the measured window goes in: time_created after the end of the warm-up
    deploys = [d for d in deploys if d[1] > since]
    opened_incidents = [i for i in opened_incidents if i[1] > since]
    # fourkeys_metrics: rows after the 3-month lookback from CURRENT_DATE (fourkeys_cutoff)
    today = _day_of(now)
    first_day = months_before(EPOCH.date() + timedelta(days=today), 3)
    cutoff = float((first_day - EPOCH.date()).days * _DAY_SECONDS)
    recent = [d for d in deploys if d[1] > cutoff]
    pairs = [(finished, i) for _, finished, listed, _ in recent for i in listed]  # explode("changes")
    matched = [(finished, i) for finished, i in pairs if i in commit_seconds]
    minutes = (np.array([f for f, _ in matched], dtype=float) - np.array([commit_seconds[i] for _, i in matched], dtype=float)) // 60
    minutes = minutes[minutes > 0]
    lead_minutes = _interpolated_median(minutes) if len(minutes) else 0.0
    resolved = [(created, restored) for _, created, restored, _ in opened_incidents if created > cutoff and not math.isnan(restored)]
    restore_hours = np.trunc(
        (np.array([r for _, r in resolved], dtype=float) - np.array([c for c, _ in resolved], dtype=float)) / 3600.0
    )
    restore = _interpolated_median(restore_hours)
    if len(matched) == 0:
        failure_rate = 0.0
    else:
        causes = Counter(i for *_, root in opened_incidents for i in root)  # value_counts of the incidents' changes
        failure_rate = float(sum(causes.get(i, 0) for _, i in pairs)) / len({d[0] for d in recent})
    days = (now - cutoff) / _DAY_SECONDS
    deploy_days = {EPOCH.date() + timedelta(days=_day_of(finished)) for _, finished, _, _ in deploys}
    frequency = _fourkeys_frequency(deploy_days, first_day, EPOCH.date() + timedelta(days=today))
    return _fourkeys_result(len(recent), days, lead_minutes, failure_rate, restore, frequency)


# -- DevLake -------------------------------------------------------------------------
def _ceil_minutes(hours: np.ndarray) -> np.ndarray:
    minutes = np.ceil(hours * 60.0 - 1e-9)
    return np.where(minutes < 0, 0.0, np.nan_to_num(minutes, nan=0.0))


def devlake_deployment_frequency(finished_hours: Union[pd.Series, np.ndarray], start: float, now: float) -> str:
    """DevLake's deployment-frequency benchmark (v1.0 docs, 2023): lower medians of deployment days per week and month."""
    deploy_days = set(np.floor(np.asarray(finished_hours, dtype=float) / 24.0).astype(int))
    n, weeks, months = 0, {}, {}
    while now - 24.0 * n > start:
        day = int(math.floor((now - 24.0 * n) / 24.0))
        deployed = int(day in deploy_days)
        weeks[day // 7] = weeks.get(day // 7, 0) + deployed  # day 0 is a Monday: weeks start on Monday
        calendar_day = (EPOCH + timedelta(days=day)).date()
        key = (calendar_day.year, calendar_day.month)
        months[key] = months.get(key, 0) + deployed
        n += 1
    if lower_median(weeks.values()) >= 5:
        return "On-demand"
    if lower_median(weeks.values()) >= 1:
        return "Between once per day and once per week"
    if lower_median(months.values()) >= 1:
        return "Between once per week and once per month"
    return "Fewer than once per month"


def devlake_profile(run: "Run") -> dict[str, Any]:
    """The run measured by Apache DevLake's rules (module docstring): numbers and DevLake's benchmark labels.

    Read from the run's columns in NumPy (:class:`~trunksim.metrics.columns.Columns`): no DataFrame is built.
    """
    start, end = _window_hours(run)
    changes, deployments, incidents = (Columns.of_run(run, name) for name in ("changes", "deployments", "incidents"))
    order = _shipped_order(deployments)  # the successful deployments, in time order
    finish_times = deployments.floats("finished_hours")[order]
    shipped_ids = deployments["deployment_id"][order]
    in_window = shipped_ids[(finish_times >= start) & (finish_times <= end)]
    deployed, merged = changes.floats("deployed_hours"), changes.floats("merged_hours")
    prs = (deployed >= start) & (deployed <= end) & ~np.isnan(merged)  # deployed_hours.between(start, end), merged
    submitted, first_commit, merged, deployed = (
        changes.floats("submitted_hours")[prs], changes.floats("first_commit_hours")[prs], merged[prs], deployed[prs]
    )
    cycle_minutes = _ceil_minutes(submitted - first_commit) + _ceil_minutes(merged - submitted) + _ceil_minutes(deployed - merged)
    lead_minutes = lower_median(cycle_minutes)
    detected = incidents.floats("detected_hours")
    opened = ~np.isnan(detected)
    slots = np.searchsorted(finish_times, detected[opened], side="right") - 1  # -1: before any successful one
    if len(finish_times):
        blamed_ids = np.where(slots >= 0, shipped_ids[np.clip(slots, 0, None)], -1)
        blamed_finish = np.where(slots >= 0, finish_times[np.clip(slots, 0, None)], np.nan)
    else:  # nothing ever shipped (a canary that failed every rollout): nobody to blame
        blamed_ids, blamed_finish = np.full(len(slots), -1), np.full(len(slots), np.nan)
    failure_rate = float(np.isin(in_window, blamed_ids).mean()) if len(in_window) else math.nan
    restored = incidents.floats("restored_hours")[opened]
    counted = (slots >= 0) & (restored >= start) & (restored <= end)
    recovery_minutes = lower_median(np.floor((restored[counted] - blamed_finish[counted]) * 60.0 + 1e-9))
    days = (end - start) / 24.0
    return {
        "deploys_per_day": len(in_window) / days,
        "lead_time_median_hours": lead_minutes / 60.0,
        "change_failure_rate": failure_rate,
        "recovery_time_median_hours": recovery_minutes / 60.0,
        "deployment_frequency_bucket": devlake_deployment_frequency(finish_times, start, end),
        "lead_time_bucket": _bucket(
            lead_minutes,
            ((24 * 60, "Less than one day"), (7 * 24 * 60, "Between one day and one week"), (30 * 24 * 60, "Between one week and one month")),
            "More than one month",
        ),
        "change_failure_rate_bucket": None if math.isnan(failure_rate) else (
            "0-5%" if failure_rate <= 0.05 else "5%-10%" if failure_rate <= 0.10 else "10%-15%" if failure_rate <= 0.15 else "> 15%"
        ),
        "recovery_time_bucket": _bucket(
            recovery_minutes,
            ((60, "Less than one hour"), (24 * 60, "Less than one day"), (7 * 24 * 60, "Between one day and one week")),
            "More than one week",
        ),
    }


# -- trunksim ------------------------------------------------------------------------------
def trunksim_profile(run: "Run") -> dict[str, float]:
    """The DORA columns by trunksim's own rules (:mod:`trunksim.metrics.dora`), over the run's measurement window.

    Returns
    -------
    dict
        ``deploys_per_day``, ``lead_time_median_hours``, ``lead_time_p90_hours``,
        ``change_failure_rate``, ``change_failure_rate_escaped``,
        ``recovery_time_median_hours``, ``rework_rate``, ``failure_exposure_user_hours_per_week`` (the order of
        ``trunksim.metrics.DORA_COLUMNS``).
    """
    settings = run.scenario.simulation
    w = Window(settings.warm_up, settings.duration)
    return dora.trunksim_dora_metrics(run.changes, run.deployments, run.incidents, w)


# -- all profiles ----------------------------------------------------------------------
def profile_metrics(run: "Run", profile: str = "trunksim") -> dict[str, Any]:
    """The DORA metrics of one run under one profile, with the tool's bucket labels.

    Parameters
    ----------
    run : Run
        A finished replication.
    profile : {"trunksim", "fourkeys", "devlake"}
        Whose rules to measure by.

    Returns
    -------
    dict
        ``deploys_per_day``, ``lead_time_median_hours``, ``change_failure_rate``,
        ``recovery_time_median_hours`` (same names and units under every profile), the
        other trunksim DORA columns where the profile defines them, and
        :data:`BUCKET_COLUMNS` (None under trunksim).
    """
    check_profile(profile)
    if profile == "fourkeys":
        return fourkeys_profile(run)
    if profile == "devlake":
        return devlake_profile(run)
    result: dict[str, Any] = trunksim_profile(run)
    result.update({name: None for name in BUCKET_COLUMNS})
    return result


def compare_profiles(run_or_runs: Union["Run", Iterable["Run"]], profiles: Iterable[str] = PROFILES, year: int = 2023) -> pd.DataFrame:
    """How the numbers differ when the same runs are measured by each profile's rules.

    Parameters
    ----------
    run_or_runs : Run or iterable of Run
        Finished replications (``trunksim.simulate``).
    profiles : iterable of str
        Profiles to apply, default all of :data:`PROFILES`.
    year : {2023, 2024}
        State of DevOps table for ``dora_level`` (:mod:`trunksim.metrics.levels`).

    Returns
    -------
    pandas.DataFrame
        One row per run × profile: ``scenario, strategy, replication, seed, profile``,
        ``deploys_per_day, lead_time_median_hours, change_failure_rate,
        recovery_time_median_hours``, the bucket labels, ``dora_level`` and
        ``dora_quick_check_score``.
    """
    import pandas as pd

    runs = [run_or_runs] if hasattr(run_or_runs, "frames") else list(run_or_runs)
    rows = []
    for run in runs:
        for profile in profiles:
            values = profile_metrics(run, profile)
            row = {
                "scenario": run.scenario.name, "strategy": run.scenario.strategy.name, "replication": run.replication,
                "seed": run.seed, "profile": profile,
            }
            row.update({k: values.get(k, math.nan) for k in levels.LEVEL_METRICS})
            row.update({k: values.get(k) for k in BUCKET_COLUMNS})
            row["dora_level"] = levels.overall_level(values, year=year)
            row["dora_quick_check_score"] = levels.quick_check_score(values)
            rows.append(row)
    return pd.DataFrame(rows)

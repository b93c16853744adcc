"""Parameters read straight off the records, each with its method and evidence.

Every estimator takes the joined :class:`~trunksim.calibrate.history.History` and
returns :class:`Estimate` rows: a scenario field, its value, how it was obtained
(``measured``; ``default`` when the records cannot show it; ``fitted`` and ``given`` are
added later by :mod:`trunksim.calibrate.fitting` and by the caller), the method in one
sentence and the evidence (counts and statistics). What the records cannot show keeps
the schema default and says so. The rules:

* **working pattern** (``team.calendar``): the hours of day and days of week at which
  people act (first commits, pull requests opened, author dates); an hour (day) is
  working time when it holds at least :data:`ACTIVE_SHARE` of the busiest hour's (day's)
  events, and the longest run of such hours is the working day. Times are UTC; the
  simulation's clock is the records' UTC clock.
* **team size** (``team.developers``): people who authored at least two changes (bots
  and release managers are not told apart; the report lists the count).
* **change size**: lines of merged changes; it sets the strategy's batch
  (``max_change_lines`` of trunk-based development: the 90th percentile rounded up to
  ten; ``max_branch_hours`` of scaled trunk-based development: the 90th percentile ÷ the
  coding pace) or, where a pull request is a whole feature (GitHub flow, GitFlow), the
  feature effort (median and 90th percentile ÷ the coding pace).
* **coding pace** (``work.lines_per_coding_hour``): lines ÷ working hours from first
  commit to pull request, where a change has both (at least 20 such changes).
* **CI** (``ci.duration``: median and 90th percentile of run times;
  ``ci.flaky_failure_probability``: failures whose immediate re-run, queued within two
  minutes on the same branch, passed ÷ runs; ``ci.automatic_retries``: 1 when most
  failures are re-run at once; ``ci.runners``: the most runs ever running at once, which
  is the pool size when runs queued, a lower bound otherwise).
* **deployment** (``deployment.mode``, ``cadence``, ``offset``): a release train shows
  as deployments clustered at one phase of a period: the largest period of
  :data:`CADENCES` at which at least :data:`TRAIN_SHARE` of deployments start within a
  tenth of the period of the mean phase, with trains no closer than half the period
  (:func:`find_train`); ``pipeline_duration``: median and 90th percentile of started →
  finished.
* **GitFlow's releases** (``strategy.release_cadence``, ``release_offset``): the same
  test on release pull requests opened (the cuts); without them, on deployments (the
  offset is then fitted, :func:`trunksim.calibrate.fitting.align_release_phase`).
* **strategy**: pull requests into ``develop`` (at least 30 %) mean GitFlow; pull
  request sizes capped (90th percentile ≤ 1.6 × median) mean small batches (trunk-based,
  or scaled trunk-based when most branches are ``task/*``); uncapped sizes mean a pull
  request per feature (GitHub flow). Without pull requests: a release train of a week or
  more carrying five or more changes per deployment means GitFlow; a main branch of
  merge commits means GitHub flow, a linear one trunk-based development. Without
  branches at all the guess is *weak* (a median lead time over a day: GitHub flow) and
  the calibration chooses by simulation instead
  (:func:`trunksim.calibrate.fitting.select_strategy`). The report says how strong the
  evidence is.
* **incidents** (``incidents.diagnosis_time`` where an incident opens at detection:
  resolved − created less the rollback time, median and 90th percentile); rate, failure
  rate and the rest are fitted by simulation (:mod:`trunksim.calibrate.fitting`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from trunksim.calibrate.history import History
from trunksim.calibrate.observe import Observation

ACTIVE_SHARE = 0.2
"""An hour of day (day of week) is working time when it holds this share of the busiest one's events."""

CADENCES: tuple[float, ...] = (2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 24.0, 48.0, 72.0, 168.0, 336.0, 504.0, 672.0)
"""Release-train periods looked for, clock hours."""

TRAIN_SHARE = 0.8
"""Share of deployments that must fall near one phase of a period for a release train."""

MIN_EVENTS = 20
"""Fewest events a distribution is estimated from; below it the default is kept."""

NOT_PEOPLE = ("bot", "release-manager", "dependabot", "renovate", "github-actions")
"""Author names left out of the team count (substrings, case-insensitive)."""


@dataclass
class Estimate:
    """One parameter and how it was obtained.

    Attributes
    ----------
    path : str
        Dotted scenario field (``team.developers``), or a figure that is not a field
        (e.g. ``(review wait)``) reported for evidence.
    value : Any
        The value as written in the scenario file (None when only reported).
    how : str
        ``measured``, ``fitted``, ``default``, ``given`` or ``reported``.
    method : str
        How, in one sentence.
    evidence : str
        The numbers it rests on.
    n : int
        Events it rests on.
    """

    path: str
    value: Any
    how: str
    method: str
    evidence: str = ""
    n: int = 0


@dataclass
class Findings:
    """What the estimators found: estimates, notes (warnings) and intermediate facts the fit needs."""

    estimates: list[Estimate] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    def add(self, *estimates: Estimate) -> None:
        self.estimates.extend(estimates)

    def value(self, path: str, default: Any = None) -> Any:
        """The latest estimate of a field (None if none)."""
        for estimate in reversed(self.estimates):
            if estimate.path == path and estimate.how != "reported":
                return estimate.value
        return default

    def overrides(self) -> dict[str, Any]:
        """Field → value for every estimate that sets a field (the latest wins)."""
        out: dict[str, Any] = {}
        for estimate in self.estimates:
            if estimate.how in ("measured", "fitted", "given") and not estimate.path.startswith("(") and estimate.value is not None:
                out[estimate.path] = estimate.value
        return out


# -- helpers ----------------------------------------------------------------------------------
def _hours(later: pd.Series, earlier: pd.Series) -> np.ndarray:
    return ((later - earlier).dt.total_seconds() / 3600.0).to_numpy(dtype=float)


def clock_hours(epoch_hours: pd.Series) -> np.ndarray:
    """UTC timestamps → hours since Monday 1970-01-05 00:00 UTC (so ``h % 168`` is the hour of the week)."""
    base = pd.Timestamp("1970-01-05", tz="UTC")
    return ((epoch_hours - base).dt.total_seconds() / 3600.0).to_numpy(dtype=float)


SIMULATION_ZERO = 490_896.0
"""Simulation hour 0 (:data:`trunksim.metrics.profiles.EPOCH`, Monday 2026-01-05) in :func:`clock_hours`, hours."""


def simulation_phase(phase: float, period: float) -> float:
    """A phase of :func:`clock_hours` within ``period`` as hours after simulation hour 0, within the period."""
    return (phase - SIMULATION_ZERO) % period


def lognormal(values: np.ndarray, digits: int = 3) -> tuple[float, float]:
    """Median and 90th percentile of positive values (the two numbers a log-normal is written with)."""
    values = values[~np.isnan(values) & (values > 0)]
    median = float(np.median(values))
    p90 = max(float(np.quantile(values, 0.9)), median * 1.0001)
    return round(median, digits), round(p90, digits)


def duration_text(hours: float) -> str:
    """Hours as a duration string a scenario reads: minutes below two hours, hours above."""
    if hours < 2.0:
        return f"{max(hours * 60.0, 0.01):.3g}m"
    return f"{hours:.4g}h"


def lognormal_field(values: np.ndarray) -> dict[str, Any]:
    """A log-normal distribution of hours as a scenario writes it."""
    median, p90 = lognormal(values, digits=6)
    return {"dist": "lognormal", "median": duration_text(median), "p90": duration_text(p90)}


def human_times(history: History) -> pd.Series:
    """Times at which people acted: first commits, pull requests opened, author dates (not merges)."""
    parts = [history.changes["first_commit"], history.changes["opened"], history.commits["authored"]]
    values = pd.concat([p.dropna() for p in parts if len(p.dropna())], ignore_index=True) if any(len(p.dropna()) for p in parts) else pd.Series([], dtype="datetime64[ns, UTC]")
    return values


# -- the estimators ---------------------------------------------------------------------------
def working_pattern(history: History, findings: Findings) -> None:
    """``team.calendar``: day start, hours per day and days per week from when people act."""
    times = human_times(history)
    if len(times) < MIN_EVENTS:
        findings.add(Estimate("team.calendar", None, "default", "needs times people acted (first commits, pull requests, author dates)",
                              f"{len(times)} such times (at least {MIN_EVENTS} needed)", len(times)))
        return
    hours = clock_hours(times) % 24.0
    counts = np.bincount(np.floor(hours).astype(int) % 24, minlength=24)
    active = counts >= ACTIVE_SHARE * counts.max()
    start, length = _longest_run(active)
    if start + length > 24:
        findings.notes.append(
            f"people act across midnight UTC (working hours {start}:00 for {length} h); the calendar keeps its defaults: "
            "set team.calendar with --set if you know it"
        )
        return
    in_day = (hours >= start) & (hours < start + length)
    days = np.floor(clock_hours(times)[in_day] / 24.0).astype(int) % 7
    per_day = np.bincount(days, minlength=7)
    working_days = per_day >= ACTIVE_SHARE * per_day.max()
    n_days = int(working_days.sum())
    if not working_days[:n_days].all():
        findings.notes.append(
            "the working days are not Monday to the n-th day (" + ", ".join(d for d, w in zip(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), working_days) if w)
            + "); the calendar counts them from Monday"
        )
    share_inside = float(in_day.mean())
    evidence = (
        f"{len(times):,} times; {share_inside:.0%} fall in {start:02d}:00-{start + length:02d}:00 UTC; "
        f"events per weekday Mon-Sun {', '.join(str(int(c)) for c in per_day)}"
    )
    method = f"hours of day and days of week holding at least {ACTIVE_SHARE:.0%} of the busiest one's first commits, pull requests and author dates"
    findings.add(
        Estimate("team.calendar.day_start_hour", int(start), "measured", method, evidence, len(times)),
        Estimate("team.calendar.hours_per_day", int(length), "measured", method, evidence, len(times)),
        Estimate("team.calendar.days_per_week", max(n_days, 1), "measured", method, evidence, len(times)),
    )
    findings.facts["calendar"] = (int(start), int(length), max(n_days, 1))


def _longest_run(active: np.ndarray) -> tuple[int, int]:
    """Start and length of the longest circular run of True in a 24-slot array."""
    if active.all():
        return 0, 24
    best_start, best_length = 0, 0
    for start in range(24):
        if active[start] and not active[start - 1]:
            length = 0
            while active[(start + length) % 24] and length < 24:
                length += 1
            if length > best_length:
                best_start, best_length = start, length
    return best_start, best_length


def team_size(history: History, findings: Findings) -> None:
    """``team.developers``: people with at least two changes (or commits) in the records."""
    authors = pd.concat([history.changes["author"], history.commits["author"] if not len(history.changes["author"].dropna()) else pd.Series([], dtype=object)])
    authors = authors.dropna().astype(str)
    authors = authors[~authors.str.lower().str.contains("|".join(NOT_PEOPLE), regex=True)]
    if not len(authors):
        findings.add(Estimate("team.developers", None, "default", "needs authors (pull requests or a git log)", "no authors in these records"))
        return
    per_person = authors.value_counts()
    team = int((per_person >= 2).sum())
    findings.add(Estimate(
        "team.developers", max(team, 1), "measured", "people who authored at least two changes",
        f"{len(per_person)} authors, {team} with two or more changes; changes per author median {per_person.median():.0f}", len(authors),
    ))
    findings.facts["authors"] = max(team, 1)


def change_size(history: History, findings: Findings) -> None:
    """Sizes of changes: median and 90th percentile (used once the strategy is known)."""
    changes = history.changes
    heads = changes["head"].fillna("").astype(str)
    feature = ~heads.str.startswith(("fix/", "hotfix/", "release/", "release-", "revert"))
    authors = changes["author"].fillna("").astype(str).str.lower()
    feature &= ~authors.str.contains("release-manager", regex=False)
    lines = changes.loc[feature & changes["merged"].notna() | feature & changes["deployed"].notna(), "lines"].to_numpy(dtype=float)
    lines = lines[~np.isnan(lines) & (lines > 0)]
    if len(lines) < MIN_EVENTS:
        findings.facts["sizes"] = None
        return
    findings.facts["sizes"] = (float(np.median(lines)), float(np.quantile(lines, 0.9)), len(lines))


def coding_pace(history: History, findings: Findings) -> None:
    """``work.lines_per_coding_hour`` from changes with both a first commit and an opening, and a size."""
    changes = history.changes
    both = changes[changes["first_commit"].notna() & changes["opened"].notna() & changes["lines"].notna()]
    both = both[both["opened"] > both["first_commit"]]
    calendar = findings.facts.get("calendar")
    if len(both) < MIN_EVENTS or calendar is None:
        findings.add(Estimate(
            "work.lines_per_coding_hour", None, "default",
            "needs changes with a first commit, a pull request opening and a size (e.g. Four Keys changes with DevLake pull requests)",
            f"{len(both)} such changes (at least {MIN_EVENTS} needed)", len(both),
        ))
        return
    worked = working_hours_between(both["first_commit"], both["opened"], calendar)
    pace = both["lines"].to_numpy(dtype=float) / np.maximum(worked, 0.25)
    value = round(float(np.median(pace)), 2)
    findings.add(Estimate(
        "work.lines_per_coding_hour", value, "measured", "median of lines ÷ working hours from first commit to pull request",
        f"{len(both)} changes; pace p10-p90 {np.quantile(pace, 0.1):.1f}-{np.quantile(pace, 0.9):.1f} lines/hour", len(both),
    ))


def working_hours_between(start: pd.Series, end: pd.Series, calendar: tuple[int, int, int]) -> np.ndarray:
    """Working hours of a calendar ``(day_start_hour, hours_per_day, days_per_week)`` between two times, per row."""
    first, length, days = calendar
    a, b = clock_hours(start), clock_hours(end)
    out = np.zeros(len(a))
    for i, (x, y) in enumerate(zip(a, b)):
        total, day = 0.0, math.floor(x / 24.0)
        while day * 24.0 < y and day - math.floor(x / 24.0) < 400:
            if day % 7 < days:
                open_, close = day * 24.0 + first, day * 24.0 + first + length
                total += max(0.0, min(close, y) - max(open_, x))
            day += 1
        out[i] = total
    return out


def ci(history: History, findings: Findings) -> None:
    """``ci.duration``, ``ci.flaky_failure_probability``, ``ci.automatic_retries``, ``ci.runners`` from CI runs."""
    runs = history.ci_runs
    runs = runs[~runs["conclusion"].isin(["cancelled", "skipped", "neutral"])].sort_values("created", kind="stable").reset_index(drop=True)
    if len(runs) < MIN_EVENTS:
        for path in ("ci.duration", "ci.flaky_failure_probability", "ci.runners"):
            findings.add(Estimate(path, None, "default", "needs CI runs (gh run list)", f"{len(runs)} CI runs", len(runs)))
        return
    duration = _hours(runs["finished"], runs["started"])
    median, p90 = lognormal(duration, digits=6)
    findings.add(Estimate(
        "ci.duration", lognormal_field(duration), "measured", "log-normal through the median and 90th percentile of run times (started → finished)",
        f"{len(runs):,} runs; median {median * 60:.1f} min, p90 {p90 * 60:.1f} min", len(runs),
    ))
    failed = runs["conclusion"].isin(["failure", "timed_out", "startup_failure"]).to_numpy()
    created = clock_hours(runs["created"])
    finished = clock_hours(runs["finished"])
    branch = runs["branch"].fillna("").astype(str).to_numpy()
    workflow = runs["workflow"].fillna("").astype(str).to_numpy()
    retried = flaky = 0
    for i in np.nonzero(failed)[0]:
        later = np.nonzero((branch == branch[i]) & (workflow == workflow[i]) & (created >= finished[i] - 1e-6) & (created <= finished[i] + 2.0 / 60.0))[0]
        later = later[later != i]
        if len(later):
            retried += 1
            flaky += int(not failed[later[0]])
    n_failed = int(failed.sum())
    findings.facts["ci_failure_rate"] = n_failed / len(runs)
    if n_failed and retried >= 0.5 * n_failed:
        findings.add(
            Estimate("ci.automatic_retries", 1, "measured", "failures re-run on the same branch within two minutes of failing",
                     f"{retried} of {n_failed} failures re-run at once", n_failed),
            Estimate("ci.flaky_failure_probability", round(flaky / len(runs), 4), "measured",
                     "failures whose immediate re-run passed ÷ runs", f"{flaky} flaky of {n_failed} failures in {len(runs):,} runs", n_failed),
        )
        findings.facts["ci_real_failure_rate"] = (n_failed - flaky) / len(runs)
    else:
        findings.add(Estimate(
            "ci.flaky_failure_probability", None, "default", "needs failures re-run at once (flaky ones pass on the re-run)",
            f"{retried} of {n_failed} failures re-run within two minutes", n_failed,
        ))
    started = clock_hours(runs["started"])
    ends = np.sort(finished)
    running = np.searchsorted(np.sort(started), started, side="right") - np.searchsorted(ends, started, side="right")
    most = int(running.max()) if len(running) else 1
    waits = _hours(runs["started"], runs["created"])
    queued = float(np.mean(waits > 1.0 / 60.0))
    saturated = queued >= 0.05
    findings.add(Estimate(
        "ci.runners", max(most, 1), "measured",
        "the most runs running at once" + (" (runs queued, so this is the pool)" if saturated else " (runs seldom queued: a lower bound of the pool)"),
        f"{len(runs):,} runs; {queued:.0%} waited over a minute to start", len(runs),
    ))


def deployment(history: History, findings: Findings) -> None:
    """Release train or continuous deployment, and the pipeline's duration."""
    good = history.deployments[history.deployments["success"].astype(bool)]
    findings.facts["train"] = None
    if len(good) < 8:
        findings.add(Estimate("deployment.mode", None, "default", "needs at least 8 successful deployments", f"{len(good)} deployments", len(good)))
        return
    pipeline = _hours(good["finished"], good["started"])
    known = pipeline[~np.isnan(pipeline)]
    pipeline_median = float(np.median(known)) if len(known) else 0.25
    if len(known) >= MIN_EVENTS:
        median, p90 = lognormal(known, digits=6)
        findings.add(Estimate(
            "deployment.pipeline_duration", lognormal_field(known), "measured", "log-normal through median and 90th percentile of deployment started → finished",
            f"{len(known)} deployments; median {median * 60:.1f} min, p90 {p90 * 60:.1f} min", len(known),
        ))
    starts = good["started"].where(good["started"].notna(), good["finished"] - pd.to_timedelta(pipeline_median, unit="h"))
    hours = np.sort(clock_hours(starts))
    train = find_train(hours)
    per_deployment = history.deployments["changes"].dropna().map(len)
    findings.facts["changes_per_deployment"] = float(per_deployment.median()) if len(per_deployment) else math.nan
    gaps = np.diff(hours)
    evidence_gaps = f"{len(good)} deployments; gaps median {np.median(gaps):.1f} h, p10 {np.quantile(gaps, 0.1):.2f} h"
    if train is None:
        findings.add(Estimate(
            "deployment.mode", "continuous", "measured",
            f"no period of {', '.join(f'{c:g}' for c in CADENCES)} h holds {TRAIN_SHARE:.0%} of deployments at one phase: deployments follow the work",
            evidence_gaps, len(good),
        ))
        return
    period, phase, near = train
    findings.facts["train"] = (period, phase, near)
    findings.add(Estimate(
        "(release train)", f"every {period:g} h at hour {phase:.1f} of the period (week hour from Monday 00:00 UTC)", "reported",
        f"largest period at which {TRAIN_SHARE:.0%} of deployments start within a tenth of the period of one phase",
        f"{near:.0%} of {len(good)} deployments near the phase; {evidence_gaps}", len(good),
    ))


def find_train(hours: np.ndarray, minimum: int = 8) -> tuple[float, float, float] | None:
    """``(period, phase, share)`` of the largest period of :data:`CADENCES` at which at least :data:`TRAIN_SHARE` of the
    times fall within a tenth of the period of one phase (those near it no closer than half a period), or None.

    ``hours`` are :func:`clock_hours`; the phase is within the period, in the same clock.
    """
    hours = np.sort(hours[~np.isnan(hours)])
    if len(hours) < minimum:
        return None
    span = hours[-1] - hours[0]
    train = None
    for period in CADENCES:
        if period > span / 2.0:
            break
        angle = 2.0 * np.pi * (hours % period) / period
        mean_angle = math.atan2(np.sin(angle).mean(), np.cos(angle).mean())
        distance = np.abs(np.angle(np.exp(1j * (angle - mean_angle)))) * period / (2.0 * np.pi)
        near = float(np.mean(distance <= 0.1 * period))
        gaps = np.diff(hours[distance <= 0.1 * period])
        spaced = float(np.mean(gaps >= 0.5 * period)) if len(gaps) else 0.0
        if near >= TRAIN_SHARE and spaced >= 0.9:
            phase = (mean_angle % (2.0 * np.pi)) * period / (2.0 * np.pi)
            train = (period, phase, near)
    return train


def release_branches(history: History, findings: Findings) -> None:
    """GitFlow's release cuts from release pull requests (``release/*`` into another branch): their cadence and phase."""
    changes = history.changes
    heads = changes["head"].fillna("").astype(str)
    releases = changes[heads.str.startswith("release") & changes["opened"].notna()]
    train = find_train(clock_hours(releases["opened"]), minimum=3) if len(releases) else None
    findings.facts["release_cuts"] = train
    if train is not None:
        period, phase, near = train
        findings.add(Estimate(
            "(release cuts)", f"every {period:g} h at hour {phase:.1f} of the period", "reported",
            "release pull requests opened at one phase of a period", f"{near:.0%} of {len(releases)} release pull requests near the phase",
            len(releases),
        ))


def incidents(history: History, findings: Findings) -> None:
    """``incidents.diagnosis_time`` where incidents open at detection (DevLake issues)."""
    opened_at_detection = any(s.kind == "devlake" and s.table == "issues" for s in history.sources)
    rows = history.incidents.dropna(subset=["resolved"])
    restore = _hours(rows["resolved"], rows["created"])
    restore = restore[restore > 0]
    if opened_at_detection and len(restore) >= 5:
        diagnosis = np.maximum(restore - 0.25, 1.0 / 60.0)
        median, p90 = lognormal(diagnosis, digits=6)
        findings.add(Estimate(
            "incidents.diagnosis_time", {"dist": "lognormal", "median": duration_text(median), "p90": duration_text(p90)}, "measured",
            "resolved − created (an incident opens at detection) less a 15-minute rollback: median and 90th percentile",
            f"{len(restore)} resolved incidents; restore median {np.median(restore):.2f} h", len(restore),
        ))


def strategy(history: History, obs: Observation, findings: Findings) -> None:
    """The branching strategy, with how strong the evidence is."""
    changes = history.changes
    merged = changes[changes["merged"].notna() & changes["base"].notna()]
    sizes = findings.facts.get("sizes")
    train = findings.facts.get("train")
    name, method, evidence, strength = "trunk-based", "", "", "weak"
    if len(merged) >= 10:
        develop = float((merged["base"].astype(str) == "develop").mean())
        task = float(merged["head"].fillna("").astype(str).str.startswith("task/").mean())
        if develop >= 0.3:
            name, strength = "gitflow", "strong"
            method = "pull requests merge into develop"
            evidence = f"{develop:.0%} of {len(merged)} merged pull requests go to develop"
        elif sizes is not None:
            median, p90, n = sizes
            capped = p90 <= 1.6 * median
            if capped and task >= 0.5:
                name, strength = "scaled-trunk-based", "strong"
                method = "small pull requests (sizes capped) from task branches"
            elif capped:
                name, strength = "trunk-based", "fair"
                method = "small changes: sizes capped (90th percentile within 1.6 × the median)"
            else:
                name, strength = "github-flow", "fair"
                method = "a pull request per feature into the deployed branch: sizes spread like features (90th percentile over 1.6 × the median)"
            evidence = f"{n} merged changes; size median {median:.0f}, p90 {p90:.0f} lines; {task:.0%} from task/ branches; bases: " + ", ".join(
                f"{b} {c}" for b, c in merged["base"].astype(str).value_counts().head(3).items())
        else:
            method = "pull requests into the deployed branch, sizes unknown"
            evidence = f"{len(merged)} merged pull requests; no sizes"
    if not method:
        per_deployment = findings.facts.get("changes_per_deployment", math.nan)
        commits = history.commits
        if train is not None and train[0] >= 168 and (math.isnan(per_deployment) or per_deployment >= 5):
            name, strength = "gitflow", "fair"
            method = "a release train of a week or more, each deployment carrying many changes"
            evidence = f"train every {train[0]:g} h; {per_deployment:.0f} changes per deployment (median)"
        elif len(commits) >= 10:
            merges = float((commits["parents"] >= 2).mean())
            name = "github-flow" if merges >= 0.5 else "trunk-based"
            strength = "fair"
            method = "main's history is " + ("merge commits of branches" if merges >= 0.5 else "linear (changes land directly)")
            evidence = f"{merges:.0%} of {len(commits)} commits on main are merges"
        else:
            lead = obs.values.get("lead_time_median_hours", math.nan)
            name = "github-flow" if lead > 24.0 else "trunk-based"
            method = "no branches in these records: a median lead time " + ("over" if lead > 24.0 else "under") + " a day"
            evidence = f"lead time median {lead:.1f} h; changes per deployment {per_deployment:.1f}"
    findings.facts["strategy"] = name
    findings.facts["strategy_strength"] = strength
    findings.add(Estimate(
        "strategy.name", name, "reported" if strength == "weak" else "measured", f"{method} (evidence: {strength})", evidence, len(merged),
    ))


def strategy_parameters(findings: Findings, pace_default: float) -> None:
    """The chosen strategy's batch and cadence parameters, and the feature effort, from sizes and the train."""
    name = findings.facts.get("strategy", "trunk-based")
    sizes = findings.facts.get("sizes")
    pace = findings.value("work.lines_per_coding_hour") or pace_default
    train = findings.facts.get("train")
    if sizes is not None:
        median, p90, n = sizes
        evidence = f"{n} merged changes; size median {median:.0f}, p90 {p90:.0f} lines; coding pace {pace:g} lines/hour"
        if name == "trunk-based":
            findings.add(Estimate("strategy.max_change_lines", float(math.ceil(p90 / 10.0) * 10), "measured",
                                  "90th percentile of change sizes rounded up to ten (features are cut at this size)", evidence, n))
        elif name == "scaled-trunk-based":
            findings.add(Estimate("strategy.max_branch_hours", duration_text(max(p90 / pace, 1.0)), "measured",
                                  "90th percentile of pull request sizes ÷ the coding pace (a task branch holds at most this much coding)", evidence, n))
        else:
            findings.add(Estimate(
                "work.feature_effort", {"dist": "lognormal", "median": f"{max(median / pace, 0.5):.4g}h", "p90": f"{max(p90 / pace, median / pace * 1.01, 0.6):.4g}h"},
                "measured", "a pull request is a feature: median and 90th percentile of its size ÷ the coding pace", evidence, n,
            ))
    cuts = findings.facts.get("release_cuts")
    if name == "gitflow" and cuts is not None:
        period, phase, near = cuts
        findings.add(
            Estimate("strategy.release_cadence", f"{period:g}h", "measured", "the period at which release pull requests are opened",
                     f"{near:.0%} of release pull requests at one phase"),
            Estimate("strategy.release_offset", f"{simulation_phase(phase, period):.4g}h", "measured",
                     "the mean phase of release pull requests opened (a release cut), hours after Monday 00:00 UTC within one period",
                     f"phase {simulation_phase(phase, period):.2f} h"),
        )
    elif name == "gitflow" and train is not None and train[0] >= 168:
        findings.add(Estimate("strategy.release_cadence", f"{train[0]:g}h", "measured", "the period of the release train", f"{train[2]:.0%} of deployments at one phase"))
        findings.facts["release_phase"] = train[1]
    elif name != "gitflow" and train is not None:
        period, phase, near = train
        offset = simulation_phase(phase, period)
        findings.add(
            Estimate("deployment.mode", "cadence", "measured", "deployments start at one phase of a period: a release train", f"{near:.0%} of deployments near the phase"),
            Estimate("deployment.cadence", f"{period:g}h", "measured", "the period of the train", f"phase {offset:.2f} h"),
            Estimate("deployment.offset", f"{offset:.4g}h", "measured", "the mean phase of deployment starts (hours after Monday 00:00 UTC, within one period)", f"phase {offset:.2f} h"),
        )


def estimate(history: History, obs: Observation) -> Findings:
    """Run every estimator over a history; :class:`Findings` with the estimates and notes."""
    findings = Findings()
    working_pattern(history, findings)
    team_size(history, findings)
    change_size(history, findings)
    coding_pace(history, findings)
    ci(history, findings)
    deployment(history, findings)
    release_branches(history, findings)
    incidents(history, findings)
    strategy(history, obs, findings)
    wait = obs.values.get("review_wait_median_hours", math.nan)
    if not math.isnan(wait):
        findings.add(Estimate(
            "(review wait)", f"{wait:.2f} h median", "reported",
            "first review − pull request opened; the model's review pickup produces it (compared in the back-test)",
            f"{obs.counts.get('review_wait_median_hours', 0)} reviewed pull requests", obs.counts.get("review_wait_median_hours", 0),
        ))
    findings.add(Estimate(
        "review.duration", None, "default", "a review's effort is not recorded (only when it was submitted)", "not in these records",
    ))
    return findings


__all__ = [
    "ACTIVE_SHARE", "CADENCES", "Estimate", "Findings", "MIN_EVENTS", "SIMULATION_ZERO", "TRAIN_SHARE", "ci", "clock_hours", "coding_pace",
    "change_size", "deployment", "duration_text", "estimate", "find_train", "human_times", "incidents", "lognormal", "lognormal_field",
    "release_branches", "simulation_phase",
    "strategy", "strategy_parameters", "team_size", "working_hours_between", "working_pattern",
]

"""Runaway guard: how big one replication will be, estimated from the scenario before it runs.

A scenario file is easy to get absurdly wrong — ``developers: 100000``, a year of
sub-second coding with an instant pipeline, a trunk cut into changes of a thousandth of
a line — and the run would then grind for hours or exhaust memory before
``simulation.max_events`` stopped it. :func:`estimate` predicts the size of one
replication from the schema parameters alone, in a few microseconds; :func:`check_size`
refuses the scenario, with a located :class:`~trunksim.scenario.problems.Problem` that
says why and how to proceed, when the estimate passes the bound.

The estimate follows the work the scenario describes (per replication; time in hours)::

    developer_hours = developers × working hours per week × weeks
    cost per change = coding (mean feature effort ÷ changes per feature)
                      + review (mean duration × (lines / reference_lines) ** size_exponent)
                      + fixing its expected defects + triaging every red CI cycle
                      + P(it breaks the build) × (revert + fix)
    changes         = developer_hours ÷ cost per change        (a fixed point: P(break)
                                                                grows with the merge rate)
    CI runs         = changes × builds × (cycles × runs per cycle + defects), at most the
                      pool's capacity beyond the runs a change needs anyway
    events          = 1.2·coding blocks + 1·change + 1.5·CI runs + 5·deployments + 2·developers
                      + the ticks of periodic processes + the merge queue's runs

A CI *cycle* is a run and its automatic retries: it comes back red with
``q = flaky ** (retries + 1)``, and then someone triages it and it runs again, so a
change needs ``1 / (1 - q)`` cycles of ``(1 - q) / (1 - flaky)`` runs each. With every
run flaky (``q = 1``) the cycles never end: the team then triages red runs for the whole
run, so the runs are ``developer_hours ÷ triage time × runs per cycle``, as many as the
runners can take (a zero-hour triage or CI run loops without time passing: unbounded).

Changes per feature and the interval between the strategy's own releases are the
strategy's answers (:meth:`~trunksim.strategies.base.StrategyParams.changes_per_feature`,
:meth:`~trunksim.strategies.base.StrategyParams.release_interval_hours`), never guessed
from parameter names, and the field that cuts a feature into changes is the strategy's
``batch_field``. Feature effort is floored at one minute, as the engine floors it, and a busy trunk
breaks (``1 - (1 - q)^n`` for ``n`` merges during a change's CI run) and slows the team
down, so a year of sub-second coding with the shipped review and CI is ~4·10⁵ events,
not absurd; with an instant pipeline and forty developers it is. The estimate is the
work *asked for*: a CI pool far too small for the team is not credited with starving it
(the message says so); only red cycles beyond that work wait for the runners. The
coefficients were fitted to measured SimPy event counts of the shipped scenarios and of
68 variants stretching every parameter above; every estimate lies within 0.63–2.01× of
the measured count (``docs/reliability.md``; the per-change coefficient was refitted from 2
to 1 when the engine stopped scheduling a start event for each change), far inside the factor of 500 between a
shipped scenario (~10⁴ events) and the default bound (5·10⁶, about a minute of one core).

When a scenario is refused, the field named is the one whose schema default would
shrink the estimate most (:data:`_CANDIDATES`, and the strategy's batch field): a focus
block of a third of a second is blamed on ``team.focus_block``, not on the team's size.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Mapping

from trunksim.scenario.loading import locate_field
from trunksim.scenario.problems import Problem, ScenarioError
from trunksim.scenario.schema import Scenario

ENGINE_MIN_FEATURE_EFFORT_HOURS = 1.0 / 60.0
"""The engine codes every feature for at least this long, working hours (the engine's floor on feature effort)."""

MAX_CHANGES_PER_FEATURE = 10_000
"""Most changes one feature may be cut into, changes: the engine plans a feature's changes
up front, so a feature cut into millions of one-line changes exhausts memory at once."""

EVENTS_PER_CODING_BLOCK = 1.2
EVENTS_PER_CHANGE = 1.0
EVENTS_PER_CI_RUN = 1.5
EVENTS_PER_DEPLOYMENT = 5.0
EVENTS_PER_DEVELOPER = 2.0
EVENTS_PER_QUEUED_CHANGE = 3.0
"""Fitted SimPy events per unit of work (see the module docstring), events."""

_MANY_CYCLES = 1e12
"""Red CI cycles per change when every run fails (``q = 1``): unbounded, kept finite for the arithmetic."""

_LONGEST_MEAN_HOURS = 1e12
"""Means beyond this are taken as this, hours: keeps the arithmetic finite (0 × inf would be NaN)."""


@dataclass(frozen=True)
class SizeEstimate:
    """The expected size of one replication of a scenario.

    Attributes
    ----------
    developer_hours : float
        Working hours of the whole team over the run, hours.
    features : float
        Features worked on, features.
    changes_per_feature : float
        Changes one average feature is cut into, changes.
    changes : float
        Changes born, changes.
    ci_runs : float
        CI pipeline runs (pre- and post-merge), runs.
    deployments : float
        Production deployments, deployments.
    events : float
        SimPy events scheduled, events (what ``simulation.max_events`` bounds).
    replications : int
        Replications a run of the scenario makes by default, runs.
    coding_blocks : float
        Focus blocks of coding (``team.focus_block`` each at most), blocks.
    """

    developer_hours: float
    features: float
    changes_per_feature: float
    changes: float
    ci_runs: float
    deployments: float
    events: float
    replications: int
    coding_blocks: float = 0.0


def _mean(distribution: Any) -> float:
    """A distribution's mean in hours, kept finite (at most ``_LONGEST_MEAN_HOURS``)."""
    try:
        value = float(distribution.mean_hours())
    except OverflowError:  # a log-normal whose p90 is astronomically above its median
        value = math.inf
    return min(value, _LONGEST_MEAN_HOURS) if not math.isnan(value) else _LONGEST_MEAN_HOURS


def estimate(scenario: Scenario) -> SizeEstimate:
    """Estimate the size of one replication of ``scenario`` without running it.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario.

    Returns
    -------
    SizeEstimate
        Expected developer-hours, features, changes, CI runs, deployments and SimPy
        events of one replication (see the module docstring for the formulas).
    """
    team, work, review, ci = scenario.team, scenario.work, scenario.review, scenario.ci
    deployment, duration = scenario.deployment, scenario.simulation.duration
    calendar = team.calendar
    hours_per_week = calendar.hours_per_day * calendar.days_per_week if calendar.enabled else 168.0
    developer_hours = team.developers * hours_per_week * duration / 168.0

    effort = max(_mean(work.feature_effort), ENGINE_MIN_FEATURE_EFFORT_HOURS)
    per_feature = max(1.0, float(scenario.strategy.changes_per_feature(effort, effort * work.lines_per_coding_hour)))
    effort_per_change = effort / per_feature
    lines = max(1.0, effort_per_change * work.lines_per_coding_hour)

    review_hours = _mean(review.duration) * (lines / review.reference_lines) ** review.size_exponent if review.enabled else 0.0
    defects = work.defects_per_100_lines * lines / 100.0
    flaky, retries = ci.flaky_failure_probability, ci.automatic_retries
    q = flaky ** (retries + 1)  # a whole cycle (a run and its retries) fails flakily
    runs_per_cycle = float(retries + 1) if flaky >= 1.0 else (1.0 - q) / (1.0 - flaky)
    red_cycles = min(q / (1.0 - q), _MANY_CYCLES) if q < 1.0 else _MANY_CYCLES  # before a green one
    builds = 2.0 if ci.post_merge else 1.0  # the change's own CI, then its target's post-merge build
    red_per_change = builds * red_cycles + defects * ci.defect_detection_probability
    cost_per_change = effort_per_change + review_hours + defects * _mean(work.fix_time) + red_per_change * _mean(ci.triage_time)
    cost_per_change = max(cost_per_change, 1e-12)  # a feature cut into ever more pieces costs at least something

    runs_per_change = builds * ((1.0 + red_cycles) * runs_per_cycle + defects)

    # Semantic breakage slows a busy team down: a change merged after n others landed
    # since its CI base breaks the build with 1 - (1 - q)^n, and each break costs a
    # revert (post-merge CI) and a fix. n grows with the merge rate, so the number of
    # changes is the fixed point of changes = developer_hours / cost(changes).
    working_hours = max(duration * hours_per_week / 168.0, 1e-12)
    ci_window = _mean(ci.duration) * (1.0 + ci.flaky_failure_probability)
    break_cost = _mean(work.fix_time) + (ci.revert_time if ci.post_merge else 0.0)
    breakage = scenario.merging.semantic_breakage_probability

    def cost(changes: float) -> float:
        concurrent = min(changes / working_hours * ci_window, 1e9)
        return cost_per_change + (1.0 - (1.0 - breakage) ** concurrent) * break_cost

    low, high = 0.0, min(developer_hours / cost_per_change, 1e300)
    for _ in range(60):  # bisection: developer_hours / cost(c) - c falls as c grows
        middle = (low + high) / 2
        low, high = (middle, high) if developer_hours / cost(middle) > middle else (low, middle)
    changes = low

    deploy_cycle = _mean(deployment.pipeline_duration) + (deployment.canary.bake_time if deployment.canary.enabled else 0.0)
    if deployment.mode == "cadence":
        deploy_cycle = max(deploy_cycle, deployment.cadence)
    if deployment.approval.enabled:
        deploy_cycle = max(deploy_cycle, deployment.approval.cadence)
    deploy_cycle = max(deploy_cycle, float(scenario.strategy.release_interval_hours()))  # the strategy's own releases
    deployments = min(changes, duration / max(deploy_cycle, 1e-9))

    blocks = changes * max(1.0, effort_per_change / team.focus_block + 0.5)
    ci_runs = changes * runs_per_change
    needed = changes * builds * (1.0 + defects)  # the runs a change needs anyway: asked for, whatever the pool
    capacity = ci.runners * duration / _mean(ci.duration) if _mean(ci.duration) > 0 else math.inf
    ci_runs = min(ci_runs, max(needed, capacity))  # red cycles beyond that wait for a runner
    queue = getattr(scenario, "merge_queue", None)
    if queue is not None and queue.enabled:  # a queue run per batch, runs thrown away behind a failure, bisection
        ci_runs += changes * (1.0 / queue.max_batch + queue.speculation_depth * (1.0 - (1.0 - flaky) ** queue.max_batch))
    events = (
        EVENTS_PER_CODING_BLOCK * blocks
        + EVENTS_PER_CHANGE * changes
        + EVENTS_PER_CI_RUN * ci_runs
        + EVENTS_PER_DEPLOYMENT * deployments
        + EVENTS_PER_DEVELOPER * team.developers
        + _ticks(scenario, duration)
    )
    if queue is not None and queue.enabled:
        events += EVENTS_PER_QUEUED_CHANGE * changes
    if math.isnan(events):  # only for absurd inputs (a duration of 1e308 hours): call it unbounded
        events = math.inf
    return SizeEstimate(
        developer_hours=developer_hours, features=changes / per_feature, changes_per_feature=per_feature,
        changes=changes, ci_runs=ci_runs, deployments=deployments, events=events,
        replications=scenario.simulation.replications, coding_blocks=blocks,
    )


def _ticks(scenario: Scenario, duration: float) -> float:
    """Events of processes that wake on a clock whatever the work (the error budget's burn-rate check)."""
    budget = getattr(scenario, "error_budget", None)
    if budget is not None and budget.enabled:
        return duration / max(budget.check_every, 1e-300)
    return 0.0


_CANDIDATES: dict[str, str] = {
    "team.developers": "fewer team.developers",
    "simulation.duration": "a shorter simulation.duration",
    "work.feature_effort": "a longer work.feature_effort",
    "team.focus_block": "a longer team.focus_block",
    "ci.flaky_failure_probability": "a lower ci.flaky_failure_probability",
    "ci.triage_time": "a longer ci.triage_time",
    "ci.duration": "a longer ci.duration",
    "error_budget.check_every": "a longer error_budget.check_every",
}
"""Fields that multiply a replication's events, with the advice for each. The strategy's
batch field (``StrategyParams.batch_field``) is a candidate too, with its own advice."""


def _batch(scenario: Scenario) -> tuple[str, str, float] | None:
    """The strategy's batch field as a dotted path, the advice for it and its yardstick, if it has one."""
    params = type(scenario.strategy)
    if params.batch_field is None:
        return None
    return f"strategy.{params.batch_field}", params.batch_advice, params.reference_changes_per_feature


def _default(model: Any, name: str) -> Any:
    info = type(model).model_fields[name]
    return info.get_default(call_default_factory=True)


def _reset(scenario: Scenario, dotted: str) -> Scenario | None:
    """``scenario`` with the field at ``dotted`` back at its schema default (unvalidated; for the estimate only)."""
    parts = dotted.split(".")
    chain: list[Any] = [scenario]
    for part in parts[:-1]:
        chain.append(getattr(chain[-1], part, None))
        if chain[-1] is None:
            return None
    if parts[-1] not in type(chain[-1]).model_fields:
        return None
    value = _default(chain[-1], parts[-1])
    for model, part in zip(reversed(chain), reversed(parts)):
        value = model.model_copy(update={part: value})
    return value


def _cause(scenario: Scenario, size: SizeEstimate) -> tuple[str, str]:
    """The field that makes the scenario big, and the advice: the one whose default value shrinks the estimate most."""
    candidates = dict(_CANDIDATES)
    batch = _batch(scenario)
    if batch is not None:
        candidates[batch[0]] = batch[1]
    best, best_ratio = "team.developers", 0.0
    for field in candidates:
        reset = _reset(scenario, field)
        if reset is None:
            continue
        try:
            smaller = estimate(reset).events
        except Exception:  # pragma: no cover - a default that does not fit the rest: not this field
            continue
        ratio = size.events / smaller if smaller > 0 else math.inf
        if ratio > best_ratio * 1.0001:  # ties: the first candidate (the team's size, the run's length, ...)
            best, best_ratio = field, ratio
    return best, candidates[best]


def _refuse(scenario: Scenario, file: str | os.PathLike | None, overrides: Mapping[str, Any], field: str, message: str) -> ScenarioError:
    where = (f"<scenario {scenario.name!r}>", None) if file is None else locate_field(file, overrides, field)
    return ScenarioError([Problem(*where, field, message)])


def check_size(
    scenario: Scenario,
    *,
    limit: float | None = None,
    file: str | os.PathLike | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> SizeEstimate:
    """Refuse a scenario whose replications would be absurdly big; return its estimate otherwise.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario.
    limit : float, optional
        Most SimPy events one replication may be expected to need; defaults to the
        scenario's own ``simulation.max_events`` (a run past it would be stopped anyway).
    file : path, optional
        The scenario file, to name in the problem and to find the line of the field at
        fault; without it the problem names ``<scenario 'NAME'>``.
    overrides : mapping, optional
        The overrides the scenario was loaded with (as given to ``load_scenario``), so a
        field set by ``--set`` is reported at ``<override>``, not at the file's line.

    Returns
    -------
    SizeEstimate
        The estimate, when the scenario is within bounds.

    Raises
    ------
    ScenarioError
        With one problem naming the field that makes the scenario big, the estimate and
        what to do: shrink that field, or raise ``simulation.max_events`` if it is meant.
        An organisation is estimated repository by repository and refused on the sum
        (all its repositories share one simulation and one event bound).
    """
    if scenario.organisation is not None:
        return _check_organisation(scenario, limit, file, overrides or {})
    size = estimate(scenario)
    _check_feature_cut(scenario, size, scenario, file, overrides or {})
    bound = f"simulation.max_events = {scenario.simulation.max_events:,}" if limit is None else f"the limit of {limit:,.0f}"
    if size.events > (scenario.simulation.max_events if limit is None else limit):
        field, advice = _cause(scenario, size)
        ci = scenario.ci
        capacity = ci.runners * scenario.simulation.duration / max(_mean(ci.duration), 1e-9)
        starved = f"; its {ci.runners:,} CI runners could run only ~{capacity:,.0f}" if capacity < size.ci_runs / 2 else ""
        message = (
            f"one replication would need about {size.events:,.0f} simulation events, more than {bound}: "
            f"{scenario.team.developers:,} developers, {size.developer_hours:,.0f} developer-hours, "
            f"~{size.changes:,.0f} changes in ~{size.coding_blocks:,.0f} focus blocks, ~{size.ci_runs:,.0f} CI runs{starved} "
            f"(allowed: {advice}, or raise simulation.max_events if this size is meant)"
        )
        raise _refuse(scenario, file, overrides or {}, field, message)
    return size


def _check_feature_cut(
    unit: Scenario, size: SizeEstimate, scenario: Scenario, file: str | os.PathLike | None, overrides: Mapping[str, Any],
    of: str = "",
) -> None:
    """Refuse ``unit`` (``scenario`` itself, or one repository of it) if its strategy cuts a feature into too many changes."""
    batch = _batch(unit)
    if batch is not None and size.changes_per_feature > MAX_CHANGES_PER_FEATURE:
        field, advice, _ = batch
        message = (
            f"an average feature{of} would be cut into {size.changes_per_feature:,.0f} changes, planned at once "
            f"(allowed: {advice}, so a feature is at most {MAX_CHANGES_PER_FEATURE:,} changes)"
        )
        raise _refuse(scenario, file, overrides, field, message)


def _check_organisation(
    scenario: Scenario, limit: float | None, file: str | os.PathLike | None, overrides: Mapping[str, Any],
) -> SizeEstimate:
    """:func:`check_size` for an organisation: each repository checked, then the sum of their events."""
    from trunksim.scenario.organisation import unit_plans

    plans = unit_plans(scenario)
    sizes = []
    for plan in plans:
        size = estimate(plan.scenario)
        _check_feature_cut(plan.scenario, size, scenario, file, overrides, of=f" of {plan.name}")
        sizes.append(size)
    total = SizeEstimate(
        developer_hours=sum(s.developer_hours for s in sizes), features=sum(s.features for s in sizes),
        changes_per_feature=max(s.changes_per_feature for s in sizes), changes=sum(s.changes for s in sizes),
        ci_runs=sum(s.ci_runs for s in sizes), deployments=sum(s.deployments for s in sizes),
        events=sum(s.events for s in sizes), replications=sizes[0].replications,
        coding_blocks=sum(s.coding_blocks for s in sizes),
    )
    bound = scenario.simulation.max_events if limit is None else limit
    if total.events > bound:
        message = (
            f"one replication would need about {total.events:,.0f} simulation events, more than "
            f"{'simulation.max_events = ' + format(scenario.simulation.max_events, ',') if limit is None else format(limit, ',.0f')}: "
            f"{len(plans)} repositor{'y' if len(plans) == 1 else 'ies'}, {scenario.organisation.developers:,} developers, "
            f"~{total.changes:,.0f} changes, ~{total.ci_runs:,.0f} CI runs "
            "(allowed: fewer developers or a shorter simulation.duration, or raise simulation.max_events if this size is meant)"
        )
        raise _refuse(scenario, file, overrides, "organisation.teams", message)
    return total

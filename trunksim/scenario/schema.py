"""The scenario schema: every parameter of the model, with its unit and default.

A scenario is one YAML document validated against :class:`Scenario`. Models are strict
(``extra="forbid"``: a misspelt key is an error, never silently ignored) and frozen
(values cannot be changed after loading; use :meth:`Scenario.with_overrides`, which
validates: ``model_copy(update=...)`` does not, so the run functions check again).

Units: every duration is typed with its unit (:mod:`trunksim.units`). **Clock hours**
are simulation time: machines, pipelines, cadences and incidents (the on-call works
around the clock); **working hours** are human effort (coding, review, fixing, triage),
which becomes clock time only through ``team.calendar``. A duration is a number of hours
or a number written together with ``s``, ``m``, ``h`` (and, for clock hours only, ``d``
of 24 hours or ``w`` of 168): ``"45m"``, ``"2h"``, ``"3d"``. Probabilities lie in
[0, 1]; sizes are lines of code; counts are whole numbers. Defaults describe a team of
eight working on a web service and are cited where a published figure exists (see
``docs/references.md`` and the README).
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any, Literal, Mapping, Optional

from pydantic import BaseModel, ConfigDict, Field, model_validator

from trunksim.scenario.distributions import (
    ClockExponential,
    ClockHoursDistribution,
    ClockLogNormal,
    WorkingHoursDistribution,
    WorkingLogNormal,
)
from trunksim.scenario.mechanisms import (
    Cost,
    ErrorBudget,
    FlagLifecycle,
    MergeQueue,
    Postmortems,
    Progressive,
    TestSelection,
)
from trunksim.scenario.organisation import Organisation, unit_plans
from trunksim.scenario.overrides import apply_overrides
from trunksim.scenario.problems import FieldsError, ScenarioError, show_value
from trunksim.strategies.registry import parameter_union
from trunksim.units import WORKING, ClockHours, PositiveClockHours, PositiveWorkingHours

StrategyParameters = parameter_union()
"""Any registered strategy's parameters, told apart by ``name``."""

SCHEMA_VERSION = 1
"""The scenario schema version this package reads."""

MAX_SWEEP_POINTS = 10_000
"""Most scenarios one sweep may expand to (grid combinations plus variants), scenarios."""

Probability = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
"""A probability in [0, 1]."""


class Section(BaseModel):
    """Base of every scenario section: unknown keys rejected, NaN and infinities refused, values frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False)


def _working(median: str, p90: str) -> WorkingLogNormal:
    return WorkingLogNormal(dist="lognormal", median=median, p90=p90)


def _clock(median: str, p90: str) -> ClockLogNormal:
    return ClockLogNormal(dist="lognormal", median=median, p90=p90)


class Calendar(Section):
    """When people work. Machines (CI, pipelines) and incidents ignore it."""

    enabled: bool = Field(True, description="false: people work around the clock")
    hours_per_day: Annotated[float, Field(gt=0, le=24)] = Field(8.0, description="working hours per day, hours")
    days_per_week: Annotated[int, Field(ge=1, le=7)] = Field(5, description="working days per week (Monday first), days")
    day_start_hour: Annotated[float, Field(ge=0, lt=24)] = Field(9.0, description="clock hour the working day starts, hours after midnight")
    start_spread: ClockHours = Field(
        0.0,
        description="developers of a time zone start their day spread evenly over this long after day_start_hour "
        "(0: everyone starts together), clock hours",
    )
    time_zones: tuple[Annotated[float, Field(ge=0, lt=24)], ...] = Field(
        (0.0,),
        description="time zones the team works in, as hours behind the first (e.g. [0, 6] for Berlin and New York); "
        "developers are spread over them in turn, hours",
    )

    @model_validator(mode="after")
    def _day_fits(self) -> "Calendar":
        if self.day_start_hour + self.hours_per_day > 24:
            raise FieldsError("day_start_hour + hours_per_day must not pass midnight", "day_start_hour", "hours_per_day")
        return self


class Team(Section):
    """The developers. Everyone codes, reviews, fixes and takes on-call turns."""

    developers: Annotated[int, Field(ge=1, le=100_000)] = Field(8, description="number of developers, people")
    calendar: Calendar = Field(default_factory=Calendar)
    focus_block: PositiveWorkingHours = Field(
        2.0, description="longest stretch of coding before a developer checks for reviews and failures, working hours"
    )
    max_open_changes: Annotated[int, Field(ge=1, le=1000)] = Field(
        4, description="changes a developer may have submitted but not merged before starting no new coding, changes"
    )
    on_call_rotation: PositiveClockHours = Field(
        168.0, description="length of one developer's on-call turn (answering at any hour), clock hours"
    )


class Work(Section):
    """The work that arrives: features, their size, and the defects they carry."""

    feature_effort: WorkingHoursDistribution = Field(
        default_factory=lambda: _working("16h", "60h"), description="coding effort of one feature, working hours"
    )
    lines_per_coding_hour: Annotated[float, Field(gt=0, le=10_000)] = Field(
        20.0, description="lines of change produced per hour of coding, lines/hour"
    )
    defects_per_100_lines: Annotated[float, Field(ge=0, le=100)] = Field(
        0.15, description="latent defects written per 100 lines (Poisson mean), defects"
    )
    severity_shares: tuple[Probability, Probability, Probability] = Field(
        (0.6, 0.3, 0.1), description="shares of defects that are minor, major, critical (severity 1, 2, 3); sum to 1"
    )
    fix_time: WorkingHoursDistribution = Field(
        default_factory=lambda: _working("1h", "4h"), description="time to fix one found defect, working hours"
    )
    backlog_features: Annotated[int, Field(ge=0)] = Field(
        0, description="features available in all; 0 means the backlog never runs dry, features"
    )

    @model_validator(mode="after")
    def _shares_sum_to_one(self) -> "Work":
        if abs(sum(self.severity_shares) - 1.0) > 1e-6:
            raise FieldsError("severity_shares must sum to 1", "severity_shares")
        return self


class Review(Section):
    """Code review by another developer; competes with the reviewer's own coding."""

    enabled: bool = Field(True, description="false: changes go straight to CI")
    duration: WorkingHoursDistribution = Field(
        default_factory=lambda: _working("20m", "1h"),
        description="review time of a change of reference_lines lines, working hours (Sadowski et al. 2018)",
    )
    reference_lines: Annotated[float, Field(gt=0)] = Field(100.0, description="size the duration is given for, lines")
    size_exponent: Annotated[float, Field(ge=0, le=2)] = Field(
        0.5, description="review time grows as (lines / reference_lines) ** size_exponent, dimensionless"
    )
    detection_probability: Probability = Field(
        0.6, description="chance a review finds a given defect in a very small change, probability"
    )
    half_effectiveness_lines: Annotated[float, Field(gt=0)] = Field(
        400.0,
        description="size at which review finds defects half as often: p = detection_probability / (1 + lines / this), lines (SmartBear/Cisco)",
    )
    rereview_factor: Annotated[float, Field(ge=0, le=1)] = Field(
        0.3, description="a second review round takes this fraction of the first, dimensionless"
    )
    reviewers: Annotated[int, Field(ge=0, le=100_000)] = Field(
        0, description="developers who review (the first N of the team; 0: everyone; at least 2 when set), people"
    )
    response_time: Annotated[Optional[WorkingHoursDistribution], WORKING] = Field(
        None,
        description="how long a review request waits before it pings a reviewer, who puts coding aside to review it; "
        "unset: reviewers pick requests up only between focus blocks and tasks, working hours",
    )

    @model_validator(mode="after")
    def _two_reviewers(self) -> "Review":
        if self.reviewers == 1:
            raise FieldsError("reviewers must be 0 (everyone) or at least 2, so an author never waits for themselves", "reviewers")
        return self


class CI(Section):
    """Continuous integration on a shared pool of runners."""

    runners: Annotated[int, Field(ge=1, le=100_000)] = Field(4, description="concurrent CI runners, runners")
    duration: ClockHoursDistribution = Field(
        default_factory=lambda: _clock("10m", "25m"),
        description="one pipeline run, clock hours (CircleCI 2023: median a few minutes, 10 min as benchmark)",
    )
    defect_detection_probability: Probability = Field(
        0.6, description="chance the test suite covers (and so always catches) a given defect, probability"
    )
    flaky_failure_probability: Probability = Field(
        0.03,
        description="chance a run fails spuriously (Google 2016: ~1.5% of test runs flaky; GitHub 2020: ~9% of commits hit a flaky red build), probability per run",
    )
    automatic_retries: Annotated[int, Field(ge=0, le=10)] = Field(
        1, description="times a failed run is re-run automatically before a developer is told, runs"
    )
    triage_time: WorkingHoursDistribution = Field(
        default_factory=lambda: _working("20m", "1h"), description="time a developer spends reading a red run, working hours"
    )
    post_merge: bool = Field(True, description="run CI again on the target branch after every merge")
    red_branch_policy: Literal["revert", "fix-forward"] = Field(
        "revert", description="what the author of a change that broke the branch does"
    )
    revert_time: PositiveWorkingHours = Field(
        0.25, description="the author's time to revert a breaking change, working hours"
    )
    test_selection: TestSelection = Field(default_factory=TestSelection)


class Merging(Section):
    """Merge conflicts and semantic breakage. See ``trunksim.engine.merging``."""

    conflict_coefficient: Annotated[float, Field(ge=0, le=100)] = Field(
        0.0085,
        description=(
            "k in P(conflict) = 1 - exp(-k * (change_lines / 100) * (lines merged into the target since the branch "
            "last synced / 1000)); calibrated so a 400-line, 3-day feature branch in a team of 8 conflicts ~15% "
            "(Ghiotto et al.: 10-20%), dimensionless"
        ),
    )
    resolution_time: WorkingHoursDistribution = Field(
        default_factory=lambda: _working("30m", "3h"), description="time to resolve one conflict, working hours"
    )
    resolution_defect_probability: Probability = Field(
        0.1, description="chance resolving a conflict writes a new defect (Brindescu et al.: conflicting code ~2x as bug-prone), probability"
    )
    semantic_breakage_probability: Probability = Field(
        0.03,
        description=(
            "chance, per change merged into the target since this change's CI base, that merging breaks the build "
            "(Ananthanarayanan et al. 2019: ~40% breakage with 16 concurrent changes => ~0.03), probability"
        ),
    )


class Canary(Section):
    """Canary analysis: a share of traffic on the new version for a bake time."""

    enabled: bool = Field(False, description="route a share of traffic to each new deployment first")
    traffic_share: Probability = Field(0.05, description="share of traffic on the canary, fraction")
    bake_time: ClockHours = Field(1.0, description="how long the canary runs before full rollout, clock hours")
    detection_sensitivity: Annotated[float, Field(ge=0)] = Field(
        20.0,
        description=(
            "s in P(detect) = 1 - exp(-s * severity * traffic_share * bake_time_hours); with the defaults a minor defect "
            "is caught 63% and a critical 95% of the time (Gandalf, NSDI 2020: ~100% recall on bad deployments), per traffic-hour"
        ),
    )
    automatic_rollback: bool = Field(True, description="a failed canary is rolled back without a person")


class Approval(Section):
    """A change-approval board that meets on a cadence and approves queued deployments."""

    enabled: bool = Field(False, description="deployments wait for the next board meeting")
    cadence: PositiveClockHours = Field(168.0, description="time between board meetings, clock hours")
    offset: ClockHours = Field(
        14.0, description="time of the first meeting after simulation start (Monday 00:00), clock hours"
    )


class Deployment(Section):
    """How and when production deployments happen."""

    mode: Literal["continuous", "cadence"] = Field(
        "continuous", description="continuous: deploy every new green build; cadence: a release train at fixed times"
    )
    cadence: PositiveClockHours = Field(
        24.0, description="time between release trains in cadence mode, clock hours"
    )
    offset: ClockHours = Field(
        10.0, description="time of the first train after simulation start (Monday 00:00), clock hours"
    )
    pipeline_duration: ClockHoursDistribution = Field(
        default_factory=lambda: _clock("15m", "40m"),
        description="deployment pipeline from start to full rollout, clock hours",
    )
    canary: Canary = Field(default_factory=Canary)
    approval: Approval = Field(default_factory=Approval)


class Incidents(Section):
    """Production failures and how service is restored."""

    time_to_failure: ClockHoursDistribution = Field(
        default_factory=lambda: ClockExponential(dist="exponential", mean="3d"),
        description="from a defect reaching all users to the failure it causes, clock hours",
    )
    detection_delay: ClockHoursDistribution = Field(
        default_factory=lambda: _clock("15m", "2h"),
        description="from failure to an alert a responder acts on, clock hours",
    )
    diagnosis_time: ClockHoursDistribution = Field(
        default_factory=lambda: _clock("30m", "3h"),
        description="on-call responder's time to find the cause, any hour of the day, clock hours (VOID report: long-tailed)",
    )
    rollback_enabled: bool = Field(True, description="a failure caused by the latest deployment may be rolled back")
    rollback_time: PositiveClockHours = Field(0.25, description="time to roll back one deployment, clock hours")
    flag_off_time: PositiveClockHours = Field(1.0 / 6.0, description="time to turn a feature flag off, clock hours")
    fix_time: ClockHoursDistribution = Field(
        default_factory=lambda: _clock("1h", "6h"),
        description="on-call responder's time to write a fix-forward change, any hour of the day, clock hours",
    )
    monitoring_coverage: Probability = Field(
        1.0,
        description="share of failures monitoring alerts on; customers report the rest after customer_report_delay, probability",
    )
    customer_report_delay: ClockHoursDistribution = Field(
        default_factory=lambda: _clock("4h", "2d"),
        description="from a failure monitoring missed to a customer report a responder acts on, clock hours",
    )
    ticket_max_severity: Annotated[int, Field(ge=0, le=3)] = Field(
        0,
        description="failures of this severity or lower (1 minor, 2 major, 3 critical) page nobody: they become tickets, "
        "and service is restored when the fix ships through the normal flow; 0: every failure pages, severity",
    )
    irreversible_failure_share: Probability = Field(
        0.0,
        description="share of failures rolling back does not cure (a data migration, corrupted state): "
        "restored only by a fix forward, probability",
    )


class Simulation(Section):
    """Length of a run, replications, seed and safety bounds."""

    duration: PositiveClockHours = Field(12 * 168.0, description="simulated time per replication, clock hours")
    warm_up: ClockHours = Field(2 * 168.0, description="initial time excluded from metrics, clock hours")
    replications: Annotated[int, Field(ge=1, le=100_000)] = Field(20, description="replications per scenario, runs")
    seed: Annotated[int, Field(ge=0, lt=2**63)] = Field(1, description="root seed of all random streams")
    max_events: Annotated[int, Field(ge=1000)] = Field(
        5_000_000,
        description="a replication stops with an error after this many simulation events (a shipped scenario needs "
        "~10,000; 5,000,000 take about a minute), and a scenario estimated to need more is refused before it runs, events",
    )
    max_wall_seconds: Annotated[float, Field(gt=0)] = Field(
        900.0, description="a replication stops with an error after this much real time, seconds"
    )

    @model_validator(mode="after")
    def _warm_up_inside(self) -> "Simulation":
        if self.warm_up >= self.duration:
            raise FieldsError("warm_up must be shorter than duration", "warm_up", "duration")
        return self


SWEEP_REFUSED: dict[str, str] = {
    "simulation.seed": (
        "every point of a sweep runs with the same root seed, so the points are paired (common random numbers) "
        "(allowed: run the sweep once per seed, with --seed or seed=)"
    ),
    "simulation.replications": (
        "every point of a sweep runs the same replications (allowed: set them for the whole run, with -n or replications=)"
    ),
    "strategy": (
        "its column would take the place of the results' strategy column "
        "(allowed: sweep one of its parameters, such as strategy.max_change_lines, give each strategy its own "
        "scenario file, or use sweep variants that set strategy)"
    ),
    "sweep": "a sweep cannot change sweeps (allowed: fields of the scenario)",
}
"""Field paths a sweep may not set, and why: a value that would be ignored or would break
the results table. ``strategy`` is refused in a grid only (its column); a variant may set it."""

_GRID_ONLY = ("strategy",)


def sweep_path_problem(path: str, grid: bool = True) -> str | None:
    """Why a sweep may not set the dotted ``path`` (None: it may).

    A path is refused if it is one of :data:`SWEEP_REFUSED` or holds one (``simulation``
    holds ``simulation.seed``); with ``grid=False`` (a variant's ``set``), the whole
    ``strategy`` is allowed, since a variant has no column of its own per path.
    """
    for refused, why in SWEEP_REFUSED.items():
        if not grid and refused in _GRID_ONLY:
            continue
        if path == refused or (refused == "sweep" and path.startswith("sweep.")):  # strategy.x may be swept
            return f"cannot be swept: {why}"
        if refused.startswith(path + "."):
            return f"cannot be swept as a whole: it holds {refused}, which cannot be swept: {why}"
    return None


def _same_value_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def sweep_problems(grid: Mapping[str, Any], variants: Any = ()) -> list[tuple[tuple, str]]:
    """What is wrong with a sweep before any point is made: ``(where, message)`` pairs.

    ``where`` is the place inside the sweep (``("grid", "ci.runners")``,
    ``("variants", 0, "set", "simulation.seed")``). Checked: paths a sweep may not set
    (:func:`sweep_path_problem`), a path with no values or with a value given twice, two
    grid paths of which one holds the other, two variants with one name, and more than
    :data:`MAX_SWEEP_POINTS` points.
    """
    problems: list[tuple[tuple, str]] = []
    paths = [str(path) for path in grid]
    for path in paths:
        values = grid[path]
        refused = sweep_path_problem(path)
        if refused:
            problems.append((("grid", path), refused))
        elif len(values) == 0:
            problems.append((("grid", path), "has no values (allowed: a list of one value or more)"))
        else:
            seen: set[str] = set()
            for value in values:
                key = _same_value_key(value)
                if key in seen:
                    problems.append(
                        (("grid", path), f"the value {show_value(value)} is given twice (allowed: each value once; "
                         "a repeated value makes two identical points)")
                    )
                    break
                seen.add(key)
        outer = next((other for other in paths if path.startswith(other + ".")), None)
        if outer is not None:
            problems.append(
                (("grid", path), f"{path} is inside {outer}, which the sweep also sets (allowed: paths that do not hold each other)")
            )
    names: dict[str, int] = {}
    for index, variant in enumerate(variants):
        name = variant.get("name") if isinstance(variant, Mapping) else getattr(variant, "name", None)
        settings = variant.get("set", {}) if isinstance(variant, Mapping) else getattr(variant, "set", {})
        for path in settings or {}:
            refused = sweep_path_problem(str(path), grid=False)
            if refused:
                problems.append((("variants", index, "set", path), refused))
        if name in names:
            problems.append(
                (("variants", index, "name"), f"variant name {show_value(name)} is also variant {names[name] + 1}'s "
                 "(allowed: a different name for each variant)")
            )
        names.setdefault(name, index)
    points = math.prod(len(grid[path]) for path in paths) if paths else 0
    if points + len(variants) > MAX_SWEEP_POINTS:
        problems.append(
            ((), f"the sweep has {points + len(variants):,} points (allowed: at most {MAX_SWEEP_POINTS:,}; "
             "split it into several sweeps)")
        )
    return problems


class Variant(Section):
    """One named variant of a sweep: a set of overrides."""

    name: str = Field(min_length=1, max_length=200, description="label of the variant in tables and plots")
    set: dict[str, Any] = Field(default_factory=dict, description="dotted field path -> value, as with --set")


class Sweep(Section):
    """A parameter sweep: every combination of ``grid``, and each of ``variants``.

    Paths a sweep may not set (:data:`SWEEP_REFUSED`: the seed and the replications,
    shared by every point; the whole strategy), empty lists, repeated values, grid paths
    holding each other and repeated variant names are refused where they are written.
    """

    grid: dict[str, tuple[Any, ...]] = Field(
        default_factory=dict, description="dotted field path -> list of values; every combination is run"
    )
    variants: tuple[Variant, ...] = Field((), description="named sets of overrides, each run as it is")

    @model_validator(mode="after")
    def _a_sweep_that_can_run(self) -> "Sweep":
        problems = sweep_problems(self.grid, self.variants)
        if problems:
            where, message = problems[0]
            if not where:  # the whole sweep (too many points)
                raise ValueError(message)
            raise FieldsError(message, where)
        return self


class Scenario(Section):
    """One scenario: a team, its work, its delivery process and how long to simulate."""

    schema_version: Literal[1] = Field(SCHEMA_VERSION, description="scenario schema version")
    name: str = Field("scenario", min_length=1, max_length=200, description="short name used in tables and plots")
    description: str = Field("", max_length=10_000, description="what the scenario describes")
    lesson: str = Field("", max_length=10_000, description="what the scenario teaches, in two or three sentences")
    strategy: StrategyParameters = Field(description="branching strategy and its parameters; `name` picks the strategy")
    team: Team = Field(default_factory=Team)
    work: Work = Field(default_factory=Work)
    review: Review = Field(default_factory=Review)
    ci: CI = Field(default_factory=CI)
    merging: Merging = Field(default_factory=Merging)
    deployment: Deployment = Field(default_factory=Deployment)
    incidents: Incidents = Field(default_factory=Incidents)
    merge_queue: MergeQueue = Field(default_factory=MergeQueue)
    error_budget: ErrorBudget = Field(default_factory=ErrorBudget)
    progressive: Progressive = Field(default_factory=Progressive)
    postmortems: Postmortems = Field(default_factory=Postmortems)
    cost: Cost = Field(default_factory=Cost)
    flags: FlagLifecycle = Field(default_factory=FlagLifecycle)
    simulation: Simulation = Field(default_factory=Simulation)
    organisation: Optional[Organisation] = Field(
        None, description="optional: several teams and services, in one repository or one per service"
    )
    sweep: Optional[Sweep] = Field(None, description="optional sweep: a grid of values or a list of named variants")

    @model_validator(mode="after")
    def _an_organisation_that_can_run(self) -> "Scenario":
        org = self.organisation
        if org is None:
            return self
        if org.layout == "monorepo" and self.review.reviewers > 0:
            raise FieldsError(
                "review.reviewers names the first developers of one team; in a monorepo of several teams leave it at 0 "
                "(everyone reviews their own team's changes)", ("organisation", "layout"),
            )
        base = self.model_copy(update={"organisation": None, "sweep": None})
        for kind, items in (("teams", org.teams), ("services", org.services)):
            for i, item in enumerate(items):
                for path, value in item.set.items():
                    try:
                        base.with_overrides({path: value})
                    except ScenarioError as error:
                        raise FieldsError(error.problems[0].message, ("organisation", kind, i, "set", path)) from None
        try:
            unit_plans(self)
        except ScenarioError as error:
            problem = error.problems[0]
            raise FieldsError(f"a team's or service's set gives an invalid scenario: {problem.field}: {problem.message}",
                              ("organisation",)) from None
        return self

    def with_overrides(self, overrides: Mapping[str, Any]) -> "Scenario":
        """Return a new scenario with dotted-path fields replaced: the way to change a scenario.

        ``model_copy(update=...)``, pydantic's own copy, puts values in *without*
        validation (``ci.runners = 0`` would pass); :func:`trunksim.run`,
        :func:`trunksim.simulate` and :func:`trunksim.sweep` check a scenario again
        before it runs and refuse such a one with the problem located at
        ``<scenario 'NAME'>``.

        Parameters
        ----------
        overrides : mapping of str to value
            ``{"ci.runners": 8, "deployment.canary.enabled": True}``. Values are
            validated exactly as if written in the YAML file.

        Returns
        -------
        Scenario
            A new, validated scenario; ``self`` is unchanged.

        Raises
        ------
        ScenarioError
            If a path is unknown or a value invalid; problems name the file ``<override>``.
        """
        return apply_overrides(self, overrides)

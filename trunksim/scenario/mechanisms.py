"""Scenario sections of the optional delivery mechanisms any strategy can switch on.

Each is off by default (a scenario without the section simulates exactly as before),
documented with its parameters, units and sources (docs/references.md), recorded in
the event tables and reflected in the metrics.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from trunksim.scenario.distributions import ClockHoursDistribution, ClockLogNormal
from trunksim.units import ClockHours, PositiveClockHours, PositiveWorkingHours, WorkingHours


class MechanismSection(BaseModel):
    """Base of a mechanism's section: unknown keys rejected, values frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False)


class TestSelection(MechanismSection):
    """Predictive test selection: CI runs a predicted subset of the suite.

    Machalica et al., "Predictive Test Selection" (ICSE-SEIP 2019, Facebook): running a
    third of the tests that depend on the change halved the infrastructure cost of testing
    while over 95% of individual test failures and 99.9% of faulty changes were still
    reported. The defaults take the cost figure for the duration and the conservative 95%
    for the chance that a defect the full suite covers is still caught.
    """

    __test__ = False  # not a pytest class

    enabled: bool = Field(False, description="CI runs a predicted subset of the tests")
    duration_factor: Annotated[float, Field(gt=0, le=1)] = Field(
        0.5, description="CI run duration with selection ÷ without (Machalica et al. 2019: cost halved), ratio"
    )
    detection_factor: Annotated[float, Field(ge=0, le=1)] = Field(
        0.95,
        description="chance the selected subset still catches a defect the full suite covers "
        "(Machalica et al. 2019: > 95% of test failures reported), probability",
    )


class MergeQueue(MechanismSection):
    """A merge queue (merge-on-green): changes land only after CI passes on the merged result.

    An approved change whose own CI passed joins its target's queue. The queue takes up to
    ``max_batch`` changes (waiting up to ``batch_wait`` for a full batch), tests the result
    of merging them onto the current tip, and lands them if it passes. Up to
    ``speculation_depth`` batches are tested at once, each assuming those ahead pass; when
    one fails, the runs behind it are thrown away (``wasted``) and their changes are tested
    again. A failed batch is bisected until the breaking changes are found; they go back to
    their authors. A flaky failure is retried ``flaky_retries`` times, then treated like a
    real one, so it can evict an innocent change, as in real queues. A change tested on the
    tip can no longer break the target after it lands.

    Anchors: GitHub merge queue (build concurrency 1-100, group size, wait time); bors-ng
    (batching with bisection, O(E log N) builds); Uber SubmitQueue (Ananthanarayanan et al.,
    EuroSys 2019: speculation over the queue); Mergify (batch-failure splitting).
    """

    enabled: bool = Field(False, description="approved changes land through a merge queue")
    max_batch: Annotated[int, Field(ge=1, le=100)] = Field(
        4, description="most changes tested and landed together (GitHub: merge group size), changes"
    )
    batch_wait: ClockHours = Field(
        0.1, description="longest the queue waits for a full batch before testing a smaller one, clock hours"
    )
    speculation_depth: Annotated[int, Field(ge=1, le=100)] = Field(
        1, description="batches tested at once, each assuming those ahead pass (GitHub: build concurrency), batches"
    )
    flaky_retries: Annotated[int, Field(ge=0, le=10)] = Field(
        1, description="automatic re-runs of a batch whose run failed spuriously before it is split, runs"
    )


class ErrorBudget(MechanismSection):
    """A service-level objective and its error budget; a fast burn freezes feature deployments.

    Failure exposure (a failure's duration × the share of users it reaches) is the bad time.
    Over the last ``burn_window`` the burn rate is ``exposure / burn_window / (1 - objective)``:
    1 burns the budget exactly as fast as the objective allows. Above ``freeze_burn_rate``
    (Google SRE workbook, "Alerting on SLOs": page on a fast burn; the issue's seed suggests
    3× baseline) feature deployments freeze — fixes and hotfixes still ship — until the
    burn rate is back at or below 1. The monitor looks every ``check_every``.

    A team uses the freeze (``reliability_work``, the workbook's example error-budget
    policy): while frozen, a developer who would start a new feature does a piece of
    reliability work instead (``reliability_task`` working hours), each of which closes
    ``reliability_detection_gain`` of the gap to 1 in the suite's chance of catching a
    defect, for good.
    """

    enabled: bool = Field(False, description="freeze feature deployments while the error budget burns fast")
    objective: Annotated[float, Field(gt=0, lt=1)] = Field(
        0.999, description="share of user-time the service must be good (99.9%), probability"
    )
    window: PositiveClockHours = Field(
        672.0, description="rolling window the objective is judged over, clock hours (672 = four weeks)"
    )
    burn_window: PositiveClockHours = Field(
        6.0, description="recent time the burn rate is measured over, clock hours"
    )
    freeze_burn_rate: Annotated[float, Field(gt=1)] = Field(
        3.0, description="burn rate above which feature deployments freeze, multiples of the budgeted rate"
    )
    check_every: PositiveClockHours = Field(0.25, description="how often the burn rate is checked, clock hours")
    reliability_work: bool = Field(
        True, description="during a freeze, developers do reliability work instead of starting new features"
    )
    reliability_task: PositiveWorkingHours = Field(
        4.0, description="length of one piece of reliability work, working hours"
    )
    reliability_detection_gain: Annotated[float, Field(ge=0, le=1)] = Field(
        0.01,
        description="share of the gap to 1 that one piece of reliability work closes in the suite's chance "
        "of catching a defect (every severity), fraction",
    )


class CanaryStep(MechanismSection):
    """One step of a progressive rollout."""

    traffic_share: Annotated[float, Field(gt=0, le=1)] = Field(description="share of traffic on the new version, fraction")
    bake_time: ClockHours = Field(description="how long the step runs before the next, clock hours")


class Progressive(MechanismSection):
    """Progressive delivery: canary steps, or blue/green.

    ``steps`` replace the single canary of ``deployment.canary`` (which must be enabled for
    them to run): each step exposes its traffic share for its bake time and is judged like
    the canary (a live defect of severity s is caught with probability
    ``1 - exp(-sensitivity * s * share * bake)``); a caught defect rolls back at that step,
    having reached only that step's share of users. The seed's Kubernetes rollout is
    1% for 10 minutes, then 50%, then 100%.

    ``blue_green``: a deployment switches all traffic to a second environment at once (no
    partial exposure); a failure is restored by switching back in ``switch_back_time``
    instead of ``incidents.rollback_time``; the idle environment is a cost
    (``cost.environment_hour`` for a second environment).

    ``performance_regression_share``: the share of latent defects that are performance
    regressions, which the test suite cannot catch; only a canary or production meets them.
    """

    steps: tuple[CanaryStep, ...] = Field((), description="canary steps in order; empty: the single canary of deployment.canary")
    blue_green: bool = Field(False, description="switch all traffic between two environments; switch back on failure")
    switch_back_time: ClockHours = Field(0.05, description="time to switch traffic back to the old environment, clock hours")
    performance_regression_share: Annotated[float, Field(ge=0, le=1)] = Field(
        0.0, description="share of latent defects that are performance regressions CI cannot catch, probability"
    )


class Postmortems(MechanismSection):
    """Postmortems that teach: after an incident, an action that makes the suite catch that class of defect.

    Each production incident gets a postmortem (``postmortem_time`` of the on-call
    engineer's working hours); after ``action_lag`` its action raises the test suite's
    chance of catching defects of that severity by ``detection_gain`` (towards 1). Game
    days cut diagnosis time by ``game_day_diagnosis_factor``.
    """

    enabled: bool = Field(False, description="write a postmortem after every production incident")
    postmortem_time: WorkingHours = Field(2.0, description="time to write a postmortem, working hours")
    action_lag: ClockHours = Field(
        168.0, description="from the incident to its action taking effect in the test suite, clock hours"
    )
    detection_gain: Annotated[float, Field(ge=0, le=1)] = Field(
        0.1, description="each action closes this share of the gap between the suite's detection probability and 1, fraction"
    )
    game_day_diagnosis_factor: Annotated[float, Field(gt=0, le=1)] = Field(
        1.0, description="diagnosis time with regular game days ÷ without (1: no game days), ratio"
    )


class Cost(MechanismSection):
    """Prices for cost accounting, in one currency unit per hour (the unit is the user's)."""

    enabled: bool = Field(False, description="report costs")
    developer_hour: Annotated[float, Field(ge=0)] = Field(100.0, description="cost of a developer's working hour, currency/hour")
    ci_runner_hour: Annotated[float, Field(ge=0)] = Field(0.5, description="cost of a CI runner's busy hour, currency/hour")
    environment_hour: Annotated[float, Field(ge=0)] = Field(
        2.0, description="cost of one production environment per clock hour (blue/green pays for two), currency/hour"
    )
    impact_user_hour: Annotated[float, Field(ge=0)] = Field(
        1000.0, description="business impact of one hour of failure for all users, currency per user-hour of exposure"
    )


class FlagLifecycle(MechanismSection):
    """The life of feature flags: turned on at release, removed later or never; debt and misconfiguration.

    A flag goes live when its feature is released (turned on for the first time). With
    probability ``removal_probability`` it is removed after a drawn ``removal_delay``;
    otherwise it stays for good (flag debt). Every live flag slows coding by
    ``coding_slowdown_per_flag`` (a coding hour of effort takes ``1 + k × live flags``
    working hours: a documented, adjustable coefficient, a modelling choice), and causes
    misconfiguration failures (a flag exposing wrong behaviour) at
    ``misconfiguration_rate`` per live flag per week, cut by ``guard_effectiveness``
    (flag guards: defaults, kill switches, validation). A misconfiguration is restored by
    switching the flag back (``incidents.flag_off_time``). Anchor: Piranha (Ramanathan
    et al., ICSE-SEIP 2020) on stale flags at Uber; the rates are modelling choices.
    """

    enabled: bool = Field(False, description="model the flags' lifecycle: removal, debt, misconfiguration")
    every_feature: bool = Field(False, description="put every feature behind a flag, whatever the strategy")
    removal_probability: Annotated[float, Field(ge=0, le=1)] = Field(
        0.8, description="chance a flag is ever removed after its feature is released, probability"
    )
    removal_delay: ClockHoursDistribution = Field(
        default_factory=lambda: ClockLogNormal(dist="lognormal", median="2w", p90="8w"),
        description="from a flag's release to its removal, clock hours",
    )
    coding_slowdown_per_flag: Annotated[float, Field(ge=0, le=1)] = Field(
        0.002, description="extra coding effort per live flag (0.002: 100 live flags make coding 20% slower), fraction"
    )
    misconfiguration_rate: Annotated[float, Field(ge=0, le=10)] = Field(
        0.005, description="misconfiguration failures per live flag per week, before guards, failures/flag/week"
    )
    guard_effectiveness: Annotated[float, Field(ge=0, le=1)] = Field(
        0.0, description="share of misconfigurations flag guards prevent, fraction"
    )

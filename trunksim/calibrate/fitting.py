"""Parameters the records cannot show, fitted by simulation so the model reproduces what they do show.

Three fits, each measuring simulated histories exactly as the team's was measured (the
run written in the same formats, read back, :func:`~trunksim.calibrate.observe.observe`):

1. **Capacity** (only when no authors are recorded, e.g. Four Keys alone):
   ``team.developers`` is scaled by observed ÷ simulated changes per week and rounded,
   until it stops changing (at most :data:`CAPACITY_ROUNDS` rounds).
2. **Release phase** (GitFlow): ``strategy.release_offset`` is moved by the difference
   between the observed and the simulated phase of the release deployments, once.
3. **Quality and recovery**: the latent defect rate ``work.defects_per_100_lines``, and
   where the records carry their signal ``ci.defect_detection_probability`` (the CI
   failure rate), ``review.detection_probability`` (the share of pull requests with
   changes requested) and the recovery-time parameter (``incidents.time_to_failure``
   where an incident's clock starts at the deployment of its cause, as in Four Keys;
   ``incidents.diagnosis_time`` where it starts at detection), so that the simulated
   incident rate, change failure rate, recovery time and those shares match the
   observed ones.

**Method of the quality fit: a response surface under common random numbers.** The
objective is a simulation: noisy, and under common random numbers piecewise constant in
the parameters (a defect either exists or not), so gradients are useless and a direct
optimiser (Nelder–Mead) stalls on plateaus or chases noise. Instead a scrambled Sobol
design (``scipy.stats.qmc.Sobol``) of parameter points in a box (log scale for rates
and times, logit scale for probabilities) is simulated, every point with the same
replications (common random numbers, so the differences between points are the
parameters', not luck's). A quadratic (linear, when the points are few) regression of
each log figure on the transformed parameters is the surrogate, and
``scipy.optimize.least_squares`` (trust-region reflective, bounded to the box) finds the
parameters whose predicted figures are nearest the observed ones, each residual divided
by its uncertainty (the observed count's Poisson or binomial error in log scale, plus
the surrogate's residual error). A second, narrower design around the first answer
refines it. The fit's interval comes from re-solving the surrogate with the observed
figures redrawn within their uncertainty (a parametric bootstrap, 200 draws): it says
how much the records pin each parameter down, not the simulation noise. Parameters the
records give no signal for stay at their prior and are reported as not identifiable.

This is cheap (``points × replications`` short simulations, a few seconds to a minute),
deterministic for a seed, and uses only NumPy and SciPy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

import numpy as np
import pandas as pd

from trunksim.calibrate.estimators import Estimate, clock_hours, duration_text
from trunksim.calibrate.history import History, SourceFile
from trunksim.calibrate.observe import Observation, observe

CAPACITY_ROUNDS = 3
"""Most rounds of the team-size fit."""

BOOTSTRAP_DRAWS = 200
"""Draws of the parametric bootstrap of the fitted parameters."""


# -- simulating histories like the team's --------------------------------------------------
def measure_task(task: tuple) -> dict[str, float]:
    """One replication measured like the team's history: ``(scenario, seed, replication, sources)`` → figures.

    A module-level function, so worker processes can run it.
    """
    from trunksim.calibrate.formats import simulated_history
    from trunksim.experiment import simulate

    scenario, seed, replication, sources = task
    like = History(sources=[SourceFile(path, kind, table, 0) for path, kind, table in sources])
    run = simulate(scenario, seed=seed, replication=replication)
    history = simulated_history(run, like)
    figures = observe(history).as_row()
    for period in PHASE_PERIODS:
        figures[f"deploy_phase_{period:g}h"] = deploy_phase(history, period)
    return figures


PHASE_PERIODS: tuple[float, ...] = (168.0, 336.0, 504.0, 672.0)
"""Periods whose deployment phase every simulated history reports (for GitFlow's release phase), clock hours."""


def deploy_phase(history: History, period: float) -> float:
    """Circular mean phase, within ``period``, of successful deployment starts (finishes where starts are unknown).

    Hours since Monday 1970-01-05 00:00 UTC modulo the period (:func:`~trunksim.calibrate.estimators.clock_hours`);
    NaN without deployments.
    """
    good = history.deployments[history.deployments["success"].astype(bool)]
    if not len(good):
        return math.nan
    starts = good["started"].where(good["started"].notna(), good["finished"])
    angle = 2 * np.pi * (clock_hours(starts) % period) / period
    return float((math.atan2(np.sin(angle).mean(), np.cos(angle).mean()) % (2 * np.pi)) * period / (2 * np.pi))


@dataclass
class Simulator:
    """Runs replications of scenarios and measures them like ``like`` (the team's history)."""

    like: History
    seed: int = 1
    jobs: int = 1
    progress: Optional[Callable[[str], None]] = None
    runs: int = 0

    @property
    def sources(self) -> list[tuple[str, str, str]]:
        return [(s.path, s.kind, s.table) for s in self.like.sources]

    def figures(self, scenarios: Sequence[Any], replications: int) -> list[pd.DataFrame]:
        """For each scenario, a frame of ``replications`` rows of figures (replications 0.., common random numbers)."""
        from trunksim.executors import completed, executor_for

        tasks = [(scenario, self.seed, k, self.sources) for scenario in scenarios for k in range(replications)]
        rows: list[Optional[dict]] = [None] * len(tasks)
        with executor_for(jobs=self.jobs) as executor:
            for index, row in completed(measure_task, tasks, executor):
                rows[index] = row
        self.runs += len(tasks)
        return [pd.DataFrame(rows[i * replications:(i + 1) * replications]) for i in range(len(scenarios))]


# -- parameters and their scales -------------------------------------------------------------
@dataclass(frozen=True)
class Parameter:
    """A fitted parameter: its field, the scale it is searched on, its box and how it is written."""

    path: str
    scale: str  # log or logit
    low: float
    high: float
    prior: float
    write: Callable[[float], Any]
    target: str  # the figure that carries its signal

    def to_unit(self, value: float) -> float:
        return math.log(value) if self.scale == "log" else math.log(value / (1.0 - value))

    def from_unit(self, x: float) -> float:
        return math.exp(x) if self.scale == "log" else 1.0 / (1.0 + math.exp(-x))


@dataclass
class Target:
    """An observed figure the fit aims at, with its uncertainty in log scale."""

    name: str
    value: float
    sigma: float
    floor: float  # added before taking logs (a rate of 0 is a figure too)


@dataclass
class FitResult:
    """What a fit found: estimates, the design it simulated and notes."""

    estimates: list[Estimate] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    overrides: dict[str, Any] = field(default_factory=dict)
    design: Optional[pd.DataFrame] = None


def _bounded(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def quality_parameters(scenario: Any, observed: Observation, history: History) -> tuple[list[Parameter], list[str]]:
    """The parameters the records carry a signal for, and notes on those they do not."""
    notes = []
    parameters = []
    values = observed.values
    incidents_recorded = not math.isnan(values.get("incidents_per_week", math.nan))
    signals = [name for name in ("ci_failure_rate", "changes_requested_share") if not math.isnan(values.get(name, math.nan))
               and observed.counts.get(name, 0) >= 5]
    if not incidents_recorded and not signals:
        notes.append("no incidents, CI failures or review findings in these records: the latent defect rate and detection keep their priors")
        return [], notes
    if not incidents_recorded:
        notes.append(
            "no incident records: the latent defect rate is fitted to what CI and review find, detection probabilities and "
            "recovery keep their priors (give an incidents table to fit them)"
        )
    defects = float(scenario.work.defects_per_100_lines)
    parameters.append(Parameter(
        "work.defects_per_100_lines", "log", 0.005, 3.0, _bounded(defects, 0.01, 2.0), lambda v: round(v, 4),
        "incidents_per_week" if incidents_recorded else signals[0],
    ))
    if not incidents_recorded:
        return parameters, notes
    if not math.isnan(values.get("recovery_time_median_hours", math.nan)) and observed.counts.get("recovery_time_median_hours", 0) >= 3:
        starts_at_deploy = any(s.kind == "fourkeys" and s.table == "incidents" for s in history.sources)
        if starts_at_deploy:
            mean = float(scenario.incidents.time_to_failure.mean_hours())
            parameters.append(Parameter(
                "incidents.time_to_failure", "log", 0.5, 60 * 24.0, _bounded(mean, 1.0, 30 * 24.0),
                lambda v: {"dist": "exponential", "mean": duration_text(v)}, "recovery_time_median_hours",
            ))
        else:
            diagnosis = scenario.incidents.diagnosis_time
            median = float(getattr(diagnosis, "median", diagnosis.mean_hours()))
            ratio = float(getattr(diagnosis, "p90", median * 6.0)) / median
            parameters.append(Parameter(
                "incidents.diagnosis_time", "log", 1.0 / 60.0, 10 * 24.0, _bounded(median, 2.0 / 60.0, 5 * 24.0),
                lambda v, ratio=ratio: {"dist": "lognormal", "median": duration_text(v), "p90": duration_text(v * ratio)},
                "recovery_time_median_hours",
            ))
    if not math.isnan(values.get("ci_failure_rate", math.nan)) and observed.counts.get("ci_failure_rate", 0) >= 5:
        parameters.append(Parameter(
            "ci.defect_detection_probability", "logit", 0.02, 0.98, _bounded(float(scenario.ci.defect_detection_probability), 0.05, 0.95),
            lambda v: round(v, 3), "ci_failure_rate",
        ))
    else:
        notes.append("ci.defect_detection_probability keeps its prior: no CI failures in these records carry its signal")
    if not math.isnan(values.get("changes_requested_share", math.nan)) and observed.counts.get("changes_requested_share", 0) >= 5:
        parameters.append(Parameter(
            "review.detection_probability", "logit", 0.02, 0.98, _bounded(float(scenario.review.detection_probability), 0.05, 0.95),
            lambda v: round(v, 3), "changes_requested_share",
        ))
    else:
        notes.append("review.detection_probability keeps its prior: no reviews asking for changes in these records carry its signal")
    return parameters, notes


def targets_for(parameters: Sequence[Parameter], observed: Observation) -> list[Target]:
    """The observed figures the quality fit aims at, with their log-scale uncertainty."""
    values, counts = observed.values, observed.counts
    names = ["incidents_per_week", "change_failure_rate"] + [p.target for p in parameters]
    if len(parameters) == 1:  # the defect rate alone: every signal of it counts
        names += ["ci_failure_rate", "changes_requested_share"]
    out = []
    for name in dict.fromkeys(names):
        value = values.get(name, math.nan)
        if math.isnan(value) or (name in ("ci_failure_rate", "changes_requested_share") and counts.get(name, 0) < 5):
            continue
        n = max(counts.get(name, 0), 1)
        floor = {"incidents_per_week": 0.05, "change_failure_rate": 0.005, "ci_failure_rate": 0.005, "changes_requested_share": 0.005}.get(name, 0.05)
        sigma = 1.0 / math.sqrt(n + 1.0)
        if name == "recovery_time_median_hours":
            sigma = 1.2 / math.sqrt(n)
        out.append(Target(name, value, sigma, floor))
    return out


# -- the response surface ----------------------------------------------------------------------
def _features(x: np.ndarray, quadratic: bool) -> np.ndarray:
    columns = [np.ones(len(x))] + [x[:, i] for i in range(x.shape[1])]
    if quadratic:
        for i in range(x.shape[1]):
            for j in range(i, x.shape[1]):
                columns.append(x[:, i] * x[:, j])
    return np.column_stack(columns)


@dataclass
class Surface:
    """Per target, a regression of the log figure on the parameters' unit scale."""

    coefficients: np.ndarray  # features × targets
    residual_sd: np.ndarray  # per target
    quadratic: bool
    center: np.ndarray
    spread: np.ndarray

    def predict(self, x: np.ndarray) -> np.ndarray:
        z = (np.atleast_2d(x) - self.center) / self.spread
        return _features(z, self.quadratic) @ self.coefficients


def fit_surface(x: np.ndarray, y: np.ndarray) -> Surface:
    """Least-squares regression of each column of ``y`` on ``x`` (quadratic when the points allow)."""
    center, spread = x.mean(axis=0), np.maximum(x.std(axis=0), 1e-9)
    z = (x - center) / spread
    d = x.shape[1]
    quadratic = len(x) >= 1 + d + d * (d + 1) // 2 + 4
    features = _features(z, quadratic)
    coefficients = np.zeros((features.shape[1], y.shape[1]))
    residual = np.zeros(y.shape[1])
    for j in range(y.shape[1]):
        ok = ~np.isnan(y[:, j])
        if ok.sum() < features.shape[1] + 1:
            coefficients[0, j] = np.nanmean(y[:, j]) if ok.any() else 0.0
            residual[j] = np.nanstd(y[:, j]) if ok.sum() > 1 else 1.0
            continue
        solution, *_ = np.linalg.lstsq(features[ok], y[ok, j], rcond=None)
        coefficients[:, j] = solution
        dof = max(int(ok.sum()) - features.shape[1], 1)
        residual[j] = math.sqrt(float(np.sum((features[ok] @ solution - y[ok, j]) ** 2)) / dof)
    return Surface(coefficients, residual, quadratic, center, spread)


def solve(surface: Surface, goal: np.ndarray, sigma: np.ndarray, low: np.ndarray, high: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Parameters (unit scale) whose predicted log figures are nearest ``goal`` (``scipy.optimize.least_squares``)."""
    from scipy.optimize import least_squares

    scale = np.sqrt(sigma**2 + surface.residual_sd**2)

    def residuals(x: np.ndarray) -> np.ndarray:
        return (surface.predict(x)[0] - goal) / scale

    start = np.clip(start, low + 1e-9, high - 1e-9)
    best = least_squares(residuals, start, bounds=(low, high), method="trf")
    return best.x


def _design(parameters: Sequence[Parameter], low: np.ndarray, high: np.ndarray, points: int, seed: int) -> np.ndarray:
    from scipy.stats import qmc

    sampler = qmc.Sobol(d=len(parameters), scramble=True, seed=seed)
    count = 2 ** int(math.ceil(math.log2(max(points, 2))))
    unit = sampler.random(count)[:points]
    center = (low + high) / 2.0
    return np.vstack([center, low + unit * (high - low)])


def _log_figures(frames: Sequence[pd.DataFrame], targets: Sequence[Target]) -> np.ndarray:
    rows = []
    for frame in frames:
        rows.append([math.log(max(float(np.nanmean(frame[t.name])) if frame[t.name].notna().any() else math.nan, 0.0) + t.floor) for t in targets])
    return np.array(rows, dtype=float)


def fit_quality(
    scenario: Any, observed: Observation, history: History, simulator: Simulator, *, points: int = 0, replications: int = 3,
) -> FitResult:
    """Fit the latent defect rate (and detection and recovery where the records carry their signal); module docstring."""
    result = FitResult()
    parameters, notes = quality_parameters(scenario, observed, history)
    result.notes.extend(notes)
    if not parameters:
        return result
    targets = targets_for(parameters, observed)
    goal = np.array([math.log(t.value + t.floor) for t in targets])
    sigma = np.array([t.sigma for t in targets])
    d = len(parameters)
    points = points or (8 + 4 * d)
    low = np.array([p.to_unit(p.low) for p in parameters])
    high = np.array([p.to_unit(p.high) for p in parameters])
    prior = np.array([p.to_unit(p.prior) for p in parameters])
    widths = np.array([math.log(8.0) if p.scale == "log" else 2.0 for p in parameters])
    box_low, box_high = np.maximum(prior - widths, low), np.minimum(prior + widths, high)
    designs: list[np.ndarray] = []
    figures: list[np.ndarray] = []
    answer = prior
    for round_ in range(2):
        x = _design(parameters, box_low, box_high, points if round_ == 0 else max(4 + 2 * d, points // 2), simulator.seed + round_)
        scenarios = [scenario.with_overrides({p.path: p.write(p.from_unit(v)) for p, v in zip(parameters, row)}) for row in x]
        if simulator.progress:
            simulator.progress(f"fit round {round_ + 1}: {len(x)} parameter points x {replications} replications")
        frames = simulator.figures(scenarios, replications)
        designs.append(x)
        figures.append(_log_figures(frames, targets))
        all_x, all_y = np.vstack(designs), np.vstack(figures)
        surface = fit_surface(all_x, all_y)
        distance = np.nansum(((all_y - goal) / sigma) ** 2, axis=1)
        start = all_x[int(np.nanargmin(distance))] if np.isfinite(distance).any() else prior
        answer = solve(surface, goal, sigma, box_low, box_high, start)
        span = (box_high - box_low) / 4.0
        at_edge = (np.isclose(answer, box_low, atol=1e-6) & (box_low > low + 1e-9)) | (np.isclose(answer, box_high, atol=1e-6) & (box_high < high - 1e-9))
        box_low, box_high = np.maximum(answer - span - at_edge * span * 2, low), np.minimum(answer + span + at_edge * span * 2, high)
    rng = np.random.default_rng(simulator.seed)
    draws = []
    for _ in range(BOOTSTRAP_DRAWS):
        redrawn = goal + rng.normal(0.0, sigma)
        draws.append(solve(surface, redrawn, sigma, np.maximum(low, answer - 4 * widths), np.minimum(high, answer + 4 * widths), answer))
    draws = np.array(draws)
    predicted = surface.predict(answer)[0]
    evidence_targets = "; ".join(
        f"{t.name} observed {t.value:.3g} (n={observed.counts.get(t.name, 0)}), fitted model {math.exp(p) - t.floor:.3g}"
        for t, p in zip(targets, predicted)
    )
    for i, parameter in enumerate(parameters):
        value = parameter.from_unit(answer[i])
        lo, hi = (parameter.from_unit(v) for v in np.quantile(draws[:, i], [0.05, 0.95]))
        edge = ""
        if np.isclose(answer[i], low[i], atol=1e-3) or np.isclose(answer[i], high[i], atol=1e-3):
            edge = " (at the edge of the range searched: treat as a bound)"
            result.notes.append(f"{parameter.path} fitted at the edge of its range{edge}")
        estimate = Estimate(
            parameter.path, parameter.write(value), "fitted",
            f"response surface over {sum(len(x) for x in designs)} Sobol points x {replications} replications (common random numbers), "
            f"least squares to {', '.join(t.name for t in targets)}{edge}",
            f"{value:.4g} (90% bootstrap interval {lo:.3g}-{hi:.3g}); {evidence_targets}",
            observed.counts.get(parameter.target, 0),
        )
        result.estimates.append(estimate)
        result.overrides[parameter.path] = parameter.write(value)
    rows = []
    for x, y in zip(designs, figures):
        for xi, yi in zip(x, y):
            row = {p.path: p.from_unit(v) for p, v in zip(parameters, xi)}
            row.update({t.name: math.exp(v) - t.floor for t, v in zip(targets, yi)})
            rows.append(row)
    result.design = pd.DataFrame(rows)
    return result


def fit_capacity(scenario: Any, observed: Observation, simulator: Simulator, replications: int = 3) -> FitResult:
    """``team.developers`` by throughput (only when the records name no authors).

    The result's ``design`` holds the simulated figures at the size chosen (one row per replication).
    """
    result = FitResult()
    target = observed.values.get("changes_per_week", math.nan)
    if math.isnan(target) or target <= 0:
        result.notes.append("team.developers keeps its default: no authors and no throughput in these records")
        result.design = simulator.figures([scenario], replications)[0]
        return result
    developers = int(scenario.team.developers)
    tried: dict[int, tuple[float, pd.DataFrame]] = {}
    for _ in range(CAPACITY_ROUNDS):
        if developers in tried:
            break
        if simulator.progress:
            simulator.progress(f"capacity ({scenario.strategy.name}): {developers} developers")
        frame = simulator.figures([scenario.with_overrides({"team.developers": developers})], replications)[0]
        simulated = float(np.nanmean(frame["changes_per_week"]))
        tried[developers] = (simulated, frame)
        if not simulated > 0:
            break
        developers = min(MAX_DEVELOPERS, max(1, int(round(developers * target / simulated))))
    best = min(tried, key=lambda d: abs(math.log(max(tried[d][0], 1e-9) / target)))
    result.overrides["team.developers"] = best
    result.design = tried[best][1]
    result.estimates.append(Estimate(
        "team.developers", best, "fitted",
        f"no authors recorded: team size scaled by observed ÷ simulated changes per week ({replications} replications per size)",
        f"observed {target:.1f} changes/week; simulated " + ", ".join(f"{d} people: {v[0]:.1f}" for d, v in sorted(tried.items())),
        observed.counts.get("changes_per_week", 0),
    ))
    return result


MAX_DEVELOPERS = 500
"""Largest team the capacity fit tries, people."""


def select_strategy(
    candidates: dict[str, Any], observed: Observation, simulator: Simulator, fit_team: bool, replications: int = 3,
) -> tuple[str, list[FitResult]]:
    """The candidate strategy whose simulation comes nearest the observed lead time (and throughput).

    For records that show no branches (Four Keys, DevLake deployments alone): each
    candidate scenario is simulated (its team size first fitted by throughput when
    ``fit_team``), and the one with the smallest ``|log(simulated / observed)|`` summed over
    lead time and changes per week wins. Returns the name and the fits made for it.
    """
    scores: dict[str, tuple[float, list[FitResult], str]] = {}
    lead = observed.values.get("lead_time_median_hours", math.nan)
    throughput = observed.values.get("changes_per_week", math.nan)
    for name, scenario in candidates.items():
        fits: list[FitResult] = []
        if fit_team:
            fits.append(fit_capacity(scenario, observed, simulator, replications))
            frame = fits[-1].design
        else:
            frame = simulator.figures([scenario], replications)[0]
        score = 0.0
        parts = []
        for figure, value in (("lead_time_median_hours", lead), ("changes_per_week", throughput)):
            simulated = float(np.nanmean(frame[figure])) if frame[figure].notna().any() else math.nan
            if not (math.isnan(value) or math.isnan(simulated)) and value > 0 and simulated > 0:
                score += abs(math.log(simulated / value))
                parts.append(f"{figure} {simulated:.3g}")
        scores[name] = (score, fits, ", ".join(parts))
    best = min(scores, key=lambda n: scores[n][0])
    choice = FitResult()
    choice.estimates.append(Estimate(
        "strategy.name", best, "fitted",
        "records show no branches: each candidate strategy simulated (team size fitted by throughput) and the nearest in "
        "lead time and changes per week kept",
        f"observed lead time {lead:.3g} h, {throughput:.3g} changes/week; simulated " + "; ".join(f"{n}: {scores[n][2]}" for n in scores),
        observed.counts.get("lead_time_median_hours", 0),
    ))
    return best, [choice] + scores[best][1]


def align_release_phase(scenario: Any, observed_phase: float, simulator: Simulator, replications: int = 2) -> FitResult:
    """GitFlow's ``strategy.release_offset`` moved so simulated release deployments fall at the observed phase of the week."""
    result = FitResult()
    cadence = float(scenario.strategy.release_cadence)
    frame = simulator.figures([scenario], replications)[0]
    column = f"deploy_phase_{cadence:g}h"
    if column not in frame:
        return result
    angle = 2 * np.pi * frame[column].dropna().to_numpy() / cadence
    simulated = float((math.atan2(np.sin(angle).mean(), np.cos(angle).mean()) % (2 * np.pi)) * cadence / (2 * np.pi)) if len(angle) else math.nan
    if math.isnan(simulated) or math.isnan(observed_phase):
        return result
    shift = ((observed_phase - simulated + cadence / 2.0) % cadence) - cadence / 2.0
    offset = (float(scenario.strategy.release_offset) + shift) % cadence
    result.overrides["strategy.release_offset"] = duration_text(offset)
    result.estimates.append(Estimate(
        "strategy.release_offset", duration_text(offset), "fitted",
        "moved by the observed minus the simulated phase of release deployments (one round)",
        f"observed phase {observed_phase:.1f} h of the {cadence:g}-hour cycle, simulated {simulated:.1f} h before the move", 0,
    ))
    return result


__all__ = [
    "BOOTSTRAP_DRAWS", "CAPACITY_ROUNDS", "FitResult", "Parameter", "Simulator", "Surface", "Target", "align_release_phase",
    "MAX_DEVELOPERS", "PHASE_PERIODS", "deploy_phase", "fit_capacity", "fit_quality", "fit_surface", "measure_task", "quality_parameters", "select_strategy", "solve", "targets_for",
]

"""``calibrate(...)``: from a team's records to a back-tested scenario file and its report.

The steps, in order (each module documents its rules):

1. read every source into one history (:mod:`trunksim.calibrate.formats`) and refuse one
   that cannot be used (one located line: file, line, column);
2. measure it (:mod:`trunksim.calibrate.observe`) and read off the parameters the
   records show (:mod:`trunksim.calibrate.estimators`);
3. fit by simulation what they cannot (:mod:`trunksim.calibrate.fitting`);
4. back-test the calibrated scenario against the observed figures
   (:mod:`trunksim.calibrate.backtest`);
5. write the scenario (YAML, every field commented with how it was obtained) and
   ``calibration.html`` beside it (:mod:`trunksim.calibrate.report`), each atomically and
   only once everything before succeeded.
"""

from __future__ import annotations

import copy
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import pandas as pd

from trunksim.calibrate.backtest import BackTest, backtest
from trunksim.calibrate.estimators import Estimate, Findings, estimate, strategy_parameters
from trunksim.calibrate.fitting import Simulator, align_release_phase, fit_capacity, fit_quality, select_strategy
from trunksim.calibrate.formats import read_sources
from trunksim.calibrate.formats.github import DEPLOY_WORKFLOW
from trunksim.calibrate.history import MIN_CHANGES, MIN_DAYS, CalibrationInputError, History, describe_files
from trunksim.calibrate.observe import Observation, observe

PathLike = Union[str, "os.PathLike[str]"]

REPORT_NAME = "calibration.html"
"""The report's file name, written beside the scenario."""

CANDIDATES: tuple[str, ...] = ("trunk-based", "github-flow")
"""Strategies simulated when the records show no branches (GitFlow shows itself as a release train)."""

RARE_DEPLOYS_PER_DAY = 0.5
"""Below this deployment frequency GitFlow joins the candidates simulated (its releases may hide behind hotfixes)."""

WARM_UP_HOURS = 336.0
"""Warm-up of the calibrated scenario (two weeks), clock hours."""


@dataclass
class Calibration:
    """The result of :func:`calibrate`.

    Attributes
    ----------
    scenario : Scenario
        The calibrated scenario (as loaded back from the file written).
    scenario_path, report_path : Path or None
        The files written (None when ``out`` was None).
    scenario_text : str
        The YAML written.
    history : History
        The records read, joined.
    observed : Observation
        The figures of the history.
    estimates : list of Estimate
        Every parameter and how it was obtained.
    backtest : BackTest
        The back-test table and the simulated figures.
    warnings, notes : list of str
        What the reader should know (too short a history, missed figures), and smaller notes.
    design : DataFrame or None
        The points the quality fit simulated.
    simulations : int
        Replications simulated in all.
    """

    scenario: Any
    scenario_path: Optional[Path]
    report_path: Optional[Path]
    scenario_text: str
    history: History
    observed: Observation
    estimates: list[Estimate]
    backtest: BackTest
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    design: Optional[pd.DataFrame] = None
    simulations: int = 0

    def parameters(self) -> pd.DataFrame:
        """The estimates as a table: ``path, value, how, method, evidence, n``."""
        return pd.DataFrame([vars(e) for e in self.estimates])


def check_history(history: History) -> list[str]:
    """Refuse a history nothing can be estimated from; return warnings for one that is short but usable."""
    files = describe_files(history.sources)
    changes = len(history.changes)
    days = history.span_days()
    if changes == 0 and len(history.deployments) == 0:
        raise CalibrationInputError("the history is empty: no changes and no deployments in these files", files)
    if changes < MIN_CHANGES:
        raise CalibrationInputError(
            f"the history is too short: {changes} change{'s' if changes != 1 else ''} (a calibration needs at least "
            f"{MIN_CHANGES}, and 30 over 5 weeks for a back-test worth reading)", files,
        )
    if math.isnan(days) or days < MIN_DAYS:
        raise CalibrationInputError(
            f"the history is too short: it spans {0.0 if math.isnan(days) else days:.1f} days (a calibration needs at least "
            f"{MIN_DAYS:g} days, and 5 weeks for a back-test worth reading)", files,
        )
    return []


def _base_scenario(base: Optional[Any], strategy: str) -> Any:
    from trunksim.scenario.loading import load_scenario
    from trunksim.scenario.schema import Scenario

    if base is None:
        return Scenario.model_validate({"strategy": {"name": strategy}})
    scenario = base if isinstance(base, Scenario) else load_scenario(base)
    if scenario.strategy.name != strategy:
        scenario = scenario.with_overrides({"strategy": {"name": strategy}})
    return scenario


def _comment(estimate: Estimate) -> str:
    text = f"{estimate.how}: {estimate.method}"
    if estimate.evidence:
        text += f" [{estimate.evidence}]"
    return text if len(text) <= 400 else text[:397] + "..."


def calibrate(
    sources: Union[PathLike, Sequence[PathLike]],
    out: Optional[PathLike] = "calibrated.yaml",
    *,
    strategy: Optional[str] = None,
    base: Optional[Any] = None,
    overrides: Optional[Mapping[str, Any]] = None,
    assume_utc: bool = False,
    deploy_workflow: str = DEPLOY_WORKFLOW,
    replications: int = 20,
    fit_replications: int = 3,
    fit_points: int = 0,
    seed: int = 1,
    jobs: int = 1,
    name: Optional[str] = None,
    report: bool = True,
    plot: bool = True,
    progress: Optional[Callable[[str], None]] = None,
) -> Calibration:
    """Calibrate a scenario from a team's own records and back-test it.

    Parameters
    ----------
    sources : path or sequence of paths
        Files or folders: Four Keys tables (CSV or JSON lines, as ``trunksim export``
        writes them), Apache DevLake domain-layer CSVs (``cicd_deployment_commits``,
        ``pull_requests``, ``issues``), ``gh pr list``/``gh run list`` JSON, and a
        ``git log`` of main (format in :mod:`trunksim.calibrate.formats.gitlog`).
    out : path or None
        The scenario file to write (``calibration.html`` goes beside it); None writes
        nothing (the result still holds everything).
    strategy : str, optional
        The branching strategy, if you know it (otherwise estimated from branches).
    base : path or Scenario, optional
        A scenario to start from (the file written then ``extends:`` it); by default the
        schema's defaults.
    overrides : mapping, optional
        Fields you know (``{"team.developers": 8}``), applied last and marked *given*.
    assume_utc : bool
        Read timestamps without a time zone as UTC (DevLake's MySQL exports); otherwise
        they are refused.
    deploy_workflow : str
        Regular expression naming the ``gh run list`` workflows that deploy to production.
    replications : int
        Replications of the back-test.
    fit_replications, fit_points : int
        Replications per point of the fits, and points of the quality fit's first design
        (0: ``8 + 4 × parameters``).
    seed : int
        Root seed of every simulation (common random numbers across the fit's points).
    jobs : int
        Local worker processes for the simulations (results identical for any value).
    name : str, optional
        The scenario's name (default: the file name without extension, or ``calibrated``).
    report, plot : bool
        Write ``calibration.html``; draw the back-test plot in it.
    progress : callable, optional
        Called with a line of text as each step starts.

    Returns
    -------
    Calibration

    Raises
    ------
    CalibrationInputError
        Unusable input: one line naming file, line or row, and column.
    trunksim.scenario.loading.ScenarioError
        An override or the base scenario is invalid.
    """
    say = progress or (lambda message: None)
    if replications < 1 or fit_replications < 1:
        raise ValueError("replications and fit_replications must be at least 1")
    if base is not None and out is not None and not isinstance(base, (str, os.PathLike)):
        raise ValueError("base must be a scenario file when a scenario is written (the file written extends it)")
    history = read_sources(sources, assume_utc=assume_utc, deploy_workflow=deploy_workflow)
    check_history(history)
    say(f"read {history.describe()} from {describe_files(history.sources)}")
    observed = observe(history)
    findings = estimate(history, observed)
    given = dict(overrides or {})
    if strategy is not None:
        given["strategy.name"] = strategy
    span_days = observed.days
    stem = Path(out).stem if out is not None else "calibrated"
    settings = {
        "name": name or stem,
        "simulation.warm_up": f"{WARM_UP_HOURS:g}h",
        "simulation.duration": f"{WARM_UP_HOURS + math.ceil(span_days) * 24.0:g}h",
        "simulation.replications": replications,
        "simulation.seed": seed,
    }
    simulator = Simulator(like=history, seed=seed, jobs=jobs, progress=say)

    def build(strategy_name: str, found: Findings) -> Any:
        found.facts["strategy"] = strategy_name
        scenario_ = _base_scenario(base, strategy_name)
        strategy_parameters(found, float(scenario_.work.lines_per_coding_hour))
        values = {**found.overrides(), **{k: v for k, v in given.items() if k != "strategy.name"}, **settings}
        values.pop("strategy.name", None)
        return scenario_.with_overrides(values)

    fits: list = []
    fit_team = findings.value("team.developers") is None and "team.developers" not in given
    if "strategy.name" in given:
        chosen = str(given["strategy.name"])
    elif findings.facts.get("strategy_strength") == "weak" and math.isnan(observed.values.get("lead_time_median_hours", math.nan)):
        chosen = str(findings.facts.get("strategy", "trunk-based"))
        findings.notes.append(f"these records cannot tell the strategy (no branches, no lead time): {chosen} assumed; give --strategy")
    elif findings.facts.get("strategy_strength") == "weak":
        say("strategy: the records show no branches; simulating the candidates")
        names = CANDIDATES + (("gitflow",) if observed.values.get("deploys_per_day", math.nan) < RARE_DEPLOYS_PER_DAY else ())
        candidates = {c: build(c, copy.deepcopy(findings)) for c in names}
        chosen, chosen_fits = select_strategy(candidates, observed, simulator, fit_team, fit_replications)
        fits.extend(chosen_fits)
        fit_team = False
    else:
        chosen = str(findings.facts.get("strategy", "trunk-based"))
    for path, value in given.items():
        findings.add(Estimate(path, value, "given", "set by the caller", ""))
    scenario = build(chosen, findings)
    for fit in fits:
        scenario = scenario.with_overrides(fit.overrides)
    if fit_team:
        fits.append(fit_capacity(scenario, observed, simulator, fit_replications))
        scenario = scenario.with_overrides(fits[-1].overrides)
    if chosen == "gitflow" and "release_phase" in findings.facts and "strategy.release_offset" not in given:
        fits.append(align_release_phase(scenario, findings.facts["release_phase"], simulator, max(2, fit_replications)))
        scenario = scenario.with_overrides(fits[-1].overrides)
    quality = fit_quality(scenario, observed, history, simulator, points=fit_points, replications=fit_replications)
    fits.append(quality)
    scenario = scenario.with_overrides({**quality.overrides, **{k: v for k, v in given.items() if k != "strategy.name"}})
    for fit in fits:
        findings.add(*fit.estimates)
        findings.notes.extend(fit.notes)
    tested = backtest(scenario, observed, simulator, replications)
    warnings = [note for note in findings.notes if "give --strategy" in note] + list(tested.warnings)
    scenario_text = _scenario_text(findings, settings, history, chosen, base, out)
    calibration = Calibration(
        scenario=scenario, scenario_path=None, report_path=None, scenario_text=scenario_text, history=history, observed=observed,
        estimates=findings.estimates, backtest=tested, warnings=warnings, notes=list(dict.fromkeys(findings.notes)),
        design=quality.design, simulations=simulator.runs,
    )
    if out is not None:
        from trunksim.calibrate.report import render
        from trunksim.calibrate.scenario_file import write_scenario
        from trunksim.io import write_text

        path = Path(out)
        calibration.scenario_path = path
        html = render(calibration, plot=plot) if report else None  # drawn before anything is written
        calibration.scenario = write_scenario(path, scenario_text)
        if html is not None:
            calibration.report_path = write_text(path.parent / REPORT_NAME, html)
    return calibration


def _scenario_text(findings: Findings, settings: Mapping[str, Any], history: History, strategy: str, base: Any, out: Any) -> str:
    from trunksim.calibrate.scenario_file import render

    fields: dict[str, tuple[Any, str]] = {"name": (settings["name"], "")}
    start, end = history.window()
    fields["description"] = (
        f"Calibrated by trunksim calibrate from {describe_files(history.sources)} ({start:%Y-%m-%d} to {end:%Y-%m-%d}).", "",
    )
    fields["strategy.name"] = (strategy, _comment(next((e for e in reversed(findings.estimates) if e.path == "strategy.name"), Estimate("", strategy, "given", "set by the caller"))))
    latest: dict[str, Estimate] = {}
    for estimate_ in findings.estimates:
        if estimate_.how in ("measured", "fitted", "given") and estimate_.value is not None and not estimate_.path.startswith("(") and estimate_.path != "strategy.name":
            latest[estimate_.path] = estimate_
    for path in sorted(latest, key=lambda p: (p.split(".")[0] != "strategy", p)):
        fields[path] = (latest[path].value, _comment(latest[path]))
    for path in ("simulation.warm_up", "simulation.duration", "simulation.replications", "simulation.seed"):
        comment = {"simulation.duration": "warm-up + the history's span, so simulated histories are as long as the team's"}.get(path, "")
        fields[path] = (settings[path], comment)
    header = [
        "Calibrated scenario written by `trunksim calibrate` (see calibration.html beside this file).",
        "Each field says how it was obtained: measured (read off the records), fitted (by simulation),",
        "or given (by the caller). Fields not written keep the schema's defaults"
        + (" (or the base scenario's)." if base is not None else "."),
    ]
    extends = None
    if isinstance(base, (str, os.PathLike)) and out is not None:
        extends = os.path.relpath(Path(base).resolve(), Path(out).resolve().parent)
    return render(fields, header, extends)


__all__ = ["Calibration", "REPORT_NAME", "WARM_UP_HOURS", "calibrate", "check_history"]

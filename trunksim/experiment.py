"""Experiments: replications of scenarios, sweeps, paired comparisons and summaries.

``run`` simulates every scenario for replications ``0..n-1`` with the same root seed,
so replication *k* of every scenario sees the same work and the same latent defects
(common random numbers) and differences between scenarios are paired. Results do not
depend on where they ran (this process, local processes, a Dask cluster): rows are
ordered by scenario then replication, and each replication's streams depend only on
``(seed, replication)``.
"""

from __future__ import annotations

import dataclasses
import inspect
import itertools
import json
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence, TypeVar, Union

import pandas as pd

from trunksim.engine.model import DeliveryModel
from trunksim.executors import completed, executor_for
from trunksim.metrics import DEFAULT_LEVEL_YEAR, METRIC_COLUMNS, check_profile, check_year, compute_metrics
from trunksim.scenario.schema import Scenario
from trunksim.scenario.size import check_size
from trunksim.stats import describe, paired_difference
from trunksim.tables import Run

ScenarioLike = Union[Scenario, str, os.PathLike]
"""A scenario object or the path of a scenario file."""

ID_COLUMNS: tuple[str, ...] = ("scenario", "strategy", "replication", "seed")
"""Identifying columns of the results frame; swept parameters follow them, then the metrics."""


@dataclass(frozen=True)
class Measure:
    """How replications are measured: the metric profile and the State of DevOps year for levels.

    The part of :class:`RunOptions` that travels with every replication task (to worker
    processes or a Dask cluster) and into a batch's content hash.
    """

    profile: str = "trunksim"
    year: int = DEFAULT_LEVEL_YEAR

    def __post_init__(self) -> None:
        check_profile(self.profile)
        check_year(self.year)


@dataclass(frozen=True)
class RunOptions:
    """How replications are run and measured: the options of :func:`run`, :func:`sweep` and ``run_batch``.

    Each field is also a keyword argument of those functions, so
    ``run(scenarios, replications=20, seed=1, jobs=2)`` is
    ``run(scenarios, options=RunOptions(replications=20, seed=1, jobs=2))``; keywords
    given with ``options`` replace its fields. The metrics profile and DORA year are
    checked when the options are made.

    Attributes
    ----------
    replications : int, optional
        Replications per scenario; defaults to the first scenario's
        ``simulation.replications``.
    seed : int, optional
        Root seed; defaults to the first scenario's ``simulation.seed``.
    jobs : int
        Local worker processes; results are identical for any value.
    scheduler : str, optional
        Address of a Dask scheduler (``tcp://host:8786``); replications run on its
        workers; results are identical.
    executor : concurrent.futures.Executor or dask.distributed.Client, optional
        Run on this executor instead (e.g. a Dask client; not closed afterwards);
        results are identical.
    progress : bool
        Show a progress bar (tqdm; notebook-aware).
    metrics_profile : {"trunksim", "fourkeys", "devlake"}
        Whose rules measure the DORA columns (:mod:`trunksim.metrics.profiles`).
    dora_year : {2023, 2024}
        State of DevOps edition for ``dora_level`` (:mod:`trunksim.metrics.levels`).
    """

    replications: Optional[int] = None
    seed: Optional[int] = None
    jobs: int = 1
    scheduler: Optional[str] = None
    executor: Any = None
    progress: bool = False
    metrics_profile: str = "trunksim"
    dora_year: int = DEFAULT_LEVEL_YEAR

    def __post_init__(self) -> None:
        check_profile(self.metrics_profile)
        check_year(self.dora_year)

    @property
    def measure(self) -> Measure:
        """The metric profile and DORA year, as each replication task carries them."""
        return Measure(self.metrics_profile, self.dora_year)

    @classmethod
    def of(cls, options: "RunOptions | None", keywords: Mapping[str, Any], caller: str = "run") -> "RunOptions":
        """``options`` (default: all defaults) with ``keywords`` replacing its fields.

        Raises
        ------
        TypeError
            A keyword is not a field, worded as Python words it for an unknown keyword
            argument of ``caller``.
        ValueError
            An unknown metrics profile or DORA year.
        """
        unknown = [name for name in keywords if name not in RUN_OPTION_NAMES]
        if unknown:
            raise TypeError(f"{caller}() got an unexpected keyword argument {unknown[0]!r}")
        return dataclasses.replace(options if options is not None else cls(), **keywords)


RUN_OPTION_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(RunOptions))
"""The fields of :class:`RunOptions`: the keyword arguments :func:`run`, :func:`sweep` and ``run_batch`` share."""

_F = TypeVar("_F", bound=Callable[..., Any])


def takes_run_options(function: _F) -> _F:
    """Declare :class:`RunOptions`' fields as keyword-only parameters of ``function``'s signature.

    ``function`` takes them as ``**keywords`` and builds its options with
    :meth:`RunOptions.of`; this decorator only makes ``help()``, ``inspect.signature``
    and notebooks show them (with their defaults), so the list is written once, in
    :class:`RunOptions`.
    """
    signature = inspect.signature(function)
    kept = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    added = [
        inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=f.type)
        for f in dataclasses.fields(RunOptions)
    ]
    function.__signature__ = signature.replace(parameters=kept + added)  # type: ignore[attr-defined]
    return function


@dataclass(frozen=True)
class Point:
    """One scenario to replicate, with the swept parameter values that made it (if any)."""

    scenario: Scenario
    parameters: Mapping[str, Any] = field(default_factory=dict)


def as_scenario(item: ScenarioLike) -> Scenario:
    """A scenario object, loading it if given a path."""
    if isinstance(item, Scenario):
        return item
    from trunksim.scenario.loading import load_scenario

    return load_scenario(item)


def simulate(scenario: ScenarioLike, *, seed: int | None = None, replication: int = 0) -> Run:
    """Simulate one replication and return its event tables.

    Parameters
    ----------
    scenario : Scenario or path
        What to simulate.
    seed : int, optional
        Root seed; defaults to ``simulation.seed`` of the scenario.
    replication : int
        Replication index, 0-based; selects the random streams.

    Returns
    -------
    Run
        ``.changes``, ``.deployments``, ``.incidents``, ``.ci_runs``, ``.activity``,
        ``.merges``, ``.features``, ``.branch_status`` DataFrames; metrics with
        :func:`trunksim.metrics.compute_metrics`.
    """
    scenario = as_scenario(scenario)
    root = scenario.simulation.seed if seed is None else seed
    return DeliveryModel(scenario, seed=root, replication=replication).run()


def replicate(task: tuple[Point, int, int, Measure]) -> dict[str, Any]:
    """One replication → one row: identifying columns, swept parameters, every metric."""
    point, seed, replication, measure = task
    scenario = point.scenario
    result = simulate(scenario, seed=seed, replication=replication)
    row: dict[str, Any] = {
        "scenario": scenario.name, "strategy": scenario.strategy.name, "replication": replication, "seed": seed,
    }
    row.update(point.parameters)
    row.update(compute_metrics(result, measure.profile, year=measure.year))
    return row


def columns_for(points: Sequence[Point]) -> list[str]:
    """Result columns: identifiers, every swept parameter (in first-seen order), metrics."""
    parameters = list(dict.fromkeys(name for p in points for name in p.parameters))
    return list(ID_COLUMNS) + parameters + list(METRIC_COLUMNS)


def as_points(scenarios: ScenarioLike | Point | Sequence[ScenarioLike | Point]) -> list[Point]:
    """Normalise scenarios, paths and points to a list of points."""
    single = isinstance(scenarios, (Scenario, str, os.PathLike, Point))
    items = [scenarios] if single else list(scenarios)  # type: ignore[list-item]
    return [item if isinstance(item, Point) else Point(as_scenario(item)) for item in items]


@takes_run_options
def run(
    scenarios: ScenarioLike | Point | Sequence[ScenarioLike | Point],
    *,
    options: Optional[RunOptions] = None,
    **keywords: Any,
) -> pd.DataFrame:
    """Run replications of one or several scenarios under common random numbers.

    Parameters
    ----------
    scenarios : Scenario, path, Point, or a sequence of them
        Scenarios to run; several make a paired comparison.
    options : RunOptions, optional
        How to run and measure (defaults: :class:`RunOptions`).
    replications, seed, jobs, scheduler, executor, progress, metrics_profile, dora_year
        Keyword arguments setting the fields of :class:`RunOptions` (described there),
        e.g. ``run(scenarios, replications=20, seed=1, jobs=2)``.

    Returns
    -------
    pandas.DataFrame
        One row per scenario × replication: ``scenario, strategy, replication, seed``,
        swept parameters if any, then :data:`trunksim.metrics.METRIC_COLUMNS`.

    Raises
    ------
    trunksim.scenario.loading.ScenarioError
        A scenario is too large to run as written (see :mod:`trunksim.scenario.size`).
    ValueError
        No scenario, fewer than one replication, or an unknown metrics profile or DORA year.
    """
    options = RunOptions.of(options, keywords, "run")
    points = as_points(scenarios)
    if not points:
        raise ValueError("run() needs at least one scenario")
    for point in points:
        check_size(point.scenario)
    n, root = resolve(points, options.replications, options.seed)
    measure = options.measure
    tasks = [(point, root, k, measure) for point in points for k in range(n)]
    rows: list[Optional[dict]] = [None] * len(tasks)
    with executor_for(jobs=options.jobs, scheduler=options.scheduler, executor=options.executor) as pool, \
            progress_bar(len(tasks), options.progress) as bar:
        for index, row in completed(replicate, tasks, pool):
            rows[index] = row
            bar.update()
    return pd.DataFrame(rows, columns=columns_for(points))


def resolve(points: Sequence[Point], replications: int | None, seed: int | None) -> tuple[int, int]:
    """Replications and root seed: the arguments, else the first scenario's settings."""
    first = points[0].scenario.simulation
    n = replications if replications is not None else first.replications
    if n < 1:
        raise ValueError("replications must be at least 1")
    return n, (seed if seed is not None else first.seed)


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def __enter__(self) -> "_NoBar":
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def progress_bar(total: int, enabled: bool, description: str = "replications"):
    """A tqdm bar (terminal or notebook) used as a context manager, or a silent stand-in."""
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, unit="rep")


# -- sweeps ---------------------------------------------------------------------------------
def expand_sweep(
    scenario: Scenario,
    grid: Mapping[str, Sequence[Any]] | None = None,
    variants: Sequence[Mapping[str, Any]] | None = None,
) -> list[Point]:
    """The points of a sweep: every combination of a grid, or each named variant.

    Parameters
    ----------
    scenario : Scenario
        The base scenario.
    grid : mapping of dotted path → list of values, optional
        ``{"ci.runners": [1, 2, 4], "ci.flaky_failure_probability": [0, 0.05]}``.
    variants : list of ``{"name": ..., "set": {path: value}}``, optional
        Named overrides, run as they are.

    Returns
    -------
    list of Point
        Each point's scenario is named ``"<base> [path=value, ...]"`` (or
        ``"<base> [variant]"``); its parameters are the swept values as validated
        (durations in hours).
    """
    points: list[Point] = []
    if grid:
        paths = list(grid)
        for combination in itertools.product(*(grid[p] for p in paths)):
            overrides = dict(zip(paths, combination))
            label = ", ".join(f"{p}={v}" for p, v in overrides.items())
            swept = scenario.with_overrides({**overrides, "name": f"{scenario.name} [{label}]"})
            points.append(Point(swept, {p: _value_at(swept, p) for p in paths}))
    for variant in variants or ():
        name = str(variant["name"])
        swept = scenario.with_overrides({**dict(variant.get("set", {})), "name": f"{scenario.name} [{name}]"})
        points.append(Point(swept, {"variant": name}))
    if not points:
        raise ValueError("a sweep needs a grid or variants")
    return points


def _value_at(scenario: Scenario, path: str) -> Any:
    """The validated value at a dotted path, as a table cell: a constant distribution is its value (hours)."""
    value: Any = scenario.model_dump(mode="json")
    for part in path.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    if isinstance(value, dict) and value.get("dist") == "constant":
        return value["value"]
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return value


@takes_run_options
def sweep(
    scenario: ScenarioLike,
    grid: Mapping[str, Sequence[Any]] | None = None,
    *,
    variants: Sequence[Mapping[str, Any]] | None = None,
    options: Optional[RunOptions] = None,
    **keywords: Any,
) -> pd.DataFrame:
    """Run a parameter sweep: :func:`run` over :func:`expand_sweep`'s points.

    The frame carries one column per swept dotted path (``"ci.runners"``), or a
    ``variant`` column. Every point shares the seeds, so the sweep is paired.
    ``options`` and the keyword arguments (:class:`RunOptions`' fields) are as in :func:`run`.
    """
    options = RunOptions.of(options, keywords, "sweep")
    points = expand_sweep(as_scenario(scenario), grid, variants)
    return run(points, options=options)


# -- summaries --------------------------------------------------------------------------------
def numeric_metrics(frame: pd.DataFrame) -> list[str]:
    """The metric columns of a results frame that are numbers."""
    return [m for m in METRIC_COLUMNS if m in frame and pd.api.types.is_numeric_dtype(frame[m])]


def summarize(frame: pd.DataFrame, metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """Per scenario and metric: median with a 95% interval, spread, and paired difference.

    Columns: ``scenario, strategy, metric, replications, mean, median, median_ci95_low,
    median_ci95_high, p2_5, p97_5`` and, against the first scenario (the baseline, under
    common random numbers), ``baseline, paired_diff_median, paired_diff_ci95_low,
    paired_diff_ci95_high`` — the median of per-replication differences with its 95%
    interval (the baseline's own rows have zero difference). The statistics are
    :func:`trunksim.stats.describe` and :func:`trunksim.stats.paired_difference`.
    """
    metrics = list(metrics) if metrics is not None else numeric_metrics(frame)
    order = list(dict.fromkeys(frame["scenario"]))
    baseline = order[0]
    base = frame[frame["scenario"] == baseline].set_index("replication")
    rows = []
    for name in order:
        part = frame[frame["scenario"] == name].set_index("replication")
        for metric in metrics:
            row: dict[str, Any] = {"scenario": name, "strategy": part["strategy"].iloc[0], "metric": metric}
            row.update(describe(part[metric]))
            row["baseline"] = baseline
            row.update(paired_difference(part[metric], base[metric]))
            rows.append(row)
    return pd.DataFrame(rows)

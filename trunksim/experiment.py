"""Experiments: replications of scenarios, sweeps, paired comparisons and summaries.

``run`` simulates every scenario for replications ``0..n-1`` with the same root seed,
so replication *k* of every scenario sees the same work and the same latent defects
(common random numbers) and differences between scenarios are paired. Results do not
depend on where they ran (this process, local processes, a Dask cluster): rows are
ordered by scenario then replication, and each replication's streams depend only on
``(seed, replication)``.
"""

from __future__ import annotations

import itertools
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np
import pandas as pd

from trunksim.engine.model import DeliveryModel
from trunksim.executors import completed, executor_for
from trunksim.metrics import METRIC_COLUMNS, compute_metrics
from trunksim.scenario.schema import Scenario
from trunksim.scenario.size import check_size
from trunksim.tables import Run

ScenarioLike = Union[Scenario, str, os.PathLike]
"""A scenario object or the path of a scenario file."""

ID_COLUMNS: tuple[str, ...] = ("scenario", "strategy", "replication", "seed")
"""Identifying columns of the results frame; swept parameters follow them, then the metrics."""


@dataclass(frozen=True)
class Measure:
    """How replications are measured: the metric profile and the State of DevOps year for levels."""

    profile: str = "trunksim"
    year: int = 2023

    def __post_init__(self) -> None:
        from trunksim.metrics import PROFILES

        if self.profile not in PROFILES:
            raise ValueError(f"unknown metrics profile {self.profile!r}; known: {', '.join(PROFILES)}")
        if self.year not in (2023, 2024):
            raise ValueError(f"unknown State of DevOps year {self.year}; known: 2023, 2024")


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


def run(
    scenarios: ScenarioLike | Point | Sequence[ScenarioLike | Point],
    *,
    replications: int | None = None,
    seed: int | None = None,
    jobs: int = 1,
    executor: Any = None,
    progress: bool = False,
    metrics_profile: str = "trunksim",
    dora_year: int = 2023,
) -> pd.DataFrame:
    """Run replications of one or several scenarios under common random numbers.

    Parameters
    ----------
    scenarios : Scenario, path, Point, or a sequence of them
        Scenarios to run; several make a paired comparison.
    replications : int, optional
        Replications per scenario; defaults to the first scenario's
        ``simulation.replications``.
    seed : int, optional
        Root seed; defaults to the first scenario's ``simulation.seed``.
    jobs : int
        Local worker processes; results are identical for any value.
    executor : concurrent.futures.Executor or dask.distributed.Client, optional
        Run on this executor instead (e.g. a Dask client); results are identical.
    progress : bool
        Show a progress bar (tqdm; notebook-aware).
    metrics_profile : {"trunksim", "fourkeys", "devlake"}
        Whose rules measure the DORA columns (:mod:`trunksim.metrics.profiles`).
    dora_year : {2023, 2024}
        State of DevOps edition for ``dora_level``.

    Returns
    -------
    pandas.DataFrame
        One row per scenario × replication: ``scenario, strategy, replication, seed``,
        swept parameters if any, then :data:`trunksim.metrics.METRIC_COLUMNS`.

    Raises
    ------
    trunksim.scenario.loading.ScenarioError
        A scenario is too large to run as written (see :mod:`trunksim.scenario.size`).
    """
    points = as_points(scenarios)
    if not points:
        raise ValueError("run() needs at least one scenario")
    for point in points:
        check_size(point.scenario)
    n, root = resolve(points, replications, seed)
    measure = Measure(metrics_profile, dora_year)
    tasks = [(point, root, k, measure) for point in points for k in range(n)]
    rows: list[Optional[dict]] = [None] * len(tasks)
    with executor_for(jobs=jobs, executor=executor) as pool, progress_bar(len(tasks), progress) as bar:
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


def sweep(
    scenario: ScenarioLike,
    grid: Mapping[str, Sequence[Any]] | None = None,
    *,
    variants: Sequence[Mapping[str, Any]] | None = None,
    replications: int | None = None,
    seed: int | None = None,
    jobs: int = 1,
    executor: Any = None,
    progress: bool = False,
    metrics_profile: str = "trunksim",
    dora_year: int = 2023,
) -> pd.DataFrame:
    """Run a parameter sweep: ``run`` over :func:`expand_sweep`'s points.

    The frame carries one column per swept dotted path (``"ci.runners"``), or a
    ``variant`` column. Every point shares the seeds, so the sweep is paired.
    """
    points = expand_sweep(as_scenario(scenario), grid, variants)
    return run(
        points, replications=replications, seed=seed, jobs=jobs, executor=executor, progress=progress,
        metrics_profile=metrics_profile, dora_year=dora_year,
    )


# -- summaries --------------------------------------------------------------------------------
def median_interval(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """A distribution-free confidence interval for the median (binomial order statistics).

    With ``n`` sorted values ``x(1) <= ... <= x(n)`` the interval is ``[x(j+1), x(n-j)]``,
    where ``j`` is the largest integer with ``P(Binomial(n, 1/2) <= j) <= (1 - confidence) / 2``;
    its coverage is ``1 - 2 P(Binomial(n, 1/2) <= j) >= confidence`` (Conover, *Practical
    Nonparametric Statistics*). Below six values no such ``j`` exists and the interval is
    the sample range (coverage under the nominal level). NaN values are ignored.
    """
    values = np.sort(np.asarray(values, dtype=float))
    values = values[~np.isnan(values)]
    n = len(values)
    if n == 0:
        return math.nan, math.nan
    alpha = (1.0 - confidence) / 2.0
    below = np.nonzero(_binomial_half_cdf(n) <= alpha)[0]
    j = int(below[-1]) if len(below) else 0  # values excluded on each side
    return float(values[j]), float(values[n - 1 - j])


def _binomial_half_cdf(n: int) -> np.ndarray:
    """``P(Binomial(n, 1/2) <= i)`` for ``i = 0 .. n // 2`` (log-space, so large ``n`` is fine)."""
    i = np.arange(n // 2 + 1)
    log_pmf = np.array([math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) for k in i]) - n * math.log(2.0)
    return np.cumsum(np.exp(log_pmf))


def numeric_metrics(frame: pd.DataFrame) -> list[str]:
    """The metric columns of a results frame that are numbers."""
    return [m for m in METRIC_COLUMNS if m in frame and pd.api.types.is_numeric_dtype(frame[m])]


def summarize(frame: pd.DataFrame, metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """Per scenario and metric: median with a 95% interval, spread, and paired difference.

    Columns: ``scenario, strategy, metric, replications, mean, median, median_ci95_low,
    median_ci95_high, p2_5, p97_5`` and, against the first scenario (the baseline, under
    common random numbers), ``baseline, paired_diff_median, paired_diff_ci95_low,
    paired_diff_ci95_high`` — the median of per-replication differences with its 95%
    interval (the baseline's own rows have zero difference).
    """
    metrics = list(metrics) if metrics is not None else numeric_metrics(frame)
    order = list(dict.fromkeys(frame["scenario"]))
    baseline = order[0]
    base = frame[frame["scenario"] == baseline].set_index("replication")
    rows = []
    for name in order:
        part = frame[frame["scenario"] == name].set_index("replication")
        for metric in metrics:
            values = part[metric].to_numpy(dtype=float)
            finite = values[~np.isnan(values)]
            low, high = median_interval(values)
            paired = (part[metric] - base[metric].reindex(part.index)).to_numpy(dtype=float)
            d_low, d_high = median_interval(paired)
            paired_finite = paired[~np.isnan(paired)]
            rows.append(
                {
                    "scenario": name,
                    "strategy": part["strategy"].iloc[0],
                    "metric": metric,
                    "replications": int(len(finite)),
                    "mean": float(finite.mean()) if len(finite) else math.nan,
                    "median": float(np.median(finite)) if len(finite) else math.nan,
                    "median_ci95_low": low,
                    "median_ci95_high": high,
                    "p2_5": float(np.percentile(finite, 2.5)) if len(finite) else math.nan,
                    "p97_5": float(np.percentile(finite, 97.5)) if len(finite) else math.nan,
                    "baseline": baseline,
                    "paired_diff_median": float(np.median(paired_finite)) if len(paired_finite) else math.nan,
                    "paired_diff_ci95_low": d_low,
                    "paired_diff_ci95_high": d_high,
                }
            )
    return pd.DataFrame(rows)


def comparison_table(summary: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """A wide table for people: one row per metric, one column per scenario, ``median [low, high]``."""
    cells = summary[summary["metric"].isin(metrics)].copy()

    def fmt(row: pd.Series) -> str:
        if math.isnan(row["median"]):
            return "n/a"
        return f"{row['median']:.3g} [{row['median_ci95_low']:.3g}, {row['median_ci95_high']:.3g}]"

    cells["cell"] = cells.apply(fmt, axis=1)
    table = cells.pivot(index="metric", columns="scenario", values="cell")
    return table.reindex(index=[m for m in metrics if m in set(cells["metric"])], columns=list(dict.fromkeys(summary["scenario"])))

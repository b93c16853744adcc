"""Experiments: replications of scenarios, paired comparisons and summaries.

``run`` simulates every scenario for replications ``0..n-1`` with the same root seed,
so replication *k* of every scenario sees the same work and the same latent defects
(common random numbers) and differences between scenarios are paired. Results do not
depend on how many processes ran them: rows are ordered by scenario then replication,
and each replication's streams depend only on ``(seed, replication)``.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence, Union

import numpy as np
import pandas as pd
from scipy import stats

from trunksim.engine.model import DeliveryModel, Run
from trunksim.metrics import METRIC_COLUMNS
from trunksim.scenario.schema import Scenario

ScenarioLike = Union[Scenario, str, os.PathLike]
"""A scenario object or the path of a scenario file."""

ID_COLUMNS: tuple[str, ...] = ("scenario", "strategy", "replication", "seed")
"""Identifying columns of the replications frame, before the metrics."""


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
        ``.merges``, ``.features``, ``.branch_status`` DataFrames; ``.metrics()``.
    """
    scenario = as_scenario(scenario)
    root = scenario.simulation.seed if seed is None else seed
    return DeliveryModel(scenario, seed=root, replication=replication).run()


def replicate(scenario: Scenario, seed: int, replication: int) -> dict[str, Any]:
    """One replication → one row: identifying columns then every metric."""
    result = simulate(scenario, seed=seed, replication=replication)
    row: dict[str, Any] = {
        "scenario": scenario.name, "strategy": scenario.strategy.name, "replication": replication, "seed": seed,
    }
    row.update(result.metrics())
    return row


def _replicate_task(task: tuple[Scenario, int, int]) -> dict[str, Any]:
    return replicate(*task)


def run(
    scenarios: ScenarioLike | Sequence[ScenarioLike],
    *,
    replications: int | None = None,
    seed: int | None = None,
    jobs: int = 1,
    progress: bool = False,
) -> pd.DataFrame:
    """Run replications of one or several scenarios under common random numbers.

    Parameters
    ----------
    scenarios : Scenario, path, or a sequence of them
        Scenarios to run; several make a paired comparison.
    replications : int, optional
        Replications per scenario; defaults to the first scenario's
        ``simulation.replications``.
    seed : int, optional
        Root seed; defaults to the first scenario's ``simulation.seed``.
    jobs : int
        Worker processes; results are identical for any value.
    progress : bool
        Show a progress bar (tqdm; notebook-aware).

    Returns
    -------
    pandas.DataFrame
        One row per scenario × replication: ``scenario, strategy, replication, seed``
        then :data:`trunksim.metrics.METRIC_COLUMNS`.
    """
    items = [scenarios] if isinstance(scenarios, (Scenario, str, os.PathLike)) else list(scenarios)
    loaded = [as_scenario(s) for s in items]
    if not loaded:
        raise ValueError("run() needs at least one scenario")
    n = replications if replications is not None else loaded[0].simulation.replications
    root = seed if seed is not None else loaded[0].simulation.seed
    if n < 1:
        raise ValueError("replications must be at least 1")
    tasks = [(scenario, root, k) for scenario in loaded for k in range(n)]
    rows = list(_execute(tasks, jobs=jobs, progress=progress))
    return pd.DataFrame(rows, columns=list(ID_COLUMNS + METRIC_COLUMNS))


def _execute(tasks: list[tuple[Scenario, int, int]], *, jobs: int, progress: bool) -> Iterable[dict[str, Any]]:
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(tasks), desc="replications", unit="rep")
    try:
        if jobs <= 1 or len(tasks) <= 1:
            for task in tasks:
                yield _replicate_task(task)
                if bar is not None:
                    bar.update()
        else:
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                for row in pool.map(_replicate_task, tasks, chunksize=1):
                    yield row
                    if bar is not None:
                        bar.update()
    finally:
        if bar is not None:
            bar.close()


def median_interval(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """A distribution-free confidence interval for the median (binomial order statistics).

    With ``n`` sorted values, the interval is ``[x_(j), x_(n-j+1)]`` with ``j`` the largest
    rank such that ``P(Binomial(n, 1/2) < j) <= (1 - confidence) / 2``; for small ``n``
    it widens to the sample range. NaN values are ignored.
    """
    values = np.sort(values[~np.isnan(values)])
    n = len(values)
    if n == 0:
        return math.nan, math.nan
    alpha = (1.0 - confidence) / 2.0
    j = int(stats.binom.ppf(alpha, n, 0.5))  # number of values below the lower bound, at most
    if stats.binom.cdf(j, n, 0.5) > alpha:
        j -= 1
    j = max(j, 0)
    return float(values[j]), float(values[n - 1 - j])


def summarize(frame: pd.DataFrame, metrics: Sequence[str] = METRIC_COLUMNS) -> pd.DataFrame:
    """Per scenario and metric: median with a 95% interval, spread, and paired difference.

    Columns: ``scenario, strategy, metric, replications, mean, median, median_ci95_low,
    median_ci95_high, p2_5, p97_5`` and, against the first scenario (the baseline, under
    common random numbers), ``baseline, paired_diff_median, paired_diff_ci95_low,
    paired_diff_ci95_high`` — the median of per-replication differences with its 95%
    interval (the baseline's own rows have zero difference).
    """
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
    return table.reindex(index=list(metrics), columns=list(dict.fromkeys(summary["scenario"])))


def write_results(frame: pd.DataFrame, out: str | os.PathLike, *, plots: bool = True) -> dict[str, Path]:
    """Write ``replications.csv``, ``summary.csv`` and (optionally) ``plots/*.png`` into ``out``.

    Files are written to a temporary name and renamed, so a reader never sees half a file.
    Returns the paths written.
    """
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    written = {
        "replications": _write_csv(frame, folder / "replications.csv"),
        "summary": _write_csv(summarize(frame), folder / "summary.csv"),
    }
    if plots:
        from trunksim import plotting

        for name, path in plotting.save_standard_plots(frame, folder / "plots").items():
            written[f"plot:{name}"] = path
    return written


def _write_csv(frame: pd.DataFrame, path: Path) -> Path:
    temporary = path.with_name(path.name + ".tmp")
    frame.to_csv(temporary, index=False, float_format="%.10g", lineterminator="\n")
    os.replace(temporary, path)
    return path


def scenarios_with_overrides(items: Sequence[ScenarioLike], overrides: Mapping[str, Any]) -> list[Scenario]:
    """Load each scenario and apply the same overrides (``--set``) to all."""
    loaded = [as_scenario(s) for s in items]
    return [s.with_overrides(overrides) if overrides else s for s in loaded]

"""Experiments: replications of scenarios, sweeps, paired comparisons and summaries.

``run`` simulates every scenario for replications ``0..n-1`` with the same root seed,
so replication *k* of every scenario sees the same work and the same latent defects
(common random numbers) and differences between scenarios are paired. Results do not
depend on where they ran (this process, local processes, a Dask cluster): rows are
ordered by scenario then replication, and each replication's streams depend only on
``(seed, replication)``.

A worker needs only :func:`replicate`: importing this module and running it imports no
pandas for a scenario of one team (the metrics read NumPy columns); the functions that
return DataFrames import pandas when called.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import itertools
import json
import numbers
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Optional, Sequence, TypeVar, Union

from trunksim.engine.model import DeliveryModel, collector_paused
from trunksim.engine.organisation import OrganisationModel
from trunksim.executors import completed, executor_for
from trunksim.metrics import DEFAULT_LEVEL_YEAR, METRIC_COLUMNS, check_profile, check_year, compute_metrics
from trunksim.scenario.overrides import check_valid
from trunksim.scenario.problems import OVERRIDE, Problem, ScenarioError
from trunksim.scenario.schema import Scenario, sweep_problems
from trunksim.scenario.size import check_size
from trunksim.stats import describe, paired_difference
from trunksim.tables import Run

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd  # imported by the functions that return frames: a worker running replicate() needs none

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
    units: bool = False
    """Also measure every team and service of an organisation scenario (``UNITS_KEY``); :func:`run` does not."""

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
        if self.seed is not None:
            object.__setattr__(self, "seed", check_seed(self.seed))
        if self.replications is not None:
            object.__setattr__(self, "replications", check_whole("replications", self.replications, 1, MAX_REPLICATIONS))
        object.__setattr__(self, "jobs", check_whole("jobs", self.jobs, 1, None))

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


MAX_SEED = 2**63 - 1
"""Largest root seed, as ``simulation.seed`` allows (the seed column is a 64-bit integer in every file)."""

MAX_REPLICATIONS = 100_000
"""Most replications per scenario, as ``simulation.replications`` allows."""


def check_whole(name: str, value: Any, low: int, high: int | None) -> int:
    """``value`` as an ``int`` if it is a whole number in ``[low, high]``; trunksim's own message otherwise.

    Raises
    ------
    TypeError
        Not a whole number (a bool, a float, text).
    ValueError
        Out of range.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a whole number, not {value!r}")
    value = int(value)
    if value < low or (high is not None and value > high):
        allowed = f"from {low:,} to {high:,}" if high is not None else f"at least {low:,}"
        raise ValueError(f"{name} must be {allowed}, not {value:,}")
    return value


def check_seed(seed: Any) -> int:
    """A root seed: a whole number from 0 to 2**63 - 1 (:data:`MAX_SEED`), else trunksim's own message.

    Raises
    ------
    TypeError, ValueError
        As :func:`check_whole`; the message names the bound.
    """
    try:
        return check_whole("seed", seed, 0, MAX_SEED)
    except ValueError:
        raise ValueError(f"seed must be from 0 to 2**63 - 1 (the bound of simulation.seed), not {seed}") from None


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
    baseline: Mapping[str, Any] = field(default_factory=dict)
    """The swept paths' values in the scenario before the sweep (the tornado chart's baseline)."""


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

    Raises
    ------
    trunksim.scenario.loading.ScenarioError
        The scenario does not pass the schema: ``scenario.model_copy(update=...)``
        skips validation, so it is checked again here (change scenarios with
        :meth:`~trunksim.scenario.schema.Scenario.with_overrides`, which validates).
    TypeError, ValueError
        A seed outside 0 to 2**63 - 1 or a negative replication.
    """
    scenario = check_valid(as_scenario(scenario))
    root = scenario.simulation.seed if seed is None else check_seed(seed)
    replication = check_whole("replication", replication, 0, None)
    with collector_paused():
        if scenario.organisation is not None:
            model: DeliveryModel | OrganisationModel = OrganisationModel(scenario, seed=root, replication=replication)
        else:
            model = DeliveryModel(scenario, seed=root, replication=replication)
        result = model.run()
        del model  # unreachable now: collected as the collector resumes
    return result


UNITS_KEY = "_units"
"""Key of a replication row holding, for an organisation scenario, its per-team and
per-service metrics: a list of ``(level, unit, metric, value)`` tuples
(:func:`trunksim.metrics.organisation.organisation_metrics`). It is not a column:
frames built with :func:`columns_for` leave it out."""

UNIT_ID_COLUMNS: tuple[str, ...] = ("scenario", "replication", "level", "unit", "metric", "value")
"""Columns of the per-team and per-service results (``units.csv``, :func:`run_organisation`)."""


def replicate(task: tuple[Point, int, int, Measure]) -> dict[str, Any]:
    """One replication → one row: identifying columns, swept parameters, every metric.

    For an organisation scenario the row also carries, under :data:`UNITS_KEY`, the
    metrics of every team and service. The task a worker runs: for a scenario of one
    team it imports no pandas.
    """
    point, seed, replication, measure = task
    scenario = point.scenario
    result = simulate(scenario, seed=seed, replication=replication)
    row: dict[str, Any] = {
        "scenario": scenario.name, "strategy": scenario.strategy.name, "replication": replication, "seed": seed,
    }
    row.update(point.parameters)
    row.update(compute_metrics(result, measure.profile, year=measure.year))
    if scenario.organisation is not None and measure.units:
        from trunksim.metrics.organisation import organisation_metrics  # pandas: only an organisation's units need frames

        units = organisation_metrics(result, measure.profile, year=measure.year)
        row[UNITS_KEY] = list(units.itertuples(index=False, name=None))
    return row


def unit_rows(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """The per-team and per-service results carried by replication rows, as a long frame (:data:`UNIT_ID_COLUMNS`)."""
    import pandas as pd

    records = [
        (row["scenario"], row["replication"], *unit) for row in rows for unit in row.get(UNITS_KEY, ())
    ]
    frame = pd.DataFrame(records, columns=list(UNIT_ID_COLUMNS))
    return frame.astype({"replication": "int64", "value": "float64"})


UNIT_SUMMARY_COLUMNS: tuple[str, ...] = (
    "scenario", "level", "unit", "metric", "replications", "median", "median_ci95_low", "median_ci95_high",
)
"""Columns of :func:`summarize_units` (``units_summary.csv``)."""


def summarize_units(units: pd.DataFrame) -> pd.DataFrame:
    """Per scenario, level, unit and metric: the median over replications with its 95% interval.

    The statistics are those of ``summary.csv`` (:func:`summarize`):
    :func:`trunksim.stats.describe`'s median and distribution-free interval of the
    median; NaN values are left out and ``replications`` counts the others.

    Parameters
    ----------
    units : pandas.DataFrame
        The long frame of per-team and per-service results (columns
        :data:`UNIT_ID_COLUMNS`), as :func:`run_organisation` or :func:`unit_rows` give.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`UNIT_SUMMARY_COLUMNS`, one row per scenario × level × unit ×
        metric, in the order they first appear in ``units`` (scenarios in the order they
        ran; the organisation, then its teams, then its services). Empty (with these
        columns) for an empty frame.

    Raises
    ------
    ValueError
        A frame without one of :data:`UNIT_ID_COLUMNS`.
    """
    import pandas as pd

    missing = [column for column in UNIT_ID_COLUMNS if column not in units.columns]
    if missing:
        raise ValueError(f"summarize_units() needs the columns {', '.join(UNIT_ID_COLUMNS)}; this frame has no {missing[0]!r}")
    keys = ["scenario", "level", "unit", "metric"]
    rows = []
    for key, part in units.groupby(keys, sort=False):
        stats = describe(part["value"])
        rows.append({**dict(zip(keys, key)), **{name: stats[name] for name in UNIT_SUMMARY_COLUMNS[4:]}})
    return pd.DataFrame(rows, columns=list(UNIT_SUMMARY_COLUMNS))


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
        A scenario is too large to run as written (see :mod:`trunksim.scenario.size`),
        or does not pass the schema (``model_copy(update=...)`` skips validation; use
        :meth:`~trunksim.scenario.schema.Scenario.with_overrides`).
    ValueError
        No scenario, replications outside 1 to 100,000, a seed outside 0 to 2**63 - 1,
        or an unknown metrics profile or DORA year (checked before anything runs).
    TypeError
        A seed, replications or jobs that are not whole numbers.
    """
    options = RunOptions.of(options, keywords, "run")
    points = as_points(scenarios)
    rows = _replicate_all(points, options, "run")
    import pandas as pd  # after the replications: local workers forked from this process do not inherit it

    return pd.DataFrame(rows, columns=columns_for(points))


@takes_run_options
def run_organisation(
    scenarios: ScenarioLike | Point | Sequence[ScenarioLike | Point],
    *,
    options: Optional[RunOptions] = None,
    **keywords: Any,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Like :func:`run`, and also the metrics of every team and service of organisation scenarios.

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame)
        The frame :func:`run` returns (the organisation's totals, one row per scenario ×
        replication), and a long frame with columns :data:`UNIT_ID_COLUMNS`: for each
        scenario and replication, every metric at level ``organisation``, ``team`` and
        (polyrepo) ``service`` (:mod:`trunksim.metrics.organisation`). A one-team
        scenario has no rows in the second frame.
    """
    options = RunOptions.of(options, keywords, "run_organisation")
    points = as_points(scenarios)
    rows = _replicate_all(points, options, "run_organisation", units=True)
    import pandas as pd  # after the replications, as in run()

    return pd.DataFrame(rows, columns=columns_for(points)), unit_rows(rows)


def _replicate_all(points: list[Point], options: RunOptions, caller: str, units: bool = False) -> list[dict]:
    """Every replication of every point, rows in point-then-replication order."""
    if not points:
        raise ValueError(f"{caller}() needs at least one scenario")
    for point in points:
        check_valid(point.scenario)
        check_size(point.scenario)
    n, root = resolve(points, options.replications, options.seed)
    measure = dataclasses.replace(options.measure, units=units)
    tasks = [(point, root, k, measure) for point in points for k in range(n)]
    rows: list[Optional[dict]] = [None] * len(tasks)
    with executor_for(jobs=options.jobs, scheduler=options.scheduler, executor=options.executor) as pool, \
            progress_bar(len(tasks), options.progress) as bar:
        for index, row in completed(replicate, tasks, pool):
            rows[index] = row
            bar.update()
    return rows  # type: ignore[return-value]


def resolve(points: Sequence[Point], replications: int | None, seed: int | None) -> tuple[int, int]:
    """Replications and root seed: the arguments, else the first scenario's settings (both checked)."""
    first = points[0].scenario.simulation
    n = replications if replications is not None else first.replications
    n = check_whole("replications", n, 1, MAX_REPLICATIONS)
    return n, check_seed(seed if seed is not None else first.seed)


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
MAX_NAME_LENGTH = 200
"""Longest scenario name, characters (``Scenario.name``); a sweep point's name is kept within it."""


def point_name(base: str, label: str, limit: int = MAX_NAME_LENGTH) -> str:
    """The name of a sweep point: ``"<base> [<label>]"``, kept within ``limit`` characters.

    A valid name never becomes too long because of its sweep: when ``base`` and the label
    do not fit together, ``base`` is shortened (ending in ``…``); a label too long even
    for that is shortened too and ends in eight hexadecimal digits of its SHA-256, so
    points stay distinct. The swept values are in the point's own columns in full.
    """
    full = f"{base} [{label}]"
    if len(full) <= limit:
        return full
    room = limit - len(label) - 3  # " [" and "]"
    if room >= 9:
        return f"{base[: room - 1]}… [{label}]"
    digest = hashlib.sha256(label.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    head = base[:40] + ("…" if len(base) > 40 else "")
    keep = limit - len(head) - len(digest) - 5  # " [", "… ", "]"
    return f"{head} [{label[:keep]}… {digest}]"


def _values(path: str, values: Any) -> list[Any]:
    """The values of one grid path as a list: a list, tuple, range, array or other iterable is its items; anything
    else (a number, text, a mapping) is one value."""
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
        return [values]
    return [value.item() if hasattr(value, "item") and getattr(value, "ndim", None) == 0 else value for value in values]


def as_grid(grid: Any) -> dict[str, list[Any]]:
    """A sweep grid as ``{dotted path: [values]}``; a single value is a one-value list (``{"ci.runners": 3}``).

    Raises
    ------
    TypeError
        ``grid`` is not a mapping, or a path is not text.
    """
    if grid is None:
        return {}
    if not isinstance(grid, Mapping):
        raise TypeError(
            f"a sweep grid must be a mapping of dotted field path to values, such as {{'ci.runners': [1, 2, 4]}}, "
            f"not {type(grid).__name__}"
        )
    for path in grid:
        if not isinstance(path, str):
            raise TypeError(f"a sweep grid's keys are dotted field paths such as 'ci.runners', not {path!r}")
    return {path: _values(path, values) for path, values in grid.items()}


def _refuse(problems: Iterable[tuple[str, str]], origin: str) -> None:
    found = [Problem(origin, None, field or "sweep", message) for field, message in problems]
    if found:
        raise ScenarioError(found)


def _check_sweep(grid: Mapping[str, Sequence[Any]], variants: Sequence[Mapping[str, Any]], origin: str) -> None:
    """Refuse, before any point is made, what :func:`trunksim.scenario.schema.sweep_problems` finds."""
    found = []
    for where, message in sweep_problems(grid, variants):
        if where[:1] == ("grid",):
            field = where[1]
        elif where[:1] == ("variants",):
            field = f"variants.{where[1]}" + (f".set.{where[3]}" if len(where) > 3 else ".name")
        else:
            field = "sweep"
        found.append((field, message))
    _refuse(found, origin)


def expand_sweep(
    scenario: Scenario,
    grid: Mapping[str, Any] | None = None,
    variants: Sequence[Mapping[str, Any]] | None = None,
    *,
    origin: str = OVERRIDE,
) -> list[Point]:
    """The points of a sweep: every combination of a grid, and each named variant.

    Everything is checked before a point is returned, so a sweep that cannot run as
    meant is refused before any replication runs.

    Parameters
    ----------
    scenario : Scenario
        The base scenario.
    grid : mapping of dotted path → values, optional
        ``{"ci.runners": [1, 2, 4], "ci.flaky_failure_probability": [0, 0.05]}``. A
        single value (``{"ci.runners": 3}``) is a one-value list; any iterable that is
        not text or a mapping (a tuple, ``range``, a NumPy array) is its items.
    variants : list of ``{"name": ..., "set": {path: value}}``, optional
        Named overrides, run as they are.
    origin : str
        The file name problems are reported in (``<override>`` by default).

    Returns
    -------
    list of Point
        Each point's scenario is named ``"<base> [path=value, ...]"`` (or
        ``"<base> [variant]"``), within 200 characters (:func:`point_name`); its
        parameters are the swept values as validated (durations in hours). A path whose
        values mix plain values and distributions holds every value as JSON text, so the
        column has one type.

    Raises
    ------
    trunksim.scenario.loading.ScenarioError
        A path a sweep may not set (``simulation.seed``, ``simulation.replications``,
        the whole ``strategy``: :data:`~trunksim.scenario.schema.SWEEP_REFUSED`), a
        path with no values, a value given twice (also as two spellings of one value,
        ``10m`` and ``600s``), grid paths holding each other, variant names given twice,
        more than 10,000 points, or a value the schema refuses.
    TypeError
        ``grid`` is not a mapping.
    ValueError
        Neither a grid nor variants.
    """
    grid = as_grid(grid)
    variants = [dict(variant) for variant in variants or ()]
    if not grid and not variants:
        raise ValueError("a sweep needs a grid or variants")
    _check_sweep(grid, variants, origin)
    points: list[Point] = []
    if grid:
        paths = list(grid)
        own = {p: _value_at(scenario, p) for p in paths}
        made: dict[str, dict[str, Any]] = {}
        for combination in itertools.product(*(grid[p] for p in paths)):
            overrides = dict(zip(paths, combination))
            label = ", ".join(f"{p}={v}" for p, v in overrides.items())
            swept = scenario.with_overrides({**overrides, "name": point_name(scenario.name, label)})
            values = {p: _value_at(swept, p) for p in paths}
            key = json.dumps(values, sort_keys=True, default=str)
            if key in made:
                first = made[key]
                same = next(p for p in paths if _written(first[p]) != _written(overrides[p]))
                message = (
                    f"the values {show_grid_value(first[same])} and {show_grid_value(overrides[same])} are the same value "
                    "(allowed: each value once; a repeated value makes two identical points)"
                )
                _refuse([(same, message)], origin)
            made[key] = overrides
            points.append(Point(swept, values, own))
        _one_type_per_column(points, paths)
    for variant in variants:
        name = str(variant["name"])
        swept = scenario.with_overrides({**dict(variant.get("set") or {}), "name": point_name(scenario.name, name)})
        points.append(Point(swept, {"variant": name}))
    names: dict[str, int] = {}
    for index, point in enumerate(points):
        if point.scenario.name in names:
            message = f"points {names[point.scenario.name] + 1} and {index + 1} would both be named {point.scenario.name!r}"
            _refuse([("sweep", message + " (allowed: variant names that differ from the grid's labels)")], origin)
        names[point.scenario.name] = index
    return points


def _written(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def show_grid_value(value: Any) -> str:
    """A swept value as a problem quotes it."""
    return repr(value) if isinstance(value, str) else json.dumps(value, default=str) if isinstance(value, (dict, list)) else str(value)


def _value_at(scenario: Scenario, path: str) -> Any:
    """The validated value at a dotted path (mappings and lists as they are, durations in hours)."""
    value: Any = scenario.model_dump(mode="json")
    for part in path.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def _one_type_per_column(points: Sequence[Point], paths: Sequence[str]) -> None:
    """Make each swept path's column hold values of one kind, as a table cell.

    A constant distribution is its value (hours) when every value of the path is a plain
    value; once any value is a mapping or a list (a log-normal, a list of time zones),
    every value of that path is JSON text (a constant as ``{"dist": "constant", ...}``),
    so a column never mixes numbers and text (which Parquet refuses).
    """
    for path in paths:
        values = [point.parameters[path] for point in points]
        constant = [isinstance(v, dict) and v.get("dist") == "constant" for v in values]
        structured = any(isinstance(v, (dict, list)) and not c for v, c in zip(values, constant))
        for point, value, is_constant in zip(points, values, constant):
            if structured and value is not None:
                shown = json.dumps(value, sort_keys=True)
            elif is_constant:
                shown = value["value"]
            else:
                shown = value
            point.parameters[path] = shown  # type: ignore[index]


def parse_grid(texts: Sequence[str], overrides: Mapping[str, Any] | None = None) -> dict[str, list[Any]]:
    """The command line's ``--grid FIELD.PATH=[V1,V2,...]`` texts as a grid, checked before anything runs.

    The CLI calls it once (``cli_grid = parse_grid(grid, overrides)``); then
    :func:`scenario_points` expands each scenario. A single value (``ci.runners=3``) is
    a one-value list.

    Parameters
    ----------
    texts : sequence of str
        The ``--grid`` texts, in order.
    overrides : mapping, optional
        The ``--set`` overrides of the same command: a path both set and swept is refused.

    Returns
    -------
    dict of str to list

    Raises
    ------
    trunksim.scenario.loading.ScenarioError
        One located line (``<override>:?: PATH: ...``) per problem: malformed text, a path
        given twice, a path also set by ``--set`` (or holding or inside one), and what
        :func:`expand_sweep` refuses before making points (a path a sweep may not set,
        no values, a value given twice, paths holding each other, more than 10,000 points).
    """
    from trunksim.scenario.loading import parse_assignment

    grid: dict[str, list[Any]] = {}
    found: list[tuple[str, str]] = []
    for text in texts:
        path, values = parse_assignment(text)
        if path in grid:
            found.append((path, f"--grid {path} is given twice (allowed: each path once, with every value in one list: "
                                f"{path}=[a, b, c])"))
            continue
        grid[path] = values if isinstance(values, list) else [values]
    found += _set_and_swept(grid, overrides or {}, "--grid")
    _refuse(found, OVERRIDE)
    _check_sweep(grid, [], OVERRIDE)
    return grid


def _set_and_swept(paths: Iterable[str], overrides: Mapping[str, Any], sweep: str) -> list[tuple[str, str]]:
    found = []
    for path in paths:
        for fixed in overrides:
            if path == fixed or path.startswith(f"{fixed}.") or str(fixed).startswith(f"{path}."):
                what = "set" if path == fixed else f"set (as {fixed})"
                found.append((path, f"is {what} by --set and swept by {sweep}; the sweep's values would replace --set's "
                                    "(allowed: set it or sweep it, not both)"))
                break
    return found


def scenario_points(scenario: Scenario, grid: Mapping[str, Any] | None = None, *, fixed: Iterable[str] = ()) -> list[Point]:
    """The points one scenario of a command-line run becomes: a ``--grid``, its own ``sweep:`` block, or itself.

    Parameters
    ----------
    scenario : Scenario
        A loaded scenario (with the ``--set`` overrides applied).
    grid : mapping, optional
        The ``--grid`` (from :func:`parse_grid`); it takes the place of the file's own
        ``sweep:`` block.
    fixed : iterable of str
        The paths ``--set`` gave: the file's ``sweep:`` block may not sweep them too
        (the sweep would silently replace them).

    Raises
    ------
    trunksim.scenario.loading.ScenarioError
        As :func:`expand_sweep`, and for a path both set by ``--set`` and swept by the
        ``sweep:`` block.
    """
    if grid:
        return expand_sweep(scenario, grid)
    block = scenario.sweep
    if block is None or not (block.grid or block.variants):
        return [Point(scenario)]
    origin = f"<scenario {scenario.name!r}>"
    fixed = {path: None for path in fixed}
    swept = [*block.grid, *(path for variant in block.variants for path in variant.set)]
    _refuse(_set_and_swept(dict.fromkeys(swept), fixed, "the file's sweep: block"), origin)
    return expand_sweep(scenario, block.grid, [v.model_dump() for v in block.variants], origin=origin)


@takes_run_options
def sweep(
    scenario: ScenarioLike,
    grid: Mapping[str, Any] | None = None,
    *,
    variants: Sequence[Mapping[str, Any]] | None = None,
    options: Optional[RunOptions] = None,
    **keywords: Any,
) -> pd.DataFrame:
    """Run a parameter sweep: :func:`run` over :func:`expand_sweep`'s points.

    With neither ``grid`` nor ``variants``, the scenario's own ``sweep:`` block is run
    (``trunksim.sweep("file.yaml")``); given either, they take its place. A single value
    in the grid (``{"ci.runners": 3}``) is a one-value list. The frame carries one
    column per swept dotted path (``"ci.runners"``), or a ``variant`` column. Every
    point shares the seeds, so the sweep is paired; the seed and the replication count
    are set for the whole sweep (``seed=``, ``replications=``) and cannot be swept.
    ``options`` and the keyword arguments (:class:`RunOptions`' fields) are as in :func:`run`.

    Raises
    ------
    trunksim.scenario.loading.ScenarioError, TypeError, ValueError
        As :func:`expand_sweep` (before anything runs); ``ValueError`` also when there is
        neither a grid, nor variants, nor a ``sweep:`` block.
    """
    options = RunOptions.of(options, keywords, "sweep")
    base = as_scenario(scenario)
    if grid is None and variants is None:
        block = base.sweep
        if block is None or not (block.grid or block.variants):
            raise ValueError(f"sweep() needs a grid or variants: scenario {base.name!r} has no sweep: block of its own")
        points = scenario_points(base)
    else:
        points = expand_sweep(base, grid, variants)
    return run(points, options=options)


# -- summaries --------------------------------------------------------------------------------
def check_results(frame: Any, caller: str = "summarize") -> None:
    """Refuse, in one clear line, what is not a results frame with rows (before anything is written from it).

    Raises
    ------
    TypeError
        ``frame`` is not a DataFrame.
    ValueError
        It has no ``scenario``, ``strategy`` or ``replication`` column, or no rows.
    """
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{caller}() needs a results frame (a pandas DataFrame from trunksim.run), not {type(frame).__name__}")
    missing = [column for column in ("scenario", "strategy", "replication") if column not in frame.columns]
    if missing:
        raise ValueError(
            f"{caller}() needs a results frame with the columns scenario, strategy and replication "
            f"(as trunksim.run returns); this one has no {', '.join(missing)}"
        )
    if frame.empty:
        raise ValueError(f"{caller}() needs a results frame with at least one row (one per scenario × replication); this one is empty")


def numeric_metrics(frame: pd.DataFrame) -> list[str]:
    """The metric columns of a results frame that are numbers."""
    import pandas as pd

    return [m for m in METRIC_COLUMNS if m in frame and pd.api.types.is_numeric_dtype(frame[m])]


def summarize(frame: pd.DataFrame, metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """Per scenario and metric: median with a 95% interval, spread, and paired difference.

    Columns: ``scenario, strategy, metric, replications, mean, median, median_ci95_low,
    median_ci95_high, p2_5, p97_5`` and, against the first scenario (the baseline, under
    common random numbers), ``baseline, paired_diff_median, paired_diff_ci95_low,
    paired_diff_ci95_high`` — the median of per-replication differences with its 95%
    interval (the baseline's own rows have zero difference). The statistics are
    :func:`trunksim.stats.describe` and :func:`trunksim.stats.paired_difference`.

    Raises
    ------
    ValueError
        An empty frame, one without its identifying columns, or a metric it does not have.
    """
    import pandas as pd

    check_results(frame, "summarize")
    metrics = list(metrics) if metrics is not None else numeric_metrics(frame)
    unknown = [metric for metric in metrics if metric not in frame.columns]
    if unknown:
        raise ValueError(f"summarize(): the frame has no column {unknown[0]!r} (allowed: its metric columns)")
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

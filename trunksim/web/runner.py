"""Running a participant's choice: replications with progress, then the pictures and tables.

No web framework here: :func:`run_choice` takes a progress callback and returns a
:class:`Outcome` (the results frame, the headline table, PNG images, CSV text), so it is
tested without a browser. The scenario as shipped runs beside the participant's version
under common random numbers (replication *k* of both sees the same work), so the
pictures compare the two; its replications are cached, since every participant who
opens a round runs it with the same seed.
"""

from __future__ import annotations

import threading
from concurrent.futures import Executor, as_completed
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

import pandas as pd

from trunksim.experiment import Measure, Point, columns_for, replicate, simulate
from trunksim.metrics.levels import LEVELS
from trunksim.scenario.schema import Scenario
from trunksim.scenario.size import check_size
from trunksim.web.choices import Choice, describe_changes, overrides_for

YOURS = "your version"
"""Name of the participant's scenario in tables and plots (the shipped one keeps its own name)."""

HEADLINE: dict[str, str] = {
    "lead_time_median_hours": "lead time, median (h)",
    "deploys_per_day": "deploys / day",
    "change_failure_rate": "change failure rate",
    "change_failure_rate_escaped": "failures reaching all users",
    "recovery_time_median_hours": "recovery, median (h)",
    "ci_queue_wait_mean_hours": "CI queue wait (h)",
    "red_branch_share": "share of time red",
}
"""The columns of the headline table (medians over replications), with their headings."""

Progress = Callable[[int, int], None]
"""``progress(done, total)``: called as replications finish."""

_cache: dict[tuple, list[dict]] = {}
_cache_lock = threading.Lock()


@dataclass
class Outcome:
    """What one run gives a participant."""

    frame: pd.DataFrame
    headline: pd.DataFrame
    images: dict[str, bytes]
    changed: str
    scenario: Scenario
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def csv(self) -> str:
        """Every replication of both scenarios, one row each (the columns of ``trunksim run``'s replications.csv)."""
        return self.frame.to_csv(index=False)


def headline(frame: pd.DataFrame) -> pd.DataFrame:
    """Median of each headline metric per scenario, and the DORA level most replications reach."""
    columns = [c for c in HEADLINE if c in frame]
    table = frame.groupby("scenario", sort=False)[columns].median().rename(columns=HEADLINE)
    if "dora_level" in frame:
        def usual(levels: pd.Series) -> str:
            counts = levels.dropna().value_counts()
            if not len(counts):
                return "n/a"
            top = counts.max()
            return min((lvl for lvl, n in counts.items() if n == top), key=lambda lvl: LEVELS.index(lvl) if lvl in LEVELS else 9)

        table["usual DORA level"] = frame.groupby("scenario", sort=False)["dora_level"].agg(usual)
    table.index.name = None
    return table.round(3)


def _rows(scenario: Scenario, replications: int, seed: int, executor: Optional[Executor],
          progress: Callable[[], None]) -> list[dict]:
    tasks = [(Point(scenario), seed, k, Measure()) for k in range(replications)]
    rows: list[Optional[dict]] = [None] * len(tasks)
    if executor is None:
        for index, task in enumerate(tasks):
            rows[index] = replicate(task)
            progress()
    else:
        futures = {executor.submit(replicate, task): index for index, task in enumerate(tasks)}
        for future in as_completed(futures):
            rows[futures[future]] = future.result()
            progress()
    return [row for row in rows if row is not None]


def run_choice(
    choice: Choice,
    values: Mapping[str, Any],
    *,
    replications: int = 10,
    weeks: int = 8,
    seed: int = 1,
    executor: Optional[Executor] = None,
    progress: Optional[Progress] = None,
) -> Outcome:
    """Run ``choice`` as shipped and with the participant's ``values``; draw the pictures.

    Parameters
    ----------
    choice : Choice
        The round or scenario.
    values : mapping of parameter key → value
        The participant's settings; those equal to the scenario's own change nothing.
        When none differs, only the scenario as shipped runs.
    replications, weeks, seed
        Replications per scenario, simulated weeks (two of warm-up) and root seed.
    executor : concurrent.futures.Executor, optional
        Where replications run (a process pool shared by every session); in this
        thread if None. Results are the same either way.
    progress : callable, optional
        ``progress(done, total)`` as replications finish.
    """
    import time

    started = time.perf_counter()
    shipped = choice.load(weeks)
    overrides = overrides_for(choice, shipped, values)
    yours = shipped.with_overrides({**overrides, "name": YOURS}) if overrides else None
    for scenario in (shipped, yours):
        if scenario is not None:
            check_size(scenario)
    key = (str(choice.path), choice.path.stat().st_mtime_ns, weeks, replications, seed)
    with _cache_lock:
        cached = _cache.get(key)
    total = replications * ((0 if cached else 1) + (1 if yours is not None else 0))
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    if progress is not None:
        progress(0, total)
    if cached is None:
        cached = _rows(shipped, replications, seed, executor, tick)
        with _cache_lock:
            _cache[key] = cached
    rows = list(cached)
    if yours is not None:
        rows += _rows(yours, replications, seed, executor, tick)
    points = [Point(shipped)] + ([Point(yours)] if yours is not None else [])
    frame = pd.DataFrame(rows, columns=columns_for(points))
    shown = yours if yours is not None else shipped
    one = simulate(shown, seed=seed, replication=0)
    images = draw(frame, one, shown)
    notes = [] if yours is not None else ["Nothing changed: this is the scenario as shipped. Move a parameter and run again."]
    return Outcome(frame, headline(frame), images, describe_changes(choice, shipped, values), shown,
                   time.perf_counter() - started, notes)


def draw(frame: pd.DataFrame, run: Any, scenario: Scenario) -> dict[str, bytes]:
    """The pictures of a run: ``dora``, ``stages``, ``timeline`` (replication 0 of ``scenario``) and ``levels``."""
    from trunksim.plotting import dora_panel, level_shares, stage_breakdown, timeline
    from trunksim.plotting.images import axes_png, figure_png

    scenarios = frame["scenario"].nunique()
    images = {
        "dora": figure_png(dora_panel(frame), dpi=70),
        "stages": axes_png(lambda ax: stage_breakdown(frame, ax=ax), figsize=(12, 2.8 + 1.0 * scenarios)),
        "timeline": axes_png(
            lambda ax: timeline(run, ax=ax, max_changes=30, title=f"{scenario.name}: one replication, the first week after the warm-up"),
            figsize=(14, 9),
        ),
    }
    if "dora_level" in frame:
        images["levels"] = axes_png(lambda ax: level_shares(frame, ax=ax), figsize=(11, 2.6 + 0.8 * scenarios))
    return images


def clear_cache() -> None:
    """Forget the cached replications of shipped scenarios (after a scenario file changed)."""
    with _cache_lock:
        _cache.clear()

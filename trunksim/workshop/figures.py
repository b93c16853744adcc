"""The figures the workshop's teaching material states, computed from runs of the model.

The facilitator's guide (``docs/workshop.md``) and the folded answers of
``notebooks/03-workshop.ipynb`` are written from templates in
``trunksim/workshop/templates/``: ``guide.md`` and ``notebook.md`` (one section per
generated notebook cell, ``<!-- cell: ID -->``; the notebook's cell carries
``metadata.trunksim_generated = ID``). A template names each figure between double
braces; :func:`compute` runs the rounds and exercises (seed 1, 10 replications, 8 weeks,
as the notebook does) and gives every figure its text and the interval it may lie in.

Figure names
------------
``{{ r4.lead }}``
    the median over replications of a metric (aliases in :data:`METRICS`) of a scenario:
    ``r1``–``r4`` the rounds, ``e1a``… the exercise variants (:data:`trunksim.workshop.EXERCISES`).
``{{ r4/r3.lead }}``
    the median of the per-replication ratios of two scenarios (paired: replication *k*
    of both saw the same work).
``{{ r4.level }}``
    the DORA level most replications reach (a word; compared exactly).
``{{ code:e1a }}``
    the Python that makes a variant from its round (compared exactly).

Checking
--------
:func:`check` matches a written file against its template: the text between figures
must be the template's, and each figure must lie in the 95 % interval of a fresh run's
median (widened by the figure's rounding). It also checks :data:`CLAIMS`, the
statements the prose makes in words ("lands a level worse", "no faster than feature
branches"). Both fail when the model moves; ``python -m trunksim.workshop figures``
writes the new figures (and fails if a claim no longer holds, since then the prose
needs rewriting, not only its numbers).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np
import pandas as pd

from trunksim.metrics.levels import LEVELS
from trunksim.stats import median_interval
from trunksim.workshop import (
    EXERCISES, GUIDE, NOTEBOOK, REPLICATIONS, ROUNDS, SEED, Variant, load_round, variant_scenario,
)

TEMPLATES = Path(__file__).resolve().parent / "templates"
GUIDE_TEMPLATE = TEMPLATES / "guide.md"
NOTEBOOK_TEMPLATE = TEMPLATES / "notebook.md"
GENERATED_KEY = "trunksim_generated"
"""Metadata key of a notebook cell written from ``notebook.md`` (its value: the section id)."""

PLACEHOLDER = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")
CELL_MARK = re.compile(r"^<!-- cell: ([\w-]+) -->\n", re.M)

# alias → (column or derived column, display kind)
METRICS: dict[str, tuple[str, str]] = {
    "lead": ("lead_time_median_hours", "number"),
    "lead_mean": ("lead_time_mean_hours", "number"),
    "lead_p90": ("lead_time_p90_hours", "number"),
    "deploys": ("deploys_per_day", "number"),
    "deploys_week": ("deploys_per_week", "number"),
    "cfr": ("change_failure_rate", "number"),
    "cfr_escaped": ("change_failure_rate_escaped", "number"),
    "cfr_pct": ("change_failure_rate", "percent"),
    "cfr_escaped_pct": ("change_failure_rate_escaped", "percent"),
    "recovery": ("recovery_time_median_hours", "number"),
    "rework": ("rework_rate", "number"),
    "ci_wait": ("ci_queue_wait_mean_hours", "number"),
    "red": ("red_branch_share", "percent"),
    "flaky_hours": ("flaky_triage_hours_per_week", "number"),
    "conflicts": ("merge_conflict_rate", "percent"),
    "exposure": ("failure_exposure_user_hours_per_week", "number"),
    "deploy_wait_share": ("deploy_wait_share", "percent"),
    "coding_share": ("coding_share_of_lead_time", "percent"),
    "changes_per_deploy": ("changes_per_deployment", "number"),
    "lines": ("change_size_median_lines", "number"),
    "changes_week": ("changes_delivered_per_week", "number"),
    "changes_2w": ("changes_per_two_weeks", "number"),
}
"""Names a template may use for a scenario's metrics (``r4.lead``), with how they print."""


def _derived(frame: pd.DataFrame) -> pd.DataFrame:
    """The results frame with the per-replication columns the figures need beyond the metrics."""
    frame = frame.copy()
    frame["deploys_per_week"] = 7.0 * frame["deploys_per_day"]
    lead_mean = frame["lead_time_mean_hours"].where(frame["lead_time_mean_hours"] > 0)
    frame["deploy_wait_share"] = frame["stage_deploy_wait_mean_hours"] / lead_mean
    frame["coding_share_of_lead_time"] = frame["stage_coding_mean_hours"] / lead_mean
    per_week = frame["deploys_per_week"].where(frame["deploys_per_week"] > 0)
    frame["changes_per_deployment"] = frame["changes_delivered_per_week"] / per_week
    frame["changes_per_two_weeks"] = 2.0 * frame["changes_delivered_per_week"]
    return frame


# -- what is run -------------------------------------------------------------------------------
def scenarios() -> dict[str, Any]:
    """Every scenario the teaching material speaks of, by key: ``r1``–``r4`` and the exercise variants."""
    rounds = {n: load_round(n) for n in ROUNDS}
    keyed: dict[str, Any] = {f"r{n}": rounds[n] for n in ROUNDS}
    for variants in EXERCISES.values():
        for variant in variants:
            keyed[variant.key] = variant_scenario(variant, rounds)
    return keyed


def run_all(jobs: int = 1, progress: bool = False) -> dict[str, pd.DataFrame]:
    """Run every scenario of :func:`scenarios` as the notebook does; key → its replications (with derived columns).

    All run in one paired batch (replication *k* of each sees the same work), which
    gives the same rows as the notebook's separate runs: each replication's random
    streams depend only on the seed and its index.
    """
    from trunksim.experiment import run

    keyed = scenarios()
    frame = run(list(keyed.values()), replications=REPLICATIONS, seed=SEED, jobs=jobs, progress=progress)
    frame = _derived(frame)
    return {
        key: frame[frame["scenario"] == scenario.name].set_index("replication").sort_index()
        for key, scenario in keyed.items()
    }


# -- how a figure prints ------------------------------------------------------------------------
def step_for(value: float) -> float:
    """The rounding step of a printed figure: 5 from 100 up, 1 from 10 up, else two significant digits."""
    magnitude = abs(value)
    if magnitude >= 100:
        return 5.0
    if magnitude >= 10:
        return 1.0
    if magnitude == 0 or not math.isfinite(magnitude):
        return 0.01
    return 10.0 ** (math.floor(math.log10(magnitude)) - 1)


def number_text(value: float) -> str:
    """A figure as the guide prints it: ``425``, ``78``, ``7.5``, ``0.71``, ``0.053``; ``n/a`` if undefined."""
    if value is None or not math.isfinite(value):
        return "n/a"
    step = step_for(value)
    rounded = round(value / step) * step
    if step_for(rounded) > step:  # 99.6 → 100 (step 5)
        step = step_for(rounded)
        rounded = round(value / step) * step
    decimals = max(0, -int(math.floor(math.log10(step) + 1e-9)))
    text = f"{rounded:.{decimals}f}"
    return "0" if float(text) == 0 else text


def parse_number(text: str) -> float:
    """The value a printed figure states (``82%`` → 82, ``n/a`` → NaN)."""
    text = text.strip().rstrip("%").replace("\u2212", "-")
    return math.nan if text == "n/a" else float(text)


@dataclass(frozen=True)
class Figure:
    """A figure as printed, and the interval a printed figure may lie in (display units).

    ``low``/``high`` are None for figures compared exactly (levels, code).
    """

    text: str
    value: Any = None
    low: Optional[float] = None
    high: Optional[float] = None

    def accepts(self, written: str) -> bool:
        """Whether ``written`` (a figure in a committed file) agrees with this fresh one."""
        if self.low is None or self.high is None:
            return written == self.text
        if written == "n/a" or self.text == "n/a":
            return written == self.text
        try:
            stated = parse_number(written)
        except ValueError:
            return False
        slack = step_for(stated)
        return self.low - slack <= stated <= self.high + slack

    def describe(self) -> str:
        if self.low is None:
            return repr(self.text)
        return f"{self.text} (95% interval of the median {number_text(self.low)}–{number_text(self.high)})"


def _number_figure(values: np.ndarray, kind: str) -> Figure:
    values = values[np.isfinite(values)]
    scale = 100.0 if kind == "percent" else 1.0
    if not len(values):
        return Figure("n/a", math.nan, math.nan, math.nan)
    median = float(np.median(values)) * scale
    low, high = (v * scale for v in median_interval(values))
    suffix = "%" if kind == "percent" else ""
    return Figure(number_text(median) + suffix, median, low, high)


def _usual_level(levels: pd.Series) -> str:
    counts = levels.dropna().value_counts()
    if not len(counts):
        return "n/a"
    best = counts.max()
    return min((level for level, n in counts.items() if n == best), key=lambda level: LEVELS.index(level))


def _python(value: Any) -> str:
    return repr(value) if isinstance(value, bool) else json.dumps(value)


def variant_code(variant: Variant) -> str:
    """``round4.with_overrides({...})``: the Python that makes a variant in the notebook."""
    items = ", ".join(f"{json.dumps(k)}: {_python(v)}" for k, v in variant.overrides.items())
    return f"round{variant.base}.with_overrides({{{items}}})"


def _variants() -> dict[str, Variant]:
    return {v.key: v for variants in EXERCISES.values() for v in variants}


def figure(name: str, results: Mapping[str, pd.DataFrame]) -> Figure:
    """The figure a template names (see the module's docstring for the forms of ``name``)."""
    if name.startswith("code:"):
        return Figure(variant_code(_variants()[name[5:]]))
    keys, _, alias = name.rpartition(".")
    if not keys:
        raise KeyError(f"figure {name!r}: expected <scenario>.<metric>, e.g. r4.lead")
    if alias == "level":
        return Figure(_usual_level(results[keys]["dora_level"]))
    if alias not in METRICS:
        raise KeyError(f"figure {name!r}: unknown metric {alias!r} (known: {', '.join(METRICS)})")
    column, kind = METRICS[alias]
    if "/" in keys:
        top, bottom = keys.split("/")
        a = results[top][column]
        b = results[bottom][column].reindex(a.index)
        ratio = (a / b.where(b != 0)).to_numpy(dtype=float)
        return _number_figure(ratio, "number")
    return _number_figure(results[keys][column].to_numpy(dtype=float), kind)


def figures_in(template: str) -> list[str]:
    """The figure names a template uses, in order."""
    return [m.group(1) for m in PLACEHOLDER.finditer(template)]


def render(template: str, results: Mapping[str, pd.DataFrame]) -> str:
    """A template with every figure written in."""
    cache: dict[str, Figure] = {}

    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name not in cache:
            cache[name] = figure(name, results)
        return cache[name].text

    return PLACEHOLDER.sub(replace, template)


def _pattern(template: str) -> re.Pattern:
    parts = []
    position = 0
    for match in PLACEHOLDER.finditer(template):
        parts.append(re.escape(template[position:match.start()]))
        parts.append(r"(.*?)" if match.group(1).startswith("code:") else r"([^\s|()]*?)")
        position = match.end()
    parts.append(re.escape(template[position:]))
    return re.compile("".join(parts), re.S)


def disagreements(written: str, template: str, results: Mapping[str, pd.DataFrame], where: str) -> list[str]:
    """Where ``written`` departs from ``template`` rendered with ``results``: prose changed, or figures out of their intervals."""
    match = _pattern(template).fullmatch(written)
    if match is None:
        lines, expected = written.splitlines(), render(template, results).splitlines()
        for number, (a, b) in enumerate(zip(lines, expected), start=1):
            if _masked(a) != _masked(b):
                return [f"{where}:{number}: the text differs from its template {_template_name(where)} "
                        f"(edit the template and regenerate):\n    written:  {a}\n    template: {b}"]
        return [f"{where}: {len(lines)} lines, its template {_template_name(where)} renders {len(expected)}"]
    problems = []
    for name, written_text in zip(figures_in(template), match.groups()):
        fresh = figure(name, results)
        if not fresh.accepts(written_text):
            line = written[: written.find(written_text)].count("\n") + 1
            problems.append(f"{where}:{line}: {{{{ {name} }}}} says {written_text!r}; a fresh run gives {fresh.describe()}")
    return list(dict.fromkeys(problems))


def _masked(line: str) -> str:
    return re.sub(r"\d[\d.]*%?|n/a", "#", line)


def _template_name(where: str) -> str:
    return "trunksim/workshop/templates/guide.md" if where.endswith(".md") else "trunksim/workshop/templates/notebook.md"


# -- the claims the prose makes in words --------------------------------------------------------
def _median(results: Mapping[str, pd.DataFrame], key: str, alias: str) -> float:
    column = METRICS[alias][0]
    return float(np.nanmedian(results[key][column].to_numpy(dtype=float)))


def _level_rank(results: Mapping[str, pd.DataFrame], key: str) -> int:
    level = _usual_level(results[key]["dora_level"])
    return LEVELS.index(level) if level in LEVELS else len(LEVELS)


Claim = tuple[str, Callable[[Mapping[str, pd.DataFrame]], bool]]

CLAIMS: tuple[Claim, ...] = (
    ("round 1: most of lead time is waiting to deploy", lambda r: _median(r, "r1", "deploy_wait_share") > 0.5),
    ("round 1: GitFlow's release train is usually 'low'", lambda r: _usual_level(r["r1"]["dora_level"]) == "low"),
    ("round 2: lead time falls from round 1's", lambda r: _median(r, "r2", "lead") < _median(r, "r1", "lead") / 3),
    ("round 2: the change failure rate falls from round 1's", lambda r: _median(r, "r2", "cfr") < _median(r, "r1", "cfr") / 2),
    ("round 2: coding is the largest stage", lambda r: _median(r, "r2", "coding_share") > 0.5),
    ("round 2: recovery is slower than round 1's", lambda r: _median(r, "r2", "recovery") > _median(r, "r1", "recovery")),
    ("round 3: lead time in hours, below round 2's", lambda r: _median(r, "r3", "lead") < min(24, _median(r, "r2", "lead"))),
    ("round 3: the canary keeps most failures from all users", lambda r: _median(r, "r3", "cfr_escaped") < _median(r, "r3", "cfr")),
    ("round 3: a better DORA level than round 2", lambda r: _level_rank(r, "r3") < _level_rank(r, "r2")),
    ("round 4: all four DORA metrics worse than round 3's",
     lambda r: _median(r, "r4", "lead") > _median(r, "r3", "lead") and _median(r, "r4", "deploys") < _median(r, "r3", "deploys")
     and _median(r, "r4", "cfr") > _median(r, "r3", "cfr") and _median(r, "r4", "recovery") > _median(r, "r3", "recovery")),
    ("round 4: a worse DORA level than round 3", lambda r: _level_rank(r, "r4") > _level_rank(r, "r3")),
    ("round 4: lead time at least three times round 3's", lambda r: _median(r, "r4", "lead") > 3 * _median(r, "r3", "lead")),
    ("round 4: no faster than feature branches (mean and median lead time)",
     lambda r: _median(r, "r4", "lead") >= _median(r, "r2", "lead") and _median(r, "r4", "lead_mean") >= 0.9 * _median(r, "r2", "lead_mean")),
    ("round 4: fewer deployments than round 3", lambda r: _median(r, "r4", "deploys") < _median(r, "r3", "deploys") / 2),
    ("round 4: more failures reach all users than in round 3", lambda r: _median(r, "r4", "cfr_escaped") > 2 * _median(r, "r3", "cfr_escaped")),
    ("round 4: trunk is red most of the time", lambda r: _median(r, "r4", "red") > 0.5),
    ("exercise 1: more runners or faster CI at least halve lead time",
     lambda r: all(_median(r, k, "lead") <= 0.5 * _median(r, "r4", "lead") for k in ("e1a", "e1b"))),
    ("exercise 1: fixing flakiness gives back most triage hours",
     lambda r: _median(r, "e1c", "flaky_hours") < 0.5 * _median(r, "r4", "flaky_hours")),
    ("exercise 1: fixing flakiness helps lead time far less than capacity does",
     lambda r: _median(r, "e1c", "lead") > 2 * max(_median(r, "e1a", "lead"), _median(r, "e1b", "lead"))),
    ("exercise 1: canaries leave lead time within a fifth and cut escaped failures",
     lambda r: abs(_median(r, "e1d", "lead") / _median(r, "r4", "lead") - 1) < 0.2
     and _median(r, "e1d", "cfr_escaped") < 0.5 * _median(r, "r4", "cfr_escaped")),
    ("exercise 2: a weekly train shortens lead time but stays 'low'",
     lambda r: _median(r, "e2", "lead") < _median(r, "r1", "lead") and _usual_level(r["e2"]["dora_level"]) == "low"),
    ("exercise 3: three pull requests per feature cut lead time, failures and conflicts",
     lambda r: all(_median(r, "e3", a) < _median(r, "r2", a) for a in ("lead", "cfr", "conflicts"))),
    ("exercise 4: without the canary more failures escape, and the median lead time falls",
     lambda r: _median(r, "e4", "cfr_escaped") > _median(r, "r3", "cfr_escaped") and _median(r, "e4", "lead") < _median(r, "r3", "lead")),
)
"""What the guide and the notebook say in words; each must hold in a fresh run."""


def broken_claims(results: Mapping[str, pd.DataFrame]) -> list[str]:
    """The claims of :data:`CLAIMS` a run does not bear out."""
    return [text for text, holds in CLAIMS if not holds(results)]


# -- the files -----------------------------------------------------------------------------------
def notebook_sections(template: str | None = None) -> dict[str, str]:
    """``notebook.md`` split into its sections: cell id → template of that cell's source."""
    text = NOTEBOOK_TEMPLATE.read_text(encoding="utf-8") if template is None else template
    marks = list(CELL_MARK.finditer(text))
    sections = {}
    for mark, following in zip(marks, marks[1:] + [None]):
        end = following.start() if following is not None else len(text)
        sections[mark.group(1)] = text[mark.end():end].rstrip("\n")
    return sections


def _generated_cells(notebook: Any) -> dict[str, Any]:
    return {cell.metadata[GENERATED_KEY]: cell for cell in notebook.cells if GENERATED_KEY in cell.metadata}


def write(results: Mapping[str, pd.DataFrame], guide: Path = GUIDE, notebook_path: Path = NOTEBOOK) -> list[Path]:
    """Write the figures of ``results`` into the guide and the notebook's generated cells; returns the files written."""
    import nbformat

    guide.write_text(render(GUIDE_TEMPLATE.read_text(encoding="utf-8"), results), encoding="utf-8")
    notebook = nbformat.read(notebook_path, as_version=4)
    cells = _generated_cells(notebook)
    sections = notebook_sections()
    missing = sorted(set(sections) - set(cells))
    if missing:
        raise KeyError(f"{notebook_path.name} has no cell with metadata {GENERATED_KEY}= {', '.join(missing)}")
    for key, template in sections.items():
        cells[key].source = render(template, results)
    nbformat.write(notebook, notebook_path)
    return [guide, notebook_path]


def check(results: Mapping[str, pd.DataFrame], guide: Path = GUIDE, notebook_path: Path = NOTEBOOK) -> list[str]:
    """Every disagreement between the committed guide and notebook and ``results``, and every broken claim."""
    import nbformat

    problems = disagreements(guide.read_text(encoding="utf-8"), GUIDE_TEMPLATE.read_text(encoding="utf-8"), results,
                             _relative(guide))
    notebook = nbformat.read(notebook_path, as_version=4)
    cells = _generated_cells(notebook)
    for key, template in notebook_sections().items():
        where = f"{_relative(notebook_path)} [cell {key}]"
        if key not in cells:
            problems.append(f"{where}: missing (a cell with metadata {GENERATED_KEY}={key!r})")
            continue
        problems.extend(disagreements(cells[key].source, template, results, where))
    problems.extend(f"claim no longer holds: {claim}" for claim in broken_claims(results))
    return problems


def _relative(path: Path) -> str:
    from trunksim.workshop import ROOT

    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


def table(results: Mapping[str, pd.DataFrame], names: Sequence[str] = ("lead", "lead_mean", "deploys", "cfr", "cfr_escaped",
                                                                          "recovery", "rework", "level")) -> pd.DataFrame:
    """The headline figures of every scenario as a table (for a terminal)."""
    rows = {
        f"{key} {frame['scenario'].iloc[0]}": {name: figure(f"{key}.{name}", results).text for name in names}
        for key, frame in results.items()
    }
    return pd.DataFrame.from_dict(rows, orient="index")

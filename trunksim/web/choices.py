"""What a participant can pick: the workshop's rounds, the shipped scenarios, and their parameters.

Plain data and functions of a scenario; no web framework. A :class:`Choice` is a scenario
file with the few :class:`Parameter` s it is about (a round of the workshop is about
its own mechanism: the release train, batch size, canaries, CI capacity). A parameter
reads its starting value from the scenario and turns a value back into overrides
(dotted paths, as ``--set`` takes them).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

from trunksim.scenario.schema import Scenario
from trunksim.workshop import ROOT, round_path

SCENARIOS = ROOT / "scenarios"


def _get(dump: Mapping[str, Any], path: str) -> Any:
    value: Any = dump
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


@dataclass(frozen=True)
class Parameter:
    """One knob: its label, widget kind and range, how it reads a scenario and what overrides it makes.

    ``kind`` is ``"int"``, ``"float"`` or ``"bool"``; ``read(dump)`` gives the widget's
    value for a scenario (``Scenario.model_dump(mode="json")``: durations in hours), or
    None when the scenario has no such field; ``write(value, dump)`` the overrides.
    """

    key: str
    label: str
    kind: str
    start: float = 0.0
    end: float = 1.0
    step: float = 1.0
    read: Callable[[Mapping[str, Any]], Any] = lambda dump: None
    write: Callable[[Any, Mapping[str, Any]], dict[str, Any]] = lambda value, dump: {}
    help: str = ""

    def value_in(self, scenario: Scenario) -> Any:
        """The value this parameter has in ``scenario`` (None if it does not apply to it)."""
        value = self.read(scenario.model_dump(mode="json"))
        if value is None:
            return None
        if self.kind == "int":
            return int(round(float(value)))
        if self.kind == "float":
            return float(value)
        return bool(value)

    def overrides(self, value: Any, scenario: Scenario) -> dict[str, Any]:
        """The overrides that set this parameter to ``value`` in ``scenario``."""
        return self.write(value, scenario.model_dump(mode="json"))


def _path(path: str, key: Optional[str] = None, **options: Any) -> Parameter:
    """A parameter that is one field of the scenario, as it is."""
    return Parameter(
        key=key or path,
        read=lambda dump: _get(dump, path),
        write=lambda value, dump: {path: value},
        **options,
    )


def _hours_as(path: str, key: str, per_unit: float, letter: str, **options: Any) -> Parameter:
    """A duration field shown in weeks or minutes (``per_unit`` hours each) and written as text (``2w``, ``15m``)."""
    def read(dump: Mapping[str, Any]) -> Optional[float]:
        hours = _get(dump, path)
        return None if hours is None else float(hours) / per_unit

    def write(value: Any, dump: Mapping[str, Any]) -> dict[str, Any]:
        return {path: f"{value:g}{letter}"}

    return Parameter(key=key, read=read, write=write, **options)


def _ci_minutes(dump: Mapping[str, Any]) -> Optional[float]:
    duration = _get(dump, "ci.duration")
    if not isinstance(duration, Mapping):
        return None
    hours = duration.get("median", duration.get("value", duration.get("mean")))
    return None if hours is None else float(hours) * 60.0


def _write_ci_minutes(minutes: Any, dump: Mapping[str, Any]) -> dict[str, Any]:
    """The pipeline's median in minutes; a log-normal keeps its shape (p90 scaled alike)."""
    duration = _get(dump, "ci.duration") or {}
    if isinstance(duration, Mapping) and "median" in duration and "p90" in duration and float(duration["median"]) > 0:
        ratio = float(duration["p90"]) / float(duration["median"])
        return {"ci.duration.median": f"{minutes:g}m", "ci.duration.p90": f"{minutes * ratio:.3g}m"}
    return {"ci.duration": {"dist": "lognormal", "median": f"{minutes:g}m", "p90": f"{2.5 * minutes:g}m"}}


PARAMETERS: dict[str, Parameter] = {
    p.key: p
    for p in (
        _hours_as("strategy.release_cadence", "release_cadence_weeks", 168.0, "w", label="weeks between releases",
                  kind="int", start=1, end=6, help="GitFlow: how often a release branch is cut"),
        _path("strategy.qa_duration", label="QA per release (working hours)", kind="int", start=8, end=80, step=8,
              help="GitFlow: working hours of QA on each release branch (8 a day)"),
        _path("strategy.qa_detection_probability", label="QA finds a defect (probability)", kind="float", start=0, end=1,
              step=0.05),
        _path("strategy.pull_requests_per_feature", label="pull requests per feature", kind="int", start=1, end=6,
              help="a feature delivered in this many pull requests"),
        _path("strategy.max_change_lines", label="largest change (lines)", kind="int", start=25, end=800, step=25,
              help="trunk-based: a feature is cut into changes of at most this size"),
        _path("strategy.feature_flags", label="feature flags", kind="bool"),
        _path("ci.runners", label="CI runners", kind="int", start=1, end=12),
        Parameter("ci_median_minutes", "CI pipeline, median minutes", "int", 2, 90, 1, _ci_minutes, _write_ci_minutes,
                  help="a run's median duration; its long tail scales with it"),
        _path("ci.flaky_failure_probability", label="flaky runs (probability)", kind="float", start=0, end=0.4,
              step=0.01, help="chance a CI run fails for no reason"),
        _path("ci.automatic_retries", label="automatic CI retries", kind="int", start=0, end=3),
        _path("deployment.canary.enabled", label="canary releases", kind="bool"),
        _path("team.developers", label="developers", kind="int", start=2, end=30),
    )
}
"""Every parameter the app offers, by key."""


@dataclass(frozen=True)
class Choice:
    """A scenario a participant may pick, with the parameters offered for it (first the ones it is about)."""

    key: str
    label: str
    path: Path
    parameters: tuple[str, ...]
    round: Optional[int] = None

    def load(self, weeks: float) -> Scenario:
        """The scenario, run for ``weeks`` weeks (the first two are warm-up, as in the workshop)."""
        from trunksim.scenario.loading import load_scenario

        return load_scenario(self.path).with_overrides({"simulation.duration": f"{weeks:g}w", "simulation.warm_up": "2w"})

    def offered(self, scenario: Scenario) -> list[Parameter]:
        """The parameters that apply to ``scenario`` (a field it has), in this choice's order."""
        return [PARAMETERS[k] for k in self.parameters if PARAMETERS[k].value_in(scenario) is not None]


ROUND_PARAMETERS: dict[int, tuple[str, ...]] = {
    1: ("release_cadence_weeks", "strategy.qa_duration", "strategy.qa_detection_probability",
        "strategy.pull_requests_per_feature"),
    2: ("strategy.pull_requests_per_feature", "ci.runners", "deployment.canary.enabled"),
    3: ("strategy.max_change_lines", "deployment.canary.enabled", "strategy.feature_flags", "ci.runners"),
    4: ("ci.runners", "ci_median_minutes", "ci.flaky_failure_probability", "ci.automatic_retries",
        "deployment.canary.enabled"),
}
"""The parameters each round is about (round 4: CI capacity, speed and reliability, and the canary)."""

ROUND_TITLES = {
    1: "Round 1: GitFlow with a release train",
    2: "Round 2: feature branches (GitHub flow)",
    3: "Round 3: trunk-based with flags and canaries",
    4: "Round 4: trunk-based without its prerequisites",
}

GENERAL_PARAMETERS: tuple[str, ...] = (
    "release_cadence_weeks", "strategy.qa_duration", "strategy.pull_requests_per_feature", "strategy.max_change_lines",
    "strategy.feature_flags", "ci.runners", "ci_median_minutes", "ci.flaky_failure_probability",
    "deployment.canary.enabled", "team.developers",
)
"""The parameters offered for a shipped scenario that is not a round (those that apply to it)."""


def choices() -> list[Choice]:
    """The four rounds, then the shipped strategy scenarios, then the DORA presets."""
    found = [Choice(f"round-{n}", ROUND_TITLES[n], round_path(n), ROUND_PARAMETERS[n], round=n) for n in ROUND_PARAMETERS]
    for folder, prefix in ((SCENARIOS, "scenario"), (SCENARIOS / "presets", "preset")):
        for path in sorted(folder.glob("*.yaml")):
            if not path.name.startswith("_"):
                found.append(Choice(f"{prefix}-{path.stem}", f"{prefix.capitalize()}: {path.stem}", path, GENERAL_PARAMETERS))
    return found


def choice(key: str, available: Optional[Sequence[Choice]] = None) -> Choice:
    """The choice of this key."""
    for item in available if available is not None else choices():
        if item.key == key:
            return item
    raise KeyError(f"no choice {key!r}")


def overrides_for(choice_: Choice, scenario: Scenario, values: Mapping[str, Any]) -> dict[str, Any]:
    """Overrides for the values that differ from the scenario's own (an empty dict: the scenario as shipped)."""
    overrides: dict[str, Any] = {}
    for parameter in choice_.offered(scenario):
        if parameter.key not in values:
            continue
        value, own = values[parameter.key], parameter.value_in(scenario)
        same = abs(float(value) - float(own)) < 1e-9 if parameter.kind != "bool" else bool(value) == bool(own)
        if not same:
            overrides.update(parameter.overrides(value, scenario))
    return overrides


def exercise_values(choice_: Choice, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The parameter values that make an exercise variant (``trunksim.workshop.EXERCISES``) of a round."""
    shipped = choice_.load(8)
    varied = shipped.with_overrides({k: v for k, v in overrides.items() if k != "name"})
    return {p.key: p.value_in(varied) for p in choice_.offered(shipped)}


def exercises(choice_: Choice) -> dict[str, dict[str, Any]]:
    """The workshop's exercises on this choice's round: ``"Exercise 1 (a) 4 runners"`` → parameter values."""
    from trunksim.workshop import EXERCISES

    found = {}
    for number, variants in EXERCISES.items():
        for variant in variants:
            if choice_.round == variant.base:
                found[f"Exercise {number}: {variant.name}"] = exercise_values(choice_, variant.overrides)
    return found


def describe_changes(choice_: Choice, scenario: Scenario, values: Mapping[str, Any]) -> str:
    """``CI runners 4, canary releases on``: the parameters changed from the scenario's own values."""
    parts = []
    for parameter in choice_.offered(scenario):
        if parameter.key in values and overrides_for(choice_, scenario, {parameter.key: values[parameter.key]}):
            value = values[parameter.key]
            shown = ("on" if value else "off") if parameter.kind == "bool" else f"{value:g}"
            parts.append(f"{parameter.label} {shown}")
    return ", ".join(parts)

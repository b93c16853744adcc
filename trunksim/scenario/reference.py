"""A parameter reference generated from the schema: every field, its default and its unit.

``docs/parameters.md`` is this module's output (``trunksim parameters``); a test keeps
the two in step, so the reference can never drift from the code. The unit of a duration
(clock hours or working hours) is read from the field's type, not from its prose.
"""

from __future__ import annotations

from typing import Any, Iterator

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from trunksim.scenario.organisation import Organisation, OrgService, OrgTeam
from trunksim.scenario.schema import Scenario
from trunksim.strategies.registry import REGISTRY, params_model, strategy_class
from trunksim.units import CLOCK, WORKING, DurationUnit, duration_unit

_HEADER = f"""\
# Scenario parameters

Generated from the schema by `trunksim parameters`; do not edit by hand.

Durations come in two units, and each duration field says which:

- **{CLOCK.name}** are simulation time, from Monday 00:00: machines (CI, deployment
  pipelines), cadences and incidents run around the clock (the on-call answers at any hour).
- **{WORKING.name}** are human effort (coding, review, fixing, triage): they become clock
  time only through the working calendar (`team.calendar`), so 16 working hours of coding
  take two 8-hour working days.

How a duration is written, in every field: a number is hours of the field's unit
(`ci.duration: 0.5` is half a clock hour); text is a number written together with one unit
letter, nothing else: `s`, `m`, `h`, and in clock-hours fields also `d` (24 hours) and `w`
(168 hours): `45m`, `1.5h`, `3d`, `2w`. Refused, with the spelling to use instead: a
space (`90 m`), other unit words (`10min`, `2 hours`), a number as text without a unit
(`"2"`), and `d` or `w` in a working-hours field (a working day is not 24 hours: write
`24h` for three 8-hour days; the day's length is `team.calendar.hours_per_day`).

A distribution field takes a constant or
`{{dist: constant|exponential|lognormal|uniform|triangular|empirical, ...}}`, its values in
the field's unit.
"""


def _unit(field: FieldInfo) -> DurationUnit | None:
    return duration_unit(field.metadata)


def _default(value: Any, unit: DurationUnit | None = None) -> str:
    if isinstance(value, BaseModel):
        dumped = value.model_dump(mode="json")
        if "dist" in dumped and unit is not None:
            return "{" + ", ".join(
                f"{k}: {unit.format(v)}" if isinstance(v, (int, float)) else f"{k}: {v}" for k, v in dumped.items()
            ) + "}"
        return ""
    if isinstance(value, float):
        return unit.format(value) if unit is not None else f"{value:g}"
    if isinstance(value, tuple):
        return "[" + ", ".join(_default(v) for v in value) + "]"
    return "" if value is None else str(value)


def _meaning(field: FieldInfo, unit: DurationUnit | None) -> str:
    """The field's description; a duration's always names its unit (appended if the prose does not)."""
    description = field.description or ""
    if unit is not None and unit.name not in description:
        description = f"{description}, {unit.name}" if description else unit.name
    return description.replace("|", "/")


def _rows(model: type[BaseModel], prefix: str) -> Iterator[tuple[str, str, str]]:
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel) and "dist" not in annotation.model_fields:
            yield from _rows(annotation, path + ".")
            continue
        unit = _unit(field)
        default = "(required)" if field.is_required() else _default(field.get_default(call_default_factory=True), unit)
        yield path, default, _meaning(field, unit)


def parameter_table() -> str:
    """The whole parameter reference as Markdown."""
    lines = [_HEADER, "| field | default | meaning, unit |", "| --- | --- | --- |"]
    for path, default, description in _rows(Scenario, ""):
        if path == "strategy":
            continue
        lines.append(f"| `{path}` | {default} | {description} |")
    lines += [
        "", "## `organisation`", "",
        "Optional: several teams and services, in one repository (`monorepo`) or one per service",
        "(`polyrepo`); see `docs/organisations.md`. Each entry of `teams` and `services` takes the",
        "fields under `teams[]` and `services[]`.", "",
        "| field | default | meaning, unit |", "| --- | --- | --- |",
    ]
    for model, prefix in ((Organisation, "organisation."), (OrgTeam, "organisation.teams[]."), (OrgService, "organisation.services[].")):
        for path, default, description in _rows(model, prefix):
            lines.append(f"| `{path}` | {default} | {description} |")
    for name in REGISTRY:
        description = strategy_class(name).description
        lines += ["", f"## strategy `{name}`", "", description, "", "| field | default | meaning, unit |", "| --- | --- | --- |"]
        for path, default, meaning in _rows(params_model(name), "strategy."):
            if path == "strategy.name":
                default = name
            lines.append(f"| `{path}` | {default} | {meaning} |")
    return "\n".join(lines) + "\n"

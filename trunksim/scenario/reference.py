"""A parameter reference generated from the schema: every field, its default and its unit.

``docs/parameters.md`` is this module's output (``trunksim parameters``); a test keeps
the two in step, so the reference can never drift from the code.
"""

from __future__ import annotations

from typing import Any, Iterator

from pydantic import BaseModel

from trunksim.units import format_duration, parse_duration
from trunksim.scenario.schema import Scenario
from trunksim.strategies.registry import REGISTRY, params_model, strategy_class


def _is_duration(field: Any) -> bool:
    return any(getattr(m, "func", None) is parse_duration for m in field.metadata)


def _default(value: Any, duration: bool = False) -> str:
    if isinstance(value, BaseModel):
        dumped = value.model_dump(mode="json")
        if "dist" in dumped:
            return "{" + ", ".join(
                f"{k}: {format_duration(v)}" if isinstance(v, (int, float)) else f"{k}: {v}" for k, v in dumped.items()
            ) + "}"
        return ""
    if isinstance(value, float):
        return format_duration(value) if duration else f"{value:g}"
    if isinstance(value, tuple):
        return "[" + ", ".join(_default(v) for v in value) + "]"
    return "" if value is None else str(value)


def _rows(model: type[BaseModel], prefix: str) -> Iterator[tuple[str, str, str]]:
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel) and "dist" not in annotation.model_fields:
            yield from _rows(annotation, path + ".")
            continue
        default = "(required)" if field.is_required() else _default(field.get_default(call_default_factory=True), _is_duration(field))
        yield path, default, (field.description or "").replace("|", "/")


def parameter_table() -> str:
    """The whole parameter reference as Markdown."""
    lines = [
        "# Scenario parameters",
        "",
        "Generated from the schema by `trunksim parameters`; do not edit by hand.",
        "Durations are hours (write `45m`, `2h`, `3d`, `2w` or a number of hours); a distribution",
        "field takes a constant or `{dist: constant|exponential|lognormal|uniform|triangular|empirical, ...}`.",
        "",
        "| field | default | meaning, unit |",
        "| --- | --- | --- |",
    ]
    for path, default, description in _rows(Scenario, ""):
        if path == "strategy":
            continue
        lines.append(f"| `{path}` | {default} | {description} |")
    for name in REGISTRY:
        params = params_model(name)
        lines += ["", f"## strategy `{name}`", "", strategy_class(name).description, "", "| field | default | meaning, unit |", "| --- | --- | --- |"]
        for path, default, description in _rows(params, "strategy."):
            if path == "strategy.name":
                default = name
            lines.append(f"| `{path}` | {default} | {description} |")
    return "\n".join(lines) + "\n"

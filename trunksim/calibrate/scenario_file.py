"""The calibrated scenario as a YAML file: only what the calibration set, each field commented with how.

Fields the records could not show are not written: they take the schema's defaults (or
the base scenario's, when the file ``extends:`` one). The file is checked by loading it
from a temporary file in its folder before it replaces anything (:mod:`trunksim.io`), so a
calibration never leaves a half-written or invalid scenario behind.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import yaml

from trunksim.io import atomic_path

__all__ = ["render", "write_scenario"]


def _value(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000, sort_keys=False, allow_unicode=True).strip()
    if text.endswith("\n..."):
        text = text[: -len("\n...")].strip()
    if text.endswith("..."):
        text = text[:-3].strip()
    return text


def _nest(fields: Mapping[str, tuple[Any, str]]) -> dict:
    tree: dict = {}
    for path, (value, comment) in fields.items():
        node = tree
        parts = path.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = (value, comment)
    return tree


def _emit(tree: dict, indent: int, lines: list[str]) -> None:
    for key, item in tree.items():
        pad = "  " * indent
        if isinstance(item, dict):
            lines.append(f"{pad}{key}:")
            _emit(item, indent + 1, lines)
        else:
            value, comment = item
            line = f"{pad}{key}: {_value(value)}"
            if comment:
                line = f"{line}   # {' '.join(comment.split())}"
            lines.append(line)


def render(fields: Mapping[str, tuple[Any, str]], header: Sequence[str], extends: Optional[str] = None) -> str:
    """YAML text of a scenario: ``fields`` maps dotted paths to ``(value, comment)``; ``header`` becomes comment lines."""
    lines = [f"# {line}".rstrip() for line in header]
    if extends:
        lines.append(f"extends: {_value(extends)}")
    lines.append("schema_version: 1")
    top = {k: v for k, v in fields.items() if "." not in k}
    for key, (value, comment) in top.items():
        lines.append(f"{key}: {_value(value)}" + (f"   # {comment}" if comment else ""))
    _emit(_nest({k: v for k, v in fields.items() if "." in k}), 0, lines)
    return "\n".join(lines) + "\n"


def write_scenario(path: str | os.PathLike, text: str) -> Any:
    """Write ``text`` to ``path`` atomically after loading it as a scenario from a temporary file beside it.

    Returns the loaded :class:`~trunksim.scenario.schema.Scenario`. Raises
    :class:`~trunksim.scenario.loading.ScenarioError` (nothing written) if it does not load.
    """
    from trunksim.scenario.loading import load_scenario

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as temporary:
        Path(temporary).write_text(text, encoding="utf-8")
        scenario = load_scenario(temporary)
    return scenario

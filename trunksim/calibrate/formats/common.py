"""What the writers of simulated histories share: times, the window, names of branches and people.

A simulated run is written in a tool's shape so that the calibration reads it by the same
rules as the team's own records. Simulation hour 0 is
:data:`trunksim.metrics.profiles.EPOCH` (Monday 2026-01-05 00:00 UTC); a run's records
are those of its measured window (after the warm-up), as an export of the last weeks
would hold.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import numpy as np
import pandas as pd

from trunksim.metrics.profiles import EPOCH, commit_id

if TYPE_CHECKING:  # pragma: no cover
    from trunksim.tables import Run

__all__ = ["author_name", "commit_id", "head_name", "in_window", "release_promotions", "stamps"]


def stamps(hours: Any) -> list[Optional[str]]:
    """Simulation hours → ``YYYY-MM-DDTHH:MM:SSZ`` strings (whole seconds, truncated); None for NaN."""
    values = np.asarray(hours, dtype=float)
    seconds = np.floor(values * 3600.0 + 1e-6)
    base = pd.Timestamp(EPOCH)
    return [None if np.isnan(s) else (base + pd.Timedelta(seconds=float(s))).strftime("%Y-%m-%dT%H:%M:%SZ") for s in seconds]


def in_window(hours: Any, run: "Run") -> np.ndarray:
    """Which times fall in the run's measured window (after the warm-up, up to the end)."""
    settings = run.scenario.simulation
    values = np.asarray(hours, dtype=float)
    return (values > float(settings.warm_up)) & (values <= float(settings.duration))


def author_name(developer: Any) -> str:
    """The login standing for a simulated developer."""
    return f"dev-{int(developer)}"


def head_name(row: Any, strategy: str) -> str:
    """The branch a simulated change was written on, named as teams name them.

    trunk-based ``change/<id>`` (a short review branch), scaled-trunk-based ``task/<id>``,
    GitHub flow and GitFlow ``feature/<feature>``; fixes ``fix/<id>``, hotfixes
    ``hotfix/<id>``.
    """
    kind = getattr(row, "kind", "feature")
    if kind == "hotfix":
        return f"hotfix/{int(row.change_id)}"
    if kind == "fix":
        return f"fix/{int(row.change_id)}"
    if strategy == "trunk-based":
        return f"change/{int(row.change_id)}"
    if strategy == "scaled-trunk-based":
        return f"task/{int(row.change_id)}"
    return f"feature/{int(row.feature_id)}-{int(row.change_id)}"


def release_promotions(run: "Run") -> list[tuple[int, float, float, float]]:
    """GitFlow's releases as pull requests would show them: ``(number, cut_hours, merged_hours, lines)``.

    One per release deployed (the first regular rollout after each cut), cut at
    ``release_offset + k * release_cadence`` and merged into ``main`` when its deployment
    started; only those cut in the measured window. Empty for other strategies.
    """
    strategy = run.scenario.strategy
    if strategy.name != "gitflow":
        return []
    cadence, offset = float(strategy.release_cadence), float(strategy.release_offset)
    deployments = run.deployments[(run.deployments["kind"] == "regular") & run.deployments["rolled_out"].astype(bool)]
    out, seen = [], set()
    for row in deployments.sort_values("started_hours").itertuples(index=False):
        k = int(np.floor((row.started_hours - offset) / cadence))
        if k < 0 or k in seen:
            continue
        seen.add(k)
        cut = offset + k * cadence
        if in_window([cut], run)[0]:
            lines = float(run.changes.loc[run.changes["deployment_id"] == row.deployment_id, "lines"].sum())
            out.append((k, cut, float(row.started_hours), lines))
    return out

"""Metrics of an organisation by team and by service, beside the organisation's totals.

Every metric of :func:`trunksim.metrics.compute_metrics`, computed on part of the run:

* **organisation** — the whole run (every repository's tables put together);
* **team** — polyrepo: the runs of the repositories the team owns, put together
  (:func:`trunksim.tables.combine_runs`); monorepo: :func:`team_run`, the team's own
  changes, features, time and failures in the shared repository, with the deployments
  that shipped its changes and the shared trunk's red periods;
* **service** — polyrepo only: the service's repository's own run. (In a monorepo the
  model does not record which service a change touches, so there is no service level.)

A deployment that ships the changes of several teams (monorepo) counts for each of them,
so team deployment frequencies do not add up to the organisation's.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from trunksim.tables import Run, combine_runs

if TYPE_CHECKING:  # pragma: no cover
    pass

UNIT_COLUMNS: tuple[str, ...] = ("level", "unit", "metric", "value")
"""Columns of :func:`organisation_metrics`'s long frame."""

LEVELS: tuple[str, ...] = ("organisation", "team", "service")
"""The levels of :func:`organisation_metrics`, in order."""


def _ids(text: object) -> list[int]:
    return [int(i) for i in str(text).split()] if isinstance(text, str) else []


def team_run(run: Run, team: str) -> Run:
    """The part of a one-repository run (a monorepo) that belongs to ``team``.

    Rows kept: changes the team's developers wrote; their features, time (``activity``),
    merges and CI runs; incidents whose failing change is the team's; deployments that
    shipped at least one of its changes; every red period of the shared trunk and every
    freeze. Identifiers keep the run's numbering.
    """
    developers = [i for i, name in enumerate(run.developer_teams) if name == team]
    if not developers:
        raise ValueError(f"no developer of team {team!r} in this run (teams: {', '.join(dict.fromkeys(run.developer_teams))})")
    mine = set(developers)
    changes = run.changes[run.changes["author"].isin(mine)]
    ids = set(changes["change_id"].astype(int))
    shipped_mine = np.fromiter((bool(ids.intersection(_ids(text))) for text in run.deployments["change_ids"]), dtype=bool,
                               count=len(run.deployments))
    deployments = run.deployments.loc[shipped_mine]  # a boolean array: an empty list would select columns, not rows
    return Run(
        scenario=run.scenario, seed=run.seed, replication=run.replication,
        changes=changes.reset_index(drop=True),
        features=run.features[run.features["developer"].isin(mine)].reset_index(drop=True),
        deployments=deployments.reset_index(drop=True),
        incidents=run.incidents[run.incidents["change_id"].isin(ids)].reset_index(drop=True),
        ci_runs=run.ci_runs[run.ci_runs["change_id"].isin(ids)].reset_index(drop=True),
        activity=run.activity[run.activity["developer"].isin(mine)].reset_index(drop=True),
        merges=run.merges[run.merges["change_id"].isin(ids)].reset_index(drop=True),
        branch_status=run.branch_status, freezes=run.freezes, wall_seconds=run.wall_seconds,
        developers=len(developers), integration_branch_name=run.integration_branch_name,
        developer_teams=tuple(team for _ in developers),
    )


def parts(run: Run) -> list[tuple[str, str, Run]]:
    """``(level, name, run)`` for the organisation, each team and (polyrepo) each service.

    A one-team scenario has the organisation level only.
    """
    found = [("organisation", run.scenario.name, run)]
    org = getattr(run.scenario, "organisation", None)
    if org is None:
        return found
    if run.units:  # polyrepo
        for team in org.teams:
            owned = {service: run.units[service] for service in team.services}
            found.append(("team", team.name, combine_runs(owned, run.scenario, (team.name,) * sum(r.developers for r in owned.values()))))
        for service in org.services:
            found.append(("service", service.name, run.units[service.name]))
    else:
        for team in org.teams:
            found.append(("team", team.name, team_run(run, team.name)))
    return found


def organisation_metrics(run: Run, profile: str = "trunksim", year: int | None = None) -> pd.DataFrame:
    """Every metric for the organisation, each team and each service, as a tidy long frame.

    Parameters
    ----------
    run : Run
        A finished replication of an organisation scenario (a one-team run gives the
        organisation level only).
    profile, year
        As for :func:`trunksim.metrics.compute_metrics`.

    Returns
    -------
    pandas.DataFrame
        Columns ``level`` (organisation, team, service), ``unit`` (its name), ``metric``
        and ``value`` (float; text metrics such as ``dora_level`` are left out).
    """
    from trunksim.metrics import DEFAULT_LEVEL_YEAR, compute_metrics

    rows = []
    for level, name, part in parts(run):
        values = compute_metrics(part, profile, year=DEFAULT_LEVEL_YEAR if year is None else year)
        for metric, value in values.items():
            if isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool):
                rows.append((level, name, metric, float(value)))
    return pd.DataFrame(rows, columns=list(UNIT_COLUMNS))


def unit_table(frame: pd.DataFrame, metrics: list[str] | None = None) -> pd.DataFrame:
    """A long frame of :func:`organisation_metrics` (any replications) as a readable table.

    One row per (level, unit), one column per metric: the median over the replications.
    """
    chosen = frame if metrics is None else frame[frame["metric"].isin(metrics)]
    table = chosen.groupby(["level", "unit", "metric"], sort=False)["value"].median().unstack("metric")
    order = {level: i for i, level in enumerate(LEVELS)}
    table = table.reset_index()
    table["_order"] = table["level"].map(order)
    table = table.sort_values(["_order"], kind="stable").drop(columns="_order").set_index(["level", "unit"])
    if metrics is not None:
        table = table[[m for m in metrics if m in table.columns]]
    table.columns.name = None
    return table if len(table) else table.assign(**{m: math.nan for m in (metrics or [])})

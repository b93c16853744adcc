"""Joining the tables of a history: which deployment carried each change.

Applied to every history after reading, the team's and the simulated alike:

1. **Changes from the log.** Without pull requests or Four Keys changes, the commits of
   main's log are the changes (:func:`trunksim.calibrate.formats.gitlog.changes_of`);
   with Four Keys changes (whose ids are commit shas), the log fills in their authors and
   sizes by sha.
2. **Deployed.** A change's ``deployed`` time is the finish of the first successful
   deployment that carried it:

   a. the first one listing it (Four Keys ``deployments.changes``); else
   b. the one whose deployed commit is the change's id (DevLake ``commit_sha`` =
      ``merge_commit_sha``); else
   c. by time: for a change merged into a deployed branch (a branch some deployment
      names, or, when none does, the branch most pull requests go to), the first
      successful deployment started at or after its merge; for a change merged into a
      branch that is not deployed (``develop``), the deployment of the first *promotion*
      (a pull request from that branch or from a ``release/*`` branch into a deployed
      branch) opened at or after its merge.

   A change that no rule links stays undeployed (NaT): it is left out of the lead time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from trunksim.calibrate.formats.gitlog import changes_of
from trunksim.calibrate.history import History, conform

__all__ = ["combine", "production_refs"]


def production_refs(history: History) -> set[str]:
    """The branches deployed: those deployments name, else the most common base of merged changes, else none."""
    refs = {str(r) for r in history.deployments["ref"].dropna()}
    if refs:
        return refs
    merged = history.changes[history.changes["merged"].notna()]
    bases = merged["base"].dropna()
    if len(bases):
        for name in ("main", "master", "trunk", "production"):
            if name in set(bases):
                return {name}
        return {str(bases.value_counts().index[0])}
    return set()


def _first_at_or_after(times: np.ndarray, values: np.ndarray, when: np.ndarray) -> np.ndarray:
    """For each ``when``, ``values`` at the first ``times`` ≥ it (``times`` sorted); NaN when none."""
    slots = np.searchsorted(times, when, side="left")
    out = np.full(len(when), np.nan)
    ok = (slots < len(times)) & ~np.isnan(when)
    out[ok] = values[slots[ok]]
    return out


def _seconds(series: pd.Series) -> np.ndarray:
    """UTC timestamps → float seconds since 1970 (NaN for NaT)."""
    values = series.array.asi8.astype(float) if len(series) else np.zeros(0)
    values = values / 1e9
    values[series.isna().to_numpy()] = np.nan
    return values


def _to_times(seconds: np.ndarray) -> pd.Series:
    return pd.Series(pd.to_datetime(seconds, unit="s", utc=True).array)


def combine(history: History) -> History:
    """Join the history's tables (module docstring): changes from the log, and when each change was deployed."""
    changes = history.changes.copy()
    commits = history.commits
    if len(commits):
        if not len(changes):
            changes = changes_of(commits)
        else:
            known = commits.drop_duplicates("sha").set_index("sha")
            for column in ("author", "lines"):
                fill = changes["change_id"].map(known[column])
                changes[column] = changes[column].where(changes[column].notna(), fill)
            first = changes["change_id"].map(known["authored"])
            changes["first_commit"] = changes["first_commit"].where(changes["first_commit"].notna(), first)
    changes = _join_same_changes(conform("changes", changes))
    deployments = history.deployments
    good = deployments[deployments["success"].astype(bool)].sort_values("finished", kind="stable")
    deployed = _seconds(changes["deployed"]) if len(changes) else np.zeros(0)
    if len(good) and len(changes):
        finished = _seconds(good["finished"])
        listed: dict[str, float] = {}
        for ids, when in zip(good["changes"], finished):
            if ids is None:
                continue
            for change in ids:
                listed.setdefault(str(change), when)
        heads: dict[str, float] = {}
        for sha, when in zip(good["commit"], finished):
            if sha is not None and not pd.isna(sha):
                heads.setdefault(str(sha), when)
        ids = changes["change_id"].astype(str).to_numpy()
        for i, change in enumerate(ids):
            if np.isnan(deployed[i]):
                deployed[i] = listed.get(change, heads.get(change, np.nan))
        if not listed:  # no deployment lists its changes: link by time
            deployed = _link_by_time(history, changes, good, deployed)
    changes["deployed"] = _to_times(deployed).array if len(changes) else changes["deployed"]
    out = History(
        changes=conform("changes", changes), deployments=deployments, incidents=history.incidents, ci_runs=history.ci_runs,
        commits=commits, sources=list(history.sources), since=history.since, now=history.now,
    )
    return out


def _link_by_time(history: History, changes: pd.DataFrame, good: pd.DataFrame, deployed: np.ndarray) -> np.ndarray:
    refs = production_refs(History(changes=changes, deployments=history.deployments))
    on_ref = good[good["ref"].isna() | good["ref"].astype(object).isin(refs)] if refs else good
    begin = _seconds(on_ref["started"])
    finish = _seconds(on_ref["finished"])
    begin = np.where(np.isnan(begin), finish, begin)
    order = np.argsort(begin, kind="stable")
    begin, finish = begin[order], finish[order]
    merged = _seconds(changes["merged"])
    base = changes["base"].astype(object).to_numpy()
    direct = np.array([b is None or (isinstance(b, float) and np.isnan(b)) or str(b) in refs for b in base]) if len(base) else np.zeros(0, bool)
    todo = np.isnan(deployed) & ~np.isnan(merged)
    by_time = _first_at_or_after(begin, finish, merged - 1.0)
    deployed = np.where(todo & direct, by_time, deployed)
    # changes into branches that are not deployed ride the next promotion
    heads = np.array([None if h is None or (isinstance(h, float) and np.isnan(h)) else str(h) for h in changes["head"]], dtype=object)
    opened = _seconds(changes["opened"])
    promoted = (~np.isnan(deployed)) & direct
    for branch in {str(b) for b, d in zip(base, direct) if not d and b is not None and not (isinstance(b, float) and np.isnan(b))}:
        mine = todo & np.array([b is not None and str(b) == branch for b in base])
        same = promoted & (heads == branch) & ~np.isnan(merged)
        if same.any():  # the branch itself was merged into a deployed one: the first such merge after the change
            order = np.argsort(merged[same], kind="stable")
            deployed = np.where(mine, _first_at_or_after(merged[same][order], deployed[same][order], merged), deployed)
            continue
        cut = promoted & np.array([h is not None and h.startswith("release") for h in heads]) & ~np.isnan(opened)
        if cut.any():  # a release branch cut after the change was merged carries it
            order = np.argsort(opened[cut], kind="stable")
            deployed = np.where(mine, _first_at_or_after(opened[cut][order], deployed[cut][order], merged), deployed)
    return deployed


def _join_same_changes(changes: pd.DataFrame) -> pd.DataFrame:
    """One row per change id: rows of several sources for one change (a Four Keys commit and a DevLake pull request
    merged as that commit) complete each other, the earlier source's values first."""
    if not len(changes) or not changes["change_id"].duplicated().any():
        return changes
    joined = changes.groupby("change_id", sort=False, dropna=False).first().reset_index()
    return conform("changes", joined)

"""``git log`` of the main branch, in one exact format.

Make it with (git 2.31 or later)::

    git log --first-parent --diff-merges=first-parent --numstat \\
        --format='>%x09%H%x09%P%x09%an%x09%aI%x09%cI%x09%s' main > git-log.txt

Each commit of main's first-parent history is a header line followed by its ``--numstat``
lines:

* header: ``>``, then tab-separated: commit sha (``%H``), parent shas separated by
  spaces (``%P``), author name (``%an``), author date (``%aI``, strict ISO-8601 with its
  offset), committer date (``%cI``), subject (``%s``);
* numstat: ``added<TAB>deleted<TAB>path`` per file (``-`` for a binary file, read as 0);
  with ``--diff-merges=first-parent`` a merge commit lists what the merge brought into
  main, so its size is its pull request's.

Read as: one change landed on main per commit, at its committer date; its size is the
sum of its numstat lines; its author is ``%an``. The author date is read as the start of
coding only when it is earlier than the committer date (a rebased or directly pushed
commit keeps it); a merge or squash commit made by GitHub carries the merge time in both,
so coding time is then unknown. A merge commit's subject names its branch (``Merge pull
request #12 from team/feature-x``, ``Merge branch 'release/3'``). When pull requests
come from another source (``gh pr list``, DevLake), the log is used for commit authors,
sizes and times only, and joined to Four Keys changes by sha.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from trunksim.calibrate.formats.common import author_name, commit_id, head_name, in_window, stamps
from trunksim.calibrate.history import CalibrationInputError, History, SourceFile, conform
from trunksim.calibrate.parsing import Rows, read_text, times

if TYPE_CHECKING:  # pragma: no cover
    from trunksim.tables import Run

KIND = "git-log"

FORMAT = ">%x09%H%x09%P%x09%an%x09%aI%x09%cI%x09%s"
"""The ``--format`` of the log read."""

COMMAND = f"git log --first-parent --diff-merges=first-parent --numstat --format='{FORMAT}' main"
"""The whole command (write its output to a file)."""

_SHA = re.compile(r"^[0-9a-f]{7,64}$")
_NUMSTAT = re.compile(r"^(\d+|-)\t(\d+|-)\t.+$")
_MERGED_BRANCH = re.compile(r"^Merge (?:pull request #\d+ from [^/\s]+/(?P<pr>\S+)|branch '(?P<branch>[^']+)')")


def looks_like(text: str) -> bool:
    """Whether a text is in this format (its first non-blank line is a header)."""
    for line in text.splitlines():
        if line.strip():
            return line.startswith(">\t")
    return False


def parse(text: str, file: str) -> History:
    """The log's text → a history of commits on main."""
    rows: Rows = []
    lines_of: list[float] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if line.startswith(">\t"):
            parts = line.split("\t")
            if len(parts) < 7:
                raise CalibrationInputError(
                    f"a header has {len(parts) - 1} tab-separated fields, 6 expected (use --format='{FORMAT}')", file, number
                )
            sha, parents, author, authored, committed = parts[1:6]
            subject = "\t".join(parts[6:])
            if not _SHA.match(sha.strip()):
                raise CalibrationInputError(f"{sha!r} is not a commit sha", file, number, "%H")
            rows.append((number, {
                "sha": sha.strip(), "parents": len(parents.split()), "author": author, "authored": authored,
                "committed": committed, "subject": subject,
            }))
            lines_of.append(0.0)
        elif _NUMSTAT.match(line):
            if not rows:
                raise CalibrationInputError("a numstat line before the first commit header", file, number)
            added, deleted = line.split("\t")[:2]
            lines_of[-1] += (0 if added == "-" else int(added)) + (0 if deleted == "-" else int(deleted))
        else:
            raise CalibrationInputError(
                f"is neither a commit header (starting '>' and a tab) nor a numstat line (added<TAB>deleted<TAB>path): "
                f"{line[:50]!r} (make the log with: {COMMAND})", file, number,
            )
    if not rows:
        raise CalibrationInputError(f"holds no commit (make it with: {COMMAND})", file)
    authored = times(rows, "authored", file)
    committed = times(rows, "committed", file)
    frame = pd.DataFrame({
        "sha": [r["sha"] for _, r in rows],
        "parents": [float(r["parents"]) for _, r in rows],
        "author": [r["author"] or None for _, r in rows],
        "authored": authored,
        "committed": committed,
        "lines": lines_of,
        "subject": [r["subject"] for _, r in rows],
        "source": KIND,
    })
    history = History()
    history.commits = conform("commits", frame)
    return history


def changes_of(commits: pd.DataFrame) -> pd.DataFrame:
    """The changes a log of main shows: one per commit, landed at its committer date.

    ``first_commit`` is the author date when it is more than a second before the committer
    date (else unknown); ``head`` is the branch a merge commit's subject names.
    """
    early = (commits["committed"] - commits["authored"]).dt.total_seconds() > 1.0
    heads = []
    for subject in commits["subject"]:
        match = _MERGED_BRANCH.match(str(subject or ""))
        heads.append(None if match is None else (match.group("pr") or match.group("branch")))
    frame = pd.DataFrame({
        "change_id": commits["sha"].to_numpy(),
        "author": commits["author"].to_numpy(),
        "first_commit": commits["authored"].where(early).array,
        "merged": commits["committed"].array,
        "lines": commits["lines"].to_numpy(dtype=float),
        "head": heads,
        "source": KIND,
    })
    return conform("changes", frame)


def read(path: str | Path) -> History:
    """Read a ``git log`` file in :data:`FORMAT`."""
    file = str(path)
    history = parse(read_text(path), file)
    history.sources.append(SourceFile(file, KIND, "commits", len(history.commits)))
    return history


# -- a simulated run, as its main branch's log ---------------------------------------------
def text_from_run(run: "Run") -> str:
    """The production branch's first-parent log over the run's measured window, newest first, in :data:`FORMAT`."""
    strategy = run.scenario.strategy.name
    changes = run.changes
    production = "main" if strategy in ("github-flow", "gitflow") else run.integration_branch_name
    landed = changes[(changes["target"] == production) & in_window(changes["merged_hours"], run)]
    entries: list[tuple[float, str, list[str]]] = []
    for row, first, merged in zip(landed.itertuples(index=False), stamps(landed["first_commit_hours"]), stamps(landed["merged_hours"])):
        lines = int(round(float(row.lines)))
        numstat = [f"{int(round(lines * 0.75))}\t{lines - int(round(lines * 0.75))}\tsrc/module_{int(row.feature_id) % 97}.py"]
        sha = commit_id(row.change_id)
        if strategy in ("trunk-based", "scaled-trunk-based"):
            header = f">\t{sha}\t{commit_id(0)}\t{author_name(row.author)}\t{(first or merged).replace('Z', '+00:00')}\t{merged.replace('Z', '+00:00')}\t{row.kind} change {int(row.change_id)}"
        else:
            head = head_name(row, strategy)
            header = (
                f">\t{sha}\t{commit_id(0)} {commit_id(10**9 + int(row.change_id))}\t{author_name(row.author)}\t"
                f"{merged.replace('Z', '+00:00')}\t{merged.replace('Z', '+00:00')}\tMerge pull request #{int(row.change_id)} from team/{head}"
            )
        entries.append((float(row.merged_hours), header, numstat))
    if strategy == "gitflow":
        deployments = run.deployments[(run.deployments["kind"] == "regular") & in_window(run.deployments["started_hours"], run)]
        for row, start in zip(deployments.itertuples(index=False), stamps(deployments["started_hours"])):
            lines = int(round(float(changes.loc[changes["deployment_id"] == row.deployment_id, "lines"].sum())))
            sha = commit_id(2 * 10**9 + int(row.deployment_id))
            header = (
                f">\t{sha}\t{commit_id(0)} {commit_id(3 * 10**9 + int(row.deployment_id))}\trelease-manager\t"
                f"{start.replace('Z', '+00:00')}\t{start.replace('Z', '+00:00')}\tMerge branch 'release/{int(row.deployment_id)}'"
            )
            entries.append((float(row.started_hours), header, [f"{lines}\t0\tCHANGELOG.md"]))
    entries.sort(key=lambda e: -e[0])
    return "".join(header + "\n\n" + "\n".join(numstat) + "\n\n" for _, header, numstat in entries)


def history_from_run(run: "Run") -> History:
    """The run read back as a git-log history (the same parsing as a file)."""
    from trunksim.calibrate.formats.fourkeys import window_of

    history = parse(text_from_run(run), "<simulated git log>")
    history.sources.append(SourceFile("<simulated git log>", KIND, "commits", len(history.commits)))
    history.since, history.now = window_of(run)
    return history


def write(text: str, path: str | Path) -> Path:
    """Write a log atomically; returns the path."""
    from trunksim.io import write_text

    return write_text(path, text)


__all__ = ["COMMAND", "FORMAT", "KIND", "changes_of", "history_from_run", "looks_like", "parse", "read", "text_from_run", "write"]

"""Regenerate the SYNTHETIC example histories of this folder (no real team's records).

    trunksim export examples/synthetic-team.yaml --seed 11 -o examples/history   # Four Keys tables
    python examples/make_examples.py                                             # gh and git log shapes

The second writes, from the same simulated replication (seed 11, replication 0), what
``gh pr list --json ...``, ``gh run list --json ...`` and the ``git log`` of main would
print for that team (trunksim.calibrate.formats.github / gitlog), into
examples/history-gh/. Run from the repository root.
"""

from __future__ import annotations

from pathlib import Path

import trunksim
from trunksim.calibrate.formats import github, gitlog

HERE = Path(__file__).resolve().parent


def main() -> None:
    scenario = trunksim.load_scenario(HERE / "synthetic-team.yaml")
    run = trunksim.simulate(scenario, seed=11, replication=0)
    folder = HERE / "history-gh"
    written = github.write(github.records_from_run(run), folder)
    written.append(gitlog.write(gitlog.text_from_run(run), folder / "git-log.txt"))
    print("wrote " + ", ".join(str(p.relative_to(HERE.parent)) for p in written))


if __name__ == "__main__":
    main()

"""``python -m trunksim.workshop figures [--check] [--jobs N]``: the workshop's figures from the model.

``figures`` runs the rounds and exercises (seed 1, 10 replications, 8 weeks, as the
notebook does), prints the headline figures and writes them into ``docs/workshop.md`` and
the folded answers of ``notebooks/03-workshop.ipynb`` (from the templates in
``trunksim/workshop/templates/``). With ``--check`` it writes nothing and exits 1 when a
written figure lies outside the interval of a fresh run's median, or when a claim the
prose makes in words no longer holds.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trunksim.workshop", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    figures_command = commands.add_parser("figures", help="run the rounds; write (or --check) the figures of the guide and notebook")
    figures_command.add_argument("--check", action="store_true", help="compare instead of writing; exit 1 on a disagreement")
    figures_command.add_argument("--jobs", type=int, default=2, help="worker processes (results do not depend on it)")
    arguments = parser.parse_args(argv)

    from trunksim.workshop import figures

    results = figures.run_all(jobs=arguments.jobs, progress=sys.stderr.isatty())
    print(figures.table(results).to_string())
    if arguments.check:
        problems = figures.check(results)
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"{len(problems)} disagreement(s)" if problems else "the guide and the notebook agree with a fresh run")
        return 1 if problems else 0
    broken = figures.broken_claims(results)
    for path in figures.write(results):
        print(f"wrote {path}")
    for claim in broken:
        print(f"claim no longer holds (rewrite the prose in the template): {claim}", file=sys.stderr)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())

"""The body of ``trunksim calibrate``: arguments in, lines out, an exit status back.

The command line is a thin skin: ``trunksim/cli.py`` declares the options and calls
:func:`calibrate_command_body`, which calls :func:`trunksim.calibrate.pipeline.calibrate`
and prints what a person needs: the files written, the back-test verdicts, the warnings.
Bad input ends in one located line on standard error and exit status 1, never a traceback,
and nothing is written.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Callable, Optional, Sequence

__all__ = ["calibrate_command_body"]


def calibrate_command_body(
    sources: Sequence[Path],
    out: Path,
    *,
    strategy: Optional[str] = None,
    base: Optional[Path] = None,
    assignments: Sequence[str] = (),
    assume_utc: bool = False,
    deploy_workflow: Optional[str] = None,
    replications: int = 20,
    fit_replications: int = 3,
    seed: int = 1,
    jobs: int = 1,
    plot: bool = True,
    quiet: bool = False,
    echo: Callable[[str], None] = print,
    echo_err: Optional[Callable[[str], None]] = None,
) -> int:
    """Run a calibration for the command line; returns the exit status (0 done, 1 bad input or a failure to write).

    ``assignments`` are ``FIELD.PATH=VALUE`` texts (``--set``), fields the caller knows.
    """
    from trunksim.calibrate.formats.github import DEPLOY_WORKFLOW
    from trunksim.calibrate.history import CalibrationInputError
    from trunksim.calibrate.pipeline import calibrate
    from trunksim.scenario.loading import ScenarioError, parse_assignment

    err = echo_err or (lambda line: print(line, file=sys.stderr))
    if replications < 1 or fit_replications < 1:
        err("error: --replications and --fit-replications must be at least 1")
        return 1
    if strategy is not None:
        from trunksim.strategies.registry import describe

        known = list(describe())
        if strategy not in known:
            err(f"error: --strategy: unknown strategy {strategy!r} (allowed: {', '.join(known)})")
            return 1
    try:
        overrides = dict(parse_assignment(text) for text in assignments)
        result = calibrate(
            list(sources), out, strategy=strategy, base=base, overrides=overrides, assume_utc=assume_utc,
            deploy_workflow=deploy_workflow or DEPLOY_WORKFLOW, replications=replications, fit_replications=fit_replications,
            seed=seed, jobs=jobs, plot=plot, progress=None if quiet else err,
        )
    except CalibrationInputError as error:
        err(f"error: {error}")
        return 1
    except ScenarioError as error:
        for problem in error.problems:
            err(str(problem))
        return 1
    except OSError as error:
        err(f"error: cannot write {error.filename or out}: {error.strerror or error}")
        return 1
    except ValueError as error:
        err(f"error: {error}")
        return 1
    table = result.backtest.table
    echo(f"calibrated {result.scenario.name} ({result.scenario.strategy.name}) from {result.history.describe()}")
    for row in table.itertuples(index=False):
        if not row.dora and row.figure not in ("incidents_per_week", "changes_per_week"):
            continue
        low, high = row.simulated_p5, row.simulated_p95
        interval = "n/a" if math.isnan(low) else f"[{low:.3g}, {high:.3g}]"
        echo(f"  {row.figure:<28} observed {row.observed:>9.3g}   simulated 90% {interval:<20} {row.verdict}")
    for warning in result.warnings:
        echo(f"warning: {warning}")
    echo(f"wrote {result.scenario_path}" + (f" and {result.report_path}" if result.report_path else ""))
    echo(f"next: trunksim run {result.scenario_path} --set ci.runners=8 (a what-if on the calibrated team)")
    return 0

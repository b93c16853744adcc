"""The ``trunksim`` command line: a thin skin over the Python API.

Every command calls the same function a notebook would (``trunksim.run``,
``trunksim.scenario.loading.validate_paths``, ...). Bad input ends in one located line
per problem and exit status 1, never a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Simulate trunk-based development, GitHub flow and GitFlow; report DORA metrics as distributions.",
)


def _fail(message: str, code: int = 1) -> None:
    typer.echo(message, err=True)
    raise typer.Exit(code)


@app.command("run")
def run_command(
    scenarios: List[Path] = typer.Argument(..., help="scenario YAML files; several = a paired comparison"),
    replications: Optional[int] = typer.Option(None, "-n", "--replications", min=1, help="replications per scenario"),
    seed: Optional[int] = typer.Option(None, "--seed", min=0, help="root seed (default: the first scenario's)"),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="worker processes; results are identical for any value"),
    assignments: List[str] = typer.Option([], "--set", help="override a field, FIELD.PATH=VALUE (repeatable)"),
    out: Path = typer.Option(Path("results"), "-o", "--out", help="folder for replications.csv, summary.csv, plots/"),
    plots: bool = typer.Option(True, "--plots/--no-plots", help="write PNG plots"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar"),
) -> None:
    """Run scenarios and write replications.csv, summary.csv and plots/*.png."""
    from trunksim import experiment
    from trunksim.metrics import DORA_COLUMNS
    from trunksim.scenario.loading import ScenarioError, load_scenario, parse_assignment

    try:
        overrides = dict(parse_assignment(text) for text in assignments)
        loaded = [load_scenario(path, overrides=overrides) for path in scenarios]
    except ScenarioError as error:
        _fail(str(error))
    names = [s.name for s in loaded]
    if len(set(names)) != len(names):
        loaded = [s.with_overrides({"name": f"{s.name}:{path.stem}"}) for s, path in zip(loaded, scenarios)]
    try:
        frame = experiment.run(loaded, replications=replications, seed=seed, jobs=jobs, progress=not quiet)
    except KeyboardInterrupt:
        _fail("interrupted; nothing written", 130)
    except RuntimeError as error:  # simulation bounds
        _fail(f"error: {error}")
    written = experiment.write_results(frame, out, plots=plots)
    summary = experiment.summarize(frame)
    table = experiment.comparison_table(summary, DORA_COLUMNS)
    typer.echo(table.to_string())
    typer.echo(f"\nwrote {len(written)} files to {out}/ (replications.csv, summary.csv{', plots/' if plots else ''})")


@app.command("validate")
def validate_command(scenarios: List[Path] = typer.Argument(..., help="scenario YAML files")) -> None:
    """Check scenario files; exit 1 with one line per problem (FILE:LINE: field: what is wrong)."""
    from trunksim.scenario.loading import validate_paths

    problems = validate_paths(scenarios)
    for problem in problems:
        typer.echo(str(problem))
    if problems:
        raise typer.Exit(1)
    typer.echo(f"{len(scenarios)} scenario file(s) valid")


@app.command("schema")
def schema_command() -> None:
    """Print the scenario JSON Schema."""
    from trunksim.scenario.loading import json_schema

    typer.echo(json.dumps(json_schema(), indent=2))


@app.command("parameters")
def parameters_command() -> None:
    """Print the parameter reference (every field, default and unit) as Markdown."""
    from trunksim.scenario.reference import parameter_table

    typer.echo(parameter_table(), nl=False)


@app.command("strategies")
def strategies_command() -> None:
    """List the registered strategies with a one-line description."""
    from trunksim.strategies.registry import describe

    for name, description in describe().items():
        typer.echo(f"{name:<12} {description}")


def main() -> None:
    """Console-script entry point."""
    app(prog_name="trunksim")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""The ``trunksim`` command line: a thin skin over the Python API.

Every command calls the same function a notebook would (``trunksim.run``,
``trunksim.scenario.loading.validate_paths``, ...). Bad input ends in one located line
per problem and exit status 1, never a traceback.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
from pathlib import Path
from typing import List, Optional

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Simulate trunk-based development, GitHub flow and GitFlow; report DORA metrics as distributions.",
)


def _fail(message: str, code: int = 1) -> None:
    typer.echo(message, err=True)
    raise typer.Exit(code)


def _unique_names(loaded):
    """Scenarios with the same name get ``#2``, ``#3``... so tables and plots can tell them apart."""
    seen: dict[str, int] = {}
    unique = []
    for scenario in loaded:
        count = seen[scenario.name] = seen.get(scenario.name, 0) + 1
        unique.append(scenario if count == 1 else scenario.with_overrides({"name": f"{scenario.name} #{count}"}))
    return unique


def _load_points(scenarios: List[Path], assignments: List[str], grid: List[str]):
    """Load scenarios with overrides; expand sweeps (``--grid`` or a ``sweep:`` block) into points."""
    from trunksim.experiment import Point, expand_sweep
    from trunksim.scenario.loading import ScenarioError, load_scenario, parse_assignment
    from trunksim.scenario.size import check_size

    try:
        overrides = dict(parse_assignment(text) for text in assignments)
        loaded = [load_scenario(path, overrides=overrides) for path in scenarios]
        for scenario, path in zip(loaded, scenarios):
            check_size(scenario, file=path, overrides=overrides)
        loaded = _unique_names(loaded)
        cli_grid = {}
        for text in grid:
            path, values = parse_assignment(text)
            cli_grid[path] = list(values) if isinstance(values, list) else [values]
        if cli_grid:
            from pydantic import ValidationError

            from trunksim.scenario.schema import Sweep

            try:
                Sweep.model_validate({"grid": cli_grid})  # the same bounds as a sweep: block
            except ValidationError as error:
                _fail(f"<override>:?: --grid: {error.errors()[0]['msg']}")
        points = []
        for scenario in loaded:
            block = scenario.sweep
            if cli_grid:
                points += expand_sweep(scenario, cli_grid)
            elif block is not None and (block.grid or block.variants):
                points += expand_sweep(scenario, block.grid, [v.model_dump() for v in block.variants])
            else:
                points.append(Point(scenario))
        for point in points:
            check_size(point.scenario, overrides={**overrides, **point.parameters})
    except ScenarioError as error:
        _fail(str(error))
    except ValueError as error:
        _fail(f"error: {error}")
    return points


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """SIGTERM stops a batch like Ctrl-C does: finished work is kept."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (e.g. inside a test runner thread)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@app.command("run")
def run_command(
    scenarios: List[Path] = typer.Argument(..., help="scenario YAML files; several = a paired comparison"),
    replications: Optional[int] = typer.Option(None, "-n", "--replications", min=1, help="replications per scenario"),
    seed: Optional[int] = typer.Option(None, "--seed", min=0, help="root seed (default: the first scenario's)"),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="local worker processes; results are identical for any value"),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Dask scheduler address (tcp://host:8786)"),
    assignments: List[str] = typer.Option([], "--set", help="override a field, FIELD.PATH=VALUE (repeatable)"),
    grid: List[str] = typer.Option([], "--grid", help="sweep a field, FIELD.PATH=[V1,V2,...] (repeatable: a grid)"),
    out: Path = typer.Option(Path("results"), "-o", "--out", help="output folder"),
    resume: bool = typer.Option(False, "--resume", help="keep finished results in OUT and run only the rest"),
    metrics_profile: str = typer.Option("trunksim", "--metrics-profile", help="whose rules measure DORA: trunksim, fourkeys, devlake"),
    dora_year: int = typer.Option(2023, "--dora-year", help="State of DevOps edition for dora_level: 2023 or 2024"),
    plots: bool = typer.Option(True, "--plots/--no-plots", help="write PNG plots and the HTML report's figures"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar"),
) -> None:
    """Run scenarios (or sweeps) and write replications.csv, summary.csv, plots/ and report.html to OUT."""
    from trunksim.batch import BatchInterrupted, run_batch
    from trunksim.engine.model import SimulationLimitError
    from trunksim.experiment import RunOptions, summarize
    from trunksim.metrics import DORA_COLUMNS, check_profile, check_year
    from trunksim.report import comparison_table
    from trunksim.scenario.loading import ScenarioError

    for flag, check, value in (("--metrics-profile", check_profile, metrics_profile), ("--dora-year", check_year, dora_year)):
        try:
            check(value)
        except ValueError as error:
            _fail(f"{flag}: {error}")
    options = RunOptions(
        replications=replications, seed=seed, jobs=jobs, scheduler=scheduler, progress=not quiet,
        metrics_profile=metrics_profile, dora_year=dora_year,
    )
    points = _load_points(scenarios, assignments, grid)
    try:
        with _sigterm_as_interrupt():
            frame = run_batch(points, out, options=options, resume=resume, plots=plots)
    except BatchInterrupted as stop:
        _fail(str(stop), 130)
    except ScenarioError as error:  # a sweep point too big to run
        _fail(str(error))
    except SimulationLimitError as error:
        _fail(f"error: {error}")
    typer.echo(comparison_table(summarize(frame, DORA_COLUMNS), DORA_COLUMNS).to_string())
    typer.echo(f"\nresults in {out}/: replications.csv, summary.csv, report.html{', plots/' if plots else ''}")


@app.command("explain")
def explain_command(scenarios: List[Path] = typer.Argument(..., help="scenario YAML files")) -> None:
    """Show what each scenario describes and teaches (its description and lesson)."""
    from trunksim.scenario.loading import ScenarioError, load_scenario

    for path in scenarios:
        try:
            scenario = load_scenario(path)
        except ScenarioError as error:
            _fail(str(error))
        typer.echo(f"{path}: {scenario.name} ({scenario.strategy.name})")
        if scenario.description:
            typer.echo(f"  {scenario.description}")
        typer.echo(f"  lesson: {scenario.lesson or '(none written)'}")


@app.command("export")
def export_command(
    scenario: Path = typer.Argument(..., help="scenario YAML file"),
    replication: int = typer.Option(0, "--replication", "-r", min=0, help="which replication to simulate"),
    seed: Optional[int] = typer.Option(None, "--seed", min=0, help="root seed (default: the scenario's)"),
    assignments: List[str] = typer.Option([], "--set", help="override a field, FIELD.PATH=VALUE (repeatable)"),
    out: Path = typer.Option(Path("fourkeys"), "-o", "--out", help="folder for the Four Keys tables"),
    include_warm_up: bool = typer.Option(
        False, "--include-warm-up", help="write the whole run; by default only the measured window, which gives --metrics-profile fourkeys's figures"
    ),
) -> None:
    """Simulate one replication and write it as Four Keys changes/deployments/incidents tables (CSV and JSON lines).

    By default only the measured window (after the warm-up) is written, so the tables
    loaded as is into Four Keys give the figures of ``--metrics-profile fourkeys``.
    """
    from trunksim.engine.model import SimulationLimitError
    from trunksim.experiment import simulate
    from trunksim.export import export_fourkeys
    from trunksim.scenario.loading import ScenarioError, load_scenario, parse_assignment
    from trunksim.scenario.size import check_size

    try:
        overrides = dict(parse_assignment(text) for text in assignments)
        loaded = load_scenario(scenario, overrides=overrides)
        check_size(loaded, file=scenario, overrides=overrides)
        result = simulate(loaded, seed=seed, replication=replication)
    except ScenarioError as error:
        _fail(str(error))
    except SimulationLimitError as error:
        _fail(f"error: {error}")
    written = export_fourkeys(result, out, include_warm_up=include_warm_up)
    typer.echo(f"wrote {len(written)} files to {out}/: " + ", ".join(sorted(p.name for p in written.values())))


@app.command("validate")
def validate_command(scenarios: List[Path] = typer.Argument(..., help="scenario YAML files")) -> None:
    """Check scenario files; exit 1 with one line per problem (FILE:LINE: field: what is wrong)."""
    from trunksim.scenario.loading import ScenarioError, load_scenario, validate_paths
    from trunksim.scenario.size import check_size

    problems = []
    for path in scenarios:
        found = validate_paths([path])
        if not found:
            try:
                check_size(load_scenario(path), file=path)
            except ScenarioError as error:
                found = list(error.problems)
        problems.extend(found)
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

    strategies = describe()
    width = max(map(len, strategies))
    for name, description in strategies.items():
        typer.echo(f"{name:<{width}}  {description}")


def main() -> None:
    """Console-script entry point."""
    app(prog_name="trunksim")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

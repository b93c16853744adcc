"""The ``trunksim`` command line: a thin skin over the Python API.

Every command calls the same function a notebook would (``trunksim.run``,
``trunksim.scenario.loading.validate_paths``, ...). Bad input ends in one located line
per problem and exit status 1, never a traceback.

Files whose name starts with ``_`` (``scenarios/_base.yaml``) are *fragments*: pieces
that scenarios ``extends:``, not scenarios. ``run``, ``validate`` and ``explain`` skip
them with a note on standard error, so ``trunksim run scenarios/*.yaml`` works; a
fragment is checked through the files that extend it.
"""

from __future__ import annotations

import contextlib
import json
import os
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


FRAGMENT_PREFIX = "_"
"""A scenario file whose name starts with this is a fragment, meant only to be extended."""


def _scenario_files(paths: List[Path], verb: str) -> List[Path]:
    """``paths`` without fragments (each skipped with a note); exit 1 if nothing is left."""
    kept = []
    for path in paths:
        if path.name.startswith(FRAGMENT_PREFIX):
            typer.echo(f"skipped {path}: a fragment (its name starts with '{FRAGMENT_PREFIX}'), checked through the files that extend it", err=True)
        else:
            kept.append(path)
    if not kept:
        _fail(f"error: nothing to {verb}: every file given is a fragment (a name starting with '{FRAGMENT_PREFIX}' marks a file meant only to be extended)")
    return kept


def _refuse_duplicate_names(points, sources) -> None:
    """Two scenarios (or sweep points) with one name would mix in every output: refuse them before running."""
    seen: dict = {}
    for point, source in zip(points, sources):
        name = point.scenario.name
        if name in seen:
            first = seen[name]
            where = f"{first} and {source}" if first != source else f"{source} (twice)"
            _fail(
                f"error: two scenarios are named {name!r} ({where}); names identify the rows of every output: "
                "give each scenario its own `name:`"
            )
        seen[name] = source


def _load_points(scenarios: List[Path], assignments: List[str], grid: List[str]):
    """Load scenarios with overrides; expand sweeps (``--grid`` or a ``sweep:`` block) into points.

    Everything is checked before anything runs (``trunksim.experiment.parse_grid`` and
    ``scenario_points``): a ``--grid`` path given twice, a path both set and swept, what a
    sweep may not vary; then the size of every point, and that no two points share a name.
    """
    from trunksim.experiment import parse_grid, scenario_points
    from trunksim.scenario.loading import ScenarioError, load_scenario, parse_assignment
    from trunksim.scenario.size import check_size

    try:
        overrides = dict(parse_assignment(text) for text in assignments)
        loaded = [load_scenario(path, overrides=overrides) for path in scenarios]
        for scenario, path in zip(loaded, scenarios):
            check_size(scenario, file=path, overrides=overrides)
        cli_grid = parse_grid(grid, overrides)
        points, sources = [], []
        for scenario, source in zip(loaded, scenarios):
            expanded = scenario_points(scenario, cli_grid, fixed=overrides)
            points += expanded
            sources += [source] * len(expanded)
        for point in points:
            check_size(point.scenario, overrides={**overrides, **point.parameters})
    except ScenarioError as error:
        _fail(str(error))
    except ValueError as error:
        _fail(f"error: {error}")
    _refuse_duplicate_names(points, sources)
    return points


def _baseline_first(points, baseline: Optional[str]):
    """The points with the baseline's first (the paired differences are from it); exit 1 for an unknown name."""
    if baseline is None:
        return points
    chosen = [p for p in points if p.scenario.name == baseline]
    if not chosen:
        names = [p.scenario.name for p in points]
        shown = ", ".join(repr(n) for n in names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
        _fail(f"error: --baseline {baseline!r}: no scenario of this run has that name (allowed: {shown})")
    return chosen + [p for p in points if p.scenario.name != baseline]


SECOND_SIGNAL_MESSAGE = (
    "stopped at once (second interrupt): finished scenarios are kept; run the same command with --resume to complete the rest\n"
)


def _exit_now() -> None:
    """A second Ctrl-C or SIGTERM: kill the workers, release the folder, remove half-written files, exit 130."""
    from trunksim.batch import release_held_locks
    from trunksim.executors import kill_workers
    from trunksim.io import remove_temporaries

    for step in (kill_workers, remove_temporaries, release_held_locks):
        with contextlib.suppress(BaseException):
            step()
    with contextlib.suppress(OSError):
        os.write(2, SECOND_SIGNAL_MESSAGE.encode())
    os._exit(130)


def _stopped(message: str, signals: list) -> None:
    """Say why the batch stopped; exit 130. After a real signal, exit without the interpreter's shutdown,
    during which a further signal would no longer reach a handler (everything is already cleaned up)."""
    typer.echo(message, err=True)
    if signals:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(130)
    raise typer.Exit(130)


@contextlib.contextmanager
def _signals_stop_the_batch():
    """Ctrl-C and SIGTERM stop a batch (finished work is kept); a second one exits at once.

    The first SIGINT or SIGTERM raises ``KeyboardInterrupt``: the batch stops its workers,
    keeps what finished and says so. Any further one, while that happens, ends the process
    immediately (workers killed, lock released, temporary files removed). Yields the list
    of signals received (empty unless one was).
    """
    stopping: list = []

    def handler(signum, frame):
        if stopping:
            _exit_now()
        stopping.append(signum)
        raise KeyboardInterrupt

    try:
        previous = {signum: signal.signal(signum, handler) for signum in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread (e.g. inside a test runner thread)
        yield stopping
        return
    try:
        yield stopping
    finally:
        if not stopping:  # once stopping, a second signal must still exit at once until the process ends
            for signum, old in previous.items():
                signal.signal(signum, old)


@app.command("run")
def run_command(
    scenarios: List[Path] = typer.Argument(..., help="scenario YAML files; several = a paired comparison (files named _*.yaml are fragments, skipped)"),
    replications: Optional[int] = typer.Option(None, "-n", "--replications", help="replications per scenario (1 to 100,000)"),
    seed: Optional[int] = typer.Option(None, "--seed", help="root seed (default: the first scenario's)"),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="local worker processes; results are identical for any value"),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Dask scheduler address (tcp://host:8786)"),
    scheduler_timeout: float = typer.Option(
        10.0, "--scheduler-timeout", help="seconds to wait for the Dask scheduler to answer, and for a worker"
    ),
    assignments: List[str] = typer.Option([], "--set", help="override a field, FIELD.PATH=VALUE (repeatable)"),
    grid: List[str] = typer.Option([], "--grid", help="sweep a field, FIELD.PATH=[V1,V2,...] (repeatable: a grid)"),
    baseline: Optional[str] = typer.Option(
        None, "--baseline", help="scenario name the paired differences are taken from (default: the first scenario given)"
    ),
    out: str = typer.Option("results", "-o", "--out", help="output folder (one run at a time)"),
    resume: bool = typer.Option(False, "--resume", help="keep verified finished results in OUT and run only the rest"),
    metrics_profile: str = typer.Option("trunksim", "--metrics-profile", help="whose rules measure DORA: trunksim, fourkeys, devlake"),
    dora_year: int = typer.Option(2023, "--dora-year", help="State of DevOps edition for dora_level: 2023 or 2024"),
    plots: bool = typer.Option(True, "--plots/--no-plots", help="write PNG plots and the HTML report's figures"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar"),
) -> None:
    """Run scenarios (or sweeps) and write replications.csv, summary.csv, plots/ and report.html to OUT (and units.csv for organisations)."""
    from trunksim.batch import MAX_REPLICATIONS, BatchError, BatchInterrupted, OutputFolderError, check_output_folder, run_batch
    from trunksim.engine.model import SimulationLimitError
    from trunksim.executors import ExecutorError, close_scheduler, connect_scheduler, silence_dask_logs
    from trunksim.experiment import RunOptions, summarize, summarize_units
    from trunksim.metrics import DORA_COLUMNS, check_profile, check_year
    from trunksim.report import terminal_table, terminal_unit_table
    from trunksim.scenario.loading import ScenarioError

    for flag, check, value in (("--metrics-profile", check_profile, metrics_profile), ("--dora-year", check_year, dora_year)):
        try:
            check(value)
        except ValueError as error:
            _fail(f"{flag}: {error}")
    if replications is not None and not 1 <= replications <= MAX_REPLICATIONS:
        _fail(f"error: -n/--replications: {replications:,} is not between 1 and {MAX_REPLICATIONS:,} (the bound of simulation.replications)")
    if seed is not None and not 0 <= seed < 2**63:
        _fail(f"error: --seed: {seed} is not between 0 and 2**63 - 1 (the bound of simulation.seed)")
    if not scheduler_timeout > 0:
        _fail(f"error: --scheduler-timeout: {scheduler_timeout:g} is not a positive number of seconds")
    options = RunOptions(
        replications=replications, seed=seed, jobs=jobs, progress=not quiet, metrics_profile=metrics_profile, dora_year=dora_year,
    )
    points = _baseline_first(_load_points(_scenario_files(scenarios, "run"), assignments, grid), baseline)
    try:
        folder = check_output_folder(out)
    except OutputFolderError as error:
        _fail(f"error: {error}")
    client = None
    with _signals_stop_the_batch() as stopping:
        try:
            if scheduler is not None:
                silence_dask_logs()  # its failures are said here, in one line
                client = connect_scheduler(scheduler, scheduler_timeout)
            frame, units = run_batch(
                points, folder, options=options, executor=client, resume=resume, plots=plots,
                notify=lambda message: typer.echo(message, err=True), return_units=True,
            )
        except BatchInterrupted as stop:
            _stopped(str(stop), stopping)
        except KeyboardInterrupt:  # before the batch started (e.g. waiting for a scheduler)
            _stopped("interrupted before any replication ran", stopping)
        except (BatchError, ExecutorError) as error:
            _fail(f"error: {error}")
        except ScenarioError as error:  # a sweep point too big to run
            _fail(str(error))
        except SimulationLimitError as error:
            _fail(f"error: {error}")
        except OSError as error:
            from trunksim.batch import describe_os_error

            _fail(f"error: {describe_os_error(error)}")
        except ValueError as error:
            _fail(f"error: {error}")
        finally:
            if client is not None:
                close_scheduler(client)
    if len(points) > 1:
        how = "--baseline" if baseline is not None else "the first scenario given; --baseline NAME chooses another"
        typer.echo(f"paired differences in summary.csv are from the baseline: {points[0].scenario.name} ({how})")
    typer.echo(terminal_table(summarize(frame, DORA_COLUMNS), DORA_COLUMNS))
    if len(units):
        typer.echo("\n" + terminal_unit_table(summarize_units(units)))
    written = "replications.csv, summary.csv" + (", units.csv, units_summary.csv" if len(units) else "")
    typer.echo(f"\nresults in {folder}/: {written}, report.html{', plots/' if plots else ''}")


@app.command("explain")
def explain_command(scenarios: List[Path] = typer.Argument(..., help="scenario YAML files")) -> None:
    """Show what each scenario describes and teaches (its description and lesson)."""
    from trunksim.scenario.loading import ScenarioError, load_scenario

    for path in _scenario_files(scenarios, "explain"):
        try:
            scenario = load_scenario(path)
        except ScenarioError as error:
            _fail(str(error))
        typer.echo(f"{path}: {scenario.name} ({scenario.strategy.name})")
        if scenario.description:
            typer.echo(f"  {scenario.description}")
        typer.echo(f"  lesson: {scenario.lesson or '(none written)'}")
        org = scenario.organisation
        if org is not None:
            typer.echo(
                f"  organisation: {org.layout}, {len(org.teams)} teams, {org.developers} developers, "
                f"{len(org.services)} services"
            )
            for team in org.teams:
                typer.echo(f"    team {team.name}: {team.developers} developers, owns {', '.join(team.services)}")
            for service in org.services:
                calls = f"calls {', '.join(service.depends_on)}" if service.depends_on else "calls no other service"
                typer.echo(f"    service {service.name}: {calls}")


@app.command("export")
def export_command(
    scenario: Path = typer.Argument(..., help="scenario YAML file"),
    replication: int = typer.Option(0, "--replication", "-r", min=0, help="which replication to simulate"),
    seed: Optional[int] = typer.Option(None, "--seed", min=0, max=2**63 - 1, help="root seed (default: the scenario's)"),
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

    scenarios = _scenario_files(scenarios, "validate")
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


@app.command("calibrate")
def calibrate_command(
    sources: List[Path] = typer.Argument(..., help="history files: Four Keys tables, DevLake CSV exports, gh JSON, git log"),
    out: Path = typer.Option(..., "-o", "--out", help="calibrated scenario YAML to write (calibration.html beside it)"),
    strategy: Optional[str] = typer.Option(None, "--strategy", help="the team's strategy, if the records cannot tell"),
    base: Optional[Path] = typer.Option(None, "--base", help="scenario to start from (default: the shipped base)"),
    assignments: List[str] = typer.Option([], "--set", help="a field the team knows, FIELD.PATH=VALUE (repeatable)"),
    assume_utc: bool = typer.Option(False, "--assume-utc", help="read timestamps without a time zone as UTC (DevLake's CSV exports)"),
    deploy_workflow: Optional[str] = typer.Option(
        None, "--deploy-workflow", help="regular expression of the gh workflows that deploy to production"
    ),
    replications: int = typer.Option(20, "-n", "--replications", min=1, help="replications of the back-test"),
    fit_replications: int = typer.Option(3, "--fit-replications", min=1, help="replications per fitting point"),
    seed: int = typer.Option(1, "--seed", min=0, max=2**63 - 1, help="root seed"),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="worker processes"),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="no progress lines"),
) -> None:
    """Estimate a scenario from a team's own delivery records, and back-test it against them."""
    from trunksim.calibrate.command import calibrate_command_body

    status = calibrate_command_body(
        sources, out, strategy=strategy, base=base, assignments=assignments, assume_utc=assume_utc,
        deploy_workflow=deploy_workflow, replications=replications, fit_replications=fit_replications, seed=seed, jobs=jobs,
        quiet=quiet, echo=typer.echo, echo_err=lambda line: typer.echo(line, err=True),
    )
    raise typer.Exit(status)


@app.command("serve")
def serve_command(
    port: int = typer.Option(5006, "--port", min=1, max=65535, help="port to listen on"),
    host: str = typer.Option("0.0.0.0", "--host", help="address to listen on (127.0.0.1: this machine only)"),
) -> None:
    """Serve the workshop in a browser: participants open http://<this machine>:PORT/ (Ctrl-C stops it)."""
    from trunksim.web import serve

    serve(port=port, host=host)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="trunksim")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""The structure of the package, held by tests (issue 10, points 1, 7 and 8).

Layers, bottom to top; a module imports only its own layer or layers below:

    0 leaves      trunksim/units.py, randomness.py, tables.py, io.py, stats.py (those present)
    1 strategies  trunksim/strategies/*
    2 scenario    trunksim/scenario/*
    3 engine      trunksim/engine/*
    4 readers     trunksim/metrics/*, plotting/*, export.py, report.py   (never the engine)
    5 running     trunksim/experiment.py, executors.py, batch.py and any other top-level module
    6 cli         trunksim/cli.py, trunksim/__main__.py, and the other front ends: trunksim/web/*
                  (the browser app) and trunksim/workshop/* (the workshop's rounds and figures)
      face        trunksim/__init__.py: lazy only, imports no submodule at import time

"An import" is every ``import``/``from`` statement anywhere in a module, inside functions
too, except those under ``if TYPE_CHECKING:``; ``importlib.import_module("literal")`` and
``__import__("literal")`` count as well; and the strategy registry's string entry points
(``"module:Class"`` in ``REGISTRY``) count as imports made by ``trunksim/strategies/registry.py``.
Everything is read from the source with :mod:`ast`; nothing of trunksim is imported here,
except in the fresh-interpreter subprocesses.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "trunksim"
SOURCE = ROOT / PACKAGE
REGISTRY_FILE = SOURCE / "strategies" / "registry.py"

# --------------------------------------------------------------------------------------
# The rules
# --------------------------------------------------------------------------------------

LEAVES = ("units", "randomness", "tables", "io", "stats")  # top-level names, if present
KNOWN_RUNNING = ("experiment", "executors", "batch", "calibrate")
CLI = ("cli", "__main__")
FRONT_ENDS = ("web", "workshop")  # top layer beside the command line: they use the running layer, nothing imports them

LAYER_NUMBER = {
    "leaf": 0,
    "strategies": 1,
    "scenario": 2,
    "engine": 3,
    "metrics": 4,
    "plotting": 4,
    "export": 4,
    "report": 4,
    "running": 5,
    "cli": 6,
    "face": 7,
}

# Which components each component may import (its own included). The readers' sub-order:
# metrics < plotting, export < report; readers never import the engine (nor the strategies).
ALLOWED = {
    "leaf": {"leaf"},
    "strategies": {"leaf", "strategies"},
    "scenario": {"leaf", "strategies", "scenario"},
    "engine": {"leaf", "strategies", "scenario", "engine"},
    "metrics": {"leaf", "scenario", "metrics"},
    "plotting": {"leaf", "scenario", "metrics", "plotting"},
    "export": {"leaf", "scenario", "metrics", "export"},
    "report": {"leaf", "scenario", "metrics", "plotting", "export", "report"},
    "running": {"leaf", "strategies", "scenario", "engine", "metrics", "plotting", "export", "report", "running"},
    "cli": {"leaf", "strategies", "scenario", "engine", "metrics", "plotting", "export", "report", "running", "cli"},
}

READERS = ("metrics", "plotting", "export", "report")


def third_party_allowed(library: str, component: str, module: str) -> bool:
    """Whether ``module`` (of ``component``) may import the third-party ``library``."""
    if library == "simpy":
        return component == "engine"
    if library == "matplotlib":
        return component == "plotting"
    if library == "typer":
        return module == f"{PACKAGE}.cli"
    if library in ("dask", "distributed"):
        return module in {f"{PACKAGE}.{name}" for name in ("executors", "batch", "experiment", "cli")}
    return True


THIRD_PARTY_RULES = "simpy only in engine/*, matplotlib only in plotting/*, typer only in cli.py, dask only in executors/batch/experiment/cli"

# SimPy's private attributes (of Environment, Event, Process) that trunksim might be tempted to read;
# at most one engine module may do so, behind a helper.
SIMPY_PRIVATE = {"_eid", "_now", "_queue", "_active_proc", "_ok", "_value", "_defused", "_generator", "_target"}

# Underscore names that are public API (namedtuple's).
PUBLIC_UNDERSCORE = {"_fields", "_asdict", "_replace", "_make", "_field_defaults"}


# --------------------------------------------------------------------------------------
# Reading the source
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Import:
    """One import statement (or dynamic import) in one module."""

    path: Path  # the importing file
    line: int
    text: str  # the statement as written (one line)
    module: str | None  # absolute target module (for ``from X import ...``: X), None if unresolvable
    names: tuple[str, ...]  # for ``from X import a, b``: (a, b); empty for ``import X``
    type_checking: bool  # under ``if TYPE_CHECKING:``
    in_function: bool  # inside a function body (lazy)

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT).as_posix()}:{self.line}: {self.text}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@lru_cache(maxsize=None)
def source_files() -> tuple[Path, ...]:
    return tuple(sorted(path for path in SOURCE.rglob("*.py") if "__pycache__" not in path.parts))


@lru_cache(maxsize=None)
def modules() -> dict[str, Path]:
    """Every trunksim module, by dotted name → file."""
    return {module_name(path): path for path in source_files()}


@lru_cache(maxsize=None)
def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _one_line(node: ast.AST) -> str:
    return " ".join(ast.unparse(node).split())


def _absolute(path: Path, level: int, module: str | None) -> str | None:
    """The absolute module a (possibly relative) ``from`` import names."""
    if level == 0:
        return module
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    if level - 1 > len(package):
        return None
    base = package[: len(package) - (level - 1)]
    return ".".join(base + ([module] if module else []))


class _Collector(ast.NodeVisitor):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.imports: list[Import] = []
        self.type_checking = False
        self.in_function = False

    def _add(self, node: ast.AST, module: str | None, names: tuple[str, ...], text: str | None = None) -> None:
        self.imports.append(
            Import(self.path, node.lineno, text or _one_line(node), module, names, self.type_checking, self.in_function)
        )

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            saved, self.type_checking = self.type_checking, True
            for child in node.body:
                self.visit(child)
            self.type_checking = saved
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def _visit_function(self, node: ast.AST) -> None:
        saved, self.in_function = self.in_function, True
        self.generic_visit(node)
        self.in_function = saved

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _visit_function

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(node, alias.name, (), text=f"import {alias.name}" + (f" as {alias.asname}" if alias.asname else ""))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = _absolute(self.path, node.level, node.module)
        self._add(node, module, tuple(alias.name for alias in node.names))

    def visit_Call(self, node: ast.Call) -> None:
        function = node.func
        dynamic = (isinstance(function, ast.Attribute) and function.attr == "import_module") or (
            isinstance(function, ast.Name) and function.id in ("import_module", "__import__")
        )
        if dynamic and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            self._add(node, node.args[0].value, ())
        self.generic_visit(node)


def registry_entry_points() -> list[tuple[int, str, str]]:
    """``(line, module, attribute)`` of each ``"module:Class"`` in ``REGISTRY``, read with ast."""
    for node in tree(REGISTRY_FILE).body:
        target = node.target if isinstance(node, ast.AnnAssign) else (node.targets[0] if isinstance(node, ast.Assign) else None)
        if isinstance(target, ast.Name) and target.id == "REGISTRY" and isinstance(node.value, ast.Dict):
            entries = []
            for key, value in zip(node.value.keys, node.value.values):
                assert isinstance(value, ast.Constant) and isinstance(value.value, str), (
                    f"{REGISTRY_FILE.relative_to(ROOT)}:{value.lineno}: REGISTRY values must be 'module:Class' strings"
                )
                module, _, attribute = value.value.partition(":")
                entries.append((value.lineno, module, attribute))
            return entries
    raise AssertionError(f"{REGISTRY_FILE.relative_to(ROOT)}: no literal REGISTRY = {{...}} found")


def registry_names() -> list[str]:
    for node in tree(REGISTRY_FILE).body:
        target = node.target if isinstance(node, ast.AnnAssign) else (node.targets[0] if isinstance(node, ast.Assign) else None)
        if isinstance(target, ast.Name) and target.id == "REGISTRY" and isinstance(node.value, ast.Dict):
            return [ast.literal_eval(key) for key in node.value.keys]
    raise AssertionError(f"{REGISTRY_FILE.relative_to(ROOT)}: no literal REGISTRY = {{...}} found")


@lru_cache(maxsize=None)
def imports_of(path: Path) -> tuple[Import, ...]:
    """Every import of one file (TYPE_CHECKING ones flagged), plus the registry's entry points."""
    collector = _Collector(path)
    collector.visit(tree(path))
    found = collector.imports
    if path == REGISTRY_FILE:
        for line, module, attribute in registry_entry_points():
            found.append(Import(path, line, f"REGISTRY entry point '{module}:{attribute}'", module, (), False, True))
    return tuple(found)


def runtime_imports(path: Path) -> list[Import]:
    return [record for record in imports_of(path) if not record.type_checking]


def internal_targets(record: Import) -> list[str]:
    """The trunksim modules an import loads (``from pkg import submodule`` → ``pkg.submodule``).

    The package face ``trunksim`` itself is not a target: importing its dunders
    (``__version__``) is harmless; other names from it are reported by the layer test.
    """
    known = modules()
    if not record.module or not (record.module == PACKAGE or record.module.startswith(PACKAGE + ".")):
        return []
    if not record.names:  # import a.b.c (or a dynamic import): the deepest known module
        parts = record.module.split(".")
        while parts and ".".join(parts) not in known:
            parts.pop()
        name = ".".join(parts)
        return [name] if name and name != PACKAGE else []
    targets = []
    for name in record.names:
        submodule = f"{record.module}.{name}"
        if submodule in known:
            targets.append(submodule)
        elif record.module != PACKAGE and record.module in known:
            targets.append(record.module)
    return list(dict.fromkeys(targets))


def component(module: str) -> str:
    """The layer component of a trunksim module (see the module docstring)."""
    parts = module.split(".")
    if parts == [PACKAGE]:
        return "face"
    top = parts[1]
    if top in LEAVES:
        return "leaf"
    if top in ("strategies", "scenario", "engine", "metrics", "plotting"):
        return top
    if top in ("export", "report"):
        return top
    if top in CLI or top in FRONT_ENDS:
        return "cli"
    return "running"  # experiment, executors, batch, and anything not named (listed in messages)


def unknown_modules() -> list[str]:
    named = set(LEAVES) | set(KNOWN_RUNNING) | set(CLI) | set(FRONT_ENDS) | {"strategies", "scenario", "engine", "metrics", "plotting", "export", "report"}
    return sorted({name for name in modules() if name != PACKAGE and name.split(".")[1] not in named})


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def report(title: str, problems: list[str], note: str = "") -> str:
    return f"{title} ({len(problems)}):\n  " + "\n  ".join(problems) + (f"\n{note}" if note else "")


# --------------------------------------------------------------------------------------
# The import graph
# --------------------------------------------------------------------------------------


def import_graph() -> dict[str, dict[str, list[Import]]]:
    """module → imported module → the imports that make the edge (the package face left out)."""
    graph: dict[str, dict[str, list[Import]]] = {name: defaultdict(list) for name in modules() if name != PACKAGE}
    for name, path in modules().items():
        if name == PACKAGE:
            continue
        for record in runtime_imports(path):
            for target in internal_targets(record):
                if target != name:
                    graph[name][target].append(record)
    return graph


def find_cycles(graph: dict[str, dict[str, list[Import]]]) -> list[tuple[list[str], list[str]]]:
    """For each strongly connected component of more than one module: one cycle through it, and its members."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = [0]

    def connect(node: str) -> None:  # Tarjan; the graph is small, recursion is fine
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph.get(node, {})):
            if successor not in index:
                connect(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            members = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                members.append(member)
                if member == node:
                    break
            if len(members) > 1:
                components.append(sorted(members))

    for node in sorted(graph):
        if node not in index:
            connect(node)

    cycles = []
    for members in components:  # a shortest cycle through the first member, within the component
        inside = set(members)
        start = members[0]
        previous: dict[str, str] = {}
        frontier = [start]
        seen = {start}
        closing = None
        while frontier and closing is None:
            following = []
            for node in frontier:
                for successor in sorted(graph[node]):
                    if successor == start:
                        closing = node
                        break
                    if successor in inside and successor not in seen:
                        seen.add(successor)
                        previous[successor] = node
                        following.append(successor)
                if closing is not None:
                    break
            frontier = following
        path = [closing]
        while path[-1] != start:
            path.append(previous[path[-1]])
        cycles.append((list(reversed(path)) + [start], members))
    return cycles


# --------------------------------------------------------------------------------------
# The tests
# --------------------------------------------------------------------------------------


def test_no_import_cycle():
    graph = import_graph()
    problems = []
    for cycle, members in find_cycles(graph):
        steps = [f"{source} → {target}   ({graph[source][target][0].where})" for source, target in zip(cycle, cycle[1:])]
        tangle = f"\n      (one of the cycles among {', '.join(members)})" if len(members) > len(cycle) - 1 else ""
        problems.append("cycle: " + " → ".join(cycle) + "\n      " + "\n      ".join(steps) + tangle)
    assert not problems, report("Import cycles (registry entry points and lazy imports count)", problems)


def layer_violations() -> list[str]:
    problems = []
    known = modules()
    for name, path in sorted(known.items()):
        if name == PACKAGE:
            continue
        mine = component(name)
        for record in runtime_imports(path):
            if record.module == PACKAGE:  # from trunksim import ...
                for imported in record.names:
                    if f"{PACKAGE}.{imported}" not in known and not (imported.startswith("__") and imported.endswith("__")):
                        problems.append(f"{record.where}   ({mine} → the package face; import '{imported}' from its defining module)")
            for target in internal_targets(record):
                theirs = component(target)
                if theirs not in ALLOWED[mine]:
                    problems.append(f"{record.where}   ({mine}, layer {LAYER_NUMBER[mine]} → {theirs}, layer {LAYER_NUMBER[theirs]})")
    return list(dict.fromkeys(problems))


def test_layers_import_only_downwards():
    problems = layer_violations()
    unknown = unknown_modules()
    note = (
        "Allowed: " + "; ".join(f"{key} → {', '.join(sorted(value))}" for key, value in ALLOWED.items())
        + (f"\nTop-level modules not named in the layer rules, placed in 'running': {', '.join(unknown)}" if unknown else "")
    )
    assert not problems, report("Imports against the layers", problems, note)


def test_package_face_imports_no_submodule_eagerly():
    face = SOURCE / "__init__.py"
    eager = [
        record.where
        for record in runtime_imports(face)
        if not record.in_function and record.module and (record.module == PACKAGE or record.module.startswith(PACKAGE + "."))
    ]
    assert not eager, report("trunksim/__init__.py imports submodules at import time (must be lazy)", eager)


def test_third_party_libraries_stay_in_their_layer():
    problems = []
    for name, path in sorted(modules().items()):
        for record in runtime_imports(path):
            if not record.module or record.module.split(".")[0] == PACKAGE:  # relative imports resolve to trunksim.*
                continue
            library = record.module.split(".")[0]
            if not third_party_allowed(library, component(name), name):
                problems.append(f"{record.where}   ({library} in {name})")
    assert not problems, report("Third-party libraries outside their layer", problems, THIRD_PARTY_RULES)


def _bound_trunksim_names(path: Path) -> set[str]:
    """Names a file binds to trunksim modules or objects through its imports (aliases included)."""
    bound = set()
    for node in ast.walk(tree(path)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == PACKAGE:
                    bound.add(alias.asname or PACKAGE)
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(path, node.level, node.module)
            if module and module.split(".")[0] == PACKAGE:
                bound.update(alias.asname or alias.name for alias in node.names if alias.name != "*")
    return bound


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__")) and name not in PUBLIC_UNDERSCORE


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else None
    return None


def private_name_violations() -> list[str]:
    problems = []
    simpy_users: dict[Path, list[str]] = defaultdict(list)
    for name, path in sorted(modules().items()):
        # 1. from trunksim.x import _name (TYPE_CHECKING imports count: the coupling is the same)
        for record in imports_of(path):
            if record.names and record.module and record.module.split(".")[0] == PACKAGE and record.module != name:
                private = [imported for imported in record.names if _is_private(imported)]
                if private:
                    problems.append(f"{record.where}   (private {', '.join(private)} of {record.module})")
        # 2. module._name on something imported from trunksim; 3. SimPy's private attributes
        bound = _bound_trunksim_names(path)
        for node in ast.walk(tree(path)):
            if not isinstance(node, ast.Attribute) or not _is_private(node.attr):
                continue
            receiver = _dotted(node.value)
            if receiver and receiver.split(".")[0] in bound:
                problems.append(f"{rel(path)}:{node.lineno}: {_one_line(node)}   (private attribute of imported {receiver})")
            elif node.attr in SIMPY_PRIVATE and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                simpy_users[path].append(f"{rel(path)}:{node.lineno}: {_one_line(node)}")
    outside_engine = {path: uses for path, uses in simpy_users.items() if component(module_name(path)) != "engine"}
    inside_engine = {path: uses for path, uses in simpy_users.items() if path not in outside_engine}
    for uses in outside_engine.values():
        problems.extend(f"{use}   (SimPy private attribute outside the engine)" for use in uses)
    if len(inside_engine) > 1:
        for uses in inside_engine.values():
            problems.extend(f"{use}   (SimPy private attribute read in {len(inside_engine)} engine files; keep it in one helper)" for use in uses)
    return problems


def test_no_private_name_imported_across_modules():
    problems = private_name_violations()
    assert not problems, report("Private names used across modules", problems)


def _engine_imports_of(component_names: tuple[str, ...]) -> list[str]:
    problems = []
    for name, path in sorted(modules().items()):
        if name == PACKAGE or component(name) not in component_names:
            continue
        for record in runtime_imports(path):
            for target in internal_targets(record):
                if component(target) == "engine":
                    problems.append(f"{record.where}   ({name} → {target})")
    return list(dict.fromkeys(problems))


def test_strategy_modules_do_not_import_the_engine():
    problems = _engine_imports_of(("strategies",))
    assert not problems, report("Strategy modules importing the engine (use the port in strategies/base.py)", problems)


def test_metrics_plotting_export_report_do_not_import_the_engine():
    problems = _engine_imports_of(READERS)
    assert not problems, report("Readers importing the engine (read trunksim.tables, the results contract)", problems)


def test_registry_entry_points_name_existing_modules_and_classes():
    problems = []
    for line, module, attribute in registry_entry_points():
        where = f"{rel(REGISTRY_FILE)}:{line}: '{module}:{attribute}'"
        path = modules().get(module)
        if path is None:
            problems.append(f"{where}   (no module {module})")
        elif not any(isinstance(node, ast.ClassDef) and node.name == attribute for node in tree(path).body):
            problems.append(f"{where}   (no class {attribute} in {rel(path)})")
    assert not problems, report("Registry entry points that do not resolve", problems)


# --------------------------------------------------------------------------------------
# Fresh interpreters
# --------------------------------------------------------------------------------------


def _environment() -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    environment["PYTHONPATH"] = str(ROOT)
    environment["MPLBACKEND"] = "Agg"
    return environment


def _run_all(commands: list[list[str]], timeout: float = 120) -> list[subprocess.CompletedProcess]:
    """Run commands in fresh interpreters, a few at a time; results in order."""
    width = max(2, min(8, (os.cpu_count() or 2) * 2))
    results: list[subprocess.CompletedProcess | None] = [None] * len(commands)
    running: list[tuple[int, subprocess.Popen]] = []
    pending = list(enumerate(commands))
    while pending or running:
        while pending and len(running) < width:
            position, command = pending.pop(0)
            process = subprocess.Popen(
                command, cwd=ROOT, env=_environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            running.append((position, process))
        position, process = running.pop(0)
        stdout, stderr = process.communicate(timeout=timeout)
        results[position] = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
    return results  # type: ignore[return-value]


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def importable_modules() -> list[str]:
    names = [name for name in modules() if not name.endswith(".__main__")]  # __main__ runs the CLI; see below
    if importlib.util.find_spec("matplotlib") is None:
        names = [name for name in names if not name.startswith(f"{PACKAGE}.plotting")]
    return sorted(names)


def test_every_module_imports_alone_in_a_fresh_interpreter():
    names = importable_modules()
    results = _run_all([[sys.executable, "-c", f"import {name}"] for name in names])
    failures = [
        f"{rel(modules()[name])}: python -c 'import {name}' exited {result.returncode}: {_last_line(result.stderr)}"
        for name, result in zip(names, results)
        if result.returncode != 0
    ]
    assert not failures, report("Modules that do not import alone in a fresh interpreter", failures)


def test_strategies_command_runs_in_a_fresh_process():
    commands = {
        "python -m trunksim strategies": [sys.executable, "-m", PACKAGE, "strategies"],
        "import trunksim.strategies.registry": [sys.executable, "-c", "import trunksim.strategies.registry"],
        "import trunksim.strategies.gitflow": [sys.executable, "-c", "import trunksim.strategies.gitflow"],
    }
    results = dict(zip(commands, _run_all(list(commands.values()))))
    failures = [
        f"{label}: exit {result.returncode}: {_last_line(result.stderr)}" for label, result in results.items() if result.returncode != 0
    ]
    listing = results["python -m trunksim strategies"].stdout
    listed = {line.split()[0] for line in listing.splitlines() if line.strip()}
    missing = [name for name in registry_names() if name not in listed]
    if missing:
        failures.append(f"python -m trunksim strategies does not list {', '.join(missing)}; it printed:\n{listing}")
    assert not failures, report("Fresh-process strategy commands that fail", failures)

"""trunksim: what would trunk-based development, GitHub flow or GitFlow do to our delivery?

A SimPy discrete-event model of developers, changes, review, merge conflicts, CI
runners, flaky tests, deployments, canaries, feature flags and incidents. The public
API (imports are lazy, so ``import trunksim`` stays fast)::

    scenario = trunksim.load_scenario("scenarios/trunk-based.yaml")
    frame = trunksim.run([scenario, scenario.with_overrides({"ci.runners": 1})], replications=20)
    one = trunksim.simulate(scenario, seed=7)      # .changes, .deployments, .incidents, .ci_runs
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "load_scenario": ("trunksim.scenario.loading", "load_scenario"),
    "Scenario": ("trunksim.scenario.schema", "Scenario"),
    "ScenarioError": ("trunksim.scenario.loading", "ScenarioError"),
    "run": ("trunksim.experiment", "run"),
    "run_organisation": ("trunksim.experiment", "run_organisation"),
    "organisation_metrics": ("trunksim.metrics.organisation", "organisation_metrics"),
    "simulate": ("trunksim.experiment", "simulate"),
    "summarize": ("trunksim.experiment", "summarize"),
    "sweep": ("trunksim.experiment", "sweep"),
    "run_batch": ("trunksim.batch", "run_batch"),
    "Run": ("trunksim.tables", "Run"),
    "METRIC_COLUMNS": ("trunksim.metrics", "METRIC_COLUMNS"),
    "compute_metrics": ("trunksim.metrics", "compute_metrics"),
    "RunOptions": ("trunksim.experiment", "RunOptions"),
    "calibrate": ("trunksim.calibrate", "calibrate"),
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attribute = _LAZY[name]
        return getattr(importlib.import_module(module), attribute)
    if name == "plotting":
        import importlib

        return importlib.import_module("trunksim.plotting")
    raise AttributeError(f"module 'trunksim' has no attribute {name!r}")

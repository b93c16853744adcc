"""The running layer and the readers load neither matplotlib nor typer when imported (only plotting and the CLI do)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("matplotlib", "typer", "simpy")


@pytest.mark.parametrize(
    "module, allowed",
    [
        ("trunksim.experiment", {"simpy"}),
        ("trunksim.batch", {"simpy"}),
        ("trunksim.executors", set()),
        ("trunksim.report", set()),
        ("trunksim.export", set()),
        ("trunksim.metrics", set()),
        ("trunksim.plotting", set()),  # matplotlib only inside the drawing functions
        ("trunksim.io", set()),
        ("trunksim.stats", set()),
    ],
)
def test_importing_loads_no_heavy_library_it_does_not_need(module, allowed):
    code = f"import sys, json, {module}; print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    environment = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    environment["PYTHONPATH"] = str(ROOT)
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True, check=True)
    loaded = set(json.loads(result.stdout))
    assert loaded <= allowed, f"import {module} loaded {sorted(loaded - allowed)}"

"""Every notebook runs top to bottom from a fresh kernel, quickly, and is committed without outputs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import nbformat
import pytest
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from queue import Empty
from traitlets import Type, default

from conftest import ROOT

NOTEBOOKS = ROOT / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
BUDGET_SECONDS = 120  # the promise in docs/workshop.md: each notebook in under two minutes
CELL_TIMEOUT_SECONDS = 600  # a hung cell fails the test; speed itself is a benchmark, not a unit test
TIMINGS = Path(__file__).resolve().parent.parent / "results" / "notebook-timings.txt"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def test_the_notebooks_are_there():
    assert [p.name for p in PATHS] == [
        "01-quickstart.ipynb", "02-what-if.ipynb", "03-workshop.ipynb", "04-calibrate.ipynb", "05-organisations.ipynb",
    ]


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(path: Path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    dirty = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code" and (cell.outputs or cell.execution_count)]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs; clear them before committing"
    assert WIDGET_STATE not in notebook.metadata.get("widgets", {}), f"{path.name} carries saved widget state"


class PatientChannel(AsyncZMQSocketChannel):
    """A kernel channel that waits for a message in one-second polls.

    On a busy machine the asynchronous ZeroMQ poll of jupyter_client now and then misses
    a message that has arrived: notebook 02 then sat idle until the cell timeout (600 s)
    ran out, and passed (the timings file showed 637-673 s against about 30 s). Polling
    again every second bounds such a missed wake-up to a second.
    """

    async def get_msg(self, timeout: float | None = None) -> dict:  # type: ignore[override]
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = 1.0 if deadline is None else min(1.0, max(0.0, deadline - time.monotonic()))
            if await self.socket.poll(int(left * 1000)):
                return await self._recv()
            if deadline is not None and time.monotonic() >= deadline:
                raise Empty


class PatientClient(AsyncKernelClient):
    shell_channel_class = Type(PatientChannel)
    iopub_channel_class = Type(PatientChannel)


class PatientKernelManager(AsyncKernelManager):
    @default("client_factory")
    def _patient_client(self) -> type:
        return PatientClient


def execute(path: Path) -> tuple[nbformat.NotebookNode, float]:
    """Run a notebook as a participant would: kernel python3, working directory notebooks/."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook, timeout=CELL_TIMEOUT_SECONDS, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}},
        kernel_manager_class=PatientKernelManager,
    )
    started = time.perf_counter()
    client.execute()  # raises CellExecutionError on the first failing cell
    return notebook, time.perf_counter() - started


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path: Path):
    notebook, seconds = execute(path)
    errors = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs if o.output_type == "error"]
    assert not errors
    figures = sum("image/png" in o.get("data", {}) for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs)
    assert figures >= 5, f"{path.name} drew only {figures} figures"
    # Wall time on a shared machine is noise, not a verdict: record it against the budget instead of failing.
    TIMINGS.parent.mkdir(exist_ok=True)
    with TIMINGS.open("a", encoding="utf-8") as log:
        log.write(f"{path.name}: {seconds:.0f} s (budget {BUDGET_SECONDS} s)\n")
    if path.name == "02-what-if.ipynb":
        assert_widgets_built_and_drew(notebook)


def assert_widgets_built_and_drew(notebook: nbformat.NotebookNode) -> None:
    """The sliders exist, and their first redraw (run when they are built) drew a figure without error.

    An exception inside an ipywidgets callback does not fail the cell; it lands in the
    Output widget, whose state nbclient saves in the notebook metadata.
    """
    views = [
        o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs
        if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]
    assert views, "the interactive section displayed no widget"
    state = notebook.metadata["widgets"][WIDGET_STATE]["state"]
    outputs = [
        output for model in state.values() if model["model_name"] == "OutputModel"
        for output in model["state"].get("outputs", [])
    ]
    assert not [o for o in outputs if o.get("output_type") == "error"], json.dumps(outputs)[:2000]
    assert any("image/png" in o.get("data", {}) for o in outputs), "the widget callback drew nothing"
    sliders = [m for m in state.values() if m["model_name"] in ("IntSliderModel", "FloatSliderModel")]
    assert len(sliders) >= 4

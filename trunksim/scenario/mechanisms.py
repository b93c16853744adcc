"""Scenario sections of the optional delivery mechanisms any strategy can switch on.

Each is off by default (a scenario without the section simulates exactly as before),
documented with its parameters, units and sources (docs/references.md), recorded in
the event tables and reflected in the metrics.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from trunksim.units import ClockHours


class MechanismSection(BaseModel):
    """Base of a mechanism's section: unknown keys rejected, values frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False)


class TestSelection(MechanismSection):
    """Predictive test selection: CI runs a predicted subset of the suite.

    Machalica et al., "Predictive Test Selection" (ICSE-SEIP 2019, Facebook): running a
    third of the tests that depend on the change halved the infrastructure cost of testing
    while over 95% of individual test failures and 99.9% of faulty changes were still
    reported. The defaults take the cost figure for the duration and the conservative 95%
    for the chance that a defect the full suite covers is still caught.
    """

    __test__ = False  # not a pytest class

    enabled: bool = Field(False, description="CI runs a predicted subset of the tests")
    duration_factor: Annotated[float, Field(gt=0, le=1)] = Field(
        0.5, description="CI run duration with selection ÷ without (Machalica et al. 2019: cost halved), ratio"
    )
    detection_factor: Annotated[float, Field(ge=0, le=1)] = Field(
        0.95,
        description="chance the selected subset still catches a defect the full suite covers "
        "(Machalica et al. 2019: > 95% of test failures reported), probability",
    )


class MergeQueue(MechanismSection):
    """A merge queue (merge-on-green): changes land only after CI passes on the merged result.

    An approved change whose own CI passed joins its target's queue. The queue takes up to
    ``max_batch`` changes (waiting up to ``batch_wait`` for a full batch), tests the result
    of merging them onto the current tip, and lands them if it passes. Up to
    ``speculation_depth`` batches are tested at once, each assuming those ahead pass; when
    one fails, the runs behind it are thrown away (``wasted``) and their changes are tested
    again. A failed batch is bisected until the breaking changes are found; they go back to
    their authors. A flaky failure is retried ``flaky_retries`` times, then treated like a
    real one, so it can evict an innocent change, as in real queues. A change tested on the
    tip can no longer break the target after it lands.

    Anchors: GitHub merge queue (build concurrency 1-100, group size, wait time); bors-ng
    (batching with bisection, O(E log N) builds); Uber SubmitQueue (Ananthanarayanan et al.,
    EuroSys 2019: speculation over the queue); Mergify (batch-failure splitting).
    """

    enabled: bool = Field(False, description="approved changes land through a merge queue")
    max_batch: Annotated[int, Field(ge=1, le=100)] = Field(
        4, description="most changes tested and landed together (GitHub: merge group size), changes"
    )
    batch_wait: ClockHours = Field(
        0.1, description="longest the queue waits for a full batch before testing a smaller one, clock hours"
    )
    speculation_depth: Annotated[int, Field(ge=1, le=100)] = Field(
        1, description="batches tested at once, each assuming those ahead pass (GitHub: build concurrency), batches"
    )
    flaky_retries: Annotated[int, Field(ge=0, le=10)] = Field(
        1, description="automatic re-runs of a batch whose run failed spuriously before it is split, runs"
    )

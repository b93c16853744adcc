"""The figures of the facilitator's guide and of the workshop notebook's answers come from the model (issue 17, point 1).

A fresh run of the rounds and exercises (seed 1, 10 replications, 8 weeks: what the
notebook runs) must agree with every figure written in ``docs/workshop.md`` and in the
generated cells of ``notebooks/03-workshop.ipynb``, within the 95 % interval of the
median, and every claim the prose makes in words must hold. When the model moves, run
``python -m trunksim.workshop figures`` (and rewrite the prose if a claim broke).
"""

from __future__ import annotations

import math
import shutil

import nbformat
import pytest

from trunksim.workshop import EXERCISES, GUIDE, NOTEBOOK, figures


@pytest.fixture(scope="module")
def results():
    return figures.run_all(jobs=1)


def test_guide_and_notebook_agree_with_a_fresh_run(results):
    problems = figures.check(results)
    assert not problems, (
        "The workshop's teaching material no longer matches the model; run "
        "`python -m trunksim.workshop figures`:\n" + "\n".join(problems)
    )


def test_every_template_figure_is_known(results):
    names = figures.figures_in(figures.GUIDE_TEMPLATE.read_text(encoding="utf-8"))
    names += [n for t in figures.notebook_sections().values() for n in figures.figures_in(t)]
    assert len(names) > 100
    for name in set(names):
        figures.figure(name, results)  # raises on an unknown scenario or metric


def test_a_drifted_figure_is_caught(results, tmp_path):
    guide, notebook = tmp_path / "workshop.md", tmp_path / "03.ipynb"
    shutil.copy(GUIDE, guide)
    shutil.copy(NOTEBOOK, notebook)
    lead = figures.figure("r4.lead", results).text
    text = guide.read_text(encoding="utf-8")
    assert f"(median ≈{lead} h)" in text
    guide.write_text(text.replace(f"(median ≈{lead} h)", "(median ≈46 h)", 1), encoding="utf-8")
    problems = figures.check(results, guide, notebook)
    assert len(problems) == 1 and "r4.lead" in problems[0] and "'46'" in problems[0], problems


def test_a_hand_edit_of_the_prose_is_caught(results, tmp_path):
    guide, notebook = tmp_path / "workshop.md", tmp_path / "03.ipynb"
    shutil.copy(GUIDE, guide)
    book = nbformat.read(NOTEBOOK, as_version=4)
    cell = next(c for c in book.cells if c.metadata.get(figures.GENERATED_KEY) == "ex1-code")
    cell.source = cell.source.replace('"ci.runners": 4', '"ci.runners": 3')
    nbformat.write(book, notebook)
    problems = figures.check(results, guide, notebook)
    assert problems and "ex1-code" in problems[0], problems


def test_claims_hold_and_the_rounds_tell_their_story(results):
    assert figures.broken_claims(results) == []
    levels = [figures.figure(f"r{n}.level", results).text for n in (1, 2, 3, 4)]
    assert levels[3] != levels[2], "round 4 must land in a worse DORA level than round 3"


def test_exercise_variants_are_what_the_notebook_runs():
    source = "\n".join(c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells)
    for variants in EXERCISES.values():
        for variant in variants:
            assert figures.variant_code(variant) in source


@pytest.mark.parametrize(
    "value, text",
    [(424.6, "425"), (77.57, "78"), (99.7, "100"), (7.477, "7.5"), (0.708, "0.71"), (0.0529, "0.053"), (0.5, "0.50"),
     (0.0, "0"), (math.nan, "n/a")],
)
def test_figures_print_with_two_significant_digits(value, text):
    assert figures.number_text(value) == text


def test_a_figure_accepts_values_inside_its_interval_only():
    fig = figures.Figure("78", 77.6, 70.0, 85.0)
    assert fig.accepts("78") and fig.accepts("70") and fig.accepts("86")
    assert not fig.accepts("46") and not fig.accepts("n/a") and not fig.accepts("≈78")


def test_the_notebook_runs_the_rounds_as_the_figures_do():
    """The figures assume the notebook's replications, seed and length; a change there must show here."""
    from trunksim.workshop import REPLICATIONS, SEED, SHORT

    setup = next(c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells if "def load_round" in c.source)
    assert f"REPLICATIONS = {REPLICATIONS}\n" in setup
    assert f"SEED = {SEED}\n" in setup
    assert f"SHORT = {dict(SHORT)!r}".replace("'", '"') in setup

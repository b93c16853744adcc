"""The page a participant sees: pick, move, run, look, download (Panel).

:func:`create_app` builds a new page for each browser session, so every participant's
choices and results are their own. The run happens in one of Panel's worker threads
(the page stays responsive; other participants' pages too), its replications on the
server's shared process pool, and the page shows progress as they finish.
"""

from __future__ import annotations

import io
import math
from concurrent.futures import Executor
from typing import Any, Optional

import panel as pn

from trunksim.web.choices import Choice, Parameter, choices, describe_changes, exercises
from trunksim.web.runner import Outcome, run_choice

TITLE = "trunksim: the delivery workshop"

INTRO = """\
**Same team, same work; only the way work reaches production changes.** Pick a round of
the workshop (or a scenario), move the parameters it is about, and press **Run**. The
scenario as shipped runs beside your version, on the same simulated weeks, so every
difference you see comes from your change. Each dot in the DORA panel is one replication.
"""


def _widget(parameter: Parameter, value: Any) -> pn.widgets.Widget:
    if parameter.kind == "bool":
        return pn.widgets.Checkbox(name=parameter.label, value=bool(value), css_classes=[f"param-{parameter.key}"])
    start, end = min(parameter.start, value), max(parameter.end, value)
    kind = pn.widgets.EditableIntSlider if parameter.kind == "int" else pn.widgets.EditableFloatSlider
    step = parameter.step if parameter.kind == "float" else int(parameter.step)
    return kind(
        name=parameter.label, start=start, end=end, step=step, value=value,
        sizing_mode="stretch_width",
        css_classes=[f"param-{parameter.key.replace('.', '-')}"],
    )


class WorkshopPage:
    """One participant's page: its widgets, its last outcome and the run button's work."""

    AS_SHIPPED = "the round as shipped"

    def __init__(self, executor: Optional[Executor] = None) -> None:
        self.executor = executor
        self.available = choices()
        self.by_label = {c.label: c for c in self.available}
        self.outcome: Optional[Outcome] = None
        self.runs = 0
        self.widgets: dict[str, pn.widgets.Widget] = {}

        self.pick = pn.widgets.Select(name="Round or scenario", options=list(self.by_label), value=self.available[3].label,
                                      sizing_mode="stretch_width", css_classes=["trunksim-choice"])
        self.parameters = pn.Column(sizing_mode="stretch_width")
        self.exercise = pn.widgets.Select(name="Set the parameters of an exercise", options=[], sizing_mode="stretch_width",
                                          css_classes=["trunksim-exercise"])
        self.exercise.param.watch(self._exercise_picked, "value")
        self.changes = pn.pane.Markdown("", sizing_mode="stretch_width", css_classes=["trunksim-changes"])
        self.replications = pn.widgets.IntSlider(name="replications", start=3, end=20, value=10, sizing_mode="stretch_width")
        self.weeks = pn.widgets.IntSlider(name="weeks simulated (2 of warm-up)", start=4, end=16, value=8,
                                          sizing_mode="stretch_width")
        self.seed = pn.widgets.IntInput(name="seed", value=1, start=0, sizing_mode="stretch_width")
        self.run_button = pn.widgets.Button(name="Run", button_type="primary", sizing_mode="stretch_width",
                                            css_classes=["trunksim-run"])
        self.progress = pn.indicators.Progress(name="progress", value=0, max=1, visible=False, sizing_mode="stretch_width")
        self.status = pn.pane.Markdown("Pick a round, move a parameter, press **Run**.", css_classes=["trunksim-status"],
                                       sizing_mode="stretch_width")
        self.download = pn.widgets.FileDownload(
            callback=self._csv, filename="trunksim-results.csv", label="Download results (CSV)", button_type="success",
            disabled=True, sizing_mode="stretch_width", css_classes=["trunksim-download"],
        )
        self.about = pn.pane.Markdown("", sizing_mode="stretch_width", css_classes=["trunksim-about"])
        self.headline = pn.pane.DataFrame(None, sizing_mode="stretch_width", css_classes=["trunksim-headline"],
                                          float_format=lambda v: "n/a" if math.isnan(v) else f"{v:.3g}")
        self.images = {
            name: pn.pane.PNG(None, sizing_mode="scale_width", max_width=1300, css_classes=[f"trunksim-{name}"])
            for name in ("dora", "stages", "timeline", "levels")
        }
        self.tabs = pn.Tabs(
            ("DORA metrics", self.images["dora"]),
            ("Where lead time goes", self.images["stages"]),
            ("Timeline", self.images["timeline"]),
            ("DORA levels", self.images["levels"]),
            dynamic=False, sizing_mode="stretch_width",
        )
        self.pick.param.watch(self._picked, "value")
        self.run_button.on_click(self._run)
        self._picked()

    # -- building --------------------------------------------------------------------------------
    @property
    def choice(self) -> Choice:
        return self.by_label[self.pick.value]

    def _picked(self, *_: Any) -> None:
        choice = self.choice
        scenario = choice.load(self.weeks.value)
        self.widgets = {p.key: _widget(p, p.value_in(scenario)) for p in choice.offered(scenario)}
        self.shipped = scenario
        for widget in self.widgets.values():
            widget.param.watch(self._changed, "value")
        self.parameters.objects = [pn.pane.Markdown("**The parameters this is about**"), *self.widgets.values(), self.changes]
        self._changed()
        self.exercise_values = exercises(choice)
        self.exercise.options = [self.AS_SHIPPED, *self.exercise_values] if self.exercise_values else []
        self.exercise.value = self.AS_SHIPPED if self.exercise_values else None
        self.exercise.visible = bool(self.exercise_values)
        lesson = f"\n\n**Lesson.** {scenario.lesson}" if scenario.lesson else ""
        self.about.object = f"### {choice.label}\n{scenario.description}{lesson}"

    def _changed(self, *_: Any) -> None:
        changed = describe_changes(self.choice, self.shipped, self.values())
        self.changes.object = f"*Your version:* {changed}" if changed else "*No change yet: Run shows the scenario as shipped.*"

    def _exercise_picked(self, *_: Any) -> None:
        name = self.exercise.value
        if not name:
            return
        values = self.exercise_values.get(name)
        if values is None:  # back to the round as shipped
            scenario = self.choice.load(self.weeks.value)
            values = {p.key: p.value_in(scenario) for p in self.choice.offered(scenario)}
        for key, value in values.items():
            if key in self.widgets:
                self.widgets[key].value = value

    def view(self) -> pn.template.BaseTemplate:
        sidebar = [
            self.pick, self.exercise, self.parameters, pn.layout.Divider(), self.replications, self.weeks, self.seed,
            self.run_button, self.progress, self.status, self.download,
        ]
        main = [pn.pane.Markdown(INTRO, sizing_mode="stretch_width"), self.about, self.headline, self.tabs]
        return pn.template.BootstrapTemplate(title=TITLE, sidebar=sidebar, main=main, sidebar_width=380)

    # -- running --------------------------------------------------------------------------------
    def values(self) -> dict[str, Any]:
        return {key: widget.value for key, widget in self.widgets.items()}

    def _progress(self, done: int, total: int) -> None:
        self.progress.max = max(total, 1)
        self.progress.value = done
        self.status.object = f"Running: {done} of {total} replications…" if total else "Drawing…"

    def _run(self, *_: Any) -> None:
        self.run_button.disabled = True
        self.progress.visible = True
        self.progress.value = 0
        self.status.object = "Starting…"
        try:
            outcome = run_choice(
                self.choice, self.values(), replications=self.replications.value, weeks=self.weeks.value,
                seed=int(self.seed.value or 0), executor=self.executor, progress=self._progress,
            )
        except Exception as error:  # a participant's run must never take the page down
            self.status.object = f"**The run failed:** {error}"
            return
        finally:
            self.run_button.disabled = False
            self.progress.visible = False
        self.show(outcome)

    def show(self, outcome: Outcome) -> None:
        self.outcome = outcome
        self.runs += 1
        self.headline.object = outcome.headline
        for name, pane in self.images.items():
            pane.object = outcome.images.get(name)
        changed = f"your version ({outcome.changed}) against the scenario as shipped" if outcome.changed else "the scenario as shipped"
        notes = "".join(f" {note}" for note in outcome.notes)
        self.status.object = f"Run {self.runs} done in {outcome.seconds:.1f} s: {changed}.{notes}"
        self.download.disabled = False

    def _csv(self) -> io.StringIO:
        return io.StringIO(self.outcome.csv() if self.outcome is not None else "")


def create_app(executor: Optional[Executor] = None) -> pn.template.BaseTemplate:
    """A new page for one browser session."""
    return WorkshopPage(executor).view()

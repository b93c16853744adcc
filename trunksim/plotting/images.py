"""Plots as PNG bytes, for front ends that show images (the browser app, ``trunksim.web``).

Figures are made directly (:class:`matplotlib.figure.Figure`, not pyplot), so nothing
is left open in a long-running server and no display is needed; drawing is serialised
by a lock, since the projector style is set on matplotlib's global defaults while a
figure is drawn.
"""

from __future__ import annotations

import io
import threading
from typing import Any, Callable

from trunksim.plotting.style import projector_style

_LOCK = threading.Lock()


def figure_png(figure: Any, dpi: int = 90) -> bytes:
    """A finished figure (such as :func:`~trunksim.plotting.results.dora_panel`'s) as PNG bytes."""
    buffer = io.BytesIO()
    with _LOCK:
        figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def axes_png(draw: Callable[[Any], Any], figsize: tuple[float, float] = (12.0, 5.0), dpi: int = 90) -> bytes:
    """Call ``draw(ax)`` on the axes of a new figure of ``figsize`` inches, at projector sizes; the PNG bytes.

    ``draw`` is any plotting function of this package that takes ``ax``, e.g.
    ``axes_png(lambda ax: stage_breakdown(frame, ax=ax))``.
    """
    from matplotlib.figure import Figure

    buffer = io.BytesIO()
    with _LOCK, projector_style():
        figure = Figure(figsize=figsize, layout="constrained")
        draw(figure.subplots())
        figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


__all__ = ["axes_png", "figure_png"]

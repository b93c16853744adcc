"""The workshop in a browser: ``trunksim serve`` (a Panel app, one session per participant).

A participant opens ``http://<facilitator's machine>:<port>/`` and, with no Python of
their own, picks a workshop round or a shipped scenario, moves the few parameters it is
about, runs it (a few seconds, with progress) and sees the DORA distributions, where
lead time goes and one replication's timeline, beside the scenario as shipped; the
results download as CSV. Each browser tab is its own session: its choices and results
are nobody else's.

* :mod:`trunksim.web.choices` — the rounds and scenarios offered and their parameters
  (plain data, no web framework);
* :mod:`trunksim.web.runner` — running a choice with progress and drawing its pictures
  (no web framework either; tested without a browser);
* :mod:`trunksim.web.app` — the page (Panel);
* :func:`serve` — the server.

This package is in the top layer, beside the command line: it uses the scenario,
running and plotting layers, and nothing imports it but ``trunksim.cli``.
"""

from __future__ import annotations

DEFAULT_PORT = 5006
"""Port ``trunksim serve`` listens on unless told otherwise (Panel's and Bokeh's usual)."""


def serve(port: int = DEFAULT_PORT, host: str = "0.0.0.0") -> None:
    """Serve the workshop app on ``host:port`` until interrupted (Ctrl-C).

    ``host`` ``0.0.0.0`` listens on every network interface, so participants on the
    same network open ``http://<this machine's address>:<port>/``; ``127.0.0.1`` keeps
    it to this machine. Imports Panel only when called (``pip install -e '.[web]'``).
    """
    from trunksim.web.server import serve as serve_app

    serve_app(port=port, host=host)


__all__ = ["DEFAULT_PORT", "serve"]

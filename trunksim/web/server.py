"""``trunksim serve``: the Panel server, one page per browser session, one process pool for all.

Panel (HoloViz, on Bokeh's Tornado server) runs each session's callbacks in a thread
pool, so a participant's run never freezes another's page; the replications themselves
run in a shared pool of worker processes (one per core, at most eight), so a room of
participants shares the facilitator's cores instead of one.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
from concurrent.futures import ProcessPoolExecutor
from typing import Optional

SESSION_THREADS = 8
"""Panel's callback threads: how many participants' runs may be in progress at once."""


def workers() -> int:
    """Worker processes for replications: one per core, at most eight."""
    return max(1, min(8, os.cpu_count() or 1))


def addresses(port: int, host: str) -> list[str]:
    """Where to open the app: this machine, and the address participants type (by host name, or its IP address)."""
    if host not in ("0.0.0.0", "::", ""):
        return [f"http://{host}:{port}/"]
    return [f"http://localhost:{port}/", f"http://{socket.gethostname()}:{port}/ (or this machine's IP address)"]


def serve(port: int, host: str, *, executor: Optional[ProcessPoolExecutor] = None) -> None:
    """Serve the app on ``host:port`` until Ctrl-C or SIGTERM; see :func:`trunksim.web.serve`."""
    import panel as pn

    from trunksim.web.app import TITLE, create_app

    pn.config.nthreads = SESSION_THREADS
    pool = executor or ProcessPoolExecutor(max_workers=workers(), mp_context=multiprocessing.get_context("spawn"))
    print(f"trunksim workshop app: participants open {' or '.join(addresses(port, host))}  (Ctrl-C stops it)", flush=True)

    def stop(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        pn.serve(
            {"/": lambda: create_app(pool)}, port=port, address=host, websocket_origin="*", show=False,
            title=TITLE, verbose=False, threaded=False,
        )
    except KeyboardInterrupt:
        pass
    finally:
        pool.shutdown(wait=False, cancel_futures=True)

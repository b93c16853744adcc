"""``python -m trunksim.web [--port N] [--host H]``: the workshop app (what ``trunksim serve`` runs)."""

from __future__ import annotations

import argparse

from trunksim.web import DEFAULT_PORT, serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m trunksim.web", description="Serve the workshop app to browsers.")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port to listen on (default {DEFAULT_PORT})")
    parser.add_argument("--host", default="0.0.0.0",
                        help="address to listen on (default 0.0.0.0: every interface, so the room can connect; 127.0.0.1: this machine only)")
    arguments = parser.parse_args(argv)
    serve(port=arguments.port, host=arguments.host)


if __name__ == "__main__":
    main()

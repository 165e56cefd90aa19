"""``allocator serve``: review and adjust a plan in the browser (``docs/serve.md``)."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import socket
from pathlib import Path

from allocator.exceptions import AllocatorError

__all__ = ["add_serve_parser", "cmd_serve"]

log = logging.getLogger("allocator")


def add_serve_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="review and adjust a plan in the browser (map, edits, re-optimise, save)",
        description="Start a local web app on a plan folder (or a scenario, solved first) and "
        "print its address. It never writes into the folder it was opened on: saves go to "
        "new folders.",
    )
    p.add_argument("source", metavar="PLAN_FOLDER_OR_SCENARIO", help="plan folder or scenario")
    p.add_argument(
        "--port", type=int, default=8050, help="TCP port (default: 8050; 0 picks a free one)"
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1, this machine only)",
    )
    p.set_defaults(func=cmd_serve)


def _listen(host: str, port: int) -> socket.socket:
    """A bound, listening socket, or one clear error (port in use, bad address)."""
    try:
        family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:
        family = socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise AllocatorError(
            f"--port {port} --host {host}: cannot listen there ({exc.strerror}); "
            "try another --port, or --port 0 for a free one"
        ) from None
    sock.listen(128)
    return sock


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from allocator.serve import Workspace, create_app, open_source

    if args.port < 0 or args.port > 65535:
        raise AllocatorError(f"--port {args.port}: expected 0..65535")
    sock = _listen(args.host, args.port)
    try:
        opened = open_source(Path(args.source))
        for warning in opened.warnings:
            log.warning("warning: %s", warning)
        app = create_app(Workspace(opened))
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        if not ipaddress.ip_address(host).is_loopback:
            log.warning("warning: listening on %s: other machines can reach this page", host)
        print(f"serving {opened.label} at http://{shown}:{port}/ (Ctrl+C stops)", flush=True)
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
    return 0

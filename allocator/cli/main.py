"""The ``allocator`` parser and entry point: one sub-parser per command group, errors to exit codes.

Exit codes: 0 solved (optimal, or feasible within the limits), 1 infeasible (with a diagnosis),
2 bad input or usage (one clear message, no traceback; ``--debug`` shows one), 3 internal error.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from allocator.cli.bench import add_bench_parser
from allocator.cli.export import add_export_parser
from allocator.cli.generate import add_generate_parser
from allocator.cli.letters import add_letters_parsers
from allocator.cli.plan import add_plan_parsers
from allocator.cli.plans import add_plans_parser
from allocator.cli.reference import render_reference
from allocator.cli.serve import add_serve_parser
from allocator.cli.size import add_size_parser
from allocator.cli.sweep import add_sweep_parser
from allocator.cli.track import add_track_parsers
from allocator.exceptions import (
    AllocatorError,
    CheckError,
    InfeasibleError,
    NoSolutionInTimeError,
    SolverError,
)

__all__ = ["build_parser", "cli_reference", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="allocator",
        description="Plan sales territories and quotas by optimization.",
        epilog="Exit codes: 0 solved, 1 infeasible (with a diagnosis), 2 bad input or usage, "
        "or an output folder or file that cannot be used.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors on stderr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    add_plan_parsers(sub)
    add_sweep_parser(sub)
    add_track_parsers(sub)
    add_serve_parser(sub)
    add_generate_parser(sub)
    add_bench_parser(sub)
    add_size_parser(sub)
    add_plans_parser(sub)
    add_export_parser(sub)
    add_letters_parsers(sub)
    return parser


def cli_reference() -> str:
    """``docs/cli.md``: the help of every command, generated so the page cannot drift."""
    return render_reference(build_parser())


def _show_warning(message: Warning | str, *_: object, **__: object) -> None:
    """A warning as one line for a planner (``warning: ...``), not a source excerpt."""
    print(f"warning: {message}", file=sys.stderr)


def _exit_code(exc: AllocatorError) -> int:
    if isinstance(exc, CheckError):
        return 3
    if isinstance(exc, NoSolutionInTimeError):
        return 4
    if isinstance(exc, InfeasibleError | SolverError):
        return 1
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv == ["--markdown"]:
        print(cli_reference(), end="")
        return 0
    args = build_parser().parse_args(argv)
    level = logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(message)s", stream=sys.stderr)
    if not args.debug:
        warnings.showwarning = _show_warning
    func: Callable[[argparse.Namespace], int] = args.func
    previous = _terminate_cleanly()
    try:
        return func(args)
    except AllocatorError as exc:
        if args.debug:
            raise
        kind = "infeasible" if isinstance(exc, InfeasibleError) else "error"
        if isinstance(exc, NoSolutionInTimeError):
            kind = "no plan within the rules in time"
        print(f"{kind}: {exc}", file=sys.stderr)
        return _exit_code(exc)
    except OSError as exc:  # a file error no writer named: still one line, exit 2
        if args.debug:
            raise
        from allocator.io.folder import os_cause

        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{os_cause(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("terminated", file=sys.stderr)
        return 143
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


class Terminated(BaseException):
    """SIGTERM, raised like Ctrl-C so that every writer removes its temporary files."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated


def _terminate_cleanly() -> Any:
    """Turn SIGTERM into :class:`Terminated` (main thread only); return the old handler."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _raise_terminated)

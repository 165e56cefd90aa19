"""The ``allocator`` command: a thin shell over the public Python API, one module per command group.

:mod:`allocator.cli.main` builds the parser and maps errors to exit codes;
:mod:`~allocator.cli.plan`
(demo, validate, solve, compare), :mod:`~allocator.cli.sweep`, :mod:`~allocator.cli.track` (track,
rebalance, activities), :mod:`~allocator.cli.generate` and :mod:`~allocator.cli.bench` add their
commands. Exports :func:`main`, :func:`build_parser` and :func:`cli_reference`.
"""

from allocator.cli.main import build_parser, cli_reference, main

__all__ = ["build_parser", "cli_reference", "main"]

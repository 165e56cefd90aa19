"""``docs/cli.md``, generated from the parser's own help so the page cannot drift."""

from __future__ import annotations

import argparse
import os

__all__ = ["render_reference"]


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.ArgumentParser]]:
    return [
        (name, sub)
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for name, sub in action.choices.items()
    ]


def render_reference(parser: argparse.ArgumentParser) -> str:
    """``docs/cli.md``, generated from the parser's own help so the page cannot drift."""
    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal: fix the width
    parts = [
        "# Command line reference",
        "",
        "Generated from `allocator --help` by `python -m allocator.cli --markdown > docs/cli.md`;"
        " a test fails when this page and the CLI differ.",
        "",
        "```text",
        parser.format_help().rstrip(),
        "```",
    ]
    for name, sub in _subcommands(parser):
        parts += ["", f"## allocator {name}", "", "```text", sub.format_help().rstrip(), "```"]
        for nested, nsub in _subcommands(sub):
            parts += ["", f"### allocator {name} {nested}", "", "```text"]
            parts += [nsub.format_help().rstrip(), "```"]
    return "\n".join(parts) + "\n"

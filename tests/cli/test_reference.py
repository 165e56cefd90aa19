"""docs/cli.md is generated from the parser: it cannot drift from the real commands."""

from __future__ import annotations

from pathlib import Path

from allocator.cli import cli_reference

ROOT = Path(__file__).resolve().parents[2]


def test_cli_reference_is_up_to_date() -> None:
    current = (ROOT / "docs" / "cli.md").read_text()
    assert current == cli_reference(), (
        "regenerate: python -m allocator.cli --markdown > docs/cli.md"
    )


def test_every_command_is_documented() -> None:
    text = (ROOT / "docs" / "cli.md").read_text()
    for command in (
        "demo",
        "validate",
        "solve",
        "compare",
        "sweep",
        "track",
        "rebalance",
        "activities",
        "generate",
        "bench",
    ):
        assert f"## allocator {command}" in text

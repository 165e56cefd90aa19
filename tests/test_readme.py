"""README's first two commands are the contract with a new user and with CI: keep them honest."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert block is not None, "README.md must start with a bash block of two commands"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_starts_with_install_and_test_commands() -> None:
    text = (ROOT / "README.md").read_text()
    assert text.index("```bash") < text.index("\n## "), "the commands come before any section"
    install, test = readme_commands()
    assert "pip install" in install and "allocator demo" in install
    assert "pytest" in test


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert readme_commands()[1] in ci_lines


def test_readme_performance_numbers_are_the_measured_ones() -> None:
    """The README's Performance table is the headline block of ``benchmarks/results.md``."""
    from benchmarks.render import HEADLINE_END, HEADLINE_START

    def block(path: Path) -> str:
        text = path.read_text()
        assert HEADLINE_START in text and HEADLINE_END in text, f"{path.name}: no headline block"
        return text[text.index(HEADLINE_START) : text.index(HEADLINE_END)]

    readme, results = ROOT / "README.md", ROOT / "benchmarks" / "results.md"
    assert block(readme) == block(results), "run: python -m benchmarks.render --readme"

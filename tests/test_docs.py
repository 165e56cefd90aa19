"""Every runnable block of ``docs/*.md`` runs, in order, in a fresh folder: the docs cannot rot.

How a page marks its blocks (HTML comments, invisible on GitHub and in any Markdown viewer):

- ```` ```python ```` blocks run in order in one namespace per page.
- ```` ```bash ```` blocks whose first command starts with ``allocator`` run line by line through
  ``allocator.cli.main`` (in-process, ``# comments`` dropped). Each command must exit 0, or
  the code that ``<!-- exit: N -->`` before the block gives. Other bash blocks (``pip install``)
  are shown, not run. A line in an ``allocator`` block that is not an ``allocator`` command fails.
- ``<!-- output -->`` before a ```` ```text ```` block: its lines must be consecutive lines of what
  the previous command or python block printed; ``...`` inside a line matches any text
  (absolute paths, timings), a line that is only ``...`` any number of lines; runs of spaces
  count as one.
- ``<!-- file: PATH -->`` before any block writes the block's text to ``PATH`` (relative to the
  working folder) instead of running it: the reader saves the same file by hand.
- ``<!-- test: ... -->`` is hidden Python run at that point in the page's namespace: the setup
  a reader does not need to see, and the independent checks of what the page just computed.
- ``<!-- no-test -->`` before a block skips it. Use it sparingly.
- ```` ```yaml ```` blocks that are not files must be valid scenario keys (``extends:`` is dropped).
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import shlex
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from allocator.cli import main
from allocator.io.scenario import scenario_from_dict

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))

#: Pages owned by others that still hold a block which cannot run here; the value says which
#: marker is missing. Strict: once the page is fixed, the XPASS fails and the entry must go.
PENDING: dict[str, str] = {}  # page -> why it cannot run yet (xfail strict)

_TOKEN = re.compile(
    r"<!--(?P<comment>.*?)-->"
    r"|^(?P<indent>[ \t]*)```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
    re.S | re.M,
)


@dataclass(frozen=True)
class Block:
    """One step of a page: a fenced block with the marker before it, or a hidden test."""

    kind: str  # python, bash, text, yaml, csv, ..., or "test" (hidden python)
    body: str
    line: int
    marker: str = ""  # "no-test", "output", "file: PATH", "exit: N" or ""


def blocks(text: str) -> list[Block]:
    """The steps of a page in reading order; a marker comment attaches to the next block."""
    out: list[Block] = []
    marker = ""
    for m in _TOKEN.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        if m.group("comment") is not None:
            comment = m.group("comment").strip()
            if comment.startswith("test:"):
                out.append(Block("test", textwrap.dedent(comment[5:]).strip() + "\n", line))
            elif re.match(r"(no-test|output|file:|exit:)", comment):
                marker = comment
            continue
        body = textwrap.dedent(m.group("body"))
        out.append(Block(m.group("lang") or "text", body, line, marker))
        marker = ""
    return out


def _commands(body: str) -> list[list[str]]:
    lines = [shlex.split(line, comments=True) for line in body.splitlines()]
    return [words for words in lines if words]


def _runs_cli(block: Block) -> bool:
    if block.kind not in ("bash", "sh", "console"):
        return False
    commands = _commands(block.body)
    return bool(commands) and commands[0][0] == "allocator"


def run_cli(words: list[str]) -> tuple[int, str]:
    """Run one ``allocator ...`` command in-process: its exit code and what it printed."""
    out = io.StringIO()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level  # main() configures logging: put it back
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            code = main(words[1:])
    except SystemExit as exc:  # argparse: --help, or a usage error
        code = exc.code if isinstance(exc.code, int) else 2
    finally:
        root.handlers[:], root.level = handlers, level
    return code, out.getvalue()


def _lines(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def output_matches(expected: str, printed: str) -> bool:
    """True when the lines of ``expected`` are consecutive lines of ``printed``.

    Runs of whitespace count as one space and blank lines are ignored; ``...`` inside a line
    matches any text, a line that is only ``...`` matches any number of lines.
    """
    pieces = []
    for line in _lines(expected):
        if line == "...":
            pieces.append(r"(?:[^\n]*\n)*?")
        else:
            pieces.append("[^\n]*".join(re.escape(part) for part in line.split("...")) + "\n")
    text = "".join(f"{line}\n" for line in _lines(printed))
    return re.search("^" + "".join(pieces), text, re.M) is not None


def check_yaml(block: Block, where: str) -> None:
    data = yaml.safe_load(block.body)
    assert isinstance(data, dict), f"{where}: a yaml block must be a mapping of scenario keys"
    data.pop("extends", None)
    scenario_from_dict(data, source=where)


def run_page(text: str, name: str, workdir: Path) -> dict[str, Any]:
    """Run every step of a page in ``workdir`` (the current directory); return the namespace."""
    namespace: dict[str, Any] = {"__name__": f"docs.{name}"}
    printed = ""
    for block in blocks(text):
        where = f"docs/{name}:{block.line}"
        if block.marker == "no-test":
            continue
        if block.marker.startswith("file:"):
            path = workdir / block.marker[5:].strip()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(block.body, encoding="utf-8")
        elif block.kind in ("python", "test"):
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                exec(compile(block.body, where, "exec"), namespace)
            printed = out.getvalue() if block.kind == "python" else printed
        elif _runs_cli(block):
            want = int(block.marker[5:]) if block.marker.startswith("exit:") else 0
            for words in _commands(block.body):
                assert words[0] == "allocator", f"{where}: not an allocator command: {words}"
                code, printed = run_cli(words)
                assert code == want, f"{where}: `{shlex.join(words)}` exited {code}:\n{printed}"
        elif block.marker == "output":
            assert output_matches(block.body, printed), (
                f"{where}: the command printed something else:\n{printed}"
            )
        elif block.kind == "yaml":
            check_yaml(block, where)
    return namespace


def _page_param(page: Path) -> Any:
    if page.name in PENDING:
        mark = pytest.mark.xfail(strict=True, reason=PENDING[page.name])
        return pytest.param(page, id=page.name, marks=mark)
    return pytest.param(page, id=page.name)


@pytest.mark.parametrize("page", [_page_param(p) for p in PAGES])
def test_page_runs(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    run_page(page.read_text(encoding="utf-8"), page.name, tmp_path)


# ---------------------------------------------------------------- links and coverage

_LINK = re.compile(r"\]\(([^)\s]+)\)")


def _local_links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return [link.split("#")[0] for link in _LINK.findall(text) if not re.match(r"[a-z]+:", link)]


@pytest.mark.parametrize(
    "page", [*PAGES, ROOT / "notebooks" / "README.md"], ids=lambda p: p.parent.name + "/" + p.name
)
def test_local_links_resolve(page: Path) -> None:
    broken = [link for link in _local_links(page) if link and not (page.parent / link).exists()]
    assert not broken, f"{page.relative_to(ROOT)}: links to missing files: {broken}"


def test_index_links_every_page_and_notebook_readme() -> None:
    linked = {(DOCS / link).resolve() for link in _local_links(DOCS / "index.md")}
    missing = [p.name for p in PAGES if p.name != "index.md" and p.resolve() not in linked]
    assert not missing, f"docs/index.md does not link {missing}"
    assert (ROOT / "notebooks" / "README.md").resolve() in linked


def test_models_page_links_every_model() -> None:
    linked = {(DOCS / link).resolve() for link in _local_links(DOCS / "models.md")}
    models = sorted((ROOT / "models").glob("*.md"))
    missing = [p.name for p in models if p.name != "README.md" and p.resolve() not in linked]
    assert models and not missing, f"docs/models.md does not link {missing}"


# ---------------------------------------------------------------- the runner itself

_SAMPLE = """
<!-- file: data/hello.txt -->
```text
hello
```

```python
from pathlib import Path
words = Path("data/hello.txt").read_text().split()
```

<!-- test: assert words == ["hello"] -->

<!-- no-test -->
```python
raise SystemExit("skipped blocks never run")
```

<!-- exit: 2 -->
```bash
allocator validate missing.yaml   # a file that does not exist
```

<!-- output -->
```text
error: missing.yaml: ...not found
```
"""


def test_runner_follows_the_markers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace = run_page(_SAMPLE, "sample.md", tmp_path)
    assert namespace["words"] == ["hello"]
    assert [b.kind for b in blocks(_SAMPLE)] == ["text", "python", "test", "python", "bash", "text"]


@pytest.mark.parametrize(
    "page",
    [
        "```python\nraise ValueError('a broken example')\n```\n",
        "<!-- test: assert 1 == 2 -->\n",
        "```bash\nallocator validate missing.yaml\n```\n",  # exits 2, the page expects 0
        "```bash\nallocator --help\nls -la\n```\n",
        "```bash\nallocator --help\n```\n<!-- output -->\n```text\nnever printed\n```\n",
        "```yaml\nassignment: {objetive: {travel: 1}}\n```\n",
    ],
    ids=["python", "hidden-test", "exit-code", "not-allocator", "output", "yaml"],
)
def test_runner_fails_on_a_broken_page(
    page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises((AssertionError, ValueError)):
        run_page(page, "broken.md", tmp_path)


def test_output_matching() -> None:
    printed = "scenario 'x' is valid (/tmp/a/x.yaml)\ntables:    reps 4, accounts 16\n\nend\n"
    assert output_matches("scenario 'x' is valid (...x.yaml)\ntables: ...16", printed)
    assert output_matches("tables: reps 4, accounts 16\nend", printed)  # blank lines ignored
    assert output_matches("scenario ...\n...\nend", printed)
    assert not output_matches("scenario ...\nend", printed)  # a line left out needs "..."
    assert not output_matches("tables: ...16\nscenario 'x' is valid ...", printed)
    assert not output_matches("reps 4", printed)  # whole lines only

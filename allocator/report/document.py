"""Documents: sections of blocks (text, bullets, tables, images) rendered to HTML and Markdown.

A document is a list of :class:`Section` made of blocks. The same blocks render to one HTML page
(:func:`render_html`: inline CSS with a print stylesheet, images as base64 ``<img>``, interactive
figures as :class:`Html` fragments with their JS embedded, opens offline) and to Markdown
(:func:`render_markdown`: images as ``<stem>_<name>.png`` files next to it);
:func:`write_document` writes both, and the PNG files, atomically. The plan report
(:mod:`allocator.report`), the comparison and the tracking reports are such documents.
"""

from __future__ import annotations

import base64
import html
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template

import pandas as pd

from allocator.io.folder import Claim, Owner, claim
from allocator.report.format import number

__all__ = [
    "Block",
    "Bullets",
    "Html",
    "Image",
    "Section",
    "Table",
    "Text",
    "render_html",
    "render_markdown",
    "write_document",
]

log = logging.getLogger("allocator")

MAX_ROWS = 1000  # longer tables are cut in the report; the CSV outputs hold every row


@dataclass(frozen=True)
class Text:
    """A paragraph of plain text (escaped in HTML)."""

    text: str


@dataclass(frozen=True)
class Bullets:
    """A bulleted list."""

    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    """A frame shown as a table (numbers formatted per column, cut at MAX_ROWS)."""

    frame: pd.DataFrame
    note: str = ""


@dataclass(frozen=True)
class Image:
    """A PNG: inline base64 in HTML, the file ``<stem>_<name>.png`` in Markdown."""

    name: str
    caption: str
    data: bytes


@dataclass(frozen=True)
class Html:
    """A trusted HTML fragment (an interactive figure, a headline) and its Markdown stand-in.

    Fragments are built by allocator itself with every user string escaped; they may carry
    ``<script>`` (plotly.js embedded, never fetched).
    """

    html: str
    markdown: str = ""
    image: Image | None = None  # shown in Markdown after the text (a static stand-in)


Block = Text | Bullets | Table | Image | Html


@dataclass(frozen=True)
class Section:
    """A titled part of a document."""

    title: str
    blocks: tuple[Block, ...]


# ---------------------------------------------------------------- rendering


def _format_column(column: pd.Series) -> list[str]:
    if column.dtype == bool:
        return ["yes" if v else "" for v in column]
    if not pd.api.types.is_numeric_dtype(column):
        return ["" if pd.isna(v) else str(v) for v in column]
    values = column.astype(float)
    return ["" if pd.isna(v) else number(v) for v in values]


def _cells(frame: pd.DataFrame) -> list[list[str]]:
    columns = [_format_column(frame[c]) for c in frame.columns]
    return [list(row) for row in zip(*columns, strict=True)] if columns else []


def _cut(table: Table) -> tuple[pd.DataFrame, str]:
    frame, note = table.frame, table.note
    if len(frame) > MAX_ROWS:
        more = f"first {MAX_ROWS} of {len(frame):,} rows"
        frame, note = frame.head(MAX_ROWS), f"{note} ({more})" if note else more
    return frame, note


def _html_block(block: Block) -> str:
    if isinstance(block, Html):
        return block.html
    if isinstance(block, Text):
        return f"<p>{html.escape(block.text)}</p>"
    if isinstance(block, Bullets):
        return "<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in block.items) + "</ul>"
    if isinstance(block, Image):
        data = base64.b64encode(block.data).decode("ascii")
        alt = html.escape(block.caption)
        image = f'<img src="data:image/png;base64,{data}" alt="{alt}">'
        return f"<figure>{image}<figcaption>{alt}</figcaption></figure>"
    frame, note = _cut(block)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    numeric = [
        pd.api.types.is_numeric_dtype(frame[c]) and frame[c].dtype != bool for c in frame.columns
    ]
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="{"num" if n else ""}">{html.escape(v)}</td>'
            for v, n in zip(row, numeric, strict=True)
        )
        + "</tr>"
        for row in _cells(frame)
    )
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    caption = f'<p class="note">{html.escape(note)}</p>' if note else ""
    return f'<div class="wide">{table}</div>{caption}'


_PAGE = Template(
    """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
<style>
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans CJK SC",
       "Noto Sans", sans-serif; color: #1d2330; margin: 0 auto; max-width: 1180px;
       padding: 24px 32px 64px; background: #fff; }
h1 { font-size: 26px; margin: 0 0 4px; } h2 { font-size: 20px; margin-top: 36px;
     border-bottom: 2px solid #e3e7ef; padding-bottom: 4px; }
  h3 { font-size: 16px; margin: 18px 0 6px; }
.subtitle { color: #5b6475; margin: 0 0 16px; } nav { background: #f5f7fb; padding: 8px 14px;
     border-radius: 6px; } nav a { margin-right: 14px; color: #2856b6; text-decoration: none; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
th, td { border: 1px solid #dde2ea; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #eef2f8; } td.num { text-align: right; font-variant-numeric: tabular-nums;
     white-space: nowrap; } tr:nth-child(even) td { background: #fafbfd; }
.wide { overflow-x: auto; max-width: 100%; }
figure { margin: 12px 0; } img { max-width: 100%; border: 1px solid #e3e7ef; }
figcaption, .note { color: #5b6475; font-size: 13px; }
.headline { border: 1px solid #d5dbe6; border-radius: 8px; padding: 12px 16px;
  background: #fbfcfe; }
.figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr));
  gap: 10px; }
.figure-card { border-left: 4px solid #2856b6; padding: 4px 10px; background: #fff; }
.figure-card .label { color: #5b6475; font-size: 12px; text-transform: uppercase;
  letter-spacing: .04em; }
.figure-card .value { font-size: 18px; font-weight: 600; }
  .figure-card .detail { font-size: 13px; color: #3b4354; }
ul.warnings li { color: #8a3b00; } .map-search { margin: 8px 0; }
  .map-search input { font: inherit; padding: 3px 6px; }
.map { border: 1px solid #e3e7ef; border-radius: 6px; min-width: 0; }
.side-by-side { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
@media print {
  @page { size: A4; margin: 12mm; }
  body { max-width: none; padding: 0; font-size: 11px; }
  nav, .map-search, .modebar-container { display: none !important; }
  h2 { break-after: avoid; margin-top: 18px; }
  figure, .figure-card, .headline { break-inside: avoid; }
  .wide { overflow: visible !important; max-height: none !important; }
  table { font-size: 9px; width: 100%; } thead { display: table-header-group; }
  tr { break-inside: avoid; } th, td { padding: 1px 4px; word-break: break-word; }
  td.num { white-space: nowrap; word-break: normal; }
  .map { break-inside: avoid; } .side-by-side { grid-template-columns: 1fr; }
}
</style></head>
<body>
<h1>$title</h1>
<p class="subtitle">$subtitle</p>
<nav>$toc</nav>
$body
</body></html>
"""
)


def render_html(title: str, subtitle: str, sections: Sequence[Section]) -> str:
    """One self-contained HTML page: inline CSS, images as data URIs, no external resource."""
    toc = "".join(f'<a href="#s{i}">{html.escape(s.title)}</a>' for i, s in enumerate(sections))
    body = "\n".join(
        f'<section id="s{i}"><h2>{html.escape(s.title)}</h2>\n'
        + "\n".join(_html_block(b) for b in s.blocks)
        + "</section>"
        for i, s in enumerate(sections)
    )
    return _PAGE.substitute(
        title=html.escape(title), subtitle=html.escape(subtitle), toc=toc, body=body
    )


def _md_cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def _md_block(block: Block, stem: str) -> str:
    if isinstance(block, Html):
        image = _md_block(block.image, stem) if block.image is not None else ""
        return "\n\n".join(p for p in (block.markdown, image) if p)
    if isinstance(block, Text):
        return block.text
    if isinstance(block, Bullets):
        return "\n".join(f"- {i}" for i in block.items)
    if isinstance(block, Image):
        return f"![{block.caption}]({stem}_{block.name}.png)"
    frame, note = _cut(block)
    lines = [
        "| " + " | ".join(_md_cell(str(c)) for c in frame.columns) + " |",
        "|" + "|".join("---" for _ in frame.columns) + "|",
        *("| " + " | ".join(_md_cell(v) for v in row) + " |" for row in _cells(frame)),
    ]
    return "\n".join(lines) + (f"\n\n_{note}_" if note else "")


def render_markdown(title: str, subtitle: str, sections: Sequence[Section], *, stem: str) -> str:
    """Markdown; an image ``name`` is linked as the file ``<stem>_<name>.png``."""
    parts = [f"# {title}", "", subtitle]
    for s in sections:
        parts += ["", f"## {s.title}", ""]
        parts += ["\n\n".join(_md_block(b, stem) for b in s.blocks)]
    return "\n".join(parts) + "\n"


def _images(sections: Sequence[Section]) -> list[Image]:
    out = []
    for block in (b for s in sections for b in s.blocks):
        if isinstance(block, Image):
            out.append(block)
        elif isinstance(block, Html) and block.image is not None:
            out.append(block.image)
    return out


def write_document(
    outdir: str | Path | Claim,
    stem: str,
    title: str,
    sections: Sequence[Section],
    *,
    subtitle: str = "",
) -> list[Path]:
    """Write ``<stem>.html``, ``<stem>.md`` and the Markdown's PNG files.

    Into a :class:`~allocator.io.folder.Claim`, the files are staged (its owner commits them);
    into a folder path, the folder is claimed for a result of kind ``stem`` and committed.

    Raises
    ------
    OutputError
        The folder cannot be used or written (:func:`allocator.io.folder.claim`).
    """
    if not isinstance(outdir, Claim):
        with claim(outdir, Owner(stem, None, title)) as folder:
            written = write_document(folder, stem, title, sections, subtitle=subtitle)
            folder.commit()
            return written
    written = [
        outdir.write_bytes(f"{stem}_{image.name}.png", image.data) for image in _images(sections)
    ]
    for suffix, text in (
        ("md", render_markdown(title, subtitle, sections, stem=stem)),
        ("html", render_html(title, subtitle, sections)),
    ):
        written.append(outdir.write_text(f"{stem}.{suffix}", text))
    log.info("report: wrote %s", ", ".join(p.name for p in written))
    return written

"""Reading one input table from a file, cells untouched, and collecting problem lines.

:func:`read_table` reads ``.csv`` (every cell as text, so ``007`` stays ``007``), ``.parquet`` or
``.xlsx`` (first sheet) into a :class:`Raw` table that remembers its file and each row's label as a
person sees it (the header is row 1). :class:`Problems` collects one line per problem, for
:mod:`allocator.io.data` to raise as one :class:`~allocator.exceptions.InputError`.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from allocator.exceptions import InputError

__all__ = ["CELL", "Problems", "Raw", "Unreadable", "file_kind", "read_cells", "read_table"]

CELL = object()  # a problem shows the cell as the user wrote it
_SUFFIXES = (".csv", ".parquet", ".xlsx")


@dataclass(frozen=True)
class Raw:
    """One table as read: cells untouched, plus where it came from and each row's label."""

    name: str
    frame: pd.DataFrame
    where: str
    rows: tuple[str, ...]


class Problems:
    """Collects problem lines: keeps the first ``cap``, counts them all."""

    def __init__(self, cap: int) -> None:
        self.lines: list[str] = []
        self.total = 0
        self.cap = max(cap, 1)

    def add(self, line: str) -> None:
        self.total += 1
        if len(self.lines) < self.cap:
            self.lines.append(line)

    def cell(self, raw: Raw, pos: int, column: str, expected: str, value: Any = CELL) -> None:
        if value is CELL:
            value = raw.frame[column].iloc[pos]
        shown = value.item() if hasattr(value, "item") else value  # numpy scalar -> python
        self.add(f"{raw.where}: {raw.rows[pos]}: column '{column}': {shown!r}: expected {expected}")

    def raise_if_any(self) -> None:
        if self.total:
            raise InputError(self.lines, total=self.total)


#: The first bytes of the file kinds a user may hand us under any name.
ZIP_MAGIC = b"PK\x03\x04"  # .xlsx (a zip archive)
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls (Excel 97-2003)
PARQUET_MAGIC = b"PAR1"

_DECIMAL_COMMA = re.compile(r"^[+-]?(\d{1,3}(\.\d{3})+|\d+),\d+$")  # 50,1 or 1.234,5
_DOT_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(\.\d{3})+$")  # 1.234 beside decimal commas
_INTEGER = re.compile(r"^[+-]?\d+$")
_FIELDS = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")

log = logging.getLogger("allocator")


class Unreadable(Exception):
    """A file that cannot be read as a table; ``str(exc)`` is the problem line."""


def file_kind(path: Path) -> str:
    """``excel``, ``xls``, ``parquet`` or ``text``, from the file's first bytes, not its name."""
    with path.open("rb") as fh:
        head = fh.read(8)
    if head.startswith(ZIP_MAGIC):
        return "excel"
    if head.startswith(OLE_MAGIC):
        return "xls"
    if head.startswith(PARQUET_MAGIC):
        return "parquet"
    return "text"


def sniff_delimiter(text: str) -> str:
    """The field separator of a CSV text: ``,``, ``;`` or tab, from its first non-blank line.

    German and French Excel write ``;`` (their decimal mark is the comma); a header holds no
    numbers, so the separator that splits it into the most fields wins (``,`` on a tie).
    """
    first = next((line for line in text.splitlines() if line.strip()), "")
    fields = {sep: len(next(csv.reader([first], delimiter=sep))) for sep in (",", ";", "\t")}
    return max(fields, key=lambda sep: (fields[sep], sep == ","))


def decimal_comma_columns(frame: pd.DataFrame) -> list[str]:
    """Columns whose filled cells are all numbers and at least one has a decimal comma."""
    out = []
    for column in frame.columns:
        cells = frame[column].astype(str).str.strip()
        cells = cells[cells != ""]
        comma = cells.str.match(_DECIMAL_COMMA)
        plain = cells.str.match(_INTEGER) | cells.str.match(_DOT_THOUSANDS)
        if len(cells) and comma.any() and (comma | plain).all():
            out.append(str(column))
    return out


def _decimal_points(cells: pd.Series) -> pd.Series:
    """``1.234,5`` -> ``1234.5`` (cells of a column found by :func:`decimal_comma_columns`)."""
    text = cells.astype(str).str.strip()
    fix = text.str.match(_DECIMAL_COMMA) | text.str.match(_DOT_THOUSANDS)
    fixed = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    return cells.where(~fix, fixed)


def _read_csv(path: Path) -> pd.DataFrame:
    # Every cell as text so that ids such as 007 survive; blank lines kept so rows keep their
    # numbers (they are dropped later); utf-8-sig swallows the BOM spreadsheets write. The
    # header is read as a row: pandas would otherwise take a row with one field too many as an
    # index and shift its cells silently, and would rename a repeated column.
    text = path.read_text(encoding="utf-8-sig")
    sep = sniff_delimiter(text)
    try:
        cells = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            header=None,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
        )
    except pd.errors.ParserError as exc:
        found = _FIELDS.search(str(exc))
        if found is None:
            raise
        want, line, saw = found.groups()
        shown = "tab" if sep == "\t" else f"'{sep}'"
        raise Unreadable(
            f"{path}: row {line} has {saw} fields but the header has {want} "
            f"({shown}-separated; a cell that holds {shown} must be in double quotes)"
        ) from None
    frame = cells.iloc[1:].reset_index(drop=True)
    frame.columns = pd.Index([str(c) for c in cells.iloc[0]], dtype=object)
    if sep == ";":
        columns = decimal_comma_columns(frame)
        for column in columns:
            frame[column] = _decimal_points(frame[column])
        comma = f" with decimal commas in {', '.join(columns)}" if columns else ""
        log.info("%s: read as ';'-separated%s (a German/French Excel CSV)", path, comma)
    return frame


def _read_excel(path: Path) -> pd.DataFrame:
    return pd.read_excel(path, sheet_name=0, dtype=object, engine="openpyxl")


_READERS: dict[str, Callable[[Path], pd.DataFrame]] = {
    "text": _read_csv,
    "parquet": pd.read_parquet,
    "excel": _read_excel,
}


def read_cells(path: Path, what: str = "table") -> tuple[pd.DataFrame, str]:
    """The cells of a table file and its kind (``text``, ``excel``, ``parquet``).

    The kind comes from the file's first bytes, so an ``.xlsx`` saved under a ``.csv`` name is
    read as the workbook it is (and a CSV named ``.xlsx`` as CSV). Comma-, semicolon- or
    tab-separated text is told apart by its header; a semicolon file's decimal commas are read
    as decimal points.

    Raises
    ------
    Unreadable
        Empty, not UTF-8, an old ``.xls`` workbook, a broken zip, a row with too many fields,
        or another reader error; the message names the file.
    """
    kind = file_kind(path)
    if kind == "xls":
        raise Unreadable(
            f"{path}: an Excel 97-2003 (.xls) workbook; save it as .xlsx or as CSV UTF-8"
        )
    try:
        frame = _READERS[kind](path)
    except pd.errors.EmptyDataError:
        raise Unreadable(
            f"{path}: the file is empty (expected a header row naming the columns)"
        ) from None
    except UnicodeDecodeError:
        raise Unreadable(f"{path}: not UTF-8 text (save the CSV as UTF-8)") from None
    except zipfile.BadZipFile:
        raise Unreadable(
            f"{path}: not an Excel workbook (expected an .xlsx file saved by Excel)"
        ) from None
    except (ValueError, OSError, KeyError) as exc:
        raise Unreadable(f"{path}: cannot read the {what} ({str(exc).strip()})") from None
    if kind == "excel" and path.suffix.lower() != ".xlsx":
        log.info("%s: an Excel workbook under a %s name; read as Excel", path, path.suffix)
    return frame, kind


def read_table(name: str, path: Path, problems: Problems) -> Raw | None:
    key, suffix = f"data.{name}", path.suffix.lower()
    if suffix not in _SUFFIXES:
        shown = f"'{path.suffix}'" if path.suffix else "none"
        expected = ".csv, .parquet or .xlsx"
        if name == "regions":
            expected = ".csv, .parquet, .xlsx or region polygons (.geojson, .gpkg, .shp)"
        problems.add(f"{key}: {path}: unsupported file type {shown} (expected {expected})")
        return None
    if not path.is_file():
        problems.add(f"{key}: file not found: {path}")
        return None
    try:
        frame, kind = read_cells(path, f"{name} table")
    except Unreadable as exc:
        problems.add(str(exc))
        return None
    label = "index {}" if kind == "parquet" else "row {}"
    offset = 0 if kind == "parquet" else 2  # header is row 1
    rows = tuple(label.format(i + offset) for i in range(len(frame)))
    return Raw(name, frame, str(path), rows)

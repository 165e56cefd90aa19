"""Reading one input table from a file, cells untouched, and collecting problem lines.

:func:`read_table` reads ``.csv`` (every cell as text, so ``007`` stays ``007``), ``.parquet`` or
``.xlsx`` (first sheet) into a :class:`Raw` table that remembers its file and each row's label as a
person sees it (the header is row 1). :class:`Problems` collects one line per problem, for
:mod:`allocator.io.data` to raise as one :class:`~allocator.exceptions.InputError`.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from allocator.exceptions import InputError

__all__ = ["CELL", "Problems", "Raw", "read_table"]

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


def _read_csv(path: Path) -> pd.DataFrame:
    # Every cell as text so that ids such as 007 survive; blank lines kept so rows keep their
    # numbers (they are dropped later); utf-8-sig swallows the BOM spreadsheets write. The
    # header is read as a row: pandas would otherwise take a row with one field too many as an
    # index and shift its cells silently, and would rename a repeated column.
    cells = pd.read_csv(
        path,
        header=None,
        dtype=str,
        keep_default_na=False,
        skip_blank_lines=False,
        encoding="utf-8-sig",
    )
    frame = cells.iloc[1:].reset_index(drop=True)
    frame.columns = pd.Index([str(c) for c in cells.iloc[0]], dtype=object)
    return frame


def _read_excel(path: Path) -> pd.DataFrame:
    return pd.read_excel(path, sheet_name=0, dtype=object, engine="openpyxl")


_READERS: dict[str, Callable[[Path], pd.DataFrame]] = {
    ".csv": _read_csv,
    ".parquet": pd.read_parquet,
    ".xlsx": _read_excel,
}


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
        frame = _READERS[suffix](path)
    except pd.errors.EmptyDataError:
        problems.add(f"{path}: the file is empty (expected a header row naming the columns)")
        return None
    except UnicodeDecodeError:
        problems.add(f"{path}: not UTF-8 text (save the CSV as UTF-8)")
        return None
    except zipfile.BadZipFile:
        problems.add(f"{path}: not an Excel workbook (expected an .xlsx file saved by Excel)")
        return None
    except (ValueError, OSError, KeyError) as exc:
        problems.add(f"{path}: cannot read the {name} table ({str(exc).strip()})")
        return None
    label = "index {}" if suffix == ".parquet" else "row {}"
    offset = 0 if suffix == ".parquet" else 2  # header is row 1
    rows = tuple(label.format(i + offset) for i in range(len(frame)))
    return Raw(name, frame, str(path), rows)

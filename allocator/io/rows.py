"""Reading a user's table row by row, and collecting one problem line per bad cell or row.

:func:`read_rows` reads a CSV, Excel or Parquet file with its cells kept as text and each row
labelled as a spreadsheet numbers it; :class:`RowProblems` turns masks of bad cells into the
project's problem lines (``<where>: row <n>: column '<col>': <value>: expected ...``) and raises
one :class:`~allocator.exceptions.InputError`. Actuals (:mod:`allocator.track.actuals`) and staff
changes (:mod:`allocator.track.changes`) are read this way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from allocator.exceptions import InputError
from allocator.io.readers import Unreadable, read_cells
from allocator.io.tables import blank_cells

__all__ = ["RowProblems", "read_rows"]

MAX_PROBLEMS = 50


def read_rows(path: str | Path) -> tuple[pd.DataFrame, list[str]]:
    """A CSV, Excel or Parquet table's cells (text kept as text) and each row's label.

    Labels are ``row <n>`` as a spreadsheet numbers them (the header is row 1), or ``index <n>``
    for Parquet. Fully blank rows are dropped; the others keep their labels.

    Raises
    ------
    InputError
        When the file is missing, of another type, empty or unreadable.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx", ".parquet"):
        shown = f"'{path.suffix}'" if path.suffix else "none"
        raise InputError(
            [f"{path}: unsupported file type {shown} (expected .csv, .parquet or .xlsx)"]
        )
    if not path.is_file():
        raise InputError([f"{path}: file not found"])
    try:
        frame, kind = read_cells(path)
    except Unreadable as exc:
        raise InputError([str(exc)]) from None
    frame.columns = pd.Index([str(c).strip() for c in frame.columns], dtype=object)
    label, offset = ("index {}", 0) if kind == "parquet" else ("row {}", 2)
    keep = np.ones(len(frame), bool)
    if len(frame.columns):
        keep = ~frame.apply(blank_cells).all(axis=1).to_numpy()
    rows = [label.format(i + offset) for i in np.flatnonzero(keep)]
    return frame[keep].reset_index(drop=True), rows


class RowProblems:
    """Collects one line per bad cell or row of a table: ``<where>: <row>: column ...``."""

    def __init__(self, frame: pd.DataFrame, where: str, rows: list[str]) -> None:
        self.frame, self.where, self.labels = frame, where, rows
        self.problems: list[str] = []

    def cells(self, mask: Any, column: str, expected: str) -> None:
        """``<where>: <row>: column '<column>': <value>: expected <expected>`` where ``mask``."""
        for pos in np.flatnonzero(np.asarray(mask, bool)):
            value = self.frame[column].iloc[pos]
            shown = value.item() if hasattr(value, "item") else value
            self.problems.append(
                f"{self.where}: {self.labels[pos]}: column '{column}': {shown!r}: "
                f"expected {expected}"
            )

    def rows(self, mask: Any, text: str) -> None:
        """``<where>: <row>: <text>`` where ``mask``."""
        for pos in np.flatnonzero(np.asarray(mask, bool)):
            self.problems.append(f"{self.where}: {self.labels[pos]}: {text}")

    def raise_if_any(self) -> None:
        """Raise :class:`InputError` with the first lines and the count of all.

        Raises
        ------
        InputError
            When any problem was found.
        """
        if self.problems:
            raise InputError(self.problems[:MAX_PROBLEMS], total=len(self.problems))

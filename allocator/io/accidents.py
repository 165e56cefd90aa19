"""Cells that look like spreadsheet accidents: ids that lost their leading zeros, amounts a
million times their column's median. Each becomes one problem line naming the file and rows.
"""

from __future__ import annotations

import pandas as pd

from allocator.io.readers import Problems, Raw

__all__ = ["check_outliers", "padding_line", "zero_padded"]


def _positions(mask: pd.Series) -> list[int]:
    return [int(i) for i in mask.to_numpy().nonzero()[0]]


def zero_padded(column: pd.Series, positions: list[int], valid: set[str]) -> dict[int, str]:
    """Position -> the valid id that an unknown id matches once leading zeros are ignored.

    Excel stores a ZIP code or an id such as ``01730`` as the number 1730 unless the column is
    formatted as text; the other table keeps ``01730``. Digits only; an id that matches several
    valid ids is left out.
    """
    by_digits: dict[str, list[str]] = {}
    for target in valid:
        if target.isdigit():
            by_digits.setdefault(target.lstrip("0"), []).append(target)
    out = {}
    for pos in positions:
        value = str(column.iloc[pos])
        match = by_digits.get(value.lstrip("0"), []) if value.isdigit() else []
        if len(match) == 1:
            out[pos] = match[0]
    return out


def padding_line(raw: Raw, column: str, padded: dict[int, str], what: str) -> str:
    """One line for every id of a column that matches only once zero-padded."""
    pairs = sorted({(str(raw.frame[column].iloc[p]), v) for p, v in padded.items()})
    shown = ", ".join(f"{a} for {b}" for a, b in pairs[:4]) + (", ..." if len(pairs) > 4 else "")
    rows = [raw.rows[p] for p in sorted(padded)]
    where = ", ".join(rows[:6]) + (f", ... ({len(rows)} rows)" if len(rows) > 6 else "")
    return (
        f"{raw.where}: column '{column}': {len(rows)} id(s) match the {what} only once "
        f"zero-padded ({shown}; {where}): the leading zeros were lost, as Excel does when a "
        "column of numbers is not formatted as Text; format the column as Text and enter the "
        "ids with their zeros, or save the table as CSV UTF-8 from a text column"
    )


#: Amounts the models add up: a value this many times the column's median is taken for a typo.
OUTLIER_COLUMNS: dict[str, tuple[str, ...]] = {
    "reps": ("capacity",),
    "accounts": ("potential", "workload", "visits"),
    "account_potential": ("potential",),
    "history": ("sales",),
    "commitments": ("amount",),
}
OUTLIER_RATIO = 1e6
OUTLIER_FLOOR = 1e9  # below this nothing is an outlier, whatever the median
MAX_AMOUNT = 1e15  # beyond this a sum in whole units loses its last digits (float64)


def check_outliers(raw: Raw, frame: pd.DataFrame, problems: Problems) -> None:
    """Name the cells whose size would wreck the solver's arithmetic (data, not settings)."""
    for column in OUTLIER_COLUMNS.get(raw.name, ()):
        if column not in frame.columns:
            continue
        values = frame[column].astype(float)
        positive = values[values > 0]
        if positive.empty:
            continue
        median = float(positive.median())
        limit = min(max(OUTLIER_FLOOR, OUTLIER_RATIO * median), MAX_AMOUNT)
        for pos in _positions((values > limit).fillna(False)):
            problems.cell(
                raw,
                pos,
                column,
                f"a number at most {limit:.3g} (the column's median is {median:,.6g}); a value "
                "this far from the others is a typo or a unit error, and it makes the solver's "
                "arithmetic fail: fix the data, not the settings",
            )

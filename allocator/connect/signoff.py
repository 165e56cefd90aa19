"""The sign-off workbook: quotas out to the managers, the reps' commitments back in.

:func:`signoff_sheets` lays out one sheet per manager (the reps table's ``manager_id``; one
sheet ``all reps`` when it has none): one row per rep and product with the plan's yearly quota
and a ``committed`` column, filled in with the quota. A rep who disagrees overwrites it with the
amount they commit to; a row left as it is (or emptied) accepts the quota. :func:`read_commitments`
reads a filled-in workbook back as the ``commitments`` table of the bottom-up reconciliation
(rep_id, product_id, amount), every sheet, and names the sheet and row of each bad cell.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.connect.folder import PlanFolder
from allocator.exceptions import InputError
from allocator.io.files import atomic_write

__all__ = ["COLUMNS", "read_commitments", "signoff_sheets", "write_signoff"]

COLUMNS = ["rep_id", "name", "product_id", "quota", "committed", "comment"]
NO_MANAGER = "all reps"
_SHEET = re.compile(r"[\[\]:*?/\\]")


def _sheet_name(manager: str, taken: set[str]) -> str:
    name = _SHEET.sub("_", manager)[:31] or NO_MANAGER
    base, n = name, 1
    while name in taken:
        n += 1
        name = f"{base[: 31 - len(str(n)) - 1]}_{n}"
    taken.add(name)
    return name


def signoff_sheets(plan: PlanFolder) -> dict[str, pd.DataFrame]:
    """Sheet name -> rows (``COLUMNS``) of every rep with a quota, one sheet per manager.

    Raises
    ------
    InputError
        When the plan has no quotas (``rep_product.csv``).
    """
    if plan.rep_product is None:
        raise InputError(
            [f"{plan.folder}: the plan has no quotas (rep_product.csv): nothing to sign off"]
        )
    rows = plan.rep_product[["rep_id", "product_id", "quota"]].copy()
    reps = plan.reps.set_index("rep_id")
    rows.insert(1, "name", rows["rep_id"].map(reps["name"]) if "name" in reps else "")
    rows["quota"] = rows["quota"].astype("int64")
    rows["committed"] = rows["quota"]
    rows["comment"] = ""
    managers = (
        rows["rep_id"].map(reps["manager_id"]).fillna("").astype(str)
        if "manager_id" in reps
        else pd.Series("", index=rows.index)
    )
    taken: set[str] = set()
    sheets = {}
    for manager, group in rows.groupby(managers.replace("nan", ""), sort=True):
        sheets[_sheet_name(manager or NO_MANAGER, taken)] = group[COLUMNS].reset_index(drop=True)
    return sheets


def write_signoff(sheets: dict[str, pd.DataFrame], path: Path) -> Path:
    """Write the workbook (openpyxl), the ``committed`` column wide enough to type in."""

    def write(tmp: Path) -> None:
        with pd.ExcelWriter(tmp, engine="openpyxl") as xl:
            for name, frame in sheets.items():
                frame.to_excel(xl, sheet_name=name, index=False)
                sheet = xl.sheets[name]
                for letter, width in zip("ABCDEF", (10, 24, 11, 13, 13, 30), strict=True):
                    sheet.column_dimensions[letter].width = width
                sheet.freeze_panes = "A2"

    atomic_write(path, write)
    return path


def read_commitments(path: str | Path, *, reps: set[str], products: set[str]) -> pd.DataFrame:
    """rep_id, product_id, amount from every sheet of a filled-in sign-off workbook.

    An empty ``committed`` cell accepts the quota (the row's ``quota``).

    Raises
    ------
    InputError
        One line per problem: file missing or not a workbook, a sheet without the columns,
        a ``committed`` cell that is not a number >= 0, an unknown rep or product, a rep and
        product given twice; each names the sheet and the row as Excel numbers it.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError([f"{path}: file not found"])
    try:
        book = pd.read_excel(path, sheet_name=None, dtype=object, engine="openpyxl")
    except (zipfile.BadZipFile, ValueError, OSError, KeyError) as exc:
        raise InputError([f"{path}: not an Excel workbook ({str(exc).strip()})"]) from None
    problems: list[str] = []
    parts = []
    for sheet, frame in book.items():
        where = f"{path}: sheet '{sheet}'"
        frame.columns = [str(c).strip() for c in frame.columns]
        missing = [
            c for c in ("rep_id", "product_id", "quota", "committed") if c not in frame.columns
        ]
        if missing:
            problems.append(f"{where}: missing column(s) {', '.join(missing)}")
            continue
        frame = frame.dropna(how="all")
        for pos, row in zip(frame.index, frame.itertuples(index=False), strict=True):
            line = f"{where}: row {pos + 2}"
            rep, product = str(row.rep_id).strip(), str(row.product_id).strip()
            committed = (
                row.committed
                if pd.notna(row.committed) and str(row.committed).strip()
                else row.quota
            )
            amount = pd.to_numeric(pd.Series([committed]), errors="coerce").iloc[0]
            if rep not in reps:
                problems.append(f"{line}: column 'rep_id': {rep!r}: expected a rep of the plan")
            if product not in products:
                problems.append(
                    f"{line}: column 'product_id': {product!r}: expected a product of the plan"
                )
            if not (np.isfinite(amount) and amount >= 0):
                problems.append(
                    f"{line}: column 'committed': {committed!r}: expected a number >= 0"
                )
                continue
            parts.append((rep, product, float(amount), line))
    out = pd.DataFrame(parts, columns=["rep_id", "product_id", "amount", "where"])
    for (rep, product), group in out.groupby(["rep_id", "product_id"]):
        if len(group) > 1:
            problems.append(
                f"{group['where'].iloc[1]}: rep {rep} and product {product} are given twice "
                f"(first on {group['where'].iloc[0]})"
            )
    if problems:
        raise InputError(problems[:50], total=len(problems))
    return out.drop(columns="where")

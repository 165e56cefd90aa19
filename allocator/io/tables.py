"""The input tables as one frozen value, with the columns every model can rely on.

:class:`Tables` holds pandas frames in a normalised shape: ids are strings, optional columns
are filled with their documented defaults, missing optional tables are ``None``. Build one with
:func:`allocator.io.data.load_tables` (files) or :func:`allocator.io.data.make_tables` (frames you
already have); both validate against the contract below (:data:`COLUMNS`,
:data:`OPTIONAL_DEFAULTS`, :data:`KEYS`, :data:`RANGES`, :data:`REFERENCES`). Nothing here modifies
the caller's frames.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd

__all__ = [
    "BOOL_WORDS",
    "CATEGORIES",
    "COLUMNS",
    "DATE_PATTERN",
    "DEFAULT_PRODUCT",
    "KEYS",
    "OPTIONAL_DEFAULTS",
    "OVERLAY",
    "PERIOD_PATTERN",
    "RANGES",
    "REFERENCES",
    "REQUIRED_TABLES",
    "ROLES",
    "TABLE_NAMES",
    "Range",
    "Reference",
    "Tables",
    "blank_cells",
    "convert_cells",
    "default_cells",
    "parse_ids",
    "potential_by_product",
    "typed_cells",
]

#: Required columns of each table, with their kind: "id" (string), "str", "float", "int", "bool",
#: "date" (text ``YYYY-MM-DD``, or a month ``YYYY-MM``; a spreadsheet date becomes ``YYYY-MM-DD``).
COLUMNS: dict[str, dict[str, str]] = {
    "reps": {
        "rep_id": "id",
        "name": "str",
        "lat": "float",
        "lon": "float",
        "region_id": "id",
        "experience": "float",
        "capacity": "float",
    },
    "accounts": {
        "account_id": "id",
        "name": "str",
        "lat": "float",
        "lon": "float",
        "region_id": "id",
        "segment": "str",
        "potential": "float",
        "workload": "float",
    },
    "regions": {"region_id": "id", "name": "str"},
    "adjacency": {"region_a": "id", "region_b": "id"},
    "products": {"product_id": "id", "name": "str", "category": "str", "margin": "float"},
    "history": {"account_id": "id", "product_id": "id", "period": "str", "sales": "float"},
    "account_potential": {"account_id": "id", "product_id": "id", "potential": "float"},
    "commitments": {"rep_id": "id", "product_id": "id", "amount": "float"},
    "leaves": {"rep_id": "id", "from": "date", "to": "date"},
    "account_splits": {"account_id": "id", "rep_id": "id", "share": "float"},
    "managers": {"manager_id": "id", "name": "str"},
}

#: Optional columns: kind and default used when the column is absent or the cell is empty.
OPTIONAL_DEFAULTS: dict[str, dict[str, tuple[str, Any]]] = {
    "reps": {
        "skills": ("str", ""),
        "ramp": ("float", 1.0),
        "active": ("bool", True),
        "start": ("date", ""),
        "end": ("date", ""),
        "ramp_schedule": ("str", ""),
        "manager_id": ("id", ""),
        "role": ("str", ""),
        "covers": ("str", ""),
    },
    "accounts": {
        "incumbent_rep_id": ("id", ""),
        "locked": ("bool", False),
        "required_skills": ("str", ""),
        "visits": ("float", 1.0),
        "active": ("bool", True),
    },
    "regions": {
        "parent_id": ("id", ""),
        "market_potential": ("float", float("nan")),
        "market_share": ("float", float("nan")),
        "growth": ("float", float("nan")),
        "lat": ("float", float("nan")),
        "lon": ("float", float("nan")),
    },
    "adjacency": {"link": ("str", "add")},
    "managers": {"parent_id": ("id", ""), "level": ("str", "")},
}

TABLE_NAMES: tuple[str, ...] = tuple(COLUMNS)

#: ``reps.role`` of a rep who carries quota over other reps' accounts and owns none.
OVERLAY = "overlay"
#: Allowed ``reps.role`` values (blank means ``territory``).
ROLES: tuple[str, ...] = ("", "territory", OVERLAY)

#: The single product used when there is no products table.
DEFAULT_PRODUCT = "ALL"

#: Tables that every scenario needs; the others are optional.
REQUIRED_TABLES: tuple[str, ...] = ("reps", "accounts")

#: Columns whose values must be unique together (duplicate adjacency edges are fine).
KEYS: dict[str, tuple[str, ...]] = {
    "reps": ("rep_id",),
    "accounts": ("account_id",),
    "regions": ("region_id",),
    "products": ("product_id",),
    "account_potential": ("account_id", "product_id"),
    "history": ("account_id", "product_id", "period"),
    "account_splits": ("account_id", "rep_id"),
    "managers": ("manager_id",),
}

#: Allowed values of ``products.category``.
CATEGORIES: tuple[str, ...] = ("attack", "volume", "profit", "image")

#: ``history.period`` is a month, ``YYYY-MM``.
PERIOD_PATTERN = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class Range:
    """Allowed interval of a numeric column; ``None`` leaves a side open.

    ``strict_low`` makes the lower bound exclusive (``capacity > 0``). NaN is not checked here:
    a required number that is missing is reported as such, an optional NaN means "unknown".
    """

    low: float | None = None
    high: float | None = None
    strict_low: bool = False

    def bad(self, values: pd.Series) -> pd.Series:
        """Boolean mask of the values outside the range (NaN is never outside)."""
        out = pd.Series(False, index=values.index)
        if self.low is not None:
            out |= values <= self.low if self.strict_low else values < self.low
        if self.high is not None:
            out |= values > self.high
        return out

    def describe(self) -> str:
        """``"a number > 0"``, ``"a number in [0, 1]"``, ``"a number >= 0"``."""
        if self.low is not None and self.high is not None:
            return f"a number in [{self.low:g}, {self.high:g}]"
        if self.low is not None:
            return f"a number {'>' if self.strict_low else '>='} {self.low:g}"
        return f"a number <= {self.high:g}"


_LAT, _LON, _NONNEG, _SHARE = Range(-90, 90), Range(-180, 180), Range(0), Range(0, 1)

#: Allowed ranges of numeric columns (required and optional).
RANGES: dict[str, dict[str, Range]] = {
    "reps": {
        "lat": _LAT,
        "lon": _LON,
        "experience": _NONNEG,
        "capacity": Range(0, strict_low=True),
        "ramp": _SHARE,
    },
    "accounts": {
        "lat": _LAT,
        "lon": _LON,
        "potential": _NONNEG,
        "workload": _NONNEG,
        "visits": _NONNEG,
    },
    "regions": {"market_potential": _NONNEG, "market_share": _SHARE, "lat": _LAT, "lon": _LON},
    "products": {"margin": _SHARE},
    "account_potential": {"potential": _NONNEG},
    "commitments": {"amount": _NONNEG},
    "account_splits": {"share": Range(0, 1, strict_low=True)},
}


@dataclass(frozen=True)
class Reference:
    """``table.column`` must hold ids of ``target.target_column`` (checked when both are given).

    ``many`` marks a ``;``-separated id list (``skills``); empty values are never checked.
    """

    table: str
    column: str
    target: str
    target_column: str
    many: bool = False


#: Every reference between tables.
REFERENCES: tuple[Reference, ...] = (
    Reference("reps", "region_id", "regions", "region_id"),
    Reference("reps", "skills", "products", "product_id", many=True),
    Reference("accounts", "region_id", "regions", "region_id"),
    Reference("accounts", "incumbent_rep_id", "reps", "rep_id"),
    Reference("accounts", "required_skills", "products", "product_id", many=True),
    Reference("regions", "parent_id", "regions", "region_id"),
    Reference("adjacency", "region_a", "regions", "region_id"),
    Reference("adjacency", "region_b", "regions", "region_id"),
    Reference("history", "account_id", "accounts", "account_id"),
    Reference("history", "product_id", "products", "product_id"),
    Reference("account_potential", "account_id", "accounts", "account_id"),
    Reference("account_potential", "product_id", "products", "product_id"),
    Reference("commitments", "rep_id", "reps", "rep_id"),
    Reference("commitments", "product_id", "products", "product_id"),
    Reference("leaves", "rep_id", "reps", "rep_id"),
    Reference("account_splits", "account_id", "accounts", "account_id"),
    Reference("account_splits", "rep_id", "reps", "rep_id"),
    Reference("reps", "manager_id", "managers", "manager_id"),
    Reference("managers", "parent_id", "managers", "manager_id"),
)


@dataclass(frozen=True)
class Tables:
    """The validated input tables of one scenario (``None`` for an absent optional table).

    ``sources`` maps a table name to the file it came from, for messages and the manifest;
    ``origins`` maps a table read from a database to its ``url`` (password hidden), ``table`` or
    ``query``, and ``rows_sha256`` (the hash of the rows read), for the manifest.
    ``shapes``: the region polygons when ``data.regions`` is a polygon file, else ``None``: a
    ``geopandas.GeoDataFrame`` indexed by ``region_id`` (str), one row per region, column
    ``geometry`` (Polygon/MultiPolygon, EPSG:4326 lon/lat degrees). ``adjacency`` is then the
    region graph's links: those the polygons give plus the table's ``add`` rows, minus its
    ``remove`` rows (column ``source``: ``polygons`` or ``table``).
    """

    reps: pd.DataFrame
    accounts: pd.DataFrame
    regions: pd.DataFrame | None = None
    adjacency: pd.DataFrame | None = None
    products: pd.DataFrame | None = None
    history: pd.DataFrame | None = None
    account_potential: pd.DataFrame | None = None
    commitments: pd.DataFrame | None = None
    shapes: Any = None  # geopandas.GeoDataFrame (geopandas is imported only when used)
    leaves: pd.DataFrame | None = None
    account_splits: pd.DataFrame | None = None
    managers: pd.DataFrame | None = None
    sources: Mapping[str, str] = field(default_factory=dict)
    origins: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def replace(self, **changes: Any) -> Tables:
        """Return a copy with some tables replaced (not re-validated)."""
        return Tables(**{**self.__dict__, **changes})

    @property
    def active_reps(self) -> pd.DataFrame:
        """Active reps who hold territory (overlay reps are apart: :attr:`overlay_reps`)."""
        reps = self.reps
        if "role" not in reps.columns:
            return reps[reps["active"]]
        return reps[reps["active"] & (reps["role"].str.lower() != OVERLAY)]

    @property
    def overlay_reps(self) -> pd.DataFrame:
        """Active reps with ``role: overlay``: quota over other reps' accounts, no territory."""
        reps = self.reps
        if "role" not in reps.columns:
            return reps.iloc[:0]
        return reps[reps["active"] & (reps["role"].str.lower() == OVERLAY)]

    @property
    def active_accounts(self) -> pd.DataFrame:
        return self.accounts[self.accounts["active"]]

    @property
    def product_ids(self) -> list[str]:
        if self.products is None:
            return [DEFAULT_PRODUCT]
        return list(self.products["product_id"])

    def summary(self) -> str:
        parts = [f"{len(self.reps)} reps", f"{len(self.accounts)} accounts"]
        for name in ("regions", "products", "history"):
            frame = getattr(self, name)
            if frame is not None:
                parts.append(
                    f"{len(frame)} {name} rows" if name == "history" else f"{len(frame)} {name}"
                )
        return ", ".join(parts)


def parse_ids(value: object) -> frozenset[str]:
    """Split a ``;``-separated id list (``"P1; P2"``) into a set; empty for blank or NaN."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return frozenset()
    return frozenset(p.strip() for p in str(value).split(";") if p.strip())


def potential_by_product(tables: Tables) -> pd.DataFrame:
    """Potential per account and product: a frame indexed by account_id, one column per product.

    From ``account_potential`` when given (missing pairs are 0); with no products table, one
    column ``ALL`` holding ``accounts.potential``; with products but no breakdown, each
    account's potential split across products by the product shares of history, else evenly.
    """
    accounts = tables.accounts["account_id"]
    products = tables.product_ids
    if tables.account_potential is not None:
        wide = tables.account_potential.pivot_table(
            index="account_id", columns="product_id", values="potential", aggfunc="sum"
        )
        return wide.reindex(index=accounts, columns=products, fill_value=0.0).fillna(0.0)
    total = tables.accounts.set_index("account_id")["potential"]
    if tables.products is None:
        return pd.DataFrame({DEFAULT_PRODUCT: total})
    if tables.history is not None and tables.history["sales"].sum() > 0:
        shares = tables.history.groupby("product_id")["sales"].sum().reindex(products, fill_value=0)
        shares = shares / shares.sum()
    else:
        shares = pd.Series(1.0 / len(products), index=products)
    return pd.DataFrame({p: total * shares[p] for p in products})


# ---------------------------------------------------------------- cell kinds
# What each kind of COLUMNS means for a cell, whatever the source (CSV text, Excel objects,
# parquet dtypes, a caller's frame). The data layer reports the cells these functions reject.

#: Spellings of a boolean cell (compared lower-case, stripped).
BOOL_WORDS: dict[str, bool] = {
    "true": True,
    "yes": True,
    "1": True,
    "false": False,
    "no": False,
    "0": False,
}


def blank_cells(cells: pd.Series) -> pd.Series:
    """Mask of empty cells: NaN, None or text that is only spaces."""
    if pd.api.types.is_numeric_dtype(cells) or pd.api.types.is_bool_dtype(cells):
        return cells.isna()  # no text to strip: skip the costly conversion
    return cells.isna() | (cells.astype(str).str.strip() == "")


def _to_text(value: Any) -> str:
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # an id a spreadsheet stored as a number: 12.0 -> "12"
    if isinstance(value, date):
        return value.strftime("%Y-%m")  # a spreadsheet turned a period into a date
    return str(value).strip()


def _to_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    return BOOL_WORDS.get(str(value).strip().lower())


#: A ``date`` cell: a day ``YYYY-MM-DD`` or a month ``YYYY-MM``.
DATE_PATTERN = re.compile(r"^\d{4}-(0[1-9]|1[0-2])(-\d{2})?$")


def _to_date(value: Any) -> str | None:
    """A date cell as ``YYYY-MM-DD`` or ``YYYY-MM`` text; None when it is not a date."""
    if isinstance(value, date):  # datetime and pandas Timestamp are dates too
        return value.strftime("%Y-%m-%d")
    text = _to_text(value)
    if not DATE_PATTERN.match(text):
        return None
    try:
        pd.Timestamp(text if len(text) > 7 else f"{text}-01")
    except ValueError:
        return None
    return text


def _python(cells: pd.Series) -> pd.Series:
    """Cells as python scalars (numpy floats and bools become float and bool)."""
    return pd.Series(cells.to_numpy(dtype=object).tolist(), index=cells.index, dtype=object)


def convert_cells(cells: pd.Series, kind: str) -> tuple[pd.Series, pd.Series]:
    """Parse cells of a ``kind``; return ``(values, bad)``: values and the unusable-cell mask.

    Blank cells are never bad (the caller decides between a default and a problem); bad and
    blank cells hold NaN or None in ``values``. Numbers must be finite.
    """
    blank = blank_cells(cells)
    if kind in ("float", "int"):
        if pd.api.types.is_numeric_dtype(cells) and not pd.api.types.is_bool_dtype(cells):
            values = cells.astype("float64")
        else:
            text = cells.astype(str).str.strip().mask(blank, "nan")
            values = pd.to_numeric(text, errors="coerce").astype("float64")
        bad = ~blank & ~values.map(math.isfinite).astype(bool)
        if kind == "int":
            bad |= ~blank & ~bad & (values % 1 != 0)
        return values.mask(bad), bad
    if kind == "bool":
        mapped = _python(cells).map(_to_bool)
        return mapped, ~blank & mapped.isna()
    if kind == "date":
        dates = _python(cells).map(_to_date)
        return dates.mask(blank, ""), ~blank & dates.isna()
    text_dtype = pd.api.types.is_string_dtype(cells)
    texts = cells.str.strip() if text_dtype else _python(cells).map(_to_text)
    return texts.mask(blank, ""), pd.Series(False, index=cells.index)


def typed_cells(values: pd.Series, kind: str) -> pd.Series:
    """Cast parsed values to the dtype of ``kind`` (float64, int64, bool or str)."""
    if kind in ("float", "int"):
        out = values.astype("float64")
        return out.astype("int64") if kind == "int" and out.notna().all() else out
    if kind == "bool":
        return values.astype(bool)
    return values.astype(str)  # id, str and date are text


def default_cells(kind: str, default: Any, n: int) -> pd.Series:
    """A column of ``n`` default values of ``kind``, for an optional column that is absent."""
    return typed_cells(pd.Series([default] * n, index=pd.RangeIndex(n), dtype=object), kind)

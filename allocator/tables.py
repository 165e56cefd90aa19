"""The input tables as one frozen value, with the columns every model can rely on.

:class:`Tables` holds pandas frames in a normalised shape: ids are strings, optional columns
are filled with their documented defaults, missing optional tables are ``None``. Build one with
:func:`allocator.data.load_tables` (files) or :func:`make_tables` (frames you already have);
both validate. Nothing here modifies the caller's frames.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["COLUMNS", "OPTIONAL_DEFAULTS", "TABLE_NAMES", "Tables", "parse_ids", "potential_by_product"]

#: Required columns of each table, with their kind: "id" (string), "str", "float", "int", "bool".
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
}

#: Optional columns: kind and default used when the column is absent or the cell is empty.
OPTIONAL_DEFAULTS: dict[str, dict[str, tuple[str, Any]]] = {
    "reps": {"skills": ("str", ""), "ramp": ("float", 1.0), "active": ("bool", True)},
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
    },
}

TABLE_NAMES: tuple[str, ...] = tuple(COLUMNS)

#: The single product used when there is no products table.
DEFAULT_PRODUCT = "ALL"


@dataclass(frozen=True)
class Tables:
    """The validated input tables of one scenario (``None`` for an absent optional table).

    ``sources`` maps a table name to the file it came from, for messages and the manifest.
    """

    reps: pd.DataFrame
    accounts: pd.DataFrame
    regions: pd.DataFrame | None = None
    adjacency: pd.DataFrame | None = None
    products: pd.DataFrame | None = None
    history: pd.DataFrame | None = None
    account_potential: pd.DataFrame | None = None
    commitments: pd.DataFrame | None = None
    sources: Mapping[str, str] = field(default_factory=dict)

    def replace(self, **changes: Any) -> Tables:
        """Return a copy with some tables replaced (not re-validated)."""
        return Tables(**{**self.__dict__, **changes})

    @property
    def active_reps(self) -> pd.DataFrame:
        return self.reps[self.reps["active"]]

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
                parts.append(f"{len(frame)} {name} rows" if name == "history" else f"{len(frame)} {name}")
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

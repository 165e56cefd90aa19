"""A synthetic but plausible sales organisation, and the demo dataset shipped with allocator.

:func:`generate_company` builds every input table from one seed (numpy ``default_rng`` only, so
the same arguments give identical tables and byte-identical CSVs); :func:`write_company` writes
them with a ``scenario.yaml`` that uses them. ``python -m allocator.demo --demo`` rewrites
the shipped demo in ``allocator/demo`` (2,000 accounts, 40 reps, 30 regions, 4 products, seed 0).
The parts live beside this module: the country's geometry and names in
:mod:`allocator.demo.country`, the reps and incumbents in :mod:`allocator.demo.team`, the
files and the demo in :mod:`allocator.demo.files` (their public names are re-exported here).

The numbers (constants below), and why:

- Geography: a country-sized box, latitude 47-55, longitude 6-15, projected to km around
  latitude 51 (equirectangular, 111.2 km per degree, :func:`project_km`); every "nearest" below
  is measured in that plane. Region seeds are spread by best-candidate sampling (no sliver
  cells); a region is the Voronoi cell of its seed (accounts and reps belong to the region of
  their nearest seed) and two regions are adjacent when their seeds share a Delaunay edge, so
  the region graph is planar and connected. Regions carry their seed's ``lat``/``lon``.
- Cities: ``regions // 2`` cities with Zipf weights (1/rank). 80% of accounts scatter around a
  city drawn by weight (normal, sigma 30 km for the biggest city, about 19 km for the 15th),
  20% are rural, uniform in the box.
- Products: ids P1.., categories cycle attack/volume/profit/image, margins 0.45/0.20/0.35/0.50.
  An account buys a line with probability 0.60/0.95/0.70/0.45 (at least one line).
- Potential per account and product, whole currency: a lognormal size (median 40,000 a year,
  sigma 0.9) x category weight 0.25/0.30/0.25/0.20 x lognormal noise (sigma 0.4). The demo's
  potential splits about 21/41/25/13% over the categories, inside the demo's mix bands.
  ``accounts.potential`` is exactly the row sum of ``account_potential``.
- Segments by potential rank: A the top 10%, B the next 30%, C the rest. Visits per year (the
  ``visits`` column; a period is the planning year) 48/24/12, hours per visit 1.5/1.25/1.0,
  x uniform 0.8-1.2 per account; then all workloads are scaled so that total workload is 80%
  of total capacity (the factor is about 0.98 at the default size), rounded to 0.1 hour.
  5% of accounts require the skill of one product they buy.
- Reps: cities get reps in proportion to the workload of the accounts nearest them (largest
  remainder), home bases scatter 10 km around the city; capacity 1,600 hours x uniform
  0.8-1.0; 10% are new hires (experience 0-1 years, ``ramp`` 0.5), the others have 2-20 years;
  20% of reps lack one product skill; all are active.
- Organisation (:mod:`allocator.demo.organisation`, no random numbers): districts of about 8
  reps under two regions, one new hire starting in the plan's 4th month on a 25/50/75/100 ramp,
  a two-week leave, and one account split 60/40.
- Incumbents: 10% of accounts are prospects without one. The others, in random order, go to the
  first of their 6 nearest eligible reps (experience >= 3 for an A account, required skill)
  with room left under 85% of its ramp-weighted capacity, else to the nearest of the 6. So
  incumbents are always eligible and roughly respect capacity, but the current territories are
  unbalanced (potential from about 0.3 to 1.4 of the fair share in the demo). 3% of the served
  accounts are ``locked``.
- History: the 36 months before ``start``, for each served account and each line it buys: a
  level of 30-60% (per account) of the potential, yearly growth 3-6%, seasonality (a July and
  August dip to about 0.8, a December peak about 1.3, mean 1), 8% noise, whole currency. The
  last 12 months sum to about 40% of the total potential.
- Regions: ``market_potential`` is their accounts' potential x 1.3-1.8 (rounded to 1,000),
  ``market_share`` the last 12 months' sales over it, ``growth`` 2-6%.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from allocator.demo.country import (
    LEGAL,
    SURNAMES,
    box_km,
    clip_to_box,
    delaunay_edges,
    make_ids,
    nearest,
    project_km,
    rounded_points,
    spread_points,
    to_degrees,
    town_names,
    uniform_points,
)
from allocator.demo.organisation import organise
from allocator.demo.team import UTILIZATION, make_reps, serve_accounts
from allocator.exceptions import InputError
from allocator.io.data import make_tables
from allocator.io.tables import COLUMNS, OPTIONAL_DEFAULTS, Tables

__all__ = [
    "delaunay_edges",
    "generate_company",
    "last_twelve_months",
    "project_km",
    "to_degrees",
]

log = logging.getLogger("allocator")

CATEGORIES = ("attack", "volume", "profit", "image")
MARGINS = {"attack": 0.45, "volume": 0.20, "profit": 0.35, "image": 0.50}
PRESENCE = {"attack": 0.60, "volume": 0.95, "profit": 0.70, "image": 0.45}
WEIGHTS = {"attack": 0.25, "volume": 0.30, "profit": 0.25, "image": 0.20}
PRODUCT_NAMES = {"attack": "Nova", "volume": "Core", "profit": "Prime", "image": "Signature"}
SEGMENTS = (("A", 0.10, 48, 1.5), ("B", 0.30, 24, 1.25), ("C", 0.60, 12, 1.0))
#: Monthly seasonality, January to December (mean 1).
SEASON = np.array([0.9, 0.95, 1.05, 1.0, 1.0, 0.95, 0.8, 0.8, 1.05, 1.1, 1.1, 1.3])
SEASON = SEASON / SEASON.mean()


# ------------------------------------------------------------------ the tables


def _products(n: int) -> pd.DataFrame:
    cats = [CATEGORIES[i % len(CATEGORIES)] for i in range(n)]
    names = [
        PRODUCT_NAMES[c] + (f" {i // len(CATEGORIES) + 1}" if i >= 4 else "")
        for i, c in enumerate(cats)
    ]
    return pd.DataFrame(
        {
            "product_id": [f"P{i + 1}" for i in range(n)],
            "name": names,
            "category": cats,
            "margin": [MARGINS[c] for c in cats],
        }
    )


def _potentials(rng: np.random.Generator, n: int, categories: Sequence[str]) -> np.ndarray:
    """Whole-currency potential per account (rows) and product (columns); every row > 0."""
    size = rng.lognormal(np.log(40_000.0), 0.9, size=n)
    weight = np.array([WEIGHTS[c] for c in categories]) / sum(WEIGHTS[c] for c in CATEGORIES)
    present = rng.uniform(size=(n, len(categories))) < np.array([PRESENCE[c] for c in categories])
    noise = rng.lognormal(0.0, 0.4, size=(n, len(categories)))
    share = weight * noise
    none = ~present.any(axis=1)
    present[none, np.argmax(share[none], axis=1)] = True
    return np.maximum(np.round(size[:, None] * share * present), present.astype(float))


def _segments(potential: np.ndarray) -> np.ndarray:
    """A/B/C by potential rank (ties broken by account order)."""
    order = np.argsort(-potential, kind="stable")
    segment = np.empty(len(potential), dtype=object)
    start = 0
    for i, (name, share, _, _) in enumerate(SEGMENTS):
        stop = len(order) if i == len(SEGMENTS) - 1 else start + round(share * len(order))
        segment[order[start:stop]] = name
        start = stop
    return segment


def _base_workload(rng: np.random.Generator, segment: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Visits per year and unscaled hours per year of each account."""
    visits = np.array([{s[0]: s[2] for s in SEGMENTS}[g] for g in segment], dtype=float)
    hours = np.array([{s[0]: s[3] for s in SEGMENTS}[g] for g in segment])
    return visits, visits * hours * rng.uniform(0.8, 1.2, size=len(segment))


def _history(
    rng: np.random.Generator,
    potential: np.ndarray,
    served: np.ndarray,
    account_ids: list[str],
    products: pd.DataFrame,
    start: pd.Period,
) -> pd.DataFrame:
    """Monthly sales of the 36 months before ``start``, for served accounts and bought products."""
    months = pd.period_range(end=start - 1, periods=36, freq="M")
    rows, cols = np.nonzero((potential > 0) & served[:, None])
    share = rng.uniform(0.3, 0.6, size=len(served))[rows]
    growth = rng.uniform(0.03, 0.06, size=len(served))[rows]
    trend = (1.0 + growth[:, None]) ** ((np.arange(36) - 29.5) / 12.0)
    noise = np.clip(1.0 + 0.08 * rng.normal(size=(len(rows), 36)), 0.0, None)
    level = share * potential[rows, cols] / 12.0
    sales = np.round(level[:, None] * trend * SEASON[months.month - 1] * noise)
    return pd.DataFrame(
        {
            "account_id": np.repeat(np.array(account_ids)[rows], 36),
            "product_id": np.repeat(products["product_id"].to_numpy()[cols], 36),
            "period": np.tile(months.strftime("%Y-%m"), len(rows)),
            "sales": sales.ravel(),
        }
    )


def _accounts(
    rng: np.random.Generator,
    n: int,
    city_xy: np.ndarray,
    city_w: np.ndarray,
    categories: Sequence[str],
) -> tuple[pd.DataFrame, np.ndarray]:
    """Accounts with location, segment, visits and unscaled workload; and their potential matrix."""
    rural = rng.uniform(size=n) < 0.2
    city = rng.choice(len(city_xy), size=n, p=city_w / city_w.sum())
    sigma = 15.0 + 15.0 * np.sqrt(city_w / city_w.max())
    xy = city_xy[city] + rng.normal(size=(n, 2)) * sigma[city][:, None]
    xy[rural] = uniform_points(rng, int(rural.sum()))
    lat, lon = to_degrees(clip_to_box(xy))
    potential = _potentials(rng, n, categories)
    segment = _segments(potential.sum(axis=1))
    visits, workload = _base_workload(rng, segment)
    surname, legal = rng.choice(SURNAMES, size=n), rng.choice(LEGAL, size=n)
    frame = pd.DataFrame(
        {
            "account_id": make_ids("A", n, 4),
            "name": [
                f"{s} {g} {i + 1:04d}" for i, (s, g) in enumerate(zip(surname, legal, strict=True))
            ],
            "lat": lat,
            "lon": lon,
            "segment": segment.astype(str),
            "potential": potential.sum(axis=1),
            "workload": workload,
            "visits": visits,
        }
    )
    return frame, potential


def _regions(
    rng: np.random.Generator,
    seeds: np.ndarray,
    names: list[str],
    accounts: pd.DataFrame,
    history: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Regions (seed location, market figures) and their Delaunay adjacency."""
    ids = make_ids("G", len(seeds), 2)
    lat, lon = to_degrees(seeds)
    recent = last_twelve_months(history).merge(accounts[["account_id", "region_id"]])
    sales = recent.groupby("region_id")["sales"].sum().reindex(ids, fill_value=0.0).to_numpy()
    known = accounts.groupby("region_id")["potential"].sum().reindex(ids, fill_value=0.0).to_numpy()
    market = np.round(known * rng.uniform(1.3, 1.8, size=len(ids)), -3)
    share = np.round(np.divide(sales, market, out=np.zeros(len(ids)), where=market > 0), 4)
    regions = pd.DataFrame(
        {
            "region_id": ids,
            "name": [f"Kreis {t}" for t in names],
            "lat": lat,
            "lon": lon,
            "market_potential": market,
            "market_share": share,
            "growth": np.round(rng.uniform(0.02, 0.06, size=len(ids)), 3),
        }
    )
    edges = delaunay_edges(seeds)
    adjacency = pd.DataFrame(
        {"region_a": [ids[i] for i, _ in edges], "region_b": [ids[j] for _, j in edges]}
    )
    return regions, adjacency


def last_twelve_months(history: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``history`` in its 12 latest periods."""
    periods = sorted(history["period"].unique())[-12:]
    return history[history["period"].isin(periods)]


def _check(accounts: int, reps: int, regions: int, products: int, start: str) -> pd.Period:
    problems = [
        f"{name} must be an integer >= 1, got {value!r}"
        for name, value in (
            ("accounts", accounts),
            ("reps", reps),
            ("regions", regions),
            ("products", products),
        )
        if not isinstance(value, int) or value < 1
    ]
    try:
        period = pd.Period(start, freq="M")
    except (ValueError, TypeError):
        problems.append(f"start must be a month YYYY-MM, got {start!r}")
    if problems or start != period.strftime("%Y-%m"):
        raise InputError(problems or [f"start must be a month YYYY-MM, got {start!r}"])
    return period


def generate_company(
    *,
    accounts: int = 2000,
    reps: int = 40,
    regions: int = 30,
    products: int = 4,
    seed: int = 0,
    start: str = "2027-01",
) -> Tables:
    """Generate a plausible sales organisation (the numbers are in the module docstring).

    Parameters
    ----------
    accounts, reps, regions, products
        Table sizes.
    seed
        Seed of numpy's ``default_rng``: the same arguments give identical tables.
    start
        First month (``YYYY-MM``) of the planning year; history covers the 36 months before it.

    Returns
    -------
    Tables
        Validated tables: reps, accounts, regions, adjacency, products, history, account_potential,
        and the organisation (:mod:`allocator.demo.organisation`): managers, leaves, account_splits.

    Raises
    ------
    InputError
        When a size is not a positive integer or ``start`` is not a ``YYYY-MM`` month.
    """
    first = _check(accounts, reps, regions, products, start)
    rng = np.random.default_rng(seed)
    seeds = rounded_points(spread_points(rng, regions))
    city_w = 1.0 / np.arange(1, max(1, regions // 2) + 1)
    city_xy = rng.uniform(0.05, 0.95, size=(len(city_w), 2)) * box_km()
    names = town_names(rng, len(city_w) + regions)
    product = _products(products)
    acc, potential = _accounts(rng, accounts, city_xy, city_w, list(product["category"]))
    rep = make_reps(rng, reps, city_xy, acc, list(product["product_id"]))
    scale = UTILIZATION * rep["capacity"].sum() / acc["workload"].sum()
    acc["workload"] = np.round(acc["workload"] * scale, 1)
    region_ids = np.array(make_ids("G", regions, 2))
    acc["region_id"] = region_ids[nearest(seeds, project_km(acc["lat"], acc["lon"]))]
    rep["region_id"] = region_ids[nearest(seeds, project_km(rep["lat"], rep["lon"]))]
    acc = serve_accounts(rng, acc, rep, potential, list(product["product_id"]))
    served = (acc["incumbent_rep_id"] != "").to_numpy()
    history = _history(rng, potential, served, list(acc["account_id"]), product, first)
    region, adjacency = _regions(rng, seeds, names[len(city_w) :], acc, history)
    log.debug("generated %d accounts, %d reps, %d regions (seed %d)", accounts, reps, regions, seed)
    org = organise(rep, acc, first)
    return make_tables(
        reps=_ordered("reps", org.reps),
        accounts=_ordered("accounts", acc),
        regions=_ordered("regions", region),
        adjacency=adjacency,
        products=product,
        history=history,
        account_potential=_long_potential(potential, acc, product),
        leaves=org.leaves,
        account_splits=org.account_splits,
        managers=org.managers,
    )


def _long_potential(
    potential: np.ndarray, accounts: pd.DataFrame, products: pd.DataFrame
) -> pd.DataFrame:
    rows, cols = np.nonzero(potential > 0)
    return pd.DataFrame(
        {
            "account_id": accounts["account_id"].to_numpy()[rows],
            "product_id": products["product_id"].to_numpy()[cols],
            "potential": potential[rows, cols],
        }
    )


def _ordered(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Columns in contract order: required, optional, then extras (as the CSVs show them)."""
    first = [c for c in (*COLUMNS[name], *OPTIONAL_DEFAULTS.get(name, {})) if c in frame]
    return frame[[*first, *(c for c in frame.columns if c not in first)]]

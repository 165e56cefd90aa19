"""The data layer: input tables from files or frames, checked against the contract, as one value.

:func:`load_tables` reads the files a scenario's ``data:`` block names (``.csv``, ``.parquet`` or
``.xlsx``, first sheet); :func:`make_tables` takes frames you already have. Both normalise (ids
are strings, ``007`` stays ``007``; optional columns and empty cells get their documented
defaults; booleans accept true/false/yes/no/1/0), check everything in :mod:`allocator.io.tables`
(columns, types, unique ids, references between tables, ranges) and raise ONE
:class:`~allocator.exceptions.InputError` listing every problem, one line each::

    <file>: row <n>: column '<col>': <value>: expected <what>

``row n`` is the row a person sees in a spreadsheet: the header is row 1, the first data row 2.
A parquet file has no visible rows, so its rows read ``index <i>`` (0-based position), as do
frames given to :func:`make_tables`, whose ``<file>`` is ``<table> table`` and whose ``<i>`` is
the frame's own index label. Files and caller frames are never modified. The summary that
``allocator validate`` prints is :mod:`allocator.io.summary` (re-exported here).
"""

from __future__ import annotations

import difflib
import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from allocator.exceptions import ScenarioError
from allocator.geography.adjacency import LINK_WORDS
from allocator.geography.shapes import is_polygon_file
from allocator.io.polygons import fill_points, read_polygons, with_links
from allocator.io.readers import Problems, Raw, read_table
from allocator.io.scenario import Scenario
from allocator.io.settings import DataPaths, GeographySettings
from allocator.io.summary import describe, format_description
from allocator.io.tables import (
    CATEGORIES,
    COLUMNS,
    KEYS,
    OPTIONAL_DEFAULTS,
    PERIOD_PATTERN,
    RANGES,
    REFERENCES,
    REQUIRED_TABLES,
    TABLE_NAMES,
    Tables,
    blank_cells,
    convert_cells,
    default_cells,
    parse_ids,
    typed_cells,
)

__all__ = ["describe", "format_description", "load_inputs", "load_tables", "make_tables"]

log = logging.getLogger("allocator")

_REQUIRED = object()  # marks a required column: a blank cell is a problem, not a default
_EXPECTED = {
    "float": "a number",
    "int": "a whole number",
    "bool": "true or false (also yes/no, 1/0)",
    "id": "an id",
    "str": "text",
}
#: What an unusable cell of a required column becomes (only until the problems are raised).
_FALLBACK: dict[str, Any] = {"float": math.nan, "int": math.nan, "bool": False, "id": "", "str": ""}
_TYPO_CUTOFF = 0.8  # difflib ratio above which an unknown column is taken for a misspelling


def _positions(mask: pd.Series) -> list[int]:
    """Positions (0-based) where ``mask`` is true."""
    return [int(i) for i in mask.to_numpy().nonzero()[0]]


def _tidy(raw: Raw, problems: Problems) -> Raw:
    """Strip column names, drop repeated columns and fully empty rows (rows keep their labels)."""
    frame = raw.frame.copy()  # never touch the caller's frame
    frame.columns = pd.Index([str(c).strip() for c in frame.columns], dtype=object)
    repeated = frame.columns.duplicated()
    for column in frame.columns[repeated].unique():
        problems.add(f"{raw.where}: column '{column}' appears more than once (the first is used)")
    frame = frame.loc[:, ~repeated]
    if len(frame.columns) == 1 and ";" in frame.columns[0]:
        problems.add(
            f"{raw.where}: columns look separated by ';' (expected a comma-separated file)"
        )
    if not len(frame.columns):
        return Raw(raw.name, frame, raw.where, raw.rows)
    keep = ~frame.apply(blank_cells).all(axis=1).to_numpy()
    rows = tuple(r for r, k in zip(raw.rows, keep, strict=False) if k)
    return Raw(raw.name, frame[keep].reset_index(drop=True), raw.where, rows)


# ---------------------------------------------------------------- cells


def _parse(raw: Raw, column: str, kind: str, default: Any, problems: Problems) -> pd.Series:
    values, bad = convert_cells(raw.frame[column], kind)
    blank = blank_cells(raw.frame[column])
    for pos in _positions(bad):
        problems.cell(raw, pos, column, _EXPECTED[kind])
    if default is _REQUIRED:
        if kind != "str":  # an empty name or segment is harmless; periods are checked apart
            for pos in _positions(blank & ~bad):
                problems.cell(raw, pos, column, f"{_EXPECTED[kind]} (the cell is empty)")
        default = _FALLBACK[kind]
    return typed_cells(values.mask(blank | bad, default), kind)


# ---------------------------------------------------------------- one table


def _check_columns(raw: Raw, problems: Problems) -> None:
    required = COLUMNS[raw.name]
    known = [*required, *OPTIONAL_DEFAULTS.get(raw.name, {})]
    absent = [c for c in known if c not in raw.frame.columns]
    typos: dict[str, str] = {}
    for column in raw.frame.columns:
        if column in known:
            continue
        close = difflib.get_close_matches(column.lower(), absent, n=1, cutoff=_TYPO_CUTOFF)
        if close and close[0] not in typos:
            typos[close[0]] = column
    for column in absent:
        typo = typos.get(column)
        need = "required column" if column in required else "optional column"
        if typo is not None:
            problems.add(
                f"{raw.where}: column '{typo}': unknown column, did you mean '{column}'? "
                f"(the {need} '{column}' is missing)"
            )
        elif column in required:
            problems.add(f"{raw.where}: missing required column '{column}'")


def _normalise(raw: Raw, problems: Problems) -> pd.DataFrame:
    _check_columns(raw, problems)
    if raw.frame.empty:
        problems.add(f"{raw.where}: the table has no rows (expected at least one)")
    frame = raw.frame.copy()
    for column, kind in COLUMNS[raw.name].items():
        if column in frame.columns:
            frame[column] = _parse(raw, column, kind, _REQUIRED, problems)
    for column, (kind, default) in OPTIONAL_DEFAULTS.get(raw.name, {}).items():
        if column in frame.columns:
            frame[column] = _parse(raw, column, kind, default, problems)
        else:
            frame[column] = default_cells(kind, default, len(frame))
    if raw.name == "products" and "category" in frame.columns:
        frame["category"] = frame["category"].str.lower()
    return frame


def _check_unique(raw: Raw, frame: pd.DataFrame, problems: Problems) -> None:
    keys = KEYS.get(raw.name, ())
    if not keys or any(c not in frame.columns for c in keys):
        return
    first: dict[tuple[Any, ...], int] = {}
    for pos in _positions(frame.duplicated(list(keys), keep=False)):
        key = tuple(frame[c].iloc[pos] for c in keys)
        if "" in key:
            continue  # an empty id is reported on its own
        if key not in first:
            first[key] = pos
            continue
        what = keys[0] if len(keys) == 1 else f"({', '.join(keys)}) pair"
        value = key[0] if len(keys) == 1 else key
        problems.cell(
            raw, pos, keys[-1], f"a unique {what} (first on {raw.rows[first[key]]})", value
        )


def _check_values(raw: Raw, frame: pd.DataFrame, problems: Problems) -> None:
    """Ranges, categories, periods, self-loops and locked accounts without an incumbent."""
    for column, rule in RANGES.get(raw.name, {}).items():
        if column in frame.columns:
            for pos in _positions(rule.bad(frame[column])):
                problems.cell(raw, pos, column, rule.describe())
    checks: list[tuple[str, pd.Series, str]] = []
    if raw.name == "products" and "category" in frame.columns:
        bad = ~frame["category"].isin(CATEGORIES)
        checks.append(("category", bad, f"one of {', '.join(CATEGORIES)}"))
    if raw.name == "history" and "period" in frame.columns:
        bad = ~frame["period"].map(lambda p: bool(PERIOD_PATTERN.match(p))).astype(bool)
        checks.append(("period", bad, "a month written YYYY-MM, e.g. '2026-01'"))
    if raw.name == "adjacency" and {"region_a", "region_b"} <= set(frame.columns):
        bad = (frame["region_a"] == frame["region_b"]) & (frame["region_a"] != "")
        checks.append(("region_b", bad, "a region other than region_a (no self-loops)"))
    if raw.name == "adjacency" and "link" in frame.columns:
        bad = ~frame["link"].str.lower().isin(LINK_WORDS)
        checks.append(("link", bad, "add or remove (empty: add)"))
    if raw.name == "accounts" and "locked" in raw.frame.columns:
        bad = frame["locked"] & (frame["incumbent_rep_id"] == "")
        checks.append(("locked", bad, "an incumbent_rep_id on a locked account"))
    for column, mask, expected in checks:
        for pos in _positions(mask):
            problems.cell(raw, pos, column, expected)


# ---------------------------------------------------------------- between tables


def _check_references(
    raws: Mapping[str, Raw], frames: Mapping[str, pd.DataFrame], problems: Problems
) -> None:
    for ref in REFERENCES:
        frame, target = frames.get(ref.table), frames.get(ref.target)
        if frame is None or target is None or ref.column not in frame.columns:
            continue
        if ref.target_column not in target.columns:
            continue
        valid = set(target[ref.target_column])
        raw, source = raws[ref.table], raws[ref.target].where
        column = frame[ref.column]
        if not ref.many:
            for pos in _positions(~column.isin(valid) & (column != "")):
                problems.cell(raw, pos, ref.column, f"one of the {ref.target_column}s of {source}")
            continue
        for pos in _positions(column != ""):
            if unknown := sorted(parse_ids(column.iloc[pos]) - valid):
                ids = f"{ref.target_column}s of {source}"
                problems.cell(
                    raw, pos, ref.column, f"{ids}, ';'-separated ('{unknown[0]}' is not one)"
                )


def _build(raws: Mapping[str, Raw], problems: Problems, sources: Mapping[str, str]) -> Tables:
    tidy = {name: _tidy(raw, problems) for name, raw in raws.items()}
    tidy = fill_points(tidy)  # accounts and reps without coordinates: their region's point
    frames = {name: _normalise(raw, problems) for name, raw in tidy.items()}
    for name, frame in frames.items():
        _check_unique(tidy[name], frame, problems)
        _check_values(tidy[name], frame, problems)
    if "adjacency" in frames and "regions" not in frames:
        problems.add(f"{tidy['adjacency'].where}: adjacency is given without a regions table")
    _check_references(tidy, frames, problems)
    problems.raise_if_any()
    tables = Tables(**frames, sources=dict(sources))
    log.debug("input tables: %s", tables.summary())
    return tables


def load_tables(
    data: DataPaths, *, geography: GeographySettings | None = None, max_problems: int = 50
) -> Tables:
    """Read, normalise and check the tables that ``data`` names (absolute paths).

    Only ``reps`` and ``accounts`` are required. Files are never modified. ``data.regions`` may
    be a polygon file (GeoJSON, GeoPackage, Shapefile): its features are the regions, its
    polygons become ``Tables.shapes`` and give the region graph's links, read as ``geography``
    says (default :class:`~allocator.io.settings.GeographySettings`).

    Raises
    ------
    InputError
        Listing every problem (the first ``max_problems``, then how many more): a missing or
        unreadable file (naming ``data.<table>`` and the path), an unsupported extension, and
        each broken column, cell, duplicate id or dangling reference.
    """
    geography = geography or GeographySettings()
    problems = Problems(max_problems)
    raws: dict[str, Raw] = {}
    shapes = None
    for name in TABLE_NAMES:
        path = getattr(data, name)
        if path is None:
            if name in REQUIRED_TABLES:
                problems.add(f"data.{name}: the {name} table is required")
            continue
        if name == "regions" and is_polygon_file(path):
            read = read_polygons(Path(path), geography, problems)
            raw, shapes = read if read is not None else (None, None)
        else:
            raw = read_table(name, Path(path), problems)
        if raw is not None:
            raws[name] = raw
    problems.raise_if_any()
    tables = _build(raws, problems, {name: raw.where for name, raw in raws.items()})
    return with_links(tables.replace(shapes=shapes), geography)


def make_tables(
    *,
    reps: pd.DataFrame,
    accounts: pd.DataFrame,
    regions: pd.DataFrame | None = None,
    adjacency: pd.DataFrame | None = None,
    products: pd.DataFrame | None = None,
    history: pd.DataFrame | None = None,
    account_potential: pd.DataFrame | None = None,
    commitments: pd.DataFrame | None = None,
    shapes: Any = None,
    geography: GeographySettings | None = None,
    sources: Mapping[str, str] | None = None,
    max_problems: int = 50,
) -> Tables:
    """Normalise and check frames you already have, exactly as :func:`load_tables` does files.

    ``shapes``: region polygons (a GeoDataFrame indexed by ``region_id``, as ``Tables.shapes``)
    whose links join the adjacency table's, read as ``geography`` says.

    The frames are copied, never modified. Problems name ``<table> table`` and ``index <label>``
    (the frame's index label). ``sources`` (table name -> file) is kept on the result for
    messages and manifests.

    Raises
    ------
    InputError
        Listing every problem, as :func:`load_tables`; also when a table is not a DataFrame.
    """
    given = {
        "reps": reps,
        "accounts": accounts,
        "regions": regions,
        "adjacency": adjacency,
        "products": products,
        "history": history,
        "account_potential": account_potential,
        "commitments": commitments,
    }
    problems = Problems(max_problems)
    raws: dict[str, Raw] = {}
    for name, frame in given.items():
        if frame is None:
            if name in REQUIRED_TABLES:
                problems.add(f"{name} table: the {name} table is required")
            continue
        if not isinstance(frame, pd.DataFrame):
            problems.add(f"{name} table: expected a pandas DataFrame, got {type(frame).__name__}")
            continue
        rows = tuple(f"index {label}" for label in frame.index)
        raws[name] = Raw(name, frame, f"{name} table", rows)
    problems.raise_if_any()
    tables = _build(raws, problems, dict(sources or {}))
    if shapes is not None:
        shapes = shapes.set_axis(shapes.index.astype(str).rename("region_id"))
    return with_links(tables.replace(shapes=shapes), geography or GeographySettings())


def load_inputs(scenario: Scenario) -> Tables:
    """The tables of a scenario: :func:`load_tables` on ``scenario.data``.

    Raises
    ------
    ScenarioError
        When ``data.reps`` or ``data.accounts`` is not given.
    InputError
        When a table is missing, unreadable or breaks the contract.
    """
    missing = [name for name in REQUIRED_TABLES if getattr(scenario.data, name) is None]
    if missing:
        lines = [
            f"scenario '{scenario.name}': data.{name}: missing; the {name} table is required "
            f"(add '{name}: path/to/{name}.csv' under data:)"
            for name in missing
        ]
        raise ScenarioError("\n".join(lines))
    return load_tables(scenario.data, geography=scenario.geography)

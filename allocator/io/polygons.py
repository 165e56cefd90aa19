"""Regions from a polygon file, and the region graph's links from polygons plus a table.

When ``data.regions`` names a GeoJSON, GeoPackage or Shapefile, :func:`read_polygons` reads it
(:func:`allocator.geography.shapes.read_shapes`) as the regions table (one row per feature,
labelled ``feature n``) and keeps the polygons. :func:`with_links` then sets
``Tables.adjacency`` to the links of the region graph: those the polygons give
(``geography.contact``, ``snap_m``, ``min_border_m``) plus the adjacency table's ``add`` rows,
minus its ``remove`` rows. Without polygons the table's own ``remove`` rows still apply.
:func:`fill_points` gives accounts and reps without coordinates their region's point.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from allocator.exceptions import InputError
from allocator.geography.adjacency import apply_links, polygon_links
from allocator.geography.shapes import read_shapes
from allocator.io.readers import Problems, Raw
from allocator.io.settings import GeographySettings
from allocator.io.tables import Tables, blank_cells, convert_cells

__all__ = ["fill_points", "read_polygons", "with_links"]

log = logging.getLogger("allocator")


def read_polygons(
    path: Path, geography: GeographySettings, problems: Problems
) -> tuple[Raw, Any] | None:
    """The regions table of a polygon file and its polygons; None (problems added) when bad."""
    try:
        read = read_shapes(
            path,
            id_column=geography.id_column,
            name_column=geography.name_column,
            layer=geography.layer,
        )
    except InputError as exc:
        for line in exc.problems:
            problems.add(f"data.regions: {line}")
        return None
    rows = tuple(f"feature {i + 1}" for i in range(len(read.attributes)))
    return Raw("regions", read.attributes, str(path), rows), read.shapes


def with_links(tables: Tables, geography: GeographySettings) -> Tables:
    """``tables`` with ``adjacency`` = polygon links + table ``add`` rows - ``remove`` rows.

    Unchanged when there are no polygons and no ``remove`` rows (the table is the graph). Else
    each link once, ``link`` = ``add``, plus ``source`` (``polygons``/``table``) and
    ``border_m`` (shared border in metres, NaN for a link from the table).
    """
    table = tables.adjacency
    removes = table is not None and bool((table["link"].str.lower() == "remove").any())
    if tables.shapes is None and not removes:
        return tables
    edges = None
    if tables.shapes is not None and geography.contact != "none":
        edges = polygon_links(
            tables.shapes,
            contact=geography.contact,
            snap_m=geography.snap_m,
            min_border_m=geography.min_border_m,
        )
        log.debug("%d links between %d region polygons", len(edges), len(tables.shapes))
    links = apply_links(edges, table)
    if links is None:
        return tables
    links.insert(2, "link", "add")
    return tables.replace(adjacency=links)


def fill_points(raws: Mapping[str, Raw]) -> dict[str, Raw]:
    """Accounts and reps without ``lat``/``lon`` take their region's point, when it is known.

    The region's point is the regions table's ``lat``/``lon`` (a polygon file fills them with
    the representative point). Only blank cells are filled (a missing column counts as blank
    when every row's region has a point); cells that stay blank are reported as usual.
    """
    regions = raws.get("regions")
    if regions is None or not {"region_id", "lat", "lon"} <= set(regions.frame.columns):
        return dict(raws)
    ids = convert_cells(regions.frame["region_id"], "id")[0]
    points = pd.DataFrame(
        {c: convert_cells(regions.frame[c], "float")[0].to_numpy() for c in ("lat", "lon")},
        index=ids.to_numpy(),
    ).dropna()
    points = points[~points.index.duplicated()]
    out = dict(raws)
    for name in ("accounts", "reps"):
        raw = raws.get(name)
        if raw is not None and "region_id" in raw.frame.columns and len(points):
            out[name] = _filled(raw, points)
    return out


def _filled(raw: Raw, points: pd.DataFrame) -> Raw:
    region = convert_cells(raw.frame["region_id"], "id")[0]
    known = region.isin(points.index)
    frame = raw.frame
    for column in ("lat", "lon"):
        if column not in frame.columns and not known.all():
            continue
        cells = frame[column] if column in frame.columns else pd.Series(None, index=frame.index)
        fill = blank_cells(cells) & known
        if fill.any():
            frame = frame.copy() if frame is raw.frame else frame
            frame[column] = cells.astype(object).mask(fill, region.map(points[column]))
            log.info("%s: %d %s cells from the region's point", raw.where, int(fill.sum()), column)
    return Raw(raw.name, frame, raw.where, raw.rows)

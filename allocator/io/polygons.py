"""Regions from a polygon file, and the region graph's links from polygons plus a table.

When ``data.regions`` names a GeoJSON, GeoPackage or Shapefile, :func:`read_polygons` reads it
(:func:`allocator.geography.shapes.read_shapes`) as the regions table (one row per feature,
labelled ``feature n``) and keeps the polygons. :func:`with_links` then sets
``Tables.adjacency`` to the links of the region graph: those the polygons give
(``geography.contact``, ``snap_m``, ``min_border_m``) plus the adjacency table's ``add`` rows,
minus its ``remove`` rows. Without polygons the table's own ``remove`` rows still apply.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from allocator.exceptions import InputError
from allocator.geography.adjacency import apply_links, polygon_links
from allocator.geography.shapes import read_shapes
from allocator.io.readers import Problems, Raw
from allocator.io.settings import GeographySettings
from allocator.io.tables import Tables

__all__ = ["read_polygons", "with_links"]

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
    """``tables`` with ``adjacency`` = polygon links + table ``add`` rows - ``remove`` rows."""
    edges = None
    if tables.shapes is not None and geography.contact != "none":
        edges = polygon_links(
            tables.shapes,
            contact=geography.contact,
            snap_m=geography.snap_m,
            min_border_m=geography.min_border_m,
        )
        log.debug("%d links between %d region polygons", len(edges), len(tables.shapes))
    links = apply_links(edges, tables.adjacency)
    if links is None:
        return tables
    return tables.replace(adjacency=links)

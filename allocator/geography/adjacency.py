"""The region graph's edges from polygons, and the links a planner adds or removes by hand.

:func:`polygon_links` finds the regions whose polygons touch (``queen``: any contact, a corner
is enough; ``rook``: a shared border line), optionally only where the shared border is at least
``min_border_m`` metres long. ``snap_m`` closes the hairline gaps and overlaps of real files
(simplified or digitised separately): polygons closer than ``snap_m`` metres touch. Lengths are
measured in the UTM zone of the layer's centre (geopandas ``estimate_utm_crs``), exact enough for
a state or a country of that size (UTM scale error stays under 0.1% inside the zone).

:func:`apply_links` merges an ``adjacency`` table into those edges: rows with ``link`` ``add``
(the default) add a link the polygons do not show (a bridge, a ferry), rows with ``remove`` take
a link away (a border on a mountain ridge with no road across).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

__all__ = ["LINK_WORDS", "apply_links", "polygon_links"]

#: Values of the adjacency table's optional ``link`` column.
LINK_WORDS: tuple[str, ...] = ("add", "remove")

_EPS_M = 0.01  # exact contact: 1 cm, below any coordinate rounding of a real file


def polygon_links(
    shapes: Any,
    *,
    contact: Literal["queen", "rook"] = "queen",
    snap_m: float = 1.0,
    min_border_m: float = 0.0,
) -> pd.DataFrame:
    """Pairs of regions whose polygons touch, with the length of their shared border.

    ``shapes``: GeoDataFrame indexed by ``region_id`` (any CRS with a definition). A pair
    touches when the polygons lie within ``snap_m`` metres of each other; ``rook`` also needs a
    shared border longer than ``2 * snap_m + 1`` m (a corner measures about ``2 * snap_m``);
    ``min_border_m > 0`` keeps only borders at least that long. The border of a pair is the
    length of one polygon's outline lying within ``snap_m`` of the other (the shorter of the
    two ways round), in metres.

    Returns a frame ``region_a``, ``region_b`` (str, ``region_a < region_b``, each pair once,
    sorted) and ``border_m`` (float).
    """
    empty = pd.DataFrame({"region_a": [], "region_b": [], "border_m": []})
    if len(shapes) < 2:
        return empty.astype({"region_a": str, "region_b": str})
    import shapely

    metric = shapes.to_crs(shapes.estimate_utm_crs())
    geoms = metric.geometry.to_numpy()
    reach = max(float(snap_m), _EPS_M)
    left, right = metric.sindex.query(geoms, predicate="dwithin", distance=reach)
    keep = left < right
    left, right = left[keep], right[keep]
    border = np.minimum(
        shapely.length(
            shapely.intersection(shapely.boundary(geoms[left]), shapely.buffer(geoms[right], reach))
        ),
        shapely.length(
            shapely.intersection(shapely.boundary(geoms[right]), shapely.buffer(geoms[left], reach))
        ),
    )
    need = float(min_border_m)
    if contact == "rook":
        need = max(need, 2 * reach + 1.0)
    ok = border >= need if need > 0 else np.ones(len(left), bool)
    ids = np.asarray(shapes.index.astype(str))
    a, b = ids[left[ok]], ids[right[ok]]
    frame = pd.DataFrame(
        {"region_a": np.minimum(a, b), "region_b": np.maximum(a, b), "border_m": border[ok]}
    )
    return frame.sort_values(["region_a", "region_b"], ignore_index=True)


def apply_links(edges: pd.DataFrame | None, table: pd.DataFrame | None) -> pd.DataFrame | None:
    """``edges`` (region_a, region_b, ...) plus the table's ``add`` rows, minus its ``remove`` rows.

    ``table``: region_a, region_b and an optional ``link`` column (``add``/``remove``, blank =
    ``add``). A removal wins over an addition of the same pair (in either order of the two
    regions). Returns region_a, region_b (plus ``border_m`` where the polygons gave it, NaN for
    added links) and ``source`` (``polygons`` or ``table``), each pair once, or None when both
    inputs are None.
    """
    if edges is None and table is None:
        return None
    parts = []
    if edges is not None:
        parts.append(edges.assign(source="polygons"))
    removed: set[frozenset[str]] = set()
    if table is not None:
        link = table["link"] if "link" in table else pd.Series("add", index=table.index)
        link = link.fillna("").astype(str).str.strip().str.lower().replace("", "add")
        added = table.loc[link == "add", ["region_a", "region_b"]]
        parts.append(added.assign(source="table"))
        removed = {
            frozenset(p)
            for p in zip(
                table.loc[link == "remove", "region_a"],
                table.loc[link == "remove", "region_b"],
                strict=True,
            )
        }
    out = pd.concat(parts, ignore_index=True)
    pairs = [frozenset(p) for p in zip(out["region_a"], out["region_b"], strict=True)]
    seen: set[frozenset[str]] = set()
    keep = []
    for pair in pairs:
        keep.append(pair not in removed and pair not in seen)
        seen.add(pair)
    return out[keep].reset_index(drop=True)

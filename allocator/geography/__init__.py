"""Geography: distances, region polygons, the region graph and what it proves.

Pure functions, no allocator types: every stage above may use them. Polygons are read with
geopandas (imported only when a polygon file is read).
"""

from allocator.geography.adjacency import apply_links, polygon_links
from allocator.geography.analysis import (
    BalanceBands,
    Component,
    Finding,
    GraphAnalysis,
    analyse_graph,
    format_analysis,
)
from allocator.geography.distance import distance_matrix, haversine_km
from allocator.geography.graph import region_graph
from allocator.geography.shapes import RegionShapes, is_polygon_file, read_shapes

__all__ = [
    "BalanceBands",
    "Component",
    "Finding",
    "GraphAnalysis",
    "RegionShapes",
    "analyse_graph",
    "apply_links",
    "distance_matrix",
    "format_analysis",
    "haversine_km",
    "is_polygon_file",
    "polygon_links",
    "read_shapes",
    "region_graph",
]

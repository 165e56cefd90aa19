"""Geography: great-circle distances and the region graph (which regions share a border).

Pure functions, no allocator types: every stage above may use them.
"""

from allocator.geography.distance import distance_matrix, haversine_km
from allocator.geography.graph import region_graph

__all__ = ["distance_matrix", "haversine_km", "region_graph"]

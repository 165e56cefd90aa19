"""Connectors: plans in and out where planners work (databases, Salesforce, GIS, letters).

One module per connector: :mod:`~allocator.connect.db` (plans into databases, a company as a
DuckDB file; reading input tables is :mod:`allocator.io.database`),
:mod:`~allocator.connect.salesforce` (data-loader CSVs of the territory model),
:mod:`~allocator.connect.geo` (GeoJSON / GeoPackage layers), :mod:`~allocator.connect.letters`
(quota letters), :mod:`~allocator.connect.signoff` (the sign-off workbook) and
:mod:`~allocator.connect.reconcile` (commitments back into the quotas).
:mod:`~allocator.connect.folder` reads a plan folder back for all of them. The stage sits above
:mod:`allocator.report` and beside sweep and track.
"""

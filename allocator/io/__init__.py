"""Inputs: the scenario YAML and the input tables, validated at the boundary.

:mod:`~allocator.io.settings` is the typed YAML schema, :mod:`~allocator.io.scenario` loads a
scenario file, :mod:`~allocator.io.data` reads and checks the tables into one frozen
:class:`~allocator.io.tables.Tables`; :mod:`~allocator.io.files` writes our own files atomically.
"""

from allocator.io.data import describe, load_inputs, load_tables, make_tables
from allocator.io.scenario import Scenario, load_scenario
from allocator.io.tables import Tables

__all__ = [
    "Scenario",
    "Tables",
    "describe",
    "load_inputs",
    "load_scenario",
    "load_tables",
    "make_tables",
]

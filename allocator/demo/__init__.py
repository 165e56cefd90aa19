"""The demo company: a plausible generated sales organisation, and the one shipped with allocator.

Exports :func:`generate_company` (tables from a seed), :func:`write_company` (tables as CSV files
plus a scenario), :func:`demo_settings`, :func:`write_demo` and ``DEMO_DIR`` (the shipped demo's
folder). :mod:`allocator.demo.examples` holds tiny instances whose optimum a person can check.
"""

from allocator.demo.files import DEMO_DIR, DEMO_SETTINGS, demo_settings, write_company, write_demo
from allocator.demo.generate import generate_company, last_twelve_months

__all__ = [
    "DEMO_DIR",
    "DEMO_SETTINGS",
    "demo_settings",
    "generate_company",
    "last_twelve_months",
    "write_company",
    "write_demo",
]

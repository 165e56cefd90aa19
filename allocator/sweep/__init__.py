"""Sweeps: many what-ifs of one scenario, solved in parallel (processes or Dask), resumable.

:func:`run_sweep` (``allocator sweep``); the variants come from :mod:`~allocator.sweep.grid`.
"""

from allocator.sweep.run import run_sweep, run_variants

__all__ = ["run_sweep", "run_variants"]

"""``allocator serve``: review and adjust a plan in the browser (docs/serve.md).

The stage's parts, one module per concept: :mod:`~allocator.serve.source` (open a plan folder or
a scenario), :mod:`~allocator.serve.session` (edits, locks, undo and redo),
:mod:`~allocator.serve.recompute` (rep totals, fairness, objective and the checker's violations
after each edit, no solver), :mod:`~allocator.serve.reoptimise` (background re-solve around the
edits), :mod:`~allocator.serve.save` (a new plan folder plus overrides.csv),
:mod:`~allocator.serve.mapview` (the map), :mod:`~allocator.serve.workspace` and
:mod:`~allocator.serve.app` (the web app).
"""

from allocator.serve.app import create_app
from allocator.serve.recompute import Evaluation, evaluate, make_context
from allocator.serve.session import ServeError, Session, StaleError, UnknownIdError
from allocator.serve.source import Opened, open_source
from allocator.serve.workspace import Workspace

__all__ = [
    "Evaluation",
    "Opened",
    "ServeError",
    "Session",
    "StaleError",
    "UnknownIdError",
    "Workspace",
    "create_app",
    "evaluate",
    "make_context",
    "open_source",
]

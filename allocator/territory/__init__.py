"""The territory stage: every account (or region) to one rep, by a MIP over priced candidate arcs.

:func:`solve_assignment` reads as the method (``models/assignment.md``);
:mod:`~allocator.territory.check`
is the independent checker of its result, :mod:`~allocator.territory.gap` the OR-Library GAP.
"""

from allocator.territory.assignment import solve_assignment
from allocator.territory.check import CheckResult, check_assignment
from allocator.territory.regions import analyse_regions
from allocator.territory.result import AssignmentResult

__all__ = [
    "AssignmentResult",
    "CheckResult",
    "analyse_regions",
    "check_assignment",
    "solve_assignment",
]

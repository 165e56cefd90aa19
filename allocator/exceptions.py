"""The errors and warnings allocator raises, each saying when it fires and what to do.

Every error subclasses :class:`AllocatorError` and the builtin a caller would naturally catch,
so ``except ValueError`` keeps working for code that does not know our hierarchy.
"""

from __future__ import annotations

from collections.abc import Sequence


class AllocatorError(Exception):
    """Base class of every error allocator raises on purpose."""


class InputError(AllocatorError, ValueError):
    """An input table is missing, unreadable or breaks the data contract.

    Fires while loading and validating the tables named in a scenario's ``data:`` block.
    ``problems`` holds one line per problem (file, row, column, value, what was expected);
    fix the rows it names and run ``allocator validate`` again.
    """

    def __init__(self, problems: Sequence[str], *, total: int | None = None) -> None:
        self.problems = tuple(problems)
        self.total = len(self.problems) if total is None else total
        super().__init__(self._render())

    def _render(self) -> str:
        head = f"{self.total} problem(s) in the input data:"
        more = self.total - len(self.problems)
        tail = [f"... and {more} more"] if more > 0 else []
        return "\n".join([head, *(f"  - {p}" for p in self.problems), *tail])


class ScenarioError(AllocatorError, ValueError):
    """A scenario YAML file is malformed: unknown key, wrong type, bad value, broken ``extends``.

    The message names the file and the key path (``scenarios/q3.yaml: quota.tiers.stretch: ...``).
    """


class InfeasibleError(AllocatorError, RuntimeError):
    """The model has no solution that satisfies every hard constraint.

    ``diagnosis`` lists the constraints that conflict and the slack each needed in the
    elastic re-solve; relax those settings in the scenario.
    """

    def __init__(self, message: str, *, diagnosis: Sequence[str] = ()) -> None:
        self.diagnosis = tuple(diagnosis)
        lines = [message, *(f"  - {d}" for d in self.diagnosis)]
        super().__init__("\n".join(lines))


class SolverError(AllocatorError, RuntimeError):
    """The solver failed, is not installed, or returned no usable solution."""


class NoSolutionInTimeError(AllocatorError, RuntimeError):
    """Time ran out before any plan met every hard rule (exit code 4).

    Not a proof of infeasibility: ``result`` is the best plan found (for contiguity: connected
    territories, some balance or capacity row still violated), written out and marked
    ``time_limit_infeasible``; the message names the rows it breaks. Give ``solver.time_limit``
    more time or widen the tolerance it names. ``plan`` is set by the stage that wrote it.
    """

    def __init__(self, message: str, *, result: object | None = None) -> None:
        self.result = result
        self.plan: object | None = None
        super().__init__(message)


class CheckError(AllocatorError, AssertionError):
    """The independent checker found a solution that violates a hard constraint.

    This is a bug in allocator (or in a solver), never a user error: please report it with
    the scenario that produced it.
    """


class AllocatorWarning(UserWarning):
    """Base class of allocator's warnings."""


class TimeLimitWarning(AllocatorWarning):
    """The solver stopped at its time limit; the result is feasible but not proven optimal."""

"""Independent checkers: each recomputes a model's rules and objective from its output alone."""

from allocator.checks.assignment import CheckResult, check_assignment

__all__ = ["CheckResult", "check_assignment"]

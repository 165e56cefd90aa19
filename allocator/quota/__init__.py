"""The quota stage: the company target and its product mix, then quotas per rep, product and period.

:func:`set_target` (``models/target.md``), :func:`allocate_quotas` (``models/quota.md``: the
fairness LP, phasing to months, weeks and days, tiers, expenses); :mod:`~allocator.quota.check`
is the independent checker.
"""

from allocator.quota.allocate import allocate_quotas
from allocator.quota.check import check_quotas
from allocator.quota.result import QuotaResult
from allocator.quota.target import TargetResult, set_target

__all__ = ["QuotaResult", "TargetResult", "allocate_quotas", "check_quotas", "set_target"]

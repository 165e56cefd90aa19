"""Track and adjust: attainment and pace against a plan, re-phasing, rebalancing, activity plans.

:func:`track_attainment`, :func:`rephase`, :func:`rebalance` and :func:`activities_for`, all over
a solved plan (:class:`TrackedPlan`); actuals come from :func:`load_actuals` (a file),
:func:`check_actuals` (a frame) or :func:`generate_actuals` (a simulation).
"""

from allocator.track.activities import activities_for
from allocator.track.actuals import check_actuals, generate_actuals, load_actuals
from allocator.track.attainment import Attainment, track_attainment
from allocator.track.rebalance import rebalance
from allocator.track.rephase import Rephased, rephase
from allocator.track.tracked_plan import TrackedPlan

__all__ = [
    "Attainment",
    "Rephased",
    "TrackedPlan",
    "activities_for",
    "check_actuals",
    "generate_actuals",
    "load_actuals",
    "rebalance",
    "rephase",
    "track_attainment",
]

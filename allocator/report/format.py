"""One number format for every report, table, hover and headline.

Whole numbers and anything of 1,000 or more: thousands separators, no decimals (``1,009,090``);
below 1,000: at most three significant decimals (``12.5``, ``0.257``); never scientific
notation; NaN and None as ``-``.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["number", "percent"]


def number(value: Any) -> str:
    """``value`` as text in the report's one number format (see the module docstring)."""
    if value is None or isinstance(value, str):
        return "-" if value is None else value
    if isinstance(value, bool):
        return "yes" if value else "no"
    v = float(value)
    if not math.isfinite(v):
        return "-" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if abs(v) >= 1000 or v == int(v):
        text = f"{v:,.0f}"
    elif abs(v) >= 10:
        text = f"{v:,.1f}"
    elif abs(v) >= 0.001:
        text = f"{v:.3f}".rstrip("0").rstrip(".")
    else:
        text = "0" if v == 0 else f"{v:.2g}" if abs(v) >= 1e-4 else "0"
    return "0" if text in ("-0", "-0.0") else text


def percent(share: Any, digits: int = 1) -> str:
    """A share as a percentage (``0.2534`` -> ``25.3%``), NaN/None as ``-``."""
    if share is None or share != share:
        return "-"
    return f"{100 * float(share):.{digits}f}%"

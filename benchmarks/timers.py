"""Wall-clock time spent inside chosen functions, by wrapping them in their modules."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

__all__ = ["Timers"]


class Timers:
    """Accumulate seconds per bucket for functions wrapped with :meth:`wrap`.

    Nested calls in the same bucket are counted once (only the outermost call is timed).
    """

    def __init__(self) -> None:
        self.totals: defaultdict[str, float] = defaultdict(float)
        self._depth: defaultdict[str, int] = defaultdict(int)

    def wrap(self, module: ModuleType, names: Iterable[str], bucket: str) -> None:
        """Replace ``module.name`` for each name by a timed version that adds to ``bucket``."""
        for name in names:
            setattr(module, name, self._timed(getattr(module, name), bucket))

    def _timed(self, func: Callable[..., Any], bucket: str) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._depth[bucket] += 1
            start = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                self._depth[bucket] -= 1
                if not self._depth[bucket]:
                    self.totals[bucket] += time.perf_counter() - start

        return timed

"""The headcount sizing chart: coverage and utilisation by rep count, and what one more rep adds.

Drawn with matplotlib's Agg canvas (no pyplot), like :mod:`allocator.report.plots`.
"""

from __future__ import annotations

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from allocator.territory.sizing import SizingResult

__all__ = ["sizing_figure"]


def sizing_figure(result: SizingResult) -> Figure:
    """Coverage and utilisation (%, left) and the marginal potential of a rep (bars, right)."""
    fig = Figure(figsize=(9.0, 4.5), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    curve = result.curve
    right = ax.twinx()
    width = 0.6 * float(curve["reps"].diff().min()) if len(curve) > 1 else 0.6
    right.bar(curve["reps"], curve["marginal_potential"].fillna(0.0), width=width, color="#d9d9d9")
    right.set_ylabel("potential covered by one more rep")
    ax.set_zorder(right.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.plot(curve["reps"], 100 * curve["coverage"], marker="o", label="coverage of potential")
    ax.plot(curve["reps"], 100 * curve["utilization"], marker="s", label="utilisation")
    ax.axhline(100 * result.coverage_target, color="tab:blue", linestyle=":", linewidth=1)
    ax.axvline(result.current, color="grey", linestyle="--", linewidth=1, label="today")
    if result.recommended is not None:
        ax.axvline(result.recommended, color="tab:green", linewidth=2, label="recommended")
    ax.set_xlabel("reps")
    ax.set_ylabel("%")
    ax.set_ylim(0, 105)
    ax.legend(loc="lower right")
    ax.set_title(
        f"Headcount: coverage at {result.utilization_target:.0%} utilisation "
        f"(target {result.coverage_target:.0%})"
    )
    return fig

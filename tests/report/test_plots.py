"""Figures with Chinese text: titles and labels drawn with a CJK fallback font, never boxes."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from matplotlib import font_manager

from allocator.report import plots
from allocator.report.plots import font_families, png, ratio_bars


def test_cjk_chart_title_and_labels_are_drawn() -> None:
    """Chart titles built from Chinese names rendered as empty boxes: matplotlib warns
    "Glyph ... missing from font(s)" exactly then. With the fallback, no glyph is missing."""
    if len(font_families()) < 2:
        pytest.skip("no CJK font installed (Debian fonts-noto-cjk; .ci/setup.d/chromium.sh)")
    values = pd.Series([1.0, 1.1, 0.9], index=["张伟", "李娜", "王芳"])
    fig = ratio_bars(values, title="华东区 配额: 张伟", ylabel="配额 / 公平配额")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing glyph would raise here
        data = png(fig)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    title = fig.axes[0].title
    assert list(title.get_fontfamily()) == list(font_families())


def test_the_fallback_really_draws_the_glyphs() -> None:
    """The same Chinese title drawn with and without the CJK font differs in ink: the fallback
    is used, not silently dropped."""
    if len(font_families()) < 2:
        pytest.skip("no CJK font installed (Debian fonts-noto-cjk; .ci/setup.d/chromium.sh)")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    def ink(families: list[str]) -> np.ndarray:
        fig = Figure(figsize=(3, 1), dpi=100)
        canvas = FigureCanvasAgg(fig)
        fig.text(0.05, 0.4, "华东区", fontsize=20, fontfamily=families)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            canvas.draw()
        return np.asarray(canvas.buffer_rgba())[..., :3].mean(axis=2)

    boxes, glyphs = ink(["DejaVu Sans"]), ink(list(font_families()))
    assert (glyphs < 128).sum() > 0 and not np.array_equal(boxes, glyphs)


def test_no_cjk_font_is_no_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without any CJK font the figures still render (a log line says so)."""
    latin = [f for f in font_manager.fontManager.ttflist if "CJK" not in f.name]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", latin)
    monkeypatch.setattr(plots, "_CJK_FILES", ())
    assert plots.font_families.__wrapped__() == ("DejaVu Sans",)

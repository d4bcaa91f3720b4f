"""Chinese renders: the bundled CJK font has the glyphs, and drawing warns of no missing one."""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ft2font import FT2Font  # noqa: E402

from growthloop import theme  # noqa: E402


def test_font_has_the_glyphs_of_our_labels() -> None:
    font = FT2Font(str(theme.cjk_font_path()))
    for char in "用户画像广东深圳新一线百度搜索老带新重要价值挽留羊毛党复投":
        assert font.get_char_index(ord(char)) != 0, char


def test_chinese_figure_draws_without_missing_glyphs() -> None:
    family = theme.apply()
    assert "Noto Sans CJK" in family
    fig, ax = plt.subplots()
    ax.bar(["百度搜索", "应用商店", "老带新"], [3, 2, 1])
    ax.set_title("各渠道注册用户 −1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig.canvas.draw()
    plt.close(fig)


def test_number_formats() -> None:
    assert theme.yuan(123456789) == "1.23亿元"
    assert theme.yuan(56_000) == "5.6万元"
    assert theme.yuan(999) == "999元"
    assert theme.count(12_000) == "1.2万"
    assert theme.count(950) == "950"


def test_channel_colours_are_fixed() -> None:
    first = theme.channel_palette(["百度搜索", "新渠道"])
    second = theme.channel_palette(["新渠道", "百度搜索", "DSP"])
    assert first["百度搜索"] == second["百度搜索"] == theme.CHANNEL_COLORS["百度搜索"]
    assert first["新渠道"] is not None


def test_figure_is_shown_once_whatever_the_backend() -> None:
    """gb.show puts exactly one image in the cell output, with MPLBACKEND=Agg (as CI sets it)
    and with the inline backend; before the fix, Agg gave no output and nbval failed."""
    import os

    import nbformat
    from nbclient import NotebookClient

    code = ("import matplotlib.pyplot as plt\nimport growthloop.book as gb\nfrom growthloop import theme\n"
            "theme.apply()\n"
            "fig, ax = plt.subplots()\nax.plot([1, 2])\ngb.show(fig)")
    for backend in ("Agg", ""):
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
        old = os.environ.get("MPLBACKEND")
        os.environ["MPLBACKEND"] = backend
        try:
            NotebookClient(nb, kernel_name="python3", timeout=120).execute()
        finally:
            if old is None:
                os.environ.pop("MPLBACKEND", None)
            else:
                os.environ["MPLBACKEND"] = old
        images = [o for o in nb.cells[0].outputs if "image/png" in o.get("data", {})]
        assert len(images) == 1, (backend, nb.cells[0].outputs)


def test_glued_numbers_are_plain_and_stable() -> None:
    import numpy as np

    from growthloop.book import plain

    assert type(plain(np.int64(3))) is int
    assert plain(np.float64(0.1) + np.float64(0.2)) == 0.3  # 0.30000000000000004 rounded
    assert plain(74.40030713498179) == plain(74.40030713498172)
    assert plain("重要价值") == "重要价值"


def test_segment_colours_are_fixed() -> None:
    from growthloop.metrics.retention import STATE_LABELS

    first = theme.segment_palette(["重要价值", "沉睡", "新分群"])
    second = theme.segment_palette(["新分群", "对照组", "重要价值"])
    assert first["重要价值"] == second["重要价值"] == theme.SEGMENT_COLORS["重要价值"]
    # lifecycle states and groups are keyed by the labels the book shows (no English gloss)
    assert first["沉睡"] == theme.SEGMENT_COLORS["沉睡"] and second["对照组"] == theme.SEGMENT_COLORS["对照组"]
    assert set(STATE_LABELS.values()) <= set(theme.SEGMENT_COLORS)
    assert first["新分群"] == second["新分群"]  # an unknown name gets the same extra colour
    assert theme.SEGMENT_COLORS["重要价值"] != theme.SEGMENT_COLORS["一般价值"]


def test_figures_are_shown_at_twice_the_density() -> None:
    import struct

    import matplotlib.pyplot as plt
    from IPython.display import Image

    from growthloop.book import FIGURE_DENSITY, figure_png

    fig, ax = plt.subplots(figsize=(4, 2), dpi=100)
    ax.plot([0, 1], [0, 1])
    png = figure_png(fig)
    plt.close(fig)
    # the PNG header's size, against the size the page shows (IPython halves it for retina)
    width, height = struct.unpack(">II", png[16:24])
    shown = Image(data=png, format="png", retina=True)
    assert FIGURE_DENSITY == 2
    assert 0 <= width - 2 * shown.width <= 1 and 0 <= height - 2 * shown.height <= 1  # odd pixels
    assert 2 * 4 * 100 * 0.8 < width <= 2 * 4 * 100  # about 2x the figure's 400 px (tight box)


def test_a_page_without_figures_skips_the_look_and_a_chapter_applies_it() -> None:
    """`gb.chapter(figures=False)` (the data-quality and next-campaign pages) imports neither
    seaborn nor scipy, about 0.9 s of a kernel's start; a chapter opened as usual has the
    look (seaborn's grid style, the CJK font first). Fresh interpreters: earlier tests' imports
    would hide an import."""
    import subprocess
    import sys

    def run(figures: bool) -> list[str]:
        code = ("import sys, matplotlib; matplotlib.use('Agg'); import growthloop.book as gb; "
                f"gb.chapter('00_data_quality', figures={figures}); "
                "import matplotlib.pyplot as plt; "
                "print('imported:' + ','.join(m for m in ('seaborn', 'scipy') if m in sys.modules)); "
                "print(plt.rcParams['axes.grid'], plt.rcParams['font.sans-serif'][0])")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True, timeout=300)
        return done.stdout.strip().splitlines()

    assert run(False) == ["imported:", "False DejaVu Sans"]
    assert run(True) == ["imported:seaborn,scipy", "True Noto Sans CJK SC"]

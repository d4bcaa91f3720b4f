"""One look for every chapter: seaborn theme, the CJK font, fixed palettes (and the number
words of `growthloop.present.units`, under their old names here).

The font is Noto Sans CJK SC (SIL Open Font License), shipped inside the mplfonts wheel, so
Chinese labels render on any machine without a system font. seaborn's set_theme() resets the
font list, so the font is passed to it rather than set beforehand.
"""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib as mpl
import matplotlib.pyplot as plt
import seaborn as sns
from matplotlib import font_manager

from growthloop.present.units import count, yuan, yuan_text  # noqa: F401 (chapters: theme.yuan_text)
from growthloop.staging.contract import DEFAULT_CHANNELS, DIRECT_CHANNEL, UNTAGGED_CHANNEL

FONT_FILE = "NotoSansCJKsc-Regular.otf"


def cjk_font_path() -> Path:
    """Locate the bundled Noto Sans CJK SC file (inside the mplfonts package).

    Returns
    -------
    Path
        The font file.

    Raises
    ------
    FileNotFoundError
        When the mplfonts package does not hold it.
    """
    import mplfonts

    path = Path(mplfonts.__file__).parent / "fonts" / FONT_FILE
    if not path.exists():
        raise FileNotFoundError(f"{FONT_FILE} is missing from the mplfonts package at {path.parent}")
    return path


def cjk_font_name() -> str:
    """Register the bundled CJK font with matplotlib and return its family name.

    Returns
    -------
    str
        The font's family name, for matplotlib's font settings.

    Raises
    ------
    FileNotFoundError
        When the font file is missing (`cjk_font_path`).
    """
    path = cjk_font_path()
    font_manager.fontManager.addfont(str(path))
    return font_manager.FontProperties(fname=str(path)).get_name()


# Fixed colours so a channel or segment looks the same in every chapter.
_BASE = sns.color_palette("tab10", 10) + sns.color_palette("Set2", 8)
CHANNEL_COLORS: dict[str, tuple] = {ch.name: _BASE[i] for i, ch in enumerate(DEFAULT_CHANNELS)}
CHANNEL_COLORS[UNTAGGED_CHANNEL] = (0.6, 0.6, 0.6)
CHANNEL_COLORS[DIRECT_CHANNEL] = (0.35, 0.35, 0.35)


def channel_palette(names) -> dict[str, tuple]:
    """Pick colours for channel names: the fixed ones, then stable extras for unknown names.

    A channel looks the same in every chapter (CHANNEL_COLORS); unknown names get Set2 colours
    in the order of their sorted names.

    Parameters
    ----------
    names : iterable of str
        Channel names (iterated twice: pass a list, not a generator).

    Returns
    -------
    dict of str to tuple
        Name -> RGB tuple, in the order of `names`.
    """
    extra = sns.color_palette("Set2", 8)
    out = {}
    for i, name in enumerate(sorted(set(names) - set(CHANNEL_COLORS))):
        out[name] = extra[i % len(extra)]
    return {name: CHANNEL_COLORS.get(name, out.get(name)) for name in names}


# Fixed colours for segments, groups and states, the same in every chapter: an RFM segment's
# 重要 and 一般 variants share a hue (dark and light), the operating groups take the hue of
# their segments, lifecycle states go from green (new) to grey (churned).
_PAIRED = sns.color_palette("tab20", 20)
SEGMENT_COLORS: dict[str, tuple] = {
    "重要价值": _PAIRED[0], "一般价值": _PAIRED[1], "重要发展": _PAIRED[4], "一般发展": _PAIRED[5],
    "重要保持": _PAIRED[2], "一般保持": _PAIRED[3], "重要挽留": _PAIRED[6], "一般挽留": _PAIRED[7],
    "稳定中客": _PAIRED[0], "潜力新客": _PAIRED[4], "流失风险客": _PAIRED[6],
    "新增": mpl.colors.to_rgb("#59a14f"), "活跃": mpl.colors.to_rgb("#4e79a7"),
    "回流": mpl.colors.to_rgb("#b07aa1"), "沉睡": mpl.colors.to_rgb("#f28e2b"),
    "流失": mpl.colors.to_rgb("#bab0ac"),
    "实验组": _PAIRED[0], "对照组": (0.6, 0.6, 0.6),
}


def segment_palette(names) -> dict[str, tuple]:
    """Pick colours for segment, group or state names: the fixed ones, then stable extras by name.

    Parameters
    ----------
    names : iterable of str
        Segment, operating group or lifecycle state names (pass a list, not a generator).

    Returns
    -------
    dict of str to tuple
        Name -> RGB tuple, in the order of `names`; unknown names get Set3 colours.
    """
    extra = sns.color_palette("Set3", 12)
    unknown = sorted(set(names) - set(SEGMENT_COLORS))
    out = {name: extra[i % len(extra)] for i, name in enumerate(unknown)}
    return {name: SEGMENT_COLORS.get(name, out.get(name)) for name in names}


def default_colors(*positions: int) -> list[tuple]:
    """Pick colours of the current (seaborn) palette by position.

    (0, 3) is the book's blue and red, for two measures side by side that are not channels or
    segments.

    Parameters
    ----------
    *positions : int
        Positions in the palette.

    Returns
    -------
    list of tuple
        RGB tuples, in the order given.
    """
    palette = sns.color_palette()
    return [palette[i] for i in positions]


def _inline_in_kernel() -> None:
    """In a Jupyter kernel, draw figures inline whatever MPLBACKEND says.

    ipykernel installs the inline backend only when MPLBACKEND is unset; with MPLBACKEND=Agg
    (common on servers and in CI) figures would silently be missing from the executed notebook
    and so from the book.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None and hasattr(shell, "kernel"):
        shell.run_line_magic("matplotlib", "inline")


def apply() -> str:
    """Apply the GrowthLoop look: seaborn theme, the CJK font, no mathtext in labels.

    The bundled font has one weight, so titles stay regular (a bold request would make
    matplotlib log a fallback warning into every notebook). In a Jupyter kernel figures are
    drawn inline whatever MPLBACKEND says.

    Returns
    -------
    str
        The CJK font family name in use.
    """
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    _inline_in_kernel()
    family = cjk_font_name()
    sns.set_theme(style="whitegrid", context="notebook", font=family,
                  rc={"axes.unicode_minus": False, "figure.figsize": (8, 4.5), "figure.dpi": 100,
                      "savefig.dpi": 100})
    mpl.rcParams["font.sans-serif"] = [family, "DejaVu Sans"]
    plt.rcParams["svg.fonttype"] = "path"
    # Labels carry data strings (campaign names, UTM values, cities): a `$` in them must show
    # as a dollar sign, not start mathtext (which mangles the label or fails to draw it).
    plt.rcParams["text.parse_math"] = False
    return family

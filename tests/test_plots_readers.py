"""Figure rules for readers: nested funnels never widen, small multiples instead of grouped bars."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # before pyplot is imported: no display needed

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from growthloop.present import plots, theme  # noqa: E402
from growthloop.present.tables import cell_label  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    theme.apply()  # the CJK font, as in the book
    yield
    plt.close("all")


def widths(ax) -> list[float]:
    return [p.get_width() for p in ax.patches if isinstance(p, Rectangle) and p.get_height() > 0]


def test_the_campaign_funnel_draws_the_nested_path_only():
    # 681 members had a card before the campaign ("reached" 681 at 绑卡): drawing them would
    # widen the funnel; only the members who came down the path are drawn
    total = pd.DataFrame({"label": ["发送", "点击短链", "绑卡", "投资"], "users": [681, 44, 23, 19],
                          "reached": [681, 44, 681, 40],
                          "rate_from_previous": [np.nan, 44 / 681, 23 / 44, 19 / 23]})
    ax = plots.campaign_funnel_bars(total, "C1", label=lambda n, f="{:,.0f}": cell_label(n, 10, f))
    assert widths(ax) == [681, 44, 23, 19]
    assert all(a >= b for a, b in zip(widths(ax), widths(ax)[1:], strict=False))
    texts = [t.get_text() for t in ax.texts]
    # 40 reached the goal, 19 on the path: 21 another way, said at the goal's bar
    assert texts[-1] == " 19  (82.6%)；另有 21 人未沿路径达成"
    assert texts[0] == " 681" and ax.get_legend() is None
    # a small off-path count is suppressed like any other count
    small = total.assign(reached=[681, 44, 681, 23])
    assert plots.campaign_funnel_bars(small, "C1", label=lambda n, f="{:,.0f}": cell_label(n, 10, f)
                                      ).texts[-1].get_text().endswith("另有 <10 人未沿路径达成")


def test_a_funnel_that_widens_is_refused():
    total = pd.DataFrame({"label": ["发送", "绑卡"], "users": [10, 12], "reached": [10, 12],
                          "rate_from_previous": [np.nan, 1.2]})
    with pytest.raises(ValueError, match="绑卡 has more people"):
        plots.campaign_funnel_bars(total, "C1")


def test_segment_rates_are_small_multiples_one_panel_per_step():
    rows = []
    for seg, (base, a, b) in {"A": (100, 50, 10), "B": (300, 90, 45), "C": (50, 40, 2)}.items():
        rows += [dict(segment=seg, step="s0", label="点击", rate_from_previous=np.nan,
                      base_previous=np.nan, converted_previous=np.nan),
                 dict(segment=seg, step="s1", label="注册", rate_from_previous=a / base,
                      base_previous=base, converted_previous=a),
                 dict(segment=seg, step="s2", label="首投", rate_from_previous=b / a,
                      base_previous=a, converted_previous=b)]
    axes = plots.segment_rate_panels(pd.DataFrame(rows), ["B", "A"], ncols=3)
    shown = [ax for ax in axes.flat if ax.get_visible()]
    # the first step has no previous one: two steps, two panels, the third hidden
    assert [ax.get_title() for ax in shown] == ["注册", "首投"] and len(axes.flat) == 3
    # one bar per segment asked for, in that order (C left out), the rates by hand
    assert widths(shown[0]) == pytest.approx([90 / 300, 50 / 100])
    assert widths(shown[1]) == pytest.approx([45 / 90, 10 / 50])
    assert [t.get_text() for t in shown[0].get_yticklabels()] == ["B", "A"]
    # the dashed line is the shown segments' pooled rate: (90 + 50) / (300 + 100) = 35%,
    # then (45 + 10) / (90 + 50) = 39.3%
    assert shown[0].lines[0].get_xdata()[0] == pytest.approx(0.35)
    assert shown[1].lines[0].get_xdata()[0] == pytest.approx(55 / 140)
    assert [t.get_text() for t in shown[0].texts] == [" 30%", " 50%"]


def test_a_suppressed_rate_is_a_dash_not_a_bar():
    frame = pd.DataFrame({"segment": ["A", "A", "B", "B"], "step": ["s0", "s1", "s0", "s1"],
                          "label": ["点击", "注册"] * 2, "rate_from_previous": [np.nan, 0.5, np.nan, np.nan],
                          "base_previous": [np.nan, 100, np.nan, np.nan],
                          "converted_previous": [np.nan, 50, np.nan, np.nan]})
    (ax, *_rest) = plots.segment_rate_panels(frame, ["A", "B"], ncols=1).flat
    assert widths(ax) == [0.5] and [t.get_text() for t in ax.texts] == [" 50%", " —"]

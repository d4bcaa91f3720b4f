"""The book's figure functions on the Agg backend, each from a small frame built by hand.

Each test checks what a reader would see: the number of bars, lines, bands or labels the data
asks for, the axes returned (drawn on the one given), and that counts of people on a figure
go through the chapter's `label`, so a small cell shows as "<10".
"""

from __future__ import annotations

import datetime as dt

import matplotlib

matplotlib.use("Agg")  # before pyplot is imported: no display needed

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from growthloop.metrics.attribution import MODEL_LABELS, TOTAL  # noqa: E402
from growthloop.metrics.retention import STATE_LABELS  # noqa: E402
from growthloop.present import plots, theme  # noqa: E402
from growthloop.present.tables import cell_label  # noqa: E402
from growthloop.present.theme import channel_palette  # noqa: E402


def label(n, fmt="{:,.0f}"):
    """The chapter's ``ch.cell_label`` with the default minimum cell of 10."""
    return cell_label(n, 10, fmt)


@pytest.fixture(scope="module", autouse=True)
def _theme():
    theme.apply()  # the book's CJK font, as in a chapter


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def bars(ax: Axes) -> list:
    """The data bars of an axes (seaborn draws each as a Rectangle in a container)."""
    return [b for c in ax.containers for b in c]


def lines(ax: Axes) -> list:
    """The lines that draw data (seaborn also adds empty legend handles and NaN error bars)."""
    return [ln for ln in ax.lines
            if len(ln.get_xdata()) and np.isfinite(np.asarray(ln.get_ydata(), float)).all()]


def bands(ax: Axes) -> list:
    """The interval bands drawn by `rate_lines` (alpha 0.15)."""
    return [c for c in ax.collections if isinstance(c, PolyCollection) and c.get_alpha() == 0.15]


def texts(ax: Axes) -> list[str]:
    return [t.get_text() for t in ax.texts]


def tick(ax: Axes, value: float, axis: str = "y") -> str:
    fmt = (ax.yaxis if axis == "y" else ax.xaxis).get_major_formatter()
    return fmt(value, 0)


# --------------------------------------------------------------------------------- helpers


def test_percent_axis_and_no_data():
    _fig, ax = plt.subplots()
    assert plots.percent_axis(ax) is ax
    assert tick(ax, 0.25) == "25%" and tick(ax, 1.0) == "100%"
    plots.percent_axis(ax, "x")
    assert tick(ax, 0.5, "x") == "50%"
    with pytest.raises(ValueError, match="axis"):
        plots.percent_axis(ax, "z")
    assert texts(plots.no_data(ax)) == [plots.NO_COSTS]


def test_a_new_figure_unless_an_axes_is_given():
    frame = pd.DataFrame({"k": [1, 2, 3], "silhouette": [0.3, 0.5, 0.4]})
    ax = plots.silhouette(frame, 2)
    assert isinstance(ax, Axes) and len(plt.get_fignums()) == 1
    _fig, given = plt.subplots()
    assert plots.silhouette(frame, 2, ax=given) is given
    assert len(plt.get_fignums()) == 2


# --------------------------------------------------------------------------------- bars


SHARES = pd.DataFrame({"layer": ["无资产", "1万以下", "1万-5万"], "user_share": [0.5, 0.3, 0.2],
                       "metric_share": [0.0, 0.1, 0.9]})


def test_share_bars():
    ax = plots.share_bars(SHARES, x="layer", shares={"user_share": "用户占比", "metric_share": "资产占比"},
                          title="t", xlabel="资产层级")
    # 3 layers x 2 shares, in the order given, the legend naming the shares
    assert len(ax.containers) == 2 and len(bars(ax)) == 6
    assert [b.get_height() for b in ax.containers[1]] == pytest.approx([0.0, 0.1, 0.9])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["用户占比", "资产占比"]
    assert ax.get_xlabel() == "资产层级" and ax.get_ylabel() == "占比" and tick(ax, 0.3) == "30%"
    labelled = plots.share_bars(SHARES, x="layer", shares={"user_share": "u"}, bar_labels=True,
                                palette=["red"])
    assert texts(labelled) == ["50%", "30%", "20%"]


def test_share_panels():
    comp = pd.concat([SHARES.rename(columns={"layer": "value"}).assign(dimension=d)
                      for d in ("a", "b", "c")], ignore_index=True)
    axes = plots.share_panels(comp, by="dimension", panels=["a", "c", "b"], titles={"a": "A", "c": "C"},
                              x="value", shares={"user_share": "用户"}, suptitle="s")
    assert axes.shape == (2, 2)
    assert [ax.get_title() for ax in axes.flat[:3]] == ["A", "C", "b"]  # b has no title: its name
    assert [len(bars(ax)) for ax in axes.flat[:3]] == [3, 3, 3]
    assert not axes.flat[3].get_visible()  # a fourth panel with nothing to show is hidden
    assert axes.flat[0].figure._suptitle.get_text() == "s"


FUNNEL = pd.DataFrame({
    "step": ["ad_click", "register", "first_investment"], "label": ["广告点击", "注册", "首投"],
    "users": [100, 40, 5], "rate_from_previous": [np.nan, 0.5, 0.125], "lost": [0, 35, 3],
    "in_progress": [0, 5, 0],
})


def test_funnel_bars_label_counts_through_suppression():
    ax = plots.funnel_bars(FUNNEL, label=label)
    assert len(bars(ax)) == 3 and [b.get_width() for b in bars(ax)] == [100, 40, 5]
    first, second, third = texts(ax)
    assert first == " 100"
    assert second == " 40  转化 50.0% · 流失 35 · 进行中 <10"  # 5 in progress: a small cell
    assert third == " <10  转化 12.5% · 流失 <10"  # no one in progress: not mentioned
    assert ax.get_xlim() == pytest.approx((0, 160))
    # without suppression (min cell 1) the same figure shows every count
    plain = plots.funnel_bars(FUNNEL, label=lambda n, fmt: cell_label(n, 1, fmt))
    assert texts(plain)[2] == " 5  转化 12.5% · 流失 3"
    # the default label suppresses at the default minimum cell size (10)
    assert texts(plots.funnel_bars(FUNNEL))[2] == " <10  转化 12.5% · 流失 <10"


BY_CHANNEL = pd.DataFrame({
    "segment": ["百度搜索"] * 3 + ["DSP"] * 3 + ["其他"] * 3,
    "step": ["ad_click", "register", "first_investment"] * 3,
    "label": ["广告点击", "注册", "首投"] * 3,
    "users": [50, 20, 10, 30, 10, 3, 5, 1, 0],
    "rate_from_previous": [np.nan, 0.4, 0.5, np.nan, 0.33, 0.3, np.nan, 0.2, 0.0],
})


def test_segment_rate_panels_use_channel_colours():
    axes = plots.segment_rate_panels(BY_CHANNEL, ["百度搜索", "DSP"], ncols=2)
    # the first step has no rate from a previous one: 2 steps, 2 panels of 2 bars each
    assert [ax.get_title() for ax in axes.flat] == ["注册", "首投"]
    assert all(len(bars(ax)) == 2 for ax in axes.flat)
    colours = channel_palette(["百度搜索", "DSP"])
    assert bars(axes.flat[0])[0].get_facecolor()[:3] == pytest.approx(colours["百度搜索"][:3])


def test_time_histogram_and_paired_bars():
    hist = pd.DataFrame({"transition": ["注册→绑卡"] * 3 + ["绑卡→首投"] * 3,
                         "bin": ["<1小时", "1-24小时", "1-3天"] * 2,
                         "share": [0.5, 0.3, 0.2, 0.1, 0.6, 0.3]})
    ax = plots.time_histogram(hist)
    assert len(bars(ax)) == 6 and tick(ax, 0.5) == "50%"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["注册→绑卡", "绑卡→首投"]
    assert ax.get_legend()._ncols == 2


def test_disagreement_bars():
    d = pd.DataFrame({"channel": ["F", "S"], "last_touch": [0.0, 1.0], "markov": [0.6, 0.4]})
    d.attrs["pair"] = ("last_touch", "markov")
    ax = plots.disagreement_bars(d, MODEL_LABELS)
    assert len(bars(ax)) == 4
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [MODEL_LABELS["last_touch"],
                                                                   MODEL_LABELS["markov"]]
    assert MODEL_LABELS["markov"] in ax.get_title() and tick(ax, 0.6, "x") == "60%"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["F", "S"]  # by disagreement


def test_count_bars_and_binned_panels():
    clicks = pd.DataFrame({"channel": ["百度搜索", "DSP", "未标记"], "clicks": [30, 20, 5]})
    ax = plots.count_bars(clicks, x="clicks", y="channel", palette="channel")
    assert [b.get_width() for b in bars(ax)] == [30, 20, 5]  # horizontal: counts are widths
    assert ax.get_legend() is None
    dist = pd.DataFrame({"measure": ["R", "R", "F", "F", "F"], "bin": ["0-30", "30-60", "1", "2", "3"],
                         "users": [5, 7, 8, 3, 1]})
    axes = plots.binned_count_panels(dist, {"R": "R 天数", "F": "F 笔数"})
    assert len(axes) == 2 and [len(bars(a)) for a in axes] == [2, 3]
    assert [a.get_ylabel() for a in axes] == ["投资人数", ""]
    assert [a.get_title() for a in axes] == ["R 天数", "F 笔数"]


def test_nth_bars_and_lines():
    nth = pd.DataFrame({"n": [1, 2, 3], "users": [100, 40, 20], "rate_from_first": [1.0, 0.4, 0.2]})
    ax = plots.nth_bars(nth)
    assert len(bars(ax)) == 3 and texts(ax) == ["100%", "40%", "20%"]
    by_term = pd.DataFrame({"group": ["活期"] * 3 + ["3个月"] * 3, "n": [1, 2, 3] * 2,
                            "rate_from_first": [1.0, 0.3, 0.1, 1.0, 0.5, 0.2]})
    ax = plots.nth_rate_lines(by_term, ["3个月", "活期"])
    assert len(lines(ax)) == 2 and list(ax.get_xticks()) == [1, 2, 3]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["3个月", "活期"]
    assert ax.get_legend().get_title().get_text() == "首投期限"


def test_state_bars_stack_each_period():
    states = pd.DataFrame({"period": [dt.date(2025, 1, 1)] * 2 + [dt.date(2025, 2, 1)] * 2,
                           "state": ["new", "active"] * 2, "users": [10, 0, 4, 8]})
    labels = {s: STATE_LABELS[s] for s in ("new", "active")}
    ax = plots.state_bars(states, labels)
    heights = sorted(round(p.get_height()) for p in ax.patches if p.get_height() > 0)
    assert heights == [4, 8, 10]  # January 10 new; February 4 new under 8 active
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(labels.values())


MONITOR = pd.DataFrame({
    "channel": ["百度搜索", "信息流广告", "自然搜索", TOTAL],
    "spend": [400.0, 60.0, 0.0, 460.0],
    "cost_per_investor": [400.0, 30.0, 0.0, 153.3],
    "cost_per_retained_investor": [400.0, np.nan, np.nan, 460.0],
})


def test_cost_bars():
    ax = plots.cost_bars(MONITOR, 90)
    # the two paid channels, two costs each but 信息流's per retained investor (none retained)
    assert len([b for b in bars(ax) if np.isfinite(b.get_width())]) == 3 and [t.get_text() for t in ax.get_yticklabels()] == ["百度搜索", "信息流广告"]
    assert "90 天内复投" in ax.get_legend().get_texts()[1].get_text()
    empty = plots.cost_bars(MONITOR.assign(spend=np.nan), 90)
    assert texts(empty) == [plots.NO_COSTS] and not bars(empty)


BUDGET = pd.DataFrame({"channel": ["Y", "X"], "spend": [1000.0, 1000.0],
                       "cost_per_investor": [250.0, 100.0], "value_per_investor": [500.0, 50.0],
                       "revenue_per_yuan": [2.0, 0.5]})


def test_budget_figures():
    ax = plots.revenue_per_yuan_bars(BUDGET, 180)
    assert [b.get_width() for b in bars(ax)] == [2.0, 0.5]
    (even,) = [ln for ln in ax.lines if ln.get_linestyle() == "--"]
    assert list(even.get_xdata()) == [1.0, 1.0]  # break-even at 1 yuan
    ax = plots.value_vs_cost(BUDGET, 180)
    assert texts(ax)[:2] == ["Y", "X"] and "盈亏平衡线" in texts(ax)[2]
    assert len(lines(ax)) == 1 and ax.get_xlim() == pytest.approx((0, 550))  # 500 x 1.1
    for f in (plots.revenue_per_yuan_bars, plots.value_vs_cost):
        assert texts(f(BUDGET.iloc[0:0], 180)) == [plots.NO_COSTS]


# --------------------------------------------------------------------------------- lines


COHORTS = pd.DataFrame({
    "cohort": ["2025-01", "2025-02"] * 3,
    "step": ["register"] * 2 + ["bind_card"] * 2 + ["first_investment"] * 2,
    "label": ["注册"] * 2 + ["绑卡"] * 2 + ["首投"] * 2,
    "rate_from_start": [1.0, 1.0, 0.6, 0.5, 0.3, 0.2],
    "ci_low": [1.0, 1.0, 0.5, 0.4, 0.2, 0.1], "ci_high": [1.0, 1.0, 0.7, 0.6, 0.4, 0.3],
})


def test_rate_lines_with_bands():
    ax = plots.cohort_rate_lines(COHORTS)
    # register (everyone) is left out: two lines, each with its Wilson band
    assert len(lines(ax)) == 2
    assert len(bands(ax)) == 2
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["绑卡", "首投"]
    assert tick(ax, 0.3) == "30%"
    plain = plots.rate_lines(COHORTS, x="cohort", y="rate_from_start", hue="label")
    assert len(lines(plain)) == 3 and not bands(plain)


def test_silhouette_and_lorenz():
    ax = plots.silhouette(pd.DataFrame({"k": [2, 3, 4], "silhouette": [0.3, 0.5, 0.4]}), 3)
    assert len(lines(ax)) == 2 and lines(ax)[1].get_xdata()[0] == 3 and "3 个群组" in ax.get_title()
    curve = pd.DataFrame({"population_share": [0, 0.5, 1], "value_share": [0, 0.1, 1]})
    ax = plots.lorenz_curve(curve)
    assert len(lines(ax)) == 2 and list(lines(ax)[1].get_ydata()) == [0, 1]  # the equality line


def test_retention_and_survival_curves():
    cohorts = pd.DataFrame({"cohort": [dt.date(2025, 1, 1)] * 3 + [dt.date(2025, 2, 1)] * 3,
                            "period": [0, 1, 2] * 2, "rate": [1.0, 0.5, np.nan, 1.0, 0.4, np.nan],
                            "complete": [True, True, False, True, True, False]})
    pooled = pd.DataFrame({"period": [0, 1], "rate": [1.0, 0.45]})
    ax = plots.retention_curves(cohorts, pooled)
    assert len(lines(ax)) == 3  # two cohorts, the pooled curve
    assert lines(ax)[-1].get_label() == "合并" and tick(ax, 0.45) == "45%"
    km = pd.DataFrame({"group": ["DSP"] * 2 + ["百度搜索"] * 2, "day": [0, 30] * 2,
                       "survival": [1.0, 0.5, 1.0, 0.8]})
    ax = plots.survival_curves(km)
    assert len(lines(ax)) == 2 and lines(ax)[0].get_drawstyle() == "steps-post"
    assert ax.get_ylim() == (0, 1.02)


def test_ltv_curves_with_cac_lines():
    cohorts = pd.DataFrame({"cohort": [dt.date(2025, 1, 1)] * 2 + [dt.date(2025, 2, 1)] * 2,
                            "month": [0, 1] * 2, "ltv": [2.0, 5.0, 3.0, np.nan],
                            "complete": [True, True, True, False]})
    ax = plots.ltv_cohort_curves(cohorts, pd.DataFrame({"month": [0, 1], "ltv": [2.5, 5.0]}))
    assert len(lines(ax)) == 3
    curves = pd.DataFrame({"group": ["DSP", "DSP", "自然搜索", "自然搜索"], "month": [0, 1] * 2,
                           "ltv": [1.0, 2.0, 3.0, 4.0]})
    cac = pd.DataFrame({"channel": ["DSP", "自然搜索", "其他"], "cac": [50.0, np.nan, 10.0]})
    ax = plots.ltv_channel_curves(curves, cac)
    # two LTV lines and one CAC line: 自然搜索 has no spend, 其他 has no curve
    assert len(lines(ax)) == 3 and list(lines(ax)[2].get_ydata()) == [50.0, 50.0]


def test_ci_errorbars_and_qini():
    frame = pd.DataFrame({"segment": ["a", "b"], "uplift": [0.02, -0.01],
                          "ci_low": [0.0, -0.03], "ci_high": [0.04, 0.01]})
    ax = plots.ci_errorbars(frame, y="segment")
    (points,) = ax.containers
    assert list(points.lines[0].get_xdata()) == [0.02, -0.01]
    assert ax.lines[-1].get_xdata()[0] == 0 and tick(ax, 0.02, "x") == "2%"
    qini = pd.DataFrame({"share_targeted": [0, 0.5, 1], "qini": [0, 8, 10], "random": [0, 5, 10]})
    ax = plots.qini_curve(qini)
    assert len(lines(ax)) == 2 and lines(ax)[1].get_linestyle() == "--"


# --------------------------------------------------------------------------------- heatmaps


def test_model_heatmap_orders_models_and_channels():
    credits = pd.DataFrame({"channel": ["A", "B"] * 2, "model": ["markov"] * 2 + ["last_touch"] * 2,
                            "share": [0.3, 0.7, 0.2, 0.8]})
    ax = plots.model_heatmap(credits, ["last_touch", "linear", "markov"], MODEL_LABELS)
    # models in the given order (linear was not computed), channels by mean share (B first)
    assert [t.get_text() for t in ax.get_xticklabels()] == [MODEL_LABELS["last_touch"],
                                                            MODEL_LABELS["markov"]]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["B", "A"]
    assert texts(ax) == ["80.0%", "70.0%", "20.0%", "30.0%"]


def test_rf_heatmap_suppresses_small_cells():
    heat = pd.DataFrame({"r_score": [1, 1, 2, 2], "f_score": [1, 2, 1, 2],
                         "users": [120, 4, 0, 30], "mean_monetary": [3000.0, 50000.0, np.nan, 800.0]})
    ax = plots.rf_heatmap(heat, label=label)
    # high R on top: (2,1) empty (grey, no label), (2,2) 30 people; then (1,1) 120 and
    # (1,2) 4 people: a small cell, grey like an empty one, its mean M (5.0万元) never drawn
    assert texts(ax) == ["800元\n30 人", "3,000元\n120 人"]
    assert "5.0万元" not in " ".join(texts(ax)) and "灰色为空档或人数过少" in ax.get_title()


def test_binned_count_panels_draw_no_small_bin():
    dist = pd.DataFrame({"measure": ["R", "R", "R"], "bin": ["0-30", "30-60", "60-90"],
                         "users": [120, 4, 30]})
    (ax,) = plots.binned_count_panels(dist, {"R": "R"}, label=label)
    heights = [p.get_height() for p in ax.patches]
    assert heights == [120, 0, 30]  # the 4 people are not drawn ...
    assert texts(ax) == ["<10"]     # ... only their label


def test_migration_and_transition_heatmaps():
    share = pd.DataFrame([[0.9, 0.1], [0.5, 0.5]], index=["甲", "乙"], columns=["甲", "乙"])
    users = pd.DataFrame([[90, 10], [3, 3]], index=share.index, columns=share.columns)
    ax = plots.migration_heatmap(share, users, label=label, xlabel="to", ylabel="from")
    assert texts(ax) == ["90", "10", "<10", "<10"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("to", "from")
    matrix = pd.DataFrame([[0.7, 0.3], [0.2, 0.8]], index=["active", "dormant"],
                          columns=["active", "dormant"])
    ax = plots.transition_heatmap(matrix, STATE_LABELS)
    assert texts(ax) == ["70%", "30%", "20%", "80%"]
    assert [t.get_text() for t in ax.get_yticklabels()] == [STATE_LABELS["active"],
                                                            STATE_LABELS["dormant"]]


def test_cohort_heatmaps_hatch_running_periods_and_hide_small_rates():
    jan, feb = dt.date(2025, 1, 1), dt.date(2025, 2, 1)
    table = pd.DataFrame({
        "cohort": [jan] * 3 + [feb] * 2, "period": [0, 1, 2, 0, 1],
        "users": [200, 200, 200, 50, 50], "retained": [200, 60, None, 5, None],
        "rate": [1.0, 0.3, np.nan, 0.1, np.nan], "complete": [True, True, False, True, False],
    })
    axes = plots.cohort_heatmaps([table, table], ["月", "周"], ["k 月", "k 周"], min_cell=10)
    assert len(axes) == 2 and [a.get_title() for a in axes] == ["月", "周"]
    ax = axes[0]
    # shown: 100% and 30%; February's 5 returners are a small cell, its rate is hidden; the two
    # running periods are hatched and say so, the period February has not begun stays blank
    assert texts(ax) == ["100%", "30%", "进行中", "进行中"]
    assert sum(isinstance(p, Rectangle) and p.get_hatch() == "///" for p in ax.patches) == 2
    shown = plots.cohort_heatmaps([table], ["月"], ["k"], min_cell=1)
    assert texts(shown[0]) == ["100%", "30%", "10%", "进行中", "进行中"]


# --------------------------------------------------------------------------------- chapter 6


def caps(ax: Axes) -> list[float]:
    """The cap sizes (marker sizes, twice the capsize) of every error bar of an axes."""
    return [cap.get_markersize() for c in ax.containers if hasattr(c, "has_xerr")
            for cap in c.lines[1]]


def test_ci_errorbars_capsize_and_qini_labels():
    frame = pd.DataFrame({"segment": ["a"], "uplift": [0.02], "ci_low": [0.0], "ci_high": [0.04]})
    assert set(caps(plots.ci_errorbars(frame, y="segment"))) == {8}  # default capsize 4
    assert set(caps(plots.ci_errorbars(frame, y="segment", capsize=6))) == {12}
    qini = pd.DataFrame({"share_targeted": [0, 0.5, 1], "qini": [0, 8, 10], "random": [0, 5, 10]})
    ax = plots.qini_curve(qini)
    assert [t.get_text() for t in ax.get_legend().get_texts()][0] == "按预测增量排序"
    ax = plots.qini_curve(qini, label="按预测增量排序 (two-model)", ylabel="增量响应者 (按实验组规模)")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["按预测增量排序 (two-model)",
                                                                   "随机排序"]
    assert ax.get_ylabel() == "增量响应者 (按实验组规模)"


def test_campaign_funnel_bars_label_counts_through_suppression():
    total = pd.DataFrame({"step": ["sent", "delivered", "goal"], "label": ["发送", "送达", "首投 (目标)"],
                          "users": [50, 40, 5], "reached": [50, 40, 12],
                          "rate_from_previous": [np.nan, 0.8, 0.125]}, index=[7, 8, 9])
    ax = plots.campaign_funnel_bars(total, "C1", label=label)
    # one bar per step, the members who came down the path (test_plots_readers: nested only)
    assert [b.get_width() for b in bars(ax)] == [50, 40, 5]
    # 5 on the path and 7 off it are small cells; the first step has no previous one
    assert texts(ax) == [" 50", " 40  (80.0%)", " <10  (12.5%)；另有 <10 人未沿路径达成"]
    assert [t.get_position()[0] for t in ax.texts] == [50, 40, 5]  # at the bar's end
    assert ax.get_xlim() == (0, pytest.approx(80.0))
    assert "C1" in ax.get_title() and ax.get_legend() is None


def test_response_rate_bars():
    rates = pd.DataFrame({"group": ["treatment", "control"],
                          "label": ["实验组", "对照组"], "users": [200, 8],
                          "responders": [60, 2], "rate": [0.3, 0.25], "ci_low": [0.24, 0.07],
                          "ci_high": [0.37, 0.59]})
    ax = plots.response_rate_bars(rates, "首投", label=label)
    assert [p.get_height() for p in ax.patches] == [0.3, 0.25]
    palette = theme.segment_palette(rates.label)
    assert [p.get_facecolor()[:3] for p in ax.patches] == [pytest.approx(c) for c in palette.values()]
    # the holdout's 8 members and 2 responders are small cells
    assert texts(ax) == ["30.0%\n60/200", "25.0%\n<10/<10"]
    assert [t.get_position()[1] for t in ax.texts] == [0.37, 0.59]  # above the interval
    assert set(caps(ax)) == {12}
    assert ax.get_ylim() == (0, pytest.approx(0.59 * 1.35))
    assert ax.get_ylabel() == "窗口内「首投」率" and tick(ax, 0.3) == "30%"


def test_smd_bars():
    bal = pd.DataFrame({"covariate": ["a", "b", "c"], "smd": [0.05, -0.15, 0.12]})
    ax = plots.smd_bars(bal, 0.1, 90)
    assert [b.get_width() for b in bars(ax)] == pytest.approx([0.05, -0.15, 0.12])
    dashed = [ln.get_xdata()[0] for ln in ax.lines if ln.get_linestyle() == "--"]
    assert dashed == [-0.1, 0.1]
    assert ax.get_title() == "活动前 90 天的行为：两组是否可比 (虚线 ±0.1)"


def test_goal_budget_bars_leave_the_total_out():
    from growthloop.metrics import planning

    rates = pd.DataFrame({"channel": ["A", "B"], "investors": [30, 10], "register_to_invest": [0.5, 0.25],
                          "click_to_register": [0.2, 0.1], "cost_per_investor_30d": [100.0, 0.0]})
    plan = planning.decompose_goal(rates, 80)  # A 60 -> 120 registrations, 6000 yuan; B 20 -> 80, 0
    ax = plots.goal_budget_bars(plan, 80)
    assert [b.get_width() for b in bars(ax)] == pytest.approx([6000, 0])
    assert texts(ax) == [" 首投 60 · 注册 120", " 首投 20 · 注册 80"]
    assert ax.get_xlim() == (0, pytest.approx(9000))
    assert ax.get_title().startswith("新增 80 名首投用户")


def test_cuped_intervals():
    cup = pd.DataFrame({"method": ["plain", "cuped"], "uplift": [0.02, 0.025],
                        "ci_low": [-0.01, 0.005], "ci_high": [0.05, 0.045]})
    ax = plots.cuped_intervals(cup, {"plain": "普通估计", "cuped": "CUPED"}, "pre_active_days")
    (points,) = ax.containers
    assert list(points.lines[0].get_xdata()) == [0.02, 0.025]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["普通估计", "CUPED"]
    assert ax.get_ylim() == (-0.5, 1.5) and set(caps(ax)) == {12}
    assert "pre_active_days" in ax.get_title() and tick(ax, 0.02, "x") == "2%"
    plt.close("all")
    plots.cuped_intervals(cup.iloc[:0], {}, "x")  # no holdout: empty axes, no error


def test_segment_uplift_panels_grey_small_segments():
    def table(segments, uplift, verdicts):
        u = np.array(uplift, float)
        return pd.DataFrame({"segment": segments, "uplift": u, "ci_low": u - 0.02,
                             "ci_high": u + 0.02, "verdict": verdicts})

    tables = {"age_band": table(["x", "y", "z"], [0.03, 0.1, np.nan], ["positive", "too_small", "too_small"]),
              "layer": table(["l1"], [0.01], ["not_significant"]),
              "rfm": table(["r1"], [-0.01], ["too_small"])}
    axes = plots.segment_uplift_panels(tables)
    assert axes.shape == (2, 2) and not axes[1, 1].get_visible()
    assert [ax.get_title() for ax in axes.flat[:3]] == ["年龄段", "资产分层", "RFM 分群"]  # the breakdowns named in Chinese
    first = axes[0, 0]
    # z has no uplift and is left out; x and y keep their table order
    assert [t.get_text() for t in first.get_yticklabels()] == ["x", "y"]
    colors = [c.lines[0].get_color() for c in first.containers]
    assert colors == [sns.color_palette()[0], (0.7, 0.7, 0.7)]  # y is too small: grey
    assert first.lines[-1].get_xdata()[0] == 0
    assert "30 人" in first.figure._suptitle.get_text()
    plt.close("all")
    one = plots.segment_uplift_panels({"layer": tables["layer"]}, min_cell=20)
    assert one.shape == (1, 1) and "20 人" in one[0, 0].figure._suptitle.get_text()


def test_history_intervals():
    hist = pd.DataFrame({"campaign_id": ["C1", "C2", "C3"], "name": ["甲", "乙", "丙"],
                         "uplift": [0.03, 0.01, np.nan], "ci_low": [0.01, -0.01, np.nan],
                         "ci_high": [0.05, 0.03, np.nan], "roi": [-0.2, 0.4, np.nan]})
    ax = plots.history_intervals(hist)
    (points,) = ax.containers
    assert list(points.lines[0].get_xdata()) == [0.03, 0.01]  # C3 (no holdout) left out
    assert [t.get_text() for t in ax.get_yticklabels()] == ["C1 甲", "C2 乙"]
    assert texts(ax) == ["ROI -20%", "ROI 40%"]
    assert [t.xy for t in ax.texts] == [(0.05, 0), (0.03, 1)]  # at the end of each interval
    assert ax.yaxis_inverted() and set(caps(ax)) == {10}
    # a campaign with an uplift but no costs: no ROI label, never "ROI nan%"
    no_cost = plots.history_intervals(hist.assign(roi=[np.nan, 0.4, np.nan]))
    assert texts(no_cost) == ["ROI 40%"]
    # room on the right for the ROI labels: 15% more than the data needs
    _fig, ref = plt.subplots()
    ref.errorbar([0.03, 0.01], ["a", "b"], xerr=[[0.02, 0.02], [0.02, 0.02]])
    ref.axvline(0)
    lo, hi = ref.get_xlim()
    assert ax.get_xlim() == (pytest.approx(lo), pytest.approx(hi + (hi - lo) * 0.15))


def test_weekly_trend_lines_leave_small_weeks_out():
    trend = pd.DataFrame({
        "week": pd.to_datetime(["2025-03-03", "2025-03-10", "2025-03-03", "2025-03-10"]).date,
        "channel": ["甲", "甲", "乙", "乙"], "registrations": [40, 4, 30, 25],
        "first_investors": [10, 1, 6, 5], "spend": [400.0, 80.0, 300.0, 250.0],
        "cost_per_registration": [10.0, 20.0, 10.0, 10.0], "matured": [True] * 4,
        "first_invest_rate": [0.25, 0.25, 0.2, 0.2]})
    left, right = plots.weekly_trend_lines(trend, ["甲", "乙"], label=label)
    assert [line.get_label() for line in left.lines] == ["甲", "乙"]
    # 甲's second week has 4 people: not drawn (a gap), in both panels
    assert np.isnan(left.lines[0].get_ydata()[1]) and np.isnan(right.lines[0].get_ydata()[1])
    assert list(left.lines[1].get_ydata()) == [10.0, 10.0]

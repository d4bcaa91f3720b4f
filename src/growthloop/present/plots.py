"""The book's figures: one function per kind of figure the chapters draw.

Every function follows seaborn's and lifetimes' habit: it takes the data (a frame a library
function returned) and ``ax=None``, draws on ``ax`` or on a new figure when none is given, and
returns the axes, so a chapter can arrange figures and end the cell with ``gb.show(ax.figure)``.
Figure-level functions (several panels) return the array of axes instead.

Counts of people written on a figure go through a ``label`` callable (``ch.cell_label``), so
small cells show as "<10" exactly as in the chapter's tables. Colours of channels and segments
come from :mod:`growthloop.present.theme`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle

from growthloop.metrics.campaign_review import breakdown_label
from growthloop.present.tables import MIN_CELL_SIZE, cell_label, is_small
from growthloop.present.theme import channel_palette, segment_palette
from growthloop.present.units import yuan

__all__ = [
    "NO_COSTS", "binned_count_panels", "campaign_funnel_bars", "ci_errorbars", "cohort_heatmaps",
    "cohort_rate_lines", "cost_bars", "count_bars", "cuped_intervals", "disagreement_bars",
    "funnel_bars", "goal_budget_bars", "heatmap", "hidden", "history_intervals", "lorenz_curve",
    "ltv_channel_curves", "ltv_cohort_curves", "migration_heatmap", "model_heatmap", "no_data",
    "nth_bars", "nth_rate_lines", "paired_bars", "percent_axis", "qini_curve", "rate_lines",
    "response_rate_bars", "retention_curves", "revenue_per_yuan_bars", "rf_heatmap",
    "segment_rate_panels", "segment_uplift_panels", "share_bars", "share_panels", "silhouette",
    "smd_bars", "state_bars", "survival_curves", "time_histogram", "transition_heatmap",
    "value_vs_cost", "weekly_trend_lines",
]

#: What a figure of spend says when the data has no costs table.
NO_COSTS = "没有成本数据（数据中没有 costs 表）"
Label = Callable[..., str]


def default_label(n: object, fmt: str = "{:,.0f}") -> str:
    """Write a count of people at the default minimum cell size, called as ``label(n, fmt)``.

    The figures' default `label`; a chapter passes ``ch.cell_label`` (its own min_cell_size).

    Parameters
    ----------
    n : object
        A count.
    fmt : str, default "{:,.0f}"
        The format of a count that is shown.

    Returns
    -------
    str
        The count, or "<10" for a small one.
    """
    return cell_label(n, MIN_CELL_SIZE, fmt)


def hidden(label: Label, n: object) -> bool:
    """Whether `label` (``ch.cell_label``) suppresses the count `n`: a figure then draws neither
    the count nor anything computed from its group.

    Parameters
    ----------
    label : callable
        Formats a count of people, called as ``label(n, fmt)`` (``ch.cell_label``).
    n : object
        A count (None or NaN: not hidden).

    Returns
    -------
    bool
        True when `label` writes something other than the count itself ("<10").

    Examples
    --------
    >>> hidden(default_label, 3), hidden(default_label, 30), hidden(default_label, 0)
    (True, False, False)
    """
    if n is None or (isinstance(n, float) and np.isnan(n)):
        return False
    return label(n, "{:,.0f}") != f"{float(n):,.0f}"


def _ax(ax: Axes | None, figsize: tuple[float, float] | None = None) -> Axes:
    """`ax`, or the axes of a new figure of `figsize` (matplotlib's default size when None)."""
    if ax is not None:
        return ax
    _fig, new = plt.subplots(figsize=figsize)
    return new


def _percent(v: float, _pos: Any = None) -> str:
    return f"{v:.0%}"


def percent_axis(ax: Axes, axis: str = "y") -> Axes:
    """Tick labels of `axis` ("x" or "y") as whole percents (0.25 -> 25%); returns `ax`.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        The axes.
    axis : {"x", "y"}, default "y"
        The axis whose tick labels become percents.

    Returns
    -------
    matplotlib.axes.Axes
        `ax`.

    Raises
    ------
    ValueError
        For another `axis`.
    """
    if axis not in ("x", "y"):
        raise ValueError(f"axis: {axis!r} is not one of ['x', 'y']")
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(plt.FuncFormatter(_percent))
    return ax


def no_data(ax: Axes, text: str = NO_COSTS) -> Axes:
    """Say in the middle of the axes that there is nothing to draw.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        The axes to write on.
    text : str, default NO_COSTS
        What to say.

    Returns
    -------
    matplotlib.axes.Axes
        `ax`.
    """
    ax.text(0.5, 0.5, text, ha="center", transform=ax.transAxes)
    return ax


# --------------------------------------------------------------------------------- bars


def share_bars(frame: pd.DataFrame, x: str, shares: Mapping[str, str], ax: Axes | None = None,
               title: str | None = None, xlabel: str = "", ylabel: str = "占比",
               palette: Sequence | None = None, legend_fontsize: float | None = None,
               bar_labels: bool = False, figsize: tuple[float, float] | None = None) -> Axes:
    """Side-by-side shares per category: one bar per share column for each value of `x`.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per category of `x`, with the share columns.
    x : str
        The category column.
    shares : mapping of str to str
        {share column: legend label}, in legend order (user_share -> 用户 ...).
    ax : matplotlib.axes.Axes, optional
        The axes to draw on; a new figure when None.
    title : str, optional
        The title; none when None.
    xlabel : str, default ""
        The category axis' label.
    ylabel : str, default "占比"
        The share axis' label (in percent).
    palette : sequence, optional
        Colours of the shares in order; seaborn's default colours when None.
    legend_fontsize : float, optional
        The legend's font size; matplotlib's default when None.
    bar_labels : bool, default False
        Write each bar's share (a whole percent) above it.
    figsize : tuple of float, optional
        The new figure's size in inches; matplotlib's default when None.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    ax = _ax(ax, figsize)
    long = frame.melt(id_vars=[x], value_vars=list(shares), var_name="share", value_name=ylabel)
    long["share"] = long["share"].map(dict(shares))
    sns.barplot(long, x=x, y=ylabel, hue="share", palette=palette, ax=ax)
    if bar_labels:
        for container in ax.containers:
            ax.bar_label(container, labels=[f"{v:.0%}" for v in container.datavalues], fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    percent_axis(ax)
    ax.legend(title="", fontsize=legend_fontsize)
    return ax


def share_panels(frame: pd.DataFrame, by: str, panels: Sequence[str], x: str,
                 shares: Mapping[str, str], titles: Mapping[str, str] | None = None,
                 ncols: int = 2, figsize: tuple[float, float] = (11, 7),
                 suptitle: str | None = None, legend_fontsize: float | None = 8) -> np.ndarray:
    """`share_bars` for several groups of a long frame, one panel each.

    `frame` holds the rows of every group, told apart by the column `by`; `panels` are the
    groups to draw, in order, titled by `titles` (the group's own name when missing). Returns
    the array of axes; panels left over in the grid are hidden.

    Parameters
    ----------
    frame : pandas.DataFrame
        The rows of every group: `by`, `x` and the share columns.
    by : str
        The column naming each row's group.
    panels : sequence of str
        The groups to draw, one panel each, in order (at least one).
    x : str
        The category column of each panel.
    shares : mapping of str to str
        {share column: legend label}, in legend order (`share_bars`).
    titles : mapping of str to str, optional
        {group: panel title}; a group missing (or None for all) is titled by its name.
    ncols : int, default 2
        Panels per row.
    figsize : tuple of float, default (11, 7)
        The figure's size in inches.
    suptitle : str, optional
        The figure's title; none when None or "".
    legend_fontsize : float or None, default 8
        The legends' font size; matplotlib's default when None.

    Returns
    -------
    numpy.ndarray
        The grid of axes (rows x `ncols`).
    """
    panels = list(panels)
    titles = dict(titles or {})
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=figsize, squeeze=False)
    for ax, name in zip(axes.flat, panels, strict=False):
        share_bars(frame[frame[by] == name], x=x, shares=shares, ax=ax,
                   title=titles.get(name, name), legend_fontsize=legend_fontsize)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    if suptitle:
        fig.suptitle(suptitle)
    return axes


def funnel_bars(steps: pd.DataFrame, label: Label = default_label, ax: Axes | None = None,
                title: str = "转化漏斗：每一步的人数、转化率与流失",
                figsize: tuple[float, float] = (8, 4.5)) -> Axes:
    """A funnel as horizontal bars, each labelled with its people, its rate from the previous
    step, the people lost and those still in progress.

    Parameters
    ----------
    steps : pandas.DataFrame
        A `funnel.funnel` table without breakdown (label, users, rate_from_previous, lost,
        in_progress).
    label : callable
        Formats a count of people, called as ``label(n, fmt)``: ``ch.cell_label``, so a small
        count shows as "<10".
    ax : matplotlib.axes.Axes, optional
        The axes to draw on; a new figure when None.
    title : str, default "转化漏斗：每一步的人数、转化率与流失"
        The title.
    figsize : tuple of float, default (8, 4.5)
        The new figure's size in inches.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    ax = _ax(ax, figsize)
    steps = steps.reset_index(drop=True)
    sns.barplot(steps, x="users", y="label", color=sns.color_palette()[0], ax=ax)
    for i, row in steps.iterrows():
        note = label(row.users, "{:,}")
        if i:
            note += f"  转化 {row.rate_from_previous:.1%} · 流失 {label(row.lost, '{:,}')}"
            if row.in_progress:
                note += f" · 进行中 {label(row.in_progress, '{:,}')}"
        ax.text(row.users, i, " " + note, va="center", fontsize=9)
    ax.set(xlabel="人数", ylabel="", title=title)
    ax.set_xlim(0, steps.users.max() * 1.6)
    return ax


def campaign_funnel_bars(total: pd.DataFrame, campaign_id: str, label: Label = default_label,
                         ax: Axes | None = None, figsize: tuple[float, float] = (8, 4.2)) -> Axes:
    """A campaign's own funnel: per step the treated members who came down the path, labelled
    with the people and the rate from the previous step.

    The funnel is nested (each step counts only the members of the step above), so its bars
    never widen. Members who reached a step another way (a card bound before the campaign, an
    investment without clicking) are not drawn: the goal's bar notes how many reached it off the
    path, and the chapter's table has every step's "reached" count.

    Parameters
    ----------
    total
        The total rows of `campaign_review.campaign_funnel` (`campaign_review.funnel_total`):
        label, users, reached, rate_from_previous, in step order.
    campaign_id
        Named in the title.
    label
        Formats a count of people, ``label(n, fmt)``: ``ch.cell_label``.
    ax
        The axes to draw on; a new figure when None.
    figsize
        The new figure's size in inches.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.

    Raises
    ------
    ValueError
        When a step has more people on the path than the step above (not a nested funnel).
    """
    total = total.reset_index(drop=True)
    widening = total.users.diff().fillna(0) > 0
    if widening.any():
        step = total.label[widening.idxmax()]
        raise ValueError(f"campaign funnel: {step} has more people on the path than the step above; "
                         "the funnel must be nested")
    ax = _ax(ax, figsize)
    sns.barplot(total, x="users", y="label", color=sns.color_palette()[0], ax=ax)
    last = len(total) - 1
    for i, row in total.iterrows():
        note = f" {label(row.users, '{:,}')}" + (f"  ({row.rate_from_previous:.1%})" if i else "")
        off_path = row.reached - row.users
        if i == last and off_path > 0:
            note += f"；另有 {label(off_path, '{:,}')} 人未沿路径达成"
        ax.text(row.users, i, note, va="center", fontsize=9)
    ax.set(xlabel="实验组人数（沿路径逐步到达）", ylabel="", title=f"{campaign_id} 活动漏斗 (括号内为从上一步的转化率)")
    ax.set_xlim(0, total.users.max() * 1.6)
    return ax


def response_rate_bars(rates: pd.DataFrame, goal_label: str, label: Label = default_label,
                       ax: Axes | None = None,
                       title: str = "响应率：实验组与对照组 (Wilson 95% 区间)",
                       figsize: tuple[float, float] = (7, 3.8)) -> Axes:
    """Each group's response rate as a bar (segment colours) with its interval, labelled with
    the rate and responders / members.

    Parameters
    ----------
    rates
        `campaign_review.rates_table`: label, users, responders, rate, ci_low, ci_high.
    goal_label
        The goal as shown (首投): the rate axis reads 窗口内「<goal_label>」率.
    label
        Formats a count of people, ``label(n, fmt)``: ``ch.cell_label``.
    title
        The figure's title.
    ax
        The axes to draw on; a new figure when None.
    figsize
        The new figure's size in inches.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    ax = _ax(ax, figsize)
    rates = rates.reset_index(drop=True)
    colors = list(segment_palette(rates.label).values())
    ax.bar(rates.label, rates.rate, color=colors, width=0.5)
    ax.errorbar(rates.label.to_numpy(), rates.rate.to_numpy(),
                yerr=[(rates.rate - rates.ci_low).to_numpy(), (rates.ci_high - rates.rate).to_numpy()],
                fmt="none", ecolor="black", capsize=6)
    for i, row in rates.iterrows():
        ax.text(i, row.ci_high, f"{row.rate:.1%}\n{label(row.responders, '{:,}')}/{label(row.users, '{:,}')}",
                ha="center", va="bottom", fontsize=9)
    ax.set(ylabel=f"窗口内「{goal_label}」率", title=title)
    ax.set_ylim(0, max(rates.ci_high.max(), 0.01) * 1.35)
    percent_axis(ax)
    return ax


def smd_bars(balance: pd.DataFrame, limit: float, pre_days: int, ax: Axes | None = None,
             figsize: tuple[float, float] = (7, 3.2)) -> Axes:
    """Each pre-campaign measure's standardised mean difference (treatment - holdout) as a
    bar, with dashed lines at -`limit` and +`limit`.

    Parameters
    ----------
    balance
        `campaign_review.balance`: covariate, smd.
    limit
        The |SMD| beyond which a measure is imbalanced (`campaign_review.SMD_LIMIT`).
    pre_days
        The days before the campaign the measures cover, named in the title.
    ax
        The axes to draw on; a new figure when None.
    figsize
        The new figure's size in inches.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    ax = _ax(ax, figsize)
    sns.barplot(balance, x="smd", y="covariate", color=sns.color_palette()[0], ax=ax)
    for x in (-limit, limit):
        ax.axvline(x, color="grey", ls="--", lw=1)
    ax.set(xlabel="标准化均值差（实验组 − 对照组）", ylabel="",
           title=f"活动前 {pre_days} 天的行为：两组是否可比 (虚线 ±{limit:g})")
    return ax


def goal_budget_bars(plan: pd.DataFrame, target_investors: float, ax: Axes | None = None,
                     figsize: tuple[float, float] = (8, 4.2)) -> Axes:
    """The budget each channel needs for its part of a target of new first investors (channel
    colours), labelled with its first investors and registrations; the total row is left out.

    Parameters
    ----------
    plan
        `planning.decompose_goal`: channel, budget, target_investors, target_registrations,
        channels first, then the total row.
    target_investors
        The target, named in the title.
    ax
        The axes to draw on; a new figure when None.
    figsize
        The new figure's size in inches.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    from growthloop.metrics.planning import TOTAL as total

    ax = _ax(ax, figsize)
    shown = plan[plan.channel != total]
    sns.barplot(shown, x="budget", y="channel", hue="channel",
                palette=channel_palette(shown.channel.tolist()), legend=False, ax=ax)
    for i, row in shown.reset_index(drop=True).iterrows():
        ax.text(row.budget, i, f" 首投 {row.target_investors:.0f} · 注册 {row.target_registrations:,.0f}",
                va="center", fontsize=8)
    ax.set(xlabel="所需预算 (元)", ylabel="",
           title=f"新增 {target_investors} 名首投用户：各渠道要交付的量与预算")
    ax.set_xlim(0, shown.budget.max() * 1.5)
    return ax


def segment_rate_panels(frame: pd.DataFrame, segments: Sequence[str], ncols: int = 3,
                        title: str | None = None, panel_size: tuple[float, float] = (3.6, 2.6)
                        ) -> np.ndarray:
    """Small multiples of a funnel by segment: one panel per step, one bar per segment.

    Each panel shows one step's rate from the previous step for every segment, in the same
    segment order and channel colours in every panel, with the rate printed at the bar and a
    dashed line at the rate of all the segments shown together (their converted ÷ base). One
    panel per step reads faster than steps × segments grouped bars, and a step whose rates are
    small is not flattened by a scale shared with large ones. The first step (no previous one)
    and segments not in `segments` are left out.

    Parameters
    ----------
    frame : pandas.DataFrame
        A `funnel.funnel` table with a breakdown (segment, step, label, rate_from_previous,
        base_previous, converted_previous).
    segments : sequence of str
        The segments shown, in order (`funnel.top_segments`).
    ncols : int, default 3
        Panels per row.
    title : str, optional
        The figure's title; none when None.
    panel_size : tuple of float, default (3.6, 2.6)
        Each panel's size in inches.

    Returns
    -------
    numpy.ndarray
        The grid of axes (rows x `ncols`); panels left over are hidden.
    """
    segments = list(segments)
    first = frame.step.iloc[0] if len(frame) else None
    shown = frame[frame.segment.isin(segments) & (frame.step != first)]
    steps = list(dict.fromkeys(shown.step))
    nrows = max(1, -(-len(steps) // ncols))
    fig, axes = plt.subplots(nrows, ncols, squeeze=False, sharey=True,
                             figsize=(panel_size[0] * ncols, panel_size[1] * nrows + 0.6))
    colors = channel_palette(segments)
    for ax, step in zip(axes.flat, steps, strict=False):
        rows = shown[shown.step == step].set_index("segment").reindex(segments)
        rates = rows.rate_from_previous.astype(float)
        drawn = [i for i, rate in enumerate(rates) if not np.isnan(rate)]  # a hidden rate: a dash
        ax.barh(drawn, rates.iloc[drawn].to_numpy(), color=[colors[segments[i]] for i in drawn])
        for i, rate in enumerate(rates):
            ax.text(0 if np.isnan(rate) else rate, i, " —" if np.isnan(rate) else f" {rate:.0%}",
                    va="center", fontsize=8)
        base = pd.to_numeric(rows.get("base_previous"), errors="coerce").sum()
        done = pd.to_numeric(rows.get("converted_previous"), errors="coerce").sum()
        if base > 0:
            ax.axvline(done / base, color="grey", ls="--", lw=1)
        ax.set_title(str(rows.label.dropna().iloc[0]) if rows.label.notna().any() else str(step),
                     fontsize=10)
        ax.set_xlim(0, max(0.05, float(np.nanmax(rates.to_numpy())) * 1.35) if rates.notna().any() else 1)
        percent_axis(ax, "x")
        ax.set_yticks(range(len(segments)), segments)
    axes.flat[0].invert_yaxis()  # shared: the first segment on top in every panel
    for ax in list(axes.flat)[len(steps):]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    fig.supxlabel("从上一步的转化率（虚线：这些分组合计）", fontsize=9)
    fig.tight_layout()
    return axes


def paired_bars(frame: pd.DataFrame, x: str, y: str, hue: str, ax: Axes | None = None,
                title: str | None = None, xlabel: str = "", ylabel: str = "",
                order: Sequence[str] | None = None, percent: str | None = None,
                legend: Mapping[str, Any] | None = None,
                figsize: tuple[float, float] | None = None) -> Axes:
    """Grouped bars of a long frame: `y` per `x`, one bar per `hue` (seaborn's colours).

    The time-to-convert histogram (share per time bin, one bar per transition) and the models'
    credit per channel are drawn with it. `percent`: "x" or "y" to show that axis in percent;
    `legend`: keywords of the legend (title "" by default).

    Parameters
    ----------
    frame : pandas.DataFrame
        A long frame with the columns `x`, `y` and `hue`.
    x, y : str
        The columns of the two axes; the categorical one gives the groups of bars.
    hue : str
        The column whose values are the bars of a group.
    ax : matplotlib.axes.Axes, optional
        The axes to draw on; a new figure when None.
    title : str, optional
        The title; none when None.
    xlabel, ylabel : str, default ""
        The axes' labels.
    order : sequence of str, optional
        The groups' order on the categorical axis; as they come when None.
    percent : {"x", "y"}, optional
        The axis shown in whole percents; neither when None.
    legend : mapping, optional
        Keywords of ``ax.legend`` (title "" unless given).
    figsize : tuple of float, optional
        The new figure's size in inches; matplotlib's default when None.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    ax = _ax(ax, figsize)
    sns.barplot(frame, x=x, y=y, hue=hue, order=order, ax=ax)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    if percent:
        percent_axis(ax, percent)
    ax.legend(**({"title": ""} | dict(legend or {})))
    return ax


def time_histogram(hist: pd.DataFrame, ax: Axes | None = None,
                   figsize: tuple[float, float] = (9, 4.8)) -> Axes:
    """`funnel.time_to_convert`'s histogram: the share of each transition's conversions per
    time bin, one bar per transition.

    Parameters
    ----------
    hist : pandas.DataFrame
        The histogram of `funnel.time_to_convert`: transition, bin, share.
    ax : matplotlib.axes.Axes, optional
        The axes to draw on; a new figure when None.
    figsize : tuple of float, default (9, 4.8)
        The new figure's size in inches.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    return paired_bars(hist, x="bin", y="share", hue="transition", ax=ax,
                       xlabel="从上一步到这一步的时间", ylabel="转化者占比",
                       title="每一步要等多久 (仅窗口内完成的转化)", percent="y",
                       legend={"fontsize": 8, "ncols": 2}, figsize=figsize)


def disagreement_bars(disagree: pd.DataFrame, labels: Mapping[str, str], ax: Axes | None = None,
                      figsize: tuple[float, float] = (9, 4.8)) -> Axes:
    """Two attribution models' share of credit per channel (`attribution.disagreement`, its
    pair of models in ``attrs["pair"]``), channels by how much the models disagree.

    Parameters
    ----------
    disagree : pandas.DataFrame
        `attribution.disagreement`: channel and a share column per model, largest
        disagreement first; ``attrs["pair"]`` = (a, b).
    labels : mapping of str to str
        {model: shown name} (`attribution.MODEL_LABELS`), for both models of the pair.
    ax : matplotlib.axes.Axes, optional
        The axes to draw on; a new figure when None.
    figsize : tuple of float, default (9, 4.8)
        The new figure's size in inches.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    a, b = disagree.attrs["pair"]
    shown = disagree.melt(id_vars="channel", value_vars=[a, b], var_name="model",
                          value_name="share")
    shown["model"] = shown.model.map(labels)
    return paired_bars(shown, x="share", y="channel", hue="model",
                       order=disagree.channel.tolist(), ax=ax, xlabel="功劳占比",
                       title=f"{labels[a]} vs {labels[b]}：按分歧大小排序", percent="x",
                       legend={"fontsize": 9}, figsize=figsize)


def count_bars(frame: pd.DataFrame, x: str, y: str, ax: Axes | None = None,
               title: str | None = None, xlabel: str = "", ylabel: str = "",
               palette: Mapping[str, Any] | str | None = None,
               figsize: tuple[float, float] | None = None) -> Axes:
    """One bar per row: `y` against `x`, horizontal when `y` is the category.

    `palette`: "channel" colours the bars by channel (the category column), else one colour.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per bar.
    x, y : str
        The columns of the two axes; the non-numeric one (`y` when `x` is numeric) is the
        category.
    ax : matplotlib.axes.Axes, optional
        The axes to draw on; a new figure when None.
    title : str, optional
        The title; none when None.
    xlabel, ylabel : str, default ""
        The axes' labels.
    palette : str, optional
        "channel" for channel colours; anything else (None) draws one colour.
    figsize : tuple of float, optional
        The new figure's size in inches; matplotlib's default when None.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    ax = _ax(ax, figsize)
    category = y if pd.api.types.is_numeric_dtype(frame[x]) else x
    if palette == "channel":
        sns.barplot(frame, x=x, y=y, hue=category, palette=channel_palette(frame[category]),
                    legend=False, ax=ax)
    else:
        sns.barplot(frame, x=x, y=y, color=sns.color_palette()[0], ax=ax)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    return ax


def binned_count_panels(dist: pd.DataFrame, titles: Mapping[str, str],
                        ylabel: str = "投资人数",
                        figsize: tuple[float, float] = (12, 4.2),
                        label: Label = default_label) -> np.ndarray:
    """People per bin of each measure side by side (`rfm.distribution`: measure, bin, users),
    one panel per measure of `titles` ({measure: title}), in order. Returns the axes. A bin
    whose count `label` suppresses has no bar, only its label ("<10") at the axis.

    Parameters
    ----------
    dist : pandas.DataFrame
        `rfm.distribution`: measure, bin, users, bins in order within each measure.
    titles : mapping of str to str
        {measure: panel title} of the measures drawn (R, F, M), in panel order; at least one.
    ylabel : str, default "投资人数"
        The first panel's count axis label.
    figsize : tuple of float, default (12, 4.2)
        The figure's size in inches.
    label : callable, default default_label
        Formats a count of people, called as ``label(n, fmt)``: ``ch.cell_label``; a bin it
        suppresses is not drawn.

    Returns
    -------
    numpy.ndarray
        The axes, one per measure.
    """
    _fig, axes = plt.subplots(1, len(titles), figsize=figsize, squeeze=False)
    for i, (ax, (measure, title)) in enumerate(zip(axes[0], titles.items(), strict=True)):
        part = dist[dist.measure == measure]
        small = [hidden(label, n) for n in part.users]
        count_bars(part.assign(users=[0 if h else n for h, n in zip(small, part.users, strict=True)]),
                   x="bin", y="users", ax=ax, title=title, ylabel=ylabel if i == 0 else "")
        for k, (too_small, n) in enumerate(zip(small, part.users, strict=True)):
            if too_small:
                ax.annotate(label(n, "{:,.0f}"), (k, 0), xytext=(0, 2), textcoords="offset points",
                            ha="center", va="bottom", fontsize=7, color="#555555")
        ax.tick_params(axis="x", rotation=60, labelsize=8)
    return axes[0]


def nth_bars(nth: pd.DataFrame, ax: Axes | None = None,
             title: str = "投资满 n 次的人数（标注：占首投人数）",
             figsize: tuple[float, float] | None = None) -> Axes:
    """People who made at least n investments, each bar labelled with its share of the first.

    Parameters
    ----------
    nth : pandas.DataFrame
        `retention.nth_investment` without a breakdown: n, users, rate_from_first.
    ax : matplotlib.axes.Axes, optional
        The axes to draw on; a new figure when None.
    title : str, default "投资满 n 次的人数（标注：占首投人数）"
        The title.
    figsize : tuple of float, optional
        The new figure's size in inches; matplotlib's default when None.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    ax = _ax(ax, figsize)
    nth = nth.reset_index(drop=True)
    sns.barplot(nth, x="n", y="users", color=sns.color_palette()[0], ax=ax)
    for i, row in nth.iterrows():
        ax.text(i, row.users, f"{row.rate_from_first:.0%}", ha="center", va="bottom", fontsize=9)
    ax.set(xlabel="第 n 次投资", ylabel="人数", title=title)
    return ax


def state_bars(states: pd.DataFrame, labels: Mapping[str, str], ax: Axes | None = None,
               title: str = "每月末的生命周期状态", legend_title: str = "状态",
               figsize: tuple[float, float] | None = None) -> Axes:
    """Users per lifecycle state at each period end, stacked (segment colours).

    `states` is `retention.lifecycle` (period, state, users); `labels` maps the states to their
    shown names, in stacking order.

    Parameters
    ----------
    states : pandas.DataFrame
        `retention.lifecycle`: period, state, users.
    labels : mapping of str to str
        {state: shown name} for every state (`retention.STATE_LABELS`), in stacking order.
    ax : matplotlib.axes.Axes, optional
        The axes to draw on; a new figure when None.
    title : str, default "每月末的生命周期状态"
        The title.
    legend_title : str, default "状态"
        The legend's title.
    figsize : tuple of float, optional
        The new figure's size in inches; matplotlib's default when None.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    ax = _ax(ax, figsize)
    shown = states.assign(period=states.period.astype(str), state=states.state.map(labels))
    order = list(labels.values())
    sns.histplot(shown, x="period", weights="users", hue="state", hue_order=order,
                 multiple="stack", palette=segment_palette(order), shrink=0.85, discrete=True,
                 ax=ax)
    ax.tick_params(axis="x", rotation=90, labelsize=7)
    ax.set(xlabel="月份（最后一个月截至分析日）", ylabel="用户数", title=title)
    ax.get_legend().set_title(legend_title)
    return ax


def weekly_trend_lines(trend: pd.DataFrame, channels: Sequence[str], label: Label = default_label,
                       figsize: tuple[float, float] = (12, 4.4)) -> np.ndarray:
    """`attribution.weekly_trend`: cost per sign-up (left) and first-investment rate (right,
    matured weeks only) per week, one line per channel of `channels`; a week whose sign-ups
    `label` suppresses is a gap in its channel's lines.

    Parameters
    ----------
    trend : pandas.DataFrame
        `attribution.weekly_trend`.
    channels : sequence of str
        The channels drawn, in legend order (the chapter's largest by spend).
    label : callable, default default_label
        Formats a count of people (``ch.cell_label``); a suppressed week is not drawn.
    figsize : tuple of float, default (12, 4.4)
        The figure's size in inches.

    Returns
    -------
    numpy.ndarray
        The two axes.
    """
    _fig, axes = plt.subplots(1, 2, figsize=figsize, squeeze=False)
    left, right = axes[0]
    palette = channel_palette(list(channels))
    shown = trend.assign(
        cost_per_registration=trend.cost_per_registration.where(
            [not hidden(label, n) for n in trend.registrations]),
        first_invest_rate=trend.first_invest_rate.where(
            [not hidden(label, n) for n in trend.registrations]))
    for channel in channels:
        part = shown[shown.channel == channel].sort_values("week")
        weeks = pd.to_datetime(part.week)
        left.plot(weeks, part.cost_per_registration, marker="o", ms=3, label=channel,
                  color=palette.get(channel))
        right.plot(weeks, part.first_invest_rate, marker="o", ms=3, label=channel,
                   color=palette.get(channel))
    invest_days = trend.attrs.get("invest_days", 30)
    left.set(title="每周获客成本/注册 (元)", ylabel="元", xlabel="注册周 (周一)")
    right.set(title=f"每周注册后 {invest_days} 天内首投率 (只画已满期的周)", xlabel="注册周 (周一)")
    percent_axis(right)
    for ax in (left, right):
        ax.tick_params(axis="x", rotation=45, labelsize=8)
    if channels:
        right.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    else:
        no_data(left)
        no_data(right)
    return axes[0]


def cost_bars(monitor: pd.DataFrame, retention_days: int, ax: Axes | None = None,
              figsize: tuple[float, float] = (9, 4.8)) -> Axes:
    """Paid channels' cost per first investor and per retained investor (`attribution.
    channel_monitor`), cheapest retained investor first; a note instead of bars when there are
    no costs.

    Parameters
    ----------
    monitor : pandas.DataFrame
        A channel-level `attribution.channel_monitor` table (channel, spend,
        cost_per_investor, cost_per_retained_investor).
    retention_days : int
        The table's retention days (a retained investor invests again within them), named in
        the legend.
    ax : matplotlib.axes.Axes, optional
        The axes to draw on; a new figure when None.
    figsize : tuple of float, default (9, 4.8)
        The new figure's size in inches.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    from growthloop.metrics.attribution import TOTAL as total

    ax = _ax(ax, figsize)
    paid = monitor[(monitor.spend > 0) & (monitor.channel != total)]
    costs = paid.melt(id_vars="channel",
                      value_vars=["cost_per_investor", "cost_per_retained_investor"],
                      var_name="metric", value_name="yuan")
    costs["metric"] = costs.metric.map({
        "cost_per_investor": "每个首投用户的成本",
        "cost_per_retained_investor": f"每个留存投资用户的成本 ({retention_days} 天内复投)"})
    order = paid.sort_values("cost_per_retained_investor").channel.tolist()
    if len(costs):
        sns.barplot(costs, y="channel", x="yuan", hue="metric", order=order, ax=ax)
        ax.legend(title="", fontsize=9, loc="upper right")
    else:
        no_data(ax)
    ax.set(xlabel="元", ylabel="", title="付费渠道的获客成本：首投用户与留存投资用户")
    return ax


def revenue_per_yuan_bars(budget: pd.DataFrame, horizon: int, ax: Axes | None = None,
                          figsize: tuple[float, float] = (8, 4.5)) -> Axes:
    """Revenue per yuan of spend per paid channel, with the break-even line at 1.

    Parameters
    ----------
    budget : pandas.DataFrame
        `attribution.budget_reallocation`: channel, revenue_per_yuan (empty: the no-costs
        note).
    horizon : int
        The LTV horizon in days, named in the axis label.
    ax : matplotlib.axes.Axes, optional
        The axes to draw on; a new figure when None.
    figsize : tuple of float, default (8, 4.5)
        The new figure's size in inches.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    ax = _ax(ax, figsize)
    if len(budget):
        sns.barplot(budget, y="channel", x="revenue_per_yuan", hue="channel",
                    palette=channel_palette(budget.channel), legend=False, ax=ax)
        ax.axvline(1.0, ls="--", color="grey", lw=1)
    else:
        no_data(ax)
    ax.set(xlabel=f"每投入 1 元带来的 {horizon} 天收入 (元)", ylabel="",
           title="下一元预算的回报 (虚线 = 回本)")
    return ax


def value_vs_cost(budget: pd.DataFrame, horizon: int, ax: Axes | None = None,
                  figsize: tuple[float, float] = (8, 5.5)) -> Axes:
    """Cost per investor against value per investor per paid channel (point size = spend),
    with the break-even diagonal.

    Parameters
    ----------
    budget : pandas.DataFrame
        `attribution.budget_reallocation`: channel, spend, cost_per_investor,
        value_per_investor (empty: the no-costs note).
    horizon : int
        The LTV horizon in days, named in the axis label.
    ax : matplotlib.axes.Axes, optional
        The axes to draw on; a new figure when None.
    figsize : tuple of float, default (8, 5.5)
        The new figure's size in inches.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    ax = _ax(ax, figsize)
    if len(budget):
        sns.scatterplot(budget, x="cost_per_investor", y="value_per_investor", hue="channel",
                        size="spend", sizes=(60, 600), palette=channel_palette(budget.channel),
                        legend=False, ax=ax)
        for r in budget.itertuples():
            ax.annotate(r.channel, (r.cost_per_investor, r.value_per_investor), xytext=(6, 4),
                        textcoords="offset points", fontsize=9)
        top = max(budget.cost_per_investor.max(), budget.value_per_investor.max()) * 1.1
        ax.plot([0, top], [0, top], ls="--", color="grey", lw=1)
        ax.text(top * 0.97, top * 0.9, "盈亏平衡线\n(价值 = 成本)", ha="right", va="top",
                color="grey", fontsize=9)
        ax.set_xlim(0, top)
        ax.set_ylim(0, top)
    else:
        no_data(ax)
    ax.set(xlabel="每个首投用户的成本 (元)", ylabel=f"每个首投用户 {horizon} 天收入 (元)",
           title="获客成本 vs 用户价值 (点的大小 = 花费；线上方的渠道回本)")
    return ax


# --------------------------------------------------------------------------------- lines


def rate_lines(frame: pd.DataFrame, x: str, y: str, hue: str, low: str | None = None,
               high: str | None = None, ax: Axes | None = None,
               hue_order: Sequence[str] | None = None,
               palette: Mapping[str, Any] | None = None, title: str | None = None,
               xlabel: str = "", ylabel: str = "", legend: Mapping[str, Any] | None = None,
               figsize: tuple[float, float] | None = None) -> Axes:
    """Rates over `x`, one line per `hue`, with the band `low`..`high` (a confidence interval)
    shaded in the line's colour when given; the rate axis in percent.

    Parameters
    ----------
    frame : pandas.DataFrame
        A long frame with the columns `x`, `y`, `hue` (and `low`, `high`).
    x : str
        The column of the horizontal axis.
    y : str
        The rate column (a share: 0.25 is 25%).
    hue : str
        The column whose values are the lines.
    low, high : str, optional
        The columns of the band's ends; no band unless both are given.
    ax : matplotlib.axes.Axes, optional
        The axes to draw on; a new figure when None.
    hue_order : sequence of str, optional
        The lines in legend order; as they come in `frame` when None.
    palette : mapping, optional
        {line: colour} for every line; seaborn's colours in order when None.
    title : str, optional
        The title; none when None.
    xlabel, ylabel : str, default ""
        The axes' labels.
    legend : mapping, optional
        Keywords of ``ax.legend``; seaborn's legend as drawn when None.
    figsize : tuple of float, optional
        The new figure's size in inches; matplotlib's default when None.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    ax = _ax(ax, figsize)
    order = list(hue_order) if hue_order is not None else frame[hue].unique().tolist()
    colors = dict(palette) if palette is not None else dict(
        zip(order, sns.color_palette(n_colors=len(order)), strict=True))
    sns.lineplot(frame, x=x, y=y, hue=hue, hue_order=order, palette=colors, marker="o", ax=ax)
    if low is not None and high is not None:
        for name in order:
            part = frame[frame[hue] == name]
            ax.fill_between(part[x], part[low], part[high], color=colors[name], alpha=0.15)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    percent_axis(ax)
    if legend is not None:
        ax.legend(**legend)
    return ax


def nth_rate_lines(nth: pd.DataFrame, order: Sequence[str], ax: Axes | None = None,
                   title: str = "按首投产品期限", legend_title: str = "首投期限",
                   figsize: tuple[float, float] | None = None) -> Axes:
    """`retention.nth_investment` by a breakdown: the share of first investors reaching the
    n-th investment, one line per group (in `order`), a tick per n.

    Parameters
    ----------
    nth : pandas.DataFrame
        `retention.nth_investment` with a breakdown: group, n, rate_from_first.
    order : sequence of str
        The groups drawn, in legend order (`retention.term_order`).
    ax : matplotlib.axes.Axes, optional
        The axes to draw on; a new figure when None.
    title : str, default "按首投产品期限"
        The title.
    legend_title : str, default "首投期限"
        The legend's title.
    figsize : tuple of float, optional
        The new figure's size in inches; matplotlib's default when None.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    ax = rate_lines(nth, x="n", y="rate_from_first", hue="group", hue_order=order, ax=ax,
                    xlabel="第 n 次投资", ylabel="占首投人数", title=title,
                    legend={"title": legend_title, "fontsize": 8}, figsize=figsize)
    ax.set_xticks(sorted(nth.n.unique()))
    return ax


def cohort_rate_lines(cohorts: pd.DataFrame, ax: Axes | None = None,
                      figsize: tuple[float, float] = (9, 4.5)) -> Axes:
    """`funnel.cohort_conversion`: each step's rate from sign-up per registration month, with
    its Wilson band; the first step (everyone, by definition) is left out.

    Parameters
    ----------
    cohorts : pandas.DataFrame
        `funnel.cohort_conversion`: cohort, step, label, rate_from_start, ci_low, ci_high.
    ax : matplotlib.axes.Axes, optional
        The axes to draw on; a new figure when None.
    figsize : tuple of float, default (9, 4.5)
        The new figure's size in inches.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    first = cohorts.step.iloc[0] if len(cohorts) else None
    shown = cohorts[cohorts.step != first]
    ax = rate_lines(shown, x="cohort", y="rate_from_start", hue="label", low="ci_low",
                    high="ci_high", ax=ax, xlabel="注册月份", ylabel="注册后窗口内的转化率",
                    title="每个注册月份的转化率 (窗口已结束的用户)", figsize=figsize)
    ax.tick_params(axis="x", rotation=45)
    ax.legend(title="", loc="upper left", bbox_to_anchor=(1, 1))
    return ax


def silhouette(scores: pd.DataFrame, k: int, ax: Axes | None = None,
               figsize: tuple[float, float] = (7, 3.5)) -> Axes:
    """The silhouette score per number of clusters k, the chosen k marked.

    Parameters
    ----------
    scores : pandas.DataFrame
        `profiling.ClusterResult.scores`: k, silhouette.
    k : int
        The chosen number of clusters, marked with a dashed line and named in the title.
    ax : matplotlib.axes.Axes, optional
        The axes to draw on; a new figure when None.
    figsize : tuple of float, default (7, 3.5)
        The new figure's size in inches.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    ax = _ax(ax, figsize)
    sns.lineplot(scores, x="k", y="silhouette", marker="o", ax=ax)
    ax.axvline(k, color="grey", linestyle="--")
    ax.set_title(f"轮廓系数选出 {k} 个群组")
    ax.set_xlabel("群组数 k")
    return ax


def lorenz_curve(curve: pd.DataFrame, ax: Axes | None = None,
                 figsize: tuple[float, float] = (5, 5)) -> Axes:
    """`profiling.lorenz_curve` against the line of perfect equality.

    Parameters
    ----------
    curve : pandas.DataFrame
        `profiling.lorenz_curve`: population_share, value_share.
    ax : matplotlib.axes.Axes, optional
        The axes to draw on; a new figure when None.
    figsize : tuple of float, default (5, 5)
        The new figure's size in inches.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    ax = _ax(ax, figsize)
    ax.plot(curve.population_share, curve.value_share, label="洛伦兹曲线")
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="完全平均")
    ax.set_xlabel("投资用户累计占比 (按资产从低到高)")
    ax.set_ylabel("资产累计占比")
    ax.set_title("资产集中度")
    ax.legend()
    return ax


def retention_curves(cohorts: pd.DataFrame, pooled: pd.DataFrame, ax: Axes | None = None,
                     figsize: tuple[float, float] = (9, 4.5)) -> Axes:
    """Each cohort's retention curve over its complete periods (darker = newer) and the pooled
    curve in black.

    Parameters
    ----------
    cohorts : pandas.DataFrame
        `retention.cohort_retention` without a breakdown: cohort, period, rate, complete.
    pooled : pandas.DataFrame
        `retention.pooled_curve` of the same cohorts: period, rate.
    ax : matplotlib.axes.Axes, optional
        The axes to draw on; a new figure when None.
    figsize : tuple of float, default (9, 4.5)
        The new figure's size in inches.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    ax = _ax(ax, figsize)
    curves = cohorts[cohorts.complete].assign(cohort=lambda t: t.cohort.astype(str))
    sns.lineplot(curves, x="period", y="rate", hue="cohort", palette="crest", lw=1, alpha=0.7,
                 legend=False, ax=ax)
    sns.lineplot(pooled, x="period", y="rate", color="black", lw=2.5, marker="o",
                 label="合并", ax=ax)
    percent_axis(ax)
    ax.set(xlabel="进入后的第 k 个周期", ylabel="留存率",
           title="每个同期群的留存曲线（颜色越深越新），黑线为合并曲线")
    return ax


def survival_curves(curves: pd.DataFrame, ax: Axes | None = None,
                    title: str = "按注册渠道的生存曲线 (Kaplan-Meier，已处理截尾)",
                    legend_title: str = "注册渠道",
                    figsize: tuple[float, float] = (9, 4.8)) -> Axes:
    """Kaplan-Meier curves (`retention.kaplan_meier` by group) as steps, channel colours.

    Parameters
    ----------
    curves : pandas.DataFrame
        `retention.kaplan_meier` by group (`retention.Survival.curves`): group, day, survival.
    ax : matplotlib.axes.Axes, optional
        The axes to draw on; a new figure when None.
    title : str, default "按注册渠道的生存曲线 (Kaplan-Meier，已处理截尾)"
        The title.
    legend_title : str, default "注册渠道"
        The legend's title.
    figsize : tuple of float, default (9, 4.8)
        The new figure's size in inches.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    ax = _ax(ax, figsize)
    groups = sorted(curves.group.unique())
    sns.lineplot(curves, x="day", y="survival", hue="group", hue_order=groups,
                 palette=channel_palette(groups), drawstyle="steps-post", ax=ax)
    percent_axis(ax)
    ax.set(xlabel="首投后的天数", ylabel="仍在活跃寿命内的比例", ylim=(0, 1.02), title=title)
    ax.legend(title=legend_title, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    return ax


def ltv_cohort_curves(cohorts: pd.DataFrame, pooled: pd.DataFrame, ax: Axes | None = None,
                      figsize: tuple[float, float] | None = None) -> Axes:
    """LTV per registered user by months since sign-up, one line per sign-up month's complete
    months (darker = newer), and the pooled curve in black.

    Parameters
    ----------
    cohorts : pandas.DataFrame
        `retention.ltv_cohorts` without a breakdown: cohort, month, ltv (yuan), complete.
    pooled : pandas.DataFrame
        `retention.ltv_curves` with ``by=None``: month, ltv (yuan).
    ax : matplotlib.axes.Axes, optional
        The axes to draw on; a new figure when None.
    figsize : tuple of float, optional
        The new figure's size in inches; matplotlib's default when None.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    ax = _ax(ax, figsize)
    sns.lineplot(cohorts[cohorts.complete].assign(cohort=lambda t: t.cohort.astype(str)),
                 x="month", y="ltv", hue="cohort", palette="crest", lw=1, legend=False, ax=ax)
    sns.lineplot(pooled, x="month", y="ltv", color="black", lw=2.5, label="合并", ax=ax)
    ax.set(xlabel="注册后的月数", ylabel="每注册用户累计收入 (元)",
           title="按注册月份的 LTV 曲线（颜色越深越新）")
    return ax


def ltv_channel_curves(curves: pd.DataFrame, cac: pd.DataFrame, ax: Axes | None = None,
                       figsize: tuple[float, float] | None = None) -> Axes:
    """LTV per registered user by channel (lines) and each channel's CAC (dashed, same colour).

    `curves` is `retention.ltv_curves` by channel (group, month, ltv); `cac` the table of
    `retention.ltv_cac` (channel, cac).

    Parameters
    ----------
    curves : pandas.DataFrame
        `retention.ltv_curves` by sign-up channel: group, month, ltv (yuan).
    cac : pandas.DataFrame
        `retention.LtvCac.table`: channel, cac (yuan; channels without a CAC or without a
        curve get no line).
    ax : matplotlib.axes.Axes, optional
        The axes to draw on; a new figure when None.
    figsize : tuple of float, optional
        The new figure's size in inches; matplotlib's default when None.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    ax = _ax(ax, figsize)
    channels = sorted(curves.group.unique())
    palette = channel_palette(channels)
    sns.lineplot(curves, x="month", y="ltv", hue="group", hue_order=channels, palette=palette,
                 ax=ax)
    for row in cac.dropna(subset=["cac"]).itertuples():
        if row.channel in palette:
            ax.axhline(row.cac, color=palette[row.channel], ls="--", lw=1)
    ax.set(xlabel="注册后的月数", ylabel="元", title="按注册渠道的 LTV（实线）与 CAC（虚线）")
    ax.legend(title="注册渠道", fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    return ax


def ci_errorbars(frame: pd.DataFrame, y: str, x: str = "uplift", low: str = "ci_low",
                 high: str = "ci_high", ax: Axes | None = None, title: str | None = None,
                 xlabel: str = "", zero: bool = True, percent: bool = True,
                 color: Any = None, figsize: tuple[float, float] | None = None,
                 capsize: float = 4) -> Axes:
    """A point with its interval per row (`low` to `high` around `x`), one row per `y` label,
    the zero line marked: an uplift and its confidence interval, say.

    Parameters
    ----------
    frame
        One row per point.
    y
        The column of the rows' labels (shown as text, in the frame's order).
    x, low, high
        The columns of the point and of its interval's ends.
    title, xlabel
        The title and the horizontal axis' label.
    zero
        Mark 0 with a grey vertical line.
    percent
        The horizontal axis in whole percents.
    color
        The points' colour; seaborn's first colour when None.
    capsize
        The width of the interval's caps, in points.
    ax
        The axes to draw on; a new figure when None.
    figsize
        The new figure's size in inches.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    ax = _ax(ax, figsize)
    xs = frame[x].to_numpy(float)
    err = [xs - frame[low].to_numpy(float), frame[high].to_numpy(float) - xs]
    ax.errorbar(xs, frame[y].astype(str).to_numpy(), xerr=err, fmt="o", capsize=capsize,
                color=color if color is not None else sns.color_palette()[0])
    if zero:
        ax.axvline(0, color="grey", lw=1)
    ax.set(xlabel=xlabel, ylabel="", title=title)
    if percent:
        percent_axis(ax, "x")
    return ax


def qini_curve(qini: pd.DataFrame, ax: Axes | None = None, title: str = "Qini 曲线",
               figsize: tuple[float, float] = (6.5, 4), label: str = "按预测增量排序",
               ylabel: str = "增量响应者") -> Axes:
    """Incremental responders against the share of the list targeted (share_targeted, qini),
    ranked by predicted uplift, against random targeting (random).

    Parameters
    ----------
    qini
        `uplift.qini_curve`: share_targeted, qini, random.
    title
        The figure's title.
    label
        The ranked curve's name in the legend.
    ylabel
        The vertical axis' label.
    ax
        The axes to draw on; a new figure when None.
    figsize
        The new figure's size in inches.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    ax = _ax(ax, figsize)
    ax.plot(qini.share_targeted, qini.qini, label=label)
    ax.plot(qini.share_targeted, qini.random, ls="--", color="grey", label="随机排序")
    ax.set(xlabel="覆盖名单的比例 (按预测增量从高到低)", ylabel=ylabel, title=title)
    percent_axis(ax, "x")
    ax.legend(fontsize=8)
    return ax


def cuped_intervals(cup: pd.DataFrame, labels: Mapping[str, str], covariate: str,
                    ax: Axes | None = None, figsize: tuple[float, float] = (7, 2.8)) -> Axes:
    """The plain and the CUPED estimate of the uplift, each with its Wald interval, one row
    each, the zero line marked.

    Parameters
    ----------
    cup
        `campaign_review.cuped`: method, uplift, ci_low, ci_high (empty: empty axes).
    labels
        {method: shown name} (`campaign_review.ESTIMATE_LABELS`).
    covariate
        The covariate CUPED used, named in the title.
    ax
        The axes to draw on; a new figure when None.
    figsize
        The new figure's size in inches.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    ax = ci_errorbars(cup.assign(shown=cup.method.map(dict(labels))), y="shown", ax=ax,
                      title=f"CUPED 前后的增量区间 (协变量 {covariate})",
                      xlabel="绝对增量 (Wald 95% 区间)", capsize=6, figsize=figsize)
    ax.set_ylim(-0.5, 1.5)
    return ax


def segment_uplift_panels(tables: Mapping[str, pd.DataFrame], ncols: int = 2,
                          min_cell: int | None = None) -> np.ndarray:
    """Each segment's uplift with its interval, a panel per breakdown (titled by its name),
    the zero line marked; segments too small for a verdict in grey.

    Parameters
    ----------
    tables
        {breakdown: `campaign_review.segment_uplift`} (segment, uplift, ci_low, ci_high and
        verdict codes), panels in this order; segments without an uplift are left out, the
        others keep their table order.
    ncols
        Panels per row (fewer when there are fewer breakdowns).
    min_cell
        The group size under which a segment is too small, named in the title
        (`campaign_review.MIN_CELL` when None).

    Returns
    -------
    numpy.ndarray
        The grid of axes (rows x columns); panels left over are hidden.
    """
    if min_cell is None:
        from growthloop.metrics.campaign_review import MIN_CELL as min_cell
    ncols = min(ncols, len(tables))
    nrows = -(-len(tables) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5 * ncols, 3.6 * nrows), sharex=True,
                             squeeze=False)
    for ax in axes.flat[len(tables):]:
        ax.set_visible(False)
    for ax, (by, table) in zip(axes.flat, tables.items(), strict=False):
        t = table.dropna(subset=["uplift"])
        ax.scatter(t.uplift.to_numpy(), t.segment.to_numpy(), s=0)  # every segment, in order
        for small, part in t.groupby(t.verdict == "too_small"):
            ax.errorbar(part.uplift.to_numpy(), part.segment.to_numpy(),
                        xerr=[(part.uplift - part.ci_low).to_numpy(),
                              (part.ci_high - part.uplift).to_numpy()],
                        fmt="o", capsize=3,
                        color=(0.7, 0.7, 0.7) if small else sns.color_palette()[0])
        ax.axvline(0, color="grey", lw=1)
        ax.set(title=breakdown_label(by), xlabel="绝对增量 (95% 区间)", ylabel="")
        percent_axis(ax, "x")
    fig.suptitle(f"各分群的增量 (灰色：任一组不足 {min_cell} 人，不下结论)")
    return axes


def history_intervals(hist: pd.DataFrame, ax: Axes | None = None,
                      figsize: tuple[float, float] = (8, 3.8)) -> Axes:
    """Every campaign's uplift with its interval, one row per campaign from the top, each
    labelled with its incremental ROI (none when the campaign has no costs); campaigns without
    an uplift (no holdout) left out.

    Parameters
    ----------
    hist
        `campaign_review.history`: campaign_id, name, uplift, ci_low, ci_high, roi.
    ax
        The axes to draw on; a new figure when None.
    figsize
        The new figure's size in inches.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    ok = hist.dropna(subset=["uplift"])
    ax = ci_errorbars(ok.assign(shown=ok.campaign_id + " " + ok.name), y="shown", ax=ax,
                      title="历次活动的增量与增量 ROI", xlabel="绝对增量 (95% 区间)",
                      capsize=5, figsize=figsize)
    for i, row in enumerate(ok.itertuples()):
        if pd.isna(row.roi):  # no unit costs: no ROI to write (never "ROI nan%")
            continue
        ax.annotate(f"ROI {row.roi:.0%}", (row.ci_high, i), xytext=(6, -3),
                    textcoords="offset points", fontsize=8)
    lo, hi = ax.get_xlim()
    ax.set_xlim(lo, hi + (hi - lo) * 0.15)
    ax.invert_yaxis()
    return ax


# --------------------------------------------------------------------------------- heatmaps


def heatmap(grid: pd.DataFrame, ax: Axes | None = None, annot: Any = True, fmt: str = ".0%",
            cmap: str = "Blues", title: str | None = None, xlabel: str = "", ylabel: str = "",
            figsize: tuple[float, float] | None = None, **kwargs: Any) -> Axes:
    """A labelled grid (rows x columns), annotated; keywords go to seaborn.heatmap.

    Parameters
    ----------
    grid : pandas.DataFrame
        The values, rows and columns labelled by the index and the columns.
    ax : matplotlib.axes.Axes, optional
        The axes to draw on; a new figure when None.
    annot : bool or array-like, default True
        Write each cell's value (True) or the given texts (a frame of the grid's shape).
    fmt : str, default ".0%"
        The format of the values written.
    cmap : str, default "Blues"
        The colour map.
    title : str, optional
        The title; none when None.
    xlabel, ylabel : str, default ""
        The axes' labels.
    figsize : tuple of float, optional
        The new figure's size in inches; matplotlib's default when None.
    **kwargs
        More keywords of seaborn.heatmap (vmin, cbar, annot_kws ...).

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    ax = _ax(ax, figsize)
    sns.heatmap(grid, annot=annot, fmt=fmt, cmap=cmap, ax=ax, **kwargs)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    return ax


def model_heatmap(credits: pd.DataFrame, models: Sequence[str], labels: Mapping[str, str],
                  ax: Axes | None = None, figsize: tuple[float, float] = (10, 6)) -> Axes:
    """Each attribution model's share of credit per channel (`attribution.attribute`), models
    in the order given, channels by their mean share.

    Parameters
    ----------
    credits : pandas.DataFrame
        `attribution.attribute`: channel, model, share.
    models : sequence of str
        The models' column order; models not in `credits` are left out.
    labels : mapping of str to str
        {model: shown name} (`attribution.MODEL_LABELS`) for every model drawn.
    ax : matplotlib.axes.Axes, optional
        The axes to draw on; a new figure when None.
    figsize : tuple of float, default (10, 6)
        The new figure's size in inches.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    grid = credits.pivot(index="channel", columns="model", values="share")[
        [m for m in models if m in set(credits.model)]]
    grid = grid.loc[grid.mean(axis=1).sort_values(ascending=False).index]
    grid.columns = [labels[m] for m in grid.columns]
    ax = heatmap(grid, ax=ax, fmt=".1%", cbar=False, annot_kws={"fontsize": 8},
                 title="各归因模型给每个渠道的功劳占比 (同一批路径)", figsize=figsize)
    ax.tick_params(axis="x", rotation=30)
    return ax


def rf_heatmap(heat: pd.DataFrame, label: Label = default_label, ax: Axes | None = None,
               figsize: tuple[float, float] = (8, 5.2)) -> Axes:
    """`rfm.rf_heatmap`: mean M (colour, yuan) and people per R score x F score, high R on
    top; empty cells, and cells whose count `label` suppresses (no mean M), grey. People go
    through `label` (``ch.cell_label``).

    Parameters
    ----------
    heat : pandas.DataFrame
        `rfm.rf_heatmap`: r_score, f_score, users, mean_monetary (yuan).
    label : callable
        Formats a count of people, called as ``label(n, fmt)``: ``ch.cell_label``, so a small
        count shows as "<10".
    ax : matplotlib.axes.Axes, optional
        The axes to draw on; a new figure when None.
    figsize : tuple of float, default (8, 5.2)
        The new figure's size in inches.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    # a cell whose count `label` suppresses shows neither its mean M nor its colour
    heat = heat.assign(mean_monetary=[np.nan if hidden(label, n) else m
                                      for n, m in zip(heat.users, heat.mean_monetary, strict=True)])
    grid = heat.pivot(index="r_score", columns="f_score", values="mean_monetary").sort_index(
        ascending=False)
    counts = heat.pivot(index="r_score", columns="f_score", values="users").sort_index(
        ascending=False)
    text = (grid.map(lambda v: "" if pd.isna(v) else yuan(v)) + "\n"
            + counts.map(lambda n: f"{label(n, '{:,}')} 人" if n else "空"))
    ax = heatmap(grid, ax=ax, annot=text, fmt="", cmap="YlOrRd",
                 cbar_kws={"label": "平均 M (元)"}, annot_kws={"fontsize": 8},
                 xlabel="F 得分 (越高越频繁)", ylabel="R 得分 (越高越近)",
                 title="R 得分 × F 得分：每格的平均 M 与人数 (灰色为空档或人数过少)", figsize=figsize)
    ax.set_facecolor("#e6e6e6")
    ax.grid(False)
    return ax


def migration_heatmap(share: pd.DataFrame, users: pd.DataFrame, label: Label = default_label,
                      ax: Axes | None = None, xlabel: str = "", ylabel: str = "",
                      figsize: tuple[float, float] = (9, 5.8)) -> Axes:
    """From-segment x to-segment: people (`users`, through `label`) and their share of the
    from-segment (colour), from `rfm.migration_matrix`.

    Parameters
    ----------
    share : pandas.DataFrame
        ``rfm.migration_matrix(moves, "from_share")``: from-segments as rows, to-segments as
        columns.
    users : pandas.DataFrame
        ``rfm.migration_matrix(moves, "users")``, the same shape.
    label : callable
        Formats a count of people, called as ``label(n, fmt)``: ``ch.cell_label``, so a small
        count shows as "<10".
    ax : matplotlib.axes.Axes, optional
        The axes to draw on; a new figure when None.
    xlabel, ylabel : str, default ""
        The axes' labels.
    figsize : tuple of float, default (9, 5.8)
        The new figure's size in inches.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    return heatmap(share, ax=ax, annot=users.map(lambda n: label(n, "{:,}")), fmt="",
                   cmap="Blues", vmin=0, vmax=1, cbar_kws={"label": "占上期该人群的比例"},
                   annot_kws={"fontsize": 8}, xlabel=xlabel, ylabel=ylabel,
                   title="人群迁移矩阵：人数 (数字) 与占上期人群的比例 (颜色)", figsize=figsize)


def transition_heatmap(matrix: pd.DataFrame, labels: Mapping[str, str], ax: Axes | None = None,
                       figsize: tuple[float, float] | None = None) -> Axes:
    """Lifecycle state transitions (`retention.transition_matrix`), rows summing to 100%.

    Parameters
    ----------
    matrix : pandas.DataFrame
        `retention.transition_matrix` (normalised): from-states as rows, to-states as columns.
    labels : mapping of str to str
        {state: shown name} (`retention.STATE_LABELS`).
    ax : matplotlib.axes.Axes, optional
        The axes to draw on; a new figure when None.
    figsize : tuple of float, optional
        The new figure's size in inches; matplotlib's default when None.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    return heatmap(matrix.rename(index=labels, columns=labels), ax=ax, fmt=".0%", vmin=0,
                   vmax=1, cbar=False, xlabel="下个月末", ylabel="本月末",
                   title="状态流转（各完整月合计，行和为 100%）", figsize=figsize)


RUNNING_HATCH = {"facecolor": "#eeeeee", "edgecolor": "#888888", "hatch": "///", "lw": 0.3}


def _retention_heatmap(values: pd.DataFrame, running: pd.DataFrame, ax: Axes, title: str,
                       xlabel: str, fontsize: float = 7) -> Axes:
    values = values.copy()
    values.index = [str(c) for c in values.index]
    sns.heatmap(values, mask=values.isna(), annot=True, fmt=".0%", cmap="YlGnBu", vmin=0,
                cbar_kws={"format": "{x:.0%}", "label": "留存率", "shrink": 0.8},
                annot_kws={"fontsize": fontsize}, ax=ax)
    for i, j in zip(*running.to_numpy().nonzero(), strict=True):
        ax.add_patch(Rectangle((j, i), 1, 1, **RUNNING_HATCH))
        ax.text(j + 0.5, i + 0.5, "进行中", ha="center", va="center", fontsize=fontsize - 1)
    ax.grid(False)
    ax.set(xlabel=xlabel, ylabel="同期群", title=title)
    return ax


def cohort_heatmaps(tables: Sequence[pd.DataFrame], titles: Sequence[str],
                    xlabels: Sequence[str], min_cell: int = MIN_CELL_SIZE,
                    width: float = 10) -> np.ndarray:
    """Cohort retention grids (`retention.cohort_retention`), stacked, each as tall as its
    cohorts: rates in colour, periods still running hatched ("进行中", never 0), periods not
    begun blank. A rate whose returners are a small cell (fewer than `min_cell`) is not shown:
    it would give their count away. Returns the array of axes.

    Parameters
    ----------
    tables : sequence of pandas.DataFrame
        `retention.cohort_retention` tables without a breakdown (cohort, period, retained,
        rate, complete), one grid each, top to bottom.
    titles : sequence of str
        One title per table.
    xlabels : sequence of str
        One period axis label per table.
    min_cell : int, default MIN_CELL_SIZE
        The smallest count of returners whose rate is shown.
    width : float, default 10
        The figure's width in inches (its height follows the cohorts).

    Returns
    -------
    numpy.ndarray
        The axes, one per table.

    Raises
    ------
    ValueError
        When `tables`, `titles` and `xlabels` differ in length, or a table holds more than
        one group (`retention.retention_matrix`).
    """
    from growthloop.metrics.retention import retention_matrix

    sizes = [t.cohort.nunique() for t in tables]
    fig, axes = plt.subplots(len(tables), 1, figsize=(width, 0.3 * sum(sizes) + 3.5),
                             gridspec_kw={"height_ratios": [max(n, 1) for n in sizes]},
                             squeeze=False)
    for ax, table, title, xlabel in zip(axes[:, 0], tables, titles, xlabels, strict=True):
        small = table.retained.map(lambda n: is_small(n, min_cell))
        values, running = retention_matrix(table.assign(rate=table.rate.where(~small)))
        _retention_heatmap(values, running, ax, title, xlabel)
    return axes[:, 0]

"""Acquisition goal planning (目标拆解): the next stage's target of new first investors, worked
back through each acquisition channel's funnel and cost.

Today's channel mix is kept: each channel delivers its current share of first investors, and
its funnel rates (ad click -> register -> first investment, first-touch channel, chapter 2's
funnel) and cost per first investor (spend, chapter 3's channel map) turn that share into the
registrations, clicks and budget it needs.

* :func:`channel_spend`: spend per channel, from the costs table.
* :func:`channel_rates`: per channel, the funnel's rates and the cost per first investor.
* :func:`decompose_goal`: the target worked back per channel, with a total row.
* :func:`goal_plan`: the three in one call, on a dataset.
* :func:`goal_summary`: the plan's totals for the prose.
"""

from __future__ import annotations

import pandas as pd
from ibis import _

from growthloop.engine import money_sum
from growthloop.errors import NotAvailable
from growthloop.marts.channels import with_channel
from growthloop.marts.events import event_names
from growthloop.metrics import funnel
from growthloop.staging.loader import Dataset

#: the funnel the plan works back through
PLAN_STEPS: tuple[str, ...] = ("ad_click", "register", "first_investment")
#: the conversion window of the funnel the plan works back through, in days
PLAN_WINDOW_DAYS = 30
TOTAL = "合计"


def channel_spend(ds: Dataset) -> pd.DataFrame:
    """Spend per acquisition channel up to the analysis date.

    costs.utm_source is mapped to channels as everywhere else (the dataset's channel map).

    Parameters
    ----------
    ds
        The dataset.

    Returns
    -------
    pandas.DataFrame
        Columns channel, spend (yuan), ordered by channel; empty without a costs table.
    """
    if not ds.has("costs"):
        return pd.DataFrame({"channel": pd.Series(dtype=str), "spend": pd.Series(dtype=float)})
    c = ds.costs.filter(ds.costs.date < ds.period_end.date())
    c = with_channel(c, "utm_source", ds.config.channels)
    return (c.group_by("channel").aggregate(spend=money_sum(_.spend)).order_by("channel")
            .to_pandas().astype({"spend": float}))


def channel_rates(funnel_by_channel: pd.DataFrame, spend: pd.DataFrame | None) -> pd.DataFrame:
    """Per channel: the funnel's rates, first investors and the cost per first investor.

    Parameters
    ----------
    funnel_by_channel
        A funnel table with a channel breakdown over the steps ad_click -> register ->
        first_investment (see `growthloop.metrics.funnel.funnel`): columns segment, step,
        users, rate_from_previous.
    spend
        :func:`channel_spend` (channel, spend); a channel without spend costs 0. None when
        the spend is unknown (no costs table): spend and cost_per_investor_30d are then NaN.

    Returns
    -------
    pandas.DataFrame
        Columns channel, clicks, registrations, investors, click_to_register,
        register_to_invest, spend, cost_per_investor_30d (spend ÷ the funnel's first investors
        within the window: higher than chapter 3's cost per first investor, which counts every
        first investor; NaN without investors or without spend data); by channel.

    Raises
    ------
    ValueError
        A funnel table without a breakdown or without one of the three steps.
    """
    need = {"segment", "step", "users", "rate_from_previous"}
    if not need <= set(funnel_by_channel.columns):
        raise ValueError(f"funnel_by_channel: needs columns {sorted(need)} (a funnel with a breakdown)")
    f = funnel_by_channel.pivot_table(index="segment", columns="step",
                                      values=["users", "rate_from_previous"], aggfunc="first")
    for step in PLAN_STEPS:
        if ("users", step) not in f.columns:
            raise ValueError(f"funnel_by_channel: needs the steps ad_click, register, first_investment; {step} is missing")
        if ("rate_from_previous", step) not in f.columns:  # no window has ended: every rate NaN
            f[("rate_from_previous", step)] = float("nan")
    out = pd.DataFrame({
        "channel": f.index.astype(str),
        "clicks": f[("users", "ad_click")].to_numpy(),
        "registrations": f[("users", "register")].to_numpy(),
        "investors": f[("users", "first_investment")].to_numpy(),
        "click_to_register": f[("rate_from_previous", "register")].to_numpy(),
        "register_to_invest": f[("rate_from_previous", "first_investment")].to_numpy(),
    })
    if spend is None:
        out["spend"] = float("nan")
    else:
        out = out.merge(spend, on="channel", how="left").fillna({"spend": 0.0})
    out["cost_per_investor_30d"] = out.spend / out.investors.where(out.investors > 0)
    return out.sort_values("channel").reset_index(drop=True)


def decompose_goal(rates: pd.DataFrame, target_investors: float) -> pd.DataFrame:
    """Work a target of new first investors back to each channel's investors, registrations,
    ad clicks and budget, keeping today's channel mix (each channel's share of first investors).

    investors_c = target x share_c; registrations_c = investors_c / register_to_invest_c;
    clicks_c = registrations_c / click_to_register_c; budget_c = investors_c x cost per
    investor_c (0 for channels without spend; NaN when the spend is unknown). A channel whose
    rate is missing or 0 gets NaN.

    Parameters
    ----------
    rates
        :func:`channel_rates`.
    target_investors
        New first investors wanted, a positive number.

    Returns
    -------
    pandas.DataFrame
        Columns channel, share, register_to_invest, click_to_register, cost_per_investor_30d,
        target_investors, target_registrations, target_clicks, budget; channels with first
        investors by share (largest first), then a final row 合计 (the total) summing the columns.

    Raises
    ------
    ValueError
        A target that is not positive, or no channel with first investors.

    Examples
    --------
    Channel A has 30 of 40 first investors, register -> invest 0.5, click -> register 0.2
    and 100 yuan per investor: of a target of 80, A takes 60 investors, 60 / 0.5 = 120
    registrations, 120 / 0.2 = 600 clicks and 60 x 100 = 6,000 yuan.
    """
    if target_investors is None or not target_investors > 0:
        raise ValueError(f"target_investors: {target_investors!r}; allowed: a positive number")
    r = rates[rates.investors > 0].copy()
    total = float(r.investors.sum())
    if total == 0:
        raise ValueError("rates: no channel has first investors to work back from")
    r["share"] = r.investors / total
    r["target_investors"] = target_investors * r.share
    r["target_registrations"] = r.target_investors / r.register_to_invest.where(r.register_to_invest > 0)
    r["target_clicks"] = r.target_registrations / r.click_to_register.where(r.click_to_register > 0)
    r["budget"] = r.target_investors * r.cost_per_investor_30d
    cols = ["channel", "share", "register_to_invest", "click_to_register", "cost_per_investor_30d",
            "target_investors", "target_registrations", "target_clicks", "budget"]
    out = r.sort_values(["share", "channel"], ascending=[False, True])[cols].reset_index(drop=True)
    tot = {c: out[c].sum(min_count=1) for c in ("share", "target_investors",
                                               "target_registrations", "target_clicks", "budget")}
    return pd.concat([out, pd.DataFrame([{"channel": TOTAL, **tot}])], ignore_index=True)


def goal_plan(ds: Dataset, target_investors: float, window_days: int = PLAN_WINDOW_DAYS) -> pd.DataFrame:
    """The next stage's plan per acquisition channel, from the data.

    The funnel ad click -> register -> first investment within `window_days`, broken down by
    first-touch channel, and the spend per channel, worked back by :func:`decompose_goal`.
    Without a costs table the budgets are NaN (unknown), not 0.

    Parameters
    ----------
    ds
        The dataset.
    target_investors
        New first investors wanted.
    window_days
        The funnel's conversion window in days (PLAN_WINDOW_DAYS).

    Returns
    -------
    pandas.DataFrame
        :func:`decompose_goal`'s table.

    Raises
    ------
    ValueError
        A target that is not positive, or a bad window.
    NotAvailable
        Without ad_click events, without a first investor reached through them, or when no
        channel's register -> first investment window has ended yet.
    """
    if target_investors is None or not target_investors > 0:
        raise ValueError(f"target_investors: {target_investors!r}; allowed: a positive number")
    key = f"planning.goal_plan:{target_investors}:{window_days}"
    return ds.memo(key, lambda: _goal_plan(ds, target_investors, window_days))


def _goal_plan(ds: Dataset, target_investors: float, window_days: int) -> pd.DataFrame:
    if "ad_click" not in event_names(ds):
        raise NotAvailable("广告点击事件 (ad_click)：目标从“广告点击 → 注册 → 首投”倒推",
                           "数据中没有 ad_click 事件",
                           "在 dataset.yml 的 tables.events.values.event_name 里把平台的广告点击事件映射为 ad_click")
    f = funnel.funnel(ds, steps=list(PLAN_STEPS), window_days=window_days,
                      breakdown="first_touch")
    rates = channel_rates(f, channel_spend(ds) if ds.has("costs") else None)
    if not (rates.investors > 0).any():
        raise NotAvailable("经广告点击进来、之后完成首投的用户：各渠道按首投用户的占比分配目标",
                           f"数据中没有人在广告点击后 {window_days} 天内完成首投",
                           "检查广告点击 (ad_click) 与注册事件能否通过 anonymous_id 连到同一个人")
    closed = rates[(rates.investors > 0) & rates.register_to_invest.notna()]
    if closed.empty:
        raise NotAvailable(f"转化窗口（{window_days} 天）已经结束的注册用户：倒推要用各渠道的“注册 → 首投”转化率",
                           "截至分析日，所有渠道的注册用户都还在转化窗口之内，转化率还算不出来",
                           f"等数据覆盖超过 {window_days} 天后再看这一节")
    return decompose_goal(rates, target_investors)


def goal_summary(plan: pd.DataFrame, target_investors: float,
                 window_days: int = PLAN_WINDOW_DAYS) -> dict[str, float | str]:
    """The next stage's goal for the chapter's prose (glued as ``review_<key>``).

    Parameters
    ----------
    plan
        :func:`decompose_goal` (or :func:`goal_plan`): channels by share, then the total row.
    target_investors
        The target it was worked back from.
    window_days
        The conversion window the plan's funnel used (PLAN_WINDOW_DAYS by default).

    Returns
    -------
    dict
        target_investors (as given), target_registrations, target_clicks and target_budget
        (the total row; the budget NaN without spend data), target_top and target_top_share
        (the channel with the largest share), target_channels (channels with first
        investors), target_unknown_rate (channels whose register -> invest rate is not known
        yet, joined with 、), target_no_spend (channels without spend, joined with 、) and
        target_window_days.

    Examples
    --------
    :func:`decompose_goal`'s example with a second channel B (10 of 40 first investors,
    register -> invest 0.25, click -> register 0.1, no spend): 200 registrations, 1,400
    clicks, 6,000 yuan; the top channel is A with 75%.
    """
    total = plan[plan.channel == TOTAL].iloc[0]
    channels = plan[plan.channel != TOTAL]
    return {
        "target_investors": target_investors,
        "target_registrations": float(total.target_registrations),
        "target_clicks": float(total.target_clicks),
        "target_budget": float(total.budget),
        "target_top": str(plan.channel.iloc[0]),
        "target_top_share": float(plan.share.iloc[0]),
        "target_channels": len(channels),
        "target_unknown_rate": "、".join(channels[channels.target_registrations.isna()].channel),
        "target_no_spend": "、".join(channels[channels.budget == 0].channel),
        "target_window_days": window_days,
    }


def budget_summary(plan: pd.DataFrame) -> dict[str, float | str]:
    """The budget side of the plan, for the chapter's prose (glued as ``review_<key>``).

    Parameters
    ----------
    plan
        :func:`decompose_goal` (or :func:`goal_plan`).

    Returns
    -------
    dict
        target_budget_top (the channel that needs the largest budget), target_budget_top_share
        (its share of the total budget) and target_budget_paid (channels that need a
        budget).

    Raises
    ------
    NotAvailable
        When the budgets are unknown (the dataset has no costs table), or when no channel
        needs one (the spend of the costs table reaches no channel with first investors).

    Examples
    --------
    :func:`decompose_goal`'s example with a second channel B without spend: A needs all of the
    6,000 yuan (share 1.0), one paid channel.
    """
    channels = plan[plan.channel != TOTAL]
    if channels.budget.isna().all():
        raise NotAvailable("投放花费 (costs 表)：预算 = 各渠道的目标首投数 × 每个首投用户的花费",
                           "数据中没有 costs 表，各渠道每个首投用户花了多少钱未知",
                           "把各渠道每天的投放花费导出为 costs 表（date、utm_source、utm_medium、"
                           "utm_campaign、spend）放进数据目录")
    if not (channels.budget > 0).any():
        raise NotAvailable("有投放花费、又带来了首投用户的渠道",
                           "costs 表里有花费的渠道，在数据中都没有带来首投用户",
                           "检查 costs 表的 utm_source 与用户的来源渠道是否对得上（dataset.yml 的 channels 映射）")
    top = channels.sort_values(["budget", "channel"], ascending=[False, True]).iloc[0]
    total = float(channels.budget.sum())
    return {
        "target_budget_top": str(top.channel),
        "target_budget_top_share": float(top.budget / total),
        "target_budget_paid": int((channels.budget > 0).sum()),
    }

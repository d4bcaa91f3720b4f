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

from growthloop.marts.channels import with_channel
from growthloop.metrics import funnel
from growthloop.staging.loader import Dataset

#: the funnel the plan works back through
PLAN_STEPS: tuple[str, ...] = ("ad_click", "register", "first_investment")
TOTAL = "合计 (total)"


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
    return (c.group_by("channel").aggregate(spend=_.spend.sum()).order_by("channel")
            .to_pandas().astype({"spend": float}))


def channel_rates(funnel_by_channel: pd.DataFrame, spend: pd.DataFrame) -> pd.DataFrame:
    """Per channel: the funnel's rates, first investors and the cost per first investor.

    Parameters
    ----------
    funnel_by_channel
        A funnel table with a channel breakdown over the steps ad_click -> register ->
        first_investment (see `growthloop.metrics.funnel.funnel`): columns segment, step,
        users, rate_from_previous.
    spend
        :func:`channel_spend` (channel, spend); a channel without spend costs 0.

    Returns
    -------
    pandas.DataFrame
        Columns channel, clicks, registrations, investors, click_to_register,
        register_to_invest, spend, cost_per_investor (NaN without investors); by channel.

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
    out = pd.DataFrame({
        "channel": f.index.astype(str),
        "clicks": f[("users", "ad_click")].to_numpy(),
        "registrations": f[("users", "register")].to_numpy(),
        "investors": f[("users", "first_investment")].to_numpy(),
        "click_to_register": f[("rate_from_previous", "register")].to_numpy(),
        "register_to_invest": f[("rate_from_previous", "first_investment")].to_numpy(),
    })
    out = out.merge(spend, on="channel", how="left").fillna({"spend": 0.0})
    out["cost_per_investor"] = out.spend / out.investors.where(out.investors > 0)
    return out.sort_values("channel").reset_index(drop=True)


def decompose_goal(rates: pd.DataFrame, target_investors: float) -> pd.DataFrame:
    """Work a target of new first investors back to each channel's investors, registrations,
    ad clicks and budget, keeping today's channel mix (each channel's share of first investors).

    investors_c = target x share_c; registrations_c = investors_c / register_to_invest_c;
    clicks_c = registrations_c / click_to_register_c; budget_c = investors_c x cost per
    investor_c (0 for channels without spend). A channel whose rate is missing or 0 gets NaN.

    Parameters
    ----------
    rates
        :func:`channel_rates`.
    target_investors
        New first investors wanted, a positive number.

    Returns
    -------
    pandas.DataFrame
        Columns channel, share, register_to_invest, click_to_register, cost_per_investor,
        target_investors, target_registrations, target_clicks, budget; channels with first
        investors by share (largest first), then a final row 合计 (total) summing the columns.

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
    r["budget"] = r.target_investors * r.cost_per_investor.fillna(0.0)
    cols = ["channel", "share", "register_to_invest", "click_to_register", "cost_per_investor",
            "target_investors", "target_registrations", "target_clicks", "budget"]
    out = r.sort_values(["share", "channel"], ascending=[False, True])[cols].reset_index(drop=True)
    tot = {c: out[c].sum(min_count=1) for c in ("share", "target_investors",
                                               "target_registrations", "target_clicks", "budget")}
    return pd.concat([out, pd.DataFrame([{"channel": TOTAL, **tot}])], ignore_index=True)


def goal_plan(ds: Dataset, target_investors: float, window_days: int = 30) -> pd.DataFrame:
    """The next stage's plan per acquisition channel, from the data.

    The funnel ad click -> register -> first investment within `window_days`, broken down by
    first-touch channel, and the spend per channel, worked back by :func:`decompose_goal`.

    Parameters
    ----------
    ds
        The dataset.
    target_investors
        New first investors wanted.
    window_days
        The funnel's conversion window in days.

    Returns
    -------
    pandas.DataFrame
        :func:`decompose_goal`'s table.
    """
    f = funnel.funnel(ds, steps=list(PLAN_STEPS), window_days=window_days,
                      breakdown="first_touch")
    return decompose_goal(channel_rates(f, channel_spend(ds)), target_investors)


def goal_summary(plan: pd.DataFrame, target_investors: float) -> dict[str, float | str]:
    """The next stage's goal for the chapter's prose (glued as ``review_<key>``).

    Parameters
    ----------
    plan
        :func:`decompose_goal` (or :func:`goal_plan`): channels by share, then the total row.
    target_investors
        The target it was worked back from.

    Returns
    -------
    dict
        target_investors (as given), target_registrations, target_clicks and target_budget
        (the total row), target_top and target_top_share (the channel with the largest share).

    Examples
    --------
    :func:`decompose_goal`'s example with a second channel B (10 of 40 first investors,
    register -> invest 0.25, click -> register 0.1, no spend): 200 registrations, 1,400
    clicks, 6,000 yuan; the top channel is A with 75%.
    """
    total = plan[plan.channel == TOTAL].iloc[0]
    return {
        "target_investors": target_investors,
        "target_registrations": float(total.target_registrations),
        "target_clicks": float(total.target_clicks),
        "target_budget": float(total.budget),
        "target_top": str(plan.channel.iloc[0]),
        "target_top_share": float(plan.share.iloc[0]),
    }

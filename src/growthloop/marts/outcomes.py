"""Mart `campaign_outcomes`: one row per member of a reviewed campaign, with what happened in
their response window and how they behaved before it.

Every question of the closed-loop review (chapter 6) reads this table: the effect against the
holdout, the balance checks and CUPED, the campaign's own funnel, the segments, the uplift
model's cells and the next round's targets. It is kept once per campaign, goal, window and
`pre_days` (`outcomes`); only per-group, per-step or per-segment sums of it leave the engine.

Rules
-----
* Response window: (window start, window start + window_days], where the window start is the
  member's `sent_at` and, for holdout members (no `sent_at`), the campaign's `start_at`.
  Nothing at or after the end of the analysis date counts.
* Response (`responded`) by the campaign's goal: register / bind_card (the event in the
  window), first_investment (the user's first successful investment in the window),
  any_investment and amount (any successful investment in the window). `amount` and `revenue`
  sum the successful investments in the window (the investments mart) for every goal.
* The campaign's funnel, per member: `clicked` (a click recorded on the member row, or a
  link_click tagged utm_campaign = campaign_id, in the window), `opened` (app_open or
  app_install in the window), `registered` (signed up by the window's end), `bound_card` (a
  bind_card event by the window's end).
* Pre-campaign behaviour over [start_at - pre_days, start_at): `pre_active_days` (days with an
  event or an investment), `pre_invest_count`, `pre_invest_amount`; `tenure_days` (calendar
  days from sign-up to start_at); `aum_at_start`, the assets held at start_at (as the wide
  table's AUM, `investments.aum_expr`). Taken before the campaign, so the campaign cannot
  move them; the review's AUM layer is drawn from `aum_at_start`.

A campaign is anything with the fields of `CampaignWindow` (the review's `Campaign` card has
them): this module, below the metrics, does not import them.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

import ibis
from ibis import _

from growthloop.engine import money_sum
from growthloop.marts.events import check, selector
from growthloop.marts.investments import aum_expr, investments
from growthloop.staging.loader import Dataset

NAME = "campaign_outcomes"
#: One row per member, per kept campaign (the key of `outcomes` names the campaign, goal,
#: window and pre_days).
KEY: tuple[str, ...] = ("user_id",)
COLUMNS: tuple[str, ...] = (
    "user_id", "group", "sent_at", "delivered", "clicked_at", "window_start", "window_end",
    "responded", "amount", "revenue", "clicked", "opened", "registered", "bound_card",
    "pre_active_days", "pre_invest_count", "pre_invest_amount", "tenure_days", "aum_at_start",
)
#: The goals measured on investments; any other goal is an event of the data (a role such as
#: register or bind_card, or the platform's own event), with a property filter or not.
INVESTMENT_GOALS: tuple[str, ...] = ("first_investment", "any_investment", "amount")
#: The goals of the contract's campaigns table most platforms use (any event works too).
GOALS: tuple[str, ...] = ("register", "bind_card", *INVESTMENT_GOALS)


class CampaignWindow(Protocol):
    """What the mart needs of a campaign: its id, start, goal and response window."""

    campaign_id: str
    start_at: dt.datetime
    goal: str
    window_days: int


def _check_pre_days(pre_days: int) -> int:
    if int(pre_days) <= 0:
        raise ValueError(f"pre_days: {pre_days!r}; allowed: a positive number of days")
    return int(pre_days)


def member_outcomes(ds: Dataset, camp: CampaignWindow, pre_days: int = 90) -> ibis.Table:
    """The mart for one campaign as an Ibis expression (not executed); see the module docstring.

    Parameters
    ----------
    ds : Dataset
        The dataset (needs campaign_members).
    camp : CampaignWindow
        The campaign reviewed (campaign_id, start_at, goal, window_days); goal one of GOALS
        (any other goal counts no response: the review checks the goal first).
    pre_days : int, default 90
        Days before start_at that count as pre-campaign behaviour; positive.

    Returns
    -------
    ibis.Table
        One row per member of the campaign, columns COLUMNS: responded, clicked, opened,
        registered and bound_card are 0/1 integers; amounts, revenue and the pre-campaign
        measures are floats (0 when the member has none).

    Raises
    ------
    ValueError
        `pre_days` not positive.
    DataError
        When the dataset has no campaign_members table.
    """
    pre_days = _check_pre_days(pre_days)
    end = ds.period_end
    start = ibis.literal(camp.start_at)
    pre_start = ibis.literal(camp.start_at - dt.timedelta(days=pre_days))
    m = ds.campaign_members.filter(_.campaign_id == camp.campaign_id)
    ws = ibis.coalesce(m.sent_at, start)
    m = m.mutate(window_start=ws, window_end=ws + ibis.interval(days=camp.window_days))
    m = m.select("user_id", "group", "sent_at", "delivered", "clicked_at", "window_start",
                 "window_end")
    ids = m.select(_mid="user_id")

    inv = investments(ds)
    # an IN filter, not semi_join: Ibis 12 leaves LEFT SEMI JOIN in its Postgres SQL
    inv = inv.filter(inv.user_id.isin(ids._mid))
    if camp.goal in ("any_investment", "amount"):
        hit = ibis.literal(1)
    elif camp.goal == "first_investment":
        hit = (inv.invest_n == 0).cast("int64")
    else:
        hit = ibis.literal(0)
    rows = inv.select(_uid=inv.user_id, _t=inv.txn_time, _amount=inv.amount,
                      _revenue=inv.revenue, _hit=hit.cast("int64"))
    ev = ds.events.filter((_.event_time < end) & _.user_id.notnull())
    ev = ev.filter(ev.user_id.isin(ids._mid))
    if camp.goal not in INVESTMENT_GOALS:
        # any event of the data: the campaign's goal event (a selector with its property
        # filter), else the goal read as an event name
        goal = getattr(camp, "goal_event", None) or selector(camp.goal, "goal")
        check(ds, [goal], "goal")  # an event the data lacks would count no response, silently
        goal_ev = ev.filter(goal.condition(ev))
        rows = rows.union(goal_ev.select(_uid=goal_ev.user_id, _t=goal_ev.event_time,
                                         _amount=ibis.literal(0.0), _revenue=ibis.literal(0.0),
                                         _hit=ibis.literal(1).cast("int64")))
    j = m.inner_join(rows, m.user_id == rows._uid)
    j = j.filter((j._t > j.window_start) & (j._t <= j.window_end) & (j._t < end))
    got = j.group_by(_rid="user_id").aggregate(
        responded=j._hit.max(), amount=money_sum(j._amount), revenue=money_sum(j._revenue))

    # the campaign funnel's steps, per member
    win = m.select(_eu="user_id", _ws="window_start", _we="window_end")
    ev_m = ev.inner_join(win, ev.user_id == win._eu)
    ev_m = ev_m.filter(ev_m.event_time <= ev_m._we)
    inside = (ev_m.event_time > ev_m._ws)
    tagged = ev_m.utm_campaign == camp.campaign_id
    steps = ev_m.group_by(_sid="user_id").aggregate(
        _link=((ev_m.event_name == "link_click") & inside & tagged).any(),
        opened=((ev_m.event_name.isin(["app_open", "app_install"])) & inside).any(),
        bound_card=(ev_m.event_name == "bind_card").any(),
    )

    # pre-campaign behaviour: [start - pre_days, start)
    pre_ev = ev.filter((ev.event_time >= pre_start) & (ev.event_time < start))
    pre_inv = inv.filter((inv.txn_time >= pre_start) & (inv.txn_time < start))
    days = pre_ev.select(_pid=pre_ev.user_id, _d=pre_ev.event_time.date()).union(
        pre_inv.select(_pid=pre_inv.user_id, _d=pre_inv.txn_time.date()))
    active = days.group_by("_pid").aggregate(pre_active_days=_._d.nunique())
    invested = pre_inv.group_by(_iid="user_id").aggregate(
        pre_invest_count=_.count(), pre_invest_amount=money_sum(_.amount))
    held = inv.filter(aum_expr(inv, camp.start_at, ds.config.current_holding_days))
    aum = held.group_by(_aid="user_id").aggregate(aum_at_start=money_sum(_.amount))
    users = ds.users.select(_uu="user_id", _reg="registered_at")

    out = m.left_join(got, m.user_id == got._rid)
    out = out.left_join(steps, out.user_id == steps._sid)
    out = out.left_join(active, out.user_id == active._pid)
    out = out.left_join(invested, out.user_id == invested._iid)
    out = out.left_join(aum, out.user_id == aum._aid)
    out = out.left_join(users, out.user_id == users._uu)
    clicked = (out.clicked_at.notnull() & (out.clicked_at > out.window_start)
               & (out.clicked_at <= out.window_end)) | out._link.fill_null(False)
    out = out.mutate(
        responded=out.responded.fill_null(0).cast("int64"),
        amount=out.amount.fill_null(0.0).cast("float64"),
        revenue=out.revenue.fill_null(0.0).cast("float64"),
        clicked=clicked.cast("int64"),
        opened=out.opened.fill_null(False).cast("int64"),
        registered=(out._reg.notnull() & (out._reg <= out.window_end)).cast("int64"),
        bound_card=out.bound_card.fill_null(False).cast("int64"),
        pre_active_days=out.pre_active_days.fill_null(0).cast("float64"),
        pre_invest_count=out.pre_invest_count.fill_null(0).cast("float64"),
        pre_invest_amount=out.pre_invest_amount.fill_null(0.0).cast("float64"),
        # whole calendar days between the dates (a difference of timestamps in days counts
        # elapsed 24-hour spans on some engines)
        tenure_days=ibis.greatest(
            start.date().delta(out._reg.fill_null(camp.start_at).date(), unit="day"), 0
        ).cast("float64"),
        aum_at_start=out.aum_at_start.fill_null(0.0).cast("float64"),
    )
    return out.select(*COLUMNS)


def outcomes(ds: Dataset, camp: CampaignWindow, pre_days: int = 90) -> ibis.Table:
    """The kept mart: `member_outcomes`, materialised once per (campaign, goal, window, pre_days).

    Parameters
    ----------
    ds : Dataset
        As in :func:`member_outcomes`.
    camp : CampaignWindow
        As in :func:`member_outcomes`.
    pre_days : int, default 90
        As in :func:`member_outcomes`.

    Returns
    -------
    ibis.Table
        The kept table (columns COLUMNS), in the engine; not executed into Python.

    Raises
    ------
    ValueError
        `pre_days` not positive.
    """
    pre_days = _check_pre_days(pre_days)
    key = f"{NAME}:{camp.campaign_id}:{camp.goal}:{camp.window_days}:{pre_days}"
    return ds.keep(key, lambda: member_outcomes(ds, camp, pre_days))

"""Channel attribution (渠道归因): what each channel's money brings, and where the next yuan goes.

Three parts, all on the same stitched touches:

UTM and channels
----------------
Touches are the events named in `touch_events` (ad_click, link_click by default). Their UTM
values come from the utm_* columns or, where a column is null, from the event's landing_url
(`channels.with_utm`: a regular expression on the query string, then URL-decoding, trimming
and lower-casing, so "Baidu", " baidu" and "wechat%5Fkol" are one value and Chinese campaign
names survive; a value with a broken escape such as "50%off" is kept as written). Sources are mapped to channels by the dataset's channel map
(`ds.config.channels`); a source no channel claims keeps its own name (nothing is hidden) and a
touch without a source is 未标记 (untagged): it is counted and shown, never dropped. Events named
in `direct_events` (app_open, say) without a source are 直接访问 (direct): a visit that no
campaign brought.

Identity: the person_events mart (`growthloop.marts.identity`) gives every anonymous touch the user whose sign-up on the same device
comes next, so the clicks before sign-up count for the user. `stitching` reports how many
anonymous touches found their user.

The channel monitoring table (渠道监控表)
----------------------------------------
A registered user belongs to their sign-up channel: the UTM the platform recorded at sign-up
(users.utm_*), else the last tagged touch (of the table's `touch_events`) stitched to them at
or before sign-up, else 未标记. Clicks are touch events; installs belong to the device's last
touch at or before the install. Of touches in the same second, the one with the greatest
channel/source/medium/campaign key counts (a fixed rule, so every run and engine agrees).
Revenue after h days counts the investments made within h days of the first one, and only
investors whose h days have passed by the end of the analysis date enter its average (a young
investor is not yet a small one). ROI and revenue per yuan are on platform revenue (not profit):
ROI_h = (average h-day revenue per matured investor x first investors - spend) / spend, and
revenue per yuan (每元回报, an LTV/CAC by first investor) = average revenue at the LTV horizon /
cost per investor, the same number `budget_reallocation` ranks channels by. Retained investors are those
whose second investment comes within `retention_days` (90) of the first, as a rate among
investors whose 90 days have passed; cost per retained investor = spend / (first investors x
that rate). Without a costs table every money-per-spend column is NaN and
`frame.attrs["costs_available"]` is False; the volumes and revenue still work.

Multi-touch attribution
-----------------------
A person converts at their first `conversion` (first_investment by default, or any event name
or second_investment). Their path is their touches from `lookback_days` before the conversion up
to it; a person who never converted contributes a null path: their touches in the
`lookback_days` before their last touch. Consecutive touches of the same channel are one step
(the run's latest time is kept), and only the last `max_touches` steps count. A conversion with
no touch in its window has the path (直接访问,): the credit of an untracked conversion is direct,
as in Google Analytics. Paths are aggregated in the engine to (path, conversions, nulls).

Models (credits are never negative and sum to the conversions in every model):
* first_touch, last_touch: all credit to the first / last step;
* last_non_direct: to the last step whose channel is not direct (直接访问, 未标记 by default);
  a path of direct steps only keeps its last step;
* linear: equal credit to every step;
* time_decay: a step's weight halves every `half_life_days` before the conversion; computed in
  the engine with a window sum per person (weights / the person's total), so it uses the exact
  touch times rather than day buckets;
* position_based: 40% first, 40% last, 20% shared by the middle steps (one step: 100%; two:
  50/50);
* markov: removal effects of an absorbing Markov chain estimated from all paths (conversions
  and nulls). The probability of conversion from the start is solved exactly
  ((I - Q) x = r, a sparse direct solve with scipy, so high orders with thousands of states
  stay fast), then again with every state that contains the channel removed
  (transitions into it are lost). Effect = 1 - P(removed) / P; credit = conversions x
  effect / sum of effects. Order k: a state is the last k steps (shorter at a path's start);
* shapley: the cooperative game whose worth v(S) is the number of conversions whose paths
  touch only channels in S (Zhao, Mahboobi and Bagheri 2018, "Shapley value methods for
  attribution modeling in online advertising"). Exact by enumerating the 2^n coalitions when
  there are at most `shapley_exact_max` (12) channels; beyond, the mean marginal contribution
  over `shapley_samples` random channel orders from a seeded generator (permutation sampling,
  Castro, Gomez and Tejada 2009), the same every run, unbiased, its error shrinking as
  1/sqrt(samples). For this game the exact value has a closed form (each converting path's
  conversions shared equally by its distinct channels), which the tests use as the reference.
  v is monotone, so no credit is negative, and the values sum to v(all) = the conversions.

Budget
------
`budget_reallocation` ranks channels by revenue per yuan at the LTV horizon (value per
investor / cost per investor). Assumption: the marginal cost of an investor equals the average
cost at today's scale, so the ranking holds for small shifts (about a tenth of a channel's
budget); beyond that costs rise as a channel saturates, and a test budget must confirm.

What the data can support
-------------------------
A function whose answer this data cannot give raises `growthloop.errors.NotAvailable` (the
chapter shows the book's note and goes on): no costs table (`cost_summary`,
`budget_reallocation`: the monitoring table itself still shows the volumes, its money columns
NaN); no touch event (`utm_quality`, `attribution_paths`); nobody made the conversion, or no
conversion had a touch in its look-back (`attribution_paths`); no paid investor whose LTV
horizon has passed (`budget_reallocation`); fewer than two comparable paid channels
(`budget_summary`); one model only (`model_pair`). Channels are ranked or named (cheapest,
best per yuan) only with at least MIN_INVESTORS investors behind the number; fewer are listed,
not compared. `default_touch_events` gives the chapter's default touches: the roles the data
has. A bad parameter is a ValueError naming it (`check_horizons` before the chapter's first
section).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import ibis
import ibis.common.exceptions as com
import numpy as np
import pandas as pd
from ibis import _
from scipy import sparse
from scipy.sparse import linalg as sparse_linalg

from growthloop.engine import backend_name, money_sum, scratch
from growthloop.errors import NotAvailable
from growthloop.marts.channels import channel_mapping, channel_of, normalise_utm, raw_utm
from growthloop.marts.events import checked, event_names, matches, selector
from growthloop.marts.identity import person_steps
from growthloop.marts.investments import investments
from growthloop.marts.touches import (
    TOUCH_EVENTS,
    check_events,
    pack_keys,
    signup_keys,
    touches,
    unpack_keys,
)
from growthloop.marts.wide import user_wide
from growthloop.staging.contract import DIRECT_CHANNEL, UNTAGGED_CHANNEL
from growthloop.staging.loader import Dataset

DIRECT_CHANNELS: tuple[str, ...] = (DIRECT_CHANNEL, UNTAGGED_CHANNEL)
MODELS: tuple[str, ...] = (
    "first_touch",
    "last_touch",
    "last_non_direct",
    "linear",
    "time_decay",
    "position_based",
    "markov",
    "shapley",
)
#: The most channels `shapley` values exactly (2^n coalitions); beyond it, permutation sampling
SHAPLEY_EXACT_LIMIT = 16
MODEL_LABELS: dict[str, str] = {
    "first_touch": "首次触点",
    "last_touch": "末次触点",
    "last_non_direct": "末次非直接",
    "linear": "线性",
    "time_decay": "时间衰减",
    "position_based": "位置 40/20/40",
    "markov": "马尔可夫",
    "shapley": "Shapley",
}
LEVELS: dict[str, tuple[str, ...]] = {
    "channel": ("channel",),
    "source_medium": ("channel", "source", "medium"),
    "campaign": ("channel", "source", "medium", "campaign"),
}
HORIZONS: tuple[int, ...] = (30, 90, 180)
#: A channel is ranked or named (cheapest, best per yuan ...) only with at least this many
#: investors behind its number: first investors for a cost per investor, investors whose
#: horizon has passed for a value or a retention rate. Fewer are listed, not compared.
MIN_INVESTORS = 30
#: Below this many conversions the models' shares are shown but read as a direction only.
MIN_CONVERSIONS = 30
#: How the book names the investment milestones a conversion may be.
MILESTONE_LABELS: dict[str, str] = {"first_investment": "首投", "second_investment": "复投"}
TOTAL = "合计"
NONE = "-"  # a missing source / medium / campaign in the monitoring table
_SEP = "\x1f"  # joins path steps and packed UTM values in the engine

Path = tuple[str, ...]


def _days(value: float) -> ibis.IntervalScalar:
    return ibis.interval(seconds=int(round(float(value) * 86400)))


def _positive(name: str, value) -> None:
    if not (isinstance(value, int | float) and not isinstance(value, bool) and value > 0):
        raise ValueError(f"{name}: must be a positive number, got {value!r}")


def _ratio(num, den):
    """num / den, NaN where the denominator is 0 or missing (Series or numbers)."""
    if isinstance(den, pd.Series):
        return num / den.where(den != 0)
    return float(num) / float(den) if den and not pd.isna(den) else float("nan")


# --------------------------------------------------------------------------------------------
# the chapter's parameters and what the data has


def _whole_days(horizons: Iterable[int]) -> tuple[int, ...]:
    """Horizons as a tuple of positive whole days (30.0 is 30; 30.5, 0 and True are refused)."""
    if isinstance(horizons, str | int) or not isinstance(horizons, Iterable):
        raise ValueError(f"horizons: give a list of days, got {horizons!r}")
    hs = tuple(horizons)
    bad = [h for h in hs if isinstance(h, bool) or not isinstance(h, int | float)
           or h <= 0 or int(h) != h]
    if bad or not hs:
        raise ValueError(f"horizons: positive whole numbers of days, got {list(hs)!r}")
    return tuple(int(h) for h in hs)


def check_horizons(horizons: Sequence[int], revenue_horizon_days: int) -> tuple[int, ...]:
    """The revenue horizons, checked: positive whole days, the LTV horizon among them.

    The chapter calls this before its first section, so a horizon that is not computed stops
    the chapter naming its own parameter rather than failing inside a section.

    Parameters
    ----------
    horizons : sequence of int
        Revenue horizons in days after the first investment (the chapter's `horizons`).
    revenue_horizon_days : int
        The horizon used as investor value (LTV); one of `horizons`.

    Returns
    -------
    tuple of int
        The horizons.

    Raises
    ------
    ValueError
        Naming `horizons` (not positive whole days, or none) or `revenue_horizon_days` (not one
        of the horizons).

    Examples
    --------
    >>> check_horizons([30, 90, 180], 180)
    (30, 90, 180)
    """
    hs = _whole_days(horizons)
    if revenue_horizon_days not in hs:
        raise ValueError(f"revenue_horizon_days: {revenue_horizon_days!r} must be one of the "
                         f"horizons {list(hs)}")
    return hs


def default_touch_events(ds: Dataset) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The touch roles (TOUCH_EVENTS: ad_click, link_click) the data has, and those it lacks.

    The chapter's default touches: a platform that tracks only ad clicks gets ad clicks, and the
    page says which roles it left out. When the data has none of them, every role is returned
    (a role the data lacks adds no touch), so the monitoring table still counts sign-ups by
    their recorded UTM and the sections that need touches say that there are none.

    Parameters
    ----------
    ds : Dataset
        The dataset.

    Returns
    -------
    tuple
        (touch events to use, roles the data lacks), both in TOUCH_EVENTS' order.
    """
    present = event_names(ds)
    kept = tuple(e for e in TOUCH_EVENTS if e in present)
    absent = tuple(e for e in TOUCH_EVENTS if e not in present)
    return (kept or TOUCH_EVENTS), absent


def _touch_keys(touch_events: Sequence[Any]) -> str:
    return "、".join(s.key for s in touch_events)


def _no_touches(touch_events: Sequence[Any]) -> NotAvailable:
    return NotAvailable(
        f"营销触点（参数 touch_events 指定的事件：{_touch_keys(touch_events)}）",
        "截至分析日数据中没有这些事件",
        "在 dataset.yml 的 tables.events.values.event_name 里把平台的广告点击、链接点击事件映射为 "
        "ad_click / link_click，或用参数 touch_events 指定平台自己的触点事件")


def _has_touches(ds: Dataset, touch_events: Sequence[Any]) -> bool:
    t = touches(ds, touch_events)
    return int(t.count().to_pyarrow().as_py()) > 0


def _no_costs() -> NotAvailable:
    return NotAvailable(
        "成本表 (costs)：每天、每个来源 (utm_source / utm_medium / utm_campaign) 的投放花费",
        "数据中没有成本表 (costs)",
        "向投放团队要每日分来源的花费，按数据契约整理成 costs 表（date、utm_source、utm_medium、"
        "utm_campaign、spend）放进数据目录后重跑本章")


# --------------------------------------------------------------------------------------------
# touches


def stitching(ds: Dataset, touch_events: Any = TOUCH_EVENTS) -> dict[str, float | int]:
    """How well identity stitching works: anonymous touches that found their user, and
    registered users with at least one touch at or before their sign-up.

    Parameters
    ----------
    ds : Dataset
        The dataset.
    touch_events : list, default TOUCH_EVENTS
        The events that are marketing touches (roles the data lacks add none).

    Returns
    -------
    dict
        anonymous_touches, stitched_touches, stitch_rate, registered, registered_with_touch,
        touch_coverage (plain numbers; rates NaN when the base is 0).
    """
    touch_events = check_events(ds, touch_events, "touch_events")
    end = ds.period_end
    raw = ds.events.filter(
        (ds.events.event_time < end)
        & matches(ds.events, touch_events)
        & ds.events.user_id.isnull()
    )
    anon = int(raw.count().to_pyarrow().as_py())
    t = touches(ds, touch_events)
    # every anonymous touch either found a user or is still anonymous (a visitor's device)
    still_anon = int(t.filter(t.user_id.isnull()).count().to_pyarrow().as_py())
    users = ds.users.filter(ds.users.registered_at < end)
    first = t.filter(t.user_id.notnull()).group_by("user_id").aggregate(_first=_.event_time.min())
    first = first.rename(_uid="user_id")
    j = users.left_join(first, users.user_id == first._uid)
    res = j.aggregate(
        registered=_.count(),
        with_touch=(j._first.notnull() & (j._first <= j.registered_at)).cast("int64").sum(),
    ).to_pyarrow().to_pylist()[0]
    registered, with_touch = int(res["registered"]), int(res["with_touch"] or 0)
    stitched = anon - still_anon
    return {
        "anonymous_touches": anon,
        "stitched_touches": stitched,
        "stitch_rate": _ratio(stitched, anon),
        "registered": registered,
        "registered_with_touch": with_touch,
        "touch_coverage": _ratio(with_touch, registered),
    }


def utm_quality(ds: Dataset, touch_events: Any = TOUCH_EVENTS) -> pd.DataFrame:
    """What UTM cleaning did to the touches: how many were untagged, how many sources were
    written in another form (case, spaces, URL encoding) and fixed, how many came from the
    landing URL, and how many sources no channel claims (kept under their own name).

    Parameters
    ----------
    ds : Dataset
        The dataset.
    touch_events : list, default TOUCH_EVENTS
        The events that are marketing touches (names or selectors; roles the data lacks add
        none).

    Returns
    -------
    pandas.DataFrame
        item, touches, share (of all touches), in a fixed order: all touches, untagged, cleaned,
        parsed from the landing URL, outside the channel map.

    Raises
    ------
    NotAvailable
        When the data has no touch event up to the analysis date.
    """
    touch_events = check_events(ds, touch_events, "touch_events")
    end = ds.period_end
    ev = ds.events.filter((ds.events.event_time < end) & matches(ds.events, touch_events))
    # counted per distinct written value (the column's, and the landing URL's where it is
    # blank), each cleaned once: URL-decoding every touch cost a second at 1M users. The
    # values are few; they are summed here (Postgres cannot compile the URL decoding inside
    # an aggregate)
    written = ev.group_by(_raw=ev.utm_source, _written=raw_utm(ev, "utm_source")).aggregate(
        n=_.count())
    values = written.select(
        "n", raw=written._raw, blank=written._raw.strip().nullif("").isnull(),
        source=normalise_utm(written._written),
    ).to_pyarrow().to_pylist()
    known = set(channel_mapping(ds.config.channels))  # every source a channel claims
    tagged = [v for v in values if v["source"] is not None]
    res = {
        "total": sum(v["n"] for v in values),
        "untagged": sum(v["n"] for v in values if v["source"] is None),
        "cleaned": sum(v["n"] for v in tagged if v["raw"] is not None and v["raw"] != v["source"]),
        "from_url": sum(v["n"] for v in tagged if v["blank"]),
        "unmapped": sum(v["n"] for v in tagged if v["source"] not in known),
    }
    total = res["total"]
    if not total:
        raise _no_touches(touch_events)
    items = [
        ("触点总数", total),
        ("未标记（没有来源）", res["untagged"]),
        ("写法不规范、已清洗（大小写、空格、URL 编码）", res["cleaned"]),
        ("从落地页 URL 解析", res["from_url"]),
        ("渠道表之外的来源", res["unmapped"]),
    ]
    return pd.DataFrame(
        [{"item": k, "touches": v, "share": _ratio(v, total)} for k, v in items]
    )


# --------------------------------------------------------------------------------------------
# the channel monitoring table


def _fill_keys(table: ibis.Table, keys: Sequence[str]) -> ibis.Table:
    return table.mutate(**{k: table[k].fill_null(NONE) for k in keys if k != "channel"})


_FINE_KEYS: list[str] = list(LEVELS["campaign"])


def _monitor_sums(ds: Dataset, horizons: tuple[int, ...], retention_days: int,
                  touch_events: tuple) -> tuple[pd.DataFrame, bool]:
    """The sums of the monitoring table per channel x source x medium x campaign ('-' for a
    missing value), and whether there are costs. Every level of `channel_monitor` rolls these
    up, so they are computed once per dataset and parameters (the chapter asks for two levels).
    """
    mapping = sorted(channel_mapping(ds.config.channels).items())
    key = f"attribution.monitor:{touch_events!r}:{horizons!r}:{retention_days!r}:{mapping!r}"
    return ds.memo(key, lambda: _monitor_sums_build(ds, horizons, retention_days, touch_events))


def _monitor_sums_build(ds: Dataset, horizons: tuple[int, ...], retention_days: int,
                        touch_events: tuple) -> tuple[pd.DataFrame, bool]:
    keys = _FINE_KEYS
    end = ds.period_end
    end_lit = ibis.literal(end)
    t = touches(ds, touch_events)
    # clicks: the touch events themselves
    clicks = _fill_keys(t, keys).group_by(keys).aggregate(clicks=_.count())

    # installs: the device's last touch at or before the install (of touches at the same
    # time, the greatest key). A window finds the time of that touch (a running maximum of
    # touch times on the device), a join its key: the sort carries timestamps, not strings,
    # and only the touches of devices with an install, up to their last one.
    ev = ds.events
    inst_ev = ev.filter((ev.event_time < end) & (ev.event_name == "app_install")
                        & ev.anonymous_id.notnull())
    last = inst_ev.group_by(_da="anonymous_id").aggregate(_dl=inst_ev.event_time.max())
    dt = t.filter(t.anonymous_id.notnull())
    dt = dt.join(last, dt.anonymous_id == last._da).filter(_.event_time <= _._dl)
    stamp = ibis.null(dt.event_time.type())
    dev = dt.select("anonymous_id", "event_time", _kt=dt.event_time,
                    _inst=ibis.literal(0).cast("int8"))
    dev = dev.union(inst_ev.select("anonymous_id", "event_time", _kt=stamp,
                                   _inst=ibis.literal(1).cast("int8")))
    # kept step by step: at 10M users the union, the window, the join with the touches' keys
    # and the groups in one query needed more than a kernel's memory (an out-of-memory error
    # at 2.2 GiB, not a spill); each step alone fits
    with scratch(ds.con, dev, "monitor_devices") as dev:
        w = ibis.window(group_by="anonymous_id", order_by=["event_time", "_inst"], rows=(None, 0))
        dev = dev.mutate(_lt=dev._kt.max().over(w))
        found = dev.filter(dev._inst == 1).group_by(_ia="anonymous_id", _lt="_lt").aggregate(
            _n=_.count())
        with scratch(ds.con, found, "monitor_installs") as inst:
            # the keys from the kept touches themselves, not from `dt`: a touch at a device's
            # found time is one of `dt`'s rows anyway, and DuckDB materialises a joined table
            # read twice (docs/design_notes.md, "No large join read twice inside one query")
            kt = t.filter(t.anonymous_id.notnull())
            keyed = kt.select(_ka="anonymous_id", _kt=kt.event_time, _k=pack_keys(kt))
            hit = inst.join(keyed, (inst._ia == keyed._ka) & (inst._lt == keyed._kt))
            hit = hit.group_by(_ha="_ia", _hl="_lt").aggregate(_key=_._k.max())
            inst = inst.left_join(hit, (inst._ia == hit._ha) & (inst._lt == hit._hl))
            inst = inst.select("_n", **unpack_keys(inst._key))
            installs = (_fill_keys(inst, keys).group_by(keys).aggregate(installs=_._n.sum())
                        .to_pandas())

    # users: sign-up channel, milestones, revenue within each horizon of the first investment
    su = signup_keys(ds, touch_events)
    wide = user_wide(ds).select(
        _wid="user_id",
        bind_card_at=_.bind_card_at,
        first_invest_at=_.first_invest_at,
        first_invest_amount=_.first_invest_amount,
        second_invest_at=_.second_invest_at,
    )
    u = su.join(wide, su.user_id == wide._wid)
    txn = investments(ds).select(_tu="user_id", _tt="txn_time", _rev="revenue")
    ut = u.filter(u.first_invest_at.notnull())
    ut = ut.join(txn, ut.user_id == txn._tu)
    rev = ut.group_by("user_id").aggregate(
        **{
            f"_r{h}": money_sum(_._rev, where=_._tt < _.first_invest_at + _days(h))
            for h in horizons
        }
    ).rename(_ru="user_id")
    u = u.left_join(rev, u.user_id == rev._ru)
    inv = u.first_invest_at.notnull()
    aggs = {
        "registrations": _.count(),
        "bound_cards": u.bind_card_at.notnull().cast("int64").sum(),
        "first_investors": inv.cast("int64").sum(),
        "first_invest_amount": money_sum(u.first_invest_amount),
    }
    for h in horizons:
        matured = inv & (u.first_invest_at + _days(h) <= end_lit)
        aggs[f"matured_{h}d"] = matured.cast("int64").sum()
        aggs[f"revenue_{h}d_sum"] = money_sum(u[f"_r{h}"], where=matured)
    ret_matured = inv & (u.first_invest_at + _days(retention_days) <= end_lit)
    aggs["retention_base"] = ret_matured.cast("int64").sum()
    aggs["retained"] = (
        ret_matured
        & u.second_invest_at.notnull()
        & (u.second_invest_at <= u.first_invest_at + _days(retention_days))
    ).cast("int64").sum()
    people = _fill_keys(u, keys).group_by(keys).aggregate(**aggs)

    frames = [clicks.to_pandas(), installs, people.to_pandas()]
    costs_available = ds.has("costs")
    if costs_available:
        c = ds.costs.filter(ds.costs.date < end.date())
        c = c.mutate(
            source=normalise_utm(c.utm_source),
            medium=normalise_utm(c.utm_medium),
            campaign=normalise_utm(c.utm_campaign),
        )
        c = c.mutate(channel=channel_of(c.source, ds.config.channels))
        frames.append(_fill_keys(c, keys).group_by(keys).aggregate(spend=money_sum(_.spend)).to_pandas())
    out = frames[0]
    for f in frames[1:]:
        out = out.merge(f, on=keys, how="outer")
    for col in out.columns:
        if col not in keys:
            out[col] = out[col].astype(float)
    return out, costs_available


def channel_monitor(
    ds: Dataset,
    by: str = "channel",
    horizons: Sequence[int] = HORIZONS,
    ltv_horizon: int = 180,
    retention_days: int = 90,
    touch_events: Any = TOUCH_EVENTS,
    total: bool = True,
) -> pd.DataFrame:
    """The channel monitoring table (渠道监控表), one row per channel (by="channel"), per
    channel x source x medium ("source_medium") or per campaign ("campaign"), plus a 合计 row.

    Columns: the keys, clicks, installs, registrations, bound_cards, first_investors, spend,
    cost_per_registration, cost_per_investor, first_invest_amount, avg_first_invest, per
    horizon h: matured_{h}d (investors whose h days have passed), revenue_{h}d (their average
    h-day revenue), roi_{h}d; revenue_per_yuan, retained_rate, cost_per_retained_investor,
    revenue_{h}d_sum. See the module docstring for every definition. Without a costs table
    every money-per-spend column is NaN (the volumes and revenue are still there) and
    ``attrs["costs_available"]`` is False.

    Parameters
    ----------
    ds : Dataset
        The dataset.
    by : str, default "channel"
        The level: channel, source_medium or campaign.
    horizons : sequence of int, default HORIZONS
        Revenue horizons in days after the first investment.
    ltv_horizon : int, default 180
        The horizon used as investor value (revenue_per_yuan); one of `horizons`.
    retention_days : int, default 90
        A retained investor invests again within this many days of the first.
    touch_events : list, default TOUCH_EVENTS
        The events that are marketing touches (roles the data lacks add none).
    total : bool, default True
        Add the 合计 row.

    Returns
    -------
    pandas.DataFrame
        One row per key, ordered by the keys, the 合计 row last; ``attrs``: costs_available,
        ltv_horizon, retention_days.

    Raises
    ------
    ValueError
        For a bad `by`, horizon, `ltv_horizon` or `retention_days`.
    """
    if by not in LEVELS:
        raise ValueError(f"by: {by!r} is not one of {list(LEVELS)}")
    horizons = _whole_days(horizons)
    _positive("retention_days", retention_days)
    if ltv_horizon not in horizons:
        raise ValueError(f"ltv_horizon: {ltv_horizon!r} must be one of the horizons {list(horizons)}")
    keys = list(LEVELS[by])
    touch_events = check_events(ds, touch_events, "touch_events")
    fine, costs_available = _monitor_sums(ds, horizons, retention_days, touch_events)
    # the campaign-level sums rolled up to the level asked for: every column is a sum
    out = fine.groupby(keys, as_index=False, sort=True, dropna=False)[
        [c for c in fine.columns if c not in _FINE_KEYS]].sum()
    count_cols = [
        "clicks", "installs", "registrations", "bound_cards", "first_investors",
        "retention_base", "retained", *[f"matured_{h}d" for h in horizons],
    ]
    for col in count_cols:
        out[col] = out[col].fillna(0).astype("int64")
    money = ["first_invest_amount", *[f"revenue_{h}d_sum" for h in horizons]]
    # rounded to 1/10,000 yuan: a parallel float sum may differ in its last bits between runs
    for col in money:
        out[col] = out[col].astype(float).fillna(0.0).round(4)
    if costs_available:
        out["spend"] = out["spend"].astype(float).fillna(0.0).round(4)
    else:
        out["spend"] = float("nan")
    out = out.sort_values(keys).reset_index(drop=True)
    if total and len(out):
        row = {k: (TOTAL if k == "channel" else NONE) for k in keys}
        for col in count_cols + money:
            row[col] = out[col].sum()
        row["spend"] = out["spend"].sum() if costs_available else float("nan")
        out = pd.concat([out, pd.DataFrame([row])], ignore_index=True)
        for col in count_cols:
            out[col] = out[col].astype("int64")
    out["cost_per_registration"] = _ratio(out.spend, out.registrations)
    out["cost_per_investor"] = _ratio(out.spend, out.first_investors)
    out["avg_first_invest"] = _ratio(out.first_invest_amount, out.first_investors)
    for h in horizons:
        out[f"revenue_{h}d"] = _ratio(out[f"revenue_{h}d_sum"], out[f"matured_{h}d"])
        value = out[f"revenue_{h}d"] * out.first_investors
        out[f"roi_{h}d"] = _ratio(value - out.spend, out.spend)
    out["revenue_per_yuan"] = _ratio(out[f"revenue_{ltv_horizon}d"], out.cost_per_investor)
    out["retained_rate"] = _ratio(out.retained, out.retention_base)
    out["cost_per_retained_investor"] = _ratio(
        out.spend, out.first_investors * out.retained_rate
    )
    kinds = {c.name: c.kind for c in ds.config.channels}
    kinds[DIRECT_CHANNEL] = kinds[UNTAGGED_CHANNEL] = "untracked"
    out.insert(len(keys), "kind", out.channel.map(kinds).fillna("other"))
    out.loc[out.channel == TOTAL, "kind"] = ""
    cols = keys + [
        "kind", "clicks", "installs", "registrations", "bound_cards", "first_investors", "spend",
        "cost_per_registration", "cost_per_investor", "first_invest_amount", "avg_first_invest",
    ]
    for h in horizons:
        cols += [f"matured_{h}d", f"revenue_{h}d", f"roi_{h}d"]
    cols += ["revenue_per_yuan", "retention_base", "retained", "retained_rate",
             "cost_per_retained_investor", *[f"revenue_{h}d_sum" for h in horizons]]
    out = out[cols]
    out.attrs["costs_available"] = costs_available
    out.attrs["ltv_horizon"] = ltv_horizon
    out.attrs["retention_days"] = retention_days
    return out


#: weeks compared by the weekly trend's finding: the last RECENT_WEEKS against the ones before
RECENT_WEEKS = 4


def weekly_trend(ds: Dataset, weeks: int = 12, invest_days: int = 30,
                 touch_events: Any = TOUCH_EVENTS) -> pd.DataFrame:
    """Sign-ups, spend, cost per sign-up and first-investment rate per channel and natural week.

    Weeks run Monday to Sunday in the dataset's time zone; the last `weeks` complete weeks up
    to the analysis date are shown. A user counts in the week and channel of their sign-up
    (`signup_keys`, the book's one rule); spend in the week of its cost date. The
    first-investment rate is the share of the week's sign-ups who invested within
    `invest_days` of signing up, shown only for weeks whose every sign-up has had that long
    (`matured`); a younger week would read low.

    Parameters
    ----------
    ds : Dataset
        The dataset.
    weeks : int, default 12
        How many complete weeks, the newest last.
    invest_days : int, default 30
        The first-investment window after sign-up, in days.
    touch_events : Any, default TOUCH_EVENTS
        The touch events of the sign-up channel rule (chapter 3's `touch_events`).

    Returns
    -------
    pandas.DataFrame
        week (the Monday, a date), channel, registrations, first_investors, spend (NaN without
        a costs table), cost_per_registration (NaN without spend or sign-ups), matured,
        first_invest_rate (NaN when not matured or no sign-ups); by channel, then week.

    Raises
    ------
    ValueError
        For `weeks` or `invest_days` not a positive whole number.
    NotAvailable
        When no week before the analysis date is complete, or no one signed up in the weeks.
    """
    for name, value in (("weeks", weeks), ("invest_days", invest_days)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}: {value!r}; allowed: a positive whole number")
    day = ds.analysis_date
    monday = day - pd.Timedelta(days=day.weekday())
    last = monday if day.weekday() == 6 else monday - pd.Timedelta(days=7)  # a complete week
    first = last - pd.Timedelta(days=7 * (weeks - 1))
    end_of_last = last + pd.Timedelta(days=7)
    if last < first:
        raise NotAvailable("至少一个完整的自然周（周一到周日）", "分析日之前没有完整的一周",
                           "把分析日设在数据覆盖的某个周日或之后")
    lo, hi = ibis.literal(pd.Timestamp(first).to_pydatetime()), ibis.literal(
        pd.Timestamp(end_of_last).to_pydatetime())
    users = ds.users.filter((ds.users.registered_at >= lo) & (ds.users.registered_at < hi))
    keys = signup_keys(ds, touch_events).select(_k_uid="user_id", channel="channel")
    wide = user_wide(ds).select(_w_uid="user_id", _fi="first_invest_at")
    u = users.select("user_id", "registered_at")
    u = u.left_join(keys, u.user_id == keys._k_uid)
    u = u.left_join(wide, u.user_id == wide._w_uid)
    u = u.mutate(week=u.registered_at.truncate("W").date(),
                 _inv=(u._fi.notnull() & (u._fi < u.registered_at + ibis.interval(days=invest_days))))
    people = (u.group_by(["week", "channel"])
              .aggregate(registrations=_.count(), first_investors=_._inv.cast("int64").sum())
              .to_pandas())
    if people.empty:
        raise NotAvailable("所选各周内的注册用户", f"{first} 至 {last} 这几周没有人注册",
                           "把分析日设在有注册的时期，或减少 weeks")
    costs_available = ds.has("costs")
    if costs_available:
        c = ds.costs.filter((ds.costs.date >= first) & (ds.costs.date < end_of_last))
        c = c.mutate(source=normalise_utm(c.utm_source))  # as the monitoring table does
        c = c.mutate(channel=channel_of(c.source, ds.config.channels))
        # spend per day in the engine, weeks in pandas (a few hundred rows): truncating a date
        # gives a zoned timestamp on Postgres, which would read as the Sunday before
        daily = c.group_by(["date", "channel"]).aggregate(spend=money_sum(_.spend)).to_pandas()
        days = pd.to_datetime(daily.date)
        daily["week"] = (days - pd.to_timedelta(days.dt.weekday, unit="D")).dt.date
        spend = daily.groupby(["week", "channel"], as_index=False).spend.sum()
    else:
        spend = pd.DataFrame({"week": [], "channel": [], "spend": []})
    people["week"] = pd.to_datetime(people.week).dt.date
    out = people.merge(spend, on=["week", "channel"], how="outer")
    for col in ("registrations", "first_investors"):
        out[col] = out[col].fillna(0).astype("int64")
    out["spend"] = out.spend.astype(float)
    if costs_available:
        out["spend"] = out.spend.fillna(0.0).where(out.channel.isin(spend.channel), np.nan)
    out["cost_per_registration"] = _ratio(out.spend, out.registrations)
    end = ds.period_end.date()
    out["matured"] = [w + pd.Timedelta(days=7 + invest_days) <= end for w in out.week]
    rate = _ratio(out.first_investors.astype(float), out.registrations)
    out["first_invest_rate"] = rate.where(out.matured, np.nan)
    out = out.sort_values(["channel", "week"], kind="stable").reset_index(drop=True)
    out.attrs.update(costs_available=costs_available, invest_days=invest_days)
    return out[["week", "channel", "registrations", "first_investors", "spend",
                "cost_per_registration", "matured", "first_invest_rate"]]


def trend_channels(trend: pd.DataFrame, n: int = 6) -> list[str]:
    """The channels the weekly trend figure draws: the `n` with the most spend over the weeks,
    or, without a costs table, the `n` with the most sign-ups.

    Parameters
    ----------
    trend : pandas.DataFrame
        `weekly_trend`.
    n : int, default 6
        How many channels.

    Returns
    -------
    list of str
        Channel names, largest first (ties by name).

    Examples
    --------
    >>> t = pd.DataFrame({"channel": ["A", "A", "B", "C"], "spend": [1.0, 2.0, 5.0, float("nan")],
    ...                   "registrations": [1, 1, 1, 9]})
    >>> trend_channels(t, 2), trend_channels(t.assign(spend=float("nan")), 1)
    (['B', 'A'], ['C'])
    """
    by = "spend" if trend.spend.notna().any() else "registrations"
    sums = trend.groupby("channel")[by].sum(min_count=1).dropna()
    order = sorted(sums.index, key=lambda c: (-sums[c], c))
    return order[:n]


def trend_summary(trend: pd.DataFrame, recent: int = RECENT_WEEKS,
                  min_users: int = 10) -> dict[str, Any]:
    """The weekly trend's comparison (环比): cost per sign-up of the last `recent` weeks against
    the `recent` weeks before, per channel with spend, and the channels that moved most.

    Parameters
    ----------
    trend : pandas.DataFrame
        `weekly_trend`.
    recent : int, default RECENT_WEEKS
        Weeks in each of the two periods compared.
    min_users : int, default 10
        A channel is compared only when each period has at least this many sign-ups (the
        chapter's min_cell_size).

    Returns
    -------
    dict
        weeks (in the trend), compared, why_not (when not compared: "weeks" for fewer than
        2 × `recent` weeks, "costs" without spend, "small" when no channel has `min_users`
        sign-ups and spend in both periods; "" otherwise), recent, and when compared: rising / falling (the channel whose cost per sign-up rose or
        fell most, "" when none did), rising_before / rising_after / rising_change and the same
        for falling (yuan, yuan, a relative change), channels (how many were compared).
    """
    weeks = sorted(trend.week.unique())
    out: dict[str, Any] = {"weeks": len(weeks), "recent": recent, "compared": False,
                           "rising": "", "falling": "", "channels": 0, "why_not": ""}
    if len(weeks) < 2 * recent:
        return {**out, "why_not": "weeks"}
    if trend.spend.isna().all():
        return {**out, "why_not": "costs"}
    after, before = set(weeks[-recent:]), set(weeks[-2 * recent:-recent])

    def cac(part: pd.DataFrame) -> pd.Series:
        sums = part.groupby("channel")[["spend", "registrations"]].sum(min_count=1)
        return _ratio(sums.spend, sums.registrations.where(sums.registrations >= min_users))

    both = pd.DataFrame({"before": cac(trend[trend.week.isin(before)]),
                         "after": cac(trend[trend.week.isin(after)])}).dropna()
    both = both[both.before > 0]
    if both.empty:
        return {**out, "why_not": "small"}
    both["change"] = both.after / both.before - 1
    both = both.sort_index()
    out.update(compared=True, channels=int(len(both)))
    up, down = both.change.idxmax(), both.change.idxmin()
    if both.change[up] > 0:
        out.update(rising=str(up), rising_before=float(both.before[up]),
                   rising_after=float(both.after[up]), rising_change=float(both.change[up]))
    if both.change[down] < 0:
        out.update(falling=str(down), falling_before=float(both.before[down]),
                   falling_after=float(both.after[down]), falling_change=float(both.change[down]))
    return out


def monitor_summary(monitor: pd.DataFrame) -> dict[str, float | int | str]:
    """The monitoring table's volumes for the chapter (glued as ``attr_<key>``).

    Parameters
    ----------
    monitor : pandas.DataFrame
        A channel-level `channel_monitor` table.

    Returns
    -------
    dict
        channels (with 未标记), registrations, investors (first investors), matured (first
        investors whose LTV horizon has passed: those in its average revenue), retention_base
        (those whose retention days have passed), costs_available (有 or 没有, as the prose
        says it), horizon (the LTV horizon, days) and retention_days.

    Examples
    --------
    >>> m = pd.DataFrame({"channel": ["A", TOTAL], "registrations": [5, 5],
    ...                   "first_investors": [2, 2], "matured_30d": [1, 1],
    ...                   "retention_base": [1, 1]})
    >>> m.attrs.update(costs_available=False, ltv_horizon=30, retention_days=90)
    >>> monitor_summary(m)["matured"], monitor_summary(m)["costs_available"]
    (1, '没有')
    """
    rows = monitor[monitor.channel != TOTAL]
    h = monitor.attrs.get("ltv_horizon")
    return {
        "channels": int(len(rows)),
        "registrations": int(rows.registrations.sum()),
        "investors": int(rows.first_investors.sum()),
        "matured": int(rows[f"matured_{h}d"].sum()) if f"matured_{h}d" in rows else 0,
        "retention_base": int(rows.retention_base.sum()) if "retention_base" in rows else 0,
        "costs_available": "有" if monitor.attrs.get("costs_available", True) else "没有",
        "horizon": h,
        "retention_days": monitor.attrs.get("retention_days"),
    }


def cost_summary(monitor: pd.DataFrame,
                 min_investors: int = MIN_INVESTORS) -> dict[str, float | int | str]:
    """Spend and cost per investor for the chapter (glued as ``attr_<key>``).

    Channels are compared only with at least `min_investors` behind the number: first
    investors for the cost per investor, investors whose retention days have passed for the
    cost per retained investor.

    Parameters
    ----------
    monitor : pandas.DataFrame
        A channel-level `channel_monitor` table.
    min_investors : int, default MIN_INVESTORS
        The fewest investors a channel's cost is compared with.

    Returns
    -------
    dict
        spend and cost_per_investor (of the 合计 row: all first investors, free channels
        included; NaN without first investors); spend_channels (channels with spend);
        ranked_channels (paid channels with at least `min_investors` first investors) and
        among them the cheapest and dearest (cheapest_cpi, dearest_cpi); best_retained (the
        lowest cost per retained investor among paid channels with at least `min_investors`
        investors whose retention days have passed, best_cost_per_retained); 无 and NaN when
        there is none; min_investors.

    Raises
    ------
    NotAvailable
        Without a costs table, or when it has no spend up to the analysis date.
    """
    if not monitor.attrs.get("costs_available", True):
        raise _no_costs()
    rows = monitor[monitor.channel != TOTAL]
    tot = monitor[monitor.channel == TOTAL]
    spend = float(tot.spend.iloc[0]) if len(tot) else float(rows.spend.sum())
    if not spend > 0:
        raise NotAvailable("投放花费（成本表 costs 中分析日之前的 spend）",
                           "成本表里截至分析日没有大于 0 的花费",
                           "检查成本表的日期和 spend 列，或参数 analysis_date")
    investors = int(rows.first_investors.sum())
    nan = float("nan")
    paid = rows[(rows.spend > 0) & (rows.first_investors >= min_investors)]
    out: dict[str, float | int | str] = {
        "spend": spend,
        "cost_per_investor": _ratio(spend, investors),
        "spend_channels": int((rows.spend > 0).sum()),
        "ranked_channels": int(len(paid)),
        "cheapest": "无", "cheapest_cpi": nan, "dearest": "无", "dearest_cpi": nan,
        "best_retained": "无", "best_cost_per_retained": nan,
    }
    if len(paid):
        by_cost = paid.sort_values(["cost_per_investor", "channel"])
        out.update(cheapest=str(by_cost.channel.iloc[0]),
                   cheapest_cpi=float(by_cost.cost_per_investor.iloc[0]),
                   dearest=str(by_cost.channel.iloc[-1]),
                   dearest_cpi=float(by_cost.cost_per_investor.iloc[-1]))
    kept = rows[(rows.spend > 0) & (rows.retention_base >= min_investors)]
    kept = kept.dropna(subset=["cost_per_retained_investor"])
    if len(kept):
        best = kept.sort_values(["cost_per_retained_investor", "channel"]).iloc[0]
        out.update(best_retained=str(best.channel),
                   best_cost_per_retained=float(best.cost_per_retained_investor))
    out["min_investors"] = int(min_investors)
    return out


def channels_by_clicks(monitor: pd.DataFrame) -> pd.DataFrame:
    """The channels of a `channel_monitor` table (without 合计), most touches first.

    Parameters
    ----------
    monitor : pandas.DataFrame
        A channel-level `channel_monitor` table.

    Returns
    -------
    pandas.DataFrame
        Its channel rows ordered by clicks, descending (ties in the table's order).
    """
    return monitor[monitor.channel != TOTAL].sort_values("clicks", ascending=False)


def utm_summary(utm: pd.DataFrame, stitched: dict[str, float | int],
                monitor: pd.DataFrame) -> dict[str, float | int]:
    """UTM cleaning and identity stitching for the chapter's prose (glued as ``attr_<key>``).

    Parameters
    ----------
    utm
        `utm_quality`'s table (its rows in their fixed order: all touches, untagged, cleaned,
        parsed from the landing URL, outside the channel map).
    stitched
        `stitching`'s numbers.
    monitor
        A channel-level `channel_monitor` table, for the untagged sign-ups.

    Returns
    -------
    dict
        touches, untagged_touches, untagged_share, cleaned_touches, url_touches,
        unmapped_touches; untagged_registrations and untagged_reg_share (of all sign-ups);
        anonymous_touches, stitched_touches, stitch_rate, touch_coverage.
    """
    n = utm.touches.astype("int64").tolist()
    rows = monitor[monitor.channel != TOTAL]
    untagged = int(rows[rows.channel == UNTAGGED_CHANNEL].registrations.sum())
    return {
        "touches": n[0],
        "untagged_touches": n[1],
        "untagged_share": float(utm.share.iloc[1]),
        "cleaned_touches": n[2],
        "url_touches": n[3],
        "unmapped_touches": n[4],
        "untagged_registrations": untagged,
        "untagged_reg_share": _ratio(untagged, int(rows.registrations.sum())),
        "anonymous_touches": stitched["anonymous_touches"],
        "stitched_touches": stitched["stitched_touches"],
        "stitch_rate": stitched["stitch_rate"],
        "touch_coverage": stitched["touch_coverage"],
    }


# --------------------------------------------------------------------------------------------
# attribution paths (engine)


@dataclass(frozen=True)
class Paths:
    """Aggregated paths of one conversion, and the engine's time-decay credits.

    counts: path (tuple of channels), conversions, nulls, one row per distinct path, ordered.
    time_decay: channel -> credit (sums to the conversions).
    """

    counts: pd.DataFrame
    time_decay: dict[str, float]
    conversion: str
    lookback_days: float
    half_life_days: float

    @property
    def conversions(self) -> int:
        """All conversions, those without a touch (path 直接访问) included."""
        return int(self.counts.conversions.sum())

    @property
    def nulls(self) -> int:
        """People with touches who never converted (their null paths)."""
        return int(self.counts.nulls.sum())


def conversion_times(ds: Dataset, conversion: Any = "first_investment") -> ibis.Table:
    """person_id, conv_at: each registered user's first `conversion` up to the analysis date.

    Parameters
    ----------
    ds
        The dataset.
    conversion
        A milestone (first_investment, second_investment), any event name of the data, or an
        event with a property filter ({event: 浏览产品详情, where: {product_type: 定期12月}}).

    Returns
    -------
    ibis.Table
        person_id, conv_at (not executed).
    """
    (sel,) = checked(ds, [conversion], "conversion")
    ev = person_steps(ds, [sel.event])
    ev = ev.filter(ev.user_id.notnull() & sel.condition(ev))
    return ev.group_by("person_id").aggregate(conv_at=_.event_time.min())


def path_touches(
    ds: Dataset,
    conversion: Any = "first_investment",
    lookback_days: float = 30,
    touch_events: Any = TOUCH_EVENTS,
    direct_events: Any = (),
    max_touches: int = 20,
) -> ibis.Table:
    """The steps of every person's path (see the module docstring), as an Ibis expression.

    Parameters
    ----------
    ds : Dataset
        The dataset.
    conversion : str or dict, default "first_investment"
        The conversion: a milestone (first_investment, second_investment), any event name of
        the data, or an event with a property filter.
    lookback_days : float, default 30
        Touches up to this many days before the conversion (or the last touch) count.
    touch_events : list, default TOUCH_EVENTS
        The events that are marketing touches (roles the data lacks add none).
    direct_events : list, default ()
        Events counted as a direct visit when they carry no UTM source.
    max_touches : int, default 20
        Only the last this many steps of a path are kept.

    Returns
    -------
    ibis.Table
        person_id, converted (0/1), channel, event_time, days_before (days from the step to
        the conversion, or to the person's last touch for a null path), step (0 = last); one
        row per step of every person with a touch; not executed.

    Raises
    ------
    ValueError
        For a bad `lookback_days`, `max_touches` or event selector.
    DataError
        When `conversion`, `touch_events` or `direct_events` names an event or property the
        data does not have.
    """
    _positive("lookback_days", lookback_days)
    if not (isinstance(max_touches, int) and not isinstance(max_touches, bool) and max_touches > 0):
        raise ValueError(f"max_touches: must be a positive whole number, got {max_touches!r}")
    t = touches(ds, touch_events, direct_events)
    # the anchor: the conversion, else the person's last touch (an aggregate and a join, not a
    # window over every touch)
    conv = conversion_times(ds, conversion).rename(_cp="person_id")
    last = t.group_by(_ap="person_id").aggregate(_last=t.event_time.max())
    last = last.left_join(conv, last._ap == conv._cp)
    anchors = last.select(
        "_ap",
        _anchor=ibis.coalesce(last.conv_at, last._last),
        converted=last.conv_at.notnull().cast("int64"),
    )
    t = t.join(anchors, t.person_id == anchors._ap)
    t = t.filter((t.event_time <= t._anchor) & (t.event_time >= t._anchor - _days(lookback_days)))
    # one step per run of the same channel, at the run's latest time
    order = ["event_time", "channel", "event_name"]
    t = t.mutate(_next=t.channel.lead().over(group_by="person_id", order_by=order))
    t = t.filter(t._next.isnull() | (t._next != t.channel))
    t = t.mutate(
        step=ibis.row_number().over(
            group_by="person_id", order_by=[ibis.desc("event_time"), ibis.desc("channel")]
        )
    )
    t = t.filter(t.step < max_touches)
    # an exact microsecond difference (epoch_seconds drops the fraction of a second on Spark)
    days = t._anchor.delta(t.event_time, unit="microsecond").cast("float64") / 86400e6
    return t.select("person_id", "converted", "channel", "event_time", days_before=days, step=t.step)


def _person_paths(ds: Dataset, steps: ibis.Table, max_touches: int,
                  form: str | None = None) -> ibis.Table:
    """converted, path per person: the channels from step max_touches - 1 to step 0 (the last),
    joined by _SEP.

    Three forms of the same strings (`form`, default by backend):
    * "listed" (DuckDB): each person's (step, channel) pairs listed as they come, the short list
      sorted after the aggregate. An ordered aggregate sorts every step of every person at once:
      at 1M users the paths' counts took 2.8–3.8 s with it and 2.3–2.5 s listed
      (benchmarks/results/notes.md, round seventeen).
    * "ordered" (PostgreSQL): an ordered string aggregate.
    * "pivoted" (PySpark, where Ibis cannot compile the ordered aggregate): one column per step,
      joined in step order.
    """
    if form is None:
        form = "listed" if backend_name(ds.con) == "duckdb" else "ordered"
    if form not in ("listed", "ordered", "pivoted"):
        raise ValueError(f"form: {form!r} is not listed, ordered or pivoted")
    by = ["person_id", "converted"]
    if form == "listed":
        # -step: the list sorts ascending, and the path runs from the oldest step to step 0
        listed = steps.group_by(by).aggregate(
            _pairs=ibis.struct({"s": -steps.step, "c": steps.channel}).collect()
        )
        return listed.select("converted", path=listed._pairs.sort().map(lambda p: p.c).join(_SEP))
    if form == "ordered":
        ordered = steps.group_by(by).aggregate(
            path=_.channel.group_concat(_SEP, order_by=[ibis.desc(_.step)])
        )
        try:
            ds.con.compile(ordered)
            return ordered.select("converted", "path")
        except com.UnsupportedOperationError:
            pass
    per = steps.group_by(by).aggregate(
        **{f"_s{i}": steps.channel.max(where=steps.step == i) for i in range(max_touches)}
    )
    return per.select(
        "converted",
        path=ibis.literal(_SEP).join([per[f"_s{i}"] for i in reversed(range(max_touches))]),
    )


def attribution_paths(
    ds: Dataset,
    conversion: Any = "first_investment",
    lookback_days: float = 30,
    half_life_days: float = 7,
    touch_events: Any = TOUCH_EVENTS,
    direct_events: Any = (),
    max_touches: int = 20,
) -> Paths:
    """Paths aggregated in the engine to (path, conversions, nulls), plus time-decay credits
    computed in the engine from the exact touch times (half-life `half_life_days`).

    Parameters
    ----------
    ds : Dataset
        The dataset.
    conversion : str or dict, default "first_investment"
        The conversion: a milestone (first_investment, second_investment), any event name of
        the data, or an event with a property filter.
    lookback_days : float, default 30
        Touches up to this many days before the conversion count.
    half_life_days : float, default 7
        Time decay: a touch's weight halves every this many days before the conversion.
    touch_events : list, default TOUCH_EVENTS
        The events that are marketing touches (roles the data lacks add none).
    direct_events : list, default ()
        Events counted as a direct visit when they carry no UTM source.
    max_touches : int, default 20
        Only the last this many steps of a path count.

    Returns
    -------
    Paths
        The path counts (one row per distinct path, ordered) and the time-decay credits.

    Raises
    ------
    ValueError
        For a bad parameter (named).
    NotAvailable
        When the data has no touch event, nobody made the conversion up to the analysis date,
        or no conversion had a touch in its look-back window: there is nothing to attribute.
    """
    _positive("half_life_days", half_life_days)
    _positive("lookback_days", lookback_days)
    # a chapter reads the same paths in more than one section: computed once per dataset and
    # parameters, each caller given its own copy of the small result
    key = (f"attribution.paths:{conversion!r}:{float(lookback_days)!r}:{float(half_life_days)!r}:"
           f"{touch_events!r}:{direct_events!r}:{max_touches!r}")
    paths = ds.memo(key, lambda: _attribution_paths(ds, conversion, lookback_days, half_life_days,
                                                    touch_events, direct_events, max_touches))
    return replace(paths, counts=paths.counts.copy(), time_decay=dict(paths.time_decay))


def _attribution_paths(ds: Dataset, conversion: Any, lookback_days: float, half_life_days: float,
                       touch_events: Any, direct_events: Any, max_touches: int) -> Paths:
    """`attribution_paths`, computed."""
    touch = check_events(ds, touch_events, "touch_events")
    (sel,) = checked(ds, [conversion], "conversion")
    if not _has_touches(ds, touch):
        raise _no_touches(touch)
    expr = path_touches(ds, conversion, lookback_days, touch_events, direct_events, max_touches)
    # three queries read the steps: computed once
    with scratch(ds.con, expr, "path_steps") as steps:
        per = _person_paths(ds, steps, max_touches)
        counts = (
            per.group_by("path")
            .aggregate(conversions=_.converted.sum(), nulls=(1 - _.converted).sum())
            .order_by("path")
            .to_pandas()
        )
        conv = conversion_times(ds, conversion)
        seen = steps.filter(steps.converted == 1).select(_sp="person_id").distinct()
        j = conv.left_join(seen, conv.person_id == seen._sp)
        no_touch = int(j.filter(j._sp.isnull()).count().to_pyarrow().as_py())
        # time decay: weight 0.5 ** (days / half-life), normalised within each conversion
        cv = steps.filter(steps.converted == 1)
        cv = cv.mutate(_w=(0.5 ** (cv.days_before / float(half_life_days))).cast("float64"))
        cv = cv.mutate(_credit=cv._w / cv._w.sum().over(group_by="person_id"))
        td = (cv.group_by("channel").aggregate(credit=_._credit.sum()).order_by("channel")
              .to_pandas())
    label = sel.label(MILESTONE_LABELS)
    converted = int(counts.conversions.sum()) + no_touch
    if not converted:
        raise NotAvailable(f"至少一次转化「{label}」（参数 conversion）",
                           f"截至分析日数据中没有人完成「{label}」",
                           "换一个数据里有的转化（参数 conversion，如 first_investment 或 register），"
                           "或检查这一事件的埋点")
    if no_touch == converted:
        raise NotAvailable(f"转化「{label}」之前 {float(lookback_days):g} 天内的触点",
                           f"所有「{label}」转化在回溯窗口内都没有任何触点，无法在渠道之间分配功劳",
                           "把参数 lookback_days 调长，或用参数 touch_events 加上平台记录的其他触点事件")
    decay = {str(c): round(float(v), 9) for c, v in zip(td.channel, td.credit, strict=True)}
    counts["path"] = [tuple(p.split(_SEP)) for p in counts.path]
    counts["conversions"] = counts.conversions.astype("int64")
    counts["nulls"] = counts.nulls.astype("int64")
    if no_touch:
        direct = (DIRECT_CHANNEL,)
        if direct in set(counts.path):
            counts.loc[counts.path == direct, "conversions"] += no_touch
        else:
            extra = pd.DataFrame([{"path": direct, "conversions": no_touch, "nulls": 0}])
            counts = pd.concat([counts, extra], ignore_index=True)
        decay[DIRECT_CHANNEL] = decay.get(DIRECT_CHANNEL, 0.0) + float(no_touch)
    counts = counts.sort_values("path", key=lambda s: s.map(_SEP.join)).reset_index(drop=True)
    return Paths(counts[["path", "conversions", "nulls"]], decay, selector(conversion).key,
                 float(lookback_days), float(half_life_days))


def path_table(paths: Paths, top: int = 15) -> pd.DataFrame:
    """The most frequent converting paths for display.

    Parameters
    ----------
    paths : Paths
        `attribution_paths`' result.
    top : int, default 15
        How many paths.

    Returns
    -------
    pandas.DataFrame
        path (a > b), steps, conversions, nulls, conversion_rate, share of conversions; most
        conversions first.
    """
    c = paths.counts.copy()
    c["steps"] = c.path.map(len)
    c["conversion_rate"] = _ratio(c.conversions, c.conversions + c.nulls)
    c["share"] = c.conversions / max(int(c.conversions.sum()), 1)
    c["path"] = c.path.map(" > ".join)
    c = c.sort_values(["conversions", "path"], ascending=[False, True]).head(top)
    return c[["path", "steps", "conversions", "nulls", "conversion_rate", "share"]].reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# attribution models over path counts (pure Python / numpy: the inputs are small)


def _rows(counts) -> list[tuple[Path, int, int]]:
    """(path, conversions, nulls) from a frame or an iterable of triples; empty paths refused."""
    if isinstance(counts, Paths):
        counts = counts.counts
    if isinstance(counts, pd.DataFrame):
        items = zip(counts.path, counts.conversions, counts.nulls, strict=True)
    else:
        items = counts
    rows = []
    for path, conv, null in items:
        path = tuple(path)
        if not path:
            raise ValueError("paths: every path needs at least one step")
        if conv < 0 or null < 0:
            raise ValueError("paths: conversions and nulls must be non-negative")
        rows.append((path, int(conv), int(null)))
    return rows


def _add(credit: dict[str, float], channel: str, value: float) -> None:
    credit[channel] = credit.get(channel, 0.0) + value


def first_touch(counts) -> dict[str, float]:
    """All of a conversion's credit to its first step.

    Parameters
    ----------
    counts : Paths, pandas.DataFrame or iterable of tuple
        Path counts: an `attribution_paths` result, a frame of (path, conversions, nulls) or
        (path, conversions, nulls) triples; a path is a sequence of channels.

    Returns
    -------
    dict of str to float
        {channel: conversions credited}, summing to the conversions; a channel credited
        nothing may be missing.

    Raises
    ------
    ValueError
        For an empty path or a negative count.

    Examples
    --------
    >>> first_touch([(("A", "B"), 3, 1), (("B",), 1, 2)])
    {'A': 3.0, 'B': 1.0}
    """
    out: dict[str, float] = {}
    for path, conv, _n in _rows(counts):
        _add(out, path[0], conv)
    return out


def last_touch(counts) -> dict[str, float]:
    """All of a conversion's credit to its last step.

    Parameters
    ----------
    counts : Paths, pandas.DataFrame or iterable of tuple
        Path counts: an `attribution_paths` result, a frame of (path, conversions, nulls) or
        (path, conversions, nulls) triples; a path is a sequence of channels.

    Returns
    -------
    dict of str to float
        {channel: conversions credited}, summing to the conversions; a channel credited
        nothing may be missing.

    Raises
    ------
    ValueError
        For an empty path or a negative count.

    Examples
    --------
    >>> last_touch([(("A", "B"), 3, 1), (("B",), 1, 2)])
    {'B': 4.0}
    """
    out: dict[str, float] = {}
    for path, conv, _n in _rows(counts):
        _add(out, path[-1], conv)
    return out


def last_non_direct(counts, direct: Iterable[str] = DIRECT_CHANNELS) -> dict[str, float]:
    """All credit to the last step that is not direct (a direct-only path keeps its last step).

    Parameters
    ----------
    counts : Paths, pandas.DataFrame or iterable of tuple
        Path counts: an `attribution_paths` result, a frame of (path, conversions, nulls) or
        (path, conversions, nulls) triples; a path is a sequence of channels.
    direct : iterable of str, default DIRECT_CHANNELS
        The channels passed over (直接访问, 未标记).

    Returns
    -------
    dict of str to float
        {channel: conversions credited}, summing to the conversions; a channel credited
        nothing may be missing.

    Raises
    ------
    ValueError
        For an empty path or a negative count.

    Examples
    --------
    >>> last_non_direct([(("A", "直接访问"), 2, 0), (("直接访问",), 1, 0)])
    {'A': 2.0, '直接访问': 1.0}
    """
    direct = set(direct)
    out: dict[str, float] = {}
    for path, conv, _n in _rows(counts):
        pick = next((c for c in reversed(path) if c not in direct), path[-1])
        _add(out, pick, conv)
    return out


def linear(counts) -> dict[str, float]:
    """Equal credit to every step of a converting path.

    Parameters
    ----------
    counts : Paths, pandas.DataFrame or iterable of tuple
        Path counts: an `attribution_paths` result, a frame of (path, conversions, nulls) or
        (path, conversions, nulls) triples; a path is a sequence of channels.

    Returns
    -------
    dict of str to float
        {channel: conversions credited}, summing to the conversions; a channel credited
        nothing may be missing.

    Raises
    ------
    ValueError
        For an empty path or a negative count.

    Examples
    --------
    >>> linear([(("A", "B"), 3, 1), (("B",), 1, 2)])
    {'A': 1.5, 'B': 2.5}
    """
    out: dict[str, float] = {}
    for path, conv, _n in _rows(counts):
        for c in path:
            _add(out, c, conv / len(path))
    return out


def position_based(counts, first: float = 0.4, last: float = 0.4) -> dict[str, float]:
    """`first` to the first step, `last` to the last, the rest shared by the middle steps.
    One step takes everything; two steps split first : last in proportion.

    Parameters
    ----------
    counts : Paths, pandas.DataFrame or iterable of tuple
        Path counts: an `attribution_paths` result, a frame of (path, conversions, nulls) or
        (path, conversions, nulls) triples; a path is a sequence of channels.
    first : float, default 0.4
        The first step's share of a conversion, in [0, 1].
    last : float, default 0.4
        The last step's share; `first` + `last` <= 1 (two steps with both 0 split 50/50).

    Returns
    -------
    dict of str to float
        {channel: conversions credited}, summing to the conversions; a channel credited
        nothing may be missing.

    Raises
    ------
    ValueError
        For bad shares, an empty path or a negative count.
    """
    if not (first >= 0 and last >= 0 and first + last <= 1):
        raise ValueError(f"first, last: shares in [0, 1] with first + last <= 1, got {first}, {last}")
    out: dict[str, float] = {}
    for path, conv, _n in _rows(counts):
        n = len(path)
        if n == 1:
            _add(out, path[0], conv)
        elif n == 2:
            f = first / (first + last) if first + last > 0 else 0.5
            _add(out, path[0], conv * f)
            _add(out, path[1], conv * (1 - f))
        else:
            mid = (1 - first - last) / (n - 2)
            _add(out, path[0], conv * first)
            _add(out, path[-1], conv * last)
            for c in path[1:-1]:
                _add(out, c, conv * mid)
    return out


def _states(path: Path, order: int) -> list[Path]:
    return [path[max(0, i - order + 1): i + 1] for i in range(len(path))]


def markov_chain(counts, order: int = 1) -> tuple[list[Path], sparse.csr_array, np.ndarray]:
    """The transition matrix of the path chain: (states, Q, r) where state 0 is the start,
    Q[i, j] (sparse) the probability of going from transient state i to j, r[i] of converting
    from i (the rest of each row goes to null).

    Parameters
    ----------
    counts : Paths, pandas.DataFrame or iterable of tuple
        Path counts: an `attribution_paths` result, a frame of (path, conversions, nulls) or
        (path, conversions, nulls) triples; a path is a sequence of channels. Paths with
        neither conversions nor nulls are left out.
    order : int, default 1
        The chain's order: a state is the last `order` steps (shorter at a path's start).

    Returns
    -------
    states : list of tuple of str
        The states, state 0 the start ``()``.
    q : scipy.sparse.csr_array
        The n x n transition probabilities between the states.
    r : numpy.ndarray
        The n conversion probabilities.

    Raises
    ------
    ValueError
        For a bad `order` (named markov_order, as `attribute` takes it), an empty path or a
        negative count.
    """
    if not (isinstance(order, int) and not isinstance(order, bool) and order >= 1):
        raise ValueError(f"markov_order: must be a whole number >= 1, got {order!r}")
    rows = _rows(counts)
    index: dict[Path, int] = {(): 0}
    trans: dict[tuple[int, int], float] = {}
    conv_to: dict[int, float] = {}
    out_total: dict[int, float] = {}
    for path, conv, null in rows:
        weight = conv + null
        if not weight:
            continue
        prev = 0
        for st in _states(path, order):
            j = index.setdefault(st, len(index))
            trans[(prev, j)] = trans.get((prev, j), 0.0) + weight
            out_total[prev] = out_total.get(prev, 0.0) + weight
            prev = j
        conv_to[prev] = conv_to.get(prev, 0.0) + conv
        out_total[prev] = out_total.get(prev, 0.0) + weight
    n = len(index)
    keys = sorted(trans)
    q = sparse.csr_array(
        (
            [trans[k] / out_total[k[0]] for k in keys],
            ([k[0] for k in keys], [k[1] for k in keys]),
        ),
        shape=(n, n),
    )
    r = np.zeros(n)
    for i, v in conv_to.items():
        r[i] = v / out_total[i]
    states = sorted(index, key=index.get)
    return states, q, r


def _p_conversion(q, r: np.ndarray, removed: np.ndarray | None = None) -> float:
    """P(conversion | start), exactly: solve the sparse system (I - Q) x = r. Removed states
    lead to null (their rows and the transitions into them are dropped)."""
    keep = np.ones(len(r)) if removed is None else (~removed).astype(float)
    d = sparse.diags_array(keep)
    system = (sparse.eye_array(len(r)) - d @ sparse.csr_array(q) @ d).tocsc()
    if len(r) == 1:
        return float(r[0] * keep[0])
    x = sparse_linalg.spsolve(system, r * keep)
    return float(np.atleast_1d(x)[0])


def removal_effects(counts, order: int = 1) -> dict[str, float]:
    """Each channel's removal effect: 1 - P(conversion without it) / P(conversion).

    Parameters
    ----------
    counts : Paths, pandas.DataFrame or iterable of tuple
        Path counts: an `attribution_paths` result, a frame of (path, conversions, nulls) or
        (path, conversions, nulls) triples; a path is a sequence of channels.
    order : int, default 1
        The Markov chain's order (`markov_chain`).

    Returns
    -------
    dict of str to float
        {channel: effect} for every channel on a path with people, each in [0, 1] (0 when
        nobody converts); empty without such a path.

    Raises
    ------
    ValueError
        For a bad `order`, an empty path or a negative count.
    """
    states, q, r = markov_chain(counts, order)
    channels = sorted({c for s in states for c in s})
    if not channels:
        return {}
    base = _p_conversion(q, r)
    out = {}
    for c in channels:
        removed = np.array([c in s for s in states])
        p = _p_conversion(q, r, removed)
        out[c] = max(0.0, 1.0 - p / base) if base > 0 else 0.0
    return out


def markov(counts, order: int = 1) -> dict[str, float]:
    """Conversions shared in proportion to the removal effects (exact absorbing chain).

    Parameters
    ----------
    counts : Paths, pandas.DataFrame or iterable of tuple
        Path counts: an `attribution_paths` result, a frame of (path, conversions, nulls) or
        (path, conversions, nulls) triples; a path is a sequence of channels.
    order : int, default 1
        The Markov chain's order (`markov_chain`).

    Returns
    -------
    dict of str to float
        {channel: conversions credited} for every channel of `removal_effects`, summing to
        the conversions (all 0 without conversions).

    Raises
    ------
    ValueError
        For a bad `order`, an empty path or a negative count.
    """
    rows = _rows(counts)
    total = sum(c for _p, c, _n in rows)
    effects = removal_effects(rows, order)
    s = sum(effects.values())
    if total == 0 or s == 0:
        return {c: 0.0 for c in effects}
    return {c: total * e / s for c, e in effects.items()}


def _shapley_exact(members: np.ndarray, conv: np.ndarray) -> np.ndarray:
    """Exact Shapley values by enumerating every coalition (2^n subsets)."""
    n = members.shape[1]
    size = 1 << n
    masks = (members * (1 << np.arange(n))).sum(axis=1).astype(np.int64)
    cz = np.bincount(masks, weights=conv, minlength=size).astype(float)
    for i in range(n):  # subset sums (zeta transform): v(S) = sum of conv(T) over T within S
        step = 1 << i
        cz = cz.reshape(-1, 2, step)
        cz[:, 1, :] += cz[:, 0, :]
        cz = cz.reshape(size)
    v = cz
    all_masks = np.arange(size)
    pop = np.array([bin(m).count("1") for m in range(size)])
    weight = np.array(
        [math.factorial(s) * math.factorial(n - s - 1) / math.factorial(n) if s < n else 0.0
         for s in range(n + 1)]
    )
    phi = np.zeros(n)
    for i in range(n):
        without = all_masks[(all_masks >> i) & 1 == 0]
        phi[i] = float((weight[pop[without]] * (v[without | (1 << i)] - v[without])).sum())
    return phi


def _shapley_sampled(members: np.ndarray, conv: np.ndarray, samples: int, seed: int) -> np.ndarray:
    """Shapley values by permutation sampling: the mean marginal contribution of each channel
    over `samples` seeded random orders. A path set is inside the first k channels of an order
    exactly when its latest channel in that order comes before position k."""
    rng = np.random.default_rng(seed)
    n_sets, n = members.shape
    phi = np.zeros(n)
    for _k in range(samples):
        perm = rng.permutation(n)
        pos = np.empty(n, dtype=np.int64)
        pos[perm] = np.arange(n)
        rank = np.where(members, pos[None, :], -1).max(axis=1)  # position of the set's last one
        v = np.concatenate([[0.0], np.cumsum(np.bincount(rank, weights=conv, minlength=n))])
        phi[perm] += np.diff(v)
    return phi / samples


def shapley(
    counts, exact_max: int = 12, samples: int = 2000, seed: int = 0
) -> dict[str, float]:
    """Shapley credit (module docstring): exact up to `exact_max` channels, seeded permutation
    sampling beyond (then scaled so the credits sum to the conversions exactly).

    Parameters
    ----------
    counts : Paths, pandas.DataFrame or iterable of tuple
        Path counts: an `attribution_paths` result, a frame of (path, conversions, nulls) or
        (path, conversions, nulls) triples; a path is a sequence of channels.
    exact_max : int, default 12
        Exact values (2^n coalitions) up to this many channels, sampled beyond.
    samples : int, default 2000
        Random channel orders of the sampled values.
    seed : int, default 0
        The sampling's seed: the same seed gives the same credits.

    Returns
    -------
    dict of str to float
        {channel: conversions credited} for every channel on a path, summing to the
        conversions (all 0 without conversions).

    Raises
    ------
    ValueError
        For a bad `samples` (named shapley_samples, as `attribute` takes it), an empty path
        or a negative count.

    Examples
    --------
    >>> shapley([(("A", "B"), 3, 1), (("B",), 1, 2)])
    {'A': 1.5, 'B': 2.5}
    """
    if not (isinstance(samples, int) and not isinstance(samples, bool) and samples > 0):
        raise ValueError(f"shapley_samples: must be a positive whole number, got {samples!r}")
    if not (isinstance(exact_max, int) and not isinstance(exact_max, bool)
            and 0 <= exact_max <= SHAPLEY_EXACT_LIMIT):
        raise ValueError(f"shapley_exact_max: a whole number from 0 to {SHAPLEY_EXACT_LIMIT} (the exact "
                         f"value enumerates 2^n coalitions), got {exact_max!r}")
    rows = _rows(counts)
    channels = sorted({c for p, _c, _n in rows for c in p})
    total = sum(c for _p, c, _n in rows)
    if not channels:
        return {}
    idx = {c: i for i, c in enumerate(channels)}
    sets: dict[frozenset, list[int]] = {}
    for path, conv, null in rows:
        key = frozenset(path)
        acc = sets.setdefault(key, [0, 0])
        acc[0] += conv
        acc[1] += conv + null
    keys = sorted(sets, key=lambda s: sorted(s))
    members = np.zeros((len(keys), len(channels)), dtype=bool)
    for k, s in enumerate(keys):
        for c in s:
            members[k, idx[c]] = True
    conv = np.array([sets[s][0] for s in keys], dtype=float)
    if len(channels) <= exact_max:
        phi = _shapley_exact(members, conv)
    else:
        phi = _shapley_sampled(members, conv, samples, seed)
    phi = np.clip(phi, 0.0, None)
    s = float(phi.sum())
    if total == 0 or s == 0:
        return {c: 0.0 for c in channels}
    return {c: float(total * phi[idx[c]] / s) for c in channels}


def attribute(
    paths: Paths | pd.DataFrame,
    models: Sequence[str] = MODELS,
    markov_order: int = 1,
    direct_channels: Sequence[str] = DIRECT_CHANNELS,
    position_weights: tuple[float, float] = (0.4, 0.4),
    shapley_exact_max: int = 12,
    shapley_samples: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Every model on the same paths, as a long table: channel, model, conversions, share.

    Every channel on any path has a row in every model (0 when it gets nothing); rows are
    ordered by model, then channel.

    Parameters
    ----------
    paths : Paths or pandas.DataFrame
        An `attribution_paths` result (time_decay needs it: its credit comes from the engine)
        or a frame of (path, conversions, nulls).
    models : sequence of str, default MODELS
        The models to compute.
    markov_order : int, default 1
        The Markov chain's order.
    direct_channels : sequence of str, default DIRECT_CHANNELS
        Channels last_non_direct passes over.
    position_weights : tuple of float, default (0.4, 0.4)
        position_based's shares of the first and the last step.
    shapley_exact_max : int, default 12
        Exact Shapley values up to this many channels, sampled beyond.
    shapley_samples : int, default 2000
        Random channel orders of the sampled Shapley values.
    seed : int, default 0
        The sampling's seed.

    Returns
    -------
    pandas.DataFrame
        channel, model, conversions, share (of all conversions; NaN without conversions).

    Raises
    ------
    ValueError
        For an unknown model, or time_decay without an `attribution_paths` result.
    """
    models = tuple(models)
    bad = [m for m in models if m not in MODELS]
    if bad or not models:
        raise ValueError(f"models: {bad or models} not among {list(MODELS)}")
    if "time_decay" in models and not isinstance(paths, Paths):
        raise ValueError("models: time_decay needs an attribution_paths result (touch times)")
    rows = _rows(paths)
    total = sum(c for _p, c, _n in rows)
    channels = sorted({c for p, _c, _n in rows for c in p})
    results: dict[str, dict[str, float]] = {}
    for m in models:
        if m == "first_touch":
            results[m] = first_touch(rows)
        elif m == "last_touch":
            results[m] = last_touch(rows)
        elif m == "last_non_direct":
            results[m] = last_non_direct(rows, direct_channels)
        elif m == "linear":
            results[m] = linear(rows)
        elif m == "time_decay":
            results[m] = dict(paths.time_decay)  # type: ignore[union-attr]
        elif m == "position_based":
            results[m] = position_based(rows, *position_weights)
        elif m == "markov":
            results[m] = markov(rows, markov_order)
        else:
            results[m] = shapley(rows, shapley_exact_max, shapley_samples, seed)
    out = []
    for m in models:
        for c in channels:
            v = float(max(0.0, results[m].get(c, 0.0)))
            out.append({"channel": c, "model": m, "conversions": v,
                        "share": v / total if total else float("nan")})
    return pd.DataFrame(out, columns=["channel", "model", "conversions", "share"])


# --------------------------------------------------------------------------------------------
# where the models disagree, and the budget


def assists(paths: Paths | pd.DataFrame) -> pd.DataFrame:
    """Per channel: conversions it closed and assisted.

    Parameters
    ----------
    paths : Paths or pandas.DataFrame
        Path counts (path, conversions, nulls).

    Returns
    -------
    pandas.DataFrame
        channel, closed (conversions whose last step it is), assisted (conversions on whose
        path it is but not last), on_path (converting paths it appears on), assist_ratio =
        assisted / closed (NaN when it closed none).
    """
    rows = _rows(paths)
    closed: dict[str, int] = {}
    assisted: dict[str, int] = {}
    on: dict[str, int] = {}
    for path, conv, _n in rows:
        closed[path[-1]] = closed.get(path[-1], 0) + conv
        for c in set(path):
            on[c] = on.get(c, 0) + conv
        for c in set(path[:-1]) - {path[-1]}:
            assisted[c] = assisted.get(c, 0) + conv
    channels = sorted(on)
    return pd.DataFrame(
        [{"channel": c, "closed": closed.get(c, 0), "assisted": assisted.get(c, 0),
          "on_path": on[c], "assist_ratio": _ratio(assisted.get(c, 0), closed.get(c, 0))}
         for c in channels],
        columns=["channel", "closed", "assisted", "on_path", "assist_ratio"],
    )


def disagreement(models: pd.DataFrame, paths: Paths | pd.DataFrame,
                 a: str = "last_touch", b: str = "markov") -> pd.DataFrame:
    """Per channel: its share under every model, spread (max - min share), b - a, and its
    assist counts; ordered by |b - a| (largest disagreement first).

    Parameters
    ----------
    models : pandas.DataFrame
        `attribute`'s credits.
    paths : Paths or pandas.DataFrame
        The paths they were computed on (for the assist counts).
    a, b : str, default "last_touch", "markov"
        The two models compared (`model_pair`): diff = b's share - a's.

    Returns
    -------
    pandas.DataFrame
        channel, a column per model, spread, diff, closed, assisted, on_path, assist_ratio and
        role: 助攻 (an assister) when it assists more conversions than it closes, 收割 (a
        closer) otherwise; ``attrs["pair"]`` = (a, b).

    Raises
    ------
    ValueError
        When `a` or `b` is not among the computed models.
    """
    for name, m in (("a", a), ("b", b)):
        if m not in set(models.model):
            raise ValueError(f"{name}: {m!r} is not among the computed models {sorted(set(models.model))}")
    wide = models.pivot(index="channel", columns="model", values="share")
    order = [m for m in MODELS if m in wide.columns]
    wide = wide[order]
    out = wide.reset_index()
    out["spread"] = wide.max(axis=1).to_numpy() - wide.min(axis=1).to_numpy()
    out["diff"] = out[b] - out[a]
    out = out.merge(assists(paths), on="channel", how="left")
    out["role"] = np.where(out.assisted > out.closed, "助攻", "收割")
    out["_abs"] = out["diff"].abs().round(9)
    out = out.sort_values(["_abs", "channel"], ascending=[False, True]).drop(columns="_abs")
    out.attrs["pair"] = (a, b)
    return out.reset_index(drop=True)


def budget_reallocation(
    monitor: pd.DataFrame, ltv_horizon: int | None = None, shift: float = 0.1,
    min_investors: int = MIN_INVESTORS,
) -> pd.DataFrame:
    """Where the next yuan earns most, from a channel-level `channel_monitor` table.

    Per paid channel (spend > 0, first investors > 0, some investor's LTV horizon passed):
    cost_per_investor, value_per_investor (average revenue at the LTV horizon),
    revenue_per_yuan = value / cost (the revenue the next yuan brings), investors_per_10k (the
    investors 10,000 more yuan buy), and a suggestion. Channels whose value rests on at least
    `min_investors` matured investors are ranked: 加预算 (add) for the best, 减预算 (cut) for
    the worst, 维持 (hold) for the others; a channel with fewer is listed as 人数太少 (too
    few), not ranked. shift_spend / shift_value (``attrs``): moving `shift` of the worst ranked
    channel's spend to the best changes revenue by shift_spend x (best - worst revenue per
    yuan); 0 with fewer than two ranked channels.

    Assumption (stated in the chapter): the marginal cost of an investor equals the average
    cost at today's scale, true for small shifts only; channels saturate beyond that.

    Parameters
    ----------
    monitor : pandas.DataFrame
        A channel-level `channel_monitor` table; its matured_{h}d column counts the investors
        behind a value (a table without it: the first investors).
    ltv_horizon : int or None, default None
        The horizon of the value; None: the table's own (``attrs["ltv_horizon"]``, else 180).
    shift : float, default 0.1
        The share of the worst channel's budget moved in the example, in (0, 1].
    min_investors : int, default MIN_INVESTORS
        The fewest matured investors a ranked channel has.

    Returns
    -------
    pandas.DataFrame
        channel, spend, first_investors, cost_per_investor, value_per_investor,
        revenue_per_yuan, investors_per_10k, suggestion; best revenue per yuan first.
        ``attrs``: shift, shift_spend, shift_value, ltv_horizon, min_investors, ranked (how many
        channels are ranked), best and worst (the ranked channels' names, "" when fewer than
        two).

    Raises
    ------
    ValueError
        For a bad `shift`, a horizon the table lacks, or a table below the channel level.
    NotAvailable
        Without a costs table, without a paid channel with first investors, or when no paid
        channel's investors have reached the LTV horizon yet.
    """
    if not (0 < shift <= 1):
        raise ValueError(f"shift: a share of the worst channel's budget in (0, 1], got {shift!r}")
    h = ltv_horizon or monitor.attrs.get("ltv_horizon", 180)
    col = f"revenue_{h}d"
    if col not in monitor.columns:
        raise ValueError(f"ltv_horizon: {h!r} is not a horizon of the monitoring table")
    if "source" in monitor.columns:
        raise ValueError("monitor: give the channel-level table (channel_monitor(by='channel'))")
    if not monitor.attrs.get("costs_available", True):
        raise _no_costs()
    m = monitor[(monitor.channel != TOTAL) & (monitor.spend > 0) & (monitor.first_investors > 0)]
    if m.empty:
        raise NotAvailable("有花费、也有首投用户的付费渠道",
                           "截至分析日，成本表里有花费的渠道都还没有首投用户（或成本表没有花费）",
                           "检查成本表的 utm_source 是否和触点、注册的来源写法一致（渠道表 channels 或"
                           "参数 channel_map 里补别名）")
    m = m.dropna(subset=[col])
    if m.empty:
        raise NotAvailable(f"首投满 {h} 天的付费渠道用户（用来算 {h} 天收入）",
                           f"付费渠道的首投用户截至分析日都还不满 {h} 天",
                           "等数据积累，或把参数 revenue_horizon_days 换成更短的期限（须是 horizons 之一）")
    matured = m[f"matured_{h}d"] if f"matured_{h}d" in m.columns else m.first_investors
    out = pd.DataFrame({
        "channel": m.channel,
        "spend": m.spend.astype(float),
        "first_investors": m.first_investors.astype("int64"),
        "cost_per_investor": m.cost_per_investor.astype(float),
        "value_per_investor": m[col].astype(float),
    })
    out["revenue_per_yuan"] = out.value_per_investor / out.cost_per_investor
    out["investors_per_10k"] = 10000.0 / out.cost_per_investor
    out["_ranked"] = (matured >= min_investors).to_numpy()
    out = out.sort_values(["revenue_per_yuan", "channel"], ascending=[False, True]).reset_index(drop=True)
    ranked = out.index[out._ranked]
    out["suggestion"] = np.where(out._ranked, "维持", "人数太少")
    best = worst = ""
    moved, gain = 0.0, 0.0
    if len(ranked) >= 2:
        top, bottom = ranked[0], ranked[-1]
        out.loc[top, "suggestion"] = "加预算"
        out.loc[bottom, "suggestion"] = "减预算"
        best, worst = str(out.channel[top]), str(out.channel[bottom])
        moved = shift * float(out.spend[bottom])
        gain = moved * float(out.revenue_per_yuan[top] - out.revenue_per_yuan[bottom])
    out = out.drop(columns="_ranked")
    out.attrs.update(shift=float(shift), shift_spend=moved, shift_value=gain, ltv_horizon=h,
                     min_investors=int(min_investors), ranked=int(len(ranked)),
                     best=best, worst=worst)
    return out


def model_pair(models: Sequence[str]) -> tuple[str, str]:
    """The two models whose disagreement the chapter explains: last touch against Markov when
    both were computed, else the first and the last of `models`.

    Parameters
    ----------
    models : sequence of str
        The models computed (the chapter's `models`).

    Returns
    -------
    tuple of str
        (a, b): the disagreement is b's share minus a's.

    Raises
    ------
    ValueError
        When `models` is empty.
    NotAvailable
        When it names one model only: there is no second model to disagree with.

    Examples
    --------
    >>> model_pair(["first_touch", "last_touch", "markov"])
    ('last_touch', 'markov')
    """
    models = list(models)
    if not models:
        raise ValueError("models: give at least one attribution model")
    if len(set(models)) < 2:
        raise NotAvailable("至少两个归因模型（参数 models）",
                           f"参数 models 只有一个模型（{models[0]}），没有可比较的另一个模型",
                           "在参数 models 里至少列两个模型，如 last_touch 和 markov")
    if {"last_touch", "markov"} <= set(models):
        return "last_touch", "markov"
    return models[0], models[-1]


def models_summary(models: pd.DataFrame, disagree: pd.DataFrame,
                   assisters: int = 3) -> dict[str, float | int | str]:
    """The models' disagreement for the chapter's prose (glued as ``attr_<key>``).

    Parameters
    ----------
    models
        `attribute`'s credits (channel, model, conversions, share).
    disagree
        `disagreement`'s table (its pair of models in ``attrs["pair"]``).
    assisters
        How many channels the second model raises most to name.

    Returns
    -------
    dict
        dis_channel (the most disagreed-on channel), dis_a / dis_b (its share under the two
        models), dis_role, dis_assisted / dis_closed (conversions it assisted / closed),
        dis_a_model / dis_b_model (the models' names), assisters (the channels the second
        model raises most, comma-separated; empty when it raises none), dis_channels (the
        channels compared), dis_untracked (whether dis_channel is no campaign's: 直接访问 or
        未标记, DIRECT_CHANNELS), dis_conversions (the conversions shared) and
        dis_min_conversions (MIN_CONVERSIONS: fewer are read as a direction only).
    """
    a, b = disagree.attrs.get("pair", ("last_touch", "markov"))
    raised = disagree[disagree["diff"] > 0].sort_values("diff", ascending=False)
    out: dict[str, float | int | str] = {
        "dis_channel": "无", "dis_a": float("nan"), "dis_b": float("nan"), "dis_role": "无",
        "dis_assisted": 0, "dis_closed": 0,
    }
    if len(disagree):
        top = disagree.iloc[0]
        out.update(dis_channel=str(top.channel), dis_a=float(top[a]), dis_b=float(top[b]),
                   dis_role=str(top.role), dis_assisted=int(top.assisted),
                   dis_closed=int(top.closed))
    out.update(dis_a_model=MODEL_LABELS.get(a, a), dis_b_model=MODEL_LABELS.get(b, b),
               assisters=", ".join(raised.channel.head(assisters)),
               dis_channels=int(len(disagree)),
               dis_untracked=out["dis_channel"] in DIRECT_CHANNELS,
               dis_conversions=int(round(float(models[models.model == a].conversions.sum()))),
               dis_min_conversions=MIN_CONVERSIONS)
    return out



#: How the prose names the way Shapley values were computed.
SHAPLEY_METHODS = {True: "精确枚举",
                   False: "固定种子的排列抽样近似"}


def paths_summary(paths: Paths, shapley_exact_max: int = 12) -> dict[str, float | int | str]:
    """The attribution paths for the chapter's prose (glued as ``attr_<key>``).

    Parameters
    ----------
    paths
        `attribution_paths`' result.
    shapley_exact_max
        Shapley values are exact up to this many channels (as given to `attribute`).

    Returns
    -------
    dict
        conversion (the conversion as the page names it), conversions, nulls, distinct_paths,
        model_channels (channels on the paths), shapley_method (how Shapley is computed for
        that many channels, SHAPLEY_METHODS), direct_conversions (no touch in the look-back),
        top_path and top_path_share (the path with most conversions, 无 and NaN without
        conversions) and min_conversions (MIN_CONVERSIONS: fewer conversions are read as a
        direction only).
    """
    c = paths.counts
    channels = sorted({ch for p in c.path for ch in p})
    top = path_table(paths, top=1)
    direct = int(c[c.path.map(lambda p: p == (DIRECT_CHANNEL,))].conversions.sum())
    return {
        "conversion": MILESTONE_LABELS.get(paths.conversion, paths.conversion),
        "conversions": paths.conversions,
        "nulls": paths.nulls,
        "distinct_paths": int(len(c)),
        "model_channels": len(channels),
        "shapley_method": SHAPLEY_METHODS[len(channels) <= shapley_exact_max],
        "direct_conversions": direct,
        "top_path": str(top.path.iloc[0]) if len(top) else "无",
        "top_path_share": float(top.share.iloc[0]) if len(top) else float("nan"),
        "min_conversions": MIN_CONVERSIONS,
    }


def value_summary(budget: pd.DataFrame) -> dict[str, int]:
    """Paid channels against break-even, for the chapter (glued as ``attr_<key>``).

    Parameters
    ----------
    budget : pandas.DataFrame
        `budget_reallocation`'s table.

    Returns
    -------
    dict
        paid_channels (paid channels with a value at the horizon), above_break_even (those whose
        revenue at the horizon covers their cost per investor), small_channels (those with
        fewer matured investors than value_min_investors: listed, not compared) and
        value_min_investors.
    """
    return {
        "above_break_even": int((budget.revenue_per_yuan >= 1).sum()) if len(budget) else 0,
        "paid_channels": int(len(budget)),
        "small_channels": int(len(budget) - budget.attrs.get("ranked", len(budget))),
        "value_min_investors": int(budget.attrs.get("min_investors", MIN_INVESTORS)),
    }


def budget_summary(budget: pd.DataFrame) -> dict[str, float | int | str]:
    """Where the next yuan goes, for the chapter (glued as ``attr_<key>``).

    Parameters
    ----------
    budget : pandas.DataFrame
        `budget_reallocation`'s table (its ranked channels and example shift in ``attrs``).

    Returns
    -------
    dict
        budget_best / budget_best_ratio and budget_worst / budget_worst_ratio (the ranked
        channels with the highest and lowest revenue per yuan), budget_shift (the share of the
        worst channel's budget moved), budget_shift_spend (yuan moved), budget_shift_value (the
        revenue it gains at the horizon), budget_ranked (channels ranked), budget_small
        (channels with too few matured investors to rank) and budget_min_investors.

    Raises
    ------
    NotAvailable
        With fewer than two ranked channels: a budget moves between two.
    """
    ranked = int(budget.attrs.get("ranked", len(budget)))
    best, worst = budget.attrs.get("best", ""), budget.attrs.get("worst", "")
    least = int(budget.attrs.get("min_investors", MIN_INVESTORS))
    h = budget.attrs.get("ltv_horizon", "")
    if ranked < 2 or not best or not worst:
        raise NotAvailable(
            f"至少两个可比的付费渠道（有花费，且首投满 {h} 天的用户各不少于 {least} 人）",
            f"数据中满足条件的付费渠道只有 {ranked} 个",
            "等数据积累、补全成本表里其他渠道的花费，或把参数 revenue_horizon_days 换成更短的期限")
    by = budget.set_index("channel").revenue_per_yuan
    return {
        "budget_best": str(best),
        "budget_best_ratio": float(by[best]),
        "budget_worst": str(worst),
        "budget_worst_ratio": float(by[worst]),
        "budget_shift": float(budget.attrs.get("shift", 0.0)),
        "budget_shift_spend": float(budget.attrs.get("shift_spend", 0.0)),
        "budget_shift_value": float(budget.attrs.get("shift_value", 0.0)),
        "budget_ranked": ranked,
        "budget_small": int(len(budget) - ranked),
        "budget_min_investors": least,
    }

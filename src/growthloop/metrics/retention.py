"""Chapter 5, lifecycle retention (生命周期留存): cohorts, first to fifth investment, states, LTV.

Everything per user or per event stays in the engine; only aggregates come back as small
pandas frames (a cohort matrix, counts per state, durations grouped with their counts).

Time. Timestamps are naive Asia/Shanghai local time, so a day is ``ts.date()``, a week starts
on Monday (``truncate("W")``) and a month is ``truncate("M")``: nothing is ever converted to
UTC, so an event at 23:30 and one at 00:30 fall on two natural days, as the platform sees them.

Incomplete periods. A period that has not ended by the end of the analysis date is returned
with ``complete=False`` and no retained count or rate (missing, never zero): a period still
running is not a loss.

Activity. "Active" means an investment by default (``"investment"``); ``"any"`` counts any
event or investment, and an event of the data (a contract event such as ``"app_open"``, the
platform's own event, or ``{event, where}`` with a property filter) counts that event only. In the lifecycle states and the survival curves, a user who holds a live
investment (a term product before maturity, a 活期 deposit for ``current_holding_days``) counts
as active on every day of the holding, so a 12-month deposit holder is not called dormant.

Thresholds. The defaults, dormant after 60 days and churned after 180 days without activity or
a live holding, suit products whose terms run 1 to 12 months: because a holding keeps a user
active until it matures, the clock only starts when the money is back in the user's hands.
60 days is two missed cycles of the shortest (1-month) product, the point after which a user
who came back at all had usually already come back (see ``comeback_gaps``); 180 days without
money on the platform is half a year, long after every short product's reinvestment window,
when recall becomes re-acquisition.

Probabilistic CLV (BG/NBD + Gamma-Gamma). Not used, on purpose. pymc-marketing is not among
the project's requirements (it would bring pymc and pytensor, which compiles C code at run
time), and the model does not fit these data: (1) its fit takes one row per customer
(frequency, recency, T, value) with no weights, so every investor would have to leave the
engine; (2) BG/NBD reads a long silence as a likely death, while on a term-product platform
silence is the contract: a 12-month holder cannot reinvest that money for a year, so repeat
investments follow maturities rather than a Poisson process, and Gamma-Gamma's value per
transaction depends on the term chosen. Lifetimes, the older library, is no longer
maintained (last release 2020). The chapter therefore shows empirical cohort LTV curves and
LTV/CAC, which need no model, and Kaplan-Meier survival for the lifetime.

What the data can support. Where a dataset cannot give an answer (no sign-ups in the weeks
asked for, no cohort past its first period, a history shorter than the dormant or churn
threshold, no costs table ...), the function raises `growthloop.errors.NotAvailable` saying
what it needs, what the data lacks and how to supply it, rather than a number the data cannot
support; a chapter section shows that as the book's standard note. The ``*_summary`` functions
return numbers only (NaN or "" where there is nothing to say); the words are in
`growthloop.present.findings.retention`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import ibis
import numpy as np
import pandas as pd
from ibis import _

from growthloop.engine import money_sum, require_exact_quantiles
from growthloop.errors import NotAvailable
from growthloop.marts.channels import with_channel
from growthloop.marts.events import checked, selector
from growthloop.marts.investments import investments
from growthloop.marts.wide import user_wide
from growthloop.metrics.stats import two_proportion
from growthloop.staging.loader import Dataset

UNITS = ("day", "week", "month")
#: How the page names a unit (次月, 按月).
UNIT_LABELS = {"day": "日", "week": "周", "month": "月"}
#: How the page names the k-th period of a unit: ``UNIT_NTH[unit].format(k=1)`` is 第 1 个月.
UNIT_NTH = {"day": "第 {k} 天", "week": "第 {k} 周", "month": "第 {k} 个月"}
MODES = ("on", "on_or_after")
COHORT_BY = ("signup", "first_investment")
INVESTMENT = "investment"
ANY = "any"
STATES = ("new", "active", "resurrected", "dormant", "churned")
STATE_LABELS = {"new": "新增", "active": "活跃", "resurrected": "回流", "dormant": "沉睡",
                "churned": "流失"}
ENTRY = "(entry)"
#: How the page names the flows' entry (a user's first state, no state before it).
ENTRY_LABEL = "首次进入"
DORMANT_DAYS = 60
CHURN_DAYS = 180
FIRST_TERM = "first_term"
COHORT = "cohort"
ALL = "全部"
UNKNOWN = "未知"
NO_SEGMENT = "未分组"
#: How the page names what a cohort is anchored on.
ANCHOR_LABELS = {"signup": "注册", "first_investment": "首投"}
#: A cohort unit is the default when the data has at least this many complete periods of it:
#: the two latest cohorts whose first period has ended can then be compared.
MIN_PERIODS = 3
NAN = float("nan")


# --------------------------------------------------------------------------- checks and time


def _check(name: str, value, allowed: Sequence) -> None:
    if value not in allowed:
        raise ValueError(f"{name}={value!r}: allowed values are {list(allowed)}")


def _check_event(ds: Dataset, name: str, value: Any) -> None:
    """`investment`, `any`, or an event of the data (a name, or a selector with a property
    filter): a name the data does not have stops with the closest names in it."""
    if isinstance(value, str) and value in (INVESTMENT, ANY):
        return
    checked(ds, [value], name)


def _as_date(value: dt.date | str | None) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def _period_start(ts: ibis.Value, unit: str) -> ibis.Value:
    """First day of the natural day, Monday week or month that holds ``ts``."""
    if unit == "day":
        return ts.date()
    return ts.truncate("W" if unit == "week" else "M").date()


def _period_index(start: ibis.Value, origin: ibis.Value, unit: str) -> ibis.Value:
    """Whole units from ``origin`` to ``start`` (both period starts)."""
    if unit == "month":
        return (start.year() * 12 + start.month()) - (origin.year() * 12 + origin.month())
    days = start.delta(origin, unit="day")
    return days if unit == "day" else days // 7


def floor_date(day: dt.date, unit: str) -> dt.date:
    """The first day of the period (day, Monday week, month) that holds `day`.

    Parameters
    ----------
    day : datetime.date
        Any day.
    unit : {"day", "week", "month"}
        The period.

    Returns
    -------
    datetime.date
        The period's first day.

    Raises
    ------
    ValueError
        For a bad `unit`.
    """
    _check("unit", unit, UNITS)
    if unit == "day":
        return day
    if unit == "week":
        return day - dt.timedelta(days=day.weekday())
    return day.replace(day=1)


def add_periods(start: dt.date, k: int, unit: str) -> dt.date:
    """The period start `k` units after `start`.

    Parameters
    ----------
    start : datetime.date
        A period's first day.
    k : int
        How many periods later.
    unit : {"day", "week", "month"}
        The period.

    Returns
    -------
    datetime.date
        The later period's first day.
    """
    if unit == "day":
        return start + dt.timedelta(days=k)
    if unit == "week":
        return start + dt.timedelta(weeks=k)
    months = start.year * 12 + start.month - 1 + k
    return dt.date(months // 12, months % 12 + 1, 1)


def periods_between(start: dt.date, later: dt.date, unit: str) -> int:
    """Whole units from the period of `start` to the period of `later`.

    Parameters
    ----------
    start, later : datetime.date
        Two days.
    unit : {"day", "week", "month"}
        The period.

    Returns
    -------
    int
        0 when both are in the same period.
    """
    a, b = floor_date(start, unit), floor_date(later, unit)
    if unit == "month":
        return (b.year - a.year) * 12 + b.month - a.month
    days = (b - a).days
    return days if unit == "day" else days // 7


def is_complete(start: dt.date, unit: str, analysis_date: dt.date) -> bool:
    """Whether the period starting at `start` has ended by the end of `analysis_date`.

    Parameters
    ----------
    start : datetime.date
        The period's first day.
    unit : {"day", "week", "month"}
        The period.
    analysis_date : datetime.date
        The analysis date (its day counts as ended).

    Returns
    -------
    bool
        True when the period has ended.
    """
    return add_periods(start, 1, unit) <= analysis_date + dt.timedelta(days=1)


def periods_in(horizon_months: int, unit: str) -> int:
    """How many periods of `unit` cover `horizon_months` months (a heat map's columns).

    Parameters
    ----------
    horizon_months : int
        Months, at least 1.
    unit : {"day", "week", "month"}
        The period.

    Returns
    -------
    int
        Months as they are, weeks and days rounded up (12 months: 52 weeks, 365 days).

    Raises
    ------
    ValueError
        For a bad `unit` or `horizon_months`.
    """
    _check("unit", unit, UNITS)
    if horizon_months < 1:
        raise ValueError(f"horizon_months={horizon_months!r}: must be at least 1")
    if unit == "month":
        return int(horizon_months)
    if unit == "week":
        return int(math.ceil(horizon_months * 52 / 12))
    return int(math.ceil(horizon_months * 365 / 12))


# --------------------------------------------------------------------------- building blocks


def activity(ds: Dataset, event: Any = INVESTMENT) -> ibis.Table:
    """(user_id, ts) of every activity up to the analysis date: investments, events or both.

    Parameters
    ----------
    ds : Dataset
        The dataset.
    event : str or dict, default "investment"
        ``investment``, ``any`` (every event with a user, and every investment) or an event of
        the data (a name, or ``{event, where}`` with a property filter).

    Returns
    -------
    ibis.Table
        Columns user_id, ts; not executed.

    Raises
    ------
    ValueError
        For a malformed event selector.
    DataError
        When `event` names an event or property the data does not have.
    """
    _check_event(ds, "return_event", event)
    end = ds.period_end
    inv = investments(ds)
    inv = inv.select("user_id", ts=inv.txn_time)
    if event == INVESTMENT:
        return inv
    ev = ds.events
    ev = ev.filter((ev.event_time < end) & ev.user_id.notnull())
    if event != ANY:
        ev = ev.filter(selector(event, "return_event").condition(ev))
    ev = ev.select("user_id", ts=ev.event_time)
    return ev if event != ANY else ev.union(inv, distinct=False)


def activity_label(event: Any) -> str:
    """How the page names an activity: 投资, 任意事件或投资, or the event's own label.

    Parameters
    ----------
    event : str or dict
        ``"investment"``, ``"any"``, or an event of the data (a name, or ``{event, where}``).

    Returns
    -------
    str
        投资, 任意事件或投资, or the event's label in 「」 (its role's label for a contract
        event, the name for an own event, with its property filter).

    Raises
    ------
    ValueError
        When `event` is not an event name or selector.
    """
    if isinstance(event, str) and event == INVESTMENT:
        return "投资"
    if isinstance(event, str) and event == ANY:
        return "任意事件或投资"
    return f"「{selector(event, 'return_event').label()}」"


def history(ds: Dataset, event: Any = INVESTMENT) -> dict:
    """The first and last day of an activity up to the analysis date (computed once per dataset).

    Parameters
    ----------
    ds : Dataset
        The dataset.
    event : str or dict, default "investment"
        The activity (see `activity`).

    Returns
    -------
    dict
        first_day and last_day (``datetime.date``, None without any activity) and days, the
        whole days from first_day to the analysis date (0 without any activity): the longest
        anybody can have been inactive.

    Raises
    ------
    DataError
        When `event` names an event the data does not have.
    """
    def build() -> dict:
        acts = activity(ds, event)
        row = acts.aggregate(first=acts.ts.min(), last=acts.ts.max()).to_pyarrow().to_pylist()[0]
        first = row["first"].date() if row["first"] is not None else None
        last = row["last"].date() if row["last"] is not None else None
        return {"first_day": first, "last_day": last,
                "days": (ds.analysis_date - first).days if first else 0}

    return dict(ds.memo(f"retention.history:{event!r}", build))


def data_end(ds: Dataset) -> dt.date | None:
    """The last day with any record (an event or an investment) up to the analysis date.

    Parameters
    ----------
    ds : Dataset
        The dataset.

    Returns
    -------
    datetime.date or None
        None when the data has no record up to the analysis date.
    """
    def build() -> dt.date | None:
        last = [history(ds, INVESTMENT)["last_day"]]
        ev = ds.events.filter(ds.events.event_time < ds.period_end)
        row = ev.aggregate(last=ev.event_time.max()).to_pyarrow().to_pylist()[0]
        last.append(row["last"].date() if row["last"] is not None else None)
        known = [d for d in last if d is not None]
        return max(known) if known else None

    return ds.memo("retention.data_end", build)


def _require_span(ds: Dataset, first: dt.datetime | dt.date | None, days: int, param: str,
                  event: Any, purpose: str) -> None:
    """Stop with NotAvailable when the activity began fewer than `days` days before the
    analysis date (or never): no one can have been inactive that long yet."""
    what = activity_label(event)
    if first is None:
        raise NotAvailable(f"{what}记录（{purpose}）",
                           f"截至分析日 {ds.analysis_date} 数据中没有{what}记录",
                           "检查交易表与事件表是否覆盖分析日之前的时间，或换一个数据里有的 return_event")
    first = first.date() if isinstance(first, dt.datetime) else first
    span = (ds.analysis_date - first).days
    if span < days:
        raise NotAvailable(f"至少 {days} 天的{what}记录（{purpose}：{param} = {days} 天）",
                           f"数据中最早的{what}在 {first}，到分析日 {ds.analysis_date} 只有 {span} 天，"
                           f"还不可能有人不活跃满 {days} 天",
                           f"提供更长时间的数据，或调小 {param}（当前 {days} 天）")


def complete_periods(start: dt.date, analysis_date: dt.date, unit: str) -> int:
    """How many periods of `unit`, from the one holding `start`, have ended by the analysis date.

    Parameters
    ----------
    start : datetime.date
        A day in the first period.
    analysis_date : datetime.date
        The analysis date (its day counts as ended).
    unit : {"day", "week", "month"}
        The period.

    Returns
    -------
    int
        0 when the first period is still running.

    Examples
    --------
    >>> import datetime as dt
    >>> complete_periods(dt.date(2025, 7, 1), dt.date(2025, 7, 14), "week")
    2
    >>> complete_periods(dt.date(2025, 7, 1), dt.date(2025, 7, 14), "day")
    14
    """
    _check("unit", unit, UNITS)
    running = not is_complete(floor_date(analysis_date, unit), unit, analysis_date)
    return max(periods_between(start, analysis_date, unit) + 1 - running, 0)


def default_unit(ds: Dataset, cohort_by: str = "signup",
                 min_periods: int = MIN_PERIODS) -> tuple[str, int]:
    """The cohort unit the data supports: the longest of month, week and day with at least
    `min_periods` complete periods from the first cohort to the analysis date.

    Parameters
    ----------
    ds : Dataset
        The dataset.
    cohort_by : {"signup", "first_investment"}, default "signup"
        What the cohorts are anchored on.
    min_periods : int, default MIN_PERIODS (3)
        Complete periods needed: 3 lets the two latest cohorts be compared at period 1.

    Returns
    -------
    tuple
        (unit, complete periods of that unit); ("month", 0) when nobody has the anchor.

    Raises
    ------
    ValueError
        For a bad `cohort_by`.
    """
    _check("cohort_by", cohort_by, COHORT_BY)
    wide = user_wide(ds)
    anchor = wide.registered_at if cohort_by == "signup" else wide.first_invest_at
    first = wide.aggregate(first=anchor.min()).to_pyarrow().to_pylist()[0]["first"]
    if first is None:
        return "month", 0
    for unit in ("month", "week"):
        n = complete_periods(first.date(), ds.analysis_date, unit)
        if n >= min_periods:
            return unit, n
    return "day", complete_periods(first.date(), ds.analysis_date, "day")


def _coverage(ds: Dataset, event: str, count_holdings: bool) -> ibis.Table:
    """(user_id, ts, cover): each activity and the moment it stops keeping the user active.

    An investment covers its holding (term, or ``current_holding_days`` for 活期) when
    ``count_holdings``; any other activity covers only its own moment.
    """
    acts = activity(ds, event).mutate(cover=_.ts)
    if not count_holdings:
        return acts
    inv = investments(ds)
    days = ibis.ifelse(inv.term_days.fill_null(0) > 0, inv.term_days, ds.config.current_holding_days)
    held = inv.select("user_id", ts=inv.txn_time, cover=inv.txn_time + days.as_interval("D"))
    if event == INVESTMENT:
        return held
    return acts.union(held, distinct=False)


def _term_label(term: ibis.Value) -> ibis.Value:
    months = (term.cast("float64") / 30.0).round().cast("int64")
    return ibis.cases(
        (term.isnull(), UNKNOWN),
        (term <= 0, "活期"),
        else_=months.cast("string").concat("个月"),
    )


def term_order(labels) -> list[str]:
    """Term labels of ``first_term`` in term order: 活期, 1个月, 3个月, ..., then the rest.

    Parameters
    ----------
    labels : iterable of str
        Term labels (repeats allowed).

    Returns
    -------
    list of str
        Each label once, in term order.
    """
    def key(label: str):
        if label == "活期":
            return (0, 0, label)
        if label.endswith("个月") and label[:-2].isdigit():
            return (1, int(label[:-2]), label)
        return (2, 0, label)
    return sorted(set(labels), key=key)


def _groups(ds: Dataset, by: str | None, segments: ibis.Table | None = None) -> ibis.Table:
    """(user_id, group) for a breakdown: a wide-table column, ``first_term``, ``cohort``
    (the month of the first investment) or a column of ``segments`` (user_id, <by>)."""
    wide = user_wide(ds)
    if by is None:
        return wide.select("user_id", group=ibis.literal(ALL))
    if segments is not None:
        if "user_id" not in segments.columns or by not in segments.columns:
            raise ValueError(f"segments must have columns user_id and {by!r}; "
                             f"it has {list(segments.columns)}")
        seg = segments.select(_s_uid=segments.user_id, _s_group=segments[by].cast("string"))
        joined = wide.left_join(seg, wide.user_id == seg._s_uid)
        return joined.select("user_id", group=joined._s_group.fill_null(NO_SEGMENT))
    if by == FIRST_TERM:
        return wide.select("user_id", group=_term_label(wide.first_invest_term_days))
    if by == COHORT:
        month = wide.first_invest_at.truncate("M").date().cast("string")
        return wide.select("user_id", group=month.fill_null(UNKNOWN))
    allowed = [c for c in wide.columns if c != "user_id"] + [FIRST_TERM, COHORT]
    _check("by", by, allowed)
    return wide.select("user_id", group=wide[by].cast("string").fill_null(UNKNOWN))


_DATE_COLUMNS = ("cohort", "period")


def _execute(expr: ibis.Table, order: list[str]) -> pd.DataFrame:
    """Run an aggregate; date columns come back as ``datetime.date`` (the CSVs' YYYY-MM-DD)."""
    frame = expr.order_by(order).to_pandas()
    for col in _DATE_COLUMNS:
        if col in frame.columns and expr.schema()[col].is_date():
            frame[col] = pd.to_datetime(frame[col]).dt.date
    return frame


# --------------------------------------------------------------------------- cohort retention


def cohort_retention(ds: Dataset, cohort_by: str = "signup", unit: str = "month",
                     return_event: Any = INVESTMENT, mode: str = "on", by: str | None = None,
                     segments: ibis.Table | None = None, max_period: int | None = None,
                     since: dt.date | str | None = None) -> pd.DataFrame:
    """Cohort retention matrix in long form, one row per cohort (and group) and period.

    Period 0 is the cohort's own period; only activity at or after the user's own sign-up or
    first investment counts. Periods that have begun but not ended by the end of the analysis
    date have ``complete=False`` and missing retained and rate (a running period is not a
    loss); periods not yet begun are not rows. Computed once per dataset and parameters (a
    copy is returned), unless `segments` is given.

    Parameters
    ----------
    ds : Dataset
        The dataset.
    cohort_by : {"signup", "first_investment"}, default "signup"
        What a user's cohort is anchored on: registered_at or the first investment.
    unit : {"day", "week", "month"}, default "month"
        Natural periods of the dataset's time zone; a week starts on Monday.
    return_event : str or dict, default "investment"
        What counts as coming back: ``investment``, ``any`` (any event or investment) or an
        event of the data (a name, or ``{event, where}`` with a property filter).
    mode : {"on", "on_or_after"}, default "on"
        ``on``: retained in period k = active in period k; ``on_or_after`` (unbounded): active
        in period k or any later period observed so far.
    by : str or None, default None
        A breakdown: a wide-table column (``signup_channel``, ``age_band`` ...),
        ``first_term``, ``cohort``, or a column of `segments`.
    segments : ibis.Table or None, default None
        A table of user_id and `by`, for a breakdown by the user's own segments.
    max_period : int or None, default None
        The last period shown (a heat map's columns); None: every period begun.
    since : datetime.date, str or None, default None
        Only the cohorts from the period holding this day on.

    Returns
    -------
    pandas.DataFrame
        Columns [group,] cohort (period start date), period, users, retained, rate, complete.

    Raises
    ------
    ValueError
        For a bad `cohort_by`, `unit`, `mode`, `by` or `max_period`.
    DataError
        When `return_event` names an event the data does not have.
    NotAvailable
        When nobody has the anchor (no sign-up, or no first investment) up to the analysis
        date, or none since `since`.
    """
    _check("cohort_by", cohort_by, COHORT_BY)
    _check("unit", unit, UNITS)
    _check("mode", mode, MODES)
    _check_event(ds, "return_event", return_event)
    if max_period is not None and max_period < 0:
        raise ValueError(f"max_period={max_period!r}: must be 0 or more")
    since = _as_date(since)

    def build() -> pd.DataFrame:
        return _cohort_retention(ds, cohort_by, unit, return_event, mode, by, segments,
                                 max_period, since)

    if segments is not None:
        return build()
    key = (f"retention.cohort_retention:{cohort_by}:{unit}:{return_event!r}:{mode}:{by}:"
           f"{max_period}:{since}")
    return ds.memo(key, build).copy()


def _cohort_retention(ds: Dataset, cohort_by: str, unit: str, return_event: Any, mode: str,
                      by: str | None, segments: ibis.Table | None, max_period: int | None,
                      since: dt.date | None) -> pd.DataFrame:
    wide = user_wide(ds)
    anchor = wide.registered_at if cohort_by == "signup" else wide.first_invest_at
    base = wide.select("user_id", anchor=anchor).filter(_.anchor.notnull())
    if by is None:
        base = base.mutate(group=ibis.literal(ALL))
    else:
        groups = _groups(ds, by, segments).rename(_g_uid="user_id")
        base = base.inner_join(groups, base.user_id == groups._g_uid).drop("_g_uid")
    base = base.mutate(cohort=_period_start(base.anchor, unit))
    if since is not None:
        base = base.filter(base.cohort >= floor_date(since, unit))
    keys = ["group", "cohort"]
    sizes = base.group_by(keys).aggregate(users=_.count())

    acts = activity(ds, return_event).rename(_a_uid="user_id")
    joined = base.inner_join(acts, base.user_id == acts._a_uid)
    joined = joined.filter(joined.ts >= joined.anchor)
    joined = joined.mutate(period=_period_index(_period_start(joined.ts, unit), joined.cohort, unit))
    if mode == "on":
        counts = joined.group_by([*keys, "period"]).aggregate(retained=_.user_id.nunique())
    else:
        last = joined.group_by([*keys, "user_id"]).aggregate(period=_.period.max())
        counts = last.group_by([*keys, "period"]).aggregate(retained=_.count())
    # one query for both aggregates: cohort sizes are the rows without a period
    both = sizes.mutate(period=ibis.null("int64"), retained=ibis.null("int64")).union(
        counts.mutate(period=counts.period.cast("int64"), retained=counts.retained.cast("int64"),
                      users=ibis.null("int64")).select("group", "cohort", "users", "period",
                                                       "retained"),
        distinct=False,
    )
    got = _execute(both, [*keys, "period"])
    is_size = got["period"].isna()
    if not is_size.any():
        _no_cohorts(ds, wide, anchor, cohort_by, floor_date(since, unit) if since else None)
    sizes = got.loc[is_size, [*keys, "users"]].reset_index(drop=True)
    counts = got.loc[~is_size, [*keys, "period", "retained"]].reset_index(drop=True)
    return _retention_grid(sizes, counts, unit, mode, ds.analysis_date, max_period, by is not None)


def _no_cohorts(ds: Dataset, wide: ibis.Table, anchor: ibis.Value, cohort_by: str,
                since: dt.date | None) -> None:
    """Raise the NotAvailable of a cohort table without cohorts: nobody has the anchor (since
    `since`, when given), saying when the last one was."""
    what = ANCHOR_LABELS[cohort_by]
    last = wide.aggregate(last=anchor.max()).to_pyarrow().to_pylist()[0]["last"]
    if since is None or last is None:
        raise NotAvailable(f"有{what}记录的用户（同期群按{what}时间划分）",
                           f"截至分析日 {ds.analysis_date} 数据中没有{what}的用户",
                           "检查 users 表的注册时间与交易表的投资记录，以及 analysis_date 是否落在数据的时间范围内")
    raise NotAvailable(f"{since} 及以后{what}的用户",
                       f"数据中最近一次{what}在 {last.date()}，之后到分析日 {ds.analysis_date} 没有新的{what}",
                       "把 analysis_date 设在数据覆盖的时间之内；更早的同期群见同期群留存一节")


def _retention_grid(sizes: pd.DataFrame, counts: pd.DataFrame, unit: str, mode: str,
                    analysis_date: dt.date, max_period: int | None, keep_group: bool) -> pd.DataFrame:
    found: dict[tuple, dict[int, int]] = {}
    for g, c, k, n in zip(counts["group"], counts["cohort"], counts["period"], counts["retained"],
                          strict=True):
        found.setdefault((g, c), {})[int(k)] = int(n)
    rows = []
    for g, cohort, users in zip(sizes["group"], sizes["cohort"], sizes["users"], strict=True):
        last = periods_between(cohort, analysis_date, unit)
        if max_period is not None:
            last = min(last, max_period)
        per = found.get((g, cohort), {})
        if mode == "on_or_after":
            # active in k or later = users whose last active period is k or later
            running, later = 0, {}
            for k in range(max(per, default=-1), -1, -1):
                running += per.get(k, 0)
                later[k] = running
            per = later
        for k in range(last + 1):
            complete = is_complete(add_periods(cohort, k, unit), unit, analysis_date)
            retained = per.get(k, 0)
            rows.append({"group": g, "cohort": cohort, "period": k, "users": int(users),
                         "retained": retained if complete else pd.NA,
                         "rate": retained / users if complete else np.nan,
                         "complete": complete})
    cols = ["group", "cohort", "period", "users", "retained", "rate", "complete"]
    out = pd.DataFrame(rows, columns=cols)
    out["retained"] = out["retained"].astype("Int64")
    out["rate"] = out["rate"].astype(float)
    out["complete"] = out["complete"].astype(bool)
    out = out.sort_values(["group", "cohort", "period"], kind="stable").reset_index(drop=True)
    return out if keep_group else out.drop(columns="group")


def recent_cohorts(ds: Dataset, weeks: int = 12, cohort_by: str = "signup",
                   return_event: Any = INVESTMENT, mode: str = "on") -> pd.DataFrame:
    """`cohort_retention` of the weekly cohorts of the last `weeks` weeks (Monday start), the
    analysis date's week included (still running).

    Parameters
    ----------
    ds : Dataset
        The dataset.
    weeks : int, default 12
        How many weeks back, the analysis date's week included.
    cohort_by, return_event, mode
        As in `cohort_retention`.

    Returns
    -------
    pandas.DataFrame
        `cohort_retention` by week since the first day of the window.

    Raises
    ------
    ValueError
        For `weeks` not a whole number >= 1, or a bad parameter of `cohort_retention`.
    NotAvailable
        When nobody signed up (or first invested) in those weeks: the message says when the
        last one did.
    """
    if not isinstance(weeks, int) or isinstance(weeks, bool) or weeks < 1:
        raise ValueError(f"weeks={weeks!r}: must be a whole number of weeks >= 1")
    return cohort_retention(ds, cohort_by=cohort_by, unit="week", return_event=return_event,
                            mode=mode, since=ds.analysis_date - dt.timedelta(weeks=weeks - 1))


def retention_matrix(table: pd.DataFrame, value: str = "rate") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(values, incomplete) cohort × period pivots of a `cohort_retention` result.

    Incomplete cells are NaN in ``values`` and True in ``incomplete``; cells of periods not
    yet begun are NaN in ``values`` and False in ``incomplete``.

    Parameters
    ----------
    table : pandas.DataFrame
        `cohort_retention`, one group's rows.
    value : str, default "rate"
        The column to pivot.

    Returns
    -------
    tuple of pandas.DataFrame
        (values, incomplete), cohorts as rows, periods as columns.

    Raises
    ------
    ValueError
        When `table` holds more than one group.
    """
    if "group" in table.columns and table["group"].nunique() > 1:
        raise ValueError("retention_matrix: pass one group's rows (filter on group first)")
    values = table.pivot(index="cohort", columns="period", values=value).astype(float)
    incomplete = (~table.pivot(index="cohort", columns="period", values="complete")
                  .astype("boolean")).fillna(False).astype(bool)
    return values, incomplete


def heatmap_window(table: pd.DataFrame, max_cohorts: int = 24, max_periods: int = 24) -> pd.DataFrame:
    """The part of a cohort table a heat map can show: the `max_cohorts` latest cohorts and
    their first `max_periods` periods (a year of day cohorts is 365 × 365 cells).

    Parameters
    ----------
    table : pandas.DataFrame
        `cohort_retention`, one group's rows.
    max_cohorts : int, default 24
        The most recent cohorts kept.
    max_periods : int, default 24
        Periods 0 .. max_periods - 1 kept.

    Returns
    -------
    pandas.DataFrame
        The rows kept; ``attrs`` holds cohorts and periods (how many the whole table has).
    """
    if max_cohorts < 1 or max_periods < 1:
        raise ValueError("max_cohorts and max_periods must be at least 1")
    kept = sorted(set(table["cohort"]))[-max_cohorts:]
    out = table[table["cohort"].isin(kept) & (table["period"] < max_periods)].reset_index(drop=True)
    out.attrs.update(cohorts=int(table["cohort"].nunique()),
                     periods=int(table["period"].max()) + 1 if len(table) else 0)
    return out


def pooled_curve(table: pd.DataFrame) -> pd.DataFrame:
    """Retention by period pooled over cohorts: retained / users of the cohorts complete at k.

    Parameters
    ----------
    table : pandas.DataFrame
        `cohort_retention`.

    Returns
    -------
    pandas.DataFrame
        Columns [group,] period, cohorts, users, retained, rate; only periods that some
        cohort has completed.
    """
    done = table[table["complete"]]
    keys = ["group", "period"] if "group" in table.columns else ["period"]
    out = done.groupby(keys, sort=True).agg(cohorts=("cohort", "nunique"), users=("users", "sum"),
                                            retained=("retained", "sum")).reset_index()
    out["retained"] = out["retained"].astype(int)
    out["rate"] = out["retained"] / out["users"]
    return out


def compare_latest(table: pd.DataFrame, period: int = 1) -> dict:
    """The two most recent cohorts whose period `period` is complete, and their rates there:
    "do this month's users stay better than last month's?".

    Parameters
    ----------
    table : pandas.DataFrame
        `cohort_retention`, one group's rows.
    period : int, default 1
        The period compared.

    Returns
    -------
    dict
        latest_cohort, latest_rate, latest_users, latest_retained and the same for previous_;
        change (latest minus previous, in rate points) with its Newcombe 95% interval
        (change_low, change_high) and the two-proportion z test's p_value. A cohort that does
        not exist is "" with NaN rates and 0 people; the change is NaN without two cohorts.
    """
    done = table[(table["period"] == period) & table["complete"]].sort_values("cohort")
    out: dict[str, Any] = {}
    for name, i in (("latest", -1), ("previous", -2)):
        row = done.iloc[i] if len(done) >= -i else None
        out[f"{name}_cohort"] = str(row["cohort"]) if row is not None else ""
        out[f"{name}_rate"] = float(row["rate"]) if row is not None else NAN
        out[f"{name}_users"] = int(row["users"]) if row is not None else 0
        out[f"{name}_retained"] = int(row["retained"]) if row is not None else 0
    test = two_proportion(out["latest_retained"], out["latest_users"],
                          out["previous_retained"], out["previous_users"])
    out.update(change=float(test["uplift"]), change_low=float(test["ci_low"]),
               change_high=float(test["ci_high"]), p_value=float(test["p_value"]))
    return out


def _need_period_one(cohorts: pd.DataFrame, unit: str, purpose: str) -> None:
    if not ((cohorts["period"] == 1) & cohorts["complete"]).any():
        first_period = UNIT_NTH[unit].format(k=1)
        first = min(cohorts["cohort"]) if len(cohorts) else None
        raise NotAvailable(f"至少一个已经过完进入后{first_period}的同期群（{purpose}）",
                           f"最早的同期群从 {first} 开始，到分析日还没有哪个同期群过完进入后的{first_period}",
                           "改用更短的 cohort_unit（week 或 day；留空则按数据的时间跨度自动选择），"
                           "或等数据覆盖更久后再看")


def cohort_summary(cohorts: pd.DataFrame, unit: str = "month") -> dict:
    """The cohort retention in numbers, for the chapter's finding (glued as ``ret_<key>``).

    Parameters
    ----------
    cohorts : pandas.DataFrame
        `cohort_retention` (one group).
    unit : {"day", "week", "month"}, default "month"
        Its unit, for the note when there is nothing to say.

    Returns
    -------
    dict
        cohorts (how many), running_cells (cells of periods still running), p1_rate (the
        pooled rate of period 1 over the cohorts whose period 1 is complete) and p1_cohorts
        (how many); latest_cohort / latest_p1 / latest_users and prev_cohort / prev_p1 /
        prev_users (the two latest cohorts with period 1 complete, `compare_latest`; "" and NaN
        when there is no second one); p1_change_pp with p1_change_low_pp / p1_change_high_pp
        (latest minus previous and its 95% interval, percentage points) and p1_change_p.

    Raises
    ------
    NotAvailable
        When no cohort has completed its period 1.
    """
    _check("unit", unit, UNITS)
    _need_period_one(cohorts, unit, "比较同期群进入后第 1 期的留存")
    pooled = pooled_curve(cohorts).set_index("period")
    latest = compare_latest(cohorts, period=1)
    return {
        "cohorts": int(cohorts.cohort.nunique()),
        "running_cells": int((~cohorts.complete).sum()),
        "p1_rate": float(pooled.rate[1]),
        "p1_cohorts": int(pooled.cohorts[1]),
        "latest_cohort": latest["latest_cohort"],
        "latest_p1": latest["latest_rate"],
        "latest_users": latest["latest_users"],
        "prev_cohort": latest["previous_cohort"],
        "prev_p1": latest["previous_rate"],
        "prev_users": latest["previous_users"],
        "p1_change_pp": 100 * latest["change"],
        "p1_change_low_pp": 100 * latest["change_low"],
        "p1_change_high_pp": 100 * latest["change_high"],
        "p1_change_p": latest["p_value"],
    }


def recent_summary(recent: pd.DataFrame) -> dict:
    """The recent weekly cohorts in numbers (glued as ``ret_recent_<key>``).

    Parameters
    ----------
    recent : pandas.DataFrame
        `recent_cohorts`.

    Returns
    -------
    dict
        cohorts (weekly cohorts), running_cells, and the two latest weeks whose week 1 has
        ended: latest_cohort, latest_p1, latest_users, prev_cohort, prev_p1, prev_users ("",
        NaN and 0 where there is none).
    """
    latest = compare_latest(recent, period=1)
    return {
        "cohorts": int(recent.cohort.nunique()),
        "running_cells": int((~recent.complete).sum()),
        "latest_cohort": latest["latest_cohort"],
        "latest_p1": latest["latest_rate"],
        "latest_users": latest["latest_users"],
        "prev_cohort": latest["previous_cohort"],
        "prev_p1": latest["previous_rate"],
        "prev_users": latest["previous_users"],
    }


def curve_summary(cohorts: pd.DataFrame, unit: str = "month") -> dict:
    """The shape of the pooled retention curve (glued as ``ret_curve_<key>``).

    Parameters
    ----------
    cohorts : pandas.DataFrame
        `cohort_retention` (one group).
    unit : {"day", "week", "month"}, default "month"
        Its unit, for the note when there is nothing to say.

    Returns
    -------
    dict
        periods (the last period some cohort has completed), last_rate (the pooled rate
        then); steepest_period and steepest_drop_pp (the period k whose pooled rate fell most
        from period k-1, and by how many percentage points: NaN with 0 when it never fell);
        early_drop_pp and late_drop_pp (mean fall per period over the first and the second
        half of the periods 1..last; late NaN with fewer than two periods); newest_cohort and
        newest_gap_pp (the newest cohort with at least two complete periods from 1 on, and
        its mean distance above the pooled curve over them, percentage points; "" and NaN
        when there is none).

    Raises
    ------
    NotAvailable
        When no cohort has completed its period 1.
    """
    _check("unit", unit, UNITS)
    _need_period_one(cohorts, unit, "画出进入后逐期的留存曲线")
    pooled = pooled_curve(cohorts).set_index("period").rate
    last = int(pooled.index.max())
    drops = (pooled.shift(1) - pooled).iloc[1:] * 100  # fall from k-1 to k, k = 1 .. last
    falling = drops[drops > 0]
    half = (len(drops) + 1) // 2
    out = {
        "periods": last,
        "last_rate": float(pooled[last]),
        "steepest_period": int(falling.idxmax()) if len(falling) else 0,
        "steepest_drop_pp": float(falling.max()) if len(falling) else NAN,
        "early_drop_pp": float(drops.iloc[:half].mean()),
        "late_drop_pp": float(drops.iloc[half:].mean()) if len(drops) >= 2 else NAN,
        "newest_cohort": "",
        "newest_gap_pp": NAN,
    }
    done = cohorts[cohorts["complete"] & (cohorts["period"] >= 1)]
    counts = done.groupby("cohort")["period"].count()
    enough = sorted(counts[counts >= 2].index)
    if enough:
        rows = done[done["cohort"] == enough[-1]]
        gap = (rows["rate"].to_numpy() - pooled.reindex(rows["period"]).to_numpy()).mean()
        out.update(newest_cohort=str(enough[-1]), newest_gap_pp=float(100 * gap))
    return out



# --------------------------------------------------------------------------- nth investment


def nth_investment(ds: Dataset, max_n: int = 5, by: str | None = None,
                   mature_days: int = 0) -> pd.DataFrame:
    """Retention by investment count: users with at least n investments, n = 1 .. max_n.

    rate_from_first = users(n) / users(1); rate_from_previous = users(n) / users(n-1) (of
    those who invested n-1 times, the share who invested again); median_days_from_previous is
    the median time between the (n-1)th and nth investment, in days. Investments at the same
    instant are ordered by txn_id. The median needs an engine whose exact median is DuckDB's
    (DuckDB, Spark, Postgres: see engine.require_exact_quantiles).

    Parameters
    ----------
    ds : Dataset
        The dataset.
    max_n : int, default 5
        The last investment count shown; at least 2.
    by : str or None, default None
        A breakdown: ``signup_channel``, ``first_term`` (the first product's term) or another
        wide-table column.
    mature_days : int, default 0
        Keep only investors whose first investment is at least that many days before the end
        of the analysis date (time to come back).

    Returns
    -------
    pandas.DataFrame
        Columns [group,] n, users, rate_from_first, rate_from_previous,
        median_days_from_previous; a count nobody reached is 0 (its rate from the previous
        count NaN when nobody reached that one either).

    Raises
    ------
    ValueError
        For a bad `max_n`, `mature_days` or `by`.
    NotImplementedError
        On an engine whose exact median differs.
    NotAvailable
        When the data has no investment up to the analysis date (or none old enough for
        `mature_days`).
    """
    require_exact_quantiles(ds.con, "retention.nth_investment")
    if not isinstance(max_n, int) or max_n < 2:
        raise ValueError(f"max_n={max_n!r}: must be an integer of at least 2")
    if mature_days < 0:
        raise ValueError(f"mature_days={mature_days!r}: must be 0 or more")
    inv = investments(ds)
    w = ibis.window(group_by="user_id", order_by=["txn_time", "txn_id"])
    ranked = inv.mutate(n=ibis.row_number().over(w) + 1, prev=inv.txn_time.lag().over(w))
    # an exact microsecond difference (epoch_seconds() drops fractions of a second on Spark)
    gap_us = ranked.txn_time.delta(ranked.prev, unit="microsecond").cast("float64")
    ranked = ranked.mutate(gap=gap_us / 8.64e10)
    groups = _groups(ds, by).rename(_g_uid="user_id")
    ranked = ranked.inner_join(groups, ranked.user_id == groups._g_uid)
    if mature_days:
        cutoff = ds.period_end - dt.timedelta(days=mature_days)
        first = inv.group_by("user_id").aggregate(_first=_.txn_time.min())
        first = first.filter(first._first <= cutoff).rename(_f_uid="user_id")
        ranked = ranked.inner_join(first, ranked.user_id == first._f_uid)
    agg = ranked.filter(ranked.n <= max_n).group_by(["group", "n"]).aggregate(
        users=_.count(), median_days_from_previous=_.gap.median())
    agg = _execute(agg, ["group", "n"])
    if agg.empty:
        old = f"首投早于分析日前 {mature_days} 天的" if mature_days else ""
        raise NotAvailable("投资记录（交易表中成功的投资）",
                           f"截至分析日 {ds.analysis_date} 数据中没有{old}投资记录",
                           "检查交易表的状态映射（成功的投资）和时间范围是否覆盖分析日之前")
    rows = []
    for g in sorted(set(agg["group"])):
        sub = agg[agg["group"] == g].set_index("n")
        users = {n: int(sub["users"].get(n, 0)) for n in range(1, max_n + 1)}
        for n in range(1, max_n + 1):
            prev = users.get(n - 1)
            gap = sub["median_days_from_previous"].get(n, np.nan) if n > 1 else np.nan
            rows.append({"group": g, "n": n, "users": users[n],
                         "rate_from_first": users[n] / users[1] if users[1] else np.nan,
                         "rate_from_previous": users[n] / prev if prev else np.nan,
                         "median_days_from_previous": float(gap) if pd.notna(gap) else np.nan})
    cols = ["group", "n", "users", "rate_from_first", "rate_from_previous",
            "median_days_from_previous"]
    out = pd.DataFrame(rows, columns=cols)
    out["n"] = out["n"].astype(int)
    out["users"] = out["users"].astype(int)
    return out if by is not None else out.drop(columns="group")


# --------------------------------------------------------------------------- lifecycle states


def _check_thresholds(dormant_days: int, churn_days: int) -> None:
    if not isinstance(dormant_days, int) or dormant_days < 1:
        raise ValueError(f"dormant_days={dormant_days!r}: must be a positive number of days")
    if not isinstance(churn_days, int) or churn_days <= dormant_days:
        raise ValueError(f"churn_days={churn_days!r}: must be a number of days greater than "
                         f"dormant_days ({dormant_days})")


def _gapped(ds: Dataset, event: str, count_holdings: bool,
            investors_only: bool = False) -> ibis.Table:
    """Each activity with the day it happened, the last day the user was covered before it
    (``prev_cover``, null for the first) and the inactive days in between (``gap_before``).

    Days are natural days; ``gap_before`` counts the whole days strictly between the last
    covered day and the activity's day (0 for consecutive days). ``investors_only`` keeps
    investors and only their activity from the first investment on (the survival clock).
    """
    cov = _coverage(ds, event, count_holdings)
    if investors_only:
        first = investments(ds).group_by("user_id").aggregate(_first_inv=_.txn_time.min())
        first = first.rename(_f_uid="user_id")
        cov = cov.inner_join(first, cov.user_id == first._f_uid)
        cov = cov.filter(cov.ts >= cov._first_inv).select("user_id", "ts", "cover")
    w = ibis.window(group_by="user_id", order_by=["ts", "cover"], rows=(None, -1))
    cov = cov.mutate(prev_cover=cov.cover.max().over(w))
    day = cov.ts.date()
    prev_day = cov.prev_cover.date()
    gap = ibis.greatest(day.delta(prev_day, unit="day") - 1, 0)
    return cov.mutate(day=day, prev_day=prev_day, gap_before=gap)


def user_states(ds: Dataset, period: str = "month", activity_event: str = INVESTMENT,
                dormant_days: int = DORMANT_DAYS, churn_days: int = CHURN_DAYS,
                count_holdings: bool = True, since: dt.date | str | None = None) -> ibis.Table:
    """The lifecycle state of every user at the end of every period, as an engine expression.

    Not executed: it has one row per user and period. A user enters at their first activity.
    At the end of each period (the end of the analysis date for the running period) the
    inactive days are the whole days since the last day the user was active or held a live
    investment. States: ``new`` (first activity in this period); ``resurrected`` (inactive for
    fewer than ``dormant_days`` now, and came back in this period after a gap of at least
    ``dormant_days``); ``active`` (inactive for fewer than ``dormant_days``); ``dormant``
    (at least ``dormant_days``, fewer than ``churn_days``); ``churned`` (at least
    ``churn_days``).

    Parameters
    ----------
    ds : Dataset
        The dataset.
    period : {"day", "week", "month"}, default "month"
        The period at whose end states are taken.
    activity_event : str or dict, default "investment"
        What counts as activity: ``investment``, ``any`` or an event of the data.
    dormant_days : int, default DORMANT_DAYS (60)
        Whole days without activity or a live holding before a user is dormant.
    churn_days : int, default CHURN_DAYS (180)
        Whole days before a user is churned; more than `dormant_days`.
    count_holdings : bool, default True
        Whether a live holding (a term product before maturity, 活期 for
        ``current_holding_days``) keeps a user active.
    since : datetime.date, str or None, default None
        Only the periods from the one holding this day on.

    Returns
    -------
    ibis.Table
        Columns user_id, period (start date), period_index, complete, state, prev_state
        (``(entry)`` in the first period), inactive_days.

    Raises
    ------
    ValueError
        For a bad `period` or thresholds.
    DataError
        When `activity_event` names an event the data does not have.
    NotAvailable
        When the data has no activity, or its first activity is fewer than `dormant_days`
        days before the analysis date (nobody can be dormant yet).
    """
    _check("period", period, UNITS)
    _check_event(ds, "activity_event", activity_event)
    _check_thresholds(dormant_days, churn_days)
    since = _as_date(since)
    acts = _gapped(ds, activity_event, count_holdings)
    first = acts.aggregate(first=acts.ts.min()).to_pyarrow().to_pylist()[0]["first"]
    _require_span(ds, first, dormant_days, "dormant_days", activity_event, "判断谁已进入沉睡")
    origin = floor_date(first.date(), period)
    origin_lit = ibis.literal(origin)
    n_periods = periods_between(origin, ds.analysis_date, period) + 1
    starts = [add_periods(origin, k, period) for k in range(n_periods)]
    last_day = [min(add_periods(s, 1, period) - dt.timedelta(days=1), ds.analysis_date)
                for s in starts]
    grid = ibis.memtable({
        "period_index": list(range(n_periods)), "period": starts, "_last_day": last_day,
        "complete": [is_complete(s, period, ds.analysis_date) for s in starts],
    }, schema={"period_index": "int64", "period": "date", "_last_day": "date",
               "complete": "boolean"})

    acts = acts.mutate(_p=_period_index(_period_start(acts.ts, period), origin_lit, period))
    per = acts.group_by(["user_id", "_p"]).aggregate(
        _cover=_.cover.max(),
        _came_back=(_.gap_before >= dormant_days).any(),
    )
    users = per.group_by("user_id").aggregate(_first_p=_._p.min())
    cells = users.cross_join(grid).filter(lambda t: t.period_index >= t._first_p)
    per = per.rename(_u="user_id")
    cells = cells.left_join(per, (cells.user_id == per._u) & (cells.period_index == per._p))
    w = ibis.window(group_by="user_id", order_by="period_index", rows=(None, 0))
    cells = cells.mutate(_cover_cum=cells._cover.max().over(w))
    # covered up to the last day with an activity or a live holding (a holding's cover is its
    # maturity: the maturity day still counts as held); a holding still live is inactive 0
    inactive = ibis.greatest(cells._last_day.delta(cells._cover_cum.date(), unit="day"), 0)
    base = ibis.cases(
        (cells.period_index == cells._first_p, "new"),
        (inactive >= churn_days, "churned"),
        (inactive >= dormant_days, "dormant"),
        (cells._came_back.fill_null(False), "resurrected"),
        else_="active",
    )
    cells = cells.mutate(state=base, inactive_days=inactive)
    order = ibis.window(group_by="user_id", order_by="period_index")
    cells = cells.mutate(prev_state=cells.state.lag().over(order).fill_null(ENTRY))
    out = cells.select("user_id", "period", "period_index", "complete", "state", "prev_state",
                       "inactive_days")
    if since is not None:
        out = out.filter(out.period >= floor_date(since, period))
    return out


def lifecycle(ds: Dataset, period: str = "month", activity_event: str = INVESTMENT,
              dormant_days: int = DORMANT_DAYS, churn_days: int = CHURN_DAYS,
              count_holdings: bool = True, since: dt.date | str | None = None) -> pd.DataFrame:
    """Users per lifecycle state and period (see `user_states`); every state in every period.

    Parameters
    ----------
    ds : Dataset
        The dataset.
    period : {"day", "week", "month"}, default "month"
        The period at whose end states are taken.
    activity_event : str or dict, default "investment"
        What counts as activity: ``investment``, ``any`` or an event of the data.
    dormant_days : int, default DORMANT_DAYS (60)
        Whole days without activity or a live holding before a user is dormant.
    churn_days : int, default CHURN_DAYS (180)
        Whole days before a user is churned; more than `dormant_days`.
    count_holdings : bool, default True
        Whether a live holding (a term product before maturity, 活期 for
        ``current_holding_days``) keeps a user active.
    since : datetime.date, str or None, default None
        Only the periods from the one holding this day on.

    Returns
    -------
    pandas.DataFrame
        Columns period, state, users, complete. The last period may be running
        (``complete=False``): its states are as of the end of the analysis date.

    Raises
    ------
    ValueError
        For a bad `period` or thresholds.
    DataError
        When `activity_event` names an event the data does not have.
    NotAvailable
        When the data has no activity, or its first activity is fewer than `dormant_days`
        days before the analysis date (nobody can be dormant yet).
    """
    states = user_states(ds, period, activity_event, dormant_days, churn_days,
                         count_holdings, since)
    counts = _execute(states.group_by(["period", "complete", "state"]).aggregate(users=_.count()),
                      ["period", "state"])
    periods = counts[["period", "complete"]].drop_duplicates().sort_values("period")
    grid = periods.merge(pd.DataFrame({"state": list(STATES)}), how="cross")
    out = grid.merge(counts, on=["period", "complete", "state"], how="left")
    out["users"] = out["users"].fillna(0).astype(int)
    out["state"] = pd.Categorical(out["state"], categories=list(STATES), ordered=True)
    out = out.sort_values(["period", "state"]).reset_index(drop=True)
    out["state"] = out["state"].astype(str)
    out["complete"] = out["complete"].astype(bool)
    return out[["period", "state", "users", "complete"]]



def with_state_labels(frame: pd.DataFrame) -> pd.DataFrame:
    """A lifecycle table as the page shows it: states by their Chinese names, not their codes.

    The columns state, from_state and to_state are mapped through STATE_LABELS (the flows'
    ENTRY reads ENTRY_LABEL); other columns and the rows' order are unchanged (the transition
    matrix's columns named by state codes get their Chinese headers from the registry, like
    every column). The library keeps the codes, so tests and other chapters compare codes, and
    the page and its CSV show words.

    Parameters
    ----------
    frame : pandas.DataFrame
        `lifecycle`, `lifecycle_flows` or `transition_matrix` (with its index reset).

    Returns
    -------
    pandas.DataFrame
        A copy with the labels.

    Examples
    --------
    >>> with_state_labels(pd.DataFrame({"from_state": ["(entry)", "new"], "to_state": ["new", "active"],
    ...                                 "active": [0.5, 1.0]})).to_dict("list")
    {'from_state': ['首次进入', '新增'], 'to_state': ['新增', '活跃'], 'active': [0.5, 1.0]}
    """
    names = {**STATE_LABELS, ENTRY: ENTRY_LABEL}
    out = frame.copy()
    for column in ("state", "from_state", "to_state"):
        if column in out.columns:
            out[column] = out[column].map(lambda v: names.get(v, v))
    return out

def lifecycle_flows(ds: Dataset, period: str = "month", activity_event: str = INVESTMENT,
                    dormant_days: int = DORMANT_DAYS, churn_days: int = CHURN_DAYS,
                    count_holdings: bool = True,
                    since: dt.date | str | None = None) -> pd.DataFrame:
    """Users moving from each state at the end of the previous period to each state now.

    Computed once per dataset and parameters (a copy is returned).

    Parameters
    ----------
    ds : Dataset
        The dataset.
    period : {"day", "week", "month"}, default "month"
        The period at whose end states are taken.
    activity_event : str or dict, default "investment"
        What counts as activity: ``investment``, ``any`` or an event of the data.
    dormant_days : int, default DORMANT_DAYS (60)
        Whole days without activity or a live holding before a user is dormant.
    churn_days : int, default CHURN_DAYS (180)
        Whole days before a user is churned; more than `dormant_days`.
    count_holdings : bool, default True
        Whether a live holding (a term product before maturity, 活期 for
        ``current_holding_days``) keeps a user active.
    since : datetime.date, str or None, default None
        Only the periods from the one holding this day on.

    Returns
    -------
    pandas.DataFrame
        Columns period, from_state, to_state, users, complete. ``from_state`` is ``(entry)``
        for a user's first period.

    Raises
    ------
    ValueError
        For a bad `period` or thresholds.
    DataError
        When `activity_event` names an event the data does not have.
    NotAvailable
        When the data has no activity, or its first activity is fewer than `dormant_days`
        days before the analysis date (nobody can be dormant yet).
    """
    since = _as_date(since)
    key = (f"retention.lifecycle_flows:{period}:{activity_event!r}:{dormant_days}:{churn_days}:"
           f"{count_holdings}:{since}")
    return ds.memo(key, lambda: _lifecycle_flows(ds, period, activity_event, dormant_days,
                                                 churn_days, count_holdings, since)).copy()


def _lifecycle_flows(ds: Dataset, period: str, activity_event: Any, dormant_days: int,
                     churn_days: int, count_holdings: bool, since: dt.date | None) -> pd.DataFrame:
    states = user_states(ds, period, activity_event, dormant_days, churn_days,
                         count_holdings, since)
    keys = ["period", "complete", "prev_state", "state"]
    counts = _execute(states.group_by(keys).aggregate(users=_.count()), keys)
    counts = counts.rename(columns={"prev_state": "from_state", "state": "to_state"})
    counts["complete"] = counts["complete"].astype(bool)
    return counts[["period", "from_state", "to_state", "users", "complete"]]


def transition_matrix(flows: pd.DataFrame, period: dt.date | None = None,
                      normalize: bool = True) -> pd.DataFrame:
    """From-state × to-state matrix of ``lifecycle_flows``: one period, or every complete one.

    Entries (``(entry)``) are left out: they are the new users.

    Parameters
    ----------
    flows : pandas.DataFrame
        `lifecycle_flows`.
    period : datetime.date or None, default None
        One period's start; None: every complete period, added up.
    normalize : bool, default True
        Each row as the share of the from-state's users (rows sum to 1); else counts.

    Returns
    -------
    pandas.DataFrame
        From-states (with any users) as rows, to-states (all but new) as columns; empty when
        no period has a transition.
    """
    keep = flows["complete"] if period is None else flows["period"] == _as_date(period)
    sel = flows[keep]
    sel = sel[sel["from_state"] != ENTRY]
    order = [s for s in STATES if s != "new"]
    mat = sel.pivot_table(index="from_state", columns="to_state", values="users",
                          aggfunc="sum", fill_value=0)
    mat = mat.reindex(index=list(STATES), columns=order, fill_value=0)
    mat = mat[mat.sum(axis=1) > 0]
    if normalize:
        mat = mat.div(mat.sum(axis=1), axis=0)
    mat.index.name, mat.columns.name = "from_state", "to_state"
    return mat


def states_now(counts: pd.DataFrame) -> dict[str, int]:
    """Users per state in the last period of `lifecycle` (as of the analysis date).

    Parameters
    ----------
    counts : pandas.DataFrame
        `lifecycle`.

    Returns
    -------
    dict of str to int
        State -> users.
    """
    last = counts[counts["period"] == counts["period"].max()]
    return {str(s): int(n) for s, n in zip(last["state"], last["users"], strict=True)}


def comeback_gaps(ds: Dataset, activity_event: Any = INVESTMENT, count_holdings: bool = True,
                  days: Sequence[int] = (30, 60, 90, 180, 365),
                  thresholds: Sequence[int] = ()) -> pd.DataFrame:
    """How long users were away before they came back, to set the dormant and churn thresholds.

    For every activity after a user's first that follows at least one inactive day (no
    activity, no live holding), the whole inactive days before it.

    Parameters
    ----------
    ds : Dataset
        The dataset.
    activity_event : str or dict, default "investment"
        What counts as activity (see `activity`).
    count_holdings : bool, default True
        Whether a live holding keeps a user active.
    days : sequence of int, default (30, 60, 90, 180, 365)
        The day counts the shares are read at.
    thresholds : sequence of int, default ()
        More day counts to read (the chapter's dormant and churn thresholds).

    Returns
    -------
    pandas.DataFrame
        Columns days (those of `days` and `thresholds`, in order), share_within (of the
        comebacks, the share after at most that many inactive days; NaN without comebacks),
        comebacks (their number).

    Raises
    ------
    DataError
        When `activity_event` names an event the data does not have.
    """
    days = sorted({int(d) for d in (*days, *thresholds)})
    acts = _gapped(ds, activity_event, count_holdings)
    backs = acts.filter(acts.prev_cover.notnull() & (acts.gap_before > 0))
    agg = backs.aggregate(comebacks=_.count(),
                          **{f"w{d}": (_.gap_before <= d).sum() for d in days})
    row = agg.to_pyarrow().to_pylist()[0]
    total = int(row["comebacks"])
    return pd.DataFrame({"days": days,
                         "share_within": [(row[f"w{d}"] or 0) / total if total else np.nan
                                          for d in days],
                         "comebacks": total})


def at_risk_users(ds: Dataset, activity_event: Any = INVESTMENT,
                  dormant_days: int = DORMANT_DAYS, churn_days: int = CHURN_DAYS,
                  count_holdings: bool = True) -> ibis.Table:
    """Users dormant now (still recallable), as an engine expression for a private export.

    Dormant at the end of the analysis date: at least `dormant_days` and fewer than
    `churn_days` whole days without activity or a live holding. Export it with
    ``Chapter.export``; never display it.

    Parameters
    ----------
    ds : Dataset
        The dataset.
    activity_event : str or dict, default "investment"
        What counts as activity (see `activity`).
    dormant_days, churn_days : int
        The thresholds (see `user_states`).
    count_holdings : bool, default True
        Whether a live holding keeps a user active.

    Returns
    -------
    ibis.Table
        Columns user_id, inactive_days, signup_channel, invest_count, invest_amount,
        last_invest_at; ordered by inactive_days (the most recently lapsed first, the easiest
        to recall), then user_id.

    Raises
    ------
    ValueError
        For bad thresholds.
    DataError
        When `activity_event` names an event the data does not have.
    NotAvailable
        When the data has no activity, or its first activity is fewer than `dormant_days`
        days before the analysis date (nobody can be dormant yet: a count of 0 would not
        mean that nobody is at risk).
    """
    _check_event(ds, "activity_event", activity_event)
    _check_thresholds(dormant_days, churn_days)
    acts = _gapped(ds, activity_event, count_holdings)
    first = acts.aggregate(first=acts.ts.min()).to_pyarrow().to_pylist()[0]["first"]
    _require_span(ds, first, dormant_days, "dormant_days", activity_event, "找出沉睡用户")
    per = acts.group_by("user_id").aggregate(_cover=_.cover.max())
    today = ibis.literal(ds.analysis_date)
    per = per.mutate(inactive_days=ibis.greatest(today.delta(per._cover.date(), unit="day"), 0))
    per = per.filter((per.inactive_days >= dormant_days) & (per.inactive_days < churn_days))
    wide = user_wide(ds)
    per = per.rename(_u="user_id")
    out = per.inner_join(wide, per._u == wide.user_id)
    out = out.select("user_id", "inactive_days", "signup_channel", "invest_count",
                     "invest_amount", "last_invest_at")
    return out.order_by(["inactive_days", "user_id"])


def at_risk_count(ds: Dataset, activity_event: Any = INVESTMENT,
                  dormant_days: int = DORMANT_DAYS, churn_days: int = CHURN_DAYS,
                  count_holdings: bool = True) -> int:
    """How many users are dormant now (the size of `at_risk_users`).

    Parameters
    ----------
    ds, activity_event, dormant_days, churn_days, count_holdings
        As in `at_risk_users`.

    Returns
    -------
    int
        The count.

    Raises
    ------
    ValueError, DataError, NotAvailable
        As `at_risk_users`.
    """
    expr = at_risk_users(ds, activity_event, dormant_days, churn_days, count_holdings)
    return int(expr.count().to_pyarrow().as_py())


# --------------------------------------------------------------------------- survival


def survival_data(ds: Dataset, by: str | None = None, activity_event: str = INVESTMENT,
                  churn_days: int = CHURN_DAYS, count_holdings: bool = True) -> pd.DataFrame:
    """Active lifetimes from the first investment, grouped with their counts, for Kaplan-Meier.

    A user's active life runs from the day of their first activity to the last day they were
    active or held a live investment before their first gap of ``churn_days`` whole days
    (churn). That end is only known ``churn_days`` later, so a user is observed to churn
    (event=1) when ``last day + churn_days <= analysis date``; otherwise the lifetime is
    censored (event=0) at ``analysis date - churn_days - first day``: exact right-censoring,
    since the lifetime is then known to be longer. Users whose first activity is less than
    ``churn_days`` before the analysis date cannot be judged yet and are left out (their
    count is in ``attrs["too_recent"]``).

    lifelines needs one duration per row; instead of pulling one row per investor out of the
    engine, users are aggregated to (group, duration_days, event, users) and the counts are
    passed to lifelines as weights.

    Parameters
    ----------
    ds : Dataset
        The dataset.
    by : str or None, default None
        A breakdown (``signup_channel``, ``cohort`` = month of the first investment,
        ``first_term``, ...).
    activity_event : str or dict, default "investment"
        What counts as activity after the first investment (see `activity`).
    churn_days : int, default CHURN_DAYS (180)
        Whole days without activity or a live holding that end an active life.
    count_holdings : bool, default True
        Whether a live holding keeps an investor active.

    Returns
    -------
    pandas.DataFrame
        Columns [group,] duration_days, event, users; ``attrs["too_recent"]`` counts the
        investors left out.

    Raises
    ------
    ValueError
        For a bad `churn_days` or `by`.
    DataError
        When `activity_event` names an event the data does not have.
    """
    _check_event(ds, "activity_event", activity_event)
    if not isinstance(churn_days, int) or churn_days < 1:
        raise ValueError(f"churn_days={churn_days!r}: must be a positive number of days")
    acts = _gapped(ds, activity_event, count_holdings, investors_only=True)
    today = ibis.literal(ds.analysis_date)
    per = acts.group_by("user_id").aggregate(
        first_day=_.day.min(),
        # the earliest comeback after a churn gap: the life ended on the last covered day
        _gap_end=_.prev_day.min(where=_.gap_before >= churn_days),
        _last=_.cover.max().date(),
    )
    end = ibis.coalesce(per._gap_end, per._last)
    churned = today.delta(end, unit="day") >= churn_days
    censor_at = today.delta(per.first_day, unit="day") - churn_days
    per = per.mutate(duration_days=ibis.ifelse(churned, end.delta(per.first_day, unit="day"),
                                               censor_at),
                     event=churned.cast("int64"), _censor=censor_at)
    groups = _groups(ds, by).rename(_g_uid="user_id")
    per = per.inner_join(groups, per.user_id == groups._g_uid)
    too_recent = int(per.filter(per._censor < 0).count().to_pyarrow().as_py())
    keys = ["group", "duration_days", "event"]
    out = _execute(per.filter(per._censor >= 0).group_by(keys).aggregate(users=_.count()), keys)
    out = out.astype({"duration_days": int, "event": int, "users": int})
    out = out if by is not None else out.drop(columns="group")
    out.attrs["too_recent"] = too_recent
    return out


def kaplan_meier(data: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Kaplan-Meier survival curves (lifelines) of ``survival_data``, one per group.

    The curve has a row at day 0 (survival after the lifetimes of 0 days, e.g. users who
    never came back after the day of their first investment) and at every day with an event
    or a censoring.

    Parameters
    ----------
    data : pandas.DataFrame
        `survival_data` ([group,] duration_days, event, users).
    alpha : float, default 0.05
        Two-sided level of the pointwise intervals.

    Returns
    -------
    pandas.DataFrame
        Columns [group,] day, survival, ci_lower, ci_upper, at_risk.
    """
    from lifelines import KaplanMeierFitter

    groups = sorted(data["group"].unique()) if "group" in data.columns else [None]
    frames = []
    for g in groups:
        sub = data if g is None else data[data["group"] == g]
        sub = sub[sub["users"] > 0]
        if sub.empty:
            continue
        kmf = KaplanMeierFitter(alpha=alpha)
        kmf.fit(sub["duration_days"].to_numpy(float), sub["event"].to_numpy(int),
                weights=sub["users"].to_numpy(float))
        sf = kmf.survival_function_.iloc[:, 0]
        ci = kmf.confidence_interval_survival_function_
        table = kmf.event_table
        frame = pd.DataFrame({
            "day": sf.index.to_numpy(float).astype(int),
            "survival": sf.to_numpy(float),
            "ci_lower": ci.iloc[:, 0].to_numpy(float),
            "ci_upper": ci.iloc[:, 1].to_numpy(float),
            "at_risk": table["at_risk"].reindex(sf.index).fillna(0).to_numpy(float).round()
                                       .astype(int),
        })
        if g is not None:
            frame.insert(0, "group", g)
        frames.append(frame)
    cols = (["group"] if groups != [None] else []) + ["day", "survival", "ci_lower",
                                                       "ci_upper", "at_risk"]
    if not frames:
        return pd.DataFrame(columns=cols)
    return pd.concat(frames, ignore_index=True)[cols]


def survival_at(curves: pd.DataFrame, days: Sequence[int] = (90, 180, 365)) -> pd.DataFrame:
    """Survival read off ``kaplan_meier`` curves at given days (a step function), per group,
    with the median lifetime (first day survival is at most 0.5; NaN if never reached).

    Parameters
    ----------
    curves : pandas.DataFrame
        `kaplan_meier`.
    days : sequence of int, default (90, 180, 365)
        The days read off.

    Returns
    -------
    pandas.DataFrame
        Columns [group,] users, then ``s_<day>`` for each day, median_days. A day past a
        group's last observation is NaN (not known), unless the curve has already reached 0.
    """
    has_group = "group" in curves.columns
    groups = sorted(curves["group"].unique()) if has_group else [None]
    rows = []
    for g in groups:
        sub = curves if g is None else curves[curves["group"] == g]
        sub = sub.sort_values("day")
        row = {} if g is None else {"group": g}
        row["users"] = int(sub["at_risk"].iloc[0])
        for d in days:
            upto = sub[sub["day"] <= d]
            known = d <= sub["day"].max() or sub["survival"].iloc[-1] == 0
            row[f"s_{d}"] = float(upto["survival"].iloc[-1]) if known else np.nan
        below = sub[sub["survival"] <= 0.5 + 1e-9]
        row["median_days"] = float(below["day"].iloc[0]) if len(below) else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


@dataclass
class Survival:
    """Kaplan-Meier lifetimes of investors (``survival``).

    ``curves``: the curves per group (``kaplan_meier``); ``at_days``: survival per group at
    ``days`` with the median (``survival_at``); ``overall``: the same for all investors, one
    row (empty without investors old enough); ``too_recent``: investors whose first activity is
    too recent to judge; ``days``: the days read off.
    """

    curves: pd.DataFrame
    at_days: pd.DataFrame
    overall: pd.DataFrame
    too_recent: int
    days: tuple[int, ...]


def survival(ds: Dataset, by: str | None = "signup_channel", churn_days: int = CHURN_DAYS,
             days: Sequence[int] = (30, 90, 180), activity_event: Any = INVESTMENT) -> Survival:
    """Kaplan-Meier survival of investors by `by` and overall, read off at `days`.

    `survival_data` -> `kaplan_meier` -> `survival_at`, once per group and once for
    everyone (not an average of the groups).

    Parameters
    ----------
    ds : Dataset
        The dataset.
    by : str or None, default "signup_channel"
        The breakdown (see `survival_data`).
    churn_days : int, default CHURN_DAYS (180)
        Whole days without activity or a live holding that end an active life.
    days : sequence of int, default (30, 90, 180)
        The days the survival is read at.
    activity_event : str or dict, default "investment"
        What counts as activity after the first investment (see `activity`).

    Returns
    -------
    Survival
        The curves, the survival at `days` per group and overall.

    Raises
    ------
    ValueError
        For a bad `churn_days` or `by`.
    DataError
        When `activity_event` names an event the data does not have.
    NotAvailable
        When no investor's first investment is at least `churn_days` days before the
        analysis date: nobody's churn can be known yet.
    """
    days = tuple(days)
    everyone = survival_data(ds, activity_event=activity_event, churn_days=churn_days)
    if everyone.empty:
        inv = investments(ds)
        first = inv.aggregate(first=inv.txn_time.min()).to_pyarrow().to_pylist()[0]["first"]
        what = f"首投已满 {churn_days} 天（流失阈值 churn_days）的投资者：流失要不活跃满这么久才能确认"
        if first is None:
            raise NotAvailable(what, f"截至分析日 {ds.analysis_date} 数据中没有投资记录",
                               "检查交易表的状态映射和时间范围")
        raise NotAvailable(what, f"数据中最早的首投在 {first.date()}，到分析日 {ds.analysis_date} 只有 "
                                 f"{(ds.analysis_date - first.date()).days} 天",
                           f"提供更长时间的数据，或调小 churn_days（当前 {churn_days} 天）")
    curves = kaplan_meier(survival_data(ds, by=by, activity_event=activity_event,
                                        churn_days=churn_days))
    overall_curve = kaplan_meier(everyone)
    overall = survival_at(overall_curve, days)
    at_days = survival_at(curves, days)
    return Survival(curves, at_days, overall, int(everyone.attrs["too_recent"]), days)


def survival_summary(result: Survival, min_users: int = 100) -> dict:
    """The survival in numbers (glued as ``ret_<key>``).

    Parameters
    ----------
    result : Survival
        `survival`.
    min_users : int, default 100
        A group needs this many investors to be named best or worst.

    Returns
    -------
    dict
        surv_investors (investors old enough to judge), surv_too_recent, surv_<d> for each day
        d of ``result.days`` (the overall survival; NaN past the last observation),
        surv_median_days (NaN when the curve has not fallen to half), surv_min_users, and
        surv_channel_day with surv_channel_best / _best_rate / surv_channel_worst / _worst_rate:
        at the longest day at which at least two groups with `min_users` investors can be
        compared, the best and the worst (day 0, "" and NaN when there is none).
    """
    overall = result.overall.iloc[0] if len(result.overall) else None
    out: dict[str, Any] = {
        "surv_investors": int(overall.users) if overall is not None else 0,
        "surv_too_recent": int(result.too_recent),
    }
    for d in result.days:
        out[f"surv_{d}"] = float(overall[f"s_{d}"]) if overall is not None else NAN
    out["surv_median_days"] = float(overall["median_days"]) if overall is not None else NAN
    out.update(surv_min_users=int(min_users), surv_channel_day=0, surv_channel_best="",
               surv_channel_best_rate=NAN, surv_channel_worst="", surv_channel_worst_rate=NAN)
    known = [d for d in result.days if not math.isnan(out[f"surv_{d}"])]
    for d in reversed(known):  # the longest day at which at least two groups can be compared
        if f"s_{d}" not in result.at_days.columns:
            continue
        by_day = extremes(result.at_days, f"s_{d}", min_users=min_users, users="users")
        if by_day["best"] is not None and by_day["best"] != by_day["worst"]:
            out.update(surv_channel_day=d, surv_channel_best=by_day["best"],
                       surv_channel_best_rate=by_day["best_value"],
                       surv_channel_worst=by_day["worst"],
                       surv_channel_worst_rate=by_day["worst_value"])
            break
    return out


# --------------------------------------------------------------------------- money


def _month_cohorts(ds: Dataset, by: str | None) -> ibis.Table:
    wide = user_wide(ds)
    groups = _groups(ds, by).rename(_g_uid="user_id")
    base = wide.select("user_id", cohort=wide.reg_month)
    return base.inner_join(groups, base.user_id == groups._g_uid).drop("_g_uid")


def ltv_cohorts(ds: Dataset, by: str | None = None, horizon_months: int = 12) -> pd.DataFrame:
    """Cumulative revenue per registered user by months since sign-up, per sign-up month.

    Month m is the m-th calendar month after the sign-up month (0 = the sign-up month);
    revenue is booked at the investment (the transactions' revenue, else amount × margin ×
    term). Computed once per dataset and parameters (a copy is returned).

    Parameters
    ----------
    ds : Dataset
        The dataset.
    by : str or None, default None
        A breakdown (``signup_channel`` ...; see `cohort_retention`).
    horizon_months : int, default 12
        The last month m shown.

    Returns
    -------
    pandas.DataFrame
        Columns [group,] cohort, month, users, cum_revenue, ltv, complete; months not ended
        by the end of the analysis date are ``complete=False`` with a missing LTV.

    Raises
    ------
    ValueError
        For a bad `horizon_months` or `by`.
    NotAvailable
        When nobody signed up up to the analysis date.
    """
    if not isinstance(horizon_months, int) or horizon_months < 1:
        raise ValueError(f"horizon_months={horizon_months!r}: must be a positive integer")
    key = f"retention.ltv_cohorts:{by}:{horizon_months}"
    return ds.memo(key, lambda: _ltv_cohorts(ds, by, horizon_months)).copy()


def _ltv_cohorts(ds: Dataset, by: str | None, horizon_months: int) -> pd.DataFrame:
    base = _month_cohorts(ds, by)
    keys = ["group", "cohort"]
    sizes = _execute(base.group_by(keys).aggregate(users=_.count()), keys)
    if sizes.empty:
        raise NotAvailable("注册用户（LTV 按注册月份累计每个注册用户带来的收入）",
                           f"截至分析日 {ds.analysis_date} 数据中没有注册用户",
                           "检查 users 表的注册时间，以及 analysis_date 是否落在数据的时间范围内")
    inv = investments(ds)
    inv = inv.select(_t_uid=inv.user_id, _month=inv.txn_time.truncate("M").date(),
                     revenue=inv.revenue)
    joined = base.inner_join(inv, base.user_id == inv._t_uid)
    joined = joined.mutate(month=_period_index(joined._month, joined.cohort, "month"))
    joined = joined.filter(joined.month <= horizon_months)
    rev = _execute(joined.group_by([*keys, "month"]).aggregate(revenue=money_sum(_.revenue)),
                   [*keys, "month"])
    found = {(g, c, int(m)): float(r) for g, c, m, r in
             zip(rev["group"], rev["cohort"], rev["month"], rev["revenue"], strict=True)}
    rows = []
    for g, cohort, users in zip(sizes["group"], sizes["cohort"], sizes["users"], strict=True):
        last = min(periods_between(cohort, ds.analysis_date, "month"), horizon_months)
        total = 0.0
        for m in range(last + 1):
            total += found.get((g, cohort, m), 0.0)
            complete = is_complete(add_periods(cohort, m, "month"), "month", ds.analysis_date)
            rows.append({"group": g, "cohort": cohort, "month": m, "users": int(users),
                         "cum_revenue": total if complete else np.nan,
                         "ltv": total / users if complete else np.nan, "complete": complete})
    out = pd.DataFrame(rows, columns=["group", "cohort", "month", "users", "cum_revenue", "ltv",
                                      "complete"])
    out["complete"] = out["complete"].astype(bool)
    return out if by is not None else out.drop(columns="group")


def ltv_curves(ds: Dataset, by: str | None = "signup_channel",
               horizon_months: int = 12) -> pd.DataFrame:
    """LTV per registered user by months since sign-up, pooled over sign-up months.

    Pooled month by month (chain ladder): the revenue of month m per user is taken over the
    sign-up months whose month m has ended, and LTV(m) is the sum of those monthly values up to
    m. A young cohort never drags the curve down, and the curve cannot fall when the old
    cohorts that alone reach the late months happen to be smaller earners (pooling cumulative
    values over a changing set of cohorts would).

    Parameters
    ----------
    ds : Dataset
        The dataset.
    by : str or None, default "signup_channel"
        A breakdown; None for everyone.
    horizon_months : int, default 12
        The last month m shown.

    Returns
    -------
    pandas.DataFrame
        Columns [group,] month, cohorts, users, ltv (users: those of the cohorts that reached
        month m).

    Raises
    ------
    ValueError
        For a bad `horizon_months` or `by`.
    NotAvailable
        When nobody signed up, or no sign-up month has ended by the analysis date.
    """
    cohorts = ltv_cohorts(ds, by, horizon_months)
    if not cohorts["complete"].any():
        raise NotAvailable("至少一个已经结束的注册月份（LTV 只用过完的月份计算）",
                           f"最早的注册月份 {min(cohorts['cohort'])} 到分析日 {ds.analysis_date} 还没有结束",
                           "等数据覆盖满一个自然月后再看")
    return _pool_ltv(cohorts)


def _pool_ltv(cohorts: pd.DataFrame) -> pd.DataFrame:
    has_group = "group" in cohorts.columns
    done = cohorts[cohorts["complete"]].copy()
    if not has_group:
        done["group"] = ALL
    done = done.sort_values(["group", "cohort", "month"], kind="stable")
    done["inc"] = done.groupby(["group", "cohort"])["cum_revenue"].diff()
    done["inc"] = done["inc"].fillna(done["cum_revenue"])
    out = done.groupby(["group", "month"], sort=True).agg(
        cohorts=("cohort", "nunique"), users=("users", "sum"), inc=("inc", "sum")).reset_index()
    out["ltv"] = (out["inc"] / out["users"]).groupby(out["group"]).cumsum()
    out = out.drop(columns="inc")
    return out if has_group else out.drop(columns="group")


@dataclass
class LtvCac:
    """LTV against acquisition cost per channel; ``costs_available`` False when the data has
    no costs table (then spend, cac and ltv_cac are missing and ``note`` says why)."""

    table: pd.DataFrame
    horizon_months: int
    costs_available: bool
    note: str


def ltv_cac(ds: Dataset, horizon_months: int = 12) -> LtvCac:
    """LTV at `horizon_months` against CAC per sign-up channel.

    CAC = the channel's spend (costs mapped to channels through utm_source) / its sign-ups,
    both over the months that have cost data (up to the analysis date). LTV is `ltv_curves`
    at the horizon (or, if no sign-up month has reached the horizon yet, the longest month
    any has reached; ``ltv_month`` says which, and a channel that has not reached it has a
    missing LTV). Channels without spend (organic, referral, untagged) have a missing CAC,
    not a zero one.

    Parameters
    ----------
    ds : Dataset
        The dataset.
    horizon_months : int, default 12
        The month the LTV is read at.

    Returns
    -------
    LtvCac
        The table (channel, signups, spend, cac, ltv_month, ltv, ltv_cac), whether the data
        has costs (without them spend, cac and ltv_cac are missing) and a note on the months
        the spend covers.

    Raises
    ------
    ValueError
        For a bad `horizon_months`.
    NotAvailable
        As `ltv_curves`.
    """
    curves = ltv_curves(ds, "signup_channel", horizon_months)
    month = int(min(horizon_months, curves["month"].max()))
    at = curves[curves["month"] == month].set_index("group")["ltv"]
    wide = user_wide(ds)
    if not ds.has("costs"):
        signups = _execute(wide.group_by(channel=wide.signup_channel).aggregate(signups=_.count()),
                           ["channel"])
        table = signups.assign(spend=np.nan, cac=np.nan)
        note = "数据中没有 costs 表，CAC 与 LTV/CAC 无法计算"
        available = False
    else:
        costs = ds.costs.filter(ds.costs.date <= ds.analysis_date)
        costs = with_channel(costs, "utm_source", ds.config.channels)
        costs = costs.mutate(month=costs.date.truncate("M"))
        spend = _execute(costs.group_by("channel").aggregate(spend=money_sum(_.spend)), ["channel"])
        span = costs.aggregate(lo=_.month.min(), hi=_.month.max()).to_pyarrow().to_pylist()[0]
        users = wide
        if span["lo"] is not None:
            users = wide.filter((wide.reg_month >= span["lo"]) & (wide.reg_month <= span["hi"]))
        signups = _execute(users.group_by(channel=users.signup_channel).aggregate(
            signups=_.count()), ["channel"])
        table = signups.merge(spend, on="channel", how="outer")
        table["signups"] = table["signups"].fillna(0).astype(int)
        table["spend"] = table["spend"].astype(float)
        table["cac"] = np.where((table["spend"] > 0) & (table["signups"] > 0),
                                table["spend"] / table["signups"].where(table["signups"] > 0),
                                np.nan)
        note = (f"花费覆盖 {span['lo']:%Y-%m} 至 {span['hi']:%Y-%m}" if span["lo"] is not None
                else "costs 表在分析日之前没有花费记录")
        available = True
    table["ltv_month"] = month
    table["ltv"] = table["channel"].map(at).astype(float)
    table["ltv_cac"] = table["ltv"] / table["cac"]
    table = table.sort_values("channel").reset_index(drop=True)
    cols = ["channel", "signups", "spend", "cac", "ltv_month", "ltv", "ltv_cac"]
    return LtvCac(table[cols], horizon_months, available, note)


# --------------------------------------------------------------------------- headline numbers


def _num(value) -> float:
    return NAN if value is None or pd.isna(value) else float(value)


def nth_summary(nth: pd.DataFrame, by_term: pd.DataFrame | None = None,
                min_users: int = 30) -> dict:
    """First to fifth investment in numbers (glued as ``ret_<key>``).

    Parameters
    ----------
    nth : pandas.DataFrame
        `nth_investment` without breakdown.
    by_term : pandas.DataFrame or None, default None
        ``nth_investment(by="first_term")``, for the second-investment rate per first term.
    min_users : int, default 30
        A term needs this many first investors to be named best or worst.

    Returns
    -------
    dict
        first_investors, second_investors, second_rate and fifth_rate (shares of first
        investors reaching the 2nd / 5th investment; NaN beyond the table), weakest_n and
        weakest_rate (the step with the lowest rate from the previous one; 0 and NaN when no
        step has one), second_gap_days (median days from the first to the second; NaN without
        a second), and with `by_term` term_min_users, best_term / best_term_rate and worst_term /
        worst_term_rate (second-investment rate from the first, `extremes`; "" and NaN when no
        term has `min_users` first investors).
    """
    t = nth.set_index("n")
    steps = t["rate_from_previous"].dropna()
    weakest = int(steps.idxmin()) if len(steps) else 0
    out: dict[str, Any] = {
        "first_investors": int(t["users"].get(1, 0)),
        "second_investors": int(t["users"].get(2, 0)),
        "second_rate": _num(t["rate_from_first"].get(2)),
        "fifth_rate": _num(t["rate_from_first"].get(5)),
        "weakest_n": weakest,
        "weakest_rate": _num(steps.get(weakest)) if weakest else NAN,
        "second_gap_days": _num(t["median_days_from_previous"].get(2)),
    }
    if by_term is not None:
        second = extremes(by_term[by_term.n == 2], "rate_from_previous", min_users=min_users,
                          users="users")
        out.update(term_min_users=int(min_users), best_term=second["best"] or "",
                   best_term_rate=_num(second["best_value"]), worst_term=second["worst"] or "",
                   worst_term_rate=_num(second["worst_value"]))
    return out


def lifecycle_summary(counts: pd.DataFrame) -> dict:
    """The lifecycle states now, in numbers (glued as ``ret_<key>``).

    Parameters
    ----------
    counts : pandas.DataFrame
        `lifecycle`.

    Returns
    -------
    dict
        state_period (the last period's start), state_complete (whether it has ended),
        users_now (everyone who has entered), active_base_now (new + active + resurrected),
        new_now, resurrected_now, dormant_now, churned_now; state_periods (how many).
    """
    now = states_now(counts)
    last = counts[counts["period"] == counts["period"].max()]
    return {
        "state_period": str(counts["period"].max()),
        "state_complete": bool(last["complete"].all()),
        "users_now": int(sum(now.values())),
        "active_base_now": now.get("new", 0) + now.get("active", 0) + now.get("resurrected", 0),
        "new_now": now.get("new", 0),
        "resurrected_now": now.get("resurrected", 0),
        "dormant_now": now.get("dormant", 0),
        "churned_now": now.get("churned", 0),
        "state_periods": int(counts["period"].nunique()),
    }


def transition_summary(flows: pd.DataFrame, gaps: pd.DataFrame, dormant_days: int = DORMANT_DAYS,
                       churn_days: int = CHURN_DAYS) -> dict:
    """The state transitions and comebacks in numbers (glued as ``ret_<key>``).

    Parameters
    ----------
    flows : pandas.DataFrame
        `lifecycle_flows`.
    gaps : pandas.DataFrame
        `comeback_gaps`, read at `dormant_days` and `churn_days` (pass them as its
        `thresholds`).
    dormant_days, churn_days : int
        The thresholds the states were taken with.

    Returns
    -------
    dict
        transition_months (complete periods with a transition), dormant_base (user-months
        that ended dormant and were followed by another month), dormant_back and dormant_churn
        (of those, the shares that came back, or went on to churn, the next month; NaN
        without any), comebacks, comeback_dormant and comeback_churn (of the comebacks, the
        shares after at most `dormant_days` / `churn_days` inactive days; NaN without
        comebacks or when `gaps` lacks the day).

    Raises
    ------
    NotAvailable
        When no complete period has users who were already there the period before.
    """
    mat = transition_matrix(flows, normalize=False)
    if mat.empty:
        raise NotAvailable("至少一个完整的月份，且月初已经有用户（状态流转比较相邻两个月末的状态）",
                           "截至分析日还没有这样的月份：数据里的用户都还在进入后的第一个月，或这个月还没过完",
                           "等数据覆盖满两个自然月后再看")
    done = flows[flows["complete"] & (flows["from_state"] != ENTRY)]
    dormant = mat.loc["dormant"] if "dormant" in mat.index else pd.Series(dtype=float)
    base = int(dormant.sum())
    share = gaps.set_index("days").share_within
    return {
        "transition_months": int(done["period"].nunique()),
        "dormant_base": base,
        "dormant_back": float(dormant.get("resurrected", 0)) / base if base else NAN,
        "dormant_churn": float(dormant.get("churned", 0)) / base if base else NAN,
        "comebacks": int(gaps["comebacks"].iloc[0]) if len(gaps) else 0,
        "comeback_dormant": _num(share.get(dormant_days)),
        "comeback_churn": _num(share.get(churn_days)),
    }


def ltv_summary(pooled: pd.DataFrame, horizon_months: int = 12) -> dict:
    """The LTV in numbers (glued as ``ret_<key>``).

    Parameters
    ----------
    pooled : pandas.DataFrame
        ``ltv_curves(by=None)`` (month, cohorts, users, ltv).
    horizon_months : int, default 12
        The chapter's horizon.

    Returns
    -------
    dict
        horizon_months, ltv_month (the month the LTV is read at: the horizon, or the longest
        month a sign-up month has reached), ltv_at_month (the pooled LTV per registered user
        then, yuan), ltv_cohorts (sign-up months that reached it), ltv_month0 (the LTV of the
        sign-up month itself) and ltv_month0_share (its share of ltv_at_month; NaN when that
        is 0).
    """
    curve = pooled.set_index("month")
    month = int(min(horizon_months, curve.index.max()))
    ltv = float(curve.ltv[month])
    first = float(curve.ltv.get(0, NAN))
    return {
        "horizon_months": int(horizon_months),
        "ltv_month": month,
        "ltv_at_month": ltv,
        "ltv_cohorts": int(curve.cohorts[month]),
        "ltv_month0": first,
        "ltv_month0_share": first / ltv if ltv else NAN,
    }


def cac_summary(cac: LtvCac) -> dict:
    """LTV against CAC in numbers (glued as ``ret_cac_<key>``).

    Parameters
    ----------
    cac : LtvCac
        `ltv_cac`.

    Returns
    -------
    dict
        ltv_month, paid_channels (channels with a CAC), rated_channels (with an LTV/CAC too),
        below_one (of those, how many have not earned back their CAC by ltv_month), best /
        best_ratio and worst / worst_ratio (highest and lowest LTV/CAC; "" and NaN when no
        channel has one).

    Raises
    ------
    NotAvailable
        When the data has no costs table, or no channel has both spend and sign-ups in the
        months the costs cover.
    """
    table = cac.table
    if not cac.costs_available:
        raise NotAvailable("渠道花费表 costs（CAC = 渠道花费 / 同期注册人数）", "数据中没有 costs 表",
                           "按数据契约提供 costs 表（日期、utm_source、花费），放进数据目录后重新运行")
    if not table["cac"].notna().any():
        raise NotAvailable("至少一个在花费覆盖的月份里既有花费、又有注册用户的渠道",
                           f"{cac.note}，没有哪个渠道同时有花费和注册",
                           "检查 costs 表的 utm_source 是否和用户注册的 utm_source 用同一套写法"
                           "（dataset.yml 的渠道映射），以及花费的日期是否落在分析日之前")
    ratio = extremes(table, "ltv_cac", label="channel")
    rated = table["ltv_cac"].dropna()
    return {
        "ltv_month": int(table["ltv_month"].iloc[0]),
        "paid_channels": int(table["cac"].notna().sum()),
        "rated_channels": int(len(rated)),
        "below_one": int((rated < 1).sum()),
        "best": ratio["best"] or "",
        "best_ratio": _num(ratio["best_value"]),
        "worst": ratio["worst"] or "",
        "worst_ratio": _num(ratio["worst_value"]),
    }


def extremes(frame: pd.DataFrame, value: str, label: str = "group",
             min_users: int = 0, users: str | None = None) -> dict:
    """The rows with the highest and lowest `value` (ties: first label in order), skipping
    missing values and rows with fewer than `min_users` in column `users`.

    Parameters
    ----------
    frame : pandas.DataFrame
        The rows.
    value : str
        The column compared.
    label : str, default "group"
        The column that names a row.
    min_users : int, default 0
        Rows with fewer people are skipped.
    users : str or None, default None
        The column of people; None: no row is skipped for its size.

    Returns
    -------
    dict
        best, best_value, worst, worst_value (None when no row qualifies).
    """
    sub = frame.dropna(subset=[value])
    if users is not None:
        sub = sub[sub[users] >= min_users]
    if sub.empty:
        return {"best": None, "best_value": None, "worst": None, "worst_value": None}
    sub = sub.sort_values(label, kind="stable")
    hi = sub.loc[sub[value].idxmax()]
    lo = sub.loc[sub[value].idxmin()]
    return {"best": str(hi[label]), "best_value": float(hi[value]),
            "worst": str(lo[label]), "worst_value": float(lo[value])}

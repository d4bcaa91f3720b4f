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
contract event or investment, and a contract event name (``"app_open"``, ...) counts that
event only. In the lifecycle states and the survival curves, a user who holds a live
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

from growthloop.engine import require_exact_quantiles
from growthloop.marts.channels import with_channel
from growthloop.marts.events import checked, selector
from growthloop.marts.investments import investments
from growthloop.marts.wide import user_wide
from growthloop.staging.loader import Dataset

UNITS = ("day", "week", "month")
#: How the page names a unit (第 k 个月).
UNIT_LABELS = {"day": "日", "week": "周", "month": "月"}
MODES = ("on", "on_or_after")
COHORT_BY = ("signup", "first_investment")
INVESTMENT = "investment"
ANY = "any"
STATES = ("new", "active", "resurrected", "dormant", "churned")
STATE_LABELS = {"new": "新增 (new)", "active": "活跃 (active)",
                "resurrected": "回流 (resurrected)", "dormant": "沉睡 (dormant)",
                "churned": "流失 (churned)"}
ENTRY = "(entry)"
DORMANT_DAYS = 60
CHURN_DAYS = 180
FIRST_TERM = "first_term"
COHORT = "cohort"
ALL = "全部"
UNKNOWN = "未知"
NO_SEGMENT = "未分组"


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
    """The first day of the period (day, Monday week, month) that holds ``day``."""
    _check("unit", unit, UNITS)
    if unit == "day":
        return day
    if unit == "week":
        return day - dt.timedelta(days=day.weekday())
    return day.replace(day=1)


def add_periods(start: dt.date, k: int, unit: str) -> dt.date:
    """The period start ``k`` units after ``start``."""
    if unit == "day":
        return start + dt.timedelta(days=k)
    if unit == "week":
        return start + dt.timedelta(weeks=k)
    months = start.year * 12 + start.month - 1 + k
    return dt.date(months // 12, months % 12 + 1, 1)


def periods_between(start: dt.date, later: dt.date, unit: str) -> int:
    """Whole units from the period of ``start`` to the period of ``later``."""
    a, b = floor_date(start, unit), floor_date(later, unit)
    if unit == "month":
        return (b.year - a.year) * 12 + b.month - a.month
    days = (b - a).days
    return days if unit == "day" else days // 7


def is_complete(start: dt.date, unit: str, analysis_date: dt.date) -> bool:
    """Whether the period starting at ``start`` has ended by the end of ``analysis_date``."""
    return add_periods(start, 1, unit) <= analysis_date + dt.timedelta(days=1)


def periods_in(horizon_months: int, unit: str) -> int:
    """How many periods of ``unit`` cover ``horizon_months`` months (a heat map's columns)."""
    _check("unit", unit, UNITS)
    if horizon_months < 1:
        raise ValueError(f"horizon_months={horizon_months!r}: must be at least 1")
    if unit == "month":
        return int(horizon_months)
    if unit == "week":
        return int(math.ceil(horizon_months * 52 / 12))
    return int(math.ceil(horizon_months * 365 / 12))


# --------------------------------------------------------------------------- building blocks


def activity(ds: Dataset, event: str = INVESTMENT) -> ibis.Table:
    """(user_id, ts) of every activity up to the analysis date: investments, events or both."""
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
    """Term labels of ``first_term`` in term order: 活期, 1个月, 3个月, ..., then the rest."""
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
                     return_event: str = INVESTMENT, mode: str = "on", by: str | None = None,
                     segments: ibis.Table | None = None, max_period: int | None = None,
                     since: dt.date | str | None = None) -> pd.DataFrame:
    """Cohort retention matrix in long form, one row per cohort (and group) and period.

    cohort_by: ``signup`` (registered_at) or ``first_investment``. unit: day, week (Monday
    start) or month, natural Asia/Shanghai periods. return_event: ``investment``, ``any`` or a
    contract event name. mode ``on``: retained in period k = users active in period k;
    ``on_or_after`` (unbounded): users active in period k or any later period observed so far.
    Period 0 is the cohort's own period; only activity at or after the user's own sign-up or
    first investment counts. by: a breakdown (a wide-table column such as ``signup_channel`` or
    ``age_band``, ``first_term``, or a column of ``segments``, a table of user_id and ``by``).

    Columns: [group,] cohort (period start date), period, users, retained, rate, complete.
    Periods that have begun but not ended by the end of the analysis date have
    ``complete=False`` and missing retained and rate; periods not yet begun are not rows.
    """
    _check("cohort_by", cohort_by, COHORT_BY)
    _check("unit", unit, UNITS)
    _check("mode", mode, MODES)
    _check_event(ds, "return_event", return_event)
    if max_period is not None and max_period < 0:
        raise ValueError(f"max_period={max_period!r}: must be 0 or more")
    since = _as_date(since)
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
    sizes = got.loc[is_size, [*keys, "users"]].reset_index(drop=True)
    counts = got.loc[~is_size, [*keys, "period", "retained"]].reset_index(drop=True)
    return _retention_grid(sizes, counts, unit, mode, ds.analysis_date, max_period, by is not None)


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
                   return_event: str = INVESTMENT, mode: str = "on") -> pd.DataFrame:
    """``cohort_retention`` of the weekly cohorts of the last `weeks` weeks (Monday start), the
    analysis date's week included (still running)."""
    if not isinstance(weeks, int) or isinstance(weeks, bool) or weeks < 1:
        raise ValueError(f"weeks={weeks!r}: must be a whole number of weeks >= 1")
    return cohort_retention(ds, cohort_by=cohort_by, unit="week", return_event=return_event,
                            mode=mode, since=ds.analysis_date - dt.timedelta(weeks=weeks - 1))


def retention_matrix(table: pd.DataFrame, value: str = "rate") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(values, incomplete) cohort × period pivots of a ``cohort_retention`` result.

    Incomplete cells are NaN in ``values`` and True in ``incomplete``; cells of periods not
    yet begun are NaN in ``values`` and False in ``incomplete``.
    """
    if "group" in table.columns and table["group"].nunique() > 1:
        raise ValueError("retention_matrix: pass one group's rows (filter on group first)")
    values = table.pivot(index="cohort", columns="period", values=value).astype(float)
    incomplete = (~table.pivot(index="cohort", columns="period", values="complete")
                  .astype("boolean")).fillna(False).astype(bool)
    return values, incomplete


def pooled_curve(table: pd.DataFrame) -> pd.DataFrame:
    """Retention by period pooled over cohorts: retained / users of the cohorts complete at k.

    Columns: [group,] period, cohorts, users, retained, rate.
    """
    done = table[table["complete"]]
    keys = ["group", "period"] if "group" in table.columns else ["period"]
    out = done.groupby(keys, sort=True).agg(cohorts=("cohort", "nunique"), users=("users", "sum"),
                                            retained=("retained", "sum")).reset_index()
    out["retained"] = out["retained"].astype(int)
    out["rate"] = out["retained"] / out["users"]
    return out


def compare_latest(table: pd.DataFrame, period: int = 1) -> dict:
    """The two most recent cohorts whose period ``period`` is complete, and their rates there:
    "do this month's users stay better than last month's?". Pass one group's rows.

    Returns latest_cohort, latest_rate, previous_cohort, previous_rate, change (latest minus
    previous, in rate points); values are None where fewer than two cohorts qualify.
    """
    done = table[(table["period"] == period) & table["complete"]].sort_values("cohort")
    out = {"latest_cohort": None, "latest_rate": None, "previous_cohort": None,
           "previous_rate": None, "change": None}
    if len(done) >= 1:
        out["latest_cohort"] = str(done["cohort"].iloc[-1])
        out["latest_rate"] = float(done["rate"].iloc[-1])
    if len(done) >= 2:
        out["previous_cohort"] = str(done["cohort"].iloc[-2])
        out["previous_rate"] = float(done["rate"].iloc[-2])
        out["change"] = out["latest_rate"] - out["previous_rate"]
    return out


def cohort_summary(cohorts: pd.DataFrame, recent: pd.DataFrame | None = None) -> dict:
    """The cohort retention for the chapter's prose (glued as ``ret_<key>``).

    Parameters
    ----------
    cohorts
        ``cohort_retention`` (one group).
    recent
        ``recent_cohorts``, for the running cells of the weekly grid.

    Returns
    -------
    dict
        cohorts (how many), running_cells (cells of periods still running), p1_rate (the pooled
        rate of period 1 over the cohorts whose period 1 is complete), latest_cohort /
        latest_p1 and prev_cohort / prev_p1 (the two latest cohorts with period 1 complete and
        their rates, ``compare_latest``), p1_change_pp (latest minus previous, in percentage
        points), and with `recent` recent_running_cells; None where there is no such cohort.
    """
    pooled = pooled_curve(cohorts).set_index("period")
    latest = compare_latest(cohorts, period=1)
    out = {
        "cohorts": int(cohorts.cohort.nunique()),
        "running_cells": int((~cohorts.complete).sum()),
        "p1_rate": float(pooled.rate.get(1, float("nan"))),
        "latest_cohort": latest["latest_cohort"],
        "latest_p1": latest["latest_rate"],
        "prev_cohort": latest["previous_cohort"],
        "prev_p1": latest["previous_rate"],
        "p1_change_pp": None if latest["change"] is None else 100 * latest["change"],
    }
    if recent is not None:
        out["recent_running_cells"] = int((~recent.complete).sum())
    return out


# --------------------------------------------------------------------------- nth investment


def nth_investment(ds: Dataset, max_n: int = 5, by: str | None = None,
                   mature_days: int = 0) -> pd.DataFrame:
    """Retention by investment count: users with at least n investments, n = 1 .. max_n.

    rate_from_first = users(n) / users(1); rate_from_previous = users(n) / users(n-1) (of
    those who invested n-1 times, the share who invested again); median_days_from_previous is
    the median time between the (n-1)th and nth investment, in days. Investments at the same
    instant are ordered by txn_id. ``mature_days`` keeps only investors whose first investment
    is at least that many days before the end of the analysis date (time to come back).
    by: ``signup_channel``, ``first_term`` (the first product's term) or another breakdown.
    Columns: [group,] n, users, rate_from_first, rate_from_previous, median_days_from_previous.
    The median needs an engine whose exact median is DuckDB's (DuckDB, Spark, Postgres: see
    engine.require_exact_quantiles); elsewhere it raises NotImplementedError.
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
    ``churn_days``). Columns: user_id, period (start date), period_index, complete, state,
    prev_state (``(entry)`` in the first period), inactive_days.
    """
    _check("period", period, UNITS)
    _check_event(ds, "activity_event", activity_event)
    _check_thresholds(dormant_days, churn_days)
    since = _as_date(since)
    acts = _gapped(ds, activity_event, count_holdings)
    first = acts.aggregate(first=acts.ts.min()).to_pyarrow().to_pylist()[0]["first"]
    origin = floor_date(first.date() if first else ds.analysis_date, period)
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
    """Users per lifecycle state and period (see ``user_states``); every state in every period.

    Columns: period, state, users, complete. The last period may be running
    (``complete=False``): its states are as of the end of the analysis date.
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


def lifecycle_flows(ds: Dataset, period: str = "month", activity_event: str = INVESTMENT,
                    dormant_days: int = DORMANT_DAYS, churn_days: int = CHURN_DAYS,
                    count_holdings: bool = True,
                    since: dt.date | str | None = None) -> pd.DataFrame:
    """Users moving from each state at the end of the previous period to each state now.

    Columns: period, from_state, to_state, users, complete. ``from_state`` is ``(entry)`` for
    a user's first period.
    """
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

    With ``normalize`` each row is the share of the from-state's users (rows sum to 1).
    Entries (``(entry)``) are left out: they are the new users.
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
    """Users per state in the last period of ``lifecycle`` (as of the analysis date)."""
    last = counts[counts["period"] == counts["period"].max()]
    return {str(s): int(n) for s, n in zip(last["state"], last["users"], strict=True)}


def comeback_gaps(ds: Dataset, activity_event: str = INVESTMENT, count_holdings: bool = True,
                  days: Sequence[int] = (30, 60, 90, 180, 365)) -> pd.DataFrame:
    """How long users were away before they came back, to set the dormant and churn thresholds.

    For every activity after a user's first that follows at least one inactive day (no
    activity, no live holding), the whole inactive days before it. Columns: days,
    share_within (of those comebacks, the share after at most ``days`` inactive days),
    comebacks (their number).
    """
    acts = _gapped(ds, activity_event, count_holdings)
    backs = acts.filter(acts.prev_cover.notnull() & (acts.gap_before > 0))
    agg = backs.aggregate(comebacks=_.count(),
                          **{f"w{d}": (_.gap_before <= d).sum() for d in days})
    row = agg.to_pyarrow().to_pylist()[0]
    total = int(row["comebacks"])
    return pd.DataFrame({"days": list(days),
                         "share_within": [(row[f"w{d}"] or 0) / total if total else np.nan
                                          for d in days],
                         "comebacks": total})


def at_risk_users(ds: Dataset, activity_event: str = INVESTMENT,
                  dormant_days: int = DORMANT_DAYS, churn_days: int = CHURN_DAYS,
                  count_holdings: bool = True) -> ibis.Table:
    """Users dormant now (still recallable), as an engine expression for a private export.

    Dormant at the end of the analysis date: at least ``dormant_days`` and fewer than
    ``churn_days`` whole days without activity or a live holding. Columns: user_id,
    inactive_days, signup_channel, invest_count, invest_amount, last_invest_at; ordered by
    inactive_days (the most recently lapsed first, the easiest to recall), then user_id.
    Export it with ``Chapter.export``; never display it.
    """
    _check_event(ds, "activity_event", activity_event)
    _check_thresholds(dormant_days, churn_days)
    acts = _gapped(ds, activity_event, count_holdings)
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


def at_risk_count(ds: Dataset, activity_event: str = INVESTMENT,
                  dormant_days: int = DORMANT_DAYS, churn_days: int = CHURN_DAYS,
                  count_holdings: bool = True) -> int:
    """How many users are dormant now (the size of ``at_risk_users``)."""
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
    passed to lifelines as weights. by: a breakdown (``signup_channel``, ``cohort`` = month of
    the first investment, ``first_term``, ...). Columns: [group,] duration_days, event, users.
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

    Columns: [group,] day, survival, ci_lower, ci_upper, at_risk. The curve has a row at day
    0 (survival after the lifetimes of 0 days, e.g. users who never came back after the day of
    their first investment) and at every day with an event or a censoring.
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

    Columns: [group,] users, then ``s_<day>`` for each day, median_days. A day past a group's last
    observation is NaN (not known), unless the curve has already reached 0.
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
             days: Sequence[int] = (30, 90, 180), activity_event: str = INVESTMENT) -> Survival:
    """Kaplan-Meier survival of investors by `by` and overall, read off at `days`.

    ``survival_data`` -> ``kaplan_meier`` -> ``survival_at``, once per group and once for
    everyone (not an average of the groups).
    """
    days = tuple(days)
    curves = kaplan_meier(survival_data(ds, by=by, activity_event=activity_event,
                                        churn_days=churn_days))
    everyone = survival_data(ds, activity_event=activity_event, churn_days=churn_days)
    overall_curve = kaplan_meier(everyone)
    overall = survival_at(overall_curve, days) if len(overall_curve) else pd.DataFrame()
    at_days = survival_at(curves, days) if len(curves) else pd.DataFrame()
    return Survival(curves, at_days, overall, int(everyone.attrs["too_recent"]), days)


def survival_summary(result: Survival, min_users: int = 100) -> dict:
    """The survival for the chapter's prose (glued as ``ret_<key>``), numbers worded.

    surv_investors (investors old enough to judge), surv_too_recent, surv_text (the overall
    survival at each day the data can show: "30 天 63.3%，90 天 53.8%") and surv_channel_text
    (at the longest such day at which at least two groups with `min_users` investors can be
    compared, the best and the worst group; else a sentence saying there is none).
    """
    overall = result.overall.iloc[0] if len(result.overall) else None
    known = ([d for d in result.days if pd.notna(overall[f"s_{d}"])]
             if overall is not None else [])
    text = "，".join(f"{d} 天 {overall[f's_{d}']:.1%}" for d in known)
    channel_text = f"还没有两个以上的渠道有足够的投资者（至少 {min_users} 名）和观察期可以比较"
    for d in reversed(known):  # the longest day at which at least two groups can be compared
        by_day = extremes(result.at_days, f"s_{d}", min_users=min_users, users="users")
        if by_day["best"] is not None and by_day["best"] != by_day["worst"]:
            channel_text = (f"在至少 {min_users} 名投资者的渠道里，{d} 天留存最好的是 "
                            f"{by_day['best']} ({by_day['best_value']:.1%})，最差的是 "
                            f"{by_day['worst']} ({by_day['worst_value']:.1%})")
            break
    return {
        "surv_investors": int(overall.users) if overall is not None else 0,
        "surv_too_recent": result.too_recent,
        "surv_text": text or "数据的时间跨度还不够，读不出",
        "surv_channel_text": channel_text,
    }


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
    term). Months not ended by the end of the analysis date are ``complete=False`` with a
    missing LTV. Columns: [group,] cohort, month, users, cum_revenue, ltv, complete.
    """
    if not isinstance(horizon_months, int) or horizon_months < 1:
        raise ValueError(f"horizon_months={horizon_months!r}: must be a positive integer")
    base = _month_cohorts(ds, by)
    keys = ["group", "cohort"]
    sizes = _execute(base.group_by(keys).aggregate(users=_.count()), keys)
    inv = investments(ds)
    inv = inv.select(_t_uid=inv.user_id, _month=inv.txn_time.truncate("M").date(),
                     revenue=inv.revenue)
    joined = base.inner_join(inv, base.user_id == inv._t_uid)
    joined = joined.mutate(month=_period_index(joined._month, joined.cohort, "month"))
    joined = joined.filter(joined.month <= horizon_months)
    rev = _execute(joined.group_by([*keys, "month"]).aggregate(revenue=_.revenue.sum()),
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
    values over a changing set of cohorts would). Columns: [group,] month, cohorts, users, ltv
    (users: those of the cohorts that reached month m).
    """
    cohorts = ltv_cohorts(ds, by, horizon_months)
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
    """LTV at ``horizon_months`` against CAC per sign-up channel.

    CAC = the channel's spend (costs mapped to channels through utm_source) / its sign-ups,
    both over the months that have cost data (up to the analysis date). LTV is
    ``ltv_curves`` at the horizon (or, if no sign-up month has reached the horizon yet, the
    longest month any has reached; ``ltv_month`` says which, and a channel that has not reached
    it has a missing LTV). Channels without spend
    (organic, referral, untagged) have a missing CAC, not a zero one.
    Columns: channel, signups, spend, cac, ltv_month, ltv, ltv_cac.
    """
    curves = ltv_curves(ds, "signup_channel", horizon_months)
    if curves.empty:
        month = 0
    else:
        reached = curves.groupby("group")["month"].max()
        month = int(min(horizon_months, reached.max()))
    at = curves[curves["month"] == month].set_index("group")["ltv"]
    wide = user_wide(ds)
    if not ds.has("costs"):
        signups = _execute(wide.group_by(channel=wide.signup_channel).aggregate(signups=_.count()),
                           ["channel"])
        table = signups.assign(spend=np.nan, cac=np.nan)
        note = "数据中没有 costs 表 (no costs table)，CAC 与 LTV/CAC 无法计算"
        available = False
    else:
        costs = ds.costs.filter(ds.costs.date <= ds.analysis_date)
        costs = with_channel(costs, "utm_source", ds.config.channels)
        costs = costs.mutate(month=costs.date.truncate("M"))
        spend = _execute(costs.group_by("channel").aggregate(spend=_.spend.sum()), ["channel"])
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
        note = (f"spend from {span['lo']:%Y-%m} to {span['hi']:%Y-%m}" if span["lo"] is not None
                else "the costs table has no rows up to the analysis date")
        available = True
    table["ltv_month"] = month
    table["ltv"] = table["channel"].map(at).astype(float)
    table["ltv_cac"] = table["ltv"] / table["cac"]
    table = table.sort_values("channel").reset_index(drop=True)
    cols = ["channel", "signups", "spend", "cac", "ltv_month", "ltv", "ltv_cac"]
    return LtvCac(table[cols], horizon_months, available, note)


# --------------------------------------------------------------------------- headline numbers


def _num(value) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def nth_summary(nth: pd.DataFrame, by_term: pd.DataFrame | None = None,
                min_users: int = 30) -> dict:
    """First to fifth investment for the chapter's prose (glued as ``ret_<key>``).

    Parameters
    ----------
    nth
        ``nth_investment`` without breakdown.
    by_term
        ``nth_investment(by="first_term")``, for the second-investment rate per first term.
    min_users
        A term needs this many first investors to be named best or worst.

    Returns
    -------
    dict
        first_investors, second_rate and fifth_rate (shares of first investors reaching the
        2nd / 5th investment; None beyond the table), weakest_n and weakest_rate (the step
        with the lowest rate from the previous one), second_gap_days (median days from the
        first to the second), and with `by_term` best_term / best_term_rate and worst_term /
        worst_term_rate (second-investment rate from the first, ``extremes``).
    """
    t = nth.set_index("n")
    steps = t["rate_from_previous"].dropna()
    weakest = int(steps.idxmin()) if len(steps) else None
    out = {
        "first_investors": int(t["users"].get(1, 0)),
        "second_rate": _num(t["rate_from_first"].get(2)),
        "fifth_rate": _num(t["rate_from_first"].get(5)),
        "weakest_n": weakest,
        "weakest_rate": _num(steps.get(weakest)) if weakest else None,
        "second_gap_days": _num(t["median_days_from_previous"].get(2)),
    }
    if by_term is not None:
        second = extremes(by_term[by_term.n == 2], "rate_from_previous", min_users=min_users,
                          users="users")
        out.update(best_term=second["best"], best_term_rate=second["best_value"],
                   worst_term=second["worst"], worst_term_rate=second["worst_value"])
    return out


def lifecycle_summary(counts: pd.DataFrame, flows: pd.DataFrame,
                      gaps: pd.DataFrame | None = None, within: Sequence[int] = (60, 180)) -> dict:
    """The lifecycle for the chapter's prose (glued as ``ret_<key>``).

    Parameters
    ----------
    counts, flows
        ``lifecycle`` and ``lifecycle_flows``.
    gaps
        ``comeback_gaps``, for the share of comebacks within each of `within` days.

    Returns
    -------
    dict
        state_period (the last period), active_base_now (new + active + resurrected now),
        dormant_now, churned_now; over the complete periods the monthly shares of dormant users
        who came back (dormant_back) and who went on to churn (dormant_churn); with `gaps`,
        comeback_<d> for each d of `within` (NaN when `gaps` has no such row).
    """
    now = states_now(counts)
    mat = transition_matrix(flows)
    dormant = mat.loc["dormant"] if "dormant" in mat.index else pd.Series(dtype=float)
    out = {
        "state_period": str(counts["period"].max()),
        "active_base_now": now.get("new", 0) + now.get("active", 0) + now.get("resurrected", 0),
        "dormant_now": now.get("dormant", 0),
        "churned_now": now.get("churned", 0),
        "dormant_back": _num(dormant.get("resurrected")),
        "dormant_churn": _num(dormant.get("churned")),
    }
    if gaps is not None:
        share = gaps.set_index("days").share_within
        out.update({f"comeback_{d}": float(share.get(d, float("nan"))) for d in within})
    return out


def ltv_summary(cac: LtvCac, pooled: pd.DataFrame) -> dict:
    """LTV and CAC for the chapter's prose (glued as ``ret_<key>``), numbers worded.

    Parameters
    ----------
    cac
        ``ltv_cac``.
    pooled
        ``ltv_curves(by=None)`` (month, ltv).

    Returns
    -------
    dict
        costs_available (有 or 没有, as the prose says it), ltv_month (the month the LTV is
        read at, 0 without sign-ups), ltv_at_month (the pooled LTV per registered user then,
        yuan) and ltv_cac_text (the channels with the highest and lowest LTV/CAC, or why it
        cannot be computed).
    """
    month = int(cac.table.ltv_month.iloc[0]) if len(cac.table) else 0
    ltv = pooled.set_index("month").ltv if len(pooled) else pd.Series(dtype=float)
    ratio = extremes(cac.table, "ltv_cac", label="channel")
    if ratio["best"] is not None:
        text = (f"LTV/CAC 最高的渠道是 {ratio['best']} ({ratio['best_value']:.2f})，"
                f"最低的是 {ratio['worst']} ({ratio['worst_value']:.2f})")
    else:
        text = f"LTV/CAC 无法计算 (not available)：{cac.note}"
    return {
        "costs_available": "有" if cac.costs_available else "没有",
        "ltv_month": month,
        "ltv_at_month": float(ltv.get(month, float("nan"))),
        "ltv_cac_text": text,
    }


def extremes(frame: pd.DataFrame, value: str, label: str = "group",
             min_users: int = 0, users: str | None = None) -> dict:
    """The rows with the highest and lowest ``value`` (ties: first label in order), skipping
    missing values and rows with fewer than ``min_users`` in column ``users``."""
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

"""Period over period (环比) and year over year (同比) beside a headline metric.

A reader of PostHog, Mixpanel or 神策 expects "this month against last month" and "against the
same month a year earlier" next to a number. `period_change` counts a metric per natural period
in the engine and compares the latest complete period with the one before and the one a year
earlier; `registrations`, `first_investors` and `investment_amount` are the book's usual
headline metrics in one call each. The words are in `growthloop.present.findings.period`.

Calendar
--------
Timestamps are naive local time of the dataset's zone (Asia/Shanghai by default; the loader
converts a zoned value, so 2026-03-31T15:30:00Z is stored as 2026-03-31 23:30 and belongs to
March). Periods are cut as everywhere in the book (`growthloop.metrics.retention.floor_date`,
`add_periods`): a month is a natural month, a week an ISO week, Monday to Sunday. A period
[start, next start) is counted in the engine by comparing the column with those two bounds, so
nothing is converted to UTC and every engine cuts the same days.

Which period
------------
The period shown is the last complete one ending on or before the analysis date: the period that
holds the analysis date is complete only when the analysis date is its last day (the month's
last day, a Sunday); otherwise it is still running and the one before it is shown
(`retention.is_complete`). Analysis date 2026-05-31: May; 2026-05-30: April.

Comparisons
-----------
* 环比 (``prev_*``): the period just before (April for May; the week before).
* 同比 (``yoy_*``): the same month a year earlier (2025-05 for 2026-05); for a week, the week of
  the same ISO week number in the previous ISO year (2026-W18 against 2025-W18). Week 53 exists
  in some ISO years only (2026 has one, 2025 has not): 2026-W53 has no 同比.
* change = value / earlier value - 1, NaN when the earlier value is 0.
* Coverage. A period is covered when the data starts on or before its first day. The data's
  start is the first day with a row (`data_start`: passed in, else the first day of
  `time_column` in the table given; the wrappers take the first day of the table the metric
  comes from). A period before it is not covered: its value is NaN, never 0 (the platform
  may have had sign-ups then; the export just does not hold them), and its ``*_why_not`` says
  so. A period that is covered but has no rows is 0.
* ``*_why_not`` is "" when the change is given, otherwise a Chinese reason: not covered, no
  such week, or an earlier value of 0. So a change is NaN exactly when its why_not is set.

The period shown must itself be covered: when the data starts after its first day, or the
table is empty and no data_start is given, `period_change` raises
`growthloop.errors.NotAvailable`.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import ibis
import pandas as pd

from growthloop.engine import money_sum
from growthloop.errors import NotAvailable
from growthloop.marts.investments import investments
from growthloop.marts.wide import user_wide
from growthloop.metrics.retention import add_periods, floor_date, is_complete
from growthloop.staging.loader import Dataset

PERIODS: tuple[str, ...] = ("month", "week")
#: rows: count of rows; users: distinct values of `column` (user_id by default); sum: sum of it.
MEASURES: tuple[str, ...] = ("rows", "users", "sum")
#: How a sentence names the period before and the one a year earlier.
PREVIOUS_NAMES = {"month": "上月", "week": "上周"}
YEAR_AGO_NAMES = {"month": "去年同月", "week": "去年同周"}
UNIT_NAMES = {"month": "月", "week": "周"}
NAN = float("nan")


#: How a reason starts when the data does not reach back far enough (`said_once` finds it).
DATA_START = "数据始于 {begin}，"


def said_once(reasons: list[str]) -> list[str]:
    """`reasons` in order, the data's first day (DATA_START) said only by the first that has it.

    Parameters
    ----------
    reasons : list of str
        Why comparisons are missing (`PeriodChange.prev_why_not`, `yoy_why_not`), in the order
        they are shown.

    Returns
    -------
    list of str
        The same reasons; after the first, one that opens with the same data start drops it.

    Examples
    --------
    >>> said_once(["数据始于 2026-01-20，不含完整的上月（2026-01），无环比",
    ...            "数据始于 2026-01-20，不含完整的去年同月（2025-02），无同比"])
    ['数据始于 2026-01-20，不含完整的上月（2026-01），无环比', '不含完整的去年同月（2025-02），无同比']
    """
    opening = DATA_START.split("{")[0]
    out, said = [], set()
    for reason in reasons:
        clause = reason.split("，", 1)[0] + "，" if reason.startswith(opening) else ""
        if clause and clause in said:
            reason = reason[len(clause):]
        said.add(clause)
        out.append(reason)
    return out


def _check(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name}={value!r}: allowed values are {list(allowed)}")


def _as_date(value: dt.date | dt.datetime | str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def last_complete(analysis_date: dt.date, period: str) -> dt.date:
    """The first day of the last complete period ending on or before the analysis date.

    The period holding the analysis date counts only when the analysis date is its last day.

    Parameters
    ----------
    analysis_date : datetime.date
        The analysis date (its day counts as ended).
    period : {"month", "week"}
        Natural month or ISO week (Monday to Sunday).

    Returns
    -------
    datetime.date
        The period's first day (a month's 1st, a Monday).

    Raises
    ------
    ValueError
        For a bad `period`.

    Examples
    --------
    >>> last_complete(dt.date(2026, 5, 31), "month"), last_complete(dt.date(2026, 5, 30), "month")
    (datetime.date(2026, 5, 1), datetime.date(2026, 4, 1))
    >>> last_complete(dt.date(2026, 5, 10), "week")  # a Sunday: its own week
    datetime.date(2026, 5, 4)
    """
    _check("period", period, PERIODS)
    start = floor_date(analysis_date, period)
    return start if is_complete(start, period, analysis_date) else add_periods(start, -1, period)


def period_label(start: dt.date, period: str) -> str:
    """The short label of a period: "2026-05" for a month, the ISO "2026-W18" for a week.

    Parameters
    ----------
    start : datetime.date
        The period's first day (any day of it works).
    period : {"month", "week"}
        The period.

    Returns
    -------
    str
        The label; a week takes its ISO year, so 2025-12-29 starts "2026-W01".

    Examples
    --------
    >>> period_label(dt.date(2026, 5, 1), "month"), period_label(dt.date(2025, 12, 29), "week")
    ('2026-05', '2026-W01')
    """
    _check("period", period, PERIODS)
    if period == "month":
        return f"{start.year:04d}-{start.month:02d}"
    year, week, _ = start.isocalendar()
    return f"{year:04d}-W{week:02d}"


def year_ago(start: dt.date, period: str) -> dt.date | None:
    """The first day of the same period a year earlier.

    Parameters
    ----------
    start : datetime.date
        The period's first day.
    period : {"month", "week"}
        The period.

    Returns
    -------
    datetime.date or None
        The same month of the year before; for a week, the Monday of the same ISO week number
        in the previous ISO year, None for week 53 when that year has 52 weeks.

    Examples
    --------
    >>> year_ago(dt.date(2026, 1, 1), "month"), year_ago(dt.date(2025, 12, 29), "week")
    (datetime.date(2025, 1, 1), datetime.date(2024, 12, 30))
    >>> year_ago(dt.date(2026, 12, 28), "week") is None  # 2026-W53; 2025 has 52 weeks
    True
    """
    _check("period", period, PERIODS)
    if period == "month":
        return add_periods(start, -12, "month")
    year, week, _ = start.isocalendar()
    try:
        return dt.date.fromisocalendar(year - 1, week, 1)
    except ValueError:
        return None


@dataclass(frozen=True)
class PeriodChange:
    """A metric in its latest complete period, with 环比 and 同比 (see the module docstring).

    Attributes
    ----------
    period : str
        "month" or "week".
    measure : str
        "rows", "users" or "sum".
    label : str
        The period shown ("2026-05", "2026-W18").
    start, end : datetime.date
        Its first and last day (both included).
    value : int or float
        The metric in it: an int for rows and users, a float for a sum.
    prev_label : str
        The period before.
    prev_value : int or float
        Its value; NaN when the data does not cover it.
    prev_change : float
        环比: value / prev_value - 1; NaN when not covered or prev_value is 0.
    prev_why_not : str
        "" when prev_change is given, else why not (Chinese).
    yoy_label : str
        The same period a year earlier ("" for a week 53 without one).
    yoy_value : int or float
        Its value; NaN when there is no such period or the data does not cover it.
    yoy_change : float
        同比: value / yoy_value - 1; NaN as prev_change.
    yoy_why_not : str
        "" when yoy_change is given, else why not (Chinese).
    data_start : datetime.date
        The first day of the data, which decides coverage.
    """

    period: str
    measure: str
    label: str
    start: dt.date
    end: dt.date
    value: int | float
    prev_label: str
    prev_value: int | float
    prev_change: float
    prev_why_not: str
    yoy_label: str
    yoy_value: int | float
    yoy_change: float
    yoy_why_not: str
    data_start: dt.date

    def to_dict(self) -> dict[str, int | float | str]:
        """The fields as plain Python numbers and text, for `growthloop.book.glue_all`.

        Returns
        -------
        dict of str to int, float or str
            Every field; the dates as ISO text ("2026-05-01").
        """
        out: dict[str, int | float | str] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            out[name] = value.isoformat() if isinstance(value, dt.date) else value
        return out


def _bound(column: ibis.Value, day: dt.date) -> ibis.Value:
    """The literal for midnight starting `day`, typed like the column (a date or a timestamp)."""
    if column.type().is_date():
        return ibis.literal(day)
    return ibis.literal(dt.datetime.combine(day, dt.time()))


def _metric(table: ibis.Table, measure: str, column: str | None, where: ibis.BooleanValue) -> ibis.Value:
    if measure == "rows":
        return table.count(where=where)
    if measure == "users":
        return table[column].nunique(where=where)
    return money_sum(table[column], where=where)  # "sum" is of money (amount, spend ...)


def _change(value: float, earlier: float) -> float:
    if math.isnan(earlier) or earlier == 0:
        return NAN
    return float(value / earlier - 1)


def period_change(table: ibis.Table, time_column: str, analysis_date: dt.date | str, *,
                  period: str = "month", measure: str = "rows", column: str | None = None,
                  data_start: dt.date | str | None = None) -> PeriodChange:
    """A metric in the last complete natural period, against the period before and a year before.

    The three periods are counted in one query in the engine; only three numbers (and the
    data's first day when `data_start` is not given) come back.

    Parameters
    ----------
    table : ibis.Table
        The rows to count, already restricted to what is counted (successful investments, one
        channel's sign-ups ...).
    time_column : str
        The timestamp (naive local time) or date column that places a row in a period.
    analysis_date : datetime.date or str
        The analysis date (``ds.analysis_date``); a period ending on it is complete.
    period : {"month", "week"}, default "month"
        Natural months, or ISO weeks Monday to Sunday.
    measure : {"rows", "users", "sum"}, default "rows"
        Count the rows, count distinct values of `column`, or sum `column`.
    column : str, optional
        For "users", the id column (default "user_id"); for "sum", the column summed (required).
    data_start : datetime.date or str, optional
        The first day the data covers. Default: the first day of `time_column` in `table`;
        pass it when `table` is a filtered part of the data (a rare event, one channel), whose
        first row can be later than the data's start.

    Returns
    -------
    PeriodChange
        label, start, end, value, prev_* (环比), yoy_* (同比), data_start; numbers are plain
        Python ints and floats.

    Raises
    ------
    ValueError
        For a bad `period` or `measure`, or "sum" without `column`.
    NotAvailable
        When the latest complete period is not covered: the data starts after its first day,
        or `table` has no rows and no `data_start` is given.
    """
    _check("period", period, PERIODS)
    _check("measure", measure, MEASURES)
    if measure == "sum" and column is None:
        raise ValueError("measure='sum' needs column: the column to sum (amount, spend ...)")
    if measure == "users" and column is None:
        column = "user_id"
    analysis_date = _as_date(analysis_date)
    start = last_complete(analysis_date, period)
    prev = add_periods(start, -1, period)
    ago = year_ago(start, period)
    starts = {"cur": start, "prev": prev, "yoy": ago}

    col = table[time_column]
    aggs: dict[str, ibis.Value] = {}
    for key, first in starts.items():
        if first is not None:
            inside = (col >= _bound(col, first)) & (col < _bound(col, add_periods(first, 1, period)))
            aggs[key] = _metric(table, measure, column, inside)
    if data_start is None:
        aggs["first"] = col.min()
    row = table.aggregate(**aggs).to_pyarrow().to_pylist()[0]

    what = UNIT_NAMES[period]
    label = period_label(start, period)
    if data_start is None:
        if row["first"] is None:
            raise NotAvailable(f"至少一个完整的自然{what}的记录", f"{time_column} 没有任何记录",
                               "检查数据是否覆盖分析日之前的时间")
        data_start = row["first"]
    begin = _as_date(data_start)
    if begin > start:
        raise NotAvailable(f"至少一个完整的自然{what}的记录（{label}）",
                           f"数据始于 {begin}，截至分析日 {analysis_date} 最近一个完整的自然{what} "
                           f"{label} 始于 {start}，没有完整数据",
                           f"提供更早的数据，或把分析日设在 {begin} 之后某个完整自然{what}的最后一天")

    def number(key: str) -> int | float:
        raw = row.get(key)
        if measure == "sum":
            return float(raw) if raw is not None else 0.0
        return int(raw) if raw is not None else 0

    value = number("cur")
    out: dict[str, Any] = {}
    for key, first, name in (("prev", prev, PREVIOUS_NAMES[period]),
                             ("yoy", ago, YEAR_AGO_NAMES[period])):
        kind = "环比" if key == "prev" else "同比"
        if first is None:
            out.update({f"{key}_label": "", f"{key}_value": NAN, f"{key}_change": NAN,
                        f"{key}_why_not": f"{start.isocalendar()[0] - 1} 年没有第 53 周，无{kind}"})
            continue
        flabel = period_label(first, period)
        if begin > first:
            earlier, why = NAN, DATA_START.format(begin=begin) + f"不含完整的{name}（{flabel}），无{kind}"
        else:
            earlier = number(key)
            why = "" if earlier != 0 else f"{name}（{flabel}）为 0，无法计算{kind}"
        out.update({f"{key}_label": flabel, f"{key}_value": earlier,
                    f"{key}_change": _change(value, earlier), f"{key}_why_not": why})
    return PeriodChange(period=period, measure=measure, label=label, start=start,
                        end=add_periods(start, 1, period) - dt.timedelta(days=1), value=value,
                        data_start=begin, **out)


# --------------------------------------------------------------------------- the book's metrics


def first_day(ds: Dataset, table: str, time_column: str) -> dt.date | None:
    """The first day with a row of a contract table (computed once per dataset).

    Parameters
    ----------
    ds : Dataset
        The dataset.
    table : str
        A contract table ("users", "transactions" ...).
    time_column : str
        Its timestamp or date column.

    Returns
    -------
    datetime.date or None
        None when the column has no value.
    """
    def build() -> dt.date | None:
        t = getattr(ds, table)
        first = t.aggregate(first=t[time_column].min()).to_pyarrow().to_pylist()[0]["first"]
        return None if first is None else _as_date(first)

    return ds.memo(f"period.first_day:{table}.{time_column}", build)


def _start_or_stop(ds: Dataset, table: str, time_column: str, need: str) -> dt.date:
    first = first_day(ds, table, time_column)
    if first is None:
        raise NotAvailable(need, f"{table} 表没有任何记录", f"提供 {table} 表")
    return first


def registrations(ds: Dataset, period: str = "month") -> PeriodChange:
    """New registrations (新注册用户) per natural period, with 环比 and 同比.

    Users of the users table counted in the period of their ``registered_at``; coverage starts
    on the users table's first sign-up day.

    Parameters
    ----------
    ds : Dataset
        The dataset.
    period : {"month", "week"}, default "month"
        The period.

    Returns
    -------
    PeriodChange
        measure "users" (distinct user_id).

    Raises
    ------
    NotAvailable
        When the data does not cover the latest complete period.
    """
    begin = _start_or_stop(ds, "users", "registered_at", "注册用户")
    return period_change(ds.users, "registered_at", ds.analysis_date, period=period,
                         measure="users", column="user_id", data_start=begin)


def first_investors(ds: Dataset, period: str = "month") -> PeriodChange:
    """New first investors (首投用户) per natural period, with 环比 and 同比.

    Registered users counted in the period of their first successful investment (the wide
    table's ``first_invest_at``, the book's one rule); coverage starts on the first day of the
    (clean, successful) transactions table: a period that began before it is not covered,
    however few first investments it shows.

    Parameters
    ----------
    ds : Dataset
        The dataset.
    period : {"month", "week"}, default "month"
        The period.

    Returns
    -------
    PeriodChange
        measure "users" (distinct user_id).

    Raises
    ------
    NotAvailable
        When the data does not cover the latest complete period.
    """
    begin = _start_or_stop(ds, "transactions", "txn_time", "投资记录")
    wide = user_wide(ds).select("user_id", "first_invest_at")
    return period_change(wide, "first_invest_at", ds.analysis_date, period=period,
                         measure="users", column="user_id", data_start=begin)


def investment_amount(ds: Dataset, period: str = "month") -> PeriodChange:
    """Successful investment amount (投资额, yuan) per natural period, with 环比 and 同比.

    The investments mart (successful investments) summed by the period of ``txn_time``;
    coverage starts on the first day of the (clean, successful) transactions table.

    Parameters
    ----------
    ds : Dataset
        The dataset.
    period : {"month", "week"}, default "month"
        The period.

    Returns
    -------
    PeriodChange
        measure "sum" of amount (a float, yuan).

    Raises
    ------
    NotAvailable
        When the data does not cover the latest complete period.
    """
    begin = _start_or_stop(ds, "transactions", "txn_time", "投资记录")
    return period_change(investments(ds), "txn_time", ds.analysis_date, period=period,
                         measure="sum", column="amount", data_start=begin)


#: The book's headline metrics with a period comparison: key -> (name shown, wrapper).
HEADLINE_METRICS: dict[str, tuple[str, Any]] = {
    "registrations": ("新注册用户", registrations),
    "first_investors": ("新首投用户", first_investors),
    "investment_amount": ("投资额 (元)", investment_amount),
}


@dataclass
class HeadlineChanges:
    """The headline metrics per period (`headline_changes`): what was compared, what could not be.

    Attributes
    ----------
    changes : dict of (str, str) to PeriodChange
        By (metric key, period), in HEADLINE_METRICS then `periods` order.
    missing : dict of (str, str) to NotAvailable
        The pairs whose latest complete period the data does not cover, with why.
    """

    changes: dict[tuple[str, str], PeriodChange]
    missing: dict[tuple[str, str], NotAvailable]

    def glue_values(self) -> dict[str, int | float | str]:
        """The numbers a chapter glues: ``<metric>_<period>_value``, ``_prev_change``,
        ``_yoy_change`` and ``_label`` for each pair compared (plain Python values).

        Returns
        -------
        dict of str to int, float or str
            E.g. ``registrations_month_prev_change``; a change is NaN when it is missing.
        """
        out: dict[str, int | float | str] = {}
        for (key, period), c in self.changes.items():
            plain = c.to_dict()
            for field in ("label", "value", "prev_change", "yoy_change"):
                out[f"{key}_{period}_{field}"] = plain[field]
        return out

    def table(self) -> pd.DataFrame:
        """One row per metric and period: the book's table of 环比 and 同比.

        Returns
        -------
        pandas.DataFrame
            Columns measure (the metric's name), current_period (the period shown: 2026-06 for a
            month, 2026-W26 for a week), value, prev_value, prev_change (环比), yoy_value,
            yoy_change (同比) and note (why a comparison is missing; "" when both are given); a
            missing pair is a row with only its note.
        """
        rows = []
        for (key, _period), c in self.changes.items():
            why = "；".join(said_once([w for w in (c.prev_why_not, c.yoy_why_not) if w]))
            rows.append(dict(measure=HEADLINE_METRICS[key][0], current_period=c.label,
                             value=float(c.value), prev_value=float(c.prev_value),
                             prev_change=c.prev_change, yoy_value=float(c.yoy_value),
                             yoy_change=c.yoy_change, note=why))
        for (key, period), err in self.missing.items():
            rows.append(dict(measure=HEADLINE_METRICS[key][0], current_period="",
                             value=NAN, prev_value=NAN, prev_change=NAN, yoy_value=NAN, yoy_change=NAN,
                             note=f"数据不覆盖最近一个完整的{UNIT_NAMES[period]}：{err.missing}"))
        return pd.DataFrame(rows, columns=["measure", "current_period", "value", "prev_value",
                                           "prev_change", "yoy_value", "yoy_change", "note"])


def headline_changes(ds: Dataset, periods: tuple[str, ...] = PERIODS) -> HeadlineChanges:
    """环比 and 同比 of every headline metric (HEADLINE_METRICS) for each period.

    Parameters
    ----------
    ds : Dataset
        The dataset.
    periods : tuple of str, default ("month", "week")
        The periods, in order.

    Returns
    -------
    HeadlineChanges
        The comparisons, and the metrics the data cannot compare (a table missing, or data
        that does not cover the latest complete period) with the reason.
    """
    for p in periods:
        _check("period", p, PERIODS)
    changes: dict[tuple[str, str], PeriodChange] = {}
    missing: dict[tuple[str, str], NotAvailable] = {}
    for key, (_name, wrapper) in HEADLINE_METRICS.items():
        for p in periods:
            try:
                changes[(key, p)] = wrapper(ds, p)
            except NotAvailable as err:
                missing[(key, p)] = err
    return HeadlineChanges(changes, missing)

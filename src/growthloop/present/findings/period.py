"""环比 and 同比 in words: one sentence for a headline metric of `growthloop.metrics.period`.

The metric module computes the numbers and says in ``*_why_not`` why a comparison is missing;
this module words them for a reader: "2026 年 5 月新注册 1,234 人，环比 +12.3%，同比 -4.0%". It
lives in the presentation layer because it uses the book's number formats (`units.yuan`,
`plain_count`), which the metrics layer may not import.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable

from growthloop.metrics.period import HeadlineChanges, PeriodChange, said_once
from growthloop.present.findings import plain_count
from growthloop.present.units import yuan

#: A change whose percentage rounds to 0.0% is worded as 持平 (flat), not "+0.0%" or "-0.0%".
FLAT = 0.0005


def _day(day: dt.date, year: bool) -> str:
    return (f"{day.year} 年 " if year else "") + f"{day.month} 月 {day.day} 日"


def period_name(start: dt.date, period: str) -> str:
    """How a sentence names a period: 2026 年 5 月, 2026 年第 18 周（5 月 4 日至 5 月 10 日）.

    Parameters
    ----------
    start : datetime.date
        The period's first day (a month's 1st, a Monday).
    period : {"month", "week"}
        The period.

    Returns
    -------
    str
        The name; a week is named by its ISO year and number, with its days (their years too
        when the week spans two years).

    Examples
    --------
    >>> period_name(dt.date(2026, 5, 1), "month")
    '2026 年 5 月'
    >>> period_name(dt.date(2025, 12, 29), "week")
    '2026 年第 1 周（2025 年 12 月 29 日至 2026 年 1 月 4 日）'
    """
    if period == "month":
        return f"{start.year} 年 {start.month} 月"
    year, week, _ = start.isocalendar()
    end = start + dt.timedelta(days=6)
    both = start.year != end.year
    return f"{year} 年第 {week} 周（{_day(start, both)}至 {_day(end, both)}）"


def change_word(kind: str, change: float, why_not: str) -> str:
    """One comparison in words: 环比 +12.3%, 环比持平, or the reason it is missing.

    Parameters
    ----------
    kind : str
        环比 or 同比.
    change : float
        The relative change (0.123 is +12.3%); NaN when there is none.
    why_not : str
        Why there is none ("" when there is one).

    Returns
    -------
    str
        The words.

    Examples
    --------
    >>> change_word("环比", 0.1234, ""), change_word("同比", -0.04, ""), change_word("环比", 0.0001, "")
    ('环比 +12.3%', '同比 -4.0%', '环比持平')
    >>> change_word("环比", float("nan"), "上月（2026-04）为 0，无法计算环比")
    '上月（2026-04）为 0，无法计算环比'
    """
    if why_not or change is None or math.isnan(change):
        return why_not or f"无{kind}"
    if abs(change) < FLAT:
        return f"{kind}持平"
    return f"{kind} {change:+.1%}"


def change_text(c: PeriodChange, what: str = "", fmt: Callable[[float], str] | None = None,
                unit: str | None = None) -> str:
    """A headline metric with its 环比 and 同比 in one sentence (no final full stop).

    Parameters
    ----------
    c : PeriodChange
        `growthloop.metrics.period.period_change` (or a wrapper such as `registrations`).
    what : str, default ""
        What is counted, written right after the period (新注册, 首投用户, 投资额).
    fmt : callable, optional
        Formats the value. Default: `units.yuan` for a sum (money: 1.2万元), `plain_count`
        (1,234) for counts; a chapter passes ``ch.cell_label`` for counts of people, so a small
        count reads "<10" as in its tables.
    unit : str, optional
        Written after the value. Default: 人 for distinct users, "" otherwise (yuan carries 元).

    Returns
    -------
    str
        E.g. "2026 年 5 月新注册 1,234 人，环比 +12.3%，同比 -4.0%", or with the reason a
        comparison is missing in its place.
    """
    if fmt is None:
        fmt = yuan if c.measure == "sum" else plain_count
    if unit is None:
        unit = "人" if c.measure == "users" else ""
    value = fmt(c.value) + (f" {unit}" if unit else "")
    prev, yoy = said_once([change_word("环比", c.prev_change, c.prev_why_not),
                           change_word("同比", c.yoy_change, c.yoy_why_not)])
    return f"{period_name(c.start, c.period)}{what} {value}，{prev}，{yoy}"


#: A 环比 change beyond this (either way) is worth an action.
NOTABLE_CHANGE = 0.10


def headline_changes(h: HeadlineChanges, fmt: Callable[[float], str] | None = None) -> tuple[str, str]:
    """The finding and the action of the book's 环比 / 同比 section (`metrics.period.headline_changes`).

    Parameters
    ----------
    h : HeadlineChanges
        The comparisons.
    fmt : callable, optional
        Formats a count of people (``ch.cell_label``).

    Returns
    -------
    tuple of str
        (finding, action). The finding gives each metric's latest complete month (the week when
        no month is covered) with its 环比 and 同比; the action follows the largest 环比 move of
        new registrations or first investors beyond NOTABLE_CHANGE, and asks for a longer export
        when no 同比 could be computed.
    """
    names = {"registrations": "新注册", "first_investors": "新首投", "investment_amount": "投资额"}
    parts, shown = [], []
    for key, what in names.items():
        c = h.changes.get((key, "month")) or h.changes.get((key, "week"))
        if c is None:
            continue
        shown.append((key, c))
        parts.append(change_text(c, what, fmt=None if c.measure == "sum" else fmt))
    if not parts:
        return ("数据不覆盖任何一个完整的月或周，无法计算环比和同比。",
                "导出至少两个完整自然月的注册与投资记录后重跑本章。")
    finding = "；".join(parts) + "。"
    moves = [(abs(c.prev_change), key, c) for key, c in shown
             if key != "investment_amount" and not math.isnan(c.prev_change)
             and abs(c.prev_change) >= NOTABLE_CHANGE]
    if moves:
        _size, key, c = max(moves, key=lambda m: (m[0], m[1]))
        what = names[key]
        if c.prev_change < 0:
            action = (f"{what}{change_word('环比', c.prev_change, '')}：先按渠道看是哪里少了"
                      "（第 3 章每周趋势），再看投放花费是否同步下降；只是季节或节假日波动时，对比同比确认。")
        else:
            action = (f"{what}{change_word('环比', c.prev_change, '')}：确认增长来自哪个渠道、"
                      "是否来自一次性活动（第 3 章每周趋势、第 6 章活动台账），再决定是否加码。")
    elif all(math.isnan(c.prev_change) for _key, c in shown):
        action = "没有可比的上期（上期没有数据或为 0）：积累到两个有数据的完整周期后再看环比。"
    else:
        action = (f"环比变化都在 {NOTABLE_CHANGE:.0%} 以内：按月跟踪即可，变化超过 {NOTABLE_CHANGE:.0%} 时"
                  "回到第 3 章按渠道拆开看。")
    if all(math.isnan(c.yoy_change) for _key, c in shown):
        action += "没有同比：导出覆盖去年同期的历史数据后，用同样的参数重跑即可得到同比。"
    return finding, action

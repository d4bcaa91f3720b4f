"""环比 and 同比 (growthloop.metrics.period) on tiny hand-made data, worked out by hand; the
demo as a smoke test against plain pandas; the same numbers on Spark and Postgres."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import ibis
import pandas as pd
import pytest
from conftest import event, txn, user, write_dataset
from engine_support import engine_pair_fixture, engine_watchdog_fixture  # noqa: F401

from growthloop.errors import NotAvailable
from growthloop.marts.investments import investments
from growthloop.marts.wide import user_wide
from growthloop.metrics import period as P
from growthloop.metrics.retention import add_periods
from growthloop.present.findings import period as W
from growthloop.staging.loader import Dataset, open_dataset

D = dt.date


def rows(*times: str, **cols) -> ibis.Table:
    """A table of naive local timestamps (as the loader stores them), with optional columns."""
    return ibis.memtable(pd.DataFrame({"ts": pd.to_datetime(list(times)), **cols}))


def nan(x: float) -> bool:
    return isinstance(x, float) and math.isnan(x)


# ---------------------------------------------------------------------------- the calendar


@pytest.mark.parametrize(("analysis", "period", "start"), [
    (D(2026, 5, 31), "month", D(2026, 5, 1)),   # the month's last day: May is complete
    (D(2026, 5, 30), "month", D(2026, 4, 1)),   # May still running: April
    (D(2026, 5, 1), "month", D(2026, 4, 1)),
    (D(2026, 2, 28), "month", D(2026, 2, 1)),   # 2026 is no leap year: 28 is February's last day
    (D(2024, 2, 28), "month", D(2024, 1, 1)),   # 2024 is: 29 February is still to come
    (D(2026, 5, 10), "week", D(2026, 5, 4)),    # a Sunday: its own week (Mon 4 to Sun 10)
    (D(2026, 5, 9), "week", D(2026, 4, 27)),    # a Saturday: the week before
    (D(2026, 5, 4), "week", D(2026, 4, 27)),    # a Monday: the week before
    (D(2026, 1, 4), "week", D(2025, 12, 29)),   # a Sunday: 2026-W01, which starts in 2025
])
def test_last_complete_period(analysis, period, start):
    assert P.last_complete(analysis, period) == start


def test_labels_and_year_ago():
    assert P.period_label(D(2026, 1, 1), "month") == "2026-01"
    # ISO week 1 of 2026 runs Mon 2025-12-29 to Sun 2026-01-04; week 1 of 2025 from 2024-12-30
    assert P.period_label(D(2025, 12, 29), "week") == "2026-W01"
    assert P.year_ago(D(2025, 12, 29), "week") == D(2024, 12, 30)
    assert P.period_label(D(2024, 12, 30), "week") == "2025-W01"
    assert P.year_ago(D(2026, 5, 4), "week") == D(2025, 5, 5)  # 2026-W19 -> 2025-W19
    assert P.year_ago(D(2026, 1, 1), "month") == D(2025, 1, 1)
    assert P.year_ago(D(2026, 12, 28), "week") is None  # 2026-W53; 2025 has 52 weeks
    with pytest.raises(ValueError, match="period"):
        P.last_complete(D(2026, 5, 1), "day")


# ---------------------------------------------------------------------------- months


def test_month_counts_with_both_comparisons_by_hand():
    t = rows("2025-03-01 00:00:00", "2025-03-31 23:59:59",    # 2025-03: 2
             "2026-02-01 00:00:00", "2026-02-28 23:59:59",    # 2026-02: 2
             "2026-03-01 00:00:00", "2026-03-15 12:00:00", "2026-03-31 23:59:59",  # 2026-03: 3
             "2026-04-01 00:00:00",                           # April: after the period
             "2025-01-01 08:00:00")                           # the data's first row
    c = P.period_change(t, "ts", D(2026, 4, 10))  # April still running: March is shown
    assert (c.label, c.start, c.end) == ("2026-03", D(2026, 3, 1), D(2026, 3, 31))
    assert (c.prev_label, c.yoy_label) == ("2026-02", "2025-03")
    assert (c.value, c.prev_value, c.yoy_value) == (3, 2, 2)
    assert c.prev_change == pytest.approx(0.5)  # 3 / 2 - 1
    assert c.yoy_change == pytest.approx(0.5)   # 3 / 2 - 1
    assert (c.prev_why_not, c.yoy_why_not) == ("", "")
    assert c.data_start == D(2025, 1, 1)  # the first day of ts
    assert W.change_text(c, "新注册") == "2026 年 3 月新注册 3，环比 +50.0%，同比 +50.0%"


def test_a_utc_stored_time_is_counted_in_its_shanghai_month(tmp_path: Path):
    """2026-03-31T15:30:00Z is 23:30 on 31 March in Shanghai: March. 16:30Z is 00:30 on
    1 April: April. The loader stores both as naive Shanghai time."""
    folder = write_dataset(
        tmp_path / "d", fmt="csv", config={"name": "utc", "analysis_date": "2026-04-30"},
        users=[user("U0", "2026-02-10 10:00:00"),
               user("U1", "2026-03-31T15:30:00Z"),    # 2026-03-31 23:30 Shanghai
               user("U2", "2026-03-31T16:30:00Z"),    # 2026-04-01 00:30 Shanghai
               user("U3", "2026-04-30T15:59:59Z")],   # 2026-04-30 23:59:59 Shanghai
        events=[event("register", "2026-02-10 10:00:00", "U0", "A0")],
        transactions=[txn("T1", "U0", "2026-02-11 10:00:00", 100.0)])
    ds = open_dataset(folder)
    stored = sorted(str(v) for v in ds.users.registered_at.execute())
    assert stored[1:3] == ["2026-03-31 23:30:00", "2026-04-01 00:30:00"]
    c = P.registrations(ds)
    # April (complete: the analysis date is its last day): U2, U3; March: U1
    assert (c.label, c.value, c.prev_label, c.prev_value) == ("2026-04", 2, "2026-03", 1)
    assert c.prev_change == pytest.approx(1.0)  # 2 / 1 - 1
    # the data starts on 2026-02-10, long after April 2025 began
    assert nan(c.yoy_value) and nan(c.yoy_change)
    assert c.yoy_why_not == "数据始于 2026-02-10，不含完整的去年同月（2025-04），无同比"


def test_previous_zero_is_nan_and_worded():
    t = rows("2026-01-05 10:00:00", "2026-03-02 10:00:00", "2026-03-03 10:00:00")
    c = P.period_change(t, "ts", D(2026, 3, 31))
    # March 2, February 0 (covered: the data starts in January), so 2 / 0 has no meaning
    assert (c.value, c.prev_value) == (2, 0)
    assert nan(c.prev_change)
    assert c.prev_why_not == "上月（2026-02）为 0，无法计算环比"
    text = W.change_text(c, "新注册", unit="人")
    assert text == ("2026 年 3 月新注册 2 人，上月（2026-02）为 0，无法计算环比，"
                    "数据始于 2026-01-05，不含完整的去年同月（2025-03），无同比")


def test_year_ago_not_covered_is_nan_not_zero():
    """No row in the year-ago month: with data starting after it began it is missing (NaN);
    with data known to start before it, it is a real 0."""
    t = rows("2025-06-20 10:00:00", "2026-05-10 10:00:00", "2026-06-10 10:00:00")
    c = P.period_change(t, "ts", D(2026, 6, 30))
    # June 2026: 1; May: 1 (+0% -> 持平); June 2025 began on the 1st, the data on the 20th
    assert (c.value, c.prev_value, c.prev_change) == (1, 1, 0.0)
    assert nan(c.yoy_value) and nan(c.yoy_change)
    assert c.yoy_why_not == "数据始于 2025-06-20，不含完整的去年同月（2025-06），无同比"
    assert W.change_text(c) == ("2026 年 6 月 1，环比持平，"
                                "数据始于 2025-06-20，不含完整的去年同月（2025-06），无同比")
    # the same rows when the data is known to start on 2025-06-01: June 2025 has 1 row
    c = P.period_change(t, "ts", D(2026, 6, 30), data_start="2025-06-01")
    assert (c.yoy_value, c.yoy_change, c.yoy_why_not) == (1, 0.0, "")
    # data from 2025-05-01 but no row in June 2025 at all: a covered 0 (change NaN, said so)
    t = rows("2025-05-02 10:00:00", "2026-05-10 10:00:00", "2026-06-10 10:00:00")
    c = P.period_change(t, "ts", D(2026, 6, 30))
    assert c.yoy_value == 0 and nan(c.yoy_change)
    assert c.yoy_why_not == "去年同月（2025-06）为 0，无法计算同比"


def test_january_against_december_and_last_january():
    t = rows("2025-01-01 00:00:00", "2025-01-31 23:00:00", "2025-01-15 10:00:00", "2025-01-16 10:00:00",
             "2025-12-01 00:00:00", "2025-12-31 23:59:59",
             "2026-01-01 00:00:00", "2026-01-31 23:59:59", "2026-01-20 10:00:00")
    c = P.period_change(t, "ts", D(2026, 1, 31))
    # 2026-01: 3; 2025-12: 2 -> 3 / 2 - 1 = +50%; 2025-01: 4 -> 3 / 4 - 1 = -25%
    assert (c.label, c.prev_label, c.yoy_label) == ("2026-01", "2025-12", "2025-01")
    assert (c.value, c.prev_value, c.yoy_value) == (3, 2, 4)
    assert c.prev_change == pytest.approx(0.5)
    assert c.yoy_change == pytest.approx(-0.25)
    assert W.change_text(c, "新注册", unit="人") == "2026 年 1 月新注册 3 人，环比 +50.0%，同比 -25.0%"


# ---------------------------------------------------------------------------- weeks


def test_iso_week_one_spans_two_years():
    """2026-W01 is Mon 2025-12-29 to Sun 2026-01-04; the week before, 2025-W52, is 22 to 28
    December; a year earlier, 2025-W01, is Mon 2024-12-30 to Sun 2025-01-05."""
    t = rows("2024-12-29 23:59:59",                                          # 2024-W52
             "2024-12-30 00:00:00", "2025-01-05 23:59:59",                   # 2025-W01: 2
             "2025-12-22 00:00:00", "2025-12-28 23:59:59", "2025-12-24 09:00:00",  # 2025-W52: 3
             "2025-12-29 00:00:00", "2025-12-31 23:30:00", "2026-01-01 00:30:00",
             "2026-01-04 23:59:59",                                          # 2026-W01: 4
             "2026-01-05 00:00:00")                                          # 2026-W02
    c = P.period_change(t, "ts", D(2026, 1, 4), period="week")  # a Sunday: its own week is complete
    assert (c.label, c.start, c.end) == ("2026-W01", D(2025, 12, 29), D(2026, 1, 4))
    assert (c.prev_label, c.yoy_label) == ("2025-W52", "2025-W01")
    assert (c.value, c.prev_value, c.yoy_value) == (4, 3, 2)
    assert c.prev_change == pytest.approx(4 / 3 - 1)
    assert c.yoy_change == pytest.approx(1.0)  # 4 / 2 - 1
    assert W.change_text(c, "新注册", unit="人") == (
        "2026 年第 1 周（2025 年 12 月 29 日至 2026 年 1 月 4 日）新注册 4 人，环比 +33.3%，同比 +100.0%")
    # a Saturday: the week still runs, so the week before is shown
    assert P.period_change(t, "ts", D(2026, 1, 3), period="week").label == "2025-W52"


def test_week_53_has_no_year_ago():
    # 2026-W53 is Mon 2026-12-28 to Sun 2027-01-03; 2025 has no week 53
    t = rows("2024-01-01 00:00:00", "2026-12-21 10:00:00", "2026-12-28 10:00:00", "2027-01-03 10:00:00")
    c = P.period_change(t, "ts", D(2027, 1, 3), period="week")
    assert (c.label, c.value, c.prev_label, c.prev_value) == ("2026-W53", 2, "2026-W52", 1)
    assert c.prev_change == pytest.approx(1.0)  # 2 / 1 - 1
    assert c.yoy_label == "" and nan(c.yoy_value) and nan(c.yoy_change)
    assert c.yoy_why_not == "2025 年没有第 53 周，无同比"


# ---------------------------------------------------------------------------- measures and errors


def test_distinct_users_and_sums():
    t = rows("2026-01-10 10:00:00", "2026-02-03 10:00:00", "2026-02-04 10:00:00", "2026-02-05 10:00:00",
             user_id=["a", "a", "a", "b"], amount=[100.0, 200.0, 50.0, 25.5])
    # the rows start on 10 January: January is covered only when the data is known to start
    # on the 1st (without it, January's count would be a part of the month)
    assert nan(P.period_change(t, "ts", D(2026, 2, 28), measure="users").prev_value)
    users = P.period_change(t, "ts", D(2026, 2, 28), measure="users", data_start=D(2026, 1, 1))
    # February: a twice and b once -> 2 users; January: a -> 1
    assert (users.value, users.prev_value, users.prev_change) == (2, 1, 1.0)
    money = P.period_change(t, "ts", D(2026, 2, 28), measure="sum", column="amount",
                            data_start=D(2026, 1, 1))
    # February 200 + 50 + 25.5 = 275.5; January 100 -> +175.5%
    assert (money.value, money.prev_value) == (275.5, 100.0)
    assert money.prev_change == pytest.approx(1.755)
    assert W.change_text(money, "投资额").startswith("2026 年 2 月投资额 276元，环比 +175.5%，")
    with pytest.raises(ValueError, match="column"):
        P.period_change(t, "ts", D(2026, 2, 28), measure="sum")
    with pytest.raises(ValueError, match="measure"):
        P.period_change(t, "ts", D(2026, 2, 28), measure="mean")


def test_a_date_column_is_cut_the_same():
    t = ibis.memtable(pd.DataFrame({"date": [D(2026, 1, 31), D(2026, 2, 1), D(2026, 2, 28)],
                                    "spend": [10.0, 20.0, 30.0]}))
    c = P.period_change(t, "date", D(2026, 2, 28), measure="sum", column="spend",
                        data_start=D(2026, 1, 1))
    # February 20 + 30 = 50; January 10 -> +400%
    assert (c.value, c.prev_value, c.prev_change) == (50.0, 10.0, 4.0)


def test_the_period_shown_must_be_covered():
    t = rows("2026-03-05 10:00:00", "2026-03-20 10:00:00")
    with pytest.raises(NotAvailable, match="数据始于 2026-03-05"):
        P.period_change(t, "ts", D(2026, 3, 31))  # March began before the data
    with pytest.raises(NotAvailable, match="没有任何记录"):
        P.period_change(rows("2026-03-05 10:00:00").filter(ibis._.ts < dt.datetime(2000, 1, 1)),
                        "ts", D(2026, 3, 31))
    # an empty table with a known data start: a real 0 (and a 0 before it)
    empty = rows("2026-03-05 10:00:00").filter(ibis._.ts < dt.datetime(2000, 1, 1))
    c = P.period_change(empty, "ts", D(2026, 3, 31), data_start=D(2026, 1, 1))
    assert (c.value, c.prev_value) == (0, 0) and nan(c.prev_change)


def test_to_dict_is_plain_python():
    t = rows("2025-01-01 08:00:00", "2026-02-10 10:00:00", "2026-03-10 10:00:00", amount=[1.0, 2.0, 3.0])
    d = P.period_change(t, "ts", D(2026, 3, 31), measure="sum", column="amount").to_dict()
    assert list(d) == ["period", "measure", "label", "start", "end", "value", "prev_label",
                       "prev_value", "prev_change", "prev_why_not", "yoy_label", "yoy_value",
                       "yoy_change", "yoy_why_not", "data_start"]
    assert d["start"] == "2026-03-01" and d["end"] == "2026-03-31" and d["data_start"] == "2025-01-01"
    assert {type(v) for v in d.values()} <= {str, int, float}
    assert type(d["value"]) is float and d["value"] == 3.0 and d["prev_change"] == 0.5  # 3 / 2 - 1
    assert d["yoy_value"] == 0.0 and nan(d["yoy_change"])  # March 2025 covered, no rows


def test_wording_of_changes():
    assert W.change_word("同比", -0.0004, "") == "同比持平"
    assert W.change_word("环比", -0.04, "") == "环比 -4.0%"
    assert W.change_word("环比", float("nan"), "") == "无环比"
    t = rows("2025-01-01 08:00:00", "2026-02-10 10:00:00", "2026-03-10 10:00:00",
             "2026-03-11 10:00:00", user_id=["a", "b", "c", "d"])
    c = P.period_change(t, "ts", D(2026, 3, 31), measure="users")
    # the chapter's small-cell label replaces a count of people; 人 is the default unit
    assert W.change_text(c, "新注册", fmt=lambda n: "<10") == (
        "2026 年 3 月新注册 <10 人，环比 +100.0%，去年同月（2025-03）为 0，无法计算同比")


# ---------------------------------------------------------------------------- the book's metrics


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    """Sign-ups and investments around February 2026 (analysis date its last day)."""
    folder = write_dataset(
        tmp_path_factory.mktemp("period") / "shop", fmt="csv",
        config={"name": "shop", "analysis_date": "2026-02-28"},
        users=[user("A", "2025-01-10 10:00:00"),     # the users table's first day
               user("B", "2025-02-14 09:00:00"),     # February 2025
               user("H", "2025-02-20 09:00:00"),     # February 2025
               user("C", "2026-01-05 10:00:00"),     # January 2026
               user("D", "2026-01-31T16:30:00Z"),    # 2026-02-01 00:30 Shanghai: February
               user("E", "2026-02-20 12:00:00"),     # February
               user("F", "2026-02-28 22:00:00")],    # February
        events=[event("register", "2025-01-10 10:00:00", "A", "AA")],
        transactions=[txn("T1", "A", "2025-02-03 10:00:00", 1000.0),  # the transactions' first day
                      txn("T2", "C", "2026-01-06 10:00:00", 2000.0),  # C's first: January
                      txn("T3", "C", "2026-02-02 10:00:00", 500.0),   # C's second
                      txn("T4", "E", "2026-02-22 10:00:00", 800.0),   # E's first
                      txn("T5", "D", "2026-02-28T16:10:00Z", 900.0),  # 2026-03-01 00:10: after
                      txn("T6", "F", "2026-02-28 23:59:59", 300.0)])  # F's first, February's last second
    return open_dataset(folder)


def test_registrations_by_hand(shop: Dataset):
    c = P.registrations(shop)
    # February 2026: D, E, F = 3; January: C = 1 -> +200%; February 2025: B, H = 2 -> +50%
    assert (c.label, c.value, c.prev_value, c.yoy_value) == ("2026-02", 3, 1, 2)
    assert (c.prev_change, c.yoy_change) == (pytest.approx(2.0), pytest.approx(0.5))
    assert c.data_start == D(2025, 1, 10)
    assert W.change_text(c, "新注册") == "2026 年 2 月新注册 3 人，环比 +200.0%，同比 +50.0%"


def test_first_investors_by_hand(shop: Dataset):
    c = P.first_investors(shop)
    # February: E and F (C's February investment is a second one; D's is on 1 March) = 2;
    # January: C = 1 -> +100%. February 2025 began on the 1st, the transactions on the 3rd:
    # A's first investment there is no count of that month's first investors.
    assert (c.value, c.prev_value, c.prev_change) == (2, 1, 1.0)
    assert c.data_start == D(2025, 2, 3)
    assert nan(c.yoy_value) and c.yoy_why_not == "数据始于 2025-02-03，不含完整的去年同月（2025-02），无同比"


def test_investment_amount_by_hand(shop: Dataset):
    c = P.investment_amount(shop, period="month")
    # February: 500 + 800 + 300 = 1,600 (T5 is 1 March in Shanghai); January 2,000 -> -20%
    assert (c.value, c.prev_value) == (1600.0, 2000.0)
    assert c.prev_change == pytest.approx(-0.2)
    assert W.change_text(c, "投资额") == ("2026 年 2 月投资额 1,600元，环比 -20.0%，"
                                        "数据始于 2025-02-03，不含完整的去年同月（2025-02），无同比")
    week = P.investment_amount(shop, period="week")
    # analysis date Sat 2026-02-28: the last complete week is Mon 16 to Sun 22 February (E's 800);
    # the week before, 9 to 15 February, has none
    assert (week.label, week.value, week.prev_value) == ("2026-W08", 800.0, 0.0)
    assert nan(week.prev_change) and week.prev_why_not == "上周（2026-W07）为 0，无法计算环比"


# ---------------------------------------------------------------------------- the demo


def _oracle(times: pd.Series, start: dt.date, period: str, values: pd.Series | None = None) -> float:
    """The metric of the period starting at `start`, in plain pandas (counts or sums)."""
    days = pd.to_datetime(times).dt.normalize()
    if period == "month":
        first = days.dt.to_period("M").dt.start_time
    else:
        first = days - pd.to_timedelta(days.dt.weekday, unit="D")
    inside = first == pd.Timestamp(start)
    return float(inside.sum() if values is None else values[inside].sum())


@pytest.mark.parametrize("period", ["month", "week"])
def test_demo_against_pandas(demo_ds: Dataset, period: str):
    ds = demo_ds
    users = ds.users.select("user_id", "registered_at").execute()
    inv = investments(ds).select("txn_time", "amount").execute()
    wide = user_wide(ds).select("first_invest_at").execute().dropna()
    cases = [(P.registrations(ds, period), users.registered_at, None, users.registered_at.min()),
             (P.first_investors(ds, period), wide.first_invest_at, None,
              ds.transactions.txn_time.min().execute()),
             (P.investment_amount(ds, period), inv.txn_time, inv.amount,
              ds.transactions.txn_time.min().execute())]
    for c, times, values, first in cases:
        assert c.start == P.last_complete(ds.analysis_date, period)
        assert c.value == _oracle(times, c.start, period, values)
        assert c.value > 0
        prev = add_periods(c.start, -1, period)
        assert c.prev_value == pytest.approx(_oracle(times, prev, period, values))
        assert c.prev_change == pytest.approx(c.value / c.prev_value - 1)
        assert c.data_start == pd.Timestamp(first).date()
        # the demo holds a year that starts on 1 July 2025: no year-ago period is covered
        assert nan(c.yoy_value) and c.yoy_why_not.startswith(f"数据始于 {c.data_start}")
        assert all(type(v) in (str, int, float) for v in c.to_dict().values())


# ---------------------------------------------------------------------------- other engines


def _all(ds: Dataset) -> dict:
    out = {}
    for name, fn in (("reg", P.registrations), ("fi", P.first_investors), ("amt", P.investment_amount)):
        for period in P.PERIODS:
            out |= {f"{name}_{period}_{k}": v for k, v in fn(ds, period).to_dict().items()}
    return out


def test_engines_agree(engine_pair):
    from engine_support import both, same_numbers

    duck, other = both(_all, engine_pair)
    same_numbers(duck, other)


def test_headline_changes_table_by_hand(shop: Dataset):
    h = P.headline_changes(shop, periods=("month",))
    t = h.table()
    assert list(t.measure) == ["新注册用户", "新首投用户", "投资额 (元)"]
    assert t.current_period.tolist() == ["2026-02"] * 3 and len(t.columns) == 8
    # the three by-hand results above, one row each
    assert t.value.tolist() == [3.0, 2.0, 1600.0] and t.prev_value.tolist() == [1.0, 1.0, 2000.0]
    assert t.prev_change.tolist() == pytest.approx([2.0, 1.0, -0.2])
    assert t.yoy_change.iloc[0] == pytest.approx(0.5) and t.note.iloc[0] == ""
    assert t.note.iloc[1] == "数据始于 2025-02-03，不含完整的去年同月（2025-02），无同比"
    assert not h.missing
    glued = h.glue_values()
    assert glued["registrations_month_value"] == 3 and type(glued["registrations_month_value"]) is int
    assert glued["investment_amount_month_prev_change"] == pytest.approx(-0.2)
    assert glued["registrations_month_label"] == "2026-02" and len(glued) == 12


def test_headline_changes_say_what_the_data_does_not_cover(tmp_path):
    # sign-ups only from 2026-02-10: February itself is not covered, so no row is compared and
    # the table says why instead of showing a part of a month as a month
    folder = write_dataset(tmp_path / "late", fmt="csv",
                           config={"name": "late", "analysis_date": "2026-02-28"},
                           users=[user("A", "2026-02-10 10:00:00")],
                           events=[event("register", "2026-02-10 10:00:00", "A", "AA")],
                           transactions=[txn("T1", "A", "2026-02-11 10:00:00", 100.0)])
    h = P.headline_changes(open_dataset(folder), periods=("month",))
    assert not h.changes and len(h.missing) == 3
    t = h.table()
    assert t.value.isna().all() and t.note.str.startswith("数据不覆盖最近一个完整的月").all()
    with pytest.raises(ValueError, match="period"):
        P.headline_changes(open_dataset(folder), periods=("day",))


def test_headline_changes_in_words(shop: Dataset):
    finding, action = W.headline_changes(P.headline_changes(shop, periods=("month",)))
    # the by-hand results above: registrations +200%, first investors +100%, amount -20%
    assert finding == ("2026 年 2 月新注册 3 人，环比 +200.0%，同比 +50.0%；"
                       "2026 年 2 月新首投 2 人，环比 +100.0%，"
                       "数据始于 2025-02-03，不含完整的去年同月（2025-02），无同比；"
                       "2026 年 2 月投资额 1,600元，环比 -20.0%，"
                       "数据始于 2025-02-03，不含完整的去年同月（2025-02），无同比。")
    # the largest move of registrations or first investors leads the action
    assert action.startswith("新注册环比 +200.0%：确认增长来自哪个渠道")
    assert "没有同比" not in action  # registrations had one
    flat = P.PeriodChange(**{**P.headline_changes(shop, periods=("month",)).changes[("registrations", "month")].__dict__,
                             "prev_change": float("nan"), "prev_why_not": "上月（2026-01）为 0，无法计算环比"})
    assert W.headline_changes(P.HeadlineChanges({("registrations", "month"): flat}, {}))[1].startswith(
        "没有可比的上期")
    young = P.PeriodChange(**{**flat.__dict__, "prev_why_not": "数据始于 2026-01-20，不含完整的上月（2026-01），无环比",
                              "yoy_change": float("nan"),
                              "yoy_why_not": "数据始于 2026-01-20，不含完整的去年同月（2025-02），无同比"})
    assert W.change_text(young, "新注册").endswith(
        "数据始于 2026-01-20，不含完整的上月（2026-01），无环比，不含完整的去年同月（2025-02），无同比")
    note = P.HeadlineChanges({("registrations", "month"): young}, {}).table().note.iloc[0]
    assert note == "数据始于 2026-01-20，不含完整的上月（2026-01），无环比；不含完整的去年同月（2025-02），无同比"
    empty = P.HeadlineChanges({}, {})
    assert W.headline_changes(empty)[0].startswith("数据不覆盖任何一个完整的月或周")


def test_a_fall_and_no_year_ago_in_words(shop: Dataset):
    h = P.headline_changes(shop, periods=("month",))
    fall = P.PeriodChange(**{**h.changes[("registrations", "month")].__dict__,
                             "prev_change": -0.25, "yoy_change": float("nan"), "yoy_why_not": "无"})
    only = P.HeadlineChanges({("registrations", "month"): fall}, {})
    _finding, action = W.headline_changes(only, fmt=lambda n: "<10")
    assert action.startswith("新注册环比 -25.0%：先按渠道看是哪里少了") and action.endswith("即可得到同比。")

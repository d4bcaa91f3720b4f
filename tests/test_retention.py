"""Chapter 5, lifecycle retention: hand-built logs worked out by hand, a brute-force reference
for the nth investment, a hand-worked Kaplan-Meier, and the demo against its ground truth."""

from __future__ import annotations

import datetime as dt
import json
import random
import statistics
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest
from conftest import event, txn, user, write_dataset

from growthloop import DEMO_DATA
from growthloop.errors import DataError, NotAvailable
from growthloop.metrics import retention
from growthloop.staging.loader import open_dataset

D = dt.date


# --------------------------------------------------------------------------- cohort edges


@pytest.fixture(scope="module")
def edges_folder(tmp_path_factory) -> Path:
    """Cohort edge cases, analysis date Wednesday 2025-03-12 (March and its week running).

    U1 signs up 2025-01-01 23:30 and opens the app 2025-01-02 00:30 Shanghai time: two natural
    days (in UTC both would be 2025-01-01). U2 signs up Wednesday 2025-01-29; its week starts
    Monday 01-27 and crosses into February: app_open Sunday 02-02 is week 0 but month 1,
    Monday 02-03 is week 1. U3 opens the app twice in February. U4 signs up in February and
    never comes back.
    """
    return write_dataset(
        tmp_path_factory.mktemp("edges") / "ds",
        users=[user("U1", "2025-01-01 23:30:00"), user("U2", "2025-01-29 10:00:00"),
               user("U3", "2025-01-10 09:00:00"), user("U4", "2025-02-14 12:00:00")],
        events=[event("register", "2025-01-01 23:30:00", "U1", "A1"),
                event("app_open", "2025-01-02 00:30:00", "U1", "A1"),
                event("register", "2025-01-29 10:00:00", "U2", "A2"),
                event("app_open", "2025-02-02 21:00:00", "U2", "A2"),
                event("app_open", "2025-02-03 08:00:00", "U2", "A2"),
                event("register", "2025-01-10 09:00:00", "U3", "A3"),
                event("app_open", "2025-02-05 10:00:00", "U3", "A3"),
                event("app_open", "2025-02-20 10:00:00", "U3", "A3"),
                event("register", "2025-02-14 12:00:00", "U4", "A4")],
        transactions=[txn("T1", "U3", "2025-01-11 10:00:00", 1000.0, 30, revenue=10.0),
                      txn("T2", "U3", "2025-02-11 10:00:00", 1000.0, 30, revenue=5.0)],
        costs=[{"date": "2025-01-15", "utm_source": "baidu", "utm_medium": "cpc",
                "utm_campaign": "brand", "spend": 600.0}],
        config={"name": "edges", "analysis_date": "2025-03-12"},
    )


@pytest.fixture(scope="module")
def edges(edges_folder):
    return open_dataset(edges_folder)


def _cell(table: pd.DataFrame, cohort: dt.date, period: int) -> pd.Series:
    rows = table[(table.cohort == cohort) & (table.period == period)]
    assert len(rows) == 1, (cohort, period)
    return rows.iloc[0]


def test_monthly_on(edges) -> None:
    t = retention.cohort_retention(edges, unit="month", return_event="app_open")
    assert list(t.columns) == ["cohort", "period", "users", "retained", "rate", "complete"]
    jan = D(2025, 1, 1)
    # January: U1, U2, U3. Month 0: U1 (01-02). Month 1: U2 and U3; U3's two February opens
    # count once. Month 2 (March) is running: not complete, no number, never a zero.
    assert _cell(t, jan, 0)[["users", "retained"]].tolist() == [3, 1]
    c1 = _cell(t, jan, 1)
    assert c1.retained == 2 and c1.rate == pytest.approx(2 / 3) and c1.complete
    c2 = _cell(t, jan, 2)
    assert not c2.complete and pd.isna(c2.retained) and np.isnan(c2.rate)
    # February (U4): month 0 is complete and a real zero; month 1 is March, running
    feb = D(2025, 2, 1)
    assert _cell(t, feb, 0).retained == 0 and _cell(t, feb, 0).complete
    assert not _cell(t, feb, 1).complete
    assert t[~t.complete].retained.isna().all() and t[~t.complete].rate.isna().all()
    assert t[t.complete].rate.notna().all()
    # nothing past the analysis date: March is the last period of every cohort
    assert t.groupby("cohort").period.max().tolist() == [2, 1]


def test_shanghai_days(edges) -> None:
    t = retention.cohort_retention(edges, unit="day", return_event="app_open", max_period=3)
    c = D(2025, 1, 1)
    # 23:30 sign-up, 00:30 open: the open is on day 1, not day 0
    assert _cell(t, c, 0).retained == 0
    assert _cell(t, c, 1).retained == 1
    assert t.period.max() == 3
    # a day cohort's analysis day is complete: the day has ended at the end of the analysis date
    last = retention.cohort_retention(edges, unit="day", return_event="app_open")
    assert last[last.cohort == D(2025, 2, 14)].complete.all()


def test_week_crossing_month(edges) -> None:
    t = retention.cohort_retention(edges, unit="week", return_event="app_open")
    wk = D(2025, 1, 27)  # Monday of U2's sign-up week
    assert _cell(t, wk, 0).users == 1
    assert _cell(t, wk, 0).retained == 1  # Sunday 02-02 is still week 0
    assert _cell(t, wk, 1).retained == 1  # Monday 02-03 starts week 1
    assert _cell(t, wk, 2).retained == 0 and _cell(t, wk, 2).complete
    # the week of Monday 03-10 ends Sunday 03-16, after Wednesday 03-12: running
    starts = [c + dt.timedelta(weeks=int(k)) for c, k in zip(t.cohort, t.period, strict=True)]
    running = t[[s == D(2025, 3, 10) for s in starts]]
    assert len(running) and not running.complete.any()
    assert (t[t.complete].cohort.map(lambda d: d.weekday()) == 0).all()


def test_on_or_after_and_first_investment(edges) -> None:
    t = retention.cohort_retention(edges, unit="month", return_event="app_open",
                                   mode="on_or_after")
    jan = D(2025, 1, 1)
    # unbounded: active in month k or later. U1 last in month 0, U2 and U3 in month 1
    assert _cell(t, jan, 0).retained == 3
    assert _cell(t, jan, 1).retained == 2
    assert not _cell(t, jan, 2).complete
    inv = retention.cohort_retention(edges, cohort_by="first_investment", unit="month")
    # U3 first invests 01-11 and again 02-11
    assert _cell(inv, jan, 0)[["users", "retained"]].tolist() == [1, 1]
    assert _cell(inv, jan, 1).retained == 1


def test_breakdown_and_matrix(edges) -> None:
    t = retention.cohort_retention(edges, unit="month", return_event="app_open",
                                   by="signup_channel")
    assert set(t.group) == {"百度搜索"}
    values, incomplete = retention.retention_matrix(t)
    assert values.loc[D(2025, 1, 1), 1] == pytest.approx(2 / 3)
    assert incomplete.loc[D(2025, 1, 1), 2] and np.isnan(values.loc[D(2025, 1, 1), 2])
    # February has no month 2 yet: not begun is neither a value nor "incomplete"
    assert np.isnan(values.loc[D(2025, 2, 1), 2]) and not incomplete.loc[D(2025, 2, 1), 2]
    pooled = retention.pooled_curve(retention.cohort_retention(edges, return_event="app_open"))
    # month 0 pools January (1 of 3) and February (0 of 1); month 1 only January (2 of 3)
    assert pooled.rate.tolist() == pytest.approx([1 / 4, 2 / 3])


def test_breakdown_by_segment_and_age(edges) -> None:
    # segments: U1 in A, U3 in B; U2 and U4 are in no segment (未分组)
    seg = ibis.memtable({"user_id": ["U1", "U3"], "seg": ["A", "B"]})
    t = retention.cohort_retention(edges, unit="month", return_event="app_open", by="seg",
                                   segments=seg)
    jan = D(2025, 1, 1)
    got = {(r.group, r.cohort, r.period): (r.users, r.retained) for r in t.itertuples()
           if r.complete}
    # January month 1 (February): U1 did not open, U3 did, U2 (no segment) did
    assert got[("A", jan, 1)] == (1, 0) and got[("B", jan, 1)] == (1, 1)
    assert got[(retention.NO_SEGMENT, jan, 1)] == (1, 1)
    assert got[(retention.NO_SEGMENT, D(2025, 2, 1), 0)] == (1, 0)
    # every user is born in 1990: 35 in 2025, the 35-44 band holds all of them
    bands = retention.cohort_retention(edges, unit="month", return_event="app_open",
                                       by="age_band")
    assert bands.group.nunique() == 1
    assert bands[bands.period == 0].users.sum() == 4
    with pytest.raises(ValueError, match="segments"):
        retention.cohort_retention(edges, by="seg", segments=seg.rename(uid="user_id"))


def test_bad_parameters(edges) -> None:
    with pytest.raises(ValueError, match="unit"):
        retention.cohort_retention(edges, unit="quarter")
    with pytest.raises(ValueError, match="mode"):
        retention.cohort_retention(edges, mode="rolling")
    with pytest.raises(ValueError, match="return_event"):
        retention.cohort_retention(edges, return_event="login")
    with pytest.raises(ValueError, match="churn_days"):
        retention.lifecycle(edges, dormant_days=90, churn_days=60)
    with pytest.raises(ValueError, match="by"):
        retention.nth_investment(edges, by="shoe_size")


def test_cohort_summary_and_recent_weeks(edges) -> None:
    t = retention.cohort_retention(edges, unit="month", return_event="app_open")
    recent = retention.recent_cohorts(edges, 12, return_event="app_open")
    # 12 weeks back from Wednesday 03-12: cohorts from the week of 2024-12-25 on, i.e. all four
    # sign-up weeks (U1 12-30, U3 01-06, U2 01-27, U4 02-10); each one's last week (03-10) runs
    pd.testing.assert_frame_equal(recent, retention.cohort_retention(
        edges, unit="week", return_event="app_open", since=D(2024, 12, 25)))
    assert recent.cohort.nunique() == 4
    got = retention.cohort_summary(t, "month")
    # months: January (month 1 complete: 2 of 3 back) and February (month 1 = March, running);
    # the running cells are January's month 2 and February's month 1. One cohort has its
    # month 1 complete: nothing to compare it with (no number, never a None)
    assert got == pytest.approx({
        "cohorts": 2, "running_cells": 2, "p1_rate": 2 / 3, "p1_cohorts": 1,
        "latest_cohort": "2025-01-01", "latest_p1": 2 / 3, "latest_users": 3,
        "prev_cohort": "", "prev_p1": np.nan, "prev_users": 0, "p1_change_pp": np.nan,
        "p1_change_low_pp": np.nan, "p1_change_high_pp": np.nan, "p1_change_p": np.nan},
        nan_ok=True)
    # weeks: week 1 of U1 (01-06), U3 (01-13) and U4 (02-17) is empty; U2 opened the app on
    # Monday 02-03, its week 1. The two latest weeks with week 1 ended: U4's and U2's
    assert retention.recent_summary(recent) == {
        "cohorts": 4, "running_cells": 4, "latest_cohort": "2025-02-10", "latest_p1": 0.0,
        "latest_users": 1, "prev_cohort": "2025-01-27", "prev_p1": 1.0, "prev_users": 1}
    with pytest.raises(ValueError, match="weeks"):
        retention.recent_cohorts(edges, 0)


def test_cohort_summary_compares_the_two_latest_cohorts() -> None:
    # by hand: January 6 of 10 back in month 1, February 4 of 10; change -20 points. Pooled
    # p = 0.5, SE = sqrt(0.25 x (1/10 + 1/10)) = 0.2236, z = -0.894, two-sided p = 0.371
    t = _hand_cohorts()
    got = retention.cohort_summary(t, "month")
    assert got["p1_rate"] == pytest.approx(0.5) and got["p1_cohorts"] == 2
    assert (got["latest_cohort"], got["prev_cohort"]) == ("2025-02-01", "2025-01-01")
    assert got["p1_change_pp"] == pytest.approx(-20.0)
    assert got["p1_change_p"] == pytest.approx(0.3711, abs=1e-4)
    assert got["p1_change_low_pp"] < -20 < got["p1_change_high_pp"] and got["p1_change_high_pp"] > 0


def _hand_cohorts() -> pd.DataFrame:
    """Two monthly cohorts of 10: January back 6, 5, 5 in months 1-3; February 4, 4 and its
    month 3 running."""
    rows = [(D(2025, 1, 1), k, 10, r, True) for k, r in enumerate([10, 6, 5, 5])]
    rows += [(D(2025, 2, 1), k, 10, r, True) for k, r in enumerate([10, 4, 4])]
    rows += [(D(2025, 2, 1), 3, 10, pd.NA, False)]
    t = pd.DataFrame(rows, columns=["cohort", "period", "users", "retained", "complete"])
    t["retained"] = t["retained"].astype("Int64")
    t["rate"] = [r / 10 if c else np.nan for r, c in zip(t.retained, t.complete, strict=True)]
    return t[["cohort", "period", "users", "retained", "rate", "complete"]]


def test_curve_summary_by_hand() -> None:
    # pooled: month 0 20/20, month 1 10/20, month 2 9/20, month 3 (January only) 5/10.
    # Falls: 50, 5 and -5 points; the first half (months 1-2) 27.5 a month, the second -5.
    # February (two complete months from 1 on) against the pooled curve: (0.4 - 0.5 + 0.4 -
    # 0.45) / 2 = -7.5 points
    got = retention.curve_summary(_hand_cohorts(), "month")
    assert got == pytest.approx({
        "periods": 3, "last_rate": 0.5, "steepest_period": 1, "steepest_drop_pp": 50.0,
        "early_drop_pp": 27.5, "late_drop_pp": -5.0, "newest_cohort": "2025-02-01",
        "newest_gap_pp": -7.5})
    # a curve that never falls has no steepest period; one period has no second half
    flat = _hand_cohorts()
    flat = flat[flat.period <= 1].assign(rate=1.0, retained=10)
    got = retention.curve_summary(flat, "month")
    assert got["steepest_period"] == 0 and np.isnan(got["steepest_drop_pp"])
    assert np.isnan(got["late_drop_pp"]) and got["newest_cohort"] == ""


def test_heatmap_window() -> None:
    t = _hand_cohorts()
    w = retention.heatmap_window(t, max_cohorts=1, max_periods=2)
    assert w.cohort.unique().tolist() == [D(2025, 2, 1)] and w.period.tolist() == [0, 1]
    assert w.attrs == {"cohorts": 2, "periods": 4}
    assert len(retention.heatmap_window(t)) == len(t)


def test_what_the_cohorts_cannot_show(edges_folder) -> None:
    # the analysis date in January: the January cohort's month 1 has not ended
    early = open_dataset(edges_folder, analysis_date="2025-01-20")
    t = retention.cohort_retention(early, unit="month", return_event="app_open")
    with pytest.raises(NotAvailable, match="第 1 个月"):
        retention.cohort_summary(t, "month")
    with pytest.raises(NotAvailable, match="第 1 个月"):
        retention.curve_summary(t, "month")
    # no sign-up in the last 12 weeks (the analysis date a year after the last one)
    late = open_dataset(edges_folder, analysis_date="2026-03-12")
    with pytest.raises(NotAvailable, match="最近一次注册在 2025-02-14"):
        retention.recent_cohorts(late, 12, return_event="app_open")
    # no investor at all on that date: first-investment cohorts cannot be formed
    with pytest.raises(NotAvailable, match="没有首投的用户"):
        retention.cohort_retention(open_dataset(edges_folder, analysis_date="2025-01-05"),
                                   cohort_by="first_investment")


def test_default_unit_follows_the_data(edges_folder) -> None:
    # first sign-up Wednesday 2025-01-01. On 03-12, January and February are complete (2 < 3
    # months); weeks from Monday 2024-12-30: ten complete, the week of 03-10 running
    assert retention.default_unit(open_dataset(edges_folder)) == ("week", 10)
    # on 04-01: January to March
    assert retention.default_unit(open_dataset(edges_folder, analysis_date="2025-04-01")) == ("month", 3)
    # on Sunday 01-05 one week has ended: days, 01-01 to 01-05
    assert retention.default_unit(open_dataset(edges_folder, analysis_date="2025-01-05")) == ("day", 5)
    # first investment 01-11 (U3): from Monday 01-06, nine weeks have ended by 03-12
    assert retention.default_unit(open_dataset(edges_folder), "first_investment") == ("week", 9)


def test_history_and_data_end(edges) -> None:
    # investments 01-11 and 02-11; the last record is U3's app_open on 02-20
    assert retention.history(edges) == {"first_day": D(2025, 1, 11), "last_day": D(2025, 2, 11),
                                        "days": 60}
    assert retention.history(edges, "app_open")["first_day"] == D(2025, 1, 2)
    assert retention.data_end(edges) == D(2025, 2, 20)


def test_the_return_event_is_the_activity_everywhere(edges) -> None:
    # with investments as activity only U3 is active, holding T2 (02-11, 30 days) past 03-12:
    # nobody is dormant. With app_open (and live holdings): U1 last opened the app 01-02, 69
    # days before 03-12: dormant; U2 opened it 02-03 (37 days): active; U3 holds T2
    assert retention.at_risk_count(edges) == 0
    assert retention.at_risk_count(edges, activity_event="app_open") == 1
    risky = retention.at_risk_users(edges, activity_event="app_open").to_pandas()
    assert risky.user_id.tolist() == ["U1"] and risky.inactive_days.tolist() == [69]
    # an own event with a property filter is accepted like a name; a missing one is a DataError
    with pytest.raises(DataError, match="app_opne"):
        retention.lifecycle(edges, activity_event="app_opne")


def test_ltv_summary(edges) -> None:
    pooled = retention.ltv_curves(edges, by=None, horizon_months=12)
    # LTV read at month 1 (the longest reached, January's): 10 / 4 + 5 / 3 per sign-up, of which
    # 10 / 4 in the sign-up month: 0.6 of it
    got = retention.ltv_summary(pooled, 12)
    assert got == pytest.approx({
        "horizon_months": 12, "ltv_month": 1, "ltv_at_month": 10 / 4 + 5 / 3, "ltv_cohorts": 1,
        "ltv_month0": 10 / 4, "ltv_month0_share": 0.6})
    # the one paid channel is both the best and the worst: LTV/CAC (10 / 4 + 5 / 3) / 200
    head = retention.cac_summary(retention.ltv_cac(edges, horizon_months=12))
    assert head == pytest.approx({
        "ltv_month": 1, "paid_channels": 1, "rated_channels": 1, "below_one": 1,
        "best": "百度搜索", "best_ratio": (10 / 4 + 5 / 3) / 200, "worst": "百度搜索",
        "worst_ratio": (10 / 4 + 5 / 3) / 200})


def test_ltv_and_cac(edges) -> None:
    cohorts = retention.ltv_cohorts(edges, horizon_months=12)
    jan = cohorts[cohorts.cohort == D(2025, 1, 1)].set_index("month")
    # January: U1, U2, U3; U3's revenue 10 in January and 5 in February; March running
    assert jan.ltv[0] == pytest.approx(10 / 3) and jan.ltv[1] == pytest.approx(15 / 3)
    assert not jan.complete[2] and np.isnan(jan.ltv[2])
    curves = retention.ltv_curves(edges, horizon_months=12).set_index("month")
    # month 0 pools January (10 over 3) and February (0 over 1): 10 / 4; month 1 adds the
    # month-1 revenue per user of the cohorts that reached it (January: 5 over 3)
    assert curves.ltv[0] == pytest.approx(10 / 4)
    assert curves.ltv[1] == pytest.approx(10 / 4 + 5 / 3)
    assert curves.users.tolist() == [4, 3]
    res = retention.ltv_cac(edges, horizon_months=12)
    row = res.table.set_index("channel").loc["百度搜索"]
    # spend 600 in January over January's 3 sign-ups; LTV at month 1 (the longest reached)
    assert res.costs_available and row.cac == pytest.approx(200.0)
    assert row.ltv_month == 1 and row.ltv_cac == pytest.approx((10 / 4 + 5 / 3) / 200.0)


def test_ltv_cac_without_costs(tmp_path) -> None:
    folder = write_dataset(tmp_path / "nocost", users=[user("U1")],
                           events=[event("register", "2025-01-01 10:00:00", "U1")],
                           transactions=[txn("T1", "U1", "2025-01-02 10:00:00", 100.0, revenue=1.0)],
                           config={"analysis_date": "2025-03-31"})
    ds = open_dataset(folder)
    res = retention.ltv_cac(ds)
    assert not res.costs_available and "costs" in res.note
    assert res.table.cac.isna().all() and res.table.ltv_cac.isna().all()
    # CAC is not available; the LTV still is
    with pytest.raises(NotAvailable, match="数据中没有 costs 表"):
        retention.cac_summary(res)
    assert retention.ltv_summary(retention.ltv_curves(ds, by=None))["ltv_at_month"] == 1.0


def test_cac_needs_a_channel_with_spend_and_signups(tmp_path) -> None:
    # the spend is on weibo, every sign-up came from baidu: no channel has a CAC
    folder = write_dataset(tmp_path / "d", users=[user("U1")],
                           events=[event("register", "2025-01-01 10:00:00", "U1")],
                           transactions=[txn("T1", "U1", "2025-01-02 10:00:00", 100.0)],
                           costs=[{"date": "2025-01-15", "utm_source": "weibo", "utm_medium": "cpc",
                                   "utm_campaign": "x", "spend": 500.0}],
                           config={"analysis_date": "2025-03-31"})
    res = retention.ltv_cac(open_dataset(folder))
    assert res.costs_available and res.table.cac.isna().all()
    with pytest.raises(NotAvailable, match="同时有花费和注册"):
        retention.cac_summary(res)


# --------------------------------------------------------------------------- lifecycle


@pytest.fixture(scope="module")
def life_folder(tmp_path_factory) -> Path:
    """Three investors in 2025, worked out by hand at each month end (dormant 60, churn 180).

    L1: 1-month deposit 01-10 (held to 02-09), nothing until a 1-month deposit 09-15 (to
    10-15). L2: a 12-month deposit 01-20, held past the end of the year. L3: two 活期 deposits
    in March (03-03, 03-25; 活期 counts as held for 30 days, to 04-24), then nothing.
    """
    return write_dataset(
        tmp_path_factory.mktemp("life") / "ds",
        users=[user("L1", "2025-01-05 10:00:00"), user("L2", "2025-01-06 10:00:00"),
               user("L3", "2025-03-01 10:00:00")],
        events=[event("register", "2025-01-05 10:00:00", "L1", "B1"),
                event("register", "2025-01-06 10:00:00", "L2", "B2"),
                event("register", "2025-03-01 10:00:00", "L3", "B3")],
        transactions=[txn("T1", "L1", "2025-01-10 10:00:00", 1000.0, 30),
                      txn("T2", "L1", "2025-09-15 10:00:00", 1000.0, 30),
                      txn("T3", "L2", "2025-01-20 10:00:00", 50000.0, 365),
                      txn("T4", "L3", "2025-03-03 10:00:00", 200.0, 0),
                      txn("T5", "L3", "2025-03-25 10:00:00", 300.0, 0)],
        config={"name": "life", "analysis_date": "2025-12-31"},
    )


# Inactive days at each month end = last day of the month - last covered day.
# L1 (covered to 02-09): Feb 19, Mar 50 active; Apr 80, May 111, Jun 141, Jul 172 dormant;
#   Aug 203 churned; Sep back after 217 days (> 60) and held: resurrected; Oct 16, Nov 46
#   active (covered to 10-15); Dec 77 dormant.
# L2: new in January, then held all year: active, never dormant.
# L3 (covered to 04-24): new in March; Apr 6, May 37 active; Jun 67, Jul 98, Aug 129,
#   Sep 159 dormant; Oct 190, Nov 220, Dec 251 churned.
EXPECTED_STATES = {
    "L1": ["new", "active", "active", "dormant", "dormant", "dormant", "dormant", "churned",
           "resurrected", "active", "active", "dormant"],
    "L2": ["new"] + ["active"] * 11,
    "L3": [None, None, "new", "active", "active", "dormant", "dormant", "dormant", "dormant",
           "churned", "churned", "churned"],
}


def test_lifecycle_states(life_folder) -> None:
    ds = open_dataset(life_folder)
    counts = retention.lifecycle(ds)
    assert list(counts.columns) == ["period", "state", "users", "complete"]
    assert counts.complete.all() and len(counts) == 12 * len(retention.STATES)
    got = counts.pivot(index="period", columns="state", values="users")
    for month in range(12):
        expected = {s: 0 for s in retention.STATES}
        for states in EXPECTED_STATES.values():
            if states[month]:
                expected[states[month]] += 1
        row = got.loc[D(2025, month + 1, 1)]
        assert {s: int(row[s]) for s in retention.STATES} == expected, month + 1


def test_lifecycle_flows_and_at_risk(life_folder) -> None:
    ds = open_dataset(life_folder)
    flows = retention.lifecycle_flows(ds)
    sep = flows[flows.period == D(2025, 9, 1)].set_index(["from_state", "to_state"]).users
    assert sep[("churned", "resurrected")] == 1 and sep[("dormant", "dormant")] == 1
    assert flows[flows.from_state == retention.ENTRY].users.sum() == 3
    mat = retention.transition_matrix(flows, normalize=False)
    # 33 transitions among 3 users over 12 months: 3 entries, 11 + 11 + 9 moves... minus
    # entries: L1 11, L2 11, L3 9 moves between months
    assert int(mat.to_numpy().sum()) == 31
    assert mat.loc["churned", "resurrected"] == 1
    assert np.allclose(retention.transition_matrix(flows).sum(axis=1), 1.0)
    # now (12-31): L1 dormant (77 days) is at risk; L3 churned and L2 holding are not
    assert retention.at_risk_count(ds) == 1
    risky = retention.at_risk_users(ds).to_pandas()
    assert risky.user_id.tolist() == ["L1"] and risky.inactive_days.tolist() == [77]


def test_running_period_and_no_holdings(life_folder) -> None:
    ds = open_dataset(life_folder, analysis_date="2025-12-20")
    counts = retention.lifecycle(ds)
    dec = counts[counts.period == D(2025, 12, 1)].set_index("state")
    # December is running: states as of 12-20; L1 is 66 days past 10-15: dormant
    assert not dec.complete.any() and dec.users["dormant"] == 1
    # without counting holdings, the 12-month holder L2 (345 days since 01-20) is churned by
    # December with L3; L1 is 107 days past 09-15: dormant
    plain = retention.lifecycle(open_dataset(life_folder), count_holdings=False)
    dec = plain[plain.period == D(2025, 12, 1)].set_index("state").users
    assert dec["churned"] == 2 and dec["dormant"] == 1 and dec["active"] == 0


def test_cohort_return_after_churn(life_folder) -> None:
    ds = open_dataset(life_folder)
    # first-investment month cohorts, return event = investment (holdings do not count here).
    # January: L1 (01-10, back 09-15 = month 8 after seven empty months), L2 (01-20, once).
    on = retention.cohort_retention(ds, cohort_by="first_investment")
    jan = on[on.cohort == D(2025, 1, 1)].set_index("period")
    assert jan.retained.tolist() == [2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]
    assert jan.complete.all()  # the analysis date 12-31 ends December
    # on or after: L1 counts in every month up to its return, L2 only in month 0
    after = retention.cohort_retention(ds, cohort_by="first_investment", mode="on_or_after")
    jan = after[after.cohort == D(2025, 1, 1)].set_index("period")
    assert jan.retained.tolist() == [2] + [1] * 8 + [0, 0, 0]
    # March: L3's two 活期 deposits in one month count once
    mar = on[on.cohort == D(2025, 3, 1)].set_index("period")
    assert mar.retained.tolist() == [1] + [0] * 9


def test_comeback_gaps(life_folder) -> None:
    gaps = retention.comeback_gaps(open_dataset(life_folder), days=(60, 365))
    # one comeback (L1, 217 days); L3's second 活期 deposit came while the first was held
    assert gaps.comebacks.tolist() == [1, 1] and gaps.share_within.tolist() == [0.0, 1.0]


# --------------------------------------------------------------------------- survival


def test_survival_data_by_hand(life_folder) -> None:
    data = retention.survival_data(open_dataset(life_folder))
    # L1: life 01-10 .. 02-09 = 30 days, then a 217-day gap: churned (event).
    # L2: still holding: censored at 12-31 - 180 days - 01-20 = 345 - 180 = 165.
    # L3: life 03-03 .. 04-24 = 52 days; 251 days since: churned.
    rows = sorted(map(tuple, data[["duration_days", "event", "users"]].to_numpy().tolist()))
    assert rows == [(30, 1, 1), (52, 1, 1), (165, 0, 1)]
    assert data.attrs["too_recent"] == 0


def test_lifecycle_summary_by_hand(life_folder) -> None:
    ds = open_dataset(life_folder)
    # December (EXPECTED_STATES): L1 dormant, L2 active, L3 churned; December has ended
    assert retention.lifecycle_summary(retention.lifecycle(ds)) == {
        "state_period": "2025-12-01", "state_complete": True, "users_now": 3,
        "active_base_now": 1, "new_now": 0, "resurrected_now": 0, "dormant_now": 1,
        "churned_now": 1, "state_periods": 12}
    flows = retention.lifecycle_flows(ds)
    gaps = retention.comeback_gaps(ds, thresholds=(60, 180))
    # Months ending dormant and followed by another: L1 Apr-Jul, L3 Jun-Sep, 8 in all; each run
    # of four ends in churn (L1 Jul -> Aug, L3 Sep -> Oct): 2 of 8 churn, none comes back
    # straight from dormant. The one comeback (L1, after 217 days) is neither within 60 nor
    # within 180 days. Transitions are seen in February to December: 11 months
    assert retention.transition_summary(flows, gaps, 60, 180) == pytest.approx({
        "transition_months": 11, "dormant_base": 8, "dormant_back": 0.0, "dormant_churn": 0.25,
        "comebacks": 1, "comeback_dormant": 0.0, "comeback_churn": 0.0})
    # other thresholds are read where the comeback table has them
    gaps = retention.comeback_gaps(ds, days=(30,), thresholds=(45, 250))
    assert gaps.days.tolist() == [30, 45, 250] and gaps.share_within.tolist() == [0.0, 0.0, 1.0]
    got = retention.transition_summary(flows, gaps, 45, 250)
    assert got["comeback_dormant"] == 0.0 and got["comeback_churn"] == 1.0


def test_survival_and_its_summary(life_folder) -> None:
    surv = retention.survival(open_dataset(life_folder), days=(30, 90, 180))
    # lifetimes (test_survival_data_by_hand): 30 and 52 days (churned), 165 (censored):
    # S(30) = 2/3, S(90) = 1/3; day 180 is past the last observation (165): not known
    assert surv.too_recent == 0 and surv.days == (30, 90, 180)
    assert surv.overall.users.tolist() == [3]
    assert set(surv.curves.group) == set(surv.at_days.group)
    got = retention.survival_summary(surv)
    assert got == pytest.approx({
        "surv_investors": 3, "surv_too_recent": 0, "surv_30": 2 / 3, "surv_90": 1 / 3,
        "surv_180": np.nan, "surv_median_days": 52.0, "surv_min_users": 100,
        "surv_channel_day": 0, "surv_channel_best": "", "surv_channel_best_rate": np.nan,
        "surv_channel_worst": "", "surv_channel_worst_rate": np.nan}, nan_ok=True)
    # two channels with enough investors: named at the longest known day
    two = retention.Survival(surv.curves, pd.DataFrame({"group": ["甲", "乙"], "users": [200, 150],
                                                        "s_30": [0.9, 0.8], "s_90": [0.5, 0.6],
                                                        "s_180": [np.nan, np.nan]}),
                             surv.overall, 0, surv.days)
    got = retention.survival_summary(two)
    assert (got["surv_channel_day"], got["surv_channel_best"], got["surv_channel_worst"]) == (90, "乙", "甲")
    assert (got["surv_channel_best_rate"], got["surv_channel_worst_rate"]) == (0.6, 0.5)
    # with 200 required, 乙 is too small: nobody to compare
    assert retention.survival_summary(two, min_users=200)["surv_channel_day"] == 0


def test_survival_needs_investors_past_the_churn_threshold(life_folder) -> None:
    # on 2025-06-30 the first investment (L1, 01-10) is 171 days back: under 180, nobody's churn
    # can be known; with a 90-day threshold all three can (171, 161 and 119 days back)
    ds = open_dataset(life_folder, analysis_date="2025-06-30")
    with pytest.raises(NotAvailable, match="最早的首投在 2025-01-10.*只有 171 天"):
        retention.survival(ds, churn_days=180)
    assert retention.survival(ds, churn_days=90).overall.users.tolist() == [3]


def test_nth_summary_by_hand() -> None:
    nth = pd.DataFrame({"n": [1, 2, 3, 4, 5], "users": [100, 40, 20, 15, 12],
                        "rate_from_first": [1.0, 0.4, 0.2, 0.15, 0.12],
                        "rate_from_previous": [np.nan, 0.4, 0.5, 0.75, 0.8],
                        "median_days_from_previous": [np.nan, 20.0, 30.0, 25.0, 22.0]})
    by_term = pd.DataFrame({"group": ["活期", "3个月", "12个月"] * 2, "n": [1] * 3 + [2] * 3,
                            "users": [100, 70, 20, 50, 40, 10],
                            "rate_from_previous": [np.nan] * 3 + [0.5, 0.6, 0.9]})
    # the weakest step is the second (40 of 100); 12个月 has only 10 at n = 2: not ranked
    assert retention.nth_summary(nth, by_term, min_users=30) == pytest.approx({
        "first_investors": 100, "second_investors": 40, "second_rate": 0.4, "fifth_rate": 0.12,
        "weakest_n": 2, "weakest_rate": 0.4, "second_gap_days": 20.0, "term_min_users": 30,
        "best_term": "3个月", "best_term_rate": 0.6, "worst_term": "活期", "worst_term_rate": 0.5})
    short = retention.nth_summary(nth[nth.n <= 3])
    assert np.isnan(short["fifth_rate"]) and "best_term" not in short
    # nobody invested twice: a real zero, then nothing to rank
    none = nth.assign(users=[100, 0, 0, 0, 0], rate_from_first=[1.0, 0, 0, 0, 0],
                      rate_from_previous=[np.nan, 0.0, np.nan, np.nan, np.nan],
                      median_days_from_previous=np.nan)
    got = retention.nth_summary(none, by_term.assign(users=[100, 70, 20, 0, 0, 0]), min_users=30)
    assert got["second_investors"] == 0 and got["second_rate"] == 0.0 and got["weakest_n"] == 2
    assert np.isnan(got["second_gap_days"]) and got["best_term"] == "" and np.isnan(got["best_term_rate"])


def test_kaplan_meier_by_hand() -> None:
    # Six users: two churn at day 30, one at 52, one censored at 100, one at 165, one churns
    # at 200. By hand (S(t) = product of (1 - d_i / n_i)):
    #   t=30:  n=6, d=2 -> S = 4/6        = 0.6667
    #   t=52:  n=4, d=1 -> S = 4/6 * 3/4  = 0.5
    #   t=100: censored (n=3), t=165: censored (n=2): S stays 0.5
    #   t=200: n=1, d=1 -> S = 0
    # median lifetime: first day S <= 0.5 = day 52
    data = pd.DataFrame({"group": ["A"] * 5, "duration_days": [30, 52, 100, 165, 200],
                         "event": [1, 1, 0, 0, 1], "users": [2, 1, 1, 1, 1]})
    km = retention.kaplan_meier(data)
    s = km.set_index("day").survival
    assert s[0] == 1.0
    assert s[30] == pytest.approx(4 / 6) and s[52] == pytest.approx(0.5)
    assert s[100] == pytest.approx(0.5) and s[165] == pytest.approx(0.5) and s[200] == 0.0
    assert km.set_index("day").at_risk[52] == 4
    at = retention.survival_at(km, days=(40, 180, 365)).iloc[0]
    assert at.s_40 == pytest.approx(4 / 6) and at.s_180 == pytest.approx(0.5)
    assert at.s_365 == 0.0 and at.median_days == 52
    # weights give the same curve as one row per user
    flat = data.loc[data.index.repeat(data.users)].assign(users=1)
    assert retention.kaplan_meier(flat).survival.tolist() == pytest.approx(km.survival.tolist())


# --------------------------------------------------------------------------- nth investment


@pytest.fixture(scope="module")
def random_investors(tmp_path_factory):
    """40 users with 0 to 7 investments at random times, some at the same instant."""
    rng = random.Random(7)
    users, txns = [], []
    start = dt.datetime(2025, 1, 1, 8)
    for i in range(40):
        uid = f"R{i:02d}"
        users.append(user(uid, "2025-01-01 08:00:00",
                          utm_source=rng.choice(["baidu", "toutiao", "referral"])))
        times = sorted(start + dt.timedelta(hours=rng.randint(1, 24 * 300))
                       for _ in range(rng.choice([0, 1, 1, 2, 3, 4, 5, 6, 7])))
        if len(times) >= 3 and i % 4 == 0:
            times[2] = times[1]  # a tie: ordered by txn_id
        for j, t in enumerate(times):
            txns.append(txn(f"X{i:02d}{j}", uid, t.strftime("%Y-%m-%d %H:%M:%S"), 100.0,
                            rng.choice([0, 30, 90, 365])))
    folder = write_dataset(tmp_path_factory.mktemp("rand") / "ds", users=users,
                           events=[event("register", "2025-01-01 08:00:00", u["user_id"],
                                         f"A{u['user_id']}") for u in users],
                           transactions=txns, config={"analysis_date": "2025-12-31"})
    return open_dataset(folder), users, txns


def _brute_nth(users, txns, max_n, group_of):
    """Pure-Python reference: sort each user's investments, count and take the gaps."""
    per: dict[str, list] = {}
    for t in txns:
        per.setdefault(t["user_id"], []).append((t["txn_time"], t["txn_id"]))
    out = {}
    groups = sorted({group_of[u["user_id"]] for u in users if u["user_id"] in per})
    for g in groups:
        lists = [sorted(v) for u, v in per.items() if group_of[u] == g]
        counts = [sum(1 for x in lists if len(x) >= n) for n in range(1, max_n + 1)]
        for n in range(1, max_n + 1):
            gaps = []
            for x in lists:
                if len(x) >= n and n > 1:
                    a = dt.datetime.fromisoformat(x[n - 2][0])
                    b = dt.datetime.fromisoformat(x[n - 1][0])
                    gaps.append((b - a).total_seconds() / 86400)
            prev = counts[n - 2] if n > 1 else None
            out[(g, n)] = (counts[n - 1], counts[n - 1] / counts[0],
                           counts[n - 1] / prev if prev else None,
                           statistics.median(gaps) if gaps else None)
    return out


def test_nth_investment_brute_force(random_investors) -> None:
    ds, users, txns = random_investors
    alias = {"baidu": "百度搜索", "toutiao": "信息流广告", "referral": "老带新"}
    for by, group_of in ((None, {u["user_id"]: "全部" for u in users}),
                         ("signup_channel", {u["user_id"]: alias[u["utm_source"]] for u in users})):
        got = retention.nth_investment(ds, max_n=5, by=by)
        ref = _brute_nth(users, txns, 5, group_of)
        assert len(got) == len(ref)
        for row in got.itertuples():
            g = getattr(row, "group", "全部")
            users_n, from_first, from_prev, gap = ref[(g, row.n)]
            assert row.users == users_n
            assert row.rate_from_first == pytest.approx(from_first)
            if from_prev is None:
                assert np.isnan(row.rate_from_previous)
            else:
                assert row.rate_from_previous == pytest.approx(from_prev)
            if gap is None:
                assert np.isnan(row.median_days_from_previous)
            else:
                assert row.median_days_from_previous == pytest.approx(gap)
    terms = retention.nth_investment(ds, by="first_term")
    assert set(terms.group) <= {"活期", "1个月", "3个月", "12个月"}
    assert retention.term_order(["12个月", "活期", "3个月", "1个月"]) == ["活期", "1个月", "3个月",
                                                                      "12个月"]


# --------------------------------------------------------------------------- demo vs truth

TRUTH = DEMO_DATA / "truth.json"


# The generator (truth.json "definitions"): an investor's latent churn comes at first investment
# + Exponential(monthly hazard h), a month being 30 days; bonus hunters churn at once. Churned
# users stop investing and opening the app. truth["churn"] gives the mean h over non-hunter
# investors (monthly_hazard, per_channel) and the latent survival at 0..12 months, mean over all
# investors. Observed activity ends at the last app open or investment before the latent churn,
# which falls in the same month as the churn: with app opens a Poisson process of rate l while
# alive, P(active after t) = exp(-h t) * l / (l + h) for t > 0, so conditioned on being active
# after day 0 (no bonus hunters) the observed curve is exp(-h t), the latent one. The checks
# therefore compare curves conditioned on day 0 with truth survival / (1 - hunter share).
# Activity is "any" (app opens come ~3.5 a month, so 90 days without one is a churn: an alive
# user is silent that long with probability about exp(-10)) and holdings are not counted
# (held products mature after the latent churn).
SYSTEMATIC = 0.015  # allowance for users' different app-open rates and 30-day vs natural days


def _at(curve: pd.DataFrame, day: int, col: str = "survival") -> float:
    return float(curve[curve.day <= day][col].iloc[-1])


def _greenwood_log_var(data: pd.DataFrame, lo: int, hi: int) -> float:
    """Var of log S(hi)/S(lo) by Greenwood's formula, written here from the grouped lifetimes."""
    var = 0.0
    for t in sorted(d for d in data.duration_days.unique() if lo < d <= hi):
        n = int(data[data.duration_days >= t].users.sum())
        d = int(data[(data.duration_days == t) & (data.event == 1)].users.sum())
        if d and n > d:
            var += d / (n * (n - d))
    return var


@pytest.fixture(scope="module")
def demo():
    if not TRUTH.exists():
        pytest.skip("the demo dataset is not generated")
    return open_dataset(DEMO_DATA), json.loads(TRUTH.read_text(encoding="utf-8"))["churn"]


def test_demo_survival_follows_true_churn(demo) -> None:
    ds, truth = demo
    alive = 1 - truth["bonus_hunter_share_of_investors"]
    data = retention.survival_data(ds, activity_event="any", count_holdings=False,
                                   churn_days=90)
    km = retention.kaplan_meier(data)
    s0 = _at(km, 0)
    # bonus hunters (their life ends on the day of the first investment) and the investors who
    # churned before any further activity: the day-0 drop is about the hunters' share
    assert 1 - s0 == pytest.approx(truth["bonus_hunter_share_of_investors"], abs=0.05)
    # the curve, month by month while the data reach (the year of data less the 90 days that
    # confirm a churn: 9 months); tolerance 3 standard errors (Greenwood) + the allowance
    for m in range(1, 10):
        got = _at(km, 30 * m) / s0
        want = truth["survival"][m] / alive
        se = got * _greenwood_log_var(data, 0, 30 * m) ** 0.5
        assert abs(got - want) <= 3 * se + SYSTEMATIC, (m, got, want, se)
    # the monthly hazard: -log of the first month's survival (among those active after day 0).
    # truth is the mean h; the first month's mixture hazard is lower by Jensen's gap, about
    # 0.002 here (-log(truth survival[1] / alive) = 0.141 against 0.143), inside the allowance
    h = -np.log(_at(km, 30) / s0)
    se = _greenwood_log_var(data, 0, 30) ** 0.5
    assert abs(h - truth["monthly_hazard"]) <= 3 * se + SYSTEMATIC, (h, se)


def test_demo_channels_follow_true_churn(demo) -> None:
    ds, truth = demo
    data = retention.survival_data(ds, by="signup_channel", activity_event="any",
                                   count_holdings=False, churn_days=90)
    km = retention.kaplan_meier(data)
    est, want = [], []
    for channel, h_true in sorted(truth["per_channel"].items()):
        curve, sub = km[km.group == channel], data[data.group == channel]
        # each channel's first-month hazard within 3 standard errors (a few hundred investors
        # per channel: SE about 0.02-0.03) plus the allowance
        h = float(-np.log(_at(curve, 30) / _at(curve, 0)))
        se = _greenwood_log_var(sub, 0, 30) ** 0.5
        assert abs(h - h_true) <= 3 * se + SYSTEMATIC, (channel, h, h_true, se)
        est.append(h)
        want.append(h_true)
    # and the channels come in the true order: Spearman rank correlation, computed by hand
    rank = lambda v: pd.Series(v).rank().to_numpy()  # noqa: E731
    rho = float(np.corrcoef(rank(est), rank(want))[0, 1])
    assert rho >= 0.8, rho


def test_demo_cohort_curve_follows_true_churn(demo) -> None:
    """Day cohorts of first investors, 'on or after' (unbounded): retained at day k = still
    active on day k or later. Pooled over the cohorts whose day k has ended and conditioned on
    day 1 (as above, this removes the bonus hunters), it is the latent survival. Tolerance:
    3 binomial standard errors of the pooled users at day k (about 700 users at month 9:
    3 * sqrt(.3 * .7 / 700) = 0.05; 0.02 at month 1) plus the allowance."""
    ds, truth = demo
    alive = 1 - truth["bonus_hunter_share_of_investors"]
    cohorts = retention.cohort_retention(ds, cohort_by="first_investment", unit="day",
                                         return_event="any", mode="on_or_after", max_period=270)
    pooled = retention.pooled_curve(cohorts).set_index("period")
    for m in range(1, 10):
        got = pooled.rate[30 * m] / pooled.rate[1]
        want = truth["survival"][m] / alive
        se = (want * (1 - want) / pooled.users[30 * m]) ** 0.5
        assert abs(got - want) <= 3 * se + SYSTEMATIC, (m, got, want, se)


def test_cohort_matrix_brute_force(random_investors) -> None:
    """Monthly first-investment cohorts against a pure-Python count of the same logs."""
    ds, _users, txns = random_investors
    per: dict[str, list[dt.datetime]] = {}
    for t in txns:
        per.setdefault(t["user_id"], []).append(dt.datetime.fromisoformat(t["txn_time"]))

    def month(d: dt.datetime) -> int:
        return d.year * 12 + d.month - 1

    last_month = month(dt.datetime(2025, 12, 31))  # the analysis date ends December
    for mode in ("on", "on_or_after"):
        got = retention.cohort_retention(ds, cohort_by="first_investment", mode=mode)
        for row in got.itertuples():
            members = [ts for ts in per.values()
                       if month(min(ts)) == row.cohort.year * 12 + row.cohort.month - 1]
            assert row.users == len(members)
            k = row.period
            assert row.complete == (month(min(members[0])) + k < last_month + 1)
            if not row.complete:
                continue
            if mode == "on":
                expected = sum(any(month(t) - month(min(ts)) == k for t in ts) for ts in members)
            else:
                expected = sum(any(month(t) - month(min(ts)) >= k for t in ts) for ts in members)
            assert row.retained == expected, (mode, row.cohort, k)


# --------------------------------------------------------------------------- data shapes


@pytest.fixture(scope="module")
def two_weeks(tmp_path_factory) -> Path:
    """Two weeks of data: U1 signs up Saturday 03-01, invests 03-02 and 03-09; U2 signs up
    03-05, invests once 03-06. Analysis date Friday 2025-03-14: no month has ended."""
    return write_dataset(
        tmp_path_factory.mktemp("two_weeks") / "ds",
        users=[user("U1", "2025-03-01 10:00:00"), user("U2", "2025-03-05 10:00:00")],
        events=[event("register", "2025-03-01 10:00:00", "U1", "A1"),
                event("register", "2025-03-05 10:00:00", "U2", "A2")],
        transactions=[txn("T1", "U1", "2025-03-02 10:00:00", 100.0, 7),
                      txn("T2", "U1", "2025-03-09 10:00:00", 100.0, 7),
                      txn("T3", "U2", "2025-03-06 10:00:00", 100.0, 7)],
        config={"name": "two_weeks", "analysis_date": "2025-03-14"},
    )


def test_two_weeks_of_data(two_weeks) -> None:
    ds = open_dataset(two_weeks)
    # weeks from Monday 02-24: two have ended (the week of 03-10 runs): days, 03-01 to 03-14
    unit, periods = retention.default_unit(ds)
    assert (unit, periods) == ("day", 14)
    t = retention.cohort_retention(ds, unit="day", max_period=retention.periods_in(12, "day"))
    # day 1 after 03-01 is 03-02, U1's first investment; U2 (03-05) invests on its day 1 too
    head = retention.cohort_summary(t, "day")
    assert head["p1_rate"] == 1.0 and head["latest_cohort"] == "2025-03-05"
    with pytest.raises(NotAvailable, match="第 1 个月"):
        retention.cohort_summary(retention.cohort_retention(ds), "month")
    # no one can have been away 60 days (the first investment is 12 days back), nor 180
    for call in (retention.lifecycle, retention.lifecycle_flows, retention.at_risk_count):
        with pytest.raises(NotAvailable, match="只有 12 天"):
            call(ds)
    with pytest.raises(NotAvailable, match="churn_days"):
        retention.survival(ds)
    # no sign-up month has ended: the LTV curve cannot be read, nor LTV/CAC
    assert not retention.ltv_cohorts(ds).complete.any()
    with pytest.raises(NotAvailable, match="2025-03-01 到分析日 2025-03-14 还没有结束"):
        retention.ltv_curves(ds, by=None)
    with pytest.raises(NotAvailable, match="还没有结束"):
        retention.ltv_cac(ds)
    # with thresholds that fit two weeks the states are there, but no month has ended to see
    # a transition
    short = dict(dormant_days=3, churn_days=10)
    states = retention.lifecycle(ds, **short)
    # on 03-14: U1 held T2 to 03-16 (active), U2's T3 matured 03-13 (1 day): both new in March
    assert retention.lifecycle_summary(states)["new_now"] == 2
    flows = retention.lifecycle_flows(ds, **short)
    with pytest.raises(NotAvailable, match="两个自然月"):
        retention.transition_summary(flows, retention.comeback_gaps(ds), 3, 10)
    # the first to second investment: U1 of two, seven days apart
    got = retention.nth_summary(retention.nth_investment(ds))
    assert (got["first_investors"], got["second_investors"], got["second_gap_days"]) == (2, 1, 7.0)


def test_no_investments_and_no_second_investments(two_weeks, tmp_path) -> None:
    ds = open_dataset(two_weeks, analysis_date="2025-03-01")  # before any investment
    with pytest.raises(NotAvailable, match="没有投资记录"):
        retention.nth_investment(ds)
    with pytest.raises(NotAvailable, match="没有投资记录"):
        retention.lifecycle(ds)
    # one investment each: the counts beyond the first are real zeros
    folder = write_dataset(
        tmp_path / "once", users=[user("U1"), user("U2", "2025-01-02 10:00:00")],
        events=[event("register", "2025-01-01 10:00:00", "U1", "A1")],
        transactions=[txn("T1", "U1", "2025-01-02 10:00:00", 100.0),
                      txn("T2", "U2", "2025-01-03 10:00:00", 100.0)],
        config={"analysis_date": "2025-12-31"})
    nth = retention.nth_investment(open_dataset(folder))
    assert nth.users.tolist() == [2, 0, 0, 0, 0]
    got = retention.nth_summary(nth)
    assert got["second_investors"] == 0 and got["second_rate"] == 0.0
    assert np.isnan(got["second_gap_days"]) and got["fifth_rate"] == 0.0

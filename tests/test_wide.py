"""The user wide table against values worked out by hand on the tiny dataset."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import event, txn, user, write_dataset

from growthloop.marts.wide import WIDE_COLUMNS, user_wide
from growthloop.metrics.profiling import layer_expr
from growthloop.staging.loader import open_dataset


@pytest.fixture
def wide(tiny: Path):
    return user_wide(open_dataset(tiny)).execute().set_index("user_id")


def test_columns_and_one_row_per_user(wide) -> None:
    assert list(wide.reset_index().columns) == list(WIDE_COLUMNS)
    assert sorted(wide.index) == ["U1", "U2", "U3"]


def test_demographics(wide) -> None:
    # analysis year 2025: U1 born 2003 is 22, U2 born 1975 is 50, U3 has no birth year
    assert wide.loc["U1", "age_band"] == "18-24"
    assert wide.loc["U2", "age_band"] == "45-55"
    assert wide.loc["U3", "age_band"] == "未知"
    assert wide.loc["U1", "region"] == "华南" and wide.loc["U1", "city_tier"] == "一线"
    assert wide.loc["U2", "city_tier"] == "新一线"
    assert wide.loc["U3", "city_tier"] == "三线"
    assert wide.loc["U2", "signup_channel"] == "信息流广告"


def test_money_and_milestones(wide) -> None:
    u1 = wide.loc["U1"]
    assert u1["invest_count"] == 2 and u1["invest_amount"] == 4000.0
    assert u1["first_invest_amount"] == 1000.0 and u1["first_invest_term_days"] == 30
    assert str(u1["second_invest_at"]) == "2025-02-10 09:00:00"
    # T1 (30 days from 01-02) has matured by 03-31; T2 (90 days from 02-10) is still held
    assert u1["aum"] == 3000.0
    # revenue from the 2% annual margin: 1000*0.02*30/365 + 3000*0.02*90/365
    assert u1["revenue"] == pytest.approx(1000 * 0.02 * 30 / 365 + 3000 * 0.02 * 90 / 365)
    assert str(u1["bind_card_at"]) == "2025-01-01 10:30:00"
    # 活期 of U2 counts as held for 30 days only: matured by the analysis date
    assert wide.loc["U2", "aum"] == 0.0
    assert not wide.loc["U3", "is_investor"] and wide.loc["U3", "invest_count"] == 0


def test_day_counts_use_natural_days(wide) -> None:
    # 02-10 to 03-31: 18 + 31 days; 01-06 to 03-31: 25 + 28 + 31
    assert wide.loc["U1", "days_since_last_invest"] == 49
    assert wide.loc["U2", "days_since_last_invest"] == 84
    assert wide.loc["U1", "tenure_days"] == 89
    # U2's last activity is an app_open on 03-01
    assert wide.loc["U2", "days_since_active"] == 30


def test_exact_quantiles_refused_where_the_engine_computes_them_differently(tiny: Path,
                                                                           monkeypatch) -> None:
    from growthloop import engine
    from growthloop.metrics import funnel, retention, rfm

    ds = open_dataset(tiny)
    seg = rfm.segments(ds)  # mean split: no median needed, built before the switch
    # pretend the engine is ClickHouse, whose Ibis median/quantile is not DuckDB's
    monkeypatch.setattr(engine, "backend_name", lambda con: "clickhouse")
    calls = {
        "funnel.time_to_convert": lambda: funnel.time_to_convert(ds, steps=["register", "bind_card"]),
        "retention.nth_investment": lambda: retention.nth_investment(ds),
        'rfm split="median"': lambda: rfm.segments(ds, split="median"),
        "rfm.distribution_summary": lambda: rfm.distribution_summary(seg),
    }
    for what, call in calls.items():
        with pytest.raises(NotImplementedError, match="clickhouse backend") as info:
            call()
        assert what in str(info.value)
    # approximate quantiles and the mean split need no exact quantile: they still run
    stats, _ = funnel.time_to_convert(ds, steps=["register", "bind_card"], exact=False)
    assert stats.conversions.tolist() == [1]
    assert rfm.segment_table(rfm.segments(ds, split="mean")).users.sum() == 2


def test_money_is_summed_exactly_so_a_round_holding_reaches_its_tier(tmp_path: Path) -> None:
    # 4,128.82 + 1,179.31 + 3,740.95 + 950.92 = 10,000.00 yuan; added as floats, 9,999.999999999998,
    # which would put U1 under 1万 (a holding equal to a bound goes up)
    amounts = [4128.82, 1179.31, 3740.95, 950.92]
    assert sum(amounts) < 10_000
    folder = write_dataset(
        tmp_path / "d", users=[user("U1")], events=[event("register", "2025-01-01 10:00:00", "U1")],
        transactions=[txn(f"T{i}", "U1", f"2025-03-0{i + 1} 09:00:00", a, 90)
                      for i, a in enumerate(amounts)],
        config={"name": "d", "analysis_date": "2025-03-31"})
    wide = user_wide(open_dataset(folder))
    row = wide.mutate(layer=layer_expr(wide)).execute().iloc[0]
    assert (row["invest_amount"], row["aum"]) == (10_000.0, 10_000.0)
    assert row["layer"] == "1万-5万"

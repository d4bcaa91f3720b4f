"""Loading and validation: every row used or set aside with a reason; fatal rules raise."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import event, txn, user, write_dataset

from growthloop.staging.config import ConfigError
from growthloop.staging.loader import DataError, open_dataset


def _reasons(ds) -> dict[tuple[str, str], int]:
    return {(r.table, r.rule): r.rows for r in ds.quality.set_aside}


def test_tiny_loads_everything(tiny: Path) -> None:
    ds = open_dataset(tiny)
    summary = ds.quality.summary().set_index("table")
    assert summary.loc["users", "rows_used"] == 3
    assert summary.loc["events", "rows_used"] == 6
    assert summary.loc["transactions", "rows_used"] == 3
    assert ds.quality.missing_tables == ["costs", "campaigns", "campaign_members"]
    assert str(ds.analysis_date) == "2025-03-31"


def test_rows_read_equal_used_plus_set_aside(tmp_path: Path) -> None:
    folder = write_dataset(
        tmp_path / "d",
        users=[user("U1"), user("U2"), user("U2"), user(None), user("U4", registered_at="not a date")],
        events=[event("register", "2025-01-01 10:00:00", "U1"),
                event("page_view", "2025-01-01 11:00:00", "U1"),
                event("register", "2024-06-01 10:00:00", "U2"),
                event("app_open", "2025-01-02 10:00:00", "U9"),
                event("app_open", "2025-01-02 10:00:00", None, None)],
        transactions=[txn("T1", "U1", "2025-01-02 09:00:00", 100.0),
                      txn("T2", "U9", "2025-01-02 09:00:00", 100.0),
                      txn("T3", "U1", "2025-01-02 09:00:00", 0.0),
                      txn("T4", "U1", "2025-01-02 09:00:00", 5.0, status="failed"),
                      txn("T5", "U1", "2024-01-02 09:00:00", 5.0)],
        fmt="csv",
    )
    ds = open_dataset(folder, max_set_aside_share=1.0)
    summary = ds.quality.summary().set_index("table")
    for table in ("users", "events", "transactions"):
        assert summary.loc[table, "rows_read"] == summary.loc[table, "rows_used"] + summary.loc[table, "rows_set_aside"]
    reasons = _reasons(ds)
    # by hand: users U2 twice (an exact copy), a null id, an unparseable time
    assert reasons[("users", "exact duplicate row")] == 1
    assert reasons[("users", "user_id is missing")] == 1
    assert reasons[("users", "registered_at does not parse as timestamp")] == 1
    # page_view is the platform's own event: kept, never set aside for its name
    assert not any(rule.startswith("event name") for _table, rule in reasons)
    assert {r["name"] for r in ds.quality.event_names} == {"register", "page_view"}
    assert reasons[("events", "event before the user's sign-up")] == 1
    assert reasons[("events", "event of a user not in users")] == 1
    assert reasons[("events", "event has neither user_id nor anonymous_id")] == 1
    assert reasons[("transactions", "amount is zero or negative")] == 1
    assert reasons[("transactions", "transaction not successful")] == 1
    assert reasons[("transactions", "transaction of a user not in users")] == 1
    assert reasons[("transactions", "transaction before the user's sign-up")] == 1
    assert ds.transactions.count().execute() == 1
    assert set(ds.users.user_id.execute()) == {"U1", "U2"}


def test_conflicting_duplicate_keys_are_set_aside(tmp_path: Path) -> None:
    folder = write_dataset(
        tmp_path / "d",
        users=[user("U1"), user("U2", gender="男"), user("U2", gender="女")],
        events=[event("register", "2025-01-01 10:00:00", "U1")],
        transactions=[txn("T1", "U1", "2025-01-02 09:00:00", 100.0)],
    )
    ds = open_dataset(folder, max_set_aside_share=1.0)
    assert _reasons(ds)[("users", "key appears with different values")] == 2
    assert ds.users.count().execute() == 1


def test_missing_required_table_names_it(tmp_path: Path) -> None:
    folder = write_dataset(tmp_path / "d", users=[user("U1")], events=[event("register", "2025-01-01 10:00:00", "U1")])
    with pytest.raises(DataError, match=r"table 'transactions': table is missing"):
        open_dataset(folder)


def test_missing_column_names_table_column_and_hint(tmp_path: Path) -> None:
    folder = write_dataset(tmp_path / "d", users=[user("U1")],
                           events=[event("register", "2025-01-01 10:00:00", "U1")],
                           transactions=[txn("T1", "U1", "2025-01-02 09:00:00", 100.0)])
    frame = pd.read_parquet(folder / "transactions.parquet").drop(columns=["amount"])
    frame.to_parquet(folder / "transactions.parquet")
    with pytest.raises(DataError) as err:
        open_dataset(folder)
    assert err.value.table == "transactions" and err.value.column == "amount"
    assert "dataset.yml" in str(err.value)


def test_mostly_bad_column_stops_with_example(tmp_path: Path) -> None:
    folder = write_dataset(
        tmp_path / "d", fmt="csv",
        users=[user("U1")],
        events=[event("register", "2025-01-01 10:00:00", "U1")],
        transactions=[txn(f"T{i}", "U1", "2025-01-02 09:00:00", "lots") for i in range(4)]
        + [txn("T9", "U1", "2025-01-02 09:00:00", 10.0)],
    )
    with pytest.raises(DataError) as err:
        open_dataset(folder)
    assert err.value.table == "transactions"
    assert err.value.column == "amount"
    assert err.value.rows == 4
    assert err.value.example["txn_id"] == "T0"


def test_mapping_and_gbk(tmp_path: Path) -> None:
    """A Chinese export: GBK CSV, Chinese headers and event names mapped in dataset.yml."""
    folder = tmp_path / "export"
    folder.mkdir()
    pd.DataFrame({"用户ID": ["U1"], "注册时间": ["2025/01/01 10:00"], "出生年份": [1990], "性别": ["M"],
                  "省份": ["广东"], "城市": ["深圳"], "设备": ["iOS"]}).to_csv(folder / "用户.csv", index=False, encoding="gbk")
    pd.DataFrame({"时间": ["2025-01-01 10:00:00"], "事件": ["注册"], "用户ID": ["U1"], "设备ID": ["A1"]}).to_csv(
        folder / "events.csv", index=False, encoding="utf-8-sig")
    write_dataset(folder, transactions=[txn("T1", "U1", "2025-01-02 09:00:00", 100.0)])
    config = {
        "tables": {
            "users": {"file": "用户.csv", "encoding": "gbk",
                      "columns": {"用户ID": "user_id", "注册时间": "registered_at", "出生年份": "birth_year",
                                  "性别": "gender", "省份": "province", "城市": "city", "设备": "device_os"},
                      "values": {"gender": {"M": "男", "F": "女"}}},
            "events": {"columns": {"时间": "event_time", "事件": "event_name", "用户ID": "user_id", "设备ID": "anonymous_id"},
                       "values": {"event_name": {"注册": "register"}}},
        }
    }
    import yaml
    (folder / "dataset.yml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    ds = open_dataset(folder)
    users = ds.users.execute()
    assert users.loc[0, "gender"] == "男"
    assert str(users.loc[0, "registered_at"]) == "2025-01-01 10:00:00"
    assert ds.events.event_name.execute().tolist() == ["register"]


def test_zoned_timestamps_become_shanghai_local(tmp_path: Path) -> None:
    folder = write_dataset(
        tmp_path / "d", fmt="csv",
        users=[user("U1", registered_at="2025-01-01T02:00:00+00:00")],
        events=[event("register", "2025-01-01T02:00:00Z", "U1")],
        transactions=[txn("T1", "U1", "2025-01-01 23:30:00", 100.0)],
    )
    ds = open_dataset(folder)
    assert str(ds.users.registered_at.execute()[0]) == "2025-01-01 10:00:00"
    assert str(ds.events.event_time.execute()[0]) == "2025-01-01 10:00:00"


def test_bad_config_is_named(tmp_path: Path) -> None:
    folder = write_dataset(tmp_path / "d", config={"tables": {"user": {}}}, users=[user("U1")])
    with pytest.raises(ConfigError, match="tables.user is not a contract table"):
        open_dataset(folder)


def test_csv_and_parquet_load_the_same(tmp_path: Path) -> None:
    """The generator's CSV output loads to the same clean tables as its Parquet output."""
    from growthloop.demo import generate_dataset

    generate_dataset(tmp_path / "p", n_users=400, seed=3)
    generate_dataset(tmp_path / "c", n_users=400, seed=3, fmt="csv")
    parquet, csv = open_dataset(tmp_path / "p"), open_dataset(tmp_path / "c")
    for name in ("users", "transactions", "campaign_members", "costs"):
        a = getattr(parquet, name).execute()
        b = getattr(csv, name).execute()
        pd.testing.assert_frame_equal(a, b, check_dtype=False, check_exact=False)
    assert parquet.quality.summary().equals(csv.quality.summary())

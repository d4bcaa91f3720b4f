"""A corpus of bad inputs: every case ends in a clear DataError or a counted quarantine.

Each quarantine case builds a small CSV dataset (ten good rows per table, so that one bad row
stays under the 20% stop rule), adds the bad rows, and checks the *complete* list of reasons
with exact counts worked out by hand from the rows written, plus the accounting: for every
table, rows read = rows used + rows set aside, and rows used = rows in the clean table.
Each error case checks the table, column, rule, count and example row the message names.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import event, txn, user, write_dataset
from typer.testing import CliRunner

from growthloop.run.cli import app
from growthloop.staging.config import ConfigError
from growthloop.staging.loader import MAX_AMOUNT, DataError, Dataset, open_dataset

TODAY = dt.date(2025, 6, 30)  # the run's "today", fixed so that the cases never age
CONFIG = {"name": "bad", "analysis_date": "2025-03-31"}
USERS = [f"U{i}" for i in range(10)]


def base_tables() -> dict[str, list[dict]]:
    """Ten good rows per table: users U0-U9, their sign-ups and one investment each."""
    return {
        "users": [user(u, f"2025-01-{i + 1:02d} 10:00:00") for i, u in enumerate(USERS)],
        "events": [event("register", f"2025-01-{i + 1:02d} 10:00:00", u, f"A{i}") for i, u in enumerate(USERS)],
        "transactions": [txn(f"T{i}", u, f"2025-01-{i + 1:02d} 12:00:00", 1000.0) for i, u in enumerate(USERS)],
        "costs": [{"date": f"2025-01-{i + 1:02d}", "utm_source": "baidu", "utm_medium": "cpc",
                   "utm_campaign": "brand", "spend": 100.0} for i in range(10)],
        "campaigns": [{"campaign_id": "C1", "name": "复投提醒", "channel": "sms",
                       "start_at": "2025-02-01 10:00:00", "goal": "any_investment", "window_days": 7}],
        "campaign_members": [{"campaign_id": "C1", "user_id": u, "group": "control" if i < 2 else "treatment",
                              "sent_at": None if i < 2 else "2025-02-01 10:00:00"}
                             for i, u in enumerate(USERS)],
    }


def build(folder: Path, config: dict | None = None, full: bool = True, **extra: list[dict]) -> Path:
    """The base tables with `extra` rows appended per table, written as CSV.

    `full=False` writes only the required tables and those named in `extra` (faster loads).
    """
    tables = base_tables()
    if not full:
        keep = {"users", "events", "transactions", *extra}
        if "campaign_members" in keep:
            keep.add("campaigns")
        tables = {k: v for k, v in tables.items() if k in keep}
    for name, rows in extra.items():
        tables[name] = tables[name] + rows
    return write_dataset(folder, fmt="csv", config=config or CONFIG, **tables)


def load(folder: Path, **kwargs) -> Dataset:
    kwargs.setdefault("today", TODAY)
    ds = open_dataset(folder, **kwargs)
    assert_balanced(ds)
    return ds


def assert_balanced(ds: Dataset) -> None:
    """Rows read = rows used + rows set aside per table, and used = the clean table's rows."""
    summary = ds.quality.summary()
    assert set(summary.table) == set(ds.tables)
    for row in summary.itertuples(index=False):
        assert row.rows_read == row.rows_used + row.rows_set_aside, row
        assert row.rows_used == ds.tables[row.table].count().to_pyarrow().as_py(), row


def reasons(ds: Dataset) -> dict[tuple[str, str], int]:
    return {(r.table, r.rule): r.rows for r in ds.quality.set_aside}


def rows_used(ds: Dataset, table: str) -> int:
    return int(ds.quality.used[table])


# --------------------------------------------------------------------------------------------
# Quarantine: one case per table and rule. Expected = every reason of the load, by hand.

AMOUNT_CAP_RULE = f"amount is above max_amount ({MAX_AMOUNT:,.0f} yuan)"
MEMBER = {"campaign_id": "C1", "group": "treatment", "sent_at": "2025-02-01 10:00:00"}
COST = {"utm_source": "baidu", "utm_medium": "cpc", "utm_campaign": "brand", "spend": 100.0}

QUARANTINE: list[tuple[str, dict, dict]] = [
    # users
    ("users null key", {"users": [user(None)]}, {("users", "user_id is missing"): 1}),
    ("users blank-text key", {"users": [user("   ")]}, {("users", "user_id is missing"): 1}),
    ("users NULL-token key", {"users": [user("NULL")]}, {("users", "user_id is missing"): 1}),
    ("users exact copy", {"users": [user("U0", "2025-01-01 10:00:00")]}, {("users", "exact duplicate row"): 1}),
    ("users sign-up not a time", {"users": [user("U10", "yesterday")]},
     {("users", "registered_at does not parse as timestamp"): 1}),
    ("users sign-up missing", {"users": [user("U10", "")]}, {("users", "registered_at is missing"): 1}),
    ("users birth year not a number", {"users": [user("U10", birth_year="九零后")]},
     {("users", "birth_year does not parse as int64"): 1}),
    ("users birth year not whole", {"users": [user("U10", birth_year="1990.5")]},
     {("users", "birth_year does not parse as int64"): 1}),
    ("users sign-up after today", {"users": [user("U10", "2025-07-01 00:00:00")]},
     {("users", "registered_at is after today"): 1}),
    # events
    ("events no id at all", {"events": [event("app_open", "2025-02-01 10:00:00", None, None)]},
     {("events", "event has neither user_id nor anonymous_id"): 1}),
    ("events name missing", {"events": [event("", "2025-02-01 10:00:00", "U1")]},
     {("events", "event_name is missing"): 1}),
    ("events own name (kept)", {"events": [event("page_view", "2025-02-01 10:00:00", "U1")]},
     {}),
    ("events unknown user", {"events": [event("app_open", "2025-02-01 10:00:00", "U99")]},
     {("events", "event of a user not in users"): 1}),
    ("events before sign-up", {"events": [event("app_open", "2025-01-05 09:58:59", "U4")]},
     {("events", "event before the user's sign-up"): 1}),
    ("events time not a time", {"events": [event("app_open", "2025-13-01 10:00:00", "U1")]},
     {("events", "event_time does not parse as timestamp"): 1}),
    ("events time infinite", {"events": [event("app_open", "-infinity", "U1")]},
     {("events", "event_time does not parse as timestamp"): 1}),
    ("events time missing", {"events": [event("app_open", "", "U1")]}, {("events", "event_time is missing"): 1}),
    ("events after today", {"events": [event("app_open", "2099-01-01 10:00:00", "U1")]},
     {("events", "event_time is after today"): 1}),
    # transactions
    ("transactions null key", {"transactions": [txn(None, "U1", "2025-02-01 10:00:00", 5.0)]},
     {("transactions", "txn_id is missing"): 1}),
    ("transactions null user", {"transactions": [txn("T10", None, "2025-02-01 10:00:00", 5.0)]},
     {("transactions", "user_id is missing"): 1}),
    ("transactions exact copy", {"transactions": [txn("T0", "U0", "2025-01-01 12:00:00", 1000.0)]},
     {("transactions", "exact duplicate row"): 1}),
    # two versions of T0 (the base row and this one): both aside, there is no right one
    ("transactions key twice", {"transactions": [txn("T0", "U0", "2025-01-01 12:00:00", 2000.0)]},
     {("transactions", "key appears with different values"): 2}),
    ("transactions amount missing", {"transactions": [txn("T10", "U1", "2025-02-01 10:00:00", None)]},
     {("transactions", "amount is missing"): 1}),
    ("transactions amount text", {"transactions": [txn("T10", "U1", "2025-02-01 10:00:00", "1,000元")]},
     {("transactions", "amount does not parse as float64"): 1}),
    ("transactions amount infinite", {"transactions": [txn("T10", "U1", "2025-02-01 10:00:00", "inf")]},
     {("transactions", "amount does not parse as float64"): 1}),
    ("transactions amount zero", {"transactions": [txn("T10", "U1", "2025-02-01 10:00:00", 0.0)]},
     {("transactions", "amount is zero or negative"): 1}),
    ("transactions amount negative", {"transactions": [txn("T10", "U1", "2025-02-01 10:00:00", -500.0)]},
     {("transactions", "amount is zero or negative"): 1}),
    ("transactions amount absurd", {"transactions": [txn("T10", "U1", "2025-02-01 10:00:00", 2.5e7)]},
     {("transactions", AMOUNT_CAP_RULE): 1}),
    # a revenue or a day's spend of 10^15 yuan or more is no money (and would overflow exact sums)
    ("transactions revenue absurd",
     {"transactions": [txn("T10", "U1", "2025-02-01 10:00:00", 5.0, revenue=3e20)]},
     {("transactions", "revenue is 1,000,000,000,000,000 yuan or more (not an amount of money)"): 1}),
    ("transactions term negative", {"transactions": [txn("T10", "U1", "2025-02-01 10:00:00", 5.0, -30)]},
     {("transactions", "term_days is negative"): 1}),
    ("transactions term beyond int64", {"transactions": [txn("T10", "U1", "2025-02-01 10:00:00", 5.0, "9" * 30)]},
     {("transactions", "term_days does not parse as int64"): 1}),
    ("transactions term not whole", {"transactions": [txn("T10", "U1", "2025-02-01 10:00:00", 5.0, "30.5")]},
     {("transactions", "term_days does not parse as int64"): 1}),
    ("transactions failed (informational)",
     {"transactions": [txn("T10", "U1", "2025-02-01 10:00:00", 5.0, status="failed")]},
     {("transactions", "transaction not successful"): 1}),
    ("transactions unknown user", {"transactions": [txn("T10", "U99", "2025-02-01 10:00:00", 5.0)]},
     {("transactions", "transaction of a user not in users"): 1}),
    ("transactions before sign-up", {"transactions": [txn("T10", "U9", "2025-01-10 09:00:00", 5.0)]},
     {("transactions", "transaction before the user's sign-up"): 1}),
    ("transactions after today", {"transactions": [txn("T10", "U1", "2025-07-01 00:00:00", 5.0)]},
     {("transactions", "txn_time is after today"): 1}),
    # costs
    ("costs date missing", {"costs": [{**COST, "date": None}]}, {("costs", "date is missing"): 1}),
    ("costs date not a date", {"costs": [{**COST, "date": "2025-02-30"}]},
     {("costs", "date does not parse as date"): 1}),
    ("costs spend missing", {"costs": [{**COST, "date": "2025-02-01", "spend": None}]},
     {("costs", "spend is missing"): 1}),
    ("costs spend negative", {"costs": [{**COST, "date": "2025-02-01", "spend": -1.0}]},
     {("costs", "spend is negative"): 1}),
    ("costs spend absurd", {"costs": [{**COST, "date": "2025-02-01", "spend": 1e15}]},
     {("costs", "spend is 1,000,000,000,000,000 yuan or more (not an amount of money)"): 1}),
    ("costs exact copy", {"costs": [{**COST, "date": "2025-01-01"}]}, {("costs", "exact duplicate row"): 1}),
    ("costs clicks negative", {"costs": [{**COST, "date": "2025-02-02", "clicks": -3}]},
     {("costs", "clicks is negative"): 1}),
    ("costs key twice", {"costs": [{**COST, "date": "2025-01-01", "spend": 90.0}]},
     {("costs", "key appears with different values"): 2}),
    ("costs after today", {"costs": [{**COST, "date": "2025-07-01"}]}, {("costs", "date is after today"): 1}),
    # campaigns (one base campaign, so a bad one is 1 of 2 rows: allowed by a higher share)
    ("campaigns null key", {"campaigns": [{"campaign_id": None, "start_at": "2025-02-01 10:00:00"}]},
     {("campaigns", "campaign_id is missing"): 1}),
    ("campaigns start missing", {"campaigns": [{"campaign_id": "C2", "start_at": None}]},
     {("campaigns", "start_at is missing"): 1}),
    ("campaigns cost per send negative",
     {"campaigns": [{"campaign_id": "C2", "start_at": "2025-02-01 10:00:00", "cost_per_send": -0.05}]},
     {("campaigns", "cost_per_send is negative"): 1}),
    ("campaigns reward negative",
     {"campaigns": [{"campaign_id": "C2", "start_at": "2025-02-01 10:00:00", "cost_per_reward": -5}]},
     {("campaigns", "cost_per_reward is negative"): 1}),
    ("campaigns window zero",
     {"campaigns": [{"campaign_id": "C2", "start_at": "2025-02-01 10:00:00", "window_days": 0}]},
     {("campaigns", "window_days is not a positive number of days"): 1}),
    ("campaigns window not a number",
     {"campaigns": [{"campaign_id": "C2", "start_at": "2025-02-01 10:00:00", "window_days": "7天"}]},
     {("campaigns", "window_days does not parse as int64"): 1}),
    # campaign members
    ("members in both groups", {"campaign_members": [{**MEMBER, "user_id": "U0", "group": "treatment"}]},
     {("campaign_members", "member is in both treatment and control"): 2}),
    ("members sent twice", {"campaign_members": [{**MEMBER, "user_id": "U2", "sent_at": "2025-02-02 10:00:00"}]},
     {("campaign_members", "key appears with different values"): 2}),
    ("members exact copy", {"campaign_members": [{**MEMBER, "user_id": "U2"}]},
     {("campaign_members", "exact duplicate row"): 1}),
    ("members null user", {"campaign_members": [{**MEMBER, "user_id": None}]},
     {("campaign_members", "user_id is missing"): 1}),
    ("members odd group", {"campaign_members": [{**MEMBER, "user_id": "U1", "campaign_id": "C9", "group": "holdout"}]},
     {("campaign_members", "group is neither treatment nor control"): 1}),
    ("members unknown campaign", {"campaign_members": [{**MEMBER, "user_id": "U1", "campaign_id": "C9"}]},
     {("campaign_members", "campaign not in campaigns"): 1}),
    ("members unknown user", {"campaign_members": [{**MEMBER, "user_id": "U99"}]},
     {("campaign_members", "member not in users"): 1}),
    ("members delivered not a boolean", {"campaign_members": [{**MEMBER, "user_id": "U99", "delivered": "也许"}]},
     {("campaign_members", "delivered does not parse as boolean"): 1}),
    ("members sent after today", {"campaign_members": [{**MEMBER, "user_id": "U99", "sent_at": "2025-07-01 08:00:00"}]},
     {("campaign_members", "sent_at is after today"): 1}),
]


@pytest.mark.parametrize(("extra", "expected"), [(e, x) for _, e, x in QUARANTINE],
                         ids=[case[0] for case in QUARANTINE])
def test_quarantine_case(tmp_path: Path, extra: dict, expected: dict) -> None:
    ds = load(build(tmp_path / "d", full=False, **extra), max_set_aside_share=0.5)
    assert reasons(ds) == expected
    # only the table with the bad rows lost rows, and exactly the rows counted
    base = {name: len(rows) for name, rows in base_tables().items()}
    for name in ds.tables:
        added = len(extra.get(name, []))
        aside = sum(n for (table, _), n in expected.items() if table == name)
        assert ds.quality.read[name] == base[name] + added
        assert rows_used(ds, name) == base[name] + added - aside


def test_every_rule_in_the_corpus_has_a_case() -> None:
    """The corpus names each set-aside rule of every table (rule labels from the loader)."""
    covered = {rule for _, _, expected in QUARANTINE for (_, rule) in expected}
    for must in ("event before the user's sign-up", "transaction of a user not in users",
                 "member is in both treatment and control", AMOUNT_CAP_RULE, "exact duplicate row",
                 "key appears with different values", "spend is negative", "campaign not in campaigns",
                 "clicks is negative", "cost_per_send is negative", "cost_per_reward is negative",
                 "window_days is not a positive number of days"):
        assert must in covered


def test_null_tokens_are_missing_values_not_bad_rows(tmp_path: Path) -> None:
    """NULL, \\N, NaN and blanks in a nullable column are missing values: the row is kept."""
    folder = build(tmp_path / "d", full=False, users=[user("U10", birth_year="NULL"), user("U11", birth_year="\\N"),
                                          user("U12", birth_year="NaN"), user("U13", birth_year="")])
    ds = load(folder)
    assert reasons(ds) == {}
    years = ds.users.filter(ds.users.user_id.isin(["U10", "U11", "U12", "U13"])).birth_year
    assert years.count().execute() == 0  # all four null
    assert rows_used(ds, "users") == 14


def test_null_tokens_by_their_byte_length_match_the_rule_in_characters() -> None:
    """The null-token test counts bytes on DuckDB: every value comes out as the rule in
    characters says (trimmed; blank or, upper-cased, one of NULL_TOKENS: missing), short texts
    of several bytes per character included."""
    import ibis

    from growthloop.engine import connect_duckdb
    from growthloop.staging.loader import NULL_TOKENS, _null_tokens

    values = [None, "", " ", "null", " N/a ", "#n/a", "\\n", "nan", "NONE\t", "nul", "n/a/",
              "空", "空值", "ＮＵＬＬ", "naïve", "né", "\u3000", "İ", "a"]
    con = connect_duckdb()
    t = ibis.memtable({"i": list(range(len(values))), "v": values})
    got = con.execute(t.select("i", v=_null_tokens(t.v)).order_by("i")).v.tolist()
    stripped = [None if v is None else v.strip(" \t\n\r\v\f") for v in values]
    expected = [None if v is None or v == "" or v.upper() in NULL_TOKENS else v for v in stripped]
    assert [None if pd.isna(v) else v for v in got] == expected
    assert expected.count(None) == 9
    con.disconnect()


def test_trimming_tests_the_ends_first_and_trims_as_strip_does() -> None:
    """DuckDB trims only values whose first or last code point is at or below a space; every
    value comes out as Python's strip of space, tab, newline, carriage return, vertical tab and
    form feed (Ibis' strip on DuckDB) makes it: a prepended Arabic sign before a trailing space
    (one grapheme, so a test of the last grapheme would miss it), a combining accent at the end,
    an ideographic space (not trimmed), blanks."""
    import ibis

    from growthloop.engine import connect_duckdb
    from growthloop.staging.loader import _trimmed

    values = [None, "", " ", "\t\n", "a", " a", "a ", "\ta\n", " 中文\n", "中文", "a\u0600 ",
              "e\u0301", "e\u0301 ", "x\r", "\x0bx\x0c", "a b", "\u3000a"]
    con = connect_duckdb()
    t = ibis.memtable({"i": list(range(len(values))), "v": values})
    got = con.execute(t.select("i", trimmed=_trimmed(t.v)).order_by("i")).trimmed.tolist()
    expected = [None if v is None else v.strip(" \t\n\r\v\f") for v in values]
    assert got == expected
    assert got[10] == "a\u0600" and got[13] == "x" and got[16] == "\u3000a"
    con.disconnect()


def test_absurd_amount_cap_is_a_parameter(tmp_path: Path) -> None:
    """Absurd = above max_amount yuan (default 10,000,000); the cap can be set per load."""
    folder = build(tmp_path / "d", full=False, transactions=[txn("T10", "U1", "2025-02-01 10:00:00", 60_000.0)])
    assert reasons(load(folder)) == {}
    ds = load(folder, max_amount=50_000)
    assert reasons(ds) == {("transactions", "amount is above max_amount (50,000 yuan)"): 1}
    assert rows_used(ds, "transactions") == 10
    with pytest.raises(ValueError, match="max_amount"):
        open_dataset(folder, max_amount=0)
    with pytest.raises(ValueError, match="max_amount"):  # beyond any amount of money
        open_dataset(folder, max_amount=1e15)


def test_nan_in_parquet_is_missing(tmp_path: Path) -> None:
    """A NaN written by a non-pandas tool: a missing revenue is kept, a missing amount set aside."""
    folder = write_dataset(tmp_path / "d", config=CONFIG, **{k: v for k, v in base_tables().items()
                                                             if k in ("users", "events", "transactions")})
    table = pq.read_table(folder / "transactions.parquet")
    amount = [float("nan")] + [1000.0] * 9
    revenue = [1.0, float("nan")] + [1.0] * 8
    table = table.set_column(table.schema.get_field_index("amount"), "amount", pa.array(amount, pa.float64()))
    table = table.set_column(table.schema.get_field_index("revenue"), "revenue", pa.array(revenue, pa.float64()))
    pq.write_table(table, folder / "transactions.parquet")
    ds = load(folder)
    assert reasons(ds) == {("transactions", "amount is missing"): 1}
    revenue_t1 = ds.transactions.filter(ds.transactions.txn_id == "T1").revenue.execute()
    assert revenue_t1.isna().all() and len(revenue_t1) == 1


# --------------------------------------------------------------------------------------------
# Time: formats, zones, the analysis date and "today"

TIME_FORMATS = [  # (text in the file, Shanghai local time); each is user U0..U6's sign-up
    ("2025-01-01 10:00:00", "2025-01-01 10:00:00"),
    ("2025/01/01 10:00", "2025-01-01 10:00:00"),
    ("2025/1/1 10:00", "2025-01-01 10:00:00"),         # Excel's default display
    ("2025-01-01T10:00:00+08:00", "2025-01-01 10:00:00"),
    ("2025-01-01T02:00:00Z", "2025-01-01 10:00:00"),    # UTC 02:00 is 10:00 in Shanghai
    ("2025-01-01T03:00:00+01:00", "2025-01-01 10:00:00"),
    ("2024-12-31 18:00:00-08:00", "2025-01-01 10:00:00"),
    ("2025-01-01 10:00:00 CST", "2025-01-01 10:00:00"),  # China Standard Time, not US Central
]


@pytest.fixture(scope="module")
def formats_ds(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    """One load for all formats: user U<i> signs up at TIME_FORMATS[i] (text as written)."""
    tables = base_tables()
    for i, (text, _) in enumerate(TIME_FORMATS):
        tables["users"][i] = user(f"U{i}", text)
    tables = {k: v for k, v in tables.items() if k in ("users", "events", "transactions")}
    tables["events"] = [event("register", "2025-01-11 10:00:00", u, f"A{i}") for i, u in enumerate(USERS)]
    tables["transactions"] = [txn(f"T{i}", u, "2025-01-11 12:00:00", 1000.0) for i, u in enumerate(USERS)]
    return load(write_dataset(tmp_path_factory.mktemp("formats"), fmt="csv", config=CONFIG, **tables))


@pytest.mark.parametrize("i", range(len(TIME_FORMATS)), ids=[t for t, _ in TIME_FORMATS])
def test_timestamp_formats_and_zones(formats_ds: Dataset, i: int) -> None:
    ds = formats_ds
    got = ds.users.filter(ds.users.user_id == f"U{i}").registered_at.execute()
    assert [str(v) for v in got] == [TIME_FORMATS[i][1]]
    assert reasons(ds) == {}


def test_zoned_parquet_timestamp_and_zoned_date(tmp_path: Path) -> None:
    """A tz-aware Parquet column and a zoned text in a date column end as Shanghai local."""
    tables = base_tables()
    tables["costs"][0]["date"] = "2025-01-01T20:00:00Z"  # 04:00 on 2 January in Shanghai
    folder = write_dataset(tmp_path / "d", config=CONFIG, **{k: v for k, v in tables.items() if k != "costs"})
    write_dataset(folder, fmt="csv", costs=tables["costs"])
    users = pd.read_parquet(folder / "users.parquet")
    users["registered_at"] = users.registered_at.dt.tz_localize("Asia/Shanghai").dt.tz_convert("UTC")
    users.to_parquet(folder / "users.parquet")
    ds = load(folder, max_set_aside_share=0.5)
    first = ds.users.filter(ds.users.user_id == "U0").registered_at.execute()
    assert [str(v) for v in first] == ["2025-01-01 10:00:00"]
    dates = ds.costs.date.execute().astype(str).tolist()
    # the base already has 2 January with the same spend: the converted row is an exact copy
    assert "2025-01-01" not in dates and dates.count("2025-01-02") == 1
    assert reasons(ds) == {("costs", "exact duplicate row"): 1}


def test_rows_after_the_analysis_date_are_kept_and_counted(tmp_path: Path) -> None:
    """After the analysis date: kept, not set aside, counted in quality.after_analysis_date.

    They are normal data for a later analysis date (a re-run or a back-test); chapters never
    use them because they stop at period_end(analysis_date).
    """
    folder = build(tmp_path / "d", full=False, events=[event("app_open", "2025-04-01 00:00:00", "U1"),
                                           event("app_open", "2025-03-31 23:59:59", "U1")],
                   transactions=[txn("T10", "U1", "2025-05-01 10:00:00", 5.0)])
    ds = load(folder)
    assert reasons(ds) == {}
    assert str(ds.analysis_date) == "2025-03-31"
    assert rows_used(ds, "events") == 12
    assert ds.quality.after_analysis_date == {"events": 1, "transactions": 1}


def test_default_analysis_date_ignores_a_typo_year(tmp_path: Path) -> None:
    """Without an analysis date, a 2099 event is set aside (after today) and cannot move it."""
    folder = build(tmp_path / "d", config={"name": "x"}, full=False,
                   events=[event("app_open", "2099-02-01 10:00:00", "U1")])
    ds = open_dataset(folder)  # today from the clock: any real clock is before 2099
    assert_balanced(ds)
    assert reasons(ds) == {("events", "event_time is after today"): 1}
    assert str(ds.analysis_date) == "2025-01-10"  # the last good event: U9's sign-up


def test_many_future_rows_stop_the_load(tmp_path: Path) -> None:
    """Most rows after today means a clock or a day/month swap: a clear stop, not a quarantine."""
    tables = base_tables()
    tables["events"] = [event("register", f"2025-12-{i + 1:02d} 10:00:00", u) for i, u in enumerate(USERS)]
    folder = write_dataset(tmp_path / "d", fmt="csv", config=CONFIG, **tables)
    with pytest.raises(DataError) as err:
        open_dataset(folder, today=TODAY)
    assert (err.value.table, err.value.column, err.value.rule, err.value.rows) == (
        "events", "event_time", "event_time is after today", 10)
    assert err.value.example["user_id"] == "U0"


# --------------------------------------------------------------------------------------------
# Encodings and Chinese headers

CHINESE_USERS = {"用户ID": "user_id", "注册时间": "registered_at", "出生年份": "birth_year", "性别": "gender",
                 "省份": "province", "城市": "city", "设备": "device_os"}


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8-sig"])
def test_chinese_export_in_each_encoding(tmp_path: Path, encoding: str) -> None:
    """An Excel export: Chinese headers, values mapped in dataset.yml, in GBK/GB18030/BOM."""
    folder = write_dataset(tmp_path / "d", fmt="csv", **{k: v for k, v in base_tables().items()
                                                        if k in ("events", "transactions")})
    city = "𠮷野" if encoding != "gbk" else "绵阳"  # 𠮷 exists in GB18030 and UTF-8, not in GBK
    frame = pd.DataFrame({"用户ID": USERS, "注册时间": [f"2025/1/{i + 1} 10:00" for i in range(10)],
                          "出生年份": ["1990"] * 10, "性别": ["M", "F"] * 5, "省份": ["四川"] * 10,
                          "城市": [city] * 10, "设备": ["iOS"] * 10, "备注": ["老客户"] * 10})
    frame.to_csv(folder / "用户表.csv", index=False, encoding=encoding)
    users_cfg = {"file": "用户表.csv", "columns": CHINESE_USERS, "values": {"gender": {"M": "男", "F": "女"}}}
    if encoding != "utf-8-sig":
        users_cfg["encoding"] = encoding  # a BOM needs no setting
    (folder / "dataset.yml").write_text(yaml.safe_dump({**CONFIG, "tables": {"users": users_cfg}},
                                                       allow_unicode=True), encoding="utf-8")
    ds = load(folder)
    users = ds.users.order_by("user_id").execute()
    assert users.city.unique().tolist() == [city]
    assert users.gender.tolist()[:2] == ["男", "女"]
    assert str(users.registered_at.iloc[0]) == "2025-01-01 10:00:00"
    assert ds.quality.ignored_columns == {"users": ["备注"]}
    assert reasons(ds) == {}


def test_gbk_file_read_as_utf8_is_a_clear_error(tmp_path: Path) -> None:
    folder = build(tmp_path / "d")
    pd.DataFrame(base_tables()["users"]).to_csv(folder / "users.csv", index=False, encoding="gbk")
    with pytest.raises(DataError) as err:
        open_dataset(folder, today=TODAY)
    assert err.value.table == "users"
    assert "not valid UTF-8" in str(err.value) and "encoding" in str(err.value) and "gbk" in str(err.value)


def test_gb18030_text_declared_gbk_names_the_byte(tmp_path: Path) -> None:
    folder = build(tmp_path / "d", config={**CONFIG, "tables": {"users": {"encoding": "gbk"}}})
    rows = base_tables()["users"]
    rows[3]["city"] = "𠮷野"
    pd.DataFrame(rows).to_csv(folder / "users.csv", index=False, encoding="gb18030")
    with pytest.raises(DataError, match=r"table 'users': file users.csv is not valid gbk at byte \d+"):
        open_dataset(folder, today=TODAY)


def test_unknown_encoding_is_a_config_error(tmp_path: Path) -> None:
    folder = build(tmp_path / "d", config={**CONFIG, "tables": {"users": {"encoding": "gbkk"}}})
    with pytest.raises(ConfigError, match=r"tables.users.encoding 'gbkk' is not a known encoding"):
        open_dataset(folder)


def test_bom_overrides_a_wrong_encoding_setting(tmp_path: Path) -> None:
    folder = build(tmp_path / "d", full=False, config={**CONFIG, "tables": {"users": {"encoding": "gbk"}}})
    pd.DataFrame(base_tables()["users"]).to_csv(folder / "users.csv", index=False, encoding="utf-8-sig")
    ds = load(folder)
    assert ds.users.province.execute().unique().tolist() == ["广东"]


# --------------------------------------------------------------------------------------------
# Tables and columns: missing, extra, empty, mis-mapped

@pytest.mark.parametrize("table", ["users", "events"])
def test_missing_required_table(tmp_path: Path, table: str) -> None:
    folder = build(tmp_path / "d")
    (folder / f"{table}.csv").rename(folder / f"{table[:-1]}.csv")  # a misspelt name
    with pytest.raises(DataError) as err:
        open_dataset(folder)
    assert (err.value.table, err.value.rule) == (table, "table is missing")
    assert f"{table[:-1]}.csv" in str(err.value)  # the hint points at the misspelt file


@pytest.mark.parametrize(("table", "column"), [("users", "registered_at"), ("events", "event_name"),
                                               ("costs", "spend"), ("campaigns", "start_at"),
                                               ("campaign_members", "group")])
def test_missing_required_column(tmp_path: Path, table: str, column: str) -> None:
    folder = build(tmp_path / "d")
    pd.read_csv(folder / f"{table}.csv").drop(columns=[column]).to_csv(folder / f"{table}.csv", index=False)
    with pytest.raises(DataError) as err:
        open_dataset(folder)
    assert (err.value.table, err.value.column, err.value.rule) == (table, column, "required column is missing")
    assert "dataset.yml" in str(err.value)


def test_missing_optional_table_and_column(tmp_path: Path) -> None:
    """An optional table absent is "not available"; an optional column absent is all null."""
    folder = build(tmp_path / "d")
    (folder / "costs.csv").unlink()
    pd.read_csv(folder / "users.csv").drop(columns=["inviter_id"]).to_csv(folder / "users.csv", index=False)
    ds = load(folder)
    assert not ds.has("costs") and ds.quality.missing_tables == ["costs"]
    with pytest.raises(DataError, match="table 'costs': table is not in this dataset"):
        _ = ds.costs
    assert ds.users.inviter_id.count().execute() == 0


def test_extra_columns_and_files_are_ignored_and_listed(tmp_path: Path) -> None:
    """Columns outside the contract are not loaded; they and stray files are listed.

    A header with spaces around a contract name is matched (Excel keeps the spaces).
    """
    folder = build(tmp_path / "d", full=False)
    frame = pd.read_csv(folder / "users.csv").rename(columns={"utm_source": " utm_source "})
    frame["手机号"] = "13800000000"
    frame.to_csv(folder / "users.csv", index=False)
    (folder / "orders.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (folder / "notes.md").write_text("not data", encoding="utf-8")
    ds = load(folder)
    assert ds.quality.ignored_columns == {"users": ["手机号"]}
    assert ds.quality.ignored_files == ["orders.csv"]
    assert "手机号" not in ds.users.columns
    assert ds.users.utm_source.execute().unique().tolist() == ["baidu"]


def test_two_columns_mapped_to_one_name(tmp_path: Path) -> None:
    folder = build(tmp_path / "d", config={**CONFIG, "tables": {"users": {"columns": {"city": "province"}}}})
    with pytest.raises(DataError) as err:
        open_dataset(folder)
    assert (err.value.table, err.value.column) == ("users", "province")
    assert "['province', 'city']" in str(err.value)


def test_duplicate_header_name(tmp_path: Path) -> None:
    folder = build(tmp_path / "d")
    text = (folder / "users.csv").read_text(encoding="utf-8").replace("city_tier", "city", 1)
    (folder / "users.csv").write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=r"table 'users', column 'city': column 'city' appears twice"):
        open_dataset(folder)


@pytest.mark.parametrize("content", ["", "user_id,registered_at,birth_year,gender,province,city,device_os\n"])
def test_empty_required_table(tmp_path: Path, content: str) -> None:
    folder = build(tmp_path / "d")
    (folder / "users.csv").write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=r"table 'users': table is empty"):
        open_dataset(folder)


@pytest.mark.parametrize("table", ["costs", "campaign_members"])
def test_empty_optional_table_is_absent(tmp_path: Path, table: str) -> None:
    """An optional table with a header and no rows is treated as absent: "not available"."""
    folder = build(tmp_path / "d")
    header = (folder / f"{table}.csv").read_text(encoding="utf-8").splitlines()[0]
    (folder / f"{table}.csv").write_text(header + "\n", encoding="utf-8")
    ds = load(folder)
    assert not ds.has(table)
    assert ds.quality.empty_tables == [table] and table in ds.quality.missing_tables
    assert table not in ds.quality.read


def test_wrong_types_in_parquet(tmp_path: Path) -> None:
    """Types that are not the contract's: ids as numbers load as text; a number for a time stops."""
    tables = base_tables()
    folder = write_dataset(tmp_path / "d", config=CONFIG, **{k: tables[k] for k in ("users", "events", "transactions")})
    frame = pd.read_parquet(folder / "transactions.parquet")
    frame["amount"] = frame.amount.astype(str)  # text amounts parse
    frame["term_days"] = frame.term_days.astype(float)  # 30.0 days is 30
    frame.to_parquet(folder / "transactions.parquet")
    ds = load(folder)
    assert ds.transactions.amount.sum().execute() == 10_000.0
    assert ds.transactions.term_days.type().is_integer()
    frame = pd.read_parquet(folder / "users.parquet")
    frame["registered_at"] = frame.registered_at.astype("int64") // 10**9  # epoch seconds
    frame.to_parquet(folder / "users.parquet")
    with pytest.raises(DataError) as err:
        open_dataset(folder, today=TODAY)
    assert (err.value.table, err.value.column, err.value.rows) == ("users", "registered_at", 10)
    assert err.value.rule == "registered_at does not parse as timestamp"
    assert err.value.example["user_id"] == "U0"


def test_broken_csv_line_names_the_line_and_count(tmp_path: Path) -> None:
    folder = build(tmp_path / "d")
    path = folder / "transactions.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[3] += ",多余,字段"  # line 4 of the file: two fields too many (an unquoted comma)
    lines[6] = lines[6].rsplit(",", 3)[0]  # line 7: three fields short
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        open_dataset(folder)
    assert err.value.table == "transactions" and err.value.rows == 2
    assert err.value.example == {"line": 4}
    assert "not a well-formed CSV (line 4: too many columns; the header has 8 columns)" in str(err.value)


def test_unclosed_quote_is_a_clear_error(tmp_path: Path) -> None:
    folder = build(tmp_path / "d")
    path = folder / "events.csv"
    path.write_text(path.read_text(encoding="utf-8") + '2025-02-01 10:00:00,"app_open,U1,A1\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"table 'events': file events.csv is not a well-formed CSV \(line 12"):
        open_dataset(folder)


def test_members_without_campaigns_table(tmp_path: Path) -> None:
    folder = build(tmp_path / "d")
    (folder / "campaigns.csv").unlink()
    with pytest.raises(DataError) as err:
        open_dataset(folder)
    assert (err.value.table, err.value.column, err.value.rule, err.value.rows) == (
        "campaign_members", "campaign_id", "campaigns table is missing", 10)


def test_no_usable_row_is_an_error_even_below_each_rule_share(tmp_path: Path) -> None:
    tables = base_tables()
    tables["costs"] = [{**COST, "date": None}, {**COST, "date": "2025-01-01", "spend": -1.0}]
    folder = write_dataset(tmp_path / "d", fmt="csv", config=CONFIG, **tables)
    with pytest.raises(DataError) as err:
        open_dataset(folder, max_set_aside_share=0.5)
    assert (err.value.table, err.value.rule, err.value.rows) == ("costs", "no row is usable", 2)
    assert "'spend is negative': 1" in str(err.value)


def test_no_successful_investment_left_is_fatal(tmp_path: Path) -> None:
    # every transaction failed (or a status map gone wrong): a book without a single investment
    # says nothing about money, so the load stops naming the rule and what to check
    tables = base_tables()
    tables["transactions"] = [{**t, "status": "failed"} for t in tables["transactions"]]
    with pytest.raises(DataError, match=r"'transactions', column 'status': no successful investment "
                                        r"is left.*'transaction not successful': .*values.status"):
        open_dataset(write_dataset(tmp_path / "d", fmt="csv", config=CONFIG, **tables))


def test_status_is_matched_whatever_its_case_and_a_blank_one_is_not_a_success(tmp_path: Path) -> None:
    # by hand: of the base transactions, the first is written SUCCESS (kept, noted), the second
    # ' Success ' (kept), the third has no status while the others have one (set aside)
    tables = base_tables()
    txns = tables["transactions"]
    txns[0] = {**txns[0], "status": "SUCCESS"}
    txns[1] = {**txns[1], "status": " Success "}
    txns[2] = {**txns[2], "status": None}
    ds = open_dataset(write_dataset(tmp_path / "d", config=CONFIG, **tables), max_set_aside_share=1.0)
    assert reasons(ds).get(("transactions", "status is missing")) == 1
    notes = {(r.table, r.rule): r.rows for r in ds.quality.notes}
    assert notes[("transactions", "status 'success' written in another case or with spaces (kept)")] == 2
    assert rows_used(ds, "transactions") == len(txns) - 1
    # no status at all: every row is an investment, and the page says so
    tables["transactions"] = [{**t, "status": None} for t in txns]
    ds = open_dataset(write_dataset(tmp_path / "e", config=CONFIG, **tables))
    assert rows_used(ds, "transactions") == len(txns)
    assert ("transactions", "no status in the file: every transaction counts as an investment") in \
        {(r.table, r.rule) for r in ds.quality.notes}


def test_sign_up_times_a_little_after_the_register_event_are_reconciled(tmp_path: Path) -> None:
    # the sign-up time from one system is 400 ms (or 30 s) later than the register event and
    # the first investment from another: kept and counted, never set aside; 2 minutes is not
    tables = base_tables()
    uid = tables["users"][0]["user_id"]
    reg = pd.Timestamp(tables["users"][0]["registered_at"])
    tables["events"] += [event("app_open", str(reg - pd.Timedelta(milliseconds=400)), uid),
                         event("app_open", str(reg - pd.Timedelta(seconds=30)), uid),
                         event("app_open", str(reg - pd.Timedelta(minutes=2)), uid)]
    ds = open_dataset(write_dataset(tmp_path / "d", fmt="csv", config=CONFIG, **tables),
                      max_set_aside_share=1.0)
    notes = {(r.table, r.rule): r.rows for r in ds.quality.notes}
    assert notes[("events", "event up to 60 s before the user's sign-up (kept: the sign-up time and "
                            "the log differ by seconds)")] == 2
    assert reasons(ds)[("events", "event before the user's sign-up")] == 1


def test_exact_copies_of_events_are_set_aside(tmp_path: Path) -> None:
    # an export concatenated twice: every event twice; the copies are counted, once each
    tables = base_tables()
    n = len(tables["events"])
    tables["events"] = tables["events"] + tables["events"]
    ds = open_dataset(write_dataset(tmp_path / "d", config=CONFIG, **tables), max_set_aside_share=1.0)
    assert reasons(ds)[("events", "exact duplicate row")] == n
    assert rows_used(ds, "events") == n - sum(v for (tb, _r), v in reasons(ds).items()
                                               if tb == "events" and _r != "exact duplicate row")


def test_bad_timezone_and_analysis_date(tmp_path: Path) -> None:
    folder = build(tmp_path / "d", config={**CONFIG, "timezone": "Asia/Beijing"})
    with pytest.raises(ConfigError, match="timezone 'Asia/Beijing' is not a time zone"):
        open_dataset(folder)
    folder = build(tmp_path / "e")
    with pytest.raises(ValueError, match="analysis_date '2025-3-31' is not a YYYY-MM-DD date"):
        open_dataset(folder, analysis_date="2025-3-31")


# --------------------------------------------------------------------------------------------
# Campaigns: empty, no holdout

def test_empty_campaign_and_campaign_without_holdout_load(tmp_path: Path) -> None:
    """C2 has no members; C3 has no holdout. Both load as they are: chapter 6 says what it can."""
    folder = build(tmp_path / "d", campaigns=[
        {"campaign_id": "C2", "name": "空活动", "start_at": "2025-03-01 10:00:00", "window_days": 7},
        {"campaign_id": "C3", "name": "全量推送", "start_at": "2025-03-05 10:00:00", "window_days": 7}],
        campaign_members=[{**MEMBER, "campaign_id": "C3", "user_id": u} for u in USERS[:2]])
    ds = load(folder)
    assert reasons(ds) == {}
    assert sorted(ds.campaigns.campaign_id.execute()) == ["C1", "C2", "C3"]
    members = ds.campaign_members.group_by(["campaign_id", "group"]).aggregate(n=ds.campaign_members.count())
    got = {(r["campaign_id"], r["group"]): r["n"] for r in members.to_pyarrow().to_pylist()}
    assert got == {("C1", "control"): 2, ("C1", "treatment"): 8, ("C3", "treatment"): 2}


# --------------------------------------------------------------------------------------------
# The CLI prints these errors readably: one line "error: ...", exit code 1, no traceback

cli = CliRunner()


@pytest.fixture
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich wraps table cells at 80 columns without a terminal; widen it so rules stay whole."""
    import growthloop.run.cli as cli_module

    for name in ("console", "err"):
        if hasattr(cli_module, name):
            monkeypatch.setattr(getattr(cli_module, name), "width", 250)


def _flat(text: str) -> str:
    return " ".join(text.split())  # rich wraps long lines at the terminal width


@pytest.mark.parametrize(("breaks", "expected"), [
    (lambda f: (f / "transactions.csv").write_text(
        (f / "transactions.csv").read_text(encoding="utf-8").replace(",1000.0,", ",0,", 5), encoding="utf-8"),
     "error: table 'transactions', column 'amount': amount is zero or negative (5 rows); example row: "
     "{'txn_id': 'T0',"),
    (lambda f: pd.DataFrame(base_tables()["users"]).to_csv(f / "users.csv", index=False, encoding="gbk"),
     "error: table 'users': file users.csv is not valid UTF-8. set tables.users.encoding in dataset.yml"),
    (lambda f: (f / "dataset.yml").write_text("tables: {users: {encoding: big5x}}\n", encoding="utf-8"),
     "error: dataset.yml: tables.users.encoding 'big5x' is not a known encoding"),
    (lambda f: (f / "events.csv").write_text(
        (f / "events.csv").read_text(encoding="utf-8") + "2025-02-01,app_open,U1,A1,x,y,z,w,v,u,t\n",
        encoding="utf-8"),
     "error: table 'events': file events.csv is not a well-formed CSV (line 12: too many columns"),
])
@pytest.mark.usefixtures("wide_console")
def test_validate_prints_errors(tmp_path: Path, breaks: Callable[[Path], object], expected: str) -> None:
    folder = build(tmp_path / "d")
    breaks(folder)
    result = cli.invoke(app, ["validate", str(folder)])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # typer.Exit, not an uncaught error
    assert "Traceback" not in result.output
    assert expected in _flat(result.output)


@pytest.mark.usefixtures("wide_console")
def test_validate_reports_quarantine(tmp_path: Path) -> None:
    folder = build(tmp_path / "d", full=False, transactions=[txn("T10", "U99", "2025-02-01 10:00:00", 5.0)])
    result = cli.invoke(app, ["validate", str(folder)])
    assert result.exit_code == 0, result.output
    out = _flat(result.output)
    assert "│ transactions │ 11 │ 10 │ 1 │" in out
    assert "transaction of a user not in users" in out and "The dataset is usable." in out


@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_gzipped_csv_in_either_encoding(tmp_path: Path, encoding: str) -> None:
    import gzip

    folder = build(tmp_path / "d", full=False,
                   config={**CONFIG, "tables": {"users": {"encoding": encoding}}})
    body = (folder / "users.csv").read_text(encoding="utf-8")
    (folder / "users.csv").unlink()
    with gzip.open(folder / "users.csv.gz", "wb") as out:
        out.write(body.encode(encoding))
    ds = load(folder)
    assert ds.quality.read["users"] == 10
    assert ds.users.province.execute().unique().tolist() == ["广东"]


@pytest.mark.usefixtures("wide_console")
def test_validate_prints_markup_like_data_literally(tmp_path: Path) -> None:
    folder = build(tmp_path / "d", full=False, transactions=[txn("T10", "[/bold]", "2025-02-01 10:00:00", 5.0)])
    result = cli.invoke(app, ["validate", str(folder)])
    assert result.exception is None, repr(result.exception)
    assert "'user_id': '[/bold]'" in _flat(result.output)


def test_a_set_aside_example_shows_the_text_the_file_holds(tmp_path: Path) -> None:
    """The example row of "does not parse" shows the raw text, not the null it parsed to."""
    tables = base_tables()
    tables["transactions"][3]["amount"] = "1千元"
    folder = write_dataset(tmp_path / "d", fmt="csv", config=CONFIG,
                           **{k: v for k, v in tables.items() if k in ("users", "events", "transactions")})
    ds = load(folder, max_set_aside_share=0.5)
    (row,) = [r for r in ds.quality.set_aside if r.rule == "amount does not parse as float64"]
    assert row.rows == 1 and row.example["amount"] == "1千元" and row.example["txn_id"] == "T3"


def test_a_local_time_in_a_daylight_saving_gap_is_kept_with_a_note(tmp_path: Path) -> None:
    """In New York 2025-03-09 02:30 does not exist (clocks jump from 02:00 to 03:00): the row
    is kept, read as 03:30, and counted on the data-quality page; 01:30 that day, a time with
    its own offset and a Shanghai dataset get no note."""
    tables = base_tables()
    tables = {k: v for k, v in tables.items() if k in ("users", "events", "transactions")}
    tables["events"] += [event("app_open", "2025-03-09 02:30:00", "U1", "A1"),
                         event("app_open", "2025-03-09 02:45:00", "U2", "A2"),
                         event("app_open", "2025-03-09 01:30:00", "U3", "A3"),
                         event("app_open", "2025-03-09T02:30:00-05:00", "U4", "A4")]
    config = CONFIG | {"timezone": "America/New_York"}
    ds = load(write_dataset(tmp_path / "ny", fmt="csv", config=config, **tables))
    notes = {r.rule: r.rows for r in ds.quality.notes if r.table == "events"}
    assert notes == {"event_time falls in a daylight-saving gap of America/New_York (kept, read "
                     "as the time after the gap)": 2}
    opens = ds.events.filter(ds.events.event_name == "app_open").order_by("user_id").event_time.execute()
    # 02:30 -> 03:30 and 02:45 -> 03:45 (the gap's hour); 01:30 stays; 02:30-05:00 is 02:30 EST,
    # which is 03:30 EDT
    assert [str(v) for v in opens] == ["2025-03-09 03:30:00", "2025-03-09 03:45:00",
                                       "2025-03-09 01:30:00", "2025-03-09 03:30:00"]
    shanghai = load(write_dataset(tmp_path / "sh", fmt="csv", config=CONFIG, **tables))
    assert not [r for r in shanghai.quality.notes if "daylight" in r.rule]


def test_copies_found_in_slices_of_the_hash_space_are_the_same(tmp_path: Path, monkeypatch) -> None:
    # at 10M users the hashes are counted in slices (HASH_SLICE_ROWS); here slices of 3 rows,
    # so every table is cut in several: the same copies, the same reasons, the same clean rows
    import growthloop.staging.loader as loader

    copies = {"users": [user("U0", "2025-01-01 10:00:00")] * 2,
              "events": [event("register", "2025-01-03 10:00:00", "U2", "A2")],
              "transactions": [txn("T5", "U5", "2025-01-06 12:00:00", 1000.0)] * 3}
    folder = build(tmp_path / "d", full=False, **copies)
    whole = load(folder, max_set_aside_share=0.5)
    monkeypatch.setattr(loader, "HASH_SLICE_ROWS", 3)
    sliced = load(folder, max_set_aside_share=0.5)
    assert reasons(sliced) == reasons(whole)
    assert reasons(whole) == {("users", "exact duplicate row"): 2,
                                                  ("events", "exact duplicate row"): 1,
                                                  ("transactions", "exact duplicate row"): 3}
    for name in ("users", "events", "transactions"):
        assert whole.quality.read[name] == sliced.quality.read[name]
        cols = list(getattr(whole, name).columns)
        pd.testing.assert_frame_equal(getattr(whole, name).order_by(cols).to_pandas(),
                                      getattr(sliced, name).order_by(cols).to_pandas())

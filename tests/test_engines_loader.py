"""The loader on Spark and on Postgres (`engine.backend: pyspark | postgres`,
`tables.<name>.source`): the same clean tables and quality report as DuckDB's load of the same
files.

The small dataset's Parquet files (tests/engine_support.py) are put where the engine reads
tables from: Spark temporary views of the files (the JSON properties column as it is; Spark
reads JSON), or raw tables `<schema>.<table>` of the process's throwaway Postgres server (one
column per property: Postgres does not read the JSON text, tests/postgres_support.py). A
dataset.yml names them and the engine, and `open_dataset` connects by itself. Everything
expected comes from DuckDB's load of the files, or is written down by hand (the rows added to
the bad copy). What only one engine can be asked is in tests named after it: Spark refuses a CSV
file and an unknown view; Postgres refuses text time columns, files and missing tables, and is
run in an ICU-collated database.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import campaign_file, stub_chapters
from engine_support import (  # noqa: F401  (the fixtures engine_pair, engine_watchdog)
    assert_same_frame,
    engine_pair_fixture,
    engine_watchdog_fixture,
    on,
    schema_types,
    session_time_zone,
)
from typer.testing import CliRunner

from growthloop.engine import backend_name
from growthloop.marts.identity import person_events
from growthloop.marts.investments import investments
from growthloop.marts.touches import touches
from growthloop.marts.wide import user_wide
from growthloop.run import runner
from growthloop.run.cli import app
from growthloop.staging.config import ConfigError, load_config
from growthloop.staging.contract import SUCCESS_STATUS, TABLES
from growthloop.staging.loader import DataError, open_dataset
from growthloop.staging.store import STORE_ENV, open_store

TODAY = dt.date(2026, 11, 25)


# ---- where the engine reads the files from ---------------------------------------------------


def _spark_folder(source: Path, target: Path, prefix: str, **engine) -> Path:
    """A dataset folder whose tables are Spark views `<prefix>_<table>` of `source`'s files."""
    from spark_support import spark_session

    session = spark_session(load_config(source).timezone)
    config = yaml.safe_load((source / "dataset.yml").read_text(encoding="utf-8")) or {}
    config["engine"] = {"backend": "pyspark", **engine}
    config["tables"] = dict(config.get("tables") or {})
    for name in TABLES:
        path = source / f"{name}.parquet"
        if path.exists():
            session.read.parquet(str(path)).createOrReplaceTempView(f"{prefix}_{name}")
            config["tables"][name] = {**config["tables"].get(name, {}), "source": f"{prefix}_{name}"}
    target.mkdir()
    (target / "dataset.yml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return target


def _pg_folder(source: Path, target: Path, schema: str, *statements: str,
               database: str = "postgres", search_path: bool = False) -> Path:
    """A dataset folder (only a dataset.yml) whose tables are `source`'s files copied into
    Postgres schema `schema` of `database`; `statements` then change the copies (types).
    `search_path`: the connection's `schema:` is `schema` and the sources are bare names."""
    from postgres_support import copy_files_to_postgres, pg_server, postgres_backend

    server = pg_server()
    sources = copy_files_to_postgres(source, server, schema, database)
    if statements:
        con = postgres_backend(server, "UTC", database)
        try:
            for sql in statements:
                con.raw_sql(sql.format(s=schema)).close()
        finally:
            con.disconnect()
    config = yaml.safe_load((source / "dataset.yml").read_text(encoding="utf-8")) or {}
    settings = {**server.connect_args(), "database": database}
    if search_path:
        settings["schema"] = schema
    config["engine"] = {"backend": "postgres", "postgres": settings}
    config["tables"] = dict(config.get("tables") or {})
    for name, table in sources.items():
        config["tables"][name] = {**config["tables"].get(name, {}),
                                  "source": name if search_path else table}
    target.mkdir()
    (target / "dataset.yml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return target


def _append(path: Path, *frames: pd.DataFrame) -> None:
    """Rows added to a Parquet file, its column types kept (an all-null column stays text)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    if "term_days" in schema.names:  # fractional on purpose
        schema = schema.set(schema.get_field_index("term_days"), pa.field("term_days", pa.float64()))
    rows = pd.concat([pd.read_parquet(path), *frames])
    table = pa.Table.from_pandas(rows, schema=schema, preserve_index=False)  # NaN: null
    pq.write_table(table, path)


def _report(ds) -> list[tuple]:
    return [(r.table, r.rule, r.rows, r.example, r.severity) for r in ds.quality.set_aside]


def _assert_same_load(duck, other) -> None:
    assert other.analysis_date == duck.analysis_date
    assert other.quality.read == duck.quality.read
    assert other.quality.used == duck.quality.used
    assert _report(other) == _report(duck)
    assert other.quality.after_analysis_date == duck.quality.after_analysis_date
    assert other.quality.missing_tables == duck.quality.missing_tables
    assert sorted(other.tables) == sorted(duck.tables)
    for name in duck.tables:
        assert schema_types(other.tables[name].schema()) == schema_types(duck.tables[name].schema())
        assert_same_frame(duck.tables[name], other.tables[name])


def _close(ds) -> None:
    """Close a loaded dataset's own connection (Postgres); Spark's is the process's session."""
    if backend_name(ds.con) == "postgres":
        ds.con.disconnect()


# ---- the same load on every engine ---------------------------------------------------------


def test_loader_matches_duckdb(engine_pair, tmp_path: Path) -> None:
    source = engine_pair.duck.path
    if engine_pair.name == "postgres":
        # sign-up times as timestamptz (instants): the loader reads them in the session's zone,
        # which must be the dataset's for the clean table to equal DuckDB's
        folder = _pg_folder(source, tmp_path / "on_pg", "src",
                            "ALTER TABLE {s}.users ALTER COLUMN registered_at TYPE timestamptz "
                            "USING registered_at AT TIME ZONE 'Asia/Shanghai'")
    else:
        folder = _spark_folder(source, tmp_path / "on_spark", "src")
    duck = open_dataset(source, today=TODAY)
    other = open_dataset(folder, today=TODAY)  # connects from dataset.yml
    try:
        assert backend_name(other.con) == engine_pair.name
        assert session_time_zone(other) == "Asia/Shanghai"
        assert other.quality.read["events"] > 30_000
        assert other.quality.set_aside  # the demo's unsuccessful payments
        _assert_same_load(duck, other)
    finally:
        _close(other)
    # the loader keeps its tables under names of its own (temporary tables on Postgres, dropped
    # by their own name): the harness's tables gl_<name> (same names) are still there
    assert engine_pair.other.tables["users"].count().execute() == duck.quality.used["users"]
    result = CliRunner().invoke(app, ["validate", str(folder)])
    assert result.exit_code == 0, result.output
    assert "transaction not successful" in result.output


def test_loader_sets_aside_bad_rows_like_duckdb(engine_pair, tmp_path: Path) -> None:
    source = tmp_path / "bad"
    shutil.copytree(engine_pair.duck.path, source)
    before = {(r.table, r.rule): r.rows for r in open_dataset(source, today=TODAY).quality.set_aside}
    txn = pd.read_parquet(source / "transactions.parquet")
    good = txn[txn["status"] == SUCCESS_STATUS].sort_values("txn_id")
    bad = good.head(6).copy()
    # 'C_neg' sorts before 'b_neg' byte by byte (DuckDB), after it in the ICU collation of the
    # Postgres database below (as in an en_US one): the example row must still be DuckDB's
    bad["txn_id"] = ["b_neg", "C_neg", "x_big", "y_half", "z_huge", "w_future"]
    bad["amount"] = [-1.0, 0.0, 5e7, 100.0, 100.0, 100.0]
    bad["term_days"] = [30.0, 30.0, 30.0, 30.5, 1e30, 30.0]  # numeric in Postgres, below
    bad["txn_time"] = list(bad["txn_time"].iloc[:5]) + [pd.Timestamp("2027-01-05 10:00:00")]
    # missing (null) in the file, kept; Postgres gets numeric 'NaN' there, also missing
    nan_term = good.iloc[[10]].assign(txn_id="v_nan", term_days=math.nan)
    dup = good.tail(1).copy()
    dup["amount"] = dup["amount"] + 1  # same txn_id, another amount
    _append(source / "transactions.parquet", bad, nan_term, dup)
    events = pd.read_parquet(source / "events.parquet")
    ghost = events[events["user_id"].notna()].head(2).copy()
    ghost["user_id"] = ["U_ghost", None]
    ghost["anonymous_id"] = [None, None]
    _append(source / "events.parquet", ghost)
    costs = pd.read_parquet(source / "costs.parquet")
    neg = costs.head(1).assign(utm_campaign="neg_spend", spend=-5.0)
    _append(source / "costs.parquet", neg)
    members = pd.read_parquet(source / "campaign_members.parquet")
    odd = members.head(1).assign(user_id="U_odd", group="holdout")
    _append(source / "campaign_members.parquet", odd)

    duck = open_dataset(source, today=TODAY)
    added = {key: n - before.get(key, 0) for key, n in
             {(r.table, r.rule): r.rows for r in duck.quality.set_aside}.items()}
    assert {key: n for key, n in added.items() if n} == {
        ("transactions", "txn_time is after today"): 1,
        ("transactions", "term_days does not parse as int64"): 2,
        ("transactions", "amount is zero or negative"): 2,
        ("transactions", "amount is above max_amount (10,000,000 yuan)"): 1,
        ("transactions", "key appears with different values"): 2,
        ("events", "event has neither user_id nor anonymous_id"): 1,
        ("events", "event of a user not in users"): 1,
        ("costs", "spend is negative"): 1,
        ("campaign_members", "group is neither treatment nor control"): 1,
    }
    negative = next(r for r in duck.quality.set_aside if r.rule == "amount is zero or negative")
    assert negative.example["txn_id"] == "C_neg"

    if engine_pair.name == "postgres":
        other = open_dataset(_bad_rows_in_an_icu_database(source, tmp_path), today=TODAY)
    else:
        other = open_dataset(_spark_folder(source, tmp_path / "bad_spark", "bad"), today=TODAY)
    try:
        if engine_pair.name == "postgres":
            assert (other.con.raw_sql("SELECT min(x) FROM (VALUES ('b'), ('C')) v(x)")
                    .fetchone()[0]) == "b"
            schema = other.con.table("transactions", database="bad").schema()
            assert schema["term_days"].is_decimal()
            assert (other.con.raw_sql("SELECT count(*) FROM bad.transactions "
                                      "WHERE term_days = 'NaN'").fetchone()[0]) == 1
        _assert_same_load(duck, other)
    finally:
        _close(other)


def _bad_rows_in_an_icu_database(source: Path, tmp_path: Path) -> Path:
    """The bad copy as Postgres tables of a database whose collation is ICU's (where 'b' sorts
    before 'C'), read through `schema:` with bare source names, `term_days` as numeric with a
    'NaN'."""
    from postgres_support import pg_server, postgres_backend

    con = postgres_backend(pg_server(), "UTC")
    try:
        con.raw_sql("DROP DATABASE IF EXISTS gl_icu").close()
        con.raw_sql("CREATE DATABASE gl_icu TEMPLATE template0 LOCALE_PROVIDER icu "
                    "ICU_LOCALE 'und' LOCALE 'C'").close()
    finally:
        con.disconnect()
    return _pg_folder(source, tmp_path / "bad_pg", "bad",
                      "ALTER TABLE {s}.transactions ALTER COLUMN term_days TYPE numeric",
                      "UPDATE {s}.transactions SET term_days = 'NaN' WHERE txn_id = 'v_nan'",
                      database="gl_icu", search_path=True)


# ---- what one engine refuses ---------------------------------------------------------------


# Spark only: the CSV refusal and an unknown Spark view (Postgres's refusals are below)
@on("pyspark")
def test_spark_loader_refuses_csv_and_checks_its_config(engine_pair, tmp_path: Path) -> None:
    folder = tmp_path / "csv"
    folder.mkdir()
    (folder / "users.csv").write_text("user_id,registered_at\nU1,2026-01-01 10:00:00\n")
    (folder / "dataset.yml").write_text("engine: {backend: pyspark}\n")
    with pytest.raises(DataError, match="CSV files are read with DuckDB only"):
        open_dataset(folder, today=TODAY)
    (folder / "dataset.yml").write_text("engine: {backend: spark}\n")
    with pytest.raises(ConfigError, match="engine.backend 'spark' is not one of"):
        load_config(folder)
    (folder / "dataset.yml").write_text("tables: {users: {file: u.csv, source: db.users}}\n")
    with pytest.raises(ConfigError, match="has both file and source"):
        load_config(folder)
    (folder / "dataset.yml").write_text(
        "engine: {backend: pyspark}\ntables: {users: {source: no_such_view}}\n")
    with pytest.raises(DataError, match="source table 'no_such_view' cannot be read"):
        open_dataset(folder, today=TODAY)


@on("pyspark")
def test_a_run_on_local_spark_loads_once_for_every_chapter(engine_pair, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner loads on Spark once, in a child process, into Parquet folders in the run's
    store; each chapter's session reads them and gets DuckDB's clean tables, quality report and
    marts; the store is gone after the run."""
    source = engine_pair.duck.path
    folder = tmp_path / "files_on_spark"  # the files themselves: the child's session has no views
    shutil.copytree(source, folder)
    config = yaml.safe_load((folder / "dataset.yml").read_text(encoding="utf-8")) or {}
    config["engine"] = {"backend": "pyspark", "spark": {
        "spark.master": "local[1]", "spark.driver.memory": "1g", "spark.ui.enabled": "false"}}
    (folder / "dataset.yml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    duck = open_dataset(source)
    seen: list[str] = []

    def execute(notebook: str, out: str, parameters: dict, **kwargs) -> None:
        shared = open_store(os.environ[STORE_ENV], parameters["data"])
        assert shared is not None and backend_name(shared.con) == "pyspark"
        if not seen:
            _assert_same_load(duck, shared)
            for mart in (user_wide, person_events, investments):
                assert shared.is_kept(mart.__name__)  # read from the store, not built again
                assert_same_frame(mart(duck), mart(shared))
            # and the touches the wide table kept on the way
            kept = len(shared._cache)
            assert_same_frame(touches(duck), touches(shared))
            assert len(shared._cache) == kept
        seen.append(Path(notebook).stem)
        shutil.copy(notebook, out)

    stub_chapters(monkeypatch, execute)
    campaign = campaign_file(tmp_path, folder, ["00", "01"])
    run = runner.run_campaign(runner.load_campaign(campaign), runs_dir=tmp_path / "runs",
                              progress=lambda _: None)
    assert seen == ["01_user_profiling", "00_data_quality", "99_summary"]
    assert (run / "logs" / "run.log").read_text(encoding="utf-8").count("done load in") == 1
    assert not (run / runner.STORE_DIR).exists()


# Postgres only: typed columns (no TRY_CAST), every table from the server, and an unknown
# source table are Postgres's own rules (Spark reads text columns and files)
@on("postgres")
def test_postgres_loader_refuses_text_columns_files_and_missing_tables(engine_pair,
                                                                       tmp_path: Path) -> None:
    from postgres_support import pg_server, postgres_backend

    server = pg_server()
    con = postgres_backend(server, "UTC")
    try:
        con.raw_sql("DROP SCHEMA IF EXISTS txt CASCADE; CREATE SCHEMA txt; "
                    "CREATE TABLE txt.users (user_id text, registered_at text, birth_year bigint, "
                    "gender text, province text, city text, device_os text); "
                    "INSERT INTO txt.users (user_id, registered_at) VALUES "
                    "('U1', '2026-01-01 10:00:00'), ('U2', 'yesterday')").close()
    finally:
        con.disconnect()
    folder = tmp_path / "refused"
    folder.mkdir()
    engine = {"backend": "postgres", "postgres": server.connect_args()}

    def write(tables: dict) -> None:
        (folder / "dataset.yml").write_text(yaml.safe_dump({"engine": engine, "tables": tables}))

    # a column that must be parsed from text: Postgres has no TRY_CAST ('yesterday' would parse)
    write({"users": {"source": "txt.users"}})
    with pytest.raises(DataError, match=r"table 'users', column 'registered_at': column is "
                                        r"string on Postgres.*registered_at::timestamp"):
        open_dataset(folder, today=TODAY)
    # a required table with neither source nor file
    write({})
    with pytest.raises(DataError, match=r"table 'users': table is missing\. name its table in "
                                        r"the Postgres server .* tables\.users\.source"):
        open_dataset(folder, today=TODAY)
    # a file in the folder is not uploaded
    pd.DataFrame({"user_id": ["U1"], "registered_at": [pd.Timestamp("2026-01-01")]}).to_parquet(
        folder / "users.parquet")
    with pytest.raises(DataError, match=r"file users\.parquet: on Postgres the tables are read "
                                        r"from the server.*tables\.users\.source"):
        open_dataset(folder, today=TODAY)
    write({"users": {"source": "txt.no_such_table"}})
    with pytest.raises(DataError, match="source table 'txt.no_such_table' cannot be read"):
        open_dataset(folder, today=TODAY)

"""The loader on PySpark: tables named by `source:` give the same clean tables and quality report."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import yaml
from spark_support import assert_same_frame, spark_pair_fixture, spark_session  # noqa: F401

from growthloop.engine import backend_name
from growthloop.staging.config import ConfigError, load_config
from growthloop.staging.contract import SUCCESS_STATUS, TABLES
from growthloop.staging.loader import DataError, open_dataset

TODAY = dt.date(2026, 11, 25)


def _spark_folder(source: Path, target: Path, prefix: str, **engine) -> Path:
    """A dataset folder whose tables are Spark views of `source`'s Parquet files."""
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


def test_loader_on_spark_matches_duckdb(spark_pair, tmp_path: Path) -> None:
    folder = _spark_folder(spark_pair.duck.path, tmp_path / "on_spark", "src")
    duck = open_dataset(spark_pair.duck.path, today=TODAY)
    spark = open_dataset(folder, today=TODAY)
    assert backend_name(spark.con) == "pyspark"
    assert spark.con._session.conf.get("spark.sql.session.timeZone") == "Asia/Shanghai"
    assert spark.analysis_date == duck.analysis_date
    assert spark.quality.read == duck.quality.read
    assert spark.quality.used == duck.quality.used
    assert [(r.table, r.rule, r.rows, r.example) for r in spark.quality.set_aside] == \
        [(r.table, r.rule, r.rows, r.example) for r in duck.quality.set_aside]
    assert spark.quality.after_analysis_date == duck.quality.after_analysis_date
    for name in duck.tables:
        assert_same_frame(duck.tables[name], spark.tables[name])


def _rules(ds) -> dict[str, int]:
    return {r.rule: r.rows for r in ds.quality.set_aside if r.table == "transactions"}


def test_loader_on_spark_sets_aside_bad_rows_like_duckdb(spark_pair, tmp_path: Path) -> None:
    # a copy of the demo with bad rows written into its transactions
    import pandas as pd

    source = tmp_path / "bad"
    shutil.copytree(spark_pair.duck.path, source)
    before = _rules(open_dataset(source, today=TODAY))
    txn = pd.read_parquet(source / "transactions.parquet")
    good = txn[txn["status"] == SUCCESS_STATUS].sort_values("txn_id")
    bad = good.head(3).copy()
    bad["amount"] = [-1.0, 0.0, 5e7]
    dup = good.tail(1).copy()
    dup["amount"] = dup["amount"] + 1  # same txn_id, another amount
    pd.concat([txn, bad.assign(txn_id=bad["txn_id"] + "_x"), dup]).to_parquet(
        source / "transactions.parquet", index=False)
    duck = open_dataset(source, today=TODAY)
    spark = open_dataset(_spark_folder(source, tmp_path / "bad_spark", "bad"), today=TODAY)
    added = {rule: n - before.get(rule, 0) for rule, n in _rules(duck).items()}
    assert {rule: n for rule, n in added.items() if n} == {
        "amount is zero or negative": 2, "amount is above max_amount (10,000,000 yuan)": 1,
        "key appears with different values": 2}
    assert [(r.table, r.rule, r.rows, r.example) for r in spark.quality.set_aside] == \
        [(r.table, r.rule, r.rows, r.example) for r in duck.quality.set_aside]
    assert_same_frame(duck.transactions, spark.transactions)


def test_csv_needs_duckdb_and_config_is_checked(spark_pair, tmp_path: Path) -> None:
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

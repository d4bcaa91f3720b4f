"""dataset.yml `engine:`: DuckDB memory limit, spill folder and threads, with their defaults."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from growthloop.engine import connect_duckdb
from growthloop.staging.config import (
    DEFAULT_MEMORY_CAP,
    ConfigError,
    EngineConfig,
    default_memory_limit,
    load_config,
    parse_config,
    parse_size,
)

GIB = 1024**3
MIB = 1024**2


def test_defaults_without_engine_key() -> None:
    cfg = parse_config({})
    assert cfg.engine.memory_limit == default_memory_limit()
    assert cfg.engine.threads is None
    # the spill folder is in the system temp folder, not DuckDB's .tmp in the working directory
    assert Path(cfg.engine.temp_directory) == Path(tempfile.gettempdir()) / "growthloop-duckdb"


@pytest.mark.parametrize(("ram", "expected"), [
    (24 * GIB, 5 * GIB),                  # the benchmark machine: 60% = 14.4 GiB, capped at 5 GiB
    (8 * GIB, int(8 * GIB * 0.6)),        # a small laptop: 60% = 4.8 GiB, under the cap
    (0, DEFAULT_MEMORY_CAP),              # unknown RAM: the cap
])
def test_default_memory_limit(ram: int, expected: int) -> None:
    assert default_memory_limit(ram) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("6GB", 6 * 1000**3),
    ("512MiB", 512 * MIB),
    ("1.5 GiB", int(1.5 * GIB)),
    ("8gib", 8 * GIB),
])
def test_sizes(text: str, expected: int) -> None:
    assert parse_size(text) == expected


def test_share_of_ram() -> None:
    assert parse_size("50%", ram=16 * GIB) == 8 * GIB
    assert parse_size("12.5%", ram=16 * GIB) == 2 * GIB


@pytest.mark.parametrize(("raw", "match"), [
    ({"engine": {"memory": "6GB"}}, r"engine has unknown key\(s\) \['memory'\]"),
    ({"engine": {"memory_limit": "lots"}}, "is not a size"),
    ({"engine": {"memory_limit": 6}}, "is not a size"),          # a bare number has no unit
    ({"engine": {"memory_limit": "10MB"}}, "below 64MB"),
    ({"engine": {"memory_limit": "0%"}}, "above 0%"),
    ({"engine": {"memory_limit": "150%"}}, "at most 100%"),
    ({"engine": {"threads": 0}}, "threads must be a whole number"),
    ({"engine": {"threads": "two"}}, "threads must be a whole number"),
    ({"engine": {"threads": True}}, "threads must be a whole number"),
    ({"engine": {"temp_directory": ""}}, "temp_directory must be a folder path"),
    ({"engine": ["memory_limit"]}, "engine must be a mapping"),
])
def test_bad_engine_settings(raw: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_config(raw)


def test_engine_settings_from_dataset_yml(tmp_path: Path) -> None:
    (tmp_path / "dataset.yml").write_text(
        "engine:\n  memory_limit: 2GiB\n  temp_directory: spill\n  threads: 1\n", encoding="utf-8")
    cfg = load_config(tmp_path)
    assert cfg.engine.memory_limit == 2 * GIB
    assert cfg.engine.threads == 1
    # relative to the dataset folder, like the table files
    assert Path(cfg.engine.temp_directory) == (tmp_path / "spill").resolve()
    assert cfg.engine.duckdb_settings() == {
        "memory_limit": "2048MiB", "temp_directory": str((tmp_path / "spill").resolve()),
        "threads": 1}


def test_settings_reach_duckdb(tmp_path: Path) -> None:
    engine = EngineConfig(memory_limit=1536 * MIB, temp_directory=str(tmp_path / "spill"), threads=1)
    con = connect_duckdb("Asia/Shanghai", **engine.duckdb_settings())

    def setting(name: str):
        return con.raw_sql(f"SELECT current_setting('{name}')").fetchone()[0]

    # DuckDB reports memory in its own units: 1536 MiB is 1.5 GiB
    assert setting("memory_limit") == "1.5 GiB"
    assert setting("threads") == 1
    assert setting("temp_directory") == str(tmp_path / "spill")


# ---- engine.backend postgres ------------------------------------------------------------------

PG = {"host": "db.internal", "port": 5432, "database": "dw", "user": "analyst", "schema": "mkt"}


def test_postgres_settings_are_kept() -> None:
    cfg = parse_config({"engine": {"backend": "postgres", "postgres": {**PG, "sslmode": "require"}}})
    assert cfg.engine.backend == "postgres"
    assert cfg.engine.postgres == {**PG, "sslmode": "require"}
    assert parse_config({}).engine.postgres == {}


@pytest.mark.parametrize(("postgres", "match"), [
    ({**PG, "password": "s3cret"}, r"engine.postgres.password: a password does not belong in "
                                   r"dataset.yml .*PGPASSWORD or in ~/.pgpass"),
    ({**PG, "PASSWORD": "s3cret"}, "a password does not belong"),
    ({**PG, "sslpassword": "s3cret"}, r"engine.postgres.sslpassword: a password does not belong"),
    (None, r"engine.postgres is missing: engine.backend postgres needs the connection settings"),
    ({}, r"engine.postgres is empty; write at least database"),
    ({"host": "db.internal"}, r"engine.postgres needs database"),
    ({**PG, "dbname": "dw"}, r"engine.postgres has unknown key\(s\) \['dbname'\]"),
    ({**PG, "port": "5432x"}, r"engine.postgres.port must be a port number"),
    ({**PG, "port": 70000}, r"engine.postgres.port must be a port number"),
    ({**PG, "user": None}, r"engine.postgres.user must be a text or a number"),
    ({**PG, "database": "postgresql://analyst:s3cret@db/dw"}, "looks like a connection string"),
    ({**PG, "database": "dbname=dw password=s3cret"}, "looks like a connection string"),
    (["dw"], "engine.postgres must be a mapping"),
])
def test_bad_postgres_settings(postgres, match: str) -> None:
    engine = {"backend": "postgres"} if postgres is None else {"backend": "postgres",
                                                               "postgres": postgres}
    with pytest.raises(ConfigError, match=match) as err:
        parse_config({"engine": engine})
    assert "s3cret" not in str(err.value)  # the refused secret is not echoed


@pytest.mark.parametrize("backend", [None, "duckdb", "pyspark"])
def test_postgres_settings_need_the_postgres_backend(backend) -> None:
    engine = {"postgres": PG} if backend is None else {"backend": backend, "postgres": PG}
    with pytest.raises(ConfigError, match=r"engine.postgres is set but engine.backend is "
                                          rf"'{backend or 'duckdb'}'; write backend: postgres"):
        parse_config({"engine": engine})


def test_unknown_backend_points_to_the_engines_page() -> None:
    with pytest.raises(ConfigError, match=r"engine.backend 'clickhouse' is not one of \['duckdb', "
                                          r"'pyspark', 'postgres'\]; for another warehouse .* "
                                          r"docs/engines.md, section 2"):
        parse_config({"engine": {"backend": "clickhouse"}})


@pytest.mark.postgres  # needs psycopg, which the fast tier's setup does not install
def test_postgres_connection_errors_are_config_errors(tmp_path: Path, monkeypatch) -> None:
    import sys

    from growthloop.engine import connect_postgres

    # no server behind this socket folder: libpq's reason, and where the password comes from
    with pytest.raises(ConfigError, match=r"engine.postgres \(host=.*, database=dw\): cannot "
                                          r"connect: .*PGPASSWORD or ~/.pgpass"):
        connect_postgres("Asia/Shanghai", {"host": str(tmp_path), "database": "dw"})
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if it were not installed
    with pytest.raises(ConfigError, match="needs psycopg: pip install -r requirements-postgres.txt"):
        connect_postgres("Asia/Shanghai", {"host": str(tmp_path), "database": "dw"})

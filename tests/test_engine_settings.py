"""dataset.yml `engine:`: DuckDB memory limit, spill folder and threads, with their defaults."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from growthloop.config import (
    DEFAULT_MEMORY_CAP,
    ConfigError,
    EngineConfig,
    default_memory_limit,
    load_config,
    parse_config,
    parse_size,
)
from growthloop.data import connect_duckdb

GIB = 1024**3
MIB = 1024**2


def test_defaults_without_engine_key() -> None:
    cfg = parse_config({})
    assert cfg.engine.memory_limit == default_memory_limit()
    assert cfg.engine.threads is None
    # the spill folder is in the system temp folder, not DuckDB's .tmp in the working directory
    assert Path(cfg.engine.temp_directory) == Path(tempfile.gettempdir()) / "growthloop-duckdb"


@pytest.mark.parametrize(("ram", "expected"), [
    (24 * GIB, 6 * GIB),                  # the benchmark machine: 60% = 14.4 GiB, capped at 6 GiB
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

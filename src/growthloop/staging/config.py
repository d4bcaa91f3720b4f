"""dataset.yml: how a platform's own export maps onto the data contract.

A dataset folder holds one file per table (Parquet or CSV) and, optionally, a dataset.yml:

    name: my_platform
    timezone: Asia/Shanghai          # the platform's day; timestamps with a zone are converted
    analysis_date: 2026-06-30        # optional; default: the last event day in the data
    revenue_margin_annual: 0.02      # used only when transactions has no revenue column
    current_holding_days: 30         # how long a current (活期) deposit counts as held
    tables:
      users:
        file: 用户表.csv              # default: users.parquet or users.csv
        encoding: gbk                # CSV only; default utf-8 (a BOM is accepted)
        columns: {用户ID: user_id, 注册时间: registered_at}   # theirs -> ours
        values: {gender: {M: 男, F: 女}}                      # per-column value maps
      events:
        values: {event_name: {注册: register, 绑卡: bind_card}}
    channels:                        # replaces the default channel map
      - {name: 百度搜索, name_en: Search ads, kind: paid, sources: [baidu, bd_sem]}
    rfm_actions:                     # edits the RFM chapter's action table (growthloop.metrics.rfm)
      重要挽留: {action: 客服电话回访, channel: 客服电话, offer: 50元召回红包}
      important value: {offer: 生日礼包}   # a field left out keeps its default
    engine:                          # growthloop.staging.config.EngineConfig; docs/engines.md
      backend: duckdb                # or pyspark or postgres: then each table names its `source:`
      memory_limit: 6GB              # default: 60% of RAM, at most 5 GiB; or a share: 50%
      temp_directory: /data/spill    # where DuckDB spills; default: <system temp>/growthloop-duckdb
      threads: 4                     # default: every core
      # backend: pyspark  ->  spark: {spark.master: yarn, ...}   any Spark setting
      # backend: postgres ->  postgres: {host: db.internal, port: 5432, database: dw,
      #                                  user: analyst, schema: mkt}
      #   passed to ibis.postgres.connect; no password here (the folder gets shared): libpq
      #   reads it from PGPASSWORD or ~/.pgpass. A table without `source:` is refused there.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from growthloop.errors import ConfigError
from growthloop.staging.contract import (
    ACTION_FIELDS,
    DEFAULT_CHANNELS,
    PROPERTIES_COLUMN,
    RESERVED_EVENT_COLUMNS,
    SEGMENTS,
    TABLES,
    Channel,
)

DATASET_FILE = "dataset.yml"


@dataclass
class TableConfig:
    """How one contract table is read: dataset.yml `tables.<name>` (keys in TABLE_KEYS).

    Attributes
    ----------
    file : str or None
        The file in the dataset folder; None: ``<name>.parquet`` or ``<name>.csv``.
    source : str or None
        A table in the engine ("db.table") instead of a file.
    encoding : str
        CSV encoding (utf-8, gbk, gb18030); a BOM is accepted.
    columns : dict of str to str
        Their column name -> the contract's.
    values : dict of str to dict
        Per-column value maps (their value -> the contract's).
    properties : tuple of str
        Events only: the event properties steps and goals may filter on.
    """
    file: str | None = None
    source: str | None = None  # a table in the engine ("db.table") instead of a file
    encoding: str = "utf-8"
    columns: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    # events only: the event properties steps and goals may filter on (extra columns of the
    # file, or keys of its JSON `properties` column); empty: every key found (DuckDB files)
    properties: tuple[str, ...] = ()


#: The keys a table may have under tables.<name> in dataset.yml.
TABLE_KEYS = ("file", "source", "encoding", "columns", "values", "properties")


# Default DuckDB memory limit: this share of the machine's RAM, but never more than the cap, so
# a run leaves room for Python, pandas frames and plotting next to the engine (DuckDB spills
# what does not fit to temp_directory). Why these values: docs/design_notes.md, "Scale", and the
# measurements in docs/benchmarks.md.
DEFAULT_MEMORY_SHARE = 0.6
DEFAULT_MEMORY_CAP = 5 * 1024**3
ENGINE_KEYS = ("backend", "spark", "postgres", "memory_limit", "temp_directory", "threads")
# Engines a dataset can name; growthloop.engine.connect_engine opens them in the dataset's zone.
BACKENDS = ("duckdb", "pyspark", "postgres")
# engine.postgres: the connection settings ibis.postgres.connect takes (database is libpq's
# dbname) and the libpq ones psycopg passes on. No password and no connection string: a dataset
# folder is committed and shared, so the secret stays in PGPASSWORD or ~/.pgpass (PGPASSFILE).
POSTGRES_KEYS = ("host", "port", "database", "user", "schema", "sslmode", "sslrootcert",
                 "sslcert", "sslkey", "connect_timeout", "application_name", "options",
                 "service", "passfile", "target_session_attrs")
POSTGRES_SECRETS = ("password", "sslpassword")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KIB|MIB|GIB|TIB)\s*$", re.IGNORECASE)
_SHARE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")
_UNITS = {"B": 1, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4,
          "KIB": 1024, "MIB": 1024**2, "GIB": 1024**3, "TIB": 1024**4}


def total_memory() -> int:
    """Physical memory of the machine in bytes, for the default DuckDB memory limit.

    Returns
    -------
    int
        Bytes of RAM; 0 when the platform does not say.
    """
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 0


def default_memory_limit(ram: int | None = None) -> int:
    """The default DuckDB memory limit: 60% of RAM capped at 5 GiB, in bytes.

    The cap leaves room for Python, pandas frames and plotting next to the engine
    (docs/design_notes.md, "Scale").

    Parameters
    ----------
    ram : int or None, default None
        Bytes of RAM; None asks the machine (`total_memory`).

    Returns
    -------
    int
        The limit in bytes; the cap alone when RAM is unknown (0).

    Examples
    --------
    >>> default_memory_limit(4 * 1024**3)   # 60% of 4 GiB
    2576980377
    >>> default_memory_limit(16 * 1024**3) == 5 * 1024**3   # capped
    True
    """
    ram = total_memory() if ram is None else ram
    if ram <= 0:
        return DEFAULT_MEMORY_CAP
    return min(int(ram * DEFAULT_MEMORY_SHARE), DEFAULT_MEMORY_CAP)


def default_temp_directory() -> str:
    """The spill folder when none is configured: growthloop-duckdb in the system temp folder.

    DuckDB's own default, .tmp in the working directory, would land in the chapters folder.

    Returns
    -------
    str
        An absolute path (not created here).
    """
    return str(Path(tempfile.gettempdir()) / "growthloop-duckdb")


@dataclass
class EngineConfig:
    """Which engine runs the analysis and how it may use the machine; dataset.yml `engine:`.

    `backend` duckdb (default, in process), pyspark (a Spark session built from `spark`, a
    mapping of Spark settings such as spark.master) or postgres (a connection made from
    `postgres`, see POSTGRES_KEYS); on those two the tables come from `source:`.
    The memory settings are DuckDB's."""

    backend: str = "duckdb"
    spark: dict[str, str] = field(default_factory=dict)
    postgres: dict[str, Any] = field(default_factory=dict)  # keyword arguments of the connect
    memory_limit: int = field(default_factory=default_memory_limit)  # bytes
    temp_directory: str = field(default_factory=default_temp_directory)
    threads: int | None = None  # None: DuckDB's default, every core

    def duckdb_settings(self) -> dict[str, Any]:
        """Keyword arguments for growthloop.engine.connect_duckdb.

        Returns
        -------
        dict of str to Any
            ``memory_limit`` (text in MiB, at least 1MiB), ``temp_directory`` and ``threads``.
        """
        return {"memory_limit": f"{max(1, self.memory_limit // 1024**2)}MiB",
                "temp_directory": self.temp_directory, "threads": self.threads}


def parse_size(value: Any, ram: int | None = None) -> int:
    """Read a memory size from dataset.yml in bytes: "6GB", "512MiB", or a share of RAM, "50%".

    Parameters
    ----------
    value : Any
        The YAML value: a number with a unit (B, KB, MB, GB, TB decimal; KiB, MiB, GiB, TiB
        binary; any case) or a percentage above 0 and at most 100.
    ram : int or None, default None
        Bytes of RAM a share is taken of; None asks the machine (`total_memory`).

    Returns
    -------
    int
        The size in bytes.

    Raises
    ------
    ConfigError
        When the value is not a size, a share is out of range or RAM is unknown, or the size is
        below 64MB (DuckDB cannot work in that).

    Examples
    --------
    >>> parse_size("6GB")
    6000000000
    >>> parse_size("512MiB")
    536870912
    >>> parse_size("50%", ram=8 * 1024**3)
    4294967296
    """
    text = str(value)
    m = _SIZE.match(text)
    if m and not isinstance(value, bool):
        size = float(m.group(1)) * _UNITS[m.group(2).upper()]
    elif (m := _SHARE.match(text)) and not isinstance(value, bool):
        share = float(m.group(1))
        if not 0 < share <= 100:
            raise ConfigError(f"{DATASET_FILE}: engine.memory_limit {value!r}: a share must be "
                              "above 0% and at most 100%")
        ram = total_memory() if ram is None else ram
        if ram <= 0:
            raise ConfigError(f"{DATASET_FILE}: engine.memory_limit {value!r}: the machine's "
                              "memory is unknown; write a size such as 6GB")
        size = ram * share / 100
    else:
        raise ConfigError(f"{DATASET_FILE}: engine.memory_limit {value!r} is not a size; write "
                          "a number with a unit (512MB, 6GB, 8GiB) or a share of RAM (50%)")
    if size < 64 * 1024**2:
        raise ConfigError(f"{DATASET_FILE}: engine.memory_limit {value!r} is below 64MB; "
                          "DuckDB cannot work in that")
    return int(size)


def _parse_engine(value: Any) -> EngineConfig:
    """engine: memory_limit, temp_directory, threads; unknown keys are refused."""
    raw = _as_mapping(value, "engine")
    bad = sorted(str(k) for k in set(raw) - set(ENGINE_KEYS))
    if bad:
        raise ConfigError(f"{DATASET_FILE}: engine has unknown key(s) {bad}; the keys are "
                          f"{list(ENGINE_KEYS)}")
    cfg = EngineConfig()
    if raw.get("backend") is not None:
        if raw["backend"] not in BACKENDS:
            raise ConfigError(f"{DATASET_FILE}: engine.backend {raw['backend']!r} is not one of "
                              f"{list(BACKENDS)}; for another warehouse (ClickHouse, Trino, "
                              "BigQuery) see docs/engines.md, section 2")
        cfg.backend = raw["backend"]
    spark = _as_mapping(raw.get("spark"), "engine.spark")
    if spark and cfg.backend != "pyspark":
        raise ConfigError(f"{DATASET_FILE}: engine.spark is set but engine.backend is "
                          f"{cfg.backend!r}; write backend: pyspark")
    cfg.spark = {str(k): str(v) for k, v in spark.items()}
    cfg.postgres = _parse_postgres(raw.get("postgres"), cfg.backend)
    if raw.get("memory_limit") is not None:
        cfg.memory_limit = parse_size(raw["memory_limit"])
    if raw.get("temp_directory") is not None:
        temp = raw["temp_directory"]
        if not isinstance(temp, str) or not temp.strip() or "'" in temp:
            raise ConfigError(f"{DATASET_FILE}: engine.temp_directory must be a folder path "
                              f"(without quotes), got {temp!r}")
        cfg.temp_directory = str(Path(temp.strip()).expanduser())
    if raw.get("threads") is not None:
        threads = raw["threads"]
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ConfigError(f"{DATASET_FILE}: engine.threads must be a whole number of at "
                              f"least 1, got {threads!r}")
        cfg.threads = threads
    return cfg


def _parse_postgres(value: Any, backend: str) -> dict[str, Any]:
    """engine.postgres: connection settings, checked; a password in the file is refused."""
    where = f"{DATASET_FILE}: engine.postgres"
    if value is None and backend == "postgres":
        raise ConfigError(f"{where} is missing: engine.backend postgres needs the connection "
                          "settings, e.g. postgres: {host: db.internal, port: 5432, database: dw, "
                          "user: analyst}")
    raw = _as_mapping(value, "engine.postgres")
    if not raw:
        if value is not None and backend == "postgres":
            raise ConfigError(f"{where} is empty; write at least database (e.g. database: dw)")
        return {}
    if backend != "postgres":
        raise ConfigError(f"{where} is set but engine.backend is {backend!r}; write "
                          "backend: postgres")
    secrets = sorted(str(k) for k in raw if str(k).lower() in POSTGRES_SECRETS)
    if secrets:
        raise ConfigError(f"{where}.{secrets[0]}: a password does not belong in {DATASET_FILE} "
                          "(the dataset folder gets committed and shared); remove it and give it "
                          "to libpq instead, in the environment variable PGPASSWORD or in "
                          "~/.pgpass (host:port:database:user:password, mode 0600)")
    bad = sorted(str(k) for k in set(raw) - set(POSTGRES_KEYS))
    if bad:
        raise ConfigError(f"{where} has unknown key(s) {bad}; the keys are {list(POSTGRES_KEYS)}")
    if "database" not in raw and "service" not in raw:
        raise ConfigError(f"{where} needs database (or a service from pg_service.conf)")
    out: dict[str, Any] = {}
    for key, setting in raw.items():
        if setting is None or isinstance(setting, (dict, list, bool)):
            raise ConfigError(f"{where}.{key} must be a text or a number, got {setting!r}")
        if key == "port":
            if not isinstance(setting, int) or not 0 < setting < 65536:
                raise ConfigError(f"{where}.port must be a port number (1 to 65535), got "
                                  f"{setting!r}")
            out[key] = setting
            continue
        text = str(setting)
        if key in ("database", "host") and ("=" in text or "://" in text):
            # libpq reads a dbname holding '=' or 'postgresql://' as a whole connection string
            raise ConfigError(f"{where}.{key} looks like a connection string (not shown: it may "
                              "hold a password); write each setting under its own key (host, "
                              "port, database, user) and the password in PGPASSWORD or ~/.pgpass")
        out[key] = text
    return out


@dataclass
class DatasetConfig:
    """The whole of dataset.yml, parsed and checked (`parse_config`); defaults without one.

    Attributes
    ----------
    name : str
        The dataset's name (the folder's name when there is no dataset.yml).
    timezone : str
        IANA zone of the platform's day; zoned timestamps are converted to it.
    analysis_date : datetime.date or None
        The analysis day; None: the last event day in the data.
    revenue_margin_annual : float
        Share of the amount earned per year, used only when transactions has no revenue column.
    current_holding_days : int
        How long a current (活期) deposit counts as held.
    tables : dict of str to TableConfig
        The tables dataset.yml configures (others: `TableConfig()` defaults, see `table`).
    channels : tuple of Channel
        The channel map (replaces DEFAULT_CHANNELS when given).
    rfm_actions : dict of str to dict
        Segment (Chinese label) -> {action, channel, offer}; only the fields the analyst changed.
    engine : EngineConfig
        Which engine runs the analysis and its settings.
    """
    name: str = "dataset"
    timezone: str = "Asia/Shanghai"
    analysis_date: dt.date | None = None
    revenue_margin_annual: float = 0.02
    current_holding_days: int = 30
    tables: dict[str, TableConfig] = field(default_factory=dict)
    channels: tuple[Channel, ...] = DEFAULT_CHANNELS
    # segment (Chinese label) -> {action, channel, offer}; only the fields the analyst changed
    rfm_actions: dict[str, dict[str, str]] = field(default_factory=dict)
    engine: EngineConfig = field(default_factory=EngineConfig)

    def table(self, name: str) -> TableConfig:
        """The configuration of one contract table, defaults when dataset.yml has none.

        Parameters
        ----------
        name : str
            A contract table ("users", "events", ...).

        Returns
        -------
        TableConfig
            The configured one, or a fresh `TableConfig()`.
        """
        return self.tables.get(name, TableConfig())


def _as_mapping(value: Any, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{DATASET_FILE}: {where} must be a mapping, got {type(value).__name__}")
    return value


def _zones() -> set[str]:
    """The IANA time zone names (zoneinfo's list: no 'posixrules' or 'localtime' files)."""
    import zoneinfo

    return zoneinfo.available_timezones()


def _number(raw: dict, key: str, default: float, what: str, ok: Callable[[float], bool]) -> float:
    """A number setting, or a ConfigError naming the key and what to write."""
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not ok(value):
        raise ConfigError(f"{DATASET_FILE}: {key} {value!r} is not {what}")
    return float(value)


def _list(value: Any, where: str) -> list:
    if not isinstance(value, list):
        raise ConfigError(f"{DATASET_FILE}: {where} must be a list, got {value!r}")
    return value


def parse_config(raw: dict[str, Any] | None) -> DatasetConfig:
    """Build a DatasetConfig from the parsed YAML, refusing unknown keys and tables.

    Parameters
    ----------
    raw : dict or None
        dataset.yml as loaded by YAML; None gives the defaults.

    Returns
    -------
    DatasetConfig
        The checked configuration (a relative temp_directory is left as written; `load_config`
        resolves it against the folder).

    Raises
    ------
    ConfigError
        For an unknown key, table or column, a value of the wrong kind (time zone, date, number,
        channel, rfm_actions, engine settings), or a password in engine.postgres; the message
        names the key and what to write.
    """
    raw = _as_mapping(raw, "the top level")
    known = {"name", "timezone", "analysis_date", "revenue_margin_annual",
             "current_holding_days", "tables", "channels", "rfm_actions", "engine"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{DATASET_FILE}: unknown key(s) {unknown}; known keys are {sorted(known)}")
    cfg = DatasetConfig()
    cfg.name = str(raw.get("name", cfg.name))
    cfg.timezone = str(raw.get("timezone", cfg.timezone))
    if cfg.timezone not in _zones():
        raise ConfigError(f"{DATASET_FILE}: timezone {cfg.timezone!r} is not a time zone; write "
                          "an IANA name such as Asia/Shanghai")
    if raw.get("analysis_date") is not None:
        value = raw["analysis_date"]
        try:
            cfg.analysis_date = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
        except ValueError as exc:
            raise ConfigError(f"{DATASET_FILE}: analysis_date {value!r} is not a YYYY-MM-DD date") from exc
    cfg.revenue_margin_annual = _number(raw, "revenue_margin_annual", cfg.revenue_margin_annual,
                                        "a share of the amount per year, e.g. 0.02 for 2%",
                                        lambda v: 0 <= v < 1)
    cfg.current_holding_days = int(_number(raw, "current_holding_days", cfg.current_holding_days,
                                           "a whole number of days, e.g. 30",
                                           lambda v: v >= 0 and float(v).is_integer()))
    for name, table_raw in _as_mapping(raw.get("tables"), "tables").items():
        if name not in TABLES:
            raise ConfigError(f"{DATASET_FILE}: tables.{name} is not a contract table; "
                              f"the tables are {sorted(TABLES)}")
        table_raw = _as_mapping(table_raw, f"tables.{name}")
        unknown_keys = sorted(str(k) for k in set(table_raw) - set(TABLE_KEYS))
        if unknown_keys:
            raise ConfigError(f"{DATASET_FILE}: tables.{name} has unknown key(s) {unknown_keys}; "
                              f"the keys are {list(TABLE_KEYS)}")
        columns = {str(k): str(v) for k, v in _as_mapping(table_raw.get("columns"), f"tables.{name}.columns").items()}
        spec = TABLES[name]
        properties = _parse_properties(name, table_raw.get("properties"), spec)
        targets = [*spec.column_names, *properties]
        if name == "events":
            targets.append(PROPERTIES_COLUMN)
        bad = sorted(v for v in columns.values() if v not in targets)
        if bad:
            raise ConfigError(f"{DATASET_FILE}: tables.{name}.columns maps to {bad}, which are not "
                              f"columns of {name}; its columns are {targets}"
                              + (" (an event property must also be listed under "
                                 "tables.events.properties)" if name == "events" else ""))
        values = {
            str(col): {str(k): str(v) for k, v in _as_mapping(m, f"tables.{name}.values.{col}").items()}
            for col, m in _as_mapping(table_raw.get("values"), f"tables.{name}.values").items()
        }
        if table_raw.get("file") and table_raw.get("source"):
            raise ConfigError(f"{DATASET_FILE}: tables.{name} has both file and source; a table "
                              "comes from a file in the folder or from a table in the engine")
        source = table_raw.get("source")
        if source is not None and not re.fullmatch(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*){0,2}", str(source)):
            raise ConfigError(f"{DATASET_FILE}: tables.{name}.source {source!r} is not a table "
                              "name; write table, database.table or catalog.database.table")
        cfg.tables[name] = TableConfig(
            file=table_raw.get("file"),
            source=str(source) if source is not None else None,
            encoding=str(table_raw.get("encoding", "utf-8")),
            columns=columns,
            values=values,
            properties=properties,
        )
    if raw.get("channels") is not None:
        channels = []
        if not isinstance(raw["channels"], list):
            raise ConfigError(f"{DATASET_FILE}: channels must be a list of channels, e.g. "
                              "- {name: 百度搜索, sources: [baidu, bd_sem]}; got "
                              f"{raw['channels']!r}")
        for i, ch in enumerate(raw["channels"]):
            ch = _as_mapping(ch, f"channels[{i}]")
            if "name" not in ch:
                raise ConfigError(f"{DATASET_FILE}: channels[{i}] needs a name")
            channels.append(Channel(
                name=str(ch["name"]),
                name_en=str(ch.get("name_en", ch["name"])),
                kind=str(ch.get("kind", "paid")),
                sources=tuple(str(s).strip().lower() for s in _list(ch.get("sources", []),
                                                                      f"channels[{i}].sources")),
            ))
        cfg.channels = tuple(channels)
    cfg.rfm_actions = _parse_rfm_actions(raw.get("rfm_actions"))
    cfg.engine = _parse_engine(raw.get("engine"))
    return cfg


def _parse_properties(name: str, value: Any, spec) -> tuple[str, ...]:
    """tables.events.properties: the event properties (names) steps and goals may filter on."""
    if value is None:
        return ()
    where = f"{DATASET_FILE}: tables.{name}.properties"
    if name != "events":
        raise ConfigError(f"{where}: only events have properties")
    if isinstance(value, str) or not isinstance(value, list):
        raise ConfigError(f"{where} must be a list of property names, e.g. [product_type, "
                          f"risk_level]; got {value!r}")
    out: list[str] = []
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise ConfigError(f"{where}: {item!r} is not a property name")
        prop = item.strip()
        if prop in spec.column_names or prop in RESERVED_EVENT_COLUMNS:
            raise ConfigError(f"{where}: {prop!r} is a column of the events table itself, not a "
                              f"property; the reserved names are "
                              f"{[*spec.column_names, *RESERVED_EVENT_COLUMNS]}")
        if prop in out:
            raise ConfigError(f"{where} names {prop!r} twice")
        out.append(prop)
    return tuple(out)


def _parse_rfm_actions(value: Any) -> dict[str, dict[str, str]]:
    """rfm_actions: segment -> {action, channel, offer}, keyed by the segment's Chinese label.

    A segment may be named by its Chinese label (重要价值), English label (important value) or
    code (important_value); unknown segments and fields are refused.
    """
    names = {}
    for seg in SEGMENTS:
        for name in (seg.label, seg.label_en, seg.code):
            names[name] = seg.label
    out: dict[str, dict[str, str]] = {}
    for name, fields in _as_mapping(value, "rfm_actions").items():
        key = names.get(str(name).strip())
        if key is None:
            raise ConfigError(f"{DATASET_FILE}: rfm_actions.{name} is not an RFM segment; the "
                              f"segments are {[s.label for s in SEGMENTS]} (or their English "
                              f"labels {[s.label_en for s in SEGMENTS]})")
        if key in out:
            raise ConfigError(f"{DATASET_FILE}: rfm_actions names the segment {key} twice")
        fields = _as_mapping(fields, f"rfm_actions.{name}")
        bad = sorted(str(k) for k in set(fields) - set(ACTION_FIELDS))
        if bad:
            raise ConfigError(f"{DATASET_FILE}: rfm_actions.{name} has unknown key(s) {bad}; "
                              f"the keys are {list(ACTION_FIELDS)}")
        for k, v in fields.items():
            if v is None or isinstance(v, (dict, list)):
                raise ConfigError(f"{DATASET_FILE}: rfm_actions.{name}.{k} must be a text, "
                                  f"got {v!r}")
        out[key] = {str(k): str(v) for k, v in fields.items()}
    return out


def with_channel_map(channels: tuple[Channel, ...], aliases: Any) -> tuple[Channel, ...]:
    """Apply a run's extra source aliases ({source: channel name}) to `channels`.

    A source is normalised like every UTM value (URL-decoded, trimmed, lower-cased) and leaves
    the channel that claimed it before; a channel name not in the map becomes a new paid
    channel. Applied when the dataset is opened (`open_dataset(channel_map=...)`), so the wide
    table's sign-up channel, the touches and the costs agree in every chapter.

    Parameters
    ----------
    channels : tuple of Channel
        The dataset's channel map.
    aliases : Any
        A mapping {source: channel name} from the run's campaign file; empty or None changes
        nothing.

    Returns
    -------
    tuple of Channel
        The channels in their order, new channels last.

    Raises
    ------
    ConfigError
        When `aliases` is not a mapping, or a source or channel name is empty.
    """
    from urllib.parse import unquote_plus

    if not aliases:
        return channels
    if not isinstance(aliases, dict):
        raise ConfigError(f"channel_map: give {{source: channel}}, e.g. {{mysrc: 百度搜索}}; got "
                          f"{type(aliases).__name__} {aliases!r}")
    extra: dict[str, list[str]] = {}
    for source, name in aliases.items():
        key = unquote_plus(str(source)).strip().lower()
        if not key or name is None or not str(name).strip():
            raise ConfigError(f"channel_map: empty source or channel in {source!r}: {name!r}")
        extra.setdefault(str(name).strip(), []).append(key)
    moved = {a for sources in extra.values() for a in sources}
    out = []
    for ch in channels:
        add = extra.pop(ch.name, [])
        kept = tuple(a for a in ch.sources if a not in moved)
        out.append(replace(ch, sources=tuple(dict.fromkeys((*kept, *add)))))
    for name, sources in extra.items():
        out.append(Channel(name, name, "paid", tuple(dict.fromkeys(sources))))
    return tuple(out)


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a mapping that names a key twice: YAML keeps the last one,
    so a value map with 成功 twice would silently map it to the second value."""


def _mapping_without_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False):
    seen: set = set()
    for key_node, _value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise ConfigError(f"{DATASET_FILE}: the key {key!r} appears twice in one mapping "
                              f"(line {key_node.start_mark.line + 1}); keep one of them")
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                                 _mapping_without_duplicates)


def load_config(folder: str | Path) -> DatasetConfig:
    """Read dataset.yml from a dataset folder; a folder without one gets the defaults.

    A mapping that names a key twice is refused (YAML would keep the last one silently). A
    relative engine.temp_directory is taken relative to the folder, like the table files.

    Parameters
    ----------
    folder : str or Path
        The dataset folder.

    Returns
    -------
    DatasetConfig
        The checked configuration (named after the folder when there is no dataset.yml).

    Raises
    ------
    ConfigError
        When dataset.yml is not UTF-8, not valid YAML, names a key twice, or fails `parse_config`.
    """
    path = Path(folder) / DATASET_FILE
    if not path.exists():
        return DatasetConfig(name=Path(folder).name)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{DATASET_FILE} is not UTF-8 text (byte {exc.start}): save it as "
                          "UTF-8 (an editor's 'UTF-8' encoding; GBK is for the data files, set "
                          "with tables.<name>.encoding)") from None
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" (line {where.line + 1})" if where is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{DATASET_FILE} is not valid YAML{at}: {problem}") from None
    cfg = parse_config(raw)
    if not Path(cfg.engine.temp_directory).is_absolute():
        # a relative spill folder is relative to the dataset folder, like the table files
        cfg.engine.temp_directory = str((Path(folder) / cfg.engine.temp_directory).resolve())
    return cfg

"""Load a dataset once per run and share it between the chapters.

Opening a dataset (reading the files, checking every row, building the user wide table) is
the slowest step of a run at scale: at 10 million users it is minutes, and each chapter runs
in its own kernel. The runner therefore loads the dataset once into a DuckDB database file in
the run folder (`prepare_store`) and names it in the kernels' environment (`STORE_ENV`);
`open_store` gives each chapter the same clean tables and the marts that do not depend on a
chapter's parameters (investments, person events, the wide table: identity is stitched once per
run), attached read-only, in seconds. The file is deleted when the run ends: it holds row-level
personal data.

On Spark (a local master: every chapter's session must read the run folder) the store is a
folder of Parquet files instead, one per clean table and stored mart, written once by the
runner's load (`prepare_store`) and read by each chapter's own session (`open_store`): a book
costs one load instead of one per chapter.

A store is used only for the dataset folder, analysis date and channel map it was made from, and only
while the folder's files are unchanged (names, sizes, modification times and dataset.yml);
otherwise the chapter opens the dataset itself.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from growthloop import __version__
from growthloop.engine import connect_duckdb, connect_engine, fresh_name
from growthloop.errors import DataError
from growthloop.staging.config import load_config, with_channel_map
from growthloop.staging.contract import TABLES, VISITOR_COLUMN
from growthloop.staging.loader import (
    MAX_AMOUNT,
    MAX_SET_ASIDE_SHARE,
    Dataset,
    QualityReport,
    QualityRow,
    _Loader,
    _sql_text,
    as_date,
    kept_table_name,
    resolve_today,
)

if TYPE_CHECKING:
    import ibis

STORE_ENV = "GROWTHLOOP_STORE"
#: The identity mart (growthloop.marts.identity.NAME): with it in the store, the events are
#: written once (`_events_as_view`). Staging does not import the marts.
PERSON_EVENTS = "person_events"
#: How many chapters the run executes at once: each chapter's DuckDB gets a share of the
#: dataset's memory limit (`kernel_memory_limit`; the runner sets it beside STORE_ENV).
KERNELS_ENV = "GROWTHLOOP_KERNELS"
#: What a chapter's kernel holds beside its DuckDB memory limit: Python, pandas, matplotlib,
#: scipy and scikit-learn, their frames and DuckDB's own allocations outside its limit. Measured
#: at 10M users (round nine): 3.1 GiB per kernel beside a 2.5 GiB limit.
KERNEL_PYTHON_SIDE = 640 * 1024**2
#: Where the chapters' DuckDB spills during a run: a folder of the run's own under the
#: dataset's temp_directory (the runner sets it beside STORE_ENV and removes it after the
#: chapters, whose kernels it stops without waiting for them to clean up).
SPILL_ENV = "GROWTHLOOP_SPILL"
CATALOG = "gl_store"  # the name the store is attached under in a chapter's connection
MART_PREFIX = "mart_"  # a stored mart's Parquet folder in a Spark store, beside the tables'


def shares_a_store(config) -> bool:
    """Whether a run can load this dataset once for all its chapters.

    DuckDB: always (a file in the run folder). Spark: when its master is local (the default),
    so that every chapter's session reads the run folder; a cluster's executors do not see it,
    and there each chapter opens the dataset in the cluster itself. Postgres: never (the tables
    stay in the server).

    Parameters
    ----------
    config : growthloop.staging.config.DatasetConfig
        The dataset's configuration.

    Returns
    -------
    bool
    """
    if config.engine.backend == "pyspark":
        return config.engine.spark.get("spark.master", "local[*]").startswith("local")
    return config.engine.backend == "duckdb"


def fingerprint(folder: Path) -> str:
    """Digest what a store depends on: the folder's files (name, size, mtime), dataset.yml.

    The package version is part of it, so a store made by another version never fits.

    Parameters
    ----------
    folder : Path
        The dataset folder.

    Returns
    -------
    str
        A SHA-256 hex digest.
    """
    digest = hashlib.sha256(__version__.encode())
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    config = folder / "dataset.yml"
    if config.exists():
        digest.update(config.read_bytes())
    return digest.hexdigest()


def _meta_path(store: Path) -> Path:
    return store.with_name(store.name + ".json")


def _channel_key(channel_map: dict | None) -> str | None:
    """A run's channel map as stored in the meta file (None when there is none)."""
    return json.dumps(channel_map, ensure_ascii=False, sort_keys=True) if channel_map else None


def prepare_store(data: str | Path, store: str | Path, analysis_date: dt.date | str | None = None,
                  today: dt.date | None = None, marts: Sequence[Any] = (),
                  channel_map: dict[str, str] | None = None, con=None,
                  memory_limit: int | None = None) -> Path:
    """Open, validate and clean the dataset into the store `store`, with its marts.

    DuckDB: a database file. Spark (`shares_a_store`): a folder with one Parquet folder per
    clean table and per mart (`mart_<name>`), loaded in the session `con` or in one made from
    dataset.yml and stopped after the load.

    Parameters
    ----------
    data : str or Path
        The dataset folder, as for `open_dataset`.
    store : str or Path
        The DuckDB file (Spark: the folder) to write (replaced when it exists), with
        `<store>.json` beside it.
    analysis_date : datetime.date, str or None, default None
        As for `open_dataset`: the same checks.
    today : datetime.date or None, default None
        As for `open_dataset`; default today in the dataset's zone.
    marts : sequence, default ()
        Derived tables to build once and keep in the file, in order (a mart may read those
        before it): objects with `name` and `build(ds)`, `growthloop.marts.stored_marts()`.
        Staging does not import the marts; the runner hands them over.
    channel_map : dict of str to str or None, default None
        As for `open_dataset`: the run's extra source aliases.
    con : ibis.BaseBackend or None, default None
        Spark only: an open session in the dataset's zone to load in (left open); default one
        from dataset.yml's `engine.spark`, stopped after the load.
    memory_limit : int or None, default None
        DuckDB only: the load's memory limit in bytes. None gives it a lone kernel's share of
        the dataset's `engine.memory_limit` (`kernel_memory_limit(limit, 1)`): the load's
        process also holds Python and DuckDB's allocations outside its limit, so that it peaks
        no higher than a chapter, in a run or called alone.

    Returns
    -------
    Path
        The store.

    Raises
    ------
    DataError
        As `open_dataset`: a DataError stops the run before any chapter.
    ConfigError
        When dataset.yml or `channel_map` is malformed.
    """
    folder = Path(data).expanduser().resolve()
    analysis_date = as_date(analysis_date)
    store = Path(store)
    store.parent.mkdir(parents=True, exist_ok=True)
    for stale in (store, _meta_path(store)):
        if stale.is_dir():
            shutil.rmtree(stale)
        stale.unlink(missing_ok=True)
    config = load_config(folder)
    config.channels = with_channel_map(config.channels, channel_map)
    today = today or resolve_today(config.timezone)
    if config.engine.backend == "duckdb":
        config.engine.memory_limit = (kernel_memory_limit(config.engine.memory_limit, 1)
                                      if memory_limit is None else memory_limit)
    if config.engine.backend == "pyspark":
        ds = _spark_store(folder, store, config, analysis_date, today, marts, con)
    else:
        ds = _duckdb_store(folder, store, config, analysis_date, today, marts)
    meta = {"data": str(folder), "fingerprint": fingerprint(folder), "backend": config.engine.backend,
            "analysis_date_requested": str(analysis_date) if analysis_date else None,
            "analysis_date": str(ds.analysis_date), "tables": sorted(ds.tables),
            "marts": [m.name for m in marts] + kept_on_the_way(ds, marts),
            "channel_map": _channel_key(channel_map),
            "quality": asdict(ds.quality)}
    _meta_path(store).write_text(json.dumps(meta, ensure_ascii=False, default=str), encoding="utf-8")
    return store


def _duckdb_store(folder: Path, store: Path, config, analysis_date: dt.date | None,
                  today: dt.date, marts: Sequence[Any]) -> Dataset:
    """The load into a DuckDB file: clean tables and marts as its tables."""
    con = connect_duckdb(config.timezone, database=store, **config.engine.duckdb_settings())
    stitched = any(mart.name == PERSON_EVENTS for mart in marts)
    try:
        loader = _Loader(folder, con, config, analysis_date, MAX_SET_ASIDE_SHARE, MAX_AMOUNT,
                         today, temp=False,
                         views=("events",) if stitched else ())
        ds = loader.load()
        ds._persist = True  # what the marts keep on the way (the touches) goes into the file
        for mart in marts:
            name = kept_table_name(mart.name)
            if mart.name == PERSON_EVENTS:
                _person_events_without_user_id(con, mart.build(ds), name)
            else:
                con.create_table(name, mart.build(ds))
            ds._cache[mart.name] = con.table(name)  # later marts read the stored table
            if mart.name == PERSON_EVENTS and "events" in ds.tables:
                # later marts read the stored events, not the loader's view of its parsed rows,
                # which are dropped (at 10M users the load's largest allocation)
                ds.tables["events"] = _events_as_view(con, ds, loader)
        con.raw_sql("CHECKPOINT")
    finally:
        con.disconnect()
    return ds


def _spark_store(folder: Path, store: Path, config, analysis_date: dt.date | None,
                 today: dt.date, marts: Sequence[Any], con=None) -> Dataset:
    """The load in Spark, its clean tables and marts written to Parquet folders under `store`."""
    own = con is None
    con = con or connect_engine(config)
    try:
        ds = _Loader(folder, con, config, analysis_date, MAX_SET_ASIDE_SHARE, MAX_AMOUNT,
                     today).load()
        store.mkdir(mode=0o700)
        ds._persist = True  # lists what the marts keep on the way (the touches), written below
        for name in sorted(ds.tables):
            con.to_parquet(ds.tables[name], str(store / name))
        for mart in marts:
            path = store / _mart_folder(mart.name)
            con.to_parquet(mart.build(ds), str(path))
            # later marts read the stored one
            ds._cache[mart.name] = con.read_parquet(str(path), table_name=fresh_name(mart.name))
        for key in kept_on_the_way(ds, marts):
            con.to_parquet(ds._cache[key], str(store / _mart_folder(key)))
    finally:
        if own:
            con.disconnect()
    return ds


def kept_on_the_way(ds: Dataset, marts: Sequence[Any]) -> list[str]:
    """The keys of the tables the marts kept while they were built (`Dataset.keep`): the
    touches of the default touch events, say, which the wide table's sign-up channel reads. The
    store keeps them beside the marts, so a chapter asking for the same table reads it.

    Parameters
    ----------
    ds : Dataset
        The dataset the marts were built on.
    marts : sequence
        The stored marts (objects with `name`).

    Returns
    -------
    list of str
        The keys, in the order they were kept.
    """
    names = {mart.name for mart in marts}
    return [key for key in ds._kept_keys if key not in names]


def _mart_folder(key: str) -> str:
    """A stored mart's (or kept table's) Parquet folder in a Spark store: a key holds
    parameters (quotes, slashes in a channel map), a folder name must not."""
    return MART_PREFIX + kept_table_name(key)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _person_events_without_user_id(con, mart, name: str) -> None:
    """Write the identity mart `mart` as the view `name` of a table without its user_id.

    A person's user_id is their person_id, and null for a visitor who never signed up, so the
    file holds whether the person is a visitor (VISITOR_COLUMN, a bit) instead of a third column of
    ids: at 1M users writing the mart's 18M rows takes a second less (benchmarks/results/
    notes.md, round eleven). The view gives the mart's columns in their order.
    """
    rows = f"{name}_rows"
    con.create_table(rows, mart.mutate(**{VISITOR_COLUMN: mart.user_id.isnull()}).drop("user_id"))
    listed = ", ".join(f'CASE WHEN NOT {_quoted(VISITOR_COLUMN)} THEN "person_id" END AS "user_id"'
                       if c == "user_id" else _quoted(c) for c in mart.columns)
    # unqualified names: the view must read the store's table wherever it is attached
    con.raw_sql(f"CREATE VIEW main.{_quoted(name)} AS SELECT {listed} FROM {_quoted(rows)}")


def _events_as_view(con, ds: Dataset, loader: _Loader) -> ibis.Table:
    """Write the clean events once: `gl_events` is a view of the identity mart (every event
    before the period's end, with the user_id it carried) and of the few later rows.

    The loader left the events as a temporary view of its parsed rows; writing them to the
    file and then the stitched copy beside them cost a second write of the largest table (a
    quarter of the load at 1M users). The view and the parsed rows are dropped here: the marts
    built after the identity mart read the returned view of the file (at 10M users the wide
    table and the touches took 126 s beside the parsed rows, 91 s without them).
    """
    events = ds.tables["events"]
    columns = list(events.columns)
    after = kept_table_name("events_after")
    con.create_table(after, events.filter(events.event_time >= ds.period_end).select(*columns))
    mart = kept_table_name(PERSON_EVENTS)

    from_mart = ", ".join(
        'CASE WHEN "signed_in" THEN "user_id" END AS "user_id"' if c == "user_id" else _quoted(c)
        for c in columns)
    listed = ", ".join(_quoted(c) for c in columns)
    loader.release_view("events")
    # unqualified names: the view must read the store's tables wherever it is attached
    con.raw_sql(f'CREATE VIEW main."gl_events" AS SELECT {from_mart} FROM {_quoted(mart)} '
                f"UNION ALL SELECT {listed} FROM {_quoted(after)}")
    return con.table("gl_events", database="main")


def _report(raw: dict) -> QualityReport:
    rows = [QualityRow(**row) for row in raw.pop("set_aside")]
    notes = [QualityRow(**row) for row in raw.pop("notes", [])]
    return QualityReport(set_aside=rows, notes=notes, **raw)


def open_store(store: str | Path, data: str | Path,
               analysis_date: dt.date | str | None = None,
               channel_map: dict[str, str] | None = None,
               changed_is_error: bool = False, share: int | None = None,
               temp_directory: str | None = None) -> Dataset | None:
    """Open the dataset from a store made for this folder, analysis date and channel map.

    The store is attached read-only to a new in-memory DuckDB connection with the dataset's
    engine settings, so a chapter's own temporary tables never touch the shared file; a Spark
    store's Parquet folders are read as views by a session made from dataset.yml. The stored
    marts come already kept (`Dataset.keep` returns them).

    Parameters
    ----------
    store : str or Path
        The store file made by `prepare_store`.
    data : str or Path
        The dataset folder the chapter was asked to read.
    analysis_date : datetime.date, str or None, default None
        The analysis date the chapter was asked for (compared as requested, not as resolved).
    channel_map : dict of str to str or None, default None
        The run's extra source aliases.
    changed_is_error : bool, default False
        When True, a store of this folder whose files changed since the load raises DataError
        instead of returning None (a run's chapters must all read one version of the data).
    share : int, optional
        How many chapters of a run execute at once: the connection's memory limit is then each
        kernel's share of the dataset's (`kernel_memory_limit`). None, outside a run: the
        dataset's limit.
    temp_directory : str, optional
        Where the connection spills instead of the dataset's engine.temp_directory (the run's
        own folder, SPILL_ENV).

    Returns
    -------
    Dataset or None
        The dataset; None if the store does not fit (missing, another folder, date, map or
        engine, or the folder's files changed).

    Raises
    ------
    DataError
        With `changed_is_error`, when the folder's files changed since the store was made.
    """
    store = Path(store)
    meta_file = _meta_path(store)
    folder = Path(data).expanduser().resolve()
    analysis_date = as_date(analysis_date)
    if not (store.exists() and meta_file.exists()):
        return None
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    requested = str(analysis_date) if analysis_date else None
    if (meta["data"] != str(folder) or meta["analysis_date_requested"] != requested
            or meta.get("channel_map") != _channel_key(channel_map)):
        return None
    if meta["fingerprint"] != fingerprint(folder):
        if changed_is_error:
            raise DataError("dataset", None, f"the files of {folder} changed after the run "
                            "loaded them", hint="a chapter would read another version of the data "
                            "than the others; run the book again on data that does not change")
        return None
    config = load_config(folder)
    config.channels = with_channel_map(config.channels, channel_map)
    if meta.get("backend", "duckdb") != config.engine.backend:
        return None
    if config.engine.backend == "pyspark":
        return _open_spark_store(store, folder, config, meta)
    if share is not None:
        config.engine.memory_limit = kernel_memory_limit(config.engine.memory_limit, share)
    if temp_directory:
        config.engine.temp_directory = temp_directory
    con = connect_duckdb(config.timezone, **config.engine.duckdb_settings())
    con.raw_sql(f"ATTACH {_sql_text(str(store.resolve()))} AS {CATALOG} (READ_ONLY)")
    tables = {name: con.table(f"gl_{name}", database=(CATALOG, "main"))
              for name in meta["tables"] if name in TABLES}
    kept = {name: con.table(kept_table_name(name), database=(CATALOG, "main"))
            for name in meta.get("marts", [])}
    return Dataset(folder, config, con, tables, _report(meta["quality"]),
                   dt.date.fromisoformat(meta["analysis_date"]), _cache=kept)


def kernel_memory_limit(limit: int, kernels: int) -> int:
    """The DuckDB memory limit of each of `kernels` chapters a run executes at once.

    A run's peak should not depend on how many chapters run at once. The load runs in one
    process, which holds its own Python side: it gets a lone kernel's limit (`prepare_store`).
    Each kernel beyond the first brings a Python side of its own (KERNEL_PYTHON_SIDE), so that
    much comes off the limit before it is shared out: two kernels under a 5 GiB limit get
    2.19 GiB each, not 2.5 GiB (at 10M users the chapters' peak was 0.55 GiB above the
    load's). A lone chapter leaves one Python side too: the runner stays beside it with what
    Python kept of the load, and at 10M users a lone chapter under the whole 5 GiB took the run
    0.26 GiB above the load's peak (6.12 GiB, benchmarks/results/notes.md, round eighteen). A
    small limit is never cut below half of the plain share.

    Parameters
    ----------
    limit : int
        The dataset's memory limit in bytes (`engine.memory_limit`).
    kernels : int
        Chapters running at once (below 1 counts as 1).

    Returns
    -------
    int
        Bytes for each kernel's DuckDB.

    Examples
    --------
    >>> kernel_memory_limit(5 * 1024**3, 1) / 1024**2   # 5120 MiB - 640 MiB
    4480.0
    >>> kernel_memory_limit(5 * 1024**3, 2) / 1024**2   # (5120 MiB - 640 MiB) / 2
    2240.0
    >>> kernel_memory_limit(1024**3, 2) / 1024**2       # not below half of 512 MiB
    256.0
    """
    kernels = max(1, kernels)
    sides = max(1, kernels - 1)
    return max(limit // (2 * kernels), (limit - sides * KERNEL_PYTHON_SIDE) // kernels)


def _open_spark_store(store: Path, folder: Path, config, meta: dict) -> Dataset:
    """A Spark store's Parquet folders as views of a session made from dataset.yml."""
    con = connect_engine(config)

    def read(folder_name: str, name: str):
        return con.read_parquet(str(store / folder_name), table_name=fresh_name(name))

    tables = {name: read(name, name) for name in meta["tables"] if name in TABLES}
    kept = {name: read(_mart_folder(name), kept_table_name(name).removeprefix("gl_"))
            for name in meta.get("marts", [])}
    return Dataset(folder, config, con, tables, _report(meta["quality"]),
                   dt.date.fromisoformat(meta["analysis_date"]), _cache=kept)


def open_from_environment(data: str | Path, analysis_date: dt.date | str | None,
                          channel_map: dict[str, str] | None = None) -> Dataset | None:
    """Open the run's shared store, if the runner named one (STORE_ENV) and it fits.

    Parameters
    ----------
    data : str or Path
        The dataset folder the chapter was asked to read.
    analysis_date : datetime.date, str or None
        The analysis date the chapter was asked for.
    channel_map : dict of str to str or None, default None
        The run's extra source aliases.

    Returns
    -------
    Dataset or None
        The stored dataset; None without a store or when it does not fit.

    Raises
    ------
    DataError
        When the folder's files changed since the run loaded them.
    """
    store = os.environ.get(STORE_ENV)
    if not store:
        return None
    share = os.environ.get(KERNELS_ENV, "1")
    return open_store(store, data, analysis_date, channel_map, changed_is_error=True,
                      share=int(share) if share.isdigit() else 1,
                      temp_directory=os.environ.get(SPILL_ENV) or None)

"""Load a dataset once per run and share it between the chapters.

Opening a dataset (reading the files, checking every row, building the user wide table) is
the slowest step of a run at scale: at 10 million users it is minutes, and each chapter runs
in its own kernel. The runner therefore loads the dataset once into a DuckDB database file in
the run folder (`prepare_store`) and names it in the kernels' environment (`STORE_ENV`);
`open_store` gives each chapter the same clean tables and wide table, attached read-only, in
seconds. The file is deleted when the run ends: it holds row-level personal data.

A store is used only for the dataset folder and analysis date it was made from, and only
while the folder's files are unchanged (names, sizes, modification times and dataset.yml);
otherwise the chapter opens the dataset itself.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path

from growthloop import __version__
from growthloop.staging.config import load_config
from growthloop.staging.contract import TABLES
from growthloop.staging.loader import (
    MAX_AMOUNT,
    MAX_SET_ASIDE_SHARE,
    Dataset,
    QualityReport,
    QualityRow,
    _Loader,
    _sql_text,
    as_date,
    connect_duckdb,
    resolve_today,
)

STORE_ENV = "GROWTHLOOP_STORE"
CATALOG = "gl_store"  # the name the store is attached under in a chapter's connection
WIDE_KEY = "user_wide"  # Dataset cache key of the wide table (growthloop.marts.wide.user_wide)


def fingerprint(folder: Path) -> str:
    """What a store depends on: the folder's files (name, size, mtime) and dataset.yml's text."""
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


def prepare_store(data: str | Path, store: str | Path, analysis_date: dt.date | str | None = None,
                  today: dt.date | None = None) -> Path:
    """Open, validate and clean the dataset into the DuckDB file `store`, with its wide table.

    The same checks as `open_dataset`; a DataError stops the run before any chapter starts.
    """
    from growthloop.marts.wide import (
        build_wide,  # wide imports data; imported here to avoid a cycle
    )

    folder = Path(data).expanduser().resolve()
    analysis_date = as_date(analysis_date)
    store = Path(store)
    store.parent.mkdir(parents=True, exist_ok=True)
    for stale in (store, _meta_path(store)):
        stale.unlink(missing_ok=True)
    config = load_config(folder)
    con = connect_duckdb(config.timezone, database=store, **config.engine.duckdb_settings())
    try:
        loader = _Loader(folder, con, config, analysis_date, MAX_SET_ASIDE_SHARE, MAX_AMOUNT,
                         today or resolve_today(config.timezone), temp=False)
        ds = loader.load()
        con.create_table("gl_user_wide", build_wide(ds))
        con.raw_sql("CHECKPOINT")
    finally:
        con.disconnect()
    meta = {"data": str(folder), "fingerprint": fingerprint(folder),
            "analysis_date_requested": str(analysis_date) if analysis_date else None,
            "analysis_date": str(ds.analysis_date), "tables": sorted(ds.tables),
            "quality": asdict(ds.quality)}
    _meta_path(store).write_text(json.dumps(meta, ensure_ascii=False, default=str), encoding="utf-8")
    return store


def _report(raw: dict) -> QualityReport:
    rows = [QualityRow(**row) for row in raw.pop("set_aside")]
    return QualityReport(set_aside=rows, **raw)


def open_store(store: str | Path, data: str | Path,
               analysis_date: dt.date | str | None = None) -> Dataset | None:
    """The dataset from a store made for this folder and analysis date; None if it does not fit.

    The store is attached read-only to a new in-memory DuckDB connection with the dataset's
    engine settings, so a chapter's own temporary tables never touch the shared file.
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
            or meta["fingerprint"] != fingerprint(folder)):
        return None
    config = load_config(folder)
    con = connect_duckdb(config.timezone, **config.engine.duckdb_settings())
    con.raw_sql(f"ATTACH {_sql_text(str(store.resolve()))} AS {CATALOG} (READ_ONLY)")
    tables = {name: con.table(f"gl_{name}", database=(CATALOG, "main"))
              for name in meta["tables"] if name in TABLES}
    ds = Dataset(folder, config, con, tables, _report(meta["quality"]),
                 dt.date.fromisoformat(meta["analysis_date"]))
    ds._cache[WIDE_KEY] = con.table("gl_user_wide", database=(CATALOG, "main"))
    return ds


def open_from_environment(data: str | Path, analysis_date: dt.date | str | None) -> Dataset | None:
    """The run's shared store, if the runner named one in the environment and it fits."""
    store = os.environ.get(STORE_ENV)
    return open_store(store, data, analysis_date) if store else None

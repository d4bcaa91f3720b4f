"""The Postgres part of the cross-engine harness (tests/engine_support.py): a throwaway
PostgreSQL server and the small dataset's clean tables copied to it.

`copy_to_postgres(duck, pg_server(config))` is what the `engine_pair` fixture's `postgres` param
runs (once per process): the clean tables as tables gl_<name> of a PostgreSQL server this process
starts for itself (each pytest-xdist worker its own): `initdb` into a temporary directory, a free
port, the unix socket in that directory, no TCP, at most ~4 GB of address space per server
process (a runaway query fails instead of taking the machine), a statement timeout on every
connection the tests make. The server is stopped and the directory deleted when the test run
ends (and at exit, and at once when starting it fails). The session's TimeZone is the
dataset's (Ibis's postgres backend sets UTC on connect), so a naive timestamp means the same
wall-clock time on both engines.

Without PostgreSQL's server programs (initdb, pg_ctl) or psycopg the tests fail (never skip):
CI installs both (`apt-get install postgresql`, requirements-postgres.txt; `make test`).
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import json
import os
import pwd
import resource
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
from engine_support import schema_types

from growthloop.staging.loader import Dataset

#: address space of each server process (bytes): a runaway query fails, the machine lives
PG_MEMORY_LIMIT = 4_000_000_000
#: seconds one statement may run before the server cancels it
PG_STATEMENT_TIMEOUT = int(os.environ.get("GROWTHLOOP_PG_STATEMENT_TIMEOUT", "120"))

_STATE: dict[str, Any] = {}


def pg_bin(program: str) -> str:
    """Path of a PostgreSQL server program (PATH, else Debian's /usr/lib/postgresql/<v>/bin)."""
    found = shutil.which(program)
    if found:
        return found
    versions = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{program}"),
                      key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if versions:
        return versions[-1]
    pytest.fail(f"The Postgres tests need PostgreSQL's server programs ({program} not found on "
                "PATH or in /usr/lib/postgresql/*/bin): install them, e.g. "
                "`apt-get install postgresql`.", pytrace=False)


def _limit_memory() -> None:  # in the child, before exec: inherited by the server
    resource.setrlimit(resource.RLIMIT_AS, (PG_MEMORY_LIMIT, PG_MEMORY_LIMIT))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A throwaway PostgreSQL cluster in a temporary directory (unix socket only)."""

    def __init__(self) -> None:
        self.initdb, self.pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
        self.root = Path(tempfile.mkdtemp(prefix="glpg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = _free_port()
        self.running = False
        self.prefix: list[str] = []
        if os.geteuid() == 0:  # the server refuses to run as root
            try:
                account = pwd.getpwnam("postgres")
            except KeyError:
                self.remove()
                pytest.fail("The Postgres tests run as root need a `postgres` user to start the "
                            "server as (Debian's postgresql package creates it).", pytrace=False)
            os.chown(self.root, account.pw_uid, account.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]

    def run(self, *args: str) -> None:
        done = subprocess.run([*self.prefix, *args], capture_output=True, text=True,
                              preexec_fn=_limit_memory, check=False, timeout=120)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(args[:2])} failed ({done.returncode}):\n"
                               f"{done.stdout}{done.stderr}{log}")

    def start(self) -> None:
        self.run(self.initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust",
                 "--encoding=UTF8", "--no-locale", "--no-sync")
        options = " ".join([
            f"-p {self.port}", f"-k {self.root}", "-c listen_addresses=''",
            "-c shared_buffers=64MB", "-c fsync=off", "-c synchronous_commit=off",
            "-c full_page_writes=off", "-c max_connections=20",
        ])
        self.run(self.pg_ctl, "-D", str(self.data), "-l", str(self.log), "-o", options, "-w",
                 "-t", "60", "start")
        self.running = True

    def stop(self) -> None:
        if self.running:
            self.running = False
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                self.run(self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop")
        self.remove()

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def connect_args(self) -> dict[str, Any]:
        return {"host": str(self.root), "port": self.port, "user": "postgres",
                "database": "postgres"}


def postgres_backend(server: Server, timezone: str, database: str = "postgres"):
    """Ibis's postgres backend on the server's `database`, in the dataset's time zone."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.fail("The Postgres tests need psycopg: `.venv/bin/pip install -r "
                    "requirements-postgres.txt` (`make test` installs it).", pytrace=False)
    from growthloop.engine import connect_postgres

    # the loader's own connect (sets the session zone back from Ibis' UTC), plus a time limit
    con = connect_postgres(timezone, {**server.connect_args(), "database": database})
    with con.con.cursor() as cur:
        cur.execute(f"SET statement_timeout = '{PG_STATEMENT_TIMEOUT}s'")
    return con


def copy_to_postgres(ds: Dataset, server: Server) -> Dataset:
    """The dataset's clean tables as Postgres tables gl_<table>, in a Dataset on Postgres.

    Rows go through Arrow with each column's type taken from the Ibis schema (text, bigint,
    double precision, boolean, date, timestamp without time zone), so values are identical.
    """
    con = postgres_backend(server, ds.config.timezone)
    tables = {}
    for name, table in ds.tables.items():
        schema = table.schema()
        view = f"gl_{name}"
        # not overwrite=True: Ibis 12 writes a DROP for it that Postgres cannot parse
        con.raw_sql(f'DROP TABLE IF EXISTS "{view}"').close()
        con.create_table(view, ds.con.to_pyarrow(table), schema=schema)
        tables[name] = con.table(view)
        if schema_types(tables[name].schema()) != schema_types(schema):
            raise AssertionError(f"{name}: Postgres schema {tables[name].schema()} differs "
                                 f"from {schema}")
    with con.con.cursor() as cur:
        cur.execute("ANALYZE")
    return Dataset(ds.path, ds.config, con, tables, ds.quality, ds.analysis_date)


def _json_text(value: Any) -> str | None:
    """A JSON value as DuckDB's json_extract_string gives it (a string as itself)."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def properties_as_columns(table, keys: list[str]):
    """An events table whose JSON `properties` text is replaced by one text column per key
    (every key found when `keys` is empty; missing where the text is not a JSON object or
    lacks the key), as the loader asks of a Postgres source: it reads JSON text on DuckDB and
    Spark only."""
    import pyarrow as pa

    def parsed(text: str | None) -> dict:
        try:
            value = json.loads(text) if text is not None else None
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    blobs = [parsed(t) for t in table.column("properties").to_pylist()]
    table = table.drop_columns(["properties"])
    for key in keys or sorted({k for b in blobs for k in b}):
        table = table.append_column(pa.field(key, pa.string()),
                                    pa.array([_json_text(b.get(key)) for b in blobs], pa.string()))
    return table


def copy_files_to_postgres(folder: Path, server: Server, schema: str,
                           database: str = "postgres") -> dict[str, str]:
    """The folder's Parquet tables as Postgres tables `schema.<table>` of `database` (made
    anew), as a platform's raw tables would sit in its warehouse: each column with its Ibis
    type (text, bigint, double precision, boolean, date, timestamp). The events' JSON
    properties column becomes one column per property dataset.yml lists (Postgres sources give
    each property its own column). Returns {table: "schema.table"}."""
    import pyarrow.parquet as pq

    from growthloop.staging.config import load_config
    from growthloop.staging.contract import TABLES

    properties = list(load_config(folder).table("events").properties)

    con = postgres_backend(server, "UTC", database)  # naive timestamps are copied as they are
    try:
        con.raw_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE').close()
        con.raw_sql(f'CREATE SCHEMA "{schema}"').close()
        sources = {}
        for name in TABLES:
            path = folder / f"{name}.parquet"
            if path.exists():
                table = pq.read_table(path)
                if name == "events" and "properties" in table.column_names:
                    table = properties_as_columns(table, properties)
                con.create_table(name, table, database=schema)
                sources[name] = f"{schema}.{name}"
        with con.con.cursor() as cur:
            cur.execute("ANALYZE")
    finally:
        con.disconnect()
    return sources


def pg_server(config=None) -> Server:
    """The process's running server, started on first use. It is stopped and its directory
    removed when the test run ends (`config`'s cleanup; at exit too, should the run die)."""
    if "server" not in _STATE:
        server = Server()
        try:
            server.start()
        except BaseException:
            server.stop()
            raise
        atexit.register(server.stop)
        if config is not None:
            config.add_cleanup(server.stop)
        _STATE["server"] = server
    return _STATE["server"]

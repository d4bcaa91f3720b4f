"""Postgres harness: the Spark tests' small dataset on DuckDB and copied to a throwaway PostgreSQL.

Use it from a test module:

    from postgres_support import pg_pair_fixture  # noqa: F401  (the fixture `pg_pair`)
    from spark_support import assert_same_frame, both

    def test_x(pg_pair):
        duck, pg = both(my_stage_function, pg_pair, arg=1)
        assert_same_frame(duck, pg, sort_by=["key"])

`pg_pair.duck` is the DuckDB Dataset of tests/spark_support.py (the loader's clean tables of a
small generated demo dataset); `pg_pair.spark` holds the same rows in tables gl_<name> of a
PostgreSQL server this process starts for itself (each pytest-xdist worker its own): `initdb`
into a temporary directory, a free port, the unix socket in that directory, no TCP, at most
~4 GB of address space per server process (a runaway query fails instead of taking the
machine). The server is stopped and the directory deleted at the end of the session, and at
once when starting it fails. The session's TimeZone is the dataset's (Ibis's postgres backend
sets UTC on connect), so a naive timestamp means the same wall-clock time on both engines.

Without PostgreSQL's server programs (initdb, pg_ctl) or psycopg the tests fail (never skip):
CI installs both (`apt-get install postgresql`, requirements-postgres.txt; `make test`).
"""

from __future__ import annotations

import atexit
import contextlib
import glob
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
from spark_support import SPARK_SEED, SPARK_USERS, EnginePair, schema_types

from growthloop.demo import generate_dataset
from growthloop.staging.loader import Dataset, open_dataset

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


def copy_files_to_postgres(folder: Path, server: Server, schema: str,
                           database: str = "postgres") -> dict[str, str]:
    """The folder's Parquet tables as Postgres tables `schema.<table>` of `database` (made
    anew), as a platform's raw tables would sit in its warehouse: each column with its Ibis
    type (text, bigint, double precision, boolean, date, timestamp).
    Returns {table: "schema.table"}."""
    import pyarrow.parquet as pq

    from growthloop.staging.contract import TABLES

    con = postgres_backend(server, "UTC", database)  # naive timestamps are copied as they are
    try:
        con.raw_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE').close()
        con.raw_sql(f'CREATE SCHEMA "{schema}"').close()
        sources = {}
        for name in TABLES:
            path = folder / f"{name}.parquet"
            if path.exists():
                con.create_table(name, pq.read_table(path), database=schema)
                sources[name] = f"{schema}.{name}"
        with con.con.cursor() as cur:
            cur.execute("ANALYZE")
    finally:
        con.disconnect()
    return sources


def pg_server() -> Server:
    """The process's running server (start it through the `pg_pair` fixture first)."""
    return _STATE["server"]


def shared_pg_pair(tmp_path_factory) -> EnginePair:
    """The process's DuckDB/Postgres pair, built (and its server started) on first use."""
    if "pair" not in _STATE:
        server = Server()
        try:
            server.start()
            atexit.register(server.stop)  # also when the session dies before its teardown
            folder = tmp_path_factory.mktemp("pg") / "demo"
            generate_dataset(folder, n_users=SPARK_USERS, seed=SPARK_SEED)
            duck = open_dataset(folder)
            _STATE["pair"] = EnginePair(duck, copy_to_postgres(duck, server))
        except BaseException:
            server.stop()
            raise
        _STATE["server"] = server
    return _STATE["pair"]


@pytest.fixture(scope="session", name="pg_pair")
def pg_pair_fixture(tmp_path_factory):
    """The shared small dataset on DuckDB and on a throwaway Postgres (one server per process);
    the server is stopped and its directory deleted at the end of the session."""
    yield shared_pg_pair(tmp_path_factory)
    server = _STATE.pop("server", None)
    pair = _STATE.pop("pair", None)
    if pair is not None:
        with contextlib.suppress(Exception):  # the server goes anyway
            pair.spark.con.disconnect()
    if server is not None:
        server.stop()

"""Every difference between the engines GrowthLoop runs on, in one module.

Stage functions are plain Ibis and run unchanged on DuckDB, PySpark and Postgres (and the
warehouses Ibis reaches, with the limits in docs/engines.md). What each engine does its own way
is here and nowhere else:

* connecting: `connect_engine` (DuckDB in process with its memory settings, a Spark session,
  a Postgres connection), each with its session in the dataset's time zone;
* keeping a result for reuse: `materialize`, `drop` and `scratch` (temporary tables; on
  PySpark, which has none in Ibis, a view cached with CACHE TABLE);
* what an engine cannot compute the way the book does: `require_exact_quantiles`, and
  `splits_deep_queries` (Postgres needs a deep array query cut into kept steps);
* streaming rows out: `record_batches` (DuckDB 2 renamed the call Ibis 12 uses);
* summing money: `money_sum` (a float sum's last bits follow the order in which an engine's
  threads or executors add the parts, which changes from run to run);
* Ibis 12's Postgres compiler rules that write SQL Postgres cannot run
  (`_patch_postgres_compiler`, applied on import; other dialects compile as before).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import ibis

from growthloop.errors import ConfigError

# --------------------------------------------------------------------------------------------
# connecting


def connect_duckdb(timezone: str = "Asia/Shanghai", memory_limit: str | None = None,
                   temp_directory: str | None = None, threads: int | None = None,
                   database: str | Path | None = None):
    """An in-process DuckDB connection whose session time zone is the platform's.

    Parameters
    ----------
    timezone : str, default "Asia/Shanghai"
        IANA zone the session runs in, so a day is a day of the platform.
    memory_limit : str or None, default None
        DuckDB's ``memory_limit`` ("6GB", "4096MiB"); None keeps DuckDB's own.
    temp_directory : str or None, default None
        Folder DuckDB spills to; None keeps DuckDB's own.
    threads : int or None, default None
        Worker threads; None (or 0) uses every core.
    database : str, Path or None, default None
        None keeps the tables in memory (spilling to `temp_directory`); a path keeps them in that
        database file (a run's shared store, see growthloop.staging.store).

    Returns
    -------
    ibis.backends.duckdb.Backend
        The open connection, progress bar off.
    """
    con = ibis.duckdb.connect(str(database)) if database else ibis.duckdb.connect()
    con.raw_sql(f"SET TimeZone='{timezone}'")
    # no progress bar on a terminal (it would interleave with the run's log); in a Jupyter
    # kernel DuckDB shows none and refuses the setting without ipywidgets
    with contextlib.suppress(duckdb.Error):
        con.raw_sql("SET enable_progress_bar=false")
    if memory_limit:
        con.raw_sql(f"SET memory_limit='{memory_limit}'")
    if temp_directory:
        con.raw_sql(f"SET temp_directory='{temp_directory}'")
    if threads:
        con.raw_sql(f"SET threads={int(threads)}")
    return con


def connect_engine(config: Any):
    """Open the engine dataset.yml names (`engine.backend`), its session in the dataset's zone.

    DuckDB: in process, with the memory settings. PySpark: a session from `engine.spark`
    (spark.master and any other Spark setting). Postgres: a connection from `engine.postgres`
    (see `connect_postgres`). Ibis' connect sets the session zone to UTC, so it is set back to
    the dataset's zone afterwards: a day is a day in that zone.

    Parameters
    ----------
    config : growthloop.staging.config.DatasetConfig
        The dataset's configuration; its `timezone` and `engine` are read.

    Returns
    -------
    ibis.BaseBackend
        An Ibis connection (duckdb, pyspark or postgres backend).

    Raises
    ------
    ConfigError
        When pyspark or psycopg is needed but not installed, or Postgres refuses the connection.
    """
    if config.engine.backend == "duckdb":
        return connect_duckdb(config.timezone, **config.engine.duckdb_settings())
    if config.engine.backend == "postgres":
        return connect_postgres(config.timezone, config.engine.postgres)
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise ConfigError("dataset.yml: engine.backend pyspark needs pyspark: "
                          "pip install -r requirements-spark.txt") from exc
    builder = SparkSession.builder.appName("growthloop")
    # no progress bars in the run's log; dataset.yml can turn them back on
    settings = {"spark.ui.showConsoleProgress": "false", **config.engine.spark}
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    # Spark's warnings (a window without a partition, ...) go to the kernel's stderr and would
    # fill every chapter's notebook; its errors still show
    session.sparkContext.setLogLevel("ERROR")
    return ibis.pyspark.connect(session, **{"spark.sql.session.timeZone": config.timezone})


def connect_postgres(timezone: str, settings: dict[str, Any]):
    """Connect Ibis' postgres backend from dataset.yml's `engine.postgres`, in the dataset's zone.

    The password is libpq's business (PGPASSWORD, ~/.pgpass): dataset.yml may not hold one.
    A port left out is libpq's default (PGPORT, the service's), not Ibis' 5432.

    Parameters
    ----------
    timezone : str
        IANA zone set on the session (Ibis' connect sets UTC).
    settings : dict of str to Any
        Keyword arguments of ``ibis.postgres.connect`` (host, port, database, user, ...), already
        checked by growthloop.staging.config.

    Returns
    -------
    ibis.backends.postgres.Backend
        The open connection.

    Raises
    ------
    ConfigError
        When psycopg is not installed, the server cannot be reached, or it does not know the zone.
    """
    try:
        import psycopg
    except ImportError as exc:
        raise ConfigError("dataset.yml: engine.backend postgres needs psycopg: "
                          "pip install -r requirements-postgres.txt") from exc
    where = ", ".join(f"{k}={settings[k]}" for k in ("host", "port", "database", "user", "service")
                      if k in settings)
    try:
        con = ibis.postgres.connect(**{"port": None, **settings})
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[-1][:300] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"dataset.yml: engine.postgres ({where}): cannot connect: {reason}. "
                          "Check the settings; the password comes from PGPASSWORD or "
                          "~/.pgpass") from None
    try:
        with con.con.cursor() as cur:  # Ibis' connect set UTC
            cur.execute("SELECT set_config('TimeZone', %s, false)", (timezone,))
    except psycopg.Error as exc:
        con.disconnect()
        raise ConfigError(f"dataset.yml: timezone {timezone!r}: the Postgres server does not know "
                          f"this zone ({str(exc).splitlines()[0][:200]})") from None
    return con



# --------------------------------------------------------------------------------------------
# keeping results


def backend_name(con) -> str:
    """The Ibis backend's name, for the engine switches of this module.

    Parameters
    ----------
    con : ibis.BaseBackend
        An Ibis connection.

    Returns
    -------
    str
        'duckdb', 'pyspark', 'postgres', 'trino', ...
    """
    return getattr(con, "name", type(con).__module__.split(".")[-1])


def materialize(con, name: str, expr: ibis.Table, temp: bool = True) -> ibis.Table:
    """Compute `expr` once and keep the result for this session under `name` (replacing it).

    A temporary table where the backend has them (DuckDB, Postgres, ...). Ibis' PySpark backend
    has none: there it is a temporary view `name_<random>` (a fresh name, so two datasets on
    one Spark session never read each other's) cached with Spark's CACHE TABLE. (Not Ibis'
    `Table.cache()`: on PySpark it does not register the in-memory tables an expression uses,
    such as the channel mapping, and fails.) A backend without temporary tables in Ibis
    (Trino) gets the expression back, recomputed at each use: slower, the same rows.

    Parameters
    ----------
    con : ibis.BaseBackend
        The connection `expr` is bound to.
    name : str
        Name of the temporary table (see `fresh_name`); an existing one is dropped first.
    expr : ibis.Table
        The expression to compute.
    temp : bool, default True
        False: a table of the session's database instead (a run's store file on DuckDB); Spark
        keeps its cached view either way.

    Returns
    -------
    ibis.Table
        The kept table (same columns as `expr`), or `expr` itself where nothing can be kept.
    """
    if backend_name(con) == "pyspark":
        view = f"{name}_{uuid.uuid4().hex[:12]}"
        table = con.create_view(view, expr)
        con.raw_sql(f"CACHE TABLE `{view}`")
        return table
    drop(con, name)  # not overwrite=True: Ibis 12's DROP for it fails to parse on DuckDB 2
    try:
        table = con.create_table(name, expr, temp=temp)
    except NotImplementedError:  # Ibis' Trino backend: "Temporary tables are not supported"
        return expr
    if backend_name(con) == "postgres" and temp:
        # autovacuum never analyses temporary tables: without statistics the planner takes a
        # table for tiny and picks nested loops (a chapter's query ran for minutes on 2,000 users)
        con.raw_sql(f"ANALYZE {_pg_temp(name)}").close()
    return table


def drop(con, name: str) -> None:
    """Drop a temporary table made by `materialize`, if it exists.

    Spark's views are left to the session, which ends with the run. On Postgres only the
    session's own temporary table (`pg_temp."name"`): a bare name would drop a real table of that
    name in the search path when the session has no temporary one, and that server is shared.

    Parameters
    ----------
    con : ibis.BaseBackend
        The connection holding the table.
    name : str
        The name given to `materialize`.
    """
    backend = backend_name(con)
    if backend == "duckdb":
        con.raw_sql(f"DROP TABLE IF EXISTS {name}")
    elif backend == "postgres":
        con.raw_sql(f"DROP TABLE IF EXISTS {_pg_temp(name)}").close()


def fresh_name(stem: str) -> str:
    """A table name no other table of the session has: gl_<stem>_<random>.

    Parameters
    ----------
    stem : str
        What the table is, for a reader of the engine's catalogue.

    Returns
    -------
    str
        ``gl_<stem>_`` and 12 random hex digits.
    """
    return f"gl_{stem}_{uuid.uuid4().hex[:12]}"


@contextlib.contextmanager
def scratch(con, expr: ibis.Table, stem: str) -> Iterator[ibis.Table]:
    """Keep `expr` in the engine (`materialize`) for a `with` block, then drop it.

    On PySpark the cached view is uncached and dropped.

    Parameters
    ----------
    con : ibis.BaseBackend
        The connection `expr` is bound to.
    expr : ibis.Table
        The expression to keep.
    stem : str
        Stem of the table's fresh name (`fresh_name`).

    Yields
    ------
    ibis.Table
        The kept table, valid inside the block only.
    """
    name = fresh_name(stem)
    table = materialize(con, name, expr)
    try:
        yield table
    finally:
        if backend_name(con) == "pyspark":
            view = table.get_name()  # materialize gave the view a name of its own
            con.raw_sql(f"UNCACHE TABLE IF EXISTS `{view}`")
            con.raw_sql(f"DROP VIEW IF EXISTS `{view}`")
        else:
            drop(con, name)


def splits_deep_queries(con) -> bool:
    """Whether a deep query must be cut into steps kept in the engine.

    A deep query is one of nested array subqueries (a strict-order funnel, exclusions). Postgres
    inlines the nested subqueries: a 7-step strict funnel in one query ran the server out of
    memory (4 steps took a minute).

    Parameters
    ----------
    con : ibis.BaseBackend
        The connection the query will run on.

    Returns
    -------
    bool
        True on Postgres, False elsewhere.
    """
    return backend_name(con) == "postgres"


#: Backends whose Ibis median and quantile are the exact, linearly interpolated quantile (DuckDB
#: quantile_cont, Spark percentile, Postgres percentile_cont): the same numbers as DuckDB.
EXACT_QUANTILE_BACKENDS = ("duckdb", "pyspark", "postgres")


def require_exact_quantiles(source, what: str) -> None:
    """Stop with a clear error where an exact median or quantile would not be DuckDB's.

    Elsewhere than in EXACT_QUANTILE_BACKENDS Ibis 12 compiles median() and quantile() to
    something else (ClickHouse: quantile(), an approximation, and quantileExactExclusive, another
    interpolation) or cannot compile them (Trino, BigQuery): the function would give a different
    answer or a compiler error, so it refuses to run.

    Parameters
    ----------
    source : ibis.BaseBackend or ibis.Expr
        An Ibis backend or an expression bound to one.
    what : str
        The computation that needs the quantiles, named in the message.

    Raises
    ------
    NotImplementedError
        On a backend not in EXACT_QUANTILE_BACKENDS.
    """
    con = source._find_backend(use_default=True) if isinstance(source, ibis.Expr) else source
    name = backend_name(con)
    if name not in EXACT_QUANTILE_BACKENDS:
        raise NotImplementedError(
            f"{what} needs exact quantiles (a median or percentile interpolated as DuckDB's "
            f"quantile_cont); on the {name} backend Ibis computes them differently or not at "
            f"all, so the result would not be the book's. It runs on "
            f"{', '.join(EXACT_QUANTILE_BACKENDS)} (see docs/engines.md).")


#: The exact type money is summed in (`money_sum`): sums below 10^30 yuan, each value rounded to
#: 10^-8 yuan (exact for amounts in fen up to about 10^7 yuan, whose float error is smaller).
MONEY_SUM_TYPE = "decimal(38, 8)"


def money_sum(value: ibis.NumericValue, where: ibis.BooleanValue | None = None) -> ibis.FloatingValue:
    """The sum of a money column (yuan), added exactly and returned as a float.

    A float sum depends on the order of the additions, which a parallel engine does not fix:
    one person's amounts summed by DuckDB's threads or Spark's executors may differ in the last
    bits from one run to the next, and a sum of amounts in fen can land just under a round
    number (4,128.82 + 1,179.31 + 3,740.95 + 950.92 yuan is 9,999.999999999998 as floats). A
    tier or quantile bin read from such a sum (AUM tiers, RFM's M) could then change between
    two runs of the same data, or put a person who holds exactly 10,000 yuan below 1万. Each
    value is cast to DECIMAL(38, 8) (MONEY_SUM_TYPE; a revenue computed to more decimals moves
    by at most 5·10^-9 yuan), summed exactly in that type on DuckDB, Spark and Postgres, and the
    sum cast back to float64: the same sum whatever the order.

    Parameters
    ----------
    value : ibis.NumericValue
        Yuan amounts (amount, revenue, spend, aum).
    where : ibis.BooleanValue, optional
        Only the rows where it is true, as `sum(where=...)`.

    Returns
    -------
    ibis.FloatingValue
        The sum (null when no row is summed, as a plain sum).

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"amount": [4128.82, 1179.31, 3740.95, 950.92]})
    >>> float(t.amount.sum().execute()), float(money_sum(t.amount).execute())
    (9999.999999999998, 10000.0)
    """
    return value.cast(MONEY_SUM_TYPE).sum(where=where).cast("float64")


def record_batches(rows: ibis.Table, batch_rows: int):
    """Stream the table's rows from the engine as Arrow record batches, in order.

    Ibis 12's `to_pyarrow_batches` calls `fetch_record_batch`, which DuckDB 2 renamed to
    `to_arrow_reader`; on DuckDB the reader is taken directly, elsewhere Ibis' own call.

    Parameters
    ----------
    rows : ibis.Table
        The table to read (bound to a backend); executed by this call.
    batch_rows : int
        Rows per batch (at most).

    Returns
    -------
    pyarrow.RecordBatchReader
        The rows in batches, with the table's columns.
    """
    backend = rows._find_backend(use_default=True)
    if backend.name == "duckdb":
        return backend.con.sql(ibis.to_sql(rows, dialect="duckdb")).to_arrow_reader(batch_rows)
    return rows.to_pyarrow_batches(chunk_size=batch_rows)



def _pg_temp(name: str) -> str:
    """The session's temporary table `name` on Postgres, quoted as Ibis' create_table quotes it
    (an unquoted name is folded to lower case: gl_campaign_C2026_01 would miss)."""
    return 'pg_temp."' + name.replace('"', '""') + '"'


# --------------------------------------------------------------------------------------------
# event properties: a JSON object in text, a struct or a map


@ibis.udf.scalar.builtin(name="try")
def try_text(value: str) -> str:  # type: ignore[empty-body]
    """DuckDB's TRY over a text expression: null where the expression raises an error.

    Parameters
    ----------
    value : str
        A text expression that may fail on some rows (json_extract_string of a text that is
        no JSON).

    Returns
    -------
    str
        The expression, null on the rows where it failed (an Ibis string expression).
    """


@ibis.udf.scalar.builtin
def json_extract_string(value: str, path: str) -> str:  # type: ignore[empty-body]
    """DuckDB's json_extract_string, as an Ibis builtin function.

    Parameters
    ----------
    value : str
        A JSON text column.
    path : str
        JSONPath of the value (see `_json_path`).

    Returns
    -------
    str
        The value as text, null when absent (an Ibis string expression).
    """


@ibis.udf.scalar.builtin
def get_json_object(value: str, path: str) -> str:  # type: ignore[empty-body]
    """Spark's get_json_object, as an Ibis builtin function.

    Parameters
    ----------
    value : str
        A JSON text column.
    path : str
        JSONPath of the value (``$.key``).

    Returns
    -------
    str
        The value as text, null when absent (an Ibis string expression).
    """


def _json_path(key: str) -> str:
    """A JSONPath naming one key of an object, quoted so that any key works ($."产品 类型")."""
    escaped = key.replace("\\", "\\\\").replace('"', '\\"')
    return f'$."{escaped}"'


def property_value(blob: ibis.Value, key: str, backend: str) -> ibis.Value:
    """The value of `key` in an events file's properties column, as text.

    Null when absent, and for a text that is not a JSON object. A struct's field or a map's value
    on any engine; a JSON text on DuckDB and Spark. Postgres reads properties as columns only.

    Parameters
    ----------
    blob : ibis.Value
        The properties column: a JSON text, a struct or a map.
    key : str
        The property to read; any key works (it is quoted in the JSONPath).
    backend : str
        The engine's name (`backend_name`): decides how a JSON text is read.

    Returns
    -------
    ibis.Value
        A string expression (not executed).

    Raises
    ------
    ConfigError
        When the column is of another type, or is JSON text on an engine that cannot read it.
    """
    dtype = blob.type()
    if dtype.is_struct():
        return blob[key].cast("string") if key in dtype.names else ibis.null("string")
    if dtype.is_map():
        return blob.get(key).cast("string")
    if not dtype.is_string():
        raise ConfigError(f"dataset.yml: the events' properties column is {dtype}; it must be a "
                          "JSON text, a struct or a map")
    if backend == "duckdb":
        # TRY instead of a json_valid test: the same nulls for a text that is no JSON, without
        # validating every row first (json_valid took 60% of reading 18M events' properties)
        return try_text(json_extract_string(blob, _json_path(key)))
    if backend == "pyspark":
        return get_json_object(blob, "$." + key)
    raise ConfigError(f"dataset.yml: a JSON properties column cannot be read on {backend}; give "
                      "each property its own column in the source table and list them under "
                      "tables.events.properties")


def property_keys(blob: ibis.Value, backend: str) -> list[str]:
    """Every key of an events file's properties column, sorted.

    A struct's fields come from its type; a map's or a JSON object's keys from the data (JSON:
    DuckDB only; one pass over the column).

    Parameters
    ----------
    blob : ibis.Value
        The properties column: a JSON text, a struct or a map.
    backend : str
        The engine's name (`backend_name`).

    Returns
    -------
    list of str
        The keys, sorted, without nulls.

    Raises
    ------
    ConfigError
        When the keys cannot be discovered on this engine (then dataset.yml must list them under
        tables.events.properties).
    """
    dtype = blob.type()
    if dtype.is_struct():
        return sorted(dtype.names)
    if dtype.is_map():
        keys = blob.keys().unnest().name("k").as_table().distinct()
        return sorted(str(k) for k in keys.to_pyarrow().column(0).to_pylist() if k is not None)
    if dtype.is_string() and backend == "duckdb":
        con = blob._find_backend(use_default=True)
        inner = ibis.to_sql(blob.name("p").as_table(), dialect="duckdb")
        found = con.raw_sql(
            f"SELECT DISTINCT unnest(json_keys(p)) AS k FROM ({inner}) "
            "WHERE json_valid(p) AND json_type(p) = 'OBJECT' ORDER BY k").fetchall()
        return [str(r[0]) for r in found]
    raise ConfigError("dataset.yml: list the event properties to read under "
                      f"tables.events.properties (their keys cannot be discovered on {backend})")


# --------------------------------------------------------------------------------------------
# Postgres: what Ibis 12's Postgres compiler writes that Postgres does not run

#: URL-decoding in plain Postgres SQL (no server-side function): the value split into percent
#: escapes and runs of other characters, escapes turned into their bytes, the bytes read as
#: UTF-8. Only reached for values whose escapes are all UTF-8 characters (channels.normalise_utm
#: keeps other values as written); a value without '%' is returned as it is.
_PG_URL_DECODE = (
    "CASE WHEN STRPOS(gl_arg, '%') = 0 THEN gl_arg ELSE (SELECT CONVERT_FROM(STRING_AGG("
    "CASE WHEN LENGTH(gl_m.tok[1]) = 3 AND LEFT(gl_m.tok[1], 1) = '%' "
    "THEN DECODE(SUBSTR(gl_m.tok[1], 2), 'hex') ELSE CONVERT_TO(gl_m.tok[1], 'UTF8') END, "
    "CAST('' AS BYTEA) ORDER BY gl_m.n), 'UTF8') "
    "FROM REGEXP_MATCHES(gl_arg, '%[0-9A-Fa-f]{2}|[^%]+|%', 'g') WITH ORDINALITY AS gl_m(tok, n)) "
    "END"
)


def _patch_postgres_compiler() -> None:
    """Teach Ibis 12's Postgres compiler four things it gets wrong (only the Postgres dialect
    changes; DuckDB and Spark compile as before):

    * a boolean cast to an integer other than int32 (`cond.cast("int64")`): Postgres has only
      boolean -> integer, so the cast goes through int32 (`CAST(CAST(b AS INT) AS BIGINT)`);
    * array reductions (`.mins()`, ...): Ibis returns an aliased subquery, which Postgres reads
      as a syntax error inside an expression (`(SELECT MIN ...) AS t0 + INTERVAL`); a
      parenthesised subquery instead;
    * `hexdigest("md5")`: no Postgres rule in Ibis 12; Postgres `md5(text)` (lower-case hex,
      as DuckDB's and Spark's md5);
    * the builtin `url_decode` (channels.url_decode; DuckDB and Spark have one, Postgres not):
      `_PG_URL_DECODE`, plain SQL.
    """
    import sqlglot as sg
    import sqlglot.expressions as sge
    from ibis import util
    from ibis.backends.sql.compilers.postgres import PostgresCompiler

    if getattr(PostgresCompiler, "_growthloop_patched", False):
        return
    cast = PostgresCompiler.visit_Cast

    def visit_Cast(self, op, *, arg, to):
        if op.arg.dtype.is_boolean() and to.is_integer() and not to.is_int32():
            arg = sge.Cast(this=arg, to=sge.DataType.build("INT"))
        return cast(self, op, arg=arg, to=to)

    def _array_reduction(self, *, arg, reduction):
        name = sg.to_identifier(util.gen_name(f"pg_arr_{reduction}"))
        return sge.Paren(this=sg.select(self.f[reduction](name)).from_(self._unnest(arg, as_=name)))

    def visit_HexDigest(self, op, *, arg, how):
        if how == "md5":
            return self.f.md5(arg)
        raise NotImplementedError(f"hexdigest({how!r}) on Postgres: only md5")

    udf = PostgresCompiler.visit_ScalarUDF

    def visit_ScalarUDF(self, op, **kw):
        if getattr(op, "__func_name__", None) == "url_decode" and len(kw) == 1:
            (arg,) = kw.values()
            template = sg.parse_one(_PG_URL_DECODE, dialect="postgres")
            return template.transform(
                lambda node: arg.copy()
                if isinstance(node, sge.Column) and node.name == "gl_arg" and not node.table
                else node
            )
        return udf(self, op, **kw)

    PostgresCompiler.visit_Cast = visit_Cast
    PostgresCompiler.visit_TryCast = visit_Cast
    PostgresCompiler._array_reduction = _array_reduction
    PostgresCompiler.visit_HexDigest = visit_HexDigest
    PostgresCompiler.visit_ScalarUDF = visit_ScalarUDF
    PostgresCompiler._growthloop_patched = True


_patch_postgres_compiler()

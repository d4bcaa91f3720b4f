"""What differs between the engines GrowthLoop runs on, in one place.

Stage functions are plain Ibis and run unchanged on DuckDB, PySpark and the warehouses Ibis
supports. Keeping an intermediate result for reuse is the one thing each engine does its own
way: DuckDB and most warehouses have session-scoped temporary tables; Ibis' PySpark backend
has none, so there the result is a view cached in the Spark session instead.

Importing this module also fixes four rules of Ibis 12's Postgres compiler that write SQL
Postgres cannot run (`_patch_postgres_compiler`); other dialects compile as before.
"""

from __future__ import annotations

import uuid

import ibis


def backend_name(con) -> str:
    """The Ibis backend's name: 'duckdb', 'pyspark', 'postgres', 'trino', ..."""
    return getattr(con, "name", type(con).__module__.split(".")[-1])


def materialize(con, name: str, expr: ibis.Table) -> ibis.Table:
    """Compute `expr` once and keep the result for this session under `name` (replacing it).

    A temporary table where the backend has them (DuckDB, Postgres, ...). Ibis' PySpark backend
    has none: there it is a temporary view `name_<random>` (a fresh name, so two datasets on
    one Spark session never read each other's) cached with Spark's CACHE TABLE. (Not Ibis'
    `Table.cache()`: on PySpark it does not register the in-memory tables an expression uses,
    such as the channel mapping, and fails.) A backend without temporary tables in Ibis
    (Trino) gets the expression back, recomputed at each use: slower, the same rows.
    """
    if backend_name(con) == "pyspark":
        view = f"{name}_{uuid.uuid4().hex[:12]}"
        table = con.create_view(view, expr)
        con.raw_sql(f"CACHE TABLE `{view}`")
        return table
    drop(con, name)  # not overwrite=True: Ibis 12's DROP for it fails to parse on DuckDB 2
    try:
        table = con.create_table(name, expr, temp=True)
    except NotImplementedError:  # Ibis' Trino backend: "Temporary tables are not supported"
        return expr
    if backend_name(con) == "postgres":
        # autovacuum never analyses temporary tables: without statistics the planner takes a
        # table for tiny and picks nested loops (a chapter's query ran for minutes on 2,000 users)
        con.raw_sql(f"ANALYZE {_pg_temp(name)}").close()
    return table


def drop(con, name: str) -> None:
    """Drop a temporary table made by `materialize` if it exists (Spark's views are left to
    the session, which ends with the run). On Postgres only the session's own temporary table
    (`pg_temp."name"`): a bare name would drop a real table of that name in the search path when
    the session has no temporary one, and that server is shared."""
    backend = backend_name(con)
    if backend == "duckdb":
        con.raw_sql(f"DROP TABLE IF EXISTS {name}")
    elif backend == "postgres":
        con.raw_sql(f"DROP TABLE IF EXISTS {_pg_temp(name)}").close()


def _pg_temp(name: str) -> str:
    """The session's temporary table `name` on Postgres, quoted as Ibis' create_table quotes it
    (an unquoted name is folded to lower case: gl_campaign_C2026_01 would miss)."""
    return 'pg_temp."' + name.replace('"', '""') + '"'


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

"""What differs between the engines GrowthLoop runs on, in one place.

Stage functions are plain Ibis and run unchanged on DuckDB, PySpark and the warehouses Ibis
supports. Keeping an intermediate result for reuse is the one thing each engine does its own
way: DuckDB and most warehouses have session-scoped temporary tables; Ibis' PySpark backend
has none, so there the result is cached (persisted) in the Spark session instead.
"""

from __future__ import annotations

import ibis


def backend_name(con) -> str:
    """The Ibis backend's name: 'duckdb', 'pyspark', 'postgres', 'trino', ..."""
    return getattr(con, "name", type(con).__module__.split(".")[-1])


def materialize(con, name: str, expr: ibis.Table) -> ibis.Table:
    """Compute `expr` once and keep the result for this session under `name` (replacing it).

    DuckDB: a temporary table. PySpark: the expression cached in the session (Ibis' `cache`),
    since its backend has no temporary tables. Elsewhere: a temporary table.
    """
    if backend_name(con) == "pyspark":
        return expr.cache()
    drop(con, name)  # not overwrite=True: Ibis 12's DROP for it fails to parse on DuckDB 2
    return con.create_table(name, expr, temp=True)


def drop(con, name: str) -> None:
    """Drop a temporary table made by `materialize` if it exists (no-op on PySpark)."""
    if backend_name(con) == "pyspark":
        return
    con.raw_sql(f"DROP TABLE IF EXISTS {name}")

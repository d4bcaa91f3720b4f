"""What differs between the engines GrowthLoop runs on, in one place.

Stage functions are plain Ibis and run unchanged on DuckDB, PySpark and the warehouses Ibis
supports. Keeping an intermediate result for reuse is the one thing each engine does its own
way: DuckDB and most warehouses have session-scoped temporary tables; Ibis' PySpark backend
has none, so there the result is a view cached in the Spark session instead.
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
        return con.create_table(name, expr, temp=True)
    except NotImplementedError:  # Ibis' Trino backend: "Temporary tables are not supported"
        return expr


def drop(con, name: str) -> None:
    """Drop a temporary table made by `materialize` if it exists (Spark's views are left to
    the session, which ends with the run)."""
    if backend_name(con) in ("duckdb", "postgres"):
        con.raw_sql(f"DROP TABLE IF EXISTS {name}")

"""The cross-engine harness itself (tests/engine_support.py), and the engine layer's own rules.

On every engine: the small dataset's clean tables are copied unchanged, and the engine's
session runs in the dataset's time zone. The comparison helper is checked on pandas frames
(no engine). Postgres only: the compiler rules growthloop.engine adds for Ibis 12's Postgres SQL,
and kept tables as temporary tables dropped by their own name.
"""

from __future__ import annotations

import ibis
import pandas as pd
import pytest
from engine_support import (  # noqa: F401  (the fixtures engine_pair, engine_watchdog)
    assert_same_frame,
    both,
    engine_pair_fixture,
    engine_watchdog_fixture,
    on,
    schema_types,
    session_time_zone,
)

from growthloop.engine import drop, materialize
from growthloop.metrics import uplift


@pytest.mark.parametrize("name", ["users", "events", "transactions", "costs", "campaigns",
                                  "campaign_members"])
def test_harness_copies_every_clean_table_unchanged(engine_pair, name):
    duck, other = engine_pair.duck.tables[name], engine_pair.other.tables[name]
    assert schema_types(other.schema()) == schema_types(duck.schema())
    assert other.count().execute() == duck.count().execute() > 0
    assert_same_frame(duck, other)


def test_harness_runs_in_the_dataset_time_zone(engine_pair):
    assert engine_pair.other.con.name == engine_pair.name
    assert session_time_zone(engine_pair.other) == "Asia/Shanghai"

    # the same wall-clock day and month on both engines, for every event
    def days(ds):
        ev = ds.events
        return ev.group_by(day=ev.event_time.date(), month=ev.event_time.truncate("M")).aggregate(
            n=ev.count())

    assert_same_frame(*both(days, engine_pair), sort_by=["day"])


def test_comparison_reports_differences():
    # the helper itself, on pandas frames: no engine, so in the fast tier
    left = pd.DataFrame({"k": ["a", "b"], "n": [1, 2], "x": [0.5, float("nan")]})
    assert_same_frame(left, left.iloc[::-1].assign(n=[2.0, 1.0]))  # order and int/float: same
    with pytest.raises(AssertionError, match="column 'n'"):
        assert_same_frame(left, left.assign(n=[1, 3]))
    with pytest.raises(AssertionError, match="column 'x'"):
        assert_same_frame(left, left.assign(x=[0.5 * (1 + 1e-6), float("nan")]))
    assert_same_frame(left, left.assign(x=[0.5 * (1 + 1e-12), None]))
    with pytest.raises(AssertionError, match="columns differ"):
        assert_same_frame(left, left[["n", "k", "x"]])
    with pytest.raises(AssertionError, match="row counts"):
        assert_same_frame(left, left.iloc[:1])


# Postgres only: these are the rules growthloop.engine adds to Ibis 12's Postgres compiler (its
# SQL for other engines is unchanged); on Spark the same constructs are run by the stage tests.
@on("postgres")
def test_postgres_compiler_rules(engine_pair):
    """The constructs Ibis 12 compiles wrongly for Postgres, each on its own."""
    t = ibis.memtable({"k": [1, 2, 3], "b": [True, False, None], "s": ["u1:7", "", None],
                       "at": ["2026-01-02 03:04:05", "2026-01-01 23:59:59", None]},
                      schema={"k": "int64", "b": "boolean", "s": "string", "at": "string"})
    t = t.mutate(at=t["at"].cast("timestamp"))
    arr = t.group_by(k=t.k % 2).aggregate(a=t["at"].collect())
    exprs = [
        t.select("k", i64=t.b.cast("int64"), i8=t.b.cast("int8"), md5=t.s.hexdigest("md5"),
                 fold=uplift.fold_of(t.s, 3, 7)),
        arr.select("k", first=arr.a.mins() + ibis.interval(days=1)),
    ]
    for expr in exprs:
        duck = engine_pair.duck.con.to_pandas(expr.order_by("k"))
        pg = engine_pair.other.con.to_pandas(expr.order_by("k"))
        assert_same_frame(duck, pg, ordered=True)


# Postgres only: temporary tables, `ANALYZE` and `pg_temp` are Postgres's way of keeping a
# result (Spark keeps a cached view, checked by every stage test that reads a kept table)
@on("postgres")
def test_postgres_kept_tables_are_analysed_and_dropped_by_their_own_name(engine_pair) -> None:
    con = engine_pair.other.con
    users = engine_pair.other.tables["users"].select("user_id")
    n = engine_pair.duck.users.count().execute()

    def temp_rows():
        return con.raw_sql("SELECT reltuples FROM pg_class WHERE relname = 'gl_Kept_C2026' "
                           "AND relpersistence = 't'").fetchall()

    for _ in range(2):  # the second drops the first: Ibis quotes the name, so must the DROP
        kept = materialize(con, "gl_Kept_C2026", users)
    assert kept.count().execute() == n
    # analysed (autovacuum never analyses temporary tables; -1 means never)
    assert temp_rows() == [(float(n),)]
    drop(con, "gl_Kept_C2026")
    assert temp_rows() == []


def test_a_spark_test_after_its_jvm_exited_fails_saying_so(monkeypatch: pytest.MonkeyPatch) -> None:
    """A dead JVM (exit code known) fails the next Spark test with a message naming it; a live
    one (no exit code yet) or no session at all lets the test run. No Java needed: the session
    is a stand-in with the gateway's process."""
    from types import SimpleNamespace

    import spark_support

    def session(exit_code):
        proc = SimpleNamespace(poll=lambda: exit_code)
        return SimpleNamespace(sparkContext=SimpleNamespace(_gateway=SimpleNamespace(proc=proc)))

    monkeypatch.delitem(spark_support._SESSION, "session", raising=False)
    spark_support.fail_if_jvm_exited()  # no session started in this process: nothing to say
    monkeypatch.setitem(spark_support._SESSION, "session", session(None))
    spark_support.fail_if_jvm_exited()  # alive
    monkeypatch.setitem(spark_support._SESSION, "session", session(3))
    with pytest.raises(pytest.fail.Exception, match=r"Spark JVM exited earlier \(exit code 3\)"):
        spark_support.fail_if_jvm_exited()

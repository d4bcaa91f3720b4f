"""Shared Spark harness: one small dataset opened on DuckDB and copied to local Spark.

Use it from a test module:

    from spark_support import assert_same_frame, both, spark_pair_fixture  # noqa: F401
    from spark_support import spark_watchdog_fixture  # noqa: F401  (a time limit per test)

    def test_x(spark_pair):
        duck, spark = both(my_stage_function, spark_pair, arg=1)
        assert_same_frame(duck, spark, sort_by=["key"])

(importing `spark_pair_fixture` makes the fixture `spark_pair` visible in the module; the dataset
and the Spark session are built once per process however many modules import it. Importing
`spark_watchdog_fixture` fails any test of the module that runs longer than SPARK_TEST_TIMEOUT
seconds, rather than let a Spark call that never returns stall the whole run.)

`spark_pair.duck` is a growthloop Dataset on DuckDB (the loader's clean tables of a small generated
demo dataset); `spark_pair.spark` holds the same rows in Spark temporary views, wrapped in a Dataset
whose `con` is Ibis's PySpark backend. The Spark session runs in the dataset's time zone, so a
timestamp means the same wall-clock time on both engines. Without Java 17 or pyspark the tests
fail (never skip): CI installs both (requirements-spark.txt, `make test`).
"""

from __future__ import annotations

import atexit
import datetime as dt
import logging
import math
import os
import re
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from growthloop.demo import generate_dataset
from growthloop.marts.channels import channel_of, normalise_utm, with_channel, with_utm
from growthloop.staging.contract import DEFAULT_CHANNELS, UNTAGGED_CHANNEL
from growthloop.staging.loader import Dataset, open_dataset

# Small enough for a few minutes on two cores, large enough that every segment, cohort, channel
# and campaign group has rows.
SPARK_USERS = 2000
SPARK_SEED = 11
MIN_JAVA = 17  # Spark 4 runs on Java 17 or 21
# seconds one test may take (a test takes under a minute on two busy cores)
SPARK_TEST_TIMEOUT = float(os.environ.get("GROWTHLOOP_SPARK_TEST_TIMEOUT", "600"))

_SESSION: dict[str, Any] = {}


@dataclass(frozen=True)
class EnginePair:
    """The same clean tables on DuckDB (`duck`) and on local Spark (`spark`)."""

    duck: Dataset
    spark: Dataset


def java_version() -> int:
    """The major version of the `java` Spark will start, or a test failure saying what to install."""
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).exists():
        where = f"no {java}" if java else "no `java` on PATH and JAVA_HOME unset"
        pytest.fail(f"The Spark tests need Java 17 ({where}): install it, e.g. "
                    "`apt-get install openjdk-17-jre-headless`, or set JAVA_HOME.", pytrace=False)
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False).stderr
    found = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not found:
        pytest.fail(f"The Spark tests need Java 17; `{java} -version` said: {out.strip()!r}",
                    pytrace=False)
    major = int(found.group(1))
    major = int(found.group(2)) if major == 1 else major  # "1.8.0" is Java 8
    if major < MIN_JAVA:
        pytest.fail(f"The Spark tests need Java {MIN_JAVA} or later; {java} is Java {major}.",
                    pytrace=False)
    return major


def spark_session(timezone: str):
    """One local Spark session per process (each pytest-xdist worker has its own JVM)."""
    if "session" in _SESSION:
        if _SESSION["timezone"] != timezone:
            raise AssertionError(f"this process's Spark session runs in {_SESSION['timezone']}, "
                                 f"not {timezone}")
        return _SESSION["session"]
    java_version()
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        pytest.fail("The Spark tests need pyspark: `.venv/bin/pip install -r requirements-spark.txt` "
                    "(`make test` installs it).", pytrace=False)
    # one core per JVM under pytest-xdist (the workers share the machine), two otherwise
    cores = 1 if os.environ.get("PYTEST_XDIST_WORKER") else 2
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # local mode: no network lookup, no warning
    scratch = Path(os.environ.get("TMPDIR", "/tmp")) / f"growthloop-spark-{os.getpid()}"
    session = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName("growthloop-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "1g")
        .config("spark.sql.shuffle.partitions", str(cores))
        .config("spark.default.parallelism", str(cores))
        .config("spark.sql.session.timeZone", timezone)
        .config("spark.sql.warehouse.dir", str(scratch / "warehouse"))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        # a JVM out of memory exits (the test fails with a py4j error) instead of leaving the
        # thread that streams Arrow to Python dead and Python waiting on its socket for ever
        .config("spark.driver.extraJavaOptions",
                "-Dlog4j2.level=ERROR -XX:+ExitOnOutOfMemoryError")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    # pyspark logs every SQL error as a long JSON record before raising it; the exception is enough
    logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)
    _SESSION.update(session=session, timezone=timezone)
    return session


def spark_backend(timezone: str):
    """Ibis's PySpark backend on the local session, in the dataset's time zone.

    ibis.pyspark.connect sets the session zone to UTC; the keyword sets it back to the
    dataset's zone, so dates and month starts are local ones, as on DuckDB.
    """
    import ibis

    return ibis.pyspark.connect(spark_session(timezone),
                                **{"spark.sql.session.timeZone": timezone})


def schema_types(schema) -> dict[str, str]:
    """Column types without a timestamp's scale (Spark's are microseconds, unscaled in Ibis)."""
    return {name: re.sub(r"^timestamp\(\d+\)", "timestamp", str(dtype))
            for name, dtype in schema.items()}


def copy_to_spark(ds: Dataset) -> Dataset:
    """The dataset's clean tables as Spark temporary views gl_<table>, in a Dataset on Spark.

    Rows go through Arrow with each column's Spark type taken from the Ibis schema (string,
    bigint, double, boolean, date, timestamp), so values are identical: a naive timestamp is read
    as wall-clock time in the session zone, which is the dataset's.

    Each view is cached (`CACHE TABLE`), so queries read an in-memory relation, as they would
    read a table or a file in a real session. A DataFrame made from Arrow is a LocalRelation,
    rows held in the query plan itself: Spark's optimizer (ConvertToLocalRelation) copies those
    rows for every reference to the table, and a query that reads the events a few dozen times
    (the channel monitor's sums) ran the 1 GB driver out of memory, in planning.
    """
    from ibis.backends.pyspark.datatypes import PySparkSchema

    con = spark_backend(ds.config.timezone)
    session = con._session
    tables = {}
    for name, table in ds.tables.items():
        schema = table.schema()
        arrow = ds.con.to_pyarrow(table)
        frame = session.createDataFrame(arrow, schema=PySparkSchema.from_ibis(schema))
        view = f"gl_{name}"
        frame.createOrReplaceTempView(view)
        session.sql(f"CACHE TABLE `{view}`")
        tables[name] = con.table(view)
        if schema_types(tables[name].schema()) != schema_types(schema):
            raise AssertionError(f"{name}: Spark schema {tables[name].schema()} differs from {schema}")
    return Dataset(ds.path, ds.config, con, tables, ds.quality, ds.analysis_date)


def make_pair(folder: Path, n_users: int = SPARK_USERS, seed: int = SPARK_SEED) -> EnginePair:
    """Generate a demo dataset in `folder`, open it on DuckDB and copy its clean tables to Spark."""
    generate_dataset(folder, n_users=n_users, seed=seed)
    duck = open_dataset(folder)
    return EnginePair(duck, copy_to_spark(duck))


def shared_pair(tmp_path_factory) -> EnginePair:
    """The process's EnginePair, built on first use."""
    if "pair" not in _SESSION:
        _SESSION["pair"] = make_pair(tmp_path_factory.mktemp("spark") / "demo")
    return _SESSION["pair"]


@pytest.fixture(scope="session", name="spark_pair")
def spark_pair_fixture(tmp_path_factory) -> EnginePair:
    """The shared small dataset on DuckDB and on local Spark (one per process)."""
    return shared_pair(tmp_path_factory)


@pytest.fixture(autouse=True, name="spark_watchdog")
def spark_watchdog_fixture():
    """Fail the test after SPARK_TEST_TIMEOUT seconds (SIGALRM in the main thread).

    A py4j call waits on its socket with no time limit: if the JVM side never answers (a dead
    JVM thread), the test would wait for ever. The alarm's handler raises in the waiting call,
    so the test fails with its traceback and the run goes on.
    """
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGALRM"):
        yield
        return

    def expire(signum, frame):
        pytest.fail(f"the test ran longer than {SPARK_TEST_TIMEOUT:g} s "
                    "(GROWTHLOOP_SPARK_TEST_TIMEOUT): a Spark call did not return")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, SPARK_TEST_TIMEOUT)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def same_numbers(duck: dict, spark: dict) -> None:
    """Two dicts of numbers are the same: same keys, whole numbers and strings equal, floats
    to 1e-9 relative, NaN matching NaN."""
    assert duck.keys() == spark.keys(), f"keys differ: {duck.keys()} / {spark.keys()}"
    for key, value in duck.items():
        other = spark[key]
        if isinstance(value, float) and math.isnan(value):
            assert isinstance(other, float) and math.isnan(other), key
        elif isinstance(value, float):
            assert other == pytest.approx(value, rel=1e-9, abs=1e-12), key
        else:
            assert other == value, key


def both(fn: Callable[..., Any], pair: EnginePair, *args, **kwargs) -> tuple[Any, Any]:
    """fn(dataset, *args, **kwargs) on DuckDB and on Spark."""
    return fn(pair.duck, *args, **kwargs), fn(pair.spark, *args, **kwargs)


# ---- comparing results -----------------------------------------------------------------------

def to_frame(value: Any) -> pd.DataFrame:
    """A result as a pandas DataFrame: Ibis tables and columns are executed, Arrow converted."""
    import ibis.expr.types as ir

    if isinstance(value, ir.Table):
        value = value.to_pyarrow()
    elif isinstance(value, ir.Column):
        value = value.name(value.get_name()).as_table().to_pyarrow()
    elif isinstance(value, ir.Scalar):
        value = pd.DataFrame({"value": [value.execute()]})
    if isinstance(value, pa.Table):
        value = value.to_pandas()
    if isinstance(value, pd.Series):
        value = value.to_frame(value.name if value.name is not None else "value")
    if not isinstance(value, pd.DataFrame):
        raise TypeError(f"cannot compare a {type(value).__name__}; pass a frame, table or column")
    frame = value
    if not isinstance(frame.index, pd.RangeIndex) or frame.index.name is not None:
        frame = frame.reset_index()
    if isinstance(frame.columns, pd.MultiIndex):
        frame.columns = [" / ".join(map(str, c)) for c in frame.columns]
    return frame.reset_index(drop=True)


def _kind(series: pd.Series) -> str:
    if isinstance(series.dtype, pd.CategoricalDtype):
        return _kind(series.astype(object))
    if pd.api.types.is_bool_dtype(series.dtype):
        return "other"
    if pd.api.types.is_numeric_dtype(series.dtype):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return "time"
    values = series.dropna()
    if len(values) and all(isinstance(v, int | float | np.integer | np.floating)
                           and not isinstance(v, bool) for v in values):
        return "number"
    if len(values) and all(isinstance(v, dt.datetime | pd.Timestamp) for v in values):
        return "time"
    return "other"


def _normal(series: pd.Series, kind: str) -> pd.Series:
    """Comparable values: numbers as float64 (NaN for missing), times as naive datetime64[us]."""
    if kind == "number":
        return pd.to_numeric(series.astype(object).where(series.notna(), np.nan),
                             errors="raise").astype("float64")
    if kind == "time":
        out = pd.to_datetime(series)
        if getattr(out.dt, "tz", None) is not None:
            out = out.dt.tz_localize(None)
        return out.astype("datetime64[us]")
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(object)
    return series.astype(object).where(series.notna(), None).map(
        lambda v: v.item() if isinstance(v, np.generic) else v)


def _sort_key(series: pd.Series, kind: str) -> pd.Series:
    if kind == "number":
        # rounded, so last-digit float noise does not reorder rows
        return series.map(lambda v: float(f"{v:.9g}") if not math.isnan(v) else math.inf)
    if kind == "time":
        return series.fillna(pd.Timestamp.max)
    return series.map(lambda v: "\uffff" if v is None else repr(v) if not isinstance(v, str) else v)


def assert_same_frame(duck: Any, spark: Any, sort_by: list[str] | None = None,
                      rtol: float = 1e-9, atol: float = 1e-12, ordered: bool = False) -> None:
    """Two results are the same table: same columns, and row for row the same values.

    Rows are compared after sorting (by `sort_by`, else by every column) unless `ordered`.
    Whole numbers must be equal; other numbers may differ by `rtol` relative (plus a tiny `atol`
    for values that should be 0). Missing values (None, NaN, NaT) match each other.
    """
    left, right = to_frame(duck), to_frame(spark)
    assert list(left.columns) == list(right.columns), (
        f"columns differ:\n  duckdb: {list(left.columns)}\n  spark:  {list(right.columns)}")
    assert len(left) == len(right), f"row counts differ: duckdb {len(left)}, spark {len(right)}"
    kinds = {}
    for col in left.columns:
        kl, kr = _kind(left[col]), _kind(right[col])
        if {kl, kr} - {"other"} and kl != kr and not (left[col].isna().all() or right[col].isna().all()):
            raise AssertionError(f"column {col!r}: duckdb gives {left[col].dtype}, spark {right[col].dtype}")
        kinds[col] = kl if kl != "other" else kr
    left = pd.DataFrame({c: _normal(left[c], kinds[c]) for c in left.columns})
    right = pd.DataFrame({c: _normal(right[c], kinds[c]) for c in right.columns})
    if not ordered and len(left):
        keys = list(sort_by) if sort_by else list(left.columns)
        keys += [c for c in left.columns if c not in keys]

        def order(frame: pd.DataFrame) -> pd.DataFrame:
            sortable = pd.DataFrame({c: _sort_key(frame[c], kinds[c]) for c in keys})
            idx = sortable.sort_values(keys, kind="stable").index
            return frame.loc[idx].reset_index(drop=True)

        left, right = order(left), order(right)
    problems = []
    for col in left.columns:
        a, b = left[col], right[col]
        if kinds[col] == "number":
            x, y = a.to_numpy(), b.to_numpy()
            both_nan = np.isnan(x) & np.isnan(y)
            whole = np.isfinite(x) & np.isfinite(y) & (x == np.round(x)) & (y == np.round(y))
            close = np.isclose(x, y, rtol=rtol, atol=atol) | (x == y)
            bad = ~both_nan & ~np.where(whole, x == y, close)
        elif kinds[col] == "time":
            bad = ~((a == b) | (a.isna() & b.isna())).to_numpy()
        else:
            bad = np.array([not (u == v if not (u is None or v is None) else u is v)
                            for u, v in zip(a, b, strict=True)], dtype=bool)
        if bad.any():
            rows = np.flatnonzero(bad)
            shown = pd.DataFrame({"row": rows, "duckdb": a.iloc[rows].to_list(),
                                  "spark": b.iloc[rows].to_list()}).head(10)
            context = left.iloc[rows[:10]][[c for c in left.columns if c != col][:4]]
            problems.append(f"column {col!r}: {bad.sum()} of {len(a)} rows differ\n"
                            f"{shown.to_string(index=False)}\n  rows (duckdb side):\n"
                            f"{context.to_string()}")
    if problems:
        raise AssertionError("DuckDB and Spark results differ:\n" + "\n".join(problems))


# ---- cases shared by the Spark and Postgres tests -------------------------------------------

def same_paths(duck: Any, spark: Any) -> None:
    """Path counts row for row (both are ordered by path) and the time-decay credits."""
    def flat(p: Any) -> pd.DataFrame:
        return p.counts.assign(path=p.counts.path.map(" > ".join))

    assert_same_frame(flat(duck), flat(spark), ordered=True)
    same_numbers(duck.time_decay, spark.time_decay)


# UTM values as analysts' exports write them: case, spaces, '+', URL escapes (valid, broken
# and half-broken), Chinese, a landing URL and nothing at all. Expected values by hand.
UTM_CASES = [
    # (utm_source, landing_url, normalised source, channel)
    (" Baidu ", None, "baidu", "百度搜索"),
    ("wechat%5Fkol", None, "wechat_kol", "微信KOL"),
    ("%E5%BE%AE%E4%BF%A1+KOL", None, "微信 kol", "微信 kol"),
    ("a+b", None, "a b", "a b"),
    ("50%off", None, "50%off", "50%off"),  # a bad escape: kept as written
    ("%E4%B8", None, "%e4%b8", "%e4%b8"),  # a truncated character: kept (DuckDB would fail)
    ("a%41%zz", None, "a%41%zz", "a%41%zz"),  # one bad escape: nothing decoded
    ("%C0%80", None, "%c0%80", "%c0%80"),  # an overlong form is not UTF-8
    ("%20toutiao%20", None, "toutiao", "信息流广告"),
    (None, "https://m.x.cn/a?UTM_SOURCE=Dsp&x=1", "dsp", "DSP"),
    ("  ", "https://m.x.cn/a?utm_source=bd%5Fsem#top", "bd_sem", "百度搜索"),
    (None, "https://m.x.cn/landing", None, UNTAGGED_CHANNEL),
    (None, None, None, UNTAGGED_CHANNEL),
]


def check_utm_cleaning(pair: EnginePair) -> None:
    """UTM_CASES cleaned and mapped to channels on the pair's second engine: the values written
    by hand, and DuckDB's (`with_utm`, `channel_of`, `normalise_utm`, `with_channel`)."""
    import ibis

    table = ibis.memtable(
        {"k": list(range(len(UTM_CASES))), "utm_source": [c[0] for c in UTM_CASES],
         "landing_url": [c[1] for c in UTM_CASES]},
        schema={"k": "int64", "utm_source": "string", "landing_url": "string"},
    )
    t = with_utm(table)
    expr = t.select("k", "utm_source", channel=channel_of(t.utm_source, DEFAULT_CHANNELS),
                    column_only=normalise_utm(t.landing_url))
    other = pair.spark.con.to_pandas(expr.order_by("k"))
    assert other.utm_source.tolist() == [c[2] for c in UTM_CASES]
    assert other.channel.tolist() == [c[3] for c in UTM_CASES]
    assert_same_frame(pair.duck.con.to_pandas(expr.order_by("k")), other, ordered=True)
    joined = with_channel(table, "utm_source", DEFAULT_CHANNELS).select("k", "channel")
    assert_same_frame(pair.duck.con.to_pandas(joined.order_by("k")),
                      pair.spark.con.to_pandas(joined.order_by("k")), ordered=True)

"""The cross-engine harness: one small dataset on DuckDB and the same rows on another engine.

Use it from a test module:

    from engine_support import assert_same_frame, both
    from engine_support import engine_pair_fixture, engine_watchdog_fixture  # noqa: F401

    def test_x(engine_pair):
        duck, other = both(my_stage_function, engine_pair, arg=1)
        assert_same_frame(duck, other, sort_by=["key"])

(importing the two fixture functions makes the fixture `engine_pair` visible in the module and
the watchdog `engine_watchdog` apply to each of its tests.)

`engine_pair` is parametrised over ENGINES: each test runs once on local Spark (id `pyspark`,
mark `spark`) and once on a throwaway PostgreSQL server (id `postgres`, mark `postgres`), so
`-m spark`, `-m postgres`, `-k pyspark` and `-k postgres` select them, and the fast tier
(`-m "not spark and not postgres ..."`) collects no engine test and starts no JVM and no server.
A test that can run on one engine only says so with `@on("postgres")` (or `@on("pyspark")`)
and says why in a comment. The watchdog fails any test of the module that runs longer than
ENGINE_TEST_TIMEOUT seconds, rather than let a call that never returns stall the run.

`engine_pair.duck` is a growthloop Dataset on DuckDB: the loader's clean tables of a small
generated demo dataset, generated and opened once per process and shared by both engines.
`engine_pair.other` holds the same rows on the engine `engine_pair.name` ("pyspark": Spark
temporary views, tests/spark_support.py; "postgres": tables of a server the process starts for
itself, tests/postgres_support.py), wrapped in a Dataset whose `con` is that Ibis backend. The
engine's session runs in the dataset's time zone, so a timestamp means the same wall-clock time
on both engines. Each engine is set up once per process (each pytest-xdist worker its own JVM
and server), on the first test that needs it; the server is stopped and its directory removed
when the test run ends. Without Java 17 and pyspark, or PostgreSQL's server programs and
psycopg, the tests fail (never skip): CI installs them (`make test`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import os
import re
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
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
PAIR_USERS = 2000
PAIR_SEED = 11
# seconds one test may take (a Spark test takes under five minutes on two busy cores)
ENGINE_TEST_TIMEOUT = float(os.environ.get("GROWTHLOOP_SPARK_TEST_TIMEOUT", "600"))

#: the engines every parity test runs on: the fixture's param, its test id and its tier mark
#: (tests/conftest.py also marks a test by this param, whichever way it was parametrised)
ENGINES = {
    "pyspark": pytest.param("pyspark", marks=pytest.mark.spark, id="pyspark"),
    "postgres": pytest.param("postgres", marks=pytest.mark.postgres, id="postgres"),
}

_STATE: dict[str, Any] = {"pairs": {}}


@dataclass(frozen=True)
class EnginePair:
    """The same clean tables on DuckDB (`duck`) and on the engine `name` (`other`)."""

    name: str
    duck: Dataset
    other: Dataset


def on(*engines: str):
    """Run a test on these engines only (instead of every one of ENGINES), with their marks."""
    return pytest.mark.parametrize("engine_pair", [ENGINES[e] for e in engines], indirect=True)


def small_dataset(tmp_path_factory) -> Dataset:
    """The process's small demo dataset on DuckDB, generated and opened on first use."""
    if "duck" not in _STATE:
        folder = tmp_path_factory.mktemp("engines") / "demo"
        generate_dataset(folder, n_users=PAIR_USERS, seed=PAIR_SEED)
        _STATE["duck"] = open_dataset(folder)
    return _STATE["duck"]


def _copy(name: str, duck: Dataset, config) -> Dataset:
    if name == "pyspark":
        from spark_support import copy_to_spark

        return copy_to_spark(duck)
    if name == "postgres":
        from postgres_support import copy_to_postgres, pg_server

        return copy_to_postgres(duck, pg_server(config))
    raise ValueError(f"no engine {name!r}; known: {list(ENGINES)}")


def _close(name: str) -> None:
    pair = _STATE["pairs"].pop(name, None)
    if pair is not None and name == "postgres":
        with contextlib.suppress(Exception):  # the server is stopped next anyway
            pair.other.con.disconnect()


def shared_pair(name: str, tmp_path_factory, config=None) -> EnginePair:
    """The process's pair for engine `name`, built on first use (the engine started and the
    small dataset copied to it); closed when the test run ends."""
    pairs = _STATE["pairs"]
    if name not in pairs:
        duck = small_dataset(tmp_path_factory)
        pairs[name] = EnginePair(name, duck, _copy(name, duck, config))
        if config is not None:  # runs before the server's own cleanup (last in, first out)
            config.add_cleanup(lambda: _close(name))
    return pairs[name]


@pytest.fixture(scope="session", params=list(ENGINES.values()), name="engine_pair")
def engine_pair_fixture(request, tmp_path_factory) -> EnginePair:
    """The small dataset on DuckDB and on the param's engine (built once per process: a param
    change in the test order tears the fixture down but keeps the engine and its copy)."""
    return shared_pair(request.param, tmp_path_factory, request.config)


@pytest.fixture(autouse=True, name="engine_watchdog")
def engine_watchdog_fixture():
    """Fail the test after ENGINE_TEST_TIMEOUT seconds (SIGALRM in the main thread).

    A py4j call waits on its socket with no time limit: if the JVM side never answers (a dead
    JVM thread), the test would wait for ever. The alarm's handler raises in the waiting call,
    so the test fails with its traceback and the run goes on. (A Postgres statement also has
    the server's own statement_timeout, tests/postgres_support.py.)
    """
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGALRM"):
        yield
        return

    def expire(signum, frame):
        pytest.fail(f"the test ran longer than {ENGINE_TEST_TIMEOUT:g} s "
                    "(GROWTHLOOP_SPARK_TEST_TIMEOUT): an engine call did not return")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, ENGINE_TEST_TIMEOUT)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def both(fn: Callable[..., Any], pair: EnginePair, *args, **kwargs) -> tuple[Any, Any]:
    """fn(dataset, *args, **kwargs) on DuckDB and on the other engine."""
    return fn(pair.duck, *args, **kwargs), fn(pair.other, *args, **kwargs)


def schema_types(schema) -> dict[str, str]:
    """Column types without a timestamp's scale (Spark's are microseconds, unscaled in Ibis)."""
    return {name: re.sub(r"^timestamp\(\d+\)", "timestamp", str(dtype))
            for name, dtype in schema.items()}


def session_time_zone(ds: Dataset) -> str:
    """The time zone the engine session of `ds` reads and shows timestamps in."""
    from growthloop.engine import backend_name

    name = backend_name(ds.con)
    if name == "pyspark":
        return ds.con._session.conf.get("spark.sql.session.timeZone")
    if name == "postgres":
        with ds.con.con.cursor() as cur:
            return cur.execute("SHOW TimeZone").fetchone()[0]
    raise ValueError(f"no session time zone for the {name} backend")


# ---- comparing results -----------------------------------------------------------------------

def same_numbers(duck: dict, other: dict) -> None:
    """Two dicts of numbers are the same: same keys, whole numbers and strings equal, floats
    to 1e-9 relative, NaN matching NaN."""
    assert duck.keys() == other.keys(), f"keys differ: {duck.keys()} / {other.keys()}"
    for key, value in duck.items():
        theirs = other[key]
        if isinstance(value, float) and math.isnan(value):
            assert isinstance(theirs, float) and math.isnan(theirs), key
        elif isinstance(value, float):
            assert theirs == pytest.approx(value, rel=1e-9, abs=1e-12), key
        else:
            assert theirs == value, key


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


def assert_same_frame(duck: Any, other: Any, sort_by: list[str] | None = None,
                      rtol: float = 1e-9, atol: float = 1e-12, ordered: bool = False) -> None:
    """Two results are the same table: same columns, and row for row the same values.

    Rows are compared after sorting (by `sort_by`, else by every column) unless `ordered`.
    Whole numbers must be equal; other numbers may differ by `rtol` relative (plus a tiny `atol`
    for values that should be 0). Missing values (None, NaN, NaT) match each other.
    """
    left, right = to_frame(duck), to_frame(other)
    assert list(left.columns) == list(right.columns), (
        f"columns differ:\n  duckdb: {list(left.columns)}\n  other:  {list(right.columns)}")
    assert len(left) == len(right), f"row counts differ: duckdb {len(left)}, other {len(right)}"
    kinds = {}
    for col in left.columns:
        kl, kr = _kind(left[col]), _kind(right[col])
        if {kl, kr} - {"other"} and kl != kr and not (left[col].isna().all() or right[col].isna().all()):
            raise AssertionError(f"column {col!r}: duckdb gives {left[col].dtype}, "
                                 f"the other engine {right[col].dtype}")
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
                                  "other": b.iloc[rows].to_list()}).head(10)
            context = left.iloc[rows[:10]][[c for c in left.columns if c != col][:4]]
            problems.append(f"column {col!r}: {bad.sum()} of {len(a)} rows differ\n"
                            f"{shown.to_string(index=False)}\n  rows (duckdb side):\n"
                            f"{context.to_string()}")
    if problems:
        raise AssertionError("DuckDB and the other engine differ:\n" + "\n".join(problems))


def same_paths(duck: Any, other: Any) -> None:
    """Path counts row for row (both are ordered by path) and the time-decay credits."""
    def flat(p: Any) -> pd.DataFrame:
        return p.counts.assign(path=p.counts.path.map(" > ".join))

    assert_same_frame(flat(duck), flat(other), ordered=True)
    same_numbers(duck.time_decay, other.time_decay)


# ---- UTM cleaning --------------------------------------------------------------------------

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
    """UTM_CASES cleaned and mapped to channels on the pair's other engine: the values written
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
    other = pair.other.con.to_pandas(expr.order_by("k"))
    assert other.utm_source.tolist() == [c[2] for c in UTM_CASES]
    assert other.channel.tolist() == [c[3] for c in UTM_CASES]
    assert_same_frame(pair.duck.con.to_pandas(expr.order_by("k")), other, ordered=True)
    joined = with_channel(table, "utm_source", DEFAULT_CHANNELS).select("k", "channel")
    assert_same_frame(pair.duck.con.to_pandas(joined.order_by("k")),
                      pair.other.con.to_pandas(joined.order_by("k")), ordered=True)

"""The Spark part of the cross-engine harness (tests/engine_support.py): a local Spark session
and the small dataset's clean tables copied to it.

`copy_to_spark(duck)` is what the `engine_pair` fixture's `pyspark` param runs (once per
process): the clean tables as Spark temporary views, in a Dataset whose `con` is Ibis's PySpark
backend. `spark_session(timezone)` is the process's one session (each pytest-xdist worker has its
own JVM), also for tests that make Spark views of their own (the loader from source tables).
The session runs in the dataset's time zone, so a timestamp means the same wall-clock time on
both engines. Without Java 17 or pyspark the tests fail (never skip): CI installs both
(requirements-spark.txt, `make test`).
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from engine_support import schema_types

from growthloop.staging.loader import Dataset

MIN_JAVA = 17  # Spark 4 runs on Java 17 or 21

_SESSION: dict[str, Any] = {}


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
        .config("spark.driver.memory", "4g")
        .config("spark.sql.shuffle.partitions", str(cores))
        .config("spark.default.parallelism", str(cores))
        .config("spark.sql.session.timeZone", timezone)
        .config("spark.sql.warehouse.dir", str(scratch / "warehouse"))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        # Tungsten's page size, by default derived from the heap (64 MB here): every broadcast
        # hash join's table takes a page at least, and the broadcasts of the results the tests
        # keep (cached plans) stay in the driver, about 25 at once: 1.4-2.3 GB of long[] live
        # in a 4 GB heap on 2,000 users, 0.2 GB with 1 MB pages. A CI run's worker JVM exited
        # five minutes into its Spark tests, not killed by the kernel: most likely a full heap.
        .config("spark.buffer.pageSize", "1m")
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


def fail_if_jvm_exited() -> None:
    """Fail a Spark test at once, saying why, when this process's JVM has already exited.

    Every later Spark test of the process would otherwise fail with py4j's "Connection refused",
    which names neither the cause nor the test where it happened.
    """
    session = _SESSION.get("session")
    if session is None:
        return
    proc = getattr(session.sparkContext._gateway, "proc", None)
    code = proc.poll() if proc is not None else None
    if code is not None:
        pytest.fail(f"This test process's Spark JVM exited earlier (exit code {code}). The first "
                    "failed Spark test of the process holds its last output in 'Captured stdout' "
                    "or 'stderr' (with -XX:+ExitOnOutOfMemoryError, 'Terminating due to "
                    "java.lang.OutOfMemoryError' is a full heap).", pytrace=False)


def spark_backend(timezone: str):
    """Ibis's PySpark backend on the local session, in the dataset's time zone.

    ibis.pyspark.connect sets the session zone to UTC; the keyword sets it back to the
    dataset's zone, so dates and month starts are local ones, as on DuckDB.
    """
    import ibis

    return ibis.pyspark.connect(spark_session(timezone),
                                **{"spark.sql.session.timeZone": timezone})


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

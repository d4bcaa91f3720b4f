"""Stitch-once floors: the load and the funnels against the fastest queries written by hand.

    .venv/bin/python benchmarks/floors.py --sizes 100000 1000000

For each size, in one process (the machine is shared: only ratios measured in one process and
one run compare), on benchmarks/data/users_<N>/ (generated as benchmarks/run.py does when
missing):

* **load floor**: plain DuckDB reads every Parquet file into a table and stitches identity once
  into a person-level event table (`person_id`, `event_name`, `event_time`, the event
  properties), with the anonymous-to-user rule of `benchmarks/metrics.py`, in a DuckDB with the
  library's memory limit (a lone kernel's share of dataset.yml's, as a run's load and a chapter
  running alone get) and spill folder. The library's load is what a run does once
  (`prepare_store`): every contract rule and the quality report, the clean tables written to a
  store file (`load`), then the investments and identity marts written beside them
  (`identity mart`); the funnels read the attached store, as a chapter's kernel does.
* **funnel floor**: one GROUP BY over the stitched events (per person, a list of times per step;
  each step the first time at or after the previous one, within 30 days of entry) for the
  7-step default funnel, chapter 2's funnel of own events with property filters (注册 → 风险测评
  → 浏览产品详情 where product_type is a 定期 → 首投), and a funnel of roles of the same length
  (注册 → 实名 → 绑卡 → 首投). The library's number is `funnel.funnel` with its mart already built.
* **funnel floor on the store** (`floor on store`): the same GROUP BY run in the library's own
  connection on the tables it reads (the store's identity mart and transactions), which the
  issue's floors ask for ("on the same loaded tables"). The gap between the two floors is the
  table, not the query: `pe` is in memory, five columns wide and clustered by device; the
  store's mart is compressed in the file, holds every event column, and is in time order.

Each query runs twice and the faster run is kept. The counts of library and floor must be
equal (the script exits non-zero when they are not). Results go to
benchmarks/results/floors.csv; benchmarks/report.py puts them on docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

from metrics import WINDOW_DAYS, _stitch_sql, _ts, period_end  # noqa: E402
from report import cpu_model  # noqa: E402

DATA = HERE / "data"
OUT = HERE / "results" / "floors.csv"
DEFAULT_STEPS = ("ad_click", "app_install", "register", "kyc_verified", "bind_card",
                 "first_investment", "second_investment")
TERMS = ("定期1月", "定期3月", "定期6月", "定期12月")
#: chapter 2's second funnel (its own_steps), and a funnel of roles of the same length
OWN_STEPS = ["register", "风险测评", {"event": "浏览产品详情", "where": {"product_type": list(TERMS)}},
             "first_investment"]
ROLE_STEPS = ["register", "kyc_verified", "bind_card", "first_investment"]
TABLES = ("users", "events", "transactions", "costs", "campaigns", "campaign_members")


def dataset(size: int) -> Path:
    """The benchmark dataset of `size` users (generated with seed 7 when missing)."""
    folder = DATA / f"users_{size}"
    if not (folder / "events.parquet").exists():
        from growthloop.demo import generate_dataset

        generate_dataset(folder, n_users=size, seed=7, chunk_users=100_000)
    return folder


def best_of_two(run, reset=None) -> tuple[float, object]:
    """Run twice (calling `reset` before each run); the faster time and the last result."""
    times, result = [], None
    for _ in range(2):
        if reset is not None:
            reset()
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return min(times), result


def floor_load(con: duckdb.DuckDBPyConnection, folder: Path, end: dt.datetime) -> None:
    """Every file read into a table, and identity stitched once into `pe`."""
    for name in TABLES:
        path = folder / f"{name}.parquet"
        if path.exists():
            con.execute(f"CREATE OR REPLACE TABLE f_{name} AS SELECT * FROM read_parquet('{path}')")
    # the stitch of benchmarks/metrics.py reads gl_events: a view of the file's table
    con.execute("CREATE OR REPLACE VIEW gl_events AS SELECT *, "
                "json_extract_string(properties, '$.product_type') AS product_type, "
                "json_extract_string(properties, '$.level') AS level FROM f_events")
    names = tuple(r[0] for r in con.execute("SELECT DISTINCT event_name FROM f_events").fetchall())
    con.execute(f"""CREATE OR REPLACE TABLE pe AS
        WITH {_stitch_sql(end, names, extra_cols=", product_type, level")}
        SELECT COALESCE(user_id, 'anon:' || anonymous_id) AS person_id, event_name, event_time,
               product_type, level
        FROM st""")


def _condition(step) -> str:
    if isinstance(step, str):
        return f"event_name = '{step}'"
    values = ", ".join(f"'{v}'" for v in step["where"]["product_type"])
    return f"event_name = '{step['event']}' AND product_type IN ({values})"


def floor_funnel(con: duckdb.DuckDBPyConnection, steps, end: dt.datetime, events: str = "pe",
                 transactions: str = "f_transactions") -> list[int]:
    """People reaching each step: one GROUP BY over the person-level events `events` (`pe`, or
    the store's identity mart) and the first two investments of `transactions`."""
    investments = f"""
        SELECT user_id AS person_id,
               CASE n WHEN 1 THEN 'first_investment' ELSE 'second_investment' END AS event_name,
               txn_time AS event_time, NULL AS product_type
        FROM (SELECT user_id, txn_time,
                     row_number() OVER (PARTITION BY user_id ORDER BY txn_time, txn_id) AS n
              FROM {transactions} WHERE status = 'success' AND amount > 0
                    AND txn_time < {_ts(end)}) WHERE n <= 2"""
    event_steps = [s for s in steps if not (isinstance(s, str) and s.endswith("_investment"))]
    wanted = " OR ".join(f"({_condition(s)})" for s in event_steps)
    lists = ",\n".join(f"list(event_time) FILTER (WHERE {_condition(s)}) AS a{i}"
                       for i, s in enumerate(steps) if i > 0)
    chain, prev = [], "per"
    for i in range(1, len(steps)):
        chain.append(f"s{i} AS (SELECT *, list_min(list_filter(a{i}, lambda x: x >= t{i - 1} "
                     f"AND x <= t0 + INTERVAL {WINDOW_DAYS} DAY)) AS t{i} FROM {prev})")
        prev = f"s{i}"
    counts = ", ".join(f"count(t{i})" for i in range(len(steps)))
    row = con.execute(f"""
        WITH people AS (
          SELECT person_id, event_name, event_time, product_type FROM {events} WHERE {wanted}
          UNION ALL {investments}),
        per AS (SELECT person_id, min(event_time) FILTER (WHERE {_condition(steps[0])}) AS t0,
                       {lists}
                FROM people GROUP BY person_id HAVING t0 IS NOT NULL),
        {", ".join(chain)}
        SELECT {counts} FROM {prev}""").fetchone()
    return [int(v) for v in row]


#: free disk a run needs in the system temp folder (the store and DuckDB's spill), per million
#: users: the 10M run spilled about 40 GiB from the floor's in-memory tables, its store 4.2 GiB
GIB_PER_MILLION_USERS = 4.5


def check_free_disk(size: int) -> None:
    """Stop before a run that would fill the disk (two 10M runs stopped half-way, disk full)."""
    from growthloop.staging.config import default_temp_directory

    need = GIB_PER_MILLION_USERS * size / 1_000_000
    where = Path(default_temp_directory())
    while not where.exists():
        where = where.parent
    free = shutil.disk_usage(where).free / 2**30
    if free < need:
        raise SystemExit(f"floors.py: {size:,} users need about {need:.0f} GiB free under {where} "
                         f"(the store and DuckDB's spill); {free:.0f} GiB are free. Free some "
                         "space (old stores, /tmp/growthloop-duckdb) and run again.")


def measure(size: int) -> list[dict]:
    from growthloop.marts import stored_marts
    from growthloop.metrics import funnel
    from growthloop.staging.store import CATALOG, open_store, prepare_store

    check_free_disk(size)
    folder = dataset(size)
    rows: list[dict] = []

    def record(phase: str, impl: str, seconds: float) -> None:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        rows.append({"size": size, "phase": phase, "impl": impl, "seconds": round(seconds, 3),
                     "process_peak_mb": round(peak, 1),
                     "utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M"),
                     # sizes measured on different machines do not compare (run.py keeps it too)
                     "cpu": cpu_model()})
        print(f"{size:>9} {phase:<22} {impl:<8} {seconds:8.2f} s", flush=True)

    # as a run loads: the store file every chapter attaches (loader, then the identity mart and
    # the investments it reads), the funnels then read the attached store
    marts = {m.name: m for m in stored_marts()}
    timed = []

    class Timed:
        def __init__(self, mart):
            self.name, self.mart = mart.name, mart

        def build(self, ds):
            timed.append((self.name, time.perf_counter()))
            return self.mart.build(ds)

    store = Path(tempfile.mkdtemp(prefix="floors_")) / "store.duckdb"
    # the store is removed whatever happens: a failed 10M run (a full disk) left 4 GiB behind
    try:
        start = time.perf_counter()
        prepare_store(folder, store,
                      marts=[Timed(marts["investments"]), Timed(marts["person_events"])])
        done = time.perf_counter()
        mart_start = timed[0][1]
        record("load", "library", mart_start - start)
        record("identity mart", "library", done - mart_start)
        ds = open_store(store, folder, share=1)  # as a chapter a run executes alone
        end = period_end(ds.analysis_date)

        # the library's engine settings (a lone kernel's memory limit, dataset.yml's spill
        # folder): at 10M users neither side fits in memory unbounded, and like must meet like
        settings = ds.config.engine.duckdb_settings()
        con = duckdb.connect(config={"memory_limit": settings["memory_limit"],
                                     "temp_directory": str(settings["temp_directory"])})
        start = time.perf_counter()
        floor_load(con, folder, end)
        record("read + stitch", "floor", time.perf_counter() - start)

        # each library run starts from the dataset's cache as it is now (the identity mart kept),
        # so a funnel memoised by the first run is computed again by the second
        before = dict(ds._cache)

        def reset() -> None:
            ds._cache.clear()
            ds._cache.update(before)

        failures = []
        for phase, steps in (("funnel 7 steps", list(DEFAULT_STEPS)),
                             ("funnel own events", OWN_STEPS), ("funnel roles", ROLE_STEPS)):
            spec = funnel.make_spec(steps, WINDOW_DAYS)
            seconds, table = best_of_two(lambda spec=spec: funnel.funnel(ds, spec), reset)
            record(phase, "library", seconds)
            seconds, counts = best_of_two(lambda steps=steps: floor_funnel(con, steps, end))
            record(phase, "floor", seconds)
            # the same query on the tables the library reads, in its own connection
            seconds, on_store = best_of_two(lambda steps=steps: floor_funnel(
                ds.con.con, steps, end, f"{CATALOG}.main.gl_person_events",
                f"{CATALOG}.main.gl_transactions"))
            record(phase, "floor on store", seconds)
            for impl, got in (("floor", counts), ("floor on store", on_store)):
                if table.users.astype(int).tolist() != got:
                    failures.append(f"{size} {phase}: library {table.users.tolist()} {impl} {got}")
        ds.con.disconnect()
    finally:
        shutil.rmtree(store.parent, ignore_errors=True)
    for failure in failures:
        print("DISAGREE", failure, file=sys.stderr)
    return rows if not failures else []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    args = parser.parse_args()
    rows = []
    for size in args.sizes:
        got = measure(size)
        if not got:
            return 1
        rows += got
    OUT.parent.mkdir(parents=True, exist_ok=True)
    old = []
    if OUT.exists():
        with OUT.open(encoding="utf-8") as fh:
            old = [r for r in csv.DictReader(fh) if int(r["size"]) not in args.sizes]
    with OUT.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(old + rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""One measurement, run by benchmarks/run.py in its own process (so its memory is its own).

    python benchmarks/task.py stage NAME DATA OUT.json      # a stage: load (as a run does), its calls, SQL floor
    python benchmarks/task.py stage all DATA OUT.json       # every stage after a single load
    python benchmarks/task.py pandas METRIC DATA OUT.json   # the pandas version of a metric

A stage process first runs every stage once on the bundled demo dataset (`warmup`: imports,
including the ones the library makes lazily, and Ibis' and sqlglot's first-use set-up, which a
chapter's kernel pays once), then opens the dataset with the dataset's engine settings and times
each phase: wall time, the peak RSS of this process during the phase (sampled every 20 ms) and
the part of the time spent turning Ibis expressions into SQL text (`compile_seconds`). A call
that takes under `REPEAT_UNDER` seconds is repeated, up to `MAX_RUNS` runs, and its median run
is kept; before each run the dataset's cache of derived tables is put back as it was before the
first, so every run computes what the first did. The library's metric and the metric's SQL
floor run in the same process on the same loaded tables. Results of the metrics (small frames)
are written to OUT.json for the agreement check.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
# measure the checkout this folder belongs to, whatever the venv's editable install points at
sys.path[:0] = [str(HERE.parent / "src"), str(HERE)]

import metrics  # noqa: E402

#: the bundled demo dataset, on which a stage process warms up before it measures
DEMO = HERE.parent / "data" / "demo"
#: a call faster than this is run again (median of the runs): one run of a 20 ms query is noise
REPEAT_UNDER = 1.0
MAX_RUNS = 5

STAGES = ("load", "profiling", "funnel", "attribution", "rfm", "retention",
          "campaign_review")
ALL = "all"  # every stage in one process, after one load
# the stage whose library call is each metric, and that call's phase name
METRIC_PHASE = {"funnel": ("funnel", "funnel.funnel"),
                "paths": ("attribution", "attribution.attribution_paths"),
                "rfm": ("rfm", "rfm.segments"),
                "cohort": ("retention", "retention.cohort_retention")}


class Sampler:
    """Peak RSS of this process, per phase, from a background thread."""

    def __init__(self, interval: float = 0.02):
        self.proc = psutil.Process()
        self.peak = 0
        self.interval = interval
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop:
            with contextlib.suppress(psutil.Error):
                self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(self.interval)

    def reset(self) -> None:
        self.peak = self.proc.memory_info().rss

    def stop(self) -> None:
        self._stop = True


class CompileClock:
    """Seconds spent turning Ibis expressions into SQL text: Ibis' rewrites into sqlglot
    (`SQLGlotCompiler.to_sqlglot`) and sqlglot's generator (`Expression.sql`), outermost calls
    only. The rest of a library call is building expressions, the engine and the small results.
    One per process (`compile_clock()`); `seconds` only grows."""

    def __init__(self) -> None:
        import sqlglot.expressions as sge
        from ibis.backends.sql.compilers.base import SQLGlotCompiler

        self.seconds = 0.0
        self._depth = 0
        for owner, name in ((SQLGlotCompiler, "to_sqlglot"), (sge.Expression, "sql")):
            setattr(owner, name, self._timed(getattr(owner, name)))

    def _timed(self, fn: Callable) -> Callable:
        def timed(*args, **kwargs):
            self._depth += 1
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self._depth -= 1
                if not self._depth:
                    self.seconds += time.perf_counter() - t0

        return timed


_CLOCK: CompileClock | None = None


def compile_clock() -> CompileClock:
    global _CLOCK
    if _CLOCK is None:
        _CLOCK = CompileClock()
    return _CLOCK


class Recorder:
    """Times phases; writes everything measured so far to `out` after each phase, so a process
    stopped halfway (a timeout at 10M users) still leaves its finished measurements.

    With `ds` set (the loaded dataset), a call under REPEAT_UNDER seconds is repeated with the
    dataset's cache put back as it was before the first run (derived tables made by a run are
    forgotten, so the next run makes them again); the median run is recorded."""

    def __init__(self, out: Path | None = None, header: dict | None = None,
                 verbose: bool = True) -> None:
        self.sampler = Sampler()
        self.verbose = verbose
        self.clock = compile_clock()
        self.phases: list[dict] = []
        self.results: dict[str, list[dict]] = {}
        self.out, self.header = out, header or {}
        self.ds = None

    def save(self, status: str = "running", error: str | None = None, info: dict | None = None) -> None:
        if self.out is None:
            return
        self.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.out.with_suffix(".part")
        tmp.write_text(json.dumps({**self.header, "status": status, "error": error,
                                   "phases": self.phases, "results": self.results,
                                   "info": info or {}, "pid": os.getpid()},
                                  ensure_ascii=False, default=str))
        tmp.replace(self.out)

    def __call__(self, name: str, fn: Callable[[], object], metric: str | None = None,
                 impl: str = "library", frame: Callable[[object], object] | None = None):
        cache = getattr(self.ds, "_cache", None)
        before = dict(cache) if cache is not None else None
        runs: list[tuple[float, float]] = []  # (seconds, compile seconds) per run
        peak = 0
        while True:
            if runs and before is not None:
                cache.clear()
                cache.update(before)
            self.sampler.reset()
            c0 = self.clock.seconds
            t0 = time.perf_counter()
            out = fn()
            runs.append((time.perf_counter() - t0, self.clock.seconds - c0))
            peak = max(peak, self.sampler.peak, self.sampler.proc.memory_info().rss)
            if self.ds is None or runs[0][0] >= REPEAT_UNDER or len(runs) >= MAX_RUNS:
                break
        seconds = statistics.median(r[0] for r in runs)
        compiled = statistics.median(r[1] for r in runs)
        self.phases.append({"phase": name, "seconds": round(seconds, 4),
                            "compile_seconds": round(compiled, 4), "runs": len(runs),
                            "peak_rss_mb": round(peak / 2**20, 1), "metric": metric, "impl": impl})
        if metric is not None:
            self.results[f"{metric}:{impl}"] = (frame(out) if frame else out).to_dict("records")
        if self.verbose:
            print(f"  {name}: {seconds:.2f} s (median of {len(runs)}, {compiled:.2f} s compiling), "
                  f"peak {peak / 2**20:.0f} MB", file=sys.stderr, flush=True)
        self.save()
        return out


def open_like_a_run(data: Path, store: Path):
    """What `growthloop run` does once per run: load, check and clean the dataset and build the
    user wide table into a DuckDB store file (growthloop.staging.store), then attach it as a chapter does."""
    from growthloop.staging.store import open_store, prepare_store

    prepare_store(data, store)
    ds = open_store(store, data)
    if ds is None:
        raise RuntimeError(f"the store {store} does not fit {data}")
    # the SQL floor queries name the clean tables gl_<table>: find them in the attached store
    ds.con.raw_sql("SET search_path = 'gl_store.main,memory.main'")
    return ds


def _remove_store(store: Path) -> None:
    for path in (store, store.with_name(store.name + ".json"), store.with_name(store.name + ".wal")):
        path.unlink(missing_ok=True)  # row-level data, and gigabytes at 10M users


def warm_up(name: str) -> None:
    """Every stage's calls once on the bundled demo dataset, unmeasured: the process then
    measures the computations, not the imports and first-use set-up a kernel pays once."""
    stages = [s for s in STAGES if s != "load"] if name == ALL else [name]
    quiet = Recorder(verbose=False)  # no `ds`: one run per call, nothing written or printed
    with tempfile.TemporaryDirectory(prefix="gl-warmup-") as tmp:
        store = Path(tmp) / "store.duckdb"
        ds = open_like_a_run(DEMO, store)
        for stage in stages:
            if stage != "load":
                STAGE_BODIES[stage](ds, quiet)
        ds.con.disconnect()
        _remove_store(store)
    quiet.sampler.stop()


def run_stage(name: str, data: Path, rec: Recorder) -> dict:
    """One stage after its own load, or "all": every stage after one load (as a run does)."""
    store = Path(rec.out).with_suffix(".duckdb") if rec.out else Path("bench-store.duckdb")
    try:
        return _run_stages(name, data, rec, store)
    finally:
        _remove_store(store)


def _run_stages(name: str, data: Path, rec: Recorder, store: Path) -> dict:
    rec("warmup", lambda: warm_up(name))
    ds = rec("load", lambda: open_like_a_run(data, store))
    rec.ds = ds
    info = {"rows": {t: int(n) for t, n in ds.quality.used.items()},
            "analysis_date": str(ds.analysis_date)}
    if name == "load":
        return info
    # the slowest stage (attribution) last: a run stopped by its timeout still has the others
    names = ("profiling", "funnel", "rfm", "retention", "campaign_review", "attribution") \
        if name == ALL else (name,)
    failed = {}
    for stage in names:
        try:
            STAGE_BODIES[stage](ds, rec)
        except Exception as exc:  # noqa: BLE001 - one stage's failure must not hide the others
            if name != "all":
                raise
            failed[stage] = f"{type(exc).__name__}: {exc}"[:500]
            print(f"  {stage} failed: {failed[stage]}", file=sys.stderr, flush=True)
    if failed:
        info["failed_stages"] = failed
    return info


def _profiling(ds, rec: Recorder) -> None:
    from growthloop.marts.wide import user_wide
    from growthloop.metrics import profiling

    wide = user_wide(ds)
    dims = ("age_band", "gender", "region", "city_tier", "device_os")
    rec("profiling.composition", lambda: [profiling.composition(wide, d) for d in dims])
    rec("profiling.layers", lambda: profiling.layers(wide))
    rec("profiling.lorenz_curve", lambda: profiling.lorenz_curve(wide))
    rec("profiling.headline", lambda: profiling.headline(wide))


def _funnel(ds, rec: Recorder) -> None:
    from growthloop.metrics import funnel

    rec("funnel.funnel", lambda: metrics.library("funnel", ds), metric="funnel")
    rec("sql.funnel", lambda: metrics.sql("funnel", ds.con, ds.analysis_date),
        metric="funnel", impl="sql")
    rec("funnel.cohort_conversion", lambda: funnel.cohort_conversion(ds))


def _attribution(ds, rec: Recorder) -> None:
    from growthloop.metrics import attribution

    paths = rec("attribution.attribution_paths", lambda: attribution.attribution_paths(ds),
                metric="paths", frame=metrics.paths_frame)
    rec("sql.paths", lambda: metrics.sql("paths", ds.con, ds.analysis_date, ds.config.channels),
        metric="paths", impl="sql")
    rec("attribution.attribute", lambda: attribution.attribute(paths))
    rec("attribution.channel_monitor", lambda: attribution.channel_monitor(ds))


def _rfm(ds, rec: Recorder) -> None:
    from growthloop.metrics import rfm

    rec("rfm.segments", lambda: metrics.library("rfm", ds), metric="rfm")
    rec("sql.rfm", lambda: metrics.sql("rfm", ds.con, ds.analysis_date), metric="rfm", impl="sql")
    seg = rfm.segments(ds)
    rec("rfm.segment_table", lambda: (rfm.segment_table(seg), rfm.group_table(seg)))


def _retention(ds, rec: Recorder) -> None:
    from growthloop.metrics import retention

    rec("retention.cohort_retention", lambda: metrics.library("cohort", ds), metric="cohort")
    rec("sql.cohort", lambda: metrics.sql("cohort", ds.con, ds.analysis_date),
        metric="cohort", impl="sql")
    rec("retention.nth_investment", lambda: retention.nth_investment(ds, max_n=5))
    rec("retention.lifecycle", lambda: retention.lifecycle(ds))


def _campaign_review(ds, rec: Recorder) -> None:
    from growthloop.metrics import campaign_review as cr

    camp = rec("campaign_review.campaign", lambda: cr.campaign(ds))
    rec("campaign_review.campaign_funnel", lambda: cr.campaign_funnel(ds, camp))
    rec("campaign_review.effect", lambda: cr.effect(ds, camp))
    rec("campaign_review.segment_uplift", lambda: cr.segment_uplift(ds, camp, "age_band"))


STAGE_BODIES = {"profiling": _profiling, "funnel": _funnel, "attribution": _attribution,
                "rfm": _rfm, "retention": _retention, "campaign_review": _campaign_review}


def run_pandas(metric: str, data: Path, rec: Recorder, limit_gib: float) -> dict:
    from growthloop.staging.config import load_config

    # cap the address space: a pandas attempt that does not fit fails with MemoryError
    # instead of pushing the machine into swap (there is none here: the OOM killer would come)
    cap = int(limit_gib * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    cfg = load_config(data)
    import datetime as dt

    import pyarrow.parquet as pq

    day = cfg.analysis_date
    if day is None:
        last = pq.read_table(data / "events.parquet", columns=["event_time"]).column(0)
        import pyarrow.compute as pc

        day = pc.max(last).as_py().date()
    assert isinstance(day, dt.date)
    rec(f"pandas.{metric}", lambda: metrics.pandas_metric(metric, data, day, cfg.channels),
        metric=metric, impl="pandas")
    return {"limit_gib": limit_gib}


def main(argv: list[str]) -> int:
    kind, name, data, out = argv[0], argv[1], Path(argv[2]), Path(argv[3])
    limit = float(argv[4]) if len(argv) > 4 else 8.0
    rec = Recorder(out, {"kind": kind, "name": name})
    status, error = "ok", None
    info: dict = {}
    try:
        if kind == "stage":
            info = run_stage(name, data, rec)
        elif kind == "pandas":
            info = run_pandas(name, data, rec, limit)
        else:
            raise ValueError(kind)
    except MemoryError:
        status, error = "out of memory", traceback.format_exc(limit=3)
    except Exception as exc:  # noqa: BLE001 - recorded, the harness goes on with the next one
        status, error = "error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"
        if "memory" in str(exc).lower() or "bad_alloc" in str(exc):
            status = "out of memory"
    rec.sampler.stop()
    rec.save(status, error, info)
    return 0 if status == "ok" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

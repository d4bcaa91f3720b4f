"""GrowthLoop at scale: generate demo datasets, time every stage, compare with pandas and SQL.

    .venv/bin/python benchmarks/run.py --sizes 10000 100000 1000000 10000000

For each size (registered users) it
1. generates the dataset with the demo generator into benchmarks/data/users_<N>/ (kept and
   reused on later runs; --regenerate makes it again), measuring time and peak memory;
2. runs the stages in a process (benchmarks/task.py): load, the wide table, then each stage's
   library calls, and for four metrics (funnel, cohort matrix, RFM, paths) the single
   hand-written DuckDB SQL query on the same loaded tables; by default all stages share one
   process and one load (loading 10M users takes long), --stages NAME ... gives each its own;
3. runs the plain-pandas version of the four metrics, each in a process whose address space is
   capped (--pandas-limit-gib) so that a version that does not fit fails instead of swapping;
4. runs the whole book (`growthloop run` on a campaign file pointing at the dataset);
5. at the sizes up to --check-max, asserts that library, SQL and pandas give the same numbers;
6. writes benchmarks/results/measurements.csv (one row per size x process x phase, with the
   1-minute load average when it started) and regenerates docs/benchmarks.md and its plot.

Raw per-process JSON goes to benchmarks/results/raw/ (not committed). Nothing here is part of
`make test`. Measurements of a size replace that size's earlier rows, so sizes can be run on
different days; the page says when each was taken.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT / "src"), str(HERE)]

import metrics  # noqa: E402
from report import cpu_model  # noqa: E402
from task import ALL, STAGES  # noqa: E402

DATA = HERE / "data"
RESULTS = HERE / "results"
RAW = RESULTS / "raw"
MEASUREMENTS = RESULTS / "measurements.csv"
DATASETS = RESULTS / "datasets.csv"
AGREEMENT = RESULTS / "agreement.csv"
PY = sys.executable
CPU = cpu_model()  # kept with every row: sizes measured on different machines do not compare
FIELDS = ["size", "process", "phase", "impl", "metric", "seconds", "compile_seconds", "runs",
          "phase_peak_rss_mb", "process_peak_rss_mb", "tree_peak_rss_mb", "load1", "status",
          "taken_at", "cpu", "note"]


def env() -> dict[str, str]:
    """Subprocess environment: this checkout's src first (the venv's editable install may
    point at another worktree), one BLAS thread (the engine does the parallel work)."""
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), e.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    e.setdefault("MPLBACKEND", "Agg")
    return e


#: the runner's log lines that start a phase: the load, each chapter, the book build
STEP_LINE = re.compile(r" (start|done|failed) (\S+)")


def running_steps(run_log: str) -> set[str]:
    """The steps a run is in, from its logs/run.log so far (chapters run side by side: several
    may be running at once): the load, chapter stems, or the book."""
    running: set[str] = set()
    for line in run_log.splitlines():
        m = STEP_LINE.search(line)
        if m:
            (running.add if m.group(1) == "start" else running.discard)(m.group(2))
    return running


def newest_run_log(campaign_dir: Path) -> Path | None:
    """The run log of the run in progress (its hidden folder) under a campaign's runs."""
    logs = sorted(campaign_dir.glob(".*/logs/run.log"), key=lambda f: f.stat().st_mtime)
    return logs[-1] if logs else None


class TreeSampler:
    """Peak summed RSS of a process and all its descendants (a run's notebook kernels); with
    `runs`, a campaign's runs folder, also the peak while each step of the run in progress ran
    (`running_steps`: two chapters side by side both see the pair's total)."""

    def __init__(self, pid: int, interval: float = 0.1, runs: Path | None = None):
        self.pid, self.interval, self.peak, self._stop = pid, interval, 0, False
        self.runs, self.phase_peaks = runs, {}
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        while not self._stop:
            try:
                p = psutil.Process(self.pid)
                total = p.memory_info().rss
                for c in p.children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        total += c.memory_info().rss
                self.peak = max(self.peak, total)
                log = newest_run_log(self.runs) if self.runs is not None else None
                if log is not None:
                    for step in running_steps(log.read_text(errors="replace")):
                        self.phase_peaks[step] = max(self.phase_peaks.get(step, 0), total)
            except psutil.Error:
                pass
            time.sleep(self.interval)

    def stop(self) -> int:
        self._stop = True
        self._t.join(timeout=2)
        return self.peak


def measure(cmd: list[str], log: Path, timeout: float, runs: Path | None = None) -> dict:
    """Run a command; wall time, its largest single-process peak RSS (wait4) and the peak of
    the whole process tree (sampled), plus the load average when it started; with `runs` (the
    campaign's runs folder of a `growthloop run`), the tree's peak while each step ran (MiB,
    `phase_peaks_mb`)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    load1 = os.getloadavg()[0]
    t0 = time.perf_counter()
    with log.open("w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env(), cwd=ROOT)
        sampler = TreeSampler(proc.pid, runs=runs)
        deadline = time.monotonic() + timeout
        status = None
        while True:
            pid, code, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                for c in psutil.Process(proc.pid).children(recursive=True):
                    c.kill()
                proc.kill()
                pid, code, usage = os.wait4(proc.pid, 0)
                status = f"timeout after {timeout:.0f} s"
                break
            time.sleep(0.2)
        proc.returncode = os.waitstatus_to_exitcode(code)
    seconds = time.perf_counter() - t0
    tree = sampler.stop()
    return {"seconds": round(seconds, 3), "process_peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "tree_peak_rss_mb": round(tree / 2**20, 1), "load1": round(load1, 2),
            "returncode": proc.returncode, "status": status,
            "phase_peaks_mb": {k: round(v / 2**20, 1) for k, v in sampler.phase_peaks.items()}}


def dataset_dir(size: int) -> Path:
    return DATA / f"users_{size}"


def generate(size: int, chunk: int, regenerate: bool, timeout: float) -> list[dict]:
    """Generate (or reuse) a dataset; returns its measurement rows."""
    folder = dataset_dir(size)
    marker = folder / "generated.json"
    if marker.exists() and not regenerate:
        print(f"[{size:,}] reusing {folder}")
        return []
    print(f"[{size:,}] generating {folder} ...", flush=True)
    code = ("import sys; from growthloop.demo import generate_dataset; "
            f"generate_dataset(sys.argv[1], n_users={size}, seed=7, chunk_users={chunk})")
    m = measure([PY, "-c", code, str(folder)], RAW / str(size) / "generate.log", timeout)
    ok = m["returncode"] == 0 and m["status"] is None
    if ok:
        marker.write_text(json.dumps({"size": size, "chunk_users": chunk, "seed": 7, **m}))
    print(f"[{size:,}] generator: {m['seconds']:.0f} s, peak {m['process_peak_rss_mb']:.0f} MB", flush=True)
    return [row(size, "generate", "generate", m, status="ok" if ok else (m["status"] or "error"),
                note=f"chunk_users={chunk}")]


def table_rows(size: int) -> dict[str, int]:
    import pyarrow.parquet as pq

    folder = dataset_dir(size)
    out = {}
    for name in ("users", "events", "transactions", "costs", "campaigns", "campaign_members"):
        path = folder / f"{name}.parquet"
        if path.exists():
            out[name] = pq.ParquetFile(path).metadata.num_rows
    out["parquet_mb"] = round(sum(p.stat().st_size for p in folder.glob("*.parquet")) / 2**20, 1)
    return out


def row(size: int, process: str, phase: str, m: dict, impl: str = "library", metric: str = "",
        seconds: float | None = None, phase_peak: float | None = None, status: str = "ok",
        note: str = "", compile_seconds: float | None = None, runs: int | None = None) -> dict:
    return {"size": size, "process": process, "phase": phase, "impl": impl, "metric": metric or "",
            "seconds": m["seconds"] if seconds is None else seconds,
            "compile_seconds": "" if compile_seconds is None else compile_seconds,
            "runs": "" if runs is None else runs, "cpu": CPU,
            "phase_peak_rss_mb": "" if phase_peak is None else phase_peak,
            "process_peak_rss_mb": m["process_peak_rss_mb"], "tree_peak_rss_mb": m["tree_peak_rss_mb"],
            "load1": m["load1"], "status": status,
            "taken_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), "note": note}


def run_task(size: int, kind: str, name: str, timeout: float, limit_gib: float) -> tuple[list[dict], dict]:
    out = RAW / str(size) / f"{kind}_{name}.json"
    out.unlink(missing_ok=True)
    cmd = [PY, str(HERE / "task.py"), kind, name, str(dataset_dir(size)), str(out), str(limit_gib)]
    print(f"[{size:,}] {kind} {name} ...", flush=True)
    m = measure(cmd, RAW / str(size) / f"{kind}_{name}.log", timeout)
    data = json.loads(out.read_text()) if out.exists() else {
        "status": m["status"] or f"crashed (exit {m['returncode']})", "phases": [], "results": {},
        "error": (RAW / str(size) / f"{kind}_{name}.log").read_text()[-2000:]}
    if data["status"] == "running":  # stopped from outside (timeout) after some phases
        data["status"] = m["status"] or f"stopped (exit {m['returncode']})"
    if data["status"] != "ok":
        print(f"[{size:,}]   {data['status']}: {str(data.get('error'))[:300]}", flush=True)
    rows = [row(size, f"{kind}:{name}", "(process)", m, impl=kind if kind == "pandas" else "library",
                status=data["status"], note=(data.get("error") or "").splitlines()[0][:200]
                if data.get("error") else "")]
    for p in data["phases"]:
        rows.append(row(size, f"{kind}:{name}", p["phase"], m, impl=p["impl"], metric=p["metric"],
                        seconds=p["seconds"], phase_peak=p["peak_rss_mb"],
                        compile_seconds=p.get("compile_seconds"), runs=p.get("runs")))
    print(f"[{size:,}]   {m['seconds']:.1f} s, peak {m['process_peak_rss_mb']:.0f} MB "
          f"(load {m['load1']})", flush=True)
    return rows, data


#: The local Spark of `--book-engine pyspark`: the two cores, a driver heap that holds the
#: loader's cached tables at 1M users, and fewer shuffle partitions than Spark's 200 for them.
SPARK_SETTINGS = {"spark.master": "local[2]", "spark.driver.memory": "8g",
                  "spark.sql.shuffle.partitions": "16", "spark.ui.enabled": "false"}


def spark_dataset(size: int) -> Path:
    """The size's dataset read by a local Spark: its files linked, dataset.yml naming the engine."""
    import yaml

    source = dataset_dir(size)
    folder = DATA / f"users_{size}_pyspark"
    folder.mkdir(exist_ok=True)
    for path in source.glob("*.parquet"):
        link = folder / path.name
        if not link.exists():
            link.symlink_to(path)
    config = yaml.safe_load((source / "dataset.yml").read_text(encoding="utf-8")) or {}
    config["engine"] = {"backend": "pyspark", "spark": SPARK_SETTINGS}
    (folder / "dataset.yml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return folder


def run_book(size: int, timeout: float, engine: str = "duckdb") -> list[dict]:
    folder = dataset_dir(size) if engine == "duckdb" else spark_dataset(size)
    name = f"bench_{size}" if engine == "duckdb" else f"bench_{size}_{engine}"
    process = "book" if engine == "duckdb" else f"book:{engine}"
    campaign = DATA / f"campaign_{name.removeprefix('bench_')}.yml"
    log = RAW / str(size) / ("book.log" if engine == "duckdb" else f"book_{engine}.log")
    demo = (ROOT / "campaigns" / "demo.yml").read_text(encoding="utf-8")
    params = demo[demo.index("parameters:"):] if "parameters:" in demo else ""
    campaign.write_text(f"name: {name}\ndata: {folder.name}\n{params}", encoding="utf-8")
    print(f"[{size:,}] whole book on {engine} (growthloop run) ...", flush=True)
    cmd = [str(Path(PY).parent / "growthloop"), "run", str(campaign), "--runs-dir", str(DATA / "runs")]
    started = time.time()
    m = measure(cmd, log, timeout, runs=DATA / "runs" / name)
    status = "ok" if m["returncode"] == 0 and m["status"] is None else (m["status"] or "error")
    note = ""
    if status != "ok":
        tail = log.read_text(errors="replace").strip().splitlines()
        note = " ".join(tail[-3:])[:300]
    print(f"[{size:,}]   book on {engine}: {status}, {m['seconds']:.0f} s, tree peak {m['tree_peak_rss_mb']:.0f} MB", flush=True)
    rows = [row(size, process, "growthloop run", m, status=status, note=note)]
    # the runner keeps each step's seconds in the run folder (logs/timings.json: the load, each
    # chapter, the book build): one row each, with the peak of the process tree while that
    # step ran (with the chapter beside it, when two ran at once)
    runs = sorted((DATA / "runs" / name).glob("*/logs/timings.json"),
                  key=lambda f: f.stat().st_mtime)
    if runs and runs[-1].stat().st_mtime >= started:
        for step, seconds in json.loads(runs[-1].read_text(encoding="utf-8")).items():
            r = row(size, process, f"book.{step}", m, seconds=float(seconds))
            r["tree_peak_rss_mb"] = m["phase_peaks_mb"].get(step, "")
            rows.append(r)
    return rows


def check_agreement(size: int, results: dict[str, dict]) -> list[dict]:
    """Library vs SQL vs pandas on each metric; rows for agreement.csv."""
    import pandas as pd

    rows = []
    for metric in metrics.METRICS:
        lib = results.get(f"{metric}:library")
        if lib is None:
            continue
        for impl in ("sql", "pandas"):
            other = results.get(f"{metric}:{impl}")
            if other is None:
                rows.append({"size": size, "metric": metric, "against": impl, "agree": "",
                             "detail": "not measured"})
                continue
            diff = metrics.differences(metric, pd.DataFrame(lib), pd.DataFrame(other))
            rows.append({"size": size, "metric": metric, "against": impl, "agree": not diff,
                         "detail": diff or f"{len(lib)} rows equal"})
    return rows


def merge_csv(path: Path, new: list[dict], fields: list[str], key: tuple[str, ...] = ("size",)) -> None:
    """Replace the old rows that have the key of a new row (size, or size and process)."""
    old = _read(path)
    done = {tuple(str(r[k]) for k in key) for r in new}
    keep = [r for r in old if tuple(str(r.get(k, "")) for k in key) not in done]
    rows = keep + new
    rows.sort(key=lambda r: (int(r["size"]), str(r.get("process", ""))))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000, 10_000_000])
    ap.add_argument("--stages", nargs="*", default=[ALL], choices=[ALL, *STAGES],
                    help="'all' (default): every stage in one process after one load; or stage "
                         "names, each in its own process with its own load (none: --stages "
                         "with no names, to run only the book)")
    ap.add_argument("--pandas", nargs="*", default=list(metrics.METRICS), choices=metrics.METRICS,
                    help="metrics to run in pandas (none: --pandas with no names)")
    ap.add_argument("--pandas-limit-gib", type=float, default=8.0,
                    help="address-space cap of each pandas process")
    ap.add_argument("--book-sizes", type=int, nargs="*", default=None,
                    help="sizes at which to run the whole book (default: every size)")
    ap.add_argument("--book-engine", choices=["duckdb", "pyspark"], default="duckdb",
                    help="the engine of the whole book (pyspark: a local Spark, SPARK_SETTINGS)")
    ap.add_argument("--chunk-users", type=int, default=100_000)
    ap.add_argument("--regenerate", action="store_true")
    ap.add_argument("--check-max", type=int, default=100_000,
                    help="assert agreement of library, SQL and pandas up to this size")
    ap.add_argument("--timeout", type=float, default=4 * 3600, help="seconds per process")
    ap.add_argument("--no-report", action="store_true")
    args = ap.parse_args()
    book_sizes = set(args.sizes if args.book_sizes is None else args.book_sizes)

    failures = []
    for size in sorted(args.sizes):
        rows: list[dict] = []
        agree: list[dict] = []
        rows += generate(size, args.chunk_users, args.regenerate, args.timeout)
        results: dict[str, dict] = {}
        if rows:
            merge_csv(MEASUREMENTS, rows, FIELDS, ("size", "process"))
        for stage in args.stages:
            r, data = run_task(size, "stage", stage, args.timeout, args.pandas_limit_gib)
            rows += r
            merge_csv(MEASUREMENTS, r, FIELDS, ("size", "process"))  # as soon as measured
            results.update(data.get("results", {}))
        oom_before = {r["process"].split(":", 1)[1] for r in _read(MEASUREMENTS)
                      if r["process"].startswith("pandas:") and r["phase"] == "(process)"
                      and r["status"] == "out of memory" and int(r["size"]) < size}
        for metric in args.pandas:
            if metric in oom_before:
                print(f"[{size:,}] pandas {metric}: skipped, out of memory at a smaller size")
                continue
            r, data = run_task(size, "pandas", metric, args.timeout, args.pandas_limit_gib)
            rows += r
            merge_csv(MEASUREMENTS, r, FIELDS, ("size", "process"))  # as soon as measured
            results.update(data.get("results", {}))
        if size in book_sizes:
            r = run_book(size, args.timeout, args.book_engine)
            rows += r
            merge_csv(MEASUREMENTS, r, FIELDS, ("size", "process"))
        info = {"size": size, **table_rows(size)}
        marker = dataset_dir(size) / "generated.json"
        if marker.exists():
            g = json.loads(marker.read_text())
            info.update(generator_seconds=g["seconds"], generator_peak_rss_mb=g["process_peak_rss_mb"],
                        generator_load1=g["load1"], chunk_users=g["chunk_users"])
        merge_csv(DATASETS, [info], list(info))
        if size <= args.check_max:
            agree = check_agreement(size, results)
            merge_csv(AGREEMENT, agree, ["size", "metric", "against", "agree", "detail"])
            failures += [a for a in agree if a["agree"] is False]
    if not args.no_report:
        subprocess.run([PY, str(HERE / "report.py")], check=False, env=env())
    if failures:
        for f in failures:
            print(f"DISAGREE at {f['size']:,}: {f['metric']} library vs {f['against']}: {f['detail']}")
        return 1
    return 0


def _read(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


if __name__ == "__main__":
    sys.exit(main())

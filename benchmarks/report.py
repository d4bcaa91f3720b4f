"""Write docs/benchmarks.md and docs/benchmarks_time.png from benchmarks/results/*.csv.

    .venv/bin/python benchmarks/report.py

Every figure on the page comes from the CSVs; the hand-written reading of them (causes,
suggested changes) is benchmarks/results/notes.md, newest round first: the page includes the
newest round and names the file for the others (every campaign's book carries this page, and
nineteen rounds of notes made it 111 KB, 1.7 s of each book's build).
"""

from __future__ import annotations

import math
import os
import platform
import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))

RESULTS = HERE / "results"
DOC = ROOT / "docs" / "benchmarks.md"
PLOT = ROOT / "docs" / "benchmarks_time.png"
GIB = 1024.0
TARGET_MB = 8 * 1024
#: issue 22's targets: the whole book's time per size and its peak, and each floor's ratio
BOOK_TARGET_S = {1_000_000: 90.0, 10_000_000: 12 * 60.0}
BOOK_PEAK_TARGET_MB = 6 * 1024
#: floors.csv phases: (library phases summed, floor phase, the floor's impl, ratio target)
FLOOR_ROWS = {
    "load + identity stitch": (("load", "identity mart"), "read + stitch", "floor", 2.0),
    "7-step default funnel": (("funnel 7 steps",), "funnel 7 steps", "floor", 1.2),
    "funnel of own events with property filters (4 steps)": (("funnel own events",), "funnel own events", "floor", 1.5),
    "funnel of roles (4 steps)": (("funnel roles",), "funnel roles", "floor", 1.5),
}
#: the same funnels against the floor's query run on the library's own tables (no target: the
#: issue's targets are set against the floor above; floors.py's docstring says why both)
FLOOR_ROWS |= {f"{label}, floor on the store's tables": (lib, floor, "floor on store", None)
               for label, (lib, floor, _impl, _t) in FLOOR_ROWS.items() if floor.startswith("funnel")}
STAGE_RATIO_TARGET = 1.5
#: the ratio targets are set at 1M and 10M users
TARGET_MIN_SIZE = 1_000_000
METRIC_LABEL = {"funnel": "funnel step counts", "cohort": "cohort matrix",
                "rfm": "RFM scores and segments", "paths": "attribution path counts"}
#: the exponent is fitted over the sizes the scale targets name (100k, 1M, 10M): at 10k a call's
#: fixed cost dominates, which says nothing about growth
EXPONENT_MIN_SIZE = 100_000
STAGE_ORDER = ["load", "wide", "profiling", "funnel", "attribution", "rfm", "retention",
               "campaign_review"]


def _read(name: str) -> pd.DataFrame:
    path = RESULTS / name
    return pd.read_csv(path) if path.exists() else pd.DataFrame()


def exponent(sizes, seconds) -> float:
    """Least-squares slope of log(time) on log(size): time ~ size ** exponent."""
    pts = [(s, t) for s, t in zip(sizes, seconds, strict=True) if t and t > 0 and not math.isnan(t)]
    if len({s for s, _ in pts}) < 2:
        return float("nan")
    x = np.log([s for s, _ in pts])
    y = np.log([t for _, t in pts])
    return float(np.polyfit(x, y, 1)[0])


def fmt_s(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:,.2f}" if v < 10 else f"{v:,.0f}" if v >= 100 else f"{v:,.1f}"


def fmt_mb(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v == "":
        return "–"
    v = float(v)
    return f"{v / GIB:.2f} GiB" if v >= 1024 else f"{v:,.0f} MiB"


def size_label(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1000}k"


def cpu_model() -> str:
    """This machine's processor, as /proc/cpuinfo names it (kept with every measurement)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def machine() -> str:
    import duckdb
    import ibis

    cpu = cpu_model()
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{os.cpu_count()} cores ({cpu}), {ram:.0f} GiB RAM, no swap, {platform.system()} "
            f"{platform.release().split('-')[0]}; Python {platform.python_version()}, DuckDB "
            f"{duckdb.__version__}, Ibis {ibis.__version__}, pandas {pd.__version__}")


def _stage_of(phase: str) -> str:
    return phase.split(".", 1)[0]


def library_phases(m: pd.DataFrame) -> pd.DataFrame:
    """Library phases of the stage processes, one row per (size, phase) (the first process
    that measured it: a stage's own process, else the all-stages one)."""
    lib = m[(m.phase != "(process)") & (m.impl == "library") & m.process.str.startswith("stage:")]
    lib = lib.assign(stage=lib.phase.map(_stage_of))
    return lib.drop_duplicates(["size", "phase"])


def stage_table(m: pd.DataFrame) -> str:
    """Per library call x size: seconds and the peak RSS of its process during the call."""
    lib = library_phases(m)
    sizes = sorted(m["size"].unique())
    order = {s: i for i, s in enumerate(STAGE_ORDER)}
    phases = sorted(lib.phase.unique(), key=lambda p: (order.get(_stage_of(p), 99), p))
    head = "| library call | " + " | ".join(f"{size_label(s)} users" for s in sizes) + " | exponent |\n"
    head += "|---|" + "---|" * len(sizes) + "---|\n"
    body = ""
    for phase in phases:
        cells, secs = [], []
        for s in sizes:
            v = lib[(lib.phase == phase) & (lib["size"] == s)]
            t = float(v.seconds.iloc[0]) if len(v) else float("nan")
            secs.append(t)
            cells.append(f"{fmt_s(t)} s · {fmt_mb(v.phase_peak_rss_mb.iloc[0])}" if len(v) else "–")
        fit = [(s, t) for s, t in zip(sizes, secs, strict=True) if s >= EXPONENT_MIN_SIZE]
        e = exponent([s for s, _ in fit], [t for _, t in fit]) if phase != "warmup" else float("nan")
        body += f"| `{phase}` | " + " | ".join(cells) + f" | {'–' if math.isnan(e) else f'{e:.2f}'} |\n"
    return head + body


def process_table(m: pd.DataFrame) -> str:
    proc = m[(m.phase == "(process)") & m.process.str.startswith("stage:")]
    sizes = sorted(m["size"].unique())
    out = "| process | " + " | ".join(f"{size_label(s)}" for s in sizes) + " |\n"
    out += "|---|" + "---|" * len(sizes) + "\n"
    for name in sorted(proc.process.unique()):
        cells = []
        for s in sizes:
            p = proc[(proc.process == name) & (proc["size"] == s)]
            if not len(p):
                cells.append("–")
                continue
            p = p.iloc[0]
            note = f": {p.note}" if isinstance(p.note, str) and p.note else ""
            st = "" if p.status == "ok" else f" **{p.status}**{note}"
            cells.append(f"{fmt_s(p.seconds)} s · {fmt_mb(p.process_peak_rss_mb)} · load {p.load1:.1f}{st}")
        out += f"| {name.split(':', 1)[1]} | " + " | ".join(cells) + " |\n"
    return out


def _num(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def metric_table(m: pd.DataFrame) -> tuple[str, list[dict]]:
    sizes = sorted(m["size"].unique())
    rows, verdicts = [], []
    for metric, label in METRIC_LABEL.items():
        for s in sizes:
            def get(impl, metric=metric, s=s):
                v = m[(m.metric == metric) & (m.impl == impl) & (m["size"] == s) & (m.phase != "(process)")]
                if not len(v):
                    return {"seconds": float("nan"), "compile": float("nan"), "runs": float("nan")}
                v = v.iloc[0]
                return {"seconds": float(v.seconds), "compile": _num(v.get("compile_seconds")),
                        "runs": _num(v.get("runs"))}
            lib, sql, pdv = get("library"), get("sql"), get("pandas")
            pproc = m[(m.process == f"pandas:{metric}") & (m["size"] == s) & (m.phase == "(process)")]
            pstatus = pproc.status.iloc[0] if len(pproc) else "not run"
            if math.isnan(lib["seconds"]) and math.isnan(sql["seconds"]) and pstatus == "not run":
                continue
            ratio = lib["seconds"] / sql["seconds"] if sql["seconds"] else float("nan")
            # the same ratio without the time spent compiling Ibis expressions to SQL text
            net_ratio = (lib["seconds"] - lib["compile"]) / sql["seconds"] if sql["seconds"] else float("nan")
            pratio = pdv["seconds"] / lib["seconds"] if lib["seconds"] else float("nan")
            pcell = (f"{fmt_s(pdv['seconds'])} s · {fmt_mb(pproc.process_peak_rss_mb.iloc[0])}"
                     if pstatus == "ok" else f"**{pstatus}**")
            runs = "" if math.isnan(lib["runs"]) or lib["runs"] <= 1 else f" ({int(lib['runs'])} runs)"
            rows.append(f"| {label} | {size_label(s)} | {fmt_s(lib['seconds'])} s{runs} | "
                        f"{fmt_s(lib['compile'])} s | {fmt_s(sql['seconds'])} s | "
                        f"{'–' if math.isnan(ratio) else f'{ratio:.1f}×'} | "
                        f"{'–' if math.isnan(net_ratio) else f'{net_ratio:.1f}×'} | {pcell} | "
                        f"{'–' if math.isnan(pratio) else f'{pratio:.1f}×'} |")
            if not math.isnan(ratio):
                verdicts.append({"metric": label, "size": s, "ratio": ratio, "net_ratio": net_ratio})
    head = ("| metric | users | library | of which compiling | SQL floor | library / SQL "
            "| library without compiling / SQL | pandas (time · process peak) | pandas / library |\n"
            "|---|---|---|---|---|---|---|---|---|\n")
    return head + "\n".join(rows) + "\n", verdicts


def floor_verdicts(f: pd.DataFrame) -> list[dict]:
    """Per size and floors.csv comparison: library and floor seconds, ratio and target."""
    out = []
    for size in sorted(f["size"].unique()):
        at = f[f["size"] == size]
        for label, (lib_phases, floor_phase, impl, target) in FLOOR_ROWS.items():
            lib = at[(at.impl == "library") & at.phase.isin(lib_phases)]
            flo = at[(at.impl == impl) & (at.phase == floor_phase)]
            if len(lib) != len(lib_phases) or flo.empty:
                continue
            lib_s, floor_s = float(lib.seconds.sum()), float(flo.seconds.iloc[0])
            out.append({"size": size, "label": label, "parts": " + ".join(f"{v:.1f} s" for v in lib.seconds),
                        "library": lib_s, "floor": floor_s, "ratio": lib_s / floor_s, "target": target,
                        "utc": f"{at.utc.min()} – {at.utc.max()[-5:]}",
                        # rows written before floors.py kept the processor have none
                        "cpu": ", ".join(sorted(at.cpu.dropna().unique())) if "cpu" in at else ""})
    return out


def spark_book_section(m: pd.DataFrame) -> list[str]:
    """The whole book on a local Spark (`run.py --book-engine pyspark`) beside DuckDB's, step by
    step, at the sizes where it was run."""
    spark = m[m.process == "book:pyspark"]
    if spark.empty:
        return []
    lines = ["", "### 本地 Spark 上的整本书 (the whole book on local Spark)", "",
             "The same campaign on the same files with `engine.backend: pyspark` (`run.py "
             "--book-engine pyspark`: `local[2]`, an 8 GB driver, 16 shuffle partitions): the "
             "runner loads once in a child process into Parquet files, then each chapter's kernel "
             "starts its own Spark session on them, one chapter at a time (Spark's default "
             "`--jobs`). Wall time · peak of the process tree (runner, kernels and their JVMs), "
             "with DuckDB's run of the same size beside it.", ""]
    for size in sorted(spark["size"].unique()):
        here = spark[spark["size"] == size]
        duck = m[(m.process == "book") & (m["size"] == size)]
        whole = here[here.phase == "growthloop run"].iloc[-1]
        duck_whole = duck[duck.phase == "growthloop run"]
        when = f"{size_label(size)} users: local Spark {whole.taken_at}, {whole.status}"
        if len(duck_whole):
            duck_at = duck_whole.iloc[-1].taken_at
            when += f"; DuckDB {duck_at}"
            apart = abs(pd.Timestamp(str(duck_at).removesuffix(" UTC"))
                        - pd.Timestamp(str(whole.taken_at).removesuffix(" UTC")))
            if apart > pd.Timedelta(hours=1):
                when += (" (not side by side: DuckDB's book was measured again later, on a "
                         "newer library; the notes of the Spark run's round give DuckDB's "
                         "figure of that hour)")
        lines += [when + ":", "",
                  "| step | DuckDB | local Spark | Spark / DuckDB |", "|---|---|---|---|"]
        phases = ["growthloop run"] + sorted(p for p in here.phase.unique() if p.startswith("book."))
        for phase in sorted(phases, key=lambda p: (p != "book.load", p == "growthloop run", p)):
            cells, seconds = [], []
            for rows in (duck, here):
                v = rows[rows.phase == phase]
                if not len(v):
                    cells.append("–")
                    seconds.append(None)
                    continue
                r = v.iloc[-1]
                peak = r.tree_peak_rss_mb
                cells.append(f"{fmt_s(r.seconds)} s" + (f" · {fmt_mb(peak)}" if pd.notna(peak) and peak != "" else ""))
                seconds.append(float(r.seconds))
            ratio = f"{seconds[1] / seconds[0]:.1f}×" if None not in seconds and seconds[0] else "–"
            label = "whole run" if phase == "growthloop run" else phase.removeprefix("book.")
            lines.append(f"| {label} | {cells[0]} | {cells[1]} | {ratio} |")
        lines.append("")
    return lines


def floor_section(f: pd.DataFrame) -> list[str]:
    """The stitch-once floors (benchmarks/floors.py) as a table with ratios and targets."""
    verdicts = floor_verdicts(f)
    if not verdicts:
        return []
    lines = ["## 与只拼接一次的下限对比 (stitch-once floors)", "",
             "`benchmarks/floors.py`, one process per size list, each query run twice and the "
             "faster kept. *Floor*: plain DuckDB reads every Parquet file into a table and builds "
             "a person-level event table once (the same anonymous-to-user rule), with the "
             "library's memory limit and spill folder; each funnel is then one GROUP BY over it "
             "(a list of times per person and step, each step the first time at or after the "
             "previous one within 30 days of entry: `list_filter` and `list_min`). *Library*: "
             "the load a run makes once (`prepare_store`: every contract rule and the quality "
             "report, the clean tables written to the store file), plus the investments and "
             "identity marts written beside them, then `funnel.funnel` reading the attached "
             "store as a chapter's kernel does. The rows *floor on the store's tables* run the "
             "same GROUP BY in the library's own connection on the tables it reads (the store's "
             "identity mart and transactions: compressed in the file, every event column, in "
             "time order), where the floor's own table is in memory, five columns wide and "
             "clustered by device; they have no target of their own. Library and floor counts "
             "are equal for every funnel (the script stops when they are not).", "",
             "| users | comparison | library | floor | ratio | target | measured (UTC) | processor |",
             "|---|---|---|---|---|---|---|---|"]
    for v in verdicts:
        lib = v["parts"] + (f" = {v['library']:.1f} s" if "+" in v["parts"] else "")
        if v["target"] is None:
            target = "– (see above)"
        else:
            mark = ("met" if v["ratio"] <= v["target"] else "not met") if v["size"] >= TARGET_MIN_SIZE else "no target at this size"
            target = f"≤ {v['target']:g}× ({mark})"
        lines.append(f"| {size_label(v['size'])} | {v['label']} | {lib} | {v['floor']:.1f} s | "
                     f"{v['ratio']:.2f}× | {target} | {v['utc']} | {v['cpu'] or '–'} |")
    return lines + [""]


def plot(m: pd.DataFrame) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from growthloop.present import theme

    theme.apply()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.8))
    lib = library_phases(m)
    for stage in STAGE_ORDER:
        total = lib[lib.stage == stage].groupby("size").seconds.sum()
        if len(total):
            a1.plot(total.index, total.values, marker="o", label=stage)
    book = m[(m.process == "book") & (m.phase == "growthloop run") & (m.status == "ok")]
    if len(book):
        a1.plot(book["size"], book.seconds, marker="s", color="black", label="whole book")
    a1.set(xscale="log", yscale="log", xlabel="registered users", ylabel="seconds",
           title="每个阶段的库函数耗时 (stage time, library)")
    a1.legend(fontsize=8)
    styles = {"library": "-", "sql": "--", "pandas": ":"}
    colors = dict(zip(METRIC_LABEL, plt.rcParams["axes.prop_cycle"].by_key()["color"], strict=False))
    for metric in METRIC_LABEL:
        for impl, ls in styles.items():
            part = m[(m.metric == metric) & (m.impl == impl) & (m.phase != "(process)")]
            if len(part):
                a2.plot(part["size"], part.seconds, ls, marker="o", color=colors[metric],
                        label=f"{metric} · {impl}")
    a2.set(xscale="log", yscale="log", xlabel="registered users", ylabel="seconds",
           title="同一指标：库 vs SQL 下限 vs pandas")
    a2.legend(fontsize=7, ncols=2)
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    sizes = sorted(m["size"].unique())
    for ax in (a1, a2):  # plain tick labels (the theme's font has no mathtext)
        ax.xaxis.set_major_locator(FixedLocator(sizes))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: size_label(int(round(v)))))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    fig.tight_layout()
    fig.savefig(PLOT, dpi=110)
    plt.close(fig)


def main() -> None:
    m = _read("measurements.csv")
    d = _read("datasets.csv")
    agree = _read("agreement.csv")
    if m.empty:
        print("no measurements yet")
        return
    m["metric"] = m.metric.fillna("")
    sizes = sorted(m["size"].unique())
    stages_md = stage_table(m)
    metrics_md, verdicts = metric_table(m)
    plot(m)
    taken = m.groupby("size").taken_at.agg(["min", "max"])
    loads = m[m.phase == "(process)"].groupby("size").load1.agg(["min", "max"])

    lines = ["# 规模与性能 (benchmarks)", "",
             "How GrowthLoop's computations grow from 10 thousand to 10 million registered users on "
             "one machine, against the two things an analyst could use instead: plain pandas and a "
             "single hand-written DuckDB SQL query (the floor for the same engine). Reproduce with",
             "", "```bash", ".venv/bin/python benchmarks/run.py --sizes 10000 100000 1000000 10000000",
             "```", "",
             "(details and options in `benchmarks/README.md`; it is not part of `make test`).", "",
             f"**Machine.** {machine()}. Other work shared the two cores during some measurements: "
             "the 1-minute load average at the start of each process is in "
             "`benchmarks/results/measurements.csv` and in the tables below.", ""]
    cpus = (m.dropna(subset=["cpu"]).groupby("size").cpu.agg(lambda c: ", ".join(sorted(set(c))))
            if "cpu" in m else pd.Series(dtype=str))
    lines.append("| users | measured | load average at start (min–max) | processor |")
    lines.append("|---|---|---|---|")
    for s in sizes:
        lines.append(f"| {size_label(s)} | {taken.loc[s, 'min']} – {taken.loc[s, 'max'][-9:]} | "
                     f"{loads.loc[s, 'min']:.1f} – {loads.loc[s, 'max']:.1f} | "
                     f"{cpus.get(s, 'not recorded')} |")
    lines += ["", "## 数据规模 (the datasets)", "",
              "Generated by `growthloop demo-data` (seed 7, 100k users per chunk), one year of "
              "activity, with events and transactions in the demo's proportions.", ""]
    if not d.empty:
        cols = ["users", "events", "transactions", "campaign_members", "costs", "parquet_mb",
                "generator_seconds", "generator_peak_rss_mb"]
        lines.append("| users | events | transactions | campaign members | cost rows | Parquet | generator time | generator peak |")
        lines.append("|---|---|---|---|---|---|---|---|")
        for r in d.sort_values("size").to_dict("records"):
            lines.append(f"| {r['users']:,} | {r['events']:,} | {r['transactions']:,} | "
                         f"{r['campaign_members']:,} | {r['costs']:,} | {r['parquet_mb']:,.0f} MiB | "
                         f"{fmt_s(r.get('generator_seconds', float('nan')))} s | "
                         f"{fmt_mb(r.get('generator_peak_rss_mb', float('nan')))} |")
        del cols
    lines += ["", "## 各阶段 (stages)", "",
              "One process loads the dataset as `growthloop run` does once per run (`load`: read "
              "and validate the files, materialise the clean tables and build the user wide table "
              "in a DuckDB store file), attaches the store as each chapter does, then makes each "
              "chapter's main library calls in turn. Before it measures, the process runs every "
              "call once on the bundled 12,000-user demo (`warmup`: imports, including those the "
              "library makes on first use, and Ibis' set-up, which a chapter's kernel pays once). "
              "Each cell is wall time · the process's peak resident memory during that call (the "
              "loaded tables included); a call under 1 s is the median of up to 5 runs, each "
              "starting from the same cached tables as the first. The exponent is the slope of "
              "log(time) on log(users) over the sizes from 100k up (1 = linear); `warmup` is that "
              "first pass, not a call.", "", stages_md, "",
              "Whole processes (wall time · peak RSS · load average at start):", "",
              process_table(m), "", "![time against size](benchmarks_time.png)", "",
              "## 与 pandas 和 SQL 下限对比 (against pandas and the SQL floor)", "",
              "The same four metrics three ways. *Library* is the GrowthLoop call the chapter makes; "
              "*SQL floor* is one hand-written DuckDB query on the same loaded tables in the same "
              "process (`benchmarks/metrics.py`); *of which compiling* is the part of the "
              "library's time spent turning Ibis expressions into SQL text (Ibis' rewrites and "
              "sqlglot's generator), a cost per call that hardly grows with the data; "
              "*pandas* is the code an analyst would write, "
              "reading the Parquet files, in a process whose address space is capped at 8 GiB so a "
              "version that does not fit fails instead of taking the machine.", "", metrics_md, ""]
    if not agree.empty:
        ok = agree[agree.agree.astype(str) == "True"]
        lines.append(f"**Same numbers.** At {', '.join(size_label(s) for s in sorted(agree['size'].unique()))} "
                     f"users the harness asserts that the three implementations agree: "
                     f"{len(ok)} of {len(agree)} comparisons equal (counts exactly, amounts to the "
                     "cent).")
        bad = agree[agree.agree.astype(str) != "True"]
        for r in bad.to_dict("records"):
            lines.append(f"- {r['metric']} against {r['against']} at {size_label(r['size'])}: {r['detail']}")
        lines.append("")
    book = m[(m.process == "book") & (m.phase == "growthloop run")].sort_values("size")
    lines += ["## 整本书 (the whole book)", "",
              "`growthloop run` with a campaign file pointing at the dataset (default `--jobs`: "
              "two chapters at a time, each in its own kernel attached to the store the runner "
              "loaded once, the chapters that read the others after them), then the HTML book "
              "built. Peak memory is the sum over the process tree (runner + kernels), sampled "
              "every 0.1 s; the time of the load and of each chapter is the runner's own log, so "
              "two chapters side by side each count the time they shared.", "",
              "| users | status | wall time | peak (process tree) | largest single process | load at start |",
              "|---|---|---|---|---|---|"]
    for r in book.to_dict("records"):
        lines.append(f"| {size_label(r['size'])} | {r['status']} | {fmt_s(r['seconds'])} s | "
                     f"{fmt_mb(r['tree_peak_rss_mb'])} | {fmt_mb(r['process_peak_rss_mb'])} | {r['load1']:.1f} |")
    parts = m[(m.process == "book") & m.phase.str.startswith("book.")]
    if len(parts):
        book_sizes = sorted(parts["size"].unique())
        lines += ["", "Inside the run (the runner's log: the one load, then each chapter; wall time · "
                  "peak of the process tree while that step ran, with the chapter beside it):", "",
                  "| step | " + " | ".join(size_label(s) for s in book_sizes) + " |",
                  "|---|" + "---|" * len(book_sizes)]
        for phase in sorted(parts.phase.unique(), key=lambda p: (p != "book.load", p)):
            cells = []
            for size in book_sizes:
                v = parts[(parts.phase == phase) & (parts["size"] == size)]
                peak = v.tree_peak_rss_mb.iloc[-1] if len(v) else None
                peak = f" · {fmt_mb(peak)}" if peak is not None and pd.notna(peak) else ""
                cells.append(f"{fmt_s(v.seconds.iloc[-1])} s{peak}" if len(v) else "–")
            lines.append(f"| {phase.removeprefix('book.')} | " + " | ".join(cells) + " |")
    measured_book = set(book["size"])
    not_run = [size_label(s) for s in sizes if s not in measured_book]
    if not_run:
        lines.append(f"\nNot run at {', '.join(not_run)} users.")
    lines += spark_book_section(m)
    floors = _read("floors.csv")
    if not floors.empty:
        lines += [""] + floor_section(floors)
    lines += ["", "## 目标 (targets)", "", "Issue 22 (second round):", ""]
    for size, target in BOOK_TARGET_S.items():
        bk = book[book["size"] == size]
        if not len(bk):
            lines.append(f"- **Whole book at {size_label(size)} users ≤ {fmt_s(target)} s, peak under "
                         f"{BOOK_PEAK_TARGET_MB / GIB:g} GiB:** not measured.")
            continue
        r = bk.iloc[0]
        in_time = r.status == "ok" and float(r.seconds) <= target
        in_memory = float(r.tree_peak_rss_mb) < BOOK_PEAK_TARGET_MB
        lines.append(f"- **Whole book at {size_label(size)} users ≤ {fmt_s(target)} s, peak under "
                     f"{BOOK_PEAK_TARGET_MB / GIB:g} GiB:** time {'met' if in_time else 'not met'}, "
                     f"memory {'met' if in_memory else 'not met'} ({fmt_s(r.seconds)} s, peak "
                     f"{fmt_mb(r.tree_peak_rss_mb)}, {r.taken_at}).")
    for v in [v for v in floor_verdicts(floors) if v["size"] >= TARGET_MIN_SIZE
              and v["target"] is not None] if not floors.empty else []:
        lines.append(f"- **{v['label']} ≤ {v['target']:g}× its floor at {size_label(v['size'])}:** "
                     f"{'met' if v['ratio'] <= v['target'] else 'not met'} ({v['ratio']:.2f}×).")
    for size in sorted({v["size"] for v in verdicts}):
        # the funnel has its stitch-once floor above
        at = [v for v in verdicts if v["size"] == size and size >= TARGET_MIN_SIZE
              and v["metric"] != METRIC_LABEL["funnel"]]
        if not at:
            continue
        over = [v for v in at if v["ratio"] > STAGE_RATIO_TARGET]
        detail = "; ".join(f"{v['metric']} {v['ratio']:.2f}×" for v in over)
        when = m[m.process.str.startswith("stage") & (m["size"] == size)].taken_at.max()
        lines.append(f"- **Other stages ≤ {STAGE_RATIO_TARGET:g}× their SQL floor at {size_label(size)}** "
                     f"(cohort matrix, RFM, path counts in the table above, measured {when}): "
                     f"{len(at) - len(over)} of {len(at)} within"
                     + (f"; over: {detail}" if over else "") + ".")
    lines += ["", "Earlier rounds:", ""]
    big = max(sizes)
    bk = book[book["size"] == big]
    if len(bk):
        r = bk.iloc[0]
        met = r.status == "ok" and float(r.tree_peak_rss_mb) < TARGET_MB
        lines.append(f"- **Whole demo-style run at {size_label(big)} users under 8 GiB:** "
                     f"{'met' if met else 'missed'} ({r.status}, {fmt_s(r.seconds)} s, peak "
                     f"{fmt_mb(r.tree_peak_rss_mb)}).")
    else:
        lines.append(f"- **Whole demo-style run at {size_label(big)} users under 8 GiB:** not measured.")
    lines.append("- **Each stage within 2× its SQL floor** (the four metrics; per size, the ones over "
                 "2×, and in brackets the ratio without the time spent compiling Ibis to SQL):")
    for size in sorted({v["size"] for v in verdicts}):
        at = [v for v in verdicts if v["size"] == size]
        over = [v for v in at if v["ratio"] > 2]
        detail = "; ".join(
            f"{v['metric']} {v['ratio']:.1f}×"
            + ("" if math.isnan(v["net_ratio"]) else f" ({v['net_ratio']:.1f}×)") for v in over)
        lines.append(f"  - {size_label(size)}: {len(at) - len(over)} of {len(at)} within"
                     + (f"; over: {detail}" if over else "") + ".")
    gen = d[d["size"] == big] if not d.empty else d
    if len(gen) and "generator_peak_rss_mb" in gen:
        g = gen.iloc[0]
        lines.append(f"- **Generator at {size_label(big)} users in bounded memory:** "
                     f"{'met' if float(g.generator_peak_rss_mb) < TARGET_MB else 'missed'} "
                     f"({fmt_s(g.generator_seconds)} s, peak {fmt_mb(g.generator_peak_rss_mb)}, "
                     f"{int(g.chunk_users):,} users per chunk).")
    notes = RESULTS / "notes.md"
    if notes.exists():
        newest, earlier = newest_round(notes.read_text(encoding="utf-8"))
        lines += ["", newest]
        if earlier:
            lines += ["", f"The {earlier} earlier rounds' readings (what was tried, measured and "
                      "kept or not) are in `benchmarks/results/notes.md` in the repository."]
    DOC.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    print(f"wrote {DOC.relative_to(ROOT)} and {PLOT.relative_to(ROOT)}")


def newest_round(notes: str) -> tuple[str, int]:
    """The notes' first ``## `` section (the newest round) and how many sections follow it."""
    lines = notes.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("## ")]
    if len(starts) < 2:
        return notes.strip(), 0
    return "\n".join(lines[:starts[1]]).strip(), len(starts) - 1


if __name__ == "__main__":
    main()

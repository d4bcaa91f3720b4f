"""One static site from all completed runs: an index of campaigns, each run's book, a comparison.

Layout of the site folder (every link relative, so it works from any static host or from disk):

    index.html                  campaigns with run date, analysis date, uplift and ROI
    compare.html                the campaigns over time (table and figure)
    compare.png
    .nojekyll
    runs/<campaign>/<run>/      the run's HTML book (its _build/html, copied once)
    runs/<campaign>/<run>.json  what the index shows about that run

Publishing is incremental and never destructive: a run's book is copied only when the site does
not have it yet (a completed run folder never changes), through a temporary folder renamed at the
end; and the index is rebuilt from every `<run>.json` in the site, so a site published from two
run folders (or two machines) keeps both sets of books.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from growthloop import PROJECT_ROOT
from growthloop.present.summary import book_chapters, points, read_glue

RUNS = "runs"
# The chapter 6 numbers the index and the comparison show.
REVIEW_KEYS = ("review_campaign", "review_verdict", "review_uplift", "review_ci_low", "review_ci_high",
               "review_roi", "review_cost", "review_inc_revenue", "review_rate_t", "review_rate_c")
_STAMP = re.compile(r"^(\d{8})-(\d{6})")


class PublishError(RuntimeError):
    """The site cannot be published; the message says why and what to do."""


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def run_record(run_dir: Path, campaign: str) -> dict[str, Any]:
    """Read what the index shows about one completed run from its executed notebooks.

    Parameters
    ----------
    run_dir : Path
        The run folder (``runs/<campaign>/<YYYYMMDD-HHMMSS...>``).
    campaign : str
        The campaign's name.

    Returns
    -------
    dict of str to Any
        ``campaign``, ``run``, ``started`` (from the folder's stamp, "" without one),
        ``analysis_date``, ``book`` (its site-relative index), chapter 6's numbers
        (``campaign_reviewed``, ``verdict``, ``uplift``, ``ci_low``, ``ci_high``, ``roi``,
        ``cost``, ``inc_revenue``, ``rate_t``, ``rate_c``; None when not glued or NaN) and
        ``campaign_start`` ("" without a review).
    """
    values: dict[str, Any] = {}
    chapters = run_dir / "chapters"
    if chapters.is_dir():
        for nb in book_chapters(chapters):
            values.update({k: g.value for k, g in read_glue(nb).values.items()})
    match = _STAMP.match(run_dir.name)
    started = (dt.datetime.strptime("".join(match.groups()), "%Y%m%d%H%M%S").strftime("%Y-%m-%d %H:%M")
               if match else "")
    analysis = values.get("dq_analysis_date") or values.get("prof_analysis_date")
    record = {"campaign": campaign, "run": run_dir.name, "started": started,
              "analysis_date": str(analysis) if analysis else "",
              "book": f"{RUNS}/{campaign}/{run_dir.name}/index.html"}
    for key in REVIEW_KEYS:
        name = "campaign_reviewed" if key == "review_campaign" else key[len("review_"):]
        record[name] = _clean(values.get(key))
    record["campaign_start"] = _campaign_start(run_dir, values) if record["uplift"] is not None else ""
    return record


def _campaign_start(run_dir: Path, values: dict[str, Any]) -> str:
    """When the reviewed campaign started: glued `review_start` if chapter 6 glues it, else the
    start row of its campaign card table (tables/06_*/campaign_card.csv: item 开始时间, or
    开始时间 (start) in books published before the card dropped its English glosses), else ''."""
    if values.get("review_start"):
        return str(values["review_start"])[:16]
    for card in sorted((run_dir / "tables").glob("06_*/campaign_card.csv")):
        try:
            frame = pd.read_csv(card, encoding="utf-8-sig", dtype=str)
        except (OSError, ValueError):
            continue
        if {"item", "value"} <= set(frame.columns):
            # 开始时间 today, 开始时间 (start) in older books: the prefix finds both
            hit = frame[frame["item"].str.startswith("开始时间", na=False)]
            if len(hit):
                return str(hit["value"].iloc[0])[:16]
    return ""


def _copy_book(html_dir: Path, dest: Path) -> None:
    """Copy a built book into the site through a temporary folder (never half a book)."""
    tmp = dest.with_name(f".{dest.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(html_dir, tmp)
    os.replace(tmp, dest)


def publish(runs_dir: Path | None = None, out: Path | None = None,
            progress=lambda _msg: None) -> Path:
    """Add every completed run's book to the site at `out` and rebuild its index.

    Incremental and never destructive: a book already in the site is kept as it is; the index and
    the comparison are rebuilt from every run the site holds.

    Parameters
    ----------
    runs_dir : Path or None, default None
        The runs folder; None is the project's runs/.
    out : Path or None, default None
        The site folder, outside `runs_dir`; None is the project's site/.
    progress : callable, default no-op
        Called with one line of text per step (added, skipped, totals).

    Returns
    -------
    Path
        `out`.

    Raises
    ------
    PublishError
        When `runs_dir` does not exist, `out` is inside it, or no completed run has a built book.
    """
    from growthloop.run.runner import list_runs

    runs_dir = Path(runs_dir) if runs_dir else PROJECT_ROOT / "runs"
    out = Path(out) if out else PROJECT_ROOT / "site"
    if not runs_dir.is_dir():
        raise PublishError(f"runs folder {runs_dir} does not exist: run a campaign first "
                           "(growthloop run campaigns/demo.yml) or pass --runs-dir")
    if out.resolve() == runs_dir.resolve() or runs_dir.resolve() in out.resolve().parents:
        raise PublishError(f"--out {out} is inside the runs folder {runs_dir}: choose a folder outside it")
    complete = [r for r in list_runs(runs_dir) if r["status"] == "complete"]
    out.mkdir(parents=True, exist_ok=True)
    added = 0
    for run in complete:
        run_dir = Path(run["path"])
        html_dir = run_dir / "_build" / "html"
        if not (html_dir / "index.html").exists():
            progress(f"skipped {run['campaign']}/{run['run']}: no built book in it")
            continue
        dest = out / RUNS / run["campaign"] / run["run"]
        meta = dest.with_name(f"{run['run']}.json")
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            _copy_book(html_dir, dest)
            added += 1
            progress(f"added {run['campaign']}/{run['run']}")
        if not meta.exists():
            meta.write_text(json.dumps(run_record(run_dir, run["campaign"]), ensure_ascii=False,
                                       indent=1, sort_keys=True), encoding="utf-8")
    records = site_records(out)
    if not records:
        raise PublishError(f"no completed run with a built book in {runs_dir}: "
                           "run `growthloop run campaigns/<campaign>.yml` first")
    write_compare(out, records)
    write_index(out, records)
    (out / ".nojekyll").touch()
    progress(f"{added} new book(s), {len(records)} in the site")
    return out


def site_records(out: Path) -> list[dict[str, Any]]:
    """List every run the site holds (a book folder with its .json), newest run first.

    Parameters
    ----------
    out : Path
        The site folder.

    Returns
    -------
    list of dict
        The runs' records (see `run_record`).
    """
    records = []
    for meta in sorted((out / RUNS).glob("*/*.json")):
        if (meta.with_suffix("")).is_dir():
            records.append(json.loads(meta.read_text(encoding="utf-8")))
    return sorted(records, key=lambda r: (r.get("started", ""), r["campaign"], r["run"]), reverse=True)


def _f(value: Any, spec: str) -> str:
    if value is None or isinstance(value, str):
        return "—" if value in (None, "") else str(value)
    return format(value, spec)


def _uplift(r: dict[str, Any]) -> str:
    if r.get("uplift") is None:
        return "—"
    ci = (f"（{points(r.get('ci_low'))} 至 {points(r.get('ci_high'))}）"
          if r.get("ci_low") is not None else "")
    return f"{points(r['uplift'])}{ci}"


_STYLE = """
body{font-family:"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif;margin:2rem auto;
max-width:72rem;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%;font-size:.92rem}th,td{border-bottom:1px solid #ddd;
padding:.35rem .5rem;text-align:left}th{background:#f4f4f4;cursor:pointer}
nav a{margin-right:1.2rem}.note{color:#666;font-size:.85rem}img{max-width:100%}
"""

# Click a header to sort (numbers by value, text by its order in Chinese); type to filter rows.
_SORT_JS = """
<script>
document.querySelectorAll('table.gl-sortable').forEach(function (t) {
  var box = document.createElement('input');
  box.placeholder = '搜索'; box.style.margin = '0 0 .5rem 0';
  t.parentNode.insertBefore(box, t);
  var rows = function () { return Array.from(t.tBodies[0].rows); };
  box.addEventListener('input', function () {
    var q = box.value.toLowerCase();
    rows().forEach(function (r) { r.hidden = q && r.textContent.toLowerCase().indexOf(q) < 0; });
  });
  Array.from(t.tHead.rows[0].cells).forEach(function (th, i) {
    th.addEventListener('click', function () {
      var dir = th.dataset.dir === 'asc' ? -1 : 1; th.dataset.dir = dir > 0 ? 'asc' : 'desc';
      var key = function (r) {
        var s = r.cells[i].textContent.trim(), n = parseFloat(s.replace(/[,%+元]/g, ''));
        return isNaN(n) ? s : n;
      };
      rows().sort(function (a, b) {
        var x = key(a), y = key(b);
        if (typeof x === 'number' && typeof y === 'number') return dir * (x - y);
        return dir * String(x).localeCompare(String(y), 'zh');
      }).forEach(function (r) { t.tBodies[0].appendChild(r); });
    });
  });
});
</script>
"""


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html>\n<html lang='zh-CN'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
            f"<nav><a href='index.html'>活动总览</a><a href='compare.html'>活动对比</a></nav>"
            f"<h1>{html.escape(title)}</h1>{body}{_SORT_JS}</body></html>\n")


#: What the index says of a run whose book reviewed no campaign (no chapter 6, or no campaign).
NO_REVIEW = "本次运行没有活动复盘"


def write_index(out: Path, records: list[dict[str, Any]]) -> Path:
    """Write index.html: one row per run, newest first, linking to its book.

    Parameters
    ----------
    out : Path
        The site folder.
    records : list of dict
        `site_records(out)`.

    Returns
    -------
    Path
        The page written.
    """
    rows = []
    for r in records:
        rows.append(
            "<tr>"
            f"<td>{html.escape(r['campaign'])}</td>"
            f"<td><a href='{html.escape(r['book'], quote=True)}'>{html.escape(r['run'])}</a></td>"
            f"<td>{html.escape(r.get('started') or '—')}</td>"
            f"<td>{html.escape(r.get('analysis_date') or '—')}</td>"
            f"<td>{html.escape(_f(r.get('campaign_reviewed'), ''))}</td>"
            f"<td>{html.escape(r.get('campaign_start') or '—')}</td>"
            f"<td>{html.escape(_uplift(r))}</td>"
            f"<td>{html.escape(_f(r.get('roi'), '.0%'))}</td>"
            f"<td>{html.escape(_f(r.get('verdict'), '') if r.get('campaign_reviewed') else NO_REVIEW)}</td>"
            "</tr>")
    body = ("<p>每一行是一次完成的运行：点击运行进入它的报告，报告第一页是摘要。"
            f"增量与 ROI 取自该次运行第 6 章的活动复盘；没有复盘活动的运行在“结论”一栏写明“{NO_REVIEW}”。</p>"
            "<table class='gl-sortable'><thead><tr><th>活动配置</th><th>运行</th>"
            "<th>运行时间</th><th>分析日</th><th>复盘的活动</th>"
            "<th>活动开始</th><th>响应率增量（95% 区间）</th><th>增量 ROI</th><th>结论</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
            f"<p class='note'>{len(records)} 次运行。</p>")
    path = out / "index.html"
    path.write_text(_page("GrowthLoop 活动报告", body), encoding="utf-8")
    return path


def _time_order(r: dict[str, Any]) -> tuple[str, str, str, str]:
    """Campaigns over time: by when the reviewed campaign started, then the analysis date."""
    return (r.get("campaign_start") or "", r.get("analysis_date") or "", r.get("started") or "", r["run"])


#: chapter 6's published table of every campaign of the data (aggregates only)
HISTORY_TABLE = Path("tables") / "06_closed_loop_review" / "campaign_history.csv"
_HISTORY_NUMBERS = ("rate_t", "rate_c", "uplift", "ci_low", "ci_high", "p_value", "cost", "roi")


def campaign_history(out: Path, records: list[dict[str, Any]]) -> pd.DataFrame:
    """Every campaign the site's books reviewed in chapter 6's history table, once each.

    A campaign in several runs' tables keeps the row of the newest run (its window may have
    closed since). Cells a book suppressed ("<10", "*") are missing here.

    Parameters
    ----------
    out : Path
        The site folder.
    records : list of dict
        `site_records(out)`.

    Returns
    -------
    pandas.DataFrame
        campaign_id, name, start_date and _HISTORY_NUMBERS (numbers, NaN when missing), in
        order of start date then id; empty when no book has the table.
    """
    frames = []
    for r in sorted(records, key=lambda r: (r.get("started") or "", r["run"])):
        path = out / Path(r["book"]).parent / HISTORY_TABLE
        if not path.exists():
            continue
        frame = pd.read_csv(path, encoding="utf-8-sig", dtype=str)
        if not {"campaign_id", "uplift"} <= set(frame.columns):
            continue
        frames.append(frame)
    columns = ["campaign_id", "name", "start_date", *_HISTORY_NUMBERS]
    if not frames:
        return pd.DataFrame(columns=columns)
    rows = pd.concat(frames, ignore_index=True).drop_duplicates("campaign_id", keep="last")
    rows = rows.reindex(columns=columns)
    for col in _HISTORY_NUMBERS:
        rows[col] = pd.to_numeric(rows[col], errors="coerce")
    rows[["name", "start_date"]] = rows[["name", "start_date"]].fillna("")
    return rows.sort_values(["start_date", "campaign_id"], kind="stable").reset_index(drop=True)


def _compare_points(out: Path, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the comparison figure draws: every campaign of the books' history tables, else
    (books without chapter 6's history) each run's reviewed campaign; in time order."""
    history = campaign_history(out, records).dropna(subset=["uplift"])
    if len(history):
        return [{"label": f"{h.campaign_id}\n{str(h.start_date)[:10]}", "uplift": h.uplift,
                 "ci_low": None if pd.isna(h.ci_low) else h.ci_low,
                 "ci_high": None if pd.isna(h.ci_high) else h.ci_high,
                 "roi": None if pd.isna(h.roi) else h.roi} for h in history.itertuples()]
    return [{**r, "label": f"{r['campaign']}\n{(r.get('campaign_start') or r.get('analysis_date') or r['run'])[:10]}"}
            for r in sorted(records, key=_time_order) if r.get("uplift") is not None]


def _compare_figure(out: Path, records: list[dict[str, Any]]) -> str:
    """compare.png: uplift with its interval and ROI per campaign, in time order; '' when none."""
    points = _compare_points(out, records)
    if not points:
        return ""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from growthloop.present import theme

    theme.apply()
    labels = [r["label"] for r in points]
    x = list(range(len(points)))
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    up = [r["uplift"] for r in points]
    lo = [r["uplift"] - (r.get("ci_low") if r.get("ci_low") is not None else r["uplift"]) for r in points]
    hi = [(r.get("ci_high") if r.get("ci_high") is not None else r["uplift"]) - r["uplift"] for r in points]
    a1.errorbar(x, up, yerr=[lo, hi], fmt="o", capsize=5)  # separate campaigns: no line between them
    a1.axhline(0, color="grey", lw=1, ls="--")
    a1.set(title="响应率增量与 95% 区间", xticks=x)
    a1.set_xticklabels(labels, fontsize=8)
    a1.yaxis.set_major_formatter(lambda v, _p: f"{v:+.0%}")
    roi = [r.get("roi") if r.get("roi") is not None else float("nan") for r in points]
    a2.bar(x, roi, color=[("#4c72b0" if (v or 0) >= 0 else "#c44e52") for v in roi])
    a2.axhline(0, color="grey", lw=1)
    a2.set(title="增量 ROI", xticks=x)
    a2.set_xticklabels(labels, fontsize=8)
    a2.yaxis.set_major_formatter(lambda v, _p: f"{v:.0%}")
    fig.tight_layout()
    fig.savefig(out / "compare.png")
    plt.close(fig)
    return "compare.png"


def _num(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def write_compare(out: Path, records: list[dict[str, Any]]) -> Path:
    """Write compare.html: every campaign the books reviewed, every run, and a figure.

    The campaigns come from chapter 6's history tables of the books (`campaign_history`), the
    runs are ordered by when the reviewed campaign started, then the analysis date; compare.png
    (uplift with its interval, and ROI) draws every campaign of the history, else each run's.

    Parameters
    ----------
    out : Path
        The site folder.
    records : list of dict
        `site_records(out)`.

    Returns
    -------
    Path
        The page written.
    """
    ordered = sorted(records, key=_time_order)
    figure = _compare_figure(out, records)
    rows = "".join(
        "<tr>"
        f"<td>{html.escape(r.get('campaign_start') or '—')}</td>"
        f"<td>{html.escape(r.get('analysis_date') or '—')}</td>"
        f"<td><a href='{html.escape(r['book'], quote=True)}'>{html.escape(r['campaign'])} / {html.escape(r['run'])}</a></td>"
        f"<td>{html.escape(_f(r.get('campaign_reviewed'), ''))}</td>"
        f"<td>{html.escape(_f(r.get('rate_t'), '.1%'))}</td><td>{html.escape(_f(r.get('rate_c'), '.1%'))}</td>"
        f"<td>{html.escape(_uplift(r))}</td>"
        f"<td>{html.escape(_f(r.get('cost'), ',.0f'))}</td><td>{html.escape(_f(r.get('inc_revenue'), ',.0f'))}</td>"
        f"<td>{html.escape(_f(r.get('roi'), '.0%'))}</td>"
        "</tr>" for r in ordered)
    img = (f"<p><img src='{figure}' alt='响应率增量与 ROI 随时间的变化'></p>" if figure else
           "<p class='note'>还没有含第 6 章活动复盘的运行，暂无对比图。</p>")
    history = campaign_history(out, records)
    if len(history):
        hist_rows = "".join(
            "<tr>"
            f"<td>{html.escape(str(h.start_date)[:16] or '—')}</td>"
            f"<td>{html.escape(str(h.campaign_id))} {html.escape(str(h.name))}</td>"
            f"<td>{html.escape(_f(_num(h.rate_t), '.1%'))}</td><td>{html.escape(_f(_num(h.rate_c), '.1%'))}</td>"
            f"<td>{html.escape(_uplift({'uplift': _num(h.uplift), 'ci_low': _num(h.ci_low), 'ci_high': _num(h.ci_high)}))}</td>"
            f"<td>{html.escape(_f(_num(h.cost), ',.0f'))}</td><td>{html.escape(_f(_num(h.roi), '.0%'))}</td>"
            "</tr>" for h in history.itertuples())
        img += ("<h2>历次活动</h2><p>各运行第 6 章活动台账中的每一次活动（同一活动取最新一次运行的数字）。</p>"
                "<table class='gl-sortable'><thead><tr><th>活动开始</th><th>活动</th><th>实验组响应率</th>"
                "<th>对照组响应率</th><th>增量（95% 区间）</th><th>成本（元）</th><th>增量 ROI</th></tr></thead>"
                f"<tbody>{hist_rows}</tbody></table><h2>历次运行</h2>")
    body = (f"<p>按活动开始时间（其次分析日）排列的历次运行：闭环的每一轮放在一起看，增量是否稳定、ROI 是否在改善。</p>{img}"
            "<table class='gl-sortable'><thead><tr><th>活动开始</th><th>分析日</th><th>运行</th>"
            "<th>复盘的活动</th><th>实验组响应率</th><th>对照组响应率</th>"
            "<th>增量（95% 区间）</th><th>成本（元）</th><th>增量收入（元）</th><th>增量 ROI</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>")
    path = out / "compare.html"
    path.write_text(_page("活动对比", body), encoding="utf-8")
    return path


__all__ = ["PublishError", "campaign_history", "publish", "run_record", "site_records", "write_compare",
           "write_index"]

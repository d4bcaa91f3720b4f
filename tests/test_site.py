"""`growthloop publish`: one static site from the completed runs, incremental, every link resolving.

The runs are fake but their books are real: one minimal book (a chapter-6-like notebook with
glue, a figure, and the real summary notebook executed on it) is built once with jupyter-book
and copied into each fake run, whose own notebooks carry different campaign results.
"""

from __future__ import annotations

import base64
import functools
import http.server
import json
import re
import shutil
import subprocess
import threading
from pathlib import Path
from urllib.parse import unquote

import nbformat
import papermill
import pytest
import yaml
from typer.testing import CliRunner

from growthloop import PROJECT_ROOT
from growthloop.present.summary import SUMMARY_STEM
from growthloop.run.cli import app
from growthloop.run.runner import BOOK_DIRS, BOOK_FILES, build_book, write_toc
from growthloop.run.site import PublishError, publish, site_records

REVIEW = "06_closed_loop_review"
# a 1x1 PNG: the figure in the fake chapter (a page image the link check must find)
PIXEL = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e2a1f35a0000000049454e44ae426082"
)).decode()


def _glue(key: str, value) -> nbformat.NotebookNode:
    return nbformat.v4.new_output(
        "display_data", data={"application/papermill.record/text/plain": repr(value)},
        metadata={"scrapbook": {"name": key, "mime_prefix": "application/papermill.record/"}})


def _review_notebook(path: Path, uplift: float, roi: float, analysis: str = "2026-03-31") -> None:
    """A chapter-6-like executed notebook: headings, glued results and a figure."""
    glued = nbformat.v4.new_code_cell("glue")
    glued.outputs = [_glue(k, v) for k, v in {
        "review_campaign": "C1「唤醒」", "review_verdict": "显著", "review_uplift": uplift,
        "review_ci_low": uplift - 0.02, "review_ci_high": uplift + 0.02, "review_roi": roi,
        "review_rate_t": 0.05, "review_rate_c": 0.05 - uplift, "review_inc_responders": 20.0,
        "review_inc_revenue": 800.0, "review_cost": 320.0, "review_cost_per_incremental": 16.0,
        "dq_analysis_date": analysis}.items()]
    figure = nbformat.v4.new_code_cell("fig")
    figure.outputs = [nbformat.v4.new_output("display_data", data={"image/png": PIXEL, "text/plain": "<Figure>"})]
    rows = "".join(f"<tr><td>渠道{i:02d}</td><td>{(i * 37) % 100:,}万元</td></tr>" for i in range(30))
    table = nbformat.v4.new_code_cell("ch.table(...)")
    table.outputs = [nbformat.v4.new_output("display_data", data={
        "text/html": ("<table border='0' class='dataframe gl-table'><thead><tr><th>channel</th><th>spend</th>"
                      f"</tr></thead><tbody>{rows}</tbody></table>"), "text/plain": "<HTML>"})]
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# 6 营销闭环复盘 (closed-loop review)"),
        nbformat.v4.new_markdown_cell("## 实验组与对照组 (effect against the holdout)"), glued, figure, table,
        nbformat.v4.new_markdown_cell("**发现 (finding).** 结果。")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def built_book(tmp_path_factory) -> Path:
    """One real book: intro, the fake chapter 6 and the real summary executed on it."""
    book = tmp_path_factory.mktemp("book")
    for name in BOOK_FILES:
        shutil.copy2(PROJECT_ROOT / name, book / name)
    for name in BOOK_DIRS:  # the book's pages, static files and local extensions, as a run's
        shutil.copytree(PROJECT_ROOT / name, book / name)
    _review_notebook(book / "chapters" / f"{REVIEW}.ipynb", 0.03, 1.5)
    write_toc(book, [book / "chapters" / f"{REVIEW}.ipynb", book / "chapters" / f"{SUMMARY_STEM}.ipynb"])
    toc = yaml.safe_load((book / "_toc.yml").read_text(encoding="utf-8"))
    files = [c["file"] for p in toc["parts"] for c in p["chapters"]]
    if f"chapters/{REVIEW}" not in files:  # the project toc may not list chapter 6 yet
        toc["parts"][-1]["chapters"].append({"file": f"chapters/{REVIEW}"})
        (book / "_toc.yml").write_text(yaml.safe_dump(toc, allow_unicode=True), encoding="utf-8")
    papermill.execute_notebook(str(PROJECT_ROOT / "chapters" / f"{SUMMARY_STEM}.ipynb"),
                               str(book / "chapters" / f"{SUMMARY_STEM}.ipynb"),
                               parameters={"out_dir": str(book)}, kernel_name="python3",
                               progress_bar=False, cwd=str(book / "chapters"))
    nb = nbformat.read(book / "chapters" / f"{SUMMARY_STEM}.ipynb", as_version=4)
    for cell in nb.cells:  # as the runner does: the injected cell (with a path) is not shown
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.metadata["tags"].append("remove-cell")
    nbformat.write(nb, book / "chapters" / f"{SUMMARY_STEM}.ipynb")
    build_book(book)
    return book


def _fake_run(runs: Path, campaign: str, run: str, book: Path, uplift: float | None,
              start: str | None = None) -> Path:
    """A completed run folder: the built book, and its own executed chapter 6 (or none) with
    its campaign card table (where the campaign's start date is read from)."""
    folder = runs / campaign / run
    shutil.copytree(book / "_build", folder / "_build")
    shutil.copy2(book / "_toc.yml", folder / "_toc.yml")
    (folder / "chapters").mkdir()
    if uplift is not None:
        _review_notebook(folder / "chapters" / f"{REVIEW}.ipynb", uplift, uplift * 50)
    if start is not None:
        card = folder / "tables" / REVIEW / "campaign_card.csv"
        card.parent.mkdir(parents=True)
        card.write_text(f"item,value\n活动 (campaign),C1\n开始时间 (start),{start}\n", encoding="utf-8-sig")
    return folder


@pytest.fixture
def runs(tmp_path: Path, built_book: Path) -> Path:
    runs = tmp_path / "runs"
    _fake_run(runs, "spring", "20260105-101500", built_book, 0.03, start="2026-03-13 10:00")
    _fake_run(runs, "summer", "20260301-090000", built_book, None)
    (runs / "spring" / "20260106-101500-failed").mkdir(parents=True)     # never published
    (runs / "summer" / ".20260302-090000.tmp" / "_build").mkdir(parents=True)  # in progress
    return runs


_LINK = re.compile(r"""(?:href|src)=["']([^"']+)["']""")
_REFRESH = re.compile(r"""http-equiv=["']Refresh["'][^>]*url=([^"'>]+)""", re.IGNORECASE)


def _local_links(page: Path) -> list[str]:
    links = []
    for raw in _LINK.findall(page.read_text(encoding="utf-8")):
        if raw.startswith(("http:", "https:", "mailto:", "data:", "javascript:", "//")) or raw.startswith("#"):
            continue
        links.append(raw)
    return links


def _resolve(page: Path, link: str) -> tuple[Path, str]:
    path, _, frag = link.partition("#")
    path = path.split("?", 1)[0]
    return (page.parent / unquote(path)).resolve(), frag


def _broken(page: Path) -> list[str]:
    """Links and images of a page that point at no file, or at no id in the page they name."""
    bad = []
    for link in _local_links(page):
        target, frag = _resolve(page, link)
        if target.is_dir():
            target = target / "index.html"
        if not target.exists():
            bad.append(f"{page.name}: {link}")
        elif frag and target.suffix == ".html" and f'id="{frag}"' not in target.read_text(encoding="utf-8"):
            bad.append(f"{page.name}: {link} (no such section)")
    return bad


def _landing(page: Path) -> Path:
    """Follow a Jupyter Book index.html's meta refresh to the root page."""
    m = _REFRESH.search(page.read_text(encoding="utf-8"))
    return (page.parent / m.group(1).strip()).resolve() if m else page


def _english_glosses(page: Path) -> list[str]:
    """The "(english words)" a reader sees on a site page (titles, headings, labels, alt texts)."""
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", page.read_text(encoding="utf-8"), flags=re.S)
    text = " ".join(re.findall(r"(?:alt|placeholder|title)='([^']*)'", text)) + re.sub(r"<[^>]+>", " ", text)
    return re.findall(r"[(（][^()（）]*[A-Za-z]{2,}[^()（）]*[)）]", text)


def test_site_from_two_runs_every_link_resolves(tmp_path: Path, runs: Path) -> None:
    site = publish(runs, tmp_path / "site")
    assert (site / ".nojekyll").exists()
    index = (site / "index.html").read_text(encoding="utf-8")
    assert [r["run"] for r in site_records(site)] == ["20260301-090000", "20260105-101500"]
    assert "failed" not in index and ".tmp" not in index
    # spring's uplift and interval, and ROI 0.03 × 50 = 150%; summer ran no chapter 6: —
    assert "+3.0 个百分点（+1.0 个百分点 至 +5.0 个百分点）" in index and "150%" in index
    summer_row = re.search(r"<tr><td>summer</td>.*?</tr>", index).group(0)
    assert summer_row.count("—") >= 3 and "本次运行没有活动复盘" in summer_row
    assert "2026-01-05 10:15" in index  # the run's date from its folder name
    assert "2026-03-13 10:00" in index  # the reviewed campaign's start, from its campaign card
    assert _broken(site / "index.html") == []
    assert _broken(site / "compare.html") == []
    assert "compare.png" in (site / "compare.html").read_text(encoding="utf-8")
    # the site's own pages speak Chinese only: no "标题 (english)" in headings, labels or texts
    assert _english_glosses(site / "index.html") == [] and _english_glosses(site / "compare.html") == []
    books = [link for link in _local_links(site / "index.html") if link.startswith("runs/")]
    assert len(books) == 2
    for link in books:
        landing = _landing((site / link).resolve())
        assert landing.name == f"{SUMMARY_STEM}.html", "the summary opens every book"
        assert _broken(landing) == []
        text = landing.read_text(encoding="utf-8")
        assert f"{REVIEW}.html#effect-against-the-holdout" in text
        review = landing.parent / f"{REVIEW}.html"
        assert _broken(review) == []
        assert re.search(r"<img[^>]+src=", review.read_text(encoding="utf-8")), "the figure is on the page"


def test_publish_is_incremental_and_keeps_other_books(tmp_path: Path, runs: Path, built_book: Path) -> None:
    site = tmp_path / "site"
    publish(runs, site)
    marker = site / "runs" / "spring" / "20260105-101500" / "marker.txt"
    marker.write_text("kept")
    # a second runs folder (another machine, or runs/ cleaned since): its run is added, the
    # earlier books stay, copied books are not copied again
    other = tmp_path / "other_runs"
    _fake_run(other, "autumn", "20260601-080000", built_book, 0.01, start="2025-11-01 09:00")
    publish(other, site)
    assert marker.read_text() == "kept"
    assert [r["campaign"] for r in site_records(site)] == ["autumn", "summer", "spring"]
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "runs/spring/20260105-101500/index.html" in index and "runs/autumn/20260601-080000/index.html" in index
    assert _broken(site / "index.html") == []
    assert not list(site.rglob(".*.tmp"))
    # the comparison is in campaign time: autumn's campaign (2025-11) before spring's (2026-03)
    compare = (site / "compare.html").read_text(encoding="utf-8")
    assert compare.index("autumn / 20260601-080000") < compare.index("spring / 20260105-101500")


def test_publish_errors_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(PublishError, match="run a campaign first"):
        publish(tmp_path / "none", tmp_path / "site")
    (tmp_path / "runs" / "x" / "20260101-000000-failed").mkdir(parents=True)
    with pytest.raises(PublishError, match="growthloop run"):
        publish(tmp_path / "runs", tmp_path / "site")
    with pytest.raises(PublishError, match="outside"):
        publish(tmp_path / "runs", tmp_path / "runs" / "site")
    result = CliRunner().invoke(app, ["publish", "--runs-dir", str(tmp_path / "none")])
    assert result.exit_code == 1 and "growthloop run campaigns/demo.yml" in result.output


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

# Loads every link of the index in an iframe (same origin: the site is served over HTTP) and
# reports links that do not load and images that did not decode.
CHECKER = """<!DOCTYPE html><html><body><pre id="out">pending</pre><script>
async function check() {
  const base = '/site/';
  const index = new DOMParser().parseFromString(await (await fetch(base + 'index.html')).text(), 'text/html');
  const links = [...new Set([...index.querySelectorAll('a[href]')].map(a => a.getAttribute('href')))];
  const report = {links: links.length, broken: [], missing_images: [], pages: []};
  for (const href of links) {
    const url = new URL(href, location.origin + base).href;
    const res = await fetch(url);
    if (!res.ok) { report.broken.push(href + ' ' + res.status); continue; }
    const frame = document.createElement('iframe');
    frame.style.width = '1200px'; frame.style.height = '900px';
    document.body.appendChild(frame);
    await new Promise(ok => { frame.onload = ok; frame.src = url; });
    await new Promise(ok => setTimeout(ok, 300));  // a meta refresh lands on the root page
    const doc = frame.contentDocument;
    report.pages.push(doc.location.pathname);
    for (const img of doc.images) {
      if (!img.complete || img.naturalWidth === 0) report.missing_images.push(doc.location.pathname + ' ' + img.getAttribute('src'));
    }
    for (const a of doc.querySelectorAll('a[href]')) {
      const h = a.getAttribute('href');
      if (/^(https?:|mailto:|#|javascript:)/.test(h)) continue;
      const r = await fetch(new URL(h, doc.location.href).href, {method: 'HEAD'});
      if (!r.ok) report.broken.push(doc.location.pathname + ' -> ' + h + ' ' + r.status);
    }
  }
  document.getElementById('out').textContent = JSON.stringify(report);
}
check().catch(e => { document.getElementById('out').textContent = 'ERROR ' + e; });
</script></body></html>"""


SORT_CHECK = """<!DOCTYPE html><html><head><meta charset="utf-8"></head><body><pre id="out">pending</pre><script>
const frame = document.createElement('iframe');
frame.onload = () => setTimeout(() => {
  const doc = frame.contentDocument, table = doc.querySelector('table.gl-table[data-gl-enhanced]');
  table.tHead.rows[0].cells[1].click();
  const cells = [...table.tBodies[0].rows].map(r => r.cells[1].textContent);
  const box = doc.querySelector('.gl-table-tools input');
  box.value = '渠道07'; box.dispatchEvent(new Event('input'));
  const count = doc.querySelector('.gl-table-count').textContent;
  document.getElementById('out').textContent = [cells[0], cells[1], cells[cells.length - 1], count].join('|');
}, 300);
frame.src = 'URL';
document.body.appendChild(frame);
</script></body></html>"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep pytest output clean
        pass


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install -y chromium)")
def test_site_in_headless_chromium(tmp_path: Path, runs: Path) -> None:
    root = tmp_path / "www"
    site = publish(runs, root / "site")
    (root / "check.html").write_text(CHECKER, encoding="utf-8")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--disable-extensions", f"--user-data-dir={tmp_path / 'profile'}"]
    try:
        dom = subprocess.run([*flags, "--virtual-time-budget=60000", "--dump-dom",
                              f"http://127.0.0.1:{port}/check.html"],
                             capture_output=True, text=True, timeout=180).stdout
        m = re.search(r'<pre id="out">(.*?)</pre>', dom, re.S)
        assert m, f"the checker page did not render: {dom[:500]}"
        report = json.loads(m.group(1).replace("&gt;", ">").replace("&lt;", "<").replace("&amp;", "&"))
        assert report["links"] >= 3  # two books and the comparison page (and the index itself)
        assert report["broken"] == [] and report["missing_images"] == []
        assert any(p.endswith(f"/chapters/{SUMMARY_STEM}.html") for p in report["pages"])
        book = next(r["book"] for r in site_records(site) if r["campaign"] == "spring")
        summary_url = f"http://127.0.0.1:{port}/site/{book.rsplit('/', 1)[0]}/chapters/{SUMMARY_STEM}.html"
        shot = tmp_path / "summary.png"
        subprocess.run([*flags, "--window-size=1280,1600", "--hide-scrollbars", f"--screenshot={shot}",
                        summary_url], capture_output=True, text=True, timeout=120)
        assert shot.exists() and shot.read_bytes()[:8] == bytes.fromhex("89504e470d0a1a0a")
        assert shot.stat().st_size > 20_000  # a rendered page, not a blank one
        # the long table of chapter 6 got its search box and sortable headers from _static/gl-tables.js
        review_url = summary_url.replace(f"{SUMMARY_STEM}.html", f"{REVIEW}.html")
        review = subprocess.run([*flags, "--virtual-time-budget=10000", "--dump-dom", review_url],
                                capture_output=True, text=True, timeout=120).stdout
        assert 'class="gl-table-tools"' in review and "30 / 30 行" in review
        assert review.count('class="gl-sortable"') == 2
        # clicking the spend header sorts by value (万元 understood), searching filters rows
        (root / "sort.html").write_text(SORT_CHECK.replace("URL", review_url), encoding="utf-8")
        dom = subprocess.run([*flags, "--virtual-time-budget=20000", "--dump-dom",
                              f"http://127.0.0.1:{port}/sort.html"], capture_output=True, text=True, timeout=120).stdout
        m = re.search(r'<pre id="out">(.*?)</pre>', dom, re.S)
        spends = sorted((i * 37) % 100 for i in range(30))
        assert m and m.group(1).split("|") == [f"{spends[0]}万元", f"{spends[1]}万元", f"{spends[-1]}万元", "1 / 30 行"]
    finally:
        server.shutdown()


def test_the_comparison_shows_every_campaign_of_the_books_histories(tmp_path: Path) -> None:
    """Two runs whose chapter 6 history tables hold three campaigns between them: each campaign
    once (the newest run's row), in order of start, on the page and in the figure."""
    from growthloop.run.site import campaign_history, write_compare

    out = tmp_path / "site"
    header = "campaign_id,name,channel,goal,window_days,start_date,users_t,users_c,rate_t,rate_c," \
             "uplift,ci_low,ci_high,p_value,inc_responders,cost,cost_per_incremental,roi,note\n"
    older = header + ("C2,乙,sms,bind_card,7,2026-02-01,100,20,0.2,0.1,0.1,0.0,0.2,0.04,10,50,5,0.5,\n"
                      "C1,甲,sms,bind_card,7,2026-01-01,100,20,0.3,0.1,0.2,0.1,0.3,0.01,20,50,2.5,1.0,\n")
    newer = header + ("C2,乙,sms,bind_card,7,2026-02-01,100,20,0.25,0.1,0.15,0.05,0.25,0.02,15,50,3.3,0.8,\n"
                      "C3,丙,push,first_investment,14,2026-03-01,<10,*,,,,,,,,,,,\n")
    records = []
    for run, text in (("20260301-100000", older), ("20260401-100000", newer)):
        table = out / "runs" / "demo" / run / "tables" / "06_closed_loop_review" / "campaign_history.csv"
        table.parent.mkdir(parents=True)
        table.write_text(text, encoding="utf-8-sig")
        records.append({"campaign": "demo", "run": run, "started": run, "analysis_date": "",
                        "book": f"runs/demo/{run}/index.html", "uplift": None})
    history = campaign_history(out, records)
    assert history.campaign_id.tolist() == ["C1", "C2", "C3"]
    assert history.uplift.iloc[1] == 0.15  # C2 from the newer run
    assert history.uplift.isna().iloc[2]  # C3's suppressed cells are missing, not text
    page = write_compare(out, records).read_text(encoding="utf-8")
    assert "历次活动" in page and "C1 甲" in page and "+15.0 个百分点（+5.0 个百分点 至 +25.0 个百分点）" in page
    assert (out / "compare.png").exists()


def test_the_campaign_start_is_read_from_old_and_new_campaign_cards(tmp_path: Path) -> None:
    """Chapter 6's card names its start row 开始时间 today and 开始时间 (start) in books
    published before: the site reads the start from both; a glued review_start comes first."""
    import datetime as dt

    from growthloop.metrics.campaign_review import Campaign
    from growthloop.run.site import _campaign_start

    today = Campaign(campaign_id="C1", name="唤醒", channel="sms", start_at=dt.datetime(2026, 3, 13, 10, 0),
                     goal="bind_card", window_days=7, cost_per_send=0.1, cost_per_reward=10.0,
                     target_rule="", members=8, treatment=5, control=3, max_send_delay_minutes=0.0,
                     window_complete=True).card()
    old = "item,value\n活动 (campaign),C0\n开始时间 (start),2025-01-02 09:30\n"
    for run, card, start in (("new", today.to_csv(index=False), "2026-03-13 10:00"),
                             ("old", old, "2025-01-02 09:30")):
        path = tmp_path / run / "tables" / REVIEW / "campaign_card.csv"
        path.parent.mkdir(parents=True)
        path.write_text(card, encoding="utf-8-sig")
        assert _campaign_start(tmp_path / run, {}) == start
    assert _campaign_start(tmp_path / "old", {"review_start": "2026-04-01 08:00:00"}) == "2026-04-01 08:00"
    assert _campaign_start(tmp_path / "none", {}) == ""

"""The demo book builds with warnings as errors, has every chapter page, and its links resolve."""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
import yaml

from growthloop import PROJECT_ROOT
from growthloop.present.docs import CONTRACT_PAGE, contract_markdown
from growthloop.run.runner import build_book


def test_contract_page_is_generated_from_the_code() -> None:
    page = (PROJECT_ROOT / CONTRACT_PAGE).read_text(encoding="utf-8")
    assert page == contract_markdown(), "run: python -c 'from growthloop.present.docs import *' to regenerate"


def _toc_files() -> list[str]:
    """Every page of the book in reading order: the root page first."""
    toc = yaml.safe_load((PROJECT_ROOT / "_toc.yml").read_text(encoding="utf-8"))
    return [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]


def test_every_chapter_is_in_the_toc_and_committed_with_outputs() -> None:
    import nbformat

    from growthloop.present.summary import SUMMARY_STEM

    chapters = sorted(p.stem for p in (PROJECT_ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
    sources = sorted(p.stem for p in (PROJECT_ROOT / "chapters" / "src").glob("[0-9][0-9]_*.py"))
    assert chapters == sources
    in_toc = [f for f in _toc_files() if f.startswith("chapters/")]
    # the executive summary opens the book; the chapters follow in their order
    assert in_toc[0] == f"chapters/{SUMMARY_STEM}", "the summary must be the toc's root or first page"
    assert [f"chapters/{c}" for c in chapters if c != SUMMARY_STEM] == in_toc[1:]
    for stem in chapters:
        nb = nbformat.read(PROJECT_ROOT / "chapters" / f"{stem}.ipynb", as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert any(c.outputs for c in code), f"{stem} has no outputs: growthloop refresh-chapters"
        assert any("parameters" in c.metadata.get("tags", []) for c in code)


def test_no_chapter_glues_a_key_twice() -> None:
    """myst-nb fails the build (-W) on a key glued twice in a page: caught here, before a build."""
    import collections

    import nbformat

    for path in sorted((PROJECT_ROOT / "chapters").glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        keys = collections.Counter(
            o.get("metadata", {}).get("scrapbook", {}).get("name")
            for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
            if any(m.startswith("application/papermill.record/") for m in o.get("data", {})))
        twice = sorted(k for k, n in keys.items() if n > 1)
        assert not twice, f"{path.name} glues {twice} more than once"


def test_readers_see_no_code_and_no_english_headings() -> None:
    """Every code cell of a committed chapter hides its input in the HTML (no code toggles for
    the marketing team), and headings are Chinese only (no "标题 (english)")."""
    import nbformat

    for path in sorted((PROJECT_ROOT / "chapters").glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                tags = cell.metadata.get("tags", [])
                assert {"remove-input", "remove-cell"} & set(tags), (path.name, cell.source[:60])
            else:
                for line in cell.source.splitlines():
                    assert not re.match(r"#+ .*\([^()\u4e00-\u9fff]*[A-Za-z][^()\u4e00-\u9fff]*\)\s*$",
                                        line), (path.name, line)


def test_table_folds_a_long_table_to_its_first_rows(tmp_path: Path) -> None:
    """Chapter.table: up to 12 rows the whole table; more, the first 10 and the whole page view in
    a closed <details> with a Chinese summary, the download link above both; the page's table
    parser counts each row once; the same table gives the same HTML."""
    import pandas as pd

    from growthloop import book as gb

    ch = gb.Chapter(slug="t", ds=None, out_dir=tmp_path)

    def frame(n: int) -> pd.DataFrame:
        return pd.DataFrame({"channel": [f"渠道{i:02d}" for i in range(n)], "users": [100 + i for i in range(n)]})

    short = ch.table(frame(12), "short", "十二行", show=False).data
    assert short.count("<table") == 1 and "<details" not in short and "gl-preview" not in short
    long = ch.table(frame(25), "long", "二十五行", show=False).data
    assert long == ch.table(frame(25), "long", "二十五行", show=False).data, "deterministic"
    link = long.index("下载 CSV (long.csv)")
    preview, details = long.index("gl-preview"), long.index("<details class='gl-more'>")
    assert link < preview < details and "<details class='gl-more' open" not in long
    assert "<summary><span class='gl-open'>展开全部 25 行</span>" in long
    assert long.count("<table") == 2 and long.count("渠道09") == 2 and long.count("渠道10") == 1
    parser = _GlTables()
    parser.feed(long)
    assert len(parser.tables) == 1 and len(parser.tables[0][1]) == 25  # the preview is not counted twice
    # beyond max_rows: the page holds max_rows, the summary and the caption send the rest to the CSV
    capped = ch.table(frame(40), "capped", "四十行", max_rows=20, show=False).data
    assert "展开前 20 行（共 40 行，全部见 CSV）" in capped and "（前 20 行，共 40 行）" in capped
    assert "渠道19" in capped and "渠道20" not in capped
    assert len(pd.read_csv(tmp_path / "tables" / "t" / "capped.csv")) == 40


#: what an engine writes to a kernel's stderr (a Spark JVM's start-up line): never published
ENGINE_NOISE = "WARNING: Using incubator modules: jdk.incubator.vector"


def _demo_book(tmp_path: Path) -> Path:
    """The project's book (the committed chapters) built in a copy, with an engine's stderr line
    added to a chapter's first shown cell; returns its html folder."""
    book = tmp_path / "book"
    book.mkdir()
    for name in ("_config.yml", "_toc.yml", "intro.md"):
        shutil.copy2(PROJECT_ROOT / name, book / name)
    for name in ("docs", "chapters", "tables", "_static", "_ext"):
        shutil.copytree(PROJECT_ROOT / name, book / name, ignore=shutil.ignore_patterns("src"))
    notebook = book / "chapters" / "04_rfm.ipynb"
    nb = nbformat.read(notebook, as_version=4)
    # the chapter-opening cell, where a Spark kernel's JVM writes it (the parameters cell is removed)
    first = next(c for c in nb.cells
                 if c.cell_type == "code" and "remove-cell" not in c.metadata.get("tags", []))
    first.outputs.append(nbformat.v4.new_output("stream", name="stderr", text=ENGINE_NOISE + "\n"))
    nbformat.write(nb, notebook)
    return build_book(book)


@pytest.mark.slow
def test_demo_book_builds(tmp_path: Path) -> None:
    html = _demo_book(tmp_path)
    assert "99_summary.html" in (html / "index.html").read_text(encoding="utf-8"), "the summary opens the book"
    for file in _toc_files():
        page = html / f"{file}.html"
        assert page.exists(), file
        text = page.read_text(encoding="utf-8")
        for link in re.findall(r"href='(\.\./tables/[^']+)'", text):
            assert (page.parent / link).resolve().exists(), f"{file}: broken download {link}"
    assert (html / ".nojekyll").exists()
    assert ENGINE_NOISE not in (html / "chapters" / "04_rfm.html").read_text(encoding="utf-8")
    _assert_no_personal_ids(html)
    _assert_no_small_cells(html)
    _assert_tables_read_as_words(html)


#: what a reader must never see in a table cell: raw flags, missing markers, e-notation
RAW_CELL = re.compile(r"^(True|False|nan|NaN|None|inf|-inf|NaT|<NA>)$|^[-+]?\d+(\.\d+)?e[-+]?\d+$")
SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)+$")


def _assert_tables_read_as_words(html: Path) -> None:
    """Every table on a chapter page has Chinese headers (no snake_case) and no raw values."""
    bad = []
    for page in sorted((html / "chapters").glob("*.html")):
        parser = _GlTables()
        parser.feed(page.read_text(encoding="utf-8"))
        for header, rows in parser.tables:
            bad += [f"{page.name}: header {h}" for h in header if SNAKE_CASE.match(h)]
            bad += [f"{page.name}: cell {v}" for row in rows for v in row if RAW_CELL.match(v)]
    assert not bad, f"tables not for people: {bad[:8]}"


def _small(values: list[str]) -> list[str]:
    """Values that read as a count of people between 1 and MIN_CELL_SIZE - 1 ("3", "7.5")."""
    from growthloop.book import MIN_CELL_SIZE

    out = []
    for v in values:
        try:
            number = float(v.replace(",", ""))
        except ValueError:
            continue
        if 0 < number < MIN_CELL_SIZE:
            out.append(v)
    return out


class _GlTables(HTMLParser):
    """The header and cell texts of every `gl-table` of a page (the published tables).

    A long table's first rows (`gl-preview`, a copy of the whole table that follows it in its
    fold) are skipped: each row of a page is counted once."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[tuple[list[str], list[list[str]]]] = []
        self.names: list[str] = []  # each table's CSV stem (its download link), "" without one
        self._link = ""
        self._in = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs) -> None:
        classes = (dict(attrs).get("class") or "").split() if tag == "table" else []
        href = dict(attrs).get("href") or "" if tag == "a" else ""
        if href.endswith(".csv"):
            self._link = href.rsplit("/", 1)[-1][:-4]
        if "gl-table" in classes and "gl-preview" not in classes:
            self._in = True
            self.tables.append(([], []))
            self.names.append(self._link)
        elif self._in and tag == "tr":
            self.tables[-1][1].append([])
        elif self._in and tag in ("td", "th"):
            self._cell = []

    def handle_data(self, data) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag) -> None:
        if self._in and tag in ("td", "th") and self._cell is not None:
            self.tables[-1][1][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table" and self._in:
            self._in = False
            header, rows = self.tables[-1]
            rows = [r for r in rows if r]
            self.tables[-1] = (rows[0] if rows else [], rows[1:])


def _assert_no_small_cells(html: Path) -> None:
    """No group of 1 to 9 people in a published CSV or in a table shown on a page: the group
    sizes of the tables in GROUP_SIZES, every count of people in the others (`small_in_table`)."""
    import pandas as pd
    from test_privacy import small_cells, small_in_table

    bad = small_cells(html / "tables")
    from growthloop.present.registry import TERMS

    key_of = {term.label: key for key, term in TERMS.items()}  # pages show the Chinese labels
    pages = 0
    for page in sorted((html / "chapters").glob("*.html")):
        parser = _GlTables()
        parser.feed(page.read_text(encoding="utf-8"))
        for name, (header, rows) in zip(parser.names, parser.tables, strict=True):
            pages += 1
            keys = [key_of.get(col, col) for col in header]
            frame = pd.DataFrame([r + [""] * (len(keys) - len(r)) for r in rows], columns=keys)
            bad += [f"{page.name}:{hit}" for hit in small_in_table(frame.loc[:, ~frame.columns.duplicated()], name)]
    assert pages > 20, "the chapters' tables were found on the pages"
    assert not bad, f"small cells published: {bad[:5]}"


def _assert_no_personal_ids(html: Path) -> None:
    """No user_id or anonymous_id of the demo data in any published file (pages, CSVs, assets)."""
    import duckdb

    demo = PROJECT_ROOT / "data" / "demo"
    ids = {r[0] for r in duckdb.sql(f"SELECT user_id FROM '{demo / 'users.parquet'}'").fetchall()}
    ids |= {r[0] for r in duckdb.sql(
        f"SELECT DISTINCT anonymous_id FROM '{demo / 'events.parquet'}' WHERE anonymous_id IS NOT NULL"
    ).fetchall()}
    pattern = re.compile(r"\b(U\d{8}|A[0-9a-f]{12})\b")
    leaks = []
    for path in html.rglob("*"):
        if path.is_file() and path.suffix in {".html", ".csv", ".js", ".json", ".txt", ".ipynb"}:
            found = set(pattern.findall(path.read_text(encoding="utf-8", errors="ignore"))) & ids
            if found:
                leaks.append((str(path.relative_to(html)), sorted(found)[:3]))
    assert not leaks, f"personal ids in the published book: {leaks[:5]}"


@pytest.mark.slow
def test_the_book_is_searchable_in_chinese(tmp_path: Path) -> None:
    # Sphinx indexes Chinese only with jieba, and cuts the domain's words whole only with the
    # book's dictionary (_ext/gl_search.py): 复投, 获客成本, 留存 must be terms of the index
    import json

    html = _demo_book(tmp_path)
    text = (html / "searchindex.js").read_text(encoding="utf-8")
    index = json.loads(text[text.index("(") + 1:text.rindex(")")])
    pages = {i: name for i, name in enumerate(index["docnames"])}
    for word in ("复投", "获客成本", "留存", "首投", "绑卡"):
        found = index["terms"].get(word)
        assert found is not None, word
        docs = {pages[i] for i in (found if isinstance(found, list) else [found])}
        assert any(d.startswith("chapters/") for d in docs), (word, docs)


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

# Loads each chapter page in an iframe as wide as a desktop (1400 px) and as a phone (390 px),
# and reports pages wider than their window and figures with fewer than twice their shown pixels.
# At 1400 px it also reads the page's main content (article.bd-article; folded details included,
# scripts, styles, code blocks and the search UI left out) and reports raw values a reader must
# not see (True/False/nan/None/inf/NaT/<NA> as whole words, e-notation numbers), table headers in
# snake_case and tables of more than 8 columns (a folded table's first rows are its copy: skipped).
LAYOUT_CHECK = """<!DOCTYPE html><html><head><meta charset="utf-8"></head><body><pre id="out">pending</pre>
<script>
const RAW = /(?<![A-Za-z0-9_.])(?:True|False|nan|NaN|None|-?inf|NaT|<NA>|[-+]?[0-9]+(?:[.][0-9]+)?[eE][-+]?[0-9]+)(?![A-Za-z0-9_.])/g;
const SNAKE = /^[a-z][a-z0-9]*(_[a-z0-9]+)+$/;
const SKIP = 'script, style, pre, .highlight, table.gl-preview, .gl-table-tools, .search-button-field, .search-button, .bd-search, form';
function readable(page, doc, report) {
  const root = doc.querySelector('article.bd-article') || doc.querySelector('main') || doc.body;
  const walker = doc.createTreeWalker(root, 4);  // text nodes, one at a time (cells are not glued together)
  const raw = new Set();
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (n.parentElement && n.parentElement.closest(SKIP)) continue;
    for (const m of n.nodeValue.matchAll(RAW)) raw.add(page + ': ' + m[0] + ' in "' + n.nodeValue.trim().slice(0, 60) + '"');
  }
  report.raw.push(...raw);
  for (const t of root.querySelectorAll('table')) {
    if (t.classList.contains('gl-preview')) continue;
    let cols = 0;
    for (const r of t.rows) cols = Math.max(cols, [...r.cells].reduce((a, c) => a + (c.colSpan || 1), 0));
    const head = [...t.querySelectorAll('th')].map(th => th.textContent.trim());
    if (cols > 8) report.wide.push(page + ': ' + cols + ' columns [' + head.slice(0, 4).join(', ') + ' ...]');
    for (const h of head) if (SNAKE.test(h)) report.snake.push(page + ': ' + h);
  }
}
async function check() {
  const report = {checked: [], overflow: [], blurry: [], figures: 0, raw: [], snake: [], wide: [], tables: 0};
  for (const page of PAGES) {
    for (const width of [1400, 390]) {
      const frame = document.createElement('iframe');
      frame.style.width = width + 'px'; frame.style.height = '900px';
      document.body.appendChild(frame);
      await new Promise(ok => { frame.onload = ok; frame.src = page; });
      await new Promise(ok => setTimeout(ok, 500));
      const doc = frame.contentDocument;
      const wide = doc.documentElement.scrollWidth;
      if (wide > width + 1) report.overflow.push(page + ' @' + width + ': ' + wide + ' px');
      for (const img of doc.querySelectorAll('.cell_output img')) {
        if (!img.clientWidth) continue;
        report.figures += 1;
        if (img.naturalWidth < 2 * img.clientWidth - 2) {
          report.blurry.push(page + ' @' + width + ': ' + img.naturalWidth + ' for ' + img.clientWidth);
        }
      }
      if (width === 1400) {
        readable(page, doc, report);
        report.tables += doc.querySelectorAll('article table').length;
      }
      report.checked.push(page + ' @' + width);
      frame.remove();
    }
  }
  document.getElementById('out').textContent = JSON.stringify(report);
}
check().catch(e => { document.getElementById('out').textContent = 'ERROR ' + e; });
</script></body></html>"""


def _layout_report(html: Path, pages: list[str], profile: Path) -> dict:
    """Serve the html folder, run LAYOUT_CHECK on `pages` (paths relative to it) in headless
    Chromium, and return its report."""
    import functools
    import http.server
    import json
    import subprocess
    import threading

    (html / "layout.html").write_text(LAYOUT_CHECK.replace("PAGES", json.dumps(pages)),
                                      encoding="utf-8")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(Quiet, directory=str(html)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--no-first-run", "--disable-extensions", f"--user-data-dir={profile}",
                 "--virtual-time-budget=120000", "--dump-dom",
                 f"http://127.0.0.1:{server.server_address[1]}/layout.html"]
        dom = subprocess.run(flags, capture_output=True, text=True, timeout=300).stdout
    finally:
        server.shutdown()
    found = re.search(r'<pre id="out">(.*?)</pre>', dom, re.S)
    assert found and not found.group(1).startswith(("pending", "ERROR")), dom[-500:]
    return json.loads(found.group(1).replace("&gt;", ">").replace("&lt;", "<").replace("&amp;", "&"))


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install -y chromium)")
def test_the_layout_check_finds_raw_values_snake_case_headers_and_wide_tables(tmp_path: Path) -> None:
    """The browser check on a hand-made page: it reports what a reader must not see, and only
    that (not in scripts, code blocks, the search box or a folded table's first rows)."""
    head = "".join(f"<th>列{i}</th>" for i in range(9))
    bad = f"""<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>
<div class="search-button-field">None</div>
<article class="bd-article"><p>转化率为 nan，p 值 3.82e-85，标记 True。</p><p>正常：1,234 人、12.5%、2026-01-01。</p>
<script>var x = None;</script><pre>inf = None</pre>
<table class="gl-table"><thead><tr><th>user_count</th><th>人数</th></tr></thead>
<tbody><tr><td>&lt;NA&gt;</td><td>-inf</td></tr></tbody></table>
<table class="gl-table gl-preview"><thead><tr>{head}</tr></thead><tbody><tr><td>False</td></tr></tbody></table>
<details class="gl-more"><summary>展开</summary>
<table class="gl-table"><thead><tr>{head}</tr></thead><tbody><tr><td>NaT</td></tr></tbody></table></details>
<div class="gl-table-tools"><input placeholder="None"><span>NaN</span></div>
</article></body></html>"""
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "bad.html").write_text(bad, encoding="utf-8")
    (tmp_path / "site" / "good.html").write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body><article class="bd-article">'
        "<p>转化率 12.5%，共 1,234 人，e 值以上无。</p><table><tr><th>渠道</th></tr><tr><td>否</td></tr></table>"
        "</article></body></html>", encoding="utf-8")
    report = _layout_report(tmp_path / "site", ["bad.html", "good.html"], tmp_path / "profile")
    assert sorted(r.split(": ", 1)[1].split(" in ")[0] for r in report["raw"]) == sorted(
        ["nan", "3.82e-85", "True", "<NA>", "-inf", "NaT"]), report["raw"]
    assert all(r.startswith("bad.html") for r in report["raw"])
    assert report["snake"] == ["bad.html: user_count"]
    assert report["wide"] == ["bad.html: 9 columns [列0, 列1, 列2, 列3 ...]"]


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install -y chromium)")
def test_chapter_pages_fit_a_phone_and_a_desktop_in_headless_chromium(tmp_path: Path) -> None:
    """At 1400 and 390 px no chapter page is wider than the window (wide tables scroll in their
    own box, figures shrink) and every figure has at least twice the pixels it is shown with;
    the chapters' main content shows no raw value (True, nan, None, 3.82e-85 ...), no snake_case
    table header and no table of more than 8 columns."""
    html = _demo_book(tmp_path)
    pages = [f"chapters/{Path(f).name}.html" for f in _toc_files() if f.startswith("chapters/")]
    report = _layout_report(html, pages, tmp_path / "profile")
    assert len(report["checked"]) == 2 * len(pages) and report["figures"] > 20
    assert report["tables"] > 20, "the chapters' tables were read"
    assert report["overflow"] == [], report["overflow"][:5]
    assert report["blurry"] == [], report["blurry"][:5]
    assert report["raw"] == [], report["raw"][:10]
    assert report["snake"] == [], report["snake"][:10]
    assert report["wide"] == [], report["wide"][:10]

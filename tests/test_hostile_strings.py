"""Hostile data strings (markup, quotes, a `$`) reach the book only as text.

Campaign names, UTM values and city names of a copy of the demo data are replaced by markup that
would run a script or change the page if it were not escaped. The book is built for the campaign
review and channel chapters (and the summary, which renders its own HTML), published as a site,
and opened in Debian's headless Chromium: no script ran, no console error, the text is literal.
"""

from __future__ import annotations

import functools
import html
import http.server
import re
import shutil
import subprocess
import threading
from pathlib import Path

import matplotlib
import pytest

from growthloop import DEMO_DATA

matplotlib.use("Agg")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Each would set an attribute on <body> if it ran; the attribute can only appear through a script.
SCRIPT = "<script>document.body.setAttribute('data-pwned','script')</script>"
IMG = "<img src=x onerror=\"document.body.setAttribute('data-pwned','img')\">"
QUOTES = "引号\"双\" & '单' </td></tr></table>"
DOLLAR = "$x$ 美元$"
HOSTILE = [SCRIPT, IMG, QUOTES, DOLLAR]


def _hostile(i: int) -> str:
    return f"{HOSTILE[i % len(HOSTILE)]} #{i}"


def write_hostile_demo(folder: Path) -> Path:
    """The demo data with every campaign name, utm_campaign value and city made hostile.

    Each distinct value maps to its own hostile text (the index keeps them distinct, so the
    costs key stays unique); the first campaign ids' names are one of each kind.
    """
    import duckdb

    folder.mkdir(parents=True)
    shutil.copy2(DEMO_DATA / "dataset.yml", folder / "dataset.yml")
    con = duckdb.connect()
    utms = sorted(r[0] for r in con.sql(
        f"SELECT DISTINCT utm_campaign FROM '{DEMO_DATA / 'events.parquet'}' WHERE utm_campaign IS NOT NULL "
        f"UNION SELECT DISTINCT utm_campaign FROM '{DEMO_DATA / 'costs.parquet'}' WHERE utm_campaign IS NOT NULL "
        f"UNION SELECT DISTINCT utm_campaign FROM '{DEMO_DATA / 'users.parquet'}' WHERE utm_campaign IS NOT NULL"
    ).fetchall())
    cities = sorted(r[0] for r in con.sql(
        f"SELECT DISTINCT city FROM '{DEMO_DATA / 'users.parquet'}' WHERE city IS NOT NULL").fetchall())
    names = sorted(r[0] for r in con.sql(f"SELECT campaign_id FROM '{DEMO_DATA / 'campaigns.parquet'}'").fetchall())
    con.execute("CREATE TABLE utm_map AS SELECT * FROM (VALUES " + ",".join(
        "(?, ?)" for _ in utms) + ") t(old, new)", [v for i, u in enumerate(utms) for v in (u, _hostile(i))])
    con.execute("CREATE TABLE city_map AS SELECT * FROM (VALUES " + ",".join(
        "(?, ?)" for _ in cities) + ") t(old, new)", [v for i, c in enumerate(cities) for v in (c, _hostile(i + 1))])
    con.execute("CREATE TABLE name_map AS SELECT * FROM (VALUES " + ",".join(
        "(?, ?)" for _ in names) + ") t(id, new)", [v for i, c in enumerate(names) for v in (c, _hostile(i + 2))])
    for table in ("users", "events", "costs"):
        src = DEMO_DATA / f"{table}.parquet"
        cols = [r[0] for r in con.sql(f"DESCRIBE SELECT * FROM '{src}'").fetchall()]
        select = ", ".join(
            "COALESCE(u.new, t.utm_campaign) AS utm_campaign" if c == "utm_campaign"
            else "COALESCE(c.new, t.city) AS city" if c == "city" and table == "users"
            else f"t.{c}" for c in cols)
        city_join = "LEFT JOIN city_map c ON t.city = c.old" if table == "users" else ""
        con.execute(f"COPY (SELECT {select} FROM '{src}' t LEFT JOIN utm_map u ON t.utm_campaign = u.old "
                    f"{city_join}) TO '{folder / f'{table}.parquet'}' (FORMAT parquet)")
    src = DEMO_DATA / "campaigns.parquet"
    cols = [r[0] for r in con.sql(f"DESCRIBE SELECT * FROM '{src}'").fetchall()]
    select = ", ".join("n.new AS name" if c == "name" else f"t.{c}" for c in cols)
    con.execute(f"COPY (SELECT {select} FROM '{src}' t JOIN name_map n ON t.campaign_id = n.id) "
                f"TO '{folder / 'campaigns.parquet'}' (FORMAT parquet)")
    for table in ("transactions", "campaign_members"):
        shutil.copy2(DEMO_DATA / f"{table}.parquet", folder / f"{table}.parquet")
    return folder


def test_dollar_in_a_label_is_text_not_mathtext() -> None:
    """A `$` in a campaign name must not start mathtext: with the book's theme an unbalanced or
    invalid formula draws as plain text (mathtext would raise on it at draw time)."""
    import matplotlib.pyplot as plt

    from growthloop.present import theme

    theme.apply()
    assert plt.rcParams["text.parse_math"] is False
    fig, ax = plt.subplots()
    ax.set_title(r"活动 $\frac{x$ 与 $x$")
    ax.annotate("渠道 $x$", (0, 0))
    fig.canvas.draw()  # raises ValueError under mathtext
    assert ax.title.get_text() == r"活动 $\frac{x$ 与 $x$"
    plt.close(fig)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory) -> tuple[Path, Path]:
    """Run chapters 03 and 06 (and the summary) on the hostile demo, then publish the run."""
    from growthloop.run.runner import CampaignRun, run_campaign
    from growthloop.run.site import publish

    tmp = tmp_path_factory.mktemp("hostile")
    data = write_hostile_demo(tmp / "data")
    # the demo campaign's review (campaigns/demo.yml): C2026_01 has a next round with targets
    run = run_campaign(CampaignRun(name="hostile", data=data, chapters=["03", "06"],
                                   parameters={"campaign_id": "C2026_01"}),
                       runs_dir=tmp / "runs", progress=lambda _m: None)
    site = publish(tmp / "runs", tmp / "www" / "site", progress=lambda _m: None)
    return run, site


@pytest.mark.slow
def test_hostile_strings_are_escaped_in_the_files(hostile_site) -> None:
    run, site = hostile_site
    pages = [run / "_build" / "html" / "chapters" / f"{s}.html"
             for s in ("03_channel_attribution", "06_closed_loop_review", "99_summary")]
    pages += [site / "index.html", site / "compare.html"]
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "data-pwned','script')</script>" not in text, f"{page.name}: raw <script> from the data"
        assert "<img src=x onerror" not in text and '<img src="x"' not in text, f"{page.name}: raw <img>"
    review = pages[1].read_text(encoding="utf-8")
    # the campaign names, escaped, in the campaign list table and in the glued prose
    assert html.escape(SCRIPT, quote=False) in review or html.escape(SCRIPT) in review
    assert "$x$ 美元$" in review
    channels = pages[0].read_text(encoding="utf-8")
    assert "&lt;script&gt;" in channels, "the utm_campaign values show in the campaign monitor"


@pytest.mark.slow
def test_exports_stay_private(hostile_site) -> None:
    """Chapter 6 writes its target list (user ids) to the run's exports/: never into the HTML
    build or the published site, and ignored by git wherever runs/ or exports/ live."""
    import pandas as pd

    from growthloop import PROJECT_ROOT

    run, site = hostile_site
    targets = run / "exports" / "06_closed_loop_review" / "next_round_targets.csv"
    ids = set(pd.read_csv(targets, encoding="utf-8-sig", dtype=str)["user_id"])
    assert ids, "the demo campaign has targets for the next round"
    for html_dir in (run / "_build" / "html", site):
        assert not [p for p in html_dir.rglob("*") if "exports" in p.parts]
        for path in html_dir.rglob("*"):
            if path.is_file() and path.suffix in {".html", ".csv", ".js", ".json", ".txt", ".ipynb"}:
                words = set(re.findall(r"U\d{8}", path.read_text(encoding="utf-8", errors="ignore")))
                assert not words & ids, f"{path}: a target's user id is published"
    rel = f"runs/hostile/{run.name}/exports/06_closed_loop_review/next_round_targets.csv"
    for path in (rel, "exports/04_rfm/rfm_members_x.csv"):
        ignored = subprocess.run(["git", "-C", str(PROJECT_ROOT), "check-ignore", "-q", path])
        assert ignored.returncode == 0, f"{path} is not ignored by git"


def _dump(url: str, profile: Path, budget_ms: int = 15000) -> tuple[str, str]:
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--disable-extensions", "--disable-background-networking",
             f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0"]
    done = subprocess.run([*flags, f"--virtual-time-budget={budget_ms}", "--dump-dom", url],
                          capture_output=True, text=True, timeout=180)
    return done.stdout, done.stderr


def _console_errors(stderr: str) -> list[str]:
    """Console messages of the page: uncaught exceptions and failed loads of local files.

    Chromium logs them as `CONSOLE(line)] "message", source: url`. Failed fetches of remote
    assets (the machine may be offline) are not the page's fault and are not counted.
    """
    errors = []
    for line in stderr.splitlines():
        if "CONSOLE" not in line:
            continue
        local_load = "Failed to load resource" in line and "127.0.0.1" in line
        if "Uncaught" in line or local_load or ("Failed to load resource" not in line and ":ERROR:" in line):
            errors.append(line)
    return errors


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install -y chromium)")
def test_hostile_strings_in_headless_chromium(hostile_site, tmp_path: Path) -> None:
    run, site = hostile_site
    www = site.parent
    book = www / "site" / "runs" / "hostile" / run.name
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(www)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        urls = {name: f"{base}/{(book / 'chapters' / f'{name}.html').relative_to(www).as_posix()}"
                for name in ("03_channel_attribution", "06_closed_loop_review", "99_summary")}
        urls["index"] = f"{base}/site/index.html"
        urls["compare"] = f"{base}/site/compare.html"
        doms = {}
        for name, url in urls.items():
            dom, log = _dump(url, tmp_path / "profile")
            assert "</html>" in dom, f"{name} did not render: {log[-500:]}"
            assert "data-pwned" not in _body_tag(dom), f"{name}: a script from the data ran"
            assert not re.search(r"<img[^>]+src=\"x\"", dom), f"{name}: an <img> from the data became an element"
            assert _console_errors(log) == [], f"{name}: console errors {_console_errors(log)[:3]}"
            doms[name] = dom
        # the text shows literally: the markup as characters, the quotes and the dollar signs
        review = doms["06_closed_loop_review"]
        assert "&lt;script&gt;document.body.setAttribute('data-pwned','script')&lt;/script&gt;" in review
        assert "&lt;img src=x onerror=\"document.body.setAttribute('data-pwned','img')\"&gt;" in review
        assert "引号\"双\" &amp; '单' &lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;" in review
        assert "$x$ 美元$" in review
        assert "&lt;script&gt;" in doms["03_channel_attribution"]
        assert "&lt;" in doms["index"] or "$x$" in doms["index"], "the reviewed campaign's name is on the index"
    finally:
        server.shutdown()


def _body_tag(dom: str) -> str:
    m = re.search(r"<body[^>]*>", dom)
    return m.group(0) if m else ""

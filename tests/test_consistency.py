"""One meaning per number: what two pages of the committed book both show, they show alike.

The chapters are executed separately, each with its own queries, so nothing but a test keeps a
number the same on every page. These tests read what the book publishes (the committed
tables/<chapter>/*.csv and the chapters' glue, refreshed with the notebooks) and fail when:

- a column that means one quantity (its registry key) differs between two tables for the same
  channel (registrations, first investors, spend, cost per registration, cost per investor);
- the same total is glued differently by two chapters (registered users, investors);
- the summary page shows a number other than the one its chapter glued.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from growthloop import PROJECT_ROOT
from growthloop.present import summary as sm
from growthloop.present.registry import TERMS

TABLES = PROJECT_ROOT / "tables"
TOTAL_ROWS = {"合计", "总计"}

#: Columns that mean one quantity per channel wherever they appear, and columns of other names
#: that are the same quantity: (table, column) -> registry key.
SAME_QUANTITY = {
    ("01_user_profiling/composition", "users"): "registrations",
    ("01_user_profiling/composition", "investors"): "first_investors",
}
PER_CHANNEL = ("registrations", "first_investors", "spend", "cost_per_registration",
               "cost_per_investor", "revenue_per_yuan")


def _per_channel(name: str, frame: pd.DataFrame) -> pd.DataFrame | None:
    """The table as rows by channel (sign-up or touch channel), or None when it has none."""
    if name == "01_user_profiling/composition":
        frame = frame[frame["dimension"] == "signup_channel"].rename(columns={"value": "channel"})
    elif name == "05_lifecycle_retention/nth_investment_by_channel":
        # the first investment's row counts each channel's first investors
        frame = frame[frame["n"] == "1"].rename(columns={"group": "channel", "users": "first_investors"})
    if "channel" not in frame.columns or name.endswith("_campaign") or "week" in frame.columns:
        return None  # per campaign or per week: another grain
    return frame[~frame["channel"].isin(TOTAL_ROWS)].set_index("channel")


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None  # blank or "<10": not shown
    return None if math.isnan(value) else value


def published_by_channel() -> dict[str, dict[str, list[tuple[str, float]]]]:
    """{registry key: {channel: [(table, value), ...]}} over every committed table."""
    found: dict[str, dict[str, list[tuple[str, float]]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(TABLES.glob("*/*.csv")):
        name = f"{path.parent.name}/{path.stem}"
        frame = _per_channel(name, pd.read_csv(path, encoding="utf-8-sig", dtype=str,
                                               keep_default_na=False))
        if frame is None:
            continue
        for column in frame.columns:
            key = SAME_QUANTITY.get((name, column), column)
            if key not in PER_CHANNEL:
                continue
            for channel, text in frame[column].items():
                value = _number(text)
                if value is not None:
                    found[key][channel].append((name, value))
    return found


def test_a_channel_metric_is_the_same_on_every_page() -> None:
    found = published_by_channel()
    assert set(found) == set(PER_CHANNEL), "every shared metric is published by some table"
    disagree = []
    compared = 0
    for key, channels in found.items():
        for channel, seen in channels.items():
            values = [v for _t, v in seen]
            compared += len(values) > 1
            if max(values) - min(values) > 1e-6 * max(1.0, abs(max(values))):
                disagree.append(f"{TERMS[key].label} of {channel}: {seen}")
    assert compared > 30, "the tables share channels to compare"
    assert not disagree, "\n".join(disagree[:10])


def test_the_book_totals_agree_between_chapters() -> None:
    glued = {k: g.value for p in sorted((PROJECT_ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
             for k, g in sm.read_glue(p).values.items()}
    same = {
        "registered users": ("prof_users", "funnel_registered", "attr_registrations"),
        "investors": ("prof_investors", "attr_investors", "attr_conversions", "rfm_investors",
                      "ret_first_investors", "prof_cluster_investors"),
    }
    for what, keys in same.items():
        values = {k: glued[k] for k in keys if k in glued}
        assert len(values) >= 3, (what, values)
        assert len(set(values.values())) == 1, f"{what} differ between chapters: {values}"


def _summary_html() -> str:
    nb = nbformat.read(PROJECT_ROOT / "chapters" / f"{sm.SUMMARY_STEM}.ipynb", as_version=4)
    return "".join(str(o.get("data", {}).get("text/html", "")) for c in nb.cells
                   if c.cell_type == "code" for o in c.get("outputs", []))


def test_the_summary_shows_its_chapters_numbers() -> None:
    """The committed summary page shows every headline number as its chapter glued it, and the
    campaign block's uplift, interval and ROI as chapter 6 glued them."""
    page = _summary_html()
    book = sm.collect()
    rows = sm.headlines(book)
    assert len(rows) > 10
    for row in rows:
        cell = f">{row['value']}</a>"
        assert cell in page.replace("&lt;", "<"), f"{row['label']}: {row['value']} not on the summary page"
    c = book.campaign
    assert c is not None
    for shown in (sm.points(c["uplift"]), sm.points(c["ci_low"]), sm.points(c["ci_high"]),
                  f"{c['roi']:.0%}", f"{round(c['inc_responders']):,} 人"):
        assert shown in page, shown
    top = book.top_actions[0]
    assert top.value_text in page and top.text in page


@pytest.mark.parametrize("key", PER_CHANNEL)
def test_a_shared_metric_has_one_label(key: str) -> None:
    assert key in TERMS and re.search(r"[\u4e00-\u9fff]", TERMS[key].label)


def test_the_check_finds_a_disagreement(tmp_path: Path, monkeypatch) -> None:
    """The per-channel check fails when one table publishes another number for a channel."""
    for chapter in ("03_channel_attribution", "05_lifecycle_retention"):
        (tmp_path / chapter).mkdir()
    pd.DataFrame({"channel": ["A", "合计"], "registrations": [10, 10]}).to_csv(
        tmp_path / "03_channel_attribution" / "channel_monitor.csv", index=False, encoding="utf-8-sig")
    pd.DataFrame({"channel": ["A"], "registrations": [11]}).to_csv(
        tmp_path / "05_lifecycle_retention" / "ltv_cac.csv", index=False, encoding="utf-8-sig")
    monkeypatch.setattr(__import__(__name__), "TABLES", tmp_path)
    found = published_by_channel()
    assert found["registrations"]["A"] == [("03_channel_attribution/channel_monitor", 10.0),
                                           ("05_lifecycle_retention/ltv_cac", 11.0)]

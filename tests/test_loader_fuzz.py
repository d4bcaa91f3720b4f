"""Property-based fuzzing of the loader on generated CSV folders (hypothesis).

Whatever the files hold (Chinese text, blanks, quotes, commas, line breaks, NULL tokens, bad
numbers and dates, a dropped or an extra column, a broken line, GBK / UTF-8 / UTF-8-with-BOM),
the only allowed outcomes are a Dataset whose accounting balances, or a DataError / ConfigError
naming what is wrong. Any other exception is a loader bug. Derandomized, so CI is repeatable.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from growthloop.staging.config import ConfigError
from growthloop.staging.contract import TABLES
from growthloop.staging.loader import DataError, open_dataset

TODAY = dt.date(2025, 6, 30)
IDS = ["U1", "U2", "U3", "U4", "用户5", "U6"]
SIGNUPS = ["2025-01-01 10:00:00", "2025/1/1 9:30", "2024-12-31T20:00:00Z", "2025-01-01T10:00:00+08:00"]
LATER = ["2025-01-03 10:00:00", "2025/1/4 9:30", "2025-01-05T02:00:00Z", "2025-02-01 23:59:59",
         "2025-04-01 08:00:00"]
BAD_TIMES = ["2025-02-30 10:00:00", "31/12/2025", "2099-01-01 00:00:00", "0000-00-00", "20250101",
             "2025年1月1日", "yesterday", "infinity", "-infinity", "epoch", "99999-01-01", "0001-01-01",
             "2024-06-01 10:00:00"]
BAD_NUMBERS = ["1,000", "1e400", "inf", "-0", "¥5", "0x1F", "NaN", "9" * 30, "--1", "1.2.3", "0", "-5",
               "50000000", "30.5"]
JUNK = ["", " ", "NULL", "\\N", "None", "#N/A", '"', "'", ",", "a,b", 'say "hi"', "line\nbreak",
        "\t", "；", "，", "中文，逗号", "U99", "page_view", "failed", "holdout"]
GOOD = {  # plausible values; ids and times are set per row so that the rows fit together
    "anonymous_id": ["A1", "A2", "设备3"], "event_name": ["register", "app_open", "bind_card", "page_view"],
    "birth_year": ["1990", "2001", "1975.0", ""], "gender": ["男", "女", "M"],
    "province": ["广东", "四川"], "city": ["深圳", "绵阳"], "device_os": ["iOS", "Android"],
    "amount": ["100", "1000.5", "20000"], "term_days": ["0", "30", "90"],
    "status": ["success", "success", "success", "failed"], "product_type": ["活期", "定期1月"],
    "utm_source": ["baidu", "toutiao", ""], "utm_medium": ["cpc", ""], "utm_campaign": ["brand", "新年"],
    "spend": ["100", "0", "12.5"], "revenue": ["", "1.5"], "impressions": ["1000", ""],
    "clicks": ["10", ""], "landing_url": ["https://a.cn/?utm_source=baidu", ""], "inviter_id": ["", "U1"], "city_tier": ["一线", ""],
}
FUZZ_TABLES = ("users", "events", "transactions", "costs")

text = st.text(alphabet=st.sampled_from(list("abcXYZ019 ,;\"'\n\t-:/.用户张三注册投资金额¥€é")), max_size=10)


def good_value(draw, name: str, column: str, i: int) -> str:
    """A value that fits the other tables: row i's own id, a time after every sign-up ..."""
    if column == "user_id":
        return IDS[i] if name == "users" else draw(st.sampled_from(IDS[:4] + [""] * (name == "events")))
    if column == "txn_id":
        return f"T{i}"
    if column == "registered_at":
        return draw(st.sampled_from(SIGNUPS))
    if column in ("event_time", "txn_time"):
        return draw(st.sampled_from(LATER))
    if column == "date":
        return f"2025-01-{i + 1:02d}"
    return draw(st.sampled_from(GOOD.get(column, ["x"])))


@st.composite
def cell(draw, name: str, column: str, i: int) -> str:
    """Mostly a value that fits; about one in ten is junk of some kind."""
    roll = draw(st.integers(0, 39))
    if roll < 36:
        return good_value(draw, name, column, i)
    if roll < 38:
        return draw(st.sampled_from(BAD_TIMES + BAD_NUMBERS + JUNK))
    return draw(text)


@st.composite
def table_file(draw, name: str) -> dict:
    """One table: header (maybe with a column dropped, renamed or added), rows, encoding."""
    spec = TABLES[name]
    columns = [c.name for c in spec.columns if c.required or draw(st.booleans())]
    # rare events test a middle value: hypothesis favours 0 and the bounds
    if draw(st.integers(0, 19)) == 7:
        columns.remove(draw(st.sampled_from(columns)))  # a missing column: a clear error
    header = list(columns)
    if draw(st.integers(0, 4)) == 2:
        header.append(draw(text) or "extra")  # an extra column, any name (quotes, commas ...)
    if draw(st.integers(0, 4)) == 3:
        i = draw(st.integers(0, len(header) - 1))
        header[i] = f" {header[i]} "  # Excel keeps spaces around a header
    n_rows = draw(st.integers(0 if name == "costs" else 1, len(IDS)))
    rows = [[draw(cell(name, col.strip(), i)) for col in header] for i in range(n_rows)]
    return {"header": header, "rows": rows,
            "encoding": draw(st.sampled_from(["utf-8", "gbk", "utf-8-sig"])),
            "declared_wrong": draw(st.integers(0, 19)) == 11,
            "broken_line": draw(st.integers(0, 19)) == 13}


@st.composite
def dataset(draw) -> dict:
    tables = {name: draw(table_file(name)) for name in FUZZ_TABLES if name != "costs" or draw(st.booleans())}
    share = draw(st.sampled_from([1.0, 0.2, 1.0, 1.0]))
    return {"tables": tables, "share": share}


def write(folder: Path, spec: dict) -> None:
    config: dict = {"name": "fuzz", "tables": {}}
    if spec["tables"] and len(spec["tables"]) % 2:
        config["analysis_date"] = "2025-03-31"  # half the cases use the default (last event day)
    for name, t in spec["tables"].items():
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows([t["header"], *t["rows"]])
        body = out.getvalue()
        if t["broken_line"]:
            body += "only,two\n" if len(t["header"]) != 2 else "a,b,c,d\n"
        enc = t["encoding"]
        if enc == "gbk":
            body = body.encode("gbk", errors="replace").decode("gbk")  # what Excel would save
            declared = "utf-8" if t["declared_wrong"] else "gbk"
            config["tables"][name] = {"encoding": declared}
        elif t["declared_wrong"]:
            config["tables"][name] = {"encoding": "gbk"}
        (folder / f"{name}.csv").write_bytes(body.encode(enc))
    (folder / "dataset.yml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")


def check(folder: Path, share: float) -> str:
    """Load; return the outcome. Fails the test on any exception that is not ours."""
    try:
        ds = open_dataset(folder, max_set_aside_share=share, today=TODAY)
    except DataError as exc:
        assert str(exc).startswith(("table '", "dataset")), str(exc)
        return "DataError"
    except ConfigError as exc:
        assert "dataset.yml" in str(exc)
        return "ConfigError"
    summary = ds.quality.summary()
    for row in summary.itertuples(index=False):
        assert row.rows_read == row.rows_used + row.rows_set_aside, row
        assert row.rows_used == ds.tables[row.table].count().to_pyarrow().as_py(), row
        if row.rows_used == 0:  # allowed only for transactions that are all unsuccessful
            rules = {r.rule for r in ds.quality.set_aside if r.table == row.table}
            assert row.table == "transactions" and rules == {"transaction not successful"}, row
    for name in ds.tables:
        assert set(ds.tables[name].columns) == set(TABLES[name].column_names)
    assert ds.analysis_date <= TODAY
    return "loaded"


def test_loader_never_crashes() -> None:
    """50 generated folders: each loads with balanced books or raises one of our errors.

    The outcomes must include both a load and a DataError, so the generator is neither so
    hostile that nothing loads nor so tame that nothing fails.
    """
    outcomes: list[str] = []

    @settings(max_examples=50, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(dataset())
    def run(spec: dict) -> None:
        folder = Path(tempfile.mkdtemp(prefix="gl-fuzz-"))
        try:
            write(folder, spec)
            outcomes.append(check(folder, spec["share"]))
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    run()
    assert "loaded" in outcomes and "DataError" in outcomes, outcomes

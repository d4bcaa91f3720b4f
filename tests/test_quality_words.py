"""The data-quality page says the loader's rules, notes and severities in Chinese.

The loader keeps its English labels (DataError messages, `growthloop validate`, the loader's
tests); `growthloop.staging.rule_words` words them in Chinese for the page. Every label the
loader can produce is listed here the way the loader builds it (its rule builders are called,
the contract gives the per-column templates), a scan of loader.py checks that no rule template
is missing from that list, and each label must come out Chinese: a new loader rule without
wording fails here.
"""

from __future__ import annotations

import ast
import datetime as dt
import inspect
import re
import textwrap
from pathlib import Path
from types import SimpleNamespace

import ibis
import pandas as pd
import pytest
from conftest import event, txn, user, write_dataset

from growthloop.staging import loader, quality
from growthloop.staging.contract import RESERVED_EVENT_COLUMNS, STRING, TABLES, TIMESTAMP
from growthloop.staging.loader import INFORMATIONAL_RULES, MAX_AMOUNT, NOT_IN_FUTURE, open_dataset
from growthloop.staging.rule_words import SEVERITY_WORDS, rule_text, severity_text

#: Zones a daylight-saving note may name (an underscore, two slashes, a sign).
ZONES = ("America/New_York", "America/Indiana/Knox", "Europe/Berlin", "Australia/Lord_Howe")
#: English a Chinese wording may keep: contract column and table names, the values the rules
#: compare with, the max_amount parameter (time zones are removed before the check).
KEPT_WORDS = ({c.name for t in TABLES.values() for c in t.columns} | set(TABLES)
              | {"treatment", "control", "success", "max_amount"})
CJK = re.compile(r"[\u4e00-\u9fff]")


def _builders_labels() -> set[str]:
    """The labels of the loader's own rule builders (`_table_rules`, `_key_rules`, `_notes`),
    for every table, with and without a status, at two amount caps."""
    labels: set[str] = set()
    for has_status in (True, False):
        for cap in (MAX_AMOUNT, 50_000.0):
            stub = SimpleNamespace(today=dt.date(2025, 6, 30), max_amount=cap, _has_status=has_status)
            for spec in TABLES.values():
                table = ibis.table({c.name: loader._IBIS_TYPES[c.dtype] for c in spec.columns},
                                   name=f"t_{spec.name}")
                labels |= {label for label, _ in loader._Loader._table_rules(stub, spec, table)}
                labels |= {label for label, _ in loader._Loader._notes(stub, spec)}
                if spec.key:
                    labels |= {label for label, _ in loader._Loader._key_rules(stub, spec, table)[1]}
    return labels


def loader_labels() -> set[str]:
    """Every rule and note label the loader can produce, built as the loader builds them."""
    labels = _builders_labels() | {"exact duplicate row"}  # _check_table's copies
    for spec in TABLES.values():
        for col in spec.columns:  # _prepare_columns' parse rules and daylight-saving notes
            if not col.nullable:
                labels.add(f"{col.name} is missing")
            if col.dtype != STRING:
                labels.add(f"{col.name} does not parse as {col.dtype}")
            if col.dtype == TIMESTAMP:
                labels |= {f"{col.name} falls in a daylight-saving gap of {zone} (kept, read as the "
                           "time after the gap)" for zone in ZONES}
        for col in NOT_IN_FUTURE.get(spec.name, ()):
            labels.add(f"{col} is after today")
    return labels


def _template(node: ast.AST) -> str | None:
    """A string or f-string as a regex: its text, each {...} as '.+'."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return re.escape(node.value)
    if isinstance(node, ast.JoinedStr):
        return "".join(re.escape(v.value) if isinstance(v, ast.Constant) else ".+" for v in node.values)
    return None


def loader_templates() -> set[str]:
    """The label templates written in loader.py's rule code: QualityRow's rule, the texts of
    (label, rule) pairs, the daylight-saving note glued to its column."""
    found: set[str] = set()
    for name in ("_prepare_columns", "_table_rules", "_notes", "_key_rules", "_check_table"):
        fn = getattr(loader, name, None) or getattr(loader._Loader, name)
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
        for node in ast.walk(tree):
            if isinstance(node, ast.Tuple) and len(node.elts) == 2:
                found |= {t for t in map(_template, node.elts) if t}
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id == "QualityRow" and len(node.args) > 1:
                found |= {t for t in [_template(node.args[1])] if t}
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr == "concat":
                found |= {".+" + t for t in map(_template, node.args) if t}
    # the store's own table names (f"gl_staged_{name}", f"gl_tagged_{name}") are pairs too
    return {t for t in found if not t.startswith("gl_")}


def test_every_template_of_the_loader_is_in_the_list() -> None:
    """A rule or note the loader gains must be added to `loader_labels` (and get its wording)."""
    labels = loader_labels()
    templates = loader_templates()
    assert len(templates) >= 25  # the scan sees the rule code (it is not looking elsewhere)
    unlisted = sorted(t for t in templates if not any(re.fullmatch(t, label) for label in labels))
    assert unlisted == []


def test_every_label_of_the_loader_reads_chinese() -> None:
    labels = loader_labels()
    assert len(labels) > 60
    bad = {}
    for label in sorted(labels):
        words = rule_text(label)
        rest = words
        for zone in ZONES:
            rest = rest.replace(zone, "")
        english = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", rest)) - KEPT_WORDS
        if words == label or not CJK.search(words) or english:
            bad[label] = (words, sorted(english))
    assert bad == {}


def test_the_labels_the_bad_inputs_corpus_meets_read_chinese() -> None:
    """The labels test_bad_inputs.py sees the loader set aside (its expected reasons)."""
    from test_bad_inputs import QUARANTINE

    seen = {rule for _, _, expected in QUARANTINE for (_, rule) in expected}
    assert seen <= loader_labels()
    assert all(CJK.search(rule_text(rule)) for rule in seen)


# Worked out by hand: the loader's label, the page's wording.
WORDING = {
    "exact duplicate row": "完全相同的重复行",
    "key appears with different values": "同一主键出现不同取值",
    "user_id is missing": "user_id 缺失",
    "registered_at does not parse as timestamp": "registered_at 无法解析为时间",
    "date does not parse as date": "date 无法解析为日期",
    "birth_year does not parse as int64": "birth_year 无法解析为整数",
    "amount does not parse as float64": "amount 无法解析为数字",
    "delivered does not parse as boolean": "delivered 无法解析为是/否",
    "event_time is after today": "event_time 晚于今天",
    "amount is zero or negative": "amount 为零或负数",
    "amount is above max_amount (10,000,000 yuan)": "amount 超过单笔上限 max_amount（10,000,000 元）",
    "amount is above max_amount (50,000 yuan)": "amount 超过单笔上限 max_amount（50,000 元）",
    "spend is negative": "spend 为负数",
    "transaction not successful": "交易未成功",
    "event has neither user_id nor anonymous_id": "事件既没有 user_id 也没有 anonymous_id",
    "event of a user not in users": "事件的用户不在 users 表中",
    "transaction before the user's sign-up": "交易早于该用户的注册时间",
    "window_days is not a positive number of days": "window_days 不是正的天数",
    "group is neither treatment nor control": "group 既不是 treatment（实验组）也不是 control（对照组）",
    "member is in both treatment and control": "同一成员同时在 treatment（实验组）和 control（对照组）中",
    "campaign not in campaigns": "活动不在 campaigns 表中",
    "member not in users": "成员不在 users 表中",
    "event up to 60 s before the user's sign-up (kept: the sign-up time and the log differ by seconds)":
        "事件早于该用户的注册时间不超过 60 秒（保留：注册时间与日志来自两个系统，时钟相差几秒）",
    "status 'success' written in another case or with spaces (kept)":
        "status 的 success 大小写不同或带空格（保留）",
    "no status in the file: every transaction counts as an investment":
        "文件中的 status 全为空：每笔交易都算作投资",
    "event_time falls in a daylight-saving gap of America/New_York (kept, read as the time after the gap)":
        "event_time 落在 America/New_York 夏令时拨快时跳过的时段（保留，按跳过之后的时间读取）",
}


@pytest.mark.parametrize(("label", "words"), WORDING.items(), ids=list(WORDING))
def test_wording_by_hand(label: str, words: str) -> None:
    assert rule_text(label) == words


def test_unknown_labels_and_severities_are_returned_unchanged() -> None:
    assert rule_text("a rule added later") == "a rule added later"
    assert rule_text("amount does not parse as decimal") == "amount does not parse as decimal"
    assert rule_text("") == ""
    assert rule_text(rule_text("exact duplicate row")) == "完全相同的重复行"  # Chinese stays
    assert severity_text("quarantined") == "quarantined"


def test_severities() -> None:
    assert {s: severity_text(s) for s in ("set aside", "informational", "kept")} == {
        "set aside": "搁置", "informational": "提示（不进入分析）", "kept": "保留并计数"}
    assert set(SEVERITY_WORDS) == {"set aside", "informational", "kept"}
    assert all(CJK.search(rule_text(r)) for r in INFORMATIONAL_RULES)
    assert loader_severities() == set(SEVERITY_WORDS)


def loader_severities() -> set[str]:
    """The severities written in loader.py: assigned to or compared with `severity`, a
    `severity=` argument, QualityRow's default."""
    found: set[str] = set()

    def strings(node: ast.AST) -> set[str]:
        return {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)}

    for node in ast.walk(ast.parse(inspect.getsource(loader))):
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if node.value is not None and any(isinstance(t, ast.Name) and t.id == "severity"
                                              for t in targets):
                found |= strings(node.value)
        elif isinstance(node, ast.Compare) and isinstance(node.left, ast.Name) and node.left.id == "severity":
            found |= set().union(*map(strings, node.comparators))
        elif isinstance(node, ast.keyword) and node.arg == "severity":
            found |= strings(node.value)
    return found


def test_property_names_are_no_rule() -> None:
    """Event properties are text: they have no parse rule, so no label to word."""
    assert not [label for label in loader_labels() if any(label.startswith(p + " ")
                                                          for p in RESERVED_EVENT_COLUMNS)]


# --------------------------------------------------------------------------------------------
# The page's tables and findings, on a dataset worked out by hand


@pytest.fixture(scope="module")
def bad_ds(tmp_path_factory: pytest.TempPathFactory):
    """Users U1 and U2 (U2 twice), a null id, an unparseable sign-up; events and transactions
    breaking one rule each; a SUCCESS status and an event 30 s before the sign-up (kept)."""
    folder = write_dataset(
        tmp_path_factory.mktemp("words") / "d",
        users=[user("U1"), user("U2"), user("U2"), user(None), user("U4", registered_at="not a date")],
        events=[event("register", "2025-01-01 10:00:00", "U1"),
                event("page_view", "2025-01-01 11:00:00", "U1"),
                event("app_open", "2025-01-01 09:59:30", "U1"),
                event("register", "2024-06-01 10:00:00", "U2"),
                event("app_open", "2025-01-02 10:00:00", "U9"),
                event("app_open", "2025-01-02 10:00:00", None, None)],
        transactions=[txn("T1", "U1", "2025-01-02 09:00:00", 100.0),
                      txn("T2", "U9", "2025-01-02 09:00:00", 100.0),
                      txn("T3", "U1", "2025-01-02 09:00:00", 0.0),
                      txn("T4", "U1", "2025-01-02 09:00:00", 5.0, status="failed"),
                      txn("T5", "U1", "2024-01-02 09:00:00", 5.0),
                      txn("T6", "U1", "2025-01-03 09:00:00", 50.0, status="SUCCESS")],
        fmt="csv",
    )
    return open_dataset(folder, max_set_aside_share=1.0, today=dt.date(2025, 6, 30))


def test_reasons_table_is_chinese(bad_ds) -> None:
    got = quality.reasons(bad_ds)
    assert list(got.columns) == ["table", "rule", "rows", "severity", "share_of_table"]
    # by table, then rows (all 1), then the loader's English label
    assert got[["table", "rule", "severity"]].values.tolist() == [
        ["events", "事件早于该用户的注册时间", "搁置"],
        ["events", "事件既没有 user_id 也没有 anonymous_id", "搁置"],
        ["events", "事件的用户不在 users 表中", "搁置"],
        ["transactions", "amount 为零或负数", "搁置"],
        ["transactions", "交易早于该用户的注册时间", "搁置"],
        ["transactions", "交易未成功", "提示（不进入分析）"],
        ["transactions", "交易的用户不在 users 表中", "搁置"],
        ["users", "完全相同的重复行", "搁置"],
        ["users", "registered_at 无法解析为时间", "搁置"],
        ["users", "user_id 缺失", "搁置"],
    ]
    assert got.rows.tolist() == [1] * 10
    # read: 6 events, 6 transactions, 5 users
    assert got.share_of_table.round(6).tolist() == [round(1 / 6, 6)] * 7 + [0.2] * 3


def test_notes_table_is_chinese(bad_ds) -> None:
    got = quality.notes(bad_ds)
    assert got[["table", "note", "rows"]].values.tolist() == [
        ["events", "事件早于该用户的注册时间不超过 60 秒（保留：注册时间与日志来自两个系统，时钟相差几秒）", 1],
        ["transactions", "status 的 success 大小写不同或带空格（保留）", 1],
    ]
    assert got.share_of_table.round(6).tolist() == [round(1 / 6, 6)] * 2


def test_reasons_finding_quotes_the_chinese_rule(bad_ds) -> None:
    reasons, kept = quality.reasons(bad_ds), quality.notes(bad_ds)
    finding, action = quality.reasons_finding(reasons, kept)
    # ties of one row: events first, then the Chinese rule in code-point order (既 < 早 < 的)
    assert finding == ("搁置行数最多的规则是 events 表的“事件既没有 user_id 也没有 anonymous_id”（1 行，"
                       "占该表 16.67%）。 另有 2 行按规则保留并计数（见第二张表）。")
    assert action.startswith("搁置的规则逐条核对")
    # given the loader's English labels, the finding still quotes the Chinese wording
    english = bad_ds.quality.reasons().assign(share_of_table=0.5)
    english = english[english.table == "users"]
    finding, _ = quality.reasons_finding(english, kept.iloc[:0])
    assert finding == "搁置行数最多的规则是 users 表的“完全相同的重复行”（1 行，占该表 50.00%）。"


def test_only_informational_rows_read_as_normal_records() -> None:
    table = pd.DataFrame({"table": ["transactions"], "rule": ["交易未成功"], "rows": [3],
                          "severity": ["提示（不进入分析）"], "share_of_table": [0.1]})
    kept = pd.DataFrame(columns=["table", "note", "rows", "share_of_table"])
    assert quality.reasons_finding(table, kept) == (
        "被搁置的只有业务上正常的记录（如失败的支付），它们不是投资，不进入分析。", "无需处理。")


def test_the_page_says_severities_in_chinese() -> None:
    """The chapter's prose names the severity the table shows, never the loader's English."""
    from growthloop import PROJECT_ROOT

    text = (Path(PROJECT_ROOT) / "chapters" / "src" / "00_data_quality.py").read_text(encoding="utf-8")
    assert "informational" not in text and "set aside" not in text
    assert f"“{severity_text('informational')}”" in text and f"“{severity_text('set aside')}”" in text

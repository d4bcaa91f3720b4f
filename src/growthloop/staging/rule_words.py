"""The loader's rule and note labels, and its severities, in Chinese for the data-quality page.

The loader (growthloop.staging.loader) names every rule in English ("amount does not parse as
float64"): analysts meet these labels in DataError messages and in `growthloop validate`, and the
tests pin them. The page a marketing team reads shows the same rule in Chinese instead, turned
by pattern here: column names, table names, values ('success', treatment), numbers and the time
zone are kept verbatim, the words around them are translated. A label without a pattern (a rule
added to the loader later) is returned unchanged, never an error; tests/test_quality_words.py
fails until it has its wording.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from growthloop.staging.contract import BOOL, DATE, FLOAT, INT, STRING, TIMESTAMP

__all__ = ["SEVERITY_WORDS", "TYPE_WORDS", "rule_text", "severity_text"]

#: A contract type as the reader says it ("amount does not parse as float64": 无法解析为数字).
TYPE_WORDS: dict[str, str] = {
    STRING: "文本", TIMESTAMP: "时间", DATE: "日期", INT: "整数", FLOAT: "数字", BOOL: "是/否",
}

#: The loader's severities (`QualityRow.severity`) in Chinese.
SEVERITY_WORDS: dict[str, str] = {
    "set aside": "搁置",
    # failed payments: normal in healthy data, never stop a load, and are no investment
    "informational": "提示（不进入分析）",
    "kept": "保留并计数",
}

#: Whose sign-up a row is compared with, for the noun that starts a label.
_SUBJECTS = {"event": "事件", "transaction": "交易"}

_COL = r"(?P<col>[A-Za-z_][A-Za-z0-9_]*)"

#: Labels without a variable part, verbatim.
_EXACT: dict[str, str] = {
    "exact duplicate row": "完全相同的重复行",
    "key appears with different values": "同一主键出现不同取值",
    "member is in both treatment and control": "同一成员同时在 treatment（实验组）和 control（对照组）中",
    "event has neither user_id nor anonymous_id": "事件既没有 user_id 也没有 anonymous_id",
    "event of a user not in users": "事件的用户不在 users 表中",
    "event before the user's sign-up": "事件早于该用户的注册时间",
    "transaction not successful": "交易未成功",
    "transaction of a user not in users": "交易的用户不在 users 表中",
    "transaction before the user's sign-up": "交易早于该用户的注册时间",
    "window_days is not a positive number of days": "window_days 不是正的天数",
    "group is neither treatment nor control": "group 既不是 treatment（实验组）也不是 control（对照组）",
    "campaign not in campaigns": "活动不在 campaigns 表中",
    "member not in users": "成员不在 users 表中",
    "status 'success' written in another case or with spaces (kept)":
        "status 的 success 大小写不同或带空格（保留）",
    "no status in the file: every transaction counts as an investment":
        "文件中的 status 全为空：每笔交易都算作投资",
}


def _type_words(match: re.Match) -> str | None:
    words = TYPE_WORDS.get(match["type"])
    return None if words is None else f"{match['col']} 无法解析为{words}"


#: Labels with a column, a type, a number or a zone inside, in the order they are tried; each
#: pattern must match the whole label. A function returning None leaves the label as it is.
_PATTERNS: tuple[tuple[re.Pattern, Callable[[re.Match], str | None]], ...] = tuple(
    (re.compile(pattern), words) for pattern, words in (
        (rf"{_COL} is missing", lambda m: f"{m['col']} 缺失"),
        (rf"{_COL} does not parse as (?P<type>\w+)", _type_words),
        (rf"{_COL} is after today", lambda m: f"{m['col']} 晚于今天"),
        (rf"{_COL} is zero or negative", lambda m: f"{m['col']} 为零或负数"),
        (rf"{_COL} is negative", lambda m: f"{m['col']} 为负数"),
        (rf"{_COL} is above (?P<cap_name>\w+) \((?P<cap>[\d,.]+) yuan\)",
         lambda m: f"{m['col']} 超过单笔上限 {m['cap_name']}（{m['cap']} 元）"),
        (rf"{_COL} is (?P<cap>[\d,]+) yuan or more \(not an amount of money\)",
         lambda m: f"{m['col']} 达到 {m['cap']} 元或以上（不可能是真实金额）"),
        (r"(?P<who>event|transaction) up to (?P<seconds>\d+) s before the user's sign-up "
         r"\(kept: the sign-up time and the log differ by seconds\)",
         lambda m: f"{_SUBJECTS[m['who']]}早于该用户的注册时间不超过 {m['seconds']} 秒"
                   "（保留：注册时间与日志来自两个系统，时钟相差几秒）"),
        (rf"{_COL} falls in a daylight-saving gap of (?P<zone>[A-Za-z0-9_/+\-]+) "
         r"\(kept, read as the time after the gap\)",
         lambda m: f"{m['col']} 落在 {m['zone']} 夏令时拨快时跳过的时段（保留，按跳过之后的时间读取）"),
    ))


def rule_text(label: str) -> str:
    """The Chinese wording of a loader rule or note label, for the data-quality page.

    Column names, table names, values, numbers and the time zone stay verbatim; the contract
    type of "does not parse as" is said in Chinese (`TYPE_WORDS`).

    Parameters
    ----------
    label : str
        A rule (`QualityRow.rule` of `QualityReport.set_aside`) or a note
        (`QualityReport.notes`), as the loader words it.

    Returns
    -------
    str
        The Chinese wording; a label no pattern knows is returned unchanged.

    Examples
    --------
    >>> rule_text("exact duplicate row")
    '完全相同的重复行'
    >>> rule_text("amount does not parse as float64")
    'amount 无法解析为数字'
    >>> rule_text("amount is above max_amount (10,000,000 yuan)")
    'amount 超过单笔上限 max_amount（10,000,000 元）'
    >>> rule_text("a rule added later")
    'a rule added later'
    """
    if label in _EXACT:
        return _EXACT[label]
    for pattern, words in _PATTERNS:
        match = pattern.fullmatch(label)
        if match:
            return words(match) or label
    return label


def severity_text(severity: str) -> str:
    """The Chinese wording of a loader severity ("set aside", "informational", "kept").

    Parameters
    ----------
    severity : str
        `QualityRow.severity`.

    Returns
    -------
    str
        搁置, 提示（不进入分析） or 保留并计数; an unknown severity is returned unchanged.

    Examples
    --------
    >>> severity_text("set aside")
    '搁置'
    >>> severity_text("informational")
    '提示（不进入分析）'
    """
    return SEVERITY_WORDS.get(severity, severity)

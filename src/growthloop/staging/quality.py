"""The data-quality page's tables: the row accounting and the reasons rows were set aside.

Rules, notes and severities are the loader's English labels; the published tables and the
findings say them in Chinese (`growthloop.staging.rule_words`).
"""

from __future__ import annotations

import pandas as pd

from growthloop.staging.contract import EVENT_ROLES
from growthloop.staging.loader import Dataset
from growthloop.staging.rule_words import rule_text, severity_text


def accounting(ds: Dataset) -> pd.DataFrame:
    """Count per table rows read, used and set aside (read = used + set aside), and the share.

    Parameters
    ----------
    ds : Dataset
        The opened dataset.

    Returns
    -------
    pandas.DataFrame
        One row per table read, then one per missing table (zeros, share NaN); columns
        ``table``, ``rows_read``, ``rows_used``, ``rows_set_aside``, ``set_aside_share``.
    """
    frame = ds.quality.summary()
    frame["set_aside_share"] = (frame.rows_set_aside / frame.rows_read).astype(float)
    missing = pd.DataFrame({"table": ds.quality.missing_tables, "rows_read": 0, "rows_used": 0,
                            "rows_set_aside": 0, "set_aside_share": float("nan")})
    return pd.concat([frame, missing], ignore_index=True) if len(missing) else frame


def reasons(ds: Dataset) -> pd.DataFrame:
    """List per table and rule the rows set aside and their share of the table, in Chinese.

    The rule and the severity are the loader's labels in Chinese (`rule_words.rule_text`,
    `rule_words.severity_text`): "transaction not successful", "informational" become 交易未成功,
    提示（不进入分析）.

    Parameters
    ----------
    ds : Dataset
        The opened dataset.

    Returns
    -------
    pandas.DataFrame
        One row per (table, rule), ordered by table, then largest count first, then the
        loader's label; columns ``table``, ``rule`` (Chinese), ``rows``, ``severity`` (搁置 or
        提示（不进入分析）), ``share_of_table``. No example rows.
    """
    frame = ds.quality.reasons()
    read = ds.quality.read
    frame["share_of_table"] = [rows / read[t] for t, rows in zip(frame.table, frame.rows, strict=True)]
    frame = frame.sort_values(["table", "rows", "rule"], ascending=[True, False, True]).reset_index(drop=True)
    frame["rule"] = frame.rule.map(rule_text)
    frame["severity"] = frame.severity.map(severity_text)
    return frame


#: The role column's value for an event name that plays no role.
OWN_EVENT = "自有事件"
#: How the note of a name that differs from a role only by case or spaces starts.
LOOKS_LIKE = "看起来是 "
#: The note of a role the data has no event of.
NO_ROLE_EVENT = "数据中没有此角色的事件，依赖它的小节见本页最后一节"
#: The column value of a missing optional table in the absent-inputs table.
WHOLE_TABLE = "整张表"


def _folded(name: str) -> str:
    """A name with case, spaces, '_' and '-' ignored: 'Bind Card' and 'bind_card' fold alike."""
    return "".join(ch for ch in name.lower() if ch not in " _-\t")


def event_names(ds: Dataset) -> pd.DataFrame:
    """List every event name in the data with its count, first and last day and its role.

    The role is the role's label, or 自有事件 (the platform's own event). A name that differs from
    a role only by case, spaces, '_' or '-' ("Register", "bind card") is pointed out in `note`; a
    role the data does not have is listed with 0 events and a note (NO_ROLE_EVENT) that sends the
    reader to the page's list of sections the data cannot support. Every value is Chinese.

    Parameters
    ----------
    ds : Dataset
        The opened dataset.

    Returns
    -------
    pandas.DataFrame
        The names in the data (sorted), then the absent roles; columns ``event_name``, ``role``,
        ``events``, ``first_day``, ``last_day``, ``note``.
    """
    seen = {r["name"]: r for r in ds.quality.event_names}
    folded = {_folded(role): role for role in EVENT_ROLES}
    rows = []
    for name, r in sorted(seen.items()):
        role = EVENT_ROLES[name][0] if name in EVENT_ROLES else OWN_EVENT
        like = folded.get(_folded(name))
        note = (f"{LOOKS_LIKE}{like}：若含义相同，请在 dataset.yml 的 tables.events.values.event_name "
                "中映射") if like and like != name else ""
        rows.append({"event_name": name, "role": role, "events": int(r["events"]),
                     "first_day": r["first_day"], "last_day": r["last_day"], "note": note})
    for role, (label, _meaning) in EVENT_ROLES.items():
        if role not in seen:
            rows.append({"event_name": role, "role": label, "events": 0, "first_day": "",
                         "last_day": "", "note": NO_ROLE_EVENT})
    return pd.DataFrame(rows, columns=["event_name", "role", "events", "first_day", "last_day", "note"])


def notes(ds: Dataset) -> pd.DataFrame:
    """List rows kept but worth knowing about, per table and note, the note in Chinese.

    Reconciled sign-up times, a status written in another case, no status column, a local time
    in a daylight-saving gap; each note is the loader's label in Chinese (`rule_words.rule_text`).

    Parameters
    ----------
    ds : Dataset
        The opened dataset.

    Returns
    -------
    pandas.DataFrame
        Columns ``table``, ``note`` (Chinese), ``rows``, ``share_of_table`` (NaN when the table
        read no rows).
    """
    read = ds.quality.read
    rows = [{"table": r.table, "note": rule_text(r.rule), "rows": r.rows,
             "share_of_table": r.rows / read[r.table] if read.get(r.table) else float("nan")}
            for r in ds.quality.notes]
    return pd.DataFrame(rows, columns=["table", "note", "rows", "share_of_table"])


#: What each optional table lets the book show (for the absent-inputs table).
TABLE_USES = {
    "costs": "花费、获客成本、ROI、LTV/CAC 与预算建议 (第 3、5 章)",
    "campaigns": "营销活动复盘 (第 6 章)",
    "campaign_members": "营销活动复盘：实验组与对照组 (第 6 章)",
}
#: What a column of the contract lets the book show, when the export lacks it.
COLUMN_USES = {
    "birth_year": "年龄段画像与按年龄的拆分", "gender": "性别画像与拆分",
    "province": "地区画像", "city": "城市与城市等级画像", "device_os": "设备画像与拆分",
}


def headline(ds: Dataset, table: pd.DataFrame) -> dict[str, int | float | str]:
    """The page's headline numbers: rows read, the share set aside, the analysis date, the zone.

    Parameters
    ----------
    ds : Dataset
        The opened dataset.
    table : pandas.DataFrame
        `accounting(ds)`.

    Returns
    -------
    dict
        rows_read, set_aside_share (NaN when nothing was read), analysis_date (YYYY-MM-DD),
        timezone (the dataset's zone, dataset.yml `timezone:`).
    """
    read = int(table.rows_read.sum())
    return {"rows_read": read,
            "set_aside_share": float(table.rows_set_aside.sum() / read) if read else float("nan"),
            "analysis_date": str(ds.analysis_date), "timezone": ds.config.timezone}


def accounting_finding(head: dict) -> tuple[str, str]:
    """The finding and action of the row accounting, chosen from its numbers.

    Parameters
    ----------
    head : dict
        `headline`.

    Returns
    -------
    tuple of str
        (finding, action).
    """
    share = head["set_aside_share"]
    finding = (f"共读入 {head['rows_read']:,} 行，其中 {share:.2%} 被搁置。本书所有数字都截至分析日 "
               f"{head['analysis_date']} 当天结束（{head['timezone']} 时间）。")
    if share > 0.01:
        action = "搁置比例超过 1%：把下表中行数最多的规则连同示例行交给数据负责人，修好导出后重跑。"
    elif share > 0:
        action = "搁置的行很少，不影响结论；下表中的规则可在下次导出时顺手修正。"
    else:
        action = "没有行被搁置，无需处理。"
    return finding, action


def reasons_finding(table: pd.DataFrame, kept: pd.DataFrame) -> tuple[str, str]:
    """The finding and action of the set-aside reasons and the kept-but-noted rows.

    Parameters
    ----------
    table : pandas.DataFrame
        `reasons(ds)` (the loader's English labels are read too, and quoted in Chinese).
    kept : pandas.DataFrame
        `notes(ds)`.

    Returns
    -------
    tuple of str
        (finding, action); the finding quotes the rule that set most rows aside in Chinese.
    """
    aside = table[table.severity.isin(["set aside", severity_text("set aside")])]
    if aside.empty and table.empty:
        finding = "没有任何行被搁置。"
    elif aside.empty:
        finding = "被搁置的只有业务上正常的记录（如失败的支付），它们不是投资，不进入分析。"
    else:
        top = aside.sort_values(["rows", "table", "rule"], ascending=[False, True, True]).iloc[0]
        finding = (f"搁置行数最多的规则是 {top.table} 表的“{rule_text(top.rule)}”（{int(top.rows):,} 行，"
                   f"占该表 {top.share_of_table:.2%}）。")
    if not kept.empty:
        finding += f" 另有 {int(kept.rows.sum()):,} 行按规则保留并计数（见第二张表）。"
    action = ("搁置的规则逐条核对：是导出或映射的问题就修 dataset.yml，是源系统的问题就交给数据负责人。"
              if not aside.empty else "无需处理。")
    return finding, action


def events_finding(table: pd.DataFrame) -> tuple[str, str]:
    """The finding and action of the event-name table (`event_names`).

    Parameters
    ----------
    table : pandas.DataFrame
        `event_names(ds)`.

    Returns
    -------
    tuple of str
        (finding, action): how many names, own events, roles absent, near misses.
    """
    present = table[table.events > 0]
    own = present[~present.event_name.isin(list(EVENT_ROLES))]
    absent = table[(table.events == 0)]
    near = present[present.note.str.startswith(LOOKS_LIKE)]
    finding = (f"数据中共有 {len(present)} 种事件名，其中 {len(own)} 种是平台自有事件（可直接用作漏斗步骤、"
               f"触点、回访事件或活动目标）；缺少的角色事件有 {len(absent)} 种。")
    if len(near):
        action = (f"{len(near)} 个事件名只和角色名差大小写或空格（如 {near.event_name.iloc[0]}）：若含义相同，"
                  "请在 dataset.yml 的 tables.events.values.event_name 里映射。")
    elif len(absent):
        action = ("缺少的角色决定了哪些小节无法生成（见本页最后一节）；如果平台有对应事件，只是名字不同，"
                  "请在 dataset.yml 里映射。")
    else:
        action = "每个角色都有对应事件，无需处理。"
    return finding, action


def absent_inputs(ds: Dataset) -> pd.DataFrame:
    """The optional tables and contract columns the dataset lacks, with what they would show.

    Parameters
    ----------
    ds : Dataset
        The opened dataset.

    Returns
    -------
    pandas.DataFrame
        table, column ("整张表" for a missing table), shows (what the book cannot show without
        it).
    """
    rows = [{"table": t, "column": WHOLE_TABLE, "shows": TABLE_USES.get(t, "")}
            for t in ds.quality.missing_tables]
    for t, cols in sorted(ds.quality.absent_columns.items()):
        rows += [{"table": t, "column": c, "shows": COLUMN_USES.get(c, "")} for c in cols]
    return pd.DataFrame(rows, columns=["table", "column", "shows"])


def absent_finding(table: pd.DataFrame) -> tuple[str, str]:
    """The finding and action of `absent_inputs`.

    Parameters
    ----------
    table : pandas.DataFrame
        `absent_inputs(ds)`.

    Returns
    -------
    tuple of str
        (finding, action).
    """
    if table.empty:
        return "契约中的表和列都在导出里。", ""
    return (f"导出中缺少 {len(table)} 项可选的表或列；它们的值按“未知”处理，依赖它们的小节会在原位置说明。",
            "能补则补：在导出中加上这些表或列，或在 dataset.yml 里映射已有的同义列。")

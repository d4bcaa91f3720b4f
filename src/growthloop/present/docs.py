"""Pages of the book generated from the code, so that they cannot drift from it."""

from __future__ import annotations

from pathlib import Path

from growthloop import PROJECT_ROOT
from growthloop.present.registry import KINDS, SUMMARY_ALIASES, TERMS
from growthloop.staging.contract import DEFAULT_CHANNELS, EVENT_ROLES, TABLES
from growthloop.staging.loader import SIGNUP_TOLERANCE_SECONDS

CONTRACT_PAGE = "docs/data_contract.md"
METRICS_PAGE = "docs/metrics.md"
#: The heading of each kind's table on the metrics page.
KIND_HEADINGS: dict[str, str] = {
    "key": "分组与标签列",
    "count": "人数",
    "measure": "指标",
    "text": "文本、日期与是否",
}


def contract_markdown() -> str:
    """Write the data-contract page: every table, column, type and key, from the contract.

    Generated from the code (CONTRACT_PAGE), so it cannot drift from it: the loading rules, each
    table's columns, the event roles, properties and the default channel map.

    Returns
    -------
    str
        The page as MyST Markdown.
    """
    lines = [
        "# 数据契约",
        "",
        "The tables an analyst brings, with our canonical names. Files are Parquet or CSV in one",
        "folder, one file per table (`users.parquet` or `users.csv`, ...). A `dataset.yml` beside",
        "them maps a platform's own column names, values and event names to these (see",
        "{doc}`running`). Timestamps are local platform time, **Asia/Shanghai** unless",
        "`timezone:` says otherwise; a timestamp that carries a zone is converted to it. A natural",
        "day, week (Monday first) and month mean the same in every chapter. Money is in **yuan**.",
        "",
        "Loading checks every rule below. A rule that makes the data unusable (a missing table,",
        "a missing column that needs a value in every row, or a rule that would set aside more",
        "than 20% of a table) stops with an error",
        "naming the table, the column, the rule, the count and an example row. Rows that are",
        "only suspect are set aside, counted, and shown on the data-quality page: for every",
        "table, rows read = rows used + rows set aside. A column whose values may be missing",
        "(null allowed) may be absent from the file: it is read as unknown for every row, and",
        "the data-quality page lists it.",
        "",
        "The rules every table follows:",
        "",
        "- **Duplicates.** Two rows equal in every column are one row; the copies are set aside",
        "  and counted (an export concatenated twice). This holds for events too: an event is a",
        "  duplicate of another with the same time, name, user, device, UTM values and",
        "  properties. Different rows under one key (a user twice with two genders) are all set",
        "  aside: there is no right one to keep.",
        f"- **Sign-up tolerance.** An event or investment up to {SIGNUP_TOLERANCE_SECONDS} s before its",
        "  user's sign-up time is kept and counted as reconciled (the sign-up time and the log",
        "  often come from two systems); earlier than that it is set aside.",
        "- **Daylight saving.** In a zone whose clocks change, a local time without an offset",
        "  that the zone skips (02:30 on a spring-forward night in America/New_York) is kept,",
        "  read as the time after the gap (03:30), and counted on the data-quality page with the",
        "  column named. Asia/Shanghai has no gap.",
        "- **Examples.** A value that does not parse is shown in the error and the report as the",
        "  file holds it.",
        "- **Case.** A transaction's status counts as `success` whatever its case and spaces",
        "  (`SUCCESS`, ` Success `; counted). A blank status is not a success when other rows",
        "  have one; a file without any status counts every transaction as an investment (said",
        "  on the data-quality page). Event names are compared as written: a name that differs",
        "  from a role only by case is pointed out, never merged silently.",
        "- **Signs.** Amounts must be above 0; spend, impressions, clicks, revenue, term_days,",
        "  cost_per_send and cost_per_reward must not be negative; a campaign's window_days must",
        "  be a positive number of days. A row that breaks one is set aside, naming the rule.",
        "- **No investment left.** A transactions table from which no successful investment is",
        "  left stops the load, naming the rules that removed them (nearly always a status map).",
        "",
    ]
    for spec in TABLES.values():
        need = "required" if spec.required else "optional"
        key = ", ".join(spec.key) if spec.key else "none"
        lines += [f"## {spec.name} ({need})", "", spec.description, "", f"Key: `{key}`.", "",
                  "| column | type | required | null allowed | meaning |",
                  "| --- | --- | --- | --- | --- |"]
        for col in spec.columns:
            lines.append(f"| `{col.name}` | {col.dtype} | {'yes' if col.required else 'no'} | "
                         f"{'yes' if col.nullable else 'no'} | {col.description} |")
        lines.append("")
    lines += ["## Events: roles, own events and properties", "",
              "Every event name in the data is kept. A few names play **roles** the chapters rely",
              "on; map the platform's own names onto them in dataset.yml",
              "(`tables.events.values.event_name: {注册: register}`). Every other name is the",
              "platform's **own event** and can still be a funnel step, a touch, a return or a",
              "goal, by its own name. The data-quality page lists every name with its count, its",
              "role and first and last day, and points out a name that differs from a role only by",
              "case or spaces (`Register`).", "",
              "| role | 中文 | what relies on it |", "| --- | --- | --- |"]
    for role, (label, meaning) in EVENT_ROLES.items():
        lines.append(f"| `{role}` | {label} | {meaning} |")
    lines += ["",
              "**Properties.** Events may carry properties: a `properties` column holding a JSON",
              "object (`{\"product_type\": \"定期12月\"}`; in Parquet also a struct or a map), and/or",
              "extra columns of the events file. List the ones steps and goals filter on under",
              "`tables.events.properties: [product_type, level]`; without a list, every key of the",
              "`properties` column is loaded (DuckDB files, at most 30). They become text columns;",
              "a step or goal then names an event and its properties:",
              "`{event: 浏览产品详情, where: {product_type: 定期12月}}` (a list of values means any",
              "of them). A name the data does not have stops with the closest names in the data.",
              "",
              "## Default channel map", "",
              "UTM sources are URL-decoded, trimmed and lower-cased, then mapped to a channel.",
              "A `channels:` list in dataset.yml replaces this map.", "",
              "| channel | English | kind | utm_source aliases |", "| --- | --- | --- | --- |"]
    for ch in DEFAULT_CHANNELS:
        lines.append(f"| {ch.name} | {ch.name_en} | {ch.kind} | {', '.join(ch.sources)} |")
    lines += ["", "Sign-ups whose source is missing are 未标记 (untagged): counted, never dropped.", ""]
    return "\n".join(lines)


def metrics_markdown() -> str:
    """Write the metric-definitions page: every column and headline metric, from the registry.

    Generated from `growthloop.present.registry` (METRICS_PAGE), so it cannot drift from it: a
    short introduction, one table per kind (key, label, unit, definition; keys sorted) and the
    glued summary keys that equal a column (SUMMARY_ALIASES).

    Returns
    -------
    str
        The page as MyST Markdown.
    """
    lines = [
        "# 指标口径",
        "",
        "书中每张表的每一列、摘要里的每个头条数字，都在这里有一个中文表头和确切的口径：数的是什么、在哪些人里、",
        "在什么时间窗口内。同一个列名在几张表里指相关的量时（例如 `ci_low` 在漏斗里是转化率的区间，在活动复盘里是",
        "增量的区间），口径里写明它在每张表中的含义；两个不同的量一定有两个不同的表头，例如 获客成本/注册 与",
        "获客成本/首投、期内复投率 与 占首投比例、比例 与 百分点。",
        "",
        "单位：“比例”是 0 到 1 之间的比例或比率，页面上显示为百分数；“百分点”是两个比例之差；“同估计值”指区间的",
        "单位与它所属的估计值相同；“见定义”指单位随表或随行不同，以口径为准。术语见 {doc}`glossary`。",
        "",
        "本页由代码中的指标登记表 (`growthloop/present/registry.py`) 生成，不要手工修改：发布的表格多了一列而",
        "登记表里没有它时，测试会失败。",
        "",
    ]
    for kind in KINDS:
        terms = sorted((t for t in TERMS.values() if t.kind == kind), key=lambda t: t.key)
        lines += [f"## {KIND_HEADINGS[kind]}", "", "| 列名 | 表头 | 单位 | 口径 |",
                  "| --- | --- | --- | --- |"]
        lines += [f"| `{t.key}` | {t.label} | {t.unit} | {t.definition} |" for t in terms]
        lines.append("")
    lines += ["## 摘要中等同于某一列的数字", "",
              "摘要读取的这些数字和某张表的某一列是同一个量，沿用那一列的表头和口径。", "",
              "| 摘要键 | 等同的列 | 表头 |", "| --- | --- | --- |"]
    lines += [f"| `{alias}` | `{key}` | {TERMS[key].label} |" for alias, key in sorted(SUMMARY_ALIASES.items())]
    lines.append("")
    return "\n".join(lines)


def _write_page(root: str | Path | None, page: str | Path, text: str) -> Path:
    """Write a generated page under a project folder (None: the project's own root)."""
    path = Path(root or PROJECT_ROOT) / page
    path.write_text(text, encoding="utf-8")
    return path


def write_contract_page(root: str | Path | None = None) -> Path:
    """Write `contract_markdown` to CONTRACT_PAGE under a project folder.

    Parameters
    ----------
    root : str, Path or None, default None
        The project folder; None is the project's own root.

    Returns
    -------
    Path
        The page written.
    """
    return _write_page(root, CONTRACT_PAGE, contract_markdown())


def write_metrics_page(root: str | Path | None = None) -> Path:
    """Write `metrics_markdown` to METRICS_PAGE under a project folder.

    Parameters
    ----------
    root : str, Path or None, default None
        The project folder; None is the project's own root.

    Returns
    -------
    Path
        The page written.
    """
    return _write_page(root, METRICS_PAGE, metrics_markdown())

"""Pages of the book generated from the code, so that they cannot drift from it."""

from __future__ import annotations

from growthloop.staging.contract import DEFAULT_CHANNELS, EVENT_ROLES, TABLES
from growthloop.staging.loader import SIGNUP_TOLERANCE_SECONDS

CONTRACT_PAGE = "docs/data_contract.md"


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
        "# 数据契约 (data contract)",
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

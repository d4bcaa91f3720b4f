"""Pages of the book generated from the code, so that they cannot drift from it."""

from __future__ import annotations

from growthloop.staging.contract import CANONICAL_EVENTS, DEFAULT_CHANNELS, TABLES

CONTRACT_PAGE = "docs/data_contract.md"


def contract_markdown() -> str:
    """The data-contract page: every table, column, type and key, from growthloop.staging.contract."""
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
        "Loading checks every rule below. A rule that makes the data unusable (a missing table",
        "or column, or a rule that would set aside more than 20% of a table) stops with an error",
        "naming the table, the column, the rule, the count and an example row. Rows that are",
        "only suspect are set aside, counted, and shown on the data-quality page: for every",
        "table, rows read = rows used + rows set aside.",
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
    lines += ["## Canonical events", "",
              ", ".join(f"`{e}`" for e in CANONICAL_EVENTS) + ".", "",
              "Other event names are counted on the data-quality page and not used.", "",
              "## Default channel map", "",
              "UTM sources are URL-decoded, trimmed and lower-cased, then mapped to a channel.",
              "A `channels:` list in dataset.yml replaces this map.", "",
              "| channel | English | kind | utm_source aliases |", "| --- | --- | --- | --- |"]
    for ch in DEFAULT_CHANNELS:
        lines.append(f"| {ch.name} | {ch.name_en} | {ch.kind} | {', '.join(ch.sources)} |")
    lines += ["", "Sign-ups whose source is missing are 未标记 (untagged): counted, never dropped.", ""]
    return "\n".join(lines)

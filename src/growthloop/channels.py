"""UTM values to channels: normalise the raw values, then map aliases to one channel name.

Normalisation (in the engine): URL-decode, trim, lower-case. A source no channel claims keeps
its normalised value, so nothing is hidden; a missing source is 未标记 (untagged).
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis

from growthloop.contract import UNTAGGED_CHANNEL, Channel


@ibis.udf.scalar.builtin
def url_decode(value: str) -> str:  # type: ignore[empty-body]
    """DuckDB's url_decode (Spark and most warehouses have one of the same name)."""


def normalise_utm(value: ibis.StringValue) -> ibis.StringValue:
    """URL-decoded, trimmed, lower-case UTM value; empty becomes null."""
    return url_decode(value.replace("+", " ")).strip().lower().nullif("")


def alias_table(channels: Sequence[Channel]) -> ibis.Table:
    """(alias, channel) pairs as a small in-memory table, for joining in the engine."""
    rows = {"_alias": [], "_channel": []}
    for ch in channels:
        for alias in (*ch.sources, ch.name.lower()):
            if alias not in rows["_alias"]:
                rows["_alias"].append(alias)
                rows["_channel"].append(ch.name)
    return ibis.memtable(rows, schema={"_alias": "string", "_channel": "string"})


def with_channel(table: ibis.Table, source_col: str, channels: Sequence[Channel],
                 out: str = "channel") -> ibis.Table:
    """Add a channel column mapped from a UTM source column (untagged → 未标记)."""
    aliases = alias_table(channels)
    norm = table.mutate(_src=normalise_utm(table[source_col]))
    joined = norm.left_join(aliases, norm._src == aliases._alias)
    channel = ibis.coalesce(joined._channel, joined._src, ibis.literal(UNTAGGED_CHANNEL))
    return joined.mutate(**{out: channel}).drop("_src", "_alias", "_channel")

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


# --------------------------------------------------------------------------------------------
# UTM values from landing URLs (added for chapter 3; the functions above are unchanged)

UTM_FIELDS: tuple[str, ...] = (
    "utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term",
)


def utm_from_url(url: ibis.StringValue, field: str) -> ibis.StringValue:
    """The raw (still encoded) value of `field` in a URL's query string or fragment; null when
    absent or empty. Parameter names are matched case-insensitively (UTM_Source=...)."""
    if field not in UTM_FIELDS:
        raise ValueError(f"field: {field!r} is not one of {list(UTM_FIELDS)}")
    return url.re_extract(rf"(?i)[?&#;]{field}=([^&#;]*)", 1).nullif("")


def with_utm(events: ibis.Table) -> ibis.Table:
    """Every UTM column normalised (`normalise_utm`); a null column value is taken from the
    event's landing_url when it has one. Tables without landing_url keep their own columns."""
    has_url = "landing_url" in events.columns
    values = {}
    for f in UTM_FIELDS:
        own = events[f] if f in events.columns else ibis.null("string")
        if has_url:
            own = ibis.coalesce(own.strip().nullif(""), utm_from_url(events.landing_url, f))
        values[f] = normalise_utm(own)
    return events.mutate(**values)


def channel_of(source: ibis.StringValue, channels: Sequence[Channel]) -> ibis.StringValue:
    """The channel of an already normalised source as an expression (no join): aliases of the
    channel map (a listed source before a channel's own name, so an alias can be moved to
    another channel), else the source itself, else 未标记 (untagged)."""
    mapping = channel_mapping(channels)
    return ibis.coalesce(source.substitute(mapping, else_=source), ibis.literal(UNTAGGED_CHANNEL))


def channel_mapping(channels: Sequence[Channel]) -> dict[str, str]:
    """Normalised source -> channel name: every listed source first, then each channel's own
    (lower-cased) name, so an alias can be moved to another channel."""
    mapping: dict[str, str] = {}
    for ch in channels:
        for alias in ch.sources:
            mapping.setdefault(alias, ch.name)
    for ch in channels:
        mapping.setdefault(ch.name.lower(), ch.name)
    return mapping

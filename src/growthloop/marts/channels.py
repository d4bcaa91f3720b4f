"""UTM values to channels: normalise the raw values, then map aliases to one channel name.

Normalisation (in the engine): URL-decode, trim, lower-case. A source no channel claims keeps
its normalised value, so nothing is hidden; a missing source is 未标记 (untagged).
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis

from growthloop.staging.contract import UNTAGGED_CHANNEL, Channel


@ibis.udf.scalar.builtin
def url_decode(value: str) -> str:  # type: ignore[empty-body]
    """DuckDB's url_decode as an Ibis builtin (Spark and most warehouses have one so named).

    On Postgres, which has none, growthloop.engine compiles it to plain SQL.

    Parameters
    ----------
    value : str
        A percent-encoded text column.

    Returns
    -------
    str
        The decoded text (an Ibis string expression).
    """


#: one percent-escaped UTF-8 character (RFC 3629: no overlong forms, no surrogates)
_UTF8_ESCAPE = (
    r"(?i)%(?:[0-7][0-9a-f]"
    r"|(?:c[2-9a-f]|d[0-9a-f])%[89ab][0-9a-f]"
    r"|e0%[ab][0-9a-f]%[89ab][0-9a-f]"
    r"|(?:e[1-9a-cef])(?:%[89ab][0-9a-f]){2}"
    r"|ed%[89][0-9a-f]%[89ab][0-9a-f]"
    r"|f0%[9ab][0-9a-f](?:%[89ab][0-9a-f]){2}"
    r"|f[1-3](?:%[89ab][0-9a-f]){3}"
    r"|f4%8[0-9a-f](?:%[89ab][0-9a-f]){2})"
)


def normalise_utm(value: ibis.StringValue) -> ibis.StringValue:
    """Normalise a UTM value: URL-decoded, trimmed, lower-case; empty becomes null.

    '+' is a space. A value whose percent escapes are not all UTF-8 characters ("50%off",
    a truncated "%E4%B8") is kept as written rather than half decoded: engines differ there
    (DuckDB keeps a bad escape or fails, Spark fails), so no engine is asked to decode it.

    Parameters
    ----------
    value : ibis.StringValue
        The raw UTM column.

    Returns
    -------
    ibis.StringValue
        The normalised value (an expression, not executed).
    """
    spaced = value.replace("+", " ")
    broken = spaced.contains("%") & spaced.re_replace(_UTF8_ESCAPE, "").contains("%")
    decoded = ibis.ifelse(broken, spaced, url_decode(spaced))
    return decoded.strip().lower().nullif("")


def alias_table(channels: Sequence[Channel]) -> ibis.Table:
    """Put the (alias, channel) pairs in a small in-memory table, for joining in the engine.

    The pairs are those of `channel_mapping`, so a join and `channel_of` map every source to the
    same channel.

    Parameters
    ----------
    channels : sequence of Channel
        The channel map (``ds.config.channels``).

    Returns
    -------
    ibis.Table
        A memtable with columns ``_alias`` (normalised source) and ``_channel`` (channel name).
    """
    mapping = channel_mapping(channels)
    rows = {"_alias": list(mapping), "_channel": list(mapping.values())}
    return ibis.memtable(rows, schema={"_alias": "string", "_channel": "string"})


def with_channel(table: ibis.Table, source_col: str, channels: Sequence[Channel],
                 out: str = "channel") -> ibis.Table:
    """Add a channel column mapped from a UTM source column (untagged → 未标记).

    The source is normalised first (`normalise_utm`); a source no channel claims keeps its
    normalised value, so nothing is hidden.

    Parameters
    ----------
    table : ibis.Table
        Any table with a UTM source column.
    source_col : str
        The raw source column's name.
    channels : sequence of Channel
        The channel map (``ds.config.channels``).
    out : str, default "channel"
        Name of the added column.

    Returns
    -------
    ibis.Table
        `table`'s columns and `out` (not executed).
    """
    aliases = alias_table(channels)
    norm = table.mutate(_src=normalise_utm(table[source_col]))
    joined = norm.left_join(aliases, norm._src == aliases._alias)
    channel = ibis.coalesce(joined._channel, joined._src, ibis.literal(UNTAGGED_CHANNEL))
    return joined.mutate(**{out: channel}).drop("_src", "_alias", "_channel")


def channel_lookup(sources: ibis.Column, channels: Sequence[Channel],
                   out: str = "channel") -> ibis.Table:
    """The channel of each distinct raw UTM source in `sources` (columns _raw and `out`), as
    `with_channel` maps it, to join on a raw source instead of mapping every row.

    A log has few distinct sources: normalising them once costs far less than normalising
    each person's (at 1M users a funnel's channel breakdown takes 1 s less). A null source
    has no row: the caller's left join leaves it null, which is 未标记 (untagged).

    Parameters
    ----------
    sources : ibis.Column
        A column of raw UTM sources holding every value to look up (a stored table's column:
        its distinct values are read cheaply).
    channels : sequence of Channel
        The channel map (``ds.config.channels``).
    out : str, default "channel"
        Name of the channel column.

    Returns
    -------
    ibis.Table
        One row per distinct non-null source: _raw, `out` (not executed).
    """
    values = sources.name("_raw").as_table().distinct()
    values = values.filter(values._raw.notnull())
    return with_channel(values, "_raw", channels, out=out)


# --------------------------------------------------------------------------------------------
# UTM values from landing URLs (added for chapter 3; the functions above are unchanged)

UTM_FIELDS: tuple[str, ...] = (
    "utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term",
)


def utm_from_url(url: ibis.StringValue, field: str) -> ibis.StringValue:
    """Read the raw (still encoded) value of `field` from a URL's query string or fragment.

    Parameter names are matched case-insensitively (UTM_Source=...).

    Parameters
    ----------
    url : ibis.StringValue
        The landing URL column.
    field : str
        One of UTM_FIELDS (utm_source, utm_medium, utm_campaign, utm_content, utm_term).

    Returns
    -------
    ibis.StringValue
        The value, null when absent or empty (an expression, not executed).

    Raises
    ------
    ValueError
        When `field` is not one of UTM_FIELDS.
    """
    if field not in UTM_FIELDS:
        raise ValueError(f"field: {field!r} is not one of {list(UTM_FIELDS)}")
    # the name's letters as [uU][tT]... rather than a leading (?i): Ibis's Postgres compiler
    # wraps the pattern in a group, where an embedded option is invalid; ASCII letters only,
    # as Spark's (?i) (DuckDB's would also fold a few non-ASCII look-alikes such as the long s)
    name = "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in field)
    return url.re_extract(rf"[?&#;]{name}=([^&#;]*)", 1).nullif("")


def raw_utm(events: ibis.Table, field: str) -> ibis.StringValue:
    """A UTM value as written, before `normalise_utm`.

    The column's value, or where it is blank the landing URL's (still encoded). Null when neither
    has one.

    Parameters
    ----------
    events : ibis.Table
        The events (or any table with UTM columns and, optionally, landing_url).
    field : str
        One of UTM_FIELDS.

    Returns
    -------
    ibis.StringValue
        The raw value (an expression, not executed).
    """
    own = events[field] if field in events.columns else ibis.null("string")
    if "landing_url" in events.columns:
        own = ibis.coalesce(own.strip().nullif(""), utm_from_url(events.landing_url, field))
    return own


def with_utm(events: ibis.Table) -> ibis.Table:
    """Normalise every UTM column (`normalise_utm`), a null one taken from the landing_url.

    Tables without landing_url keep their own columns.

    Parameters
    ----------
    events : ibis.Table
        The events (or any table with the UTM columns).

    Returns
    -------
    ibis.Table
        `events` with every column of UTM_FIELDS normalised (not executed).
    """
    return events.mutate(**{f: normalise_utm(raw_utm(events, f)) for f in UTM_FIELDS})


def channel_of(source: ibis.StringValue, channels: Sequence[Channel]) -> ibis.StringValue:
    """The channel of an already normalised source, as an expression (no join).

    Aliases of the channel map (a listed source before a channel's own name, so an alias can be
    moved to another channel), else the source itself, else 未标记 (untagged).

    Parameters
    ----------
    source : ibis.StringValue
        A source normalised by `normalise_utm`.
    channels : sequence of Channel
        The channel map (``ds.config.channels``).

    Returns
    -------
    ibis.StringValue
        The channel name (an expression, not executed).
    """
    mapping = channel_mapping(channels)
    return ibis.coalesce(source.substitute(mapping, else_=source), ibis.literal(UNTAGGED_CHANNEL))


def channel_mapping(channels: Sequence[Channel]) -> dict[str, str]:
    """Map each normalised source to its channel name.

    Every listed source first, then each channel's own (lower-cased) name, so an alias can be
    moved to another channel. A source listed by two channels belongs to the first.

    Parameters
    ----------
    channels : sequence of Channel
        The channel map.

    Returns
    -------
    dict of str to str
        Normalised source -> channel name.

    Examples
    --------
    >>> from growthloop.staging.contract import Channel
    >>> channel_mapping([Channel("百度搜索", "Search ads", "paid", ("baidu", "bd_sem"))])
    {'baidu': '百度搜索', 'bd_sem': '百度搜索', '百度搜索': '百度搜索'}
    """
    mapping: dict[str, str] = {}
    for ch in channels:
        for alias in ch.sources:
            mapping.setdefault(alias, ch.name)
    for ch in channels:
        mapping.setdefault(ch.name.lower(), ch.name)
    return mapping

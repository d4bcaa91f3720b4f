"""Mart `touches`: marketing touches up to the analysis date, per person, with clean UTM values.

Touches are the events named in `touch_events` (ad_click, link_click by default) read from the
person_events mart (identity stitched once), so a click before sign-up counts for the user who
signed up on that device. Their UTM values come from the utm_* columns or, where a column is
null, from the event's landing_url (`channels.raw_utm`), normalised (`channels.normalise_utm`)
and mapped to channels by the dataset's channel map: a source no channel claims keeps its own
name, a touch without a source is 未标记 (untagged). Events named in `direct_events` (app_open,
say) without a source are 直接访问 (direct). Kept once per dataset and pair of event lists: the
monitoring table, the stitching report, the paths and the campaign funnel read it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ibis
from ibis import _

from growthloop.marts.channels import channel_mapping, channel_of, normalise_utm, raw_utm
from growthloop.marts.events import EventSelector, checked, matches, selectors
from growthloop.marts.identity import person_events
from growthloop.staging.contract import DIRECT_CHANNEL, UNTAGGED_CHANNEL, Channel
from growthloop.staging.loader import Dataset

NAME = "touches"
#: Touches have no key of their own (one row per touch event); see COLUMNS.
KEY: tuple[str, ...] = ()
COLUMNS: tuple[str, ...] = (
    "person_id", "user_id", "anonymous_id", "event_name", "event_time", "channel", "source",
    "medium", "campaign",
)
TOUCH_EVENTS: tuple[str, ...] = ("ad_click", "link_click")
_KEY_FIELDS: tuple[str, ...] = ("utm_source", "utm_medium", "utm_campaign")
KEY_SEP = "\x1f"  # joins packed UTM values in the engine (never in a UTM value)


def check_events(ds: Dataset, values: Any, param: str) -> tuple[EventSelector, ...]:
    """The event selectors of a touch parameter (any event of the data, with its property
    filter), checked against the data (a role the data lacks adds no touch and is accepted; an
    unknown name is an error); a milestone is no touch.

    Parameters
    ----------
    ds : Dataset
        The dataset.
    values : str, mapping, EventSelector or iterable of them
        The parameter's value: event names or selectors (`growthloop.marts.events.selectors`).
    param : str
        The parameter's name, for the error messages (touch_events, direct_events).

    Returns
    -------
    tuple of EventSelector
        The parsed selectors, in the order given.

    Raises
    ------
    ValueError
        When a value is not an event selector, or names an investment milestone.
    DataError
        When a selector names an event (other than a role) or a property the data does not
        have.
    """
    chosen = checked(ds, values, param, optional_roles=True)
    bad = [s.key for s in chosen if s.is_milestone]
    if bad:
        raise ValueError(f"{param}: {bad} are investment milestones, not events a person touches")
    return chosen


def utm_values(events: ibis.Table, channels: Sequence[Channel]) -> ibis.Table:
    """The distinct UTM values as written in `events` (columns _r0, _r1, _r2: source, medium,
    campaign, see `written_utm`), each with its normalised source, medium, campaign and channel.

    A log has few distinct UTM values; normalising them here and joining the result back
    (`with_utm_values`) costs far less than URL-decoding every row.

    Parameters
    ----------
    events : ibis.Table
        Events with the UTM columns and, optionally, landing_url (`raw_utm`).
    channels : sequence of Channel
        The dataset's channel map (`ds.config.channels`).

    Returns
    -------
    ibis.Table
        One row per distinct (_r0, _r1, _r2), with _channel, _source, _medium, _campaign;
        not executed.
    """
    vals = events.select(**written_utm(events)).distinct()
    source = normalise_utm(vals._r0)
    return vals.select(
        "_r0", "_r1", "_r2",
        _channel=channel_of(source, channels),
        _source=source,
        _medium=normalise_utm(vals._r1),
        _campaign=normalise_utm(vals._r2),
    )


def written_utm(events: ibis.Table) -> dict[str, ibis.StringValue]:
    """The UTM source, medium and campaign as written (`raw_utm`), as _r0, _r1, _r2, with ''
    for none: a join key on which every engine hashes, no tuple of values shares one with
    another, and '' normalises as a null does (to no value, `normalise_utm`).

    Parameters
    ----------
    events : ibis.Table
        Events with the UTM columns and, optionally, landing_url.

    Returns
    -------
    dict of str to ibis.StringValue
        {"_r0": ..., "_r1": ..., "_r2": ...}; not executed.
    """
    return {f"_r{i}": raw_utm(events, f).fill_null("") for i, f in enumerate(_KEY_FIELDS)}


def with_utm_values(events: ibis.Table, channels: Sequence[Channel]) -> ibis.Table:
    """`events` with the normalised UTM values and channel of each row (_channel, _source,
    _medium, _campaign) from `utm_values`, joined on the values as written: one row out per row
    in.

    Parameters
    ----------
    events : ibis.Table
        Events with the UTM columns and, optionally, landing_url.
    channels : sequence of Channel
        The dataset's channel map.

    Returns
    -------
    ibis.Table
        The columns of `events`, then _channel, _source, _medium, _campaign; not executed.
    """
    vals = utm_values(events, channels)
    keyed = events.mutate(**{f"_k{i}": v for i, v in enumerate(written_utm(events).values())})
    out = keyed.left_join(vals, [keyed[f"_k{i}"] == vals[f"_r{i}"] for i in range(3)])
    return out.select(*events.columns, "_channel", "_source", "_medium", "_campaign")


def build(ds: Dataset, touch_events: Sequence[EventSelector] = (),
          direct_events: Sequence[EventSelector] = ()) -> ibis.Table:
    """The mart as an Ibis expression (not executed) for these event selectors.

    Parameters
    ----------
    ds : Dataset
        The dataset.
    touch_events : sequence of EventSelector, default ()
        The touch events, already checked (`check_events`); empty for TOUCH_EVENTS.
    direct_events : sequence of EventSelector, default ()
        Events that are a direct visit (直接访问) when they carry no UTM source.

    Returns
    -------
    ibis.Table
        COLUMNS: one row per touch or direct event; user_id null for visitors who never
        signed up.
    """
    touch_events = tuple(touch_events) or selectors(TOUCH_EVENTS, "touch_events")
    pe = person_events(ds)
    ev = pe.filter(matches(pe, [*touch_events, *direct_events]))
    out = with_utm_values(ev, ds.config.channels)
    channel = out._channel
    if direct_events:
        channel = ibis.ifelse(
            matches(out, direct_events) & out._source.isnull(),
            ibis.literal(DIRECT_CHANNEL),
            channel,
        )
    return out.select(
        "person_id", "user_id", "anonymous_id", "event_name", "event_time", channel=channel,
        source=out._source, medium=out._medium, campaign=out._campaign,
    )


def touches(ds: Dataset, touch_events: Any = TOUCH_EVENTS, direct_events: Any = ()) -> ibis.Table:
    """The kept mart for these events (built once per dataset and event lists).

    Parameters
    ----------
    ds
        The dataset.
    touch_events
        The events that are marketing touches: names (any event of the data) or selectors with
        a property filter (`growthloop.marts.events`). Default ad_click and link_click.
    direct_events
        Events counted as a direct visit (直接访问) when they carry no UTM source, e.g. app_open.

    Returns
    -------
    ibis.Table
        COLUMNS, kept in the engine; user_id is null for visitors who never signed up.
    """
    touch = check_events(ds, touch_events, "touch_events")
    direct = check_events(ds, direct_events, "direct_events")
    if not touch:
        raise ValueError("touch_events: name at least one event, e.g. ['ad_click', 'link_click']")
    keys = ([s.key for s in touch], [s.key for s in direct])
    return ds.keep(_kept_key(ds, "touches", keys), lambda: build(ds, touch, direct))


def _kept_key(ds: Dataset, name: str, events: Any) -> str:
    """The key a table kept from touches goes by: its name, the events' keys and the channel
    map (a run's store finds the default touch events' tables under it)."""
    mapping = sorted(channel_mapping(ds.config.channels).items())
    return f"{name}:{events!r}:{mapping!r}"


def pack_keys(t: ibis.Table) -> ibis.StringValue:
    """channel, source, medium, campaign in one string (split again with `unpack_keys`).

    Parameters
    ----------
    t : ibis.Table
        A table with channel, source, medium and campaign columns.

    Returns
    -------
    ibis.StringValue
        The four joined by an invisible separator, a missing value as "".
    """
    return (t.channel + KEY_SEP + t.source.fill_null("") + KEY_SEP + t.medium.fill_null("") + KEY_SEP
            + t.campaign.fill_null(""))


def unpack_keys(packed: ibis.StringValue) -> dict[str, ibis.StringValue]:
    """The four values `pack_keys` joined, as expressions (a missing key: untagged, no UTM).

    Parameters
    ----------
    packed : ibis.StringValue
        `pack_keys`' text, or null.

    Returns
    -------
    dict of str to ibis.StringValue
        channel (未标记 when null), source, medium, campaign (null when "").
    """
    parts = packed.split(KEY_SEP)
    return {
        "channel": ibis.coalesce(parts[0], ibis.literal(UNTAGGED_CHANNEL)),
        "source": parts[1].nullif(""),
        "medium": parts[2].nullif(""),
        "campaign": parts[3].nullif(""),
    }


def signup_keys(ds: Dataset, touch_events: Any = TOUCH_EVENTS) -> ibis.Table:
    """user_id -> channel, source, medium, campaign of each user's sign-up: the one rule of the
    book for a sign-up channel (the wide table's signup_channel, chapter 3's registrations).

    The UTM values the users table records for the sign-up, normalised; a user without a
    utm_source takes the values of their last tagged touch at or before the sign-up; a user
    with neither is 未标记 (untagged). Of several tagged touches at that last time, the greatest
    packed key wins (a fixed rule, the same on every engine).

    Parameters
    ----------
    ds : Dataset
        The dataset; its users registered before `ds.period_end`.
    touch_events : Any, default TOUCH_EVENTS
        The touch events (chapter 3's `touch_events`); the wide table uses the default.

    Returns
    -------
    ibis.Table
        user_id, channel, source, medium, campaign; one row per user, kept in the engine (a
        run's store keeps the default touch events' table: the wide table's sign-up channel
        builds it in the load, and chapter 3's monitoring table and weekly trend read it).
    """
    touch = check_events(ds, touch_events, "touch_events")
    key = _kept_key(ds, "signup_keys", [s.key for s in touch])
    return ds.keep(key, lambda: _signup_keys(ds, touch))


def _signup_keys(ds: Dataset, touch_events: Any) -> ibis.Table:
    """`signup_keys`, not kept."""
    end = ds.period_end
    users = ds.users.filter(ds.users.registered_at < end)
    users = users.mutate(
        _s=normalise_utm(users.utm_source),
        _m=normalise_utm(users.utm_medium),
        _c=normalise_utm(users.utm_campaign),
    )
    t = touches(ds, touch_events)
    t = t.filter(t.user_id.notnull() & t.source.notnull())
    t = t.select(_uid=t.user_id, event_time=t.event_time, _k=pack_keys(t))
    reg = users.select(_ru="user_id", _rat="registered_at")
    t = t.join(reg, t._uid == reg._ru).filter(_.event_time <= _._rat)
    # the last touch time per user (an aggregate and a join, not a window), then its key
    at_time = t.group_by(_lu="_uid").aggregate(_lt=t.event_time.max())
    t = t.join(at_time, (t._uid == at_time._lu) & (t.event_time == at_time._lt))
    last = t.group_by("_uid").aggregate(_key=_._k.max())
    j = users.left_join(last, users.user_id == last._uid)
    touch = unpack_keys(j._key)
    own = j._s.notnull()
    channel_own = channel_of(j._s, ds.config.channels)
    return j.select(
        "user_id",
        channel=ibis.ifelse(own, channel_own, touch["channel"]),
        source=ibis.ifelse(own, j._s, touch["source"]),
        medium=ibis.ifelse(own, j._m, touch["medium"]),
        campaign=ibis.ifelse(own, j._c, touch["campaign"]),
    )

"""Mart `person_events`: every event up to the analysis date with the person it belongs to.

Identity is stitched once per dataset (at load in a run's store, else on first use) and every
chapter that follows people through events reads this table: the funnel, time to convert,
cohort conversion, stalled users' channels, attribution's touches and paths, and the campaign
funnels. No query stitches again.

Who is a person
---------------
* An event with a `user_id` belongs to that user (`signed_in` is true).
* A pre-sign-up event (`user_id` null, `anonymous_id` set) belongs to the user whose
  `register` event on the same `anonymous_id` comes next, at or after the event's time (a
  register at the same instant counts). On a shared device (one `anonymous_id`, several
  sign-ups) the events before the first sign-up go to the first user, those between the first
  and the second sign-up to the second user, and so on.
* Anonymous events after the device's last sign-up belong to that last user (logged-out use of
  the same phone). Two sign-ups on one device at the same instant count as one, the smaller
  user_id's.
* A device that never signed up is an anonymous visitor, `person_id = "anon:" + anonymous_id`,
  `user_id` null.

Investment milestones (first_investment, second_investment) are not events; `person_steps`
adds them from the `investments` mart when a caller names them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

import ibis
from ibis import _

from growthloop.marts.investments import investments
from growthloop.staging.contract import TABLES
from growthloop.staging.loader import Dataset

NAME = "person_events"
#: Events have no key in the contract: the mart has one row per clean event up to the date.
KEY: tuple[str, ...] = ()
#: The event columns of the contract (user_id now the person's user, null for a visitor), then
#: the person and whether the event itself carried the user id; the dataset's event properties
#: (text columns, growthloop.marts.events.event_properties) follow.
COLUMNS: tuple[str, ...] = (*TABLES["events"].column_names, "person_id", "signed_in")
#: Investment milestones a step, goal or conversion may name, and their `invest_n`.
MILESTONES: dict[str, int] = {"first_investment": 0, "second_investment": 1}
#: The columns `person_steps` returns.
STEP_COLUMNS: tuple[str, ...] = (
    "person_id", "user_id", "anonymous_id", "event_name", "event_time", "utm_source",
    "utm_medium", "utm_campaign",
)

Rows = Callable[[ibis.Table], ibis.expr.types.BooleanValue]


def stitch(events: ibis.Table, end: dt.datetime) -> ibis.Table:
    """The rule in the module docstring over any events table (contract columns), for the
    events before `end`: every column kept, `user_id` the person's user, plus `person_id` and
    `signed_in`.

    One join of every event to its device, after one pass over the sign-ups: each device's
    owner and, for a shared device (more than one sign-up instant, few), lists of its sign-up
    instants and their users, from which an anonymous event takes the first sign-up at or
    after its time, else the last. The events are read twice (the sign-ups, then every event),
    so pass a table or a projection of one, not a join, which DuckDB would materialise (design
    notes, "No large join read twice inside one query"). Until round twenty-three the shared
    devices' events were read a third time for a window over them: at 1M users the stitch took
    about a fifth longer, since DuckDB did not push that read's semi join below the loader's
    joins (benchmarks/results/notes.md).

    Parameters
    ----------
    events : ibis.Table
        Events with the contract's columns (user_id, anonymous_id, event_name, event_time ...).
    end : datetime.datetime
        The first instant left out (`Dataset.period_end`): events at or after it are dropped.

    Returns
    -------
    ibis.Table
        The columns of `events` in their order (user_id the person's user, null for a visitor
        who never signed up), then person_id (the user_id, else "anon:" + anonymous_id) and
        signed_in (whether the event itself carried the user_id); not executed.
    """
    ev = events.filter(events.event_time < end)
    # the sign-ups of each device: the user of each sign-up instant (two sign-ups on one device
    # at the same instant: the smaller user_id)
    signups = (
        ev.filter((ev.event_name == "register") & ev.user_id.notnull())
        .group_by(_o_anon=_.anonymous_id, _o_at=_.event_time)
        .aggregate(_owner=_.user_id.min())
    )
    devices = signups.group_by(_d_anon=_._o_anon).aggregate(
        _d_owner=_._owner.min(), _d_instants=_.count(), _d_at=_._o_at.collect(),
        _d_who=_._owner.collect(),
    )
    # the lists are read for shared devices only: the others carry none through the join
    shared = devices._d_instants > 1
    devices = devices.mutate(**{c: ibis.ifelse(shared, devices[c], ibis.null(devices[c].type()))
                                for c in ("_d_at", "_d_who")})
    j = ev.left_join(devices, ev.anonymous_id == devices._d_anon)
    anonymous = j.user_id.isnull() & j.anonymous_id.notnull()
    at = j.event_time
    # a shared device: the next sign-up at or after the event (one at the same instant
    # counts), else the last one before it; its user is at the same place in the other list
    # (two lists of one aggregate follow the same rows, on every engine)
    chosen = ibis.coalesce(j._d_at.filter(lambda t: t >= at).mins(), j._d_at.maxs())
    place = j._d_at.index(chosen).cast("int32")  # Spark indexes by INT only
    owner = ibis.cases((anonymous & (j._d_instants > 1), j._d_who[place]),
                       (anonymous, j._d_owner), else_=ibis.null("string"))
    uid = ibis.coalesce(j.user_id, owner)
    out = j.mutate(
        signed_in=j.user_id.notnull(),
        user_id=uid,
        person_id=ibis.coalesce(uid, ibis.literal("anon:") + j.anonymous_id),
    )
    return out.select(*events.columns, "person_id", "signed_in")


def build(ds: Dataset) -> ibis.Table:
    """The mart as an Ibis expression (not executed): COLUMNS, then the event properties.

    Parameters
    ----------
    ds : Dataset
        The dataset: its clean events up to the analysis date are stitched.

    Returns
    -------
    ibis.Table
        COLUMNS, then the event properties; one row per event before `ds.period_end`.
    """
    props = [c for c in ds.events.columns if c not in COLUMNS]
    return stitch(ds.events, ds.period_end).select(*COLUMNS, *props)


def person_events(ds: Dataset) -> ibis.Table:
    """The kept mart (built once per dataset, or read from the run's store).

    Parameters
    ----------
    ds : Dataset
        The dataset.

    Returns
    -------
    ibis.Table
        `build`'s table, kept in the engine.
    """
    return ds.keep(NAME, lambda: build(ds))


def _milestones(investments: ibis.Table, names: Sequence[str],
                props: Sequence[str] = ()) -> ibis.Table | None:
    """The named investment milestones of numbered investments (`invest_n`) as STEP_COLUMNS
    rows (properties null); None when no milestone is named."""
    ms = [m for m in MILESTONES if m in names]
    if not ms:
        return None
    txn = investments.filter(investments.invest_n.isin([MILESTONES[m] for m in ms]))
    name = ibis.cases(*[(txn.invest_n == MILESTONES[m], m) for m in ms])
    null = ibis.null("string")
    return txn.select(
        person_id=txn.user_id, user_id=txn.user_id, anonymous_id=null, event_name=name,
        event_time=txn.txn_time, utm_source=null, utm_medium=null, utm_campaign=null,
        **{p: null for p in props},
    )


def _steps(events: ibis.Table, investments: ibis.Table, names: Sequence[str] | None,
           where: Rows | None, columns: Sequence[str] | None = None) -> ibis.Table:
    """Rows of the named events of stitched `events` plus the named milestones (every event
    and milestone when `names` is None): STEP_COLUMNS and the event properties (the columns of
    `events` beyond the contract), filtered by `where`, then only `columns` when given (in
    each part before the union: DuckDB reads every column of a union it is not told to
    leave out, a fifth of a 7-step funnel's time at 1M users)."""
    if names is not None:
        events = events.filter(events.event_name.isin([n for n in names if n not in MILESTONES]))
    null = ibis.null("string")
    contract = {*TABLES["events"].column_names, "person_id", "signed_in"}
    props = [c for c in events.columns if c not in contract]
    out = events.select(*[events[c] if c in events.columns else null.name(c) for c in STEP_COLUMNS],
                        *props)
    if where is not None:
        out = out.filter(where(out))
    ms = _milestones(investments, list(MILESTONES) if names is None else names, props)
    if ms is not None and where is not None:
        ms = ms.filter(where(ms))
    if columns is not None:
        out = out.select(*[c for c in out.columns if c in columns])
        ms = ms.select(*out.columns) if ms is not None else None
    return out if ms is None else out.union(ms)


def person_steps(ds: Dataset, names: Sequence[str] | None = None,
                 where: Rows | None = None, columns: Sequence[str] | None = None) -> ibis.Table:
    """Person-level rows of the named events and milestones (every event and milestone when
    `names` is None), up to the analysis date, read from the kept marts.

    Columns: STEP_COLUMNS, then the event properties. `where`, a function of the table giving a
    condition on those columns, limits the rows further (milestone rows carry no UTM values and
    no properties).

    Parameters
    ----------
    ds : Dataset
        The dataset.
    names : sequence of str, optional
        Event names and milestones (first_investment, second_investment) to read; None for
        every event and milestone.
    where : callable, optional
        A function of the table returning a boolean condition on its columns; None keeps
        every row.
    columns : sequence of str, optional
        Only these of the columns (in the table's order), for a caller that reads few of
        them; None for all.

    Returns
    -------
    ibis.Table
        STEP_COLUMNS, then the event properties (null on milestone rows); not executed.
    """
    return _steps(person_events(ds), investments(ds), names, where, columns)


def stitched_steps(events: ibis.Table, transactions: ibis.Table, end: dt.datetime,
                   names: Sequence[str] | None = None, where: Rows | None = None) -> ibis.Table:
    """`person_steps` over raw tables (no dataset): `events` stitched by `stitch`, and the
    successful investments in `transactions` (user_id, txn_id, txn_time) numbered per user.
    For tests and hand-built logs; a dataset's chapters read the kept marts.

    Parameters
    ----------
    events : ibis.Table
        Raw events with the contract's columns.
    transactions : ibis.Table
        The successful investments: user_id, txn_id, txn_time (numbered per user by time,
        then txn_id).
    end : datetime.datetime
        The first instant left out: events and investments at or after it are dropped.
    names : sequence of str, optional
        Event names and milestones to read; None for every event and milestone.
    where : callable, optional
        A function of the table returning a boolean condition on its columns; None keeps
        every row.

    Returns
    -------
    ibis.Table
        STEP_COLUMNS, then the event properties (null on milestone rows); not executed.
    """
    txn = transactions.filter(transactions.txn_time < end)
    txn = txn.mutate(
        invest_n=ibis.row_number().over(group_by="user_id", order_by=["txn_time", "txn_id"]))
    return _steps(stitch(events, end), txn, names, where)

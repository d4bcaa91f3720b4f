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

    `events` is read twice (every device, then the shared ones): pass a table or a projection
    of one, not a join, which DuckDB would materialise (design notes, "No large join read
    twice inside one query"). A device with one sign-up instant (nearly all) is resolved with a
    join; only shared devices need the window pass.

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

    def prepared(ev: ibis.Table) -> ibis.Table:
        is_reg = (ev.event_name == "register") & ev.user_id.notnull()
        return ev.mutate(
            _is_reg=is_reg.cast("int8"),
            _reg_at=ibis.ifelse(is_reg, ev.event_time, ibis.null("timestamp")),
        )

    ev = prepared(events.filter(events.event_time < end))
    cols = ev.columns
    # the sign-ups of each device: the user of each sign-up instant (two sign-ups on one device
    # at the same instant: the smaller user_id) and whether the device has more than one
    signups = (
        ev.filter(ev._is_reg == 1)
        .group_by(_o_anon=_.anonymous_id, _o_at=_.event_time)
        .aggregate(_owner=_.user_id.min())
    )
    devices = signups.group_by(_d_anon=_._o_anon).aggregate(
        _d_owner=_._owner.min(), _d_shared=_.count() > 1
    )
    shared_devices = devices.filter(devices._d_shared).select(_s_anon=_._d_anon)
    # a device with one sign-up instant (nearly all): its anonymous events are that user's
    simple = ev.left_join(devices, ev.anonymous_id == devices._d_anon)
    anonymous = simple.user_id.isnull() & simple.anonymous_id.notnull()
    simple = simple.filter(~(anonymous & simple._d_shared.fill_null(False))).mutate(
        _owner=ibis.ifelse(anonymous, simple._d_owner, ibis.null("string"))
    )
    # a shared device: the next sign-up at or after the event, else the last one before, from
    # min/max windows over the device's anonymous events and sign-ups only (argmin/argmax over
    # the frames, or windows over every event, cost several times more on DuckDB). Its rows
    # are read from the events again (a semi join on the few shared devices) by an expression
    # of their own: a table expression read twice becomes a common table expression, which
    # DuckDB materialises when it holds a join (docs/design_notes.md, "No large join read twice
    # inside one query").
    sh = prepared(
        events.filter(
            (events.event_time < end) & events.anonymous_id.isin(shared_devices._s_anon)
        )
    )
    sh = sh.filter((sh.user_id.isnull() & sh.anonymous_id.notnull()) | (sh._is_reg == 1))
    sh = sh.select(*cols)
    w_next = ibis.window(
        group_by="anonymous_id", order_by=["event_time", "_is_reg"], rows=(0, None)
    )
    w_prev = ibis.window(
        group_by="anonymous_id", order_by=["event_time", "_is_reg"], rows=(None, 0)
    )
    sh = sh.mutate(
        _owner_at=ibis.coalesce(sh._reg_at.min().over(w_next), sh._reg_at.max().over(w_prev))
    )
    sh = sh.filter(sh._is_reg == 0)
    sh = sh.left_join(
        signups, (sh.anonymous_id == signups._o_anon) & (sh._owner_at == signups._o_at)
    )
    ev = simple.select(*cols, "_owner").union(sh.select(*cols, "_owner"), distinct=False)
    uid = ibis.coalesce(ev.user_id, ev._owner)
    ev = ev.mutate(
        signed_in=ev.user_id.notnull(),
        user_id=uid,
        person_id=ibis.coalesce(uid, ibis.literal("anon:") + ev.anonymous_id),
    )
    return ev.select(*[c for c in events.columns if c in ev.columns], "person_id", "signed_in")


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

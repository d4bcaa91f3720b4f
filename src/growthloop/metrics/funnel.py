"""The conversion funnel (转化漏斗): where users are lost, for whom, how fast, and who is stalled.

Everything is computed in the engine. The events of the funnel's steps are read once,
stitched to people, and folded into one row per person (or per attempt) holding, per step, the
list of that step's times (`collect`); step times, strict-order checks, exclusions and
censoring are then row-wise list expressions on that small table, and only the step counts come
back to pandas.

Which funnel
------------
A funnel is defined once, as a `FunnelSpec` built by `make_spec(steps, window_days, order,
step_windows, exclusions, count)`, and passed as one argument: ``funnel(ds, spec)``,
``time_to_convert(ds, spec)``, ``cohort_conversion(ds, spec)`` (the spec from `register` on,
`FunnelSpec.from_step`), ``outside_funnel(ds, spec)``, ``step_times(ds, spec)``. The same
spec reads the same kept step times. The `make_spec` keywords are still accepted in place of
a spec (``funnel(ds, steps=[...], window_days=14)``) for callers written before it.

Identity (who is a "person")
----------------------------
* An event with a `user_id` belongs to that user; transactions always have one.
* A pre-sign-up event (`user_id` null, `anonymous_id` set) belongs to the user whose
  `register` event on the same `anonymous_id` comes next, at or after the event's time (a
  register at the same instant counts). On a shared device (one `anonymous_id`, several sign-ups)
  the clicks before the first sign-up go to the first user, the clicks between the first and the
  second sign-up to the second user, and so on.
* Anonymous events after the device's last sign-up belong to that last user (logged-out use of
  the same phone). Two sign-ups on one device at the same instant count as one, the smaller
  user_id's.
* A device that never signed up is an anonymous visitor, `person_id = "anon:" + anonymous_id`:
  it is counted at the pre-sign-up steps it reached and, having no `user_id`, never beyond.

Steps
-----
A step is an event name of the events table, or a transaction milestone: `first_investment`
(the user's first successful investment) or `second_investment` (the second). Data at or after
the end of the analysis date is ignored.

Matching (order="sequential")
-----------------------------
A person enters at their first occurrence of step 1 (time t1; count="unique"). Step k is
reached at the first occurrence of step k at or after the time step k-1 was reached (equal
times allowed, other events may come between) and no later than the deadline: t1 + window_days
and, when a per-step window w_k is given, also t(k-1) + w_k. Both window edges are inclusive: an
event exactly at t1 + window_days counts. Taking the earliest occurrence at each step is optimal
for a fixed entry, so no person is counted lower than they could be. A person does not re-enter:
a later ad click does not start a second attempt (use count="total" for attempts).

order="strict"
--------------
As sequential, and in addition no event of *another* step of this funnel (any step other than
k-1 and k, milestones included) may happen strictly between the times step k-1 and step k were
reached. Repeats of step k-1 itself (a second ad click while waiting for the install) are not an
interruption, and events that are not steps of the funnel (app_open, share, ...) never are.
A person whose stream is interrupted stops at step k-1 and is lost there.

Exclusions
----------
`exclusions=[("coupon_claim", "register", "bind_card")]`: a person who does the excluded event
strictly after reaching the first named step and before reaching the second (or, not having
reached it, before their window ends) leaves the funnel at that moment: the steps they reached
up to the exclusion event stay counted, the following ones are not, and they count as lost
(`excluded`) at the next step. A bare event name excludes between the first and the last step.
(PostHog removes such users from every step; we keep what they did before leaving, so the
drop-off shows where they left.)

count="total"
-------------
Every occurrence of step 1 opens an attempt that lasts until the same person's next step-1
occurrence (exclusive) or the window, whichever comes first; the counts are attempts, and a
later step is credited to the latest attempt before it (never to two attempts).

Censoring (the bug this module fixes)
-------------------------------------
Step k's deadline is the one above (the earlier of the funnel window and the step window; for
an attempt also its successor's start). At the end of the analysis date a person who reached
step k-1 but not step k is
* `in_progress` (censored) when the deadline has not passed and nothing has ruled them out;
* `lost` otherwise (the deadline passed, or they were excluded or interrupted).
Rates use only *settled* people: `rate_from_previous` of step k is computed among those whose
step-k deadline has passed; `rate_from_start` among entrants whose whole window has passed. So
in-progress people are kept out of the denominator (PostHog and Mixpanel count them as dropped,
which makes every recent period look worse), and so are the people who already converted inside
a still-open window, because keeping them would let the fastest converters of the newest cohort
inflate the rate. `users` counts everyone who reached the step, settled or not.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ibis
import pandas as pd
from ibis import _

from growthloop.engine import (
    backend_name,
    drop,
    fresh_name,
    materialize,
    require_exact_quantiles,
    splits_deep_queries,
)
from growthloop.errors import NotAvailable
from growthloop.marts.channels import channel_lookup
from growthloop.marts.events import EventSelector, check, event_names, selector, selectors
from growthloop.marts.identity import MILESTONES, person_events, person_steps
from growthloop.marts.wide import user_wide
from growthloop.metrics.stats import wilson
from growthloop.staging.contract import UNTAGGED_CHANNEL
from growthloop.staging.loader import Dataset

DEFAULT_STEPS: tuple[str, ...] = (
    "ad_click",
    "app_install",
    "register",
    "kyc_verified",
    "bind_card",
    "first_investment",
    "second_investment",
)
#: The step a registration cohort's funnel starts at (`FunnelSpec.from_step`, `cohort_conversion`).
COHORT_START = "register"
#: The default funnel from sign-up on: `make_spec().from_step(COHORT_START).steps`.
COHORT_STEPS: tuple[str, ...] = DEFAULT_STEPS[DEFAULT_STEPS.index(COHORT_START):]
#: The keywords of `make_spec`: the one definition of "which funnel".
SPEC_FIELDS = ("steps", "window_days", "order", "step_windows", "exclusions", "count")
STEP_LABELS: dict[str, str] = {
    "ad_click": "广告点击",
    "link_click": "链接点击",
    "app_install": "安装",
    "register": "注册",
    "kyc_verified": "实名认证",
    "bind_card": "绑卡",
    "first_investment": "首投",
    "second_investment": "复投",
    "coupon_claim": "领券",
    "app_open": "打开App",
    "share": "分享",
}
ORDERS = ("sequential", "strict")
#: The longest window a funnel takes (ten years): a longer one is a typo, and would overflow the
#: engine's interval arithmetic
MAX_WINDOW_DAYS = 3650
COUNTS = ("unique", "total")
WIDE_BREAKDOWNS = (
    "signup_channel",
    "reg_month",
    "age_band",
    "province",
    "region",
    "city_tier",
    "device_os",
    "gender",
)
CHANNEL_BREAKDOWNS = ("first_touch", "last_touch")
#: How the page names a breakdown (the parameter's value stays the analyst's).
BREAKDOWN_LABELS: dict[str, str] = {
    "signup_channel": "注册渠道", "reg_month": "注册月份", "age_band": "年龄段", "province": "省份",
    "region": "地区", "city_tier": "城市等级", "device_os": "设备", "gender": "性别",
    "first_touch": "首次触点渠道", "last_touch": "注册前末次触点渠道",
}
#: segment of people who never signed up (no wide-table row)
ANONYMOUS = "未注册"
#: fewer settled people than this in a segment: no significance verdict
MIN_SEGMENT_USERS = 30
#: time-to-convert histogram bins, in hours: (label, lower bound inclusive)
TIME_BINS: tuple[tuple[str, float], ...] = (
    ("<1小时", 0.0),
    ("1-24小时", 1.0),
    ("1-3天", 24.0),
    ("3-7天", 72.0),
    ("7-14天", 168.0),
    ("14-30天", 336.0),
    ("30天以上", 720.0),
)
FUNNEL_COLUMNS = ("step", "users", "rate_from_start", "rate_from_previous", "ci_low", "ci_high")


@dataclass(frozen=True)
class FunnelSpec:
    """Which funnel: a validated definition, built once by `make_spec` and passed as one argument.

    `funnel`, `time_to_convert`, `cohort_conversion`, `step_times` and `outside_funnel` all take
    a spec, so a chapter says once which funnel it means (steps, window, order, per-step
    windows, exclusions, what is counted) and every function reads the same one.

    Attributes
    ----------
    steps
        Event names or milestones (first_investment, second_investment), in funnel order.
    window_days
        Days from entering (the first step) within which every later step must happen, edges
        included.
    order
        "sequential" (other events may come between steps) or "strict".
    step_windows
        Days allowed from the previous step, one per step (None: no limit; the first is None).
    exclusions
        (event name, from step index, to step index): doing the event between the two steps
        takes a person out of the funnel (module docstring).
    count
        "unique" people or "total" attempts.

    Examples
    --------
    >>> spec = make_spec(["register", "bind_card", "first_investment"], window_days=14)
    >>> spec.steps
    ('register', 'bind_card', 'first_investment')
    >>> spec.from_step("bind_card").steps
    ('bind_card', 'first_investment')
    """

    steps: tuple[str, ...]
    window_days: float
    order: str
    step_windows: tuple[float | None, ...]
    exclusions: tuple[tuple[str, int, int], ...]
    count: str
    #: the event selector of each of `names` (growthloop.marts.events): a step may be an own
    #: event with property filters; filled from the names when not given
    selected: tuple[EventSelector, ...] = ()

    def __post_init__(self) -> None:
        if not self.selected:
            object.__setattr__(self, "selected", tuple(selector(n) for n in self.names))

    @property
    def names(self) -> tuple[str, ...]:
        """Every step and excluded event the funnel reads, by key (an event name, or an event
        with its property filter, `EventSelector.key`): its steps, then the excluded events."""
        extra = tuple(dict.fromkeys(e for e, _a, _b in self.exclusions if e not in self.steps))
        return self.steps + extra

    @property
    def event_names(self) -> tuple[str, ...]:
        """The event names and milestones the funnel reads from the data (filters aside)."""
        return tuple(dict.fromkeys(s.event for s in self.selected))

    def selector(self, key: str) -> EventSelector:
        """The event selector of a step or excluded event, by its key.

        Parameters
        ----------
        key : str
            A key of `names` (an event name, or `EventSelector.key` with a property filter).

        Returns
        -------
        EventSelector

        Raises
        ------
        ValueError
            When `key` is not one of `names`.
        """
        if key not in self.names:
            raise ValueError(f"step {key!r} is not a step of this funnel; its steps are {list(self.names)}")
        return self.selected[self.names.index(key)]

    def label(self, key: str) -> str:
        """A step's label for a reader: 注册, 浏览产品详情 (product_type=定期12月) ...

        Parameters
        ----------
        key : str
            A key of `names`.

        Returns
        -------
        str
            The step's label (STEP_LABELS, else the event's role label, else its name) with
            its property filter.

        Raises
        ------
        ValueError
            When `key` is not one of `names`.

        Examples
        --------
        >>> make_spec(["register", "bind_card"]).label("bind_card")
        '绑卡'
        """
        return self.selector(key).label(STEP_LABELS)

    def from_step(self, step: str) -> FunnelSpec:
        """The same funnel from `step` on: the later steps, their windows and exclusions.

        The window is then counted from entering at `step`. An exclusion that began before
        `step` and ends after it applies from `step` on; one that ends at or before it is dropped.

        Parameters
        ----------
        step
            A step of this funnel other than the last (a funnel needs two steps).

        Returns
        -------
        FunnelSpec

        Raises
        ------
        ValueError
            When `step` is not a step of the funnel, or is its last step.
        """
        if step not in self.steps:
            raise ValueError(f"step: {step!r} is not a step of the funnel {list(self.steps)}")
        k = self.steps.index(step)
        if k == len(self.steps) - 1:
            raise ValueError(f"step: {step!r} is the funnel's last step; a funnel needs at "
                             f"least two steps, pick one of {list(self.steps[:-1])}")
        exclusions = tuple((name, max(a - k, 0), b - k) for name, a, b in self.exclusions if b > k)
        keys = self.steps[k:] + tuple(dict.fromkeys(
            e for e, _a, _b in exclusions if e not in self.steps[k:]))
        return FunnelSpec(self.steps[k:], self.window_days, self.order,
                          (None, *self.step_windows[k + 1:]), exclusions, self.count,
                          tuple(self.selector(key) for key in keys))


def _days(value: float) -> ibis.IntervalScalar:
    return ibis.interval(seconds=int(round(float(value) * 86400)))


def _hours(start: ibis.TimestampValue, stop: ibis.TimestampValue) -> ibis.FloatingValue:
    """Hours from `start` to `stop`, to the microsecond, on any engine.

    An exact microsecond difference: epoch_seconds() would drop the fraction of a second on
    Spark (unix_timestamp) but not on DuckDB.
    """
    return stop.delta(start, unit="microsecond").cast("float64") / 3.6e9


def make_spec(
    steps: Sequence[str] = DEFAULT_STEPS,
    window_days: float = 30,
    order: str = "sequential",
    step_windows: dict[str, float] | Sequence[float | None] | None = None,
    exclusions: Sequence[str | tuple[str, str, str]] = (),
    count: str = "unique",
) -> FunnelSpec:
    """Build the funnel definition every funnel function takes, checking each parameter.

    Parameters
    ----------
    steps
        Event names of the events table or milestones (first_investment, second_investment),
        at least two, each once. Default `DEFAULT_STEPS` (ad click to second investment).
    window_days
        Days from entering (the first step) within which the later steps count, edges included.
    order
        "sequential" (other events may come between) or "strict" (no other step of the funnel
        may come between two consecutive steps).
    step_windows
        Days allowed from the previous step: {step: days} or one value per step (the first is
        ignored); None for no per-step limit.
    exclusions
        Event names, or (event, from_step, to_step): a person doing the event between the two
        steps leaves the funnel there. A bare name excludes between the first and last step.
    count
        "unique" people or "total" attempts (every occurrence of the first step opens one).

    Returns
    -------
    FunnelSpec

    Raises
    ------
    ValueError
        Naming the parameter and what is allowed.

    Examples
    --------
    >>> spec = make_spec(window_days=14, order="strict")
    >>> spec.window_days, spec.order
    (14.0, 'strict')
    """
    chosen = selectors(steps, "steps")
    steps = tuple(s.key for s in chosen)
    if len(steps) < 2:
        raise ValueError(f"steps: a funnel needs at least two steps, got {list(steps)}")
    if len(set(steps)) != len(steps):
        raise ValueError(f"steps: each step may appear once, got {list(steps)}")
    if order not in ORDERS:
        raise ValueError(f"order: {order!r} is not one of {list(ORDERS)}")
    if count not in COUNTS:
        raise ValueError(f"count: {count!r} is not one of {list(COUNTS)}")
    if not (isinstance(window_days, int | float) and not isinstance(window_days, bool)
            and 0 < window_days <= MAX_WINDOW_DAYS):
        raise ValueError(f"window_days: must be a positive number of days up to {MAX_WINDOW_DAYS}, "
                         f"got {window_days!r}")
    if step_windows is None:
        windows: list[float | None] = [None] * len(steps)
    elif isinstance(step_windows, dict):
        unknown = sorted(set(step_windows) - set(steps[1:]))
        if unknown:
            raise ValueError(
                f"step_windows: {unknown} are not steps after the first; "
                f"the steps are {list(steps[1:])}"
            )
        windows = [None] + [step_windows.get(s) for s in steps[1:]]
    else:
        windows = list(step_windows)
        if len(windows) != len(steps):
            raise ValueError(
                f"step_windows: give one value per step ({len(steps)}), got {len(windows)}"
            )
        windows[0] = None
    for w in windows:
        if w is not None and not (isinstance(w, int | float) and 0 < w <= MAX_WINDOW_DAYS):
            raise ValueError(f"step_windows: windows are positive days up to {MAX_WINDOW_DAYS}, "
                             f"got {w!r}")
    excl = []
    excluded: dict[str, EventSelector] = {}
    for e in exclusions:
        if isinstance(e, str | Mapping | EventSelector):
            e = (e, steps[0], steps[-1])
        if not isinstance(e, list | tuple) or len(e) != 3:
            raise ValueError(
                f"exclusions: give an event or (event, from_step, to_step), got {e!r}"
            )
        sel = selector(e[0], "exclusions")
        a, b = (selector(x, "exclusions").key for x in e[1:])
        if sel.key in steps:
            raise ValueError(f"exclusions: {sel.key!r} is a step of the funnel")
        if sel.is_milestone:
            raise ValueError(f"exclusions: {sel.key!r} is a milestone, exclude events only")
        if a not in steps or b not in steps or steps.index(a) >= steps.index(b):
            raise ValueError(f"exclusions: ({a!r}, {b!r}) must be two steps of the funnel in order")
        excl.append((sel.key, steps.index(a), steps.index(b)))
        excluded.setdefault(sel.key, sel)
    return FunnelSpec(steps, float(window_days), order, tuple(windows), tuple(excl), count,
                      chosen + tuple(excluded.values()))


def default_steps(ds: Dataset) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The default funnel's steps that the data has, and the ones it lacks.

    The default funnel is DEFAULT_STEPS (ad click to second investment); a role the platform
    does not track (no kyc_verified events, say) is left out rather than shown as a step nobody
    reached. Milestones come from the transactions and are always kept.

    Parameters
    ----------
    ds : Dataset
        The dataset.

    Returns
    -------
    tuple
        (steps kept, roles left out), both in funnel order.
    """
    present = event_names(ds)
    kept = tuple(s for s in DEFAULT_STEPS if s in MILESTONES or s in present)
    return kept, tuple(s for s in DEFAULT_STEPS if s not in kept)


def focus_step(spec: FunnelSpec, preferred: str = "first_investment") -> str:
    """The step a chapter names leaders and laggards at: `preferred` when it is a step of the
    funnel, else its last step.

    Parameters
    ----------
    spec : FunnelSpec
        The funnel.
    preferred : str, default "first_investment"
        The step wanted.

    Returns
    -------
    str
        A step of `spec`.

    Examples
    --------
    >>> focus_step(make_spec(["register", "bind_card"]))
    'bind_card'
    """
    return preferred if preferred in spec.steps else spec.steps[-1]


def as_spec(spec: FunnelSpec | None = None, **definition: Any) -> FunnelSpec:
    """`spec`, or one built from `make_spec` keywords when no spec is given.

    The spec is the primary form. The keywords are the shorthand of callers written before it
    (``funnel(ds, steps=..., window_days=...)``); giving both is an error, and so is a spec
    that is not a `FunnelSpec` (a list of steps, say).

    Parameters
    ----------
    spec : FunnelSpec, optional
        The funnel; None to build it from `definition` (the default funnel without keywords).
    **definition
        `make_spec` keywords (SPEC_FIELDS), only without a spec.

    Returns
    -------
    FunnelSpec

    Raises
    ------
    TypeError
        For a keyword that is not one of SPEC_FIELDS.
    ValueError
        When `spec` is not a FunnelSpec, when both a spec and keywords are given, or for a bad
        keyword value (`make_spec`).
    """
    unknown = sorted(set(definition) - set(SPEC_FIELDS))
    if unknown:
        raise TypeError(f"unexpected keyword argument(s) {unknown}; the funnel keywords are "
                        f"{list(SPEC_FIELDS)}")
    if spec is None:
        return make_spec(**definition)
    if not isinstance(spec, FunnelSpec):
        raise ValueError(f"spec: pass a FunnelSpec from funnel.make_spec(...), got "
                         f"{type(spec).__name__} {spec!r}")
    if definition:
        raise ValueError(f"spec: give either a FunnelSpec or the keywords {sorted(definition)}, "
                         "not both")
    return spec


# --------------------------------------------------------------------------------------------
# per-person step times


def _check_steps(ds: Dataset, spec: FunnelSpec) -> None:
    """A step or excluded event the data does not have is a typo (or a property it lacks): stop
    naming the closest event names in the data (`growthloop.marts.events.check`)."""
    check(ds, spec.selected, "steps")


def step_times(ds: Dataset, spec: FunnelSpec | None = None, **definition: Any) -> ibis.Table:
    """One row per person (count="unique") or attempt (count="total"), as an Ibis expression.

    Parameters
    ----------
    ds
        The dataset.
    spec
        Which funnel (`make_spec`); None for the default funnel. `make_spec` keywords are
        accepted instead of a spec (see `as_spec`).
    **definition
        `make_spec` keywords instead of a spec (see `as_spec`).

    Returns
    -------
    ibis.Table
        person_id, user_id, entry_at, t0..t{n-1} (when each step was reached, null if not),
        level (steps reached), and per step k >= 1: in_progress{k}, lost{k}, excluded{k},
        settled{k} (the step-k deadline has passed), plus settled0 (the whole window has passed).
    """
    spec = as_spec(spec, **definition)
    # the funnel table, its breakdowns and the time to convert of one chapter read the same
    # step times: stitched and computed once per dataset and funnel definition, kept in the engine
    return _kept_step_times(ds, spec)


def _kept_step_times(ds: Dataset, spec: FunnelSpec) -> ibis.Table:
    """`step_times` computed and kept in the engine.

    Where the engine must cut a deep query into kept steps (`engine.splits_deep_queries`:
    Postgres), a strict-order funnel also keeps each step's intermediate table, and a funnel
    with exclusions the table before the cut; they are dropped once the result is kept.
    """
    parts: list[str] = []
    keep = None
    if (spec.order == "strict" or spec.exclusions) and splits_deep_queries(ds.con):

        def keep(table: ibis.Table) -> ibis.Table:
            parts.append(fresh_name("funnel_part"))
            return materialize(ds.con, parts[-1], table)

    read = ["person_id", "user_id", "event_name", "event_time",
            *(prop for selected in spec.selected for prop in selected.properties)]
    kept = ds.keep(f"funnel.step_times:{spec!r}", lambda: _step_core(
        person_steps(ds, spec.event_names, columns=read), spec, ds.period_end, keep=keep,
        times_not_null=backend_name(ds.con) != "pyspark"))
    for name in parts:
        drop(ds.con, name)
    return _step_status(kept, spec)


def step_times_from(
    ev: ibis.Table,
    spec: FunnelSpec,
    end: dt.datetime,
    keep: Callable[[ibis.Table], ibis.Table] | None = None,
) -> ibis.Table:
    """`step_times` over stitched events (person_id, user_id, event_name, event_time).

    `keep`, when given, is applied to the intermediate table after each strict-order step and
    before the exclusions' cut (the caller keeps it in the engine: `_kept_step_times` on
    Postgres).

    Parameters
    ----------
    ev : ibis.Table
        Stitched events and milestones before `end` (`growthloop.marts.identity.person_steps`):
        person_id, user_id, event_name, event_time and the properties the steps filter on.
    spec : FunnelSpec
        Which funnel.
    end : datetime.datetime
        The first instant after the analysis date: deadlines not passed by then are open.
    keep : callable, optional
        Takes an intermediate table and returns the table to go on with; None for none.

    Returns
    -------
    ibis.Table
        `step_times`' columns; not executed.
    """
    return _step_status(_step_core(ev, spec, end, keep), spec)


def _step_core(
    ev: ibis.Table,
    spec: FunnelSpec,
    end: dt.datetime,
    keep: Callable[[ibis.Table], ibis.Table] | None = None,
    times_not_null: bool = False,
) -> ibis.Table:
    """What `step_times` keeps in the engine: person_id, `_known` (the person has a user_id),
    entry_at (t0), t1..t{n-1}, and the few booleans the steps' status follows from
    (`_step_status`): `_due0` (the whole window has passed, or the next attempt began), per
    step with its own window `_due{k}` (the same for step k's limit; a step without one has
    the whole window's), `_ruled{k}` (a strict order or an exclusion ruled the step out) and
    `_cut` (an exclusion cut the funnel). Kept narrow: the status columns, four per step, cost
    more to write than to derive at each read.

    `times_not_null`: `ev.event_time` is never null (the kept marts), so the lists need not
    test each time for null; Ibis cannot leave the test out on PySpark, whose lists skip nulls
    anyway. (With `before_stop` and `_due0` for the steps without a window of their own: a 7-step
    funnel's kept step times 7% quicker at 1M users, benchmarks/results/notes.md, round 15.)"""
    end = ibis.literal(end)
    n = len(spec.steps)
    idx = {name: i for i, name in enumerate(spec.names)}
    # each person's times of each event: lists, except the entry step's unless a strict order
    # reads it (its earliest time is the entry). The entry event is usually the commonest
    # (ad clicks), so its list is the largest part of the aggregation's memory. user_id
    # follows from person_id (module docstring: a person with a user_id has it as person_id),
    # so it is not a grouping key, only whether the person has one.
    first = spec.selected[0].condition(ev)
    aggs = {
        f"_a{i}": ev.event_time.collect(where=spec.selected[i].condition(ev),
                                        include_null=times_not_null)
        for _name, i in idx.items()
        if i > 0 or spec.order == "strict"
    }
    if spec.count == "unique":
        aggs["entry_at"] = ev.event_time.min(where=first)
    lists = ev.group_by("person_id").aggregate(_known=_.user_id.notnull().any(), **aggs)
    if spec.count == "unique":
        g = lists.filter(lists.entry_at.notnull())
        g = g.mutate(_nxt=ibis.null("timestamp"))
    else:
        entries = ev.filter(first)
        entries = entries.select(
            "person_id",
            entry_at=entries.event_time,
            _nxt=entries.event_time.lead().over(group_by="person_id", order_by="event_time"),
        )
        lists = lists.rename(_pid="person_id")
        g = entries.join(lists, entries.person_id == lists._pid).drop("_pid")
    g = g.mutate(
        t0=g.entry_at,
        _stop=ibis.coalesce(g._nxt, end),
        _deadline=g.entry_at + _days(spec.window_days),
    ).view()

    def before_stop(v: ibis.TimestampValue) -> ibis.BooleanValue:
        """v is before the attempt's stop. Counting people, the stop is `end`, and every
        event and milestone read is before it (`ev`'s contract): no test to make for each
        element of every list."""
        return v < g._stop if spec.count == "total" else ibis.literal(True)

    # step by step; .view() keeps Ibis from inlining each step's expression into the next
    for k in range(1, n):
        prev = g[f"t{k - 1}"]
        limit = g._deadline
        if spec.step_windows[k] is not None:
            limit = ibis.least(limit, prev + _days(spec.step_windows[k]))
        cand = g[f"_a{k}"].filter(
            lambda v, p=prev, lim=limit: (v >= p) & (v <= lim) & before_stop(v)).mins()
        if spec.order != "strict":
            # nothing can interrupt: the candidate is the step, one query level per step (fewer
            # levels make the SQL much quicker to compile)
            g = g.mutate(**{f"_lim{k}": limit, f"t{k}": cand}).view()
            continue
        g = g.mutate(**{f"_lim{k}": limit, f"_c{k}": cand}).view()
        cand, limit = g[f"_c{k}"], g[f"_lim{k}"]
        prev = g[f"t{k - 1}"]
        blocked = ibis.literal(0)
        if spec.order == "strict":
            for j in range(n):
                if j in (k - 1, k):
                    continue
                inside = g[f"_a{j}"].filter(
                    lambda v, p=prev, c=cand, lim=limit: (
                        (v > p) & ibis.ifelse(c.isnull(), (v <= lim) & before_stop(v), v < c)
                    )
                )
                blocked = blocked + inside.length().fill_null(0)
        g = g.mutate(
            **{
                f"_blocked{k}": ibis.ifelse(prev.isnull(), 0, blocked),
                f"t{k}": ibis.ifelse(blocked > 0, ibis.null("timestamp"), cand),
            }
        ).view()
        if keep is not None:
            g = keep(g)
    # exclusions: leave the funnel at the first excluded event between the two steps (a
    # funnel without any needs none of the levels below: fewer for Ibis to compile)
    if spec.exclusions:
        g = _cut_at_exclusions(g, spec, idx, before_stop, keep)
    cols = {"_due0": (g._deadline < end) | g._nxt.notnull()}
    for k in range(1, n):
        if _due_column(spec, k) != "_due0":
            cols[f"_due{k}"] = (g[f"_lim{k}"] < end) | g._nxt.notnull()
        if spec.order == "strict":
            cols[f"_ruled{k}"] = g[f"_blocked{k}"] > 0
    if spec.exclusions:
        cols["_cut"] = g._cut.notnull()
    # user_id is person_id where the person has one (`_known`), and t0 is entry_at: derived
    # at each read rather than written (`_step_status`)
    return g.select("person_id", "_known", "entry_at", *[f"t{k}" for k in range(1, n)], **cols)


def _due_column(spec: FunnelSpec, k: int) -> str:
    """The kept column telling whether step k's deadline has passed: its own `_due{k}` for a
    step with a window of its own, else the whole window's `_due0` (step k's limit is then
    the deadline)."""
    return f"_due{k}" if spec.step_windows[k] is not None else "_due0"


def _cut_at_exclusions(
    g: ibis.Table,
    spec: FunnelSpec,
    idx: Mapping[str, int],
    before_stop: Callable[[ibis.TimestampValue], ibis.BooleanValue],
    keep: Callable[[ibis.Table], ibis.Table] | None,
) -> ibis.Table:
    """`_step_core`'s table with `_cut` (the first excluded event that ended the funnel, else
    null) and the steps after the cut nulled; `keep` as in `_step_core`."""
    n = len(spec.steps)
    for e, (name, a, _b) in enumerate(spec.exclusions):
        ta = g[f"t{a}"]
        x = (
            g[f"_a{idx[name]}"]
            .filter(lambda v, ta=ta, lim=g._deadline: (v > ta) & (v <= lim) & before_stop(v))
            .mins()
        )
        g = g.mutate(**{f"_x{e}": x})
    g = g.view()
    if keep is not None:
        g = keep(g)
    cuts = []
    for e, (_name, _a, b) in enumerate(spec.exclusions):
        x, tb = g[f"_x{e}"], g[f"t{b}"]
        cuts.append(ibis.ifelse(x.notnull() & (tb.isnull() | (x < tb)), x, ibis.null("timestamp")))
    cut = ibis.least(*cuts) if len(cuts) > 1 else cuts[0]
    g = g.mutate(_cut=cut).view()
    g = g.mutate(
        **{
            f"t{k}": ibis.ifelse(
                g._cut.notnull() & (g[f"t{k}"] > g._cut), ibis.null("timestamp"), g[f"t{k}"]
            )
            for k in range(1, n)
        }
    ).view()
    return g


def _step_status(core: ibis.Table, spec: FunnelSpec) -> ibis.Table:
    """`step_times`' columns from `_step_core`'s: user_id, t0, level, settled0 and per step
    k >= 1 settled{k}, in_progress{k}, lost{k}, excluded{k}."""
    n = len(spec.steps)
    core = core.mutate(user_id=ibis.ifelse(core._known, core.person_id, ibis.null("string")),
                       t0=core.entry_at)
    false = ibis.literal(False)
    cut = core._cut if spec.exclusions else false
    cols = {
        "level": sum(core[f"t{k}"].notnull().cast("int64") for k in range(n)),
        "settled0": core._due0,
    }
    for k in range(1, n):
        prev, cur = core[f"t{k - 1}"], core[f"t{k}"]
        waiting = prev.notnull() & cur.isnull()
        settled = prev.notnull() & core[_due_column(spec, k)]
        excluded = waiting & cut
        ruled_out = excluded | (core[f"_ruled{k}"] if spec.order == "strict" else false)
        cols[f"settled{k}"] = settled
        cols[f"excluded{k}"] = excluded
        cols[f"in_progress{k}"] = waiting & ~settled & ~ruled_out
        cols[f"lost{k}"] = waiting & (settled | ruled_out)
    return core.select("person_id", "user_id", "entry_at", *[f"t{k}" for k in range(n)], **cols)


# --------------------------------------------------------------------------------------------
# breakdowns


def _segment_table(
    ds: Dataset, entries: ibis.Table, breakdown: str, spec: FunnelSpec
) -> ibis.Table:
    """`entries` with a `segment` column (strings; anonymous visitors are 未注册)."""
    if breakdown in WIDE_BREAKDOWNS:
        wide = user_wide(ds)
        col = wide[breakdown]
        if breakdown == "reg_month":
            col = col.strftime("%Y-%m")
        props = wide.select(_uid=wide.user_id, _seg=col.cast("string"))
        j = entries.left_join(props, entries.user_id == props._uid)
        seg = ibis.ifelse(j.user_id.isnull(), ANONYMOUS, j._seg.fill_null("未知"))
        return j.mutate(segment=seg).drop("_uid", "_seg")
    if breakdown in CHANNEL_BREAKDOWNS:
        # the stitched events themselves, not `person_steps`: no investment milestone carries a
        # UTM value or is a sign-up, and reading them cost a union with every investment
        pe = person_events(ds)
        ev = pe.select("person_id", "event_name", "event_time", "utm_source",
                       _tagged=pe.utm_source.notnull() & (pe.utm_source.strip() != ""))
        first = breakdown == "first_touch"
        # only the last touch stops at the sign-up: the first needs no sign-up time (DuckDB
        # kept the unused join: 8M rows joined at 1M users)
        if first:
            touches = ev.filter(ev._tagged)
        else:
            ev = ev.filter(ev._tagged | (ev.event_name == "register"))
            touches = ev.filter(ev._tagged)
            reg = (
                ev.filter(ev.event_name == "register")
                .group_by("person_id")
                .aggregate(_reg_at=_.event_time.min())
            )
            touches = touches.left_join(reg, "person_id").drop("person_id_right")
            touches = touches.filter(touches._reg_at.isnull()
                                     | (touches.event_time <= touches._reg_at))
        src = _source_channel(ds, _touch_source(ds, touches, first)).rename(_pid="person_id")
        j = entries.left_join(src, entries.person_id == src._pid)
        # a person without a tagged touch has no row in `src`: untagged too
        return j.mutate(segment=j._seg.fill_null(UNTAGGED_CHANNEL)).drop("_pid", "_utm", "_seg")
    if breakdown.startswith("step:"):
        step = breakdown[5:]
        if step not in spec.steps:
            raise ValueError(f"breakdown: {step!r} is not a step of the funnel {list(spec.steps)}")
        if step in MILESTONES:
            raise ValueError(
                f"breakdown: milestone {step!r} carries no channel; pick an event step"
            )
        k = spec.steps.index(step)
        sel = spec.selector(step)
        ev = person_steps(ds, [sel.event])
        ev = ev.filter(sel.condition(ev))
        ev = ev.select(_pid=ev.person_id, _t=ev.event_time, _utm=ev.utm_source)
        ev = ev.group_by(["_pid", "_t"]).aggregate(_utm=_._utm.min())
        ev = _source_channel(ds, ev)
        j = entries.left_join(ev, (entries.person_id == ev._pid) & (entries[f"t{k}"] == ev._t))
        seg = ibis.ifelse(j[f"t{k}"].isnull(), f"未到{spec.label(step)}", j._seg)
        return j.mutate(segment=seg).drop("_pid", "_t", "_utm", "_seg")
    raise ValueError(
        f"breakdown: {breakdown!r} is not one of {list(WIDE_BREAKDOWNS)}, "
        f"{list(CHANNEL_BREAKDOWNS)} or 'step:<step name>'"
    )


def _source_channel(ds: Dataset, table: ibis.Table) -> ibis.Table:
    """`table` with _seg, the channel of its raw UTM source _utm (未标记 without one): the
    stitched events' few distinct sources are mapped once (`channel_lookup`) and joined."""
    lookup = channel_lookup(person_events(ds).utm_source, ds.config.channels, out="_seg")
    j = table.left_join(lookup, table._utm == lookup._raw)
    return j.mutate(_seg=j._seg.fill_null(UNTAGGED_CHANNEL)).drop("_raw")


def _touch_source(ds: Dataset, touches: ibis.Table, first: bool) -> ibis.Table:
    """person_id, _utm: each person's first (else last) tagged touch's utm_source; of several
    at that instant the smallest, as the step breakdown does (argmin/argmax would take any).

    DuckDB: an ordered FIRST. Elsewhere (Ibis cannot compile one for PySpark, and Postgres has
    no FIRST aggregate) the time is found by an aggregate and the source by a join on it: the
    same rows, at about 1 s more at 1M users on DuckDB.
    """
    if backend_name(ds.con) == "duckdb":
        time = touches.event_time if first else ibis.desc(touches.event_time)
        return touches.group_by("person_id").aggregate(
            _utm=touches.utm_source.first(order_by=[time, touches.utm_source]))
    edge = touches.event_time.min() if first else touches.event_time.max()
    at = touches.group_by(_tp="person_id").aggregate(_at=edge)
    at = touches.join(at, (touches.person_id == at._tp) & (touches.event_time == at._at))
    return at.group_by("person_id").aggregate(_utm=at.utm_source.min())


# --------------------------------------------------------------------------------------------
# the funnel table


def _ratio(a: int, b: int) -> float:
    return float(a) / float(b) if b else float("nan")



def breakdown_label(breakdown: str, spec: FunnelSpec | None = None) -> str:
    """The breakdown as the page names it: 注册渠道, 首次触点渠道, 「绑卡」时的渠道.

    Parameters
    ----------
    breakdown : str
        A breakdown of :func:`funnel` (WIDE_BREAKDOWNS, CHANNEL_BREAKDOWNS or "step:<name>").
    spec : FunnelSpec or None, default None
        The funnel, to name a step breakdown's step by its label.

    Returns
    -------
    str
        The Chinese name; an unknown breakdown is returned as given.

    Examples
    --------
    >>> breakdown_label("last_touch"), breakdown_label("step:bind_card")
    ('注册前末次触点渠道', '「bind_card」时的渠道')
    """
    if breakdown.startswith("step:"):
        step = breakdown[5:]
        name = spec.label(step) if spec is not None and step in spec.steps else step
        return f"「{name}」时的渠道"
    return BREAKDOWN_LABELS.get(breakdown, breakdown)

def funnel(
    ds: Dataset,
    spec: FunnelSpec | None = None,
    breakdown: str | None = None,
    alpha: float = 0.05,
    **definition: Any,
) -> pd.DataFrame:
    """The funnel table: one row per step (per segment and step with a breakdown).

    Parameters
    ----------
    ds
        The dataset.
    spec
        Which funnel, from `make_spec` (steps, window, order, step windows, exclusions, count;
        rules in the module docstring). None for the default funnel (`DEFAULT_STEPS`, 30 days).
    breakdown
        None, a wide-table column (WIDE_BREAKDOWNS), "first_touch" (the channel of the
        person's earliest UTM-tagged event; of several at that instant, the smallest
        utm_source), "last_touch" (the latest tagged event at or before
        the sign-up; the latest of all for visitors who never signed up) or "step:<name>" (the
        channel of the event matched at that step). A touch channel is one per person for the
        whole period, so it can reflect what the person did later: a device that clicks a paid
        ad, then a referral link, then installs is a 老带新 person entering at the ad click;
        read the pre-sign-up steps of link-click channels with that in mind. Anonymous visitors
        are the segment 未注册 in the wide-table breakdowns.
    alpha
        1 - the confidence of the Wilson intervals.
    **definition
        `make_spec` keywords instead of a spec (``funnel(ds, steps=[...], window_days=14)``),
        kept for callers written before the spec; the spec is the primary form.

    Returns
    -------
    pandas.DataFrame
        step, users, rate_from_start, rate_from_previous, ci_low, ci_high (Wilson interval of
        rate_from_start), then label, ci_prev_low, ci_prev_high (of rate_from_previous),
        drop_off (users of the previous step minus users), in_progress (censored: reached the
        previous step, window still open), lost, excluded, base_start / converted_start and
        base_previous / converted_previous (the settled people behind each rate), and segment
        first with a breakdown.

    Examples
    --------
    >>> spec = make_spec(["register", "bind_card", "first_investment"], window_days=30)
    >>> steps = funnel(ds, spec)  # doctest: +SKIP
    >>> by_channel = funnel(ds, spec, breakdown="last_touch")  # doctest: +SKIP
    """
    spec = as_spec(spec, **definition)
    _check_steps(ds, spec)
    table = step_times(ds, spec)
    if breakdown is not None:
        table = _segment_table(ds, table, breakdown, spec)
    out = funnel_table(table, spec, alpha, segmented=breakdown is not None)
    if out.empty or int(out[out.step == spec.steps[0]].users.sum()) == 0:
        first = spec.label(spec.steps[0])
        raise NotAvailable(f"进入漏斗的人（做过第一步「{first}」的人）",
                           f"截至分析日数据中没有人做过「{first}」",
                           "换一个数据里有的第一步（参数 steps），或检查这一步的埋点")
    return out


def funnel_table(
    table: ibis.Table, spec: FunnelSpec, alpha: float = 0.05, segmented: bool = False
) -> pd.DataFrame:
    """The funnel table of a `step_times` table (with a `segment` column when segmented);
    only the per-segment step counts are executed.

    Parameters
    ----------
    table : ibis.Table
        `step_times` of `spec`, with a string column segment when `segmented`.
    spec : FunnelSpec
        The funnel `table` was computed for.
    alpha : float, default 0.05
        1 - the confidence of the Wilson intervals.
    segmented : bool, default False
        One block of steps per segment (ordered by segment); otherwise one block, also when
        nobody entered.

    Returns
    -------
    pandas.DataFrame
        `funnel`'s columns (segment first when `segmented`).
    """
    keys = ["segment"]
    n = len(spec.steps)

    def count_if(cond):
        return cond.cast("int64").sum()

    aggs = {}
    for k in range(n):
        reached = table[f"t{k}"].notnull()
        aggs[f"users{k}"] = count_if(reached)
        aggs[f"cs{k}"] = count_if(reached & table.settled0)
        if k:
            aggs[f"bp{k}"] = count_if(table[f"settled{k}"])
            aggs[f"cp{k}"] = count_if(reached & table[f"settled{k}"])
            for c in ("in_progress", "lost", "excluded"):
                aggs[f"{c}{k}"] = count_if(table[f"{c}{k}"])
    aggs["bs"] = count_if(table.settled0)
    if segmented:
        counts = table.group_by(keys).aggregate(**aggs).order_by(keys).to_pandas()
    else:  # one row even when nobody entered
        counts = (
            table.aggregate(**aggs).to_pandas().astype("float64").fillna(0).assign(segment="全部")
        )
    rows = []
    for rec in counts.to_dict("records"):
        for k, step in enumerate(spec.steps):
            users = int(rec[f"users{k}"])
            bs, cs = int(rec["bs"]), int(rec[f"cs{k}"])
            bp = int(rec[f"bp{k}"]) if k else bs
            cp = int(rec[f"cp{k}"]) if k else bs
            lo, hi = wilson(cs, bs, alpha)
            plo, phi = wilson(cp, bp, alpha) if k else (float("nan"), float("nan"))
            rows.append(
                {
                    "step": step,
                    "users": users,
                    "rate_from_start": _ratio(cs, bs),
                    "rate_from_previous": _ratio(cp, bp) if k else float("nan"),
                    "ci_low": lo,
                    "ci_high": hi,
                    "label": spec.label(step),
                    "ci_prev_low": plo,
                    "ci_prev_high": phi,
                    "drop_off": int(rec[f"users{k - 1}"]) - users if k else 0,
                    "in_progress": int(rec[f"in_progress{k}"]) if k else 0,
                    "lost": int(rec[f"lost{k}"]) if k else 0,
                    "excluded": int(rec[f"excluded{k}"]) if k else 0,
                    "base_start": bs,
                    "converted_start": cs,
                    "base_previous": bp,
                    "converted_previous": cp,
                    "segment": rec["segment"],
                }
            )
    out = pd.DataFrame(rows)
    if not segmented:
        out = out.drop(columns="segment")
    else:
        out = out[["segment", *[c for c in out.columns if c != "segment"]]]
    return out.reset_index(drop=True)


def summary(result: pd.DataFrame, outside: dict[str, int] | None = None,
            conversion: str = "first_investment") -> dict[str, float | int | str]:
    """The headline numbers of a funnel for the chapter's prose (glued as ``funnel_<key>``).

    Parameters
    ----------
    result
        A `funnel` table without breakdown.
    outside
        `outside_funnel`'s counts, to add as ``registered`` and ``outside``.
    conversion
        The step whose rate from the first step is ``first_invest_rate`` (NaN when it is not
        a step of the funnel).

    Returns
    -------
    dict
        entrants, completed, end_rate (first to last step), in_progress (all steps),
        worst_step / worst_rate / worst_lost (the label of the step with the lowest rate from
        the previous step, the rate, the people lost there), leak_step / leak_lost (the label
        of the step losing most people, and how many), first_invest_rate, and with `outside`:
        outside (registered users without the first step), registered.
    """
    if "segment" in result.columns:
        raise ValueError("result: pass a funnel table without a breakdown")
    steps = result.reset_index(drop=True)
    later = steps.iloc[1:]
    settled = later[later.rate_from_previous.notna()]
    # no settled step yet (every window still open: two weeks of data): no worst or leak step
    worst = settled.loc[settled.rate_from_previous.idxmin()] if len(settled) else None
    leak = settled.loc[settled.lost.idxmax()] if len(settled) else None
    rate = steps.set_index("step").rate_from_start.get(conversion, float("nan"))
    nan = float("nan")
    out: dict[str, float | int | str] = {
        "entrants": int(steps.users.iloc[0]),
        "completed": int(steps.users.iloc[-1]),
        "end_rate": float(steps.rate_from_start.iloc[-1]),
        "in_progress": int(steps.in_progress.sum()),
        "worst_step": str(worst.label) if worst is not None else "",
        "worst_rate": float(worst.rate_from_previous) if worst is not None else nan,
        "worst_lost": int(worst.lost) if worst is not None else 0,
        "leak_step": str(leak.label) if leak is not None else "",
        "leak_lost": int(leak.lost) if leak is not None else 0,
        "first_invest_rate": float(rate),
    }
    if outside is not None:
        out.update(outside=int(outside["without_first_step"]),
                   registered=int(outside["registered"]))
    return out


def top_segments(result: pd.DataFrame, n: int = 8) -> list[str]:
    """The `n` segments with most people at the first step of a funnel table with a breakdown
    (most first; ties by order in the table).

    Parameters
    ----------
    result : pandas.DataFrame
        A `funnel` table with a breakdown.
    n : int, default 8
        How many segments, at least 1.

    Returns
    -------
    list of str
        Up to `n` segment names.

    Raises
    ------
    ValueError
        For a table without a breakdown, or a bad `n`.
    """
    if "segment" not in result.columns:
        raise ValueError("result: pass a funnel table with a breakdown")
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n: a whole number of segments >= 1, got {n!r}")
    first = result[result.step == result.step.iloc[0]] if len(result) else result
    return first.nlargest(n, "users").segment.tolist()


# --------------------------------------------------------------------------------------------
# segments compared

#: the verdicts of `compare_segments` (codes) and the label the book shows for each
SEGMENT_VERDICTS: dict[str, str] = {
    "higher": "高于其他",
    "lower": "低于其他",
    "not_significant": "无显著差异",
    "too_small": "样本不足",
}
_SEGMENT_VERDICT_CODES: dict[str, str] = {label: code for code, label in SEGMENT_VERDICTS.items()}


def segment_verdict_label(code: str) -> str:
    """The label the book shows for a `compare_segments` verdict code (ValueError if unknown).

    Parameters
    ----------
    code : str
        A code of SEGMENT_VERDICTS: higher, lower, not_significant or too_small.

    Returns
    -------
    str
        Its label (高于其他 ...).

    Raises
    ------
    ValueError
        For an unknown code.

    Examples
    --------
    >>> segment_verdict_label("too_small")
    '样本不足'
    """
    if code not in SEGMENT_VERDICTS:
        raise ValueError(f"code: {code!r}; allowed: {list(SEGMENT_VERDICTS)}")
    return SEGMENT_VERDICTS[code]


def segment_verdict_code(verdict: str) -> str:
    """The code of a `compare_segments` verdict given as its code or as its label (the table
    the book publishes carries the label).

    Parameters
    ----------
    verdict : str
        A code of SEGMENT_VERDICTS or its label.

    Returns
    -------
    str
        The code.

    Raises
    ------
    ValueError
        When `verdict` is neither a code nor a label.

    Examples
    --------
    >>> segment_verdict_code("高于其他"), segment_verdict_code("lower")
    ('higher', 'lower')
    """
    if verdict in SEGMENT_VERDICTS:
        return verdict
    if verdict not in _SEGMENT_VERDICT_CODES:
        raise ValueError(f"verdict: {verdict!r}; allowed: {list(SEGMENT_VERDICTS)} or their labels")
    return _SEGMENT_VERDICT_CODES[verdict]


def compare_segments(
    result: pd.DataFrame, min_users: int = MIN_SEGMENT_USERS, alpha: float = 0.05,
    labels: bool = True,
) -> pd.DataFrame:
    """Each segment's step rate (from the previous step) against the other segments pooled.

    Two-proportion z test per segment and step on the settled people, Holm-corrected within a
    step; a chi-square test of all segments with at least `min_users` settled people gives
    `chi2_p` for the step. Segments under `min_users` get no verdict (too_small).

    Parameters
    ----------
    result : pandas.DataFrame
        A `funnel` table with a breakdown.
    min_users : int, default MIN_SEGMENT_USERS
        The fewest settled people (at the step, and in the other segments pooled) a segment
        needs for a test.
    alpha : float, default 0.05
        The significance level (Holm-corrected) and 1 - the confidence of the Wilson
        intervals.
    labels : bool, default True
        Show each verdict as its label; False keeps the code.

    Returns
    -------
    pandas.DataFrame
        One row per segment and step after the first: segment, step, label, base (settled
        people), rate (from the previous step), ci_low, ci_high, rest_base, rest_rate (the
        other segments with at least `min_users`, pooled), diff (rate - rest_rate), p_value,
        p_holm, chi2_p, verdict: a code of SEGMENT_VERDICTS (higher / lower /
        not_significant / too_small), or its label (高于其他 / 低于其他 / 无显著差异 / 样本不足,
        the table the book publishes) unless `labels` is False.

    Raises
    ------
    ValueError
        For a table without a breakdown.
    NotAvailable
        For an empty table (nobody entered the funnel).
    """
    from scipy.stats import chi2_contingency
    from statsmodels.stats.multitest import multipletests
    from statsmodels.stats.proportion import proportions_ztest

    if "segment" not in result.columns:
        raise ValueError("result: pass a funnel table with a breakdown")
    if result.empty:
        raise NotAvailable("至少一个分组进入漏斗的第一步", "漏斗里没有人",
                           "检查分析日期和第一步的事件在数据中是否存在")
    rows = []
    first = result.step.iloc[0]
    for step, part in result[result.step != first].groupby("step", sort=False):
        part = part.reset_index(drop=True)
        ok = part.base_previous >= min_users
        big = part[ok]
        chi2_p = float("nan")
        if len(big) >= 2:
            conv = big.converted_previous.to_numpy()
            base = big.base_previous.to_numpy()
            table = [conv, base - conv]
            if (conv.sum() > 0) and ((base - conv).sum() > 0):
                chi2_p = float(chi2_contingency(table)[1])
        pvals, idx = [], []
        for i, r in part.iterrows():
            rest = part[part.index != i]
            rest = rest[rest.base_previous >= min_users]
            n_rest, c_rest = int(rest.base_previous.sum()), int(rest.converted_previous.sum())
            lo, hi = wilson(int(r.converted_previous), int(r.base_previous), alpha)
            rate = _ratio(int(r.converted_previous), int(r.base_previous))
            rest_rate = _ratio(c_rest, n_rest)
            p = float("nan")
            if (
                ok[i]
                and n_rest >= min_users
                and 0 < c_rest + r.converted_previous < n_rest + r.base_previous
            ):
                p = float(
                    proportions_ztest(
                        [int(r.converted_previous), c_rest], [int(r.base_previous), n_rest]
                    )[1]
                )
                pvals.append(p)
                idx.append(len(rows))
            rows.append(
                {
                    "segment": r.segment,
                    "step": step,
                    "label": r.label,
                    "base": int(r.base_previous),
                    "rate": rate,
                    "ci_low": lo,
                    "ci_high": hi,
                    "rest_base": n_rest,
                    "rest_rate": rest_rate,
                    "diff": rate - rest_rate,
                    "p_value": p,
                    "p_holm": float("nan"),
                    "chi2_p": chi2_p,
                    "verdict": "too_small",
                }
            )
        if pvals:
            adj = multipletests(pvals, alpha=alpha, method="holm")[1]
            for j, p in zip(idx, adj, strict=True):
                rows[j]["p_holm"] = float(p)
        for r in rows:
            if r["step"] == step and not math.isnan(r["p_value"]):
                sig = r["p_holm"] < alpha
                r["verdict"] = (
                    ("higher" if r["diff"] > 0 else "lower") if sig else "not_significant"
                )
            elif r["step"] == step and r["base"] >= min_users and r["rest_base"] >= min_users:
                r["verdict"] = "not_significant"  # no test possible: nobody or everybody converted
    out = pd.DataFrame(rows)
    if labels and len(out):
        out["verdict"] = out.verdict.map(segment_verdict_label)
    return out


# --------------------------------------------------------------------------------------------
# time to convert


def time_to_convert(
    ds: Dataset,
    spec: FunnelSpec | None = None,
    exact: bool = True,
    **definition: Any,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hours from each step to the next, for the conversions inside the window (all of them are).

    Parameters
    ----------
    ds
        The dataset.
    spec
        Which funnel, from `make_spec`; None for the default funnel. The same spec as the
        chapter's `funnel` call reads the same kept step times.
    exact
        Exact quantiles (linear interpolation: DuckDB quantile_cont, Spark percentile), only
        where the engine's exact quantile is DuckDB's (DuckDB, Spark, Postgres; elsewhere
        NotImplementedError). False: the engine's own approximate quantile (DuckDB
        approx_quantile, a t-digest; Spark approx_percentile, an observed value), which scales
        to warehouse sizes and runs on any engine; approximate quantiles differ between engines
        (within a few points of rank on the test data), everything else is the same.
    **definition
        `make_spec` keywords instead of a spec (see `funnel`).

    Returns
    -------
    stats : pandas.DataFrame
        One row per transition: from_step, to_step, label, conversions, p25_hours,
        median_hours, p75_hours, mean_hours. Hours are exact microsecond differences.
    histogram : pandas.DataFrame
        transition, bin (TIME_BINS), bin_order, conversions, share (of the transition's
        conversions); every bin is listed, empty ones with 0.

    Examples
    --------
    >>> stats, hist = time_to_convert(ds, make_spec(window_days=14))  # doctest: +SKIP
    """
    spec = as_spec(spec, **definition)
    if exact:
        require_exact_quantiles(ds.con, "funnel.time_to_convert(exact=True)")
    _check_steps(ds, spec)
    table = step_times(ds, spec)
    parts = []
    for k in range(1, len(spec.steps)):
        a, b = spec.steps[k - 1], spec.steps[k]
        hours = _hours(table[f"t{k - 1}"], table[f"t{k}"])
        label = f"{spec.label(a)}→{spec.label(b)}"
        parts.append(
            table.filter(table[f"t{k}"].notnull()).select(
                k=ibis.literal(k),
                from_step=ibis.literal(a),
                to_step=ibis.literal(b),
                label=ibis.literal(label),
                hours=hours.cast("float64"),
            )
        )
    rows = parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]
    q = (lambda c, p: c.quantile(p)) if exact else (lambda c, p: c.approx_quantile(p))
    stats = (
        rows.group_by(["k", "from_step", "to_step", "label"])
        .aggregate(
            conversions=_.count(),
            p25_hours=q(_.hours, 0.25),
            median_hours=q(_.hours, 0.5),
            p75_hours=q(_.hours, 0.75),
            mean_hours=_.hours.mean(),
        )
        .order_by("k")
        .to_pandas()
    )
    bins = ibis.cases(
        *[(rows.hours >= lo, i) for i, (_lab, lo) in reversed(list(enumerate(TIME_BINS)))], else_=0
    )
    hist = (
        rows.mutate(bin_order=bins)
        .group_by(["k", "label", "bin_order"])
        .aggregate(conversions=_.count())
        .order_by(["k", "bin_order"])
        .to_pandas()
    )
    # every bin shown, empty ones as 0
    full = pd.MultiIndex.from_product(
        [stats.k.tolist(), range(len(TIME_BINS))], names=["k", "bin_order"]
    ).to_frame(index=False)
    labels = dict(zip(stats.k, stats.label, strict=True))
    full["label"] = full.k.map(labels)
    hist = full.merge(hist, on=["k", "label", "bin_order"], how="left")
    hist["conversions"] = hist.conversions.fillna(0).astype(int)
    totals = hist.groupby("k").conversions.transform("sum")
    hist["share"] = (hist.conversions / totals.where(totals > 0)).astype(float)
    hist["bin"] = hist.bin_order.map(lambda i: TIME_BINS[i][0])
    hist = hist.rename(columns={"label": "transition"})
    stats = stats.drop(columns="k")
    for c in ("p25_hours", "median_hours", "p75_hours", "mean_hours"):
        stats[c] = stats[c].astype(float)
    stats["conversions"] = stats.conversions.astype(int)
    return stats, hist[["transition", "bin", "bin_order", "conversions", "share"]]


# --------------------------------------------------------------------------------------------
# cohorts


def cohort_spec(spec: FunnelSpec) -> FunnelSpec:
    """The funnel a registration cohort goes through: `spec` from `register` on when register
    is one of its steps (before it the cohort has no meaning: everyone in a cohort has
    registered), else `spec` itself; people are counted (count="unique") either way.

    Parameters
    ----------
    spec : FunnelSpec
        The chapter's funnel.

    Returns
    -------
    FunnelSpec

    Examples
    --------
    >>> cohort_spec(make_spec(count="total")).steps == COHORT_STEPS
    True
    """
    if COHORT_START in spec.steps[:-1]:
        spec = spec.from_step(COHORT_START)
    return dataclasses.replace(spec, count="unique")


def cohort_conversion(
    ds: Dataset,
    spec: FunnelSpec | None = None,
    alpha: float = 0.05,
    **definition: Any,
) -> pd.DataFrame:
    """The funnel per registration month (reg_month): did this month's sign-ups convert better?

    Parameters
    ----------
    ds
        The dataset.
    spec
        The chapter's funnel, from `make_spec`; None for the default funnel. The cohorts go
        through `cohort_spec(spec)`: its steps from `register` on when register is a step
        (the default funnel gives `COHORT_STEPS`), else all its steps, counting people.
    alpha
        1 - the confidence of the Wilson intervals.
    **definition
        `make_spec` keywords instead of a spec (see `funnel`).

    Returns
    -------
    pandas.DataFrame
        One row per cohort and step: cohort (YYYY-MM) and the funnel columns (rates among
        settled people: a cohort whose window has not passed shows its in-progress people and
        no rate yet). Visitors who never signed up have no cohort and are left out.

    Examples
    --------
    >>> cohorts = cohort_conversion(ds, make_spec(window_days=30))  # doctest: +SKIP
    """
    spec = cohort_spec(as_spec(spec, **definition))
    out = funnel(ds, spec, breakdown="reg_month", alpha=alpha)
    out = out[out.segment != ANONYMOUS].rename(columns={"segment": "cohort"})
    rank = {st: i for i, st in enumerate(spec.steps)}
    return out.sort_values(
        ["cohort", "step"],
        key=lambda s: s.map(rank) if s.name == "step" else s,
    ).reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# stalled users for trigger campaigns

TRIGGERS: dict[str, dict[str, str]] = {
    "no_card": {
        "label": "注册未绑卡",
        "channel": "短信 + 推送",
        "message": "实名绑卡领新手加息券，3 分钟完成",
    },
    "no_invest": {
        "label": "绑卡未首投",
        "channel": "推送 (未开推送的用短信)",
        "message": "新手专享标的 + 首投红包，限时 7 天",
    },
}


def stalled_users(
    ds: Dataset, card_hours: float = 24, invest_days: float = 7, lookback_days: float = 30
) -> ibis.Table:
    """Users to hand to a trigger campaign, as an Ibis expression (user ids: export only).

    * no_card: registered, no bound card `card_hours` after signing up, still none at the end of
      the analysis date;
    * no_invest: bound a card, no investment `invest_days` after binding, still none.
    Only people whose stall began (the sign-up, the card binding) within `lookback_days` before
    the end of the analysis date: a trigger is for the recent, not for last year's sign-ups.

    Parameters
    ----------
    ds : Dataset
        The dataset.
    card_hours : float, default 24
        Hours after signing up without a bound card before no_card applies.
    invest_days : float, default 7
        Days after binding a card without an investment before no_invest applies.
    lookback_days : float, default 30
        Days before the end of the analysis date within which the stall must have begun.

    Returns
    -------
    ibis.Table
        user_id, rule (no_card or no_invest, TRIGGERS), since (the sign-up or binding time),
        hours_waiting (hours from `since` to the end of the analysis date), signup_channel,
        device_os; ordered by rule, since, user_id; not executed.

    Raises
    ------
    ValueError
        When `card_hours`, `invest_days` or `lookback_days` is not a positive number.
    """
    _check_stall_rules(card_hours, invest_days, lookback_days)
    end = ds.period_end
    since = end - dt.timedelta(days=lookback_days)
    w = user_wide(ds)
    hours = lambda t: _hours(t, ibis.literal(end))  # noqa: E731
    card = w.filter(
        w.bind_card_at.isnull()
        & (w.registered_at >= since)
        & (w.registered_at + _days(card_hours / 24) < end)
    )
    card = card.select(
        "user_id",
        rule=ibis.literal("no_card"),
        since=card.registered_at,
        hours_waiting=hours(card.registered_at),
        signup_channel=card.signup_channel,
        device_os=card.device_os,
    )
    inv = w.filter(
        w.bind_card_at.notnull()
        & w.first_invest_at.isnull()
        & (w.bind_card_at >= since)
        & (w.bind_card_at + _days(invest_days) < end)
    )
    inv = inv.select(
        "user_id",
        rule=ibis.literal("no_invest"),
        since=inv.bind_card_at,
        hours_waiting=hours(inv.bind_card_at),
        signup_channel=inv.signup_channel,
        device_os=inv.device_os,
    )
    return card.union(inv).order_by(["rule", "since", "user_id"])


def _check_stall_rules(card_hours: float, invest_days: float, lookback_days: float) -> None:
    """The stall rules' parameters are positive numbers of hours or days (ValueError naming one)."""
    for name, value in (
        ("card_hours", card_hours),
        ("invest_days", invest_days),
        ("lookback_days", lookback_days),
    ):
        if not (isinstance(value, int | float) and not isinstance(value, bool) and value > 0):
            raise ValueError(f"{name}: must be a positive number, got {value!r}")


def stalled_counts(
    ds: Dataset, card_hours: float = 24, invest_days: float = 7, lookback_days: float = 30
) -> pd.DataFrame:
    """Counts of `stalled_users` per rule with the suggested trigger (aggregates only).

    Also the historical share: of the people whose `card_hours` (or `invest_days`) had passed,
    how many had stalled (no card / no investment in that time), over the whole data.

    Parameters
    ----------
    ds : Dataset
        The dataset.
    card_hours : float, default 24
        Hours after signing up without a bound card before no_card applies.
    invest_days : float, default 7
        Days after binding a card without an investment before no_invest applies.
    lookback_days : float, default 30
        Days before the end of the analysis date within which the stall must have begun.

    Returns
    -------
    pandas.DataFrame
        One row per rule (no_card, no_invest): rule, label, users (stalled now),
        historical_share, historical_base (the people whose time had passed), channel, timing,
        message; the rules' parameters in ``attrs`` (card_hours, invest_days, lookback_days).

    Raises
    ------
    ValueError
        When `card_hours`, `invest_days` or `lookback_days` is not a positive number.
    NotAvailable
        When the data has no bind_card event.
    """
    _check_stall_rules(card_hours, invest_days, lookback_days)  # a bad parameter before the data
    if "bind_card" not in event_names(ds):
        raise NotAvailable("绑卡事件（bind_card 角色）：滞留规则以“注册后未绑卡”和“绑卡后未首投”判定",
                           "数据中没有 bind_card 事件",
                           "在 dataset.yml 的 tables.events.values.event_name 里把平台的绑卡事件映射为 "
                           "bind_card")
    stalled = stalled_users(ds, card_hours, invest_days, lookback_days)
    counts = stalled.group_by("rule").aggregate(users=_.count()).to_pandas()
    counts = dict(zip(counts.rule, counts.users, strict=True))
    end = ds.period_end
    w = user_wide(ds)
    card_due = w.registered_at + _days(card_hours / 24)
    inv_due = w.bind_card_at + _days(invest_days)
    hist = (
        w.aggregate(
            card_base=(card_due < end).cast("int64").sum(),
            card_stalled=(
                (card_due < end) & (w.bind_card_at.isnull() | (w.bind_card_at > card_due))
            )
            .cast("int64")
            .sum(),
            inv_base=(inv_due < end).cast("int64").sum(),
            inv_stalled=(
                (inv_due < end) & (w.first_invest_at.isnull() | (w.first_invest_at > inv_due))
            )
            .cast("int64")
            .sum(),
        )
        .to_pandas()
        .iloc[0]
    )
    rows = []
    for rule, base, stalled_n in (
        ("no_card", "card_base", "card_stalled"),
        ("no_invest", "inv_base", "inv_stalled"),
    ):
        rows.append(
            {
                "rule": rule,
                "label": TRIGGERS[rule]["label"],
                "users": int(counts.get(rule, 0)),
                "historical_share": _ratio(int(hist[stalled_n]), int(hist[base])),
                "historical_base": int(hist[base]),
                "channel": TRIGGERS[rule]["channel"],
                "timing": (f"注册满 {card_hours:g} 小时仍未绑卡时触达" if rule == "no_card"
                           else f"绑卡满 {invest_days:g} 天仍未首投时触达"),
                "message": TRIGGERS[rule]["message"],
            }
        )
    out = pd.DataFrame(rows)
    out.attrs.update(card_hours=card_hours, invest_days=invest_days, lookback_days=lookback_days)
    return out


def outside_funnel(ds: Dataset, spec: FunnelSpec | None = None,
                   **definition: Any) -> dict[str, int]:
    """Registered users the funnel cannot see: no occurrence of its first step.

    Parameters
    ----------
    ds
        The dataset.
    spec
        Which funnel (`make_spec`); only its first step matters, but the funnel's step times
        are read (`step_times`: computed and kept on first use). None for the default funnel.
    **definition
        `make_spec` keywords instead of a spec (see `funnel`).

    Returns
    -------
    dict
        {'registered': n, 'without_first_step': m}: of n registered users, m never did the
        first step (organic, or a touch the data does not record).
    """
    spec = as_spec(spec, **definition)
    # the funnel's step times hold everyone who did the first step, with their user_id; they
    # are kept once per funnel (the chapter asks here after `funnel`), so the events are not
    # read again
    entered = step_times(ds, spec)
    seen = entered.filter(entered.user_id.notnull()).select(_uid=entered.user_id)
    if spec.count == "total":  # a row per attempt
        seen = seen.distinct()
    w = user_wide(ds)
    j = w.left_join(seen, w.user_id == seen._uid)
    res = j.aggregate(registered=_.count(), without=j._uid.isnull().cast("int64").sum())
    res = res.to_pandas().iloc[0]
    return {"registered": int(res.registered), "without_first_step": int(res.without)}


# --------------------------------------------------------------------------------------------
# headline numbers for the chapter's prose (plain Python values)


def segment_summary(tests: pd.DataFrame, step: str | None = None) -> dict[str, int | str]:
    """From `compare_segments`: how many segment-step rates differ significantly, and the
    strongest leader and laggard (at `step` when given) as short texts (无 when none). The
    verdicts may be codes or their labels (`compare_segments(labels=...)`).

    Parameters
    ----------
    tests : pandas.DataFrame
        `compare_segments`' table.
    step : str, optional
        The step at which the leader and laggard are named; None for any step.

    Returns
    -------
    dict
        segments (how many), significant (segment-step rates that differ significantly, all
        steps), too_small (segment-steps without a verdict), best / worst (the segment with the
        largest positive / negative difference, its step label, rate and the others' rate; 无
        when none).

    Raises
    ------
    ValueError
        When `step` is not among the compared steps, or a verdict is unknown.
    """
    codes = tests.verdict.map(segment_verdict_code) if len(tests) else tests.verdict
    sig = tests[codes.isin(["higher", "lower"])]
    if step is not None and step not in set(tests.step):
        raise ValueError(
            f"step: {step!r} is not among the compared steps {sorted(set(tests.step))}"
        )
    at_step = sig if step is None else sig[sig.step == step]

    def describe(frame: pd.DataFrame) -> str:
        if frame.empty:
            return "无"
        r = frame.iloc[0]
        return f"{r.segment}（{r.label} {r.rate:.1%}，其他 {r.rest_rate:.1%}）"

    return {
        "segments": int(tests.segment.nunique()),
        "significant": len(sig),
        "too_small": int((codes == "too_small").sum()),
        "best": describe(
            at_step[at_step["diff"] > 0].sort_values(["diff", "segment"], ascending=[False, True])
        ),
        "worst": describe(at_step[at_step["diff"] < 0].sort_values(["diff", "segment"])),
    }


def time_summary(stats: pd.DataFrame) -> dict[str, float | str]:
    """The time to convert for the chapter's prose (glued as ``funnel_<key>``).

    Parameters
    ----------
    stats
        `time_to_convert`'s stats.

    Returns
    -------
    dict
        card_median_hours and invest_median_hours (median hours to bind_card and to
        first_investment from the step before; NaN when not a transition of the funnel),
        slowest_step (the label of the transition with the longest median, 无 when none) and
        slowest_median_days (its median in days).
    """
    median = {r.to_step: float(r.median_hours) for r in stats.itertuples()}
    nan = float("nan")
    slow = stats.loc[stats.median_hours.idxmax()] if len(stats) else None
    return {
        "card_median_hours": median.get("bind_card", nan),
        "invest_median_hours": median.get("first_investment", nan),
        "slowest_step": str(slow.label) if slow is not None else "无",
        "slowest_median_days": float(slow.median_hours) / 24 if slow is not None else nan,
    }


def cohort_summary(
    cohorts: pd.DataFrame, step: str = "first_investment"
) -> dict[str, float | int | str]:
    """Registration cohorts for the chapter's prose (glued as ``funnel_<key>``).

    Parameters
    ----------
    cohorts
        `cohort_conversion`'s table.
    step
        The step whose rate from sign-up is compared.

    Returns
    -------
    dict
        cohorts (how many), open_cohorts (cohorts with people still inside their window),
        last_cohort / last_cohort_rate / last_cohort_low / last_cohort_high (the latest cohort
        with settled people at `step`, its rate from the first step and Wilson interval),
        prev_cohort / prev_cohort_rate (the one before); 无 and NaN when there is none.
    """
    part = cohorts[(cohorts.step == step) & (cohorts.base_start > 0)].sort_values("cohort")
    first = cohorts[cohorts.step == cohorts.step.iloc[0]] if len(cohorts) else cohorts
    nan = float("nan")
    return {
        "cohorts": int(cohorts.cohort.nunique()),
        "open_cohorts": int((first.base_start < first.users).sum()),
        "last_cohort": str(part.cohort.iloc[-1]) if len(part) else "无",
        "last_cohort_rate": float(part.rate_from_start.iloc[-1]) if len(part) else nan,
        "last_cohort_low": float(part.ci_low.iloc[-1]) if len(part) else nan,
        "last_cohort_high": float(part.ci_high.iloc[-1]) if len(part) else nan,
        "prev_cohort": str(part.cohort.iloc[-2]) if len(part) > 1 else "无",
        "prev_cohort_rate": float(part.rate_from_start.iloc[-2]) if len(part) > 1 else nan,
    }


def stalled_summary(stalled: pd.DataFrame) -> dict[str, float | int]:
    """Stalled users for the chapter's prose (glued as ``funnel_<key>``).

    Parameters
    ----------
    stalled
        `stalled_counts`' table (its rules and parameters in ``attrs``).

    Returns
    -------
    dict
        stalled_card / stalled_invest (people stalled now before the card / before investing),
        stalled_card_share / stalled_invest_share (the historical shares), and the rules'
        parameters stall_card_hours, stall_invest_days, stall_lookback_days.
    """
    by_rule = stalled.set_index("rule")
    return {
        "stalled_card": int(by_rule.users["no_card"]),
        "stalled_invest": int(by_rule.users["no_invest"]),
        "stalled_card_share": float(by_rule.historical_share["no_card"]),
        "stalled_invest_share": float(by_rule.historical_share["no_invest"]),
        "stall_card_hours": stalled.attrs.get("card_hours"),
        "stall_invest_days": stalled.attrs.get("invest_days"),
        "stall_lookback_days": stalled.attrs.get("lookback_days"),
    }

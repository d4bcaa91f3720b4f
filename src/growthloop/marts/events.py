"""Which events a parameter means: an event name, a milestone, or an event with property filters.

Everywhere a chapter takes an event (a funnel step or exclusion, a touch, a conversion, a
return, a campaign goal) it takes an *event selector*, written in a campaign file or a `-p`
parameter as

    浏览产品详情                                    any event name in the data (or a role)
    first_investment                               a milestone: the user's first / second
                                                   successful investment
    {event: 浏览产品详情, where: {product_type: 定期12月}}
    {event: 风险测评, where: {level: [C4, C5]}}     a property equal to one of a list

(PostHog's property filters, kept small: equality and lists of values, all conditions must
hold.) Values are compared as text, as the loader keeps properties. A selector naming an event
the data does not have stops with the closest names in the data; a property the events do not
have stops with the properties there are.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ibis

from growthloop.errors import DataError
from growthloop.marts.identity import MILESTONES
from growthloop.staging.contract import EVENT_ROLES, RESERVED_EVENT_COLUMNS, TABLES
from growthloop.staging.loader import Dataset

#: Selector keys, as written in a campaign file.
SELECTOR_KEYS = ("event", "where")


@dataclass(frozen=True, order=True)
class EventSelector:
    """One event selector: an event name (or milestone) and property conditions.

    `where` holds (property, allowed values) pairs, sorted, so equal selectors are equal and
    hash alike (a FunnelSpec holding them keys the kept step table).
    """

    event: str
    where: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def is_milestone(self) -> bool:
        """Whether the event is an investment milestone (first_investment, second_investment)."""
        return self.event in MILESTONES

    @property
    def properties(self) -> tuple[str, ...]:
        """The event properties the selector's conditions read, in their order."""
        return tuple(prop for prop, _values in self.where)

    @property
    def key(self) -> str:
        """A short unique text for the selector: the event name, then its conditions."""
        if not self.where:
            return self.event
        conds = ",".join(f"{p}={'|'.join(v)}" for p, v in self.where)
        return f"{self.event}[{conds}]"

    def label(self, names: Mapping[str, str] | None = None) -> str:
        """The selector for a reader: the event's label (`names`, else its role's Chinese label,
        else the name) and its conditions, e.g. 浏览产品详情 (product_type=定期12月).

        Parameters
        ----------
        names : mapping of str to str, optional
            {event name: label} tried first (a chapter's step labels); None for none.

        Returns
        -------
        str
            The label, with the conditions in parentheses when there are any.

        Examples
        --------
        >>> EventSelector("浏览产品详情", (("product_type", ("定期12月",)),)).label()
        '浏览产品详情 (product_type=定期12月)'
        """
        base = (names or {}).get(self.event) or EVENT_ROLES.get(self.event, (self.event,))[0]
        if not self.where:
            return base
        conds = ", ".join(f"{p}={'/'.join(v)}" for p, v in self.where)
        return f"{base} ({conds})"

    def condition(self, table: ibis.Table) -> ibis.BooleanValue:
        """The rows of `table` (event_name and property columns) this selector selects.

        Parameters
        ----------
        table : ibis.Table
            Events: an event_name column and the property columns the conditions name.

        Returns
        -------
        ibis.BooleanValue
            True where the event name matches and every property (compared as text) is one of
            its allowed values.
        """
        cond = table.event_name == self.event
        for prop, values in self.where:
            col = table[prop].cast("string")
            cond = cond & (col == values[0] if len(values) == 1 else col.isin(list(values)))
        return cond


def _text(value: Any, what: str) -> str:
    if isinstance(value, bool) or value is None or isinstance(value, dict | list | tuple):
        raise ValueError(f"{what}: {value!r} is not a value; write text or a number")
    text = str(value).strip()
    if isinstance(value, float) and value.is_integer():
        text = str(int(value))  # level: 3 and level: 3.0 both mean "3"
    return text


def selector(value: Any, param: str = "event") -> EventSelector:
    """An EventSelector from a parameter's value (see the module docstring).

    Parameters
    ----------
    value
        An event name, an EventSelector, or a mapping {event: name, where: {property: value or
        [values]}}.
    param
        The parameter's name, for the error message.

    Returns
    -------
    EventSelector

    Raises
    ------
    ValueError
        Naming the parameter and what is wrong.
    """
    if isinstance(value, EventSelector):
        return value
    if isinstance(value, str):
        if not value.strip():
            raise ValueError(f"{param}: an empty event name")
        return EventSelector(value.strip())
    if isinstance(value, Mapping):
        unknown = sorted(str(k) for k in set(value) - set(SELECTOR_KEYS))
        if unknown or "event" not in value:
            raise ValueError(f"{param}: {dict(value)!r}: write {{event: name, where: {{property: "
                             f"value}}}}" + (f"; unknown key(s) {unknown}" if unknown else ""))
        event = selector(value["event"], param).event
        where = value.get("where") or {}
        if not isinstance(where, Mapping):
            raise ValueError(f"{param}: where must map properties to values, got {where!r}")
        if event in MILESTONES and where:
            raise ValueError(f"{param}: {event} is an investment milestone; it has no properties "
                             "to filter on")
        conds = []
        for prop, allowed in where.items():
            items = allowed if isinstance(allowed, list | tuple) else [allowed]
            if not items:
                raise ValueError(f"{param}: where.{prop} lists no value")
            conds.append((str(prop), tuple(sorted({_text(v, f"{param}: where.{prop}") for v in items}))))
        return EventSelector(event, tuple(sorted(conds)))
    raise ValueError(f"{param}: {value!r} is not an event name or {{event: name, where: {{...}}}}")


def selectors(values: Any, param: str) -> tuple[EventSelector, ...]:
    """A list parameter of event selectors (a single one is a list of one).

    Parameters
    ----------
    values : str, mapping, EventSelector or iterable of them
        The parameter's value: selectors as `selector` takes them, or one of them alone.
    param : str
        The parameter's name, for the error message.

    Returns
    -------
    tuple of EventSelector
        In the order given.

    Raises
    ------
    ValueError
        When `values` is not a list of events, or one of them is not a selector (`selector`).

    Examples
    --------
    >>> [s.key for s in selectors(["register", {"event": "bind_card"}], "steps")]
    ['register', 'bind_card']
    """
    if isinstance(values, str | Mapping | EventSelector):
        values = [values]
    if not isinstance(values, Iterable):
        raise ValueError(f"{param}: give a list of events, got {values!r}")
    return tuple(selector(v, param) for v in values)


def event_properties(ds: Dataset) -> tuple[str, ...]:
    """The dataset's event properties: the columns of the clean events beyond the contract.

    Parameters
    ----------
    ds : Dataset
        The dataset.

    Returns
    -------
    tuple of str
        The property column names, in the events table's order.
    """
    contract = set(TABLES["events"].column_names) | set(RESERVED_EVENT_COLUMNS)
    return tuple(c for c in ds.events.columns if c not in contract)


def event_names(ds: Dataset) -> dict[str, int]:
    """Every event name in the data with its count (from the loader's report when it has one,
    else one pass over the events).

    Parameters
    ----------
    ds : Dataset
        The dataset.

    Returns
    -------
    dict of str to int
        {event name: number of events}.
    """
    if ds.quality.event_names:
        return {r["name"]: int(r["events"]) for r in ds.quality.event_names}

    def count() -> dict[str, int]:
        rows = ds.events.group_by("event_name").aggregate(n=ds.events.count()).to_pyarrow()
        return dict(zip(rows.column(0).to_pylist(), rows.column(1).to_pylist(), strict=True))

    return ds.memo("events.names", count)


def closest(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The candidates most like `name` (difflib's ratio, case and spaces ignored), best first.

    Parameters
    ----------
    name : str
        The name asked for (a typo, say).
    candidates : iterable of str
        The names there are.
    n : int, default 3
        At most this many are returned.

    Returns
    -------
    list of str
        The closest candidates with a similarity ratio above 0.3 (underscores read as spaces),
        best first, ties by name; empty when none is close.

    Examples
    --------
    >>> closest("bindcard", ["bind_card", "register", "app_open"])
    ['bind_card']
    """
    pool = sorted(set(candidates))
    norm = {c: " ".join(c.lower().replace("_", " ").split()) for c in pool}
    target = " ".join(name.lower().replace("_", " ").split())
    scored = sorted(pool, key=lambda c: (-difflib.SequenceMatcher(None, target, norm[c]).ratio(), c))
    return [c for c in scored[:n] if difflib.SequenceMatcher(None, target, norm[c]).ratio() > 0.3]


def check(ds: Dataset, chosen: Sequence[EventSelector], param: str,
          optional_roles: bool = False) -> None:
    """Stop when a selector names an event the data does not have (with the closest names in
    the data) or a property the events do not have (with those they have).

    With `optional_roles`, a role (growthloop.staging.contract.EVENT_ROLES) the data lacks is
    accepted: for a list whose events only add rows (touches, direct visits), a role the
    platform does not track adds none, while a name that is no role is still a typo.

    Parameters
    ----------
    ds : Dataset
        The dataset.
    chosen : sequence of EventSelector
        The selectors to check (milestones always pass).
    param : str
        The parameter's name, for the error message.
    optional_roles : bool, default False
        Accept a role the data lacks.

    Raises
    ------
    DataError
        When a selector names an event the data does not have, or filters on a property the
        events do not have.
    """
    present = event_names(ds)
    props = event_properties(ds)
    for sel in chosen:
        if sel.is_milestone or (optional_roles and sel.event in EVENT_ROLES
                                and sel.event not in present):
            continue
        if sel.event not in present:
            near = closest(sel.event, [*present, *MILESTONES])
            hint = (f"the closest event names in the data are {near}" if near else
                    f"the events in the data are {sorted(present)[:20]}")
            raise DataError("events", "event_name",
                            f"{param}: no event is named {sel.event!r}",
                            hint=f"{hint}; a milestone is one of {list(MILESTONES)}")
        for prop in sel.properties:
            if prop not in props:
                raise DataError("events", prop,
                                f"{param}: {sel.event!r} filters on the property {prop!r}, which "
                                "the events do not have",
                                hint=(f"the event properties are {list(props)}" if props else
                                      "the events have no properties: add a properties column "
                                      "or list extra columns under tables.events.properties"))


def matches(table: ibis.Table, chosen: Sequence[EventSelector]) -> ibis.BooleanValue:
    """The rows of `table` any of the selectors selects (false when there is none).

    Parameters
    ----------
    table : ibis.Table
        Events: an event_name column and the property columns the selectors name.
    chosen : sequence of EventSelector
        The selectors.

    Returns
    -------
    ibis.BooleanValue
        The OR of the selectors' conditions (`EventSelector.condition`).
    """
    cond = ibis.literal(False)
    for sel in chosen:
        cond = cond | sel.condition(table)
    return cond


def checked(ds: Dataset, values: Any, param: str,
            optional_roles: bool = False) -> tuple[EventSelector, ...]:
    """A parameter's event selectors, parsed (`selectors`) and checked against the data
    (`check`): the one call a stage function makes for an event-list parameter.

    Parameters
    ----------
    ds : Dataset
        The dataset.
    values : str, mapping, EventSelector or iterable of them
        The parameter's value (`selectors`).
    param : str
        The parameter's name, for the error messages.
    optional_roles : bool, default False
        Accept a role the data lacks (`check`).

    Returns
    -------
    tuple of EventSelector
        The parsed selectors, in the order given.

    Raises
    ------
    ValueError
        When a value is not an event selector.
    DataError
        When a selector names an event or a property the data does not have.
    """
    chosen = selectors(values, param)
    check(ds, chosen, param, optional_roles)
    return chosen

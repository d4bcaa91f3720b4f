"""Marts: the derived tables several chapters share, each built once per dataset and kept.

One module per mart, named for what it holds, declaring its NAME, KEY and COLUMNS beside the
code that builds it (tests/test_marts.py checks each key is unique):

    investments   successful investments up to the analysis date, numbered per user
    identity      person_events: every event with the person it belongs to (stitched once)
    wide          user_wide: one row per user (demographics, sign-up channel, milestones)
    touches       marketing touches with normalised UTM values and channels (per touch events)
    outcomes      one row per member of a reviewed campaign (per campaign, goal and window)
    channels      not a table: the UTM normalisation and channel map the marts share

The first three do not depend on a chapter's parameters: a run's store builds them once
before the chapters start (`STORED`, handed to `growthloop.staging.store.prepare_store`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import ibis

from growthloop.staging.loader import Dataset


@dataclass(frozen=True)
class Mart:
    """A derived table: its name (the key it is kept under), key, columns and builder.

    Attributes
    ----------
    name : str
        The mart's NAME, also its `Dataset.keep` key.
    key : tuple of str
        Columns that identify a row (tests/test_marts.py checks they do).
    columns : tuple of str
        The columns, in order.
    build : callable
        ``build(ds)`` returns the mart as an Ibis expression (not executed).
    """

    name: str
    key: tuple[str, ...]
    columns: tuple[str, ...]
    build: Callable[[Dataset], ibis.Table]


def stored_marts() -> tuple[Mart, ...]:
    """The marts a run's store keeps, in build order (a mart may read the ones before it).

    These depend on no chapter parameter: investments, person_events (identity) and user_wide.

    Returns
    -------
    tuple of Mart
        Handed to `growthloop.staging.store.prepare_store` by the runner.
    """
    from growthloop.marts import identity, investments, wide

    return (
        Mart(investments.NAME, investments.KEY, investments.COLUMNS, investments.build),
        Mart(identity.NAME, identity.KEY, identity.COLUMNS, identity.build),
        Mart(wide.NAME, wide.KEY, wide.COLUMNS, wide.build_wide),
    )

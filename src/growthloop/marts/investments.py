"""Mart `investments`: successful investments up to the analysis date, one row per txn_id.

Every chapter that counts money or investment milestones reads this table: the wide table,
the funnel's first and second investment, RFM, retention, attribution's revenue and the
campaign review's responses. Revenue is filled from the configured margin where the platform
does not give it: amount × `revenue_margin_annual` × max(term, `current_holding_days`) / 365.
`invest_n` numbers a user's investments from 0 in time order (ties by txn_id), so "first
investment" means the same row everywhere.
"""

from __future__ import annotations

import datetime as dt

import ibis

from growthloop.staging.loader import Dataset

NAME = "investments"
KEY: tuple[str, ...] = ("txn_id",)
COLUMNS: tuple[str, ...] = (
    "txn_id", "user_id", "txn_time", "amount", "product_type", "term_days", "status",
    "revenue", "invest_n",
)


def build(ds: Dataset) -> ibis.Table:
    """Build the mart as an Ibis expression (not executed); see the module docstring.

    Parameters
    ----------
    ds : Dataset
        The opened dataset.

    Returns
    -------
    ibis.Table
        One row per successful investment before ``ds.period_end``; columns COLUMNS:
        ``txn_id``, ``user_id``, ``txn_time``, ``amount``, ``product_type``, ``term_days``,
        ``status``, ``revenue`` (given, else amount × revenue_margin_annual ×
        max(term, current_holding_days) / 365) and ``invest_n`` (0 for a user's first).
    """
    txn = ds.transactions
    txn = txn.filter(txn.txn_time < ds.period_end)
    term = ibis.greatest(txn.term_days.fill_null(0), ds.config.current_holding_days)
    est_revenue = txn.amount * ds.config.revenue_margin_annual * term / 365.0
    txn = txn.mutate(
        revenue=txn.revenue.fill_null(est_revenue),
        invest_n=ibis.row_number().over(group_by="user_id", order_by=["txn_time", "txn_id"]),
    )
    return txn.select(*COLUMNS)


def investments(ds: Dataset) -> ibis.Table:
    """The kept mart (built once per dataset).

    Parameters
    ----------
    ds : Dataset
        The opened dataset.

    Returns
    -------
    ibis.Table
        The table of `build`, kept in the engine (not executed into Python).
    """
    return ds.keep(NAME, lambda: build(ds))


def aum_expr(txn: ibis.Table, as_of: dt.datetime, holding_days: int) -> ibis.BooleanValue:
    """Whether an investment is still held at `as_of`: its term has not ended.

    A current (活期) investment, term 0 or missing, counts as held for `holding_days`.

    Parameters
    ----------
    txn : ibis.Table
        Investments, with ``txn_time`` and ``term_days``.
    as_of : datetime.datetime
        The instant (usually ``ds.period_end``).
    holding_days : int
        Days a 活期 investment counts as held (``current_holding_days``).

    Returns
    -------
    ibis.BooleanValue
        True when made before `as_of` and maturing after it (an expression, not executed).
    """
    days = ibis.ifelse(txn.term_days.fill_null(0) > 0, txn.term_days, holding_days)
    matures = txn.txn_time + days.as_interval("D")
    return (txn.txn_time < as_of) & (matures > as_of)

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
    """The mart as an Ibis expression (not executed); see the module docstring."""
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
    """The kept mart (built once per dataset)."""
    return ds.keep(NAME, lambda: build(ds))


def aum_expr(txn: ibis.Table, as_of: dt.datetime, holding_days: int) -> ibis.BooleanValue:
    """Whether an investment is still held at `as_of`: its term (or the 活期 holding of
    `holding_days`) has not ended."""
    days = ibis.ifelse(txn.term_days.fill_null(0) > 0, txn.term_days, holding_days)
    matures = txn.txn_time + days.as_interval("D")
    return (txn.txn_time < as_of) & (matures > as_of)

"""Retention stage functions on Spark and on Postgres give DuckDB's results.

Every public function of growthloop.metrics.retention that reads a dataset runs on the small
dataset of tests/engine_support.py on DuckDB and on each engine; the results must be equal
(counts exactly, rates to 1e-9).
"""

from __future__ import annotations

import pytest
from engine_support import (  # noqa: F401  (the fixtures engine_pair, engine_watchdog)
    assert_same_frame,
    both,
    engine_pair_fixture,
    engine_watchdog_fixture,
)

from growthloop.metrics import retention as rt


@pytest.mark.parametrize(("cohort_by", "unit", "mode"), [
    ("signup", "month", "on"), ("signup", "week", "on_or_after"), ("signup", "day", "on"),
    ("first_investment", "month", "on_or_after"), ("first_investment", "week", "on"),
    ("first_investment", "week", "on_or_after"),
])
def test_cohort_retention(engine_pair, cohort_by, unit, mode):
    duck, other = both(rt.cohort_retention, engine_pair, cohort_by=cohort_by, unit=unit, mode=mode)
    assert duck.retained.sum() > 0
    assert_same_frame(duck, other, ordered=True)


@pytest.mark.parametrize("params", [
    {"return_event": "any", "by": "signup_channel"},
    {"return_event": "app_open", "by": "first_term", "max_period": 6, "since": "2025-10-01"},
    {"cohort_by": "first_investment", "by": "cohort", "unit": "week", "since": "2026-03-01"},
    {"by": "age_band"},
])
def test_cohort_retention_breakdowns(engine_pair, params):
    duck, other = both(rt.cohort_retention, engine_pair, **params)
    assert duck.retained.sum() > 0
    assert_same_frame(duck, other, ordered=True)


@pytest.mark.parametrize("event", ["investment", "any", "app_open"])
def test_activity(engine_pair, event):
    duck, other = both(rt.activity, engine_pair, event)
    assert_same_frame(duck, other)


@pytest.mark.parametrize("params", [{}, {"by": "signup_channel"}, {"by": "first_term"},
                                    {"mature_days": 90}])
def test_nth_investment(engine_pair, params):
    duck, other = both(rt.nth_investment, engine_pair, max_n=5, **params)
    assert duck.users.iloc[0] > 0
    assert_same_frame(duck, other, ordered=True)


@pytest.mark.parametrize("params", [{"period": "month"}, {"period": "week", "since": "2026-04-01"},
                                    {"activity_event": "any", "count_holdings": False}])
def test_lifecycle_states_and_flows(engine_pair, params):
    duck, other = both(rt.user_states, engine_pair, **params)
    assert_same_frame(duck, other, sort_by=["user_id", "period_index"])
    duck, other = both(rt.lifecycle, engine_pair, **params)
    assert duck.users.sum() > 0
    assert_same_frame(duck, other, ordered=True)
    duck, other = both(rt.lifecycle_flows, engine_pair, **params)
    assert_same_frame(duck, other, ordered=True)


@pytest.mark.parametrize("event", ["investment", "any"])
def test_comeback_gaps(engine_pair, event):
    duck, other = both(rt.comeback_gaps, engine_pair, activity_event=event)
    assert duck.comebacks.iloc[0] > 0
    assert_same_frame(duck, other, ordered=True)


def test_at_risk_users_and_count(engine_pair):
    duck, other = both(rt.at_risk_users, engine_pair)
    assert duck.count().execute() > 0
    assert_same_frame(duck, other, ordered=True)
    duck, other = both(rt.at_risk_count, engine_pair, dormant_days=30, churn_days=120)
    assert duck == other > 0


@pytest.mark.parametrize("by", [None, "signup_channel", "cohort", "first_term"])
def test_survival_data(engine_pair, by):
    duck, other = both(rt.survival_data, engine_pair, by=by, churn_days=90)
    assert duck.users.sum() > 0
    assert duck.attrs == other.attrs
    assert_same_frame(duck, other, ordered=True)


@pytest.mark.parametrize("by", [None, "signup_channel"])
def test_ltv(engine_pair, by):
    duck, other = both(rt.ltv_cohorts, engine_pair, by=by, horizon_months=6)
    assert duck.ltv.max() > 0
    assert_same_frame(duck, other, ordered=True)
    duck, other = both(rt.ltv_curves, engine_pair, by=by, horizon_months=6)
    assert_same_frame(duck, other, ordered=True)


def test_ltv_cac(engine_pair):
    duck, other = both(rt.ltv_cac, engine_pair, horizon_months=6)
    assert duck.costs_available and other.costs_available
    assert duck.note == other.note
    assert_same_frame(duck.table, other.table, ordered=True)

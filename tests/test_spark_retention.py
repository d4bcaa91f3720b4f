"""Retention stage functions on Spark (Ibis's PySpark backend) give DuckDB's results.

Every public function of growthloop.metrics.retention that reads a dataset runs on the shared small
dataset (tests/spark_support.py) on DuckDB and on local Spark; the results must be equal
(counts exactly, rates to 1e-9).
"""

from __future__ import annotations

import pytest
from spark_support import assert_same_frame, both, spark_pair_fixture  # noqa: F401

from growthloop.metrics import retention as rt


@pytest.mark.parametrize(("cohort_by", "unit", "mode"), [
    ("signup", "month", "on"), ("signup", "week", "on_or_after"), ("signup", "day", "on"),
    ("first_investment", "month", "on_or_after"), ("first_investment", "week", "on"),
])
def test_cohort_retention(spark_pair, cohort_by, unit, mode):
    duck, spark = both(rt.cohort_retention, spark_pair, cohort_by=cohort_by, unit=unit, mode=mode)
    assert duck.retained.sum() > 0
    assert_same_frame(duck, spark, ordered=True)


@pytest.mark.parametrize("params", [
    {"return_event": "any", "by": "signup_channel"},
    {"return_event": "app_open", "by": "first_term", "max_period": 6, "since": "2025-10-01"},
    {"cohort_by": "first_investment", "by": "cohort", "unit": "week", "since": "2026-03-01"},
    {"by": "age_band"},
])
def test_cohort_retention_breakdowns(spark_pair, params):
    duck, spark = both(rt.cohort_retention, spark_pair, **params)
    assert duck.retained.sum() > 0
    assert_same_frame(duck, spark, ordered=True)


@pytest.mark.parametrize("event", ["investment", "any", "app_open"])
def test_activity(spark_pair, event):
    duck, spark = both(rt.activity, spark_pair, event)
    assert_same_frame(duck, spark)


@pytest.mark.parametrize("params", [{}, {"by": "signup_channel"}, {"by": "first_term"},
                                    {"mature_days": 90}])
def test_nth_investment(spark_pair, params):
    duck, spark = both(rt.nth_investment, spark_pair, max_n=5, **params)
    assert duck.users.iloc[0] > 0
    assert_same_frame(duck, spark, ordered=True)


@pytest.mark.parametrize("params", [{"period": "month"}, {"period": "week", "since": "2026-04-01"},
                                    {"activity_event": "any", "count_holdings": False}])
def test_lifecycle_states_and_flows(spark_pair, params):
    duck, spark = both(rt.user_states, spark_pair, **params)
    assert_same_frame(duck, spark, sort_by=["user_id", "period_index"])
    duck, spark = both(rt.lifecycle, spark_pair, **params)
    assert duck.users.sum() > 0
    assert_same_frame(duck, spark, ordered=True)
    duck, spark = both(rt.lifecycle_flows, spark_pair, **params)
    assert_same_frame(duck, spark, ordered=True)


@pytest.mark.parametrize("event", ["investment", "any"])
def test_comeback_gaps(spark_pair, event):
    duck, spark = both(rt.comeback_gaps, spark_pair, activity_event=event)
    assert duck.comebacks.iloc[0] > 0
    assert_same_frame(duck, spark, ordered=True)


def test_at_risk_users_and_count(spark_pair):
    duck, spark = both(rt.at_risk_users, spark_pair)
    assert duck.count().execute() > 0
    assert_same_frame(duck, spark, ordered=True)
    duck, spark = both(rt.at_risk_count, spark_pair, dormant_days=30, churn_days=120)
    assert duck == spark > 0


@pytest.mark.parametrize("by", [None, "signup_channel", "cohort", "first_term"])
def test_survival_data(spark_pair, by):
    duck, spark = both(rt.survival_data, spark_pair, by=by, churn_days=90)
    assert duck.users.sum() > 0
    assert duck.attrs == spark.attrs
    assert_same_frame(duck, spark, ordered=True)


@pytest.mark.parametrize("by", [None, "signup_channel"])
def test_ltv(spark_pair, by):
    duck, spark = both(rt.ltv_cohorts, spark_pair, by=by, horizon_months=6)
    assert duck.ltv.max() > 0
    assert_same_frame(duck, spark, ordered=True)
    duck, spark = both(rt.ltv_curves, spark_pair, by=by, horizon_months=6)
    assert_same_frame(duck, spark, ordered=True)


def test_ltv_cac(spark_pair):
    duck, spark = both(rt.ltv_cac, spark_pair, horizon_months=6)
    assert duck.costs_available and spark.costs_available
    assert duck.note == spark.note
    assert_same_frame(duck.table, spark.table, ordered=True)

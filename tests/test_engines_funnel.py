"""Funnel stage functions on Spark and on Postgres give DuckDB's results.

The small dataset of tests/engine_support.py is opened on DuckDB and copied to each engine;
every public function of growthloop.metrics.funnel that reads a dataset runs on both and the
results must be equal (counts exactly, rates to 1e-9).
"""

from __future__ import annotations

import pytest
from engine_support import (  # noqa: F401  (the fixtures engine_pair, engine_watchdog)
    assert_same_frame,
    both,
    engine_pair_fixture,
    engine_watchdog_fixture,
)

from growthloop.marts.identity import person_events, person_steps
from growthloop.metrics import funnel as fn

# ---- stitching and step times --------------------------------------------------------------

SPECS = {
    "default": {},
    "strict": {"order": "strict"},  # all 7 steps: kept step by step on Postgres
    "total": {"count": "total", "step_windows": {"register": 3}},
    "exclusion": {"exclusions": [("coupon_claim", "register", "bind_card")], "window_days": 14},
}


def test_person_events_and_steps(engine_pair):
    # the identity mart (stitched once per dataset) and the rows the funnel reads from it
    duck, other = both(person_events, engine_pair)
    assert_same_frame(duck, other)
    duck, other = both(person_steps, engine_pair)
    assert_same_frame(duck, other)


@pytest.mark.parametrize("case", list(SPECS))
def test_step_times(engine_pair, case):
    spec = fn.make_spec(**SPECS[case])
    duck, other = both(fn.step_times, engine_pair, spec)
    assert duck.count().execute() > 100
    assert_same_frame(duck, other, sort_by=["person_id", "entry_at"])


# ---- the funnel table ----------------------------------------------------------------------


@pytest.mark.parametrize("case", list(SPECS))
def test_funnel(engine_pair, case):
    duck, other = both(fn.funnel, engine_pair, fn.make_spec(**SPECS[case]))
    assert duck.users.iloc[0] > 100
    assert_same_frame(duck, other, ordered=True)
    # the same funnel asked with make_spec's keywords instead of a spec
    duck, other = both(fn.funnel, engine_pair, **SPECS[case])
    assert_same_frame(duck, other, ordered=True)


# one wide-table column of each kind (a label, a formatted month, a mapped region: the wide
# table itself is compared column by column in test_engines_profiling), every touch breakdown
@pytest.mark.parametrize("breakdown", ["signup_channel", "reg_month", "region",
                                       *fn.CHANNEL_BREAKDOWNS, "step:ad_click"])
def test_funnel_breakdown(engine_pair, breakdown):
    duck, other = both(fn.funnel, engine_pair, breakdown=breakdown)
    assert duck.segment.nunique() > 1
    assert_same_frame(duck, other, ordered=True)
    assert_same_frame(fn.compare_segments(duck), fn.compare_segments(other), ordered=True)


def test_time_to_convert_exact(engine_pair):
    (duck_stats, duck_hist), (other_stats, other_hist) = both(fn.time_to_convert, engine_pair)
    assert duck_stats.conversions.sum() > 100
    assert_same_frame(duck_stats, other_stats, ordered=True)
    assert_same_frame(duck_hist, other_hist, ordered=True)


def test_time_to_convert_approximate_quantiles(engine_pair):
    # approximate quantiles are each engine's own (DuckDB's t-digest, Spark's approx_percentile,
    # Postgres's exact percentile_cont), so they differ; the counts and means agree exactly, and
    # on both engines each quantile is within 2 percentage points of rank of the true one
    # (checked on the hours themselves)
    (duck, duck_hist), (other, other_hist) = both(fn.time_to_convert, engine_pair, exact=False)
    cols = ["from_step", "to_step", "label", "conversions", "mean_hours"]
    assert_same_frame(duck[cols], other[cols], ordered=True)
    assert_same_frame(duck_hist, other_hist, ordered=True)
    times = fn.step_times(engine_pair.duck).to_pandas()
    for k in range(1, len(fn.DEFAULT_STEPS)):
        hours = ((times[f"t{k}"] - times[f"t{k - 1}"]).dt.total_seconds() / 3600).dropna()
        assert len(hours) == duck.conversions.iloc[k - 1] > 10
        for q, p in (("p25_hours", 0.25), ("median_hours", 0.5), ("p75_hours", 0.75)):
            for result in (duck, other):
                value = result[q].iloc[k - 1]
                below, at_most = (hours < value).mean(), (hours <= value).mean()
                assert below - 0.02 <= p <= at_most + 0.02, (k, q, value, below, at_most)


def test_cohort_conversion(engine_pair):
    duck, other = both(fn.cohort_conversion, engine_pair)
    assert duck.cohort.nunique() >= 6
    assert_same_frame(duck, other, ordered=True)


def test_stalled_users_and_counts(engine_pair):
    params = {"card_hours": 24, "invest_days": 7, "lookback_days": 90}
    duck, other = both(fn.stalled_users, engine_pair, **params)
    assert duck.count().execute() > 0
    assert_same_frame(duck, other, ordered=True)
    duck, other = both(fn.stalled_counts, engine_pair, **params)
    assert_same_frame(duck, other, ordered=True)


def test_outside_funnel(engine_pair):
    duck, other = both(fn.outside_funnel, engine_pair)
    assert duck == other
    assert duck["registered"] > 0


# ---- own events and property filters (chapter 2's second funnel) ---------------------------

OWN_STEPS = ["register", {"event": "风险测评", "where": {"level": ["C3", "C4", "C5"]}},
             {"event": "浏览产品详情", "where": {"product_type": ["定期3月", "定期6月", "定期12月"]}},
             "first_investment"]


def test_a_funnel_of_own_events_with_property_filters(engine_pair):
    spec = fn.make_spec(OWN_STEPS, window_days=30)
    duck, other = both(fn.funnel, engine_pair, spec)
    assert_same_frame(duck, other, ordered=True)
    # the filters select: fewer people reach the filtered steps than the unfiltered ones
    plain = fn.funnel(engine_pair.duck, fn.make_spec(
        ["register", "风险测评", "浏览产品详情", "first_investment"], window_days=30))
    assert 0 < duck.users.iloc[2] < plain.users.iloc[2]
    assert duck.users.iloc[1] < plain.users.iloc[1]
    assert_same_frame(*both(fn.step_times, engine_pair, spec), sort_by=["person_id", "entry_at"])

"""Funnel stage functions on Spark (Ibis's PySpark backend) give DuckDB's results.

The shared small dataset (tests/spark_support.py) is opened on DuckDB and copied to local Spark;
every public function of growthloop.metrics.funnel that reads a dataset runs on both and the results
must be equal (counts exactly, rates to 1e-9). The first tests check the harness itself.
"""

from __future__ import annotations

import pandas as pd
import pytest
from spark_support import assert_same_frame, both, schema_types, spark_pair_fixture  # noqa: F401

from growthloop.marts.identity import person_events, person_steps
from growthloop.metrics import funnel as fn

# ---- the harness ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["users", "events", "transactions", "costs", "campaigns",
                                  "campaign_members"])
def test_harness_copies_every_clean_table_unchanged(spark_pair, name):
    duck, spark = spark_pair.duck.tables[name], spark_pair.spark.tables[name]
    assert schema_types(spark.schema()) == schema_types(duck.schema())
    assert spark.count().execute() == duck.count().execute() > 0
    assert_same_frame(duck, spark)


def test_harness_runs_in_the_dataset_time_zone(spark_pair):
    # the same wall-clock day and month on both engines, for every event
    def days(ds):
        ev = ds.events
        return ev.group_by(day=ev.event_time.date(), month=ev.event_time.truncate("M")).aggregate(
            n=ev.count())

    duck, spark = both(days, spark_pair)
    assert_same_frame(duck, spark, sort_by=["day"])
    assert spark_pair.spark.con._session.conf.get("spark.sql.session.timeZone") == "Asia/Shanghai"


def test_comparison_reports_differences():
    left = pd.DataFrame({"k": ["a", "b"], "n": [1, 2], "x": [0.5, float("nan")]})
    assert_same_frame(left, left.iloc[::-1].assign(n=[2.0, 1.0]))  # order and int/float: same
    with pytest.raises(AssertionError, match="column 'n'"):
        assert_same_frame(left, left.assign(n=[1, 3]))
    with pytest.raises(AssertionError, match="column 'x'"):
        assert_same_frame(left, left.assign(x=[0.5 * (1 + 1e-6), float("nan")]))
    assert_same_frame(left, left.assign(x=[0.5 * (1 + 1e-12), None]))
    with pytest.raises(AssertionError, match="columns differ"):
        assert_same_frame(left, left[["n", "k", "x"]])
    with pytest.raises(AssertionError, match="row counts"):
        assert_same_frame(left, left.iloc[:1])


# ---- stitching and step times --------------------------------------------------------------

SPECS = {
    "default": {},
    "strict": {"order": "strict"},
    "total": {"count": "total", "step_windows": {"register": 3}},
    "exclusion": {"exclusions": [("coupon_claim", "register", "bind_card")], "window_days": 14},
}


def test_person_events_and_steps(spark_pair):
    # the identity mart (stitched once per dataset) and the rows the funnel reads from it
    duck, spark = both(person_events, spark_pair)
    assert_same_frame(duck, spark)
    duck, spark = both(person_steps, spark_pair)
    assert_same_frame(duck, spark)


@pytest.mark.parametrize("case", list(SPECS))
def test_step_times(spark_pair, case):
    spec = fn.make_spec(**SPECS[case])
    duck, spark = both(fn.step_times, spark_pair, spec)
    assert duck.count().execute() > 100
    assert_same_frame(duck, spark, sort_by=["person_id", "entry_at"])


# ---- the funnel table ----------------------------------------------------------------------


@pytest.mark.parametrize("case", list(SPECS))
def test_funnel(spark_pair, case):
    duck, spark = both(fn.funnel, spark_pair, fn.make_spec(**SPECS[case]))
    assert duck.users.iloc[0] > 100
    assert_same_frame(duck, spark, ordered=True)


# one wide-table column of each kind (a label, a formatted month, a mapped region: the wide
# table itself is compared column by column in test_spark_profiling), every touch breakdown
@pytest.mark.parametrize("breakdown", ["signup_channel", "reg_month", "region",
                                       *fn.CHANNEL_BREAKDOWNS, "step:ad_click"])
def test_funnel_breakdown(spark_pair, breakdown):
    duck, spark = both(fn.funnel, spark_pair, breakdown=breakdown)
    assert duck.segment.nunique() > 1
    assert_same_frame(duck, spark, ordered=True)
    assert_same_frame(fn.compare_segments(duck), fn.compare_segments(spark), ordered=True)


def test_time_to_convert_exact(spark_pair):
    (duck_stats, duck_hist), (spark_stats, spark_hist) = both(fn.time_to_convert, spark_pair)
    assert duck_stats.conversions.sum() > 100
    assert_same_frame(duck_stats, spark_stats, ordered=True)
    assert_same_frame(duck_hist, spark_hist, ordered=True)


def test_time_to_convert_approximate_quantiles(spark_pair):
    # approximate quantiles are each engine's own (DuckDB's t-digest, Spark's approx_percentile),
    # so they differ; the counts and means agree exactly, and on both engines each quantile is
    # within 2 percentage points of rank of the true one (checked on the hours themselves)
    (duck, duck_hist), (spark, spark_hist) = both(fn.time_to_convert, spark_pair, exact=False)
    cols = ["from_step", "to_step", "label", "conversions", "mean_hours"]
    assert_same_frame(duck[cols], spark[cols], ordered=True)
    assert_same_frame(duck_hist, spark_hist, ordered=True)
    times = fn.step_times(spark_pair.duck).to_pandas()
    for k in range(1, len(fn.DEFAULT_STEPS)):
        hours = ((times[f"t{k}"] - times[f"t{k - 1}"]).dt.total_seconds() / 3600).dropna()
        assert len(hours) == duck.conversions.iloc[k - 1] > 10
        for q, p in (("p25_hours", 0.25), ("median_hours", 0.5), ("p75_hours", 0.75)):
            for result in (duck, spark):
                value = result[q].iloc[k - 1]
                below, at_most = (hours < value).mean(), (hours <= value).mean()
                assert below - 0.02 <= p <= at_most + 0.02, (k, q, value, below, at_most)


def test_cohort_conversion(spark_pair):
    duck, spark = both(fn.cohort_conversion, spark_pair)
    assert duck.cohort.nunique() >= 6
    assert_same_frame(duck, spark, ordered=True)


def test_stalled_users_and_counts(spark_pair):
    params = {"card_hours": 24, "invest_days": 7, "lookback_days": 90}
    duck, spark = both(fn.stalled_users, spark_pair, **params)
    assert duck.count().execute() > 0
    assert_same_frame(duck, spark, ordered=True)
    duck, spark = both(fn.stalled_counts, spark_pair, **params)
    assert_same_frame(duck, spark, ordered=True)


def test_outside_funnel(spark_pair):
    duck, spark = both(fn.outside_funnel, spark_pair)
    assert duck == spark
    assert duck["registered"] > 0

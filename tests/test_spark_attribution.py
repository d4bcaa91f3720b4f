"""Channel attribution on Spark (Ibis's PySpark backend) gives DuckDB's results.

Every stage function of growthloop.metrics.attribution and growthloop.marts.channels that reads a dataset runs
on the shared small dataset (tests/spark_support.py) on DuckDB and on local Spark: counts must
be equal, money and credits equal to 1e-9. The functions on the small path-count frames
(attribute, assists, path_table, ...) are plain pandas; they are run on both engines' paths to
show that the answers the chapter prints are the same.
"""

from __future__ import annotations

import pytest
from spark_support import (  # noqa: F401  (fixtures)
    assert_same_frame,
    both,
    check_utm_cleaning,
    same_numbers,
    same_paths,
    spark_pair_fixture,
    spark_watchdog_fixture,
)

from growthloop.metrics import attribution as at
from growthloop.staging.contract import DIRECT_CHANNEL


def test_utm_cleaning_is_the_same_on_both_engines(spark_pair):
    check_utm_cleaning(spark_pair)


def test_touches_stitching_and_utm_quality(spark_pair):
    duck, spark = both(at.touches, spark_pair)
    assert duck.count().execute() > 1000
    assert duck.filter(duck.person_id.startswith("anon:")).count().execute() > 0
    assert_same_frame(duck, spark, sort_by=["person_id", "event_time", "event_name", "channel"])
    duck, spark = both(at.stitching, spark_pair)
    assert duck["stitched_touches"] > 0
    same_numbers(duck, spark)
    assert_same_frame(*both(at.utm_quality, spark_pair), ordered=True)


@pytest.mark.parametrize("by, params", [
    ("channel", {}),
    ("campaign", {}),
    ("source_medium", {"horizons": (7, 30), "ltv_horizon": 30, "retention_days": 30,
                       "touch_events": ["ad_click"], "total": False}),
])
def test_channel_monitor(spark_pair, by, params):
    duck, spark = both(at.channel_monitor, spark_pair, by=by, **params)
    assert duck.registrations.sum() > 0 and duck.spend.sum() > 0 and duck.installs.sum() > 0
    assert_same_frame(duck, spark, ordered=True)
    if by == "channel":
        same_numbers(at.monitor_summary(duck), at.monitor_summary(spark))
        assert_same_frame(at.budget_reallocation(duck), at.budget_reallocation(spark), ordered=True)


def test_paths_and_models(spark_pair):
    duck, spark = both(at.conversion_times, spark_pair)
    assert_same_frame(duck, spark, sort_by=["person_id"])
    duck, spark = both(at.path_touches, spark_pair)
    assert_same_frame(duck, spark, sort_by=["person_id", "step"])
    duck, spark = both(at.attribution_paths, spark_pair)
    assert duck.conversions > 50 and duck.nulls > 50
    same_paths(duck, spark)
    models_d, models_s = at.attribute(duck), at.attribute(spark)
    assert_same_frame(models_d, models_s, ordered=True)
    assert_same_frame(at.path_table(duck), at.path_table(spark), ordered=True)
    assert_same_frame(at.disagreement(models_d, duck), at.disagreement(models_s, spark),
                      ordered=True)
    same_numbers(at.paths_summary(duck), at.paths_summary(spark))


def test_paths_with_direct_visits_and_short_windows(spark_pair):
    params = dict(conversion="second_investment", lookback_days=10, half_life_days=2,
                  direct_events=["app_open"], max_touches=3)
    duck, spark = both(at.attribution_paths, spark_pair, **params)
    assert any(DIRECT_CHANNEL in p for p in duck.counts.path)
    assert max(len(p) for p in duck.counts.path) == 3
    same_paths(duck, spark)
    duck, spark = both(at.attribution_paths, spark_pair, conversion="register")
    same_paths(duck, spark)

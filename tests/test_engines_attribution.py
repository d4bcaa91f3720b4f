"""Channel attribution on Spark and on Postgres gives DuckDB's results.

Every stage function of growthloop.metrics.attribution and growthloop.marts.channels that reads a
dataset runs on the small dataset of tests/engine_support.py on DuckDB and on each engine:
counts must be equal, money and credits equal to 1e-9. The functions on the small path-count
frames (attribute, assists, path_table, ...) are plain pandas; they are run on both engines'
paths to show that the answers the chapter prints are the same.
"""

from __future__ import annotations

import pytest
from engine_support import (  # noqa: F401  (the fixtures engine_pair, engine_watchdog)
    assert_same_frame,
    both,
    check_utm_cleaning,
    engine_pair_fixture,
    engine_watchdog_fixture,
    same_numbers,
    same_paths,
)

from growthloop.metrics import attribution as at
from growthloop.staging.contract import DIRECT_CHANNEL


def test_utm_cleaning_is_the_same_on_both_engines(engine_pair):
    check_utm_cleaning(engine_pair)


def test_touches_stitching_and_utm_quality(engine_pair):
    duck, other = both(at.touches, engine_pair)
    assert duck.count().execute() > 1000
    assert duck.filter(duck.person_id.startswith("anon:")).count().execute() > 0
    assert_same_frame(duck, other, sort_by=["person_id", "event_time", "event_name", "channel"])
    duck, other = both(at.stitching, engine_pair)
    assert duck["stitched_touches"] > 0
    same_numbers(duck, other)
    assert_same_frame(*both(at.utm_quality, engine_pair), ordered=True)


@pytest.mark.parametrize("by, params", [
    ("channel", {}),
    ("campaign", {}),
    ("source_medium", {"horizons": (7, 30), "ltv_horizon": 30, "retention_days": 30,
                       "touch_events": ["ad_click"], "total": False}),
])
def test_channel_monitor(engine_pair, by, params):
    duck, other = both(at.channel_monitor, engine_pair, by=by, **params)
    assert duck.registrations.sum() > 0 and duck.spend.sum() > 0 and duck.installs.sum() > 0
    assert_same_frame(duck, other, ordered=True)
    if by == "channel":
        same_numbers(at.monitor_summary(duck), at.monitor_summary(other))
        assert_same_frame(at.budget_reallocation(duck), at.budget_reallocation(other), ordered=True)


def test_paths_and_models(engine_pair):
    duck, other = both(at.conversion_times, engine_pair)
    assert_same_frame(duck, other, sort_by=["person_id"])
    duck, other = both(at.path_touches, engine_pair)
    assert_same_frame(duck, other, sort_by=["person_id", "step"])
    duck, other = both(at.attribution_paths, engine_pair)
    assert duck.conversions > 50 and duck.nulls > 50
    same_paths(duck, other)
    models_d, models_s = at.attribute(duck), at.attribute(other)
    assert_same_frame(models_d, models_s, ordered=True)
    assert_same_frame(at.path_table(duck), at.path_table(other), ordered=True)
    assert_same_frame(at.disagreement(models_d, duck), at.disagreement(models_s, other),
                      ordered=True)
    same_numbers(at.paths_summary(duck), at.paths_summary(other))


def test_paths_with_direct_visits_and_short_windows(engine_pair):
    params = dict(conversion="second_investment", lookback_days=10, half_life_days=2,
                  direct_events=["app_open"], max_touches=3)
    duck, other = both(at.attribution_paths, engine_pair, **params)
    assert any(DIRECT_CHANNEL in p for p in duck.counts.path)
    assert max(len(p) for p in duck.counts.path) == 3
    same_paths(duck, other)
    duck, other = both(at.attribution_paths, engine_pair, conversion="register")
    same_paths(duck, other)


def test_weekly_trend(engine_pair):
    # natural weeks (Monday first) on every engine, the sign-up channel rule, spend per week
    duck, other = both(at.weekly_trend, engine_pair, weeks=8, invest_days=14)
    assert duck.registrations.sum() > 0
    assert_same_frame(duck, other, ordered=True)

"""The user wide table and the profiling functions on Spark and on Postgres give DuckDB's
results.

The wide table is built on each engine from the small dataset of tests/engine_support.py;
every profiling function runs on both and the results must be equal (counts exactly, shares and
money to 1e-9).
"""

from __future__ import annotations

import pytest
from engine_support import (  # noqa: F401  (the fixtures engine_pair, engine_watchdog)
    assert_same_frame,
    both,
    engine_pair_fixture,
    engine_watchdog_fixture,
)

from growthloop.marts.wide import WIDE_COLUMNS, build_wide, investments, user_wide
from growthloop.metrics import profiling


def wides(pair):
    return user_wide(pair.duck), user_wide(pair.other)


def test_wide_table(engine_pair):
    duck, other = wides(engine_pair)
    assert list(other.columns) == list(WIDE_COLUMNS)
    assert duck.count().execute() > 1000
    assert_same_frame(duck, other, sort_by=["user_id"])
    # the kept table (a cached view on Spark, a temporary table on Postgres) and the plain
    # expression agree
    assert_same_frame(other, build_wide(engine_pair.other), sort_by=["user_id"])


def test_investments(engine_pair):
    duck, other = both(investments, engine_pair)
    assert_same_frame(duck, other, sort_by=["txn_id"])


@pytest.mark.parametrize("by", ["age_band", "gender", "region", "city_tier", "device_os",
                                "signup_channel", "province"])
def test_composition(engine_pair, by):
    duck, other = wides(engine_pair)
    assert_same_frame(profiling.composition(duck, by), profiling.composition(other, by),
                      ordered=True)


@pytest.mark.parametrize(("metric", "bounds"), [
    ("aum", profiling.DEFAULT_AUM_BOUNDS), ("invest_amount", (0, 5_000, 20_000)),
    ("invest_count", (0, 1, 3)),
])
def test_layers(engine_pair, metric, bounds):
    duck, other = wides(engine_pair)
    assert_same_frame(profiling.layers(duck, metric, bounds), profiling.layers(other, metric, bounds),
                      ordered=True)


@pytest.mark.parametrize("investors_only", [True, False])
def test_concentration(engine_pair, investors_only):
    duck, other = wides(engine_pair)
    assert_same_frame(profiling.lorenz_curve(duck, investors_only=investors_only, points=20),
                      profiling.lorenz_curve(other, investors_only=investors_only, points=20),
                      ordered=True)
    for metric in ("aum", "invest_amount"):
        g = profiling.gini(duck, metric, investors_only)
        assert 0 < g < 1
        assert profiling.gini(other, metric, investors_only) == pytest.approx(g, rel=1e-9)
        t = profiling.top_share(duck, metric, 0.2, investors_only)
        assert profiling.top_share(other, metric, 0.2, investors_only) == pytest.approx(t, rel=1e-9)


def test_headline(engine_pair):
    duck, other = wides(engine_pair)
    a, b = profiling.headline(duck), profiling.headline(other)
    assert a.keys() == b.keys()
    for key, value in a.items():
        assert b[key] == pytest.approx(value, rel=1e-9), key


def test_cluster_users(engine_pair):
    duck, other = wides(engine_pair)
    a = profiling.cluster_users(duck, k_range=range(2, 5), sample_size=300)
    b = profiling.cluster_users(other, k_range=range(2, 5), sample_size=300)
    assert a.k == b.k and a.sample_size == b.sample_size
    assert_same_frame(a.scores, b.scores, ordered=True)
    assert_same_frame(a.centroids, b.centroids, ordered=True)
    assert_same_frame(a.profile, b.profile, ordered=True)
    # the in-engine assignment of every investor agrees user by user
    assert_same_frame(a.assign(duck).select("user_id", "cluster"),
                      b.assign(other).select("user_id", "cluster"), sort_by=["user_id"])

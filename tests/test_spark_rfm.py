"""RFM stage functions on Spark (Ibis's PySpark backend) give DuckDB's results.

The whole pipeline (values, scores, segments) and every aggregate the chapter reads run on the
shared small dataset (tests/spark_support.py) on DuckDB and on local Spark; the results must be
equal (counts exactly, money to 1e-9).
"""

from __future__ import annotations

import pytest
from spark_support import assert_same_frame, both, spark_pair_fixture  # noqa: F401

from growthloop.metrics import rfm

PARAMS = {
    "mean": {},
    "median": {"split": "median", "period_days": None},
    "score": {"split": "score", "monetary": "revenue", "bins": 4},
}


@pytest.mark.parametrize("as_of", [None, "2026-01-15"])
def test_rfm_values(spark_pair, as_of):
    duck, spark = both(rfm.rfm_values, spark_pair, as_of=as_of)
    assert duck.count().execute() > 100
    assert_same_frame(duck, spark, sort_by=["user_id"])


@pytest.mark.parametrize("case", list(PARAMS))
def test_segments(spark_pair, case):
    duck, spark = both(rfm.segments, spark_pair, **PARAMS[case])
    assert duck.segment.nunique().execute() >= 4
    assert_same_frame(duck, spark, sort_by=["user_id"])
    unmaterialized = rfm.segments(spark_pair.spark, materialize=False, **PARAMS[case])
    assert_same_frame(duck, unmaterialized, sort_by=["user_id"])


@pytest.mark.parametrize("case", list(PARAMS))
def test_split_values(spark_pair, case):
    params = PARAMS[case]
    split = params.get("split", "mean")

    def cut(ds):
        scored = rfm.score(rfm.rfm_values(ds, period_days=params.get("period_days", 365)))
        return rfm.split_values(scored, split)

    duck, spark = both(cut, spark_pair)
    assert duck.keys() == spark.keys()
    for key in duck:
        assert spark[key] == pytest.approx(duck[key], rel=1e-9)


def test_segment_aggregates(spark_pair):
    duck_seg, spark_seg = both(rfm.segments, spark_pair)
    for fn in (rfm.segment_table, rfm.group_table, rfm.score_bins, rfm.distribution,
               rfm.rf_heatmap):
        assert_same_frame(fn(duck_seg), fn(spark_seg), ordered=True)
    duck, spark = rfm.distribution_summary(duck_seg), rfm.distribution_summary(spark_seg)
    assert duck.keys() == spark.keys()
    for key, value in duck.items():
        assert spark[key] == (pytest.approx(value, rel=1e-9) if isinstance(value, float) else value)
    duck_lists, spark_lists = dict(rfm.member_lists(duck_seg)), dict(rfm.member_lists(spark_seg))
    assert list(duck_lists) == list(spark_lists)
    for code, frame in duck_lists.items():
        assert_same_frame(frame, spark_lists[code], ordered=True)


@pytest.mark.parametrize("case", ["mean", "score"])
def test_migration(spark_pair, case):
    duck, spark = both(rfm.migration, spark_pair, previous=120, **PARAMS[case])
    assert duck.users.sum() > 0
    assert duck.attrs == spark.attrs
    assert_same_frame(duck, spark, ordered=True)

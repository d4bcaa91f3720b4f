"""RFM stage functions on Spark and on Postgres give DuckDB's results.

The whole pipeline (values, scores, segments) and every aggregate the chapter reads run on the
small dataset of tests/engine_support.py on DuckDB and on each engine; the results must be
equal (counts exactly, money to 1e-9).
"""

from __future__ import annotations

import pytest
from engine_support import (  # noqa: F401  (the fixtures engine_pair, engine_watchdog)
    assert_same_frame,
    both,
    engine_pair_fixture,
    engine_watchdog_fixture,
)

from growthloop.metrics import rfm

PARAMS = {
    "mean": {},
    "median": {"split": "median", "period_days": None},
    "score": {"split": "score", "monetary": "revenue", "bins": 4},
}


@pytest.mark.parametrize("as_of", [None, "2026-01-15"])
def test_rfm_values(engine_pair, as_of):
    duck, other = both(rfm.rfm_values, engine_pair, as_of=as_of)
    assert duck.count().execute() > 100
    assert_same_frame(duck, other, sort_by=["user_id"])


@pytest.mark.parametrize("case", list(PARAMS))
def test_segments(engine_pair, case):
    duck, other = both(rfm.segments, engine_pair, **PARAMS[case])
    assert duck.segment.nunique().execute() >= 4
    assert_same_frame(duck, other, sort_by=["user_id"])
    unmaterialized = rfm.segments(engine_pair.other, materialize=False, **PARAMS[case])
    assert_same_frame(duck, unmaterialized, sort_by=["user_id"])


@pytest.mark.parametrize("case", list(PARAMS))
def test_split_values(engine_pair, case):
    params = PARAMS[case]
    split = params.get("split", "mean")

    def cut(ds):
        scored = rfm.score(rfm.rfm_values(ds, period_days=params.get("period_days", 365)))
        return rfm.split_values(scored, split)

    duck, other = both(cut, engine_pair)
    assert duck.keys() == other.keys()
    for key in duck:
        assert other[key] == pytest.approx(duck[key], rel=1e-9)


def test_segment_aggregates(engine_pair):
    duck_seg, other_seg = both(rfm.segments, engine_pair)
    for fn in (rfm.segment_table, rfm.group_table, rfm.score_bins, rfm.distribution,
               rfm.rf_heatmap):
        assert_same_frame(fn(duck_seg), fn(other_seg), ordered=True)
    duck, other = rfm.distribution_summary(duck_seg), rfm.distribution_summary(other_seg)
    assert duck.keys() == other.keys()
    for key, value in duck.items():
        assert other[key] == (pytest.approx(value, rel=1e-9) if isinstance(value, float) else value)
    duck_lists, other_lists = dict(rfm.member_lists(duck_seg)), dict(rfm.member_lists(other_seg))
    assert list(duck_lists) == list(other_lists)
    for code, frame in duck_lists.items():
        assert_same_frame(frame, other_lists[code], ordered=True)


@pytest.mark.parametrize("case", ["mean", "score"])
def test_migration(engine_pair, case):
    duck, other = both(rfm.migration, engine_pair, previous=120, **PARAMS[case])
    assert duck.users.sum() > 0
    assert duck.attrs == other.attrs
    assert_same_frame(duck, other, ordered=True)

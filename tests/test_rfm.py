"""RFM segmentation: values, quantile scores, the eight segments under each split rule, the
action table and its dataset.yml key, migration, member lists, the demo's ground truth, and what
the chapter's summaries refuse (NotAvailable) for data that cannot support them: no investors,
fewer investors than score bands, investors all alike, no repeat investments, a migration date
before the first investment."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest
from conftest import event, txn, user, write_dataset

from growthloop import DEMO_DATA
from growthloop.errors import NotAvailable
from growthloop.metrics import rfm as R
from growthloop.staging.config import ConfigError, parse_config
from growthloop.staging.loader import open_dataset

LABEL = {(s.r, s.f, s.m): s.label for s in R.SEGMENTS}


def scored_of(rows: list[tuple]) -> ibis.Table:
    """A scored RFM table from (user_id, recency_days, frequency, monetary[, r, f, m scores])."""
    cols = ["user_id", "recency_days", "frequency", "monetary", "r_score", "f_score", "m_score"]
    rows = [tuple(r) + (1, 1, 1)[: 7 - len(r)] for r in rows]
    frame = pd.DataFrame(rows, columns=cols)
    frame["amount"] = frame["monetary"].astype(float)
    frame["revenue"] = frame["monetary"].astype(float) / 100
    frame["monetary"] = frame["monetary"].astype(float)
    return ibis.memtable(frame)


def seg_of(table: ibis.Table, **params) -> dict[str, str]:
    got = R.segment(table, **params).select("user_id", "segment").execute()
    return dict(zip(got.user_id, got.segment, strict=True))


def investors_dataset(folder: Path, money: dict[str, list[tuple[str, float]]],
                      analysis_date: str = "2025-03-31", config: dict | None = None,
                      extra_txns: list[dict] | None = None) -> Path:
    """A dataset whose users invest `money[uid] = [(time, amount), ...]`."""
    users, events, txns = [], [], []
    for i, (uid, items) in enumerate(money.items()):
        users.append(user(uid, "2024-06-01 10:00:00"))
        events.append(event("register", "2024-06-01 10:00:00", uid, f"A{i}"))
        for j, (time, amount) in enumerate(items):
            txns.append(txn(f"T{uid}_{j}", uid, time, amount, 30))
    txns += extra_txns or []
    cfg = {"name": "rfm", "analysis_date": analysis_date, **(config or {})}
    return write_dataset(folder, users=users, events=events, transactions=txns, config=cfg)


# ------------------------------------------------------------------------- segments: mean


def _boundary_rows() -> list[tuple]:
    """8 corner investors (R in {10, 30}, F in {1, 3}, M in {100, 300}), one exactly at the mean
    (20, 2, 200) and symmetric pairs one step either side of it, so that the mean AND the median
    of R, F, M are exactly 20, 2, 200 (worked out by hand: every value pairs with its mirror)."""
    rows = []
    for i, (r, f, m) in enumerate(itertools.product((10, 30), (1, 3), (100, 300))):
        rows.append((f"c{i}", r, f, m))
    rows += [("tie", 20, 2, 200),
             ("r_in", 19, 2, 200), ("r_out", 21, 2, 200),
             ("f_lo", 20, 1, 200), ("f_hi", 20, 3, 200),
             ("m_lo", 20, 2, 199), ("m_hi", 20, 2, 201)]
    return rows


def _boundary_expected() -> dict[str, str]:
    exp = {}
    for i, (r, f, m) in enumerate(itertools.product((10, 30), (1, 3), (100, 300))):
        exp[f"c{i}"] = LABEL[(r == 10, f == 3, m == 300)]  # R high = fewer days
    exp.update({
        "tie": "重要价值",      # equal to the split on all three: high (>=, and R <=)
        "r_in": "重要价值",     # 19 days <= 20: recent
        "r_out": "重要保持",    # 21 days > 20: R low, F and M at the split: high
        "f_lo": "重要发展",     # F 1 < 2
        "f_hi": "重要价值",
        "m_lo": "一般价值",     # M 199 < 200: every 重要 becomes 一般
        "m_hi": "重要价值",
    })
    return exp


@pytest.mark.parametrize("split", ["mean", "median"])
def test_every_segment_boundary_mean_and_median(split):
    table = scored_of(_boundary_rows())
    cut = R.split_values(table, split)
    assert cut == {"r": 20.0, "f": 2.0, "m": 200.0}
    got = seg_of(table, split=split)
    assert got == _boundary_expected()
    assert set(got.values()) == {s.label for s in R.SEGMENTS}  # all eight reached


def test_median_differs_from_mean_on_a_skewed_measure():
    # M = 100, 200, 300, 10000 (R and F equal, so high by the tie rule).
    # mean = 10600 / 4 = 2650: only 10000 is high; median = (200 + 300) / 2 = 250: 300 and 10000.
    rows = [("a", 5, 2, 100), ("b", 5, 2, 200), ("c", 5, 2, 300), ("d", 5, 2, 10000)]
    t = scored_of(rows)
    assert R.split_values(t, "mean")["m"] == 2650.0
    assert R.split_values(t, "median")["m"] == 250.0
    assert seg_of(t, split="mean") == {"a": "一般价值", "b": "一般价值", "c": "一般价值",
                                       "d": "重要价值"}
    assert seg_of(t, split="median") == {"a": "一般价值", "b": "一般价值", "c": "重要价值",
                                         "d": "重要价值"}
    # odd count: median 200 is a value; the investor at it is high (>=)
    t3 = scored_of(rows[:3])
    assert seg_of(t3, split="median") == {"a": "一般价值", "b": "重要价值", "c": "重要价值"}


def test_ties_at_the_mean_survive_float_rounding():
    # (0.1 + 0.2 + 0.3) / 3 is 0.20000000000000004 in floating point; 0.2 is still a tie: high
    rows = [("a", 1, 1, 0.1), ("b", 1, 1, 0.2), ("c", 1, 1, 0.3)]
    t = scored_of(rows)
    assert seg_of(t, split="mean") == {"a": "一般价值", "b": "重要价值", "c": "重要价值"}
    # recency ties: days 1, 2, 3 -> mean 2; 2 days is recent (<=), 3 is not
    t2 = scored_of([("a", 1, 1, 5), ("b", 2, 1, 5), ("c", 3, 1, 5)])
    assert seg_of(t2, split="mean") == {"a": "重要价值", "b": "重要价值", "c": "重要保持"}


@pytest.mark.parametrize("threshold", [3, 4])
def test_every_segment_boundary_score_rule(threshold):
    # scores one below and at the threshold, every combination: at the threshold is high
    rows = []
    exp = {}
    for i, (r, f, m) in enumerate(itertools.product((threshold - 1, threshold), repeat=3)):
        # raw values deliberately contradict the scores: the score rule must ignore them
        rows.append((f"s{i}", 1000, 0, 0.0, r, f, m))
        exp[f"s{i}"] = LABEL[(r >= threshold, f >= threshold, m >= threshold)]
    rows.append(("top", 1000, 0, 0.0, 5, 5, 5))
    exp["top"] = "重要价值"
    rows.append(("bottom", 0, 99, 1e9, 1, 1, 1))
    exp["bottom"] = "一般挽留"
    got = seg_of(scored_of(rows), split="score", score_threshold=threshold)
    assert got == exp


def test_groups_follow_r_and_f():
    table = R.segment(scored_of(_boundary_rows()), split="mean").execute()
    for row in table.itertuples():
        if not row.r_high:
            assert row.group == "流失风险客"
        elif row.f_high:
            assert row.group == "稳定中客"
        else:
            assert row.group == "潜力新客"
        seg = R.segment_of(row.r_high, row.f_high, row.m_high)
        assert (row.segment, row.segment_en, row.group) == (seg.label, seg.label_en, seg.group)


# ------------------------------------------------------------------------- scores


def _reference_scores(values: np.ndarray, bins: int, higher_is_better: bool) -> np.ndarray:
    """Independent reference 1: cut at exact discrete quantiles (numpy inverted CDF)."""
    x = values if higher_is_better else -values
    edges = [np.quantile(x, k / bins, method="inverted_cdf") for k in range(1, bins)]
    return 1 + np.array([sum(v > e for e in edges) for v in x])


def _reference_by_count(values: list, bins: int, higher_is_better: bool) -> list[int]:
    """Independent reference 2, pure Python: 1 + floor(bins x strictly worse / n)."""
    n = len(values)
    out = []
    for v in values:
        worse = sum(1 for u in values if (u < v if higher_is_better else u > v))
        out.append(1 + bins * worse // n)
    return out


@pytest.mark.parametrize("bins", [3, 5, 10])
def test_scores_match_independent_quantiles(bins):
    rng = np.random.default_rng(11)
    n = 157
    frame = pd.DataFrame({
        "user_id": [f"u{i:03d}" for i in range(n)],
        "recency_days": rng.integers(0, 40, n),                      # many ties
        "frequency": np.minimum(rng.geometric(0.55, n), 12),         # F = 1 for ~55%
        "monetary": np.round(rng.lognormal(8, 1.6, n), -2),          # heavy tail, some ties
    })
    frame.loc[:4, "monetary"] = 5e7  # a few whales
    got = R.score(ibis.memtable(frame), bins).order_by("user_id").execute()
    for col, sc, better in (("recency_days", "r_score", False), ("frequency", "f_score", True),
                            ("monetary", "m_score", True)):
        ref = _reference_scores(frame[col].to_numpy(), bins, better)
        assert got[sc].tolist() == ref.tolist(), col
        assert got[sc].tolist() == _reference_by_count(frame[col].tolist(), bins, better), col
        # equal values, equal scores; ordered with the values
        by_value = got.groupby(col)[sc].nunique()
        assert (by_value == 1).all()
        ordered = got.sort_values(col)[sc].to_numpy()
        assert (np.diff(ordered) <= 0).all() if not better else (np.diff(ordered) >= 0).all()
        assert got[sc].between(1, bins).all()


def test_score_of_a_dominant_value_leaves_empty_bins():
    # 6 of 10 invested once: F=1 -> 1 + 5*0//10 = 1; F=2 (2 people) -> 1 + 5*6//10 = 4;
    # F=3 -> 1 + 5*8//10 = 5. Scores 2 and 3 are empty.
    rows = [(f"u{i}", 5, f, 100.0) for i, f in enumerate([1] * 6 + [2, 2, 3, 3])]
    seg = R.segment(R.score(scored_of(rows).drop("r_score", "f_score", "m_score")))
    assert sorted(seg.execute().f_score.tolist()) == [1] * 6 + [4, 4, 5, 5]
    bins = R.score_bins(seg).query("measure == 'F'")
    assert bins.users.tolist() == [6, 0, 0, 2, 2]
    assert bins.min_value.tolist()[3:] == [2.0, 3.0]
    assert bins.max_value.isna().tolist() == [False, True, True, False, False]


# ------------------------------------------------------------------------- on datasets


@pytest.fixture
def hand(tmp_path: Path) -> Path:
    # analysis date 2025-03-31; period 30 days = 2025-03-02 00:00 .. 2025-03-31 23:59:59
    money = {
        "A": [("2025-03-31 00:01:00", 100.0), ("2025-03-02 00:00:00", 50.0),
              ("2025-03-01 23:59:59", 1000.0)],                 # R 0, F 2, M 150 (last one out)
        "B": [("2025-03-30 23:59:00", 200.0)],                  # R 1 (previous calendar day)
        "C": [("2024-12-31 12:00:00", 400.0)],                  # R 90, F 0, M 0 in the period
    }
    extra = [txn("Tfuture", "B", "2025-04-01 00:00:00", 9999.0),          # after the date
             txn("Tfail", "B", "2025-03-15 10:00:00", 8888.0, status="failed")]
    return investors_dataset(tmp_path / "hand", money, extra_txns=extra)


def test_values_by_hand(hand):
    ds = open_dataset(hand)
    got = R.rfm_values(ds, period_days=30).order_by("user_id").execute()
    assert got.user_id.tolist() == ["A", "B", "C"]
    assert got.recency_days.tolist() == [0, 1, 90]   # 2025-03-31 - 2024-12-31 = 90 days
    assert got.frequency.tolist() == [2, 1, 0]
    assert got.amount.tolist() == [150.0, 200.0, 0.0]
    assert got.monetary.tolist() == [150.0, 200.0, 0.0]
    # all history: A has 3 investments, 1150 yuan; C's 400 counts
    allh = R.rfm_values(ds, period_days=None).order_by("user_id").execute()
    assert allh.frequency.tolist() == [3, 1, 1]
    assert allh.amount.tolist() == [1150.0, 200.0, 400.0]
    # revenue (margin 2%, 30-day term): amount x 0.02 x 30 / 365
    rev = R.rfm_values(ds, period_days=None, monetary="revenue").order_by("user_id").execute()
    np.testing.assert_allclose(rev.monetary, np.array([1150.0, 200.0, 400.0]) * 0.02 * 30 / 365)
    # as of an earlier date: only what happened by then
    early = R.rfm_values(ds, as_of="2025-03-01", period_days=None).order_by("user_id").execute()
    assert early.user_id.tolist() == ["A", "C"]
    assert early.recency_days.tolist() == [0, 60]
    assert early.amount.tolist() == [1000.0, 400.0]


def test_segment_table_by_hand(hand):
    ds = open_dataset(hand)
    seg = R.segments(ds, period_days=30)
    # R days 0, 1, 90: mean 30.33 -> A, B recent; F 2, 1, 0: mean 1 -> A, B high;
    # M 150, 200, 0: mean 116.67 -> A, B high. A, B 重要价值; C 一般挽留.
    table = R.segment_table(seg)
    assert table.columns[:7].tolist() == ["segment", "segment_en", "users", "user_share",
                                          "amount", "amount_share", "action"]
    assert table.segment.tolist() == [s.label for s in R.SEGMENTS]
    t = table.set_index("segment")
    assert t.loc["重要价值", "users"] == 2 and t.loc["一般挽留", "users"] == 1
    assert t.users.sum() == 3
    assert t.loc["重要价值", "user_share"] == pytest.approx(2 / 3)
    assert t.loc["重要价值", "amount_share"] == pytest.approx(1.0)   # C invested 0 in the period
    assert t.loc["一般挽留", "amount"] == 0.0
    assert t.loc["重要发展", "users"] == 0 and np.isnan(t.loc["重要发展", "mean_monetary"])
    assert t.loc["重要挽留", "action"] == R.DEFAULT_ACTIONS["重要挽留"]["action"]
    groups = R.group_table(seg).set_index("group")
    assert groups.users.to_dict() == {"潜力新客": 0, "稳定中客": 2, "流失风险客": 1}
    head = R.headline(table, R.group_table(seg))
    assert head["investors"] == 3 and isinstance(head["investors"], int)
    assert head["important_value_users"] == 2
    assert isinstance(head["important_value_user_share"], float)
    # the chapter's numbers: 重要价值 2 of 3 with all the amount; 一般挽留 (C) the other;
    # the largest segment is 重要价值; groups: 稳定中客 2 with all the amount, 流失风险客 1
    got = R.segments_summary(table, R.group_table(seg))
    assert got == pytest.approx({
        "iv_users": 2, "iv_user_share": 2 / 3, "iv_amount_share": 1.0, "winback_users": 0,
        "winback_amount_share": 0.0, "keep_users": 0, "develop_users": 0,
        "important_user_share": 2 / 3, "important_amount_share": 1.0,
        "largest_segment": "重要价值", "largest_segment_share": 2 / 3, "group_new_share": 0.0,
        "group_stable_share": 2 / 3, "group_stable_amount_share": 1.0,
        "group_risk_share": 1 / 3, "group_risk_amount_share": 0.0,
        "empty_segments": "重要发展、重要保持、重要挽留、一般价值、一般发展、一般保持"})


def test_one_investor(tmp_path):
    ds = open_dataset(investors_dataset(tmp_path / "one", {"X": [("2025-03-01 10:00:00", 500.0)]}))
    for split, label in (("mean", "重要价值"), ("median", "重要价值"), ("score", "一般挽留")):
        got = R.segments(ds, split=split).execute()
        assert len(got) == 1
        assert got[["r_score", "f_score", "m_score"]].iloc[0].tolist() == [1, 1, 1]
        assert got.segment.iloc[0] == label, split
    seg = R.segments(ds)
    assert R.segment_table(seg).users.sum() == 1
    # what the chapter says about one investor: the distribution, and nothing else
    d = R.distribution_summary(seg)
    assert (d["investors"], d["median_recency"], d["mean_monetary"]) == (1, 30.0, 500.0)
    with pytest.raises(NotAvailable, match="R、F、M 都相同"):
        R.spread(seg)                      # one segment holds everybody: says nothing
    with pytest.raises(NotAvailable, match="至少 5 位投资用户"):
        R.score_bins(seg, 5)               # more bands than people
    with pytest.raises(NotAvailable, match="至少 2 位投资用户"):
        R.scores_summary(seg, 2)
    with pytest.raises(NotAvailable, match="至少 5 位"):
        R.rf_heatmap(seg, 5)


def test_all_investors_equal(tmp_path):
    money = {u: [("2025-03-10 10:00:00", 300.0)] for u in ("P", "Q", "S", "T", "V")}
    ds = open_dataset(investors_dataset(tmp_path / "eq", money))
    for split, label in (("mean", "重要价值"), ("median", "重要价值"), ("score", "一般挽留")):
        got = R.segments(ds, split=split).execute()
        assert set(got.segment) == {label}, split
        assert set(got.r_score) == set(got.f_score) == set(got.m_score) == {1}
        with pytest.raises(NotAvailable, match="R、F、M 都相同"):
            R.spread(R.segments(ds, split=split), split)
    # five investors, five bands: the band table exists (everybody in score 1) ...
    seg = R.segments(ds)
    bands = R.score_bins(seg, 5)
    assert bands[bands.score == 1].users.tolist() == [5, 5, 5]
    got = R.scores_summary(seg, 5)
    assert got["empty_count"] == 12 and (got["r_bands"], got["f_bands"], got["m_bands"]) == (1, 1, 1)
    # ... the top M band is empty: no share of the amount can be given to it
    assert np.isnan(got["top_m_amount_share"])
    # ... but the grid would be one cell
    with pytest.raises(NotAvailable, match="F 得分都相同"):
        R.rf_heatmap(seg, 5)


def test_the_same_money_for_everybody(tmp_path):
    # five investors on five days with the same 300 yuan: R differs, F and M do not. 重要 and 一般
    # (M high or low) would tell nobody apart: no segmentation
    money = {u: [(f"2025-03-{10 + i:02d} 10:00:00", 300.0)] for i, u in enumerate("PQSTV")}
    ds = open_dataset(investors_dataset(tmp_path / "same_m", money))
    with pytest.raises(NotAvailable, match="M 都相同") as info:
        R.spread(R.segments(ds))
    assert "period_days" in info.value.fix
    # a year after the last investment nobody invested in the 365-day period: F = M = 0 for all
    late = open_dataset(investors_dataset(tmp_path / "late", money, analysis_date="2026-06-30"))
    seg = R.segments(late)
    assert R.distribution_summary(seg)["idle_share"] == 1.0      # still 5 investors, shown
    with pytest.raises(NotAvailable, match="统计期内没有一笔投资"):
        R.spread(seg)
    with pytest.raises(NotAvailable, match="统计期内没有一笔投资"):
        R.migration(late, previous=30)
    # different amounts over all history (period_days=None): segmented, F (1 each) flat
    richer = {u: [(f"2025-03-{10 + i:02d} 10:00:00", 100.0 * (i + 1))] for i, u in enumerate("PQSTV")}
    ds2 = open_dataset(investors_dataset(tmp_path / "richer", richer, analysis_date="2026-06-30"))
    assert R.spread(R.segments(ds2, period_days=None))["flat"] == "F"


def test_fewer_investors_than_bands(hand):
    # three investors who differ: the mean split works, quantile scores of 5 bands do not
    ds = open_dataset(hand)
    seg = R.segments(ds, period_days=30)
    assert R.spread(seg) == {"investors": 3, "r_values": 3, "f_values": 3, "m_values": 3,
                             "amount": 350.0, "flat": ""}
    for call in (lambda: R.score_bins(seg, 5), lambda: R.scores_summary(seg, 5),
                 lambda: R.rf_heatmap(seg, 5)):
        with pytest.raises(NotAvailable, match="投资用户少于 5 位") as info:
            call()
        assert "score_bins" in info.value.fix
    score_seg = R.segments(ds, period_days=30, split="score")
    with pytest.raises(NotAvailable, match="split=score"):
        R.spread(score_seg, "score", 5)
    # three bands for three investors: each band holds one (worked out in the test below)
    seg3 = R.segments(ds, period_days=30, bins=3)
    got = R.scores_summary(seg3, 3)
    assert got == {"empty_scores": "无", "empty_count": 0, "r_bands": 3, "f_bands": 3,
                   "m_bands": 3, "top_m_users": 1,
                   "top_m_amount_share": pytest.approx(200 / 350)}  # B's 200 of 350


def test_no_investors(tmp_path):
    # nobody has invested by 01-31 (a dataset without any successful investment is refused at
    # load, so the empty segmentation is taken at a date before the first one)
    ds = open_dataset(write_dataset(
        tmp_path / "none", users=[user("U1")], events=[event("register", "2025-01-01 10:00:00", "U1")],
        transactions=[txn("T1", "U1", "2025-02-01 10:00:00", 10.0)],
        config={"analysis_date": "2025-03-31"}))
    seg = R.segments(ds, as_of="2025-01-31")
    table = R.segment_table(seg)
    assert table.users.sum() == 0 and table.user_share.isna().all()
    groups = R.group_table(seg)
    # every summary the chapter reads says so instead of a number
    for call in (lambda: R.distribution_summary(seg), lambda: R.score_bins(seg),
                 lambda: R.scores_summary(seg), lambda: R.spread(seg), lambda: R.rf_heatmap(seg),
                 lambda: R.segments_summary(table, groups),
                 lambda: R.heatmap_summary(pd.DataFrame({"r_score": [1], "f_score": [1], "users": [0],
                                                         "mean_monetary": [np.nan]}))):
        with pytest.raises(NotAvailable, match="还没有成功的投资"):
            call()
    # the analysis date itself before the first investment: the history is empty
    early = open_dataset(write_dataset(
        tmp_path / "early", users=[user("U1")], events=[event("register", "2025-01-01 10:00:00", "U1")],
        transactions=[txn("T1", "U1", "2025-02-01 10:00:00", 10.0)],
        config={"analysis_date": "2025-01-31"}))
    assert R.history(early) == {"first_investment": "", "last_investment": "", "history_days": 0}
    with pytest.raises(NotAvailable, match="还没有成功的投资"):
        R.migration(early, previous=10)


@pytest.fixture
def no_repeat(tmp_path: Path) -> Path:
    # six investors, one investment each (nobody invested twice), analysis date 2025-03-31
    money = {"U0": [("2025-03-31 09:00:00", 100.0)], "U1": [("2025-03-25 09:00:00", 200.0)],
             "U2": [("2025-03-10 09:00:00", 300.0)], "U3": [("2025-02-01 09:00:00", 400.0)],
             "U4": [("2025-01-05 09:00:00", 500.0)], "U5": [("2024-12-01 10:00:00", 600.0)]}
    return investors_dataset(tmp_path / "norepeat", money)


def test_no_repeat_investments(no_repeat):
    ds = open_dataset(no_repeat)
    seg = R.segments(ds)
    # R 0, 6, 21, 58, 85, 120 days (mean 290 / 6 = 48.3); F 1 for all; M 100..600 (mean 350)
    d = R.distribution_summary(seg)
    assert (d["once_share"], d["idle_share"]) == (1.0, 0.0)
    sp = R.spread(seg)
    assert sp["flat"] == "F" and (sp["r_values"], sp["f_values"], sp["m_values"]) == (6, 1, 6)
    # F = 1 = its mean: high for everybody. R high: U0-U2; M high: U3-U5 (>= 350)
    # -> U0-U2 一般价值 (R high, M low), U3-U5 重要保持 (R low, M high); six segments empty
    table = R.segment_table(seg)
    assert table.set_index("segment").users[lambda x: x > 0].to_dict() == {"重要保持": 3, "一般价值": 3}
    summ = R.segments_summary(table, R.group_table(seg))
    assert summ["empty_segments"] == "重要价值、重要发展、重要挽留、一般发展、一般保持、一般挽留"
    assert (summ["iv_users"], summ["keep_users"], summ["group_risk_share"]) == (0, 3, 0.5)
    assert summ["group_risk_amount_share"] == pytest.approx(1500 / 2100)  # 400 + 500 + 600 of 2,100
    # every F score is 1: the R x F grid would be one column
    with pytest.raises(NotAvailable, match="F 得分都相同") as info:
        R.rf_heatmap(seg, 5)
    assert "没有人复投" in info.value.missing
    bands = R.scores_summary(seg, 5)
    assert bands["f_bands"] == 1 and bands["empty_scores"].startswith("F2、F3、F4、F5")


def test_period_longer_than_the_history(no_repeat):
    ds = open_dataset(no_repeat)
    # first investment 2024-12-01: 31 + 31 + 28 + 30 days to 03-31, plus the first day = 121
    span = R.history(ds)
    assert span == {"first_investment": "2024-12-01", "last_investment": "2025-03-31",
                    "history_days": 121}
    cols = ["user_id", "frequency", "amount"]
    whole = R.rfm_values(ds, period_days=None).order_by("user_id").execute()[cols]
    for days in (121, 365, 3650):   # a period covering the history is all history
        got = R.rfm_values(ds, period_days=days).order_by("user_id").execute()[cols]
        pd.testing.assert_frame_equal(got, whole)
    # 120 days start on 2024-12-02: U5's investment of 12-01 falls out (F 0, M 0)
    short = R.rfm_values(ds, period_days=120).order_by("user_id").execute()
    assert short.frequency.tolist() == [1, 1, 1, 1, 1, 0]
    assert R.distribution_summary(R.segments(ds, period_days=120))["idle_share"] == pytest.approx(1 / 6)


def test_migration_date_before_the_first_investment(no_repeat):
    ds = open_dataset(no_repeat)
    # 2025-03-31 - 150 days = 2024-11-01, a month before the first investment (2024-12-01)
    with pytest.raises(NotAvailable, match="第一笔投资在 2024-12-01") as info:
        R.migration(ds, previous=150)
    assert "previous_days 调小到 120 天以内" in info.value.fix    # 121 days of history
    assert "2024-11-01" in info.value.need
    # 100 days before: 2024-12-21, one investor (U5) then: nothing to segment at that date
    with pytest.raises(NotAvailable, match="比较日 2024-12-21全部投资用户"):
        R.migration(ds, previous=100)
    # 60 days before: 2025-01-30, U4 and U5 differ: the migration is there
    moves = R.migration(ds, previous=60)
    assert int(moves[moves.from_segment != R.NEW_INVESTOR[0]].users.sum()) == 2
    assert int(moves.users.sum()) == 6


def test_member_list_table(hand):
    ds = open_dataset(hand)
    table = R.segment_table(R.segments(ds, period_days=30))
    got = R.member_list_table(table)
    assert got.columns.tolist() == ["segment", "segment_en", "users", "action", "channel", "offer",
                                    "list"]
    assert got.list.tolist() == [f"rfm_members_{s.code}.csv" for s in R.SEGMENTS]
    assert got.users.tolist() == table.users.tolist()


def test_migration_by_hand(tmp_path):
    # previous date 2025-02-28 (31 days before 2025-03-31); all history
    money = {
        "A": [("2025-01-05 10:00:00", 1000.0), ("2025-03-30 10:00:00", 1000.0)],
        "B": [("2025-01-20 10:00:00", 100.0)],
        "N": [("2025-03-20 10:00:00", 50.0)],   # not yet an investor on 2025-02-28
    }
    ds = open_dataset(investors_dataset(tmp_path / "mig", money))
    moves = R.migration(ds, previous=31, period_days=None)
    assert moves.attrs["previous_date"] == "2025-02-28"
    assert len(moves) == 9 * 8
    # 2025-02-28: A (R 54, F 1, M 1000), B (R 39, F 1, M 100): means R 46.5, F 1, M 550
    #   -> A: R low, F high (tie), M high = 重要保持; B: R high, F high, M low = 一般价值
    # 2025-03-31: A (R 1, F 2, M 2000), B (R 70, F 1, M 100), N (R 11, F 1, M 50):
    #   means R 27.33, F 1.33, M 716.67 -> A 重要价值, B 一般挽留, N 一般发展
    cells = moves[moves.users > 0].set_index(["from_segment", "to_segment"]).users.to_dict()
    assert cells == {("重要保持", "重要价值"): 1, ("一般价值", "一般挽留"): 1,
                     ("新投资人", "一般发展"): 1}
    matrix = R.migration_matrix(moves)
    assert matrix.shape == (9, 8) and int(matrix.to_numpy().sum()) == 3
    assert moves.set_index(["from_segment", "to_segment"]).from_share[("重要保持", "重要价值")] == 1.0
    # the same with a date
    same = R.migration(ds, previous="2025-02-28", period_days=None)
    pd.testing.assert_frame_equal(moves, same)


def test_member_lists_partition(hand):
    ds = open_dataset(hand)
    seg = R.segments(ds, period_days=30)
    lists = {code: part.to_pandas() for code, part in R.member_lists(seg)}
    assert list(lists) == [s.code for s in R.SEGMENTS]
    assert lists["important_value"].user_id.tolist() == ["B", "A"]   # M 200 before M 150
    assert lists["general_win_back"].user_id.tolist() == ["C"]
    assert {"user_id", "r_score", "f_score", "m_score", "segment"} <= set(lists["important_value"])


def test_bad_parameters(hand):
    ds = open_dataset(hand)
    with pytest.raises(ValueError, match="monetary"):
        R.segments(ds, monetary="aum")
    with pytest.raises(ValueError, match="split"):
        R.segments(ds, split="kmeans")
    with pytest.raises(ValueError, match="bins"):
        R.segments(ds, bins=1)
    with pytest.raises(ValueError, match="score_threshold"):
        R.segments(ds, split="score", score_threshold=6)
    with pytest.raises(ValueError, match="period_days"):
        R.segments(ds, period_days=0)
    with pytest.raises(ValueError, match="as_of"):
        R.rfm_values(ds, as_of="2025-04-02")
    with pytest.raises(ValueError, match="previous"):
        R.migration(ds, previous=0)
    with pytest.raises(ValueError, match="previous"):
        R.migration(ds, previous="2025-03-31")


def test_distribution_bins(hand):
    ds = open_dataset(hand)
    dist = R.distribution(R.segments(ds, period_days=None), r_bin_days=30)
    r = dist[dist.measure == "R"]
    assert r.bin.tolist() == ["0-29", "90-119"] and r.users.tolist() == [2, 1]
    m = dist[dist.measure == "M"]   # 200 -> 100+, 400 -> 300+, 1150 -> 1000+
    assert m.bin.tolist() == ["100+", "300+", "1000+"]
    assert dist.groupby("measure").users.sum().tolist() == [3, 3, 3]


# ------------------------------------------------------------------------- action config


def test_rfm_actions_config():
    assert parse_config({}).rfm_actions == {}   # backwards compatible: no key, no change
    cfg = parse_config({"rfm_actions": {
        "重要挽留": {"action": "客服电话回访", "offer": "50元召回红包"},
        "important value": {"channel": "专属经理"},
    }})
    assert cfg.rfm_actions == {"重要挽留": {"action": "客服电话回访", "offer": "50元召回红包"},
                               "重要价值": {"channel": "专属经理"}}
    table = R.actions_table(cfg.rfm_actions).set_index("segment")
    assert table.loc["重要挽留", "action"] == "客服电话回访"
    assert table.loc["重要挽留", "channel"] == R.DEFAULT_ACTIONS["重要挽留"]["channel"]  # kept
    assert table.loc["重要价值", "channel"] == "专属经理"
    assert table.loc["一般挽留"].action == R.DEFAULT_ACTIONS["一般挽留"]["action"]


@pytest.mark.parametrize("raw, match", [
    ({"rfm_actions": {"超级用户": {"action": "x"}}}, "not an RFM segment"),
    ({"rfm_actions": {"重要价值": {"budget": 5}}}, r"unknown key\(s\) \['budget'\]"),
    ({"rfm_actions": {"重要价值": "VIP"}}, "must be a mapping"),
    ({"rfm_actions": ["重要价值"]}, "must be a mapping"),
    ({"rfm_actions": {"重要价值": {"action": None}}}, "must be a text"),
    ({"rfm_actions": {"重要价值": {"offer": "a"}, "important value": {"offer": "b"}}}, "twice"),
])
def test_rfm_actions_config_refused(raw, match):
    with pytest.raises(ConfigError, match=match):
        parse_config(raw)


def test_rfm_actions_from_dataset_yml(tmp_path):
    folder = investors_dataset(tmp_path / "cfg", {"X": [("2025-03-01 10:00:00", 5.0)]},
                               config={"rfm_actions": {"一般挽留": {"offer": "不发券"}}})
    ds = open_dataset(folder)
    table = R.segment_table(R.segments(ds), ds.config.rfm_actions).set_index("segment")
    assert table.loc["一般挽留", "offer"] == "不发券"


# ------------------------------------------------------------------------- demo truth


@pytest.fixture(scope="module")
def demo():
    ds = open_dataset(DEMO_DATA)
    seg = R.segments(ds)
    members = seg.select("user_id", "segment").execute()   # 4k demo investors: fine in a test
    return ds, seg, members


def test_demo_segments_partition_the_investors(demo):
    ds, seg, members = demo
    from growthloop.marts.wide import investments

    inv = investments(ds)
    investors = set(inv.select("user_id").distinct().execute().user_id)
    assert len(members) == members.user_id.nunique() == len(investors)
    assert set(members.user_id) == investors
    table = R.segment_table(seg)
    assert int(table.users.sum()) == len(investors)
    assert table.user_share.sum() == pytest.approx(1.0)
    assert table.amount_share.sum() == pytest.approx(1.0)
    assert int(R.group_table(seg).users.sum()) == len(investors)


def test_demo_true_high_value_recent_land_in_important_value(demo):
    _, _, members = demo
    truth = json.loads((DEMO_DATA / "truth.json").read_text(encoding="utf-8"))
    users = pd.read_parquet(DEMO_DATA / "truth_users.parquet")
    end = pd.Timestamp(truth["analysis_date"]) + pd.Timedelta(days=1)
    m = members.merge(users, on="user_id", how="left")
    # the generator's whales still alive (not churned) at the end of the analysis date
    whale_alive = (m.value_type == "whale") & (m.churn_at >= end)
    in_iv = m.segment == "重要价值"
    base = in_iv.mean()
    assert whale_alive.sum() >= 30
    share = in_iv[whale_alive].mean()
    assert share >= 0.45 and share >= 3 * base           # demo: 60% against a base of 12%
    # bonus hunters (one small investment, gone) never reach 重要价值
    assert in_iv[m.value_type == "bonus_hunter"].mean() == 0.0
    # churned users mostly sit in the low-R segments
    churned = m.churn_at < end - pd.Timedelta(days=90)
    assert m[churned].segment.isin(["重要保持", "重要挽留", "一般保持", "一般挽留"]).mean() > 0.9


def test_demo_migration_counts(demo):
    ds, seg, _ = demo
    moves = R.migration(ds, previous=90)
    assert int(moves.users.sum()) == int(seg.count().execute())
    prev = dt.date.fromisoformat(moves.attrs["previous_date"])
    earlier = int(R.segments(ds, as_of=prev).count().execute())
    assert int(moves[moves.from_segment != R.NEW_INVESTOR[0]].users.sum()) == earlier


# ------------------------------------------------------------------------- summaries


def test_distribution_summary_and_heatmap_by_hand(hand):
    ds = open_dataset(hand)
    seg = R.segments(ds, period_days=30)
    # values: A (R 0, F 2, M 150), B (R 1, F 1, M 200), C (R 90, F 0, M 0); n = 3
    # R scores: worse than A = 2 -> 1 + 5*2//3 = 4; B: 1 -> 1 + 5//3 = 2; C: 0 -> 1
    # F scores: A 1 + 5*2//3 = 4, B 1 + 5*1//3 = 2, C 1;  M: B 4, A 2, C 1
    got = seg.order_by("user_id").execute()
    assert got.r_score.tolist() == [4, 2, 1]
    assert got.f_score.tolist() == [4, 2, 1]
    assert got.m_score.tolist() == [2, 4, 1]
    d = R.distribution_summary(seg, recent_days=30)
    assert d["investors"] == 3
    assert d["recent_share"] == pytest.approx(2 / 3)   # A and B within 30 days
    assert d["once_share"] == pytest.approx(2 / 3)     # B (F 1) and C (F 0)
    assert d["idle_share"] == pytest.approx(1 / 3)     # C invested before the period only
    assert d["median_recency"] == 1.0 and d["median_monetary"] == 150.0
    assert d["mean_monetary"] == pytest.approx(350 / 3)  # (150 + 200 + 0) / 3
    assert list(d) == ["investors", "recent_days", "recent_share", "once_share", "idle_share",
                       "median_recency", "median_monetary", "mean_monetary"]
    assert R.distribution_summary(seg, recent_days=2)["recent_share"] == pytest.approx(2 / 3)
    assert R.distribution_summary(seg, recent_days=1)["recent_share"] == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="recent_days"):
        R.distribution_summary(seg, recent_days=0)
    # 3 investors in 5 bands: no quantile scores (test_fewer_investors_than_bands); in 3 bands
    # R: A 1 + 3*2//3 = 3, B 2, C 1; F: A 3, B 2, C 1; M: B 3, A 2, C 1 -> one per cell
    seg3 = R.segments(ds, period_days=30, bins=3)
    heat = R.rf_heatmap(seg3, 3)
    assert len(heat) == 9 and heat.users.sum() == 3
    cell = heat.set_index(["r_score", "f_score"])
    assert cell.loc[(3, 3), "users"] == 1 and cell.loc[(3, 3), "mean_monetary"] == 150.0
    assert cell.loc[(3, 1), "users"] == 0 and np.isnan(cell.loc[(3, 1), "mean_monetary"])
    hs = R.heatmap_summary(heat)
    assert (hs["top_r"], hs["top_f"], hs["top_m"]) == (2, 2, 200.0)
    assert (hs["big_r"], hs["big_f"], hs["big_users"]) == (3, 3, 1)  # ties: highest R, then F
    assert (hs["low_f"], hs["low_f_m"], hs["high_f"], hs["high_f_m"]) == (1, 0.0, 3, 150.0)
    assert (hs["low_f_users"], hs["high_f_users"]) == (1, 1)


def test_migration_summary_by_hand():
    labels = [s.label for s in R.SEGMENTS]
    rows = []
    for f in labels + [R.NEW_INVESTOR[0]]:
        for t in labels:
            rows.append({"from_segment": f, "to_segment": t, "users": 0})
    moves = pd.DataFrame(rows)

    def put(f, t, n):
        moves.loc[(moves.from_segment == f) & (moves.to_segment == t), "users"] = n

    put("重要价值", "重要价值", 6)
    put("重要价值", "重要挽留", 3)   # slipped (R low), stays 重要
    put("重要价值", "一般价值", 1)   # downgraded
    put("一般发展", "重要发展", 2)   # upgraded
    put("一般挽留", "一般挽留", 8)
    put("新投资人", "重要发展", 4)
    put("新投资人", "一般发展", 5)
    moves["stayed"] = moves.from_segment == moves.to_segment
    moves.attrs.update(previous_date="2025-01-01", previous_days=90)
    got = R.migration_summary(moves)
    # earlier investors 6+3+1+2+8 = 20, 14 stayed
    assert got == {"previous_date": "2025-01-01", "previous_days": 90, "iv_before": 10,
                   "iv_stay_share": 0.6, "iv_slipped": 3, "new_investors": 9,
                   "new_to_important": 4, "upgraded": 2, "downgraded": 1,
                   "investors_before": 20, "stayed_share": 0.7}


def test_params_summary_words_the_parameters():
    assert R.params_summary() == {"period": "近 365 天", "monetary": "投资金额", "split": "均值",
                                  "bins": 5}
    got = R.params_summary(None, "revenue", "score", 4, 6)
    assert got == {"period": "全部历史", "monetary": "收入", "split": "得分 ≥ 4", "bins": 6}
    assert R.params_summary(split="median")["split"] == "中位数"
    # no threshold given: the one the score split uses, the middle score of 5 bins (3), never None
    assert R.params_summary(split="score")["split"] == "得分 ≥ 3"
    with pytest.raises(ValueError, match="split"):
        R.params_summary(split="mode")


def test_materialized_equals_expression(hand):
    ds = open_dataset(hand)
    cols = ["user_id", "recency_days", "frequency", "monetary", "r_score", "f_score", "m_score",
            "segment", "group"]
    a = R.segments(ds, period_days=30, split="median").order_by("user_id").execute()[cols]
    b = R.segments(ds, period_days=30, split="median", materialize=False).order_by("user_id").execute()[cols]
    pd.testing.assert_frame_equal(a, b)
    # cached per parameter set: the same table object comes back, another split gets its own
    assert R.segments(ds, period_days=30, split="median") is R.segments(ds, period_days=30, split="median")
    assert R.segments(ds, period_days=30, split="mean") is not R.segments(ds, period_days=30, split="median")

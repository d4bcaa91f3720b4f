"""User profiling: composition, layers, clusters and concentration on hand-built wide tables."""

from __future__ import annotations

import math
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest
from conftest import event, txn, user, write_dataset

from growthloop.errors import NotAvailable
from growthloop.marts.wide import user_wide
from growthloop.metrics import profiling as P
from growthloop.staging.loader import open_dataset


def wide_of(**cols) -> ibis.Table:
    return ibis.memtable(pd.DataFrame(cols))


# ---------------------------------------------------------------------------- composition


@pytest.fixture
def six() -> ibis.Table:
    return wide_of(
        user_id=["u1", "u2", "u3", "u4", "u5", "u6"],
        age_band=["18-24", "18-24", "25-34", "未知", "56+", "25-34"],
        gender=["男", "女", "女", None, "男", "女"],
        city_tier=["三线", "一线", "未知", "一线", "新一线", "三线"],
        is_investor=[True, False, True, True, False, False],
        aum=[100.0, 0.0, 300.0, 600.0, 0.0, 0.0],
    )


def test_composition_age_band_by_hand(six):
    got = P.composition(six, "age_band")
    assert list(got.columns) == ["age_band", "users", "investors", "aum", "user_share",
                                 "investor_share", "aum_share", "investor_rate",
                                 "aum_per_investor"]
    # natural order of contract.AGE_BANDS, bands without users absent, 未知 last
    assert got["age_band"].tolist() == ["18-24", "25-34", "56+", "未知"]
    assert got["users"].tolist() == [2, 2, 1, 1]
    assert got["investors"].tolist() == [1, 1, 0, 1]
    assert got["aum"].tolist() == [100.0, 300.0, 0.0, 600.0]
    # 6 users, 3 investors, 1000 yuan of AUM
    np.testing.assert_allclose(got["user_share"], [2 / 6, 2 / 6, 1 / 6, 1 / 6])
    np.testing.assert_allclose(got["investor_share"], [1 / 3, 1 / 3, 0, 1 / 3])
    np.testing.assert_allclose(got["aum_share"], [0.1, 0.3, 0.0, 0.6])
    np.testing.assert_allclose(got["investor_rate"], [0.5, 0.5, 0.0, 1.0])
    assert got["aum_per_investor"].tolist()[:2] == [100.0, 300.0]
    assert math.isnan(got["aum_per_investor"].iloc[2])  # no investors in 56+
    assert got["aum_per_investor"].iloc[3] == 600.0


def test_composition_orders(six):
    # city tier: 一线, 新一线, 二线, 三线, 四线及以下 then 未知
    assert P.composition(six, "city_tier")["city_tier"].tolist() == ["一线", "新一线", "三线",
                                                                      "未知"]
    # no natural order: users descending (女 3, 男 2), then the missing gender as 未知, last
    got = P.composition(six, "gender")
    assert got["gender"].tolist() == ["女", "男", "未知"]
    assert got["users"].tolist() == [3, 2, 1]
    assert got["aum"].tolist() == [300.0, 100.0, 600.0]


def test_composition_table_stacks_dimensions(six):
    got = P.composition_table(six, ["age_band", "gender"])
    assert list(got.columns) == list(P.COMPOSITION_COLUMNS)
    assert got.dimension.tolist() == ["age_band"] * 4 + ["gender"] * 3
    # each dimension's rows are composition() of it, its column renamed to value
    for d in ("age_band", "gender"):
        part = got[got.dimension == d].drop(columns="dimension").reset_index(drop=True)
        pd.testing.assert_frame_equal(part, P.composition(six, d).rename(columns={d: "value"}))
    with pytest.raises(ValueError, match="dimensions"):
        P.composition_table(six, [])


def test_band_shares_by_hand(six):
    table = P.composition_table(six, ["age_band"])
    # 18-24: 2 of 6 users, 100 of 1000 yuan; 25-34: 2 of 6, 300; 45-55: not in the data
    got = P.band_shares(table, "age_band", ["18-24", "25-34", "45-55"])
    assert list(got) == ["age_18_24_user_share", "age_18_24_aum_share", "age_25_34_user_share",
                         "age_25_34_aum_share", "age_45_55_user_share", "age_45_55_aum_share"]
    assert got["age_18_24_user_share"] == pytest.approx(1 / 3)
    assert got["age_18_24_aum_share"] == pytest.approx(0.1)
    assert got["age_25_34_aum_share"] == pytest.approx(0.3)
    assert math.isnan(got["age_45_55_user_share"])
    assert P.band_shares(table, "age_band", ["56+"], ["investor_rate"], prefix="x") == {
        "x_56+_investor_rate": 0.0}
    with pytest.raises(ValueError, match="measures"):
        P.band_shares(table, "age_band", ["18-24"], ["nope"])


def test_composition_on_a_duckdb_table(six):
    con = ibis.duckdb.connect()
    t = con.create_table("wide", ibis.memtable(six.execute()))
    pd.testing.assert_frame_equal(P.composition(t, "age_band"), P.composition(six, "age_band"))


# ---------------------------------------------------------------------------- layers


def test_layers_boundaries():
    values = [0.0, None, 9999.99, 10000.0, 50000.0, 199999.0, 1e6, 5e6]
    t = wide_of(user_id=[f"u{i}" for i in range(len(values))], aum=values)
    got = P.layers(t)
    assert got["layer"].tolist() == ["无资产", "1万以下", "1万-5万", "5万-20万", "20万-100万",
                                     "100万以上"]
    assert got["layer_en"].tolist() == ["no assets", "under 10k", "10k-50k", "50k-200k",
                                        "200k-1m", "1m+"]
    # 0 and missing -> none; 9999.99 under 1万; exactly 1万 goes up; exactly 5万 goes up;
    # nothing in 20万-100万; 1e6 and 5e6 at the top
    assert got["users"].tolist() == [2, 1, 1, 2, 0, 2]
    assert got["users"].sum() == len(values)
    assert got["user_share"].sum() == pytest.approx(1.0)
    assert got["metric_share"].sum() == pytest.approx(1.0)
    total = 9999.99 + 10000 + 50000 + 199999 + 1e6 + 5e6
    np.testing.assert_allclose(got["metric_sum"], [0, 9999.99, 10000, 249999, 0, 6e6])
    np.testing.assert_allclose(got["metric_share"], got["metric_sum"] / total)
    assert got["metric_mean"].iloc[3] == pytest.approx(249999 / 2)
    assert math.isnan(got["metric_mean"].iloc[4])
    assert got["lower"].tolist()[1:] == [0.0, 1e4, 5e4, 2e5, 1e6]
    assert got["upper"].tolist()[1:] == [1e4, 5e4, 2e5, 1e6, math.inf]


def test_layer_summary_by_hand():
    # 8 users: 2 with nothing (0 and missing), 2 from 20万 on (1e6 and 5e6, of 6,319,998.99)
    values = [0.0, None, 9999.99, 10000.0, 50000.0, 199999.0, 1e6, 5e6]
    t = wide_of(user_id=[f"u{i}" for i in range(len(values))], aum=values)
    got = P.layer_summary(P.layers(t))
    total = 9999.99 + 10000 + 50000 + 199999 + 1e6 + 5e6
    # the top tiers are the two highest of the bounds given: from 20万 with the default bounds
    assert got == {"metric_label": "资产", "top_from": 200_000.0, "top_label": "20万及以上",
                   "top_layers_users": 2, "top_layers_user_share": 2 / 8,
                   "top_layers_aum_share": pytest.approx(6e6 / total), "bottom_label": "无资产",
                   "no_asset_users": 2, "no_asset_share": 2 / 8}
    # a lower cut takes in the 5万-20万 tier too
    assert P.layer_summary(P.layers(t), top_from=50_000)["top_layers_user_share"] == 4 / 8
    # other bounds: the top tiers follow them (from 5万 with bounds 0, 1万, 5万), not 20万
    got = P.layer_summary(P.layers(t, bounds=[0, 10_000, 50_000]))
    assert got["top_label"] == "1万及以上" and got["top_layers_users"] == 5  # 1万 .. 5e6
    # one bound: the only tier above the bottom is the top; the bottom tier is never counted
    got = P.layer_summary(P.layers(t, bounds=[0]))
    assert got["top_from"] == 0.0 and got["top_layers_users"] == 6 and got["no_asset_users"] == 2
    # another metric names its own tiers
    n = wide_of(user_id=["a", "b", "c"], invest_count=[0, 2, 7])
    got = P.layer_summary(P.layers(n, "invest_count", bounds=[0, 1, 5]))
    assert got["metric_label"] == "投资次数" and got["bottom_label"] == "未投资"
    assert got["top_label"] == "1及以上" and got["top_layers_users"] == 2


def test_layer_expr_matches_layers_and_custom_bounds():
    rng = np.random.default_rng(3)
    aum = np.round(rng.lognormal(9, 2, 500), 2)
    aum[:50] = 0.0
    t = wide_of(user_id=[f"u{i:03d}" for i in range(500)], aum=aum)
    labelled = t.mutate(layer=P.layer_expr(t)).execute()
    # an independent labelling with pandas.cut on the same left-closed tiers
    cuts = pd.cut(aum, [0, 1e4, 5e4, 2e5, 1e6, np.inf], right=False,
                  labels=["1万以下", "1万-5万", "5万-20万", "20万-100万", "100万以上"])
    expected = pd.Series(cuts.astype(str), index=labelled.index)
    expected[aum <= 0] = "无资产"
    assert (labelled.sort_values("user_id")["layer"].to_numpy()
            == expected.to_numpy()).all()
    counts = P.layers(t).set_index("layer")["users"]
    assert counts.to_dict() == {k: int(v) for k, v in expected.value_counts().items()
                                } | {k: 0 for k in counts.index if k not in set(expected)}

    got = P.layers(t.mutate(n=(t.aum / 1000).cast("int64")), "n", bounds=[0, 5, 20])
    assert got["layer"].tolist() == ["0及以下", "5以下", "5-20", "20以上"]
    assert got["users"].sum() == 500
    with pytest.raises(ValueError, match="increasing"):
        P.layers(t, bounds=[0, 5, 5])


# ---------------------------------------------------------------------------- concentration


def gini_reference(x: np.ndarray) -> float:
    """Mean-absolute-difference definition: Σ_i Σ_j |x_i − x_j| / (2 n² mean)."""
    x = np.asarray(x, dtype=float)
    return float(np.abs(x[:, None] - x[None, :]).sum() / (2 * len(x) ** 2 * x.mean()))


def money(values) -> ibis.Table:
    return wide_of(user_id=[f"u{i:04d}" for i in range(len(values))],
                   aum=np.asarray(values, dtype=float))


def test_gini_by_hand():
    assert P.gini(money([1, 1, 1, 1])) == pytest.approx(0.0)
    # G = 2·(4·10)/(4·10) − 5/4 = 0.75
    assert P.gini(money([0, 0, 0, 10]), investors_only=False) == pytest.approx(0.75)
    # over holders only there is one user holding everything: 2·10/10 − 2/1 = 0
    assert P.gini(money([0, 0, 0, 10])) == pytest.approx(0.0)
    # [1, 2, 3]: 2·(1+4+9)/(3·6) − 4/3 = 28/18 − 24/18 = 2/9
    assert P.gini(money([3, 1, 2])) == pytest.approx(2 / 9)
    g = P.gini(money([1, 2]))
    assert type(g) is float
    assert math.isnan(P.gini(money([0, 0])))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gini_against_numpy(seed):
    rng = np.random.default_rng(seed)
    x = np.round(rng.lognormal(8, 1.5, 400), 2)
    x[rng.random(400) < 0.3] = 0.0
    x[:5] = x[5]  # ties
    assert P.gini(money(x), investors_only=False) == pytest.approx(gini_reference(x), rel=1e-9)
    assert P.gini(money(x)) == pytest.approx(gini_reference(x[x > 0]), rel=1e-9)


def test_top_share_by_hand():
    t = money(range(1, 11))  # 1..10, sum 55
    assert P.top_share(t) == pytest.approx((10 + 9) / 55)  # ceil(0.2·10) = 2 users
    assert P.top_share(t, top=0.25) == pytest.approx((10 + 9 + 8) / 55)  # ceil(2.5) = 3
    assert P.top_share(t, top=1.0) == pytest.approx(1.0)
    assert P.top_share(money([5] * 5)) == pytest.approx(0.2)  # ties: one of five users
    # 0.1 · 30 is 3.0000000000000004 in floating point: still 3 users, not 4
    assert P.top_share(money([1] * 30), top=0.1) == pytest.approx(0.1)
    # holders only by default: the zeros do not count in n
    assert P.top_share(money([0, 0, 0, 0, 0, 4, 1, 1, 1, 1]), top=0.2) == pytest.approx(0.5)
    assert P.top_share(money([0, 0, 0, 0, 0, 4, 1, 1, 1, 1]), top=0.2,
                       investors_only=False) == pytest.approx(5 / 8)
    assert type(P.top_share(t)) is float


def test_lorenz_curve():
    t = money(range(1, 11))
    got = P.lorenz_curve(t, points=10)
    assert got.iloc[0].tolist() == [0.0, 0.0]
    assert got.iloc[-1].tolist() == [1.0, 1.0]
    np.testing.assert_allclose(got["population_share"], np.arange(11) / 10)
    np.testing.assert_allclose(got["value_share"], np.r_[0, np.cumsum(np.arange(1, 11))] / 55)
    # 4 points over 10 users: ntile groups of 3, 3, 2, 2 users
    got = P.lorenz_curve(t, points=4)
    np.testing.assert_allclose(got["population_share"], [0, 0.3, 0.6, 0.8, 1.0])
    np.testing.assert_allclose(got["value_share"], [0, 6 / 55, 21 / 55, 36 / 55, 1.0])

    rng = np.random.default_rng(5)
    x = rng.lognormal(8, 2, 1000)
    x[:300] = 0
    for only in (True, False):
        got = P.lorenz_curve(money(x), investors_only=only)
        assert len(got) == 101
        assert got.iloc[0].tolist() == [0.0, 0.0] and got.iloc[-1].tolist() == [1.0, 1.0]
        assert got["population_share"].is_monotonic_increasing
        assert got["value_share"].is_monotonic_increasing
        assert (got["value_share"] <= got["population_share"] + 1e-12).all()
    # the area under the curve agrees with the Gini coefficient (trapezoid, 100 points)
    area = np.trapezoid(got["value_share"], got["population_share"])
    assert 1 - 2 * area == pytest.approx(P.gini(money(x), investors_only=False), abs=0.01)


def test_headline_plain_python():
    t = wide_of(user_id=["a", "b", "c", "d", "e"], is_investor=[True, True, True, False, False],
                aum=[100.0, 300.0, 600.0, 0.0, 0.0])
    h = P.headline(t)
    assert list(h) == ["users", "investors", "investor_rate", "aum_total", "aum_total_wan",
                       "aum_per_investor"]
    assert h["users"] == 5 and h["investors"] == 3
    assert h["investor_rate"] == pytest.approx(0.6)
    assert h["aum_total"] == 1000.0 and h["aum_total_wan"] == 0.1  # 1000 yuan = 0.1 万元
    assert h["aum_per_investor"] == pytest.approx(1000 / 3)
    assert type(h["users"]) is int and type(h["investors"]) is int
    assert all(type(h[k]) is float for k in h if k not in ("users", "investors"))
    # three holders are too few for a concentration measure (the top 20% would be a third)
    with pytest.raises(NotAvailable, match="至少 5 名资产"):
        P.concentration(t)
    t = wide_of(user_id=list("abcdef"), is_investor=[True] * 5 + [False],
                aum=[100.0, 300.0, 600.0, 400.0, 100.0, 0.0])
    c = P.concentration(t)
    assert c["top20_share"] == pytest.approx(0.4)  # ceil(0.2·5) = 1 holder of 600, of 1500
    # sorted 100, 100, 300, 400, 600: 2·(100 + 200 + 900 + 1600 + 3000)/(5·1500) − 6/5
    assert c["gini"] == pytest.approx(2 * 5800 / 7500 - 1.2)
    assert list(c) == ["gini", "top20_share", "holders"] and c["holders"] == 5
    assert type(c["holders"]) is int and all(type(c[k]) is float for k in ("gini", "top20_share"))


# ---------------------------------------------------------------------------- clusters

FEATURES = list(P.DEFAULT_CLUSTER_FEATURES)


def blobs(seed: int = 11, per: int = 80) -> pd.DataFrame:
    """Three well-separated groups of investors (on the log scale), plus non-investors."""
    rng = np.random.default_rng(seed)
    groups = [  # invest_count, invest_amount, aum, days_since_last_invest, tenure_days
        (60, 2e6, 8e5, 5, 800),     # whales: frequent, big, recent, old
        (2, 1e3, 50, 400, 500),      # small and dormant
        (8, 3e4, 2e4, 10, 60),       # new and active
    ]
    rows = []
    for g, (cnt, amt, aum, days, ten) in enumerate(groups):
        for _ in range(per):
            rows.append({
                "invest_count": max(1, round(cnt * np.exp(rng.normal(0, 0.1)))),
                "invest_amount": amt * np.exp(rng.normal(0, 0.1)),
                "aum": aum * np.exp(rng.normal(0, 0.1)),
                "days_since_last_invest": max(0, round(days + rng.normal(0, 5))),
                "tenure_days": max(1, round(ten + rng.normal(0, 10))),
                "group": g,
            })
    df = pd.DataFrame(rows)
    df["is_investor"] = True
    none = pd.DataFrame({"invest_count": 0, "invest_amount": 0.0, "aum": 0.0,
                         "days_since_last_invest": pd.NA, "tenure_days": 30, "group": -1,
                         "is_investor": False}, index=range(20))
    df = pd.concat([df, none], ignore_index=True)
    df["days_since_last_invest"] = df["days_since_last_invest"].astype("Int64")
    df["user_id"] = [f"u{i:04d}" for i in rng.permutation(len(df))]
    return df


@pytest.fixture(scope="module")
def blob_frame() -> pd.DataFrame:
    return blobs()


@pytest.fixture(scope="module")
def blob_result(blob_frame):
    return P.cluster_users(ibis.memtable(blob_frame), k_range=range(2, 7))


def standardise(df: pd.DataFrame, res: P.ClusterResult) -> np.ndarray:
    """The model's standardised points, worked out independently with numpy."""
    x = df[FEATURES].astype(float).copy()
    for f in FEATURES:
        if f in res.log_features:
            x[f] = np.log1p(x[f].clip(lower=0))
    return ((x - pd.Series(res.means)) / pd.Series(res.stds))[FEATURES].to_numpy()


def test_clusters_find_three_blobs(blob_frame, blob_result):
    res = blob_result
    assert res.k == 3
    assert res.scores["k"].tolist() == [2, 3, 4, 5, 6]
    assert res.scores.loc[res.scores["chosen"], "k"].tolist() == [3]
    assert res.scores["silhouette"].idxmax() == 1
    assert res.sample_size == 240  # every investor: fewer than sample_size

    # the standardisation is the sample's own mean and population sd on the log1p scale
    inv = blob_frame[blob_frame["is_investor"]]
    logged = np.log1p(inv["aum"])
    assert res.means["aum"] == pytest.approx(logged.mean())
    assert res.stds["aum"] == pytest.approx(logged.std(ddof=0))
    assert res.log_features == {"invest_count", "invest_amount", "aum"}

    # cluster 1 holds the most assets: the whales; every investor in one cluster
    prof = res.profile
    assert prof["cluster"].tolist() == [1, 2, 3]
    assert prof["users"].tolist() == [80, 80, 80]
    assert prof["user_share"].sum() == pytest.approx(1.0)
    assert prof["aum_share"].sum() == pytest.approx(1.0)
    assert prof["mean_aum"].is_monotonic_decreasing
    assert res.centroids["aum"].is_monotonic_decreasing
    assert res.centroids["aum"].iloc[0] == pytest.approx(8e5, rel=0.1)  # expm1 of the log mean
    # at most three words, the most distinctive first picked, in feature order
    assert res.description == {1: "高频 · 大额 · 老用户", 2: "近期活跃 · 新用户",
                               3: "小额 · 低资产 · 久未投资"}
    assert prof["description"].tolist() == [res.description[c] for c in (1, 2, 3)]

    # in-engine assignment recovers the blobs and equals sklearn's predict on the same points
    t = ibis.memtable(blob_frame)
    got = t.mutate(cluster=res.assign_expr(t)).order_by("user_id").execute()
    staged = res.assign(t).order_by("user_id").execute()
    pd.testing.assert_series_equal(staged["cluster"], got["cluster"])
    assert list(staged.columns) == list(blob_frame.columns) + ["cluster"]
    assert got.loc[~got["is_investor"], "cluster"].isna().all()
    inv = got[got["is_investor"]]
    pred = res.model.predict(standardise(inv, res))
    assert inv["cluster"].astype(int).tolist() == [res.relabel[int(p)] for p in pred]
    assert pd.crosstab(inv["group"], inv["cluster"]).gt(0).sum(axis=1).eq(1).all()
    whales = inv.loc[inv["group"] == 0, "cluster"].unique().tolist()
    assert whales == [1]


def test_cluster_summary(blob_result):
    got = P.cluster_summary(blob_result)
    first = blob_result.profile.iloc[0]  # cluster 1: the highest AUM centroid
    assert got == {"k": blob_result.k, "cluster1_desc": first.description,
                   "cluster1_user_share": float(first.user_share),
                   "cluster1_aum_share": float(first.aum_share),
                   "cluster_investors": 240, "cluster_distinct": 240,
                   "k_tried_min": 2, "k_tried_max": 6, "k_skipped": "", "cluster_min_size": 1,
                   "k_size_bound": False}
    assert type(got["k"]) is int and got["k"] == 3  # the three blobs


def test_clusters_deterministic_and_sampled(blob_frame, blob_result):
    # the same data in another row order gives the very same result
    shuffled = blob_frame.sample(frac=1, random_state=1).reset_index(drop=True)
    again = P.cluster_users(ibis.memtable(shuffled), k_range=range(2, 7))
    pd.testing.assert_frame_equal(again.scores, blob_result.scores)
    pd.testing.assert_frame_equal(again.centroids, blob_result.centroids)
    pd.testing.assert_frame_equal(again.profile, blob_result.profile)
    assert again.description == blob_result.description

    # a systematic sample: every ceil(240 / 100) = 3rd investor by user_id, 80 of them
    con = ibis.duckdb.connect()
    t = con.create_table("wide", ibis.memtable(blob_frame))
    one = P.cluster_users(t, k_range=[2, 3, 4], sample_size=100)
    two = P.cluster_users(t, k_range=[2, 3, 4], sample_size=100)
    assert one.sample_size == 80
    assert one.k == 3
    pd.testing.assert_frame_equal(one.profile, two.profile)
    pd.testing.assert_frame_equal(one.scores, two.scores)
    assert one.profile["users"].sum() == 240  # assigned over every investor, not the sample


def test_cluster_users_rejects_bad_input(blob_frame):
    t = ibis.memtable(blob_frame)
    with pytest.raises(ValueError, match="no column"):
        P.cluster_users(t, features=["aum", "nope"])
    # a bad range is a bad parameter
    with pytest.raises(ValueError, match="k_range"):
        P.cluster_users(t, k_range=[1, 2])
    with pytest.raises(ValueError, match="k_range"):
        P.cluster_users(t, k_range=range(5, 3))
    # too few investors is the data's shortfall: the section's note, not a crash
    tiny = ibis.memtable(blob_frame[blob_frame.is_investor].head(2))
    with pytest.raises(NotAvailable, match="至少 3 名投资人.*不同的投资行为不足 3 种，分不出两群"):
        P.cluster_users(tiny)
    with pytest.raises(NotAvailable, match="没有投资人"):
        P.cluster_users(ibis.memtable(blob_frame[~blob_frame.is_investor]))


# ---------------------------------------------------------------------------- what the data can support


def test_composition_summary_by_hand(six):
    table = P.composition_table(six, ["age_band", "gender", "city_tier"])
    got = P.composition_summary(table, min_users=1)
    # 1000 yuan: 一线 (u2, u4) is 2 of 6 users and 600 yuan: +26.7 points, the most over;
    # 18-24, 男 and 三线 are each 2 of 6 users with 100 yuan (-23.3 points): the tie goes to the
    # first dimension, age band
    assert got["basis"] == "aum" and got["groups"] == 8
    assert (got["over_dimension"], got["over_value"]) == ("城市等级", "一线")
    assert got["over_user_share"] == pytest.approx(1 / 3) and got["over_share"] == pytest.approx(0.6)
    assert (got["under_dimension"], got["under_value"]) == ("年龄段", "18-24")
    assert got["under_share"] == pytest.approx(0.1)
    assert got["known"] == "年龄段、性别、城市等级" and got["unknown"] == "" and got["unknown_columns"] == ""
    # one user of six is unknown in each dimension: the first is named
    assert got["most_unknown_dimension"] == "年龄段" and got["most_unknown_share"] == pytest.approx(1 / 6)
    # groups smaller than min_users are not named: with 3, only 女 (3 users, 300 yuan) is left,
    # below its share of users; with 4 nobody is compared
    got = P.composition_summary(table, min_users=3)
    assert got["groups"] == 1 and got["over_value"] == "无" and math.isnan(got["over_share"])
    assert got["under_value"] == "女" and got["under_share"] == pytest.approx(0.3)
    got = P.composition_summary(table, min_users=4)
    assert got["groups"] == 0 and got["over_value"] == got["under_value"] == "无"


def test_composition_summary_basis_follows_the_money(six):
    # nobody holds assets: the investors are compared instead (一线: 2 of 6 users, 1 of 3 investors
    # = 0; 三线: 1 of 3; 新一线 none ...)
    no_aum = six.mutate(aum=six.aum * 0)
    got = P.composition_summary(P.composition_table(no_aum, ["city_tier"]), min_users=1)
    assert got["basis"] == "investors"
    # 一线 1/3 of users, 1/3 of investors; 三线 1/3 and 1/3; 新一线 1/6 and 0
    assert got["under_value"] == "新一线" and got["over_value"] == "无"
    # nobody has invested: nothing to compare, but the dimensions are still described
    none = six.mutate(aum=six.aum * 0, is_investor=six.is_investor & False)
    got = P.composition_summary(P.composition_table(none, ["city_tier"]), min_users=1)
    assert got["basis"] == "" and got["groups"] == 0 and got["over_value"] == "无"


def test_unknown_dimensions_are_said_not_drawn():
    t = wide_of(user_id=["a", "b", "c"], age_band=["未知"] * 3, gender=[None, None, None],
                signup_channel=["百度", "未标记", "百度"], is_investor=[True, True, False],
                aum=[10.0, 20.0, 0.0])
    table = P.composition_table(t, ["age_band", "gender", "signup_channel"])
    assert P.known_dimensions(table) == (("signup_channel",), ("age_band", "gender"))
    assert P.panel_dimensions(table) == ("signup_channel",)
    got = P.composition_summary(table, min_users=1)
    assert got["known"] == "注册渠道" and got["unknown"] == "年龄段、性别"
    assert got["unknown_columns"] == "birth_year、gender"
    # 未标记 is not a group to name, but it is the unknown share of the channel
    assert got["over_value"] == "无" and got["under_value"] == "百度"  # 2/3 users, 1/3 money
    assert got["most_unknown_dimension"] == "注册渠道" and got["most_unknown_share"] == pytest.approx(1 / 3)
    # every dimension unknown: the section cannot be shown
    blank = P.composition_table(t, ["age_band", "gender"])
    with pytest.raises(NotAvailable, match="至少一个有值的用户属性（年龄段、性别）"):
        P.composition_summary(blank)
    assert P.panel_dimensions(blank) == ()
    with pytest.raises(ValueError, match="most"):
        P.panel_dimensions(blank, most=0)


def test_panels_prefer_the_usual_four():
    t = wide_of(user_id=["a", "b"], age_band=["18-24", "25-34"], gender=["男", "女"],
                region=["华东", "华南"], city_tier=["一线", "二线"], device_os=["iOS", "iOS"],
                signup_channel=["百度", "百度"], is_investor=[True, False], aum=[1.0, 0.0])
    table = P.composition_table(t)
    assert P.panel_dimensions(table) == ("age_band", "city_tier", "region", "device_os")
    # a preferred dimension the data lacks is replaced by the next one it has
    table = P.composition_table(t.mutate(region=ibis.literal(None, "string")))
    assert P.panel_dimensions(table) == ("age_band", "city_tier", "device_os", "gender")


def test_layers_need_someone_above_the_bottom_tier():
    t = wide_of(user_id=["a", "b"], aum=[0.0, None], invest_amount=[500.0, 0.0],
                gender=["男", "女"])
    with pytest.raises(NotAvailable, match="所有用户都在「无资产」层"):
        P.layers(t)
    # another metric the data does have works
    assert P.layers(t, "invest_amount", [0, 1000])["users"].tolist() == [1, 1, 0]
    with pytest.raises(ValueError, match="layer_metric.*'nope'"):
        P.layers(t, "nope")
    with pytest.raises(ValueError, match="not numeric"):
        P.layers(t, "gender")


def test_concentration_needs_holders():
    nobody = money([0, 0, 0])
    with pytest.raises(NotAvailable, match="没有人持有资产"):
        P.concentration(nobody)
    with pytest.raises(NotAvailable, match="没有人持有资产"):
        P.lorenz_curve(nobody)
    with pytest.raises(NotAvailable, match="没有人持有资产"):
        P.lorenz_curve(nobody, investors_only=False)
    seven = money([0, 1, 2, 3, 4, 5, 6, 7])
    assert P.concentration(seven)["holders"] == 7
    # a chapter's min_cell_size raises the floor; below MIN_HOLDERS it does not lower it
    with pytest.raises(NotAvailable, match="持有资产的用户不足 10 人"):
        P.concentration(seven, min_holders=10)
    with pytest.raises(NotAvailable, match="不足 5 人"):
        P.concentration(money([0, 1, 2, 3]), min_holders=1)


def test_clusters_try_only_the_k_the_data_supports():
    # six investors in two tight pairs and two loners: six distinct points, so k up to 5;
    # asked 3..8, k 6, 7 and 8 are skipped and said
    rows = [(1, 100.0, 100.0, 10, 30), (1, 110.0, 100.0, 11, 31), (9, 9e4, 8e4, 1, 400),
            (10, 1e5, 9e4, 2, 410), (3, 5e3, 0.0, 200, 300), (2, 2e3, 1e3, 90, 100)]
    df = pd.DataFrame(rows, columns=FEATURES).assign(
        user_id=[f"u{i}" for i in range(6)], is_investor=True)
    res = P.cluster_users(ibis.memtable(df), k_range=range(3, 9))
    assert res.k_skipped == (6, 7, 8) and res.distinct == 6
    assert res.scores["k"].tolist() == [3, 4, 5]
    got = P.cluster_summary(res)
    assert got["k_skipped"] == "6–8" and got["k_tried_max"] == 5 and got["cluster_investors"] == 6
    # the same investors twice over are still six distinct behaviours
    twice = pd.concat([df, df.assign(user_id=df.user_id + "b")], ignore_index=True)
    assert P.cluster_users(ibis.memtable(twice), k_range=range(3, 9)).k_skipped == (7, 8)
    assert not got["k_size_bound"] and got["cluster_min_size"] == 1
    # asked for at least 6 groups: nothing the data supports
    with pytest.raises(NotAvailable, match="不同的投资行为不足 7 种，最多只能分成 5 群"):
        P.cluster_users(ibis.memtable(df), k_range=range(6, 9))
    # groups of at least 2 on average: 12 investors allow 6 groups, 7 and 8 are skipped
    res = P.cluster_users(ibis.memtable(twice), k_range=range(3, 9), min_size=2)
    assert res.k_skipped == (7, 8) and not res.size_bound  # 6 distinct bound it first
    # at least 3 on average: 12 // 3 = 4 groups at most, the size is what binds
    res = P.cluster_users(ibis.memtable(twice), k_range=range(3, 9), min_size=3)
    assert res.k_skipped == (5, 6, 7, 8) and res.size_bound and res.investors == 12
    assert P.cluster_summary(res)["k_size_bound"] is True
    assert P._runs([7, 8]) == "7、8" and P._runs([3, 5, 6, 7, 9]) == "3、5–7、9" and P._runs([]) == ""
    # at least 5 on average: 2 groups at most, fewer than the 3 asked for
    with pytest.raises(NotAvailable, match="投资人不足 15 人，每群平均不少于 5 人时最多只能分成 2 群"):
        P.cluster_users(ibis.memtable(twice), k_range=range(3, 9), min_size=5)
    with pytest.raises(ValueError, match="min_size"):
        P.cluster_users(ibis.memtable(twice), min_size=0)


def test_headline_without_users():
    empty = ibis.memtable(pd.DataFrame({"user_id": pd.Series([], dtype=str),
                                        "is_investor": pd.Series([], dtype=bool),
                                        "aum": pd.Series([], dtype=float)}))
    with pytest.raises(NotAvailable, match="没有注册用户"):
        P.headline(empty)


# ---------------------------------------------------------------------------- data shapes, loaded

DEMOGRAPHICS = ("birth_year", "gender", "province", "city", "city_tier", "device_os")


def test_headline_and_signup_span_by_hand(tiny):
    ds = open_dataset(tiny)
    w = user_wide(ds)
    # analysis day 2025-03-31: T1 (30 days from 01-02) and T3 (活期, held 30 days from 01-06)
    # have matured, T2 (90 days from 02-10) is held: U1 holds 3000 yuan; U1 and U2 invested
    h = P.headline(w)
    assert (h["users"], h["investors"], h["aum_total"]) == (3, 2, 3000.0)
    assert h["aum_per_investor"] == 1500.0
    # sign-ups 01-01, 01-05, 02-01; 02-01 to 03-31 is 28 + 30 days
    assert P.signup_span(w) == {"first_signup": "2025-01-01", "last_signup": "2025-02-01",
                                "days_since_last_signup": 58}


def demographics_blank(folder: Path, absent: bool = False) -> Path:
    """Twelve users without any demographic value (blank, or the columns absent from the file),
    signed up through two channels; four invest and hold."""
    users = [user(f"U{i:02d}", "2025-01-01 10:00:00", utm_source="baidu" if i % 2 else "toutiao",
                  **{c: None for c in DEMOGRAPHICS}) for i in range(12)]
    events = [event("register", "2025-01-01 10:00:00", f"U{i:02d}", f"A{i}") for i in range(12)]
    txns = [txn(f"T{i}", f"U{i:02d}", "2025-03-01 10:00:00", 1000.0 * (i + 1), 90) for i in range(4)]
    path = write_dataset(folder, users=users, events=events, transactions=txns,
                         config={"name": "blank", "analysis_date": "2025-03-31"})
    if absent:
        frame = pd.read_parquet(path / "users.parquet").drop(columns=list(DEMOGRAPHICS))
        frame.to_parquet(path / "users.parquet", index=False)
    return path


@pytest.mark.parametrize("absent", [False, True])
def test_blank_or_absent_demographics(tmp_path: Path, absent: bool):
    ds = open_dataset(demographics_blank(tmp_path / "d", absent))
    table = P.composition_table(user_wide(ds))
    # one row, 未知, per blank dimension: no KeyError for an age band the data does not have
    assert table[table.dimension == "age_band"]["value"].tolist() == ["未知"]
    assert P.known_dimensions(table)[0] == ("signup_channel",)
    assert P.panel_dimensions(table) == ("signup_channel",)
    got = P.composition_summary(table, min_users=1)
    assert got["unknown"] == "年龄段、性别、地区、城市等级、设备"
    # baidu: U01, U03 (2000 + 4000 yuan) of 10,000: 50% of users, 60% of the money
    # (the default channel map: baidu is 百度搜索, toutiao 信息流广告)
    assert (got["over_value"], got["under_value"]) == ("百度搜索", "信息流广告")
    assert got["over_share"] == pytest.approx(0.6) and got["under_share"] == pytest.approx(0.4)


def test_one_user_with_a_blank_birth_year(tmp_path: Path):
    path = write_dataset(tmp_path / "one", users=[user("U1", birth_year=None)],
                         events=[event("register", "2025-01-01 10:00:00", "U1", "A1")],
                         transactions=[txn("T1", "U1", "2025-03-01 10:00:00", 1000.0, 90)],
                         config={"name": "one", "analysis_date": "2025-03-31"})
    w = user_wide(open_dataset(path))
    assert P.headline(w)["users"] == 1
    table = P.composition_table(w)
    assert table[table.dimension == "age_band"]["value"].tolist() == ["未知"]
    got = P.composition_summary(table, min_users=10)  # one person is never named
    assert got["groups"] == 0 and got["over_value"] == got["under_value"] == "无"
    tiers = P.layer_summary(P.layers(w))
    assert tiers["top_layers_users"] == 0 and tiers["no_asset_users"] == 0
    with pytest.raises(NotAvailable, match="至少 4 名投资人"):
        P.cluster_users(w, k_range=range(3, 9))
    with pytest.raises(NotAvailable, match="不足 5 人"):
        P.concentration(w)


def test_everything_matured(tiny):
    # a year on, every investment has matured: investors, but nobody holds assets
    cfg = tiny / "dataset.yml"
    cfg.write_text(cfg.read_text().replace("2025-03-31", "2026-03-31"), encoding="utf-8")
    w = user_wide(open_dataset(tiny))
    h = P.headline(w)
    assert h["investors"] == 2 and h["aum_total"] == 0.0
    assert P.signup_span(w)["days_since_last_signup"] == 365 + 58
    assert P.composition_summary(P.composition_table(w), min_users=1)["basis"] == "investors"
    with pytest.raises(NotAvailable, match="「无资产」层"):
        P.layers(w)
    with pytest.raises(NotAvailable, match="没有人持有资产"):
        P.concentration(w)
    # the same data can still be layered on what was invested: U3 nothing, U2 500, U1 4000
    assert P.layers(w, "invest_amount", [0, 1000])["users"].tolist() == [1, 1, 1]


def test_layer_bounds_that_are_not_numbers_name_the_parameter():
    t = wide_of(user_id=["a"], aum=[5.0])
    for bad in ("[0, 5000]", [0, "x"], None):
        with pytest.raises(ValueError, match="layer bounds must be a list of numbers"):
            P.layers(t, bounds=bad)


@pytest.mark.slow
def test_the_chapter_builds_on_data_it_cannot_fully_support(tmp_path: Path):
    """The whole chapter on a dataset of one user without a birth year whose only investment has
    matured: it builds, the overview and composition are shown, and layers, clusters and
    concentration show the book's note instead."""
    import json

    import papermill

    from growthloop import PROJECT_ROOT

    data = write_dataset(tmp_path / "one", users=[user("U1", birth_year=None)],
                         events=[event("register", "2025-01-01 10:00:00", "U1", "A1")],
                         transactions=[txn("T1", "U1", "2025-01-02 10:00:00", 1000.0, 30)],
                         config={"name": "one", "analysis_date": "2025-03-31"})
    out = tmp_path / "out.ipynb"
    papermill.execute_notebook(str(PROJECT_ROOT / "chapters" / "01_user_profiling.ipynb"), str(out),
                               parameters={"data": str(data), "out_dir": str(tmp_path)},
                               kernel_name="python3", progress_bar=False)
    html = [o["data"].get("text/html", "") for c in json.loads(out.read_text())["cells"]
            for o in c.get("outputs", []) if "data" in o]
    html = ["".join(h) if isinstance(h, list) else h for h in html]
    notes = [h for h in html if "gl-unavailable" in h]
    findings = [h for h in html if "gl-finding" in h]
    assert len(notes) == 3 and len(findings) == 3
    assert "「无资产」层" in notes[0] and "不同的投资行为" in notes[1] and "没有人持有资产" in notes[2]
    assert "共有 &lt;10 名注册用户" in findings[0] and "年龄段都是空的" in findings[2]
    # 环比/同比: March 2025 is covered (the data starts on 1 January) and had no sign-up, nor had
    # February: no 环比 (a 0 to divide by), no 同比 (no data a year back), and the action says so
    # instead of calling the changes small
    assert "2025 年 3 月新注册 0 人，上月（2025-02）为 0，无法计算环比" in findings[1]
    assert "无同比" in findings[1] and "没有可比的上期" in findings[1] and "以内" not in findings[1]

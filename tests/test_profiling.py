"""User profiling: composition, layers, clusters and concentration on hand-built wide tables."""

from __future__ import annotations

import math

import ibis
import numpy as np
import pandas as pd
import pytest

from growthloop.metrics import profiling as P


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
    assert got == pytest.approx({"top_layers_user_share": 2 / 8,
                                 "top_layers_aum_share": 6e6 / total,
                                 "no_asset_share": 2 / 8})
    # a lower cut takes in the 5万-20万 tier too
    assert P.layer_summary(P.layers(t), top_from=50_000)["top_layers_user_share"] == 4 / 8


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
    c = P.concentration(t)
    assert c["top20_share"] == pytest.approx(0.6)  # ceil(0.2·3) = 1 holder of 600
    # 2·(1·100 + 2·300 + 3·600)/(3·1000) − 4/3 = 5000/3000 − 4/3 = 1/3
    assert c["gini"] == pytest.approx(1 / 3)
    assert list(c) == ["gini", "top20_share"] and all(type(v) is float for v in c.values())


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
                   "cluster1_aum_share": float(first.aum_share)}
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
    tiny = ibis.memtable(blob_frame.head(2))
    with pytest.raises(ValueError, match="at least 3 investors"):
        P.cluster_users(tiny)

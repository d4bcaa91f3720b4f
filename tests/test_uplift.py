"""The two-model uplift model (growthloop.metrics.uplift): the weighted-cell fit against a
per-member fit, the Qini curve and uplift@k by hand, the MD5 folds against Python's hashlib, and
the model on the demo campaign."""

from __future__ import annotations

import hashlib
import math

import ibis
import pandas as pd
import pytest

from growthloop import DEMO_DATA
from growthloop.metrics import campaign_review as cr
from growthloop.metrics import uplift as up
from growthloop.staging.loader import open_dataset


@pytest.fixture(scope="module")
def demo():
    return open_dataset(DEMO_DATA)


# --------------------------------------------------------------------------------------------
# the uplift model and its Qini curve


def test_weighted_cells_fit_like_members():
    # the model is fitted on counted cells; the same logistic regression on the members one by
    # one (an independent per-user fit) must give the same probabilities
    from sklearn.linear_model import LogisticRegression

    cells = pd.DataFrame({
        "fold": 0, "age_band": ["18-24", "18-24", "45-55", "45-55", "25-34", "25-34"],
        "group": "treatment", "responded": [1, 0, 1, 0, 1, 0], "n": [3, 17, 9, 11, 5, 15]})
    test = cells.drop_duplicates("age_band")[["age_band"]]
    got = up._fit_predict(cells, test, ["age_band"], "treatment")
    users = cells.loc[cells.index.repeat(cells.n)]
    x = pd.get_dummies(users[["age_band"]], dtype=float)
    ref = LogisticRegression(C=1.0, max_iter=1000).fit(x.to_numpy(), users.responded.to_numpy())
    want = ref.predict_proba(pd.get_dummies(test, dtype=float)[x.columns].to_numpy())[:, 1]
    assert got.to_numpy() == pytest.approx(want, abs=1e-4)


def test_qini_by_hand():
    # cell A (predicted 0.3): treatment 5/10, holdout 1/10; cell B (0.1): 2/10 and 2/10.
    # Qini after A: 5 - 1 x 10/10 = 4; after B: 7 - 3 x 20/20 = 4; shares 0.5 and 1.
    # random line 0, 2, 4 -> gains 0, 2, 0 -> trapezoids 0.5 x (0 + 2) / 2 + 0.5 x (2 + 0) / 2
    # = 1 -> 1 / 4 = 0.25 of the final value
    pred = pd.DataFrame({"fold": [0, 0], "cell": ["A", "B"], "predicted": [0.3, 0.1],
                         "users_t": [10, 10], "responders_t": [5, 2],
                         "users_c": [10, 10], "responders_c": [1, 2]})
    curve = up.qini_curve(pred)
    assert curve.share_targeted.tolist() == [0.0, 0.5, 1.0]
    assert curve.qini.tolist() == pytest.approx([0.0, 4.0, 4.0])
    assert curve.random.tolist() == pytest.approx([0.0, 2.0, 4.0])
    assert up.qini_area(curve) == pytest.approx(0.25)
    at = up.uplift_at_k(pred, [0.5, 1.0]).set_index("k")
    assert at.uplift[0.5] == pytest.approx(0.5 - 0.1)  # cell A only
    assert at.uplift[1.0] == pytest.approx(7 / 20 - 3 / 20)
    with pytest.raises(ValueError, match="ks"):
        up.uplift_at_k(pred, [0.0])


def test_folds_are_md5_of_the_user_id():
    # the first 28 bits of md5('<user_id>:<seed>') modulo folds, as any engine computes it
    ids = ["U0000001", "U0000002", "张三", "x" * 40, "a:7", ""]
    t = ibis.memtable({"user_id": ids}, schema={"user_id": "string"})
    got = ibis.duckdb.connect().to_pandas(
        t.select("user_id", f3=up.fold_of(t.user_id, 3, 7), f2=up.fold_of(t.user_id, 2, 11)))
    for uid, f3, f2 in zip(got.user_id, got.f3, got.f2, strict=True):
        for folds, seed, fold in ((3, 7, f3), (2, 11, f2)):
            digest = hashlib.md5(f"{uid}:{seed}".encode()).hexdigest()
            assert fold == int(digest[:7], 16) % folds, (uid, folds, seed)


def test_demo_uplift_model(demo):
    ds = demo
    c = cr.campaign(ds, "C2026_01")
    cells = up.model_cells(ds, c)
    assert int(cells.n.sum()) == c.members
    assert sorted(cells.fold.unique()) == [0, 1]
    pred = up.predicted_uplift(cells)
    assert int(pred.users_t.sum()) == c.treatment and int(pred.users_c.sum()) == c.control
    curve = up.qini_curve(pred)
    assert curve.share_targeted.iloc[-1] == pytest.approx(1.0)
    assert math.isfinite(up.qini_area(curve))
    # the same seed gives the same folds
    assert up.model_cells(ds, c).equals(cells)
    with pytest.raises(ValueError, match="features"):
        up.model_cells(ds, c, ["shoe_size"])


def test_model_summary_by_hand():
    # the cells of test_qini_by_hand: Qini area 0.25 of the final value; at k = 0.5 cell A
    # alone (10 + 10 of 40 members), uplift 5/10 - 1/10 = 0.4; k = 0.2 is not among the ks
    pred = pd.DataFrame({"fold": [0, 0], "cell": ["A", "B"], "predicted": [0.3, 0.1],
                         "users_t": [10, 10], "responders_t": [5, 2],
                         "users_c": [10, 10], "responders_c": [1, 2]})
    model = up.UpliftModel(cells=pd.DataFrame(), predicted=pred, qini=up.qini_curve(pred),
                           at_k=up.uplift_at_k(pred, [0.5, 1.0]))
    s = up.model_summary(model, 0.1, k=0.5)
    assert s == {"qini": pytest.approx(0.25), "uplift_at_50": pytest.approx(0.4), "uplift_all": 0.1}
    default = up.model_summary(model, 0.1)
    assert list(default) == ["qini", "uplift_at_20", "uplift_all"]
    assert math.isnan(default["uplift_at_20"])


def test_uplift_model_is_its_parts(demo):
    # one call against the four steps taken one by one (each tested above)
    c = cr.campaign(demo, "C2026_01")
    model = up.uplift_model(demo, c, folds=2, seed=7)
    cells = up.model_cells(demo, c, folds=2, seed=7)
    pred = up.predicted_uplift(cells)
    assert model.cells.equals(cells)
    pd.testing.assert_frame_equal(model.predicted, pred)
    pd.testing.assert_frame_equal(model.qini, up.qini_curve(pred))
    pd.testing.assert_frame_equal(model.at_k, up.uplift_at_k(pred))
    assert model.at_k.k.tolist() == list(up.QINI_K)

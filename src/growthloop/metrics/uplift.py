"""A two-model uplift model (增量模型) fitted on aggregated cells, and its Qini curve.

Two-model (T-learner): one logistic regression per group (treatment, holdout) on categorical
member features, the difference of their predicted response probabilities being each cell's
predicted uplift. Every feature is categorical, so the members are counted per (fold, feature
cell, group, responded) in the engine (:func:`model_cells`) and the regressions are fitted on
those weighted cells: the same fit as on the members one by one, with no per-user row leaving
the engine. The fits are cross-fitted over folds drawn from an MD5 hash of the user id
(:func:`fold_of`), the same on every engine, so no member is scored by a model that saw them.

* :func:`model_cells`: the counted cells of a reviewed campaign.
* :func:`predicted_uplift`: the cross-fitted predicted uplift per cell.
* :func:`qini_curve`, :func:`qini_area`, :func:`uplift_at_k`: how well the ranking finds the
  members the campaign moves.
* :func:`uplift_model`: all of the above in one call; :func:`model_summary` for the prose.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import ibis
import pandas as pd
from ibis import _

from growthloop.errors import NotAvailable
from growthloop.marts.wide import user_wide
from growthloop.metrics.campaign_review import (
    HOLDOUT_FIX,
    MIN_CELL,
    Campaign,
    members,
    require_holdout,
)
from growthloop.staging.loader import Dataset

#: the member features the model may use: wide-table columns, the AUM layer at start_at and
#: the band of pre-campaign active days
MODEL_FEATURES: tuple[str, ...] = ("age_band", "layer", "signup_channel", "city_tier",
                                   "device_os", "pre_activity")
#: the shares of members targeted that uplift_at_k reports by default
QINI_K: tuple[float, ...] = (0.1, 0.2, 0.3, 0.5)
_WIDE_FEATURES: tuple[str, ...] = ("age_band", "signup_channel", "city_tier", "device_os")
_COUNTS: tuple[str, ...] = ("predicted", "users_t", "responders_t", "users_c", "responders_c")


def _pre_activity_band(days: ibis.NumericValue) -> ibis.StringValue:
    """The band of pre-campaign active days: 0天, 1-3天, 4-10天, 11天以上."""
    return ibis.cases((days <= 0, "0天"), (days <= 3, "1-3天"), (days <= 10, "4-10天"),
                      else_="11天以上")


def fold_of(user_id: ibis.StringValue, folds: int, seed: int) -> ibis.IntegerValue:
    """The cross-fitting fold (0 .. folds-1) of each user, the same on every engine.

    The first 7 hex digits (28 bits) of the MD5 of '<user_id>:<seed>', modulo `folds`. MD5 is
    a standard function (DuckDB `md5`, Spark `md5`, Postgres `md5`, ...), so every engine puts
    a member in the same fold; an engine's own hash() would not (DuckDB's and Spark's are
    different functions). 28 bits keep every step within a 32-bit integer: Spark's position
    function returns one, and in ANSI mode it raises on overflow rather than widen.

    Parameters
    ----------
    user_id
        The user id column (an Ibis string expression).
    folds
        The number of folds.
    seed
        Any whole number: another seed gives another split.

    Returns
    -------
    ibis.IntegerValue
        The fold, an int64 expression.

    Examples
    --------
    In Python, the fold of U1 with 2 folds and seed 7 is
    ``int(hashlib.md5(b"U1:7").hexdigest()[:7], 16) % 2``.
    """
    digest = (user_id + ibis.literal(f":{int(seed)}")).hexdigest("md5").lower()
    hex_digits = ibis.literal("0123456789abcdef")
    value = hex_digits.find(digest.substr(0, 1))
    for i in range(1, 7):
        value = value * 16 + hex_digits.find(digest.substr(i, 1))
    return (value % folds).cast("int64")


def model_cells(ds: Dataset, camp: Campaign, features: Sequence[str] = MODEL_FEATURES,
                folds: int = 2, seed: int = 7, pre_days: int = 90) -> pd.DataFrame:
    """Members counted per (fold, feature cell, group, responded): all the model needs.

    Categorical features give the same fit on these weighted cells as on the members one by
    one, so no per-user row leaves the engine. A wide-table feature the member lacks is 未知.

    Parameters
    ----------
    ds
        The dataset.
    camp
        The campaign reviewed (`growthloop.metrics.campaign_review.campaign`).
    features
        Some of MODEL_FEATURES.
    folds
        Number of cross-fitting folds, 2 or more.
    seed
        The seed of the folds (:func:`fold_of`): the same seed gives the same split on every
        run and every engine.
    pre_days
        Days before start_at that count as pre-campaign behaviour (`pre_activity`).

    Returns
    -------
    pandas.DataFrame
        Columns fold, the features, group, responded, n; ordered by all but n.

    Raises
    ------
    ValueError
        An unknown or empty feature list, or fewer than two folds.
    """
    bad = [f for f in features if f not in MODEL_FEATURES]
    if bad or not features:
        raise ValueError(f"features: {bad or list(features)}; allowed: {list(MODEL_FEATURES)}")
    if folds < 2:
        raise ValueError(f"folds: {folds!r}; allowed: 2 or more")
    mo = members(ds, camp, pre_days)
    wide = user_wide(ds)
    cols = [f for f in features if f in _WIDE_FEATURES]
    w = wide.select(_wuid=wide.user_id, **{f"_w_{c}": wide[c].cast("string") for c in cols})
    j = mo.left_join(w, mo.user_id == w._wuid)
    values = {c: j[f"_w_{c}"].fill_null("未知") for c in cols}
    if "layer" in features:
        values["layer"] = j.layer
    if "pre_activity" in features:
        values["pre_activity"] = _pre_activity_band(j.pre_active_days)
    j = j.mutate(fold=fold_of(j.user_id, folds, seed), **values)
    out = j.group_by(["fold", *features, "group", "responded"]).aggregate(n=_.count())
    return out.order_by(["fold", *features, "group", "responded"]).to_pandas()


def _fit_predict(train: pd.DataFrame, test: pd.DataFrame, features: Sequence[str],
                 group: str) -> pd.Series:
    """P(respond | cell) for one group, logistic regression on one-hot cells with weights.

    A group with one outcome only (or no member) in `train` gets its observed rate (NaN when
    empty) for every test cell.
    """
    from sklearn.linear_model import LogisticRegression

    part = train[train.group == group]
    if part.empty or part.responded.nunique() < 2:
        rate = float((part.responded * part.n).sum() / part.n.sum()) if len(part) else float("nan")
        return pd.Series(rate, index=test.index)
    cats = pd.concat([part[list(features)], test[list(features)]], ignore_index=True)
    dummies = pd.get_dummies(cats.astype(str), dtype=float)
    x_train, x_test = dummies.iloc[: len(part)], dummies.iloc[len(part):]
    model = LogisticRegression(C=1.0, max_iter=1000)
    model.fit(x_train.to_numpy(), part.responded.to_numpy(), sample_weight=part.n.to_numpy())
    return pd.Series(model.predict_proba(x_test.to_numpy())[:, 1], index=test.index)


def predicted_uplift(cells: pd.DataFrame, features: Sequence[str] = MODEL_FEATURES) -> pd.DataFrame:
    """Cross-fitted two-model uplift per cell.

    For each fold, P_treatment - P_control from the two logistic regressions fitted on the
    other folds' cells (L2, C = 1, weighted by the members counted).

    Parameters
    ----------
    cells
        :func:`model_cells`.
    features
        The features of `cells`.

    Returns
    -------
    pandas.DataFrame
        One row per (fold, cell): fold, the features, predicted, users_t, responders_t,
        users_c, responders_c (the cell's observed counts, for :func:`qini_curve`).
    """
    features = list(features)
    agg = cells.assign(r=cells.responded * cells.n)
    wide = agg.pivot_table(index=["fold", *features], columns="group", values=["n", "r"],
                           aggfunc="sum", fill_value=0)
    wide.columns = [f"{a}_{b}" for a, b in wide.columns]
    wide = wide.reset_index()
    for col in ("n_treatment", "n_control", "r_treatment", "r_control"):
        if col not in wide.columns:
            wide[col] = 0
    parts = []
    for fold in sorted(wide.fold.unique()):
        test = wide[wide.fold == fold].copy()
        train = cells[cells.fold != fold]
        test["predicted"] = (_fit_predict(train, test, features, "treatment")
                             - _fit_predict(train, test, features, "control"))
        parts.append(test)
    out = pd.concat(parts, ignore_index=True)
    out = out.rename(columns={"n_treatment": "users_t", "r_treatment": "responders_t",
                              "n_control": "users_c", "r_control": "responders_c"})
    return out[["fold", *features, "predicted", "users_t", "responders_t", "users_c",
                "responders_c"]].astype({c: "int64" for c in ("users_t", "responders_t",
                                                                 "users_c", "responders_c")})


def _ranked(pred: pd.DataFrame) -> pd.DataFrame:
    """The cells by predicted uplift, highest first; ties by the cell's own columns."""
    feats = [c for c in pred.columns if c not in _COUNTS]
    return pred.sort_values(["predicted", *feats], ascending=[False] + [True] * len(feats))


def qini_curve(pred: pd.DataFrame) -> pd.DataFrame:
    """Qini curve of members ranked by predicted uplift (cells in order, ties by cell order).

    At each cell boundary: the share of members targeted and the Qini value
    R_t - R_c x N_t / N_c (incremental responders at the treatment group's scale; 0 while no
    holdout member is in yet), with the random line, the straight line to the final value.

    Parameters
    ----------
    pred
        :func:`predicted_uplift` (any cell columns besides the counts and `predicted`).

    Returns
    -------
    pandas.DataFrame
        Columns share_targeted, qini, random, uplift_so_far (observed uplift of the members
        targeted so far); a first row at 0.

    Examples
    --------
    Cell A (predicted 0.3): treatment 5 of 10, holdout 1 of 10; cell B (0.1): 2 of 10 and 2
    of 10. After A: 5 - 1 x 10/10 = 4 at share 0.5; after B: 7 - 3 x 20/20 = 4 at share 1.

    >>> pred = pd.DataFrame({"cell": ["A", "B"], "predicted": [0.3, 0.1],
    ...                      "users_t": [10, 10], "responders_t": [5, 2],
    ...                      "users_c": [10, 10], "responders_c": [1, 2]})
    >>> qini_curve(pred).qini.tolist()
    [0.0, 4.0, 4.0]
    """
    p = _ranked(pred)
    n = (p.users_t + p.users_c).cumsum()
    nt, rt = p.users_t.cumsum(), p.responders_t.cumsum()
    nc, rc = p.users_c.cumsum(), p.responders_c.cumsum()
    total = float(n.iloc[-1]) if len(n) else 0.0
    q = (rt - rc * nt / nc.where(nc > 0)).fillna(0.0)
    up = rt / nt.where(nt > 0) - rc / nc.where(nc > 0)
    out = pd.DataFrame({"share_targeted": n / total if total else n * 0.0, "qini": q,
                        "uplift_so_far": up})
    out = pd.concat([pd.DataFrame({"share_targeted": [0.0], "qini": [0.0],
                                   "uplift_so_far": [float("nan")]}), out], ignore_index=True)
    final = float(out.qini.iloc[-1])
    out["random"] = out.share_targeted * final
    return out[["share_targeted", "qini", "random", "uplift_so_far"]].astype(float)


def uplift_at_k(pred: pd.DataFrame, ks: Sequence[float] = QINI_K) -> pd.DataFrame:
    """Observed uplift among the top k of members by predicted uplift.

    Whole cells are taken while the members before the cell are under k of all members, so the
    share reached can be a little above k.

    Parameters
    ----------
    pred
        :func:`predicted_uplift`.
    ks
        Shares of members, each in (0, 1].

    Returns
    -------
    pandas.DataFrame
        Columns k, share (of members reached), users_t, users_c, uplift (rate_t - rate_c
        among them; NaN without members of both groups).

    Raises
    ------
    ValueError
        A share outside (0, 1].
    """
    p = _ranked(pred)
    n = (p.users_t + p.users_c).cumsum()
    total = float(n.iloc[-1]) if len(n) else 0.0
    rows = []
    for k in ks:
        if not 0 < k <= 1:
            raise ValueError(f"ks: {k!r}; allowed: shares in (0, 1]")
        take = p[(n - (p.users_t + p.users_c)) < k * total] if total else p.iloc[:0]
        nt, nc = int(take.users_t.sum()), int(take.users_c.sum())
        rt, rc = int(take.responders_t.sum()), int(take.responders_c.sum())
        rows.append(dict(k=k, share=(nt + nc) / total if total else float("nan"), users_t=nt,
                         users_c=nc, uplift=(rt / nt - rc / nc) if nt and nc else float("nan")))
    return pd.DataFrame(rows)


def qini_area(curve: pd.DataFrame) -> float:
    """Area between the Qini curve and the random line, as a share of the final Qini value.

    Parameters
    ----------
    curve
        :func:`qini_curve`.

    Returns
    -------
    float
        The area (trapezoids) over the final value: 0 is no better than random targeting; NaN
        when the final value is not positive.

    Examples
    --------
    The curve 0, 4, 4 at shares 0, 0.5, 1 against the random line 0, 2, 4: gains 0, 2, 0,
    area 0.5 x (0 + 2) / 2 + 0.5 x (2 + 0) / 2 = 1, over the final value 4: 0.25.
    """
    x = curve.share_targeted.to_numpy()
    gain = (curve.qini - curve.random).to_numpy()
    area = float(((gain[1:] + gain[:-1]) / 2 * (x[1:] - x[:-1])).sum())
    final = float(curve.qini.iloc[-1])
    return area / final if final > 0 else float("nan")


@dataclass(frozen=True)
class UpliftModel:
    """The two-model uplift model of a campaign: its cells, predictions and how well they rank."""

    cells: pd.DataFrame
    predicted: pd.DataFrame
    qini: pd.DataFrame
    at_k: pd.DataFrame


def uplift_model(ds: Dataset, camp: Campaign, features: Sequence[str] = MODEL_FEATURES,
                 folds: int = 2, seed: int = 7, pre_days: int = 90,
                 ks: Sequence[float] = QINI_K) -> UpliftModel:
    """The cross-fitted two-model uplift model of a campaign, with its Qini curve and uplift@k.

    :func:`model_cells`, :func:`predicted_uplift`, :func:`qini_curve` and :func:`uplift_at_k`
    in one call.

    Parameters
    ----------
    ds, camp
        The dataset and the campaign reviewed.
    features, folds, seed, pre_days
        As in :func:`model_cells`.
    ks
        The shares of members of :func:`uplift_at_k`.

    Returns
    -------
    UpliftModel
        cells, predicted (per fold and cell), qini (the curve) and at_k.

    Raises
    ------
    ValueError
        As :func:`model_cells`, or a share of `ks` outside (0, 1].
    NotAvailable
        Without a holdout, with a group of fewer than MIN_CELL members (each fold's fit would
        rest on a handful of people), or when nobody responded in the window.
    """
    require_holdout(camp)
    if min(camp.treatment, camp.control) < MIN_CELL:
        small = "对照组" if camp.control < MIN_CELL else "实验组"
        raise NotAvailable(f"实验组和对照组各至少 {MIN_CELL} 人：增量模型要在两组里分别拟合，并交叉验证",
                           f"活动 {camp.campaign_id} 的{small}不足 {MIN_CELL} 人", HOLDOUT_FIX)
    cells = model_cells(ds, camp, features, folds=folds, seed=seed, pre_days=pre_days)
    if int((cells.responded * cells.n).sum()) == 0:
        raise NotAvailable("窗口内达成目标的成员：模型要学的是谁更容易被活动打动",
                           f"活动 {camp.campaign_id} 的响应窗口内两组都没有人达成目标",
                           "等窗口结束、有了响应者再看；或检查活动目标 goal 是否写对")
    pred = predicted_uplift(cells, features)
    return UpliftModel(cells=cells, predicted=pred, qini=qini_curve(pred),
                       at_k=uplift_at_k(pred, ks))


def model_summary(model: UpliftModel, overall_uplift: float, k: float = 0.2) -> dict[str, float]:
    """The uplift model for the chapter's prose (glued as ``review_<key>``).

    Parameters
    ----------
    model
        :func:`uplift_model`.
    overall_uplift
        The campaign's uplift over all members (`campaign_review.effect`'s uplift), to compare.
    k
        The share of members of ``uplift_at_<100 k>``; one of the model's ks.

    Returns
    -------
    dict
        qini (:func:`qini_area`), uplift_at_20 (for k = 0.2: the observed uplift among the top
        k by predicted uplift; NaN when k is not among the model's ks) and uplift_all.

    Examples
    --------
    The cells of :func:`qini_curve`'s example: qini 0.25; at k = 0.5 cell A alone, uplift
    0.5 - 0.1 = 0.4 (``uplift_at_50``).
    """
    at = model.at_k.set_index("k").uplift
    return {
        "qini": qini_area(model.qini),
        f"uplift_at_{round(k * 100)}": float(at.get(k, float("nan"))),
        "uplift_all": float(overall_uplift),
    }

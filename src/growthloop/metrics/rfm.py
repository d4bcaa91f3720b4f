"""RFM segmentation (RFM 分群): recency, frequency and monetary scores, the eight classic segments,
the three operating groups, an action per segment, migration between two dates and member lists.

Everything runs in the engine over :func:`growthloop.marts.investments.investments` (successful investments
up to the end of the day); only small aggregates (one row per segment, score, bin or matrix cell)
come back as pandas. Member lists, which do carry ``user_id``, are for the private exports only.

Definitions (as of a date ``as_of``, the analysis date by default)
------------------------------------------------------------------
* **Investors**: users with at least one successful investment on or before ``as_of`` (all
  history). An investor whose investments all lie before the period keeps F = 0 and M = 0.
* **R** (recency_days): natural days (Asia/Shanghai dates) from the day of the last investment
  to ``as_of``; 0 means the investor invested on ``as_of`` itself.
* **F** (frequency): successful investments in the period, the ``period_days`` natural days
  ending with ``as_of`` (``as_of`` included); ``period_days=None`` means all history.
* **M** (monetary): the amount invested in the period (``monetary="amount"``) or the revenue of
  those investments (``monetary="revenue"``). ``amount`` and ``revenue`` are always both kept.

Scores 1..bins (quantile scores)
--------------------------------
A score is the quantile band where the investor's value sits, counted from the bottom of its
tie block::

    score = 1 + floor(bins * below / n)

where ``n`` is the number of investors and ``below`` the number of investors with a strictly
*worse* value (a smaller F or M; for R a *larger* number of days, so more recent = higher score).
This is the same as cutting at the exact discrete quantiles ``q_k`` (inverted CDF, k/bins) and
scoring ``1 + #{k : value > q_k}``. Consequences, all intended:

* equal values always get equal scores (the score is a function of the value only);
* scores are ordered with the values, whatever the tail (only ranks are used, so one whale does
  not stretch the bins);
* the worst value always scores 1;
* a value shared by more than 1/bins of the investors covers several bands and takes the lowest
  one, so the band(s) above it stay **empty**. Example: when 57% of investors invested once,
  F = 1 scores 1, F = 2 starts at 1 + floor(5 x 0.57) = 3, and score 2 has nobody.
  :func:`score_bins` lists every score with its users (0 for an empty one) and value range.
* one investor, or investors all equal, all score 1.

High and low (the split rule)
-----------------------------
``split="mean"`` (default) or ``"median"``: a measure is *high* when the investor is at least as
good as the split value: F >= split, M >= split, and for R recency_days <= split (recent).
**Ties at the split count as high** (>=), compared with a relative tolerance of 1e-9 so a mean
like 0.2 computed as 0.20000000000000004 still ties. The mean and median (linear interpolation,
numpy's default) are over all investors as of ``as_of``. ``split="score"``: high when the
score >= ``score_threshold`` (default: the middle score, 3 of 5).

With the ">=" rule one investor, or investors all equal, are high on everything under "mean"
and "median" (重要价值), and low on everything under "score" (all scores are 1: 一般挽留).

The eight segments and three operating groups
---------------------------------------------
See :data:`SEGMENTS`. The operating groups follow R and F only: 稳定中客 (stable) = R high and
F high; 潜力新客 (new potential) = R high and F low (recent, still few investments: the
"develop" segments); 流失风险客 (churn risk) = R low, whatever F and M.

What the data must support
--------------------------
The functions the chapter reads raise :class:`growthloop.errors.NotAvailable` (the book's
standard note) where the data cannot support an answer, and never return a number it cannot:

* no investor by the date: every summary (:func:`distribution_summary`, :func:`spread`,
  :func:`segments_summary`, :func:`score_bins`, :func:`rf_heatmap`, :func:`migration`);
* fewer investors than score bands: the quantile scores (:func:`score_bins`,
  :func:`scores_summary`, :func:`rf_heatmap`, and the "score" split in :func:`spread`);
* investors identical on R, F and M (one investor, say): the high/low split puts them all in
  one segment, so the segmentation says nothing; or identical on M (no investment in the
  period, say): 重要 and 一般 tell nobody apart (:func:`spread`, and :func:`migration` for
  either date);
* one non-empty F score (nobody invested more often than the others: no repeat investments)
  or one non-empty R score: the R x F grid has a single column or row (:func:`rf_heatmap`);
* the migration's earlier date before the first investment (:func:`migration`).

:func:`segments` itself never raises for the data: an empty or flat table is a valid input of
the checks above (the campaign review segments members as of any date).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator, Mapping

import ibis
import pandas as pd
from ibis import _

from growthloop.engine import money_sum, require_exact_quantiles
from growthloop.errors import NotAvailable
from growthloop.marts.investments import investments
from growthloop.staging.contract import (
    ACTION_FIELDS,
    RFM_GROUPS,
    SEGMENTS,
    Segment,
    segment_key,
)
from growthloop.staging.loader import Dataset, period_end

__all__ = [
    "DEFAULT_ACTIONS",
    "GROUPS",
    "MONETARY",
    "NEW_INVESTOR",
    "SEGMENTS",
    "SPLITS",
    "Segment",
    "actions_table",
    "distribution",
    "distribution_summary",
    "group_table",
    "headline",
    "heatmap_summary",
    "history",
    "member_list_table",
    "member_lists",
    "migration",
    "migration_matrix",
    "migration_summary",
    "params_summary",
    "rf_heatmap",
    "rfm_values",
    "score",
    "score_bins",
    "scores_summary",
    "segment",
    "segment_of",
    "segment_table",
    "segments",
    "segments_summary",
    "split_values",
    "spread",
]

#: The three operating groups (label, English, rule), see growthloop.staging.contract.
GROUPS = RFM_GROUPS
MONETARY = ("amount", "revenue")
SPLITS = ("mean", "median", "score")
# ties at the split: |value - split| within this share of the split's size count as equal
_TIE_TOL = 1e-9


#: The "from" row of a migration for users who were not yet investors at the earlier date.
NEW_INVESTOR = ("新投资人", "new investor")

#: Default recommended action, channel and offer per segment; dataset.yml `rfm_actions` edits it.
DEFAULT_ACTIONS: dict[str, dict[str, str]] = {
    "重要价值": {"action": "VIP 专属服务，新品与额度优先，维护关系而不打扰",
                 "channel": "专属客户经理 / 电话", "offer": "VIP 权益、专属加息券"},
    "重要发展": {"action": "提高投资频次：到期续投提醒、定投引导",
                 "channel": "App 推送 / 站内信", "offer": "复投加息券"},
    "重要保持": {"action": "高频高额但近期未投：主动关怀，问清原因",
                 "channel": "客服电话 / 短信", "offer": "限时加息券"},
    "重要挽留": {"action": "重点召回：推送、短信加客服电话",
                 "channel": "短信 + 客服电话", "offer": "大额召回红包"},
    "一般价值": {"action": "交叉销售，引导更高额度或更长期限的产品",
                 "channel": "App 推送", "offer": "期限升级加息券"},
    "一般发展": {"action": "新手变老手：第二笔投资激励",
                 "channel": "App 推送 / 站内信", "offer": "小额复投红包"},
    "一般保持": {"action": "低成本提醒，常规内容运营",
                 "channel": "站内信 / 推送", "offer": "积分、签到奖励"},
    "一般挽留": {"action": "低成本批量召回，不单独投入",
                 "channel": "推送 / 短信 (批量)", "offer": "低额红包或不发"},
}


def segment_of(r_high: bool, f_high: bool, m_high: bool) -> Segment:
    """The segment of a high/low triple (one of the eight SEGMENTS).

    Parameters
    ----------
    r_high, f_high, m_high : bool
        Whether R (recent), F and M are high.

    Returns
    -------
    Segment
        The segment with those flags.

    Examples
    --------
    >>> segment_of(True, False, True).label
    '重要发展'
    """
    for seg in SEGMENTS:
        if (seg.r, seg.f, seg.m) == (bool(r_high), bool(f_high), bool(m_high)):
            return seg
    raise AssertionError("unreachable: the eight segments cover every triple")


# --------------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------------


def _check_params(period_days: int | None, monetary: str, bins: int, split: str,
                  score_threshold: int | None) -> int:
    """Validate the RFM parameters; returns the score threshold in use."""
    if period_days is not None and (isinstance(period_days, bool) or not isinstance(period_days, int)
                                    or period_days < 1):
        raise ValueError(f"period_days must be a positive whole number of days or None (all "
                         f"history), got {period_days!r}")
    if monetary not in MONETARY:
        raise ValueError(f"monetary must be one of {MONETARY}, got {monetary!r}")
    if isinstance(bins, bool) or not isinstance(bins, int) or not 2 <= bins <= 10:
        raise ValueError(f"bins must be a whole number from 2 to 10, got {bins!r}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    threshold = (bins + 2) // 2 if score_threshold is None else score_threshold
    if isinstance(threshold, bool) or not isinstance(threshold, int) or not 2 <= threshold <= bins:
        raise ValueError(f"score_threshold must be a whole number from 2 to bins ({bins}), "
                         f"got {score_threshold!r}")
    return threshold


def _as_date(value: dt.date | str | None, ds: Dataset) -> dt.date:
    if value is None:
        return ds.analysis_date
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise ValueError(f"as_of must be a date or YYYY-MM-DD, got {value!r}") from exc


# --------------------------------------------------------------------------------------------
# What the data supports
# --------------------------------------------------------------------------------------------


def _no_investors(when: str = "分析日") -> NotAvailable:
    return NotAvailable(
        "投资用户 (截至分群日期有过成功投资的用户)",
        f"截至{when}数据中还没有成功的投资",
        "检查 analysis_date 是否早于平台的第一笔投资，以及 dataset.yml 里 transactions 的状态映射 "
        "(哪些状态算投资成功)")


def _too_few_for_scores(bins: int, what: str = "R、F、M 按分位数打分") -> NotAvailable:
    return NotAvailable(
        f"至少 {bins} 位投资用户 ({what}，共 {bins} 档，参数 score_bins)",
        f"投资用户少于 {bins} 位，得分档比人还多，分位数得分没有意义",
        "把参数 score_bins 调小 (最小 2)，或等投资用户多起来再看")


def history(ds: Dataset) -> dict[str, str | int]:
    """The span of the investment history up to the analysis date (one query).

    Parameters
    ----------
    ds : Dataset
        The opened dataset.

    Returns
    -------
    dict
        ``first_investment`` and ``last_investment`` (YYYY-MM-DD; "" without investments) and
        ``history_days``: natural days from the first investment's day to the analysis date, both
        included (0 without investments). A period of at least ``history_days`` days covers the
        whole history.
    """
    txn = investments(ds)
    txn = txn.filter(txn.txn_time < ds.period_end)
    row = txn.aggregate(first=txn.txn_time.min(), last=txn.txn_time.max()).execute().iloc[0]
    if pd.isna(row["first"]):
        return {"first_investment": "", "last_investment": "", "history_days": 0}
    first, last = pd.Timestamp(row["first"]).date(), pd.Timestamp(row["last"]).date()
    return {"first_investment": first.isoformat(), "last_investment": last.isoformat(),
            "history_days": (ds.analysis_date - first).days + 1}


def spread(seg: ibis.Table, split: str = "mean", bins: int = 5, when: str = "分析日"
           ) -> dict[str, int | float | str]:
    """How far the investors differ on R, F and M, and whether they can be segmented (one query).

    Parameters
    ----------
    seg : ibis.Table
        A :func:`segments` table.
    split : {"mean", "median", "score"}, default "mean"
        The split rule the table was segmented with.
    bins : int, default 5
        The number of scores it was scored with, 2 to 10.
    when : str, default "分析日"
        The date of the segmentation, as the note names it.

    Returns
    -------
    dict
        ``investors``; ``r_values``, ``f_values``, ``m_values``: distinct values of each
        measure; ``amount``: the period's amount (0.0 when none); ``flat``: the measures with
        one value for everybody, as "F" or "R、F" ("" when none), whose high/low tells nobody
        apart (M is never among them: that raises).

    Raises
    ------
    NotAvailable
        Without investors; with the "score" split and fewer investors than `bins`; when every
        investor has the same R, F and M (one investor, say): every split rule puts them in one
        segment; when every investor has the same M (nobody invested in the period, say): the
        important (M high) and general segments tell nobody apart.
    ValueError
        For a bad `split` or `bins`.
    """
    _check_params(None, "amount", bins, split, None)
    row = seg.aggregate(
        investors=seg.count(), r_values=seg.recency_days.nunique(),
        f_values=seg.frequency.nunique(), m_values=seg.monetary.nunique(),
        amount=money_sum(seg.amount),
    ).execute().iloc[0]
    n = int(row["investors"])
    if not n:
        raise _no_investors(when)
    if split == "score" and n < bins:
        raise _too_few_for_scores(bins, "按得分 (split=score) 分高低，先要按分位数打分")
    values = {m: int(row[f"{m.lower()}_values"]) for m in ("R", "F", "M")}
    amount = float(row["amount"]) if pd.notna(row["amount"]) else 0.0
    if all(v == 1 for v in values.values()):
        raise NotAvailable(
            "R、F、M 上有差别的投资用户 (分高低比的是人和人之间的差别)",
            f"截至{when}全部投资用户的 R、F、M 都相同 (例如只有一位投资用户)，任何分高低的规则都会"
            "把他们分进同一类",
            "等投资用户和投资记录多起来再看；统计期 (period_days) 太短时也可以把它放长")
    if values["M"] == 1:
        missing = ("统计期内没有一笔投资，所有人的 F、M 都是 0" if not amount
                   else "所有投资用户统计期内的 M 都相同")
        raise NotAvailable(
            "统计期内 M (投资金额或收入) 有高有低的投资用户：“重要”和“一般”人群按 M 的高低划分",
            f"截至{when}{missing}，“重要”与“一般”分不出任何人",
            "把参数 period_days 放长，或设为 None 用全部历史")
    return {
        "investors": n,
        "r_values": values["R"], "f_values": values["F"], "m_values": values["M"],
        "amount": amount,
        "flat": "、".join(m for m, v in values.items() if v == 1),
    }


# --------------------------------------------------------------------------------------------
# R, F, M and scores
# --------------------------------------------------------------------------------------------


def rfm_values(ds: Dataset, as_of: dt.date | str | None = None, period_days: int | None = 365,
               monetary: str = "amount") -> ibis.Table:
    """Compute R, F and M per investor as of a date (an Ibis expression, one row per investor).

    Definitions are in the module docstring: R in natural days since the last investment, F and
    M over the `period_days` days ending with `as_of`.

    Parameters
    ----------
    ds : Dataset
        The opened dataset.
    as_of : datetime.date, str or None, default None
        The date (or YYYY-MM-DD); None is the analysis date. May not be after the analysis date
        (nothing after it is used).
    period_days : int or None, default 365
        Natural days of the F/M period, ``as_of`` included; None means all history.
    monetary : {"amount", "revenue"}, default "amount"
        What M is.

    Returns
    -------
    ibis.Table
        Columns ``user_id``, ``last_invest_at``, ``recency_days``, ``frequency``, ``amount``,
        ``revenue``, ``monetary`` (not executed).

    Raises
    ------
    ValueError
        For a bad parameter, or `as_of` after the analysis date.
    """
    _check_params(period_days, monetary, 5, "mean", None)
    day = _as_date(as_of, ds)
    if day > ds.analysis_date:
        raise ValueError(f"as_of {day} is after the analysis date {ds.analysis_date}")
    end = period_end(day)
    txn = investments(ds)
    txn = txn.filter(txn.txn_time < end)
    if period_days is None:
        in_period = ibis.literal(True)
    else:
        in_period = txn.txn_time >= end - dt.timedelta(days=period_days)
    per_user = txn.group_by("user_id").aggregate(
        last_invest_at=_.txn_time.max(),
        frequency=_.count(where=in_period),
        amount=money_sum(_.amount, where=in_period),
        revenue=money_sum(_.revenue, where=in_period),
    )
    per_user = per_user.mutate(
        recency_days=ibis.literal(day).delta(per_user.last_invest_at.date(), unit="day").cast("int64"),
        frequency=per_user.frequency.cast("int64"),
        amount=per_user.amount.fill_null(0.0).cast("float64"),
        revenue=per_user.revenue.fill_null(0.0).cast("float64"),
    )
    per_user = per_user.mutate(monetary=per_user[monetary])
    return per_user.select("user_id", "last_invest_at", "recency_days", "frequency", "amount",
                           "revenue", "monetary")


def score(values: ibis.Table, bins: int = 5) -> ibis.Table:
    """Add r_score, f_score, m_score (1..bins) by quantile bands; see the module docstring.

    score = 1 + floor(bins x (investors with a strictly worse value) / investors). Equal values
    get equal scores; a more recent R scores higher. Counted per distinct value (a running sum
    over the sorted distinct values, joined back on the value), which gives the 0-based "min"
    rank of every investor without sorting the investors three times.

    Parameters
    ----------
    values : ibis.Table
        A :func:`rfm_values` table; R, F and M are never null (rfm_values fills them).
    bins : int, default 5
        Number of scores, 2 to 10.

    Returns
    -------
    ibis.Table
        `values` with ``r_score``, ``f_score``, ``m_score`` (int64; not executed).

    Raises
    ------
    ValueError
        When `bins` is not a whole number from 2 to 10.

    Examples
    --------
    Five investors, three of them with F = 1: they take the bottom three bands, so F score 2 and
    3 are empty and F = 2 scores 1 + floor(5·3/5) = 4.

    >>> import ibis
    >>> v = ibis.memtable({"user_id": list("abcde"), "recency_days": [0, 0, 10, 10, 40],
    ...                    "frequency": [1, 1, 1, 2, 3], "monetary": [1.0, 2.0, 3.0, 4.0, 5.0]})
    >>> s = score(v).order_by("user_id").to_pandas()
    >>> s.f_score.tolist(), s.r_score.tolist()
    ([1, 1, 1, 4, 5], [4, 4, 2, 2, 1])
    """
    _check_params(None, "amount", bins, "mean", None)
    out = values
    for col, name, worse_is_larger in (("recency_days", "r_score", True),
                                       ("frequency", "f_score", False),
                                       ("monetary", "m_score", False)):
        counts = values.group_by(_gl_v=values[col]).aggregate(_gl_n=_.count())
        order = ibis.desc("_gl_v") if worse_is_larger else "_gl_v"
        below = counts._gl_n.sum().over(ibis.window(order_by=order, rows=(None, -1)))
        counts = counts.select(
            "_gl_v",
            **{name: (1 + (bins * below.fill_null(0)) // counts._gl_n.sum().over()).cast("int64")},
        )
        out = out.left_join(counts, out[col] == counts._gl_v).drop("_gl_v")
    return out


def split_values(scored: ibis.Table, split: str = "mean", score_threshold: int | None = None,
                 bins: int = 5) -> dict[str, float]:
    """Find the split value of R, F and M (recency_days, frequency, monetary) under a split rule.

    "mean" and "median" give the mean / median of the investors' values (NaN without investors);
    "score" gives the score threshold for all three.

    Parameters
    ----------
    scored : ibis.Table
        A :func:`score` table.
    split : {"mean", "median", "score"}, default "mean"
        The split rule.
    score_threshold : int or None, default None
        For "score": the lowest high score, 2 to bins; None is the middle score (3 of 5).
    bins : int, default 5
        Number of scores, 2 to 10.

    Returns
    -------
    dict of str to float
        ``r``, ``f``, ``m``: the split values.

    Raises
    ------
    ValueError
        For a bad parameter.
    NotImplementedError
        For "median" on an engine whose exact median is not DuckDB's (see
        engine.require_exact_quantiles; DuckDB, Spark and Postgres run it).
    """
    threshold = _check_params(None, "amount", bins, split, score_threshold)
    if split == "median":
        require_exact_quantiles(scored, 'rfm split="median"')
    if split == "score":
        return {"r": float(threshold), "f": float(threshold), "m": float(threshold)}
    cols = {"r": scored.recency_days, "f": scored.frequency, "m": scored.monetary}
    agg = {k: (c.mean() if split == "mean" else c.median()).cast("float64") for k, c in cols.items()}
    row = scored.aggregate(**agg).execute().iloc[0]
    return {k: (float("nan") if pd.isna(row[k]) else float(row[k])) for k in cols}


def _at_least(value: ibis.NumericValue, split: float) -> ibis.BooleanValue:
    """value >= split, with ties (equal within the rounding tolerance) counted as reached."""
    return value >= split - _TIE_TOL * max(1.0, abs(split))


def _at_most(value: ibis.NumericValue, split: float) -> ibis.BooleanValue:
    return value <= split + _TIE_TOL * max(1.0, abs(split))


def segment(scored: ibis.Table, split: str = "mean", score_threshold: int | None = None,
            bins: int = 5) -> ibis.Table:
    """Add the high/low flags, the segment and the operating group to a scored table.

    High is ">= the split" (for R: recency_days <= split), ties counted as high; see the module
    docstring.

    Parameters
    ----------
    scored : ibis.Table
        A :func:`score` table.
    split : {"mean", "median", "score"}, default "mean"
        The split rule.
    score_threshold : int or None, default None
        For "score": the lowest high score, 2 to bins; None is the middle score.
    bins : int, default 5
        Number of scores, 2 to 10.

    Returns
    -------
    ibis.Table
        `scored` with ``r_high``, ``f_high``, ``m_high``, ``segment``, ``segment_en``,
        ``segment_code``, ``group`` and ``group_en`` (not executed; the split values of "mean"
        and "median" are computed by this call).

    Raises
    ------
    ValueError
        For a bad parameter.
    NotImplementedError
        For "median" on an engine whose exact median is not DuckDB's.
    """
    threshold = _check_params(None, "amount", bins, split, score_threshold)
    if split == "score":
        r_high = scored.r_score >= threshold
        f_high = scored.f_score >= threshold
        m_high = scored.m_score >= threshold
    else:
        cut = split_values(scored, split, score_threshold, bins)
        if math.isnan(cut["r"]):  # no investors: any predicate gives an empty table
            cut = {"r": 0.0, "f": 0.0, "m": 0.0}
        r_high = _at_most(scored.recency_days, cut["r"])
        f_high = _at_least(scored.frequency, cut["f"])
        m_high = _at_least(scored.monetary, cut["m"])
    out = scored.mutate(r_high=r_high, f_high=f_high, m_high=m_high)

    def pick(attr: str) -> ibis.StringValue:
        return ibis.cases(*[((out.r_high == s.r) & (out.f_high == s.f) & (out.m_high == s.m),
                             getattr(s, attr)) for s in SEGMENTS])

    group = ibis.cases((~out.r_high, GROUPS[2][0]), (out.f_high, GROUPS[1][0]), else_=GROUPS[0][0])
    group_en = ibis.cases((~out.r_high, GROUPS[2][1]), (out.f_high, GROUPS[1][1]),
                          else_=GROUPS[0][1])
    return out.mutate(segment=pick("label"), segment_en=pick("label_en"),
                      segment_code=pick("code"), group=group, group_en=group_en)


def segments(ds: Dataset, as_of: dt.date | str | None = None, period_days: int | None = 365,
             monetary: str = "amount", bins: int = 5, split: str = "mean",
             score_threshold: int | None = None, materialize: bool = True) -> ibis.Table:
    """Run the whole pipeline: R, F, M, scores and segment per investor.

    With ``materialize`` (the default) the scored table (R, F, M and scores, one row per
    investor) is built once per dataset and parameter set and kept in the engine, so the
    chapter's many small aggregates read it instead of re-running the investment scan and the
    scoring; the segment labels on top are a cheap row-wise expression, not stored again.

    Parameters
    ----------
    ds : Dataset
        The opened dataset.
    as_of : datetime.date, str or None, default None
        As for :func:`rfm_values`.
    period_days : int or None, default 365
        As for :func:`rfm_values`.
    monetary : {"amount", "revenue"}, default "amount"
        As for :func:`rfm_values`.
    bins : int, default 5
        Number of scores, 2 to 10.
    split : {"mean", "median", "score"}, default "mean"
        The split rule; "median" runs where the engine's exact median is DuckDB's (see
        :func:`split_values`).
    score_threshold : int or None, default None
        For "score": the lowest high score; None is the middle score.
    materialize : bool, default True
        Keep the scored table in the engine (``ds.keep``); False builds a bare expression.

    Returns
    -------
    ibis.Table
        One row per investor: the columns of :func:`rfm_values`, the scores and those of
        :func:`segment` (not executed into Python).

    Raises
    ------
    ValueError
        For a bad parameter, or `as_of` after the analysis date.
    NotImplementedError
        For "median" on an engine whose exact median is not DuckDB's.
    """
    threshold = _check_params(period_days, monetary, bins, split, score_threshold)
    if split == "median":
        require_exact_quantiles(ds.con, 'rfm split="median"')
    day = _as_date(as_of, ds)
    if not materialize:
        values = rfm_values(ds, day, period_days, monetary)
        return segment(score(values, bins), split, score_threshold, bins)
    key = f"{day.isoformat()}|{period_days}|{monetary}|{bins}"
    scored = ds.keep(f"rfm_scored:{key}",
                     lambda: score(rfm_values(ds, day, period_days, monetary), bins))
    key2 = f"{key}|{split}|{threshold if split == 'score' else ''}"
    return ds.memo(f"rfm_segments:{key2}", lambda: segment(scored, split, score_threshold, bins))


# --------------------------------------------------------------------------------------------
# Aggregates for the book
# --------------------------------------------------------------------------------------------


def _share(part: pd.Series, total: float) -> pd.Series:
    return part / total if total else part * float("nan")


def actions_table(overrides: Mapping[str, Mapping[str, str]] | None = None) -> pd.DataFrame:
    """Build the action table: the defaults with a dataset's `rfm_actions` (DatasetConfig) on top.

    Parameters
    ----------
    overrides : mapping or None, default None
        {segment: {field: text}}; a segment may be named by its Chinese label, English label or
        code; fields are ACTION_FIELDS (action, channel, offer); a field left out keeps its
        default (DEFAULT_ACTIONS).

    Returns
    -------
    pandas.DataFrame
        One row per segment in SEGMENTS order; columns ``segment``, ``segment_en``, ``group``,
        ``action``, ``channel``, ``offer``.

    Raises
    ------
    ValueError
        For an unknown segment or field.
    """
    rows = []
    fixed = {}
    for name, fields in (overrides or {}).items():
        try:
            key = segment_key(name)
        except KeyError:
            raise ValueError(f"rfm_actions: unknown segment {name!r}; the segments are "
                             f"{[s.label for s in SEGMENTS]}") from None
        bad = sorted(set(fields) - set(ACTION_FIELDS))
        if bad:
            raise ValueError(f"rfm_actions.{name}: unknown field(s) {bad}; the fields are "
                             f"{list(ACTION_FIELDS)}")
        fixed[key] = dict(fields)
    for seg in SEGMENTS:
        merged = {**DEFAULT_ACTIONS[seg.label], **fixed.get(seg.label, {})}
        rows.append({"segment": seg.label, "segment_en": seg.label_en, "group": seg.group,
                     **{f: str(merged[f]) for f in ACTION_FIELDS}})
    return pd.DataFrame(rows)


def segment_table(seg: ibis.Table, actions: Mapping[str, Mapping[str, str]] | None = None
                  ) -> pd.DataFrame:
    """Summarise each segment: all eight, in SEGMENTS order, empty ones with 0 users.

    Parameters
    ----------
    seg : ibis.Table
        A :func:`segments` table.
    actions : mapping or None, default None
        Overrides of the action table, as for :func:`actions_table`.

    Returns
    -------
    pandas.DataFrame
        Columns ``segment``, ``segment_en``, ``users``, ``user_share``, ``amount``,
        ``amount_share``, ``action``, ``channel``, ``offer``, ``revenue``, ``revenue_share``,
        ``group``, ``r_high``, ``f_high``, ``m_high``, ``mean_recency_days``, ``mean_frequency``,
        ``mean_monetary``. Shares are of all investors (NaN without investors); means NaN in an
        empty segment.

    Raises
    ------
    ValueError
        For a bad `actions` override.
    """
    agg = seg.group_by("segment").aggregate(
        users=seg.count(),
        amount=money_sum(seg.amount),
        revenue=money_sum(seg.revenue),
        mean_recency_days=seg.recency_days.mean(),
        mean_frequency=seg.frequency.mean(),
        mean_monetary=seg.monetary.mean(),
    ).order_by("segment").execute().set_index("segment")
    acts = actions_table(actions).set_index("segment")
    rows = []
    for s in SEGMENTS:
        got = agg.loc[s.label] if s.label in agg.index else None
        rows.append({
            "segment": s.label, "segment_en": s.label_en,
            "users": int(got["users"]) if got is not None else 0,
            "amount": float(got["amount"]) if got is not None else 0.0,
            "revenue": float(got["revenue"]) if got is not None else 0.0,
            "r_high": s.r, "f_high": s.f, "m_high": s.m, "group": s.group,
            "mean_recency_days": float(got["mean_recency_days"]) if got is not None else float("nan"),
            "mean_frequency": float(got["mean_frequency"]) if got is not None else float("nan"),
            "mean_monetary": float(got["mean_monetary"]) if got is not None else float("nan"),
            **{f: acts.loc[s.label, f] for f in ACTION_FIELDS},
        })
    df = pd.DataFrame(rows)
    df["user_share"] = _share(df["users"], df["users"].sum())
    df["amount_share"] = _share(df["amount"], df["amount"].sum())
    df["revenue_share"] = _share(df["revenue"], df["revenue"].sum())
    cols = ["segment", "segment_en", "users", "user_share", "amount", "amount_share", "action",
            "channel", "offer", "revenue", "revenue_share", "group", "r_high", "f_high", "m_high",
            "mean_recency_days", "mean_frequency", "mean_monetary"]
    return df[cols]


def group_table(seg: ibis.Table) -> pd.DataFrame:
    """Summarise each operating group (潜力新客, 稳定中客, 流失风险客), in GROUPS order.

    Parameters
    ----------
    seg : ibis.Table
        A :func:`segments` table.

    Returns
    -------
    pandas.DataFrame
        Columns ``group``, ``group_en``, ``rule``, ``segments`` (its segments, joined with 、),
        ``users``, ``user_share``, ``amount``, ``revenue``, ``amount_share``, ``revenue_share``;
        an empty group has 0 users.
    """
    agg = seg.group_by("group").aggregate(users=seg.count(), amount=money_sum(seg.amount),
                                          revenue=money_sum(seg.revenue)).order_by("group").execute()
    agg = agg.set_index("group")
    rows = []
    for label, label_en, rule in GROUPS:
        got = agg.loc[label] if label in agg.index else None
        rows.append({"group": label, "group_en": label_en, "rule": rule,
                     "segments": "、".join(s.label for s in SEGMENTS if s.group == label),
                     "users": int(got["users"]) if got is not None else 0,
                     "amount": float(got["amount"]) if got is not None else 0.0,
                     "revenue": float(got["revenue"]) if got is not None else 0.0})
    df = pd.DataFrame(rows)
    df.insert(5, "user_share", _share(df["users"], df["users"].sum()))
    df["amount_share"] = _share(df["amount"], df["amount"].sum())
    df["revenue_share"] = _share(df["revenue"], df["revenue"].sum())
    return df


def score_bins(seg: ibis.Table, bins: int = 5) -> pd.DataFrame:
    """List every score of R, F and M with its users and value range (empty scores: 0 users).

    Parameters
    ----------
    seg : ibis.Table
        A :func:`segments` (or :func:`score`) table.
    bins : int, default 5
        The number of scores the table was scored with, 2 to 10.

    Returns
    -------
    pandas.DataFrame
        ``3 × bins`` rows; columns ``measure`` (R/F/M), ``score``, ``users``, ``user_share``,
        ``min_value``, ``max_value`` (NaN for an empty score). For R the values are days since the
        last investment, so a higher score has smaller values.

    Raises
    ------
    NotAvailable
        Without investors, or with fewer investors than `bins` (more bands than people: the
        quantile scores mean nothing).
    ValueError
        When `bins` is not a whole number from 2 to 10.
    """
    _check_params(None, "amount", bins, "mean", None)
    parts = []
    for measure, col, sc in (("R", "recency_days", "r_score"), ("F", "frequency", "f_score"),
                             ("M", "monetary", "m_score")):
        agg = seg.group_by(score=seg[sc]).aggregate(
            users=seg.count(), min_value=seg[col].min().cast("float64"),
            max_value=seg[col].max().cast("float64")).order_by("score").execute()
        full = pd.DataFrame({"score": range(1, bins + 1)}).merge(agg, on="score", how="left")
        full["users"] = full["users"].fillna(0).astype("int64")
        full.insert(0, "measure", measure)
        parts.append(full)
    df = pd.concat(parts, ignore_index=True)
    total = int(df.loc[df.measure == "R", "users"].sum())
    if not total:
        raise _no_investors()
    if total < bins:
        raise _too_few_for_scores(bins)
    df.insert(3, "user_share", _share(df["users"], total))
    return df[["measure", "score", "users", "user_share", "min_value", "max_value"]]


def _money_label(x: float) -> str:
    if x >= 1e8:
        return f"{x / 1e8:g}亿"
    if x >= 1e4:
        return f"{x / 1e4:g}万"
    return f"{x:g}"


#: Lower bounds of the M histogram's bins: 1 and 3 times each power of ten, largest first.
_MONEY_BOUNDS = tuple(m * 10.0**k for k in range(15, -13, -1) for m in (3, 1))


def _money_bin(value: ibis.NumericValue) -> ibis.FloatingValue:
    """The lower bound of a money value's bin: 0 for 0 (or less), else the largest of 1 and 3 x
    10^k (k from -12 to 15) not above it; 1e-12 below that.

    Comparisons with fixed bounds, not floor(log10(x)): engines differ in the last bit of a
    logarithm (Spark computes log10 as ln(x) / ln(10), 2.9999999999999996 for 1000), which
    would put 1000 in the 300 bin there.
    """
    return ibis.cases((value <= 0, 0.0), *[(value >= b, b) for b in _MONEY_BOUNDS],
                      else_=_MONEY_BOUNDS[-1])


def distribution(seg: ibis.Table, r_bin_days: int = 30, f_cap: int = 10) -> pd.DataFrame:
    """Histogram R, F and M in the engine, for the distribution figure.

    R in bins of ``r_bin_days`` days; F per value, with ``f_cap`` and more together; M in two
    bins per decade (100, 300, 1000, 3000, 1万, 3万, ... yuan; M = 0 in its own bin).

    Parameters
    ----------
    seg : ibis.Table
        A :func:`segments` table.
    r_bin_days : int, default 30
        Width of an R bin in days; positive.
    f_cap : int, default 10
        F at or above it shares one bin ("10+"); positive.

    Returns
    -------
    pandas.DataFrame
        Non-empty bins only; columns ``measure`` (R/F/M), ``order`` (within the measure),
        ``bin`` (label), ``lower``, ``users``, ``share`` (of investors).

    Raises
    ------
    ValueError
        When `r_bin_days` or `f_cap` is not a positive whole number.
    """
    if isinstance(r_bin_days, bool) or not isinstance(r_bin_days, int) or r_bin_days < 1:
        raise ValueError(f"r_bin_days must be a positive whole number, got {r_bin_days!r}")
    if isinstance(f_cap, bool) or not isinstance(f_cap, int) or f_cap < 1:
        raise ValueError(f"f_cap must be a positive whole number, got {f_cap!r}")
    parts = []
    r_lo = (seg.recency_days // r_bin_days) * r_bin_days
    r = seg.group_by(lower=r_lo.cast("float64")).aggregate(users=seg.count()).order_by("lower").execute()
    r["bin"] = [f"{int(lo)}-{int(lo) + r_bin_days - 1}" for lo in r["lower"]]
    r["measure"] = "R"
    parts.append(r)
    f_lo = ibis.least(seg.frequency, f_cap)
    f = seg.group_by(lower=f_lo.cast("float64")).aggregate(users=seg.count()).order_by("lower").execute()
    f["bin"] = [f"{int(v)}+" if v >= f_cap else f"{int(v)}" for v in f["lower"]]
    f["measure"] = "F"
    parts.append(f)
    m_lo = _money_bin(seg.monetary)
    m = seg.group_by(lower=m_lo.cast("float64")).aggregate(users=seg.count()).order_by("lower").execute()
    m["bin"] = ["0" if lo <= 0 else f"{_money_label(float(f'{lo:.1g}'))}+" for lo in m["lower"]]
    m["measure"] = "M"
    parts.append(m)
    df = pd.concat(parts, ignore_index=True)
    df["users"] = df["users"].astype("int64")
    df["order"] = df.groupby("measure").cumcount()
    totals = df.groupby("measure")["users"].transform("sum")
    df["share"] = df["users"] / totals
    return df[["measure", "order", "bin", "lower", "users", "share"]]


def rf_heatmap(seg: ibis.Table, bins: int = 5) -> pd.DataFrame:
    """Cross R score with F score: investors and mean M per cell (every cell; empty ones 0 and NaN).

    Parameters
    ----------
    seg : ibis.Table
        A :func:`segments` table.
    bins : int, default 5
        The number of scores, 2 to 10.

    Returns
    -------
    pandas.DataFrame
        ``bins × bins`` rows, R score descending then F score ascending; columns ``r_score``,
        ``f_score``, ``users``, ``mean_monetary``.

    Raises
    ------
    NotAvailable
        Without investors; with fewer investors than `bins`; when every investor has the same
        F score (nobody invested more often than the rest: no repeat investments, say) or the
        same R score: the grid would be one column or one row.
    ValueError
        When `bins` is not a whole number from 2 to 10.
    """
    _check_params(None, "amount", bins, "mean", None)
    agg = seg.group_by(["r_score", "f_score"]).aggregate(
        users=seg.count(), mean_monetary=seg.monetary.mean()).order_by(["r_score", "f_score"]).execute()
    total = int(agg["users"].sum())
    if not total:
        raise _no_investors()
    if total < bins:
        raise _too_few_for_scores(bins)
    if agg.f_score.nunique() == 1:
        raise NotAvailable(
            "投资频次 (F) 有高有低的投资用户：热力图按 F 得分分列",
            "统计期内所有投资用户的 F 得分都相同 (例如没有人复投，F 都是 1)，F 只有一档，热力图只有一列，"
            "按 F 的划分没有意义",
            "等有了复投再看；数据只有很短的历史时，也可以把统计期 (period_days) 放长")
    if agg.r_score.nunique() == 1:
        raise NotAvailable(
            "最近一次投资 (R) 有远有近的投资用户：热力图按 R 得分分行",
            "所有投资用户的 R 得分都相同 (例如都在同一天最后一次投资)，热力图只有一行",
            "等数据覆盖更长的时间再看")
    grid = pd.MultiIndex.from_product([range(bins, 0, -1), range(1, bins + 1)],
                                      names=["r_score", "f_score"]).to_frame(index=False)
    df = grid.merge(agg, on=["r_score", "f_score"], how="left")
    df["users"] = df["users"].fillna(0).astype("int64")
    df["mean_monetary"] = df["mean_monetary"].astype("float64")
    return df


def _nothing_before(ds: Dataset, before: dt.date) -> NotAvailable:
    """The note of a migration whose earlier date comes before the first investment."""
    span = history(ds)
    days = (ds.analysis_date - before).days
    longest = int(span["history_days"]) - 1
    fix = (f"把参数 previous_days 调小到 {longest} 天以内 (比较日不早于第一笔投资那天)，或补充更早的交易数据"
           if longest >= 1 else "等数据覆盖更长的时间，或补充更早的交易数据")
    return NotAvailable(
        f"比较日 ({before}，分析日前 {days} 天) 已经有投资用户：迁移比较的是两个日期各自的人群",
        f"数据中的第一笔投资在 {span['first_investment']}，比较日还没有投资用户", fix)


def migration(ds: Dataset, previous: dt.date | str | int = 90, period_days: int | None = 365,
              monetary: str = "amount", bins: int = 5, split: str = "mean",
              score_threshold: int | None = None) -> pd.DataFrame:
    """Count investors moving from each segment at an earlier date to each at the analysis date.

    Each date is segmented on its own (its own investors, means and quantiles). Investors at the
    analysis date who had not invested by the earlier date come from NEW_INVESTOR. Every investor
    at the earlier date is still one later (investments are not undone), so there is no "to" row
    for leaving.

    Parameters
    ----------
    ds : Dataset
        The opened dataset.
    previous : datetime.date, str or int, default 90
        The earlier date, or a positive number of days before the analysis date.
    period_days, monetary, bins, split, score_threshold
        As for :func:`segments`, applied to both dates.

    Returns
    -------
    pandas.DataFrame
        All 9 x 8 cells in order; columns ``from_segment``, ``from_en``, ``to_segment``,
        ``to_en``, ``users``, ``from_share`` (of the from row), ``stayed``. ``attrs`` holds
        ``previous_date`` (ISO) and ``previous_days``.

    Raises
    ------
    NotAvailable
        When the earlier date is before the first investment (nobody to compare), or when
        either date cannot be segmented (see :func:`spread`: no investors, fewer than `bins` for
        the "score" split, everybody the same on R, F and M).
    ValueError
        For a bad parameter, or an earlier date not before the analysis date.
    """
    _check_params(period_days, monetary, bins, split, score_threshold)
    if isinstance(previous, bool):
        raise ValueError(f"previous must be a date or a positive number of days, got {previous!r}")
    if isinstance(previous, int):
        if previous < 1:
            raise ValueError(f"previous must be a positive number of days, got {previous!r}")
        before = ds.analysis_date - dt.timedelta(days=previous)
    else:
        before = _as_date(previous, ds)
        if before >= ds.analysis_date:
            raise ValueError(f"previous {before} must be before the analysis date {ds.analysis_date}")
    params = dict(period_days=period_days, monetary=monetary, bins=bins, split=split,
                  score_threshold=score_threshold)
    now_seg, then_seg = segments(ds, None, **params), segments(ds, before, **params)
    spread(now_seg, split, bins)
    if not int(then_seg.count().execute()):
        raise _nothing_before(ds, before)
    spread(then_seg, split, bins, when=f"比较日 {before}")
    now = now_seg.select(_u="user_id", to_segment="segment")
    then = then_seg.select(_p="user_id", from_segment="segment")
    joined = now.left_join(then, now._u == then._p)
    joined = joined.mutate(from_segment=joined.from_segment.fill_null(NEW_INVESTOR[0]))
    agg = joined.group_by(["from_segment", "to_segment"]).aggregate(users=joined.count())
    agg = agg.order_by(["from_segment", "to_segment"]).execute()
    en = {s.label: s.label_en for s in SEGMENTS} | {NEW_INVESTOR[0]: NEW_INVESTOR[1]}
    froms = [s.label for s in SEGMENTS] + [NEW_INVESTOR[0]]
    tos = [s.label for s in SEGMENTS]
    grid = pd.MultiIndex.from_product([froms, tos], names=["from_segment", "to_segment"])
    df = grid.to_frame(index=False).merge(agg, on=["from_segment", "to_segment"], how="left")
    df["users"] = df["users"].fillna(0).astype("int64")
    df.insert(1, "from_en", df["from_segment"].map(en))
    df.insert(3, "to_en", df["to_segment"].map(en))
    row_total = df.groupby("from_segment")["users"].transform("sum")
    df["from_share"] = df["users"] / row_total.where(row_total != 0)
    df["stayed"] = df["from_segment"] == df["to_segment"]
    df.attrs["previous_date"] = before.isoformat()
    df.attrs["previous_days"] = (previous if isinstance(previous, int)
                                 else (ds.analysis_date - before).days)
    return df


def migration_matrix(moves: pd.DataFrame, value: str = "users") -> pd.DataFrame:
    """Pivot the migration frame into a from x to matrix (rows and columns in segment order).

    Parameters
    ----------
    moves : pandas.DataFrame
        A :func:`migration` result.
    value : str, default "users"
        The column to show ("users" or "from_share").

    Returns
    -------
    pandas.DataFrame
        Rows: the eight segments then 新投资人; columns: the eight segments.
    """
    froms = [s.label for s in SEGMENTS] + [NEW_INVESTOR[0]]
    tos = [s.label for s in SEGMENTS]
    return moves.pivot(index="from_segment", columns="to_segment", values=value).reindex(
        index=froms, columns=tos)


def member_lists(seg: ibis.Table) -> Iterator[tuple[str, ibis.Table]]:
    """List each segment's members, for ``ch.export`` only.

    Each list stays in the engine (ch.export streams it to the private CSV in batches, so a
    segment of millions of investors never sits in memory whole), ordered by M descending then
    user_id: the most valuable members come first. These lists carry user ids: never display
    them.

    Parameters
    ----------
    seg : ibis.Table
        A :func:`segments` table.

    Yields
    ------
    tuple of (str, ibis.Table)
        Per segment in SEGMENTS order: its code and a table (not executed) of ``user_id``,
        ``recency_days``, ``frequency``, ``amount``, ``revenue``, ``monetary``, the three scores,
        ``segment``, ``segment_en`` and ``group``.
    """
    cols = ["user_id", "recency_days", "frequency", "amount", "revenue", "monetary", "r_score",
            "f_score", "m_score", "segment", "segment_en", "group"]
    for s in SEGMENTS:
        part = seg.filter(seg.segment == s.label).select(*cols)
        yield s.code, part.order_by([ibis.desc("monetary"), "user_id"])


def member_list_table(table: pd.DataFrame) -> pd.DataFrame:
    """The member lists as the chapter lists them: each segment with its list file and action.

    Parameters
    ----------
    table : pandas.DataFrame
        A :func:`segment_table` result.

    Returns
    -------
    pandas.DataFrame
        One row per segment in SEGMENTS order; columns ``segment``, ``segment_en``, ``users``,
        ``action``, ``channel``, ``offer`` and ``list``: the file :func:`member_lists` is
        exported to, ``rfm_members_<code>.csv``.
    """
    code = {s.label: s.code for s in SEGMENTS}
    out = table[["segment", "segment_en", "users", "action", "channel", "offer"]].copy()
    out["list"] = [f"rfm_members_{code[label]}.csv" for label in out["segment"]]
    return out.reset_index(drop=True)


def params_summary(period_days: int | None = 365, monetary: str = "amount", split: str = "mean",
                   score_threshold: int | None = None, bins: int = 5) -> dict[str, str | int]:
    """Word the segmentation's parameters as the chapter's prose says them (glued as ``rfm_<key>``).

    Parameters
    ----------
    period_days, monetary, split, score_threshold, bins
        As for :func:`segments`.

    Returns
    -------
    dict
        ``period`` (近 N 天 or 全部历史), ``monetary`` (投资金额 or 收入), ``split`` (均值, 中位数 or
        得分 ≥ t) and ``bins``.

    Raises
    ------
    ValueError
        For a bad parameter, as in :func:`segments`.
    """
    threshold = _check_params(period_days, monetary, bins, split, score_threshold)
    splits = {"mean": "均值", "median": "中位数", "score": f"得分 ≥ {threshold}"}
    return {
        "period": "全部历史" if period_days is None else f"近 {period_days} 天",
        "monetary": "投资金额" if monetary == "amount" else "收入",
        "split": splits[split],
        "bins": bins,
    }


def segments_summary(table: pd.DataFrame, groups: pd.DataFrame) -> dict[str, float | int | str]:
    """Gather the segments' numbers for the chapter's prose (glued as ``rfm_<key>``).

    Read from :func:`headline` of the two tables.

    Parameters
    ----------
    table : pandas.DataFrame
        A :func:`segment_table` result.
    groups : pandas.DataFrame
        A :func:`group_table` result.

    Returns
    -------
    dict
        iv_* (重要价值: users, user_share, amount_share), winback_users and
        winback_amount_share (重要挽留), keep_users (重要保持), develop_users (重要发展), the
        important (M high) segments' user and amount shares, the largest segment and its share,
        the three operating groups' user shares (amount shares of 稳定中客 and 流失风险客), and
        empty_segments: the segments nobody is in, "重要发展、一般保持" (无 when none). Amount
        shares are NaN when the period has no amount.

    Raises
    ------
    NotAvailable
        Without investors.
    """
    if not int(table["users"].sum()):
        raise _no_investors()
    h = headline(table, groups)
    return {
        "iv_users": h["important_value_users"],
        "iv_user_share": h["important_value_user_share"],
        "iv_amount_share": h["important_value_amount_share"],
        "winback_users": h["important_win_back_users"],
        "winback_amount_share": h["important_win_back_amount_share"],
        "keep_users": h["important_keep_users"],
        "develop_users": h["important_develop_users"],
        "important_user_share": h["important_user_share"],
        "important_amount_share": h["important_amount_share"],
        "largest_segment": h["largest_segment"],
        "largest_segment_share": h["largest_segment_share"],
        "group_new_share": h["group_new_user_share"],
        "group_stable_share": h["group_stable_user_share"],
        "group_stable_amount_share": h["group_stable_amount_share"],
        "group_risk_share": h["group_risk_user_share"],
        "group_risk_amount_share": h["group_risk_amount_share"],
        "empty_segments": "、".join(table.loc[table["users"] == 0, "segment"]) or "无",
    }


def headline(table: pd.DataFrame, groups: pd.DataFrame | None = None) -> dict[str, float | int | str]:
    """Gather the key numbers of a segment table (and group table) as plain Python values for glue.

    Parameters
    ----------
    table : pandas.DataFrame
        A :func:`segment_table` result.
    groups : pandas.DataFrame or None, default None
        A :func:`group_table` result; None leaves the group numbers out.

    Returns
    -------
    dict
        ``investors``; per segment code ``<code>_users``, ``<code>_user_share``,
        ``<code>_amount_share``; ``important_user_share``, ``important_amount_share`` (M high);
        ``largest_segment`` and ``largest_segment_share``; with `groups`,
        ``group_<new|stable|risk>_users``, ``_user_share`` and ``_amount_share``.
    """
    t = table.set_index("segment")
    out: dict[str, float | int | str] = {"investors": int(t["users"].sum())}
    for s in SEGMENTS:
        out[f"{s.code}_users"] = int(t.loc[s.label, "users"])
        out[f"{s.code}_user_share"] = float(t.loc[s.label, "user_share"])
        out[f"{s.code}_amount_share"] = float(t.loc[s.label, "amount_share"])
    important = t[t["m_high"].astype(bool)]
    out["important_user_share"] = float(important["user_share"].sum())
    out["important_amount_share"] = float(important["amount_share"].sum())
    largest = t["users"].idxmax()
    out["largest_segment"] = str(largest)
    out["largest_segment_share"] = float(t.loc[largest, "user_share"])
    if groups is not None:
        g = groups.set_index("group")
        for (label, _en, _rule), key in zip(GROUPS, ("new", "stable", "risk"), strict=True):
            out[f"group_{key}_users"] = int(g.loc[label, "users"])
            out[f"group_{key}_user_share"] = float(g.loc[label, "user_share"])
            out[f"group_{key}_amount_share"] = float(g.loc[label, "amount_share"])
    return out


def distribution_summary(seg: ibis.Table, recent_days: int = 30) -> dict[str, float | int]:
    """Gather the key numbers of the R/F/M distributions as plain Python values (one query).

    Keyed as the chapter glues them (``rfm_<key>``).

    Parameters
    ----------
    seg : ibis.Table
        A :func:`segments` table.
    recent_days : int, default 30
        R below it counts as recent; positive.

    Returns
    -------
    dict
        investors; recent_days (as given); recent_share: investors whose last investment is
        within ``recent_days`` days (R < recent_days); once_share: investors with F <= 1 in the
        period (1.0: nobody invested twice in it); idle_share: investors with F = 0 (they
        invested only before the period; 1.0: nobody invested in it); median_recency (days),
        median_monetary and mean_monetary (yuan).

    Raises
    ------
    NotAvailable
        Without investors.
    ValueError
        When `recent_days` is not a positive whole number.
    NotImplementedError
        On an engine whose exact median is not DuckDB's (DuckDB, Spark, Postgres run it).
    """
    if isinstance(recent_days, bool) or not isinstance(recent_days, int) or recent_days < 1:
        raise ValueError(f"recent_days must be a positive whole number, got {recent_days!r}")
    require_exact_quantiles(seg, "rfm.distribution_summary")
    row = seg.aggregate(
        n=seg.count(),
        recent=seg.count(where=seg.recency_days < recent_days),
        once=seg.count(where=seg.frequency <= 1),
        idle=seg.count(where=seg.frequency == 0),
        median_r=seg.recency_days.median().cast("float64"),
        median_m=seg.monetary.median().cast("float64"),
        mean_m=seg.monetary.mean().cast("float64"),
    ).execute().iloc[0]
    n = int(row["n"])
    if not n:
        raise _no_investors()
    return {
        "investors": n,
        "recent_days": recent_days,
        "recent_share": int(row["recent"]) / n,
        "once_share": int(row["once"]) / n,
        "idle_share": int(row["idle"]) / n,
        "median_recency": float(row["median_r"]),
        "median_monetary": float(row["median_m"]),
        "mean_monetary": float(row["mean_m"]),
    }


def scores_summary(seg: ibis.Table, bins: int = 5) -> dict[str, float | int | str]:
    """Gather the key numbers of the score bands for the chapter (glued as ``rfm_<key>``).

    Parameters
    ----------
    seg : ibis.Table
        A :func:`segments` table.
    bins : int, default 5
        The number of scores the table was scored with, 2 to 10.

    Returns
    -------
    dict
        empty_scores: the empty scores, "R1、F2" (无 when none), and empty_count;
        r_bands, f_bands, m_bands: the non-empty scores of each measure; top_m_users: investors
        in the top M score; top_m_amount_share: the share of the period's amount they hold (NaN
        when that score is empty, its value being shared by more than 1/bins of the investors,
        or when the period has no amount).

    Raises
    ------
    NotAvailable
        Without investors, or with fewer investors than `bins` (see :func:`score_bins`).
    ValueError
        When `bins` is not a whole number from 2 to 10.
    """
    table = score_bins(seg, bins)
    row = seg.aggregate(top_amount=money_sum(seg.amount, where=seg.m_score == bins),
                        amount=money_sum(seg.amount)).execute().iloc[0]
    empty = [f"{r.measure}{r.score}" for r in table.itertuples() if r.users == 0]
    full = table[table.users > 0].groupby("measure").score.count()
    amount = float(row["amount"]) if pd.notna(row["amount"]) else 0.0
    top_users = int(table[(table.measure == "M") & (table.score == bins)].users.sum())
    top = float(row["top_amount"]) if pd.notna(row["top_amount"]) else 0.0
    return {
        "empty_scores": "、".join(empty) if empty else "无",
        "empty_count": len(empty),
        "r_bands": int(full.get("R", 0)), "f_bands": int(full.get("F", 0)),
        "m_bands": int(full.get("M", 0)),
        "top_m_users": top_users,
        "top_m_amount_share": top / amount if amount and top_users else float("nan"),
    }


def migration_summary(moves: pd.DataFrame) -> dict[str, float | int | str]:
    """Gather the key numbers of a migration frame as plain Python values (glued as ``rfm_<key>``).

    Parameters
    ----------
    moves : pandas.DataFrame
        A :func:`migration` result (its ``attrs`` give the earlier date).

    Returns
    -------
    dict
        previous_date and previous_days (the earlier date, from the frame's ``attrs``);
        iv_before: investors in 重要价值 at the earlier date; iv_stay_share: share of the earlier
        重要价值 still there; iv_slipped: earlier 重要价值 now with R low; new_investors and
        new_to_important (into an M-high segment); upgraded / downgraded: investors moving from a
        一般 (M low) to a 重要 (M high) segment and back; investors_before: the investors at the
        earlier date; stayed_share: those still in the same segment. Shares NaN when their base
        is 0.
    """
    important = {s.label for s in SEGMENTS if s.m}
    low_r = {s.label for s in SEGMENTS if not s.r}
    general = {s.label for s in SEGMENTS if not s.m}
    new = moves.from_segment == NEW_INVESTOR[0]
    old = moves[~new]
    iv = moves[moves.from_segment == SEGMENTS[0].label]
    iv_total = int(iv.users.sum())
    old_total = int(old.users.sum())
    return {
        "previous_date": str(moves.attrs.get("previous_date", "")),
        "previous_days": moves.attrs.get("previous_days"),
        "iv_before": iv_total,
        "iv_stay_share": float(iv[iv.stayed].users.sum()) / iv_total if iv_total else float("nan"),
        "iv_slipped": int(iv[iv.to_segment.isin(low_r)].users.sum()),
        "new_investors": int(moves[new].users.sum()),
        "new_to_important": int(moves[new & moves.to_segment.isin(important)].users.sum()),
        "upgraded": int(old[old.from_segment.isin(general) & old.to_segment.isin(important)].users.sum()),
        "downgraded": int(old[old.from_segment.isin(important) & old.to_segment.isin(general)].users.sum()),
        "investors_before": old_total,
        "stayed_share": float(old[old.stayed].users.sum()) / old_total if old_total else float("nan"),
    }


def heatmap_summary(heat: pd.DataFrame) -> dict[str, float | int]:
    """Gather the key numbers of the R x F grid for the chapter's prose.

    Parameters
    ----------
    heat : pandas.DataFrame
        An :func:`rf_heatmap` result.

    Returns
    -------
    dict
        The cell with the highest mean M (``top_r``, ``top_f``, ``top_m``, ``top_users``), the
        most populous cell (``big_r``, ``big_f``, ``big_users``), the mean M of the lowest and
        the highest non-empty F score, weighted by investors, and their investors (``low_f``,
        ``low_f_m``, ``low_f_users``, ``high_f``, ``high_f_m``, ``high_f_users``).

    Raises
    ------
    NotAvailable
        For an empty grid (no investors).
    """
    full = heat[heat.users > 0]
    if full.empty:
        raise _no_investors()
    order = full.sort_values(["mean_monetary", "r_score", "f_score"], ascending=False, kind="mergesort")
    top = order.iloc[0]
    big = full.sort_values(["users", "r_score", "f_score"], ascending=False, kind="mergesort").iloc[0]
    by_f = full.assign(money=full.users * full.mean_monetary).groupby("f_score")[["money", "users"]].sum()
    low_f, high_f = int(by_f.index.min()), int(by_f.index.max())
    return {
        "top_r": int(top.r_score), "top_f": int(top.f_score), "top_m": float(top.mean_monetary),
        "top_users": int(top.users),
        "big_r": int(big.r_score), "big_f": int(big.f_score), "big_users": int(big.users),
        "low_f": low_f, "low_f_m": float(by_f.money[low_f] / by_f.users[low_f]),
        "high_f": high_f, "high_f_m": float(by_f.money[high_f] / by_f.users[high_f]),
        "low_f_users": int(by_f.users[low_f]), "high_f_users": int(by_f.users[high_f]),
    }

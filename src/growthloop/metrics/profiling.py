"""User profiling (用户画像): composition, layering, behaviour clusters and value concentration.

Every function takes the user wide table (用户宽表, see :mod:`growthloop.marts.wide`) as an Ibis table
and runs its work in the engine; only small aggregated frames (one row per group, layer,
cluster or curve point) come back as pandas. The one exception is :func:`cluster_users`, which
fits KMeans on a bounded, deterministic sample of investors and then assigns *every* investor to
its nearest centroid in the engine.

The four questions of the chapter:

- :func:`composition`: who the users, the investors and the money are along one dimension
  (age band, gender, region, city tier, device, sign-up channel).
- :func:`layers` / :func:`layer_expr`: layering (分层) by one quantifiable metric, AUM by default,
  into non-overlapping tiers; every user is in exactly one layer.
- :func:`cluster_users`: behaviour grouping (分群) of investors with KMeans, k chosen by the
  silhouette score.
- :func:`lorenz_curve`, :func:`gini`, :func:`top_share`: how concentrated the value is.

:func:`headline`, :func:`band_shares`, :func:`layer_summary`, :func:`cluster_summary` and
:func:`concentration` gather each question's numbers as plain Python values, keyed as the
chapter glues them (``prof_<key>``).
Every result is ordered deterministically, so the same data always gives the same book.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import ibis
import numpy as np
import pandas as pd

from growthloop.staging.contract import AGE_BANDS
from growthloop.staging.geo import CITY_TIERS, UNKNOWN

__all__ = [
    "DEFAULT_AUM_BOUNDS",
    "DEFAULT_CLUSTER_FEATURES",
    "DEFAULT_LOG_FEATURES",
    "DIMENSION_LABELS",
    "PROFILE_DIMENSIONS",
    "ClusterResult",
    "band_shares",
    "cluster_summary",
    "cluster_users",
    "composition",
    "composition_table",
    "concentration",
    "gini",
    "headline",
    "layer_summary",
    "layer_expr",
    "layer_labels",
    "layers",
    "lorenz_curve",
    "top_share",
]

#: The dimensions the chapter describes users along, and their names on the page.
DIMENSION_LABELS: dict[str, str] = {
    "age_band": "年龄段", "gender": "性别", "region": "地区", "city_tier": "城市等级",
    "device_os": "设备", "signup_channel": "注册渠道",
}
PROFILE_DIMENSIONS: tuple[str, ...] = tuple(DIMENSION_LABELS)

# --------------------------------------------------------------------------------------------
# Composition (用户构成)
# --------------------------------------------------------------------------------------------

#: Dimensions with a natural order; any other dimension is ordered by users descending, then name.
NATURAL_ORDER: dict[str, tuple[str, ...]] = {
    "age_band": tuple(label for label, _, _ in AGE_BANDS),
    "city_tier": CITY_TIERS,
}


def _ratio(num: pd.Series | float, den: pd.Series | float):
    """num / den with NaN (not inf or an error) where the denominator is 0."""
    if isinstance(den, pd.Series):
        return num / den.where(den != 0)
    return float(num) / float(den) if den else float("nan")


def composition(wide: ibis.Table, by: str) -> pd.DataFrame:
    """Describe who the users, the investors and the money (AUM) are along one dimension.

    One grouped query in the engine; shares and rates are worked out on the small result.
    A missing value of the dimension is reported as 未知.

    Parameters
    ----------
    wide : ibis.Table
        The user wide table (`growthloop.marts.wide.user_wide`).
    by : str
        A column of `wide`, usually one of PROFILE_DIMENSIONS (age_band, gender, region,
        city_tier, device_os, signup_channel).

    Returns
    -------
    pandas.DataFrame
        One row per value; columns ``[by, users, investors, aum, user_share, investor_share,
        aum_share, investor_rate, aum_per_investor]``; the rate and the per-investor AUM are NaN in
        a group without investors. Rows follow the dimension's natural order where it has one (age
        bands as in ``contract.AGE_BANDS``, city tiers as in ``geo.CITY_TIERS``), otherwise users
        descending then name; 未知 is always last.
    """
    key = wide[by].cast("string").fill_null(UNKNOWN).name(by)
    grouped = wide.group_by(key).aggregate(
        users=wide.count(),
        investors=wide.count(where=wide.is_investor.fill_null(False)),
        aum=wide.aum.fill_null(0.0).sum(),
    )
    df = grouped.order_by(by).execute()
    df["users"] = df["users"].astype("int64")
    df["investors"] = df["investors"].astype("int64")
    df["aum"] = df["aum"].fillna(0.0).astype("float64")

    df["user_share"] = _ratio(df["users"], pd.Series(df["users"].sum(), index=df.index))
    df["investor_share"] = _ratio(df["investors"],
                                  pd.Series(df["investors"].sum(), index=df.index))
    df["aum_share"] = _ratio(df["aum"], pd.Series(df["aum"].sum(), index=df.index))
    df["investor_rate"] = _ratio(df["investors"], df["users"])
    df["aum_per_investor"] = _ratio(df["aum"], df["investors"])

    unknown = (df[by] == UNKNOWN).astype(int)
    natural = NATURAL_ORDER.get(by)
    if natural is not None:
        rank = {label: i for i, label in enumerate(natural)}
        df["_rank"] = df[by].map(rank).fillna(len(natural))
        df["_unknown"] = unknown
        df = df.sort_values(["_unknown", "_rank", by], kind="mergesort")
    else:
        df["_unknown"] = unknown
        df["_neg_users"] = -df["users"]
        df = df.sort_values(["_unknown", "_neg_users", by], kind="mergesort")
    cols = [by, "users", "investors", "aum", "user_share", "investor_share", "aum_share",
            "investor_rate", "aum_per_investor"]
    return df[cols].reset_index(drop=True)


COMPOSITION_COLUMNS = ("dimension", "value", "users", "investors", "aum", "user_share",
                       "investor_share", "aum_share", "investor_rate", "aum_per_investor")


def composition_table(wide: ibis.Table,
                      dimensions: Sequence[str] = PROFILE_DIMENSIONS) -> pd.DataFrame:
    """Stack :func:`composition` along several dimensions into one long table.

    One grouped query per dimension.

    Parameters
    ----------
    wide : ibis.Table
        The user wide table.
    dimensions : sequence of str, default PROFILE_DIMENSIONS
        Columns of `wide`; at least one.

    Returns
    -------
    pandas.DataFrame
        Columns COMPOSITION_COLUMNS: ``dimension``, ``value`` (the dimension's value) and the
        columns of :func:`composition`; rows by dimension in the order given, then as in
        :func:`composition` (shares are within each dimension).

    Raises
    ------
    ValueError
        When `dimensions` is empty.
    """
    frames = [composition(wide, d).rename(columns={d: "value"}).assign(dimension=d)
              for d in dimensions]
    if not frames:
        raise ValueError("dimensions: give at least one column of the wide table")
    return pd.concat(frames, ignore_index=True)[list(COMPOSITION_COLUMNS)]


def band_shares(table: pd.DataFrame, dimension: str, values: Sequence[str],
                measures: Sequence[str] = ("user_share", "aum_share"),
                prefix: str = "age") -> dict[str, float]:
    """Pick chosen shares of chosen values of one dimension of a :func:`composition_table`.

    Parameters
    ----------
    table : pandas.DataFrame
        A :func:`composition_table` result.
    dimension : str
        The dimension to read ("age_band").
    values : sequence of str
        Its values to report ("18-24", "45-55").
    measures : sequence of str, default ("user_share", "aum_share")
        Columns of `table` to report.
    prefix : str, default "age"
        First part of every key.

    Returns
    -------
    dict of str to float
        Keys ``<prefix>_<value>_<measure>``, the value's ``-`` written ``_`` ("18-24" ->
        ``age_18_24_user_share``); NaN for a value the data does not have.

    Raises
    ------
    ValueError
        When a measure is not a column of `table`.
    """
    part = table[table.dimension == dimension].set_index("value")
    unknown = [m for m in measures if m not in table.columns]
    if unknown:
        raise ValueError(f"measures: {unknown} are not columns of the composition table")
    out = {}
    for value in values:
        for measure in measures:
            share = part[measure].get(value, float("nan"))
            out[f"{prefix}_{value.replace('-', '_')}_{measure}"] = float(share)
    return out


# --------------------------------------------------------------------------------------------
# Layering (分层)
# --------------------------------------------------------------------------------------------

#: AUM tiers in yuan: 0 (no assets), (0, 1万), [1万, 5万), [5万, 20万), [20万, 100万), [100万, ∞).
DEFAULT_AUM_BOUNDS: tuple[float, ...] = (0.0, 10_000.0, 50_000.0, 200_000.0, 1_000_000.0)

#: Label of the bottom tier (value ≤ the first bound, or missing) for the usual money metrics.
ZERO_LABELS: dict[str, tuple[str, str]] = {
    "aum": ("无资产", "no assets"),
    "invest_amount": ("未投资", "never invested"),
    "first_invest_amount": ("未投资", "never invested"),
    "revenue": ("无收入", "no revenue"),
    "invest_count": ("未投资", "never invested"),
}


def _num(x: float) -> str:
    """A number without a useless ``.0``."""
    return f"{x:g}" if abs(x) < 1e15 else f"{x:.0f}"


def _fmt_zh(x: float) -> str:
    """Chinese amount label: 5000, 1万, 2.5万, 100万, 1亿."""
    if abs(x) >= 1e8:
        return f"{_num(x / 1e8)}亿"
    if abs(x) >= 1e4:
        return f"{_num(x / 1e4)}万"
    return _num(x)


def _fmt_en(x: float) -> str:
    """English amount label: 5000 -> 5k, 1e6 -> 1m, 1e9 -> 1bn."""
    if abs(x) >= 1e9:
        return f"{_num(x / 1e9)}bn"
    if abs(x) >= 1e6:
        return f"{_num(x / 1e6)}m"
    if abs(x) >= 1e3:
        return f"{_num(x / 1e3)}k"
    return _num(x)


def _check_bounds(bounds: Sequence[float]) -> list[float]:
    b = [float(x) for x in bounds]
    if not b:
        raise ValueError("layers need at least one bound")
    if any(not math.isfinite(x) for x in b):
        raise ValueError(f"layer bounds must be finite numbers, got {list(bounds)}")
    if any(hi <= lo for lo, hi in zip(b, b[1:], strict=False)):
        raise ValueError(f"layer bounds must be strictly increasing, got {list(bounds)}")
    return b


def layer_labels(metric: str = "aum", bounds: Sequence[float] = DEFAULT_AUM_BOUNDS
                 ) -> list[tuple[str, str, float, float]]:
    """List the tiers of a layering (分层), bottom first: ``(label, label_en, lower, upper)``.

    With bounds ``b0 < b1 < ... < bm`` the tiers are: value ≤ b0 or missing (e.g. 无资产; lower =
    upper = b0), ``(b0, b1)`` (e.g. 1万以下), ``[b_i, b_{i+1})`` (e.g. 1万-5万) and
    ``[bm, ∞)`` (e.g. 100万以上). Tiers never overlap: a value equal to a bound goes up.

    Parameters
    ----------
    metric : str, default "aum"
        The metric layered; names the bottom tier (ZERO_LABELS: 无资产, 未投资, 无收入) when the
        first bound is 0, else "b0及以下".
    bounds : sequence of float, default DEFAULT_AUM_BOUNDS
        Finite, strictly increasing bounds in the metric's unit; at least one.

    Returns
    -------
    list of tuple
        ``(label, label_en, lower, upper)`` per tier; labels in 万/亿 and k/m/bn.

    Raises
    ------
    ValueError
        When `bounds` is empty, not finite or not strictly increasing.

    Examples
    --------
    >>> for tier in layer_labels("aum", (0, 10_000)):
    ...     print(tier)
    ('无资产', 'no assets', 0.0, 0.0)
    ('1万以下', 'under 10k', 0.0, 10000.0)
    ('1万以上', '10k+', 10000.0, inf)
    """
    b = _check_bounds(bounds)
    zero = ZERO_LABELS.get(metric)
    if zero is None or b[0] != 0:
        zero = (f"{_fmt_zh(b[0])}及以下", f"{_fmt_en(b[0])} or less")
    tiers = [(zero[0], zero[1], b[0], b[0])]
    for lo, hi in zip(b, b[1:], strict=False):
        if lo == b[0]:
            tiers.append((f"{_fmt_zh(hi)}以下", f"under {_fmt_en(hi)}", lo, hi))
        else:
            tiers.append((f"{_fmt_zh(lo)}-{_fmt_zh(hi)}", f"{_fmt_en(lo)}-{_fmt_en(hi)}", lo, hi))
    if len(b) == 1:
        tiers.append((f"{_fmt_zh(b[0])}以上", f"over {_fmt_en(b[0])}", b[0], math.inf))
    else:
        tiers.append((f"{_fmt_zh(b[-1])}以上", f"{_fmt_en(b[-1])}+", b[-1], math.inf))
    return tiers


def layer_expr(wide: ibis.Table, metric: str = "aum",
               bounds: Sequence[float] = DEFAULT_AUM_BOUNDS) -> ibis.StringValue:
    """Build the Ibis expression of each user's layer label (tiers: :func:`layer_labels`).

    Other chapters reuse it, e.g. ``wide.mutate(layer=layer_expr(wide))``. A missing metric is
    counted in the bottom tier (for AUM: no assets).

    Parameters
    ----------
    wide : ibis.Table
        The user wide table.
    metric : str, default "aum"
        A numeric column of `wide`.
    bounds : sequence of float, default DEFAULT_AUM_BOUNDS
        As for :func:`layer_labels`.

    Returns
    -------
    ibis.StringValue
        The label, named ``layer`` (an expression, not executed).

    Raises
    ------
    ValueError
        For bad `bounds`, as :func:`layer_labels`.
    """
    tiers = layer_labels(metric, bounds)
    value = wide[metric]
    b = [t[3] for t in tiers[:-1]]  # b0, b1, ..., bm
    cases = [((value.isnull() | (value <= b[0])), tiers[0][0])]
    for (label, _, _, upper) in tiers[1:-1]:
        cases.append((value < upper, label))
    return ibis.cases(*cases, else_=tiers[-1][0]).name("layer")


def layers(wide: ibis.Table, metric: str = "aum",
           bounds: Sequence[float] = DEFAULT_AUM_BOUNDS) -> pd.DataFrame:
    """Layer (分层) all users by one metric into non-overlapping tiers.

    One grouped query in the engine. Every tier is listed, bottom first, empty ones with 0
    users. A missing metric counts as the bottom tier and as 0 in the sums.

    Parameters
    ----------
    wide : ibis.Table
        The user wide table.
    metric : str, default "aum"
        A numeric column of `wide`.
    bounds : sequence of float, default DEFAULT_AUM_BOUNDS
        As for :func:`layer_labels`.

    Returns
    -------
    pandas.DataFrame
        One row per tier; columns ``layer``, ``layer_en``, ``lower``, ``upper``, ``users``,
        ``user_share``, ``metric_sum``, ``metric_share``, ``metric_mean`` (NaN in an empty tier).

    Raises
    ------
    ValueError
        For bad `bounds`, as :func:`layer_labels`.
    """
    tiers = layer_labels(metric, bounds)
    label = layer_expr(wide, metric, bounds)
    value = wide[metric].cast("float64").fill_null(0.0)
    grouped = wide.group_by(label).aggregate(users=wide.count(), metric_sum=value.sum())
    got = grouped.order_by("layer").execute().set_index("layer")

    frame = pd.DataFrame(tiers, columns=["layer", "layer_en", "lower", "upper"])
    frame["users"] = frame["layer"].map(got["users"]).fillna(0).astype("int64")
    frame["metric_sum"] = frame["layer"].map(got["metric_sum"]).fillna(0.0).astype("float64")
    total_users = int(frame["users"].sum())
    total_value = float(frame["metric_sum"].sum())
    frame["user_share"] = frame["users"] / total_users if total_users else np.nan
    frame["metric_share"] = frame["metric_sum"] / total_value if total_value else np.nan
    frame["metric_mean"] = _ratio(frame["metric_sum"], frame["users"])
    return frame[["layer", "layer_en", "lower", "upper", "users", "user_share", "metric_sum",
                  "metric_share", "metric_mean"]]


#: The lower bound (yuan) of the tiers the chapter calls the top tiers (20万 and more).
TOP_LAYERS_FROM = 200_000.0


def layer_summary(table: pd.DataFrame, top_from: float = TOP_LAYERS_FROM) -> dict[str, float]:
    """Gather the layering's numbers for the chapter's prose, from a :func:`layers` table.

    Parameters
    ----------
    table : pandas.DataFrame
        A :func:`layers` result (bottom tier first).
    top_from : float, default TOP_LAYERS_FROM (200,000 yuan)
        Tiers whose lower bound is at or above it are the top tiers.

    Returns
    -------
    dict of str to float
        ``top_layers_user_share`` / ``top_layers_aum_share``: the share of users, and of the
        metric (AUM), in the top tiers; ``no_asset_share``: the share of users in the bottom tier
        (nothing held; NaN for an empty table).
    """
    top = table[table.lower >= top_from]
    return {
        "top_layers_user_share": float(top.user_share.sum()),
        "top_layers_aum_share": float(top.metric_share.sum()),
        "no_asset_share": float(table.user_share.iloc[0]) if len(table) else float("nan"),
    }


# --------------------------------------------------------------------------------------------
# Behaviour clusters (分群)
# --------------------------------------------------------------------------------------------

#: Default behaviour features: frequency, amount, assets, recency and tenure of an investor.
#: first_invest_amount is left out by default: it is mostly repeated by invest_amount.
DEFAULT_CLUSTER_FEATURES: tuple[str, ...] = (
    "invest_count", "invest_amount", "aum", "days_since_last_invest", "tenure_days",
)
#: Heavy-tailed features that are clustered as log1p(max(x, 0)).
DEFAULT_LOG_FEATURES: frozenset[str] = frozenset(
    {"invest_count", "invest_amount", "aum", "first_invest_amount", "revenue"}
)
#: (word when the cluster is above the overall mean, word when below) for each feature.
FEATURE_WORDS: dict[str, tuple[str, str]] = {
    "invest_count": ("高频", "低频"),
    "invest_amount": ("大额", "小额"),
    "aum": ("高资产", "低资产"),
    "days_since_last_invest": ("久未投资", "近期活跃"),
    "days_since_active": ("久未活跃", "近期活跃"),
    "tenure_days": ("老用户", "新用户"),
    "first_invest_amount": ("首投大额", "首投小额"),
    "revenue": ("高贡献", "低贡献"),
}
#: A cluster mean at least this many (sample) standard deviations from the overall mean, on the
#: clustering scale, earns the feature's word.
DESCRIBE_THRESHOLD = 0.5
#: At most this many words per description: the most distinctive features.
DESCRIBE_MAX_WORDS = 3
#: Description of a cluster that is near the overall mean on every feature.
TYPICAL = "中等 · 均衡"


@dataclass
class ClusterResult:
    """KMeans behaviour clusters of investors; labels 1..k, cluster 1 has the highest AUM centroid.

    Made by :func:`cluster_users`.

    Attributes
    ----------
    k : int
        The chosen number of clusters (highest silhouette; ties go to the smaller k).
    scores : pandas.DataFrame
        One row per k tried: k, silhouette, inertia, chosen.
    centroids : pandas.DataFrame
        One row per cluster, each feature's centroid mapped back to original units (for a log
        feature that is a typical, geometric-mean-like value, not the mean).
    profile : pandas.DataFrame
        One row per cluster over *every* investor (assigned in the engine): cluster, users,
        user_share, mean_<feature> (arithmetic mean in original units), aum, aum_share,
        description.
    description : dict of int to str
        {cluster: plain-Chinese phrase}, see :func:`cluster_users`.
    features, log_features, means, stds, fill, centers
        What the in-engine assignment needs: the transform, the standardisation fitted on the
        sample and the centroids on the standardised scale (rows in label order).
    sample_size : int
        How many investors the model was fitted on.
    model : sklearn.cluster.KMeans
        The fitted KMeans of the chosen k.
    relabel : dict of int to int
        Maps the model's labels (0..k-1) to ours (1..k).
    """

    k: int
    scores: pd.DataFrame
    centroids: pd.DataFrame
    profile: pd.DataFrame
    description: dict[int, str]
    features: tuple[str, ...]
    log_features: frozenset[str]
    means: dict[str, float]
    stds: dict[str, float]
    fill: dict[str, float]
    centers: np.ndarray = field(repr=False)
    sample_size: int = 0
    model: object = field(default=None, repr=False)
    relabel: dict[int, int] = field(default_factory=dict)

    def standardised(self, wide: ibis.Table) -> dict[str, ibis.FloatingValue]:
        """Build each user's standardised feature expressions, as used by the model.

        Log features as log1p(max(x, 0)), a missing value filled with the sample mean, then centred
        and scaled with the sample's mean and standard deviation.

        Parameters
        ----------
        wide : ibis.Table
            The user wide table (or any table with the features).

        Returns
        -------
        dict of str to ibis.FloatingValue
            One expression per feature (not executed).
        """
        raw = _transformed(wide, self.features, self.log_features)
        return {f: (raw[f].fill_null(self.fill[f]) - self.means[f]) / self.stds[f]
                for f in self.features}

    def _distances(self, z: dict[str, ibis.FloatingValue]) -> list[ibis.FloatingValue]:
        """Squared Euclidean distance of each user to each centroid, in label order."""
        dist = []
        for center in self.centers:
            terms = [(z[f] - float(c)) ** 2 for f, c in zip(self.features, center, strict=True)]
            total = terms[0]
            for term in terms[1:]:
                total = total + term
            dist.append(total)
        return dist

    @staticmethod
    def _argmin(dist: Sequence[ibis.FloatingValue]) -> ibis.IntegerValue:
        """1-based label of the smallest distance; a tie goes to the lower label."""
        k = len(dist)
        branches = []
        for j in range(k - 1):
            cond = dist[j] <= dist[j + 1]
            for m in range(j + 2, k):
                cond = cond & (dist[j] <= dist[m])
            branches.append((cond, j + 1))
        label = ibis.cases(*branches, else_=k) if branches else ibis.literal(1)
        return label.cast("int64")

    def assign_expr(self, wide: ibis.Table) -> ibis.IntegerValue:
        """Build the Ibis expression of each user's cluster label (1..k); NULL for non-investors.

        Nearest centroid by squared Euclidean distance on the standardised features; a tie goes
        to the lower label. One self-contained column expression, so it can be used in any
        ``mutate``/``group_by`` of ``wide``; :meth:`assign` gives the same labels with the
        distances computed once per row (cheaper on big tables).

        Parameters
        ----------
        wide : ibis.Table
            The user wide table (features and ``is_investor``).

        Returns
        -------
        ibis.IntegerValue
            The label, named ``cluster`` (an expression, not executed).
        """
        label = self._argmin(self._distances(self.standardised(wide)))
        investor = wide.is_investor.fill_null(False)
        return ibis.ifelse(investor, label, ibis.null("int64")).name("cluster")

    def assign(self, wide: ibis.Table) -> ibis.Table:
        """Add a ``cluster`` column to `wide` (1..k, NULL for non-investors), computed in stages.

        The same labels as :meth:`assign_expr`, with the distances computed once per row.

        Parameters
        ----------
        wide : ibis.Table
            The user wide table (features and ``is_investor``).

        Returns
        -------
        ibis.Table
            `wide`'s columns and ``cluster`` (not executed).
        """
        zt = wide.mutate(**{f"_gl_z_{f}": e for f, e in self.standardised(wide).items()})
        z = {f: zt[f"_gl_z_{f}"] for f in self.features}
        dt = zt.mutate(**{f"_gl_d_{j}": d for j, d in enumerate(self._distances(z))})
        label = self._argmin([dt[f"_gl_d_{j}"] for j in range(self.k)])
        out = dt.mutate(cluster=ibis.ifelse(dt.is_investor.fill_null(False), label,
                                            ibis.null("int64")))
        return out.drop(*[c for c in out.columns if c.startswith("_gl_d_")],
                        *[f"_gl_z_{f}" for f in self.features])


def _transformed(wide: ibis.Table, features: Sequence[str],
                 log_features: Collection[str]) -> dict[str, ibis.FloatingValue]:
    """Each feature on the clustering scale (before standardisation); NULL stays NULL."""
    out = {}
    for f in features:
        x = wide[f].cast("float64")
        if f in log_features:
            x = ibis.ifelse(x.isnull(), ibis.null("float64"),
                            (ibis.ifelse(x > 0, x, 0.0) + 1.0).ln())
        out[f] = x
    return out


def _sample(investors: ibis.Table, features: Sequence[str], log_features: Collection[str],
            sample_size: int) -> pd.DataFrame:
    """A deterministic systematic sample of investors on the clustering scale.

    Investors are ordered by user_id and every ``ceil(n / sample_size)``-th one is taken, so the
    same data gives the same sample on any backend (a hash would differ between engines).
    """
    n = int(investors.count().execute())
    table = investors
    if n > sample_size:
        stride = math.ceil(n / sample_size)
        numbered = investors.mutate(_gl_rn=ibis.row_number().over(order_by=investors.user_id))
        table = numbered.filter(numbered._gl_rn % stride == 0)
    cols = _transformed(table, features, log_features)
    return table.select(table.user_id, **cols).order_by("user_id").execute()


def _describe(deviation: pd.Series) -> str:
    """Plain-Chinese phrase from a cluster's standardised deviations from the overall mean."""
    strong = deviation[deviation.abs() >= DESCRIBE_THRESHOLD]
    if strong.empty:
        return TYPICAL
    top = strong.abs().sort_values(ascending=False, kind="mergesort").index[:DESCRIBE_MAX_WORDS]
    words = []
    for f in deviation.index:  # keep the features' own order for a readable phrase
        if f not in top:
            continue
        high, low = FEATURE_WORDS.get(f, (f"{f}高", f"{f}低"))
        word = high if deviation[f] > 0 else low
        if word not in words:
            words.append(word)
    return " · ".join(words)


def cluster_users(wide: ibis.Table,
                  features: Sequence[str] = DEFAULT_CLUSTER_FEATURES,
                  k_range: Sequence[int] = range(2, 9),
                  sample_size: int = 50_000,
                  seed: int = 7,
                  log_features: Collection[str] = DEFAULT_LOG_FEATURES) -> ClusterResult:
    """Group investors by behaviour (分群) with KMeans; k chosen by the silhouette score.

    1. Sample: a deterministic systematic sample of at most ``sample_size`` investors
       (``is_investor``) ordered by user_id (see :func:`_sample`).
    2. Scale: features in ``log_features`` become log1p(max(x, 0)) (money and counts are heavy
       tailed); a missing value is filled with the sample mean; every feature is standardised
       with the sample mean and (population) standard deviation.
    3. Fit: ``KMeans(n_clusters=k, n_init=10, random_state=seed)`` for each k in ``k_range``
       (k between 2 and the number of distinct sample points); the silhouette score is computed
       on at most 5,000 sample points (``random_state=seed``). The highest score wins, ties go to
       the smaller k.
    4. Label: clusters are renumbered 1..k by descending centroid of ``aum`` (else of the first
       feature), ties by the other features in order, so labels do not flip between runs.
    5. Assign: every investor goes to its nearest centroid *in the engine*
       (:meth:`ClusterResult.assign_expr`), and sizes and profiles are computed over all of them.

    Description rule: on the clustering scale (log where noted, standardised), a feature whose
    cluster mean is at least 0.5 sd above the overall investor mean earns its "high" word (高频,
    大额, 高资产, 久未投资, 老用户, ...), at least 0.5 sd below its "low" word (低频, 小额,
    低资产, 近期活跃, 新用户, ...). The (at most) three most distinctive words are joined with
    " · " in feature order; a cluster with none is 中等 · 均衡.

    Parameters
    ----------
    wide : ibis.Table
        The user wide table.
    features : sequence of str, default DEFAULT_CLUSTER_FEATURES
        Numeric columns of `wide` to cluster on; at least one.
    k_range : sequence of int, default range(2, 9)
        The k to try; those outside 2..min(distinct sample points, sample size - 1) are skipped.
    sample_size : int, default 50_000
        Most investors the model is fitted on.
    seed : int, default 7
        Random state of KMeans and of the silhouette's sample.
    log_features : collection of str, default DEFAULT_LOG_FEATURES
        Features clustered as log1p(max(x, 0)); names not in `features` are ignored.

    Returns
    -------
    ClusterResult
        The chosen model, its scores, centroids and the profile of every investor's cluster.

    Raises
    ------
    ValueError
        When `features` is empty or not all columns of `wide`, there are fewer than 3
        investors, or no k of `k_range` fits the sample.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    features = tuple(features)
    if not features:
        raise ValueError("cluster_users needs at least one feature")
    missing = [f for f in features if f not in wide.columns]
    if missing:
        raise ValueError(f"user wide table has no column(s) {missing} to cluster on")
    log_features = frozenset(f for f in log_features if f in features)
    investors = wide.filter(wide.is_investor.fill_null(False))

    sample = _sample(investors, features, log_features, sample_size)
    if len(sample) < 3:
        raise ValueError(f"cluster_users needs at least 3 investors, the table has {len(sample)}")
    x = sample[list(features)].astype("float64")
    fill = {f: float(x[f].mean()) if x[f].notna().any() else 0.0 for f in features}
    x = x.fillna(fill)
    means = {f: float(x[f].mean()) for f in features}
    stds = {f: float(x[f].std(ddof=0)) for f in features}
    stds = {f: (s if s > 0 and math.isfinite(s) else 1.0) for f, s in stds.items()}
    z = ((x - pd.Series(means)) / pd.Series(stds)).to_numpy()

    distinct = len(np.unique(z, axis=0))
    ks = sorted({int(k) for k in k_range if 2 <= int(k) <= min(distinct, len(z) - 1)})
    if not ks:
        raise ValueError(f"no k in {list(k_range)} fits {distinct} distinct sample points")
    rows, models = [], {}
    for k in ks:
        model = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(z)
        sil = silhouette_score(z, model.labels_, sample_size=min(5000, len(z)),
                               random_state=seed)
        rows.append({"k": k, "silhouette": float(sil), "inertia": float(model.inertia_)})
        models[k] = model
    scores = pd.DataFrame(rows)
    best = scores.sort_values(["silhouette", "k"], ascending=[False, True], kind="mergesort")
    k = int(best["k"].iloc[0])
    scores["chosen"] = scores["k"] == k

    # Deterministic renumbering: by descending centroid of aum (or the first feature).
    centers = models[k].cluster_centers_
    first = features.index("aum") if "aum" in features else 0
    order_keys = [first] + [i for i in range(len(features)) if i != first]
    order = sorted(range(k), key=lambda j: tuple(-centers[j, i] for i in order_keys))
    centers = centers[order]

    # Centroids in original units.
    orig = centers * np.array([stds[f] for f in features]) + np.array([means[f] for f in features])
    centroids = pd.DataFrame(orig, columns=list(features))
    for f in features:
        if f in log_features:
            centroids[f] = np.expm1(centroids[f])
    centroids.insert(0, "cluster", np.arange(1, k + 1, dtype="int64"))

    result = ClusterResult(
        k=k, scores=scores, centroids=centroids, profile=pd.DataFrame(), description={},
        features=features, log_features=log_features, means=means, stds=stds, fill=fill,
        centers=centers, sample_size=len(sample), model=models[k],
        relabel={int(old): new for new, old in enumerate(order, start=1)},
    )
    result.profile, result.description = _profile(result, investors)
    return result


def _profile(res: ClusterResult, investors: ibis.Table) -> tuple[pd.DataFrame, dict[int, str]]:
    """Sizes, feature means, AUM share and description of each cluster over all investors."""
    z = res.standardised(investors)
    assigned = res.assign(investors.mutate(**{f"_gl_zz_{f}": z[f] for f in res.features}))
    assigned = assigned.rename(**{f"_gl_z_{f}": f"_gl_zz_{f}" for f in res.features})
    aggs = {"users": assigned.count(), "aum": assigned.aum.fill_null(0.0).sum()}
    for f in res.features:
        aggs[f"mean_{f}"] = assigned[f].cast("float64").mean()
        aggs[f"_z_{f}"] = assigned[f"_gl_z_{f}"].mean()
    per = assigned.group_by("cluster").aggregate(**aggs).order_by("cluster").execute()
    overall = assigned.aggregate(**{f"_z_{f}": assigned[f"_gl_z_{f}"].mean()
                                    for f in res.features}).execute()

    frame = pd.DataFrame({"cluster": np.arange(1, res.k + 1, dtype="int64")})
    frame = frame.merge(per, on="cluster", how="left")
    frame["users"] = frame["users"].fillna(0).astype("int64")
    frame["aum"] = frame["aum"].fillna(0.0).astype("float64")
    total_users = int(frame["users"].sum())
    total_aum = float(frame["aum"].sum())
    frame["user_share"] = frame["users"] / total_users if total_users else np.nan
    frame["aum_share"] = frame["aum"] / total_aum if total_aum else np.nan

    description = {}
    for _, row in frame.iterrows():
        dev = pd.Series({f: float(row[f"_z_{f}"]) - float(overall[f"_z_{f}"].iloc[0])
                         for f in res.features})
        description[int(row["cluster"])] = _describe(dev.fillna(0.0))
    frame["description"] = frame["cluster"].map(description)
    cols = (["cluster", "users", "user_share"] + [f"mean_{f}" for f in res.features]
            + ["aum", "aum_share", "description"])
    return frame[cols], description


def cluster_summary(result: ClusterResult) -> dict[str, int | float | str]:
    """Gather the clusters' numbers for the chapter's prose.

    Parameters
    ----------
    result : ClusterResult
        A :func:`cluster_users` result.

    Returns
    -------
    dict
        ``k`` (int), and for the first cluster (the highest AUM centroid) ``cluster1_desc`` (its
        description, 无 when there is none), ``cluster1_user_share`` (share of investors) and
        ``cluster1_aum_share`` (share of their AUM).
    """
    first = result.profile.iloc[0] if len(result.profile) else None
    nan = float("nan")
    return {
        "k": int(result.k),
        "cluster1_desc": str(first.description) if first is not None else "无",
        "cluster1_user_share": float(first.user_share) if first is not None else nan,
        "cluster1_aum_share": float(first.aum_share) if first is not None else nan,
    }


# --------------------------------------------------------------------------------------------
# Value concentration (价值集中度)
# --------------------------------------------------------------------------------------------


def _population(wide: ibis.Table, metric: str, investors_only: bool) -> tuple[ibis.Table,
                                                                              ibis.Value]:
    """The users a concentration measure is taken over, and their metric as float64.

    ``investors_only=True``: users with a positive metric (for AUM: investors who hold assets);
    ``False``: every user, a missing metric counting as 0.
    """
    value = wide[metric].cast("float64")
    if investors_only:
        pop = wide.filter(value > 0)
        return pop, pop[metric].cast("float64")
    pop = wide.mutate(_gl_x=value.fill_null(0.0))
    return pop, pop._gl_x


def lorenz_curve(wide: ibis.Table, metric: str = "aum", points: int = 100,
                 investors_only: bool = True) -> pd.DataFrame:
    """Trace the Lorenz curve of a metric: the share of value held by the poorest share of people.

    Users are ranked ascending by (metric, user_id) in the engine, cut into ``points`` equal
    groups with ntile and the cumulative value at the end of each group is read. The population
    is as in :func:`gini`.

    Parameters
    ----------
    wide : ibis.Table
        The user wide table.
    metric : str, default "aum"
        A numeric column of `wide`.
    points : int, default 100
        Number of groups (curve points after the origin); at least 1.
    investors_only : bool, default True
        True: users with a positive metric; False: every user, a missing metric counting as 0.

    Returns
    -------
    pandas.DataFrame
        Columns ``population_share``, ``value_share``; the curve starts at (0, 0) and ends at
        (1, 1) (fewer points when there are fewer users than ``points``; no row without users;
        value_share NaN when the total is 0).

    Raises
    ------
    ValueError
        When `points` is below 1.

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"user_id": ["a", "b", "c", "d"], "aum": [1.0, 2.0, 3.0, 4.0]})
    >>> lorenz_curve(t, points=2).value_share.tolist()   # the poorer half holds (1+2)/10
    [0.0, 0.3, 1.0]
    """
    if points < 1:
        raise ValueError("points must be at least 1")
    pop, x = _population(wide, metric, investors_only)
    order = [x, pop.user_id]
    ranked = pop.mutate(
        _gl_v=x,
        _gl_rn=ibis.row_number().over(order_by=order) + 1,
        _gl_bucket=ibis.ntile(points).over(order_by=order),
        _gl_cum=x.sum().over(ibis.window(order_by=order, rows=(None, 0))),
        _gl_n=pop.count().over(),
    )
    curve = (ranked.group_by("_gl_bucket")
             .aggregate(rows=ranked._gl_rn.max(), cum=ranked._gl_cum.max(), n=ranked._gl_n.max())
             .order_by("_gl_bucket").execute())
    start = pd.DataFrame({"population_share": [0.0], "value_share": [0.0]})
    if curve.empty:
        return start.iloc[0:0]
    total = float(curve["cum"].iloc[-1])  # same window sum as every point: the end is exactly 1
    body = pd.DataFrame({
        "population_share": curve["rows"].astype("float64") / curve["n"].astype("float64"),
        "value_share": curve["cum"].astype("float64") / total if total > 0 else np.nan,
    })
    return pd.concat([start, body], ignore_index=True)


def gini(wide: ibis.Table, metric: str = "aum", investors_only: bool = True) -> float:
    """Compute the exact Gini coefficient of a metric in the engine.

    G = 2·Σ i·x_(i) / (n·Σx) − (n+1)/n over the values sorted ascending (i = 1..n); 0 when
    everyone holds the same, (n−1)/n when one user holds everything.

    Parameters
    ----------
    wide : ibis.Table
        The user wide table.
    metric : str, default "aum"
        A numeric column of `wide`.
    investors_only : bool, default True
        True: users with a positive metric; False: every user, a missing metric counting as 0.

    Returns
    -------
    float
        The coefficient; NaN when there is no user or no value.

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"user_id": ["a", "b", "c", "d"], "aum": [1.0, 2.0, 3.0, 4.0]})
    >>> gini(t)   # 2·(1·1+2·2+3·3+4·4) / (4·10) − 5/4 = 1.5 − 1.25
    0.25
    """
    pop, x = _population(wide, metric, investors_only)
    ranked = pop.mutate(_gl_v=x, _gl_i=ibis.row_number().over(order_by=[x, pop.user_id]) + 1)
    agg = ranked.aggregate(
        n=ranked.count(),
        total=ranked._gl_v.sum(),
        weighted=(ranked._gl_i.cast("float64") * ranked._gl_v).sum(),
    ).execute()
    n = int(agg["n"].iloc[0])
    total = agg["total"].iloc[0]
    if n == 0 or pd.isna(total) or float(total) == 0:
        return float("nan")
    total = float(total)
    weighted = float(agg["weighted"].iloc[0])
    return float(2.0 * weighted / (n * total) - (n + 1) / n)


def top_share(wide: ibis.Table, metric: str = "aum", top: float = 0.2,
              investors_only: bool = True) -> float:
    """Share of the metric held by the top ``top`` fraction of the population (default 20%).

    Users are ranked by metric descending then user_id; the top ``ceil(top·n)`` of them are
    counted. Population as in :func:`gini`.

    Parameters
    ----------
    wide : ibis.Table
        The user wide table.
    metric : str, default "aum"
        A numeric column of `wide`.
    top : float, default 0.2
        The fraction of the population, in (0, 1].
    investors_only : bool, default True
        True: users with a positive metric; False: every user, a missing metric counting as 0.

    Returns
    -------
    float
        The share; NaN when there is no user or no value.

    Raises
    ------
    ValueError
        When `top` is not in (0, 1].

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"user_id": ["a", "b", "c", "d"], "aum": [1.0, 2.0, 3.0, 4.0]})
    >>> top_share(t, top=0.5)   # the top 2 of 4 hold (4+3)/10
    0.7
    """
    if not 0 < top <= 1:
        raise ValueError(f"top must be in (0, 1], got {top}")
    pop, x = _population(wide, metric, investors_only)
    n = int(pop.count().execute())
    if n == 0:
        return float("nan")
    m = math.ceil(top * n - 1e-9)  # guard 0.1 * 30 = 3.0000000000000004
    ranked = pop.mutate(_gl_v=x,
                        _gl_r=ibis.row_number().over(order_by=[x.desc(), pop.user_id]) + 1)
    agg = ranked.aggregate(total=ranked._gl_v.sum(),
                           top=ranked._gl_v.sum(where=ranked._gl_r <= m)).execute()
    total = agg["total"].iloc[0]
    if pd.isna(total) or float(total) == 0:
        return float("nan")
    top_value = agg["top"].iloc[0]
    return float((0.0 if pd.isna(top_value) else float(top_value)) / float(total))


# --------------------------------------------------------------------------------------------
# Headline numbers
# --------------------------------------------------------------------------------------------


def headline(wide: ibis.Table) -> dict[str, int | float]:
    """Count who the platform has, as plain Python numbers for the book to glue (``prof_<key>``).

    How concentrated the assets are is :func:`concentration`.

    Parameters
    ----------
    wide : ibis.Table
        The user wide table.

    Returns
    -------
    dict of str to int or float
        ``users``, ``investors``, ``investor_rate``, ``aum_total`` (yuan), ``aum_total_wan`` (the
        same in 万元, 10,000 yuan, as the page states it) and ``aum_per_investor`` (yuan); rates
        NaN when the denominator is 0.
    """
    agg = wide.aggregate(
        users=wide.count(),
        investors=wide.count(where=wide.is_investor.fill_null(False)),
        aum_total=wide.aum.fill_null(0.0).sum(),
    ).execute()
    users = int(agg["users"].iloc[0])
    investors = int(agg["investors"].iloc[0])
    aum_total = agg["aum_total"].iloc[0]
    aum_total = 0.0 if pd.isna(aum_total) else float(aum_total)
    return {
        "users": users,
        "investors": investors,
        "investor_rate": float(investors / users) if users else float("nan"),
        "aum_total": aum_total,
        "aum_total_wan": aum_total / 1e4,
        "aum_per_investor": float(aum_total / investors) if investors else float("nan"),
    }


def concentration(wide: ibis.Table, metric: str = "aum") -> dict[str, float]:
    """Measure how concentrated the metric is over its holders.

    Parameters
    ----------
    wide : ibis.Table
        The user wide table.
    metric : str, default "aum"
        A numeric column of `wide`; the population is the users with a positive value.

    Returns
    -------
    dict of str to float
        ``gini`` (:func:`gini`) and ``top20_share`` (the share held by the top 20%,
        :func:`top_share`), plain floats.
    """
    return {"gini": gini(wide, metric), "top20_share": top_share(wide, metric, 0.2)}

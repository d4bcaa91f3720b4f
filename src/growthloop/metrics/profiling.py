"""User profiling (用户画像): composition, layering, behaviour clusters and value concentration.

Every function takes the user wide table (用户宽表, see :mod:`growthloop.marts.wide`) as an Ibis table
and runs its work in the engine; only small aggregated frames (one row per group, layer,
cluster or curve point) come back as pandas. The one exception is :func:`cluster_users`, which
fits KMeans on a bounded, deterministic sample of investors and then assigns *every* investor to
its nearest centroid in the engine.

The four questions of the chapter:

- :func:`composition`: who the users, the investors and the money are along one dimension
  (age band, gender, region, city tier, device, sign-up channel); :func:`known_dimensions` and
  :func:`panel_dimensions` say which dimensions the data has (a blank or absent column is one
  value, 未知).
- :func:`layers` / :func:`layer_expr`: layering (分层) by one quantifiable metric, AUM by default,
  into non-overlapping tiers; every user is in exactly one layer.
- :func:`cluster_users`: behaviour grouping (分群) of investors with KMeans, k chosen by the
  silhouette score among the k the data supports.
- :func:`lorenz_curve`, :func:`gini`, :func:`top_share`: how concentrated the value is.

:func:`headline`, :func:`signup_span`, :func:`composition_summary`, :func:`layer_summary`,
:func:`cluster_summary` and :func:`concentration` gather each question's numbers as plain Python
values, keyed as the chapter glues them (``prof_<key>``).

What the data cannot support raises `growthloop.errors.NotAvailable` (the chapter shows the
book's note for that section and goes on): no dimension with a known value, nobody above the
bottom tier, too few (or too alike) investors for the k asked for, too few holders for a
concentration measure, no user at all. A bad parameter (a metric that is not a numeric column,
bounds that are not increasing numbers, k below 2) raises ValueError.
Every result is ordered deterministically, so the same data always gives the same book.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import ibis
import numpy as np
import pandas as pd

from growthloop.engine import money_sum
from growthloop.errors import NotAvailable
from growthloop.staging.contract import AGE_BANDS, UNTAGGED_CHANNEL
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
    "composition_summary",
    "composition_table",
    "concentration",
    "gini",
    "headline",
    "layer_summary",
    "layer_expr",
    "layer_labels",
    "layers",
    "lorenz_curve",
    "metric_label",
    "known_dimensions",
    "panel_dimensions",
    "signup_span",
    "top_share",
]

#: The dimensions the chapter describes users along, and their names on the page.
DIMENSION_LABELS: dict[str, str] = {
    "age_band": "年龄段", "gender": "性别", "region": "地区", "city_tier": "城市等级",
    "device_os": "设备", "signup_channel": "注册渠道",
}
PROFILE_DIMENSIONS: tuple[str, ...] = tuple(DIMENSION_LABELS)
#: The dimensions the composition figure draws first, when the data has them.
PANEL_DIMENSIONS: tuple[str, ...] = ("age_band", "city_tier", "region", "device_os")
#: The users-table columns each dimension is derived from (what to supply when it is unknown).
DIMENSION_SOURCES: dict[str, str] = {
    "age_band": "birth_year", "gender": "gender", "region": "province",
    "city_tier": "city / city_tier", "device_os": "device_os", "signup_channel": "utm_source",
}
#: Values that say the dimension is not known for the user (未知; an untagged sign-up, 未标记).
UNKNOWN_VALUES: frozenset[str] = frozenset({UNKNOWN, UNTAGGED_CHANNEL})

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
        aum=money_sum(wide.aum.fill_null(0.0)),
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


def known_dimensions(table: pd.DataFrame) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Split the dimensions of a :func:`composition_table` into those the data has and those
    it does not.

    A dimension is known when at least one user has a value other than 未知 (or 未标记 for an
    untagged sign-up); a column that is blank or absent in the users table gives one row, 未知,
    and is unknown.

    Parameters
    ----------
    table : pandas.DataFrame
        A :func:`composition_table` result.

    Returns
    -------
    tuple
        (known dimensions, unknown dimensions), each in the table's order.
    """
    dims = list(dict.fromkeys(table["dimension"]))
    known_rows = table[~table["value"].isin(UNKNOWN_VALUES) & (table["users"] > 0)]
    known = set(known_rows["dimension"])
    return (tuple(d for d in dims if d in known), tuple(d for d in dims if d not in known))


def panel_dimensions(table: pd.DataFrame, preferred: Sequence[str] = PANEL_DIMENSIONS,
                     most: int = 4) -> tuple[str, ...]:
    """The dimensions the composition figure draws: the preferred ones the data has, topped up
    with its other known dimensions, at most `most`.

    Parameters
    ----------
    table : pandas.DataFrame
        A :func:`composition_table` result.
    preferred : sequence of str, default PANEL_DIMENSIONS
        The dimensions drawn first, in order, when they are known.
    most : int, default 4
        The most panels; at least 1.

    Returns
    -------
    tuple of str
        The dimensions to draw, in order (empty when no dimension is known).

    Raises
    ------
    ValueError
        When `most` is below 1.
    """
    if most < 1:
        raise ValueError(f"most: draw at least one panel, got {most}")
    known, _ = known_dimensions(table)
    chosen = [d for d in preferred if d in known]
    chosen += [d for d in known if d not in chosen]
    return tuple(chosen[:most])


def composition_summary(table: pd.DataFrame, min_users: int = 10) -> dict[str, int | float | str]:
    """Gather the composition's numbers for the chapter's prose: which group's share of the
    money most outruns (and most trails) its share of the users, and which dimensions the data
    does not have.

    The comparison is on the assets (AUM) when anyone holds some, else on the investors when
    anyone has invested, else there is none. Only known values (not 未知 / 未标记) of known
    dimensions with at least `min_users` users are compared; the difference is the share of the
    money (or investors) minus the share of the users, in the group's own dimension.

    Parameters
    ----------
    table : pandas.DataFrame
        A :func:`composition_table` result.
    min_users : int, default 10
        The smallest group named (the chapter passes its min_cell_size).

    Returns
    -------
    dict
        ``known`` / ``unknown``: the dimensions' names (年龄段、性别 ...) joined with 、, "" when
        none; ``unknown_columns``: the users columns behind the unknown ones (birth_year ...);
        ``basis``: ``"aum"``, ``"investors"`` or ``""`` (nothing to compare); ``min_users``;
        ``groups``: how many groups were compared; ``over_dimension``, ``over_value``,
        ``over_user_share``, ``over_share`` (the group whose share most exceeds its share of
        the users; 无 and NaN when no group's does) and the same for ``under_``;
        ``most_unknown_dimension`` / ``most_unknown_share``: the known dimension with the largest
        share of users whose value is unknown (无 and 0.0 when none is).

    Raises
    ------
    NotAvailable
        When no dimension has a known value for any user.

    Examples
    --------
    >>> import ibis
    >>> wide = ibis.memtable({"user_id": ["a", "b", "c", "d"], "gender": ["男", "男", "女", None],
    ...                       "is_investor": [True, False, True, False],
    ...                       "aum": [100.0, 0.0, 300.0, 0.0]})
    >>> s = composition_summary(composition_table(wide, ["gender"]), min_users=1)
    >>> s["over_value"], s["over_share"], s["under_value"], s["under_share"]  # 女: 1/4 users, 3/4 money
    ('女', 0.75, '男', 0.25)
    """
    known, unknown = known_dimensions(table)
    if not known:
        dims = list(dict.fromkeys(table["dimension"]))
        raise NotAvailable(
            "至少一个有值的用户属性（" + "、".join(DIMENSION_LABELS.get(d, d) for d in dims) + "）",
            "数据中这些属性对每个用户都是空的（全部为未知）",
            "在 users 表补充 " + "、".join(DIMENSION_SOURCES.get(d, d) for d in dims)
            + " 中的任一列，或在 dataset.yml 的 tables.users.columns 里把平台的对应字段映射过来")
    rows = table[table["dimension"].isin(known)]
    basis = ("aum" if (rows["aum"] > 0).any()
             else "investors" if (rows["investors"] > 0).any() else "")
    share = {"aum": "aum_share", "investors": "investor_share"}.get(basis)
    eligible = rows[~rows["value"].isin(UNKNOWN_VALUES) & (rows["users"] >= min_users)]
    out: dict[str, int | float | str] = {
        "known": "、".join(DIMENSION_LABELS.get(d, d) for d in known),
        "unknown": "、".join(DIMENSION_LABELS.get(d, d) for d in unknown),
        "unknown_columns": "、".join(DIMENSION_SOURCES.get(d, d) for d in unknown),
        "basis": basis,
        "min_users": int(min_users),
        "groups": int(len(eligible)) if share else 0,
    }
    nan = float("nan")
    for side in ("over", "under"):
        out |= {f"{side}_dimension": "无", f"{side}_value": "无", f"{side}_user_share": nan,
                f"{side}_share": nan}
    if share and len(eligible):
        order = {d: i for i, d in enumerate(known)}
        diff = (eligible[share] - eligible["user_share"]).fillna(0.0)
        ranked = eligible.assign(_diff=diff, _dim=eligible["dimension"].map(order),
                                 _row=np.arange(len(eligible)))
        for side, ascending, keep in (("over", False, ranked["_diff"] > 0),
                                      ("under", True, ranked["_diff"] < 0)):
            pick = ranked[keep].sort_values(["_diff", "_dim", "_row"],
                                            ascending=[ascending, True, True], kind="mergesort")
            if len(pick):
                top = pick.iloc[0]
                out |= {f"{side}_dimension": DIMENSION_LABELS.get(top["dimension"], top["dimension"]),
                        f"{side}_value": str(top["value"]),
                        f"{side}_user_share": float(top["user_share"]),
                        f"{side}_share": float(top[share])}
    unknown_share = (rows[rows["value"].isin(UNKNOWN_VALUES)]
                     .groupby("dimension", sort=False)["user_share"].sum())
    unknown_share = unknown_share[unknown_share > 0]
    if len(unknown_share):
        worst = max(unknown_share.index, key=lambda d: (unknown_share[d], -known.index(d)))
        out |= {"most_unknown_dimension": DIMENSION_LABELS.get(worst, worst),
                "most_unknown_share": float(unknown_share[worst])}
    else:
        out |= {"most_unknown_dimension": "无", "most_unknown_share": 0.0}
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
    try:
        if isinstance(bounds, str):
            raise TypeError(bounds)
        b = [float(x) for x in bounds]
    except (TypeError, ValueError):
        raise ValueError(f"layer bounds must be a list of numbers (aum_bounds = [0, 10000, ...]), "
                         f"got {bounds!r}") from None
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


#: What the page calls the usual layering metrics (any other metric is called by its name).
METRIC_LABELS: dict[str, str] = {
    "aum": "资产", "invest_amount": "投资额", "first_invest_amount": "首投金额", "revenue": "收入",
    "invest_count": "投资次数",
}


def metric_label(metric: str) -> str:
    """The page's word for a layering metric: 资产 for aum, 投资额 for invest_amount ...

    Parameters
    ----------
    metric : str
        A numeric column of the wide table.

    Returns
    -------
    str
        Its word (METRIC_LABELS), else the column's own name.
    """
    return METRIC_LABELS.get(metric, metric)


def _check_metric(wide: ibis.Table, metric: str, name: str = "metric (a chapter's layer_metric)") -> None:
    """A layering or concentration metric must be a numeric column of the wide table."""
    if metric not in wide.columns:
        raise ValueError(f"{name}: {metric!r} is not a column of the user wide table; use a "
                         f"numeric one such as {sorted(METRIC_LABELS)}")
    if not wide[metric].type().is_numeric():
        raise ValueError(f"{name}: {metric!r} is not numeric ({wide[metric].type()}); use a "
                         f"numeric column such as {sorted(METRIC_LABELS)}")


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
        ``user_share``, ``metric_sum``, ``metric_share``, ``metric_mean`` (NaN in an empty tier);
        ``attrs["metric"]`` is `metric`.

    Raises
    ------
    ValueError
        For bad `bounds`, as :func:`layer_labels`, or a `metric` that is not a numeric column.
    NotAvailable
        When no user is above the bottom tier (nobody holds assets, say): every user would be
        in one layer.
    """
    _check_metric(wide, metric)
    tiers = layer_labels(metric, bounds)
    label = layer_expr(wide, metric, bounds)
    value = wide[metric].cast("float64").fill_null(0.0)
    grouped = wide.group_by(label).aggregate(users=wide.count(), metric_sum=value.sum())
    got = grouped.order_by("layer").execute().set_index("layer")

    frame = pd.DataFrame(tiers, columns=["layer", "layer_en", "lower", "upper"])
    frame["users"] = frame["layer"].map(got["users"]).fillna(0).astype("int64")
    frame["metric_sum"] = frame["layer"].map(got["metric_sum"]).fillna(0.0).astype("float64")
    if not frame["users"].iloc[1:].sum():
        word, bottom = metric_label(metric), tiers[0][0]
        raise NotAvailable(
            f"至少一名{word}（{metric}）高于 {_num(tiers[0][2])} 的用户",
            f"截至分析日没有这样的用户：所有用户都在「{bottom}」层",
            "检查 transactions 的 term_days 与状态映射（到期的定期不再计入资产），或用参数 layer_metric "
            "换一个分层指标（如 invest_amount 累计投资额）、用 aum_bounds 调整层级边界")
    total_users = int(frame["users"].sum())
    total_value = float(frame["metric_sum"].sum())
    frame["user_share"] = frame["users"] / total_users if total_users else np.nan
    frame["metric_share"] = frame["metric_sum"] / total_value if total_value else np.nan
    frame["metric_mean"] = _ratio(frame["metric_sum"], frame["users"])
    out = frame[["layer", "layer_en", "lower", "upper", "users", "user_share", "metric_sum",
                 "metric_share", "metric_mean"]]
    out.attrs["metric"] = metric
    return out


#: How many of the highest tiers the chapter calls the top tiers, when no lower bound is given.
TOP_TIERS = 2


def layer_summary(table: pd.DataFrame, top_from: float | None = None,
                  metric: str | None = None) -> dict[str, int | float | str]:
    """Gather the layering's numbers for the chapter's prose, from a :func:`layers` table.

    Parameters
    ----------
    table : pandas.DataFrame
        A :func:`layers` result (bottom tier first).
    top_from : float or None, default None
        Tiers above the bottom one whose lower bound is at or above it are the top tiers;
        None: the TOP_TIERS (2) highest tiers, so the top follows the layering's own bounds
        (20万 and more for DEFAULT_AUM_BOUNDS).
    metric : str or None, default None
        The metric layered; None: the table's ``attrs["metric"]``, else aum.

    Returns
    -------
    dict
        ``metric_label`` (资产 ...); ``top_from`` (float) and ``top_label`` (20万及以上);
        ``top_layers_users`` (int), ``top_layers_user_share`` / ``top_layers_aum_share``: the
        users in the top tiers, their share of users and of the metric; ``bottom_label`` (无资产
        ...), ``no_asset_users`` (int) and ``no_asset_share``: the users in the bottom tier and
        their share (NaN for an empty table).

    Examples
    --------
    >>> import ibis
    >>> wide = ibis.memtable({"user_id": ["a", "b", "c", "d"], "aum": [0.0, 5e3, 3e5, 2e6]})
    >>> s = layer_summary(layers(wide))
    >>> s["top_label"], s["top_layers_users"], s["no_asset_share"]
    ('20万及以上', 2, 0.25)
    """
    metric = metric or table.attrs.get("metric", "aum")
    above = table.iloc[1:]
    if top_from is None:
        top_from = float(above["lower"].iloc[-TOP_TIERS]) if len(above) >= TOP_TIERS else (
            float(above["lower"].iloc[0]) if len(above) else 0.0)
    top = above[above["lower"] >= top_from]
    bottom = table.iloc[:1]
    return {
        "metric_label": metric_label(metric),
        "top_from": float(top_from),
        "top_label": f"{_fmt_zh(float(top_from))}及以上",
        "top_layers_users": int(top["users"].sum()),
        "top_layers_user_share": float(top.user_share.sum()),
        "top_layers_aum_share": float(top.metric_share.sum()),
        "bottom_label": str(bottom["layer"].iloc[0]) if len(bottom) else "无",
        "no_asset_users": int(bottom["users"].sum()),
        "no_asset_share": float(bottom.user_share.iloc[0]) if len(bottom) else float("nan"),
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
    distinct : int
        How many distinct investors (points on the clustering scale) the sample has: k can be
        at most ``distinct`` and at most the sample size − 1.
    k_skipped : tuple of int
        The k of the range asked for that the data could not support (above that limit).
    investors : int
        How many investors there are (all of them, not only the sample).
    min_size : int
        The fewest investors per group on average that was asked for.
    size_bound : bool
        Whether the largest k was set by `min_size` (investors // min_size) rather than by the
        distinct investors.
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
    distinct: int = 0
    k_skipped: tuple[int, ...] = ()
    investors: int = 0
    min_size: int = 1
    size_bound: bool = False

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
            sample_size: int) -> tuple[pd.DataFrame, int]:
    """A deterministic systematic sample of investors on the clustering scale.

    Investors are ordered by user_id and every ``ceil(n / sample_size)``-th one is taken, so the
    same data gives the same sample on any backend (a hash would differ between engines).
    Returns the sample and the number of investors.
    """
    n = int(investors.count().execute())
    table = investors
    if n > sample_size:
        stride = math.ceil(n / sample_size)
        numbered = investors.mutate(_gl_rn=ibis.row_number().over(order_by=investors.user_id))
        table = numbered.filter(numbered._gl_rn % stride == 0)
    cols = _transformed(table, features, log_features)
    return table.select(table.user_id, **cols).order_by("user_id").execute(), n


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
                  log_features: Collection[str] = DEFAULT_LOG_FEATURES,
                  min_size: int = 1) -> ClusterResult:
    """Group investors by behaviour (分群) with KMeans; k chosen by the silhouette score.

    1. Sample: a deterministic systematic sample of at most ``sample_size`` investors
       (``is_investor``) ordered by user_id (see :func:`_sample`).
    2. Scale: features in ``log_features`` become log1p(max(x, 0)) (money and counts are heavy
       tailed); a missing value is filled with the sample mean; every feature is standardised
       with the sample mean and (population) standard deviation.
    3. Fit: ``KMeans(n_clusters=k, n_init=10, random_state=seed)`` for each k in ``k_range``
       the data supports (k at most the number of distinct sample points, at most the sample
       size − 1 and at most investors // `min_size`; the others are kept in ``k_skipped``);
       the silhouette score is computed
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
        The k to try, each at least 2; those above what the data supports (step 3) are skipped
        (``ClusterResult.k_skipped``).
    sample_size : int, default 50_000
        Most investors the model is fitted on.
    seed : int, default 7
        Random state of KMeans and of the silhouette's sample.
    log_features : collection of str, default DEFAULT_LOG_FEATURES
        Features clustered as log1p(max(x, 0)); names not in `features` are ignored.
    min_size : int, default 1
        The fewest investors per group on average: k is at most investors // `min_size` (a
        chapter passes its min_cell_size, so that a group can be described without showing a
        handful of people).

    Returns
    -------
    ClusterResult
        The chosen model, its scores, centroids and the profile of every investor's cluster.

    Raises
    ------
    ValueError
        When `features` is empty or not all columns of `wide`, `k_range` is empty or has a k
        below 2, or `min_size` is below 1.
    NotAvailable
        When the investors are too few, or too alike, for any k of `k_range` (no investor at
        all, say, 3 distinct investors for k from 3, or 25 investors for k from 3 with
        `min_size` 10).
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    features = tuple(features)
    if not features:
        raise ValueError("cluster_users needs at least one feature")
    missing = [f for f in features if f not in wide.columns]
    if missing:
        raise ValueError(f"user wide table has no column(s) {missing} to cluster on")
    asked = sorted({int(k) for k in k_range})
    if not asked or asked[0] < 2:
        raise ValueError(f"k_range: give numbers of clusters of at least 2, got {list(k_range)}")
    if int(min_size) < 1:
        raise ValueError(f"min_size: the fewest investors per group must be at least 1, got {min_size}")
    min_size = int(min_size)
    log_features = frozenset(f for f in log_features if f in features)
    investors = wide.filter(wide.is_investor.fill_null(False))

    sample, n_investors = _sample(investors, features, log_features, sample_size)
    k0 = asked[0]
    need = (f"至少 {max(k0 + 1, k0 * min_size)} 名投资人（分成 {k0} 群的最少人数"
            + (f"，每群平均不少于 {min_size} 人" if min_size > 1 else "")
            + f"），且其中至少 {k0 + 1} 种不同的投资行为")
    if len(sample) == 0:
        raise NotAvailable(need, "截至分析日数据中没有投资人",
                           "检查 transactions 表的状态映射与 analysis_date；有了投资人之后再分群")
    x = sample[list(features)].astype("float64")
    fill = {f: float(x[f].mean()) if x[f].notna().any() else 0.0 for f in features}
    x = x.fillna(fill)
    means = {f: float(x[f].mean()) for f in features}
    stds = {f: float(x[f].std(ddof=0)) for f in features}
    stds = {f: (s if s > 0 and math.isfinite(s) else 1.0) for f, s in stds.items()}
    z = ((x - pd.Series(means)) / pd.Series(stds)).to_numpy()

    distinct = len(np.unique(z, axis=0))
    by_size = n_investors // min_size
    most = min(distinct, len(z) - 1, by_size)
    ks = [k for k in asked if k <= most]
    if not ks:
        groups = f"最多只能分成 {most} 群" if most >= 2 else "分不出两群"
        if by_size < min(distinct, len(z) - 1):
            missing = f"数据中的投资人不足 {k0 * min_size} 人，每群平均不少于 {min_size} 人时{groups}"
        else:
            missing = f"数据中不同的投资行为不足 {k0 + 1} 种，{groups}"
        raise NotAvailable(need, missing, "等投资人更多时再分群，或调低参数 cluster_k_min")
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
        distinct=int(distinct), k_skipped=tuple(k for k in asked if k > most),
        investors=int(n_investors), min_size=min_size, size_bound=by_size < min(distinct, len(z) - 1),
    )
    result.profile, result.description = _profile(result, investors)
    return result


def _profile(res: ClusterResult, investors: ibis.Table) -> tuple[pd.DataFrame, dict[int, str]]:
    """Sizes, feature means, AUM share and description of each cluster over all investors."""
    z = res.standardised(investors)
    assigned = res.assign(investors.mutate(**{f"_gl_zz_{f}": z[f] for f in res.features}))
    assigned = assigned.rename(**{f"_gl_z_{f}": f"_gl_zz_{f}" for f in res.features})
    aggs = {"users": assigned.count(), "aum": money_sum(assigned.aum.fill_null(0.0))}
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


def _runs(ks: Sequence[int]) -> str:
    """Numbers as short text: runs of three or more as a–b, the rest joined with 、 (3、5–8)."""
    out: list[str] = []
    run: list[int] = []
    for k in [*sorted(ks), None]:
        if run and (k is None or k != run[-1] + 1):
            out += [f"{run[0]}–{run[-1]}"] if len(run) >= 3 else [str(r) for r in run]
            run = []
        if k is not None:
            run.append(k)
    return "、".join(out)


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
        ``cluster1_aum_share`` (share of their AUM; NaN when they hold none);
        ``cluster_investors`` (int, every investor assigned); ``cluster_distinct`` (distinct investors in the sample);
        ``k_tried_min`` / ``k_tried_max``: the k tried; ``k_skipped``: the k asked for that the
        data could not support, as text (7、8 or 5–8; "" when none); ``cluster_min_size`` and
        ``k_size_bound`` (bool): whether the largest k was set by that size rather than by the
        distinct investors.
    """
    first = result.profile.iloc[0] if len(result.profile) else None
    nan = float("nan")
    tried = [int(k) for k in result.scores["k"]] if len(result.scores) else [int(result.k)]
    return {
        "k": int(result.k),
        "cluster1_desc": str(first.description) if first is not None else "无",
        "cluster1_user_share": float(first.user_share) if first is not None else nan,
        "cluster1_aum_share": float(first.aum_share) if first is not None else nan,
        "cluster_investors": int(result.profile["users"].sum()) if len(result.profile) else 0,
        "cluster_distinct": int(result.distinct),
        "k_tried_min": min(tried),
        "k_tried_max": max(tried),
        "k_skipped": _runs(result.k_skipped),
        "cluster_min_size": int(result.min_size),
        "k_size_bound": bool(result.size_bound),
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
        (1, 1) (fewer points when there are fewer users than ``points``; no row without users).

    Raises
    ------
    ValueError
        When `points` is below 1, or `metric` is not a numeric column.
    NotAvailable
        When nobody holds any of the metric: there is no curve to draw.

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"user_id": ["a", "b", "c", "d"], "aum": [1.0, 2.0, 3.0, 4.0]})
    >>> lorenz_curve(t, points=2).value_share.tolist()   # the poorer half holds (1+2)/10
    [0.0, 0.3, 1.0]
    """
    if points < 1:
        raise ValueError("points must be at least 1")
    _check_metric(wide, metric)
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
    total = float(curve["cum"].iloc[-1]) if len(curve) else 0.0  # the end is exactly 1
    if not total > 0:
        raise _no_holders(metric, 0, MIN_HOLDERS)
    body = pd.DataFrame({
        "population_share": curve["rows"].astype("float64") / curve["n"].astype("float64"),
        "value_share": curve["cum"].astype("float64") / total,
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

    Raises
    ------
    NotAvailable
        When the table has no user (nobody registered by the analysis date).
    """
    agg = wide.aggregate(
        users=wide.count(),
        investors=wide.count(where=wide.is_investor.fill_null(False)),
        aum_total=money_sum(wide.aum.fill_null(0.0)),
    ).execute()
    users = int(agg["users"].iloc[0])
    if not users:
        raise NotAvailable("注册用户", "截至分析日数据中没有注册用户",
                           "检查 analysis_date 与 users 表的 registered_at（注册时间晚于分析日的用户不计入）")
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


def signup_span(wide: ibis.Table) -> dict[str, int | str]:
    """When the users signed up: the first and last sign-up day, and how long ago the last was.

    Parameters
    ----------
    wide : ibis.Table
        The user wide table (``reg_date``, ``tenure_days``: days from sign-up to the analysis
        date).

    Returns
    -------
    dict
        ``first_signup`` / ``last_signup`` (YYYY-MM-DD) and ``days_since_last_signup`` (int,
        natural days to the analysis date).

    Raises
    ------
    NotAvailable
        When the table has no user.
    """
    agg = wide.aggregate(first=wide.reg_date.min(), last=wide.reg_date.max(),
                         days=wide.tenure_days.min()).execute()
    if agg.empty or pd.isna(agg["first"].iloc[0]):
        raise NotAvailable("注册用户", "截至分析日数据中没有注册用户",
                           "检查 analysis_date 与 users 表的 registered_at")
    return {"first_signup": str(pd.Timestamp(agg["first"].iloc[0]).date()),
            "last_signup": str(pd.Timestamp(agg["last"].iloc[0]).date()),
            "days_since_last_signup": int(agg["days"].iloc[0])}


#: The fewest holders a concentration measure is stated for, whatever the caller asks: below
#: 5, the top 20% is one person, who is more than a fifth of them.
MIN_HOLDERS = 5


def _no_holders(metric: str, holders: int, min_holders: int) -> NotAvailable:
    word = metric_label(metric)
    return NotAvailable(
        f"至少 {min_holders} 名{word}（{metric}）大于 0 的用户（人太少时，“前 20%”不到一个人，曲线也会指认到个人）",
        f"截至分析日{'没有人持有' + word if not holders else f'持有{word}的用户不足 {min_holders} 人'}",
        "检查 transactions 的 term_days 与状态映射（到期的定期不再计入资产）与 analysis_date；"
        "持有人多了再看集中度")


def concentration(wide: ibis.Table, metric: str = "aum",
                  min_holders: int = MIN_HOLDERS) -> dict[str, int | float]:
    """Measure how concentrated the metric is over its holders.

    Parameters
    ----------
    wide : ibis.Table
        The user wide table.
    metric : str, default "aum"
        A numeric column of `wide`; the population is the users with a positive value.
    min_holders : int, default MIN_HOLDERS (5)
        The fewest holders the measures are stated for (a chapter passes its min_cell_size: the
        curve of fewer people would show individuals); never fewer than MIN_HOLDERS.

    Returns
    -------
    dict
        ``gini`` (:func:`gini`) and ``top20_share`` (the share held by the top 20%,
        :func:`top_share`), plain floats; ``holders``: how many users hold any (int).

    Raises
    ------
    ValueError
        When `metric` is not a numeric column of `wide`.
    NotAvailable
        When fewer than max(`min_holders`, MIN_HOLDERS) users hold any of the metric (nobody
        holds assets, say).

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"user_id": list("abcdef"), "aum": [0.0, 1.0, 1.0, 1.0, 1.0, 6.0]})
    >>> c = concentration(t)   # 5 holders; the top one (ceil(0.2·5)) holds 6 of 10
    >>> round(c["gini"], 6), c["top20_share"], c["holders"]   # 2·40/(5·10) − 6/5
    (0.4, 0.6, 5)
    """
    _check_metric(wide, metric)
    holders = int(wide.filter(wide[metric].cast("float64") > 0).count().execute())
    need = max(int(min_holders), MIN_HOLDERS)
    if holders < need:
        raise _no_holders(metric, holders, need)
    return {"gini": gini(wide, metric), "top20_share": top_share(wide, metric, 0.2),
            "holders": holders}

"""A/B statistics (实验统计) on counts and sums: intervals, tests, sample sizes and CUPED.

Pure functions of counts and sums, so each can be worked out by hand (tests/test_stats.py
does). The two that take an Ibis table, :func:`mann_whitney` and :func:`group_sums`,
aggregate in the engine and bring back one small row per group.

* :func:`wilson`: the Wilson score interval of a proportion.
* :func:`two_proportion`: two response rates, their difference (Newcombe interval), ratio
  (Katz log interval) and the pooled z test.
* :func:`welch`: the difference of two means from (n, sum, sum of squares), Welch's t.
* :func:`mann_whitney`: the rank-sum test of a value between two groups, in the engine.
* :func:`srm`: sample-ratio mismatch, the observed split against the planned one; its
  verdict is a code of :data:`SRM_VERDICTS` (:func:`srm_label` gives the sentence shown).
* :func:`mde` / :func:`needed_per_group`: minimum detectable uplift and sample size.
* :func:`group_sums` and :func:`cuped_from_sums`: the plain and CUPED difference of means.
"""

from __future__ import annotations

import math

import ibis
import pandas as pd
from ibis import _

#: sample-ratio mismatch when the chi-square p-value is under this (GrowthBook's default)
SRM_ALPHA = 0.001
#: the verdicts of :func:`srm` (codes) and the sentence the book shows for each
SRM_VERDICTS: dict[str, str] = {
    "not_tested": "未给出计划的对照组比例，无法检验",
    "mismatch": "分组比例与计划不符，先查分组与发送日志再看效果",
    "match": "分组比例与计划一致",
}


def _z(alpha: float) -> float:
    """The two-sided normal quantile of `alpha` (1.959964 for 0.05)."""
    from scipy.stats import norm

    return float(norm.ppf(1 - alpha / 2))


def _p_two_sided(z: float) -> float:
    """The two-sided p-value of a standard normal statistic."""
    from scipy.stats import norm

    return float(2 * norm.sf(abs(z)))


def _var(n: float, s: float, ss: float) -> float:
    """Sample variance from n, sum and sum of squares (NaN under two values)."""
    if n < 2:
        return float("nan")
    return max((ss - s * s / n) / (n - 1), 0.0)


def _cov(n: float, sx: float, sy: float, sxy: float) -> float:
    """Sample covariance from n, the two sums and the sum of products (NaN under two values)."""
    if n < 2:
        return float("nan")
    return (sxy - sx * sy / n) / (n - 1)


def _number(value, default: float = 0.0) -> float:
    """A value read from the engine as a float; `default` for NULL or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return default
    return float(value)


def wilson(successes: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval of a proportion.

    The bounds always contain the observed rate: statsmodels' formula leaves rounding error at
    the ends (a lower bound of 1.4e-17 for 0 of 28), which put the rate outside its own interval
    and made the error bars of a group without responders negative (matplotlib refuses them).

    Parameters
    ----------
    successes
        People who converted (responded).
    n
        People at risk.
    alpha
        Two-sided level: 0.05 gives the 95% interval.

    Returns
    -------
    tuple of float
        (low, high); (nan, nan) when `n` is 0.

    Examples
    --------
    0 of 28: the rate 0 is the lower bound, and z² / (n + z²) = 3.8415 / 31.8415 the upper.

    >>> lo, hi = wilson(0, 28)
    >>> lo, round(hi, 4)
    (0.0, 0.1206)
    """
    from statsmodels.stats.proportion import proportion_confint

    if n <= 0:
        return float("nan"), float("nan")
    lo, hi = proportion_confint(int(successes), int(n), alpha=alpha, method="wilson")
    rate = int(successes) / int(n)
    return min(float(lo), rate), max(float(hi), rate)


def two_proportion(x_t: int, n_t: int, x_c: int, n_c: int, alpha: float = 0.05) -> dict[str, float]:
    """Response rates of treatment and control, their difference and ratio, with intervals.

    * uplift = p_t - p_c with Newcombe's hybrid score interval (from the two Wilson intervals;
      it keeps its coverage with a small holdout and rare responses, where Wald's does not);
    * relative uplift = p_t / p_c - 1 with the log-ratio (Katz) interval, NaN without control
      responders;
    * z and p_value: the pooled two-proportion z test (as statsmodels' proportions_ztest).

    Parameters
    ----------
    x_t, n_t
        Responders and members of the treatment group.
    x_c, n_c
        Responders and members of the control group (the holdout).
    alpha
        Two-sided level of the intervals.

    Returns
    -------
    dict
        rate_t, rate_c, uplift, ci_low, ci_high, relative, rel_ci_low, rel_ci_high, z,
        p_value (plain floats; NaN where a group is empty or the measure undefined).

    Examples
    --------
    30 of 100 against 20 of 100: pooled p = 0.25, SE = sqrt(0.25 x 0.75 x (1/100 + 1/100))
    = 0.061237, z = 0.1 / 0.061237 = 1.633, two-sided p = 0.1025.

    >>> r = two_proportion(30, 100, 20, 100)
    >>> round(r["uplift"], 2), round(r["z"], 3), round(r["p_value"], 4)
    (0.1, 1.633, 0.1025)
    """
    nan = float("nan")
    out = dict(rate_t=nan, rate_c=nan, uplift=nan, ci_low=nan, ci_high=nan, relative=nan,
               rel_ci_low=nan, rel_ci_high=nan, z=nan, p_value=nan)
    if n_t > 0:
        out["rate_t"] = x_t / n_t
    if n_c > 0:
        out["rate_c"] = x_c / n_c
    if n_t <= 0 or n_c <= 0:
        return out
    p1, p2 = x_t / n_t, x_c / n_c
    d = p1 - p2
    l1, u1 = wilson(x_t, n_t, alpha)
    l2, u2 = wilson(x_c, n_c, alpha)
    out["uplift"] = d
    out["ci_low"] = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    out["ci_high"] = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    if x_t > 0 and x_c > 0:
        z = _z(alpha)
        se = math.sqrt(1 / x_t - 1 / n_t + 1 / x_c - 1 / n_c)
        out["relative"] = p1 / p2 - 1
        out["rel_ci_low"] = math.exp(math.log(p1 / p2) - z * se) - 1
        out["rel_ci_high"] = math.exp(math.log(p1 / p2) + z * se) - 1
    pooled = (x_t + x_c) / (n_t + n_c)
    if 0 < pooled < 1:
        zs = d / math.sqrt(pooled * (1 - pooled) * (1 / n_t + 1 / n_c))
        out["z"] = zs
        out["p_value"] = _p_two_sided(zs)
    return out


def welch(n_t: int, s_t: float, ss_t: float, n_c: int, s_c: float, ss_c: float,
          alpha: float = 0.05) -> dict[str, float]:
    """Difference of two means from sums: Welch's t interval and test.

    Parameters
    ----------
    n_t, s_t, ss_t
        Treatment: members, sum and sum of squares of the value.
    n_c, s_c, ss_c
        Control: the same.
    alpha
        Two-sided level of the interval.

    Returns
    -------
    dict
        mean_t, mean_c, diff (mean_t - mean_c), ci_low, ci_high, t, df (Welch-Satterthwaite),
        p_value. Under two members in a group only the means are given; with no variance at
        all, the difference without an interval.

    Examples
    --------
    Treatment 1, 2, 3 (n 3, sum 6, squares 14), control 2, 4 (n 2, sum 6, squares 20):
    means 2 and 3, variances 1 and 2, SE = sqrt(1/3 + 2/2) = 1.1547, t = -1 / 1.1547.

    >>> r = welch(3, 6.0, 14.0, 2, 6.0, 20.0)
    >>> r["diff"], round(r["t"], 4)
    (-1.0, -0.866)
    """
    from scipy.stats import t as student

    nan = float("nan")
    out = dict(mean_t=s_t / n_t if n_t else nan, mean_c=s_c / n_c if n_c else nan, diff=nan,
               ci_low=nan, ci_high=nan, t=nan, df=nan, p_value=nan)
    if n_t < 2 or n_c < 2:
        return out
    v1, v2 = _var(n_t, s_t, ss_t) / n_t, _var(n_c, s_c, ss_c) / n_c
    out["diff"] = out["mean_t"] - out["mean_c"]
    se = math.sqrt(v1 + v2)
    if se == 0:
        return out
    df = (v1 + v2) ** 2 / (v1 ** 2 / (n_t - 1) + v2 ** 2 / (n_c - 1))
    q = float(student.ppf(1 - alpha / 2, df))
    t = out["diff"] / se
    out.update(ci_low=out["diff"] - q * se, ci_high=out["diff"] + q * se, t=t, df=df,
               p_value=float(2 * student.sf(abs(t), df)))
    return out


def mann_whitney(table: ibis.Table, value: str = "amount", group: str = "group",
                 treated: str = "treatment") -> dict[str, float]:
    """Mann-Whitney U test of `value` between the treated and the other group, in the engine.

    Average ranks per distinct value (ties share their mean rank), the rank sum of the treated,
    and the tie-corrected normal approximation with continuity correction (as scipy's
    mannwhitneyu(method="asymptotic")). Only one row of sums comes back.

    Parameters
    ----------
    table
        One row per member (an Ibis table, never pulled whole).
    value
        The numeric column compared.
    group
        The column naming each row's group.
    treated
        The value of `group` of the treated; every other row is the comparison group.

    Returns
    -------
    dict
        u (the treated group's U statistic), z and p_value (two-sided); NaN when a group is
        empty, z and p NaN when every value is tied.
    """
    vals = table.group_by(_v=table[value]).aggregate(
        _n=_.count(), _nt=(table[group] == treated).sum())
    w = ibis.cumulative_window(order_by="_v")
    vals = vals.mutate(_before=vals._n.sum().over(w) - vals._n)
    vals = vals.mutate(_rank=vals._before + (vals._n + 1) / 2.0)
    row = vals.aggregate(
        n=vals._n.sum(), n_t=vals._nt.sum(), r_t=(vals._nt * vals._rank).sum(),
        ties=(vals._n.cast("float64") ** 3 - vals._n).sum(),
    ).to_pandas().iloc[0]
    n, n_t = _number(row.n), _number(row.n_t)
    n_c = n - n_t
    nan = float("nan")
    if n_t == 0 or n_c == 0:
        return dict(u=nan, z=nan, p_value=nan)
    u = float(row.r_t) - n_t * (n_t + 1) / 2
    mu = n_t * n_c / 2
    sigma2 = n_t * n_c / 12 * ((n + 1) - float(row.ties) / (n * (n - 1)))
    if sigma2 <= 0:
        return dict(u=u, z=nan, p_value=nan)
    z = (u - mu - math.copysign(0.5, u - mu)) / math.sqrt(sigma2) if u != mu else 0.0
    return dict(u=u, z=z, p_value=_p_two_sided(z))


def srm(n_t: int, n_c: int, planned_holdout: float | None) -> dict[str, float | bool | str]:
    """Sample-ratio mismatch: chi-square test of the observed split against the planned one.

    Parameters
    ----------
    n_t, n_c
        Members in treatment and in control.
    planned_holdout
        The planned control share, strictly between 0 and 1; None when no plan is given (no
        test).

    Returns
    -------
    dict
        treatment, control, observed_holdout, planned_holdout, chi2, p_value, mismatch
        (p under :data:`SRM_ALPHA`) and verdict, a code of :data:`SRM_VERDICTS`: "match",
        "mismatch", or "not_tested" (no plan, or no member).

    Raises
    ------
    ValueError
        A planned share outside (0, 1).

    Examples
    --------
    820 / 180 against a planned 20% holdout: expected 800 / 200, chi² = 20²/800 + 20²/200
    = 2.5 (1 df), p = 0.114: no mismatch.

    >>> r = srm(820, 180, 0.2)
    >>> round(r["chi2"], 6), round(r["p_value"], 3), r["verdict"]
    (2.5, 0.114, 'match')
    """
    from scipy.stats import chisquare

    nan = float("nan")
    n = n_t + n_c
    out: dict = dict(treatment=int(n_t), control=int(n_c), observed_holdout=n_c / n if n else nan,
                     planned_holdout=nan, chi2=nan, p_value=nan, mismatch=False,
                     verdict="not_tested")
    if planned_holdout is None:
        return out
    if not 0 < planned_holdout < 1:
        raise ValueError(f"planned_holdout: {planned_holdout!r}; allowed: a share between 0 and 1")
    out["planned_holdout"] = float(planned_holdout)
    if n == 0:
        return out
    chi2, p = chisquare([n_t, n_c], [n * (1 - planned_holdout), n * planned_holdout])
    out.update(chi2=float(chi2), p_value=float(p), mismatch=bool(p < SRM_ALPHA))
    out["verdict"] = "mismatch" if out["mismatch"] else "match"
    return out


def srm_label(code: str) -> str:
    """The sentence the book shows for an :func:`srm` verdict code.

    Parameters
    ----------
    code
        A key of :data:`SRM_VERDICTS`.

    Returns
    -------
    str
        Its Chinese sentence.

    Raises
    ------
    ValueError
        An unknown code.
    """
    if code not in SRM_VERDICTS:
        raise ValueError(f"code: {code!r}; allowed: {list(SRM_VERDICTS)}")
    return SRM_VERDICTS[code]


def mde(n_t: int, n_c: int, baseline: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Minimum detectable absolute uplift of a two-sided test at `alpha` with `power`.

    (z_{1-alpha/2} + z_power) x sqrt(p (1 - p) (1/n_t + 1/n_c)), with p the baseline rate.

    Parameters
    ----------
    n_t, n_c
        Members of treatment and control.
    baseline
        The control group's response rate, strictly between 0 and 1.
    alpha
        Two-sided significance level.
    power
        The chance of detecting an uplift of that size.

    Returns
    -------
    float
        The uplift in rate points (0.0376 = 3.76 pp); NaN for an empty group or a baseline of
        0 or 1.

    Examples
    --------
    p = 0.1, 1000 per group: (1.959964 + 0.841621) x sqrt(0.09 x 0.002) = 0.037587.

    >>> round(mde(1000, 1000, 0.1), 6)
    0.037587
    """
    from scipy.stats import norm

    if n_t <= 0 or n_c <= 0 or not 0 < baseline < 1:
        return float("nan")
    z = _z(alpha) + float(norm.ppf(power))
    return z * math.sqrt(baseline * (1 - baseline) * (1 / n_t + 1 / n_c))


def needed_per_group(uplift: float, baseline: float, ratio: float = 1.0, alpha: float = 0.05,
                     power: float = 0.8) -> float:
    """Treatment members needed to detect `uplift` (control = ratio x treatment).

    The inverse of :func:`mde`: z² p (1 - p) (1 + 1/ratio) / uplift².

    Parameters
    ----------
    uplift
        The absolute uplift to detect (its sign does not matter).
    baseline
        The control response rate, strictly between 0 and 1.
    ratio
        Control members per treatment member.
    alpha, power
        As in :func:`mde`.

    Returns
    -------
    float
        Treatment members (not rounded); NaN for a zero or missing uplift, a baseline of 0 or
        1, or a ratio that is not positive.

    Examples
    --------
    The uplift 1000 members per group can detect at p = 0.1 needs 1000 members per group.

    >>> round(needed_per_group(mde(1000, 1000, 0.1), 0.1))
    1000
    """
    from scipy.stats import norm

    if not uplift or not 0 < baseline < 1 or ratio <= 0 or math.isnan(uplift):
        return float("nan")
    z = _z(alpha) + float(norm.ppf(power))
    return z ** 2 * baseline * (1 - baseline) * (1 + 1 / ratio) / uplift ** 2


def group_sums(table: ibis.Table, y: str, x: str | None = None) -> pd.DataFrame:
    """Per group: n and the sums of y, y², x, x² and xy, aggregated in the engine.

    Parameters
    ----------
    table
        One row per member with a `group` column.
    y
        The outcome column.
    x
        The covariate column; None gives x = 0 (no adjustment possible).

    Returns
    -------
    pandas.DataFrame
        Columns group, n, sy, syy, sx, sxx, sxy; one row per group, ordered by group.
    """
    yv = table[y].cast("float64")
    xv = table[x].cast("float64") if x else ibis.literal(0.0)
    t = table.mutate(_y=yv, _x=xv)
    out = t.group_by("group").aggregate(
        n=_.count(), sy=_._y.sum(), syy=(_._y * _._y).sum(), sx=_._x.sum(),
        sxx=(_._x * _._x).sum(), sxy=(_._x * _._y).sum(),
    ).order_by("group").to_pandas()
    for col in ("sy", "syy", "sx", "sxx", "sxy"):
        out[col] = out[col].fillna(0.0).astype(float)
    out["n"] = out["n"].astype("int64")
    return out


def cuped_from_sums(sums: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Plain and CUPED estimates of the treatment-control difference of mean y, from sums.

    theta is cov(x, y) / var(x) over all members pooled; the adjusted group mean is
    mean(y) - theta (mean(x) - pooled mean(x)); its variance var(y - theta x) / n comes from the
    group's own sums. Both intervals are normal (Wald) so that their widths compare.

    Parameters
    ----------
    sums
        One row per group (treatment, control) with n, sy, syy, sx, sxx, sxy, as
        :func:`group_sums` gives.
    alpha
        Two-sided level of the intervals.

    Returns
    -------
    pandas.DataFrame
        Two rows, plain then cuped; columns method, uplift, se, ci_low, ci_high, p_value,
        theta, variance_reduction (1 - se_cuped² / se_plain²; 0 on the plain row).

    Raises
    ------
    ValueError
        Without a treatment and a control row of at least two members each.

    Examples
    --------
    y = x = 0, 1, 2, 3 in both groups: theta = 1 and y - (x - mean x) is constant, so CUPED
    removes all of the variance.

    >>> row = dict(n=4, sy=6.0, syy=14.0, sx=6.0, sxx=14.0, sxy=14.0)
    >>> sums = pd.DataFrame([dict(group="control", **row), dict(group="treatment", **row)])
    >>> out = cuped_from_sums(sums).set_index("method")
    >>> float(out.loc["cuped", "theta"]), float(out.loc["cuped", "variance_reduction"])
    (1.0, 1.0)
    """
    g = sums.set_index("group")
    if not {"treatment", "control"} <= set(g.index) or (g.n < 2).any():
        raise ValueError("sums: need treatment and control rows with at least two members each")
    tot = g[["n", "sy", "syy", "sx", "sxx", "sxy"]].sum()
    var_x = _var(tot.n, tot.sx, tot.sxx)
    theta = _cov(tot.n, tot.sx, tot.sy, tot.sxy) / var_x if var_x > 0 else 0.0
    xbar = tot.sx / tot.n
    z = _z(alpha)
    rows = []
    for method, th in (("plain", 0.0), ("cuped", theta)):
        means, variances = {}, {}
        for grp in ("treatment", "control"):
            r = g.loc[grp]
            means[grp] = r.sy / r.n - th * (r.sx / r.n - xbar)
            v = (_var(r.n, r.sy, r.syy) + th * th * _var(r.n, r.sx, r.sxx)
                 - 2 * th * _cov(r.n, r.sx, r.sy, r.sxy))
            variances[grp] = max(v, 0.0) / r.n
        d = means["treatment"] - means["control"]
        se = math.sqrt(variances["treatment"] + variances["control"])
        rows.append(dict(method=method, uplift=float(d), se=float(se), ci_low=float(d - z * se),
                         ci_high=float(d + z * se),
                         p_value=_p_two_sided(d / se) if se > 0 else float("nan"),
                         theta=float(th)))
    out = pd.DataFrame(rows)
    base = out.se.iloc[0] ** 2
    out["variance_reduction"] = [0.0, float(1 - out.se.iloc[1] ** 2 / base) if base > 0 else float("nan")]
    return out

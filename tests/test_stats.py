"""A/B statistics (growthloop.metrics.stats) worked by hand or against an independent
numpy/scipy computation, and the verdict vocabularies of the statistics: every code has its
label, and a verdict is computed as a code from the numbers."""

from __future__ import annotations

import math

import ibis
import numpy as np
import pandas as pd
import pytest

from growthloop.metrics import funnel as fn
from growthloop.metrics import stats as st

# --------------------------------------------------------------------------------------------
# statistics by hand


def test_two_proportion_by_hand():
    # 30/100 against 20/100: pooled p = 0.25, SE = sqrt(0.25 * 0.75 * (1/100 + 1/100))
    # = 0.0612372, z = 0.1 / 0.0612372 = 1.632993, two-sided p = 0.102470
    r = st.two_proportion(30, 100, 20, 100)
    assert r["rate_t"] == pytest.approx(0.30) and r["rate_c"] == pytest.approx(0.20)
    assert r["uplift"] == pytest.approx(0.10)
    assert r["z"] == pytest.approx(1.632993, abs=1e-6)
    assert r["p_value"] == pytest.approx(0.102470, abs=1e-6)
    # Newcombe hybrid score interval from the two Wilson intervals, written out here
    from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

    l1, u1 = proportion_confint(30, 100, method="wilson")
    l2, u2 = proportion_confint(20, 100, method="wilson")
    assert r["ci_low"] == pytest.approx(0.1 - math.sqrt((0.3 - l1) ** 2 + (u2 - 0.2) ** 2))
    assert r["ci_high"] == pytest.approx(0.1 + math.sqrt((u1 - 0.3) ** 2 + (0.2 - l2) ** 2))
    lo, hi = confint_proportions_2indep(30, 100, 20, 100, method="newcomb", compare="diff")
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((lo, hi))
    # relative uplift 0.3 / 0.2 - 1 = 0.5; log-ratio SE = sqrt(1/30 - 1/100 + 1/20 - 1/100)
    se = math.sqrt(1 / 30 - 1 / 100 + 1 / 20 - 1 / 100)
    assert r["relative"] == pytest.approx(0.5)
    assert r["rel_ci_low"] == pytest.approx(1.5 * math.exp(-1.959964 * se) - 1, abs=1e-5)
    # no holdout: no uplift
    assert math.isnan(st.two_proportion(3, 10, 0, 0)["uplift"])


def test_welch_against_scipy():
    from scipy.stats import ttest_ind

    rng = np.random.default_rng(1)
    a, b = rng.lognormal(5, 1, 80), rng.lognormal(4.8, 1.2, 30)
    r = st.welch(len(a), a.sum(), (a * a).sum(), len(b), b.sum(), (b * b).sum())
    ref = ttest_ind(a, b, equal_var=False)
    assert r["diff"] == pytest.approx(a.mean() - b.mean())
    assert r["p_value"] == pytest.approx(ref.pvalue, rel=1e-6)
    ci = ref.confidence_interval()
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((ci.low, ci.high), rel=1e-6)


def test_mann_whitney_in_engine_against_scipy():
    from scipy.stats import mannwhitneyu

    rng = np.random.default_rng(2)
    # heavy ties at zero, as campaign amounts are
    t = np.where(rng.random(60) < 0.7, 0.0, rng.integers(1, 6, 60) * 100.0)
    c = np.where(rng.random(25) < 0.8, 0.0, rng.integers(1, 6, 25) * 100.0)
    frame = pd.DataFrame({"amount": np.r_[t, c], "group": ["treatment"] * 60 + ["control"] * 25})
    r = st.mann_whitney(ibis.memtable(frame))
    ref = mannwhitneyu(t, c, method="asymptotic", use_continuity=True)
    assert r["u"] == pytest.approx(ref.statistic)
    assert r["p_value"] == pytest.approx(ref.pvalue, rel=1e-9)


def test_srm_by_hand():
    # 820 / 180 against a planned 20% holdout: expected 800 / 200,
    # chi2 = 20²/800 + 20²/200 = 0.5 + 2 = 2.5 (1 df) -> p = 0.1138, no mismatch
    from scipy.stats import chi2

    r = st.srm(820, 180, 0.2)
    assert r["chi2"] == pytest.approx(2.5)
    assert r["p_value"] == pytest.approx(float(chi2.sf(2.5, 1)))
    assert r["p_value"] == pytest.approx(0.113846, abs=1e-6)
    assert not r["mismatch"]
    # 900 / 100: chi2 = 100²/800 + 100²/200 = 12.5 + 50 = 62.5 -> mismatch
    bad = st.srm(900, 100, 0.2)
    assert bad["chi2"] == pytest.approx(62.5) and bad["mismatch"]
    assert math.isnan(st.srm(900, 100, None)["p_value"])
    with pytest.raises(ValueError, match="planned_holdout"):
        st.srm(10, 10, 1.5)


def test_cuped_against_numpy():
    rng = np.random.default_rng(3)
    n = 400
    x = rng.poisson(3, n).astype(float)
    g = np.where(rng.random(n) < 0.8, "treatment", "control")
    y = (rng.random(n) < 0.02 + 0.08 * x + 0.05 * (g == "treatment")).astype(float)
    frame = pd.DataFrame({"group": g, "y": y, "x": x})
    sums = st.group_sums(ibis.memtable(frame), "y", "x")
    got = st.cuped_from_sums(sums).set_index("method")
    # independent per-user computation
    theta = np.cov(x, y, ddof=1)[0, 1] / np.var(x, ddof=1)
    adj = y - theta * (x - x.mean())
    t, c = g == "treatment", g == "control"
    d = adj[t].mean() - adj[c].mean()
    se = math.sqrt(adj[t].var(ddof=1) / t.sum() + adj[c].var(ddof=1) / c.sum())
    se0 = math.sqrt(y[t].var(ddof=1) / t.sum() + y[c].var(ddof=1) / c.sum())
    assert got.loc["cuped", "theta"] == pytest.approx(theta)
    assert got.loc["cuped", "uplift"] == pytest.approx(d)
    assert got.loc["cuped", "se"] == pytest.approx(se)
    assert got.loc["plain", "uplift"] == pytest.approx(y[t].mean() - y[c].mean())
    assert got.loc["plain", "se"] == pytest.approx(se0)
    assert got.loc["cuped", "variance_reduction"] == pytest.approx(1 - se ** 2 / se0 ** 2)
    assert got.loc["cuped", "variance_reduction"] > 0


def test_cuped_perfect_covariate_removes_the_variance():
    # y = x exactly and x balanced: theta = 1, y - (x - mean x) is constant -> se 0 after CUPED
    frame = pd.DataFrame({"group": ["treatment"] * 4 + ["control"] * 4,
                          "x": [0, 1, 2, 3] * 2, "y": [0, 1, 2, 3] * 2})
    got = st.cuped_from_sums(st.group_sums(ibis.memtable(frame), "y", "x")).set_index("method")
    assert got.loc["cuped", "theta"] == pytest.approx(1.0)
    assert got.loc["cuped", "se"] == pytest.approx(0.0, abs=1e-9)
    assert got.loc["cuped", "variance_reduction"] == pytest.approx(1.0)


def test_mde_by_hand():
    # p = 0.1, 1000 per group: (1.959964 + 0.841621) * sqrt(0.09 * 0.002) = 0.037587
    assert st.mde(1000, 1000, 0.1) == pytest.approx(0.037587, abs=1e-5)
    # needed to see that same uplift with equal groups: 1000
    assert st.needed_per_group(st.mde(1000, 1000, 0.1), 0.1) == pytest.approx(1000)


def test_wilson_by_hand():
    # 0 of 28: the rate is the lower bound and the upper is z² / (n + z²) = 3.8415 / 31.8415
    lo, hi = st.wilson(0, 28)
    assert lo == 0.0 and hi == pytest.approx(1.959964 ** 2 / (28 + 1.959964 ** 2), abs=1e-6)
    assert all(math.isnan(v) for v in st.wilson(0, 0))


def test_welch_by_hand():
    # 1, 2, 3 against 2, 4: means 2 and 3, variances 1 and 2, SE = sqrt(1/3 + 2/2)
    r = st.welch(3, 6.0, 14.0, 2, 6.0, 20.0)
    assert r["diff"] == pytest.approx(-1.0)
    assert r["t"] == pytest.approx(-1 / math.sqrt(1 / 3 + 1))
    # under two members a group has a mean but no test
    assert math.isnan(st.welch(1, 5.0, 25.0, 3, 6.0, 14.0)["p_value"])


# --------------------------------------------------------------------------------------------
# verdict vocabularies: codes computed, labels shown


def test_srm_verdicts_are_codes_with_labels():
    assert all(isinstance(label, str) and label for label in st.SRM_VERDICTS.values())
    assert {st.srm(820, 180, 0.2)["verdict"], st.srm(900, 100, 0.2)["verdict"],
            st.srm(900, 100, None)["verdict"]} == set(st.SRM_VERDICTS)
    assert st.srm(820, 180, 0.2)["verdict"] == "match"
    assert st.srm(900, 100, 0.2)["verdict"] == "mismatch"
    assert st.srm(900, 100, None)["verdict"] == "not_tested"
    assert st.srm_label("match") == "分组比例与计划一致"
    with pytest.raises(ValueError, match="code"):
        st.srm_label("分组比例与计划一致")


def test_funnel_segment_verdicts_are_codes_with_labels():
    # the funnel's segment comparison (a two-proportion test per segment): 甲 200 of 400 and
    # 乙 120 of 400 against each other (z test, Holm over the two), 小渠道 20 of 20 too small
    rows = []
    for seg, base, conv in (("小渠道", 20, 20), ("甲", 400, 200), ("乙", 400, 120)):
        rows.append({"segment": seg, "step": "register", "label": "注册",
                     "base_previous": base, "converted_previous": base})
        rows.append({"segment": seg, "step": "bind_card", "label": "绑卡",
                     "base_previous": base, "converted_previous": conv})
    result = pd.DataFrame(rows)
    codes = fn.compare_segments(result, labels=False).set_index("segment").verdict
    assert codes.to_dict() == {"小渠道": "too_small", "甲": "higher", "乙": "lower"}
    shown = fn.compare_segments(result).set_index("segment").verdict
    assert shown.to_dict() == {k: fn.SEGMENT_VERDICTS[v] for k, v in codes.items()}
    assert set(fn.SEGMENT_VERDICTS) == {"higher", "lower", "not_significant", "too_small"}
    assert all(fn.segment_verdict_label(c) for c in fn.SEGMENT_VERDICTS)
    assert fn.segment_verdict_code("样本不足") == "too_small" == fn.segment_verdict_code("too_small")
    with pytest.raises(ValueError, match="code"):
        fn.segment_verdict_label("高于其他")
    # the summary reads either form
    assert fn.segment_summary(fn.compare_segments(result, labels=False)) == \
        fn.segment_summary(fn.compare_segments(result))

"""The closed-loop campaign review on Spark (Ibis's PySpark backend) gives DuckDB's results.

Every stage function of growthloop.metrics.campaign_review (and of its mart, uplift model and goal
planning: growthloop.marts.outcomes, growthloop.metrics.uplift and planning) that reads a dataset
runs on the shared small
dataset (tests/spark_support.py) on DuckDB and on local Spark: counts must be equal, money and
statistics equal to 1e-9. Goals the data has no campaign for (register, amount) are reviewed by
overriding a campaign's goal. The uplift model's folds come from MD5 of the user id, so its cells,
predictions and Qini curve are DuckDB's too.
"""

from __future__ import annotations

import pytest
from spark_support import (  # noqa: F401  (fixtures)
    assert_same_frame,
    both,
    same_numbers,
    spark_pair_fixture,
    spark_watchdog_fixture,
)

from growthloop.marts import outcomes as mart
from growthloop.marts.wide import user_wide
from growthloop.metrics import campaign_review as cr
from growthloop.metrics import planning, stats, uplift

# (campaign, goal override): each goal's code path once, each campaign of the data once
REVIEWS = [("C2025_01", None), ("C2025_02", None), ("C2026_01", None), ("C2026_02", None),
           ("C2026_01", "register"), ("C2026_01", "amount")]


def reviewed(pair, campaign_id: str, goal: str | None):
    return cr.campaign(pair.duck, campaign_id, goal=goal), cr.campaign(pair.spark, campaign_id,
                                                                       goal=goal)


def test_campaign_list_and_cards(spark_pair):
    duck, spark = both(cr.campaigns, spark_pair)
    assert len(duck) == 4
    assert_same_frame(duck, spark, ordered=True)
    assert cr.default_campaign(spark_pair.duck) == cr.default_campaign(spark_pair.spark)
    for cid, goal in REVIEWS:
        d, s = reviewed(spark_pair, cid, goal)
        assert d == s
        assert_same_frame(d.card(), s.card(), ordered=True)


@pytest.mark.parametrize("campaign_id, goal", REVIEWS)
def test_member_outcomes_effect_and_funnels(spark_pair, campaign_id, goal):
    d, s = reviewed(spark_pair, campaign_id, goal)
    duck, spark = mart.member_outcomes(spark_pair.duck, d), mart.member_outcomes(spark_pair.spark, s)
    assert duck.count().execute() == d.members
    assert_same_frame(duck, spark, sort_by=["user_id"])
    eff_d, eff_s = cr.effect(spark_pair.duck, d), cr.effect(spark_pair.spark, s)
    # existing users signed up before the campaign: the register goal has no responder
    assert eff_d["available"] and (eff_d["responders_t"] > 0) == (goal != "register")
    same_numbers(eff_d, eff_s)
    for table in (cr.effect_table(d, eff_d), cr.rates_table(eff_d), cr.business_table(eff_d)):
        assert len(table)
    assert_same_frame(cr.business_table(eff_d), cr.business_table(eff_s), ordered=True)
    fun_d, fun_s = cr.campaign_funnel(spark_pair.duck, d), cr.campaign_funnel(spark_pair.spark, s)
    assert_same_frame(fun_d, fun_s, ordered=True)
    assert_same_frame(cr.diagnose(fun_d), cr.diagnose(fun_s), ordered=True)
    assert_same_frame(cr.utm_funnel(spark_pair.duck, d), cr.utm_funnel(spark_pair.spark, s),
                      ordered=True)


def test_checks_cuped_and_statistics_on_sums(spark_pair):
    d, s = reviewed(spark_pair, "C2026_01", None)
    assert_same_frame(cr.balance(spark_pair.duck, d), cr.balance(spark_pair.spark, s),
                      ordered=True)
    for metric, covariate in (("response", "pre_active_days"), ("amount", "tenure_days")):
        duck = cr.cuped(spark_pair.duck, d, metric, covariate)
        assert len(duck) == 2
        assert_same_frame(duck, cr.cuped(spark_pair.spark, s, metric, covariate), ordered=True)
    mo_d, mo_s = mart.outcomes(spark_pair.duck, d), mart.outcomes(spark_pair.spark, s)
    same_numbers(stats.mann_whitney(mo_d, "amount"), stats.mann_whitney(mo_s, "amount"))
    assert_same_frame(stats.group_sums(mo_d, "revenue", "aum_at_start"),
                      stats.group_sums(mo_s, "revenue", "aum_at_start"), ordered=True)


def test_segments_history_and_next_round(spark_pair):
    d, s = reviewed(spark_pair, "C2026_01", None)
    for by in ("layer", "signup_channel", "age_band"):
        seg_d = cr.segment_uplift(spark_pair.duck, d, by)
        assert_same_frame(seg_d, cr.segment_uplift(spark_pair.spark, s, by), ordered=True)
        same_numbers(cr.segment_summary(seg_d),
                     cr.segment_summary(cr.segment_uplift(spark_pair.spark, s, by)))

    def gender_segments(ds):
        wide = user_wide(ds)
        return wide.select("user_id", segment=wide.gender)

    seg_d = cr.segment_uplift(spark_pair.duck, d, segments=gender_segments(spark_pair.duck))
    seg_s = cr.segment_uplift(spark_pair.spark, s, segments=gender_segments(spark_pair.spark))
    assert_same_frame(seg_d, seg_s, ordered=True)

    assert_same_frame(*both(cr.history, spark_pair), ordered=True)

    base = cr.segment_uplift(spark_pair.duck, d, "age_band")
    # no segment of the small data is significant: a significant overall effect (given here)
    # makes every segment not significantly negative a target
    overall = {"available": True, "uplift": 0.05, "ci_low": 0.01, "rate_t": 0.3}
    for budget in (None, 300.0):
        plan_d, targets_d = cr.next_round(spark_pair.duck, d, base, "age_band", budget=budget,
                                          overall=overall)
        plan_s, targets_s = cr.next_round(spark_pair.spark, s, base, "age_band", budget=budget,
                                          overall=overall)
        assert_same_frame(plan_d, plan_s, ordered=True)
        assert targets_d.count().execute() > 0
        assert_same_frame(targets_d, targets_s, sort_by=["segment", "user_id"])


def test_goal_plan_and_channel_spend(spark_pair):
    duck, spark = both(planning.channel_spend, spark_pair)
    assert duck.spend.sum() > 0
    assert_same_frame(duck, spark, ordered=True)
    assert_same_frame(*both(planning.goal_plan, spark_pair, 300), ordered=True)


def test_uplift_model_is_the_same_on_both_engines(spark_pair):
    d, s = reviewed(spark_pair, "C2026_01", None)
    for folds, seed in ((2, 7), (3, 11)):
        cells = uplift.model_cells(spark_pair.duck, d, folds=folds, seed=seed)
        assert cells.n.sum() == d.members
        assert sorted(cells.fold.unique()) == list(range(folds))
        other = uplift.model_cells(spark_pair.spark, s, folds=folds, seed=seed)
        assert_same_frame(cells, other, ordered=True)
    pred_d, pred_s = uplift.predicted_uplift(cells), uplift.predicted_uplift(other)
    assert_same_frame(pred_d, pred_s, ordered=True)
    curve_d, curve_s = uplift.qini_curve(pred_d), uplift.qini_curve(pred_s)
    assert_same_frame(curve_d, curve_s, ordered=True)
    assert_same_frame(uplift.uplift_at_k(pred_d), uplift.uplift_at_k(pred_s), ordered=True)
    assert uplift.qini_area(curve_s) == pytest.approx(uplift.qini_area(curve_d), rel=1e-9)

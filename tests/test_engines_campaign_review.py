"""The closed-loop campaign review on Spark and on Postgres gives DuckDB's results.

Every stage function of growthloop.metrics.campaign_review (and of its mart, uplift model and
goal planning: growthloop.marts.outcomes, growthloop.metrics.uplift and planning) that reads a
dataset runs on the small dataset of tests/engine_support.py on DuckDB and on each engine:
counts must be equal, money and statistics equal to 1e-9. Goals the data has no campaign for
(register, amount) are reviewed by overriding a campaign's goal. The uplift model's folds come
from MD5 of the user id, so its cells, predictions and Qini curve are DuckDB's too.
"""

from __future__ import annotations

import pandas as pd
import pytest
from engine_support import (  # noqa: F401  (the fixtures engine_pair, engine_watchdog)
    assert_same_frame,
    both,
    engine_pair_fixture,
    engine_watchdog_fixture,
    same_numbers,
)

from growthloop.marts import outcomes as mart
from growthloop.marts.wide import user_wide
from growthloop.metrics import campaign_review as cr
from growthloop.metrics import planning, stats, uplift

# (campaign, goal override): each goal's code path once, each campaign of the data once
REVIEWS = [("C2025_01", None), ("C2025_02", None), ("C2026_01", None), ("C2026_02", None),
           ("C2026_01", "register"), ("C2026_01", "amount")]


def reviewed(pair, campaign_id: str, goal: str | None):
    return cr.campaign(pair.duck, campaign_id, goal=goal), cr.campaign(pair.other, campaign_id,
                                                                       goal=goal)


def test_campaign_list_and_cards(engine_pair):
    duck, other = both(cr.campaigns, engine_pair)
    assert len(duck) == 4
    assert_same_frame(duck, other, ordered=True)
    assert cr.default_campaign(engine_pair.duck) == cr.default_campaign(engine_pair.other)
    for cid, goal in REVIEWS:
        d, o = reviewed(engine_pair, cid, goal)
        assert d == o
        assert_same_frame(d.card(), o.card(), ordered=True)


@pytest.mark.parametrize("campaign_id, goal", REVIEWS)
def test_member_outcomes_effect_and_funnels(engine_pair, campaign_id, goal):
    d, o = reviewed(engine_pair, campaign_id, goal)
    duck, other = mart.member_outcomes(engine_pair.duck, d), mart.member_outcomes(engine_pair.other, o)
    assert duck.count().execute() == d.members
    assert_same_frame(duck, other, sort_by=["user_id"])
    eff_d, eff_o = cr.effect(engine_pair.duck, d), cr.effect(engine_pair.other, o)
    # existing users signed up before the campaign: the register goal has no responder
    assert eff_d["available"] and (eff_d["responders_t"] > 0) == (goal != "register")
    same_numbers(eff_d, eff_o)
    for table in (cr.effect_table(d, eff_d), cr.rates_table(eff_d), cr.business_table(eff_d)):
        assert len(table)
    assert_same_frame(cr.business_table(eff_d), cr.business_table(eff_o), ordered=True)
    fun_d, fun_o = cr.campaign_funnel(engine_pair.duck, d), cr.campaign_funnel(engine_pair.other, o)
    assert_same_frame(fun_d, fun_o, ordered=True)
    assert_same_frame(cr.diagnose(fun_d), cr.diagnose(fun_o), ordered=True)
    assert_same_frame(cr.utm_funnel(engine_pair.duck, d), cr.utm_funnel(engine_pair.other, o),
                      ordered=True)


def test_checks_cuped_and_statistics_on_sums(engine_pair):
    d, o = reviewed(engine_pair, "C2026_01", None)
    assert_same_frame(cr.balance(engine_pair.duck, d), cr.balance(engine_pair.other, o),
                      ordered=True)
    for metric, covariate in (("response", "pre_active_days"), ("amount", "tenure_days")):
        duck = cr.cuped(engine_pair.duck, d, metric, covariate)
        assert len(duck) == 2
        assert_same_frame(duck, cr.cuped(engine_pair.other, o, metric, covariate), ordered=True)
    mo_d, mo_o = mart.outcomes(engine_pair.duck, d), mart.outcomes(engine_pair.other, o)
    same_numbers(stats.mann_whitney(mo_d, "amount"), stats.mann_whitney(mo_o, "amount"))
    assert_same_frame(stats.group_sums(mo_d, "revenue", "aum_at_start"),
                      stats.group_sums(mo_o, "revenue", "aum_at_start"), ordered=True)


def test_segments_history_and_next_round(engine_pair):
    d, o = reviewed(engine_pair, "C2026_01", None)
    for by in ("layer", "signup_channel", "age_band"):
        seg_d = cr.segment_uplift(engine_pair.duck, d, by)
        assert_same_frame(seg_d, cr.segment_uplift(engine_pair.other, o, by), ordered=True)
        same_numbers(cr.segment_summary(seg_d),
                     cr.segment_summary(cr.segment_uplift(engine_pair.other, o, by)))

    def gender_segments(ds):
        wide = user_wide(ds)
        return wide.select("user_id", segment=wide.gender)

    seg_d = cr.segment_uplift(engine_pair.duck, d, segments=gender_segments(engine_pair.duck))
    seg_o = cr.segment_uplift(engine_pair.other, o, segments=gender_segments(engine_pair.other))
    assert_same_frame(seg_d, seg_o, ordered=True)

    assert_same_frame(*both(cr.history, engine_pair), ordered=True)

    base = cr.segment_uplift(engine_pair.duck, d, "age_band")
    # no segment of the small data is significant: a significant overall effect (given here)
    # makes every segment not significantly negative a target
    overall = {"available": True, "uplift": 0.05, "ci_low": 0.01, "rate_t": 0.3}
    for budget in (None, 300.0):
        plan_d, targets_d = cr.next_round(engine_pair.duck, d, base, "age_band", budget=budget,
                                          overall=overall)
        plan_o, targets_o = cr.next_round(engine_pair.other, o, base, "age_band", budget=budget,
                                          overall=overall)
        assert_same_frame(plan_d, plan_o, ordered=True)
        assert targets_d.count().execute() > 0
        assert_same_frame(targets_d, targets_o, sort_by=["segment", "user_id"])


def test_goal_plan_and_channel_spend(engine_pair):
    duck, other = both(planning.channel_spend, engine_pair)
    assert duck.spend.sum() > 0
    assert_same_frame(duck, other, ordered=True)
    assert_same_frame(*both(planning.goal_plan, engine_pair, 300), ordered=True)


def test_uplift_model_is_the_same_on_both_engines(engine_pair):
    d, o = reviewed(engine_pair, "C2026_01", None)
    for folds, seed in ((2, 7), (3, 11)):
        cells = uplift.model_cells(engine_pair.duck, d, folds=folds, seed=seed)
        assert cells.n.sum() == d.members
        assert sorted(cells.fold.unique()) == list(range(folds))
        other = uplift.model_cells(engine_pair.other, o, folds=folds, seed=seed)
        assert_same_frame(cells, other, ordered=True)
    pred_d, pred_o = uplift.predicted_uplift(cells), uplift.predicted_uplift(other)
    assert_same_frame(pred_d, pred_o, ordered=True)
    curve_d, curve_o = uplift.qini_curve(pred_d), uplift.qini_curve(pred_o)
    assert_same_frame(curve_d, curve_o, ordered=True)
    assert_same_frame(uplift.uplift_at_k(pred_d), uplift.uplift_at_k(pred_o), ordered=True)
    assert uplift.qini_area(curve_o) == pytest.approx(uplift.qini_area(curve_d), rel=1e-9)


def test_next_round_with_and_without_targets(engine_pair):
    # no segment qualifies: an empty plan and an empty list (the filter once used a NUL
    # sentinel, which Postgres refuses in a query); a forced segment: the same targets
    d, o = reviewed(engine_pair, "C2026_01", None)
    nothing = pd.DataFrame({"segment": ["35-44"], "verdict": ["not_significant"], "uplift": [0.0],
                            "ci_low": [-0.1], "rate_t": [0.5], "users_t": [3], "users_c": [2],
                            "responders_t": [1], "responders_c": [0]})
    plan, targets = cr.next_round(engine_pair.other, o, nothing, "age_band")
    assert plan.empty and targets.count().execute() == 0
    forced = nothing.assign(verdict=["positive"], uplift=[0.2], ci_low=[0.05])
    plan_d, targets_d = cr.next_round(engine_pair.duck, d, forced, "age_band")
    plan_o, targets_o = cr.next_round(engine_pair.other, o, forced, "age_band")
    assert targets_d.count().execute() > 0
    assert_same_frame(targets_d, targets_o, sort_by=["user_id"])
    assert_same_frame(plan_d, plan_o, ordered=True)


def test_a_goal_of_an_own_event_with_a_property_filter(engine_pair):
    # C2025_02 (the campaign of the small data with views in its window) reviewed on views of term products (浏览产品详情 where product_type is a 定期),
    # the goal chapter 6 takes as a parameter
    goal = {"event": "浏览产品详情", "where": {"product_type": ["定期3月", "定期6月", "定期12月"]}}
    d, o = reviewed(engine_pair, "C2025_02", goal)
    assert d == o and d.goal_label.startswith("浏览产品详情 (product_type=")
    assert_same_frame(mart.member_outcomes(engine_pair.duck, d),
                      mart.member_outcomes(engine_pair.other, o), sort_by=["user_id"])
    eff_d, eff_o = cr.effect(engine_pair.duck, d), cr.effect(engine_pair.other, o)
    same_numbers(eff_d, eff_o)
    # the filter selects: fewer responders than with every view of a product
    plain_d = cr.effect(engine_pair.duck, cr.campaign(engine_pair.duck, "C2025_02",
                                                         goal="浏览产品详情"))
    assert 0 < eff_d["responders_t"] < plain_d["responders_t"]

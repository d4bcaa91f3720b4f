"""Chapter 6's words: every finding and action is chosen from the numbers, and a sentence is
only said when its condition holds (each branch is fed numbers for which it is false, and for
which it is true); small counts are written through the chapter's suppression (`n`)."""

from __future__ import annotations

import pandas as pd

from growthloop.present.findings import campaign_review as words

NAN = float("nan")


def small(n: int) -> str:
    return "<10" if 0 < n < 10 else f"{n:,}"


CARD = {"campaigns": 4, "campaign": "C9「唤醒」", "channel": "短信", "goal": "投资", "window": 21,
        "members": 900, "treatment": 700, "control": 200, "send_delay": 12.0,
        "send_delay_limit": 45.0, "window_complete": True, "window_default": False,
        "costs_known": True}


def test_chosen_campaign_says_why():
    choice = {"campaign_id": "C9", "basis": "holdout", "campaigns": 4}
    assert "最近一次留了对照组的 C9「唤醒」" in words.chosen_campaign(choice, "C9「唤醒」")
    note = words.chosen_campaign(choice | {"basis": "members"}, "C9")
    assert "都没有留对照组" in note and "不能估计增量" in note
    assert "都没有名单" in words.chosen_campaign(choice | {"basis": "latest"}, "C9")


def test_card_follows_the_campaign():
    finding, action = words.card(CARD, small)
    assert "4 次" in finding and "响应窗口 21 天；" in finding and "名单 900 人" in finding
    assert "12 分钟发出，两组的响应窗口几乎同时开始" in finding
    assert "默认" not in finding and "还没有结束" not in finding and "随机留出对照组" in action
    # a late send (over the limit given, not a fixed one), a default window, an open window
    finding, _ = words.card(CARD | {"send_delay": 90.0, "window_default": True, "window_complete": False})
    assert "1.5 小时才发出（超过 45 分钟）" in finding and "按目标取默认值" in finding
    assert "还没有结束" in finding
    # no holdout; all held out; no members; no costs; small groups through n
    finding, action = words.card(CARD | {"control": 0, "members": 700}, small)
    assert "没有对照组" in finding and "随机留出 10%–20%" in action
    finding, action = words.card(CARD | {"treatment": 0, "members": 200})
    assert "全部成员都在对照组" in finding and "分钟发出" not in finding and "group 列" in action
    finding, action = words.card(CARD | {"members": 0, "treatment": 0, "control": 0})
    assert "名单是空的" in finding and "campaign_members" in action
    _, action = words.card(CARD | {"costs_known": False})
    assert "单条发送成本和单次奖励成本" in action
    finding, _ = words.card(CARD | {"members": 9, "treatment": 6, "control": 3}, small)
    assert "名单 <10 人，其中实验组 <10 人、对照组 <10 人" in finding


FUNNEL = {"sent": 681, "delivery_rate": 0.959, "click_rate": 0.067, "click_to_goal": 0.43,
          "response_rate": 0.059, "path_goal": 19, "reached_goal": 40, "off_path": 21, "weak": "无",
          "low_response": "不低于 1% 的警戒线", "response_low": False, "low_response_limit": 0.02,
          "untracked": "", "unjudged": "", "min_base": 30}


def diagnosis(weak=(False, False, False, False), rates=(0.959, 0.067, 0.43, 0.059)) -> pd.DataFrame:
    return pd.DataFrame({"check": ["送达率（a ÷ b）", "点击率（b ÷ c）", "点击后达成率（c ÷ d）", "响应率"],
                         "rate": list(rates), "threshold": [0.9, 0.02, 0.2, 0.01], "weak": list(weak),
                         "retune": ["渠道", "权益", "触点", "人群"]})


def test_funnel_names_only_what_the_data_records():
    finding, action = words.funnel(FUNNEL, diagnosis(), small)
    assert "发送 681 条，送达率 95.9%" in finding and "点击后达成目标的比例 43.0%" in finding
    assert "沿短链路径走完的 19 人，另外 21 人没有点短链" in finding
    assert "比较过的环节都不低于经验阈值" in finding and "对照组比较" in action
    assert "没有记录" not in finding and "utm_campaign" not in action
    # everyone on the path; weak steps with their retuning; a low response rate at the limit given
    finding, action = words.funnel(FUNNEL | {"off_path": 0, "weak": "送达率、响应率", "response_low": True},
                                   diagnosis((True, False, False, True)))
    assert "都是沿短链路径完成的" in finding and "低于经验阈值的环节：送达率、响应率" in finding
    assert "送达率偏低，调整渠道；响应率偏低，调整人群" in action and "低于 2% 时" in action
    # no clicks recorded: the step is named as unseen, the path is not described
    finding, action = words.funnel(FUNNEL | {"untracked": "点击短链", "click_rate": NAN, "click_to_goal": NAN},
                                   diagnosis(rates=(0.959, NAN, NAN, 0.059)))
    assert "数据没有记录点击短链" in finding and "沿短链" not in finding and "点击短链的比例" not in finding
    assert "utm_campaign" in action
    # a handful of sends: no rate is written, none is judged
    finding, action = words.funnel(FUNNEL | {"sent": 6, "reached_goal": 2, "path_goal": 1, "off_path": 1,
                                             "unjudged": "送达率、点击率、点击后达成率、响应率"},
                                   diagnosis(), small)
    assert "发送 <10 条。" in finding and "送达率 " not in finding and "响应率为" not in finding
    assert "分母不足 30 人" in finding and "共 <10 人" in finding and "发送量太小" in action


EFFECT = {"verdict": "实验组响应率显著高于对照组", "verdict_code": "positive", "rate_t": 0.059,
          "rate_c": 0.022, "uplift": 0.037, "ci_low": 0.002, "ci_high": 0.061, "p_value": 0.045,
          "relative": 1.67, "rel_ci_low": -0.03, "rel_ci_high": 6.37, "amount_t": 364.0,
          "amount_c": 42.0, "amount_diff": 322.0, "amount_ci_low": 116.0, "amount_ci_high": 529.0,
          "amount_p_welch": 0.002, "amount_p_mwu": 0.043, "inc_responders": 25.0, "inc_low": 0.2,
          "inc_high": 41.6, "inc_amount": 219562.0, "inc_revenue": 1444.0, "users_t": 681,
          "users_c": 182, "responders_t": 40, "responders_c": 4, "window_open": False}


def test_effect_follows_its_verdict_and_level():
    finding, action = words.effect(EFFECT, 0.1, small)
    assert finding.startswith("实验组响应率显著高于对照组。") and "（40/681）" in finding
    assert "（<10/182）" in finding and "Newcombe 90% 区间 +0.20% 至 +6.10%" in finding
    assert "p = 0.045" in finding and "相对增量 +167%" in finding and "Mann-Whitney p = 0.043" in finding
    assert "中间结果" not in finding and "用增量而不是响应人数" in action and "区间很宽" in action
    _, action = words.effect(EFFECT | {"ci_low": 0.03}, 0.05)  # a narrow interval
    assert "区间很宽" not in action
    _, action = words.effect(EFFECT | {"verdict_code": "negative"}, 0.05)
    assert "暂停" in action
    _, action = words.effect(EFFECT | {"verdict_code": "not_significant"}, 0.05)
    assert "不能证明" in action
    # no holdout responder, no z test, no Welch interval, nobody invested, an open window
    finding, _ = words.effect(EFFECT | {"relative": NAN, "responders_c": 0, "p_value": NAN,
                                        "window_open": True}, 0.05)
    assert "相对增量无法计算" in finding and "无法做 z 检验" in finding and "中间结果" in finding
    finding, _ = words.effect(EFFECT | {"amount_ci_low": NAN, "amount_p_mwu": NAN}, 0.05)
    assert "差 +322 元。" in finding and "Welch t" in finding and "Mann-Whitney p" not in finding
    finding, _ = words.effect(EFFECT | {"amount_t": 0.0, "amount_c": 0.0}, 0.05)
    assert "两组都没有投资" in finding and "人均投资额" not in finding
    # a group under the smallest published count: its rate is not written
    finding, _ = words.effect(EFFECT | {"users_c": 8}, 0.05, small)
    assert "对照组 <10 人，人数太少" in finding and "2.2%" not in finding


MONEY = {"cost": 634.0, "cost_send": 34.0, "cost_reward": 600.0, "cost_per_incremental": 25.3,
         "roi": 1.28, "cost_per_send": 0.05, "cost_per_reward": 15.0, "cost_assumed": ""}


def test_roi_follows_cost_and_verdict():
    finding, action = words.roi(MONEY, EFFECT)
    assert "总成本 634 元" in finding and "每个增量响应者的成本 25.3 元" in finding
    assert "增量 ROI 128%" in finding and "按 0 计" not in finding and "固化" in action
    _, action = words.roi(MONEY | {"roi": -0.4}, EFFECT)
    assert "收入抵不过成本" in action
    _, action = words.roi(MONEY, EFFECT | {"verdict_code": "not_significant"})
    assert "只是点估计" in action
    _, action = words.roi(MONEY, EFFECT | {"verdict_code": "negative"})
    assert "反作用" in action
    finding, action = words.roi(MONEY | {"cost": 0.0, "cost_send": 0.0, "cost_reward": 0.0, "roi": NAN,
                                         "cost_per_incremental": NAN, "cost_assumed": "单次奖励成本"}, EFFECT)
    assert "没有填写单次奖励成本，按 0 计" in finding and "ROI 不适用" in finding
    assert "算不出每个增量响应者的成本" in finding and "不花钱" in action
    finding, _ = words.roi(MONEY, EFFECT | {"inc_revenue": NAN})
    assert "增量收入" not in finding


CHECKS = {"srm_p": 0.42, "srm_verdict": "分组比例与计划一致", "observed_holdout": 0.211,
          "planned_holdout": 0.2, "mde": 0.034, "needed": 592.0, "power_warning": "样本量足以检出",
          "imbalanced": 1, "balance_sig": 0, "max_smd": 0.11, "srm_code": "match",
          "power_status": "ok", "smd_limit": 0.15, "p_level": 0.1}


def test_checks_follow_their_codes():
    finding, action = words.checks(CHECKS, 60)
    assert "计划为 20.0%" in finding and "活动前 60 天" in finding and "超过 0.15" in finding
    assert "p < 0.1 的有 0 项（为 0 时" in finding and "约 592 人" in finding and "直接使用" in action
    finding, action = words.checks(CHECKS | {"srm_code": "not_tested"}, 60)
    assert "未做样本比例检验" in finding and "卡方" not in finding
    _, action = words.checks(CHECKS | {"srm_code": "mismatch"}, 60)
    assert "发送日志" in action
    finding, action = words.checks(CHECKS | {"balance_sig": 2}, 60)
    assert "两组在活动前就不一样" in finding and "CUPED" in action
    _, action = words.checks(CHECKS | {"power_status": "below_mde"}, 60)
    assert "实验组约 592 人" in action
    finding, action = words.checks(CHECKS | {"power_status": "too_small", "needed": NAN, "mde": NAN,
                                             "max_smd": NAN}, 60)
    assert "所需" not in finding and "MDE" not in finding and "明显扩大" in action
    assert "没有可比较的差异" in finding


CUPED = {"cuped_uplift": 0.033, "cuped_low": 0.006, "cuped_high": 0.059, "plain_low": 0.009,
         "plain_high": 0.064, "cuped_reduction": 0.058, "cuped_theta": 0.0104,
         "covariate": "pre_invest_count"}


def test_cuped_says_what_changed():
    finding, action = words.cuped(CUPED, 45)
    assert "以活动前 45 天的投资次数为协变量" in finding and "pre_invest_count" not in finding and "方差缩减 5.8%" in finding
    assert "相关系数的平方" in finding and "换一个与目标更相关的协变量" in action
    finding, action = words.cuped(CUPED | {"plain_low": -0.01}, 45)
    assert "不再包含 0" in finding and "可以用 CUPED 的区间" in action
    finding, action = words.cuped(CUPED | {"cuped_low": -0.01}, 45)
    assert "校正后区间包含 0" in finding and "以 CUPED 的结论为准" in action
    finding, _ = words.cuped(CUPED | {"cuped_reduction": 0.0, "cuped_theta": 0.0}, 45)
    assert "CUPED 与普通估计相同" in finding and "相关系数" not in finding
    finding, _ = words.cuped(CUPED | {"cuped_reduction": -0.082}, 45)
    assert "方差反而增加了 8.2%" in finding and "相关系数的平方" not in finding


SEGS = {"seg_breakdown": "age_band", "seg_tested": 3, "seg_small": 2, "seg_positive": 1,
        "seg_cells": 24, "seg_best": "45-55", "seg_best_uplift": 0.08, "seg_negative": 0,
        "seg_dropped": "", "seg_min_cell": 50}


def test_segments_name_leaders_only_when_there_are():
    finding, action = words.segments(SEGS)
    assert "24 个" in finding and "显著为正的有 1 个" in finding and "显著为负" not in finding
    assert "2 个有一组不足 50 人" in finding and "45-55（+8.0%）" in finding and "加码" in action
    assert "按年龄段拆分时" in finding and "age_band" not in finding  # the breakdown in Chinese
    finding, _ = words.segments(SEGS | {"seg_breakdown": "rfm"})
    assert "按 RFM 分群拆分时" in finding
    finding, action = words.segments(SEGS | {"seg_positive": 0, "seg_negative": 2, "seg_small": 0,
                                             "seg_best": "无", "seg_dropped": "layer、gender"})
    assert "显著为负的 2 个" in finding and "不足" not in finding and "最高的是" not in finding
    assert "资产分层、性别对本活动的所有成员都是同一个值" in finding and "排除" in action
    _, action = words.segments(SEGS | {"seg_positive": 0})
    assert "只能当作假设" in action


def test_uplift_model_trusts_a_ranking_only_when_it_beats_random():
    head = {"qini": 0.34, "uplift_at_30": 0.071, "uplift_all": 0.037}
    finding, action = words.uplift_model(head, 0.3)
    assert "最高的 30% 成员中实际增量为 +7.1%（全体为 +3.7%）" in finding and "0.34" in finding
    assert "前 30% 优先" in action
    finding, action = words.uplift_model(head | {"qini": NAN}, 0.3)
    assert "Qini 面积无法计算" in finding and "不要按模型选人" in action
    _, action = words.uplift_model(head | {"uplift_at_30": 0.01}, 0.3)
    assert "不要按模型选人" in action


HIST = {"hist_campaigns": 5, "hist_compared": 4, "hist_significant": 2, "hist_negative": 1,
        "hist_with_roi": 3, "hist_positive_roi": 2, "hist_best": "C1「甲」", "hist_best_roi": 1.5}


def test_history_counts_what_can_be_compared():
    finding, action = words.history(HIST)
    assert "共有 5 次活动，其中 4 次有对照组" in finding and "完全在 0 以下的 1 次" in finding
    assert "有成本数据的 3 次中" in finding and "C1「甲」（150%）" in finding
    assert "另外 1 次没有对照组" in finding and "今后每次活动" in action
    finding, action = words.history(HIST | {"hist_campaigns": 4, "hist_negative": 0, "hist_with_roi": 0})
    assert "0 以下" not in finding and "没有一次能算出增量 ROI" in finding and "另外" not in finding
    assert "今后" not in action


PLAN = {"plan_segments": 2, "plan_names": "35-44、45-55", "plan_targets": 528, "plan_incremental": 19.4,
        "plan_cost": 492.0, "plan_basis": "整体显著，按分群收缩", "plan_basis_code": "overall",
        "budget": 800.0, "offer": "满额返现券", "budget_applied": True, "next_channel": "推送", "plan_rows": 3,
        "plan_uplift_low": 0.037, "plan_uplift_high": 0.076, "plan_at_overall": 0,
        "plan_at_overall_names": ""}


def test_next_round_uses_the_budget_only_when_it_applies():
    finding, action = words.next_round(PLAN, "layer", small)
    assert "按资产分层分群" in finding and "在 800 元预算内" in finding and "共 528 人" in finding
    assert "预期成本 492 元" in finding and "沿用本次验证过的推送" in action and "满额返现券" in action
    finding, _ = words.next_round(PLAN | {"budget_applied": False, "plan_cost": NAN, "plan_targets": 7}, "layer", small)
    assert "预算无法用来截断名单" in finding and "预期成本" not in finding and "共 <10 人" in finding
    finding, _ = words.next_round(PLAN | {"budget_applied": False, "budget": NAN}, "layer")
    assert "预算" not in finding
    finding, action = words.next_round(PLAN | {"plan_segments": 0}, "layer")
    assert "800 元的预算放不下" in finding and "提高预算" in action
    finding, action = words.next_round(PLAN | {"plan_segments": 0, "plan_rows": 0,
                                               "plan_basis": "没有可用的依据", "plan_basis_code": "none"}, "layer")
    assert finding.startswith("没有可用的依据") and "重做一轮" in action


def test_next_round_says_what_the_basis_and_the_uplifts_are():
    # the overall basis: said in words; the uplifts are each segment's own, shrunk, and differ
    finding, _ = words.next_round(PLAN, "age_band")
    assert finding.startswith("选人依据：整体显著，按分群收缩（没有哪个分群单独显著，但活动整体显著")
    assert "向活动整体增量收缩" in finding and "分群越小" in finding
    assert "在 +3.7% 至 +7.6% 之间" in finding
    assert "用的是整体增量" not in finding and "不说明哪个分群" not in finding
    # the segment basis
    finding, _ = words.next_round(PLAN | {"plan_basis": "分群显著", "plan_basis_code": "segment"}, "age_band")
    assert finding.startswith("选人依据：分群显著（Holm 校正后增量显著为正的分群；按年龄段分群）")
    # some segments at the overall uplift: named, with the reason
    finding, _ = words.next_round(PLAN | {"plan_at_overall": 1, "plan_at_overall_names": "35-44"}, "age_band")
    assert "其中 35-44 有一组没有成员，无法单独估计，用的是整体增量" in finding
    assert "在 +3.7% 至 +7.6% 之间" in finding
    # every segment at the overall uplift: never a segment-level claim
    at = {"plan_at_overall": 2, "plan_at_overall_names": "35-44、45-55", "plan_uplift_low": 0.037,
          "plan_uplift_high": 0.037}
    finding, _ = words.next_round(PLAN | at, "age_band")
    assert "这 2 个分群用的是整体增量 +3.7%" in finding and "不说明哪个分群的效果更好" in finding
    assert "至" not in finding and "其中" not in finding
    finding, _ = words.next_round(PLAN | at | {"plan_segments": 1, "plan_at_overall": 1}, "age_band")
    assert "这个分群用的是整体增量 +3.7%" in finding
    # a budget that fits no segment: the basis is still said in words
    finding, _ = words.next_round(PLAN | {"plan_segments": 0}, "age_band")
    assert finding.startswith("选人依据：整体显著，按分群收缩（没有哪个分群单独显著") and "收缩后" not in finding


GOAL = {"target_investors": 500, "target_registrations": 991.0, "target_clicks": 4485.0,
        "target_budget": 41491.0, "target_top": "CPA联盟", "target_top_share": 0.211,
        "target_channels": 11, "target_unknown_rate": "", "target_no_spend": "老带新",
        "target_window_days": 21}


def test_goal_plan_and_budget_say_what_is_known():
    finding, _ = words.goal_plan(GOAL)
    assert "新增 500 名" in finding and "11 个" in finding and "4,485 次广告点击" in finding
    assert "投放预算约 41,491 元" in finding and "转化窗口" not in finding
    finding, _ = words.goal_plan(GOAL | {"target_clicks": NAN, "target_budget": NAN,
                                         "target_unknown_rate": "百度搜索"})
    assert "广告点击" not in finding and "预算算不出来" in finding
    assert "百度搜索 的注册用户还都在 21 天的转化窗口内" in finding
    budget = {"target_budget_top": "百度搜索", "target_budget_top_share": 0.363, "target_budget_paid": 8}
    finding, _ = words.goal_budget(budget, GOAL)
    assert "8 个渠道" in finding and "百度搜索（占 36.3%）" in finding and "老带新 没有花费" in finding
    finding, _ = words.goal_budget(budget, GOAL | {"target_no_spend": ""})
    assert "没有花费" not in finding

"""Chapter 7's words: every finding and action is chosen from the numbers, and a sentence is
only said when its condition holds (each branch is fed numbers for which it is false)."""

from __future__ import annotations

import math

from growthloop.present.findings import plan as words

NAN = float("nan")
AUD = {"audience": "stalled_card", "audience_label": "注册后未绑卡的滞留用户 (第 2 章)",
       "basis": "first_action", "action": "funnel_stalled", "audience_members": 771, "strata": 11,
       "stratum_name": "注册渠道", "goal": "绑卡", "order_rule": "滞留开始越晚越优先",
       "rule": "注册满 24 小时仍未绑卡的用户"}
RULES = {"before_rules": 1000, "excluded_running": 0, "excluded_frequency": 0, "excluded_opt_out": 0,
         "excluded_budget": 0, "members": 1000, "budget": 2000.0, "budget_applied": True,
         "frequency_on": True, "opt_out_recorded": True}
HOLD = {"holdout_share": 0.18, "holdout_basis": "power", "baseline": 0.1, "uplift": 0.05, "mde": 0.048,
        "power": 0.8, "alpha": 0.05, "treatment": 1640, "control": 360,
        "basis_campaign": "C1「唤醒」", "basis_chosen": "overlap", "basis_ci_low": 0.01,
        "basis_ci_high": 0.09, "seed": 20260701}
EXP = {"members": 2000, "treatment": 1640, "control": 360, "baseline": 0.1, "rate_t": 0.15, "uplift": 0.05,
       "mde": 0.048, "expected_responders": 246.0, "expected_incremental": 82.0, "expected_cost": 3772.0,
       "cost_send": 82.0, "cost_reward": 3690.0, "cost_per_incremental": 46.0, "channel": "短信",
       "goal": "投资", "window_days": 14, "start": "2026-07-01 10:00"}
CHECKS = {"campaign_id": "C20260701_at_risk", "members": 2000, "treatment": 1640, "control": 360,
          "observed_holdout": 0.18, "planned_holdout": 0.18, "srm_p": 1.0, "srm_verdict": "match",
          "strata": 4, "max_stratum_gap": 0.4}
FILES = {"campaign": "exports/07_next_campaign/campaign.csv", "members": "exports/07_next_campaign/members.csv"}


def small(n: int) -> str:
    return "<10" if 0 < n < 10 else f"{n:,}"


def test_audience_says_where_it_came_from():
    finding, action = words.audience(AUD, "给 1,030 名滞留用户发触发提醒")
    assert "共 771 人，分布在 11 个注册渠道" in finding and "「给 1,030 名滞留用户发触发提醒」" in finding
    assert "plan_audience 指定" not in finding and "默认顺序" not in finding
    assert "「绑卡」" in action and "滞留开始越晚越优先" in action
    finding, _ = words.audience(AUD | {"basis": "parameter"})
    assert "plan_audience 指定" in finding and "摘要" not in finding
    finding, _ = words.audience(AUD | {"basis": "fallback", "audience_members": 4}, n=small)
    assert "默认顺序" in finding and "共 <10 人" in finding


def test_rules_name_only_the_rules_that_removed_somebody():
    finding, action = words.rules(RULES)
    assert "没有排除任何人" in finding and "预算 2,000 元以内" in finding
    assert "plan_exclude_running" in action and "退订" not in action
    finding, action = words.rules(RULES | {"excluded_running": 30, "excluded_opt_out": 5, "excluded_budget": 100,
                                           "members": 865}, small)
    assert "正在进行的其他活动的成员 30 人" in finding and "已退订营销消息的人 <10 人" in finding
    assert "近期已发送" not in finding and "预算之外的人 100 人" in finding and "进入名单的有 865 人" in finding
    assert "加预算" in action and "被规则排除的人比留下的多" not in action
    # more left out than kept; no opt-out column; no cap; no budget
    finding, action = words.rules(RULES | {"excluded_running": 700, "members": 300, "opt_out_recorded": False,
                                           "frequency_on": False, "budget": NAN})
    assert "没有设预算上限" in finding and "退订名单过滤" in action and "频次上限已关闭" in action
    assert "被规则排除的人比留下的多" in action
    # a budget that could not cut: the unit costs are unknown
    finding, _ = words.rules(RULES | {"budget_applied": False})
    assert "单位成本未知" in finding and "以内" not in finding


def test_holdout_follows_how_the_share_was_set():
    finding, action = words.holdout(HOLD)
    assert "留出 18% 的名单" in finding and "C1「唤醒」 的对照组响应率 10.0%" in finding and "MDE) 为 4.80%" in finding
    assert "包含 0" not in finding and "扩大名单" not in action and "种子 20260701" in action
    finding, action = words.holdout(HOLD | {"holdout_basis": "parameter", "mde": 0.07})
    assert "plan_holdout_share 定为 18%" in finding and "把握不到 80%" in finding and "扩大名单" in action
    finding, _ = words.holdout(HOLD | {"holdout_basis": "parameter"})
    assert "把握不到" not in finding  # the MDE is below the planned uplift
    finding, action = words.holdout(HOLD | {"holdout_basis": "underpowered", "holdout_share": 0.2, "mde": 0.09})
    assert "即使留出一半的人" in finding and "默认的 20%" in finding and "扩大名单" in action
    finding, _ = words.holdout(HOLD | {"holdout_basis": "no_basis", "holdout_share": 0.2, "basis_campaign": "",
                                       "baseline": NAN, "mde": NAN, "uplift": NAN})
    assert "没有同一目标" in finding and "无法计算最小可检测增量" in finding
    finding, _ = words.holdout(HOLD | {"basis_ci_low": -0.02})
    assert "包含 0" in finding


def test_expected_words_the_cost_only_when_known():
    finding, action = words.expected(EXP)
    assert "实验组 1,640 人" in finding and "约 82.0 个「投资」" in finding and "约 246 人达成，其中约 164 人不发也会达成" in finding
    assert "预计成本 3,772 元（发送 82.00 元，奖励 3,690 元）" in finding and "每个增量响应者约 46.00 元" in finding
    assert "MDE" not in action and "单位成本" not in action and "奖励照样发给他们" in finding
    finding, _ = words.expected(EXP | {"cost_reward": 0.0, "expected_cost": 82.0, "cost_per_incremental": 1.0})
    assert "不发也会达成）" in finding and "奖励照样" not in finding  # no reward: nothing paid to them
    finding, action = words.expected(EXP | {"expected_cost": NAN, "cost_per_incremental": NAN,
                                            "expected_responders": NAN, "mde": 0.08})
    assert "成本无法估计" in finding and "人达成" not in finding
    assert "小于这份名单的 MDE (8.00%)" in action and "plan_cost_per_send" in action
    finding, _ = words.expected(EXP | {"cost_per_incremental": NAN})
    assert "每个增量响应者" not in finding


def test_package_says_what_to_upload_and_stops_on_a_mismatch():
    finding, action = words.package(CHECKS, FILES, "短信", "2026-07-01 10:00", small)
    assert FILES["campaign"] in finding and FILES["members"] in finding and "实验组 1,640 人" in finding
    assert "p = 1.000" in finding and "不超过 0.4 人" in finding and "不通过" not in finding
    assert "上传到短信发送平台" in action and "campaign_id = C20260701_at_risk" in action
    finding, action = words.package(CHECKS | {"srm_verdict": "mismatch", "srm_p": 1e-5, "observed_holdout": 0.3},
                                    FILES, "短信", "2026-07-01 10:00")
    assert "不通过" in finding and "不要上传" in action and "上传到" not in action
    assert not math.isnan(CHECKS["srm_p"])

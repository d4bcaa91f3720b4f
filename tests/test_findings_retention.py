"""Chapter 5's words: every finding and action is chosen from the numbers, a sentence is only
said when its condition holds (each branch is fed numbers for which it is false, and true),
the parameters are written as given, and small counts go through the chapter's `n`."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from growthloop.present.findings import retention as words

NAN = float("nan")


def small(n: int) -> str:
    return "<10" if 0 < n < 10 else f"{n:,}"


COHORTS = {"cohorts": 12, "running_cells": 3, "p1_rate": 0.15, "p1_cohorts": 11,
           "latest_cohort": "2026-05-01", "latest_p1": 0.147, "latest_users": 1136,
           "prev_cohort": "2026-04-01", "prev_p1": 0.139, "prev_users": 1018,
           "p1_change_pp": 0.8, "p1_change_low_pp": -2.1, "p1_change_high_pp": 3.8,
           "p1_change_p": 0.57}


def test_notes_say_what_was_chosen() -> None:
    assert "自然月划分" in words.unit_note("month", 12, "signup") and "12 个月" in words.unit_note("month", 12, "signup")
    assert "还不到" not in words.unit_note("month", 12, "signup")
    week = words.unit_note("week", 5, "first_investment", min_periods=4)
    assert "首投" in week and "5 周" in week and "还不到 4 个完整的月，" in week
    day = words.unit_note("day", 13, "signup")
    assert "13 天" in day and "3 个完整的周" in day
    assert "暂按自然月" in words.unit_note("month", 0, "signup")
    note = words.data_end_note(dt.date(2026, 6, 30), dt.date(2027, 6, 30))
    assert "2026-06-30" in note and "早 365 天" in note and "analysis_date" in note
    window = pd.DataFrame({"cohort": [1, 1, 2], "period": [0, 1, 0]})
    window.attrs.update(cohorts=2, periods=2)
    title = words.heatmap_title(window, "investment", "on", "month")
    assert "\n" not in title and title.endswith("，只算当月回来）") and "mode" not in title
    window.attrs.update(cohorts=30, periods=365)
    title = words.heatmap_title(window, "app_open", "on_or_after", "day")
    assert "最近 2 个同期群、进入后前 2 天（共 30 个同期群" in title and "当日或之后回来都算" in title


def test_cohorts_compare_only_what_can_be_compared() -> None:
    finding, action = words.cohorts(COHORTS, "month", "signup", "investment", "on")
    assert "12 个同期群中，11 个已经过完进入后的第 1 个月" in finding and "15.0% 的人在第 1 个月有投资" in finding
    assert "1,136 人）为 14.7%" in finding and "差 +0.8 个百分点（95% 区间 -2.1 到 +3.8），区间包含 0" in finding
    assert "3 个格子" in finding and "不要据此调整预算" in action
    # significant either way: the action follows the sign
    _, action = words.cohorts(COHORTS | {"p1_change_pp": -3.0, "p1_change_low_pp": -5.0,
                                         "p1_change_high_pp": -1.0}, "month", "signup", "investment", "on")
    assert "显著低于上一批" in action
    finding, action = words.cohorts(COHORTS | {"p1_change_low_pp": 0.5, "running_cells": 0},
                                    "week", "first_investment", "app_open", "on_or_after")
    assert "显著高于上一批" in action and "次周留存" in action and "在统计上显著" in finding
    assert "按首投时间" in finding and "第 1 周或之后" in finding and "格子" not in finding
    # one cohort only: nothing to compare, no interval
    finding, action = words.cohorts(COHORTS | {"prev_cohort": "", "prev_p1": NAN, "p1_change_pp": NAN,
                                               "p1_change_low_pp": NAN, "p1_change_high_pp": NAN},
                                    "day", "signup", "any", "on")
    assert "只有 2026-05-01 这一批过完了进入后的第 1 天" in finding and "区间" not in finding
    assert "任意事件或投资" in finding and "显著低于" not in action and "显著高于" not in action
    # small cohorts: their rates are not given, their sizes are written through n
    finding, _ = words.cohorts(COHORTS | {"latest_users": 4}, "month", "signup", "investment", "on", small)
    assert "<10 人" in finding and "人数太少" in finding and "14.7%" not in finding
    # an interval that cannot be computed is not written
    finding, _ = words.cohorts(COHORTS | {"p1_change_low_pp": NAN}, "month", "signup", "investment", "on")
    assert "区间" not in finding.split("差 +0.8 个百分点")[1]


def test_recent_weeks() -> None:
    head = {"cohorts": 12, "running_cells": 12, "latest_cohort": "2026-06-15", "latest_p1": 0.07,
            "latest_users": 330, "prev_cohort": "2026-06-08", "prev_p1": 0.071, "prev_users": 394}
    finding, action = words.recent_weeks(head, 8, small)
    assert "最近 8 周共有 12 个周同期群" in finding and "12 个格子" in finding
    assert "330 人）次周留存 7.0%，前一周（2026-06-08）为 7.1%" in finding and "低于前一周" in action
    _, action = words.recent_weeks(head | {"latest_p1": 0.2}, 8, small)
    assert "不低于前一周" in action
    finding, action = words.recent_weeks(head | {"running_cells": 0, "prev_cohort": ""}, 8, small)
    assert "都已过完" in finding and "前一周" not in finding and "连续两周" in action
    finding, _ = words.recent_weeks(head | {"prev_users": 3}, 8, small)
    assert "前一周" not in finding  # a small previous week is not compared
    finding, action = words.recent_weeks(head | {"latest_users": 3}, 8, small)
    assert "只有 <10 人" in finding and "7.0%" not in finding and "人数太少" in action
    finding, _ = words.recent_weeks(head | {"latest_cohort": ""}, 8, small)
    assert "还没有哪一周" in finding


def test_curves_follow_the_shape() -> None:
    head = {"periods": 11, "last_rate": 0.03, "steepest_period": 1, "steepest_drop_pp": 9.9,
            "early_drop_pp": 3.3, "late_drop_pp": 0.5, "newest_cohort": "2026-04-01", "newest_gap_pp": -0.5}
    finding, action = words.curves(head, "month")
    assert "第 11 个月" in finding and "从第 0 个月到第 1 个月（9.9 个百分点）" in finding
    assert "-3.3 个百分点，后半段 -0.5 个百分点，曲线在变平" in finding and "低 0.5 个百分点" in finding
    assert "第 1 个月之前" in action and "会员权益维系" in action and "回查近期的获客渠道" in action
    finding, action = words.curves(head | {"late_drop_pp": 4.0, "newest_gap_pp": 1.0}, "week")
    assert "并没有变平" in finding and "高 1.0 个百分点" in finding and "第 1 周之前" in action
    assert "流失没有放缓" in action and "回查" not in action
    finding, action = words.curves(head | {"late_drop_pp": -0.01, "early_drop_pp": 0.02}, "day")
    assert "+0.0 个百分点" in finding and "-0.0" not in finding and "不再下降" in finding
    finding, action = words.curves(head | {"steepest_period": 0, "steepest_drop_pp": NAN,
                                           "late_drop_pp": NAN, "newest_cohort": "", "newest_gap_pp": NAN},
                                   "month")
    assert "没有下降" in finding and "只有一期可比" in finding and "最新" not in finding
    assert "没有陡降" in action and "会员权益" not in action


NTH = {"first_investors": 3980, "second_investors": 1726, "second_rate": 0.434, "fifth_rate": 0.124,
       "weakest_n": 2, "weakest_rate": 0.434, "second_gap_days": 31.2, "term_min_users": 25,
       "best_term": "3个月", "best_term_rate": 0.553, "worst_term": "活期", "worst_term_rate": 0.339}


def test_nth_says_only_what_the_numbers_show() -> None:
    finding, action = words.nth(NTH, small)
    assert "3,980 名首投用户中，1,726 人（43.4%）" in finding and "12.4% 走到了第五次" in finding
    assert "至少 25 名" in finding and "3个月 的二投率最高（55.3%），活期 最低" in finding
    assert action.startswith("二投是最值得投入的一步") and "约 31 天" in action
    finding, action = words.nth(NTH | {"fifth_rate": NAN, "weakest_n": 3, "weakest_rate": 0.4,
                                       "second_gap_days": NAN, "worst_term": "3个月"}, small)
    assert "第五次" not in finding and "投过 2 次的人中只有 40.0%" in finding and "中位间隔" not in finding
    assert "只有 3个月 一个首投期限" in finding and "第 3 次" in action and "约" not in action
    finding, _ = words.nth(NTH | {"best_term": "", "worst_term": ""}, small)
    assert "没有哪个首投期限有至少 25 名" in finding
    finding, _ = words.nth({k: v for k, v in NTH.items() if "term" not in k}, small)
    assert "期限" not in finding
    finding, action = words.nth(NTH | {"first_investors": 4, "second_investors": 0}, small)
    assert finding == "<10 名首投用户中，截至分析日还没有人投第二次。" and "交易表" in action
    finding, _ = words.nth(NTH | {"second_investors": 3}, small)
    assert "<10 人（43.4%）" in finding


LIFE = {"state_period": "2026-06-01", "state_complete": True, "users_now": 3980,
        "active_base_now": 2393, "new_now": 474, "resurrected_now": 33, "dormant_now": 969,
        "churned_now": 618, "state_periods": 12}


def test_lifecycle_uses_the_thresholds_given() -> None:
    finding, action = words.lifecycle(LIFE, 45, 120, "investment", small)
    assert "2026-06-01 所在月末" in finding and "3,980 名有过投资的用户" in finding
    assert "沉睡（不活跃满 45 天）969 人，流失（满 120 天）618 人" in finding
    assert "本月新增 474 人，回流 33 人" in finding
    assert "不活跃满 45 天时" in action and "120 天流失以后" in action and "60" not in action
    assert "累计流失已经多于" not in action
    finding, action = words.lifecycle(LIFE | {"state_complete": False, "new_now": 0, "resurrected_now": 5,
                                              "dormant_now": 0, "churned_now": 5000},
                                      60, 180, "app_open", small)
    assert "还没有过完" in finding and "本月新增" not in finding and "回流 <10 人" in finding
    assert "有过「打开App」的用户" in finding
    assert action.startswith("现在没有沉睡用户") and "累计流失已经多于活跃用户" in action
    finding, action = words.lifecycle(LIFE | {"active_base_now": 0, "new_now": 0, "resurrected_now": 0},
                                      60, 180, "investment", small)
    assert "没有一个活跃用户" in finding and "analysis_date" in finding and "核对" in action


def test_transitions_check_the_thresholds() -> None:
    head = {"transition_months": 11, "dormant_base": 4044, "dormant_back": 0.034, "dormant_churn": 0.155,
            "comebacks": 965, "comeback_dormant": 0.8, "comeback_churn": 0.98}
    finding, action = words.transitions(head, 45, 150, small)
    assert "11 个完整月份" in finding and "3.4% 回流，15.5% 转为流失" in finding
    assert "80.0% 离开不超过 45 天，98.0% 不超过 150 天" in finding and "只占 2.0%" in finding
    assert "离开不超过 45 天" in action and "沉睡阈值可能偏短" not in action
    _, action = words.transitions(head | {"comeback_dormant": 0.3}, 45, 150, small)
    assert "沉睡阈值可能偏短" in action
    finding, _ = words.transitions(head | {"dormant_base": 0, "comebacks": 4}, 45, 150, small)
    assert "还没有用户在月末处于沉睡" in finding and "<10 次回来" in finding
    finding, action = words.transitions(head | {"comebacks": 0, "comeback_dormant": NAN,
                                                "comeback_churn": NAN}, 45, 150, small)
    assert "还没有用户在不活跃之后回来过" in finding and "45 / 150 天" in action


def test_at_risk_and_survival() -> None:
    finding, action = words.at_risk(7, 45, 150, "exports/05_lifecycle_retention/at_risk_users.csv", small)
    assert "有 <10 名用户" in finding and "不活跃满 45 天、不足 150 天" in finding
    assert "exports/05_lifecycle_retention/at_risk_users.csv" in finding and "第 6 章" in action
    finding, action = words.at_risk(0, 45, 150, "x.csv", small)
    assert "没有处于沉睡期" in finding and "x.csv" not in finding and "不需要召回" in action
    head = {"surv_investors": 1763, "surv_too_recent": 2217, "surv_30": 0.633, "surv_90": 0.538,
            "surv_180": NAN, "surv_median_days": 122.0, "surv_min_users": 80, "surv_channel_day": 90,
            "surv_channel_best": "甲", "surv_channel_best_rate": 0.77, "surv_channel_worst": "乙",
            "surv_channel_worst_rate": 0.23}
    finding, action = words.survival(head, 150, (30, 90, 180), small)
    assert "首投已满 150 天" in finding and "另有 2,217 人" in finding
    assert "30 天 63.3%，90 天 53.8%。" in finding and "180 天" not in finding and "122 天" in finding
    assert "至少 80 名" in finding and "最好的是 甲（77.0%），最差的是 乙（23.0%）" in finding
    assert "乙 的投资者流失得快" in action
    finding, action = words.survival(head | {"surv_too_recent": 0, "surv_30": NAN, "surv_90": NAN,
                                             "surv_median_days": NAN, "surv_channel_day": 0,
                                             "surv_investors": 5}, 150, (30, 90, 180), small)
    assert "另有" not in finding and "<10 名投资者" in finding and "还不够读出首投后第 30 天" in finding
    assert "还没有降到一半" in finding and "不比较渠道" in finding and "等更多投资者" in action


def test_ltv_and_cac() -> None:
    head = {"horizon_months": 12, "ltv_month": 11, "ltv_at_month": 57.84, "ltv_cohorts": 1,
            "ltv_month0": 6.76, "ltv_month0_share": 0.117}
    finding, action = words.ltv(head)
    assert "第 11 个月，每个注册用户平均累计带来 57.8 元" in finding and "不够 12 个月" in finding
    assert "11.7% 在注册当月" in finding and "复投" in finding and "曲线是否还在上升" in action
    finding, action = words.ltv(head | {"ltv_month": 12, "ltv_month0_share": 0.8})
    assert "不够" not in finding and "首投" in finding and "LTV 主要靠首投" in action
    finding, action = words.ltv(head | {"ltv_at_month": 0.0, "ltv_month0_share": NAN})
    assert "还没有收入" in finding and "第 2 章" in action
    _, action = words.ltv(head | {"ltv_month": 0, "ltv_month0_share": 1.0})
    assert "更多月份" in action
    cac = {"ltv_month": 11, "paid_channels": 8, "rated_channels": 8, "below_one": 3,
           "best": "甲", "best_ratio": 4.69, "worst": "乙", "worst_ratio": 0.17}
    finding, action = words.ltv_cac(cac)
    assert "第 11 个月" in finding and "最高的是 甲（4.69），最低的是 乙（0.17）；3 个渠道低于 1" in finding
    assert "压缩出价" in action
    finding, action = words.ltv_cac(cac | {"below_one": 0, "rated_channels": 1, "worst": "甲", "worst_ratio": 4.69})
    assert "：甲 为 4.69；都已" in finding and "压缩" not in action
    finding, action = words.ltv_cac(cac | {"rated_channels": 0, "best": "", "worst": ""})
    assert "还没有走到这个月" in finding and "CAC 控制出价" in action

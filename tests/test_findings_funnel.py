"""Chapter 2's words: every finding and action is chosen from the numbers, and a sentence is
only said when its condition holds (each branch is fed numbers for which it is false)."""

from __future__ import annotations

import pandas as pd

from growthloop.present.findings import funnel as words

HEAD = {"entrants": 1000, "completed": 50, "end_rate": 0.05, "in_progress": 30,
        "worst_step": "复投", "worst_rate": 0.12, "worst_lost": 80, "leak_step": "安装",
        "leak_lost": 600, "first_invest_rate": 0.2, "registered": 400, "outside": 40}


def small(n: int) -> str:
    return "<10" if 0 < n < 10 else f"{n:,}"


def test_overview_says_only_what_the_numbers_show():
    finding, action = words.overview(HEAD, 30)
    assert "1,000 人进入漏斗（30 天转化窗口）" in finding and "首投率 20.0%" in finding
    assert "「复投」（12.0%）" in finding and "有 600 人" in finding and "另有 30 人" in finding
    assert "400 名注册用户中有 40 人" in finding
    assert "转化率最低的「复投」" in action and "超过两成" not in action  # 40 / 400 is a tenth
    # the weakest step is the leakiest: named once; outside above a fifth: ask for tracking
    finding, action = words.overview(HEAD | {"worst_step": "安装", "outside": 200}, 30)
    assert "转化率最低的" not in action and "超过两成" in action
    # nobody's window has ended (two weeks of data): no rate is named, no step blamed
    finding, action = words.overview(HEAD | {"worst_step": "", "leak_step": "", "end_rate": float("nan"),
                                             "first_invest_rate": float("nan"), "in_progress": 0}, 30)
    assert "还没有人的转化窗口结束" in finding and "比例" not in finding and "另有" not in finding
    assert "等窗口结束" in action
    # small counts are written through the chapter's suppression
    finding, _ = words.overview(HEAD | {"leak_lost": 3, "in_progress": 2}, 30, small)
    assert "有 <10 人" in finding and "另有 <10 人" in finding


def test_breakdown_names_leaders_only_when_there_are():
    seg = {"segments": 5, "significant": 3, "too_small": 1, "best": "A（首投 40%，其他 20%）", "worst": "无"}
    finding, action = words.breakdown(seg, "last_touch", "首投")
    assert "共有 3 个" in finding and "1 个组合不足 30 人" in finding
    assert "领先者是 A" in finding and "落后者" not in finding and "羊毛党" in action
    finding, action = words.breakdown(seg | {"best": "无", "too_small": 0, "significant": 0}, "x", "首投")
    assert "没有显著领先或落后的分组" in finding and "不足 30 人" not in finding
    assert "不要只凭这张表" in action


def test_time_cohorts_and_stalled_follow_their_numbers():
    assert "无法估计" in words.time_to_convert(pd.DataFrame(), {})[0]
    stats = pd.DataFrame({"label": ["注册→绑卡"], "median_hours": [5.0]})
    finding, _ = words.time_to_convert(stats, {"slowest_step": "注册→绑卡", "slowest_median_days": 5 / 24})
    assert "注册→绑卡 5.0 小时" in finding and "0.2 天" in finding
    coh = {"cohorts": 3, "open_cohorts": 0, "last_cohort": "2026-05", "last_cohort_rate": 0.3,
           "last_cohort_low": 0.25, "last_cohort_high": 0.35, "prev_cohort": "2026-04", "prev_cohort_rate": 0.31}
    finding, action = words.cohorts(coh, "首投")
    assert "2026-05）首投率为 30.0%" in finding and "未结束" not in finding and "区间重叠" in action
    _, action = words.cohorts(coh | {"prev_cohort_rate": 0.2}, "首投")  # outside the interval
    assert "不只是波动" in action
    assert "还没有哪个月份" in words.cohorts(coh | {"last_cohort": "无"}, "首投")[0]
    stall = {"stall_card_hours": 700, "stall_invest_days": 3, "stall_lookback_days": 30,
             "stalled_card": 1, "stalled_invest": 0, "stalled_card_share": 0.5, "stalled_invest_share": 0.4}
    finding, action = words.stalled(stall, small)
    # the parameters, not the defaults, and the small count suppressed
    assert "有 <10 人注册满 700 小时" in finding and "绑卡满 3 天" in finding
    assert "注册满 700 小时后" in action and "24 小时" not in action
    assert "没有滞留用户" in words.stalled(stall | {"stalled_card": 0}, small)[1]

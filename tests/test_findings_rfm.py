"""Chapter 4's words: every finding and action is chosen from the numbers, a sentence is only
said when its condition holds (each branch is fed numbers for which it is false and true), the
parameters are named as the chapter ran, and small counts are written through `n`."""

from __future__ import annotations

import math

import pandas as pd

from growthloop.metrics import rfm as R
from growthloop.present.findings import rfm as words

NAN = math.nan
LABELS = {"period": "近 200 天", "monetary": "收入", "split": "中位数", "bins": 4}

DIST = {"investors": 5000, "recent_days": 45, "recent_share": 0.3, "once_share": 0.6,
        "idle_share": 0.1, "median_recency": 40.0, "median_monetary": 3000.0,
        "mean_monetary": 16000.0}


def small(n: int) -> str:
    return "<10" if 0 < n < 10 else f"{n:,}"


def test_period_note_only_when_the_period_covers_the_history():
    span = {"first_investment": "2025-07-02", "last_investment": "2026-06-30", "history_days": 364}
    note = words.period_note(span, 400)
    assert "设为 400 天" in note and "2025-07-02" in note and "共 364 天" in note
    assert "全部历史" in words.period_note(span, 364)     # exactly the history: all of it
    assert words.period_note(span, 363) == ""              # shorter: a real period
    assert words.period_note(span, None) == ""             # all history, said by the label
    assert words.period_note({"first_investment": "", "history_days": 0}, 365) == ""


def test_distribution_says_only_what_the_numbers_show():
    finding, action = words.distribution(DIST, LABELS)
    # the parameters as run, not the demo's (30 days, 近 365 天, 投资金额, 均值)
    assert "最近 45 天内投资过" in finding and "统计期 (近 200 天)" in finding and "M (收入)" in finding
    assert "30.0% 的人" in finding and "中位数是 40 天" in finding
    assert "60.0% 的人" in finding and "复投的人是少数" in finding
    assert "10.0% 的人只在统计期之前投资过" in finding
    assert "尾巴很长" in finding and "中位数 3,000元，均值 1.6万元" in finding
    assert "按中位数分高低" in action and "分水岭" in action and "没有人投资" not in action
    # no long tail, most people repeat, nobody idle
    finding, action = words.distribution(DIST | {"mean_monetary": 4000.0, "once_share": 0.4,
                                                 "idle_share": 0.0}, LABELS)
    assert "没有明显的长尾" in finding and "复投的人是少数" not in finding
    assert "统计期之前" not in finding and "按金额分层的价值有限" in action
    # nobody invested twice in the period
    finding, action = words.distribution(DIST | {"once_share": 1.0}, LABELS)
    assert "没有人投资超过一笔" in finding and "第二笔投资是眼下最大的分水岭" in action
    # nobody invested in the period at all (F and M all 0), nor in the last 45 days
    finding, action = words.distribution(DIST | {"once_share": 1.0, "idle_share": 1.0,
                                                 "recent_share": 0.0, "median_monetary": 0.0,
                                                 "mean_monetary": 0.0}, LABELS)
    assert "没有任何投资" in finding and "尾巴" not in finding and "长尾" not in finding
    assert "最近 45 天内没有人投资" in finding and "统计期之前投资过" not in finding
    assert action.startswith("最近 45 天没有人投资") and "先对全体投资用户做召回" in action
    # a small number of investors is written through the chapter's suppression, and nothing
    # that describes them (shares, medians, means) is stated
    finding, action = words.distribution(DIST | {"investors": 7}, LABELS, small)
    assert "共 <10 位投资用户" in finding and "人数太少" in finding
    assert "%" not in finding and "中位数是" not in finding and "元" not in finding
    assert "为时尚早" in action
    finding, _ = words.distribution(DIST | {"investors": 7, "once_share": 1.0}, LABELS, small)
    assert "没有人投资超过一笔" in finding      # true of everybody: no count behind it
    # a share whose people (or the people left out) are few is not stated: 3 of 100 recent,
    # 2 of 100 idle; once 96% leaves 4 who invested more than once
    finding, _ = words.distribution(DIST | {"investors": 100, "recent_share": 0.03,
                                            "idle_share": 0.02, "once_share": 0.96}, LABELS, small)
    assert "最近 45 天内投资过" not in finding and "统计期之前" not in finding
    assert "只投过一笔" not in finding and "中位数是 40 天" in finding


SCORES = {"empty_scores": "F2、F3", "empty_count": 2, "r_bands": 4, "f_bands": 2, "m_bands": 4,
          "top_m_users": 800, "top_m_amount_share": 0.7}


def test_scores_follow_the_bands():
    finding, action = words.scores(SCORES, 4)
    assert "打 4 档分" in finding and "空着的得分档是 F2、F3" in finding and "1/4" in finding
    assert "M 最高一档 (4 分) 的 800 人贡献了统计期金额的 70.0%" in finding
    assert "F 只有 2 档有人" in action and "均匀的 4 档" in action and "一半以上" in action
    # every band full, the top band under half the money
    full = SCORES | {"empty_scores": "无", "empty_count": 0, "f_bands": 4, "top_m_amount_share": 0.3}
    finding, action = words.scores(full, 4)
    assert "每一档都有人" in finding and "空着" not in finding
    assert "直接当作分位数档" in action and "一半以上" not in action
    # an empty band of R only; the top M band empty (no share)
    finding, action = words.scores(full | {"empty_scores": "R4", "empty_count": 1,
                                           "top_m_amount_share": NAN}, 4)
    assert "算不出最高一档的金额占比" in finding and "nan" not in finding
    assert "有空档的维度" in action and "F 只有" not in action
    # a top band of a few people: their share of the money is not stated
    finding, action = words.scores(SCORES | {"top_m_users": 3}, 4, small)
    assert "M 最高一档只有 <10 人" in finding and "70.0%" not in finding and "一半以上" not in action


SUMM = {"iv_users": 471, "iv_user_share": 0.12, "iv_amount_share": 0.65, "winback_users": 62,
        "winback_amount_share": 0.03, "keep_users": 100, "develop_users": 131,
        "important_user_share": 0.19, "important_amount_share": 0.83, "largest_segment": "一般挽留",
        "largest_segment_share": 0.34, "group_new_share": 0.37, "group_stable_share": 0.21,
        "group_stable_amount_share": 0.69, "group_risk_share": 0.43,
        "group_risk_amount_share": 0.18, "empty_segments": "无"}
SPREAD = {"investors": 3980, "r_values": 300, "f_values": 20, "m_values": 900, "amount": 1e8,
          "flat": ""}


def test_segments_follow_the_segments():
    finding, action = words.segments(SUMM, SPREAD, LABELS)
    assert "以收入为 M、按中位数分高低 (得分共 4 档)" in finding
    assert "重要价值用户 471 人，占投资用户的 12.0%，贡献了统计期收入的 65.0%" in finding
    assert "19.0% 的人、83.0% 的金额" in finding and "人数最多的是一般挽留 (34.0%)" in finding
    assert "重要挽留 62 人、重要保持 100 人" in finding and "43.0% 的人、18.0% 的金额" in finding
    assert "相同" not in finding and "没有人的人群" not in finding
    assert "专属客户经理" in action and "优先召回" in action and "重要发展 (131 人)" in action
    assert "名义上" not in action and "rfm_actions" in action
    # no 重要价值, nobody lapsed, nobody to develop; F the same for all; empty segments
    none = SUMM | {"iv_users": 0, "winback_users": 0, "keep_users": 0, "develop_users": 0,
                   "empty_segments": "重要价值、重要发展"}
    finding, action = words.segments(none, SPREAD | {"flat": "F"}, LABELS)
    assert "没有重要价值用户" in finding and "没有重要挽留和重要保持用户" in finding
    assert "F 对所有投资用户都相同" in finding and "没有人的人群：重要价值、重要发展" in finding
    assert "专属客户经理" not in action and "优先召回" not in action and "重要发展 (" not in action
    assert "名义上" in action and "先推第二笔投资" in action
    # M flat (not F): no word about F
    assert "名义上" not in words.segments(SUMM, SPREAD | {"flat": "M"}, LABELS)[1]
    # no amount in the period: shares of the amount are not stated
    dry = SUMM | {"iv_amount_share": NAN, "important_amount_share": NAN,
                  "group_risk_amount_share": NAN, "group_stable_amount_share": NAN}
    finding, action = words.segments(dry, SPREAD | {"flat": "F、M"}, LABELS)
    assert "金额占比无从计算" in finding and "贡献了" not in finding and "nan" not in finding
    assert "—" not in finding and action.startswith("统计期内没有投资金额")
    # small counts through n
    finding, action = words.segments(SUMM | {"iv_users": 4, "winback_users": 3, "develop_users": 2},
                                     SPREAD, LABELS, small)
    assert "重要价值用户 <10 人" in finding and "重要挽留 <10 人" in finding
    assert "重要发展 (<10 人)" in action
    # ... and a share of a small group (or of the few left out of it) is not stated: of 100
    # investors 4 重要价值 (4%), 5 潜力新客, 97 流失风险客 (3 others), 20 重要 (20%)
    few = SUMM | {"iv_users": 4, "iv_user_share": 0.04, "group_new_share": 0.05,
                  "group_risk_share": 0.97, "group_stable_share": 0.2, "important_user_share": 0.2,
                  "largest_segment_share": 0.95}
    finding, _ = words.segments(few, SPREAD | {"investors": 100}, LABELS, small)
    assert "重要价值用户 <10 人。" in finding and "4.0%" not in finding and "65.0%" not in finding
    assert "潜力新客" not in finding and "流失风险客" not in finding and "97.0%" not in finding
    assert "稳定中客占 20.0% 的人。" in finding and "合计 20.0% 的人、83.0% 的金额" in finding
    assert "人数最多的是一般挽留。" in finding                       # 95 of 100 leaves 5


HEAT = {"top_r": 4, "top_f": 4, "top_m": 104000.0, "top_users": 236, "big_r": 1, "big_f": 1,
        "big_users": 633, "low_f": 1, "low_f_m": 3000.0, "high_f": 4, "high_f_m": 61000.0,
        "low_f_users": 2000, "high_f_users": 700}


def test_heatmap_follows_the_grid():
    finding, action = words.heatmap(HEAT, 4)
    assert "R 得分 4、F 得分 4，平均 10.4万元，有 236 人" in finding
    assert "F 得分 1 的人平均 M 是 3,000元，F 得分 4 的人是 6.1万元：投资金额主要靠复投累积" in finding
    assert "R 得分 1、F 得分 1 (633 人)" in finding
    assert "久未投资、投得又少" in action and "复投没有带来" not in action
    # a little more with more investments; the biggest cell recent and low-F
    finding, action = words.heatmap(HEAT | {"high_f_m": 4000.0, "big_r": 4}, 4)
    assert "复投多的人投得也多一些" in finding and "最近投过、还没复投" in action
    # not more at all; the biggest cell not low-F
    finding, action = words.heatmap(HEAT | {"high_f_m": 2000.0, "big_f": 3}, 4)
    assert "并不更高" in finding and "复投没有带来更高的金额" in action
    assert "久未投资" not in action and "最近投过、还没复投" not in action
    # the middle of 5 bands (score 3) is not "recent"; of 4 bands 3 is
    assert "久未投资" in words.heatmap(HEAT | {"big_r": 3}, 5)[1]
    assert "最近投过、还没复投" in words.heatmap(HEAT | {"big_r": 3}, 4)[1]
    # small cells: their count through n, their mean money not stated
    finding, action = words.heatmap(HEAT | {"top_users": 3, "big_users": 5, "high_f_users": 4,
                                            "high_f_m": 10.0}, 4, small)
    assert "有 <10 人" in finding and "(<10 人)" in finding and "10.4万元" not in finding
    assert "F 得分 4 的人是" not in finding and "复投没有带来" not in action


MOVES = {"previous_date": "2026-04-01", "previous_days": 60, "iv_before": 336, "iv_stay_share": 0.79,
         "iv_slipped": 68, "new_investors": 1184, "new_to_important": 132, "upgraded": 112,
         "downgraded": 39, "investors_before": 2800, "stayed_share": 0.65}


def test_migration_follows_the_moves():
    finding, action = words.migration(MOVES, LABELS)
    assert "与 60 天前 (2026-04-01) 相比" in finding and "按当时的投资用户和中位数分群" in finding
    assert "336 位重要价值用户中 79.0% 仍是重要价值，68 人" in finding
    assert "112 人从“一般”升到了“重要”，39 人从“重要”降到了“一般”" in finding
    assert "新增投资人 1,184 位，其中 132 位" in finding
    assert "滑出的 68 人" in action and "降级的人比升级的多" not in action and "拉新" not in action
    quiet = MOVES | {"iv_before": 0, "iv_stay_share": NAN, "iv_slipped": 0, "new_investors": 0,
                     "new_to_important": 0, "downgraded": 200}
    finding, action = words.migration(quiet, LABELS)
    assert "当时没有重要价值用户" in finding and "nan" not in finding and "期间没有新增投资人" in finding
    assert "滑出" not in action and "降级的人比升级的多" in action and "拉新" in action
    finding, action = words.migration(MOVES | {"iv_before": 8, "iv_stay_share": 0.75, "iv_slipped": 2,
                                               "upgraded": 1}, LABELS, small)
    assert "当时的 <10 位重要价值用户中，<10 人因为久未投资" in finding and "75.0%" not in finding
    assert "滑出的 <10 人" in action
    finding, _ = words.migration(MOVES | {"investors_before": 12, "stayed_share": 0.5}, LABELS, small)
    assert "留在原人群" not in finding                    # 6 of 12


def _lists(users: list[int]) -> pd.DataFrame:
    table = R.actions_table({"重要挽留": {"channel": "外呼"}}).assign(users=users)
    return R.member_list_table(table)


def test_member_lists_follow_the_lists():
    finding, action = words.member_lists(_lists([5, 0, 30, 40, 1, 1, 1, 1]), small)
    assert "共 8 份" in finding and "重要发展没有人" in finding
    # the channels come from the action table (dataset.yml's rfm_actions), not the defaults
    assert "重要保持、重要挽留名单 (70 人) 最先做" in action and "重要挽留走「外呼」" in action
    finding, action = words.member_lists(_lists([5, 3, 0, 0, 1, 1, 1, 1]), small)
    assert "重要保持、重要挽留没有人" in finding and "最先做" not in action
    finding, action = words.member_lists(_lists([5, 3, 4, 0, 1, 1, 1, 1]), small)
    assert "重要保持名单 (<10 人) 最先做" in action and "外呼" not in action
    assert "没有人" not in words.member_lists(_lists([1] * 8))[0]

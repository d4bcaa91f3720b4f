"""Chapter 1's words: every finding and action is chosen from the numbers, a sentence is only
said when its condition holds (each branch is fed numbers for which it is false), and small
counts are written through the chapter's `n` (with no share or amount derived from them)."""

from __future__ import annotations

import pandas as pd

from growthloop.present.findings import profiling as words

NAN = float("nan")


def small(n: int) -> str:
    return "<10" if 0 < n < 10 else f"{n:,}"


HEAD = {"users": 5000, "investors": 1200, "investor_rate": 0.24, "aum_total": 3.5e7,
        "aum_total_wan": 3500.0, "aum_per_investor": 29166.7}
SPAN = {"first_signup": "2024-01-01", "last_signup": "2024-12-30", "days_since_last_signup": 1}


def test_overview_follows_the_numbers():
    finding, action = words.overview(HEAD, SPAN)
    assert "共有 5,000 名注册用户（注册日期 2024-01-01 至 2024-12-30）" in finding
    assert "1,200 人投资过，投资转化率 24.0%" in finding and "3,500.0 万元，人均 29,167 元" in finding
    assert "没有新用户" not in finding and "按下面四个角度" in action
    # sign-ups stopped: the profile is of existing users, and the export is questioned first
    finding, action = words.overview(HEAD, SPAN | {"days_since_last_signup": 365})
    assert "已有 365 天没有新用户" in finding and "最近 365 天没有注册" in action
    # one sign-up day
    finding, _ = words.overview(HEAD, SPAN | {"first_signup": "2024-12-30"})
    assert "注册日期都在 2024-12-30" in finding
    # everything matured: no amounts, a recall action
    finding, action = words.overview(HEAD | {"aum_total": 0.0, "aum_total_wan": 0.0,
                                             "aum_per_investor": 0.0}, SPAN)
    assert "没有人还持有在投资产" in finding and "万元" not in finding and "召回" in action
    # nobody invested
    finding, action = words.overview(HEAD | {"investors": 0, "investor_rate": 0.0}, SPAN)
    assert "还没有人投资过" in finding and "转化率" not in finding and "第 2 章漏斗" in action
    # a handful of users: counts through n, no rate or amount derived from them
    finding, _ = words.overview(HEAD | {"users": 7, "investors": 3, "investor_rate": 3 / 7}, SPAN, small)
    assert "共有 <10 名注册用户" in finding and "其中 <10 人投资过" in finding
    assert "%" not in finding and "万元" not in finding
    finding, _ = words.overview(HEAD | {"investors": 4}, SPAN, small)  # many users, few investors
    assert "5,000 名注册用户" in finding and "<10 人投资过" in finding and "%" not in finding


MIX = {"known": "年龄段、地区", "unknown": "", "unknown_columns": "", "basis": "aum", "min_users": 10,
       "groups": 8, "over_dimension": "地区", "over_value": "华中", "over_user_share": 0.12,
       "over_share": 0.21, "under_dimension": "年龄段", "under_value": "18-24",
       "under_user_share": 0.32, "under_share": 0.09, "most_unknown_dimension": "无",
       "most_unknown_share": 0.0}
NONE_OVER = {"over_dimension": "无", "over_value": "无", "over_user_share": NAN, "over_share": NAN}
NONE_UNDER = {"under_dimension": "无", "under_value": "无", "under_user_share": NAN, "under_share": NAN}


def test_composition_names_the_groups_the_numbers_single_out():
    finding, action = words.composition(MIX)
    assert "地区「华中」：人数占 12.0%，资产占 21.0%" in finding
    assert "年龄段「18-24」：人数占 32.0%，资产只占 9.0%" in finding
    assert "未知" not in finding and "补齐" not in action
    assert "向地区「华中」" in action and "年龄段「18-24」人多而资产少" in action
    # only one side
    _, action = words.composition(MIX | NONE_UNDER)
    assert "相似人群" in action and "18-24" not in action
    _, action = words.composition(MIX | NONE_OVER)
    assert "走量人群" in action and "华中" not in action
    finding, action = words.composition(MIX | NONE_OVER | NONE_UNDER)
    assert "一致" in finding and "还不能指导预算" in action
    # compared on the investors when nobody holds assets
    finding, _ = words.composition(MIX | {"basis": "investors"})
    assert "投资用户占 21.0%" in finding and "资产" not in finding
    # nobody has invested / every group too small to name
    assert "还没有人投资" in words.composition(MIX | {"basis": "", "groups": 0} | NONE_OVER | NONE_UNDER)[0]
    finding, _ = words.composition(MIX | {"groups": 0, "min_users": 25} | NONE_OVER | NONE_UNDER)
    assert "每个已知群体都不足 25 人" in finding
    # unknown dimensions are said, with the columns to supply; a partly unknown one too
    finding, action = words.composition(MIX | {"unknown": "性别、设备", "unknown_columns": "gender、device_os",
                                               "most_unknown_dimension": "地区", "most_unknown_share": 0.3})
    assert "性别、设备都是空的" in finding and "地区有 30.0% 的用户为未知" in finding
    assert "补齐 gender、device_os" in action


TIERS = {"metric_label": "资产", "top_from": 200_000.0, "top_label": "20万及以上",
         "top_layers_users": 130, "top_layers_user_share": 0.011, "top_layers_aum_share": 0.27,
         "bottom_label": "无资产", "no_asset_users": 10_257, "no_asset_share": 0.85}


def test_layers_follow_the_numbers_and_the_bounds():
    finding, action = words.layers(TIERS)
    assert "资产20万及以上的 130 人占用户的 1.1%，占全部资产的 27.0%" in finding
    assert "10,257 人（85.0%）在最底下的「无资产」层" in finding
    assert "专属客户经理" in action and "大多数" in action and "中间层级" not in action
    # the words follow the layering asked for, not the default one
    other = TIERS | {"metric_label": "投资额", "top_label": "5万及以上", "no_asset_share": 0.3,
                     "bottom_label": "未投资", "no_asset_users": 300}
    finding, action = words.layers(other)
    assert "投资额5万及以上" in finding and "20万" not in finding + action
    assert "中间层级" in action and "大多数" not in action
    # nobody at the top; a few at the top or the bottom: counts only
    finding, action = words.layers(TIERS | {"top_layers_users": 0, "top_layers_user_share": 0.0})
    assert "没有用户的资产达到20万及以上" in finding and "专属客户经理" not in action
    finding, _ = words.layers(TIERS | {"top_layers_users": 3, "no_asset_users": 4}, small)
    assert "有 <10 人，人数太少" in finding and "1.1%" not in finding
    assert "「无资产」层有 <10 人" in finding and "85.0%" not in finding


GROUPS = {"k": 3, "cluster1_desc": "高频 · 大额 · 高资产", "cluster1_user_share": 0.16,
          "cluster1_aum_share": 0.75, "cluster_investors": 4000, "cluster_distinct": 3900,
          "k_tried_min": 3, "k_tried_max": 8, "k_skipped": "", "cluster_min_size": 10,
          "k_size_bound": False}
PROFILE = pd.DataFrame({"cluster": [1, 2, 3], "users": [640, 2000, 1360],
                        "user_share": [0.16, 0.5, 0.34], "aum_share": [0.75, 0.2, 0.05],
                        "description": ["高频 · 大额 · 高资产", "低频 · 久未投资 · 老用户", "低频 · 新用户"]})


def test_clusters_follow_their_descriptions():
    finding, action = words.clusters(GROUPS, PROFILE)
    assert "4,000 名投资人按投资行为分成 3 群（在试过的 3–8 群里轮廓系数最高）" in finding
    assert "第 1 群「高频 · 大额 · 高资产」占投资人的 16.0%，持有他们 75.0% 的资产" in finding
    assert "第 2 群「低频 · 久未投资 · 老用户」50.0%" in finding
    # each group gets one play, the first that fits it: 2 is recalled, 3 (低频 and 新用户) nudged
    assert "第 1 群（高频 · 大额 · 高资产）以保有为先" in action
    assert "第 2 群（低频 · 久未投资 · 老用户）做召回" in action
    assert "第 3 群（低频 · 新用户）做复投引导" in action and action.count("第 3 群") == 1
    # nobody holds assets any more
    finding, _ = words.clusters(GROUPS | {"cluster1_aum_share": NAN}, PROFILE.assign(aum_share=NAN))
    assert "不再持有资产" in finding and "持有他们" not in finding
    # small groups: counts through n, no shares
    tiny = PROFILE.assign(users=[4, 12, 3], user_share=[4 / 19, 12 / 19, 3 / 19])
    finding, _ = words.clusters(GROUPS | {"cluster_investors": 19}, tiny, small)
    assert "第 1 群「高频 · 大额 · 高资产」有 <10 人" in finding and "21.1%" not in finding
    assert "第 3 群「低频 · 新用户」<10 人" in finding and "63.2%" in finding
    # descriptions that call for no particular play
    plain = PROFILE.assign(description=["中等 · 均衡", "大额", "老用户"])
    _, action = words.clusters(GROUPS | {"cluster1_desc": "中等 · 均衡"}, plain)
    assert "差别不大" in action


def test_cluster_range_note_only_when_k_was_cut():
    assert words.cluster_range(GROUPS) == ""
    note = words.cluster_range(GROUPS | {"k_skipped": "6–8", "k_tried_max": 5, "cluster_distinct": 6})
    assert "只有 6 种不同的投资行为" in note and "最多只能试到 5" in note and "k = 6–8" in note
    assert "每群平均" not in note
    # the size of the groups set the limit: the parameter's value, not the default
    note = words.cluster_range(GROUPS | {"k_skipped": "5–8", "k_tried_max": 4, "k_size_bound": True,
                                         "cluster_min_size": 12, "cluster_investors": 49})
    assert "每群平均不少于 12 人（min_cell_size）时，49 名投资人最多分成 4 群；参数要求的 k = 5–8 没有试" in note
    assert "种不同的投资行为" not in note


def test_concentration_reads_the_gini():
    conc = {"gini": 0.75, "top20_share": 0.78, "holders": 1743}
    finding, action = words.concentration(conc)
    assert "在 1,743 名持有资产的投资人中" in finding and "78.0%" in finding and "0.75" in finding
    assert "高度集中" in finding and "大户" in action
    finding, action = words.concentration(conc | {"gini": 0.3})
    assert "比较分散" in finding and "人数规模" in action and "高度集中" not in finding
    finding, action = words.concentration(conc | {"gini": 0.5})
    assert "中等集中" in finding and "分开评估" in action
    assert "在 <10 名持有资产" in words.concentration(conc | {"holders": 7}, small)[0]

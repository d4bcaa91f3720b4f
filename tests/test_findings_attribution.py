"""Chapter 3's words: every finding and action is chosen from the numbers, and a sentence is
only said when its condition holds (each branch is fed numbers for which it is false). The
channel names, horizons and thresholds are made up here, so a sentence that only the demo makes
true (its channels, 180 days, 30 investors) would show."""

from __future__ import annotations

from growthloop.present.findings import attribution as words

NAN = float("nan")


def small(n: int) -> str:
    return "<10" if 0 < n < 10 else f"{n:,}"


def test_touch_note_names_what_the_data_lacks():
    assert words.touch_note(("ad_click", "link_click"), ()) == ""
    note = words.touch_note(("ad_click",), ("link_click",))
    assert "数据中有的触点角色：ad_click" in note and "数据中没有 link_click" in note
    note = words.touch_note(("ad_click", "link_click"), ("ad_click", "link_click"))
    assert "数据中没有默认的触点事件（ad_click、link_click）" in note and "不生成" in note


VOL = {"channels": 5, "registrations": 1000, "investors": 300, "matured": 120, "retention_base": 200,
       "costs_available": "有", "horizon": 60, "retention_days": 45}


def test_monitor_says_what_the_table_can_show():
    finding, action = words.monitor(VOL)
    assert "5 个渠道（含未标记）共带来 1,000 个注册、300 个首投用户" in finding
    assert "首投满 60 天、计入 60 天收入平均值的有 120 人" in finding and "成本表算出" in finding
    assert "没有成本表" not in finding and "从点击到首投" in action
    # every investor matured: nothing to say about young investors
    finding, _ = words.monitor(VOL | {"matured": 300})
    assert "计入" not in finding and "还没有人" not in finding
    # nobody matured yet (two weeks of data): the revenue columns wait, ROI is not promised
    finding, _ = words.monitor(VOL | {"matured": 0})
    assert "还没有人首投满 60 天" in finding and "花费和获客成本由成本表算出" in finding
    # no investor at all
    finding, _ = words.monitor(VOL | {"investors": 0, "matured": 0})
    assert "还没有首投用户" in finding and "还没有人首投满" not in finding
    # no costs table: the money columns are blank, and the action asks for the costs
    finding, action = words.monitor(VOL | {"costs_available": "没有"})
    assert "数据中没有成本表：" in finding and "成本表算出" not in finding
    assert "整理成 costs 表" in action
    # small counts through the chapter's suppression
    finding, _ = words.monitor(VOL | {"registrations": 40, "investors": 8, "matured": 3}, small)
    assert "40 个注册、<10 个首投用户" in finding and "有 <10 人" in finding


COST = {"spend": 5000.0, "cost_per_investor": 50.0, "spend_channels": 3, "ranked_channels": 2,
        "cheapest": "甲", "cheapest_cpi": 20.0, "dearest": "乙", "dearest_cpi": 80.0,
        "best_retained": "乙", "best_cost_per_retained": 150.0, "min_investors": 25}


def test_acquisition_cost_compares_only_what_can_be_compared():
    finding, action = words.acquisition_cost(COST, 45, 60)
    assert "总花费 5,000 元" in finding and "平均每人 50.0 元" in finding
    assert "满 25 人的 2 个付费渠道里，首投成本最低的是 甲（20.0 元），最高的是 乙（80.0 元）" in finding
    assert "首投后 45 天内复投）成本最低的是 乙（150.0 元）——便宜的首投不等于" in finding
    assert "60 天收入" in action and "甲 首投最便宜" in action
    # the cheapest first investor is also the cheapest retained one
    finding, action = words.acquisition_cost(COST | {"best_retained": "甲"}, 45, 60)
    assert "成本最低的也是 甲" in finding and "不等于" not in finding and "加量的首选" in action
    # one channel compared: no "cheapest", it is the benchmark
    one = COST | {"dearest": "甲", "dearest_cpi": 20.0, "ranked_channels": 1}
    finding, _ = words.acquisition_cost(one, 45, 60)
    assert "只有 甲，每个首投用户 20.0 元" in finding and "最高的是" not in finding
    finding, action = words.acquisition_cost(one | {"best_retained": "甲"}, 45, 60)
    assert "它每个留存投资用户（首投后 45 天内复投）的成本是 150.0 元" in finding and "最低" not in finding
    assert "基准" in action and "首选" not in action
    # too few investors everywhere (40 users): no channel is named
    few = COST | {"cheapest": "无", "dearest": "无", "best_retained": "无", "ranked_channels": 0}
    finding, action = words.acquisition_cost(few, 45, 60)
    assert "没有哪个付费渠道的首投用户满 25 人" in finding and "最低的是" not in finding
    assert "还没有付费渠道能算出可比的留存投资用户成本" in finding and "积累复投数据" in action
    # spend but no investor yet
    finding, _ = words.acquisition_cost(few | {"cost_per_investor": NAN}, 45, 60)
    assert "算不出获客成本" in finding and "平均每人" not in finding
    # a retained channel named without a cheapest one: no comparison with it
    finding, action = words.acquisition_cost(few | {"best_retained": "丙", "best_cost_per_retained": 9.0}, 45, 60)
    assert "成本最低的是 丙" in finding and "首投最便宜" not in action


UTM = {"touches": 5000, "untagged_touches": 100, "untagged_share": 0.02, "cleaned_touches": 40,
       "url_touches": 7, "unmapped_touches": 3, "untagged_registrations": 25, "untagged_reg_share": 0.05,
       "anonymous_touches": 4000, "stitched_touches": 1000, "stitch_rate": 0.25, "touch_coverage": 0.8}


def test_utm_names_each_problem_only_when_there_is_one():
    finding, action = words.utm(UTM)
    assert "有 100 个没有来源（2.0%）" in finding and "40 个来源写法不规范" in finding
    assert "7 个从落地页 URL 解析" in finding and "3 个来源不在渠道表里" in finding
    assert "未标记的有 25 人（5.0%）" in finding and "4,000 个匿名触点里有 1,000 个" in finding
    assert "80.0% 的注册用户在注册前" in finding
    assert "UTM 模板" in action and "补上别名" in action and "每月跟踪" in action and "20.0% 的注册用户" in action
    clean = UTM | {"untagged_touches": 0, "untagged_share": 0.0, "cleaned_touches": 0, "url_touches": 0,
                   "unmapped_touches": 0, "untagged_registrations": 0, "untagged_reg_share": 0.0,
                   "touch_coverage": 1.0}
    finding, action = words.utm(clean)
    assert "每个都有来源" in finding and "写法不规范" not in finding and "落地页" not in finding
    assert "渠道表里" not in finding and "每个注册用户都有获客渠道" in finding
    assert action.startswith("UTM 规范执行得好")
    # touches carry user ids (nothing anonymous); no sign-ups to cover
    finding, _ = words.utm(clean | {"anonymous_touches": 0, "stitched_touches": 0, "stitch_rate": NAN,
                                    "untagged_reg_share": NAN, "touch_coverage": NAN})
    assert "不需要按设备拼接" in finding and "获客渠道" not in finding and "可追踪" not in finding
    # small counts of people through the chapter's suppression, and no share that gives them away
    finding, _ = words.utm(UTM | {"untagged_registrations": 4}, small)
    assert "未标记的有 <10 人。" in finding and "（5.0%）" not in finding


VALUE = {"paid_channels": 4, "above_break_even": 1, "small_channels": 0, "value_min_investors": 25}


def test_value_against_break_even():
    finding, action = words.value(VALUE, 60)
    assert "4 个有花费" in finding and "有 1 个在首投后 60 天内" in finding and "其余 3 个" in finding
    assert "不足" not in finding and "60 天之后的收入曲线" in action
    finding, action = words.value(VALUE | {"above_break_even": 0}, 60)
    assert "还没有一个" in finding and "虚线以下且离得最远" in action
    finding, action = words.value(VALUE | {"above_break_even": 4}, 60)
    assert "4 个都已在" in finding and "都已回本" in action
    finding, _ = words.value(VALUE | {"small_channels": 2}, 60)
    assert "其中 2 个渠道首投满 60 天的用户不足 25 人" in finding
    # one paid channel: nothing to compare it with
    one = VALUE | {"paid_channels": 1, "above_break_even": 1}
    finding, action = words.value(one, 60)
    assert "只有 1 个" in finding and "它已在首投后 60 天内" in finding and "左上" not in finding
    assert "比不出" in action
    finding, action = words.value(one | {"above_break_even": 0, "small_channels": 1}, 60)
    assert "它还没在首投后 60 天内" in finding and "它首投满 60 天的用户不足 25 人" in finding
    assert "60 天之后的收入曲线" in action


PATHS = {"conversion": "复投", "conversions": 500, "nulls": 2000, "distinct_paths": 80, "model_channels": 6,
         "shapley_method": "精确枚举", "direct_conversions": 12, "top_path": "甲 > 乙",
         "top_path_share": 0.25, "min_conversions": 40, "lookback_days": 14, "half_life_days": 3,
         "markov_order": 2}
ALL = ["first_touch", "last_touch", "time_decay", "markov", "shapley"]


def test_models_describe_only_the_models_computed():
    finding, action = words.models(PATHS, ALL)
    assert "以「复投」为转化、回溯 14 天，500 次转化和 2,000 条未转化路径" in finding
    assert "「甲 > 乙」，占转化的 25.0%" in finding and "12 次转化记为“直接访问”" in finding
    assert "马尔可夫模型为 2 阶" in finding and "6 个渠道的 Shapley 值用的是精确枚举" in finding
    assert "半衰期为 3 天" in finding and "不要只看一个模型" in action
    finding, _ = words.models(PATHS | {"direct_conversions": 0}, ["first_touch", "last_touch"])
    assert "直接访问" not in finding and "马尔可夫" not in finding and "Shapley" not in finding
    assert "半衰期" not in finding
    # few conversions: a direction only (the threshold comes with the numbers); the top path's
    # share of 8 conversions would give its small count away, so it is left out
    finding, action = words.models(PATHS | {"conversions": 8}, ALL, small)
    assert "<10 次转化" in finding and "少于 40 次" in finding and "等转化积累" in action
    assert "「甲 > 乙」。" in finding and "25.0%" not in finding
    # one channel: every model gives it everything
    finding, action = words.models(PATHS | {"model_channels": 1, "top_path": "甲"}, ALL)
    assert "只有一个渠道（甲）" in finding and "touch_events" in action


DIS = {"dis_channel": "甲", "dis_a": 0.3, "dis_b": 0.2, "dis_role": "收割", "dis_assisted": 5,
       "dis_closed": 90, "dis_a_model": "末次触点", "dis_b_model": "马尔可夫", "assisters": "乙, 丙",
       "dis_channels": 4, "dis_untracked": False, "dis_conversions": 300, "dis_min_conversions": 40}


def test_disagreement_explains_the_pair_it_compares():
    finding, action = words.disagreement(DIS, ("last_touch", "markov"))
    assert "分歧最大的渠道是 甲：末次触点给它 30.0%，马尔可夫给它 20.0%" in finding
    assert "收尾了 90 次转化，出现在另外 5 条" in finding and "收尾多、助攻少的 甲 被调低" in finding
    assert "（乙, 丙）被马尔可夫调高" in finding
    assert "“收割”型" in action and "助攻渠道（乙, 丙）" in action and "波动" not in finding
    # the channel is no campaign's (untagged touches): no budget to move, tag them first
    _, action = words.disagreement(DIS | {"dis_untracked": True}, ("last_touch", "markov"))
    assert "没有预算可调" in action and "收割" not in action
    # few conversions: the disagreement may be noise, no budget advice
    finding, action = words.disagreement(DIS | {"dis_conversions": 39}, ("last_touch", "markov"))
    assert "转化少于 40 次" in finding and "先不要据此调预算" in action and "收割" not in action
    # raised by the second model: an undervalued channel, not a harvester
    finding, action = words.disagreement(DIS | {"dis_a": 0.1, "assisters": ""}, ("last_touch", "markov"))
    assert "被调低" not in finding and "调高" not in finding and "会低估它" in action
    # lowered by the second model but it assists more than it closes: no harvester claim
    _, action = words.disagreement(DIS | {"dis_assisted": 200}, ("last_touch", "markov"))
    assert "收割" not in action and "停投实验" in action
    # another pair of models: no Markov explanation
    other = DIS | {"dis_a_model": "线性", "dis_b_model": "Shapley"}
    finding, action = words.disagreement(other, ("linear", "shapley"))
    assert "去掉这个渠道" not in finding and "Shapley比线性给得多的渠道有：乙, 丙" in finding
    assert "线性占比高、Shapley占比低的 甲" in action
    finding, _ = words.disagreement(other | {"assisters": ""}, ("linear", "shapley"))
    assert "给得多的渠道" not in finding
    # the models agree
    finding, action = words.disagreement(DIS | {"dis_b": 0.3}, ("last_touch", "markov"))
    assert "都一样" in finding and "分歧最大" not in finding and "停投实验" in action
    # one channel
    finding, action = words.disagreement(DIS | {"dis_channels": 1, "dis_b": 0.3}, ("last_touch", "markov"))
    assert "只有一个渠道（甲）" in finding and "接入更多渠道" in action
    # small counts of people (conversions) through the chapter's suppression
    finding, _ = words.disagreement(DIS | {"dis_closed": 7, "dis_assisted": 3}, ("last_touch", "markov"), small)
    assert "收尾了 <10 次转化，出现在另外 <10 条" in finding


BUDGET = {"budget_best": "甲", "budget_best_ratio": 2.5, "budget_worst": "乙", "budget_worst_ratio": 0.4,
          "budget_shift": 0.2, "budget_shift_spend": 1000.0, "budget_shift_value": 2100.0, "budget_ranked": 3,
          "budget_small": 0, "budget_min_investors": 25}


def test_budget_uses_its_parameters():
    finding, action = words.budget(BUDGET, 60)
    assert "在 3 个可比的付费渠道中" in finding and "甲（每元带来 2.50 元 60 天收入）" in finding
    assert "乙（0.40 元）" in finding and "把后者 20% 的预算（1,000 元）" in finding
    assert "约增加 2,100 元" in finding and "还没在" not in finding and "不足" not in finding
    assert "挪 20% 的预算" in action and "盯住 甲" in action and "10%" not in action
    # even the best does not pay back within the horizon
    finding, _ = words.budget(BUDGET | {"budget_best_ratio": 0.8}, 60)
    assert "连回报最高的渠道也还没在 60 天内回本" in finding
    # equal returns: moving money gains nothing
    finding, action = words.budget(BUDGET | {"budget_best_ratio": 0.4}, 60)
    assert "挪预算没有收益" in finding and "约增加" not in finding and "保持预算结构" in action
    finding, _ = words.budget(BUDGET | {"budget_small": 2}, 60)
    assert "另有 2 个付费渠道首投满 60 天的用户不足 25 人" in finding


def test_weekly_trend_words() -> None:
    from growthloop.present.findings.attribution import weekly_trend

    few = {"weeks": 3, "recent": 4, "compared": False, "rising": "", "falling": "", "channels": 0,
           "why_not": "weeks"}
    finding, action = weekly_trend(few, 30, 10)
    assert "只有 3 个完整的自然周" in finding and "至少 8 周" in finding and "不做环比" in finding
    assert "足够的周数" in action
    # eleven weeks without a costs table: the reason is the costs, not the weeks
    finding, action = weekly_trend({**few, "weeks": 11, "why_not": "costs"}, 30, 10)
    assert "没有成本表" in finding and "周" not in finding.split("，")[0] and "成本表" in action
    finding, action = weekly_trend({**few, "weeks": 11, "why_not": "small"}, 30, 10)
    assert "至少 10 个注册" in finding and "按月" in action
    moved = {"weeks": 12, "recent": 4, "compared": True, "channels": 5,
             "rising": "DSP", "rising_before": 30.0, "rising_after": 36.0, "rising_change": 0.2,
             "falling": "百度搜索", "falling_before": 100.0, "falling_after": 75.0,
             "falling_change": -0.25}
    finding, action = weekly_trend(moved, 30, 10)
    assert "DSP 的获客成本/注册从 30.0 元升到 36.0 元（+20%），升幅最大" in finding
    assert "百度搜索 从 100.0 元降到 75.0 元（-25%），降幅最大" in finding
    assert "5 个有花费" in finding and "注册满 30 天" in finding and "出价" in action
    flat = {**moved, "rising": "", "falling": ""}
    finding, action = weekly_trend(flat, 30, 10)
    assert "都没有变化" in finding and "升幅" not in finding and "趋势平稳" in action

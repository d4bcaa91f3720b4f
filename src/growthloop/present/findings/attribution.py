"""Chapter 3 (渠道归因): findings and actions from the attribution numbers.

Every function takes the numbers of one section (the dicts `growthloop.metrics.attribution`'s
``*_summary`` functions return) and the chapter's parameters it speaks of, and returns
(finding, action). A sentence is said only when the numbers support it; channel names, the
thresholds and the parameters all come from the arguments, never from the demo.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from growthloop.present.findings import Count, pct, plain_count

#: How the page names a channel that is none (the library's "无").
NONE = "无"


def _num(x) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x))


def _named(x) -> bool:
    return bool(x) and x != NONE


def touch_note(chosen: Sequence[str], absent: Sequence[str]) -> str:
    """The note on the default touches: which touch roles the data lacks, and what that means.

    Parameters
    ----------
    chosen : sequence of str
        The touch events used (`attribution.default_touch_events`: every role when the data has
        none of them).
    absent : sequence of str
        The touch roles the data lacks.

    Returns
    -------
    str
        The note; empty when no role is missing.
    """
    if not absent:
        return ""
    present = [e for e in chosen if e not in set(absent)]
    if present:
        return (f"触点默认使用数据中有的触点角色：{'、'.join(present)}；数据中没有 {'、'.join(absent)}，"
                "已从默认触点中去掉。平台自己的其他点击事件可以用参数 touch_events 指定。")
    return (f"数据中没有默认的触点事件（{'、'.join(absent)}）：各渠道的点击数为 0，注册渠道只来自注册时记录的 "
            "UTM，依赖触点的几节（UTM 清洗、多触点归因、模型分歧）不生成。平台自己的点击事件可以用参数 "
            "touch_events 指定。")


def monitor(vol: dict, n: Count = plain_count) -> tuple[str, str]:
    """The channel monitoring table, from `attribution.monitor_summary`.

    Parameters
    ----------
    vol : dict
        `monitor_summary`: channels, registrations, investors, matured, costs_available,
        horizon.
    n : callable
        How a count of people is written (the chapter's `cell_label`).

    Returns
    -------
    tuple of str
        (finding, action).
    """
    h = vol["horizon"]
    finding = (f"{vol['channels']} 个渠道（含未标记）共带来 {n(vol['registrations'])} 个注册、"
               f"{n(vol['investors'])} 个首投用户。")
    if not vol["investors"]:
        finding += "截至分析日还没有首投用户，表中只有点击、安装和注册；收入、ROI 和 LTV/CAC 各列留空。"
    elif not vol["matured"]:
        finding += (f"还没有人首投满 {h} 天：{h} 天收入、ROI 和 LTV/CAC 要等数据积累后才有"
                    "（刚首投的用户不计入收入平均值，免得把渠道的价值拉低）。")
    elif vol["matured"] < vol["investors"]:
        finding += (f"其中首投满 {h} 天、计入 {h} 天收入平均值的有 {n(vol['matured'])} 人；"
                    "刚首投的用户还没来得及贡献收入，不计入平均值。")
    costs = vol["costs_available"] == "有"
    if costs:
        finding += ("花费、获客成本、ROI 和 LTV/CAC 由成本表算出，下面几节逐项解读。" if vol["matured"] else
                    "花费和获客成本由成本表算出，下面几节逐项解读。")
        action = ("每周用这张表看各渠道从点击到首投的每一步：注册多而首投少的渠道先查人群定向和落地页；"
                  "花费和回本看下面几节。")
    else:
        finding += "数据中没有成本表：花费、获客成本、ROI 和 LTV/CAC 各列留空，表中只有各渠道的量和收入。"
        action = ("向投放团队要每天、每个来源（utm_source / utm_medium / utm_campaign）的花费，按数据契约整理成 "
                  "costs 表放进数据目录后重跑本章，才能比较获客成本和回本。")
    return finding, action


def acquisition_cost(cost: dict, retention_days: int, horizon: int) -> tuple[str, str]:
    """Cost per first investor and per retained investor, from `attribution.cost_summary`.

    Parameters
    ----------
    cost : dict
        `cost_summary`.
    retention_days : int
        A retained investor invests again within this many days of the first.
    horizon : int
        The LTV horizon in days.

    Returns
    -------
    tuple of str
        (finding, action).
    """
    rd, least = retention_days, cost["min_investors"]
    finding = f"截至分析日总花费 {cost['spend']:,.0f} 元"
    if _num(cost["cost_per_investor"]):
        finding += f"，按全部首投用户（含自然流量、推荐等免费渠道）平均每人 {cost['cost_per_investor']:,.1f} 元。"
    else:
        finding += "，但还没有首投用户，算不出获客成本。"
    cheap, dear = cost["cheapest"], cost["dearest"]
    if not _named(cheap):
        finding += f"没有哪个付费渠道的首投用户满 {least} 人，不比较渠道之间的获客成本。"
    elif cheap == dear:
        finding += f"首投用户满 {least} 人的付费渠道只有 {cheap}，每个首投用户 {cost['cheapest_cpi']:,.1f} 元。"
    else:
        finding += (f"首投用户满 {least} 人的 {cost['ranked_channels']} 个付费渠道里，首投成本最低的是 {cheap}"
                    f"（{cost['cheapest_cpi']:,.1f} 元），最高的是 {dear}（{cost['dearest_cpi']:,.1f} 元）。")
    best = cost["best_retained"]
    retained = f"每个留存投资用户（首投后 {rd} 天内复投）成本最低的"
    if not _named(best):
        finding += (f"还没有付费渠道能算出可比的留存投资用户成本（要有至少 {least} 名首投满 {rd} 天的用户，"
                    f"且有人在 {rd} 天内复投）。")
        action = (f"先按首投成本管理，同时积累复投数据：等各渠道都有足够首投满 {rd} 天的用户，再改按留存投资"
                  "用户成本考核。")
    elif best == cheap == dear:
        finding += f"它每个留存投资用户（首投后 {rd} 天内复投）的成本是 {cost['best_cost_per_retained']:,.1f} 元。"
        action = (f"只有 {best} 一个付费渠道有足够的首投用户，渠道之间还比不出高低：把它的首投成本和留存投资用户成本"
                  "作为其他渠道的基准，等其他渠道的用户积累够了再比较。")
    elif best == cheap:
        finding += f"{retained}也是 {best}（{cost['best_cost_per_retained']:,.1f} 元）。"
        action = (f"{best} 的首投成本和留存投资用户成本都最低，是加量的首选；加量前先看后面的每元回报，确认"
                  f" {horizon} 天内的收入能覆盖成本。")
    else:
        finding += (f"但把“留下来的用户”算进去，结论会变：{retained}是 {best}"
                    f"（{cost['best_cost_per_retained']:,.1f} 元）——便宜的首投不等于便宜的好用户。")
        action = f"渠道考核从“首投成本”改为“留存投资用户成本”和 {horizon} 天收入"
        if _named(cheap):
            action += f"：{cheap} 首投最便宜，留存投资用户却不是最便宜的，这类渠道（羊毛党多的往往如此）要按留存结算或压价"
        action += "。"
    return finding, action


def weekly_trend(t: dict, invest_days: int, min_users: int) -> tuple[str, str]:
    """The weekly trend's 环比: cost per sign-up of the last weeks against the weeks before.

    Parameters
    ----------
    t : dict
        `attribution.trend_summary`.
    invest_days : int
        The first-investment window after sign-up, in days.
    min_users : int
        Sign-ups a channel needs in each period to be compared (min_cell_size).

    Returns
    -------
    tuple of str
        (finding, action).
    """
    r = t["recent"]
    if not t["compared"]:
        why = {"weeks": f"这里只有 {t['weeks']} 个完整的自然周，前后各 {r} 周的对比需要至少 {2 * r} 周",
               "costs": "数据中没有成本表，算不出获客成本",
               "small": f"没有渠道在前后各 {r} 周里都有花费且各有至少 {min_users} 个注册"}[t["why_not"]]
        finding = f"{why}，所以本节只给出每周的数字，不做环比。"
        action = {"weeks": "数据积累到足够的周数后再看趋势；单看一两周的获客成本容易被节假日和投放节奏误导。",
                  "costs": "向投放团队要每日分来源的花费（成本表 costs），才能看每周获客成本的变化。",
                  "small": "各渠道每周的注册太少，按月或更长的时间看获客成本更可靠。"}[t["why_not"]]
        return finding, action
    finding = f"最近 {r} 周与之前 {r} 周相比（{t['channels']} 个有花费、每段注册满 {min_users} 人的渠道）："
    parts = []
    if _named(t["rising"]):
        parts.append(f"{t['rising']} 的获客成本/注册从 {t['rising_before']:,.1f} 元升到 {t['rising_after']:,.1f} 元"
                     f"（{t['rising_change']:+.0%}），升幅最大")
    if _named(t["falling"]):
        parts.append(f"{t['falling']} 从 {t['falling_before']:,.1f} 元降到 {t['falling_after']:,.1f} 元"
                     f"（{t['falling_change']:+.0%}），降幅最大")
    finding += ("；".join(parts) + "。") if parts else "各渠道的获客成本/注册都没有变化。"
    finding += f"首投率只画注册满 {invest_days} 天的周，最近几周还在累积。"
    action = ("先查获客成本上升最多的渠道最近几周的出价、素材和人群是否变了；变便宜的渠道同时看它的首投率是否跟着降，"
              "便宜的注册不一定是好注册。")
    if not parts:
        action = "趋势平稳：按渠道监控表的首投成本和回报调预算即可。"
    return finding, action


def utm(u: dict, n: Count = plain_count) -> tuple[str, str]:
    """UTM cleaning and identity stitching, from `attribution.utm_summary`.

    Parameters
    ----------
    u : dict
        `utm_summary`.
    n : callable
        How a count of people is written (the chapter's `cell_label`).

    Returns
    -------
    tuple of str
        (finding, action).
    """
    finding = f"{u['touches']:,} 个触点中"
    finding += (f"有 {u['untagged_touches']:,} 个没有来源（{pct(u['untagged_share'])}），记为“未标记”留在表里"
                if u["untagged_touches"] else "每个都有来源")
    details = []
    if u["cleaned_touches"]:
        details.append(f"{u['cleaned_touches']:,} 个来源写法不规范（大小写、空格、URL 编码），清洗后归入正确渠道")
    if u["url_touches"]:
        details.append(f"{u['url_touches']:,} 个从落地页 URL 解析出来源")
    if u["unmapped_touches"]:
        details.append(f"{u['unmapped_touches']:,} 个来源不在渠道表里（按原名单列）")
    finding += "".join(f"；{d}" for d in details) + "。"
    if _num(u["untagged_reg_share"]):
        untagged = u["untagged_registrations"]
        # a share of a count the table suppresses would give the count away
        share = f"（{pct(u['untagged_reg_share'])}）" if n(untagged) == plain_count(untagged) else ""
        finding += (f"注册用户中未标记的有 {n(untagged)} 人{share}。" if untagged else
                    "每个注册用户都有获客渠道。")
    if u["anonymous_touches"]:
        finding += (f"{u['anonymous_touches']:,} 个匿名触点里有 {u['stitched_touches']:,} 个通过设备拼接到了注册用户"
                    f"（{pct(u['stitch_rate'])}；其余来自从未注册的设备）")
    else:
        finding += "触点都带着用户 ID，不需要按设备拼接"
    coverage = u["touch_coverage"]
    finding += (f"，{pct(coverage)} 的注册用户在注册前有可追踪的触点。" if _num(coverage) else "。")
    actions = []
    if u["untagged_touches"] or u["cleaned_touches"]:
        actions.append("投放链接统一用小写、下划线的 UTM 模板，并在投放平台后台强制必填 utm_source")
    if u["unmapped_touches"]:
        actions.append("渠道表之外的来源在 dataset.yml 的渠道表（或参数 channel_map）里补上别名")
    if u["untagged_touches"]:
        actions.append("未标记占比每月跟踪")
    if _num(coverage) and coverage < 1:
        actions.append(f"{pct(1 - coverage)} 的注册用户注册前没有可追踪的触点：查注册事件是否带上了设备号 "
                       "(anonymous_id)，好把注册前的点击拼接到用户身上")
    if not actions:
        return finding, "UTM 规范执行得好：保持现有的链接模板和必填校验，每月复查一次。"
    return finding, "；".join(actions) + "。"


def value(v: dict, horizon: int) -> tuple[str, str]:
    """Cost per investor against investor value, from `attribution.value_summary`.

    Parameters
    ----------
    v : dict
        `value_summary`: paid_channels, above_break_even, small_channels,
        value_min_investors.
    horizon : int
        The LTV horizon in days.

    Returns
    -------
    tuple of str
        (finding, action).
    """
    h, paid, above = horizon, v["paid_channels"], v["above_break_even"]
    slow = "理财平台的收入来自利差，单个用户的收入积累得慢，回本要看更长的期限。"
    if paid == 1:
        finding = f"只有 1 个有花费、且有首投满 {h} 天用户的付费渠道，它"
        finding += (f"已在首投后 {h} 天内用平台收入收回获客成本（图中虚线以上）。" if above else
                    f"还没在首投后 {h} 天内用平台收入收回获客成本（图中虚线以下）：{slow}")
    else:
        finding = f"{paid} 个有花费、且有首投满 {h} 天用户的付费渠道中，"
        if not above:
            finding += f"还没有一个在首投后 {h} 天内用平台收入收回获客成本（都在图中虚线以下）：{slow}"
        elif above == paid:
            finding += f"{paid} 个都已在首投后 {h} 天内用平台收入收回获客成本（图中虚线以上）。"
        else:
            finding += (f"有 {above} 个在首投后 {h} 天内用平台收入收回了获客成本（图中虚线以上），其余 {paid - above} "
                        "个还没有。")
        finding += "位置越靠左上的渠道，花同样的钱换来越值钱的用户。"
    if v["small_channels"]:
        which = "它" if paid == 1 else f"其中 {v['small_channels']} 个渠道"
        finding += f"{which}首投满 {h} 天的用户不足 {v['value_min_investors']} 人，位置只作参考。"
    if paid == 1:
        action = ("只有一个付费渠道，还比不出钱该往哪里挪：把其他渠道的花费补进成本表，再用这张图做月度复盘。"
                  if above else
                  f"它在 {h} 天内还没回本：先看 {h} 天之后的收入曲线（第 5 章的分渠道 LTV），再决定是否压价或改按留存结算。")
    elif above < paid:
        action = (f"用同一张图做月度复盘：虚线以下且离得最远的渠道先砍量或改按留存结算；接近虚线的渠道看 {h} 天之后的"
                  "收入曲线（第 5 章的分渠道 LTV）再决定。")
    else:
        action = "都已回本：按下一节的每元回报决定加量的顺序，同时盯住加量后的边际获客成本。"
    return finding, action


def models(p: dict, models: Sequence[str], n: Count = plain_count) -> tuple[str, str]:
    """The attribution models side by side, from `attribution.paths_summary` with the chapter's
    lookback_days, half_life_days and markov_order.

    Parameters
    ----------
    p : dict
        `paths_summary` plus lookback_days, half_life_days and markov_order.
    models : sequence of str
        The models computed (the chapter's `models`).
    n : callable
        How a count of people is written (a conversion is a person's).

    Returns
    -------
    tuple of str
        (finding, action).
    """
    top = round(p["top_path_share"] * p["conversions"]) if _num(p["top_path_share"]) else 0
    # a share of a count the table suppresses would give the count away
    share = f"，占转化的 {pct(p['top_path_share'])}" if n(top) == plain_count(top) else ""
    finding = (f"以「{p['conversion']}」为转化、回溯 {p['lookback_days']:g} 天，{n(p['conversions'])} 次转化和 "
               f"{n(p['nulls'])} 条未转化路径构成了 {p['distinct_paths']:,} 种不同的路径；最常见的转化路径是"
               f"「{p['top_path']}」{share}。")
    if p["direct_conversions"]:
        finding += f"窗口内没有任何触点的 {n(p['direct_conversions'])} 次转化记为“直接访问”。"
    methods = []
    if "markov" in models:
        methods.append(f"马尔可夫模型为 {p['markov_order']} 阶，用吸收链精确求解")
    if "shapley" in models:
        methods.append(f"{p['model_channels']} 个渠道的 Shapley 值用的是{p['shapley_method']}")
    if "time_decay" in models:
        methods.append(f"时间衰减的半衰期为 {p['half_life_days']:g} 天")
    if methods:
        finding += "；".join(methods) + "。"
    few = p["conversions"] < p["min_conversions"]
    if p["model_channels"] == 1:
        finding += f"路径上只有一个渠道（{p['top_path']}），每个模型都把全部功劳给它。"
        action = ("只有一个渠道时，多触点归因没有可比较的对象：先把其他渠道的触点接进来（参数 touch_events，"
                  "或在 dataset.yml 里映射平台的点击事件）。")
    elif few:
        finding += f"转化少于 {p['min_conversions']} 次，各模型的占比波动很大，只能看方向。"
        action = "转化太少时不要按模型结果调预算：等转化积累后再比较，先看上面的渠道监控表。"
    else:
        action = ("不要只看一个模型：单触点模型（首次、末次）回答“谁开场、谁收尾”，预算分配参考马尔可夫、Shapley "
                  "这类数据驱动的模型，并把几个模型的区间一起报给管理层。")
    return finding, action


def disagreement(d: dict, pair: tuple[str, str], n: Count = plain_count) -> tuple[str, str]:
    """Where two models disagree most, and why, from `attribution.models_summary`.

    Parameters
    ----------
    d : dict
        `models_summary`.
    pair : tuple of str
        The two models compared (`attribution.model_pair`): the difference is the second's
        share minus the first's.
    n : callable
        How a count of people is written (a conversion is a person's).

    Returns
    -------
    tuple of str
        (finding, action).
    """
    a, b = d["dis_a_model"], d["dis_b_model"]
    channel, pa, pb = d["dis_channel"], d["dis_a"], d["dis_b"]
    if d["dis_channels"] <= 1:
        return (f"路径上只有一个渠道（{channel}），{a}和{b}都把全部功劳给它：没有分歧可比。",
                "接入更多渠道的触点后再看这一节。")
    diff = pb - pa
    if abs(diff) < 1e-9:
        return (f"{a}和{b}给每个渠道的功劳占比都一样（转化路径都只有一个渠道时就是这样），模型之间没有分歧。",
                "两个模型一致时按哪个调预算都一样；是否真有增量，仍要用地域或时段的停投实验来验证。")
    finding = (f"分歧最大的渠道是 {channel}：{a}给它 {pct(pa)}，{b}给它 {pct(pb)}。原因在路径里：它收尾了 "
               f"{n(d['dis_closed'])} 次转化，出现在另外 {n(d['dis_assisted'])} 条转化路径的中途"
               f"（角色：{d['dis_role']}）。")
    assisters = d["assisters"]
    if tuple(pair) == ("last_touch", "markov"):
        why = ["马尔可夫模型看的是“去掉这个渠道后还剩多少转化”，末次触点只看谁收尾"]
        if diff < 0:
            why.append(f"所以收尾多、助攻少的 {channel} 被调低")
        if assisters:
            why.append(f"常在路径前段出现的渠道（{assisters}）被马尔可夫调高——末次触点看不到它们的助攻")
        finding += "；".join(why) + "。"
    elif assisters:
        finding += f"{b}比{a}给得多的渠道有：{assisters}。"
    if d["dis_conversions"] < d["dis_min_conversions"]:
        finding += f"转化少于 {d['dis_min_conversions']} 次，这个分歧可能只是波动。"
        return finding, "转化太少，先不要据此调预算：等转化积累后再看两个模型是否仍然分歧。"
    closer = d["dis_closed"] >= d["dis_assisted"]
    if d["dis_untracked"]:
        action = (f"{channel} 不是哪个投放渠道（没有来源的触点或直接访问），没有预算可调：先用统一的 UTM 模板把这些触点的"
                  "来源补上，再看它们背后是哪些渠道。")
    elif diff < 0 and closer:
        tests = f"（{assisters}）" if assisters else ""
        action = (f"{a}占比高、{b}占比低的 {channel} 是靠近转化才出现的“收割”型渠道：砍掉前段的助攻渠道后它的量"
                  f"也会掉。调预算前先在助攻渠道{tests}上做地域或时段的停投实验，测出真实增量。")
    elif diff < 0:
        action = f"{a}给 {channel} 的功劳比{b}多：调它的预算前，先用地域或时段的停投实验测出它的真实增量。"
    else:
        action = (f"{channel} 在{b}下的功劳比{a}多：只看{a}会低估它在转化路径中途的作用。不要只按{a}"
                  "的结果砍它的预算；先做地域或时段的停投实验，测出真实增量。")
    return finding, action


def budget(b: dict, horizon: int) -> tuple[str, str]:
    """Where the next yuan should go, from `attribution.budget_summary`.

    Parameters
    ----------
    b : dict
        `budget_summary`.
    horizon : int
        The LTV horizon in days.

    Returns
    -------
    tuple of str
        (finding, action).
    """
    h, best, worst = horizon, b["budget_best"], b["budget_worst"]
    hi, lo = b["budget_best_ratio"], b["budget_worst_ratio"]
    share = pct(b["budget_shift"], 0)
    finding = (f"在 {b['budget_ranked']} 个可比的付费渠道中，下一元预算回报最高的是 {best}（每元带来 {hi:.2f} 元 {h} "
               f"天收入），最低的是 {worst}（{lo:.2f} 元）。")
    if hi < 1:
        finding += f"连回报最高的渠道也还没在 {h} 天内回本（每元不到 1 元）：挪预算只是少亏，回本要看更长期限的收入。"
    if hi > lo:
        finding += (f"把后者 {share} 的预算（{b['budget_shift_spend']:,.0f} 元）挪给前者，按上面的假设，{h} 天收入约增加 "
                    f"{b['budget_shift_value']:,.0f} 元。")
        action = (f"先按这个方向挪 {share} 的预算做 2–4 周测试，同时盯住 {best} 加量后的边际首投成本；成本涨到不再领先时"
                  f"停止加量。{worst} 若是上一节里重要的助攻渠道，减量要更谨慎。")
    else:
        finding += "两者每元回报相同，挪预算没有收益。"
        action = "各渠道每元回报相同：保持预算结构，把精力放在降低获客成本上。"
    if b["budget_small"]:
        finding += (f"另有 {b['budget_small']} 个付费渠道首投满 {h} 天的用户不足 {b['budget_min_investors']} 人，"
                    "不参与排序。")
    return finding, action

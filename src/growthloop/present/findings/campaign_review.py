"""Chapter 6 (营销闭环复盘): findings and actions from the campaign review's numbers.

One function per section, each taking the dicts the library's ``*_summary`` functions return
(`growthloop.metrics.campaign_review`, `uplift`, `planning`) and `n`, how a count of people is
written (the chapter's `cell_label`). A sentence is said only when its condition holds on the
numbers; thresholds and parameters come in with the numbers, never from the demo.
"""

from __future__ import annotations

import math

import pandas as pd

from growthloop.metrics.campaign_review import breakdown_label, check_name
from growthloop.present.findings import Count, pct, plain_count, size_uncertain

#: How the book names the pre-campaign measures a CUPED covariate may be.
COVARIATE_LABELS: dict[str, str] = {
    "pre_active_days": "活跃天数",
    "pre_invest_count": "投资次数",
    "pre_invest_amount": "投资金额",
    "tenure_days": "注册天数",
}


def _num(x) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x))


def _shown(n: Count, count: int) -> bool:
    """Whether a count is published as it is (not a suppressed small cell such as "<10")."""
    return not str(n(count)).startswith("<")


def _signed(x: float, digits: int = 1) -> str:
    return "—" if not _num(x) else f"{x:+.{digits}%}"


def _by(breakdown: str) -> str:
    """A breakdown's name after 按 (年龄段; a name in Latin letters set off by a space: 按 RFM 分群)."""
    name = breakdown_label(breakdown)
    return f" {name}" if name[:1].isascii() else name


def _level(alpha: float) -> str:
    return f"{1 - alpha:.0%}"


def chosen_campaign(choice: dict, label: str) -> str:
    """The note of a campaign picked by default (`campaign_review.default_choice`).

    Parameters
    ----------
    choice : dict
        `default_choice`: campaign_id, basis (holdout, members or latest), campaigns.
    label : str
        The campaign as the book names it (`campaign_review.campaign_label`).

    Returns
    -------
    str
        One sentence for `growthloop.book.note`.
    """
    how = "把参数 campaign_id 设为活动表中的编号即可复盘另一次活动。"
    if choice["basis"] == "holdout":
        return (f"未指定 campaign_id：本章复盘数据中 {choice['campaigns']} 次活动里最近一次留了对照组的 "
                f"{label}。{how}")
    if choice["basis"] == "members":
        return (f"未指定 campaign_id，而数据中 {choice['campaigns']} 次活动都没有留对照组：本章复盘最近一次有名单的 "
                f"{label}，只能看响应，不能估计增量。{how}")
    return (f"未指定 campaign_id，而数据中 {choice['campaigns']} 次活动都没有名单：本章复盘最近一次活动 {label}。"
            f"{how}")


def card(head: dict, n: Count = plain_count) -> tuple[str, str]:
    """The campaign card, from `campaign_review.card_summary`.

    Parameters
    ----------
    head : dict
        `card_summary`.
    n : callable
        How a count of people is written (the chapter's `cell_label`).

    Returns
    -------
    tuple of str
        (finding, action).
    """
    finding = (f"数据中共有 {head['campaigns']} 次在分析日之前开始的活动，本章复盘 {head['campaign']}："
               f"渠道为{head['channel']}，目标是「{head['goal']}」，响应窗口 {head['window']} 天")
    if head["window_default"]:
        finding += "（活动表没有填写窗口，按目标取默认值）"
    finding += (f"；名单 {n(head['members'])} 人，其中实验组 {n(head['treatment'])} 人、"
                f"对照组 {n(head['control'])} 人。")
    if not head["members"]:
        finding += "这次活动的名单是空的，下面各节都无法计算。"
    elif not head["treatment"]:
        finding += "全部成员都在对照组，没有人收到消息。"
    elif not head["control"]:
        finding += "没有对照组：只能看响应人数，不能知道其中多少是活动带来的。"
    if head["treatment"]:
        delay, limit = head["send_delay"], head["send_delay_limit"]
        if delay <= limit:
            finding += (f"实验组最晚一条在活动开始后 {delay:,.0f} 分钟发出，两组的响应窗口几乎同时开始，"
                        "可以直接比较。")
        else:
            finding += (f"实验组最晚一条在活动开始后 {delay / 60:,.1f} 小时才发出（超过 {limit:g} 分钟），"
                        "晚发的人窗口整体晚于对照组，比较时要考虑这段时间差。")
    if head["members"] and not head["window_complete"]:
        finding += "响应窗口在分析日还没有结束，下面的结果都是截至分析日的中间数。"
    if head["treatment"] and not head["control"]:
        action = ("下一次活动上线前随机留出 10%–20% 的名单不发消息作为对照组；没有对照组，复盘只能看响应人数，"
                  "无法知道其中多少是活动带来的。")
    elif head["control"] and not head["treatment"]:
        action = "检查名单的 group 列：收到消息的成员应写作 treatment，留作对照的写作 control。"
    elif not head["members"]:
        action = "补上这次活动的名单 campaign_members，或用参数 campaign_id 复盘一次有名单的活动。"
    elif not head["costs_known"]:
        action = "在活动表里补上单条发送成本和单次奖励成本，才能算出每个增量响应者花了多少钱和增量 ROI。"
    else:
        action = ("每次活动上线前都在活动表里写清目标、窗口、单条成本、奖励成本和选人规则，并随机留出对照组；"
                  "没有这些，复盘就只能看响应人数，无法知道其中多少是活动带来的。")
    return finding, action


def funnel(head: dict, diagnosis: pd.DataFrame, n: Count = plain_count) -> tuple[str, str]:
    """The campaign's own funnel, from `campaign_review.funnel_summary` and `diagnose`.

    Parameters
    ----------
    head : dict
        `funnel_summary`.
    diagnosis : pandas.DataFrame
        `diagnose`: check, rate, threshold, weak, retune.
    n : callable
        How a count of people is written.

    Returns
    -------
    tuple of str
        (finding, action).
    """
    finding = f"实验组发送 {n(head['sent'])} 条"
    if _shown(n, head["sent"]):
        for key, words in (("delivery_rate", "送达率"), ("click_rate", "送达后点击短链的比例"),
                           ("click_to_goal", "点击后达成目标的比例")):
            if _num(head[key]):
                finding += f"，{words} {pct(head[key])}"
    finding += "。"
    untracked = head["untracked"]
    if untracked:
        finding += f"数据没有记录{untracked}，这几步没有放进漏斗（不是没有人走到，而是看不到）。"
    finding += f"窗口内达成目标的实验组成员共 {n(head['reached_goal'])} 人"
    if "点击" not in untracked and head["reached_goal"]:
        if head["off_path"]:
            finding += (f"，其中沿短链路径走完的 {n(head['path_goal'])} 人，另外 {n(head['off_path'])} 人没有点短链，"
                        "是看到消息后（或本来就会）自己完成的：只看短链点击会低估响应，其中多少是活动带来的，"
                        "要看对照组")
        else:
            finding += "，都是沿短链路径完成的"
    finding += "。"
    if _shown(n, head["sent"]) and _num(head["response_rate"]):
        finding += f"实验组响应率为 {pct(head['response_rate'])}，{head['low_response']}。"
    if head["unjudged"]:
        finding += f"{head['unjudged']}的分母不足 {head['min_base']} 人，不和经验阈值比较。"
    judged = diagnosis.rate.notna().sum() - (len(head["unjudged"].split("、")) if head["unjudged"] else 0)
    weak = diagnosis[diagnosis.weak.astype(bool)]
    if len(weak):
        finding += f"低于经验阈值的环节：{head['weak']}。"
        action = "；".join(f"{check_name(r.check)}偏低，调整{r.retune}" for r in weak.itertuples()) + "。"
    elif judged:
        finding += "比较过的环节都不低于经验阈值。"
        action = "漏斗各环节正常；活动是否真的带来了增量，要看下一节的对照组比较，不要只凭响应人数判断。"
    else:
        action = "发送量太小，漏斗只能看个大概：扩大名单后再用经验阈值诊断各环节。"
    if head["response_low"]:
        action += f"响应率低于 {head['low_response_limit']:.0%} 时，先回头检查选人规则是否选中了有需求的人。"
    if "点击" in untracked:
        action += "在短链里带上 utm_campaign = 活动编号，或在名单的 clicked_at 列回传点击时间，下次才能看到点击这一步。"
    return finding, action



def effect(head: dict, alpha: float, n: Count = plain_count) -> tuple[str, str]:
    """The effect against the holdout, from `campaign_review.effect_summary`.

    Parameters
    ----------
    head : dict
        `effect_summary` (verdict, verdict_code, the rates, uplift and intervals, amounts,
        incremental responders, group counts, window_open).
    alpha : float
        The chapter's significance level (the intervals are 1 - alpha).
    n : callable
        How a count of people is written.

    Returns
    -------
    tuple of str
        (finding, action).
    """
    level = _level(alpha)
    finding = f"{head['verdict']}。"
    if _shown(n, head["users_t"]) and _shown(n, head["users_c"]):
        finding += (f"窗口内实验组响应率 {pct(head['rate_t'])}（{n(head['responders_t'])}/{n(head['users_t'])}），"
                    f"对照组 {pct(head['rate_c'])}（{n(head['responders_c'])}/{n(head['users_c'])}），")
    else:
        finding += (f"实验组 {n(head['users_t'])} 人、对照组 {n(head['users_c'])} 人，人数太少，各组的响应率不单独写出；"
                    "两组相比，")
    finding += (f"绝对增量 {_signed(head['uplift'], 2)}（Newcombe {level} 区间 {_signed(head['ci_low'], 2)} 至 "
                f"{_signed(head['ci_high'], 2)}")
    finding += (f"，双比例 z 检验 p = {head['p_value']:.3f}）" if _num(head["p_value"]) else
                "；两组的响应全是 0 或全是 1，无法做 z 检验）")
    if _num(head["relative"]):
        finding += (f"，相对增量 {head['relative']:+.0%}（区间 {head['rel_ci_low']:+.0%} 至 "
                    f"{head['rel_ci_high']:+.0%}）")
    elif not head["responders_c"] and head["users_c"]:
        finding += "；对照组没有人响应，相对增量无法计算"
    finding += (f"。折合增量响应者约 {head['inc_responders']:,.1f} 人（{head['inc_low']:,.1f} 至 "
                f"{head['inc_high']:,.1f}）。")
    if _num(head["amount_t"]) and head["amount_t"] == 0 and head["amount_c"] == 0:
        finding += "窗口内两组都没有投资，金额无从比较。"
    elif _num(head["amount_diff"]):
        finding += (f"人均投资额实验组 {head['amount_t']:,.0f} 元、对照组 {head['amount_c']:,.0f} 元，差 "
                    f"{head['amount_diff']:+,.0f} 元")
        if _num(head["amount_ci_low"]):
            finding += (f"（Welch t {level} 区间 {head['amount_ci_low']:+,.0f} 至 {head['amount_ci_high']:+,.0f} 元，"
                        f"p = {head['amount_p_welch']:.3f}")
            finding += (f"；Mann-Whitney p = {head['amount_p_mwu']:.3f}）" if _num(head["amount_p_mwu"]) else "）")
        finding += "。金额是重尾的：均值差 × 人数才是增量金额，所以用 Welch t 检验均值，Mann-Whitney 作为对少数大额不敏感的参照。"
    if head["window_open"]:
        finding += "响应窗口还没有结束，这是截至分析日的中间结果。"
    code = head["verdict_code"]
    if code == "positive":
        action = "向业务汇报时用增量而不是响应人数：实验组的响应者里有一部分不发也会来，奖励却照样发给了他们。"
        if size_uncertain(head["uplift"], head["ci_low"]):
            action += "增量区间很宽，下一轮保持对照组并扩大名单，让区间收窄后再加减预算。"
    elif code == "negative":
        action = "实验组反而低于对照组：先暂停这个活动，检查文案、打扰频次和权益是否让用户反感，再小范围重测。"
    else:
        action = ("现有样本不能证明活动有增量：先不要据此加减预算；下一轮保持对照组，按可信度检查给出的所需人数"
                  "扩大名单，再下结论。")
    return finding, action


def roi(money: dict, head: dict) -> tuple[str, str]:
    """The campaign's cost and incremental ROI, from `campaign_review.roi_summary`.

    Parameters
    ----------
    money : dict
        `roi_summary` (cost, cost_send, cost_reward, cost_per_incremental, roi, unit costs,
        cost_assumed).
    head : dict
        `effect_summary` of the same campaign (verdict_code, inc_revenue).

    Returns
    -------
    tuple of str
        (finding, action).
    """
    finding = (f"总成本 {money['cost']:,.0f} 元（发送 {money['cost_send']:,.0f} 元，单条 {money['cost_per_send']:.2f} 元；"
               f"奖励 {money['cost_reward']:,.0f} 元，单次 {money['cost_per_reward']:.2f} 元）。")
    if money["cost_assumed"]:
        finding += f"活动表没有填写{money['cost_assumed']}，按 0 计。"
    if _num(money["cost_per_incremental"]):
        finding += f"每个增量响应者的成本 {money['cost_per_incremental']:,.1f} 元；"
    else:
        finding += "增量不为正，算不出每个增量响应者的成本；"
    if _num(head["inc_revenue"]):
        finding += f"窗口内增量收入 {head['inc_revenue']:,.0f} 元"
        if _num(money["roi"]):
            finding += f"，增量 ROI {money['roi']:.0%}"
        elif not money["cost"]:
            finding += "，活动没有花钱，ROI 不适用"
        finding += "。"
    finding += "ROI 只计窗口内的投资收入，不含之后的复投，偏保守。"
    code = head["verdict_code"]
    if not money["cost"]:
        action = "发送和奖励都不花钱：值不值得再做，只看增量是否显著，以及对用户的打扰。"
    elif code == "positive" and _num(money["roi"]) and money["roi"] > 0:
        action = "增量显著且 ROI 为正：把它固化为常规触发，按下一轮的名单扩大覆盖。"
    elif code == "positive":
        action = "增量是真的，但收入抵不过成本：降低单次奖励或收窄人群，先把每个增量响应者的成本降下来。"
    elif code == "negative":
        action = "活动起了反作用，ROI 没有意义：先停下来查原因。"
    else:
        action = "增量不显著时 ROI 只是点估计，不要据此追加预算；先扩大样本重做一轮。"
    return finding, action


def checks(head: dict, pre_days: int) -> tuple[str, str]:
    """The checks before trusting the effect, from `campaign_review.checks_summary`.

    Parameters
    ----------
    head : dict
        `checks_summary`.
    pre_days : int
        The days before the campaign the balance check covers.

    Returns
    -------
    tuple of str
        (finding, action).
    """
    if head["srm_code"] == "not_tested":
        finding = (f"对照组实际占 {pct(head['observed_holdout'])}；没有给出计划的对照组比例（参数 holdout_share），"
                   "未做样本比例检验。")
    else:
        finding = (f"对照组实际占 {pct(head['observed_holdout'])}，计划为 {pct(head['planned_holdout'])}，"
                   f"卡方检验 p = {head['srm_p']:.3f}：{head['srm_verdict']}。")
    if _num(head["max_smd"]):
        finding += (f"活动前 {pre_days} 天的行为上，两组最大的标准化均值差是 {head['max_smd']:.2f}，"
                    f"有 {head['imbalanced']} 项超过 {head['smd_limit']:g}；Welch 检验 p < {head['p_level']:g} 的有 "
                    f"{head['balance_sig']} 项")
        finding += ("（为 0 时，差异可以看作随机分组的正常波动）。" if not head["balance_sig"] else
                    "：两组在活动前就不一样。")
    else:
        finding += f"活动前 {pre_days} 天的行为在两组内都没有可比较的差异。"
    if _num(head["mde"]):
        finding += f"以现在的样本，最小可检测增量是 {pct(head['mde'])}"
        if _num(head["needed"]):
            finding += f"；要在同样的组比例下稳定检出当前的增量，实验组需要约 {head['needed']:,.0f} 人"
        finding += "。"
    finding += f"{head['power_warning']}。"
    if head["srm_code"] == "mismatch":
        action = "分组比例与计划不符：先查分组和发送日志（漏发、重复、被过滤的人），查清之前不要解读效果。"
    elif head["balance_sig"]:
        action = "活动前行为不平衡：用下一节的 CUPED 或分层比较校正，并检查分组是否真的随机。"
    elif head["power_status"] != "ok":
        action = "样本不足以检出这么小的增量：下一轮名单"
        action += (f"至少按所需人数准备（实验组约 {head['needed']:,.0f} 人）。" if _num(head["needed"]) else
                   "要明显扩大，并保持对照组比例。")
    else:
        action = "分组与计划一致、两组在活动前可比、样本量足够：上一节的效果可以直接使用。"
    return finding, action


def cuped(head: dict, pre_days: int) -> tuple[str, str]:
    """The CUPED estimate against the plain one, from `campaign_review.cuped_summary`.

    Parameters
    ----------
    head : dict
        `cuped_summary` (cuped_uplift, cuped_low, cuped_high, plain_low, plain_high,
        cuped_reduction, cuped_theta, covariate).
    pre_days : int
        The days before the campaign the covariate covers.

    Returns
    -------
    tuple of str
        (finding, action).
    """
    cov = COVARIATE_LABELS.get(head["covariate"], head["covariate"])
    finding = (f"以活动前 {pre_days} 天的{cov}为协变量，θ = {head['cuped_theta']:.4f}，"
               f"CUPED 估计的增量为 {_signed(head['cuped_uplift'])}（区间 {_signed(head['cuped_low'])} 至 "
               f"{_signed(head['cuped_high'])}；同样用 Wald 区间的普通估计为 {_signed(head['plain_low'])} 至 "
               f"{_signed(head['plain_high'])}），方差缩减 {pct(head['cuped_reduction'])}。")
    if not head["cuped_reduction"]:
        finding += "协变量与响应不相关（或在成员间没有差异），CUPED 与普通估计相同。"
    elif head["cuped_reduction"] < 0:
        finding += (f"CUPED 的方差反而增加了 {pct(-head['cuped_reduction'])}：协变量与响应几乎不相关，"
                    "两组的协方差又不一样，这时以普通估计为准。")
    else:
        finding += "缩减的多少取决于活动前行为与响应的相关程度（约等于两者相关系数的平方）；估计依然无偏。"
    plain_zero = head["plain_low"] <= 0 <= head["plain_high"]
    cuped_zero = head["cuped_low"] <= 0 <= head["cuped_high"]
    if plain_zero and not cuped_zero:
        finding += "校正后区间不再包含 0。"
        action = "CUPED 校正后增量显著：汇报时可以用 CUPED 的区间，并写明协变量和活动前的天数。"
    elif cuped_zero and not plain_zero:
        finding += "校正后区间包含 0：普通估计的显著可能来自两组活动前的差异。"
        action = "以 CUPED 的结论为准，先不要把这次的增量当成确定的。"
    else:
        action = ("对照组小、又想更早下结论时，换一个与目标更相关的协变量（如复投活动用活动前投资次数）：方差缩减越大，"
                  "相同样本下区间越窄；但 CUPED 不能替代足够的样本量。")
    return finding, action


def segments(head: dict) -> tuple[str, str]:
    """Uplift by segment, from `campaign_review.segment_uplifts_summary`.

    Parameters
    ----------
    head : dict
        `segment_uplifts_summary`.

    Returns
    -------
    tuple of str
        (finding, action).
    """
    finding = f"共比较了 {head['seg_cells']} 个“拆分 × 分群”组合，Holm 校正后增量显著为正的有 {head['seg_positive']} 个"
    if head["seg_negative"]:
        finding += f"、显著为负的 {head['seg_negative']} 个"
    finding += f"。按{_by(head['seg_breakdown'])}拆分时，{head['seg_tested']} 个分群样本足够检验"
    if head["seg_small"]:
        finding += f"、{head['seg_small']} 个有一组不足 {head['seg_min_cell']} 人"
    if head["seg_best"] != "无":
        finding += f"；检验过的分群中增量估计最高的是 {head['seg_best']}（{_signed(head['seg_best_uplift'])}）"
    finding += "。分群的对照组往往只有几十人，区间很宽。"
    if head["seg_dropped"]:
        finding += (f"{'、'.join(map(breakdown_label, head['seg_dropped'].split('、')))}对本活动的所有成员都是同一个值（数据里这一列为空，或选人规则只选了其中一类人），"
                    "拆不出分群，没有列出。")
    if head["seg_positive"]:
        action = ("只在 Holm 校正后仍显著的分群上加码；其余分群的点估计用来设计下一轮的分层实验（在这些分群里各自留足"
                  "对照组），而不是直接砍掉。")
    elif head["seg_negative"]:
        action = "有分群显著为负：下一轮把这些人排除在外，或换一种权益单独测试。"
    else:
        action = ("没有哪个分群经得起多重比较校正：分群之间的差异目前只能当作假设，下一轮在主要分群里各自留足对照组"
                  "再检验。")
    return finding, action


def uplift_model(head: dict, k: float) -> tuple[str, str]:
    """The two-model uplift model, from `uplift.model_summary`.

    Parameters
    ----------
    head : dict
        `model_summary`: qini, uplift_at_<100 k>, uplift_all.
    k : float
        The share of members of uplift_at (0.2 for uplift_at_20).

    Returns
    -------
    tuple of str
        (finding, action).
    """
    at = head[f"uplift_at_{round(k * 100)}"]
    finding = f"双模型按预测增量排序后，预测最高的 {k:.0%} 成员中实际增量为 {_signed(at)}（全体为 {_signed(head['uplift_all'])}）"
    if _num(head["qini"]):
        finding += f"，Qini 曲线与随机线之间的面积占最终增量的 {head['qini']:.2f}（0 表示排序不比随机好）"
    else:
        finding += "；全体的增量不为正，Qini 面积无法计算"
    finding += "。对照组小时曲线本身也有很大的随机波动，这个模型只用来给下一轮的分层实验排优先级。"
    if _num(head["qini"]) and head["qini"] > 0 and _num(at) and at > head["uplift_all"]:
        action = (f"下一轮按预测增量从高到低选人，前 {k:.0%} 优先；在高、低两档里都留对照组，验证这个排序是否站得住。")
    else:
        action = "模型的排序没有比随机好：下一轮不要按模型选人，按整体或分群的结论投放。"
    return finding, action


def history(head: dict) -> tuple[str, str]:
    """The rounds so far, from `campaign_review.history_summary`.

    Parameters
    ----------
    head : dict
        `history_summary`.

    Returns
    -------
    tuple of str
        (finding, action).
    """
    total, compared = head["hist_campaigns"], head["hist_compared"]
    finding = (f"数据中共有 {total} 次活动，其中 {compared} 次有对照组、可以估计增量；增量区间完全在 0 以上的有 "
               f"{head['hist_significant']} 次")
    if head["hist_negative"]:
        finding += f"、完全在 0 以下的 {head['hist_negative']} 次"
    finding += "。"
    if head["hist_with_roi"]:
        finding += (f"有成本数据的 {head['hist_with_roi']} 次中，增量 ROI 为正的有 {head['hist_positive_roi']} 次，"
                    f"最高的是 {head['hist_best']}（{head['hist_best_roi']:.0%}）。ROI 只计窗口内的投资收入，不含之后的复投，偏保守。")
    else:
        finding += "没有一次能算出增量 ROI（活动表没有成本，或活动不花钱），只能比较增量。"
    if total > compared:
        finding += f"另外 {total - compared} 次没有对照组或名单，只能看响应人数。"
    action = ("把这张表作为活动台账每轮更新：增量不显著的活动先扩大样本重做一轮再决定去留，增量显著但 ROI 为负的活动"
              "降低奖励或收窄人群，增量显著且 ROI 为正的活动固化为常规触发。")
    if total > compared:
        action += "今后每次活动都随机留出对照组，才能进入这张台账。"
    return finding, action


#: what each basis of the plan (`campaign_review.PLAN_BASES`, by code) means, for the prose
PLAN_BASIS_WORDS: dict[str, str] = {
    "segment": "Holm 校正后增量显著为正的分群",
    "overall": "没有哪个分群单独显著，但活动整体显著，在增量不显著为负的分群里选",
}


def _basis(head: dict, breakdown: str) -> str:
    words = PLAN_BASIS_WORDS.get(head["plan_basis_code"])
    return f"选人依据：{head['plan_basis']}" + (f"（{words}；按{_by(breakdown)}分群）" if words else
                                              f"（按{_by(breakdown)}分群）")


def _shrinkage(head: dict) -> str:
    """What the plan's uplifts are: each segment's own, shrunk toward the overall one."""
    text = ("每个分群的增量是它自己的实测增量向活动整体增量收缩后的估计：分群越小、分群之间的差异越接近"
            "抽样误差，就越接近整体增量。")
    low, high, pooled = head["plan_uplift_low"], head["plan_uplift_high"], head["plan_at_overall"]
    if pooled == head["plan_segments"]:
        which = "这个分群" if pooled == 1 else f"这 {pooled} 个分群"
        return text + (f"{which}用的是整体增量 {_signed(high)}：分群之间的差异没有超出抽样误差，或分群的一组"
                       "没有成员、无法单独估计；计划只是把整体效果按分群摊开，"
                       "不说明哪个分群的效果更好。")
    if pooled:
        text += (f"其中 {head['plan_at_overall_names']} 有一组没有成员，无法单独估计，"
                 "用的是整体增量。")
    return text + f"名单中各分群的增量在 {_signed(low)} 至 {_signed(high)} 之间。"


def next_round(head: dict, breakdown: str, n: Count = plain_count) -> tuple[str, str]:
    """The next round, from `campaign_review.next_round_summary`.

    The basis (`plan_basis_code`) is told in words, and the uplifts for what they are: each
    segment's own, shrunk toward the overall one; when the segments within budget are all at
    the overall uplift the text says the plan spreads the campaign's effect over them, never
    that a segment did better.

    Parameters
    ----------
    head : dict
        `next_round_summary`.
    breakdown : str
        The breakdown the plan uses.
    n : callable
        How a count of people is written.

    Returns
    -------
    tuple of str
        (finding, action).
    """
    if not head["plan_rows"]:
        return (f"{head['plan_basis']}（按{_by(breakdown)}分群）。",
                "本轮没有可以放心加码的人群：先按可信度检查的所需人数扩大名单、保持对照组重做一轮，"
                "再决定下一轮找谁。")
    if not head["plan_segments"]:
        return (f"{_basis(head, breakdown)}，但 {head['budget']:,.0f} 元的预算放不下"
                f"其中任何一个分群，本轮不给出名单。",
                "提高预算，或先在预期成本最低的分群里做一轮小规模测试（计划表按每元带来的增量排序）。")
    finding = f"{_basis(head, breakdown)}。"
    if head["budget_applied"]:
        finding += f"在 {head['budget']:,.0f} 元预算内，"
    elif _num(head["budget"]):
        finding += "活动没有成本数据，预算无法用来截断名单；"
    finding += (f"下一轮覆盖 {head['plan_segments']} 个分群（{head['plan_names']}），共 {n(head['plan_targets'])} 人"
                f"（本活动中未响应的实验组成员和从未收到消息的对照组成员），预期带来约 "
                f"{head['plan_incremental']:,.1f} 个增量响应者")
    finding += f"，预期成本 {head['plan_cost']:,.0f} 元。" if _num(head["plan_cost"]) else "。"
    finding += _shrinkage(head)
    action = (f"名单在本次运行的 exports/06_closed_loop_review/next_round_targets.csv（私有，不发布）。"
              f"渠道沿用本次验证过的{head['next_channel']}，权益建议「{head['offer']}」；下一轮仍随机留出 10%–20% 对照组，"
              "并按可信度检查的所需人数扩大名单，让分群差异也能被检验，闭环的下一圈才有可比的数字。")
    return finding, action


def goal_plan(head: dict) -> tuple[str, str]:
    """The next stage's goal worked back through the channels, from `planning.goal_summary`.

    Parameters
    ----------
    head : dict
        `goal_summary` (with target_window_days, the conversion window the rates use).

    Returns
    -------
    tuple of str
        (finding, action).
    """
    finding = (f"要在下一阶段新增 {head['target_investors']:,} 名首投用户，按现有渠道结构（{head['target_channels']} 个"
               f"有首投用户的渠道）需要约 {head['target_registrations']:,.0f} 个注册")
    if _num(head["target_clicks"]):
        finding += f"、{head['target_clicks']:,.0f} 次广告点击"
    finding += (f"，投放预算约 {head['target_budget']:,.0f} 元" if _num(head["target_budget"]) else
                "；数据中没有花费，预算算不出来")
    finding += f"；份额最大的渠道是 {head['target_top']}（{pct(head['target_top_share'])}）。"
    if head["target_unknown_rate"]:
        finding += (f"{head['target_unknown_rate']} 的注册用户还都在 {head['target_window_days']} 天的转化窗口内，转化率未知，"
                    "不在上面的注册数和点击数里：实际需要的量更多。")
    action = ("这张表是“保持现有结构”的基线：把预算从单位成本高的渠道挪向单位成本低、转化率高的渠道之前，先用第 3 章的"
              "渠道质量与边际回报确认这些渠道还有量；每个渠道按表中的注册数和点击数设周目标，偏离时回到漏斗查是哪一步掉了。")
    return finding, action


def goal_budget(budget: dict, head: dict) -> tuple[str, str]:
    """The budget per channel of the next stage's goal, from `planning.budget_summary`.

    Parameters
    ----------
    budget : dict
        `budget_summary`.
    head : dict
        `goal_summary` of the same plan (target_budget, target_no_spend).

    Returns
    -------
    tuple of str
        (finding, action).
    """
    finding = (f"{budget['target_budget_paid']} 个渠道需要投放预算，合计约 {head['target_budget']:,.0f} 元；预算最多的是 "
               f"{budget['target_budget_top']}（占 {pct(budget['target_budget_top_share'])}）")
    if head["target_no_spend"]:
        finding += f"；{head['target_no_spend']} 没有花费，只需要量"
    finding += "。"
    action = "预算按渠道拆到周，和第 3 章的渠道 ROI 一起看：单位成本最高的渠道先小步加量，确认边际成本没有上升再追加。"
    return finding, action

"""Chapter 7 (下一轮活动): findings and actions from the next campaign's numbers.

Each function takes the dict a `growthloop.metrics.plan` summary returns and words what it
shows; a sentence is said only when its numbers support it. Counts of people go through `n`
(the chapter's `cell_label`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from growthloop.metrics.stats import srm_label
from growthloop.present.findings import Count, pct, plain_count

#: What the operator can choose instead (the chapter's plan_audience values).
AUDIENCE_CHOICES = "stalled_card、stalled_invest、at_risk、rfm:<分群或分组>、next_round"


def _num(x: Any) -> bool:
    return x is not None and not isinstance(x, bool) and isinstance(x, int | float) and not math.isnan(x)


def _yuan(x: float) -> str:
    return f"{x:,.2f} 元" if abs(x) < 100 else f"{x:,.0f} 元"


def audience(head: Mapping[str, Any], action_text: str = "", n: Count = plain_count) -> tuple[str, str]:
    """The audience and why it was chosen, from `plan.audience_summary`.

    Parameters
    ----------
    head : mapping
        `growthloop.metrics.plan.audience_summary` (basis: parameter, first_action or
        fallback).
    action_text : str, default ""
        The summary's action the audience follows (its words), when basis is first_action.
    n : callable
        How a count of people is written (the chapter's `cell_label`).

    Returns
    -------
    tuple of str
        (finding, action).
    """
    finding = (f"本轮的人群是{head['audience_label']}：{head['rule']}，共 {n(head['audience_members'])} 人，"
               f"分布在 {head['strata']} 个{head['stratum_name']}。")
    if head["basis"] == "first_action" and action_text:
        finding += f"它来自摘要里排在最前、指向一群人的行动：「{action_text}」。"
    elif head["basis"] == "parameter":
        finding += "人群由本章参数 plan_audience 指定。"
    else:
        finding += ("执行过的章节里没有指向一群人的行动（例如本章单独运行），所以按默认顺序取了数据中第一个"
                    "有人的人群。")
    action = (f"活动目标是「{head['goal']}」，名单按{head['order_rule']}排序（预算不够时先保留排在前面的人）。"
              f"要做另一件事时，用参数 plan_audience 换人群（{AUDIENCE_CHOICES}）。")
    return finding, action


def rules(head: Mapping[str, Any], n: Count = plain_count) -> tuple[str, str]:
    """The operator's rules and how many each left out, from `plan.rules_summary`.

    Parameters
    ----------
    head : mapping
        `growthloop.metrics.plan.rules_summary`.
    n : callable
        How a count of people is written.

    Returns
    -------
    tuple of str
        (finding, action).
    """
    parts = [(head["excluded_running"], "正在进行的其他活动的成员"),
             (head["excluded_frequency"], "近期已发送过活动消息的人"),
             (head["excluded_opt_out"], "已退订营销消息的人"),
             (head["excluded_budget"], "预算之外的人")]
    out = [f"{what} {n(k)} 人" for k, what in parts if k]
    total = sum(k for k, _what in parts)
    if out:
        finding = (f"{n(head['before_rules'])} 人中，运营规则排除了{'、'.join(out)}，"
                   f"进入名单的有 {n(head['members'])} 人。")
    else:
        finding = f"运营规则没有排除任何人，{n(head['before_rules'])} 人全部进入名单。"
    if not _num(head["budget"]):
        finding += "本轮没有设预算上限。"
    elif not head["budget_applied"]:
        finding += f"预算 {_yuan(head['budget'])} 没有用来截断名单：活动的单位成本未知。"
    elif not head["excluded_budget"]:
        finding += f"名单的预期成本在预算 {_yuan(head['budget'])}以内。"
    actions = []
    if not head["opt_out_recorded"]:
        actions.append("数据中没有退订标记 (users.contact_opt_out)：上传前在发送平台再按退订名单过滤一次，"
                       "并请数据团队在 users 表导出这一列")
    if not head["frequency_on"]:
        actions.append("频次上限已关闭：确认发送平台自己有频控，否则用 frequency_cap_days 打开")
    if head["excluded_budget"]:
        actions.append("预算截掉了一部分人：他们排在优先级后面，加预算 (plan_budget) 才会进入名单")
    if total and head["members"] and total > head["members"]:
        actions.append("被规则排除的人比留下的多：换一个开始日期 (plan_start) 避开正在进行的活动，或放宽频次上限")
    if not actions:
        actions.append("规则都可以用本章参数调整（plan_exclude_running、frequency_cap_days、"
                       "plan_exclude_opt_out、plan_budget），调整后重跑本章即得到新的名单")
    return finding, "；".join(actions) + "。"


def holdout(head: Mapping[str, Any], n: Count = plain_count) -> tuple[str, str]:
    """The holdout share and what the plan can detect, from `plan.holdout_summary`.

    Parameters
    ----------
    head : mapping
        `growthloop.metrics.plan.holdout_summary` (holdout_basis: power, parameter,
        underpowered or no_basis).
    n : callable
        How a count of people is written.

    Returns
    -------
    tuple of str
        (finding, action).
    """
    share, basis = head["holdout_share"], head["holdout_basis"]
    split = f"实验组 {n(head['treatment'])} 人、对照组 {n(head['control'])} 人"
    source = (f"上一轮同类活动 {head['basis_campaign']} 的对照组响应率 {pct(head['baseline'])}"
              if head["basis_campaign"] else f"基线响应率 {pct(head['baseline'])}")
    planned = f"计划增量 {pct(head['uplift'], 2)}"
    mde = (f"最小可检测增量 (MDE) 为 {pct(head['mde'], 2)}" if _num(head["mde"])
           else "没有基线响应率，无法计算最小可检测增量 (MDE)")
    power = f"{head['power']:.0%}"
    if basis == "power":
        finding = (f"按{source}、{planned}，留出 {pct(share, 0)} 的名单作对照组就能以 {power} 的检验力检出它"
                   f"（{split}，{mde}）。")
    elif basis == "parameter":
        finding = f"对照组比例由参数 plan_holdout_share 定为 {pct(share, 0)}（{split}）；{mde}。"
        if _num(head["uplift"]) and _num(head["mde"]) and head["mde"] > head["uplift"]:
            finding += f"它大于{planned}：这个比例下检出它的把握不到 {power}。"
    elif basis == "underpowered":
        finding = (f"按{source}、{planned}，即使留出一半的人也不能以 {power} 的检验力检出它，所以按默认的 "
                   f"{pct(share, 0)} 留出（{split}）；{mde}，这一轮只能检出不小于它的增量。")
    else:
        finding = (f"数据中没有同一目标、有对照组且窗口已结束的活动，无法按检验力定比例，按默认的 {pct(share, 0)} "
                   f"留出（{split}）；{mde}。")
    low, high = head.get("basis_ci_low"), head.get("basis_ci_high")
    if head["basis_campaign"] and _num(low) and _num(high) and low <= 0 < high:
        finding += f"注意：上一轮增量的 95% 区间 ({pct(low, 2)} 至 {pct(high, 2)}) 包含 0，计划的增量本身还不确定。"
    action = (f"对照组按分层随机抽取（种子 {head['seed']}，同样的计划和种子得到同样的名单）：对照组的人照样在名单里，"
              "但不发送 (group = control)，也不能被别的活动触达，直到窗口结束。")
    if basis in ("underpowered", "no_basis") or (basis == "parameter" and _num(head["mde"])
                                                 and _num(head["uplift"]) and head["mde"] > head["uplift"]):
        action += "要检出更小的增量，扩大名单（换更大的人群或更长的滞留回看期）比提高对照组比例更有效。"
    return finding, action


def expected(e: Mapping[str, Any], n: Count = plain_count) -> tuple[str, str]:
    """The plan's expected incremental responders and cost, from `plan.expected`.

    Parameters
    ----------
    e : mapping
        `growthloop.metrics.plan.expected`.
    n : callable
        How a count of people is written.

    Returns
    -------
    tuple of str
        (finding, action).
    """
    finding = (f"{e['start']} 起经{e['channel']}发给实验组 {n(e['treatment'])} 人，{e['window_days']} 天窗口内"
               f"按计划增量 {pct(e['uplift'], 2)} 预计多带来约 {e['expected_incremental']:,.1f} 个「{e['goal']}」")
    if _num(e["expected_responders"]):
        anyway = e["expected_responders"] - e["expected_incremental"]
        paid = _num(e["cost_reward"]) and e["cost_reward"] > 0
        finding += (f"（实验组预计约 {e['expected_responders']:,.0f} 人达成，其中约 {anyway:,.0f} 人不发也会达成"
                    + ("，奖励照样发给他们）" if paid else "）"))
    finding += "。"
    if _num(e["expected_cost"]):
        finding += (f"预计成本 {_yuan(e['expected_cost'])}（发送 {_yuan(e['cost_send'])}，奖励 "
                    f"{_yuan(e['cost_reward'])}）")
        finding += (f"，每个增量响应者约 {_yuan(e['cost_per_incremental'])}。" if _num(e["cost_per_incremental"])
                    else "。")
    else:
        finding += "上一轮没有记录单位成本，本轮成本无法估计。"
    if _num(e["mde"]) and e["mde"] > e["uplift"]:
        action = (f"计划增量小于这份名单的 MDE ({pct(e['mde'], 2)})：即使活动有效，复盘也可能看不出来，"
                  "把它当成一次试验，结论要等下一轮累积样本。")
    else:
        action = "复盘时先看增量区间是否覆盖这里的计划增量，再看每个增量响应者的成本是否比上一轮低。"
    if not _num(e["expected_cost"]):
        action += "在 plan_cost_per_send 和 plan_cost_per_reward 写下单位成本，预算才能截断名单。"
    return finding, action


def package(checks: Mapping[str, Any], files: Mapping[str, str], channel: str, start: str,
            n: Count = plain_count) -> tuple[str, str]:
    """The package written and its own checks, from `plan.package_checks`.

    Parameters
    ----------
    checks : mapping
        `growthloop.metrics.plan.package_checks`.
    files : mapping of str to str
        `plan.package_files`: campaign and members (paths relative to the run).
    channel : str
        The channel as the book names it.
    start : str
        The planned start (YYYY-MM-DD HH:MM).
    n : callable
        How a count of people is written.

    Returns
    -------
    tuple of str
        (finding, action).
    """
    finding = (f"活动包写在本次运行的私有目录：{files['campaign']}（活动表的一行，campaign_id = "
               f"{checks['campaign_id']}）和 {files['members']}（{n(checks['members'])} 人，实验组 "
               f"{n(checks['treatment'])} 人、对照组 {n(checks['control'])} 人），名单不进入报告。")
    if checks["srm_verdict"] == "mismatch":
        finding += (f"名单本身的样本比例检验不通过 (p = {checks['srm_p']:.3g})：对照组占 "
                    f"{pct(checks['observed_holdout'])}，计划 {pct(checks['planned_holdout'])}。")
        return finding, "不要上传这份名单：先检查人群是否有重复的 user_id、规则是否在分组之后又删了人，再重跑本章。"
    finding += (f"名单自身的样本比例检验 p = {checks['srm_p']:.3f}：{srm_label(checks['srm_verdict'])}；"
                f"{checks['strata']} 个分层的对照组人数与计划相差都不超过 {checks['max_stratum_gap']:.1f} 人（取整）。")
    action = (f"把 members.csv 中 group = treatment 的用户上传到{channel}发送平台，在 {start} 发送；group = control "
              "的用户不发送。发送后把实际的 sent_at、delivered (和 clicked_at) 补进这份名单作为 campaign_members，"
              f"把 campaign.csv 追加到 campaigns，窗口结束后用第 6 章的 campaign_id = {checks['campaign_id']} 复盘"
              "（见使用手册「从报告到发送名单，再回到报告」）。")
    return finding, action

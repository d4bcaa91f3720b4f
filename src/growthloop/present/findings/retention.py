"""Chapter 5 (生命周期留存): findings and actions from the retention numbers.

Every function takes the numbers a section computed (the dicts of
`growthloop.metrics.retention`'s ``*_summary`` functions) and the chapter's parameters, and
returns (finding, action); a sentence is only said when the numbers support it. Counts of
people go through `n` (the chapter's ``cell_label``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

from growthloop.metrics.retention import ANCHOR_LABELS, UNIT_LABELS, UNIT_NTH, activity_label
from growthloop.present.findings import Count, pct, plain_count

#: How a note names a cohort unit.
UNIT_NAMES = {"day": "自然日", "week": "周（周一开始）", "month": "自然月"}
#: How many periods of a unit are written: 13 天, 2 周, 12 个月.
UNIT_COUNT = {"day": "{k} 天", "week": "{k} 周", "month": "{k} 个月"}
#: How a title names the retention mode (``mode``), with the unit's label: 只算当月回来.
MODE_WORDS = {"on": "只算当{u}回来", "on_or_after": "当{u}或之后回来都算"}


def _num(x: Any) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x))


def _small(n: Count, x: int) -> bool:
    """Whether `n` writes the count `x` as a small cell ("<10")."""
    return n(x).startswith("<")


def _signed(x: float) -> str:
    """A signed number with one decimal, never "-0.0"."""
    return f"{round(x, 1) + 0.0:+.1f}"


def _pp(x: float) -> str:
    return f"{_signed(x)} 个百分点"


def _nth(k: int, unit: str) -> str:
    return UNIT_NTH[unit].format(k=k)


def data_end_note(last_day: dt.date, analysis_date: dt.date) -> str:
    """The note that the data ends before the analysis date.

    Parameters
    ----------
    last_day : datetime.date
        The last day with any record (`growthloop.metrics.retention.data_end`).
    analysis_date : datetime.date
        The analysis date.

    Returns
    -------
    str
        One or two sentences.
    """
    return (f"数据中最后一条记录（事件或投资）在 {last_day}，比分析日 {analysis_date} 早 "
            f"{(analysis_date - last_day).days} 天：本章把这之后的日子当作没有任何活动，之后的周期留存为 0，"
            "用户会逐渐变成沉睡和流失。如果数据只是导出到那一天，请把 analysis_date 设为那一天再运行。")


def unit_note(unit: str, periods: int, cohort_by: str, min_periods: int = 3) -> str:
    """The note that says which cohort unit the chapter chose for this data.

    Parameters
    ----------
    unit : {"day", "week", "month"}
        The unit `growthloop.metrics.retention.default_unit` chose.
    periods : int
        The complete periods of that unit from the first cohort to the analysis date.
    cohort_by : {"signup", "first_investment"}
        What the cohorts are anchored on.
    min_periods : int, default 3
        The complete periods a unit needs to be chosen.

    Returns
    -------
    str
        One or two sentences.
    """
    what = ANCHOR_LABELS[cohort_by]
    if periods == 0:
        return f"数据中还没有{what}的用户，同期群暂按{UNIT_NAMES[unit]}划分（参数 cohort_unit 未指定）。"
    text = (f"参数 cohort_unit 未指定：同期群按{UNIT_NAMES[unit]}划分（从最早的{what}到分析日，已经过完的有 "
            f"{UNIT_COUNT[unit].format(k=periods)}）。")
    if unit != "month":
        text += (f"数据还不到 {min_periods} 个完整的月" + ("" if unit == "week" else f"或 {min_periods} 个完整的周")
                 + "，按月划分还比较不了相邻两批用户的次月留存。")
    return text


def heatmap_title(window: Any, return_event: Any, mode: str, unit: str) -> str:
    """The title of the cohort heat map, saying when it shows only part of the table.

    Parameters
    ----------
    window : pandas.DataFrame
        `growthloop.metrics.retention.heatmap_window` (its ``attrs`` give the whole table's
        cohorts and periods).
    return_event : str or dict
        What counts as coming back.
    mode : {"on", "on_or_after"}
        The retention mode.
    unit : {"day", "week", "month"}
        The cohort unit.

    Returns
    -------
    str
        The title.
    """
    title = (f"同期群留存（回来 = {activity_label(return_event)}，"
             f"{MODE_WORDS[mode].format(u=UNIT_LABELS[unit])}）")
    shown_c, shown_p = window["cohort"].nunique(), int(window["period"].max()) + 1 if len(window) else 0
    total_c, total_p = window.attrs.get("cohorts", shown_c), window.attrs.get("periods", shown_p)
    if (shown_c, shown_p) != (total_c, total_p):
        title += (f"\n最近 {shown_c} 个同期群、进入后前 {UNIT_COUNT[unit].format(k=shown_p)}"
                  f"（共 {total_c} 个同期群，全部见下表）")
    return title


def cohorts(head: dict, unit: str, cohort_by: str, return_event: Any, mode: str,
            n: Count = plain_count) -> tuple[str, str]:
    """Cohort retention, from `retention.cohort_summary`.

    Parameters
    ----------
    head : dict
        `growthloop.metrics.retention.cohort_summary`.
    unit : {"day", "week", "month"}
        The cohort unit.
    cohort_by : {"signup", "first_investment"}
        What the cohorts are anchored on.
    return_event : str or dict
        What counts as coming back (the chapter's parameter).
    mode : {"on", "on_or_after"}
        The retention mode.
    n : callable
        How a count of people is written (the chapter's `cell_label`).

    Returns
    -------
    tuple of str
        (finding, action).
    """
    word, first = UNIT_LABELS[unit], _nth(1, unit)
    when = first if mode == "on" else f"{first}或之后"
    finding = (f"按{ANCHOR_LABELS[cohort_by]}时间划分的 {head['cohorts']} 个同期群中，{head['p1_cohorts']} 个已经过完"
               f"进入后的{first}；合并计算，{pct(head['p1_rate'])} 的人在{when}有{activity_label(return_event)}"
               f"（次{word}留存）。")
    latest, prev = head["latest_cohort"], head["prev_cohort"]
    low, high = head["p1_change_low_pp"], head["p1_change_high_pp"]
    compared = bool(prev) and not (_small(n, head["latest_users"]) or _small(n, head["prev_users"]))
    if not prev:
        finding += f"只有 {latest} 这一批过完了进入后的{first}，还没有上一批可以比较。"
    elif not compared:
        finding += (f"最近两批（{latest}，{n(head['latest_users'])} 人；{prev}，{n(head['prev_users'])} 人）"
                    "人数太少，不单独比较它们的留存率。")
    else:
        finding += (f"最近一批过完{first}的同期群（{latest}，{n(head['latest_users'])} 人）为 "
                    f"{pct(head['latest_p1'])}，上一批（{prev}，{n(head['prev_users'])} 人）为 {pct(head['prev_p1'])}，"
                    f"差 {_pp(head['p1_change_pp'])}")
        if _num(low) and _num(high):
            finding += f"（95% 区间 {_signed(low)} 到 {_signed(high)}）"
            finding += "，差异在统计上显著。" if low > 0 or high < 0 else "，区间包含 0，还不能说两批人留得不一样。"
        else:
            finding += "。"
    if head["running_cells"]:
        finding += (f"矩阵里有 {head['running_cells']} 个格子所在的周期还没有过完，图上标为进行中，"
                    "没有算成 0。")
    if compared and _num(high) and high < 0:
        action = (f"最近一批用户的次{word}留存显著低于上一批：先查这一批的渠道结构和新手权益（第 2、3 章），"
                  "再决定是否调整拉新投放。")
    elif compared and _num(low) and low > 0:
        action = (f"最近一批用户的次{word}留存显著高于上一批：找出这一批在渠道和新手权益上的变化，"
                  "把有效的做法固定下来。")
    else:
        action = (f"复盘时只比较已经过完{first}的同期群，并看区间：差异不显著时不要据此调整预算；"
                  "连续几批都低于前面时，再回查渠道结构和新手权益。")
    return finding, action


def recent_weeks(head: dict, weeks: int, n: Count = plain_count) -> tuple[str, str]:
    """The recent weekly cohorts, from `retention.recent_summary`.

    Parameters
    ----------
    head : dict
        `growthloop.metrics.retention.recent_summary`.
    weeks : int
        How many weeks back the grid reaches (the chapter's parameter).
    n : callable
        How a count of people is written.

    Returns
    -------
    tuple of str
        (finding, action).
    """
    finding = f"最近 {weeks} 周共有 {head['cohorts']} 个周同期群"
    finding += (f"，其中 {head['running_cells']} 个格子所在的周还没有过完（斜线灰格，不是 0）。"
                if head["running_cells"] else "，所有格子所在的周都已过完。")
    latest, prev = head["latest_cohort"], head["prev_cohort"]
    if not latest:
        return (finding + "还没有哪一周的同期群过完进入后的第 1 周，次周留存要等下周才能读出。",
                "先用上一节的同期群判断留存；下周再看这张表。")
    if _small(n, head["latest_users"]):
        finding += f"最近一个过完次周的周同期群（{latest} 这一周）只有 {n(head['latest_users'])} 人，不单独给出留存率。"
        return finding, "周同期群人数太少，先看上一节的同期群；人数多起来以后再按周盯新用户质量。"
    finding += (f"最近一个过完次周的周同期群（{latest} 这一周，{n(head['latest_users'])} 人）次周留存 "
                f"{pct(head['latest_p1'])}")
    if prev and not _small(n, head["prev_users"]):
        finding += f"，前一周（{prev}）为 {pct(head['prev_p1'])}。"
        lower = head["latest_p1"] < head["prev_p1"]
        action = ("最近一周的次周留存低于前一周：单周波动大，连续两周下降再对照当周的投放和活动排查。" if lower else
                  "最近一周的次周留存不低于前一周；继续按周盯新用户质量，连续两周下降再排查当周的投放和活动。")
    else:
        finding += "。"
        action = "继续按周盯新用户质量，连续两周下降再排查当周的投放和活动。"
    return finding, action


def curves(head: dict, unit: str) -> tuple[str, str]:
    """The shape of the pooled retention curve, from `retention.curve_summary`.

    Parameters
    ----------
    head : dict
        `growthloop.metrics.retention.curve_summary`.
    unit : {"day", "week", "month"}
        The cohort unit.

    Returns
    -------
    tuple of str
        (finding, action).
    """
    finding = (f"合并留存曲线画到进入后的{_nth(head['periods'], unit)}，那时的留存率是 "
               f"{pct(head['last_rate'])}。")
    k = head["steepest_period"]
    if k:
        finding += (f"下降最多的一段是从{_nth(k - 1, unit)}到{_nth(k, unit)}"
                    f"（{head['steepest_drop_pp']:.1f} 个百分点）")
    else:
        finding += "曲线在相邻两期之间没有下降"
    # compared as written (0.1 point), so a sentence never contradicts its own numbers
    early, late = (round(x, 1) if _num(x) else x for x in (head["early_drop_pp"], head["late_drop_pp"]))
    settled = _num(late) and (late <= 0 or late < early)
    if _num(late):
        finding += f"；前半段平均每期变化 {_pp(-early)}，后半段 {_pp(-late)}，"
        finding += ("后半段不再下降：留下来的人很稳定。" if late <= 0 else
                    "曲线在变平：留下来的人越来越稳定。" if late < early else
                    "后半段并没有变平：老用户也在持续流失。")
    else:
        finding += "；只有一期可比，还看不出曲线是否变平。"
    gap = head["newest_gap_pp"]
    if head["newest_cohort"] and _num(gap):
        finding += (f"有两期以上数据的最新同期群（{head['newest_cohort']}）平均比合并曲线"
                    f"{'低' if gap < 0 else '高'} {abs(gap):.1f} 个百分点。")
    if k:
        action = (f"把召回和复投激励集中在{_nth(k, unit)}之前：这是流失最多的一段，这时留住一个人，"
                  "后面各期都跟着受益。")
    else:
        action = "曲线没有陡降的一段：复投激励不必集中在某一期，重点放在到期前的续投提醒。"
    if settled:
        action += "曲线平稳以后的老用户更适合用会员权益维系，而不是频繁促销。"
    elif _num(late):
        action += "老用户的流失没有放缓：会员权益和到期续投方案要覆盖老用户，不能只做新手期的促销。"
    if head["newest_cohort"] and _num(gap) and gap < 0:
        action += "最新的同期群落在合并曲线之下，回查近期的获客渠道和人群质量。"
    return finding, action


def nth(head: dict, n: Count = plain_count) -> tuple[str, str]:
    """First to fifth investment, from `retention.nth_summary`.

    Parameters
    ----------
    head : dict
        `growthloop.metrics.retention.nth_summary` (with the breakdown by first term).
    n : callable
        How a count of people is written.

    Returns
    -------
    tuple of str
        (finding, action).
    """
    first, second = head["first_investors"], head["second_investors"]
    if not second:
        return (f"{n(first)} 名首投用户中，截至分析日还没有人投第二次。",
                "先确认交易表包含全部投资记录（而不只是首投）；数据无误的话，复投就是最该补的一环："
                "首投后尽快推送复投提醒和续投加息券。")
    finding = f"{n(first)} 名首投用户中，{n(second)} 人（{pct(head['second_rate'])}）投了第二次"
    finding += f"，{pct(head['fifth_rate'])} 走到了第五次。" if _num(head["fifth_rate"]) else "。"
    w = head["weakest_n"]
    if w:
        finding += f"转化最弱的一步是第 {w} 次（投过 {w - 1} 次的人中只有 {pct(head['weakest_rate'])} 继续）。"
    gap = head["second_gap_days"]
    if _num(gap):
        finding += f"首投到二投的中位间隔是 {gap:.0f} 天。"
    best, worst, least = head.get("best_term", ""), head.get("worst_term", ""), head.get("term_min_users")
    if best and best != worst:
        finding += (f"按首投产品期限看（至少 {least} 名首投用户的期限），{best} 的二投率最高"
                    f"（{pct(head['best_term_rate'])}），{worst} 最低（{pct(head['worst_term_rate'])}）；"
                    "期限长的产品要等到期才能复投，二投率低不一定是更差。")
    elif best:
        finding += f"只有 {best} 一个首投期限有至少 {least} 名首投用户，不比较期限。"
    elif least is not None:
        finding += f"没有哪个首投期限有至少 {least} 名首投用户，不比较期限。"
    action = ("二投是最值得投入的一步：" if w == 2 else
              f"最弱的是第 {w} 次：为投过 {w - 1} 次的用户单独设计“再投一次”的阶梯奖励；" if w else "")
    action += (f"在首投后接近中位间隔（约 {gap:.0f} 天）或产品到期前一周推送复投提醒和续投加息券。" if _num(gap)
               else "在产品到期前一周推送复投提醒和续投加息券。")
    return finding, action


def lifecycle(head: dict, dormant_days: int, churn_days: int, return_event: Any,
              n: Count = plain_count) -> tuple[str, str]:
    """The lifecycle states now, from `retention.lifecycle_summary`.

    Parameters
    ----------
    head : dict
        `growthloop.metrics.retention.lifecycle_summary`.
    dormant_days, churn_days : int
        The thresholds (the chapter's parameters).
    return_event : str or dict
        What counts as activity.
    n : callable
        How a count of people is written.

    Returns
    -------
    tuple of str
        (finding, action).
    """
    when = (f"{head['state_period']} 所在月末" if head["state_complete"]
            else f"截至分析日（{head['state_period']} 所在月还没有过完）")
    active, dormant, churned = head["active_base_now"], head["dormant_now"], head["churned_now"]
    finding = (f"{when}，{n(head['users_now'])} 名有过{activity_label(return_event)}的用户中：活跃（新增 + 活跃 + 回流）"
               f"{n(active)} 人，沉睡（不活跃满 {dormant_days} 天）{n(dormant)} 人，流失（满 {churn_days} 天）"
               f"{n(churned)} 人。")
    parts = ([f"本月新增 {n(head['new_now'])} 人"] if head["new_now"] else []) + (
        [f"回流 {n(head['resurrected_now'])} 人"] if head["resurrected_now"] else [])
    if parts:
        finding += "活跃用户中" + "，".join(parts) + "。"
    if not active:
        finding += "分析日所在月没有一个活跃用户：如果平台仍在运营，请确认 analysis_date 没有晚于数据的最后一天。"
        return finding, "先核对数据覆盖的时间和分析日，再解读本节的状态。"
    if dormant:
        action = (f"沉睡期是召回窗口：在用户不活跃满 {dormant_days} 天时就触发召回，不要等到 {churn_days} 天流失以后；"
                  "持有中的用户在到期前推送续投方案，让资金留在平台上。")
    else:
        action = "现在没有沉睡用户：保持到期前的续投提醒，让资金留在平台上。"
    if churned > active:
        action += "累计流失已经多于活跃用户：预算不能只花在拉新上，要分一部分给留存和召回。"
    return finding, action


def transitions(head: dict, dormant_days: int, churn_days: int,
                n: Count = plain_count) -> tuple[str, str]:
    """State transitions and comebacks, from `retention.transition_summary`.

    Parameters
    ----------
    head : dict
        `growthloop.metrics.retention.transition_summary`.
    dormant_days, churn_days : int
        The thresholds (the chapter's parameters).
    n : callable
        How a count is written.

    Returns
    -------
    tuple of str
        (finding, action).
    """
    finding = f"在 {head['transition_months']} 个完整月份里，"
    if head["dormant_base"]:
        finding += (f"月末处于沉睡的用户，下个月有 {pct(head['dormant_back'])} 回流，"
                    f"{pct(head['dormant_churn'])} 转为流失。")
    else:
        finding += "还没有用户在月末处于沉睡，看不出沉睡以后的走向。"
    cd, cc = head["comeback_dormant"], head["comeback_churn"]
    if not head["comebacks"] or not (_num(cd) and _num(cc)):
        finding += "还没有用户在不活跃之后回来过，无法用回来前离开的天数检验阈值。"
        return finding, f"先按 {dormant_days} / {churn_days} 天的阈值运营，等有了回来的用户再用本节校准。"
    finding += (f"{n(head['comebacks'])} 次回来（不活跃之后再次活跃）中，{pct(cd)} 离开不超过 {dormant_days} 天，"
                f"{pct(cc)} 不超过 {churn_days} 天；离开超过 {churn_days} 天后回来的只占 {pct(1 - cc)}。")
    if cd >= 0.5:
        action = (f"多数回来的人离开不超过 {dormant_days} 天：召回要在进入沉睡初期就做，"
                  f"离开超过 {churn_days} 天的人召回已接近重新获客，预算优先给沉睡用户。")
    else:
        action = (f"多数回来的人离开超过 {dormant_days} 天：沉睡阈值可能偏短，可以参照回来前离开天数的表"
                  "调大 dormant_days，召回名单才不会混进还会自己回来的人。")
    return finding, action


def at_risk(users: int, dormant_days: int, churn_days: int, export: str,
            n: Count = plain_count) -> tuple[str, str]:
    """Users dormant now, from `retention.at_risk_count`.

    Parameters
    ----------
    users : int
        How many users are dormant at the analysis date.
    dormant_days, churn_days : int
        The thresholds (the chapter's parameters).
    export : str
        Where the private list is written, relative to the run (exports/...).
    n : callable
        How a count of people is written.

    Returns
    -------
    tuple of str
        (finding, action).
    """
    rule = f"不活跃满 {dormant_days} 天、不足 {churn_days} 天，也没有持有中的产品"
    if not users:
        return (f"分析日当天没有处于沉睡期（{rule}）的用户。", "现在不需要召回活动；保持到期前的续投提醒。")
    finding = (f"分析日当天有 {n(users)} 名用户处于沉睡期（{rule}）：他们还召得回来。名单（用户 ID、不活跃天数、"
               f"注册渠道、投资次数与金额）写在本次运行的私有 {export}，不进入发布的报告。")
    action = ("按不活跃天数从短到长触达：刚进入沉睡的人回应率最高。名单交给第 6 章的闭环复盘："
              "留出对照组，召回效果才能算清楚。")
    return finding, action


def survival(head: dict, churn_days: int, days: Sequence[int],
             n: Count = plain_count) -> tuple[str, str]:
    """Investors' lifetimes, from `retention.survival_summary`.

    Parameters
    ----------
    head : dict
        `growthloop.metrics.retention.survival_summary`.
    churn_days : int
        The churn threshold (the chapter's parameter).
    days : sequence of int
        The days the survival was read at.
    n : callable
        How a count of people is written.

    Returns
    -------
    tuple of str
        (finding, action).
    """
    finding = f"首投已满 {churn_days} 天、能判断是否流失的 {n(head['surv_investors'])} 名投资者中"
    if head["surv_too_recent"]:
        finding += f"（另有 {n(head['surv_too_recent'])} 人首投太晚，还不能判断）"
    known = [d for d in days if _num(head[f"surv_{d}"])]
    if known:
        finding += "，首投后仍在活跃寿命内的比例：" + "，".join(f"{d} 天 {pct(head[f'surv_{d}'])}" for d in known) + "。"
    else:
        finding += f"，观察期还不够读出首投后第 {days[0]} 天的比例。"
    median = head["surv_median_days"]
    finding += (f"一半的投资者在首投后 {median:.0f} 天内结束了活跃寿命（中位寿命）。" if _num(median)
                else "生存率还没有降到一半，中位寿命读不出。")
    d, least = head["surv_channel_day"], head["surv_min_users"]
    if d:
        best, worst = head["surv_channel_best"], head["surv_channel_worst"]
        finding += (f"在至少 {least} 名投资者的渠道里，{d} 天留存最好的是 {best}"
                    f"（{pct(head['surv_channel_best_rate'])}），最差的是 {worst}"
                    f"（{pct(head['surv_channel_worst_rate'])}）。")
        action = (f"评价渠道看生存曲线，而不只看首投人数：{worst} 的投资者流失得快，"
                  f"它的首投要打折看；给 {best} 加量之前，先在第 3 章核对它的成本。")
    else:
        finding += f"还没有两个以上的渠道有至少 {least} 名投资者和足够的观察期，不比较渠道。"
        action = "等更多投资者的观察期满了再比较渠道；现在先用合并曲线安排续投提醒。"
    action += "曲线下降最快的时段多是产品到期而没有续投的时候，续投提醒和续投权益要在到期前就位。"
    return finding, action


def ltv(head: dict) -> tuple[str, str]:
    """LTV per registered user, from `retention.ltv_summary`.

    Parameters
    ----------
    head : dict
        `growthloop.metrics.retention.ltv_summary`.

    Returns
    -------
    tuple of str
        (finding, action).
    """
    m, horizon = head["ltv_month"], head["horizon_months"]
    finding = (f"注册后第 {m} 个月，每个注册用户平均累计带来 {head['ltv_at_month']:,.1f} 元收入"
               f"（{head['ltv_cohorts']} 个注册月份已经走到这个月）。")
    if m < horizon:
        finding += f"数据还不够 {horizon} 个月，LTV 读在第 {m} 个月。"
    share = head["ltv_month0_share"]
    if not _num(share):
        return finding + "到这个月为止还没有收入。", "先看首投转化（第 2 章）：没有投资就没有收入。"
    if m == 0:
        return finding, "等注册用户走过更多月份，再看复投带来的收入。"
    finding += f"其中 {pct(share)} 在注册当月就已入账"
    if share >= 0.5:
        finding += "：收入主要来自注册当月的首投。"
        action = "LTV 主要靠首投：提高二投和到期续投的比例，是提升 LTV 最直接的办法。"
    else:
        finding += "：大部分收入来自之后几个月的复投。"
        action = "收入随复投逐月累积：寿命长的用户回本慢、回得多，评价渠道时要看 LTV 曲线是否还在上升。"
    return finding, action


def ltv_cac(head: dict) -> tuple[str, str]:
    """LTV against acquisition cost, from `retention.cac_summary`.

    Parameters
    ----------
    head : dict
        `growthloop.metrics.retention.cac_summary`.

    Returns
    -------
    tuple of str
        (finding, action).
    """
    m, paid, rated = head["ltv_month"], head["paid_channels"], head["rated_channels"]
    finding = f"按注册后第 {m} 个月的 LTV 计，{paid} 个有花费的渠道中 {rated} 个算得出 LTV/CAC"
    if not rated:
        return (finding + "：这些渠道的注册用户还没有走到这个月。",
                "先用 CAC 控制出价；等这些渠道的用户走满这个月再比较回本情况。")
    if head["best"] != head["worst"]:
        finding += (f"：最高的是 {head['best']}（{head['best_ratio']:.2f}），"
                    f"最低的是 {head['worst']}（{head['worst_ratio']:.2f}）")
    else:
        finding += f"：{head['best']} 为 {head['best_ratio']:.2f}"
    below = head["below_one"]
    if below:
        finding += f"；{below} 个渠道低于 1，在这个期限内收入还没收回获客成本。"
        action = ("LTV/CAC 低于 1 的渠道先压缩出价或换人群，再谈加量；预算向比值高、且 LTV 曲线还在上升的渠道倾斜。")
    else:
        finding += "；都已在这个期限内收回获客成本。"
        action = "预算可以向 LTV/CAC 高的渠道倾斜，但要看 LTV 曲线是否还在上升：收入随复投累积。"
    return finding, action

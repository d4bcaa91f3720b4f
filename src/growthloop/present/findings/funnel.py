"""Chapter 2 (转化漏斗): findings and actions from the funnel's numbers."""

from __future__ import annotations

import math

import pandas as pd

from growthloop.present.findings import Count, pct, plain_count


def _num(x) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x))


def overview(head: dict, window_days: float, n: Count = plain_count) -> tuple[str, str]:
    """The funnel overview, from `funnel.summary` (with `outside_funnel`'s counts or without).

    Parameters
    ----------
    head : dict
        `growthloop.metrics.funnel.summary`.
    window_days : float
        The conversion window.
    n : callable, default plain_count
        How a count of people is written (the chapter's `cell_label`).

    Returns
    -------
    tuple of str
        (finding, action).
    """
    parts = [f"{n(head['entrants'])} 人进入漏斗（{window_days:g} 天转化窗口）"]
    if _num(head["end_rate"]):
        parts.append(f"走到最后一步的比例是 {pct(head['end_rate'])}")
    if _num(head.get("first_invest_rate")) and head.get("first_invest_rate") != head["end_rate"]:
        parts.append(f"首投率 {pct(head['first_invest_rate'])}")
    finding = "，".join(parts) + "。"
    if head.get("worst_step"):
        finding += (f"从上一步转化率最低的是「{head['worst_step']}」（{pct(head['worst_rate'])}）；"
                    f"流失人数最多的是「{head['leak_step']}」，窗口结束时仍未走过这一步的有 "
                    f"{n(head['leak_lost'])} 人。")
    else:
        finding += "还没有人的转化窗口结束，转化率要等窗口结束后才能计算。"
    if head["in_progress"]:
        finding += f"另有 {n(head['in_progress'])} 人的窗口尚未结束，记为进行中而不是流失。"
    registered, outside = head.get("registered"), head.get("outside")
    if registered and outside:
        finding += (f"{n(registered)} 名注册用户中有 {n(outside)} 人没有第一步的记录（自然流量或未埋点），"
                    "不在这个漏斗里。")
    if not head.get("worst_step"):
        return finding, "等窗口结束的人足够多再看各步的转化率；现在只看进入漏斗的人数。"
    action = f"流失人数最多的「{head['leak_step']}」是增量空间最大的地方，先看这一步的页面、审核和权益"
    if head["worst_step"] != head["leak_step"]:
        action += f"；转化率最低的「{head['worst_step']}」交给触发营销和新手权益去拉"
    action += "。"
    if registered and outside and outside / registered > 0.2:
        action += "没有第一步记录的注册用户超过两成，请数据团队补齐这一步的埋点或归因回传。"
    return finding, action


def own_funnel(head: dict, window_days: float, n: Count = plain_count) -> tuple[str, str]:
    """A funnel of the platform's own events, from `funnel.summary`.

    Parameters
    ----------
    head : dict
        `growthloop.metrics.funnel.summary` of the own-events funnel (without
        `outside_funnel`'s counts: any given are ignored).
    window_days : float
        The conversion window, in days.
    n : callable, default plain_count
        How a count of people is written (the chapter's `cell_label`).

    Returns
    -------
    tuple of str
        (finding, action).
    """
    finding, _ = overview(head | {"registered": None, "outside": None}, window_days, n)
    if not head.get("worst_step"):
        return finding, "等窗口结束的人足够多再比较各步。"
    return finding, (f"这个漏斗把主漏斗看不见的环节拆开了：流失最多的「{head['leak_step']}」是产品和流程上"
                     "最该先优化的一步；把它和主漏斗一起放进周报。")


def breakdown(seg: dict, breakdown: str, step_label: str) -> tuple[str, str]:
    """The breakdown by channel or segment, from `funnel.segment_summary`.

    Parameters
    ----------
    seg : dict
        `segment_summary` of the compared step.
    breakdown : str
        The breakdown's name as the page says it.
    step_label : str
        The label of the step at which the leader and laggard are named.

    Returns
    -------
    tuple of str
        (finding, action).
    """
    finding = (f"按 {breakdown} 拆成 {seg['segments']} 组后，共有 {seg['significant']} 个“分组 × 步骤”的转化率"
               "与其余分组合计相比差异显著（双比例 z 检验，Holm 校正后 p < 0.05）")
    finding += f"，{seg['too_small']} 个组合不足 30 人，不下结论。" if seg["too_small"] else "。"
    best, worst = seg["best"] != "无", seg["worst"] != "无"
    if best or worst:
        finding += f"在「{step_label}」这一步，"
        finding += "，".join(([f"最突出的领先者是 {seg['best']}"] if best else [])
                            + ([f"最突出的落后者是 {seg['worst']}"] if worst else [])) + "。"
        action = ("显著落后的分组先查人群定向与新手权益（是否吸引了羊毛党），再决定是否降预算；显著领先的分组"
                  "可以加量，但要等第 3 章按成本和 ROI 复核之后再动预算。")
    else:
        finding += f"在「{step_label}」这一步没有显著领先或落后的分组。"
        action = "各分组在这一步没有可靠的差别：不要只凭这张表调整预算。"
    return finding, action


def time_to_convert(stats: pd.DataFrame, speed: dict) -> tuple[str, str]:
    """The time to convert, from `time_to_convert`'s stats and `time_summary`.

    Parameters
    ----------
    stats : pandas.DataFrame
        `growthloop.metrics.funnel.time_to_convert`'s stats (label, median_hours per
        transition); empty when nobody converted in the window.
    speed : dict
        `growthloop.metrics.funnel.time_summary` (slowest_step, slowest_median_days).

    Returns
    -------
    tuple of str
        (finding, action).
    """
    if stats.empty:
        return "窗口内还没有完成的转化，无法估计转化时长。", "等有了转化再看这一节。"
    steps = "；".join(f"{r.label} {r.median_hours:,.1f} 小时" for r in stats.itertuples())
    finding = (f"每一步从上一步开始算的中位时长：{steps}。最慢的一步是「{speed['slowest_step']}」，"
               f"中位要 {speed['slowest_median_days']:,.1f} 天。")
    action = ("触达时机跟着中位时长走：在多数人已经完成这一步、而滞留者还没走远的时候推送；"
              f"最慢的「{speed['slowest_step']}」适合用限时权益缩短犹豫期。")
    return finding, action


def cohorts(coh: dict, step_label: str) -> tuple[str, str]:
    """Conversion by registration cohort, from `funnel.cohort_summary`.

    Parameters
    ----------
    coh : dict
        `growthloop.metrics.funnel.cohort_summary`.
    step_label : str
        The label of the compared step (首投), as the page says it.

    Returns
    -------
    tuple of str
        (finding, action).
    """
    if coh["last_cohort"] == "无":
        return (f"在 {coh['cohorts']} 个注册月份中，还没有哪个月份的用户窗口已经结束，无法比较月份间的"
                f"{step_label}率。", "等最早的月份窗口结束后再看这一节。")
    finding = (f"在 {coh['cohorts']} 个注册月份中，最近一个窗口已结束的月份（{coh['last_cohort']}）{step_label}率为 "
               f"{pct(coh['last_cohort_rate'])}（95% 区间 {pct(coh['last_cohort_low'])}–{pct(coh['last_cohort_high'])}）")
    if coh["prev_cohort"] != "无":
        finding += f"，上一个月份（{coh['prev_cohort']}）为 {pct(coh['prev_cohort_rate'])}"
    finding += "。"
    if coh["open_cohorts"]:
        finding += (f"还有 {coh['open_cohorts']} 个月份的部分用户窗口未结束，图中只用窗口已结束的用户计算，"
                    "所以这些月份不会因为“还没来得及转化”而显得更差。")
    prev = coh["prev_cohort_rate"]
    if coh["prev_cohort"] != "无" and _num(prev) and not (
            coh["last_cohort_low"] <= prev <= coh["last_cohort_high"]):
        action = ("上一个月份的转化率落在最近月份的区间之外：这不只是波动，回查这两个月的渠道结构和新手权益"
                  "有什么变化。")
    else:
        action = ("把每月的转化率和置信区间一起放进月报：区间重叠时不要把波动当成趋势；连续两个月落在前期区间"
                  "之下时，再回查当月的渠道结构和新手权益。")
    return finding, action


def stalled(summary: dict, n: Count = plain_count) -> tuple[str, str]:
    """Stalled users for trigger campaigns, from `funnel.stalled_summary`.

    Parameters
    ----------
    summary : dict
        `growthloop.metrics.funnel.stalled_summary`.
    n : callable, default plain_count
        How a count of people is written (the chapter's `cell_label`).

    Returns
    -------
    tuple of str
        (finding, action).
    """
    h, d, look = summary["stall_card_hours"], summary["stall_invest_days"], summary["stall_lookback_days"]
    finding = (f"最近 {look:g} 天里，有 {n(summary['stalled_card'])} 人注册满 {h:g} 小时仍未绑卡，"
               f"{n(summary['stalled_invest'])} 人绑卡满 {d:g} 天仍未投资。")
    if _num(summary["stalled_card_share"]):
        finding += f"历史上 {pct(summary['stalled_card_share'])} 的注册用户在 {h:g} 小时内没有绑卡"
        finding += (f"，{pct(summary['stalled_invest_share'])} 的绑卡用户在 {d:g} 天内没有首投。"
                    if _num(summary["stalled_invest_share"]) else "。")
    if not summary["stalled_card"] and not summary["stalled_invest"]:
        return finding, "现在没有滞留用户，触发规则保持不变即可。"
    action = (f"名单在本次运行的 exports/02_funnel/stalled_users.csv（私有，不发布）。注册未绑卡：注册满 {h:g} 小时后"
              f"发短信 + 推送；绑卡未首投：绑卡满 {d:g} 天后推送新手标和首投红包，未开推送的改发短信。"
              "两条规则都留出对照组，让第 6 章能算出真实增量。")
    return finding, action

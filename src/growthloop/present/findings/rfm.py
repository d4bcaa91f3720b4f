"""Chapter 4 (RFM 分群): findings and actions from the segmentation's numbers.

Each function takes the dicts the library's summaries return (`growthloop.metrics.rfm`) and
`n`, how a count of people is written (the chapter's `cell_label`), and returns
(finding, action). A sentence is said only when its condition holds on the numbers; the
parameters (period, split, bands) are named as the chapter was run, never as the demo's.

Small groups are treated as a published table treats them (`growthloop.present.tables.suppress`):
their count reads "<10", and a share, mean or sum of money that describes them (or the few
left over) is not stated at all.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from growthloop.present.findings import Count, pct, plain_count
from growthloop.present.units import yuan

#: Mean M at least this many times the median: the money has a long tail.
LONG_TAIL = 2.0


def _num(x: Any) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x))


def _small(count: float, n: Count) -> bool:
    """Whether `n` hides this count (a small cell: "<10")."""
    return n(int(round(count))).startswith("<")


def _share(share: float, base: float, n: Count) -> str | None:
    """`share` of `base` people as a percentage, or None when it is not a number or would
    describe a small group: the people in it, or the people left out of it."""
    if not _num(share):
        return None
    part = share * base
    return None if _small(part, n) or _small(base - part, n) else pct(share)


def period_note(history: Mapping[str, Any], period_days: int | None) -> str:
    """The note the chapter shows when the F/M period is longer than the data's history.

    Parameters
    ----------
    history : mapping
        `growthloop.metrics.rfm.history`.
    period_days : int or None
        The chapter's period; None is all history (nothing to note).

    Returns
    -------
    str
        The note, or "" when the period is shorter than the history (or there is none).
    """
    days = int(history.get("history_days") or 0)
    if period_days is None or not days or period_days < days:
        return ""
    return (f"统计期 (period_days) 设为 {period_days} 天，比数据中的投资历史长 (第一笔投资在 "
            f"{history['first_investment']}，到分析日共 {days} 天)：F 和 M 实际按全部历史计算。")


def distribution(d: Mapping[str, Any], labels: Mapping[str, Any], n: Count = plain_count
                 ) -> tuple[str, str]:
    """The R, F and M distributions, from `rfm.distribution_summary`.

    Parameters
    ----------
    d : mapping
        `growthloop.metrics.rfm.distribution_summary`.
    labels : mapping
        `growthloop.metrics.rfm.params_summary` (period, monetary, split, bins).
    n : callable
        How a count of people is written (the chapter's `cell_label`).

    Returns
    -------
    tuple of str
        (finding, action).
    """
    days, period, money, total = d["recent_days"], labels["period"], labels["monetary"], d["investors"]
    nobody, no_repeat = d["idle_share"] >= 1, d["once_share"] >= 1
    finding = f"共 {n(total)} 位投资用户 (截至分析日有过成功投资的人)。"
    few = _small(total, n)
    if few:
        finding += "人数太少，为保护个人信息，这里不给出比例、中位数和均值。"
    else:
        recent = _share(d["recent_share"], total, n)
        if d["recent_share"] == 0:
            finding += f"最近 {days} 天内没有人投资。"
        elif recent:
            finding += f"{recent} 的人最近 {days} 天内投资过。"
        finding += f"R (距最后一次投资的天数) 的中位数是 {d['median_recency']:,.0f} 天。"
    if nobody:
        finding += f"统计期 ({period}) 内没有任何投资：F 和 M 对所有人都是 0，高低只能由 R 决定。"
    elif no_repeat:
        finding += (f"统计期 ({period}) 内没有人投资超过一笔：F 分不出常客，按 F 的划分"
                    " (F 得分、R × F 热力图) 意义不大。")
    elif (once := _share(d["once_share"], total, n)) is not None:
        finding += f"{once} 的人在统计期 ({period}) 内只投过一笔或没投"
        finding += "，复投的人是少数。" if d["once_share"] >= 0.5 else "。"
    idle = _share(d["idle_share"], total, n)
    if 0 < d["idle_share"] < 1 and idle:
        finding += f"{idle} 的人只在统计期之前投资过，期内 F、M 为 0。"
    median, mean = d["median_monetary"], d["mean_monetary"]
    tail = mean > 0 and mean >= LONG_TAIL * median
    if not nobody and not few:
        finding += (f"M ({money}) 的尾巴很长：中位数 {yuan(median)}，均值 {yuan(mean)}，均值被少数大额用户拉高。"
                    if tail else
                    f"M ({money}) 的中位数 {yuan(median)}，均值 {yuan(mean)}，没有明显的长尾。")
    action = ""
    if d["recent_share"] == 0:
        action = f"最近 {days} 天没有人投资：先确认数据是否截止得比分析日早，再看是否整体停投。"
    if nobody:
        action += "统计期内没有投资：先确认分析日和统计期 (period_days) 是否合适；若平台确实停投，先对全体投资用户做召回。"
    elif no_repeat:
        action += "第二笔投资是眼下最大的分水岭：对首投用户推复投激励 (到期续投提醒、复投红包)；有了复投，F 才能区分用户。"
    elif few:
        action += "投资用户还太少，分层运营为时尚早：先把拉新和首投做起来 (第 2 章)。"
    elif tail:
        action += (f"M 的均值远高于中位数：金额集中在少数人身上，按{labels['split']}分高低时 M 高的只是少数，"
                   "这正是要集中服务的少数；第二笔投资仍是最大的分水岭，下文的“发展”人群就是它的目标。")
    else:
        action += "M 没有明显的长尾，按金额分层的价值有限：运营重点放在频次 (复投) 和近度 (召回) 上。"
    return finding, action


def scores(s: Mapping[str, Any], bins: int, n: Count = plain_count) -> tuple[str, str]:
    """The score bands, from `rfm.scores_summary`.

    Parameters
    ----------
    s : mapping
        `growthloop.metrics.rfm.scores_summary`.
    bins : int
        The number of scores (the chapter's score_bins).
    n : callable
        How a count of people is written.

    Returns
    -------
    tuple of str
        (finding, action).
    """
    finding = f"R、F、M 各按分位数打 {bins} 档分 (得分越高越好：R 越近、F 越多、M 越大得分越高)。"
    if s["empty_count"]:
        finding += (f"空着的得分档是 {s['empty_scores']}：某个取值的人数超过一档 (投资用户的 1/{bins})，"
                    "这些人取所占各档中最低的一档，上面被覆盖的档就空着。")
    else:
        finding += "每一档都有人。"
    top = s["top_m_amount_share"] if not _small(s["top_m_users"], n) else float("nan")
    if _num(top):
        finding += f"M 最高一档 ({bins} 分) 的 {n(s['top_m_users'])} 人贡献了统计期金额的 {pct(top)}。"
    elif _small(s["top_m_users"], n):
        finding += f"M 最高一档只有 {n(s['top_m_users'])} 人，不单独给出他们的金额占比。"
    else:
        finding += "M 最高一档没有人或统计期内没有投资金额，算不出最高一档的金额占比。"
    if s["f_bands"] < bins:
        action = f"F 只有 {s['f_bands']} 档有人：F 的得分不要当成均匀的 {bins} 档来用，看上表每档的真实取值。"
    elif s["empty_count"]:
        action = "有空档的维度不要当成均匀的档来用，看上表每档的真实取值。"
    else:
        action = "每档都有人，得分可以直接当作分位数档使用；每档的取值范围见上表。"
    if _num(top) and top >= 0.5:
        action += "M 最高一档贡献了一半以上的金额：这一档的人单独建名单、配专属服务。"
    return finding, action


def segments(summ: Mapping[str, Any], spread: Mapping[str, Any], labels: Mapping[str, Any],
             n: Count = plain_count) -> tuple[str, str]:
    """The eight segments and three operating groups, from `rfm.segments_summary`.

    Parameters
    ----------
    summ : mapping
        `growthloop.metrics.rfm.segments_summary`.
    spread : mapping
        `growthloop.metrics.rfm.spread` (``investors`` and the ``flat`` measures).
    labels : mapping
        `growthloop.metrics.rfm.params_summary`.
    n : callable
        How a count of people is written.

    Returns
    -------
    tuple of str
        (finding, action).
    """
    money, total = labels["monetary"], spread["investors"]

    def people(key: str) -> str | None:
        return _share(summ[key], total, n)

    def amount(key: str, users: float) -> str | None:
        # the share of the amount held by `users` investors: not stated for a small group
        hidden = _small(users, n) or _small(total - users, n) or not _num(summ[key])
        return None if hidden else pct(summ[key])

    has_amount = _num(summ["important_amount_share"])
    finding = f"以{money}为 M、按{labels['split']}分高低 (得分共 {labels['bins']} 档)，"
    if summ["iv_users"]:
        finding += f"重要价值用户 {n(summ['iv_users'])} 人"
        if (iv := people("iv_user_share")) is not None:
            finding += f"，占投资用户的 {iv}"
        if (iv_amount := amount("iv_amount_share", summ["iv_users"])) is not None:
            finding += f"，贡献了统计期{money}的 {iv_amount}"
        finding += "。"
    else:
        finding += "没有重要价值用户 (R、F、M 同时高的人)。"
    if (important := people("important_user_share")) is not None:
        finding += f"四类“重要” (M 高) 人群合计 {important} 的人"
        imp_amount = amount("important_amount_share", summ["important_user_share"] * total)
        finding += f"、{imp_amount} 的金额。" if imp_amount is not None else "。"
    if not has_amount:
        finding += "统计期内没有投资金额，金额占比无从计算。"
    largest = people("largest_segment_share")
    finding += f"人数最多的是{summ['largest_segment']}" + (f" ({largest})。" if largest else "。")
    lapsed = summ["winback_users"] + summ["keep_users"]
    if lapsed:
        finding += (f"重要挽留 {n(summ['winback_users'])} 人、重要保持 {n(summ['keep_users'])} 人："
                    "他们曾经投得多，但已经很久没投了。")
    else:
        finding += "没有重要挽留和重要保持用户：M 高的人最近都投过。"
    items = []
    for name, key in (("稳定中客", "group_stable_share"), ("潜力新客", "group_new_share"),
                      ("流失风险客", "group_risk_share")):
        if (value := people(key)) is not None:
            items.append(f"{name}占 {value} 的人")
    risk_amount = amount("group_risk_amount_share", summ["group_risk_share"] * total)
    if items and items[-1].startswith("流失风险客") and risk_amount is not None:
        items[-1] += f"、{risk_amount} 的金额"
    if items:
        finding += "按三类运营人群看，" + "，".join(items) + "。"
    if spread["flat"]:
        finding += (f"{spread['flat']} 对所有投资用户都相同，这一维的高低不区分任何人：八类人群实际只由"
                    "其余的维度决定。")
    if summ["empty_segments"] != "无":
        finding += f"没有人的人群：{summ['empty_segments']}。"
    if not has_amount:
        return finding, ("统计期内没有投资金额，分群只反映近度 (R)：先对流失风险客做低成本召回，"
                         "等有了新的投资再按价值分层。")
    parts = ["资源按上表的“金额占比”而不是“人数占比”分配"]
    if summ["iv_users"]:
        parts.append("重要价值用户交给专属客户经理，维护而不打扰")
    if lapsed:
        parts.append("重要挽留和重要保持用户优先召回，他们单人价值高，值得花成本")
    if summ["develop_users"]:
        parts.append(f"重要发展 ({n(summ['develop_users'])} 人) 推复投，把一次性的大额用户变成常客")
    parts.append("一般人群只做低成本的批量触达")
    action = "；".join(parts) + "。"
    if "F" in spread["flat"].split("、"):
        action += "F 不区分任何人，“价值”和“发展”的区别只是名义上的：先推第二笔投资，等有了复投再看按 F 的分层。"
    action += "具体动作、渠道和权益见上表 (可在 dataset.yml 的 rfm_actions 中修改)；所有召回都留对照组，交给第 6 章评估。"
    return finding, action


def heatmap(h: Mapping[str, Any], bins: int, n: Count = plain_count) -> tuple[str, str]:
    """The R x F grid, from `rfm.heatmap_summary`.

    Parameters
    ----------
    h : mapping
        `growthloop.metrics.rfm.heatmap_summary` (numbers, not worded money).
    bins : int
        The number of scores.
    n : callable
        How a count of people is written.

    Returns
    -------
    tuple of str
        (finding, action).
    """
    finding = f"平均 M 最高的格子是 R 得分 {h['top_r']}、F 得分 {h['top_f']}"
    finding += (f"，有 {n(h['top_users'])} 人。" if _small(h["top_users"], n)
                else f"，平均 {yuan(h['top_m'])}，有 {n(h['top_users'])} 人。")
    low, high = h["low_f_m"], h["high_f_m"]
    compare = not (_small(h["low_f_users"], n) or _small(h["high_f_users"], n))
    if compare:
        finding += (f"F 得分 {h['low_f']} 的人平均 M 是 {yuan(low)}，F 得分 {h['high_f']} 的人是 "
                    f"{yuan(high)}")
        if high > 0 and high >= LONG_TAIL * low:
            finding += "：投资金额主要靠复投累积。"
        elif high > low:
            finding += "：复投多的人投得也多一些。"
        else:
            finding += "：复投多的人平均金额并不更高。"
    finding += f"人数最多的格子是 R 得分 {h['big_r']}、F 得分 {h['big_f']} ({n(h['big_users'])} 人)。"
    action = ("F 高、R 低的格子 (图的右下角) 是“曾经的常客”：平均价值高且还记得平台，召回的性价比最好，"
              "应排在召回名单最前面；R 高、F 高 (右上角) 不用打折促销，给服务和额度；R 高、F 低 (左上角，"
              "最近投过但投得少) 推第二笔投资的激励。")
    recent = h["big_r"] > (bins + 1) / 2
    if h["big_f"] == h["low_f"] and not recent:
        action += "人数最多的是久未投资、投得又少的人：只做低成本的批量触达，不单独投入。"
    elif h["big_f"] == h["low_f"]:
        action += "人数最多的是最近投过、还没复投的人：复投激励的覆盖面最大，先做这一格。"
    if compare and high <= low:
        action += "复投没有带来更高的金额：复投激励要配合额度或期限升级，而不只是多投几笔。"
    return finding, action


def migration(m: Mapping[str, Any], labels: Mapping[str, Any], n: Count = plain_count
              ) -> tuple[str, str]:
    """Segment migration since an earlier date, from `rfm.migration_summary`.

    Parameters
    ----------
    m : mapping
        `growthloop.metrics.rfm.migration_summary`.
    labels : mapping
        `growthloop.metrics.rfm.params_summary`.
    n : callable
        How a count of people is written.

    Returns
    -------
    tuple of str
        (finding, action).
    """
    finding = (f"与 {m['previous_days']} 天前 ({m['previous_date']}) 相比 (两个日期各自按当时的投资用户和"
               f"{labels['split']}分群)，")
    if m["iv_before"]:
        finding += f"当时的 {n(m['iv_before'])} 位重要价值用户中"
        stay = _share(m["iv_stay_share"], m["iv_before"], n)
        finding += f" {stay} 仍是重要价值，" if stay else "，"
        finding += f"{n(m['iv_slipped'])} 人因为久未投资滑到了 R 低的人群；"
    else:
        finding += "当时没有重要价值用户；"
    stayed = _share(m["stayed_share"], m["investors_before"], n)
    if stayed:
        finding += f"上期投资用户整体有 {stayed} 留在原人群。"
    finding += (f"{n(m['upgraded'])} 人从“一般”升到了“重要”，{n(m['downgraded'])} 人从“重要”降到了“一般”。")
    if m["new_investors"]:
        finding += (f"期间新增投资人 {n(m['new_investors'])} 位，其中 {n(m['new_to_important'])} 位直接进入了"
                    "“重要”人群。")
    else:
        finding += "期间没有新增投资人。"
    action = ("迁移矩阵是上期动作的成绩单：召回活动之后看“重要挽留/重要保持 → 重要价值”这一格是否变大，"
              "复投激励之后看“重要发展 → 重要价值”。")
    if m["iv_slipped"]:
        action += f"从重要价值滑出的 {n(m['iv_slipped'])} 人最该马上联系，他们的名单在本期的重要保持和重要挽留里。"
    if m["downgraded"] > m["upgraded"]:
        action += "降级的人比升级的多：价值在流失，召回和复投预算要向“重要”人群倾斜。"
    if not m["new_investors"]:
        action += "期间没有新投资人：先补上拉新和首投转化 (第 2 章)。"
    action += "比较效果要有对照组 (第 6 章)：没有活动也会有人自然回流。"
    return finding, action


def member_lists(lists: pd.DataFrame, n: Count = plain_count) -> tuple[str, str]:
    """The member lists, from `rfm.member_list_table`.

    Parameters
    ----------
    lists : pandas.DataFrame
        `growthloop.metrics.rfm.member_list_table` (segment, users, channel, list ...).
    n : callable
        How a count of people is written.

    Returns
    -------
    tuple of str
        (finding, action).
    """
    finding = (f"每类人群都导出了一份名单 (共 {len(lists)} 份)，按 M 从高到低排列，含 user_id、R/F/M 值、"
               "三个得分、人群与运营人群。名单只写入本次运行的私有 exports/04_rfm/ 目录，报告里只有人数。")
    empty = lists.loc[lists.users == 0, "segment"].tolist()
    if empty:
        finding += f"{'、'.join(empty)}没有人，名单只有表头。"
    action = "按上表的渠道和权益建活动："
    lapsed = lists[lists.segment.isin(["重要挽留", "重要保持"]) & (lists.users > 0)]
    if not lapsed.empty:
        routes = "，".join(f"{r.segment}走「{r.channel}」" for r in lapsed.itertuples())
        action += f"{'、'.join(lapsed.segment)}名单 ({n(int(lapsed.users.sum()))} 人) 最先做：{routes}；"
    action += ("名单中随机留出一部分不触达作为对照组，活动结束后在第 6 章复盘；下一期重跑本章，用迁移矩阵看"
               "人群有没有往“重要价值”流动。")
    return finding, action

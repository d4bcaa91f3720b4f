"""Chapter 1 (用户画像): findings and actions from the profiling numbers.

Each function takes what `growthloop.metrics.profiling` returned for one section (its
``*_summary`` dicts, or a small frame) and `n`, how a count of people is written (the chapter's
`cell_label`, so a small group reads "<10" as in a table), and returns (finding, action).
"""

from __future__ import annotations

import math

import pandas as pd

from growthloop.present.findings import Count, pct, plain_count

#: Days without a sign-up after which the overview says the profile is of existing users only.
QUIET_DAYS = 30
#: A bottom tier holding more than this share of the users is the layering's main task.
BOTTOM_HEAVY = 0.5
#: Gini coefficients from which the assets read as concentrated / below which as spread out.
GINI_HIGH, GINI_LOW = 0.6, 0.4


def _num(x) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x))


def _small(n: Count, x) -> bool:
    """Whether `n` writes the count as a small cell ("<10"): then no share or amount derived from
    it is said either, as a published table blanks them."""
    return str(n(x)).startswith("<")


def overview(head: dict, span: dict, n: Count = plain_count) -> tuple[str, str]:
    """Who the platform has: `profiling.headline` and `profiling.signup_span`.

    Parameters
    ----------
    head : dict
        `growthloop.metrics.profiling.headline`.
    span : dict
        `growthloop.metrics.profiling.signup_span`.
    n : callable
        How a count of people is written (the chapter's `cell_label`).

    Returns
    -------
    tuple of str
        (finding, action).
    """
    dates = (f"注册日期都在 {span['first_signup']}" if span["first_signup"] == span["last_signup"]
             else f"注册日期 {span['first_signup']} 至 {span['last_signup']}")
    finding = f"截至分析日共有 {n(head['users'])} 名注册用户（{dates}）"
    if not head["investors"]:
        finding += "，还没有人投资过。"
    elif _small(n, head["users"]) or _small(n, head["investors"]):
        finding += (f"，其中 {n(head['investors'])} 人投资过；人数少于最小发布人数，投资转化率和资产金额"
                    "不在这里列出。")
    else:
        finding += f"，其中 {n(head['investors'])} 人投资过，投资转化率 {pct(head['investor_rate'])}。"
        if head["aum_total"] > 0:
            finding += (f"他们当前的在投资产合计 {head['aum_total_wan']:,.1f} 万元，人均 "
                        f"{head['aum_per_investor']:,.0f} 元。")
        else:
            finding += "截至分析日没有人还持有在投资产：投资都已到期或赎回。"
    quiet = span["days_since_last_signup"] >= QUIET_DAYS
    if quiet:
        finding += (f"最近一次注册在 {span['last_signup']}，距分析日已有 {span['days_since_last_signup']:,} "
                    "天没有新用户：下面的画像描述的是存量用户，不代表最近拉新进来的人。")
    if quiet:
        action = (f"先确认用户表是否导出完整（最近 {span['days_since_last_signup']:,} 天没有注册）；如果拉新确实"
                  "停了，运营重心放在存量用户的促活、复投和到期续投上。")
    elif not head["investors"]:
        action = "画像只能描述注册用户：先看第 2 章漏斗，找出注册后卡在哪一步、为什么没有首投。"
    elif head["aum_total"] <= 0:
        action = "投资过的人都已不再持有资产：用到期提醒和续投权益把他们召回，复投是这批用户最大的增量。"
    else:
        action = ("按下面四个角度拆开看：拉新预算投向资产占比高于人数占比的人群；促活、首投和复投的权益按资产"
                  "层级和行为群组分开设计。")
    return finding, action


def composition(mix: dict, n: Count = plain_count) -> tuple[str, str]:
    """Who the users, investors and money are, from `profiling.composition_summary`.

    Parameters
    ----------
    mix : dict
        `growthloop.metrics.profiling.composition_summary`.
    n : callable
        How a count of people is written.

    Returns
    -------
    tuple of str
        (finding, action).
    """
    word = {"aum": "资产", "investors": "投资用户"}.get(mix["basis"], "")
    over, under = mix["over_value"] != "无", mix["under_value"] != "无"
    if not mix["basis"]:
        finding = "还没有人投资，各维度只能看注册用户的人数分布。"
    elif not mix["groups"]:
        finding = f"每个已知群体都不足 {n(mix['min_users'])} 人，不点名比较各群体的{word}占比。"
    elif not over and not under:
        finding = f"各群体的{word}占比与人数占比一致，没有哪一群明显多或少。"
    else:
        parts = []
        if over:
            parts.append(f"{word}占比最高出人数占比的是{mix['over_dimension']}「{mix['over_value']}」：人数占 "
                         f"{pct(mix['over_user_share'])}，{word}占 {pct(mix['over_share'])}")
        if under:
            parts.append(f"最低于人数占比的是{mix['under_dimension']}「{mix['under_value']}」：人数占 "
                         f"{pct(mix['under_user_share'])}，{word}只占 {pct(mix['under_share'])}")
        finding = "；".join(parts) + "。"
    if mix["unknown"]:
        finding += f"数据中每个用户的{mix['unknown']}都是空的（未知），图中没有画这些维度。"
    if mix["most_unknown_share"] > 0:
        finding += (f"已知的维度里，{mix['most_unknown_dimension']}有 {pct(mix['most_unknown_share'])} 的用户"
                    "为未知或未标记，这一维的占比只代表已知的人。")
    if over and under:
        action = (f"拉新预算向{mix['over_dimension']}「{mix['over_value']}」这类{word}占比高于人数占比的人群倾斜；"
                  f"{mix['under_dimension']}「{mix['under_value']}」人多而{word}少，当作走量人群运营：低门槛产品和投教"
                  "内容，而不是高额权益。")
    elif over:
        action = (f"拉新预算向{mix['over_dimension']}「{mix['over_value']}」这类{word}占比高于人数占比的人群倾斜，"
                  "并用同样的定向去找相似人群。")
    elif under:
        action = (f"{mix['under_dimension']}「{mix['under_value']}」人多而{word}少：当作走量人群运营，用低门槛产品"
                  "和投教内容推动首投。")
    else:
        action = "这一节还不能指导预算分配：等用户和投资人更多时再看各群体的占比。"
    if mix["unknown"]:
        action += f"在 users 表补齐 {mix['unknown_columns']}，画像才能按{mix['unknown']}拆分。"
    return finding, action


def layers(tiers: dict, n: Count = plain_count) -> tuple[str, str]:
    """The layering, from `profiling.layer_summary`.

    Parameters
    ----------
    tiers : dict
        `growthloop.metrics.profiling.layer_summary`.
    n : callable
        How a count of people is written.

    Returns
    -------
    tuple of str
        (finding, action).
    """
    word, top = tiers["metric_label"], tiers["top_label"]
    if not tiers["top_layers_users"]:
        finding = f"没有用户的{word}达到{top}"
    elif _small(n, tiers["top_layers_users"]):
        finding = f"{word}{top}的有 {n(tiers['top_layers_users'])} 人，人数太少，不单列他们的占比"
    else:
        finding = (f"{word}{top}的 {n(tiers['top_layers_users'])} 人占用户的 {pct(tiers['top_layers_user_share'])}，"
                   f"占全部{word}的 {pct(tiers['top_layers_aum_share'])}")
    bottom = f"「{tiers['bottom_label']}」层"
    if _small(n, tiers["no_asset_users"]) or not tiers["no_asset_users"]:
        finding += f"；最底下的{bottom}有 {n(tiers['no_asset_users'])} 人。"
    else:
        finding += f"；{n(tiers['no_asset_users'])} 人（{pct(tiers['no_asset_share'])}）在最底下的{bottom}。"
    parts = []
    if tiers["top_layers_users"]:
        parts.append(f"{word}{top}的用户配专属客户经理，做到期提醒和续投权益，按人跟进")
    if tiers["no_asset_share"] > BOTTOM_HEAVY:
        parts.append(f"{bottom}是大多数：用首投权益和新手标把他们推到上一层，卡在哪一步看第 2 章漏斗")
    else:
        parts.append("中间层级用复投和加仓权益往上推一层，每一层一套话术，层与层之间不重叠")
    return finding, "；".join(parts) + "。"


#: (word of a cluster description, what to do with such a group), in the order they are said.
CLUSTER_PLAYS: tuple[tuple[str, str], ...] = (
    ("高资产", "以保有为先：到期提醒、续投权益和专属服务"),
    ("久未投资", "做召回：到期与收益提醒，配限时复投权益"),
    ("久未活跃", "做召回：推送与短信唤醒，配限时权益"),
    ("新用户", "做复投引导：首投之后趁热推第二笔的加息券"),
    ("低频", "提高频次：定投和自动续投"),
)


def clusters(summary: dict, profile: pd.DataFrame, n: Count = plain_count) -> tuple[str, str]:
    """The behaviour groups, from `profiling.cluster_summary` and the clusters' profile.

    Parameters
    ----------
    summary : dict
        `growthloop.metrics.profiling.cluster_summary`.
    profile : pandas.DataFrame
        `ClusterResult.profile` (cluster, users, user_share, aum_share, description).
    n : callable
        How a count of people is written.

    Returns
    -------
    tuple of str
        (finding, action).
    """
    finding = (f"{n(summary['cluster_investors'])} 名投资人按投资行为分成 {summary['k']} 群（在试过的 "
               f"{summary['k_tried_min']}–{summary['k_tried_max']} 群里轮廓系数最高）。")
    first = profile.iloc[0] if len(profile) else None
    if first is not None and _small(n, first.users):
        finding += f"第 1 群「{summary['cluster1_desc']}」有 {n(first.users)} 人，人数太少，不单列占比。"
    else:
        finding += f"第 1 群「{summary['cluster1_desc']}」占投资人的 {pct(summary['cluster1_user_share'])}"
        if _num(summary["cluster1_aum_share"]):
            finding += f"，持有他们 {pct(summary['cluster1_aum_share'])} 的资产。"
        else:
            finding += "。"
    if not _num(summary["cluster1_aum_share"]):
        finding += "截至分析日这些投资人都不再持有资产，群组只按投资行为划分。"
    rest = [f"第 {int(r.cluster)} 群「{r.description}」"
            + (f"{n(r.users)} 人" if _small(n, r.users) else pct(r.user_share))
            for r in profile.iloc[1:].itertuples()]
    if rest:
        finding += "其余：" + "；".join(rest) + "。"
    plays, used = [], set()
    for word, play in CLUSTER_PLAYS:
        for r in profile.itertuples():
            if int(r.cluster) not in used and word in str(r.description).split(" · "):
                plays.append(f"第 {int(r.cluster)} 群（{r.description}）{play}")
                used.add(int(r.cluster))
                break
    if plays:
        action = "每群一套话术，而不是全平台一套：" + "；".join(plays) + "。"
    else:
        action = "各群的行为差别不大：先用同一套话术，按资产层级而不是行为群组区分权益。"
    return finding, action


def cluster_range(summary: dict) -> str:
    """The note a chapter shows when the data could not support every k asked for, else "".

    Parameters
    ----------
    summary : dict
        `growthloop.metrics.profiling.cluster_summary`.

    Returns
    -------
    str
        The note, or "" when every k was tried.
    """
    if not summary["k_skipped"]:
        return ""
    if summary["k_size_bound"]:
        why = (f"每群平均不少于 {summary['cluster_min_size']} 人（min_cell_size）时，{summary['cluster_investors']:,} "
               f"名投资人最多分成 {summary['k_tried_max']} 群")
    else:
        why = (f"数据中只有 {summary['cluster_distinct']:,} 种不同的投资行为，群组数最多只能试到 "
               f"{summary['k_tried_max']}")
    return f"{why}；参数要求的 k = {summary['k_skipped']} 没有试。"


def concentration(conc: dict, n: Count = plain_count) -> tuple[str, str]:
    """How concentrated the assets are, from `profiling.concentration`.

    Parameters
    ----------
    conc : dict
        `growthloop.metrics.profiling.concentration`.
    n : callable
        How a count of people is written.

    Returns
    -------
    tuple of str
        (finding, action).
    """
    finding = (f"在 {n(conc['holders'])} 名持有资产的投资人中，资产最多的前 20% 持有 {pct(conc['top20_share'])} "
               f"的资产，基尼系数 {conc['gini']:.2f}")
    if conc["gini"] >= GINI_HIGH:
        finding += "：资产高度集中在少数人手里。"
        action = ("平台靠少数大户撑着：每周盯他们的到期和赎回，大额到期前主动联系；活动效果按留住的资产评估，"
                  "而不只看触达了多少人。")
    elif conc["gini"] < GINI_LOW:
        finding += "：资产分布比较分散，不靠少数大户。"
        action = "资产不依赖少数人：活动可以按人数规模做，重点放在提高人均资产（加仓、复投）。"
    else:
        finding += "：资产中等集中。"
        action = "大户和长尾都要顾：大户做到期续投，长尾做复投和加仓，两类活动分开评估。"
    return finding, action

"""The next campaign (下一轮活动): the book's next round as a ready campaign, with its holdout.

The closed loop is plan → execute → measure → review → plan again. Chapters 2, 4, 5 and 6 say
*whom* to reach; this module turns one of those audiences into a campaign package an operator
uploads to an SMS / push / WeChat platform as it is, and that comes back unchanged as the next
review's `campaigns` and `campaign_members` rows:

* :func:`audience`: the people, as an Ibis expression (user_id, stratum, priority): the
  stalled users of chapter 2 (``stalled_card``, ``stalled_invest``), an RFM segment or group of
  chapter 4 (``rfm:<label>``), the users at risk of chapter 5 (``at_risk``) or chapter 6's next
  round (``next_round``). :func:`audience_for` picks one from the summary's ranked actions.
* :func:`basis_round`: the last round of the same kind (same goal, with a holdout, the most
  members in common with the audience): its baseline and uplift plan the new one.
* The operator's rules (:func:`running_members`, :func:`contacted_within`, :func:`opted_out`,
  then the budget in :func:`cap_by_budget`), each counted by :func:`apply_rules`.
* :func:`holdout_share_for`: the smallest holdout that gives the planned uplift its power.
* :func:`assign_holdout`: stratified, seeded assignment by an MD5 hash of the user id (the
  hash of `growthloop.metrics.uplift.fold_of`), the same on every engine.
* :func:`next_campaign` does all of it; :func:`package` gives the campaign row and the members
  expression, :func:`write_package` writes them to the run's private exports/.

Rules
-----
* Contamination: a member (treatment or holdout) of a campaign whose window
  (start_at, start_at + window_days] covers the planned start is left out: sending to them
  would change that campaign's result, and a held-out member must stay untouched. A campaign
  without window_days uses its end_at, else 14 days. Only campaigns started by the end of the
  analysis date count (nothing after it is used).
* Frequency cap: a member sent a campaign message (campaign_members.sent_at) within the
  `frequency_cap_days` days before the planned start is left out.
* Opt-out: a user whose users.contact_opt_out is true is left out (an optional column;
  unknown is not an opt-out).
* Budget: the members are taken in the audience's own priority order while the treated ones'
  expected cost (a send plus the reward at the expected response rate) fits the budget; the
  holdout costs nothing. The cut knows the holdout's rounding (below), so the sends kept are
  exactly those counted.
* Holdout: within each stratum of n members, the floor(n x share + 1/2) members with the
  smallest hash of '<user_id>:<seed>' are the holdout: the share is the planned one in every
  stratum, up to rounding, and the same plan with the same seed gives the same members.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
from ibis import _

from growthloop.errors import NotAvailable
from growthloop.marts.events import checked, event_names
from growthloop.marts.outcomes import INVESTMENT_GOALS
from growthloop.metrics import campaign_review as cr
from growthloop.metrics import funnel, retention, rfm, stats
from growthloop.metrics.uplift import fold_of
from growthloop.staging.contract import RFM_GROUPS, SEGMENTS, TABLES
from growthloop.staging.loader import Dataset

#: The audiences a chapter chooses, by code, as the book names them.
AUDIENCES: dict[str, str] = {
    "stalled_card": "注册后未绑卡的滞留用户 (第 2 章)",
    "stalled_invest": "绑卡后未首投的滞留用户 (第 2 章)",
    "at_risk": "沉睡可召回用户 (第 5 章)",
    "next_round": "上一轮活动复盘给出的下一轮名单 (第 6 章)",
}
#: An RFM audience is ``rfm:<label>``: one of the eight segments or the three groups (第 4 章).
RFM_PREFIX = "rfm:"
#: The campaign goal each audience is reached for (next_round: the reviewed campaign's).
AUDIENCE_GOALS: dict[str, str] = {"stalled_card": "bind_card", "stalled_invest": "first_investment",
                                  "at_risk": "any_investment", "rfm": "any_investment"}
#: The campaign's name per audience (an RFM audience adds its label).
AUDIENCE_NAMES: dict[str, str] = {"stalled_card": "注册未绑卡提醒", "stalled_invest": "绑卡未首投提醒",
                                  "at_risk": "沉睡用户召回", "rfm": "RFM 人群运营",
                                  "next_round": "下一轮"}
#: The summary's actions (`growthloop.present.summary.DERIVED_ACTIONS` names) that name an
#: audience; ``funnel_stalled`` is the larger of the two stalled groups.
ACTION_AUDIENCES: dict[str, str] = {"funnel_stalled": "stalled", "ret_dormant": "at_risk",
                                    "rfm_risk": f"{RFM_PREFIX}{RFM_GROUPS[2][0]}",
                                    "review_next": "next_round"}
#: Tried in this order when no action names an audience (the chapters were not run).
FALLBACK_AUDIENCES: tuple[str, ...] = ("stalled_card", "stalled_invest", "at_risk",
                                       f"{RFM_PREFIX}{RFM_GROUPS[2][0]}")
#: How the audience was chosen (codes; the findings word them).
CHOICE_BASES: tuple[str, ...] = ("parameter", "first_action", "fallback")
#: The holdout share the power may choose, and the share used when it cannot.
HOLDOUT_BOUNDS: tuple[float, float] = (0.10, 0.50)
DEFAULT_HOLDOUT = 0.20
#: How the holdout share was set (codes): by the power, by the parameter, the default because
#: even half the audience held out cannot reach the power, the default without a basis.
HOLDOUT_BASES: tuple[str, ...] = ("power", "parameter", "underpowered", "no_basis")
#: The planned start's hour when only a day is given (the demo's campaigns start at 10:00).
SEND_HOUR = 10
#: A campaign without window_days or end_at is taken to run this many days (contamination).
FALLBACK_WINDOW_DAYS = 14
#: The channel when neither the parameter nor the basis round gives one.
DEFAULT_CHANNEL = "sms"
#: The operator's rules, in the order they are applied, and their labels.
RULES: dict[str, str] = {
    "running": "正在进行的其他活动的成员",
    "frequency": "近期已发送过活动消息",
    "opt_out": "已退订营销消息",
    "budget": "超出预算",
}
#: The columns of the package's campaign row and member rows (the contract's).
CAMPAIGN_COLUMNS: tuple[str, ...] = tuple(TABLES["campaigns"].column_names)
MEMBER_COLUMNS: tuple[str, ...] = ("campaign_id", "user_id", "group")
#: The package's files in exports/<chapter>/.
PACKAGE_FILES: dict[str, str] = {"campaign": "campaign", "members": "members"}
_HASH_RANGE = 1 << 28  # fold_of's 28-bit hash, taken whole


# --------------------------------------------------------------------------------------------
# the audience


def audience_code(value: str) -> str:
    """Check an audience code and write an RFM one with its Chinese label.

    Parameters
    ----------
    value : str
        stalled_card, stalled_invest, at_risk, next_round or ``rfm:<label>``, the label one of
        the eight RFM segments or three groups, in Chinese, English or as a code.

    Returns
    -------
    str
        The code (``rfm:重要挽留`` for ``rfm:important_win_back``).

    Raises
    ------
    ValueError
        For any other value.

    Examples
    --------
    >>> audience_code("rfm:important_win_back"), audience_code("at_risk")
    ('rfm:重要挽留', 'at_risk')
    """
    if isinstance(value, str) and value in AUDIENCES:
        return value
    if isinstance(value, str) and value.startswith(RFM_PREFIX):
        name = value[len(RFM_PREFIX):].strip()
        for seg in SEGMENTS:
            if name in (seg.label, seg.label_en, seg.code):
                return f"{RFM_PREFIX}{seg.label}"
        for label, english, _rule in RFM_GROUPS:
            if name in (label, english, english.replace(" ", "_")):
                return f"{RFM_PREFIX}{label}"
    labels = [s.label for s in SEGMENTS] + [g[0] for g in RFM_GROUPS]
    raise ValueError(f"audience: {value!r}; allowed: {list(AUDIENCES)} or rfm:<label>, the label "
                     f"one of {labels}")


def audience_for(actions: Sequence[str], stalled_card: float | None = None,
                 stalled_invest: float | None = None, requested: str | None = None) -> dict[str, str]:
    """The audience of the next campaign: the parameter's, else the summary's first action's.

    Parameters
    ----------
    actions : sequence of str
        The summary's actions by name, ranked (`growthloop.present.summary.collect`).
    stalled_card, stalled_invest : float or None
        Chapter 2's stalled users per group (``funnel_stalled_card`` / ``_invest``): the
        stalled action means the larger group (the card group on a tie).
    requested : str or None, default None
        The chapter's `plan_audience`; None to follow the actions.

    Returns
    -------
    dict
        audience (a code, or "" when no action names one), basis (a code of CHOICE_BASES:
        parameter, first_action or fallback: try FALLBACK_AUDIENCES) and action (the
        action's name, "" unless basis is first_action).

    Raises
    ------
    ValueError
        When `requested` is no audience (:func:`audience_code`).

    Examples
    --------
    >>> audience_for(["attr_budget", "ret_dormant", "funnel_stalled"])["audience"]
    'at_risk'
    >>> audience_for(["funnel_stalled"], stalled_card=10, stalled_invest=30)["audience"]
    'stalled_invest'
    """
    if requested is not None:
        return {"audience": audience_code(requested), "basis": "parameter", "action": ""}
    for name in actions:
        code = ACTION_AUDIENCES.get(name)
        if code is None:
            continue
        if code == "stalled":
            card, invest = stalled_card or 0, stalled_invest or 0
            code = "stalled_invest" if invest > card else "stalled_card"
        return {"audience": code, "basis": "first_action", "action": name}
    return {"audience": "", "basis": "fallback", "action": ""}


@dataclass(frozen=True)
class Audience:
    """The people a campaign is planned for, and how they were chosen.

    Made by :func:`audience`. `table` is an Ibis table of user_id, stratum (the segment the
    holdout is stratified by) and priority (0 first: the order a budget takes them in); never
    pulled whole into pandas.
    """

    code: str
    label: str
    goal: str
    stratum_name: str
    order_rule: str
    rule: str
    table: ibis.Table
    size: int
    key: str
    channel: str = ""
    campaign_id: str = ""
    name: str = ""

    @property
    def slug(self) -> str:
        """The audience in a campaign id: stalled_card, rfm_important_win_back, rfm_churn_risk."""
        if not self.code.startswith(RFM_PREFIX):
            return self.code
        label = self.code[len(RFM_PREFIX):]
        for seg in SEGMENTS:
            if seg.label == label:
                return f"rfm_{seg.code}"
        english = next(g[1] for g in RFM_GROUPS if g[0] == label)
        return "rfm_" + english.replace(" ", "_")


def _ranked(table: ibis.Table, order: Sequence[Any]) -> ibis.Table:
    """`table` with priority 0, 1, ... in `order` (ties by user_id): the same on every engine."""
    w = ibis.window(order_by=[*order, "user_id"])
    return table.mutate(priority=ibis.row_number().over(w).cast("int64"))


def _stalled(ds: Dataset, code: str, card_hours: float, invest_days: float,
             lookback_days: float) -> tuple[ibis.Table, str]:
    if "bind_card" not in event_names(ds):
        raise NotAvailable("绑卡事件（bind_card 角色）：滞留规则以“注册后未绑卡”和“绑卡后未首投”判定",
                           "数据中没有 bind_card 事件",
                           "在 dataset.yml 的 tables.events.values.event_name 里把平台的绑卡事件映射为 bind_card")
    rule = "no_card" if code == "stalled_card" else "no_invest"
    s = funnel.stalled_users(ds, card_hours, invest_days, lookback_days)
    s = s.filter(s.rule == rule)
    t = s.select("user_id", stratum=s.signup_channel.fill_null("未知").cast("string"), _since=s.since)
    words = (f"注册满 {card_hours:g} 小时仍未绑卡" if rule == "no_card"
             else f"绑卡满 {invest_days:g} 天仍未投资")
    return (_ranked(t, [ibis.desc("_since")]).drop("_since"),
            f"{words}的用户（{lookback_days:g} 天内开始滞留）")


def _at_risk(ds: Dataset, activity_event: Any, dormant_days: int, churn_days: int) -> tuple[ibis.Table, str]:
    a = retention.at_risk_users(ds, activity_event, dormant_days, churn_days)
    lo = dormant_days + ((a.inactive_days - dormant_days) // 30) * 30
    band = lo.cast("string") + "-" + (lo + 29).cast("string") + "天"
    t = a.select("user_id", stratum=band, _days=a.inactive_days)
    return (_ranked(t, ["_days"]).drop("_days"),
            f"不活跃满 {dormant_days} 天、不足 {churn_days} 天且没有持有中产品的用户")


def _rfm(ds: Dataset, label: str, options: Mapping[str, Any]) -> tuple[ibis.Table, str]:
    seg = rfm.segments(ds, **options)
    groups = {g[0] for g in RFM_GROUPS}
    part = seg.filter((seg.group == label) if label in groups else (seg.segment == label))
    t = part.select("user_id", stratum=part.segment.cast("string"), _m=part.monetary)
    what = "RFM 分组" if label in groups else "RFM 分群"
    return _ranked(t, [ibis.desc("_m")]).drop("_m"), f"{what}「{label}」的投资用户（分析日的 RFM）"


def _next_round(ds: Dataset, review: Mapping[str, Any]) -> tuple[ibis.Table, str, cr.Campaign]:
    camp = cr.campaign(ds, review.get("campaign_id"), review.get("window_days"), review.get("goal"))
    plan, targets, by = cr.next_round_plan(
        ds, camp, review.get("breakdowns") or ["age_band"], budget=review.get("budget"),
        alpha=review.get("alpha", 0.05), pre_days=review.get("pre_days", 90))
    kept = [str(s) for s in plan[plan.within_budget.astype(bool)].segment] if len(plan) else []
    if not kept:
        raise NotAvailable("上一轮活动复盘给出的下一轮分群（第 6 章：分群显著，或活动整体显著时收缩后增量为正的分群）",
                           f"活动 {camp.campaign_id} 的复盘{cr.NO_PLAN}",
                           "换一个人群 (plan_audience)，或先把上一轮的对照组和名单扩大，让增量可以被检出")
    # the plan's order: best value first
    order = ibis.cases(*[(targets.segment == s, i) for i, s in enumerate(kept)], else_=len(kept))
    t = targets.select("user_id", stratum=targets.segment.cast("string"), _o=order)
    return (_ranked(t, ["_o"]).drop("_o"),
            f"活动 {camp.campaign_id} 中未响应、且在下一轮计划的分群 ({by}) 里的成员", camp)


def audience(ds: Dataset, code: str, stalled: Mapping[str, Any] | None = None,
             lifecycle: Mapping[str, Any] | None = None,
             rfm_options: Mapping[str, Any] | None = None,
             review: Mapping[str, Any] | None = None) -> Audience:
    """The people of an audience, as the chapter that chooses them chooses them.

    Each is stratified by the segment its plan targets and ordered by its chapter's priority:

    * stalled_card / stalled_invest (`funnel.stalled_users`): by sign-up channel; the most
      recent stall first (the easiest to rescue);
    * at_risk (`retention.at_risk_users`): by 30-day band of inactive days; the shortest
      silence first (the chapter's own order);
    * rfm:<label> (`rfm.segments`): by RFM segment; the highest M first;
    * next_round (`campaign_review.next_round_plan`): by the reviewed campaign's segment; the
      plan's best-value segment first.

    Parameters
    ----------
    ds : Dataset
        The dataset.
    code : str
        The audience (:func:`audience_code`).
    stalled : mapping or None, default None
        card_hours, invest_days, lookback_days of `funnel.stalled_users` (chapter 2's
        stall_card_hours, stall_invest_days, stall_lookback_days); defaults 24, 7, 30.
    lifecycle : mapping or None, default None
        activity_event, dormant_days, churn_days of `retention.at_risk_users` (chapter 5's
        return_event, dormant_days, churn_days); defaults investment, 60, 180.
    rfm_options : mapping or None, default None
        Keyword arguments of `rfm.segments` (period_days, monetary, bins, split,
        score_threshold: chapter 4's parameters).
    review : mapping or None, default None
        campaign_id, window_days, goal, breakdowns, budget, alpha, pre_days of chapter 6's
        review (`campaign_review.campaign` and `next_round_plan`).

    Returns
    -------
    Audience
        Its table (user_id, stratum, priority; kept in the engine), size and words.

    Raises
    ------
    ValueError
        An unknown audience.
    NotAvailable
        When the data cannot give the audience (no bind_card event, too short a history, no
        campaign tables, no next round), or the audience has nobody.
    """
    code = audience_code(code)
    stalled = {"card_hours": 24, "invest_days": 7, "lookback_days": 30, **(stalled or {})}
    lifecycle = {"activity_event": retention.INVESTMENT, "dormant_days": retention.DORMANT_DAYS,
                 "churn_days": retention.CHURN_DAYS, **(lifecycle or {})}
    rfm_options = dict(rfm_options or {})
    review = dict(review or {})
    camp = None
    if code in ("stalled_card", "stalled_invest"):
        table, rule = _stalled(ds, code, **stalled)
        key, stratum, order, goal = stalled, "注册渠道", "滞留开始越晚越优先", AUDIENCE_GOALS[code]
    elif code == "at_risk":
        table, rule = _at_risk(ds, **lifecycle)
        key, stratum, order, goal = lifecycle, "不活跃天数段", "不活跃天数越短越优先", AUDIENCE_GOALS[code]
    elif code.startswith(RFM_PREFIX):
        table, rule = _rfm(ds, code[len(RFM_PREFIX):], rfm_options)
        key, stratum, order, goal = rfm_options, "RFM 分群", "M (投资金额) 越高越优先", AUDIENCE_GOALS["rfm"]
    else:
        table, rule, camp = _next_round(ds, review)
        key, stratum, order, goal = review, "复盘的分群", "计划中每元增量越高的分群越优先", camp.goal
    name = f"plan.audience:{code}:{sorted((k, str(v)) for k, v in key.items())}"
    kept = ds.keep(name, lambda: table)
    size = int(kept.count().to_pyarrow().as_py())
    label = (AUDIENCES[code] if code in AUDIENCES
             else f"RFM「{code[len(RFM_PREFIX):]}」的投资用户 (第 4 章)")
    if camp is not None:
        label = f"{cr.campaign_label(camp)} 复盘给出的下一轮名单 (第 6 章)"
    if size == 0:
        raise NotAvailable(f"{label}中至少有一个人", f"分析日 {ds.analysis_date} 这个人群没有人",
                           "换一个人群 (plan_audience)，或调整给出这个人群的章节参数")
    base = "rfm" if code.startswith(RFM_PREFIX) else code
    title = AUDIENCE_NAMES[base] + (f"「{code[len(RFM_PREFIX):]}」" if base == "rfm" else "")
    if camp is not None:
        title = f"{camp.name or camp.campaign_id} {AUDIENCE_NAMES['next_round']}"
    return Audience(code=code, label=label, goal=goal, stratum_name=stratum, order_rule=order,
                    rule=rule, table=kept, size=size, key=name,
                    channel=camp.channel if camp is not None else "",
                    campaign_id=camp.campaign_id if camp is not None else "", name=title)


def first_available(ds: Dataset, codes: Sequence[str] = FALLBACK_AUDIENCES,
                    **options: Any) -> Audience:
    """The first of `codes` the data can give with somebody in it (the fallback of the chapter
    when no executed chapter names an audience).

    Parameters
    ----------
    ds : Dataset
        The dataset.
    codes : sequence of str, default FALLBACK_AUDIENCES
        Audiences to try, in order.
    **options : Any
        Passed to :func:`audience` (stalled, lifecycle, rfm_options, review).

    Returns
    -------
    Audience
        The first audience with members.

    Raises
    ------
    NotAvailable
        When none of them has anybody (the last one's reason).
    """
    last: NotAvailable | None = None
    for code in codes:
        try:
            return audience(ds, code, **options)
        except NotAvailable as exc:
            last = exc
    raise last or NotAvailable("一个有成员的人群", "没有可试的人群", "用 plan_audience 指定人群")


def strata_table(aud: Audience) -> pd.DataFrame:
    """The audience's members per stratum (an aggregate), largest first.

    Parameters
    ----------
    aud : Audience
        :func:`audience`.

    Returns
    -------
    pandas.DataFrame
        Columns stratum, users, share; ties by stratum.
    """
    t = aud.table
    out = t.group_by("stratum").aggregate(users=_.count()).to_pandas()
    out["users"] = out.users.astype("int64")
    out["share"] = out.users / out.users.sum() if len(out) else 0.0
    return out.sort_values(["users", "stratum"], ascending=[False, True]).reset_index(drop=True)


def audience_summary(aud: Audience, choice: Mapping[str, str]) -> dict[str, Any]:
    """The audience for the chapter's prose (glued as ``plan_<key>``).

    Parameters
    ----------
    aud : Audience
        :func:`audience`.
    choice : mapping
        :func:`audience_for`'s result.

    Returns
    -------
    dict
        audience (code), audience_label, basis (of the choice), action (its name),
        audience_members, strata (how many), stratum_name, goal (its label), order_rule, rule.
    """
    strata = int(aud.table.stratum.nunique().to_pyarrow().as_py())
    return {"audience": aud.code, "audience_label": aud.label, "basis": choice.get("basis", ""),
            "action": choice.get("action", ""), "audience_members": aud.size, "strata": strata,
            "stratum_name": aud.stratum_name, "goal": goal_label(aud.goal),
            "order_rule": aud.order_rule, "rule": aud.rule}


def channel_label(channel: str) -> str:
    """A channel as the book shows it (短信, 推送 ...; another code as it is).

    Parameters
    ----------
    channel : str
        A campaign channel code.

    Returns
    -------
    str
        Its label.

    Examples
    --------
    >>> channel_label("sms"), channel_label("line")
    ('短信', 'line')
    """
    return cr.CHANNEL_LABELS.get(channel, channel)


def goal_label(goal: str) -> str:
    """A goal as the book shows it (注册, 绑卡, 首投 ...; an event by its name).

    Parameters
    ----------
    goal : str
        A campaign goal.

    Returns
    -------
    str
        Its label.

    Examples
    --------
    >>> goal_label("bind_card"), goal_label("浏览产品详情")
    ('绑卡', '浏览产品详情')
    """
    return cr.GOAL_LABELS.get(goal, goal)


# --------------------------------------------------------------------------------------------
# the last round of the same kind


def basis_round(ds: Dataset, goal: str, aud: Audience, campaign_id: str | None = None,
                alpha: float = 0.05) -> dict[str, Any] | None:
    """The last round the plan is planned on: its baseline, uplift, channel, window and costs.

    The campaign `campaign_id` when given; else the audience's own reviewed campaign
    (next_round); else, among the campaigns with the same goal, a holdout and a finished
    window, the one with the most members in common with the audience (the most similar
    people), ties to the latest.

    Parameters
    ----------
    ds : Dataset
        The dataset.
    goal : str
        The planned goal.
    aud : Audience
        :func:`audience`.
    campaign_id : str or None, default None
        The campaign to plan on (the chapter's `plan_basis_campaign`).
    alpha : float, default 0.05
        Level of the uplift's interval.

    Returns
    -------
    dict or None
        campaign_id, campaign (its label), goal, channel, window_days, cost_per_send,
        cost_per_reward (NaN when not recorded), baseline (the holdout's response rate),
        uplift, ci_low, ci_high, users_t, users_c, overlap (members in common with the
        audience) and chosen (how: parameter, audience, overlap or latest); None when no
        campaign fits (no campaign tables, none with this goal and a holdout).

    Raises
    ------
    ValueError
        An unknown `campaign_id`.
    NotAvailable
        When the `campaign_id` given cannot be reviewed (no holdout ...).
    """
    if campaign_id is None and aud.campaign_id:
        campaign_id, chosen, overlap = aud.campaign_id, "audience", 0
    elif campaign_id is not None:
        chosen, overlap = "parameter", 0
    else:
        try:
            table = cr.campaigns(ds)
        except NotAvailable:
            return None
        ids = []
        for row in table[(table.control > 0) & (table.treatment > 0)].itertuples(index=False):
            try:
                camp = cr.campaign(ds, row.campaign_id)
            except (NotAvailable, ValueError):
                continue
            if camp.goal == goal and camp.window_complete:
                ids.append(camp.campaign_id)
        if not ids:
            return None
        m = ds.campaign_members.filter(ds.campaign_members.campaign_id.isin(ids))
        m = m.filter(m.user_id.isin(aud.table.user_id))
        counts = m.group_by("campaign_id").aggregate(n=_.count()).to_pandas()
        common = dict(zip(counts.campaign_id, counts.n.astype(int), strict=True))
        order = {cid: i for i, cid in enumerate(table.campaign_id)}
        campaign_id = max(ids, key=lambda c: (common.get(c, 0), order[c]))
        overlap = common.get(campaign_id, 0)
        chosen = "overlap" if overlap else "latest"
    camp = cr.campaign(ds, campaign_id)
    eff = cr.effect(ds, camp, alpha=alpha)
    return {"campaign_id": camp.campaign_id, "campaign": cr.campaign_label(camp), "goal": camp.goal,
            "channel": camp.channel, "window_days": camp.window_days,
            "cost_per_send": camp.cost_per_send, "cost_per_reward": camp.cost_per_reward,
            "baseline": float(eff["rate_c"]), "uplift": float(eff["uplift"]),
            "ci_low": float(eff["ci_low"]), "ci_high": float(eff["ci_high"]),
            "users_t": int(eff["users_t"]), "users_c": int(eff["users_c"]),
            "overlap": int(overlap), "chosen": chosen}


# --------------------------------------------------------------------------------------------
# the holdout and its power


def holdout_share_for(baseline: float, uplift: float, n: int, alpha: float = 0.05,
                      power: float = 0.8) -> dict[str, Any]:
    """The smallest holdout share (in whole percent) that gives the planned uplift its power.

    With n members, a share h holds out n h of them; the test detects `uplift` with `power`
    when ``stats.mde(n (1 - h), n h, baseline) <= uplift``, i.e. when h (1 - h) >= 1 / (n K),
    K = (uplift / (z_{1-alpha/2} + z_power))² / (baseline (1 - baseline)). The smallest such
    h, rounded up to a whole percent, is kept within HOLDOUT_BOUNDS (at least 10%: fewer
    held out and a stratum of a few dozen holds out nobody). When even half held out is not
    enough, or there is no baseline or positive uplift to plan on, the share is
    DEFAULT_HOLDOUT (20%) and the MDE says what the plan can detect.

    Parameters
    ----------
    baseline : float
        The holdout's expected response rate, strictly between 0 and 1.
    uplift : float
        The planned absolute uplift (0.05 = 5 points).
    n : int
        Members of the package.
    alpha : float, default 0.05
        Two-sided level.
    power : float, default 0.8
        The chance to detect the planned uplift.

    Returns
    -------
    dict
        share, status (a code of HOLDOUT_BASES: power, underpowered or no_basis), mde (the
        minimum detectable uplift at that share, NaN without a baseline), treatment, control
        (n split at the share, rounded as :func:`assign_holdout` rounds), baseline, uplift,
        alpha, power.

    Examples
    --------
    Baseline 10%, planned uplift 5 points, 2,000 members: K = (0.05 / 2.8016)² / 0.09 =
    0.003539, 1 / (n K) = 0.1413, h = (1 - sqrt(1 - 4 x 0.1413)) / 2 = 0.1707 -> 18%.

    >>> r = holdout_share_for(0.10, 0.05, 2000)
    >>> r["share"], r["status"], r["control"]
    (0.18, 'power', 360)
    """
    n = int(n)
    nan = float("nan")
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError(f"alpha, power: {alpha!r}, {power!r}; allowed: probabilities between 0 and 1")
    out: dict[str, Any] = {"baseline": float(baseline) if baseline is not None else nan,
                           "uplift": float(uplift) if uplift is not None else nan,
                           "alpha": alpha, "power": power}
    ok = (baseline is not None and uplift is not None and not math.isnan(baseline)
          and not math.isnan(uplift) and 0 < baseline < 1 and uplift > 0 and n >= 2)
    share, status = DEFAULT_HOLDOUT, "no_basis"
    if ok:
        z = _z(1 - alpha / 2) + _z(power)
        k = (uplift / z) ** 2 / (baseline * (1 - baseline))
        need = 4 / (n * k)
        if need <= 1:
            h = (1 - math.sqrt(1 - need)) / 2
            share = min(max(math.ceil(h * 100 - 1e-9) / 100, HOLDOUT_BOUNDS[0]), HOLDOUT_BOUNDS[1])
            status = "power"
        else:
            status = "underpowered"
    control = held_out(n, share)
    out.update(share=share, status=status, treatment=n - control, control=control,
               mde=stats.mde(n - control, control, baseline, alpha, power)
               if baseline is not None and not math.isnan(baseline) else nan)
    return out


def _z(p: float) -> float:
    """The standard normal quantile of p."""
    from scipy.stats import norm

    return float(norm.ppf(p))


def _basis_points(share: float) -> int:
    return int(round(float(share) * 10_000))


def held_out(n: int, share: float) -> int:
    """How many of n members a stratum holds out: floor(n x share + 1/2), in whole basis points.

    Parameters
    ----------
    n : int
        Members of the stratum.
    share : float
        The holdout share (rounded to a basis point, 0.0001).

    Returns
    -------
    int
        The holdout's size.

    Examples
    --------
    >>> held_out(25, 0.1), held_out(15, 0.1), held_out(7, 0.2)
    (3, 2, 1)
    """
    return (int(n) * _basis_points(share) + 5_000) // 10_000


def _held_out_expr(n: ibis.IntegerValue, bp: int) -> ibis.IntegerValue:
    """:func:`held_out` in the engine: integer arithmetic, so every engine rounds alike."""
    return ((n * bp + 5_000) // 10_000).cast("int64")


def _check_share(share: float, name: str = "holdout_share") -> float:
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share < 1:
        raise ValueError(f"{name}: {share!r}; allowed: a share between 0 and 1")
    return float(share)


def assign_holdout(table: ibis.Table, share: float, seed: int) -> ibis.Table:
    """Stratified, seeded holdout: in each stratum the members with the smallest hashes.

    The hash of '<user_id>:<seed>' is `uplift.fold_of`'s (the first 28 bits of its MD5), the
    same on every engine; within each stratum of n members the :func:`held_out` (n, share)
    with the smallest hash (ties by user_id) are the holdout (group control), the others
    the treatment. So the share is the planned one in every stratum up to rounding, and the
    same members, share and seed always give the same groups.

    Parameters
    ----------
    table : ibis.Table
        Members: user_id and stratum (any other columns are kept).
    share : float
        The holdout share, between 0 and 1.
    seed : int
        Any whole number; another seed gives another holdout.

    Returns
    -------
    ibis.Table
        `table` with `group` (treatment or control); not executed.

    Raises
    ------
    ValueError
        A share outside (0, 1).
    """
    bp = _basis_points(_check_share(share))
    t = table.mutate(_h=fold_of(table.user_id.cast("string"), _HASH_RANGE, int(seed)),
                     _n=_.user_id.count().over(ibis.window(group_by="stratum")))
    t = t.mutate(_k=ibis.row_number().over(ibis.window(group_by="stratum", order_by=["_h", "user_id"])))
    t = t.mutate(group=ibis.ifelse(t._k < _held_out_expr(t._n, bp), "control", "treatment"))
    return t.drop("_h", "_n", "_k")


# --------------------------------------------------------------------------------------------
# the operator's rules


def _nobody(ds: Dataset) -> ibis.Table:
    """An empty user_id table in the dataset's engine (no memtable: it streams like the rest)."""
    return ds.users.filter(ibis.literal(False)).select("user_id")


def _campaign_end(c: ibis.Table) -> ibis.TimestampValue:
    """A campaign's window end: start_at + window_days, else end_at, else 14 days."""
    return ibis.coalesce(c.start_at + c.window_days.cast("int64").as_interval("D"), c.end_at,
                         c.start_at + ibis.interval(days=FALLBACK_WINDOW_DAYS))


def running_members(ds: Dataset, start: dt.datetime) -> ibis.Table:
    """Members (either group) of the campaigns whose window covers `start`.

    A window is (start_at, start_at + window_days] (end_at, else 14 days, without
    window_days); only campaigns started by the end of the analysis date count.

    Parameters
    ----------
    ds : Dataset
        The dataset.
    start : datetime.datetime
        The planned start.

    Returns
    -------
    ibis.Table
        Column user_id, one row per user (none without the campaign tables).
    """
    if not (ds.has("campaigns") and ds.has("campaign_members")):
        return _nobody(ds)
    c = ds.campaigns
    when = ibis.literal(start)
    live = c.filter((c.start_at < ds.period_end) & (c.start_at < when) & (_campaign_end(c) >= when))
    m = ds.campaign_members
    return m.filter(m.campaign_id.isin(live.campaign_id)).select("user_id").distinct()


def contacted_within(ds: Dataset, start: dt.datetime, days: int) -> ibis.Table:
    """Members sent a campaign message in the `days` days before `start`.

    Parameters
    ----------
    ds : Dataset
        The dataset.
    start : datetime.datetime
        The planned start.
    days : int
        The frequency cap: sent_at in [start - days, start) (and before the end of the
        analysis date).

    Returns
    -------
    ibis.Table
        Column user_id, one row per user (none without campaign_members).
    """
    if not ds.has("campaign_members"):
        return _nobody(ds)
    m = ds.campaign_members
    since = ibis.literal(start - dt.timedelta(days=int(days)))
    sent = m.filter(m.sent_at.notnull() & (m.sent_at >= since) & (m.sent_at < ibis.literal(start))
                    & (m.sent_at < ds.period_end))
    return sent.select("user_id").distinct()


def opted_out(ds: Dataset) -> ibis.Table:
    """Users who opted out of marketing messages (users.contact_opt_out is true).

    Parameters
    ----------
    ds : Dataset
        The dataset.

    Returns
    -------
    ibis.Table
        Column user_id (none when the export has no contact_opt_out column).
    """
    u = ds.users
    if "contact_opt_out" not in u.columns:
        return _nobody(ds)
    return u.filter(u.contact_opt_out.fill_null(False)).select("user_id")


def opt_out_recorded(ds: Dataset) -> bool:
    """Whether the export records opt-outs (users.contact_opt_out has any value).

    Parameters
    ----------
    ds : Dataset
        The dataset.

    Returns
    -------
    bool
        False when the column is absent or blank for everyone.
    """
    u = ds.users
    if "contact_opt_out" not in u.columns:
        return False
    return bool(u.contact_opt_out.notnull().any().to_pyarrow().as_py())


def _check_days(days: int | None, name: str) -> int | None:
    if days is None:
        return None
    if isinstance(days, bool) or not isinstance(days, int) or days < 0:
        raise ValueError(f"{name}: {days!r}; allowed: a whole number of days >= 0, or None")
    return days


def apply_rules(ds: Dataset, table: ibis.Table, start: dt.datetime, exclude_running: bool = True,
                frequency_cap_days: int | None = 14,
                exclude_opt_out: bool = True) -> tuple[ibis.Table, pd.DataFrame]:
    """The audience without the members the operator's rules leave out, and how many each did.

    Rules in order (a member is counted by the first rule that removes them): running (a
    member of a campaign running at `start`, :func:`running_members`), frequency
    (:func:`contacted_within` the cap), opt_out (:func:`opted_out`).

    Parameters
    ----------
    ds : Dataset
        The dataset.
    table : ibis.Table
        The audience (user_id, ...).
    start : datetime.datetime
        The planned start.
    exclude_running : bool, default True
        Leave out members of running campaigns.
    frequency_cap_days : int or None, default 14
        Leave out members sent a message within this many days; None or 0: no cap.
    exclude_opt_out : bool, default True
        Leave out users who opted out.

    Returns
    -------
    tuple of (ibis.Table, pandas.DataFrame)
        The eligible members (the columns of `table`) and the counts: rule, label, setting,
        applied, excluded, remaining (one row per rule in RULES but budget, in order).

    Raises
    ------
    ValueError
        A frequency cap that is not a whole number of days >= 0.
    """
    cap = _check_days(frequency_cap_days, "frequency_cap_days")
    flags = {
        "running": table.user_id.isin(running_members(ds, start).user_id) if exclude_running else None,
        "frequency": table.user_id.isin(contacted_within(ds, start, cap).user_id) if cap else None,
        "opt_out": table.user_id.isin(opted_out(ds).user_id) if exclude_opt_out else None,
    }
    cases = [(flag, name) for name, flag in flags.items() if flag is not None]
    reason = ibis.cases(*cases, else_=ibis.null("string")) if cases else ibis.null("string")
    marked = table.mutate(_reason=reason)
    counts = marked.group_by("_reason").aggregate(n=_.count()).to_pandas()
    by = {(r if isinstance(r, str) else None): int(n) for r, n in zip(counts._reason, counts.n, strict=True)}
    remaining = sum(by.values())
    settings = {
        "running": "开启" if exclude_running else "关闭",
        "frequency": f"{cap} 天内" if cap else "关闭",
        "opt_out": ("开启" if opt_out_recorded(ds) else "开启 (数据中没有退订标记)") if exclude_opt_out else "关闭",
    }
    rows = []
    for name in flags:
        remaining -= by.get(name, 0)
        rows.append({"rule": name, "label": RULES[name], "setting": settings[name],
                     "applied": flags[name] is not None, "excluded": by.get(name, 0),
                     "remaining": remaining})
    eligible = marked.filter(marked._reason.isnull()).drop("_reason")
    return eligible, pd.DataFrame(rows)


def max_sends(budget: float | None, unit_cost: float) -> int | None:
    """How many treated members a budget pays for.

    Parameters
    ----------
    budget : float or None
        Yuan; None for no limit.
    unit_cost : float
        Expected cost of one treated member (a send and the reward at the expected response
        rate); NaN when the unit costs are unknown.

    Returns
    -------
    int or None
        floor(budget / unit_cost); None when there is no budget, or the cost is unknown or 0
        (the budget cannot cut the list).

    Raises
    ------
    ValueError
        A negative budget.

    Examples
    --------
    >>> max_sends(100.0, 0.3), max_sends(None, 0.3), max_sends(100.0, 0.0)
    (333, None, None)
    """
    if budget is None:
        return None
    if isinstance(budget, bool) or not isinstance(budget, int | float) or budget < 0:
        raise ValueError(f"budget: {budget!r}; allowed: an amount in yuan >= 0, or None")
    if unit_cost is None or math.isnan(unit_cost) or unit_cost <= 0:
        return None
    return int(math.floor(budget / unit_cost + 1e-9))


def cap_by_budget(table: ibis.Table, share: float, sends: int | None) -> ibis.Table:
    """The most members, in priority order, whose treated ones number at most `sends`.

    Walking the members by priority, each member adds a send unless the holdout rounding
    of its stratum (:func:`held_out` of the members so far) makes it a holdout place; the
    list stops where the sends would pass `sends`. The holdout drawn on the kept members by
    :func:`assign_holdout` then has exactly the sends counted here.

    Parameters
    ----------
    table : ibis.Table
        Members: user_id, stratum, priority.
    share : float
        The holdout share.
    sends : int or None
        The most treated members (:func:`max_sends`); None keeps everybody.

    Returns
    -------
    ibis.Table
        The kept members (the columns of `table`); not executed.
    """
    if sends is None:
        return table
    bp = _basis_points(_check_share(share))
    r = ibis.row_number().over(ibis.window(group_by="stratum", order_by=["priority", "user_id"])) + 1
    t = table.mutate(_r=r.cast("int64"))
    t = t.mutate(_d=1 - (_held_out_expr(t._r, bp) - _held_out_expr(t._r - 1, bp)))
    t = t.mutate(_sends=t._d.sum().over(ibis.cumulative_window(order_by=["priority", "user_id"])))
    return t.filter(t._sends <= int(sends)).drop("_r", "_d", "_sends")


# --------------------------------------------------------------------------------------------
# the plan


@dataclass(frozen=True)
class NextCampaign:
    """The next campaign, planned: its campaign row, its members and the numbers behind them.

    Made by :func:`next_campaign`. `members` holds user ids: export it (:func:`write_package`),
    never show it.
    """

    audience: Audience
    campaign: dict[str, Any]
    basis: dict[str, Any] | None
    rules: pd.DataFrame
    holdout: dict[str, Any]
    members: ibis.Table
    strata: pd.DataFrame
    seed: int
    budget: float | None
    unit_cost: float
    notes: tuple[str, ...] = field(default_factory=tuple)
    #: the export records opt-outs (users.contact_opt_out has a value)
    opt_out_known: bool = False

    @property
    def treatment(self) -> int:
        """Members to send."""
        return int(self.strata.treatment.sum())

    @property
    def control(self) -> int:
        """Members held out."""
        return int(self.strata.control.sum())

    @property
    def size(self) -> int:
        """Members of the package."""
        return self.treatment + self.control


def planned_start(start: str | dt.date | dt.datetime | None, ds: Dataset) -> dt.datetime:
    """The planned start: the day after the analysis date at 10:00 when None.

    Parameters
    ----------
    start : str, date, datetime or None
        "YYYY-MM-DD" (at 10:00), "YYYY-MM-DD HH:MM" or None.
    ds : Dataset
        The dataset (its analysis date).

    Returns
    -------
    datetime.datetime
        A naive local time.

    Raises
    ------
    ValueError
        A value that is no date, or a start before the end of the analysis date (the plan
        is for after the data).
    """
    if start is None:
        out = dt.datetime.combine(ds.analysis_date + dt.timedelta(days=1), dt.time(SEND_HOUR))
    elif isinstance(start, dt.datetime):
        out = start
    elif isinstance(start, dt.date):
        out = dt.datetime.combine(start, dt.time(SEND_HOUR))
    else:
        text = str(start).strip()
        try:
            out = (dt.datetime.combine(dt.date.fromisoformat(text), dt.time(SEND_HOUR)) if len(text) == 10
                   else dt.datetime.fromisoformat(text))
        except ValueError:
            raise ValueError(f"start: {start!r}; allowed: YYYY-MM-DD or 'YYYY-MM-DD HH:MM', or None") from None
    if out.tzinfo is not None:
        raise ValueError(f"start: {start!r}; give a local time without a zone")
    if out < ds.period_end:
        raise ValueError(f"start: {out:%Y-%m-%d %H:%M} is not after the analysis date "
                         f"{ds.analysis_date}; plan a campaign after the data")
    return out


def _campaign_id(ds: Dataset, start: dt.datetime, slug: str) -> str:
    base = f"C{start:%Y%m%d}_{slug}"
    taken = set()
    if ds.has("campaigns"):
        c = ds.campaigns
        taken = set(c.filter(c.campaign_id.startswith(base)).campaign_id.to_pyarrow().to_pylist())
    out, i = base, 1
    while out in taken:
        i += 1
        out = f"{base}_{i}"
    return out


def _cost(value: float | None, fallback: float, name: str) -> float:
    if value is None:
        return float(fallback)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{name}: {value!r}; allowed: yuan >= 0, or None for the last round's")
    return float(value)


def next_campaign(ds: Dataset, aud: Audience, channel: str | None = None, goal: str | None = None,
                  window_days: int | None = None, start: str | dt.date | dt.datetime | None = None,
                  cost_per_send: float | None = None, cost_per_reward: float | None = None,
                  budget: float | None = None, holdout_share: float | None = None,
                  expected_uplift: float | None = None, exclude_running: bool = True,
                  frequency_cap_days: int | None = 14, exclude_opt_out: bool = True,
                  seed: int | None = None, alpha: float = 0.05, power: float = 0.8,
                  basis_campaign: str | None = None) -> NextCampaign:
    """Plan the next campaign for an audience: rules, holdout, budget, campaign row, members.

    In order: the last round of the kind (:func:`basis_round`) gives the defaults (channel,
    window, unit costs) and the baseline and uplift to plan on; the operator's rules
    (:func:`apply_rules`) leave members out; the holdout share is the parameter or
    :func:`holdout_share_for` of the members the budget can pay for (budget and share depend
    on each other: a larger holdout costs nothing, so the pair is iterated to a fixed point);
    the budget cuts the list (:func:`cap_by_budget`); the holdout is drawn
    (:func:`assign_holdout`) and the package counted per stratum.

    Parameters
    ----------
    ds : Dataset
        The dataset.
    aud : Audience
        :func:`audience`.
    channel : str or None, default None
        sms, push, wechat ...; None for the last round's, else sms.
    goal : str or None, default None
        The goal; None for the audience's.
    window_days : int or None, default None
        The response window; None for the last round's, else 14 days for an investment goal
        and 7 for another.
    start : str, date, datetime or None, default None
        The planned start (:func:`planned_start`).
    cost_per_send, cost_per_reward : float or None, default None
        Unit costs in yuan; None for the last round's (NaN without one: the budget cannot
        cut the list and the cost is unknown).
    budget : float or None, default None
        Yuan for the sends and their expected rewards; None for no limit.
    holdout_share : float or None, default None
        The holdout share; None for :func:`holdout_share_for`.
    expected_uplift : float or None, default None
        The planned uplift; None for the last round's observed uplift.
    exclude_running, frequency_cap_days, exclude_opt_out
        The rules of :func:`apply_rules`.
    seed : int or None, default None
        The holdout's seed; None for the planned start day as YYYYMMDD (each round then
        holds out other people; the same plan gives the same seed).
    alpha : float, default 0.05
        Two-sided level of the power and MDE.
    power : float, default 0.8
        Power to plan the holdout for.
    basis_campaign : str or None, default None
        The campaign to plan on (:func:`basis_round`).

    Returns
    -------
    NextCampaign
        The plan.

    Raises
    ------
    ValueError
        A bad parameter (named in the message).
    NotAvailable
        When the rules or the budget leave nobody.
    """
    when = planned_start(start, ds)
    goal = goal or aud.goal
    if goal not in INVESTMENT_GOALS:
        (selected,) = checked(ds, [goal], "goal")
        goal = selected.key
    if holdout_share is not None:
        holdout_share = _check_share(holdout_share)
    if expected_uplift is not None and (isinstance(expected_uplift, bool) or not isinstance(
            expected_uplift, int | float) or not 0 < expected_uplift < 1):
        raise ValueError(f"expected_uplift: {expected_uplift!r}; allowed: an absolute uplift between "
                         "0 and 1 (0.05 = 5 points), or None for the last round's")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ValueError(f"seed: {seed!r}; allowed: a whole number, or None")
    seed = int(when.strftime("%Y%m%d")) if seed is None else seed
    basis = basis_round(ds, goal, aud, basis_campaign, alpha)
    notes = []
    if basis is None:
        notes.append("no_basis")
    b = basis or {}
    channel = channel or aud.channel or b.get("channel") or DEFAULT_CHANNEL
    window = window_days if window_days is not None else b.get(
        "window_days", 14 if goal in INVESTMENT_GOALS else 7)
    if isinstance(window, bool) or not isinstance(window, int) or window <= 0:
        raise ValueError(f"window_days: {window_days!r}; allowed: a positive whole number of days")
    send = _cost(cost_per_send, b.get("cost_per_send", float("nan")), "cost_per_send")
    reward = _cost(cost_per_reward, b.get("cost_per_reward", float("nan")), "cost_per_reward")
    baseline = b.get("baseline", float("nan"))
    uplift = float(expected_uplift) if expected_uplift is not None else b.get("uplift", float("nan"))
    rate_t = baseline + uplift if not (math.isnan(baseline) or math.isnan(uplift)) else float("nan")
    unit = send + (reward * min(rate_t, 1.0) if not math.isnan(rate_t) else 0.0)
    if not math.isnan(reward) and reward > 0 and math.isnan(rate_t):
        notes.append("reward_unpriced")
    eligible, rules = apply_rules(ds, aud.table, when, exclude_running, frequency_cap_days,
                                  exclude_opt_out)
    n = int(rules.remaining.iloc[-1])
    sends = max_sends(budget, unit)
    if holdout_share is not None:
        share_for = lambda m: {**holdout_share_for(baseline, uplift, m, alpha, power),  # noqa: E731
                               "share": holdout_share, "status": "parameter"}
    else:
        share_for = lambda m: holdout_share_for(baseline, uplift, m, alpha, power)  # noqa: E731
    h = share_for(n)
    for _i in range(20):  # the members a budget pays for grow with the holdout share
        m = n if sends is None else min(n, int(math.floor(sends / (1 - h["share"]) + 1e-9)))
        nxt = share_for(m)
        if nxt["share"] == h["share"]:
            break
        h = nxt
    capped = cap_by_budget(eligible, h["share"], sends)
    key = (f"plan.members:{aud.key}:{when:%Y%m%d%H%M}:{exclude_running}:{frequency_cap_days}:"
           f"{exclude_opt_out}:{h['share']}:{sends}:{seed}")
    assigned = ds.keep(key, lambda: assign_holdout(capped, h["share"], seed))
    strata = _strata_counts(assigned, h["share"])
    kept = int(strata.members.sum())
    rules = pd.concat([rules, pd.DataFrame([{
        "rule": "budget", "label": RULES["budget"],
        "setting": (f"{budget:,.0f} 元" if budget is not None else "不设上限")
        + ("" if sends is not None or budget is None else " (单位成本未知，未截断)"),
        "applied": sends is not None, "excluded": n - kept, "remaining": kept}])], ignore_index=True)
    if kept == 0:
        raise NotAvailable("运营规则和预算之后至少留下一个人",
                           f"{aud.label}中的 {aud.size} 人都被运营规则或预算排除了",
                           "放宽频次上限 (frequency_cap_days)、换一个开始日期 (plan_start) 或提高预算 (plan_budget)")
    n_t, n_c = int(strata.treatment.sum()), int(strata.control.sum())
    holdout = {**h, "treatment": n_t, "control": n_c, "eligible": n, "members": kept,
               "mde": stats.mde(n_t, n_c, baseline, alpha, power) if not math.isnan(baseline)
               else float("nan")}
    cid = _campaign_id(ds, when, aud.slug)
    excluded = [RULES[r.rule] for r in rules.itertuples() if r.applied and r.rule != "budget"]
    rule_text = (f"{aud.rule}；排除{'、'.join(excluded)}的用户" if excluded else aud.rule)
    rule_text += (f"；按{aud.stratum_name}分层随机留出 {h['share']:.0%} 作对照组（随机种子 {seed}）；"
                  f"{aud.order_rule}" + (f"，预算 {budget:,.0f} 元" if sends is not None else ""))
    row = {"campaign_id": cid, "name": aud.name, "channel": channel,
           "start_at": when, "end_at": when + dt.timedelta(days=window), "goal": goal,
           "window_days": window, "cost_per_send": send, "cost_per_reward": reward,
           "target_rule": rule_text}
    members = assigned.select(campaign_id=ibis.literal(cid), user_id=assigned.user_id,
                              group=assigned.group).order_by("user_id")
    return NextCampaign(audience=aud, campaign=row, basis=basis, rules=rules, holdout=holdout,
                        members=members, strata=strata, seed=seed, budget=budget, unit_cost=unit,
                        notes=tuple(notes), opt_out_known=opt_out_recorded(ds))


def strata_book_table(nc: NextCampaign) -> pd.DataFrame:
    """plan_package_strata.csv: the package per stratum as the book shows it.

    Members, holdout and its share per stratum, without the treatment count: with the members
    shown, a treatment count would give back a holdout too small to publish.

    Parameters
    ----------
    nc : NextCampaign
        :func:`next_campaign`.

    Returns
    -------
    pandas.DataFrame
        Columns stratum, members, control, holdout_share, planned_share; largest first.
    """
    return nc.strata[["stratum", "members", "control", "holdout_share", "planned_share"]].copy()


def _strata_counts(assigned: ibis.Table, share: float) -> pd.DataFrame:
    t = assigned.group_by("stratum").aggregate(
        members=_.count(), treatment=(_.group == "treatment").sum(),
        control=(_.group == "control").sum()).to_pandas()
    for col in ("members", "treatment", "control"):
        t[col] = t[col].fillna(0).astype("int64")
    t["holdout_share"] = (t.control / t.members).astype(float)
    t["planned_share"] = float(share)
    return t.sort_values(["members", "stratum"], ascending=[False, True]).reset_index(drop=True)


def require(nc: NextCampaign | Audience | None, what: str = "人群") -> None:
    """NotAvailable when an earlier section could not plan (its note says why).

    Parameters
    ----------
    nc : NextCampaign, Audience or None
        What the earlier section made; None when it showed the standard note.
    what : str, default "人群"
        What is missing, in words.

    Raises
    ------
    NotAvailable
        When `nc` is None.
    """
    if nc is None:
        raise NotAvailable(f"前面一节给出的{what}", f"前面一节没有给出{what}（原因见那一节的说明）",
                           "按那一节的补充方法补齐数据，或换一个人群 (plan_audience)")


# --------------------------------------------------------------------------------------------
# for the book


def rules_summary(nc: NextCampaign) -> dict[str, Any]:
    """The operator's rules for the chapter's prose (glued as ``plan_<key>``).

    Parameters
    ----------
    nc : NextCampaign
        :func:`next_campaign`.

    Returns
    -------
    dict
        before_rules (the audience), excluded_running, excluded_frequency, excluded_opt_out,
        excluded_budget, members (left), budget (NaN without one), budget_applied,
        frequency_on (a frequency cap applied), opt_out_recorded (a value in
        users.contact_opt_out).
    """
    by = nc.rules.set_index("rule")
    return {"before_rules": nc.audience.size,
            **{f"excluded_{r}": int(by.loc[r, "excluded"]) for r in RULES},
            "members": nc.size, "budget": float(nc.budget) if nc.budget is not None else float("nan"),
            "budget_applied": bool(by.loc["budget", "applied"]),
            "frequency_on": bool(by.loc["frequency", "applied"]),
            "opt_out_recorded": nc.opt_out_known}


def holdout_summary(nc: NextCampaign) -> dict[str, Any]:
    """The holdout and its power for the chapter's prose (glued as ``plan_<key>``).

    Parameters
    ----------
    nc : NextCampaign
        :func:`next_campaign`.

    Returns
    -------
    dict
        holdout_share, holdout_basis (a code of HOLDOUT_BASES), baseline, uplift (planned),
        mde, power, alpha, treatment, control, basis_campaign (label; "" without one),
        basis_chosen (parameter, audience, overlap or latest; "" without one),
        basis_ci_low, basis_ci_high, seed.
    """
    h, b = nc.holdout, nc.basis or {}
    nan = float("nan")
    return {"holdout_share": float(h["share"]), "holdout_basis": h["status"],
            "baseline": float(h["baseline"]), "uplift": float(h["uplift"]), "mde": float(h["mde"]),
            "power": float(h["power"]), "alpha": float(h["alpha"]), "treatment": nc.treatment,
            "control": nc.control, "basis_campaign": b.get("campaign", ""),
            "basis_chosen": b.get("chosen", ""), "basis_ci_low": b.get("ci_low", nan),
            "basis_ci_high": b.get("ci_high", nan), "seed": nc.seed}


def power_table(nc: NextCampaign, shares: Sequence[float] = (0.1, 0.15, 0.2, 0.3, 0.4, 0.5)
                ) -> pd.DataFrame:
    """How the package's minimum detectable uplift falls as the holdout grows (same members).

    Parameters
    ----------
    nc : NextCampaign
        :func:`next_campaign`.
    shares : sequence of float, default (0.1, 0.15, 0.2, 0.3, 0.4, 0.5)
        Holdout shares to compare; the plan's own is added.

    Returns
    -------
    pandas.DataFrame
        Columns holdout_share, treatment, control (the package's own on the plan's row,
        else the members split at the share), mde, detects (the planned uplift is at least the
        MDE; False without a baseline or uplift), chosen (the plan's share); by share.
    """
    n, h = nc.size, nc.holdout
    rows = []
    for share in sorted({*map(float, shares), float(h["share"])}):
        # the plan's own share: the package's counts (rounded stratum by stratum)
        c = nc.control if share == float(h["share"]) else held_out(n, share)
        m = (stats.mde(n - c, c, h["baseline"], h["alpha"], h["power"])
             if not math.isnan(h["baseline"]) else float("nan"))
        rows.append({"holdout_share": share, "treatment": n - c, "control": c, "mde": m,
                     "detects": bool(not math.isnan(m) and not math.isnan(h["uplift"]) and m <= h["uplift"]),
                     "chosen": share == float(h["share"])})
    return pd.DataFrame(rows)


def expected(nc: NextCampaign) -> dict[str, Any]:
    """The plan's expected result: incremental responders and cost.

    Treated members x planned uplift incremental responders; cost = sends x cost per send +
    treated members x (baseline + uplift) x cost per reward (the reward goes to every treated
    responder, as chapter 6 counts it).

    Parameters
    ----------
    nc : NextCampaign
        :func:`next_campaign`.

    Returns
    -------
    dict
        members, treatment, control, baseline, rate_t, uplift, mde, expected_responders
        (treated), expected_incremental, expected_cost, cost_send, cost_reward,
        cost_per_incremental (NaN unless positive), channel, goal (label), window_days,
        start (YYYY-MM-DD HH:MM).

    Raises
    ------
    NotAvailable
        Without a planned uplift (no last round of the kind and no expected_uplift).
    """
    h, c = nc.holdout, nc.campaign
    base, up = float(h["baseline"]), float(h["uplift"])
    if math.isnan(up):
        raise NotAvailable("计划的增量：上一轮同类活动（同一目标、有对照组）的实测增量，或参数 plan_expected_uplift",
                           "数据中没有同一目标、有对照组且窗口已结束的活动，也没有给出 plan_expected_uplift",
                           "用 plan_expected_uplift 写下计划的绝对增量（如 0.03 表示 3 个百分点）；"
                           "这一轮复盘之后，下一次就有了依据")
    rate_t = min(base + up, 1.0) if not math.isnan(base) else float("nan")
    n_t = nc.treatment
    send = n_t * c["cost_per_send"]
    reward = n_t * rate_t * c["cost_per_reward"] if not math.isnan(rate_t) else float("nan")
    inc = n_t * up
    cost = send + reward
    return {"members": nc.size, "treatment": n_t, "control": nc.control, "baseline": base,
            "rate_t": rate_t, "uplift": up, "mde": float(h["mde"]),
            "expected_responders": n_t * rate_t if not math.isnan(rate_t) else float("nan"),
            "expected_incremental": inc, "expected_cost": cost, "cost_send": send,
            "cost_reward": reward,
            "cost_per_incremental": cost / inc if inc > 0 and not math.isnan(cost) else float("nan"),
            "channel": channel_label(c["channel"]), "goal": goal_label(c["goal"]),
            "window_days": c["window_days"], "start": c["start_at"].strftime("%Y-%m-%d %H:%M")}


def expected_table(e: Mapping[str, Any]) -> pd.DataFrame:
    """plan_expected.csv: the plan's expected result as one row.

    Parameters
    ----------
    e : mapping
        :func:`expected`.

    Returns
    -------
    pandas.DataFrame
        Columns members, treatment, control, baseline, rate_t, uplift, mde,
        expected_incremental, expected_cost, cost_per_incremental.
    """
    cols = ["members", "treatment", "control", "baseline", "rate_t", "uplift", "mde",
            "expected_incremental", "expected_cost", "cost_per_incremental"]
    return pd.DataFrame([{k: e[k] for k in cols}])


def package_checks(nc: NextCampaign) -> dict[str, Any]:
    """The package's own sample-ratio check (`stats.srm`) and its strata against the plan.

    Parameters
    ----------
    nc : NextCampaign
        :func:`next_campaign`.

    Returns
    -------
    dict
        campaign_id, members, treatment, control, observed_holdout, planned_holdout,
        srm_p (chi-square p), srm_verdict (a code of `stats.SRM_VERDICTS`), strata, and
        max_stratum_gap (the largest |holdout - members x planned share| of a stratum, in
        members: the rounding leaves at most half a member).
    """
    s = stats.srm(nc.treatment, nc.control, nc.holdout["share"])
    gap = (nc.strata.control - nc.strata.planned_share * nc.strata.members).abs()
    return {"campaign_id": nc.campaign["campaign_id"], "members": nc.size,
            "treatment": nc.treatment, "control": nc.control,
            "observed_holdout": float(s["observed_holdout"]),
            "planned_holdout": float(s["planned_holdout"]), "srm_p": float(s["p_value"]),
            "srm_verdict": s["verdict"], "strata": len(nc.strata),
            "max_stratum_gap": float(gap.max()) if len(gap) else 0.0}


def package(nc: NextCampaign) -> tuple[pd.DataFrame, ibis.Table]:
    """The campaign package: the campaign row and the members, in the contract's columns.

    Parameters
    ----------
    nc : NextCampaign
        :func:`next_campaign`.

    Returns
    -------
    tuple of (pandas.DataFrame, ibis.Table)
        The campaign (one row, CAMPAIGN_COLUMNS; times as YYYY-MM-DD HH:MM:SS) and the
        members (campaign_id, user_id, group; ordered by user_id; not executed: export it,
        never show it).
    """
    row = dict(nc.campaign)
    for col in ("start_at", "end_at"):
        row[col] = row[col].strftime("%Y-%m-%d %H:%M:%S")
    return pd.DataFrame([row], columns=list(CAMPAIGN_COLUMNS)), nc.members


#: How the campaign card names the campaign row's columns.
CARD_LABELS: dict[str, str] = {
    "campaign_id": "活动编号", "name": "名称", "channel": "渠道", "start_at": "开始时间",
    "end_at": "窗口结束", "goal": "目标", "window_days": "响应窗口", "cost_per_send": "单条发送成本",
    "cost_per_reward": "单次奖励成本", "target_rule": "选人规则",
}


def campaign_card(campaign_row: pd.DataFrame) -> pd.DataFrame:
    """The campaign row as the book shows it: one line per column (item, value), as text.

    Parameters
    ----------
    campaign_row : pandas.DataFrame
        :func:`package`'s campaign (one row).

    Returns
    -------
    pandas.DataFrame
        Columns item (CARD_LABELS) and value; a missing cost reads 未记录.
    """
    row = campaign_row.iloc[0]
    out = []
    for col in CAMPAIGN_COLUMNS:
        value = row[col]
        if col in ("cost_per_send", "cost_per_reward"):
            text = "未记录" if value is None or (isinstance(value, float) and math.isnan(value)) \
                else f"{float(value):,.2f} 元"
        elif col == "goal":
            text = goal_label(str(value))
        elif col == "channel":
            text = channel_label(str(value))
        elif col == "window_days":
            text = f"{int(value)} 天"
        else:
            text = str(value)
        out.append({"item": CARD_LABELS[col], "value": text})
    return pd.DataFrame(out)


def write_package(chapter: Any, campaign_row: pd.DataFrame, members: ibis.Table) -> dict[str, Path]:
    """Write the package to the chapter's private exports/: campaign.csv and members.csv.

    Through the chapter's ``export`` (`growthloop.book.Chapter.export`: UTF-8 with BOM, text
    defused against spreadsheet formulas, the members streamed in batches), never the book.

    Parameters
    ----------
    chapter : growthloop.book.Chapter
        The open chapter (anything with its ``export(rows, name)``).
    campaign_row : pandas.DataFrame
        :func:`package`'s campaign.
    members : ibis.Table
        :func:`package`'s members.

    Returns
    -------
    dict of str to Path
        campaign and members: the files written.
    """
    return {"campaign": chapter.export(campaign_row, PACKAGE_FILES["campaign"]),
            "members": chapter.export(members, PACKAGE_FILES["members"])}


def package_files(slug: str, exports_dir: str = "exports") -> dict[str, str]:
    """The package's files as the book names them (relative to the run, no absolute path).

    Parameters
    ----------
    slug : str
        The chapter's stem.
    exports_dir : str, default "exports"
        The run's private folder.

    Returns
    -------
    dict of str to str
        campaign and members: "exports/<slug>/campaign.csv" and ".../members.csv".

    Examples
    --------
    >>> package_files("07_next_campaign")["members"]
    'exports/07_next_campaign/members.csv'
    """
    return {k: f"{exports_dir}/{slug}/{v}.csv" for k, v in PACKAGE_FILES.items()}

"""Closed-loop campaign review (营销闭环复盘): did the campaign work, at what cost, for whom, and
whom to target next.

A campaign is a row of `campaigns` (channel, start_at, goal, window_days, cost per send and per
reward) and its `campaign_members` (treatment or control = holdout, sent_at, delivered,
clicked_at). Everything per member is in the mart `campaign_outcomes`
(:mod:`growthloop.marts.outcomes`, kept once per campaign, goal, window and pre_days); only
per-group, per-step or per-segment sums come back to pandas, where the statistics
(:mod:`growthloop.metrics.stats`) are done on them.

Rules
-----
* Response window: (window start, window start + window_days], where the window start is the
  member's `sent_at` and, for holdout members (no `sent_at`, see docs/design_notes.md), the
  campaign's `start_at`. Treated members are sent within minutes of start_at in a single-batch
  campaign, so both groups' windows have the same length and start within the send batch; the
  campaign card reports the largest send delay so a reader can judge the comparability.
* Goals: register / bind_card (the event in the window), first_investment (the user's first
  successful investment in the window), any_investment (any successful investment), amount
  (response = any investment; the main measure is the amount invested per member). Amount and
  revenue of successful investments in the window are measured for every goal.
* Effect = intention to treat: every treatment member against every holdout member, delivered
  or not (the delivery rate is part of what the campaign achieves).
* Costs: sends x cost_per_send + treatment responders x cost_per_reward (the reward is paid to
  every responder, including those who would have responded anyway: that is the real bill).
* Pre-campaign behaviour (balance checks, CUPED covariate) is measured over the `pre_days`
  before start_at; segments (layer by assets) are taken at start_at, never after the
  campaign, so the campaign cannot move a member between segments.

The questions, in the chapter's order: :func:`campaigns` / :func:`campaign` (the card),
:func:`campaign_funnel` / :func:`diagnose` / :func:`utm_funnel` (its own funnel),
:func:`effect` (against the holdout), `stats.srm` / :func:`balance` / :func:`power_check`
(checks), :func:`cuped`, :func:`segment_uplift` / :func:`segment_uplifts`, :func:`history`
and :func:`next_round` (each segment at its own uplift shrunk toward the overall one,
:func:`shrunk_uplift`). The numbers each question's prose quotes come from one summary per
question (:func:`card_summary`, :func:`funnel_summary`, :func:`effect_summary`,
:func:`checks_summary`, :func:`cuped_summary`, :func:`segment_uplifts_summary`,
:func:`history_summary`, :func:`next_round_summary`), a dict the chapter glues as
``review_<key>``.
Elsewhere: the A/B statistics in :mod:`growthloop.metrics.stats`, the two-model uplift model
and its Qini curve in :mod:`growthloop.metrics.uplift`, the next stage's goal worked back
through the channels in :mod:`growthloop.metrics.planning`.

Verdicts are codes (:data:`VERDICTS` for the effect, :data:`SEGMENT_VERDICTS` per segment,
:data:`POWER_WARNINGS` for the power check); the Chinese the book shows comes from those
mappings (:func:`verdict_label`, :func:`segment_verdict_label`), only for display.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import ibis
import pandas as pd
from ibis import _

from growthloop.engine import money_sum
from growthloop.errors import NotAvailable
from growthloop.marts.events import EventSelector, checked, event_names, selector
from growthloop.marts.identity import person_steps
from growthloop.marts.outcomes import INVESTMENT_GOALS, outcomes
from growthloop.marts.wide import user_wide
from growthloop.metrics import stats
from growthloop.metrics.funnel import BREAKDOWN_LABELS as FUNNEL_BREAKDOWN_LABELS
from growthloop.metrics.funnel import STEP_LABELS
from growthloop.metrics.profiling import DEFAULT_AUM_BOUNDS, layer_expr
from growthloop.staging.loader import DataError, Dataset

GOAL_LABELS: dict[str, str] = {
    "register": "注册",
    "bind_card": "绑卡",
    "first_investment": "首投",
    "any_investment": "投资",
    "amount": "投资金额",
}
CHANNEL_LABELS: dict[str, str] = {"sms": "短信", "push": "推送", "edm": "邮件", "wechat": "微信",
                                  "in_app": "App内"}
COVARIATES: tuple[str, ...] = ("pre_active_days", "pre_invest_count", "pre_invest_amount",
                               "tenure_days")
METRICS: tuple[str, ...] = ("response", "amount")
#: wide-table columns a segment breakdown may use, besides "layer" (AUM layer at start_at)
SEGMENT_COLUMNS: tuple[str, ...] = ("layer", "signup_channel", "age_band", "city_tier", "gender",
                                    "region", "device_os")
#: fewer members than this in either group of a cell: no verdict
MIN_CELL = 30
#: a response rate under this is flagged for retuning
LOW_RESPONSE = 0.01
#: a standardised mean difference beyond this marks an imbalanced pre-campaign measure
SMD_LIMIT = 0.1
GROUP_LABELS = {"treatment": "实验组", "control": "对照组"}
NO_HOLDOUT = "本活动没有对照组，无法估计增量"
NO_TREATMENT = "本活动的成员全部在对照组，没有人收到消息"

#: the verdicts of :func:`verdict` on the whole campaign (codes) and the sentence the book
#: shows for each
VERDICTS: dict[str, str] = {
    "positive": "实验组响应率显著高于对照组，活动带来了真实增量",
    "negative": "实验组响应率显著低于对照组，活动可能起了反作用",
    "not_significant": "实验组与对照组的差异不显著，现有样本不能证明活动有增量",
    "no_holdout": NO_HOLDOUT,
}
#: the verdicts of a segment in :func:`segment_uplift` (codes) and the label the book shows
SEGMENT_VERDICTS: dict[str, str] = {
    "positive": "正向显著",
    "negative": "负向显著",
    "not_significant": "不显著",
    "too_small": "样本不足",
}
#: the outcomes of :func:`power_check` (codes) and its warning ("" when the sample suffices)
POWER_WARNINGS: dict[str, str] = {
    "ok": "",
    "no_holdout": NO_HOLDOUT,
    "too_small": f"对照组或实验组不足 {MIN_CELL} 人，结论不可靠",
    "below_mde": "观察到的增量小于最小可检测增量，不显著不代表无效",
}


def _label(vocabulary: dict[str, str], code: str, name: str) -> str:
    if code not in vocabulary:
        raise ValueError(f"{name}: {code!r}; allowed: {list(vocabulary)}")
    return vocabulary[code]


def verdict_label(code: str) -> str:
    """The sentence the book shows for a :func:`verdict` code.

    Parameters
    ----------
    code : str
        A key of VERDICTS.

    Returns
    -------
    str
        Its sentence.

    Raises
    ------
    ValueError
        An unknown code.
    """
    return _label(VERDICTS, code, "code")


def segment_verdict_label(code: str) -> str:
    """The label the book shows for a segment verdict code.

    Parameters
    ----------
    code : str
        A key of SEGMENT_VERDICTS.

    Returns
    -------
    str
        Its label.

    Raises
    ------
    ValueError
        An unknown code.
    """
    return _label(SEGMENT_VERDICTS, code, "code")


def segment_verdict(n_t: int, n_c: int, uplift: float, p_holm: float, alpha: float = 0.05,
                    min_cell: int = MIN_CELL) -> str:
    """The verdict code of one segment.

    Parameters
    ----------
    n_t, n_c : int
        Members of the segment in treatment and in the holdout.
    uplift : float
        The segment's uplift.
    p_holm : float
        Its Holm-adjusted p-value (NaN when not tested).
    alpha : float, default 0.05
        The significance level.
    min_cell : int, default MIN_CELL
        The smallest group that gets a verdict.

    Returns
    -------
    str
        too_small when either group has fewer than `min_cell` members, positive / negative
        when Holm's p-value is under `alpha` (by the sign of the uplift), else
        not_significant (also when no test was possible).
    """
    if min(n_t, n_c) < min_cell:
        return "too_small"
    if not math.isnan(p_holm) and p_holm < alpha:
        return "positive" if uplift > 0 else "negative"
    return "not_significant"


# --------------------------------------------------------------------------------------------
# the campaign


def _count(n: int) -> str:
    """A count as written when no suppression applies (the card's default label)."""
    return f"{int(n):,}"


@dataclass(frozen=True)
class Campaign:
    """One campaign as reviewed: its card and the window and goal used.

    Made by :func:`campaign`. Unit costs are NaN when the campaigns table does not give them
    (neither cost_per_send nor cost_per_reward); when it gives one of the two, the other is 0
    and named in `cost_assumed`.
    """

    campaign_id: str
    name: str
    channel: str
    start_at: dt.datetime
    goal: str
    window_days: int
    cost_per_send: float
    cost_per_reward: float
    target_rule: str
    members: int
    treatment: int
    control: int
    max_send_delay_minutes: float
    window_complete: bool
    #: the goal as an event of the data (None for the investment goals): a role, an own event,
    #: with its property filter; `goal` is then its key
    goal_event: EventSelector | None = None
    #: the window is the chapter's default for the goal (the campaigns table gives none)
    window_default: bool = False
    #: unit costs the campaigns table leaves blank while giving the other one: counted as 0
    cost_assumed: tuple[str, ...] = ()

    @property
    def has_holdout(self) -> bool:
        """Both groups have members: an uplift can be estimated."""
        return self.control > 0 and self.treatment > 0

    @property
    def costs_known(self) -> bool:
        """The campaigns table gives the campaign's unit costs (at least one of the two)."""
        return not (math.isnan(self.cost_per_send) or math.isnan(self.cost_per_reward))

    @property
    def acquisition(self) -> bool:
        """A campaign to prospects: its goal is the sign-up."""
        return self.goal == "register"

    @property
    def goal_label(self) -> str:
        """The goal as the book shows it (GOAL_LABELS: first_investment -> 首投; an event of the
        data by its label, 浏览产品详情 (product_type=定期12月))."""
        if self.goal in GOAL_LABELS:
            return GOAL_LABELS[self.goal]
        return (self.goal_event or selector(self.goal)).label()

    @property
    def channel_label(self) -> str:
        """The channel as the book shows it (CHANNEL_LABELS: sms -> 短信; else the code)."""
        return CHANNEL_LABELS.get(self.channel, self.channel) or "未记录"

    def _unit_cost(self, field: str) -> str:
        value = getattr(self, field)
        if math.isnan(value):
            return "未记录"
        return f"{value:,.2f} 元" + ("（未填写，按 0 计）" if field in self.cost_assumed else "")

    def card(self, label=_count) -> pd.DataFrame:
        """The campaign card as a two-column table (item, value) for the book.

        Parameters
        ----------
        label : callable, default plain thousands
            How a count of people is written (the chapter's `cell_label`, so a small group
            reads "<10" here as in every table).

        Returns
        -------
        pandas.DataFrame
            Columns item, value (text).
        """
        rows = [
            ("活动", f"{self.campaign_id} {self.name}".strip()),
            ("渠道", self.channel_label),
            ("开始时间", self.start_at.strftime("%Y-%m-%d %H:%M")),
            ("目标", self.goal_label),
            ("响应窗口", f"{self.window_days} 天" + ("（活动表未填写，按目标取默认）" if self.window_default else "")),
            ("目标人群规则", self.target_rule or "未记录"),
            ("名单人数", label(self.members)),
            ("实验组 / 对照组", f"{label(self.treatment)} / {label(self.control)}"),
            ("对照组占比", f"{self.control / self.members:.1%}" if self.members else ""),
            ("单条发送成本", self._unit_cost("cost_per_send")),
            ("单次奖励成本", self._unit_cost("cost_per_reward")),
            ("最晚发送延迟", f"{self.max_send_delay_minutes:,.0f} 分钟"),
            ("窗口已结束", "是" if self.window_complete else "否，结果为截至分析日"),
        ]
        return pd.DataFrame(rows, columns=["item", "value"])


#: how to supply campaign data (the fix of every note about missing campaign tables)
CAMPAIGN_FIX = ("把活动记录导出为 campaigns（campaign_id、渠道、开始时间、目标、响应窗口、单条与奖励成本）和 "
                "campaign_members（campaign_id、user_id、group = treatment / control、sent_at）两张表放进"
                "数据目录；每次活动随机留出 10%–20% 的成员不发消息，作为对照组")
#: how to get a holdout (the fix of every note about a campaign without one)
HOLDOUT_FIX = ("下一次活动上线前随机留出 10%–20% 的名单不发消息（名单的 group 列写 control）；数据中已有对照组的活动"
               "可以用本章参数 campaign_id 复盘")


def _require(ds: Dataset) -> None:
    """NotAvailable unless the dataset has both campaign tables."""
    absent = [name for name in ("campaigns", "campaign_members") if not ds.has(name)]
    if absent:
        raise NotAvailable("活动表 campaigns 和活动名单 campaign_members（每次活动发给了谁、谁被留作对照组）",
                           f"数据中没有 {' 和 '.join(absent)} 表", CAMPAIGN_FIX)


def _num(value, default: float = 0.0) -> float:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return default
    return float(value)


def _text(value) -> str:
    """A text cell of the campaigns table; "" for a blank (None or NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def campaigns(ds: Dataset) -> pd.DataFrame:
    """Every campaign started before the end of the analysis date, with its member counts.

    Campaigns that start after the analysis date are left out (nothing after it is used).

    Parameters
    ----------
    ds : Dataset
        The dataset (needs campaigns and campaign_members).

    Returns
    -------
    pandas.DataFrame
        Columns campaign_id, name, channel, goal, window_days, start_at, cost_per_send,
        cost_per_reward (NaN where not given), target_rule, members, treatment, control,
        holdout_share; oldest first (ties by campaign_id).

    Raises
    ------
    NotAvailable
        Without the campaign tables, or without a campaign started by the analysis date.
    """
    _require(ds)
    return ds.memo("campaign_review.campaigns", lambda: _campaigns(ds))


def _campaigns(ds: Dataset) -> pd.DataFrame:
    c = ds.campaigns
    m = ds.campaign_members
    counts = m.group_by("campaign_id").aggregate(
        members=_.count(),
        treatment=(_.group == "treatment").sum(),
        control=(_.group == "control").sum(),
    ).rename(_cid="campaign_id")
    started = c.filter(c.start_at < ds.period_end)
    out = started.left_join(counts, started.campaign_id == counts._cid).select(
        "campaign_id", "name", "channel", "goal", "window_days", "start_at", "cost_per_send",
        "cost_per_reward", "target_rule", "members", "treatment", "control",
    ).order_by(["start_at", "campaign_id"]).to_pandas()
    if out.empty:
        later = int(c.count().to_pyarrow().as_py())
        raise NotAvailable("至少一次在分析日之前开始的活动",
                           f"campaigns 表中的 {later} 次活动都在分析日 {ds.analysis_date} 之后才开始",
                           "把分析日 analysis_date 设在活动开始之后，或补充更早的活动记录")
    for col in ("members", "treatment", "control"):
        out[col] = out[col].fillna(0).astype("int64")
    for col in ("cost_per_send", "cost_per_reward"):
        out[col] = out[col].astype(float)
    out["holdout_share"] = (out.control / out.members.where(out.members > 0)).astype(float)
    return out


#: how :func:`default_choice` picked the campaign (codes; the chapter's note words them)
DEFAULT_BASES: tuple[str, ...] = ("holdout", "members", "latest")


def default_choice(ds: Dataset) -> dict[str, str | int]:
    """The campaign the chapter reviews when no campaign_id is given, and why.

    The latest campaign (by start, then campaign_id) that has both a treatment and a holdout
    group; when none has, the latest with members; when none has members, the latest.

    Parameters
    ----------
    ds : Dataset
        The dataset.

    Returns
    -------
    dict
        campaign_id, basis (a code of DEFAULT_BASES: holdout, members or latest) and
        campaigns (how many started by the analysis date).

    Raises
    ------
    NotAvailable
        As :func:`campaigns`.
    """
    table = campaigns(ds)
    with_holdout = table[(table.control > 0) & (table.treatment > 0)]
    with_members = table[table.members > 0]
    for basis, pick in zip(DEFAULT_BASES, (with_holdout, with_members, table), strict=True):
        if not pick.empty:
            return {"campaign_id": str(pick.campaign_id.iloc[-1]), "basis": basis,
                    "campaigns": len(table)}
    raise AssertionError("campaigns() returns at least one campaign")  # pragma: no cover


def default_campaign(ds: Dataset) -> str:
    """The campaign_id of :func:`default_choice`.

    Parameters
    ----------
    ds : Dataset
        The dataset.

    Returns
    -------
    str
        The latest campaign with a holdout, else the latest with members, else the latest.

    Raises
    ------
    NotAvailable
        As :func:`campaigns`.
    """
    return str(default_choice(ds)["campaign_id"])


def campaign(ds: Dataset, campaign_id: str | None = None, window_days: int | None = None,
             goal=None) -> Campaign:
    """The campaign to review; window and goal default to the campaigns table's.

    Parameters
    ----------
    ds : Dataset
        The dataset.
    campaign_id : str or None, default None
        The campaign; None for :func:`default_campaign`.
    window_days : int or None, default None
        The response window in days; None for the campaigns table's (14 days for an
        investment goal and 7 for any other when the table gives none: `window_default`).
    goal : str, dict or None, default None
        first_investment, any_investment, amount or any event of the data (a role, an own
        event, ``{event, where}`` with a property filter); None for the campaigns table's.

    Returns
    -------
    Campaign
        The card. A campaign without members is returned too (the questions that need members
        say so).

    Raises
    ------
    ValueError
        An unknown campaign_id, a goal that is a milestone other than the investment goals,
        or a window that is not a positive whole number.
    NotAvailable
        Without the campaign tables or a campaign started by the analysis date, for a campaign
        that starts after it, or one without a goal.
    DataError
        A goal that is an event the data does not have.
    """
    key = f"campaign_review.campaign:{campaign_id}:{window_days}:{goal}"
    return ds.memo(key, lambda: _campaign(ds, campaign_id, window_days, goal))


def _campaign(ds: Dataset, campaign_id: str | None, window_days: int | None, goal) -> Campaign:
    table = campaigns(ds)
    if campaign_id is None:
        campaign_id = default_campaign(ds)
    known = table.campaign_id.tolist()
    if campaign_id not in known:
        every = ds.campaigns.campaign_id.to_pyarrow().to_pylist()
        if campaign_id in every:
            raise NotAvailable(f"活动 {campaign_id} 在分析日之前已经开始",
                               f"活动 {campaign_id} 在分析日 {ds.analysis_date} 之后才开始",
                               "把分析日 analysis_date 设在活动开始之后，或复盘另一次活动")
        raise ValueError(f"campaign_id: {campaign_id!r} is not in the campaigns table; "
                         f"allowed: {known}")
    row = table.set_index("campaign_id").loc[campaign_id]
    goal = goal or _text(row.goal)
    if not goal:
        raise NotAvailable("活动表 campaigns 中的活动目标 goal：响应按目标计算",
                           f"活动 {campaign_id} 在活动表中没有填写目标",
                           "在 campaigns 表的 goal 列填写目标（first_investment、bind_card 或数据中的任何事件），"
                           "或用本章参数 goal 指定")
    goal_event = None
    if goal not in INVESTMENT_GOALS:
        (goal_event,) = checked(ds, [goal], "goal")
        if goal_event.is_milestone:
            raise ValueError(f"goal: {goal_event.key!r}; an investment goal is one of "
                             f"{list(INVESTMENT_GOALS)}, else any event of the data")
        goal = goal_event.key
    window = window_days if window_days is not None else row.window_days
    window_default = window is None or pd.isna(window)
    if window_default:
        window = 14 if goal in INVESTMENT_GOALS else 7
    if int(window) != window or int(window) <= 0:
        # the chapter's parameter is response_days; a table's own window_days is checked by the
        # loader (set aside when not a positive number of days)
        raise ValueError(f"response_days (window_days): {window!r} for campaign {campaign_id}; "
                         "allowed: a positive whole number of days, or None for the campaign's own "
                         "window_days")
    window = int(window)
    start = pd.Timestamp(row.start_at).to_pydatetime()
    m = ds.campaign_members.filter(_.campaign_id == campaign_id)
    last_sent = m.sent_at.max().to_pyarrow().as_py()
    delay = max(0.0, (last_sent - start).total_seconds() / 60) if last_sent else 0.0
    end = ds.period_end
    complete = (last_sent or start) + dt.timedelta(days=window) < end and \
        start + dt.timedelta(days=window) < end
    send, reward = float(row.cost_per_send), float(row.cost_per_reward)
    assumed: tuple[str, ...] = ()
    if math.isnan(send) != math.isnan(reward):  # one given: the blank one is 0, and said so
        assumed = ("cost_per_send",) if math.isnan(send) else ("cost_per_reward",)
        send, reward = _num(send), _num(reward)
    return Campaign(
        campaign_id=str(campaign_id), name=_text(row["name"]), channel=_text(row.channel),
        start_at=start, goal=str(goal), window_days=window, goal_event=goal_event,
        cost_per_send=send, cost_per_reward=reward,
        target_rule=_text(row.target_rule) if "target_rule" in row else "",
        members=int(row.members), treatment=int(row.treatment), control=int(row.control),
        max_send_delay_minutes=float(delay), window_complete=bool(complete),
        window_default=bool(window_default), cost_assumed=assumed,
    )


def require_members(camp: Campaign) -> None:
    """NotAvailable for a campaign without members.

    Parameters
    ----------
    camp : Campaign
        The campaign reviewed.

    Raises
    ------
    NotAvailable
        When campaign_members has nobody for it.
    """
    if camp.members == 0:
        raise NotAvailable("活动名单 campaign_members：收到消息和被留作对照组的成员",
                           f"活动 {camp.campaign_id} 在 campaign_members 中没有成员",
                           "补充这次活动的名单，或用本章参数 campaign_id 复盘另一次活动")


def require_treatment(camp: Campaign) -> None:
    """NotAvailable for a campaign nobody was sent (every member held out, or none).

    Parameters
    ----------
    camp : Campaign
        The campaign reviewed.

    Raises
    ------
    NotAvailable
        Without members, or without a treatment group.
    """
    require_members(camp)
    if camp.treatment == 0:
        raise NotAvailable("实验组：收到消息的成员（名单的 group 列为 treatment）",
                           f"活动 {camp.campaign_id} 的成员全部在对照组，没有人收到消息",
                           "检查名单的 group 列是否把实验组写成了别的值（应为 treatment），或用本章参数 "
                           "campaign_id 复盘另一次活动")


def require_holdout(camp: Campaign) -> None:
    """NotAvailable unless the campaign has a treatment and a holdout group.

    Parameters
    ----------
    camp : Campaign
        The campaign reviewed.

    Raises
    ------
    NotAvailable
        Without members, a treatment group or a holdout.
    """
    require_treatment(camp)
    if camp.control == 0:
        raise NotAvailable("对照组：随机留出、不发消息的成员，用来估计活动带来的增量",
                           f"活动 {camp.campaign_id} 的成员全部收到了消息，没有对照组，无法估计增量",
                           HOLDOUT_FIX)


#: a send later than this many minutes after start_at: the two groups' windows do not start
#: together (the card's finding says so)
SEND_DELAY_LIMIT = 60.0


def campaign_label(camp: Campaign) -> str:
    """How the book names a campaign: "<id>「<name>」", the id alone without a name.

    Parameters
    ----------
    camp : Campaign
        The campaign.

    Returns
    -------
    str
        The label.
    """
    return f"{camp.campaign_id}「{camp.name}」" if camp.name else camp.campaign_id


def card_summary(camp: Campaign, all_campaigns: pd.DataFrame) -> dict[str, int | float | str | bool]:
    """The campaign card for the chapter's prose (glued as ``review_<key>``).

    Parameters
    ----------
    camp
        The campaign reviewed (:func:`campaign`).
    all_campaigns
        :func:`campaigns`, every campaign in the data.

    Returns
    -------
    dict
        campaigns (how many in the data), campaign (:func:`campaign_label`), channel and goal
        (their labels), window (days), members, treatment, control, send_delay (the largest
        send delay after start_at, minutes), send_delay_limit (SEND_DELAY_LIMIT),
        window_complete, window_default (the window is the default for the goal) and
        costs_known.

    Examples
    --------
    A campaign C1「唤醒」 by SMS to 8 members (5 treated, 3 held out), among 3 campaigns in the
    data, gives campaigns 3, campaign "C1「唤醒」", channel "短信", members 8, treatment 5 and
    control 3.
    """
    return {
        "campaigns": len(all_campaigns),
        "campaign": campaign_label(camp),
        "channel": camp.channel_label,
        "goal": camp.goal_label,
        "window": camp.window_days,
        "members": camp.members,
        "treatment": camp.treatment,
        "control": camp.control,
        "send_delay": camp.max_send_delay_minutes,
        "send_delay_limit": SEND_DELAY_LIMIT,
        "window_complete": camp.window_complete,
        "window_default": camp.window_default,
        "costs_known": camp.costs_known,
    }


def campaign_list(all_campaigns: pd.DataFrame) -> pd.DataFrame:
    """campaign_list.csv: :func:`campaigns` with start_at written as "YYYY-MM-DD HH:MM".

    Parameters
    ----------
    all_campaigns
        :func:`campaigns`.

    Returns
    -------
    pandas.DataFrame
        The same columns and rows, start_at as text (minutes, no seconds).
    """
    return all_campaigns.assign(start_at=all_campaigns.start_at.dt.strftime("%Y-%m-%d %H:%M"))


# --------------------------------------------------------------------------------------------
# the members


def members(ds: Dataset, camp: Campaign, pre_days: int = 90) -> ibis.Table:
    """The campaign's members with their AUM layer at start_at.

    Parameters
    ----------
    ds : Dataset
        The dataset.
    camp : Campaign
        The campaign reviewed.
    pre_days : int, default 90
        The mart's pre-campaign days (its key).

    Returns
    -------
    ibis.Table
        The kept mart `campaign_outcomes` (one row per member, see
        :mod:`growthloop.marts.outcomes`) with `layer` (profiling's tiers, DEFAULT_AUM_BOUNDS,
        drawn from `aum_at_start`); never pulled whole.
    """
    mo = outcomes(ds, camp, pre_days)
    # layer_expr reads an `aum` column: give it the assets held at start_at
    held = mo.mutate(aum=mo.aum_at_start)
    return held.mutate(layer=layer_expr(held, "aum", DEFAULT_AUM_BOUNDS)).drop("aum")


# --------------------------------------------------------------------------------------------
# effect against the holdout


def _sums_by_group(mo: ibis.Table) -> dict[str, pd.Series]:
    t = mo.mutate(_sent=mo.sent_at.notnull().cast("int64"),
                  _deliv=mo.delivered.fill_null(False).cast("int64"))
    agg = t.group_by("group").aggregate(
        n=_.count(), responders=_.responded.sum(), sends=_._sent.sum(), delivered=_._deliv.sum(),
        # the sums of squares (yuan², for the variances) stay floats: up to 10^30 each, they
        # would not fit money_sum's exact type
        amount=money_sum(_.amount), amount2=(_.amount * _.amount).sum(),
        revenue=money_sum(_.revenue), revenue2=(_.revenue * _.revenue).sum(),
    ).order_by("group").to_pandas().set_index("group")
    empty = pd.Series(dict(n=0, responders=0, sends=0, delivered=0, amount=0.0, amount2=0.0,
                           revenue=0.0, revenue2=0.0))
    return {g: (agg.loc[g].fillna(0) if g in agg.index else empty) for g in ("treatment", "control")}


def effect(ds: Dataset, camp: Campaign, alpha: float = 0.05, pre_days: int = 90,
           min_group: int = 1) -> dict:
    """Treatment against holdout in the window: rates, uplift, amount, incremental business.

    Intention to treat: every treated member against every held-out member. The amount per
    member is compared with Welch's t (the mean is what turns into incremental yuan, and with
    hundreds of members per group its sampling distribution is close to normal even for
    heavy-tailed amounts), with Mann-Whitney's p-value beside it (robust to the tail, but it
    tests a shift of the distribution, not the mean). Cost = sends x cost per send + treatment
    responders x cost per reward; NaN with the ROI when the campaigns table gives no unit cost.

    Parameters
    ----------
    ds : Dataset
        The dataset.
    camp : Campaign
        The campaign reviewed.
    alpha : float, default 0.05
        Two-sided level of every interval.
    pre_days : int, default 90
        Days before start_at of pre-campaign behaviour (the mart's key).
    min_group : int, default 1
        The smallest group compared (:func:`require_groups`): the chapter passes its
        min_cell_size, so no group's rate is published for a handful of people.

    Returns
    -------
    dict
        Plain numbers: available (True), users and responders per group, sends, delivered,
        delivery_rate, rate_t, rate_c, uplift (+ ci_low, ci_high, p_value, relative with its
        interval), amount_t, amount_c, amount_diff (+ Welch interval and p, amount_p_mwu),
        revenue per member, inc_responders (+ inc_low, inc_high), inc_amount, inc_revenue, cost,
        cost_send, cost_reward, cost_per_send, cost_per_reward, cost_per_responder,
        cost_per_incremental (NaN unless the uplift is positive), roi, significant.

    Raises
    ------
    ValueError
        `alpha` not between 0 and 1.
    NotAvailable
        A campaign without members, a treatment group or a holdout, or with a group of fewer
        than `min_group` members.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha: {alpha!r}; allowed: a level between 0 and 1")
    require_groups(camp, min_group)
    return _effect(ds, camp, alpha, pre_days)


def _effect(ds: Dataset, camp: Campaign, alpha: float = 0.05, pre_days: int = 90) -> dict:
    """:func:`effect` without its checks: `available` False (and `reason`) without a holdout."""
    mo = outcomes(ds, camp, pre_days)
    g = _sums_by_group(mo)
    t, c = g["treatment"], g["control"]
    n_t, n_c = int(t.n), int(c.n)
    x_t, x_c = int(t.responders), int(c.responders)
    prop = stats.two_proportion(x_t, n_t, x_c, n_c, alpha)
    amt = stats.welch(n_t, float(t.amount), float(t.amount2), n_c, float(c.amount), float(c.amount2), alpha)
    rev = stats.welch(n_t, float(t.revenue), float(t.revenue2), n_c, float(c.revenue), float(c.revenue2), alpha)
    sends = int(t.sends)
    cost_send = sends * camp.cost_per_send
    cost_reward = x_t * camp.cost_per_reward
    cost = cost_send + cost_reward
    nan = float("nan")
    out: dict = dict(
        campaign_id=camp.campaign_id, available=camp.has_holdout and n_c > 0 and n_t > 0,
        reason=NO_TREATMENT if n_t == 0 else ("" if n_c > 0 else NO_HOLDOUT), users_t=n_t, users_c=n_c, responders_t=x_t,
        responders_c=x_c, sends=sends, delivered=int(t.delivered),
        delivery_rate=int(t.delivered) / sends if sends else nan,
        rate_t=prop["rate_t"], rate_c=prop["rate_c"], uplift=prop["uplift"],
        ci_low=prop["ci_low"], ci_high=prop["ci_high"], p_value=prop["p_value"],
        relative=prop["relative"], rel_ci_low=prop["rel_ci_low"], rel_ci_high=prop["rel_ci_high"],
        amount_t=amt["mean_t"], amount_c=amt["mean_c"], amount_diff=amt["diff"],
        amount_ci_low=amt["ci_low"], amount_ci_high=amt["ci_high"], amount_p_welch=amt["p_value"],
        amount_p_mwu=nan, revenue_t=rev["mean_t"], revenue_c=rev["mean_c"],
        revenue_diff=rev["diff"], cost=float(cost), cost_send=float(cost_send),
        cost_reward=float(cost_reward), cost_per_send=camp.cost_per_send,
        cost_per_reward=camp.cost_per_reward,
        cost_per_responder=cost / x_t if x_t else nan,
    )
    if not out["available"]:
        out.update(inc_responders=nan, inc_low=nan, inc_high=nan, inc_amount=nan,
                   inc_revenue=nan, cost_per_incremental=nan, roi=nan, significant=False)
        return out
    out["amount_p_mwu"] = stats.mann_whitney(mo, "amount")["p_value"]
    inc = prop["uplift"] * n_t
    inc_revenue = rev["diff"] * n_t if not math.isnan(rev["diff"]) else nan
    out.update(
        inc_responders=float(inc), inc_low=float(prop["ci_low"] * n_t),
        inc_high=float(prop["ci_high"] * n_t),
        inc_amount=float(amt["diff"] * n_t) if not math.isnan(amt["diff"]) else nan,
        inc_revenue=float(inc_revenue),
        cost_per_incremental=float(cost / inc) if inc > 0 else nan,
        roi=float((inc_revenue - cost) / cost) if cost > 0 and not math.isnan(inc_revenue) else nan,
        significant=bool(prop["ci_low"] > 0 or prop["ci_high"] < 0),
    )
    return out


def effect_table(camp: Campaign, eff: dict) -> pd.DataFrame:
    """campaign_effect.csv: one row per group.

    Parameters
    ----------
    camp : Campaign
        The campaign reviewed.
    eff : dict
        :func:`effect`.

    Returns
    -------
    pandas.DataFrame
        campaign_id, group, users, responders, rate, uplift, ci_low, ci_high, p_value; the
        uplift, its interval and p-value sit on the treatment row, the control row is the
        baseline.
    """
    nan = float("nan")
    rows = [
        dict(campaign_id=camp.campaign_id, group="treatment", users=eff["users_t"],
             responders=eff["responders_t"], rate=eff["rate_t"], uplift=eff["uplift"],
             ci_low=eff["ci_low"], ci_high=eff["ci_high"], p_value=eff["p_value"]),
        dict(campaign_id=camp.campaign_id, group="control", users=eff["users_c"],
             responders=eff["responders_c"], rate=eff["rate_c"], uplift=nan, ci_low=nan,
             ci_high=nan, p_value=nan),
    ]
    return pd.DataFrame(rows)


def business_table(eff: dict) -> pd.DataFrame:
    """campaign_business.csv: the effect in business terms.

    Parameters
    ----------
    eff : dict
        :func:`effect`.

    Returns
    -------
    pandas.DataFrame
        One row per measure: measure, value, ci_low, ci_high.
    """
    nan = float("nan")
    rows = [
        ("实验组响应率", eff["rate_t"], nan, nan),
        ("对照组响应率", eff["rate_c"], nan, nan),
        ("绝对增量", eff["uplift"], eff["ci_low"], eff["ci_high"]),
        ("相对增量", eff["relative"], eff["rel_ci_low"], eff["rel_ci_high"]),
        ("实验组人均投资额", eff["amount_t"], nan, nan),
        ("对照组人均投资额", eff["amount_c"], nan, nan),
        ("人均投资额差（Welch 区间）", eff["amount_diff"], eff["amount_ci_low"], eff["amount_ci_high"]),
        ("增量响应人数", eff["inc_responders"], eff["inc_low"], eff["inc_high"]),
        ("增量投资额", eff["inc_amount"], nan, nan),
        ("增量收入", eff["inc_revenue"], nan, nan),
        ("总成本", eff["cost"], nan, nan),
        ("发送成本", eff["cost_send"], nan, nan),
        ("奖励成本", eff["cost_reward"], nan, nan),
        ("每增量响应者成本", eff["cost_per_incremental"], nan, nan),
        ("增量 ROI", eff["roi"], nan, nan),
    ]
    return pd.DataFrame(rows, columns=["measure", "value", "ci_low", "ci_high"])


#: the numbers of :func:`effect` the effect section quotes, in the order it glues them
EFFECT_KEYS: tuple[str, ...] = (
    "rate_t", "rate_c", "uplift", "ci_low", "ci_high", "p_value", "relative", "rel_ci_low",
    "rel_ci_high", "amount_t", "amount_c", "amount_diff", "amount_ci_low", "amount_ci_high",
    "amount_p_welch", "amount_p_mwu", "inc_responders", "inc_low", "inc_high", "inc_amount",
    "inc_revenue")
#: the numbers of :func:`effect` the cost and ROI section quotes, in the order it glues them
COST_KEYS: tuple[str, ...] = ("cost", "cost_send", "cost_reward", "cost_per_incremental", "roi")


def effect_summary(eff: dict, camp: Campaign) -> dict[str, float | int | str | bool]:
    """The effect against the holdout for the chapter's prose (glued as ``review_<key>``).

    Parameters
    ----------
    eff
        :func:`effect`.
    camp
        The campaign reviewed.

    Returns
    -------
    dict
        verdict (the sentence of :func:`verdict`'s code), verdict_code, every number of
        EFFECT_KEYS as a float, users_t, users_c, responders_t, responders_c (ints) and
        window_open (the window has not ended by the analysis date).

    Examples
    --------
    60 of 200 treated against 20 of 200 held out: uplift 0.2, its interval above 0, so the
    verdict is VERDICTS["positive"] and rate_t 0.3, rate_c 0.1.
    """
    code = verdict(eff)
    out: dict[str, float | int | str | bool] = {"verdict": verdict_label(code)}
    out.update({key: float(eff[key]) for key in EFFECT_KEYS})
    out.update({key: int(eff[key]) for key in ("users_t", "users_c", "responders_t", "responders_c")})
    out.update(verdict_code=code, window_open=not camp.window_complete)
    return out


def roi_summary(eff: dict, camp: Campaign) -> dict[str, float | int | str]:
    """The campaign's cost and incremental ROI for the chapter's prose (``review_<key>``).

    Parameters
    ----------
    eff
        :func:`effect`.
    camp
        The campaign reviewed, for its unit costs.

    Returns
    -------
    dict
        Every number of COST_KEYS as a float (cost_per_incremental NaN unless the uplift is
        positive, roi NaN when the cost is 0), cost_per_send, cost_per_reward and cost_assumed
        (the unit costs the table left blank and that count as 0, joined with 、; "" when
        none).

    Raises
    ------
    NotAvailable
        When the campaigns table gives neither unit cost of the campaign.

    Examples
    --------
    5 sends at 0.1 yuan and 3 treated responders at 10 yuan: cost 30.5 (send 0.5, reward 30).
    """
    if not camp.costs_known:
        raise NotAvailable("活动表 campaigns 中的单条发送成本 cost_per_send 和单次奖励成本 cost_per_reward",
                           f"活动表没有填写活动 {camp.campaign_id} 的成本，响应和增量照常计算，但算不出总成本、"
                           "每个增量响应者的成本和增量 ROI",
                           "在 campaigns 表填写 cost_per_send（每条短信/推送的费用，免费渠道填 0）和 "
                           "cost_per_reward（每个响应者领取的奖励，没有奖励填 0）")
    out: dict[str, float | int | str] = {key: float(eff[key]) for key in COST_KEYS}
    out.update(cost_per_send=camp.cost_per_send, cost_per_reward=camp.cost_per_reward,
               cost_assumed="、".join(COST_FIELD_LABELS[f] for f in camp.cost_assumed))
    return out


#: how the book names the campaigns table's unit-cost columns
COST_FIELD_LABELS: dict[str, str] = {"cost_per_send": "单条发送成本", "cost_per_reward": "单次奖励成本"}


# --------------------------------------------------------------------------------------------
# checks before trusting it


def require_groups(camp: Campaign, min_group: int = 2) -> None:
    """NotAvailable unless both groups have at least `min_group` members.

    A comparison of the two groups is published only when each has that many: a variance needs
    two, and a group smaller than the book's smallest published count (min_cell_size) would let
    a reader tell what its few members did.

    Parameters
    ----------
    camp : Campaign
        The campaign reviewed.
    min_group : int, default 2
        The smallest group compared (the chapter passes its min_cell_size when larger).

    Raises
    ------
    NotAvailable
        Without a holdout (:func:`require_holdout`), or with a smaller group.
    """
    require_holdout(camp)
    if min(camp.treatment, camp.control) < min_group:
        small = "对照组" if camp.control < min_group else "实验组"
        raise NotAvailable(f"实验组和对照组各至少 {min_group} 人：两组的比较只在每组都有这么多人时才计算和公布"
                           "（统计上至少 2 人，且不少于本书的最小发布人数 min_cell_size）",
                           f"活动 {camp.campaign_id} 的{small}不足 {min_group} 人",
                           "扩大名单并随机留出 10%–20% 的对照组；数据中已有更大对照组的活动可以用本章参数 "
                           "campaign_id 复盘")


def balance(ds: Dataset, camp: Campaign, pre_days: int = 90,
            covariates: Sequence[str] = COVARIATES, min_group: int = 2) -> pd.DataFrame:
    """Pre-campaign behaviour by group: means, standardised mean difference, Welch p-value.

    SMD = (mean_t - mean_c) / sqrt((var_t + var_c) / 2); |SMD| > SMD_LIMIT is flagged. With a
    small holdout SMD is noisy, so the p-value says whether the gap is more than chance. A
    measure without any variance has SMD 0 when the means are equal, else NaN (flagged).

    Parameters
    ----------
    ds : Dataset
        The dataset.
    camp : Campaign
        The campaign reviewed.
    pre_days : int, default 90
        Days before start_at of the pre-campaign measures.
    covariates : sequence of str, default COVARIATES
        The measures compared.
    min_group : int, default 2
        The smallest group compared (:func:`require_groups`).

    Returns
    -------
    pandas.DataFrame
        One row per measure: covariate, mean_t, mean_c, smd, p_value, imbalanced.

    Raises
    ------
    ValueError
        A covariate not in COVARIATES.
    NotAvailable
        Without a holdout, or with a group of fewer than `min_group` (at least 2) members.
    """
    bad = [c for c in covariates if c not in COVARIATES]
    if bad:
        raise ValueError(f"covariates: {bad} not allowed; allowed: {list(COVARIATES)}")
    require_groups(camp, max(2, min_group))
    mo = outcomes(ds, camp, pre_days)
    aggs = {}
    for c in covariates:
        v = mo[c].cast("float64")
        aggs[f"{c}__s"] = v.sum()
        aggs[f"{c}__ss"] = (v * v).sum()
    agg = mo.group_by("group").aggregate(n=_.count(), **aggs).order_by("group").to_pandas()
    agg = agg.set_index("group")
    rows = []
    for c in covariates:
        t, k = agg.loc["treatment"], agg.loc["control"]
        w = stats.welch(int(t.n), float(t[f"{c}__s"]), float(t[f"{c}__ss"]), int(k.n),
                        float(k[f"{c}__s"]), float(k[f"{c}__ss"]))
        vt = stats._var(t.n, t[f"{c}__s"], t[f"{c}__ss"])
        vc = stats._var(k.n, k[f"{c}__s"], k[f"{c}__ss"])
        sd = math.sqrt((vt + vc) / 2)
        gap = w["mean_t"] - w["mean_c"]
        smd = gap / sd if sd > 0 else (0.0 if gap == 0 else float("nan"))
        rows.append(dict(covariate=c, mean_t=float(w["mean_t"]), mean_c=float(w["mean_c"]),
                         smd=float(smd), p_value=float(w["p_value"]),
                         imbalanced=bool(math.isnan(smd) or abs(smd) > SMD_LIMIT)))
    return pd.DataFrame(rows)


def power_check(eff: dict, alpha: float = 0.05, power: float = 0.8) -> dict:
    """Minimum detectable uplift for these group sizes and the sample the observed uplift needs.

    Parameters
    ----------
    eff : dict
        :func:`effect` (or its numbers: users, responders, rate_c, uplift).
    alpha : float, default 0.05
        The significance level.
    power : float, default 0.8
        The chance of detecting an uplift of the minimum detectable size.

    Returns
    -------
    dict
        baseline, mde, mde_relative, needed_treatment, needed_control, status (a code of
        POWER_WARNINGS: no_holdout, too_small (a group under MIN_CELL members), below_mde (an
        observed uplift smaller than the minimum detectable one) or ok), warning (its
        sentence; "" when ok), alpha and power.
    """
    n_t, n_c = eff["users_t"], eff["users_c"]
    base = eff["rate_c"] if n_c and 0 < eff["rate_c"] < 1 else (
        (eff["responders_t"] + eff["responders_c"]) / (n_t + n_c) if n_t + n_c else float("nan"))
    m = stats.mde(n_t, n_c, base, alpha, power) if n_c else float("nan")
    need = stats.needed_per_group(eff["uplift"], base, n_c / n_t if n_t else 0.0, alpha, power)
    status = "ok"
    if n_c == 0:
        status = "no_holdout"
    elif min(n_t, n_c) < MIN_CELL:
        status = "too_small"
    elif not math.isnan(m) and abs(eff["uplift"]) < m:
        status = "below_mde"
    return dict(baseline=float(base), mde=float(m),
                mde_relative=float(m / base) if base and not math.isnan(m) else float("nan"),
                needed_treatment=float(need),
                needed_control=float(need * n_c / n_t) if n_t and not math.isnan(need) else float("nan"),
                status=status, warning=POWER_WARNINGS[status], alpha=alpha, power=power)


def checks_table(s: dict, p: dict, label=_count) -> pd.DataFrame:
    """The trust checks as rows for the book.

    Parameters
    ----------
    s : dict
        `stats.srm` of the two groups' sizes.
    p : dict
        :func:`power_check`.
    label : callable, default plain thousands
        How a count of people is written (the chapter's `cell_label`).

    Returns
    -------
    pandas.DataFrame
        Columns check, value, verdict (the labels of the codes), as text.
    """
    rows = [
        ("实验组 / 对照组人数", f"{label(s['treatment'])} / {label(s['control'])}", ""),
        ("计划对照组比例", "" if math.isnan(s["planned_holdout"]) else f"{s['planned_holdout']:.1%}", ""),
        ("实际对照组比例", "" if math.isnan(s["observed_holdout"]) else f"{s['observed_holdout']:.1%}", ""),
        ("样本比例卡方检验 p 值", "" if math.isnan(s["p_value"]) else "<0.001" if s["p_value"] < 0.001 else f"{s['p_value']:.3f}", stats.srm_label(s["verdict"])),
        (f"最小可检测增量（{p['power']:.0%} 检验力）", "" if math.isnan(p["mde"]) else f"{p['mde']:.1%}", "样本量足够" if p["status"] == "ok" else POWER_WARNINGS[p["status"]]),
        ("检出当前增量所需实验组人数", "" if math.isnan(p["needed_treatment"]) else f"{p['needed_treatment']:,.0f}", ""),
    ]
    return pd.DataFrame(rows, columns=["check", "value", "verdict"])


#: what the book says when the power check passes (status ok)
POWER_OK = "样本量足以检出当前大小的增量"


def checks_summary(srm: dict, power: dict, bal: pd.DataFrame,
                   p_level: float = 0.05) -> dict[str, float | int | str]:
    """The trust checks for the chapter's prose (glued as ``review_<key>``).

    Parameters
    ----------
    srm
        `stats.srm` of the two groups' sizes.
    power
        :func:`power_check`.
    bal
        :func:`balance`.
    p_level
        A pre-campaign measure whose Welch p-value is under this counts in balance_sig.

    Returns
    -------
    dict
        srm_p, srm_verdict (the sentence of its code), observed_holdout, planned_holdout,
        mde, needed (treatment members the observed uplift needs), power_warning (POWER_OK
        when the status is ok, else its warning), imbalanced (measures with |SMD| over
        SMD_LIMIT), balance_sig (measures with p under `p_level`), max_smd (the largest
        |SMD|; NaN when no measure has one), srm_code and power_status (the codes), smd_limit
        and p_level.

    Examples
    --------
    SMDs 0.05, -0.15 and 0.12 with p-values 0.6, 0.01 and 0.2: imbalanced 2 (|-0.15| and
    0.12 are over 0.1), balance_sig 1 (0.01), max_smd 0.15.
    """
    return {
        "srm_p": float(srm["p_value"]),
        "srm_verdict": stats.srm_label(srm["verdict"]),
        "observed_holdout": float(srm["observed_holdout"]),
        "planned_holdout": float(srm["planned_holdout"]),
        "mde": float(power["mde"]),
        "needed": float(power["needed_treatment"]),
        "power_warning": POWER_OK if power["status"] == "ok" else power["warning"],
        "imbalanced": int(bal.imbalanced.sum()),
        "balance_sig": int((bal.p_value < p_level).sum()),
        "max_smd": float(bal.smd.abs().max()),
        "srm_code": str(srm["verdict"]),
        "power_status": str(power["status"]),
        "smd_limit": SMD_LIMIT,
        "p_level": float(p_level),
    }


def cuped(ds: Dataset, camp: Campaign, metric: str = "response",
          covariate: str = "pre_active_days", pre_days: int = 90,
          alpha: float = 0.05, min_group: int = 2) -> pd.DataFrame:
    """The plain and the CUPED estimate of the uplift (response rate or amount per member).

    Only per-group sums of y, x, y², x², xy and n leave the engine (see `stats.cuped_from_sums`).

    Parameters
    ----------
    ds : Dataset
        The dataset.
    camp : Campaign
        The campaign reviewed.
    metric : {"response", "amount"}, default "response"
        The outcome: responded (0/1) or the amount invested in the window.
    covariate : str, default "pre_active_days"
        One of COVARIATES, measured over the `pre_days` before start_at.
    pre_days : int, default 90
        Days before start_at of pre-campaign behaviour.
    alpha : float, default 0.05
        Two-sided level of the intervals.
    min_group : int, default 2
        The smallest group compared (:func:`require_groups`).

    Returns
    -------
    pandas.DataFrame
        Rows plain and cuped: method, uplift, se, ci_low, ci_high, p_value, theta,
        variance_reduction.

    Raises
    ------
    ValueError
        An unknown metric or covariate.
    NotAvailable
        Without a holdout, with a group of fewer than `min_group` (at least 2) members, or when
        every member has the same outcome (nobody responded, say).
    """
    if metric not in METRICS:
        raise ValueError(f"metric: {metric!r}; allowed: {list(METRICS)}")
    if covariate not in COVARIATES:
        raise ValueError(f"covariate: {covariate!r}; allowed: {list(COVARIATES)}")
    require_groups(camp, max(2, min_group))
    cols = ["method", "uplift", "se", "ci_low", "ci_high", "p_value", "theta", "variance_reduction"]
    mo = outcomes(ds, camp, pre_days)
    sums = stats.group_sums(mo, "responded" if metric == "response" else "amount", covariate)
    tot = sums[["n", "sy", "syy"]].sum()
    if tot.syy - tot.sy * tot.sy / tot.n <= 0:  # every member the same outcome: nothing to reduce
        what = "响应" if metric == "response" else "投资金额"
        raise NotAvailable(f"成员之间有差异的结果（有人{what}、有人没有）：CUPED 缩减的是结果的方差",
                           f"活动 {camp.campaign_id} 窗口内所有成员的{what}都一样（多为没有人达成目标）",
                           "等响应窗口结束、有了响应者再看；或检查活动目标 goal 是否写对")
    return stats.cuped_from_sums(sums, alpha)[cols]


#: how the book names the two estimates of :func:`cuped` (its method codes)
ESTIMATE_LABELS: dict[str, str] = {"plain": "普通估计", "cuped": "CUPED"}


def cuped_summary(cup: pd.DataFrame, covariate: str) -> dict[str, float | str]:
    """The CUPED comparison for the chapter's prose (glued as ``review_<key>``).

    Parameters
    ----------
    cup
        :func:`cuped` (rows plain and cuped; empty without a holdout).
    covariate
        The covariate it used.

    Returns
    -------
    dict
        cuped_uplift, cuped_low, cuped_high (the CUPED estimate and its interval), plain_low,
        plain_high (the plain estimate's Wald interval), cuped_reduction (variance reduction),
        cuped_theta, all NaN when `cup` is empty, and covariate.

    Examples
    --------
    A plain row with interval -0.01 to 0.05 and a cuped row of uplift 0.02 (0.0 to 0.04,
    theta 0.3, reduction 0.25) give cuped_uplift 0.02, plain_low -0.01, cuped_theta 0.3.
    """
    nan = float("nan")
    rows = cup.set_index("method") if len(cup) else None

    def get(method: str, column: str) -> float:
        return float(rows.loc[method, column]) if rows is not None else nan

    return {
        "cuped_uplift": get("cuped", "uplift"),
        "cuped_low": get("cuped", "ci_low"),
        "cuped_high": get("cuped", "ci_high"),
        "plain_low": get("plain", "ci_low"),
        "plain_high": get("plain", "ci_high"),
        "cuped_reduction": get("cuped", "variance_reduction"),
        "cuped_theta": get("cuped", "theta"),
        "covariate": covariate,
    }


# --------------------------------------------------------------------------------------------
# the campaign's own funnel

FUNNEL_STEPS: tuple[tuple[str, str], ...] = (
    ("sent", "发送"),
    ("delivered", "送达"),
    ("clicked", "点击短链"),
    ("opened", "安装/打开App"),
    ("registered", "注册"),
    ("bound_card", "绑卡"),
    ("goal", "达成目标"),
)
#: the batch of :func:`campaign_funnel` and :func:`utm_funnel` that sums the others
TOTAL_BATCH = "全部"
#: retuning rules: (rate, label: its name, then what it divides in full-width brackets,
#: threshold, what to retune)
DIAGNOSIS: tuple[tuple[str, str, float, str], ...] = (
    ("delivery_rate", "送达率（送达 ÷ 发送）", 0.90, "渠道与触点：号码/推送权限质量，换渠道或补发"),
    ("click_rate", "点击率（点击 ÷ 送达）", 0.02, "权益与时机：文案、优惠力度、发送时段"),
    ("click_to_goal", "点击后达成率（点击后达成目标 ÷ 点击）", 0.20, "触点：落地页与App内承接路径"),
    ("response_rate", "响应率（达成目标 ÷ 发送）", LOW_RESPONSE, "人群：目标规则是否选中了有需求的人"),
)


#: the steps of the campaign funnel a dataset may not record (left out when it does not)
TRACKED_STEPS: tuple[str, ...] = ("delivered", "clicked", "opened")


def _funnel_steps(camp: Campaign, untracked: Sequence[str] = ()) -> list[tuple[str, str]]:
    """The steps that say something for this campaign: register only for acquisition, no
    step that is the goal itself, and none the data does not record (`untracked`)."""
    steps = []
    for key, label in FUNNEL_STEPS:
        if key == "registered" and not camp.acquisition:
            continue  # existing users registered before the campaign
        if (key, camp.goal) in (("registered", "register"), ("bound_card", "bind_card")):
            continue
        if key in untracked:
            continue
        steps.append((key, camp.goal_label + " (目标)" if key == "goal" else label))
    return steps


def untracked_steps(ds: Dataset, camp: Campaign, pre_days: int = 90) -> tuple[str, ...]:
    """The steps of the campaign funnel this campaign's data does not record.

    delivered: no treated member has a delivered value; clicked: no treated member has a click
    (neither clicked_at on the member row nor a link_click tagged utm_campaign = campaign_id:
    no click at all cannot be told from clicks not tracked); opened: the data has no app_open
    or app_install event.

    Parameters
    ----------
    ds : Dataset
        The dataset.
    camp : Campaign
        The campaign reviewed.
    pre_days : int, default 90
        The mart's pre-campaign days (its key).

    Returns
    -------
    tuple of str
        Some of TRACKED_STEPS, in their order.
    """
    t = outcomes(ds, camp, pre_days)
    t = t.filter(t.group == "treatment")
    row = t.aggregate(delivered=t.delivered.notnull().cast("int64").sum(),
                      clicked=t.clicked.sum()).to_pyarrow().to_pylist()[0]
    names = event_names(ds)
    known = {"delivered": bool(row["delivered"]), "clicked": bool(row["clicked"]),
             "opened": bool({"app_open", "app_install"} & set(names))}
    return tuple(step for step in TRACKED_STEPS if not known[step])


def campaign_funnel(ds: Dataset, camp: Campaign, pre_days: int = 90) -> pd.DataFrame:
    """The treatment group's funnel per send batch (send date) and in total.

    `users` counts members who went down the path (each step also reached every step before
    it, all in their window; "opened" is an app_open/app_install in the window, or the
    response itself); `reached` counts everyone who reached the step in any way (a natural
    responder may never click). A step the data does not record (:func:`untracked_steps`) is
    left out rather than shown as nobody.

    Parameters
    ----------
    ds : Dataset
        The dataset.
    camp : Campaign
        The campaign reviewed.
    pre_days : int, default 90
        The mart's pre-campaign days (its key).

    Returns
    -------
    pandas.DataFrame
        Columns batch, step, label, users, reached, rate_from_previous, rate_from_sent, flag
        (response under LOW_RESPONSE on the goal row of a batch of MIN_CELL sends or more);
        per send date, then the total (TOTAL_BATCH, 全部) when there are several.

    Raises
    ------
    NotAvailable
        Without a treatment group, or when no treated member has a send time.
    """
    require_treatment(camp)
    mo = outcomes(ds, camp, pre_days)
    t = mo.filter(mo.group == "treatment")
    steps = _funnel_steps(camp, untracked_steps(ds, camp, pre_days))
    flags = {
        "sent": t.sent_at.notnull(),
        "delivered": t.sent_at.notnull() & t.delivered.fill_null(False),
        "clicked": t.clicked == 1,
        # a responder has used the app (or its H5) even without a logged app_open
        "opened": (t.opened == 1) | (t.responded == 1),
        "registered": t.registered == 1,
        "bound_card": t.bound_card == 1,
        "goal": t.responded == 1,
    }
    aggs, path = {}, None
    for key, _label in steps:
        path = flags[key] if path is None else path & flags[key]
        aggs[f"p_{key}"] = path.cast("int64").sum()
        aggs[f"r_{key}"] = (flags[key] & flags["sent"]).cast("int64").sum()
    t = t.mutate(_batch=ibis.coalesce(t.sent_at.date().cast("string"), ibis.literal("未发送")))
    per = t.group_by("_batch").aggregate(**aggs).order_by("_batch").to_pandas()
    if int(per.p_sent.sum()) == 0:
        raise NotAvailable("活动名单 campaign_members 中实验组的发送时间 sent_at：活动漏斗从发送算起",
                           f"活动 {camp.campaign_id} 的实验组成员都没有发送时间",
                           "在名单的 sent_at 填写每个人的发送时间（没有发出的留空）")
    total = per.drop(columns="_batch").sum().to_frame().T
    total.insert(0, "_batch", TOTAL_BATCH)
    if len(per) > 1:
        per = pd.concat([per, total], ignore_index=True)
    rows = []
    for _i, r in per.iterrows():
        prev = sent = None
        for key, label in steps:
            users = int(r[f"p_{key}"])
            sent = users if key == "sent" else sent
            rows.append(dict(batch=r._batch, step=key, label=label, users=users,
                             reached=int(r[f"r_{key}"]),
                             rate_from_previous=users / prev if prev else float("nan"),
                             rate_from_sent=users / sent if sent else float("nan"),
                             flag=""))
            prev = users
        resp = int(r["r_goal"]) / sent if sent else float("nan")
        low = resp < LOW_RESPONSE and sent >= MIN_CELL  # a handful of sends says nothing
        rows[-1]["flag"] = f"响应率低于 {LOW_RESPONSE:.0%}，需重新调整" if low else ""
    return pd.DataFrame(rows)


#: the denominator of each rule of DIAGNOSIS (the funnel step it divides by)
DIAGNOSIS_BASE: dict[str, str] = {"delivery_rate": "sent", "click_rate": "delivered",
                                  "click_to_goal": "clicked", "response_rate": "sent"}


def _diagnosis_rates(funnel_table: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """Each rule's (rate, denominator) from the total funnel (NaN for a missing step)."""
    tot = funnel_table[funnel_table.batch == funnel_table.batch.iloc[-1]].set_index("step")

    def get(step: str, col: str = "users") -> float:
        return float(tot[col].get(step, float("nan")))

    def ratio(a: float, b: float) -> float:
        return a / b if b and not math.isnan(b) else float("nan")

    parts = {
        "delivery_rate": (get("delivered"), get("sent")),
        "click_rate": (get("clicked"), get("delivered")),
        "click_to_goal": (get("goal"), get("clicked")),
        "response_rate": (get("goal", "reached"), get("sent")),
    }
    return {key: (ratio(a, b), b) for key, (a, b) in parts.items()}


def diagnose(funnel_table: pd.DataFrame, min_base: int = MIN_CELL) -> pd.DataFrame:
    """The campaign's weak points from its total funnel, with what to retune.

    A rate is called weak when it is under its threshold and rests on at least `min_base`
    people (a rate of 1 in 3 says nothing about the channel).

    Parameters
    ----------
    funnel_table : pandas.DataFrame
        :func:`campaign_funnel`.
    min_base : int, default MIN_CELL
        The smallest denominator a rate is judged on.

    Returns
    -------
    pandas.DataFrame
        One row per rule of DIAGNOSIS: check, rate (NaN for a step the data does not
        record), threshold, weak (bool), retune.
    """
    rates = _diagnosis_rates(funnel_table)
    rows = []
    for key, label, threshold, retune in DIAGNOSIS:
        rate, base = rates[key]
        judged = not math.isnan(rate) and base >= min_base
        rows.append(dict(check=label, rate=rate, threshold=threshold,
                         weak=bool(judged and rate < threshold), retune=retune))
    return pd.DataFrame(rows)


def check_name(check: str) -> str:
    """The name of a rule of DIAGNOSIS without what it divides (送达率 of 送达率（送达 ÷ 发送）).

    Parameters
    ----------
    check : str
        A label of DIAGNOSIS (the `check` column of :func:`diagnose`).

    Returns
    -------
    str
        The label up to its full-width bracket; the label itself when it has none.
    """
    return check.split("（")[0].strip()


#: what the book says of the response rate, by whether it is under LOW_RESPONSE
RESPONSE_LEVELS: dict[str, str] = {
    "low": f"低于 {LOW_RESPONSE:.0%}，需要重新调整人群、权益、时机、渠道或触点",
    "ok": f"不低于 {LOW_RESPONSE:.0%} 的警戒线",
}


def funnel_total(funnel_table: pd.DataFrame) -> pd.DataFrame:
    """The total rows of :func:`campaign_funnel`.

    Parameters
    ----------
    funnel_table
        :func:`campaign_funnel`: per batch, then the total (TOTAL_BATCH, 全部) when there are several.

    Returns
    -------
    pandas.DataFrame
        The rows of its last batch (the total, or the only batch of a single-batch campaign),
        indexed 0, 1, ... in step order.
    """
    last = funnel_table.batch.iloc[-1]
    return funnel_table[funnel_table.batch == last].reset_index(drop=True)


def funnel_summary(funnel_table: pd.DataFrame, diagnosis: pd.DataFrame,
                   min_base: int = MIN_CELL) -> dict[str, float | int | str]:
    """The campaign's funnel for the chapter's prose (glued as ``review_<key>``).

    Parameters
    ----------
    funnel_table
        :func:`campaign_funnel`.
    diagnosis
        :func:`diagnose` of it (one row per rule of DIAGNOSIS, in order).
    min_base
        The smallest denominator :func:`diagnose` judged a rate on.

    Returns
    -------
    dict
        sent; delivery_rate, click_rate, click_to_goal and response_rate (the diagnosis'
        rates); path_goal (responders down the path), reached_goal (responders any way),
        off_path (the difference); weak (the rates under their threshold, by name, joined
        with 、; 无 when none), low_response (RESPONSE_LEVELS' sentence), response_low
        (the response rate is under LOW_RESPONSE), low_response_limit (LOW_RESPONSE) and
        untracked (the labels of the steps the data does not record, :func:`untracked_steps`,
        joined with 、; "" when none), unjudged (the rates that rest on fewer than `min_base`
        people and were not judged, joined with 、) and min_base.

    Examples
    --------
    Sent 5, delivered 4, clicked 2, goal on the path 1, reached any way 3: delivery_rate 0.8,
    click_rate 0.5, click_to_goal 0.5, response_rate 3 / 5 = 0.6, off_path 2.
    """
    tot = funnel_total(funnel_table).set_index("step")
    rates = _diagnosis_rates(funnel_table)
    rule = dict(zip((d[0] for d in DIAGNOSIS), diagnosis.itertuples(), strict=True))
    weak = diagnosis[diagnosis.weak].check.map(check_name)
    return {
        "sent": int(tot.users["sent"]),
        **{key: float(rule[key].rate) for key in
           ("delivery_rate", "click_rate", "click_to_goal", "response_rate")},
        "path_goal": int(tot.users["goal"]),
        "reached_goal": int(tot.reached["goal"]),
        "off_path": int(tot.reached["goal"] - tot.users["goal"]),
        "weak": "、".join(weak) or "无",
        "low_response": RESPONSE_LEVELS["low" if rule["response_rate"].weak else "ok"],
        "response_low": bool(rule["response_rate"].weak),
        "low_response_limit": LOW_RESPONSE,
        "untracked": "、".join(label for key, label in FUNNEL_STEPS
                              if key in TRACKED_STEPS and key not in tot.index),
        "unjudged": "、".join(check_name(check) for (key, check, _t, _r) in DIAGNOSIS
                             if not math.isnan(rates[key][0]) and rates[key][1] < min_base),
        "min_base": min_base,
    }


UTM_STEPS: tuple[str, ...] = ("touch", "app_install", "register", "bind_card", "first_investment")


def utm_funnel(ds: Dataset, camp: Campaign) -> pd.DataFrame:
    """The funnel of people reached through links tagged utm_campaign = campaign_id (for
    acquisition campaigns to prospects), per first-touch date and in total.

    A person (stitched identity, see growthloop.metrics.funnel) enters at their first ad_click or
    link_click tagged with the campaign in (start_at, start_at + window]; each later step counts
    when it happens at or after the previous one, within window_days of the entry.

    Parameters
    ----------
    ds : Dataset
        The dataset.
    camp : Campaign
        The campaign reviewed.

    Returns
    -------
    pandas.DataFrame
        Columns batch, step, label, people, rate_from_previous, rate_from_start; empty when
        nobody came through a tagged link.
    """
    st = person_steps(ds, ["ad_click", "link_click", "app_install", "register", "bind_card",
                           "first_investment"])
    st = st.mutate(utm_source=st.utm_campaign)  # the campaign tag identifies the touches
    start = camp.start_at
    w_end = start + dt.timedelta(days=camp.window_days)
    touch = st.filter(st.event_name.isin(["ad_click", "link_click"])
                      & (st.utm_source == camp.campaign_id)
                      & (st.event_time > start) & (st.event_time <= w_end))
    entry = touch.group_by(_pid="person_id").aggregate(_t0=_.event_time.min())
    later = st.filter(st.event_name.isin(list(UTM_STEPS[1:])))
    j = entry.left_join(later, entry._pid == later.person_id)
    deadline = j._t0 + ibis.interval(days=camp.window_days)
    ok = j.event_time.notnull() & (j.event_time <= deadline)
    firsts = {s: j.event_time.min(where=ok & (j.event_name == s)) for s in UTM_STEPS[1:]}
    per = j.group_by("_pid", "_t0").aggregate(**{f"t_{s}": v for s, v in firsts.items()})
    prev_t = per._t0
    reached = {}
    cond = ibis.literal(True)
    for s in UTM_STEPS[1:]:
        cond = cond & per[f"t_{s}"].notnull() & (per[f"t_{s}"] >= prev_t)
        reached[s] = cond.cast("int64")
        prev_t = per[f"t_{s}"]
    per = per.mutate(_batch=per._t0.date().cast("string"), **{f"r_{s}": v for s, v in reached.items()})
    agg = per.group_by("_batch").aggregate(
        r_touch=_.count(), **{f"r_{s}": per[f"r_{s}"].sum() for s in UTM_STEPS[1:]}
    ).order_by("_batch").to_pandas()
    cols = ["batch", "step", "label", "people", "rate_from_previous", "rate_from_start"]
    if agg.empty:
        return pd.DataFrame(columns=cols)
    total = agg.drop(columns="_batch").sum().to_frame().T
    total.insert(0, "_batch", TOTAL_BATCH)
    agg = pd.concat([agg, total], ignore_index=True) if len(agg) > 1 else total
    rows = []
    for _i, r in agg.iterrows():
        prev = first = None
        for s in UTM_STEPS:
            n = int(r[f"r_{s}"])
            first = n if s == "touch" else first
            rows.append(dict(batch=r._batch, step=s,
                             label="点击活动链接" if s == "touch" else STEP_LABELS.get(s, s),
                             people=n, rate_from_previous=n / prev if prev else float("nan"),
                             rate_from_start=n / first if first else float("nan")))
            prev = n
    return pd.DataFrame(rows, columns=cols)


# --------------------------------------------------------------------------------------------
# who answered


UNSEGMENTED = "未分群"


def _with_segment(ds: Dataset, mo: ibis.Table, by: str, segments: ibis.Table | None) -> ibis.Table:
    """The members with a `segment` column: layer at start_at, a wide-table column, or the
    segment of a (user_id, segment) table passed in (members it lacks are 未分群)."""
    if segments is not None:
        missing = {"user_id", "segment"} - set(segments.columns)
        if missing:
            raise ValueError(f"segments: needs columns user_id and segment, missing {sorted(missing)}")
        seg = segments.select(_suid=segments.user_id, _seg=segments.segment.cast("string"))
        j = mo.left_join(seg, mo.user_id == seg._suid)
        return j.mutate(segment=j._seg.fill_null(UNSEGMENTED)).drop("_suid", "_seg")
    if by not in SEGMENT_COLUMNS:
        raise ValueError(f"by: {by!r}; allowed: {list(SEGMENT_COLUMNS)} or pass segments")
    if by == "layer":
        return mo.mutate(segment=mo.layer)
    wide = user_wide(ds)
    w = wide.select(_wuid=wide.user_id, _seg=wide[by].cast("string"))
    j = mo.left_join(w, mo.user_id == w._wuid)
    return j.mutate(segment=j._seg.fill_null("未知")).drop("_wuid", "_seg")


def segment_uplift(ds: Dataset, camp: Campaign, by: str = "age_band",
                   segments: ibis.Table | None = None, alpha: float = 0.05,
                   min_cell: int = MIN_CELL, pre_days: int = 90) -> pd.DataFrame:
    """Uplift per segment with its Newcombe interval, a z test and Holm's correction.

    Segments whose treatment or holdout cell has fewer than `min_cell` members get no verdict
    (too_small) and take no part in the correction. Several segments tested at once will show
    a "significant" one by chance; the Holm-adjusted p-value (p_holm) is the one to act on.

    Parameters
    ----------
    ds : Dataset
        The dataset.
    camp : Campaign
        The campaign reviewed.
    by : str, default "age_band"
        One of SEGMENT_COLUMNS (layer: the AUM layer at start_at; the others from the wide
        table, 未知 where a member has no value); ignored when `segments` is given.
    segments : ibis.Table or None, default None
        A segmentation of the members' user ids (user_id, segment); members it lacks are
        未分群.
    alpha : float, default 0.05
        Level of the intervals and of the verdicts.
    min_cell : int, default MIN_CELL
        The smallest group of a segment that gets a verdict.
    pre_days : int, default 90
        The mart's pre-campaign days (its key).

    Returns
    -------
    pandas.DataFrame
        Columns segment, users_t, responders_t, users_c, responders_c, rate_t, rate_c, uplift,
        ci_low, ci_high, p_value, p_holm, verdict (a code of SEGMENT_VERDICTS, see
        :func:`segment_verdict`; :func:`segment_verdict_label` gives what the book shows), share
        (of members); by segment.

    Raises
    ------
    ValueError
        An unknown breakdown, or `segments` without user_id and segment.
    NotAvailable
        Without a holdout.
    """
    require_holdout(camp)
    if segments is not None:
        return _segment_uplift(ds, camp, by, segments, alpha, min_cell, pre_days)
    key = f"campaign_review.segment_uplift:{camp}:{by}:{alpha}:{min_cell}:{pre_days}"
    return ds.memo(key, lambda: _segment_uplift(ds, camp, by, None, alpha, min_cell, pre_days)).copy()


def _segment_uplift(ds: Dataset, camp: Campaign, by: str, segments: ibis.Table | None,
                    alpha: float, min_cell: int, pre_days: int) -> pd.DataFrame:
    from statsmodels.stats.multitest import multipletests

    mo = _with_segment(ds, members(ds, camp, pre_days), by, segments)
    agg = mo.group_by("segment").aggregate(
        users_t=(_.group == "treatment").sum(), responders_t=_.responded.sum(where=_.group == "treatment"),
        users_c=(_.group == "control").sum(), responders_c=_.responded.sum(where=_.group == "control"),
    ).order_by("segment").to_pandas()
    counts = ["users_t", "responders_t", "users_c", "responders_c"]
    agg[counts] = agg[counts].astype("float64").fillna(0.0).astype("int64")
    rows = []
    for _i, r in agg.iterrows():
        n_t, x_t, n_c, x_c = (int(r.users_t), int(r.responders_t), int(r.users_c), int(r.responders_c))
        p = stats.two_proportion(x_t, n_t, x_c, n_c, alpha)
        rows.append(dict(segment=r.segment, users_t=n_t, responders_t=x_t, users_c=n_c,
                         responders_c=x_c, rate_t=p["rate_t"], rate_c=p["rate_c"],
                         uplift=p["uplift"], ci_low=p["ci_low"], ci_high=p["ci_high"],
                         p_value=p["p_value"], p_holm=float("nan")))
    out = pd.DataFrame(rows, columns=["segment", "users_t", "responders_t", "users_c",
                                      "responders_c", "rate_t", "rate_c", "uplift", "ci_low",
                                      "ci_high", "p_value", "p_holm"])
    big = out[["users_t", "users_c"]].min(axis=1) >= min_cell
    tested = out[big & out.p_value.notna()].index
    if len(tested):
        out.loc[tested, "p_holm"] = multipletests(out.loc[tested, "p_value"], alpha=alpha,
                                                  method="holm")[1]
    out["verdict"] = [segment_verdict(r.users_t, r.users_c, r.uplift, r.p_holm, alpha, min_cell)
                      for r in out.itertuples()]
    total = (out.users_t + out.users_c).sum()
    out["share"] = (out.users_t + out.users_c) / total if total else float("nan")
    return out


#: the breakdown name of the RFM segments in :func:`segment_uplifts`
RFM_BREAKDOWN = "rfm"
#: how the book names a breakdown of :func:`segment_uplifts` (the parameter's value stays the
#: analyst's): chapter 2's names for the wide-table columns, and the two of this chapter
BREAKDOWN_LABELS: dict[str, str] = {
    "layer": "资产分层",
    **{by: FUNNEL_BREAKDOWN_LABELS[by] for by in SEGMENT_COLUMNS if by in FUNNEL_BREAKDOWN_LABELS},
    RFM_BREAKDOWN: "RFM 分群",
}


def breakdown_label(by: str) -> str:
    """The breakdown as the book names it (BREAKDOWN_LABELS; an unknown one as given).

    Parameters
    ----------
    by : str
        A breakdown: one of SEGMENT_COLUMNS or RFM_BREAKDOWN.

    Returns
    -------
    str
        Its Chinese name.

    Examples
    --------
    >>> breakdown_label("age_band"), breakdown_label("layer"), breakdown_label("rfm")
    ('年龄段', '资产分层', 'RFM 分群')
    """
    return BREAKDOWN_LABELS.get(by, by)


@dataclass(frozen=True)
class SegmentUplifts:
    """:func:`segment_uplift` for several breakdowns, in order (the first is the one the next
    round is planned on), and the breakdowns left out because they do not split the members."""

    tables: dict[str, pd.DataFrame]
    #: breakdowns that put every member in one segment (a blank column, say): left out
    dropped: tuple[str, ...] = ()
    #: the smallest group of a segment that got a verdict
    min_cell: int = MIN_CELL

    @property
    def first(self) -> str:
        """The first breakdown's name."""
        return next(iter(self.tables))

    @property
    def first_table(self) -> pd.DataFrame:
        """The first breakdown's table."""
        return self.tables[self.first]

    def combined(self) -> pd.DataFrame:
        """Every breakdown's rows in one frame.

        Returns
        -------
        pandas.DataFrame
            :func:`segment_uplift`'s columns and `breakdown`, breakdowns in order; verdicts
            as codes.
        """
        return pd.concat([t.assign(breakdown=by) for by, t in self.tables.items()],
                         ignore_index=True)

    def book_table(self) -> pd.DataFrame:
        """segment_uplift.csv: the rows as the book shows them.

        Returns
        -------
        pandas.DataFrame
            :meth:`combined` with each verdict's label (SEGMENT_VERDICTS) for its code.
        """
        out = self.combined()
        return out.assign(verdict=out.verdict.map(segment_verdict_label))


def _rfm_segments(ds: Dataset, camp: Campaign) -> ibis.Table | None:
    """The RFM segment of each investor the day before start_at; None when the data has none."""
    from growthloop.metrics import rfm as rfm_metrics

    day = (camp.start_at - dt.timedelta(days=1)).date()
    try:
        return rfm_metrics.segments(ds, as_of=day).select("user_id", "segment")
    except NotAvailable:
        return None


def informative_breakdowns(ds: Dataset, camp: Campaign, breakdowns: Sequence[str],
                           alpha: float = 0.05, min_cell: int = MIN_CELL,
                           pre_days: int = 90) -> tuple[list[str], list[str]]:
    """Which breakdowns split this campaign's members into two segments or more.

    A column that is blank for everyone (no birth year, no device) puts every member in one
    segment (未知): its "breakdown" is the campaign itself and is left out.

    Parameters
    ----------
    ds, camp
        The dataset and the campaign reviewed.
    breakdowns : sequence of str
        Some of SEGMENT_COLUMNS.
    alpha, min_cell, pre_days
        As in :func:`segment_uplift`.

    Returns
    -------
    tuple of list of str
        (kept, dropped), each in the order given.

    Raises
    ------
    ValueError
        A breakdown not in SEGMENT_COLUMNS.
    NotAvailable
        Without a holdout.
    """
    kept, dropped = [], []
    for by in breakdowns:
        table = segment_uplift(ds, camp, by, alpha=alpha, min_cell=min_cell, pre_days=pre_days)
        (kept if len(table) > 1 else dropped).append(by)
    return kept, dropped


def segment_uplifts(ds: Dataset, camp: Campaign, breakdowns: str | Sequence[str],
                    rfm: bool = True, alpha: float = 0.05, min_cell: int = MIN_CELL,
                    pre_days: int = 90) -> SegmentUplifts:
    """Uplift per segment for each breakdown, and by RFM segment.

    Parameters
    ----------
    ds, camp
        The dataset and the campaign reviewed.
    breakdowns
        One breakdown or several, each of SEGMENT_COLUMNS (see :func:`segment_uplift`); those
        that put every member in one segment are left out (`SegmentUplifts.dropped`).
    rfm
        Also break down by RFM segment (`growthloop.metrics.rfm.segments`) as of the day
        before start_at, so the campaign cannot move a member between segments; it comes
        last, named RFM_BREAKDOWN (left out like the others when it does not split).
    alpha, min_cell, pre_days
        As in :func:`segment_uplift`.

    Returns
    -------
    SegmentUplifts
        The tables by breakdown, in the order given.

    Raises
    ------
    ValueError
        No breakdown, or one that is not in SEGMENT_COLUMNS.
    NotAvailable
        Without a holdout; when nobody responded; when no breakdown splits the members; when no
        segment of any breakdown has `min_cell` members in both groups.
    """
    names = [breakdowns] if isinstance(breakdowns, str) else list(breakdowns)
    if not names:
        raise ValueError(f"breakdowns: {breakdowns!r}; allowed: one or more of {list(SEGMENT_COLUMNS)}")
    kept, dropped = informative_breakdowns(ds, camp, names, alpha, min_cell, pre_days)
    responders = _sums_by_group(outcomes(ds, camp, pre_days))
    if not sum(int(g.responders) for g in responders.values()):
        raise NotAvailable("窗口内达成目标的成员：没有响应者，就没有哪个分群响应得更多",
                           f"活动 {camp.campaign_id} 的响应窗口内两组都没有人达成目标",
                           "等窗口结束、有了响应者再看；或检查活动目标 goal 是否写对")
    tables = {by: segment_uplift(ds, camp, by, alpha=alpha, min_cell=min_cell, pre_days=pre_days)
              for by in kept}
    if rfm:
        segs = _rfm_segments(ds, camp)
        table = (segment_uplift(ds, camp, segments=segs, alpha=alpha, min_cell=min_cell,
                                pre_days=pre_days) if segs is not None else None)
        if table is not None and len(table) > 1:
            tables[RFM_BREAKDOWN] = table
        else:
            dropped.append(RFM_BREAKDOWN)
    if not tables:
        raise NotAvailable("能把活动成员分成两个以上分群的字段（年龄、资产分层、注册渠道、地区、设备或 RFM 分群）",
                           f"{'、'.join(map(breakdown_label, dropped))}对本活动的所有成员都是同一个值（数据里这一列为空，或选人规则只选了其中一类人）",
                           "在 users 表补充 birth_year、gender、province / city、device_os 和注册渠道，"
                           "或在参数 segment_breakdowns 中换成数据里有的分群字段")
    if all((t.verdict == "too_small").all() for t in tables.values()):
        raise NotAvailable(f"至少一个实验组和对照组都不少于 {min_cell} 人的分群：更小的分群不下结论",
                           f"活动 {camp.campaign_id} 的每个分群都有一组不足 {min_cell} 人",
                           "扩大名单或提高对照组比例（10%–20%），让主要分群的对照组都有 "
                           f"{min_cell} 人以上；在此之前只看整体效果")
    return SegmentUplifts(tables, tuple(dropped), min_cell)


def segment_uplifts_summary(segs: SegmentUplifts) -> dict[str, int | float | str]:
    """The segments for the chapter's prose (glued as ``review_<key>``).

    Parameters
    ----------
    segs
        :func:`segment_uplifts`.

    Returns
    -------
    dict
        seg_breakdown (the first breakdown), seg_tested, seg_small, seg_best and
        seg_best_uplift (:func:`segment_summary` of the first breakdown), seg_positive
        (positive verdicts over every breakdown), seg_negative (negative ones), seg_cells
        (breakdown x segment rows), seg_dropped (the breakdowns left out, joined with 、; ""
        when none) and seg_min_cell.

    Examples
    --------
    age_band with verdicts positive, too_small, not_significant (uplifts 0.05, 0.3, 0.01) and
    rfm with positive, negative: seg_tested 2, seg_small 1, seg_best the 0.05 segment (the
    too_small one is not tested), seg_positive 2, seg_cells 5.
    """
    first = segment_summary(segs.first_table)
    everything = segs.combined()
    return {
        "seg_breakdown": segs.first,
        "seg_tested": first["tested"],
        "seg_small": first["too_small"],
        "seg_positive": int((everything.verdict == "positive").sum()),
        "seg_cells": len(everything),
        "seg_best": first["best"],
        "seg_best_uplift": first["best_uplift"],
        "seg_negative": int((everything.verdict == "negative").sum()),
        "seg_dropped": "、".join(segs.dropped),
        "seg_min_cell": segs.min_cell,
    }


# --------------------------------------------------------------------------------------------
# the rounds so far


def history(ds: Dataset, alpha: float = 0.05, pre_days: int = 90) -> pd.DataFrame:
    """Every campaign in the data on the same measures (its own goal and window).

    Parameters
    ----------
    ds : Dataset
        The dataset.
    alpha : float, default 0.05
        Level of the intervals.
    pre_days : int, default 90
        The mart's pre-campaign days (its key).

    Returns
    -------
    pandas.DataFrame
        One row per campaign started by the analysis date: campaign_id, name, channel, goal,
        window_days, start_date, users_t, users_c, rate_t, rate_c, uplift, ci_low, ci_high,
        p_value, inc_responders, cost, cost_per_incremental, roi (NaN where the campaign has
        no holdout or no unit costs) and note (why a number is missing; 窗口未结束 when the
        window is still open).

    Raises
    ------
    NotAvailable
        Without the campaign tables, or when no campaign has a treatment and a holdout group.
    """
    rows = []
    for _i, c in campaigns(ds).iterrows():
        base = dict(campaign_id=c.campaign_id, name=c["name"], channel=c.channel, goal=c.goal,
                    window_days=c.window_days,
                    start_date=pd.Timestamp(c.start_at).strftime("%Y-%m-%d"))
        if int(c.members) == 0:
            rows.append({**base, "note": "无名单"})
            continue
        try:
            camp = campaign(ds, c.campaign_id)
        except (NotAvailable, DataError) as exc:  # no goal, or a goal the data lacks
            rows.append({**base, "note": exc.missing if isinstance(exc, NotAvailable) else exc.rule})
            continue
        e = _effect(ds, camp, alpha, pre_days)
        if not camp.costs_known:
            e.update(cost=float("nan"), cost_per_incremental=float("nan"), roi=float("nan"))
        note = e["reason"] or ("" if camp.costs_known else "无成本") or (
            "" if camp.window_complete else "窗口未结束")
        rows.append({**base, **{k: e[k] for k in (
            "users_t", "users_c", "rate_t", "rate_c", "uplift", "ci_low", "ci_high", "p_value",
            "inc_responders", "cost", "cost_per_incremental", "roi")}, "note": note})
    cols = ["campaign_id", "name", "channel", "goal", "window_days", "start_date", "users_t",
            "users_c", "rate_t", "rate_c", "uplift", "ci_low", "ci_high", "p_value",
            "inc_responders", "cost", "cost_per_incremental", "roi", "note"]
    out = pd.DataFrame(rows, columns=cols)
    if out.uplift.isna().all():
        raise NotAvailable("至少一次有实验组和对照组的活动：历次活动按增量比较",
                           "数据中的活动都没有对照组（或名单为空），无法估计增量", HOLDOUT_FIX)
    return out


def history_summary(hist: pd.DataFrame) -> dict[str, int | float | str]:
    """The rounds so far for the chapter's prose (glued as ``review_<key>``).

    Parameters
    ----------
    hist
        :func:`history`.

    Returns
    -------
    dict
        hist_campaigns (rows), hist_compared (campaigns with an uplift) and among them:
        hist_significant (its interval above 0), hist_negative (below 0), hist_with_roi (an
        ROI), hist_positive_roi (ROI above 0), hist_best ("<id>「<name>」" of the highest ROI,
        ties by campaign_id; 无 when no campaign has an ROI) and hist_best_roi (NaN when none).

    Examples
    --------
    Three campaigns, C3 without a holdout (no uplift), C1 with ci_low 0.01 and ROI -0.2, C2
    with ci_low -0.01 and ROI 0.4: hist_campaigns 3, hist_significant 1, hist_positive_roi 1,
    hist_best C2 (0.4).
    """
    ok = hist.dropna(subset=["uplift"])
    priced = ok.dropna(subset=["roi"])
    best = priced.sort_values(["roi", "campaign_id"], ascending=[False, True]).head(1)
    name = _text(best.name.iloc[0]) if len(best) else ""
    return {
        "hist_campaigns": len(hist),
        "hist_significant": int((ok.ci_low > 0).sum()),
        "hist_positive_roi": int((ok.roi > 0).sum()),
        "hist_best": (f"{best.campaign_id.iloc[0]}「{name}」" if name else str(best.campaign_id.iloc[0]))
        if len(best) else "无",
        "hist_best_roi": float(best.roi.iloc[0]) if len(best) else float("nan"),
        "hist_compared": len(ok),
        "hist_negative": int((ok.ci_high < 0).sum()),
        "hist_with_roi": len(priced),
    }


# --------------------------------------------------------------------------------------------
# the next round

OFFERS: dict[str, str] = {
    "register": "注册礼包 + 新手加息券",
    "bind_card": "绑卡即领加息券 (绑卡后 24 小时内有效)",
    "first_investment": "首投红包 / 新手标",
    "any_investment": "满额返现券 (按上次投资额设门槛)",
    "amount": "阶梯加息券 (投资额越高返得越多)",
}
#: The offer of a goal that is an event of the platform's own.
DEFAULT_OFFER = "完成目标行为即领专属权益"


#: The plan's basis (codes) and the label its `basis` column shows.
PLAN_BASES: dict[str, str] = {
    "segment": "分群显著",
    "overall": "整体显著，按分群收缩",
}


def shrunk_uplift(seg_table: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Each segment's uplift shrunk toward the pooled uplift (empirical Bayes, random effects).

    A small segment's own uplift is mostly sampling noise; the uplift of all the members
    together is precise but the same for every segment. The random-effects model takes each
    segment's true uplift as drawn around the pooled one with a between-segment variance
    tau², and the segment's estimate as its true uplift plus sampling noise; the estimate
    below (the posterior mean) weighs the two by their precision, so a segment moves toward
    the pooled uplift the more the smaller it is (the wider its own interval) and the less
    the segments differ.

    * d_i = rate_t - rate_c of the segment (x_t / n_t - x_c / n_c), with the Agresti-Caffo
      sampling variance (Agresti and Caffo 2000: one success and one failure added to each
      group) p~ = (x + 1) / (n + 2) of each group and
      v_i = p~_t (1 - p~_t) / (n_t + 2) + p~_c (1 - p~_c) / (n_c + 2);
    * tau² by DerSimonian and Laird (method of moments, truncated at 0) over the k segments
      whose v_i is defined (both groups non-empty): with w0_i = 1 / v_i,
      d0 = sum(w0 d) / sum(w0), Q = sum(w0 (d - d0)²) and C = sum(w0) - sum(w0²) / sum(w0),
      tau² = max(0, (Q - (k - 1)) / C); 0 when k < 2 (one segment says nothing about the
      spread between segments). This is ``combine_effects(d, v, method_re="dl").tau2`` of
      statsmodels.stats.meta_analysis, there left untruncated; a few lines here keep the
      truncation and the segments without a variance explicit;
    * weight w_i = tau² / (tau² + v_i), shrunk_i = w_i d_i + (1 - w_i) m;
    * interval shrunk_i ± z sqrt(w_i v_i + (1 - w_i)² V), z the normal quantile of 1 - alpha/2.

    The pooled uplift m is the uplift of all the table's members together,
    sum(responders_t) / sum(users_t) - sum(responders_c) / sum(users_c), with its Wald
    variance V. It is chosen over the precision-weighted mean of the segments because it
    counts every member, also those of segments whose v_i is undefined (an empty group),
    without leaning on the segments' variances (rough for small groups), and because it is
    the campaign's overall uplift (:func:`effect`) when the segments split the members, as
    :func:`segment_uplift`'s do (未知 and 未分群 included), so a segment at weight 0 shows
    the very number the chapter reports for the campaign.

    Why Agresti-Caffo and not the Wald variance p (1 - p) / n: the Wald variance of a group
    with no responders or only responders is 0, as if its rate were known exactly, so such a
    segment would have to be set aside (weight 0, given m) or given a precision it has not
    earned; and a single responder would then move its weight from 0 to nearly what tau²
    allows. A holdout without responders is common in small segments; the adjusted variance
    gives it a finite precision that changes little from 0 to 1 responder, so the segment is
    shrunk by its size like any other. d_i stays the raw difference: it is the point
    estimate the chapter reports for the segment (:func:`segment_uplift`'s uplift) and the
    one m is made of, so a segment of weight 1 keeps its own reported uplift; the adjusted
    difference p~_t - p~_c would also pull every small segment toward 0 (both rates toward
    1/2), a second shrinkage toward no effect on top of the one toward m.
    v_i is undefined, and the segment's weight 0 (it is given m), only when one of its groups
    is empty: then it has no uplift of its own (d_i NaN).
    When tau² is 0 the segments' uplifts differ no more than sampling noise explains, and
    every segment is given m: that is the honest answer, not a failure. The interval is
    approximate: it ignores the uncertainty of tau² itself (poorly estimated with few
    segments) and the overlap of the segment's members with the pooled ones.

    Parameters
    ----------
    seg_table : pandas.DataFrame
        A :func:`segment_uplift` table (segment, users_t, responders_t, users_c,
        responders_c).
    alpha : float, default 0.05
        Two-sided level of the intervals.

    Returns
    -------
    pandas.DataFrame
        One row per row of `seg_table`, in its order (and with its index): segment, uplift
        (d_i; NaN with an empty group), variance (v_i; NaN where undefined), weight (w_i),
        shrunk, shrunk_low, shrunk_high, pooled (m) and tau2 (the same on every row).

    Examples
    --------
    Segments with 50 of 100 against 10 of 100 and 10 of 100 against 10 of 100: p~ = 51/102
    = 0.5 and 11/102 = 0.107843, so d = 0.4, v = 0.5 x 0.5 / 102 + 0.107843 x 0.892157 / 102
    = 0.0024510 + 0.0009433 = 0.0033942, and d = 0, v = 2 x 0.0009433 = 0.0018865;
    m = 60/200 - 20/200 = 0.2. w0 = 294.616 and 530.074 (sum 824.690),
    d0 = 117.847 / 824.690 = 0.142898, Q = 294.616 x 0.257102² + 530.074 x 0.142898²
    = 19.4746 + 10.8240 = 30.2986, C = 824.690 - (86798.8 + 280978.4) / 824.690 = 378.732,
    tau² = (30.2986 - 1) / 378.732 = 0.077360; w = 0.077360 / (0.077360 + 0.0033942)
    = 0.957968, so the first segment's shrunk uplift is 0.957968 x 0.4 + 0.042032 x 0.2
    = 0.39159.

    >>> t = pd.DataFrame({"segment": ["a", "b"], "users_t": [100, 100],
    ...                   "responders_t": [50, 10], "users_c": [100, 100],
    ...                   "responders_c": [10, 10]})
    >>> s = shrunk_uplift(t)
    >>> round(float(s.tau2.iloc[0]), 6), round(float(s.shrunk.iloc[0]), 5), round(float(s.pooled.iloc[0]), 2)
    (0.07736, 0.39159, 0.2)
    """
    n_t, x_t = seg_table.users_t.astype("float64"), seg_table.responders_t.astype("float64")
    n_c, x_c = seg_table.users_c.astype("float64"), seg_table.responders_c.astype("float64")
    both = (n_t > 0) & (n_c > 0)
    d = (x_t / n_t - x_c / n_c).where(both)
    # Agresti-Caffo: one success and one failure added to each group; undefined (NaN) only
    # with an empty group
    a_t, a_c = (x_t + 1) / (n_t + 2), (x_c + 1) / (n_c + 2)
    v = (a_t * (1 - a_t) / (n_t + 2) + a_c * (1 - a_c) / (n_c + 2)).where(both)
    pooled, pooled_var = _pooled_uplift(x_t.sum(), n_t.sum(), x_c.sum(), n_c.sum())
    ok = v.notna()
    tau2 = 0.0
    if ok.sum() >= 2:
        w0, dk = 1 / v[ok], d[ok]
        centre = (w0 * dk).sum() / w0.sum()
        q = (w0 * (dk - centre) ** 2).sum()
        c = w0.sum() - (w0 ** 2).sum() / w0.sum()
        tau2 = max(0.0, float((q - (ok.sum() - 1)) / c))
    weight = (tau2 / (tau2 + v)).where(ok, 0.0) if tau2 > 0 else pd.Series(0.0, index=v.index)
    shrunk = weight * d.where(ok, 0.0) + (1 - weight) * pooled
    z = NormalDist().inv_cdf(1 - alpha / 2)
    half = z * (weight * v.where(ok, 0.0) + (1 - weight) ** 2 * pooled_var) ** 0.5
    return pd.DataFrame({"segment": seg_table.segment, "uplift": d, "variance": v,
                         "weight": weight, "shrunk": shrunk, "shrunk_low": shrunk - half,
                         "shrunk_high": shrunk + half, "pooled": pooled, "tau2": tau2},
                        index=seg_table.index)


def _pooled_uplift(x_t: float, n_t: float, x_c: float, n_c: float) -> tuple[float, float]:
    """The uplift of all the members together and its Wald variance (NaN with an empty group)."""
    if not n_t or not n_c:
        return math.nan, math.nan
    p_t, p_c = x_t / n_t, x_c / n_c
    return float(p_t - p_c), float(p_t * (1 - p_t) / n_t + p_c * (1 - p_c) / n_c)


def next_round(ds: Dataset, camp: Campaign, seg_table: pd.DataFrame, by: str = "age_band",
               segments: ibis.Table | None = None, budget: float | None = None,
               overall: dict | None = None, pre_days: int = 90, alpha: float = 0.05
               ) -> tuple[pd.DataFrame, ibis.Table]:
    """The next round's plan and target list, each segment at its own uplift shrunk toward the
    overall one (:func:`shrunk_uplift`).

    Which segments: those whose uplift is positive and significant after Holm's correction
    (verdict positive in `seg_table`, a :func:`segment_uplift` table; basis 分群显著). When
    no segment is, but the campaign's overall uplift (`overall`, the result of
    :func:`effect`) is, every segment not significantly negative (basis
    整体显著，按分群收缩). Of those, the segments whose shrunk uplift is positive; when none,
    the plan is empty.

    At what uplift: the segment's own, shrunk toward the pooled uplift of all the members
    (the campaign's overall uplift) the more, the smaller the segment and the less the
    segments differ. A large segment keeps close to its own estimate; a small one is close to
    the overall uplift, one with an empty group is at it, and when the
    segments differ no more than sampling noise explains every segment is at the overall
    uplift: the plan then spreads the campaign's effect over the segments and says nothing
    about which is better. `shrink_weight` tells how much of the segment's own estimate the
    plan uses (0: only the overall).

    Audience: this campaign's members in those segments who did not respond (treated
    non-responders and the whole holdout, who never got the offer). Per segment the plan gives
    targets, the segment's own uplift, the shrunk uplift the plan uses and its approximate
    interval, expected incremental responders (targets x shrunk uplift), expected cost (sends
    + rewards at the segment's treatment response rate; the pooled one when the segment has
    no treated members), cost per incremental responder, and whether it fits the budget when
    segments are taken best value first (most incremental responders per yuan, ties by the
    segment's own uplift, then its name; a segment fits while the running total stays within
    the budget). The target list of the segments within the budget (user_id, segment,
    last_group, channel, offer) is an Ibis table: write it with Chapter.export, never into the
    book. Keep a holdout next round too. Without the campaign's unit costs the expected cost
    is unknown and the budget cannot cut the plan: every segment is kept.

    Parameters
    ----------
    ds : Dataset
        The dataset.
    camp : Campaign
        The campaign reviewed.
    seg_table : pandas.DataFrame
        A :func:`segment_uplift` table (segment, verdict, users_t, responders_t, users_c,
        responders_c, uplift, rate_t), covering all the members (its pooled uplift is the
        overall one the segments are shrunk toward).
    by : str, default "age_band"
        Its breakdown (see :func:`segment_uplift`).
    segments : ibis.Table or None, default None
        Its segmentation, when it was passed in.
    budget : float or None, default None
        The budget in yuan; None for no limit.
    overall : dict or None, default None
        :func:`effect` of the campaign, for the overall basis (whether the campaign's uplift
        is significant).
    pre_days : int, default 90
        The mart's pre-campaign days (its key).
    alpha : float, default 0.05
        Two-sided level of the shrunk uplift's interval.

    Returns
    -------
    tuple of (pandas.DataFrame, ibis.Table)
        The plan (segment, basis (a label of PLAN_BASES), targets, segment_uplift (the
        segment's own), uplift (shrunk), ci_low, ci_high (its interval), shrink_weight,
        rate_t, expected_incremental, expected_cost, cost_per_incremental, cumulative_cost,
        within_budget, channel, offer; empty without a basis) and the target list.

    Raises
    ------
    ValueError
        A negative budget.
    """
    if budget is not None and budget < 0:
        raise ValueError(f"budget: {budget!r}; allowed: a non-negative amount in yuan or None")
    cols = ["segment", "basis", "targets", "segment_uplift", "uplift", "ci_low", "ci_high",
            "shrink_weight", "rate_t", "expected_incremental", "expected_cost",
            "cost_per_incremental", "cumulative_cost", "within_budget", "channel", "offer"]
    shrink = shrunk_uplift(seg_table, alpha)
    users_t = seg_table.users_t.sum()
    pooled_rate_t = seg_table.responders_t.sum() / users_t if users_t else float("nan")
    seg_table = seg_table.assign(
        segment_uplift=seg_table.uplift, uplift=shrink.shrunk, ci_low=shrink.shrunk_low,
        ci_high=shrink.shrunk_high, shrink_weight=shrink.weight,
        rate_t=seg_table.rate_t.fillna(pooled_rate_t))
    eligible, basis = seg_table.verdict == "positive", PLAN_BASES["segment"]
    if not eligible.any() and overall is not None and overall.get("available") and overall["ci_low"] > 0:
        # no single segment is significant, but the campaign as a whole worked: every segment
        # not significantly negative, each at its own uplift shrunk toward the overall one
        eligible, basis = seg_table.verdict != "negative", PLAN_BASES["overall"]
    chosen = seg_table[eligible & (seg_table.uplift > 0)].assign(basis=basis)
    mo = _with_segment(ds, members(ds, camp, pre_days), by, segments)
    pool = mo.filter(mo.responded == 0)
    names = chosen.segment.tolist()
    target = _in_segments(pool, names)
    channel = CHANNEL_LABELS.get(camp.channel, camp.channel)
    offer = OFFERS.get(camp.goal, DEFAULT_OFFER)
    target = target.select("user_id", "segment", last_group="group",
                           channel=ibis.literal(camp.channel), offer=ibis.literal(offer)
                           ).order_by(["segment", "user_id"])
    if not names:
        return pd.DataFrame(columns=cols), target
    counts = target.group_by("segment").aggregate(targets=_.count()).to_pandas()
    plan = chosen.merge(counts, on="segment", how="left").fillna({"targets": 0})
    plan["targets"] = plan.targets.astype("int64")
    plan["expected_incremental"] = plan.targets * plan.uplift
    plan["expected_cost"] = plan.targets * (camp.cost_per_send + plan.rate_t * camp.cost_per_reward)
    plan["cost_per_incremental"] = plan.expected_cost / plan.expected_incremental.where(plan.expected_incremental > 0)
    value = plan.expected_incremental / plan.expected_cost.where(plan.expected_cost > 0)
    # rounded so that segments of equal value (all at the overall uplift) tie; ties go to the
    # segment's own (noisy) estimate, then the name
    plan = plan.assign(_value=value.fillna(float("inf")).round(9),
                       _own=plan.segment_uplift.fillna(-float("inf"))).sort_values(
        ["_value", "_own", "segment"], ascending=[False, False, True])
    plan["cumulative_cost"] = plan.expected_cost.cumsum()
    plan["within_budget"] = True if budget is None or not camp.costs_known else plan.cumulative_cost <= budget
    plan["channel"] = channel
    plan["offer"] = offer
    keep = plan[plan.within_budget].segment.tolist()
    target = _in_segments(target, keep)
    return plan[cols].reset_index(drop=True), target


def _in_segments(table: ibis.Table, names: list[str]) -> ibis.Table:
    """Rows of `table` whose segment is one of `names`; none when `names` is empty (a false
    condition, not a sentinel value: Postgres refuses a NUL character in a query)."""
    return table.filter(table.segment.isin(names) if names else ibis.literal(False))


def plan_summary(plan: pd.DataFrame) -> dict[str, float | int | str]:
    """Totals of the plan within budget, for the book's prose.

    Parameters
    ----------
    plan : pandas.DataFrame
        :func:`next_round`'s plan.

    Returns
    -------
    dict
        segments, names (joined with 、; 无 when none), targets, expected_incremental,
        expected_incremental_low and _high (targets × the shrunk interval's ends, summed: every
        segment at its low or its high end at once) and expected_cost (NaN when the plan's costs
        are unknown) of the segments within budget.
    """
    inb = plan[plan.within_budget.astype(bool)] if len(plan) else plan
    return dict(
        segments=int(len(inb)),
        names="、".join(map(str, inb.segment)) if len(inb) else "无",
        targets=int(inb.targets.sum()) if len(inb) else 0,
        expected_incremental=float(inb.expected_incremental.sum()) if len(inb) else 0.0,
        expected_incremental_low=float((inb.targets * inb.ci_low).sum()) if len(inb) else 0.0,
        expected_incremental_high=float((inb.targets * inb.ci_high).sum()) if len(inb) else 0.0,
        expected_cost=float(inb.expected_cost.sum(min_count=1)) if len(inb) else 0.0,
    )


#: the plan's basis in the prose when there is no plan
NO_PLAN = "没有分群、也没有整体显著的正向增量，本轮不给出名单"


def next_round_summary(plan: pd.DataFrame, camp: Campaign,
                       budget: float | None = None) -> dict[str, float | int | str]:
    """The next round for the chapter's prose (glued as ``review_<key>``).

    Parameters
    ----------
    plan
        The plan of :func:`next_round`.
    camp
        The campaign reviewed, for the offer of its goal.
    budget
        The budget the plan was cut at (None for no limit).

    Returns
    -------
    dict
        plan_segments, plan_names, plan_targets, plan_incremental with plan_inc_low and
        plan_inc_high (its range) and plan_cost (the plan within budget, :func:`plan_summary`;
        plan_cost NaN without unit costs), plan_basis
        (the first segment's basis, a label of PLAN_BASES; NO_PLAN without a plan),
        plan_basis_code (its code; "none" without a plan), budget (NaN without one),
        budget_applied (a budget was given and the unit costs are known, so it cut the plan),
        offer (OFFERS of the goal), next_channel (the campaign's channel label), plan_rows
        (segments in the plan before the budget cut), and of the segments within budget:
        plan_uplift_low and plan_uplift_high (the lowest and highest shrunk uplift; NaN when
        none), plan_at_overall (how many are at the overall uplift, shrink_weight 0) and
        plan_at_overall_names (their names joined with 、; "" when none).

    Examples
    --------
    A plan of 35-44 (uplift 0.05, weight 0.6) and 45-55 (0.03, weight 0: at the overall
    uplift) both within budget: plan_uplift_low 0.03, plan_uplift_high 0.05,
    plan_at_overall 1, plan_at_overall_names 45-55.
    """
    totals = plan_summary(plan)
    inb = plan[plan.within_budget.astype(bool)] if len(plan) else plan
    at_overall = inb[inb.shrink_weight == 0] if len(inb) else inb
    codes = {label: code for code, label in PLAN_BASES.items()}
    return {
        "plan_segments": totals["segments"],
        "plan_names": totals["names"],
        "plan_targets": totals["targets"],
        "plan_incremental": totals["expected_incremental"],
        "plan_inc_low": totals["expected_incremental_low"],
        "plan_inc_high": totals["expected_incremental_high"],
        "plan_cost": totals["expected_cost"],
        "plan_basis": plan.basis.iloc[0] if len(plan) else NO_PLAN,
        "plan_basis_code": codes.get(plan.basis.iloc[0], "none") if len(plan) else "none",
        "budget": float(budget) if budget is not None else float("nan"),
        "offer": OFFERS.get(camp.goal, DEFAULT_OFFER),
        "budget_applied": budget is not None and camp.costs_known,
        "next_channel": camp.channel_label,
        "plan_rows": len(plan),
        "plan_uplift_low": float(inb.uplift.min()) if len(inb) else float("nan"),
        "plan_uplift_high": float(inb.uplift.max()) if len(inb) else float("nan"),
        "plan_at_overall": int(len(at_overall)),
        "plan_at_overall_names": "、".join(map(str, at_overall.segment)),
    }


def next_round_plan(ds: Dataset, camp: Campaign, breakdowns: str | Sequence[str],
                    budget: float | None = None, alpha: float = 0.05, min_cell: int = MIN_CELL,
                    pre_days: int = 90, min_group: int = 1) -> tuple[pd.DataFrame, ibis.Table, str]:
    """The next round planned on the first breakdown that splits the members.

    :func:`effect` (the overall basis), :func:`segment_uplift` of the first of `breakdowns`
    that puts the members in two segments or more (:func:`informative_breakdowns`; the first
    one given when none does) and :func:`next_round` in one call.

    Parameters
    ----------
    ds, camp
        The dataset and the campaign reviewed.
    breakdowns : str or sequence of str
        The chapter's segment breakdowns, in order.
    budget : float or None, default None
        As in :func:`next_round`.
    alpha, min_cell, pre_days
        As in :func:`segment_uplift`.
    min_group : int, default 1
        As in :func:`effect`.

    Returns
    -------
    tuple
        (plan, targets, breakdown): :func:`next_round`'s plan and target list, and the
        breakdown they use.

    Raises
    ------
    ValueError
        No breakdown, an unknown one, or a negative budget.
    NotAvailable
        Without a holdout, or with a group of fewer than `min_group` members.
    """
    names = [breakdowns] if isinstance(breakdowns, str) else list(breakdowns)
    if not names:
        raise ValueError(f"breakdowns: {breakdowns!r}; allowed: one or more of {list(SEGMENT_COLUMNS)}")
    eff = effect(ds, camp, alpha, pre_days, min_group)
    kept, _dropped = informative_breakdowns(ds, camp, names, alpha, min_cell, pre_days)
    by = (kept or names)[0]
    table = segment_uplift(ds, camp, by, alpha=alpha, min_cell=min_cell, pre_days=pre_days)
    plan, targets = next_round(ds, camp, table, by, budget=budget, overall=eff, pre_days=pre_days,
                               alpha=alpha)
    return plan, targets, by


# --------------------------------------------------------------------------------------------
# for the book


def rates_table(eff: dict, alpha: float = 0.05) -> pd.DataFrame:
    """Response rate per group with its Wilson interval (the figure of the effect section).

    Parameters
    ----------
    eff : dict
        :func:`effect`.
    alpha : float, default 0.05
        Level of the intervals.

    Returns
    -------
    pandas.DataFrame
        One row per group: group, label, users, responders, rate, ci_low, ci_high.
    """
    rows = []
    for g, n, x in (("treatment", eff["users_t"], eff["responders_t"]),
                    ("control", eff["users_c"], eff["responders_c"])):
        lo, hi = stats.wilson(x, n, alpha)
        rows.append(dict(group=g, label=GROUP_LABELS[g], users=int(n), responders=int(x),
                         rate=x / n if n else float("nan"), ci_low=lo, ci_high=hi))
    return pd.DataFrame(rows)


def verdict(eff: dict) -> str:
    """The verdict on the effect as a code of VERDICTS.

    Parameters
    ----------
    eff : dict
        :func:`effect` (available, ci_low, ci_high).

    Returns
    -------
    str
        no_holdout when the effect is not available, positive / negative when the uplift's
        interval lies above / below 0, else not_significant; :func:`verdict_label` gives the
        sentence the book shows.
    """
    if not eff["available"]:
        return "no_holdout"
    if eff["ci_low"] > 0:
        return "positive"
    if eff["ci_high"] < 0:
        return "negative"
    return "not_significant"


def segment_summary(seg: pd.DataFrame) -> dict[str, int | str | float]:
    """Counts of verdicts (codes) and the segment with the highest tested uplift.

    Parameters
    ----------
    seg : pandas.DataFrame
        :func:`segment_uplift`.

    Returns
    -------
    dict
        segments, tested, too_small, positive, best (无 when none was tested) and
        best_uplift (NaN when none).
    """
    tested = seg[seg.verdict != "too_small"]
    best = tested.sort_values(["uplift", "segment"], ascending=[False, True]).head(1)
    return dict(
        segments=int(len(seg)),
        tested=int(len(tested)),
        too_small=int((seg.verdict == "too_small").sum()),
        positive=int((seg.verdict == "positive").sum()),
        best=str(best.segment.iloc[0]) if len(best) else "无",
        best_uplift=float(best.uplift.iloc[0]) if len(best) else float("nan"),
    )

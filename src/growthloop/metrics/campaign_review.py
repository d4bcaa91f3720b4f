"""Closed-loop campaign review (营销闭环复盘): did the campaign work, at what cost, for whom, and
whom to target next.

A campaign is a row of `campaigns` (channel, start_at, goal, window_days, cost per send and per
reward) and its `campaign_members` (treatment or control = holdout, sent_at, delivered,
clicked_at). Everything per member is computed in the engine; only per-group, per-step or
per-segment sums come back to pandas, where the statistics are done on them.

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
:func:`effect` (against the holdout), :func:`srm` / :func:`balance` / :func:`power_check`
(checks), :func:`cuped`, :func:`segment_uplift` and the two-model uplift model
(:func:`model_cells`, :func:`predicted_uplift`, :func:`qini_curve`, :func:`uplift_at_k`),
:func:`history`, :func:`next_round` and :func:`goal_plan`. The statistics are pure functions of
counts and sums (:func:`two_proportion`, :func:`welch`, :func:`cuped_from_sums`, :func:`mde`),
tested by hand.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

import ibis
import pandas as pd
from ibis import _

from growthloop.marts.identity import person_steps
from growthloop.marts.investments import aum_expr, investments
from growthloop.marts.wide import user_wide
from growthloop.metrics.funnel import STEP_LABELS, wilson
from growthloop.metrics.profiling import DEFAULT_AUM_BOUNDS, layer_expr
from growthloop.staging.loader import DataError, Dataset

GOALS: tuple[str, ...] = ("register", "bind_card", "first_investment", "any_investment", "amount")
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
#: sample-ratio mismatch when the chi-square p-value is under this (GrowthBook's default)
SRM_ALPHA = 0.001
#: a standardised mean difference beyond this marks an imbalanced pre-campaign measure
SMD_LIMIT = 0.1
GROUP_LABELS = {"treatment": "实验组 (treatment)", "control": "对照组 (holdout)"}


# --------------------------------------------------------------------------------------------
# the campaign


@dataclass(frozen=True)
class Campaign:
    """One campaign as reviewed: its card and the window and goal used."""

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

    @property
    def has_holdout(self) -> bool:
        return self.control > 0 and self.treatment > 0

    @property
    def acquisition(self) -> bool:
        """A campaign to prospects: its goal is the sign-up."""
        return self.goal == "register"

    def card(self) -> pd.DataFrame:
        """The campaign card as a two-column table (item, value) for the book."""
        rows = [
            ("活动 (campaign)", f"{self.campaign_id} {self.name}"),
            ("渠道 (channel)", CHANNEL_LABELS.get(self.channel, self.channel)),
            ("开始时间 (start)", self.start_at.strftime("%Y-%m-%d %H:%M")),
            ("目标 (goal)", f"{GOAL_LABELS[self.goal]} ({self.goal})"),
            ("响应窗口 (window)", f"{self.window_days} 天"),
            ("目标人群规则 (target rule)", self.target_rule or "未记录"),
            ("名单人数 (members)", f"{self.members:,}"),
            ("实验组 / 对照组", f"{self.treatment:,} / {self.control:,}"),
            ("对照组占比 (holdout share)", f"{self.control / self.members:.1%}" if self.members else ""),
            ("单条发送成本 (cost per send)", f"{self.cost_per_send:,.2f} 元"),
            ("单次奖励成本 (cost per reward)", f"{self.cost_per_reward:,.2f} 元"),
            ("最晚发送延迟 (max send delay)", f"{self.max_send_delay_minutes:,.0f} 分钟"),
            ("窗口已结束 (window complete)", "是" if self.window_complete else "否，结果为截至分析日"),
        ]
        return pd.DataFrame(rows, columns=["item", "value"])


def _require(ds: Dataset) -> None:
    for name in ("campaigns", "campaign_members"):
        if not ds.has(name):
            raise DataError(name, None, "table is not in this dataset",
                            hint="the closed-loop campaign review needs campaigns and "
                                 "campaign_members (who was sent and who was held out); "
                                 f"add {name}.parquet or {name}.csv to the dataset folder")


def _num(value, default: float = 0.0) -> float:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return default
    return float(value)


def campaigns(ds: Dataset) -> pd.DataFrame:
    """Every campaign with its member counts, oldest first.

    Columns: campaign_id, name, channel, goal, window_days, start_at, cost_per_send,
    cost_per_reward, target_rule, members, treatment, control, holdout_share.
    """
    _require(ds)
    c = ds.campaigns
    m = ds.campaign_members
    counts = m.group_by("campaign_id").aggregate(
        members=_.count(),
        treatment=(_.group == "treatment").sum(),
        control=(_.group == "control").sum(),
    ).rename(_cid="campaign_id")
    out = c.left_join(counts, c.campaign_id == counts._cid).select(
        "campaign_id", "name", "channel", "goal", "window_days", "start_at", "cost_per_send",
        "cost_per_reward", "target_rule", "members", "treatment", "control",
    ).order_by(["start_at", "campaign_id"]).to_pandas()
    for col in ("members", "treatment", "control"):
        out[col] = out[col].fillna(0).astype("int64")
    out["holdout_share"] = (out.control / out.members.where(out.members > 0)).astype(float)
    return out


def default_campaign(ds: Dataset) -> str:
    """The latest campaign that has both a treatment and a holdout group (else the latest)."""
    table = campaigns(ds)
    if table.empty:
        raise DataError("campaigns", None, "table has no campaign")
    with_holdout = table[(table.control > 0) & (table.treatment > 0)]
    pick = with_holdout if not with_holdout.empty else table
    return str(pick.campaign_id.iloc[-1])


def campaign(ds: Dataset, campaign_id: str | None = None, window_days: int | None = None,
             goal: str | None = None) -> Campaign:
    """The campaign to review; window and goal default to the campaigns table's.

    Raises ValueError for an unknown campaign_id, goal or a window that is not positive, and
    DataError for a campaign without members.
    """
    table = campaigns(ds)
    if campaign_id is None:
        campaign_id = default_campaign(ds)
    known = table.campaign_id.tolist()
    if campaign_id not in known:
        raise ValueError(f"campaign_id: {campaign_id!r} is not in the campaigns table; "
                         f"allowed: {known}")
    row = table.set_index("campaign_id").loc[campaign_id]
    goal = goal or row.goal
    if goal not in GOALS:
        raise ValueError(f"goal: {goal!r} is not supported; allowed: {list(GOALS)}")
    window = window_days if window_days is not None else row.window_days
    if window is None or pd.isna(window):
        window = 7 if goal in ("register", "bind_card") else 14
    if int(window) != window or int(window) <= 0:
        raise ValueError(f"window_days: {window_days!r}; allowed: a positive whole number of days")
    window = int(window)
    if int(row.members) == 0:
        raise DataError("campaign_members", "campaign_id",
                        f"campaign {campaign_id!r} has no members",
                        hint="without its sent and held-out members a campaign cannot be reviewed")
    start = pd.Timestamp(row.start_at).to_pydatetime()
    m = ds.campaign_members.filter(_.campaign_id == campaign_id)
    last_sent = m.sent_at.max().to_pyarrow().as_py()
    delay = max(0.0, (last_sent - start).total_seconds() / 60) if last_sent else 0.0
    end = ds.period_end
    complete = (last_sent or start) + dt.timedelta(days=window) < end and \
        start + dt.timedelta(days=window) < end
    return Campaign(
        campaign_id=str(campaign_id), name=str(row["name"] or ""), channel=str(row.channel or ""),
        start_at=start, goal=str(goal), window_days=window,
        cost_per_send=_num(row.cost_per_send), cost_per_reward=_num(row.cost_per_reward),
        target_rule=str(row.target_rule) if "target_rule" in row and row.target_rule else "",
        members=int(row.members), treatment=int(row.treatment), control=int(row.control),
        max_send_delay_minutes=float(delay), window_complete=bool(complete),
    )


# --------------------------------------------------------------------------------------------
# per-member outcomes (engine)


def member_outcomes(ds: Dataset, camp: Campaign, pre_days: int = 90) -> ibis.Table:
    """One row per member (an Ibis expression, never pulled whole): group, window, response,
    amount, revenue, pre-campaign behaviour and the AUM layer at start_at.

    Columns: user_id, group, sent_at, delivered, clicked_at, window_start, window_end,
    responded (0/1), amount, revenue, clicked (0/1), opened (0/1), registered (0/1),
    bound_card (0/1), pre_active_days, pre_invest_count, pre_invest_amount, tenure_days,
    aum_at_start, layer.
    """
    if int(pre_days) <= 0:
        raise ValueError(f"pre_days: {pre_days!r}; allowed: a positive number of days")
    end = ds.period_end
    start = ibis.literal(camp.start_at)
    pre_start = ibis.literal(camp.start_at - dt.timedelta(days=int(pre_days)))
    m = ds.campaign_members.filter(_.campaign_id == camp.campaign_id)
    ws = ibis.coalesce(m.sent_at, start)
    m = m.mutate(window_start=ws, window_end=ws + ibis.interval(days=camp.window_days))
    m = m.select("user_id", "group", "sent_at", "delivered", "clicked_at", "window_start",
                 "window_end")
    ids = m.select(_mid="user_id")

    inv = investments(ds)
    inv = inv.mutate(_n=ibis.row_number().over(group_by="user_id", order_by=["txn_time", "txn_id"]))
    # an IN filter, not semi_join: Ibis 12 leaves LEFT SEMI JOIN in its Postgres SQL
    inv = inv.filter(inv.user_id.isin(ids._mid))
    if camp.goal in ("any_investment", "amount"):
        hit = ibis.literal(1)
    elif camp.goal == "first_investment":
        hit = (inv._n == 0).cast("int64")
    else:
        hit = ibis.literal(0)
    rows = inv.select(_uid=inv.user_id, _t=inv.txn_time, _amount=inv.amount,
                      _revenue=inv.revenue, _hit=hit.cast("int64"))
    ev = ds.events.filter((_.event_time < end) & _.user_id.notnull())
    ev = ev.filter(ev.user_id.isin(ids._mid))
    if camp.goal in ("register", "bind_card"):
        goal_ev = ev.filter(ev.event_name == camp.goal)
        rows = rows.union(goal_ev.select(_uid=goal_ev.user_id, _t=goal_ev.event_time,
                                         _amount=ibis.literal(0.0), _revenue=ibis.literal(0.0),
                                         _hit=ibis.literal(1).cast("int64")))
    j = m.inner_join(rows, m.user_id == rows._uid)
    j = j.filter((j._t > j.window_start) & (j._t <= j.window_end) & (j._t < end))
    got = j.group_by(_rid="user_id").aggregate(
        responded=j._hit.max(), amount=j._amount.sum(), revenue=j._revenue.sum())

    # the campaign funnel's steps, per member
    win = m.select(_eu="user_id", _ws="window_start", _we="window_end")
    ev_m = ev.inner_join(win, ev.user_id == win._eu)
    ev_m = ev_m.filter(ev_m.event_time <= ev_m._we)
    inside = (ev_m.event_time > ev_m._ws)
    tagged = ev_m.utm_campaign == camp.campaign_id
    steps = ev_m.group_by(_sid="user_id").aggregate(
        _link=((ev_m.event_name == "link_click") & inside & tagged).any(),
        opened=((ev_m.event_name.isin(["app_open", "app_install"])) & inside).any(),
        bound_card=(ev_m.event_name == "bind_card").any(),
    )

    # pre-campaign behaviour: [start - pre_days, start)
    pre_ev = ev.filter((ev.event_time >= pre_start) & (ev.event_time < start))
    pre_inv = inv.filter((inv.txn_time >= pre_start) & (inv.txn_time < start))
    days = pre_ev.select(_pid=pre_ev.user_id, _d=pre_ev.event_time.date()).union(
        pre_inv.select(_pid=pre_inv.user_id, _d=pre_inv.txn_time.date()))
    active = days.group_by("_pid").aggregate(pre_active_days=_._d.nunique())
    invested = pre_inv.group_by(_iid="user_id").aggregate(
        pre_invest_count=_.count(), pre_invest_amount=_.amount.sum())
    held = inv.filter(aum_expr(inv, camp.start_at, ds.config.current_holding_days))
    aum = held.group_by(_aid="user_id").aggregate(aum_at_start=_.amount.sum())
    users = ds.users.select(_uu="user_id", _reg="registered_at")

    out = m.left_join(got, m.user_id == got._rid)
    out = out.left_join(steps, out.user_id == steps._sid)
    out = out.left_join(active, out.user_id == active._pid)
    out = out.left_join(invested, out.user_id == invested._iid)
    out = out.left_join(aum, out.user_id == aum._aid)
    out = out.left_join(users, out.user_id == users._uu)
    clicked = (out.clicked_at.notnull() & (out.clicked_at > out.window_start)
               & (out.clicked_at <= out.window_end)) | out._link.fill_null(False)
    out = out.mutate(
        responded=out.responded.fill_null(0).cast("int64"),
        amount=out.amount.fill_null(0.0).cast("float64"),
        revenue=out.revenue.fill_null(0.0).cast("float64"),
        clicked=clicked.cast("int64"),
        opened=out.opened.fill_null(False).cast("int64"),
        registered=(out._reg.notnull() & (out._reg <= out.window_end)).cast("int64"),
        bound_card=out.bound_card.fill_null(False).cast("int64"),
        pre_active_days=out.pre_active_days.fill_null(0).cast("float64"),
        pre_invest_count=out.pre_invest_count.fill_null(0).cast("float64"),
        pre_invest_amount=out.pre_invest_amount.fill_null(0.0).cast("float64"),
        # whole calendar days between the dates (a difference of timestamps in days counts
        # elapsed 24-hour spans on some engines)
        tenure_days=ibis.greatest(
            start.date().delta(out._reg.fill_null(camp.start_at).date(), unit="day"), 0
        ).cast("float64"),
        aum_at_start=out.aum_at_start.fill_null(0.0).cast("float64"),
    )
    # layer_expr reads an `aum` column: give it the assets held at start_at
    out = out.mutate(aum=out.aum_at_start)
    out = out.mutate(layer=layer_expr(out, "aum", DEFAULT_AUM_BOUNDS))
    return out.select(
        "user_id", "group", "sent_at", "delivered", "clicked_at", "window_start", "window_end",
        "responded", "amount", "revenue", "clicked", "opened", "registered", "bound_card",
        "pre_active_days", "pre_invest_count", "pre_invest_amount", "tenure_days",
        "aum_at_start", "layer",
    )


def outcomes(ds: Dataset, camp: Campaign, pre_days: int = 90) -> ibis.Table:
    """`member_outcomes`, materialised once per (campaign, goal, window, pre_days) in the engine."""
    key = f"campaign_review:{camp.campaign_id}:{camp.goal}:{camp.window_days}:{pre_days}"

    return ds.keep(key, lambda: member_outcomes(ds, camp, pre_days))


# --------------------------------------------------------------------------------------------
# statistics on sums (pure functions, tested by hand)


def _z(alpha: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(1 - alpha / 2))


def _p_two_sided(z: float) -> float:
    from scipy.stats import norm

    return float(2 * norm.sf(abs(z)))


def two_proportion(x_t: int, n_t: int, x_c: int, n_c: int, alpha: float = 0.05) -> dict[str, float]:
    """Response rates of treatment and control, their difference and ratio, with intervals.

    * uplift = p_t - p_c with Newcombe's hybrid score interval (from the two Wilson intervals;
      it keeps its coverage with a small holdout and rare responses, where Wald's does not);
    * relative uplift = p_t / p_c - 1 with the log-ratio (Katz) interval, NaN without control
      responders;
    * z and p_value: the pooled two-proportion z test (as statsmodels' proportions_ztest).
    """
    nan = float("nan")
    out = dict(rate_t=nan, rate_c=nan, uplift=nan, ci_low=nan, ci_high=nan, relative=nan,
               rel_ci_low=nan, rel_ci_high=nan, z=nan, p_value=nan)
    if n_t > 0:
        out["rate_t"] = x_t / n_t
    if n_c > 0:
        out["rate_c"] = x_c / n_c
    if n_t <= 0 or n_c <= 0:
        return out
    p1, p2 = x_t / n_t, x_c / n_c
    d = p1 - p2
    l1, u1 = wilson(x_t, n_t, alpha)
    l2, u2 = wilson(x_c, n_c, alpha)
    out["uplift"] = d
    out["ci_low"] = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    out["ci_high"] = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    if x_t > 0 and x_c > 0:
        z = _z(alpha)
        se = math.sqrt(1 / x_t - 1 / n_t + 1 / x_c - 1 / n_c)
        out["relative"] = p1 / p2 - 1
        out["rel_ci_low"] = math.exp(math.log(p1 / p2) - z * se) - 1
        out["rel_ci_high"] = math.exp(math.log(p1 / p2) + z * se) - 1
    pooled = (x_t + x_c) / (n_t + n_c)
    if 0 < pooled < 1:
        zs = d / math.sqrt(pooled * (1 - pooled) * (1 / n_t + 1 / n_c))
        out["z"] = zs
        out["p_value"] = _p_two_sided(zs)
    return out


def _var(n: float, s: float, ss: float) -> float:
    """Sample variance from n, sum and sum of squares (NaN under two values)."""
    if n < 2:
        return float("nan")
    return max((ss - s * s / n) / (n - 1), 0.0)


def _cov(n: float, sx: float, sy: float, sxy: float) -> float:
    if n < 2:
        return float("nan")
    return (sxy - sx * sy / n) / (n - 1)


def welch(n_t: int, s_t: float, ss_t: float, n_c: int, s_c: float, ss_c: float,
          alpha: float = 0.05) -> dict[str, float]:
    """Difference of two means from sums (n, sum, sum of squares): Welch's t interval and test."""
    from scipy.stats import t as student

    nan = float("nan")
    out = dict(mean_t=s_t / n_t if n_t else nan, mean_c=s_c / n_c if n_c else nan, diff=nan,
               ci_low=nan, ci_high=nan, t=nan, df=nan, p_value=nan)
    if n_t < 2 or n_c < 2:
        return out
    v1, v2 = _var(n_t, s_t, ss_t) / n_t, _var(n_c, s_c, ss_c) / n_c
    out["diff"] = out["mean_t"] - out["mean_c"]
    se = math.sqrt(v1 + v2)
    if se == 0:
        return out
    df = (v1 + v2) ** 2 / (v1 ** 2 / (n_t - 1) + v2 ** 2 / (n_c - 1))
    q = float(student.ppf(1 - alpha / 2, df))
    t = out["diff"] / se
    out.update(ci_low=out["diff"] - q * se, ci_high=out["diff"] + q * se, t=t, df=df,
               p_value=float(2 * student.sf(abs(t), df)))
    return out


def mann_whitney(table: ibis.Table, value: str = "amount", group: str = "group",
                 treated: str = "treatment") -> dict[str, float]:
    """Mann-Whitney U test of `value` between the treated and the other group, in the engine.

    Average ranks per distinct value (ties share their mean rank), the rank sum of the treated,
    and the tie-corrected normal approximation with continuity correction (as scipy's
    mannwhitneyu(method="asymptotic")). Only one row of sums comes back.
    """
    vals = table.group_by(_v=table[value]).aggregate(
        _n=_.count(), _nt=(table[group] == treated).sum())
    w = ibis.cumulative_window(order_by="_v")
    vals = vals.mutate(_before=vals._n.sum().over(w) - vals._n)
    vals = vals.mutate(_rank=vals._before + (vals._n + 1) / 2.0)
    row = vals.aggregate(
        n=vals._n.sum(), n_t=vals._nt.sum(), r_t=(vals._nt * vals._rank).sum(),
        ties=(vals._n.cast("float64") ** 3 - vals._n).sum(),
    ).to_pandas().iloc[0]
    n, n_t = _num(row.n), _num(row.n_t)
    n_c = n - n_t
    nan = float("nan")
    if n_t == 0 or n_c == 0:
        return dict(u=nan, z=nan, p_value=nan)
    u = float(row.r_t) - n_t * (n_t + 1) / 2
    mu = n_t * n_c / 2
    sigma2 = n_t * n_c / 12 * ((n + 1) - float(row.ties) / (n * (n - 1)))
    if sigma2 <= 0:
        return dict(u=u, z=nan, p_value=nan)
    z = (u - mu - math.copysign(0.5, u - mu)) / math.sqrt(sigma2) if u != mu else 0.0
    return dict(u=u, z=z, p_value=_p_two_sided(z))


def srm(n_t: int, n_c: int, planned_holdout: float | None) -> dict[str, float | bool | str]:
    """Sample-ratio mismatch: chi-square test of the observed split against the planned one."""
    from scipy.stats import chisquare

    nan = float("nan")
    n = n_t + n_c
    out: dict = dict(treatment=int(n_t), control=int(n_c), observed_holdout=n_c / n if n else nan,
                     planned_holdout=nan, chi2=nan, p_value=nan, mismatch=False,
                     verdict="未给出计划的对照组比例，无法检验")
    if planned_holdout is None:
        return out
    if not 0 < planned_holdout < 1:
        raise ValueError(f"planned_holdout: {planned_holdout!r}; allowed: a share between 0 and 1")
    out["planned_holdout"] = float(planned_holdout)
    if n == 0:
        return out
    chi2, p = chisquare([n_t, n_c], [n * (1 - planned_holdout), n * planned_holdout])
    out.update(chi2=float(chi2), p_value=float(p), mismatch=bool(p < SRM_ALPHA))
    out["verdict"] = ("分组比例与计划不符 (SRM)，先查分组与发送日志再看效果" if out["mismatch"]
                      else "分组比例与计划一致")
    return out


def mde(n_t: int, n_c: int, baseline: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Minimum detectable absolute uplift of a two-sided test at `alpha` with `power`."""
    from scipy.stats import norm

    if n_t <= 0 or n_c <= 0 or not 0 < baseline < 1:
        return float("nan")
    z = _z(alpha) + float(norm.ppf(power))
    return z * math.sqrt(baseline * (1 - baseline) * (1 / n_t + 1 / n_c))


def needed_per_group(uplift: float, baseline: float, ratio: float = 1.0, alpha: float = 0.05,
                     power: float = 0.8) -> float:
    """Treatment members needed to detect `uplift` (control = ratio x treatment)."""
    from scipy.stats import norm

    if not uplift or not 0 < baseline < 1 or ratio <= 0 or math.isnan(uplift):
        return float("nan")
    z = _z(alpha) + float(norm.ppf(power))
    return z ** 2 * baseline * (1 - baseline) * (1 + 1 / ratio) / uplift ** 2


def cuped_from_sums(sums: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Plain and CUPED estimates of the treatment-control difference of mean y, from sums.

    `sums` has one row per group (treatment, control) with n, sy, syy, sx, sxx, sxy. theta is
    cov(x, y) / var(x) over all members pooled; the adjusted group mean is
    mean(y) - theta (mean(x) - pooled mean(x)); its variance var(y - theta x) / n comes from the
    group's own sums. Both intervals are normal (Wald) so that their widths compare.
    Columns: method, uplift, se, ci_low, ci_high, p_value, theta, variance_reduction.
    """
    g = sums.set_index("group")
    if not {"treatment", "control"} <= set(g.index) or (g.n < 2).any():
        raise ValueError("sums: need treatment and control rows with at least two members each")
    tot = g[["n", "sy", "syy", "sx", "sxx", "sxy"]].sum()
    var_x = _var(tot.n, tot.sx, tot.sxx)
    theta = _cov(tot.n, tot.sx, tot.sy, tot.sxy) / var_x if var_x > 0 else 0.0
    xbar = tot.sx / tot.n
    z = _z(alpha)
    rows = []
    for method, th in (("plain", 0.0), ("cuped", theta)):
        means, variances = {}, {}
        for grp in ("treatment", "control"):
            r = g.loc[grp]
            means[grp] = r.sy / r.n - th * (r.sx / r.n - xbar)
            v = (_var(r.n, r.sy, r.syy) + th * th * _var(r.n, r.sx, r.sxx)
                 - 2 * th * _cov(r.n, r.sx, r.sy, r.sxy))
            variances[grp] = max(v, 0.0) / r.n
        d = means["treatment"] - means["control"]
        se = math.sqrt(variances["treatment"] + variances["control"])
        rows.append(dict(method=method, uplift=float(d), se=float(se), ci_low=float(d - z * se),
                         ci_high=float(d + z * se),
                         p_value=_p_two_sided(d / se) if se > 0 else float("nan"),
                         theta=float(th)))
    out = pd.DataFrame(rows)
    base = out.se.iloc[0] ** 2
    out["variance_reduction"] = [0.0, float(1 - out.se.iloc[1] ** 2 / base) if base > 0 else float("nan")]
    return out


def group_sums(table: ibis.Table, y: str, x: str | None = None) -> pd.DataFrame:
    """Per group: n and the sums of y, y², x, x² and xy, aggregated in the engine."""
    yv = table[y].cast("float64")
    xv = table[x].cast("float64") if x else ibis.literal(0.0)
    t = table.mutate(_y=yv, _x=xv)
    out = t.group_by("group").aggregate(
        n=_.count(), sy=_._y.sum(), syy=(_._y * _._y).sum(), sx=_._x.sum(),
        sxx=(_._x * _._x).sum(), sxy=(_._x * _._y).sum(),
    ).order_by("group").to_pandas()
    for col in ("sy", "syy", "sx", "sxx", "sxy"):
        out[col] = out[col].fillna(0.0).astype(float)
    out["n"] = out["n"].astype("int64")
    return out


# --------------------------------------------------------------------------------------------
# effect against the holdout


NO_HOLDOUT = "本活动没有对照组 (holdout)，无法估计增量 (no uplift can be estimated)"


def _sums_by_group(mo: ibis.Table) -> dict[str, pd.Series]:
    t = mo.mutate(_sent=mo.sent_at.notnull().cast("int64"),
                  _deliv=mo.delivered.fill_null(False).cast("int64"))
    agg = t.group_by("group").aggregate(
        n=_.count(), responders=_.responded.sum(), sends=_._sent.sum(), delivered=_._deliv.sum(),
        amount=_.amount.sum(), amount2=(_.amount * _.amount).sum(), revenue=_.revenue.sum(),
        revenue2=(_.revenue * _.revenue).sum(),
    ).order_by("group").to_pandas().set_index("group")
    empty = pd.Series(dict(n=0, responders=0, sends=0, delivered=0, amount=0.0, amount2=0.0,
                           revenue=0.0, revenue2=0.0))
    return {g: (agg.loc[g].fillna(0) if g in agg.index else empty) for g in ("treatment", "control")}


def effect(ds: Dataset, camp: Campaign, alpha: float = 0.05, pre_days: int = 90) -> dict:
    """Treatment against holdout in the window: rates, uplift, amount, incremental business.

    Returns plain numbers: available (False without a holdout; `reason` says why), users and
    responders per group, rate_t, rate_c, uplift (+ ci_low, ci_high, p_value, relative with its
    interval), amount per member (Welch t: the mean is what turns into incremental yuan, and
    with hundreds of members per group its sampling distribution is close to normal even for
    heavy-tailed amounts) and Mann-Whitney's p-value beside it (robust to the tail, but it
    tests a shift of the distribution, not the mean), incremental responders, amount and
    revenue, cost (sends x cost per send + treatment responders x cost per reward), cost per
    send, per reward and per incremental responder, and incremental ROI.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha: {alpha!r}; allowed: a level between 0 and 1")
    mo = outcomes(ds, camp, pre_days)
    g = _sums_by_group(mo)
    t, c = g["treatment"], g["control"]
    n_t, n_c = int(t.n), int(c.n)
    x_t, x_c = int(t.responders), int(c.responders)
    prop = two_proportion(x_t, n_t, x_c, n_c, alpha)
    amt = welch(n_t, float(t.amount), float(t.amount2), n_c, float(c.amount), float(c.amount2), alpha)
    rev = welch(n_t, float(t.revenue), float(t.revenue2), n_c, float(c.revenue), float(c.revenue2), alpha)
    sends = int(t.sends)
    cost_send = sends * camp.cost_per_send
    cost_reward = x_t * camp.cost_per_reward
    cost = cost_send + cost_reward
    nan = float("nan")
    out: dict = dict(
        campaign_id=camp.campaign_id, available=camp.has_holdout and n_c > 0 and n_t > 0,
        reason="" if n_c > 0 else NO_HOLDOUT, users_t=n_t, users_c=n_c, responders_t=x_t,
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
    out["amount_p_mwu"] = mann_whitney(mo, "amount")["p_value"]
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
    """campaign_effect.csv: one row per group (campaign_id, group, users, responders, rate,
    uplift, ci_low, ci_high, p_value); the uplift, its interval and p-value sit on the treatment
    row, the control row is the baseline."""
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
    """The effect in business terms, one row per measure (measure, value, ci_low, ci_high)."""
    nan = float("nan")
    rows = [
        ("实验组响应率 (treatment rate)", eff["rate_t"], nan, nan),
        ("对照组响应率 (holdout rate)", eff["rate_c"], nan, nan),
        ("绝对增量 (uplift, pp)", eff["uplift"], eff["ci_low"], eff["ci_high"]),
        ("相对增量 (relative uplift)", eff["relative"], eff["rel_ci_low"], eff["rel_ci_high"]),
        ("人均投资额 实验组 (amount per member, T)", eff["amount_t"], nan, nan),
        ("人均投资额 对照组 (amount per member, C)", eff["amount_c"], nan, nan),
        ("人均投资额差 (amount difference, Welch)", eff["amount_diff"], eff["amount_ci_low"], eff["amount_ci_high"]),
        ("增量响应人数 (incremental responders)", eff["inc_responders"], eff["inc_low"], eff["inc_high"]),
        ("增量投资额 (incremental amount)", eff["inc_amount"], nan, nan),
        ("增量收入 (incremental revenue)", eff["inc_revenue"], nan, nan),
        ("总成本 (cost)", eff["cost"], nan, nan),
        ("发送成本 (send cost)", eff["cost_send"], nan, nan),
        ("奖励成本 (reward cost)", eff["cost_reward"], nan, nan),
        ("每增量响应者成本 (cost per incremental responder)", eff["cost_per_incremental"], nan, nan),
        ("增量 ROI (incremental ROI)", eff["roi"], nan, nan),
    ]
    return pd.DataFrame(rows, columns=["measure", "value", "ci_low", "ci_high"])


# --------------------------------------------------------------------------------------------
# checks before trusting it


def balance(ds: Dataset, camp: Campaign, pre_days: int = 90,
            covariates: Sequence[str] = COVARIATES) -> pd.DataFrame:
    """Pre-campaign behaviour by group: means, standardised mean difference, Welch p-value.

    SMD = (mean_t - mean_c) / sqrt((var_t + var_c) / 2); |SMD| > 0.1 is flagged. With a small
    holdout SMD is noisy, so the p-value says whether the gap is more than chance.
    """
    bad = [c for c in covariates if c not in COVARIATES]
    if bad:
        raise ValueError(f"covariates: {bad} not allowed; allowed: {list(COVARIATES)}")
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
        if not {"treatment", "control"} <= set(agg.index):
            rows.append(dict(covariate=c, mean_t=nan_(), mean_c=nan_(), smd=nan_(), p_value=nan_(),
                             imbalanced=False))
            continue
        t, k = agg.loc["treatment"], agg.loc["control"]
        w = welch(int(t.n), float(t[f"{c}__s"]), float(t[f"{c}__ss"]), int(k.n),
                  float(k[f"{c}__s"]), float(k[f"{c}__ss"]))
        vt, vc = _var(t.n, t[f"{c}__s"], t[f"{c}__ss"]), _var(k.n, k[f"{c}__s"], k[f"{c}__ss"])
        sd = math.sqrt((vt + vc) / 2) if not (math.isnan(vt) or math.isnan(vc)) else float("nan")
        smd = (w["mean_t"] - w["mean_c"]) / sd if sd and sd > 0 else 0.0
        rows.append(dict(covariate=c, mean_t=float(w["mean_t"]), mean_c=float(w["mean_c"]),
                         smd=float(smd), p_value=float(w["p_value"]),
                         imbalanced=bool(abs(smd) > SMD_LIMIT)))
    return pd.DataFrame(rows)


def nan_() -> float:
    return float("nan")


def power_check(eff: dict, alpha: float = 0.05, power: float = 0.8) -> dict:
    """Minimum detectable uplift for these group sizes and the sample the observed uplift needs.

    warning is a sentence when the test cannot be trusted to see the effect: a group under
    MIN_CELL members, or an observed uplift smaller than the minimum detectable one.
    """
    n_t, n_c = eff["users_t"], eff["users_c"]
    base = eff["rate_c"] if n_c and 0 < eff["rate_c"] < 1 else (
        (eff["responders_t"] + eff["responders_c"]) / (n_t + n_c) if n_t + n_c else float("nan"))
    m = mde(n_t, n_c, base, alpha, power) if n_c else float("nan")
    need = needed_per_group(eff["uplift"], base, n_c / n_t if n_t else 0.0, alpha, power)
    warning = ""
    if n_c == 0:
        warning = NO_HOLDOUT
    elif min(n_t, n_c) < MIN_CELL:
        warning = f"对照组或实验组不足 {MIN_CELL} 人，结论不可靠"
    elif not math.isnan(m) and abs(eff["uplift"]) < m:
        warning = "观察到的增量小于最小可检测增量 (MDE)，不显著不代表无效"
    return dict(baseline=float(base), mde=float(m),
                mde_relative=float(m / base) if base and not math.isnan(m) else float("nan"),
                needed_treatment=float(need),
                needed_control=float(need * n_c / n_t) if n_t and not math.isnan(need) else float("nan"),
                warning=warning, alpha=alpha, power=power)


def checks_table(s: dict, p: dict) -> pd.DataFrame:
    """The trust checks as rows (check, value, verdict) for the book."""
    rows = [
        ("实验组 / 对照组人数 (group sizes)", f"{s['treatment']:,} / {s['control']:,}", ""),
        ("计划对照组比例 (planned holdout)", "" if math.isnan(s["planned_holdout"]) else f"{s['planned_holdout']:.1%}", ""),
        ("实际对照组比例 (observed holdout)", "" if math.isnan(s["observed_holdout"]) else f"{s['observed_holdout']:.1%}", ""),
        ("SRM 卡方检验 p 值 (SRM chi-square p)", "" if math.isnan(s["p_value"]) else f"{s['p_value']:.3g}", s["verdict"]),
        ("最小可检测增量 (MDE, 80% power)", "" if math.isnan(p["mde"]) else f"{p['mde']:.1%}", p["warning"] or "样本量足够"),
        ("检出当前增量所需实验组人数 (needed, T)", "" if math.isnan(p["needed_treatment"]) else f"{p['needed_treatment']:,.0f}", ""),
    ]
    return pd.DataFrame(rows, columns=["check", "value", "verdict"])


def cuped(ds: Dataset, camp: Campaign, metric: str = "response",
          covariate: str = "pre_active_days", pre_days: int = 90,
          alpha: float = 0.05) -> pd.DataFrame:
    """The plain and the CUPED estimate of the uplift (response rate or amount per member).

    Only per-group sums of y, x, y², x², xy and n leave the engine (see cuped_from_sums).
    Without a holdout the frame is empty.
    """
    if metric not in METRICS:
        raise ValueError(f"metric: {metric!r}; allowed: {list(METRICS)}")
    if covariate not in COVARIATES:
        raise ValueError(f"covariate: {covariate!r}; allowed: {list(COVARIATES)}")
    cols = ["method", "uplift", "se", "ci_low", "ci_high", "p_value", "theta", "variance_reduction"]
    mo = outcomes(ds, camp, pre_days)
    sums = group_sums(mo, "responded" if metric == "response" else "amount", covariate)
    if set(sums.group) != {"treatment", "control"} or (sums.n < 2).any():
        return pd.DataFrame(columns=cols)
    return cuped_from_sums(sums, alpha)[cols]


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
#: retuning rules: (rate, threshold, what to retune)
DIAGNOSIS: tuple[tuple[str, str, float, str], ...] = (
    ("delivery_rate", "送达率 (delivered / sent)", 0.90, "渠道与触点：号码/推送权限质量，换渠道或补发"),
    ("click_rate", "点击率 (clicked / delivered)", 0.02, "权益与时机：文案、优惠力度、发送时段"),
    ("click_to_goal", "点击后达成率 (goal after click / clicked)", 0.20, "触点：落地页与App内承接路径"),
    ("response_rate", "响应率 (responders / sent)", LOW_RESPONSE, "人群：目标规则是否选中了有需求的人"),
)


def _funnel_steps(camp: Campaign) -> list[tuple[str, str]]:
    """The steps that say something for this campaign: register only for acquisition, and no
    step that is the goal itself."""
    steps = []
    for key, label in FUNNEL_STEPS:
        if key == "registered" and not camp.acquisition:
            continue  # existing users registered before the campaign
        if (key, camp.goal) in (("registered", "register"), ("bound_card", "bind_card")):
            continue
        steps.append((key, GOAL_LABELS[camp.goal] + " (目标)" if key == "goal" else label))
    return steps


def campaign_funnel(ds: Dataset, camp: Campaign, pre_days: int = 90) -> pd.DataFrame:
    """The treatment group's funnel per send batch (send date) and in total.

    `users` counts members who went down the path (each step also reached every step before
    it, all in their window; "opened" is an app_open/app_install in the window, or the
    response itself); `reached` counts everyone who reached the step in any way (a
    natural responder may never click). Columns: batch, step, label, users, reached,
    rate_from_previous, rate_from_sent, flag (response under LOW_RESPONSE on the goal row).
    """
    mo = outcomes(ds, camp, pre_days)
    t = mo.filter(mo.group == "treatment")
    steps = _funnel_steps(camp)
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
    total = per.drop(columns="_batch").sum().to_frame().T
    total.insert(0, "_batch", "全部 (all)")
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
        rows[-1]["flag"] = ("响应率低于 1%，需重新调整" if resp < LOW_RESPONSE else "")
    return pd.DataFrame(rows)


def diagnose(funnel_table: pd.DataFrame) -> pd.DataFrame:
    """The campaign's weak points from its total funnel, with what to retune.

    Columns: check, rate, threshold, weak (bool), retune.
    """
    tot = funnel_table[funnel_table.batch == funnel_table.batch.iloc[-1]].set_index("step")

    def get(step: str, col: str = "users") -> float:
        return float(tot[col].get(step, float("nan")))

    def ratio(a: float, b: float) -> float:
        return a / b if b and not math.isnan(b) else float("nan")

    rates = {
        "delivery_rate": ratio(get("delivered"), get("sent")),
        "click_rate": ratio(get("clicked"), get("delivered")),
        "click_to_goal": ratio(get("goal"), get("clicked")),
        "response_rate": ratio(get("goal", "reached"), get("sent")),
    }
    rows = []
    for key, label, threshold, retune in DIAGNOSIS:
        rate = rates[key]
        rows.append(dict(check=label, rate=rate, threshold=threshold,
                         weak=bool(not math.isnan(rate) and rate < threshold), retune=retune))
    return pd.DataFrame(rows)


UTM_STEPS: tuple[str, ...] = ("touch", "app_install", "register", "bind_card", "first_investment")


def utm_funnel(ds: Dataset, camp: Campaign) -> pd.DataFrame:
    """The funnel of people reached through links tagged utm_campaign = campaign_id (for
    acquisition campaigns to prospects), per first-touch date and in total.

    A person (stitched identity, see growthloop.metrics.funnel) enters at their first ad_click or
    link_click tagged with the campaign in (start_at, start_at + window]; each later step counts
    when it happens at or after the previous one, within window_days of the entry.
    Columns: batch, step, label, people, rate_from_previous, rate_from_start.
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
    total.insert(0, "_batch", "全部 (all)")
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
    (样本不足) and take no part in the correction. Several segments tested at once will show
    a "significant" one by chance; the Holm-adjusted p-value (p_holm) is the one to act on.
    Columns: segment, users_t, responders_t, users_c, responders_c, rate_t, rate_c, uplift,
    ci_low, ci_high, p_value, p_holm, verdict, share (of members).
    """
    from statsmodels.stats.multitest import multipletests

    mo = _with_segment(ds, outcomes(ds, camp, pre_days), by, segments)
    agg = mo.group_by("segment").aggregate(
        users_t=(_.group == "treatment").sum(), responders_t=_.responded.sum(where=_.group == "treatment"),
        users_c=(_.group == "control").sum(), responders_c=_.responded.sum(where=_.group == "control"),
    ).order_by("segment").to_pandas()
    counts = ["users_t", "responders_t", "users_c", "responders_c"]
    agg[counts] = agg[counts].astype("float64").fillna(0.0).astype("int64")
    rows = []
    for _i, r in agg.iterrows():
        n_t, x_t, n_c, x_c = (int(r.users_t), int(r.responders_t), int(r.users_c), int(r.responders_c))
        p = two_proportion(x_t, n_t, x_c, n_c, alpha)
        rows.append(dict(segment=r.segment, users_t=n_t, responders_t=x_t, users_c=n_c,
                         responders_c=x_c, rate_t=p["rate_t"], rate_c=p["rate_c"],
                         uplift=p["uplift"], ci_low=p["ci_low"], ci_high=p["ci_high"],
                         p_value=p["p_value"], p_holm=float("nan"),
                         verdict="样本不足" if min(n_t, n_c) < min_cell else "不显著"))
    out = pd.DataFrame(rows, columns=["segment", "users_t", "responders_t", "users_c",
                                      "responders_c", "rate_t", "rate_c", "uplift", "ci_low",
                                      "ci_high", "p_value", "p_holm", "verdict"])
    tested = out[(out.verdict != "样本不足") & out.p_value.notna()].index
    if len(tested):
        out.loc[tested, "p_holm"] = multipletests(out.loc[tested, "p_value"], alpha=alpha,
                                                  method="holm")[1]
        sig = out.loc[tested, "p_holm"] < alpha
        out.loc[tested, "verdict"] = [
            ("正向显著" if u > 0 else "负向显著") if s else "不显著"
            for u, s in zip(out.loc[tested, "uplift"], sig, strict=True)]
    total = (out.users_t + out.users_c).sum()
    out["share"] = (out.users_t + out.users_c) / total if total else float("nan")
    return out


# --------------------------------------------------------------------------------------------
# the rounds so far


def history(ds: Dataset, alpha: float = 0.05, pre_days: int = 90) -> pd.DataFrame:
    """Every campaign in the data on the same measures (its own goal and window).

    Columns: campaign_id, name, channel, goal, window_days, start_date, users_t, users_c,
    rate_t, rate_c, uplift, ci_low, ci_high, p_value, inc_responders, cost,
    cost_per_incremental, roi, note.
    """
    rows = []
    for _i, c in campaigns(ds).iterrows():
        base = dict(campaign_id=c.campaign_id, name=c["name"], channel=c.channel, goal=c.goal,
                    window_days=c.window_days,
                    start_date=pd.Timestamp(c.start_at).strftime("%Y-%m-%d"))
        if int(c.members) == 0:
            rows.append({**base, "note": "无名单 (no members)"})
            continue
        camp = campaign(ds, c.campaign_id)
        e = effect(ds, camp, alpha, pre_days)
        note = e["reason"] or ("" if camp.window_complete else "窗口未结束")
        rows.append({**base, **{k: e[k] for k in (
            "users_t", "users_c", "rate_t", "rate_c", "uplift", "ci_low", "ci_high", "p_value",
            "inc_responders", "cost", "cost_per_incremental", "roi")}, "note": note})
    cols = ["campaign_id", "name", "channel", "goal", "window_days", "start_date", "users_t",
            "users_c", "rate_t", "rate_c", "uplift", "ci_low", "ci_high", "p_value",
            "inc_responders", "cost", "cost_per_incremental", "roi", "note"]
    return pd.DataFrame(rows, columns=cols)


# --------------------------------------------------------------------------------------------
# the next round

OFFERS: dict[str, str] = {
    "register": "注册礼包 + 新手加息券",
    "bind_card": "绑卡即领加息券 (绑卡后 24 小时内有效)",
    "first_investment": "首投红包 / 新手标",
    "any_investment": "满额返现券 (按上次投资额设门槛)",
    "amount": "阶梯加息券 (投资额越高返得越多)",
}


def next_round(ds: Dataset, camp: Campaign, seg_table: pd.DataFrame, by: str = "age_band",
               segments: ibis.Table | None = None, budget: float | None = None,
               overall: dict | None = None, pre_days: int = 90
               ) -> tuple[pd.DataFrame, ibis.Table]:
    """The next round's plan and target list, from the segments whose uplift is positive and
    significant after Holm's correction. When no segment is, but the campaign's overall uplift
    (`overall`, the result of :func:`effect`) is, every segment not significantly negative is
    kept at the overall uplift (basis 整体显著); when neither, the plan is empty.

    Audience: this campaign's members in those segments who did not respond (treated
    non-responders and the whole holdout, who never got the offer). Per segment the plan gives
    targets, the segment's own uplift, the uplift the plan uses, expected incremental
    responders (targets x uplift), expected cost (sends + rewards at the treatment response
    rate), cost per incremental responder, and whether it fits the budget when segments are
    taken best value first (most incremental responders per yuan; a segment fits while the
    running total stays within the budget). The target list of the segments within the budget
    (user_id, segment, last_group, channel, offer) is an Ibis table: write it with
    Chapter.export, never into the book. Keep a holdout next round too.
    """
    if budget is not None and budget < 0:
        raise ValueError(f"budget: {budget!r}; allowed: a non-negative amount in yuan or None")
    cols = ["segment", "basis", "targets", "segment_uplift", "uplift", "ci_low", "rate_t",
            "expected_incremental",
            "expected_cost", "cost_per_incremental", "cumulative_cost", "within_budget",
            "channel", "offer"]
    seg_table = seg_table.assign(segment_uplift=seg_table.uplift)
    chosen = seg_table[seg_table.verdict == "正向显著"].assign(basis="分群显著 (segment)")
    if chosen.empty and overall is not None and overall.get("available") and overall["ci_low"] > 0:
        # no single segment is large enough, but the campaign as a whole worked: the whole
        # audience again, at the overall uplift (the segment estimates are too noisy to use)
        chosen = seg_table[seg_table.verdict != "负向显著"].assign(
            basis="整体显著 (overall)", uplift=overall["uplift"], ci_low=overall["ci_low"],
            rate_t=overall["rate_t"])
    mo = _with_segment(ds, outcomes(ds, camp, pre_days), by, segments)
    pool = mo.filter(mo.responded == 0)
    names = chosen.segment.tolist()
    target = _in_segments(pool, names)
    channel = CHANNEL_LABELS.get(camp.channel, camp.channel)
    offer = OFFERS[camp.goal]
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
    # rounded so that segments of equal value (the overall basis) tie; ties go to the segment's
    # own (noisy) estimate, then the name
    plan = plan.assign(_value=value.fillna(float("inf")).round(9),
                       _own=plan.segment_uplift.fillna(-float("inf"))).sort_values(
        ["_value", "_own", "segment"], ascending=[False, False, True])
    plan["cumulative_cost"] = plan.expected_cost.cumsum()
    plan["within_budget"] = True if budget is None else plan.cumulative_cost <= budget
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
    """Totals of the plan within budget, for the book's prose."""
    inb = plan[plan.within_budget.astype(bool)] if len(plan) else plan
    return dict(
        segments=int(len(inb)),
        names="、".join(map(str, inb.segment)) if len(inb) else "无",
        targets=int(inb.targets.sum()) if len(inb) else 0,
        expected_incremental=float(inb.expected_incremental.sum()) if len(inb) else 0.0,
        expected_cost=float(inb.expected_cost.sum()) if len(inb) else 0.0,
    )


# --------------------------------------------------------------------------------------------
# for the book


def rates_table(eff: dict, alpha: float = 0.05) -> pd.DataFrame:
    """Response rate per group with its Wilson interval (the figure of the effect section)."""
    rows = []
    for g, n, x in (("treatment", eff["users_t"], eff["responders_t"]),
                    ("control", eff["users_c"], eff["responders_c"])):
        lo, hi = wilson(x, n, alpha)
        rows.append(dict(group=g, label=GROUP_LABELS[g], users=int(n), responders=int(x),
                         rate=x / n if n else float("nan"), ci_low=lo, ci_high=hi))
    return pd.DataFrame(rows)


def verdict(eff: dict) -> str:
    """One sentence on the effect, for the book."""
    if not eff["available"]:
        return eff["reason"] or NO_HOLDOUT
    if eff["ci_low"] > 0:
        return "实验组响应率显著高于对照组，活动带来了真实增量"
    if eff["ci_high"] < 0:
        return "实验组响应率显著低于对照组，活动可能起了反作用"
    return "实验组与对照组的差异不显著，现有样本不能证明活动有增量"


def segment_summary(seg: pd.DataFrame) -> dict[str, int | str | float]:
    """Counts of verdicts and the segment with the highest tested uplift."""
    tested = seg[seg.verdict != "样本不足"]
    best = tested.sort_values(["uplift", "segment"], ascending=[False, True]).head(1)
    return dict(
        segments=int(len(seg)),
        tested=int(len(tested)),
        too_small=int((seg.verdict == "样本不足").sum()),
        positive=int((seg.verdict == "正向显著").sum()),
        best=str(best.segment.iloc[0]) if len(best) else "无",
        best_uplift=float(best.uplift.iloc[0]) if len(best) else float("nan"),
    )


# --------------------------------------------------------------------------------------------
# a two-model uplift model, fitted on aggregated cells, and its Qini curve

MODEL_FEATURES: tuple[str, ...] = ("age_band", "layer", "signup_channel", "city_tier",
                                   "device_os", "pre_activity")
QINI_K: tuple[float, ...] = (0.1, 0.2, 0.3, 0.5)


def _pre_activity_band(days: ibis.NumericValue) -> ibis.StringValue:
    return ibis.cases((days <= 0, "0天"), (days <= 3, "1-3天"), (days <= 10, "4-10天"),
                      else_="11天以上")


def fold_of(user_id: ibis.StringValue, folds: int, seed: int) -> ibis.IntegerValue:
    """The cross-fitting fold (0 .. folds-1) of each user: the first 7 hex digits (28 bits) of
    the MD5 of '<user_id>:<seed>', modulo `folds`. MD5 is a standard function (DuckDB `md5`,
    Spark `md5`, Postgres `md5`, ...), so every engine puts a member in the same fold; an
    engine's own hash() would not (DuckDB's and Spark's are different functions). 28 bits keep
    every step within a 32-bit integer: Spark's position function returns one, and in ANSI mode
    it raises on overflow rather than widen.
    """
    digest = (user_id + ibis.literal(f":{int(seed)}")).hexdigest("md5").lower()
    hex_digits = ibis.literal("0123456789abcdef")
    value = hex_digits.find(digest.substr(0, 1))
    for i in range(1, 7):
        value = value * 16 + hex_digits.find(digest.substr(i, 1))
    return (value % folds).cast("int64")


def model_cells(ds: Dataset, camp: Campaign, features: Sequence[str] = MODEL_FEATURES,
                folds: int = 2, seed: int = 7, pre_days: int = 90) -> pd.DataFrame:
    """Members counted per (fold, feature cell, group, responded): the only data the uplift
    model needs. Categorical features give the same fit on these weighted cells as on the
    members one by one, so no per-user row leaves the engine. The fold is a seeded hash of
    user_id (`fold_of`: MD5, the same on every engine), so the split is the same on every run
    and every engine.
    Columns: fold, the features, group, responded, n.
    """
    bad = [f for f in features if f not in MODEL_FEATURES]
    if bad or not features:
        raise ValueError(f"features: {bad or list(features)}; allowed: {list(MODEL_FEATURES)}")
    if folds < 2:
        raise ValueError(f"folds: {folds!r}; allowed: 2 or more")
    mo = outcomes(ds, camp, pre_days)
    wide = user_wide(ds)
    cols = [f for f in features if f in ("age_band", "signup_channel", "city_tier", "device_os")]
    w = wide.select(_wuid=wide.user_id, **{f"_w_{c}": wide[c].cast("string") for c in cols})
    j = mo.left_join(w, mo.user_id == w._wuid)
    values = {c: j[f"_w_{c}"].fill_null("未知") for c in cols}
    if "layer" in features:
        values["layer"] = j.layer
    if "pre_activity" in features:
        values["pre_activity"] = _pre_activity_band(j.pre_active_days)
    j = j.mutate(fold=fold_of(j.user_id, folds, seed), **values)
    out = j.group_by(["fold", *features, "group", "responded"]).aggregate(n=_.count())
    return out.order_by(["fold", *features, "group", "responded"]).to_pandas()


def _fit_predict(train: pd.DataFrame, test: pd.DataFrame, features: Sequence[str],
                 group: str) -> pd.Series:
    """P(respond | cell) for one group, logistic regression on one-hot cells with weights."""
    from sklearn.linear_model import LogisticRegression

    part = train[train.group == group]
    if part.empty or part.responded.nunique() < 2:
        rate = float((part.responded * part.n).sum() / part.n.sum()) if len(part) else float("nan")
        return pd.Series(rate, index=test.index)
    cats = pd.concat([part[list(features)], test[list(features)]], ignore_index=True)
    dummies = pd.get_dummies(cats.astype(str), dtype=float)
    x_train, x_test = dummies.iloc[: len(part)], dummies.iloc[len(part):]
    model = LogisticRegression(C=1.0, max_iter=1000)
    model.fit(x_train.to_numpy(), part.responded.to_numpy(), sample_weight=part.n.to_numpy())
    return pd.Series(model.predict_proba(x_test.to_numpy())[:, 1], index=test.index)


def predicted_uplift(cells: pd.DataFrame, features: Sequence[str] = MODEL_FEATURES) -> pd.DataFrame:
    """Cross-fitted two-model uplift: for each fold, P_treatment - P_control from the models fitted
    on the other folds. One row per (fold, cell): the features, predicted, users_t,
    responders_t, users_c, responders_c."""
    features = list(features)
    agg = cells.assign(r=cells.responded * cells.n)
    wide = agg.pivot_table(index=["fold", *features], columns="group", values=["n", "r"],
                           aggfunc="sum", fill_value=0)
    wide.columns = [f"{a}_{b}" for a, b in wide.columns]
    wide = wide.reset_index()
    for col in ("n_treatment", "n_control", "r_treatment", "r_control"):
        if col not in wide.columns:
            wide[col] = 0
    parts = []
    for fold in sorted(wide.fold.unique()):
        test = wide[wide.fold == fold].copy()
        train = cells[cells.fold != fold]
        test["predicted"] = (_fit_predict(train, test, features, "treatment")
                             - _fit_predict(train, test, features, "control"))
        parts.append(test)
    out = pd.concat(parts, ignore_index=True)
    out = out.rename(columns={"n_treatment": "users_t", "r_treatment": "responders_t",
                              "n_control": "users_c", "r_control": "responders_c"})
    return out[["fold", *features, "predicted", "users_t", "responders_t", "users_c",
                "responders_c"]].astype({c: "int64" for c in ("users_t", "responders_t",
                                                                 "users_c", "responders_c")})


def qini_curve(pred: pd.DataFrame) -> pd.DataFrame:
    """Qini curve of members ranked by predicted uplift (cells in order, ties by cell order).

    At each cell boundary: share of members targeted and the Qini value
    R_t - R_c x N_t / N_c (incremental responders at the treatment group's scale; 0 while no
    holdout member is in yet), with the random line, the straight line to the final value.
    Columns: share_targeted, qini, random, uplift_so_far.
    """
    feats = [c for c in pred.columns if c not in ("predicted", "users_t", "responders_t",
                                                  "users_c", "responders_c")]
    p = pred.sort_values(["predicted", *feats], ascending=[False] + [True] * len(feats))
    n = (p.users_t + p.users_c).cumsum()
    nt, rt = p.users_t.cumsum(), p.responders_t.cumsum()
    nc, rc = p.users_c.cumsum(), p.responders_c.cumsum()
    total = float(n.iloc[-1]) if len(n) else 0.0
    q = (rt - rc * nt / nc.where(nc > 0)).fillna(0.0)
    up = rt / nt.where(nt > 0) - rc / nc.where(nc > 0)
    out = pd.DataFrame({"share_targeted": n / total if total else n * 0.0, "qini": q,
                        "uplift_so_far": up})
    out = pd.concat([pd.DataFrame({"share_targeted": [0.0], "qini": [0.0],
                                   "uplift_so_far": [float("nan")]}), out], ignore_index=True)
    final = float(out.qini.iloc[-1])
    out["random"] = out.share_targeted * final
    return out[["share_targeted", "qini", "random", "uplift_so_far"]].astype(float)


def uplift_at_k(pred: pd.DataFrame, ks: Sequence[float] = QINI_K) -> pd.DataFrame:
    """Observed uplift among the top k of members by predicted uplift (whole cells, so the
    share reached can be a little above k). Columns: k, share, users_t, users_c, uplift."""
    feats = [c for c in pred.columns if c not in ("predicted", "users_t", "responders_t",
                                                  "users_c", "responders_c")]
    p = pred.sort_values(["predicted", *feats], ascending=[False] + [True] * len(feats))
    n = (p.users_t + p.users_c).cumsum()
    total = float(n.iloc[-1]) if len(n) else 0.0
    rows = []
    for k in ks:
        if not 0 < k <= 1:
            raise ValueError(f"ks: {k!r}; allowed: shares in (0, 1]")
        take = p[(n - (p.users_t + p.users_c)) < k * total] if total else p.iloc[:0]
        nt, nc = int(take.users_t.sum()), int(take.users_c.sum())
        rt, rc = int(take.responders_t.sum()), int(take.responders_c.sum())
        rows.append(dict(k=k, share=(nt + nc) / total if total else float("nan"), users_t=nt,
                         users_c=nc, uplift=(rt / nt - rc / nc) if nt and nc else float("nan")))
    return pd.DataFrame(rows)


def qini_area(curve: pd.DataFrame) -> float:
    """Area between the Qini curve and the random line (trapezoids), as a share of the final
    Qini value (0 = no better than random targeting); NaN when the final value is not positive."""
    x = curve.share_targeted.to_numpy()
    gain = (curve.qini - curve.random).to_numpy()
    area = float(((gain[1:] + gain[:-1]) / 2 * (x[1:] - x[:-1])).sum())
    final = float(curve.qini.iloc[-1])
    return area / final if final > 0 else float("nan")


# --------------------------------------------------------------------------------------------
# the next stage's goal, worked back through the channels


def channel_spend(ds: Dataset) -> pd.DataFrame:
    """Spend per acquisition channel (costs.utm_source mapped as everywhere else), up to the
    analysis date. Columns: channel, spend. Empty without a costs table."""
    from growthloop.marts.channels import with_channel

    if not ds.has("costs"):
        return pd.DataFrame({"channel": pd.Series(dtype=str), "spend": pd.Series(dtype=float)})
    c = ds.costs.filter(ds.costs.date < ds.period_end.date())
    c = with_channel(c, "utm_source", ds.config.channels)
    return (c.group_by("channel").aggregate(spend=_.spend.sum()).order_by("channel")
            .to_pandas().astype({"spend": float}))


def channel_rates(funnel_by_channel: pd.DataFrame, spend: pd.DataFrame) -> pd.DataFrame:
    """Per channel, from a funnel table (steps ad_click -> register -> first_investment with a
    channel breakdown, see growthloop.metrics.funnel.funnel) and its spend: click->register and
    register->first-investment rates, first investors and the cost per first investor.
    Columns: channel, clicks, registrations, investors, click_to_register,
    register_to_invest, spend, cost_per_investor."""
    need = {"segment", "step", "users", "rate_from_previous"}
    if not need <= set(funnel_by_channel.columns):
        raise ValueError(f"funnel_by_channel: needs columns {sorted(need)} (a funnel with a breakdown)")
    f = funnel_by_channel.pivot_table(index="segment", columns="step",
                                      values=["users", "rate_from_previous"], aggfunc="first")
    for step in ("ad_click", "register", "first_investment"):
        if ("users", step) not in f.columns:
            raise ValueError(f"funnel_by_channel: needs the steps ad_click, register, first_investment; {step} is missing")
    out = pd.DataFrame({
        "channel": f.index.astype(str),
        "clicks": f[("users", "ad_click")].to_numpy(),
        "registrations": f[("users", "register")].to_numpy(),
        "investors": f[("users", "first_investment")].to_numpy(),
        "click_to_register": f[("rate_from_previous", "register")].to_numpy(),
        "register_to_invest": f[("rate_from_previous", "first_investment")].to_numpy(),
    })
    out = out.merge(spend, on="channel", how="left").fillna({"spend": 0.0})
    out["cost_per_investor"] = out.spend / out.investors.where(out.investors > 0)
    return out.sort_values("channel").reset_index(drop=True)


def decompose_goal(rates: pd.DataFrame, target_investors: float) -> pd.DataFrame:
    """Work a target of new first investors back to each channel's investors, registrations,
    ad clicks and budget, keeping today's channel mix (each channel's share of first investors).

    investors_c = target x share_c; registrations_c = investors_c / register_to_invest_c;
    clicks_c = registrations_c / click_to_register_c; budget_c = investors_c x cost per
    investor_c (0 for channels without spend). A channel whose rate is missing or 0 gets NaN.
    A final row 合计 (total) sums the columns.
    """
    if target_investors is None or not target_investors > 0:
        raise ValueError(f"target_investors: {target_investors!r}; allowed: a positive number")
    r = rates[rates.investors > 0].copy()
    total = float(r.investors.sum())
    if total == 0:
        raise ValueError("rates: no channel has first investors to work back from")
    r["share"] = r.investors / total
    r["target_investors"] = target_investors * r.share
    r["target_registrations"] = r.target_investors / r.register_to_invest.where(r.register_to_invest > 0)
    r["target_clicks"] = r.target_registrations / r.click_to_register.where(r.click_to_register > 0)
    r["budget"] = r.target_investors * r.cost_per_investor.fillna(0.0)
    cols = ["channel", "share", "register_to_invest", "click_to_register", "cost_per_investor",
            "target_investors", "target_registrations", "target_clicks", "budget"]
    out = r.sort_values(["share", "channel"], ascending=[False, True])[cols].reset_index(drop=True)
    tot = {c: out[c].sum(min_count=1) for c in ("share", "target_investors",
                                               "target_registrations", "target_clicks", "budget")}
    return pd.concat([out, pd.DataFrame([{"channel": "合计 (total)", **tot}])], ignore_index=True)


def goal_plan(ds: Dataset, target_investors: float, window_days: int = 30) -> pd.DataFrame:
    """The next stage's plan per acquisition channel: the funnel (first-touch channel, ad click
    -> register -> first investment within `window_days`) and spend of the data, then
    :func:`decompose_goal`."""
    from growthloop.metrics import funnel

    f = funnel.funnel(ds, steps=["ad_click", "register", "first_investment"],
                      window_days=window_days, breakdown="first_touch")
    return decompose_goal(channel_rates(f, channel_spend(ds)), target_investors)

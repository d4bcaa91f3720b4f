# %% [markdown]
# # 5 生命周期留存
#
# 术语：{term}`留存`、{term}`同期群`、{term}`生命周期`、{term}`沉睡`、{term}`流失`、{term}`生存曲线`、{term}`LTV`；全部术语见 {ref}`glossary`。
#
# 平台能不能赢，取决于用户会不会一直投下去。本章回答三个问题：这一批来的用户，比上一批留得更好吗？
# 首投之后，有多少人走到第二、第三、第四、第五次投资？哪些用户正在滑向沉睡，而现在还召得回来？
#
# :::{admonition} 口径
# :class: dropdown
# 日是数据所在时区（dataset.yml 的 timezone）的自然日，周从周一开始，月是自然月；时间
# 从不换算成 UTC，所以 23:30 和次日 00:30 是两天。截至分析日还没结束的周期标为 **进行中**：
# 不给数字、图上单独标出，绝不当成 0——还没过完的月份不是流失。“回来”和“活跃”由参数 `return_event`
# 决定（默认：投资；也可以是任意行为或数据里的任何事件）。持有中的定期（以及按 `current_holding_days`
# 计的活期）在到期前都算活跃，所以买了 12 个月定期的用户不会被当成沉睡或流失。数据撑不起的小节
# 会说明缺什么、怎么补，其余小节照常生成。
# :::

# %% tags=["parameters"]
data = None  # dataset folder, the bundled demo (data/demo) when None
analysis_date = None  # YYYY-MM-DD, else dataset.yml's, else the last event day
out_dir = None  # where tables/ and exports/ go; None: beside the output notebook (papermill), the project for the demo
min_cell_size = 10  # smallest count of people a published table or figure label shows, smaller ones show as <10
channel_map = {}  # extra UTM source aliases for this run, {source: channel}, added to dataset.yml's channel map
cohort_by = "signup"  # cohort by signup or first_investment
cohort_unit = None  # cohort and period unit: day, week (Monday start) or month; None for the longest unit with at least three complete periods in the data
recent_weeks = 12  # the weekly cohorts of the last this many weeks, the analysis date's week included
return_event = "investment"  # what counts as coming back and as activity: investment, any, or an event of the data such as app_open (or an event with a property filter)
mode = "on"  # on (active in period k) or on_or_after (active in period k or any later one)
dormant_days = 60  # whole days without activity or a live holding before a user is dormant
churn_days = 180  # whole days without activity or a live holding before a user is churned
horizon_months = 12  # how far the cohort, retention and LTV curves reach, in months

# %%
import matplotlib.pyplot as plt

import growthloop.book as gb
from growthloop import plots, retention
from growthloop.present.findings import retention as words

ch = gb.chapter("05_lifecycle_retention", data, analysis_date, out_dir, min_cell_size, channel_map)
last_day = retention.data_end(ch.ds)
if last_day is not None and last_day < ch.ds.analysis_date:
    gb.note(words.data_end_note(last_day, ch.ds.analysis_date))
unit, unit_periods = (cohort_unit, 0) if cohort_unit else retention.default_unit(ch.ds, cohort_by)
if cohort_unit is None:
    gb.note(words.unit_note(unit, unit_periods, cohort_by))
grid = dict(cohort_by=cohort_by, unit=unit, return_event=return_event, mode=mode,
            max_period=retention.periods_in(horizon_months, unit))
life = dict(activity_event=return_event, dormant_days=dormant_days, churn_days=churn_days)

# %% [markdown]
# ## 同期群留存
#
# 每一行是一批同期进入的用户（按注册或首投所在的周期），每一列是进入后的第 k 个周期，格子里是
# 这一批人在第 k 个周期再次出现（按 `return_event`）的比例。斜线灰格是截至分析日还没过完的周期，
# 空白是还没开始的周期：两者都不是 0。回来的人数不足最小发布人数的格子不显示比例。

# %%
with ch.section("cohorts", "同期群留存") as s:
    cohorts = retention.cohort_retention(ch.ds, **grid)
    head = retention.cohort_summary(cohorts, unit)
    gb.glue_all("ret", head)
    window = retention.heatmap_window(cohorts)
    gb.show(plots.cohort_heatmaps(
        [window], min_cell=ch.min_cell, titles=[words.heatmap_title(window, return_event, mode, unit)],
        xlabels=[f"进入后的{retention.UNIT_NTH[unit].format(k='k')}"])[0].figure)
    s.finding(*words.cohorts(head, unit, cohort_by, return_event, mode, ch.cell_label))

# %% tags=["hide-output"] mystnb={"code_prompt_show": "展开明细：同期群 × 周期的留存表"}
if s.shown:
    ch.table(cohorts, "cohort_retention", "同期群 × 周期：人数、留存人数、留存率；“已结束”为否的周期不给数字",
             formats={"rate": "{:.1%}"})

# %% [markdown]
# ## 最近几周的周同期群
#
# 最近 `recent_weeks` 周（含分析日所在的一周）每周进入的用户，按周（周一开始）看次周留存：比月同期群
# 更早看到新用户质量的变化。分析日所在的那一周还在进行中。

# %%
with ch.section("recent_weeks", "最近几周的周同期群") as s:
    recent = retention.recent_cohorts(ch.ds, recent_weeks, cohort_by=cohort_by,
                                      return_event=return_event, mode=mode)
    head = retention.recent_summary(recent)
    gb.glue_all("ret_recent", head)
    gb.show(plots.cohort_heatmaps(
        [recent], min_cell=ch.min_cell,
        titles=[f"最近 {recent_weeks} 周的周同期群：斜线灰格是还没过完的一周，不是 0"],
        xlabels=["进入后的第 k 周"])[0].figure)
    s.finding(*words.recent_weeks(head, recent_weeks, ch.cell_label))

# %% tags=["hide-output"] mystnb={"code_prompt_show": "展开明细：最近几周的周同期群表"}
if s.shown:
    ch.table(recent, "cohort_retention_recent_weeks", f"最近 {recent_weeks} 周的周同期群；“已结束”为否的一周不给数字",
             formats={"rate": "{:.1%}"})

# %% [markdown]
# ## 留存曲线
#
# 合并曲线的第 k 期只用第 k 期已经过完的同期群计算（回来的人数 / 人数），所以新同期群不会把曲线
# 拉低；颜色越深的细线是越新的同期群。

# %%
with ch.section("curves", "留存曲线") as s:
    cohorts = retention.cohort_retention(ch.ds, **grid)
    pooled = retention.pooled_curve(cohorts)
    shape = retention.curve_summary(cohorts, unit)
    gb.glue_all("ret_curve", shape)
    gb.show(plots.retention_curves(cohorts, pooled).figure)
    s.finding(*words.curves(shape, unit))

# %% tags=["hide-output"] mystnb={"code_prompt_show": "展开明细：合并留存曲线的数字"}
if s.shown:
    ch.table(pooled, "retention_curve", "合并留存曲线：第 k 期已结束的同期群合计的留存人数 / 人数",
             formats={"rate": "{:.1%}"})

# %% [markdown]
# ## 首投到五投
#
# 投资满 n 次的人数，占首投人数与占投过 n-1 次的人数的比例；同一时刻的投资按交易号排序。按首投产品
# 期限比较二投率时，首投用户不足 30 人的期限不参与排名。

# %%
with ch.section("nth", "首投到五投") as s:
    nth = retention.nth_investment(ch.ds, max_n=5)
    nth_channel = retention.nth_investment(ch.ds, max_n=5, by="signup_channel")
    nth_term = retention.nth_investment(ch.ds, max_n=5, by="first_term")
    head = retention.nth_summary(nth, nth_term, min_users=30)
    gb.glue_all("ret", head)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.3))
    plots.nth_bars(nth, ax=axes[0])
    plots.nth_rate_lines(nth_term, retention.term_order(nth_term.group), ax=axes[1])
    gb.show(fig)
    ch.table(nth[["n", "users", "rate_from_first", "rate_from_previous"]], "nth_investment",
             "投资满 n 次的人数，占首投人数与占上一次人数的比例",
             formats={"rate_from_first": "{:.1%}", "rate_from_previous": "{:.1%}"})
    s.finding(*words.nth(head, ch.cell_label))

# %% tags=["hide-output"] mystnb={"code_prompt_show": "展开明细：投资间隔，按注册渠道、按首投期限"}
if s.shown:
    ch.table(nth, "nth_investment_gaps", "第 n-1 次到第 n 次投资的中位间隔（天）",
             formats={"rate_from_first": "{:.1%}", "rate_from_previous": "{:.1%}", "median_days_from_previous": "{:.1f}"})
    ch.table(nth_channel, "nth_investment_by_channel", "按注册渠道：投资满 n 次的人数、转化与间隔",
             formats={"rate_from_first": "{:.1%}", "rate_from_previous": "{:.1%}", "median_days_from_previous": "{:.1f}"})
    ch.table(nth_term, "nth_investment_by_term", "按首投产品期限：投资满 n 次的人数、转化与间隔",
             formats={"rate_from_first": "{:.1%}", "rate_from_previous": "{:.1%}", "median_days_from_previous": "{:.1f}"})

# %% [markdown]
# ## 生命周期状态
#
# 每个月末给每位用户一个状态：**新增**（本月第一次活跃）、**活跃**（不活跃天数不足沉睡阈值；持有中的
# 产品算活跃）、**回流**（本月在沉睡或流失之后回来）、**沉睡**（不活跃达到 `dormant_days`）、
# **流失**（达到 `churn_days`）。持有期内算活跃，所以计时从资金回到用户手里才开始。默认阈值
# 60 / 180 天：60 天是最短的 1 个月产品错过两个周期，180 天是半年没有资金留在平台上，此时召回已接近
# 重新获客；下一节用回来的用户离开了多久来检验阈值。

# %%
with ch.section("lifecycle", "生命周期状态") as s:
    states = retention.lifecycle(ch.ds, **life)
    flows = retention.lifecycle_flows(ch.ds, **life)
    head = retention.lifecycle_summary(states)
    gb.glue_all("ret", head | {"dormant_days": dormant_days, "churn_days": churn_days})
    gb.show(plots.state_bars(states, retention.STATE_LABELS, figsize=(10, 4.8)).figure)
    s.finding(*words.lifecycle(head, dormant_days, churn_days, return_event, ch.cell_label))

# %% tags=["hide-output"] mystnb={"code_prompt_show": "展开明细：每月的状态人数与流转人数"}
if s.shown:
    ch.table(retention.with_state_labels(states), "lifecycle_states", "每月末各状态的用户数；“已结束”为否的月份截至分析日",
             complement="period")
    ch.table(retention.with_state_labels(flows), "lifecycle_flows", "从上月末状态到本月末状态的人数")

# %% [markdown]
# ## 状态流转与回流
#
# 状态流转矩阵把各个完整月份合计：每一行是上月末的状态，每一格是下月末落到各状态的比例。回来的
# 用户离开了多久：每一次在不活跃（无操作、无持有）之后的回来，数它之前不活跃的整天数。

# %%
with ch.section("transitions", "状态流转与回流") as s:
    flows = retention.lifecycle_flows(ch.ds, **life)
    matrix = retention.transition_matrix(flows)
    gaps = retention.comeback_gaps(ch.ds, return_event, thresholds=(dormant_days, churn_days))
    head = retention.transition_summary(flows, gaps, dormant_days, churn_days)
    gb.glue_all("ret", head)
    gb.show(plots.transition_heatmap(matrix, retention.STATE_LABELS, figsize=(6, 4.8)).figure)
    ch.table(retention.with_state_labels(matrix.reset_index()), "lifecycle_transition_matrix",
             "状态流转矩阵：各完整月合计，行内占比",
             formats={st: "{:.1%}" for st in retention.STATES})
    s.finding(*words.transitions(head, dormant_days, churn_days, ch.cell_label))

# %% tags=["hide-output"] mystnb={"code_prompt_show": "展开明细：回来的用户离开了多久"}
if s.shown:
    ch.table(gaps, "comeback_gaps", "回来的用户离开了多久：不活跃（无操作、无持有）天数不超过 days 的比例",
             formats={"share_within": "{:.1%}"})

# %% [markdown]
# ## 流失风险用户
#
# 分析日当天处于沉睡期的用户：不活跃满 `dormant_days` 天、不足 `churn_days` 天、没有持有中的产品。
# 名单只写入本次运行的私有 `exports/` 目录，不进入发布的报告。

# %%
with ch.section("at_risk", "流失风险用户") as s:
    n_at_risk = retention.at_risk_count(ch.ds, **life)
    ch.export(retention.at_risk_users(ch.ds, **life), "at_risk_users")
    gb.glue("ret_at_risk_users", n_at_risk)
    s.finding(*words.at_risk(n_at_risk, dormant_days, churn_days,
                             f"{gb.EXPORTS_DIR}/{ch.slug}/at_risk_users.csv", ch.cell_label))

# %% [markdown]
# ## 生存曲线
#
# 从首投到流失的时间：一个投资者的“活跃寿命”从首投日到他最后一次活跃或持有到期的那天（之后连续
# `churn_days` 天没有回来）。流失要等满阈值才能确认，所以还没满的投资者按截尾处理
# （Kaplan-Meier 生存分析），不会被当成流失，也不会被当成一直留存；首投距分析日不足 `churn_days`
# 天的人还不能判断，不进入曲线。渠道之间只比较至少 100 名投资者的渠道。

# %%
with ch.section("survival", "生存曲线") as s:
    surv = retention.survival(ch.ds, by="signup_channel", churn_days=churn_days, days=(30, 90, 180),
                              activity_event=return_event)
    head = retention.survival_summary(surv, min_users=100)
    gb.glue_all("ret", head)
    gb.show(plots.survival_curves(surv.curves).figure)
    ch.table(surv.at_days, "survival_by_channel", "按注册渠道：首投后 30 / 90 / 180 天仍在活跃寿命内的比例与中位寿命（天）；空白为观察期不够或未降到一半",
             formats={"s_30": "{:.1%}", "s_90": "{:.1%}", "s_180": "{:.1%}", "median_days": "{:.0f}"})
    s.finding(*words.survival(head, churn_days, surv.days, ch.cell_label))

# %% tags=["hide-output"] mystnb={"code_prompt_show": "展开明细：生存曲线每一天的数字"}
if s.shown:
    ch.table(surv.curves, "survival_curves", "Kaplan-Meier 曲线：每个渠道每个有事件或截尾的天的生存率、95% 区间与风险集人数",
             formats={"survival": "{:.3f}", "ci_lower": "{:.3f}", "ci_upper": "{:.3f}"})

# %% [markdown]
# ## 客户价值
#
# 每个注册用户从注册月起累计带来的收入（交易表的收入，没有时按年化利差 × 期限估算，在投资时入账）。
# 合并曲线逐月累加：第 m 个月的人均收入只用第 m 个月已经结束的注册月份计算，所以新月份不会把
# 曲线拉低，曲线也不会因为后面几个月只剩老月份而下跌。LTV 读在注册后第 `horizon_months` 个月，
# 数据不够长时读在最老的注册月份走到的那个月。
#
# :::{admonition} 为什么不用概率模型 CLV
# :class: dropdown
# 概率模型 CLV (BG/NBD + Gamma-Gamma) 没有使用：它要求每个用户一行、把全部投资者搬出引擎；
# 更重要的是 BG/NBD 把长时间不交易读成“大概率已流失”，而定期产品的用户在持有期内本来就不会
# 交易，复投跟着到期走，不是泊松过程。这里给出的是按同期群实测的 LTV，不依赖模型假设。
# :::

# %%
with ch.section("ltv", "客户价值") as s:
    ltv_cohort = retention.ltv_cohorts(ch.ds, horizon_months=horizon_months)
    ltv_channel = retention.ltv_curves(ch.ds, by="signup_channel", horizon_months=horizon_months)
    ltv_all = retention.ltv_curves(ch.ds, by=None, horizon_months=horizon_months)
    head = retention.ltv_summary(ltv_all, horizon_months)
    gb.glue_all("ret", head)
    gb.show(plots.ltv_cohort_curves(ltv_cohort, ltv_all, figsize=(9, 4.8)).figure)
    s.finding(*words.ltv(head))

# %% tags=["hide-output"] mystnb={"code_prompt_show": "展开明细：按注册渠道、按注册月份的 LTV 曲线"}
if s.shown:
    ch.table(ltv_channel, "ltv_by_channel", "按注册渠道的 LTV 曲线：每注册用户累计收入（元）",
             formats={"ltv": "{:,.2f}"})
    ch.table(ltv_cohort, "ltv_by_cohort", "按注册月份的 LTV 曲线；“已结束”为否的月份不给数字",
             formats={"cum_revenue": "{:,.0f}", "ltv": "{:,.2f}"})

# %% [markdown]
# ## 获客成本与 LTV/CAC
#
# CAC = 渠道花费 / 同期注册人数，两者都只算花费表覆盖的月份；没有花费的渠道（自然、老带新、未标记）
# 没有 CAC，而不是 CAC 为 0。LTV/CAC 用上一节读 LTV 的那个月，低于 1 说明在这个期限内收入还没
# 收回获客成本。

# %%
with ch.section("ltv_cac", "获客成本与 LTV/CAC") as s:
    cac = retention.ltv_cac(ch.ds, horizon_months=horizon_months)
    head = retention.cac_summary(cac)
    ltv_channel = retention.ltv_curves(ch.ds, by="signup_channel", horizon_months=horizon_months)
    gb.glue_all("ret_cac", head)
    gb.show(plots.ltv_channel_curves(ltv_channel, cac.table, figsize=(9, 4.8)).figure)
    ch.table(cac.table, "ltv_cac", f"各注册渠道的 LTV / CAC（LTV 取注册后第 m 个月的累计值）；{cac.note}",
             formats={"spend": "{:,.0f}", "cac": "{:,.1f}", "ltv": "{:,.1f}", "ltv_cac": "{:.2f}"})
    s.finding(*words.ltv_cac(head))

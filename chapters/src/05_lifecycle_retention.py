# %% [markdown]
# # 5 生命周期留存 (lifecycle retention)
#
# 术语 (terms): {term}`留存`、{term}`同期群`、{term}`生命周期`、{term}`沉睡`、{term}`流失`、{term}`生存曲线`、{term}`LTV`；全部术语见 {ref}`glossary`。
#
# 平台能不能赢，取决于用户会不会一直投下去。本章回答三个问题：这个月来的用户，比上个月的留得更好吗？
# 首投之后，有多少人走到第二、第三、第四、第五次投资？哪些用户正在滑向沉睡，而现在还召得回来？
# (Do this month's users stay better than last month's? How many investors reach a second to a
# fifth investment? Who is drifting into dormancy while they can still be recalled?)
#
# 口径 (rules): 日是上海时间的自然日，周从周一开始，月是自然月；时间从不换算成 UTC，所以 23:30 和
# 次日 00:30 是两天。截至分析日还没结束的周期标为 **进行中 (running)**：不给数字、图上单独标出，
# 绝不当成 0——还没过完的月份不是流失。持有中的定期（以及按 `current_holding_days` 计的活期）
# 在到期前都算活跃，所以买了 12 个月定期的用户不会被当成沉睡或流失。

# %% tags=["parameters"]
data = None  # dataset folder, the bundled demo (data/demo) when None
analysis_date = None  # YYYY-MM-DD, else dataset.yml's, else the last event day
out_dir = None  # where tables/ and exports/ go, the project root when None
min_cell_size = 10  # smallest count of people a published table or figure label shows, smaller ones show as <10
channel_map = {}  # extra UTM source aliases for this run, {source: channel}, added to dataset.yml's channel map
cohort_by = "signup"  # cohort by signup or first_investment
cohort_unit = "month"  # cohort and period unit: day, week (Monday start) or month
return_event = "investment"  # what counts as coming back: investment, any, or an event name such as app_open
mode = "on"  # on (active in period k) or on_or_after (active in period k or any later one)
dormant_days = 60  # whole days without activity or a live holding before a user is dormant
churn_days = 180  # whole days without activity or a live holding before a user is churned
horizon_months = 12  # how far the cohort, retention and LTV curves reach, in months

# %%
import matplotlib.pyplot as plt

import growthloop.book as gb
from growthloop import plots, retention

ch = gb.chapter("05_lifecycle_retention", data, analysis_date, out_dir, min_cell_size, channel_map)
life = dict(dormant_days=dormant_days, churn_days=churn_days)

# %% [markdown]
# ## 同期群留存 (cohort retention)
#
# 每一行是一批同期进入的用户（按注册或首投所在的周期），每一列是进入后的第 k 个周期，格子里是
# 这一批人在第 k 个周期再次出现（默认：再投资一次）的比例。斜线灰格是截至分析日还没过完的周期，
# 空白是还没开始的周期：两者都不是 0。下图是最近 12 周的周同期群（周一开始），分析日所在的周
# 还在进行中。

# %%
cohorts = retention.cohort_retention(
    ch.ds, cohort_by=cohort_by, unit=cohort_unit, return_event=return_event, mode=mode,
    max_period=retention.periods_in(horizon_months, cohort_unit))
recent = retention.recent_cohorts(ch.ds, 12, cohort_by=cohort_by, return_event=return_event, mode=mode)
gb.glue_all("ret", retention.cohort_summary(cohorts, recent))
axes = plots.cohort_heatmaps(
    [cohorts, recent], min_cell=ch.min_cell,
    titles=[f"同期群留存 (return event: {return_event}, mode: {mode})", "最近 12 周的周同期群：斜线灰格是还没过完的一周，不是 0"],
    xlabels=[f"进入后的第 k 个{retention.UNIT_LABELS[cohort_unit]} (period k)", "进入后的第 k 周 (period k)"])
gb.show(axes[0].figure)

# %%
ch.table(cohorts, "cohort_retention", "同期群 × 周期：人数、留存人数、留存率；complete=False 的周期尚未结束，不给数字",
         formats={"rate": "{:.1%}"})

# %%
ch.table(recent, "cohort_retention_recent_weeks", "最近 12 周的周同期群；complete=False 的一周尚未结束，不给数字",
         formats={"rate": "{:.1%}"})

# %% [markdown]
# **发现 (finding).** {glue:text}`ret_cohorts` 个同期群合并计算，进入后第 1 个周期的留存率是
# {glue:text}`ret_p1_rate:.1%`（只用第 1 个周期已经结束的同期群）。最近一个第 1 期已结束的同期群
# ({glue:text}`ret_latest_cohort`) 为 {glue:text}`ret_latest_p1:.1%`，上一个 ({glue:text}`ret_prev_cohort`)
# 为 {glue:text}`ret_prev_p1:.1%`，差 {glue:text}`ret_p1_change_pp:+.1f` 个百分点。月度热力图里有
# {glue:text}`ret_running_cells` 个格子还在进行中，周同期群里有 {glue:text}`ret_recent_running_cells` 个：
# 它们单独标出，没有算成流失。
#
# **运营建议 (action).** 每月复盘时只比较"第 1 期已结束"的同期群：新一批用户第 1 期留存落后时，
# 先查这一批的渠道结构和新手权益（第 2、3 章），而不是在月中就根据不完整的数字下结论。

# %% [markdown]
# ## 留存曲线 (retention curves by cohort)

# %%
pooled = retention.pooled_curve(cohorts)
ax = plots.retention_curves(cohorts, pooled)
gb.show(ax.figure)

# %%
ch.table(pooled, "retention_curve", "合并留存曲线：第 k 期已结束的同期群合计的留存人数 / 人数",
         formats={"rate": "{:.1%}"})

# %% [markdown]
# **发现 (finding).** 曲线前几期下降最快，之后趋于平缓：留下来的人越来越稳定。新的同期群（深色）
# 若整体落在合并曲线之下，说明获客质量在变差，而不是老用户在流失。
#
# **运营建议 (action).** 把召回和复投激励集中在曲线最陡的前两个周期：这时每留住一个人，后面
# 的周期都跟着受益；曲线平缓以后的老用户更适合用会员权益维系，而不是频繁促销。

# %% [markdown]
# ## 首投到五投 (first to fifth investment)

# %%
nth = retention.nth_investment(ch.ds, max_n=5)
nth_channel = retention.nth_investment(ch.ds, max_n=5, by="signup_channel")
nth_term = retention.nth_investment(ch.ds, max_n=5, by="first_term")
gb.glue_all("ret", retention.nth_summary(nth, nth_term, min_users=30))
fig, axes = plt.subplots(1, 2, figsize=(11, 4.3))
plots.nth_bars(nth, ax=axes[0])
plots.nth_rate_lines(nth_term, retention.term_order(nth_term.group), ax=axes[1])
gb.show(fig)

# %%
ch.table(nth[["n", "users", "rate_from_first", "rate_from_previous"]], "nth_investment",
         "投资满 n 次的人数，占首投人数与占上一次人数的比例",
         formats={"rate_from_first": "{:.1%}", "rate_from_previous": "{:.1%}"})

# %%
ch.table(nth, "nth_investment_gaps", "第 n-1 次到第 n 次投资的中位间隔（天）",
         formats={"rate_from_first": "{:.1%}", "rate_from_previous": "{:.1%}", "median_days_from_previous": "{:.1f}"})

# %%
ch.table(nth_channel, "nth_investment_by_channel", "按注册渠道：投资满 n 次的人数、转化与间隔",
         formats={"rate_from_first": "{:.1%}", "rate_from_previous": "{:.1%}", "median_days_from_previous": "{:.1f}"})

# %%
ch.table(nth_term, "nth_investment_by_term", "按首投产品期限：投资满 n 次的人数、转化与间隔",
         formats={"rate_from_first": "{:.1%}", "rate_from_previous": "{:.1%}", "median_days_from_previous": "{:.1f}"})

# %% [markdown]
# **发现 (finding).** {glue:text}`ret_first_investors:,` 名首投用户中，{glue:text}`ret_second_rate:.1%`
# 投了第二次，{glue:text}`ret_fifth_rate:.1%` 走到了第五次。转化最弱的一步是第
# {glue:text}`ret_weakest_n` 次（上一次的人中只有 {glue:text}`ret_weakest_rate:.1%` 继续）。首投到二投的
# 中位间隔是 {glue:text}`ret_second_gap_days:.0f` 天。按首投期限看，{glue:text}`ret_best_term`
# 的二投率最高 ({glue:text}`ret_best_term_rate:.1%`)，{glue:text}`ret_worst_term` 最低
# ({glue:text}`ret_worst_term_rate:.1%`)——长期限产品的二投要等到期，不能简单看成更差。
#
# **运营建议 (action).** 二投是最值得投入的一步：在首投后、接近中位间隔（或产品到期）前一周推送
# 复投提醒和续投加息券；对最弱的一步单独设计"再投一次"的阶梯奖励。

# %% [markdown]
# ## 生命周期状态 (lifecycle states and flows)
#
# 每个月末给每位用户一个状态：**新增**（本月首次投资）、**活跃**（不活跃天数不足沉睡阈值；持有中的
# 产品算活跃）、**回流**（本月在沉睡或流失之后回来）、**沉睡**（不活跃达到沉睡阈值）、**流失**（达到
# 流失阈值）。默认阈值 60 / 180 天：持有期内算活跃，所以计时从资金回到用户手里才开始；60 天是最短
# 的 1 个月产品错过两个周期，180 天是半年没有资金留在平台上，此时召回已接近重新获客。

# %%
states = retention.lifecycle(ch.ds, **life)
flows = retention.lifecycle_flows(ch.ds, **life)
matrix = retention.transition_matrix(flows)
gaps = retention.comeback_gaps(ch.ds)
gb.glue_all("ret", retention.lifecycle_summary(states, flows, gaps) | life)
fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [3, 2]})
plots.state_bars(states, retention.STATE_LABELS, ax=axes[0])
plots.transition_heatmap(matrix, retention.STATE_LABELS, ax=axes[1])
gb.show(fig)

# %%
ch.table(states, "lifecycle_states", "每月末各状态的用户数；complete=False 的月份截至分析日", complement="period")

# %%
ch.table(flows, "lifecycle_flows", "从上月末状态到本月末状态的人数；(entry) 为首次进入")

# %%
ch.table(matrix.reset_index(), "lifecycle_transition_matrix", "状态流转矩阵：各完整月合计，行内占比",
         formats={s: "{:.1%}" for s in retention.STATES})

# %%
ch.table(gaps, "comeback_gaps", "回来的用户离开了多久：不活跃（无操作、无持有）天数不超过 days 的比例",
         formats={"share_within": "{:.1%}"})

# %% [markdown]
# **发现 (finding).** 截至 {glue:text}`ret_state_period` 所在月，活跃用户（新增 + 活跃 + 回流）
# {glue:text}`ret_active_base_now:,` 人，沉睡 {glue:text}`ret_dormant_now:,` 人，累计流失
# {glue:text}`ret_churned_now:,` 人。沉睡用户每个月有 {glue:text}`ret_dormant_back:.1%` 回流，
# {glue:text}`ret_dormant_churn:.1%` 转为流失。阈值的依据：回来的用户中 {glue:text}`ret_comeback_60:.1%`
# 离开不超过 60 天，{glue:text}`ret_comeback_180:.1%` 不超过 180 天——离开超过沉睡阈值以后，自己回来的人明显变少，
# 超过流失阈值以后几乎不再回来。
#
# **运营建议 (action).** 沉睡期是召回窗口：在用户进入沉睡（不活跃 {glue:text}`ret_dormant_days` 天）
# 时就触发召回，不要等到 {glue:text}`ret_churn_days` 天流失以后；持有中的用户在到期前 7 天推送续投方案，
# 让资金不离开平台。

# %% [markdown]
# ## 流失风险用户 (users at risk now)

# %%
at_risk = retention.at_risk_users(ch.ds, **life)
n_at_risk = retention.at_risk_count(ch.ds, **life)
_ = ch.export(at_risk.to_pandas(), "at_risk_users")
gb.glue("ret_at_risk_users", n_at_risk)

# %% [markdown]
# **发现 (finding).** 分析日当天有 {glue:text}`ret_at_risk_users:,` 名用户处于沉睡期（不活跃满
# {glue:text}`ret_dormant_days` 天、不足 {glue:text}`ret_churn_days` 天、没有持有中的产品）：他们还召得回来。
# 名单（用户 ID、不活跃天数、注册渠道、投资次数与金额）写在本次运行的私有 `exports/` 目录，
# 不进入发布的报告。
#
# **运营建议 (action).** 按不活跃天数从短到长触达：刚进入沉睡的人回应率最高。名单交给第 6 章的
# 闭环复盘：留出对照组，召回效果才能算清楚。

# %% [markdown]
# ## 生存曲线 (survival: how long investors stay)
#
# 从首投到流失的时间：一个用户的"活跃寿命"从首投日到他最后一次活跃或持有到期的那天（之后连续
# {glue:text}`ret_churn_days` 天没有回来）。流失要等满阈值才能确认，所以还没满的用户按截尾处理
# (Kaplan-Meier, lifelines)，不会被当成流失，也不会被当成一直留存。

# %%
surv = retention.survival(ch.ds, by="signup_channel", churn_days=churn_days, days=(30, 90, 180))
gb.glue_all("ret", retention.survival_summary(surv, min_users=100))
ax = plots.survival_curves(surv.curves)
gb.show(ax.figure)

# %%
ch.table(surv.at_days, "survival_by_channel", "按注册渠道：首投后 30 / 90 / 180 天仍在活跃寿命内的比例与中位寿命（天）；空白为观察期不够或未降到一半",
         formats={"s_30": "{:.1%}", "s_90": "{:.1%}", "s_180": "{:.1%}", "median_days": "{:.0f}"})

# %%
ch.table(surv.curves, "survival_curves", "Kaplan-Meier 曲线：每个渠道每个有事件或截尾的天的生存率、95% 区间与风险集人数",
         formats={"survival": "{:.3f}", "ci_lower": "{:.3f}", "ci_upper": "{:.3f}"})

# %% [markdown]
# **发现 (finding).** 首投已满 {glue:text}`ret_churn_days` 天、能判断是否流失的
# {glue:text}`ret_surv_investors:,` 名投资者中（另有 {glue:text}`ret_surv_too_recent:,` 人首投太晚，还不能判断），
# 首投后仍在活跃寿命内的比例：{glue:text}`ret_surv_text`。曲线在第 30 天和第 90 天明显下台阶：这是
# 活期和 1 个月、3 个月产品到期而没有续投的人。{glue:text}`ret_surv_channel_text`。
#
# **运营建议 (action).** 用生存曲线而不是首投人数评价渠道：首投便宜但寿命短的渠道要打折看。
# 曲线的台阶就是首批产品到期的时候，续投提醒和续投权益要在到期前就位。

# %% [markdown]
# ## 客户价值 (LTV curves and CAC)
#
# 每个注册用户从注册月起累计带来的收入（交易表的收入，没有时按年化利差 × 期限估算，在投资时入账）。
# 合并曲线逐月累加：第 m 个月的人均收入只用第 m 个月已经结束的注册月份计算，所以新月份不会把
# 曲线拉低，曲线也不会因为后面几个月只剩老月份而下跌。
# CAC = 渠道花费 / 同期注册人数；没有花费的渠道（自然、老带新、未标记）没有 CAC。
#
# 概率模型 CLV (BG/NBD + Gamma-Gamma) 没有使用：它要求每个用户一行、把全部投资者搬出引擎；
# 更重要的是 BG/NBD 把长时间不交易读成"大概率已流失"，而定期产品的用户在持有期内本来就不会
# 交易，复投跟着到期走，不是泊松过程。这里给出的是按同期群实测的 LTV，不依赖模型假设。

# %%
ltv_cohort = retention.ltv_cohorts(ch.ds, horizon_months=horizon_months)
ltv_channel = retention.ltv_curves(ch.ds, by="signup_channel", horizon_months=horizon_months)
ltv_all = retention.ltv_curves(ch.ds, by=None, horizon_months=horizon_months)
cac = retention.ltv_cac(ch.ds, horizon_months=horizon_months)
gb.glue_all("ret", retention.ltv_summary(cac, ltv_all))
fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
plots.ltv_cohort_curves(ltv_cohort, ltv_all, ax=axes[0])
plots.ltv_channel_curves(ltv_channel, cac.table, ax=axes[1])
gb.show(fig)

# %%
ch.table(cac.table, "ltv_cac", f"各注册渠道的 LTV / CAC（LTV 取注册后第 m 个月的累计值）。{cac.note}",
         formats={"spend": "{:,.0f}", "cac": "{:,.1f}", "ltv": "{:,.1f}", "ltv_cac": "{:.2f}"})

# %%
ch.table(ltv_channel, "ltv_by_channel", "按注册渠道的 LTV 曲线：每注册用户累计收入（元）",
         formats={"ltv": "{:,.2f}"})

# %%
ch.table(ltv_cohort, "ltv_by_cohort", "按注册月份的 LTV 曲线；complete=False 的月份尚未结束，不给数字",
         formats={"cum_revenue": "{:,.0f}", "ltv": "{:,.2f}"})

# %% [markdown]
# **发现 (finding).** 数据中{glue:text}`ret_costs_available`渠道花费表。注册后第
# {glue:text}`ret_ltv_month` 个月，每个注册用户平均累计带来 {glue:text}`ret_ltv_at_month:,.1f` 元收入。
# {glue:text}`ret_ltv_cac_text`。比值低于 1 说明在这个期限内收入还没收回获客成本。
#
# **运营建议 (action).** 预算向 LTV/CAC 高的渠道倾斜，但要看曲线是否还在上升：收入随复投累积，
# 寿命长的渠道回本慢、回得多。LTV/CAC 长期低于 1 的渠道先压缩出价或换人群，再谈加量。

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
import datetime as dt

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.patches import Rectangle

import growthloop.book as gb
from growthloop import retention, theme

ch = gb.chapter("05_lifecycle_retention", data, analysis_date, out_dir, min_cell_size, channel_map)
life = dict(dormant_days=dormant_days, churn_days=churn_days)
pct = lambda v, _p: f"{v:.0%}"  # noqa: E731

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
pooled = retention.pooled_curve(cohorts)
latest = retention.compare_latest(cohorts, period=1)
gb.glue("ret_cohorts", int(cohorts.cohort.nunique()))
gb.glue("ret_running_cells", int((~cohorts.complete).sum()))
gb.glue("ret_p1_rate", float(pooled.set_index("period").rate.get(1, float("nan"))))
gb.glue("ret_latest_cohort", latest["latest_cohort"])
gb.glue("ret_latest_p1", latest["latest_rate"])
gb.glue("ret_prev_cohort", latest["previous_cohort"])
gb.glue("ret_prev_p1", latest["previous_rate"])
gb.glue("ret_p1_change_pp", None if latest["change"] is None else 100 * latest["change"])

recent = retention.cohort_retention(
    ch.ds, cohort_by=cohort_by, unit="week", return_event=return_event, mode=mode,
    since=ch.ds.analysis_date - dt.timedelta(weeks=11))
gb.glue("ret_recent_running_cells", int((~recent.complete).sum()))
hatch = dict(facecolor="#eeeeee", edgecolor="#888888", hatch="///", lw=0.3)


def heat(table, ax, title, xlabel, fontsize=7):
    # a rate of a cell with fewer than min_cell_size returners would give their count away
    values, running = retention.retention_matrix(
        table.assign(rate=table.rate.where(~table.retained.map(lambda n: gb.is_small(n, ch.min_cell)))))
    values.index = [str(c) for c in values.index]
    sns.heatmap(values, mask=values.isna(), annot=True, fmt=".0%", cmap="YlGnBu", vmin=0,
                cbar_kws={"format": "{x:.0%}", "label": "留存率", "shrink": 0.8},
                annot_kws={"fontsize": fontsize}, ax=ax)
    for i, j in zip(*running.to_numpy().nonzero(), strict=True):
        ax.add_patch(Rectangle((j, i), 1, 1, **hatch))
        ax.text(j + 0.5, i + 0.5, "进行中", ha="center", va="center", fontsize=fontsize - 1)
    ax.grid(False)
    ax.set(xlabel=xlabel, ylabel="同期群 (cohort)", title=title)


unit_cn = {"day": "日", "week": "周", "month": "月"}
fig, axes = plt.subplots(2, 1, figsize=(10, 0.3 * (len(cohorts.cohort.unique()) + recent.cohort.nunique()) + 3.5),
                         gridspec_kw={"height_ratios": [max(cohorts.cohort.nunique(), 1), max(recent.cohort.nunique(), 1)]})
heat(cohorts, axes[0], f"同期群留存 (return event: {return_event}, mode: {mode})",
     f"进入后的第 k 个{unit_cn[cohort_unit]} (period k)")
heat(recent, axes[1], "最近 12 周的周同期群：斜线灰格是还没过完的一周，不是 0",
     "进入后的第 k 周 (period k)")
gb.show(fig)

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
curves = cohorts[cohorts.complete].assign(cohort=lambda t: t.cohort.astype(str))
fig, ax = plt.subplots(figsize=(9, 4.5))
sns.lineplot(curves, x="period", y="rate", hue="cohort", palette="crest", lw=1, alpha=0.7,
             legend=False, ax=ax)
sns.lineplot(pooled, x="period", y="rate", color="black", lw=2.5, marker="o", label="合并 (pooled)", ax=ax)
ax.yaxis.set_major_formatter(pct)
ax.set(xlabel="进入后的第 k 个周期", ylabel="留存率", title="每个同期群的留存曲线（颜色越深越新），黑线为合并曲线")
gb.show(fig)

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
nth_head = retention.nth_summary(nth)
nth_channel = retention.nth_investment(ch.ds, max_n=5, by="signup_channel")
nth_term = retention.nth_investment(ch.ds, max_n=5, by="first_term")
second_by_term = retention.extremes(nth_term[nth_term.n == 2], "rate_from_previous",
                                    min_users=30, users="users")
gb.glue("ret_first_investors", nth_head["first_investors"])
gb.glue("ret_second_rate", nth_head["second_rate"])
gb.glue("ret_fifth_rate", nth_head["last_rate"])
gb.glue("ret_weakest_n", nth_head["weakest_n"])
gb.glue("ret_weakest_rate", nth_head["weakest_rate"])
gb.glue("ret_second_gap_days", nth_head["second_gap_days"])
gb.glue("ret_best_term", second_by_term["best"])
gb.glue("ret_best_term_rate", second_by_term["best_value"])
gb.glue("ret_worst_term", second_by_term["worst"])
gb.glue("ret_worst_term_rate", second_by_term["worst_value"])

fig, axes = plt.subplots(1, 2, figsize=(11, 4.3))
sns.barplot(nth, x="n", y="users", color=sns.color_palette()[0], ax=axes[0])
for i, row in nth.iterrows():
    axes[0].text(i, row.users, f"{row.rate_from_first:.0%}", ha="center", va="bottom", fontsize=9)
axes[0].set(xlabel="第 n 次投资", ylabel="人数", title="投资满 n 次的人数（标注：占首投人数）")
sns.lineplot(nth_term, x="n", y="rate_from_first", hue="group", hue_order=retention.term_order(nth_term.group),
             marker="o", ax=axes[1])
axes[1].yaxis.set_major_formatter(pct)
axes[1].set_xticks(nth.n)
axes[1].set(xlabel="第 n 次投资", ylabel="占首投人数", title="按首投产品期限")
axes[1].legend(title="首投期限", fontsize=8)
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
life_head = retention.lifecycle_summary(states, flows)
gaps = retention.comeback_gaps(ch.ds).set_index("days")
gb.glue("ret_state_period", life_head["period"])
gb.glue("ret_active_base_now", life_head["active_base_now"])
gb.glue("ret_dormant_now", life_head["dormant_now"])
gb.glue("ret_churned_now", life_head["churned_now"])
gb.glue("ret_dormant_back", life_head["dormant_back"])
gb.glue("ret_dormant_churn", life_head["dormant_churn"])
gb.glue("ret_comeback_60", float(gaps.share_within.get(60, float("nan"))))
gb.glue("ret_comeback_180", float(gaps.share_within.get(180, float("nan"))))
gb.glue("ret_dormant_days", dormant_days)
gb.glue("ret_churn_days", churn_days)

shown = states.assign(period=states.period.astype(str),
                      state=states.state.map(retention.STATE_LABELS))
order = [retention.STATE_LABELS[s] for s in retention.STATES]
colors = theme.segment_palette(order)
fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [3, 2]})
sns.histplot(shown, x="period", weights="users", hue="state", hue_order=order, multiple="stack",
             palette=colors, shrink=0.85, discrete=True, ax=axes[0])
axes[0].tick_params(axis="x", rotation=90, labelsize=7)
axes[0].set(xlabel="月份（最后一个月截至分析日）", ylabel="用户数", title="每月末的生命周期状态")
axes[0].get_legend().set_title("状态")
sns.heatmap(matrix.rename(index=retention.STATE_LABELS, columns=retention.STATE_LABELS),
            annot=True, fmt=".0%", cmap="Blues", vmin=0, vmax=1, cbar=False, ax=axes[1])
axes[1].set(xlabel="下个月末 (to)", ylabel="本月末 (from)", title="状态流转（各完整月合计，行和为 100%）")
gb.show(fig)

# %%
ch.table(states, "lifecycle_states", "每月末各状态的用户数；complete=False 的月份截至分析日", complement="period")

# %%
ch.table(flows, "lifecycle_flows", "从上月末状态到本月末状态的人数；(entry) 为首次进入")

# %%
ch.table(matrix.reset_index(), "lifecycle_transition_matrix", "状态流转矩阵：各完整月合计，行内占比",
         formats={s: "{:.1%}" for s in retention.STATES})

# %%
ch.table(gaps.reset_index(), "comeback_gaps", "回来的用户离开了多久：不活跃（无操作、无持有）天数不超过 days 的比例",
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
surv = retention.survival_data(ch.ds, by="signup_channel", churn_days=churn_days)
km = retention.kaplan_meier(surv)
at_days = retention.survival_at(km, days=(30, 90, 180))
overall_data = retention.survival_data(ch.ds, churn_days=churn_days)
overall = retention.survival_at(retention.kaplan_meier(overall_data), days=(30, 90, 180)).iloc[0]
known = [d for d in (30, 90, 180) if pd.notna(overall[f"s_{d}"])]  # days the data can already show
gb.glue("ret_surv_investors", int(overall.users))
gb.glue("ret_surv_too_recent", int(overall_data.attrs["too_recent"]))
gb.glue("ret_surv_text", "，".join(f"{d} 天 {overall[f's_{d}']:.1%}" for d in known)
        or "数据的时间跨度还不够，读不出")
surv_channel_text = "还没有两个以上的渠道有足够的投资者（至少 100 名）和观察期可以比较"
for d in reversed(known):  # the longest day at which at least two channels can be compared
    by_day = retention.extremes(at_days, f"s_{d}", min_users=100, users="users")
    if by_day["best"] is not None and by_day["best"] != by_day["worst"]:
        surv_channel_text = (f"在至少 100 名投资者的渠道里，{d} 天留存最好的是 {by_day['best']} "
                             f"({by_day['best_value']:.1%})，最差的是 {by_day['worst']} ({by_day['worst_value']:.1%})")
        break
gb.glue("ret_surv_channel_text", surv_channel_text)

channels = sorted(km.group.unique())
fig, ax = plt.subplots(figsize=(9, 4.8))
sns.lineplot(km, x="day", y="survival", hue="group", hue_order=channels,
             palette=theme.channel_palette(channels), drawstyle="steps-post", ax=ax)
ax.yaxis.set_major_formatter(pct)
ax.set(xlabel="首投后的天数", ylabel="仍在活跃寿命内的比例", ylim=(0, 1.02),
       title="按注册渠道的生存曲线 (Kaplan-Meier，已处理截尾)")
ax.legend(title="注册渠道", fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
gb.show(fig)

# %%
ch.table(at_days, "survival_by_channel", "按注册渠道：首投后 30 / 90 / 180 天仍在活跃寿命内的比例与中位寿命（天）；空白为观察期不够或未降到一半",
         formats={"s_30": "{:.1%}", "s_90": "{:.1%}", "s_180": "{:.1%}", "median_days": "{:.0f}"})

# %%
ch.table(km, "survival_curves", "Kaplan-Meier 曲线：每个渠道每个有事件或截尾的天的生存率、95% 区间与风险集人数",
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
cac = retention.ltv_cac(ch.ds, horizon_months=horizon_months)
ltv_all = retention.ltv_curves(ch.ds, by=None, horizon_months=horizon_months).set_index("month")
ratio = retention.extremes(cac.table, "ltv_cac", label="channel")
gb.glue("ret_costs_available", "有" if cac.costs_available else "没有")
gb.glue("ret_ltv_month", int(cac.table.ltv_month.iloc[0]) if len(cac.table) else 0)
gb.glue("ret_ltv_at_month", float(ltv_all.ltv.get(int(cac.table.ltv_month.iloc[0]), float("nan"))))
if ratio["best"] is not None:
    ltv_cac_text = (f"LTV/CAC 最高的渠道是 {ratio['best']} ({ratio['best_value']:.2f})，"
                    f"最低的是 {ratio['worst']} ({ratio['worst_value']:.2f})")
else:
    ltv_cac_text = f"LTV/CAC 无法计算 (not available)：{cac.note}"
gb.glue("ret_ltv_cac_text", ltv_cac_text)

channels = sorted(ltv_channel.group.unique())
palette = theme.channel_palette(channels)
fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
sns.lineplot(ltv_cohort[ltv_cohort.complete].assign(cohort=lambda t: t.cohort.astype(str)),
             x="month", y="ltv", hue="cohort", palette="crest", lw=1, legend=False, ax=axes[0])
sns.lineplot(ltv_all.reset_index(), x="month", y="ltv", color="black", lw=2.5, label="合并 (pooled)", ax=axes[0])
axes[0].set(xlabel="注册后的月数", ylabel="每注册用户累计收入 (元)", title="按注册月份的 LTV 曲线（颜色越深越新）")
sns.lineplot(ltv_channel, x="month", y="ltv", hue="group", hue_order=channels, palette=palette, ax=axes[1])
for row in cac.table.dropna(subset=["cac"]).itertuples():
    if row.channel in palette:
        axes[1].axhline(row.cac, color=palette[row.channel], ls="--", lw=1)
axes[1].set(xlabel="注册后的月数", ylabel="元", title="按注册渠道的 LTV（实线）与 CAC（虚线）")
axes[1].legend(title="注册渠道", fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
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

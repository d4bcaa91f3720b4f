# %% [markdown]
# # 7 下一轮活动
#
# 术语：{term}`闭环`、{term}`实验组`、{term}`对照组`、{term}`增量`、{term}`SRM`、{term}`滞留用户`、{term}`触发营销`；全部术语见 {ref}`glossary`。
#
# 营销闭环是“计划 → 执行 → 评估 → 复盘 → 再计划”。前面几章说了该找谁：卡在漏斗半路的人（第 2 章）、
# RFM 分群（第 4 章）、沉睡可召回的人（第 5 章）、上一轮复盘给出的下一轮名单（第 6 章）。本章把其中一群人
# 变成一次可以直接执行的活动：一行活动记录、一份带随机对照组的名单，上传到短信 / 推送 / 微信平台就能发送；
# 发完之后，同样两张表原样放回数据目录，就是第 6 章下一次复盘的输入。本章只展示汇总数字，名单本身只写入
# 本次运行的私有 `exports/` 目录。
#
# 口径：默认人群跟随摘要里排在最前、指向一群人的行动（也可以用参数指定）。依次排除：正在进行的其他
# 活动的成员（无论实验组还是对照组：窗口 (start_at, start_at + window_days] 覆盖本轮开始时间的活动）、开始前
# `frequency_cap_days` 天内发送过活动消息的人、已退订营销消息的人 (users.contact_opt_out)，再按人群自己的
# 优先顺序截到预算以内（实验组的发送成本加预期奖励，对照组不花钱）。对照组在每一层（人群对应的分群）里按同一
# 比例抽取：每层 n 人中 user_id 加种子的 MD5 哈希最小的 ⌊n × 比例 + ½⌋ 人，同样的计划和种子总是得到同样的名单。
# 比例默认取“能以 80% 检验力检出计划增量”的最小值（10%–50%，整百分点），计划增量和基线取自上一轮同类活动
# （同一目标、有对照组、窗口已结束、与本轮名单重合最多）。

# %% tags=["parameters"]
data = None  # dataset folder, the bundled demo (data/demo) when None
analysis_date = None  # YYYY-MM-DD, else dataset.yml's, else the last event day
out_dir = None  # where tables/ and exports/ go; None: beside the output notebook (papermill), the project for the demo
min_cell_size = 10  # smallest count of people a published table or figure label shows, smaller ones show as <10
channel_map = {}  # extra UTM source aliases for this run, {source: channel}, added to dataset.yml's channel map
chapters_dir = None  # folder of the executed chapters whose first action sets the audience, out_dir's chapters when None
plan_audience = None  # the people: stalled_card, stalled_invest, at_risk, next_round or rfm:<segment or group label>; None for the summary's first action that names people
plan_channel = None  # sms, push, wechat, edm or in_app; None for the last round's channel, else sms
plan_goal = None  # first_investment, any_investment, amount or an event of the data such as bind_card; None for the audience's goal
plan_window_days = None  # response window in days; None for the last round's, else 14 for an investment goal and 7 for another
plan_start = None  # planned send, YYYY-MM-DD (at 10:00) or YYYY-MM-DD HH:MM; None for 10:00 on the day after the analysis date
plan_cost_per_send = None  # yuan per message; None for the last round's
plan_cost_per_reward = None  # yuan per reward paid to a responder; None for the last round's
plan_budget = 2000.0  # yuan for the sends and their expected rewards; the list is cut in the audience's priority order; None for no limit
plan_holdout_share = None  # share of the list held out (not sent), between 0 and 1; None for the smallest that detects the planned uplift
plan_expected_uplift = None  # planned absolute uplift of the response rate (0.03 is 3 points); None for the last round's measured uplift
plan_power = 0.8  # chance of detecting the planned uplift that the holdout share is chosen for
plan_basis_campaign = None  # the campaign_id whose baseline and uplift the plan uses; None for the last round of the same goal with a holdout
plan_exclude_running = True  # leave out members (either group) of campaigns whose window covers the planned start
frequency_cap_days = 14  # leave out users sent a campaign message within this many days before the start; 0 or None for no cap
plan_exclude_opt_out = True  # leave out users whose users.contact_opt_out is true
plan_seed = None  # seed of the holdout draw; None for the planned start day as YYYYMMDD, so every round holds out other people
stall_card_hours = 24  # as chapter 2, stalled_card: registered but no bound card after this many hours
stall_invest_days = 7  # as chapter 2, stalled_invest: bound a card but no investment after this many days
stall_lookback_days = 30  # as chapter 2: only stalls that began within this many days of the analysis date
return_event = "investment"  # as chapter 5, at_risk: what counts as activity, investment, any or an event of the data
dormant_days = 60  # as chapter 5, at_risk: whole days without activity or a live holding before a user is dormant
churn_days = 180  # as chapter 5, at_risk: whole days without activity or a live holding before a user is churned
period_days = 365  # as chapter 4, rfm: F and M over this many natural days ending on the analysis date; None for all history
monetary = "amount"  # as chapter 4, rfm: M measure, amount or revenue
split = "mean"  # as chapter 4, rfm: high/low split, mean, median or score
score_bins = 5  # as chapter 4, rfm: number of score bands, 2 to 10
score_threshold = None  # as chapter 4, rfm: with split score the lowest high score; None for the middle score
campaign_id = None  # as chapter 6, next_round: the campaign reviewed; None for the latest with a holdout, else the latest with members
response_days = None  # as chapter 6, next_round: response window in days, None for the campaign's own window_days
goal = None  # as chapter 6, next_round: the reviewed campaign's goal, None for the campaign's goal
segment_breakdowns = ["age_band", "layer", "signup_channel"]  # as chapter 6, next_round: segment breakdowns, the first that splits the members is used
pre_days = 90  # as chapter 6, next_round: days before the campaign that count as pre-campaign behaviour
alpha = 0.05  # as chapter 6: significance level (two-sided) of every interval, test and MDE
next_round_budget = 500.0  # as chapter 6, next_round: the next round's budget in yuan that picks its segments (None for no limit)

# %%
from pathlib import Path

import growthloop.book as gb
from growthloop import summary
from growthloop.metrics import plan
from growthloop.present.findings import plan as words

ch = gb.chapter("07_next_campaign", data, analysis_date, out_dir, min_cell_size, channel_map,
                figures=False)
folder = Path(chapters_dir) if chapters_dir else next(p for p in (ch.out_dir / "chapters", ch.out_dir) if p.is_dir())
book = summary.collect(folder)
choice = plan.audience_for([a.name for a in book.actions], book.get("funnel_stalled_card"),
                           book.get("funnel_stalled_invest"), plan_audience)
action_text = next((a.text for a in book.actions if a.name == choice["action"]), "")
options = dict(
    stalled=dict(card_hours=stall_card_hours, invest_days=stall_invest_days, lookback_days=stall_lookback_days),
    lifecycle=dict(activity_event=return_event, dormant_days=dormant_days, churn_days=churn_days),
    rfm_options=dict(period_days=period_days, monetary=monetary, bins=score_bins, split=split, score_threshold=score_threshold),
    review=dict(campaign_id=campaign_id, window_days=response_days, goal=goal, breakdowns=segment_breakdowns,
                budget=next_round_budget, alpha=alpha, pre_days=pre_days),
)
aud = nc = None
PCT = "{:.1%}"

# %% [markdown]
# ## 人群与来由
#
# 对照组在每一层里按同一比例抽取，这一层就是下表的分组：滞留用户按注册渠道，沉睡用户按不活跃天数段，
# RFM 人群按分群，下一轮名单按第 6 章复盘用的分群。

# %%
with ch.section("audience", "人群与来由") as s:
    aud = (plan.audience(ch.ds, choice["audience"], **options) if choice["audience"]
           else plan.first_available(ch.ds, **options))
    head = plan.audience_summary(aud, choice)
    gb.glue_all("plan", head)
    ch.table(plan.strata_table(aud), "plan_audience", f"人群按{aud.stratum_name}分层的人数与占比",
             formats={"share": PCT}, complement=[])
    s.finding(*words.audience(head, action_text, ch.cell_label))

# %% [markdown]
# ## 运营规则
#
# 每条规则排除多少人：一个人只记在第一条排除他的规则下，所以各行相加等于被排除的总数；剩下的人数见下面的发现。

# %%
with ch.section("rules", "运营规则") as s:
    plan.require(aud)
    nc = plan.next_campaign(
        ch.ds, aud, channel=plan_channel, goal=plan_goal, window_days=plan_window_days, start=plan_start,
        cost_per_send=plan_cost_per_send, cost_per_reward=plan_cost_per_reward, budget=plan_budget,
        holdout_share=plan_holdout_share, expected_uplift=plan_expected_uplift,
        exclude_running=plan_exclude_running, frequency_cap_days=frequency_cap_days,
        exclude_opt_out=plan_exclude_opt_out, seed=plan_seed, alpha=alpha, power=plan_power,
        basis_campaign=plan_basis_campaign)
    head = plan.rules_summary(nc)
    gb.glue_all("plan", head)
    ch.table(nc.rules[["label", "setting", "excluded"]], "plan_rules",
             "按顺序应用的运营规则：设置与排除的人数 (一个人只记在第一条排除他的规则下)", counts=["excluded"], complement=[])
    s.finding(*words.rules(head, ch.cell_label))

# %% [markdown]
# ## 对照组与检验力
#
# 对照组越大，能检出的增量 (MDE) 越小，但少发的人也越多。下表是同一份名单在不同对照组比例下的 MDE；
# “能否检出”为是，表示计划增量不小于 MDE。

# %%
with ch.section("holdout", "对照组与检验力") as s:
    plan.require(nc, "计划")
    head = plan.holdout_summary(nc)
    gb.glue_all("plan", head)
    ch.table(plan.power_table(nc), "plan_power", "同一份名单在不同对照组比例下的实验组、对照组人数与 MDE（“是否选中”为是的一行是本轮的比例）",
             formats={"holdout_share": "{:.0%}", "mde": "{:.2%}"})
    s.finding(*words.holdout(head, ch.cell_label))

# %% [markdown]
# ## 预期效果与成本
#
# 增量响应者 = 实验组人数 × 计划增量；成本 = 发送条数 × 单条成本 + 实验组人数 × 预期响应率 × 单次奖励
# （和第 6 章一样，奖励发给每一个响应者，包括本来就会响应的人）。

# %%
with ch.section("expected", "预期效果与成本") as s:
    plan.require(nc, "计划")
    e = plan.expected(nc)
    gb.glue_all("plan_exp", e)
    ch.table(plan.expected_table(e), "plan_expected", "本轮计划：人数、基线与预期响应率、计划增量与 MDE、预期增量响应者与成本",
             formats={"baseline": PCT, "rate_t": PCT, "uplift": "{:+.2%}", "mde": "{:.2%}", "expected_incremental": "{:,.1f}",
                      "expected_cost": "{:,.2f}", "cost_per_incremental": "{:,.2f}"})
    s.finding(*words.expected(e, ch.cell_label))

# %% [markdown]
# ## 活动包
#
# 两份文件，列与数据契约的 campaigns、campaign_members 相同：发送后补上 sent_at 放回数据目录，就是下一次复盘的输入。
# 这里只列出活动记录和每一层的人数，名单本身不进入报告。

# %%
with ch.section("package", "活动包") as s:
    plan.require(nc, "计划")
    row, members = plan.package(nc)
    plan.write_package(ch, row, members)
    checks = plan.package_checks(nc)
    gb.glue_all("plan_pkg", checks)
    ch.table(plan.campaign_card(row), "plan_campaign", "活动表的一行 (campaign.csv)", counts=())
    ch.table(plan.strata_book_table(nc), "plan_package_strata", f"名单按{aud.stratum_name}分层：人数、对照组人数与比例 (计划比例在每层取整)",
             formats={"holdout_share": PCT, "planned_share": "{:.0%}"}, complement=[])
    s.finding(*words.package(checks, plan.package_files(ch.slug, gb.EXPORTS_DIR),
                             plan.channel_label(row.channel.iloc[0]), row.start_at.iloc[0][:16], ch.cell_label))

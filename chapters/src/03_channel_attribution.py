# %% [markdown]
# # 3 渠道归因
#
# 术语：{term}`UTM`、{term}`归因`、{term}`马尔可夫归因`、{term}`Shapley 归因`、{term}`获客成本`、{term}`LTV`、{term}`ROI`；全部术语见 {ref}`glossary`。
#
# 互联网金融平台拉来一个投资用户要花上百元，钱分散在搜索广告、应用商店、信息流、社交媒体、
# 联盟和商务合作等渠道上。本章回答：每个渠道花了多少钱、带来了多少注册和首投用户、这些用户
# 在首投后的几个期限（参数 horizons）里贡献了多少收入；一个用户在转化前往往接触过好几个渠道，
# 不同的归因模型各自把功劳分给谁、分歧在哪里；以及下一元预算应该投向哪里。
#
# :::{admonition} 口径
# :class: dropdown
# UTM 值统一做 URL 解码、去空格、转小写后再按渠道表归并（默认渠道表里 "Baidu"、
# " baidu"、"bd_sem" 都算百度搜索）；没有来源的触点记为 **未标记**，照样计数和展示，不丢弃。
# 注册前的匿名点击通过设备 (anonymous_id) 上的注册事件归到用户身上。用户的获客渠道是注册时记录的
# UTM，没有时取注册前最后一个有标记的触点。收入按首投后 h 天内的投资计算，**只有首投已满 h 天的
# 用户进入平均值**：刚首投的用户还没来得及贡献收入，不能把渠道的价值拉低。ROI 和 LTV/CAC 按平台收入
# （不是利润）计算。渠道之间的比较（谁最便宜、谁回报最高）只在渠道背后有足够多的用户时才做，人数太少的
# 渠道照样列在表里，但不参与排名。
# :::

# %% tags=["parameters"]
data = None  # dataset folder, the bundled demo (data/demo) when None
analysis_date = None  # YYYY-MM-DD, else dataset.yml's, else the last event day
out_dir = None  # where tables/ and exports/ go; None: beside the output notebook (papermill), the project for the demo
min_cell_size = 10  # smallest count of people a published table or figure label shows, smaller ones show as <10
channel_map = {}  # extra UTM source aliases for this run, {source: channel}, added to dataset.yml's channel map
conversion = "first_investment"  # the conversion to attribute, first_investment, second_investment or an event name such as register
lookback_days = 30  # touches up to this many days before the conversion count
models = ["first_touch", "last_touch", "last_non_direct", "linear", "time_decay", "position_based", "markov", "shapley"]  # attribution models to compare
half_life_days = 7  # time decay, a touch's weight halves every this many days before the conversion
markov_order = 1  # Markov chain order, 1 (default) or higher (states are the last k channels)
shapley_exact_max = 12  # exact Shapley up to this many channels, seeded permutation sampling beyond
touch_events = None  # events that are marketing touches (names or {event, where}); None for the touch roles the data has, ad_click and link_click
direct_events = []  # events counted as direct visits when they carry no UTM, e.g. app_open
horizons = [30, 90, 180]  # revenue horizons in days after the first investment
revenue_horizon_days = 180  # the horizon used as investor value (LTV), one of horizons
retention_days = 90  # a retained investor invests again within this many days of the first
budget_shift = 0.1  # share of the weakest channel's budget to move in the budget example
trend_weeks = 12  # complete natural weeks (Monday to Sunday) in the weekly trend, the newest last
trend_invest_days = 30  # the weekly trend's first-investment window after sign-up, in days

# %%
from functools import partial

import growthloop.book as gb
from growthloop import attribution, plots
from growthloop.present.findings import attribution as words

ch = gb.chapter("03_channel_attribution", data, analysis_date, out_dir, min_cell_size, channel_map)
horizons = attribution.check_horizons(horizons, revenue_horizon_days)
h = revenue_horizon_days
touch, absent = attribution.default_touch_events(ch.ds) if touch_events is None else (touch_events, ())
if absent:
    gb.note(words.touch_note(touch, absent))
# every section asks the library with the same parameters (the sums are computed once per dataset)
monitor_of = partial(attribution.channel_monitor, ch.ds, horizons=horizons, ltv_horizon=h,
                     retention_days=retention_days, touch_events=touch)
paths_of = partial(attribution.attribution_paths, ch.ds, conversion=conversion, lookback_days=lookback_days,
                   half_life_days=half_life_days, touch_events=touch, direct_events=direct_events)
credits_of = partial(attribution.attribute, models=models, markov_order=markov_order,
                     shapley_exact_max=shapley_exact_max)
money = "{:,.0f}"
per = "{:,.1f}"
monitor_formats = {
    "spend": money, "cost_per_registration": per, "cost_per_investor": per,
    "first_invest_amount": money, "avg_first_invest": money, "revenue_per_yuan": "{:.2f}",
    "retained_rate": "{:.1%}", "cost_per_retained_investor": per,
    **{f"revenue_{d}d": per for d in horizons}, **{f"roi_{d}d": "{:+.0%}" for d in horizons},
    **{f"revenue_{d}d_sum": money for d in horizons},
}

# %% [markdown]
# ## 渠道监控表
#
# 每个渠道从点击、安装、注册、绑卡到首投的人数，以及花费、获客成本、首投后各期限的收入、ROI 与
# LTV/CAC；没有成本表时花费类各列留空，只看量和收入。

# %%
with ch.section("monitor", "渠道监控表") as s:
    monitor = monitor_of()
    by_campaign = monitor_of(by="campaign")
    volumes = attribution.monitor_summary(monitor)
    gb.glue_all("attr", volumes)
    ch.table(monitor, "channel_monitor", f"渠道监控表：各步骤人数、花费、获客成本、首投后 {'/'.join(map(str, horizons))} 天收入 (只计已满期的用户)、ROI 与 LTV/CAC", formats=monitor_formats)
    s.finding(*words.monitor(volumes, ch.cell_label))

# %% tags=["hide-output"] mystnb={"code_prompt_show": "展开明细：按来源 × 媒介 × 活动拆开的监控表"}
if s.shown:
    ch.table(by_campaign, "channel_monitor_campaign", "按来源 × 媒介 × 活动 (utm_campaign) 拆开的监控表；'-' 表示该字段为空", formats=monitor_formats)

# %% [markdown]
# ## 获客成本：首投用户与留存投资用户
#
# 口径：每个首投用户的成本 = 花费 / 首投人数；每个留存投资用户的成本 = 花费 / (首投人数 × 留存率)，
# 留存投资用户指首投后 `retention_days` 天内复投的人，留存率只用首投已满这么多天的人计算。

# %%
with ch.section("acquisition_cost", "获客成本：首投用户与留存投资用户") as s:
    monitor = monitor_of()
    cost = attribution.cost_summary(monitor)
    gb.glue_all("attr", cost)
    gb.show(plots.cost_bars(monitor, retention_days).figure)
    s.finding(*words.acquisition_cost(cost, retention_days, h))

# %% [markdown]
# ## 每周趋势：获客成本与首投率
#
# 按自然周（周一到周日，数据所在时区）看每个渠道的获客成本/注册和注册后 `trend_invest_days` 天内的首投率，
# 并把最近 4 周与之前 4 周相比（环比）。用户按注册渠道（与监控表同一口径）归入注册所在的周，花费按成本日期归周；
# 首投率只画注册已满 `trend_invest_days` 天的周。

# %%
with ch.section("weekly_trend", "每周趋势：获客成本与首投率") as s:
    trend = attribution.weekly_trend(ch.ds, trend_weeks, trend_invest_days, touch)
    tsum = attribution.trend_summary(trend, min_users=min_cell_size)
    gb.show(plots.weekly_trend_lines(trend, attribution.trend_channels(trend), label=ch.cell_label)[0].figure)
    s.finding(*words.weekly_trend(tsum, trend_invest_days, min_cell_size))

# %% tags=["hide-output"] mystnb={"code_prompt_show": "展开明细：每个渠道每周的数字"}
if s.shown:
    ch.table(trend, "weekly_trend", f"每个渠道每周的注册、花费、获客成本/注册与 {trend_invest_days} 天首投率", formats={"spend": money, "cost_per_registration": per, "first_invest_rate": "{:.1%}"})

# %% [markdown]
# ## UTM 清洗与身份拼接

# %%
with ch.section("utm", "UTM 清洗与身份拼接") as s:
    monitor = monitor_of()
    utm = attribution.utm_quality(ch.ds, touch)
    cleaning = attribution.utm_summary(utm, attribution.stitching(ch.ds, touch), monitor)
    gb.glue_all("attr", cleaning)
    gb.show(plots.count_bars(attribution.channels_by_clicks(monitor), x="clicks", y="channel", palette="channel",
                             xlabel="触点数", title="各渠道的触点数 (清洗后；未标记单独列出)",
                             figsize=(8, 4.5)).figure)
    s.finding(*words.utm(cleaning, ch.cell_label))

# %% tags=["hide-output"] mystnb={"code_prompt_show": "展开明细：UTM 清洗的各类触点"}
if s.shown:
    ch.table(utm, "utm_quality", "UTM 清洗：未标记、写法不规范、从落地页解析和渠道表之外的触点", formats={"share": "{:.2%}"})

# %% [markdown]
# ## 获客成本与用户价值
#
# 口径：用户价值 = 首投满 `revenue_horizon_days` 天的用户在这段时间内的平均平台收入；每元回报
# = 用户价值 / 每个首投用户的成本，≥ 1 即回本。

# %%
with ch.section("value", "获客成本与用户价值") as s:
    budget = attribution.budget_reallocation(monitor_of(), h, shift=budget_shift)
    worth = attribution.value_summary(budget)
    gb.glue_all("attr", worth)
    gb.show(plots.value_vs_cost(budget, h).figure)
    ch.table(budget[["channel", "spend", "first_investors", "cost_per_investor", "value_per_investor", "revenue_per_yuan"]], "channel_value_vs_cost", f"付费渠道：每个首投用户的成本与 {h} 天收入 (价值)；每元回报 ≥ 1 即回本", formats={"spend": money, "cost_per_investor": per, "value_per_investor": per, "revenue_per_yuan": "{:.2f}"})
    s.finding(*words.value(worth, h))

# %% [markdown]
# ## 多触点归因：各模型并排
#
# 口径：一个人的路径是转化前 `lookback_days` 天内的触点（同一渠道连续的触点合并为一步）；没有转化的人
# 也留下一条未转化路径。每个模型分给各渠道的转化数之和都等于总转化数。

# %%
with ch.section("models", "多触点归因：各模型并排") as s:
    paths = paths_of()
    credits = credits_of(paths)
    top_paths = attribution.path_table(paths)
    journeys = attribution.paths_summary(paths, shapley_exact_max) | {
        "lookback_days": lookback_days, "half_life_days": half_life_days, "markov_order": markov_order}
    gb.glue_all("attr", journeys)
    gb.show(plots.model_heatmap(credits, attribution.MODELS, attribution.MODEL_LABELS).figure)
    s.finding(*words.models(journeys, models, ch.cell_label))

# %% tags=["hide-output"] mystnb={"code_prompt_show": "展开明细：每个渠道 × 模型的归因数与转化最多的路径"}
if s.shown:
    ch.table(credits, "attribution_models", "每个渠道 × 模型的归因转化数与占比 (每个模型的转化数之和都等于总转化数)", formats={"conversions": "{:,.1f}", "share": "{:.1%}"})
    ch.table(top_paths, "attribution_top_paths", "转化最多的路径 (同一渠道连续的触点合并为一步)", formats={"conversion_rate": "{:.1%}", "share": "{:.1%}"})

# %% [markdown]
# ## 模型分歧最大的渠道
#
# 比较的两个模型：算了末次触点和马尔可夫时比较这两个，否则比较参数 `models` 的第一个和最后一个。

# %%
with ch.section("disagreement", "模型分歧最大的渠道") as s:
    pair = attribution.model_pair(models)
    paths = paths_of()
    credits = credits_of(paths)
    disagree = attribution.disagreement(credits, paths, *pair)
    split = attribution.models_summary(credits, disagree)
    gb.glue_all("attr", split)
    gb.show(plots.disagreement_bars(disagree, attribution.MODEL_LABELS).figure)
    ch.table(disagree, "attribution_disagreement", "各模型占比、极差、两模型之差，以及渠道收尾与助攻的转化数", formats={**{m: "{:.1%}" for m in attribution.MODELS}, "spread": "{:.1%}", "diff": "{:+.1%}", "assist_ratio": "{:.2f}"})
    s.finding(*words.disagreement(split, pair, ch.cell_label))

# %% [markdown]
# ## 下一元预算投向哪里
#
# 假设：在当前规模附近，多获得一个首投用户的**边际成本等于平均成本**，新增用户的价值等于该渠道
# 现有用户在 `revenue_horizon_days` 天内收入的平均值。这只对小幅调整成立（参数 `budget_shift`，一个渠道预算的
# 一小部分）；加量更多时渠道会饱和、成本上升，需要用测试预算验证。只有首投满这个期限的用户足够多的渠道参与排序。

# %%
with ch.section("budget", "下一元预算投向哪里") as s:
    budget = attribution.budget_reallocation(monitor_of(), h, shift=budget_shift)
    plan = attribution.budget_summary(budget)
    gb.glue_all("attr", plan)
    gb.show(plots.revenue_per_yuan_bars(budget, h).figure)
    ch.table(budget, "budget_reallocation", "按每元回报排序的付费渠道与建议 (边际成本 = 平均成本的假设下)", formats={"spend": money, "cost_per_investor": per, "value_per_investor": per, "revenue_per_yuan": "{:.2f}", "investors_per_10k": per})
    s.finding(*words.budget(plan, h))

# %% [markdown]
# # 3 渠道归因 (channel attribution)
#
# 术语 (terms): {term}`UTM`、{term}`归因`、{term}`马尔可夫归因`、{term}`Shapley 归因`、{term}`获客成本`、{term}`LTV`、{term}`ROI`；全部术语见 {ref}`glossary`。
#
# 互联网金融平台拉来一个投资用户要花上百元，钱分散在搜索、应用商店、信息流、DSP、微信 KOL、
# CPA 联盟和 BD 合作上。本章回答：每个渠道花了多少钱、带来了多少注册和首投用户、这些用户
# 在 30/90/180 天里贡献了多少收入；一个用户在转化前往往接触过好几个渠道，不同的归因模型
# 各自把功劳分给谁、分歧在哪里；以及下一元预算应该投向哪里。
# (What each channel's money brings, who gets the credit under each attribution model, where the
# models disagree and why, and where the next yuan should go.)
#
# 口径 (rules): UTM 值统一做 URL 解码、去空格、转小写后再按渠道表归并（"Baidu"、" baidu"、
# "bd_sem" 都算百度搜索）；没有来源的触点记为 **未标记 (untagged)**，照样计数和展示，不丢弃。
# 注册前的匿名点击通过设备 (anonymous_id) 上的注册事件归到用户身上。用户的获客渠道是注册时记录的
# UTM，没有时取注册前最后一个有标记的触点。收入按首投后 h 天内的投资计算，**只有首投已满 h 天的
# 用户进入平均值**：刚首投的用户还没来得及贡献收入，不能把渠道的价值拉低。ROI 和 LTV/CAC 按平台收入
# （不是利润）计算。

# %% tags=["parameters"]
data = None  # dataset folder, the bundled demo (data/demo) when None
analysis_date = None  # YYYY-MM-DD, else dataset.yml's, else the last event day
out_dir = None  # where tables/ and exports/ go, the project root when None
min_cell_size = 10  # smallest count of people a published table or figure label shows, smaller ones show as <10
channel_map = {}  # extra UTM source aliases for this run, {source: channel}, added to dataset.yml's channel map
conversion = "first_investment"  # the conversion to attribute, first_investment, second_investment or an event name such as register
lookback_days = 30  # touches up to this many days before the conversion count
models = ["first_touch", "last_touch", "last_non_direct", "linear", "time_decay", "position_based", "markov", "shapley"]  # attribution models to compare
half_life_days = 7  # time decay, a touch's weight halves every this many days before the conversion
markov_order = 1  # Markov chain order, 1 (default) or higher (states are the last k channels)
shapley_exact_max = 12  # exact Shapley up to this many channels, seeded permutation sampling beyond
touch_events = ["ad_click", "link_click"]  # events that are marketing touches
direct_events = []  # events counted as direct visits when they carry no UTM, e.g. app_open
horizons = [30, 90, 180]  # revenue horizons in days after the first investment
revenue_horizon_days = 180  # the horizon used as investor value (LTV), one of horizons
retention_days = 90  # a retained investor invests again within this many days of the first
budget_shift = 0.1  # share of the weakest channel's budget to move in the budget example

# %%
import growthloop.book as gb
from growthloop import attribution, plots

ch = gb.chapter("03_channel_attribution", data, analysis_date, out_dir, min_cell_size, channel_map)
h = revenue_horizon_days
money = "{:,.0f}"
per = "{:,.1f}"
monitor_formats = {
    "spend": money, "cost_per_registration": per, "cost_per_investor": per,
    "first_invest_amount": money, "avg_first_invest": money, "ltv_cac": "{:.2f}",
    "retained_rate": "{:.1%}", "cost_per_retained_investor": per,
    **{f"revenue_{d}d": per for d in horizons}, **{f"roi_{d}d": "{:+.0%}" for d in horizons},
    **{f"revenue_{d}d_sum": money for d in horizons},
}

# %% [markdown]
# ## 渠道监控表 (the channel monitoring table)

# %%
monitor = attribution.channel_monitor(ch.ds, horizons=horizons, ltv_horizon=h, retention_days=retention_days, touch_events=touch_events)
gb.glue_all("attr", attribution.monitor_summary(monitor))
ax = plots.cost_bars(monitor, retention_days)
gb.show(ax.figure)

# %%
ch.table(monitor, "channel_monitor", f"渠道监控表：各步骤人数、花费、获客成本、首投后 {'/'.join(map(str, horizons))} 天收入 (只计已满期的用户)、ROI 与 LTV/CAC", formats=monitor_formats)

# %%
by_campaign = attribution.channel_monitor(ch.ds, by="campaign", horizons=horizons, ltv_horizon=h, retention_days=retention_days, touch_events=touch_events)
ch.table(by_campaign, "channel_monitor_campaign", "按来源 × 媒介 × 活动 (utm_campaign) 拆开的监控表；'-' 表示该字段为空", formats=monitor_formats)

# %% [markdown]
# **发现 (finding).** {glue:text}`attr_channels` 个渠道（含未标记）共带来 {glue:text}`attr_registrations:,` 个注册、
# {glue:text}`attr_investors:,` 个首投用户；数据中{glue:text}`attr_costs_available`成本表，总花费
# {glue:text}`attr_spend:,.0f` 元，按全部首投用户（含自然搜索、老带新等免费渠道）平均每人 {glue:text}`attr_cost_per_investor:,.1f` 元。
# 付费渠道里首投成本最低的是 {glue:text}`attr_cheapest`（{glue:text}`attr_cheapest_cpi:,.1f` 元），最高的是
# {glue:text}`attr_dearest`（{glue:text}`attr_dearest_cpi:,.1f` 元）。但把“留下来的用户”算进去，结论会变：
# 每个留存投资用户（首投后 {glue:text}`attr_retention_days` 天内复投）成本最低的是
# {glue:text}`attr_best_retained`（{glue:text}`attr_best_cost_per_retained:,.1f` 元）——便宜的首投不等于便宜的好用户。
#
# **运营建议 (action).** 渠道考核从“首投成本”改为“留存投资用户成本”和 {glue:text}`attr_horizon` 天收入，
# 首投便宜但复投率低的渠道（常见于 CPA 联盟的羊毛党）要按留存结算或压价。

# %% [markdown]
# ## UTM 清洗与身份拼接 (UTM cleaning and identity stitching)

# %%
utm = attribution.utm_quality(ch.ds, touch_events)
gb.glue_all("attr", attribution.utm_summary(utm, attribution.stitching(ch.ds, touch_events), monitor))
clicks = monitor[monitor.channel != attribution.TOTAL].sort_values("clicks", ascending=False)
ax = plots.count_bars(clicks, x="clicks", y="channel", palette="channel", xlabel="触点数 (touches)",
                      title="各渠道的触点数 (清洗后；未标记单独列出)", figsize=(8, 4.5))
gb.show(ax.figure)

# %%
ch.table(utm, "utm_quality", "UTM 清洗：未标记、写法不规范、从落地页解析和渠道表之外的触点", formats={"share": "{:.2%}"})

# %% [markdown]
# **发现 (finding).** {glue:text}`attr_touches:,` 个触点中有 {glue:text}`attr_untagged_touches:,` 个没有来源
# （{glue:text}`attr_untagged_share:.1%`），它们记为“未标记”留在表里；{glue:text}`attr_cleaned_touches:,` 个来源写法不规范
# （大小写、空格、URL 编码），清洗后归入正确渠道；{glue:text}`attr_url_touches:,` 个从落地页 URL 解析，
# {glue:text}`attr_unmapped_touches:,` 个来源不在渠道表里（按原名单列）。注册用户中未标记的有
# {glue:text}`attr_untagged_registrations:,` 人（{glue:text}`attr_untagged_reg_share:.1%`）。
# {glue:text}`attr_anonymous_touches:,` 个匿名触点里有 {glue:text}`attr_stitched_touches:,` 个通过设备拼接到了注册用户
# （{glue:text}`attr_stitch_rate:.1%`；其余来自从未注册的设备），{glue:text}`attr_touch_coverage:.1%` 的注册用户在注册前有可追踪的触点。
#
# **运营建议 (action).** 投放链接统一用小写、下划线的 UTM 模板，并在投放平台后台强制必填 utm_source；
# 渠道表之外的来源（如 CRM 短信、推送）在 dataset.yml 的渠道表里补上别名，未标记占比每月跟踪。

# %% [markdown]
# ## 获客成本与用户价值 (cost per investor against investor value)

# %%
budget = attribution.budget_reallocation(monitor, h, shift=budget_shift)
gb.glue_all("attr", attribution.value_summary(budget))
ax = plots.value_vs_cost(budget, h)
gb.show(ax.figure)

# %%
ch.table(budget[["channel", "spend", "first_investors", "cost_per_investor", "value_per_investor", "revenue_per_yuan"]], "channel_value_vs_cost", f"付费渠道：每个首投用户的成本与 {h} 天收入 (价值)；revenue_per_yuan ≥ 1 即回本", formats={"spend": money, "cost_per_investor": per, "value_per_investor": per, "revenue_per_yuan": "{:.2f}"})

# %% [markdown]
# **发现 (finding).** {glue:text}`attr_paid_channels` 个付费渠道中，有 {glue:text}`attr_above_break_even` 个在首投后
# {glue:text}`attr_horizon` 天内用平台收入收回了获客成本（图中虚线以上）。理财平台的收入来自利差，单个用户的收入积累得慢，
# 多数渠道要更长时间才能回本；位置越靠左上的渠道，花同样的钱换来越值钱的用户。
#
# **运营建议 (action).** 用同一张图做月度复盘：虚线以下且离得最远的渠道先砍量或改按留存结算；
# 接近虚线的渠道看 {glue:text}`attr_horizon` 天之后的收入曲线（第 5 章的分渠道 LTV）再决定。

# %% [markdown]
# ## 多触点归因：各模型并排 (multi-touch attribution, models side by side)

# %%
paths = attribution.attribution_paths(ch.ds, conversion=conversion, lookback_days=lookback_days, half_life_days=half_life_days, touch_events=touch_events, direct_events=direct_events)
credits = attribution.attribute(paths, models=models, markov_order=markov_order, shapley_exact_max=shapley_exact_max)
top_paths = attribution.path_table(paths)
gb.glue_all("attr", attribution.paths_summary(paths, shapley_exact_max)
            | {"lookback_days": lookback_days, "half_life_days": half_life_days, "markov_order": markov_order})
ax = plots.model_heatmap(credits, attribution.MODELS, attribution.MODEL_LABELS)
gb.show(ax.figure)

# %%
ch.table(credits, "attribution_models", "每个渠道 × 模型的归因转化数与占比 (每个模型的转化数之和都等于总转化数)", formats={"conversions": "{:,.1f}", "share": "{:.1%}"})

# %%
ch.table(top_paths, "attribution_top_paths", "转化最多的路径 (同一渠道连续的触点合并为一步)", formats={"conversion_rate": "{:.1%}", "share": "{:.1%}"})

# %% [markdown]
# **发现 (finding).** 在 {glue:text}`attr_lookback_days` 天回溯窗口内，{glue:text}`attr_conversions:,` 次转化和
# {glue:text}`attr_nulls:,` 条未转化路径构成了 {glue:text}`attr_distinct_paths:,` 种不同的路径；最常见的转化路径是
# 「{glue:text}`attr_top_path`」，占转化的 {glue:text}`attr_top_path_share:.1%`。窗口内没有任何触点的
# {glue:text}`attr_direct_conversions:,` 次转化记为“直接访问”。马尔可夫模型为 {glue:text}`attr_markov_order` 阶，
# 用吸收链精确求解；共 {glue:text}`attr_model_channels` 个渠道，Shapley 值用的是{glue:text}`attr_shapley_method`；
# 时间衰减的半衰期为 {glue:text}`attr_half_life_days` 天。
#
# **运营建议 (action).** 不要只看一个模型：单触点模型（首次、末次）适合回答“谁开场、谁收尾”，预算分配参考
# 马尔可夫与 Shapley 这类数据驱动模型，并把几个模型的区间一起报给管理层。

# %% [markdown]
# ## 模型分歧最大的渠道 (where the models disagree most, and why)

# %%
disagree = attribution.disagreement(credits, paths, *attribution.model_pair(models))
gb.glue_all("attr", attribution.models_summary(credits, disagree))
ax = plots.disagreement_bars(disagree, attribution.MODEL_LABELS)
gb.show(ax.figure)

# %%
ch.table(disagree, "attribution_disagreement", "各模型占比、极差 (spread)、两模型之差，以及渠道收尾 (closed) 与助攻 (assisted) 的转化数", formats={**{m: "{:.1%}" for m in attribution.MODELS}, "spread": "{:.1%}", "diff": "{:+.1%}", "assist_ratio": "{:.2f}"})

# %% [markdown]
# **发现 (finding).** 分歧最大的渠道是 {glue:text}`attr_dis_channel`：{glue:text}`attr_dis_a_model` 给它
# {glue:text}`attr_dis_a:.1%`，{glue:text}`attr_dis_b_model` 给它 {glue:text}`attr_dis_b:.1%`。原因在路径里：它收尾了
# {glue:text}`attr_dis_closed:,` 次转化，出现在另外 {glue:text}`attr_dis_assisted:,` 条转化路径的中途（角色：{glue:text}`attr_dis_role`）。
# 马尔可夫模型看的是“去掉这个渠道后还剩多少转化”，所以收尾多、助攻少的渠道被调低，
# 常在路径前段出现的渠道（{glue:text}`attr_assisters`）被调高——末次触点看不到它们的助攻。
#
# **运营建议 (action).** 末次触点占比高、马尔可夫占比低的渠道多是“收割”型（如 CPA 联盟、品牌词），
# 砍掉前段的“助攻”渠道后它们的量也会掉；调预算前先在助攻渠道上做地域或时段的停投实验，测出真实增量。

# %% [markdown]
# ## 下一元预算投向哪里 (where the next yuan should go)
#
# 假设 (assumption): 在当前规模附近，多获得一个首投用户的**边际成本等于平均成本**，新增用户的价值等于该渠道
# 现有用户 {glue:text}`attr_horizon` 天收入的平均值。这只对小幅调整成立（约一个渠道预算的一成）；加量更多时渠道会饱和、
# 成本上升，需要用测试预算验证。

# %%
gb.glue_all("attr", attribution.budget_summary(budget))
ax = plots.revenue_per_yuan_bars(budget, h)
gb.show(ax.figure)

# %%
ch.table(budget, "budget_reallocation", "按每元回报排序的付费渠道与建议 (边际成本 = 平均成本的假设下)", formats={"spend": money, "cost_per_investor": per, "value_per_investor": per, "revenue_per_yuan": "{:.2f}", "investors_per_10k": per})

# %% [markdown]
# **发现 (finding).** 下一元预算回报最高的是 {glue:text}`attr_budget_best`（每元带来 {glue:text}`attr_budget_best_ratio:.2f` 元
# {glue:text}`attr_horizon` 天收入），最低的是 {glue:text}`attr_budget_worst`（{glue:text}`attr_budget_worst_ratio:.2f` 元）。
# 把后者 {glue:text}`attr_budget_shift:.0%` 的预算（{glue:text}`attr_budget_shift_spend:,.0f` 元）挪给前者，按上面的假设，
# {glue:text}`attr_horizon` 天收入约增加 {glue:text}`attr_budget_shift_value:,.0f` 元。
#
# **运营建议 (action).** 先按这个方向挪一成预算做 2–4 周测试，同时盯住加量渠道的边际首投成本；
# 成本涨到不再领先时停止加量。同时结合上一节：被调低的渠道若是重要的助攻渠道，减量要更谨慎。

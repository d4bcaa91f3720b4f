# %% [markdown]
# # 2 转化漏斗 (conversion funnel)
#
# 术语 (terms): {term}`漏斗`、{term}`实名`、{term}`绑卡`、{term}`首投`、{term}`复投`、{term}`滞留用户`、{term}`触发营销`、{term}`羊毛党`；全部术语见 {ref}`glossary`。
#
# 一个理财用户只有在实名、绑卡并完成首投之后才产生价值，而大多数人在路上就流失了。本章回答：
# 用户在哪一步流失、哪些渠道和哪一批用户流失得多、每一步要等多久，以及现在有谁卡在半路、
# 应该由触发式营销去接住。
# (Where users are lost between the ad click and the second investment, for whom, how fast, and
# who is stalled right now.)
#
# 口径 (rules): 一个人以第一次完成第一步的时间进入漏斗，之后每一步都必须在上一步之后、且在进入后的
# 转化窗口之内（含边界）完成；注册前的匿名行为通过注册事件的 anonymous_id 归到用户身上。
# 截至分析日窗口还没结束、也还没转化的人记为 **进行中 (in progress)**，不算流失，也不进入转化率
# 的分母——否则最近进入的用户会把转化率拉低。转化率只用窗口已经结束的人计算，并给出 Wilson 95%
# 置信区间。

# %% tags=["parameters"]
data = None  # dataset folder, the bundled demo (data/demo) when None
analysis_date = None  # YYYY-MM-DD, else dataset.yml's, else the last event day
out_dir = None  # where tables/ and exports/ go, the project root when None
min_cell_size = 10  # smallest count of people a published table or figure label shows, smaller ones show as <10
channel_map = {}  # extra UTM source aliases for this run, {source: channel}, added to dataset.yml's channel map
steps = ["ad_click", "app_install", "register", "kyc_verified", "bind_card", "first_investment", "second_investment"]  # funnel steps, event names or first_investment / second_investment
window_days = 30  # conversion window in days from the first step, edges included
order = "sequential"  # sequential (other events may come between) or strict
breakdown = "last_touch"  # last_touch (the sign-up channel), first_touch, step:<name>, signup_channel, reg_month, age_band, province or device_os
own_steps = ["register", "风险测评", {"event": "浏览产品详情", "where": {"product_type": ["定期1月", "定期3月", "定期6月", "定期12月"]}}, "first_investment"]  # a second funnel of any events of the data, own events and property filters included
stall_card_hours = 24  # registered but no bound card after this many hours
stall_invest_days = 7  # bound a card but no investment after this many days
stall_lookback_days = 30  # only stalls that began within this many days of the analysis date

# %%
import growthloop.book as gb
from growthloop import funnel, plots

ch = gb.chapter("02_funnel", data, analysis_date, out_dir, min_cell_size, channel_map)
spec = funnel.make_spec(steps, window_days, order)

# %% [markdown]
# ## 漏斗总览 (the funnel and its drop-offs)

# %%
steps_table = funnel.funnel(ch.ds, spec)
gb.glue_all("funnel", funnel.summary(steps_table, funnel.outside_funnel(ch.ds, spec))
            | {"window_days": window_days})
ax = plots.funnel_bars(steps_table, label=ch.cell_label)
gb.show(ax.figure)

# %%
ch.table(steps_table, "funnel_steps", "每一步的人数、从起点和从上一步的转化率 (Wilson 95% 区间)；进行中的人不计入分母",
         formats={c: "{:.1%}" for c in ("rate_from_start", "rate_from_previous", "ci_low", "ci_high", "ci_prev_low", "ci_prev_high")})

# %% [markdown]
# **发现 (finding).** {glue:text}`funnel_entrants:,` 人进入漏斗（{glue:text}`funnel_window_days` 天转化窗口），
# 从第一步走到最后一步的比例是 {glue:text}`funnel_end_rate:.1%`，首投率 {glue:text}`funnel_first_invest_rate:.1%`。
# 从上一步转化率最低的是「{glue:text}`funnel_worst_step`」（{glue:text}`funnel_worst_rate:.1%`）；
# 流失人数最多的是「{glue:text}`funnel_leak_step`」，窗口结束时仍未走过这一步的有 {glue:text}`funnel_leak_lost:,` 人。
# 另有 {glue:text}`funnel_in_progress:,` 人窗口尚未结束，记为进行中而不是流失。
# {glue:text}`funnel_registered:,` 名注册用户中有 {glue:text}`funnel_outside:,` 人没有可追踪的第一步
# （自然流量或未埋点），不在这个漏斗里。
#
# **运营建议 (action).** 流失人数最多的「{glue:text}`funnel_leak_step`」是增量空间最大的地方，
# 先看这一步的页面、审核和权益；转化率最低的「{glue:text}`funnel_worst_step`」交给下文的触发营销和
# 新手权益去拉。没有第一步记录的注册用户，请数据团队补齐广告点击的埋点或归因回传。

# %% [markdown]
# ## 自有事件漏斗 (a funnel of the platform's own events)
#
# 漏斗的步骤不限于契约里的角色事件：平台自己埋点的任何事件都可以是一步，还可以按事件属性筛选
# (如只算浏览 **定期** 产品的详情页)。这一节的步骤由参数 `own_steps` 给出，口径与上面的漏斗相同。

# %%
own_spec = funnel.make_spec(own_steps, window_days, order)
own_table = funnel.funnel(ch.ds, own_spec)
gb.glue_all("funnel_own", funnel.summary(own_table))
ax = plots.funnel_bars(own_table, label=ch.cell_label)
gb.show(ax.figure)

# %%
ch.table(own_table, "funnel_own_steps", "自有事件漏斗每一步的人数与转化率 (Wilson 95% 区间)；进行中的人不计入分母",
         formats={c: "{:.1%}" for c in ("rate_from_start", "rate_from_previous", "ci_low", "ci_high", "ci_prev_low", "ci_prev_high")})

# %% [markdown]
# **发现 (finding).** {glue:text}`funnel_own_entrants:,` 人进入这个漏斗，走到最后一步的比例是
# {glue:text}`funnel_own_end_rate:.1%`；从上一步转化率最低的是「{glue:text}`funnel_own_worst_step`」
# （{glue:text}`funnel_own_worst_rate:.1%`），流失人数最多的是「{glue:text}`funnel_own_leak_step`」
# （{glue:text}`funnel_own_leak_lost:,` 人）。
#
# **运营建议 (action).** 自有事件把“绑卡到首投”之间看不见的环节拆开：流失最多的那一步就是产品页和
# 风险测评流程里最该优化的地方；把这个漏斗放进周报，和上面的主漏斗一起看。

# %% [markdown]
# ## 渠道拆分 (breakdown by channel)

# %%
by_channel = funnel.funnel(ch.ds, spec, breakdown=breakdown)
tests = funnel.compare_segments(by_channel)
seg = funnel.segment_summary(tests, step="first_investment")
gb.glue("funnel_segments", seg["segments"])
gb.glue("funnel_sig_differences", seg["significant"])
gb.glue("funnel_small_segments", seg["too_small"])
gb.glue("funnel_best_segment", seg["best"])
gb.glue("funnel_worst_segment", seg["worst"])
top = funnel.top_segments(by_channel, 8)
ax = plots.segment_rate_bars(by_channel, top, title=f"用户最多的 {len(top)} 个渠道每一步的转化率 ({breakdown})")
gb.show(ax.figure)

# %%
ch.table(by_channel, "funnel_by_segment", "每个渠道每一步的人数与转化率",
         formats={c: "{:.1%}" for c in ("rate_from_start", "rate_from_previous", "ci_low", "ci_high", "ci_prev_low", "ci_prev_high")},
         complement="step")

# %%
ch.table(tests, "funnel_segment_tests", "每个渠道对其余渠道合计的双比例 z 检验 (Holm 校正)；不足 30 人不下结论",
         formats={"rate": "{:.1%}", "ci_low": "{:.1%}", "ci_high": "{:.1%}", "rest_rate": "{:.1%}", "diff": "{:+.1%}", "p_value": "{:.3g}", "p_holm": "{:.3g}", "chi2_p": "{:.3g}"})

# %% [markdown]
# **发现 (finding).** 按渠道拆分后，共有 {glue:text}`funnel_sig_differences` 个“渠道 × 步骤”的转化率与其余渠道
# 合计相比差异显著（双比例 z 检验，Holm 校正后 p < 0.05），{glue:text}`funnel_small_segments` 个组合不足 30 人，
# 不下结论。在绑卡到首投这一步，最突出的领先者是 {glue:text}`funnel_best_segment`，最突出的落后者是
# {glue:text}`funnel_worst_segment`。注意：触点渠道是每人一个、覆盖整个周期的，先点过付费广告、最后经
# 老带新或搜索链接进来的人会算在后者名下，所以这两个渠道在“安装”一步的转化率接近 100%，不能当真。
#
# **运营建议 (action).** 首投显著落后的渠道先查人群定向与新手权益（是否吸引了羊毛党），再决定是否降预算；
# 显著领先的渠道可以加量，但要等第 3 章按成本和 ROI 复核之后再动预算。

# %% [markdown]
# ## 转化时长 (time to convert)

# %%
ttc, ttc_hist = funnel.time_to_convert(ch.ds, spec)
gb.glue_all("funnel", funnel.time_summary(ttc))
ax = plots.time_histogram(ttc_hist)
gb.show(ax.figure)

# %%
ch.table(ttc, "funnel_time_to_convert", "每一步的转化时长 (小时)：四分位与中位数，精确分位数",
         formats={c: "{:,.1f}" for c in ("p25_hours", "median_hours", "p75_hours", "mean_hours")})

# %%
ch.table(ttc_hist, "funnel_time_histogram", "转化时长分布", formats={"share": "{:.1%}"})

# %% [markdown]
# **发现 (finding).** 注册到绑卡的中位时长是 {glue:text}`funnel_card_median_hours:.1f` 小时，
# 绑卡到首投是 {glue:text}`funnel_invest_median_hours:.1f` 小时；最慢的一步是「{glue:text}`funnel_slowest_step`」，
# 中位要 {glue:text}`funnel_slowest_median_days:.1f` 天。
#
# **运营建议 (action).** 触达时机跟着中位时长走：在多数人已经完成这一步、而滞留者还没走远的时候
# 推送（下节的 24 小时规则就是这样定的）；最慢的一步适合用限时权益缩短犹豫期。

# %% [markdown]
# ## 注册月份同期群 (conversion by registration cohort)

# %%
cohorts = funnel.cohort_conversion(ch.ds, spec)
gb.glue_all("funnel", funnel.cohort_summary(cohorts))
ax = plots.cohort_rate_lines(cohorts)
gb.show(ax.figure)

# %%
ch.table(cohorts, "funnel_cohorts", "注册月份 × 步骤：人数、转化率与进行中人数",
         formats={c: "{:.1%}" for c in ("rate_from_start", "rate_from_previous", "ci_low", "ci_high", "ci_prev_low", "ci_prev_high")})

# %% [markdown]
# **发现 (finding).** 在 {glue:text}`funnel_cohorts` 个注册月份中，最近一个窗口已结束的月份
# ({glue:text}`funnel_last_cohort`) 首投率为 {glue:text}`funnel_last_cohort_rate:.1%`
# (95% 区间 {glue:text}`funnel_last_cohort_low:.1%`–{glue:text}`funnel_last_cohort_high:.1%`)，上一个月份
# ({glue:text}`funnel_prev_cohort`) 为 {glue:text}`funnel_prev_cohort_rate:.1%`。还有 {glue:text}`funnel_open_cohorts` 个月份的部分用户窗口未结束，
# 图中只用窗口已结束的用户计算，所以这些月份不会因为“还没来得及转化”而显得更差。
#
# **运营建议 (action).** 把每月的首投率和置信区间一起放进月报：区间重叠时不要把波动当成趋势；
# 连续两个月落在前期区间之下时，再回查当月的渠道结构和新手权益。

# %% [markdown]
# ## 滞留用户与触发营销 (stalled users for trigger campaigns)

# %%
stalled = funnel.stalled_counts(ch.ds, stall_card_hours, stall_invest_days, stall_lookback_days)
ch.export(funnel.stalled_users(ch.ds, stall_card_hours, stall_invest_days, stall_lookback_days).to_pandas(), "stalled_users")
gb.glue_all("funnel", funnel.stalled_summary(stalled))
ch.table(stalled, "funnel_stalled", "当前滞留人数与建议的触发方案 (名单只写入私有 exports/ 目录，不进入报告)",
         formats={"historical_share": "{:.1%}"})

# %% [markdown]
# **发现 (finding).** 最近 {glue:text}`funnel_stall_lookback_days` 天里，有 {glue:text}`funnel_stalled_card:,` 人
# 注册满 {glue:text}`funnel_stall_card_hours` 小时仍未绑卡，{glue:text}`funnel_stalled_invest:,` 人绑卡满
# {glue:text}`funnel_stall_invest_days` 天仍未投资。历史上 {glue:text}`funnel_stalled_card_share:.1%` 的注册用户
# 在 {glue:text}`funnel_stall_card_hours` 小时内没有绑卡，{glue:text}`funnel_stalled_invest_share:.1%` 的绑卡用户
# 在 {glue:text}`funnel_stall_invest_days` 天内没有首投。
#
# **运营建议 (action).** 名单在本次运行的 exports/02_funnel/stalled_users.csv（私有，不发布）。
# 注册未绑卡：满 24 小时内发短信 + 推送，突出“3 分钟绑卡领加息券”；绑卡未首投：24 小时内推送新手标和
# 首投红包，未开推送的改发短信。两条规则都留 10% 的对照组，让第 6 章能算出真实增量。

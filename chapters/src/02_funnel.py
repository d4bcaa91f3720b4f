# %% [markdown]
# # 2 转化漏斗
#
# 术语： {term}`漏斗`、{term}`实名`、{term}`绑卡`、{term}`首投`、{term}`复投`、{term}`滞留用户`、{term}`触发营销`、{term}`羊毛党`；全部术语见 {ref}`glossary`。
#
# 一个理财用户只有在实名、绑卡并完成首投之后才产生价值，而大多数人在路上就流失了。本章回答：
# 用户在哪一步流失、哪些渠道和哪一批用户流失得多、每一步要等多久，以及现在有谁卡在半路、
# 应该由触发式营销去接住。
#
# 口径：一个人以第一次完成第一步的时间进入漏斗，之后每一步都必须在上一步之后、且在进入后的
# 转化窗口之内（含边界）完成；注册前的匿名行为通过注册事件的 anonymous_id 归到用户身上。
# 截至分析日窗口还没结束、也还没转化的人记为 **进行中**，不算流失，也不进入转化率
# 的分母——否则最近进入的用户会把转化率拉低。转化率只用窗口已经结束的人计算，并给出 Wilson 95%
# 置信区间。

# %% tags=["parameters"]
data = None  # dataset folder, the bundled demo (data/demo) when None
analysis_date = None  # YYYY-MM-DD, else dataset.yml's, else the last event day
out_dir = None  # where tables/ and exports/ go; None: beside the output notebook (papermill), the project for the demo
min_cell_size = 10  # smallest count of people a published table or figure label shows, smaller ones show as <10
channel_map = {}  # extra UTM source aliases for this run, {source: channel}, added to dataset.yml's channel map
steps = None  # funnel steps, event names (any event of the data, or {event, where}) or first_investment / second_investment; None for the default funnel of the roles the data has
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
from growthloop.present.findings import funnel as words

ch = gb.chapter("02_funnel", data, analysis_date, out_dir, min_cell_size, channel_map)
chosen, left_out = funnel.default_steps(ch.ds) if steps is None else (steps, ())
spec = funnel.make_spec(chosen, window_days, order)
focus = funnel.focus_step(spec)
if left_out:
    gb.note(f"默认漏斗使用数据中有的角色事件；数据中没有 {'、'.join(left_out)}，这几步已从默认漏斗中去掉。")

# %% [markdown]
# ## 漏斗总览

# %%
with ch.section("overview", "漏斗总览") as s:
    steps_table = funnel.funnel(ch.ds, spec)
    head = funnel.summary(steps_table, funnel.outside_funnel(ch.ds, spec))
    gb.glue_all("funnel", head | {"window_days": window_days})
    gb.show(plots.funnel_bars(steps_table, label=ch.cell_label).figure)
    ch.table(steps_table, "funnel_steps", "每一步的人数、从起点和从上一步的转化率 (Wilson 95% 区间)；进行中的人不计入分母",
             formats={c: "{:.1%}" for c in ("rate_from_start", "rate_from_previous", "ci_low", "ci_high", "ci_prev_low", "ci_prev_high")})
    s.finding(*words.overview(head, window_days, ch.cell_label))

# %% [markdown]
# ## 自有事件漏斗
#
# 漏斗的步骤不限于契约里的角色事件：平台自己埋点的任何事件都可以是一步，还可以按事件属性筛选
# (如只算浏览 **定期** 产品的详情页)。这一节的步骤由参数 `own_steps` 给出，口径与上面的漏斗相同。

# %%
with ch.section("own_funnel", "自有事件漏斗") as s:
    own_spec = funnel.make_spec(own_steps, window_days, order)
    own_table = funnel.funnel(ch.ds, own_spec)
    own_head = funnel.summary(own_table)
    gb.glue_all("funnel_own", own_head)
    gb.show(plots.funnel_bars(own_table, label=ch.cell_label).figure)
    ch.table(own_table, "funnel_own_steps", "自有事件漏斗每一步的人数与转化率 (Wilson 95% 区间)；进行中的人不计入分母",
             formats={c: "{:.1%}" for c in ("rate_from_start", "rate_from_previous", "ci_low", "ci_high", "ci_prev_low", "ci_prev_high")})
    s.finding(*words.own_funnel(own_head, window_days, ch.cell_label))

# %% [markdown]
# ## 渠道拆分

# %%
with ch.section("breakdown", "渠道拆分") as s:
    by_channel = funnel.funnel(ch.ds, spec, breakdown=breakdown)
    tests = funnel.compare_segments(by_channel)
    seg = funnel.segment_summary(tests, step=focus)
    gb.glue_all("funnel", {"segments": seg["segments"], "sig_differences": seg["significant"],
                           "small_segments": seg["too_small"], "best_segment": seg["best"],
                           "worst_segment": seg["worst"]})
    top = funnel.top_segments(by_channel, 8)
    shown = gb.suppress(by_channel, ch.min_cell, complement="step",  # the figure shows what the table shows
                        **gb.group_sizes("funnel_by_segment"))  # a segment's size: its entrants (see GROUP_SIZES)
    by_name = funnel.breakdown_label(breakdown, spec)
    gb.show(plots.segment_rate_panels(shown, top, title=f"按{by_name}：人数最多的 {len(top)} 个分组每一步的转化率").flat[0].figure)
    ch.table(by_channel, "funnel_by_segment", "每个分组每一步的人数与转化率",
             formats={c: "{:.1%}" for c in ("rate_from_start", "rate_from_previous", "ci_low", "ci_high", "ci_prev_low", "ci_prev_high")},
             complement="step")
    ch.table(tests, "funnel_segment_tests", "每个分组对其余分组合计的双比例 z 检验 (Holm 校正)；不足 30 人不下结论",
             formats={"rate": "{:.1%}", "ci_low": "{:.1%}", "ci_high": "{:.1%}", "rest_rate": "{:.1%}", "diff": "{:+.1%}", "p_value": "{:.3g}", "p_holm": "{:.3g}", "chi2_p": "{:.3g}"})
    s.finding(*words.breakdown(seg, by_name, spec.label(focus)))

# %% [markdown]
# ## 转化时长

# %%
with ch.section("time_to_convert", "转化时长") as s:
    ttc, ttc_hist = funnel.time_to_convert(ch.ds, spec)
    speed = funnel.time_summary(ttc)
    gb.glue_all("funnel", speed)
    gb.show(plots.time_histogram(ttc_hist).figure)
    ch.table(ttc, "funnel_time_to_convert", "每一步的转化时长 (小时)：四分位与中位数，精确分位数",
             formats={c: "{:,.1f}" for c in ("p25_hours", "median_hours", "p75_hours", "mean_hours")})
    ch.table(ttc_hist, "funnel_time_histogram", "转化时长分布", formats={"share": "{:.1%}"})
    s.finding(*words.time_to_convert(ttc, speed))

# %% [markdown]
# ## 注册月份同期群

# %%
with ch.section("cohorts", "注册月份同期群") as s:
    cohorts = funnel.cohort_conversion(ch.ds, spec)
    coh = funnel.cohort_summary(cohorts, step=focus)
    gb.glue_all("funnel", coh)
    shown = gb.suppress(cohorts, ch.min_cell, **gb.group_sizes("funnel_cohorts"))  # the figure hides what the table hides
    gb.show(plots.cohort_rate_lines(shown).figure)
    ch.table(cohorts, "funnel_cohorts", "注册月份 × 步骤：人数、转化率与进行中人数",
             formats={c: "{:.1%}" for c in ("rate_from_start", "rate_from_previous", "ci_low", "ci_high", "ci_prev_low", "ci_prev_high")})
    s.finding(*words.cohorts(coh, spec.label(focus)))

# %% [markdown]
# ## 滞留用户与触发营销

# %%
with ch.section("stalled", "滞留用户与触发营销") as s:
    stalled = funnel.stalled_counts(ch.ds, stall_card_hours, stall_invest_days, stall_lookback_days)
    ch.export(funnel.stalled_users(ch.ds, stall_card_hours, stall_invest_days, stall_lookback_days), "stalled_users")
    stall = funnel.stalled_summary(stalled)
    gb.glue_all("funnel", stall)
    ch.table(stalled, "funnel_stalled", "当前滞留人数与建议的触发方案 (名单只写入私有 exports/ 目录，不进入报告)",
             formats={"historical_share": "{:.1%}"})
    s.finding(*words.stalled(stall, ch.cell_label))

# %% [markdown]
# # 4 RFM 分群 (RFM segmentation)
#
# 术语 (terms): {term}`RFM`、{term}`重要价值客户`、{term}`重要挽留客户`、{term}`稳定中客`、{term}`潜力新客`、{term}`流失风险客`；全部术语见 {ref}`glossary`。
#
# 平台八成的钱来自两成的用户，而运营资源有限。RFM 按最近一次投资 (Recency)、投资频次 (Frequency)
# 和投资金额 (Monetary) 给每位投资用户打分，分成八类经典人群，让每一类得到与其价值相称的对待：
# 重要价值用户给 VIP 服务，正在流失的重要用户给召回。本章回答：投资用户分布在哪些人群、每个人群
# 占多少人和多少钱、该对他们做什么，以及和上一期相比人群怎样流动。
# (Who the investors are by recency, frequency and money, what each of the eight segments is worth,
# what to do with each, and how investors moved between segments since an earlier date.)
#
# 口径 (rules): 投资用户 = 截至分析日有过成功投资的用户。**R** = 最后一次投资日到分析日的自然日天数
# (Asia/Shanghai，当天投资为 0)；**F** = 统计期 (分析日往前 `period_days` 个自然日，含分析日) 内的成功投资
# 笔数；**M** = 统计期内的投资金额 (或收入，见参数)。统计期之前投资过、期内没有投资的人 F = M = 0，
# 仍算投资用户。**打分 (scores)**：得分 = 1 + ⌊档数 × 比他差的人数 / 投资人数⌋，即按精确分位数分档；
# 取值相同的人得分相同，越近的 R 得分越高。某个取值占比超过一档 (例如多数人只投过一次) 时，
# 它从所占各档中取最低的一档，上面被它覆盖的档就空着。**高低 (high/low)**：默认与全体投资用户的均值
# 比较，**等于均值算高** (F、M ≥ 均值，R 天数 ≤ 均值)；也可以用中位数，或“得分 ≥ 阈值”。

# %% tags=["parameters"]
data = None  # dataset folder, the bundled demo (data/demo) when None
analysis_date = None  # YYYY-MM-DD, else dataset.yml's, else the last event day
out_dir = None  # where tables/ and exports/ go, the project root when None
min_cell_size = 10  # smallest count of people a published table or figure label shows, smaller ones show as <10
channel_map = {}  # extra UTM source aliases for this run, {source: channel}, added to dataset.yml's channel map
period_days = 365  # F and M over this many natural days ending on the analysis date; None for all history
monetary = "amount"  # M measure: amount (invested) or revenue
split = "mean"  # high/low split: mean, median or score
score_bins = 5  # number of score bands (quantiles), 2 to 10
score_threshold = 3  # with split score: a score at or above this is high
previous_days = 90  # migration: compare with the segments this many days before the analysis date

# %%
import growthloop.book as gb
from growthloop import plots, rfm, theme

ch = gb.chapter("04_rfm", data, analysis_date, out_dir, min_cell_size, channel_map)
params = dict(period_days=period_days, monetary=monetary, bins=score_bins, split=split, score_threshold=score_threshold)
seg = rfm.segments(ch.ds, **params)
gb.glue_all("rfm", rfm.params_summary(period_days, monetary, split, score_threshold, score_bins))

# %% [markdown]
# ## R、F、M 的分布 (distributions and score bands)

# %%
dist = rfm.distribution(seg)
bands = rfm.score_bins(seg, score_bins)
gb.glue_all("rfm", theme.yuan_text(rfm.distribution_summary(seg, score_bins), "median_monetary", "mean_monetary"))
titles = {"R": "R：距最后一次投资的天数", "F": "F：统计期内投资笔数", "M": f"M：统计期内{'投资金额' if monetary == 'amount' else '收入'} (元)"}
axes = plots.binned_count_panels(dist, titles)
gb.show(axes[0].figure)

# %%
ch.table(dist, "rfm_distribution", "R、F、M 的分布：每个区间的投资人数与占比", formats={"share": "{:.1%}", "lower": "{:,.0f}"})

# %%
ch.table(bands, "rfm_score_bins", "每个得分档的人数与取值范围 (R 为天数，越小得分越高)；0 人的档是被并列取值覆盖的空档",
         formats={"user_share": "{:.1%}", "min_value": "{:,.0f}", "max_value": "{:,.0f}"})

# %% [markdown]
# **发现 (finding).** 共 {glue:text}`rfm_investors:,` 位投资用户。{glue:text}`rfm_recent_share:.1%` 的人最近 30 天内投资过，
# R 的中位数是 {glue:text}`rfm_median_recency:.0f` 天；{glue:text}`rfm_once_share:.1%` 的人在统计期 ({glue:text}`rfm_period`) 内只投过一次 (或没投)，
# 所以 F 的低分档被“一次”占满，空着的得分档是 {glue:text}`rfm_empty_scores`。M 的尾巴很长：中位数
# {glue:text}`rfm_median_monetary`，均值 {glue:text}`rfm_mean_monetary`，M 最高一档的人贡献了统计期投资金额的
# {glue:text}`rfm_top_m_amount_share:.1%`。
#
# **运营建议 (action).** 因为 M 均值远高于中位数，“按均值分高低”时 M 高的人只是少数，这正是要集中服务的少数；
# F 的得分不要当成均匀的五档来用，看上表每档的真实取值。第二笔投资是最大的分水岭，下文的“发展”人群就是它的目标。

# %% [markdown]
# ## 八类人群与运营动作 (the eight segments and what to do)

# %%
table = rfm.segment_table(seg, ch.ds.config.rfm_actions)
groups = rfm.group_table(seg)
gb.glue_all("rfm", rfm.segments_summary(table, groups))
ax = plots.share_bars(table, x="segment", shares={"user_share": "人数占比 (users)", "amount_share": "金额占比 (amount)"},
                      palette=theme.default_colors(0, 3), bar_labels=True, ylabel="占全部投资用户 / 金额",
                      title="每类人群的人数占比与金额占比", figsize=(9, 4.5))
gb.show(ax.figure)

# %%
ch.table(table, "rfm_segments", "八类人群：人数、金额、收入及占比，以及建议的动作、渠道和权益 (可在 dataset.yml 的 rfm_actions 中修改)",
         formats={"user_share": "{:.1%}", "amount": "{:,.0f}", "amount_share": "{:.1%}", "revenue": "{:,.0f}", "revenue_share": "{:.1%}",
                  "mean_recency_days": "{:,.1f}", "mean_frequency": "{:,.2f}", "mean_monetary": "{:,.0f}"})

# %%
ch.table(groups, "rfm_groups", "三类运营人群：潜力新客 (R 高 F 低)、稳定中客 (R 高 F 高)、流失风险客 (R 低)",
         formats={"user_share": "{:.1%}", "amount": "{:,.0f}", "amount_share": "{:.1%}", "revenue": "{:,.0f}", "revenue_share": "{:.1%}"})

# %% [markdown]
# **发现 (finding).** 以{glue:text}`rfm_monetary`为 M、按{glue:text}`rfm_split`分高低 (得分共 {glue:text}`rfm_bins` 档)，重要价值用户 {glue:text}`rfm_iv_users:,` 人，只占投资用户的
# {glue:text}`rfm_iv_user_share:.1%`，却贡献了统计期投资金额的 {glue:text}`rfm_iv_amount_share:.1%`；四类“重要”(M 高) 人群合计 {glue:text}`rfm_important_user_share:.1%` 的人、{glue:text}`rfm_important_amount_share:.1%`
# 的金额。人数最多的是 {glue:text}`rfm_largest_segment` ({glue:text}`rfm_largest_segment_share:.1%`)。重要挽留
# {glue:text}`rfm_winback_users:,` 人、重要保持 {glue:text}`rfm_keep_users:,` 人：他们曾经投得多，但已经很久没投了。
# 按三类运营人群看，稳定中客占 {glue:text}`rfm_group_stable_share:.1%` 的人和 {glue:text}`rfm_group_stable_amount_share:.1%`
# 的金额，潜力新客占 {glue:text}`rfm_group_new_share:.1%`，流失风险客占 {glue:text}`rfm_group_risk_share:.1%` 的人、
# {glue:text}`rfm_group_risk_amount_share:.1%` 的金额。
#
# **运营建议 (action).** 资源按上表的“金额占比”而不是“人数占比”分配：重要价值用户交给专属客户经理，维护而不打扰；
# 重要挽留和重要保持用户先做召回 (短信 + 客服电话 + 召回红包)，他们单人价值高，值得花成本；
# 重要发展 ({glue:text}`rfm_develop_users:,` 人) 发复投加息券，把一次性的大额用户变成常客；一般挽留只做低成本的
# 批量推送。每类人群的名单见本章最后一节，所有召回都留 10% 对照组，交给第 6 章评估。

# %% [markdown]
# ## R × F 热力图 (recency x frequency, with mean money)

# %%
heat = rfm.rf_heatmap(seg, score_bins)
gb.glue_all("rfm_heat", theme.yuan_text(rfm.heatmap_summary(heat), "top_m", "low_f_m", "high_f_m"))
ax = plots.rf_heatmap(heat, label=ch.cell_label)
gb.show(ax.figure)

# %%
ch.table(heat, "rfm_rf_heatmap", "R 得分 × F 得分每格的投资人数和平均 M；空格表示该得分档为空", formats={"mean_monetary": "{:,.0f}"})

# %% [markdown]
# **发现 (finding).** 平均 M 最高的格子是 R 得分 {glue:text}`rfm_heat_top_r`、F 得分 {glue:text}`rfm_heat_top_f`，
# 平均 {glue:text}`rfm_heat_top_m`，有 {glue:text}`rfm_heat_top_users:,` 人。F 得分 {glue:text}`rfm_heat_low_f` 的人平均 M
# 是 {glue:text}`rfm_heat_low_f_m`，F 得分 {glue:text}`rfm_heat_high_f` 的人是 {glue:text}`rfm_heat_high_f_m`：投资金额主要靠
# 复投累积。人数最多的格子是 R 得分 {glue:text}`rfm_heat_big_r`、F 得分 {glue:text}`rfm_heat_big_f`
# ({glue:text}`rfm_heat_big_users:,` 人)。
#
# **运营建议 (action).** 右下角 (F 高、R 低) 是“曾经的常客”，平均价值高且还记得平台，召回的性价比最好，应排在
# 召回名单最前面；右上角不用打折促销，给服务和额度；左上角 (刚来、只投一次) 在首投后 7～30 天内推第二笔的激励。

# %% [markdown]
# ## 人群迁移 (segment migration since an earlier date)

# %%
moves = rfm.migration(ch.ds, previous=previous_days, **params)
gb.glue_all("rfm", rfm.migration_summary(moves))
ax = plots.migration_heatmap(rfm.migration_matrix(moves, "from_share"), rfm.migration_matrix(moves, "users"), label=ch.cell_label,
                             xlabel=f"分析日的人群 (to, {ch.ds.analysis_date})", ylabel=f"{previous_days} 天前的人群 (from)")
gb.show(ax.figure)

# %%
ch.table(moves, "rfm_migration", "从上一期人群 (from) 到本期人群 (to) 的人数与占上期人群的比例；新投资人 = 上期还没有投资",
         formats={"from_share": "{:.1%}"}, max_rows=80, complement="from_segment")

# %% [markdown]
# **发现 (finding).** 与 {glue:text}`rfm_previous_days` 天前 ({glue:text}`rfm_previous_date`) 相比 (两个日期各自按当时的
# 投资用户、均值和分位数分群)，当时的 {glue:text}`rfm_iv_before:,` 位重要价值用户中 {glue:text}`rfm_iv_stay_share:.1%`
# 仍然是重要价值，{glue:text}`rfm_iv_slipped:,` 人因为久未投资滑到了 R 低的人群；上期投资用户整体有
# {glue:text}`rfm_stayed_share:.1%` 留在原人群。{glue:text}`rfm_upgraded:,` 人从“一般”升到了“重要”，{glue:text}`rfm_downgraded:,`
# 人从“重要”降到了“一般”。期间新增投资人 {glue:text}`rfm_new_investors:,` 位，其中 {glue:text}`rfm_new_to_important:,`
# 位直接进入了“重要”人群。
#
# **运营建议 (action).** 迁移矩阵是上期动作的成绩单：召回活动之后看“重要挽留/重要保持 → 重要价值”这一格是否变大，
# 复投券之后看“重要发展 → 重要价值”。从重要价值滑出的人是最该马上联系的，他们的名单就在本期的重要保持和
# 重要挽留里。比较效果时要有对照组 (第 6 章)，因为没有活动也会有人自然回流。

# %% [markdown]
# ## 人群名单 (member lists for targeting)

# %%
files = []
for code, members in rfm.member_lists(seg):
    ch.export(members, f"rfm_members_{code}")
    files.append(f"rfm_members_{code}.csv")
lists = table[["segment", "segment_en", "users", "action", "channel", "offer"]].assign(list=files)
gb.glue("rfm_lists", len(files))
ch.table(lists, "rfm_member_lists", "每类人群的名单文件 (在本次运行的私有 exports/04_rfm/ 目录，不进入报告) 与建议动作")

# %% [markdown]
# **发现 (finding).** 每类人群都导出了一份名单 (共 {glue:text}`rfm_lists` 份)，按 M 从高到低排列，含 user_id、
# R/F/M 值、三个得分、人群与运营人群。名单只写入本次运行的 exports/04_rfm/ 目录，报告里只有人数。
#
# **运营建议 (action).** 按上表的渠道和权益建活动：重要挽留、重要保持名单先走客服电话，打不通的转短信；名单中随机留出
# 10% 不触达作为对照组，活动结束后在第 6 章复盘；下一期重跑本章，用迁移矩阵看人群有没有往“重要价值”流动。

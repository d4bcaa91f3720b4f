# %% [markdown]
# # 4 RFM 分群
#
# 术语：{term}`RFM`、{term}`重要价值客户`、{term}`重要挽留客户`、{term}`稳定中客`、{term}`潜力新客`、{term}`流失风险客`；全部术语见 {ref}`glossary`。
#
# 平台八成的钱来自两成的用户，而运营资源有限。RFM 按最近一次投资 (Recency)、投资频次 (Frequency)
# 和投资金额 (Monetary) 给每位投资用户打分，分成八类经典人群，让每一类得到与其价值相称的对待：
# 重要价值用户给 VIP 服务，正在流失的重要用户给召回。本章回答：投资用户分布在哪些人群、每个人群
# 占多少人和多少钱、该对他们做什么，以及和上一期相比人群怎样流动。
#
# 口径：投资用户 = 截至分析日有过成功投资的用户。**R** = 最后一次投资日到分析日的自然日天数
# (按数据集的时区，默认 Asia/Shanghai；当天投资为 0)；**F** = 统计期 (分析日往前 `period_days` 个自然日，含分析日) 内的成功投资
# 笔数；**M** = 统计期内的投资金额 (或收入，见参数)。统计期之前投资过、期内没有投资的人 F = M = 0，
# 仍算投资用户。**打分**：得分 = 1 + ⌊档数 × 比他差的人数 / 投资人数⌋，即按精确分位数分档；
# 取值相同的人得分相同，越近的 R 得分越高。某个取值占比超过一档 (例如多数人只投过一次) 时，
# 它从所占各档中取最低的一档，上面被它覆盖的档就空着。**高低**：默认与全体投资用户的均值
# 比较，**等于均值算高** (F、M ≥ 均值，R 天数 ≤ 均值)；也可以用中位数，或“得分 ≥ 阈值”。

# %% tags=["parameters"]
data = None  # dataset folder, the bundled demo (data/demo) when None
analysis_date = None  # YYYY-MM-DD, else dataset.yml's, else the last event day
out_dir = None  # where tables/ and exports/ go; None: beside the output notebook (papermill), the project for the demo
min_cell_size = 10  # smallest count of people a published table or figure label shows, smaller ones show as <10
channel_map = {}  # extra UTM source aliases for this run, {source: channel}, added to dataset.yml's channel map
period_days = 365  # F and M over this many natural days ending on the analysis date; None for all history
monetary = "amount"  # M measure: amount (invested) or revenue
split = "mean"  # high/low split: mean, median or score
score_bins = 5  # number of score bands (quantiles), 2 to 10
score_threshold = None  # with split score: a score at or above this is high, 2 to score_bins; None for the middle score
previous_days = 90  # migration: compare with the segments this many days before the analysis date

# %%
import growthloop.book as gb
from growthloop import plots, rfm, theme
from growthloop.present.findings import rfm as words

ch = gb.chapter("04_rfm", data, analysis_date, out_dir, min_cell_size, channel_map)
params = dict(period_days=period_days, monetary=monetary, bins=score_bins, split=split, score_threshold=score_threshold)
seg = rfm.segments(ch.ds, **params)
labels = rfm.params_summary(period_days, monetary, split, score_threshold, score_bins)
gb.glue_all("rfm", labels)
if period_text := words.period_note(rfm.history(ch.ds), period_days):
    gb.note(period_text)

# %% [markdown]
# ## R、F、M 的分布
#
# 口径：每位投资用户一个 R、F、M；R 按 30 天一段，F 按笔数 (10 笔及以上合为一段)，M 按 1、3、10、30… 元分段。

# %%
with ch.section("distribution", "R、F、M 的分布") as s:
    dsum = rfm.distribution_summary(seg)
    dist = rfm.distribution(seg)
    gb.glue_all("rfm", theme.yuan_text(dsum, "median_monetary", "mean_monetary"))
    titles = {"R": "R：距最后一次投资的天数", "F": "F：统计期内投资笔数", "M": f"M：统计期内{labels['monetary']} (元)"}
    gb.show(plots.binned_count_panels(dist, titles, label=ch.cell_label)[0].figure)
    ch.table(dist, "rfm_distribution", "R、F、M 的分布：每个区间的投资人数与占比", formats={"share": "{:.1%}", "lower": "{:,.0f}"})
    s.finding(*words.distribution(dsum, labels, n=ch.cell_label))

# %% [markdown]
# ## 得分档
#
# 口径：得分 = 1 + ⌊档数 × 比他差的人数 / 投资人数⌋；投资用户少于档数 (score_bins) 时分位数得分没有意义，本节不生成。

# %%
with ch.section("scores", "得分档") as s:
    bands = rfm.score_bins(seg, score_bins)
    ssum = rfm.scores_summary(seg, score_bins)
    gb.glue_all("rfm", ssum)
    ch.table(bands, "rfm_score_bins", "每个得分档的人数与取值范围 (R 为天数，越小得分越高)；0 人的档是被并列取值覆盖的空档",
             formats={"user_share": "{:.1%}", "min_value": "{:,.0f}", "max_value": "{:,.0f}"})
    s.finding(*words.scores(ssum, score_bins, n=ch.cell_label))

# %% [markdown]
# ## 八类人群与运营动作
#
# 口径：R、F、M 各分高低 (见本章开头)，三者的组合就是八类人群；三类运营人群只看 R 和 F。所有投资用户的 R、F、M
# 都相同 (例如只有一位投资用户) 时，任何分高低的规则都把他们分进同一类，本节不生成。

# %%
with ch.section("segments", "八类人群与运营动作") as s:
    spread = rfm.spread(seg, split, score_bins)
    table = rfm.segment_table(seg, ch.ds.config.rfm_actions)
    groups = rfm.group_table(seg)
    summ = rfm.segments_summary(table, groups)
    gb.glue_all("rfm", summ)
    ax = plots.share_bars(table, x="segment", shares={"user_share": "人数占比", "amount_share": "金额占比"},
                          palette=theme.default_colors(0, 3), bar_labels=True, ylabel="占全部投资用户 / 金额",
                          title="每类人群的人数占比与金额占比", figsize=(9, 4.5))
    gb.show(ax.figure)
    ch.table(table, "rfm_segments", "八类人群：人数、金额、收入及占比，以及建议的动作、渠道和权益 (可在 dataset.yml 的 rfm_actions 中修改)",
             formats={"user_share": "{:.1%}", "amount": "{:,.0f}", "amount_share": "{:.1%}", "revenue": "{:,.0f}", "revenue_share": "{:.1%}",
                      "mean_recency_days": "{:,.1f}", "mean_frequency": "{:,.2f}", "mean_monetary": "{:,.0f}"})
    ch.table(groups, "rfm_groups", "三类运营人群：潜力新客 (R 高 F 低)、稳定中客 (R 高 F 高)、流失风险客 (R 低)",
             formats={"user_share": "{:.1%}", "amount": "{:,.0f}", "amount_share": "{:.1%}", "revenue": "{:,.0f}", "revenue_share": "{:.1%}"})
    s.finding(*words.segments(summ, spread, labels, n=ch.cell_label))

# %% [markdown]
# ## R × F 热力图
#
# 口径：按 R 得分 × F 得分分格，每格是投资人数和平均 M。所有人的 F 得分 (或 R 得分) 都相同时，例如没有人复投，
# 热力图只剩一列 (一行)，本节不生成。

# %%
with ch.section("heatmap", "R × F 热力图") as s:
    heat = rfm.rf_heatmap(seg, score_bins)
    hsum = rfm.heatmap_summary(heat)
    gb.glue_all("rfm_heat", theme.yuan_text(hsum, "top_m", "low_f_m", "high_f_m"))
    gb.show(plots.rf_heatmap(heat, label=ch.cell_label).figure)
    ch.table(heat, "rfm_rf_heatmap", "R 得分 × F 得分每格的投资人数和平均 M；空格表示该得分档为空", formats={"mean_monetary": "{:,.0f}"})
    s.finding(*words.heatmap(hsum, score_bins, n=ch.cell_label))

# %% [markdown]
# ## 人群迁移
#
# 口径：比较日 = 分析日往前 `previous_days` 天；两个日期各自按当时的投资用户、均值 (或中位数、得分) 分群，
# 比较日之后才首投的人记为“新投资人”。比较日早于第一笔投资时没有上期人群，本节不生成。

# %%
with ch.section("migration", "人群迁移") as s:
    moves = rfm.migration(ch.ds, previous=previous_days, **params)
    msum = rfm.migration_summary(moves)
    gb.glue_all("rfm", msum)
    ax = plots.migration_heatmap(rfm.migration_matrix(moves, "from_share"), rfm.migration_matrix(moves, "users"), label=ch.cell_label,
                                 xlabel=f"分析日 ({ch.ds.analysis_date}) 的人群", ylabel=f"{previous_days} 天前的人群")
    gb.show(ax.figure)
    ch.table(moves, "rfm_migration", "从上一期人群到本期人群的人数与占上期人群的比例；新投资人 = 上期还没有投资",
             formats={"from_share": "{:.1%}"}, max_rows=80, complement="from_segment")
    s.finding(*words.migration(msum, labels, n=ch.cell_label))

# %% [markdown]
# ## 人群名单
#
# 口径：每类人群一份名单，按 M 从高到低排列；名单带 user_id，只写入本次运行的私有 exports/04_rfm/ 目录。
# 本节说的先后只在 RFM 人群之间；和其他章节的行动放在一起按期望收入排的先后见摘要，第 7 章按摘要排在最前的人群出下一轮名单。

# %%
with ch.section("member_lists", "人群名单") as s:
    rfm.spread(seg, split, score_bins)
    lists = rfm.member_list_table(rfm.segment_table(seg, ch.ds.config.rfm_actions))
    for code, members in rfm.member_lists(seg):
        ch.export(members, f"rfm_members_{code}")
    gb.glue("rfm_lists", len(lists))
    ch.table(lists, "rfm_member_lists", "每类人群的名单文件 (在本次运行的私有 exports/04_rfm/ 目录，不进入报告) 与建议动作")
    s.finding(*words.member_lists(lists, n=ch.cell_label))

# %% [markdown]
# # 1 用户画像
#
# 术语： {term}`分层`、{term}`分群`、{term}`AUM`、{term}`基尼系数`、{term}`首投`、{term}`复投`；全部术语见 {ref}`glossary`。
#
# 谁在注册、谁在投资、钱在谁手里？本章沿着拉新和促活能定向的维度描述用户，按资产把用户切成互不重叠的
# 层级（分层），按投资行为把投资人分成群组（分群），再看资产有多集中。这里建好的用户宽表
# (user wide table) 是后面每一章共用的底表。

# %% tags=["parameters"]
data = None  # dataset folder, the bundled demo when None
analysis_date = None  # YYYY-MM-DD, else dataset.yml's, else the last event day
out_dir = None  # where tables/ and exports/ go; None: beside the output notebook (papermill), the project for the demo
min_cell_size = 10  # smallest count of people a published table or figure label shows, smaller ones show as <10; smaller groups are not named in the findings either
channel_map = {}  # extra UTM source aliases for this run, {source: channel}, added to dataset.yml's channel map
aum_bounds = [0, 10000, 50000, 200000, 1000000]  # tier edges for layering, in the unit of layer_metric (yuan for aum); the top two tiers are the top layers
layer_metric = "aum"  # the one core metric the layers are cut on, a numeric column of the wide table (aum, invest_amount, revenue, invest_count ...)
cluster_k_min = 3  # the fewest behaviour groups worth a separate message
cluster_k_max = 8  # the most behaviour groups tried; cut to what the data can support, with a note
seed = 7  # random seed of the clustering

# %%
import growthloop.book as gb
from growthloop import plots, profiling
from growthloop.metrics import period
from growthloop.present.findings import period as period_words
from growthloop.present.findings import profiling as words

ch = gb.chapter("01_user_profiling", data, analysis_date, out_dir, min_cell_size, channel_map)
wide = ch.wide
gb.glue("prof_analysis_date", str(ch.ds.analysis_date))

# %% [markdown]
# ## 总览
#
# 口径：注册用户是分析日结束前注册的人；投资过至少一笔成功投资的是投资人；在投资产 (AUM)
# 是分析日结束时仍在期内的定期与活期投资。

# %%
with ch.section("overview", "总览") as s:
    head = profiling.headline(wide)
    span = profiling.signup_span(wide)
    gb.glue_all("prof", head | span)
    s.finding(*words.overview(head, span, ch.cell_label))

# %% [markdown]
# ## 新增与环比
#
# 口径：最近一个完整的自然月和自然周（周一至周日，Asia/Shanghai），与上一期比是环比，与一年前的同一期比是同比。
# 含分析日的月或周只有分析日是它的最后一天时才算完整；数据不覆盖的上期或去年同期记为空、不当作 0，原因写在“说明”里。

# %%
with ch.section("period_changes", "新增与环比") as s:
    changes = period.headline_changes(ch.ds)
    gb.glue_all("prof", changes.glue_values())
    ch.table(changes.table(), "period_changes", "头条指标最近一个完整的月与周：本期、上期、去年同期与变化",
             counts=("value", "prev_value", "yoy_value"))
    s.finding(*period_words.headline_changes(changes, ch.cell_label))

# %% [markdown]
# ## 用户构成
#
# 每个维度上，各群体占全部用户、全部投资用户和全部资产的比例。资产的柱子高过人数的柱子，说明这群人
# 人均持有得更多。只画数据里有值的维度；不足 `min_cell_size` 人的群体在图表里不显示占比，和未知值一样
# 不在发现里点名。

# %%
with ch.section("composition", "用户构成") as s:
    comp = profiling.composition_table(wide)
    mix = profiling.composition_summary(comp, min_users=ch.min_cell)
    gb.glue_all("prof_comp", mix)
    panels = profiling.panel_dimensions(comp)
    shown = gb.suppress(comp, ch.min_cell, complement="dimension")  # the figure shows what the table shows
    axes = plots.share_panels(shown, by="dimension", x="value", panels=panels,
                              titles=profiling.DIMENSION_LABELS,
                              shares={"user_share": "用户", "investor_share": "投资用户", "aum_share": "资产"},
                              figsize=(11, 3.5 * -(-len(panels) // 2)),
                              suptitle="用户、投资用户与资产在各维度的占比")
    gb.show(axes.flat[0].figure)
    ch.table(comp, "composition", "各维度的用户、投资用户与资产（占比在每个维度之内）",
             formats={c: "{:.1%}" for c in ["user_share", "investor_share", "aum_share", "investor_rate"]}
             | {"aum": "{:,.0f}", "aum_per_investor": "{:,.0f}"}, complement="dimension")
    s.finding(*words.composition(mix, ch.cell_label))

# %% [markdown]
# ## 用户分层
#
# 用一个可量化的指标（参数 `layer_metric`，默认资产）按 `aum_bounds` 切成互不重叠的层级：每个用户
# 恰好在一层里，等于边界的值归入上一层；最上面两层称为高层级。

# %%
with ch.section("layers", "用户分层") as s:
    layer_table = profiling.layers(wide, metric=layer_metric, bounds=aum_bounds)
    tiers = profiling.layer_summary(layer_table)
    gb.glue_all("prof", tiers)
    word = tiers["metric_label"]
    shown = gb.suppress(layer_table, ch.min_cell, complement=[])  # the figure shows what the table shows
    gb.show(plots.share_bars(shown, x="layer", shares={"user_share": "用户占比", "metric_share": f"{word}占比"},
                             xlabel=f"{word}层级", title=f"各{word}层级的用户与{word}占比", figsize=(9, 4)).figure)
    ch.table(layer_table, "layers", f"{word}分层（每层为 [下限, 上限)，单位与 {layer_metric} 相同）",
             formats={"user_share": "{:.1%}", "metric_share": "{:.1%}", "metric_sum": "{:,.0f}",
                      "metric_mean": "{:,.0f}", "lower": "{:,.0f}", "upper": "{:,.0f}"}, complement=[])
    s.finding(*words.layers(tiers, ch.cell_label))

# %% [markdown]
# ## 用户分群
#
# 用 KMeans 按投资次数、投资金额、资产、距上次投资的天数和注册时长给投资人分群（次数和金额取对数）。
# 群组数 k 在 `cluster_k_min` 到 `cluster_k_max` 之间按轮廓系数 (silhouette) 选，但每群平均不少于
# `min_cell_size` 人、也不多于数据中不同投资行为的种数；和分层不同，群组在单个指标上可以重叠。

# %%
with ch.section("clusters", "用户分群") as s:
    clusters = profiling.cluster_users(wide, k_range=range(cluster_k_min, cluster_k_max + 1), seed=seed,
                                       min_size=ch.min_cell)
    groups = profiling.cluster_summary(clusters)
    gb.glue_all("prof", groups)
    if groups["k_skipped"]:
        gb.note(words.cluster_range(groups))
    gb.show(plots.silhouette(clusters.scores, clusters.k).figure)
    ch.table(clusters.scores, "cluster_scores", "每个 k 的轮廓系数与惯性",
             formats={"silhouette": "{:.3f}", "inertia": "{:,.0f}"})
    ch.table(clusters.profile, "clusters", "各群组的规模、平均行为与资产占比",
             formats={c: "{:,.1f}" for c in clusters.profile.columns if c.startswith("mean_")}
             | {"user_share": "{:.1%}", "aum_share": "{:.1%}", "aum": "{:,.0f}"})
    s.finding(*words.clusters(groups, clusters.profile, ch.cell_label))

# %% [markdown]
# ## 价值集中度
#
# 在持有资产的投资人中画资产的洛伦兹曲线 (Lorenz curve)：曲线越往对角线下方弯，钱越集中在少数人手里。
# 持有资产的人少于 `min_cell_size`（最少 5 人）时不计算：人太少时“前 20%”不到一个人，曲线也会指认到个人。

# %%
with ch.section("concentration", "价值集中度") as s:
    conc = profiling.concentration(wide, metric="aum", min_holders=ch.min_cell)
    gb.glue_all("prof", conc)
    lorenz = profiling.lorenz_curve(wide, metric="aum")
    gb.show(plots.lorenz_curve(lorenz).figure)
    ch.table(lorenz, "lorenz", "洛伦兹曲线上的点", formats={"population_share": "{:.2f}", "value_share": "{:.4f}"},
             max_rows=12)
    s.finding(*words.concentration(conc, ch.cell_label))

# %% [markdown]
# # 1 用户画像 (user profiling)
#
# 术语 (terms): {term}`分层`、{term}`分群`、{term}`AUM`、{term}`基尼系数`；全部术语见 {ref}`glossary`。
#
# Who signs up, who invests, and who holds the money? This chapter describes the users along
# the dimensions a campaign can target, layers them by assets (分层: tiers that do not overlap),
# groups the investors by behaviour (分群), and measures how concentrated the money is. The
# user wide table (用户宽表) built here is the one every later chapter reuses.

# %% tags=["parameters"]
data = None  # dataset folder, the bundled demo when None
analysis_date = None  # YYYY-MM-DD, else dataset.yml's, else the last event day
out_dir = None  # where tables/ and exports/ go, the project root when None
min_cell_size = 10  # smallest count of people a published table or figure label shows, smaller ones show as <10
channel_map = {}  # extra UTM source aliases for this run, {source: channel}, added to dataset.yml's channel map
aum_bounds = [0, 10000, 50000, 200000, 1000000]  # yuan, the tier edges for layering
layer_metric = "aum"  # the one core metric the layers are cut on
cluster_k_min = 3  # the fewest behaviour groups worth a separate message
cluster_k_max = 8  # the most behaviour groups tried
seed = 7  # random seed of the clustering

# %%
import growthloop.book as gb
from growthloop import plots, profiling

ch = gb.chapter("01_user_profiling", data, analysis_date, out_dir, min_cell_size, channel_map)
wide = ch.wide
gb.glue("prof_analysis_date", str(ch.ds.analysis_date))
gb.glue_all("prof", profiling.headline(wide))

# %% [markdown]
# As of {glue:text}`prof_analysis_date` the platform has {glue:text}`prof_users:,` registered users,
# of whom {glue:text}`prof_investors:,` ({glue:text}`prof_investor_rate:.1%`) have invested; they
# hold {glue:text}`prof_aum_total_wan:,.1f`万元 in assets, {glue:text}`prof_aum_per_investor:,.0f`元 per investor.
#
# ## 用户构成 (who the users, investors and money are)
#
# For each dimension: the share of all users, of investors and of assets. A group whose bar of
# assets is taller than its bar of users holds more than its head count.

# %%
comp = profiling.composition_table(wide)
axes = plots.share_panels(comp, by="dimension", x="value", panels=["age_band", "city_tier", "region", "device_os"],
                          titles=profiling.DIMENSION_LABELS,
                          shares={"user_share": "用户", "investor_share": "投资用户", "aum_share": "资产"},
                          suptitle="用户、投资用户与资产在各维度的占比")
gb.show(axes.flat[0].figure)

# %%
gb.glue_all("prof", profiling.band_shares(comp, "age_band", ["18-24", "45-55"]))
ch.table(comp, "composition", "各维度的用户、投资用户与资产 (shares within each dimension)",
         formats={c: "{:.1%}" for c in ["user_share", "investor_share", "aum_share", "investor_rate"]}
         | {"aum": "{:,.0f}", "aum_per_investor": "{:,.0f}"}, complement="dimension")

# %% [markdown]
# **发现 (finding).** Users aged 18-24 are {glue:text}`prof_age_18_24_user_share:.1%` of sign-ups
# but hold {glue:text}`prof_age_18_24_aum_share:.1%` of the assets; users aged 45-55 are
# {glue:text}`prof_age_45_55_user_share:.1%` of sign-ups and hold
# {glue:text}`prof_age_45_55_aum_share:.1%`.
#
# **运营建议 (action).** Put acquisition money where the asset share outruns the user share, and
# treat the young, small-ticket users as a volume segment: low-threshold products and
# education content rather than high-value offers.
#
# ## 用户分层 (layering by assets)
#
# One quantifiable metric cut into tiers that do not overlap: every user is in exactly one.

# %%
layers = profiling.layers(wide, metric=layer_metric, bounds=aum_bounds)
ax = plots.share_bars(layers, x="layer", shares={"user_share": "用户占比", "metric_share": "资产占比"},
                      xlabel="资产层级", title="各资产层级的用户与资产占比", figsize=(9, 4))
gb.show(ax.figure)

# %%
gb.glue_all("prof", profiling.layer_summary(layers))
ch.table(layers, "layers", "资产分层 (tiers are [lower, upper) in yuan)",
         formats={"user_share": "{:.1%}", "metric_share": "{:.1%}", "metric_sum": "{:,.0f}",
                  "metric_mean": "{:,.0f}", "lower": "{:,.0f}", "upper": "{:,.0f}"}, complement=[])

# %% [markdown]
# **发现 (finding).** Users holding 20万 yuan or more are
# {glue:text}`prof_top_layers_user_share:.1%` of users and hold
# {glue:text}`prof_top_layers_aum_share:.1%` of the assets, while
# {glue:text}`prof_no_asset_share:.1%` of users hold nothing today.
#
# **运营建议 (action).** Give the top tiers account managers and maturity reminders; move the
# empty tier with first-investment offers, and check in the funnel chapter where it stalls.
#
# ## 用户分群 (behaviour groups of investors)
#
# KMeans on investment count, amount, assets, days since the last investment and tenure
# (counts and money on a log scale). The number of groups is the one with the best silhouette
# score; groups may overlap in any single attribute, unlike the layers.

# %%
clusters = profiling.cluster_users(wide, k_range=range(cluster_k_min, cluster_k_max + 1), seed=seed)
ax = plots.silhouette(clusters.scores, clusters.k)
gb.show(ax.figure)

# %%
gb.glue_all("prof", profiling.cluster_summary(clusters))
profile = clusters.profile
ch.table(clusters.scores, "cluster_scores", "每个 k 的轮廓系数与惯性",
         formats={"silhouette": "{:.3f}", "inertia": "{:,.0f}"})

# %%
ch.table(profile, "clusters", "各群组的规模、平均行为与资产占比",
         formats={c: "{:,.1f}" for c in profile.columns if c.startswith("mean_")}
         | {"user_share": "{:.1%}", "aum_share": "{:.1%}", "aum": "{:,.0f}"})

# %% [markdown]
# **发现 (finding).** The investors fall into {glue:text}`prof_k` groups. The first,
# described as {glue:text}`prof_cluster1_desc`, is {glue:text}`prof_cluster1_user_share:.1%` of
# investors and holds {glue:text}`prof_cluster1_aum_share:.1%` of their assets.
#
# **运营建议 (action).** Write one message per group rather than one per platform: retention
# offers for the high-asset group, reactivation for the long-inactive, a second-investment
# nudge for the new small-ticket investors.
#
# ## 价值集中度 (value concentration)
#
# The Lorenz curve of assets over the investors who hold any: the further it bows below the
# diagonal, the more the money sits with a few.

# %%
lorenz = profiling.lorenz_curve(wide, metric="aum")
ax = plots.lorenz_curve(lorenz)
gb.show(ax.figure)

# %%
gb.glue_all("prof", profiling.concentration(wide, metric="aum"))
ch.table(lorenz, "lorenz", "洛伦兹曲线的点", formats={"population_share": "{:.2f}", "value_share": "{:.4f}"},
         max_rows=12)

# %% [markdown]
# **发现 (finding).** The top 20% of asset holders hold {glue:text}`prof_top20_share:.1%` of
# the assets; the Gini coefficient is {glue:text}`prof_gini:.2f`.
#
# **运营建议 (action).** A handful of large holders carry the platform: watch their maturities
# and withdrawals weekly, and judge every campaign by the assets it keeps, not only by the users
# it reaches.

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
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

import growthloop.book as gb
from growthloop import profiling, theme

ch = gb.chapter("01_user_profiling", data, analysis_date, out_dir, min_cell_size, channel_map)
wide = ch.wide
head = profiling.headline(wide)
gb.glue("prof_analysis_date", str(ch.ds.analysis_date))
gb.glue("prof_users", head["users"])
gb.glue("prof_investors", head["investors"])
gb.glue("prof_investor_rate", head["investor_rate"])
gb.glue("prof_aum_total", theme.yuan(head["aum_total"]))
gb.glue("prof_aum_per_investor", theme.yuan(head["aum_per_investor"]))

# %% [markdown]
# As of {glue:text}`prof_analysis_date` the platform has {glue:text}`prof_users:,` registered users,
# of whom {glue:text}`prof_investors:,` ({glue:text}`prof_investor_rate:.1%`) have invested; they
# hold {glue:text}`prof_aum_total` in assets, {glue:text}`prof_aum_per_investor` per investor.
#
# ## 用户构成 (who the users, investors and money are)
#
# For each dimension: the share of all users, of investors and of assets. A group whose bar of
# assets is taller than its bar of users holds more than its head count.

# %%
dimensions = ["age_band", "gender", "region", "city_tier", "device_os", "signup_channel"]
names = {"age_band": "年龄段", "gender": "性别", "region": "地区", "city_tier": "城市等级",
         "device_os": "设备", "signup_channel": "注册渠道"}
comp = pd.concat(
    [profiling.composition(wide, d).rename(columns={d: "value"}).assign(dimension=d) for d in dimensions],
    ignore_index=True,
)[["dimension", "value", "users", "investors", "aum", "user_share", "investor_share",
   "aum_share", "investor_rate", "aum_per_investor"]]
shares = comp.melt(id_vars=["dimension", "value"], value_vars=["user_share", "investor_share", "aum_share"],
                   var_name="share", value_name="占比")
shares["share"] = shares["share"].map({"user_share": "用户", "investor_share": "投资用户", "aum_share": "资产"})
fig, axes = plt.subplots(2, 2, figsize=(11, 7))
for ax, dim in zip(axes.flat, ["age_band", "city_tier", "region", "device_os"], strict=True):
    sns.barplot(shares[shares.dimension == dim], x="value", y="占比", hue="share", ax=ax)
    ax.set_title(names[dim])
    ax.set_xlabel("")
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.legend(title="", fontsize=8)
fig.suptitle("用户、投资用户与资产在各维度的占比")
gb.show(fig)

# %%
age = comp[comp.dimension == "age_band"].set_index("value")
gb.glue("prof_age_18_24_user_share", age.loc["18-24", "user_share"])
gb.glue("prof_age_45_55_user_share", age.loc["45-55", "user_share"])
gb.glue("prof_age_45_55_aum_share", age.loc["45-55", "aum_share"])
gb.glue("prof_age_18_24_aum_share", age.loc["18-24", "aum_share"])
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
fig, ax = plt.subplots(figsize=(9, 4))
layer_shares = layers.melt(id_vars=["layer"], value_vars=["user_share", "metric_share"],
                           var_name="share", value_name="占比")
layer_shares["share"] = layer_shares["share"].map({"user_share": "用户占比", "metric_share": "资产占比"})
sns.barplot(layer_shares, x="layer", y="占比", hue="share", ax=ax)
ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
ax.set_xlabel("资产层级")
ax.set_title("各资产层级的用户与资产占比")
ax.legend(title="")
gb.show(fig)

# %%
top_layers = layers[layers.lower >= 200000]
gb.glue("prof_top_layers_user_share", float(top_layers.user_share.sum()))
gb.glue("prof_top_layers_aum_share", float(top_layers.metric_share.sum()))
gb.glue("prof_no_asset_share", float(layers.user_share.iloc[0]))
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
fig, ax = plt.subplots(figsize=(7, 3.5))
sns.lineplot(clusters.scores, x="k", y="silhouette", marker="o", ax=ax)
ax.axvline(clusters.k, color="grey", linestyle="--")
ax.set_title(f"轮廓系数 (silhouette) 选出 {clusters.k} 个群组")
ax.set_xlabel("群组数 k")
gb.show(fig)

# %%
gb.glue("prof_k", clusters.k)
profile = clusters.profile
gb.glue("prof_cluster1_desc", profile.description.iloc[0])
gb.glue("prof_cluster1_user_share", profile.user_share.iloc[0])
gb.glue("prof_cluster1_aum_share", profile.aum_share.iloc[0])
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
fig, ax = plt.subplots(figsize=(5, 5))
ax.plot(lorenz.population_share, lorenz.value_share, label="洛伦兹曲线")
ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="完全平均")
ax.set_xlabel("投资用户累计占比 (按资产从低到高)")
ax.set_ylabel("资产累计占比")
ax.set_title("资产集中度")
ax.legend()
gb.show(fig)

# %%
gb.glue("prof_gini", head["gini"])
gb.glue("prof_top20_share", head["top20_share"])
ch.table(lorenz, "lorenz", "洛伦兹曲线的点", formats={"population_share": "{:.2f}", "value_share": "{:.4f}"},
         max_rows=12)

# %% [markdown]
# **发现 (finding).** The top 20% of asset holders hold {glue:text}`prof_top20_share:.1%` of
# the assets; the Gini coefficient is {glue:text}`prof_gini:.2f`.
#
# **运营建议 (action).** A handful of large holders carry the platform: watch their maturities
# and withdrawals weekly, and judge every campaign by the assets it keeps, not only by the users
# it reaches.

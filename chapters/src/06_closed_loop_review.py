# %% [markdown]
# # 6 营销闭环复盘 (closed-loop campaign review)
#
# 术语 (terms): {term}`闭环`、{term}`实验组`、{term}`对照组`、{term}`增量`、{term}`意向处理`、{term}`SRM`、{term}`置信区间`；全部术语见 {ref}`glossary`。
#
# 一次短信、推送、邮件或微信活动之后，团队要回答四个问题：和一个什么都没收到的对照组 (holdout) 相比，
# 活动到底有没有用？每多带来一个响应者花了多少钱？哪些人响应了？下一轮该找谁、用什么渠道、给什么权益？
# 本章对一次活动回答这四个问题，并把它放回历次活动之中，形成“找人 → 触达 → 评估 → 下一轮”的闭环。
# (Did the campaign work against its holdout, at what cost per incremental responder, for whom, and
# whom to target next.)
#
# 口径 (rules): 响应窗口对实验组从各自的发送时间 (sent_at) 起算，对没有发送时间的对照组从活动开始
# 时间 (start_at) 起算，长度相同（默认取活动表的 window_days），左开右闭；单批次发送时两组窗口的起点
# 只差发送批次内的几分钟，卡片上给出最大发送延迟供判断。效果按意向处理 (intention to treat) 计算：
# 实验组的每个人都算，无论是否送达。成本 = 发送条数 × 单条成本 + 实验组响应人数 × 单次奖励（奖励发给
# 每一个响应者，包括本来就会响应的人）。活动前行为和资产分层都取活动开始之前的数据，活动本身不会改变它们。

# %% tags=["parameters"]
data = None  # dataset folder, the bundled demo (data/demo) when None
analysis_date = None  # YYYY-MM-DD, else dataset.yml's, else the last event day
out_dir = None  # where tables/ and exports/ go, the project root when None
min_cell_size = 10  # smallest count of people a published table or figure label shows, smaller ones show as <10
channel_map = {}  # extra UTM source aliases for this run, {source: channel}, added to dataset.yml's channel map
campaign_id = "C2026_01"  # the campaign to review (campaign_id in campaigns), None for the latest with a holdout
response_days = None  # response window in days, None for the campaign's own window_days
goal = None  # register, bind_card, first_investment, any_investment or amount; None for the campaign's goal
holdout_share = 0.2  # planned holdout share, for the sample-ratio check (None to skip it)
segment_breakdowns = ["age_band", "layer", "signup_channel"]  # segment breakdowns: layer (AUM at start), signup_channel, age_band, city_tier, gender, region, device_os
rfm_breakdown = True  # also break down by the RFM segment of chapter 4, as of the day before the campaign
covariate = "pre_active_days"  # CUPED covariate: pre_active_days, pre_invest_count, pre_invest_amount or tenure_days
pre_days = 90  # days before the campaign that count as pre-campaign behaviour
alpha = 0.05  # significance level (two-sided) for every interval and test
next_round_budget = 500.0  # next-round budget in yuan (None for no limit)
target_investors = 300  # next stage's target of new first investors, worked back through each channel's funnel and cost

# %%
import growthloop.book as gb
from growthloop import campaign_review as cr
from growthloop import plots
from growthloop.metrics import planning, stats, uplift

ch = gb.chapter("06_closed_loop_review", data, analysis_date, out_dir, min_cell_size, channel_map)
camp = cr.campaign(ch.ds, campaign_id, response_days, goal)
PCT = "{:.1%}"

# %% [markdown]
# ## 活动卡片 (the campaign card)

# %%
all_campaigns = cr.campaigns(ch.ds)
gb.glue_all("review", cr.card_summary(camp, all_campaigns))
ch.table(camp.card(), "campaign_card", "本次复盘的活动")

# %%
ch.table(cr.campaign_list(all_campaigns), "campaign_list", "数据中的全部活动 (campaign_id 可作为本章参数)",
         formats={"holdout_share": PCT, "cost_per_send": "{:.2f}", "cost_per_reward": "{:.2f}"})

# %% [markdown]
# **发现 (finding).** 数据中共有 {glue:text}`review_campaigns` 次活动。本章复盘 {glue:text}`review_campaign`：
# 渠道为{glue:text}`review_channel`，目标是「{glue:text}`review_goal`」，响应窗口 {glue:text}`review_window` 天；
# 名单 {glue:text}`review_members:,` 人，其中实验组 {glue:text}`review_treatment:,` 人、对照组 {glue:text}`review_control:,` 人。
# 实验组最晚一条在活动开始后 {glue:text}`review_send_delay:.0f` 分钟发出，两组窗口几乎同时开始，可以直接比较。
#
# **运营建议 (action).** 每次活动上线前都在活动表里写清目标、窗口、单条成本、奖励成本和选人规则，并随机留出
# 对照组；没有这些，复盘就只能看响应人数，无法知道其中多少是活动带来的。

# %% [markdown]
# ## 活动漏斗 (the campaign's own funnel)
#
# 发送 → 送达 → 点击短链 → 打开App → (注册 → 绑卡) → 达成目标，按发送批次 (发送日期) 统计实验组。
# “人数 (users)” 是沿这条路径走下来的人，“到达 (reached)” 是以任何方式到达这一步的人
# （不点短链、自己打开App完成目标的人也算）。

# %%
fun = cr.campaign_funnel(ch.ds, camp, pre_days)
diag = cr.diagnose(fun)
gb.glue_all("review", cr.funnel_summary(fun, diag))
ax = plots.campaign_funnel_bars(cr.funnel_total(fun), camp.campaign_id, label=ch.cell_label)
gb.show(ax.figure)

# %%
ch.table(fun, "campaign_funnel", "实验组按发送批次的活动漏斗：沿路径人数、到达人数与转化率；响应率低于 1% 的批次被标出",
         formats={"rate_from_previous": PCT, "rate_from_sent": PCT})

# %%
ch.table(diag, "campaign_diagnosis", "各环节与经验阈值的比较：低于阈值的环节该调整什么",
         formats={"rate": PCT, "threshold": PCT})

# %% [markdown]
# **发现 (finding).** 实验组发送 {glue:text}`review_sent:,` 条，送达率 {glue:text}`review_delivery_rate:.1%`，
# 送达后点击短链的比例 {glue:text}`review_click_rate:.1%`，点击后达成目标的比例 {glue:text}`review_click_to_goal:.1%`。
# 窗口内达成目标的实验组成员共 {glue:text}`review_reached_goal:,` 人，其中沿“点击 → 打开 → 达成”这条路径走完的
# {glue:text}`review_path_goal:,` 人，另外 {glue:text}`review_off_path:,` 人没有走短链，是看到消息后（或本来就会）自己打开App完成的：
# 只看短链点击会低估响应，而其中多少是活动带来的，要看下一节的对照组。
# 实验组响应率为 {glue:text}`review_response_rate:.1%`，{glue:text}`review_low_response`。低于经验阈值的环节：{glue:text}`review_weak`。
#
# **运营建议 (action).** 低于阈值的环节按表中“调整什么”处理：送达低查号码与推送权限，点击低改文案、权益和发送时段，
# 点击后转化低查落地页与App内承接；响应率低于 1% 时先回头检查人群规则。短链点击只是响应的一部分，评估效果要看下一节的对照组比较。

# %%
if camp.acquisition:
    utm = cr.utm_funnel(ch.ds, camp)
    ch.table(utm, "campaign_utm_funnel", "通过带本活动 utm_campaign 链接进入的人：点击 → 安装 → 注册 → 绑卡 → 首投",
             formats={"rate_from_previous": PCT, "rate_from_start": PCT})
else:
    print("本活动面向存量用户（目标不是注册），按 utm_campaign 的拉新漏斗不适用。")

# %% [markdown]
# ## 实验组与对照组 (effect against the holdout)

# %%
eff = cr.effect(ch.ds, camp, alpha, pre_days)
gb.glue_all("review", cr.effect_summary(eff, camp))
ax = plots.response_rate_bars(cr.rates_table(eff, alpha), camp.goal_label, label=ch.cell_label)
gb.show(ax.figure)

# %%
ch.table(cr.effect_table(camp, eff), "campaign_effect",
         "每组一行：人数、响应人数、响应率；实验组行给出绝对增量、Newcombe 95% 区间与双比例 z 检验 p 值",
         formats={"rate": PCT, "uplift": "{:+.2%}", "ci_low": "{:+.2%}", "ci_high": "{:+.2%}", "p_value": "{:.3g}"})

# %%
ch.table(cr.business_table(eff), "campaign_business", "效果的业务口径：增量响应、增量投资额与收入、成本与增量 ROI",
         formats={"value": "{:,.4g}", "ci_low": "{:,.4g}", "ci_high": "{:,.4g}"})

# %% [markdown]
# **发现 (finding).** {glue:text}`review_verdict`。窗口内实验组响应率 {glue:text}`review_rate_t:.1%`，对照组
# {glue:text}`review_rate_c:.1%`，绝对增量 {glue:text}`review_uplift:+.2%`（Newcombe 95% 区间 {glue:text}`review_ci_low:+.2%` 至
# {glue:text}`review_ci_high:+.2%`，双比例 z 检验 p = {glue:text}`review_p_value:.3f`），相对增量 {glue:text}`review_relative:+.0%`
# （区间 {glue:text}`review_rel_ci_low:+.0%` 至 {glue:text}`review_rel_ci_high:+.0%`）。折合增量响应者约
# {glue:text}`review_inc_responders:.1f` 人（{glue:text}`review_inc_low:.1f` 至 {glue:text}`review_inc_high:.1f`）。
# 人均投资额实验组 {glue:text}`review_amount_t:,.0f` 元、对照组 {glue:text}`review_amount_c:,.0f` 元，差
# {glue:text}`review_amount_diff:+,.0f` 元（Welch t 区间 {glue:text}`review_amount_ci_low:+,.0f` 至 {glue:text}`review_amount_ci_high:+,.0f` 元，
# p = {glue:text}`review_amount_p_welch:.3f`；Mann-Whitney p = {glue:text}`review_amount_p_mwu:.3f`）。金额是重尾的：
# 我们用 Welch t 检验均值，因为增量金额 = 均值差 × 人数，均值才是业务要的量，且每组上百人时均值的抽样分布已接近正态；
# Mann-Whitney 对少数大额不敏感，作为稳健性参照，但它检验的是分布整体的位移，不是均值。
# 总成本 {glue:text}`review_cost:,.0f` 元（发送 {glue:text}`review_cost_send:,.0f` 元，单条 {glue:text}`review_cost_per_send:.2f` 元；
# 奖励 {glue:text}`review_cost_reward:,.0f` 元，单次 {glue:text}`review_cost_per_reward:.0f` 元），每个增量响应者的成本
# {glue:text}`review_cost_per_incremental:,.1f` 元；窗口内增量收入 {glue:text}`review_inc_revenue:,.0f` 元，增量 ROI
# {glue:text}`review_roi:.0%`。
#
# **运营建议 (action).** 向业务汇报时用增量而不是响应人数：实验组的响应者里有一部分不发也会来，奖励却照样发给了他们。
# 增量区间很宽时（对照组小），先不要据此加减预算，下一轮把对照组保持在 10%–20% 并扩大名单，让区间收窄。

# %% [markdown]
# ## 可信度检查 (checks before trusting it)

# %%
s = stats.srm(eff["users_t"], eff["users_c"], holdout_share)
pw = cr.power_check(eff, alpha)
bal = cr.balance(ch.ds, camp, pre_days)
gb.glue_all("review", cr.checks_summary(s, pw, bal) | {"pre_days": pre_days})
ax = plots.smd_bars(bal, cr.SMD_LIMIT, pre_days)
gb.show(ax.figure)

# %%
ch.table(cr.checks_table(s, pw), "campaign_checks", "样本比例 (SRM) 检验与最小样本量 (MDE, 80% 检验力)")

# %%
ch.table(bal, "campaign_balance", "活动前行为的组间比较：均值、标准化均值差与 Welch 检验 p 值",
         formats={"mean_t": "{:,.2f}", "mean_c": "{:,.2f}", "smd": "{:+.3f}", "p_value": "{:.3g}"})

# %% [markdown]
# **发现 (finding).** 对照组实际占 {glue:text}`review_observed_holdout:.1%`，计划为 {glue:text}`review_planned_holdout:.0%`，
# 卡方检验 p = {glue:text}`review_srm_p:.3f`：{glue:text}`review_srm_verdict`。活动前 {glue:text}`review_pre_days` 天的
# 行为上，两组最大的标准化均值差是 {glue:text}`review_max_smd:.2f`，有 {glue:text}`review_imbalanced` 项超过 0.1；
# 对照组只有一两百人时 SMD 本身的波动就接近 0.1，所以要看旁边的 p 值：p < 0.05 的有 {glue:text}`review_balance_sig` 项
# （为 0 时，差异可以看作随机分组的正常波动）。
# 以现在的样本，最小可检测增量 (MDE) 是 {glue:text}`review_mde:.1%`；要在同样的组比例下稳定检出当前的增量，实验组需要约
# {glue:text}`review_needed:,.0f` 人。{glue:text}`review_power_warning`。
#
# **运营建议 (action).** SRM 不通过时先查分组和发送日志（漏发、重复、被过滤的人），不要解读效果；活动前行为不平衡时，
# 用下一节的 CUPED 或分层比较校正。下一轮名单规模至少按上面的所需人数准备。

# %% [markdown]
# ## CUPED 方差缩减 (variance reduction with pre-campaign activity)
#
# CUPED 用每个人活动前的行为 x 校正结果 y：y − θ(x − x̄)，θ = cov(x, y) / var(x) 取全体成员的合并协方差。
# 随机分组下它不改变增量的期望，只缩小方差。引擎里只汇总每组的 n 与 y、x、y²、x²、xy 之和。

# %%
cup = cr.cuped(ch.ds, camp, "response", covariate, pre_days, alpha)
gb.glue_all("review", cr.cuped_summary(cup, covariate))
ax = plots.cuped_intervals(cup, cr.ESTIMATE_LABELS, covariate)
gb.show(ax.figure)

# %%
ch.table(cup, "campaign_cuped", "普通估计与 CUPED 估计：增量、标准误、区间、p 值、θ 与方差缩减比例",
         formats={"uplift": "{:+.2%}", "se": "{:.4f}", "ci_low": "{:+.2%}", "ci_high": "{:+.2%}", "p_value": "{:.3g}",
                  "theta": "{:.4f}", "variance_reduction": PCT})

# %% [markdown]
# **发现 (finding).** 以活动前 {glue:text}`review_pre_days` 天的 {glue:text}`review_covariate` 为协变量，θ =
# {glue:text}`review_cuped_theta:.4f`，CUPED 估计的增量为 {glue:text}`review_cuped_uplift:+.1%`（区间
# {glue:text}`review_cuped_low:+.1%` 至 {glue:text}`review_cuped_high:+.1%`；同样用 Wald 区间的普通估计为 {glue:text}`review_plain_low:+.1%`
# 至 {glue:text}`review_plain_high:+.1%`，与上一节的 Newcombe 区间略有不同），方差缩减 {glue:text}`review_cuped_reduction:.1%`。缩减的多少取决于活动前行为
# 与响应的相关程度（缩减比例约等于两者相关系数的平方）：相关弱时收益有限，但估计依然无偏。
#
# **运营建议 (action).** 对照组小、又想更早下结论时，优先换一个与目标更相关的协变量（如复投活动用活动前投资次数），
# 方差缩减越大，相同样本下区间越窄；但 CUPED 不能替代足够的样本量。

# %% [markdown]
# ## 谁响应了 (uplift by segment)
#
# 每个分群分别比较实验组与对照组。任一组不足 30 人的分群不下结论（样本不足）；同时检验多个分群时，总会有一个
# “看起来显著”，所以结论以 Holm 校正后的 p 值为准。资产分层取活动开始时的在投资产。

# %%
segs = cr.segment_uplifts(ch.ds, camp, segment_breakdowns, rfm=rfm_breakdown, alpha=alpha, pre_days=pre_days)
gb.glue_all("review", cr.segment_uplifts_summary(segs))
axes = plots.segment_uplift_panels(segs.tables)
gb.show(axes.flat[0].figure)

# %%
ch.table(segs.book_table(), "segment_uplift", "各分群的实验组与对照组响应率、增量、Newcombe 95% 区间、p 值与 Holm 校正 p 值",
         formats={"rate_t": PCT, "rate_c": PCT, "uplift": "{:+.1%}", "ci_low": "{:+.1%}", "ci_high": "{:+.1%}",
                  "p_value": "{:.3g}", "p_holm": "{:.3g}", "share": PCT})

# %% [markdown]
# ### 增量模型与 Qini 曲线 (a two-model uplift model)
#
# 双模型 (two-model / T-learner)：实验组和对照组各拟合一个逻辑回归（特征为年龄段、资产分层、注册渠道、城市等级、设备
# 和活动前活跃天数），两者预测概率之差就是每个人的预测增量。模型在按 user_id 哈希 (固定种子) 分出的两折上交叉拟合：
# 每个人的预测都来自没见过他的那一折，Qini 曲线因此不是自评自。特征都是类别，所以只把“折 × 特征格子 × 组 × 是否响应”
# 的人数从引擎取出，加权拟合与逐人拟合完全等价。

# %%
model = uplift.uplift_model(ch.ds, camp, folds=2, seed=7, pre_days=pre_days)
gb.glue_all("review", uplift.model_summary(model, eff["uplift"]))
ax = plots.qini_curve(model.qini, title="Qini 曲线 (交叉拟合)", label="按预测增量排序 (two-model)",
                      ylabel="增量响应者 (按实验组规模)")
gb.show(ax.figure)

# %%
ch.table(model.at_k, "uplift_at_k", "Uplift@k：预测增量最高的前 k 名成员中实际观察到的增量 (整格计入，覆盖比例可能略超过 k)",
         formats={"k": "{:.0%}", "share": PCT, "uplift": "{:+.1%}"})

# %%
ch.table(model.qini, "qini", "Qini 曲线的点：覆盖比例、Qini 值 (增量响应者)、随机线与到此为止的增量",
         formats={"share_targeted": PCT, "qini": "{:.1f}", "random": "{:.1f}", "uplift_so_far": "{:+.1%}"})

# %% [markdown]
# **发现 (finding).** 共比较了 {glue:text}`review_seg_cells` 个“拆分 × 分群”组合，Holm 校正后增量显著为正的有
# {glue:text}`review_seg_positive` 个。以 {glue:text}`review_seg_breakdown` 拆分时，{glue:text}`review_seg_tested` 个分群样本足够检验、
# {glue:text}`review_seg_small` 个不足 30 人；检验过的分群中增量估计最高的是 {glue:text}`review_seg_best`
# （{glue:text}`review_seg_best_uplift:+.1%`）。分群的对照组往往只有几十人，区间很宽：分群之间的差异目前只能当作假设。
# 双模型按预测增量排序后，预测最高的 20% 成员中实际增量为 {glue:text}`review_uplift_at_20:+.1%`（全体为
# {glue:text}`review_uplift_all:+.1%`），Qini 曲线与随机线之间的面积占最终增量的 {glue:text}`review_qini:.2f`
# （0 表示排序不比随机好）。对照组小时曲线本身也有很大的随机波动，这个模型只用来给下一轮的分层实验排优先级。
#
# **运营建议 (action).** 只在 Holm 校正后仍显著的分群上加码；其余分群的点估计用来设计下一轮的分层实验
# （在这些分群里各自留足对照组），而不是直接砍掉。

# %% [markdown]
# ## 历次活动 (the rounds so far)

# %%
hist = cr.history(ch.ds, alpha, pre_days)
gb.glue_all("review", cr.history_summary(hist))
ax = plots.history_intervals(hist)
gb.show(ax.figure)

# %%
ch.table(hist, "campaign_history", "每次活动按各自的目标与窗口：响应率、增量及区间、增量响应者、成本与增量 ROI",
         formats={"rate_t": PCT, "rate_c": PCT, "uplift": "{:+.1%}", "ci_low": "{:+.1%}", "ci_high": "{:+.1%}",
                  "p_value": "{:.3g}", "inc_responders": "{:.1f}", "cost": "{:,.0f}", "cost_per_incremental": "{:,.1f}",
                  "roi": PCT})

# %% [markdown]
# **发现 (finding).** {glue:text}`review_hist_campaigns` 次活动中，增量区间完全在 0 以上的有
# {glue:text}`review_hist_significant` 次，增量 ROI 为正的有 {glue:text}`review_hist_positive_roi` 次；
# 增量 ROI 最高的是 {glue:text}`review_hist_best`（{glue:text}`review_hist_best_roi:.0%`）。ROI 只计窗口内的投资收入，
# 不含之后的复投，偏保守；奖励类活动（加息券、红包）的成本最高，要用增量而不是响应人数来衡量是否值得。
#
# **运营建议 (action).** 把这张表作为活动台账每轮更新：增量不显著的活动先扩大样本重做一轮再决定去留，
# 增量显著但 ROI 为负的活动降低奖励或收窄人群，增量显著且 ROI 为正的活动固化为常规触发。

# %% [markdown]
# ## 下一轮 (the next round)

# %%
plan, targets = cr.next_round(ch.ds, camp, segs.first_table, segs.first, budget=next_round_budget,
                              overall=eff, pre_days=pre_days)
ch.export(targets.to_pandas(), "next_round_targets")
gb.glue_all("review", cr.next_round_summary(plan, camp, next_round_budget))
ch.table(plan, "next_round_plan",
         "下一轮的分群计划：目标人数、依据的增量、预期增量响应者与成本，按每元带来的增量排序并按预算截断 (名单只写入私有 exports/)",
         formats={"uplift": "{:+.1%}", "ci_low": "{:+.1%}", "rate_t": PCT, "expected_incremental": "{:.1f}",
                  "expected_cost": "{:,.0f}", "cost_per_incremental": "{:,.1f}", "cumulative_cost": "{:,.0f}"})

# %% [markdown]
# **发现 (finding).** 选人依据：{glue:text}`review_plan_basis`。在 {glue:text}`review_budget:,.0f` 元预算内，下一轮覆盖
# {glue:text}`review_plan_segments` 个分群（{glue:text}`review_plan_names`），共 {glue:text}`review_plan_targets:,` 人
# （本活动中未响应的实验组成员和从未收到消息的对照组成员），预期带来约 {glue:text}`review_plan_incremental:.1f` 个增量响应者，
# 预期成本 {glue:text}`review_plan_cost:,.0f` 元。
#
# **运营建议 (action).** 名单在本次运行的 exports/06_closed_loop_review/next_round_targets.csv（私有，不发布）。
# 渠道沿用本次验证过的{glue:text}`review_channel`，权益建议「{glue:text}`review_offer`」；下一轮仍随机留出 10%–20% 对照组，
# 并按上文的所需人数扩大名单，让分群差异也能被检验，闭环的下一圈才有可比的数字。

# %% [markdown]
# ## 下一阶段目标拆解 (the next stage's goal, worked back through the channels)
#
# 从下一阶段“新增首投用户”的目标倒推：按各获客渠道现在的首投用户占比分配目标，再用该渠道“注册 → 首投”和
# “广告点击 → 注册”的历史转化率（首触渠道，30 天窗口，见第 2 章）算出需要的注册数和点击数，用“花费 ÷ 首投用户”
# 的单位成本算出预算。没有花费的渠道（自然、老带新）只需要量，不需要投放预算。

# %%
goal_table = planning.goal_plan(ch.ds, target_investors)
gb.glue_all("review", planning.goal_summary(goal_table, target_investors))
ax = plots.goal_budget_bars(goal_table, target_investors)
gb.show(ax.figure)

# %%
ch.table(goal_table, "goal_decomposition", "目标倒推：各渠道的首投、注册、点击与预算 (按现有渠道结构分配)",
         formats={"share": PCT, "register_to_invest": PCT, "click_to_register": PCT, "cost_per_investor": "{:,.1f}",
                  "target_investors": "{:,.1f}", "target_registrations": "{:,.0f}", "target_clicks": "{:,.0f}", "budget": "{:,.0f}"})

# %% [markdown]
# **发现 (finding).** 要在下一阶段新增 {glue:text}`review_target_investors:,` 名首投用户，按现有渠道结构需要约
# {glue:text}`review_target_registrations:,.0f` 个注册、{glue:text}`review_target_clicks:,.0f` 次广告点击，投放预算约
# {glue:text}`review_target_budget:,.0f` 元；份额最大的渠道是 {glue:text}`review_target_top`（{glue:text}`review_target_top_share:.1%`）。
#
# **运营建议 (action).** 这张表是“保持现有结构”的基线：把预算从单位成本高的渠道挪向单位成本低、转化率高的渠道之前，
# 先用第 3 章的渠道质量与边际回报确认这些渠道还有量；每个渠道按表中的注册数和点击数设周目标，偏离时回到漏斗查是哪一步掉了。

# %% [markdown]
# # 6 营销闭环复盘
#
# 术语：{term}`闭环`、{term}`实验组`、{term}`对照组`、{term}`增量`、{term}`意向处理`、{term}`SRM`、{term}`置信区间`；全部术语见 {ref}`glossary`。
#
# 一次短信、推送、邮件或微信活动之后，团队要回答四个问题：和一个什么都没收到的对照组 (holdout) 相比，
# 活动到底有没有用？每多带来一个响应者花了多少钱？哪些人响应了？下一轮该找谁、用什么渠道、给什么权益？
# 本章对一次活动回答这四个问题，并把它放回历次活动之中，形成“找人 → 触达 → 评估 → 下一轮”的闭环。
#
# :::{admonition} 口径
# :class: dropdown
# 响应窗口对实验组从各自的发送时间 (sent_at) 起算，对没有发送时间的对照组从活动开始
# 时间 (start_at) 起算，长度相同（默认取活动表的 window_days），左开右闭；单批次发送时两组窗口的起点
# 只差发送批次内的几分钟，卡片上给出最大发送延迟供判断。效果按意向处理 (intention to treat) 计算：
# 实验组的每个人都算，无论是否送达。成本 = 发送条数 × 单条成本 + 实验组响应人数 × 单次奖励（奖励发给
# 每一个响应者，包括本来就会响应的人）。活动前行为和资产分层都取活动开始之前的数据，活动本身不会改变它们。
# 只复盘在分析日之前开始的活动。
# :::

# %% tags=["parameters"]
data = None  # dataset folder, the bundled demo (data/demo) when None
analysis_date = None  # YYYY-MM-DD, else dataset.yml's, else the last event day
out_dir = None  # where tables/ and exports/ go, the project root when None
min_cell_size = 10  # smallest count of people a published table or figure label shows, smaller ones show as <10
channel_map = {}  # extra UTM source aliases for this run, {source: channel}, added to dataset.yml's channel map
campaign_id = None  # the campaign to review (campaign_id in campaigns); None for the latest with a holdout, else the latest with members
response_days = None  # response window in days, None for the campaign's own window_days
goal = None  # first_investment, any_investment, amount or any event of the data (role, own event, {event, where}); None for the campaign's goal
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
from growthloop.present.findings import campaign_review as words

ch = gb.chapter("06_closed_loop_review", data, analysis_date, out_dir, min_cell_size, channel_map)
PCT = "{:.1%}"
TOP_K = 0.2  # the share of members the uplift model's headline number is read at

# %% [markdown]
# ## 活动卡片

# %%
with ch.section("card", "活动卡片") as s:
    camp = cr.campaign(ch.ds, campaign_id, response_days, goal)
    all_campaigns = cr.campaigns(ch.ds)
    head = cr.card_summary(camp, all_campaigns)
    gb.glue_all("review", head)
    if campaign_id is None:
        gb.note(words.chosen_campaign(cr.default_choice(ch.ds), cr.campaign_label(camp)))
    ch.table(camp.card(ch.cell_label), "campaign_card", "本次复盘的活动")
    ch.table(cr.campaign_list(all_campaigns), "campaign_list", "数据中在分析日之前开始的全部活动 (campaign_id 可作为本章参数)",
             formats={"holdout_share": PCT, "cost_per_send": "{:.2f}", "cost_per_reward": "{:.2f}"})
    s.finding(*words.card(head, ch.cell_label))

# %% [markdown]
# ## 活动漏斗
#
# 发送 → 送达 → 点击短链 → 打开App → (注册 → 绑卡) → 达成目标，按发送批次 (发送日期) 统计实验组。
# “沿路径”是沿这条路径走下来的人，“到达”是以任何方式到达这一步的人
# （不点短链、自己打开App完成目标的人也算）。数据没有记录的环节（没有送达回执、没有任何点击记录、
# 没有打开App的事件）不放进漏斗。面向潜在用户的拉新活动（目标为注册）另给出带本活动 utm_campaign
# 的链接带来的拉新漏斗。

# %%
with ch.section("funnel", "活动漏斗") as s:
    camp = cr.campaign(ch.ds, campaign_id, response_days, goal)
    fun = cr.campaign_funnel(ch.ds, camp, pre_days)
    diag = cr.diagnose(fun)
    head = cr.funnel_summary(fun, diag)
    gb.glue_all("review", head)
    gb.show(plots.campaign_funnel_bars(cr.funnel_total(fun), camp.campaign_id, label=ch.cell_label).figure)
    ch.table(fun, "campaign_funnel", "实验组按发送批次的活动漏斗：沿路径人数、到达人数与转化率；响应率低于 1% 的批次被标出",
             formats={"rate_from_previous": PCT, "rate_from_sent": PCT})
    ch.table(diag, "campaign_diagnosis", "各环节与经验阈值的比较：低于阈值的环节该调整什么",
             formats={"rate": PCT, "threshold": PCT})
    s.finding(*words.funnel(head, diag, ch.cell_label))

# %% tags=["hide-output"] mystnb={"code_prompt_show": "展开明细：活动链接带来的拉新漏斗"}
if s.shown:
    if camp.acquisition:
        ch.table(cr.utm_funnel(ch.ds, camp), "campaign_utm_funnel",
                 "通过带本活动 utm_campaign 链接进入的人：点击 → 安装 → 注册 → 绑卡 → 首投",
                 formats={"rate_from_previous": PCT, "rate_from_start": PCT}, counts=["people"])

# %% [markdown]
# ## 实验组与对照组

# %%
with ch.section("effect", "实验组与对照组") as s:
    camp = cr.campaign(ch.ds, campaign_id, response_days, goal)
    eff = cr.effect(ch.ds, camp, alpha, pre_days, ch.min_cell)
    head = cr.effect_summary(eff, camp)
    gb.glue_all("review", head)
    gb.show(plots.response_rate_bars(cr.rates_table(eff, alpha), camp.goal_label, label=ch.cell_label).figure)
    ch.table(cr.effect_table(camp, eff), "campaign_effect",
             "每组一行：人数、响应人数、响应率；实验组行给出绝对增量、Newcombe 区间与双比例 z 检验 p 值",
             formats={"rate": PCT, "uplift": "{:+.2%}", "ci_low": "{:+.2%}", "ci_high": "{:+.2%}", "p_value": "{:.3g}"})
    s.finding(*words.effect(head, alpha, ch.cell_label))

# %% [markdown]
# ## 成本与增量 ROI
#
# 成本来自活动表的单条发送成本和单次奖励成本；只填了其中一项时，另一项按 0 计并在结论里说明。
# 增量收入 = 两组人均收入之差 × 实验组人数，只计窗口内的投资收入。

# %%
with ch.section("roi", "成本与增量 ROI") as s:
    camp = cr.campaign(ch.ds, campaign_id, response_days, goal)
    eff = cr.effect(ch.ds, camp, alpha, pre_days, ch.min_cell)
    money = cr.roi_summary(eff, camp)
    gb.glue_all("review", money)
    ch.table(cr.business_table(eff), "campaign_business", "效果的业务口径：增量响应、增量投资额与收入、成本与增量 ROI",
             formats={"value": "{:,.4g}", "ci_low": "{:,.4g}", "ci_high": "{:,.4g}"})
    s.finding(*words.roi(money, cr.effect_summary(eff, camp)))

# %% [markdown]
# ## 可信度检查
#
# 样本比例 (SRM) 检验：实际的对照组比例与计划 (参数 holdout_share) 是否相符；活动前行为的平衡：两组在活动
# 开始前的活跃、投资和注册天数是否可比；检验力：以现在的样本能检出多大的增量。

# %%
with ch.section("checks", "可信度检查") as s:
    camp = cr.campaign(ch.ds, campaign_id, response_days, goal)
    eff = cr.effect(ch.ds, camp, alpha, pre_days, ch.min_cell)
    bal = cr.balance(ch.ds, camp, pre_days, min_group=ch.min_cell)
    srm = stats.srm(eff["users_t"], eff["users_c"], holdout_share)
    pw = cr.power_check(eff, alpha)
    head = cr.checks_summary(srm, pw, bal, p_level=alpha)
    gb.glue_all("review", head | {"pre_days": pre_days})
    ch.table(cr.checks_table(srm, pw, ch.cell_label), "campaign_checks", "样本比例检验与最小样本量")
    s.finding(*words.checks(head, pre_days))

# %% tags=["hide-output"] mystnb={"code_prompt_show": "展开明细：活动前行为的组间平衡"}
if s.shown:
    gb.show(plots.smd_bars(bal, cr.SMD_LIMIT, pre_days).figure)
    ch.table(bal, "campaign_balance", "活动前行为的组间比较：均值、标准化均值差与 Welch 检验 p 值",
             formats={"mean_t": "{:,.2f}", "mean_c": "{:,.2f}", "smd": "{:+.3f}", "p_value": "{:.3g}"})

# %% [markdown]
# ## CUPED 方差缩减
#
# :::{admonition} 方法：怎样缩小方差
# :class: dropdown
# CUPED 用每个人活动前的行为 x 校正结果 y：y − θ(x − x̄)，θ = cov(x, y) / var(x) 取全体成员的合并协方差。
# 随机分组下它不改变增量的期望，只缩小方差。引擎里只汇总每组的 n 与 y、x、y²、x²、xy 之和。
# :::

# %%
with ch.section("cuped", "CUPED 方差缩减") as s:
    camp = cr.campaign(ch.ds, campaign_id, response_days, goal)
    cup = cr.cuped(ch.ds, camp, "response", covariate, pre_days, alpha, ch.min_cell)
    head = cr.cuped_summary(cup, covariate)
    gb.glue_all("review", head)
    s.finding(*words.cuped(head, pre_days))

# %% tags=["hide-output"] mystnb={"code_prompt_show": "展开明细：普通估计与 CUPED 估计的区间"}
if s.shown:
    gb.show(plots.cuped_intervals(cup, cr.ESTIMATE_LABELS, covariate).figure)
    ch.table(cup, "campaign_cuped", "普通估计与 CUPED 估计：增量、标准误、区间、p 值、θ 与方差缩减比例",
             formats={"uplift": "{:+.2%}", "se": "{:.4f}", "ci_low": "{:+.2%}", "ci_high": "{:+.2%}", "p_value": "{:.3g}",
                      "theta": "{:.4f}", "variance_reduction": PCT})

# %% [markdown]
# ## 谁响应了
#
# 每个分群分别比较实验组与对照组。任一组不足 30 人的分群不下结论（样本不足）；同时检验多个分群时，总会有一个
# “看起来显著”，所以结论以 Holm 校正后的 p 值为准。资产分层取活动开始时的在投资产。对所有成员都是同一个值的
# 字段（例如数据里没有出生年份）不拆分。

# %%
with ch.section("segments", "谁响应了") as s:
    camp = cr.campaign(ch.ds, campaign_id, response_days, goal)
    segs = cr.segment_uplifts(ch.ds, camp, segment_breakdowns, rfm=rfm_breakdown, alpha=alpha, pre_days=pre_days)
    head = cr.segment_uplifts_summary(segs)
    gb.glue_all("review", head)
    gb.show(plots.segment_uplift_panels(segs.tables).flat[0].figure)
    s.finding(*words.segments(head))

# %% tags=["hide-output"] mystnb={"code_prompt_show": "展开明细：每个分群的增量与检验"}
if s.shown:
    ch.table(segs.book_table(), "segment_uplift", "各分群的实验组与对照组响应率、增量、Newcombe 区间、p 值与 Holm 校正 p 值",
             formats={"rate_t": PCT, "rate_c": PCT, "uplift": "{:+.1%}", "ci_low": "{:+.1%}", "ci_high": "{:+.1%}",
                      "p_value": "{:.3g}", "p_holm": "{:.3g}", "share": PCT},
             complement="breakdown")  # sizes users_t, users_c (GROUP_SIZES); a breakdown's segments add up to the groups

# %% [markdown]
# ### 增量模型与 Qini 曲线
#
# :::{admonition} 方法：双模型与交叉拟合
# :class: dropdown
# 双模型 (two-model / T-learner)：实验组和对照组各拟合一个逻辑回归（特征为年龄段、资产分层、注册渠道、城市等级、设备
# 和活动前活跃天数），两者预测概率之差就是每个人的预测增量。模型在按 user_id 哈希 (固定种子) 分出的两折上交叉拟合：
# 每个人的预测都来自没见过他的那一折，Qini 曲线因此不是自评自。特征都是类别，所以只把“折 × 特征格子 × 组 × 是否响应”
# 的人数从引擎取出，加权拟合与逐人拟合完全等价。
# :::

# %%
with ch.section("uplift_model", "增量模型与 Qini 曲线") as s:
    camp = cr.campaign(ch.ds, campaign_id, response_days, goal)
    model = uplift.uplift_model(ch.ds, camp, folds=2, seed=7, pre_days=pre_days)
    head = uplift.model_summary(model, cr.effect(ch.ds, camp, alpha, pre_days, ch.min_cell)["uplift"], k=TOP_K)
    gb.glue_all("review", head)
    gb.show(plots.qini_curve(model.qini, title="Qini 曲线 (交叉拟合)", label="按预测增量排序（双模型）",
                             ylabel="增量响应者 (按实验组规模)").figure)
    ch.table(model.at_k, "uplift_at_k", "Uplift@k：预测增量最高的前 k 名成员中实际观察到的增量 (整格计入，覆盖比例可能略超过 k)",
             formats={"k": "{:.0%}", "share": PCT, "uplift": "{:+.1%}"})
    s.finding(*words.uplift_model(head, TOP_K))

# %% tags=["hide-output"] mystnb={"code_prompt_show": "展开明细：Qini 曲线的每个点"}
if s.shown:
    ch.table(model.qini, "qini", "Qini 曲线的点：覆盖比例、Qini 值 (增量响应者)、随机线与到此为止的增量",
             formats={"share_targeted": PCT, "qini": "{:.1f}", "random": "{:.1f}", "uplift_so_far": "{:+.1%}"})

# %% [markdown]
# ## 历次活动
#
# 每次活动按它自己的目标和响应窗口计算；没有对照组或名单的活动只列出，不参与增量的比较。

# %%
with ch.section("history", "历次活动") as s:
    hist = cr.history(ch.ds, alpha, pre_days)
    head = cr.history_summary(hist)
    gb.glue_all("review", head)
    gb.show(plots.history_intervals(hist).figure)
    ch.table(hist, "campaign_history", "每次活动按各自的目标与窗口：响应率、增量及区间、增量响应者、成本与增量 ROI",
             formats={"rate_t": PCT, "rate_c": PCT, "uplift": "{:+.1%}", "ci_low": "{:+.1%}", "ci_high": "{:+.1%}",
                      "p_value": "{:.3g}", "inc_responders": "{:.1f}", "cost": "{:,.0f}", "cost_per_incremental": "{:,.1f}",
                      "roi": PCT})
    s.finding(*words.history(head))

# %% [markdown]
# ## 下一轮
#
# 选人依据：Holm 校正后增量显著为正的分群（分群显著）；没有这样的分群、但活动整体显著时，在不显著为负的分群里选（整体显著，按分群收缩）。
# 每个分群的增量是它自己的实测增量向活动整体增量收缩后的估计：分群越小、分群之间的差异越接近抽样误差，越接近整体增量；
# 收缩后不为正的分群不进入名单。本章的下一轮是“重复本活动”时的人群；全书各章行动的先后见摘要（按期望收入排序）。
# 名单是本活动中未响应的实验组成员和从未收到消息的对照组成员，按每元带来的增量排序，并按预算 (参数
# next_round_budget) 截断。

# %%
with ch.section("next_round", "下一轮") as s:
    camp = cr.campaign(ch.ds, campaign_id, response_days, goal)
    plan, targets, by = cr.next_round_plan(ch.ds, camp, segment_breakdowns, budget=next_round_budget,
                                           alpha=alpha, pre_days=pre_days, min_group=ch.min_cell)
    ch.export(targets, "next_round_targets")
    head = cr.next_round_summary(plan, camp, next_round_budget)
    gb.glue_all("review", head)
    ch.table(plan, "next_round_plan",
             "下一轮的分群计划：目标人数、依据的增量、预期增量响应者与成本，按每元带来的增量排序并按预算截断 (名单只写入私有 exports/)",
             formats={"uplift": "{:+.1%}", "ci_low": "{:+.1%}", "ci_high": "{:+.1%}", "shrink_weight": "{:.2f}",
                      "rate_t": PCT, "expected_incremental": "{:.1f}",
                      "expected_cost": "{:,.0f}", "cost_per_incremental": "{:,.1f}", "cumulative_cost": "{:,.0f}"})
    s.finding(*words.next_round(head, by, ch.cell_label))

# %% [markdown]
# ## 下一阶段目标拆解
#
# 从下一阶段“新增首投用户”的目标倒推：按各获客渠道现在的首投用户占比分配目标，再用该渠道“注册 → 首投”和
# “广告点击 → 注册”的历史转化率（首触渠道，30 天窗口，见第 2 章）算出需要的注册数和点击数，用“花费 ÷ 首投用户”
# 的单位成本算出预算。没有花费的渠道（自然、老带新）只需要量，不需要投放预算。

# %%
with ch.section("goal_plan", "下一阶段目标拆解") as s:
    goal_table = planning.goal_plan(ch.ds, target_investors)
    head = planning.goal_summary(goal_table, target_investors)
    gb.glue_all("review", head)
    ch.table(goal_table, "goal_decomposition", "目标倒推：各渠道的首投、注册、点击与预算 (按现有渠道结构分配)",
             formats={"share": PCT, "register_to_invest": PCT, "click_to_register": PCT, "cost_per_investor_30d": "{:,.1f}",
                      "target_investors": "{:,.1f}", "target_registrations": "{:,.0f}", "target_clicks": "{:,.0f}", "budget": "{:,.0f}"})
    s.finding(*words.goal_plan(head))

# %% [markdown]
# ### 各渠道的投放预算

# %%
with ch.section("goal_budget", "各渠道的投放预算") as s:
    goal_table = planning.goal_plan(ch.ds, target_investors)
    budget = planning.budget_summary(goal_table)
    gb.glue_all("review", budget)
    gb.show(plots.goal_budget_bars(goal_table, target_investors).figure)
    s.finding(*words.goal_budget(budget, planning.goal_summary(goal_table, target_investors)))

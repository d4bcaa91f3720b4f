# %% [markdown]
# # 摘要
#
# 给市场负责人、渠道经理和运营的第一屏：本次活动的结果、最值得做的三件事，以及每一章的关键数字。
# 这里的每个数字都直接取自各章执行后的结果（各章 glue 的数值），点击数字即可跳到给出它的那一节。

# %% tags=["parameters"]
data = None  # dataset folder (unused here: the runner passes it to every chapter; the summary reads the executed chapters)
out_dir = None  # the run folder; its chapters/ are summarised, the project's chapters/ when None
chapters_dir = None  # folder of executed chapter notebooks, overrides out_dir

# %% tags=["remove-cell"]
from pathlib import Path

from IPython.display import HTML

from growthloop import summary

folder = Path(chapters_dir) if chapters_dir else (Path(out_dir) / "chapters" if out_dir else None)
s = summary.collect(folder)

# %% [markdown]
# ## 本次活动结果

# %% tags=["remove-input"]
HTML(summary.campaign_html(s) + summary.skipped_html(s))

# %% [markdown]
# ## 最值得做的三件事
#
# 各章给出的行动按期望收入（点估计）排序，旁边是它的区间；怎么估算见本页最后一节。
# 排在最前、指向一群人的行动就是下一轮活动的人群（第 7 章据此出名单）；第 4、6 章的建议是各自章节内的先后。

# %% tags=["remove-input"]
HTML(summary.actions_html(s))

# %% [markdown]
# ## 各章要点

# %% tags=["remove-input"]
HTML(summary.headlines_html(s))

# %% [markdown]
# ## 全部行动与估算方法
#
# 所有行动统一折算成平台收入（元），不同章节的行动才能放在一起比较。
# V 是每名投资人在第 5 章 LTV 期限内带来的收入 = 注册用户 LTV × 注册人数 / 投资人数。
# 触达一群人的行动（滞留提醒、沉睡召回、流失风险客召回）：期望收入 = 人数 × 第 6 章测得的响应增量 × V，
# 区间用增量的置信区间的两端；上限 = 人数 × V（假设每人都成为或保持为一名普通投资人）。按投资额占比描述的
# 投资人群把人数换成 占比 × 投资人数。没有活动复盘时没有测得的增量，这些行动只有上限，排在有期望值的行动之后。
# 预算调整用第 3 章估算的收入增量（点估计）；下一轮活动用计划的增量响应者 × 本次每个增量响应者带来的收入。
# 几个行动的人群可能重叠（例如沉睡用户和流失风险客），不能相加。

# %% tags=["remove-input"]
HTML(summary.all_actions_html(s))

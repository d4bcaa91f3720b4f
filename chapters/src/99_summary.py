# %% [markdown]
# # 摘要
#
# 给市场负责人、渠道经理和运营的第一屏：本次活动的结果、最值得做的三件事，以及每一章的关键数字。
# 这里的每个数字都直接取自各章执行后的结果（各章 glue 的数值），点击数字即可跳到给出它的那一节。
# (The first screen for the marketing lead: this campaign's result, the three actions with most at
# stake, and every chapter's headline numbers, each linked to the section that computed it.)

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
# 每个行动按它涉及的收入 (revenue at stake) 排序；怎么估算见本页最后一节。

# %% tags=["remove-input"]
HTML(summary.actions_html(s))

# %% [markdown]
# ## 各章要点

# %% tags=["remove-input"]
HTML(summary.headlines_html(s))

# %% [markdown]
# ## 全部行动与估算方法
#
# 涉及收入统一折算成平台收入 (platform revenue, 元)，这样不同章节的行动才能放在一起比较。
# V 是每名投资人在第 5 章 LTV 期限内带来的收入 = 注册用户 LTV × 注册人数 / 投资人数。
# 一群用户按 人数 × V 计（假设每人都成为或保持为一名普通投资人，所以是上限）；按投资额占比描述的投资人群按
# 占比 × 投资人数 × V 计；预算调整用第 3 章估算的收入增量；下一轮活动用计划的增量响应者 × 本次每个增量响应者
# 带来的收入。几个行动的人群可能重叠（例如沉睡用户和流失风险客），不能相加。

# %% tags=["remove-input"]
HTML(summary.all_actions_html(s))

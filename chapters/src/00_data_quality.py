# %% [markdown]
# # 数据质量
#
# 术语：{term}`分析日`；全部术语见 {ref}`glossary`。
#
# 读这本报告里的任何数字之前，先看它站在多少数据上。每张表的每一行要么被**使用**，要么因为某条规则被
# **搁置** 并写明原因，没有一行被悄悄丢掉。会让数据整体不可用的问题（缺表、缺必需列、某条规则搁置超过
# 两成）会在这一页生成之前就让运行停下并说明原因。本页最后一节列出其他各章因数据不足而没有生成的小节。

# %% tags=["parameters"]
data = None  # dataset folder, the bundled demo (data/demo) when None
analysis_date = None  # YYYY-MM-DD, else dataset.yml's, else the last event day
out_dir = None  # where tables/ and exports/ go; None: beside the output notebook (papermill), the project for the demo
min_cell_size = 10  # smallest count of people a published table or figure label shows, smaller ones show as <10
channel_map = {}  # extra UTM source aliases for this run, {source: channel}, added to dataset.yml's channel map
chapters_dir = None  # folder of the executed chapters whose skipped sections are listed, out_dir's chapters when None

# %%
from pathlib import Path

import growthloop.book as gb
from growthloop import quality, summary

ch = gb.chapter("00_data_quality", data, analysis_date, out_dir, min_cell_size, channel_map,
                figures=False)

# %% [markdown]
# ## 每张表的行数账目

# %%
with ch.section("accounting", "每张表的行数账目") as s:
    accounting = quality.accounting(ch.ds)
    head = quality.headline(ch.ds, accounting)
    gb.glue_all("dq", head)
    ch.table(accounting, "row_accounting", "每张表读入、使用与搁置的行数 (读入 = 使用 + 搁置)",
             formats={"set_aside_share": "{:.2%}"}, counts=())
    s.finding(*quality.accounting_finding(head))

# %% [markdown]
# ## 搁置与保留的原因
#
# 处理方式为“搁置”的行有问题，不进入分析；为“提示（不进入分析）”的规则统计的是健康数据里也有的记录
# （如失败的支付）：它们不是投资，所以不进入分析，也不会让运行停下。
# 第二张表是按规则保留、但值得知道的行，例如注册时间比注册事件晚几秒（两个系统的时钟差）。

# %%
with ch.section("reasons", "搁置与保留的原因") as s:
    reasons = quality.reasons(ch.ds)
    kept = quality.notes(ch.ds)
    ch.table(reasons, "set_aside_reasons", "按规则统计的搁置行数", formats={"share_of_table": "{:.2%}"},
             counts=())
    ch.table(kept, "kept_notes", "按规则保留并计数的行", formats={"share_of_table": "{:.2%}"}, counts=())
    s.finding(*quality.reasons_finding(reasons, kept))

# %% [markdown]
# ## 事件名与角色
#
# 数据里的每个事件名都会保留。少数名字在书里有固定的角色（如 register 用来把注册前的匿名行为归到用户身上）；
# 其余的是平台自有事件，同样可以做漏斗步骤、触点、回访事件或活动目标。

# %%
with ch.section("events", "事件名与角色") as s:
    names = quality.event_names(ch.ds)
    ch.table(names, "event_names", "每个事件名的角色、条数与首末日期；只差大小写或空格的名字会提示映射", counts=())
    s.finding(*quality.events_finding(names))

# %% [markdown]
# ## 缺少的表与列

# %%
with ch.section("absent", "缺少的表与列") as s:
    absent = quality.absent_inputs(ch.ds)
    ch.table(absent, "absent_inputs", "导出中没有的可选表和列，以及缺了它们哪些内容无法展示", counts=())
    s.finding(*quality.absent_finding(absent))

# %% [markdown]
# ## 本数据不能支持的小节

# %%
with ch.section("skipped", "本数据不能支持的小节") as s:
    folder = Path(chapters_dir) if chapters_dir else (Path(out_dir) / "chapters" if out_dir else None)
    book = summary.read_book(folder)
    skipped = summary.skipped_sections(book, exclude=[ch.slug])
    ch.table(skipped, "skipped_sections", "因数据不足而没有生成的小节、它需要什么、怎样补充", counts=())
    s.finding(*summary.skipped_finding(skipped, summary.chapters_read(book, exclude=[ch.slug])))

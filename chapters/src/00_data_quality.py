# %% [markdown]
# # 数据质量 (data quality)
#
# 术语 (terms): {term}`分析日`；全部术语见 {ref}`glossary`。
#
# Before any number in this book is read, this page says how much of the data it stands on.
# Every row of every table is either **used** or **set aside** with a reason; rows are never
# dropped silently. Rules that would make the data unusable stop the run before this page exists.

# %% tags=["parameters"]
data = None  # dataset folder, the bundled demo (data/demo) when None
analysis_date = None  # YYYY-MM-DD, else dataset.yml's, else the last event day
out_dir = None  # where tables/ and exports/ go, the project root when None
min_cell_size = 10  # smallest count of people a published table or figure label shows, smaller ones show as <10
channel_map = {}  # extra UTM source aliases for this run, {source: channel}, added to dataset.yml's channel map

# %%
import growthloop.book as gb
from growthloop import quality

ch = gb.chapter("00_data_quality", data, analysis_date, out_dir, min_cell_size, channel_map)
accounting = quality.accounting(ch.ds)
gb.glue_all("dq", {"rows_read": int(accounting.rows_read.sum()),
                   "set_aside_share": float(accounting.rows_set_aside.sum() / accounting.rows_read.sum()),
                   "analysis_date": str(ch.ds.analysis_date)})
ch.table(accounting, "row_accounting", "每张表读入、使用与搁置的行数 (rows read = used + set aside)",
         formats={"set_aside_share": "{:.2%}"})

# %% [markdown]
# ## 搁置的原因 (why rows were set aside)
#
# Informational rules count rows that healthy data has too (event types the playbook does not
# use, failed payments); they are not investments or touches, so they are not used.

# %%
reasons = quality.reasons(ch.ds)
ch.table(reasons, "set_aside_reasons", "按规则统计的搁置行数", formats={"share_of_table": "{:.2%}"})

# %% [markdown]
# **发现 (finding).** Of {glue:text}`dq_rows_read:,` rows read, {glue:text}`dq_set_aside_share:.2%`
# were set aside. Every figure in this book is as of the end of {glue:text}`dq_analysis_date`
# (Asia/Shanghai).
#
# **运营建议 (action).** Send the rules with the most rows to the data owners; the rows that are
# set aside because they are not investments or contract events need no action.

"""The book's metric and column registry (指标口径): one meaning per name, a Chinese label for readers.

Every column of every table a chapter publishes (tables/<chapter>/<name>.csv) has a `Term` in
`TERMS`, keyed by the column name the code and the CSV use: the short Chinese header a growth
team reads (`Term.label`), the exact definition (口径: what is counted, over which people and
which window), its unit, its display format and its kind (a grouping key, a count of people,
another measure, or text). docs/metrics.md is generated from it (`growthloop.present.docs`), and
tests/test_registry.py fails when a published CSV gains a column without a term.

Rules the entries follow:

- One name, one meaning. A name used by two tables for two related quantities (``ci_low`` is the
  lower bound of a Wilson interval of a rate in the funnel and of a Newcombe interval of an
  uplift in the campaign review) gets one label true of both, and its definition says what it
  is in each table.
- Two quantities, two labels: 获客成本/注册 (cost per registration) is not 获客成本/首投 (cost
  per first investor); 期内复投率 (a repeat investment within ``retention_days`` of the first)
  is not 占首投比例 (the cumulative share of first investors who reached an n-th investment); a
  rate (比例) is not a difference of rates (百分点).
- Labels are unique across `TERMS`, Chinese, short, and use no English but the established
  abbreviations (ROI, LTV, CAC, SMD, CUPED, p 值, Qini, RFM, R/F/M 分, and the symbols k and θ).

The summary's glued headline numbers (`growthloop.present.summary.SUMMARY_KEYS`) are terms
too when they are quantities of their own (``prof_top20_share``, ``review_inc_revenue`` ...). A
glued key that is the same quantity as a column (``review_uplift`` is the ``uplift`` of the
campaign-effect table's treatment row) is listed in `SUMMARY_ALIASES` instead, pointing at that
column's term: the same quantity never gets two labels.

Examples
--------
>>> label("cost_per_investor")
'获客成本/首投'
>>> labels(["users", "rate_from_previous"])
{'users': '人数', 'rate_from_previous': '上一步转化率'}
>>> term("review_uplift").key   # a glued key resolves to the column it equals
'uplift'
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["KINDS", "SUMMARY_ALIASES", "TERMS", "UNITS", "Term", "label", "labels", "term"]

#: The kinds of column: a grouping or label column (channel, step, cohort, period ...), a count
#: of people, any other number, and text (free text, dates, yes/no flags).
KINDS: tuple[str, ...] = ("key", "count", "measure", "text")

#: The units a term may have. 比例 is a share or rate in [0, 1] (shown as %), 百分点 a difference
#: of two rates (shown as a signed %); 同估计值 is the unit of the estimate an interval bound
#: belongs to; 见定义 marks a column whose unit differs between tables or rows, its definition
#: says which.
UNITS: tuple[str, ...] = (
    "人", "元", "万元", "比例", "百分点", "天", "小时", "月", "次", "笔", "行", "倍", "个",
    "分", "系数", "p 值", "文本", "日期", "是/否", "同估计值", "见定义",
)

_COUNT = "{:,.0f}"
_PCT = "{:.1%}"
_PP = "{:+.1%}"
_YUAN = "{:,.0f}"
_YUAN1 = "{:,.1f}"
_P = "{:.3g}"
_X = "{:.2f}"
_ONE = "{:,.1f}"
_INT = "{:.0f}"


@dataclass(frozen=True)
class Term:
    """One column or metric name of the book with its Chinese label and exact definition.

    Attributes
    ----------
    key : str
        The name the code and the CSVs use (``cost_per_investor``).
    label : str
        The short Chinese column header a reader sees (获客成本/首投); unique across TERMS.
    definition : str
        One Chinese sentence with the exact definition (口径): what is counted, over which people
        and which window; for a name two tables use, what it is in each.
    unit : str
        One of UNITS.
    fmt : str or None
        A str.format spec for the HTML view ("{:.1%}"); None for text, dates and flags.
    kind : str
        One of KINDS.
    """

    key: str
    label: str
    definition: str
    unit: str
    fmt: str | None
    kind: str


def _t(key: str, label: str, unit: str, fmt: str | None, kind: str, definition: str) -> Term:
    return Term(key=key, label=label, definition=definition, unit=unit, fmt=fmt, kind=kind)


_ENTRIES: tuple[Term, ...] = (
    # ---------------------------------------------------------------- shared across chapters
    _t("users", "人数", "人", _COUNT, "count",
       "本行所指人群的人数：转化漏斗为到达该步骤的人（含进行中），同期群、留存曲线与 LTV 表为该批（或已走到该期的各批）进入的人数，"
       "画像与分层为注册用户，分群、RFM、生存与投资次数表为投资人，生命周期表为月末处于该状态（或该流转）的用户，"
       "活动效果表为该组成员，活动漏斗为沿路径走到该环节的实验组成员，计划表为该层人数。"),
    _t("share", "占比", "比例", _PCT, "measure",
       "本行占所在整体的比例：归因与路径表占全部转化，UTM 表占全部触点，RFM 分布占全部投资人，转化时长分布占该环节的转化，"
       "目标拆解占首投人数，活动分群与 Uplift@k 表占全部名单成员，人群分层表占全部人群。"),
    _t("rate", "比率", "比例", _PCT, "measure",
       "本行的比例：漏斗分组检验为该分组从上一步的转化率，同期群与留存曲线为留存人数 ÷ 人数，"
       "活动效果表为响应人数 ÷ 人数（响应窗口内达成目标），活动诊断表为该环节的转化率。"),
    _t("ci_low", "区间下限", "同估计值", _PCT, "measure",
       "本行估计值的双侧 1 − alpha（默认 95%）置信区间下限，单位与所估计的量相同：漏斗表为从起点转化率的 Wilson 区间，"
       "漏斗分组检验为该分组转化率的 Wilson 区间，活动效果、历次活动与活动分群为绝对增量的 Newcombe 区间，下一轮计划为收缩后增量的近似正态区间，"
       "CUPED 表为增量的 Wald 区间，业务口径表为该行指标的区间（单位随行）；摘要的 review_ci_low 即本次活动增量的下限。"),
    _t("ci_high", "区间上限", "同估计值", _PCT, "measure",
       "本行估计值的双侧 1 − alpha（默认 95%）置信区间上限，各表所估计的量与区间方法同区间下限；"
       "摘要的 review_ci_high 即本次活动增量的上限。"),
    _t("p_value", "p 值", "p 值", _P, "measure",
       "双侧检验的 p 值：漏斗分组检验、活动效果与活动分群为双比例 z 检验，活动前平衡表为 Welch t 检验，CUPED 表为 Wald 检验。"),
    _t("label", "名称", "文本", None, "key",
       "代码对应的中文名称：漏斗与活动漏斗中是步骤名，转化时长表中是转化环节，滞留用户表与运营规则表中是规则名。"),
    _t("channel", "渠道", "文本", None, "key",
       "渠道：归因、监控、LTV/CAC 与目标拆解表中是获客渠道（UTM 来源按渠道表归并，没有来源为未标记），"
       "历次活动与活动表中是发送渠道代码（sms、push 等），RFM、滞留用户与下一轮计划表中是建议的触达渠道。"),
    _t("segment", "分群", "文本", None, "key",
       "拆分后的分组取值：漏斗表为参数 breakdown 的取值（默认注册渠道，没注册的访客为未注册），RFM 表为八类 RFM 人群，"
       "活动分群与下一轮计划为所用拆分维度下的分群。"),
    _t("group", "分组", "文本", None, "key",
       "分组：RFM 运营人群表为潜力新客、稳定中客、流失风险客，第 5 章按渠道或首投期限拆开的表为该注册渠道或期限，"
       "活动效果表为 treatment 实验组或 control 对照组。"),
    _t("step", "步骤", "文本", None, "key",
       "漏斗步骤：事件名或投资里程碑（first_investment 首投、second_investment 复投）；"
       "活动漏斗中为环节代码（sent 发送、delivered 送达、clicked 点击、opened 打开、goal 达成目标等）。"),
    _t("cohort", "同期群", "文本", None, "key",
       "同一时段进入的一批用户：注册月份漏斗为注册月份 (YYYY-MM)，同期群留存表为该批的起始日期（按注册，参数 cohort_by 也可为首投），"
       "LTV 表为注册月份的月初日期。"),
    _t("period", "周期", "见定义", None, "key",
       "同期群留存与留存曲线表中是进入后的第 k 个周期（0 为进入的那个周期，单位为参数 cohort_unit：日、周或月），"
       "生命周期状态与流转表中是该月的月初日期。"),
    _t("complete", "已结束", "是/否", None, "text",
       "该周期（或月份）截至分析日是否已经结束；未结束的格子不给留存、LTV 数字，也绝不当成 0。"),
    _t("rate_from_previous", "上一步转化率", "比例", _PCT, "measure",
       "到达本步骤的人 ÷ 到达上一步的人：转化漏斗只用本步骤截止时间已过的人（进行中的不进分母），"
       "活动漏斗为沿路径走下来的人数之比，次数表为投资满 n 次 ÷ 满 n−1 次的人数；摘要的 funnel_worst_rate 是转化漏斗中最低的这一比例。"),
    _t("bin", "区间", "文本", None, "key",
       "分档的名称：转化时长分布为时长区间，RFM 分布为 R 天数、F 笔数或 M 金额的区间。"),
    _t("lower", "下限", "见定义", _COUNT, "key",
       "分档的下限（含）：分层表的单位同分层指标（参数 layer_metric，默认在投资产，元），RFM 分布表中 R 为天、F 为笔、M 为元。"),
    _t("item", "项目", "文本", None, "key",
       "表的行名：UTM 清洗表为统计项，活动卡片与活动表的一行为活动记录的字段。"),
    _t("value", "取值", "见定义", None, "measure",
       "用户构成表中是该画像维度的取值（如 18-24，未知另列），活动卡片与活动表的一行中是该项的内容（文本），"
       "业务口径表中是该行指标的估计值，单位随行（比例、元或人）；新增与环比表中是本期的值（人或元，随行）。"),
    _t("current_period", "本期", "文本", None, "key",
       "最近一个完整的自然月（2026-06）或 ISO 周（2026-W26，周一至周日），按 Asia/Shanghai 日历；含分析日的周期只有分析日是其最后一天时才算完整。"),
    _t("prev_value", "上期值", "见定义", _COUNT, "measure", "上一个自然月或上一周的值；数据不覆盖整个上期时为空，不当作 0。"),
    _t("prev_change", "环比", "比例", "{:+.1%}", "measure", "本期值 ÷ 上期值 − 1；上期为 0 或数据不覆盖上期时为空（原因见说明）。"),
    _t("yoy_value", "去年同期值", "见定义", _COUNT, "measure",
       "一年前同一个月（周为上一 ISO 年的同一周序号）的值；数据不覆盖时为空，不当作 0。"),
    _t("yoy_change", "同比", "比例", "{:+.1%}", "measure", "本期值 ÷ 去年同期值 − 1；去年同期为 0 或数据不覆盖时为空（原因见说明）。"),
    _t("measure", "指标", "文本", None, "key",
       "RFM 分布与得分档表中为 R、F、M 之一，业务口径表中为该行的业务指标名。新增与环比表中为本行的头条指标（新注册用户、新首投用户、投资额）。"),
    _t("verdict", "结论", "文本", None, "key",
       "检验的结论：漏斗分组检验为高于其他、低于其他、无显著差异或样本不足，活动分群为正向显著、负向显著、不显著或样本不足"
       "（按 Holm 校正后的 p 值），可信度检查为该项的判断；摘要的 review_verdict 是整次活动的结论句。"),
    _t("note", "说明", "文本", None, "text",
       "说明文字：事件名表提示只差大小写或空格、可能要映射的角色名，保留行表为保留并计数的规则，"
       "历次活动表为缺数的原因（无名单、无成本、窗口未结束等）。新增与环比表为缺少环比或同比的原因。"),
    _t("rule", "规则", "文本", None, "key",
       "规则：数据质量页为搁置行的加载规则，滞留用户表为触发规则代码（no_card 注册未绑卡、no_invest 绑卡未首投），"
       "RFM 运营人群表为按 R、F 高低划分的规则说明。"),
    _t("role", "角色", "文本", None, "key",
       "事件名表中是该事件在书中的角色（如注册、绑卡），其余为自有事件；归因分歧表中是渠道的角色：助攻转化多于收尾转化为助攻，否则为收割。"),
    _t("excluded", "排除人数", "人", _COUNT, "count",
       "转化漏斗中因做了排除事件而在本步骤前离开漏斗的人；运营规则表中被该条规则排除的人（一个人只记在第一条排除他的规则下）。"),
    _t("k", "k 值", "见定义", "{:g}", "key",
       "分群得分表中是尝试的群组数 k（个），Uplift@k 表中是按预测增量从高到低覆盖的名单成员比例 k。"),
    _t("chosen", "是否选中", "是/否", None, "text",
       "分群得分表中为轮廓系数最高（并列取较小的 k）而被选用的 k；检验力表中为本轮计划采用的对照组比例。"),
    _t("spend", "花费", "元", _YUAN, "measure",
       "成本表中截至分析日（含当天）的投放花费之和（utm_source 按渠道表归并到渠道）；摘要的 attr_spend 为全部渠道的合计。"),
    _t("cost_per_investor", "获客成本/首投", "元", _YUAN1, "measure",
       "花费 ÷ 首投人数，首投人按注册渠道归属、不限时间（合计行即摘要的 attr_cost_per_investor）。"),
    _t("cost_per_investor_30d", "30天首投获客成本", "元", _YUAN1, "measure",
       "花费 ÷ 30 天窗口漏斗中从广告点击走到首投的人数（按首次触点渠道）：目标拆解表用它把首投目标折算成预算；"
       "它比不限时间的获客成本/首投高，因为窗口外才首投的人不计。"),
    _t("ltv_cac", "LTV/CAC", "倍", _X, "measure",
       "第 5 章 LTV/CAC 表：注册后第 ltv_month 个月的注册用户 LTV ÷ CAC（按同期注册人）；低于 1 表示该期限内还没收回获客成本。"
       "按首投人算的同类比值是第 3 章的每元回报。"),
    _t("retained", "留存人数", "人", _COUNT, "count",
       "渠道监控表为复投考察人数中在首投后 retention_days（默认 90）天内再次投资的人数，"
       "同期群留存与留存曲线表为该批人中在第 k 个周期再次出现（按参数 return_event，默认投资）的人数。"),
    _t("month", "注册后月数", "月", _INT, "key",
       "注册后的第 m 个自然月（0 为注册当月）。"),
    _t("cohorts", "同期群数", "个", _INT, "measure",
       "本行合并的同期群个数：留存曲线为第 k 期已结束的同期群，LTV 曲线为第 m 个月已结束的注册月份。"),
    _t("members", "名单人数", "人", _COUNT, "count",
       "活动名单（或计划名单、该层名单）的人数 = 实验组 + 对照组。"),
    _t("treatment", "实验组名单人数", "人", _COUNT, "count",
       "名单中分到实验组（发送消息）的人数：活动表为实际名单，计划表为计划的名单。"),
    _t("control", "对照组名单人数", "人", _COUNT, "count",
       "名单中分到对照组（不发消息）的人数：活动表为实际名单，计划表为计划的名单。"),
    _t("holdout_share", "对照组比例", "比例", _PCT, "measure",
       "对照组人数 ÷ 名单人数：活动表与活动包各层为实际比例，检验力表为比较的候选比例。"),
    _t("uplift", "增量 (百分点)", "百分点", _PP, "measure",
       "实验组响应率 − 对照组响应率（意向处理，两个比例之差）：活动效果、历次活动、活动分群与 Uplift@k 为实测值，"
       "CUPED 表为普通或 CUPED 校正后的估计，下一轮计划为分群实测增量向整体增量收缩后的估计，本轮计划为计划增量；"
       "摘要的 review_uplift 即本次活动的增量。"),
    _t("users_t", "实验组人数", "人", _COUNT, "count",
       "参与比较的实验组成员人数（意向处理：无论是否送达都算）。"),
    _t("users_c", "对照组人数", "人", _COUNT, "count",
       "参与比较的对照组成员人数。"),
    _t("rate_t", "实验组响应率", "比例", _PCT, "measure",
       "实验组中在响应窗口内达成活动目标的人 ÷ 实验组人数；本轮计划表为预期值（基线响应率 + 计划增量）；"
       "摘要的 review_rate_t 即本次活动的这一比例。"),
    _t("rate_c", "对照组响应率", "比例", _PCT, "measure",
       "对照组中在同样长的响应窗口（从活动开始时间起算）内达成目标的人 ÷ 对照组人数；摘要的 review_rate_c 即本次活动的这一比例。"),
    _t("p_holm", "校正后 p 值", "p 值", _P, "measure",
       "对同时检验的多个分组做 Holm 校正后的 p 值（漏斗为同一步骤内的分组，活动为同一拆分维度下有结论的分群），下结论以它为准。"),
    _t("cost_per_incremental", "成本/增量响应", "元", _YUAN1, "measure",
       "成本 ÷ 增量响应人数（增量为正时才有）：历次活动为实际成本，下一轮与本轮计划为预期成本 ÷ 预期增量响应；"
       "摘要的 review_cost_per_incremental 即本次活动的这一数值。"),
    _t("expected_incremental", "预期增量响应", "人", _ONE, "measure",
       "计划中预期多带来的响应者：下一轮计划为目标人数 × 所用增量，本轮计划为实验组人数 × 计划增量；"
       "摘要的 review_plan_incremental 为下一轮预算内各分群的合计。"),
    _t("expected_incremental_low", "预期增量响应下限", "人", _ONE, "measure",
       "下一轮预算内各分群 目标人数 × 收缩后增量区间下限 之和（各分群区间下限同时出现的保守情形）。"),
    _t("expected_incremental_high", "预期增量响应上限", "人", _ONE, "measure",
       "下一轮预算内各分群 目标人数 × 收缩后增量区间上限 之和。"),
    _t("expected_cost", "预期成本", "元", _YUAN, "measure",
       "计划的预期成本：发送条数 × 单条发送成本 + 预期响应人数 × 单次奖励成本（奖励发给每个响应者）。"),
    _t("offer", "权益", "文本", None, "text",
       "建议的权益或优惠：RFM 表为各人群的默认权益（可在 dataset.yml 的 rfm_actions 中修改），下一轮计划为活动目标对应的权益；"
       "摘要的 review_offer 即下一轮的权益。"),
    _t("name", "活动名称", "文本", None, "key", "活动表中的活动名称。"),
    _t("goal", "活动目标", "文本", None, "key",
       "活动的目标：register 注册、bind_card 绑卡、first_investment 首投、any_investment 任意投资、amount 投资金额，或数据中的事件。"),
    _t("window_days", "响应窗口", "天", _INT, "measure",
       "活动的响应窗口天数：实验组从各自发送时间、对照组从活动开始时间起算，左开右闭。"),
    _t("campaign_id", "活动编号", "文本", None, "key", "活动表中的 campaign_id。"),
    _t("cost_per_send", "单条发送成本", "元", _X, "measure", "活动表中每发送一条消息的成本（元）；未填写为空。"),
    _t("cost_per_reward", "单次奖励成本", "元", _X, "measure", "活动表中每个响应者领取奖励的成本（元）；未填写为空。"),
    # ---------------------------------------------------------------- 00 data quality
    _t("table", "数据表", "文本", None, "key",
       "数据契约中的表名（users、events、transactions、costs、campaigns、campaign_members）。"),
    _t("rows_read", "读入行数", "行", _COUNT, "measure",
       "该表从导出文件读入的行数（读入 = 使用 + 搁置）；摘要的 dq_rows_read 为各表之和。"),
    _t("rows_used", "使用行数", "行", _COUNT, "measure", "该表通过全部加载规则、进入分析的行数。"),
    _t("rows_set_aside", "搁置行数", "行", _COUNT, "measure", "该表因违反某条加载规则而被搁置、不进入分析的行数。"),
    _t("set_aside_share", "搁置比例", "比例", "{:.2%}", "measure",
       "搁置行数 ÷ 读入行数（缺失的表为空）；摘要的 dq_set_aside_share 为全部表合计的同一比例。"),
    _t("rows", "行数", "行", _COUNT, "measure", "该表中按这条规则搁置（或保留并计数）的行数。"),
    _t("severity", "处理方式", "文本", None, "key",
       "搁置为被搁置的问题行；提示（不进入分析）为业务上正常、但不是投资而不进入分析的记录（如未成功的支付）；保留并计数为保留使用、只计数说明的行。"),
    _t("share_of_table", "占该表比例", "比例", "{:.2%}", "measure", "行数 ÷ 该表读入行数。"),
    _t("event_name", "事件名", "文本", None, "key", "数据中出现的事件名（按原样比较），以及数据中没有的角色事件名。"),
    _t("events", "事件条数", "次", _COUNT, "measure", "截至分析日数据中该事件名的事件条数（数据中没有的角色为 0）。"),
    _t("first_day", "首次出现日", "日期", None, "text", "该事件名最早一条事件的日期。"),
    _t("last_day", "最后出现日", "日期", None, "text", "该事件名截至分析日最晚一条事件的日期。"),
    _t("column", "缺少的列", "文本", None, "key", "导出中没有的契约列名；“整张表”表示整张可选表缺失。"),
    _t("shows", "影响的内容", "文本", None, "text", "缺了这张表或这一列，书中无法展示的内容。"),
    _t("chapter", "章节", "文本", None, "key", "有小节因数据不足而跳过的章节标题。"),
    _t("section", "小节", "文本", None, "key", "显示标准说明、没有给出数字的小节标题。"),
    _t("need", "需要的数据", "文本", None, "text", "该小节需要的数据。"),
    _t("missing", "缺少什么", "文本", None, "text", "本数据缺少的内容。"),
    _t("fix", "补充方法", "文本", None, "text", "怎样补充数据或调整参数后重跑。"),
    # ---------------------------------------------------------------- 01 user profiling
    _t("dimension", "画像维度", "文本", None, "key",
       "描述用户的维度：age_band 年龄段、gender 性别、region 地区、city_tier 城市等级、device_os 设备、signup_channel 注册渠道。"),
    _t("investors", "投资人数", "人", _COUNT, "count",
       "本行注册用户中截至分析日有过至少一笔成功投资的人数。"),
    _t("aum", "在投资产", "元", _YUAN, "measure",
       "本行用户在分析日结束时仍在期内的定期投资与按 current_holding_days 计的活期投资的金额之和；摘要的 prof_aum_total 为全部用户的合计。"),
    _t("user_share", "人数占比", "比例", _PCT, "measure",
       "本行人数 ÷ 同一表（或同一维度、同一指标）的人数合计：画像与分层表占全部注册用户，分群与 RFM 表占全部投资人。"),
    _t("investor_share", "投资人占比", "比例", _PCT, "measure", "本行投资人数 ÷ 该维度的投资人数合计。"),
    _t("aum_share", "资产占比", "比例", _PCT, "measure", "本行在投资产 ÷ 同一维度（或全部群组）的在投资产合计。"),
    _t("investor_rate", "投资转化率", "比例", _PCT, "measure",
       "本行投资人数 ÷ 注册用户数；摘要的 prof_investor_rate 为全部注册用户的同一比例。"),
    _t("aum_per_investor", "投资人均资产", "元", _YUAN, "measure", "本行在投资产 ÷ 投资人数（没有投资人时为空）。"),
    _t("layer", "层级", "文本", None, "key",
       "按分层指标（参数 layer_metric，默认在投资产）和边界 aum_bounds 切出的互不重叠的层级，每层为 [下限, 上限)，等于边界的值归入上一层。"),
    _t("layer_en", "层级英文名", "文本", None, "key", "层级的英文名称。"),
    _t("upper", "上限", "见定义", _COUNT, "key", "分层的上限（不含），单位同分层指标（默认在投资产，元）；最高一层为空。"),
    _t("metric_sum", "分层指标合计", "见定义", _COUNT, "measure",
       "本层用户的分层指标之和（缺失按 0 计），单位同分层指标（默认在投资产，元）。"),
    _t("metric_share", "分层指标占比", "比例", _PCT, "measure", "本层分层指标合计 ÷ 全部用户的分层指标合计。"),
    _t("metric_mean", "分层指标人均", "见定义", _COUNT, "measure", "本层分层指标合计 ÷ 本层人数（空层为空），单位同分层指标。"),
    _t("silhouette", "轮廓系数", "系数", "{:.3f}", "measure",
       "该 k 下 KMeans 分群的轮廓系数（在至多 5,000 个样本点上计算，−1 到 1，越高群组分得越开）。"),
    _t("inertia", "簇内平方和", "系数", _COUNT, "measure",
       "该 k 下 KMeans 的惯性：标准化（笔数、金额与资产先取对数）后各样本投资人到所属群中心的距离平方和。"),
    _t("cluster", "群组", "个", _INT, "key", "投资人行为群组的编号，1 为群中心在投资产最高的一群。"),
    _t("mean_invest_count", "平均投资笔数", "笔", _ONE, "measure", "群内投资人截至分析日成功投资笔数的平均数。"),
    _t("mean_invest_amount", "平均累计投资额", "元", _YUAN, "measure", "群内投资人截至分析日全部成功投资金额之和的平均数。"),
    _t("mean_aum", "平均在投资产", "元", _YUAN, "measure", "群内投资人在分析日结束时在投资产的平均数。"),
    _t("mean_days_since_last_invest", "平均未投天数", "天", _ONE, "measure",
       "群内投资人最后一次投资日到分析日的自然日天数的平均数。"),
    _t("mean_tenure_days", "平均注册天数", "天", _ONE, "measure", "群内投资人注册日到分析日的自然日天数的平均数。"),
    _t("description", "群组特征", "文本", None, "text",
       "群内均值比全体投资人高或低至少 0.5 个标准差的特征词（至多三个，如高频 · 大额），都没有时为中等 · 均衡。"),
    _t("population_share", "人数累计占比", "比例", _PCT, "measure",
       "洛伦兹曲线横轴：持有资产的投资人按在投资产从少到多排序，到此为止的人数占全部持有者的比例。"),
    _t("value_share", "资产累计占比", "比例", _PCT, "measure",
       "洛伦兹曲线纵轴：到此为止的这部分持有者持有的在投资产占全部在投资产的比例。"),
    # ---------------------------------------------------------------- 02 funnel
    _t("rate_from_start", "从起点转化率", "比例", _PCT, "measure",
       "转化漏斗中为整个转化窗口已结束的进入者中到达本步骤的比例（进行中的人不进分母），到首投这一步的值即摘要的 funnel_first_invest_rate；"
       "拉新活动的链接漏斗中为到达本步骤的人数 ÷ 点击活动链接的人数。"),
    _t("ci_prev_low", "上一步区间下限", "比例", _PCT, "measure", "上一步转化率的 Wilson 置信区间（默认 95%）下限。"),
    _t("ci_prev_high", "上一步区间上限", "比例", _PCT, "measure", "上一步转化率的 Wilson 置信区间（默认 95%）上限。"),
    _t("drop_off", "较上一步减少", "人", _COUNT, "count", "上一步人数 − 本步骤人数（含仍在进行中的人）。"),
    _t("in_progress", "进行中人数", "人", _COUNT, "count",
       "到达上一步、截至分析日本步骤的窗口尚未结束也还没转化的人：不算流失，也不进转化率的分母。"),
    _t("lost", "流失人数", "人", _COUNT, "count", "到达上一步、本步骤截止时间已过（或被排除、被打断）仍未到达本步骤的人。"),
    _t("base_start", "起点分母", "人", _COUNT, "count", "整个转化窗口已结束的进入者人数，即从起点转化率的分母。"),
    _t("converted_start", "起点转化人数", "人", _COUNT, "count", "起点分母中到达本步骤的人数。"),
    _t("base_previous", "上一步分母", "人", _COUNT, "count",
       "到达上一步且本步骤截止时间已过的人数，即上一步转化率的分母。"),
    _t("converted_previous", "上一步转化人数", "人", _COUNT, "count", "上一步分母中到达本步骤的人数。"),
    _t("base", "检验分母", "人", _COUNT, "count", "该分组在本步骤的上一步分母（分组检验的样本量）。"),
    _t("rest_base", "其余分组分母", "人", _COUNT, "count", "其余至少 30 人的分组合计的上一步分母。"),
    _t("rest_rate", "其余分组转化率", "比例", _PCT, "measure", "其余至少 30 人的分组合计的上一步转化率。"),
    _t("diff", "差 (百分点)", "百分点", _PP, "measure",
       "两个比例之差：漏斗分组检验为本分组转化率 − 其余分组转化率，归因分歧表为比较的两个模型中后者的占比 − 前者的占比。"),
    _t("chi2_p", "卡方 p 值", "p 值", _P, "measure", "本步骤所有至少 30 人的分组转化率是否相同的卡方检验 p 值。"),
    _t("historical_share", "历史滞留比例", "比例", _PCT, "measure",
       "全部历史中已满等待时间（注册满 stall_card_hours 小时，或绑卡满 stall_invest_days 天）的人里，届时仍未绑卡（或未首投）的比例。"),
    _t("historical_base", "历史分母人数", "人", _COUNT, "count", "全部历史中已满等待时间的人数，即历史滞留比例的分母。"),
    _t("timing", "触达时机", "文本", None, "text", "建议的触发时机。"),
    _t("message", "文案", "文本", None, "text", "建议的触达文案与权益。"),
    _t("transition", "转化环节", "文本", None, "key", "相邻的两步，写作“上一步→下一步”。"),
    _t("bin_order", "区间序号", "个", _INT, "key", "时长区间从短到长的序号（从 0 起）。"),
    _t("conversions", "转化数", "人", _ONE, "count",
       "转化的人数：转化时长表为在窗口内到达下一步的人，归因模型表为该模型分给该渠道的转化（可为小数，各渠道之和等于总转化数），"
       "路径表为走该路径后转化的人。"),
    _t("from_step", "起始步骤", "文本", None, "key", "转化环节的上一步。"),
    _t("to_step", "到达步骤", "文本", None, "key", "转化环节的下一步。"),
    _t("p25_hours", "用时 25 分位", "小时", _ONE, "measure", "到达下一步的人从上一步到下一步所用小时数的第 25 百分位（精确分位数）。"),
    _t("median_hours", "用时中位数", "小时", _ONE, "measure", "到达下一步的人从上一步到下一步所用小时数的中位数。"),
    _t("p75_hours", "用时 75 分位", "小时", _ONE, "measure", "到达下一步的人从上一步到下一步所用小时数的第 75 百分位。"),
    _t("mean_hours", "平均用时", "小时", _ONE, "measure", "到达下一步的人从上一步到下一步所用小时数的平均数。"),
    # ---------------------------------------------------------------- 03 channel attribution
    _t("first_touch", "首次触点占比", "比例", _PCT, "measure",
       "首次触点模型分给该渠道的转化占全部转化的比例：全部功劳给转化前回看窗口内的第一个触点。"),
    _t("last_touch", "末次触点占比", "比例", _PCT, "measure", "末次触点模型分给该渠道的转化占比：全部功劳给转化前最后一个触点。"),
    _t("last_non_direct", "末次非直接占比", "比例", _PCT, "measure",
       "末次非直接模型分给该渠道的转化占比：功劳给最后一个不是直接访问或未标记的触点。"),
    _t("linear", "线性归因占比", "比例", _PCT, "measure", "线性模型分给该渠道的转化占比：路径上每一步平分功劳。"),
    _t("time_decay", "时间衰减占比", "比例", _PCT, "measure",
       "时间衰减模型分给该渠道的转化占比：触点权重每早 half_life_days（默认 7）天减半。"),
    _t("position_based", "位置归因占比", "比例", _PCT, "measure",
       "位置模型分给该渠道的转化占比：首、末触点各 40%，中间各步平分 20%。"),
    _t("markov", "马尔可夫占比", "比例", _PCT, "measure",
       "马尔可夫链模型分给该渠道的转化占比：按移除该渠道后转化概率下降的比例（移除效应）分配。"),
    _t("shapley", "沙普利值占比", "比例", _PCT, "measure",
       "沙普利值模型分给该渠道的转化占比：按渠道组合所覆盖转化数的边际贡献平均分配。"),
    _t("spread", "模型极差", "百分点", _PCT, "measure", "该渠道在各模型下转化占比的最大值 − 最小值。"),
    _t("closed", "收尾转化数", "人", _COUNT, "count", "该渠道是路径最后一步的转化人数。"),
    _t("assisted", "助攻转化数", "人", _COUNT, "count", "路径上有该渠道、但不是最后一步的转化人数。"),
    _t("on_path", "经过转化数", "人", _COUNT, "count", "路径上出现该渠道的转化人数。"),
    _t("assist_ratio", "助攻比", "倍", _X, "measure", "助攻转化数 ÷ 收尾转化数（没有收尾转化时为空）。"),
    _t("model", "归因模型", "文本", None, "key",
       "归因模型代码：first_touch、last_touch、last_non_direct、linear、time_decay、position_based、markov、shapley。"),
    _t("path", "路径", "文本", None, "key",
       "转化前 lookback_days（默认 30）天内的触点渠道序列，同一渠道连续的触点合并为一步，用 > 连接。"),
    _t("steps", "步数", "个", _INT, "measure", "路径的步数（合并后）。"),
    _t("nulls", "未转化人数", "人", _COUNT, "count",
       "走该路径但没有转化的人数（未转化者的路径取其最后一个触点前 lookback_days 天内的触点）。"),
    _t("conversion_rate", "路径转化率", "比例", _PCT, "measure", "转化数 ÷ (转化数 + 未转化人数)。"),
    _t("first_investors", "首投人数", "人", _COUNT, "count",
       "按注册渠道归属、截至分析日完成首投（第一笔成功投资）的注册用户数。"),
    _t("value_per_investor", "首投用户价值", "元", _YUAN1, "measure",
       "首投满 revenue_horizon_days（默认 180）天的首投人在首投后这段时间内的人均平台收入，即监控表同一期限的人均收入。"),
    _t("revenue_per_yuan", "每元回报", "倍", _X, "measure",
       "首投满 revenue_horizon_days（默认 180）天的人均收入 ÷ 获客成本/首投（渠道监控表与预算表同一口径），≥ 1 即在该期限内回本；"
       "摘要的 attr_budget_best_ratio 为加预算渠道的这一数值。"),
    _t("investors_per_10k", "每万元首投数", "人", _ONE, "measure", "10,000 ÷ 获客成本/首投：按平均成本再花一万元能得到的首投人数。"),
    _t("suggestion", "预算建议", "文本", None, "key",
       "按每元回报给出的建议：最高为加预算、最低为减预算、其余为维持；首投满期不足 30 人的渠道为人数太少，不参与排序。"),
    _t("kind", "渠道类型", "文本", None, "key",
       "渠道表中的类型：paid 付费、organic 自然、referral 老带新，未标记与直接访问为 untracked，渠道表之外的来源为 other；合计行为空。"),
    _t("clicks", "点击数", "次", _COUNT, "measure", "归到该渠道的触点事件条数（默认 ad_click 与 link_click）。"),
    _t("installs", "安装数", "次", _COUNT, "measure", "app_install 事件数，归到该设备安装前最后一个触点的渠道。"),
    _t("registrations", "注册人数", "人", _COUNT, "count",
       "注册渠道为该渠道的注册用户数（注册渠道 = 注册时记录的 UTM，没有时取注册前最后一个有标记的触点，再没有为未标记）。"),
    _t("bound_cards", "绑卡人数", "人", _COUNT, "count", "这些注册用户中截至分析日已绑卡的人数。"),
    _t("cost_per_registration", "获客成本/注册", "元", _YUAN1, "measure", "花费 ÷ 注册人数（渠道监控表口径）。"),
    _t("first_invest_amount", "首投金额", "元", _YUAN, "measure", "这些首投人第一笔成功投资的金额之和。"),
    _t("avg_first_invest", "平均首投金额", "元", _YUAN, "measure", "首投金额 ÷ 首投人数。"),
    _t("matured_30d", "满30天首投人数", "人", _COUNT, "count", "首投距分析日结束已满 30 天的首投人数，即 30 天人均收入的分母。"),
    _t("matured_90d", "满90天首投人数", "人", _COUNT, "count", "首投距分析日结束已满 90 天的首投人数，即 90 天人均收入的分母。"),
    _t("matured_180d", "满180天首投人数", "人", _COUNT, "count", "首投距分析日结束已满 180 天的首投人数，即 180 天人均收入的分母。"),
    _t("revenue_30d", "30天人均收入", "元", _YUAN1, "measure",
       "满 30 天的首投人在首投后 30 天内（含首投）全部成功投资的平台收入之和 ÷ 这些人数。"),
    _t("revenue_90d", "90天人均收入", "元", _YUAN1, "measure",
       "满 90 天的首投人在首投后 90 天内（含首投）全部成功投资的平台收入之和 ÷ 这些人数。"),
    _t("revenue_180d", "180天人均收入", "元", _YUAN1, "measure",
       "满 180 天的首投人在首投后 180 天内（含首投）全部成功投资的平台收入之和 ÷ 这些人数。"),
    _t("revenue_30d_sum", "30天收入合计", "元", _YUAN, "measure", "满 30 天的首投人在首投后 30 天内的平台收入之和。"),
    _t("revenue_90d_sum", "90天收入合计", "元", _YUAN, "measure", "满 90 天的首投人在首投后 90 天内的平台收入之和。"),
    _t("revenue_180d_sum", "180天收入合计", "元", _YUAN, "measure", "满 180 天的首投人在首投后 180 天内的平台收入之和。"),
    _t("roi_30d", "30天 ROI", "比例", "{:+.0%}", "measure",
       "(30 天人均收入 × 首投人数 − 花费) ÷ 花费，按平台收入而非利润。"),
    _t("roi_90d", "90天 ROI", "比例", "{:+.0%}", "measure",
       "(90 天人均收入 × 首投人数 − 花费) ÷ 花费，按平台收入而非利润。"),
    _t("roi_180d", "180天 ROI", "比例", "{:+.0%}", "measure",
       "(180 天人均收入 × 首投人数 − 花费) ÷ 花费，按平台收入而非利润。"),
    _t("retention_base", "复投考察人数", "人", _COUNT, "count",
       "首投已满 retention_days（默认 90）天的首投人数，即期内复投率的分母。"),
    _t("retained_rate", "期内复投率", "比例", _PCT, "measure",
       "留存人数 ÷ 复投考察人数：首投后 retention_days（默认 90）天内再次投资的比例，不同于不限时间的累计比例（占首投比例）。"),
    _t("cost_per_retained_investor", "获客成本/留存", "元", _YUAN1, "measure", "花费 ÷ (首投人数 × 期内复投率)。"),
    _t("source", "来源", "文本", None, "key", "清洗后的 utm_source（URL 解码、去空格、转小写）；为空时写 -。"),
    _t("medium", "媒介", "文本", None, "key", "清洗后的 utm_medium；为空时写 -。"),
    _t("campaign", "投放计划", "文本", None, "key", "清洗后的 utm_campaign；为空时写 -。"),
    _t("touches", "触点数", "次", _COUNT, "measure", "截至分析日的触点事件（默认 ad_click 与 link_click）中属于该项的条数。"),
    # ---------------------------------------------------------------- 04 RFM
    _t("order", "序号", "个", _INT, "key", "区间在该指标内从小到大的序号（从 0 起）。"),
    _t("group_en", "运营人群英文名", "文本", None, "key", "运营人群的英文名称。"),
    _t("segments", "包含人群", "文本", None, "text", "该运营人群包含的 RFM 人群。"),
    _t("amount", "投资额", "元", _YUAN, "measure", "统计期（分析日往前 period_days 天，默认 365）内该人群的成功投资金额之和。"),
    _t("revenue", "收入", "元", _YUAN, "measure", "统计期内该人群成功投资的平台收入之和。"),
    _t("amount_share", "投资额占比", "比例", _PCT, "measure", "本行投资额 ÷ 全部投资人的投资额。"),
    _t("revenue_share", "收入占比", "比例", _PCT, "measure", "本行收入 ÷ 全部投资人的收入。"),
    _t("segment_en", "人群英文名", "文本", None, "key", "RFM 人群的英文名称。"),
    _t("action", "建议动作", "文本", None, "text", "对该人群建议的运营动作（可在 dataset.yml 的 rfm_actions 中修改）。"),
    _t("list", "名单文件", "文本", None, "text", "该人群名单在本次运行私有 exports/04_rfm/ 目录中的文件名（不进入报告）。"),
    _t("from_segment", "上期人群", "文本", None, "key",
       "比较日（分析日往前 previous_days 天）的 RFM 人群；比较日还没投资的为新投资人。"),
    _t("from_en", "上期人群英文名", "文本", None, "key", "上期人群的英文名称。"),
    _t("to_segment", "本期人群", "文本", None, "key", "分析日的 RFM 人群。"),
    _t("to_en", "本期人群英文名", "文本", None, "key", "本期人群的英文名称。"),
    _t("from_share", "占上期比例", "比例", _PCT, "measure", "本行人数 ÷ 上期该人群的人数。"),
    _t("stayed", "是否未变", "是/否", None, "text", "上期与本期是同一个人群。"),
    _t("r_score", "R 分", "分", _INT, "key", "最近一次投资 (R) 的分位数得分，1 到 score_bins，越近得分越高。"),
    _t("f_score", "F 分", "分", _INT, "key", "统计期内投资笔数 (F) 的分位数得分，1 到 score_bins，越多得分越高。"),
    _t("score", "得分", "分", _INT, "key",
       "R、F 或 M 的分位数得分 = 1 + ⌊档数 × 比他差的人数 ÷ 投资人数⌋，取值相同得分相同。"),
    _t("min_value", "最小值", "见定义", _COUNT, "measure", "该得分档内的最小取值（R 为天，F 为笔，M 为元）；空档为空。"),
    _t("max_value", "最大值", "见定义", _COUNT, "measure", "该得分档内的最大取值（R 为天，F 为笔，M 为元）；空档为空。"),
    _t("r_high", "R 高", "是/否", None, "text",
       "该人群的 R 为高：最近一次投资距分析日的天数不超过全体投资人的分割值（默认均值）。"),
    _t("f_high", "F 高", "是/否", None, "text", "该人群的 F 为高：统计期内投资笔数不低于全体投资人的分割值（默认均值）。"),
    _t("m_high", "M 高", "是/否", None, "text", "该人群的 M 为高：统计期内投资额（或收入）不低于全体投资人的分割值（默认均值）。"),
    _t("mean_recency_days", "平均 R 天数", "天", _ONE, "measure", "人群内投资人最后一次投资日到分析日的自然日天数的平均数。"),
    _t("mean_frequency", "平均 F 笔数", "笔", _X, "measure", "人群内投资人统计期内成功投资笔数的平均数。"),
    _t("mean_monetary", "M 均值", "元", _YUAN, "measure",
       "格内（或人群内）投资人 M 的平均数：统计期内的投资额，参数 monetary 为 revenue 时为收入。"),
    # ---------------------------------------------------------------- 05 lifecycle retention
    _t("days", "天数阈值", "天", _INT, "key", "回来之前不活跃的整天数上限（含本数）。"),
    _t("share_within", "不超过该天数占比", "比例", _PCT, "measure",
       "全部回来的次数中，回来之前不活跃（无操作、无持有）的整天数不超过天数阈值的比例。"),
    _t("comebacks", "回来次数", "次", _COUNT, "measure", "全部用户在不活跃至少一天之后再次活跃的次数。"),
    _t("from_state", "上期末状态", "文本", None, "key", "上一月末的生命周期状态；(entry) 为首次进入。"),
    _t("to_state", "本期末状态", "文本", None, "key", "本月末的生命周期状态。"),
    _t("state", "状态", "文本", None, "key",
       "月末的生命周期状态：new 新增、active 活跃、resurrected 回流、dormant 沉睡（不活跃满 dormant_days）、churned 流失（满 churn_days）；"
       "持有中的产品算活跃。"),
    _t("active", "转为活跃占比", "比例", _PCT, "measure", "各完整月合计，上月末为该行状态的用户中本月末为活跃的比例。"),
    _t("resurrected", "转为回流占比", "比例", _PCT, "measure", "各完整月合计，上月末为该行状态的用户中本月末为回流的比例。"),
    _t("dormant", "转为沉睡占比", "比例", _PCT, "measure", "各完整月合计，上月末为该行状态的用户中本月末为沉睡的比例。"),
    _t("churned", "转为流失占比", "比例", _PCT, "measure", "各完整月合计，上月末为该行状态的用户中本月末为流失的比例。"),
    _t("cum_revenue", "累计收入", "元", _YUAN, "measure", "该注册月份的用户从注册当月到第 m 个月的平台收入累计（在投资时入账）。"),
    _t("ltv", "注册用户 LTV", "元", "{:,.2f}", "measure",
       "每个注册用户从注册当月到第 m 个月累计带来的平台收入：按注册月份的表为累计收入 ÷ 人数，合并曲线逐月只用已结束的注册月份累加，"
       "LTV/CAC 表取第 ltv_month 个月；摘要的 ret_ltv_at_month 为全部用户在 horizon_months 的值。"),
    _t("signups", "同期注册人数", "人", _COUNT, "count",
       "该注册渠道在花费表覆盖的月份内的注册人数（没有成本表时为全部注册人数）。"),
    _t("cac", "CAC", "元", _YUAN1, "measure", "花费 ÷ 同期注册人数；没有花费的渠道为空而不是 0。"),
    _t("ltv_month", "LTV 读数月", "月", _INT, "measure",
       "LTV 读数所在的注册后月数：参数 horizon_months，数据不够长时为最老的注册月份走到的月数。"),
    _t("n", "投资次序", "次", _INT, "key", "第 n 次成功投资（同一时刻的投资按交易号排序）。"),
    _t("rate_from_first", "占首投比例", "比例", _PCT, "measure",
       "投资满 n 次的人数 ÷ 首投人数，不限时间的累计比例；n = 2 即摘要的 ret_second_rate（累计复投率）。"),
    _t("median_days_from_previous", "距上次中位天数", "天", _ONE, "measure", "第 n−1 次到第 n 次投资相隔天数的中位数。"),
    _t("s_30", "30天生存率", "比例", _PCT, "measure",
       "Kaplan-Meier 估计的首投后 30 天仍在活跃寿命内（未流失）的比例；观察期不够时为空。"),
    _t("s_90", "90天生存率", "比例", _PCT, "measure", "Kaplan-Meier 估计的首投后 90 天仍在活跃寿命内的比例；观察期不够时为空。"),
    _t("s_180", "180天生存率", "比例", _PCT, "measure", "Kaplan-Meier 估计的首投后 180 天仍在活跃寿命内的比例；观察期不够时为空。"),
    _t("median_days", "中位寿命", "天", _INT, "measure", "生存率首次降到 0.5 及以下的天数；没有降到一半时为空。"),
    _t("day", "首投后天数", "天", _INT, "key", "首投后的第几天（生存曲线上有流失或截尾的天）。"),
    _t("survival", "生存率", "比例", _PCT, "measure",
       "Kaplan-Meier 估计的首投后到该天仍未流失（不活跃、无持有未满 churn_days 天）的比例。"),
    _t("ci_lower", "生存率区间下限", "比例", _PCT, "measure", "生存率的 95% 置信区间下限 (lifelines)。"),
    _t("ci_upper", "生存率区间上限", "比例", _PCT, "measure", "生存率的 95% 置信区间上限 (lifelines)。"),
    _t("at_risk", "风险集人数", "人", _COUNT, "count", "到该天仍在观察中（还没流失、也没截尾）的投资人数。"),
    # ---------------------------------------------------------------- 06 closed-loop review
    _t("covariate", "协变量", "文本", None, "key",
       "活动开始前 pre_days 天内的行为：pre_active_days 活跃天数、pre_invest_count 投资笔数、pre_invest_amount 投资额、tenure_days 注册天数。"),
    _t("mean_t", "实验组均值", "见定义", _X, "measure", "实验组成员该协变量的均值（天、笔或元，见协变量）。"),
    _t("mean_c", "对照组均值", "见定义", _X, "measure", "对照组成员该协变量的均值（天、笔或元，见协变量）。"),
    _t("smd", "SMD", "系数", "{:+.3f}", "measure",
       "标准化均值差 = (实验组均值 − 对照组均值) ÷ √((实验组方差 + 对照组方差) ÷ 2)，绝对值超过 0.1 视为失衡。"),
    _t("imbalanced", "是否失衡", "是/否", None, "text", "该协变量的 SMD 绝对值超过 0.1（或无法计算）。"),
    _t("check", "检查项", "文本", None, "key", "可信度检查或活动诊断的项目。"),
    _t("method", "估计方法", "文本", None, "key", "plain 为普通估计，cuped 为用活动前协变量校正后的 CUPED 估计。"),
    _t("se", "标准误", "百分点", "{:.2%}", "measure", "增量估计的标准误。"),
    _t("theta", "调整系数 θ", "系数", "{:.4f}", "measure",
       "CUPED 的 θ = 全体成员协变量与结果的协方差 ÷ 协变量方差；普通估计为 0。"),
    _t("variance_reduction", "方差缩减比例", "比例", _PCT, "measure", "1 − CUPED 标准误² ÷ 普通标准误²；普通估计为 0。"),
    _t("threshold", "经验阈值", "比例", _PCT, "measure", "该环节比率的经验下限，低于它（且分母至少 30 人）判为偏弱。"),
    _t("weak", "是否偏弱", "是/否", None, "text", "该环节比率低于经验阈值且分母至少 30 人。"),
    _t("retune", "调整方向", "文本", None, "text", "环节偏弱时该调整的内容。"),
    _t("responders", "响应人数", "人", _COUNT, "count", "该组在响应窗口内达成活动目标的人数。"),
    _t("batch", "发送批次", "文本", None, "key", "实验组的发送日期；全部为各批次合计，未发送为没有发送时间的成员。"),
    _t("reached", "到达人数", "人", _COUNT, "count", "已发送的实验组成员中以任何方式到达该环节的人数（不点短链、自己打开 App 的也算）。"),
    _t("people", "经链接到达人数", "人", _COUNT, "count",
       "拉新活动的链接漏斗（campaign_utm_funnel，只在目标为注册的活动生成）中，经带本活动 utm_campaign 的链接进入、"
       "并在窗口内依次到达该步骤的人数。"),
    _t("rate_from_sent", "占发送比例", "比例", _PCT, "measure", "沿路径到达该环节的人数 ÷ 该批次发送人数。"),
    _t("flag", "提示", "文本", None, "text", "发送至少 30 条、响应率低于 1% 的批次在达成目标一行标出。"),
    _t("start_date", "开始日期", "日期", None, "text", "活动开始日期 (YYYY-MM-DD)。"),
    _t("start_at", "开始时间", "日期", None, "text", "活动开始时间 (YYYY-MM-DD HH:MM)。"),
    _t("inc_responders", "增量响应人数", "人", _ONE, "measure",
       "增量 × 实验组人数：活动比不发多带来的响应者；摘要的 review_inc_responders 即本次活动的这一数值。"),
    _t("cost", "活动成本", "元", _YUAN, "measure",
       "发送条数 × 单条发送成本 + 实验组响应人数 × 单次奖励成本；没有单位成本时为空；摘要的 review_cost 即本次活动的成本。"),
    _t("roi", "增量 ROI", "比例", _PCT, "measure",
       "(增量收入 − 成本) ÷ 成本，增量收入 = 两组响应窗口内人均收入之差 × 实验组人数；摘要的 review_roi 即本次活动的这一比例。"),
    _t("target_rule", "选人规则", "文本", None, "text", "活动表中记录的目标人群规则。"),
    _t("register_to_invest", "注册到首投率", "比例", _PCT, "measure", "该首次触点渠道在 30 天窗口漏斗中注册 → 首投的转化率。"),
    _t("click_to_register", "点击到注册率", "比例", _PCT, "measure", "该首次触点渠道在 30 天窗口漏斗中广告点击 → 注册的转化率。"),
    _t("target_investors", "目标首投人数", "人", _ONE, "measure", "下一阶段新增首投目标 × 该渠道现有首投人占比。"),
    _t("target_registrations", "目标注册人数", "人", _COUNT, "measure", "目标首投人数 ÷ 注册到首投率。"),
    _t("target_clicks", "目标点击人数", "人", _COUNT, "measure", "目标注册人数 ÷ 点击到注册率。"),
    _t("budget", "所需预算", "元", _YUAN, "measure", "目标首投人数 × 30天首投获客成本；没有花费的渠道为 0，花费未知时为空。"),
    _t("basis", "选人依据", "文本", None, "key",
       "分群显著：该分群 Holm 校正后增量显著为正；整体显著，按分群收缩：没有这样的分群但活动整体显著，在不显著为负的分群里选。"
       "两种依据下所用增量都是分群实测增量向整体增量收缩后的估计。"),
    _t("shrink_weight", "收缩权重", "系数", _X, "measure",
       "下一轮计划所用增量中本分群实测增量的权重 τ²/(τ²+v)：1 为只用分群自己的估计，0 为整体增量"
       "（分群间差异不超出抽样误差，或分群的一组没有人）。"),
    _t("targets", "目标人数", "人", _COUNT, "count",
       "该分群中本活动未响应的实验组成员与全部对照组成员（下一轮名单）；摘要的 review_plan_targets 为预算内各分群合计。"),
    _t("segment_uplift", "分群实测增量", "百分点", _PP, "measure", "该分群本次活动的实测增量（实验组响应率 − 对照组响应率）。"),
    _t("cumulative_cost", "累计预期成本", "元", _YUAN, "measure", "按每元增量从高到低排列，到本分群为止的预期成本累计。"),
    _t("within_budget", "是否在预算内", "是/否", None, "text", "累计预期成本不超过预算（没有预算或没有单位成本时都在）。"),
    _t("share_targeted", "覆盖比例", "比例", _PCT, "measure", "按预测增量从高到低排序，到此为止覆盖的名单成员占全部成员的比例。"),
    _t("qini", "Qini 值", "人", _ONE, "measure",
       "到此为止的增量响应者 = 实验组响应数 − 对照组响应数 × 实验组人数 ÷ 对照组人数（按实验组规模）。"),
    _t("random", "随机基线", "人", _ONE, "measure", "随机选人时的 Qini 值 = 覆盖比例 × 全部成员的 Qini 值。"),
    _t("uplift_so_far", "已覆盖者增量", "百分点", _PP, "measure", "已覆盖成员中实验组响应率 − 对照组响应率。"),
    _t("responders_t", "实验组响应人数", "人", _COUNT, "count", "实验组中在响应窗口内达成目标的人数。"),
    _t("responders_c", "对照组响应人数", "人", _COUNT, "count", "对照组中在响应窗口内达成目标的人数。"),
    _t("breakdown", "拆分维度", "文本", None, "key", "分群所用的维度：layer 资产分层、signup_channel、age_band 等，rfm 为第 4 章的 RFM 人群。"),
    # ---------------------------------------------------------------- 07 next campaign
    _t("stratum", "抽样分层", "文本", None, "key",
       "对照组按同一比例抽取的层：滞留用户按注册渠道，沉睡用户按不活跃天数段，RFM 人群按分群，下一轮名单按第 6 章的分群。"),
    _t("baseline", "基线响应率", "比例", _PCT, "measure", "依据活动（上一轮同目标、有对照组、窗口已结束的活动）的对照组响应率。"),
    _t("mde", "最小可检测增量", "百分点", "{:.2%}", "measure",
       "在这组实验组、对照组人数和基线响应率下，按显著性水平 alpha 与检验力 plan_power（默认 80%）能检出的最小绝对增量。"),
    _t("planned_share", "计划对照比例", "比例", _PCT, "measure", "计划的对照组比例（每层按它取整抽取）。"),
    _t("detects", "能否检出", "是/否", None, "text", "计划增量不小于最小可检测增量。"),
    _t("setting", "规则设置", "文本", None, "text", "该条运营规则的设置（如 14 天内、开启、预算金额）。"),
    # ---------------------------------------------------------------- the summary's own headline numbers
    _t("dq_analysis_date", "分析日", "日期", None, "text", "本书所有数字截止的日期：这一天结束时（数据集的时区，默认 Asia/Shanghai）。"),
    _t("prof_users", "注册用户总数", "人", _COUNT, "count", "分析日结束前注册的全部用户数。"),
    _t("prof_investors", "投资用户总数", "人", _COUNT, "count",
       "截至分析日有过至少一笔成功投资的注册用户数（第 4 章 RFM 的投资人是同一群人，即 rfm_investors）。"),
    _t("prof_top20_share", "前20%资产占比", "比例", _PCT, "measure",
       "持有资产的投资人中在投资产最高的 20% 持有的在投资产占全部在投资产的比例（持有者太少时不计算）。"),
    _t("funnel_worst_step", "转化最低的步骤", "文本", None, "text", "默认漏斗中上一步转化率最低的步骤名（只看截止时间已过的步骤）。"),
    _t("funnel_stalled_card", "注册未绑卡人数", "人", _COUNT, "count",
       "分析日前 stall_lookback_days（默认 30）天内注册、注册满 stall_card_hours（默认 24）小时到分析日仍未绑卡的人数。"),
    _t("funnel_stalled_invest", "绑卡未首投人数", "人", _COUNT, "count",
       "分析日前 stall_lookback_days（默认 30）天内绑卡、绑卡满 stall_invest_days（默认 7）天到分析日仍未首投的人数。"),
    _t("attr_budget_best", "加预算渠道", "文本", None, "text", "参与排序的付费渠道中每元回报最高的渠道。"),
    _t("attr_budget_worst", "减预算渠道", "文本", None, "text", "参与排序的付费渠道中每元回报最低的渠道。"),
    _t("attr_budget_shift", "挪动预算比例", "比例", "{:.0%}", "measure", "从减预算渠道挪给加预算渠道的预算比例（参数 budget_shift）。"),
    _t("attr_budget_shift_value", "挪预算收入增量", "元", _YUAN, "measure",
       "挪动的花费 × (加预算渠道 − 减预算渠道的每元回报)：按边际成本等于平均成本估算的 revenue_horizon_days 天收入增量。"),
    _t("attr_horizon", "收入期限", "天", _INT, "measure", "用作首投用户价值与 LTV/CAC 的收入期限（参数 revenue_horizon_days，默认 180 天）。"),
    _t("rfm_iv_user_share", "重要价值人数占比", "比例", _PCT, "measure", "重要价值人群人数 ÷ 全部投资人。"),
    _t("rfm_iv_amount_share", "重要价值投资额占比", "比例", _PCT, "measure", "重要价值人群统计期内投资额 ÷ 全部投资人的投资额。"),
    _t("rfm_group_risk_share", "流失风险客占比", "比例", _PCT, "measure", "流失风险客（R 低）人数 ÷ 全部投资人。"),
    _t("rfm_group_risk_amount_share", "流失风险客投资额占比", "比例", _PCT, "measure", "流失风险客统计期内投资额 ÷ 全部投资人的投资额。"),
    _t("rfm_winback_users", "重要挽留人数", "人", _COUNT, "count", "重要挽留人群（R 低、F 低、M 高）的人数。"),
    _t("ret_p1_rate", "次期留存率", "比例", _PCT, "measure",
       "第 1 个周期（默认按月，即次月）已结束的同期群合计：第 1 期回来的人数 ÷ 人数。"),
    _t("ret_at_risk_users", "沉睡可召回人数", "人", _COUNT, "count",
       "分析日当天不活跃满 dormant_days（默认 60）天、不足 churn_days（默认 180）天且没有持有中产品的用户数。"),
    _t("review_campaign", "复盘的活动", "文本", None, "text", "第 6 章复盘的活动，写作“编号「名称」”。"),
    _t("review_inc_revenue", "增量收入", "元", _YUAN, "measure",
       "(实验组人均收入 − 对照组人均收入) × 实验组人数，只计响应窗口内投资的平台收入。"),
    _t("review_plan_names", "下一轮分群", "文本", None, "text", "下一轮计划中预算内的分群名称，用、连接（没有时为无）。"),
    _t("week", "注册周", "日期", None, "key",
       "自然周（周一到周日，数据所在时区）的周一：每周趋势表按注册时间、花费按成本日期归入该周。"),
    _t("matured", "已满期", "是/否", None, "text",
       "该周的每个注册用户是否都已注册满首投窗口（参数 trend_invest_days）；未满期的周不给首投率。"),
    _t("first_invest_rate", "首投率", "比例", _PCT, "measure",
       "该周该渠道的注册用户中，注册后 trend_invest_days 天内完成首投的比例（只算已满期的周）。"),
    _t("review_inc_low", "增量响应人数下限", "人", _ONE, "measure",
       "增量区间下限 × 实验组人数：增量响应人数的 95% 区间下限。"),
    _t("review_inc_high", "增量响应人数上限", "人", _ONE, "measure",
       "增量区间上限 × 实验组人数：增量响应人数的 95% 区间上限。"),
    _t("review_inc_amount", "增量投资额", "元", _YUAN, "measure",
       "(实验组人均投资额 − 对照组人均投资额) × 实验组人数，只计响应窗口内的成功投资。"),
    _t("review_verdict_code", "结论类别", "文本", None, "text",
       "整次活动结论的类别：positive（显著为正）、negative（显著为负）或其他（不显著、样本不足）。"),
)


def _index(entries: Iterable[Term]) -> dict[str, Term]:
    out: dict[str, Term] = {}
    for entry in entries:
        if entry.key in out:
            raise ValueError(f"registry: the key {entry.key!r} has two terms")
        out[entry.key] = entry
    return out


#: Every column and metric name of the book, by key.
TERMS: dict[str, Term] = _index(_ENTRIES)

#: Glued summary keys that are the same quantity as a column term (key -> that term's key):
#: the same quantity keeps one label. ``review_uplift`` is the campaign-effect table's uplift.
SUMMARY_ALIASES: dict[str, str] = {
    "dq_rows_read": "rows_read",
    "dq_set_aside_share": "set_aside_share",
    "prof_investor_rate": "investor_rate",
    "prof_registrations_month_prev_change": "prev_change",
    "prof_registrations_month_yoy_change": "yoy_change",
    "prof_first_investors_month_prev_change": "prev_change",
    "prof_first_investors_month_yoy_change": "yoy_change",
    "prof_aum_total": "aum",
    "funnel_first_invest_rate": "rate_from_start",
    "funnel_worst_rate": "rate_from_previous",
    "attr_spend": "spend",
    "attr_cost_per_investor": "cost_per_investor",
    "attr_budget_best_ratio": "revenue_per_yuan",
    "rfm_investors": "prof_investors",
    "ret_second_rate": "rate_from_first",
    "ret_ltv_at_month": "ltv",
    "review_uplift": "uplift",
    "review_rate_t": "rate_t",
    "review_rate_c": "rate_c",
    "review_ci_low": "ci_low",
    "review_ci_high": "ci_high",
    "review_roi": "roi",
    "review_cost": "cost",
    "review_cost_per_incremental": "cost_per_incremental",
    "review_inc_responders": "inc_responders",
    "review_verdict": "verdict",
    "review_p_value": "p_value",
    "review_offer": "offer",
    "review_plan_targets": "targets",
    "review_plan_incremental": "expected_incremental",
    "review_plan_inc_low": "expected_incremental_low",
    "review_plan_inc_high": "expected_incremental_high",
}


def term(key: str) -> Term:
    """Look up the term of a column or metric name.

    Parameters
    ----------
    key : str
        A column name of a published table, or a glued summary key (an alias of
        SUMMARY_ALIASES resolves to the column term it equals).

    Returns
    -------
    Term
        Its term.

    Raises
    ------
    KeyError
        When `key` has no term; the message names the key and says to add it to TERMS.

    Examples
    --------
    >>> term("ci_low").unit
    '同估计值'
    """
    found = TERMS.get(SUMMARY_ALIASES.get(key, key))
    if found is None:
        raise KeyError(f"{key!r} has no term: add a Term for it to TERMS in growthloop/present/registry.py "
                       "(label, definition, unit, fmt, kind), read off the function that makes the column")
    return found


def label(key: str) -> str:
    """The Chinese label readers see for a column or metric name.

    Parameters
    ----------
    key : str
        A column name of a published table, or a glued summary key.

    Returns
    -------
    str
        Its label (``cost_per_investor`` -> 获客成本/首投).

    Raises
    ------
    KeyError
        When `key` has no term; the message names the key and says to add it to TERMS.
    """
    return term(key).label


def labels(columns: Iterable[str]) -> dict[str, str]:
    """Map column names to their Chinese labels, for ``frame.rename(columns=labels(frame.columns))``.

    Parameters
    ----------
    columns : iterable of str
        Column names (a DataFrame's columns).

    Returns
    -------
    dict of str to str
        {column: label}, in the order given.

    Raises
    ------
    KeyError
        For the first column without a term, naming it and saying to add it to TERMS.
    """
    return {str(c): label(str(c)) for c in columns}

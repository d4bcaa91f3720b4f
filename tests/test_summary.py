"""The executive summary: glue read back from executed notebooks, stakes derived and ranked."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
import yaml

from growthloop import PROJECT_ROOT
from growthloop.present import summary as sm


def glue_output(key: str, value) -> nbformat.NotebookNode:
    """A glue output exactly as myst_nb.glue(key, value, display=False) writes it."""
    return nbformat.v4.new_output(
        "display_data", data={"application/papermill.record/text/plain": repr(value)},
        metadata={"scrapbook": {"name": key, "mime_prefix": "application/papermill.record/"}})


def fake_chapter(folder: Path, stem: str, title: str, sections: dict[str | None, dict]) -> Path:
    """An executed chapter: a title, then per section a heading and a cell gluing its values."""
    cells = [nbformat.v4.new_markdown_cell(f"# {title}\n\nintro")]
    for heading, values in sections.items():
        if heading:
            cells.append(nbformat.v4.new_markdown_cell(f"## {heading}"))
        code = nbformat.v4.new_code_cell("gb.glue(...)")
        code.outputs = [glue_output(k, v) for k, v in values.items()]
        cells.append(code)
    nb = nbformat.v4.new_notebook(cells=cells)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.ipynb"
    nbformat.write(nb, path)
    return path


def test_read_glue_decodes_values_and_remembers_sections(tmp_path: Path) -> None:
    path = fake_chapter(tmp_path, "02_funnel", "2 转化漏斗 (conversion funnel)", {
        None: {"funnel_window_days": 30},
        "漏斗总览 (the funnel and its drop-offs)": {"funnel_first_invest_rate": 0.0669,
                                                   "funnel_worst_step": "复投"},
        "滞留用户 (stalled users)": {"funnel_stalled_card": 771, "funnel_nan": float("nan")},
    })
    ch = sm.read_glue(path)
    assert ch.title == "2 转化漏斗 (conversion funnel)"
    v = ch.values
    assert v["funnel_window_days"].value == 30 and v["funnel_window_days"].anchor is None
    assert v["funnel_window_days"].href == "02_funnel.html"
    assert v["funnel_first_invest_rate"].value == pytest.approx(0.0669)
    assert v["funnel_worst_step"].value == "复投"
    # docutils drops the Chinese and keeps the English words of the heading as the section id
    assert v["funnel_worst_step"].href == "02_funnel.html#the-funnel-and-its-drop-offs"
    assert v["funnel_stalled_card"].section == "滞留用户 (stalled users)"
    assert v["funnel_stalled_card"].anchor == "stalled-users"
    assert v["funnel_nan"].value != v["funnel_nan"].value  # NaN survives


def test_number_reads_numbers_only() -> None:
    # chapters glue numbers as numbers: formatted text is not parsed back
    assert sm._number(3) == 3.0 and sm._number(2.5e8) == 2.5e8
    assert sm._number("2,900元") is None and sm._number("1.6万元") is None
    assert sm._number("复投") is None and sm._number(float("nan")) is None and sm._number(True) is None
    assert sm._number(None) is None


def test_readers_get_only_declared_keys() -> None:
    v = sm.Declared({"a": 1, "b": 2}, ("a", "c"))
    assert v["a"] == 1 and v.get("c") is None and v.get("c", 0) == 0 and "b" not in v
    with pytest.raises(KeyError, match="not declared"):
        v.get("b")
    with pytest.raises(KeyError, match="not declared"):
        v["b"]
    # every key a rule or the headline table reads is in SUMMARY_KEYS, once
    assert len(set(sm.SUMMARY_KEYS)) == len(sm.SUMMARY_KEYS)
    for rule in sm.DERIVED_ACTIONS:
        assert set(rule.keys) <= set(sm.SUMMARY_KEYS)
    assert {"prof_aum_total", "ret_ltv_at_month", "review_uplift"} <= set(sm.SUMMARY_KEYS)


def _demo_like(folder: Path) -> None:
    """Round numbers so every stake can be worked out by hand (see the test below)."""
    fake_chapter(folder, "01_user_profiling", "1 用户画像", {
        "用户构成 (composition)": {"prof_users": 1000, "prof_investors": 200}})
    fake_chapter(folder, "02_funnel", "2 转化漏斗", {
        "滞留用户 (stalled)": {"funnel_stalled_card": 30, "funnel_stalled_invest": 10}})
    fake_chapter(folder, "03_channel_attribution", "3 渠道归因", {
        "预算 (budget)": {"attr_budget_shift_value": 5000.0, "attr_budget_best": "微信KOL",
                          "attr_budget_worst": "DSP", "attr_budget_shift": 0.1, "attr_horizon": 180}})
    fake_chapter(folder, "04_rfm", "4 RFM", {
        "分群 (segments)": {"rfm_investors": 200, "rfm_group_risk_share": 0.4,
                            "rfm_group_risk_amount_share": 0.25, "rfm_winback_users": 5}})
    fake_chapter(folder, "05_lifecycle_retention", "5 留存", {
        "沉睡 (dormant)": {"ret_at_risk_users": 50},
        "价值 (ltv)": {"ret_ltv_at_month": 20.0}})


def test_values_without_a_measured_uplift_are_ceilings_ranked_after_expected_values(tmp_path: Path) -> None:
    _demo_like(tmp_path)
    s = sm.collect(tmp_path)
    # V = LTV per registered user × registered / investors = 20 × 1000 / 200 = 100 yuan
    assert s.value_per_investor == pytest.approx(100.0)
    ceilings = {a.name: a.ceiling_yuan for a in s.actions}
    assert ceilings == pytest.approx({
        "funnel_stalled": (30 + 10) * 100,   # stalled users × V = 4,000
        "attr_budget": None,                 # chapter 3's own estimate has no per-person ceiling
        "rfm_risk": 0.25 * 200 * 100,        # amount share × investors × V = 5,000
        "ret_dormant": 50 * 100,             # dormant users × V = 5,000
    })
    # no campaign review: no uplift, so only chapter 3's gain is an expected value
    assert {a.name: a.expected_yuan for a in s.actions} == {
        "funnel_stalled": None, "attr_budget": 5000.0, "rfm_risk": None, "ret_dormant": None}
    # the expected value first; then ceilings, ties at 5,000 broken by users (rfm 0.4 × 200 = 80
    # before dormant 50), then funnel's 4,000
    assert [a.name for a in s.actions] == ["attr_budget", "rfm_risk", "ret_dormant", "funnel_stalled"]
    assert [a.users for a in s.top_actions] == [None, 80, 50]
    assert s.top_actions[1].link.href == "04_rfm.html#segments"
    assert s.top_actions[1].value_text == "至多 5,000元"
    page = sm.actions_html(s)
    assert "收入至多 5,000元（上限）" in page and "期望收入约 5,000元" in page
    assert "没有测得活动的响应增量" in page
    assert s.campaign is None
    assert "本次运行没有活动复盘" in sm.campaign_html(s)


def test_actions_are_ranked_by_expected_value_with_the_uplifts_range(tmp_path: Path) -> None:
    _demo_like(tmp_path)
    fake_chapter(tmp_path, "06_closed_loop_review", "6 营销闭环复盘", {
        "效果": {"review_uplift": 0.03, "review_ci_low": 0.01, "review_ci_high": 0.05}})
    s = sm.collect(tmp_path)
    got = {a.name: (a.expected_yuan, a.low_yuan, a.high_yuan) for a in s.actions}
    # people × uplift × V, the range at the interval's ends (V = 100, see above):
    assert got["funnel_stalled"] == pytest.approx((40 * 0.03 * 100, 40 * 0.01 * 100, 40 * 0.05 * 100))
    assert got["ret_dormant"] == pytest.approx((150.0, 50.0, 250.0))           # 50 people
    assert got["rfm_risk"] == pytest.approx((0.25 * 200 * 100 * 0.03, 50.0, 250.0))  # 5,000 × uplift
    assert got["attr_budget"] == (5000.0, None, None)
    # 5,000 > 150 = 150 (rfm 80 people before dormant 50) > 120
    assert [a.name for a in s.actions] == ["attr_budget", "rfm_risk", "ret_dormant", "funnel_stalled"]
    assert s.actions[1].range_text == "50元 至 250元"
    assert "期望收入约 150元（区间 50元 至 250元）" in sm.actions_html(s)
    table = sm.all_actions_html(s)
    assert "<th>期望收入</th><th>区间</th><th>上限</th>" in table and "5,000元" in table


def test_a_glued_value_replaces_the_derived_one(tmp_path: Path) -> None:
    _demo_like(tmp_path)
    fake_chapter(tmp_path, "05_lifecycle_retention", "5 留存", {
        "沉睡 (dormant)": {"ret_at_risk_users": 50, "ret_dormant_value_yuan": 9000.0,
                           "ret_dormant_value_low_yuan": 1000.0, "ret_dormant_value_high_yuan": 12000.0,
                           "ret_dormant_action": "召回沉睡用户", "ret_dormant_value_users": 50},
        "价值 (ltv)": {"ret_ltv_at_month": 20.0}})
    s = sm.collect(tmp_path)
    dormant = [a for a in s.actions if a.name == "ret_dormant"]
    assert len(dormant) == 1 and dormant[0].expected_yuan == 9000.0 and dormant[0].text == "召回沉睡用户"
    assert (dormant[0].low_yuan, dormant[0].high_yuan, dormant[0].users) == (1000.0, 12000.0, 50)
    assert s.actions[0].name == "ret_dormant"


def test_without_ltv_user_values_rank_after_yuan_values(tmp_path: Path) -> None:
    _demo_like(tmp_path)
    (tmp_path / "05_lifecycle_retention.ipynb").unlink()
    s = sm.collect(tmp_path)
    assert s.value_per_investor is None
    assert [a.name for a in s.actions] == ["attr_budget", "rfm_risk", "funnel_stalled"]
    assert s.actions[1].expected_yuan is None and s.actions[1].value_text == "—"
    # without V nothing is "only a ceiling": the basis and the note say V is missing
    assert "缺少每名投资人的收入 V" in s.actions[1].basis and "只有上限" not in s.actions[1].basis
    page = sm.actions_html(s)
    assert "缺少每名投资人的收入 V（需要第 5 章的 LTV" in page and "只给出上限" not in page


def test_campaign_block_and_next_round(tmp_path: Path) -> None:
    fake_chapter(tmp_path, "06_closed_loop_review", "6 营销闭环复盘", {
        "实验组与对照组 (effect against the holdout)": {
            "review_campaign": "C1「唤醒」", "review_verdict": "显著", "review_uplift": 0.03,
            "review_ci_low": 0.01, "review_ci_high": 0.05, "review_roi": 1.5, "review_rate_t": 0.05,
            "review_rate_c": 0.02, "review_inc_responders": 20.0, "review_inc_revenue": 800.0,
            "review_cost": 320.0, "review_cost_per_incremental": 16.0},
        "下一轮 (the next round)": {"review_plan_incremental": 10.0, "review_plan_targets": 400,
                                    "review_plan_names": "45-55", "review_offer": "返现券"}})
    s = sm.collect(tmp_path)
    assert s.campaign["uplift"] == 0.03
    block = sm.campaign_html(s)
    assert "+3.0 个百分点（+1.0 个百分点 至 +5.0 个百分点" in block
    # ROI at the interval's bounds, by hand: (800 × 0.01 / 0.03 − 320) / 320 = −17%,
    # (800 × 0.05 / 0.03 − 320) / 320 = 317%
    assert "150%（-17% 至 317%）" in block and "20 人" in block
    assert "注意" not in block  # no verdict code glued: no caution
    assert "06_closed_loop_review.html#effect-against-the-holdout" in block
    (next_round,) = s.actions
    # 10 planned incremental responders × 800 / 20 yuan per incremental responder = 400
    assert next_round.expected_yuan == pytest.approx(400.0) and next_round.users == 400
    rows = sm.headlines(s)
    assert [r["value"] for r in rows] == ["C1「唤醒」", "+3.0 个百分点", "150%", "16.0"]


def test_the_summary_carries_chapter_6s_caution(tmp_path: Path) -> None:
    effect = {"review_campaign": "C1", "review_verdict": "显著", "review_verdict_code": "positive",
              "review_uplift": 0.03, "review_ci_low": 0.001, "review_ci_high": 0.06,
              "review_inc_amount": 219562.6, "review_p_value": 0.045}
    fake_chapter(tmp_path, "06_closed_loop_review", "6 营销闭环复盘", {"效果": effect})
    block = sm.campaign_html(sm.collect(tmp_path))
    # a lower bound under half the uplift: significant, size uncertain (chapter 6's own advice)
    assert "注意" in block and "+0.1 个百分点" in block and "先不要据此加大预算" in block
    assert "22.0万元" in block and "p = 0.045" in block
    fake_chapter(tmp_path, "06_closed_loop_review", "6 营销闭环复盘",
                 {"效果": effect | {"review_ci_low": 0.02}})
    assert "注意" not in sm.campaign_html(sm.collect(tmp_path))
    fake_chapter(tmp_path, "06_closed_loop_review", "6 营销闭环复盘",
                 {"效果": effect | {"review_verdict_code": "not_significant", "review_ci_low": -0.01}})
    assert "不能证明活动有增量" in sm.campaign_html(sm.collect(tmp_path))


def test_only_chapters_in_the_toc_are_summarised(tmp_path: Path) -> None:
    chapters = tmp_path / "chapters"
    _demo_like(chapters)
    fake_chapter(chapters, sm.SUMMARY_STEM, "摘要", {None: {"x": 1}})
    (tmp_path / "_toc.yml").write_text(yaml.safe_dump({
        "root": f"chapters/{sm.SUMMARY_STEM}",
        "parts": [{"chapters": [{"file": "chapters/01_user_profiling"}, {"file": "chapters/04_rfm"}]}]}))
    assert [p.stem for p in sm.book_chapters(chapters)] == ["01_user_profiling", "04_rfm"]
    s = sm.collect(chapters)
    assert [a.name for a in s.actions] == ["rfm_risk"]  # no V without chapter 5: no yuan, still listed
    with pytest.raises(FileNotFoundError, match="chapters_dir"):
        sm.collect(tmp_path / "nowhere")


def test_fmt() -> None:
    assert sm.fmt(None, ".1%") == "—" and sm.fmt(float("nan"), ".1%") == "—"
    assert sm.fmt(0.1234, ".1%") == "12.3%" and sm.fmt("2,422.9万元", ".1%") == "2,422.9万元"
    assert sm.fmt(123456.0, "yuan") == "12.3万元"


def test_committed_summary_shows_the_committed_chapters() -> None:
    """The committed summary notebook was executed on the committed chapters (nbval checks the
    rest): its first action is the top action computed here."""
    nb = nbformat.read(PROJECT_ROOT / "chapters" / f"{sm.SUMMARY_STEM}.ipynb", as_version=4)
    text = "".join(str(o.get("data", {}).get("text/html", "")) for c in nb.cells
                   if c.cell_type == "code" for o in c.outputs)
    top = sm.collect().top_actions
    assert top and top[0].text in text


def test_action_sentences_suppress_small_counts() -> None:
    from growthloop.present import summary

    text, estimate, users, _how = summary._ret_dormant({"ret_at_risk_users": 4}, summary.Rates(100.0, 0.1, 0.0, 0.2))
    small = summary.Action("ret_dormant", text, None, 4, _how, None, ceiling_yuan=400.0)
    page = summary.actions_html(summary.Summary([], {}, [small], 100.0))
    assert "涉及 &lt;10 人" in page and "<10" not in page  # escaped in the HTML
    assert "<10 名沉睡用户" in text and users == 4 and estimate.ceiling == 400.0
    assert estimate.expected == pytest.approx(40.0) and estimate.low == 0.0 and estimate.high == pytest.approx(80.0)
    text, *_ = summary._ret_dormant({"ret_at_risk_users": 969}, summary.Rates(100.0))
    assert "969 名沉睡用户" in text


def test_a_rule_whose_numbers_are_missing_gives_no_action() -> None:
    # chapter 4 glued NaN shares (no investors): the 流失风险客 action is left out, no TypeError
    from growthloop.present.summary import Glued, derive_actions

    values = {k: Glued(k, v, "04_rfm", "", "") for k, v in
              {"rfm_investors": 0, "rfm_group_risk_share": float("nan"),
               "rfm_group_risk_amount_share": float("nan")}.items()}
    assert [a.name for a in derive_actions(values)] == []


def test_a_chapter_6_without_an_effect_and_skipped_sections_are_said(tmp_path) -> None:
    from growthloop.present.summary import ChapterGlue, Glued, Summary, campaign_html, skipped_html

    skip = Glued("skipped__06_closed_loop_review__effect", "对照组效果\t有对照组的活动\t活动没有对照组\t留出对照组",
                 "06_closed_loop_review", None, None)
    chapters = [ChapterGlue("06_closed_loop_review", "6 营销闭环复盘", {skip.key: skip})]
    s = Summary(chapters=chapters, values={skip.key: skip}, actions=[], value_per_investor=None)
    assert "本数据不能支持效果的估计" in campaign_html(s) and "06_closed_loop_review.html" in campaign_html(s)
    assert "本数据不能支持 1 个小节（分布在 1 章）" in skipped_html(s)
    assert skipped_html(Summary(chapters=[], values={}, actions=[], value_per_investor=None)) == ""


def test_a_chapter_run_alone_reads_no_book_and_says_so(tmp_path: Path) -> None:
    """The data-quality chapter run alone (papermill, out_dir without chapters/): its list of
    skipped sections is the standard note, not a crash."""
    from growthloop.errors import NotAvailable

    with pytest.raises(NotAvailable) as info:
        sm.read_book(tmp_path / "book" / "chapters")
    assert "单独运行" in info.value.missing and "growthloop book" in info.value.fix


def test_every_basis_names_who_is_counted_and_what_the_estimate_had() -> None:
    from growthloop.present import summary

    v = {"rfm_investors": 1000, "rfm_group_risk_share": 0.2, "rfm_group_risk_amount_share": 0.3}
    measured = summary._rfm_risk(v, summary.Rates(100.0, 0.1, 0.0, 0.2))[3]
    ceiling = summary._rfm_risk(v, summary.Rates(100.0))[3]
    neither = summary._rfm_risk(v, summary.Rates(None))[3]
    assert measured == "投资额占比 × 投资人数 × 第 6 章测得的响应增量 × 每名投资人的收入 V（区间取增量的置信区间）"
    assert ceiling == "投资额占比 × 投资人数 × V（没有测得的响应增量，只有上限）"
    assert neither == "投资额占比 × 投资人数 × V（缺少每名投资人的收入 V，无法折算成收入）"
    assert summary._ret_dormant({"ret_at_risk_users": 969}, summary.Rates(100.0))[3].startswith("人数 × V（没有")


def test_the_summary_imports_no_plotting_or_statistics_library():
    """The summary page draws nothing: its kernel must not pay for seaborn, matplotlib and
    scipy (about 1.2 s of a 3 s page). A fresh interpreter, so earlier tests' imports do not
    hide one."""
    import subprocess
    import sys

    heavy = ("seaborn", "matplotlib", "scipy", "statsmodels", "growthloop.metrics.campaign_review")
    code = ("import sys, growthloop.present.summary; "
            f"print(','.join(m for m in {heavy!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""

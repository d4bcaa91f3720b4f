"""Closed-loop campaign review: the campaign funnel, effect, segments and next round on a
hand-built dataset, missing-holdout and empty cases, the verdict vocabularies (codes computed,
labels shown), the goal planning by hand, and the demo's true uplifts (data/demo/truth.json)
inside the estimated intervals. The A/B statistics are in tests/test_stats.py, the uplift model
in tests/test_uplift.py."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import ibis
import pandas as pd
import pytest
from conftest import event, txn, user, write_dataset

from growthloop import DEMO_DATA
from growthloop.errors import NotAvailable
from growthloop.metrics import campaign_review as cr
from growthloop.metrics import planning, stats, uplift
from growthloop.staging.loader import open_dataset

START = "2025-03-01 10:00:00"


def _campaign_row(cid: str, goal: str = "bind_card", window: int = 7, **extra) -> dict:
    row = {"campaign_id": cid, "name": f"活动{cid}", "channel": "sms", "start_at": START,
           "end_at": "2025-03-08 10:00:00", "goal": goal, "window_days": window,
           "cost_per_send": 0.1, "cost_per_reward": 10.0, "target_rule": "测试人群"}
    row.update(extra)
    return row


def _member(cid: str, uid: str, group: str, sent: str | None = None, delivered=None,
            clicked: str | None = None) -> dict:
    return {"campaign_id": cid, "user_id": uid, "group": group, "sent_at": sent,
            "delivered": delivered, "clicked_at": clicked}


def hand_tables() -> dict:
    """The tables of the hand-built dataset (see the fixture `hand`), as write_dataset takes
    them.

    C1: bind-card SMS, 7 days; C2: treatment only (no holdout); C3: no members.

    Treatment (window from sent_at = 10:05):
      U1 delivered, clicked 11:00, app_open 12:00, bind_card 03-02, invests 1000 on 03-03
         -> every step of the path, responder
      U2 delivered, no click, bind_card 03-03 -> natural responder (reached, not on the path)
      U3 not delivered, nothing
      U4 delivered, clicked 03-01 12:00, nothing else
      U7 delivered, bind_card 03-08 10:05 = sent_at + 7 days exactly -> inside (edge included)
    Holdout (window from start_at 10:00):
      U5 bind_card 03-02 -> responder; U6 bind_card 03-09 -> after the window
      U8 bind_card 03-01 09:00 -> before the window
    """
    users = [user(f"U{i}", "2025-01-01 10:00:00", birth_year=1990 if i % 2 else 2000)
             for i in range(1, 10)]
    sent = "2025-03-01 10:05:00"
    members = [
        _member("C1", "U1", "treatment", sent, True, "2025-03-01 11:00:00"),
        _member("C1", "U2", "treatment", sent, True),
        _member("C1", "U3", "treatment", sent, False),
        _member("C1", "U4", "treatment", sent, True, "2025-03-01 12:00:00"),
        _member("C1", "U7", "treatment", sent, True),
        _member("C1", "U5", "control"),
        _member("C1", "U6", "control"),
        _member("C1", "U8", "control"),
        _member("C2", "U1", "treatment", sent, True),
        _member("C2", "U2", "treatment", sent, True),
    ]
    events = [event("register", "2025-01-01 10:00:00", f"U{i}", f"A{i}") for i in range(1, 10)]
    events += [
        event("app_open", "2025-02-10 08:00:00", "U1", "A1"),  # pre-campaign activity
        event("app_open", "2025-02-11 08:00:00", "U1", "A1"),
        event("app_open", "2025-02-20 08:00:00", "U5", "A5"),
        event("link_click", "2025-03-01 11:00:00", "U1", "A1", utm_campaign="C1"),
        event("app_open", "2025-03-01 12:00:00", "U1", "A1"),
        event("bind_card", "2025-03-02 09:00:00", "U1", "A1"),
        event("bind_card", "2025-03-03 09:00:00", "U2", "A2"),
        event("bind_card", "2025-03-08 10:05:00", "U7", "A7"),
        event("bind_card", "2025-03-02 09:00:00", "U5", "A5"),
        event("bind_card", "2025-03-09 09:00:00", "U6", "A6"),
        event("bind_card", "2025-03-01 09:00:00", "U8", "A8"),
        # a prospect reached through the campaign's link: touch, install, register, bind card
        event("link_click", "2025-03-02 10:00:00", None, "A99", utm_campaign="C1"),
        event("app_install", "2025-03-02 10:10:00", None, "A99"),
        event("register", "2025-03-02 10:20:00", "U9", "A99"),
        event("bind_card", "2025-03-02 11:00:00", "U9", "A99"),
        # a tagged click after the window: not counted
        event("link_click", "2025-03-20 10:00:00", None, "A98", utm_campaign="C1"),
    ]
    # U9 registered through the link: fix its sign-up time
    users[8]["registered_at"] = "2025-03-02 10:20:00"
    events = [e for e in events if not (e["event_name"] == "register" and e["user_id"] == "U9"
                                        and e["anonymous_id"] == "A9")]
    return dict(
        users=users,
        events=events,
        transactions=[txn("T1", "U1", "2025-03-03 09:00:00", 1000.0, 30, revenue=2.0),
                      txn("T0", "U1", "2025-02-01 09:00:00", 500.0, 90, revenue=1.0)],
        campaigns=[_campaign_row("C1"), _campaign_row("C2"), _campaign_row("C3")],
        costs=[{"date": "2025-02-01", "utm_source": "baidu", "utm_medium": "cpc", "utm_campaign": "x", "spend": 100.0},
               {"date": "2025-02-02", "utm_source": "Baidu", "utm_medium": "cpc", "utm_campaign": "y", "spend": 20.0},
               {"date": "2025-02-01", "utm_source": "toutiao", "utm_medium": "feed", "utm_campaign": "x", "spend": 50.0},
               {"date": "2025-04-02", "utm_source": "baidu", "utm_medium": "cpc", "utm_campaign": "x", "spend": 999.0}],
        campaign_members=members,
        config={"name": "camp", "analysis_date": "2025-03-31"},
    )


@pytest.fixture
def hand(tmp_path: Path):
    """The hand-built dataset of `hand_tables` (C1 with a holdout, C2 without, C3 empty)."""
    return open_dataset(write_dataset(tmp_path / "camp", **hand_tables()))


# --------------------------------------------------------------------------------------------
# the hand-built campaign


def test_campaign_card_and_bad_parameters(hand):
    c = cr.campaign(hand, "C1")
    assert (c.treatment, c.control, c.members, c.window_days, c.goal) == (5, 3, 8, 7, "bind_card")
    assert c.max_send_delay_minutes == pytest.approx(5.0)
    assert c.window_complete
    assert "C1" in c.card().value.iloc[0]
    with pytest.raises(ValueError, match="campaign_id.*allowed"):
        cr.campaign(hand, "NOPE")
    with pytest.raises(ValueError, match="goal"):
        cr.campaign(hand, "C1", goal="clicks")
    with pytest.raises(ValueError, match="window_days"):
        cr.campaign(hand, "C1", window_days=0)
    # the chapter's name for it (response_days) and the campaign are named, with the value given
    with pytest.raises(ValueError, match=r"response_days \(window_days\): -5 for campaign C1"):
        cr.campaign(hand, "C1", window_days=-5)


#: a Chinese word (or closing bracket) glossed in English in brackets, as in 活动 (campaign)
GLOSS = re.compile(r"[\u4e00-\u9fff）] ?\([A-Za-z][A-Za-z ,\-/:]*\)")


def test_what_readers_see_carries_no_english_gloss(hand):
    c = cr.campaign(hand, "C1")
    card = c.card()
    assert card.item.tolist() == ["活动", "渠道", "开始时间", "目标", "响应窗口", "目标人群规则", "名单人数",
                                  "实验组 / 对照组", "对照组占比", "单条发送成本", "单次奖励成本",
                                  "最晚发送延迟", "窗口已结束"]
    assert card.set_index("item").value["目标"] == "绑卡"  # the goal's label, not its code
    e = cr.effect(hand, c)
    business = cr.business_table(e).measure.tolist()
    assert business[:4] == ["实验组响应率", "对照组响应率", "绝对增量", "相对增量"]
    checks = cr.checks_table(stats.srm(5, 3, 0.4), cr.power_check(e)).check.tolist()
    assert checks[3:5] == ["样本比例卡方检验 p 值", "最小可检测增量（80% 检验力）"]
    assert cr.checks_table(stats.srm(5, 3, 0.4), cr.power_check(e, power=0.9)).check[4] == "最小可检测增量（90% 检验力）"
    diagnosis = [label for _key, label, _t, _r in cr.DIAGNOSIS]
    notes = cr.history(hand).note.tolist()
    shown = [*card.item, *card.value, *business, *checks, *diagnosis, *notes,
             *cr.GROUP_LABELS.values(), *cr.ESTIMATE_LABELS.values(), *cr.VERDICTS.values(),
             *cr.SEGMENT_VERDICTS.values(), *cr.POWER_WARNINGS.values(), *stats.SRM_VERDICTS.values(),
             *cr.PLAN_BASES.values(), *cr.BREAKDOWN_LABELS.values(), cr.TOTAL_BATCH, cr.HOLDOUT_FIX,
             cr.CAMPAIGN_FIX, *cr.rates_table(e).label]
    assert [text for text in shown if GLOSS.search(str(text))] == []
    assert "无名单" in notes  # C3
    # labels that code and figures map by stay unique
    for labels in (card.item, business, checks, diagnosis, list(cr.GROUP_LABELS.values()),
                   list(cr.ESTIMATE_LABELS.values()), list(cr.VERDICTS.values()),
                   list(cr.PLAN_BASES.values()), list(cr.BREAKDOWN_LABELS.values())):
        assert len(set(labels)) == len(list(labels))
    # the notes of missing data name the analyst's column in Chinese words, never as a gloss
    for question in (lambda: cr.require_holdout(cr.campaign(hand, "C2")),
                     lambda: cr.require_members(cr.campaign(hand, "C3"))):
        with pytest.raises(NotAvailable) as err:
            question()
        assert not GLOSS.search(str(err.value)), str(err.value)


def test_breakdown_and_check_names():
    assert [cr.breakdown_label(by) for by in (*cr.SEGMENT_COLUMNS, cr.RFM_BREAKDOWN)] == [
        "资产分层", "注册渠道", "年龄段", "城市等级", "性别", "地区", "设备", "RFM 分群"]
    assert cr.breakdown_label("favourite_colour") == "favourite_colour"
    assert [cr.check_name(label) for _k, label, _t, _r in cr.DIAGNOSIS] == [
        "送达率", "点击率", "点击后达成率", "响应率"]
    assert cr.check_name("送达率") == "送达率"


def test_funnel_counts_by_hand(hand):
    f = cr.campaign_funnel(hand, cr.campaign(hand, "C1")).set_index("step")
    # path: sent 5 -> delivered 4 (not U3) -> clicked 2 (U1, U4) -> opened 1 (U1) -> goal 1 (U1)
    assert f.users.to_dict() == {"sent": 5, "delivered": 4, "clicked": 2, "opened": 1, "goal": 1}
    # reached the goal any way: U1, U2 (natural) and U7 (at the window's closing edge)
    assert f.reached["goal"] == 3
    # opened: U1's app_open plus the responders U2 and U7, who used the app to bind
    assert f.reached["opened"] == 3
    assert "registered" not in f.index and "bound_card" not in f.index  # goal is the card
    assert f.rate_from_previous["clicked"] == pytest.approx(2 / 4)
    assert f.batch.unique().tolist() == ["2025-03-01"]


def test_effect_by_hand(hand):
    c = cr.campaign(hand, "C1")
    e = cr.effect(hand, c)
    # treatment 3 of 5 (U1, U2, U7); holdout 1 of 3 (U5; U6 too late, U8 too early)
    assert (e["responders_t"], e["users_t"], e["responders_c"], e["users_c"]) == (3, 5, 1, 3)
    assert e["uplift"] == pytest.approx(3 / 5 - 1 / 3)
    assert e["inc_responders"] == pytest.approx((3 / 5 - 1 / 3) * 5)
    # cost: 5 sends x 0.1 + 3 rewards x 10 = 30.5
    assert e["cost"] == pytest.approx(30.5)
    # amount: U1 invested 1000 in the window -> 200 per treated member, 0 in the holdout;
    # revenue 2.0 -> 0.4 per member -> incremental 2.0 -> ROI (2 - 30.5) / 30.5
    assert e["amount_t"] == pytest.approx(200.0) and e["amount_c"] == 0.0
    assert e["inc_revenue"] == pytest.approx(2.0)
    assert e["roi"] == pytest.approx((2.0 - 30.5) / 30.5)
    assert e["cost_per_incremental"] == pytest.approx(30.5 / ((3 / 5 - 1 / 3) * 5))
    table = cr.effect_table(c, e)
    assert table.columns.tolist() == ["campaign_id", "group", "users", "responders", "rate",
                                      "uplift", "ci_low", "ci_high", "p_value"]
    assert table.users.tolist() == [5, 3]
    # pre-campaign active days (90 days before start, from 2024-12-01): everyone's sign-up day
    # (2025-01-01); U1 also 2 app days and an investment day -> 4; U5 one app day -> 2;
    # U8's card bound at 09:00 on the start day, before the campaign -> 2
    bal = cr.balance(hand, c).set_index("covariate")
    assert bal.mean_t["pre_active_days"] == pytest.approx((4 + 1 + 1 + 1 + 1) / 5)
    assert bal.mean_c["pre_active_days"] == pytest.approx((2 + 1 + 2) / 3)
    assert bal.mean_t["pre_invest_amount"] == pytest.approx(100.0)
    # too few members: the power check says so
    assert cr.power_check(e)["status"] == "too_small"
    assert "不足" in cr.power_check(e)["warning"]


def test_segments_and_next_round(hand):
    c = cr.campaign(hand, "C1")
    by_age = cr.segment_uplift(hand, c, "age_band").set_index("segment")
    # odd users born 1990 (35 on the analysis date) -> 35-44, even ones born 2000 -> 25-34
    assert by_age.users_t.to_dict() == {"25-34": 2, "35-44": 3}
    assert set(by_age.verdict) == {"too_small"}
    # a segmentation passed in (as the RFM chapter will); members it lacks are 未分群
    segs = ibis.memtable({"user_id": ["U1", "U2", "U5"], "segment": ["重要价值", "重要价值", "一般发展"]})
    s = cr.segment_uplift(hand, c, segments=segs).set_index("segment")
    assert s.users_t.to_dict() == {"一般发展": 0, "重要价值": 2, "未分群": 3}
    assert s.users_c.to_dict() == {"一般发展": 1, "重要价值": 0, "未分群": 2}
    with pytest.raises(ValueError, match="by"):
        cr.segment_uplift(hand, c, "favourite_colour")
    # a segment forced significant (FORCED): the targets are its non-responders
    plan, targets = cr.next_round(hand, c, FORCED, "age_band", budget=100.0)
    assert plan.segment.tolist() == ["35-44"] and plan.basis.tolist() == ["分群显著"]
    ids = targets.to_pandas().user_id.tolist()
    # 35-44 = odd ids: treatment U1, U3, U7 and holdout U5; all but U3 responded
    assert ids == ["U3"]
    assert plan.targets.iloc[0] == 1
    # the plan's uplift is the shrunk one (FORCED_SHRUNK), the segment's own is kept beside it
    assert plan.segment_uplift.iloc[0] == pytest.approx(0.4)
    assert plan.uplift.iloc[0] == pytest.approx(FORCED_SHRUNK, abs=1e-6)
    assert plan.expected_incremental.iloc[0] == pytest.approx(FORCED_SHRUNK, abs=1e-6)
    shrink = cr.shrunk_uplift(FORCED).set_index("segment")
    assert plan.ci_low.iloc[0] == pytest.approx(shrink.shrunk_low["35-44"])
    assert plan.ci_high.iloc[0] == pytest.approx(shrink.shrunk_high["35-44"])
    assert plan.shrink_weight.iloc[0] == pytest.approx(FORCED_WEIGHT, abs=1e-6)
    # over budget (1 target x (0.1 + 0.6 x 10) = 6.1 yuan > 1): in the plan, not in the list
    plan_b, targets_b = cr.next_round(hand, c, FORCED, "age_band", budget=1.0)
    assert not plan_b.within_budget.iloc[0]
    assert targets_b.count().to_pyarrow().as_py() == 0
    # no segment significant but the campaign overall: every segment not significantly
    # negative, each at its shrunk uplift, and only those whose shrunk uplift is positive.
    # Both age bands have a group without responders (25-34's holdout, 0 of 2) or with only
    # responders (35-44's, 1 of 1); with Agresti-Caffo variances they still count:
    # 25-34 1/2 vs 0/2: d = 0.5, p~ = 2/4 and 1/4, v = 0.25/4 + 0.1875/4 = 0.109375;
    # 35-44 2/3 vs 1/1: d = -1/3, p~ = 3/5 and 2/3, v = 0.24/5 + (2/9)/3 = 0.048 + 0.074074
    #   = 0.122074; pooled m = 3/5 - 1/3 = 4/15 (the campaign's, test_effect_by_hand).
    # w0 = 9.142857, 8.191748 (sum 17.334605); d0 = (4.571429 - 2.730583) / 17.334605 = 0.106195;
    # Q = 9.142857 x 0.393805^2 + 8.191748 x 0.439528^2 = 1.417897 + 1.582523 = 3.000420;
    # C = 17.334605 - (83.591837 + 67.104728) / 17.334605 = 8.641210;
    # tau2 = (3.000420 - 1) / 8.641210 = 0.231498; w = 0.231498 / (0.231498 + 0.109375) = 0.679132
    # and 0.231498 / (0.231498 + 0.122074) = 0.654740; shrunk 25-34 = 0.679132 x 0.5 + 0.320868
    # x 4/15 = 0.425131, 35-44 = 0.654740 x (-1/3) + 0.345260 x 4/15 = -0.126178: not targeted.
    # 25-34's non-responders are U4, U6, U8
    overall = {"available": True, "uplift": 0.1, "ci_low": 0.01, "rate_t": 0.5}
    plan1, t1 = cr.next_round(hand, c, by_age.reset_index(), "age_band", overall=overall)
    assert set(plan1.basis) == {"整体显著，按分群收缩"}
    assert plan1.segment.tolist() == ["25-34"]
    assert sorted(t1.to_pandas().user_id) == ["U4", "U6", "U8"]
    assert plan1.segment_uplift.tolist() == pytest.approx([0.5])
    assert plan1.uplift.tolist() == pytest.approx([0.425131], abs=1e-6)
    assert plan1.shrink_weight.tolist() == pytest.approx([0.679132], abs=1e-6)
    assert plan1.expected_incremental.sum() == pytest.approx(3 * 0.425131, abs=1e-5)
    assert plan1.expected_cost.tolist() == pytest.approx([3 * (0.1 + 1 / 2 * 10)])
    # segments that differ no more than sampling noise (EVEN: tau2 = 0): both at the pooled
    # uplift 0.1, so the best value per yuan goes first, at each segment's own response rate,
    # not the segment's own (noisy) uplift: 35-44 0.1 / (0.1 + 0.28 x 10) = 0.0345 before
    # 25-34 0.1 / (0.1 + 0.32 x 10) = 0.0303. The non-responders are U3 (35-44) and U4, U6, U8
    plan3, t3 = cr.next_round(hand, c, EVEN, "age_band", overall=overall)
    assert plan3.segment.tolist() == ["35-44", "25-34"]
    assert plan3.uplift.tolist() == pytest.approx([0.1, 0.1]) and plan3.shrink_weight.tolist() == [0.0, 0.0]
    assert plan3.expected_cost.tolist() == pytest.approx([0.1 + 2.8, 3 * (0.1 + 3.2)])
    assert sorted(t3.to_pandas().user_id) == ["U3", "U4", "U6", "U8"]
    # a segment whose shrunk uplift is not positive is not targeted, even when eligible:
    # pooled 60/200 - 60/200 = 0, 25-34 shrunk above it and 35-44 below
    mixed = pd.DataFrame({"segment": ["35-44", "25-34"], "verdict": ["not_significant"] * 2,
                          "users_t": [100, 100], "responders_t": [10, 50], "users_c": [100, 100],
                          "responders_c": [40, 20], "uplift": [-0.3, 0.3], "rate_t": [0.1, 0.5]})
    plan2, t2 = cr.next_round(hand, c, mixed, "age_band", overall=overall)
    assert plan2.segment.tolist() == ["25-34"] and 0 < plan2.uplift.iloc[0] < 0.3
    assert sorted(t2.to_pandas().user_id) == ["U4", "U6", "U8"]
    # nothing significant and no overall effect: empty plan and list
    plan0, targets0 = cr.next_round(hand, c, by_age.reset_index(), "age_band")
    assert plan0.empty and targets0.count().to_pyarrow().as_py() == 0


#: Two age bands forced into a next round (their counts are not the hand-built data's): 35-44
#: significant with 60 of 100 against 20 of 100, 25-34 not with 20 of 100 against 20 of 100.
FORCED = pd.DataFrame({"segment": ["35-44", "25-34"], "verdict": ["positive", "not_significant"],
                       "users_t": [100, 100], "responders_t": [60, 20], "users_c": [100, 100],
                       "responders_c": [20, 20], "uplift": [0.4, 0.0], "ci_low": [0.27, -0.11],
                       "rate_t": [0.6, 0.2]})
#: 35-44's shrunk uplift, by hand (Agresti-Caffo variances, p~ = (x + 1) / (n + 2)):
#: d = 0.6 - 0.2 = 0.4, p~ = 61/102 = 0.598039 and 21/102 = 0.205882,
#: v = 0.598039 x 0.401961 / 102 + 0.205882 x 0.794118 / 102 = 0.0023567 + 0.0016029 = 0.0039596;
#: 25-34 d = 0, v = 2 x 0.0016029 = 0.0032058; pooled m = 80/200 - 40/200 = 0.2.
#: DerSimonian-Laird: w0 = 252.548, 311.937 (sum 564.485), d0 = 101.019 / 564.485 = 0.178958,
#: Q = 252.548 x 0.221042^2 + 311.937 x 0.178958^2 = 12.33935 + 9.99012 = 22.32947,
#: C = 564.485 - (63780.65 + 97304.38) / 564.485 = 279.1184, tau2 = (22.32947 - 1) / C = 0.0764173;
#: w = 0.0764173 / (0.0764173 + 0.0039596) = 0.950737; shrunk = 0.950737 x 0.4 + 0.049263 x 0.2
#: = 0.390147
FORCED_SHRUNK = 0.390147
FORCED_WEIGHT = 0.950737
#: Two age bands whose uplifts differ no more than sampling noise (the counts of
#: test_shrunk_uplift_without_spread_is_the_pooled_value): tau2 = 0, both at the pooled 0.1.
EVEN = pd.DataFrame({"segment": ["25-34", "35-44"], "verdict": ["not_significant"] * 2,
                     "users_t": [100, 100], "responders_t": [32, 28], "users_c": [100, 100],
                     "responders_c": [20, 20], "uplift": [0.12, 0.08], "rate_t": [0.32, 0.28]})


def test_shrunk_uplift_by_hand():
    """Three segments worked by hand, and tau2 against statsmodels' DerSimonian-Laird."""
    from statsmodels.stats.meta_analysis import combine_effects

    # Agresti-Caffo variances: p~ = (x + 1) / (n + 2), v = sum of p~ (1 - p~) / (n + 2); d raw
    # A 30/100 vs 10/100: d = 0.2, p~ = 31/102 = 0.303922, 11/102 = 0.107843,
    #   v = 0.303922 x 0.696078 / 102 + 0.107843 x 0.892157 / 102 = 0.0020741 + 0.0009433 = 0.0030173
    # B 20/100 vs 20/100: d = 0, p~ = 21/102 = 0.205882, v = 2 x 0.205882 x 0.794118 / 102
    #   = 2 x 0.0016029 = 0.0032058
    # C 124/400 vs 80/400: d = 0.11, p~ = 125/402 = 0.310945, 81/402 = 0.201493,
    #   v = 0.310945 x 0.689055 / 402 + 0.201493 x 0.798507 / 402 = 0.00053298 + 0.00040023
    #   = 0.00093321
    # pooled (Wald, unchanged): 174/600 - 110/600 = 64/600 = 0.106667,
    #   V = (0.29 x 0.71 + 0.183333 x 0.816667) / 600 = 0.355622 / 600 = 0.00059270
    # w0 = 331.4204, 311.9365, 1071.5668 (sum 1714.9237);
    # d0 = (66.2841 + 0 + 117.8724) / 1714.9237 = 184.1564 / 1714.9237 = 0.107385
    # Q = 331.4204 x 0.092615^2 + 311.9365 x 0.107385^2 + 1071.5668 x 0.002615^2
    #   = 2.842794 + 3.597082 + 0.007330 = 6.447206
    # C = 1714.9237 - (109839.46 + 97304.38 + 1148255.38) / 1714.9237 = 1714.9237 - 790.3554 = 924.5682
    # tau2 = (6.447206 - 2) / 924.5682 = 0.0048100
    # w = tau2 / (tau2 + v): A 0.0048100 / 0.0078273 = 0.614516, B 0.600068, C 0.837511
    # shrunk = w d + (1 - w) m: A 0.614516 x 0.2 + 0.385484 x 0.106667 = 0.164022
    #                           B 0.399932 x 0.106667 = 0.042659; C 0.109458
    # A's interval: 1.959964 x sqrt(0.614516 x 0.0030173 + 0.385484^2 x 0.00059270) = 0.086378
    t = pd.DataFrame({"segment": ["A", "B", "C"], "users_t": [100, 100, 400],
                      "responders_t": [30, 20, 124], "users_c": [100, 100, 400],
                      "responders_c": [10, 20, 80]}, index=[7, 8, 9])
    s = cr.shrunk_uplift(t)
    assert s.index.tolist() == [7, 8, 9] and s.segment.tolist() == ["A", "B", "C"]
    assert s.uplift.tolist() == pytest.approx([0.2, 0.0, 0.11])
    assert s.variance.tolist() == pytest.approx([0.0030173, 0.0032058, 0.00093321], abs=1e-7)
    assert s.pooled.tolist() == pytest.approx([64 / 600] * 3)
    assert s.tau2.iloc[0] == pytest.approx(0.0048100, abs=1e-7)
    assert s.weight.tolist() == pytest.approx([0.614516, 0.600068, 0.837511], abs=1e-6)
    assert s.shrunk.tolist() == pytest.approx([0.164022, 0.042659, 0.109458], abs=1e-6)
    assert s.shrunk_low.iloc[0] == pytest.approx(0.164022 - 0.086378, abs=1e-6)
    assert s.shrunk_high.iloc[0] == pytest.approx(0.164022 + 0.086378, abs=1e-6)
    # the raw ones differ and tau2 > 0: so do the shrunk ones, each between its own and the pooled
    assert s.shrunk.nunique() == 3
    assert ((s.shrunk - s.uplift) * (s.shrunk - s.pooled) <= 0).all()
    # an independent method: statsmodels' one-step DerSimonian-Laird, on the same adjusted
    # variances computed here from the counts
    a_t, a_c = (t.responders_t + 1) / (t.users_t + 2), (t.responders_c + 1) / (t.users_c + 2)
    v = a_t * (1 - a_t) / (t.users_t + 2) + a_c * (1 - a_c) / (t.users_c + 2)
    assert s.variance.tolist() == pytest.approx(v.tolist())
    sm = combine_effects(s.uplift.to_numpy(), v.to_numpy(), method_re="dl")
    assert s.tau2.iloc[0] == pytest.approx(sm.tau2)
    # a narrower level, a narrower interval around the same value
    s90 = cr.shrunk_uplift(t, alpha=0.1)
    assert s90.shrunk.tolist() == pytest.approx(s.shrunk.tolist())
    assert (s90.shrunk_high - s90.shrunk_low < s.shrunk_high - s.shrunk_low).all()


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # statsmodels' sd of a tau2 < 0
def test_shrunk_uplift_without_spread_is_the_pooled_value():
    # Agresti-Caffo: A 32/100 vs 20/100 (d 0.12, p~ 33/102 and 21/102, v = 0.323529 x 0.676471
    # / 102 + 0.205882 x 0.794118 / 102 = 0.0021457 + 0.0016029 = 0.0037486), B 28/100 vs 20/100
    # (d 0.08, p~ 29/102, v = 0.284314 x 0.715686 / 102 + 0.0016029 = 0.0019949 + 0.0016029
    # = 0.0035978): w0 = 266.769, 277.949, d0 = (32.0123 + 22.2359) / 544.718 = 0.099590,
    # Q = 266.769 x 0.020410^2 + 277.949 x 0.019590^2 = 0.1111 + 0.1067 = 0.2178 < k - 1 = 1,
    # so tau2 = max(0, negative) = 0: the difference is sampling noise, and both are at the
    # pooled 60/200 - 40/200 = 0.1, with the pooled (Wald) interval
    from statsmodels.stats.meta_analysis import combine_effects

    t = pd.DataFrame({"segment": ["A", "B"], "users_t": [100, 100], "responders_t": [32, 28],
                      "users_c": [100, 100], "responders_c": [20, 20]})
    s = cr.shrunk_uplift(t)
    assert s.tau2.iloc[0] == 0.0 and s.weight.tolist() == [0.0, 0.0]
    assert s.shrunk.tolist() == pytest.approx([0.1, 0.1])
    half = 1.959964 * math.sqrt((0.3 * 0.7 + 0.2 * 0.8) / 200)
    assert s.shrunk_low.tolist() == pytest.approx([0.1 - half] * 2, abs=1e-6)
    # statsmodels leaves its estimate negative; truncated it is the same 0
    sm = combine_effects(s.uplift.to_numpy(), s.variance.to_numpy(), method_re="dl")
    assert sm.tau2 < 0 and max(0.0, sm.tau2) == s.tau2.iloc[0]


def test_shrunk_uplift_a_large_segment_moves_less():
    # the same own uplift (0.2) in 20 + 20 and in 1000 + 1000 members; a third segment at 0
    # makes the spread (tau2) positive. The pooled uplift is 204/2020 = 0.101
    t = pd.DataFrame({"segment": ["small", "large", "zero"], "users_t": [20, 1000, 1000],
                      "responders_t": [6, 300, 200], "users_c": [20, 1000, 1000],
                      "responders_c": [2, 100, 200]})
    s = cr.shrunk_uplift(t).set_index("segment")
    assert s.tau2.iloc[0] > 0 and s.uplift["small"] == pytest.approx(s.uplift["large"])
    assert s.pooled.iloc[0] == pytest.approx((506 - 302) / 2020)
    assert s.weight["large"] > s.weight["small"]
    assert abs(s.shrunk["large"] - 0.2) < abs(s.shrunk["small"] - 0.2)
    assert s.shrunk["small"] < s.shrunk["large"] < 0.2


def test_shrunk_uplift_segments_without_a_variance():
    # no responders in a holdout, only responders in both groups: with the Agresti-Caffo
    # variance these have one and are shrunk by their size like any other segment; only an
    # empty group leaves a segment without a variance (weight 0, at the pooled uplift). A single
    # segment or none with a variance, or no holdout at all: never an error
    t = pd.DataFrame({"segment": ["A", "B", "no holdout responder", "all responded", "empty"],
                      "users_t": [100, 100, 30, 10, 0], "responders_t": [30, 20, 6, 10, 0],
                      "users_c": [100, 100, 10, 5, 4], "responders_c": [10, 20, 0, 5, 1]})
    s = cr.shrunk_uplift(t).set_index("segment")
    # A v = 0.0030173, B v = 0.0032058 (test_shrunk_uplift_by_hand);
    # no holdout responder 6/30 vs 0/10: d = 0.2, p~ = 7/32 = 0.21875 and 1/12,
    #   v = 0.21875 x 0.78125 / 32 + (1/12) x (11/12) / 12 = 0.0053406 + 0.0063657 = 0.0117063;
    # all responded 10/10 vs 5/5: d = 0, p~ = 11/12 and 6/7,
    #   v = (11/12) x (1/12) / 12 + (6/7) x (1/7) / 7 = 0.0063657 + 0.0174927 = 0.0238585;
    # empty 0/0 vs 1/4: no d, no v.
    # pooled m = 66/240 - 36/219 = 0.110616 (the empty segment's holdout member counts).
    # w0 = 331.4204, 311.9365, 85.4240, 41.9139 (sum 770.6947);
    # d0 = (66.2841 + 0 + 17.0848 + 0) / 770.6947 = 83.3689 / 770.6947 = 0.108174;
    # Q = 331.4204 x 0.091826^2 + 311.9365 x 0.108174^2 + 85.4240 x 0.091826^2
    #   + 41.9139 x 0.108174^2 = 2.794562 + 3.650138 + 0.720301 + 0.490457 = 7.655458;
    # C = 770.6947 - (109839.46 + 97304.38 + 7297.25 + 1756.77) / 770.6947 = 770.6947 - 280.5234
    #   = 490.1713; tau2 = (7.655458 - 3) / 490.1713 = 0.0094976;
    # w = 0.0094976 / (0.0094976 + v): A 0.758903, B 0.747644, no holdout responder 0.447918,
    #   all responded 0.284734; shrunk = w d + (1 - w) m: A 0.758903 x 0.2 + 0.241097 x 0.110616
    #   = 0.178450, no holdout responder 0.447918 x 0.2 + 0.552082 x 0.110616 = 0.150653,
    #   all responded 0.715266 x 0.110616 = 0.079120
    assert s.variance[["no holdout responder", "all responded"]].tolist() == pytest.approx(
        [0.0117063, 0.0238585], abs=1e-7)
    assert s.tau2.iloc[0] == pytest.approx(0.0094976, abs=1e-7)
    assert s.pooled.iloc[0] == pytest.approx(66 / 240 - 36 / 219)
    assert s.weight[["A", "no holdout responder", "all responded"]].tolist() == pytest.approx(
        [0.758903, 0.447918, 0.284734], abs=1e-6)
    assert s.shrunk[["A", "no holdout responder", "all responded"]].tolist() == pytest.approx(
        [0.178450, 0.150653, 0.079120], abs=1e-6)
    assert math.isnan(s.variance["empty"]) and s.weight["empty"] == 0
    assert math.isnan(s.uplift["empty"]) and s.shrunk["empty"] == pytest.approx(66 / 240 - 36 / 219)
    # one segment with a variance (A beside the empty one): no spread can be estimated, tau2 = 0
    one = cr.shrunk_uplift(t.iloc[[0, 4]])
    assert one.tau2.iloc[0] == 0.0 and one.shrunk.tolist() == pytest.approx([one.pooled.iloc[0]] * 2)
    # no segment with a variance: the empty one and one without a holdout, both at the pooled
    # 3/5 - 1/4 = 0.35
    no_var = pd.concat([t.iloc[[4]], pd.DataFrame({"segment": ["no holdout"], "users_t": [5],
                                                   "responders_t": [3], "users_c": [0],
                                                   "responders_c": [0]})])
    nv = cr.shrunk_uplift(no_var)
    assert nv.variance.isna().all() and nv.weight.eq(0).all()
    assert nv.shrunk.tolist() == pytest.approx([0.35, 0.35])
    # a table without a holdout: no pooled uplift either
    none = cr.shrunk_uplift(t.assign(users_c=0, responders_c=0))
    assert none.shrunk.isna().all() and none.weight.eq(0).all()


def test_shrunk_uplift_no_jump_at_the_first_holdout_responder():
    """A segment whose holdout has no responders gets a weight strictly between 0 and 1 when
    tau2 > 0, and its first holdout responder changes that weight a little, where the Wald
    variance jumped from weight 0 (undefined) to about 0.74."""
    from statsmodels.stats.meta_analysis import combine_effects

    def table(x):
        # test_shrunk_uplift_by_hand's A, B, C and D 30/200 vs x/100
        return pd.DataFrame({"segment": ["A", "B", "C", "D"], "users_t": [100, 100, 400, 200],
                             "responders_t": [30, 20, 124, 30], "users_c": [100, 100, 400, 100],
                             "responders_c": [10, 20, 80, x]})

    # x = 0, by hand: D d = 0.15, p~ = 31/202 = 0.153465 and 1/102,
    #   v = 0.153465 x 0.846535 / 202 + (1/102) x (101/102) / 102 = 0.00064314 + 0.00009517
    #   = 0.00073831; A, B, C as in test_shrunk_uplift_by_hand.
    # w0 = 331.4204, 311.9365, 1071.5668, 1354.4412 (sum 3069.3649);
    # d0 = (66.2841 + 0 + 117.8724 + 203.1662) / 3069.3649 = 387.3226 / 3069.3649 = 0.126190;
    # Q = 1.805559 + 4.967237 + 0.280869 + 0.767866 = 7.821531;
    # C = 3069.3649 - (109839.46 + 97304.38 + 1148255.38 + 1834511.00) / 3069.3649 = 2030.0912;
    # tau2 = (7.821531 - 3) / 2030.0912 = 0.0023750; D's w = 0.0023750 / (0.0023750 + 0.00073831)
    # = 0.762856; pooled m = 204/800 - 110/700 = 0.097857; shrunk = 0.762856 x 0.15 + 0.237144 x
    # 0.097857 = 0.137635, strictly between its own 0.15 and the pooled value.
    s0 = cr.shrunk_uplift(table(0)).set_index("segment")
    assert s0.tau2.iloc[0] == pytest.approx(0.0023750, abs=1e-7)
    assert s0.weight["D"] == pytest.approx(0.762856, abs=1e-6) and 0 < s0.weight["D"] < 1
    assert s0.pooled["D"] < s0.shrunk["D"] < s0.uplift["D"]
    assert s0.shrunk["D"] == pytest.approx(0.137635, abs=1e-6)
    # x = 1 and 2: D's weight 0.720666 and 0.684098 (tau2 0.0021455 and 0.0019988): steps of
    # 0.042 and 0.037, no larger at the first responder than at the second
    w = [cr.shrunk_uplift(table(x)).weight.iloc[3] for x in range(3)]
    assert w[1:] == pytest.approx([0.720666, 0.684098], abs=1e-6)
    assert abs(w[1] - w[0]) < 0.05 and abs(w[2] - w[1]) < 0.05
    # under Wald the same step was 0 -> 0.740496 (D's Wald v = 0.15 x 0.85 / 200 + 0.01 x 0.99
    # / 100 = 0.0007365, tau2 = 0.0021016 from statsmodels on the Wald variances)
    t1 = table(1)
    p_t, p_c = t1.responders_t / t1.users_t, t1.responders_c / t1.users_c
    v_wald = (p_t * (1 - p_t) / t1.users_t + p_c * (1 - p_c) / t1.users_c).to_numpy()
    tau2_wald = max(0.0, combine_effects((p_t - p_c).to_numpy(), v_wald, method_re="dl").tau2)
    wald_jump = tau2_wald / (tau2_wald + v_wald[3]) - 0.0
    assert wald_jump == pytest.approx(0.740496, abs=1e-6)
    assert abs(w[1] - w[0]) < wald_jump / 10


def test_plan_bases_are_chinese_only():
    # the readers' rule: English only in the glossary, never in a data value
    for label in [*cr.PLAN_BASES.values(), cr.NO_PLAN]:
        assert not re.search(r"[A-Za-z]", label), label


def test_utm_funnel_by_hand(hand):
    u = cr.utm_funnel(hand, cr.campaign(hand, "C1")).set_index("step")
    # tagged touches in the window: U1 (registered user, 03-01) and device A99 (03-02), which
    # then installs, registers as U9 and binds a card; the 03-20 click is after the window
    assert u.people.to_dict() == {"touch": 2, "app_install": 1, "register": 1, "bind_card": 1,
                                  "first_investment": 0}
    assert u.batch.iloc[-1] == cr.TOTAL_BATCH == "全部"


def test_no_holdout_and_empty_campaign(hand):
    c2 = cr.campaign(hand, "C2")
    assert not c2.has_holdout
    # the card and the campaign's own funnel still show: U1 (bind 03-02) and U2 (03-03) of the
    # two treated members responded
    assert cr.card_summary(c2, cr.campaigns(hand))["control"] == 0
    assert cr.funnel_summary(*(lambda f: (f, cr.diagnose(f)))(cr.campaign_funnel(hand, c2)))["reached_goal"] == 2
    # every question that compares with a holdout says it needs one (and why: no uplift)
    for question in (lambda: cr.effect(hand, c2), lambda: cr.cuped(hand, c2),
                     lambda: cr.balance(hand, c2), lambda: cr.segment_uplift(hand, c2),
                     lambda: cr.segment_uplifts(hand, c2, "age_band"),
                     lambda: uplift.uplift_model(hand, c2),
                     lambda: cr.next_round_plan(hand, c2, "age_band")):
        with pytest.raises(NotAvailable, match="对照组") as err:
            question()
        assert "无法估计增量" in err.value.missing and err.value.fix == cr.HOLDOUT_FIX
    e = cr._effect(hand, c2)  # the history's numbers: rates without an uplift
    assert not e["available"] and e["reason"] == cr.NO_HOLDOUT
    assert e["rate_t"] == pytest.approx(1.0)
    assert math.isnan(e["uplift"]) and math.isnan(e["roi"])
    assert cr.power_check(e)["status"] == "no_holdout"
    assert cr.power_check(e)["warning"] == cr.NO_HOLDOUT
    assert cr.verdict(e) == "no_holdout" and cr.verdict_label("no_holdout") == cr.NO_HOLDOUT
    # a campaign without members is reviewed as one: its card, and a note for everything else
    c3 = cr.campaign(hand, "C3")
    assert (c3.members, c3.treatment, c3.control) == (0, 0, 0)
    assert cr.card_summary(c3, cr.campaigns(hand))["members"] == 0
    for question in (lambda: cr.campaign_funnel(hand, c3), lambda: cr.effect(hand, c3)):
        with pytest.raises(NotAvailable, match="活动名单"):
            question()
    hist = cr.history(hand).set_index("campaign_id")
    assert hist.note["C3"].startswith("无名单") and hist.note["C2"] == cr.NO_HOLDOUT
    assert hist.users_t["C1"] == 5


def test_no_campaigns_table(tiny):
    # a dataset without the campaign tables: every question says what to add, none crashes
    ds = open_dataset(tiny)
    for question in (lambda: cr.campaigns(ds), lambda: cr.campaign(ds), lambda: cr.campaign(ds, "C1"),
                     lambda: cr.default_choice(ds), lambda: cr.history(ds)):
        with pytest.raises(NotAvailable, match="campaigns") as err:
            question()
        assert err.value.missing == "数据中没有 campaigns 和 campaign_members 表"
        assert err.value.fix == cr.CAMPAIGN_FIX


# --------------------------------------------------------------------------------------------
# the demo against its truth


@pytest.fixture(scope="module")
def demo():
    return open_dataset(DEMO_DATA), json.loads((DEMO_DATA / "truth.json").read_text())["campaigns"]


def test_demo_uplift_covers_truth(demo):
    ds, truth = demo
    assert set(truth) <= set(cr.campaigns(ds).campaign_id)
    for cid, t in truth.items():
        c = cr.campaign(ds, cid)
        assert (c.goal, c.window_days) == (t["goal"], t["window_days"])
        e = cr.effect(ds, c)
        assert (e["users_t"], e["users_c"]) == (t["treatment"], t["control"])
        assert e["ci_low"] <= t["true_uplift"] <= e["ci_high"], cid
        assert not stats.srm(e["users_t"], e["users_c"], t["holdout_share"])["mismatch"]
        cup = cr.cuped(ds, c).set_index("method")
        assert cup.loc["cuped", "ci_low"] <= t["true_uplift"] <= cup.loc["cuped", "ci_high"], cid


def test_demo_segment_uplift_against_truth(demo):
    ds, truth = demo
    covered = total = 0
    for cid, t in truth.items():
        seg = cr.segment_uplift(ds, cr.campaign(ds, cid), t["segment_column"]).set_index("segment")
        for name, s in t["segments"].items():
            r = seg.loc[name]
            assert r.users_t + r.users_c == s["members"]
            covered += bool(r.ci_low <= s["true_uplift"] <= r.ci_high)
            total += 1
    # 95% intervals: with 20 segments, fewer than 16 covering has probability < 2%
    assert total == 20 and covered >= 16


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # statsmodels' sd of a tau2 < 0
def test_demo_shrunk_uplift_against_the_overall_and_statsmodels(demo):
    """On every demo campaign and breakdown: the pooled uplift the segments are shrunk toward
    is the campaign's overall uplift (the segments split the members), every segment with both
    groups non-empty has the Agresti-Caffo variance (computed here from the counts), tau2 is
    statsmodels' DerSimonian-Laird on those variances truncated at 0, and each shrunk uplift
    lies between its own and the pooled one."""
    from statsmodels.stats.meta_analysis import combine_effects

    ds, truth = demo
    for cid, t in truth.items():
        c = cr.campaign(ds, cid)
        overall = cr.effect(ds, c)["uplift"]
        for by in (t["segment_column"], "age_band", "signup_channel"):
            seg = cr.segment_uplift(ds, c, by)
            s = cr.shrunk_uplift(seg)
            assert s.pooled.tolist() == pytest.approx([overall] * len(s)), (cid, by)
            ok = (seg.users_t > 0) & (seg.users_c > 0)
            assert s.variance.notna().tolist() == ok.tolist(), (cid, by)
            a_t = (seg.responders_t[ok] + 1) / (seg.users_t[ok] + 2)
            a_c = (seg.responders_c[ok] + 1) / (seg.users_c[ok] + 2)
            v = a_t * (1 - a_t) / (seg.users_t[ok] + 2) + a_c * (1 - a_c) / (seg.users_c[ok] + 2)
            assert s.variance[ok].tolist() == pytest.approx(v.tolist()), (cid, by)
            if ok.sum() >= 2:
                sm = combine_effects(s.uplift[ok].to_numpy(), v.to_numpy(), method_re="dl")
                assert s.tau2.iloc[0] == pytest.approx(max(0.0, sm.tau2)), (cid, by)
            own = s.uplift.fillna(s.pooled)
            assert ((s.shrunk - own) * (s.shrunk - s.pooled) <= 1e-12).all(), (cid, by)
            assert (s.shrunk_low <= s.shrunk).all() and (s.shrunk <= s.shrunk_high).all()


# --------------------------------------------------------------------------------------------
# the next stage's goal


def test_channel_spend(hand):
    # baidu 100 + Baidu 20 (the same channel after normalising); the 04-02 row is after the
    # analysis date (2025-03-31) and is left out; toutiao is the news-feed channel
    spend = planning.channel_spend(hand).set_index("channel").spend.to_dict()
    assert spend == {"信息流广告": 50.0, "百度搜索": 120.0}


def test_decompose_goal_by_hand():
    funnel_table = pd.DataFrame({
        "segment": ["A"] * 3 + ["B"] * 3 + ["C"] * 3,
        "step": ["ad_click", "register", "first_investment"] * 3,
        "users": [500, 100, 30, 400, 40, 10, 50, 5, 0],
        "rate_from_previous": [float("nan"), 0.2, 0.5, float("nan"), 0.1, 0.25, float("nan"), 0.1, 0.0],
    })
    rates = planning.channel_rates(funnel_table, pd.DataFrame({"channel": ["A"], "spend": [3000.0]}))
    assert rates.cost_per_investor_30d.tolist()[:2] == [100.0, 0.0]  # 3000 / 30; B has no spend
    plan = planning.decompose_goal(rates, 80).set_index("channel")
    # shares 30/40 and 10/40 -> A: 60 investors / 0.5 = 120 registrations / 0.2 = 600 clicks,
    # budget 60 x 100 = 6000; B: 20 / 0.25 = 80 / 0.1 = 800, budget 0; C has no investors
    assert plan.target_investors.to_dict() == pytest.approx({"A": 60, "B": 20, "合计": 80})
    assert plan.target_registrations.to_dict() == pytest.approx({"A": 120, "B": 80, "合计": 200})
    assert plan.target_clicks.to_dict() == pytest.approx({"A": 600, "B": 800, "合计": 1400})
    assert plan.budget.to_dict() == pytest.approx({"A": 6000, "B": 0, "合计": 6000})
    with pytest.raises(ValueError, match="target_investors"):
        planning.decompose_goal(rates, 0)
    with pytest.raises(ValueError, match="funnel_by_channel"):
        planning.channel_rates(funnel_table.drop(columns="segment"), pd.DataFrame(columns=["channel", "spend"]))


def test_demo_segment_ranking_at_the_extremes(demo):
    # where the true differences are large (the segments with the highest and the lowest true
    # uplift differ by 0.099 to 0.22 in every demo campaign), the estimates keep that order
    ds, truth = demo
    for cid, t in truth.items():
        seg = cr.segment_uplift(ds, cr.campaign(ds, cid), t["segment_column"]).set_index("segment")
        true = {k: v["true_uplift"] for k, v in t["segments"].items()}
        top, bottom = max(true, key=true.get), min(true, key=true.get)
        assert true[top] - true[bottom] >= 0.09
        assert seg.uplift[top] > seg.uplift[bottom], cid


# --------------------------------------------------------------------------------------------
# verdict vocabularies: codes computed from numbers, labels only for display


def test_every_verdict_code_has_a_label():
    for vocabulary, label in ((cr.VERDICTS, cr.verdict_label),
                              (cr.SEGMENT_VERDICTS, cr.segment_verdict_label)):
        for code, text in vocabulary.items():
            assert code.isascii() and text and label(code) == text
        with pytest.raises(ValueError, match="code"):
            label("显著")
    assert set(cr.VERDICTS) == {"positive", "negative", "not_significant", "no_holdout"}
    assert set(cr.SEGMENT_VERDICTS) == {"positive", "negative", "not_significant", "too_small"}
    assert set(cr.POWER_WARNINGS) == {"ok", "no_holdout", "too_small", "below_mde"}
    # the labels the book has always shown
    assert cr.SEGMENT_VERDICTS["positive"] == "正向显著"
    assert cr.SEGMENT_VERDICTS["too_small"] == "样本不足"


def test_effect_verdict_is_a_code_from_the_interval():
    # 60/200 against 20/200: uplift 0.2, its Newcombe interval is above 0 -> positive;
    # the mirror image -> negative; 22/200 against 20/200 -> not significant
    def eff(x_t, n_t, x_c, n_c):
        return {"available": True, **stats.two_proportion(x_t, n_t, x_c, n_c)}

    assert cr.verdict(eff(60, 200, 20, 200)) == "positive"
    assert cr.verdict(eff(20, 200, 60, 200)) == "negative"
    assert cr.verdict(eff(22, 200, 20, 200)) == "not_significant"
    assert cr.verdict({"available": False}) == "no_holdout"
    assert cr.verdict_label("positive") == "实验组响应率显著高于对照组，活动带来了真实增量"


def test_segment_verdict_is_a_code_from_the_numbers():
    # 40 and 40 members, Holm p 0.01 < 0.05: by the sign of the uplift; p 0.2: not significant;
    # 29 in the holdout (under MIN_CELL = 30): too small, whatever the p-value
    assert cr.segment_verdict(40, 40, 0.15, 0.01) == "positive"
    assert cr.segment_verdict(40, 40, -0.15, 0.01) == "negative"
    assert cr.segment_verdict(40, 40, 0.15, 0.2) == "not_significant"
    assert cr.segment_verdict(40, 40, 0.15, float("nan")) == "not_significant"
    assert cr.segment_verdict(40, 29, 0.15, 0.01) == "too_small"


def test_segment_uplift_verdicts_match_the_rule(demo):
    # every row's verdict is segment_verdict of its own numbers, and the summary counts codes
    ds, _truth = demo
    seg = cr.segment_uplift(ds, cr.campaign(ds, "C2026_01"), "layer")
    want = [cr.segment_verdict(r.users_t, r.users_c, r.uplift, r.p_holm) for r in seg.itertuples()]
    assert seg.verdict.tolist() == want
    assert set(seg.verdict) <= set(cr.SEGMENT_VERDICTS)
    s = cr.segment_summary(seg)
    assert s["too_small"] == int((seg.verdict == "too_small").sum())
    assert s["tested"] == len(seg) - s["too_small"]


def test_power_check_codes():
    # 1000 per group at 10% in the holdout: MDE 0.0376 (tests/test_stats.py); an uplift of
    # 0.02 is below it, 0.05 above
    base = {"users_t": 1000, "users_c": 1000, "rate_c": 0.1, "responders_t": 0,
            "responders_c": 100}
    assert cr.power_check({**base, "uplift": 0.02})["status"] == "below_mde"
    ok = cr.power_check({**base, "uplift": 0.05})
    assert ok["status"] == "ok" and ok["warning"] == ""
    small = cr.power_check({**base, "users_c": 20, "uplift": 0.05})
    assert small["status"] == "too_small" and small["warning"] == cr.POWER_WARNINGS["too_small"]
    rows = cr.checks_table(stats.srm(1000, 1000, 0.5), ok).set_index("check").verdict
    assert rows.iloc[3] == stats.srm_label("match") and rows.iloc[4] == "样本量足够"



# --------------------------------------------------------------------------------------------
# the chapter's numbers: one summary per question, worked out by hand


def test_card_summary_and_campaign_list(hand):
    c = cr.campaign(hand, "C1")
    all_campaigns = cr.campaigns(hand)
    s = cr.card_summary(c, all_campaigns)
    # C1, C2 and C3 in the data; C1 is an SMS (短信) bind-card (绑卡) campaign of 7 days to
    # U1-U8: U1, U2, U3, U4, U7 treated, U5, U6, U8 held out; sent 10:05, 5 minutes after start
    assert s == {"campaigns": 3, "campaign": "C1「活动C1」", "channel": "短信", "goal": "绑卡",
                 "window": 7, "members": 8, "treatment": 5, "control": 3, "send_delay": 5.0,
                 "send_delay_limit": cr.SEND_DELAY_LIMIT, "window_complete": True,
                 "window_default": False, "costs_known": True}
    assert all(type(s[k]) is int for k in ("campaigns", "window", "members", "treatment", "control"))
    assert (c.goal_label, c.channel_label) == ("绑卡", "短信")
    listed = cr.campaign_list(all_campaigns)
    assert listed.start_at.tolist() == ["2025-03-01 10:00"] * 3
    assert listed.columns.tolist() == all_campaigns.columns.tolist()


def test_funnel_summary_by_hand(hand):
    fun = cr.campaign_funnel(hand, cr.campaign(hand, "C1"))
    s = cr.funnel_summary(fun, cr.diagnose(fun))
    # path sent 5 -> delivered 4 -> clicked 2 -> goal 1 (U1); the goal reached any way by 3
    # (U1, U2, U7): delivery 4/5 = 0.8 is under its 0.9 threshold, the others pass (clicks
    # 2/4 = 0.5 >= 0.02, click to goal 1/2 = 0.5 >= 0.2, response 3/5 = 0.6 >= 0.01)
    # with 5 sends no rate is judged against its threshold (MIN_CELL = 30): nothing is weak
    assert s == {"sent": 5, "delivery_rate": pytest.approx(0.8), "click_rate": pytest.approx(0.5),
                 "click_to_goal": pytest.approx(0.5), "response_rate": pytest.approx(0.6),
                 "path_goal": 1, "reached_goal": 3, "off_path": 2, "weak": "无",
                 "low_response": cr.RESPONSE_LEVELS["ok"], "response_low": False,
                 "low_response_limit": cr.LOW_RESPONSE, "untracked": "",
                 "unjudged": "送达率、点击率、点击后达成率、响应率", "min_base": cr.MIN_CELL}
    # judged on any base, delivery 4/5 = 0.8 is under its 0.9 threshold, the others pass
    # (clicks 2/4 = 0.5 >= 0.02, click to goal 1/2 = 0.5 >= 0.2, response 3/5 = 0.6 >= 0.01)
    every = cr.funnel_summary(fun, cr.diagnose(fun, min_base=1), min_base=1)
    assert (every["weak"], every["unjudged"]) == ("送达率", "")
    # two batches and their total: the total is the last batch. In total 200 sent, 150
    # delivered (0.75 < 0.9), 1 click (1/150 < 0.02), no goal after it (0 of 1 click: a base
    # under 30, not judged) and 1 responder any way (1/200 = 0.5% < 1%)
    rows = []
    for batch, sent, deliv, goal in (("d1", 100, 80, 1), ("d2", 100, 70, 0), ("全部", 200, 150, 1)):
        rows += [dict(batch=batch, step="sent", label="发送", users=sent, reached=sent),
                 dict(batch=batch, step="delivered", label="送达", users=deliv, reached=deliv),
                 dict(batch=batch, step="clicked", label="点击短链", users=goal, reached=goal),
                 dict(batch=batch, step="goal", label="首投 (目标)", users=0, reached=goal)]
    two = pd.DataFrame(rows)
    total = cr.funnel_total(two)
    assert total.batch.unique().tolist() == ["全部"] and total.index.tolist() == [0, 1, 2, 3]
    low = cr.funnel_summary(two, cr.diagnose(two))
    assert low["sent"] == 200 and low["response_rate"] == pytest.approx(0.005)
    assert low["weak"] == "送达率、点击率、响应率" and low["unjudged"] == "点击后达成率"
    assert low["low_response"] == cr.RESPONSE_LEVELS["low"] and low["off_path"] == 1
    assert low["response_low"]
    assert cr.RESPONSE_LEVELS["low"].startswith("低于 1%")


def test_effect_summary_by_hand(hand):
    c = cr.campaign(hand, "C1")
    e = cr.effect(hand, c)
    s = cr.effect_summary(e, c)
    assert list(s) == ["verdict", *cr.EFFECT_KEYS, "users_t", "users_c", "responders_t",
                       "responders_c", "verdict_code", "window_open"]
    # 3 of 5 against 1 of 3: the Wilson intervals (0.23-0.88 and 0.06-0.79) are so wide that
    # Newcombe's interval of the difference takes in 0: not significant
    assert s["verdict"] == cr.VERDICTS["not_significant"] and s["verdict_code"] == "not_significant"
    assert s["uplift"] == pytest.approx(3 / 5 - 1 / 3)
    assert (s["users_t"], s["responders_t"], s["users_c"], s["responders_c"]) == (5, 3, 3, 1)
    assert not s["window_open"]  # 03-01 + 7 days is before the analysis date 03-31
    assert all(type(s[k]) is float for k in cr.EFFECT_KEYS)
    money = cr.roi_summary(e, c)
    assert list(money) == [*cr.COST_KEYS, "cost_per_send", "cost_per_reward", "cost_assumed"]
    assert money["cost"] == pytest.approx(30.5)  # 5 sends x 0.1 + 3 rewards x 10
    assert (money["cost_per_send"], money["cost_per_reward"], money["cost_assumed"]) == (0.1, 10.0, "")
    assert money["roi"] == pytest.approx((2.0 - 30.5) / 30.5)  # test_effect_by_hand
    # a group smaller than the book's smallest published count: no comparison is published
    with pytest.raises(NotAvailable, match="各至少 4 人") as err:
        cr.effect(hand, c, min_group=4)  # 3 held out
    assert "对照组不足 4 人" in err.value.missing


def test_checks_summary_by_hand():
    # 820 / 180 against a planned 20% holdout: observed 0.18, chi² 2.5, p = 0.114 (stats.srm)
    srm = stats.srm(820, 180, 0.2)
    ok = {"mde": 0.03, "needed_treatment": 1500.0, "status": "ok", "warning": ""}
    # SMDs 0.05, -0.15, 0.12 with p 0.6, 0.01, 0.2: |-0.15| and 0.12 over 0.1 -> 2; p under
    # 0.05 -> 1; largest |SMD| 0.15
    bal = pd.DataFrame({"covariate": ["a", "b", "c"], "smd": [0.05, -0.15, 0.12],
                        "p_value": [0.6, 0.01, 0.2], "imbalanced": [False, True, True]})
    s = cr.checks_summary(srm, ok, bal)
    assert s == {"srm_p": pytest.approx(0.114, abs=5e-4), "srm_verdict": stats.srm_label("match"),
                 "observed_holdout": pytest.approx(0.18), "planned_holdout": 0.2, "mde": 0.03,
                 "needed": 1500.0, "power_warning": cr.POWER_OK, "imbalanced": 2,
                 "balance_sig": 1, "max_smd": pytest.approx(0.15), "srm_code": "match",
                 "power_status": "ok", "smd_limit": cr.SMD_LIMIT, "p_level": 0.05}
    small = dict(ok, status="too_small", warning=cr.POWER_WARNINGS["too_small"])
    assert cr.checks_summary(srm, small, bal)["power_warning"] == cr.POWER_WARNINGS["too_small"]
    assert cr.checks_summary(srm, ok, bal, p_level=0.7)["balance_sig"] == 3


def test_cuped_summary_by_hand():
    cup = pd.DataFrame({"method": ["plain", "cuped"], "uplift": [0.02, 0.02], "se": [0.015, 0.01],
                        "ci_low": [-0.01, 0.0], "ci_high": [0.05, 0.04], "p_value": [0.2, 0.05],
                        "theta": [0.0, 0.3], "variance_reduction": [0.0, 0.25]})
    s = cr.cuped_summary(cup, "pre_active_days")
    assert s == {"cuped_uplift": 0.02, "cuped_low": 0.0, "cuped_high": 0.04, "plain_low": -0.01,
                 "plain_high": 0.05, "cuped_reduction": 0.25, "cuped_theta": 0.3,
                 "covariate": "pre_active_days"}
    # rows found by method, not by position
    assert cr.cuped_summary(cup.iloc[::-1], "x")["plain_low"] == -0.01
    empty = cr.cuped_summary(cup.iloc[:0], "tenure_days")
    assert empty["covariate"] == "tenure_days"
    assert all(math.isnan(v) for k, v in empty.items() if k != "covariate")
    assert set(cr.ESTIMATE_LABELS) == {"plain", "cuped"}


def test_segment_uplifts_and_summary(hand):
    c = cr.campaign(hand, "C1")
    # every breakdown counts all 5 treated and 3 held-out members; gender is 男 for everyone:
    # it does not split the members and is left out
    kept, dropped = cr.informative_breakdowns(hand, c, ["age_band", "gender", "layer"])
    assert (kept, dropped) == (["age_band", "layer"], ["gender"])
    for by in kept:
        table = cr.segment_uplift(hand, c, by)
        assert (table.users_t.sum(), table.users_c.sum()) == (5, 3)
        assert set(table.verdict) == {"too_small"}  # 5 and 3 members: under 30
    # no segment of any breakdown can be tested: the section says so rather than show noise
    with pytest.raises(NotAvailable, match="不少于 30 人的分群") as err:
        cr.segment_uplifts(hand, c, ["age_band", "layer"], rfm=True)
    assert "每个分群都有一组不足 30 人" in err.value.missing
    # a smaller min_cell tests them: RFM comes last (U1, the only investor before the
    # campaign, against 未分群), gender is left out
    two = cr.segment_uplifts(hand, c, ["age_band", "gender", "layer"], rfm=True, min_cell=1)
    assert list(two.tables) == ["age_band", "layer", cr.RFM_BREAKDOWN]
    assert two.dropped == ("gender",) and two.first == "age_band" and two.min_cell == 1
    assert two.first_table.equals(cr.segment_uplift(hand, c, "age_band", min_cell=1))
    combined = two.combined()
    assert combined.breakdown.unique().tolist() == ["age_band", "layer", "rfm"]
    assert set(two.book_table().verdict) <= set(cr.SEGMENT_VERDICTS.values())
    # nothing splits the members: a note that says which fields to fill in
    with pytest.raises(NotAvailable, match="分成两个以上分群") as err:
        cr.segment_uplifts(hand, c, ["gender"], rfm=False)
    assert err.value.missing.startswith("性别对本活动的所有成员都是同一个值")
    with pytest.raises(ValueError, match="breakdowns"):
        cr.segment_uplifts(hand, c, [], rfm=False)
    # the docstring's example: age_band positive (0.05), too_small (0.3), not_significant
    # (0.01); rfm positive, negative -> tested 2, small 1, best the 0.05 one (too_small is not
    # tested), positive 2 over both, negative 1, cells 5
    def table(verdicts, uplifts):
        return pd.DataFrame({"segment": [f"s{i}" for i in range(len(verdicts))],
                             "verdict": verdicts, "uplift": uplifts})
    segs = cr.SegmentUplifts({
        "age_band": table(["positive", "too_small", "not_significant"], [0.05, 0.3, 0.01]),
        "rfm": table(["positive", "negative"], [0.2, -0.1])}, dropped=("gender", "layer"))
    assert cr.segment_uplifts_summary(segs) == {
        "seg_breakdown": "age_band", "seg_tested": 2, "seg_small": 1, "seg_positive": 2,
        "seg_cells": 5, "seg_best": "s0", "seg_best_uplift": 0.05, "seg_negative": 1,
        "seg_dropped": "gender、layer", "seg_min_cell": cr.MIN_CELL}


def test_history_summary_by_hand(hand):
    nan = float("nan")
    hist = pd.DataFrame({"campaign_id": ["C1", "C2", "C3"], "name": ["甲", "乙", "丙"],
                         "uplift": [0.03, 0.01, nan], "ci_low": [0.01, -0.01, nan],
                         "ci_high": [0.05, 0.03, nan], "roi": [-0.2, 0.4, nan]})
    # C3 has no uplift (no holdout); C1's interval is above 0, C2's ROI is positive and best
    assert cr.history_summary(hist) == {"hist_campaigns": 3, "hist_significant": 1,
                                        "hist_positive_roi": 1, "hist_best": "C2「乙」",
                                        "hist_best_roi": 0.4, "hist_compared": 2,
                                        "hist_negative": 0, "hist_with_roi": 2}
    none = cr.history_summary(hist.iloc[2:])
    assert none["hist_best"] == "无" and math.isnan(none["hist_best_roi"])
    # campaigns with an uplift but no ROI (no unit costs): none is named the best
    unpriced = cr.history_summary(hist.assign(roi=nan))
    assert (unpriced["hist_best"], unpriced["hist_with_roi"], unpriced["hist_compared"]) == ("无", 0, 2)
    # on the hand-built data: C1 has an uplift, C2 (no holdout) and C3 (no members) do not
    s = cr.history_summary(cr.history(hand))
    assert (s["hist_campaigns"], s["hist_best"]) == (3, "C1「活动C1」")
    assert s["hist_best_roi"] == pytest.approx((2.0 - 30.5) / 30.5)  # test_effect_by_hand


def test_next_round_summary_by_hand(hand):
    c = cr.campaign(hand, "C1")
    plan, _targets = cr.next_round(hand, c, FORCED, "age_band", budget=100.0)
    # as in test_segments_and_next_round: 35-44's one target (U3), 1 x 0.390147 incremental
    # (FORCED_SHRUNK), 1 x (0.1 + 0.6 x 10) = 6.1 yuan
    s = cr.next_round_summary(plan, c, 100.0)
    assert s == {"plan_segments": 1, "plan_names": "35-44", "plan_targets": 1,
                 "plan_incremental": pytest.approx(FORCED_SHRUNK, abs=1e-6),
                 "plan_inc_low": pytest.approx(float(plan.ci_low.iloc[0])),
                 "plan_inc_high": pytest.approx(float(plan.ci_high.iloc[0])),
                 "plan_cost": pytest.approx(6.1), "plan_basis": "分群显著",
                 "plan_basis_code": "segment", "budget": 100.0,
                 "offer": cr.OFFERS["bind_card"], "budget_applied": True, "next_channel": "短信",
                 "plan_rows": 1, "plan_uplift_low": pytest.approx(FORCED_SHRUNK, abs=1e-6),
                 "plan_uplift_high": pytest.approx(FORCED_SHRUNK, abs=1e-6),
                 "plan_at_overall": 0, "plan_at_overall_names": ""}
    # every segment at the overall uplift (EVEN, tau2 = 0; see test_segments_and_next_round):
    # said so
    overall = {"available": True, "uplift": 0.1, "ci_low": 0.01, "rate_t": 0.5}
    pooled, _t = cr.next_round(hand, c, EVEN, "age_band", overall=overall)
    s1 = cr.next_round_summary(pooled, c)
    assert (s1["plan_basis"], s1["plan_basis_code"]) == ("整体显著，按分群收缩", "overall")
    assert (s1["plan_at_overall"], s1["plan_at_overall_names"]) == (2, "35-44、25-34")
    assert s1["plan_uplift_low"] == pytest.approx(0.1) == s1["plan_uplift_high"]
    # at weight 0 the interval is the pooled one: 60/200 - 40/200 = 0.1, Wald V = 0.3 x 0.7 / 200
    # + 0.2 x 0.8 / 200 = 0.00185, half width 1.959964 x sqrt(0.00185) = 0.084301, so every
    # target brings 0.1 - 0.084301 = 0.015699 to 0.184301 incremental responders
    assert s1["plan_inc_low"] == pytest.approx(s1["plan_targets"] * 0.015699, abs=1e-5)
    assert s1["plan_inc_high"] == pytest.approx(s1["plan_targets"] * 0.184301, abs=1e-5)
    assert s1["plan_inc_low"] < s1["plan_incremental"] < s1["plan_inc_high"]
    # the hand-built age bands: 25-34 alone, at its own weight (0.679132), not at the overall
    by_age = cr.segment_uplift(hand, c, "age_band")
    own, _t = cr.next_round(hand, c, by_age, "age_band", overall=overall)
    s2 = cr.next_round_summary(own, c)
    assert (s2["plan_at_overall"], s2["plan_at_overall_names"], s2["plan_names"]) == (0, "", "25-34")
    assert s2["plan_uplift_low"] == pytest.approx(0.425131, abs=1e-6) == s2["plan_uplift_high"]
    empty, _t = cr.next_round(hand, c, FORCED.assign(verdict="not_significant"), "age_band")
    s0 = cr.next_round_summary(empty, c)
    assert (s0["plan_segments"], s0["plan_names"], s0["plan_basis"]) == (0, "无", cr.NO_PLAN)
    assert math.isnan(s0["budget"]) and not s0["budget_applied"] and s0["plan_rows"] == 0
    assert s0["plan_basis_code"] == "none" and s0["plan_at_overall"] == 0
    assert math.isnan(s0["plan_uplift_low"]) and s0["plan_at_overall_names"] == ""
    _no_none(s0)


def test_goal_summary_by_hand():
    # decompose_goal's example (test_decompose_goal_by_hand): A takes 60 of 80 investors (75%),
    # totals 200 registrations, 1,400 clicks and 6,000 yuan
    rates = pd.DataFrame({"channel": ["A", "B"], "investors": [30, 10], "register_to_invest": [0.5, 0.25],
                          "click_to_register": [0.2, 0.1], "cost_per_investor_30d": [100.0, 0.0]})
    plan = planning.decompose_goal(rates, 80)
    assert planning.goal_summary(plan, 80) == {
        "target_investors": 80, "target_registrations": pytest.approx(200.0),
        "target_clicks": pytest.approx(1400.0), "target_budget": pytest.approx(6000.0),
        "target_top": "A", "target_top_share": pytest.approx(0.75), "target_channels": 2,
        "target_unknown_rate": "", "target_no_spend": "B",
        "target_window_days": planning.PLAN_WINDOW_DAYS}
    # A needs the whole budget; B only needs volume
    assert planning.budget_summary(plan) == {"target_budget_top": "A", "target_budget_top_share": 1.0,
                                             "target_budget_paid": 1}
    # without spend data the budget is unknown, not 0: no budget section
    unknown = planning.decompose_goal(rates.assign(cost_per_investor_30d=float("nan")), 80)
    assert math.isnan(planning.goal_summary(unknown, 80)["target_budget"])
    with pytest.raises(NotAvailable, match="costs"):
        planning.budget_summary(unknown)
    # spend only on channels without first investors: no channel needs a budget
    unpaid = planning.decompose_goal(rates.assign(cost_per_investor_30d=0.0), 80)
    with pytest.raises(NotAvailable, match="都没有带来首投用户"):
        planning.budget_summary(unpaid)


# --------------------------------------------------------------------------------------------
# the shapes of an analyst's own campaign data


@pytest.fixture
def shapes(tmp_path: Path):
    """`hand_tables` with the campaigns an analyst's data has: C4 all held out, C5 as C1
    without unit costs, C6 starting after the analysis date, C7 without a goal, C8 as C1 with
    a cost per send only, C9 as C1 without a window, delivery receipts or any click."""
    tables = hand_tables()
    c1 = [m for m in tables["campaign_members"] if m["campaign_id"] == "C1"]
    tables["campaigns"] += [
        _campaign_row("C4"), _campaign_row("C5", cost_per_send=None, cost_per_reward=None),
        _campaign_row("C6", start_at="2025-04-15 10:00:00", end_at="2025-04-22 10:00:00"),
        _campaign_row("C7", goal=None), _campaign_row("C8", cost_per_reward=None),
        _campaign_row("C9", window=None)]
    tables["campaign_members"] += [
        _member("C4", "U5", "control"), _member("C4", "U6", "control"),
        *[{**m, "campaign_id": "C5"} for m in c1], _member("C6", "U1", "treatment", "2025-04-15 10:00:00"),
        _member("C7", "U1", "treatment", "2025-03-01 10:05:00"), _member("C7", "U5", "control"),
        *[{**m, "campaign_id": "C8"} for m in c1],
        *[{**m, "campaign_id": "C9", "delivered": None, "clicked_at": None} for m in c1]]
    return open_dataset(write_dataset(tmp_path / "shapes", **tables))


def test_campaigns_after_the_analysis_date_are_left_out(shapes, tmp_path):
    # C6 starts on 04-15, after the analysis date (03-31): not listed, not reviewable
    assert "C6" not in cr.campaigns(shapes).campaign_id.tolist()
    with pytest.raises(NotAvailable, match="之后才开始"):
        cr.campaign(shapes, "C6")
    with pytest.raises(ValueError, match="campaign_id: 'NOPE'"):  # a typo still stops the chapter
        cr.campaign(shapes, "NOPE")
    # an analysis date before every campaign: nothing to review, and the note says why
    early = open_dataset(write_dataset(tmp_path / "early", **hand_tables()), analysis_date="2025-02-15")
    with pytest.raises(NotAvailable, match="在分析日之前开始的活动") as err:
        cr.campaign(early)
    assert err.value.missing == "campaigns 表中的 3 次活动都在分析日 2025-02-15 之后才开始"


def test_default_campaign_is_the_latest_with_a_holdout(shapes, monkeypatch):
    # C1, C5, C7, C8 and C9 all start at 03-01 10:00 with both groups: ties by campaign_id
    assert cr.default_choice(shapes) == {"campaign_id": "C9", "basis": "holdout", "campaigns": 8}
    assert cr.campaign(shapes).campaign_id == "C9"
    table = cr.campaigns(shapes)
    # no campaign with a holdout: the latest with members; no members at all: the latest
    no_holdout = table.assign(control=0)
    monkeypatch.setattr(cr, "campaigns", lambda ds: no_holdout)
    assert cr.default_choice(shapes) == {"campaign_id": "C9", "basis": "members", "campaigns": 8}
    empty = table.assign(members=0, treatment=0, control=0)
    monkeypatch.setattr(cr, "campaigns", lambda ds: empty)
    assert cr.default_choice(shapes)["basis"] == "latest"


def test_campaign_without_unit_costs(shapes):
    c5 = cr.campaign(shapes, "C5")
    assert not c5.costs_known and math.isnan(c5.cost_per_send)
    card = c5.card().set_index("item").value
    assert card["单条发送成本"] == "未记录"
    e = cr.effect(shapes, c5)
    # the response is C1's (3 of 5 against 1 of 3); the cost and everything made of it unknown
    assert e["uplift"] == pytest.approx(3 / 5 - 1 / 3)
    assert all(math.isnan(e[k]) for k in ("cost", "cost_per_incremental", "roi"))
    with pytest.raises(NotAvailable, match="cost_per_send") as err:
        cr.roi_summary(e, c5)
    assert "响应和增量照常计算" in err.value.missing
    hist = cr.history(shapes).set_index("campaign_id")
    assert hist.note["C5"] == "无成本" and math.isnan(hist.roi["C5"])
    # the next round cannot be cut at a budget it cannot price: every segment is kept
    plan, targets = cr.next_round(shapes, c5, FORCED.iloc[:1], "age_band", budget=1.0)
    assert plan.within_budget.all() and targets.to_pandas().user_id.tolist() == ["U3"]
    s = cr.next_round_summary(plan, c5, 1.0)
    assert not s["budget_applied"] and math.isnan(s["plan_cost"]) and s["plan_targets"] == 1
    # only the cost per send given: the reward counts as 0, and the card and summary say so
    c8 = cr.campaign(shapes, "C8")
    assert c8.costs_known and c8.cost_assumed == ("cost_per_reward",)
    money = cr.roi_summary(cr.effect(shapes, c8), c8)
    assert money["cost"] == pytest.approx(5 * 0.1) and money["cost_assumed"] == "单次奖励成本"
    assert c8.card().set_index("item").value["单次奖励成本"] == "0.00 元（未填写，按 0 计）"


def test_campaign_all_held_out_or_without_a_goal(shapes):
    c4 = cr.campaign(shapes, "C4")
    assert (c4.treatment, c4.control) == (0, 2)
    assert cr.card_summary(c4, cr.campaigns(shapes))["campaign"] == "C4「活动C4」"
    for question in (lambda: cr.campaign_funnel(shapes, c4), lambda: cr.effect(shapes, c4),
                     lambda: cr.cuped(shapes, c4), lambda: uplift.uplift_model(shapes, c4)):
        with pytest.raises(NotAvailable, match="实验组") as err:
            question()
        assert "全部在对照组" in err.value.missing
    # a campaign without a goal: a note, or the chapter's goal parameter
    with pytest.raises(NotAvailable, match="目标") as err:
        cr.campaign(shapes, "C7")
    assert "没有填写目标" in err.value.missing
    assert cr.campaign(shapes, "C7", goal="bind_card").goal == "bind_card"
    hist = cr.history(shapes).set_index("campaign_id")
    assert "没有填写目标" in hist.note["C7"] and hist.note["C4"] == cr.NO_TREATMENT


def test_untracked_steps_and_default_window(shapes):
    # C9: no window in the campaigns table (bind_card: 7 days, said on the card), no delivery
    # receipts and no click (its tagged link_click is tagged C1): those steps are left out
    c9 = cr.campaign(shapes, "C9")
    assert (c9.window_days, c9.window_default) == (7, True)
    assert "按目标取默认" in c9.card().set_index("item").value["响应窗口"]
    assert cr.untracked_steps(shapes, c9) == ("delivered", "clicked")
    fun = cr.campaign_funnel(shapes, c9)
    # sent 5 -> opened 3 (U1's app_open, and the responders U2, U7) -> goal 3
    assert fun.set_index("step").users.to_dict() == {"sent": 5, "opened": 3, "goal": 3}
    diag = cr.diagnose(fun)
    assert diag.rate.isna().tolist() == [True, True, True, False] and not diag.weak.any()
    s = cr.funnel_summary(fun, diag)
    assert s["untracked"] == "送达、点击短链" and math.isnan(s["delivery_rate"])
    # C1 records all three
    assert cr.untracked_steps(shapes, cr.campaign(shapes, "C1")) == ()


def test_goal_plan_needs_ad_clicks(hand):
    # the hand-built data has link clicks but no ad_click: the plan cannot start
    with pytest.raises(NotAvailable, match="ad_click"):
        planning.goal_plan(hand, 100)
    with pytest.raises(ValueError, match="target_investors"):
        planning.goal_plan(hand, 0)


@pytest.fixture(scope="module")
def small_demos(tmp_path_factory):
    """Generated demos of 40 and 300 users: campaigns of a handful of members, some without a
    holdout or without members at all."""
    from growthloop.demo import generate_dataset

    out = {}
    for n_users in (40, 300):
        folder = tmp_path_factory.mktemp("small") / f"u{n_users}"
        generate_dataset(folder, n_users=n_users, seed=3)
        out[n_users] = open_dataset(folder)
    return out


def _no_none(values: dict) -> None:
    bad = {k: v for k, v in values.items() if v is None}
    assert not bad, f"summaries must never hold None (a glued None breaks the book): {bad}"


@pytest.mark.parametrize("n_users", [40, 300])
def test_small_datasets_give_numbers_or_notes(small_demos, n_users):
    """Every question of the chapter, on every campaign of a tiny dataset, gives its numbers or
    a NotAvailable, never another error or a None (the 40-user book once failed on one)."""
    ds = small_demos[n_users]
    outcomes = []

    def ask(question):
        try:
            result = question()
        except NotAvailable as note:
            assert note.need and note.missing
            outcomes.append("note")
            return None
        outcomes.append("shown")
        if isinstance(result, dict):
            _no_none(result)
        return result

    all_campaigns = cr.campaigns(ds)
    for cid in all_campaigns.campaign_id:
        camp = cr.campaign(ds, cid)
        ask(lambda camp=camp: cr.card_summary(camp, all_campaigns))
        fun = ask(lambda camp=camp: cr.campaign_funnel(ds, camp))
        if fun is not None:
            ask(lambda fun=fun: cr.funnel_summary(fun, cr.diagnose(fun)))
        eff = ask(lambda camp=camp: cr.effect(ds, camp, min_group=10))
        if eff is not None:
            ask(lambda eff=eff, camp=camp: cr.effect_summary(eff, camp))
            ask(lambda eff=eff, camp=camp: cr.roi_summary(eff, camp))
            bal = ask(lambda camp=camp: cr.balance(ds, camp, min_group=10))
            if bal is not None:
                ask(lambda eff=eff, bal=bal: cr.checks_summary(
                    stats.srm(eff["users_t"], eff["users_c"], 0.2), cr.power_check(eff), bal))
        cup = ask(lambda camp=camp: cr.cuped(ds, camp, min_group=10))
        if cup is not None:
            ask(lambda cup=cup: cr.cuped_summary(cup, "pre_active_days"))
        segs = ask(lambda camp=camp: cr.segment_uplifts(ds, camp, ["age_band", "layer", "signup_channel"]))
        if segs is not None:
            ask(lambda segs=segs: cr.segment_uplifts_summary(segs))
        model = ask(lambda camp=camp: uplift.uplift_model(ds, camp))
        if model is not None:
            ask(lambda model=model: uplift.model_summary(model, 0.0))
        plan = ask(lambda camp=camp: cr.next_round_plan(ds, camp, ["age_band"], budget=500.0, min_group=10))
        if plan is not None:
            ask(lambda plan=plan, camp=camp: cr.next_round_summary(plan[0], camp, 500.0))
    hist = ask(lambda: cr.history(ds))
    if hist is not None:
        ask(lambda: cr.history_summary(hist))
    goal = ask(lambda: planning.goal_plan(ds, 300))
    if goal is not None:
        ask(lambda: planning.goal_summary(goal, 300))
    assert "note" in outcomes and "shown" in outcomes


def test_two_weeks_of_data(small_demos):
    # the 300-user demo cut at its tenth day: no campaign has started, no 30-day conversion
    # window has ended; both say so instead of showing numbers
    ds = open_dataset(small_demos[300].path, analysis_date="2025-07-10")
    with pytest.raises(NotAvailable, match="在分析日之前开始的活动"):
        cr.campaign(ds)
    with pytest.raises(NotAvailable, match="转化窗口") as err:
        planning.goal_plan(ds, 300)
    assert "还在转化窗口之内" in err.value.missing


def test_nobody_responded(hand):
    # C1 reviewed on the sign-up goal: its members signed up before it, so nobody responds.
    # The effect is still shown (0 of 5 against 0 of 3, no z test); what needs a variance of
    # the response says why it cannot
    c = cr.campaign(hand, "C1", goal="register")
    e = cr.effect(hand, c)
    assert (e["responders_t"], e["responders_c"]) == (0, 0) and math.isnan(e["p_value"])
    for question, match in ((lambda: cr.cuped(hand, c), "所有成员的响应都一样"),
                            (lambda: cr.segment_uplifts(hand, c, "age_band", min_cell=1), "两组都没有人达成目标"),
                            (lambda: uplift.uplift_model(hand, c), "对照组不足 30 人")):
        with pytest.raises(NotAvailable) as err:
            question()
        assert match in err.value.missing

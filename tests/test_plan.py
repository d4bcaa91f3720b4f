"""The next campaign (growthloop.metrics.plan): each operator rule on a hand-built dataset, the
budget cut worked out by hand, the stratified holdout against an independent pandas draw (MD5
in Python), its shares on the demo, the power by hand, the same package from the same seed,
the sample-ratio check on the package, and the round trip (slow): plan on a generated demo,
send it in the demo world with a planted uplift, review it with chapter 6's functions."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from pathlib import Path

import ibis
import pandas as pd
import pytest
from conftest import event, txn, user, write_dataset

from growthloop.book import Chapter
from growthloop.errors import NotAvailable
from growthloop.metrics import plan, stats
from growthloop.staging.loader import open_dataset

START = dt.datetime(2025, 4, 1, 10, 0)


def _campaign(cid: str, start: str, window: int | None, end: str | None = None, goal: str = "bind_card") -> dict:
    return {"campaign_id": cid, "name": f"活动{cid}", "channel": "sms", "start_at": start, "end_at": end,
            "goal": goal, "window_days": window, "cost_per_send": 0.1, "cost_per_reward": 0.0,
            "target_rule": "测试"}


def _member(cid: str, uid: str, group: str, sent: str | None = None) -> dict:
    return {"campaign_id": cid, "user_id": uid, "group": group, "sent_at": sent,
            "delivered": True if sent else None, "clicked_at": None}


@pytest.fixture
def rules_ds(tmp_path: Path):
    """Twelve users; analysis date 2025-03-31, so the plan starts 2025-04-01 10:00.

    running at the start (either group is left out):
      R1 03-25 + 14 days: U1 (treated 03-25), U2 (held out)
      R3 03-20, no window_days, end_at 04-05: U4
      R4 03-20, neither: 14 days, to 04-03: U5
    not running:
      R2 03-01 + 7 days: U3 (treated 03-01: 31 days before, outside every cap tested)
      R5 03-20 + 1 day: U7 (treated 03-20: 12 days before), U8 (held out), U9 (treated 03-10: 22 days)
      R6 starts 04-01 08:00, after the analysis date: U6 (not in this book's data)
    opt-out: U10 true, U11 false, U12 blank
    """
    users = [user(f"U{i}", "2025-01-01 10:00:00") for i in range(1, 13)]
    users[9]["contact_opt_out"] = True
    users[10]["contact_opt_out"] = False
    events = [event("register", "2025-01-01 10:00:00", f"U{i}", f"A{i}") for i in range(1, 13)]
    events.append(event("bind_card", "2025-01-02 10:00:00", "U1", "A1"))
    campaigns = [_campaign("R1", "2025-03-25 10:00:00", 14), _campaign("R2", "2025-03-01 10:00:00", 7),
                 _campaign("R3", "2025-03-20 10:00:00", None, "2025-04-05 10:00:00"),
                 _campaign("R4", "2025-03-20 10:00:00", None), _campaign("R5", "2025-03-20 10:00:00", 1),
                 _campaign("R6", "2025-04-01 08:00:00", 7)]
    members = [_member("R1", "U1", "treatment", "2025-03-25 10:00:00"), _member("R1", "U2", "control"),
               _member("R2", "U3", "treatment", "2025-03-01 10:00:00"), _member("R3", "U4", "control"),
               _member("R4", "U5", "treatment", "2025-03-20 10:00:00"),
               _member("R5", "U7", "treatment", "2025-03-20 10:00:00"), _member("R5", "U8", "control"),
               _member("R5", "U9", "treatment", "2025-03-10 10:00:00"), _member("R6", "U6", "control")]
    folder = write_dataset(tmp_path / "rules", users=users, events=events,
                           transactions=[txn("T1", "U1", "2025-01-03 10:00:00", 1000.0)],
                           campaigns=campaigns, campaign_members=members,
                           config={"name": "rules", "analysis_date": "2025-03-31"})
    return open_dataset(folder)


def _audience(ds, users: list[str], strata: list[str] | None = None, key: str = "test") -> plan.Audience:
    strata = strata or ["A"] * len(users)
    table = ibis.memtable({"user_id": users, "stratum": strata, "priority": list(range(len(users)))})
    kept = ds.keep(f"test.audience:{key}", lambda: table)
    return plan.Audience(code="stalled_card", label="测试人群", goal="bind_card", stratum_name="分层",
                         order_rule="按顺序", rule="测试规则", table=kept, size=len(users), key=key)


def _ids(table: ibis.Table) -> set[str]:
    return set(table.to_pyarrow().column("user_id").to_pylist())


# --------------------------------------------------------------------------------------------
# each operator rule, by hand


def test_running_campaigns_leave_out_both_groups(rules_ds):
    # R1 (window_days), R3 (end_at) and R4 (the 14-day fallback) cover the start; R6 starts
    # after the analysis date; R2 and R5 are over
    assert _ids(plan.running_members(rules_ds, START)) == {"U1", "U2", "U4", "U5"}
    # a start after R3's end_at and R4's fallback: only R1 is still running on 04-06
    assert _ids(plan.running_members(rules_ds, dt.datetime(2025, 4, 6, 10))) == {"U1", "U2"}


def test_frequency_cap_counts_sends_before_the_start(rules_ds):
    assert _ids(plan.contacted_within(rules_ds, START, 14)) == {"U1", "U5", "U7"}  # 03-25, 03-20, 03-20
    assert _ids(plan.contacted_within(rules_ds, START, 30)) == {"U1", "U5", "U7", "U9"}  # 03-10 too
    assert _ids(plan.contacted_within(rules_ds, START, 7)) == {"U1"}  # 03-25 10:00 exactly: edge included
    assert _ids(plan.contacted_within(rules_ds, START, 6)) == set()


def test_opt_out_is_the_true_flag_only(rules_ds):
    assert _ids(plan.opted_out(rules_ds)) == {"U10"}  # false and blank are not opt-outs
    assert plan.opt_out_recorded(rules_ds)


def test_rules_count_each_member_once_in_order(rules_ds):
    aud = _audience(rules_ds, [f"U{i}" for i in range(1, 13)])
    eligible, counts = plan.apply_rules(rules_ds, aud.table, START)
    by = counts.set_index("rule")
    # running U1 U2 U4 U5; frequency U7 (U1 and U5 were sent too, but running counted them first)
    assert by.excluded.to_dict() == {"running": 4, "frequency": 1, "opt_out": 1}
    assert by.remaining.tolist() == [8, 7, 6]
    assert _ids(eligible) == {"U3", "U6", "U8", "U9", "U11", "U12"}
    # every rule off: nobody is left out; the running rule off: U1 and U5 fall to the cap
    _, off = plan.apply_rules(rules_ds, aud.table, START, False, None, False)
    assert off.excluded.tolist() == [0, 0, 0] and not off.applied.any()
    _, counts = plan.apply_rules(rules_ds, aud.table, START, exclude_running=False)
    assert counts.set_index("rule").excluded.to_dict() == {"running": 0, "frequency": 3, "opt_out": 1}
    with pytest.raises(ValueError, match="frequency_cap_days"):
        plan.apply_rules(rules_ds, aud.table, START, frequency_cap_days=-1)


def test_opt_out_without_the_column_is_said(tiny):
    ds = open_dataset(tiny)  # no contact_opt_out column, no campaign tables
    assert not plan.opt_out_recorded(ds)
    aud = _audience(ds, ["U1", "U2", "U3"])
    eligible, counts = plan.apply_rules(ds, aud.table, dt.datetime(2025, 4, 1, 10))
    assert counts.excluded.sum() == 0 and len(_ids(eligible)) == 3
    assert "没有退订标记" in counts.set_index("rule").loc["opt_out", "setting"]
    # no campaign tables: no round to plan on, so the defaults (sms, 7 days for bind_card, the
    # default holdout) and no MDE
    nc = plan.next_campaign(ds, aud)
    assert nc.basis is None and "no_basis" in nc.notes and nc.holdout["status"] == "no_basis"
    assert (nc.campaign["channel"], nc.campaign["window_days"], nc.holdout["share"]) == ("sms", 7, 0.2)
    assert math.isnan(nc.holdout["mde"]) and not plan.rules_summary(nc)["opt_out_recorded"]
    with pytest.raises(NotAvailable, match="plan_expected_uplift"):
        plan.expected(nc)
    e = plan.expected(plan.next_campaign(ds, aud, expected_uplift=0.05, cost_per_send=0.1, cost_per_reward=0.0))
    assert e["expected_incremental"] == pytest.approx(e["treatment"] * 0.05) and math.isnan(e["rate_t"])


# --------------------------------------------------------------------------------------------
# the budget, by hand


def test_budget_cut_takes_the_priority_order_and_counts_the_holdout_rounding():
    # one stratum, share 0.2: the holdout of the first r members is floor(0.2 r + 1/2) =
    # 0 0 1 1 1 1 1 2 2 2 for r = 1..10, so members 1..10 add sends 1 1 0 1 1 1 1 0 1 1 and the
    # running sends are 1 2 2 3 4 5 6 6 7 8
    t = ibis.memtable(pd.DataFrame({"user_id": [f"U{i:02d}" for i in range(10)], "stratum": "A",
                                    "priority": range(10)}))
    for sends, kept in ((5, 6), (6, 8), (8, 10), (0, 0)):
        cut = plan.cap_by_budget(t, 0.2, sends).to_pandas()
        assert sorted(cut.priority) == list(range(kept)), sends
        groups = plan.assign_holdout(plan.cap_by_budget(t, 0.2, sends), 0.2, 1).to_pandas()
        assert int((groups.group == "treatment").sum()) == min(sends, 8)
    assert len(plan.cap_by_budget(t, 0.2, None).to_pandas()) == 10
    assert plan.max_sends(5.0, 1.0) == 5 and plan.max_sends(5.0, float("nan")) is None
    with pytest.raises(ValueError, match="budget"):
        plan.max_sends(-1.0, 1.0)


def test_next_campaign_respects_every_rule_and_the_budget(rules_ds):
    aud = _audience(rules_ds, [f"U{i}" for i in range(1, 13)], key="all")
    nc = plan.next_campaign(rules_ds, aud, cost_per_send=1.0, cost_per_reward=0.0, budget=3.0,
                            holdout_share=0.25, seed=11)
    row, members = plan.package(nc)
    got = members.to_pandas()
    # eligible, in priority order: U3 U6 U8 U9 U11 U12; share 0.25 holds out floor(r/4 + 1/2) of
    # the first r: 0 1 1 1 1 2 -> sends 1 1 2 3 4 4: the budget of 3 sends keeps U3 U6 U8 U9
    assert got.user_id.tolist() == ["U3", "U6", "U8", "U9"]
    assert (got.group == "treatment").sum() == 3 and (got.group == "control").sum() == 1
    assert got.user_id.is_unique and set(got.campaign_id) == {row.campaign_id.iloc[0]}
    by = nc.rules.set_index("rule").excluded.to_dict()
    assert by == {"running": 4, "frequency": 1, "opt_out": 1, "budget": 2}
    assert list(row.columns) == list(plan.CAMPAIGN_COLUMNS)
    assert row.campaign_id.iloc[0] == "C20250401_stalled_card" and row.start_at.iloc[0] == "2025-04-01 10:00:00"
    # the bind_card round with a holdout and a finished window is R5 (R1's is still open); three
    # of its members are in the audience; its channel and 1-day window are the defaults
    assert (nc.basis["campaign_id"], nc.basis["chosen"], nc.basis["overlap"]) == ("R5", "overlap", 3)
    assert (row.channel.iloc[0], int(row.window_days.iloc[0]), row.end_at.iloc[0]) == ("sms", 1, "2025-04-02 10:00:00")
    with pytest.raises(NotAvailable, match="预算"):
        plan.next_campaign(rules_ds, aud, cost_per_send=1.0, budget=0.5, holdout_share=0.25)
    with pytest.raises(ValueError, match="start"):
        plan.next_campaign(rules_ds, aud, start="2025-03-15")
    with pytest.raises(ValueError, match="holdout_share"):
        plan.next_campaign(rules_ds, aud, holdout_share=1.2)
    with pytest.raises(ValueError, match="expected_uplift"):
        plan.next_campaign(rules_ds, aud, expected_uplift=-0.1)


# --------------------------------------------------------------------------------------------
# the holdout


def _python_holdout(frame: pd.DataFrame, share: float, seed: int) -> set[str]:
    """The holdout drawn in pandas: per stratum the held_out(n) smallest MD5 hashes."""
    h = frame.user_id.map(lambda u: int(hashlib.md5(f"{u}:{seed}".encode()).hexdigest()[:7], 16))
    frame = frame.assign(_h=h).sort_values(["stratum", "_h", "user_id"])
    out = set()
    for _s, part in frame.groupby("stratum"):
        out |= set(part.user_id.iloc[:plan.held_out(len(part), share)])
    return out


def test_holdout_is_the_python_md5_draw_stratum_by_stratum():
    frame = pd.DataFrame({"user_id": [f"U{i:05d}" for i in range(500)],
                          "stratum": [f"S{i % 7}" for i in range(500)]})
    t = ibis.memtable(frame)
    for share, seed in ((0.2, 7), (0.13, 20260701)):
        got = plan.assign_holdout(t, share, seed).to_pandas()
        assert set(got[got.group == "control"].user_id) == _python_holdout(frame, share, seed)
        per = got.groupby("stratum").group.apply(lambda g: (g == "control").sum())
        sizes = got.groupby("stratum").size()
        assert all(per[s] == plan.held_out(sizes[s], share) for s in sizes.index)
    other = plan.assign_holdout(t, 0.2, 8).to_pandas()
    first = plan.assign_holdout(t, 0.2, 7).to_pandas()
    assert set(other[other.group == "control"].user_id) != set(first[first.group == "control"].user_id)
    with pytest.raises(ValueError, match="holdout_share"):
        plan.assign_holdout(t, 0.0, 1)


def test_stratified_shares_on_the_demo_match_the_plan(demo_ds):
    aud = plan.audience(demo_ds, "at_risk")
    nc = plan.next_campaign(demo_ds, aud, holdout_share=0.2, budget=None)
    members = nc.members.to_pandas()
    assert members.user_id.is_unique and len(members) == aud.size == nc.size
    strata = nc.strata
    # within each stratum the share is the planned one up to rounding (at most half a member)
    assert ((strata.control - 0.2 * strata.members).abs() <= 0.5).all()
    checks = plan.package_checks(nc)
    assert checks["srm_verdict"] == "match" and checks["srm_p"] > 0.5 and checks["max_stratum_gap"] <= 0.5
    # the package's own SRM is the stats function on its counts
    s = stats.srm(checks["treatment"], checks["control"], 0.2)
    assert s["p_value"] == pytest.approx(checks["srm_p"])


def test_holdout_share_for_by_hand():
    # see the docstring: 17.07% rounded up to 18%, 360 of 2,000 held out
    r = plan.holdout_share_for(0.10, 0.05, 2000)
    assert (r["share"], r["status"], r["control"], r["treatment"]) == (0.18, "power", 360, 1640)
    assert r["mde"] == pytest.approx(stats.mde(1640, 360, 0.10)) and r["mde"] <= 0.05
    # a big uplift needs very few: the floor of 10%
    assert plan.holdout_share_for(0.10, 0.20, 5000)["share"] == 0.10
    # even half held out cannot detect 1 point among 500: the default 20%, and the MDE says so
    r = plan.holdout_share_for(0.10, 0.01, 500)
    assert (r["share"], r["status"]) == (0.2, "underpowered") and r["mde"] > 0.01
    # no baseline or no positive uplift: the default, no MDE without a baseline
    assert plan.holdout_share_for(float("nan"), 0.05, 500)["status"] == "no_basis"
    assert math.isnan(plan.holdout_share_for(float("nan"), 0.05, 500)["mde"])
    assert plan.holdout_share_for(0.1, -0.02, 500)["status"] == "no_basis"
    assert plan.held_out(25, 0.1) == 3 and plan.held_out(15, 0.1) == 2 and plan.held_out(0, 0.5) == 0


# --------------------------------------------------------------------------------------------
# the same plan, the same package


def _write(ds, out: Path, seed: int | None) -> tuple[bytes, bytes]:
    aud = _audience(ds, [f"U{i}" for i in range(1, 13)], [f"S{i % 2}" for i in range(12)], key="seeded")
    nc = plan.next_campaign(ds, aud, holdout_share=0.5, seed=seed, exclude_running=False,
                            frequency_cap_days=None, exclude_opt_out=False)
    paths = plan.write_package(Chapter(slug="07_next_campaign", ds=ds, out_dir=out), *plan.package(nc))
    assert paths["members"] == out / "exports" / "07_next_campaign" / "members.csv"
    return paths["campaign"].read_bytes(), paths["members"].read_bytes()


def test_same_plan_same_seed_same_package(rules_ds, tmp_path: Path):
    first = _write(rules_ds, tmp_path / "a", 5)
    again = _write(open_dataset(rules_ds.path), tmp_path / "b", 5)  # a fresh engine
    assert first == again
    other = _write(open_dataset(rules_ds.path), tmp_path / "c", 6)
    assert other[0] != first[0] and other[1] != first[1]  # the seed is in the target rule too
    members = pd.read_csv(tmp_path / "a" / "exports" / "07_next_campaign" / "members.csv", encoding="utf-8-sig")
    assert list(members.columns) == list(plan.MEMBER_COLUMNS) and members.user_id.is_unique
    assert (members.group == "control").sum() == 6  # half of each stratum of six


# --------------------------------------------------------------------------------------------
# choosing the audience


def test_audience_codes_and_the_summary_action():
    assert plan.audience_code("rfm:important_win_back") == "rfm:重要挽留"
    assert plan.audience_code("rfm:churn risk") == "rfm:流失风险客"
    with pytest.raises(ValueError, match="audience"):
        plan.audience_code("rfm:VIP")
    with pytest.raises(ValueError, match="audience"):
        plan.audience_code("everyone")
    assert plan.audience_for(["attr_budget", "rfm_risk"]) == {
        "audience": "rfm:流失风险客", "basis": "first_action", "action": "rfm_risk"}
    assert plan.audience_for(["funnel_stalled"], 5, 5)["audience"] == "stalled_card"  # a tie: card
    assert plan.audience_for(["review_next", "ret_dormant"])["audience"] == "next_round"
    assert plan.audience_for(["attr_budget"]) == {"audience": "", "basis": "fallback", "action": ""}
    assert plan.audience_for(["ret_dormant"], requested="stalled_invest")["basis"] == "parameter"


def test_demo_audiences_have_unique_members_and_follow_their_chapters(demo_ds):
    from growthloop.metrics import funnel, retention

    stalled = funnel.stalled_users(demo_ds).to_pandas()
    for code, rule in (("stalled_card", "no_card"), ("stalled_invest", "no_invest")):
        aud = plan.audience(demo_ds, code)
        got = aud.table.to_pandas()
        assert got.user_id.is_unique and sorted(got.priority) == list(range(len(got)))
        assert set(got.user_id) == set(stalled[stalled.rule == rule].user_id)
    aud = plan.audience(demo_ds, "at_risk")
    assert _ids(aud.table) == _ids(retention.at_risk_users(demo_ds))
    first = aud.table.order_by("priority").limit(1).to_pandas().user_id.iloc[0]
    shortest = retention.at_risk_users(demo_ds).limit(1).to_pandas().user_id.iloc[0]
    assert first == shortest  # the chapter's own order: the shortest silence first
    with pytest.raises(NotAvailable):
        plan.audience(demo_ds, "at_risk", lifecycle={"dormant_days": 400, "churn_days": 500})


def test_basis_round_is_the_most_similar_round_of_the_goal(demo_ds):
    aud = plan.audience(demo_ds, "at_risk")
    b = plan.basis_round(demo_ds, "any_investment", aud)
    # C2026_01 (dormant users) and C2026_02 (reinvestment) share the goal; the dormant users
    # of today were mostly in C2026_01
    assert (b["campaign_id"], b["chosen"]) == ("C2026_01", "overlap") and b["overlap"] > 0
    assert 0 < b["baseline"] < 1 and b["users_c"] > 0
    assert plan.basis_round(demo_ds, "any_investment", aud, "C2026_02")["chosen"] == "parameter"
    assert plan.basis_round(demo_ds, "浏览产品详情", aud) is None


def test_docstrings_of_the_plan_modules():
    import doctest

    from test_docstrings import _problems

    from growthloop.present.findings import plan as words

    for module in (plan, words):
        assert _problems(module) == [], module.__name__
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
        for test in doctest.DocTestFinder().find(module):
            runner.run(test)
        assert runner.summarize(verbose=False).failed == 0, module.__name__


# --------------------------------------------------------------------------------------------
# the round trip


@pytest.mark.slow
def test_round_trip_recovers_the_planted_uplift(tmp_path: Path):
    from growthloop.demo import generate_dataset, simulate_planned_campaign
    from growthloop.metrics import campaign_review as cr

    folder = tmp_path / "demo"
    generate_dataset(folder, n_users=4000, seed=5)
    ds = open_dataset(folder)
    aud = plan.audience(ds, "rfm:流失风险客")
    nc = plan.next_campaign(ds, aud, budget=None)
    assert nc.basis is not None and nc.holdout["status"] in plan.HOLDOUT_BASES
    row, members = plan.package(nc)
    paths = plan.write_package(Chapter(slug="07_next_campaign", ds=ds, out_dir=tmp_path / "run"), row, members)
    planted = 0.08
    truth = simulate_planned_campaign(folder, paths["campaign"], paths["members"], uplift=planted, seed=3)
    assert truth["true_uplift"] == pytest.approx(planted)  # no member's p0 + uplift passes 1
    again = open_dataset(folder)
    assert str(again.analysis_date) == truth["analysis_date"] == "2026-07-15"
    camp = cr.campaign(again, row.campaign_id.iloc[0])
    assert camp.window_complete and (camp.treatment, camp.control) == (nc.treatment, nc.control)
    assert (camp.goal, camp.window_days, camp.channel) == (row.goal.iloc[0], int(row.window_days.iloc[0]), row.channel.iloc[0])
    eff = cr.effect(again, camp)
    assert eff["ci_low"] <= truth["true_uplift"] <= eff["ci_high"]
    assert (eff["responders_t"], eff["responders_c"]) == (truth["responders_t"], truth["responders_c"])
    # the package comes back as the next review: the plan's holdout passes the review's SRM check
    assert stats.srm(eff["users_t"], eff["users_c"], nc.holdout["share"])["verdict"] == "match"
    with pytest.raises(ValueError, match="already"):
        simulate_planned_campaign(folder, paths["campaign"], paths["members"], uplift=planted)

"""Channel attribution: hand-worked model examples, a published Markov example, properties on
random path sets, UTM cleaning, the monitoring table on hand-built data, and the demo's truth.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction
from itertools import permutations
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest
from conftest import event, txn, user, write_dataset
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from growthloop import DEMO_DATA
from growthloop.errors import ConfigError, NotAvailable
from growthloop.marts.channels import (
    channel_lookup,
    channel_of,
    normalise_utm,
    utm_from_url,
    with_channel,
    with_utm,
)
from growthloop.marts.touches import with_utm_values
from growthloop.marts.wide import user_wide
from growthloop.metrics import attribution as at
from growthloop.staging.contract import DEFAULT_CHANNELS, DIRECT_CHANNEL, UNTAGGED_CHANNEL, Channel
from growthloop.staging.loader import open_dataset

PURE_MODELS = [m for m in at.MODELS if m != "time_decay"]


def frame(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["path", "conversions", "nulls"])


def close(got: dict, want: dict) -> None:
    keys = set(got) | set(want)
    for k in keys:
        assert got.get(k, 0.0) == pytest.approx(want.get(k, 0.0), abs=1e-9), k


# --------------------------------------------------------------------------------------------
# every model on one small path set, by hand
#   A > B > C : 3 conversions, 1 null
#   B > A     : 1 conversion
#   A         : 0 conversions, 2 nulls
PATHS = frame([(("A", "B", "C"), 3, 1), (("B", "A"), 1, 0), (("A",), 0, 2)])


def test_rule_based_models_by_hand():
    # first touch: A gets the 3 of A>B>C, B the 1 of B>A
    close(at.first_touch(PATHS), {"A": 3, "B": 1})
    # last touch: C 3, A 1
    close(at.last_touch(PATHS), {"C": 3, "A": 1})
    # last non-direct with C counted as direct: the 3 go to B, B>A keeps A
    close(at.last_non_direct(PATHS, direct={"C"}), {"B": 3, "A": 1})
    # linear: A 3/3 + 1/2 = 1.5, B 1 + 0.5 = 1.5, C 1
    close(at.linear(PATHS), {"A": 1.5, "B": 1.5, "C": 1.0})
    # position 40/20/40: A 0.4*3 + 0.5*1 = 1.7, B 0.2*3 + 0.5 = 1.1, C 0.4*3 = 1.2
    close(at.position_based(PATHS), {"A": 1.7, "B": 1.1, "C": 1.2})
    # Shapley of v(S) = conversions of paths inside S: A>B>C's 3 split in thirds, B>A's 1 in
    # halves: A 1.5, B 1.5, C 1
    close(at.shapley(PATHS), {"A": 1.5, "B": 1.5, "C": 1.0})


def test_direct_only_path_keeps_its_last_step():
    p = frame([((DIRECT_CHANNEL, UNTAGGED_CHANNEL), 2, 0), (("baidu", DIRECT_CHANNEL), 1, 0)])
    close(at.last_non_direct(p), {UNTAGGED_CHANNEL: 2, "baidu": 1})


def test_assisting_channel_gets_credit_from_linear_and_markov_not_last_touch():
    # F > S converts once, S alone never converts (1 null). F is never last.
    # Markov by hand: start->F 1/2, start->S 1/2, F->S 1, S->conv 1/2, S->null 1/2
    # P = 1/2*1*1/2 + 1/2*1/2 = 1/2. Without F: 1/4 -> effect 1/2. Without S: 0 -> effect 1.
    # Credit of the 1 conversion: F 1/2 / 1.5 = 1/3, S 2/3.
    p = frame([(("F", "S"), 1, 0), (("S",), 0, 1)])
    assert at.last_touch(p).get("F", 0.0) == 0.0
    assert at.linear(p)["F"] == pytest.approx(0.5)
    close(at.removal_effects(p), {"F": 0.5, "S": 1.0})
    close(at.markov(p), {"F": 1 / 3, "S": 2 / 3})
    out = at.attribute(p, models=["last_touch", "linear", "markov"])
    f = out[out.channel == "F"].set_index("model").conversions
    assert f["last_touch"] == 0 and f["linear"] > 0 and f["markov"] > 0


def test_markov_published_example_puzyrov():
    # Serhii Puzyrov, "Markov Chain Attribution – Simple Explanation Of Removal Effect" (2019),
    # https://serhiipuzyrov.com/2019/07/markov-chain-attribution-simple-explanation-of-removal-effect/
    # paths: google ads (2 conv), mailing (1), google ads > mailing (1), google ads (0, 1 null).
    # start->G 4/5, start->M 1/5; G->conv 2/4, G->M 1/4, G->null 1/4; M->conv 1.
    # P = 4/5*(1/2 + 1/4) + 1/5 = 4/5. Without G: 1/5 -> effect 3/4; without M: 4/5*1/2 = 2/5
    # -> effect 1/2. Of 4 conversions: G 4*0.75/1.25 = 2.4, M 1.6 (the article's result).
    p = frame([(("google ads",), 2, 1), (("mailing",), 1, 0), (("google ads", "mailing"), 1, 0)])
    states, q, r = at.markov_chain(p)
    assert at._p_conversion(q, r) == pytest.approx(0.8)
    close(at.removal_effects(p), {"google ads": 0.75, "mailing": 0.5})
    close(at.markov(p), {"google ads": 2.4, "mailing": 1.6})


def test_markov_three_path_example_first_and_second_order():
    # The three-path example of the Markov attribution tutorials: C1>C2>C3 converts,
    # C1 does not, C2>C3 does not. start->C1 2/3, ->C2 1/3; C1->C2 1/2, C1->null 1/2;
    # C2->C3 1; C3->conv 1/2. P = 2/3*1/2*1/2 + 1/3*1/2 = 1/3. Without C1: 1/6 -> 0.5;
    # without C2 or C3: 0 -> 1. Credit of 1 conversion: 0.2, 0.4, 0.4.
    # Order 2: states (C1), (C1,C2), (C2), (C2,C3); the same probabilities, same answer.
    p = frame([(("C1", "C2", "C3"), 1, 0), (("C1",), 0, 1), (("C2", "C3"), 0, 1)])
    for order in (1, 2):
        close(at.removal_effects(p, order), {"C1": 0.5, "C2": 1.0, "C3": 1.0})
        close(at.markov(p, order), {"C1": 0.2, "C2": 0.4, "C3": 0.4})


def test_markov_second_order_differs_where_history_matters():
    # A>C converts (2), B>C never (2 nulls). First order: C->conv 1/2 whatever came before, so
    # P = 1/2; without A: start->B only converts via C at 1/2: P = 1/2*1/2 = 1/4 -> 1/2;
    # without B: 1/4 -> 1/2; without C: 1. Credit of 2: A 0.5, B 0.5, C 1.
    # Second order: (A,C)->conv 1, (B,C)->conv 0. P = 1/2. Without A: 0 -> 1; without B:
    # 1/2 -> 0; without C: 1. Credit: A 1, B 0, C 1.
    p = frame([(("A", "C"), 2, 0), (("B", "C"), 0, 2)])
    close(at.markov(p, 1), {"A": 0.5, "B": 0.5, "C": 1.0})
    close(at.markov(p, 2), {"A": 1.0, "B": 0.0, "C": 1.0})


def brute_shapley(rows) -> dict[str, float]:
    """Shapley by its definition: average marginal contribution over every order."""
    chans = sorted({c for p, _c, _n in rows for c in p})

    def v(s):
        return sum(c for p, c, _n in rows if set(p) <= s)

    out = dict.fromkeys(chans, Fraction(0))
    perms = list(permutations(chans))
    for perm in perms:
        seen: set = set()
        for c in perm:
            out[c] += Fraction(v(seen | {c}) - v(seen))
            seen.add(c)
    return {c: float(x / len(perms)) for c, x in out.items()}


def test_shapley_exact_matches_definition_and_sampling_converges():
    rows = [(("A", "B"), 5, 3), (("B", "C", "A"), 2, 9), (("D",), 4, 1), (("C", "D"), 1, 0)]
    close(at.shapley(rows), brute_shapley(rows))
    # the approximation: 14 channels (more than exact_max), seeded permutation sampling
    rng = np.random.default_rng(1)
    names = [f"c{i:02d}" for i in range(14)]
    many = []
    for _ in range(40):
        k = int(rng.integers(1, 5))
        many.append((tuple(rng.choice(names, size=k, replace=False)), int(rng.integers(0, 6)), 1))
    exact = at.shapley(many, exact_max=14)
    approx = at.shapley(many, exact_max=12, samples=3000, seed=3)
    assert approx == at.shapley(many, exact_max=12, samples=3000, seed=3)  # seeded
    assert sum(approx.values()) == pytest.approx(sum(c for _p, c, _n in many))
    for c in exact:
        assert approx[c] == pytest.approx(exact[c], rel=0.1, abs=0.5)  # 1/sqrt(n) error
    # the closed form for this game: each path's conversions shared by its distinct channels
    closed: dict[str, float] = {}
    for p, c, _n in many:
        for ch in set(p):
            closed[ch] = closed.get(ch, 0.0) + c / len(set(p))
    close(exact, closed)


path_sets = st.lists(
    st.tuples(
        st.lists(st.sampled_from(["A", "B", "C", "D", "E", DIRECT_CHANNEL]), min_size=1, max_size=6),
        st.integers(0, 20),
        st.integers(0, 20),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path_sets, st.integers(1, 3))
def test_credits_sum_to_conversions_and_are_never_negative(rows, order):
    p = frame([(tuple(path), c, n) for path, c, n in rows])
    total = int(p.conversions.sum())
    out = at.attribute(p, models=PURE_MODELS, markov_order=order)
    sums = out.groupby("model").conversions.sum()
    assert (out.conversions >= 0).all()
    for m in PURE_MODELS:
        assert sums[m] == pytest.approx(total, abs=1e-6)
    if total:
        assert out.groupby("model").share.sum().to_numpy() == pytest.approx(1.0)


def test_bad_parameters():
    with pytest.raises(ValueError, match="models"):
        at.attribute(PATHS, models=["u_shaped"])
    with pytest.raises(ValueError, match="time_decay"):
        at.attribute(PATHS, models=["time_decay"])
    with pytest.raises(ValueError, match="markov_order"):
        at.markov(PATHS, 0)
    with pytest.raises(ValueError, match="paths"):
        at.linear([((), 1, 0)])
    with pytest.raises(ValueError, match="first, last"):
        at.position_based(PATHS, 0.7, 0.5)


# --------------------------------------------------------------------------------------------
# UTM values


def test_utm_normalisation_url_parsing_and_channels():
    t = ibis.memtable(
        {
            "landing_url": [
                "https://m.x.cn/a?utm_source=Baidu%20SEM&UTM_MEDIUM=CPC"
                "&utm_campaign=%E7%90%86%E8%B4%A2%E8%8A%82&utm_term=%E5%9F%BA%E9%87%91+%E5%AE%9A%E6%8A%95",
                "https://m.x.cn/?utm_source=toutiao",  # column below wins
                None,
                "https://m.x.cn/landing",
                None,
            ],
            "utm_source": [None, " BD_SEM ", "wechat%5Fkol", None, "  "],
            "utm_campaign": [None, " 新手福利 ", "%E7%90%86%E8%B4%A2%E5%A4%A7V", None, None],
        },
        schema={"landing_url": "string", "utm_source": "string", "utm_campaign": "string"},
    )
    t = with_utm(t)
    t = t.mutate(channel=channel_of(t.utm_source, DEFAULT_CHANNELS))
    got = t.to_pandas()
    assert got.utm_source.tolist()[:3] == ["baidu sem", "bd_sem", "wechat_kol"]
    assert got.utm_medium[0] == "cpc"
    assert got.utm_campaign.tolist()[:3] == ["理财节", "新手福利", "理财大v"]
    assert got.utm_term[0] == "基金 定投"
    # aliases of one channel, and untagged (no source, blank source) kept as 未标记
    assert got.channel.tolist() == ["百度搜索", "百度搜索", "微信KOL", UNTAGGED_CHANNEL, UNTAGGED_CHANNEL]
    with pytest.raises(ValueError, match="field"):
        utm_from_url(t.landing_url, "utm_foo")


def test_broken_url_escapes_are_kept_as_written():
    # engines disagree on bad escapes (DuckDB keeps "%zz" and fails on a truncated character,
    # Spark fails on both), so a value is decoded only when every escape is a UTF-8 character
    values = {
        "50%off": "50%off",  # "%of" is no escape
        "%E4%B8": "%e4%b8",  # the last byte of 你 is missing
        "a%41%zz": "a%41%zz",  # one bad escape: nothing decoded, not half
        "%C0%80": "%c0%80",  # an overlong form of NUL is not UTF-8
        "%ED%A0%80": "%ed%a0%80",  # a surrogate is not UTF-8
        "100%": "100%",
        "%e4%bd%a0+%F0%9F%98%80": "你 😀",  # 3- and 4-byte characters, '+' a space
        "Wechat%5FKOL%20": "wechat_kol",
    }
    t = ibis.memtable({"v": list(values)}, schema={"v": "string"})
    got = t.mutate(n=normalise_utm(t.v)).to_pandas()
    assert dict(zip(got.v, got.n, strict=True)) == values


# --------------------------------------------------------------------------------------------
# hand-built dataset: stitching, monitoring table, paths

# Analysis date 2025-12-31.
# A1: clicks Baidu (mixed case) then registers as U1 (sign-up UTM baidu); card; invests
#     2025-01-10 (revenue 10), 2025-02-01 (5), 2025-09-01 (100): 30-day revenue 10, 90-day 15,
#     180-day 15; second investment within 90 days -> retained.
# A2: clicks toutiao 2025-06-20, then an untagged ad click; registers as U2 with no sign-up UTM
#     -> sign-up channel from the last TAGGED stitched touch: 信息流广告; invests 2025-07-01
#     (revenue 4) and 2025-12-20 (8): 30d 4, 90d 4, 180d 12 -- but 180 days after 07-01 is
#     2025-12-28 <= end, so matured at 180; a third user shows censoring:
# A3: clicks toutiao 2025-12-01, registers U3, invests 2025-12-10 (revenue 50): only the
#     30-day horizon (2026-01-09) has not passed -> not matured anywhere, must not deflate.
# A4: clicks dsp twice and never signs up (a visitor). Untagged U4 registers without touches.
def hand_dataset(tmp_path: Path, with_costs: bool = True, extra_events: list | None = None,
                 analysis_date: str = "2025-12-31", with_touches: bool = True) -> Path:
    rows = dict(
        users=[
            user("U1", "2025-01-05 10:00:00", utm_source="Baidu", utm_medium="CPC", utm_campaign="brand"),
            user("U2", "2025-06-25 10:00:00", utm_source=None, utm_medium=None, utm_campaign=None),
            user("U3", "2025-12-05 10:00:00", utm_source="toutiao", utm_medium="feed", utm_campaign=None),
            user("U4", "2025-03-01 10:00:00", utm_source=None, utm_medium=None, utm_campaign=None),
        ],
        events=[
            event("ad_click", "2025-01-04 09:00:00", anon="A1", utm_source=" BAIDU", utm_medium="cpc",
                  utm_campaign="brand"),
            event("app_install", "2025-01-04 09:30:00", anon="A1"),
            event("register", "2025-01-05 10:00:00", "U1", "A1"),
            event("bind_card", "2025-01-05 11:00:00", "U1", "A1"),
            event("ad_click", "2025-06-20 09:00:00", anon="A2", utm_source="toutiao", utm_medium="feed"),
            event("ad_click", "2025-06-24 09:00:00", anon="A2"),
            event("app_install", "2025-06-24 09:10:00", anon="A2"),
            event("register", "2025-06-25 10:00:00", "U2", "A2"),
            event("bind_card", "2025-06-26 10:00:00", "U2", "A2"),
            event("ad_click", "2025-12-01 09:00:00", anon="A3", utm_source="toutiao", utm_medium="feed"),
            event("register", "2025-12-05 10:00:00", "U3", "A3"),
            event("ad_click", "2025-05-01 09:00:00", anon="A4", utm_source="dsp", utm_medium="display"),
            event("ad_click", "2025-05-02 09:00:00", anon="A4", utm_source="Dsp", utm_medium="display"),
            event("register", "2025-03-01 10:00:00", "U4", "A5"),
            *(extra_events or []),
        ],
        transactions=[
            txn("T1", "U1", "2025-01-10 10:00:00", 1000.0, revenue=10.0),
            txn("T2", "U1", "2025-02-01 10:00:00", 1000.0, revenue=5.0),
            txn("T3", "U1", "2025-09-01 10:00:00", 1000.0, revenue=100.0),
            txn("T4", "U2", "2025-07-01 10:00:00", 500.0, revenue=4.0),
            txn("T5", "U2", "2025-12-20 10:00:00", 500.0, revenue=8.0),
            txn("T6", "U3", "2025-12-10 10:00:00", 2000.0, revenue=50.0),
        ],
        config={"name": "hand", "analysis_date": analysis_date},
    )
    if not with_touches:
        rows["events"] = [e for e in rows["events"] if e["event_name"] not in ("ad_click", "link_click")]
    if with_costs:
        rows["costs"] = [
            {"date": "2025-01-04", "utm_source": "baidu", "utm_medium": "cpc", "utm_campaign": "brand", "spend": 300.0},
            {"date": "2025-01-05", "utm_source": "Baidu ", "utm_medium": "cpc", "utm_campaign": "other", "spend": 100.0},
            {"date": "2025-06-20", "utm_source": "toutiao", "utm_medium": "feed", "utm_campaign": None, "spend": 60.0},
            {"date": "2025-05-01", "utm_source": "dsp", "utm_medium": "display", "utm_campaign": None, "spend": 20.0},
            {"date": "2026-01-01", "utm_source": "dsp", "utm_medium": "display", "utm_campaign": None, "spend": 999.0},
        ]
    return write_dataset(tmp_path / "hand", **rows)


def test_stitching_and_monitor_by_hand(tmp_path):
    ds = open_dataset(hand_dataset(tmp_path))
    s = at.stitching(ds)
    # 6 anonymous touches; A1's, A2's two and A3's are stitched, A4's two are not: 4/6
    assert (s["anonymous_touches"], s["stitched_touches"]) == (6, 4)
    assert s["stitch_rate"] == pytest.approx(4 / 6)
    # U1, U2, U3 have a touch before signing up; U4 none
    assert (s["registered"], s["registered_with_touch"]) == (4, 3)

    m = at.channel_monitor(ds).set_index("channel")
    assert set(m.index) == {"百度搜索", "信息流广告", "DSP", UNTAGGED_CHANNEL, at.TOTAL}
    # clicks: Baidu 1, toutiao 2, dsp 2 (case-cleaned), untagged 1 (A2's second click, kept)
    assert m.clicks.to_dict() == {"百度搜索": 1, "信息流广告": 2, "DSP": 2, UNTAGGED_CHANNEL: 1, at.TOTAL: 6}
    # installs: A1 after baidu; A2 after its untagged click
    assert m.installs["百度搜索"] == 1 and m.installs[UNTAGGED_CHANNEL] == 1
    # registrations: U1 baidu; U2 (no sign-up UTM) -> its last tagged touch toutiao; U3 toutiao; U4 untagged
    assert m.registrations.to_dict() == {"百度搜索": 1, "信息流广告": 2, "DSP": 0, UNTAGGED_CHANNEL: 1, at.TOTAL: 4}
    assert m.first_investors["信息流广告"] == 2
    # spend: costs before the end only, normalised source ("Baidu " counts): 400, 60, 20
    assert m.spend.to_dict() == {"百度搜索": 400.0, "信息流广告": 60.0, "DSP": 20.0, UNTAGGED_CHANNEL: 0.0, at.TOTAL: 480.0}
    assert m.cost_per_registration["信息流广告"] == pytest.approx(30.0)
    assert m.cost_per_investor["百度搜索"] == pytest.approx(400.0)
    # revenue horizons: 信息流 has U2 (matured at 30/90/180) and U3 (censored everywhere)
    assert m.matured_30d["信息流广告"] == 1 and m.matured_180d["信息流广告"] == 1
    assert m.revenue_30d["信息流广告"] == pytest.approx(4.0)
    assert m.revenue_180d["信息流广告"] == pytest.approx(12.0)
    assert m.revenue_90d["百度搜索"] == pytest.approx(15.0)
    # ROI at 180 days: (12 * 2 investors - 60) / 60; LTV/CAC = 12 / 30
    assert m.roi_180d["信息流广告"] == pytest.approx((24 - 60) / 60)
    assert m.revenue_per_yuan["信息流广告"] == pytest.approx(12 / 30)
    # retention: U1 second within 90 days -> retained; U2 second after 172 days -> not
    assert m.retained_rate["百度搜索"] == 1.0 and m.retained_rate["信息流广告"] == 0.0
    assert m.cost_per_retained_investor["百度搜索"] == pytest.approx(400.0)
    assert math.isnan(m.cost_per_retained_investor["信息流广告"])  # no retained investor: no cost
    # campaign level keeps every registration, with '-' for a missing campaign
    c = at.channel_monitor(ds, by="campaign", total=False)
    assert c.registrations.sum() == 4
    assert ("信息流广告", "toutiao", "feed", at.NONE) in set(
        zip(c.channel, c.source, c.medium, c.campaign, strict=True)
    )
    with pytest.raises(ValueError, match="by"):
        at.channel_monitor(ds, by="device")
    with pytest.raises(ValueError, match="ltv_horizon"):
        at.channel_monitor(ds, ltv_horizon=365)


def test_channel_map_parameter_adds_aliases(tmp_path):
    aliases = {"DSP": "程序化广告", " Toutiao%20Ads ": "信息流广告"}
    ds = open_dataset(hand_dataset(tmp_path), channel_map=aliases)
    names = {c.name: c.sources for c in ds.config.channels}
    assert names["程序化广告"] == ("dsp",) and "toutiao ads" in names["信息流广告"]
    assert "dsp" not in names["DSP"]  # the alias moved
    m = at.channel_monitor(ds).set_index("channel")
    # the visitor's two dsp clicks (and the dsp spend) now belong to the new channel
    assert m.clicks["程序化广告"] == 2 and "DSP" not in m.index
    assert m.spend["程序化广告"] == 20.0
    with pytest.raises(ConfigError, match="channel_map"):
        open_dataset(hand_dataset(tmp_path / "again"), channel_map=["dsp"])


def test_a_channel_map_given_at_load_reaches_the_touches_and_the_wide_table(tmp_path):
    # the map is applied when the dataset is opened, so the touches (chapter 3) and the wide
    # table's sign-up channel (chapters 1, 2, 5) agree: U1 signed up from baidu
    plain = open_dataset(hand_dataset(tmp_path / "plain"))
    ds = open_dataset(hand_dataset(tmp_path / "mapped"), channel_map={"baidu": "品牌搜索"})
    before = at.touches(plain).to_pandas()
    after = at.touches(ds).to_pandas()
    assert set(before[before.source == "baidu"].channel) == {"百度搜索"}
    assert set(after[after.source == "baidu"].channel) == {"品牌搜索"}
    wide = user_wide(ds).to_pandas().set_index("user_id")
    assert wide.signup_channel["U1"] == "品牌搜索"
    assert user_wide(plain).to_pandas().set_index("user_id").signup_channel["U1"] == "百度搜索"


def test_sign_up_channel_and_installs_use_the_monitor_touches_and_break_ties(tmp_path):
    # A6 clicks toutiao and wechat_kol in the same second, installs, and signs up as U6 with no
    # sign-up UTM: of tied touches the greatest key wins ("微信KOL..." > "信息流广告..." as
    # UTF-8 bytes: 微 is E5.., 信 is E4..), for the install and for the sign-up channel
    tied = [
        event("ad_click", "2025-03-01 09:00:00", anon="A6", utm_source="toutiao"),
        event("ad_click", "2025-03-01 09:00:00", anon="A6", utm_source="wechat_kol"),
        event("app_install", "2025-03-01 09:05:00", anon="A6"),
        event("link_click", "2025-03-01 09:00:00", anon="A6", utm_source="bd"),
        event("register", "2025-03-02 10:00:00", "U6", "A6"),
    ]
    path = hand_dataset(tmp_path, extra_events=tied)
    users = pd.read_parquet(path / "users.parquet")
    extra = pd.DataFrame([user("U6", "2025-03-02 10:00:00", utm_source=None, utm_medium=None,
                               utm_campaign=None)])
    extra["registered_at"] = pd.to_datetime(extra.registered_at)
    pd.concat([users, extra], ignore_index=True).to_parquet(path / "users.parquet", index=False)
    ds = open_dataset(path)
    m = at.channel_monitor(ds).set_index("channel")
    assert m.installs["微信KOL"] == 1 and m.registrations["微信KOL"] == 1
    # with link clicks as the only touches, BD合作 is U6's sign-up channel and U2 (ad clicks
    # only) is untagged; U1 and U3 keep their own sign-up UTM; DSP is there for its spend
    links = at.channel_monitor(ds, touch_events=["link_click"], total=False).set_index("channel")
    assert links.registrations.to_dict() == {"BD合作": 1, "DSP": 0, "百度搜索": 1, "信息流广告": 1,
                                             UNTAGGED_CHANNEL: 2}
    # installs: A6's after its bd click; A1's and A2's devices have no link click
    assert links.installs.to_dict() == {"BD合作": 1, "DSP": 0, "百度搜索": 0, "信息流广告": 0,
                                        UNTAGGED_CHANNEL: 2}


def test_an_install_goes_to_the_last_touch_up_to_it_on_its_device(tmp_path):
    # three more devices that never sign up (worked out by hand; the hand dataset's own: A1's
    # install after Baidu, A2's after an untagged click):
    # A7 clicks toutiao, installs in the same second (the touch counts: 信息流广告), clicks
    #    dsp the next day and installs again a day later (DSP);
    # A8 installs without any touch (未标记);
    # A9 clicks baidu and installs twice in one second (two rows that differ in utm_term):
    #    both installs are 百度搜索's
    extra = [
        event("ad_click", "2025-04-01 09:00:00", anon="A7", utm_source="toutiao"),
        event("app_install", "2025-04-01 09:00:00", anon="A7"),
        event("ad_click", "2025-04-02 09:00:00", anon="A7", utm_source="dsp"),
        event("app_install", "2025-04-03 09:00:00", anon="A7"),
        event("app_install", "2025-04-05 09:00:00", anon="A8"),
        event("ad_click", "2025-04-06 09:00:00", anon="A9", utm_source="baidu"),
        event("app_install", "2025-04-07 09:00:00", anon="A9", utm_term="a"),
        event("app_install", "2025-04-07 09:00:00", anon="A9", utm_term="b"),
    ]
    ds = open_dataset(hand_dataset(tmp_path, extra_events=extra))
    m = at.channel_monitor(ds, total=False).set_index("channel")
    assert m.installs.to_dict() == {"DSP": 1, "百度搜索": 3, "信息流广告": 1, UNTAGGED_CHANNEL: 2}


def test_paths_in_each_of_the_three_forms_are_the_same(tmp_path):
    # DuckDB lists each person's steps and sorts the list; PostgreSQL aggregates in step order;
    # PySpark, which cannot compile that aggregate, joins one column per step. All three on
    # DuckDB here, on every person's steps: the same path per person
    opened = [event("app_open", "2025-01-09 20:00:00", "U1", "A1")]
    ds = open_dataset(hand_dataset(tmp_path, extra_events=opened))
    steps = at.path_touches(ds, direct_events=["app_open"], max_touches=3)
    paths = {}
    for form in ("listed", "ordered", "pivoted"):
        t = at._person_paths(ds, steps, 3, form)
        paths[form] = sorted(t.to_pyarrow().to_pylist(), key=lambda r: (r["converted"], r["path"]))
    assert paths["listed"] == paths["ordered"] == paths["pivoted"]
    # the forms are not all the same expression
    assert "LIST_SORT" in str(ds.con.compile(at._person_paths(ds, steps, 3, "listed")))
    assert "LIST_SORT" not in str(ds.con.compile(at._person_paths(ds, steps, 3, "pivoted")))
    got = {tuple(r["path"].split(at._SEP)) for r in paths["listed"]}
    assert ("信息流广告", UNTAGGED_CHANNEL) in got
    assert ("百度搜索", DIRECT_CHANNEL) in got
    # DuckDB's default is the listed form, and the paths' counts read it
    assert "LIST_SORT" in str(ds.con.compile(at._person_paths(ds, steps, 3)))
    with pytest.raises(ValueError, match="'sorted' is not listed, ordered or pivoted"):
        at._person_paths(ds, steps, 3, "sorted")


def test_paths_leave_only_the_kept_touches_in_the_engine(tmp_path):
    ds = open_dataset(hand_dataset(tmp_path))
    temp = "SELECT table_name FROM duckdb_tables() WHERE temporary ORDER BY 1"
    before = {r[0] for r in ds.con.raw_sql(temp).fetchall()}
    at.attribution_paths(ds)
    at.attribution_paths(ds, lookback_days=8)
    added = {r[0] for r in ds.con.raw_sql(temp).fetchall()} - before
    # the marts the paths read (kept once per dataset), and no scratch table left behind
    marts = {"gl_person_events", "gl_investments"}
    assert marts <= added
    rest = added - marts
    assert len(rest) == 1 and next(iter(rest)).startswith("gl_touches_")


def test_monitor_without_costs_still_works(tmp_path):
    ds = open_dataset(hand_dataset(tmp_path, with_costs=False))
    m = at.channel_monitor(ds)
    assert m.attrs["costs_available"] is False
    assert m.spend.isna().all() and m.cost_per_investor.isna().all()
    assert m[m.channel == at.TOTAL].registrations.iloc[0] == 4
    # the volumes are there; every section that needs money says it needs the costs table
    assert at.monitor_summary(m)["costs_available"] == "没有"
    for needs_costs in (at.cost_summary, at.budget_reallocation):
        with pytest.raises(NotAvailable, match="数据中没有成本表"):
            needs_costs(m)


def test_touch_roles_the_data_lacks_and_no_touches_at_all(tmp_path):
    # the hand data has ad clicks only: the default touches are the roles it has, link_click
    # is named as left out; an explicit list is used as given (a role the data lacks adds none)
    ds = open_dataset(hand_dataset(tmp_path / "a"))
    assert at.default_touch_events(ds) == (("ad_click",), ("link_click",))
    links = at.channel_monitor(ds, touch_events=["link_click"])
    assert links.clicks.sum() == 0 and links[links.channel == at.TOTAL].registrations.iloc[0] == 4
    # no touch event at all: every role is kept (so the calls stay valid) and named as missing
    bare = open_dataset(hand_dataset(tmp_path / "b", with_touches=False))
    chosen, absent = at.default_touch_events(bare)
    assert chosen == absent == ("ad_click", "link_click")
    # the monitoring table still counts sign-ups by the UTM recorded at sign-up: U1 baidu,
    # U3 toutiao; U2 (whose channel came from a touch) and U4 untagged
    m = at.channel_monitor(bare, touch_events=chosen).set_index("channel")
    assert m.registrations.to_dict() == {"百度搜索": 1, "信息流广告": 1, "DSP": 0, UNTAGGED_CHANNEL: 2,
                                         at.TOTAL: 4}
    assert m.clicks.sum() == 0
    # the sections that need touches say so, naming the events they looked for
    for needs_touches in (at.utm_quality, at.attribution_paths):
        with pytest.raises(NotAvailable, match="ad_click、link_click.*截至分析日数据中没有这些事件"):
            needs_touches(bare, touch_events=chosen)


def test_nothing_to_attribute_and_nothing_matured(tmp_path):
    # analysis date 2025-01-31: only U1 has signed up (baidu click 2025-01-04, first investment
    # 2025-01-10, no second yet); 400 yuan spent on baidu by then
    ds = open_dataset(hand_dataset(tmp_path, analysis_date="2025-01-31"))
    with pytest.raises(NotAvailable, match="没有人完成「复投」"):
        at.attribution_paths(ds, conversion="second_investment")
    # a 1-day look-back: U1's click was 6 days before the investment, so no conversion has a
    # touch in its window and no credit can be shared between channels
    with pytest.raises(NotAvailable, match="回溯窗口内都没有任何触点"):
        at.attribution_paths(ds, lookback_days=1)
    assert at.attribution_paths(ds).conversions == 1
    # U1 has not been an investor for 180 days: no value, so no value or budget section
    m = at.channel_monitor(ds)
    assert at.monitor_summary(m)["matured"] == 0
    assert at.cost_summary(m, min_investors=1)["cheapest"] == "百度搜索"
    with pytest.raises(NotAvailable, match="都还不满 180 天"):
        at.budget_reallocation(m)
    # one horizon U1 has passed (7 days): the value is there
    short = at.channel_monitor(ds, horizons=(7, 180), ltv_horizon=7)
    assert at.budget_reallocation(short, min_investors=1).channel.tolist() == ["百度搜索"]


def test_the_chapter_parameters_are_checked_before_any_section():
    assert at.check_horizons([30, 90, 180], 180) == (30, 90, 180)
    with pytest.raises(ValueError, match="revenue_horizon_days: 365 must be one of the horizons"):
        at.check_horizons([30, 90, 180], 365)
    for bad in ([], [0, 30], [7.5], "30"):
        with pytest.raises(ValueError, match="horizons"):
            at.check_horizons(bad, 30)
    # one model has nothing to disagree with
    with pytest.raises(NotAvailable, match="至少两个归因模型"):
        at.model_pair(["markov", "markov"])


def test_one_channel_only_the_models_agree():
    # every converting path is one channel: each model gives it all the credit, no disagreement
    p = frame([(("A",), 3, 2), (("A", "A"), 1, 0)])
    models = at.attribute(p, models=PURE_MODELS)
    assert set(models.share) == {1.0}
    d = at.disagreement(models, p, "last_touch", "markov")
    got = at.models_summary(models, d)
    assert got["dis_channels"] == 1 and got["dis_a"] == got["dis_b"] == 1.0 and got["assisters"] == ""


def test_paths_lookback_direct_and_time_decay(tmp_path):
    ds = open_dataset(hand_dataset(tmp_path))
    p = at.attribution_paths(ds, lookback_days=30, half_life_days=7)
    got = {tuple(r.path): (r.conversions, r.nulls) for r in p.counts.itertuples()}
    # U1: baidu 6 days before investing; U2: toutiao (11 days) > untagged (7 days);
    # U3: toutiao 9 days before; A4 (visitor): dsp, dsp collapsed into one step, a null.
    # U4 has no touch and no investment: no path at all.
    assert got == {
        ("百度搜索",): (1, 0),
        ("信息流广告", UNTAGGED_CHANNEL): (1, 0),
        ("信息流广告",): (1, 0),
        ("DSP",): (0, 1),
    }
    # time decay, U2: weights 0.5**(11.04/7) and 0.5**(7.04/7) (days incl. the hours)
    w_t = 0.5 ** ((11 + 1 / 24) / 7)
    w_u = 0.5 ** ((7 + 1 / 24) / 7)
    assert p.time_decay[UNTAGGED_CHANNEL] == pytest.approx(w_u / (w_t + w_u))
    assert p.time_decay["信息流广告"] == pytest.approx(1 + w_t / (w_t + w_u))
    assert sum(p.time_decay.values()) == pytest.approx(3)
    # an 8-day lookback: U2's toutiao click (11 days) falls out, U3 (9 days) keeps no touch
    # and converts as direct
    short = at.attribution_paths(ds, lookback_days=8)
    got = {tuple(r.path): r.conversions for r in short.counts.itertuples()}
    assert got == {("百度搜索",): 1, (UNTAGGED_CHANNEL,): 1, (DIRECT_CHANNEL,): 1, ("DSP",): 0}
    assert short.conversions == 3
    out = at.attribute(short)
    assert out.groupby("model").conversions.sum().to_numpy() == pytest.approx(3)
    # registration as the conversion
    reg = at.attribution_paths(ds, conversion="register")
    assert reg.conversions == 4
    with pytest.raises(ValueError, match="conversion"):
        at.attribution_paths(ds, conversion="purchase")
    with pytest.raises(ValueError, match="lookback_days"):
        at.attribution_paths(ds, lookback_days=0)


def test_direct_visits_and_last_non_direct(tmp_path):
    # U1 opens the app (no UTM) the day before investing: with app_open as a direct event the
    # path is 百度搜索 > 直接访问; last touch credits direct, last non-direct gives it back to Baidu
    opened = [event("app_open", "2025-01-09 20:00:00", "U1", "A1")]
    ds = open_dataset(hand_dataset(tmp_path, extra_events=opened))
    p = at.attribution_paths(ds, direct_events=["app_open"])
    assert ("百度搜索", DIRECT_CHANNEL) in set(p.counts.path)
    out = at.attribute(p, models=["last_touch", "last_non_direct"])
    got = out.set_index(["model", "channel"]).conversions
    assert got["last_touch", DIRECT_CHANNEL] == 1 and got["last_non_direct", "百度搜索"] == 1
    # U2's path ends in an untagged click: untagged counts as direct for last non-direct too
    assert got["last_touch", UNTAGGED_CHANNEL] == 1 and got["last_non_direct", UNTAGGED_CHANNEL] == 0
    assert got["last_non_direct", "信息流广告"] == 2
    with pytest.raises(ValueError, match="direct_events"):
        at.attribution_paths(ds, direct_events=["open"])


def test_disagreement_and_budget_on_hand_tables():
    p = frame([(("F", "S"), 3, 0), (("S",), 1, 3), (("F",), 0, 1)])
    models = at.attribute(p, models=["last_touch", "linear", "markov"])
    d = at.disagreement(models, p)
    # F closes nothing and assists 3: it is the assister the last-touch model misses
    top = d.iloc[0]
    assert top.channel == "F" and top.role.startswith("助攻") and top.last_touch == 0
    mon = pd.DataFrame({
        "channel": ["X", "Y", "Z", at.TOTAL],
        "spend": [1000.0, 1000.0, 0.0, 2000.0],
        "first_investors": [10, 4, 5, 19],
        "cost_per_investor": [100.0, 250.0, 0.0, 2000 / 19],
        "revenue_180d": [50.0, 500.0, 80.0, 100.0],
    })
    b = at.budget_reallocation(mon, ltv_horizon=180, shift=0.1, min_investors=1)
    # Y: 500 / 250 = 2 per yuan, X: 50 / 100 = 0.5; Z has no spend
    assert b.channel.tolist() == ["Y", "X"]
    assert b.revenue_per_yuan.tolist() == pytest.approx([2.0, 0.5])
    assert b.suggestion.tolist() == ["加预算", "减预算"]
    assert b.attrs["shift_value"] == pytest.approx(0.1 * 1000 * (2.0 - 0.5))
    # with the default minimum of 30 investors neither is ranked: listed, no shift
    few = at.budget_reallocation(mon, ltv_horizon=180)
    assert few.suggestion.tolist() == ["人数太少"] * 2 and few.attrs["shift_value"] == 0.0
    with pytest.raises(NotAvailable, match="满足条件的付费渠道只有 0 个"):
        at.budget_summary(few)


def test_monitor_and_utm_summaries_by_hand(tmp_path):
    ds = open_dataset(hand_dataset(tmp_path))
    m = at.channel_monitor(ds)
    # 4 channels (with 未标记), 4 sign-ups, first investors U1 (百度) and U2, U3 (信息流);
    # spend 400 + 60 + 20 = 480 over the 3 first investors = 160 each. Paid channels with first
    # investors: 信息流 60 / 2 = 30 (cheapest), 百度 400 / 1 (dearest); only 百度 has a
    # retained investor (U1 again within 90 days), at 400
    # (min_investors=1: every channel is compared, however few investors it has). Matured at
    # 180 days: U1 and U2 (U3 invested 21 days before the end); retention base: U1, U2.
    assert at.monitor_summary(m) == {
        "channels": 4, "registrations": 4, "investors": 3, "matured": 2, "retention_base": 2,
        "costs_available": "有", "horizon": 180, "retention_days": 90}
    assert at.cost_summary(m, min_investors=1) == pytest.approx({
        "spend": 480.0, "cost_per_investor": 160.0, "spend_channels": 3, "ranked_channels": 2,
        "cheapest": "信息流广告", "cheapest_cpi": 30.0, "dearest": "百度搜索", "dearest_cpi": 400.0,
        "best_retained": "百度搜索", "best_cost_per_retained": 400.0, "min_investors": 1})
    # with the default minimum (30 investors) no channel of 1 or 2 investors is compared
    few = at.cost_summary(m)
    assert few["spend"] == 480.0 and few["ranked_channels"] == 0
    assert few["cheapest"] == few["dearest"] == few["best_retained"] == "无"
    assert math.isnan(few["cheapest_cpi"]) and math.isnan(few["best_cost_per_retained"])
    bare = at.monitor_summary(at.channel_monitor(open_dataset(hand_dataset(tmp_path / "n", with_costs=False))))
    assert bare["costs_available"] == "没有" and bare["investors"] == 3
    utm = at.utm_quality(ds)
    got = at.utm_summary(utm, at.stitching(ds), m)
    # 6 ad clicks; A2's second has no source; " BAIDU" and "Dsp" are written otherwise and
    # cleaned; no landing URL; every source is in the channel map. U4 signed up untagged (1 of
    # 4); 4 of the 6 anonymous touches found their user; U1-U3 had a touch before signing up
    assert got == pytest.approx({
        "touches": 6, "untagged_touches": 1, "untagged_share": 1 / 6, "cleaned_touches": 2,
        "url_touches": 0, "unmapped_touches": 0, "untagged_registrations": 1,
        "untagged_reg_share": 1 / 4, "anonymous_touches": 6, "stitched_touches": 4,
        "stitch_rate": 4 / 6, "touch_coverage": 3 / 4})


def test_paths_models_and_budget_summaries_by_hand():
    counts = frame([(("F", "S"), 3, 0), (("S",), 1, 3), (("F",), 0, 1)])
    paths = at.Paths(counts, {}, "first_investment", 30, 7)
    # 4 conversions, 4 nulls, 3 paths over 2 channels; F > S has 3 of the 4 conversions
    assert at.paths_summary(paths) == pytest.approx({
        "conversion": "首投", "conversions": 4, "nulls": 4, "distinct_paths": 3, "model_channels": 2,
        "shapley_method": at.SHAPLEY_METHODS[True], "direct_conversions": 0,
        "top_path": "F > S", "top_path_share": 0.75, "min_conversions": at.MIN_CONVERSIONS})
    assert at.paths_summary(paths, shapley_exact_max=1)["shapley_method"] == at.SHAPLEY_METHODS[False]
    assert at.model_pair(["first_touch", "last_touch", "markov"]) == ("last_touch", "markov")
    assert at.model_pair(["linear", "position_based", "shapley"]) == ("linear", "shapley")
    with pytest.raises(ValueError, match="models"):
        at.model_pair([])
    models = at.attribute(counts, models=["last_touch", "linear", "markov"])
    d = at.disagreement(models, counts, *at.model_pair(["last_touch", "linear", "markov"]))
    got = at.models_summary(models, d)
    # F closes nothing (last touch 0) and assists 3 conversions; Markov gives it credit: it is
    # the only channel Markov raises
    markov_f = models.set_index(["model", "channel"]).share["markov", "F"]
    assert got == pytest.approx({
        "dis_channel": "F", "dis_a": 0.0, "dis_b": markov_f, "dis_role": "助攻",
        "dis_assisted": 3, "dis_closed": 0, "dis_a_model": at.MODEL_LABELS["last_touch"],
        "dis_b_model": at.MODEL_LABELS["markov"], "assisters": "F", "dis_channels": 2, "dis_untracked": False,
        "dis_conversions": 4, "dis_min_conversions": at.MIN_CONVERSIONS})
    mon = pd.DataFrame({
        "channel": ["X", "Y", at.TOTAL], "spend": [1000.0, 1000.0, 2000.0],
        "first_investors": [10, 4, 14], "cost_per_investor": [100.0, 250.0, 2000 / 14],
        "revenue_180d": [50.0, 500.0, 100.0],
    })
    b = at.budget_reallocation(mon, ltv_horizon=180, shift=0.1, min_investors=1)
    # Y earns 2 per yuan (break-even passed), X 0.5; moving 10% of X's 1000 gains 100 x 1.5
    assert at.value_summary(b) == {"above_break_even": 1, "paid_channels": 2, "small_channels": 0,
                                   "value_min_investors": 1}
    assert at.budget_summary(b) == pytest.approx({
        "budget_best": "Y", "budget_best_ratio": 2.0, "budget_worst": "X",
        "budget_worst_ratio": 0.5, "budget_shift": 0.1, "budget_shift_spend": 100.0,
        "budget_shift_value": 150.0, "budget_ranked": 2, "budget_small": 0,
        "budget_min_investors": 1})
    # one paid channel only: its value is shown, but a budget moves between two
    one = at.budget_reallocation(mon[mon.channel != "X"], ltv_horizon=180, min_investors=1)
    assert at.value_summary(one)["paid_channels"] == 1
    with pytest.raises(NotAvailable, match="至少两个可比的付费渠道"):
        at.budget_summary(one)


# --------------------------------------------------------------------------------------------
# the demo's truth


def test_demo_best_channel_has_lowest_cost_per_retained_investor():
    truth = json.loads((DEMO_DATA / "truth.json").read_text(encoding="utf-8"))
    ds = open_dataset(DEMO_DATA)
    m = at.channel_monitor(ds)
    paid = m[(m.spend > 0) & (m.channel != at.TOTAL)].dropna(subset=["cost_per_retained_investor"])
    best = paid.sort_values("cost_per_retained_investor").channel.iloc[0]
    qualities = {k: v["quality_score"] for k, v in truth["channels"].items() if v["kind"] == "paid"}
    assert best == truth["best_paid_channel"] == max(qualities, key=qualities.get)
    # untagged registrations are shown, not dropped: the rows add up to every user
    assert m[m.channel != at.TOTAL].registrations.sum() == truth["n_users"]
    assert UNTAGGED_CHANNEL in set(m.channel)


def test_each_touch_gets_the_normalised_values_of_what_it_wrote_once():
    # the values as written are the join key ('' for none): a null and a blank both normalise
    # to no value, a blank or null column falls back to the landing URL (field by field), and no
    # row is doubled or lost
    url = "https://x.cn/?utm_source=Baidu&utm_campaign=%E6%98%A5"
    rows = [(None, None, None, None), ("", None, None, None), (" ", None, None, url),
            ("Toutiao", "feed", None, None), ("toutiao", None, "feed", None),
            ("toutiao", "feed", None, url), ("x", "", "", None), ("x", None, None, None)]
    t = ibis.memtable(pd.DataFrame(rows, columns=["utm_source", "utm_medium", "utm_campaign",
                                                  "landing_url"]).assign(n=range(len(rows))),
                      schema={"utm_source": "string", "utm_medium": "string",
                              "utm_campaign": "string", "landing_url": "string", "n": "int64"})
    got = with_utm_values(t, DEFAULT_CHANNELS).order_by("n").to_pandas()
    assert got.n.tolist() == list(range(len(rows)))
    nothing = (None, None, None)
    assert list(zip(got._source, got._medium, got._campaign, strict=True)) == [
        nothing, nothing, ("baidu", None, "春"), ("toutiao", "feed", None), ("toutiao", None, "feed"),
        ("toutiao", "feed", "春"), ("x", None, None), ("x", None, None)]
    assert got._channel.tolist() == [UNTAGGED_CHANNEL, UNTAGGED_CHANNEL, "百度搜索", "信息流广告",
                                     "信息流广告", "信息流广告", "x", "x"]


def test_joined_and_substituted_channel_maps_agree_when_a_name_is_another_channels_alias():
    # "baidu" is the (lower-cased) name of the first channel and a listed source of the second.
    # A listed source wins over a channel's own name (channel_mapping), so "baidu" belongs to
    # 搜索广告 in the join (with_channel: the wide table's sign-up channel) as in the substitution
    # (channel_of: the touches); "bd" is Baidu's, "搜索广告" its own, an unknown source itself.
    # Before the join took its pairs from channel_mapping it gave "baidu" to Baidu.
    channels = (Channel("Baidu", "Baidu", "paid", ("bd",)),
                Channel("搜索广告", "Search", "paid", ("baidu",)))
    t = ibis.memtable({"src": ["baidu", "bd", "搜索广告", "other", None]}, schema={"src": "string"})
    joined = with_channel(t, "src", channels).order_by("src").to_pandas()
    subst = (t.mutate(channel=channel_of(normalise_utm(t.src), channels))
             .order_by("src").to_pandas())
    want = {"baidu": "搜索广告", "bd": "Baidu", "搜索广告": "搜索广告", "other": "other",
            None: UNTAGGED_CHANNEL}
    for got in (joined, subst):
        assert dict(zip(got.src.where(got.src.notna(), None), got.channel, strict=True)) == want


def test_channel_lookup_maps_each_distinct_source_as_with_channel_maps_a_row():
    # raw sources as a log writes them: an alias in another case with spaces, URL-encoded,
    # a listed source, a channel's own name, an unknown source, a blank, and null; repeated
    channels = (Channel("Baidu", "Baidu", "paid", ("bd",)),
                Channel("搜索广告", "Search", "paid", ("baidu",)))
    raw = [" BaiDu ", "bd", "%E6%90%9C%E7%B4%A2%E5%B9%BF%E5%91%8A", "搜索广告", "other", " ",
           None, "bd", " BaiDu "]
    t = ibis.memtable({"n": list(range(len(raw))), "src": raw},
                      schema={"n": "int64", "src": "string"})
    lookup = channel_lookup(t.src, channels)
    # one row per distinct non-null source, nulls left to the caller's join
    assert sorted(lookup.to_pandas()._raw) == sorted({r for r in raw if r is not None})
    by_lookup = t.left_join(lookup, t.src == lookup._raw)
    by_lookup = by_lookup.select("n", channel=by_lookup.channel.fill_null(UNTAGGED_CHANNEL))
    by_row = with_channel(t, "src", channels).select("n", "channel")
    want = ["搜索广告", "Baidu", "搜索广告", "搜索广告", "other", UNTAGGED_CHANNEL,
            UNTAGGED_CHANNEL, "Baidu", "搜索广告"]
    for got in (by_lookup, by_row):
        assert got.order_by("n").to_pandas().channel.tolist() == want


def test_bad_model_and_horizon_parameters_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="horizons"):
        at.channel_monitor(None, horizons=(30.5, 90))
    with pytest.raises(ValueError, match="horizons"):
        at.channel_monitor(None, horizons=(0.5,))
    with pytest.raises(ValueError, match="shapley_exact_max"):
        at.shapley([(("A", "B"), 3, 1)], exact_max=40)
    with pytest.raises(ValueError, match="shapley_samples"):
        at.shapley([(("A", "B"), 3, 1)], samples=True)
    with pytest.raises(ValueError, match="max_touches"):
        at.path_touches(None, max_touches=True)


def test_weekly_trend_counts_by_hand(tmp_path: Path) -> None:
    """Analysis day Monday 2025-03-31: the last complete week is 24-30 March, the one before
    17-23 March. Week 17: U1 and U2 sign up with baidu, U1 invests two days later; spend 100 on
    Monday 17 and 50 on Sunday 23. Week 24: U3 signs up and invests the next day; spend 60. U4
    (10 March) and the 999 spent on 31 March fall outside the two weeks."""
    from growthloop.errors import NotAvailable
    from growthloop.metrics import attribution as at

    users = [user("U1", "2025-03-18 10:00:00"), user("U2", "2025-03-19 10:00:00"),
             user("U3", "2025-03-25 10:00:00"), user("U4", "2025-03-10 10:00:00")]
    evs = [event("register", u["registered_at"], u["user_id"], f"A{i}") for i, u in enumerate(users)]
    costs = [{"date": d, "utm_source": "baidu", "utm_medium": "cpc", "utm_campaign": "brand",
              "spend": v} for d, v in (("2025-03-17", 100.0), ("2025-03-23", 50.0),
                                        ("2025-03-24", 60.0), ("2025-03-31", 999.0))]
    ds = open_dataset(write_dataset(
        tmp_path / "d", users=users, events=evs, costs=costs,
        transactions=[txn("T1", "U1", "2025-03-20 10:00:00", 100.0),
                      txn("T3", "U3", "2025-03-26 10:00:00", 100.0)],
        config={"name": "d", "analysis_date": "2025-03-31"}))
    t = at.weekly_trend(ds, weeks=2, invest_days=5)
    assert [str(w) for w in t.week] == ["2025-03-17", "2025-03-24"]
    assert t.channel.tolist() == ["百度搜索", "百度搜索"]
    assert t.registrations.tolist() == [2, 1] and t.first_investors.tolist() == [1, 1]
    assert t.spend.tolist() == [150.0, 60.0] and t.cost_per_registration.tolist() == [75.0, 60.0]
    # week 17 + 7 + 5 days = 29 March, before the period end (1 April): matured; week 24 is not
    assert t.matured.tolist() == [True, False]
    assert t.first_invest_rate.iloc[0] == 0.5 and math.isnan(t.first_invest_rate.iloc[1])
    # 环比 with one week per period: 75 -> 60 yuan, -20%
    summary = at.trend_summary(t, recent=1, min_users=1)
    assert summary["compared"] and summary["rising"] == "" and summary["falling"] == "百度搜索"
    assert summary["falling_change"] == pytest.approx(-0.2)
    # a period with fewer sign-ups than min_users is not compared
    assert at.trend_summary(t, recent=1, min_users=2)["why_not"] == "small"
    assert at.trend_summary(t, recent=4)["why_not"] == "weeks"  # two weeks are fewer than 2 x 4
    assert at.trend_summary(t.assign(spend=float("nan")), recent=1)["why_not"] == "costs"
    assert at.trend_summary(t, recent=1, min_users=1)["why_not"] == ""
    with pytest.raises(ValueError, match="weeks"):
        at.weekly_trend(ds, weeks=0)
    # no one signed up in the weeks asked for
    early = open_dataset(write_dataset(
        tmp_path / "e", users=users[3:], events=evs[3:],
        transactions=[txn("T4", "U4", "2025-03-12 10:00:00", 100.0)],
        config={"name": "e", "analysis_date": "2025-06-30"}))
    with pytest.raises(NotAvailable):
        at.weekly_trend(early, weeks=2)


def test_paths_are_computed_once_per_dataset_and_each_caller_gets_a_copy(tmp_path):
    ds = open_dataset(hand_dataset(tmp_path))
    first = at.attribution_paths(ds, max_touches=3)
    first.counts.loc[0, "conversions"] = 999  # a caller changing its result
    first.time_decay.clear()
    calls = []
    real = ds.con.compile
    ds.con.compile = lambda *a, **k: calls.append(a) or real(*a, **k)
    again = at.attribution_paths(ds, max_touches=3)
    assert calls == []  # read from the dataset's memo, no query
    assert again.counts.conversions.iloc[0] != 999 and again.time_decay
    other = at.attribution_paths(ds, max_touches=2)  # other parameters: computed
    assert calls and other is not again


def test_utm_quality_counts_sources_from_the_landing_url_and_outside_the_map(tmp_path: Path):
    """The hand dataset's 6 ad clicks (1 untagged; " BAIDU" and "Dsp" cleaned) and 4 more:
    no source column, the landing URL's percent-encoded 微博 (from the URL; not counted as
    cleaned, which compares the column as written; outside the channel map); a blank column,
    the URL's "Baidu" (from the URL, in the map); "toutiao" with a URL saying dsp (the column
    wins); "Weibo" (cleaned to weibo, outside the map). 10 touches: 1 untagged, 3 cleaned,
    2 from the URL, 2 outside the map."""
    url = "https://x.cn/p?utm_source={}&utm_medium=cpc"
    extra = [
        event("ad_click", "2025-04-01 09:00:00", anon="A6", landing_url=url.format("%E5%BE%AE%E5%8D%9A")),
        event("ad_click", "2025-04-02 09:00:00", anon="A6", utm_source=" ", landing_url=url.format("Baidu")),
        event("ad_click", "2025-04-03 09:00:00", anon="A6", utm_source="toutiao", landing_url=url.format("dsp")),
        event("ad_click", "2025-04-04 09:00:00", anon="A6", utm_source="Weibo"),
    ]
    got = at.utm_quality(open_dataset(hand_dataset(tmp_path, extra_events=extra)))
    assert got.touches.tolist() == [10, 1, 3, 2, 2]
    assert got.share.tolist() == pytest.approx([1.0, 0.1, 0.3, 0.2, 0.2])

"""The funnel against hand-built event logs, a brute-force reference and the demo's true rates.

Hand-built logs go straight into the engine as memtables (identity.stitched_steps -> step_times_from ->
funnel_table, the same code `funnel(ds)` runs); the expected counts are worked out by hand in
the comments. A brute-force per-person reference in plain Python checks random small logs.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from growthloop import DEMO_DATA
from growthloop.errors import NotAvailable
from growthloop.marts.identity import stitched_steps
from growthloop.metrics import funnel as fn

END = dt.datetime(2025, 4, 1)  # analysis date 2025-03-31
D0 = dt.datetime(2025, 1, 1)

EV_SCHEMA = {
    "event_time": "timestamp",
    "event_name": "string",
    "user_id": "string",
    "anonymous_id": "string",
    "utm_source": "string",
}
TX_SCHEMA = {"txn_id": "string", "user_id": "string", "txn_time": "timestamp"}


def at(day: float, hour: float = 0) -> dt.datetime:
    return D0 + dt.timedelta(days=day, hours=hour)


def ev(
    name: str,
    time: dt.datetime,
    uid: str | None = None,
    anon: str | None = None,
    src: str | None = None,
) -> dict:
    return {
        "event_time": time,
        "event_name": name,
        "user_id": uid,
        "anonymous_id": anon,
        "utm_source": src,
    }


def tables(events: list[dict], txns: list[tuple[str, str, dt.datetime]] = ()):
    e = ibis.memtable(pd.DataFrame(events, columns=list(EV_SCHEMA)), schema=EV_SCHEMA)
    t = ibis.memtable(pd.DataFrame(list(txns), columns=list(TX_SCHEMA)), schema=TX_SCHEMA)
    return e, t


def run(events, txns=(), end=END, **params) -> pd.DataFrame:
    spec = fn.make_spec(**params)
    e, t = tables(events, txns)
    times = fn.step_times_from(stitched_steps(e, t, end, spec.names), spec, end)
    return fn.funnel_table(times, spec).set_index("step")


def users(result: pd.DataFrame) -> list[int]:
    return result.users.tolist()


AIR = ["ad_click", "app_install", "register"]


def test_steps_out_of_order() -> None:
    # P1 registers before installing: install is reached (after the click), register is not,
    # because it must come at or after the install. P2 does them in order.
    events = [
        ev("ad_click", at(0), anon="d1"),
        ev("register", at(0, 1), "P1", "d1"),
        ev("app_install", at(0, 2), "P1", "d1"),
        ev("ad_click", at(0), anon="d2"),
        ev("app_install", at(0, 1), anon="d2"),
        ev("register", at(0, 2), "P2", "d2"),
    ]
    assert users(run(events, steps=AIR)) == [2, 2, 1]


def test_repeated_events_unique_and_total() -> None:
    # three clicks (day 0 10h, day 0 11h, day 1 9h), two installs (day 1 10h, day 2), register
    # day 2 12h. Unique: one person through all three steps. Total: three attempts; the first
    # two end at the next click, so only the third (from day 1 9h) gets the install and register.
    events = [
        ev("ad_click", at(0, 10), anon="d"),
        ev("ad_click", at(0, 11), anon="d"),
        ev("ad_click", at(1, 9), anon="d"),
        ev("app_install", at(1, 10), anon="d"),
        ev("app_install", at(2), anon="d"),
        ev("register", at(2, 12), "U", "d"),
    ]
    assert users(run(events, steps=AIR)) == [1, 1, 1]
    assert users(run(events, steps=AIR, count="total")) == [3, 1, 1]


def test_window_edge_is_inclusive() -> None:
    # window 7 days from the click at day 0 00:00: an install at exactly day 7 00:00 counts,
    # one a second later does not.
    events = [
        ev("ad_click", at(0), anon="a"),
        ev("app_install", at(7), anon="a"),
        ev("ad_click", at(0), anon="b"),
        ev("app_install", at(7) + dt.timedelta(seconds=1), anon="b"),
    ]
    res = run(events, steps=AIR[:2], window_days=7)
    assert users(res) == [2, 1]
    assert res.loc["app_install", "lost"] == 1
    # a per-step window of 1 day from the previous step is inclusive too
    events = [
        ev("ad_click", at(0), anon="a"),
        ev("app_install", at(2), anon="a"),
        ev("register", at(3), "A", "a"),
        ev("ad_click", at(0), anon="b"),
        ev("app_install", at(2), anon="b"),
        ev("register", at(3, 1), "B", "b"),
    ]
    res = run(events, steps=AIR, window_days=7, step_windows={"register": 1})
    assert users(res) == [2, 2, 1]


def test_a_step_window_settles_the_step_before_the_whole_window() -> None:
    # the analysis ends on day 90; entries on days 80 and 89, so nobody's 30-day window has
    # passed. register must follow the install within 3 days (its own window): a registers in
    # time, b's 3 days ended on day 83 (lost, not in progress), c's end on day 92 (in progress)
    events = [
        ev("ad_click", at(80), anon="a"),
        ev("app_install", at(80, 1), anon="a"),
        ev("register", at(81), "A", "a"),
        ev("ad_click", at(80), anon="b"),
        ev("app_install", at(80, 1), anon="b"),
        ev("ad_click", at(89), anon="c"),
        ev("app_install", at(89, 1), anon="c"),
    ]
    res = run(events, steps=AIR, window_days=30, step_windows={"register": 3})
    assert users(res) == [3, 3, 1]
    reg = res.loc["register"]
    assert (reg.lost, reg.in_progress) == (1, 1)
    # the rate from the install counts only a and b, whose register deadline has passed
    assert (reg.base_previous, reg.converted_previous) == (2, 1)
    assert reg.rate_from_previous == 0.5
    # the install has no window of its own: nobody who missed it is settled before day 110
    assert res.loc["app_install", "base_previous"] == 0


def test_strict_against_sequential() -> None:
    steps = ["ad_click", "app_install", "register", "bind_card"]
    events = []
    # P1 clean; P2 clicks twice before installing (a repeat of the previous step: allowed);
    # P3 clicks again between install and register (another funnel step: breaks strict);
    # P4 does kyc between register and bind_card (not a step of this funnel: allowed).
    for p, names in {
        "P1": ["ad_click", "app_install", "register", "bind_card"],
        "P2": ["ad_click", "ad_click", "app_install", "register", "bind_card"],
        "P3": ["ad_click", "app_install", "ad_click", "register", "bind_card"],
        "P4": ["ad_click", "app_install", "register", "kyc_verified", "bind_card"],
    }.items():
        registered = False
        for h, name in enumerate(names):
            registered = registered or name == "register"
            events.append(ev(name, at(1, h), p if registered else None, p.lower()))
    assert users(run(events, steps=steps)) == [4, 4, 4, 4]
    strict = run(events, steps=steps, order="strict")
    assert users(strict) == [4, 4, 3, 3]
    # P3 is lost at register although its window is open (day 31 > the analysis end? no: day
    # 1 + 30 = day 31 < end), and counted lost rather than in progress
    assert strict.loc["register", "lost"] == 1 and strict.loc["register", "in_progress"] == 0


def test_exclusion() -> None:
    steps = ["register", "kyc_verified", "bind_card", "first_investment"]
    excl = [("coupon_claim", "register", "bind_card")]
    events, txns = [], []
    # P1: coupon before kyc -> leaves at register (1 step); P2: coupon after bind_card -> not
    # excluded (4 steps); P3: coupon between kyc and bind_card -> keeps kyc, leaves (2 steps).
    for p, names in {
        "P1": ["register", "coupon_claim", "kyc_verified", "bind_card"],
        "P2": ["register", "kyc_verified", "bind_card", "coupon_claim"],
        "P3": ["register", "kyc_verified", "coupon_claim", "bind_card"],
    }.items():
        for h, name in enumerate(names):
            events.append(ev(name, at(1, h), p, p.lower()))
        txns.append((f"T{p}", p, at(1, 10)))
    assert users(run(events, txns, steps=steps)) == [3, 3, 3, 3]
    res = run(events, txns, steps=steps, exclusions=excl)
    assert users(res) == [3, 2, 1, 1]
    assert res.excluded.tolist() == [0, 1, 1, 0]


def test_censored_user_is_not_lost() -> None:
    # window 30 days, analysis end 2025-04-01 00:00.
    # C1 registers 03-20, no kyc yet: in progress (deadline 04-19), not in the denominator.
    # C2 registers 01-01, no kyc: lost. C3 registers 03-25, kyc 03-26: reached, but its window is
    # open, so it is kept out of the rate as well. C4 registers 01-01, kyc 01-02: converted.
    steps = ["register", "kyc_verified"]
    events = [
        ev("register", dt.datetime(2025, 3, 20), "C1", "c1"),
        ev("register", dt.datetime(2025, 1, 1), "C2", "c2"),
        ev("register", dt.datetime(2025, 3, 25), "C3", "c3"),
        ev("kyc_verified", dt.datetime(2025, 3, 26), "C3", "c3"),
        ev("register", dt.datetime(2025, 1, 1), "C4", "c4"),
        ev("kyc_verified", dt.datetime(2025, 1, 2), "C4", "c4"),
    ]
    res = run(events, steps=steps)
    kyc = res.loc["kyc_verified"]
    assert users(res) == [4, 2]
    assert (kyc.in_progress, kyc.lost, kyc.base_previous, kyc.converted_previous) == (1, 1, 2, 1)
    assert kyc.rate_from_previous == 0.5 and kyc.rate_from_start == 0.5
    # the naive rate (PostHog, Mixpanel) would be 2 / 4; with C1 counted as lost, 1 / 3 among
    # those without a late sign-up: neither is what the settled people show


def test_users_with_only_later_steps_are_outside() -> None:
    # L registers and binds a card without any recorded click or install: not in a funnel that
    # starts at ad_click, at no step.
    events = [
        ev("register", at(1), "L", "l"),
        ev("bind_card", at(1, 1), "L", "l"),
        ev("ad_click", at(1), anon="m"),
        ev("app_install", at(1, 1), anon="m"),
    ]
    res = run(events, steps=["ad_click", "app_install", "register", "bind_card"])
    assert users(res) == [1, 1, 0, 0]


def test_two_users_share_an_anonymous_id() -> None:
    # device D: click (day 0), install (day 0 1h), U1 registers (day 0 2h); later a click
    # (day 5), U2 registers (day 5 1h); then a logged-out click (day 6). Visitor E clicks only.
    # Clicks before U1's sign-up are U1's, the day-5 click is U2's, the day-6 click belongs to
    # the device's last user U2 (already entered). U2 never installed under its own history.
    events = [
        ev("ad_click", at(0), anon="D"),
        ev("app_install", at(0, 1), anon="D"),
        ev("register", at(0, 2), "U1", "D"),
        ev("ad_click", at(5), anon="D"),
        ev("register", at(5, 1), "U2", "D"),
        ev("ad_click", at(6), anon="D"),
        ev("ad_click", at(1), anon="E"),
    ]
    e, t = tables(events)
    owners = (
        stitched_steps(e, t, END).order_by("event_time").to_pandas().set_index("event_time").person_id
    )
    assert owners[at(0)] == "U1" and owners[at(0, 1)] == "U1"
    assert owners[at(5)] == "U2" and owners[at(6)] == "U2" and owners[at(1)] == "anon:E"
    assert users(run(events, steps=AIR)) == [3, 1, 1]
    # total conversions: U1 1 attempt, U2 2 (day 5, day 6), E 1
    assert users(run(events, steps=AIR, count="total")) == [4, 1, 1]


def test_device_sign_ups_at_one_instant_and_at_the_event() -> None:
    # device S: U9 and U3 sign up at the same instant (day 2): the earlier click goes to the
    # smaller user id, U3. Device T: a click at the very instant of V1's sign-up is V1's (a
    # sign-up at the same instant counts as next); the click after V2's sign-up is V2's.
    events = [
        ev("ad_click", at(1), anon="S"),
        ev("register", at(2), "U9", "S"),
        ev("register", at(2), "U3", "S"),
        ev("ad_click", at(3), anon="T"),
        ev("register", at(3), "V1", "T"),
        ev("register", at(4), "V2", "T"),
        ev("ad_click", at(4, 1), anon="T"),
    ]
    e, t = tables(events)
    out = stitched_steps(e, t, END, ["ad_click"]).to_pandas().set_index(["anonymous_id", "event_time"])
    assert out.person_id.to_dict() == {("S", at(1)): "U3", ("T", at(3)): "V1",
                                       ("T", at(4, 1)): "V2"}


def test_a_device_with_many_sign_ups_given_out_of_order() -> None:
    # device P: sign-ups listed out of time order, and user ids that do not follow the time
    # (Z5 day 1, A2 day 3, M7 day 5, B4 day 8), clicks between them. Each click goes to the
    # next sign-up at or after it, a click after the last one to that last user (B4); the click
    # at day 5 to M7, who signs up at that instant. Device Q has one sign-up (K1): all its
    # clicks are K1's, before and after it.
    events = [
        ev("register", at(5), "M7", "P"),
        ev("ad_click", at(9), anon="P"),
        ev("register", at(1), "Z5", "P"),
        ev("ad_click", at(4), anon="P"),
        ev("register", at(8), "B4", "P"),
        ev("ad_click", at(0), anon="P"),
        ev("ad_click", at(5), anon="P"),
        ev("register", at(3), "A2", "P"),
        ev("ad_click", at(2), anon="P"),
        ev("ad_click", at(6), anon="P"),
        ev("ad_click", at(0), anon="Q"),
        ev("register", at(2), "K1", "Q"),
        ev("ad_click", at(7), anon="Q"),
    ]
    e, t = tables(events)
    out = stitched_steps(e, t, END, ["ad_click"]).to_pandas().set_index(["anonymous_id", "event_time"])
    assert out.person_id.to_dict() == {
        ("P", at(0)): "Z5", ("P", at(2)): "A2", ("P", at(4)): "M7", ("P", at(5)): "M7",
        ("P", at(6)): "B4", ("P", at(9)): "B4", ("Q", at(0)): "K1", ("Q", at(7)): "K1",
    }
    assert not out.user_id.isnull().any()


def test_spec_from_step_keeps_the_rest_of_the_funnel() -> None:
    spec = fn.make_spec(["a", "b", "c", "d"], window_days=14, step_windows={"c": 3, "d": 5},
                        exclusions=[("x", "a", "c"), ("y", "a", "b")], count="total")
    # from b on: c and d keep their windows; x (a..c) now runs b..c; y ended at b: dropped
    assert spec.from_step("b") == fn.make_spec(["b", "c", "d"], window_days=14,
                                               step_windows={"c": 3, "d": 5},
                                               exclusions=[("x", "b", "c")], count="total")
    assert spec.from_step("a") == spec
    with pytest.raises(ValueError, match="step"):
        spec.from_step("z")
    with pytest.raises(ValueError, match="last step"):
        spec.from_step("d")


def test_cohort_funnel_of_the_default_spec_is_the_cohort_steps() -> None:
    # the chapter's default funnel from register on: the steps cohorts always had
    assert fn.cohort_spec(fn.make_spec()) == fn.make_spec(fn.COHORT_STEPS)
    assert fn.cohort_spec(fn.make_spec(window_days=7, order="strict")) == fn.make_spec(
        fn.COHORT_STEPS, window_days=7, order="strict")
    # without register (or with it last) the spec is taken whole, counting people
    whole = fn.make_spec(["ad_click", "app_install"], count="total")
    assert fn.cohort_spec(whole) == fn.make_spec(["ad_click", "app_install"])
    last = fn.make_spec(["app_install", "register"])
    assert fn.cohort_spec(last) == last


def test_spec_is_one_argument() -> None:
    spec = fn.make_spec(TINY_STEPS, window_days=60)
    assert fn.as_spec(spec) is spec
    assert fn.as_spec(steps=TINY_STEPS, window_days=60) == spec
    assert fn.as_spec() == fn.make_spec()
    with pytest.raises(ValueError, match="spec: pass a FunnelSpec"):
        fn.as_spec(TINY_STEPS)
    with pytest.raises(ValueError, match="not both"):
        fn.as_spec(spec, window_days=7)
    with pytest.raises(TypeError, match="window"):
        fn.as_spec(window=7)


def test_summary_by_hand() -> None:
    # 100 enter; 60 register (40 lost, the most), 20 invest (35 lost, the lowest rate: 1/3)
    table = pd.DataFrame({
        "step": ["ad_click", "register", "first_investment"],
        "label": ["广告点击", "注册", "首投"],
        "users": [100, 60, 20],
        "rate_from_start": [1.0, 0.6, 0.2],
        "rate_from_previous": [float("nan"), 0.6, 1 / 3],
        "lost": [0, 40, 35],
        "in_progress": [0, 0, 5],
    })
    got = fn.summary(table, {"registered": 80, "without_first_step": 12})
    assert got == pytest.approx({
        "entrants": 100, "completed": 20, "end_rate": 0.2, "in_progress": 5,
        "worst_step": "首投", "worst_rate": 1 / 3, "worst_lost": 35,
        "leak_step": "注册", "leak_lost": 40, "first_invest_rate": 0.2,
        "outside": 12, "registered": 80})
    assert np.isnan(fn.summary(table, conversion="second_investment")["first_invest_rate"])
    with pytest.raises(ValueError, match="without a breakdown"):
        fn.summary(table.assign(segment="a"))


def test_top_segments() -> None:
    table = pd.DataFrame({"segment": ["a", "b", "c", "a", "b", "c"],
                          "step": ["s1"] * 3 + ["s2"] * 3, "users": [5, 9, 7, 100, 1, 1]})
    # by the people at the first step, most first (a's 100 at s2 do not count)
    assert fn.top_segments(table, 2) == ["b", "c"]
    assert fn.top_segments(table, 8) == ["b", "c", "a"]
    with pytest.raises(ValueError, match="n"):
        fn.top_segments(table, 0)


def test_bad_parameters_name_themselves() -> None:
    with pytest.raises(ValueError, match="order"):
        fn.make_spec(order="loose")
    with pytest.raises(ValueError, match="window_days"):
        fn.make_spec(window_days=0)
    with pytest.raises(ValueError, match="window_days"):
        fn.make_spec(window_days=1_000_000_000)
    with pytest.raises(ValueError, match="window_days"):
        fn.make_spec(window_days=True)
    with pytest.raises(ValueError, match="step_windows"):
        fn.make_spec(["a", "b"], step_windows=[None, 5000])
    with pytest.raises(ValueError, match="steps"):
        fn.make_spec(steps=["register"])
    with pytest.raises(ValueError, match="exclusions"):
        fn.make_spec(exclusions=[("coupon_claim", "bind_card", "register")])
    with pytest.raises(ValueError, match="count"):
        fn.make_spec(count="sessions")


# ---------------------------------------------------------------------------------------------
# property tests against a brute-force reference

NAMES = ["ad_click", "app_install", "register", "kyc_verified", "app_open"]
SLOT = dt.timedelta(days=1)  # a coarse grid, so that ties (same instant) are common
N_SLOTS = 19


def reference(events: list[dict], txns, end, steps, window_days, order):
    """Plain-Python funnel: users and in-progress per step, following the module docstring."""
    events = [e for e in events if e["event_time"] < end]
    regs: dict[str, list] = {}
    for e in events:
        if e["event_name"] == "register" and e["user_id"] and e["anonymous_id"]:
            regs.setdefault(e["anonymous_id"], []).append((e["event_time"], e["user_id"]))
    times: dict[str, dict[str, list]] = {}
    for e in events:
        person = e["user_id"]
        if person is None:
            device = sorted(regs.get(e["anonymous_id"], []))
            later = [u for t, u in device if t >= e["event_time"]]
            person = (
                later[0] if later else (device[-1][1] if device else "anon:" + e["anonymous_id"])
            )
        times.setdefault(person, {}).setdefault(e["event_name"], []).append(e["event_time"])
    by_user: dict[str, list] = {}
    for tid, uid, t in txns:
        if t < end:
            by_user.setdefault(uid, []).append((t, tid))
    for uid, rows in by_user.items():
        rows.sort()
        for i, m in enumerate(["first_investment", "second_investment"][: len(rows)]):
            times.setdefault(uid, {})[m] = [rows[i][0]]
    n = len(steps)
    reached, in_progress = [0] * n, [0] * n
    window = dt.timedelta(days=window_days)
    for per in times.values():
        lists = [sorted(per.get(s, [])) for s in steps]
        if not lists[0]:
            continue
        t = [lists[0][0]]
        deadline = t[0] + window
        for k in range(1, n):
            cand = [v for v in lists[k] if t[-1] <= v <= deadline]
            upper = cand[0] if cand else None
            foreign = order == "strict" and any(
                t[-1] < v and ((v < upper) if upper else v <= deadline)
                for j in range(n)
                if j not in (k - 1, k)
                for v in lists[j]
            )
            if cand and not foreign:
                t.append(cand[0])
                continue
            if not cand and not foreign and deadline >= end:
                in_progress[k] += 1
            break
        for k in range(len(t)):
            reached[k] += 1
    return reached, in_progress


@st.composite
def logs(draw):
    n_dev = draw(st.integers(1, 4))
    n_users = draw(st.integers(0, 4))
    slots = draw(st.lists(st.integers(0, N_SLOTS), min_size=n_users, max_size=n_users, unique=True))
    users_ = [
        (f"U{i}", f"d{draw(st.integers(0, n_dev - 1))}", D0 + s * SLOT) for i, s in enumerate(slots)
    ]
    events = [ev("register", t, u, d) for u, d, t in users_]
    for _ in range(draw(st.integers(0, 14))):
        name = draw(st.sampled_from([n for n in NAMES if n != "register"]))
        t = D0 + draw(st.integers(0, N_SLOTS)) * SLOT
        if users_ and draw(st.booleans()):
            u, d, _t = draw(st.sampled_from(users_))
            events.append(ev(name, t, u, d))
        else:
            events.append(ev(name, t, None, f"d{draw(st.integers(0, n_dev))}"))
    txns = []
    for i in range(draw(st.integers(0, 4))):
        if users_:
            u = draw(st.sampled_from(users_))[0]
            txns.append((f"T{i}", u, D0 + draw(st.integers(0, N_SLOTS)) * SLOT))
    return events, txns


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    log=logs(),
    window=st.sampled_from([1, 3, 10]),
    order=st.sampled_from(fn.ORDERS),
    first=st.sampled_from([0, 2]),
)
def test_matches_brute_force_reference(log, window, order, first) -> None:
    events, txns = log
    steps = [
        "ad_click",
        "app_install",
        "register",
        "kyc_verified",
        "first_investment",
        "second_investment",
    ][first:]
    end = D0 + dt.timedelta(days=16)  # some events fall after the analysis end
    res = run(events, txns, end=end, steps=steps, window_days=window, order=order)
    reached, in_progress = reference(events, txns, end, steps, window, order)
    assert res.users.tolist() == reached
    assert res.in_progress.tolist()[1:] == in_progress[1:]
    # counts never rise from step to step; users = in progress + lost + next step's users
    assert all(a >= b for a, b in zip(reached, reached[1:], strict=False))
    u = res.users.tolist()
    for k in range(1, len(u)):
        assert u[k - 1] == u[k] + res.in_progress.iloc[k] + res.lost.iloc[k]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(log=logs(), kept=st.sets(st.sampled_from([*NAMES, "first_investment"]), min_size=1))
def test_stitching_only_some_rows_gives_those_rows_of_the_whole(log, kept) -> None:
    # `where` lets stitching read only the rows asked for (plus sign-ups): the identities must
    # be those of stitching every event, then keeping the rows
    events, txns = log
    e, t = tables(events, txns)
    end = D0 + dt.timedelta(days=16)
    cond = lambda tbl: tbl.event_name.isin(sorted(kept))  # noqa: E731
    cols = ["person_id", "user_id", "anonymous_id", "event_name", "event_time"]
    part = stitched_steps(e, t, end, where=cond).to_pandas()[cols]
    whole = stitched_steps(e, t, end).to_pandas()[cols]
    whole = whole[whole.event_name.isin(kept)]
    sort = lambda f: f.sort_values(cols, na_position="first").reset_index(drop=True)  # noqa: E731
    pd.testing.assert_frame_equal(sort(part), sort(whole))


# ---------------------------------------------------------------------------------------------
# the demo data


@pytest.fixture(scope="module")
def demo():
    if not (DEMO_DATA / "truth.json").exists():
        pytest.skip("the demo dataset is not generated")
    from growthloop.staging.loader import open_dataset

    return open_dataset(DEMO_DATA)


def true_step_rates(truth: dict) -> dict[str, tuple[float | None, dict[str, float]]]:
    """{transition "a->b": (overall true rate or None, {channel: true rate})} from truth.json.

    Reads both layouts the generator has written: funnel.{a->b}.{true_rate, by_channel} and
    funnel.steps.{a->b}.{rate, n} with channels.{name}.steps.{a->b}.rate.
    """
    funnel = truth["funnel"]
    steps = funnel.get("steps", funnel)
    out = {}
    for name, entry in steps.items():
        if "->" not in name or not isinstance(entry, dict):
            continue
        overall = entry.get("rate", entry.get("true_rate"))
        by_channel = dict(entry.get("by_channel") or {})
        for channel, info in (truth.get("channels") or {}).items():
            rate = ((info.get("steps") or {}).get(name) or {}) if isinstance(info, dict) else {}
            if isinstance(rate, dict) and rate.get("rate") is not None:
                by_channel.setdefault(channel, rate["rate"])
        out[name] = (overall, {k: v for k, v in by_channel.items() if v is not None})
    return out


def test_demo_recovers_true_step_rates(demo) -> None:
    """The generator's true rate of each step lies in our Wilson interval of that step.

    truth.json defines a step's rate as the mean, over the people who reached step a within the
    period, of their true probability of reaching step b within 30 days after step a (a window
    per step, not from the first step; ad_click->app_install and app_install->register per
    device and by the device's channel, which is its last touch). The comparable quantity here
    is the two-step funnel [a, b] with window_days = 30 (for two steps the window from the first
    step is the window after step a): rate_from_previous among the settled people, whose 30
    days after step a ended before the analysis date; the people still inside their window are
    left out, which under a stationary generator does not change the expectation. Per-channel
    rates use breakdown="last_touch". Pre-sign-up steps are counted per stitched person, which
    differs from per device only for the ~1% of shared phones. Paid-channel rates only for
    ad_click->app_install: a device whose last touch is a referral or SEO link_click can still
    have an earlier paid ad_click, and it is that channel only because it went on to install.
    All comparisons share one family-wise 95% level (Bonferroni).
    """
    truth = json.loads((Path(DEMO_DATA) / "truth.json").read_text(encoding="utf-8"))
    window = truth.get("funnel", {}).get("window_days") or truth.get("funnel_window_days", 30)
    rates = true_step_rates(truth)
    paid = {c.name for c in demo.config.channels if c.kind == "paid"}
    checks = []  # (transition, channel or None, true rate)
    for name, (overall, by_channel) in rates.items():
        if overall is not None:
            checks.append((name, None, overall))
        for channel, rate in by_channel.items():
            if name.startswith("ad_click->") and channel not in paid:
                continue
            checks.append((name, channel, rate))
    assert len(checks) >= 10, "truth.json has fewer step rates than expected"
    alpha = 0.05 / len(checks)
    results = {}
    for name in {c[0] for c in checks}:
        a, b = name.split("->")
        spec = fn.make_spec([a, b], window_days=window)
        whole = fn.funnel(demo, spec, alpha=alpha)
        split = fn.funnel(demo, spec, alpha=alpha, breakdown="last_touch")
        results[(name, None)] = whole.iloc[1]
        for _i, row in split[split.step == b].iterrows():
            results[(name, row.segment)] = row
    misses = []
    for name, channel, rate in checks:
        row = results.get((name, channel))
        if row is None or row.base_previous < 100:
            continue  # a channel with (almost) no settled people at this step
        if not row.ci_prev_low <= rate <= row.ci_prev_high:
            misses.append((name, channel, rate, row.rate_from_previous, row.base_previous))
    assert not misses, misses


# ---------------------------------------------------------------------------------------------
# the rest of the library on the tiny dataset of conftest (3 users, analysis date 2025-03-31)

TINY_STEPS = ["register", "bind_card", "first_investment", "second_investment"]


@pytest.fixture(scope="module")
def tiny_ds(tmp_path_factory):
    from conftest import write_tiny

    from growthloop.staging.loader import open_dataset

    return open_dataset(write_tiny(tmp_path_factory.mktemp("funnel") / "tiny"))


def test_tiny_funnel_and_breakdown(tiny_ds) -> None:
    # U1: register 01-01 10:00, card 10:30, invests 01-02 and 02-10 (40 days: inside 60).
    # U2: register 01-05, no card (its window ended 03-06: lost). U3: register 02-01, no card,
    # window ends 04-02 after the analysis end: in progress.
    spec = fn.make_spec(TINY_STEPS, window_days=60)
    res = fn.funnel(tiny_ds, spec).set_index("step")
    assert res.users.tolist() == [3, 1, 1, 1]
    assert res.loc["bind_card", ["in_progress", "lost", "base_previous"]].tolist() == [1, 1, 2]
    by = fn.funnel(tiny_ds, spec, breakdown="signup_channel")
    first = by[by.step == "register"].set_index("segment").users
    assert first.to_dict() == {"信息流广告": 1, "百度搜索": 2}
    with pytest.raises(ValueError, match="breakdown"):
        fn.funnel(tiny_ds, spec, breakdown="zodiac")
    # the keywords of make_spec instead of a spec: the same funnel
    pd.testing.assert_frame_equal(fn.funnel(tiny_ds, steps=TINY_STEPS, window_days=60),
                                  res.reset_index())


def test_tiny_time_to_convert(tiny_ds) -> None:
    # hours: register -> card 0.5, card -> first investment 22.5, first -> second 39 days = 936
    stats, hist = fn.time_to_convert(tiny_ds, fn.make_spec(TINY_STEPS, window_days=60))
    assert stats.median_hours.tolist() == [0.5, 22.5, 936.0]
    assert hist.groupby("transition").conversions.sum().tolist() == [1, 1, 1]
    # with a 30-day window the second investment (day 40) is outside: no transition to it
    stats30, _h = fn.time_to_convert(tiny_ds, fn.make_spec(TINY_STEPS, window_days=30))
    assert stats30.to_step.tolist() == ["bind_card", "first_investment"]
    # the prose's numbers: medians to the card and to the first investment, the slowest step
    speed = fn.time_summary(stats)
    assert speed == {"card_median_hours": 0.5, "invest_median_hours": 22.5,
                     "slowest_step": "首投→复投", "slowest_median_days": 936.0 / 24}


def test_tiny_cohort_conversion(tiny_ds) -> None:
    # cohorts by registration month, the funnel from register on (a 60-day window):
    # 2025-01: U1 (card, both investments, all inside 60 days) and U2 (no card, window over);
    # 2025-02: U3, window until 04-02, past the analysis end: in progress, no rate yet
    spec = fn.make_spec(["app_install", *TINY_STEPS], window_days=60)
    cohorts = fn.cohort_conversion(tiny_ds, spec)  # from register on: the installs are left out
    assert cohorts.step.unique().tolist() == TINY_STEPS
    jan = cohorts[cohorts.cohort == "2025-01"].set_index("step")
    assert jan.users.tolist() == [2, 1, 1, 1]
    assert jan.loc["first_investment", "rate_from_start"] == 0.5
    feb = cohorts[cohorts.cohort == "2025-02"].set_index("step")
    assert feb.users.tolist() == [1, 0, 0, 0] and feb.loc["bind_card", "in_progress"] == 1
    assert feb.loc["bind_card", "base_start"] == 0 and np.isnan(feb.loc["bind_card", "rate_from_start"])
    coh = fn.cohort_summary(cohorts)
    assert coh["cohorts"] == 2 and coh["open_cohorts"] == 1  # 2025-02 is still inside its window
    assert (coh["last_cohort"], coh["last_cohort_rate"]) == ("2025-01", 0.5)
    assert coh["prev_cohort"] == "无" and np.isnan(coh["prev_cohort_rate"])
    lo, hi = coh["last_cohort_low"], coh["last_cohort_high"]
    assert lo < 0.5 < hi  # Wilson interval of 1 of 2
    # the same cohorts from the keywords (a spec without register is taken whole)
    pd.testing.assert_frame_equal(fn.cohort_conversion(tiny_ds, steps=TINY_STEPS, window_days=60),
                                  cohorts)


def test_tiny_stalled_users(tiny_ds) -> None:
    # no card after 24 h: U2 (01-05) and U3 (02-01); a 60-day look-back (from 01-31) keeps U3
    ids = fn.stalled_users(tiny_ds, lookback_days=100).to_pandas()
    assert sorted(ids[ids.rule == "no_card"].user_id) == ["U2", "U3"]
    assert fn.stalled_users(tiny_ds, lookback_days=60).to_pandas().user_id.tolist() == ["U3"]
    stalled = fn.stalled_counts(tiny_ds, lookback_days=60)
    counts = stalled.set_index("rule")
    assert counts.users.to_dict() == {"no_card": 1, "no_invest": 0}
    # historically 2 of 3 sign-ups had no card within 24 h
    assert counts.loc["no_card", "historical_share"] == pytest.approx(2 / 3)
    assert "user_id" not in counts.columns
    # U1, the one card holder, invested the next day: nobody stalled after the card
    assert fn.stalled_summary(stalled) == pytest.approx({
        "stalled_card": 1, "stalled_invest": 0, "stalled_card_share": 2 / 3,
        "stalled_invest_share": 0.0, "stall_card_hours": 24, "stall_invest_days": 7,
        "stall_lookback_days": 60})


def test_no_verdict_under_30() -> None:
    rows = []
    for seg, base, conv in (("小渠道", 20, 20), ("甲", 400, 200), ("乙", 400, 120)):
        rows.append(
            {
                "segment": seg,
                "step": "register",
                "label": "注册",
                "base_previous": base,
                "converted_previous": base,
            }
        )
        rows.append(
            {
                "segment": seg,
                "step": "bind_card",
                "label": "绑卡",
                "base_previous": base,
                "converted_previous": conv,
            }
        )
    tests = fn.compare_segments(pd.DataFrame(rows)).set_index("segment")
    assert tests.loc["小渠道", "verdict"] == "样本不足"  # 100% of 20: no verdict
    assert tests.loc["甲", "verdict"] == "高于其他" and tests.loc["乙", "verdict"] == "低于其他"


def test_wilson_interval_contains_the_rate_at_the_ends():
    # by hand: for 0 of n the Wilson lower bound is exactly 0 and for n of n the upper is 1
    # (statsmodels leaves 1.4e-17 and 1 - 1e-16); in between, its bounds are kept as they are
    from statsmodels.stats.proportion import proportion_confint

    from growthloop.metrics.stats import wilson

    assert wilson(0, 28)[0] == 0.0
    assert wilson(28, 28)[1] == 1.0
    for x, n in [(0, 28), (28, 28), (0, 1), (1, 1), (5, 118), (3, 7)]:
        lo, hi = wilson(x, n)
        assert lo <= x / n <= hi
    lo, hi = proportion_confint(5, 118, method="wilson")
    assert wilson(5, 118) == (lo, hi)
    assert all(v != v for v in wilson(0, 0))  # nan, nan


def test_parameter_errors_come_before_the_data_and_name_the_step() -> None:
    spec = fn.make_spec(["register", "bind_card"])
    with pytest.raises(ValueError, match="'kyc' is not a step of this funnel"):
        spec.selector("kyc")
    with pytest.raises(NotAvailable):
        fn.compare_segments(pd.DataFrame(columns=["step", "segment", "base_previous",
                                                  "converted_previous"]))
    # a bad stall parameter is a ValueError even on data the rules could not be applied to
    with pytest.raises(ValueError, match="card_hours"):
        fn.stalled_counts(None, card_hours=0)
    with pytest.raises(ValueError, match="lookback_days"):
        fn.stalled_counts(None, lookback_days=True)


def entrants(ds, spec: fn.FunnelSpec, breakdown: str) -> dict[str, int]:
    """People entering the funnel (its first step) per segment of `breakdown`."""
    table = fn.funnel(ds, spec, breakdown=breakdown)
    first = table[table.step == spec.steps[0]]
    return dict(zip(first.segment, first.users, strict=True))


@pytest.mark.parametrize("ordered_first", [True, False], ids=["ordered FIRST", "join (Spark, Postgres)"])
def test_touch_breakdowns_take_the_smallest_source_of_touches_at_the_same_instant(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ordered_first: bool) -> None:
    from conftest import event, txn, user, write_dataset

    from growthloop.staging.loader import open_dataset

    # U1: toutiao alone first, then toutiao and baidu at the same instant, then the sign-up;
    # U2: toutiao and baidu at the same instant (toutiao written first), then the sign-up
    folder = write_dataset(
        tmp_path / "ties",
        users=[user("U1", "2025-01-10 10:00:00"), user("U2", "2025-01-10 11:00:00")],
        events=[event("ad_click", "2025-01-03 10:00:00", anon="A1", utm_source="toutiao"),
                event("ad_click", "2025-01-05 10:00:00", anon="A1", utm_source="toutiao"),
                event("ad_click", "2025-01-05 10:00:00", anon="A1", utm_source="baidu"),
                event("register", "2025-01-10 10:00:00", "U1", "A1"),
                event("ad_click", "2025-01-04 10:00:00", anon="A2", utm_source="toutiao"),
                event("ad_click", "2025-01-04 10:00:00", anon="A2", utm_source="baidu"),
                event("register", "2025-01-10 11:00:00", "U2", "A2")],
        transactions=[txn("T1", "U1", "2025-01-11 10:00:00", 1000.0)],
        config={"name": "ties", "analysis_date": "2025-03-31"},
    )
    ds = open_dataset(folder)
    if not ordered_first:  # the other engines' query, run on DuckDB
        monkeypatch.setattr(fn, "backend_name", lambda con: "pyspark")
    spec = fn.make_spec(["ad_click", "register"], window_days=30)

    # first touch: U1 toutiao (信息流广告); U2's tie gives baidu (百度搜索), the smaller source
    assert entrants(ds, spec, "first_touch") == {"信息流广告": 1, "百度搜索": 1}
    # last touch at or before the sign-up: the ties give baidu for both
    assert entrants(ds, spec, "last_touch") == {"百度搜索": 2}


def test_first_touch_counts_a_touch_after_the_sign_up_and_last_touch_does_not(
        tmp_path: Path) -> None:
    from conftest import event, txn, user, write_dataset

    from growthloop.staging.loader import open_dataset

    # U1 signs up untagged, then clicks a toutiao ad: their only tagged touch is after the
    # sign-up. U2 clicks a baidu ad, signs up, then clicks a toutiao ad.
    folder = write_dataset(
        tmp_path / "after",
        users=[user("U1", "2025-01-10 10:00:00"), user("U2", "2025-01-10 11:00:00")],
        events=[event("register", "2025-01-10 10:00:00", "U1", "A1"),
                event("ad_click", "2025-01-12 10:00:00", "U1", "A1", utm_source="toutiao"),
                event("ad_click", "2025-01-04 10:00:00", anon="A2", utm_source="baidu"),
                event("register", "2025-01-10 11:00:00", "U2", "A2"),
                event("ad_click", "2025-01-15 10:00:00", "U2", "A2", utm_source="toutiao")],
        transactions=[txn("T1", "U1", "2025-01-20 10:00:00", 1000.0)],
        config={"name": "after", "analysis_date": "2025-03-31"},
    )
    ds = open_dataset(folder)
    spec = fn.make_spec(["ad_click", "register"], window_days=30)

    # first touch: the earliest tagged touch whenever it came (U1 toutiao, U2 baidu)
    assert entrants(ds, spec, "first_touch") == {"信息流广告": 1, "百度搜索": 1}
    # last touch at or before the sign-up: U1 has none (untagged), U2 baidu
    assert entrants(ds, spec, "last_touch") == {"未标记": 1, "百度搜索": 1}


def test_step_breakdown_is_the_channel_of_the_event_matched_at_that_step(tmp_path: Path) -> None:
    from conftest import event, txn, user, write_dataset

    from growthloop.staging.loader import open_dataset

    # U1: a toutiao click, then a sign-up without a source; U2: a click written " BaiDu "
    # (normalised to baidu), then a sign-up tagged " Baidu"; A3: a visitor's untagged click
    folder = write_dataset(
        tmp_path / "steps",
        users=[user("U1", "2025-01-10 10:00:00"), user("U2", "2025-01-10 11:00:00")],
        events=[event("ad_click", "2025-01-03 10:00:00", anon="A1", utm_source="toutiao"),
                event("register", "2025-01-10 10:00:00", "U1", "A1"),
                event("ad_click", "2025-01-04 10:00:00", anon="A2", utm_source=" BaiDu "),
                event("register", "2025-01-10 11:00:00", "U2", "A2", utm_source=" Baidu"),
                event("ad_click", "2025-01-05 10:00:00", anon="A3")],
        transactions=[txn("T1", "U1", "2025-01-11 10:00:00", 1000.0)],
        config={"name": "steps", "analysis_date": "2025-03-31"},
    )
    ds = open_dataset(folder)
    spec = fn.make_spec(["ad_click", "register"], window_days=30)

    assert entrants(ds, spec, "step:ad_click") == {"信息流广告": 1, "百度搜索": 1, "未标记": 1}
    # the visitor never signed up: not yet at that step, named by the step's label
    assert entrants(ds, spec, "step:register") == {"未标记": 1, "百度搜索": 1,
                                         f"未到{spec.label('register')}": 1}


@pytest.mark.parametrize("count", ["unique", "total"])
def test_outside_funnel_counts_registered_users_who_never_did_the_first_step(
        tmp_path: Path, count: str) -> None:
    from conftest import event, txn, user, write_dataset

    from growthloop.staging.loader import open_dataset

    # U1 clicks twice as a visitor, then signs up on that device; U2 signs up without a click;
    # U3 clicks after signing up; the visitor A4 clicks and never signs up
    folder = write_dataset(
        tmp_path / "outside",
        users=[user("U1", "2025-01-10 10:00:00"), user("U2", "2025-01-11 10:00:00"),
               user("U3", "2025-01-12 10:00:00")],
        events=[event("ad_click", "2025-01-03 10:00:00", anon="A1"),
                event("ad_click", "2025-01-04 10:00:00", anon="A1"),
                event("register", "2025-01-10 10:00:00", "U1", "A1"),
                event("register", "2025-01-11 10:00:00", "U2", "A2"),
                event("register", "2025-01-12 10:00:00", "U3", "A3"),
                event("ad_click", "2025-01-20 10:00:00", "U3", "A3"),
                event("ad_click", "2025-01-05 10:00:00", anon="A4")],
        transactions=[txn("T1", "U1", "2025-01-11 10:00:00", 1000.0)],
        config={"name": "outside", "analysis_date": "2025-03-31"},
    )
    ds = open_dataset(folder)
    spec = fn.make_spec(["ad_click", "register"], window_days=30, count=count)
    fn.funnel(ds, spec)  # as the chapter asks: the step times kept first
    assert fn.outside_funnel(ds, spec) == {"registered": 3, "without_first_step": 1}
    # a funnel entered at the sign-up: every registered user did its first step
    assert fn.outside_funnel(ds, fn.make_spec(["register", "first_investment"], 30, count=count)) \
        == {"registered": 3, "without_first_step": 0}

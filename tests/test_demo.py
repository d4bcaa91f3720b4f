"""The demo generator: deterministic, on contract, chunked, and faithful to its own truth.json.

The realised rates are computed here by brute force in pandas (independently of the funnel,
retention and campaign modules) and compared with the truths the generator wrote.
"""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from growthloop import demo as demo_module
from growthloop.demo import generate_dataset
from growthloop.staging.contract import AGE_BANDS, CANONICAL_EVENTS, DEFAULT_CHANNELS, TABLES

N_USERS = 6000
SEED = 11
Z99 = 2.576
ARROW = {"string": "string", "timestamp": "timestamp[us]", "date": "date32[day]",
         "int64": "int64", "float64": "double", "boolean": "bool"}


def _read(folder: Path) -> dict[str, pd.DataFrame]:
    return {name: pd.read_parquet(folder / f"{name}.parquet") for name in TABLES}


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, dict, dict[str, pd.DataFrame]]:
    folder = tmp_path_factory.mktemp("demo")
    truth = generate_dataset(folder, n_users=N_USERS, seed=SEED)
    return folder, truth, _read(folder)


# --------------------------------------------------------------------------- determinism


def test_same_arguments_same_files_other_seed_other_data(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate_dataset(a, n_users=1500, seed=3, chunk_users=700)
    generate_dataset(b, n_users=1500, seed=3, chunk_users=700)
    generate_dataset(c, n_users=1500, seed=4, chunk_users=700)
    for name in [*TABLES, "truth_users"]:
        assert (a / f"{name}.parquet").read_bytes() == (b / f"{name}.parquet").read_bytes(), name
    assert (a / "truth.json").read_text() == (b / "truth.json").read_text()
    ua, uc = pd.read_parquet(a / "users.parquet"), pd.read_parquet(c / "users.parquet")
    assert not ua["registered_at"].equals(uc["registered_at"])
    ea, ec = pd.read_parquet(a / "events.parquet"), pd.read_parquet(c / "events.parquet")
    assert len(ea) != len(ec) or not ea.equals(ec)


# --------------------------------------------------------------------------- the contract


def test_files_and_dataset_yml(demo) -> None:
    folder, truth, _ = demo
    for name in [*TABLES, "truth_users"]:
        assert (folder / f"{name}.parquet").exists()
    yml = (folder / "dataset.yml").read_text(encoding="utf-8")
    assert "name: demo" in yml and "timezone: Asia/Shanghai" in yml
    assert f"analysis_date: {truth['analysis_date']}" in yml
    assert truth["period_start"] == "2025-07-01" and truth["analysis_date"] == "2026-06-30"


def test_columns_and_types_follow_the_contract(demo) -> None:
    folder, _, tables = demo
    for name, spec in TABLES.items():
        schema = pq.read_schema(folder / f"{name}.parquet")
        # the events also carry the own events' JSON properties
        extra = ["properties"] if name == "events" else []
        # a nullable contract column the demo leaves out (users.contact_opt_out: nobody opted out)
        skipped = demo_module.NOT_SIMULATED.get(name, ())
        assert all(spec.column(c).nullable for c in skipped), name
        assert schema.names == [*(c for c in spec.column_names if c not in skipped), *extra], name
        for col in (c for c in spec.columns if c.name not in skipped):
            assert str(schema.field(col.name).type) == ARROW[col.dtype], (name, col.name)
            if not col.nullable:
                assert tables[name][col.name].notna().all(), (name, col.name)
        frame = tables[name]
        for col in (c for c in spec.columns if c.name not in skipped):
            s = frame[col.name]
            if col.dtype == "timestamp":
                assert pd.api.types.is_datetime64_dtype(s) and s.dt.tz is None
            elif col.dtype == "int64":
                assert pd.api.types.is_integer_dtype(s)
            elif col.dtype == "float64":
                assert pd.api.types.is_float_dtype(s)
        if spec.key:
            assert not frame.duplicated(list(spec.key)).any(), name


def test_contents_are_consistent(demo) -> None:
    _, truth, t = demo
    users, events, txns = t["users"], t["events"], t["transactions"]
    assert len(users) == N_USERS
    assert users["user_id"].str.fullmatch(r"U\d{8}").all()
    assert txns["txn_id"].str.fullmatch(r"T\d{9}").all()
    assert events["anonymous_id"].dropna().str.fullmatch(r"A[0-9a-f]{12}").all()
    # every role, and the platform's own events (with their JSON properties)
    assert set(events["event_name"]) == {*CANONICAL_EVENTS, "风险测评", "浏览产品详情"}
    own = events[events.event_name.isin(["风险测评", "浏览产品详情"])]
    assert own.properties.notna().all() and events[~events.index.isin(own.index)].properties.isna().all()
    assert events["anonymous_id"].notna().all()
    reg = users.set_index("user_id")["registered_at"]
    with_user = events.dropna(subset=["user_id"])
    assert with_user["user_id"].isin(reg.index).all()
    assert (with_user["event_time"].values >= reg.loc[with_user["user_id"]].values).all()
    assert txns["user_id"].isin(reg.index).all()
    assert (txns["txn_time"].values >= reg.loc[txns["user_id"]].values).all()
    end = pd.Timestamp(truth["analysis_date"]) + timedelta(days=1)
    assert events["event_time"].max() < end and txns["txn_time"].max() < end
    assert events["event_time"].min() >= pd.Timestamp(truth["period_start"])
    # one register event per user, at registered_at
    regs = events[events.event_name == "register"].set_index("user_id")["event_time"]
    assert len(regs) == len(users) and (regs.sort_index() == reg.sort_index()).all()
    # money
    assert (txns["amount"] > 0).all() and (txns["amount"] == txns["amount"].round(2)).all()
    assert (txns["revenue"] == txns["revenue"].round(2)).all()
    failed = (txns["status"] != "success").mean()
    assert 0.005 < failed < 0.03
    assert set(txns["term_days"]) == {0, 30, 90, 180, 365}
    # inviters are users who signed up before the invitee
    inv = users.dropna(subset=["inviter_id"])
    assert len(inv) > 0 and inv["inviter_id"].isin(reg.index).all()
    assert (reg.loc[inv["inviter_id"]].values < inv["registered_at"].values).all()
    # city tiers as geo derives them; every tier present
    from growthloop.staging.geo import tier_of
    assert (users["city"].map(tier_of) == users["city_tier"]).all()
    assert users["city_tier"].nunique() == 5
    # costs: paid channels only, spend ~ clicks x CPC
    costs = t["costs"]
    assert (costs["spend"] > 0).all() and (costs["clicks"] > 0).all()
    assert not costs["utm_source"].isin(["seo", "referral"]).any()
    cpc = {src: ch["cpc"] for ch in truth["channels"].values() for src in ch["sources"]}
    ratio = costs["spend"].sum() / (costs["clicks"] * costs["utm_source"].map(cpc)).sum()
    assert ratio == pytest.approx(1.0, abs=0.02)


def test_campaign_members(demo) -> None:
    _, truth, t = demo
    m, camps = t["campaign_members"], t["campaigns"]
    assert len(camps) >= 4 and set(m["campaign_id"]) == set(camps["campaign_id"])
    assert set(m["group"]) == {"treatment", "control"}
    assert not m.duplicated(["campaign_id", "user_id"]).any()
    treat = m["group"] == "treatment"
    assert m.loc[treat, "sent_at"].notna().all() and m.loc[~treat, "sent_at"].isna().all()
    assert m.loc[~treat, "clicked_at"].isna().all()
    assert 0.9 < m.loc[treat, "delivered"].astype(bool).mean() < 0.99
    control = (m["group"] == "control").groupby(m["campaign_id"]).mean()
    for cid, share in control.items():
        assert abs(share - truth["campaigns"][cid]["holdout_share"]) < 0.08, cid


def test_utm_values_need_normalising(demo) -> None:
    _, _, t = demo
    touches = t["events"][t["events"].event_name.isin(["ad_click", "link_click"])
                          & t["events"].user_id.isna()]
    untagged = touches["utm_source"].isna().mean()
    assert 0.01 < untagged < 0.05
    aliases = {a for ch in DEFAULT_CHANNELS for a in ch.sources}
    raw = touches["utm_source"].dropna()
    from urllib.parse import unquote
    norm = raw.map(lambda s: unquote(s).strip().lower())
    assert norm.isin(aliases).all()
    assert (raw != norm).mean() > 0.01


# --------------------------------------------------------------------------- truth: funnel


def _within(rate: float, truth: float, n: int, z: float = Z99) -> bool:
    return abs(rate - truth) <= z * math.sqrt(truth * (1 - truth) / n)


def _step_rate(prev: pd.Series, nxt: pd.Series, end: pd.Timestamp) -> tuple[float, int]:
    """Share of ids with the earlier step (complete 30-day window) reaching the next in 30 days."""
    prev = prev[prev <= end - timedelta(days=30)]
    joined = pd.DataFrame({"t0": prev}).join(nxt.rename("t1"), how="left")
    ok = (joined["t1"] >= joined["t0"]) & (joined["t1"] <= joined["t0"] + timedelta(days=30))
    return float(ok.mean()), len(joined)


def test_funnel_rates_match_truth(demo) -> None:
    _, truth, t = demo
    ev, tx = t["events"], t["transactions"]
    end = pd.Timestamp(truth["analysis_date"]) + timedelta(days=1)

    def first(name: str, by: str) -> pd.Series:
        sub = ev[(ev.event_name == name) & ev[by].notna()]
        return sub.groupby(by)["event_time"].min()

    anon_click = ev[(ev.event_name == "ad_click") & ev.user_id.isna()]
    anon_click = anon_click.groupby("anonymous_id")["event_time"].min()
    ok = tx[tx.status == "success"].sort_values(["user_id", "txn_time"])
    rank = ok.groupby("user_id").cumcount()
    inv1 = ok[rank == 0].set_index("user_id")["txn_time"]
    inv2 = ok[rank == 1].set_index("user_id")["txn_time"]
    realised = {
        "ad_click->app_install": _step_rate(anon_click, first("app_install", "anonymous_id"), end),
        "app_install->register": _step_rate(first("app_install", "anonymous_id"),
                                            first("register", "anonymous_id"), end),
        "register->kyc_verified": _step_rate(first("register", "user_id"),
                                             first("kyc_verified", "user_id"), end),
        "kyc_verified->bind_card": _step_rate(first("kyc_verified", "user_id"),
                                              first("bind_card", "user_id"), end),
        "bind_card->first_investment": _step_rate(first("bind_card", "user_id"), inv1, end),
        "first_investment->second_investment": _step_rate(inv1, inv2, end),
    }
    steps = truth["funnel"]["steps"]
    assert truth["funnel"]["window_days"] == 30 and set(steps) == set(realised)
    for step, (rate, n) in realised.items():
        assert n > 500, step
        assert _within(rate, steps[step]["rate"], n), (step, rate, steps[step]["rate"], n)


def test_age_bands_and_value_concentration(demo) -> None:
    _, truth, t = demo
    users, tx = t["users"], t["transactions"]
    age = pd.Timestamp(truth["analysis_date"]).year - users["birth_year"]
    shares = {label: ((age >= lo) & (age <= hi)).mean() for label, lo, hi in AGE_BANDS}
    assert sum(shares.values()) == pytest.approx(1.0)
    assert 0.28 < shares["18-24"] < 0.38 and 0.26 < shares["45-55"] < 0.36
    assert (users["gender"] == "男").mean() == pytest.approx(0.6, abs=0.03)
    totals = tx[tx.status == "success"].groupby("user_id")["amount"].sum()
    totals = totals.sort_values(ascending=False)
    top = totals.head(math.ceil(0.2 * len(totals))).sum() / totals.sum()
    lo, hi = truth["value"]["top20_share_expected_range"]
    assert lo - 0.03 <= top <= hi + 0.03
    assert top == pytest.approx(truth["value"]["top20_share"])
    assert 0.06 < truth["bonus_hunter_share"] < 0.10


def test_best_paid_channel_is_cheapest_per_retained_investor(demo) -> None:
    _, truth, t = demo
    ch = truth["channels"]
    paid = {name: v for name, v in ch.items() if v["kind"] == "paid"}
    best = truth["best_paid_channel"]
    assert best == max(paid, key=lambda n: paid[n]["quality_score"])
    cost = {n: v["expected_cost_per_retained_investor"] for n, v in paid.items()}
    runner_up = min(c for n, c in cost.items() if n != best)
    assert cost[best] * 1.4 < runner_up
    # realised: spend / sign-up users whose second investment came within 90 days of the first
    alias = {a: c.name for c in DEFAULT_CHANNELS for a in c.sources}
    users = t["users"].assign(channel=t["users"]["utm_source"].str.strip().str.lower()
                              .str.replace("%5f", "_").map(alias))
    ok = t["transactions"].query("status == 'success'").sort_values(["user_id", "txn_time"])
    rank = ok.groupby("user_id").cumcount()
    gap = (ok[rank == 1].set_index("user_id")["txn_time"]
           - ok[rank == 0].set_index("user_id")["txn_time"])
    retained = set(gap[gap <= timedelta(days=90)].index)
    n_ret = users[users.user_id.isin(retained)].groupby("channel").size()
    spend = t["costs"]["spend"].groupby(t["costs"]["utm_source"].map(alias)).sum()
    realised = (spend / n_ret).dropna()
    assert realised.idxmin() == best
    assert realised[best] * 1.25 < realised.drop(best).min()


# --------------------------------------------------------------------------- truth: campaigns


def _responses(t: dict[str, pd.DataFrame], cid: str, goal: str, start: pd.Timestamp,
               days: int) -> pd.Series:
    end = start + timedelta(days=days)
    ev, tx = t["events"], t["transactions"].query("status == 'success'")
    if goal == "bind_card":
        hits = ev[(ev.event_name == "bind_card") & (ev.event_time > start) & (ev.event_time <= end)]
        return pd.Series(True, index=hits["user_id"].unique())
    if goal == "first_investment":
        times = tx.groupby("user_id")["txn_time"].min()
    else:
        inside = tx[(tx.txn_time > start) & (tx.txn_time <= end)]
        times = inside.groupby("user_id")["txn_time"].min()
    times = times[(times > start) & (times <= end)]
    return pd.Series(True, index=times.index)


def test_campaign_uplift_matches_truth(demo) -> None:
    _, truth, t = demo
    camps = t["campaigns"].set_index("campaign_id")
    members = t["campaign_members"]
    for cid, ct in truth["campaigns"].items():
        assert set(ct) >= {"goal", "window_days", "true_uplift", "baseline_rate", "segments",
                           "segment_column"}
        row = camps.loc[cid]
        assert row["goal"] == ct["goal"] and row["window_days"] == ct["window_days"]
        hit = _responses(t, cid, ct["goal"], row["start_at"], int(row["window_days"]))
        m = members[members.campaign_id == cid]
        m = m.assign(hit=m["user_id"].isin(hit.index))
        rates = m.groupby("group")["hit"].agg(["mean", "size"])
        pt, nt = rates.loc["treatment"]
        pc, nc = rates.loc["control"]
        se = math.sqrt(max(pt * (1 - pt), 0.01) / nt + max(pc * (1 - pc), 0.01) / nc)
        assert abs((pt - pc) - ct["true_uplift"]) < 4 * se + 0.02, (cid, pt - pc, ct["true_uplift"])
        assert abs(pc - ct["baseline_rate"]) < 4 * math.sqrt(max(pc * (1 - pc), 0.01) / nc) + 0.02
        ups = [s["true_uplift"] for s in ct["segments"].values()]
        assert max(ups) - min(ups) > 0.05, cid
        assert sum(s["members"] for s in ct["segments"].values()) == ct["members"] == len(m)


# --------------------------------------------------------------------------- chunks, formats


def test_chunking_keeps_users_ids_and_schema(tmp_path: Path, demo) -> None:
    folder, _, _ = demo
    truth = generate_dataset(tmp_path, n_users=3000, seed=5, chunk_users=1000)
    users = pd.read_parquet(tmp_path / "users.parquet")
    assert len(users) == 3000 and users["user_id"].is_unique
    assert pd.read_parquet(tmp_path / "transactions.parquet")["txn_id"].is_unique
    members = pd.read_parquet(tmp_path / "campaign_members.parquet")
    assert not members.duplicated(["campaign_id", "user_id"]).any()
    assert members["user_id"].isin(users["user_id"]).all()
    for name in [*TABLES, "truth_users"]:
        assert pq.read_schema(tmp_path / f"{name}.parquet").equals(
            pq.read_schema(folder / f"{name}.parquet")), name
    truth_users = pd.read_parquet(tmp_path / "truth_users.parquet")
    assert truth_users["user_id"].tolist() == users["user_id"].tolist()
    assert truth["n_users"] == 3000 and truth["chunk_users"] == 1000
    anon = pd.read_parquet(tmp_path / "events.parquet", columns=["anonymous_id", "user_id"])
    # a device belongs to one chunk: a user's anonymous_id is shared only within the chunk
    owners = anon.dropna().drop_duplicates().groupby("anonymous_id")["user_id"].nunique()
    assert (owners >= 2).sum() > 0 and (owners <= 3).all()


def test_loader_accepts_parquet_and_csv(tmp_path: Path) -> None:
    from growthloop.staging.loader import open_dataset

    generate_dataset(tmp_path / "p", n_users=800, seed=2)
    generate_dataset(tmp_path / "c", n_users=800, seed=2, fmt="csv")
    assert (tmp_path / "c" / "users.csv").exists()
    assert not (tmp_path / "c" / "users.parquet").exists()
    dp, dc = open_dataset(tmp_path / "p"), open_dataset(tmp_path / "c")
    assert str(dp.analysis_date) == "2026-06-30"
    assert dp.quality.summary().equals(dc.quality.summary())
    reasons = dp.quality.reasons()
    assert set(reasons["rule"]) <= {"transaction not successful"}
    assert dp.quality.used["users"] == 800

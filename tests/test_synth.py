"""The demo generator: deterministic, on contract, chunk-safe, and its truth.json is honest."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from growthloop.contract import TABLES
from growthloop.data import open_dataset
from growthloop.synth import generate_dataset


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gen") / "d"
    generate_dataset(out, n_users=6000, seed=11)
    return out


def test_same_seed_same_files(tmp_path: Path, generated: Path) -> None:
    again = tmp_path / "again"
    generate_dataset(again, n_users=6000, seed=11)
    for name in TABLES:
        pd.testing.assert_frame_equal(pd.read_parquet(generated / f"{name}.parquet"),
                                      pd.read_parquet(again / f"{name}.parquet"))
    other = tmp_path / "other"
    generate_dataset(other, n_users=6000, seed=12)
    assert not pd.read_parquet(other / "users.parquet").equals(pd.read_parquet(generated / "users.parquet"))


def test_contract_holds_and_nothing_is_set_aside_but_failed_payments(generated: Path) -> None:
    for name, spec in TABLES.items():
        assert list(pd.read_parquet(generated / f"{name}.parquet").columns) == spec.column_names
    ds = open_dataset(generated)
    for row in ds.quality.set_aside:
        assert row.rule == "transaction not successful", row
    members = ds.campaign_members.execute()
    assert not members.duplicated(["campaign_id", "user_id"]).any()


def test_funnel_rates_match_truth(generated: Path) -> None:
    """Independent check in pandas: each step's realised rate, among users whose windows are over,
    lies within a 99.9% binomial interval of the generator's true rate."""
    truth = json.loads((generated / "truth.json").read_text(encoding="utf-8"))
    users = pd.read_parquet(generated / "users.parquet")
    events = pd.read_parquet(generated / "events.parquet")
    end = pd.Timestamp(truth["analysis_date"]) + pd.Timedelta(days=1)
    done = users[users.registered_at + pd.Timedelta(days=120) < end].user_id
    has = {e: set(events[events.event_name == e].user_id.dropna()) for e in ("kyc_verified", "bind_card")}
    at_risk = set(done)
    kyc = at_risk & has["kyc_verified"]
    card = kyc & has["bind_card"]
    for key, n, hits in (("register->kyc_verified", len(at_risk), len(kyc)),
                         ("kyc_verified->bind_card", len(kyc), len(card))):
        p = truth["funnel"][key]["true_rate"]
        assert truth["funnel"][key]["at_risk"] == n
        assert abs(hits / n - p) < 3.3 * math.sqrt(p * (1 - p) / n), key


def test_demographics_and_concentration(generated: Path) -> None:
    users = pd.read_parquet(generated / "users.parquet")
    age = 2026 - users.birth_year
    assert 0.28 < ((age >= 18) & (age <= 24)).mean() < 0.38
    assert 0.27 < ((age >= 45) & (age <= 55)).mean() < 0.37
    truth = json.loads((generated / "truth.json").read_text(encoding="utf-8"))
    assert 0.6 < truth["top20_aum_share_expected"] < 0.9


def test_chunks_give_unique_ids_and_the_same_schema(tmp_path: Path) -> None:
    generate_dataset(tmp_path / "c", n_users=3000, seed=5, chunk_users=1000)
    users = pd.read_parquet(tmp_path / "c" / "users.parquet")
    txns = pd.read_parquet(tmp_path / "c" / "transactions.parquet")
    assert len(users) == 3000 and users.user_id.is_unique and txns.txn_id.is_unique
    assert list(users.columns) == TABLES["users"].column_names


def test_campaign_truth_is_consistent(generated: Path) -> None:
    """Every campaign has a truth whose segments add up and differ enough to be ranked."""
    truth = json.loads((generated / "truth.json").read_text(encoding="utf-8"))["campaigns"]
    assert set(truth) == {"C2025_01", "C2025_02", "C2026_03", "C2026_04"}
    for cid, t in truth.items():
        segs = t["segments"]
        assert sum(s["members"] for s in segs.values()) == t["members"]
        lo, hi = min(s["true_uplift"] for s in segs.values()), max(s["true_uplift"] for s in segs.values())
        assert hi - lo > 0.04, cid  # segments differ enough to be ranked

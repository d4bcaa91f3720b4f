"""Datasets shaped unlike the demo, for the whole-book shape matrix (tests/test_shapes.py).

Each shape starts from one small generated demo dataset (a few hundred users) and changes one
thing an analyst's real export differs in: tables missing, columns blank, their own event names,
sign-ups that stopped long ago, two weeks of history, a handful of users, one channel, no repeat
investments, campaigns without a holdout or with nothing but a holdout, an analysis date after
the data. `make(name, folder)` writes the shape's dataset and returns the campaign parameters
a run on it needs (e.g. the funnel steps for own event names).
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import yaml

from growthloop.demo import generate_dataset

BASE_USERS = 300
BASE_SEED = 3
_BASE: dict[int, Path] = {}


def base(tmp_root: Path, n_users: int = BASE_USERS) -> Path:
    """The generated dataset every shape starts from (one per process and size)."""
    if n_users not in _BASE:
        folder = tmp_root / f"base_{n_users}"
        generate_dataset(folder, n_users=n_users, seed=BASE_SEED)
        for extra in ("truth.json", "truth_users.parquet"):
            (folder / extra).unlink(missing_ok=True)
        _BASE[n_users] = folder
    return _BASE[n_users]


def _read(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(folder / f"{name}.parquet")


def _write(folder: Path, name: str, frame: pd.DataFrame) -> None:
    frame.to_parquet(folder / f"{name}.parquet", index=False)


def _config(folder: Path, **changes) -> None:
    path = folder / "dataset.yml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    raw.update(changes)
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")


def _drop(folder: Path, *tables: str) -> None:
    for name in tables:
        (folder / f"{name}.parquet").unlink()


def no_optional_tables(folder: Path) -> dict:
    _drop(folder, "costs", "campaigns", "campaign_members")
    return {}


def no_costs(folder: Path) -> dict:
    _drop(folder, "costs")
    return {}


def blank_user_columns(folder: Path) -> dict:
    users = _read(folder, "users")
    for col in ("birth_year", "gender", "province", "city", "city_tier", "device_os",
                "utm_source", "utm_medium", "utm_campaign", "inviter_id"):
        users[col] = None
    _write(folder, "users", users)
    return {}


def absent_user_columns(folder: Path) -> dict:
    users = _read(folder, "users")[["user_id", "registered_at"]]
    _write(folder, "users", users)
    return {}


def no_pre_signup_touches(folder: Path) -> dict:
    events = _read(folder, "events")
    _write(folder, "events", events[events.user_id.notna()])
    return {}


def no_kyc_or_card(folder: Path) -> dict:
    events = _read(folder, "events")
    _write(folder, "events", events[~events.event_name.isin(["kyc_verified", "bind_card"])])
    return {}


def own_event_names(folder: Path) -> dict:
    """Every role but register under the platform's own name, no mapping: the chapters are
    told the names through their parameters."""
    names = {"ad_click": "点击广告", "link_click": "点击短链", "app_install": "安装App",
             "kyc_verified": "完成实名", "bind_card": "绑定银行卡", "coupon_claim": "领取红包",
             "app_open": "启动App", "share": "分享邀请"}
    events = _read(folder, "events")
    events["event_name"] = events.event_name.replace(names)
    _write(folder, "events", events)
    campaigns = _read(folder, "campaigns")
    campaigns["goal"] = campaigns.goal.replace(names)
    _write(folder, "campaigns", campaigns)
    return {"steps": ["点击广告", "安装App", "register", "完成实名", "绑定银行卡", "first_investment"],
            "touch_events": ["点击广告", "点击短链"]}


def signups_stopped_a_year_ago(folder: Path) -> dict:
    users = _read(folder, "users")
    last = pd.Timestamp(users.registered_at.max()).date()
    _config(folder, analysis_date=(last + dt.timedelta(days=365)).isoformat())
    return {}


def two_weeks(folder: Path) -> dict:
    users = _read(folder, "users")
    start = pd.Timestamp(users.registered_at.min()).normalize()
    end = start + pd.Timedelta(days=14)
    users = users[users.registered_at < end]
    keep = set(users.user_id)
    _write(folder, "users", users)
    events = _read(folder, "events")
    _write(folder, "events", events[(events.event_time < end)
                                    & (events.user_id.isna() | events.user_id.isin(keep))])
    txns = _read(folder, "transactions")
    _write(folder, "transactions", txns[(txns.txn_time < end) & txns.user_id.isin(keep)])
    costs = _read(folder, "costs")
    _write(folder, "costs", costs[pd.to_datetime(costs.date) < end])
    _drop(folder, "campaigns", "campaign_members")
    _config(folder, analysis_date=(end - pd.Timedelta(days=1)).date().isoformat())
    return {}


def one_channel(folder: Path) -> dict:
    for name in ("users", "events", "costs"):
        frame = _read(folder, name)
        tagged = frame.utm_source.notna()
        frame.loc[tagged, "utm_source"] = "baidu"
        if name == "costs":
            frame = frame.groupby(["date", "utm_source", "utm_medium", "utm_campaign"], dropna=False,
                                  as_index=False)[["spend", "impressions", "clicks"]].sum()
        _write(folder, name, frame)
    return {}


def no_second_investments(folder: Path) -> dict:
    txns = _read(folder, "transactions")
    ok = txns[txns.status == "success"].sort_values(["user_id", "txn_time", "txn_id"])
    _write(folder, "transactions", ok.groupby("user_id", as_index=False).head(1))
    return {}


def campaigns_without_holdout(folder: Path) -> dict:
    members = _read(folder, "campaign_members")
    _write(folder, "campaign_members", members[members.group == "treatment"])
    return {}


def campaigns_all_holdout(folder: Path) -> dict:
    members = _read(folder, "campaign_members")
    members = members[members.group == "control"]
    _write(folder, "campaign_members", members)
    return {}


def analysis_after_the_data(folder: Path) -> dict:
    _config(folder, analysis_date="2028-12-31")
    return {}


SHAPES: dict[str, Callable[[Path], dict]] = {
    "no_optional_tables": no_optional_tables,
    "no_costs": no_costs,
    "blank_user_columns": blank_user_columns,
    "absent_user_columns": absent_user_columns,
    "no_pre_signup_touches": no_pre_signup_touches,
    "no_kyc_or_card": no_kyc_or_card,
    "own_event_names": own_event_names,
    "signups_stopped_a_year_ago": signups_stopped_a_year_ago,
    "two_weeks": two_weeks,
    "forty_users": lambda folder: {},
    "one_channel": one_channel,
    "no_second_investments": no_second_investments,
    "campaigns_without_holdout": campaigns_without_holdout,
    "campaigns_all_holdout": campaigns_all_holdout,
    "analysis_after_the_data": analysis_after_the_data,
}


def make(name: str, tmp_root: Path) -> tuple[Path, dict]:
    """Write the dataset of shape `name` under `tmp_root`; returns (folder, run parameters)."""
    folder = tmp_root / name
    source = base(tmp_root, 40 if name == "forty_users" else BASE_USERS)
    shutil.copytree(source, folder)
    return folder, SHAPES[name](folder)

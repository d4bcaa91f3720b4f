"""Every mart has the columns it declares and a key that is unique, on the demo and by hand.

The marts are the derived tables several chapters share (docs/design_notes.md, "Where things
live"); each declares NAME, KEY and COLUMNS beside the code that builds it.
"""

from __future__ import annotations

import ibis
import pandas as pd
import pytest
from conftest import event, txn, user, write_dataset
from ibis import _

from growthloop.marts import events, identity, investments, stored_marts, touches, wide
from growthloop.staging.loader import open_dataset


def duplicate_keys(table: ibis.Table, key: tuple[str, ...]) -> int:
    """Key values held by more than one row (null keys count as a value)."""
    dup = table.group_by(list(key)).aggregate(n=_.count()).filter(_.n > 1)
    return int(dup.count().to_pyarrow().as_py())


@pytest.mark.parametrize("mart", stored_marts(), ids=lambda m: m.name)
def test_stored_marts_declare_their_columns_and_a_unique_key(demo_ds, mart):
    table = demo_ds.keep(mart.name, lambda: mart.build(demo_ds))
    # the declared columns, in order; person_events then carries the dataset's event properties
    extra = events.event_properties(demo_ds) if mart.name == identity.NAME else ()
    assert tuple(table.columns) == (*mart.columns, *extra)
    if mart.key:
        assert duplicate_keys(table, mart.key) == 0


def test_person_events_hold_every_event_once_and_one_user_per_person(demo_ds):
    pe = identity.person_events(demo_ds)
    ev = demo_ds.events.filter(demo_ds.events.event_time < demo_ds.period_end)
    assert pe.count().execute() == ev.count().execute()
    # a signed-in event keeps its own user; a person has one user id (or none: a visitor)
    users = pe.group_by("person_id").aggregate(n=_.user_id.nunique(), anon=_.user_id.isnull().any())
    assert users.filter((_.n > 1) | ((_.n == 1) & _.anon)).count().execute() == 0
    signed = pe.filter(pe.signed_in)
    assert signed.filter(signed.user_id.isnull() | (signed.person_id != signed.user_id)).count().execute() == 0


def test_investments_are_numbered_per_user_in_time_order(tmp_path):
    # by hand: U1 invests at 9:00 (T2) and 9:00 again (T1, same second: txn_id breaks the tie),
    # then 10:00 (T3): T1 is 0, T2 is 1, T3 is 2; U2's only investment is 0
    path = write_dataset(
        tmp_path / "d",
        users=[user("U1", "2025-01-01 08:00:00"), user("U2", "2025-01-01 08:00:00")],
        events=[event("register", "2025-01-01 08:00:00", "U1", "A1"),
                event("register", "2025-01-01 08:00:00", "U2", "A2")],
        transactions=[txn("T2", "U1", "2025-01-02 09:00:00", 100.0),
                      txn("T1", "U1", "2025-01-02 09:00:00", 200.0),
                      txn("T3", "U1", "2025-01-02 10:00:00", 300.0),
                      txn("T4", "U2", "2025-01-03 10:00:00", 400.0)],
        config={"name": "d", "analysis_date": "2025-03-31"},
    )
    inv = investments.investments(open_dataset(path)).to_pandas().set_index("txn_id")
    assert inv.invest_n.to_dict() == {"T1": 0, "T2": 1, "T3": 2, "T4": 0}
    assert tuple(inv.reset_index().columns) == investments.COLUMNS


def test_touches_are_person_events_of_the_touch_names(demo_ds):
    t = touches.touches(demo_ds)
    assert tuple(t.columns) == touches.COLUMNS
    pe = identity.person_events(demo_ds)
    n_touch_events = pe.filter(pe.event_name.isin(list(touches.TOUCH_EVENTS))).count().execute()
    assert t.count().execute() == n_touch_events
    # every touch has a channel (a source no channel claims keeps its name, none is 未标记)
    assert t.filter(t.channel.isnull()).count().execute() == 0


def test_the_uniqueness_check_sees_a_duplicate():
    t = ibis.memtable(pd.DataFrame({"k": ["a", "a", "b"], "v": [1, 2, 3]}))
    assert duplicate_keys(t, ("k",)) == 1
    assert duplicate_keys(t, ("k", "v")) == 0


def test_wide_key_is_the_user(demo_ds):
    w = wide.user_wide(demo_ds)
    assert wide.KEY == ("user_id",) and duplicate_keys(w, wide.KEY) == 0
    users = demo_ds.users.filter(demo_ds.users.registered_at < demo_ds.period_end)
    assert w.count().execute() == users.count().execute()


def test_the_sign_up_channel_is_one_rule_for_the_wide_table_and_chapter_3(tmp_path):
    """U1 signs up with baidu in the users table; U2 without a UTM, after two tagged clicks on
    its device (the last one before it, toutiao, decides); U3 with neither: 未标记. The wide table and the
    channel monitoring table count the same people per sign-up channel."""
    from growthloop.metrics import attribution

    users = [user("U1", "2025-01-01 10:00:00"),
             user("U2", "2025-01-02 10:00:00", utm_source=None, utm_medium=None, utm_campaign=None),
             user("U3", "2025-01-03 10:00:00", utm_source=None, utm_medium=None, utm_campaign=None)]
    evs = [event("register", "2025-01-01 10:00:00", "U1", "A1"),
           event("ad_click", "2025-01-02 08:00:00", None, "A2", utm_source="baidu"),
           event("ad_click", "2025-01-02 09:00:00", None, "A2", utm_source="toutiao"),
           event("ad_click", "2025-01-02 11:00:00", None, "A2", utm_source="wechat"),  # after
           event("register", "2025-01-02 10:00:00", "U2", "A2"),
           event("register", "2025-01-03 10:00:00", "U3", "A3")]
    ds = open_dataset(write_dataset(tmp_path / "d", users=users, events=evs,
                                    transactions=[txn("T1", "U1", "2025-01-05 10:00:00", 100.0)],
                                    config={"name": "d", "analysis_date": "2025-03-31"}))
    w = wide.user_wide(ds).to_pandas().set_index("user_id").signup_channel.to_dict()
    assert w == {"U1": "百度搜索", "U2": "信息流广告", "U3": "未标记"}  # toutiao: the default map
    monitor = attribution.channel_monitor(ds)
    monitor = monitor[monitor.channel != attribution.TOTAL].set_index("channel").registrations
    # (wechat: a channel with a click and no sign-up)
    assert monitor.to_dict() == {"信息流广告": 1, "未标记": 1, "百度搜索": 1, "wechat": 0}

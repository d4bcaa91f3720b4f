"""Own events and their properties: every event name is kept, properties become columns.

The platform's own event names (浏览产品详情, 风险测评, product_view ...) are kept beside the
roles the chapters rely on (register, bind_card ...); event properties come from a JSON
`properties` column (text, or a Parquet struct or map) or from extra columns dataset.yml lists.
Expected values are read off the rows written here.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import event, txn, user, write_dataset

from growthloop.errors import ConfigError, DataError
from growthloop.staging.loader import open_dataset

USERS = [user("U1", "2025-01-01 10:00:00"), user("U2", "2025-01-02 10:00:00")]
TXNS = [txn("T1", "U1", "2025-01-03 09:00:00", 1000.0)]


def own_events(props: bool = True) -> list[dict]:
    def p(**kw) -> dict:
        return {"properties": json.dumps(kw, ensure_ascii=False)} if props else {}
    return [
        event("register", "2025-01-01 10:00:00", "U1", "A1"),
        event("register", "2025-01-02 10:00:00", "U2", "A2"),
        event("浏览产品详情", "2025-01-02 12:00:00", "U1", "A1", **p(product_type="定期12月", price=3)),
        event("浏览产品详情", "2025-01-02 13:00:00", "U2", "A2", **p(product_type="活期")),
        event("风险测评", "2025-01-02 14:00:00", "U1", "A1", **p(level="C3")),
        event("Register", "2025-01-02 15:00:00", "U2", "A2"),
    ]


def folder(tmp_path: Path, events: list[dict], config: dict | None = None, fmt="parquet") -> Path:
    return write_dataset(tmp_path / "d", fmt=fmt, users=USERS, events=events, transactions=TXNS,
                         config={"name": "own", "analysis_date": "2025-03-31", **(config or {})})


def props(ds) -> pd.DataFrame:
    ev = ds.events.order_by("event_time").to_pandas()
    return ev.set_index("event_time")


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_every_event_name_is_kept_and_json_keys_become_columns(tmp_path, fmt):
    ds = open_dataset(folder(tmp_path, own_events(), fmt=fmt))
    assert ds.quality.read["events"] == ds.quality.used["events"] == 6
    ev = props(ds)
    # keys found in the JSON objects, sorted: level, price, product_type; the JSON text itself
    # is not kept
    assert [c for c in ev.columns if c not in ds.events.columns[:10]] == ["level", "price", "product_type"]
    assert "properties" not in ev.columns
    assert ev.product_type.tolist() == [None, None, "定期12月", "活期", None, None]
    assert ev.price.tolist()[2] == "3"  # a JSON number is read as its text
    names = {r["name"]: r["events"] for r in ds.quality.event_names}
    assert names == {"register": 2, "浏览产品详情": 2, "风险测评": 1, "Register": 1}


def test_listed_properties_from_columns_and_json(tmp_path):
    events = own_events()
    for row in events:
        row["渠道页"] = "首页" if row["event_name"] == "浏览产品详情" else None
    cfg = {"tables": {"events": {"properties": ["product_type", "page"],
                                 "columns": {"渠道页": "page"}}}}
    ds = open_dataset(folder(tmp_path, events, cfg))
    ev = props(ds)
    # only the listed ones: page from its (renamed) column, product_type from the JSON
    assert [c for c in ev.columns if c in ("page", "product_type", "level", "price")] == ["product_type", "page"]
    assert ev.page.tolist() == [None, None, "首页", "首页", None, None]
    assert "渠道页" not in ds.quality.ignored_columns.get("events", [])


def test_struct_properties_in_parquet(tmp_path):
    path = folder(tmp_path, own_events(props=False))
    table = pq.read_table(path / "events.parquet")
    struct = pa.array([None, None, {"product_type": "定期12月"}, {"product_type": "活期"},
                       {"product_type": None}, None],
                      type=pa.struct([("product_type", pa.string())]))
    pq.write_table(table.append_column("properties", struct), path / "events.parquet")
    ev = props(open_dataset(path))
    assert ev.product_type.tolist() == [None, None, "定期12月", "活期", None, None]


def test_property_errors_name_what_to_do(tmp_path):
    # a listed property the file does not have
    with pytest.raises(DataError, match=r"column 'risk'.*neither a column of that name nor a properties column"):
        open_dataset(folder(tmp_path / "a", own_events(props=False),
                            {"tables": {"events": {"properties": ["risk"]}}}))
    # properties on a table that has none, a property named like a contract column, not a list
    for bad, match in [({"users": {"properties": ["x"]}}, "only events have properties"),
                       ({"events": {"properties": ["user_id"]}}, "is a column of the events table"),
                       ({"events": {"properties": "level"}}, "must be a list"),
                       ({"events": {"propertys": ["level"]}}, r"unknown key\(s\) \['propertys'\]")]:
        path = folder(tmp_path / f"b{len(match)}", own_events())
        (path / "dataset.yml").write_text(yaml.safe_dump({"tables": bad}, allow_unicode=True), encoding="utf-8")
        with pytest.raises(ConfigError, match=match):
            open_dataset(path)


def test_too_many_json_keys_must_be_listed(tmp_path):
    events = own_events(props=False)
    for i, row in enumerate(events):
        row["properties"] = json.dumps({f"k{i}_{j}": j for j in range(8)})
    with pytest.raises(DataError, match=r"holds 48 different keys.*tables.events.properties"):
        open_dataset(folder(tmp_path, events))
    # listing the ones needed loads them, and a malformed JSON text is a missing value
    events[2]["properties"] = "{not json"
    ds = open_dataset(folder(tmp_path / "ok", events, {"tables": {"events": {"properties": ["k3_1"]}}}))
    assert props(ds).k3_1.tolist() == [None, None, None, "1", None, None]


def test_a_json_property_is_missing_wherever_the_text_is_no_json_object() -> None:
    # the values read by hand: text that is no JSON, an array, a scalar, a blank, null and an
    # object without the key give missing; a nested object its JSON text, a number its digits
    import ibis

    from growthloop.engine import property_value

    texts = ['{"level": "C3"}', "{not json", "[1, 2]", '"C3"', "", None, '{"page": 1}',
             '{"level": {"a": 1}}', '{"level": 5}', '{"level": null}']
    blob = ibis.memtable({"properties": texts}, schema={"properties": "string"}).properties
    got = ibis.duckdb.connect().execute(property_value(blob, "level", "duckdb")).tolist()
    assert got == ["C3", None, None, None, None, None, None, '{"a":1}', "5", None]


def test_a_nullable_column_may_be_absent_from_the_file(tmp_path):
    # an export without gender, province, city, device_os, birth_year loads with them unknown,
    # and the data-quality report lists them; a column that needs a value in every row may not
    rows = [{"user_id": "U1", "registered_at": "2025-01-01 10:00:00"},
            {"user_id": "U2", "registered_at": "2025-01-02 10:00:00"}]
    path = write_dataset(tmp_path / "d", users=[], events=own_events(props=False), transactions=TXNS,
                         config={"name": "own", "analysis_date": "2025-03-31"})
    pd.DataFrame(rows).assign(registered_at=lambda f: pd.to_datetime(f.registered_at)).to_parquet(
        path / "users.parquet", index=False)
    ds = open_dataset(path)
    assert ds.quality.used["users"] == 2
    assert ds.users.gender.isnull().all().execute()
    assert set(ds.quality.absent_columns["users"]) == {"birth_year", "gender", "province", "city",
                                                       "device_os"}
    pd.DataFrame([{"user_id": "U1"}]).to_parquet(path / "users.parquet", index=False)
    with pytest.raises(DataError, match="'registered_at': required column is missing"):
        open_dataset(path)


def test_event_names_table_points_out_near_misses_and_missing_roles(tmp_path):
    from growthloop.staging.quality import event_names, events_finding

    table = event_names(open_dataset(folder(tmp_path, own_events()))).set_index("event_name")
    # the action finds the near miss by its Chinese note (no English gloss in the table)
    assert "1 个事件名只和角色名差大小写或空格（如 Register）" in events_finding(table.reset_index())[1]
    assert table.loc["浏览产品详情", "role"] == "自有事件"
    assert table.loc["register", "role"] == "注册" and table.loc["register", "events"] == 2
    assert table.loc["Register", "note"].startswith("看起来是 register：")
    assert table.loc["register", "note"] == ""
    assert table.loc["bind_card", "events"] == 0 and "数据中没有此角色的事件" in table.loc["bind_card", "note"]
    assert table.loc["风险测评", "first_day"] == "2025-01-02"


def test_event_names_count_the_clean_rows_with_and_without_a_note(tmp_path):
    # worked out by hand: 浏览产品详情 30 s before U2's sign-up is kept with a note (two
    # systems' clocks) and counts with the plain ones; a 风险测评 row without a time and one
    # of a user not in users are set aside and count nowhere; without an analysis date in
    # dataset.yml the book's date is the last clean event's day (2025-01-05), not the later day
    # of a set-aside row
    events = [*own_events(props=False),
              event("浏览产品详情", "2025-01-02 09:59:30", "U2", "A2"),
              event("浏览产品详情", "2025-01-05 08:00:00", "U1", "A1"),
              event("风险测评", None, "U1", "A1"),
              event("风险测评", "2025-01-09 08:00:00", "U9", "A9")]
    path = write_dataset(tmp_path / "d", users=USERS, events=events, transactions=TXNS,
                         config={"name": "own"})
    ds = open_dataset(path, today=dt.date(2025, 3, 31))
    assert ds.quality.event_names == [
        {"name": "Register", "events": 1, "first_day": "2025-01-02", "last_day": "2025-01-02"},
        {"name": "register", "events": 2, "first_day": "2025-01-01", "last_day": "2025-01-02"},
        {"name": "浏览产品详情", "events": 4, "first_day": "2025-01-02", "last_day": "2025-01-05"},
        {"name": "风险测评", "events": 1, "first_day": "2025-01-02", "last_day": "2025-01-02"},
    ]
    assert ds.analysis_date == dt.date(2025, 1, 5)
    assert ds.quality.read["events"] - ds.quality.used["events"] == 2
    assert any(n.table == "events" and n.rows == 1 for n in ds.quality.notes)


def test_selectors_parse_and_check_against_the_data(tmp_path):
    from growthloop.marts import events as ev

    ds = open_dataset(folder(tmp_path, own_events()))
    plain = ev.selector("浏览产品详情", "steps")
    filtered = ev.selector({"event": "浏览产品详情", "where": {"product_type": "定期12月"}}, "steps")
    listed = ev.selector({"event": "风险测评", "where": {"level": ["C4", "C3"], "price": 3.0}}, "steps")
    assert plain.key == "浏览产品详情" and filtered.key == "浏览产品详情[product_type=定期12月]"
    assert listed.where == (("level", ("C3", "C4")), ("price", ("3",)))
    assert listed.properties == ("level", "price") and plain.properties == ()
    assert filtered.label() == "浏览产品详情 (product_type=定期12月)"
    assert ev.selector("register").label() == "注册"
    ev.check(ds, [plain, filtered, listed, ev.selector("first_investment")], "steps")
    # by hand: one 浏览产品详情 row has product_type 定期12月
    rows = ds.events.filter(filtered.condition(ds.events)).count().execute()
    assert rows == 1
    with pytest.raises(DataError, match=r"no event is named '浏览产品'.*closest event names in the data are \['浏览产品详情'"):
        ev.check(ds, [ev.selector("浏览产品")], "steps")
    with pytest.raises(DataError, match=r"property 'colour'.*the event properties are \['level', 'price', 'product_type'\]"):
        ev.check(ds, [ev.selector({"event": "风险测评", "where": {"colour": "red"}})], "steps")
    for bad in ({"evnt": "x"}, {"event": "x", "where": "a"}, {"event": "first_investment", "where": {"a": 1}},
                {"event": "x", "where": {"a": []}}, 3, ""):
        with pytest.raises(ValueError, match="steps"):
            ev.selector(bad, "steps")


def test_person_events_carry_the_properties(tmp_path):
    from growthloop.marts.identity import person_events, person_steps

    ds = open_dataset(folder(tmp_path, own_events()))
    pe = person_events(ds).to_pandas()
    assert {"product_type", "level", "price"} <= set(pe.columns)
    steps = person_steps(ds, ["浏览产品详情", "first_investment"]).to_pandas()
    assert sorted(steps.product_type.dropna()) == ["定期12月", "活期"]
    assert steps[steps.event_name == "first_investment"].product_type.isna().all()
    # a caller reading few columns gets those, in the table's order, and the same rows
    cols = ["product_type", "person_id", "event_time"]
    few = person_steps(ds, ["浏览产品详情", "first_investment"], columns=cols).to_pandas()
    assert list(few.columns) == ["person_id", "event_time", "product_type"]
    key = ["person_id", "event_time", "product_type"]
    pd.testing.assert_frame_equal(
        few.sort_values(key, na_position="first").reset_index(drop=True),
        steps[key].sort_values(key, na_position="first").reset_index(drop=True))


def clickstream(tmp_path):
    """A retailer-like clickstream with the platform's own names and a property, no mapping but
    register: three users' product_view -> add_to_cart (with the product) -> purchase."""
    users = [user("U1", "2025-01-01 10:00:00"), user("U2", "2025-01-01 11:00:00"),
             user("U3", "2025-01-01 12:00:00")]
    p = lambda **kw: {"properties": json.dumps(kw, ensure_ascii=False)}  # noqa: E731
    events = [
        event("product_view", "2025-01-01 09:00:00", None, "A1", **p(product="定期12月")),
        event("register", "2025-01-01 10:00:00", "U1", "A1"),
        event("add_to_cart", "2025-01-01 10:05:00", "U1", "A1", **p(product="定期12月")),
        event("purchase", "2025-01-01 10:10:00", "U1", "A1", **p(product="定期12月")),
        event("register", "2025-01-01 11:00:00", "U2", "A2"),
        event("product_view", "2025-01-01 11:01:00", "U2", "A2", **p(product="活期")),
        event("add_to_cart", "2025-01-01 11:02:00", "U2", "A2", **p(product="活期")),
        event("register", "2025-01-01 12:00:00", "U3", "A3"),
        event("product_view", "2025-01-01 12:01:00", "U3", "A3", **p(product="定期12月")),
        event("product_view", "2025-01-05 12:01:00", None, "A9", **p(product="定期12月")),
    ]
    return write_dataset(tmp_path / "shop", users=users, events=events,
                         transactions=[txn("T1", "U1", "2025-01-01 10:10:00", 1000.0)],
                         config={"name": "shop", "analysis_date": "2025-03-31"})


def test_a_funnel_of_own_events_with_a_property_filter_counts_by_hand(tmp_path):
    from growthloop.metrics import funnel as fn

    ds = open_dataset(clickstream(tmp_path))
    spec = fn.make_spec(["product_view", "add_to_cart", "purchase"], window_days=30)
    res = fn.funnel(ds, spec).set_index("step")
    # independent count (pandas over the same rows): people with a view, then a cart at or
    # after it, then a purchase at or after that; A1's anonymous view belongs to U1 (the
    # register on its device comes next); A9 is a visitor
    ev = ds.events.to_pandas()
    owner = {"A1": "U1", "A2": "U2", "A3": "U3", "A9": "anon:A9"}
    ev["person"] = ev.user_id.fillna(ev.anonymous_id.map(owner))
    reached = []
    for _person, rows in ev.sort_values("event_time").groupby("person"):
        t = None
        n = 0
        for step in ["product_view", "add_to_cart", "purchase"]:
            later = rows[(rows.event_name == step) & ((rows.event_time >= t) if t is not None else True)]
            if later.empty:
                break
            t, n = later.event_time.iloc[0], n + 1
        reached.append(n)
    by_hand = [sum(r >= k for r in reached) for k in (1, 2, 3)]
    assert res.users.tolist() == by_hand == [4, 2, 1]
    # with a property filter: only views and carts of 定期12月 products (U1, U3, the visitor)
    spec = fn.make_spec([{"event": "product_view", "where": {"product": "定期12月"}},
                         {"event": "add_to_cart", "where": {"product": ["定期12月", "定期6月"]}},
                         "purchase"], window_days=30)
    res = fn.funnel(ds, spec)
    assert res.users.tolist() == [3, 1, 1]
    assert res.label.tolist() == ["product_view (product=定期12月)",
                                  "add_to_cart (product=定期12月/定期6月)", "purchase"]
    with pytest.raises(DataError, match=r"no event is named 'add_to_card'.*\['add_to_cart'"):
        fn.funnel(ds, fn.make_spec(["product_view", "add_to_card"]))
    with pytest.raises(DataError, match=r"property 'sku'.*\['product'\]"):
        fn.funnel(ds, fn.make_spec([{"event": "product_view", "where": {"sku": "x"}}, "purchase"]))


def test_own_events_as_touches_conversions_and_returns(tmp_path):
    from growthloop.metrics import attribution as at
    from growthloop.metrics import retention as rt

    ds = open_dataset(clickstream(tmp_path))
    # touches: the platform's own product_view (no UTM values: untagged); by hand 4 views, of
    # which A1's anonymous one is U1's and A9's stays a visitor's
    t = at.touches(ds, ["product_view"]).to_pandas().sort_values("event_time")
    assert t.person_id.tolist() == ["U1", "U2", "U3", "anon:A9"]
    assert at.touches(ds, [{"event": "product_view", "where": {"product": "活期"}}]).count().execute() == 1
    # the default roles the data lacks (ad_click, link_click) add no touch: no error
    assert at.touches(ds).count().execute() == 0
    with pytest.raises(DataError, match=r"touch_events: no event is named 'product_veiw'"):
        at.touches(ds, ["product_veiw"])
    # a conversion by an own event with a property: U1's purchase of 定期12月 only
    conv = at.conversion_times(ds, {"event": "purchase", "where": {"product": "定期12月"}}).to_pandas()
    assert conv.person_id.tolist() == ["U1"]
    # a return event of one's own: each user's activity is their add_to_cart
    acts = rt.activity(ds, "add_to_cart").to_pandas().sort_values("user_id")
    assert acts.user_id.tolist() == ["U1", "U2"]
    with pytest.raises(DataError, match="return_event: no event is named 'add_to_carts'"):
        rt.activity(ds, "add_to_carts")


def test_a_campaign_goal_can_be_an_own_event_with_a_property_filter(tmp_path):
    from growthloop.metrics import campaign_review as cr

    users = [user(f"U{i}", "2025-01-01 10:00:00") for i in range(1, 5)]
    p = lambda **kw: {"properties": json.dumps(kw, ensure_ascii=False)}  # noqa: E731
    events = [event("register", "2025-01-01 10:00:00", f"U{i}", f"A{i}") for i in range(1, 5)] + [
        event("浏览产品详情", "2025-02-02 09:00:00", "U1", "A1", **p(product_type="定期12月")),
        event("浏览产品详情", "2025-02-02 09:00:00", "U2", "A2", **p(product_type="活期")),
        event("浏览产品详情", "2025-02-20 09:00:00", "U3", "A3", **p(product_type="定期12月")),
    ]
    campaigns = [{"campaign_id": "C1", "name": "定期推荐", "channel": "push",
                  "start_at": "2025-02-01 10:00:00", "goal": "浏览产品详情", "window_days": 7}]
    members = [{"campaign_id": "C1", "user_id": u, "group": g, "sent_at": s}
               for u, g, s in (("U1", "treatment", "2025-02-01 10:00:00"),
                               ("U2", "treatment", "2025-02-01 10:00:00"),
                               ("U3", "control", None), ("U4", "control", None))]
    path = write_dataset(tmp_path / "c", users=users, events=events, transactions=TXNS,
                         campaigns=campaigns, campaign_members=members,
                         config={"name": "c", "analysis_date": "2025-03-31"})
    ds = open_dataset(path)
    # the table's goal, an own event: U1's and U2's views in the window count (2 of 2); U3's
    # view comes after its 7 days
    camp = cr.campaign(ds, "C1")
    eff = cr.effect(ds, camp)
    assert (eff["responders_t"], eff["responders_c"]) == (2, 0)
    # the same goal with a property filter, as the chapter's parameter: only U1's 定期12月 view
    camp = cr.campaign(ds, "C1", goal={"event": "浏览产品详情", "where": {"product_type": "定期12月"}})
    assert camp.goal_label == "浏览产品详情 (product_type=定期12月)"
    eff = cr.effect(ds, camp)
    assert (eff["responders_t"], eff["users_t"], eff["responders_c"]) == (1, 2, 0)
    with pytest.raises(DataError, match=r"goal: no event is named '浏览详情'"):
        cr.campaign(ds, "C1", goal="浏览详情")

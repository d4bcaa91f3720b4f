"""The stage functions on PostgreSQL (Ibis's postgres backend) give DuckDB's results.

A representative set from every module (funnel with its breakdowns and time to convert,
retention, RFM, the wide table and profiling, attribution's monitor and paths, the campaign
review with the uplift model's cells) runs on the Spark tests' small dataset on DuckDB and on a
throwaway Postgres server started for the session (tests/postgres_support.py): counts must be
equal, money and statistics equal to 1e-9. The Postgres-only compiler rules of
growthloop.engine (boolean casts, array minima, md5, URL-decoding) are what make these run.
"""

from __future__ import annotations

import ibis
import pandas as pd
import pytest
from postgres_support import pg_pair_fixture  # noqa: F401  (the fixture `pg_pair`)
from spark_support import (
    assert_same_frame,
    both,
    check_utm_cleaning,
    same_numbers,
    same_paths,
    schema_types,
)

from growthloop.marts import outcomes as mart
from growthloop.marts.wide import WIDE_COLUMNS, user_wide
from growthloop.metrics import attribution as at
from growthloop.metrics import campaign_review as cr
from growthloop.metrics import funnel as fn
from growthloop.metrics import profiling, rfm, uplift
from growthloop.metrics import retention as rt

# ---- the harness ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["users", "events", "transactions", "costs", "campaigns",
                                  "campaign_members"])
def test_harness_copies_every_clean_table_unchanged(pg_pair, name):
    duck, pg = pg_pair.duck.tables[name], pg_pair.spark.tables[name]
    assert schema_types(pg.schema()) == schema_types(duck.schema())
    assert pg.count().execute() == duck.count().execute() > 0
    assert_same_frame(duck, pg)


def test_harness_runs_in_the_dataset_time_zone(pg_pair):
    con = pg_pair.spark.con
    assert con.name == "postgres"
    with con.con.cursor() as cur:
        assert cur.execute("SHOW TimeZone").fetchone()[0] == "Asia/Shanghai"

    def days(ds):
        ev = ds.events
        return ev.group_by(day=ev.event_time.date(), month=ev.event_time.truncate("M")).aggregate(
            n=ev.count())

    assert_same_frame(*both(days, pg_pair), sort_by=["day"])


def test_postgres_compiler_rules(pg_pair):
    """The constructs Ibis 12 compiles wrongly for Postgres, each on its own."""
    t = ibis.memtable({"k": [1, 2, 3], "b": [True, False, None], "s": ["u1:7", "", None],
                       "at": ["2026-01-02 03:04:05", "2026-01-01 23:59:59", None]},
                      schema={"k": "int64", "b": "boolean", "s": "string", "at": "string"})
    t = t.mutate(at=t["at"].cast("timestamp"))
    arr = t.group_by(k=t.k % 2).aggregate(a=t["at"].collect())
    exprs = [
        t.select("k", i64=t.b.cast("int64"), i8=t.b.cast("int8"), md5=t.s.hexdigest("md5"),
                 fold=uplift.fold_of(t.s, 3, 7)),
        arr.select("k", first=arr.a.mins() + ibis.interval(days=1)),
    ]
    for expr in exprs:
        duck = pg_pair.duck.con.to_pandas(expr.order_by("k"))
        pg = pg_pair.spark.con.to_pandas(expr.order_by("k"))
        assert_same_frame(duck, pg, ordered=True)


def test_utm_cleaning(pg_pair):
    check_utm_cleaning(pg_pair)


# ---- funnel --------------------------------------------------------------------------------

SPECS = {
    "default": {},
    "strict": {"order": "strict"},  # all 7 steps: kept step by step on Postgres
    "total": {"count": "total", "step_windows": {"register": 3}},
    "exclusion": {"exclusions": [("coupon_claim", "register", "bind_card")], "window_days": 14},
}


@pytest.mark.parametrize("case", list(SPECS))
def test_funnel(pg_pair, case):
    spec = fn.make_spec(**SPECS[case])
    duck, pg = both(fn.step_times, pg_pair, spec)
    assert_same_frame(duck, pg, sort_by=["person_id", "entry_at"])
    duck, pg = both(fn.funnel, pg_pair, **SPECS[case])
    assert duck.users.iloc[0] > 100
    assert_same_frame(duck, pg, ordered=True)


@pytest.mark.parametrize("breakdown", ["signup_channel", "region", "first_touch", "last_touch",
                                       "step:ad_click"])
def test_funnel_breakdown(pg_pair, breakdown):
    duck, pg = both(fn.funnel, pg_pair, breakdown=breakdown)
    assert duck.segment.nunique() > 1
    assert_same_frame(duck, pg, ordered=True)


def test_time_to_convert_and_cohorts(pg_pair):
    (duck_stats, duck_hist), (pg_stats, pg_hist) = both(fn.time_to_convert, pg_pair)
    assert duck_stats.conversions.sum() > 100
    assert_same_frame(duck_stats, pg_stats, ordered=True)
    assert_same_frame(duck_hist, pg_hist, ordered=True)
    assert_same_frame(*both(fn.cohort_conversion, pg_pair), ordered=True)


# ---- retention -----------------------------------------------------------------------------


@pytest.mark.parametrize("params", [
    {"cohort_by": "signup", "unit": "month", "mode": "on"},
    {"cohort_by": "first_investment", "unit": "week", "mode": "on_or_after"},
    {"return_event": "any", "by": "signup_channel"},
])
def test_cohort_retention(pg_pair, params):
    duck, pg = both(rt.cohort_retention, pg_pair, **params)
    assert duck.retained.sum() > 0
    assert_same_frame(duck, pg, ordered=True)


def test_lifecycle_survival_and_ltv(pg_pair):
    assert_same_frame(*both(rt.lifecycle, pg_pair, period="month"), ordered=True)
    duck, pg = both(rt.nth_investment, pg_pair, max_n=5)
    assert_same_frame(duck, pg, ordered=True)
    duck, pg = both(rt.survival_data, pg_pair, by="signup_channel", churn_days=90)
    assert_same_frame(duck, pg)
    assert_same_frame(*both(rt.ltv_cohorts, pg_pair, horizon_months=6), ordered=True)
    duck, pg = both(rt.at_risk_count, pg_pair, dormant_days=30, churn_days=120)
    assert pg == duck > 0


# ---- RFM, wide table, profiling ------------------------------------------------------------


@pytest.mark.parametrize("params", [{}, {"split": "score", "monetary": "revenue", "bins": 4}])
def test_rfm_segments(pg_pair, params):
    duck, pg = both(rfm.segments, pg_pair, **params)
    assert_same_frame(duck, pg, sort_by=["user_id"])


def test_wide_table_and_profiling(pg_pair):
    duck, pg = user_wide(pg_pair.duck), user_wide(pg_pair.spark)
    assert list(pg.columns) == list(WIDE_COLUMNS)
    assert_same_frame(duck, pg, sort_by=["user_id"])
    for by in ("signup_channel", "age_band", "region"):
        assert_same_frame(profiling.composition(duck, by), profiling.composition(pg, by),
                          ordered=True)
    bounds = profiling.DEFAULT_AUM_BOUNDS
    assert_same_frame(profiling.layers(duck, "aum", bounds), profiling.layers(pg, "aum", bounds),
                      ordered=True)
    a, b = profiling.headline(duck), profiling.headline(pg)
    assert a.keys() == b.keys()
    for key, value in a.items():
        assert b[key] == pytest.approx(value, rel=1e-9), key


# ---- attribution ---------------------------------------------------------------------------


def test_channel_monitor(pg_pair):
    duck, pg = both(at.channel_monitor, pg_pair, by="channel")
    assert duck.registrations.sum() > 0 and duck.spend.sum() > 0
    assert_same_frame(duck, pg, ordered=True)
    same_numbers(at.monitor_summary(duck), at.monitor_summary(pg))
    assert_same_frame(*both(at.utm_quality, pg_pair), ordered=True)


def test_attribution_paths(pg_pair):
    duck, pg = both(at.attribution_paths, pg_pair)
    assert duck.conversions > 50
    same_paths(duck, pg)
    assert_same_frame(at.attribute(duck), at.attribute(pg), ordered=True)


# ---- campaign review -----------------------------------------------------------------------


@pytest.mark.parametrize("campaign_id, goal", [("C2025_01", None), ("C2026_01", None),
                                               ("C2026_01", "register")])
def test_campaign_review(pg_pair, campaign_id, goal):
    d = cr.campaign(pg_pair.duck, campaign_id, goal=goal)
    p = cr.campaign(pg_pair.spark, campaign_id, goal=goal)
    assert d == p
    duck, pg = mart.member_outcomes(pg_pair.duck, d), mart.member_outcomes(pg_pair.spark, p)
    assert duck.count().execute() == d.members
    assert_same_frame(duck, pg, sort_by=["user_id"])
    same_numbers(cr.effect(pg_pair.duck, d), cr.effect(pg_pair.spark, p))
    assert_same_frame(cr.campaign_funnel(pg_pair.duck, d), cr.campaign_funnel(pg_pair.spark, p),
                      ordered=True)


def test_uplift_model_cells(pg_pair):
    d = cr.campaign(pg_pair.duck, "C2026_01")
    p = cr.campaign(pg_pair.spark, "C2026_01")
    cells = uplift.model_cells(pg_pair.duck, d, folds=3, seed=11)
    assert sorted(cells.fold.unique()) == [0, 1, 2]
    assert_same_frame(cells, uplift.model_cells(pg_pair.spark, p, folds=3, seed=11), ordered=True)


def test_next_round_with_and_without_targets(pg_pair):
    # no segment qualifies: an empty plan and an empty list (the filter once used a NUL
    # sentinel, which Postgres refuses in a query); a forced segment: the same targets
    d = cr.campaign(pg_pair.duck, "C2026_01")
    p = cr.campaign(pg_pair.spark, "C2026_01")
    nothing = pd.DataFrame({"segment": ["35-44"], "verdict": ["not_significant"], "uplift": [0.0],
                            "ci_low": [-0.1], "rate_t": [0.5], "users_t": [3], "users_c": [2]})
    plan, targets = cr.next_round(pg_pair.spark, p, nothing, "age_band")
    assert plan.empty and targets.count().execute() == 0
    forced = nothing.assign(verdict=["positive"], uplift=[0.2], ci_low=[0.05])
    plan_d, targets_d = cr.next_round(pg_pair.duck, d, forced, "age_band")
    plan_p, targets_p = cr.next_round(pg_pair.spark, p, forced, "age_band")
    assert targets_d.count().execute() > 0
    assert_same_frame(targets_d, targets_p, sort_by=["user_id"])
    assert_same_frame(plan_d, plan_p, ordered=True)

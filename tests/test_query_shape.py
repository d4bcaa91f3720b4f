"""The shape of the SQL the costliest queries compile to: no join inside a CTE.

Ibis writes a table expression that one query reads twice as a common table expression, and
DuckDB materialises such a CTE when it holds a join: at 10M users the funnel's stitching and
the attribution touches each wrote a joined table of 80 to 110 million rows to disk and read it
back (docs/design_notes.md, "No large join read twice inside one query"). Timing tests cannot
guard that; the compiled SQL can. Identity is now stitched once into the person_events mart, so
the funnel and the touches read a kept table; the mart's own build is checked too. Each query below is compiled on the demo dataset, parsed with
sqlglot, and every CTE in it must be free of joins (an aggregate or a plain scan is fine: it is
small, or DuckDB streams it).
"""

from __future__ import annotations

import pytest
import sqlglot
import sqlglot.expressions as sge

from growthloop import DEMO_DATA
from growthloop.marts import identity
from growthloop.marts import touches as tm
from growthloop.marts.events import selectors
from growthloop.marts.identity import person_steps
from growthloop.metrics import funnel as fn
from growthloop.staging.loader import open_dataset


@pytest.fixture(scope="module")
def demo():
    return open_dataset(DEMO_DATA)


def ctes_with_joins(con, expr) -> dict[str, str]:
    """CTE name -> its SQL, for the CTEs of `expr`'s compiled SQL that contain a join."""
    tree = sqlglot.parse_one(con.compile(expr), dialect="duckdb")
    return {cte.alias: cte.this.sql(dialect="duckdb")[:300]
            for cte in tree.find_all(sge.CTE) if cte.this.find(sge.Join) is not None}


def test_the_check_sees_a_join_read_twice(demo):
    # a joined table read twice is what the check must catch, or it proves nothing
    ev = demo.events.select("user_id", "event_name")
    users = demo.users.select(uid="user_id", city="city")
    joined = ev.inner_join(users, ev.user_id == users.uid)
    twice = joined.filter(joined.event_name == "register").union(
        joined.filter(joined.event_name == "bind_card"))
    assert ctes_with_joins(demo.con, twice)


@pytest.mark.parametrize("order", ["sequential", "strict"])
def test_funnel_step_times_hold_no_join_in_a_cte(demo, order):
    spec = fn.make_spec(fn.DEFAULT_STEPS, 30, order, None, (), "unique")
    expr = fn.step_times_from(person_steps(demo, spec.names), spec, demo.period_end)
    assert ctes_with_joins(demo.con, expr) == {}


def test_attribution_touches_hold_no_join_in_a_cte(demo):
    expr = tm.build(demo, selectors(tm.TOUCH_EVENTS, "touch_events"), ())
    assert ctes_with_joins(demo.con, expr) == {}


def test_identity_mart_holds_no_join_in_a_cte(demo):
    # stitching reads the events twice (every device, then the shared ones): a plain scan
    assert ctes_with_joins(demo.con, identity.build(demo)) == {}

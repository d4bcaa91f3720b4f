"""Four metrics three ways: the GrowthLoop library, one hand-written DuckDB SQL query, plain pandas.

Each metric is reduced to the same small frame by every implementation, so the harness can
assert that the three agree (at 100k users) before it compares their times:

* funnel  — people reaching each step of the default funnel (ad_click -> ... -> second
  investment, 30-day window from entry, sequential, anonymous touches stitched to the user who
  signs up next on the device): columns step, users.
* cohort  — monthly sign-up cohorts x months since sign-up, users retained (a successful
  investment in that month, at or after sign-up): cohort, period, users, retained.
* rfm     — R (days since the last investment), F and M (count and amount in the last 365
  days), scores 1-5 by rank quantiles and the eight segments by the mean split: one row per
  (segment, r_score, f_score, m_score) with users and amount.
* paths   — first-investment paths over ad/link clicks in the 30 days before the conversion
  (the last touch for people who did not convert), one step per run of a channel, at most 20
  steps, conversions without a touch as 直接访问: path, conversions, nulls.

The SQL queries run on the loader's clean tables (gl_users, gl_events, gl_transactions) in the
same DuckDB connection as the library, so the ratio compares like with like: the same engine,
the same input, the library's Ibis expressions against the best single query. The funnel
and path queries read the person-level events the load keeps (gl_person_events: identity
stitched once), as the library does (floors.py measures the load and that stitch against a
plain read of the files). The pandas code
reads the Parquet files and applies the loader's one rule that matters here (successful
transactions only), as an analyst would.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pandas as pd

METRICS = ("funnel", "cohort", "rfm", "paths")
STEPS = ("ad_click", "app_install", "register", "kyc_verified", "bind_card",
         "first_investment", "second_investment")
EVENT_STEPS = STEPS[:5]
WINDOW_DAYS = 30
RFM_PERIOD_DAYS = 365
RFM_BINS = 5
TIE_TOL = 1e-9  # growthloop.metrics.rfm._TIE_TOL
LOOKBACK_DAYS = 30
MAX_TOUCHES = 20
TOUCH_EVENTS = ("ad_click", "link_click")
DIRECT = "直接访问"
UNTAGGED = "未标记"
SEP = " > "


def period_end(analysis_date: dt.date) -> dt.datetime:
    return dt.datetime.combine(analysis_date + dt.timedelta(days=1), dt.time())


def _ts(value: dt.datetime) -> str:
    return f"TIMESTAMP '{value:%Y-%m-%d %H:%M:%S}'"


def channel_map(channels) -> dict[str, str]:
    """Normalised source -> channel, the library's own mapping (the SQL floor uses it as data)."""
    from growthloop.marts.channels import channel_mapping

    return channel_mapping(channels)


def segment_labels() -> dict[tuple[bool, bool, bool], str]:
    from growthloop.metrics.rfm import SEGMENTS

    return {(s.r, s.f, s.m): s.label for s in SEGMENTS}


# ------------------------------------------------------------------------------ the library


def library(metric: str, ds) -> pd.DataFrame:
    """The metric from the library functions the chapters call."""
    if metric == "funnel":
        from growthloop.metrics import funnel

        out = funnel.funnel(ds)
        return pd.DataFrame({"step": out.step.astype(str), "users": out.users.astype("int64")})
    if metric == "cohort":
        from growthloop.metrics import retention

        out = retention.cohort_retention(ds)
        out = out[out.complete]
        return pd.DataFrame({"cohort": out.cohort.astype(str), "period": out.period.astype("int64"),
                             "users": out.users.astype("int64"),
                             "retained": out.retained.astype("int64")})
    if metric == "rfm":
        from growthloop.metrics import rfm

        seg = rfm.segments(ds)
        out = (seg.group_by(["segment", "r_score", "f_score", "m_score"])
               .aggregate(users=seg.count(), amount=seg.amount.sum())
               .order_by(["segment", "r_score", "f_score", "m_score"]).to_pandas())
        return out
    if metric == "paths":
        from growthloop.metrics import attribution

        return paths_frame(attribution.attribution_paths(ds))
    raise ValueError(metric)


def paths_frame(paths) -> pd.DataFrame:
    """growthloop.metrics.attribution.Paths as (path, conversions, nulls) with ' > '-joined paths."""
    c = paths.counts
    return pd.DataFrame({"path": [SEP.join(p) for p in c.path], "conversions": c.conversions,
                         "nulls": c.nulls})


# ------------------------------------------------------------------------------ SQL floor


def _stitch_sql(end: dt.datetime, names: tuple[str, ...], extra_cols: str = "") -> str:
    """Events of `names` with person_id: the anonymous-to-user rule in two window passes."""
    in_names = ", ".join(f"'{n}'" for n in names)
    return f"""
    ev AS (
      SELECT *, CASE WHEN event_name = 'register' AND user_id IS NOT NULL THEN user_id END AS reg_uid,
             (event_name = 'register' AND user_id IS NOT NULL)::INT AS is_reg
      FROM (SELECT user_id, anonymous_id, event_name, event_time{extra_cols} FROM gl_events
            WHERE event_time < {_ts(end)} AND (event_name IN ({in_names})
                  OR (event_name = 'register' AND user_id IS NOT NULL)))
    ),
    st AS (
      SELECT event_name, event_time{extra_cols},
        COALESCE(user_id, CASE WHEN anonymous_id IS NOT NULL THEN COALESCE(
          first_value(reg_uid IGNORE NULLS) OVER (PARTITION BY anonymous_id ORDER BY event_time, is_reg
                      ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING),
          last_value(reg_uid IGNORE NULLS) OVER (PARTITION BY anonymous_id ORDER BY event_time, is_reg
                      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)) END) AS user_id,
        anonymous_id
      FROM ev
      QUALIFY event_name IN ({in_names})  -- after the windows: the sign-ups must be seen first
    )"""


def sql_query(metric: str, analysis_date: dt.date, channels=None) -> str:
    end = period_end(analysis_date)
    if metric == "funnel":
        lists = ",\n".join(
            f"list(event_time) FILTER (WHERE event_name = '{s}') AS a{i}" for i, s in enumerate(STEPS)
            if i > 0)
        chain = []
        prev = "per"
        for i in range(1, len(STEPS)):
            chain.append(f"s{i} AS (SELECT *, list_min(list_filter(a{i}, lambda x: x >= t{i - 1} "
                         f"AND x <= t0 + INTERVAL {WINDOW_DAYS} DAY)) AS t{i} FROM {prev})")
            prev = f"s{i}"
        counts = ", ".join(f"count(t{i}) AS c{i}" for i in range(len(STEPS)))
        in_steps = ", ".join(f"'{n}'" for n in EVENT_STEPS)
        # stitch once: the person-level events the load keeps, as the library reads them
        return f"""
        WITH people AS (
          SELECT person_id, event_name, event_time FROM gl_person_events
          WHERE event_name IN ({in_steps})
          UNION ALL
          SELECT user_id, CASE n WHEN 1 THEN 'first_investment' ELSE 'second_investment' END, txn_time
          FROM (SELECT user_id, txn_time, row_number() OVER (PARTITION BY user_id ORDER BY txn_time, txn_id) AS n
                FROM gl_transactions WHERE txn_time < {_ts(end)}) WHERE n <= 2
        ),
        per AS (
          SELECT person_id, min(event_time) FILTER (WHERE event_name = 'ad_click') AS t0,
          {lists}
          FROM people GROUP BY person_id HAVING t0 IS NOT NULL
        ),
        {", ".join(chain)}
        SELECT {counts} FROM {prev}"""
    if metric == "cohort":
        return f"""
        WITH u AS (SELECT user_id, registered_at, date_trunc('month', registered_at)::DATE AS cohort
                   FROM gl_users WHERE registered_at < {_ts(end)}),
        sizes AS (SELECT cohort, count(*) AS users FROM u GROUP BY cohort),
        ret AS (
          SELECT u.cohort, datediff('month', u.cohort, t.txn_time) AS period,
                 count(DISTINCT t.user_id) AS retained
          FROM gl_transactions t JOIN u ON t.user_id = u.user_id
          WHERE t.txn_time < {_ts(end)} AND t.txn_time >= u.registered_at
          GROUP BY ALL)
        SELECT strftime(ret.cohort, '%Y-%m-%d') AS cohort, period, users, retained
        FROM ret JOIN sizes USING (cohort) ORDER BY cohort, period"""
    if metric == "rfm":
        start = end - dt.timedelta(days=RFM_PERIOD_DAYS)
        tol = TIE_TOL
        return f"""
        WITH v AS (
          SELECT user_id, date_diff('day', max(txn_time)::DATE, DATE '{analysis_date}') AS r,
                 count(*) FILTER (WHERE txn_time >= {_ts(start)}) AS f,
                 COALESCE(sum(amount) FILTER (WHERE txn_time >= {_ts(start)}), 0.0) AS m
          FROM gl_transactions WHERE txn_time < {_ts(end)} GROUP BY user_id),
        s AS (
          SELECT *,
            1 + ({RFM_BINS} * (rank() OVER (ORDER BY r DESC) - 1)) // count(*) OVER () AS r_score,
            1 + ({RFM_BINS} * (rank() OVER (ORDER BY f) - 1)) // count(*) OVER () AS f_score,
            1 + ({RFM_BINS} * (rank() OVER (ORDER BY m) - 1)) // count(*) OVER () AS m_score,
            avg(r) OVER () AS ar, avg(f) OVER () AS af, avg(m) OVER () AS am
          FROM v)
        SELECT r <= ar + {tol} * greatest(1, abs(ar)) AS r_high,
               f >= af - {tol} * greatest(1, abs(af)) AS f_high,
               m >= am - {tol} * greatest(1, abs(am)) AS m_high,
               r_score, f_score, m_score, count(*) AS users, sum(m) AS amount
        FROM s GROUP BY ALL"""
    if metric == "paths":
        mapping = channel_map(channels)
        values = ", ".join(f"('{k}', '{v}')" for k, v in mapping.items())
        src = ("lower(trim(url_decode(replace(COALESCE(NULLIF(trim(utm_source), ''), "
               "NULLIF(regexp_extract(landing_url, '(?i)[?&#;]utm_source=([^&#;]*)', 1), '')), "
               "'+', ' '))))")
        # stitch once: the person-level events the load keeps (gl_person_events, the events
        # before the analysis date with their person), as the library reads them
        in_touches = ", ".join(f"'{n}'" for n in TOUCH_EVENTS)
        return f"""
        WITH aliases(alias, channel) AS (VALUES {values}),
        t0 AS (
          SELECT person_id, event_name, event_time, NULLIF({src}, '') AS source
          FROM gl_person_events WHERE event_name IN ({in_touches})),
        t1 AS (SELECT t0.*, COALESCE(a.channel, t0.source, '{UNTAGGED}') AS channel
               FROM t0 LEFT JOIN aliases a ON t0.source = a.alias),
        conv AS (SELECT user_id AS person_id, min(txn_time) AS conv_at FROM gl_transactions
                 WHERE txn_time < {_ts(end)} GROUP BY user_id),
        t2 AS (
          SELECT t1.*, conv.conv_at IS NOT NULL AS converted,
                 COALESCE(conv.conv_at, max(event_time) OVER (PARTITION BY t1.person_id)) AS anchor
          FROM t1 LEFT JOIN conv ON t1.person_id = conv.person_id),
        t3 AS (
          SELECT *, lead(channel) OVER (PARTITION BY person_id ORDER BY event_time, channel, event_name) AS nxt
          FROM t2 WHERE event_time <= anchor AND event_time >= anchor - INTERVAL {LOOKBACK_DAYS} DAY),
        t4 AS (
          SELECT *, row_number() OVER (PARTITION BY person_id ORDER BY event_time DESC, channel DESC) - 1 AS step
          FROM t3 WHERE nxt IS NULL OR nxt <> channel),
        per AS (
          SELECT person_id, any_value(converted) AS converted,
                 string_agg(channel, '{SEP}' ORDER BY step DESC) AS path
          FROM t4 WHERE step < {MAX_TOUCHES} GROUP BY person_id),
        counted AS (
          SELECT path, sum(converted::INT) AS conversions, sum(1 - converted::INT) AS nulls
          FROM per GROUP BY path
          UNION ALL
          SELECT '{DIRECT}', count(*), 0 FROM conv
          WHERE person_id NOT IN (SELECT person_id FROM per WHERE converted))
        SELECT path, sum(conversions)::BIGINT AS conversions, sum(nulls)::BIGINT AS nulls
        FROM counted GROUP BY path HAVING sum(conversions) + sum(nulls) > 0 ORDER BY path"""
    raise ValueError(metric)


def sql(metric: str, con, analysis_date: dt.date, channels=None) -> pd.DataFrame:
    """Run the metric's single SQL query on the clean tables and shape its result."""
    raw = con.raw_sql(sql_query(metric, analysis_date, channels)).fetch_df()
    if metric == "funnel":
        return pd.DataFrame({"step": list(STEPS),
                             "users": [int(raw.iloc[0][f"c{i}"]) for i in range(len(STEPS))]})
    if metric == "rfm":
        labels = segment_labels()
        raw["segment"] = [labels[(bool(r), bool(f), bool(m))]
                          for r, f, m in zip(raw.r_high, raw.f_high, raw.m_high, strict=True)]
        return raw[["segment", "r_score", "f_score", "m_score", "users", "amount"]]
    return raw


# ------------------------------------------------------------------------------ pandas


def _read(folder: Path, table: str, columns: list[str], filters=None) -> pd.DataFrame:
    return pd.read_parquet(folder / f"{table}.parquet", columns=columns, filters=filters)


def _investments(folder: Path, end: dt.datetime) -> pd.DataFrame:
    txn = _read(folder, "transactions", ["txn_id", "user_id", "txn_time", "amount", "status"])
    return txn[(txn.status == "success") & (txn.txn_time < end)]


def _stitch_pandas(ev: pd.DataFrame) -> pd.DataFrame:
    """person_id for every event: the next sign-up on the device, else the last one before."""
    ev = ev.assign(is_reg=((ev.event_name == "register") & ev.user_id.notna()).astype("int8"))
    ev = ev.sort_values(["anonymous_id", "event_time", "is_reg"], kind="stable")
    ev["reg_uid"] = ev.user_id.where(ev.is_reg == 1)
    by_device = ev.groupby("anonymous_id", sort=False)["reg_uid"]
    owner = by_device.bfill().fillna(by_device.ffill())
    uid = ev.user_id.fillna(owner.where(ev.anonymous_id.notna()))
    ev["person_id"] = uid.fillna("anon:" + ev.anonymous_id)
    return ev


def pandas_metric(metric: str, folder: Path, analysis_date: dt.date, channels=None) -> pd.DataFrame:
    """The metric as an analyst would write it with pandas over the Parquet files."""
    end = period_end(analysis_date)
    if metric == "funnel":
        ev = _read(folder, "events", ["user_id", "anonymous_id", "event_name", "event_time"],
                   filters=[("event_name", "in", list(EVENT_STEPS))])
        ev = _stitch_pandas(ev[ev.event_time < end])[["person_id", "event_name", "event_time"]]
        txn = _investments(folder, end).sort_values(["user_id", "txn_time", "txn_id"])
        txn["n"] = txn.groupby("user_id").cumcount()
        ms = txn[txn.n <= 1]
        ms = pd.DataFrame({"person_id": ms.user_id, "event_time": ms.txn_time,
                           "event_name": np.where(ms.n == 0, "first_investment", "second_investment")})
        ev = pd.concat([ev, ms], ignore_index=True)
        people = (ev[ev.event_name == STEPS[0]].groupby("person_id").event_time.min()
                  .rename("t").to_frame())
        people["t0"] = people.t
        counts = [len(people)]
        for step in STEPS[1:]:
            e = ev[ev.event_name == step].merge(people, left_on="person_id", right_index=True)
            e = e[(e.event_time >= e.t) & (e.event_time <= e.t0 + pd.Timedelta(days=WINDOW_DAYS))]
            reached = e.groupby("person_id").event_time.min()
            people = people.loc[reached.index].assign(t=reached)
            counts.append(len(people))
        return pd.DataFrame({"step": list(STEPS), "users": counts})
    if metric == "cohort":
        users = _read(folder, "users", ["user_id", "registered_at"])
        users = users[users.registered_at < end]
        users["cohort"] = users.registered_at.dt.to_period("M")
        sizes = users.groupby("cohort").size().rename("users")
        txn = _investments(folder, end)[["user_id", "txn_time"]].merge(users, on="user_id")
        txn = txn[txn.txn_time >= txn.registered_at]
        txn["period"] = (txn.txn_time.dt.to_period("M") - txn.cohort).apply(lambda d: d.n)
        ret = txn.groupby(["cohort", "period"]).user_id.nunique().rename("retained").reset_index()
        ret = ret.merge(sizes, left_on="cohort", right_index=True)
        ret["cohort"] = ret.cohort.dt.start_time.dt.strftime("%Y-%m-%d")
        return ret[["cohort", "period", "users", "retained"]]
    if metric == "rfm":
        txn = _investments(folder, end)
        start = end - dt.timedelta(days=RFM_PERIOD_DAYS)
        txn["in_period"] = txn.txn_time >= start
        txn["m_in"] = txn.amount.where(txn.in_period, 0.0)
        v = txn.groupby("user_id").agg(last=("txn_time", "max"), f=("in_period", "sum"),
                                       m=("m_in", "sum"))
        v["r"] = (pd.Timestamp(analysis_date) - v["last"].dt.normalize()).dt.days
        n = len(v)
        for col, asc in (("r", False), ("f", True), ("m", True)):
            worse = v[col].rank(method="min", ascending=asc) - 1
            v[f"{col}_score"] = (1 + (RFM_BINS * worse.astype("int64")) // n).astype("int64")
        cuts = {c: v[c].mean() for c in ("r", "f", "m")}
        tol = {c: TIE_TOL * max(1.0, abs(cuts[c])) for c in cuts}
        labels = segment_labels()
        highs = zip(v.r <= cuts["r"] + tol["r"], v.f >= cuts["f"] - tol["f"],
                    v.m >= cuts["m"] - tol["m"], strict=True)
        v["segment"] = [labels[(bool(a), bool(b), bool(c))] for a, b, c in highs]
        out = v.groupby(["segment", "r_score", "f_score", "m_score"]).agg(
            users=("m", "size"), amount=("m", "sum")).reset_index()
        return out
    if metric == "paths":
        mapping = channel_map(channels)
        ev = _read(folder, "events", ["user_id", "anonymous_id", "event_name", "event_time",
                                      "utm_source", "landing_url"],
                   filters=[("event_name", "in", [*TOUCH_EVENTS, "register"])])
        ev = ev[ev.event_time < end]
        reg = ev[(ev.event_name == "register") & ev.user_id.notna()]
        ev = pd.concat([ev[ev.event_name.isin(TOUCH_EVENTS)], reg])
        ev = _stitch_pandas(ev)
        ev = ev[ev.event_name.isin(TOUCH_EVENTS)]
        raw = ev.utm_source.str.strip().replace("", np.nan)
        from_url = ev.landing_url.str.extract(r"(?i)[?&#;]utm_source=([^&#;]*)", expand=False)
        raw = raw.fillna(from_url.replace("", np.nan))
        decoded = {v: unquote(v.replace("+", " ")).strip().lower() for v in raw.dropna().unique()}
        source = raw.map(decoded).replace("", np.nan)
        ev["channel"] = source.map(mapping).fillna(source).fillna(UNTAGGED)
        t = ev[["person_id", "event_name", "event_time", "channel"]]
        conv = _investments(folder, end).groupby("user_id").txn_time.min().rename("conv_at")
        t = t.merge(conv, left_on="person_id", right_index=True, how="left")
        t["converted"] = t.conv_at.notna()
        t["anchor"] = t.conv_at.fillna(t.groupby("person_id").event_time.transform("max"))
        t = t[(t.event_time <= t.anchor)
              & (t.event_time >= t.anchor - pd.Timedelta(days=LOOKBACK_DAYS))]
        t = t.sort_values(["person_id", "event_time", "channel", "event_name"])
        nxt = t.groupby("person_id").channel.shift(-1)
        t = t[nxt.isna() | (nxt != t.channel)]
        t = t.sort_values(["person_id", "event_time", "channel"], ascending=[True, False, False])
        t["step"] = t.groupby("person_id").cumcount()
        t = t[t.step < MAX_TOUCHES].sort_values(["person_id", "step"], ascending=[True, False])
        per = t.groupby("person_id").agg(path=("channel", SEP.join), converted=("converted", "first"))
        counts = per.groupby("path").converted.agg(conversions="sum", total="size").reset_index()
        counts["nulls"] = counts.total - counts.conversions
        no_touch = int((~conv.index.isin(per.index[per.converted])).sum())
        if no_touch:
            counts = pd.concat([counts, pd.DataFrame(
                [{"path": DIRECT, "conversions": no_touch, "nulls": 0}])])
            counts = counts.groupby("path", as_index=False)[["conversions", "nulls"]].sum()
        return counts[["path", "conversions", "nulls"]]
    raise ValueError(metric)


# ------------------------------------------------------------------------------ agreement


def normalise(metric: str, frame: pd.DataFrame) -> pd.DataFrame:
    """One canonical shape and order for comparing implementations."""
    keys = {"funnel": ["step"], "cohort": ["cohort", "period"],
            "rfm": ["segment", "r_score", "f_score", "m_score"], "paths": ["path"]}[metric]
    out = frame.copy()
    for col in out.columns:
        if col in ("users", "retained", "conversions", "nulls", "period", "r_score", "f_score",
                   "m_score"):
            out[col] = out[col].astype("int64")
        elif col == "amount":
            out[col] = out[col].astype("float64").round(2)
        else:
            out[col] = out[col].astype(str)
    if metric == "cohort":
        out = out[out.retained > 0]
    if metric == "paths":
        out = out[(out.conversions + out.nulls) > 0]
    if metric == "funnel":
        order = {s: i for i, s in enumerate(STEPS)}
        return out.sort_values("step", key=lambda s: s.map(order)).reset_index(drop=True)
    return out.sort_values(keys).reset_index(drop=True)


def differences(metric: str, a: pd.DataFrame, b: pd.DataFrame) -> str:
    """'' when the two results agree, else a short description of the first differences."""
    a, b = normalise(metric, a), normalise(metric, b)
    if metric == "cohort":
        keys = set(zip(a.cohort, a.period, strict=True))  # the library's complete cells
        b = b[[k in keys for k in zip(b.cohort, b.period, strict=True)]].reset_index(drop=True)
    if list(a.columns) != list(b.columns):
        a, b = a[sorted(a.columns)], b[sorted(b.columns)]
    if a.shape != b.shape:
        return f"shapes differ: {a.shape} vs {b.shape}"
    for col in a.columns:
        if a[col].dtype.kind == "f":
            bad = ~np.isclose(a[col], b[col], rtol=1e-9, atol=0.01)
        else:
            bad = a[col].to_numpy() != b[col].to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            return f"{int(bad.sum())} rows differ in {col}; first: {a.iloc[i].to_dict()} vs {b.iloc[i].to_dict()}"
    return ""

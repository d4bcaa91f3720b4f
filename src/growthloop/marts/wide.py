"""Mart `user_wide` (用户宽表): one row per user with what every stage reuses.

Built once per dataset in the engine from users, events and the investments mart, as of the end
of the analysis date (the platform's natural day). Later stages join it instead of re-deriving
demographics, sign-up channel and investment milestones.
"""

from __future__ import annotations

import ibis
from ibis import _

from growthloop.engine import money_sum
from growthloop.marts.investments import aum_expr, investments
from growthloop.marts.touches import signup_keys
from growthloop.staging.contract import AGE_BANDS
from growthloop.staging.geo import CITY_TIER, PROVINCE_REGION, TIER_4, UNKNOWN
from growthloop.staging.loader import Dataset

NAME = "user_wide"
KEY: tuple[str, ...] = ("user_id",)
WIDE_COLUMNS = (
    "user_id", "registered_at", "reg_date", "reg_month", "birth_year", "age", "age_band",
    "gender", "province", "region", "city", "city_tier", "device_os", "signup_source",
    "signup_medium", "signup_campaign", "signup_channel", "inviter_id", "kyc_at",
    "bind_card_at", "first_invest_at", "first_invest_amount", "first_invest_term_days",
    "second_invest_at", "last_invest_at", "invest_count", "invest_amount", "revenue", "aum",
    "is_investor", "last_event_at", "last_active_at", "days_since_last_invest",
    "days_since_active", "tenure_days",
)


def age_band_expr(age: ibis.IntegerValue) -> ibis.StringValue:
    """Industry age band label of an age (AGE_BANDS); 未知 when missing or outside every band.

    Parameters
    ----------
    age : ibis.IntegerValue
        Age in whole years.

    Returns
    -------
    ibis.StringValue
        "18-24", "25-34", "35-44", "45-55", "56+" or 未知 (an expression, not executed).
    """
    return ibis.cases(*[((age >= lo) & (age <= hi), label) for label, lo, hi in AGE_BANDS],
                      else_=UNKNOWN)


def build_wide(ds: Dataset) -> ibis.Table:
    """Build the wide table (用户宽表) as an Ibis expression (not executed).

    Users registered before ``ds.period_end``, joined with their milestones from the events and
    their money from the investments mart; days are counted in natural days to the analysis date.

    Parameters
    ----------
    ds : Dataset
        The opened dataset.

    Returns
    -------
    ibis.Table
        One row per user, ordered by user_id; columns WIDE_COLUMNS: demographics (``age`` is the
        analysis year minus birth_year, ``age_band``, ``region``, ``city_tier``), sign-up
        ``signup_source``/``medium``/``campaign`` (the users table's UTM values) and
        ``signup_channel`` (`touches.signup_keys`: that UTM's channel, else the last tagged
        touch's at or before the sign-up, else 未标记), milestones (``kyc_at``,
        ``bind_card_at``, ``first_invest_at``, ``second_invest_at``, ``last_invest_at``), money
        (``invest_count``, ``invest_amount``, ``revenue``, ``aum``: held at the period end),
        ``is_investor``, activity (``last_event_at``, ``last_active_at``) and day counts
        (``days_since_last_invest``, ``days_since_active``, ``tenure_days``).
    """
    end = ds.period_end
    users = ds.users.filter(ds.users.registered_at < end)
    events = ds.events.filter((ds.events.event_time < end) & ds.events.user_id.notnull())
    txn = investments(ds)

    milestones = events.group_by("user_id").aggregate(
        kyc_at=_.event_time.min(where=_.event_name == "kyc_verified"),
        bind_card_at=_.event_time.min(where=_.event_name == "bind_card"),
        last_event_at=_.event_time.max(),
    )
    ranked = txn.mutate(_n=txn.invest_n)
    held = aum_expr(ranked, end, ds.config.current_holding_days)
    money = ranked.group_by("user_id").aggregate(
        first_invest_at=_.txn_time.min(),
        first_invest_amount=money_sum(_.amount, where=_._n == 0),
        first_invest_term_days=_.term_days.max(where=_._n == 0),
        second_invest_at=_.txn_time.min(where=_._n == 1),
        last_invest_at=_.txn_time.max(),
        invest_count=_.count(),
        invest_amount=money_sum(_.amount),
        revenue=money_sum(_.revenue),
        aum=money_sum(ranked.amount, where=held),
    )
    # the book's one sign-up channel rule (chapter 3's registrations use it too): the sign-up's
    # UTM, else the last tagged touch at or before the sign-up, else 未标记
    channels = signup_keys(ds).select(_c_uid="user_id", signup_channel="channel")
    base = users.left_join(channels, users.user_id == channels._c_uid).drop("_c_uid")
    age = ibis.literal(ds.analysis_date.year) - base.birth_year
    tier = ibis.coalesce(base.city_tier, base.city.substitute(CITY_TIER, else_=TIER_4))
    base = base.mutate(
        reg_date=base.registered_at.date(),
        reg_month=base.registered_at.truncate("M").date(),
        age=age,
        age_band=age_band_expr(age),
        region=base.province.substitute(PROVINCE_REGION, else_=UNKNOWN),
        city_tier=ibis.ifelse(base.city.isnull() & base.city_tier.isnull(), UNKNOWN, tier),
        signup_source=base.utm_source,
        signup_medium=base.utm_medium,
        signup_campaign=base.utm_campaign,
    )
    milestones = milestones.rename(_m_uid="user_id")
    money = money.rename(_t_uid="user_id")
    wide = base.left_join(milestones, base.user_id == milestones._m_uid)
    wide = wide.left_join(money, wide.user_id == money._t_uid).drop("_m_uid", "_t_uid")
    # whole natural days from a timestamp's date to the analysis date (date arithmetic: the same
    # on every engine, where a timestamp difference in days may count elapsed 24-hour spans)
    today = ibis.literal(ds.analysis_date)
    last_active = ibis.greatest(
        wide.last_event_at.fill_null(wide.registered_at),
        wide.last_invest_at.fill_null(wide.registered_at),
    )
    wide = wide.mutate(
        invest_count=wide.invest_count.fill_null(0),
        invest_amount=wide.invest_amount.fill_null(0.0),
        revenue=wide.revenue.fill_null(0.0),
        aum=wide.aum.fill_null(0.0),
        is_investor=wide.invest_count.fill_null(0) > 0,
        last_active_at=last_active,
        days_since_last_invest=today.delta(wide.last_invest_at.date(), unit="day"),
        days_since_active=today.delta(last_active.date(), unit="day"),
        tenure_days=today.delta(wide.registered_at.date(), unit="day"),
    )
    return wide.select(*WIDE_COLUMNS).order_by("user_id")


def user_wide(ds: Dataset, materialize: bool = True) -> ibis.Table:
    """The wide table of a dataset, built once and kept in the engine for every stage.

    Parameters
    ----------
    ds : Dataset
        The opened dataset.
    materialize : bool, default True
        False returns the bare expression of `build_wide`, nothing kept.

    Returns
    -------
    ibis.Table
        The table of `build_wide` (not executed into Python).
    """
    if not materialize:
        return build_wide(ds)
    return ds.keep(NAME, lambda: build_wide(ds))


COLUMNS = WIDE_COLUMNS

"""The data contract: the canonical tables, columns and types an analyst brings.

One place defines them so that the loader, the validator, the demo generator and the
data-contract page of the book can never disagree. Timestamps are naive local platform time
(Asia/Shanghai unless the dataset says otherwise); money is in yuan.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Logical types, mapped to Ibis types by the loader.
STRING = "string"
TIMESTAMP = "timestamp"
DATE = "date"
INT = "int64"
FLOAT = "float64"
BOOL = "boolean"


@dataclass(frozen=True)
class Column:
    """One column of the contract: its name, logical type and whether it must be there.

    Attributes
    ----------
    name : str
        The contract's column name.
    dtype : str
        Logical type: STRING, TIMESTAMP, DATE, INT, FLOAT or BOOL (mapped to Ibis by the loader).
    required : bool
        Whether a platform's export is expected to have it: a nullable one the file lacks is
        read as unknown for every row and listed on the data-quality page.
    nullable : bool
        Whether a row may leave it empty; a column that may not must be in the file, and a
        row without a value is set aside.
    description : str
        What it holds, for the data-contract page.
    """
    name: str
    dtype: str
    required: bool = True
    nullable: bool = True
    description: str = ""


@dataclass(frozen=True)
class TableSpec:
    """One table of the contract: its columns, key and whether a dataset must have it.

    Attributes
    ----------
    name : str
        The table's name ("users", "events", ...).
    columns : tuple of Column
        The columns, in the contract's order.
    key : tuple of str
        Columns that identify a row (empty: no key; events have none).
    required : bool
        Whether a dataset must have the table.
    description : str
        What a row is, for the data-contract page.
    time_column : str or None
        The column that places a row in time.
    """
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    required: bool = True
    description: str = ""
    time_column: str | None = None

    def column(self, name: str) -> Column:
        """Look up one column of the table by name.

        Parameters
        ----------
        name : str
            A contract column name.

        Returns
        -------
        Column
            The column's spec.

        Raises
        ------
        KeyError
            When the table has no such column.
        """
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.name} has no column {name!r}")

    @property
    def column_names(self) -> list[str]:
        """The column names, in the contract's order."""
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        """The names of the columns a file must have, in the contract's order."""
        return [c.name for c in self.columns if c.required]


C = Column

USERS = TableSpec(
    "users",
    (
        C("user_id", STRING, nullable=False, description="unique user id"),
        C("registered_at", TIMESTAMP, nullable=False, description="sign-up time, local"),
        C("birth_year", INT, description="year of birth (age is derived as of the analysis date)"),
        C("gender", STRING, description="男 / 女, or the dataset's own values mapped to them"),
        C("province", STRING, description="province, e.g. 广东"),
        C("city", STRING, description="city, e.g. 深圳"),
        C("city_tier", STRING, required=False, description="一线 / 新一线 / 二线 / 三线 / 四线及以下; derived from city when absent"),
        C("device_os", STRING, description="iOS / Android / 其他"),
        C("utm_source", STRING, required=False, description="UTM source at sign-up"),
        C("utm_medium", STRING, required=False, description="UTM medium at sign-up"),
        C("utm_campaign", STRING, required=False, description="UTM campaign at sign-up"),
        C("inviter_id", STRING, required=False, description="user_id of the inviting user (老带新)"),
        C("contact_opt_out", BOOL, required=False, description="true: the user opted out of marketing messages (退订); the next campaign's package leaves them out"),
    ),
    key=("user_id",),
    description="One row per registered user.",
    time_column="registered_at",
)

EVENTS = TableSpec(
    "events",
    (
        C("event_time", TIMESTAMP, nullable=False, description="event time, local"),
        C("event_name", STRING, nullable=False, description="the event's name: a role (see below) or the platform's own"),
        C("user_id", STRING, description="null before sign-up"),
        C("anonymous_id", STRING, description="device / visitor id; the register event links it to user_id"),
        C("utm_source", STRING, required=False),
        C("utm_medium", STRING, required=False),
        C("utm_campaign", STRING, required=False),
        C("utm_content", STRING, required=False),
        C("utm_term", STRING, required=False),
        C("landing_url", STRING, required=False, description="URL to parse UTM fields from when they are not columns"),
    ),
    description="Behaviour log: touches, app milestones and activity.",
    time_column="event_time",
)

TRANSACTIONS = TableSpec(
    "transactions",
    (
        C("txn_id", STRING, nullable=False),
        C("user_id", STRING, nullable=False),
        C("txn_time", TIMESTAMP, nullable=False, description="investment time, local"),
        C("amount", FLOAT, nullable=False, description="principal invested, yuan"),
        C("product_type", STRING, description="活期 / 定期1月 / 定期3月 / 定期6月 / 定期12月 or the platform's own"),
        C("term_days", INT, description="0 for current (活期) products"),
        C("status", STRING, description="success rows count; others are reported and set aside"),
        C("revenue", FLOAT, required=False, description="platform revenue of the investment, yuan; else amount × margin"),
    ),
    key=("txn_id",),
    description="Investments (first and repeat investments come from here).",
    time_column="txn_time",
)

COSTS = TableSpec(
    "costs",
    (
        C("date", DATE, nullable=False),
        C("utm_source", STRING, nullable=False),
        C("utm_medium", STRING),
        C("utm_campaign", STRING),
        C("spend", FLOAT, nullable=False, description="yuan"),
        C("impressions", INT, required=False),
        C("clicks", INT, required=False),
    ),
    key=("date", "utm_source", "utm_medium", "utm_campaign"),
    required=False,
    description="Daily marketing spend per source, medium and campaign.",
    time_column="date",
)

CAMPAIGNS = TableSpec(
    "campaigns",
    (
        C("campaign_id", STRING, nullable=False),
        C("name", STRING),
        C("channel", STRING, description="sms / push / edm / wechat / in_app / ..."),
        C("start_at", TIMESTAMP, nullable=False),
        C("end_at", TIMESTAMP),
        C("goal", STRING, description="bind_card / first_investment / any_investment / register / ..."),
        C("window_days", INT, description="response window, 7 or 14 by default"),
        C("cost_per_send", FLOAT, required=False),
        C("cost_per_reward", FLOAT, required=False),
        C("target_rule", STRING, required=False, description="the rule that chose the targets, in words"),
    ),
    key=("campaign_id",),
    required=False,
    description="Marketing campaigns run on existing users or prospects.",
    time_column="start_at",
)

CAMPAIGN_MEMBERS = TableSpec(
    "campaign_members",
    (
        C("campaign_id", STRING, nullable=False),
        C("user_id", STRING, nullable=False),
        C("group", STRING, nullable=False, description="treatment or control (the holdout)"),
        C("sent_at", TIMESTAMP, description="null for the holdout"),
        C("delivered", BOOL, required=False),
        C("clicked_at", TIMESTAMP, required=False, description="short-link click, where tracked"),
    ),
    key=("campaign_id", "user_id"),
    required=False,
    description="Who each campaign targeted, and who was held out.",
    time_column="sent_at",
)

TABLES: dict[str, TableSpec] = {
    t.name: t for t in (USERS, EVENTS, TRANSACTIONS, COSTS, CAMPAIGNS, CAMPAIGN_MEMBERS)
}

#: Event roles: the names the chapters give a meaning of their own (label, what relies on it).
#: dataset.yml maps a platform's names onto them (tables.events.values.event_name); every other
#: event name is kept as the platform's own event, and any event can be a funnel step, a touch,
#: a return or a goal.
EVENT_ROLES: dict[str, tuple[str, str]] = {
    "ad_click": ("广告点击", "a default marketing touch (chapter 3), the default funnel's entry"),
    "link_click": ("链接点击", "a default marketing touch; a campaign's short-link click"),
    "app_install": ("安装", "a step of the default funnel; installs per channel"),
    "register": ("注册", "links a device (anonymous_id) to its user: identity stitching"),
    "kyc_verified": ("实名认证", "the fintech milestone of real-name verification"),
    "bind_card": ("绑卡", "the fintech milestone of binding a bank card"),
    "coupon_claim": ("领券", "a campaign response; an example exclusion step"),
    "app_open": ("打开App", "the default activity (a campaign's opened step)"),
    "share": ("分享", "a referral action"),
}
#: The role names, in the contract's order.
CANONICAL_EVENTS: tuple[str, ...] = tuple(EVENT_ROLES)
#: The events table column that may carry a JSON object of event properties.
PROPERTIES_COLUMN = "properties"
#: Whether an event's person is a visitor who never signed up: a column of the run store's
#: identity mart, which gives user_id from it (growthloop.staging.store).
VISITOR_COLUMN = "_visitor"
#: Names an event property may not take: the person-level columns the identity mart adds.
RESERVED_EVENT_COLUMNS: tuple[str, ...] = ("person_id", "signed_in", VISITOR_COLUMN,
                                           PROPERTIES_COLUMN)

GROUPS = ("treatment", "control")
SUCCESS_STATUS = "success"


@dataclass(frozen=True)
class Channel:
    """A marketing channel and the (utm_source, utm_medium) pairs that belong to it."""

    name: str
    name_en: str
    kind: str
    sources: tuple[str, ...] = field(default_factory=tuple)


# Default channel map. A dataset.yml may replace it; aliases are compared after normalisation
# (lower case, trimmed, URL-decoded).
DEFAULT_CHANNELS: tuple[Channel, ...] = (
    Channel("百度搜索", "Search ads", "paid", ("baidu", "baidu sem", "bd_sem", "sogou")),
    Channel("自然搜索", "SEO", "organic", ("seo", "organic")),
    Channel("应用商店", "App stores", "paid", ("appstore", "huawei", "xiaomi", "oppo", "vivo")),
    Channel("信息流广告", "News-feed ads", "paid", ("toutiao", "douyin", "feed")),
    Channel("DSP", "DSP", "paid", ("dsp",)),
    Channel("微信KOL", "WeChat KOL", "paid", ("wechat_kol", "kol")),
    Channel("朋友圈广告", "WeChat Moments ads", "paid", ("wechat_moments", "moments")),
    Channel("CPA联盟", "CPA networks", "paid", ("cpa", "cpa_network")),
    Channel("BD合作", "BD partners", "paid", ("bd", "bd_partner")),
    Channel("老带新", "Referral", "referral", ("referral", "invite")),
)
UNTAGGED_CHANNEL = "未标记"
DIRECT_CHANNEL = "直接访问"

# Age bands as the industry reports them (about a third of users are 18-24, a third 45-55).
# (label, lowest age, highest age), both ends included; 未知 when birth_year is missing.
AGE_BANDS: tuple[tuple[str, int, int], ...] = (
    ("18-24", 18, 24),
    ("25-34", 25, 34),
    ("35-44", 35, 44),
    ("45-55", 45, 55),
    ("56+", 56, 120),
)


# --------------------------------------------------------------------------------------------
# RFM vocabulary: dataset.yml's `rfm_actions` names these segments and fields, so the loader
# checks them here; growthloop.metrics.rfm computes the segments.

#: The fields of an RFM segment's recommended action (dataset.yml `rfm_actions`).
ACTION_FIELDS: tuple[str, ...] = ("action", "channel", "offer")


@dataclass(frozen=True)
class Segment:
    """One of the eight classic RFM segments: which of R, F, M are high, and its labels."""

    code: str
    label: str
    label_en: str
    r: bool
    f: bool
    m: bool

    @property
    def group(self) -> str:
        """The operating group's Chinese label (see `segment_group`)."""
        return segment_group(self.r, self.f)[0]


#: The eight segments in the book's order: M high first, then by R, then F.
SEGMENTS: tuple[Segment, ...] = (
    Segment("important_value", "重要价值", "important value", True, True, True),
    Segment("important_develop", "重要发展", "important to develop", True, False, True),
    Segment("important_keep", "重要保持", "important to keep", False, True, True),
    Segment("important_win_back", "重要挽留", "important to win back", False, False, True),
    Segment("general_value", "一般价值", "general value", True, True, False),
    Segment("general_develop", "一般发展", "general to develop", True, False, False),
    Segment("general_keep", "一般保持", "general to keep", False, True, False),
    Segment("general_win_back", "一般挽留", "general to win back", False, False, False),
)

#: The three operating groups (label, English, rule).
RFM_GROUPS: tuple[tuple[str, str, str], ...] = (
    ("潜力新客", "new potential", "R 高、F 低 (recent, few investments)"),
    ("稳定中客", "stable", "R 高、F 高 (recent and frequent)"),
    ("流失风险客", "churn risk", "R 低 (not recent), whatever F and M"),
)

def segment_group(r_high: bool, f_high: bool) -> tuple[str, str]:
    """The operating group (label, English) of an R/F high-low pair.

    R low is 流失风险客 whatever F; R high is 稳定中客 with F high, 潜力新客 with F low (RFM_GROUPS).

    Parameters
    ----------
    r_high : bool
        Whether recency is high (recent).
    f_high : bool
        Whether frequency is high.

    Returns
    -------
    tuple of str
        (Chinese label, English label).

    Examples
    --------
    >>> segment_group(True, False)
    ('潜力新客', 'new potential')
    >>> segment_group(False, True)
    ('流失风险客', 'churn risk')
    """
    if not r_high:
        return RFM_GROUPS[2][0], RFM_GROUPS[2][1]
    return (RFM_GROUPS[1][0], RFM_GROUPS[1][1]) if f_high else (RFM_GROUPS[0][0], RFM_GROUPS[0][1])


def segment_key(name: str) -> str:
    """The Chinese label of a segment named by its Chinese label, English label or code.

    Parameters
    ----------
    name : str
        "重要价值", "important value" or "important_value", say.

    Returns
    -------
    str
        The segment's Chinese label.

    Raises
    ------
    KeyError
        When `name` is none of the eight segments.

    Examples
    --------
    >>> segment_key("important_win_back")
    '重要挽留'
    """
    for seg in SEGMENTS:
        if name in (seg.label, seg.label_en, seg.code):
            return seg.label
    raise KeyError(name)



"""Synthetic demo data: an internet-finance platform (online wealth management) with its truth.

`generate_dataset(out_dir, n_users, seed, ...)` simulates devices that click ads, install the
app, register, pass real-name verification (实名, kyc_verified), bind a bank card, invest and
re-invest, churn, open the app, claim coupons, share invitations and receive four CRM campaigns
with random holdouts. It writes the six contract tables (`users`, `events`, `transactions`,
`costs`, `campaigns`, `campaign_members`; Parquet, or UTF-8 CSV with fmt="csv"), a
`dataset.yml`, `truth_users.parquet` (latent truths per user; not a contract table, the loader
ignores it) and `truth.json`, the ground truth the estimators of every chapter are tested
against. The same arguments always give the same files.

`simulate_planned_campaign(folder, campaign_csv, members_csv, uplift, seed)` closes the loop:
it sends a campaign package the book planned (growthloop.metrics.plan) in this world, with a
planted uplift, and appends the campaign, its members and their responses to the dataset, so
the review chapter can be checked against the uplift it planted.

Scale. Users are simulated chunk by chunk (`chunk_users` registered users per chunk, vectorised
numpy per chunk, each chunk appended to the files), so ten million users need only one chunk's
memory. Every random draw of chunk k comes from `numpy.random.default_rng([seed, k])`, so the
output is deterministic for fixed (n_users, seed, start, months, chunk_users) but DOES depend on
chunk_users: a different chunking draws different (equally distributed) users. Everything a
user does depends only on that user's own history and on users of the same chunk (inviters,
shared devices, campaign targeting), so chunks are independent. Costs are the paid clicks of
all chunks summed per day x source x utm_campaign.

Time. The period runs from `start` 00:00 for `months` months; `analysis_date` is its last day.
Timestamps are naive Asia/Shanghai local time, in whole seconds. Nothing after the period is
written: users who register near the end are right-censored naturally.

The simulated platform
----------------------
* Devices (anonymous_id "A" + 12 hex) come from one of ten channels (contract.DEFAULT_CHANNELS).
  A device has 1 to 4 touches (paid channels: ad_click, SEO and referral: link_click) within
  10 days; the last touch's channel is the device's channel and its UTM values are the user's
  sign-up UTM. ~2.5% of touches are untagged (all UTM null) and ~3% of tagged sources are
  written in another case, padded with a space or URL-encoded ("Baidu", " baidu", "BAIDU",
  "wechat%5Fkol"); all normalise to an alias of contract.DEFAULT_CHANNELS.
* click -> install -> register: per-channel probabilities; install within 2 days of the last
  touch, register within 25 days of the install. Devices that never register stay anonymous
  visitors (their events have a null user_id).
* ~1% of users sign up on another user's device later (a shared phone): they have no touches of
  their own, null sign-up UTM, and all their events carry the first user's anonymous_id.
* register -> kyc_verified (within 20 h or never) -> bind_card (68% of binders within 24 h of
  registering, the rest 1-21 days after) -> first investment (half within a day of binding, the
  rest 1-26 days after) -> repeat investments. Every step happens within 30 days of the previous
  one, so a 30-day conversion window per step sees every conversion.
* Latent value types: bonus_hunter (羊毛党, ~8%, mostly CPA networks and DSP: register, claim the
  new-user coupon, one small 活期/1-month investment, never return), whale (2% of the others),
  regular, small.
* Investors: a churn time T_c = first investment + Exponential(monthly hazard h / 30 days), h
  per channel x value type (bonus hunters churn at once). While alive, repeat investments come
  as a Poisson process (rate lambda per user), and every term product that matures while the user
  is alive is reinvested with probability r 0.1-3 days after maturity (a chain). Churned users
  stop investing and stop opening the app (held products simply mature). Amounts are log-normal
  per user and value type (heavy tail; a few whales). ~1.5% of investments are preceded by a
  "failed" attempt (status "failed": not an investment). revenue = amount x annual margin of
  the product (活期 1.5%, 1月 1.8%, 3月 2.0%, 6月 2.2%, 12月 2.5%) x max(term_days, 30) / 365.
* Activity: app_open (Poisson, a few per month, while alive; non-investors for a few weeks),
  coupon_claim (new-user coupon, campaign coupons), share (inviters before each referral, some
  investors), link_click on CRM short links (utm_source = the campaign's channel, utm_medium
  crm, utm_campaign = campaign_id).
* Referral (老带新) users have inviter_id = a user of the same chunk who signed up before their
  first touch; the inviter has a share event shortly before it. Referral rewards are not in
  costs: costs hold paid media only (SEO and referral have no spend rows).
* Costs: every paid click (tagged or not: the ad platform knows its clicks) costs the channel's
  CPC; per day x utm_source (canonical lower case) x utm_campaign the spend is clicks x CPC x
  a small log-normal noise, impressions = clicks / CTR x noise.
* Campaigns: four single-batch CRM campaigns (one send at start_at; sent_at within 30 minutes
  after it for the treatment group; null for the holdout). For BOTH groups the response window
  is (start_at, start_at + window_days]; end_at = start_at + window_days. Members are chosen by
  each user's own history at start_at; the holdout is a random 20%. A treated member whose
  SMS/push is delivered (95%) and who does not respond naturally in the window responds with
  probability q(segment, state) at a time inside the window (the response is written as the
  goal's bind_card event or transaction, with a coupon_claim before coupon-driven ones).

truth.json
----------
Plain JSON (floats, ints, strings, lists, dicts). Keys:

* `seed`, `n_users`, `chunk_users`, `period_start`, `period_end` (= `analysis_date`, the last
  day, inclusive), `n_days`, `bonus_hunter_share` (share of users whose latent type is
  bonus_hunter), `shared_device_users`.
* `definitions`: words for every truth below (month = 30 days, windows, retained investor).
* `funnel`: `window_days` (30: step k+1 within 30 days after step k, edges inclusive) and
  `steps`: for each transition "ad_click->app_install" (devices with an ad_click: per device,
  install after its first ad_click), "app_install->register" (devices: register on the same
  anonymous_id), "register->kyc_verified", "kyc_verified->bind_card",
  "bind_card->first_investment", "first_investment->second_investment" (users), a dict
  {rate, n}: rate = the mean over the n devices/users that reached the earlier step within the
  period of their own true probability of reaching the next one within the window (campaign
  effects included at their expected assignment and delivery rates), n = that count.
* `channels`: per channel name (Chinese, as in DEFAULT_CHANNELS): kind, sources, medium,
  campaigns, cpc (yuan per click, 0 without spend), registrations (users whose latent channel it
  is), `steps` (as funnel.steps, within the channel), `p_retained_given_registered`,
  `quality_score` (= 100 x the mean over the channel's users of the true probability that a
  registered user becomes a retained investor, campaign effects excluded), `spend` (total of
  costs), `paid_clicks`, `expected_retained_investors` (sum of those probabilities over the
  channel's users) and `expected_cost_per_retained_investor` (= spend / that sum; null without
  spend); `monthly_churn_hazard` (mean h over its non-bonus-hunter investors),
  `bonus_hunter_share`. `best_paid_channel` names the paid channel with the highest quality score
  (it also has the lowest cost per retained investor, by a wide margin).
* `retained_investor`: the definition: a user whose second successful investment comes within
  90 days after the first (an observable event; estimators need cohorts whose 90 days are over).
* `churn`: `monthly_hazard` (mean h over non-bonus-hunter investors), `per_channel`
  {channel: h}, `survival_months` [0..12], `survival` (mean over all investors incl. bonus
  hunters of the latent P(T_c - first investment > t months)), `per_channel_survival`,
  `bonus_hunter_share_of_investors`. Latent churn is the end of investing and app use; holdings
  still mature afterwards, so activity-based curves end a little later.
* `value`: `top20_share` (share of the total successfully invested amount in the period held
  by the top 20% of investors by their own total), `top20_share_expected_range` [0.70, 0.85],
  `investors`, `total_invested`.
* `campaigns`: per campaign_id: name, channel, goal, window_days, start_at, holdout_share,
  delivery_rate, target_rule, segment_column ("age_band" or "city_tier", as the wide table
  derives them), members, treatment, control, `baseline_rate` (mean over members of p_control),
  `true_uplift` (mean over members of p_treated - p_control for the goal within the window, at
  the expected delivery rate) and `segments` {value: {members, baseline_rate, true_uplift}}.
  Goals: bind_card = a bind_card event, first_investment = the user's first successful
  investment, any_investment = any successful investment, in (start_at, start_at + window].
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from growthloop.staging import geo
from growthloop.staging.contract import AGE_BANDS, DEFAULT_CHANNELS, TABLES

__all__ = ["generate_dataset", "simulate_planned_campaign"]

MINUTE = 1.0 / 1440.0
HOUR = 1.0 / 24.0
MONTH = 30.0  # days, for hazards and survival in truth.json
CONVERSION_WINDOW = 30
RETAINED_DAYS = 90
SHARED_DEVICE_SHARE = 0.01
UNTAGGED_SHARE = 0.025
VARIANT_SHARE = 0.03
DELIVERY_RATE = 0.95
FAILED_SHARE = 0.015


# --------------------------------------------------------------------------- channels


@dataclass(frozen=True)
class _Ch:
    name: str
    kind: str
    sources: tuple[tuple[str, float], ...]
    medium: str
    campaigns: tuple[str, ...]
    share: float  # share of registrations whose last touch is this channel
    cpc: float
    ctr: float
    p_install: float
    p_register: float
    p_kyc: float
    p_bind: float
    p_invest: float
    hunter: float  # share of bonus hunters among its registrations
    repeat: float  # multiplier of the repeat-investment rate
    churn: float  # monthly churn hazard of a regular investor
    value: float  # multiplier of investment amounts


_CH = (
    _Ch("百度搜索", "paid", (("baidu", 1.0),), "cpc", ("品牌词", "理财通用词", "618理财节"),
        .14, 12.0, .04, .45, .62, .80, .70, .62, .02, 1.10, .10, 1.3),
    _Ch("自然搜索", "organic", (("seo", 1.0),), "organic", (),
        .10, 0.0, 0.0, .50, .60, .78, .66, .58, .02, 1.0, .11, 1.1),
    _Ch("应用商店", "paid", (("huawei", .4), ("xiaomi", .25), ("appstore", .35)), "app_store",
        ("应用商店首发", "新手福利"), .14, 5.0, .02, .60, .55, .74, .62, .52, .04, .95, .13, .9),
    _Ch("信息流广告", "paid", (("toutiao", 1.0),), "feed", ("新手福利", "高收益稳健", "双11理财节"),
        .16, 2.5, .012, .30, .50, .68, .55, .45, .06, .8, .16, .7),
    _Ch("DSP", "paid", (("dsp", 1.0),), "display", ("拉新通投", "重定向"),
        .09, 1.5, .006, .25, .45, .62, .50, .45, .14, .7, .20, .6),
    _Ch("微信KOL", "paid", (("wechat_kol", 1.0),), "kol", ("理财大V测评", "基金小白课"),
        .07, 6.0, .03, .50, .65, .85, .78, .70, .01, 1.3, .07, 1.5),
    _Ch("朋友圈广告", "paid", (("wechat_moments", 1.0),), "social", ("新人专享加息", "朋友圈拉新"),
        .08, 3.5, .015, .35, .55, .72, .60, .50, .05, .9, .13, .9),
    _Ch("CPA联盟", "paid", (("cpa_network", 1.0),), "cpa", ("注册送券", "首投返现"),
        .12, 9.0, .02, .55, .70, .85, .80, .78, .35, .6, .22, .5),
    _Ch("BD合作", "paid", (("bd_partner", 1.0),), "bd", ("银行联名", "信用卡合作"),
        .05, 8.0, .025, .45, .60, .80, .70, .60, .03, 1.1, .09, 1.2),
    _Ch("老带新", "referral", (("referral", 1.0),), "invite", ("邀请有礼",),
        .05, 0.0, 0.0, .65, .72, .86, .78, .68, .03, 1.2, .07, 1.2),
)
NCH = len(_CH)
_REFERRAL = 9
assert [c.name for c in _CH] == [c.name for c in DEFAULT_CHANNELS]


def _arr(attr: str) -> np.ndarray:
    return np.array([getattr(c, attr) for c in _CH], dtype=float)


P_INSTALL, P_REGISTER = _arr("p_install"), _arr("p_register")
P_KYC, P_BIND, P_INVEST = _arr("p_kyc"), _arr("p_bind"), _arr("p_invest")
P_HUNTER, REPEAT, CHURN, VALUE, CPC, CTR = (
    _arr("hunter"), _arr("repeat"), _arr("churn"), _arr("value"), _arr("cpc"), _arr("ctr"))
PAID = np.array([c.kind == "paid" for c in _CH])
_DEV_MIX = _arr("share") / (P_INSTALL * P_REGISTER)
DEV_MIX = _DEV_MIX / _DEV_MIX.sum()
# channels of the earlier touches of a path (when not the last touch's channel)
_TOUCH = np.array([.20, .15, .05, .20, .15, .05, .10, .03, .02, .05])
TOUCH_MIX = _TOUCH / _TOUCH.sum()

# dictionaries of the UTM columns
CANON: list[str] = []  # canonical (lower-case) sources
CANON_CH: list[int] = []
for _i, _c in enumerate(_CH):
    for _s, _w in _c.sources:
        CANON.append(_s)
        CANON_CH.append(_i)
CANON_CH_ARR = np.array(CANON_CH)
CH_SRC_IDX = [[CANON.index(s) for s, _ in c.sources] for c in _CH]
CH_SRC_P = [np.array([w for _, w in c.sources]) for c in _CH]
CRM_SOURCES = ("sms", "push", "edm", "in_app")


def _variants(s: str) -> list[str]:
    out = [s.capitalize(), " " + s, s + " ", s.upper()]
    if "_" in s:
        out.append(s.replace("_", "%5F"))
    return out


SOURCES: list[str] = list(CANON) + list(CRM_SOURCES)
VARIANT_IDX: list[list[int]] = []
for _s in CANON:
    idx = []
    for _v in _variants(_s):
        if _v not in SOURCES:
            SOURCES.append(_v)
        idx.append(SOURCES.index(_v))
    VARIANT_IDX.append(idx)
MEDIUMS: list[str] = [c.medium for c in _CH] + ["crm"]
CAMPAIGNS_UTM: list[str] = []
CH_CAMP_IDX: list[list[int]] = []
for _c in _CH:
    idx = []
    for _n in _c.campaigns:
        if _n not in CAMPAIGNS_UTM:
            CAMPAIGNS_UTM.append(_n)
        idx.append(CAMPAIGNS_UTM.index(_n))
    CH_CAMP_IDX.append(idx)
N_UTM_CAMP = len(CAMPAIGNS_UTM)  # CRM campaign ids are appended after these per run
CONTENTS = ["creative_a", "creative_b", "video_01"]
TERMS = ["理财", "稳健理财", "定期理财", "理财app", "基金定投"]

EVENT_NAMES = ("ad_click", "link_click", "app_install", "register", "kyc_verified", "bind_card",
               "coupon_claim", "app_open", "share", "风险测评", "浏览产品详情")
#: The platform's own events (not roles) and their properties, drawn from a generator of their
#: own (OWN_STREAM) so that every other row is what it would be without them.
OWN_STREAM = 18
RISK_LEVELS = ("C1", "C2", "C3", "C4", "C5")
RISK_P = np.array([.12, .26, .34, .19, .09])
P_RISK = .92  # binders who take the risk assessment (between real-name and binding the card)
EV = {name: i for i, name in enumerate(EVENT_NAMES)}

# products: (name, term_days, annual margin)
PRODUCTS = (("活期", 0, .015), ("定期1月", 30, .018), ("定期3月", 90, .020),
            ("定期6月", 180, .022), ("定期12月", 365, .025))
TERM = np.array([p[1] for p in PRODUCTS], dtype=float)
MARGIN = np.array([p[2] for p in PRODUCTS])

# value types
TYPES = ("regular", "small", "whale", "bonus_hunter")
REGULAR, SMALL, WHALE, HUNTER = range(4)
TYPE_P = np.array([.60, .38, .02])  # among non-hunters
PRODUCT_MIX = np.array([
    [.30, .25, .22, .14, .09],
    [.45, .30, .15, .07, .03],
    [.15, .15, .25, .25, .20],
    [.50, .50, 0, 0, 0],
])
AMOUNT_MEDIAN = np.array([5000.0, 1500.0, 30000.0, 500.0])
AMOUNT_SIGMA = np.array([0.6, 0.5, 0.5, 0.0])
LAMBDA = np.array([1 / 75, 1 / 110, 1 / 45, 0.0])  # repeat investments per day
REINVEST = np.array([.55, .45, .70, 0.0])
CHURN_MULT = np.array([1.0, 1.3, 0.6, 0.0])

# demographics
AGE_P = np.array([.33, .16, .12, .31, .08])
# amount multiplier per age band: the 18-24 band invests small tickets, 45-55 the most
AGE_VALUE = np.array([.35, .8, 1.2, 1.7, 1.4])
AGE_RANGE = [(lo, min(hi, 70)) for _, lo, hi in AGE_BANDS]
AGE_LABELS = [b[0] for b in AGE_BANDS]
OS_VALUES = ("iOS", "Android", "其他")
OS_P = np.array([.35, .63, .02])
GENDERS = ("男", "女")
_PROVINCE_CITIES: dict[str, tuple[float, dict[str, float]]] = {
    "广东": (.14, {"深圳": .3, "广州": .3, "东莞": .1, "佛山": .1, "珠海": .03, "惠州": .03,
                 "中山": .03, "汕头": .03, "湛江": .02, "江门": .03, "肇庆": .02, "梅州": .01}),
    "浙江": (.09, {"杭州": .4, "宁波": .15, "温州": .1, "金华": .07, "嘉兴": .06, "绍兴": .06,
                 "台州": .06, "湖州": .05, "丽水": .03, "衢州": .02}),
    "江苏": (.09, {"南京": .25, "苏州": .25, "无锡": .1, "常州": .08, "南通": .08, "徐州": .08,
                 "扬州": .06, "盐城": .05, "淮安": .05}),
    "上海": (.06, {"上海": 1.0}),
    "北京": (.06, {"北京": 1.0}),
    "四川": (.06, {"成都": .65, "绵阳": .1, "南充": .1, "宜宾": .08, "德阳": .07}),
    "山东": (.06, {"青岛": .25, "济南": .25, "烟台": .12, "潍坊": .12, "临沂": .12, "菏泽": .14}),
    "河南": (.05, {"郑州": .5, "洛阳": .15, "南阳": .15, "周口": .2}),
    "湖北": (.04, {"武汉": .6, "宜昌": .15, "襄阳": .15, "黄冈": .1}),
    "福建": (.04, {"福州": .35, "厦门": .3, "泉州": .25, "漳州": .1}),
    "湖南": (.035, {"长沙": .6, "岳阳": .15, "衡阳": .15, "常德": .1}),
    "安徽": (.03, {"合肥": .6, "芜湖": .2, "阜阳": .2}),
    "河北": (.03, {"石家庄": .4, "保定": .2, "唐山": .2, "邯郸": .1, "沧州": .1}),
    "陕西": (.025, {"西安": .8, "宝鸡": .1, "咸阳": .1}),
    "重庆": (.025, {"重庆": 1.0}),
    "辽宁": (.02, {"沈阳": .45, "大连": .45, "鞍山": .1}),
    "天津": (.015, {"天津": 1.0}),
    "广西": (.015, {"南宁": .5, "桂林": .3, "柳州": .2}),
    "江西": (.015, {"南昌": .6, "赣州": .3, "九江": .1}),
    "云南": (.015, {"昆明": .8, "曲靖": .2}),
    "山西": (.01, {"太原": .7, "大同": .3}),
    "黑龙江": (.01, {"哈尔滨": .8, "大庆": .2}),
    "吉林": (.008, {"长春": .8, "吉林": .2}),
    "贵州": (.01, {"贵阳": .7, "遵义": .3}),
    "内蒙古": (.007, {"呼和浩特": .6, "包头": .4}),
    "新疆": (.007, {"乌鲁木齐": .8, "喀什": .2}),
    "甘肃": (.006, {"兰州": .8, "天水": .2}),
    "海南": (.005, {"海口": .7, "三亚": .3}),
    "宁夏": (.003, {"银川": 1.0}),
    "青海": (.002, {"西宁": 1.0}),
    "西藏": (.001, {"拉萨": 1.0}),
}
PROVINCES = list(_PROVINCE_CITIES)
PROV_P = np.array([v[0] for v in _PROVINCE_CITIES.values()])
PROV_P = PROV_P / PROV_P.sum()
CITIES: list[str] = []
CITY_PROV: list[int] = []
CITY_W: list[float] = []
for _pi, (_p, (_pw, _cities)) in enumerate(_PROVINCE_CITIES.items()):
    _tot = sum(_cities.values())
    for _cn, _cw in _cities.items():
        CITIES.append(_cn)
        CITY_PROV.append(_pi)
        CITY_W.append(_cw / _tot)
CITY_PROV_ARR = np.array(CITY_PROV)
CITY_W_ARR = np.array(CITY_W)
TIER_LABELS = list(geo.CITY_TIERS)
CITY_TIER_IDX = np.array([TIER_LABELS.index(geo.tier_of(c)) for c in CITIES])


# --------------------------------------------------------------------------- campaigns


@dataclass(frozen=True)
class _Campaign:
    key: str
    name: str
    channel: str
    goal: str
    window_days: int
    holdout: float
    cost_per_send: float
    cost_per_reward: float
    target_rule: str
    segment_column: str
    q: tuple[float, ...]  # response probability of a treated, delivered, non-natural member
    at: float  # send day as a share of the period
    churned_factor: float = 1.0


_CAMPAIGNS = (
    _Campaign("bind", "注册24小时未绑卡短信提醒", "sms", "bind_card", 7, .20, .05, 0.0,
              "注册满24小时、已完成实名但尚未绑卡的用户（近20天注册）",
              "age_band", (.30, .20, .12, .05, .03), .37),
    _Campaign("gift", "新手礼包到期提醒", "push", "first_investment", 7, .20, 0.0, 20.0,
              "已绑卡未投资、新手礼包即将到期的用户（3至21天前注册）",
              "city_tier", (.04, .07, .12, .18, .22), .40),
    _Campaign("dormant", "沉睡用户现金券唤醒", "sms", "any_investment", 14, .20, .05, 15.0,
              "投资过、最近一笔投资及最近一笔定期到期都在60天以前（无在投资产）的用户",
              "age_band", (.04, .07, .12, .25, .30), .70, churned_factor=.5),
    _Campaign("reinvest", "复投加息券", "push", "any_investment", 14, .20, 0.0, 30.0,
              "未来14天内有定期产品到期、在投资产低于5万元的投资用户",
              "city_tier", (.36, .24, .14, .07, .03), .82, churned_factor=.3),
)
DORMANT_DAYS = 60
ASSET_LIMIT = 50_000.0
C1_LOOKBACK, C2_MIN_AGE, C2_MAX_AGE, C4_AHEAD = 20.0, 3.0, 21.0, 14.0


def _segment_labels(column: str) -> list[str]:
    return AGE_LABELS if column == "age_band" else TIER_LABELS


# --------------------------------------------------------------------------- helpers


def _add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    return date(d.year + y, m + 1, 1) if d.day == 1 else date(d.year + y, m + 1, d.day)


def _fixed_strings(prefix: str, digits: np.ndarray) -> pa.Array:
    """A string array from a (n, w) array of ASCII codes, each value prefixed."""
    n, w = digits.shape
    pre = np.frombuffer(prefix.encode(), dtype=np.uint8)
    buf = np.empty((n, len(pre) + w), dtype=np.uint8)
    buf[:, :len(pre)] = pre
    buf[:, len(pre):] = digits
    width = buf.shape[1]
    offsets = np.arange(n + 1, dtype=np.int64) * width
    return pa.LargeStringArray.from_buffers(
        n, pa.py_buffer(offsets), pa.py_buffer(buf.tobytes())).cast(pa.string())


def _decimal_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    numbers = np.asarray(numbers, dtype=np.int64)
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    digits = (numbers[:, None] // powers[None, :]) % 10 + 48
    return _fixed_strings(prefix, digits.astype(np.uint8))


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_MASK48 = np.uint64((1 << 48) - 1)


def _anon_ids(chunk: int, local: np.ndarray) -> pa.Array:
    """'A' + 12 hex digits: a bijective scramble of (chunk, local index), so ids never collide."""
    x = (np.uint64(chunk) << np.uint64(28)) | local.astype(np.uint64)
    x = (x * np.uint64(0x9E3779B97F4B)) & _MASK48
    x ^= x >> np.uint64(21)
    x = (x * np.uint64(0xC2B2AE3D27D5)) & _MASK48
    x ^= x >> np.uint64(19)
    shifts = np.arange(44, -1, -4, dtype=np.uint64)
    digits = _HEX[((x[:, None] >> shifts[None, :]) & np.uint64(15)).astype(np.int64)]
    return _fixed_strings("A", digits)


def _take(values: list[str] | pa.Array, idx: np.ndarray) -> pa.Array:
    """values[idx] with idx < 0 as null."""
    arr = values if isinstance(values, pa.Array) else pa.array(values, type=pa.string())
    idx = np.asarray(idx, dtype=np.int64)
    return arr.take(pa.array(idx, mask=idx < 0))


def _repeat_idx(counts: np.ndarray) -> np.ndarray:
    return np.repeat(np.arange(len(counts)), counts)


def _overlap(a0, a1, b0, b1):
    return np.maximum(0.0, np.minimum(a1, b1) - np.maximum(a0, b0))


def _pick_product(rng, types: np.ndarray) -> np.ndarray:
    cum = np.cumsum(PRODUCT_MIX, axis=1)[types]
    return (rng.random(len(types))[:, None] > cum).sum(axis=1).clip(0, len(PRODUCTS) - 1)


def _round_amount(x: np.ndarray) -> np.ndarray:
    return np.maximum(100.0, np.round(x / 100.0) * 100.0)


class _Ctx:
    """Calendar of the period: day weights (growth, weekends, promotions) and the hour profile."""

    def __init__(self, start: date, months: int):
        self.start = start
        self.end = _add_months(start, months) - timedelta(days=1)
        self.n_days = (self.end - start).days + 1
        days = [start + timedelta(days=i) for i in range(self.n_days)]
        w = np.array([(1.0 + 0.6 * i / self.n_days) * (1.1 if d.weekday() >= 5 else 1.0)
                      * (2.0 if (d.month == 11 and d.day <= 11) else 1.0)
                      * (1.6 if (d.month == 6 and d.day <= 18) else 1.0)
                      for i, d in enumerate(days)])
        self.day_p = w / w.sum()
        hours = np.array([1, .6, .4, .3, .3, .4, .8, 1.5, 2.2, 2.6, 2.8, 3.0,
                          3.4, 3.0, 2.8, 2.8, 2.8, 2.9, 3.0, 3.3, 3.8, 4.2, 3.6, 2.2])
        self.hour_p = hours / hours.sum()
        self.base_us = int(np.datetime64(datetime(start.year, start.month, start.day), "us")
                           .astype(np.int64))
        self.campaign_day = {c.key: self._campaign_day(c) for c in _CAMPAIGNS}
        ids, per_year = [], {}
        for c in _CAMPAIGNS:
            year = (start + timedelta(days=self.campaign_day[c.key])).year
            per_year[year] = per_year.get(year, 0) + 1
            ids.append(f"C{year}_{per_year[year]:02d}")
        self.campaign_ids: list[str] = ids

    def _campaign_day(self, c: _Campaign) -> int:
        day = int(round(c.at * self.n_days))
        return max(1, min(day, self.n_days - c.window_days - 2))

    def times(self, rng, n: int) -> np.ndarray:
        day = rng.choice(self.n_days, size=n, p=self.day_p)
        hour = rng.choice(24, size=n, p=self.hour_p)
        return day + (hour + rng.random(n)) / 24.0

    def us(self, t: np.ndarray) -> np.ndarray:
        """Days since the start -> microseconds since the epoch, whole seconds."""
        return self.base_us + np.floor(np.asarray(t) * 86400.0).astype(np.int64) * 1_000_000

    def stamp(self, t: float) -> datetime:
        return datetime(self.start.year, self.start.month, self.start.day) + timedelta(
            seconds=math.floor(t * 86400))


# --------------------------------------------------------------------------- output


def _arrow_type(dtype: str) -> pa.DataType:
    return {"string": pa.string(), "timestamp": pa.timestamp("us"), "date": pa.date32(),
            "int64": pa.int64(), "float64": pa.float64(), "boolean": pa.bool_()}[dtype]


#: Optional contract columns the simulated platform does not export (the demo has no
#: opt-outs): generate_dataset writes its tables without them.
NOT_SIMULATED: dict[str, tuple[str, ...]] = {"users": ("contact_opt_out",)}


def _schema(name: str) -> pa.Schema:
    skip = NOT_SIMULATED.get(name, ())
    return pa.schema([(c.name, _arrow_type(c.dtype)) for c in TABLES[name].columns
                      if c.name not in skip])


TRUTH_USERS_SCHEMA = pa.schema([
    ("user_id", pa.string()), ("channel", pa.string()), ("value_type", pa.string()),
    ("age_band", pa.string()), ("is_investor", pa.bool_()),
    ("first_investment_at", pa.timestamp("us")),
    ("churn_at", pa.timestamp("us")), ("monthly_churn_hazard", pa.float64()),
    ("repeat_per_month", pa.float64()), ("reinvest_prob", pa.float64()),
    ("p_retained", pa.float64()),
])


class _Writers:
    def __init__(self, out: Path, fmt: str):
        self.out, self.fmt = out, fmt
        self.writers: dict[str, object] = {}

    def write(self, name: str, table: pa.Table, parquet_only: bool = False) -> None:
        fmt = "parquet" if parquet_only else self.fmt
        if fmt == "csv":  # whole seconds: "2025-07-01 10:00:00", no fraction
            table = table.cast(pa.schema([
                f.with_type(pa.timestamp("s")) if pa.types.is_timestamp(f.type) else f
                for f in table.schema]))
        if name not in self.writers:
            path = self.out / f"{name}.{fmt}"
            if fmt == "parquet":
                self.writers[name] = pq.ParquetWriter(path, table.schema, compression="zstd")
            else:
                self.writers[name] = pacsv.CSVWriter(path, table.schema)
        self.writers[name].write_table(table)

    def close(self) -> None:
        for w in self.writers.values():
            w.close()


# --------------------------------------------------------------------------- truth sums


class _Sums:
    """Sums of true probabilities and counts, added up over chunks."""

    def __init__(self):
        self.d: dict[tuple, float] = {}

    def add(self, key: tuple, value: float) -> None:
        self.d[key] = self.d.get(key, 0.0) + float(value)

    def add_by(self, key: tuple, groups: np.ndarray, values: np.ndarray, n: int) -> None:
        sums = np.bincount(groups, weights=values, minlength=n)
        counts = np.bincount(groups, minlength=n)
        for g in range(n):
            self.add((*key, g, "sum"), sums[g])
            self.add((*key, g, "n"), counts[g])

    def get(self, key: tuple) -> float:
        return self.d.get(key, 0.0)


STEP_NAMES = ("ad_click->app_install", "app_install->register", "register->kyc_verified",
              "kyc_verified->bind_card", "bind_card->first_investment",
              "first_investment->second_investment")


# --------------------------------------------------------------------------- one chunk


def _simulate_chunk(k: int, n_c: int, user_offset: int, txn_offset: int, seed: int,
                    ctx: _Ctx, sums: _Sums, clicks: np.ndarray) -> dict[str, pa.Table]:
    rng = np.random.default_rng([seed, k])
    T = float(ctx.n_days)

    # ---- devices, until n_main of them have registered within the period
    n_shared = int(round(SHARED_DEVICE_SHARE * n_c)) if n_c >= 100 else 0
    n_main = n_c - n_shared
    sums.add(("shared",), n_shared)
    parts: list[dict[str, np.ndarray]] = []
    found = 0
    p_reg = float((DEV_MIX * P_INSTALL * P_REGISTER).sum())
    while found < n_main:
        n = int((n_main - found) / p_reg * 1.25) + 64
        ch = rng.choice(NCH, size=n, p=DEV_MIX)
        t_last = ctx.times(rng, n)
        inst = rng.random(n) < P_INSTALL[ch]
        t_inst = t_last + np.minimum(np.exp(rng.normal(np.log(8 * MINUTE), 1.0, n)), 2.0) \
            + 0.5 * MINUTE
        reg = inst & (rng.random(n) < P_REGISTER[ch])
        fast = rng.random(n) < 0.6
        d_reg = np.where(fast, np.minimum(np.exp(rng.normal(np.log(5 * MINUTE), 1.0, n)), HOUR),
                         HOUR + 25.0 * rng.random(n) ** 2) + MINUTE
        t_reg = t_inst + d_reg
        ok = reg & (t_reg < T)
        cum = np.cumsum(ok)
        # keep devices up to the one that completes n_main registrations
        enough = found + cum[-1] >= n_main
        cut = int(np.searchsorted(cum, n_main - found)) + 1 if enough else n
        parts.append({"ch": ch[:cut], "t_last": t_last[:cut], "inst": inst[:cut],
                      "t_inst": t_inst[:cut], "reg": reg[:cut], "t_reg": t_reg[:cut],
                      "ok": ok[:cut]})
        found += int(ok[:cut].sum())
    dev = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    n_dev = len(dev["ch"])
    d_ch = dev["ch"]

    # ---- touches: the last one (row i = device i), then 0-3 earlier ones
    n_extra = rng.choice(4, size=n_dev, p=[.45, .30, .15, .10])
    x_dev = _repeat_idx(n_extra)
    x_t = dev["t_last"][x_dev] - np.minimum(10.0, dev["t_last"][x_dev]) * rng.random(len(x_dev))
    x_ch = np.where(rng.random(len(x_dev)) < .5, d_ch[x_dev],
                    rng.choice(NCH, size=len(x_dev), p=TOUCH_MIX))
    tc_dev = np.concatenate([np.arange(n_dev), x_dev])
    tc_t = np.concatenate([dev["t_last"], x_t])
    tc_ch = np.concatenate([d_ch, x_ch])
    n_tc = len(tc_dev)
    canon = np.empty(n_tc, dtype=np.int64)
    camp = np.full(n_tc, -1, dtype=np.int64)
    for c in range(NCH):
        m = tc_ch == c
        nm = int(m.sum())
        if not nm:
            continue
        srcs = CH_SRC_IDX[c]
        canon[m] = srcs[0] if len(srcs) == 1 else rng.choice(srcs, size=nm, p=CH_SRC_P[c])
        if CH_CAMP_IDX[c]:
            camp[m] = rng.choice(CH_CAMP_IDX[c], size=nm)
    tagged = rng.random(n_tc) >= UNTAGGED_SHARE
    src = canon.copy()
    variant = tagged & (rng.random(n_tc) < VARIANT_SHARE)
    if variant.any():
        pick = rng.random(int(variant.sum()))
        src[variant] = [VARIANT_IDX[s][int(p * len(VARIANT_IDX[s]))]
                        for s, p in zip(canon[variant], pick, strict=True)]
    paid_touch = PAID[tc_ch]
    content = np.where(paid_touch, rng.integers(0, len(CONTENTS), n_tc), -1)
    term = np.where(tc_ch == 0, rng.integers(0, len(TERMS), n_tc), -1)
    first_touch = dev["t_last"].copy()
    np.minimum.at(first_touch, x_dev, x_t)
    has_ad = np.zeros(n_dev, dtype=bool)
    has_ad[tc_dev[paid_touch & (tc_t < T)]] = True
    # costs: paid clicks per day x canonical source x utm_campaign
    pm = paid_touch & (tc_t < T)
    key = (np.floor(tc_t[pm]).astype(np.int64) * len(CANON) + canon[pm]) * N_UTM_CAMP + camp[pm]
    clicks += np.bincount(key, minlength=clicks.size)

    # funnel truth, devices
    sums.add_by(("step", 0), d_ch[has_ad], P_INSTALL[d_ch[has_ad]], NCH)
    inst_in = dev["inst"] & (dev["t_inst"] < T)
    sums.add_by(("step", 1), d_ch[inst_in], P_REGISTER[d_ch[inst_in]], NCH)

    # ---- users: registered devices, then the shared-device users
    main_dev = np.flatnonzero(dev["ok"])
    a_pick = main_dev[rng.integers(0, len(main_dev), n_shared)] if n_shared else main_dev[:0]
    gap = np.minimum(1.0 + 59.0 * rng.random(n_shared),
                     (T - dev["t_reg"][a_pick]) * (0.3 + 0.65 * rng.random(n_shared)))
    u_dev = np.concatenate([main_dev, a_pick])
    u_treg = np.concatenate([dev["t_reg"][main_dev], dev["t_reg"][a_pick] + gap])
    u_shared = np.concatenate([np.zeros(len(main_dev), bool), np.ones(n_shared, bool)])
    order = np.lexsort((u_dev, u_treg))
    u_dev, u_treg, u_shared = u_dev[order], u_treg[order], u_shared[order]
    n = n_c
    ch = d_ch[u_dev]
    hunter = rng.random(n) < P_HUNTER[ch]
    vtype = np.where(hunter, HUNTER, rng.choice(3, size=n, p=TYPE_P))
    age_band = rng.choice(5, size=n, p=AGE_P)
    lo = np.array([r[0] for r in AGE_RANGE])[age_band]
    hi = np.array([r[1] for r in AGE_RANGE])[age_band]
    age = lo + np.floor(rng.random(n) * (hi - lo + 1)).astype(int)
    birth_year = ctx.end.year - age
    gender = (rng.random(n) >= .6).astype(int)
    prov = rng.choice(len(PROVINCES), size=n, p=PROV_P)
    city = np.empty(n, dtype=np.int64)
    for p in range(len(PROVINCES)):
        m = prov == p
        if m.any():
            cand = np.flatnonzero(p == CITY_PROV_ARR)
            w = CITY_W_ARR[cand]
            city[m] = rng.choice(cand, size=int(m.sum()), p=w / w.sum())
    tier = CITY_TIER_IDX[city]
    os_ = rng.choice(3, size=n, p=OS_P)
    # sign-up UTM = the device's last touch (row u_dev of the touch arrays); none when shared
    last = np.where(u_shared | ~tagged[u_dev], -1, u_dev)
    u_src = np.where(last >= 0, src[np.maximum(last, 0)], -1)
    u_med = np.where(last >= 0, ch, -1)
    u_camp = np.where(last >= 0, camp[np.maximum(last, 0)], -1)
    # inviters: a user of the chunk registered before the invitee's first touch
    inviter = np.full(n, -1, dtype=np.int64)
    share_ev: list[tuple[np.ndarray, np.ndarray]] = []
    referred = (ch == _REFERRAL) & ~u_shared
    if referred.any():
        ft = first_touch[u_dev[referred]]
        kk = np.searchsorted(u_treg, ft - 0.1)
        pick = np.floor(rng.random(len(kk)) * kk).astype(np.int64)
        inv = np.where(kk > 0, pick, -1)
        inviter[referred] = inv
        okr = inv >= 0
        st = np.maximum(u_treg[inv[okr]] + 0.005, ft[okr] - 2.0 * rng.random(int(okr.sum())))
        share_ev.append((inv[okr], st))

    # ---- register -> kyc
    p_kyc = np.where(hunter, .97, P_KYC[ch])
    kyc = rng.random(n) < p_kyc
    t_kyc = np.where(kyc, u_treg + np.minimum(np.exp(rng.normal(np.log(6 * MINUTE), 1.6, n)),
                                              20 * HOUR) + 0.5 * MINUTE, np.inf)
    sums.add_by(("step", 2), ch, p_kyc, NCH)

    # ---- kyc -> bind card (natural), then campaign 1
    pb = np.where(hunter, .95, P_BIND[ch])
    fb = np.where(hunter, .97, .68)
    binder = kyc & (rng.random(n) < pb)
    fastb = rng.random(n) < fb
    t_fast = np.maximum(u_treg + rng.random(n) ** 3, t_kyc + (1 + 9 * rng.random(n)) * MINUTE)
    t_slow = u_treg + 1.0 + 20.0 * rng.random(n)
    t_bind_nat = np.where(binder, np.where(fastb, t_fast, t_slow), np.inf)
    cam = _CAMPAIGNS[0]
    s1 = ctx.campaign_day[cam.key] + 10 * HOUR
    age_reg = s1 - u_treg
    elig1 = kyc & (age_reg >= 1.0) & (age_reg < C1_LOOKBACK) & (t_kyc < s1)
    member = elig1 & (t_bind_nat > s1)
    g = age_reg - 1.0
    slow_w = pb * (1 - fb)
    pc1 = slow_w * _overlap(g, g + cam.window_days, 0.0, 20.0) / 20.0 / (
        (1 - pb) + slow_w * np.clip(1 - g / 20.0, 0, 1))
    q1 = np.array(cam.q)[age_band]
    nat_in = t_bind_nat <= s1 + cam.window_days
    res1 = _campaign(rng, 0, cam, s1, np.flatnonzero(member), pc1, q1, nat_in, age_band,
                     np.zeros(n, bool), sums)
    t_bind = t_bind_nat.copy()
    t_bind[res1["induced_users"]] = res1["induced_t"]
    p_bind_u = pb + elig1 * (1 - cam.holdout) * DELIVERY_RATE * q1 * (1 - pb)
    kyc_in = t_kyc < T
    sums.add_by(("step", 3), ch[kyc_in], p_bind_u[kyc_in], NCH)

    # ---- bind -> first investment (natural), then campaign 2
    bound = np.isfinite(t_bind)
    pi = np.where(hunter, .92, P_INVEST[ch])
    fi = np.where(hunter, .95, .5)
    investor = bound & (rng.random(n) < pi)
    fasti = rng.random(n) < fi
    d_first = np.where(fasti, rng.random(n) ** 3, 1.0 + 25.0 * rng.random(n))
    t_first_nat = np.where(investor, t_bind + d_first + 0.5 * MINUTE, np.inf)
    cam = _CAMPAIGNS[1]
    s2 = ctx.campaign_day[cam.key] + 10 * HOUR
    age_reg = s2 - u_treg
    elig2 = bound & (t_bind < s2) & (age_reg >= C2_MIN_AGE) & (age_reg < C2_MAX_AGE)
    member = elig2 & (t_first_nat > s2)
    a = s2 - (t_bind + 0.5 * MINUTE)

    def f_fast(x):
        return np.clip(x, 0, 1) ** (1 / 3)

    def f_slow(x):
        return np.clip((x - 1.0) / 25.0, 0, 1)

    w = cam.window_days
    num = pi * (fi * (f_fast(a + w) - f_fast(a)) + (1 - fi) * (f_slow(a + w) - f_slow(a)))
    den = 1 - pi * (fi * f_fast(a) + (1 - fi) * f_slow(a))
    pc2 = np.where(elig2, num / np.maximum(den, 1e-12), 0.0)
    q2 = np.array(cam.q)[tier]
    nat_in = t_first_nat <= s2 + w
    res2 = _campaign(rng, 1, cam, s2, np.flatnonzero(member), pc2, q2, nat_in, tier,
                     np.zeros(n, bool), sums)
    t_first = t_first_nat.copy()
    t_first[res2["induced_users"]] = res2["induced_t"]
    p_first_u = pi + elig2 * (1 - cam.holdout) * DELIVERY_RATE * q2 * (1 - pi)
    bind_in = t_bind < T
    sums.add_by(("step", 4), ch[bind_in], p_first_u[bind_in], NCH)

    # ---- investors: churn, repeat rate, reinvestment
    inv_mask = np.isfinite(t_first)
    h_month = np.where(hunter, 0.0, CHURN[ch] * CHURN_MULT[vtype])
    lam = LAMBDA[vtype] * REPEAT[ch] * np.exp(rng.normal(-0.18, 0.6, n))
    lam = np.where(hunter, 0.0, lam)
    r = REINVEST[vtype]
    h_day = h_month / MONTH
    life = rng.exponential(1.0, n) / np.maximum(h_day, 1e-12)
    t_churn = np.where(hunter, t_first, t_first + life)
    t_churn = np.where(inv_mask, t_churn, np.inf)
    first_prod = _pick_product(rng, vtype)
    scale = (AMOUNT_MEDIAN[vtype] * VALUE[ch] * AGE_VALUE[age_band]
             * np.exp(rng.normal(0, 1, n) * AMOUNT_SIGMA[vtype]))
    # first -> second within 30 days: Poisson events before churn (maturity reinvestment of a
    # 30-day product comes after day 30)
    lh = lam + h_day
    p2 = np.where(hunter, 0.0, lam / np.maximum(lh, 1e-12) * (1 - np.exp(-lh * CONVERSION_WINDOW)))
    first_in = inv_mask & (t_first < T)
    sums.add_by(("step", 5), ch[first_in], p2[first_in], NCH)
    # retained investor (second investment within 90 days), natural process
    e30, e90 = np.exp(-lh * 30), np.exp(-lh * 90)
    hh = h_day / np.maximum(lh, 1e-12)
    no2 = hh * (1 - e90) + e90
    no2_30 = hh * (1 - e30) + (1 - r) * (hh * (e30 - e90) + e90)
    p_ret90 = np.where(hunter, 0.0, 1 - np.where(TERM[first_prod] == 30, no2_30, no2))
    p_retained_u = p_kyc * pb * pi * p_ret90
    sums.add_by(("retained",), ch, p_retained_u, NCH)
    sums.add_by(("users",), ch, np.ones(n), NCH)
    sums.add_by(("hunters",), ch, hunter.astype(float), NCH)
    inv_nh = first_in & ~hunter
    sums.add_by(("hazard",), ch[inv_nh], h_month[inv_nh], NCH)
    sums.add_by(("investors",), ch[first_in], hunter[first_in].astype(float), NCH)
    for mth in range(13):
        surv = np.where(hunter, 1.0 if mth == 0 else 0.0, np.exp(-h_month * mth))
        sums.add_by(("surv", mth), ch[first_in], surv[first_in], NCH)

    # holdings: first investments, Poisson repeats, then maturity reinvestment chains
    inv_idx = np.flatnonzero(inv_mask)
    alive_end = np.minimum(t_churn, T)
    span = np.where(inv_mask, np.maximum(alive_end - t_first, 0.0), 0.0)
    n_rep = rng.poisson(lam * span)
    rep_u = _repeat_idx(n_rep)
    rep_t = t_first[rep_u] + rng.random(len(rep_u)) * span[rep_u]
    h_u = np.concatenate([inv_idx, rep_u])
    h_t = np.concatenate([t_first[inv_idx], rep_t])
    h_prod = np.concatenate([first_prod[inv_idx], _pick_product(rng, vtype[rep_u])])
    h_amt = scale[h_u] * np.exp(rng.normal(0, 0.4, len(h_u)))
    hunt_h = vtype[h_u] == HUNTER
    h_amt[hunt_h] = rng.choice([100.0, 200.0, 500.0, 1000.0, 1000.0], size=int(hunt_h.sum()))
    h_amt = _round_amount(h_amt)
    hold = {"u": [h_u], "t": [h_t], "prod": [h_prod], "amt": [h_amt],
            "nat": [np.ones(len(h_u), bool)]}
    fu, ft_, fp, fa = h_u, h_t, h_prod, h_amt
    while len(fu):
        m_t = ft_ + TERM[fp]
        go = (TERM[fp] > 0) & (m_t < np.minimum(t_churn[fu], T)) & (rng.random(len(fu)) < r[fu])
        fu, m_t, fp, fa = fu[go], m_t[go], fp[go], fa[go]
        ft_ = m_t + 0.1 + 2.9 * rng.random(len(fu))
        fp = np.where(rng.random(len(fu)) < .7, fp, _pick_product(rng, vtype[fu]))
        fa = _round_amount(fa * np.exp(rng.normal(0.01, 0.1, len(fu))))
        for key_, v in (("u", fu), ("t", ft_), ("prod", fp), ("amt", fa),
                        ("nat", np.ones(len(fu), bool))):
            hold[key_].append(v)
    H = {key_: np.concatenate(v) for key_, v in hold.items()}

    # ---- campaign 3: dormant investors, one batch
    cam = _CAMPAIGNS[2]
    s3 = ctx.campaign_day[cam.key] + 10 * HOUR
    before = H["t"] < s3
    last_end = np.full(n, -np.inf)
    np.maximum.at(last_end, H["u"][before], H["t"][before] + TERM[H["prod"][before]])
    member = np.isfinite(last_end) & (last_end <= s3 - DORMANT_DAYS)
    alive = t_churn > s3
    pc3 = np.where(alive, 1 - np.exp(-lam * np.clip(t_churn - s3, 0, cam.window_days)), 0.0)
    q3 = np.array(cam.q)[age_band] * np.where(alive, 1.0, cam.churned_factor) * (~hunter)
    in_w = (H["t"] > s3) & (H["t"] <= s3 + cam.window_days)
    nat_in = np.zeros(n, bool)
    nat_in[H["u"][in_w]] = True
    res3 = _campaign(rng, 2, cam, s3, np.flatnonzero(member), pc3, q3, nat_in, age_band,
                     ~alive, sums)
    _add_induced(rng, H, res3, vtype, scale)

    # ---- campaign 4: a term product maturing within 14 days, assets under 50,000
    cam = _CAMPAIGNS[3]
    s4 = ctx.campaign_day[cam.key] + 10 * HOUR
    held = (H["t"] < s4) & (H["t"] + np.maximum(TERM[H["prod"]], 30.0) > s4)
    assets = np.bincount(H["u"][held], weights=H["amt"][held], minlength=n)
    mat = H["t"] + TERM[H["prod"]]
    maturing = (TERM[H["prod"]] > 0) & (H["t"] < s4) & (mat > s4) & (mat <= s4 + C4_AHEAD)
    has_mat = np.zeros(n, bool)
    has_mat[H["u"][maturing]] = True
    member = has_mat & (assets < ASSET_LIMIT)
    w = cam.window_days
    log_no = -lam * np.clip(np.minimum(s4 + w, t_churn) - s4, 0, None)
    nat_h = H["nat"] & (TERM[H["prod"]] > 0) & (mat < np.minimum(t_churn[H["u"]], T))
    land = _overlap(s4 - mat[nat_h], s4 + w - mat[nat_h], 0.1, 3.0) / 2.9
    np.add.at(log_no, H["u"][nat_h], np.log1p(-r[H["u"][nat_h]] * land))
    pc4 = 1 - np.exp(log_no)
    alive = t_churn > s4
    q4 = np.array(cam.q)[tier] * np.where(alive, 1.0, cam.churned_factor) * (~hunter)
    in_w = (H["t"] > s4) & (H["t"] <= s4 + w)
    nat_in = np.zeros(n, bool)
    nat_in[H["u"][in_w]] = True
    res4 = _campaign(rng, 3, cam, s4, np.flatnonzero(member), pc4, q4, nat_in, tier,
                     ~alive, sums)
    _add_induced(rng, H, res4, vtype, scale)

    # ---- transactions
    keep = H["t"] < T
    tx_u, tx_t, tx_p, tx_a = H["u"][keep], H["t"][keep], H["prod"][keep], H["amt"][keep]
    n_ok = len(tx_u)
    fail = rng.random(n_ok) < FAILED_SHARE
    f_t = np.maximum(tx_t[fail] - (1 + 9 * rng.random(int(fail.sum()))) * MINUTE,
                     u_treg[tx_u[fail]] + MINUTE)
    tx_u = np.concatenate([tx_u, tx_u[fail]])
    tx_t = np.concatenate([tx_t, f_t])
    tx_p = np.concatenate([tx_p, tx_p[fail]])
    tx_a = np.concatenate([tx_a, tx_a[fail]])
    tx_ok = np.concatenate([np.ones(n_ok, bool), np.zeros(int(fail.sum()), bool)])
    sec = ctx.us(tx_t)
    o = np.lexsort((tx_ok, tx_u, sec))
    tx_u, sec, tx_p, tx_a, tx_ok = tx_u[o], sec[o], tx_p[o], tx_a[o], tx_ok[o]
    totals = np.bincount(tx_u[tx_ok], weights=tx_a[tx_ok], minlength=n)
    revenue = np.round(tx_a * MARGIN[tx_p] * np.maximum(TERM[tx_p], 30) / 365.0, 2)

    # ---- activity events of users
    ev_t: list[np.ndarray] = []
    ev_name: list[np.ndarray] = []
    ev_u: list[np.ndarray] = []
    ev_src: list[np.ndarray] = []
    ev_camp: list[np.ndarray] = []
    ev_props: list[np.ndarray] = []

    def add(name: int, users: np.ndarray, times: np.ndarray, srcs=None, camps=None,
            props=None) -> None:
        ev_t.append(times)
        ev_name.append(np.full(len(users), name, dtype=np.int64))
        ev_u.append(users)
        ev_src.append(np.full(len(users), -1) if srcs is None else srcs)
        ev_camp.append(np.full(len(users), -1) if camps is None else camps)
        ev_props.append(np.full(len(users), None, dtype=object) if props is None else props)

    everyone = np.arange(n)
    add(EV["register"], everyone, u_treg)
    add(EV["kyc_verified"], everyone[kyc], t_kyc[kyc])
    add(EV["bind_card"], everyone[bound], t_bind[bound])
    # new-user coupon: bonus hunters at once, others sometimes within 3 days
    claim = hunter | (rng.random(n) < .35)
    add(EV["coupon_claim"], everyone[claim],
        u_treg[claim] + np.where(hunter[claim], (1 + 29 * rng.random(int(claim.sum()))) * MINUTE,
                                 3.0 * rng.random(int(claim.sum()))))
    # app opens while active
    act_end = np.where(inv_mask, t_churn, u_treg + rng.exponential(15.0, n))
    act_end = np.minimum(act_end, T)
    rate = np.where(inv_mask & ~hunter, 3.5 / MONTH * np.exp(rng.normal(-0.12, 0.5, n)),
                    2.5 / MONTH)
    dur = np.maximum(act_end - u_treg, 0.0)
    n_open = rng.poisson(rate * dur)
    ou = _repeat_idx(n_open)
    add(EV["app_open"], ou, u_treg[ou] + rng.random(len(ou)) * dur[ou])
    # shares: inviters before each referral, and some investors
    for inv_u, st in share_ev:
        add(EV["share"], inv_u, st)
    sh = inv_mask & ~hunter & (rng.random(n) < .08) & (t_first < T)
    su = everyone[sh]
    add(EV["share"], su,
        t_first[su] + rng.random(len(su)) * np.maximum(act_end[su] - t_first[su], 0))
    # CRM: link clicks and the coupons before coupon-driven responses
    camp_rows = []
    for ci, res in enumerate((res1, res2, res3, res4)):
        cam = _CAMPAIGNS[ci]
        clicked = np.isfinite(res["clicked"])
        cu = res["users"][clicked]
        add(EV["link_click"], cu, res["clicked"][clicked],
            np.full(len(cu), SOURCES.index(cam.channel)), np.full(len(cu), N_UTM_CAMP + ci))
        if cam.cost_per_reward > 0 and len(res["induced_users"]):
            add(EV["coupon_claim"], res["induced_users"],
                res["induced_t"] - (1 + 4 * rng.random(len(res["induced_users"]))) * MINUTE)
        camp_rows.append(res)
    _own_events(np.random.default_rng([seed, k, OWN_STREAM]), add, everyone, bound & (t_bind < T),
                t_kyc, t_bind, inv_mask & (t_first < T), t_first, first_prod)

    u_ev_t = np.concatenate(ev_t)
    u_ev_name = np.concatenate(ev_name)
    u_ev_u = np.concatenate(ev_u).astype(np.int64)
    u_ev_src = np.concatenate(ev_src).astype(np.int64)
    u_ev_camp = np.concatenate(ev_camp).astype(np.int64)
    u_ev_props = np.concatenate(ev_props)
    nu = len(u_ev_t)
    # device events: touches and installs (anonymous)
    ins = dev["inst"]
    d_t = np.concatenate([tc_t, dev["t_inst"][ins], u_ev_t])
    d_name = np.concatenate([np.where(paid_touch, EV["ad_click"], EV["link_click"]),
                             np.full(int(ins.sum()), EV["app_install"]), u_ev_name])
    d_anon = np.concatenate([tc_dev, np.flatnonzero(ins), u_dev[u_ev_u]])
    d_user = np.concatenate([np.full(n_tc + int(ins.sum()), -1), u_ev_u])
    d_src = np.concatenate([np.where(tagged, src, -1), np.full(int(ins.sum()), -1), u_ev_src])
    d_med = np.concatenate([np.where(tagged, tc_ch, -1), np.full(int(ins.sum()), -1),
                            np.where(u_ev_src >= 0, len(MEDIUMS) - 1, -1)])
    d_camp = np.concatenate([np.where(tagged, camp, -1), np.full(int(ins.sum()), -1), u_ev_camp])
    d_content = np.concatenate([np.where(tagged, content, -1), np.full(int(ins.sum()) + nu, -1)])
    d_term = np.concatenate([np.where(tagged, term, -1), np.full(int(ins.sum()) + nu, -1)])
    d_props = np.concatenate([np.full(n_tc + int(ins.sum()), None, dtype=object), u_ev_props])
    keep = d_t < T
    sec_e = ctx.us(d_t[keep])
    cols = [d_name, d_anon, d_user, d_src, d_med, d_camp, d_content, d_term, d_props]
    cols = [c[keep] for c in cols]
    o = np.lexsort((cols[0], cols[2], cols[1], sec_e))
    sec_e = sec_e[o]
    cols = [c[o] for c in cols]
    e_name, e_anon, e_user, e_src, e_med, e_camp, e_content, e_term, e_props = cols

    # ---- arrow tables
    width_u = max(8, len(str(user_offset + n)))
    uid = _decimal_ids("U", user_offset + 1 + np.arange(n), width_u)
    anon = _anon_ids(k, np.arange(n_dev))
    camp_names = CAMPAIGNS_UTM + [c for c in ctx.campaign_ids]
    users = pa.table({
        "user_id": uid,
        "registered_at": pa.array(ctx.us(u_treg), pa.timestamp("us")),
        "birth_year": pa.array(birth_year, pa.int64()),
        "gender": _take(list(GENDERS), gender),
        "province": _take(PROVINCES, prov),
        "city": _take(CITIES, city),
        "city_tier": _take(TIER_LABELS, tier),
        "device_os": _take(list(OS_VALUES), os_),
        "utm_source": _take(SOURCES, u_src),
        "utm_medium": _take(MEDIUMS, u_med),
        "utm_campaign": _take(camp_names, u_camp),
        "inviter_id": _take(uid, inviter),
    }, schema=_schema("users"))
    events = pa.table({
        "event_time": pa.array(sec_e, pa.timestamp("us")),
        "event_name": _take(list(EVENT_NAMES), e_name),
        "user_id": _take(uid, e_user),
        "anonymous_id": _take(anon, e_anon),
        "utm_source": _take(SOURCES, e_src),
        "utm_medium": _take(MEDIUMS, e_med),
        "utm_campaign": _take(camp_names, e_camp),
        "utm_content": _take(CONTENTS, e_content),
        "utm_term": _take(TERMS, e_term),
        "landing_url": pa.nulls(len(sec_e), pa.string()),
        "properties": pa.array(e_props.tolist(), pa.string()),
    }, schema=_schema("events").append(pa.field("properties", pa.string())))
    width_t = max(9, len(str(txn_offset + len(tx_u))))
    transactions = pa.table({
        "txn_id": _decimal_ids("T", txn_offset + 1 + np.arange(len(tx_u)), width_t),
        "user_id": _take(uid, tx_u),
        "txn_time": pa.array(sec, pa.timestamp("us")),
        "amount": pa.array(tx_a, pa.float64()),
        "product_type": _take([p[0] for p in PRODUCTS], tx_p),
        "term_days": pa.array(TERM[tx_p].astype(np.int64), pa.int64()),
        "status": pa.array(np.where(tx_ok, "success", "failed")),
        "revenue": pa.array(revenue, pa.float64()),
    }, schema=_schema("transactions"))
    m_cid, m_u, m_grp, m_sent, m_del, m_clk = [], [], [], [], [], []
    for ci, res in enumerate(camp_rows):
        m_cid.append(np.full(len(res["users"]), ci))
        m_u.append(res["users"])
        m_grp.append(res["treat"])
        m_sent.append(res["sent"])
        m_del.append(res["delivered"])
        m_clk.append(res["clicked"])
    m_treat = np.concatenate(m_grp)
    m_sent_a = np.concatenate(m_sent)
    m_clk_a = np.concatenate(m_clk)
    m_del_a = np.concatenate(m_del)
    members = pa.table({
        "campaign_id": _take(list(ctx.campaign_ids), np.concatenate(m_cid)),
        "user_id": _take(uid, np.concatenate(m_u)),
        "group": pa.array(np.where(m_treat, "treatment", "control")),
        "sent_at": pa.array(ctx.us(np.nan_to_num(m_sent_a)), pa.timestamp("us"),
                            mask=~np.isfinite(m_sent_a)),
        "delivered": pa.array(m_del_a, pa.bool_(), mask=~m_treat),
        "clicked_at": pa.array(ctx.us(np.nan_to_num(m_clk_a)), pa.timestamp("us"),
                               mask=~np.isfinite(m_clk_a)),
    }, schema=_schema("campaign_members"))
    band_labels = np.array(AGE_LABELS, dtype=object)
    first_ok = inv_mask & (t_first < T)
    truth_users = pa.table({
        "user_id": uid,
        "channel": _take([c.name for c in _CH], ch),
        "value_type": _take(list(TYPES), vtype),
        "age_band": pa.array(band_labels[age_band].tolist(), pa.string()),
        "is_investor": pa.array(first_ok),
        "first_investment_at": pa.array(ctx.us(np.where(first_ok, t_first, 0)),
                                        pa.timestamp("us"), mask=~first_ok),
        "churn_at": pa.array(ctx.us(np.where(first_ok, t_churn, 0)), pa.timestamp("us"),
                             mask=~first_ok),
        "monthly_churn_hazard": pa.array(np.where(first_ok, h_month, np.nan), mask=~first_ok),
        "repeat_per_month": pa.array(lam * MONTH),
        "reinvest_prob": pa.array(r),
        "p_retained": pa.array(p_retained_u),
    }, schema=TRUTH_USERS_SCHEMA)
    return {"users": users, "events": events, "transactions": transactions,
            "campaign_members": members, "truth_users": truth_users,
            "_totals": totals[totals > 0], "_n_txn": len(tx_u)}


def _own_events(rng, add, everyone: np.ndarray, bound: np.ndarray, t_kyc: np.ndarray,
                t_bind: np.ndarray, inv_mask: np.ndarray, t_first: np.ndarray,
                first_prod: np.ndarray) -> None:
    """The platform's own events, with a JSON `properties` text each (`bound` and `inv_mask`
    hold only users who bound or invested within the period).

    * 风险测评 (risk assessment, property `level` C1-C5): P_RISK of the users who bind a card,
      between real-name verification and binding (t_bind > t_kyc for every binder).
    * 浏览产品详情 (product detail view, property `product_type`): every investor views one to
      three products between binding the card and the first investment; the last view is the
      product first invested in, the others are random products.
    Both happen strictly before a later event or investment of the same user, so nobody's last
    activity moves.
    """
    risk = everyone[bound & (rng.random(len(everyone)) < P_RISK)]
    level = rng.choice(len(RISK_LEVELS), size=len(risk), p=RISK_P)
    when = t_kyc[risk] + (0.05 + 0.9 * rng.random(len(risk))) * (t_bind[risk] - t_kyc[risk])
    add(EV["风险测评"], risk, when,
        props=np.array([json.dumps({"level": RISK_LEVELS[v]}) for v in level], dtype=object))
    inv = everyone[inv_mask]
    views = 1 + rng.integers(0, 3, len(inv))
    vu = _repeat_idx(views)  # positions in `inv`, each investor's views together
    last = np.r_[np.diff(vu) != 0, True] if len(vu) else np.zeros(0, bool)
    users = inv[vu]
    prod = np.where(last, first_prod[users], rng.integers(0, len(PRODUCTS), len(users)))
    start, stop = t_bind[users], t_first[users]
    when = start + (0.05 + 0.9 * rng.random(len(users))) * (stop - start)
    # a user's views in time order, the last one closest to the investment
    when = np.where(last, np.maximum(when, start + 0.95 * (stop - start)), np.minimum(
        when, start + 0.9 * (stop - start)))
    add(EV["浏览产品详情"], users, when,
        props=np.array([json.dumps({"product_type": PRODUCTS[p][0]}, ensure_ascii=False)
                        for p in prod], dtype=object))


def _campaign(rng, ci: int, cam: _Campaign, s: float, users: np.ndarray, p_c: np.ndarray,
              q: np.ndarray, natural_in: np.ndarray, segment: np.ndarray,
              churned: np.ndarray, sums: _Sums) -> dict[str, np.ndarray]:
    """Assign the holdout, send, deliver, click and let treated members respond in the window."""
    m = len(users)
    treat = rng.random(m) >= cam.holdout
    delivered = treat & (rng.random(m) < DELIVERY_RATE)
    sent = np.where(treat, s + 30 * MINUTE * rng.random(m), np.nan)
    nat = natural_in[users]
    induced = delivered & ~nat & (rng.random(m) < q[users])
    w = cam.window_days
    click_p = np.where(induced, .55, np.where(nat, .10, .04))
    clicked = delivered & (rng.random(m) < click_p)
    t_click = sent + np.minimum(rng.exponential(3 * HOUR, m), w - 2 * HOUR)
    t_click = np.where(clicked, t_click, np.nan)
    t_resp = np.where(clicked, t_click + (2 * MINUTE + 2 * HOUR * rng.random(m)),
                      sent + (w - 3 * HOUR) * rng.random(m) ** 1.5 + 10 * MINUTE)
    uplift = (1 - p_c[users]) * DELIVERY_RATE * q[users]
    seg = segment[users]
    sums.add(("camp", ci, "members"), m)
    sums.add(("camp", ci, "treatment"), int(treat.sum()))
    sums.add(("camp", ci, "churned"), float(churned[users].sum()))
    sums.add_by(("camp", ci, "pc"), seg, p_c[users], 5)
    sums.add_by(("camp", ci, "uplift"), seg, uplift, 5)
    return {"users": users, "treat": treat, "sent": sent, "delivered": delivered,
            "clicked": t_click, "induced_users": users[induced], "induced_t": t_resp[induced]}


def _add_induced(rng, H: dict, res: dict, vtype: np.ndarray, scale: np.ndarray) -> None:
    """Campaign-induced investments: extra holdings (no reinvestment chain of their own)."""
    iu = res["induced_users"]
    prod = _pick_product(rng, vtype[iu])
    amt = _round_amount(scale[iu] * np.exp(rng.normal(0, 0.4, len(iu))))
    H["u"] = np.concatenate([H["u"], iu])
    H["t"] = np.concatenate([H["t"], res["induced_t"]])
    H["prod"] = np.concatenate([H["prod"], prod])
    H["amt"] = np.concatenate([H["amt"], amt])
    H["nat"] = np.concatenate([H["nat"], np.zeros(len(iu), bool)])


# --------------------------------------------------------------------------- the dataset


def generate_dataset(out_dir: str | Path, n_users: int = 12000, seed: int = 7,
                     start: date = date(2025, 7, 1), months: int = 12,
                     chunk_users: int = 100_000, fmt: str = "parquet") -> dict:
    """Write the demo dataset (six contract tables, dataset.yml, truth files); return the truth.

    Deterministic for fixed arguments (the output depends on chunk_users as well, see the module
    docstring). Table files of an earlier dataset in `out_dir` are removed first.

    Parameters
    ----------
    out_dir : str or Path
        The folder to write (created when missing).
    n_users : int, default 12000
        Registered users to simulate; positive.
    seed : int, default 7
        Random seed: the same arguments give the same files.
    start : datetime.date, default 2025-07-01
        First day of the simulated period.
    months : int, default 12
        Length of the period in months; positive. Its last day is the analysis date.
    chunk_users : int, default 100_000
        Users simulated per chunk (bounds memory); positive. Changes the draws.
    fmt : {"parquet", "csv"}, default "parquet"
        File format of the tables (CSV in UTF-8); truth_users is always Parquet.

    Returns
    -------
    dict
        The ground truth, as written to truth.json.

    Raises
    ------
    ValueError
        For a `fmt` other than parquet or csv, or `n_users`, `chunk_users` or `months` not
        positive.
    """
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"fmt={fmt!r}: use 'parquet' or 'csv'")
    if n_users < 1 or chunk_users < 1 or months < 1:
        raise ValueError("n_users, chunk_users and months must be positive")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name in (*TABLES, "truth_users"):
        for suffix in (".parquet", ".csv"):
            (out / f"{name}{suffix}").unlink(missing_ok=True)
    ctx = _Ctx(start, months)
    sums = _Sums()
    clicks = np.zeros(ctx.n_days * len(CANON) * N_UTM_CAMP, dtype=np.int64)
    writers = _Writers(out, fmt)
    totals: list[np.ndarray] = []
    n_chunks = math.ceil(n_users / chunk_users)
    user_offset = txn_offset = 0
    try:
        for k in range(n_chunks):
            n_c = min(chunk_users, n_users - user_offset)
            tables = _simulate_chunk(k, n_c, user_offset, txn_offset, seed, ctx, sums, clicks)
            for name in ("users", "events", "transactions", "campaign_members"):
                writers.write(name, tables[name])
            writers.write("truth_users", tables["truth_users"], parquet_only=True)
            totals.append(tables["_totals"])
            user_offset += n_c
            txn_offset += tables["_n_txn"]
        costs, spend_ch, clicks_ch = _costs(ctx, clicks, seed)
        writers.write("costs", costs)
        writers.write("campaigns", _campaign_table(ctx))
    finally:
        writers.close()
    (out / "dataset.yml").write_text(
        "# GrowthLoop demo dataset (synthetic; see truth.json for its ground truth)\n"
        f"name: demo\ntimezone: Asia/Shanghai\nanalysis_date: {ctx.end.isoformat()}\n"
        "tables:\n  events:\n    # own events carry a JSON properties column: the keys steps and\n"
        "    # goals may filter on (浏览产品详情's product_type, 风险测评's level)\n"
        "    properties: [product_type, level]\n",
        encoding="utf-8")
    truth = _truth(ctx, sums, np.concatenate(totals), spend_ch, clicks_ch, seed, n_users,
                   chunk_users)
    (out / "truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=2) + "\n",
                                    encoding="utf-8")
    return truth


def _campaign_table(ctx: _Ctx) -> pa.Table:
    starts = [ctx.campaign_day[c.key] + 10 * HOUR for c in _CAMPAIGNS]
    return pa.table({
        "campaign_id": pa.array(ctx.campaign_ids),
        "name": pa.array([c.name for c in _CAMPAIGNS]),
        "channel": pa.array([c.channel for c in _CAMPAIGNS]),
        "start_at": pa.array(ctx.us(np.array(starts)), pa.timestamp("us")),
        "end_at": pa.array(ctx.us(np.array([s + c.window_days for s, c in zip(
            starts, _CAMPAIGNS, strict=True)])), pa.timestamp("us")),
        "goal": pa.array([c.goal for c in _CAMPAIGNS]),
        "window_days": pa.array([c.window_days for c in _CAMPAIGNS], pa.int64()),
        "cost_per_send": pa.array([c.cost_per_send for c in _CAMPAIGNS], pa.float64()),
        "cost_per_reward": pa.array([c.cost_per_reward for c in _CAMPAIGNS], pa.float64()),
        "target_rule": pa.array([c.target_rule for c in _CAMPAIGNS]),
    }, schema=_schema("campaigns"))


def _costs(ctx: _Ctx, clicks: np.ndarray, seed: int):
    rng = np.random.default_rng([seed, 1_000_003])
    nz = np.flatnonzero(clicks)
    day, rest = np.divmod(nz, len(CANON) * N_UTM_CAMP)
    srci, campi = np.divmod(rest, N_UTM_CAMP)
    chi = CANON_CH_ARR[srci]
    cl = clicks[nz]
    spend = np.round(cl * CPC[chi] * np.exp(rng.normal(0, .05, len(nz))), 2)
    impressions = np.round(cl / CTR[chi] * np.exp(rng.normal(0, .1, len(nz)))).astype(np.int64)
    base = np.datetime64(ctx.start, "D").astype(np.int64)
    table = pa.table({
        "date": pa.array((base + day).astype(np.int32), pa.date32()),
        "utm_source": _take(CANON, srci),
        "utm_medium": _take([c.medium for c in _CH], chi),
        "utm_campaign": _take(CAMPAIGNS_UTM, campi),
        "spend": pa.array(spend, pa.float64()),
        "impressions": pa.array(impressions, pa.int64()),
        "clicks": pa.array(cl.astype(np.int64), pa.int64()),
    }, schema=_schema("costs"))
    return (table, np.bincount(chi, weights=spend, minlength=NCH),
            np.bincount(chi, weights=cl, minlength=NCH))


def _ratio(a: float, b: float) -> float | None:
    return float(a / b) if b else None


def _truth(ctx: _Ctx, sums: _Sums, totals: np.ndarray, spend_ch: np.ndarray,
           clicks_ch: np.ndarray, seed: int, n_users: int, chunk_users: int) -> dict:
    def tot(key, what):
        return sum(sums.get((*key, c, what)) for c in range(NCH))

    steps = {name: {"rate": _ratio(tot(("step", i), "sum"), tot(("step", i), "n")),
                    "n": int(tot(("step", i), "n"))} for i, name in enumerate(STEP_NAMES)}
    channels = {}
    for c, spec in enumerate(_CH):
        users = sums.get(("users", c, "sum"))
        retained = sums.get(("retained", c, "sum"))
        has_spend = spec.kind == "paid"
        channels[spec.name] = {
            "kind": spec.kind,
            "sources": [s for s, _ in spec.sources],
            "medium": spec.medium,
            "campaigns": list(spec.campaigns),
            "cpc": spec.cpc,
            "registrations": int(users),
            "steps": {name: {"rate": _ratio(sums.get(("step", i, c, "sum")),
                                            sums.get(("step", i, c, "n"))),
                             "n": int(sums.get(("step", i, c, "n")))}
                      for i, name in enumerate(STEP_NAMES)},
            "p_retained_given_registered": _ratio(retained, users),
            "quality_score": round(100 * retained / users, 2) if users else None,
            "spend": round(float(spend_ch[c]), 2),
            "paid_clicks": int(clicks_ch[c]),
            "expected_retained_investors": round(retained, 2),
            "expected_cost_per_retained_investor": (
                round(float(spend_ch[c]) / retained, 2) if has_spend and retained else None),
            "monthly_churn_hazard": _ratio(sums.get(("hazard", c, "sum")),
                                           sums.get(("hazard", c, "n"))),
            "bonus_hunter_share": _ratio(sums.get(("hunters", c, "sum")), users),
        }
    paid = [name for name, v in channels.items() if v["kind"] == "paid" and v["quality_score"]]
    best = max(paid, key=lambda name: channels[name]["quality_score"]) if paid else None
    n_inv = tot(("investors",), "n")
    surv = [_ratio(tot(("surv", m), "sum"), n_inv) for m in range(13)]
    churn = {
        "monthly_hazard": _ratio(tot(("hazard",), "sum"), tot(("hazard",), "n")),
        "per_channel": {s.name: channels[s.name]["monthly_churn_hazard"] for s in _CH},
        "survival_months": list(range(13)),
        "survival": surv,
        "per_channel_survival": {
            s.name: [_ratio(sums.get(("surv", m, c, "sum")), sums.get(("surv", m, c, "n")))
                     for m in range(13)] for c, s in enumerate(_CH)},
        "bonus_hunter_share_of_investors": _ratio(tot(("investors",), "sum"), n_inv),
    }
    srt = np.sort(totals)[::-1]
    top = int(math.ceil(0.2 * len(srt)))
    value = {"top20_share": float(srt[:top].sum() / srt.sum()) if len(srt) else None,
             "top20_share_expected_range": [0.70, 0.85],
             "investors": int(len(srt)), "total_invested": round(float(srt.sum()), 2)}
    campaigns = {}
    for ci, cam in enumerate(_CAMPAIGNS):
        labels = _segment_labels(cam.segment_column)
        members = sums.get(("camp", ci, "members"))
        treat = sums.get(("camp", ci, "treatment"))
        seg = {}
        for g, label in enumerate(labels):
            nm = sums.get(("camp", ci, "pc", g, "n"))
            if nm:
                seg[label] = {"members": int(nm),
                              "baseline_rate": sums.get(("camp", ci, "pc", g, "sum")) / nm,
                              "true_uplift": sums.get(("camp", ci, "uplift", g, "sum")) / nm}
        pc_sum = sum(sums.get(("camp", ci, "pc", g, "sum")) for g in range(5))
        up_sum = sum(sums.get(("camp", ci, "uplift", g, "sum")) for g in range(5))
        start_t = ctx.campaign_day[cam.key] + 10 * HOUR
        campaigns[ctx.campaign_ids[ci]] = {
            "name": cam.name, "channel": cam.channel, "goal": cam.goal,
            "window_days": cam.window_days,
            "start_at": ctx.stamp(start_t).isoformat(sep=" "),
            "holdout_share": cam.holdout, "delivery_rate": DELIVERY_RATE,
            "target_rule": cam.target_rule, "segment_column": cam.segment_column,
            "members": int(members), "treatment": int(treat), "control": int(members - treat),
            "churned_members": int(sums.get(("camp", ci, "churned"))),
            "baseline_rate": _ratio(pc_sum, members),
            "true_uplift": _ratio(up_sum, members),
            "segments": seg,
        }
    users_total = tot(("users",), "sum")
    return {
        "seed": seed, "n_users": n_users, "chunk_users": chunk_users,
        "period_start": ctx.start.isoformat(), "period_end": ctx.end.isoformat(),
        "analysis_date": ctx.end.isoformat(), "n_days": ctx.n_days,
        "bonus_hunter_share": _ratio(tot(("hunters",), "sum"), users_total),
        "shared_device_users": int(sums.get(("shared",))),
        "definitions": {
            "month": "30 days (hazards and survival)",
            "funnel_window": "step k+1 within 30 days after step k, edges inclusive; rates among "
                             "devices/users that reached step k within the period",
            "retained_investor": "second successful investment within 90 days after the first",
            "quality_score": "100 x P(a registered user becomes a retained investor), "
                             "mean over the channel's users, without campaign effects",
            "expected_cost_per_retained_investor": "channel spend in costs / expected number "
                                                   "of retained investors among its users",
            "campaign_window": "(start_at, start_at + window_days] for treatment and control",
            "true_uplift": "mean over members of p_treated - p_control (goal in the window), "
                           "at the expected delivery rate",
            "churn": "latent: investing and app use stop at first investment + "
                     "Exponential(monthly hazard); bonus hunters churn at once",
        },
        "funnel": {"window_days": CONVERSION_WINDOW, "steps": steps},
        "channels": channels,
        "best_paid_channel": best,
        "retained_investor": {"days": RETAINED_DAYS, "definition":
                              "a user whose second successful investment comes within 90 days "
                              "after the first"},
        "churn": churn,
        "value": value,
        "campaigns": campaigns,
    }


# --------------------------------------------------------------------------- a planned campaign

#: The baseline response probability of a planned campaign's member (`simulate_planned_campaign`):
#: BASE + SLOPE x ln(1 + active days in the PRE_DAYS before the start), within [LOW, HIGH].
PLANNED_BASE, PLANNED_SLOPE, PLANNED_LOW, PLANNED_HIGH, PLANNED_PRE_DAYS = 0.02, 0.04, 0.01, 0.6, 90
#: The investment a simulated response writes: a 活期 deposit (term 0) of the member's own median
#: investment, else this many yuan; revenue at the 活期 margin over 30 days.
PLANNED_AMOUNT = 1000.0


def _read_table(folder: Path, name: str):
    """A contract table of a dataset folder as (pandas frame, format); (None, fmt) when absent."""
    import pandas as pd

    if (folder / f"{name}.parquet").exists():
        return pq.read_table(folder / f"{name}.parquet").to_pandas(), "parquet"
    if (folder / f"{name}.csv").exists():
        return pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False,
                           encoding="utf-8-sig"), "csv"
    fmt = "parquet" if (folder / "users.parquet").exists() else "csv"
    return None, fmt


def _append_rows(folder: Path, name: str, rows) -> None:
    """Append rows (a pandas frame in contract columns) to a table of the folder, in its format."""
    import pandas as pd

    old, fmt = _read_table(folder, name)
    if fmt == "parquet":
        if old is None:
            schema = _schema(name)
        else:
            schema = pq.read_schema(folder / f"{name}.parquet")
            schema = schema.remove_metadata()
        new = rows.reindex(columns=schema.names)
        table = pa.Table.from_pandas(new, schema=schema, preserve_index=False)
        if old is not None:
            table = pa.concat_tables([pq.read_table(folder / f"{name}.parquet").cast(schema), table])
        pq.write_table(table, folder / f"{name}.parquet", compression="zstd")
        return
    text = rows.copy()
    for col in text.columns:
        if pd.api.types.is_datetime64_any_dtype(text[col]):
            text[col] = text[col].dt.strftime("%Y-%m-%d %H:%M:%S")
        elif pd.api.types.is_bool_dtype(text[col]) or text[col].map(type).eq(bool).any():
            text[col] = text[col].map(lambda v: "" if v is None else str(bool(v)).lower())
    columns = list(old.columns) if old is not None else list(rows.columns)
    text = text.reindex(columns=columns)
    path = folder / f"{name}.csv"
    if old is None:
        text.to_csv(path, index=False, encoding="utf-8")
    else:
        with path.open("a", encoding="utf-8", newline="") as fh:
            text.to_csv(fh, index=False, header=False)


def simulate_planned_campaign(dataset_folder: str | Path, campaign_csv: str | Path,
                              members_csv: str | Path, uplift: float, seed: int = 7) -> dict:
    """Send a planned campaign package in the demo world and write what its members did.

    The round trip of the book's next campaign (`growthloop.metrics.plan`): the package's
    campaign row and members are appended to the dataset's `campaigns` and `campaign_members`
    (the treatment group sent and delivered at start_at, the holdout without sent_at), and each
    member's goal is simulated in the window (start_at, start_at + window_days]:

    * baseline probability p0 from the member's own history, as simple as that:
      PLANNED_BASE + PLANNED_SLOPE x ln(1 + days with an event or an investment in the
      PLANNED_PRE_DAYS days before start_at), within [PLANNED_LOW, PLANNED_HIGH];
    * a treated member responds with probability min(p0 + `uplift`, 1), a held-out one with p0
      (the planted uplift; every send is delivered, so it is also the intention-to-treat
      uplift);
    * a response is written at a uniform time inside the window: the goal's event (bind_card,
      or any event goal by its name), or for an investment goal a successful 活期 investment of
      the member's median amount (PLANNED_AMOUNT without one). A first_investment response of
      a member who has invested before is still written, and the review rightly does not count
      it: plan such a goal for people who have not invested.

    dataset.yml's analysis_date moves to the window's last day (when it was earlier) so that a
    review sees the whole window, and truth.json, when present, gets the campaign under
    `campaigns` (the other truths stay those of the original period).

    Parameters
    ----------
    dataset_folder : str or Path
        A dataset folder (the demo's, Parquet or CSV), changed in place.
    campaign_csv : str or Path
        The package's campaign.csv (one row in the campaigns contract's columns).
    members_csv : str or Path
        The package's members.csv (campaign_id, user_id, group).
    uplift : float
        The planted absolute uplift, between 0 and 1.
    seed : int, default 7
        Random seed of the responses.

    Returns
    -------
    dict
        The planted truth: campaign_id, goal, window_days, start_at, analysis_date (the new
        one), members, treatment, control, uplift (planted), baseline_rate (mean p0 over the
        members), true_uplift (mean over the members of min(p0 + uplift, 1) - p0),
        responders_t and responders_c (simulated).

    Raises
    ------
    ValueError
        An uplift outside [0, 1), a campaign file without exactly one row, members of another
        campaign, a register goal (members have signed up already), or a campaign_id already
        in the dataset.
    """
    import pandas as pd

    if not 0 <= uplift < 1:
        raise ValueError(f"uplift: {uplift!r}; allowed: an absolute uplift in [0, 1)")
    folder = Path(dataset_folder)
    camp = pd.read_csv(campaign_csv, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    if len(camp) != 1:
        raise ValueError(f"campaign_csv: {len(camp)} rows; a package has one campaign")
    row = camp.iloc[0]
    cid, goal = str(row.campaign_id), str(row.goal)
    if goal == "register":
        raise ValueError("goal register: the members have signed up already; plan another goal")
    members = pd.read_csv(members_csv, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    if set(members.campaign_id) - {cid}:
        raise ValueError(f"members_csv: members of {sorted(set(members.campaign_id) - {cid})}, "
                         f"not of {cid}")
    existing, _fmt = _read_table(folder, "campaigns")
    if existing is not None and cid in set(existing.campaign_id.astype(str)):
        raise ValueError(f"campaign_id {cid} is already in {folder}: simulate a package once")
    members = members.sort_values("user_id").reset_index(drop=True)
    start = pd.Timestamp(row.start_at)
    window = int(float(row.window_days))
    pre = start - pd.Timedelta(days=PLANNED_PRE_DAYS)
    ids = set(members.user_id)

    events, _ = _read_table(folder, "events")
    txns, _ = _read_table(folder, "transactions")
    ev = events[events.user_id.isin(ids)].copy()
    ev["t"] = pd.to_datetime(ev.event_time)
    tx = txns[txns.user_id.isin(ids)].copy()
    tx["t"] = pd.to_datetime(tx.txn_time)
    tx["amount"] = tx.amount.astype(float)
    tx = tx[tx.status.astype(str).str.lower().isin(["success", ""])]
    days = pd.concat([ev.loc[(ev.t >= pre) & (ev.t < start), ["user_id", "t"]],
                      tx.loc[(tx.t >= pre) & (tx.t < start), ["user_id", "t"]]])
    active = days.assign(d=days.t.dt.date).groupby("user_id").d.nunique()
    a = members.user_id.map(active).fillna(0).to_numpy(dtype=float)
    p0 = np.clip(PLANNED_BASE + PLANNED_SLOPE * np.log1p(a), PLANNED_LOW, PLANNED_HIGH)
    treated = (members.group == "treatment").to_numpy()
    p = np.minimum(p0 + uplift * treated, 1.0)
    rng = np.random.default_rng([seed, 7_770_001])
    hit = rng.random(len(members)) < p
    offset = (0.02 + 0.96 * rng.random(len(members))) * window * 86400.0
    when = (start + pd.to_timedelta(np.floor(offset), unit="s"))[hit]
    who = members.user_id[hit].tolist()

    if goal in ("first_investment", "any_investment", "amount"):
        median = tx[tx.t < start].groupby("user_id").amount.median()
        amount = np.array([float(median.get(u, PLANNED_AMOUNT)) for u in who])
        _append_rows(folder, "transactions", pd.DataFrame({
            "txn_id": [f"{cid}-T{i:06d}" for i in range(len(who))], "user_id": who,
            "txn_time": pd.to_datetime(when), "amount": amount, "product_type": "活期",
            "term_days": np.zeros(len(who), dtype=np.int64), "status": "success",
            "revenue": np.round(amount * PRODUCTS[0][2] * 30 / 365, 2)}))
    else:
        anon = events[(events.event_name == "register") & events.user_id.isin(ids)]
        anon = anon.drop_duplicates("user_id").set_index("user_id").anonymous_id
        _append_rows(folder, "events", pd.DataFrame({
            "event_time": pd.to_datetime(when), "event_name": goal, "user_id": who,
            "anonymous_id": [anon.get(u) for u in who]}))
    end_at = start + pd.Timedelta(days=window)
    _append_rows(folder, "campaigns", pd.DataFrame([{
        "campaign_id": cid, "name": row.get("name", ""), "channel": row.get("channel", ""),
        "start_at": start, "end_at": end_at, "goal": goal, "window_days": window,
        "cost_per_send": float(row.cost_per_send) if row.get("cost_per_send", "") else None,
        "cost_per_reward": float(row.cost_per_reward) if row.get("cost_per_reward", "") else None,
        "target_rule": row.get("target_rule", "")}]).astype({"start_at": "datetime64[us]",
                                                              "end_at": "datetime64[us]"}))
    _append_rows(folder, "campaign_members", pd.DataFrame({
        "campaign_id": cid, "user_id": members.user_id,
        "group": members.group,
        "sent_at": pd.Series([start if t else pd.NaT for t in treated], dtype="datetime64[us]"),
        "delivered": pd.Series([True if t else None for t in treated], dtype=object),
        "clicked_at": pd.Series([pd.NaT] * len(members), dtype="datetime64[us]")}))

    last_day = (end_at - pd.Timedelta(microseconds=1)).date()  # the window's last instant's day
    yml = folder / "dataset.yml"
    analysis = last_day
    if yml.exists():
        text = yml.read_text(encoding="utf-8")
        found = re.search(r"^analysis_date:\s*['\"]?(\d{4}-\d{2}-\d{2})", text, re.M)
        if found and date.fromisoformat(found.group(1)) >= last_day:
            analysis = date.fromisoformat(found.group(1))
        elif found:
            text = text[:found.start()] + f"analysis_date: {last_day.isoformat()}" + \
                text[found.end():]
        else:
            text = text.rstrip("\n") + f"\nanalysis_date: {last_day.isoformat()}\n"
        yml.write_text(text, encoding="utf-8")
    else:
        yml.write_text(f"analysis_date: {last_day.isoformat()}\n", encoding="utf-8")
    truth = {"campaign_id": cid, "goal": goal, "window_days": window,
             "start_at": start.isoformat(sep=" "), "analysis_date": analysis.isoformat(),
             "members": int(len(members)), "treatment": int(treated.sum()),
             "control": int((~treated).sum()), "uplift": float(uplift),
             "baseline_rate": float(p0.mean()) if len(p0) else float("nan"),
             "true_uplift": float((np.minimum(p0 + uplift, 1.0) - p0).mean()) if len(p0)
             else float("nan"),
             "responders_t": int((hit & treated).sum()), "responders_c": int((hit & ~treated).sum())}
    path = folder / "truth.json"
    if path.exists():
        full = json.loads(path.read_text(encoding="utf-8"))
        full.setdefault("campaigns", {})[cid] = {**truth, "planned": True}
        path.write_text(json.dumps(full, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return truth

"""Synthetic internet-finance platform: the demo dataset and its ground truth.

`generate_dataset(out, n_users, seed)` writes the six contract tables, a dataset.yml,
`truth.json` and `truth_users.parquet` (each user's latent truths, for tests only; the loader
ignores it). Users are simulated chunk by chunk with vectorised numpy and appended with
pyarrow writers, so ten million users fit in bounded memory. The same (n_users, seed,
chunk_users) always gives the same files.

The model, per acquisition channel c (10 channels, contract.DEFAULT_CHANNELS):
- visitors click (ad_click for paid, link_click otherwise); a clicker installs with p_install[c];
  an installer registers with p_register[c]. Registrants are drawn first (exactly n_users) and
  the visitors who did not convert are negative-binomial counts of failures, so the realised
  rates are unbiased draws of the true ones.
- a registrant may have earlier assisting touches from other channels on the same device
  (anonymous_id), the register event links device and user; about 1% share a device.
- registered -> kyc_verified (p_kyc[c]) -> bind_card (p_card[c]) -> first investment
  (p_invest[c]); each step within 30 days of the previous one. 65% of binders bind within 24 h.
- bonus hunters (羊毛党, bonus_share[c]) claim the new-user coupon, invest once in a short
  product and never come back.
- other investors invest again as a Poisson process with rate lambda_i until a latent churn
  time (monthly hazard churn[c]); amounts are heavy-tailed (lognormal user value).
- four campaigns with a random holdout; treatment raises the goal probability in the window by
  a true uplift that differs by segment (age band or city tier).

truth.json keys:
- seed, n_users, period_start, period_end, analysis_date, chunk_users
- channels: {name: {quality, cpc, p_install, p_register, p_kyc, p_card, p_invest, bonus_share,
  monthly_churn, repeat_rate_per_month, expected_cost_per_retained_investor}} where quality =
  retained investors per registration and a retained investor invests again within 90 days of
  the first investment.
- funnel: {"transition": {"true_rate", "at_risk"}} for ad_click->app_install,
  app_install->register, register->kyc_verified, kyc_verified->bind_card,
  bind_card->first_investment, first_investment->second_investment; true_rate is the mean of
  the at-risk users' true probabilities (the realised channel mix), for users whose 30-day
  window ended before the analysis date. second_investment: within 30 days.
- funnel_window_days: 30 (each step within 30 days of the previous one).
- churn: {"monthly_hazard": overall (weighted by investors), "by_channel": {...},
  "definition": ...}
- bonus_hunter_share, top20_aum_share_expected (the realised share of invest_amount held by the
  top 20% of investors)
- campaigns: {campaign_id: {name, goal, window_days, segment_column, baseline_rate, true_uplift,
  members, segments: {value: {true_uplift, members}}}}; true_uplift is the mean over the
  campaign's members of p_treated - p_control for the goal in the window.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from growthloop.contract import AGE_BANDS, TABLES
from growthloop.geo import CITY_TIER, tier_of

DAY = np.timedelta64(1, "D")


@dataclass(frozen=True)
class ChannelModel:
    name: str
    source: str
    medium: str
    kind: str
    share: float
    cpc: float
    p_install: float
    p_register: float
    p_kyc: float
    p_card: float
    p_invest: float
    bonus_share: float
    monthly_churn: float
    repeat_per_month: float
    value_scale: float
    campaigns: tuple[str, ...]


CHANNELS: tuple[ChannelModel, ...] = (
    ChannelModel("百度搜索", "baidu", "cpc", "paid", 0.16, 2.2, 0.55, 0.50, 0.80, 0.75, 0.62, 0.02, 0.05, 1.00, 1.4, ("品牌词", "理财关键词")),
    ChannelModel("自然搜索", "seo", "organic", "organic", 0.07, 0.0, 0.45, 0.45, 0.72, 0.66, 0.52, 0.02, 0.07, 0.85, 1.1, ("seo",)),
    ChannelModel("应用商店", "huawei", "app_store", "paid", 0.14, 2.6, 0.70, 0.40, 0.70, 0.62, 0.45, 0.05, 0.08, 0.80, 1.0, ("应用商店推广",)),
    ChannelModel("信息流广告", "toutiao", "feed", "paid", 0.15, 1.6, 0.30, 0.35, 0.60, 0.55, 0.38, 0.08, 0.11, 0.65, 0.8, ("618理财节", "新手福利")),
    ChannelModel("DSP", "dsp", "display", "paid", 0.09, 1.2, 0.20, 0.30, 0.50, 0.45, 0.30, 0.15, 0.14, 0.50, 0.6, ("程序化投放",)),
    ChannelModel("微信KOL", "wechat_kol", "kol", "paid", 0.07, 3.5, 0.40, 0.45, 0.70, 0.62, 0.48, 0.04, 0.08, 0.80, 1.2, ("理财大V合作",)),
    ChannelModel("朋友圈广告", "wechat_moments", "social", "paid", 0.09, 2.0, 0.35, 0.40, 0.62, 0.55, 0.40, 0.06, 0.10, 0.70, 0.9, ("朋友圈新客",)),
    ChannelModel("CPA联盟", "cpa_network", "cpa", "paid", 0.11, 3.0, 0.60, 0.60, 0.55, 0.55, 0.55, 0.30, 0.15, 0.45, 0.5, ("注册CPA",)),
    ChannelModel("BD合作", "bd_partner", "bd", "paid", 0.05, 2.8, 0.50, 0.50, 0.68, 0.60, 0.45, 0.06, 0.09, 0.75, 1.1, ("银行联名",)),
    ChannelModel("老带新", "referral", "invite", "referral", 0.07, 0.0, 0.65, 0.60, 0.78, 0.72, 0.60, 0.05, 0.06, 0.95, 1.2, ("邀请好友",)),
)

PROVINCES: tuple[tuple[str, float, tuple[str, ...]], ...] = (
    ("广东", 0.14, ("深圳", "广州", "东莞", "佛山", "惠州", "汕头", "湛江", "茂名")),
    ("浙江", 0.09, ("杭州", "宁波", "温州", "金华", "嘉兴", "台州", "丽水")),
    ("江苏", 0.09, ("南京", "苏州", "无锡", "常州", "南通", "徐州", "宿迁")),
    ("上海", 0.06, ("上海",)),
    ("北京", 0.06, ("北京",)),
    ("山东", 0.07, ("青岛", "济南", "烟台", "潍坊", "临沂", "聊城")),
    ("四川", 0.06, ("成都", "绵阳", "南充", "宜宾")),
    ("河南", 0.06, ("郑州", "洛阳", "南阳", "周口")),
    ("湖北", 0.05, ("武汉", "宜昌", "襄阳", "荆州")),
    ("福建", 0.05, ("厦门", "福州", "泉州", "莆田")),
    ("湖南", 0.04, ("长沙", "岳阳", "衡阳")),
    ("安徽", 0.04, ("合肥", "芜湖", "阜阳")),
    ("河北", 0.04, ("石家庄", "保定", "唐山", "邯郸")),
    ("陕西", 0.03, ("西安", "宝鸡")),
    ("重庆", 0.03, ("重庆",)),
    ("辽宁", 0.03, ("沈阳", "大连", "锦州")),
    ("云南", 0.02, ("昆明", "曲靖")),
    ("广西", 0.02, ("南宁", "桂林", "柳州")),
    ("天津", 0.02, ("天津",)),
)

# (label, lowest age, highest age, share of sign-ups): about a third 18-24, a third 45-55.
AGE_MIX = (("18-24", 18, 24, 0.33), ("25-34", 25, 34, 0.17), ("35-44", 35, 44, 0.12),
           ("45-55", 45, 55, 0.32), ("56+", 56, 65, 0.06))
PRODUCTS = (("活期", 0, 0.25, 0.010), ("定期1月", 30, 0.25, 0.015), ("定期3月", 90, 0.22, 0.020),
            ("定期6月", 180, 0.16, 0.022), ("定期12月", 365, 0.12, 0.025))

WINDOW_DAYS = 30
RETAIN_DAYS = 90


@dataclass(frozen=True)
class CampaignModel:
    campaign_id: str
    name: str
    channel: str
    start_day: int  # days after the period start
    duration_days: int
    goal: str
    window_days: int
    cost_per_send: float
    cost_per_reward: float
    target_rule: str
    segment_column: str
    uplift: dict[str, float]
    holdout: float


CAMPAIGNS: tuple[CampaignModel, ...] = (
    CampaignModel("C2025_01", "注册24小时未绑卡短信提醒", "sms", 60, 60, "bind_card", 7, 0.05, 0.0,
                  "注册满24小时仍未绑卡的用户", "age_band",
                  {"18-24": 0.16, "25-34": 0.10, "35-44": 0.06, "45-55": 0.03, "56+": 0.02}, 0.2),
    CampaignModel("C2025_02", "新手礼包到期提醒", "push", 120, 60, "first_investment", 7, 0.01, 8.0,
                  "已绑卡、3天内未投资、新手礼包将到期的用户", "city_tier",
                  {"一线": 0.04, "新一线": 0.06, "二线": 0.10, "三线": 0.14, "四线及以下": 0.16}, 0.2),
    CampaignModel("C2026_03", "沉睡用户现金券唤醒", "sms", 220, 1, "any_investment", 14, 0.05, 10.0,
                  "60天以上未投资的投资用户", "age_band",
                  {"18-24": 0.03, "25-34": 0.05, "35-44": 0.08, "45-55": 0.14, "56+": 0.10}, 0.15),
    CampaignModel("C2026_04", "复投加息券", "push", 300, 1, "any_investment", 14, 0.01, 15.0,
                  "累计投资不足5万元的活跃投资用户", "city_tier",
                  {"一线": 0.03, "新一线": 0.05, "二线": 0.08, "三线": 0.12, "四线及以下": 0.15}, 0.15),
)


def _ts(base: np.datetime64, days: np.ndarray) -> np.ndarray:
    """base + fractional days, to the second."""
    return base + (np.asarray(days) * 86400).astype("int64").astype("timedelta64[s]")


class _Writers:
    """One append-only writer per table (Parquet, or CSV with a header once)."""

    def __init__(self, out: Path, fmt: str):
        self.out, self.fmt, self.parquet = out, fmt, {}

    def write(self, name: str, frame: pd.DataFrame) -> None:
        frame = frame[TABLES[name].column_names] if name in TABLES else frame
        if self.fmt == "csv":
            path = self.out / f"{name}.csv"
            frame.to_csv(path, mode="a", header=not path.exists(), index=False)
            return
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if name not in self.parquet:
            self.parquet[name] = pq.ParquetWriter(self.out / f"{name}.parquet", table.schema)
        self.parquet[name].write_table(table.cast(self.parquet[name].schema))

    def close(self) -> None:
        for writer in self.parquet.values():
            writer.close()


def _schema_frame(name: str, data: dict) -> pd.DataFrame:
    frame = pd.DataFrame(data)
    for col in TABLES[name].columns:
        if col.name not in frame:
            frame[col.name] = None
        if col.dtype == "string":
            frame[col.name] = frame[col.name].astype("object")
        elif col.dtype == "timestamp":
            frame[col.name] = pd.to_datetime(frame[col.name]).astype("datetime64[us]")
        elif col.dtype == "float64":
            frame[col.name] = frame[col.name].astype("float64")
        elif col.dtype == "int64":
            frame[col.name] = frame[col.name].astype("int64")
        elif col.dtype == "boolean":
            frame[col.name] = frame[col.name].astype("bool")
    return frame[TABLES[name].column_names]


def _p_card_in_window(p: np.ndarray, window: float) -> np.ndarray:
    """P(a user not bound 24 h after sign-up binds in the next `window` days), from the model."""
    late = p * 0.35 * (1 - np.exp(-np.minimum(window, WINDOW_DAYS - 1) / 4.0))
    return late / (1 - p * 0.65)


class _Chunk:
    """Simulate one chunk of users; vectorised, seeded from (seed, chunk index)."""

    def __init__(self, idx: int, first_user: int, n: int, seed: int, start: np.datetime64,
                 days: int, analysis_end: np.datetime64, clicks: dict):
        self.rng = np.random.default_rng([seed, idx])
        self.clicks = clicks  # (day, channel, campaign) -> clicks, shared across chunks
        self.idx, self.first, self.n, self.start, self.days = idx, first_user, n, start, days
        self.end = analysis_end

    def run(self) -> dict:
        rng, n = self.rng, self.n
        ch_share = np.array([c.share for c in CHANNELS])
        ch = rng.choice(len(CHANNELS), size=n, p=ch_share / ch_share.sum())
        self.ch = ch
        # sign-ups grow over the year: density proportional to 1 + t (t in [0, 1]), inverted
        reg_day = self.days * (np.sqrt(1 + 3 * rng.random(n)) - 1)
        reg_day = np.floor(np.clip(reg_day, 0, self.days - 1)) + rng.uniform(7 / 24, 23.5 / 24, n)
        reg_day = np.sort(reg_day)
        uid = np.array([f"U{self.first + i:08d}" for i in range(n)], dtype=object)
        anon = np.array([f"A{self.idx:04x}{i:08x}" for i in range(n)], dtype=object)
        shared = rng.random(n) < 0.01
        shared[0] = False
        anon[shared] = anon[np.flatnonzero(shared) - 1]
        reg_ts = _ts(self.start, reg_day)

        P = {k: np.array([getattr(c, k) for c in CHANNELS])[ch] for k in
             ("p_install", "p_register", "p_kyc", "p_card", "p_invest", "bonus_share",
              "monthly_churn", "repeat_per_month", "value_scale", "cpc")}
        # demographics
        ages = np.array([(lo, hi) for _, lo, hi, _ in AGE_MIX])
        band = rng.choice(len(AGE_MIX), size=n, p=[s for *_, s in AGE_MIX])
        age = rng.integers(ages[band, 0], ages[band, 1] + 1)
        birth_year = (int(str(self.end)[:4]) - age).astype("int64")
        gender = np.where(rng.random(n) < 0.6, "男", "女").astype(object)
        prov_w = np.array([w for _, w, _ in PROVINCES])
        prov = rng.choice(len(PROVINCES), size=n, p=prov_w / prov_w.sum())
        city = np.array([PROVINCES[p][2][rng.integers(len(PROVINCES[p][2]))] for p in prov], dtype=object)
        province = np.array([PROVINCES[p][0] for p in prov], dtype=object)
        tier = np.array([tier_of(c) for c in city], dtype=object)
        device = rng.choice(np.array(["iOS", "Android", "其他"], dtype=object), size=n, p=[0.35, 0.63, 0.02])
        age_band = np.array([AGE_MIX[b][0] for b in band], dtype=object)

        # funnel after sign-up
        kyc = rng.random(n) < P["p_kyc"]
        card = kyc & (rng.random(n) < P["p_card"])
        invest = card & (rng.random(n) < P["p_invest"])
        kyc_d = np.minimum(rng.exponential(0.25, n), 3.0)
        fast = rng.random(n) < 0.65
        card_d = np.where(fast, rng.uniform(0.0, 0.99, n), 1.0 + np.minimum(rng.exponential(4.0, n), WINDOW_DAYS - 2))
        inv_d = np.minimum(rng.exponential(3.0, n), WINDOW_DAYS - 1)
        kyc_day = reg_day + kyc_d
        card_day = kyc_day + card_d
        inv_day = card_day + inv_d
        bonus = invest & (rng.random(n) < P["bonus_share"])

        # investors' value and life
        # older users hold more: the 18-24 band invests small tickets, 45-55 the most
        age_value = np.array([0.35, 0.8, 1.2, 1.7, 1.4])[band]
        value = np.exp(rng.normal(np.log(8000), 1.35, n)) * P["value_scale"] * age_value
        churn_rate = -np.log(1 - P["monthly_churn"]) / 30.0
        life = rng.exponential(1 / churn_rate)
        life[bonus] = 0.5
        churn_day = np.where(invest, inv_day + life, reg_day + rng.exponential(20.0, n))
        lam = P["repeat_per_month"] / 30.0 * np.exp(rng.normal(0, 0.4, n))

        campaign_rows, extra_card, extra_inv, forced = self._campaigns(
            uid, reg_day, kyc, card, card_day, invest, inv_day, bonus, churn_day, lam, age_band, tier, value)
        # campaign-induced milestones
        p_invest_now = P["p_invest"].copy()
        for i, day in extra_card.items():
            card[i], card_day[i] = True, day
            p_invest_now[i] = P["p_invest"][i] * 0.5
            if not invest[i] and self.rng.random() < P["p_invest"][i] * 0.5:
                invest[i], inv_day[i] = True, day + min(self.rng.exponential(3.0), WINDOW_DAYS - 1)
                churn_day[i] = inv_day[i] + life[i]
        for i, day in extra_inv.items():
            if not invest[i]:
                invest[i], inv_day[i] = True, day
                churn_day[i] = day + life[i]

        self.users = _schema_frame("users", {
            "user_id": uid, "registered_at": reg_ts, "birth_year": birth_year, "gender": gender,
            "province": province, "city": city, "city_tier": tier, "device_os": device,
            "utm_source": self._source_values(ch), "utm_medium": np.array([CHANNELS[c].medium for c in ch], dtype=object),
            "utm_campaign": np.array([CHANNELS[c].campaigns[0] for c in ch], dtype=object),
            "inviter_id": self._inviters(uid, ch),
        })
        events = [self._touches(ch, anon, reg_day, P)]
        events.append(self._milestones(uid, anon, reg_day, kyc, kyc_day, card, card_day, bonus))
        txns, inv_days_all = self._investments(uid, invest, inv_day, bonus, value, lam, churn_day, forced)
        events.append(self._activity(uid, anon, reg_day, churn_day, invest))
        events.append(campaign_rows.pop("events"))
        ev = pd.concat(events, ignore_index=True)
        ev = ev[ev.event_time < self.end]
        self.events = _schema_frame("events", ev.sort_values(["event_time", "anonymous_id", "event_name"], kind="mergesort"))
        txns = txns[txns.txn_time < self.end]
        self.transactions = _schema_frame("transactions", txns)
        self.members = campaign_rows["members"]
        self.truth_users = pd.DataFrame({
            "user_id": uid, "channel": [CHANNELS[c].name for c in ch], "bonus_hunter": bonus,
            "value": value, "repeat_rate_per_day": lam, "churn_at": _ts(self.start, churn_day),
            "investor": invest, "age_band": age_band, "city_tier": tier,
        })
        P = P | {"p_card_now": P["p_card"] + self.card_gain,
                 "p_invest_now": p_invest_now + self.invest_gain}
        self.stats = self._funnel_stats(ch, reg_day, kyc, kyc_day, card, card_day, invest, inv_day, inv_days_all, P)
        return campaign_rows["truth"]

    def _source_values(self, ch: np.ndarray) -> np.ndarray:
        src = np.array([CHANNELS[c].source for c in ch], dtype=object)
        r = self.rng.random(len(ch))
        src[(src == "baidu") & (r < 0.1)] = "Baidu "
        src[(src == "baidu") & (r > 0.95)] = "BAIDU"
        return src

    def _inviters(self, uid: np.ndarray, ch: np.ndarray) -> np.ndarray:
        inviter = np.full(len(uid), None, dtype=object)
        ref = np.flatnonzero(ch == next(i for i, c in enumerate(CHANNELS) if c.kind == "referral"))
        ref = ref[ref > 0]
        inviter[ref] = uid[(self.rng.random(len(ref)) * ref).astype(int)]
        return inviter

    def _touches(self, ch, anon, reg_day, P) -> pd.DataFrame:
        """Clicks and installs of registrants (with assisting touches) and of visitors who left."""
        rng, rows = self.rng, []
        n = len(ch)
        install_day = reg_day - np.minimum(rng.exponential(0.05, n), 0.9)
        click_day = install_day - np.minimum(rng.exponential(0.3, n), 5.0)
        rows.append(self._click_frame(ch, anon, click_day))
        rows.append(pd.DataFrame({"event_time": _ts(self.start, install_day), "event_name": "app_install",
                                  "user_id": None, "anonymous_id": anon}))
        # assisting touches from other channels, before the last click
        n_assist = rng.poisson(0.7, n)
        idx = np.repeat(np.arange(n), n_assist)
        if len(idx):
            share = np.array([c.share for c in CHANNELS])
            other = rng.choice(len(CHANNELS), size=len(idx), p=share / share.sum())
            when = click_day[idx] - rng.uniform(0.2, 14.0, len(idx))
            rows.append(self._click_frame(other, anon[idx], when))
        # visitors who did not install, and installers who did not register (negative binomial)
        for c, model in enumerate(CHANNELS):
            regs = int((ch == c).sum())
            if regs == 0:
                continue
            lost_installers = rng.negative_binomial(regs, model.p_register)
            installers = regs + lost_installers
            lost_clickers = rng.negative_binomial(installers, model.p_install)
            k = lost_installers + lost_clickers
            if k == 0:
                continue
            day = rng.uniform(0, self.days, k)
            vanon = np.array([f"V{self.idx:04x}{c:02d}{j:08x}" for j in range(k)], dtype=object)
            rows.append(self._click_frame(np.full(k, c), vanon, day))
            inst = np.arange(k) < lost_installers
            rows.append(pd.DataFrame({"event_time": _ts(self.start, day[inst] + rng.uniform(0.001, 0.05, inst.sum())),
                                      "event_name": "app_install", "user_id": None, "anonymous_id": vanon[inst]}))
        return pd.concat(rows, ignore_index=True)

    def _click_frame(self, ch: np.ndarray, anon: np.ndarray, day: np.ndarray) -> pd.DataFrame:
        rng = self.rng
        kinds = np.array([CHANNELS[c].kind for c in ch], dtype=object)
        src = self._source_values(ch)
        untagged = rng.random(len(ch)) < 0.02
        src[untagged] = None
        camp_choice = rng.random(len(ch))
        camp = np.array([CHANNELS[c].campaigns[int(x * len(CHANNELS[c].campaigns))] for c, x in zip(ch, camp_choice, strict=True)], dtype=object)
        encoded = rng.random(len(ch)) < 0.1
        camp[encoded] = [quote(v) for v in camp[encoded]]
        camp[untagged] = None
        medium = np.array([CHANNELS[c].medium for c in ch], dtype=object)
        medium[untagged] = None
        self._record_clicks(ch[~untagged], day[~untagged], camp_choice[~untagged])
        return pd.DataFrame({
            "event_time": _ts(self.start, day), "event_name": np.where(kinds == "paid", "ad_click", "link_click"),
            "user_id": None, "anonymous_id": anon, "utm_source": src, "utm_medium": medium,
            "utm_campaign": camp,
        })

    def _record_clicks(self, ch, day, camp_choice) -> None:
        d = np.floor(day).astype(int)
        ok = (d >= 0) & (d < self.days)
        for c, dd, x in zip(ch[ok], d[ok], camp_choice[ok], strict=True):
            j = int(x * len(CHANNELS[c].campaigns))
            self.clicks[(int(dd), int(c), j)] = self.clicks.get((int(dd), int(c), j), 0) + 1

    def _milestones(self, uid, anon, reg_day, kyc, kyc_day, card, card_day, bonus) -> pd.DataFrame:
        frames = [pd.DataFrame({"event_time": _ts(self.start, reg_day), "event_name": "register",
                                "user_id": uid, "anonymous_id": anon})]
        for name, mask, day in (("kyc_verified", kyc, kyc_day), ("bind_card", card, card_day)):
            frames.append(pd.DataFrame({"event_time": _ts(self.start, day[mask]), "event_name": name,
                                        "user_id": uid[mask], "anonymous_id": anon[mask]}))
        coupon = bonus | (self.rng.random(len(uid)) < 0.2)
        frames.append(pd.DataFrame({"event_time": _ts(self.start, reg_day[coupon] + 0.01), "event_name": "coupon_claim",
                                    "user_id": uid[coupon], "anonymous_id": anon[coupon]}))
        return pd.concat(frames, ignore_index=True)

    def _activity(self, uid, anon, reg_day, churn_day, invest) -> pd.DataFrame:
        """app_open about 3 times a month while active (investors) or for a few weeks (others)."""
        rng = self.rng
        active_days = np.clip(np.minimum(churn_day, self.days) - reg_day, 0, None)
        rate = np.where(invest, 3.0 / 30, 1.5 / 30)
        counts = rng.poisson(active_days * rate)
        idx = np.repeat(np.arange(len(uid)), counts)
        day = reg_day[idx] + rng.random(len(idx)) * active_days[idx]
        opens = pd.DataFrame({"event_time": _ts(self.start, day), "event_name": "app_open",
                              "user_id": uid[idx], "anonymous_id": anon[idx]})
        sharers = invest & (rng.random(len(uid)) < 0.1)
        share = pd.DataFrame({"event_time": _ts(self.start, reg_day[sharers] + 2.5), "event_name": "share",
                              "user_id": uid[sharers], "anonymous_id": anon[sharers]})
        return pd.concat([opens, share], ignore_index=True)

    def _investments(self, uid, invest, inv_day, bonus, value, lam, churn_day, forced):
        rng = self.rng
        inv_idx = np.flatnonzero(invest)
        horizon = np.minimum(churn_day[inv_idx], self.days) - inv_day[inv_idx]
        horizon = np.clip(horizon, 0, None)
        n_repeat = np.where(bonus[inv_idx], 0, rng.poisson(lam[inv_idx] * horizon))
        rep_idx = np.repeat(inv_idx, n_repeat)
        rep_day = inv_day[rep_idx] + rng.random(len(rep_idx)) * np.repeat(horizon, n_repeat)
        f_idx = np.array([i for i, _ in forced], dtype=int)
        f_day = np.array([d for _, d in forced], dtype=float)
        user = np.concatenate([inv_idx, rep_idx, f_idx])
        day = np.concatenate([inv_day[inv_idx], rep_day, f_day])
        first = np.concatenate([np.ones(len(inv_idx), bool), np.zeros(len(rep_idx) + len(f_idx), bool)])
        order = np.lexsort((day, user))
        user, day, first = user[order], day[order], first[order]
        k = len(user)
        prod_p = np.array([p for _, _, p, _ in PRODUCTS])
        prod = rng.choice(len(PRODUCTS), size=k, p=prod_p / prod_p.sum())
        prod[bonus[user]] = 1
        amount = np.round(value[user] * np.exp(rng.normal(0, 0.5, k)), -2).clip(100, None)
        amount[bonus[user]] = 1000.0
        term = np.array([PRODUCTS[p][1] for p in prod], dtype="int64")
        margin = np.array([PRODUCTS[p][3] for p in prod])
        revenue = np.round(amount * margin * np.maximum(term, 30) / 365.0, 2)
        failed = rng.random(k) < 0.015
        txn_id = np.array([f"T{self.idx:04d}{j:08d}" for j in range(k)], dtype=object)
        frame = pd.DataFrame({
            "txn_id": txn_id, "user_id": uid[user], "txn_time": _ts(self.start, day),
            "amount": amount.astype(float), "product_type": [PRODUCTS[p][0] for p in prod],
            "term_days": term, "status": "success", "revenue": revenue,
        })
        fails = frame[failed].copy()
        fails["txn_id"] = [f"F{self.idx:04d}{j:08d}" for j in range(len(fails))]
        fails["status"] = "failed"
        fails["txn_time"] = fails["txn_time"] - pd.Timedelta(minutes=3)
        frame = pd.concat([frame, fails], ignore_index=True).sort_values(["txn_time", "txn_id"], kind="mergesort")
        # days of every successful investment per user, for the funnel truth (2nd within 30 days)
        return frame, (user, day)

    def _campaigns(self, uid, reg_day, kyc, card, card_day, invest, inv_day, bonus, churn_day, lam,
                   age_band, tier, value):
        rng = self.rng
        members, events, truth = [], [], {}
        extra_card, extra_inv, forced = {}, {}, []
        # the campaigns' expected effect on each user's funnel probabilities, for the truth
        self.card_gain = np.zeros(len(uid))
        self.invest_gain = np.zeros(len(uid))
        seg_of = {"age_band": age_band, "city_tier": tier}
        for cm in CAMPAIGNS:
            if cm.start_day >= self.days:
                continue
            if cm.goal == "bind_card":
                send = reg_day + 1.0
                elig = (send >= cm.start_day) & (send < cm.start_day + cm.duration_days) & kyc & ~(card & (card_day <= send))
                natural = card & (card_day > send) & (card_day < send + cm.window_days)
                p0 = _p_card_in_window(self._p("p_card"), cm.window_days)
            elif cm.goal == "first_investment":
                send = card_day + 3.0
                elig = (send >= cm.start_day) & (send < cm.start_day + cm.duration_days) & card & ~(invest & (inv_day <= send))
                natural = invest & (inv_day > send) & (inv_day < send + cm.window_days)
                # inv delay ~ Exp(3 d) given investing; P(invest in window | not by 3 d)
                p = self._p("p_invest")
                surv3 = np.exp(-3.0 / 3.0)
                p0 = p * surv3 * (1 - np.exp(-cm.window_days / 3.0)) / (1 - p + p * surv3)
            else:
                day0 = float(cm.start_day) + 10 / 24
                send = np.full(len(uid), day0)
                last = self._last_invest_before(uid, invest, inv_day, lam, churn_day, day0)
                alive = churn_day > day0
                invested = invest & ~bonus & (inv_day < day0)
                if cm.campaign_id.endswith("03"):
                    elig = invested & (day0 - last >= 60)
                else:
                    elig = invested & alive & (value < 30000) & (day0 - last < 60)
                rate = lam * alive
                p0 = 1 - np.exp(-rate * cm.window_days)
                natural = np.zeros(len(uid), bool)  # natural investments come from the process
            idx = np.flatnonzero(elig)
            if len(idx) == 0:
                continue
            treat = rng.random(len(idx)) >= cm.holdout
            u = np.array([cm.uplift.get(s, 0.0) for s in seg_of[cm.segment_column][idx]])
            respond = treat & ~natural[idx] & (rng.random(len(idx)) < u)
            if cm.goal == "bind_card":
                p = self._p("p_card")[idx]
                self.card_gain[idx] += treat * u * (1 - p) / (1 - 0.65 * p)
            elif cm.goal == "first_investment":
                p = self._p("p_invest")[idx]
                self.invest_gain[idx] += treat * u * (1 - p) / (1 - p + p * np.exp(-1.0))
            when = send[idx] + rng.uniform(0.05, min(3.0, cm.window_days - 0.5), len(idx))
            for i, flag, w in zip(idx, respond, when, strict=True):
                if not flag:
                    continue
                if cm.goal == "bind_card":
                    extra_card[int(i)] = float(w)
                elif cm.goal == "first_investment":
                    extra_inv[int(i)] = float(w)
                else:
                    forced.append((int(i), float(w)))
            sent = send[idx]
            delivered = treat & (rng.random(len(idx)) < 0.95)
            clicked = delivered & (rng.random(len(idx)) < np.where(respond, 0.7, 0.1))
            click_day = sent + rng.uniform(0.001, 0.2, len(idx))
            members.append(_schema_frame("campaign_members", {
                "campaign_id": cm.campaign_id, "user_id": uid[idx],
                "group": np.where(treat, "treatment", "control").astype(object),
                "sent_at": np.where(treat, _ts(self.start, sent), np.datetime64("NaT")),
                "delivered": delivered,
                "clicked_at": np.where(clicked, _ts(self.start, click_day), np.datetime64("NaT")),
            }))
            events.append(pd.DataFrame({"event_time": _ts(self.start, click_day[clicked]), "event_name": "link_click",
                                        "user_id": uid[idx][clicked], "anonymous_id": None,
                                        "utm_source": cm.channel, "utm_medium": "crm",
                                        "utm_campaign": cm.campaign_id}))
            eff = u * (1 - p0[idx])
            segs = seg_of[cm.segment_column][idx]
            truth[cm.campaign_id] = {
                "sum_uplift": float(eff.sum()), "sum_p0": float(p0[idx].sum()), "members": len(idx),
                "segments": {s: {"sum_uplift": float(eff[segs == s].sum()), "members": int((segs == s).sum())}
                             for s in sorted(set(segs))},
            }
        ev = pd.concat(events, ignore_index=True) if events else pd.DataFrame(columns=["event_time"])
        mem = pd.concat(members, ignore_index=True) if members else None
        return {"events": ev, "members": mem, "truth": truth}, extra_card, extra_inv, forced

    def _p(self, key: str) -> np.ndarray:
        return np.array([getattr(c, key) for c in CHANNELS])[self.ch]

    def _last_invest_before(self, uid, invest, inv_day, lam, churn_day, day0) -> np.ndarray:
        """Expected last-investment day before day0 is not needed exactly: use the first
        investment, or day0 - 1/lam for users still investing, capped at the first."""
        last = np.where(invest & (inv_day < day0), inv_day, np.inf)
        active_until = np.minimum(churn_day, day0)
        gap = np.where(lam > 0, 1.0 / np.maximum(lam, 1e-9), np.inf)
        est = np.maximum(last, active_until - gap)
        return np.where(np.isfinite(last), np.minimum(est, day0), np.inf)

    def _funnel_stats(self, ch, reg_day, kyc, kyc_day, card, card_day, invest, inv_day, inv_all, P) -> dict:
        done = reg_day + 4 * WINDOW_DAYS < self.days  # every step's window over by the end
        users, days = inv_all
        second = np.full(len(ch), np.inf)
        if len(users):
            order = np.lexsort((days, users))
            u, d = users[order], days[order]
            first_pos = np.r_[0, np.flatnonzero(np.diff(u)) + 1]
            has2 = np.diff(np.r_[first_pos, len(u)]) >= 2
            second[u[first_pos[has2]]] = d[first_pos[has2] + 1]
        stats = {}
        steps = (("register->kyc_verified", np.ones(len(ch), bool), kyc, "p_kyc"),
                 ("kyc_verified->bind_card", kyc, card, "p_card_now"),
                 ("bind_card->first_investment", card, invest, "p_invest_now"))
        for key, at_risk, hit, pk in steps:
            m = at_risk & done
            stats[key] = (int(m.sum()), float(P[pk][m].sum()), int((hit & m).sum()))
        return stats | {"_second": (invest & done, second - inv_day)}


def generate_dataset(out_dir: str | Path, n_users: int = 12000, seed: int = 7,
                     start: str = "2025-07-01", months: int = 12, chunk_users: int = 100_000,
                     fmt: str = "parquet") -> dict:
    """Write the demo dataset (six tables, dataset.yml, truth.json) and return the truth."""
    if fmt not in ("parquet", "csv"):
        raise ValueError("fmt must be parquet or csv")
    if n_users < 100:
        raise ValueError("n_users must be at least 100")
    out = Path(out_dir)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    start64 = np.datetime64(start, "s")
    end_date = (pd.Timestamp(start) + pd.DateOffset(months=months) - pd.Timedelta(days=1)).date()
    days = (pd.Timestamp(end_date) - pd.Timestamp(start)).days + 1
    analysis_end = np.datetime64(str(end_date), "s") + np.timedelta64(1, "D")
    writers = _Writers(out, fmt)
    clicks: dict = {}
    camp_truth: dict = {}
    funnel_acc: dict = {}
    second_acc = [0, 0]
    counts = {"investors": 0, "bonus": 0}
    amounts = []
    channel_investors = np.zeros(len(CHANNELS))
    for idx, first in enumerate(range(0, n_users, chunk_users)):
        n = min(chunk_users, n_users - first)
        chunk = _Chunk(idx, first, n, seed, start64, days, analysis_end, clicks)
        truth = chunk.run()
        writers.write("users", chunk.users)
        writers.write("events", chunk.events)
        writers.write("transactions", chunk.transactions)
        if chunk.members is not None:
            writers.write("campaign_members", chunk.members)
        writers.write("truth_users", chunk.truth_users.assign(churn_at=chunk.truth_users.churn_at.astype("datetime64[us]")))
        for cid, t in truth.items():
            acc = camp_truth.setdefault(cid, {"sum_uplift": 0.0, "sum_p0": 0.0, "members": 0, "segments": {}})
            acc["sum_uplift"] += t["sum_uplift"]
            acc["sum_p0"] += t["sum_p0"]
            acc["members"] += t["members"]
            for s, v in t["segments"].items():
                sa = acc["segments"].setdefault(s, {"sum_uplift": 0.0, "members": 0})
                sa["sum_uplift"] += v["sum_uplift"]
                sa["members"] += v["members"]
        for key, value in chunk.stats.items():
            if key == "_second":
                mask, gap = value
                second_acc[0] += int(mask.sum())
                second_acc[1] += int((gap[mask] <= WINDOW_DAYS).sum())
                continue
            acc = funnel_acc.setdefault(key, [0, 0.0, 0])
            for i in range(3):
                acc[i] += value[i]
        tu = chunk.truth_users
        counts["investors"] += int(tu.investor.sum())
        counts["bonus"] += int(tu.bonus_hunter.sum())
        inv_amount = chunk.transactions[chunk.transactions.status == "success"].groupby("user_id").amount.sum()
        amounts.append(inv_amount.to_numpy())
        channel_investors += np.bincount([ [c.name for c in CHANNELS].index(x) for x in tu.channel[tu.investor]], minlength=len(CHANNELS))
    writers.close()
    pd.DataFrame(_campaign_rows(start64)).pipe(lambda f: f.to_parquet(out / "campaigns.parquet", index=False)
                                                 if fmt == "parquet" else f.to_csv(out / "campaigns.csv", index=False))
    costs = _costs(clicks, start64)
    if fmt == "parquet":
        costs.to_parquet(out / "costs.parquet", index=False)
    else:
        costs.to_csv(out / "costs.csv", index=False)
    (out / "dataset.yml").write_text(yaml.safe_dump(
        {"name": "demo", "timezone": "Asia/Shanghai", "analysis_date": str(end_date)}, allow_unicode=True), encoding="utf-8")
    all_amounts = np.sort(np.concatenate(amounts))[::-1] if amounts else np.array([])
    top = int(math.ceil(0.2 * len(all_amounts)))
    truth = {
        "seed": seed, "n_users": n_users, "chunk_users": chunk_users, "period_start": start,
        "period_end": str(end_date), "analysis_date": str(end_date),
        "funnel_window_days": WINDOW_DAYS,
        "channels": {c.name: _channel_truth(c) for c in CHANNELS},
        "funnel": _funnel_truth(funnel_acc, second_acc),
        "churn": _churn_truth(channel_investors),
        "bonus_hunter_share": counts["bonus"] / max(counts["investors"], 1),
        "top20_aum_share_expected": float(all_amounts[:top].sum() / all_amounts.sum()) if top else float("nan"),
        "campaigns": {
            cm.campaign_id: {
                "name": cm.name, "goal": cm.goal, "window_days": cm.window_days,
                "segment_column": cm.segment_column,
                "members": camp_truth[cm.campaign_id]["members"],
                "baseline_rate": camp_truth[cm.campaign_id]["sum_p0"] / camp_truth[cm.campaign_id]["members"],
                "true_uplift": camp_truth[cm.campaign_id]["sum_uplift"] / camp_truth[cm.campaign_id]["members"],
                "segments": {s: {"members": v["members"], "true_uplift": v["sum_uplift"] / v["members"]}
                             for s, v in sorted(camp_truth[cm.campaign_id]["segments"].items())},
            } for cm in CAMPAIGNS if cm.campaign_id in camp_truth
        },
    }
    (out / "truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=2), encoding="utf-8")
    return truth


def _channel_truth(c: ChannelModel) -> dict:
    h = -np.log(1 - c.monthly_churn) / 30.0
    lam = c.repeat_per_month / 30.0 * math.exp(0.4 ** 2 / 2)
    retained = (1 - c.bonus_share) * lam / (lam + h) * (1 - math.exp(-(lam + h) * RETAIN_DAYS))
    quality = c.p_kyc * c.p_card * c.p_invest * retained
    cost = c.cpc / (c.p_install * c.p_register * quality) if c.cpc else 0.0
    return {"quality": quality, "cpc": c.cpc, "p_install": c.p_install, "p_register": c.p_register,
            "p_kyc": c.p_kyc, "p_card": c.p_card, "p_invest": c.p_invest,
            "bonus_share": c.bonus_share, "monthly_churn": c.monthly_churn,
            "repeat_rate_per_month": c.repeat_per_month,
            "expected_cost_per_retained_investor": cost}


def _funnel_truth(acc: dict, second: list) -> dict:
    out = {}
    for c_key, p_key in (("ad_click->app_install", "p_install"), ("app_install->register", "p_register")):
        out[c_key] = {"true_rate": None, "at_risk": None,
                      "by_channel": {c.name: getattr(c, p_key) for c in CHANNELS}}
    for key, (n, psum, hits) in acc.items():
        out[key] = {"true_rate": psum / n if n else None, "at_risk": n, "realised": hits / n if n else None}
    out["first_investment->second_investment"] = {
        "true_rate": None, "at_risk": second[0], "realised": second[1] / second[0] if second[0] else None,
        "note": "repeat timing is a Poisson process per user; the realised share is given",
    }
    return out


def _churn_truth(channel_investors: np.ndarray) -> dict:
    w = channel_investors / max(channel_investors.sum(), 1)
    by = {c.name: c.monthly_churn for c in CHANNELS}
    return {"monthly_hazard": float(sum(w[i] * c.monthly_churn for i, c in enumerate(CHANNELS))),
            "by_channel": by,
            "definition": "an investor stops investing and opening the app at a latent time after "
                          "the first investment, exponential with this monthly hazard; bonus "
                          "hunters stop at once"}


def _campaign_rows(start: np.datetime64) -> dict:
    rows = {k: [] for k in TABLES["campaigns"].column_names}
    for cm in CAMPAIGNS:
        s = pd.Timestamp(start) + pd.Timedelta(days=cm.start_day)
        rows["campaign_id"].append(cm.campaign_id)
        rows["name"].append(cm.name)
        rows["channel"].append(cm.channel)
        rows["start_at"].append(s)
        rows["end_at"].append(s + pd.Timedelta(days=cm.duration_days))
        rows["goal"].append(cm.goal)
        rows["window_days"].append(cm.window_days)
        rows["cost_per_send"].append(cm.cost_per_send)
        rows["cost_per_reward"].append(cm.cost_per_reward)
        rows["target_rule"].append(cm.target_rule)
    frame = pd.DataFrame(rows)
    frame["start_at"] = frame["start_at"].astype("datetime64[us]")
    frame["end_at"] = frame["end_at"].astype("datetime64[us]")
    return frame


def _costs(clicks: dict, start: np.datetime64) -> pd.DataFrame:
    rows = []
    for (day, c, j), n in sorted(clicks.items()):
        model = CHANNELS[c]
        if model.kind != "paid":
            continue
        rows.append({"date": (pd.Timestamp(start) + pd.Timedelta(days=day)).date(),
                     "utm_source": model.source, "utm_medium": model.medium,
                     "utm_campaign": model.campaigns[j], "spend": round(n * model.cpc, 2),
                     "impressions": int(n * 40), "clicks": int(n)})
    return pd.DataFrame(rows, columns=TABLES["costs"].column_names)


__all__ = ["CAMPAIGNS", "CHANNELS", "generate_dataset", "AGE_BANDS", "CITY_TIER"]

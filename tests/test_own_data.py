"""The worked example of docs/own_data.md: a Chinese BI tool's export to a first book.

A sample of the demo platform (1,500 of its 12,000 users, with their events, investments and
campaign memberships, and the whole cost and campaign tables) is written the way a Chinese
platform's BI tool exports it: GBK-encoded CSVs with Chinese file names and headers, the
platform's own event names and codes (注册, 实名认证, 绑卡, 成功/失败, 实验组/对照组), dates like
2025/7/1 10:03. Then the analyst's steps: `growthloop init`, a dataset.yml mapping it,
`growthloop validate`, a campaign YAML, `growthloop run` of the whole book, `growthloop publish`.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from growthloop import DEMO_DATA
from growthloop.run.cli import app
from growthloop.run.runner import chapter_paths, list_runs

cli = CliRunner()
SAMPLE_EVERY = 8  # every 8th demo user: 1,500 users spread over the whole period

EVENT_NAMES = {"ad_click": "广告点击", "link_click": "短链点击", "app_install": "安装", "register": "注册",
               "kyc_verified": "实名认证", "bind_card": "绑卡", "coupon_claim": "领券",
               "app_open": "启动", "share": "分享"}

# our column: their header, per file
HEADERS = {
    "用户信息.csv": ("users", {"user_id": "用户ID", "registered_at": "注册时间", "birth_year": "出生年份",
                              "gender": "性别", "province": "省份", "city": "城市", "city_tier": "城市等级",
                              "device_os": "设备系统", "utm_source": "来源", "utm_medium": "媒介",
                              "utm_campaign": "推广计划", "inviter_id": "邀请人ID"}),
    "行为日志.csv": ("events", {"event_time": "事件时间", "event_name": "事件名称", "user_id": "用户ID",
                               "anonymous_id": "设备ID", "utm_source": "来源", "utm_medium": "媒介",
                               "utm_campaign": "推广计划", "utm_content": "创意", "utm_term": "关键词",
                               "landing_url": "落地页"}),
    "投资流水.csv": ("transactions", {"txn_id": "订单号", "user_id": "用户ID", "txn_time": "投资时间",
                                     "amount": "投资金额", "product_type": "产品类型", "term_days": "期限天数",
                                     "status": "状态", "revenue": "平台收入"}),
    "投放成本.csv": ("costs", {"date": "日期", "utm_source": "来源", "utm_medium": "媒介",
                              "utm_campaign": "推广计划", "spend": "消耗", "impressions": "曝光",
                              "clicks": "点击"}),
    "营销活动.csv": ("campaigns", {"campaign_id": "活动编号", "name": "活动名称", "channel": "触达渠道",
                                  "start_at": "开始时间", "end_at": "结束时间", "goal": "活动目标",
                                  "window_days": "观察天数", "cost_per_send": "单条成本",
                                  "cost_per_reward": "单次奖励", "target_rule": "圈人规则"}),
    "活动名单.csv": ("campaign_members", {"campaign_id": "活动编号", "user_id": "用户ID", "group": "分组",
                                        "sent_at": "发送时间", "delivered": "是否送达", "clicked_at": "点击时间"}),
}
# their value: ours, per table and column (the platform's own codes)
VALUES = {
    "events": {"event_name": {v: k for k, v in EVENT_NAMES.items()}},
    "transactions": {"status": {"成功": "success", "失败": "failed"}},
    "campaigns": {"channel": {"短信": "sms", "推送": "push", "邮件": "edm", "微信": "wechat"},
                  "goal": {"绑卡": "bind_card", "首投": "first_investment", "投资": "any_investment",
                           "注册": "register"}},
    "campaign_members": {"group": {"实验组": "treatment", "对照组": "control"},
                         "delivered": {"是": "true", "否": "false"}},
}


def _bi_time(series: pd.Series, date_only: bool = False) -> pd.Series:
    """2025/7/1 10:03 (no zero padding, no seconds), as Chinese BI tools write timestamps."""
    def one(t: pd.Timestamp) -> str:
        if pd.isna(t):
            return ""
        return f"{t.year}/{t.month}/{t.day}" + ("" if date_only else f" {t:%H:%M}")

    return pd.to_datetime(series).map(one)


def write_bi_export(folder: Path) -> dict[str, int]:
    """Write the sample export into `folder`; returns the rows written per file."""
    folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    for name in ("users", "events", "transactions", "costs", "campaigns", "campaign_members"):
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{DEMO_DATA / name}.parquet')")
    con.execute(f"""CREATE TABLE sample AS SELECT user_id FROM users
                    WHERE CAST(substr(user_id, 2) AS BIGINT) % {SAMPLE_EVERY} = 0""")
    con.execute("""CREATE TABLE devices AS SELECT DISTINCT anonymous_id FROM events
                   WHERE user_id IN (SELECT user_id FROM sample) AND anonymous_id IS NOT NULL""")
    queries = {
        "users": "SELECT * FROM users WHERE user_id IN (SELECT user_id FROM sample) ORDER BY user_id",
        "events": """SELECT * FROM events WHERE user_id IN (SELECT user_id FROM sample)
                     OR (user_id IS NULL AND anonymous_id IN (SELECT anonymous_id FROM devices))
                     ORDER BY event_time, anonymous_id, event_name""",
        "transactions": "SELECT * FROM transactions WHERE user_id IN (SELECT user_id FROM sample) ORDER BY txn_id",
        "costs": "SELECT * FROM costs ORDER BY ALL",
        "campaigns": "SELECT * FROM campaigns ORDER BY campaign_id",
        "campaign_members": """SELECT * FROM campaign_members WHERE user_id IN (SELECT user_id FROM sample)
                               ORDER BY campaign_id, user_id""",
    }
    rows = {}
    for file, (table, headers) in HEADERS.items():
        frame = con.sql(queries[table]).df()
        for col in frame.columns:
            if pd.api.types.is_datetime64_any_dtype(frame[col]):
                frame[col] = _bi_time(frame[col], date_only=(col == "date"))
        for col, mapping in VALUES.get(table, {}).items():
            ours_to_theirs = {v: k for k, v in mapping.items()}
            frame[col] = frame[col].map(lambda v, m=ours_to_theirs: m.get(str(v).lower(), v) if pd.notna(v) else v)
        frame = frame.rename(columns=headers)
        frame.to_csv(folder / file, index=False, encoding="gbk")
        rows[file] = len(frame)
    return rows


def dataset_yml() -> dict:
    """The dataset.yml an analyst writes for this export (shown in docs/own_data.md)."""
    tables = {}
    for file, (table, headers) in HEADERS.items():
        tables[table] = {"file": file, "encoding": "gbk",
                         "columns": {theirs: ours for ours, theirs in headers.items()}}
        if table in VALUES:
            tables[table]["values"] = VALUES[table]
    return {"name": "my_platform", "timezone": "Asia/Shanghai", "analysis_date": "2026-06-30",
            "tables": tables}


def test_export_is_written_like_a_bi_tool(tmp_path: Path) -> None:
    rows = write_bi_export(tmp_path)
    assert rows["用户信息.csv"] == 12000 // SAMPLE_EVERY
    raw = (tmp_path / "行为日志.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # really GBK, not UTF-8
    text = raw.decode("gbk")
    assert text.startswith("事件时间,事件名称,用户ID,设备ID")
    assert "实名认证" in text and "kyc_verified" not in text
    first = pd.read_csv(tmp_path / "投资流水.csv", encoding="gbk", nrows=1)
    assert first["投资时间"].iloc[0].count(":") == 1 and "/" in first["投资时间"].iloc[0]


def test_init_writes_templates_that_load(tmp_path: Path) -> None:
    folder = tmp_path / "my_platform"
    result = cli.invoke(app, ["init", str(folder)])
    assert result.exit_code == 0, result.output
    assert "growthloop validate" in result.output
    dataset = (folder / "dataset.yml").read_text(encoding="utf-8")
    campaign = (folder / "campaign.yml").read_text(encoding="utf-8")
    assert dataset.count("#") > 20 and "实名认证: kyc_verified" in dataset and "encoding:" in dataset
    from growthloop.run.runner import load_campaign
    from growthloop.staging.config import parse_config

    assert parse_config(yaml.safe_load(dataset)).name == "my_platform"
    spec = load_campaign(folder / "campaign.yml")
    assert spec.data == folder.resolve() and spec.parameters == {"campaign_id": None}
    assert "# chapters:" in campaign
    again = cli.invoke(app, ["init", str(folder)])
    assert again.exit_code == 1 and "--force" in again.output
    assert cli.invoke(app, ["init", str(folder), "--force"]).exit_code == 0


@pytest.mark.slow
def test_bi_export_to_first_book(tmp_path: Path) -> None:
    """The whole path of docs/own_data.md, every chapter executed on the export."""
    folder = tmp_path / "my_platform"
    assert cli.invoke(app, ["init", str(folder)]).exit_code == 0
    write_bi_export(folder)
    (folder / "dataset.yml").write_text(yaml.safe_dump(dataset_yml(), allow_unicode=True, sort_keys=False),
                                        encoding="utf-8")
    checked = cli.invoke(app, ["validate", str(folder)])
    assert checked.exit_code == 0, checked.output
    assert "The dataset is usable" in checked.output and "2026-06-30" in checked.output
    runs = tmp_path / "runs"
    result = cli.invoke(app, ["run", str(folder / "campaign.yml"), "--runs-dir", str(runs)])
    assert result.exit_code == 0, result.output
    (run,) = [r for r in list_runs(runs) if r["status"] == "complete"]
    html = Path(run["path"]) / "_build" / "html"
    for nb in chapter_paths():
        assert (html / "chapters" / f"{nb.stem}.html").exists(), nb.stem
    assert "99_summary.html" in (html / "index.html").read_text(encoding="utf-8")
    site = tmp_path / "site"
    published = cli.invoke(app, ["publish", "--runs-dir", str(runs), "--out", str(site)])
    assert published.exit_code == 0, published.output
    assert "my_platform" in (site / "index.html").read_text(encoding="utf-8")

"""A chapter whose input is not enough says so in the book, and the rest of the book still builds.

The demo without its costs table (no ROI, no CAC) and with every holdout member removed (no
uplift) is run end to end; the pages state what cannot be measured instead of failing.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb
import pytest

from growthloop import DEMO_DATA
from growthloop.run.runner import CampaignRun, chapter_paths, run_campaign


@pytest.mark.slow
def test_book_without_costs_and_holdout(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(DEMO_DATA, data, ignore=shutil.ignore_patterns("costs.parquet", "truth*"))
    members = data / "campaign_members.parquet"
    duckdb.sql(f"COPY (SELECT * FROM '{members}' WHERE \"group\" = 'treatment') "
               f"TO '{tmp_path / 'm.parquet'}' (FORMAT parquet)")
    shutil.move(tmp_path / "m.parquet", members)

    run = run_campaign(CampaignRun(name="partial", data=data,
                                   parameters={"campaign_id": "C2026_01"}),
                       runs_dir=tmp_path / "runs", progress=lambda _m: None)
    html = run / "_build" / "html" / "chapters"
    for nb in chapter_paths():
        assert (html / f"{nb.stem}.html").exists(), nb.stem
    review = (html / "06_closed_loop_review.html").read_text(encoding="utf-8")
    assert "无法估计增量" in review
    attribution = re.sub(r"<[^>]+>", "", (html / "03_channel_attribution.html").read_text(encoding="utf-8"))
    assert "数据中没有成本表" in attribution  # glued text sits in its own span

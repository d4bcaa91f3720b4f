"""Shared fixtures: tiny hand-built datasets written the way an analyst's export would be, the
demo dataset opened once per test process, and the test tiers.

Tiers (CONTRIBUTING.md, "Which tests to run"): every test not marked below is in the fast tier,
`make test-fast` (unit, property and single-engine tests: no Java, no PostgreSQL server, no
browser). The marks are given here by file and name, so a new test lands in the right tier:

    spark     tests/test_engines_*.py on the engine_pair param pyspark (and any file
              test_spark_*.py): DuckDB against local Spark (Java 17)
    postgres  the same tests on the param postgres (and any file test_postgres_*.py): DuckDB
              against a throwaway PostgreSQL server
    browser   tests whose name says chromium: pages in headless Chromium
    slow      whole books and notebook runs (marked in the test files)
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from growthloop import DEMO_DATA
from growthloop.staging.contract import TABLES
from growthloop.staging.loader import Dataset, open_dataset

#: marks given by file name prefix (a file of tests that all need one engine)
FILE_TIERS = {"test_spark_": "spark", "test_postgres_": "postgres"}
#: marks given by the engine a test runs on: the param of the `engine_pair` fixture
#: (tests/engine_support.py, used by tests/test_engines_*.py), however it was parametrised
ENGINE_TIERS = {"pyspark": "spark", "postgres": "postgres"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests that need Java, a PostgreSQL server or a browser (see the docstring)."""
    for item in items:
        for prefix, mark in FILE_TIERS.items():
            if item.path.name.startswith(prefix):
                item.add_marker(mark)
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "engine_pair" in callspec.params:
            engine = callspec.params["engine_pair"]
            if engine not in ENGINE_TIERS:
                raise pytest.UsageError(f"{item.nodeid}: engine_pair param {engine!r} has no "
                                        f"tier; known: {list(ENGINE_TIERS)}")
            item.add_marker(ENGINE_TIERS[engine])
        if "chromium" in item.name:
            item.add_marker("browser")


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A Spark test after its process's JVM exited fails saying so (tests/spark_support.py)."""
    if item.get_closest_marker("spark") is not None:
        import sys

        support = sys.modules.get("spark_support")  # imported once a Spark session started
        if support is not None:
            support.fail_if_jvm_exited()


@pytest.fixture(scope="session")
def demo_ds() -> Dataset:
    """The bundled demo dataset, opened once per test process. Read it, never change it: every
    test of the process shares its kept tables and configuration."""
    return open_dataset(DEMO_DATA)


def write_dataset(folder: Path, fmt: str = "parquet", config: dict | None = None,
                  **tables: list[dict]) -> Path:
    """Write contract tables from rows (dicts); columns a row leaves out are null."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        spec = TABLES[name]
        frame = pd.DataFrame(rows)
        for col in spec.column_names:
            if col not in frame.columns:
                frame[col] = None
        for col in spec.columns:
            if col.dtype == "timestamp" and fmt == "parquet":
                frame[col.name] = pd.to_datetime(frame[col.name])
            if col.dtype == "date" and fmt == "parquet":
                frame[col.name] = pd.to_datetime(frame[col.name]).dt.date
        if fmt == "parquet":
            frame.to_parquet(folder / f"{name}.parquet", index=False)
        else:
            frame.to_csv(folder / f"{name}.csv", index=False)
    if config is not None:
        (folder / "dataset.yml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return folder


def user(uid: str, registered_at: str = "2025-01-01 10:00:00", **extra) -> dict:
    row = {"user_id": uid, "registered_at": registered_at, "birth_year": 1990, "gender": "男",
           "province": "广东", "city": "深圳", "device_os": "iOS", "utm_source": "baidu",
           "utm_medium": "cpc", "utm_campaign": "brand"}
    row.update(extra)
    return row


def event(name: str, time: str, uid: str | None = None, anon: str | None = "A1", **extra) -> dict:
    row = {"event_time": time, "event_name": name, "user_id": uid, "anonymous_id": anon}
    row.update(extra)
    return row


def txn(tid: str, uid: str, time: str, amount: float, term_days: int = 30, **extra) -> dict:
    row = {"txn_id": tid, "user_id": uid, "txn_time": time, "amount": amount,
           "product_type": "定期1月" if term_days else "活期", "term_days": term_days,
           "status": "success", "revenue": None}
    row.update(extra)
    return row


def write_tiny(folder: Path) -> Path:
    """Three users, a few events and investments: small enough to work out by hand."""
    return write_dataset(
        folder,
        users=[user("U1", "2025-01-01 10:00:00", birth_year=2003),
               user("U2", "2025-01-05 23:30:00", birth_year=1975, gender="女", province="浙江",
                    city="杭州", device_os="Android", utm_source="toutiao", utm_medium="feed"),
               user("U3", "2025-02-01 09:00:00", birth_year=None, province="四川", city="绵阳")],
        events=[event("ad_click", "2024-12-31 20:00:00", anon="A1", utm_source="baidu"),
                event("register", "2025-01-01 10:00:00", "U1", "A1"),
                event("bind_card", "2025-01-01 10:30:00", "U1", "A1"),
                event("register", "2025-01-05 23:30:00", "U2", "A2"),
                event("app_open", "2025-03-01 08:00:00", "U2", "A2"),
                event("register", "2025-02-01 09:00:00", "U3", "A3")],
        transactions=[txn("T1", "U1", "2025-01-02 09:00:00", 1000.0, 30),
                      txn("T2", "U1", "2025-02-10 09:00:00", 3000.0, 90),
                      txn("T3", "U2", "2025-01-06 00:10:00", 500.0, 0)],
        config={"name": "tiny", "analysis_date": "2025-03-31"},
    )


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return write_tiny(tmp_path / "tiny")


def stub_chapters(monkeypatch: pytest.MonkeyPatch, execute) -> None:
    """A run without kernels: papermill's execute_notebook is `execute(source, out, parameters,
    **kwargs)` (which writes `out`), and no book is built."""
    from growthloop.run import kernels, runner

    monkeypatch.setattr(runner.papermill, "execute_notebook", execute)
    monkeypatch.setattr(runner, "build_book", lambda book_dir: book_dir)
    monkeypatch.setattr(kernels, "start_kernel", lambda cwd: None)  # no kernel started ahead


def campaign_file(folder: Path, data: Path, chapters: list[str]) -> Path:
    """A campaign `t` of `chapters` on the dataset `data`, written as `folder`/c.yml."""
    campaign = folder / "c.yml"
    campaign.write_text(yaml.safe_dump({"name": "t", "data": str(data), "chapters": chapters}))
    return campaign

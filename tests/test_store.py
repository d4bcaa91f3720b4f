"""The run's shared store: loaded once, the same tables as a fresh load, used only when it fits."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import ibis
import pandas as pd
import pytest
import yaml
from conftest import campaign_file, event, stub_chapters, txn, user, write_dataset

from growthloop import book as gb
from growthloop.errors import DataError
from growthloop.marts import stored_marts
from growthloop.marts.identity import person_events
from growthloop.marts.investments import investments
from growthloop.marts.touches import TOUCH_EVENTS, signup_keys, touches
from growthloop.marts.wide import user_wide
from growthloop.run import runner
from growthloop.staging import store as store_module
from growthloop.staging.config import load_config
from growthloop.staging.loader import _Loader, open_dataset
from growthloop.staging.store import (
    CATALOG,
    KERNELS_ENV,
    SPILL_ENV,
    STORE_ENV,
    kernel_memory_limit,
    open_from_environment,
    open_store,
    prepare_store,
)

TODAY = dt.date(2026, 6, 30)


def _frame(table: ibis.Table) -> pd.DataFrame:
    df = table.to_pandas()
    return df.sort_values(list(df.columns)).reset_index(drop=True)


def test_store_holds_what_a_fresh_load_gives(tiny: Path, tmp_path: Path) -> None:
    store = prepare_store(tiny, tmp_path / "s.duckdb", today=TODAY, marts=stored_marts())
    shared = open_store(store, tiny)
    fresh = open_dataset(tiny, today=TODAY)
    assert shared is not None
    assert sorted(shared.tables) == sorted(fresh.tables)
    for name in fresh.tables:
        pd.testing.assert_frame_equal(_frame(shared.tables[name]), _frame(fresh.tables[name]))
        assert CATALOG in ibis.to_sql(shared.tables[name])  # read from the store, not reloaded
    assert shared.quality == fresh.quality
    assert shared.analysis_date == fresh.analysis_date
    # the marts were built once, in the store, and are the ones a fresh build gives
    for mart in (user_wide, person_events, investments):
        assert CATALOG in ibis.to_sql(mart(shared))
        pd.testing.assert_frame_equal(_frame(mart(shared)), _frame(mart(fresh)))
    # the touches the wide table's sign-up channel kept on the way are stored too: chapter 3's
    # default touches are read from the file; other touch events are built in the chapter
    assert _frame(touches(fresh)).shape[0] > 0
    for events, stored in ((TOUCH_EVENTS, True), (("ad_click",), False)):
        assert (CATALOG in ibis.to_sql(touches(shared, events))) is stored
        pd.testing.assert_frame_equal(_frame(touches(shared, events)), _frame(touches(fresh, events)))
        # so are the sign-up keys: chapter 3's monitoring table and weekly trend read them
        sql = ibis.to_sql(signup_keys(shared, events))
        assert "gl_signup_keys" in sql  # a kept table, not the query again
        assert (CATALOG in sql) is stored
        pd.testing.assert_frame_equal(_frame(signup_keys(shared, events)),
                                      _frame(signup_keys(fresh, events)))


def test_a_load_in_a_child_process_raises_its_data_error_here(tiny: Path, tmp_path: Path) -> None:
    """On Spark the runner loads in a child process (`_prepare_store_apart`): the child's
    DataError reaches the runner whole, with its table, column and hint."""
    users = pd.read_parquet(tiny / "users.parquet").drop(columns=["registered_at"])
    users.to_parquet(tiny / "users.parquet", index=False)
    with pytest.raises(DataError) as caught:
        runner._prepare_store_apart(tiny, tmp_path / "s.duckdb", today=TODAY)
    assert (caught.value.table, caught.value.column) == ("users", "registered_at")
    assert str(caught.value) == str(_error_of(lambda: open_dataset(tiny, today=TODAY)))
    assert caught.value.hint


def test_a_load_in_a_child_process_works_from_a_script_without_a_main_guard(
        tiny: Path, tmp_path: Path) -> None:
    script = tmp_path / "load.py"
    script.write_text("import datetime as dt\n"
                      "from growthloop.run.runner import _prepare_store_apart\n"
                      f"_prepare_store_apart({str(tiny)!r}, {str(tmp_path / 's.duckdb')!r}, "
                      "today=dt.date(2026, 6, 30))\n", encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    shared = open_store(tmp_path / "s.duckdb", tiny)
    assert shared is not None and shared.quality.used["users"] == 3


class Stubborn(Exception):
    """Pickles, but does not unpickle (its constructor wants two arguments, args holds one)."""

    def __init__(self, code: int, text: str):
        super().__init__(f"{code}: {text}")


def test_an_error_that_cannot_be_pickled_is_sent_as_its_text() -> None:
    sent = runner.sendable(Stubborn(7, "JVM gone"))
    assert type(sent) is RuntimeError and str(sent) == "Stubborn: 7: JVM gone"
    error = DataError("users", "user_id", "is blank", 3, hint="fill it")
    assert runner.sendable(error) is error


def _error_of(call) -> Exception:
    try:
        call()
    except Exception as exc:  # noqa: BLE001  (the test compares whatever is raised)
        return exc
    raise AssertionError("no error raised")


def test_store_writes_the_events_once_beside_the_identity_mart(tiny: Path, tmp_path: Path) -> None:
    # the events are a view of the stitched events and of the rows after the analysis date
    # (app_open on 1 March is after 15 February): the same rows, user_ids as in the file
    date = "2025-02-15"
    store = prepare_store(tiny, tmp_path / "s.duckdb", analysis_date=date, today=TODAY,
                          marts=stored_marts())
    shared = open_store(store, tiny, analysis_date=date)
    fresh = open_dataset(tiny, analysis_date=date, today=TODAY)
    assert shared is not None
    events = _frame(shared.events)
    pd.testing.assert_frame_equal(events, _frame(fresh.events))
    assert list(shared.events.columns) == list(fresh.events.columns)
    assert events.event_name.tolist().count("app_open") == 1
    assert events[events.event_name == "ad_click"].user_id.isna().all()  # not the stitched U1
    pd.testing.assert_frame_equal(_frame(person_events(shared)), _frame(person_events(fresh)))
    kinds = dict(shared.con.raw_sql(
        f"SELECT table_name, table_type FROM information_schema.tables "
        f"WHERE table_catalog = '{CATALOG}'").fetchall())
    assert kinds["gl_events"] == "VIEW" and kinds["gl_person_events"] == "VIEW"
    # the identity mart's table holds no user_id: the view gives it from person_id
    assert kinds["gl_person_events_rows"] == "BASE TABLE"
    stored = shared.con.table("gl_person_events_rows", database=(CATALOG, "main")).columns
    assert "user_id" not in stored and "person_id" in stored
    assert list(person_events(shared).columns) == list(person_events(fresh).columns)


def test_marts_after_the_identity_mart_read_the_stored_events(tiny: Path, tmp_path: Path) -> None:
    # once the identity mart is written, the loader's view of its parsed rows and the rows
    # themselves are dropped (at 10M users its largest allocation): a later mart reads the
    # events from the file
    seen: dict[str, object] = {}

    class Probe:
        name = "probe"

        def build(self, ds):
            seen["temporary"] = sorted(name for (name,) in ds.con.raw_sql(
                "SELECT table_name FROM duckdb_tables() WHERE temporary UNION ALL "
                "SELECT view_name FROM duckdb_views() WHERE temporary AND NOT internal").fetchall())
            seen["events"] = ds.events.count().to_pyarrow().as_py()
            return ds.events.group_by("event_name").aggregate(n=ds.events.count())

    prepare_store(tiny, tmp_path / "s.duckdb", today=TODAY, marts=[*stored_marts(), Probe()])
    assert not [name for name in seen["temporary"] if name.startswith("gl_")]
    assert seen["events"] == open_dataset(tiny, today=TODAY).events.count().to_pyarrow().as_py()


def test_loader_refuses_views_of_temporary_tables(tmp_path: Path) -> None:
    # a view stands in for a table written to the store's file; a load into temporary tables
    # would materialise them anyway and silently ignore the request
    data = write_dataset(tmp_path / "d", users=[user("U1")],
                         events=[event("register", "2025-01-01 10:00:00", "U1", "A1")],
                         transactions=[txn("T1", "U1", "2025-01-02 09:00:00", 1000.0)])
    with pytest.raises(ValueError, match="views"):
        _Loader(data, None, load_config(data), None, 0.5, 1e9, dt.date(2025, 2, 1),
                temp=True, views=("events",))


def test_store_stitches_the_events_as_the_loader_cleans_them(tmp_path: Path) -> None:
    # the store stitches straight from the loader's parsed rows (a view, no clean copy): exact
    # copies count once, rows set aside stay out, kept notes stay in, as in a fresh load
    events = [event("ad_click", "2024-12-31 20:00:00", anon="A1", utm_source="baidu"),
              event("ad_click", "2024-12-31 20:00:00", anon="A1", utm_source="baidu"),
              event("register", "2025-01-01 10:00:00", "U1", "A1"),
              event("register", "2025-01-01 10:00:00", "U1", "A1"),
              event("bind_card", "2025-01-01 09:59:50", "U1", "A1"),  # kept: seconds early
              event("app_open", "2024-12-01 08:00:00", "U1", "A1"),  # before the sign-up
              event("app_open", "2025-01-03 08:00:00", "U9", "A9"),  # not in users
              event("link_click", "2025-01-02 08:00:00", anon="A2")]
    data = write_dataset(tmp_path / "d", users=[user("U1")], events=events,
                         transactions=[txn("T1", "U1", "2025-01-02 09:00:00", 1000.0)],
                         config={"name": "d", "analysis_date": "2025-03-31"})
    store = prepare_store(data, tmp_path / "s.duckdb", today=TODAY, marts=stored_marts())
    shared = open_store(store, data)
    fresh = open_dataset(data, today=TODAY)
    assert shared is not None
    assert shared.quality == fresh.quality
    assert {r.rule: r.rows for r in shared.quality.set_aside if r.table == "events"} == {
        "exact duplicate row": 2, "event before the user's sign-up": 1,
        "event of a user not in users": 1}
    pd.testing.assert_frame_equal(_frame(shared.events), _frame(fresh.events))
    stitched = _frame(person_events(shared))
    pd.testing.assert_frame_equal(stitched, _frame(person_events(fresh)))
    assert stitched.person_id.tolist() == ["U1", "U1", "U1", "anon:A2"]


def test_store_is_used_only_for_its_folder_date_and_files(tiny: Path, tmp_path: Path) -> None:
    store = prepare_store(tiny, tmp_path / "s.duckdb", analysis_date="2025-03-31", today=TODAY)
    assert open_store(store, tiny, "2025-03-31") is not None
    assert open_store(store, tiny, dt.date(2025, 3, 31)) is not None
    assert open_store(store, tiny) is None  # another analysis date
    assert open_store(store, tiny, "2025-04-01") is None
    other = tmp_path / "other"
    shutil.copytree(tiny, other)
    assert open_store(store, other, "2025-03-31") is None  # another folder
    assert open_store(tmp_path / "missing.duckdb", tiny, "2025-03-31") is None
    # a run's channel map shapes the sign-up channels: a store is for its own map only
    assert open_store(store, tiny, "2025-03-31", {"baidu": "品牌搜索"}) is None
    mapped = prepare_store(tiny, tmp_path / "m.duckdb", analysis_date="2025-03-31", today=TODAY,
                           channel_map={"baidu": "品牌搜索"}, marts=stored_marts())
    assert open_store(mapped, tiny, "2025-03-31") is None
    ds = open_store(mapped, tiny, "2025-03-31", {"baidu": "品牌搜索"})
    assert ds is not None and user_wide(ds).to_pandas().set_index("user_id").signup_channel["U1"] == "品牌搜索"
    users = tiny / "users.parquet"
    os.utime(users, ns=(users.stat().st_atime_ns, users.stat().st_mtime_ns + 10**9))
    assert open_store(store, tiny, "2025-03-31") is None  # a file changed since the load


def test_chapter_opens_the_store_named_in_the_environment(tiny: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    store = prepare_store(tiny, tmp_path / "s.duckdb")
    monkeypatch.setenv(STORE_ENV, str(store))
    ch = gb.chapter("00_data_quality", str(tiny), None, str(tmp_path))
    assert CATALOG in ibis.to_sql(ch.ds.users)
    # a chapter with another analysis date than the store's loads the folder itself
    ch = gb.chapter("00_data_quality", str(tiny), "2025-03-31", str(tmp_path))
    assert CATALOG not in ibis.to_sql(ch.ds.users)
    assert ch.ds.analysis_date == dt.date(2025, 3, 31)


def test_runner_loads_once_and_removes_the_store(tiny: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, bool]] = []

    def execute(source: str, out: str, parameters: dict, **kwargs) -> None:
        store = os.environ[STORE_ENV]
        seen.append((Path(source).stem, open_store(store, parameters["data"]) is not None))
        shutil.copy(source, out)

    stub_chapters(monkeypatch, execute)
    campaign = campaign_file(tmp_path, tiny, ["00", "01"])
    run = runner.run_campaign(runner.load_campaign(campaign), runs_dir=tmp_path / "runs",
                              progress=lambda _: None)
    # the data-quality chapter reads the others (their skipped sections): it runs after them
    assert seen == [("01_user_profiling", True), ("00_data_quality", True), ("99_summary", True)]
    assert STORE_ENV not in os.environ
    assert not (run / runner.STORE_DIR).exists()


def test_chapters_spill_into_the_runs_own_folder_which_goes_with_the_run(
        tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tiny / "dataset.yml"
    before = config.read_text(encoding="utf-8") if config.exists() else ""
    spill_root = tmp_path / "spill"
    config.write_text(before + f"\nengine:\n  temp_directory: {spill_root}\n", encoding="utf-8")
    seen: list[tuple[str, str, str]] = []

    def execute(source: str, out: str, parameters: dict, **kwargs) -> None:
        ds = open_from_environment(parameters["data"], None)
        setting = ds.con.raw_sql("SELECT current_setting('temp_directory')").fetchone()[0]
        # what a killed kernel's DuckDB leaves behind: its spill file
        (Path(os.environ[SPILL_ENV]) / f"{Path(source).stem}.tmp").write_bytes(b"rows")
        seen.append((setting, os.environ[SPILL_ENV], kwargs["shutdown_kernel"]))
        shutil.copy(source, out)

    stub_chapters(monkeypatch, execute)
    campaign = campaign_file(tmp_path, tiny, ["00", "01"])
    run = runner.run_campaign(runner.load_campaign(campaign), runs_dir=tmp_path / "runs",
                              progress=lambda _: None)
    folders = {folder for _setting, folder, _stop in seen}
    assert len(seen) == 3 and len(folders) == 1
    (folder,) = folders
    assert Path(folder).parent == spill_root and run.name in Path(folder).name
    # each chapter's connection spills there; its kernel is stopped at once (DuckDB)
    assert {(setting, stop) for setting, _folder, stop in seen} == {(folder, "immediate")}
    assert SPILL_ENV not in os.environ
    assert list(spill_root.iterdir()) == []  # the run's folder and what the kernels left: gone


def test_a_run_off_duckdb_makes_no_spill_folder(tiny: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # PostgreSQL's kernels shut down gracefully and never read the run's spill folder
    config = tiny / "dataset.yml"
    before = config.read_text(encoding="utf-8") if config.exists() else ""
    spill_root = tmp_path / "spill"
    spill_root.mkdir()
    config.write_text(before + "\nengine:\n  backend: postgres\n  postgres: {host: db.invalid, database: dw}\n"
                      f"  temp_directory: {spill_root}\n", encoding="utf-8")
    seen: list[tuple[str | None, str]] = []

    def execute(source: str, out: str, parameters: dict, **kwargs) -> None:
        seen.append((os.environ.get(SPILL_ENV), kwargs.get("shutdown_kernel", "graceful")))
        shutil.copy(source, out)

    stub_chapters(monkeypatch, execute)
    campaign = campaign_file(tmp_path, tiny, ["00", "01"])
    runner.run_campaign(runner.load_campaign(campaign), runs_dir=tmp_path / "runs",
                        progress=lambda _: None)
    assert len(seen) == 3 and set(seen) == {(None, "graceful")}
    assert list(spill_root.iterdir()) == []


def test_chapters_running_at_once_share_the_memory_limit(tiny: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    config = tiny / "dataset.yml"
    before = config.read_text(encoding="utf-8") if config.exists() else ""
    config.write_text(before + "\nengine:\n  memory_limit: 1GiB\n", encoding="utf-8")
    store = prepare_store(tiny, tmp_path / "s.duckdb")  # dataset.yml is part of the store's key

    def limit() -> str:
        ds = open_from_environment(tiny, None)
        assert ds is not None
        return ds.con.raw_sql("SELECT current_setting('memory_limit')").fetchone()[0]

    monkeypatch.setenv(STORE_ENV, str(store))
    # a lone chapter: 1024 MiB - 640 MiB = 384 MiB, below half of the limit: 512 MiB
    alone = limit()
    monkeypatch.setenv(KERNELS_ENV, "2")
    # (1024 MiB - 640 MiB for the second kernel's Python side) / 2 = 192 MiB, below half of
    # the plain share (512 MiB / 2): 256 MiB
    assert (alone, limit()) == ("512.0 MiB", "256.0 MiB")
    # outside a run (no share), the dataset's own limit
    assert open_store(store, tiny).con.raw_sql(
        "SELECT current_setting('memory_limit')").fetchone()[0] == "1.0 GiB"


def test_the_load_gets_a_lone_kernels_memory_limit_in_a_run_or_alone(
        tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tiny / "dataset.yml"
    before = config.read_text(encoding="utf-8") if config.exists() else ""
    config.write_text(before + "\nengine:\n  memory_limit: 2GiB\n", encoding="utf-8")
    limits: list[str] = []
    connect = store_module.connect_duckdb

    def recording(*args, **kwargs):
        limits.append(kwargs.get("memory_limit"))
        return connect(*args, **kwargs)

    monkeypatch.setattr(store_module, "connect_duckdb", recording)
    # 2048 MiB less one Python side (640 MiB), as a lone chapter's kernel; asked, another
    prepare_store(tiny, tmp_path / "a.duckdb")
    prepare_store(tiny, tmp_path / "b.duckdb", memory_limit=700 * 1024**2)
    assert limits == ["1408MiB", "700MiB"]
    # a run's load, the same
    limits.clear()
    stub_chapters(monkeypatch, lambda source, out, parameters, **kwargs: shutil.copy(source, out))
    runner.run_campaign(runner.load_campaign(campaign_file(tmp_path, tiny, ["01"])),
                        runs_dir=tmp_path / "runs", progress=lambda _: None)
    assert limits == ["1408MiB"]


def test_each_kernel_beyond_the_first_takes_its_python_side_off_the_limit() -> None:
    gib, mib = 1024**3, 1024**2
    # a lone chapter of a run leaves one Python side too: 5120 MiB - 640 MiB
    assert kernel_memory_limit(5 * gib, 0) == kernel_memory_limit(5 * gib, 1) == 4480 * mib
    # 5120 MiB less 640 MiB for the second kernel, halved; three kernels: 5120 - 2 * 640 = 3840
    assert kernel_memory_limit(5 * gib, 2) == 2240 * mib
    assert kernel_memory_limit(5 * gib, 3) == 1280 * mib
    # a limit too small for the subtraction keeps half the plain share
    assert kernel_memory_limit(512 * mib, 2) == 128 * mib


def test_numeric_threads_share_the_cores_between_kernels_and_keep_the_callers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in runner.NUMERIC_THREADS_ENV:
        monkeypatch.delenv(name, raising=False)
    assert runner.numeric_threads(1, cores=8) == {}
    assert runner.numeric_threads(2, cores=2) == dict.fromkeys(runner.NUMERIC_THREADS_ENV, "1")
    assert runner.numeric_threads(3, cores=8) == dict.fromkeys(runner.NUMERIC_THREADS_ENV, "2")
    assert runner.numeric_threads(4, cores=2) == dict.fromkeys(runner.NUMERIC_THREADS_ENV, "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "4")  # the caller's own setting wins
    assert "OMP_NUM_THREADS" not in runner.numeric_threads(2, cores=2)


def test_runner_runs_independent_chapters_side_by_side_and_readers_after(
        tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading
    import time

    running: set[str] = set()
    overlaps: list[set[str]] = []
    finished: list[str] = []
    lock = threading.Lock()
    threads: set[str | None] = set()
    for name in runner.NUMERIC_THREADS_ENV:
        monkeypatch.delenv(name, raising=False)

    def execute(source: str, out: str, parameters: dict, **kwargs) -> None:
        stem = Path(source).stem
        with lock:
            running.add(stem)
            overlaps.append(set(running))
            kernels = os.environ[KERNELS_ENV]
            threads.add(os.environ.get("OMP_NUM_THREADS"))
        time.sleep(0.3)
        with lock:
            running.discard(stem)
            finished.append((stem, kernels))
        shutil.copy(source, out)

    stub_chapters(monkeypatch, execute)
    campaign = campaign_file(tmp_path, tiny, ["00", "01", "02", "04", "07"])
    runner.run_campaign(runner.load_campaign(campaign), runs_dir=tmp_path / "runs",
                        progress=lambda _: None, jobs=2)
    stems = [s for s, _ in finished]
    # the readers (the next campaign, data quality, the summary) after every other chapter
    assert stems[3:] == ["07_next_campaign", "00_data_quality", "99_summary"]
    assert sorted(stems[:3]) == ["01_user_profiling", "02_funnel", "04_rfm"]
    assert max(len(o) for o in overlaps) == 2 and {k for _, k in finished} == {"2"}
    # the numeric libraries' threads: the cores shared between the two kernels
    assert threads == {str(max(1, (os.cpu_count() or 1) // 2))}
    # one at a time when asked: their own default
    finished.clear()
    overlaps.clear()
    threads.clear()
    runner.run_campaign(runner.load_campaign(campaign), runs_dir=tmp_path / "runs",
                        progress=lambda _: None, jobs=1)
    assert max(len(o) for o in overlaps) == 1 and {k for _, k in finished} == {"1"}
    assert threads == {None}
    assert [s for s, _ in finished][3:] == ["07_next_campaign", "00_data_quality", "99_summary"]
    with pytest.raises(runner.RunError, match="jobs: 0 is not a number"):
        runner.run_campaign(runner.load_campaign(campaign), runs_dir=tmp_path / "runs", jobs=0)


def test_a_campaigns_first_run_orders_its_chapters_by_another_campaigns_run_on_its_data(
        tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[str] = []

    def execute(source: str, out: str, parameters: dict, **kwargs) -> None:
        started.append(Path(source).stem)
        shutil.copy(source, out)

    stub_chapters(monkeypatch, execute)
    runs = tmp_path / "runs"
    earlier = runs / "other" / "20000101-000000"  # another campaign's run on the same data
    (earlier / "logs").mkdir(parents=True)
    (earlier / "campaign.yml").write_text(yaml.safe_dump({"name": "other", "data": str(tiny)}))
    (earlier / "logs" / "timings.json").write_text(json.dumps(
        {"01_user_profiling": 1.0, "02_funnel": 5.0, "04_rfm": 3.0}))
    campaign = campaign_file(tmp_path, tiny, ["01", "02", "04"])
    run = runner.run_campaign(runner.load_campaign(campaign), runs_dir=runs,
                              progress=lambda _: None, jobs=1)
    assert started[:3] == ["02_funnel", "04_rfm", "01_user_profiling"]  # longest first
    log = (run / "logs" / "run.log").read_text(encoding="utf-8")
    assert "start 02_funnel (estimate 5.0 s, from run other/20000101-000000)" in log
    # its second run goes by its own first run (the file's order: the stubs take no time)
    started.clear()
    second = runner.run_campaign(runner.load_campaign(campaign), runs_dir=runs,
                                 progress=lambda _: None, jobs=1)
    log = (second / "logs" / "run.log").read_text(encoding="utf-8")
    assert f"from run {run.name})" in log and "other/" not in log


def test_a_failing_chapter_among_those_running_at_once_stops_the_run(
        tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[str] = []

    def execute(source: str, out: str, parameters: dict, **kwargs) -> None:
        stem = Path(source).stem
        started.append(stem)
        shutil.copy(source, out)
        if stem == "02_funnel":
            raise runner.papermill.PapermillExecutionError(3, 3, "x = 1", "ValueError", "boom", [])

    stub_chapters(monkeypatch, execute)
    campaign = campaign_file(tmp_path, tiny, ["01", "02", "04"])
    with pytest.raises(runner.RunError, match=r"chapter 02_funnel failed in cell 3 \(ValueError: boom\)"):
        runner.run_campaign(runner.load_campaign(campaign), runs_dir=tmp_path / "runs",
                            progress=lambda _: None, jobs=2)
    assert "99_summary" not in started and "00_data_quality" not in started
    (failed,) = (tmp_path / "runs" / "t").glob("*-failed")
    assert (failed / "logs" / "02_funnel.ipynb").exists()
    assert not (failed / "chapters" / "02_funnel.ipynb").exists()
    assert not (failed / runner.STORE_DIR).exists()


def test_schedule_starts_the_longest_chapters_first_and_keeps_readers_last() -> None:
    chapters = runner.chapter_paths(["00", "01", "02", "03", "07"])
    independent, readers = runner.schedule(
        chapters, {"01_user_profiling": 12.0, "02_funnel": 18.0, "00_data_quality": 99.0})
    # 03 has no earlier time: it may be the longest, so it starts first; then 18 s, then 12 s
    assert [p.stem for p in independent] == ["03_channel_attribution", "02_funnel", "01_user_profiling"]
    assert [p.stem for p in readers] == ["07_next_campaign", "00_data_quality", "99_summary"]
    # no earlier run: the usual order of cost, not the file's
    independent, _ = runner.schedule(runner.chapter_paths(["01", "02", "03", "04", "05", "06"]), {})
    assert [p.stem[:2] for p in independent] == ["03", "02", "06", "05", "01", "04"]
    # every chapter timed: by the times alone
    times = {"01_user_profiling": 40.0, "02_funnel": 30.0, "03_channel_attribution": 20.0,
             "04_rfm": 50.0, "05_lifecycle_retention": 10.0, "06_closed_loop_review": 5.0}
    independent, _ = runner.schedule(runner.chapter_paths(["01", "02", "03", "04", "05", "06"]), times)
    assert [p.stem[:2] for p in independent] == ["04", "01", "02", "03", "05", "06"]


def test_schedule_after_a_failed_run_keeps_the_usual_order() -> None:
    # a 10M run failed in attribution: the funnel and the review had times, the rest none.
    # Untimed first would have started retention, profiling and RFM before the funnel.
    partial = {"02_funnel": 315.0, "06_closed_loop_review": 225.0}
    chapters = runner.chapter_paths(["01", "02", "03", "04", "05", "06"])
    independent, _ = runner.schedule(chapters, partial)
    assert [p.stem[:2] for p in independent] == ["03", "02", "06", "05", "01", "04"]
    # a chapter of the campaign's own, not in the usual order: untimed, it may be the
    # longest and goes first; timed, after the usual ones
    own = chapters + [chapters[0].with_name("08_own.ipynb")]
    assert runner.schedule(own, partial)[0][0].stem == "08_own"
    assert runner.schedule(own, {**partial, "08_own": 1.0})[0][-1].stem == "08_own"


def test_default_jobs_are_two_on_duckdb_and_one_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner.os, "cpu_count", lambda: 8)
    assert (runner.default_jobs(), runner.default_jobs("pyspark"), runner.default_jobs("postgres")) == (2, 1, 1)
    monkeypatch.setattr(runner.os, "cpu_count", lambda: 1)
    assert runner.default_jobs() == 1


def test_ctrl_c_while_chapters_run_side_by_side_stops_their_kernels(
        tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    started: list[str] = []
    stopped: list[bool] = []

    def execute(source: str, out: str, parameters: dict, **kwargs) -> None:
        stem = Path(source).stem
        started.append(stem)
        if len(started) == 1:  # the first chapter to start, whatever the order
            raise KeyboardInterrupt  # as if pressed while the chapters ran
        time.sleep(0.5)
        shutil.copy(source, out)

    stub_chapters(monkeypatch, execute)
    monkeypatch.setattr(runner, "_stop_kernels", lambda: stopped.append(True))
    campaign = campaign_file(tmp_path, tiny, ["01", "02", "04", "05", "06"])
    with pytest.raises(KeyboardInterrupt):
        runner.run_campaign(runner.load_campaign(campaign), runs_dir=tmp_path / "runs",
                            progress=lambda _: None, jobs=2)
    assert stopped == [True]
    assert "99_summary" not in started and len(started) < 5  # no other chapter started
    (failed,) = (tmp_path / "runs" / "t").iterdir()  # kept as failed, with the reason
    assert failed.name.endswith("-failed")
    assert "stopped (Ctrl-C)" in (failed / "logs" / "error.txt").read_text(encoding="utf-8")
    assert not (failed / runner.STORE_DIR).exists()  # the loaded rows are never left behind


def test_stop_kernels_kills_only_the_kernels_this_process_started() -> None:
    import subprocess
    import sys

    sleep = [sys.executable, "-c", "import time; time.sleep(60)"]
    kernel = subprocess.Popen([*sleep, "ipykernel_launcher"])
    other = subprocess.Popen(sleep)
    try:
        runner._stop_kernels()
        assert kernel.wait(timeout=10) != 0
        assert other.poll() is None
    finally:
        kernel.kill()
        other.kill()
        other.wait()

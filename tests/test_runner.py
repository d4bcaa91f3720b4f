"""The runner and the CLI: parameters checked, failures stop the run, runs never clobber."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import nbformat
import pytest
import yaml
from typer.testing import CliRunner

from growthloop.run.cli import app
from growthloop.run.runner import (
    RunError,
    chapter_paths,
    hide_injected_cell,
    list_runs,
    load_campaign,
    split_parameters,
)

cli = CliRunner()


def _campaign(tmp_path: Path, data: Path, **extra) -> Path:
    path = tmp_path / "c.yml"
    path.write_text(yaml.safe_dump({"name": "t", "data": str(data), "chapters": ["00"], **extra}))
    return path


def test_unknown_parameter_is_refused() -> None:
    chapters = chapter_paths(["00"])
    with pytest.raises(RunError, match=r"unknown parameter\(s\) \['windoww'\]"):
        split_parameters(chapters, {"windoww": 7})
    assert split_parameters(chapters, {"analysis_date": "2025-03-31"})[chapters[0]] == {"analysis_date": "2025-03-31"}


def test_runner_set_parameters_are_reserved() -> None:
    with pytest.raises(RunError, match="set by the runner"):
        split_parameters(chapter_paths(["00"]), {"data": "x"})


def test_campaign_file_checks(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("name: x\nparameters: {}\n")
    with pytest.raises(RunError, match="needs `data:`"):
        load_campaign(bad)
    bad.write_text("name: x\ndata: d\nparams: {}\n")
    with pytest.raises(RunError, match="unknown key"):
        load_campaign(bad)


@pytest.mark.slow
def test_run_builds_book_and_never_overwrites(tmp_path: Path, tiny: Path) -> None:
    campaign = _campaign(tmp_path, tiny)
    runs = tmp_path / "runs"
    outputs = []
    for _ in range(2):
        result = cli.invoke(app, ["run", str(campaign), "--runs-dir", str(runs)])
        assert result.exit_code == 0, result.output
        outputs.append(result.output)
    done = [r for r in list_runs(runs) if r["status"] == "complete"]
    assert len(done) == 2 and done[0]["path"] != done[1]["path"]
    # progress: every step timed in the run log; the second run estimates from the first
    first, second = (Path(r["path"]) / "logs" for r in done)
    assert set(json.loads((first / "timings.json").read_text())) == {"load", "00_data_quality", "99_summary", "book"}
    assert "last run" not in outputs[0] and "(last run " in outputs[1]
    log = (second / "run.log").read_text(encoding="utf-8")
    assert "start 00_data_quality (estimate " in log and f"from run {first.parent.name})" in log
    assert "done book in " in log
    run = Path(done[0]["path"])
    html = run / "_build" / "html"
    assert (html / "chapters" / "00_data_quality.html").exists()
    assert (html / "tables" / "00_data_quality" / "row_accounting.csv").exists()
    page = (html / "chapters" / "00_data_quality.html").read_text(encoding="utf-8")
    # the injected cell (with the dataset path) is removed from the page
    assert str(tiny) not in page
    nb = nbformat.read(run / "chapters" / "00_data_quality.ipynb", as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and "remove-cell" in injected[0].metadata["tags"]
    assert not (html / "exports").exists()
    # no copy of the run's notebooks (their injected cell names the data folder) in the site
    assert not (html / "_sources").exists() and not list(html.rglob("*.ipynb"))
    assert ".ipynb" not in page


def test_unusable_dataset_stops_the_run_before_any_chapter(tmp_path: Path, tiny: Path) -> None:
    (tiny / "transactions.parquet").unlink()
    campaign = _campaign(tmp_path, tiny)
    runs = tmp_path / "runs"
    result = cli.invoke(app, ["run", str(campaign), "--runs-dir", str(runs)])
    assert result.exit_code == 1
    assert "the dataset could not be loaded (DataError: table 'transactions'" in result.output
    (failed,) = list_runs(runs)
    assert failed["status"] == "failed"
    path = Path(failed["path"])
    assert "table 'transactions'" in (path / "logs" / "error.txt").read_text(encoding="utf-8")
    assert not list((path / "chapters").glob("*.ipynb"))
    assert not (path / ".engine").exists()  # the loaded rows are never left behind


@pytest.mark.slow
def test_failing_chapter_stops_the_run(tmp_path: Path, tiny: Path) -> None:
    campaign = _campaign(tmp_path, tiny, chapters=["02"])
    runs = tmp_path / "runs"
    # a value papermill accepts (and the runner passes on) but the chapter's funnel refuses
    result = cli.invoke(app, ["run", str(campaign), "--runs-dir", str(runs), "-p", "window_days=0"])
    assert result.exit_code == 1
    assert "chapter 02_funnel failed in cell" in result.output
    assert "window_days: must be a positive number of days" in result.output
    (failed,) = list_runs(runs)
    assert failed["status"] == "failed"
    logs = Path(failed["path"]) / "logs"
    assert (logs / "02_funnel.ipynb").exists()
    assert not (Path(failed["path"]) / "_build").exists()
    # the failing cell is named (its number, id and the line that raised), in the message and
    # in logs/ (code cells: parameters, papermill's injected parameters, then the one opening
    # the data and building the funnel's spec)
    assert "; code cell 3 (id cell-" in result.output and "at: spec = funnel.make_spec(" in result.output
    error = (logs / "error.txt").read_text(encoding="utf-8")
    assert "code cell 3 (id cell-" in error and "window_days" in error
    assert not (Path(failed["path"]) / ".engine").exists()
    # the partial notebook is only in logs/, never among the chapters a book is built from
    assert not (Path(failed["path"]) / "chapters" / "02_funnel.ipynb").exists()
    assert not (logs / "pid").exists()


def test_cli_unknown_parameter(tmp_path: Path, tiny: Path) -> None:
    result = cli.invoke(app, ["run", str(_campaign(tmp_path, tiny)), "-p", "nope=1",
                              "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 1
    assert "unknown parameter(s) ['nope']" in result.output


def test_cli_validate(tiny: Path) -> None:
    result = cli.invoke(app, ["validate", str(tiny)])
    assert result.exit_code == 0, result.output
    assert "usable" in result.output


def test_cli_validate_reports_error(tmp_path: Path, tiny: Path) -> None:
    (tiny / "users.parquet").unlink()
    result = cli.invoke(app, ["validate", str(tiny)])
    assert result.exit_code == 1
    assert "table 'users': table is missing" in result.output


@pytest.mark.slow
def test_papermill_runs_a_chapter_from_any_directory(tmp_path: Path, tiny: Path) -> None:
    """papermill runs in the caller's directory: a relative data path resolves from there."""
    import subprocess
    import sys

    from growthloop import PROJECT_ROOT

    exe = Path(sys.executable).parent / "papermill"
    out = tmp_path / "out.ipynb"
    result = subprocess.run(
        [str(exe), str(PROJECT_ROOT / "chapters" / "00_data_quality.ipynb"), str(out),
         "-p", "data", tiny.name, "-p", "out_dir", str(tmp_path / "book")],
        cwd=tiny.parent, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "book" / "tables" / "00_data_quality" / "row_accounting.csv").exists()
    accounting = (tmp_path / "book" / "tables" / "00_data_quality" / "row_accounting.csv").read_text(encoding="utf-8-sig")
    assert "users,3,3,0" in accounting


def test_summary_always_runs_last() -> None:
    """The executive summary reads the other chapters' outputs: whatever the selection, it runs
    after them, once."""
    from growthloop.present.summary import SUMMARY_STEM

    every = chapter_paths()
    assert every[-1].stem == SUMMARY_STEM and [p.stem for p in every].count(SUMMARY_STEM) == 1
    assert [p.stem for p in chapter_paths(["02", "00"])] == ["02_funnel", "00_data_quality", SUMMARY_STEM]
    assert [p.stem for p in chapter_paths(["00", "99", "00"])] == ["00_data_quality", SUMMARY_STEM]
    with pytest.raises(RunError, match="under `chapters:`"):
        chapter_paths(["42"])


def test_run_toc_opens_with_the_summary(tmp_path: Path) -> None:
    from growthloop import PROJECT_ROOT
    from growthloop.present.summary import SUMMARY_STEM
    from growthloop.run.runner import write_toc

    project = yaml.safe_load((PROJECT_ROOT / "_toc.yml").read_text(encoding="utf-8"))
    write_toc(tmp_path, chapter_paths(["01"]))
    toc = yaml.safe_load((tmp_path / "_toc.yml").read_text(encoding="utf-8"))
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    assert toc["root"] == f"chapters/{SUMMARY_STEM}"
    assert f"chapters/{SUMMARY_STEM}" not in files  # the root page, not listed twice
    assert [f for f in files if f.startswith("chapters/")] == ["chapters/01_user_profiling"]
    if project["root"] != toc["root"]:  # the project's own root page stays, first in the book
        assert files[0] == project["root"]
    # a run without the summary keeps the project's root
    write_toc(tmp_path, [p for p in chapter_paths(["01"]) if p.stem != SUMMARY_STEM])
    assert yaml.safe_load((tmp_path / "_toc.yml").read_text(encoding="utf-8"))["root"] == project["root"]


def test_cli_errors_say_what_to_do(tmp_path: Path) -> None:
    missing = cli.invoke(app, ["run", str(tmp_path / "nope.yml")])
    assert missing.exit_code == 1 and "growthloop init" in missing.output
    campaign = tmp_path / "c.yml"
    campaign.write_text("name: t\ndata: no_such_folder\n")
    nodata = cli.invoke(app, ["run", str(campaign), "--runs-dir", str(tmp_path / "runs")])
    assert nodata.exit_code == 1 and "relative to the file" in nodata.output
    notdir = cli.invoke(app, ["validate", str(tmp_path / "nowhere")])
    assert notdir.exit_code == 1 and "growthloop init" in notdir.output
    bad = cli.invoke(app, ["run", str(campaign), "-p", "window_days"])
    assert bad.exit_code == 1 and "NAME=VALUE" in bad.output


@pytest.mark.slow
def test_channel_map_from_the_command_line_reaches_chapter_3_and_the_wide_table(tmp_path: Path) -> None:
    # `-p channel_map=...` (docs/own_data.md) used to fail every run: chapter 3 applied it after
    # the runner's store had built the wide table. Now it is applied at load: the aliased source
    # is its new channel in chapter 3's monitoring table and in chapter 1's sign-up channels.
    from growthloop.demo import generate_dataset

    data = tmp_path / "data"
    generate_dataset(data, n_users=600, seed=5)
    campaign = _campaign(tmp_path, data, chapters=["00", "01", "03"])
    runs = tmp_path / "runs"
    result = cli.invoke(app, ["run", str(campaign), "--runs-dir", str(runs),
                              "-p", 'channel_map={"baidu": "品牌搜索", "bd_sem": "品牌搜索"}'])
    assert result.exit_code == 0, result.output
    run = Path(next(r["path"] for r in list_runs(runs) if r["status"] == "complete"))
    monitor = (run / "tables" / "03_channel_attribution" / "channel_monitor.csv").read_text(encoding="utf-8-sig")
    composition = (run / "tables" / "01_user_profiling" / "composition.csv").read_text(encoding="utf-8-sig")
    assert "品牌搜索" in monitor and "品牌搜索" in composition


def test_a_dataset_changed_during_the_run_stops_it(tmp_path: Path, tiny: Path, monkeypatch) -> None:
    # the data-quality page counts the version the run loaded: a chapter must never read
    # another one, so a file rewritten after the load stops the run before the next chapter
    from growthloop.run import runner

    real = runner.prepare_store

    def load_then_change(*args, **kwargs):
        out = real(*args, **kwargs)
        (tiny / "extra.csv").write_text("a,b\n1,2\n", encoding="utf-8")
        return out

    monkeypatch.setattr(runner, "prepare_store", load_then_change)
    runs = tmp_path / "runs"
    result = cli.invoke(app, ["run", str(_campaign(tmp_path, tiny)), "--runs-dir", str(runs)])
    assert result.exit_code == 1 and "changed during the run" in result.output
    assert [r["status"] for r in list_runs(runs)] == ["failed"]
    failed = Path(list_runs(runs)[0]["path"])
    assert not (failed / ".engine").exists() and not any(failed.rglob("*.ipynb"))


def test_a_chapter_refuses_a_store_whose_files_changed(tiny: Path, tmp_path: Path, monkeypatch) -> None:
    from growthloop.errors import DataError
    from growthloop.staging.store import STORE_ENV, open_from_environment, prepare_store

    store = prepare_store(tiny, tmp_path / "s.duckdb")
    monkeypatch.setenv(STORE_ENV, str(store))
    assert open_from_environment(tiny, None) is not None
    stat = (tiny / "users.parquet").stat()
    os.utime(tiny / "users.parquet", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    with pytest.raises(DataError, match="changed after the run loaded them"):
        open_from_environment(tiny, None)


def test_abandoned_runs_lose_their_row_level_data(tmp_path: Path) -> None:
    # a run killed with SIGKILL cannot clean up: the next run removes the loaded store of every
    # temporary run whose process is gone, and leaves a living run's alone
    from growthloop.run.runner import STORE_DIR, clean_abandoned_runs

    dead = tmp_path / "runs" / "demo" / ".20260101-000000.tmp"
    alive = tmp_path / "runs" / "demo" / ".20260101-000001.tmp"
    for run, pid in ((dead, 2**22 + 12345), (alive, os.getpid())):
        (run / STORE_DIR).mkdir(parents=True)
        (run / STORE_DIR / "dataset.duckdb").write_bytes(b"rows")
        (run / "logs").mkdir()
        (run / "logs" / "pid").write_text(f"{pid} {socket.gethostname()}\n")
    assert clean_abandoned_runs(tmp_path / "runs") == [dead]
    assert not (dead / STORE_DIR).exists() and (alive / STORE_DIR / "dataset.duckdb").exists()
    assert {r["status"] for r in list_runs(tmp_path / "runs")} == {"killed", "in progress"}


def test_injected_cell_is_hidden_and_keeps_one_id(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("x = 2")]
    nb.cells[1].metadata["tags"] = ["injected-parameters"]
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    hide_injected_cell(path)
    hide_injected_cell(path)  # twice: tagged once
    cells = nbformat.read(path, as_version=4).cells
    assert cells[1].metadata["tags"] == ["injected-parameters", "remove-cell"]
    assert cells[1]["id"] == "injected-parameters"
    assert "tags" not in cells[0].metadata


@pytest.mark.slow
def test_chapters_run_side_by_side_give_the_same_notebooks(tmp_path: Path, tiny: Path) -> None:
    campaign = _campaign(tmp_path, tiny, chapters=["01", "04"])
    outputs = {}
    for jobs in ("1", "2"):
        runs = tmp_path / f"runs{jobs}"
        result = cli.invoke(app, ["run", str(campaign), "--runs-dir", str(runs), "--jobs", jobs])
        assert result.exit_code == 0, result.output
        (done,) = list_runs(runs)
        run = Path(done["path"])
        outputs[jobs] = {
            nb.name: [(c.execution_count, [str(o.get("data", o.get("text", ""))).replace(str(run), "RUN")
                                           for o in c.outputs])
                      for c in nbformat.read(nb, as_version=4).cells if c.cell_type == "code"]
            for nb in sorted((run / "chapters").glob("*.ipynb"))}
    assert set(outputs["1"]) == {"01_user_profiling.ipynb", "04_rfm.ipynb", "99_summary.ipynb"}
    # with two jobs the summary runs in a kernel started ahead: the same cells, counts, outputs
    assert outputs["1"] == outputs["2"]
    assert [count for count, _ in outputs["2"]["99_summary.ipynb"]][:2] == [1, 2]
    # and every kernel, the one started ahead too, was stopped with its chapter
    import psutil
    assert not [p for p in psutil.Process().children(recursive=True)
                if any("ipykernel_launcher" in part for part in p.cmdline())]


@pytest.mark.slow
def test_two_runs_side_by_side_in_one_process_leave_its_directory_alone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # papermill's cwd and file-handler directory are process-wide and each chapter's thread
    # restores them as it ends; the second run used to fail in the first run's moved folder
    import dataclasses
    import os

    from growthloop.run.runner import PROJECT_ROOT, load_campaign, run_campaign

    monkeypatch.chdir(tmp_path)
    demo = load_campaign(PROJECT_ROOT / "campaigns" / "demo.yml")
    campaign = dataclasses.replace(demo, chapters=["04_rfm", "05_lifecycle_retention"],
                                   parameters={})
    for _ in range(2):
        book = run_campaign(campaign, runs_dir=Path("runs"), jobs=2)  # a relative runs dir
        assert os.getcwd() == str(tmp_path)
        assert Path(book).exists()


@pytest.mark.slow
def test_a_store_larger_than_a_kernels_memory_runs_one_chapter_at_a_time(
        tmp_path: Path, tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # each of two kernels' DuckDB memory made one byte: any store is larger, so a run left to
    # its default runs the two chapters one after the other, and says why (the load's limit
    # is `prepare_store`'s own, not the runner's)
    from growthloop.run import runner
    monkeypatch.setattr(runner, "kernel_memory_limit", lambda limit, kernels: 1)
    campaign = _campaign(tmp_path, tiny, chapters=["01", "04"])
    result = cli.invoke(app, ["run", str(campaign), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    (done,) = list_runs(tmp_path / "runs")
    log = (Path(done["path"]) / "logs" / "run.log").read_text(encoding="utf-8")
    assert "one chapter at a time: the loaded store (" in log and "--jobs N to choose" in log
    lines = log.splitlines()

    def at(text: str) -> int:
        return next(i for i, line in enumerate(lines) if text in line)

    first, second = sorted(("01_user_profiling", "04_rfm"), key=lambda c: at(f"start {c}"))
    assert at(f"done {first}") < at(f"start {second}")


def test_the_default_runs_one_chapter_at_a_time_when_the_store_outgrows_a_kernels_memory() -> None:
    from growthloop.run.runner import jobs_for_store
    gib, mib = 1024**3, 1024**2
    # under 5 GiB each of two kernels gets 2,240 MiB (test_store): the 1M store (0.69 GiB)
    # fits, the 10M one (6.8 GiB) does not; a store of exactly the share still fits
    assert jobs_for_store(2, int(0.69 * gib), 5 * gib) == 2
    assert jobs_for_store(2, int(6.8 * gib), 5 * gib) == 1
    assert jobs_for_store(2, 2240 * mib, 5 * gib) == 2
    assert jobs_for_store(2, 2240 * mib + 1, 5 * gib) == 1
    # one job stays one; a small limit: 512 MiB gives each of two kernels 128 MiB
    assert jobs_for_store(1, 100 * gib, 5 * gib) == 1
    assert jobs_for_store(2, 129 * mib, 512 * mib) == 1
    assert jobs_for_store(2, 100 * mib, 512 * mib) == 2

"""Runs as processes: a killed run leaves nothing that looks finished, two runs at once do not
interfere, and a re-run keeps the earlier run. Real `growthloop run` subprocesses on tiny data."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import event, user, write_dataset, write_tiny

from growthloop.run.runner import PID_FILE, STORE_DIR, _new_run_dir, list_runs

GROWTHLOOP = str(Path(sys.executable).parent / "growthloop")


def _campaign(folder: Path, name: str, data: Path) -> Path:
    path = folder / f"{name}.yml"
    path.write_text(yaml.safe_dump({"name": name, "data": str(data), "chapters": ["00"]}), encoding="utf-8")
    return path


def _start(campaign: Path, runs: Path) -> subprocess.Popen:
    # a session of its own: the kill below reaches the run and the kernel it started, nothing else
    return subprocess.Popen([GROWTHLOOP, "run", str(campaign), "--runs-dir", str(runs)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def test_run_names_are_reserved_atomically(tmp_path: Path) -> None:
    """Runs started in the same second (the same campaign, too) get distinct folders, and a
    temporary folder records its process, so `growthloop runs` can tell running from killed."""
    got = [_new_run_dir(tmp_path, "c") for _ in range(3)]
    finals = [final.name for _, final in got]
    assert len(set(finals)) == 3
    assert all(tmp.name == f".{final.name}.tmp" and tmp.is_dir() for tmp, final in got)
    assert (got[0][0] / "logs" / PID_FILE).read_text().split()[0] == str(os.getpid())
    assert {r["status"] for r in list_runs(tmp_path)} == {"in progress"}  # this process is alive
    # a process that is gone: killed
    (got[1][0] / "logs" / PID_FILE).write_text(f"999999999 {socket.gethostname()}\n")
    (got[2][0] / "logs" / PID_FILE).unlink()
    status = {r["run"]: r["status"] for r in list_runs(tmp_path)}
    assert status == {got[0][0].name: "in progress", got[1][0].name: "killed", got[2][0].name: "killed"}


@pytest.mark.slow
def test_killed_run_leaves_nothing_that_looks_finished(tmp_path: Path, tiny: Path) -> None:
    runs = tmp_path / "runs"
    proc = _start(_campaign(tmp_path, "t", tiny), runs)
    try:
        deadline = time.monotonic() + 120
        while not list(runs.glob("t/.*.tmp/chapters/*.ipynb")):  # a chapter is executing
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline, "the run did not start a chapter"
            time.sleep(0.2)
        assert [r["status"] for r in list_runs(runs)] == ["in progress"]
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    (killed,) = list_runs(runs)
    assert killed["status"] == "killed" and killed["run"].startswith(".")
    assert not [p for p in (runs / "t").iterdir() if not p.name.startswith(".")], "nothing that looks finished"
    assert not list(runs.rglob("_build/html/index.html"))
    # the next run completes; the killed one stays listed as killed and is not published
    again = subprocess.run([GROWTHLOOP, "run", str(tmp_path / "t.yml"), "--runs-dir", str(runs)],
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout[-2000:]
    assert sorted(r["status"] for r in list_runs(runs)) == ["complete", "killed"]
    listing = subprocess.run([GROWTHLOOP, "runs", "--runs-dir", str(runs)], capture_output=True, text=True)
    assert "killed" in listing.stdout and "complete" in listing.stdout


@pytest.mark.slow
def test_two_campaigns_at_once_do_not_interfere(tmp_path: Path) -> None:
    """Campaigns a and b (different data: 3 and 4 users) and a second run of a, all at once.
    Each book has its own data's numbers; a keeps both runs."""


    data_a = write_tiny(tmp_path / "a")
    data_b = write_tiny(tmp_path / "b")
    write_dataset(data_b, users=[user("U1"), user("U2"), user("U3"), user("U4", "2025-03-01 10:00:00")],
                  events=[event("register", "2025-01-01 10:00:00", "U1", "A1"),
                          event("register", "2025-03-01 10:00:00", "U4", "A4")])
    runs = tmp_path / "runs"
    procs = [_start(_campaign(tmp_path, "a", data_a), runs), _start(_campaign(tmp_path, "b", data_b), runs),
             _start(tmp_path / "a.yml", runs)]
    for proc in procs:
        out, _ = proc.communicate(timeout=900)
        assert proc.returncode == 0, out[-2000:]
    done = list_runs(runs)
    assert sorted((r["campaign"], r["status"]) for r in done) == [
        ("a", "complete"), ("a", "complete"), ("b", "complete")]
    assert len({r["path"] for r in done}) == 3
    for r in done:
        run = Path(r["path"])
        users = "users,4,4,0" if r["campaign"] == "b" else "users,3,3,0"
        accounting = (run / "_build" / "html" / "tables" / "00_data_quality" / "row_accounting.csv")
        assert users in accounting.read_text(encoding="utf-8-sig"), r
        recorded = yaml.safe_load((run / "campaign.yml").read_text(encoding="utf-8"))
        assert Path(recorded["data"]) == (data_b if r["campaign"] == "b" else data_a)
        assert not (run / "logs" / PID_FILE).exists()


def test_sigterm_stops_a_run_as_ctrl_c_does(tmp_path: Path) -> None:
    """SIGTERM (a scheduler's timeout) raises RunStopped in the run: the run is kept as
    <name>-failed with the reason, its loaded store removed; a handler of the caller's own is
    left in place, and Python's default comes back after the run."""
    from growthloop.run.runner import RunStopped, _stops_fail_the_run

    previous = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        tmp, final = _new_run_dir(tmp_path, "c")
        (tmp / STORE_DIR).mkdir()
        with pytest.raises(RunStopped) as stopped, _stops_fail_the_run(tmp, final):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises in this thread before the sleep ends
        failed = final.with_name(final.name + "-failed")
        assert stopped.value.signal_name == "SIGTERM" and stopped.value.folder == failed
        assert not tmp.exists() and not (failed / STORE_DIR).exists()
        assert "stopped (SIGTERM)" in (failed / "logs" / "error.txt").read_text(encoding="utf-8")
        assert [r["status"] for r in list_runs(tmp_path)] == ["failed"]
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
        # Ctrl-C: the same folder, its own reason
        tmp, final = _new_run_dir(tmp_path, "d")
        with pytest.raises(KeyboardInterrupt), _stops_fail_the_run(tmp, final):
            raise KeyboardInterrupt
        assert "stopped (Ctrl-C)" in (final.with_name(final.name + "-failed") / "logs"
                                      / "error.txt").read_text(encoding="utf-8")
        # a caller's own handler is theirs to keep
        seen: list[int] = []
        signal.signal(signal.SIGTERM, lambda signum, _frame: seen.append(signum))
        tmp, final = _new_run_dir(tmp_path, "e")
        with _stops_fail_the_run(tmp, final):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.1)
        assert seen == [signal.SIGTERM] and tmp.exists()
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.mark.slow
def test_a_run_sent_sigterm_stops_its_kernels_and_removes_its_row_level_data(
        tmp_path: Path, tiny: Path) -> None:
    """`kill PID` on a running `growthloop run`: exit code 143, the run kept as -failed, and no
    store, spill folder or chapter kernel left behind."""
    import psutil

    spill_root = tmp_path / "spill"
    config = tiny / "dataset.yml"
    before = config.read_text(encoding="utf-8") if config.exists() else ""
    config.write_text(before + f"\nengine:\n  temp_directory: {spill_root}\n", encoding="utf-8")
    runs = tmp_path / "runs"
    proc = _start(_campaign(tmp_path, "t", tiny), runs)
    deadline, kernels = time.monotonic() + 120, []
    while not kernels:  # a chapter's kernel is running
        assert proc.poll() is None, proc.stdout.read()
        assert time.monotonic() < deadline, "the run did not start a chapter"
        time.sleep(0.2)
        with contextlib.suppress(psutil.Error):
            kernels = [p for p in psutil.Process(proc.pid).children(recursive=True)
                       if any("ipykernel_launcher" in part for part in p.cmdline())]
    proc.send_signal(signal.SIGTERM)  # the run's process only, as a scheduler's timeout does
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 143, out[-2000:]
    (failed,) = list_runs(runs)
    assert failed["status"] == "failed" and "stopped (SIGTERM)" in out
    assert not list(runs.rglob(STORE_DIR)) and not list(spill_root.glob("growthloop-run-*"))
    psutil.wait_procs(kernels, timeout=30)
    assert not [p for p in kernels if p.is_running()], "a chapter's kernel outlived the run"


def test_the_next_run_removes_the_spill_folders_of_killed_runs(tmp_path: Path) -> None:
    """A killed run's spill folder (row-level data) is removed; a running process's, another
    machine's and anything not named as a run's spill folder stay."""
    from growthloop.run.runner import clean_abandoned_spill

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    host = socket.gethostname()
    names = {"dead": f"growthloop-run-20250101-090000-{gone.pid}@{host}",
             "second": f"growthloop-run-20250101-090000-2-{gone.pid}@{host}",
             "alive": f"growthloop-run-20250101-090000-{os.getpid()}@{host}",
             "elsewhere": f"growthloop-run-20250101-090000-{gone.pid}@other-{host}",
             "old style": f"growthloop-run-20250101-090000-{gone.pid}",
             "not ours": f"growthloop-cache-{gone.pid}@{host}"}
    for name in names.values():
        (tmp_path / name).mkdir()
        (tmp_path / name / "duckdb_temp_block-1.block").write_bytes(b"rows")
    cleaned = clean_abandoned_spill(tmp_path)
    assert sorted(p.name for p in cleaned) == sorted([names["dead"], names["second"]])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        names[k] for k in ("alive", "elsewhere", "old style", "not ours"))
    assert clean_abandoned_spill(tmp_path / "missing") == []

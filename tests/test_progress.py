"""A run's progress: timings recorded per step, estimates taken from the right earlier run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from growthloop.run.progress import RunReporter, duration, previous_timings, timings_on_same_data


def _run(campaign: Path, name: str, timings: object | None) -> None:
    logs = campaign / name / "logs"
    logs.mkdir(parents=True)
    if timings is not None:
        (logs / "timings.json").write_text(json.dumps(timings) if not isinstance(timings, str)
                                           else timings)


def test_previous_timings_prefers_the_newest_complete_run(tmp_path: Path) -> None:
    assert previous_timings(tmp_path / "none") == (None, {})
    _run(tmp_path, "20260101-000000", {"load": 10, "02_funnel": 5})
    _run(tmp_path, "20260102-000000", {"load": 20})
    _run(tmp_path, "20260103-000000-failed", {"load": 99})  # newer, but failed
    _run(tmp_path, "20260104-000000", "not json")  # unreadable: skipped
    _run(tmp_path, "20260105-000000", None)  # no timings (a run before they were kept)
    _run(tmp_path, ".20260106-000000.tmp", {"load": 1})  # the current run itself
    assert previous_timings(tmp_path) == ("20260102-000000", {"load": 20.0})
    # only runs before the current one
    assert previous_timings(tmp_path, before="20260102-000000") == ("20260101-000000",
                                                                    {"load": 10.0, "02_funnel": 5.0})
    # a failed run when no complete one has timings
    only_failed = tmp_path / "other"
    _run(only_failed, "20260103-000000-failed", {"load": 99, "x": "slow", "y": True})
    assert previous_timings(only_failed) == ("20260103-000000-failed", {"load": 99.0})


def _run_on(runs: Path, campaign: str, name: str, data: Path | str, timings: object | None) -> None:
    _run(runs / campaign, name, timings)
    (runs / campaign / name / "campaign.yml").write_text(yaml.safe_dump({"name": campaign, "data": str(data)}))


def test_a_first_run_takes_its_timings_from_another_campaign_on_the_same_data(tmp_path: Path) -> None:
    runs, data, other = tmp_path / "runs", tmp_path / "data", tmp_path / "other_data"
    data.mkdir()
    assert timings_on_same_data(runs, data) == (None, {})
    _run_on(runs, "a", "20260101-000000", data, {"load": 10})
    _run_on(runs, "b", "20260103-000000", other, {"load": 30})  # newer, other data
    _run_on(runs, "b", "20260102-000000-failed", data, {"load": 20})  # newer, but failed
    _run_on(runs, "c", "20260104-000000", tmp_path / "x" / ".." / "data", {"load": 40})  # same folder
    _run_on(runs, "me", "20260105-000000", data, {"load": 50})  # the campaign's own run
    (runs / "d" / "20260106-000000").mkdir(parents=True)  # no campaign.yml: not read
    _run_on(runs, "e", "20260107-000000", data, {"load": 70})  # after the current run
    assert timings_on_same_data(runs, data, before="20260107-000000", campaign="me") == (
        "c/20260104-000000", {"load": 40.0})
    assert timings_on_same_data(runs, data, before="20260104-000000", campaign="me") == (
        "a/20260101-000000", {"load": 10.0})
    assert timings_on_same_data(runs, data, before="20260101-000000") == (None, {})
    # only a failed run on the data before the current one: its finished steps
    assert timings_on_same_data(runs, data, before="20260103-000000", campaign="a") == (
        "b/20260102-000000-failed", {"load": 20.0})
    assert timings_on_same_data(runs, other, campaign="b") == (None, {})


def test_reporter_logs_each_step_and_keeps_finished_timings(tmp_path: Path) -> None:
    said: list[str] = []
    shown: list[tuple] = []

    class Display:
        def start(self, key, label, estimate):
            shown.append(("start", key, label, estimate))

        def stop(self, key, seconds):
            shown.append(("stop", key, seconds >= 0))

    report = RunReporter(tmp_path, {"load": 12.0}, "20260101-000000", say=said.append)
    with report.step("load", "loading"):
        pass
    with pytest.raises(RuntimeError), report.step("02_funnel", "[1/1] 02_funnel"):
        raise RuntimeError("boom")
    assert json.loads((tmp_path / "timings.json").read_text()).keys() == {"load"}
    log = (tmp_path / "run.log").read_text(encoding="utf-8").splitlines()
    assert log[0].endswith("start load (estimate 12.0 s, from run 20260101-000000)")
    assert log[1].split(" ", 1)[1].startswith("done load in ")
    assert log[2].endswith("start 02_funnel (no estimate: no earlier run of this campaign or on its data did it)")
    assert log[3].split(" ", 1)[1].startswith("failed 02_funnel after ")
    assert said[0] == "loading" and said[1].endswith("(last run 12.0 s)")
    # with a display, the steps are shown there and not also printed
    quiet: list[str] = []
    with RunReporter(tmp_path, {}, None, say=quiet.append, display=Display()).step("book", "b"):
        assert shown == [("start", "book", "b", None)]
    assert quiet == [] and shown[1] == ("stop", "book", True)


def test_steps_running_at_once_each_keep_their_timing(tmp_path: Path) -> None:
    """Chapters run side by side (--jobs): each step ends under its own name, from its thread."""
    import threading

    report = RunReporter(tmp_path, {}, None, say=lambda _: None)
    both_started = threading.Barrier(2, timeout=10)

    def step(key: str) -> None:
        with report.step(key, key):
            both_started.wait()  # neither ends before the other began

    threads = [threading.Thread(target=step, args=(k,)) for k in ("01_a", "02_b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert json.loads((tmp_path / "timings.json").read_text()).keys() == {"01_a", "02_b"}
    log = (tmp_path / "run.log").read_text(encoding="utf-8").splitlines()
    assert len(log) == 4 and all(" start " in line for line in log[:2])
    assert sorted(line.split()[2] for line in log[2:]) == ["01_a", "02_b"]


@pytest.mark.parametrize(("seconds", "text"), [(8.24, "8.2 s"), (185, "3 min 05 s"),
                                               (3720, "1 h 02 min"), (59.99, "60.0 s")])
def test_duration(seconds: float, text: str) -> None:
    assert duration(seconds) == text

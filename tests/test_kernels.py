"""Kernels started ahead of the readers (growthloop.run.kernels) and when the runner starts them."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from growthloop.run import kernels, runner


class FakeKernels:
    """A KernelsAhead that records when kernels are started and hands out numbered ones."""

    def __init__(self, events: list[str]) -> None:
        self.events, self.queue, self.made = events, [], 0
        self.started = threading.Event()

    @property
    def waiting(self) -> int:
        return len(self.queue)

    def start(self, count: int = 1) -> None:
        self.events.append(f"start {count}")
        self.started.set()
        for _ in range(count):
            self.made += 1
            self.queue.append(f"k{self.made}")

    def take(self) -> str | None:
        return self.queue.pop(0) if self.queue else None


def _run(independent: list[str], readers: list[str], jobs: int, ahead: FakeKernels | None,
         events: list[str]) -> None:
    def execute(nb: Path, take=None) -> None:
        events.append(f"run {nb.name} in {take() if take else None}")

    runner._run_pool_then_readers(execute, [Path(n) for n in independent],
                                  [Path(n) for n in readers], jobs, ahead)


def test_readers_kernels_start_once_a_slot_is_free_and_run_in_order() -> None:
    events: list[str] = []
    ahead = FakeKernels(events)

    def execute(nb: Path, take=None) -> None:
        if nb.name == "c2":  # runs beside c1, and on after it until the kernels are started
            ahead.started.wait(5)
            events.append("c2 ends")
        events.append(f"run {nb.name} in {take() if take else None}")

    runner._run_pool_then_readers(execute, [Path("c1"), Path("c2")],
                                  [Path("r1"), Path("r2"), Path("r3")], 2, ahead)
    # the three readers' kernels are started once, when c1 has ended and c2 still runs
    assert events.count("start 3") == 1
    assert events.index("run c1 in None") < events.index("start 3") < events.index("c2 ends")
    assert events[-3:] == ["run r1 in k1", "run r2 in k2", "run r3 in k3"]
    assert "run c2 in None" in events  # the chapters start their own kernels


def test_one_job_starts_no_kernel_ahead() -> None:
    events: list[str] = []
    _run(["c1", "c2"], ["r1", "r2"], 1, FakeKernels(events), events)
    assert events == ["run c1 in None", "run c2 in None", "run r1 in None", "run r2 in None"]


def test_readers_alone_still_take_kernels_started_ahead() -> None:
    events: list[str] = []
    _run([], ["r1", "r2"], 2, FakeKernels(events), events)
    assert events == ["start 2", "run r1 in k1", "run r2 in k2"]


def test_no_reader_starts_no_kernel() -> None:
    events: list[str] = []
    _run(["c1", "c2", "c3"], [], 2, FakeKernels(events), events)
    assert sorted(events) == ["run c1 in None", "run c2 in None", "run c3 in None"]


def test_kernels_ahead_are_taken_in_order_and_the_untaken_stopped(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    made: list[str] = []
    stopped: list[tuple[str, bool]] = []

    def start(cwd: Path) -> str:
        assert cwd == tmp_path
        made.append(f"k{len(made) + 1}")
        if len(made) == 2:
            raise RuntimeError("kernel died")
        return made[-1]

    monkeypatch.setattr(kernels, "start_kernel", start)
    monkeypatch.setattr(kernels, "stop_kernel", lambda km, now: stopped.append((km, now)))
    logged: list[str] = []
    ahead = kernels.KernelsAhead(tmp_path, now=True, log=logged.append)
    assert ahead.take() is None  # none started
    ahead.start(3)
    assert ahead.waiting == 3
    assert ahead.take() == "k1"
    assert ahead.take() is None  # the second failed: its chapter starts its own kernel
    assert logged == ["a kernel started ahead did not start (RuntimeError: kernel died); "
                      "the chapter starts its own"]
    ahead.close()  # the third was never taken
    assert stopped == [("k3", True)]
    assert ahead.waiting == 0


def test_a_kernel_started_ahead_imports_the_book_silently(tmp_path: Path) -> None:
    km = kernels.start_kernel(tmp_path)
    try:
        client = km.blocking_client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=60)
            seen: list[dict] = []
            reply = client.execute_interactive(
                "import os, sys; print(os.getcwd(), 'growthloop.book' in sys.modules)",
                output_hook=seen.append, timeout=60)
        finally:
            client.stop_channels()
        assert reply["content"]["status"] == "ok"
        assert reply["content"]["execution_count"] == 1  # the warm-up counted no execution
        text = "".join(m["content"].get("text", "") for m in seen if m["msg_type"] == "stream")
        assert text.split() == [str(tmp_path), "True"]
    finally:
        kernels.stop_kernel(km, now=True)
    assert not km.has_kernel

"""Chapter kernels started ahead of their chapter, so a chapter's first cell does not wait for
a kernel to start and for the book's imports.

A chapter's kernel costs about 2 s before its first query: starting the kernel, then
``import growthloop.book`` (matplotlib, pandas, Ibis and its SQL compilers; docs/benchmarks.md,
round thirteen). Once a slot of ``jobs`` is free (fewer chapters left to run than jobs), the
runner starts the readers' kernels, one after another, while the last chapters and readers run
(`growthloop.run.runner._run_pool_then_readers`), and papermill runs each reader in its own. The imports run silently: the notebook's execution counts still start at 1,
and an import that fails there fails again in the notebook's own cell, where the run reports
it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from jupyter_client import AsyncKernelManager

#: The kernel spec every chapter runs in (papermill's `kernel_name`, a kernel started ahead).
KERNEL_NAME = "python3"
#: What a kernel started ahead imports before its notebook runs: the module every chapter
#: imports first, and with it most of the kernel's import time.
WARM_UP = "import growthloop.book"
#: Seconds to wait for a kernel to start, and for the imports to end.
START_TIMEOUT = 60
WARM_UP_TIMEOUT = 120


def start_kernel(cwd: Path, kernel_name: str = KERNEL_NAME) -> AsyncKernelManager:
    """A kernel in `cwd`, with this process's environment, after WARM_UP.

    Parameters
    ----------
    cwd : Path
        The kernel's working directory (a run's chapters/ folder, as papermill's `cwd`).
    kernel_name : str, default KERNEL_NAME
        The kernel spec, as papermill's `kernel_name`.

    Returns
    -------
    jupyter_client.AsyncKernelManager
        The running kernel's manager, to pass to papermill as ``km`` and to `stop_kernel`
        after it.
    """
    km = AsyncKernelManager(kernel_name=kernel_name)
    asyncio.run(km.start_kernel(cwd=str(cwd)))
    try:
        client = km.blocking_client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=START_TIMEOUT)
            # silent: no execution count, no output (a failing import shows in the notebook)
            client.execute_interactive(WARM_UP, silent=True, timeout=WARM_UP_TIMEOUT,
                                       output_hook=lambda _msg: None)
        finally:
            client.stop_channels()
    except BaseException:
        stop_kernel(km, now=True)
        raise
    return km


def stop_kernel(km: AsyncKernelManager, now: bool) -> None:
    """Stop a kernel from `start_kernel`; a kernel already gone is left alone.

    Parameters
    ----------
    km : jupyter_client.AsyncKernelManager
        The kernel's manager.
    now : bool
        Kill it at once (as papermill's "immediate"), else ask it to shut down.
    """

    async def stop() -> None:
        try:
            if await km.is_alive():
                await km.shutdown_kernel(now=now)
        finally:
            await km.cleanup_resources()

    with contextlib.suppress(RuntimeError):  # "No kernel is running!"
        asyncio.run(stop())


class KernelsAhead:
    """Kernels started ahead, one after another in a thread of their own, for the next chapters
    to take in the order they were started.

    Parameters
    ----------
    cwd : Path
        The kernels' working directory.
    now : bool
        Stop an untaken kernel at once (see `stop_kernel`).
    log : callable
        Called with a line when a kernel started ahead failed to start (its chapter then
        starts its own, as without one).
    """

    def __init__(self, cwd: Path, now: bool, log: Callable[[str], None]) -> None:
        self._cwd, self._now, self._log = cwd, now, log
        self._threads = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kernel-ahead")
        self._queue: deque[Future] = deque()

    @property
    def waiting(self) -> int:
        """Kernels started (or to be started) and not taken yet."""
        return len(self._queue)

    def start(self, count: int = 1) -> None:
        """Start more kernels, each once the one before it is ready.

        Parameters
        ----------
        count : int, default 1
            How many.
        """
        for _ in range(count):
            self._queue.append(self._threads.submit(start_kernel, self._cwd))

    def take(self) -> AsyncKernelManager | None:
        """The oldest started kernel, once it is ready.

        Returns
        -------
        jupyter_client.AsyncKernelManager or None
            None when none is left, or when it failed to start (logged).
        """
        if not self._queue:
            return None
        try:
            return self._queue.popleft().result()
        except Exception as exc:  # noqa: BLE001  (any failure: the chapter starts its own)
            self._log(f"a kernel started ahead did not start ({type(exc).__name__}: {exc}); "
                      "the chapter starts its own")
            return None

    def close(self) -> None:
        """Stop the kernels started and not taken (a failed run, a chapter that did not start)."""
        while self._queue:
            started = self._queue.popleft()
            if not started.cancel():
                with contextlib.suppress(Exception):
                    stop_kernel(started.result(), now=self._now)
        self._threads.shutdown(wait=True)

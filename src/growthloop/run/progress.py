"""How a run reports its progress: a line per step in the run's log, and in the terminal a bar
per step with its elapsed time against an estimate taken from the previous run of the same
campaign (on its first run, from the newest run of another campaign on the same data).

A run's steps are the load, each chapter and the book build. Each finished step's seconds go to
the run's ``logs/timings.json`` as soon as it ends (a failed run keeps the steps it finished);
the next run of the campaign reads the newest earlier run that has them. The log,
``logs/run.log``, has a time-stamped line when a step starts (with its estimate) and when it ends.
Chapters may run at once (``growthloop run --jobs``): every step is keyed by its name, and the
reporter may be called from several threads.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import yaml

TIMINGS_FILE = "timings.json"
LOG_FILE = "run.log"


class StepDisplay(Protocol):
    """What shows a step while it runs (the CLI's terminal bars); the runner calls it."""

    def start(self, key: str, label: str, estimate: float | None) -> None:
        """A step begins.

        Parameters
        ----------
        key : str
            The step's name ("load", a chapter stem, "book"); `stop` names it again.
        label : str
            The step as shown.
        estimate : float or None
            The seconds it took in the previous run (`previous_timings`, else
            `timings_on_same_data`), None when unknown.
        """

    def stop(self, key: str, seconds: float) -> None:
        """A step ended.

        Parameters
        ----------
        key : str
            The step's name, as given to `start`.
        seconds : float
            Its wall time.
        """


def previous_timings(campaign_dir: Path, before: str | None = None) -> tuple[str | None, dict[str, float]]:
    """The step timings of the newest earlier run of a campaign that recorded any.

    Parameters
    ----------
    campaign_dir : Path
        The campaign's folder of runs (``runs/<campaign>``).
    before : str, optional
        Only runs whose folder name sorts before this one (the current run's name).

    Returns
    -------
    tuple of (str or None, dict)
        The run's folder name and its seconds per step; (None, {}) when no earlier run has them.
        A complete run is preferred to a failed one, which has only the steps it finished.
    """
    if not campaign_dir.is_dir():
        return None, {}
    found = _newest_timings(_runs(campaign_dir, before))
    return (found[0].name, found[1]) if found else (None, {})


def timings_on_same_data(runs_dir: Path, data: Path, before: str | None = None,
                         campaign: str | None = None) -> tuple[str | None, dict[str, float]]:
    """The step timings of the newest earlier run of another campaign on the same data folder.

    A campaign's first run has no run of its own to go by; a run of another campaign on the
    same data took about as long per chapter, and its times order the chapters (the longest
    first) and fill the progress bars.

    Parameters
    ----------
    runs_dir : Path
        The folder of every campaign's runs (``runs/``).
    data : Path
        The dataset folder of the current run.
    before : str, optional
        Only runs whose folder name (their start time) sorts before this one.
    campaign : str, optional
        The current campaign, whose own runs are not looked at (`previous_timings` does that).

    Returns
    -------
    tuple of (str or None, dict)
        ``<campaign>/<run>`` and its seconds per step; (None, {}) when no such run has them.
        A complete run is preferred to a failed one.
    """
    if not runs_dir.is_dir():
        return None, {}
    target = Path(data).resolve()
    runs = [run for folder in sorted(runs_dir.iterdir())
            if folder.is_dir() and folder.name != campaign and not folder.name.startswith(".")
            for run in _runs(folder, before) if _data_of(run) == target]
    found = _newest_timings(runs)
    return (f"{found[0].parent.name}/{found[0].name}", found[1]) if found else (None, {})


def _runs(campaign_dir: Path, before: str | None) -> list[Path]:
    """A campaign's run folders before `before`, not the run in progress (a dot folder)."""
    return [p for p in campaign_dir.iterdir()
            if p.is_dir() and not p.name.startswith(".") and (before is None or p.name < before)]


def _data_of(run: Path) -> Path | None:
    """The dataset folder a run read (its campaign.yml), None when it cannot be read."""
    try:
        recorded = yaml.safe_load((run / "campaign.yml").read_text(encoding="utf-8"))
        return Path(recorded["data"]).resolve()
    except (OSError, ValueError, TypeError, KeyError, yaml.YAMLError):
        return None


def _newest_timings(runs: list[Path]) -> tuple[Path, dict[str, float]] | None:
    """The newest run with readable timings (a complete one before a failed one)."""
    for run in sorted(runs, key=lambda p: (not p.name.endswith("-failed"), p.name), reverse=True):
        try:
            timings = json.loads((run / "logs" / TIMINGS_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(timings, dict):
            return run, {str(k): float(v) for k, v in timings.items()
                         if isinstance(v, int | float) and not isinstance(v, bool)}
    return None


def duration(seconds: float) -> str:
    """Seconds as a person reads them: 8.2 s, 3 min 05 s, 1 h 02 min.

    Parameters
    ----------
    seconds : float
        A duration.

    Returns
    -------
    str
        The duration in words.
    """
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class RunReporter:
    """Reports a run's steps to its log, its timings file, a line printer and a display.

    Parameters
    ----------
    logs : Path
        The run's logs folder; ``run.log`` and ``timings.json`` are written there.
    estimates : dict
        Seconds per step from the previous run (`previous_timings`, else
        `timings_on_same_data`).
    source : str, optional
        That run's name, named in the log beside each estimate.
    say : callable
        Called with each line meant for a person (``print`` by default in the runner).
    display : StepDisplay, optional
        Shows each step while it runs (the terminal bars); when given, the steps are not also
        printed as lines.
    """

    def __init__(self, logs: Path, estimates: dict[str, float] | None = None,
                 source: str | None = None, say: Callable[[str], None] = print,
                 display: StepDisplay | None = None) -> None:
        self.logs = logs
        self.estimates = dict(estimates or {})
        self.source = source
        self.say = say
        self.display = display
        self.timings: dict[str, float] = {}
        self._lock = threading.Lock()  # steps may end in several threads at once

    def log(self, text: str) -> None:
        """Append a time-stamped line to the run log.

        Parameters
        ----------
        text : str
            The line, without its time stamp.
        """
        stamp = dt.datetime.now().astimezone().isoformat(timespec="seconds")
        with self._lock, (self.logs / LOG_FILE).open("a", encoding="utf-8") as f:
            f.write(f"{stamp} {text}\n")

    def message(self, text: str) -> None:
        """A line for the person running the book, also kept in the log.

        Parameters
        ----------
        text : str
            The line.
        """
        self.log(text)
        self.say(text)

    @contextlib.contextmanager
    def step(self, key: str, label: str) -> Iterator[None]:
        """Time one step: log its start with the estimate, show it, record its seconds.

        Parameters
        ----------
        key : str
            The step's name in timings.json ("load", a chapter stem, "book").
        label : str
            The step as shown to the person.

        Yields
        ------
        None
            Control, while the step runs; a step that raises is logged as failed and its
            seconds are not kept.
        """
        estimate = self.estimates.get(key)
        if estimate is None:
            self.log(f"start {key} (no estimate: no earlier run of this campaign or on its data "
                     "did it)")
        else:
            self.log(f"start {key} (estimate {duration(estimate)}, from run {self.source})")
        if self.display is None:
            self.say(label)
        else:
            self.display.start(key, label, estimate)
        started = time.perf_counter()
        ok = False
        try:
            yield
            ok = True
        finally:
            seconds = time.perf_counter() - started
            if self.display is not None:
                self.display.stop(key, seconds)
            if ok:
                with self._lock:
                    self.timings[key] = round(seconds, 2)
                    (self.logs / TIMINGS_FILE).write_text(json.dumps(self.timings, indent=1),
                                                          encoding="utf-8")
                self.log(f"done {key} in {duration(seconds)}")
                if self.display is None:
                    last = "" if estimate is None else f" (last run {duration(estimate)})"
                    self.say(f"    {label} in {duration(seconds)}{last}")
            else:
                self.log(f"failed {key} after {duration(seconds)}")


__all__ = ["LOG_FILE", "TIMINGS_FILE", "RunReporter", "StepDisplay", "duration", "previous_timings",
           "timings_on_same_data"]

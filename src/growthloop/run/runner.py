"""Run the playbook for one campaign: execute every chapter with papermill, then build the book.

A run works in a hidden temporary folder under runs/<campaign>/ and is renamed to its final
name only when every chapter succeeded and the book built, so a run killed halfway never looks
finished and never overwrites an earlier run. A failing chapter stops the run; its partial
notebook is kept in the failed run's logs/ (with error.txt naming the failing cell) and is
never published. The dataset is loaded once, before the first chapter, into a DuckDB file
that every chapter's kernel attaches read-only (growthloop.staging.store); it is deleted when the
chapters are done. The temporary folder holds the running process's id (logs/pid), so
`growthloop runs` tells a run in progress from one that was killed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import pickle
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import papermill
import yaml
from jupyter_client import AsyncKernelManager

from growthloop import PROJECT_ROOT
from growthloop.book import EXPORTS_DIR, TABLES_DIR
from growthloop.errors import ConfigError
from growthloop.marts import stored_marts
from growthloop.present.summary import (
    DATA_QUALITY_STEM,
    READER_STEMS,
    SUMMARY_STEM,
    execution_order,
)
from growthloop.present.tables import check_min_cell
from growthloop.run.kernels import KERNEL_NAME, KernelsAhead, stop_kernel
from growthloop.run.progress import (
    RunReporter,
    StepDisplay,
    previous_timings,
    timings_on_same_data,
)
from growthloop.staging.config import load_config, with_channel_map
from growthloop.staging.loader import as_date
from growthloop.staging.store import (
    KERNELS_ENV,
    SPILL_ENV,
    STORE_ENV,
    fingerprint,
    kernel_memory_limit,
    prepare_store,
    shares_a_store,
)

CHAPTERS_DIR = PROJECT_ROOT / "chapters"
BOOK_FILES = ("_config.yml", "intro.md")
BOOK_DIRS = ("docs", "_static", "_ext")
# Parameters the runner sets itself for every chapter.
RUNNER_PARAMETERS = ("data", "out_dir")
# The run's shared, loaded dataset (growthloop.staging.store): inside the run folder while it runs,
# deleted before the book is built.
STORE_DIR = ".engine"
#: The chapters' spill folder under engine.temp_directory: SPILL_PREFIX<run>-<pid>@<host>
SPILL_PREFIX = "growthloop-run-"
CHILD_ERROR = "error.pickle"  # a load in a child process: its error, pickled


class RunError(RuntimeError):
    """A run cannot start or did not finish; the message says why and what to do."""


class RunStopped(KeyboardInterrupt):
    """A run stopped by SIGTERM (a scheduler's timeout, `kill`), handled as Ctrl-C is: the
    chapters' kernels are stopped, the loaded store and the spill folder removed, and the run
    kept as ``<name>-failed`` (`folder`)."""

    def __init__(self, signal_name: str) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name
        self.folder: Path | None = None


@dataclass
class CampaignRun:
    """A campaign YAML: which data, which chapters, which parameters."""

    name: str
    data: Path
    parameters: dict[str, Any] = field(default_factory=dict)
    chapters: list[str] = field(default_factory=list)


def chapter_paths(names: list[str] | None = None) -> list[Path]:
    """The chapter notebooks in book order, or the named ones (by file stem or its number).

    The executive summary (99_summary) always comes last, whatever the names: it reads the
    other chapters' executed notebooks, so it must run after them.

    Parameters
    ----------
    names : list of str, optional
        Chapter stems ("02_funnel") or numbers ("02"); None or empty: every chapter.

    Returns
    -------
    list of Path
        The chapter notebooks, the summary last.

    Raises
    ------
    RunError
        When a name is no chapter's.
    """
    every = sorted(CHAPTERS_DIR.glob("[0-9][0-9]_*.ipynb"))
    summary = [p for p in every if p.stem == SUMMARY_STEM]
    every = [p for p in every if p.stem != SUMMARY_STEM]
    if not names:
        return every + summary
    chosen: list[Path] = []
    for name in names:
        if name in (SUMMARY_STEM, SUMMARY_STEM.split("_", 1)[0]):
            continue
        hits = [p for p in every if p.stem == name or p.stem.split("_", 1)[0] == name]
        if not hits:
            raise RunError(f"no chapter {name!r}; the chapters are {[p.stem for p in every]} "
                           f"(write their stem or number under `chapters:` in the campaign file)")
        chosen.extend(h for h in hits if h not in chosen)
    return chosen + summary


def load_campaign(path: str | Path) -> CampaignRun:
    """Read a campaign YAML (name, data, parameters, chapters); `data` is relative to the file.

    Parameters
    ----------
    path : str or Path
        The campaign file.

    Returns
    -------
    CampaignRun
        Its name, resolved data folder, parameters and chapters (numbers as "02").

    Raises
    ------
    RunError
        When the file is missing, not UTF-8 YAML, or has an unknown key or a bad value; the
        message says what to write instead.
    """
    path = Path(path)
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise RunError(f"campaign file {path} {what}: give the campaign's YAML file, or write one "
                       f"with `growthloop init <dataset folder>` (it writes campaign.yml beside "
                       f"dataset.yml)")
    try:
        raw = yaml.safe_load(path.read_bytes().decode("utf-8-sig")) or {}
    except UnicodeDecodeError as exc:
        raise RunError(f"{path} is not UTF-8 text (byte {exc.start}): save it as UTF-8") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark is not None else ""
        raise RunError(f"{path} is not valid YAML{at}: "
                       f"{getattr(exc, 'problem', None) or str(exc).splitlines()[0]}") from None
    except ValueError as exc:  # a date YAML recognises but that does not exist: 2026-13-01
        raise RunError(f"{path}: {exc} in a date; write dates as YYYY-MM-DD (quoted: "
                       "\"2026-05-31\")") from None
    if not isinstance(raw, dict):
        raise RunError(f"{path}: expected a mapping with name, data, parameters")
    unknown = sorted(set(raw) - {"name", "data", "parameters", "chapters"})
    if unknown:
        raise RunError(f"{path}: unknown key(s) {unknown}; use name, data, parameters, chapters")
    if "data" not in raw or not isinstance(raw["data"], str):
        raise RunError(f"{path}: needs `data:`, the dataset folder (relative to this file)")
    parameters = raw.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise RunError(f"{path}: parameters must be a mapping of NAME: value, got {parameters!r}")
    chapters = raw.get("chapters") or []
    if not isinstance(chapters, list) or not all(isinstance(c, str | int) for c in chapters):
        raise RunError(f"{path}: chapters must be a list of chapter numbers or stems, e.g. "
                       f"[\"00\", \"02\"]; got {chapters!r}")
    data = (path.parent / raw["data"]).resolve()
    name = str(raw.get("name", path.stem))
    if not name.replace("-", "").replace("_", "").isalnum():
        raise RunError(f"{path}: name {name!r} must be letters, digits, - or _ (it names the run folder)")
    return CampaignRun(name=name, data=data, parameters=dict(parameters),
                       chapters=[f"{c:02d}" if isinstance(c, int) else c for c in chapters])


def plain_parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    """Parameter values as papermill can write them into a notebook (JSON): a date read from
    YAML (`analysis_date: 2026-05-31` unquoted, `-p analysis_date=2026-05-31`) becomes its
    YYYY-MM-DD text, inside lists and mappings too. The run-wide parameters are checked here,
    before any chapter starts: analysis_date, min_cell_size, channel_map.

    Parameters
    ----------
    parameters : dict
        The campaign's parameters with the command line's overrides.

    Returns
    -------
    dict
        The same parameters with dates as text.

    Raises
    ------
    RunError
        When analysis_date, min_cell_size or channel_map is not valid.
    """
    def plain(value: Any) -> Any:
        if isinstance(value, dt.datetime):
            return value.isoformat(sep=" ")
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        return value

    out = {str(k): plain(v) for k, v in parameters.items()}
    if out.get("analysis_date") is not None:
        try:
            as_date(str(out["analysis_date"]))
        except ValueError as exc:
            raise RunError(f"parameter analysis_date: {exc} (write YYYY-MM-DD, e.g. 2026-05-31)") from None
    if "min_cell_size" in out:
        try:
            check_min_cell(out["min_cell_size"])
        except ValueError as exc:
            raise RunError(f"parameter {exc}") from None
    if out.get("channel_map"):
        try:
            with_channel_map((), out["channel_map"])
        except ConfigError as exc:
            raise RunError(f"parameter {exc}") from None
    return out


def declared_parameters(notebook: Path) -> set[str]:
    """The names a chapter declares in its parameters cell (papermill's own reading).

    Parameters
    ----------
    notebook : Path
        A chapter notebook.

    Returns
    -------
    set of str
        Its parameter names.
    """
    return set(papermill.inspect_notebook(str(notebook)).keys())


def split_parameters(chapters: list[Path], parameters: dict[str, Any]) -> dict[Path, dict[str, Any]]:
    """Each chapter gets the parameters it declares; a name no chapter declares is refused
    (papermill itself would only warn and run with the default).

    Parameters
    ----------
    chapters : list of Path
        The chapter notebooks of the run.
    parameters : dict
        The run's parameters.

    Returns
    -------
    dict of Path to dict
        Per chapter, the parameters it declares.

    Raises
    ------
    RunError
        For a name no chapter declares, or one the runner sets itself (data, out_dir).
    """
    declared = {nb: declared_parameters(nb) for nb in chapters}
    known = set().union(*declared.values()) if declared else set()
    unknown = sorted(set(parameters) - known)
    if unknown:
        raise RunError(f"unknown parameter(s) {unknown}: no chapter declares them. "
                       f"Declared: {sorted(known - set(RUNNER_PARAMETERS))}")
    reserved = sorted(set(parameters) & set(RUNNER_PARAMETERS))
    if reserved:
        raise RunError(f"parameter(s) {reserved} are set by the runner; set `data:` in the campaign file")
    return {nb: {k: v for k, v in parameters.items() if k in declared[nb]} for nb in chapters}


def hide_injected_cell(path: Path) -> None:
    """Tag papermill's injected-parameters cell so the HTML book does not show it, and give it a
    stable id (papermill draws a random one) so the same run gives the same notebook.

    Parameters
    ----------
    path : Path
        An executed notebook, rewritten in place.
    """
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "injected-parameters" in tags:
            cell["id"] = "injected-parameters"
            if "remove-cell" not in tags:
                cell["metadata"]["tags"] = [*tags, "remove-cell"]
    nbformat.write(nb, path)


def write_toc(book_dir: Path, chapters: list[Path]) -> None:
    """The run's _toc.yml: the root book's, with only the chapters this run executed.

    When the executive summary ran, it opens the book: it becomes the root page (the site's
    index.html) and the root book's own root (intro) the first entry of the first part.

    Parameters
    ----------
    book_dir : Path
        The run's book folder; its _toc.yml is written.
    chapters : list of Path
        The chapters the run executed.
    """
    toc = yaml.safe_load((PROJECT_ROOT / "_toc.yml").read_text(encoding="utf-8"))
    stems = {f"chapters/{p.stem}" for p in chapters}
    summary = f"chapters/{SUMMARY_STEM}"
    for part in toc.get("parts", []):
        part["chapters"] = [c for c in part["chapters"]
                            if c["file"] != summary
                            and (not c["file"].startswith("chapters/") or c["file"] in stems)]
    toc["parts"] = [p for p in toc.get("parts", []) if p["chapters"]]
    if summary in stems and toc.get("root") != summary:
        old_root = toc.get("root")
        toc["root"] = summary
        if old_root and toc["parts"]:
            toc["parts"][0]["chapters"].insert(0, {"file": old_root})
    (book_dir / "_toc.yml").write_text(yaml.safe_dump(toc, allow_unicode=True, sort_keys=False),
                                       encoding="utf-8")


def build_book(book_dir: Path) -> Path:
    """jupyter-book build with warnings as errors; tables are copied in for download.

    Parameters
    ----------
    book_dir : Path
        A folder with _config.yml, _toc.yml, the executed chapters and tables/.

    Returns
    -------
    Path
        The built html folder.

    Raises
    ------
    RunError
        When jupyter-book fails (a broken glue reference, a missing page ...), with its last
        lines of output.
    """
    exe = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(exe) if exe.exists() else "jupyter-book", "build", str(book_dir), "-W", "--keep-going"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-40:])
        raise RunError(f"the book did not build (jupyter-book exit {result.returncode}):\n{tail}")
    html_dir = book_dir / "_build" / "html"
    _drop_duplicate_thebe_config(html_dir)
    if (book_dir / TABLES_DIR).exists():
        shutil.copytree(book_dir / TABLES_DIR, html_dir / TABLES_DIR, dirs_exist_ok=True)
    (html_dir / ".nojekyll").touch()
    return html_dir


PID_FILE = "pid"


_THEBE_CONFIG = re.compile(r"^\s*<script>const THEBE_JS_URL = [^\n]*</script>\n", re.M)


def _drop_duplicate_thebe_config(html_dir: Path) -> None:
    """Keep one of the two identical `const THEBE_JS_URL ...` scripts sphinx-thebe 0.3.1 writes
    into every page: the second is a console error (SyntaxError: already declared)."""
    for page in html_dir.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        found = _THEBE_CONFIG.findall(text)
        if len(found) > 1 and len(set(found)) == 1:
            first = text.index(found[0]) + len(found[0])
            page.write_text(text[:first] + _THEBE_CONFIG.sub("", text[first:]), encoding="utf-8")


def _new_run_dir(runs_dir: Path, name: str) -> tuple[Path, Path]:
    """Reserve a new run name: its hidden temporary folder is created atomically (mkdir), so two
    runs started in the same second, even of the same campaign, never share a folder."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = runs_dir / name
    base.mkdir(parents=True, exist_ok=True)
    n = 1
    while True:
        final = base / (stamp if n == 1 else f"{stamp}-{n}")
        n += 1
        if final.exists() or final.with_name(final.name + "-failed").exists():
            continue
        tmp = base / f".{final.name}.tmp"
        try:
            tmp.mkdir()
        except FileExistsError:
            continue
        (tmp / "logs").mkdir()
        (tmp / "logs" / PID_FILE).write_text(f"{os.getpid()} {socket.gethostname()}\n", encoding="utf-8")
        return tmp, final


def failing_cell(notebook: Path) -> str:
    """The failing cell of a partial notebook: its number among the code cells, its id and the
    line that raised (papermill's injected-parameters cell counts as a code cell).

    Parameters
    ----------
    notebook : Path
        A partial notebook papermill wrote.

    Returns
    -------
    str
        "code cell N (id ...), at: <line>", or a sentence saying no cell holds an error.
    """
    nb = nbformat.read(notebook, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    for i, cell in enumerate(code, 1):
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors:
            # the cell's own line in the traceback ("----> 4 ch = gb.chapter(...)"), else its first
            trace = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(errors[0].get("traceback", [])))
            at = re.search(r"^-+> *\d+ (.+)$", trace, re.M)
            line = at.group(1) if at else next((x for x in cell.source.splitlines() if x.strip()), "")
            return f"code cell {i} (id {cell.get('id', '?')}), at: {line.strip()[:120]}"
    return "no cell with an error output (the kernel may have died)"


def run_campaign(campaign: CampaignRun, runs_dir: Path | None = None,
                 overrides: dict[str, Any] | None = None,
                 progress: Callable[[str], None] = print,
                 display: StepDisplay | None = None, jobs: int | None = None) -> Path:
    """Execute the campaign's chapters into a new run folder and build its book; returns it.

    Parameters
    ----------
    campaign : CampaignRun
        The campaign file's contents (`load_campaign`).
    runs_dir : Path, optional
        Where run folders go; ``runs/`` in the project by default.
    overrides : dict, optional
        Parameters that replace the campaign file's (``-p NAME=VALUE``).
    progress : callable, default print
        Called with each line of progress.
    display : StepDisplay, optional
        Shows each step (load, chapter, book) while it runs (the CLI's terminal bars), with an
        estimate from the previous run of the campaign, or on its first run from the newest run
        of another campaign on the same data (`timings_on_same_data`). Every step is also
        written, time-stamped, to the run's ``logs/run.log``, and its seconds to
        ``logs/timings.json``.
    jobs : int, optional
        Chapters executed at once; by default (`default_jobs`) two on DuckDB on a machine with
        two cores or more, one on Spark and PostgreSQL (each chapter opens its own session
        there: two local Spark drivers would share one machine's memory), and one on DuckDB
        when the loaded store is larger than each of two kernels' memory (`jobs_for_store`).
        The readers of the other chapters run after them, one at a time. On DuckDB each
        chapter's kernel gets its share of the dataset's memory limit (KERNELS_ENV,
        `store.kernel_memory_limit`: the limit less the Python side of each kernel beyond the
        first, and of a lone one, divided by `jobs`), and the load a lone kernel's limit, so
        the load and the chapters hold about as much; the numeric libraries' threads get the
        cores divided by `jobs` (`numeric_threads`).

    Returns
    -------
    Path
        The run folder; its book is ``_build/html/index.html``.

    Raises
    ------
    RunError
        When the run cannot start or a step fails; a failed run is kept as ``<name>-failed``.
    """
    # absolute: the chapters run from the run's chapters/ folder (`_execute_chapters`)
    runs_dir = Path(runs_dir).resolve() if runs_dir else PROJECT_ROOT / "runs"
    if jobs is not None and (not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1):
        raise RunError(f"jobs: {jobs!r} is not a number of chapters to run at once (1 or more)")
    if not campaign.data.is_dir():
        what = "is a file, not a folder" if campaign.data.exists() else "does not exist"
        raise RunError(f"dataset folder {campaign.data} {what} (campaign {campaign.name}): "
                       f"`data:` names the folder of the tables, relative to the file itself")
    chapters = chapter_paths(campaign.chapters)
    params = plain_parameters({**campaign.parameters, **(overrides or {})})
    per_chapter = split_parameters(chapters, params)
    clean_abandoned_runs(runs_dir)
    try:
        tmp, final = _new_run_dir(runs_dir, campaign.name)
    except OSError as exc:
        raise RunError(f"cannot create the run folder under {runs_dir} ({exc.strerror or exc}): "
                       "choose a folder you can write with --runs-dir") from None
    with _stops_fail_the_run(tmp, final) as stops:
        for name in BOOK_FILES:
            shutil.copy2(PROJECT_ROOT / name, tmp / name)
        for name in BOOK_DIRS:
            if (PROJECT_ROOT / name).is_dir():
                shutil.copytree(PROJECT_ROOT / name, tmp / name)
        source, estimates = previous_timings(runs_dir / campaign.name, before=final.name)
        if source is None:  # a campaign's first run: another campaign's run on the same data
            source, estimates = timings_on_same_data(runs_dir, campaign.data, final.name,
                                                     campaign.name)
        report = RunReporter(tmp / "logs", estimates, source, say=progress, display=display)
        report.log(f"run {final.name} of campaign {campaign.name} on {campaign.data}; chapters "
                   + ", ".join(p.stem for p in chapters))
        write_toc(tmp, chapters)
        (tmp / "chapters").mkdir()
        (tmp / "campaign.yml").write_text(yaml.safe_dump(
            {"name": campaign.name, "data": str(campaign.data), "parameters": params,
             "chapters": [p.stem for p in chapters]}, allow_unicode=True), encoding="utf-8")
        (tmp / STORE_DIR).mkdir(mode=0o700)  # row-level data: readable by the run's owner only
        loaded = fingerprint(campaign.data)  # before the load: a change during it shows too
        try:
            config = load_config(campaign.data)
            backend = config.engine.backend
            asked, jobs = jobs, jobs or default_jobs(backend)
            store = tmp / STORE_DIR / ("dataset.duckdb" if backend == "duckdb" else backend)
            if shares_a_store(config):
                with report.step("load", "loading the dataset once for every chapter"):
                    # DuckDB: the load takes a lone kernel's memory limit (`prepare_store`)
                    load = prepare_store if backend == "duckdb" else _prepare_store_apart
                    load(campaign.data, store, params.get("analysis_date"),
                         marts=stored_marts(), channel_map=params.get("channel_map"))
                if asked is None and backend == "duckdb":
                    size = store.stat().st_size
                    fewer = jobs_for_store(jobs, size, config.engine.memory_limit)
                    if fewer < jobs:
                        share = kernel_memory_limit(config.engine.memory_limit, jobs)
                        report.message(
                            f"one chapter at a time: the loaded store ({size / 2**30:.2f} GiB) is "
                            f"larger than the DuckDB memory of each of {jobs} chapters side by "
                            f"side ({share / 2**30:.2f} GiB), which would spill what one alone "
                            "keeps in memory (--jobs N to choose)")
                        jobs = fewer
            else:  # the tables stay in the engine; each chapter opens them itself
                report.message(f"engine {backend}: each chapter opens the dataset in it (a run "
                               "shares one load between chapters on DuckDB and on a local Spark)")
        except Exception as exc:  # a DataError, a bad config: the chapters would fail the same way
            if stops:  # DuckDB answers a signal with "Query interrupted": the run was stopped
                stopped = RunStopped(stops[0]) if stops[0] == "SIGTERM" else KeyboardInterrupt()
                raise stopped from None
            message = f"the dataset could not be loaded ({type(exc).__name__}: {exc})."
            failed = _fail(tmp, final, None, message)
            raise RunError(f"{message} Nothing was run: {failed / 'logs' / 'error.txt'}") from exc
        # the chapters' DuckDB spills into a folder of this run's own, removed after them: their
        # kernels are stopped at once when their last cell ends (`_execute_chapters`), without
        # the clean-up that would delete their spill files (Spark and PostgreSQL kernels shut
        # down gracefully and spill elsewhere: no folder)
        on_duckdb = backend == "duckdb"
        spill_root = Path(config.engine.temp_directory)
        spill = spill_root / f"{SPILL_PREFIX}{final.name}-{os.getpid()}@{socket.gethostname()}"
        try:
            if on_duckdb:
                clean_abandoned_spill(spill_root)
                # row-level data: the owner's only
                spill.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            message = (f"cannot create the spill folder {spill} ({exc.strerror or exc}): set "
                       "engine.temp_directory in dataset.yml to a folder you can write")
            failed = _fail(tmp, final, None, message)
            raise RunError(f"{message}. Nothing was run: {failed / 'logs' / 'error.txt'}") from None
        try:
            with contextlib.ExitStack() as env:
                for name, value in {STORE_ENV: str(store), KERNELS_ENV: str(jobs),
                                    **({SPILL_ENV: str(spill)} if on_duckdb else {}),
                                    **numeric_threads(jobs)}.items():
                    env.enter_context(_environment(name, value))
                _execute_chapters(chapters, per_chapter, campaign, tmp, final, report, loaded, jobs,
                                  stop_at_once=on_duckdb)
        finally:
            shutil.rmtree(tmp / STORE_DIR, ignore_errors=True)  # row-level data: never kept
            if on_duckdb:
                shutil.rmtree(spill, ignore_errors=True)  # row-level data too
        try:
            with report.step("book", "building the book"):
                build_book(tmp)
        except RunError as exc:
            _fail(tmp, final, None, str(exc))
            raise
        (tmp / "logs" / PID_FILE).unlink()
        os.replace(tmp, final)
        return final


@contextlib.contextmanager
def _stops_fail_the_run(tmp: Path, final: Path) -> Iterator[list[str]]:
    """While a run is made, SIGTERM stops it as Ctrl-C does (`RunStopped`), where nothing else
    handles that signal: Python's default ends the process at once, which left the chapters'
    spill folder (their row-level data) and the loaded store on disk. A run stopped either way
    is kept as ``<name>-failed`` with the reason in logs/error.txt, not as a run in progress.

    Yields the names of the signals received (SIGINT, SIGTERM): a query DuckDB interrupts for
    one ends in its own error, which the run must not report as bad data.
    """
    received: list[str] = []

    def stop(signum: int, _frame: object) -> None:
        received.append(signal.Signals(signum).name)
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second one must not cut the clean-up
        raise RunStopped(received[-1])

    main = threading.current_thread() is threading.main_thread()
    # Python's own handlers only: one the caller installed is theirs to keep
    ours = {number: default for number, default in ((signal.SIGTERM, signal.SIG_DFL),
                                                    (signal.SIGINT, signal.default_int_handler))
            if main and signal.getsignal(number) == default}
    for number in ours:
        signal.signal(number, stop)
    try:
        yield received
    except KeyboardInterrupt as exc:
        how = exc.signal_name if isinstance(exc, RunStopped) else "Ctrl-C"
        if tmp.exists():  # not yet renamed to `final`
            failed = _fail(tmp, final, None, f"the run was stopped ({how}) before it finished; "
                           "no book was built")
            if isinstance(exc, RunStopped):
                exc.folder = failed
        raise
    finally:
        for number, default in ours.items():
            signal.signal(number, default)


def _prepare_store_apart(*args: Any, **kwargs: Any) -> None:
    """`prepare_store` in a child process: on Spark the load's session (its cached tables, the
    driver's heap) ends with the child instead of staying beside the chapters' own sessions.
    Its DataError or ConfigError is raised here as it was there. A plain interpreter (`-c`),
    not multiprocessing: that would import the caller's main module again, which fails in a
    script without a main guard."""
    with tempfile.TemporaryDirectory(prefix="growthloop-load-") as scratch:
        job = Path(scratch) / "job.pickle"
        job.write_bytes(pickle.dumps((args, kwargs)))
        code = "import sys; from growthloop.run.runner import _load_in_child; _load_in_child(sys.argv[1])"
        done = subprocess.run([sys.executable, "-c", code, str(job)], check=False)
        error = job.with_name(CHILD_ERROR)
        if error.exists():
            raise pickle.loads(error.read_bytes())
        if done.returncode:
            raise RunError(f"the load's process ended with exit code {done.returncode}")


def _load_in_child(job: str) -> None:
    """The child's side of `_prepare_store_apart`: its error is written beside the job."""
    args, kwargs = pickle.loads(Path(job).read_bytes())
    try:
        prepare_store(*args, **kwargs)
    except Exception as exc:
        Path(job).with_name(CHILD_ERROR).write_bytes(pickle.dumps(sendable(exc)))
        raise SystemExit(1) from None


def sendable(exc: BaseException) -> BaseException:
    """`exc` when it survives pickling, else a RuntimeError with its type and message: an error
    that cannot be unpickled would reach the runner as an error of the unpickling instead.

    Parameters
    ----------
    exc : BaseException
        The child's error.

    Returns
    -------
    BaseException
    """
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:  # noqa: BLE001  (any failure to round-trip: send its text instead)
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


@contextlib.contextmanager
def _environment(name: str, value: str):
    """Set an environment variable for the kernels papermill starts, then restore it."""
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


class _ChapterFailed(Exception):
    """A chapter that did not finish: the message for the person, the partial notebook."""

    def __init__(self, message: str, partial: Path | None, hint: str) -> None:
        super().__init__(message)
        self.message, self.partial, self.hint = message, partial, hint


#: The thread pools of the numeric libraries in a chapter's kernel: OpenMP (scikit-learn's
#: k-means, silhouette) and the BLAS under numpy and scipy.
NUMERIC_THREADS_ENV: tuple[str, ...] = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                        "MKL_NUM_THREADS")


def numeric_threads(jobs: int, cores: int | None = None) -> dict[str, str]:
    """The numeric libraries' thread counts for chapters running `jobs` at a time: the cores
    shared out, at least one each. Those already set in the environment are left as they are.

    Two kernels whose OpenMP pools each take every core wait on each other's spinning threads:
    at 1M users the user-profiling chapter's clustering took 24 s beside another chapter and
    4 s alone (docs/benchmarks.md); with one thread each, 3.4 s beside it.

    Parameters
    ----------
    jobs : int
        Chapters executed at once.
    cores : int, optional
        The machine's cores; default `os.cpu_count()`.

    Returns
    -------
    dict of str to str
        Environment variables to set for the kernels (empty for one chapter at a time).
    """
    if jobs <= 1:
        return {}
    each = str(max(1, (cores or os.cpu_count() or 1) // jobs))
    return {name: each for name in NUMERIC_THREADS_ENV if name not in os.environ}


def jobs_for_store(jobs: int, store_bytes: int, memory_limit: int) -> int:
    """Chapters executed at once on DuckDB once the store is loaded: `jobs`, or one when the
    store file is larger than each of `jobs` kernels' share of the memory limit
    (`store.kernel_memory_limit`).

    Side by side such chapters spill what one alone keeps in memory. At 10M users (a 6.8 GiB
    store, 2.19 GiB for each of two kernels under 5 GiB) chapters 2 and 3 took 506 s side by
    side and 451 s one after the other, and wrote three times as much to the spill folder; at
    1M users (0.69 GiB) two at a time is the quicker (benchmarks/results/notes.md, round
    eighteen).

    Parameters
    ----------
    jobs : int
        The chapters at once the run would otherwise use (`default_jobs`).
    store_bytes : int
        The size of the loaded store file.
    memory_limit : int
        The dataset's DuckDB memory limit in bytes (`engine.memory_limit`).

    Returns
    -------
    int

    Examples
    --------
    >>> gib = 1024**3
    >>> jobs_for_store(2, int(0.69 * gib), 5 * gib), jobs_for_store(2, int(6.8 * gib), 5 * gib)
    (2, 1)
    """
    if jobs > 1 and store_bytes > kernel_memory_limit(memory_limit, jobs):
        return 1
    return jobs


def default_jobs(backend: str = "duckdb") -> int:
    """How many chapters a run executes at once by default: on DuckDB two, or one on a single
    core; on another engine one (each chapter opens its own session there).

    Parameters
    ----------
    backend : str, default "duckdb"
        The dataset's engine (dataset.yml `engine.backend`).

    Returns
    -------
    int
    """
    if backend != "duckdb":
        return 1
    return max(1, min(2, os.cpu_count() or 1))


#: The chapters from the costliest to the cheapest in the whole books at 1M and 10M users
#: (docs/benchmarks.md): the order of the chapters no earlier run timed (`schedule`). Worked
#: out from the 10M book's chapter times, the file's order would end the chapters about 90 s
#: later (713 s against 623 s).
USUAL_COST_ORDER: tuple[str, ...] = ("03_channel_attribution", "02_funnel",
                                     "06_closed_loop_review", "05_lifecycle_retention",
                                     "01_user_profiling", "04_rfm")


def schedule(chapters: list[Path], estimates: dict[str, float]) -> tuple[list[Path], list[Path]]:
    """The chapters that may run at once, longest first, and the readers, in their order.

    The chapters that read no other chapter's notebook run side by side; the longest (by the
    previous run's seconds, `estimates`) start first, so the short ones fill in at the end.
    When the estimates miss one of them (no earlier run; a failed run, whose chapters after
    the failure never ran; a chapter added since), they start in their usual order of cost
    instead (USUAL_COST_ORDER): a partial set of times would start every untimed chapter
    first, the short ones too, and the long timed ones last. A chapter not in that order goes
    first when untimed (it may be the longest), else after the usual ones, longest first.
    The readers (`execution_order`) run after them, one at a time. The order changes no
    output: each chapter is its own kernel.

    Parameters
    ----------
    chapters : list of Path
        The run's chapter notebooks.
    estimates : dict of str to float
        Seconds per chapter stem from the previous run of the campaign (or of another
        campaign on the same data).

    Returns
    -------
    tuple of (list of Path, list of Path)
        The independent chapters in start order, then the readers in execution order.
    """
    order = execution_order(chapters)
    readers = [p for p in order if p.stem in READER_STEMS]
    independent = [p for p in order if p.stem not in READER_STEMS]
    usual = {stem: rank for rank, stem in enumerate(USUAL_COST_ORDER)}
    # stable: ties keep the file's order
    if all(p.stem in estimates for p in independent):
        independent.sort(key=lambda p: (-estimates[p.stem], usual.get(p.stem, len(usual))))
    else:
        independent.sort(key=lambda p: (
            usual.get(p.stem, len(usual) if p.stem in estimates else -1),
            -estimates.get(p.stem, 0.0)))
    return independent, readers


def _execute_chapters(chapters: list[Path], per_chapter: dict[Path, dict[str, Any]],
                      campaign: CampaignRun, tmp: Path, final: Path,
                      report: RunReporter, loaded: str, jobs: int = 1,
                      stop_at_once: bool = False) -> None:
    """Execute the chapters, `jobs` at a time (`schedule`), then the readers one by one.

    With `stop_at_once` (DuckDB) each chapter's kernel is killed as soon as its last cell
    ends instead of being asked to shut down: the polite shutdown (an interrupt, a shutdown
    request, a wait for the process to end) took 0.7 s of each chapter, on the run's
    critical path. Spark's
    and PostgreSQL's kernels are asked, so their sessions close. With two jobs or more, each
    reader runs in a kernel started ahead (`_run_pool_then_readers`, growthloop.run.kernels).

    Before each chapter, check that the dataset's files are those the run loaded (`loaded`,
    their fingerprint): a book read from two versions of the data would be one the
    data-quality page does not describe. The first chapter to fail stops the run: no other
    chapter starts, those running finish, and the failure is reported.
    """
    independent, readers = schedule(chapters, report.estimates)
    numbers = {nb: i for i, nb in enumerate(independent + readers, 1)}

    def execute(nb: Path, take: Callable[[], AsyncKernelManager | None] | None = None) -> None:
        if fingerprint(campaign.data) != loaded:
            raise _ChapterFailed(
                f"the dataset folder {campaign.data} changed during the run (a file was added, "
                f"removed or rewritten before chapter {nb.stem}); run again on data that does "
                "not change while the book is made", None, "Nothing was published")
        out = tmp / "chapters" / nb.name
        kernel = None
        try:
            with report.step(nb.stem, f"[{numbers[nb]}/{len(chapters)}] {nb.stem}"):
                # a kernel started ahead (`take`), once ready: the wait is the chapter's time
                kernel = take() if take is not None else None
                papermill.execute_notebook(
                    str(nb), str(out),
                    parameters={**per_chapter[nb], "data": str(campaign.data), "out_dir": str(tmp)},
                    kernel_name=KERNEL_NAME, progress_bar=False, cwd=str(tmp / "chapters"),
                    shutdown_kernel="immediate" if stop_at_once else "graceful",
                    **({"km": kernel} if kernel is not None else {}),
                )
        except papermill.PapermillExecutionError as exc:
            cell = failing_cell(out) if out.exists() else f"cell {exc.exec_count}"
            message = (f"chapter {nb.stem} failed in cell {exc.exec_count} "
                       f"({exc.ename}: {exc.evalue}); {cell}.")
            raise _ChapterFailed(message, out, f"Partial notebook: {{logs}}/{nb.name}; "
                                 "no book was built.") from exc
        except Exception as exc:  # the kernel died, papermill or nbformat failed ...
            message = f"chapter {nb.stem} did not finish ({type(exc).__name__}: {exc})."
            raise _ChapterFailed(message, out, "Partial notebook (if any): {logs}; "
                                 "no book was built.") from exc
        finally:
            if kernel is not None:  # papermill stops only the kernels it started
                stop_kernel(kernel, now=stop_at_once)
        hide_injected_cell(out)

    from papermill.iorw import local_file_io_cwd

    try:
        # papermill keeps process-wide state that each call saves and restores as it ends (the
        # process's directory for `cwd`, its file handler's directory): two chapters ending in
        # the other order left both on this run's chapters/ folder, which is then moved, and the
        # next run in the process failed. Set both here for the whole phase: every save and
        # restore inside is then of the same folder, and the caller's come back after it.
        with contextlib.chdir(tmp / "chapters"), local_file_io_cwd(str(tmp / "chapters")):
            ahead = KernelsAhead(tmp / "chapters", now=stop_at_once, log=report.log)
            try:
                _run_pool_then_readers(execute, independent, readers, jobs, ahead)
            finally:
                ahead.close()
    except _ChapterFailed as failure:
        if failure.partial is not None:
            report.log(failure.message)
        failed = _fail(tmp, final, failure.partial, failure.message)
        hint = failure.hint.replace("{logs}", str(failed / "logs"))
        if failure.partial is None:
            raise RunError(f"{failure.message}. {hint}: {failed / 'logs' / 'error.txt'}") from None
        raise RunError(f"{failure.message} {hint}") from failure.__cause__


def _run_pool_then_readers(execute: Callable[..., None], independent: list[Path],
                           readers: list[Path], jobs: int, ahead: KernelsAhead | None = None) -> None:
    """Execute `independent` `jobs` at a time, then `readers` one by one; the first failure
    starts no other chapter (those running finish), Ctrl-C stops the running kernels.

    With `ahead` and two jobs or more, the readers' kernels are started one after another (with
    the book's imports) once a slot is free: fewer than `jobs` chapters left to run. Each reader
    then runs in its kernel (`execute(nb, take)`). With one job there is no free slot, and each
    chapter starts its own kernel, as papermill does.
    """
    # one worker runs them one at a time: the same path (and the same Ctrl-C) for any `jobs`
    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="chapter")
    futures = [pool.submit(execute, nb) for nb in independent]
    ahead = ahead if jobs > 1 and readers else None
    try:
        for done, future in enumerate(as_completed(futures), 1):
            if future.exception() is not None:
                raise future.exception()  # type: ignore[misc]
            if ahead is not None and not ahead.waiting and len(futures) - done < jobs:
                ahead.start(len(readers))  # a slot is free
    except BaseException as exc:
        for other in futures:  # start no other chapter
            other.cancel()
        if not isinstance(exc, _ChapterFailed):
            # Ctrl-C (the kernels run in sessions of their own and do not see it): stop the
            # running chapters' kernels, their threads end with them
            _stop_kernels()
        raise
    finally:
        pool.shutdown(wait=True)  # a failed chapter's neighbour finishes
    if ahead is not None and not ahead.waiting:  # no independent chapter ran
        ahead.start(len(readers))
    for nb in readers:
        execute(nb, ahead.take if ahead is not None else None)


def _stop_kernels() -> None:
    """Kill the notebook kernels this process started (papermill's, for chapters running side by
    side: a thread cannot be interrupted, its kernel can)."""
    import psutil

    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if any("ipykernel_launcher" in part for part in child.cmdline()):
                child.kill()


def _fail(tmp: Path, final: Path, partial: Path | None, message: str = "") -> Path:
    """Keep a failed run for inspection under <name>-failed, with nothing publishable in it:
    the partial notebook moves to logs/ (out of chapters/), the error goes to logs/error.txt."""
    if partial is not None and partial.exists():
        shutil.move(str(partial), tmp / "logs" / partial.name)
    shutil.rmtree(tmp / "_build", ignore_errors=True)
    shutil.rmtree(tmp / STORE_DIR, ignore_errors=True)  # the loaded rows are never kept
    (tmp / "logs" / "error.txt").write_text(message + "\n", encoding="utf-8")
    (tmp / "logs" / PID_FILE).unlink(missing_ok=True)
    failed = final.with_name(final.name + "-failed")
    os.replace(tmp, failed)
    return failed


def clean_abandoned_runs(runs_dir: Path) -> list[Path]:
    """Remove the row-level data (the loaded store) of temporary runs whose process is gone (a
    run killed by SIGKILL or a power cut cannot clean up after itself); the folders stay, listed
    as killed.

    Parameters
    ----------
    runs_dir : Path
        The folder of campaign run folders.

    Returns
    -------
    list of Path
        The temporary folders cleaned.
    """
    cleaned = []
    for tmp in sorted(runs_dir.glob("*/.*.tmp")):
        if tmp.is_dir() and (tmp / STORE_DIR).exists() and not _alive(tmp):
            shutil.rmtree(tmp / STORE_DIR, ignore_errors=True)
            cleaned.append(tmp)
    return cleaned


def clean_abandoned_spill(root: Path) -> list[Path]:
    """Remove the spill folders that runs on this machine left when their process was killed
    (SIGKILL, a power cut: no clean-up ran). They hold row-level data. Another machine's
    folders (a shared temp_directory) and those of running processes stay.

    Parameters
    ----------
    root : Path
        The dataset's engine.temp_directory.

    Returns
    -------
    list of Path
        The folders removed.
    """
    cleaned = []
    for folder in sorted(root.glob(f"{SPILL_PREFIX}*@*")):
        run_pid, _, host = folder.name.rpartition("@")
        pid = run_pid.rpartition("-")[2]
        if (folder.is_dir() and host == socket.gethostname() and pid.isdigit()
                and not _process_alive(int(pid))):
            shutil.rmtree(folder, ignore_errors=True)
            cleaned.append(folder)
    return cleaned


def _process_alive(pid: int) -> bool:
    """Whether process `pid` of this machine is running (another user's counts)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _alive(tmp: Path) -> bool:
    """Whether the process that started a temporary run folder is still running (same host)."""
    try:
        pid, host = (tmp / "logs" / PID_FILE).read_text(encoding="utf-8").split()
        if host != socket.gethostname():
            return True  # another machine's run: assume it is still going
        return _process_alive(int(pid))
    except (OSError, ValueError):
        return False


def list_runs(runs_dir: Path | None = None) -> list[dict[str, str]]:
    """Every run folder with its campaign and status: complete, failed, in progress, or killed
    (a temporary folder whose process is gone: it never became a run and is never published).

    Parameters
    ----------
    runs_dir : Path, optional
        The folder of campaign run folders; ``runs/`` in the project by default.

    Returns
    -------
    list of dict
        One per run: campaign, run (folder name), status and path.
    """
    runs_dir = Path(runs_dir) if runs_dir else PROJECT_ROOT / "runs"
    rows = []
    for campaign in sorted(p for p in runs_dir.glob("*") if p.is_dir()):
        for run in sorted(campaign.iterdir()):
            if not run.is_dir():
                continue
            if run.name.startswith("."):
                status = "in progress" if _alive(run) else "killed"
            elif run.name.endswith("-failed"):
                status = "failed"
            else:
                status = "complete"
            rows.append({"campaign": campaign.name, "run": run.name, "status": status,
                         "path": str(run)})
    return rows


__all__ = ["EXPORTS_DIR", "CampaignRun", "RunError", "build_book", "chapter_paths", "failing_cell",
           "list_runs", "load_campaign", "run_campaign", "split_parameters"]


#: Where `book_from_folder` assembles the book inside a folder of executed chapters.
FOLDER_BOOK = "book"


def _copy_book_files(book: Path) -> None:
    for name in BOOK_FILES:
        shutil.copy2(PROJECT_ROOT / name, book / name)
    for name in BOOK_DIRS:
        if (PROJECT_ROOT / name).is_dir():
            shutil.copytree(PROJECT_ROOT / name, book / name, dirs_exist_ok=True)


def book_from_folder(folder: str | Path, progress: Callable[[str], None] = print) -> Path:
    """Build the HTML book of chapters executed by plain papermill into one folder.

    The folder holds the executed chapter notebooks (NN_<stage>.ipynb) and the tables/ and
    exports/ they wrote beside them (`growthloop.book.output_folder`). The book is assembled in
    `<folder>/book/` as a run's: the notebooks (their injected parameters hidden), the tables,
    the data-quality chapter re-executed after the others with its own recorded parameters (so
    it lists the sections the data could not support) and the summary of the chapters present,
    then built with warnings as errors.

    Parameters
    ----------
    folder : str or Path
        The folder papermill wrote the chapters into.
    progress : callable, default print
        Called with one line per step.

    Returns
    -------
    Path
        The built book's html folder.

    Raises
    ------
    RunError
        When the folder holds no chapter, or a chapter that failed (its error would be
        published).
    """
    folder = Path(folder).expanduser().resolve()
    found = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb") if p.stem != SUMMARY_STEM)
    if not found:
        raise RunError(f"{folder} holds no executed chapter (NN_<stage>.ipynb): run the chapters "
                       "with papermill into it first (docs/running.md)")
    known = {p.stem for p in chapter_paths()}
    for nb in found:
        if nb.stem not in known:
            raise RunError(f"{nb.name} is not a chapter of this book; the chapters are {sorted(known)}")
        cell = failing_cell(nb)
        if not cell.startswith("no cell"):
            raise RunError(f"{nb.name} failed ({cell}): fix it and run it again; a failed chapter "
                           "is never published")
    book = folder / FOLDER_BOOK
    shutil.rmtree(book, ignore_errors=True)
    (book / "chapters").mkdir(parents=True)
    _copy_book_files(book)
    for nb in found:
        shutil.copy2(nb, book / "chapters" / nb.name)
        hide_injected_cell(book / "chapters" / nb.name)
    if (folder / TABLES_DIR).is_dir():
        shutil.copytree(folder / TABLES_DIR, book / TABLES_DIR)
    readers = [p for p in chapter_paths() if p.stem in (DATA_QUALITY_STEM, SUMMARY_STEM)
               and (p.stem == SUMMARY_STEM or any(f.stem == p.stem for f in found))]
    for nb in readers:
        recorded = {}
        if nb.stem != SUMMARY_STEM:  # the data-quality chapter again, as the analyst ran it
            source = nbformat.read(folder / nb.name, as_version=4)
            recorded = dict(source.metadata.get("papermill", {}).get("parameters", {}))
        progress(f"executing {nb.stem} over the folder's chapters")
        out = book / "chapters" / nb.name
        params = {**{k: v for k, v in recorded.items() if k in declared_parameters(nb)},
                  "out_dir": str(book), "chapters_dir": str(book / "chapters")}
        try:
            papermill.execute_notebook(str(nb), str(out), parameters=params, kernel_name=KERNEL_NAME,
                                       progress_bar=False, cwd=str(book / "chapters"))
        except papermill.PapermillExecutionError as exc:
            raise RunError(f"{nb.stem} failed over {folder} ({exc.ename}: {exc.evalue})") from None
        hide_injected_cell(out)
    write_toc(book, [book / "chapters" / p.name for p in [*found, *readers]])
    progress("building the book")
    return build_book(book)

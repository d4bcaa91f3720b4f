"""The growthloop command: start a dataset, validate it, run a campaign's book, publish the site."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import click
import typer
import yaml
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from growthloop import DEMO_DATA, PROJECT_ROOT

HELP = """GrowthLoop: the marketing closed loop of an internet-finance platform, as a book.

From your platform's export to a published book, in order:

\b
  growthloop init my_platform               commented dataset.yml and campaign.yml
  growthloop validate my_platform           rows read, used and set aside, and why
  growthloop run my_platform/campaign.yml   execute every chapter, build the HTML book
  growthloop publish                        one static site of every completed run

Try it on the bundled demo first: growthloop run campaigns/demo.yml
"""

app = typer.Typer(help=HELP, no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False, rich_markup_mode="rich",
                  context_settings={"help_option_names": ["-h", "--help"]})
console = Console()
err = Console(stderr=True)
#: --debug: show the traceback of an unexpected error instead of its one line
_DEBUG = {"on": False}


@app.callback()
def _options(debug: Annotated[bool, typer.Option("--debug", help="on an unexpected error, show "
                                                 "its traceback (a bug report wants it)")] = False) -> None:
    _DEBUG["on"] = debug


def one_line_errors(command: Callable) -> Callable:
    """Make every error of a command one line on stderr and exit code 1.

    The analyst's errors (DataError, ConfigError, RunError, PublishError) say what to do;
    anything else names its type and asks for --debug (which shows the traceback instead).
    KeyboardInterrupt and typer's and click's own exits pass through.

    Parameters
    ----------
    command : callable
        A typer command function.

    Returns
    -------
    callable
        The wrapped command (same name, docstring and signature, so typer's help is unchanged).
    """
    @functools.wraps(command)
    def wrapped(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort, click.exceptions.ClickException, KeyboardInterrupt):
            raise
        except Exception as exc:
            if _DEBUG["on"]:
                raise
            text = " ".join(str(exc).split()) or type(exc).__name__
            known = type(exc).__name__ in ("DataError", "ConfigError", "RunError", "PublishError")
            _fail(text if known else f"{type(exc).__name__}: {text} (growthloop --debug ... "
                                     "shows where; please report it)")
    return wrapped


DATASET_TEMPLATE = """\
# dataset.yml: how your platform's export maps onto the GrowthLoop data contract.
# Every key is optional except what your files need; delete the examples you do not use.
# The contract (tables, columns, canonical event names) is in docs/data_contract.md.
# Check the mapping with:  growthloop validate {folder}

name: {name}                 # shown on the data-quality page
timezone: Asia/Shanghai      # your platform's day; timestamps with a zone are converted to it
# analysis_date: 2026-06-30  # the day the book is "as of"; default: the last event day in the data
# revenue_margin_annual: 0.02   # only when transactions has no revenue column
# current_holding_days: 30      # how long a current (活期) deposit counts as held

tables:
  users:
    file: users.csv          # your file name, e.g. 用户表.csv; Parquet or CSV
    encoding: utf-8          # CSV only: gbk / gb18030 for exports from Chinese BI tools
    columns:                 # your header: our column (only the headers that differ)
      # 用户ID: user_id
      # 注册时间: registered_at
      # 出生年份: birth_year
      # 性别: gender
      # 省份: province
      # 城市: city
      # 设备: device_os
      # 渠道来源: utm_source
    values:                  # your value: ours, per column
      gender: {{M: 男, F: 女}}
  events:
    file: events.csv
    encoding: utf-8
    columns:
      # 事件时间: event_time
      # 事件名称: event_name
      # 用户ID: user_id
      # 设备ID: anonymous_id
      # 来源: utm_source
    values:
      event_name:            # your event names: the canonical ones (others are counted, not used)
        # 广告点击: ad_click
        # 短链点击: link_click
        # 安装: app_install
        # 注册: register
        # 实名认证: kyc_verified
        # 绑卡: bind_card
        # 领券: coupon_claim
        # 打开App: app_open
  transactions:
    file: transactions.csv
    encoding: utf-8
    columns:
      # 订单号: txn_id
      # 用户ID: user_id
      # 投资时间: txn_time
      # 投资金额: amount
      # 产品类型: product_type
      # 期限天数: term_days
      # 状态: status
    values:
      status: {{成功: success}}   # only successful investments count
  # Optional tables: costs (daily spend per UTM source), campaigns, campaign_members.
  # Leave them out if you do not have them; the chapters that need them say so.
  # costs: {{file: 投放成本.csv, encoding: gbk, columns: {{日期: date, 来源: utm_source, 花费: spend}}}}

# channels:                  # replaces the default channel map (docs/data_contract.md)
#   - {{name: 百度搜索, name_en: Search ads, kind: paid, sources: [baidu, bd_sem]}}
# rfm_actions:               # your own action, channel and offer per RFM segment
#   重要挽留: {{action: 客服电话回访, channel: 客服电话, offer: 50元召回红包}}
# engine:                    # DuckDB limits for large data
#   memory_limit: 6GB
#   threads: 4
"""

CAMPAIGN_TEMPLATE = """\
# campaign.yml: one run of the playbook on your dataset.  growthloop run {path}
# Every parameter below must be declared by some chapter; an unknown name is refused.
# The chapters' parameters and their meaning: the first cell of each chapters/src/*.py.

name: {name}                 # names the run folder: runs/{name}/<timestamp>/
data: .                      # the dataset folder, relative to this file

parameters:
  # analysis_date: "2026-06-30"   # YYYY-MM-DD; default: dataset.yml's, else the last event day
  campaign_id: null               # chapter 6: the campaign to review (campaigns.campaign_id); null = the latest with a holdout
  # holdout_share: 0.2            # chapter 6: the planned holdout share, for the sample-ratio check
  # next_round_budget: 500.0      # chapter 6: next round's budget in yuan
  # aum_bounds: [0, 10000, 50000, 200000, 1000000]   # chapter 1: asset tiers in yuan
  # window_days: 30               # chapter 2: funnel conversion window in days
  # channel_map: {{my_source: 百度搜索}}                # chapter 3: extra UTM source aliases

# chapters: ["00", "01", "02"]    # run only these (stems or numbers); default: all of them
"""


def write_templates(folder: Path, force: bool = False) -> list[Path]:
    """Write the commented dataset.yml and campaign.yml templates into `folder`.

    The folder is created when missing; its name (letters, digits, '-' and '_') names the
    dataset and the campaign.

    Parameters
    ----------
    folder : Path
        The dataset folder.
    force : bool, default False
        Overwrite files that exist.

    Returns
    -------
    list of Path
        The two files written.

    Raises
    ------
    FileExistsError
        Without `force`, naming the first file in the way (nothing is written then).
    """
    folder.mkdir(parents=True, exist_ok=True)
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in folder.resolve().name) or "my_platform"
    files = {folder / "dataset.yml": DATASET_TEMPLATE.format(name=name, folder=folder),
             folder / "campaign.yml": CAMPAIGN_TEMPLATE.format(name=name, path=folder / "campaign.yml")}
    if not force:
        for path in files:
            if path.exists():
                raise FileExistsError(str(path))
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
    return list(files)


def _fail(message: str, code: int = 1) -> None:
    # data values (example rows, file names) may look like rich markup: print them literally
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(code)


def _parse_params(pairs: list[str]) -> dict:
    params = {}
    for pair in pairs:
        if "=" not in pair:
            _fail(f"-p {pair!r}: write NAME=VALUE (the value is read as YAML: 7, 0.5, text, [a, b])")
        key, value = pair.split("=", 1)
        try:
            params[key.strip()] = yaml.safe_load(value)
        except ValueError:  # YAML reads 2026-13-01 as a date and fails: keep the text, checked later
            params[key.strip()] = value.strip()
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or "not valid YAML"
            _fail(f"-p {pair!r}: the value is read as YAML and is not valid ({problem}); quote "
                  "the whole pair, e.g. -p 'steps=[register, bind_card]'")
    return params


class StepBars:
    """The terminal's view of a run: one bar per step (load, each chapter, the book) filling
    against the previous run's time for it, with the elapsed time; a step with no earlier time
    pulses. Used as the runner's `display` (growthloop.run.progress.StepDisplay)."""

    def __init__(self, out: Console) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(TextColumn("  {task.description}"), BarColumn(bar_width=30),
                                 TimeElapsedColumn(), TextColumn("{task.fields[estimate]}"),
                                 console=out, refresh_per_second=4, transient=False)
        self._steps: dict[str, tuple[object, float | None]] = {}  # step key: its bar, estimate

    def __enter__(self) -> StepBars:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)

    def start(self, key: str, label: str, estimate: float | None) -> None:
        """Add the step's bar: its total is the previous run's seconds, None (pulsing) if none.

        Parameters
        ----------
        key : str
            The step's name ("load", a chapter stem, "book").
        label : str
            The step as shown ("[2/8] 02_funnel").
        estimate : float or None
            The seconds the step took in the previous run of the campaign (on its first run,
            in the newest run of another campaign on the same data).
        """
        import threading
        import time

        from growthloop.run.progress import duration

        text = "no earlier run" if estimate is None else f"last run {duration(estimate)}"
        task = self.progress.add_task(escape(label), total=estimate, estimate=text)
        started = time.monotonic()
        self._steps[key] = (task, estimate)
        if estimate is not None:  # filled by elapsed time, from a thread: papermill blocks

            def tick() -> None:
                while self._steps.get(key, (None,))[0] == task:
                    done = min(time.monotonic() - started, estimate * 0.99)
                    self.progress.update(task, completed=done)
                    time.sleep(0.5)

            threading.Thread(target=tick, daemon=True).start()

    def stop(self, key: str, seconds: float) -> None:
        """Fill the step's bar and stop its clock at the seconds it took.

        Parameters
        ----------
        key : str
            The step's name, as given to `start`.
        seconds : float
            The step's wall time.
        """
        from growthloop.run.progress import duration

        task, estimate = self._steps.pop(key, (None, None))
        if task is not None:
            self.progress.update(task, total=seconds, completed=seconds,
                                 estimate=f"{duration(seconds)}"
                                 + ("" if estimate is None
                                    else f" (last run {duration(estimate)})"))
            self.progress.stop_task(task)


@app.command(short_help="Run a campaign: execute every chapter, build its book.")
@one_line_errors
def run(
    campaign: Annotated[Path, typer.Argument(metavar="CAMPAIGN.yml", help="campaign YAML (name, data, parameters, chapters); "
                                                  "`growthloop init DIR` writes one", show_default=False)],
    param: Annotated[list[str], typer.Option("-p", "--param", metavar="NAME=VALUE", help="NAME=VALUE, overrides the YAML's "
                                             "parameters (repeat it); the value is read as YAML")] = [],  # noqa: B006
    runs_dir: Annotated[Path | None, typer.Option(metavar="DIR", help="where run folders go (default: runs/ in the project)")] = None,
    jobs: Annotated[int | None, typer.Option(min=1, metavar="N", help="chapters executed at once (default: 2 on DuckDB, 1 "
                                             "on Spark, PostgreSQL, a single core or when the "
                                             "loaded store is larger than each chapter's share "
                                             "of memory); they share the dataset's memory "
                                             "limit")] = None,
) -> None:
    """Execute every chapter for a campaign into a new run folder and build its HTML book.

    The run goes to RUNS_DIR/<name>/<timestamp>/ and is renamed there only when every chapter
    ran and the book built; a failed run is kept as <timestamp>-failed with the partial
    notebook in logs/, and so is a run stopped by Ctrl-C or SIGTERM (exit code 130 or 143).

    \b
    Example:
      growthloop run campaigns/demo.yml -p analysis_date=2026-05-31
    """
    from growthloop.run.runner import RunError, RunStopped, load_campaign, run_campaign

    try:
        spec = load_campaign(campaign)
        with StepBars(console) as bars:
            folder = run_campaign(spec, runs_dir=runs_dir, overrides=_parse_params(param),
                                  progress=lambda m: bars.progress.console.print(f"  {m}"),
                                  display=bars, jobs=jobs)
    except RunError as exc:
        _fail(str(exc))
    except RunStopped as exc:  # SIGTERM: the shell's code for it, 128 + 15
        _fail(f"the run was stopped ({exc.signal_name}); kept as {exc.folder}", code=143)
    console.print(f"[green]done:[/] {folder}")
    console.print(f"book: {folder / '_build' / 'html' / 'index.html'}")
    console.print("next: growthloop publish  (adds this book to the campaign site)")


@app.command(short_help="Check a dataset folder against the data contract.")
@one_line_errors
def validate(path: Annotated[Path, typer.Argument(metavar="FOLDER", help="dataset folder (the tables and its dataset.yml)",
                                                 show_default=False)]) -> None:
    """Check a dataset against the data contract and report every problem.

    Prints, per table, the rows read, used and set aside, and for every rule that set rows
    aside the count and a first example row. Fix dataset.yml until it is clean, then run.
    """
    from growthloop.errors import ConfigError, DataError
    from growthloop.staging.loader import open_dataset
    from growthloop.staging.quality import event_names

    if not path.is_dir():
        _fail(f"{path} is not a folder. Give the folder holding the exported tables and dataset.yml "
              f"(growthloop init {path} writes a dataset.yml template).")
    try:
        ds = open_dataset(path)
    except (DataError, ConfigError) as exc:
        _fail(f"{exc}. Fix the file or its mapping in {path / 'dataset.yml'}, then run "
              f"growthloop validate {path} again (docs/own_data.md walks through it).")
    table = Table(title=f"{escape(str(path))}: rows read, used and set aside")
    for col in ("table", "rows_read", "rows_used", "rows_set_aside"):
        table.add_column(col)
    for row in ds.quality.summary().itertuples(index=False):
        table.add_row(*(escape(str(v)) for v in row))
    console.print(table)
    if ds.quality.set_aside:
        reasons = Table(title="rows set aside, by rule (first example row)")
        for col in ("table", "rule", "rows", "example"):
            reasons.add_column(col, overflow="fold")
        for r in ds.quality.set_aside:
            reasons.add_row(escape(r.table), escape(r.rule), str(r.rows), escape(str(r.example or "")))
        console.print(reasons)
    if ds.quality.missing_tables:
        console.print(f"optional tables absent: {escape(', '.join(ds.quality.missing_tables))}")
    for name, cols in ds.quality.ignored_columns.items():
        console.print(f"{escape(name)}: columns not in the contract, not loaded: {escape(', '.join(cols))}")
    for name, cols in ds.quality.absent_columns.items():
        console.print(f"{escape(name)}: columns absent from the file, read as unknown: "
                      f"{escape(', '.join(cols))}")
    events = event_names(ds)
    names = Table(title="event names: roles the chapters rely on, and your own events")
    for col in ("event_name", "role", "events", "first_day", "last_day", "note"):
        names.add_column(col, overflow="fold")
    for row in events.itertuples(index=False):
        names.add_row(*(escape(str(v)) for v in row))
    console.print(names)
    if ds.quality.ignored_files:
        console.print(f"files that are no table: {escape(', '.join(ds.quality.ignored_files))}")
    for name, n in ds.quality.after_analysis_date.items():
        console.print(f"{name}: {n:,} rows after the analysis date (kept, not used)")
    console.print(f"analysis date: {ds.analysis_date}. [green]The dataset is usable.[/]")
    console.print(f"next: growthloop run {path / 'campaign.yml'}  (write it with growthloop init if missing)")


@app.command("demo-data", short_help="Write the synthetic demo dataset.")
@one_line_errors
def demo_data(
    users: Annotated[int, typer.Option(min=1, metavar="N", help="registered users to simulate")] = 12000,
    seed: Annotated[int, typer.Option(metavar="N", help="random seed: same seed, same data")] = 7,
    out: Annotated[Path, typer.Option(metavar="DIR", help="output folder")] = DEMO_DATA,
    chunk_users: Annotated[int, typer.Option(min=1, metavar="N", help="users simulated per chunk (bounds memory)")] = 100_000,
    fmt: Annotated[str, typer.Option("--format", metavar="parquet|csv", help="file format of the tables")] = "parquet",
) -> None:
    """Write a synthetic internet-finance dataset with its ground truth (truth.json).

    The same users, seed and chunk size always give the same files.
    """
    from growthloop.demo import generate_dataset

    if fmt not in ("parquet", "csv"):
        _fail(f"--format {fmt!r}: write --format parquet or --format csv")
    generate_dataset(out, n_users=users, seed=seed, chunk_users=chunk_users, fmt=fmt)
    console.print(f"wrote {users:,} users to {out} (truth.json beside the tables)")


@app.command(short_help="List the runs and their status.")
@one_line_errors
def runs(runs_dir: Annotated[Path | None, typer.Option(metavar="DIR", help="runs folder (default: runs/ in the project)")] = None) -> None:
    """List the runs with their status: complete, failed, or in progress (or killed)."""
    from growthloop.run.runner import list_runs

    rows = list_runs(runs_dir)
    if not rows:
        console.print("no runs yet: growthloop run campaigns/demo.yml")
        return
    table = Table()
    for col in ("campaign", "run", "status", "path"):
        table.add_column(col)
    for row in rows:
        table.add_row(*row.values())
    console.print(table)


@app.command("book", short_help="Build the book of chapters papermill ran into a folder.")
@one_line_errors
def book_cmd(folder: Annotated[Path, typer.Argument(metavar="FOLDER", help="the folder papermill wrote the executed chapters (and their tables/) into", show_default=False)]) -> None:
    """Build the HTML book of chapters executed by plain papermill into one folder.

    The data-quality chapter is run again over the folder's chapters (its list of the sections
    the data could not support) and the summary of the chapters present is added; the book is
    assembled in FOLDER/book/ and built as growthloop run builds a run's.

    \b
    Example:
      for nb in 00_data_quality 02_funnel 04_rfm; do
        papermill chapters/$nb.ipynb out/$nb.ipynb -p data my_platform
      done
      growthloop book out
    """
    from growthloop.run.runner import book_from_folder

    html = book_from_folder(folder, progress=lambda m: console.print(f"  {m}"))
    console.print(f"[green]book:[/] {html / 'index.html'}")


@app.command("build-book", short_help="Build a book folder's HTML (warnings are errors).")
@one_line_errors
def build_book_cmd(path: Annotated[Path, typer.Argument(metavar="BOOK", help="book folder with _config.yml and _toc.yml")] = PROJECT_ROOT) -> None:
    """Build the HTML book of a folder (the repository's demo book by default), warnings as errors."""
    if not (path / "_toc.yml").exists():
        _fail(f"{path} has no _toc.yml: give a book folder (the project root, or a run folder under runs/)")
    from growthloop.run.runner import RunError, build_book

    try:
        html = build_book(path.resolve())
    except RunError as exc:
        _fail(str(exc))
    console.print(f"book: {html / 'index.html'}")


@app.command("refresh-chapters", short_help="Re-execute the committed chapters on the demo (authors).")
@one_line_errors
def refresh_chapters(
    names: Annotated[list[str] | None, typer.Argument(metavar="CHAPTER", help="chapter stems or numbers (all when none)")] = None,
    no_readers: Annotated[bool, typer.Option("--no-readers", help="do not re-execute the data-quality chapter and the summary after the named chapters")] = False,
) -> None:
    """Re-make chapters/*.ipynb from chapters/src/*.py and execute them on the demo data.

    For chapter authors: the executed notebooks are the nbval golden files. The data-quality
    chapter (00, its list of skipped sections) and the summary (99) read the other chapters'
    notebooks, so they are re-executed after any chapter, unless told not to.
    """
    from growthloop.run.notebooks import SOURCES, refresh

    done = refresh(names or None, progress=lambda m: console.print(f"  {m}"), readers=not no_readers)
    if names and not done:
        _fail(f"no chapter source matches {names}; the sources are "
              f"{sorted(p.stem for p in SOURCES.glob('[0-9][0-9]_*.py'))}")
    for path in done:
        console.print(f"refreshed {path.relative_to(PROJECT_ROOT)}")


@app.command(short_help="Publish every completed run as one static site.")
@one_line_errors
def publish(
    runs_dir: Annotated[Path | None, typer.Option(metavar="DIR", help="runs folder to publish from (default: runs/ in the project)")] = None,
    out: Annotated[Path | None, typer.Option("--out", metavar="SITE", help="site folder (default: site/ in the project)")] = None,
) -> None:
    """Assemble one static site from every completed run: index, books, comparison.

    Books already in the site are kept (also those of runs no longer in RUNS_DIR) and new ones
    are added; the index and the comparison page are rebuilt from every book in the site.
    Links are relative and .nojekyll is written, so any static host (or the folder itself) works.
    """
    from growthloop.run.site import PublishError
    from growthloop.run.site import publish as publish_site

    try:
        site = publish_site(runs_dir, out, progress=lambda m: console.print(f"  {m}"))
    except PublishError as exc:
        _fail(str(exc))
    console.print(f"[green]site:[/] {site / 'index.html'}")


@app.command(short_help="Start your own dataset: dataset.yml and campaign.yml.")
@one_line_errors
def init(
    folder: Annotated[Path, typer.Argument(metavar="FOLDER", help="your dataset folder (created when missing)", show_default=False)],
    force: Annotated[bool, typer.Option("--force", help="overwrite dataset.yml and campaign.yml if present")] = False,
) -> None:
    """Write a commented dataset.yml template and campaign.yml into your dataset folder.

    Put your exported tables (CSV or Parquet) in the folder, edit dataset.yml to map your
    column headers and event names, then: growthloop validate FOLDER.
    """
    try:
        written = write_templates(folder, force=force)
    except FileExistsError as exc:
        _fail(f"{exc} already exists: edit it, pass --force to overwrite it, or choose another folder")
    for path in written:
        console.print(f"wrote {path}")
    console.print(f"next: put your exported tables in {folder}, edit dataset.yml, then "
                  f"growthloop validate {folder}")


# Commands listed in the order an analyst uses them.
_ORDER = ("init", "validate", "run", "book", "runs", "publish", "demo-data", "build-book", "refresh-chapters")
app.registered_commands.sort(
    key=lambda c: _ORDER.index(c.name or c.callback.__name__.replace("_", "-")))


def main() -> None:  # pragma: no cover
    """Run the growthloop command line (the console script's entry point); exits with its code."""
    sys.exit(app())

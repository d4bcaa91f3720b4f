"""What a chapter notebook needs to present results: open the data, glue numbers, publish tables.

Notebooks call `chapter(...)` once, then one library function per question, and hand each small
result to `Chapter.table` (shown in the page, written as CSV next to the book for download)
and `glue` (numbers pasted into the finding sentences).
"""

from __future__ import annotations

import html
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import matplotlib.pyplot as plt
import pandas as pd

from growthloop import DEMO_DATA, PROJECT_ROOT
from growthloop.engine import record_batches
from growthloop.errors import DataError, NotAvailable
from growthloop.marts.wide import user_wide
from growthloop.present import glue as _glue
from growthloop.present.glue import SKIP_PREFIX, glue, glue_all
from growthloop.present.privacy import mask_frame, mask_text, tokens, user_ids_in
from growthloop.present.tables import (
    COUNT_COLUMNS,
    GROUP_SIZES,
    HIDDEN,
    KEY_COLUMNS,
    MIN_CELL_SIZE,
    cell_label,
    check_min_cell,
    csv_numbers,
    csv_safe,
    group_sizes,
    is_small,
    page_columns,
    page_view,
    plain,
    suppress,
    view_html,
)
from growthloop.staging.loader import Dataset, as_date, open_dataset
from growthloop.staging.store import open_from_environment

__all__ = [
    "COUNT_COLUMNS", "EXPORTS_DIR", "HIDDEN", "KEY_COLUMNS", "MIN_CELL_SIZE", "TABLES_DIR", "Chapter",
    "SKIP_PREFIX", "Section", "cell_label", "chapter", "finding_html", "glue", "glue_all", "is_small",
    "note", "plain", "show", "small_cell_banner", "unavailable_html",
    "suppress", "GROUP_SIZES", "group_sizes",
]

TABLES_DIR = "tables"
EXPORTS_DIR = "exports"

@dataclass
class Chapter:
    """One executed chapter: its dataset, the shared wide table and where its files go.

    Made by :func:`chapter`.

    Attributes
    ----------
    slug : str
        The chapter's stem (02_funnel): names its tables/ and exports/ folders.
    ds : Dataset
        The opened dataset.
    out_dir : Path
        Where tables/ and exports/ go.
    min_cell : int
        The smallest count of people a published table or figure label shows.
    """

    slug: str
    ds: Dataset
    out_dir: Path
    min_cell: int = MIN_CELL_SIZE

    def mask(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Mask `frame`'s text cells as published: phone numbers, ID numbers, e-mails and user ids.

        The user ids are those of the dataset found among the cells' tokens (one query;
        `growthloop.present.privacy`).

        Parameters
        ----------
        frame : pandas.DataFrame
            A table to publish.

        Returns
        -------
        pandas.DataFrame
            A masked copy.
        """
        text = [v for c in frame.columns if frame[c].dtype == object for v in frame[c]]
        known = self.ds is not None and self.ds.has("users")
        ids = user_ids_in(self.ds.users, tokens(text)) if text and known else set()
        return mask_frame(frame, ids)

    def mask_text(self, text: str) -> str:
        """Mask one published text (a glued name or rule) like a table's cells.

        Parameters
        ----------
        text : str
            The text.

        Returns
        -------
        str
            The masked text.
        """
        known = self.ds is not None and self.ds.has("users")
        return mask_text(text, user_ids_in(self.ds.users, tokens([text])) if known else ())

    def section(self, key: str, title: str = "") -> Section:
        """A section of this chapter, as a context manager (see `Section`).

        Parameters
        ----------
        key : str
            The section's name in the chapter (lower-case, digits, _): names its skip record.
        title : str, default ""
            The section's heading, for the data-quality page's list of skipped sections.

        Returns
        -------
        Section
        """
        return Section(self, key, title)

    def cell_label(self, n: Any, fmt: str = "{:,.0f}") -> str:
        """Format a count for a figure label, or "<min_cell" when it is a small cell.

        Parameters
        ----------
        n : Any
            The count; None or NaN gives "".
        fmt : str, default "{:,.0f}"
            Format of a count that is shown.

        Returns
        -------
        str
            The label.
        """
        return cell_label(n, self.min_cell, fmt)

    @property
    def wide(self):
        """The dataset's user wide table (`growthloop.marts.wide.user_wide`, kept in the engine)."""
        return user_wide(self.ds)

    @property
    def tables_dir(self) -> Path:
        """The chapter's folder of published CSV tables (tables/<slug>, created when missing)."""
        path = self.out_dir / TABLES_DIR / self.slug
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def exports_dir(self) -> Path:
        """The chapter's private exports folder (member and target lists): never in the HTML build.

        exports/<slug>, created when missing.
        """
        path = self.out_dir / EXPORTS_DIR / self.slug
        path.mkdir(parents=True, exist_ok=True)
        return path

    def table(self, frame: pd.DataFrame, name: str, caption: str = "",
              formats: dict[str, str] | None = None, max_rows: int = 60,
              counts: list[str] | tuple[str, ...] | None = None,
              complement: str | list[str] | None = None, show: bool = True,
              sizes: list[str] | tuple[str, ...] | None = None):
        """Write `frame` as tables/<chapter>/<name>.csv and show it in the page with a link.

        Small cells are suppressed in both (see `suppress`), then text cells are masked
        (`mask`); the CSV is defused against formulas (`csv_safe`). The view is a plain `gl-table`;
        a view of more than FOLD_ROWS (12) rows shows its first PREVIEW_ROWS (10) and the whole
        view in a closed ``<details>`` ("展开全部 N 行", `view_html`), the download link staying
        above. In the HTML book, _static/gl-tables.js gives every such table of more than 10 rows
        a search box and sortable headers in the reader's browser, so the notebook output stays
        the same (nbval) and the page needs no network.

        Parameters
        ----------
        frame : pandas.DataFrame
            A small aggregate (never a per-user list: those go through `export`).
        name : str
            File name without .csv: lower-case letters, digits and _.
        caption : str, default ""
            One line that says what to see.
        formats : dict of str to str or None, default None
            Column -> str.format spec for the HTML view only ("{:.1%}"); the CSV keeps numbers.
            Other columns take the registry's format, and every header its Chinese label
            (`page_view`); the CSV keeps the column names. A wide table shows at most
            MAX_PAGE_COLUMNS columns in the page (`page_columns`), the CSV has them all.
        max_rows : int, default 60
            Rows the page holds, folded as above beyond 12 (the CSV has all).
        counts : list or tuple of str, or None, default None
            Columns counting people, passed to `suppress`; None: COUNT_COLUMNS; ``()`` for a table
            that counts no people.
        complement : str, list of str or None, default None
            Passed to `suppress`: groups whose counts add up to a published total.
        show : bool, default True
            In a notebook, display the view and return None: a value returned inside a
            ``with ch.section(...)`` block would not be shown. False returns it instead.
        sizes : list or tuple of str, or None, default None
            Passed to `suppress`: the columns giving the size of the group each row describes;
            counts of converters inside groups of at least min_cell_size people are then shown.
            None: the table's entry of GROUP_SIZES (`group_sizes`, with its `block`) when it has
            one, else every count of people is a group size.

        Returns
        -------
        IPython.display.HTML or None
            The caption, a download link and the table (folded when long); None when it was
            displayed (`show` in a notebook's kernel).

        Raises
        ------
        ValueError
            For a bad `name`, or a column of `counts` or `sizes` not in `frame`.
        """
        if not re.fullmatch(r"[a-z0-9_]+", name):
            raise ValueError(f"table name {name!r}: use lower-case letters, digits and _")
        by_size = group_sizes(name) if sizes is None else {"sizes": sizes}
        frame = self.mask(suppress(frame, self.min_cell, counts, complement, **by_size))
        # 12 significant digits: the engine's parallel sums differ in the last bits between
        # runs, and the same data must give the same files.
        frame.pipe(csv_numbers).pipe(csv_safe).to_csv(self.tables_dir / f"{name}.csv", index=False,
                                        encoding="utf-8-sig", float_format="%.12g")
        page = page_columns(name, list(frame.columns))
        shown = page_view(frame[page].head(max_rows), formats)
        body = view_html(shown, len(frame))
        link = f"../{TABLES_DIR}/{self.slug}/{name}.csv"
        more = f"（前 {max_rows} 行，共 {len(frame)} 行）" if len(frame) > max_rows else ""
        if len(page) < len(frame.columns):
            more += f"（页面显示 {len(page)} 列，共 {len(frame.columns)} 列，全部见 CSV）"
        cap = f"<p class='gl-caption'><b>{html.escape(caption)}</b>{more} · " if caption else "<p class='gl-caption'>"
        from IPython.display import HTML

        view = HTML(f"{cap}<a href='{link}' download>下载 CSV ({name}.csv)</a></p>{body}")
        if show and _in_kernel():
            from IPython.display import display

            display(view)
            return None
        return view

    def export(self, rows: pd.DataFrame | ibis.Table, name: str, batch_rows: int = 200_000) -> Path:
        """Write a private list (user ids allowed) to exports/; not published.

        An Ibis table is streamed from the engine in batches of `batch_rows`, so a list of
        millions of users never sits in memory whole; its order is the table's own. Text cells are
        defused against spreadsheet formulas (`csv_safe`).

        Parameters
        ----------
        rows : pandas.DataFrame or ibis.Table
            The list.
        name : str
            File name without .csv.
        batch_rows : int, default 200_000
            Rows per batch read from the engine.

        Returns
        -------
        Path
            The CSV written (UTF-8 with BOM; the header alone when there are no rows).
        """
        path = self.exports_dir / f"{name}.csv"
        if isinstance(rows, pd.DataFrame):
            csv_safe(rows).to_csv(path, index=False, encoding="utf-8-sig")
            return path
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            header = True
            for batch in record_batches(rows, batch_rows):
                csv_safe(batch.to_pandas()).to_csv(fh, index=False, header=header)
                header = False
            if header:  # no rows: the header alone
                pd.DataFrame(columns=rows.columns).to_csv(fh, index=False)
        return path


class Section:
    """One section of a chapter: its numbers, figure, table and finding, or the standard note.

    Use it as a context manager around the section's code (`Chapter.section`). When the code
    raises NotAvailable (the data cannot support the answer) or DataError (the data cannot be
    used for it), the section shows the book's standard note instead, 本节需要…；数据中没有…；
    补充方法…, records it for the data-quality page and the summary, and the chapter goes on.
    Any other error is a bug or a bad parameter and stops the chapter.
    """

    def __init__(self, chapter: Chapter, key: str, title: str = ""):
        if not re.fullmatch(r"[a-z0-9_]+", key):
            raise ValueError(f"section key {key!r}: use lower-case letters, digits and _")
        self.chapter, self.key, self.title = chapter, key, title
        self.shown = False
        self.note: NotAvailable | None = None

    def __enter__(self) -> Section:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            self.shown = True
            return False
        if issubclass(exc_type, NotAvailable):
            self.note = exc
        elif issubclass(exc_type, DataError):
            where = exc.table + (f".{exc.column}" if exc.column else "")
            self.note = NotAvailable("这一节用到的数据", f"数据 ({where}) 不能支持：{exc.rule}",
                                     str(exc).split(". ", 1)[1] if ". " in str(exc) else "")
        else:
            return False
        plt.close("all")  # a figure begun before the data fell short is not shown
        from IPython.display import HTML, display

        display(HTML(unavailable_html(self.note)))
        glue(f"{SKIP_PREFIX}{self.chapter.slug}__{self.key}",
             "\t".join([self.title or self.key, self.note.need, self.note.missing, self.note.fix]))
        return True

    def finding(self, finding: str, action: str = "") -> None:
        """Show the section's finding and action, worded by the library from its numbers.

        Parameters
        ----------
        finding : str
            What the numbers show (growthloop.present.findings).
        action : str, default ""
            What to do about it (运营建议); none when empty.
        """
        from IPython.display import HTML, display

        display(HTML(finding_html(finding, action)))


def note(text: str) -> None:
    """Show a short note in the page: what a chapter chose for this data (a default adapted to
    what the data has, say), as an admonition.

    Parameters
    ----------
    text : str
        The note, escaped.
    """
    from IPython.display import HTML, display

    display(HTML("<div class='admonition note gl-note'><p class='admonition-title'>说明</p>"
                 f"<p>{html.escape(text)}</p></div>"))


def unavailable_html(note: NotAvailable) -> str:
    """The standard note of a section the data cannot support: 本节需要…；数据中没有…；补充方法….

    Parameters
    ----------
    note : NotAvailable
        What the section needs, what the data lacks, how to supply it.

    Returns
    -------
    str
        HTML, every text escaped.
    """
    fix = f"补充方法：{html.escape(note.fix)}" if note.fix else ""
    return ("<div class='admonition note gl-unavailable'><p class='admonition-title'>"
            "本节未生成</p>"
            f"<p>本节需要{html.escape(note.need)}；{html.escape(note.missing)}。{fix}</p></div>")


def finding_html(finding: str, action: str = "") -> str:
    """A section's finding and action as the page shows them.

    Parameters
    ----------
    finding : str
        What the numbers show.
    action : str, default ""
        What to do about it; left out when empty.

    Returns
    -------
    str
        HTML, every text escaped.
    """
    out = f"<p class='gl-finding'><b>发现：</b> {html.escape(finding)}</p>"
    if action:
        out += f"<p class='gl-action'><b>运营建议：</b> {html.escape(action)}</p>"
    return out


def chapter(slug: str, data: str | None = None, analysis_date: str | None = None,
            out_dir: str | None = None, min_cell_size: int = MIN_CELL_SIZE,
            channel_map: dict[str, str] | None = None, figures: bool = True) -> Chapter:
    """Open the dataset for a chapter and apply the book's look.

    The run's shared store is used when it fits (`open_from_environment`), else the folder is
    opened. Glued texts are masked like table cells from then on, and a min_cell_size below the
    default puts a privacy warning on the page.

    Parameters
    ----------
    slug : str
        The chapter's stem (02_funnel): names its tables/ and exports/ folders.
    data : str or None, default None
        The dataset folder; None means the bundled demo. A relative path resolves against
        the current directory (papermill runs in the caller's directory).
    analysis_date : str or None, default None
        YYYY-MM-DD, else dataset.yml's, else the last event day.
    out_dir : str or None, default None
        Where tables/ and exports/ go; None means the project root.
    min_cell_size : int, default MIN_CELL_SIZE (10)
        The smallest group of people a published statistic may describe; 1 turns suppression
        off.
    channel_map : dict of str to str or None, default None
        A run's extra UTM source aliases ({source: channel}), applied when the dataset is
        opened so every chapter and the wide table see the same channels.
    figures : bool, default True
        False for a page that draws nothing (the data-quality page): the look (seaborn, and
        scipy with it, about 0.9 s of a kernel's start) is then not imported.

    Returns
    -------
    Chapter
        The open chapter.

    Raises
    ------
    ValueError
        When `min_cell_size` is not a whole number >= 1 or `analysis_date` is not YYYY-MM-DD.
    DataError, ConfigError
        When the dataset cannot be opened (see `open_dataset`).
    """
    min_cell_size = check_min_cell(min_cell_size)
    if figures:
        from growthloop.present import theme

        theme.apply()
    folder = Path(data).expanduser().resolve() if data else DEMO_DATA
    date = as_date(str(analysis_date)) if analysis_date else None  # ValueError naming it
    # a run's shared store (loaded once by the runner) when it fits, else the folder itself
    ds = (open_from_environment(folder, date, channel_map)
          or open_dataset(folder, analysis_date=date, channel_map=channel_map))
    ch = Chapter(slug=slug, ds=ds, out_dir=output_folder(out_dir, data), min_cell=min_cell_size)
    _glue.MASK_TEXT["current"] = ch.mask_text  # glued texts are masked like table cells
    if min_cell_size < MIN_CELL_SIZE:
        from IPython.display import HTML, display

        display(HTML(small_cell_banner(min_cell_size)))
    return ch


def small_cell_banner(min_cell_size: int) -> str:
    """Warn, at the top of every page, that the book publishes groups smaller than the default.

    Parameters
    ----------
    min_cell_size : int
        The run's smallest published group.

    Returns
    -------
    str
        An HTML admonition.
    """
    return (
        f"<div class='admonition warning'><p class='admonition-title'>隐私提示</p>"
        f"<p>本报告的最小发布人数 (min_cell_size) 设为 {min_cell_size}，低于默认的 "
        f"{MIN_CELL_SIZE}：少于 {MIN_CELL_SIZE} 人的群体也会显示，更容易识别到个人。对外分享前请确认。"
        "</p></div>")


def output_folder(out_dir: str | None, data: str | None) -> Path:
    """Where a chapter writes its tables/ and exports/ (never into the project for your data).

    In order: `out_dir` when given (the runner gives its run folder); else the folder of the
    output notebook when the chapter runs under the papermill command (`papermill in.ipynb
    out/ch.ipynb` writes out/tables/...; also `--inject-output-path`); else, for the bundled demo
    (data None: `growthloop refresh-chapters` and nbval), the project root, whose tables/ are the
    committed ones. Your data with none of these is an error that says what to pass.

    Parameters
    ----------
    out_dir : str or None
        The chapter's `out_dir` parameter.
    data : str or None
        The chapter's `data` parameter (None: the bundled demo).

    Returns
    -------
    Path

    Raises
    ------
    ValueError
        When the chapter runs on your data outside papermill and the runner without out_dir.
    """
    if out_dir:
        return Path(out_dir).expanduser().resolve()
    found = papermill_output_folder()
    if found is not None:
        return found
    if not data:
        return PROJECT_ROOT
    raise ValueError("out_dir: give the folder where this chapter's tables/ and exports/ go "
                     "(papermill: -p out_dir DIR); only the bundled demo writes into the project")


def papermill_output_folder() -> Path | None:
    """The folder of the output notebook, when the papermill command runs this kernel.

    Papermill gives a kernel no sign of where its output goes: the path is read from
    PAPERMILL_OUTPUT_PATH (papermill --inject-output-path) or from the command line of the
    papermill process that started the kernel (its parent; Linux /proc), resolved against that
    process's working folder. None elsewhere (the runner, refresh-chapters, nbval, Airflow's
    in-process papermill, an interactive kernel) and for an output that is no local file.

    Returns
    -------
    Path or None
        The output notebook's folder, or None when it cannot be known.
    """
    injected = None
    try:
        from IPython import get_ipython

        shell = get_ipython()
        injected = shell.user_ns.get("PAPERMILL_OUTPUT_PATH") if shell is not None else None
    except ImportError:
        pass
    if injected and "://" not in str(injected):
        return Path(str(injected)).expanduser().resolve().parent
    try:
        ppid = os.getppid()
        argv = [a.decode() for a in Path(f"/proc/{ppid}/cmdline").read_bytes().split(b"\0") if a]
        cwd = Path(os.readlink(f"/proc/{ppid}/cwd"))
    except (OSError, UnicodeDecodeError):
        return None
    start = next((i for i, a in enumerate(argv) if Path(a).name == "papermill"), None)
    if start is None:
        return None
    import papermill.cli

    try:
        ctx = papermill.cli.papermill.make_context("papermill", argv[start + 1:],
                                                   resilient_parsing=True)
    except Exception:  # noqa: BLE001 - a command line papermill itself would refuse
        return None
    out = ctx.params.get("output_path")
    if not out or out == "-" or "://" in out:
        return None
    return (cwd / out).resolve().parent


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


#: pixels per displayed pixel of a figure: sharp on high-density (retina) screens
FIGURE_DENSITY = 2


def figure_png(fig) -> bytes:
    """The figure as PNG at FIGURE_DENSITY times its dpi (shown at its nominal size).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure.

    Returns
    -------
    bytes
        The PNG file.
    """
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=FIGURE_DENSITY * fig.dpi, bbox_inches="tight")
    return buf.getvalue()


def show(fig=None) -> None:
    """End a figure cell: tight layout, then display the figure once, at twice the density, and
    close it.

    The PNG has FIGURE_DENSITY times the pixels and carries its display size (IPython's
    ``Image(retina=True)``), so the page shows it at the nominal size, sharp on a phone or a
    retina screen.

    In a kernel the figure is displayed explicitly, so the cell's output is the same whatever
    backend the environment chose: with MPLBACKEND=Agg (as CI sets it) ipykernel does not
    install the inline backend and plt.show() would print nothing, making nbval fail.

    Parameters
    ----------
    fig : matplotlib.figure.Figure or None, default None
        The figure; None is the current one.
    """
    fig = fig or plt.gcf()
    fig.tight_layout()
    if _in_kernel():
        from IPython.display import Image, display

        display(Image(data=figure_png(fig), format="png", retina=True))
        plt.close(fig)
    else:
        plt.show()

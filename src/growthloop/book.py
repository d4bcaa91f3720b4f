"""What a chapter notebook needs to present results: open the data, glue numbers, publish tables.

Notebooks call `chapter(...)` once, then one library function per question, and hand each small
result to `Chapter.table` (shown in the page, written as CSV next to the book for download)
and `glue` (numbers pasted into the finding sentences).
"""

from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import matplotlib.pyplot as plt
import pandas as pd

from growthloop import DEMO_DATA, PROJECT_ROOT
from growthloop.engine import record_batches
from growthloop.marts.wide import user_wide
from growthloop.present import glue as _glue
from growthloop.present import theme
from growthloop.present.glue import glue, glue_all
from growthloop.present.privacy import mask_frame, mask_text, tokens, user_ids_in
from growthloop.present.tables import (
    COUNT_COLUMNS,
    HIDDEN,
    KEY_COLUMNS,
    MIN_CELL_SIZE,
    cell_label,
    check_min_cell,
    csv_numbers,
    csv_safe,
    is_small,
    plain,
    suppress,
)
from growthloop.staging.loader import Dataset, open_dataset
from growthloop.staging.store import open_from_environment

__all__ = [
    "COUNT_COLUMNS", "EXPORTS_DIR", "HIDDEN", "KEY_COLUMNS", "MIN_CELL_SIZE", "TABLES_DIR", "Chapter",
    "cell_label", "chapter", "glue", "glue_all", "is_small", "plain", "show", "small_cell_banner",
    "suppress",
]

TABLES_DIR = "tables"
EXPORTS_DIR = "exports"

@dataclass
class Chapter:
    """One executed chapter: its dataset, the shared wide table and where its files go."""

    slug: str
    ds: Dataset
    out_dir: Path
    min_cell: int = MIN_CELL_SIZE

    def mask(self, frame: pd.DataFrame) -> pd.DataFrame:
        """`frame`'s text cells as published: phone numbers, ID numbers, e-mails and the user
        ids of the dataset masked (`growthloop.present.privacy`)."""
        text = [v for c in frame.columns if frame[c].dtype == object for v in frame[c]]
        known = self.ds is not None and self.ds.has("users")
        ids = user_ids_in(self.ds.users, tokens(text)) if text and known else set()
        return mask_frame(frame, ids)

    def mask_text(self, text: str) -> str:
        """One published text (a glued name or rule), masked like a table's cells."""
        known = self.ds is not None and self.ds.has("users")
        return mask_text(text, user_ids_in(self.ds.users, tokens([text])) if known else ())

    def cell_label(self, n: Any, fmt: str = "{:,.0f}") -> str:
        """A count for a figure label: formatted, or "<min_cell" when it is a small cell."""
        return cell_label(n, self.min_cell, fmt)

    @property
    def wide(self):
        return user_wide(self.ds)

    @property
    def tables_dir(self) -> Path:
        path = self.out_dir / TABLES_DIR / self.slug
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def exports_dir(self) -> Path:
        """Private exports (member and target lists): never part of the HTML build."""
        path = self.out_dir / EXPORTS_DIR / self.slug
        path.mkdir(parents=True, exist_ok=True)
        return path

    def table(self, frame: pd.DataFrame, name: str, caption: str = "",
              formats: dict[str, str] | None = None, max_rows: int = 60,
              counts: list[str] | tuple[str, ...] | None = None,
              complement: str | list[str] | None = None):
        """Write `frame` as tables/<chapter>/<name>.csv and return an HTML view with a link.

        Small cells are suppressed in both (see `suppress`; `counts` and `complement` are
        passed on, `counts=()` for a table that counts no people).

        The view is a plain `gl-table`; in the HTML book, _static/gl-tables.js gives every such
        table of more than 10 rows a search box and sortable headers in the reader's browser,
        so the notebook output stays the same (nbval) and the page needs no network.
        """
        if not re.fullmatch(r"[a-z0-9_]+", name):
            raise ValueError(f"table name {name!r}: use lower-case letters, digits and _")
        frame = self.mask(suppress(frame, self.min_cell, counts, complement))
        # 12 significant digits: the engine's parallel sums differ in the last bits between
        # runs, and the same data must give the same files.
        frame.pipe(csv_numbers).pipe(csv_safe).to_csv(self.tables_dir / f"{name}.csv", index=False,
                                        encoding="utf-8-sig", float_format="%.12g")
        shown = frame.head(max_rows).copy()
        for col, fmt in (formats or {}).items():
            if col in shown.columns:
                shown[col] = shown[col].map(
                    lambda v, f=fmt: "" if pd.isna(v) else v if isinstance(v, str) else f.format(v))
        body = shown.to_html(index=False, escape=True, border=0, classes="gl-table", na_rep="")
        link = f"../{TABLES_DIR}/{self.slug}/{name}.csv"
        more = f" (前 {max_rows} 行，共 {len(frame)} 行)" if len(frame) > max_rows else ""
        cap = f"<p class='gl-caption'><b>{html.escape(caption)}</b>{more} · " if caption else "<p class='gl-caption'>"
        from IPython.display import HTML

        return HTML(f"{cap}<a href='{link}' download>下载 CSV ({name}.csv)</a></p>{body}")

    def export(self, rows: pd.DataFrame | ibis.Table, name: str, batch_rows: int = 200_000) -> Path:
        """Write a private list (user ids allowed) to exports/; returns the path. Not published.

        An Ibis table is streamed from the engine in batches of `batch_rows`, so a list of
        millions of users never sits in memory whole; its order is the table's own.
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


def chapter(slug: str, data: str | None = None, analysis_date: str | None = None,
            out_dir: str | None = None, min_cell_size: int = MIN_CELL_SIZE,
            channel_map: dict[str, str] | None = None) -> Chapter:
    """Open the dataset for a chapter and apply the book's look.

    Parameters
    ----------
    slug
        The chapter's stem (02_funnel): names its tables/ and exports/ folders.
    data
        The dataset folder; None means the bundled demo. A relative path resolves against
        the current directory (papermill runs in the caller's directory).
    analysis_date
        YYYY-MM-DD, else dataset.yml's, else the last event day.
    out_dir
        Where tables/ and exports/ go; None means the project root.
    min_cell_size
        The smallest group of people a published statistic may describe.
    channel_map
        A run's extra UTM source aliases ({source: channel}), applied when the dataset is
        opened so every chapter and the wide table see the same channels.

    Returns
    -------
    Chapter
    """
    min_cell_size = check_min_cell(min_cell_size)
    theme.apply()
    folder = Path(data).expanduser().resolve() if data else DEMO_DATA
    date = dt.date.fromisoformat(analysis_date) if analysis_date else None
    # a run's shared store (loaded once by the runner) when it fits, else the folder itself
    ds = (open_from_environment(folder, date, channel_map)
          or open_dataset(folder, analysis_date=date, channel_map=channel_map))
    out = Path(out_dir).expanduser().resolve() if out_dir else PROJECT_ROOT
    ch = Chapter(slug=slug, ds=ds, out_dir=out, min_cell=min_cell_size)
    _glue.MASK_TEXT["current"] = ch.mask_text  # glued texts are masked like table cells
    if min_cell_size < MIN_CELL_SIZE:
        from IPython.display import HTML, display

        display(HTML(small_cell_banner(min_cell_size)))
    return ch


def small_cell_banner(min_cell_size: int) -> str:
    """A warning for the top of every page of a book that publishes groups smaller than the
    default (HTML)."""
    return (
        f"<div class='admonition warning'><p class='admonition-title'>隐私提示 (privacy)</p>"
        f"<p>本报告的最小发布人数 (min_cell_size) 设为 {min_cell_size}，低于默认的 "
        f"{MIN_CELL_SIZE}：少于 {MIN_CELL_SIZE} 人的群体也会显示，更容易识别到个人。对外分享前请确认。"
        f" (min_cell_size is {min_cell_size}, below the default {MIN_CELL_SIZE}: small groups "
        "are shown.)</p></div>")


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def show(fig=None) -> None:
    """End a figure cell: tight layout, then display the figure once and close it.

    In a kernel the figure is displayed explicitly, so the cell's output is the same whatever
    backend the environment chose: with MPLBACKEND=Agg (as CI sets it) ipykernel does not
    install the inline backend and plt.show() would print nothing, making nbval fail.
    """
    fig = fig or plt.gcf()
    fig.tight_layout()
    if _in_kernel():
        from IPython.display import display

        display(fig)
        plt.close(fig)
    else:
        plt.show()

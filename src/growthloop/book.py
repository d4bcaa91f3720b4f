"""What a chapter notebook needs to present results: open the data, glue numbers, publish tables.

Notebooks call `chapter(...)` once, then one library function per question, and hand each small
result to `Chapter.table` (shown in the page, written as CSV next to the book for download)
and `glue` (numbers pasted into the finding sentences).
"""

from __future__ import annotations

import datetime as dt
import html
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from growthloop import DEMO_DATA, PROJECT_ROOT
from growthloop.engine import record_batches
from growthloop.marts.wide import user_wide
from growthloop.present import theme
from growthloop.staging.loader import Dataset, open_dataset
from growthloop.staging.store import open_from_environment

TABLES_DIR = "tables"
EXPORTS_DIR = "exports"

# Small-cell suppression: a published count of people below this is shown as "<10".
MIN_CELL_SIZE = 10
# Columns that count people (users, investors, members, responders ...) in the library's
# tables: Chapter.table checks these unless told otherwise with `counts=`. Row counts of the
# data-quality page (rows, rows_read ...) and touch/event counts are not people and not listed.
COUNT_COLUMNS = (
    "users", "investors", "members", "treatment", "control", "signups", "targets",
    "clicks", "installs", "registrations", "bound_cards", "first_investors",
    "retained", "retention_base", "matured_30d", "matured_90d", "matured_180d",
    "responders", "users_t", "users_c", "responders_t", "responders_c", "reached",
    "conversions", "nulls", "closed", "assisted", "on_path", "comebacks", "at_risk",
    "base", "rest_base", "base_start", "base_previous", "converted_start", "converted_previous",
    "in_progress", "lost", "excluded", "drop_off", "historical_base",
)
# A cell hidden only so that a small one cannot be worked out from a total (see `suppress`).
HIDDEN = "*"
# Numeric columns that name a cell rather than measure it (period, score, tier bounds ...):
# kept in a row whose counts are suppressed, where every other number is blanked.
KEY_COLUMNS = (
    "period", "month", "day", "days", "n", "k", "order", "bin_order", "score", "r_score",
    "f_score", "lower", "upper", "window_days", "steps", "cohorts",
)


def plain(value: Any) -> Any:
    """A numpy scalar as a plain Python number (myst-nb glue shows numpy scalars as blanks)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return float("nan")
        # 12 significant digits: parallel sums in the engine differ in the last bits between
        # runs, and a glued value is a cell output that nbval compares.
        return float(f"{value:.12g}")
    return value


def _check_min_cell(min_cell: int) -> int:
    if isinstance(min_cell, bool) or not isinstance(min_cell, int | np.integer) or min_cell < 1:
        raise ValueError(f"min_cell_size must be a whole number >= 1 (1 turns suppression off), got {min_cell!r}")
    return int(min_cell)


def is_small(value: Any, min_cell: int = MIN_CELL_SIZE) -> bool:
    """A count that must not be published: above zero and below `min_cell`.

    Zero is shown: "nobody" is what a funnel or a campaign most needs to say, and it does not
    single anyone out by itself.
    """
    if isinstance(value, bool | np.bool_):
        return False
    try:
        number = float(value)
    except (TypeError, ValueError):
        return False
    return not math.isnan(number) and 0 < number < min_cell


def cell_label(n: Any, min_cell: int = MIN_CELL_SIZE, fmt: str = "{:,.0f}") -> str:
    """A count for a figure label or sentence: formatted, or "<10" when it is a small cell."""
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return ""
    return f"<{min_cell}" if is_small(n, min_cell) else fmt.format(n)


def suppress(frame: pd.DataFrame, min_cell: int = MIN_CELL_SIZE,
             counts: list[str] | tuple[str, ...] | None = None,
             complement: str | list[str] | None = None) -> pd.DataFrame:
    """`frame` with small cells suppressed, as published (shown and downloaded).

    A count (a column in `counts`, default: those of COUNT_COLUMNS present) above 0 and below
    `min_cell` becomes the text "<min_cell". In a row with a suppressed count, every
    other numeric column (rates, intervals, shares, means, sums of money, p values) is
    blanked, since it is derived from the hidden count or from the few people behind it.
    Text (labels) and the numeric keys of KEY_COLUMNS (period, score, tier bounds) are kept.

    `complement` names the columns whose groups add up to a total published elsewhere (e.g.
    "step" in a funnel by channel: the channels of a step sum to the step's total). When
    exactly one cell of a count column is suppressed in a group, the next smallest cell of the
    group is suppressed too (shown as HIDDEN, "*": it is not small, but showing it would give the
    small one back as total minus shown parts).
    `complement=[]` makes the whole table one group (its rows add up to a published total).
    """
    min_cell = _check_min_cell(min_cell)
    if not frame.index.is_unique:  # cells are located by index below
        frame = frame.reset_index(drop=True)
    cols = [c for c in (COUNT_COLUMNS if counts is None else counts) if c in frame.columns]
    unknown = [c for c in (counts or []) if c not in frame.columns]
    if unknown:
        raise ValueError(f"counts: no column(s) {unknown} in the table; the columns are {list(frame.columns)}")
    out = frame.copy()
    if min_cell <= 1 or not cols or frame.empty:
        return out
    small = pd.DataFrame({c: frame[c].map(lambda v: is_small(v, min_cell)) for c in cols},
                         index=frame.index)
    extra = pd.DataFrame(False, index=frame.index, columns=cols)
    if complement is not None:
        keys = [complement] if isinstance(complement, str) else list(complement)
        groups = ([frame.index] if not keys else
                  list(frame.groupby(keys, sort=False, dropna=False).groups.values()))
        for c in cols:
            for idx in groups:
                hidden = small.loc[idx, c]
                if hidden.sum() != 1:
                    continue
                values = pd.to_numeric(frame.loc[idx, c], errors="coerce")
                others = values[~hidden & (values > 0)]
                if len(others):
                    extra.loc[others.sort_values(kind="stable").index[0], c] = True
        small = small | extra
    rows = small.any(axis=1)
    if not rows.any():
        return out
    for c in cols:
        if small[c].any():
            out[c] = out[c].map(plain).astype(object)
            out.loc[small[c], c] = f"<{min_cell}"
            if complement is not None:
                out.loc[extra[c], c] = HIDDEN
    derived = [c for c in frame.columns
               if c not in cols and c not in KEY_COLUMNS and pd.api.types.is_numeric_dtype(frame[c])
               and not pd.api.types.is_bool_dtype(frame[c])]
    for c in derived:
        if pd.api.types.is_float_dtype(out[c]):
            out.loc[rows, c] = np.nan
        else:  # whole numbers stay whole in the rows that are kept
            out[c] = out[c].astype(object)
            out.loc[rows, c] = None
    return out


def _csv_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """Numbers in text columns (a suppressed count column mixes "<10" and numbers) written
    like those of number columns (float_format "%.12g"): 157, not 157.0."""
    out = frame.copy()
    for c in [c for c in out.columns if pd.api.types.is_object_dtype(out[c])]:
        out[c] = out[c].map(lambda v: f"{v:.12g}" if isinstance(v, float) and not math.isnan(v) else v)
    return out


def glue(key: str, value: Any) -> None:
    """Glue a number or short text for the page's prose, without displaying it here."""
    from myst_nb import glue as _glue

    _glue(key, plain(value), display=False)


@dataclass
class Chapter:
    """One executed chapter: its dataset, the shared wide table and where its files go."""

    slug: str
    ds: Dataset
    out_dir: Path
    min_cell: int = MIN_CELL_SIZE

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
        frame = suppress(frame, self.min_cell, counts, complement)
        # 12 significant digits: the engine's parallel sums differ in the last bits between
        # runs, and the same data must give the same files.
        frame.pipe(_csv_numbers).to_csv(self.tables_dir / f"{name}.csv", index=False,
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
            rows.to_csv(path, index=False, encoding="utf-8-sig")
            return path
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            header = True
            for batch in record_batches(rows, batch_rows):
                batch.to_pandas().to_csv(fh, index=False, header=header)
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
    min_cell_size = _check_min_cell(min_cell_size)
    theme.apply()
    folder = Path(data).expanduser().resolve() if data else DEMO_DATA
    date = dt.date.fromisoformat(analysis_date) if analysis_date else None
    # a run's shared store (loaded once by the runner) when it fits, else the folder itself
    ds = (open_from_environment(folder, date, channel_map)
          or open_dataset(folder, analysis_date=date, channel_map=channel_map))
    out = Path(out_dir).expanduser().resolve() if out_dir else PROJECT_ROOT
    return Chapter(slug=slug, ds=ds, out_dir=out, min_cell=min_cell_size)


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

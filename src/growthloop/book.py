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

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from growthloop import DEMO_DATA, PROJECT_ROOT, theme
from growthloop.data import Dataset, open_dataset
from growthloop.wide import user_wide

TABLES_DIR = "tables"
EXPORTS_DIR = "exports"


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
              formats: dict[str, str] | None = None, max_rows: int = 60):
        """Write `frame` as tables/<chapter>/<name>.csv and return an HTML view with a link.

        The view is a plain `gl-table`; in the HTML book, _static/gl-tables.js gives every such
        table of more than 10 rows a search box and sortable headers in the reader's browser,
        so the notebook output stays the same (nbval) and the page needs no network.
        """
        if not re.fullmatch(r"[a-z0-9_]+", name):
            raise ValueError(f"table name {name!r}: use lower-case letters, digits and _")
        # 12 significant digits: the engine's parallel sums differ in the last bits between
        # runs, and the same data must give the same files.
        frame.to_csv(self.tables_dir / f"{name}.csv", index=False, encoding="utf-8-sig",
                     float_format="%.12g")
        shown = frame.head(max_rows).copy()
        for col, fmt in (formats or {}).items():
            if col in shown.columns:
                shown[col] = shown[col].map(lambda v, f=fmt: "" if pd.isna(v) else f.format(v))
        body = shown.to_html(index=False, escape=True, border=0, classes="gl-table", na_rep="")
        link = f"../{TABLES_DIR}/{self.slug}/{name}.csv"
        more = f" (前 {max_rows} 行，共 {len(frame)} 行)" if len(frame) > max_rows else ""
        cap = f"<p class='gl-caption'><b>{html.escape(caption)}</b>{more} · " if caption else "<p class='gl-caption'>"
        from IPython.display import HTML

        return HTML(f"{cap}<a href='{link}' download>下载 CSV ({name}.csv)</a></p>{body}")

    def export(self, frame: pd.DataFrame, name: str) -> Path:
        """Write a private list (user ids allowed) to exports/; returns the path. Not published."""
        path = self.exports_dir / f"{name}.csv"
        frame.to_csv(path, index=False, encoding="utf-8-sig")
        return path


def chapter(slug: str, data: str | None = None, analysis_date: str | None = None,
            out_dir: str | None = None) -> Chapter:
    """Open the dataset for a chapter and apply the book's look.

    `data` None means the bundled demo; relative paths resolve against the current directory
    (papermill runs in the caller's directory). `out_dir` None means the project root.
    """
    theme.apply()
    folder = Path(data).expanduser().resolve() if data else DEMO_DATA
    date = dt.date.fromisoformat(analysis_date) if analysis_date else None
    ds = open_dataset(folder, analysis_date=date)
    out = Path(out_dir).expanduser().resolve() if out_dir else PROJECT_ROOT
    return Chapter(slug=slug, ds=ds, out_dir=out)


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

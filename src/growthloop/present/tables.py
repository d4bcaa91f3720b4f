"""Tables as published: small-cell suppression and the CSV and HTML a chapter writes.

One suppression path serves every published table (shown in the page and downloaded as CSV)
and every figure label (`cell_label`); the privacy rules are in docs/design_notes.md.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

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


def check_min_cell(min_cell: int) -> int:
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
    min_cell = check_min_cell(min_cell)
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


def csv_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """Numbers in text columns (a suppressed count column mixes "<10" and numbers) written
    like those of number columns (float_format "%.12g"): 157, not 157.0."""
    out = frame.copy()
    for c in [c for c in out.columns if pd.api.types.is_object_dtype(out[c])]:
        out[c] = out[c].map(lambda v: f"{v:.12g}" if isinstance(v, float) and not math.isnan(v) else v)
    return out


#: A text cell starting with one of these is read as a formula by Excel, WPS and LibreOffice.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _defused(value: Any) -> Any:
    """One cell as written to a CSV: text that a spreadsheet would run as a formula gets a
    leading apostrophe (OWASP's rule for CSV injection); numbers written as text ("-5") and a
    lone "-" (the monitoring table's "no value") are left as they are."""
    if not isinstance(value, str) or not value.startswith(FORMULA_START) or value == "-":
        return value
    try:
        float(value)
        return value
    except ValueError:
        return "'" + value


def csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with every text cell that could run as a spreadsheet formula defused (and the
    column names too): every CSV the project writes goes through it."""
    out = frame.copy()
    for c in out.columns:
        if pd.api.types.is_object_dtype(out[c]) or pd.api.types.is_string_dtype(out[c]):
            out[c] = out[c].map(_defused)
    out.columns = [_defused(c) if isinstance(c, str) else c for c in out.columns]
    return out

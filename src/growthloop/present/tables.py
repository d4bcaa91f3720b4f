"""Tables as published: small-cell suppression and the CSV and HTML a chapter writes.

One suppression path serves every published table (shown in the page and downloaded as CSV)
and every figure label (`cell_label`); the privacy rules are in docs/design_notes.md.
"""

from __future__ import annotations

import math
import re
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


#: The tables whose rows each describe a group of people whose size is given by columns of the
#: row (docs/privacy.md): `suppress` keywords by table name, used by `Chapter.table` when it is
#: not told otherwise and by a figure that must hide what its table hides (`group_sizes`). In
#: these tables a count of converters or responders inside a group of at least min_cell_size
#: people is shown, even below it; every other table treats each count of people as a group size.
#: - funnel_by_segment / funnel_cohorts: a row is one step of one segment (channel, sign-up
#:   month). Its group is the segment's entrants: base_start (the settled entrants, the
#:   denominator of rate_from_start and its interval) on every row, and, for a segment whose
#:   entrants have not settled yet (base_start 0), its block's largest count, which is the first
#:   step's users (the entrants). base_previous (the settled people who reached the previous
#:   step) is not a size: it is a count of converters inside the segment (the previous row's
#:   users), so rate_from_previous = converted_previous / base_previous gives back nothing that
#:   the shown counts do not; hiding it would hide the 实名认证 rates the decision is about.
#: - segment_uplift: a row is one segment of one breakdown, in two groups, users_t and users_c
#:   (every rate, the uplift, its interval and p values are computed from both); responders_t
#:   and responders_c are counts inside them.
GROUP_SIZES: dict[str, dict[str, Any]] = {
    "funnel_by_segment": {"sizes": ("base_start",), "block": "segment"},
    "funnel_cohorts": {"sizes": ("base_start",), "block": "cohort"},
    "segment_uplift": {"sizes": ("users_t", "users_c")},
}


def group_sizes(name: str) -> dict[str, Any]:
    """The `suppress` keywords (sizes, block) of the published table `name`; {} for a table
    whose every count of people is a group size.

    Parameters
    ----------
    name : str
        The table's name (its CSV's stem).

    Returns
    -------
    dict
        A copy of GROUP_SIZES[name], or {}.

    Examples
    --------
    >>> group_sizes("segment_uplift"), group_sizes("campaign_effect")
    ({'sizes': ('users_t', 'users_c')}, {})
    """
    return dict(GROUP_SIZES.get(name, {}))


def plain(value: Any) -> Any:
    """Make a numpy scalar a plain Python number (myst-nb glue shows numpy scalars as blanks).

    Floats are rounded to 12 significant digits: parallel sums in the engine differ in the last
    bits between runs, and a glued value is a cell output that nbval compares.

    Parameters
    ----------
    value : Any
        A number (numpy or Python) or anything else.

    Returns
    -------
    Any
        A plain int, float (NaN kept) or bool for a number; anything else as it is.

    Examples
    --------
    >>> import numpy as np
    >>> plain(np.float64(0.1) + np.float64(0.2))
    0.3
    """
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
    """Check a smallest publishable count (`min_cell_size`).

    Parameters
    ----------
    min_cell : int
        A whole number >= 1 (1 turns suppression off).

    Returns
    -------
    int
        `min_cell` as a plain int.

    Raises
    ------
    ValueError
        When `min_cell` is not a whole number >= 1 (a bool is refused).
    """
    if isinstance(min_cell, bool) or not isinstance(min_cell, int | np.integer) or min_cell < 1:
        raise ValueError(f"min_cell_size must be a whole number >= 1 (1 turns suppression off), got {min_cell!r}")
    return int(min_cell)


def is_small(value: Any, min_cell: int = MIN_CELL_SIZE) -> bool:
    """Whether a count must not be published: above zero and below `min_cell`.

    Zero is shown: "nobody" is what a funnel or a campaign most needs to say, and it does not
    single anyone out by itself.

    Parameters
    ----------
    value : Any
        A count; text, None, NaN and booleans are never small.
    min_cell : int, default MIN_CELL_SIZE (10)
        The smallest count that may be published.

    Returns
    -------
    bool
        True for 0 < value < min_cell.

    Examples
    --------
    >>> is_small(0), is_small(4), is_small(10)
    (False, True, False)
    """
    if isinstance(value, bool | np.bool_):
        return False
    try:
        number = float(value)
    except (TypeError, ValueError):
        return False
    return not math.isnan(number) and 0 < number < min_cell


def cell_label(n: Any, min_cell: int = MIN_CELL_SIZE, fmt: str = "{:,.0f}") -> str:
    """Format a count for a figure label or sentence, or "<10" when it is a small cell.

    Parameters
    ----------
    n : Any
        The count; None or NaN gives "".
    min_cell : int, default MIN_CELL_SIZE (10)
        The smallest count that may be published.
    fmt : str, default "{:,.0f}"
        Format of a count that is shown.

    Returns
    -------
    str
        The label.

    Examples
    --------
    >>> cell_label(1234), cell_label(4), cell_label(0)
    ('1,234', '<10', '0')
    """
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return ""
    return f"<{min_cell}" if is_small(n, min_cell) else fmt.format(n)


def suppress(frame: pd.DataFrame, min_cell: int = MIN_CELL_SIZE,
             counts: list[str] | tuple[str, ...] | None = None,
             complement: str | list[str] | None = None,
             sizes: list[str] | tuple[str, ...] | None = None,
             block: str | list[str] | None = None) -> pd.DataFrame:
    """Suppress the small cells of `frame`, as published (shown and downloaded).

    Without `sizes` every count (a column in `counts`, default: those of COUNT_COLUMNS present)
    is the size of a group: one above 0 and below `min_cell` becomes the text "<min_cell", and
    in its row every other numeric column (rates, intervals, shares, means, sums of money, p
    values) is blanked, since it is derived from the hidden count or from the few people behind
    it. Text (labels) and the numeric keys of KEY_COLUMNS (period, score, tier bounds) are kept.

    With `sizes` (the columns that give the size of the group a row describes: a funnel
    segment's settled entrants, a segment's treatment and control groups) a row is small when
    one of its sizes is above 0 and below `min_cell` (or, with `block`, when the largest count of
    its block is): then every count of the row above 0 shows "<min_cell" (0 is shown, as
    everywhere) and every other number is blanked as above. In a row whose groups are all large enough, the counts of converters or
    responders inside them are shown, below `min_cell` too. A row whose sizes are all missing is
    judged by its counts as without `sizes`. GROUP_SIZES names the tables published this way.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table to publish (not changed).
    min_cell : int, default MIN_CELL_SIZE (10)
        The smallest count that may be published; 1 turns suppression off.
    counts : list or tuple of str, or None, default None
        The columns that count people; None: those of COUNT_COLUMNS in `frame`.
    complement : str, list of str or None, default None
        The columns whose groups add up to a total published elsewhere (e.g. "step" in a
        funnel by channel: the channels of a step sum to the step's total). When exactly one cell
        of a count column is suppressed in a group, the next smallest cell of the group is
        suppressed too (shown as HIDDEN, "*": it is not small, but showing it would give the small
        one back as total minus shown parts), and the numbers derived in its row are blanked.
        ``complement=[]`` makes the whole table one group (its rows add up to a published total).
        With `sizes` it protects the sizes of a small group and the counts hidden with it.
    sizes : list or tuple of str, or None, default None
        The columns giving the size of the group each row describes (counts of people too);
        None: every count column is a size (the rule above).
    block : str, list of str or None, default None
        With `sizes`: the key columns of a group described by several rows (a funnel's segment,
        one row per step). A block whose largest count is above 0 and below `min_cell` is small
        in every row (a funnel segment's largest count is its entrants, the first step's users,
        which base_start misses while nobody has settled).

    Returns
    -------
    pandas.DataFrame
        A copy of `frame` (same columns; index reset when it was not unique); a suppressed count
        column holds objects (numbers and "<10" or "*").

    Raises
    ------
    ValueError
        When `min_cell` is not a whole number >= 1, or a column of `counts`, `sizes` or `block`
        is not in `frame`.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"channel": ["a", "b", "c"], "users": [120, 4, 30],
    ...                    "rate": [0.5, 0.25, 0.1]})
    >>> suppress(df, complement=[])   # 4 is small; 30 goes too, or 154 - 120 - 30 gives it back
      channel users  rate
    0       a   120   0.5
    1       b   <10   NaN
    2       c     *   NaN
    >>> funnel = pd.DataFrame({"segment": ["x", "y"], "base_start": [483, 7],
    ...                        "users": [4, 3], "rate": [4 / 483, 3 / 7]})
    >>> suppress(funnel, sizes=["base_start"])   # 4 converters of 483 are shown
      segment base_start users      rate
    0       x        483     4  0.008282
    1       y        <10   <10       NaN
    """
    min_cell = check_min_cell(min_cell)
    if not frame.index.is_unique:  # cells are located by index below
        frame = frame.reset_index(drop=True)
    named = {"counts": list(counts or []), "sizes": list(sizes or []),
             "block": [block] if isinstance(block, str) else list(block or [])}
    for what, columns in named.items():
        unknown = [c for c in columns if c not in frame.columns]
        if unknown:
            raise ValueError(f"{what}: no column(s) {unknown} in the table; the columns are {list(frame.columns)}")
    cols = [c for c in (COUNT_COLUMNS if counts is None else counts) if c in frame.columns]
    size_cols = named["sizes"] if sizes is not None else list(cols)
    cols += [c for c in size_cols if c not in cols]
    out = frame.copy()
    if min_cell <= 1 or not cols or frame.empty:
        return out
    small = pd.DataFrame({c: frame[c].map(lambda v: is_small(v, min_cell)) for c in cols},
                         index=frame.index)
    if sizes is not None:
        numbers = frame[cols].apply(pd.to_numeric, errors="coerce")
        row = small[size_cols].any(axis=1) if size_cols else pd.Series(False, index=frame.index)
        unsized = (numbers[size_cols].isna().all(axis=1) if size_cols
                   else pd.Series(True, index=frame.index))
        row |= unsized & small.any(axis=1)  # no known group size: every count is one
        if named["block"]:
            largest = numbers.max(axis=1).groupby(
                [frame[k] for k in named["block"]], sort=False, dropna=False).transform("max")
            row |= largest.map(lambda v: is_small(v, min_cell))
        # every count above 0 of a small group's row is hidden (0 is shown, as `is_small` says)
        small = pd.DataFrame({c: row & (numbers[c] > 0) for c in cols}, index=frame.index)
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
    """Write numbers in text columns like those of number columns (float_format "%.12g").

    A suppressed count column mixes "<10" and numbers: 157, not 157.0.

    Parameters
    ----------
    frame : pandas.DataFrame
        A published table.

    Returns
    -------
    pandas.DataFrame
        A copy; floats in object columns become text (NaN kept).

    Examples
    --------
    >>> import pandas as pd
    >>> csv_numbers(pd.DataFrame({"users": ["<10", 157.0]})).users.tolist()
    ['<10', '157']
    """
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
    """Defuse every text cell (and column name) of `frame` that could run as a spreadsheet formula.

    Every CSV the project writes goes through it: a text starting with FORMULA_START gets a
    leading apostrophe (OWASP's rule for CSV injection); numbers written as text ("-5") and a
    lone "-" are left as they are.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table to write.

    Returns
    -------
    pandas.DataFrame
        A defused copy.

    Examples
    --------
    >>> import pandas as pd
    >>> csv_safe(pd.DataFrame({"name": ["=SUM(A1)", "-5", "-"]})).name.tolist()
    ["'=SUM(A1)", '-5', '-']
    """
    out = frame.copy()
    for c in out.columns:
        if pd.api.types.is_object_dtype(out[c]) or pd.api.types.is_string_dtype(out[c]):
            out[c] = out[c].map(_defused)
    out.columns = [_defused(c) if isinstance(c, str) else c for c in out.columns]
    return out


def _term(column: str):
    """The registry term of a column name, or None for a name the registry does not know."""
    from growthloop.present.registry import SUMMARY_ALIASES, TERMS

    return TERMS.get(SUMMARY_ALIASES.get(column, column))


def cell_text(value: Any, fmt: str | None = None, unit: str = "", kind: str = "measure") -> str:
    """One cell of a table as a reader sees it in the page: no e-notation, no True/False, no inf.

    Parameters
    ----------
    value : Any
        The cell (a number, text, a flag, a date, or missing).
    fmt : str or None, default None
        A str.format spec for numbers (the chapter's, else the registry's); None: plain.
    unit : str, default ""
        The registry unit: a "p 值" below 0.001 is written "<0.001".
    kind : str, default "measure"
        The registry kind: a "key" number (a period, a score) is written without a separator.

    Returns
    -------
    str
        The text; "" for a missing value.

    Examples
    --------
    >>> [cell_text(v) for v in (True, None, float("inf"), 3.82e-85, 1234567.0, "<10")]
    ['是', '', '∞', '≈0', '1,234,567', '<10']
    >>> [cell_text(v) for v in (0.012345, 12.3456, -0.5, 7)]
    ['0.0123', '12.3456', '-0.5', '7']
    >>> cell_text(3.82e-85, unit="p 值"), cell_text(0.0123, "{:.1%}"), cell_text(219562.6, "{:,.4g}")
    ('<0.001', '1.2%', '219,563')
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return "是" if value else "否"
    if not isinstance(value, (int, float, np.integer, np.floating)):
        return str(value)
    number = float(value)
    if math.isnan(number):
        return ""
    if math.isinf(number):
        return "∞" if number > 0 else "−∞"
    if unit == "p 值":
        return "<0.001" if number < 0.001 else f"{number:.3f}"
    if fmt:
        text = fmt.format(value)
        if not re.search(r"\de[+-]?\d", text):  # a "g" format may fall into e-notation
            return text
    if kind == "key" and number.is_integer():
        return str(int(number))
    if number.is_integer() or abs(number) >= 1000:
        return f"{number:,.0f}"
    if abs(number) < 0.0001:
        return "≈0"  # not 0, and never in e-notation
    # at most four decimals, never in e-notation
    return np.format_float_positional(number, precision=4, unique=False, fractional=True, trim="-")


def page_view(frame: pd.DataFrame, formats: dict[str, str] | None = None) -> pd.DataFrame:
    """A published table as the page shows it: Chinese headers and readable cells.

    Each column's header is its registry label (growthloop.present.registry; a name the
    registry does not know keeps its name) and each cell goes through `cell_text` with the
    chapter's format for the column, else the registry's. The CSV keeps the column names and
    the numbers: this is the view only.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table after suppression.
    formats : dict of str to str or None, default None
        Column -> str.format spec chosen by the chapter; it wins over the registry's.

    Returns
    -------
    pandas.DataFrame
        Text cells under the readers' headers, the rows and their order unchanged.

    Examples
    --------
    >>> page_view(pd.DataFrame({"users": [1200], "rate_from_previous": [0.25], "x": [True]}))
          人数 上一步转化率  x
    0  1,200  25.0%  是
    """
    out = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        found = _term(str(column))
        fmt = (formats or {}).get(column) or (found.fmt if found else None)
        unit, kind = (found.unit, found.kind) if found else ("", "measure")
        header = found.label if found else str(column)
        out[header] = [cell_text(v, fmt, unit, kind) for v in frame[column].tolist()]
    return out


#: Columns a page shows at most; the CSV one click away has them all.
MAX_PAGE_COLUMNS = 8

_FUNNEL_PAGE = ("label", "users", "rate_from_start", "rate_from_previous", "ci_low", "ci_high",
                "in_progress", "lost")
_MONITOR_PAGE = ("registrations", "first_investors", "spend", "cost_per_investor", "roi_90d",
                 "revenue_per_yuan", "cost_per_retained_investor")

#: The page's columns of each wide published table (by table name), in the order shown: what a
#: reader compares. A column the table lacks (a horizon the run did not ask for) is skipped and
#: the table's next columns fill the page up to MAX_PAGE_COLUMNS.
PAGE_COLUMNS: dict[str, tuple[str, ...]] = {
    "clusters": ("cluster", "users", "user_share", "mean_invest_count", "mean_invest_amount",
                 "mean_aum", "aum_share", "description"),
    "composition": ("dimension", "value", "users", "investors", "aum", "investor_rate", "aum_share",
                    "aum_per_investor"),
    "layers": ("layer", "lower", "upper", "users", "user_share", "metric_sum", "metric_share",
               "metric_mean"),
    "funnel_steps": _FUNNEL_PAGE,
    "funnel_own_steps": _FUNNEL_PAGE,
    "funnel_by_segment": ("segment", *_FUNNEL_PAGE[:-1]),
    "funnel_cohorts": ("cohort", *_FUNNEL_PAGE[:-1]),
    "funnel_segment_tests": ("segment", "label", "base", "rate", "rest_rate", "diff", "p_holm",
                             "verdict"),
    "attribution_disagreement": ("channel", "first_touch", "last_touch", "linear", "markov",
                                 "shapley", "spread", "role"),
    "channel_monitor": ("channel", *_MONITOR_PAGE),
    "channel_monitor_campaign": ("channel", "campaign", *_MONITOR_PAGE[:-1]),
    "rfm_groups": ("group", "rule", "segments", "users", "user_share", "amount_share",
                   "revenue_share"),
    "rfm_segments": ("segment", "users", "user_share", "amount_share", "revenue_share", "action",
                     "channel", "offer"),
    "campaign_effect": ("group", "users", "responders", "rate", "uplift", "ci_low", "ci_high",
                        "p_value"),
    "campaign_history": ("campaign_id", "name", "rate_t", "rate_c", "uplift", "p_value",
                         "inc_responders", "roi"),
    "campaign_list": ("campaign_id", "name", "channel", "goal", "window_days", "start_at",
                      "members", "holdout_share"),
    "goal_decomposition": ("channel", "share", "click_to_register", "register_to_invest",
                           "cost_per_investor_30d", "target_investors", "target_registrations",
                           "budget"),
    "next_round_plan": ("segment", "targets", "segment_uplift", "uplift", "shrink_weight",
                        "expected_incremental", "expected_cost", "within_budget"),
    "segment_uplift": ("segment", "users_t", "users_c", "rate_t", "rate_c", "uplift", "p_holm",
                       "verdict"),
    "plan_expected": ("members", "treatment", "control", "baseline", "uplift", "mde",
                      "expected_incremental", "expected_cost"),
}


def page_columns(name: str, columns: list[str]) -> list[str]:
    """The columns a page shows of the published table `name`: at most MAX_PAGE_COLUMNS.

    Parameters
    ----------
    name : str
        The table's name (its CSV's stem).
    columns : list of str
        The table's columns.

    Returns
    -------
    list of str
        PAGE_COLUMNS[name] where the table has them, then its other columns in order, up to
        MAX_PAGE_COLUMNS (all of them for a table that narrow).

    Examples
    --------
    >>> page_columns("campaign_effect", ["campaign_id", "group", "users", "responders", "rate",
    ...                                  "uplift", "ci_low", "ci_high", "p_value"])
    ['group', 'users', 'responders', 'rate', 'uplift', 'ci_low', 'ci_high', 'p_value']
    >>> page_columns("other", list("abc"))
    ['a', 'b', 'c']
    """
    chosen = [c for c in PAGE_COLUMNS.get(name, ()) if c in columns]
    chosen += [c for c in columns if c not in chosen]
    return chosen[:MAX_PAGE_COLUMNS]


#: Rows a page shows of a long table; the rest are one click away (and all of them in the CSV).
PREVIEW_ROWS = 10
#: A page view of more rows than this is folded to its first PREVIEW_ROWS rows (folding away one
#: or two rows would save the reader nothing).
FOLD_ROWS = 12


def view_html(view: pd.DataFrame, total: int | None = None) -> str:
    """A page view (`page_view`) as the page's HTML: a ``gl-table``, folded when it is long.

    A view of more than FOLD_ROWS rows shows its first PREVIEW_ROWS rows (a ``gl-table
    gl-preview`` table) and the whole view in a closed ``<details class='gl-more'>`` under it,
    whose summary says how many rows it opens; the book's _static/gl-tables.css hides the
    preview while the details are open, and _static/gl-tables.js gives the whole table its
    search box and sorting. The text is the same on every run (no generated ids).

    Parameters
    ----------
    view : pandas.DataFrame
        The text cells under the readers' headers (`page_view`), at most the rows the page shows.
    total : int or None, default None
        The published table's rows when the view shows only the first of them (the summary then
        points to the CSV for the rest); None when the view is the whole table.

    Returns
    -------
    str
        HTML, every cell escaped.

    Examples
    --------
    >>> short = view_html(pd.DataFrame({"渠道": ["甲"] * 12}))
    >>> short.count("<table"), short.count("<tr>"), "<details" in short
    (1, 12, False)
    >>> folded = view_html(pd.DataFrame({"渠道": [str(i) for i in range(30)]}), total=100)
    >>> folded.count("<table"), folded.count("<tr>"), "展开前 30 行（共 100 行，全部见 CSV）" in folded
    (2, 40, True)
    """
    def table(frame: pd.DataFrame, classes: str) -> str:
        return frame.to_html(index=False, escape=True, border=0, classes=classes, na_rep="")

    whole = table(view, "gl-table")
    if len(view) <= FOLD_ROWS:
        return whole
    rows = len(view)
    opens = (f"展开前 {rows} 行（共 {total} 行，全部见 CSV）" if total is not None and total > rows
             else f"展开全部 {rows} 行")
    return (f"<div class='gl-fold'>{table(view.head(PREVIEW_ROWS), 'gl-table gl-preview')}"
            f"<details class='gl-more'><summary><span class='gl-open'>{opens}</span>"
            f"<span class='gl-close' style='display: none'>收起</span></summary>{whole}</details></div>")

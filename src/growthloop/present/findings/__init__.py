"""The words of the book: each chapter's findings and actions, chosen from its numbers.

A chapter section shows one finding and one action (`growthloop.book.Section.finding`). They
are written here, one module per chapter, as functions of the numbers the library computed
(the dicts its `*_summary` functions return), so that a sentence is only said when the numbers
support it: every branch is tested with numbers for which its condition is false.

Counts of people go through the `n` argument (the chapter's `cell_label`), so a small group is
written as "<10" in a sentence as in a table.
"""

from __future__ import annotations

from collections.abc import Callable

#: How a count of people is written: `growthloop.book.Chapter.cell_label` in a chapter.
Count = Callable[[int], str]


def plain_count(n: int) -> str:
    """A count as written when no suppression applies (tests, direct use): 12,345.

    Parameters
    ----------
    n : int
        A count of people (a float is truncated to a whole number).

    Returns
    -------
    str
        The count with thousands separators.

    Examples
    --------
    >>> plain_count(12345)
    '12,345'
    """
    return f"{int(n):,}"


def pct(x: float, digits: int = 1) -> str:
    """A share as a percentage, "—" when it is not a number.

    Parameters
    ----------
    x : float or None
        A share (0.25 is 25%); None or NaN gives "—".
    digits : int, default 1
        Decimals of the percentage.

    Returns
    -------
    str
        The percentage, or "—".

    Examples
    --------
    >>> pct(0.1234), pct(float("nan")), pct(0.5, digits=0)
    ('12.3%', '—', '50%')
    """
    return "—" if x is None or x != x else f"{x:.{digits}%}"


def size_uncertain(uplift: float, ci_low: float) -> bool:
    """A significant positive uplift whose interval's lower bound is under half of it: real,
    but of uncertain size (chapter 6 and the summary say so with the same rule).

    Parameters
    ----------
    uplift : float
        The uplift.
    ci_low : float
        Its interval's lower bound.

    Returns
    -------
    bool
        True when `ci_low` < `uplift` / 2.

    Examples
    --------
    >>> size_uncertain(0.0368, 0.0002), size_uncertain(0.05, 0.04)
    (True, False)
    """
    return ci_low < uplift / 2

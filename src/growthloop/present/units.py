"""Numbers worded for Chinese readers (元, 万元, 亿元; 万, 亿).

Kept apart from `growthloop.present.theme` (which imports matplotlib and seaborn) so that a
page drawing nothing (the summary) can word its numbers without those imports; `theme`
re-exports them under their old names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def yuan(value: float) -> str:
    """Word money in Chinese units: 亿元 from 1e8 on, 万元 from 10,000 on, else plain 元.

    Parameters
    ----------
    value : float
        An amount in yuan.

    Returns
    -------
    str
        E.g. "1.20亿元", "3,456.7万元", "-5,000元".

    Examples
    --------
    >>> yuan(1.2e8), yuan(34_567_000), yuan(-5000)
    ('1.20亿元', '3,456.7万元', '-5,000元')
    """
    sign = "-" if value < 0 else ""
    value = abs(value)
    if value >= 1e8:
        return f"{sign}{value / 1e8:,.2f}亿元"
    if value >= 1e4:
        return f"{sign}{value / 1e4:,.1f}万元"
    return f"{sign}{value:,.0f}元"


def yuan_text(values: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    """Copy `values` (a library's summary dict) with the money under `keys` worded by `yuan`.

    For prose that states money in Chinese units (1.6万元); other entries are unchanged. The
    summary never reads these: a number it computes with is glued as a number.

    Parameters
    ----------
    values : mapping of str to Any
        A summary dict.
    *keys : str
        The entries holding yuan.

    Returns
    -------
    dict of str to Any
        The copy.

    Raises
    ------
    ValueError
        When a key is not in `values`.

    Examples
    --------
    >>> yuan_text({"spend": 16_000.0, "users": 3}, "spend")
    {'spend': '1.6万元', 'users': 3}
    """
    missing = [k for k in keys if k not in values]
    if missing:
        raise ValueError(f"keys: {missing} are not in the values {list(values)}")
    return {k: yuan(v) if k in keys else v for k, v in values.items()}


def count(value: float) -> str:
    """Word a count in Chinese units (万 from 10,000 on, 亿 from 1e8 on).

    Parameters
    ----------
    value : float
        The count.

    Returns
    -------
    str
        E.g. "1.2万", "999".

    Examples
    --------
    >>> count(12_345), count(999)
    ('1.2万', '999')
    """
    if abs(value) >= 1e8:
        return f"{value / 1e8:,.2f}亿"
    if abs(value) >= 1e4:
        return f"{value / 1e4:,.1f}万"
    return f"{value:,.0f}"

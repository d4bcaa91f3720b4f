"""Free text that reaches the book is masked: phone numbers, ID numbers, e-mails and user ids.

Campaign names, target rules, UTM values and cities are typed by people, and people paste
contact data into them ("复投提醒 13812345678", utm_campaign=invite_U00001234). Every text cell
of a published table and every glued text goes through `mask_text`; a token that is a user id
of the dataset is masked too (`user_ids_in`, one small query per table). What is never
published at all (row-level data, exports) is described on the privacy page of the book.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import ibis
import pandas as pd

#: Replacement shown for a masked value.
MASK = "***"
#: Chinese mobile numbers (optionally +86 / 0086), 18-digit resident ID numbers, e-mail addresses.
_PATTERNS = (
    re.compile(r"(?<![\dA-Za-z])(?:\+?86[- ]?|0086[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?!\d)"),
    re.compile(r"(?<![\dA-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?![\dA-Za-z])"),
    re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
)
#: Tokens that could be a user id: letters, digits, '_' and '-', at least four characters.
_TOKEN = re.compile(r"[A-Za-z0-9_\-]{4,}")


def mask_text(text: str, user_ids: Iterable[str] = ()) -> str:
    """Replace phone numbers, ID numbers, e-mails and the given user ids in `text` by ***.

    Parameters
    ----------
    text : str
        Free text (a table cell, a glued text).
    user_ids : iterable of str, default ()
        User ids to mask, wherever one stands between characters that are not letters or
        digits: as a word, or inside a longer token such as invite_U0001234.

    Returns
    -------
    str
        The masked text.

    Examples
    --------
    >>> mask_text("复投提醒 13812345678, 客户 U0001234, invite_U0001234", ["U0001234"])
    '复投提醒 ***, 客户 ***, invite_***'
    """
    for pattern in _PATTERNS:
        text = pattern.sub(MASK, text)
    ids = sorted(set(user_ids), key=len, reverse=True)  # a longer id before its prefix
    if ids:
        alternatives = "|".join(re.escape(i) for i in ids)
        text = re.sub(rf"(?<![A-Za-z0-9])(?:{alternatives})(?![A-Za-z0-9])", MASK, text)
    return text


def tokens(values: Iterable[object], limit: int = 5000) -> list[str]:
    """Collect the distinct id-like tokens of the text values, to look up as user ids.

    Parameters
    ----------
    values : iterable
        Cell values; only texts are read.
    limit : int, default 5000
        Most tokens returned; reading stops once that many are found.

    Returns
    -------
    list of str
        At most `limit` tokens, sorted: every token, and its parts between '_' and '-' that
        are four characters or more (invite_U0001234 gives invite_U0001234 and U0001234).
    """
    found: set[str] = set()
    for value in values:
        if isinstance(value, str):
            for token in _TOKEN.findall(value):
                found.add(token)
                found.update(part for part in re.split(r"[_\-]", token) if len(part) >= 4)
            if len(found) >= limit:
                break
    return sorted(found)[:limit]


def user_ids_in(users: ibis.Table, candidates: list[str]) -> set[str]:
    """Find which candidates are user ids of `users` (one query; none when there is no candidate).

    Parameters
    ----------
    users : ibis.Table
        The users table (``ds.users``).
    candidates : list of str
        Tokens to look up (`tokens`).

    Returns
    -------
    set of str
        The candidates that are user ids.
    """
    if not candidates:
        return set()
    hit = users.filter(users.user_id.isin(candidates)).select("user_id").distinct()
    return set(hit.to_pyarrow().column(0).to_pylist())


def mask_frame(frame: pd.DataFrame, user_ids: Iterable[str] = ()) -> pd.DataFrame:
    """Mask every text cell of `frame` (`mask_text`); numbers are left alone.

    Parameters
    ----------
    frame : pandas.DataFrame
        A table to publish.
    user_ids : iterable of str, default ()
        User ids to mask as well.

    Returns
    -------
    pandas.DataFrame
        A masked copy.
    """
    ids = set(user_ids)
    out = frame.copy()
    for c in out.columns:
        if pd.api.types.is_object_dtype(out[c]) or pd.api.types.is_string_dtype(out[c]):
            out[c] = out[c].map(lambda v: mask_text(v, ids) if isinstance(v, str) else v)
    return out

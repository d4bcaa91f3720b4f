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
    """`text` with phone numbers, ID numbers, e-mails and the given user ids replaced by ***."""
    for pattern in _PATTERNS:
        text = pattern.sub(MASK, text)
    ids = set(user_ids)
    if ids:
        text = _TOKEN.sub(lambda m: MASK if m.group(0) in ids else m.group(0), text)
    return text


def tokens(values: Iterable[object], limit: int = 5000) -> list[str]:
    """The distinct id-like tokens of the text values (at most `limit`, sorted)."""
    found: set[str] = set()
    for value in values:
        if isinstance(value, str):
            found.update(_TOKEN.findall(value))
            if len(found) >= limit:
                break
    return sorted(found)[:limit]


def user_ids_in(users: ibis.Table, candidates: list[str]) -> set[str]:
    """The candidates that are user ids of `users` (one query; none when there is no candidate)."""
    if not candidates:
        return set()
    hit = users.filter(users.user_id.isin(candidates)).select("user_id").distinct()
    return set(hit.to_pyarrow().column(0).to_pylist())


def mask_frame(frame: pd.DataFrame, user_ids: Iterable[str] = ()) -> pd.DataFrame:
    """`frame` with every text cell masked (`mask_text`); numbers are left alone."""
    ids = set(user_ids)
    out = frame.copy()
    for c in out.columns:
        if pd.api.types.is_object_dtype(out[c]) or pd.api.types.is_string_dtype(out[c]):
            out[c] = out[c].map(lambda v: mask_text(v, ids) if isinstance(v, str) else v)
    return out

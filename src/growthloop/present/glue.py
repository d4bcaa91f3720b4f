"""Glue: numbers pasted into a chapter's prose (myst-nb), and read back by the summary.

A number is glued as a number (formatted in the page, ``{glue:text}`key:.1%` ``), never as a
pre-formatted string, so the summary reads the same value the chapter states.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from growthloop.present.privacy import mask_text
from growthloop.present.tables import plain

#: Glue keys of the sections a dataset could not support (growthloop.book.Section):
#: skipped__<chapter slug>__<section key>, the value "title\tneed\tmissing\tfix".
SKIP_PREFIX = "skipped__"

#: How the open chapter masks a glued text (growthloop.book.chapter sets it: user ids too);
#: without a chapter, phone numbers, ID numbers and e-mails are masked.
MASK_TEXT: dict[str, Callable[[str], str]] = {}


def glue(key: str, value: Any) -> None:
    """Glue a number or short text for the page's prose, without displaying it here.

    A text is masked first (growthloop.present.privacy; with an open chapter, its user ids
    too); a number is made plain (`tables.plain`).

    Parameters
    ----------
    key : str
        The glue key, prefixed with the chapter (``funnel_...``): keys are global to the book.
    value : Any
        A number or short text.
    """
    from myst_nb import glue as _glue

    if isinstance(value, str):
        value = MASK_TEXT.get("current", mask_text)(value)
    _glue(key, plain(value), display=False)


def glue_all(prefix: str, values: Mapping[str, Any]) -> None:
    """Glue every entry of `values` as `<prefix>_<name>` (a library summary dict, say).

    Parameters
    ----------
    prefix : str
        The chapter's glue prefix (funnel, attr, rfm ...): glue keys are global to the book.
    values : mapping of str to Any
        name -> number or short text; numpy scalars are made plain Python numbers.
    """
    for name, value in values.items():
        glue(f"{prefix}_{name}", value)

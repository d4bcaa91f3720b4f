"""The data-quality page's tables: the row accounting and the reasons rows were set aside."""

from __future__ import annotations

import pandas as pd

from growthloop.staging.contract import EVENT_ROLES
from growthloop.staging.loader import Dataset


def accounting(ds: Dataset) -> pd.DataFrame:
    """Count per table rows read, used and set aside (read = used + set aside), and the share.

    Parameters
    ----------
    ds : Dataset
        The opened dataset.

    Returns
    -------
    pandas.DataFrame
        One row per table read, then one per missing table (zeros, share NaN); columns
        ``table``, ``rows_read``, ``rows_used``, ``rows_set_aside``, ``set_aside_share``.
    """
    frame = ds.quality.summary()
    frame["set_aside_share"] = (frame.rows_set_aside / frame.rows_read).astype(float)
    missing = pd.DataFrame({"table": ds.quality.missing_tables, "rows_read": 0, "rows_used": 0,
                            "rows_set_aside": 0, "set_aside_share": float("nan")})
    return pd.concat([frame, missing], ignore_index=True) if len(missing) else frame


def reasons(ds: Dataset) -> pd.DataFrame:
    """List per table and rule the rows set aside and their share of the table.

    Parameters
    ----------
    ds : Dataset
        The opened dataset.

    Returns
    -------
    pandas.DataFrame
        One row per (table, rule), ordered by table, then largest count first, then rule;
        columns ``table``, ``rule``, ``rows``, ``severity``, ``share_of_table``. No example rows.
    """
    frame = ds.quality.reasons()
    read = ds.quality.read
    frame["share_of_table"] = [rows / read[t] for t, rows in zip(frame.table, frame.rows, strict=True)]
    return frame.sort_values(["table", "rows", "rule"], ascending=[True, False, True]).reset_index(drop=True)


def _folded(name: str) -> str:
    """A name with case, spaces, '_' and '-' ignored: 'Bind Card' and 'bind_card' fold alike."""
    return "".join(ch for ch in name.lower() if ch not in " _-\t")


def event_names(ds: Dataset) -> pd.DataFrame:
    """List every event name in the data with its count, first and last day and its role.

    The role is the role's label, or 自有事件 (the platform's own event). A name that differs from
    a role only by case, spaces, '_' or '-' ("Register", "bind card") is pointed out in `note`; a
    role the data does not have is listed with 0 events and what its absence means.

    Parameters
    ----------
    ds : Dataset
        The opened dataset.

    Returns
    -------
    pandas.DataFrame
        The names in the data (sorted), then the absent roles; columns ``event_name``, ``role``,
        ``events``, ``first_day``, ``last_day``, ``note``.
    """
    seen = {r["name"]: r for r in ds.quality.event_names}
    folded = {_folded(role): role for role in EVENT_ROLES}
    rows = []
    for name, r in sorted(seen.items()):
        role = EVENT_ROLES[name][0] if name in EVENT_ROLES else "自有事件 (own event)"
        like = folded.get(_folded(name))
        note = (f"看起来是 {like}：若含义相同，请在 dataset.yml 的 tables.events.values.event_name "
                f"中映射 ({name!r} looks like {like}: map it?)") if like and like != name else ""
        rows.append({"event_name": name, "role": role, "events": int(r["events"]),
                     "first_day": r["first_day"], "last_day": r["last_day"], "note": note})
    for role, (label, meaning) in EVENT_ROLES.items():
        if role not in seen:
            rows.append({"event_name": role, "role": label, "events": 0, "first_day": "",
                         "last_day": "", "note": f"数据中没有此角色的事件 (none in the data): {meaning}"})
    return pd.DataFrame(rows, columns=["event_name", "role", "events", "first_day", "last_day", "note"])


def notes(ds: Dataset) -> pd.DataFrame:
    """List rows kept but worth knowing about, per table and note.

    Reconciled sign-up times, a status written in another case, no status column.

    Parameters
    ----------
    ds : Dataset
        The opened dataset.

    Returns
    -------
    pandas.DataFrame
        Columns ``table``, ``note``, ``rows``, ``share_of_table`` (NaN when the table read no
        rows).
    """
    read = ds.quality.read
    rows = [{"table": r.table, "note": r.rule, "rows": r.rows,
             "share_of_table": r.rows / read[r.table] if read.get(r.table) else float("nan")}
            for r in ds.quality.notes]
    return pd.DataFrame(rows, columns=["table", "note", "rows", "share_of_table"])

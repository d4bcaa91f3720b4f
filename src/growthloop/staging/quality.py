"""The data-quality page's tables: the row accounting and the reasons rows were set aside."""

from __future__ import annotations

import pandas as pd

from growthloop.staging.loader import Dataset


def accounting(ds: Dataset) -> pd.DataFrame:
    """Per table: rows read, used, set aside and the share set aside (read = used + set aside)."""
    frame = ds.quality.summary()
    frame["set_aside_share"] = (frame.rows_set_aside / frame.rows_read).astype(float)
    missing = pd.DataFrame({"table": ds.quality.missing_tables, "rows_read": 0, "rows_used": 0,
                            "rows_set_aside": 0, "set_aside_share": float("nan")})
    return pd.concat([frame, missing], ignore_index=True) if len(missing) else frame


def reasons(ds: Dataset) -> pd.DataFrame:
    """Per table and rule: rows set aside and their share of the table, largest first."""
    frame = ds.quality.reasons()
    read = ds.quality.read
    frame["share_of_table"] = [rows / read[t] for t, rows in zip(frame.table, frame.rows, strict=True)]
    return frame.sort_values(["table", "rows", "rule"], ascending=[True, False, True]).reset_index(drop=True)

"""The two errors a user meets: their data or their dataset.yml cannot be used as it is.

Both name where the problem is and what to do; the CLI prints them as one line. They live in
the lowest layer so that every other module (the engine included) can raise them.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """dataset.yml is malformed; the message names the key and what to write instead."""


class DataError(ValueError):
    """The data cannot be used as it is; the message says where and what to do.

    Parameters
    ----------
    table, column
        Where: the contract table and, when one is at fault, its column.
    rule
        What is wrong, in words ("required column is missing").
    rows
        How many rows break the rule (0: not counted).
    example
        One offending row (kept out of published pages: it can hold personal data).
    hint
        What to do about it.
    """

    def __init__(self, table: str, column: str | None, rule: str, rows: int = 0,
                 example: dict | None = None, hint: str = ""):
        self.table, self.column, self.rule, self.rows, self.example = table, column, rule, rows, example
        where = f"table {table!r}" + (f", column {column!r}" if column else "")
        msg = f"{where}: {rule}"
        if rows:
            msg += f" ({rows:,} rows)"
        if example:
            msg += f"; example row: {example}"
        if hint:
            msg += f". {hint}"
        super().__init__(msg)

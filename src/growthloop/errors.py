"""The two errors a user meets: their data or their dataset.yml cannot be used as it is.

Both name where the problem is and what to do; the CLI prints them as one line. They live in
the lowest layer so that every other module (the engine included) can raise them.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """dataset.yml is malformed; the message names the key and what to write instead."""


class DataError(ValueError):
    """The data cannot be used as it is; the message says where and what to do.

    Raised by the loader and by a chapter whose input is missing, so the CLI can print one line
    that names the table, the column and the next step.

    Parameters
    ----------
    table : str
        Where: the contract table (``"users"``, ``"events"``, ...).
    column : str or None
        The column at fault, when one is; None for the table as a whole.
    rule : str
        What is wrong, in words ("required column is missing").
    rows : int, default 0
        How many rows break the rule (0: not counted; then no count is shown).
    example : dict or None, default None
        One offending row (kept out of published pages: it can hold personal data).
    hint : str, default ""
        What to do about it, appended to the message.

    Attributes
    ----------
    table, column, rule, rows, example, hint
        The arguments, kept for callers that report the error themselves.
    """

    def __init__(self, table: str, column: str | None, rule: str, rows: int = 0,
                 example: dict | None = None, hint: str = ""):
        self.table, self.column, self.rule, self.rows, self.example = table, column, rule, rows, example
        self.hint = hint
        where = f"table {table!r}" + (f", column {column!r}" if column else "")
        msg = f"{where}: {rule}"
        if rows:
            msg += f" ({rows:,} rows)"
        if example:
            msg += f"; example row: {example}"
        if hint:
            msg += f". {hint}"
        super().__init__(msg)

    def __reduce__(self):  # pickled whole: a run loads Spark data in a child process
        return (DataError, (self.table, self.column, self.rule, self.rows, self.example, self.hint))


class NotAvailable(Exception):
    """A section of the book cannot be shown for this dataset: what it needs is not in the data.

    Raised by a library function when the data cannot support its answer (no bind_card events,
    no campaign with a holdout, fewer people than a statistic needs ...). A chapter section
    (`growthloop.book.Chapter.section`) turns it into the book's standard note, 本节需要…；
    数据中没有…；补充方法…, and the book still builds; the data-quality page lists the notes.

    Parameters
    ----------
    need : str
        What the answer needs, in the reader's words (绑卡事件, 有对照组的活动, 至少 30 名投资人).
    missing : str
        What the data lacks (数据中没有 bind_card 事件).
    fix : str
        How to supply it (在 dataset.yml 把平台的绑卡事件映射为 bind_card).
    """

    def __init__(self, need: str, missing: str, fix: str = ""):
        self.need, self.missing, self.fix = need, missing, fix
        super().__init__(f"本节需要{need}；{missing}" + (f"。补充方法：{fix}" if fix else ""))

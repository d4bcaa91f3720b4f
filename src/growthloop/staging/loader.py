"""Open a dataset folder as validated Ibis tables, with an honest account of every row.

Loading follows the data contract (growthloop.staging.contract) and the folder's dataset.yml:
columns are renamed, values mapped, types parsed, and every row is either used or set aside
with a reason. Rules that make the data unusable raise DataError naming the table, the
column, the rule, the count and an example row; rows that are only suspect are set aside and
counted in `Dataset.quality`, which the book's data-quality section shows.

Everything runs in the engine (DuckDB by default): no raw table is pulled into pandas.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import gzip
import hashlib
import io
import re
import shutil
import tempfile
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import ibis
import ibis.expr.datatypes as idt
import pandas as pd
from ibis import _

from growthloop.engine import (
    backend_name,
    connect_engine,
    drop,
    materialize,
    property_keys,
    property_value,
)
from growthloop.errors import ConfigError, DataError
from growthloop.staging.config import DatasetConfig, load_config, with_channel_map
from growthloop.staging.contract import (
    BOOL,
    DATE,
    FLOAT,
    GROUPS,
    INT,
    PROPERTIES_COLUMN,
    RESERVED_EVENT_COLUMNS,
    STRING,
    SUCCESS_STATUS,
    TABLES,
    TIMESTAMP,
    TableSpec,
)

# A rule that sets aside more than this share of a table's rows is treated as a sign that the
# data (or its mapping in dataset.yml) is wrong, and stops the load.
MAX_SET_ASIDE_SHARE = 0.2
# Rules whose rows are expected in healthy data (failed payments): counted
# and shown, never a reason to stop.
INFORMATIONAL_RULES = {"transaction not successful"}
# A user's events and investments up to this many seconds before their sign-up time are kept:
# the sign-up time and the event log often come from two systems whose clocks (or rounding)
# differ by a fraction of a second or a few seconds. Such rows are counted as reconciled.
SIGNUP_TOLERANCE_SECONDS = 60
# An investment above this many yuan is taken as a unit or typing error (fen for yuan, an extra
# zero) rather than a customer: retail platforms cap a single subscription far below it.
MAX_AMOUNT = 10_000_000.0
# No single sum of money in the data (an investment, its revenue, a day's spend on a source)
# reaches this many yuan: such a value is a unit or parsing error. Below it a money sum of up to
# 10^15 rows stays within engine.money_sum's exact DECIMAL(38, 8) (below 10^30).
MONEY_CEILING = 10.0**15
# Text that means "no value" in exports from databases and spreadsheets (compared upper-cased,
# after trimming): MySQL's \N, NULL, pandas' NaN/None, Excel's #N/A.
NULL_TOKENS = ("NULL", "\\N", "NAN", "NONE", "N/A", "#N/A")
# Timestamps that cannot be later than the day the data is read: a row dated after it is a
# typing or clock error. Campaign start/end times are plans and may lie ahead.
NOT_IN_FUTURE = {"users": ("registered_at",), "events": ("event_time",),
                 "transactions": ("txn_time",), "costs": ("date",),
                 "campaign_members": ("sent_at", "clicked_at")}
# Zones in which a timestamp written '... CST' means China Standard Time (UTC+8).
CHINA_ZONES = {"Asia/Shanghai", "Asia/Chongqing", "Asia/Harbin", "PRC"}
# Files in a dataset folder that look like data; one that is not a table's file is reported.
_DATA_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".tsv", ".txt", ".xlsx", ".xls")

_IBIS_TYPES = {STRING: "string", TIMESTAMP: "timestamp", DATE: "date", INT: "int64",
               FLOAT: "float64", BOOL: "boolean"}


@dataclass
class QualityRow:
    """One line of the quality report: a rule, the table it applies to and how many rows broke it.

    Attributes
    ----------
    table : str
        The contract table.
    rule : str
        The rule, in words ("amount does not parse as float64").
    rows : int
        Rows that broke it (counted by first rule broken).
    example : dict or None
        One such row; kept out of published tables (it can hold personal data).
    severity : str
        "set aside" (the rows are not used), "informational" (counted, never stops a load) or
        "kept" (a note: the rows are used).
    """
    table: str
    rule: str
    rows: int
    example: dict | None = None
    severity: str = "set aside"  # "set aside" or "informational"


@dataclass
class QualityReport:
    """Rows read, used and set aside per table, with the reasons."""

    read: dict[str, int] = field(default_factory=dict)
    used: dict[str, int] = field(default_factory=dict)
    set_aside: list[QualityRow] = field(default_factory=list)
    missing_tables: list[str] = field(default_factory=list)
    # optional tables whose file has no rows: treated as absent (they are in missing_tables too)
    empty_tables: list[str] = field(default_factory=list)
    # columns of a file that are not in the contract (after dataset.yml's renames): not loaded
    ignored_columns: dict[str, list[str]] = field(default_factory=dict)
    # data-like files in the folder that are no table's file (a misspelt users.csv, say)
    ignored_files: list[str] = field(default_factory=list)
    # rows kept in the clean tables but dated after the analysis date, so no chapter uses them
    after_analysis_date: dict[str, int] = field(default_factory=dict)
    # contract columns the file lacks whose values may be missing: unknown for every row
    absent_columns: dict[str, list[str]] = field(default_factory=dict)
    # every event name of the clean events: name, events, first_day, last_day (by name)
    event_names: list[dict] = field(default_factory=list)
    # rows kept but worth a line (severity "kept"): reconciled sign-up times, status case ...
    notes: list[QualityRow] = field(default_factory=list)

    def summary(self) -> pd.DataFrame:
        """Count rows read, used and set aside per table (read = used + set aside).

        Returns
        -------
        pandas.DataFrame
            One row per table read, in load order; columns ``table``, ``rows_read``, ``rows_used``,
            ``rows_set_aside``.
        """
        rows = []
        for table, read in self.read.items():
            aside = sum(r.rows for r in self.set_aside if r.table == table)
            rows.append({"table": table, "rows_read": read, "rows_used": self.used[table],
                         "rows_set_aside": aside})
        return pd.DataFrame(rows, columns=["table", "rows_read", "rows_used", "rows_set_aside"])

    def reasons(self) -> pd.DataFrame:
        """List each (table, rule) that set rows aside, with its count; no example rows.

        Example rows can hold personal data, so they stay in the exception messages and the
        run's private log, never in this published table.

        Returns
        -------
        pandas.DataFrame
            One row per rule, in the order found; columns ``table``, ``rule``, ``rows``,
            ``severity``.
        """
        return pd.DataFrame(
            [{"table": r.table, "rule": r.rule, "rows": r.rows, "severity": r.severity}
             for r in self.set_aside],
            columns=["table", "rule", "rows", "severity"],
        )


def _scratch_tables(name: str) -> list[str]:
    """The loader's intermediate tables of table `name`: parsed rows, repeated hashes, grouped
    copies, rows set aside (`_check_table`); a view of the clean rows reads the first three."""
    return [f"gl_{step}_{name}" for step in ("read", "shared", "staged", "aside")]


def _source_table(con, source: str, name: str) -> ibis.Table:
    """A table already in the engine, named `table`, `database.table` or `catalog.database.table`."""
    *where, table = source.split(".")
    database = tuple(where) if len(where) == 2 else (where[0] if where else None)
    try:
        return con.table(table, database=database)
    except Exception as exc:  # each backend has its own "no such table" error
        raise DataError(name, None, f"source table {source!r} cannot be read ({type(exc).__name__}: "
                        f"{str(exc).splitlines()[0][:200]})",
                        hint=f"check tables.{name}.source in dataset.yml and the engine's "
                             "catalog") from None


def _find_file(folder: Path, name: str, configured: str | None) -> Path | None:
    if configured:
        path = (folder / configured).resolve()
        if not path.is_relative_to(folder.resolve()):
            # never read (or echo a line of) a file outside the dataset folder
            raise DataError(name, None, f"dataset.yml names file {configured!r}, which is outside "
                            "the dataset folder", hint=f"copy the file into {folder} and name it "
                            f"there (tables.{name}.file: {Path(configured).name})")
        if path.is_dir():
            raise DataError(name, None, f"dataset.yml names {configured!r}, which is a folder, "
                            "not a file", hint=f"give the file's name under tables.{name}.file")
        if not path.exists():
            raise DataError(name, None, f"dataset.yml names file {configured!r}, which is not in {folder}")
        return path
    for suffix in (".parquet", ".csv", ".csv.gz"):
        path = folder / f"{name}{suffix}"
        if path.exists():
            return path
    return None


def _other_files(folder: Path, used: set[str]) -> list[str]:
    """Data-like files in the folder that are no table's file, sorted."""
    return sorted(p.name for p in folder.iterdir()
                  if p.is_file() and p.name not in used and p.name.lower().endswith(_DATA_SUFFIXES))


def _encoding(name: str, encoding: str) -> str:
    """The configured encoding's canonical codec name, or a ConfigError naming the key."""
    try:
        return codecs.lookup(encoding).name
    except LookupError as exc:
        raise ConfigError(f"dataset.yml: tables.{name}.encoding {encoding!r} is not a known "
                          "encoding; use utf-8, gbk or gb18030") from exc


def _open_bytes(path: Path):
    """The file's bytes, decompressed when it is a .gz."""
    return gzip.open(path, "rb") if path.name.endswith(".gz") else path.open("rb")


def _utf8_copy(path: Path, encoding: str, name: str, scratch: Path) -> Path:
    """A UTF-8 copy of a CSV in another encoding (GBK, GB18030, UTF-16, UTF-8 with BOM),
    streamed into `scratch`, the load's private folder (mode 0700, removed when the load ends:
    the copy holds the file's rows)."""
    out = scratch / f"{name}.csv"
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        with _open_bytes(path) as src, out.open("w", encoding="utf-8", newline="") as dst:
            while chunk := src.read(1 << 22):
                dst.write(decoder.decode(chunk))
            dst.write(decoder.decode(b"", final=True))
    except UnicodeDecodeError as exc:
        out.unlink(missing_ok=True)
        raise DataError(name, None, f"file {path.name} is not valid {encoding} at byte {exc.start}",
                        hint=f"set tables.{name}.encoding in dataset.yml to the file's encoding "
                             f"({_encoding_hint(path)})") from None
    return out


def _encoding_hint(path: Path) -> str:
    """What the first bytes of a file say about its encoding, for an error's hint."""
    with _open_bytes(path) as fh:
        start = fh.read(4)
    if start[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return "it starts with a UTF-16 mark: encoding: utf-16"
    if start[:4] in (b"PK\x03\x04", b"\xd0\xcf\x11\xe0") or path.suffix.lower() in (".xlsx", ".xls"):
        return "it is an Excel workbook, not a CSV: save it from Excel as CSV (UTF-8)"
    if start[:4] == b"PAR1":
        return "it is a Parquet file, not a CSV: name it .parquet"
    return "gbk or gb18030 for an export from a Chinese BI tool, else utf-8"


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _csv_header(path: Path, name: str, shown: str) -> tuple[str, list[str]]:
    """The delimiter and the trimmed column names of a UTF-8 CSV's header line.

    The dialect is read from the header, not sniffed from the data: DuckDB's sniffer takes a
    file whose rows have uneven field counts for a one-column file, which would turn a broken
    line into a misleading "column is missing".
    """
    try:
        with io.TextIOWrapper(_open_bytes(path), encoding="utf-8", newline="") as fh:
            first = fh.readline()
            counts = {d: first.count(d) for d in (",", "\t", ";", "|")}
            delim = max(counts, key=lambda d: (counts[d], d == ","))
            fh.seek(0)
            header = next(csv.reader(fh, delimiter=delim, quotechar='"'), [])
    except UnicodeDecodeError:
        raise DataError(name, None, f"file {shown} is not valid UTF-8", hint=(
            f"set tables.{name}.encoding in dataset.yml to the file's encoding "
            f"({_encoding_hint(path)})")) from None
    names = [h.strip() or f"column{i}" for i, h in enumerate(header)]
    seen: set[str] = set()
    for col in names:
        if col in seen:
            raise DataError(name, col, f"column {col!r} appears twice in the header of {shown}",
                            hint="rename one of them in the file")
        seen.add(col)
    return delim, names


def _csv_sql(path: Path, delim: str, names: list[str], extra: str = "") -> str:
    columns = "{" + ", ".join(f"{_sql_text(n)}: 'VARCHAR'" for n in names) + "}"
    return (f"read_csv({_sql_text(str(path))}, header=true, auto_detect=false, "
            f"delim={_sql_text(delim)}, quote='\"', escape='\"', columns={columns}{extra})")


class _CsvSource:
    """How a CSV file was opened, kept to count its broken lines if the engine rejects it."""

    def __init__(self, path: Path, shown: str, delim: str, names: list[str]):
        self.path, self.shown, self.delim, self.names = path, shown, delim, names

    def error(self, con, name: str, exc: Exception) -> DataError:
        """A DataError for a file the engine could not parse: which lines, how many, why."""
        text = str(exc)
        if "Invalid unicode" in text:
            return DataError(name, None, f"file {self.shown} is not valid UTF-8", hint=(
                f"set tables.{name}.encoding in dataset.yml to the file's encoding "
                f"({_encoding_hint(self.path)})"))
        stamp = hashlib.sha1(f"{self.path}:{name}".encode()).hexdigest()[:8]
        try:
            con.raw_sql("SELECT count(*) FROM " + _csv_sql(
                self.path, self.delim, self.names,
                f", ignore_errors=true, store_rejects=true, rejects_table='gl_rej_{stamp}', "
                f"rejects_scan='gl_scan_{stamp}'")).fetchall()
            bad, first, kind = con.raw_sql(
                f"SELECT count(DISTINCT line), min(line), arg_min(error_type, line) "
                f"FROM gl_rej_{stamp}").fetchone()
        except duckdb.Error:
            bad, first, kind = 0, None, None
        match = re.search(r"Line: (\d+)", text)
        first = first or (int(match.group(1)) if match else None)
        what = str(kind).lower().replace("_", " ") if kind else "cannot be parsed"
        return DataError(name, None, f"file {self.shown} is not a well-formed CSV (line {first}: "
                         f"{what}; the header has {len(self.names)} columns)", rows=int(bad or 0),
                         example={"line": first}, hint=(
                             "a text with a comma, quote or line break must be in double quotes; "
                             "export the table again as CSV"))


def _read_raw(con, path: Path, name: str, encoding: str,
              scratch: Callable[[], Path]) -> tuple[ibis.Table | None, _CsvSource | None]:
    """The file as a raw engine table (CSV: all text); None when the file has no rows."""
    if backend_name(con) == "postgres":
        # Ibis would send the rows to the server one INSERT at a time, in every chapter's session
        raise DataError(name, None, f"file {path.name}: on Postgres the tables are read from the "
                        "server, not from files in the dataset folder",
                        hint=f"load it into the server once (psql's \\copy, your ETL) and name that "
                             f"table under tables.{name}.source in dataset.yml")
    if path.suffix == ".parquet":
        return con.read_parquet(path, table_name=f"raw_{name}"), None
    if backend_name(con) != "duckdb":
        raise DataError(name, None, f"file {path.name}: CSV files are read with DuckDB only",
                        hint="convert it to Parquet, or load it into the engine and name the "
                             f"table under tables.{name}.source in dataset.yml")
    enc = _encoding(name, encoding)
    with _open_bytes(path) as fh:
        start = fh.read(3)
    if not start:
        return None, None
    has_bom = start == codecs.BOM_UTF8
    if has_bom:  # a BOM says UTF-8 whatever dataset.yml says
        enc = "utf-8-sig"
    source = _utf8_copy(path, enc, name, scratch()) if enc != "utf-8" else path
    delim, names = _csv_header(source, name, path.name)
    if not names:
        return None, None
    view = f"raw_{name}"
    con.raw_sql(f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT * FROM {_csv_sql(source, delim, names)}")
    return con.table(view), _CsvSource(source, path.name, delim, names)


@ibis.udf.scalar.builtin(name="array_extract")
def _character_at(value: str, position: int) -> str:  # type: ignore[empty-body]
    """DuckDB's array_extract over text: the character at a 1-based position, -1 the last
    (a code point, found from the end without counting the text's length).

    Parameters
    ----------
    value : str
        A text column.
    position : int
        1-based; negative counts from the end.

    Returns
    -------
    str
        The character (an Ibis string expression), '' past either end.
    """


def _trimmed(col: ibis.Value, backend: str = "duckdb") -> ibis.Value:
    """`col.strip()`, which on DuckDB trims only the values that start or end with a code
    point at or below a space: the characters Ibis' strip removes (space, tab, newline,
    carriage return, vertical tab, form feed) are all there, and testing the first and the
    last character costs less than trimming every value (at 1M users, reading the events'
    text columns and trimming them 5.3 s, with the test first 3.4 s)."""
    if backend != "duckdb":
        return col.strip()
    clean_ends = (col.ascii_str() > 32) & (_character_at(col, -1).ascii_str() > 32)
    return clean_ends.ifelse(col, col.strip())


@ibis.udf.scalar.builtin(name="strlen")
def _byte_length(value: str) -> int:  # type: ignore[empty-body]
    """DuckDB's strlen: the text's length in bytes, read from its header (`length` counts the
    code points, which means reading every byte).

    Parameters
    ----------
    value : str
        A text column.

    Returns
    -------
    int
        The number of bytes (an Ibis integer expression).
    """


def _null_tokens(col: ibis.Value, backend: str = "duckdb") -> ibis.Value:
    """Trimmed text, with blanks and NULL, \\N, NaN, None, N/A and #N/A read as missing.

    A length test comes first, so that the engine upper-cases only the few short values. On
    DuckDB it counts bytes, not characters (at 1M users the events' text columns are cleaned
    in 4.6 s instead of 5.6 s): the same test for these tokens, which are ASCII, since no
    character beyond ASCII upper-cases to one of their characters."""
    text = _trimmed(col, backend)
    length = _byte_length(text) if backend == "duckdb" else text.length()
    token = (length <= max(map(len, NULL_TOKENS))) & text.upper().isin(list(NULL_TOKENS))
    return token.ifelse(ibis.null().cast("string"), text.nullif(""))


#: a text time that carries its own zone or offset ('... 10:00Z', '10:00:00+08:00', '10:00 UTC')
_OFFSET_AT_END = r"(?i)\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*(z|utc|gmt|[+-]\d{2}(:?\d{2})?)$"


def has_daylight_saving(timezone: str) -> bool:
    """True when the zone's clocks change in the years the data may cover (1990-2040): a
    wall-clock time may then fall in a gap (spring forward) that does not exist.

    Parameters
    ----------
    timezone : str
        An IANA zone name (dataset.yml's `timezone`).

    Returns
    -------
    bool
        False for a zone without daylight saving (Asia/Shanghai) or an unknown name.
    """
    import zoneinfo

    try:
        zone = zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return any(dt.datetime(y, 1, 1, tzinfo=zone).utcoffset() != dt.datetime(y, 7, 1, tzinfo=zone).utcoffset()
               for y in range(1990, 2041))


def _as_zoned_timestamp(col: ibis.Value) -> ibis.Value:
    """Text or a zoned timestamp to naive local time through TIMESTAMPTZ.

    The session is set to the dataset's zone, so a value with a zone or offset ('...Z',
    '+08:00') is converted to local time and a naive value is taken as local already.
    """
    return col.try_cast(idt.Timestamp(timezone="UTC")).try_cast("timestamp")


def _in_range(value: ibis.Value, dtype: str) -> ibis.Value:
    """Null outside years 1900-2199: 'infinity', year 0001 or 99999 is no platform's time."""
    lo, hi = dt.datetime(1900, 1, 1), dt.datetime(2200, 1, 1)
    if dtype == DATE:
        lo, hi = lo.date(), hi.date()
    return ((value >= ibis.literal(lo)) & (value < ibis.literal(hi))).ifelse(value, ibis.null().cast(value.type()))


def _parse(col: ibis.Value, dtype: str) -> ibis.Value:
    """Parse a raw column to its contract type; values that do not parse become null."""
    if dtype in (TIMESTAMP, DATE):
        return _in_range(_parse_time(col, dtype), dtype)
    return _parse_value(col, dtype)


# The source types Postgres parses without a text cast, per contract type.
_PG_PARSEABLE = {TIMESTAMP: lambda t: t.is_timestamp() or t.is_date(),
                 DATE: lambda t: t.is_timestamp() or t.is_date(),
                 FLOAT: lambda t: t.is_numeric(), INT: lambda t: t.is_numeric(),
                 BOOL: lambda t: t.is_boolean()}
_INT64_BOUND = 2.0**63  # a double below it in magnitude fits a bigint


def _parse_postgres(col: ibis.Value, dtype: str, table: str, column: str,
                    source_column: str) -> ibis.Value:
    """`_parse` on Postgres, which has no TRY_CAST: Ibis compiles try_cast to CAST, so one value
    that does not parse would stop the whole query, and the text formats Postgres reads
    ('now', '01/02/2026' as MDY, 'yes' for true) are not DuckDB's. So a column that must be
    parsed from text is refused, naming it; typed columns get DuckDB's results: a double too
    large for a bigint is no whole number (a CAST would fail). (A numeric 'NaN' is missing,
    as a float's NaN: `_prepare_columns`.)
    """
    if dtype == STRING:
        return _parse_value(col, dtype)
    ctype = col.type()
    if not _PG_PARSEABLE[dtype](ctype):
        typed = {TIMESTAMP: "timestamp", DATE: "date", FLOAT: "double precision or numeric",
                 INT: "bigint or integer", BOOL: "boolean"}[dtype]
        raise DataError(table, column, f"column is {ctype} on Postgres, where the loader reads "
                        f"{dtype} values only from a {typed} column (Postgres has no TRY_CAST "
                        "to set aside a value that does not parse)",
                        hint=f"give the source table a {typed} column (a view with a cast, e.g. "
                             f"{source_column}::{typed.split()[0]}), or drop a value map on it")
    if dtype in (TIMESTAMP, DATE):
        return _parse(col, dtype)
    null = ibis.null().cast("float64")
    value = col if ctype == idt.float64 else col.cast("float64")  # NaN is null already
    if dtype == FLOAT:
        return value.isinf().ifelse(null, value)
    if dtype == INT:
        if ctype.is_integer():
            return col.cast("int64")
        fits = (value > -_INT64_BOUND) & (value < _INT64_BOUND)
        as_int = fits.ifelse(value, null).cast("int64")
        return (as_int.cast("float64") == value).ifelse(as_int, ibis.null().cast("int64"))
    return col  # a boolean column


def _parse_time(col: ibis.Value, dtype: str) -> ibis.Value:
    ctype = col.type()
    if dtype == TIMESTAMP:
        if ctype.is_timestamp() and ctype.timezone is None:
            return col
        if ctype.is_date():
            return col.cast("timestamp")
        return _as_zoned_timestamp(col if ctype.is_string() or ctype.is_timestamp() else col.cast("string"))
    if dtype == DATE:
        if ctype.is_date():
            return col
        if ctype.is_timestamp() and ctype.timezone is None:
            return col.date()
        return _as_zoned_timestamp(col if ctype.is_string() or ctype.is_timestamp() else col.cast("string")).date()
    raise AssertionError(dtype)


def _parse_value(col: ibis.Value, dtype: str) -> ibis.Value:
    ctype = col.type()
    if dtype == STRING:
        value = col if ctype.is_string() else col.cast("string")
        return value.strip().nullif("")
    target = _IBIS_TYPES[dtype]
    if not (ctype.is_string() or ctype.is_numeric() or ctype.is_boolean()):
        col, ctype = col.cast("string"), idt.string  # a list, struct or date is no number
    if dtype == FLOAT:
        value = col if ctype == idt.float64 else col.try_cast("float64")
        # inf (or an overflow such as 1e400) is no amount; NaN is read as missing before this
        return value.isinf().ifelse(ibis.null().cast("float64"), value)
    if dtype == INT:
        if ctype.is_integer():
            return col.cast("int64")
        # "1990.0" from a spreadsheet is still a year; 30.5 days is not a whole number, and
        # 1e30 is no int64 (TRY_CAST gives null; ibis' floor() would cast and fail)
        value = col.try_cast("float64")
        as_int = value.try_cast("int64")
        return (as_int.cast("float64") == value).ifelse(as_int, ibis.null().cast("int64"))
    if ctype == idt.dtype(target):
        return col
    return col.try_cast(target)


def period_end(analysis_date: dt.date) -> dt.datetime:
    """The first instant after the analysis date: data at or after it is in the future.

    Parameters
    ----------
    analysis_date : datetime.date
        The analysis day.

    Returns
    -------
    datetime.datetime
        Midnight (naive local time) of the next day.

    Examples
    --------
    >>> import datetime as dt
    >>> period_end(dt.date(2026, 6, 30))
    datetime.datetime(2026, 7, 1, 0, 0)
    """
    return dt.datetime.combine(analysis_date + dt.timedelta(days=1), dt.time())


def kept_table_name(key: str) -> str:
    """The engine table a kept result (`Dataset.keep`) is stored under.

    Parameters
    ----------
    key : str
        The result's key; keys hold parameters (quotes, brackets).

    Returns
    -------
    str
        ``gl_<key>`` for a plain name (lower-case letters, digits, underscores, at most 41
        characters), else a readable prefix of the key and 12 hex digits of its SHA-1.

    Examples
    --------
    >>> kept_table_name("user_wide")
    'gl_user_wide'
    >>> kept_table_name("funnel.step_times:spec")[:25]
    'gl_funnel_step_times_spec'
    """
    if re.fullmatch(r"[a-z][a-z0-9_]{0,40}", key):
        return f"gl_{key}"
    slug = re.sub(r"[^a-z0-9]+", "_", key.lower()).strip("_")[:24]
    return f"gl_{slug}_{hashlib.sha1(key.encode()).hexdigest()[:12]}"


@dataclass
class Dataset:
    """A dataset folder opened in the engine: clean tables, their quality report, the config.

    Derived results are computed once per dataset and reused by every later call:
    `keep` for tables (kept in the engine), `memo` for small Python results. A contract table
    is an attribute (``ds.users``, ``ds.events``, ...); one the dataset lacks raises DataError.

    Attributes
    ----------
    path : Path
        The dataset folder.
    config : DatasetConfig
        Its dataset.yml (with the run's channel map applied).
    con : ibis.BaseBackend
        The engine connection the tables live in.
    tables : dict of str to ibis.Table
        The clean tables present, by contract name.
    quality : QualityReport
        Rows read, used and set aside, with the reasons.
    analysis_date : datetime.date
        The day the analysis is "as of".
    """

    path: Path
    config: DatasetConfig
    con: Any
    tables: dict[str, ibis.Table]
    quality: QualityReport
    analysis_date: dt.date
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)
    #: While a run's store is built: `keep` writes its tables into the session's database
    #: instead of temporary ones (the chapters attach the file; Spark caches a view either way)
    #: and lists their keys in `_kept_keys`, for the store to keep them too.
    _persist: bool = field(default=False, repr=False)
    _kept_keys: list[str] = field(default_factory=list, repr=False)

    def __getattr__(self, name: str) -> ibis.Table:
        tables = self.__dict__.get("tables", {})
        if name in TABLES:
            if name not in tables:
                raise DataError(name, None, "table is not in this dataset",
                                hint="this part of the analysis needs it; add the file to the dataset folder")
            return tables[name]
        raise AttributeError(name)

    @property
    def period_end(self) -> dt.datetime:
        """The first instant after the analysis date (nothing at or after it is used)."""
        return period_end(self.analysis_date)

    def has(self, name: str) -> bool:
        """Whether the dataset has the contract table `name` (optional tables may be absent).

        Parameters
        ----------
        name : str
            A contract table ("costs", "campaigns", ...).

        Returns
        -------
        bool
            True when the table was loaded (an empty optional table counts as absent).
        """
        return name in self.tables

    def keep(self, key: str, build: Callable[[], ibis.Table]) -> ibis.Table:
        """Compute the table `build()` describes once per dataset and key; keep it in the engine.

        Kept with `engine.materialize`; later calls with the same key read the kept table. A kept
        table that came with the dataset (a run's store) is returned as it is.

        Parameters
        ----------
        key : str
            Names the result and every parameter it depends on (a mart's name, or
            "funnel.step_times:<spec>").
        build : callable
            Returns the Ibis expression; called only the first time.

        Returns
        -------
        ibis.Table
            The kept table (in the engine; not executed into Python).
        """
        if key not in self._cache:
            self._cache[key] = materialize(self.con, kept_table_name(key), build(),
                                           temp=not self._persist)
            if self._persist:
                self._kept_keys.append(key)
        return self._cache[key]

    def memo(self, key: str, build: Callable[[], Any]) -> Any:
        """Compute a small result (a frame of sums, a set of names) once per dataset and key.

        Parameters
        ----------
        key : str
            Names the result and every parameter it depends on.
        build : callable
            Returns the result; called only the first time.

        Returns
        -------
        Any
            What `build()` returned, the same object on every call.
        """
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    def is_kept(self, key: str) -> bool:
        """Whether `keep` (or `memo`) has already computed the result under `key`.

        Parameters
        ----------
        key : str
            The result's key.

        Returns
        -------
        bool
            True when the result is cached for this dataset.
        """
        return key in self._cache


@ibis.udf.scalar.builtin
def convert_to(value: str, encoding: str) -> bytes:  # type: ignore[empty-body]
    """Postgres' convert_to, as an Ibis builtin function: the text's bytes in that encoding.

    Used to sort text by its UTF-8 bytes on Postgres, as DuckDB and Spark do.

    Parameters
    ----------
    value : str
        A text column.
    encoding : str
        The encoding's Postgres name ("UTF8").

    Returns
    -------
    bytes
        The bytes (an Ibis binary expression).
    """


def _example(table: ibis.Table, predicate, order_by: list[str],
             backend: str = "duckdb") -> dict | None:
    rows = table.filter(predicate)
    keys: list[Any] = order_by
    if backend == "postgres":
        # text sorts by the server's collation there (en_US: 'b' before 'C'); by its UTF-8 bytes
        # it is DuckDB's (and Spark's) order, so the example row is the same
        keys = [convert_to(rows[c], "UTF8") if rows[c].type().is_string() else rows[c]
                for c in order_by]
    rows = rows.order_by(keys).limit(1).to_pyarrow().to_pylist()
    if not rows:
        return None
    return {k: (str(v) if isinstance(v, dt.date | dt.datetime) else v) for k, v in rows[0].items()
            if not k.startswith("_") or k == "_raw"}


def _ceiling_rule(column: str) -> str:
    """The label of the rule that sets aside a money value of MONEY_CEILING yuan or more."""
    return f"{column} is {MONEY_CEILING:,.0f} yuan or more (not an amount of money)"


def _is_blank(col: ibis.Value) -> ibis.Value:
    return col.strip().nullif("").isnull() if col.type().is_string() else col.isnull()


def _prepare_columns(raw: ibis.Table, spec: TableSpec, cfg, report: QualityReport | None = None,
                     timezone: str = "Asia/Shanghai", backend: str = "duckdb") -> ibis.Table:
    """Rename, map values and parse every contract column, and say per row why it cannot be used.

    The result has the contract columns and `_parse`: the first parse rule the row breaks (a
    required value missing, a value that does not parse), null when none; `_raw`: the raw text
    of the value that does not parse (so an example row shows what the file holds, not the
    null it parsed to); `_gap`: the name of a time column whose local time falls in a
    daylight-saving gap of the dataset's zone (read as the time after the gap). Computing
    these here, beside the raw text, keeps the raw columns out of every later step.

    Header names are compared trimmed. Columns outside the contract are not loaded; they are
    listed in the report's `ignored_columns`, so a misspelt optional column is visible.
    """
    cst_is_china = timezone in CHINA_ZONES
    check_gaps = has_daylight_saving(timezone)
    mapping = {theirs.strip(): ours for theirs, ours in cfg.columns.items()}
    target: dict[str, list[str]] = {}
    for col in raw.columns:
        ours = mapping.get(col.strip(), col.strip())
        target.setdefault(ours, []).append(col)
    for ours, theirs in target.items():
        if len(theirs) > 1 and ours in spec.column_names:
            raise DataError(spec.name, ours, f"columns {theirs} of the file all become {ours!r}",
                            hint=f"map only one of them to {ours} in dataset.yml under "
                                 f"tables.{spec.name}.columns")
    loadable = set(spec.column_names)
    if spec.name == "events":  # declared properties and the JSON properties column
        loadable |= {*cfg.properties, PROPERTIES_COLUMN}
    renames = {ours: theirs[0] for ours, theirs in target.items() if ours != theirs[0]
               and ours in loadable}
    table = raw.rename(renames) if renames else raw
    # a column whose values may all be missing may be missing from the file too: it is read as
    # unknown for every row (and listed on the data-quality page); one that must have a value
    # in every row must be there
    missing = [c.name for c in spec.columns if not c.nullable and c.name not in table.columns]
    if missing:
        theirs = [c for c in raw.columns]
        raise DataError(spec.name, missing[0], "required column is missing",
                        hint=f"the file has columns {theirs}; map yours in dataset.yml under "
                             f"tables.{spec.name}.columns (your name: our name)")
    properties = (_event_properties(table, cfg, backend)
                  if spec.name == "events" else {})
    if report is not None:
        extra = [c for c in table.columns if c not in spec.column_names
                 and c not in properties and c != PROPERTIES_COLUMN]
        if extra:
            report.ignored_columns[spec.name] = extra
        absent = [c.name for c in spec.columns if c.required and c.name not in table.columns]
        if absent:
            report.absent_columns[spec.name] = absent
    values: dict[str, ibis.Value] = {}
    missing_rules: list[tuple[ibis.Value, str]] = []
    parse_rules: list[tuple[ibis.Value, str]] = []
    raw_texts: list[tuple[ibis.Value, ibis.Value]] = []  # (does not parse, the raw text)
    gaps: list[tuple[ibis.Value, str]] = []  # (a wall-clock time in a DST gap, the column)
    for col in spec.columns:
        if col.name not in table.columns:
            values[col.name] = ibis.null().cast(_IBIS_TYPES[col.dtype])
            continue
        raw_col = table[col.name]
        # a text column read without a value map is trimmed, with blanks as nulls, once here:
        # trimming it again to parse it or to test for a blank cost a third of the read
        cleaned_text = raw_col.type().is_string() and col.name not in cfg.values
        if raw_col.type().is_string():
            raw_col = _null_tokens(raw_col, backend)
        elif raw_col.type().is_floating():
            raw_col = raw_col.isnan().ifelse(ibis.null().cast(raw_col.type()), raw_col)
        elif backend == "postgres" and raw_col.type().is_decimal():
            # Postgres' numeric has a NaN (DuckDB's decimal has none): missing, as a float's
            as_float = raw_col.cast("float64")
            raw_col = as_float.isnan().ifelse(ibis.null().cast(raw_col.type()), raw_col)
        if col.name in cfg.values:
            as_text = raw_col if raw_col.type().is_string() else raw_col.cast("string")
            raw_col = as_text.strip().substitute(cfg.values[col.name])
        to_parse = raw_col
        if cst_is_china and col.dtype in (TIMESTAMP, DATE) and raw_col.type().is_string():
            # '... CST' from a Chinese system is China Standard Time; DuckDB reads US Central
            to_parse = raw_col.re_replace(r"\s*\b[Cc][Ss][Tt]$", "+08:00")
        if cleaned_text and col.dtype == STRING:
            parsed = raw_col
        elif backend == "postgres":
            parsed = _parse_postgres(to_parse, col.dtype, spec.name, col.name,
                                     renames.get(col.name, col.name))
        else:
            parsed = _parse(to_parse, col.dtype)
        values[col.name] = parsed
        if col.dtype != STRING:
            broken = raw_col.notnull() & parsed.isnull()
            parse_rules.append((broken, f"{col.name} does not parse as {col.dtype}"))
            raw_texts.append((broken, raw_col if raw_col.type().is_string() else raw_col.cast("string")))
        if check_gaps and col.dtype == TIMESTAMP and raw_col.type().is_string() and backend != "postgres":
            # a local time without an offset that the zone skips (02:30 on a spring-forward
            # day) is moved forward by the gap when read; kept, and counted with a note
            naive = to_parse.try_cast("timestamp")
            gaps.append((parsed.notnull() & naive.notnull() & (naive != parsed)
                         & ~to_parse.re_search(_OFFSET_AT_END), col.name))
        if not col.nullable:
            blank = raw_col.isnull() if cleaned_text else _is_blank(raw_col)
            missing_rules.append((blank, f"{col.name} is missing"))
    rules = missing_rules[::-1] + parse_rules
    text = ibis.null().cast("string")
    reason = ibis.cases(*rules, else_=text) if rules else text
    # the raw text of the first column that does not parse, for the example row
    raw = ibis.cases(*raw_texts, else_=text) if raw_texts else text
    gap = ibis.cases(*[(cond, name) for cond, name in gaps], else_=text) if gaps else text
    return table.select(**values, **properties, _parse=reason, _raw=raw, _gap=gap)


#: Rows whose hashes one query sorts when the loader looks for copies (`_Loader._stage`):
#: 18M rows (1M users' events) fit in DuckDB's default 5 GiB with room; 171M did not.
HASH_SLICE_ROWS = 20_000_000


#: A JSON properties column with more keys than this must list the ones to load.
MAX_DISCOVERED_PROPERTIES = 30


def _event_properties(table: ibis.Table, cfg, backend: str) -> dict[str, ibis.Value]:
    """The event properties as text columns: the ones dataset.yml lists (an extra column of the
    file, else a key of its JSON `properties` column), or, when none are listed, every key of
    the `properties` column (found in the data: a struct's fields, a map's or a JSON object's
    keys, at most MAX_DISCOVERED_PROPERTIES). Values are trimmed text; blanks are missing."""
    blob = table[PROPERTIES_COLUMN] if PROPERTIES_COLUMN in table.columns else None
    names = list(cfg.properties)
    if not names and blob is not None:
        names = property_keys(blob, backend)
        if len(names) > MAX_DISCOVERED_PROPERTIES:
            raise DataError("events", PROPERTIES_COLUMN,
                            f"the properties column holds {len(names)} different keys "
                            f"(e.g. {names[:5]})",
                            hint="list the ones funnel steps and goals filter on in dataset.yml "
                                 "under tables.events.properties, e.g. [product_type, risk_level]")
        clash = [n for n in names if n in TABLES["events"].column_names
                 or n in RESERVED_EVENT_COLUMNS]
        names = [n for n in names if n not in clash]
    out: dict[str, ibis.Value] = {}
    for name in names:
        if name in table.columns:
            col = table[name]
        elif blob is not None:
            col = property_value(blob, name, backend)
        else:
            raise DataError("events", name, "dataset.yml lists this property, but the events "
                            "file has neither a column of that name nor a properties column",
                            hint=f"the file has columns {list(table.columns)}; map the column "
                                 "under tables.events.columns or remove it from "
                                 "tables.events.properties")
        text = _null_tokens(col if col.type().is_string() else col.cast("string"), backend)
        if name in cfg.values:
            text = text.substitute(cfg.values[name])
        out[name] = text
    return out


class _Loader:
    def __init__(self, folder: Path, con, config: DatasetConfig, analysis_date: dt.date | None,
                 max_set_aside_share: float, max_amount: float, today: dt.date, temp: bool = True,
                 views: Collection[str] = ()):
        self.folder, self.con, self.cfg = folder, con, config
        self.temp = temp  # False: the clean tables are kept in the connection's database file
        # with temp False (DuckDB), tables left as temporary views of their parsed rows, which
        # stay until `release_view` or the connection's end: the store writes the events
        # itself, once, through the identity stitch, and a kept copy of 183M clean rows (10M
        # users) cost a third of the loader's time (benchmarks/results/notes.md, round eleven)
        self.views = set(views)
        if self.views and temp:
            raise ValueError("views: only for a load kept in the connection's database file "
                             "(temp=False); temporary tables are materialised")
        self.max_set_aside_share = max_set_aside_share
        self.max_amount = max_amount
        self.today = today
        self.report = QualityReport()
        self.analysis_date = analysis_date or config.analysis_date
        self.clean: dict[str, ibis.Table] = {}
        self.files: set[str] = {"dataset.yml"}
        self._has_status = True  # transactions: whether the status column holds any value
        self.scratch: Path | None = None
        self._event_names: dict[str, tuple[int, dt.date, dt.date]] = {}  # name: events, days

    def _scratch(self) -> Path:
        """The load's private folder for transcoded copies (0700; removed when the load ends)."""
        if self.scratch is None:
            self.scratch = Path(tempfile.mkdtemp(prefix="growthloop-load-"))
        return self.scratch

    def load(self) -> Dataset:
        try:
            for name in ("users", "events", "transactions", "costs", "campaigns", "campaign_members"):
                self._load_table(TABLES[name])
        finally:
            if self.scratch is not None:  # every clean table is kept in the engine by now
                for name in ("users", "events", "transactions", "costs", "campaigns",
                             "campaign_members"):
                    with contextlib.suppress(duckdb.Error):
                        self.con.raw_sql(f"DROP VIEW IF EXISTS raw_{name}")
                shutil.rmtree(self.scratch, ignore_errors=True)
        self.report.ignored_files = _other_files(self.folder, self.files)
        if self.analysis_date is None:
            # rows after today are already set aside, so a typo year cannot move the book
            days = [last for _, _, last in self._event_names.values()]
            self.analysis_date = max(days) if days else self.today
        self._check_analysis_date()
        self._count_after_analysis_date()
        self._count_event_names()
        return Dataset(self.folder, self.cfg, self.con, self.clean, self.report, self.analysis_date)

    def _check_analysis_date(self) -> None:
        """A book as of a day before every sign-up would have nobody in it: stop, saying when
        the data begins."""
        first = self.clean["users"].registered_at.min().to_pyarrow().as_py()
        if first is not None and first.date() > self.analysis_date:
            raise DataError("users", "registered_at",
                            f"no user signed up by the analysis date {self.analysis_date}",
                            hint=f"the first sign-up is on {first.date()}; choose an analysis_date "
                                 "on or after it (dataset.yml or the run's parameter)")

    def _add_event_name(self, name: str, events: int, first: dt.date, last: dt.date) -> None:
        """Count clean events of one name (several rows: the same name with and without a
        note), with their first and last day."""
        seen = self._event_names.get(name)
        if seen:
            events, first, last = seen[0] + events, min(seen[1], first), max(seen[2], last)
        self._event_names[name] = (events, first, last)

    def _count_event_names(self) -> None:
        """Every event name with its count and first and last day, counted in the events' pass
        for the rows per reason (`_check_table`): no pass of its own over the clean events."""
        self.report.event_names = [
            {"name": name, "events": events, "first_day": str(first), "last_day": str(last)}
            for name, (events, first, last) in sorted(self._event_names.items())]

    def _count_after_analysis_date(self) -> None:
        """Rows kept but dated after the analysis date: no chapter uses them; count them."""
        end = dt.datetime.combine(self.analysis_date + dt.timedelta(days=1), dt.time())
        parts = []
        for name, table in self.clean.items():
            col = TABLES[name].time_column
            limit = ibis.literal(end.date()) if TABLES[name].column(col).dtype == DATE else ibis.literal(end)
            parts.append(table.filter(table[col] >= limit).aggregate(table=ibis.literal(name), n=_.count()))
        for row in ibis.union(*parts).to_pyarrow().to_pylist():  # one query for all tables
            if row["n"]:
                self.report.after_analysis_date[row["table"]] = int(row["n"])

    def _table_rules(self, spec: TableSpec, table: ibis.Table) -> list[tuple[str, Any]]:
        """Content rules per table, in the order they are checked (the first match counts)."""
        rules: list[tuple[str, Any]] = []
        tomorrow = self.today + dt.timedelta(days=1)
        for col in NOT_IN_FUTURE.get(spec.name, ()):
            limit = (ibis.literal(tomorrow) if spec.column(col).dtype == DATE
                     else ibis.literal(dt.datetime.combine(tomorrow, dt.time())))
            rules.append((f"{col} is after today", (lambda c, lim: lambda t: t[c] >= lim)(col, limit)))
        early = ibis.interval(seconds=SIGNUP_TOLERANCE_SECONDS)
        if spec.name == "events":
            rules.append(("event has neither user_id nor anonymous_id",
                          lambda t: t.user_id.isnull() & t.anonymous_id.isnull()))
            rules.append(("event of a user not in users", lambda t: t.user_id.notnull() & ~t._known))
            rules.append(("event before the user's sign-up",
                          lambda t: t.user_id.notnull() & (t.event_time < t._reg - early)))
        elif spec.name == "transactions":
            cap = self.max_amount
            status = lambda t: t.status.strip().lower()  # noqa: E731
            if self._has_status:
                rules.append(("status is missing", lambda t: t.status.isnull()))
            rules.append(("transaction not successful",
                          lambda t: t.status.notnull() & (status(t) != SUCCESS_STATUS)))
            rules.append(("amount is zero or negative", lambda t: t.amount <= 0))
            rules.append((f"amount is above max_amount ({cap:,.0f} yuan)", lambda t: t.amount > cap))
            rules.append(("term_days is negative", lambda t: t.term_days < 0))
            rules.append(("revenue is negative", lambda t: t.revenue < 0))
            rules.append((_ceiling_rule("revenue"), lambda t: t.revenue >= MONEY_CEILING))
            rules.append(("transaction of a user not in users", lambda t: ~t._known))
            rules.append(("transaction before the user's sign-up",
                          lambda t: t.txn_time < t._reg - early))
        elif spec.name == "costs":
            rules.append(("spend is negative", lambda t: t.spend < 0))
            rules.append((_ceiling_rule("spend"), lambda t: t.spend >= MONEY_CEILING))
            rules.append(("impressions is negative", lambda t: t.impressions < 0))
            rules.append(("clicks is negative", lambda t: t.clicks < 0))
        elif spec.name == "campaigns":
            rules.append(("window_days is not a positive number of days",
                          lambda t: t.window_days <= 0))
            rules.append(("cost_per_send is negative", lambda t: t.cost_per_send < 0))
            rules.append(("cost_per_reward is negative", lambda t: t.cost_per_reward < 0))
        elif spec.name == "campaign_members":
            rules.append(("group is neither treatment nor control", lambda t: ~t.group.isin(list(GROUPS))))
            rules.append(("campaign not in campaigns", lambda t: ~t._campaign_known))
            rules.append(("member not in users", lambda t: ~t._known))
        return rules

    def _notes(self, spec: TableSpec) -> list[tuple[str, Any]]:
        """Rows that are kept but worth a line on the data-quality page (counted, not set aside);
        evaluated on the rows no rule set aside, the first match counts."""
        early = f"up to {SIGNUP_TOLERANCE_SECONDS} s before the user's sign-up (kept: the sign-up " \
                "time and the log differ by seconds)"
        if spec.name == "events":
            return [(f"event {early}", lambda t: t.user_id.notnull() & (t.event_time < t._reg))]
        if spec.name == "transactions":
            notes = [(f"transaction {early}", lambda t: t.txn_time < t._reg),
                     ("status 'success' written in another case or with spaces (kept)",
                      lambda t: t.status.notnull() & (t.status != SUCCESS_STATUS))]
            if not self._has_status:
                notes.append(("no status in the file: every transaction counts as an investment",
                              lambda t: t.status.isnull()))
            return notes
        return []

    def _with_lookups(self, spec: TableSpec, table: ibis.Table) -> ibis.Table:
        """Join what the content rules need (the user's sign-up time, known campaigns)."""
        users = self.clean.get("users")
        if spec.name in ("events", "transactions", "campaign_members") and users is not None:
            reg = users.select(_uid=users.user_id, _reg=users.registered_at)
            table = table.left_join(reg, table.user_id == reg._uid).drop("_uid")
            table = table.mutate(_known=table._reg.notnull())
        if spec.name == "campaign_members":
            campaigns = self.clean.get("campaigns")
            if campaigns is None:
                table = table.mutate(_campaign_known=ibis.literal(False))
            else:
                ids = campaigns.select(_cid=campaigns.campaign_id)
                table = table.left_join(ids, table.campaign_id == ids._cid)
                table = table.mutate(_campaign_known=table._cid.notnull()).drop("_cid")
        return table

    def _key_rules(self, spec: TableSpec, table: ibis.Table) -> tuple[ibis.Table, list[tuple[str, Any]]]:
        """Exact copies of a row are one row; different rows under one key are set aside.

        `table` is the distinct rows (see `_stage`)."""
        key = list(spec.key)
        # a window, not a join: a null key must stay in the table to be counted
        table = table.mutate(_versions=_[spec.key[0]].count().over(group_by=key))
        rules: list[tuple[str, Any]] = []
        if spec.name == "campaign_members":
            table = table.mutate(_groups_differ=_.group.min().over(group_by=key)
                                 != _.group.max().over(group_by=key))
            rules.append(("member is in both treatment and control",
                          lambda t: (t._versions > 1) & t._groups_differ.fill_null(False)))
        rules.append(("key appears with different values", lambda t: t._versions > 1))
        return table, rules

    def _materialize(self, name: str, expr: ibis.Table) -> ibis.Table:
        """A step's result kept in the engine, so later steps read it instead of recomputing."""
        return materialize(self.con, name, expr)

    def _drop(self, *names: str) -> None:
        for name in names:
            drop(self.con, name)

    def release_view(self, name: str) -> None:
        """Drop the temporary view of table `name` (`views`) and the parsed rows it reads,
        once the caller has kept what it needs of them: at 10M users they are the load's
        largest allocation."""
        self.con.raw_sql(f'DROP VIEW IF EXISTS temp.main."gl_{name}"')
        self._drop(*_scratch_tables(name))

    def _load_table(self, spec: TableSpec) -> None:
        cfg = self.cfg.table(spec.name)
        if cfg.source:
            raw = _source_table(self.con, cfg.source, spec.name)
            self._check_table(spec, cfg, Path(cfg.source), raw)
            return
        path = _find_file(self.folder, spec.name, cfg.file)
        if path is None:
            if spec.required:
                others = _other_files(self.folder, self.files)
                seen = f"; the folder has {others}, none named {spec.name}" if others else ""
                if backend_name(self.con) == "postgres":
                    raise DataError(spec.name, None, "table is missing",
                                    hint=f"name its table in the Postgres server in dataset.yml "
                                         f"under tables.{spec.name}.source (table or schema.table)")
                raise DataError(spec.name, None, "table is missing",
                                hint=f"put {spec.name}.parquet or {spec.name}.csv in {self.folder}, "
                                     f"or name the file in dataset.yml under tables.{spec.name}.file"
                                     f"{seen}")
            self.report.missing_tables.append(spec.name)
            return
        self.files.add(path.name)
        raw, source = _read_raw(self.con, path, spec.name, cfg.encoding, self._scratch)
        try:
            self._check_table(spec, cfg, path, raw)
        except duckdb.InvalidInputException as exc:
            # only a CSV the engine cannot parse gets here; anything else is a bug to see
            if source is None or not ("CSV Error" in str(exc) or "Invalid unicode" in str(exc)):
                raise
            raise source.error(self.con, spec.name, exc) from None

    def _empty(self, spec: TableSpec, path: Path) -> None:
        if spec.required:
            raise DataError(spec.name, None, "table is empty",
                            hint=f"{path.name} has no rows; the analysis needs {spec.name}")
        # an optional table without rows says "not available", like an absent one
        self.report.missing_tables.append(spec.name)
        self.report.empty_tables.append(spec.name)

    def _stage(self, spec: TableSpec, prepared: ibis.Table,
               columns: list[str]) -> tuple[ibis.Table, int, int]:
        """The distinct rows of `prepared` with their copies (`_copies`); rows read; distinct rows.

        Two rows equal in every column are one row (an export concatenated twice, a log ingested
        twice). Of copies that parse alike but were written differently (' 5' and '5'), any
        reason to set one aside counts: the largest `_parse`, `_raw` and `_gap` are kept.

        On DuckDB the parsed rows are kept once, with a hash of their columns; only the rows
        whose hash is not unique (the copies, and a rare collision of different rows) are
        grouped by every column. Grouping millions of nearly all different rows by every column
        takes about as long as parsing them; sorting their hashes a fraction of that
        (benchmarks/floors.py). Elsewhere the rows are grouped by every column in one pass.
        """
        name = spec.name
        agg = dict(_parse=_._parse.max(), _raw=_._raw.max(), _gap=_._gap.max(), _copies=_.count())
        if backend_name(self.con) != "duckdb":
            staged = self._materialize(f"gl_staged_{name}", prepared.group_by(columns).aggregate(**agg))
            n_read, n_distinct = (int(v or 0) for v in staged.aggregate(
                n=_._copies.sum(), d=_.count()).to_pyarrow().to_pylist()[0].values())
            return staged, n_read, n_distinct
        # struct fields named by position, whatever the columns are called
        read = self._materialize(f"gl_read_{name}", prepared.mutate(
            _h=ibis.struct({f"c{i}": prepared[c] for i, c in enumerate(columns)}).hash()))
        one = ibis.literal(1, "int64")
        once = read.select(*columns, "_parse", "_raw", "_gap", _copies=one)
        n_read = int(read.count().to_pyarrow().as_py())
        # the hashes seen more than once, found in slices of the hash space: one count over
        # 171M nearly all different hashes (10M users) asked DuckDB for a hash table it could
        # not fit in its 5 GiB (an out-of-memory error, not a spill); a slice of at most
        # HASH_SLICE_ROWS rows' hashes fits, and each hash falls in exactly one slice
        slices = max(1, -(-n_read // HASH_SLICE_ROWS))

        def repeated(part: int) -> ibis.Table:
            # the hash is a signed int64 for Ibis: a negative one has a negative remainder
            rows = read if slices == 1 else read.filter((read._h % slices + slices) % slices == part)
            # sorted, a repeated hash is equal to the next one: at 1M users (18M rows) 0.9 s
            # against 2.7-3.1 s for a count per hash (benchmarks/results/notes.md, round 22)
            rows = rows.select("_h").mutate(_next=_._h.lead().over(order_by="_h"))
            return rows.filter(rows._h == rows._next).select("_h").distinct()

        shared_name = f"gl_shared_{name}"
        shared = self._materialize(shared_name, repeated(0))
        for part in range(1, slices):
            self.con.raw_sql(f'INSERT INTO "{shared_name}" {self.con.compile(repeated(part))}')
        if not n_read or not int(shared.count().to_pyarrow().as_py()):  # no two rows alike
            return once, n_read, n_read
        grouped = self._materialize(f"gl_staged_{name}", read.semi_join(shared, "_h").select(
            *columns, "_parse", "_raw", "_gap").group_by(columns).aggregate(**agg))
        n_copies, n_groups = (int(v or 0) for v in grouped.aggregate(
            n=_._copies.sum(), d=_.count()).to_pyarrow().to_pylist()[0].values())
        once = read.anti_join(shared, "_h").select(*columns, "_parse", "_raw", "_gap", _copies=one)
        return once.union(grouped), n_read, n_read - n_copies + n_groups

    def _check_table(self, spec: TableSpec, cfg, path: Path, raw: ibis.Table | None) -> None:
        """Parse, check and keep one table, reading the file once.

        The parsed rows are kept in the engine in one pass over the file (see `_stage`); every
        rule is evaluated into `_reason` by one aggregate that counts the rows per reason (and
        note), and again where the clean table is written, straight from the parsed rows. The
        rows set aside (few) are kept apart for their example rows only when there are any.
        """
        if raw is None:
            self._empty(spec, path)
            return
        prepared = _prepare_columns(raw, spec, cfg, self.report, self.cfg.timezone,
                                    backend_name(self.con))
        # the contract's columns, then (events) the event properties
        columns = [c for c in prepared.columns if c not in ("_parse", "_raw", "_gap")]
        order = list(spec.key) or [spec.time_column or spec.columns[0].name]
        scratch = _scratch_tables(spec.name)
        key_rules: list[tuple[str, Any]] = []
        if spec.key or spec.name == "events":
            staged, n_read, n_distinct = self._stage(spec, prepared, columns)
            if n_distinct < n_read:
                self.report.set_aside.append(QualityRow(spec.name, "exact duplicate row", n_read - n_distinct))
            table = staged.drop("_copies")
            if spec.key:
                table, key_rules = self._key_rules(spec, table)
        else:
            # kept once: the rules are evaluated twice below, and parsing costs more than keeping
            staged = None
            table = self._materialize(f"gl_read_{spec.name}", prepared)
            n_read = -1  # counted with the reasons below
        if n_read == 0:
            self._drop(*scratch)
            self._empty(spec, path)
            return
        if spec.name == "campaign_members" and "campaigns" not in self.clean:
            raise DataError("campaign_members", "campaign_id", "campaigns table is missing", n_read,
                            hint="campaign_members needs campaigns.parquet or campaigns.csv to say "
                                 "what each campaign was; add it or remove campaign_members")
        table = self._with_lookups(spec, table)
        if spec.name == "transactions":
            # a status column with values: a blank status cannot be told from a failed payment
            self._has_status = bool(table.status.notnull().any().to_pyarrow().as_py())
        rules = key_rules + self._table_rules(spec, table)
        branches = [(table._parse.notnull(), table._parse)] + [(pred(table), label) for label, pred in rules]
        null = ibis.null().cast("string")
        reason = ibis.cases(*branches, else_=null)
        notes = [(pred(table), label) for label, pred in self._notes(spec)]
        notes.append((table._gap.notnull(), table._gap.concat(
            f" falls in a daylight-saving gap of {self.cfg.timezone} (kept, read as the time "
            "after the gap)")))
        note = ibis.cases(*notes, else_=null)
        tagged = table.select(*columns, _reason=reason, _note=ibis.ifelse(reason.isnull(), note, null),
                              _raw=table._raw)
        # one pass: rows per reason (and note); not kept, the clean table is written from the
        # parsed rows too (evaluating the rules again costs less than keeping every row tagged)
        counts: dict[str | None, int] = {}
        keys, days = ["_reason", "_note"], {}
        if spec.name == "events":  # and per event name in the same pass (`_count_event_names`)
            keys.append("event_name")
            days = {"_first": tagged.event_time.min().date(), "_last": tagged.event_time.max().date()}
        for row in tagged.group_by(keys).aggregate(n=_.count(), **days).to_pyarrow().to_pylist():
            counts[row["_reason"]] = counts.get(row["_reason"], 0) + int(row["n"])
            if row["_reason"] is None and row["_note"] is not None:
                self.report.notes.append(QualityRow(spec.name, row["_note"], int(row["n"]),
                                                    severity="kept"))
            if days and row["_reason"] is None:
                self._add_event_name(row["event_name"], int(row["n"]), row["_first"], row["_last"])
        self.report.notes.sort(key=lambda r: (r.table, r.rule))
        n_clean = counts.pop(None, 0)
        n_base = n_clean + sum(counts.values())
        if staged is None:
            n_read = n_base
            if n_read == 0:
                self._drop(*scratch)
                self._empty(spec, path)
                return
        if counts:  # the rows set aside (few), kept for their example rows
            aside_rows = self._materialize(f"gl_aside_{spec.name}", tagged.filter(
                tagged._reason.notnull()).drop("_note"))
        for rule_label in sorted(counts):
            n = counts[rule_label]
            # ties on the key (versions of one key) are broken by the other columns
            example = _example(aside_rows, aside_rows._reason == rule_label,
                               order + [c for c in columns if c not in order],
                               backend_name(self.con))
            severity = "informational" if rule_label in INFORMATIONAL_RULES else "set aside"
            column = next((c for c in columns if rule_label.startswith(c + " ")), None)
            raw_text = example.pop("_raw", None) if example else None
            if example and column and " does not parse as " in rule_label:
                example[column] = raw_text  # what the file holds, not the null it parsed to
            if severity == "set aside" and n > self.max_set_aside_share * n_base:
                self._drop(*scratch)
                raise DataError(spec.name, column, rule_label, n, example,
                                hint=f"that is {n / n_base:.0%} of the table: check the column "
                                     f"mapping, formats and value maps in dataset.yml")
            self.report.set_aside.append(QualityRow(spec.name, rule_label, n, example, severity))
        if not n_clean:
            self._drop(*scratch)
            aside = {r.rule: r.rows for r in self.report.set_aside if r.table == spec.name}
            if spec.name == "transactions":
                # a book without a single investment says nothing about the money; this is
                # nearly always a status value map (SUCCESS, 成功, 1) or a broken export
                raise DataError("transactions", "status", "no successful investment is left",
                                n_read, hint=f"every row was set aside: {aside}; map your status "
                                "values to success in dataset.yml (tables.transactions.values."
                                "status, e.g. {成功: success}) or check the export")
            raise DataError(spec.name, None, "no row is usable", n_read,
                            hint=f"every row was set aside: {aside}")
        clean = tagged.filter(tagged._reason.isnull()).select(*columns)
        if spec.name != "events":
            # small tables are kept in key order; the events (most of the data) as they came:
            # sorting them costs more than any chapter gains, and every query orders its result
            clean = clean.order_by(order)
        if self.temp:
            clean = self._materialize(f"gl_{spec.name}", clean)
        elif spec.name in self.views:
            self.con.raw_sql(f'CREATE OR REPLACE TEMP VIEW "gl_{spec.name}" AS '
                             f"{self.con.compile(clean)}")
            clean = self.con.table(f"gl_{spec.name}")
            scratch = [f"gl_aside_{spec.name}"]  # the view reads the others (`release_view`)
        else:  # the run's store file (growthloop.staging.store, DuckDB)
            self._drop(f"gl_{spec.name}")
            clean = self.con.create_table(f"gl_{spec.name}", clean)
        self._drop(*scratch)
        self.report.read[spec.name] = n_read
        self.report.used[spec.name] = n_clean
        self.clean[spec.name] = clean


def as_date(value: dt.date | str | None) -> dt.date | None:
    """Read an analysis date given as a date or as YYYY-MM-DD text.

    Parameters
    ----------
    value : datetime.date, str or None
        The date, its ISO text, or None.

    Returns
    -------
    datetime.date or None
        The date; None (or a date) is returned as it is.

    Raises
    ------
    ValueError
        When the text is not a YYYY-MM-DD date.

    Examples
    --------
    >>> as_date("2026-06-30")
    datetime.date(2026, 6, 30)
    """
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(f"analysis_date {value!r} is not a YYYY-MM-DD date") from exc
    return value


def resolve_today(timezone: str) -> dt.date:
    """Today's date in the dataset's time zone (rows dated after it are set aside).

    Parameters
    ----------
    timezone : str
        An IANA zone name.

    Returns
    -------
    datetime.date
        The current date there.

    Raises
    ------
    ConfigError
        When `timezone` is not a time zone.
    """
    try:
        zone = ZoneInfo(timezone)
    except (KeyError, ValueError) as exc:
        raise ConfigError(f"dataset.yml: timezone {timezone!r} is not a time zone; "
                          "write e.g. Asia/Shanghai") from exc
    return dt.datetime.now(zone).date()


def open_dataset(path: str | Path, con=None, analysis_date: dt.date | str | None = None,
                 max_set_aside_share: float = MAX_SET_ASIDE_SHARE,
                 max_amount: float = MAX_AMOUNT, today: dt.date | None = None,
                 channel_map: dict[str, str] | None = None) -> Dataset:
    """Open, validate and clean a dataset folder; the clean tables live in the engine.

    Columns are renamed and value-mapped from dataset.yml, parsed to their contract types, and
    each row is used or set aside with the first rule it breaks (docs/design_notes.md, "Loading
    and data quality").

    Parameters
    ----------
    path : str or Path
        The dataset folder (tables and an optional dataset.yml).
    con : ibis.BaseBackend or None, default None
        An Ibis backend; default the engine dataset.yml names (`engine.connect_engine`). A
        connection you pass must already be in the dataset's time zone.
    analysis_date : datetime.date, str or None, default None
        The day the analysis is "as of" (a date or YYYY-MM-DD); default dataset.yml's, else the
        last event day.
    max_set_aside_share : float, default MAX_SET_ASIDE_SHARE (0.2)
        A rule that would set aside more than this share of a table stops the load.
    max_amount : float, default MAX_AMOUNT (10,000,000)
        Investments above this many yuan are set aside as absurd; positive and below
        MONEY_CEILING (10^15 yuan).
    today : datetime.date or None, default None
        Rows dated after it are set aside (no export can hold them); default the current
        date in the dataset's zone.
    channel_map : dict of str to str or None, default None
        A run's extra UTM source aliases, {source: channel}, added to dataset.yml's channel
        map (`config.with_channel_map`) before anything is derived.

    Returns
    -------
    Dataset
        The clean tables, their quality report and the configuration.

    Raises
    ------
    DataError
        When the folder does not exist, a required table or column is missing, a file cannot be
        read, or a rule would set aside more than `max_set_aside_share` of a table.
    ConfigError
        When dataset.yml or `channel_map` is malformed.
    ValueError
        When `analysis_date` is not a date or `max_amount` is not positive and below
        MONEY_CEILING.
    """
    folder = Path(path).expanduser().resolve()
    if not folder.is_dir():
        raise DataError("dataset", None, f"folder {folder} does not exist")
    config = load_config(folder)
    config.channels = with_channel_map(config.channels, channel_map)
    zone_today = resolve_today(config.timezone)  # also checks the zone's name
    today = today or zone_today
    if con is None:
        con = connect_engine(config)
    analysis_date = as_date(analysis_date)
    if not 0 < max_amount < MONEY_CEILING:
        raise ValueError(f"max_amount must be a positive number of yuan below {MONEY_CEILING:,.0f}, "
                         f"got {max_amount!r}")
    return _Loader(folder, con, config, analysis_date, max_set_aside_share, max_amount, today).load()

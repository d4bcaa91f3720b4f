"""Open a dataset folder as validated Ibis tables, with an honest account of every row.

Loading follows the data contract (growthloop.contract) and the folder's dataset.yml:
columns are renamed, values mapped, types parsed, and every row is either used or set aside
with a reason. Rules that make the data unusable raise DataError naming the table, the
column, the rule, the count and an example row; rows that are only suspect are set aside and
counted in `Dataset.quality`, which the book's data-quality section shows.

Everything runs in the engine (DuckDB by default): no raw table is pulled into pandas.
"""

from __future__ import annotations

import codecs
import datetime as dt
import hashlib
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as idt
import pandas as pd
from ibis import _

from growthloop.config import DatasetConfig, load_config
from growthloop.contract import (
    BOOL,
    CANONICAL_EVENTS,
    DATE,
    FLOAT,
    GROUPS,
    INT,
    STRING,
    SUCCESS_STATUS,
    TABLES,
    TIMESTAMP,
    TableSpec,
)

# A rule that sets aside more than this share of a table's rows is treated as a sign that the
# data (or its mapping in dataset.yml) is wrong, and stops the load.
MAX_SET_ASIDE_SHARE = 0.2
# Rules whose rows are expected in healthy data (other event types, failed payments): counted
# and shown, never a reason to stop.
INFORMATIONAL_RULES = {"event name not in the contract", "transaction not successful"}

_IBIS_TYPES = {STRING: "string", TIMESTAMP: "timestamp", DATE: "date", INT: "int64",
               FLOAT: "float64", BOOL: "boolean"}


class DataError(ValueError):
    """The data cannot be used as it is; the message says where and what to do."""

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


@dataclass
class QualityRow:
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

    def summary(self) -> pd.DataFrame:
        """One row per table: rows read, used and set aside (read = used + set aside)."""
        rows = []
        for table, read in self.read.items():
            aside = sum(r.rows for r in self.set_aside if r.table == table)
            rows.append({"table": table, "rows_read": read, "rows_used": self.used[table],
                         "rows_set_aside": aside})
        return pd.DataFrame(rows, columns=["table", "rows_read", "rows_used", "rows_set_aside"])

    def reasons(self) -> pd.DataFrame:
        """One row per (table, rule) that set rows aside, with its count; no example rows.

        Example rows can hold personal data, so they stay in the exception messages and the
        run's private log, never in this published table.
        """
        return pd.DataFrame(
            [{"table": r.table, "rule": r.rule, "rows": r.rows, "severity": r.severity}
             for r in self.set_aside],
            columns=["table", "rule", "rows", "severity"],
        )


def connect_duckdb(timezone: str = "Asia/Shanghai", memory_limit: str | None = None,
                   temp_directory: str | None = None, threads: int | None = None):
    """An in-process DuckDB connection whose session time zone is the platform's."""
    con = ibis.duckdb.connect()
    con.raw_sql(f"SET TimeZone='{timezone}'")
    if memory_limit:
        con.raw_sql(f"SET memory_limit='{memory_limit}'")
    if temp_directory:
        con.raw_sql(f"SET temp_directory='{temp_directory}'")
    if threads:
        con.raw_sql(f"SET threads={int(threads)}")
    return con


def _find_file(folder: Path, name: str, configured: str | None) -> Path | None:
    if configured:
        path = folder / configured
        if not path.exists():
            raise DataError(name, None, f"dataset.yml names file {configured!r}, which is not in {folder}")
        return path
    for suffix in (".parquet", ".csv", ".csv.gz"):
        path = folder / f"{name}{suffix}"
        if path.exists():
            return path
    return None


def _utf8_copy(path: Path, encoding: str) -> Path:
    """A UTF-8 copy of a CSV in another encoding (GBK, GB18030, UTF-8 with BOM), streamed."""
    digest = hashlib.sha1(f"{path.resolve()}:{path.stat().st_mtime_ns}:{encoding}".encode()).hexdigest()[:16]
    out = Path(tempfile.gettempdir()) / "growthloop-csv" / f"{path.stem}-{digest}.csv"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".part")
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        with path.open("rb") as src, tmp.open("w", encoding="utf-8", newline="") as dst:
            while chunk := src.read(1 << 22):
                dst.write(decoder.decode(chunk))
            dst.write(decoder.decode(b"", final=True))
    except UnicodeDecodeError as exc:
        tmp.unlink(missing_ok=True)
        raise DataError(path.stem, None, f"file {path.name} is not valid {encoding} at byte {exc.start}",
                        hint="set tables.<name>.encoding in dataset.yml (gbk, gb18030, utf-8)") from exc
    tmp.replace(out)
    return out


def _read_raw(con, path: Path, name: str, encoding: str):
    if path.suffix == ".parquet":
        return con.read_parquet(path, table_name=f"raw_{name}")
    enc = encoding.lower().replace("_", "-")
    with path.open("rb") as fh:
        has_bom = fh.read(3) == codecs.BOM_UTF8
    if enc in ("utf-8", "utf8") and has_bom:
        enc = "utf-8-sig"
    if enc not in ("utf-8", "utf8"):
        path = _utf8_copy(path, enc)
    return con.read_csv(path, table_name=f"raw_{name}", all_varchar=True, header=True)


def _parse(col: ibis.Value, dtype: str) -> ibis.Value:
    """Parse a raw column to its contract type; values that do not parse become null."""
    if dtype == TIMESTAMP:
        if col.type().is_timestamp() and col.type().timezone is None:
            return col
        # via TIMESTAMPTZ: a zone in the data is honoured, a naive value is taken as local.
        return col.try_cast(idt.Timestamp(timezone="UTC")).try_cast("timestamp")
    if dtype == DATE:
        if col.type().is_date():
            return col
        return col.try_cast("timestamp").date() if col.type().is_string() else col.try_cast("date")
    if dtype == STRING:
        value = col if col.type().is_string() else col.cast("string")
        return value.strip().nullif("")
    target = _IBIS_TYPES[dtype]
    if col.type() == idt.dtype(target):
        return col
    if dtype == INT and col.type().is_string():
        # "1990.0" from a spreadsheet is still a year
        return col.try_cast("float64").try_cast("int64")
    return col.try_cast(target)


@dataclass
class Dataset:
    """A dataset folder opened in the engine: clean tables, their quality report, the config."""

    path: Path
    config: DatasetConfig
    con: Any
    tables: dict[str, ibis.Table]
    quality: QualityReport
    analysis_date: dt.date
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def __getattr__(self, name: str) -> ibis.Table:
        tables = self.__dict__.get("tables", {})
        if name in TABLES:
            if name not in tables:
                raise DataError(name, None, "table is not in this dataset",
                                hint="this part of the analysis needs it; add the file to the dataset folder")
            return tables[name]
        raise AttributeError(name)

    def has(self, name: str) -> bool:
        return name in self.tables

    def cached(self, key: str, build: Callable[[], Any]) -> Any:
        """Build a derived table once per dataset (the wide table, say) and reuse it."""
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]


def _example(table: ibis.Table, predicate, order_by: list[str]) -> dict | None:
    rows = table.filter(predicate).order_by(order_by).limit(1).to_pyarrow().to_pylist()
    if not rows:
        return None
    return {k: (str(v) if isinstance(v, dt.date | dt.datetime) else v) for k, v in rows[0].items()
            if not k.startswith("_")}


def _is_blank(col: ibis.Value) -> ibis.Value:
    return col.strip().nullif("").isnull() if col.type().is_string() else col.isnull()


def _prepare_columns(raw: ibis.Table, spec: TableSpec, cfg) -> tuple[ibis.Table, list[tuple[str, Any]]]:
    """Rename, map values and parse every contract column; returns the table and parse rules."""
    renames = {ours: theirs for theirs, ours in cfg.columns.items() if theirs in raw.columns}
    table = raw.rename(renames) if renames else raw
    missing = [c for c in spec.required_columns if c not in table.columns]
    if missing:
        theirs = [c for c in raw.columns]
        raise DataError(spec.name, missing[0], "required column is missing",
                        hint=f"the file has columns {theirs}; map yours in dataset.yml under "
                             f"tables.{spec.name}.columns (your name: our name)")
    values: dict[str, ibis.Value] = {}
    rules: list[tuple[str, Any]] = []
    for col in spec.columns:
        if col.name not in table.columns:
            values[col.name] = ibis.null().cast(_IBIS_TYPES[col.dtype])
            continue
        raw_col = table[col.name]
        if col.name in cfg.values:
            as_text = raw_col if raw_col.type().is_string() else raw_col.cast("string")
            raw_col = as_text.strip().substitute(cfg.values[col.name])
        parsed = _parse(raw_col, col.dtype)
        values[col.name] = parsed
        values[f"_raw_{col.name}"] = raw_col
        if col.dtype != STRING:
            rules.append((f"{col.name} does not parse as {col.dtype}",
                          (lambda n: lambda t: t[f"_raw_{n}"].notnull() & t[n].isnull())(col.name)))
        if not col.nullable:
            rules.insert(0, (f"{col.name} is missing", (lambda n: lambda t: _is_blank(t[f"_raw_{n}"]))(col.name)))
    table = table.select(**values)
    return table, rules


class _Loader:
    def __init__(self, folder: Path, con, config: DatasetConfig, analysis_date: dt.date | None,
                 max_set_aside_share: float):
        self.folder, self.con, self.cfg = folder, con, config
        self.max_set_aside_share = max_set_aside_share
        self.report = QualityReport()
        self.analysis_date = analysis_date or config.analysis_date
        self.clean: dict[str, ibis.Table] = {}

    def load(self) -> Dataset:
        for name in ("users", "events", "transactions", "costs", "campaigns", "campaign_members"):
            self._load_table(TABLES[name])
        if self.analysis_date is None:
            last = self.clean["events"].event_time.max().to_pyarrow().as_py()
            self.analysis_date = last.date() if last else dt.date.today()
        return Dataset(self.folder, self.cfg, self.con, self.clean, self.report, self.analysis_date)

    def _table_rules(self, spec: TableSpec, table: ibis.Table) -> list[tuple[str, Any]]:
        """Content rules per table, in the order they are checked (the first match counts)."""
        rules: list[tuple[str, Any]] = []
        if spec.name == "events":
            events = set(CANONICAL_EVENTS)
            rules.append(("event has neither user_id nor anonymous_id",
                          lambda t: t.user_id.isnull() & t.anonymous_id.isnull()))
            rules.append(("event name not in the contract", lambda t: ~t.event_name.isin(events)))
            rules.append(("event of a user not in users", lambda t: t.user_id.notnull() & ~t._known))
            rules.append(("event before the user's sign-up",
                          lambda t: t.user_id.notnull() & (t.event_time < t._reg)))
        elif spec.name == "transactions":
            rules.append(("transaction not successful", lambda t: t.status.notnull() & (t.status != SUCCESS_STATUS)))
            rules.append(("amount is zero or negative", lambda t: t.amount <= 0))
            rules.append(("transaction of a user not in users", lambda t: ~t._known))
            rules.append(("transaction before the user's sign-up", lambda t: t.txn_time < t._reg))
        elif spec.name == "costs":
            rules.append(("spend is negative", lambda t: t.spend < 0))
        elif spec.name == "campaign_members":
            rules.append(("group is neither treatment nor control", lambda t: ~t.group.isin(list(GROUPS))))
            rules.append(("campaign not in campaigns", lambda t: ~t._campaign_known))
            rules.append(("member not in users", lambda t: ~t._known))
        return rules

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

    def _load_table(self, spec: TableSpec) -> None:
        cfg = self.cfg.table(spec.name)
        path = _find_file(self.folder, spec.name, cfg.file)
        if path is None:
            if spec.required:
                raise DataError(spec.name, None, "table is missing",
                                hint=f"put {spec.name}.parquet or {spec.name}.csv in {self.folder}, "
                                     f"or name the file in dataset.yml under tables.{spec.name}.file")
            self.report.missing_tables.append(spec.name)
            return
        raw = _read_raw(self.con, path, spec.name, cfg.encoding)
        table, parse_rules = _prepare_columns(raw, spec, cfg)
        n_read = int(table.count().to_pyarrow().as_py())
        if n_read == 0:
            raise DataError(spec.name, None, "table is empty", hint=f"{path.name} has a header but no rows")
        order = list(spec.key) or [spec.time_column or spec.columns[0].name]
        key_rules = []
        if spec.key:
            # Exact copies of a row are one row; different rows under one key are set aside.
            contract_cols = spec.column_names
            dup = table.group_by(contract_cols).aggregate(_copies=_.count())
            n_distinct = int(dup.count().to_pyarrow().as_py())
            if n_distinct < n_read:
                self.report.set_aside.append(QualityRow(spec.name, "exact duplicate row", n_read - n_distinct))
            raw_cols = [c for c in table.columns if c.startswith("_raw_")]
            table = table.group_by(contract_cols).aggregate(**{c: table[c].arbitrary() for c in raw_cols})
            # a window, not a join: a null key must stay in the table to be counted
            table = table.mutate(_versions=_[spec.key[0]].count().over(group_by=list(spec.key)))
            key_rules.append(("key appears with different values",
                              lambda t: t._versions > 1))
        table = self._with_lookups(spec, table)
        rules = parse_rules + key_rules + self._table_rules(spec, table)
        reason = ibis.null().cast("string")
        branches = [(pred(table), label) for label, pred in rules]
        if branches:
            reason = ibis.cases(*branches, else_=ibis.null().cast("string"))
        tagged = table.mutate(_reason=reason)
        counts = (tagged.filter(tagged._reason.notnull()).group_by("_reason")
                  .aggregate(n=_.count()).order_by("_reason").to_pandas())
        n_base = int(tagged.count().to_pyarrow().as_py())
        for rule_label, n in zip(counts["_reason"], counts["n"], strict=True):
            example = _example(tagged.select(*spec.column_names, "_reason"),
                               tagged._reason == rule_label, order)
            severity = "informational" if rule_label in INFORMATIONAL_RULES else "set aside"
            column = next((c for c in spec.column_names if rule_label.startswith(c + " ")), None)
            if severity == "set aside" and n > self.max_set_aside_share * n_base:
                raise DataError(spec.name, column, rule_label, int(n), example,
                                hint=f"that is {n / n_base:.0%} of the table: check the column "
                                     f"mapping, formats and value maps in dataset.yml")
            self.report.set_aside.append(QualityRow(spec.name, rule_label, int(n), example, severity))
        clean = tagged.filter(tagged._reason.isnull()).select(*spec.column_names)
        if spec.name == "events" and not clean.count().to_pyarrow().as_py():
            raise DataError("events", "event_name", "no event has a contract event name",
                            hint=f"map your event names to {list(CANONICAL_EVENTS)} in dataset.yml "
                                 "under tables.events.values.event_name")
        clean = self.con.create_table(f"gl_{spec.name}", clean.order_by(order), temp=True)
        self.report.read[spec.name] = n_read
        self.report.used[spec.name] = int(clean.count().to_pyarrow().as_py())
        self.clean[spec.name] = clean


def open_dataset(path: str | Path, con=None, analysis_date: dt.date | str | None = None,
                 max_set_aside_share: float = MAX_SET_ASIDE_SHARE) -> Dataset:
    """Open, validate and clean a dataset folder; the clean tables live in the engine.

    `con` is an Ibis backend (default: a new in-process DuckDB in the dataset's time zone).
    A rule that would set aside more than `max_set_aside_share` of a table stops the load.
    """
    folder = Path(path).expanduser().resolve()
    if not folder.is_dir():
        raise DataError("dataset", None, f"folder {folder} does not exist")
    config = load_config(folder)
    if con is None:
        con = connect_duckdb(config.timezone)
    if isinstance(analysis_date, str):
        analysis_date = dt.date.fromisoformat(analysis_date)
    return _Loader(folder, con, config, analysis_date, max_set_aside_share).load()

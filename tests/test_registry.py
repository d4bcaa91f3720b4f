"""The metric and column registry: every published column has one term, and the page is generated.

A chapter that publishes a new column (or a new table) without a term fails here: add a `Term` to
growthloop/present/registry.py, read off the function that makes the column, then regenerate
docs/metrics.md (``python -c 'from growthloop.present.docs import write_metrics_page as w; w()'``).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from growthloop import PROJECT_ROOT
from growthloop.present.docs import METRICS_PAGE, metrics_markdown
from growthloop.present.registry import (
    KINDS,
    SUMMARY_ALIASES,
    TERMS,
    UNITS,
    Term,
    label,
    labels,
    term,
)
from growthloop.present.summary import SUMMARY_KEYS

TABLES = PROJECT_ROOT / "tables"
#: Latin letters a label may hold: the established abbreviations and the symbols k and θ.
ALLOWED_LATIN = ("CUPED", "Qini", "LTV", "CAC", "ROI", "SMD", "RFM", "p", "R", "F", "M", "k")


def _published_columns() -> dict[str, list[str]]:
    """Every column name in the header of a committed CSV under tables/, with the files using it."""
    found: dict[str, list[str]] = {}
    for path in sorted(TABLES.glob("*/*.csv")):
        with path.open(encoding="utf-8-sig", newline="") as fh:  # the BOM the book writes
            header = next(csv.reader(fh), [])
        for column in header:
            found.setdefault(column, []).append(str(path.relative_to(PROJECT_ROOT)))
    return found


def test_the_published_tables_are_found() -> None:
    columns = _published_columns()
    assert len(list(TABLES.glob("*/*.csv"))) > 50
    assert {"users", "cost_per_investor", "ci_low", "rate_from_previous"} <= set(columns)
    assert not any(c.startswith("\ufeff") for c in columns), "the BOM is not part of a name"


def test_every_published_column_has_a_term() -> None:
    missing = {c: files for c, files in _published_columns().items() if c not in TERMS}
    assert not missing, ("columns without a term in growthloop/present/registry.py TERMS "
                         f"(add one, read off the function that makes it): {missing}")


def test_every_summary_key_is_a_term_or_an_alias_of_one() -> None:
    missing = [k for k in SUMMARY_KEYS if k not in TERMS and k not in SUMMARY_ALIASES]
    assert not missing, f"summary keys without a term or an alias in SUMMARY_ALIASES: {missing}"
    assert not set(SUMMARY_ALIASES) & set(TERMS), "a key is either a term or an alias, not both"
    assert {v for v in SUMMARY_ALIASES.values() if v not in TERMS} == set()


def test_keys_match_their_terms() -> None:
    for key, t in TERMS.items():
        assert isinstance(t, Term) and t.key == key


def test_labels_are_unique() -> None:
    seen: dict[str, str] = {}
    for t in TERMS.values():
        assert t.label not in seen, f"{t.key} and {seen[t.label]} share the label {t.label!r}"
        seen[t.label] = t.key


@pytest.mark.parametrize("key", sorted(TERMS))
def test_a_label_is_short_chinese_and_never_a_column_name(key: str) -> None:
    text = TERMS[key].label
    assert text and text == text.strip()
    assert not re.search(r"[a-z]+_[a-z]+", text), f"{key}: the label {text!r} reads like a column name"
    assert re.search(r"[\u4e00-\u9fff]", text) or text in ("LTV/CAC", "CAC", "SMD"), f"{key}: not Chinese"
    latin = re.sub("|".join(rf"\b{w}\b" for w in ALLOWED_LATIN), "", text)
    assert not re.search(r"[A-Za-z]", latin), f"{key}: {text!r} holds English besides {ALLOWED_LATIN}"
    assert len(text) <= 10, f"{key}: the label {text!r} is longer than 10 characters"
    assert "|" not in text


@pytest.mark.parametrize("key", sorted(TERMS))
def test_a_term_is_complete(key: str) -> None:
    t = TERMS[key]
    assert t.unit in UNITS, f"{key}: unit {t.unit!r} not among {UNITS}"
    assert t.kind in KINDS, f"{key}: kind {t.kind!r} not among {KINDS}"
    assert re.search(r"[\u4e00-\u9fff]", t.definition) and t.definition.endswith("。"), key
    assert "|" not in t.definition and "\n" not in t.definition, key
    if t.fmt is not None:
        assert isinstance(t.fmt.format(1234.5678), str)
        assert isinstance(t.fmt.format(0), str)
    if t.kind == "count":
        assert t.unit == "人", f"{key}: a count of people is in 人"
    if t.unit in ("文本", "日期", "是/否"):
        assert t.fmt is None, f"{key}: text, dates and flags are shown as they are"


def test_rates_and_differences_of_rates_are_told_apart() -> None:
    assert TERMS["uplift"].unit == TERMS["diff"].unit == "百分点"
    assert TERMS["rate"].unit == TERMS["rate_t"].unit == "比例"
    assert label("cost_per_registration") != label("cost_per_investor")
    assert label("retained_rate") != label("rate_from_first")


def test_label_lookups() -> None:
    assert label("users") == "人数"
    assert label("cost_per_investor") == "获客成本/首投"
    assert label("cost_per_registration") == "获客成本/注册"
    assert label("p_value") == "p 值"
    assert labels(["ci_low", "rate_from_previous"]) == {"ci_low": "区间下限", "rate_from_previous": "上一步转化率"}
    assert term("review_uplift") is TERMS["uplift"]


def test_label_names_a_missing_key_and_says_where_to_add_it() -> None:
    with pytest.raises(KeyError, match="no_such_column") as err:
        label("no_such_column")
    assert "TERMS" in str(err.value) and "add" in str(err.value)
    with pytest.raises(KeyError, match="also_missing"):
        labels(["users", "also_missing"])


def test_metrics_page_is_generated_from_the_registry() -> None:
    page = (PROJECT_ROOT / METRICS_PAGE).read_text(encoding="utf-8")
    assert page == metrics_markdown(), (
        "run: python -c 'from growthloop.present.docs import write_metrics_page as w; w()' to regenerate")


def test_metrics_page_lists_every_term_once() -> None:
    page = metrics_markdown()
    assert page.startswith("# 指标口径\n")
    for key, t in TERMS.items():
        assert page.count(f"\n| `{key}` | {t.label} |") == 1, key
    for alias in SUMMARY_ALIASES:
        assert f"| `{alias}` |" in page


def test_metrics_page_is_in_the_book() -> None:
    toc = (PROJECT_ROOT / "_toc.yml").read_text(encoding="utf-8")
    assert "file: docs/metrics" in toc
    assert "{doc}`metrics`" in Path(PROJECT_ROOT / "docs" / "glossary.md").read_text(encoding="utf-8")


def test_a_wide_table_chooses_the_columns_its_page_shows() -> None:
    """A published table wider than the page has its own PAGE_COLUMNS, all of them its own
    columns (a page never fills up with whatever columns come next)."""
    from growthloop.present.tables import MAX_PAGE_COLUMNS, PAGE_COLUMNS, page_columns

    wide = {}
    for path in sorted(TABLES.glob("*/*.csv")):
        with path.open(encoding="utf-8-sig", newline="") as fh:
            header = next(csv.reader(fh), [])
        if len(header) > MAX_PAGE_COLUMNS:
            wide[path.stem] = header
    assert wide, "the demo has wide tables"
    for name, header in wide.items():
        assert name in PAGE_COLUMNS, f"{name} ({len(header)} columns): add its page columns"
        chosen = PAGE_COLUMNS[name]
        assert len(chosen) <= MAX_PAGE_COLUMNS and set(chosen) <= set(header), (name, chosen)
        assert page_columns(name, header)[:len(chosen)] == list(chosen)
    assert not set(PAGE_COLUMNS) - set(wide), "PAGE_COLUMNS names a table the book no longer has"

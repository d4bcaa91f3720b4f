"""benchmarks/report.py: the ratios and figures docs/benchmarks.md states, from hand-made rows."""

from __future__ import annotations

import math
import sys

import pandas as pd
import pytest

from growthloop import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
import report  # noqa: E402


def floors_rows(rows: list[tuple[int, str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"size": s, "phase": p, "impl": i, "seconds": v, "utc": f"2026-12-06 10:{n:02d}"}
         for n, (s, p, i, v) in enumerate(rows)])


def test_floor_verdicts_add_the_load_parts_and_divide_by_the_floor() -> None:
    f = floors_rows([
        (1_000_000, "load", "library", 14.0), (1_000_000, "identity mart", "library", 16.0),
        (1_000_000, "read + stitch", "floor", 12.0),
        (1_000_000, "funnel 7 steps", "library", 3.0), (1_000_000, "funnel 7 steps", "floor", 2.5),
        # a size whose identity mart was not measured: no load row, the funnel row stays
        (10_000_000, "load", "library", 180.0), (10_000_000, "read + stitch", "floor", 200.0),
        (10_000_000, "funnel 7 steps", "library", 50.0), (10_000_000, "funnel 7 steps", "floor", 40.0),
    ])
    got = {(v["size"], v["label"]): v for v in report.floor_verdicts(f)}
    assert sorted(got) == [(1_000_000, "7-step default funnel"),
                           (1_000_000, "load + identity stitch"),
                           (10_000_000, "7-step default funnel")]
    load = got[(1_000_000, "load + identity stitch")]
    # (14 + 16) / 12 = 2.5, against a target of 2
    assert (load["library"], load["floor"], load["target"]) == (30.0, 12.0, 2.0)
    assert load["ratio"] == pytest.approx(2.5)
    assert load["parts"] == "14.0 s + 16.0 s"
    assert load["utc"] == "2026-12-06 10:00 – 10:04"
    # 3 / 2.5 = 1.2 and 50 / 40 = 1.25, against 1.2
    assert got[(1_000_000, "7-step default funnel")]["ratio"] == pytest.approx(1.2)
    assert got[(10_000_000, "7-step default funnel")]["ratio"] == pytest.approx(1.25)


def test_the_floor_on_the_stores_tables_is_a_row_of_its_own_without_a_target() -> None:
    f = floors_rows([
        (1_000_000, "funnel 7 steps", "library", 3.6), (1_000_000, "funnel 7 steps", "floor", 2.4),
        (1_000_000, "funnel 7 steps", "floor on store", 3.0),
        (1_000_000, "funnel roles", "library", 1.0), (1_000_000, "funnel roles", "floor", 0.8),
    ])
    got = {v["label"]: v for v in report.floor_verdicts(f)}
    # 3.6 / 2.4 = 1.5 against the floor the target is set on; 3.6 / 3.0 = 1.2 on the store's
    assert got["7-step default funnel"]["ratio"] == pytest.approx(1.5)
    on_store = got["7-step default funnel, floor on the store's tables"]
    assert (on_store["floor"], on_store["target"]) == (3.0, None)
    assert on_store["ratio"] == pytest.approx(1.2)
    # no row without its floor on the store
    assert "funnel of roles (4 steps), floor on the store's tables" not in got
    table = "\n".join(report.floor_section(f))
    assert "| 1M | 7-step default funnel, floor on the store's tables | 3.6 s | 3.0 s | 1.20× | – (see above) |" in table
    assert "| 1M | 7-step default funnel | 3.6 s | 2.4 s | 1.50× | ≤ 1.2× (not met) |" in table
    # the processor the rows were measured on, a dash for rows written before it was kept
    assert table.splitlines()[-2].endswith("| 2026-12-06 10:00 – 10:04 | – |")
    f["cpu"] = "AMD EPYC"
    assert "\n".join(report.floor_section(f)).splitlines()[-2].endswith("10:04 | AMD EPYC |")


@pytest.mark.parametrize(("seconds", "text"), [
    (0.123, "0.12"), (9.994, "9.99"), (12.34, "12.3"), (99.94, "99.9"), (123.4, "123"),
    (1191.0, "1,191"),
])
def test_seconds_have_two_decimals_under_ten_one_under_a_hundred(seconds: float, text: str) -> None:
    assert report.fmt_s(seconds) == text


def test_a_missing_figure_is_a_dash() -> None:
    assert report.fmt_s(float("nan")) == report.fmt_s(None) == "–"
    assert report.fmt_mb("") == report.fmt_mb(float("nan")) == "–"


def test_memory_in_mebibytes_then_gibibytes() -> None:
    assert report.fmt_mb(599.4) == "599 MiB"
    assert report.fmt_mb(4615.0) == "4.51 GiB"  # 4615 / 1024 = 4.5068


def test_growth_exponent_is_the_slope_in_log_log() -> None:
    # time = 2 * size ** 1.5 exactly: the fitted exponent is 1.5
    sizes = [100_000, 1_000_000, 10_000_000]
    assert report.exponent(sizes, [2 * s ** 1.5 for s in sizes]) == pytest.approx(1.5)
    # ten times the users, ten times the time: linear
    assert report.exponent([1e5, 1e6], [0.4, 4.0]) == pytest.approx(1.0)
    assert report.exponent(sizes, [1.0, 1.0, 1.0]) == pytest.approx(0.0)
    # a missing or zero time is left out; one size left gives no slope
    assert report.exponent(sizes, [0.4, 4.0, float("nan")]) == pytest.approx(1.0)
    assert math.isnan(report.exponent(sizes, [0.4, 0.0, float("nan")]))


def test_the_page_takes_the_newest_round_of_the_notes_and_counts_the_others() -> None:
    notes = "## round three\nthird\n\n### detail\nmore\n\n## round two\nsecond\n## round one\nfirst\n"
    assert report.newest_round(notes) == ("## round three\nthird\n\n### detail\nmore", 2)
    assert report.newest_round("## only\ntext\n") == ("## only\ntext", 0)
    assert report.newest_round("") == ("", 0)

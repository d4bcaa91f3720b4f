"""A chapter section shows its numbers or the book's standard note, and never crashes for data
that cannot support it; the notes are listed for the data-quality page and the summary."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import event, txn, user, write_dataset

import growthloop.book as gb
from growthloop.errors import DataError, NotAvailable
from growthloop.metrics import funnel
from growthloop.staging.loader import open_dataset


@pytest.fixture
def glued(monkeypatch):
    seen: dict = {}
    monkeypatch.setattr(gb, "glue", lambda key, value: seen.__setitem__(key, value))
    shown: list = []
    import IPython.display

    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    return seen, shown


def test_a_section_turns_missing_data_into_the_standard_note(glued, tmp_path: Path) -> None:
    seen, shown = glued
    ch = gb.Chapter("02_funnel", None, tmp_path)
    with ch.section("stalled", "滞留用户") as s:
        raise NotAvailable("绑卡事件", "数据中没有 bind_card 事件", "把绑卡事件映射为 bind_card")
    assert not s.shown and s.note.need == "绑卡事件"
    html = shown[-1].data
    assert "本节需要绑卡事件；数据中没有 bind_card 事件。补充方法：把绑卡事件映射为 bind_card" in html
    assert seen["skipped__02_funnel__stalled"] == "滞留用户\t绑卡事件\t数据中没有 bind_card 事件\t把绑卡事件映射为 bind_card"
    # a DataError (the data cannot be used for it) is a note too, naming the table and the rule
    with ch.section("overview") as s:
        raise DataError("events", "event_name", "steps: no event is named 'x'", hint="the closest are ['y']")
    assert "events.event_name" in s.note.missing and "the closest are" in s.note.fix
    # a bug or a bad parameter is not hidden
    with pytest.raises(ValueError, match="window_days"), ch.section("x"):
        raise ValueError("window_days: must be a positive number of days")
    with ch.section("fine") as s:
        pass
    assert s.shown and "skipped__02_funnel__fine" not in seen


def test_defaults_adapt_to_the_roles_the_data_has(tmp_path: Path) -> None:
    # a platform without real-name or card events: the default funnel leaves those steps out
    # and says so; the stalled-user rules (which need bind_card) are not available
    path = write_dataset(
        tmp_path / "d", users=[user("U1"), user("U2")],
        events=[event("ad_click", "2024-12-31 20:00:00", anon="A1", utm_source="baidu"),
                event("register", "2025-01-01 10:00:00", "U1", "A1"),
                event("register", "2025-01-01 10:00:00", "U2", "A2"),
                event("share", "2025-05-01 10:00:00", "U2", "A2")],
        transactions=[txn("T1", "U1", "2025-01-02 09:00:00", 100.0)],
        config={"name": "d", "analysis_date": "2025-03-31"})
    ds = open_dataset(path)
    kept, left = funnel.default_steps(ds)
    assert kept == ("ad_click", "register", "first_investment", "second_investment")
    assert left == ("app_install", "kyc_verified", "bind_card")
    with pytest.raises(NotAvailable, match="本节需要绑卡事件"):
        funnel.stalled_counts(ds)
    # share is in the data, but only after the analysis date: nobody entered the funnel
    with pytest.raises(NotAvailable, match="没有人做过「分享」"):
        funnel.funnel(ds, funnel.make_spec(["share", "first_investment"]))

"""Every glue key the executive summary reads is glued by a committed chapter.

The summary (growthloop.present.summary) reads chapters' glue keys by name and shows nothing
for a key that is missing, so a renamed or dropped glue key in a chapter would quietly empty a
line of the summary. These tests read the committed executed notebooks (chapters/*.ipynb, the
nbval golden files; chapter 6's is the reference for its keys) and fail when a declared key is
glued by no chapter, when a headline key is glued by another chapter than the one it is listed
under, or when a number the summary computes with is glued as text.
"""

from __future__ import annotations

import pytest

from growthloop import PROJECT_ROOT
from growthloop.present import summary as sm

CHAPTERS = PROJECT_ROOT / "chapters"


def committed() -> dict[str, sm.ChapterGlue]:
    """The glue of every committed chapter notebook, by stem (the summary itself left out)."""
    paths = sorted(p for p in CHAPTERS.glob("[0-9][0-9]_*.ipynb") if p.stem != sm.SUMMARY_STEM)
    assert paths, f"no executed chapters in {CHAPTERS}"
    return {p.stem: sm.read_glue(p) for p in paths}


@pytest.fixture(scope="module")
def chapters() -> dict[str, sm.ChapterGlue]:
    return committed()


def glued(chapters: dict[str, sm.ChapterGlue]) -> dict[str, sm.Glued]:
    return {k: g for ch in chapters.values() for k, g in ch.values.items()}


def test_every_key_the_summary_reads_is_glued(chapters) -> None:
    keys = glued(chapters)
    missing = [k for k in sm.SUMMARY_KEYS if k not in keys]
    assert not missing, f"the summary reads {missing}, which no committed chapter glues"


def test_headline_keys_come_from_their_chapter(chapters) -> None:
    by_number = {stem.split("_", 1)[0]: ch for stem, ch in chapters.items()}
    wrong = []
    for number, rows in sm.HEADLINES.items():
        assert number in by_number, f"HEADLINES lists chapter {number}, which is not committed"
        wrong += [(number, key) for key, _label, _spec in rows
                  if key not in by_number[number].values]
    assert not wrong, f"headline keys not glued by their chapter: {wrong}"


def test_numbers_the_summary_computes_with_are_glued_as_numbers(chapters) -> None:
    keys = glued(chapters)
    numeric = [*sm.VALUE_KEYS, *(k for rule in sm.DERIVED_ACTIONS for k in rule.needs
                                 if k not in ("attr_budget_best", "attr_budget_worst"))]
    numeric += [k for rows in sm.HEADLINES.values() for k, _label, spec in rows
                if spec in ("yuan", "count") or spec.endswith(("%", "f"))]
    text = {k: keys[k].value for k in numeric if isinstance(keys[k].value, str)}
    assert not text, f"glued as text, the summary needs numbers: {text}"


def test_the_summary_reads_only_declared_keys(chapters) -> None:
    """Collecting the committed book reads every declared key through `Declared`, which
    raises on any other: a key read but not declared fails here."""
    s = sm.collect(CHAPTERS)
    assert s.value_per_investor is not None
    assert {a.name for a in s.actions} >= {r.name for r in sm.DERIVED_ACTIONS}
    assert s.campaign is not None and set(s.campaign) == {k[len("review_"):]
                                                          for k in sm.CAMPAIGN_KEYS}
    assert len(sm.headlines(s)) == sum(len(rows) for rows in sm.HEADLINES.values())


def test_a_dropped_key_is_caught(chapters) -> None:
    """The check itself: removing a key the summary reads from one chapter makes it fail."""
    key = sm.DERIVED_ACTIONS[0].needs[0]
    pruned = {stem: sm.ChapterGlue(ch.stem, ch.title,
                                   {k: g for k, g in ch.values.items() if k != key})
              for stem, ch in chapters.items()}
    with pytest.raises(AssertionError, match=key):
        test_every_key_the_summary_reads_is_glued(pruned)

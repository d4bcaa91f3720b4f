"""The shape matrix: datasets shaped unlike the demo each build a whole book, in which every
section shows its numbers and finding or the book's standard note, and nothing else.

The shapes are in tests/shapes.py. Each runs the whole campaign (every chapter, the summary and
the HTML build) on a few hundred generated users changed in one way, so the matrix stays within
the test budget.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
import shapes

from growthloop.run.notebooks import SOURCES
from growthloop.run.runner import CampaignRun, run_campaign

SECTION_CALL = "ch.section("


def section_outcomes(notebook: Path) -> dict[str, str]:
    """Each section cell's outcome in an executed chapter: "shown" (a finding), "note" (the
    standard note) or "neither"."""
    nb = nbformat.read(notebook, as_version=4)
    out = {}
    for cell in nb.cells:
        if cell.cell_type != "code" or SECTION_CALL not in cell.source:
            continue
        key = cell.source.split(SECTION_CALL, 1)[1].split(",", 1)[0].strip("\"' )")
        html = " ".join(o.get("data", {}).get("text/html", "") for o in cell.get("outputs", []))
        out[key] = ("note" if "gl-unavailable" in html else "shown" if "gl-finding" in html
                    else "neither")
    return out


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("shapes")


@pytest.mark.slow
@pytest.mark.parametrize("shape", list(shapes.SHAPES))
def test_every_shape_builds_a_book_of_numbers_or_notes(shape: str, root: Path) -> None:
    data, parameters = shapes.make(shape, root)
    run = run_campaign(CampaignRun(name=shape, data=data, parameters=parameters),
                       runs_dir=root / "runs", progress=lambda _m: None)
    html = run / "_build" / "html" / "chapters"
    chapters = sorted((run / "chapters").glob("[0-9][0-9]_*.ipynb"))
    # every chapter of the book, the summary included, was run
    assert [nb.stem for nb in chapters] == sorted(p.stem for p in SOURCES.glob("[0-9][0-9]_*.py"))
    outcomes = {}
    for nb in chapters:
        assert (html / f"{nb.stem}.html").exists(), nb.stem
        cells = nbformat.read(nb, as_version=4).cells
        assert not [o for c in cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
        for key, outcome in section_outcomes(nb).items():
            outcomes[f"{nb.stem}:{key}"] = outcome
    assert outcomes and "neither" not in outcomes.values(), outcomes
    # the data-quality page's list of skipped sections is the notes the chapters showed
    notes = {k for k, v in outcomes.items() if v == "note" and not k.startswith("00_")}
    listed = (run / "tables" / "00_data_quality" / "skipped_sections.csv").read_text(encoding="utf-8-sig")
    assert len(listed.strip().splitlines()) - 1 == len(notes)

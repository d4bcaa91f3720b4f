"""The shape matrix: datasets shaped unlike the demo each build a whole book, in which every
section shows its numbers and finding or the book's standard note, and nothing else.

The shapes are in tests/shapes.py. Each runs the whole campaign (every chapter, the summary and
the HTML build) on a few hundred generated users changed in one way, so the matrix stays within
the test budget.
"""

from __future__ import annotations

import datetime as dt
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


@pytest.mark.slow
def test_own_event_names_give_the_counts_of_an_independent_pandas_funnel(tmp_path_factory) -> None:
    """A dataset whose events keep the platform's own names (no mapping but register), run with
    `steps` set to those names: chapter 2's published funnel equals a plain-pandas count
    (benchmarks/metrics.py, its own stitching) of the same events under our names."""
    import sys

    import pandas as pd
    import yaml

    from growthloop import PROJECT_ROOT

    sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
    from metrics import pandas_metric

    root = tmp_path_factory.mktemp("own_names")
    data, parameters = shapes.make("own_event_names", root)
    steps = {"steps": parameters["steps"]}  # chapter 2's parameter (touch_events is chapter 3's)
    run = run_campaign(CampaignRun(name="own", data=data, chapters=["02"], parameters=steps),
                       runs_dir=root / "runs", progress=lambda _m: None)
    published = pd.read_csv(run / "tables" / "02_funnel" / "funnel_steps.csv",
                            encoding="utf-8-sig", dtype=str).users.tolist()
    original = shapes.base(root)
    day = yaml.safe_load((original / "dataset.yml").read_text(encoding="utf-8"))["analysis_date"]
    by_hand = pandas_metric("funnel", original, dt.date.fromisoformat(str(day))).users.tolist()
    assert len(published) == len(parameters["steps"]) == 6 and not published[0].startswith("<")
    for shown, counted in zip(published, by_hand[:6], strict=True):  # 6 of the 7 default steps
        if shown.startswith("<"):
            assert 0 < counted < int(shown[1:])
        else:
            assert int(float(shown)) == counted

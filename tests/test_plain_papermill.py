"""Plain papermill is a first-class way to run a campaign: a chapter writes its tables and
exports beside its output notebook, never into the project, and `growthloop book FOLDER` builds
the same book as `growthloop run` from a folder of chapters run that way."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from growthloop import PROJECT_ROOT
from growthloop.demo import generate_dataset
from growthloop.run.runner import CampaignRun, book_from_folder, run_campaign

CHAPTERS = ("00_data_quality", "04_rfm")


def git_status() -> str:
    """The project's git status where a chapter could write (its tables, exports, notebooks,
    the demo data, the project root's files)."""
    out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all", "--", "tables",
                          "exports", "chapters", "data", ":(glob)*"],
                         cwd=PROJECT_ROOT, capture_output=True, text=True, check=True).stdout
    return out


@pytest.mark.slow
def test_plain_papermill_writes_beside_its_output_and_builds_the_same_book(tmp_path: Path) -> None:
    data = tmp_path / "data"
    generate_dataset(data, n_users=400, seed=9)
    out = tmp_path / "out"
    out.mkdir()  # papermill writes into an existing folder
    before = git_status()
    papermill = Path(sys.executable).parent / "papermill"
    for stem in CHAPTERS:
        # run from another folder, with a relative output path: the papermill command's own
        subprocess.run([str(papermill), str(PROJECT_ROOT / "chapters" / f"{stem}.ipynb"),
                        f"out/{stem}.ipynb", "-p", "data", str(data), "-k", "python3",
                        "--no-progress-bar"], cwd=tmp_path, check=True, capture_output=True)
    assert git_status() == before  # nothing in the project changed
    for stem in CHAPTERS:
        assert (out / f"{stem}.ipynb").exists() and (out / "tables" / stem).is_dir()
    assert (out / "exports" / "04_rfm").is_dir()  # the member lists, private, beside it too
    html = book_from_folder(out, progress=lambda _m: None)
    for stem in (*CHAPTERS, "99_summary"):
        assert (html / "chapters" / f"{stem}.html").exists(), stem
    # the same tables as a growthloop run of the same campaign
    run = run_campaign(CampaignRun(name="same", data=data, parameters={}, chapters=["00", "04"]),
                       runs_dir=tmp_path / "runs", progress=lambda _m: None)
    book = out / "book"
    for stem in CHAPTERS:
        mine = sorted(p.name for p in (book / "tables" / stem).glob("*.csv"))
        theirs = sorted(p.name for p in (run / "tables" / stem).glob("*.csv"))
        assert mine == theirs and mine, stem
        for name in mine:
            assert (book / "tables" / stem / name).read_bytes() == (run / "tables" / stem / name).read_bytes(), name
    assert git_status() == before

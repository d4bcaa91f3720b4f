"""benchmarks/same_books.py: which chapter cells of two runs differ, from hand-made notebooks."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

from growthloop import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
import same_books  # noqa: E402


def write_run(run: Path, chapters: dict[str, list[list[dict]]]) -> Path:
    """A run folder whose chapters hold one code cell per list of outputs, after a markdown
    cell and papermill's injected parameters (which print the run's own folder)."""
    (run / "chapters").mkdir(parents=True)
    for name, cells in chapters.items():
        nb = nbformat.v4.new_notebook()
        nb.cells.append(nbformat.v4.new_markdown_cell("# 漏斗"))
        injected = nbformat.v4.new_code_cell("out_dir = ...")
        injected.metadata["tags"] = ["injected-parameters"]
        injected.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"{run}\n")]
        nb.cells.append(injected)
        for outputs in cells:
            cell = nbformat.v4.new_code_cell("x")
            cell.outputs = [nbformat.from_dict(o) for o in outputs]
            nb.cells.append(cell)
        nbformat.write(nb, run / "chapters" / name)
    return run


def stream(text: str) -> dict:
    return {"output_type": "stream", "name": "stdout", "text": text}


def result(plain: str, html: str | None = None) -> dict:
    data = {"text/plain": plain, **({"text/html": html} if html else {})}
    return {"output_type": "execute_result", "data": data, "metadata": {}, "execution_count": 1}


def test_cell_outputs_keep_code_cells_text_and_mask_the_run_folder(tmp_path: Path) -> None:
    run = write_run(tmp_path / "r1", {"02_funnel.ipynb": [
        [stream("转化率 12.5%\n"), result("3", "<b>3</b>")],
        [stream(f"saved to {tmp_path / 'r1'}/fig.png\n")],
        [],
    ]})
    outputs = same_books.cell_outputs(run / "chapters" / "02_funnel.ipynb",
                                      mask=[str(tmp_path / "r1")])
    # the markdown and the injected-parameters cells are left out: three code cells
    assert outputs == ["转化率 12.5%\n\n3\n<b>3</b>", "saved to <RUN>/fig.png\n", ""]


def test_compare_runs_finds_the_one_cell_whose_number_moved(tmp_path: Path) -> None:
    same = [[stream("注册 1,000\n")], [result("0.25")]]
    base = write_run(tmp_path / "base" / "t1", {
        "01_user_profiling.ipynb": same,
        "02_funnel.ipynb": [[stream(f"{tmp_path / 'base' / 't1'}\n")], [result("0.31")]],
    })
    head = write_run(tmp_path / "head" / "t2", {
        "01_user_profiling.ipynb": same,
        "02_funnel.ipynb": [[stream(f"{tmp_path / 'head' / 't2'}\n")], [result("0.32")]],
    })
    compared, found = same_books.compare_runs("two_weeks", base, head)
    assert compared == 4
    assert [(d.shape, d.chapter, d.cell, d.base, d.head) for d in found] == [
        ("two_weeks", "02_funnel.ipynb", 1, "0.31", "0.32")]
    assert "02_funnel.ipynb cell 1" in str(found[0])


def test_a_difference_is_shown_from_just_before_where_the_outputs_part() -> None:
    head = "<table>" + "<td>1</td>" * 50
    shown = str(same_books.Difference("two_weeks", "02_funnel.ipynb", 3, head + "<td>0.31</td>",
                                      head + "<td>0.32</td>"))
    first = len(head) + len("<td>0.3")
    assert f"from character {first - 80}:" in shown
    assert "0.31" in shown and "0.32" in shown


def test_compare_runs_reports_a_missing_chapter_and_a_changed_cell_count(tmp_path: Path) -> None:
    base = write_run(tmp_path / "b", {"01_a.ipynb": [[stream("1")]], "02_b.ipynb": [[]]})
    head = write_run(tmp_path / "h", {"01_a.ipynb": [[stream("1")], [stream("2")]]})
    compared, found = same_books.compare_runs("one_channel", base, head)
    assert compared == 1
    assert [(d.chapter, d.cell, d.base, d.head) for d in found] == [
        ("01_a.ipynb", None, "1 code cells", "2 code cells"),
        ("02_b.ipynb", None, "True", "False"),
    ]


def test_newest_run_is_the_latest_complete_run(tmp_path: Path) -> None:
    for name in ("20261207-080000", "20261207-090000", ".20261207-100000.tmp",
                 "20261207-110000-failed"):
        (tmp_path / "shape" / name).mkdir(parents=True)
    assert same_books.newest_run(tmp_path, "shape").name == "20261207-090000"

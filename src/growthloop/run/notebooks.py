"""Chapter sources and their executed, committed notebooks.

A chapter is written as a jupytext percent-format script, chapters/src/NN_name.py (easy to
review and diff); `refresh` turns it into chapters/NN_name.ipynb with the book's cell tags and
executes it with papermill on the demo data, with the parameters of the demo campaign
(campaigns/demo.yml), so the committed chapters are what `growthloop run campaigns/demo.yml`
shows. The executed notebooks are the nbval golden files (nbval executes the injected
parameters cell with the rest).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import jupytext
import nbformat
import papermill

from growthloop import PROJECT_ROOT
from growthloop.book import TABLES_DIR
from growthloop.present.summary import READER_STEMS, execution_order
from growthloop.run.kernels import KERNEL_NAME
from growthloop.run.runner import (
    declared_parameters,
    hide_injected_cell,
    load_campaign,
    plain_parameters,
)

SOURCES = PROJECT_ROOT / "chapters" / "src"
CHAPTERS = PROJECT_ROOT / "chapters"
#: The campaign whose parameters the committed chapters are executed with
DEMO_CAMPAIGN = PROJECT_ROOT / "campaigns" / "demo.yml"


def demo_parameters(notebook: Path) -> dict:
    """The demo campaign's parameters that a chapter declares (its data stays the default).

    Parameters
    ----------
    notebook : Path
        A chapter notebook (tagged, not yet executed).

    Returns
    -------
    dict
        The parameters of campaigns/demo.yml the chapter declares, as papermill writes them.
    """
    params = plain_parameters(load_campaign(DEMO_CAMPAIGN).parameters)
    declared = declared_parameters(notebook)
    return {k: v for k, v in params.items() if k in declared}


def tag_cells(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Tag a chapter's cells for the book: readers see outputs only, the parameters cell removed.

    Code cells get ``remove-input`` (unless they already carry remove-cell or remove-input): the
    marketing team reads figures, tables and findings, not a code toggle per cell; the code is
    in the notebook for the analyst. The
    cell tagged ``parameters`` gets ``remove-cell``; every cell gets a stable id (cell-000, ...)
    so a refresh diff shows only changed results; the kernel is python3 and jupytext's metadata
    is dropped.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        The notebook read from a chapter source (changed in place).

    Returns
    -------
    nbformat.NotebookNode
        The same notebook.
    """
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:03d}"  # stable ids: a refresh diff shows only changed results
        if cell.cell_type != "code":
            continue
        tags = list(cell.metadata.get("tags", []))
        if "parameters" in tags:
            extra = ["remove-cell"]
        elif "remove-cell" in tags or "remove-input" in tags:
            extra = []
        else:
            extra = ["remove-input"]
        cell.metadata["tags"] = tags + [t for t in extra if t not in tags]
    nb.metadata["kernelspec"] = {"name": KERNEL_NAME, "display_name": "Python 3", "language": "python"}
    nb.metadata.pop("jupytext", None)
    return nb


def strip_run_metadata(path: Path) -> None:
    """Drop papermill's timings from a notebook, so a refresh only shows changes in results.

    Parameters
    ----------
    path : Path
        The notebook, rewritten in place.
    """
    nb = nbformat.read(path, as_version=4)
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    nbformat.write(nb, path)


def refresh(names: list[str] | None = None, progress: Callable[[str], None] = print,
            readers: bool = True) -> list[Path]:
    """Rebuild and execute the named chapters (all by default) on the demo data.

    Each chapters/src/NN_name.py becomes chapters/NN_name.ipynb (`tag_cells`), executed by
    papermill in chapters/ and stripped of run metadata. The executive summary (99_summary) is
    executed last whenever any chapter is refreshed, since its outputs are the other chapters'
    glued numbers. Each chapter gets the demo campaign's parameters it declares
    (`demo_parameters`).

    Parameters
    ----------
    names : list of str or None, default None
        Chapter stems ("02_funnel") or numbers ("02"); None or empty refreshes every chapter.
    progress : callable, default print
        Called with one line per chapter executed.
    readers : bool, default True
        Re-execute the data-quality chapter and the summary after the named chapters (they
        read the other chapters' notebooks).

    Returns
    -------
    list of Path
        The notebooks written, in order; empty when no source matches `names`.
    """
    sources = sorted(SOURCES.glob("[0-9][0-9]_*.py"))
    if names:
        picked = [s for s in sources if s.stem in names or s.stem.split("_", 1)[0] in names]
        # the next campaign (the summary's first action), the data-quality chapter (skipped
        # sections) and the summary read the other chapters' outputs: re-execute them after any
        reading = [s for s in sources if readers and s.stem in READER_STEMS]
        sources = picked + [s for s in reading if picked and s not in picked]
    done = []
    for src in execution_order(sources):
        target = CHAPTERS / f"{src.stem}.ipynb"
        progress(f"executing {src.stem}")
        nb = tag_cells(jupytext.read(src))
        nbformat.write(nb, target)
        # the chapter writes its tables again: one it no longer writes must not stay behind
        for old in (PROJECT_ROOT / TABLES_DIR / src.stem).glob("*.csv"):
            old.unlink()
        papermill.execute_notebook(str(target), str(target), parameters=demo_parameters(target),
                                   kernel_name=KERNEL_NAME, progress_bar=False, cwd=str(CHAPTERS))
        hide_injected_cell(target)
        strip_run_metadata(target)
        done.append(target)
    return done

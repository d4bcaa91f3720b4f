"""Do two versions of the library write the same books on data unlike the demo?

A change meant to leave every number alone (a faster query, a refactor) is checked on the demo by
`make chapters` (no notebook changes). This checks it on the datasets of the shape matrix
(tests/shapes.py: blank user columns, no optional tables, own event names, two weeks of history,
...) at a size of your choice: it checks out the base version in a git worktree, runs every
shape's campaign through `growthloop run` once with the base's library and chapters and once
with this checkout's, and compares the outputs of every code cell of every chapter (text, HTML,
Markdown; the runs' own folders masked). Not part of `make test`: the fifteen shapes at 2,000
users took 21 minutes on 2 cores (35 s per book), `--shapes` runs fewer.

    .venv/bin/python benchmarks/same_books.py --base main
    .venv/bin/python benchmarks/same_books.py --base HEAD~3 --shapes two_weeks one_channel

Exits 1 when a run fails or a cell differs, and prints each differing cell (chapter, cell number,
the two outputs' beginnings).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import shapes  # noqa: E402

#: `growthloop run` with the library first on PYTHONPATH (the console script's own path is fixed)
RUN = "import sys; from growthloop.run.cli import app; sys.argv[0] = 'growthloop'; app()"
#: the shapes the whole-book matrix runs (tests/test_shapes.py), all by default
SHAPES = tuple(shapes.SHAPES)


def cell_outputs(notebook: Path, mask: Iterable[str] = ()) -> list[str]:
    """The outputs of each code cell of `notebook` as one text per cell (papermill's injected
    parameters left out: they name the run's own files), with each of `mask` replaced by
    ``<RUN>``. Images are compared by their text form only, as nbval does."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    pattern = re.compile("|".join(re.escape(m) for m in mask)) if mask else None
    texts = []
    for cell in cells:
        if cell["cell_type"] != "code" or "injected-parameters" in cell["metadata"].get("tags", []):
            continue
        parts = []
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            for value in (out.get("text"), out.get("ename"), out.get("evalue"),
                          *(data.get(k) for k in ("text/plain", "text/markdown", "text/html"))):
                if value is not None:
                    parts.append("".join(value) if isinstance(value, list) else str(value))
        text = "\n".join(parts)
        texts.append(pattern.sub("<RUN>", text) if pattern else text)
    return texts


@dataclass(frozen=True)
class Difference:
    """One chapter cell whose outputs differ, or a chapter one run has and the other lacks."""

    shape: str
    chapter: str
    cell: int | None  # None: the chapter or its number of cells differs
    base: str
    head: str

    def __str__(self) -> str:
        where = f"{self.shape} {self.chapter}" + (f" cell {self.cell}" if self.cell is not None
                                                  else "")
        # from a little before the first character that differs (a table's head is the same)
        first = next((i for i, (x, y) in enumerate(zip(self.base, self.head, strict=False))
                      if x != y), min(len(self.base), len(self.head)))
        start = max(0, first - 80)
        return (f"{where}, from character {start}:\n  base: {self.base[start:start + 240]!r}\n"
                f"  head: {self.head[start:start + 240]!r}")


def compare_runs(shape: str, base: Path, head: Path,
                 mask: Sequence[str] = ()) -> tuple[int, list[Difference]]:
    """Compare the chapters of two run folders (runs/<campaign>/<timestamp>): the number of code
    cells compared and the differences. The run folders and each of `mask` (the two checkouts)
    are masked in the outputs."""
    mask = [str(base), str(head), *mask]
    names = sorted({p.name for p in (base / "chapters").glob("*.ipynb")}
                   | {p.name for p in (head / "chapters").glob("*.ipynb")})
    compared, found = 0, []
    for name in names:
        a, b = base / "chapters" / name, head / "chapters" / name
        if not (a.exists() and b.exists()):
            found.append(Difference(shape, name, None, str(a.exists()), str(b.exists())))
            continue
        ca, cb = cell_outputs(a, mask), cell_outputs(b, mask)
        if len(ca) != len(cb):
            found.append(Difference(shape, name, None, f"{len(ca)} code cells",
                                    f"{len(cb)} code cells"))
        for i, (x, y) in enumerate(zip(ca, cb, strict=False)):
            compared += 1
            if x != y:
                found.append(Difference(shape, name, i, x, y))
    return compared, found


def newest_run(runs_dir: Path, campaign: str) -> Path:
    """The newest complete run folder of `campaign` (timestamps sort in time order; a run in
    progress is hidden, a failed one ends in -failed)."""
    runs = sorted(p for p in (runs_dir / campaign).iterdir()
                  if p.is_dir() and not p.name.startswith(".") and not p.name.endswith("-failed"))
    if not runs:
        raise SystemExit(f"same_books.py: no run of {campaign} under {runs_dir}")
    return runs[-1]


def make_campaigns(shape_names: Sequence[str], work: Path, users: int) -> list[Path]:
    """Write each shape's dataset under work/data and a campaign file (the demo campaign's
    parameters, then the shape's own) under work/campaigns."""
    shapes.BASE_USERS = users
    demo = yaml.safe_load((ROOT / "campaigns" / "demo.yml").read_text(encoding="utf-8"))
    (work / "campaigns").mkdir(parents=True, exist_ok=True)
    files = []
    for name in shape_names:
        folder, params = shapes.make(name, work / "data")
        campaign = {"name": name, "data": str(folder),
                    "parameters": {**demo.get("parameters", {}), **params}}
        path = work / "campaigns" / f"{name}.yml"
        path.write_text(yaml.safe_dump(campaign, allow_unicode=True), encoding="utf-8")
        files.append(path)
    return files


def run_campaigns(campaigns: Sequence[Path], src: Path, runs_dir: Path) -> list[str]:
    """Run each campaign with the library in `src` (put first on PYTHONPATH, so the kernels
    import it too, and its chapters are the ones run); the names of the runs that failed."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    probe = subprocess.run([sys.executable, "-c", "import growthloop; print(growthloop.__file__)"],
                           env=env, capture_output=True, text=True, check=True).stdout.strip()
    if not Path(probe).resolve().is_relative_to(src.resolve()):
        raise SystemExit(f"same_books.py: PYTHONPATH={src} imports growthloop from {probe}")
    failed = []
    for campaign in campaigns:
        log = runs_dir.parent / f"{runs_dir.name}.{campaign.stem}.log"
        runs_dir.mkdir(parents=True, exist_ok=True)
        with log.open("w", encoding="utf-8") as out:
            done = subprocess.run([sys.executable, "-c", RUN, "run", str(campaign),
                                   "--runs-dir", str(runs_dir)], env=env, stdout=out,
                                  stderr=subprocess.STDOUT, cwd=src.parent)
        print(f"{runs_dir.name:<9} {campaign.stem:<28} {'ok' if done.returncode == 0 else 'FAILED'}"
              f"  ({log})", flush=True)
        if done.returncode:
            failed.append(campaign.stem)
    return failed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="the git revision to compare with")
    parser.add_argument("--shapes", nargs="+", choices=SHAPES, default=SHAPES, metavar="SHAPE",
                        help="shapes of tests/shapes.py (default: every one)")
    parser.add_argument("--users", type=int, default=2000, help="users per dataset (2000)")
    parser.add_argument("--work", type=Path, help="working folder, kept (default: a temporary "
                        "one, removed at the end)")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="same_books_"))
    worktree = work / "base_checkout"
    shutil.rmtree(work / "data", ignore_errors=True)
    try:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--force",
                        str(worktree), args.base], check=True, capture_output=True)
        campaigns = make_campaigns(args.shapes, work, args.users)
        failed = {side: run_campaigns(campaigns, src, work / f"runs_{side}")
                  for side, src in (("base", worktree / "src"), ("head", ROOT / "src"))}
        compared, found = 0, []
        for campaign in campaigns:
            if campaign.stem in failed["base"] + failed["head"]:
                continue
            n, diffs = compare_runs(campaign.stem, newest_run(work / "runs_base", campaign.stem),
                                    newest_run(work / "runs_head", campaign.stem),
                                    mask=[str(worktree), str(ROOT)])
            compared += n
            found += diffs
        for difference in found:
            print(difference)
        print(f"{len(campaigns)} shapes at {args.users:,} users, {args.base} against this "
              f"checkout: {compared} code cells compared, {len(found)} differ; failed runs: "
              f"base {failed['base'] or 'none'}, head {failed['head'] or 'none'}")
        return 1 if found or failed["base"] or failed["head"] else 0
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(worktree)],
                       capture_output=True)
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())

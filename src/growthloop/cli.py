"""The growthloop command: run a campaign's book, validate a dataset, make demo data."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console
from rich.table import Table

from growthloop import DEMO_DATA, PROJECT_ROOT

app = typer.Typer(help="GrowthLoop: the marketing closed loop of an internet-finance platform, "
                       "as a book of parameterised notebooks.", no_args_is_help=True,
                  add_completion=False)
console = Console()
err = Console(stderr=True)


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(code)


def _parse_params(pairs: list[str]) -> dict:
    params = {}
    for pair in pairs:
        if "=" not in pair:
            _fail(f"-p {pair!r}: write NAME=VALUE (the value is read as YAML: 7, 0.5, text, [a, b])")
        key, value = pair.split("=", 1)
        params[key.strip()] = yaml.safe_load(value)
    return params


@app.command()
def run(
    campaign: Annotated[Path, typer.Argument(help="campaign YAML: name, data, parameters")],
    param: Annotated[list[str], typer.Option("-p", "--param", help="NAME=VALUE, overrides the YAML")] = [],  # noqa: B006
    runs_dir: Annotated[Path | None, typer.Option(help="where run folders go (default: runs/)")] = None,
) -> None:
    """Execute every chapter for a campaign into a new run folder and build its HTML book."""
    from growthloop.runner import RunError, load_campaign, run_campaign

    try:
        spec = load_campaign(campaign)
        with console.status("starting") as status:
            def progress(msg: str) -> None:
                console.print(f"  {msg}")
                status.update(msg)
            folder = run_campaign(spec, runs_dir=runs_dir, overrides=_parse_params(param),
                                  progress=progress)
    except RunError as exc:
        _fail(str(exc))
    console.print(f"[green]done:[/] {folder}")
    console.print(f"book: {folder / '_build' / 'html' / 'index.html'}")


@app.command()
def validate(path: Annotated[Path, typer.Argument(help="dataset folder")]) -> None:
    """Check a dataset against the data contract and report every problem."""
    from growthloop.config import ConfigError
    from growthloop.data import DataError, open_dataset

    try:
        ds = open_dataset(path)
    except (DataError, ConfigError) as exc:
        _fail(str(exc))
    table = Table(title=f"{path}: rows read, used and set aside")
    for col in ("table", "rows_read", "rows_used", "rows_set_aside"):
        table.add_column(col)
    for row in ds.quality.summary().itertuples(index=False):
        table.add_row(*(str(v) for v in row))
    console.print(table)
    if ds.quality.set_aside:
        reasons = Table(title="rows set aside, by rule (first example row)")
        for col in ("table", "rule", "rows", "example"):
            reasons.add_column(col, overflow="fold")
        for r in ds.quality.set_aside:
            reasons.add_row(r.table, r.rule, str(r.rows), str(r.example or ""))
        console.print(reasons)
    if ds.quality.missing_tables:
        console.print(f"optional tables absent: {', '.join(ds.quality.missing_tables)}")
    console.print(f"analysis date: {ds.analysis_date}. [green]The dataset is usable.[/]")


@app.command("demo-data")
def demo_data(
    users: Annotated[int, typer.Option(help="registered users to simulate")] = 12000,
    seed: Annotated[int, typer.Option(help="random seed: same seed, same data")] = 7,
    out: Annotated[Path, typer.Option(help="output folder")] = DEMO_DATA,
    chunk_users: Annotated[int, typer.Option(help="users simulated per chunk (memory)")] = 100_000,
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv")] = "parquet",
) -> None:
    """Write a synthetic internet-finance dataset with its ground truth (truth.json)."""
    from growthloop.demo import generate_dataset

    if fmt not in ("parquet", "csv"):
        _fail("--format is parquet or csv")
    generate_dataset(out, n_users=users, seed=seed, chunk_users=chunk_users, fmt=fmt)
    console.print(f"wrote {users:,} users to {out} (truth.json beside the tables)")


@app.command()
def runs(runs_dir: Annotated[Path | None, typer.Option(help="runs folder")] = None) -> None:
    """List the runs with their status."""
    from growthloop.runner import list_runs

    rows = list_runs(runs_dir)
    if not rows:
        console.print("no runs yet: growthloop run campaigns/demo.yml")
        return
    table = Table()
    for col in ("campaign", "run", "status", "path"):
        table.add_column(col)
    for row in rows:
        table.add_row(*row.values())
    console.print(table)


@app.command("build-book")
def build_book_cmd(path: Annotated[Path, typer.Argument(help="book folder")] = PROJECT_ROOT) -> None:
    """Build the HTML book of a folder (the repository's demo book by default), warnings as errors."""
    from growthloop.runner import RunError, build_book

    try:
        html = build_book(path.resolve())
    except RunError as exc:
        _fail(str(exc))
    console.print(f"book: {html / 'index.html'}")


@app.command("refresh-chapters")
def refresh_chapters(
    names: Annotated[list[str] | None, typer.Argument(help="chapter stems or numbers")] = None,
) -> None:
    """Re-make chapters/*.ipynb from chapters/src/*.py and execute them on the demo data."""
    from growthloop.notebooks import refresh

    for path in refresh(names or None, progress=lambda m: console.print(f"  {m}")):
        console.print(f"refreshed {path.relative_to(PROJECT_ROOT)}")


def main() -> None:  # pragma: no cover
    sys.exit(app())

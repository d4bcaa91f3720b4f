"""`growthloop --help` and every subcommand's help read well; errors say what to do next."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from growthloop.run.cli import app

cli = CliRunner()
COMMANDS = ["init", "validate", "run", "book", "runs", "publish", "demo-data", "build-book", "refresh-chapters"]


def _help(*args: str) -> str:
    result = cli.invoke(app, [*args, "--help"], prog_name="growthloop", env={"COLUMNS": "100", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    return result.output


def test_main_help_shows_the_path_and_every_command_in_order() -> None:
    text = _help()
    # the analyst's path, in order, with the demo to try first
    steps = [text.index(f"growthloop {c} ") for c in ("init", "validate", "run", "publish")]
    assert steps == sorted(steps)
    assert "growthloop run campaigns/demo.yml" in text
    listed = [c for c in re.findall(r"^\W*([a-z][a-z-]+)\s{2,}\S", text, re.M) if c in COMMANDS]
    assert listed == COMMANDS, listed
    assert "..." not in text.split("Commands")[-1], "a command's one-line help is cut off"
    assert cli.invoke(app, ["-h"]).exit_code == 0


@pytest.mark.parametrize("command", COMMANDS)
def test_every_subcommand_has_a_readable_help(command: str) -> None:
    text = _help(command)
    assert f"Usage: growthloop {command}" in text
    # a description sentence, and every option and argument explained (no bare metavars)
    body = text.split("Usage:")[1]
    assert re.search(r"[A-Z][a-z].{20,}\.", body), text
    for option in re.findall(r"(--[a-z][a-z-]+)", text):
        line = next(ln for ln in text.splitlines() if option in ln)
        assert len(line.split(option, 1)[1].strip()) > 8, f"{command} {option} has no help: {line!r}"


def test_errors_say_what_to_do_next(tmp_path: Path) -> None:
    cases = {
        ("init", str(tmp_path / "a")): None,  # first time: fine
        ("validate", str(tmp_path / "missing")): "growthloop init",
        ("run", str(tmp_path / "missing.yml")): "growthloop init",
        ("publish", "--runs-dir", str(tmp_path / "no_runs")): "growthloop run",
        ("demo-data", "--format", "xlsx", "--out", str(tmp_path / "d")): "--format parquet",
        ("build-book", str(tmp_path)): "_toc.yml",
        ("refresh-chapters", "77"): "the sources are",
    }
    for args, hint in cases.items():
        result = cli.invoke(app, list(args))
        if hint is None:
            assert result.exit_code == 0, result.output
            continue
        assert result.exit_code != 0, args
        assert hint in result.output, (args, result.output)
    again = cli.invoke(app, ["init", str(tmp_path / "a")])
    assert again.exit_code == 1 and "--force" in again.output
    empty = tmp_path / "a"
    # validate on the untouched template: the loader names the missing file and the next step
    result = cli.invoke(app, ["validate", str(empty)])
    assert result.exit_code == 1 and "dataset.yml" in result.output and "validate" in result.output

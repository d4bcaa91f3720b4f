"""Every error of the command line is one line that says what to do: never a traceback (unless
--debug), for the analyst's mistakes in a campaign file, a -p value or a folder."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import growthloop.run.cli as cli_module
from growthloop.run.cli import app
from growthloop.run.runner import RunError, plain_parameters

cli = CliRunner()


def one_line_error(result) -> str:
    assert result.exit_code == 1, result.output
    text = result.output.strip()
    assert "Traceback" not in text
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines[0].startswith("error:"), text
    return " ".join(" ".join(lines).split())


def campaign(tmp_path: Path, data: Path, **raw) -> Path:
    path = tmp_path / "c.yml"
    path.write_text(yaml.safe_dump({"name": "t", "data": str(data), "chapters": ["00"], **raw}),
                    encoding="utf-8")
    return path


@pytest.mark.parametrize("text, match", [
    ("name: t\ndata: .\nchapters: 1\n", "chapters must be a list"),
    ("name: t\ndata: .\nparameters: [1, 2]\n", "parameters must be a mapping"),
    ("name: t\ndata: [.\n", r"is not valid YAML \(line 3\)"),
    ("name: t\ndata: .\nparameters: {analysis_date: 2026-13-01}\n", "month must be in 1..12 in a date"),
    ("name: t\nparameters: {}\n", "needs `data:`"),
])
def test_a_malformed_campaign_file_is_one_line(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "c.yml"
    path.write_text(text, encoding="utf-8")
    assert re.search(match, one_line_error(cli.invoke(app, ["run", str(path)])))


def test_bad_parameters_are_one_line_before_any_chapter(tmp_path: Path, tiny: Path) -> None:
    path = campaign(tmp_path, tiny)
    runs = tmp_path / "runs"
    for args, match in [
        (["-p", "analysis_date=2026-13-01"], "parameter analysis_date: analysis_date '2026-13-01' is not a YYYY-MM-DD date"),
        (["-p", "steps=[register"], "the value is read as YAML and is not valid"),
        (["-p", "min_cell_size=0"], "parameter min_cell_size must be a whole number >= 1"),
        (["-p", "channel_map=[x]"], "parameter channel_map: give {source: channel}"),
        (["-p", "nonsense=1"], "unknown parameter(s) ['nonsense']"),
    ]:
        text = one_line_error(cli.invoke(app, ["run", str(path), "--runs-dir", str(runs), *args]))
        assert match in text, text
    assert not runs.exists() or not any(runs.rglob("*.ipynb"))  # no chapter ran


def test_dates_read_from_yaml_reach_the_chapters_as_text() -> None:
    # `-p analysis_date=2026-05-31` and an unquoted date in campaign.yml are dates in YAML;
    # papermill writes parameters into the notebook as JSON, which has no dates
    out = plain_parameters({"analysis_date": dt.date(2026, 5, 31),
                            "windows": [dt.date(2026, 1, 1)], "nested": {"at": dt.datetime(2026, 1, 1, 9)}})
    assert out == {"analysis_date": "2026-05-31", "windows": ["2026-01-01"],
                   "nested": {"at": "2026-01-01 09:00:00"}}
    with pytest.raises(RunError, match="analysis_date"):
        plain_parameters({"analysis_date": "31/05/2026"})


def test_folders_that_cannot_be_used_are_one_line(tmp_path: Path, tiny: Path) -> None:
    a_file = tmp_path / "runs-file"
    a_file.write_text("not a folder", encoding="utf-8")
    text = one_line_error(cli.invoke(app, ["run", str(campaign(tmp_path, tiny)), "--runs-dir", str(a_file)]))
    assert "cannot create the run folder" in text and "--runs-dir" in text
    data_file = tiny / "users.parquet"
    text = one_line_error(cli.invoke(app, ["run", str(campaign(tmp_path, data_file))]))
    assert "is a file, not a folder" in text
    assert "is a folder" in one_line_error(cli.invoke(app, ["run", str(tmp_path)]))


def test_an_unexpected_error_is_one_line_and_debug_shows_it(monkeypatch, tmp_path: Path) -> None:
    def broken(*_args, **_kwargs):
        raise KeyError("boom")

    monkeypatch.setattr(cli_module, "write_templates", broken)
    text = one_line_error(cli.invoke(app, ["init", str(tmp_path / "x")]))
    assert "KeyError: 'boom'" in text and "--debug" in text
    result = cli.invoke(app, ["--debug", "init", str(tmp_path / "x")])
    assert isinstance(result.exception, KeyError)

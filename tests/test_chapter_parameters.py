"""Every documented chapter parameter reaches the chapter's code, through every way of running it.

The static test reads each chapter source: every name of its parameters cell has a comment (the
documentation `growthloop init` and the README point to) and is read by a later cell (a
parameter nobody reads would be silently ignored). The run test sets one parameter per chapter
to a value other than its default, half in the campaign file and half with -p, and finds the
value in the number the chapter glues from it; plain papermill is covered by
tests/test_plain_papermill.py.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from growthloop import DEMO_DATA
from growthloop.present.summary import collect
from growthloop.run.cli import app
from growthloop.run.notebooks import SOURCES

PARAMETERS_CELL = re.compile(r'^# %% tags=\["parameters"\]\n(.*?)(?=^# %%)', re.S | re.M)


def _parameters(source: Path) -> tuple[dict[str, str], str]:
    """The parameters cell's names with their comments, and the code after the cell."""
    text = source.read_text(encoding="utf-8")
    match = PARAMETERS_CELL.search(text)
    assert match, f"{source.name} has no parameters cell"
    declared = {}
    for line in match.group(1).splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, _, rest = line.partition("=")
        comment = rest.partition("  # ")[2]
        declared[name.strip()] = comment.strip()
    return declared, text[match.end():]


@pytest.mark.parametrize("source", sorted(SOURCES.glob("[0-9][0-9]_*.py")), ids=lambda p: p.stem)
def test_every_parameter_is_documented_and_read(source: Path) -> None:
    declared, rest = _parameters(source)
    assert declared, source.name
    undocumented = [n for n, comment in declared.items() if len(comment) < 10]
    assert not undocumented, f"{source.name}: parameters without a comment: {undocumented}"
    read = {node.id for node in ast.walk(ast.parse(rest))
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
    # a name the runner passes to every chapter may be declared and said to be unused
    unread = sorted(n for n in set(declared) - read if "(unused here" not in declared[n])
    assert not unread, f"{source.name}: parameters no cell reads: {unread}"


#: (chapter, parameter, value, glued key that reports it, how it is set)
THROUGH_THE_RUNNER = [
    ("01", "cluster_k_max", 4, "prof_k_tried_max", "yaml"),
    ("02", "window_days", 7, "funnel_window_days", "-p"),
    ("02", "stall_lookback_days", 20, "funnel_stall_lookback_days", "yaml"),
    ("03", "lookback_days", 14, "attr_lookback_days", "-p"),
    ("04", "score_bins", 4, "rfm_bins", "yaml"),
    ("05", "dormant_days", 45, "ret_dormant_days", "-p"),
    ("06", "pre_days", 60, "review_pre_days", "yaml"),
    ("07", "plan_budget", 900.0, "plan_budget", "-p"),
    ("00", "analysis_date", dt.date(2026, 5, 20), "dq_analysis_date", "-p"),
]


@pytest.mark.slow
def test_parameters_reach_every_chapter_through_the_runner(tmp_path: Path) -> None:
    in_file = {p: v for _c, p, v, _k, how in THROUGH_THE_RUNNER if how == "yaml"}
    campaign = tmp_path / "c.yml"
    campaign.write_text(yaml.safe_dump({"name": "params", "data": str(DEMO_DATA),
                                        "parameters": {**in_file, "campaign_id": "C2026_01"}}),
                        encoding="utf-8")
    flags = [x for _c, p, v, _k, how in THROUGH_THE_RUNNER if how == "-p" for x in ("-p", f"{p}={v}")]
    result = CliRunner().invoke(app, ["run", str(campaign), "--runs-dir", str(tmp_path / "runs"), *flags])
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "runs" / "params").iterdir()
    book = collect(run / "chapters")
    for chapter, name, value, key, _how in THROUGH_THE_RUNNER:
        glued = book.get(key)
        expected = str(value) if isinstance(value, dt.date) else value
        assert glued == expected, f"chapter {chapter}: {name}={value!r} glued {key}={glued!r}"

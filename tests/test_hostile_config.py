"""Hostile dataset.yml files and file paths: each ends in one clear error, never a traceback or a
silent wrong reading, and no row-level copy outlives its load.

Every case starts from a small valid dataset (the tiny fixture) and breaks one thing.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
import yaml

from growthloop.errors import ConfigError, DataError
from growthloop.staging.loader import open_dataset


def with_config(folder: Path, text: str | bytes) -> Path:
    path = folder / "dataset.yml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return folder


@pytest.mark.parametrize("text, match", [
    ("name: t\nrevenue_margin_annual: '2%'\n", r"revenue_margin_annual '2%' is not a share"),
    ("name: t\ncurrent_holding_days: thirty\n", r"current_holding_days 'thirty' is not a whole number"),
    ("name: t\ncurrent_holding_days: 30.5\n", r"current_holding_days 30.5 is not a whole number"),
    ("name: t\nchannels: 5\n", r"channels must be a list"),
    ("name: t\nchannels:\n  - {name: x, sources: baidu}\n", r"channels\[0\].sources must be a list"),
    ("name: t\ntimezone: posixrules\n", r"timezone 'posixrules' is not a time zone"),
    ("name: t\ntables:\n  users: {file: .}\n", None),
    ("name: t\ntables:\n  transactions:\n    values:\n      status: {成功: success, 成功: failed}\n",
     r"the key '成功' appears twice in one mapping \(line 5\)"),
    ("name: t\ntables: [users\n", r"dataset.yml is not valid YAML \(line 3\)"),
])
def test_bad_settings_are_one_clear_error(tiny: Path, text: str, match: str | None) -> None:
    with_config(tiny, text)
    if match is None:  # a folder named as a file
        with pytest.raises(DataError, match=r"names '\.', which is a folder, not a file"):
            open_dataset(tiny)
        return
    with pytest.raises(ConfigError, match=match):
        open_dataset(tiny)


def test_a_gbk_dataset_yml_is_refused_with_what_to_do(tiny: Path) -> None:
    with_config(tiny, "name: 演示平台\n".encode("gbk"))
    with pytest.raises(ConfigError, match=r"dataset.yml is not UTF-8 text .* save it as UTF-8"):
        open_dataset(tiny)
    # a BOM from a Windows editor is fine
    with_config(tiny, "\ufeffname: 演示平台\nanalysis_date: 2025-03-31\n".encode())
    assert open_dataset(tiny).config.name == "演示平台"


def test_a_file_outside_the_dataset_folder_is_never_read(tiny: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_text("password,card\nhunter2,6222\n", encoding="utf-8")
    with_config(tiny, yaml.safe_dump({"tables": {"costs": {"file": "../secret.csv"}}}))
    with pytest.raises(DataError, match="outside the dataset folder") as info:
        open_dataset(tiny)
    assert "hunter2" not in str(info.value) and "password" not in str(info.value)


def test_encoding_hints_say_what_the_file_is(tiny: Path) -> None:
    (tiny / "costs.csv").write_bytes("date,utm_source,spend\n2025-01-01,baidu,1\n".encode("utf-16"))
    with pytest.raises(DataError, match="UTF-16 mark: encoding: utf-16"):
        open_dataset(tiny)
    (tiny / "costs.csv").write_bytes(b"PK\x03\x04" + b"\x00\xff" * 20)
    with pytest.raises(DataError, match="Excel workbook, not a CSV"):
        open_dataset(tiny)
    (tiny / "costs.csv").write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00\xff" * 20)  # an .xls renamed
    with pytest.raises(DataError, match="Excel workbook, not a CSV"):
        open_dataset(tiny)
    (tiny / "costs.csv").write_bytes(b"PAR1" + b"\x00\xff" * 20)  # a Parquet file renamed
    with pytest.raises(DataError, match="a Parquet file, not a CSV: name it .parquet"):
        open_dataset(tiny)


def test_transcoded_copies_stay_private_and_do_not_outlive_the_load(tiny: Path, monkeypatch,
                                                                     tmp_path: Path) -> None:
    # a GBK CSV is read through a UTF-8 copy: in a private folder of the load (0700), gone
    # after it, in the temp folder the process was given
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    (tiny / "costs.csv").write_bytes("date,utm_source,spend\n2025-01-01,百度,1\n".encode("gbk"))
    seen: list[tuple[Path, int]] = []
    real = tempfile.mkdtemp

    def spy(*args, **kwargs):
        path = real(*args, **kwargs)
        seen.append((Path(path), os.stat(path).st_mode & 0o777))
        return path

    monkeypatch.setattr(tempfile, "mkdtemp", spy)
    with_config(tiny, yaml.safe_dump({"analysis_date": "2025-03-31",
                                      "tables": {"costs": {"encoding": "gbk"}}}))
    ds = open_dataset(tiny)
    assert ds.quality.used["costs"] == 1
    assert len(seen) == 1 and seen[0][1] == 0o700
    assert not seen[0][0].exists() and list(scratch.iterdir()) == []


def test_an_analysis_date_before_every_sign_up_is_refused(tiny: Path) -> None:
    with pytest.raises(DataError, match=r"no user signed up by the analysis date 2024-06-30.*"
                                        r"first sign-up is on 2025-01-01"):
        open_dataset(tiny, analysis_date="2024-06-30")

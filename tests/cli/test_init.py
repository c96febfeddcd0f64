"""`lab init FILE` and `lab data check` on per-contract files."""

from __future__ import annotations

import pandas as pd
from click.testing import CliRunner

from cli.main import cli
from lab.config import load_config
from lab.data.readers import write_firstrate
from lab.errors import DataError
from tests.conftest import make_minutes


def test_init_refuses_a_two_week_file_with_the_minimum_in_sessions(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write_firstrate(make_minutes("2023-11-20", "2023-12-01", seed=2, overnight=True), tmp_path / "NQ_1min.txt")
    result = CliRunner().invoke(cli, ["init", str(path)])
    assert isinstance(result.exception, DataError)
    assert "holds 9 regular sessions" in str(result.exception) and "the lab needs at least 119" in str(result.exception)
    assert not (tmp_path / "lab.toml").exists()


def test_init_writes_a_loadable_config_and_prints_five_commands(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write_firstrate(make_minutes("2023-01-03", "2023-07-31", seed=2, overnight=True) + 0, tmp_path / "MNQ_1min.txt")
    result = CliRunner().invoke(cli, ["init", "MNQ_1min.txt"])
    assert result.exit_code == 0, result.output
    config = load_config(tmp_path / "lab.toml")
    assert config.data.path == str(path.resolve()) and config.data.instrument == "MNQ"
    assert config.promotion.model_name == "mnq-scalper"
    assert [line.split(". ", 1)[0].strip() for line in result.output.splitlines() if ". lab " in line] == list("12345")
    again = CliRunner().invoke(cli, ["init", "MNQ_1min.txt"])
    assert "exists; pass --force" in str(again.exception)


def test_data_check_of_a_contract_folder_reports_the_roll_with_its_gap(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LAB_HOME", str(tmp_path))
    base = make_minutes("2023-02-13", "2023-03-24", seed=4, overnight=True)
    folder = tmp_path / "contracts"
    folder.mkdir()
    write_firstrate(base.loc[:"2023-03-17 16:00"], folder / "MESH23.txt")
    later = base.loc["2023-02-27":].copy()
    later[["open", "high", "low", "close"]] += 22.25
    write_firstrate(later, folder / "MES_M23.txt")
    result = CliRunner().invoke(cli, ["data", "check", str(folder)])
    assert result.exit_code == 0, result.output
    assert "roll: 1" in result.stdout
    assert "MESH23 -> MESM23 at 2023-03-08 18:00 ET (scheduled roll 2023-03-09): the price jumps +22.25 points" in result.stdout
    assert (tmp_path / "data" / "raw" / "contracts_stitched_schedule.txt").is_file()
    assert isinstance(pd.read_csv(tmp_path / "data" / "raw" / "contracts_stitched_schedule.txt.rolls.csv"), pd.DataFrame)

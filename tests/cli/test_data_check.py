import json

import pandas as pd
from click.testing import CliRunner

from cli.main import cli
from lab.data.readers import write_firstrate
from tests.lab.data.test_doctor import globex_minutes


def _file_with_defects(folder, name="NQ_full_1min_UNadjusted.txt"):
    minutes = globex_minutes("2023-03-01", "2023-03-10", seed=5)
    day = minutes.index.tz_localize(None).normalize()
    minutes = minutes.loc[day != pd.Timestamp("2023-03-07")]  # a whole session missing
    minutes.loc[minutes.index.tz_localize(None).normalize() == pd.Timestamp("2023-03-08"), "volume"] = 0
    return write_firstrate(minutes, folder / name)


def test_data_check_json_lists_findings_and_writes_a_picture_per_kind(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = _file_with_defects(tmp_path)
    result = CliRunner().invoke(cli, ["data", "check", str(path), "--json", "--plots", str(tmp_path / "pics")])
    assert result.exit_code == 0, result.output
    findings = json.loads(result.stdout)
    assert [(f["session"], f["kind"]) for f in findings] == [("2023-03-07", "missing_minutes"),
                                                             ("2023-03-08", "zero_volume")]
    assert all(set(f) == {"session", "kind", "detail"} for f in findings)
    assert sorted(p.name for p in (tmp_path / "pics").iterdir()) == ["doctor_missing_minutes.png", "doctor_zero_volume.png"]
    assert "the file name says NQ, but [data] instrument = 'MES'" in result.stderr


def test_data_check_prints_statistics_for_a_bare_name_in_data_raw(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LAB_HOME", str(tmp_path))
    (tmp_path / "data" / "raw").mkdir(parents=True)
    _file_with_defects(tmp_path / "data" / "raw", "MES_1min.txt")
    result = CliRunner().invoke(cli, ["data", "check", "MES_1min.txt"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "regular-session ranges (median, bp): 1-minute" in out and "lies inside the entry bar" in out and "inside its first minute" in out
    assert "2 session(s) flagged" in out and "2023-03-07  no minute in the regular session 09:30-16:00 ET" in out
    assert "warning" not in out

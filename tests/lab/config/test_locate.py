"""Tests for lab.config.locate: the configuration where the user stands, one rule for every command."""

from __future__ import annotations

from pathlib import Path

from lab.config.locate import CALLER_DIR_ENV, caller_dir, config_origin, locate_config
from lab.paths import code_root


def test_locate_config_resolves_a_given_relative_path_where_the_user_stands(tmp_path):
    assert locate_config("sub/mine.toml", where=tmp_path) == tmp_path / "sub" / "mine.toml"
    assert locate_config(str(tmp_path / "abs.toml"), where=Path("/")) == tmp_path / "abs.toml"


def test_locate_config_prefers_the_folders_lab_toml_over_the_projects(tmp_path):
    assert locate_config(None, where=tmp_path) == code_root() / "lab.toml"  # none here: the project's
    (tmp_path / "lab.toml").write_text("[data]\n")
    assert locate_config("", where=tmp_path) == tmp_path / "lab.toml"


def test_config_origin_says_which_file_and_why(tmp_path):
    (tmp_path / "lab.toml").write_text("")
    assert config_origin(tmp_path / "lab.toml", where=tmp_path).endswith("(lab.toml of this folder)")
    assert "the project's lab.toml; none in" in config_origin(code_root() / "lab.toml", where=tmp_path)
    assert config_origin(None).startswith("config: the built-in defaults")


def test_caller_dir_in_an_entry_points_process_is_where_the_lab_command_ran(tmp_path, monkeypatch):
    monkeypatch.setenv(CALLER_DIR_ENV, str(tmp_path))
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    assert caller_dir() == Path.cwd().resolve()  # outside an entry point the variable is not read
    monkeypatch.setenv("MLFLOW_RUN_ID", "abc")
    assert caller_dir() == tmp_path.resolve()


def test_load_config_reads_a_relative_data_path_in_the_users_folder(tmp_path, monkeypatch):
    from lab.config import load_config

    (tmp_path / "minutes.txt").write_text("")
    (tmp_path / "lab.toml").write_text('[data]\npath = "minutes.txt"\n')
    monkeypatch.chdir(tmp_path)
    assert load_config(locate_config(None)).data.path == str(tmp_path / "minutes.txt")

import pytest
from click.testing import CliRunner

from cli.main import cli
from lab.data.readers import write_firstrate
from tests.conftest import make_minutes


def _commands(group, prefix=()):
    for name, command in group.commands.items():
        yield (*prefix, name)
        if hasattr(command, "commands"):
            yield from _commands(command, (*prefix, name))


def test_cli_every_command_has_help():
    runner = CliRunner()
    for path in [(), *_commands(cli)]:
        result = runner.invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, path
        assert "Usage:" in result.output and len(result.output.splitlines()) > 3


def test_cli_data_check_summarises_a_file(tmp_path):
    path = write_firstrate(make_minutes("2023-03-01", "2023-03-02"), tmp_path / "m.txt")
    result = CliRunner().invoke(cli, ["data", "check", str(path)])
    assert result.exit_code == 0
    assert "780 rows read" in result.output and "780 valid" in result.output
    assert "2023-03-01T09:30:00-05:00 .. 2023-03-02T15:59:00-05:00" in result.output


def test_cli_data_check_bad_file_exits_2_with_one_line(tmp_path):
    import subprocess
    import sys

    bad = tmp_path / "m.txt"
    bad.write_text("2023-03-01 09:30:00,0,1,0,1,1\n")
    proc = subprocess.run([sys.executable, "-c", "from cli.main import main; main()", "data", "check", str(bad)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    first, second = proc.stderr.splitlines()[:2]
    assert first.startswith("config: ") and second.startswith("lab: error: ")
    assert "price <= 0" in proc.stderr and "Traceback" not in proc.stderr


def test_cli_data_check_drop_refuses_many_bad_rows_unless_max_bad_share_allows(tmp_path):
    minutes = make_minutes("2023-03-01", "2023-03-01")
    minutes = minutes[minutes["high"] > minutes["low"]]
    bad = minutes.copy()
    bad.iloc[:20, [1, 2]] = bad.iloc[:20, [2, 1]].to_numpy()  # high and low swapped on 20 of 390 rows
    path = write_firstrate(bad, tmp_path / "m.txt")
    refused = CliRunner().invoke(cli, ["data", "check", str(path), "--on-bad-rows", "drop"])
    assert refused.exit_code != 0 and "more than the 1% --on-bad-rows drop may drop" in str(refused.exception)
    allowed = CliRunner().invoke(cli, ["data", "check", str(path), "--on-bad-rows", "drop", "--max-bad-share", "0.06"])
    assert allowed.exit_code == 0, allowed.output
    assert f"{len(minutes) - 20} valid" in allowed.output


def test_cli_data_synth_writes_a_readable_file(tmp_path):
    out = tmp_path / "s.txt"
    result = CliRunner().invoke(cli, ["data", "synth", "--start", "2023-03-01", "--end", "2023-03-03", "--seed", "1",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    check = CliRunner().invoke(cli, ["data", "check", str(out)])
    assert check.exit_code == 0 and "valid" in check.output



@pytest.mark.slow
def test_cli_run_refusal_ends_with_its_line_and_exit_code(tracking_store, tmp_path):
    """`lab run ...`: the entry point's one line last, its exit code, no traceback, the run FAILED."""
    import subprocess
    import sys

    import mlflow

    proc = subprocess.run([sys.executable, "-c", "from cli.main import main; main()", "run", "featurize",
                           "-P", "config=absent.toml"], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2  # jobs.common.refuse
    last = proc.stderr.strip().splitlines()[-1]  # the relative path is read where the user stands
    assert last.startswith(f"featurize: error: configuration file '{tmp_path / 'absent.toml'}' does not exist")
    assert "Traceback" not in proc.stderr and "ExecutionException" not in proc.stderr
    (run,) = mlflow.search_runs(search_all_experiments=True, output_format="list")
    assert run.info.status == "FAILED" and "does not exist" in run.data.tags["lab.error"]


@pytest.mark.slow
def test_cli_featurize_refusal_exits_with_the_entry_points_code(tracking_store, capfd, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["featurize", "--config", "absent.toml"])
    assert result.exit_code == 2
    err = capfd.readouterr().err
    assert err.strip().splitlines()[-1].startswith(
        f"featurize: error: configuration file '{tmp_path / 'absent.toml'}' does not exist")
    assert "Traceback" not in err + result.output


def test_lab_run_offers_every_mlproject_entry_point():
    import yaml

    from cli.main import run_entry
    from tests.conftest import PROJECT_ROOT

    entries = set(yaml.safe_load((PROJECT_ROOT / "MLproject").read_text())["entry_points"])
    assert set(run_entry.params[0].type.choices) == entries

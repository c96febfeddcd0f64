"""From a folder of one's own, with a lab.toml there: the README's chain runs on that folder's data with
no --config, and paper's trades equal the validation backtest's to the cent."""

from __future__ import annotations

import mlflow
import pytest
from click.testing import CliRunner

from lab.data.readers import write_firstrate
from tests.conftest import SMALL_CHAIN_SETTINGS, make_minutes

pytestmark = pytest.mark.slow

OWN_TOML = """
[data]
path = "minutes.txt"
[windows]
train = ["2022-06-01", "2023-04-30"]
validation = ["2023-05-01", "2023-06-30"]
test = ["2023-07-01", "2023-07-31"]
[rules]
entry_threshold = 0.51
full_size_threshold = 0.53
[promotion]
model_name = "own-folder"
""" + SMALL_CHAIN_SETTINGS


def _newest(stage: str):
    return mlflow.search_runs(search_all_experiments=True, output_format="list", max_results=1,
                              filter_string=f"tags.`lab.stage` = '{stage}'", order_by=["start_time DESC"])[0]


def test_the_readme_chain_runs_from_a_users_folder_without_config(tmp_path, monkeypatch):
    from cli.main import cli

    folder = tmp_path / "my-research"
    folder.mkdir()
    write_firstrate(make_minutes("2022-05-01", "2023-08-31", seed=5), folder / "minutes.txt")
    (folder / "lab.toml").write_text(OWN_TOML)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("LAB_HOME", str(tmp_path))
    mlflow.set_tracking_uri(uri)
    monkeypatch.chdir(folder)
    runner = CliRunner()

    def lab(*args: str) -> str:
        result = runner.invoke(cli, list(args))
        assert result.exit_code == 0, f"lab {' '.join(args)}: {result.output}"
        return result.output

    lab("featurize")
    featurize = _newest("featurize")
    assert featurize.data.params["data.path"] == str(folder / "minutes.txt")
    assert featurize.data.tags["lab.config_source"] == str(folder / "lab.toml")
    lab("run", "tune")
    tune = _newest("tune").info.run_id
    lab("run", "walk-forward", "-P", f"params_from={tune}")
    lab("run", "backtest", "-P", f"run_id={tune}")
    lab("promote", "--run-id", tune, "--force", "--reason", "a user's own folder")
    lab("paper")
    paper, backtest = _newest("paper"), _newest("backtest")
    assert paper.data.params["champion_market"] == "ES"
    paper_trades = mlflow.artifacts.load_text(f"{paper.info.artifact_uri}/trades.csv")
    assert paper_trades == mlflow.artifacts.load_text(f"{backtest.info.artifact_uri}/trades.csv")
    assert paper_trades.count("\n") > 1
    mlflow.set_tracking_uri(None)

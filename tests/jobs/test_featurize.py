"""featurize end to end: `mlflow run` machinery, a temporary tracking store, a small synthetic file."""

import mlflow
import pytest

from tests.conftest import PROJECT_ROOT, SMALL_CONFIG


@pytest.mark.slow
def test_featurize_entry_point_logs_a_complete_run(small_project, tmp_path):
    submitted = mlflow.projects.run(str(PROJECT_ROOT), entry_point="featurize", parameters={"config": str(small_project)},
                                    env_manager="local", synchronous=True)
    assert submitted.get_status() == "FINISHED"
    run = mlflow.get_run(submitted.run_id)
    assert run.data.tags["lab.stage"] == "featurize"
    digest = run.data.tags["lab.dataset_digest"]
    assert run.data.params["target"] == "all" and run.data.params["dataset_digest"] == digest
    assert run.data.params["rules.stop_loss_ticks"] == "8.0"
    assert run.data.metrics["rows_train"] == 42 * 78 and run.data.metrics["rows_validation"] == 21 * 78 - 36  # 11-24 early close
    assert 0.3 < run.data.metrics["share_of_ones_train_target_6bar"] < 0.7
    inputs = {d.dataset.name: d.dataset.digest for d in run.inputs.dataset_inputs}
    assert inputs == {f"train-{digest}": digest, f"validation-{digest}": digest}
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(submitted.run_id)}
    assert {"class_balance.csv", "feature_summary.csv", "manifest.json", "class_balance.png",
            "feature_distributions.png", "config"} <= artifacts
    assert (tmp_path / "data" / "features" / digest / "train.parquet").is_file()
    assert run.info.artifact_uri.startswith((tmp_path / "artifacts").as_uri())  # never the user's mlruns/


def test_featurize_bad_file_fails_with_a_clear_message(tmp_path, tracking_store, capsys):
    from jobs.featurize import main

    raw = tmp_path / "bad.txt"
    raw.write_text("2023-09-01 09:30:00,4000,3999,3998,4000,5\n")
    config = tmp_path / "lab.toml"
    config.write_text(SMALL_CONFIG.format(path=raw))
    assert main(["--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "line 1:" in err and "high < max(open, close)" in err and "--on-bad-rows drop" in err
    runs = mlflow.search_runs(search_all_experiments=True, output_format="list")
    assert runs[0].info.status == "FAILED" and "high < max" in runs[0].data.tags["lab.error"]


@pytest.mark.parametrize("kind", ["missing", "folder"])
def test_featurize_missing_or_folder_data_path_is_one_line(tmp_path, tracking_store, capsys, kind):
    from jobs.featurize import main

    data = tmp_path / "absent.txt" if kind == "missing" else tmp_path
    config = tmp_path / "lab.toml"
    config.write_text(SMALL_CONFIG.format(path=tmp_path / "raw.txt"))
    assert main(["--config", str(config), "--data", str(data)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "Traceback" not in err  # which configuration, then the one line
    assert err.startswith(f"config: {config}\nfeaturize: error: minute file ")
    assert ("does not exist" if kind == "missing" else "is a folder, not a minute file") in err

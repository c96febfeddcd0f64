"""The tracking edge: experiments carry a description the MLflow UI shows."""

from __future__ import annotations

import mlflow

from lab import tracking
from lab.config import LabConfig


def test_stage_run_describes_an_undescribed_experiment_and_keeps_an_existing_description(tracking_store):
    with tracking.stage_run("featurize", LabConfig(), target="all"):
        pass
    client = mlflow.MlflowClient()
    lab_test = client.get_experiment_by_name("lab-test")  # the fixture's experiment (MLFLOW_EXPERIMENT_NAME)
    assert lab_test.tags["mlflow.note.content"] == tracking.EXPERIMENT_DESCRIPTION
    assert lab_test.tags["mlflow.experimentKind"] == "custom_model_development"  # the UI opens on the runs
    own = client.create_experiment("mine", tags={"mlflow.note.content": "my words"},
                                   artifact_location=lab_test.artifact_location)
    with mlflow.start_run(experiment_id=own):
        with tracking.stage_run("backtest", LabConfig()):
            pass
    assert client.get_experiment(own).tags["mlflow.note.content"] == "my words"


def test_stage_run_brings_an_older_lab_description_up_to_date(tracking_store):
    client = mlflow.MlflowClient()
    lab_test = client.get_experiment_by_name("lab-test")
    client.set_experiment_tag(lab_test.experiment_id, "mlflow.note.content",
                              tracking.EXPERIMENT_DESCRIPTION[:60] + " (an older wording)")
    with tracking.stage_run("featurize", LabConfig(), target="all"):
        pass
    assert client.get_experiment(lab_test.experiment_id).tags["mlflow.note.content"] == tracking.EXPERIMENT_DESCRIPTION


def test_experiment_description_explains_the_tags_a_run_shows_and_the_ledger_count():
    for name in ("lab.stage", "lab.code_revision", "lab.code_dirty", "lab.dataset_digest", "lab.ledger.trials_in_run",
                 "trials_on_validation", "lab.evidence_for", "lab.study", "lab.error"):
        assert f"`{name}`" in tracking.EXPERIMENT_DESCRIPTION


def test_log_trial_run_is_named_and_timed_as_the_trial_was(tracking_store):
    import datetime as dt

    with mlflow.start_run() as parent:
        pass
    began = dt.datetime(2024, 5, 6, 10, 0, 0, 250000)
    run_id = tracking.log_trial_run(parent.info.run_id, 3, {"num_leaves": 15}, {"val_auc": 0.52}, "study-x",
                                    run_name="nl15-d4-lr0.05-md200", started=began,
                                    ended=began + dt.timedelta(seconds=7.5))
    run = mlflow.MlflowClient().get_run(run_id)
    assert run.info.run_name == "nl15-d4-lr0.05-md200"
    assert run.info.start_time == int(began.timestamp() * 1000)
    assert run.info.end_time - run.info.start_time == 7500  # the trial's 7.5 s, not the logging's milliseconds
    assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id and run.info.status == "FINISHED"
    unnamed = mlflow.MlflowClient().get_run(tracking.log_trial_run(parent.info.run_id, 4, {}, {}))
    assert unnamed.info.run_name == "trial-4"

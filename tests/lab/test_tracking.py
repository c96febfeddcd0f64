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

"""Tests for registry.promote: register, tag, move aliases; refuse and override."""

from __future__ import annotations

import dataclasses
import json

import pytest

from registry.errors import PromotionRefusedError, RegistryError
from registry.promote import check_candidate, promote


def test_promote_registers_a_tagged_version_under_the_champion_alias(lab_runs, policy):
    run_id = lab_runs.candidate()
    result = promote(run_id, policy)
    client = lab_runs.client
    version = client.get_model_version_by_alias("mes-test", "champion")
    assert (result.version, result.previous_version, result.forced) == (str(version.version), None, False)
    assert version.run_id == run_id
    assert version.source == result.candidate.model.model_uri
    tags = version.tags
    assert tags["lab.dataset_digest"] == "0123456789abcdef"
    assert tags["lab.features"] == "ret_1,ret_3,rsi_7"
    assert tags["lab.target"] == "target_6bar"
    assert tags["lab.code_revision"] == "abc123def456"
    assert json.loads(tags["lab.params"]) == {"num_leaves": 31, "max_depth": 6, "learning_rate": 0.05,
                                              "min_data_in_leaf": 100}
    evidence = json.loads(tags["lab.evidence_runs"])
    assert evidence["tune"] == run_id and evidence["walk-forward"] and evidence["backtest"]
    assert {g["name"]: g["passed"] for g in json.loads(tags["lab.gates"])}["min_profit_factor"] is True
    assert tags["lab.promoted_by"] and tags["lab.promoted_at"].endswith("+00:00")
    assert "lab.forced" not in tags


def test_promote_moves_the_former_champion_to_previous(lab_runs, policy):
    first = promote(lab_runs.candidate(), policy)
    second = promote(lab_runs.candidate(), policy)
    client = lab_runs.client
    assert second.previous_version == first.version
    assert client.get_model_version_by_alias("mes-test", "previous").version == int(first.version)
    assert client.get_model_version_by_alias("mes-test", "champion").version == int(second.version)


def test_promote_as_challenger_leaves_the_champion_alone(lab_runs, policy):
    champion = promote(lab_runs.candidate(), policy)
    challenger = promote(lab_runs.candidate(), policy, alias="challenger")
    client = lab_runs.client
    assert client.get_model_version_by_alias("mes-test", "champion").version == int(champion.version)
    assert client.get_model_version_by_alias("mes-test", "challenger").version == int(challenger.version)
    assert challenger.tags["lab.promoted_as"] == "challenger"


def test_promote_refuses_when_a_gate_fails_and_names_it(lab_runs, policy):
    run_id = lab_runs.candidate(profit_factor=1.05)
    with pytest.raises(PromotionRefusedError, match=r"1 gate\(s\) failed \(min_profit_factor\).*--force --reason") as info:
        promote(run_id, policy)
    assert [g.name for g in info.value.failed] == ["min_profit_factor"]
    assert lab_runs.client.search_registered_models(filter_string="name = 'mes-test'") == []


def test_promote_refuses_without_evidence_on_the_same_dataset(lab_runs, policy):
    run_id = lab_runs.tune()
    lab_runs.walk_forward(run_id, digest="ffffffffffffffff")
    lab_runs.backtest(run_id)
    with pytest.raises(PromotionRefusedError, match=r"\(walk_forward_evidence, min_walk_forward_auc\)"):
        promote(run_id, policy)


def test_promote_force_without_reason_is_an_error(lab_runs, policy):
    with pytest.raises(RegistryError, match="--force needs --reason"):
        promote(lab_runs.candidate(profit_factor=1.0), policy, force=True, reason="  ")


def test_promote_force_with_reason_records_the_override(lab_runs, policy):
    run_id = lab_runs.candidate(profit_factor=1.0)
    result = promote(run_id, policy, force=True, reason="PF dip from one FOMC day")
    tags = lab_runs.client.get_model_version("mes-test", result.version).tags
    assert (tags["lab.forced"], tags["lab.force_reason"]) == ("true", "PF dip from one FOMC day")
    assert result.forced


def test_promote_without_required_evidence_when_policy_relaxed(lab_runs, policy):
    relaxed = dataclasses.replace(policy, require_walk_forward=False, require_backtest=False)
    candidate = check_candidate(lab_runs.tune(), relaxed)
    assert candidate.passed
    assert candidate.evidence_runs["backtest"] is None


def test_promote_refuses_an_unknown_alias(lab_runs, policy):
    with pytest.raises(RegistryError, match="alias 'previous' is not one of champion, challenger"):
        promote(lab_runs.candidate(), policy, alias="previous")


def test_promote_real_lightgbm_model_loads_through_the_champion_alias(lab_runs, policy):
    import lightgbm as lgb
    import mlflow
    import numpy as np
    from mlflow.models import infer_signature

    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 3))
    y = (X[:, 0] > 0).astype(int)
    booster = lgb.train({"verbose": -1, "num_leaves": 4, "objective": "binary"}, lgb.Dataset(X, y), 5)
    run_id = lab_runs.tune(model="none")
    with mlflow.start_run(run_id=run_id):
        info = mlflow.lightgbm.log_model(booster, name="model", signature=infer_signature(X, booster.predict(X)),
                                         input_example=X[:2], pip_requirements=["lightgbm"])
        mlflow.set_tag("lab.model_id", info.model_id)
    lab_runs.walk_forward(run_id)
    lab_runs.backtest(run_id)
    result = promote(run_id, policy)
    version = lab_runs.client.get_model_version("mes-test", result.version)
    assert version.source == f"models:/{info.model_id}"  # ModelVersion.model_id may be empty: source has it
    loaded = mlflow.pyfunc.load_model("models:/mes-test@champion")
    np.testing.assert_allclose(loaded.predict(X[:5]), booster.predict(X[:5]))

"""Tests for registry.evidence: finding the candidate's model and its evidence runs."""

from __future__ import annotations

import pytest

from registry.errors import CandidateError
from registry.evidence import find_evidence, find_model, run_facts

from tests.registry.conftest import DIGEST


def test_run_facts_refuses_an_unknown_run(lab_runs):
    with pytest.raises(CandidateError, match="no run 'deadbeef' in the tracking store"):
        run_facts("deadbeef")


def test_find_model_uses_the_lab_model_id_tag(lab_runs):
    run_id = lab_runs.tune(model="tag")
    facts = run_facts(run_id)
    model = find_model(facts)
    assert model.model_id == facts.tags["lab.model_id"]
    assert (model.model_uri, model.found_by) == (f"models:/{model.model_id}", "tag")


def test_find_model_falls_back_to_the_logged_model_of_the_run(lab_runs):
    model = find_model(run_facts(lab_runs.tune(model="search")))
    assert model.found_by == "search"
    assert model.model_id.startswith("m-")


def test_find_model_refuses_a_run_without_a_model(lab_runs):
    run_id = lab_runs.tune(model="none")
    with pytest.raises(CandidateError, match=f"run {run_id} \\(tune\\) holds no logged model"):
        find_model(run_facts(run_id))


def test_find_model_refuses_a_tag_naming_a_missing_model(lab_runs):
    run_id = lab_runs.tune(model="none")
    lab_runs.client.set_tag(run_id, "lab.model_id", "m-0000")
    with pytest.raises(CandidateError, match="names model m-0000 .* no such logged model"):
        find_model(run_facts(run_id))


def test_find_evidence_newest_finished_run_on_the_same_digest_wins(lab_runs):
    tune = lab_runs.tune()
    lab_runs.walk_forward(tune)
    newest = lab_runs.walk_forward(tune)
    lab_runs.walk_forward(tune, status="FAILED")  # newer still, but failed
    evidence = find_evidence(run_facts(tune), "walk-forward")
    assert evidence.run is not None and evidence.run.run_id == newest
    assert evidence.run.metrics["wf_folds"] == 12


def test_find_evidence_explains_why_runs_do_not_count(lab_runs):
    tune = lab_runs.tune()
    other = lab_runs.backtest(tune, digest="ffffffffffffffff")
    failed = lab_runs.backtest(tune, status="FAILED")
    wrong_window = lab_runs.backtest(tune, window="train")
    evidence = find_evidence(run_facts(tune), "backtest")
    assert evidence.run is None
    assert f"{other} is on dataset ffffffffffffffff, not {DIGEST}" in evidence.note
    assert f"{failed} is FAILED" in evidence.note
    assert f"{wrong_window} has lab.window = train, not validation" in evidence.note


def test_find_evidence_without_any_run_says_how_to_make_one(lab_runs):
    tune = lab_runs.tune()
    evidence = find_evidence(run_facts(tune), "walk-forward")
    assert evidence.run is None
    assert "mlflow run . -e walk-forward" in evidence.note

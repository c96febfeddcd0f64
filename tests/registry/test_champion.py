"""Tests for registry.champion: the champion is the version the gate put behind the alias."""

from __future__ import annotations

import pytest

from lab.live.serving import SignalSpec
from registry.champion import ChampionError, admit_served, gate_version
from registry.promote import promote
from registry.status import format_status, lab_status


def test_gate_version_returns_the_version_lab_promote_registered(lab_runs, policy):
    result = promote(lab_runs.candidate(), policy)
    assert str(gate_version("mes-test").version) == result.version


def test_gate_version_refuses_an_alias_moved_with_the_client_naming_lab_promote(lab_runs, policy):
    first = promote(lab_runs.candidate(), policy)
    promote(lab_runs.candidate(), policy)
    lab_runs.client.set_registered_model_alias("mes-test", "champion", first.version)  # as the MLflow UI would
    with pytest.raises(ChampionError, match=rf"the champion of 'mes-test' is version {first.version}, but the "
                                            r"promotion gate did not put it there .*lab promote --run-id"):
        gate_version("mes-test")


def test_gate_version_refuses_a_version_registered_outside_the_gate(lab_runs, policy):
    promote(lab_runs.candidate(), policy)
    run_id = lab_runs.tune()
    model_uri = lab_runs.client.get_run(run_id).data.tags["lab.model_uri"]
    bare = lab_runs.client.create_model_version("mes-test", source=model_uri, run_id=run_id)
    lab_runs.client.set_registered_model_alias("mes-test", "champion", bare.version)
    with pytest.raises(ChampionError, match=r"carries no gate record \(lab.gates, lab.evidence_runs"):
        gate_version("mes-test")


def test_gate_version_without_a_champion_says_how_to_get_one(tracking_store):
    with pytest.raises(ChampionError, match=r"has no champion .*lab promote --run-id"):
        gate_version("mes-test")


def test_promoting_the_champions_run_again_adds_no_version_and_keeps_the_alias(lab_runs, policy):
    run_id = lab_runs.candidate()
    first = promote(run_id, policy)
    again = promote(run_id, policy)
    assert again.unchanged and again.version == first.version
    versions = lab_runs.client.search_model_versions("name = 'mes-test'")
    assert [str(v.version) for v in versions] == [first.version]


def test_status_shows_the_champions_verdict_and_an_untrusted_alias(lab_runs, policy):
    from lab.config import load_config

    first = promote(lab_runs.candidate(), policy)
    lab_runs.client.set_model_version_tag("mes-test", first.version, "lab.final_eval.verdict", "FAIL")
    config = load_config(None, {"promotion.model_name": "mes-test"})
    text = format_status(lab_status(config))
    assert "final-eval: FAIL" in text and "NOT TRUSTED" not in text
    promote(lab_runs.candidate(), policy)
    lab_runs.client.set_registered_model_alias("mes-test", "champion", first.version)
    text = format_status(lab_status(config))
    assert "NOT TRUSTED: the champion of 'mes-test'" in text


def test_a_served_model_is_admitted_only_while_the_gates_record_points_at_its_run(lab_runs, policy):
    first = promote(lab_runs.candidate(), policy)
    first_run = first.candidate.run.run_id
    spec = SignalSpec(engine="lightgbm", features=("ret_1",), model_name="mes-test", run_id=first_run)
    admit_served(spec)  # the gate's champion: served
    second = promote(lab_runs.candidate(), policy)
    with pytest.raises(ChampionError, match=rf"refusing to serve the signal model of run {first_run}: .*the gate's "
                                            rf"champion of 'mes-test' is version {second.version}"):
        admit_served(spec)  # replaced by the gate since
    lab_runs.client.set_registered_model_alias("mes-test", "champion", first.version)  # as the MLflow UI would
    with pytest.raises(ChampionError, match=r"promotion gate did not put it there .*lab promote --run-id"):
        admit_served(spec)


def test_a_signal_model_built_outside_lab_promote_is_not_served(tracking_store):
    with pytest.raises(ChampionError, match=r"names no registered model or run: it was not built by `lab promote`"):
        admit_served(SignalSpec(engine="lightgbm", features=("ret_1",)))

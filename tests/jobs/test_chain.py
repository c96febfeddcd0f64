"""The run contract of the whole chain (tests/jobs/conftest.py builds it once per session): tags,
parameters, metrics, artifacts and the logged model the registry relies on, resuming a study, the
refusal of test-window dates, and the one-time final evaluation.
"""

import json

import mlflow
import pytest

from tests.conftest import PROJECT_ROOT
from tests.jobs.conftest import run_entry

pytestmark = pytest.mark.slow


def _artifacts(run):
    return {a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id)}


def test_tune_logs_trials_leaderboard_and_a_promotable_model(chain):
    runs, _ = chain
    tune = runs["tune"]
    assert tune.info.status == "FINISHED"
    assert tune.data.tags["lab.stage"] == "tune" and tune.data.params["target"] == "target_6bar"
    assert tune.data.params["model.engine"] == "lightgbm" and len(tune.data.tags["lab.dataset_digest"]) == 16
    assert {"best.num_leaves", "best.max_depth", "best.learning_rate", "best.min_data_in_leaf"} <= set(tune.data.params)
    assert 0.0 < tune.data.metrics["val_auc"] < 1.0 and tune.data.metrics["trials_completed"] == 2
    assert {"leaderboard.csv", "leaderboard.png", "feature_importance.csv", "feature_importance_gain.png",
            "reliability.png"} <= _artifacts(tune)
    trials = mlflow.search_runs(filter_string=f"tags.mlflow.parentRunId = '{tune.info.run_id}'", search_all_experiments=True)
    assert len(trials) == 2 and set(trials["params.num_leaves"]) == {"7", "15"}
    # the model logged is the best trial's own, kept by the worker that trained it (not trained again)
    assert tune.data.metrics["best_model_retrained"] == 0
    assert tune.data.metrics["val_auc"] == pytest.approx(trials["metrics.val_auc"].max(), abs=1e-12)
    booster = mlflow.lightgbm.load_model(tune.data.tags["lab.model_uri"])
    assert booster.feature_name() == tune.data.tags["lab.features"].split(",")
    model = mlflow.get_logged_model(tune.data.tags["lab.model_id"])
    assert model.source_run_id == tune.info.run_id


def test_analyze_logs_the_phase_4_tables_pictures_and_report(chain):
    runs, _ = chain
    run = runs["analyze"]
    assert run.info.status == "FINISHED" and run.data.tags["lab.stage"] == "analyze"
    assert run.data.tags["lab.evidence_for"] == runs["tune"].info.run_id
    client = mlflow.MlflowClient()
    analysis = {a.path for a in client.list_artifacts(run.info.run_id, "analysis")}
    for name in ("threshold_sweep.csv", "by_month.csv", "by_volatility_regime.csv", "overfitting_auc.csv",
                 "feature_correlations.csv", "top_features_by_gain.csv", "winners_losers_by_bars_held.csv",
                 "threshold_sweep.png"):
        assert f"analysis/{name}" in analysis
    assert "report.html" in _artifacts(run)
    metrics = run.data.metrics
    assert metrics["sweep_points"] == 26
    # the walk-forward of the same tune run is found and its mean AUC reported beside train and validation
    assert metrics["auc_walk_forward"] == pytest.approx(runs["walk-forward"].data.metrics["wf_auc_mean"])
    assert metrics["auc_validation"] == pytest.approx(runs["tune"].data.metrics["val_auc"])
    sweep = mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/analysis/threshold_sweep.csv").splitlines()
    assert len(sweep) == 27 and sweep[1].startswith("0.5,")


def test_tune_rerun_resumes_the_study_without_redoing_trials(chain):
    runs, _ = chain
    again = runs["tune_again"]
    assert again.info.status == "FINISHED"
    assert again.data.metrics["trials_run_here"] == 0 and again.data.metrics["trials_completed"] == 2
    # no worker of this job trained the best trial: its model is trained again, the same model
    assert again.data.metrics["best_model_retrained"] == 1
    assert again.data.metrics["val_auc"] == runs["tune"].data.metrics["val_auc"]
    assert again.data.metrics["best_iteration"] == runs["tune"].data.metrics["best_iteration"]


def test_walk_forward_logs_folds_and_names_its_tune_run(chain):
    runs, _ = chain
    wf = runs["walk-forward"]
    assert wf.info.status == "FINISHED" and wf.data.tags["lab.evidence_for"] == runs["tune"].info.run_id
    assert wf.data.tags["lab.dataset_digest"] == runs["tune"].data.tags["lab.dataset_digest"]
    assert wf.data.metrics["wf_folds"] == 3  # validation months 2023-02, -03, -04 after 8 training months
    assert {"wf_auc_mean", "wf_auc_std", "wf_auc_gap_mean", "wf_ece_mean"} <= set(wf.data.metrics)
    history = mlflow.MlflowClient().get_metric_history(wf.info.run_id, "fold_auc")
    assert sorted(m.step for m in history) == [0, 1, 2]
    assert {"folds.csv", "auc_by_fold.png", "reliability.png", "reliability.csv", "out_of_fold_predictions.csv"} <= _artifacts(wf)


def test_backtest_logs_trades_metrics_criteria_and_report(chain):
    runs, tmp = chain
    bt = runs["backtest"]
    assert bt.info.status == "FINISHED" and bt.data.tags["lab.window"] == "validation"
    assert bt.data.tags["lab.evidence_for"] == runs["tune"].info.run_id
    for key in ("total_trades", "win_rate", "profit_factor", "trades_per_day", "worst_day_usd", "max_drawdown_usd",
                "total_pnl_usd", "direction_auc"):
        assert key in bt.data.metrics, key
    assert bt.data.metrics["total_trades"] > 0
    assert {"trades.csv", "report.html", "equity_drawdown.png", "success_criteria.csv"} <= _artifacts(bt)
    # the fill sensitivity: the configured rule (through) is the backtest's own figures; touch fills more targets
    m = bt.data.metrics
    assert m["fill_through_trades"] == m["total_trades"] and m["fill_through_pnl_usd"] == round(m["total_pnl_usd"], 2)
    assert m["fill_touch_targets"] >= m["fill_through_targets"] and "fill_touch_profit_factor" in m
    report = mlflow.artifacts.load_text(f"runs:/{bt.info.run_id}/report.html")
    assert f"Fill rule: through (1 tick); under touch: {int(m['fill_touch_trades'])} trades" in report
    path = mlflow.artifacts.download_artifacts(run_id=bt.info.run_id, artifact_path="trades.csv", dst_path=str(tmp))
    header = open(path).readline().strip().split(",")
    assert header[:8] == ["entry_time", "exit_time", "side", "contracts", "entry_price", "exit_price", "exit_reason", "pnl_usd"]
    assert "probability" in header
    first = open(path).readlines()[1]
    assert first[:25].endswith(("-04:00", "-05:00"))


def _report_cells(run) -> tuple[dict[str, str], str]:
    """The rows of the "about" table (label -> value) and the verdict banner of a run's report.html."""
    from html.parser import HTMLParser

    class Cells(HTMLParser):
        def __init__(self):
            super().__init__()
            self.cells, self.verdict, self._in, self._about = [], "", None, False

        def handle_starttag(self, tag, attrs):
            if tag == "table":
                self._about = "about" in (dict(attrs).get("class") or "")
            elif tag in ("th", "td") and self._about:
                self._in, self.cells = tag, self.cells + [""]
            elif tag == "p" and "verdict" in (dict(attrs).get("class") or ""):
                self._in = "verdict"

        def handle_endtag(self, tag):
            self._in = None if tag in ("th", "td", "p") else self._in

        def handle_data(self, data):
            if self._in in ("th", "td"):
                self.cells[-1] += data
            elif self._in == "verdict":
                self.verdict += data

    parser = Cells()
    parser.feed(mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/report.html"))
    return dict(zip(parser.cells[0::2], parser.cells[1::2])), parser.verdict


def test_reports_open_with_their_verdict_and_say_what_they_are_about(chain):
    runs, _ = chain
    tune, bt, final = runs["tune"], runs["backtest"], runs["final-eval"]
    header, verdict = _report_cells(bt)
    assert header["tune run"] == tune.info.run_id and header["backtest run"] == bt.info.run_id
    assert header["dataset digest"] == tune.data.tags["lab.dataset_digest"] and "raw.txt" in header["data"]
    assert "target 6 ticks, stop 8 ticks" in header["rules"] and "$0.84 per contract" in header["costs"]
    assert verdict.startswith("Verdict on the plan's criteria: ")  # shown on the validation report too
    header, verdict = _report_cells(final)
    assert header["model"].startswith("chain-test version") and header["final-eval run"] == final.info.run_id
    assert header["validation backtest run"] == bt.info.run_id and header["ticket"].startswith("lab-ticket-")
    assert verdict.startswith(f"Verdict on the plan's criteria: {final.data.tags['lab.verdict']}: ")


def test_chain_runs_are_counted_in_the_trial_ledger_and_log_the_deflated_statistics(chain):
    runs, _ = chain
    tune, bt = runs["tune"], runs["backtest"]
    trials = mlflow.search_runs(search_all_experiments=True, output_format="list",
                                filter_string=f"tags.`mlflow.parentRunId` = '{tune.info.run_id}'")
    assert len(trials) == 2 and {t.data.tags["lab.ledger.trials_in_run"] for t in trials} == {"1"}
    assert tune.data.tags["lab.ledger.trials_in_run"] == "0" and tune.data.metrics["trials_on_validation"] == 2
    assert tune.data.tags["lab.ledger.trials_nested"] == "2"  # the parent's 0 explained beside the metric
    assert 0.0 <= tune.data.metrics["pbo"] <= 1.0 and 0.0 <= tune.data.metrics["spa_pvalue"] <= 1.0
    assert {"pbo_logits.png", "validation_weekly_auc.csv"} <= _artifacts(tune)
    # two tune trials, the walk-forward and the backtest itself
    assert bt.data.metrics["trials_on_validation"] == 4 and 0.0 <= bt.data.metrics["deflated_sharpe_prob"] <= 1.0
    assert bt.data.tags["lab.ledger.window"] == "2023-05-01..2023-06-30"


def test_backtest_refuses_dates_in_the_test_window(chain):
    runs, _ = chain
    refused = runs["refused"]
    assert refused.info.status == "FAILED"
    assert "overlaps the held-out test window" in refused.data.tags["lab.error"]


def test_featurize_run_of_the_chain_names_the_dataset_every_later_run_uses(chain):
    runs, _ = chain
    digest = runs["featurize"].data.tags["lab.dataset_digest"]
    for stage in ("tune", "walk-forward", "backtest"):
        assert runs[stage].data.tags["lab.dataset_digest"] == digest, stage


def test_promotion_is_forced_with_a_reason_when_honest_gates_fail(chain):
    runs, _ = chain
    version = mlflow.MlflowClient().get_model_version_by_alias("chain-test", "champion")
    assert str(version.version) == runs["model_version"] and version.run_id == runs["tune"].info.run_id
    gates = {g["name"]: g["passed"] for g in json.loads(version.tags["lab.gates"])}
    assert gates["walk_forward_evidence"] and gates["backtest_evidence"]
    assert not all(gates.values()) and version.tags["lab.forced"] == "true" and "synthetic" in version.tags["lab.force_reason"]


def test_final_eval_runs_once_on_the_test_window_and_records_its_verdict(chain):
    runs, _ = chain
    final = runs["final-eval"]
    assert final.info.status == "FINISHED" and final.data.tags["lab.window"] == "test"
    assert final.data.params["window"] == "2023-07-01..2023-07-31"
    assert final.data.params["rules_from"] == f"backtest run {runs['backtest'].info.run_id}"
    assert final.data.metrics["total_trades"] > 0 and "direction_auc" in final.data.metrics
    assert {"tier_all_auc", "tier_half_rows"} <= set(final.data.metrics)
    assert {"trades.csv", "report.html", "evaluation_by_tier.csv", "success_criteria.csv"} <= _artifacts(final)
    version = mlflow.MlflowClient().get_model_version("chain-test", runs["model_version"])
    assert version.tags["lab.final_eval.run_id"] == final.info.run_id
    assert version.tags["lab.final_eval.verdict"] == final.data.tags["lab.verdict"]


def test_final_eval_second_call_refuses_and_names_the_first(chain):
    runs, _ = chain
    again = runs["final_again"]
    assert again.info.status == "FAILED"
    assert runs["final-eval"].info.run_id in again.data.tags["lab.error"]
    assert "already taken" in again.data.tags["lab.error"]


def test_two_final_evals_at_once_on_a_new_window_give_one_evaluation_and_one_refusal(chain, capsys):
    """A new, unseen test window opens a new ticket (recorded with the spent one); racing for it,
    exactly one final-eval proceeds. A window overlapping the spent one is refused outright."""
    import subprocess
    import sys

    from jobs import final_eval
    from registry.ticket import get_ticket

    runs, tmp = chain
    text = (tmp / "lab.toml").read_text()
    overlapping = tmp / "lab-overlap.toml"
    overlapping.write_text(text.replace('test = ["2023-07-01", "2023-07-31"]', 'test = ["2023-07-17", "2023-08-15"]'))
    assert final_eval.main(["--config", str(overlapping)]) == 2  # lineage: not the champion's dataset
    err = capsys.readouterr().err
    assert "final-eval builds on run" in err and runs["tune"].data.tags["lab.dataset_digest"] in err

    # A new window is a new dataset: tune and promote on it, then race for its ticket.
    from jobs import tune
    from registry.promote import promote

    config = tmp / "lab-new-window.toml"  # a model name of its own: chain-test's champion (and its evidence) stays
    config.write_text(text.replace('test = ["2023-07-01", "2023-07-31"]', 'test = ["2023-08-01", "2023-08-31"]')
                      .replace('model_name = "chain-test"', 'model_name = "chain-test-new-window"'))
    assert tune.main(["--config", str(config), "--workers", "1"]) == 0
    new_tune = mlflow.search_runs(search_all_experiments=True, output_format="list", order_by=["start_time DESC"],
                                  filter_string="tags.`lab.stage` = 'tune'")[0]
    from lab.config import load_config

    promote(new_tune.info.run_id, load_config(str(config)).promotion, force=True, reason="race test")
    # --on-bad-rows drop: the 90-day warm-up before August reads the chain's poisoned July minutes
    command = [sys.executable, "-m", "jobs.final_eval", "--config", str(config), "--on-bad-rows", "drop"]
    racers = [subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
              for _ in range(2)]
    results = [(racer.wait(timeout=300), racer.communicate()[1]) for racer in racers]
    assert sorted(code for code, _ in results) == [0, 2], results
    refusal = next(err for code, err in results if code == 2)
    assert "already taken" in refusal or "in progress" in refusal
    ticket = get_ticket("ES", "2023-08-01..2023-08-31")  # tickets are keyed on the market (MES -> ES)
    assert ticket.verdict and ticket.run_id
    assert [w["window"] for w in ticket.previous_windows] == ["2023-07-01..2023-07-31"]


def test_final_eval_refuses_a_champion_tuned_on_the_test_window(chain, capsys):
    from jobs import final_eval

    runs, tmp = chain
    config = tmp / "lab-early-test.toml"
    config.write_text((tmp / "lab.toml").read_text().replace('test = ["2023-07-01", "2023-07-31"]',
                                                             'test = ["2023-06-01", "2023-06-30"]')
                      .replace('validation = ["2023-05-01", "2023-06-30"]', 'validation = ["2023-05-01", "2023-05-31"]'))
    assert final_eval.main(["--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "final-eval builds on run" in err and "test 2023-06-01..2023-06-30" in err  # both datasets named


def test_monitor_logs_psi_ece_and_bands_and_status_shows_its_alert(chain):
    runs, tmp = chain
    backtest = runs["backtest"].info.run_id
    monitor = run_entry("monitor", config=str(tmp / "lab.toml"), recent_days="20", trades_run=backtest)
    assert monitor.info.status == "FINISHED" and monitor.data.tags["lab.stage"] == "monitor"
    metrics = monitor.data.metrics
    assert {"psi_max", "ece_recent", "ece_validation", "pnl.band_p05_usd", "pnl.recent_total_pnl_usd"} <= set(metrics)
    assert "psi.csv" in _artifacts(monitor)
    version = mlflow.MlflowClient().get_model_version_by_alias("chain-test", "champion")
    assert version.tags["lab.monitor_run"] == monitor.info.run_id
    alert = (metrics["psi_max"] > 0.25) or (metrics["ece_recent"] > 2 * metrics["ece_validation"])
    assert ("lab.alert" in monitor.data.tags) == alert == ("lab.alert" in version.tags)
    from lab.config import load_config
    from registry.status import format_status, lab_status

    text = format_status(lab_status(load_config(tmp / "lab.toml")))
    assert ("ALERT (monitor run" in text) == alert


def test_promotion_registered_the_champion_as_the_signal_pyfunc(chain):
    version = mlflow.MlflowClient().get_model_version_by_alias("chain-test", "champion")
    assert version.tags["lab.signal_model"].startswith("run ")
    flavors = mlflow.models.get_model_info("models:/chain-test@champion").flavors
    assert "python_function" in flavors and "lightgbm" not in flavors


PEEK = ('validation = ["2023-05-01", "2023-06-30"]', 'validation = ["2023-07-01", "2023-07-31"]')


def test_lineage_refuses_a_config_with_another_digest_in_walk_forward_backtest_and_promote(chain, capsys):
    """Attack 4 and 1: a copy of the config whose validation window is the test window (another dataset
    digest) is refused by every stage building on the tune run, naming both digests."""
    from click.testing import CliRunner

    from jobs import backtest, walk_forward
    from cli.registry import promote_command

    runs, tmp = chain
    text = (tmp / "lab.toml").read_text()
    peek = tmp / "peek.toml"
    peek.write_text(text.replace(*PEEK).replace('test = ["2023-07-01", "2023-07-31"]', 'test = ["2023-08-01", "2023-08-31"]'))
    tune_run, digest = runs["tune"].info.run_id, runs["tune"].data.tags["lab.dataset_digest"]
    assert walk_forward.main(["--config", str(peek), "--params-from", tune_run]) == 2
    err = capsys.readouterr().err
    assert "walk-forward builds on run" in err and digest in err and "gives dataset" in err.replace("give(s)", "gives")
    assert backtest.main(["--config", str(peek), "--run-id", tune_run]) == 2
    err = capsys.readouterr().err
    assert "backtest builds on run" in err and digest in err and "validation 2023-07-01..2023-07-31" in err
    result = CliRunner().invoke(promote_command, ["--run-id", tune_run, "--config", str(peek), "--force", "--reason", "x"])
    assert result.exit_code == 1 and "promote builds on run" in result.output and digest in result.output


def test_the_hint_tune_prints_works_verbatim(chain, capsys, monkeypatch):
    """The printed next: command, run as printed from the project folder (whose lab.toml is the synthetic
    default), walks forward on the tune run's own data and settings in the store the tune used."""
    import shlex

    from jobs import tune, walk_forward

    runs, tmp = chain
    monkeypatch.chdir(PROJECT_ROOT)
    hint = tune.next_command(runs["tune"].info.run_id, "target_6bar")
    store, *words = shlex.split(hint)  # the chain's store is not the one a bare mlflow opens: the hint names it
    assert store == f"MLFLOW_TRACKING_URI=sqlite:///{(tmp / 'mlflow.db').resolve()}"
    assert words[:6] == ["mlflow", "run", ".", "-e", "walk-forward", "--env-manager"] and "--experiment-name" in words
    argv = [arg for word in words if word.startswith(("params_from=", "target="))
            for arg in ("--" + word.split("=")[0].replace("_", "-"), word.split("=", 1)[1])]
    assert walk_forward.main(argv) == 0
    run = mlflow.search_runs(search_all_experiments=True, output_format="list", order_by=["start_time DESC"],
                             filter_string="tags.`lab.stage` = 'walk-forward'")[0]
    assert run.data.tags["lab.dataset_digest"] == runs["tune"].data.tags["lab.dataset_digest"]


def test_the_champion_description_shows_gates_forced_reason_evidence_and_verdict(chain):
    runs, _ = chain
    version = mlflow.MlflowClient().get_model_version_by_alias("chain-test", "champion")
    text = version.description
    assert "**FORCED**" in text and "honest gates failed" in text  # the chain's null promotion is forced
    assert "| min_validation_auc |" in text and "| max_pbo |" in text
    assert f"/runs/{runs['walk-forward'].info.run_id})" in text and f"/runs/{runs['backtest'].info.run_id})" in text
    final = runs["final-eval"]
    assert f"**{final.data.tags['lab.verdict']}** on the test window" in text and final.info.run_id in text


def test_no_run_logs_an_empty_parameter_as_quotes(chain):
    """MLflow logs entry-point parameters as quoted for the shell: an unset one is "-", never ''."""
    runs, _ = chain
    for stage in ("featurize", "tune", "walk-forward", "backtest", "final-eval"):
        params = runs[stage].data.params
        assert "''" not in params.values(), (stage, {k: v for k, v in params.items() if v == "''"})
    assert runs["tune"].data.params["study_name"] == "-"

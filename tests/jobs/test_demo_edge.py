"""The demo on small data: with a planted edge the gate passes without --force; with no edge it refuses
and the demo stops there.

The planted edge runs the same chain as `lab demo` (featurize, tune, walk-forward, backtest, promote,
final-eval through `mlflow run`) on 21 months of synthetic minutes in a temporary demo home. The null
is the shared chain of tests/jobs/conftest.py (a random walk): the demo's promote step, run on its
featurize, tune, walk-forward and backtest runs, refuses and promotes nothing.
"""

import os

import mlflow
import pytest

from jobs.demo import prepare_demo_home, run_demo

pytestmark = pytest.mark.slow

CONFIG = """
[data]
synthetic_start = "2022-01-03"
synthetic_end = "2023-09-29"
synthetic_edge_auc = 0.62
[session]
warmup_bars = 1400
[windows]
train = ["2022-01-03", "2023-03-31"]
validation = ["2023-04-01", "2023-06-30"]
test = ["2023-07-01", "2023-09-29"]
[targets]
volatility_lookback_bars = 200
[walk_forward]
min_train_months = 6
max_folds = 2
[promotion]
model_name = "demo-edge-test"
[tune]
num_leaves = [31]
max_depth = [6]
learning_rate = [0.1]
min_data_in_leaf = [100, 1000000]
"""
# The grid's second point cannot split (a leaf needs more rows than there are): a study whose trials
# differ in skill. PBO judges the choice among trials; a grid of equally good points has nothing to
# choose between and CSCV then ranks the in-sample best low out of sample (see the README's gate notes).


@pytest.fixture
def planted_edge_demo(tmp_path, monkeypatch):
    source = tmp_path / "demo-small.toml"
    source.write_text(CONFIG)
    for key in ("MLFLOW_TRACKING_URI", "LAB_HOME", "MLFLOW_EXPERIMENT_NAME"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    config = prepare_demo_home(str(source), "demo-small", home=tmp_path / "demo")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", os.environ["MLFLOW_TRACKING_URI"])  # restored after the test
    monkeypatch.setenv("LAB_HOME", os.environ["LAB_HOME"])
    lines: list[str] = []
    try:
        yield run_demo(config, "demo-small", echo=lines.append), "\n".join(lines)
    finally:
        mlflow.set_tracking_uri(None)


def test_demo_gate_passes_unforced_with_a_planted_edge(planted_edge_demo):
    runs, output = planted_edge_demo
    tune = mlflow.get_run(runs["tune"])
    assert "The gate PASSED without --force" in output, output
    assert runs["model_version"] == "1" and "final-eval" in runs
    version = mlflow.MlflowClient().get_model_version("demo-edge-test", "1")
    assert "lab.forced" not in version.tags
    assert tune.data.metrics["val_auc"] > 0.58
    backtest = mlflow.get_run(runs["backtest"])
    assert backtest.data.metrics["total_trades"] > 0


def test_demo_gate_refuses_the_null_and_the_demo_stops_there(chain, monkeypatch):
    """run_demo on the shared chain's runs (its entry points replayed, not rerun): the real gate on
    the real evidence of a random walk refuses, nothing is promoted and no final-eval starts."""
    import jobs.demo

    runs, tmp = chain
    replayed = {stage: runs[stage].info.run_id for stage in ("featurize", "tune", "walk-forward", "backtest")}
    started: list[str] = []

    def replay(entry, params, experiment, echo):
        started.append(entry)
        return replayed[entry]  # a KeyError here: the demo went on past the refusal

    monkeypatch.setattr(jobs.demo, "_entry", replay)
    lines: list[str] = []
    returned = run_demo(str(tmp / "lab.toml"), "chain", echo=lines.append)
    output = "\n".join(lines)
    assert started == ["featurize", "tune", "walk-forward", "backtest"]
    assert returned == replayed and "model_version" not in returned and "final-eval" not in returned
    assert "The gate REFUSED the model" in output and "Nothing is promoted and the test window stays unseen" in output
    assert abs(runs["tune"].data.metrics["val_auc"] - 0.5) <= 0.03
    versions = mlflow.MlflowClient().search_model_versions("name = 'chain-test'")
    assert len(versions) == 1  # the chain's own forced promotion, nothing more


def test_prepare_demo_home_with_no_edge_plants_nothing(tmp_path, monkeypatch):
    """`lab demo --no-edge` runs the same configuration with the planted edge set to 0 (the honest null)."""
    from lab.config import load_config

    source = tmp_path / "demo-small.toml"
    source.write_text(CONFIG)
    for key in ("MLFLOW_TRACKING_URI", "LAB_HOME"):
        monkeypatch.setenv(key, os.environ.get(key, ""))  # prepare_demo_home sets them; restored after the test
    try:
        config = prepare_demo_home(str(source), "demo-small", no_edge=True, home=tmp_path / "demo")
        default = mlflow.MlflowClient().get_experiment("0")  # where a later `lab paper` without --experiment logs
    finally:
        mlflow.set_tracking_uri(None)
    assert config.endswith("demo-no-edge.toml") and load_config(config).data.synthetic_edge_auc == 0.0
    assert load_config(source).data.synthetic_edge_auc == 0.62
    assert default.artifact_location.replace("file://", "").startswith(str(tmp_path / "demo"))

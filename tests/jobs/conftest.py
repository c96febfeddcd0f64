"""The chain the job tests share: built once per session (it takes minutes), read by several modules.

The whole chain as `lab demo` drives it (featurize -> tune -> walk-forward -> backtest -> promote ->
final-eval, each through the lab's runner of MLproject entry points; the final-eval that makes the one
look through `mlflow run` itself) on a small random-walk file with no edge, in its own store.
Two minutes of the test window are poison (unparsable, negative prices): every stage but final-eval
runs without using them (the job that seals the window reads it only for the sessions' fingerprints,
bad rows dropped), the first final-eval stops on them before taking the ticket, and a final-eval
with ``on_bad_rows=drop`` then makes the one look. tests/jobs/test_chain.py checks the run
contract, tests/jobs/test_test_window_lock.py the lock, tests/jobs/test_demo_edge.py the demo's stop
at the gate's refusal.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import mlflow
import pytest

from lab.data.readers import write_firstrate
from tests.conftest import PROJECT_ROOT, make_minutes

CONFIG = """
[data]
path = "{path}"
[windows]
train = ["2022-06-01", "2023-04-30"]
validation = ["2023-05-01", "2023-06-30"]
test = ["2023-07-01", "2023-07-31"]
[targets]
volatility_lookback_bars = 200
[walk_forward]
min_train_months = 8
max_folds = 3
[rules]
entry_threshold = 0.51
full_size_threshold = 0.53
[promotion]
model_name = "chain-test"
[tune]
num_leaves = [7, 15]
max_depth = [3]
learning_rate = [0.1]
min_data_in_leaf = [200]
"""

#: The test-window minutes the chain's file spoils, and what each line becomes.
POISON = {"2023-07-03 09:30:00": "2023-07-03 09:30:00,POISON,1,1,1,1",
          "2023-07-03 09:31:00": "2023-07-03 09:31:00,-5,-5,-5,-5,1"}


@dataclasses.dataclass(frozen=True)
class Chain:
    """The shared chain: its runs by stage, its folder (``lab.toml``, ``raw.txt``, the store) and environment."""

    runs: dict
    tmp: Path
    env: dict[str, str]
    check_output: str  # `lab data check` of the file, run before final-eval
    ticket_before_final_eval: object  # the test window's ticket after the poisoned final-eval (None: open)


def run_entry(entry: str, **parameters) -> mlflow.entities.Run:
    """One entry point through the lab's runner (what `mlflow run` does, from MLflow's own project
    functions; tests/lab/tracking/test_forked.py holds the two equal) in the current store; a failed
    run is returned, not raised."""
    from lab.tracking import run_entry_point

    return mlflow.get_run(run_entry_point(entry, parameters, project_uri=PROJECT_ROOT).run_id)


def run_through_mlflow(entry: str, **parameters) -> mlflow.entities.Run:
    """One entry point through `mlflow run` itself (``mlflow.projects.run``); a failed run is returned."""
    try:
        submitted = mlflow.projects.run(str(PROJECT_ROOT), entry_point=entry, parameters=parameters, env_manager="local")
        return mlflow.get_run(submitted.run_id)
    except mlflow.exceptions.ExecutionException:  # a failed run: the newest one is it
        return mlflow.search_runs(search_all_experiments=True, output_format="list", order_by=["start_time DESC"])[0]


def _poison(path: Path) -> None:
    lines = path.read_text().splitlines(keepends=True)
    spoiled = 0
    for i, line in enumerate(lines):
        stamp = line[:19]
        if stamp in POISON:
            lines[i], spoiled = POISON[stamp] + "\n", spoiled + 1
    assert spoiled == len(POISON), spoiled
    path.write_text("".join(lines))


@pytest.fixture(scope="session")
def shared_chain(tmp_path_factory) -> Chain:
    from click.testing import CliRunner

    from cli.main import cli
    from jobs.demo import run_demo
    from registry.ticket import get_ticket

    tmp = tmp_path_factory.mktemp("chain")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    env = {"MLFLOW_TRACKING_URI": uri, "MLFLOW_DISABLE_TELEMETRY": "true", "LAB_HOME": str(tmp),
           "MLFLOW_EXPERIMENT_NAME": "chain"}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        mlflow.set_tracking_uri(uri)
        try:
            mlflow.create_experiment("chain", artifact_location=(tmp / "artifacts").as_uri())
            raw = write_firstrate(make_minutes("2022-05-01", "2023-08-31", seed=4), tmp / "raw.txt")
            _poison(raw)
            config = tmp / "lab.toml"
            config.write_text(CONFIG.format(path=raw))
            ids = run_demo(str(config), "chain", echo=lambda line: None, force_when_refused=True)
            assert "final-eval" not in ids, "final-eval read the poisoned test window without on_bad_rows=drop"
            runs = {k: mlflow.get_run(v) if k != "model_version" else v for k, v in ids.items()}
            runs["final_poisoned"] = mlflow.search_runs(
                search_all_experiments=True, output_format="list", order_by=["start_time DESC"],
                filter_string="tags.`lab.stage` = 'final-eval'")[0]
            ticket = get_ticket("ES", "2023-07-01..2023-07-31")
            check = CliRunner().invoke(cli, ["data", "check", str(raw), "--config", str(config)])
            assert check.exit_code == 0, check.output
            runs["final-eval"] = run_through_mlflow("final-eval", config=str(config), on_bad_rows="drop")
            runs["tune_again"] = run_entry("tune", config=str(config))
            runs["refused"] = run_entry("backtest", config=str(config), run_id=runs["tune"].info.run_id,
                                        start="2023-06-01", end="2023-07-15")
            runs["final_again"] = run_entry("final-eval", config=str(config), on_bad_rows="drop")
            runs["analyze"] = run_entry("analyze", config=str(config), run_id=runs["tune"].info.run_id)
        finally:
            mlflow.set_tracking_uri(None)
    return Chain(runs, tmp, env, check.output, ticket)


@pytest.fixture
def chain(shared_chain, monkeypatch):
    """The shared chain's runs and folder, its store the current one for the test."""
    for key, value in shared_chain.env.items():
        monkeypatch.setenv(key, value)
    mlflow.set_tracking_uri(shared_chain.env["MLFLOW_TRACKING_URI"])
    yield shared_chain.runs, shared_chain.tmp
    mlflow.set_tracking_uri(None)

"""Factories for runs that follow the lab's run contract, in the temporary tracking store."""

from __future__ import annotations

from typing import Any, Callable

import pytest

DIGEST = "0123456789abcdef"

GOOD_BACKTEST = {"total_trades": 900.0, "win_rate": 0.57, "profit_factor": 1.4, "trades_per_day": 3.6,
                 "worst_day_usd": -82.5, "max_drawdown_usd": -310.0, "total_pnl_usd": 2100.0,
                 "profitable_days_pct": 0.61, "sharpe_ratio": 4.0, "sessions": 250.0, "daily_pnl_skewness": 0.1,
                 "daily_pnl_kurtosis": 3.5}
#: What a tune run of a study that did not overfit logs (registry.deflated).
GOOD_STUDY = {"pbo": 0.1, "spa_pvalue": 0.01}
#: The trial-ledger tags of a backtest on the default market and validation window (registry.ledger).
LEDGER_TAGS = {"lab.ledger.market": "ES", "lab.ledger.window": "2023-01-01..2023-12-31", "lab.ledger.trials_in_run": "1"}
GOOD_WALK_FORWARD = {"wf_auc_mean": 0.56, "wf_auc_std": 0.01, "wf_auc_gap_mean": 0.02, "wf_ece_mean": 0.03,
                     "wf_folds": 12.0}


def _create_run(client, experiment_id: str, tags: dict[str, str], params: dict[str, str],
                metrics: dict[str, float], status: str = "FINISHED") -> str:
    from mlflow.entities import Metric, Param

    run = client.create_run(experiment_id, tags=tags)
    run_id = run.info.run_id
    client.log_batch(run_id, metrics=[Metric(k, float(v), 0, 0) for k, v in metrics.items()],
                     params=[Param(k, str(v)) for k, v in params.items()])
    if status != "RUNNING":
        client.set_terminated(run_id, status)
    return run_id


@pytest.fixture
def lab_runs(tracking_store) -> Any:
    """An object with ``tune``, ``walk_forward`` and ``backtest`` factories; returns run ids."""
    import mlflow

    client = mlflow.MlflowClient()
    experiment_id = client.get_experiment_by_name("lab-test").experiment_id

    class Factory:
        def __init__(self) -> None:
            self.client = client
            self.experiment_id = experiment_id

        def tune(self, digest: str = DIGEST, val_auc: float | None = 0.58, model: str = "tag",
                 target: str = "target_6bar") -> str:
            """A tune run; ``model``: ``tag`` (lab.model_id), ``search`` (only a LoggedModel), ``none``."""
            tags = {"lab.stage": "tune", "lab.dataset_digest": digest, "lab.code_revision": "abc123def456",
                    "lab.features": "ret_1,ret_3,rsi_7"}
            params = {"target": target, "model.engine": "lightgbm", "best.num_leaves": "31", "best.max_depth": "6",
                      "best.learning_rate": "0.05", "best.min_data_in_leaf": "100"}
            metrics = {**GOOD_STUDY, **({} if val_auc is None else {"val_auc": val_auc})}
            run_id = _create_run(client, experiment_id, tags, params, metrics)
            if model != "none":
                logged = client.create_logged_model(experiment_id, name="model", source_run_id=run_id)
                if model == "tag":
                    client.set_tag(run_id, "lab.model_id", logged.model_id)
                    client.set_tag(run_id, "lab.model_uri", f"models:/{logged.model_id}")
            return run_id

        def walk_forward(self, tune_run_id: str, digest: str = DIGEST, status: str = "FINISHED",
                         metrics: dict[str, float] | None = None, target: str = "target_6bar") -> str:
            tags = {"lab.stage": "walk-forward", "lab.dataset_digest": digest, "lab.evidence_for": tune_run_id}
            return _create_run(client, experiment_id, tags, {"target": target},
                               GOOD_WALK_FORWARD if metrics is None else metrics, status)

        def backtest(self, tune_run_id: str, digest: str = DIGEST, status: str = "FINISHED", window: str = "validation",
                     params: dict[str, str] | None = None, **overrides: float) -> str:
            tags = {"lab.stage": "backtest", "lab.dataset_digest": digest, "lab.evidence_for": tune_run_id,
                    "lab.window": window, **LEDGER_TAGS}
            return _create_run(client, experiment_id, tags, {"target": "target_6bar", **(params or {})},
                               {**GOOD_BACKTEST, **overrides},
                               status)

        def candidate(self, **backtest_overrides: float) -> str:
            """A tune run with passing walk-forward and backtest evidence (backtest metrics overridable)."""
            run_id = self.tune()
            self.walk_forward(run_id)
            self.backtest(run_id, **backtest_overrides)
            return run_id

    return Factory()


@pytest.fixture
def policy():
    from lab.config import PromotionConfig

    return PromotionConfig(model_name="mes-test")


@pytest.fixture
def write_config(tmp_path) -> Callable[..., str]:
    """Write a lab.toml with the given [promotion] and [windows] test; returns its path."""

    def write(test_window: tuple[str, str] = ("2024-01-01", "2025-12-31"), **promotion: Any) -> str:
        values = {"model_name": "mes-test", **promotion}
        lines = ["[windows]", f'test = ["{test_window[0]}", "{test_window[1]}"]', "", "[promotion]"]
        for key, value in values.items():
            lines.append(f"{key} = {str(value).lower() if isinstance(value, bool) else repr(value)}")
        path = tmp_path / f"lab-{len(list(tmp_path.glob('lab-*.toml')))}.toml"
        path.write_text("\n".join(lines).replace("'", '"') + "\n")
        return str(path)

    return write

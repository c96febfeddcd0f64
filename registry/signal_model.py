"""The champion's servable twin: at each promotion, the signal pyfunc is registered beside it.

    publish_signal_model(promotion)   # one call, made by registry.promote.register

A promoted version ``<model_name>/<v>`` (a native LightGBM/XGBoost model, what final-eval loads)
gets a companion version of ``<model_name>-signal``: the same booster wrapped as
:class:`lab.tracking.pyfunc.SignalModel` (minutes in, decisions per completed bar out), logged in a
small run tagged ``lab.stage = signal-model``, registered with signature and input example, and
given the same alias. Then::

    mlflow models serve -m "models:/<model_name>-signal@champion" --env-manager local

The pair is linked by tags: ``lab.signal_model`` on the promoted version, ``lab.champion_version``
on the signal version. The run's configuration (``config/lab.toml`` of the promoted run) supplies
the rules, the session calendar and the optional feature sets.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from registry.evidence import get_client

if TYPE_CHECKING:  # pragma: no cover
    from mlflow import MlflowClient

    from registry.promote import Promotion

__all__ = ["publish_signal_model", "signal_model_name", "SIGNAL_SUFFIX"]

SIGNAL_SUFFIX = "-signal"


def signal_model_name(model_name: str) -> str:
    """The registered name of a model's signal pyfunc: ``<model_name>-signal``."""
    return f"{model_name}{SIGNAL_SUFFIX}"


def publish_signal_model(promotion: "Promotion", client: "MlflowClient | None" = None) -> str | None:
    """Register the signal pyfunc of a just-promoted version and give it the same alias.

    Returns the signal version, or ``None`` when the promoted model holds no native booster to
    wrap or its features are not the live state's (then the promoted version is tagged
    ``lab.signal_model = "none: <why>"`` and a warning says so; the promotion itself stands).
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    from lab import tracking
    from lab.config import load_config
    from lab.errors import LabError
    from lab.live import CORE_NAMES, OPTIONAL_SET_NAMES
    from lab.live.serving import SignalSpec

    client = get_client(client)
    candidate = promotion.candidate
    run = candidate.run
    engine = run.params.get("model.engine", "lightgbm")
    try:
        booster = tracking.load_native_model(candidate.model.model_uri, engine)
        with tempfile.TemporaryDirectory() as folder:
            try:
                path = client.download_artifacts(run.run_id, "config/lab.toml", folder)
                config = load_config(path)
            except (MlflowException, OSError):
                config = load_config(None)
        features = tuple(f for f in run.tags.get("lab.features", "").split(",") if f)
        known = CORE_NAMES + tuple(n for s in config.features.optional_sets for n in OPTIONAL_SET_NAMES[s])
        unknown = [f for f in features if f not in known]
        if not features or unknown:
            raise LabError(f"its features {unknown or '(none recorded)'} are not the live state's")
    except (MlflowException, OSError, LabError) as exc:
        _no_signal_model(client, promotion, f"{type(exc).__name__}: {exc}")
        return None
    spec = SignalSpec(engine=engine, features=features, target=run.target, calendar=config.session.calendar,
                      bar_minutes=config.session.bar_minutes, warmup_bars=config.session.warmup_bars,
                      optional_sets=tuple(config.features.optional_sets),
                      rules={k: getattr(config.rules, k) for k in config.rules.__dataclass_fields__})
    experiment_id = client.get_run(run.run_id).info.experiment_id
    with mlflow.start_run(experiment_id=experiment_id, run_name="signal-model", nested=mlflow.active_run() is not None,
                          tags={tracking.STAGE_TAG: "signal-model", "lab.evidence_for": run.run_id,
                                "lab.champion_version": f"{promotion.model_name}/{promotion.version}"}) as signal_run:
        model_id = tracking.log_signal_model(booster, spec)
    name = signal_model_name(promotion.model_name)
    _ensure_registered_model(client, name)
    version = client.create_model_version(
        name, source=f"models:/{model_id}", run_id=signal_run.info.run_id, model_id=model_id,
        tags={"lab.champion_version": f"{promotion.model_name}/{promotion.version}", "lab.target": run.target,
              "lab.model_engine": engine, "lab.promoted_as": promotion.alias},
        description=f"signal pyfunc of {promotion.model_name} version {promotion.version}")
    client.set_registered_model_alias(name, promotion.alias, version.version)
    client.set_model_version_tag(promotion.model_name, promotion.version, "lab.signal_model", f"{name}/{version.version}")
    return str(version.version)


def _no_signal_model(client: "MlflowClient", promotion: "Promotion", why: str) -> None:
    """Say on the promoted version, and in a warning, why it has no signal twin."""
    client.set_model_version_tag(promotion.model_name, promotion.version, "lab.signal_model", f"none: {why}"[:5000])
    warnings.warn(f"{promotion.model_name} version {promotion.version}: no signal model registered: {why}", stacklevel=3)


def _ensure_registered_model(client: "MlflowClient", name: str) -> None:
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import ALREADY_EXISTS, RESOURCE_ALREADY_EXISTS, ErrorCode

    try:
        client.create_registered_model(name, description="Signal pyfuncs of promoted models: minutes in, decisions out.")
    except MlflowException as exc:
        if exc.error_code not in (ErrorCode.Name(RESOURCE_ALREADY_EXISTS), ErrorCode.Name(ALREADY_EXISTS)):
            raise

"""Logging and loading models: the boosters with MLflow's native flavors, the champion's signal pyfunc.

Re-exported by :mod:`lab.tracking` (``tracking.log_model``, ``tracking.load_native_model`` ...).
"""

from __future__ import annotations

import logging as logging_module
import tempfile
import warnings
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd

from lab.errors import LabError
from lab.models.boosters import predict_proba
from lab.tracking.core import _timed
from lab.tracking.faults import store_faults

__all__ = ["log_model", "log_signal_model", "load_native_model"]


@_timed
def log_model(trained: Any, example: pd.DataFrame) -> str:
    """Log a trained booster with MLflow's native flavor, signature and input example; returns the model id.

    ``trained`` is a :class:`lab.models.boosters.TrainedModel`. Requirements are given explicitly, which
    skips MLflow's slow inference of them.
    """
    import mlflow  # heavy: mlflow, 1.4 s to import
    from mlflow.models import infer_signature  # heavy: mlflow, 1.4 s to import


    sample = example.head(5)
    signature = infer_signature(sample, predict_proba(trained.booster, sample))
    with warnings.catch_warnings(), store_faults("model"):
        warnings.simplefilter("ignore", UserWarning)
        if trained.engine == "lightgbm":
            import lightgbm  # heavy: the boosting library

            info = mlflow.lightgbm.log_model(trained.booster, name="model", signature=signature, input_example=sample,
                                             pip_requirements=[f"lightgbm=={lightgbm.__version__}", f"pandas=={pd.__version__}"])
        else:
            import xgboost  # heavy: the boosting library

            info = mlflow.xgboost.log_model(trained.booster, name="model", signature=signature, input_example=sample,
                                            pip_requirements=[f"xgboost=={xgboost.__version__}", f"pandas=={pd.__version__}"])
    return info.model_id


@_timed
def log_signal_model(booster: Any, spec: Any, name: str = "signal_model", admit: Any = None) -> str:
    """Log the champion as a signal pyfunc (:class:`lab.tracking.pyfunc.SignalModel`) in the active run.

    The native booster is saved in its own format (LightGBM text, XGBoost JSON) and handed to
    MLflow as an artifact with the :class:`lab.live.serving.SignalSpec` JSON; the ``lab`` package
    travels as code, so ``mlflow models serve --env-manager local`` needs only the pip requirements.
    ``admit`` (a module-level function, pickled by reference) is asked at every load whether the model may
    answer (:class:`lab.tracking.pyfunc.SignalModel`). Returns the logged model's id.
    """
    import mlflow  # heavy: mlflow, 1.4 s to import
    from mlflow.models import infer_signature  # heavy: mlflow, 1.4 s to import

    from lab.live.serving import BOOSTER_FILES, example_minutes, signals_from_minutes  # heavy: loads numba
    from lab.tracking.pyfunc import BEING_LOGGED, SignalModel  # heavy: loads mlflow, numba

    example = example_minutes()
    with warnings.catch_warnings():  # MLflow's hint on integer columns: the example's volume is whole contracts
        warnings.simplefilter("ignore", UserWarning)
        signature = infer_signature(example, signals_from_minutes(example, booster, spec))
    engine = __import__(spec.engine)
    requirements = [f"{spec.engine}=={engine.__version__}", f"pandas=={pd.__version__}", f"mlflow=={mlflow.__version__}",
                    *_installed("numpy", "exchange_calendars", "scikit-learn", "numba")]
    with tempfile.TemporaryDirectory() as folder:
        booster_path = Path(folder) / BOOSTER_FILES[spec.engine]
        booster.save_model(str(booster_path))
        spec_path = Path(folder) / "signal_spec.json"
        spec_path.write_text(spec.to_json())
        logging = BEING_LOGGED.set(True)  # MLflow's input-example check loads it before it is registered
        quiet = logging_module.getLogger("mlflow.pyfunc")  # its notes on CloudPickle and the example's check
        level = quiet.level
        quiet.setLevel(logging_module.ERROR)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                info = mlflow.pyfunc.log_model(
                    name=name, python_model=SignalModel(admit),
                    artifacts={"booster": str(booster_path), "signal_spec": str(spec_path)},
                    code_paths=[str(Path(__file__).resolve().parent)], signature=signature, input_example=example,
                    pip_requirements=requirements)
        finally:
            quiet.setLevel(level)
            BEING_LOGGED.reset(logging)
    return info.model_id


def _installed(*names: str) -> list[str]:
    out = []
    for name in names:
        try:
            out.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            continue
    return out


def load_native_model(model_uri: str, engine: str) -> Any:
    """The booster behind a logged model (``models:/<id>``, ``models:/<name>@champion``, ``runs:/...``).

    A native LightGBM/XGBoost model loads with its flavor; the champion's signal pyfunc
    (:class:`lab.tracking.pyfunc.SignalModel`) hands over the booster it carries.
    """
    import mlflow  # heavy: mlflow, 1.4 s to import
    from mlflow.models import get_model_info  # heavy: mlflow, 1.4 s to import

    if engine not in get_model_info(model_uri).flavors:
        wrapped = mlflow.pyfunc.load_model(model_uri).unwrap_python_model()
        booster = getattr(wrapped, "_booster", None)
        if booster is None:
            raise LabError(f"model {model_uri} is neither a {engine} model nor the lab's signal pyfunc")
        return booster
    flavor = mlflow.lightgbm if engine == "lightgbm" else mlflow.xgboost
    return flavor.load_model(model_uri)

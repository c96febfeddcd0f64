"""The champion's signal model as an MLflow pyfunc: the one MLflow class the live path needs.

It lives beside :mod:`lab.tracking` because it subclasses MLflow's ``PythonModel``; everything it
computes is :func:`lab.live.serving.signals_from_minutes` (pure, no MLflow).
"""

from __future__ import annotations

import contextvars
from pathlib import Path
from typing import Any, Callable

import pandas as pd
from mlflow.pyfunc import PythonModel

from lab.live.serving import SignalSpec, load_booster, signals_from_minutes

__all__ = ["SignalModel", "BEING_LOGGED"]

#: True while :func:`lab.tracking.models.log_signal_model` logs the model: MLflow then loads it in this
#: process to check its input example, before any registered version exists that could be admitted.
BEING_LOGGED: contextvars.ContextVar[bool] = contextvars.ContextVar("lab_signal_model_being_logged", default=False)


class SignalModel(PythonModel):
    """MLflow pyfunc: minutes in, the champion's decisions per completed bar out (see lab.live.serving).

    ``admit`` is called with the model's :class:`SignalSpec` wherever the model is loaded (``mlflow
    models serve``, ``mlflow.pyfunc.load_model``) before it answers anything, and raises to refuse it:
    the registry hands in its rule that only a version ``lab promote`` recorded is served
    (:func:`registry.champion.admit_served`). It travels in the pickled model by reference.
    """

    def __init__(self, admit: Callable[[SignalSpec], None] | None = None) -> None:
        self._admit = admit

    def load_context(self, context) -> None:
        spec = SignalSpec.from_json(Path(context.artifacts["signal_spec"]).read_text())
        admit = getattr(self, "_admit", None)
        if admit is not None and not BEING_LOGGED.get():
            admit(spec)
        self._spec = spec
        self._booster = load_booster(spec.engine, context.artifacts["booster"])

    def predict(self, context, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        return signals_from_minutes(model_input, self._booster, self._spec)

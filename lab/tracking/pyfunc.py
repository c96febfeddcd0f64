"""The champion's signal model as an MLflow pyfunc: the one MLflow class the live path needs.

It lives beside :mod:`lab.tracking` because it subclasses MLflow's ``PythonModel``; everything it
computes is :func:`lab.live.serving.signals_from_minutes` (pure, no MLflow).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.pyfunc import PythonModel

from lab.live.serving import SignalSpec, load_booster, signals_from_minutes

__all__ = ["SignalModel"]


class SignalModel(PythonModel):
    """MLflow pyfunc: minutes in, the champion's decisions per completed bar out (see lab.live.serving)."""

    def load_context(self, context) -> None:
        spec = SignalSpec.from_json(Path(context.artifacts["signal_spec"]).read_text())
        self._spec = spec
        self._booster = load_booster(spec.engine, context.artifacts["booster"])

    def predict(self, context, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        return signals_from_minutes(model_input, self._booster, self._spec)

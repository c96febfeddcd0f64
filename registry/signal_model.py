"""The champion is servable: at promotion its booster is wrapped as the signal pyfunc and registered.

    signal = build_signal_model(candidate, model_name)  # called by registry.promote.register, before the version

:class:`lab.tracking.pyfunc.SignalModel` takes minutes and returns, per completed 5-minute bar,
the probability, the side, the contracts and the rule that stopped it. It carries the tune run's
booster in its own file format (LightGBM text, XGBoost JSON) beside a ``signal_spec.json`` (features,
rules, calendar, warm-up from the tune run's ``config/lab.toml``), is logged with signature and input
example in a small run tagged ``lab.stage = signal-model``, and becomes the source of the registered
version itself, so::

    mlflow models serve -m "models:/<model_name>@champion" --env-manager local

answers on 127.0.0.1 with that schema. Everything that needs the bare booster (final-eval, paper,
monitor) loads it through :func:`lab.tracking.load_native_model`, which reads it out of the pyfunc;
the tune run's native model stays where it was (tag ``lab.native_model_uri`` on the version).
A candidate whose booster cannot be wrapped (no native model, features the live state does not
compute) is registered as its native model, tagged ``lab.signal_model = none: <why>`` with a warning.
"""

from __future__ import annotations

import dataclasses
import tempfile
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lab import tags as tag
from lab import tracking
from lab.config import load_config
from lab.errors import LabError
from lab.features.custom import custom_sources_digest
from lab.live import CORE_NAMES, OPTIONAL_SET_NAMES
from registry.champion import admit_served
from registry.evidence import Candidate, get_client, with_trading_settings

if TYPE_CHECKING:  # pragma: no cover
    from lab.tracking import MlflowClient


__all__ = ["build_signal_model", "SignalModelRef", "warn_no_signal_model"]


@dataclass(frozen=True)
class SignalModelRef:
    """The logged signal pyfunc of a candidate (``model_id`` empty when none could be built: ``why``)."""

    model_id: str
    run_id: str
    why: str = ""

    @property
    def model_uri(self) -> str:
        return f"models:/{self.model_id}"


def build_signal_model(candidate: "Candidate", model_name: str, client: "MlflowClient | None" = None) -> SignalModelRef:
    """Log the candidate's booster as the signal pyfunc of ``model_name``; ``model_id`` empty (and ``why``) when it
    cannot be. Wherever it is loaded it answers only while the gate's record points at it
    (:func:`registry.champion.admit_served`)."""
    from lab.live.serving import SignalSpec  # heavy: loads numba
    from lab.strategies import targets_for  # heavy: loads numba
    from lab.tracking import MlflowException  # heavy: loads mlflow

    client = get_client(client)
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
        if candidate.backtest.run is not None:  # the champion trades as its validation backtest did
            config = with_trading_settings(config, candidate.backtest.run.params)
        if run.target not in targets_for(config.strategy.name):
            raise LabError(f"it predicts {run.target} but would trade the {config.strategy.name} strategy (no "
                           "validation backtest of a strategy it feeds)")
        features = tuple(f for f in run.tags.get(tag.FEATURES, "").split(",") if f)
        known = CORE_NAMES + tuple(n for s in config.features.optional_sets for n in OPTIONAL_SET_NAMES[s])
        unknown = [f for f in features if f not in known]
        if not features or (unknown and not config.features.custom):
            raise LabError(f"its features {unknown or '(none recorded)'} are not the live state's")
        # the custom modules must import here (they run live) and are pinned by their source digest
        custom_sources = custom_sources_digest(config.features.custom) if unknown else {}
    except (MlflowException, OSError, LabError) as exc:
        return SignalModelRef("", "", f"{type(exc).__name__}: {exc}")
    spec = SignalSpec(engine=engine, features=features, target=run.target, calendar=config.session.calendar,
                      bar_minutes=config.session.bar_minutes, warmup_bars=config.session.warmup_bars,
                      optional_sets=tuple(config.features.optional_sets),
                      rules=dataclasses.asdict(config.rules), strategy=dataclasses.asdict(config.strategy),
                      custom=tuple(custom_sources), custom_sources=custom_sources, model_name=model_name,
                      run_id=run.run_id, instrument=config.data.instrument, roll_adjust=config.data.roll_adjust,
                      tick_size=config.instrument.tick_size)
    experiment_id = client.get_run(run.run_id).info.experiment_id
    with tracking.child_run(experiment_id, "signal-model",
                            {tracking.STAGE_TAG: "signal-model", tag.EVIDENCE_FOR: run.run_id}) as signal_run:
        model_id = tracking.log_signal_model(booster, spec, admit=admit_served)
    return SignalModelRef(model_id, signal_run.info.run_id)


def warn_no_signal_model(model_name: str, version: str, why: str) -> None:
    """Say, in a warning, why a promoted version is its native model rather than the servable signal pyfunc."""
    warnings.warn(f"{model_name} version {version}: registered as its native model, not the servable signal "
                  f"pyfunc: {why}", stacklevel=3)

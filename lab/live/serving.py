"""The champion as a signal model: minutes in, one decision per completed 5-minute bar out.

:func:`signals_from_minutes` is the pure computation; :class:`lab.tracking.pyfunc.SignalModel`
wraps it as an MLflow pyfunc (logging and registration go through
:func:`lab.tracking.log_signal_model`), so nothing here imports MLflow. The native LightGBM/XGBoost model travels as an
artifact in its own file format, the settings as a JSON artifact (:class:`SignalSpec`); nothing of
ours is pickled but the empty :class:`SignalModel` instance.

Input (one row a minute, in time order): ``time`` (ISO 8601 with offset, the minute's start),
``open``, ``high``, ``low``, ``close`` (points), ``volume`` (contracts, integer). Output (one row per completed
regular-session bar): ``time`` (the bar's start, ISO 8601 in New York), ``probability``,
``side``, ``contracts``, ``stopped_by`` (see :mod:`lab.live.signal`). The first
``warmup_bars`` bars of the window only form the indicators (``stopped_by = "warmup"``): send
at least that much history before the bars you want decided.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lab.config import BreakoutConfig, MeanReversionConfig, RulesConfig, StrategyConfig
from lab.data.rolls import back_adjust, detect_rolls
from lab.errors import DataError
from lab.features.custom import custom_sources_digest
from lab.live.features import LiveBar
from lab.live.signal import BarRule, Decision, LiveInputs
from lab.market.sessions import regular_sessions
from lab.strategies.direction import long_only_for_target
from lab.strategies.registry import get_strategy

__all__ = ["SignalSpec", "LiveSignaler", "signals_from_minutes", "example_minutes", "INPUT_COLUMNS",
           "OUTPUT_COLUMNS", "BOOSTER_FILES", "single_row_predictor"]

INPUT_COLUMNS = ("time", "open", "high", "low", "close", "volume")
OUTPUT_COLUMNS = ("time", "probability", "side", "contracts", "stopped_by")
BOOSTER_FILES = {"lightgbm": "booster.txt", "xgboost": "booster.json"}
NY = "America/New_York"


#: Sessions a served window must span for a contract switch to be looked for in it: the detector
#: (:func:`lab.data.rolls.detect_rolls`) judges a break's jump against the window's ordinary break
#: jumps, and a few of them say too little to tell a switch from a night's move.
ROLL_WINDOW_SESSIONS = 20


@dataclass(frozen=True)
class SignalSpec:
    """What the signal model needs besides the booster (stored as ``signal_spec.json``)."""

    engine: str  # "lightgbm" or "xgboost"
    features: tuple[str, ...]  # the model's inputs, in training order
    target: str = "target_6bar"
    calendar: str = "XNYS"
    bar_minutes: int = 5
    warmup_bars: int = 200
    optional_sets: tuple[str, ...] = ()
    rules: dict[str, Any] = field(default_factory=lambda: dataclasses.asdict(RulesConfig()))
    #: The strategy the champion trades (``dataclasses.asdict`` of :class:`lab.config.settings.StrategyConfig`).
    strategy: dict[str, Any] = field(default_factory=lambda: dataclasses.asdict(StrategyConfig()))
    #: ``[features] custom`` entries the model's non-built-in inputs come from (importable where it is served).
    custom: tuple[str, ...] = ()
    #: Their modules' source digests at promotion (:func:`lab.features.custom.custom_sources_digest`).
    custom_sources: dict[str, str] = field(default_factory=dict)
    #: The registered model ``lab promote`` registered it under and the tune run the gate judged: where it is
    #: loaded, the gate's record is asked whether this run is what an alias of that model was promoted to.
    model_name: str = ""
    run_id: str = ""
    #: ``[data] instrument``, ``[data] roll_adjust`` and the tick size of the champion's data: under
    #: ``"back"`` a window of more than :data:`ROLL_WINDOW_SESSIONS` sessions that holds a contract
    #: switch is back-adjusted across it before it is replayed, as featurize adjusted the data the
    #: model learnt from (``"none"``, or a shorter window: as sent).
    instrument: str = ""
    roll_adjust: str = "none"
    tick_size: float = 0.25

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "SignalSpec":
        raw = json.loads(text)
        if "strategy" not in raw and raw.get("target") == "target_vol":
            raise DataError("signal_spec.json of a target_vol model names no strategy (written before strategies were "
                            "served): re-promote the model so its spec records the strategy its backtest ran")
        return cls(**{**raw, "features": tuple(raw["features"]), "optional_sets": tuple(raw["optional_sets"]),
                      "custom": tuple(raw.get("custom", ()))})

    @property
    def rules_config(self) -> RulesConfig:
        return RulesConfig(**self.rules)

    @property
    def strategy_config(self) -> StrategyConfig:
        raw = self.strategy
        strategy = StrategyConfig(name=raw["name"], breakout=BreakoutConfig(**raw["breakout"]),
                                  mean_reversion=MeanReversionConfig(**raw["mean_reversion"]))
        strategy.validate()
        return strategy


def load_booster(engine: str, path: str | Path) -> Any:
    """A native booster from its own file format (LightGBM text, XGBoost JSON)."""
    if engine == "lightgbm":
        import lightgbm  # heavy: the boosting library

        return lightgbm.Booster(model_file=str(path))
    import xgboost  # heavy: the boosting library

    booster = xgboost.Booster()
    booster.load_model(str(path))
    return booster


class LiveSignaler:
    """Features -> probability -> decision, one minute at a time (the live hot path).

    Parameters
    ----------
    booster : lightgbm.Booster or xgboost.Booster
    spec : SignalSpec
    sessions : DataFrame
        Regular sessions covering the stream (:func:`lab.market.sessions.regular_sessions`).
    """

    def __init__(self, booster: Any, spec: SignalSpec, sessions: pd.DataFrame) -> None:
        strategy = spec.strategy_config
        wanted = get_strategy(strategy.name).targets
        if spec.target not in wanted:
            raise DataError(f"the signal model predicts {spec.target} but its spec trades the {strategy.name} strategy, "
                            f"which needs a model of {', '.join(wanted)}")
        self.rule = BarRule(strategy, spec.rules_config, spec.bar_minutes, long_only_for_target(spec.target))
        if spec.custom:
            now = custom_sources_digest(spec.custom)
            changed = [entry for entry, digest in spec.custom_sources.items() if now.get(entry) != digest]
            if changed:
                raise DataError(f"custom feature module(s) of {changed} changed since the model was promoted: its "
                                "inputs would no longer be the features it was trained on; restore the code or "
                                "re-featurize, re-tune and promote again")
        self.inputs = LiveInputs(self.rule, sessions, spec.bar_minutes, spec.optional_sets, spec.features,
                                 spec.custom, spec.warmup_bars)
        self.spec = spec
        self.rules = spec.rules_config
        self.bars_seen = 0
        self._predict = single_row_predictor(booster)

    def on_minute(self, time_ns: int, open_: float, high: float, low: float, close: float, volume: float
                  ) -> list[tuple[LiveBar, Decision]]:
        """Feed one minute; the decisions of the bars it completed."""
        return [self._decide(bar, row) for bar, row in self.inputs.update(time_ns, open_, high, low, close, volume)]

    def flush(self) -> list[tuple[LiveBar, Decision]]:
        return [self._decide(bar, row) for bar, row in self.inputs.flush()]

    def _decide(self, bar: LiveBar, row: np.ndarray) -> tuple[LiveBar, Decision]:
        self.bars_seen += 1
        probability = float("nan")
        if self.bars_seen > self.spec.warmup_bars:  # NaN inputs are missing values, as in the batch prediction
            probability = self._predict(row[self.inputs.model_columns])
        values = tuple(row[self.inputs.strategy_columns].tolist())
        return bar, self.rule(probability, bar.start_ns, bar.session_close_ns, values).decision


def single_row_predictor(booster: Any):
    """A function ``row (n_features,) -> P(class 1)`` with the booster's best iteration, as
    :func:`lab.models.boosters.predict_proba` computes it, on one thread: one row gains nothing from a
    thread pool, and on a loaded machine waking one costs tens of milliseconds."""
    import lightgbm as lgb  # heavy: the boosting library

    if isinstance(booster, lgb.Booster):
        best = booster.best_iteration if booster.best_iteration > 0 else None
        return lambda row: float(booster.predict(row.reshape(1, -1), num_iteration=best, num_threads=1)[0])
    rounds = booster.num_boosted_rounds()
    attr = booster.attr("best_iteration")
    end = min(int(attr) + 1, rounds) if attr is not None else rounds
    booster.set_param({"nthread": 1})
    return lambda row: float(booster.inplace_predict(row.reshape(1, -1), iteration_range=(0, end))[0])


def signals_from_minutes(minutes: pd.DataFrame, booster: Any, spec: SignalSpec) -> pd.DataFrame:
    """Replay a window of minutes and decide every completed regular-session bar.

    Parameters
    ----------
    minutes : DataFrame
        Columns :data:`INPUT_COLUMNS`; ``time`` as ISO 8601 strings with offset (or tz-aware).
    booster, spec
        The native model and its :class:`SignalSpec`.

    Returns
    -------
    DataFrame
        Columns :data:`OUTPUT_COLUMNS`, one row per completed bar.
    """
    missing = [c for c in INPUT_COLUMNS if c not in minutes.columns]
    if missing:
        raise DataError(f"signal model input lacks column(s) {missing}; send {list(INPUT_COLUMNS)}, one row a minute")
    if len(minutes) == 0:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(OUTPUT_COLUMNS, ("str", "float64", "str", "int64", "str"))})
    try:
        stamps = pd.DatetimeIndex(pd.to_datetime(minutes["time"], utc=True)).as_unit("ns")
    except (ValueError, TypeError) as exc:
        raise DataError(f"signal model input column 'time' must be ISO 8601 with an offset: {exc}") from None

    local = stamps.tz_convert(NY)
    sessions = regular_sessions(spec.calendar, local[0].date() - dt.timedelta(days=1), local[-1].date())
    signaler = LiveSignaler(booster, spec, sessions)
    ns = stamps.asi8
    frame = pd.DataFrame({c: minutes[c].to_numpy(np.float64) for c in ("open", "high", "low", "close", "volume")},
                         index=local)
    if spec.roll_adjust == "back" and spec.instrument and len(sessions) > ROLL_WINDOW_SESSIONS:
        # the prices featurize gave the model: shifted across a switch the window holds
        frame = back_adjust(frame, detect_rolls(frame, spec.instrument, spec.calendar, spec.tick_size))
    prices = [frame[c].to_numpy() for c in ("open", "high", "low", "close", "volume")]
    results: list[tuple[LiveBar, Decision]] = []
    for i in range(len(ns)):
        results.extend(signaler.on_minute(int(ns[i]), *(p[i] for p in prices)))
    results.extend(signaler.flush())
    times = pd.DatetimeIndex(np.array([b.start_ns for b, _ in results], "datetime64[ns]")).tz_localize("UTC").tz_convert(NY)
    return pd.DataFrame({
        "time": [t.isoformat() for t in times],
        "probability": np.array([d.probability for _, d in results], dtype=np.float64),
        "side": [d.side for _, d in results],
        "contracts": np.array([d.contracts for _, d in results], dtype=np.int64),
        "stopped_by": [d.stopped_by for _, d in results],
    })


def example_minutes(minutes: int = 10, start: str = "2023-01-03 09:30") -> pd.DataFrame:
    """A tiny, deterministic input example (flat prices) documenting the input schema."""
    stamps = pd.date_range(pd.Timestamp(start, tz=NY), periods=minutes, freq="min")
    price = 4000.0 + 0.25 * np.arange(minutes)
    return pd.DataFrame({"time": [t.isoformat() for t in stamps], "open": price, "high": price + 0.5,
                         "low": price - 0.5, "close": price + 0.25, "volume": np.full(minutes, 100, dtype=np.int64)})

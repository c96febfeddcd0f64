"""The configuration contract: ``lab.toml`` loaded into frozen, validated, typed objects.

One frozen dataclass per concern. :func:`load_config` is the only reader (through the TOML reader
of :mod:`lab.configfile`, shared with `jobs/schedule.toml`); it rejects unknown
sections and keys, wrong types and out-of-range values with a message that names the key, the
value received and the fix. :meth:`LabConfig.flat` gives the flattened ``section.key`` view
that runs log as parameters.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from lab.config.locate import caller_dir, locate_config
from lab.config.parsing import DateRange, build, flatten, read_toml
from lab.errors import ConfigError
from lab.market.instruments import Instrument, get_instrument
from lab.rules import LIMIT_FILLS

__all__ = [
    "DataConfig",
    "WindowsConfig",
    "SessionConfig",
    "FeaturesConfig",
    "TargetsConfig",
    "CostsConfig",
    "RulesConfig",
    "BreakoutConfig",
    "MeanReversionConfig",
    "StrategyConfig",
    "ModelConfig",
    "TuneConfig",
    "WalkForwardConfig",
    "PromotionConfig",
    "CriteriaConfig",
    "LabConfig",
    "DateRange",
    "load_config",
    "load_lab_config",
    "DEFAULT_CONFIG_PATH",
    "TARGET_NAMES",
]

DEFAULT_CONFIG_PATH = Path("lab.toml")

#: Every target featurize produces, by the names the rest of the lab uses.
TARGET_NAMES = ("target_3bar", "target_6bar", "target_12bar", "target_vol", "target_trade")


@dataclass(frozen=True)
class DataConfig:
    path: str = ""  # empty: generate the synthetic default into data/raw/
    timezone: str = "America/New_York"  # how naive stamps in the file are read
    instrument: str = "MES"
    on_bad_rows: str = "error"  # "error" or "drop"
    max_bad_share: float = 0.01  # "drop" refuses to drop more than this share of the rows (a misread file)
    on_bad_sessions: str = "warn"  # sessions the data doctor flags: "warn" (keep) or "drop"
    # contract switches of a continuous file: "back" shifts every minute before each switch by its
    # gap (backward difference adjustment), "none" keeps the jump (lab/data/rolls.py)
    roll_adjust: str = "back"
    # a folder (or zip) of per-contract files switches "schedule" (the instrument's roll date) or
    # "volume" (the first session the next contract trades more) (lab/data/contracts.py)
    roll_rule: str = "schedule"
    synthetic_seed: int = 20190501
    synthetic_start: dt.date = dt.date(2019, 5, 1)
    synthetic_end: dt.date = dt.date(2025, 12, 31)
    synthetic_edge_auc: float = 0.0  # planted target_6bar AUC of the synthetic default; 0: no edge

    def validate(self) -> None:
        get_instrument(self.instrument)
        _check_choice("data.on_bad_rows", self.on_bad_rows, ("error", "drop"))
        if not 0.0 <= self.max_bad_share <= 1.0:
            raise ConfigError(f"[data] max_bad_share = {self.max_bad_share} must lie in [0, 1] (a share of the rows; "
                              "0.01 drops at most 1 % of them)")
        _check_choice("data.on_bad_sessions", self.on_bad_sessions, ("warn", "drop"))
        _check_choice("data.roll_adjust", self.roll_adjust, ("none", "back"))
        _check_choice("data.roll_rule", self.roll_rule, ("schedule", "volume"))
        _check_timezone("data.timezone", self.timezone)
        if self.synthetic_end <= self.synthetic_start:
            raise ConfigError(
                f"[data] synthetic_end ({self.synthetic_end}) must be after synthetic_start "
                f"({self.synthetic_start})"
            )
        # The generator refuses an edge above what its mechanism can plant (lab.data.synth.MAX_EDGE_AUC).
        if self.synthetic_edge_auc not in (0.0, 0.5) and not 0.5 < self.synthetic_edge_auc < 1.0:
            raise ConfigError(f"[data] synthetic_edge_auc = {self.synthetic_edge_auc} must be 0 (no edge) or "
                              f"between 0.5 and 1; e.g. 0.56")


@dataclass(frozen=True)
class WindowsConfig:
    train: DateRange = DateRange(dt.date(2019, 5, 1), dt.date(2022, 12, 31))
    validation: DateRange = DateRange(dt.date(2023, 1, 1), dt.date(2023, 12, 31))
    test: DateRange = DateRange(dt.date(2024, 1, 1), dt.date(2025, 12, 31))

    def validate(self) -> None:
        for name in ("train", "validation", "test"):
            rng = getattr(self, name)
            if rng.end < rng.start:
                raise ConfigError(f"[windows] {name} ends ({rng.end}) before it starts ({rng.start})")
        if not self.train.end < self.validation.start:
            raise ConfigError(
                f"[windows] train ({self.train}) must end before validation starts ({self.validation.start})"
            )
        if not self.validation.end < self.test.start:
            raise ConfigError(
                f"[windows] validation ({self.validation}) must end before test starts ({self.test.start})"
            )


@dataclass(frozen=True)
class SessionConfig:
    calendar: str = "XNYS"  # exchange_calendars name whose sessions define the regular session
    bar_minutes: int = 5
    warmup_bars: int = 1400  # bars dropped at the start: EMA 200 keeps (1 - 2/201)**1400 < 1e-6 of its start value

    def validate(self) -> None:
        _check_positive("session.bar_minutes", self.bar_minutes)
        if 60 % self.bar_minutes:
            raise ConfigError(f"[session] bar_minutes = {self.bar_minutes} must divide 60 (e.g. 1, 5, 15)")
        _check_positive("session.warmup_bars", self.warmup_bars, allow_zero=True)


@dataclass(frozen=True)
class FeaturesConfig:
    optional_sets: tuple[str, ...] = ()  # "breakout", "mean_reversion"
    # "package.module:function" entries: functions of the bars table adding feature columns
    # (contract in lab/custom_features.py; checked for look-ahead at featurize)
    custom: tuple[str, ...] = ()

    def validate(self) -> None:
        for name in self.optional_sets:
            _check_choice("features.optional_sets", name, ("breakout", "mean_reversion"))
        for entry in self.custom:
            check_custom_entry(entry)
        repeated = sorted({entry for entry in self.custom if self.custom.count(entry) > 1})
        if repeated:
            raise ConfigError(f"[features] custom lists {repeated} more than once; list each function once")


@dataclass(frozen=True)
class TargetsConfig:
    direction_horizons_bars: tuple[int, ...] = (3, 6, 12)
    min_move_ticks: float = 2.0  # smaller moves are not labelled (NaN)
    volatility_horizon_bars: int = 6
    volatility_lookback_bars: int = 1560  # trailing window of realised ranges (~20 sessions)
    volatility_percentile: float = 50.0  # future range above this percentile of the trailing ones -> 1

    def validate(self) -> None:
        if tuple(sorted(self.direction_horizons_bars)) != (3, 6, 12):
            raise ConfigError(
                "[targets] direction_horizons_bars must be [3, 6, 12]: the target names "
                f"target_3bar/target_6bar/target_12bar are fixed; got {list(self.direction_horizons_bars)}"
            )
        _check_positive("targets.min_move_ticks", self.min_move_ticks, allow_zero=True)
        _check_positive("targets.volatility_horizon_bars", self.volatility_horizon_bars)
        _check_positive("targets.volatility_lookback_bars", self.volatility_lookback_bars)
        if not 0.0 < self.volatility_percentile < 100.0:
            raise ConfigError(
                f"[targets] volatility_percentile = {self.volatility_percentile} must lie strictly between 0 and 100"
            )


@dataclass(frozen=True)
class CostsConfig:
    commission_per_contract_usd: float = 0.84  # per contract per round trip
    entry_slippage_ticks: float = 1.0  # against us on every entry
    exit_slippage_ticks: float = 1.0  # against us on stop, time and flatten exits (targets are limits)

    def validate(self) -> None:
        # Costs are always on: a zero is allowed only deliberately, never negative.
        _check_positive("costs.commission_per_contract_usd", self.commission_per_contract_usd, allow_zero=True)
        _check_positive("costs.entry_slippage_ticks", self.entry_slippage_ticks, allow_zero=True)
        _check_positive("costs.exit_slippage_ticks", self.exit_slippage_ticks, allow_zero=True)


@dataclass(frozen=True)
class RulesConfig:
    entry_threshold: float = 0.60  # long when P(up) >= this, short when <= 1 - this
    full_size_threshold: float = 0.70  # confidence at or above this trades full size
    half_size_contracts: int = 1
    full_size_contracts: int = 2
    max_position_contracts: int = 2
    profit_target_ticks: float = 6.0
    stop_loss_ticks: float = 8.0
    time_stop_bars: int = 6
    exit_on_opposite_signal: bool = False
    last_entry_minutes_before_close: int = 15  # 15:45 on a normal day
    flatten_minutes_before_close: int = 5  # 15:55 on a normal day
    daily_loss_limit_usd: float = 100.0
    pause_after_consecutive_losses: int = 3
    pause_minutes: int = 30
    # How the resting profit-target limit fills: "through" (a price must trade limit_through_ticks
    # ticks beyond it; a touch may leave the order in the queue) or "touch" (a price at it fills).
    limit_fill: str = "through"
    limit_through_ticks: int = 1

    def validate(self) -> None:
        if not 0.5 < self.entry_threshold <= 1.0:
            raise ConfigError(f"[rules] entry_threshold = {self.entry_threshold} must lie in (0.5, 1]")
        if not self.entry_threshold <= self.full_size_threshold <= 1.0:
            raise ConfigError(
                f"[rules] full_size_threshold = {self.full_size_threshold} must lie in "
                f"[entry_threshold ({self.entry_threshold}), 1]"
            )
        for key in ("half_size_contracts", "full_size_contracts", "max_position_contracts", "time_stop_bars"):
            _check_positive(f"rules.{key}", getattr(self, key))
        for key in ("profit_target_ticks", "stop_loss_ticks", "daily_loss_limit_usd"):
            _check_positive(f"rules.{key}", getattr(self, key))
        if self.full_size_contracts > self.max_position_contracts:
            raise ConfigError(
                f"[rules] full_size_contracts = {self.full_size_contracts} exceeds max_position_contracts "
                f"= {self.max_position_contracts}"
            )
        if self.flatten_minutes_before_close > self.last_entry_minutes_before_close:
            raise ConfigError(
                "[rules] flatten_minutes_before_close must not exceed last_entry_minutes_before_close "
                "(entries would be allowed after the flatten time)"
            )
        _check_positive("rules.pause_after_consecutive_losses", self.pause_after_consecutive_losses, allow_zero=True)
        _check_positive("rules.pause_minutes", self.pause_minutes, allow_zero=True)
        _check_choice("rules.limit_fill", self.limit_fill, LIMIT_FILLS)
        if isinstance(self.limit_through_ticks, bool) or not isinstance(self.limit_through_ticks, int) \
                or self.limit_through_ticks < 1:
            raise ConfigError(
                f"[rules] limit_through_ticks = {self.limit_through_ticks!r} must be a whole number of ticks >= 1 "
                "(1: any trade beyond the target fills it); for fills on a touch set limit_fill = \"touch\"")


@dataclass(frozen=True)
class BreakoutConfig:
    min_consolidation_score: float = 0.6  # consolidation detected at or above this score
    min_volatility_probability: float = 0.5  # volatility model must predict a high-range regime
    range_low: float = 0.35  # range position below this -> expect an upward breakout (long)
    range_high: float = 0.65  # above this -> expect a downward breakout (short)
    profit_target_ticks: float = 6.0
    stop_loss_ticks: float = 8.0
    time_stop_bars: int = 6

    def validate(self) -> None:
        _check_fraction("strategy.breakout.min_consolidation_score", self.min_consolidation_score)
        _check_fraction("strategy.breakout.min_volatility_probability", self.min_volatility_probability)
        for key in ("profit_target_ticks", "stop_loss_ticks", "time_stop_bars"):
            _check_positive(f"strategy.breakout.{key}", getattr(self, key))
        if not 0.0 <= self.range_low < self.range_high <= 1.0:
            raise ConfigError(
                f"[strategy.breakout] need 0 <= range_low < range_high <= 1; got {self.range_low}, {self.range_high}"
            )


@dataclass(frozen=True)
class MeanReversionConfig:
    max_volatility_probability: float = 0.40  # trade only when low volatility is predicted
    rsi_oversold: float = 30.0  # RSI(7) below this and price below EMA -> long
    rsi_overbought: float = 70.0  # RSI(7) above this and price above EMA -> short
    min_ema_deviation_pct: float = 0.3  # price at least this far (percent) from its EMA(21)
    skip_first_and_last_hour: bool = True
    exit_on_high_volatility: bool = True
    profit_target_ticks: float = 4.0
    stop_loss_ticks: float = 4.0
    time_stop_bars: int = 3

    def validate(self) -> None:
        _check_fraction("strategy.mean_reversion.max_volatility_probability", self.max_volatility_probability)
        _check_positive("strategy.mean_reversion.min_ema_deviation_pct", self.min_ema_deviation_pct, allow_zero=True)
        for key in ("profit_target_ticks", "stop_loss_ticks", "time_stop_bars"):
            _check_positive(f"strategy.mean_reversion.{key}", getattr(self, key))
        if not 0.0 < self.rsi_oversold < self.rsi_overbought < 100.0:
            raise ConfigError(
                "[strategy.mean_reversion] need 0 < rsi_oversold < rsi_overbought < 100; "
                f"got {self.rsi_oversold}, {self.rsi_overbought}"
            )


@dataclass(frozen=True)
class StrategyConfig:
    name: str = "direction"  # direction, breakout, mean_reversion
    breakout: BreakoutConfig = BreakoutConfig()
    mean_reversion: MeanReversionConfig = MeanReversionConfig()

    def validate(self) -> None:
        _check_choice("strategy.name", self.name, ("direction", "breakout", "mean_reversion"))
        self.breakout.validate()
        self.mean_reversion.validate()


@dataclass(frozen=True)
class ModelConfig:
    engine: str = "lightgbm"  # lightgbm or xgboost (the entry points' -P model= overrides it)
    num_leaves: int = 31
    max_depth: int = 6
    learning_rate: float = 0.05
    min_data_in_leaf: int = 100
    feature_fraction: float = 0.8
    bagging_fraction: float = 0.8
    num_boost_round: int = 1000
    early_stopping_rounds: int = 25  # same best trials as 50 on target_vol and the demo, tune in 3/4 the time
    # the validation-AUC gain that counts as a gain (AUC units): 1e-4 is 1/30 of the AUC's standard error on the
    # default validation window; the target_vol study in half the training (benchmarks/README.md)
    early_stopping_min_delta: float = 0.0001
    num_threads: int = 0  # 0: all cores
    seed: int = 42
    max_bin: int = 255  # histogram bins per feature (LightGBM max_bin, XGBoost max_bin)

    def validate(self) -> None:
        _check_choice("model.engine", self.engine, ("lightgbm", "xgboost"))
        if not 2 <= self.max_bin <= 1024:
            raise ConfigError(f"[model] max_bin = {self.max_bin} must lie in [2, 1024] (255 is the engines' default)")
        for key in ("num_leaves", "max_depth", "min_data_in_leaf", "num_boost_round", "early_stopping_rounds",
                    "learning_rate", "feature_fraction", "bagging_fraction"):
            check_model_value(key, getattr(self, key), f"[model] {key}")
        if not 0.0 <= self.early_stopping_min_delta < 0.5:
            raise ConfigError(f"[model] early_stopping_min_delta = {self.early_stopping_min_delta} must lie in [0, 0.5): "
                              "the validation-AUC gain a round needs to count as better (0: any gain; 0.0001 default)")


@dataclass(frozen=True)
class TuneConfig:
    sampler: str = "grid"  # grid or tpe
    trials: int = 0  # 0: the whole grid (grid sampler); the trial budget for tpe
    study_name: str = ""  # empty: derived from target, engine and dataset digest
    storage: str = ""  # empty: a local journal file under .lab/optuna; or postgresql://...
    workers: int = 0  # processes training trials in parallel (1 thread each); 0: one per core
    num_leaves: tuple[int, ...] = (15, 31, 63)
    max_depth: tuple[int, ...] = (4, 6, 8)
    learning_rate: tuple[float, ...] = (0.01, 0.05, 0.1)
    min_data_in_leaf: tuple[int, ...] = (50, 100, 200)

    def validate(self) -> None:
        _check_choice("tune.sampler", self.sampler, ("grid", "tpe"))
        _check_positive("tune.trials", self.trials, allow_zero=True)
        _check_positive("tune.workers", self.workers, allow_zero=True)
        for key in ("num_leaves", "max_depth", "learning_rate", "min_data_in_leaf"):
            if not getattr(self, key):
                raise ConfigError(f"[tune] {key} must list at least one value")
            for value in getattr(self, key):
                check_model_value(key, value, f"[tune] {key} value")


@dataclass(frozen=True)
class WalkForwardConfig:
    mode: str = "expanding"  # expanding or rolling
    min_train_months: int = 12
    rolling_train_months: int = 12
    validation_months: int = 1
    max_folds: int = 0  # 0: every month after the first training span

    def validate(self) -> None:
        _check_choice("walk_forward.mode", self.mode, ("expanding", "rolling"))
        _check_positive("walk_forward.min_train_months", self.min_train_months)
        _check_positive("walk_forward.rolling_train_months", self.rolling_train_months)
        _check_positive("walk_forward.validation_months", self.validation_months)
        _check_positive("walk_forward.max_folds", self.max_folds, allow_zero=True)


@dataclass(frozen=True)
class PromotionConfig:
    model_name: str = "mes-scalper"
    require_walk_forward: bool = True
    require_backtest: bool = True
    min_validation_auc: float = 0.55  # optimistic: the validation window picked the model and stopped it
    min_walk_forward_auc: float = 0.53  # out of sample: mean AUC of the walk-forward months
    min_profit_factor: float = 1.2
    min_trades_per_day: float = 3.0
    max_worst_day_loss_usd: float = 100.0
    min_deflated_sharpe_prob: float = 0.95  # P(true Sharpe > 0) after the ledger's trials; 0 turns the gate off
    max_pbo: float = 0.5  # probability of backtest overfitting of the study (CSCV); 1 turns it off
    max_spa_pvalue: float = 0.05  # Hansen's SPA of the study's best trial against no skill; 1 turns it off

    def validate(self) -> None:
        if not self.model_name.strip():
            raise ConfigError("[promotion] model_name must not be empty")
        for key in ("min_deflated_sharpe_prob", "max_pbo", "max_spa_pvalue"):
            if not 0.0 <= getattr(self, key) <= 1.0:
                raise ConfigError(f"[promotion] {key} = {getattr(self, key)} must lie in [0, 1] (a probability)")
        for key in ("min_validation_auc", "min_walk_forward_auc"):
            value = getattr(self, key)
            if not 0.5 <= value <= 1.0:
                raise ConfigError(f"[promotion] {key} = {value} must lie in [0.5, 1] (an AUC floor: 0.5 is a coin, "
                                  "1 is perfect); write e.g. 0.55")
        for key in ("min_profit_factor", "min_trades_per_day", "max_worst_day_loss_usd"):
            _check_positive(f"promotion.{key}", getattr(self, key), allow_zero=True)


@dataclass(frozen=True)
class CriteriaConfig:
    """The plan's success criteria: minimum (must have) and target (should have)."""

    min_win_rate: float = 0.55
    min_profit_factor: float = 1.2
    min_trades_per_day: float = 3.0
    max_daily_loss_usd: float = 100.0
    target_win_rate: float = 0.58
    target_profit_factor: float = 1.5
    target_trades_per_day: float = 5.0
    target_profitable_days: float = 0.60

    def validate(self) -> None:
        for key in ("min_win_rate", "target_win_rate", "target_profitable_days"):
            _check_fraction(f"criteria.{key}", getattr(self, key), "a rate")
        for key in ("min_profit_factor", "min_trades_per_day", "max_daily_loss_usd", "target_profit_factor",
                    "target_trades_per_day"):
            _check_positive(f"criteria.{key}", getattr(self, key), allow_zero=True)


@dataclass(frozen=True)
class LabConfig:
    """The whole configuration; one frozen object per concern."""

    data: DataConfig = DataConfig()
    windows: WindowsConfig = WindowsConfig()
    session: SessionConfig = SessionConfig()
    features: FeaturesConfig = FeaturesConfig()
    targets: TargetsConfig = TargetsConfig()
    costs: CostsConfig = CostsConfig()
    rules: RulesConfig = RulesConfig()
    strategy: StrategyConfig = StrategyConfig()
    model: ModelConfig = ModelConfig()
    tune: TuneConfig = TuneConfig()
    walk_forward: WalkForwardConfig = WalkForwardConfig()
    promotion: PromotionConfig = PromotionConfig()
    criteria: CriteriaConfig = CriteriaConfig()
    source: str = field(default="<defaults>", compare=False)

    @property
    def instrument(self) -> Instrument:
        return get_instrument(self.data.instrument)

    def validate(self) -> "LabConfig":
        for f in dataclasses.fields(self):
            section = getattr(self, f.name)
            if dataclasses.is_dataclass(section):
                section.validate()
        return self

    def flat(self) -> dict[str, str]:
        """Every value as ``section.key -> str``, the form logged as run parameters."""
        out: dict[str, str] = {}
        flatten("", dataclasses.asdict(self), out)
        out.pop("source", None)
        return out

    def replace(self, overrides: Mapping[str, Any]) -> "LabConfig":
        """A new config with ``{"section.key": value}`` overrides applied and validated."""
        raw = dataclasses.asdict(self)
        raw.pop("source")
        for dotted, value in overrides.items():
            node = raw
            *parents, leaf = dotted.split(".")
            for part in parents:
                if part not in node or not isinstance(node[part], dict):
                    raise ConfigError(f"unknown configuration section {dotted!r}")
                node = node[part]
            if leaf not in node:
                raise ConfigError(f"unknown configuration key {dotted!r}")
            node[leaf] = value
        return dataclasses.replace(build(LabConfig, raw, ""), source=self.source).validate()


def load_config(path: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> LabConfig:
    """Read and validate a ``lab.toml``.

    Parameters
    ----------
    path : str or Path, optional
        The TOML file (which one a command uses: :func:`lab.config.locate.locate_config`). ``None``
        means the built-in defaults.
    overrides : mapping, optional
        ``{"data.path": "...", "model.target": "target_vol"}``: applied after the file.

    Raises
    ------
    ConfigError
        The file is missing, not TOML, or holds an unknown key or a bad value.
    """
    if path is None:  # the one place where "no lab.toml" means the built-in defaults
        raw: dict[str, Any] = {}
        source = "<defaults>"
    else:
        raw = read_toml(path, "configuration file {path} does not exist; pass --config with an existing lab.toml")
        source = str(path)
    config = build(LabConfig, raw, "")
    config = dataclasses.replace(config, source=source)
    if overrides:
        config = config.replace(overrides)
    config = config.validate()
    where = caller_dir()
    if config.data.path and not Path(config.data.path).is_absolute() and (where / config.data.path).exists():
        # a relative data path means the user's folder, not the project's (a bare name found
        # nowhere there is looked up in data/raw/ by the reader's lookup)
        config = dataclasses.replace(config, data=dataclasses.replace(config.data, path=str(where / config.data.path)))
    return config


def load_lab_config(path: str | Path | None = None) -> LabConfig:
    """``--config`` of the ``lab`` commands: the file named (relative to where the user stands), or
    ``./lab.toml`` there, or the project's, or the built-in defaults (:func:`lab.config.locate.locate_config`)."""
    return load_config(locate_config(path))


_CUSTOM_ENTRY = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$")
CUSTOM_ENTRY_HOW = "write entries as \"package.module:function\", e.g. \"my_features.momentum:add_columns\""


def check_custom_entry(entry: Any) -> None:
    """Raise :class:`ConfigError` unless ``entry`` reads ``"package.module:function"`` (``[features] custom``)."""
    if not isinstance(entry, str) or not _CUSTOM_ENTRY.match(entry):
        raise ConfigError(f"[features] custom entry {entry!r} is not of the form \"package.module:function\"; "
                          f"{CUSTOM_ENTRY_HOW}")


#: The bounds of the [model] settings a [tune] grid may vary: (lowest, highest or None, lowest
#: allowed?, example). LightGBM needs 2 <= num_leaves <= 131072.
MODEL_BOUNDS: dict[str, tuple[float, float | None, bool, str]] = {
    "num_leaves": (2, 131072, True, "31"),
    "max_depth": (1, None, True, "6"),
    "min_data_in_leaf": (1, None, True, "100"),
    "num_boost_round": (1, None, True, "1000"),
    "early_stopping_rounds": (1, None, True, "25"),
    "learning_rate": (0.0, 1.0, False, "0.05"),
    "feature_fraction": (0.0, 1.0, False, "0.8"),
    "bagging_fraction": (0.0, 1.0, False, "0.8"),
}


def model_bounds_text(key: str) -> str:
    """The allowed range of a [model] setting, e.g. ``(0, 1]`` or ``[2, 131072]``."""
    low, high, closed, _ = MODEL_BOUNDS[key]
    if high is None:
        return f">= {low}"
    fmt = (lambda v: f"{v:g}") if isinstance(low, float) else str
    return f"{'[' if closed else '('}{fmt(low)}, {fmt(high)}]"


def check_model_value(key: str, value: float, where: str) -> None:
    """Refuse a [model] setting (or a [tune] grid value of it) outside the engines' range.

    ``where`` names the setting in the message, e.g. ``"[model] num_leaves"`` or ``"-P num_leaves"``.
    """
    low, high, closed, example = MODEL_BOUNDS[key]
    if not ((low <= value if closed else low < value) and (high is None or value <= high)):
        verb = "be" if high is None else "lie in"
        raise ConfigError(f"{where} = {value!r} must {verb} {model_bounds_text(key)} (the range of [model] {key}); "
                          f"write e.g. {example}")


def _check_fraction(key: str, value: float, what: str = "a probability") -> None:
    """Refuse a rate or probability outside [0, 1] (a win rate of 1.5 can never be met)."""
    if not 0.0 <= value <= 1.0:
        section, _, name = key.rpartition(".")
        raise ConfigError(f"[{section}] {name} = {value!r} must lie in [0, 1] ({what}, as a fraction); "
                          f"write e.g. 0.55 for 55 %")


def _check_choice(key: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        section, _, name = key.rpartition(".")
        raise ConfigError(f"[{section}] {name} = {value!r} is not one of {', '.join(choices)}")


def _check_positive(key: str, value: float, allow_zero: bool = False) -> None:
    if value < 0 or (value == 0 and not allow_zero):
        section, _, name = key.rpartition(".")
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigError(f"[{section}] {name} = {value!r} must be {bound}")


def _check_timezone(key: str, name: str) -> None:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        section, _, leaf = key.rpartition(".")
        raise ConfigError(
            f"[{section}] {leaf} = {name!r} is not an IANA time zone; use e.g. 'America/New_York' or 'UTC'"
        ) from None

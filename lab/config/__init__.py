"""The configuration contract: ``lab.toml`` loaded into frozen, validated, typed objects.

The face of :mod:`lab.config.settings` (the sections and the loader) over
:mod:`lab.config.parsing` (TOML to typed dataclasses).
"""

from lab.config.settings import (
    DEFAULT_CONFIG_PATH,
    TARGET_NAMES,
    BreakoutConfig,
    CostsConfig,
    CriteriaConfig,
    DataConfig,
    DateRange,
    FeaturesConfig,
    LabConfig,
    MeanReversionConfig,
    ModelConfig,
    PromotionConfig,
    RulesConfig,
    SessionConfig,
    StrategyConfig,
    TargetsConfig,
    TuneConfig,
    WalkForwardConfig,
    WindowsConfig,
    load_config,
    load_lab_config,
)

__all__ = [
    "DEFAULT_CONFIG_PATH", "TARGET_NAMES", "BreakoutConfig", "CostsConfig", "CriteriaConfig", "DataConfig",
    "DateRange", "FeaturesConfig", "LabConfig", "MeanReversionConfig", "ModelConfig", "PromotionConfig",
    "RulesConfig", "SessionConfig", "StrategyConfig", "TargetsConfig", "TuneConfig", "WalkForwardConfig",
    "WindowsConfig", "load_config", "load_lab_config",
]

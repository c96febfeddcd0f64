"""What the downstream jobs share about the champion: its strategy must be one its model feeds."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from jobs.champion import check_strategy_model, promoted_rules
from lab.config import LabConfig
from lab.errors import LabError


def test_check_strategy_model_refuses_a_model_that_does_not_feed_the_strategy():
    check_strategy_model("direction", "target_6bar", "backtest run abc")
    check_strategy_model("mean_reversion", "target_vol", "backtest run abc")
    with pytest.raises(LabError, match=r"predicts target_vol but trades the direction strategy \(from backtest run abc\), "
                                       r"which needs a model of target_3bar, target_6bar, target_12bar, target_trade"):
        check_strategy_model("direction", "target_vol", "backtest run abc")
    with pytest.raises(LabError, match="strategy 'momentum' is not one of direction, breakout, mean_reversion"):
        check_strategy_model("momentum", "target_vol", "lab.toml")


def test_promoted_rules_keep_the_configuration_of_a_champion_without_backtest_evidence():
    config = LabConfig()
    champion = SimpleNamespace(tags={})
    assert promoted_rules(config, champion) == (config, "lab.toml (the champion has no backtest evidence)")

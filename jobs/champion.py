"""The champion a downstream job acts on: its registered version, the trading settings it was
promoted with, and the check that its model feeds its strategy (final-eval and paper share them)."""

from __future__ import annotations

import json

from lab import tracking
from lab import tags as tag
from lab.config import LabConfig
from lab.errors import LabError
from lab.strategies import get_strategy
from registry.champion import gate_version
from registry.evidence import with_trading_settings

__all__ = ["champion_version", "promoted_rules", "check_strategy_model"]


def champion_version(config: LabConfig):
    """The registered version behind the alias ``champion``, when the gate put it there.

    Raises
    ------
    registry.champion.ChampionError
        No champion, or an alias moved outside ``lab promote`` (named, with the fix).
    """
    return gate_version(config.promotion.model_name, "champion")


def promoted_rules(config: LabConfig, champion) -> tuple[LabConfig, str]:
    """The config with rules, costs and strategy as the champion's validation backtest ran them."""
    evidence = json.loads(champion.tags.get(tag.EVIDENCE_RUNS, "{}") or "{}")
    backtest_run = evidence.get("backtest")
    if not backtest_run:
        return config, "lab.toml (the champion has no backtest evidence)"
    return with_trading_settings(config, tracking.get_run(backtest_run).data.params), f"backtest run {backtest_run}"


def check_strategy_model(strategy: str, target: str, rules_source: str) -> None:
    """Refuse a champion whose target does not feed its strategy (:attr:`lab.strategies.Strategy.targets`).

    Raises
    ------
    LabError
    """
    wanted = get_strategy(strategy).targets
    if target not in wanted:
        raise LabError(f"the champion predicts {target} but trades the {strategy} strategy (from {rules_source}), "
                       f"which needs a model of {', '.join(wanted)}; promote a model whose validation backtest "
                       "ran that strategy")

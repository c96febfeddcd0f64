"""Statistics of a study, not of one run: deflated Sharpe, probability of backtest overfitting, SPA.

Pure functions of arrays (no MLflow, no paths). :mod:`registry.deflated` feeds them the records
of the trial ledger; :mod:`registry.gate` applies the ``[promotion]`` thresholds to their values.
"""

from lab.stats.deflated_sharpe import (deflated_sharpe_ratio, expected_max_sharpe, null_sharpe_variance,
                                       probabilistic_sharpe_ratio, sharpe_moments, StudyDSR, study_deflated_sharpe)
from lab.stats.pbo import PBOResult, logit_histogram_figure, probability_of_backtest_overfitting
from lab.stats.performance import period_auc, week_starts
from lab.stats.spa import default_block_size, long_run_std, spa_pvalue

__all__ = [
    "deflated_sharpe_ratio",
    "expected_max_sharpe",
    "null_sharpe_variance",
    "probabilistic_sharpe_ratio",
    "sharpe_moments",
    "StudyDSR",
    "study_deflated_sharpe",
    "PBOResult",
    "probability_of_backtest_overfitting",
    "logit_histogram_figure",
    "period_auc",
    "week_starts",
    "default_block_size",
    "long_run_std",
    "spa_pvalue",
]

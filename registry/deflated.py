"""The deflated statistics fed from records: the trial ledger for the Sharpe, the study for PBO and SPA.

* **Deflated Sharpe** of a validation backtest (metric ``deflated_sharpe_prob``): its daily Sharpe
  (``sharpe_ratio`` / sqrt(252)), ``sessions``, ``daily_pnl_skewness`` and ``daily_pnl_kurtosis``
  (non-excess), deflated by N = the ledger's count of evaluations on that market's validation
  window and V = the variance of the daily Sharpe ratios of the ledger's runs that have one (the
  backtests). V is floored at ``1 / (T - 1)``, the spread estimation noise alone gives trials of
  true Sharpe 0: most of the N trials are tune trials with no Sharpe of their own, and a few
  correlated backtest variants would otherwise claim the trials hardly differ. Computed by the
  backtest job when it ends, and again by the gate when promoting (the ledger has grown since).
* **PBO** (CSCV, 16 blocks, score = mean) and **SPA** (consistent p-value against AUC 0.5,
  studentized, stationary bootstrap, 1,000 replications) over the tune study's trials, on a
  matrix of per-week validation AUC (weeks x trials; weeks where AUC is undefined dropped).
  The trials are not backtested, so weekly AUC is their per-period performance. Computed by the
  tune job over every completed trial of the study (``pbo``, ``spa_pvalue``,
  ``pbo_logits.png``, ``validation_weekly_auc.csv``); the gate reads them from the candidate.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd

from lab.stats.requirements import study_statistics_cause
from lab.stats import (deflated_sharpe_ratio, expected_max_sharpe, logit_histogram_figure, null_sharpe_variance,
                       probability_of_backtest_overfitting, spa_pvalue)

__all__ = ["LedgerFacts", "ledger_facts", "ledger_facts_of_run", "backtest_dsr", "daily_moments",
           "study_statistics", "log_backtest_statistics", "log_study_statistics", "PBO_BLOCKS", "SPA_REPS",
           "AUC_BENCHMARK"]

PBO_BLOCKS = 16
SPA_REPS = 1000
AUC_BENCHMARK = 0.5
#: Sessions a year by which ``sharpe_ratio`` is annualised (``lab.backtest.metrics.TRADING_DAYS_PER_YEAR``;
#: not imported, which would load the backtest engine into every ``lab promote``).
TRADING_DAYS_PER_YEAR = 252


@dataclass(frozen=True)
class LedgerFacts:
    """What the ledger says about one market's validation window.

    Attributes
    ----------
    market, window : str
    n_trials : int
        Evaluations counted (0: the evidence is not in the ledger; ``note`` says why).
    trial_sharpes : tuple of float
        Daily (per-session) Sharpe ratios of the recorded runs that have one.
    note : str
    """

    market: str
    window: str
    n_trials: int
    trial_sharpes: tuple[float, ...] = field(default_factory=tuple)
    note: str = ""


def ledger_facts(market: str, window: str) -> LedgerFacts:
    """Read the ledger for ``market`` and ``window`` (every experiment of the store)."""
    from registry.ledger import entries

    records = entries(market, window)
    sharpes = tuple(float(e.metrics["sharpe_ratio"]) / math.sqrt(TRADING_DAYS_PER_YEAR) for e in records
                    if math.isfinite(float(e.metrics.get("sharpe_ratio", math.nan))))
    return LedgerFacts(market, window, sum(e.trials for e in records), sharpes)


def ledger_facts_of_run(run_id: str, tags: Mapping[str, str]) -> LedgerFacts:
    """The ledger facts for the market and window a run is recorded under (its ``lab.ledger.*`` tags)."""
    from registry.ledger import MARKET_TAG, WINDOW_TAG

    market, window = tags.get(MARKET_TAG, ""), tags.get(WINDOW_TAG, "")
    if not market or not window:
        return LedgerFacts(market, window, 0, (), f"run {run_id} carries no {MARKET_TAG}/{WINDOW_TAG} tags (made "
                                                  "before the trial ledger); re-run the backtest to record it")
    return ledger_facts(market, window)


def daily_moments(daily: pd.Series | np.ndarray) -> dict[str, float]:
    """``daily_pnl_skewness`` and ``daily_pnl_kurtosis`` (non-excess, normal = 3) of the daily P&L, every session counted."""
    values = np.asarray(daily, dtype=np.float64)
    if len(values) < 2:
        return {"daily_pnl_skewness": math.nan, "daily_pnl_kurtosis": math.nan}
    from lab.stats import sharpe_moments

    moments = sharpe_moments(values)
    return {"daily_pnl_skewness": moments["skewness"], "daily_pnl_kurtosis": moments["kurtosis"]}


def backtest_dsr(metrics: Mapping[str, float], facts: LedgerFacts) -> tuple[float | None, str]:
    """Deflated Sharpe probability of a backtest from its metrics and the ledger: ``(value or None, note)``.

    Parameters
    ----------
    metrics : mapping
        The backtest's ``sharpe_ratio`` (annualised by sqrt(252)), ``sessions``,
        ``daily_pnl_skewness``, ``daily_pnl_kurtosis``.
    facts : LedgerFacts
        N (``n_trials``) and the trials' daily Sharpe ratios.
    """
    if facts.n_trials < 1:
        return None, facts.note or f"the ledger counts no trial on {facts.market} {facts.window}"
    needed = ("sharpe_ratio", "sessions", "daily_pnl_skewness", "daily_pnl_kurtosis")
    missing = [k for k in needed if not math.isfinite(float(metrics.get(k, math.nan)))]
    if missing:
        return None, f"the backtest has no finite {', '.join(missing)} (no trades, or made before the lab logged them)"
    sharpe = float(metrics["sharpe_ratio"]) / math.sqrt(TRADING_DAYS_PER_YEAR)
    periods = int(metrics["sessions"])
    if periods < 2:
        return None, f"the backtest spans {periods} session(s); a Sharpe ratio needs at least 2"
    measured = float(np.var(facts.trial_sharpes, ddof=1)) if len(facts.trial_sharpes) > 1 else 0.0
    variance = max(measured, null_sharpe_variance(periods))
    value = deflated_sharpe_ratio(sharpe, periods, facts.n_trials, variance,
                                  skewness=float(metrics["daily_pnl_skewness"]),
                                  kurtosis=float(metrics["daily_pnl_kurtosis"]))
    note = (f"N={facts.n_trials} trials on {facts.market} {facts.window}, daily SR {sharpe:.4f} vs expected max "
            f"{expected_max_sharpe(facts.n_trials, variance):.4f} (V={variance:.3g} from {len(facts.trial_sharpes)} Sharpe(s))")
    return value, note


def study_statistics(weekly_auc: pd.DataFrame, *, seed: int = 0) -> dict[str, object]:
    """PBO and SPA p-value of a study from its (weeks x trials) validation AUC; weeks with a NaN are dropped.

    Returns ``{"pbo", "spa_pvalue", "study_weeks", "study_trials", "result"}`` (``result``: the
    :class:`lab.stats.PBOResult`, None with fewer than 2 trials or weeks; the values NaN then).
    """
    matrix = weekly_auc.dropna(axis=0, how="any").to_numpy(dtype=np.float64)
    out: dict[str, object] = {"pbo": math.nan, "spa_pvalue": math.nan, "study_weeks": int(matrix.shape[0]),
                              "study_trials": int(matrix.shape[1]), "result": None}
    if matrix.shape[0] >= 3 and matrix.shape[1] >= 1:
        out["spa_pvalue"] = spa_pvalue(matrix, AUC_BENCHMARK, reps=SPA_REPS, seed=seed)
    if matrix.shape[0] >= 2 and matrix.shape[1] >= 2:
        result = probability_of_backtest_overfitting(matrix, blocks=PBO_BLOCKS, statistic="mean")
        out["pbo"], out["result"] = result.pbo, result
    return out


def log_backtest_statistics(config, metrics: Mapping[str, float], market: str) -> dict[str, float]:
    """On the active backtest run: ``trials_on_validation`` and ``deflated_sharpe_prob`` (ledger as it stands)."""
    from lab import tracking
    from registry.ledger import TRIALS_METRIC, window_key

    facts = ledger_facts(market, window_key(config))
    value, note = backtest_dsr(metrics, facts)
    logged = {TRIALS_METRIC: float(facts.n_trials), "deflated_sharpe_prob": math.nan if value is None else value}
    tracking.log_metrics(logged)
    print(f"  trial ledger: {facts.n_trials} evaluations on {facts.market} {facts.window}; deflated Sharpe "
          f"probability {'n/a' if value is None else f'{value:.3f}'} ({note})")
    return logged


def log_study_statistics(weekly_auc: pd.DataFrame, seed: int = 0) -> dict[str, float]:
    """On the active tune run: ``pbo``, ``spa_pvalue``, the logit histogram and the weekly AUC matrix."""
    from lab import tracking

    stats = study_statistics(weekly_auc, seed=seed)
    tracking.log_table(weekly_auc, "validation_weekly_auc.csv", index=True)
    if stats["result"] is not None:
        tracking.log_figure(logit_histogram_figure(stats["result"], "CSCV over the study's trials (weekly validation AUC)"),
                            "pbo_logits.png")
    logged = {k: float(stats[k]) for k in ("pbo", "spa_pvalue", "study_weeks", "study_trials")}
    tracking.log_metrics(logged)
    print(f"  study: PBO {logged['pbo']:.3f}, SPA p-value {logged['spa_pvalue']:.3f} over {int(logged['study_trials'])} "
          f"trials x {int(logged['study_weeks'])} weeks of validation AUC")
    for name in ("spa_pvalue", "pbo"):  # one line each on why a statistic is missing: the gate will refuse
        if not math.isfinite(logged[name]):
            cause = study_statistics_cause(name, logged["study_weeks"], logged["study_trials"])
            print(f"tune: WARNING: {name} not measured: {cause}", file=sys.stderr)
    return logged

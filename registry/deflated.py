"""The deflated statistics fed from records: the trial ledger for the Sharpe, the study for PBO and SPA.

* **Deflated Sharpe** of a validation backtest (metric ``deflated_sharpe_prob``): its daily Sharpe
  (``sharpe_ratio`` / sqrt(252)), ``sessions``, ``daily_pnl_skewness`` and ``daily_pnl_kurtosis``
  (non-excess), deflated by N = the ledger's count of evaluations on that market's validation
  window and V = the variance of the daily Sharpe ratios of the ledger's runs that have one (the
  backtests). V is floored at ``1 / (T - 1)``, the spread estimation noise alone gives trials of
  true Sharpe 0: most of the N trials are tune trials with no Sharpe of their own, and a few
  correlated backtest variants would otherwise claim the trials hardly differ. Computed by the
  backtest job when it ends, and again by the gate when promoting (the ledger has grown since).
  When the candidate's tune study measured its trials' daily P&L, V is instead that study's
  ``trial_sharpe_variance`` (the variance of its trials' daily Sharpe ratios, the paper's V).
* **The study's statistics** (:func:`study_statistics`), by their papers, on the tune study's P&L
  matrix (``study/trial_daily_pnl.csv``: validation sessions x trials, USD net of costs, 0 on a
  day without trades; every trial backtested, :mod:`lab.study.trial_pnl`):

  - ``pbo``: CSCV (Bailey, Borwein, Lopez de Prado and Zhu 2015) with S = 16 blocks of
    consecutive sessions on each trial's daily Sharpe, logit <= 0 counted as overfit; the
    earliest ``T mod 16`` sessions are dropped to make equal blocks (``pbo_sessions_used``).
  - ``spa_pvalue``: Hansen's (2005) consistent SPA p-value of the trials' daily P&L against 0,
    studentized by one fixed omega per trial, stationary bootstrap (1,000 replications, mean
    block ``T^(1/3)`` sessions: ``spa_reps``, ``spa_block_length``).
  - ``deflated_sharpe_prob``: the best trial's daily Sharpe (highest of the matrix) deflated with
    N = the trial ledger's count (``deflated_sharpe_trials``) and V = the variance of the
    trials' daily Sharpes (``trial_sharpe_variance``), skewness and non-excess kurtosis of that
    trial's daily P&L.
  - ``pbo_auc``: secondary, CSCV on the trials' weekly validation AUC (score = mean), with its
    picture ``pbo_auc_logits.png``; the gate does not use it.

  A study whose trials earned one and the same P&L (all one model, or no trades at all:
  ``study_distinct_trials`` <= 1) measures nothing: its PBO is 1 and the gate says why.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd

from lab import tracking
from lab.stats import (
    default_block_size,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    logit_histogram_figure,
    null_sharpe_variance,
    probability_of_backtest_overfitting,
    sharpe_moments,
    spa_pvalue,
    study_deflated_sharpe,
)
from lab.stats.requirements import study_statistics_cause
from registry.ledger import MARKET_TAG, TRIALS_METRIC, WINDOW_TAG, entries, window_key

__all__ = ["LedgerFacts", "ledger_facts", "ledger_facts_of_run", "backtest_dsr", "daily_moments",
           "study_statistics", "auc_pbo", "one_strategy_sentence", "log_backtest_statistics", "log_study_statistics",
           "PBO_BLOCKS", "SPA_REPS", "STUDY_METRICS"]

PBO_BLOCKS = 16
SPA_REPS = 1000
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
    records = entries(market, window)
    sharpes = tuple(float(e.metrics["sharpe_ratio"]) / math.sqrt(TRADING_DAYS_PER_YEAR) for e in records
                    if math.isfinite(float(e.metrics.get("sharpe_ratio", math.nan))))
    return LedgerFacts(market, window, sum(e.trials for e in records), sharpes)


def ledger_facts_of_run(run_id: str, tags: Mapping[str, str]) -> LedgerFacts:
    """The ledger facts for the market and window a run is recorded under (its ``lab.ledger.*`` tags)."""
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

    moments = sharpe_moments(values)
    return {"daily_pnl_skewness": moments["skewness"], "daily_pnl_kurtosis": moments["kurtosis"]}


def backtest_dsr(metrics: Mapping[str, float], facts: LedgerFacts,
                 trial_variance: float | None = None) -> tuple[float | None, str]:
    """Deflated Sharpe probability of a backtest from its metrics and the ledger: ``(value or None, note)``.

    Parameters
    ----------
    metrics : mapping
        The backtest's ``sharpe_ratio`` (annualised by sqrt(252)), ``sessions``,
        ``daily_pnl_skewness``, ``daily_pnl_kurtosis``.
    facts : LedgerFacts
        N (``n_trials``) and the trials' daily Sharpe ratios.
    trial_variance : float, optional
        V measured by the candidate's tune study (its ``trial_sharpe_variance``: the variance of
        its trials' daily Sharpes, per session squared), taken as is. Without it, V is the
        variance of the ledger's Sharpes floored at ``1 / (T - 1)``.
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
    if trial_variance is not None and math.isfinite(float(trial_variance)) and trial_variance >= 0:
        variance, source = float(trial_variance), "the tune study's trials"
    else:
        measured = float(np.var(facts.trial_sharpes, ddof=1)) if len(facts.trial_sharpes) > 1 else 0.0
        variance = max(measured, null_sharpe_variance(periods))
        source = f"{len(facts.trial_sharpes)} ledger Sharpe(s), floored at 1/(T-1)"
    value = deflated_sharpe_ratio(sharpe, periods, facts.n_trials, variance,
                                  skewness=float(metrics["daily_pnl_skewness"]),
                                  kurtosis=float(metrics["daily_pnl_kurtosis"]))
    note = (f"N={facts.n_trials} trials on {facts.market} {facts.window}, T={periods} sessions, daily SR {sharpe:.4f} "
            f"vs expected max {expected_max_sharpe(facts.n_trials, variance):.4f} (V={variance:.3g} from {source})")
    return value, note


def study_statistics(pnl: pd.DataFrame, n_trials: int | None = None, *, seed: int = 0) -> dict[str, object]:
    """PBO, SPA p-value and deflated Sharpe of a study from its (sessions x trials) daily P&L (module docstring).

    Parameters
    ----------
    pnl : DataFrame
        USD per validation session (rows) of each trial (columns), 0 on a day without trades.
    n_trials : int, optional
        N of the deflated Sharpe (the trial ledger's count); default the number of columns.
    seed : int
        Of the SPA bootstrap.

    Returns
    -------
    dict
        The metrics the tune run logs (see :data:`STUDY_METRICS`; NaN where not measurable) plus
        ``result``: the :class:`lab.stats.PBOResult` (None with fewer than 2 trials or sessions).
    """
    matrix = pnl.to_numpy(dtype=np.float64) if len(pnl.columns) else np.zeros((len(pnl), 0))
    t, n = matrix.shape
    distinct = int(len(np.unique(matrix, axis=1).T)) if n else 0
    trading = int((np.abs(matrix) > 0).any(axis=0).sum()) if n else 0
    out: dict[str, object] = {k: math.nan for k in STUDY_METRICS}
    out.update({"study_sessions": t, "study_trials": n, "study_distinct_trials": distinct,
                "study_trading_trials": trading, "pbo_blocks": math.nan, "spa_reps": SPA_REPS,
                "spa_block_length": default_block_size(t) if t else math.nan,
                "deflated_sharpe_trials": int(n_trials if n_trials is not None else n), "result": None})
    if t >= 3 and n >= 1:
        out["spa_pvalue"] = spa_pvalue(matrix, 0.0, reps=SPA_REPS, seed=seed)
    if t >= 2 and n >= 2:
        result = probability_of_backtest_overfitting(matrix, blocks=PBO_BLOCKS, statistic="sharpe")
        out.update({"pbo": result.pbo, "pbo_blocks": result.blocks, "pbo_sessions_used": result.periods_used,
                    "result": result})
    if t >= 2 and n >= 1 and int(out["deflated_sharpe_trials"]) >= 1:
        study = study_deflated_sharpe(matrix, int(out["deflated_sharpe_trials"]))
        out.update({"deflated_sharpe_prob": study.probability, "trial_sharpe_variance": study.variance,
                    "best_trial_sharpe_daily": study.sharpe, "best_trial_skewness": study.skewness,
                    "best_trial_kurtosis": study.kurtosis, "deflated_sharpe_expected_max": study.expected_max,
                    "best_trial_number": _trial_number(pnl.columns[study.best]) if study.best >= 0 else math.nan})
    return out


#: What :func:`study_statistics` measures and the tune run logs (the statistics, then their inputs).
STUDY_METRICS = ("pbo", "spa_pvalue", "deflated_sharpe_prob", "trial_sharpe_variance", "study_sessions",
                 "study_trials", "study_distinct_trials", "study_trading_trials", "pbo_blocks", "pbo_sessions_used",
                 "spa_reps", "spa_block_length", "deflated_sharpe_trials", "best_trial_number",
                 "best_trial_sharpe_daily", "best_trial_skewness", "best_trial_kurtosis",
                 "deflated_sharpe_expected_max")


def _trial_number(column: str) -> float:
    try:
        return float(str(column).rsplit("_", 1)[-1])
    except ValueError:
        return math.nan


def auc_pbo(weekly_auc: pd.DataFrame):
    """The secondary PBO on weekly validation AUC (score = mean; weeks with a NaN dropped): a PBOResult or None."""
    matrix = weekly_auc.dropna(axis=0, how="any").to_numpy(dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] < 2 or matrix.shape[1] < 2:
        return None
    return probability_of_backtest_overfitting(matrix, blocks=PBO_BLOCKS, statistic="mean")


def one_strategy_sentence(metrics: Mapping[str, float]) -> str:
    """Why a study measures nothing, in one sentence, or "" when its trials differ (tune run metrics)."""
    distinct, trading = metrics.get("study_distinct_trials"), metrics.get("study_trading_trials")
    if distinct is None or not math.isfinite(float(distinct)):
        return ""
    trials = int(metrics.get("study_trials", distinct))
    if trading is not None and math.isfinite(float(trading)) and int(trading) == 0:
        return (f"none of the study's {trials} trials traded on validation (all P&L zero), so there is no "
                "strategy whose overfitting or skill could be measured")
    if int(distinct) <= 1:
        return (f"all {trials} trials of the study earned the same daily P&L (one model), so choosing among them "
                "cannot be told from luck; tune a grid whose points grow different models")
    return ""


def log_backtest_statistics(config, metrics: Mapping[str, float], market: str,
                            study_run_id: str = "") -> dict[str, float]:
    """On the active backtest run: ``trials_on_validation`` and ``deflated_sharpe_prob`` (ledger as it stands).

    ``study_run_id``: the tune run whose model was backtested; its ``trial_sharpe_variance`` is V
    (as the gate takes it), when it logged one.
    """
    facts = ledger_facts(market, window_key(config))
    study = tracking.lookup_run(study_run_id) if study_run_id else None
    variance = study.data.metrics.get("trial_sharpe_variance") if study is not None else None
    value, note = backtest_dsr(metrics, facts, variance)
    logged = {TRIALS_METRIC: float(facts.n_trials), "deflated_sharpe_prob": math.nan if value is None else value}
    tracking.log_metrics(logged)
    print(f"  trial ledger: {facts.n_trials} evaluations on {facts.market} {facts.window}; deflated Sharpe "
          f"probability {'n/a' if value is None else f'{value:.3f}'} ({note})")
    return logged


def log_study_statistics(pnl: pd.DataFrame, weekly_auc: pd.DataFrame, n_trials: int | None = None,
                         seed: int = 0) -> dict[str, float]:
    """On the active tune run: the P&L matrix, the study's statistics with their inputs, ``pbo_auc`` and the pictures.

    Logs ``study/trial_daily_pnl.csv`` (``date``, then ``trial_<number>`` columns, USD), the metrics
    of :data:`STUDY_METRICS` and ``pbo_auc``, ``pbo_logits.png`` (CSCV on daily P&L) and
    ``pbo_auc_logits.png`` with ``validation_weekly_auc.csv`` (the secondary AUC figure).
    """
    stats = study_statistics(pnl, n_trials, seed=seed)
    table = pnl.copy()
    table.index = pd.DatetimeIndex(table.index).strftime("%Y-%m-%d")
    table.index.name = "date"
    tracking.log_table(table, "study/trial_daily_pnl.csv", index=True)
    if stats["result"] is not None:
        tracking.log_figure(logit_histogram_figure(stats["result"], "CSCV over the study's trials (daily P&L Sharpe)"),
                            "pbo_logits.png")
    auc = auc_pbo(weekly_auc) if len(weekly_auc.columns) else None
    if len(weekly_auc.columns):
        tracking.log_table(weekly_auc, "validation_weekly_auc.csv", index=True)
    if auc is not None:
        tracking.log_figure(logit_histogram_figure(auc, "CSCV over the study's trials (weekly validation AUC)"),
                            "pbo_auc_logits.png")
    logged = {k: float(stats[k]) for k in STUDY_METRICS}
    logged["pbo_auc"] = auc.pbo if auc is not None else math.nan
    tracking.log_metrics(logged)
    print(f"  study: PBO {logged['pbo']:.3f} (AUC-based {logged['pbo_auc']:.3f}), SPA p-value "
          f"{logged['spa_pvalue']:.3f}, deflated Sharpe probability {logged['deflated_sharpe_prob']:.3f} "
          f"(N={int(logged['deflated_sharpe_trials'])}, V={logged['trial_sharpe_variance']:.3g}) over "
          f"{int(logged['study_trials'])} trials x {int(logged['study_sessions'])} sessions of validation P&L")
    sentence = one_strategy_sentence(logged)
    if sentence:
        print(f"  study: WARNING: {sentence}")
    for name in ("spa_pvalue", "pbo"):  # one line each on why a statistic is missing: the gate will refuse
        if not math.isfinite(logged[name]):
            cause = study_statistics_cause(name, logged["study_sessions"], logged["study_trials"])
            print(f"tune: WARNING: {name} not measured: {cause}", file=sys.stderr)
    return logged

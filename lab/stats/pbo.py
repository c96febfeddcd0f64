"""Probability of backtest overfitting by combinatorially symmetric cross-validation (CSCV).

Bailey, Borwein, Lopez de Prado and Zhu (2015). Rows of a (periods x trials) performance matrix
are cut into S equal blocks in time order; for every choice of S/2 blocks as the in-sample half
(the other half out of sample) the trial that is best in sample is located in the out-of-sample
ranking: ``w`` = its rank / (N + 1) (rank 1 = worst, ties averaged), ``logit = ln(w / (1 - w))``.
PBO is the share of splits whose logit is <= 0, the published rule: the in-sample winner did no
better than the median out of sample. A split landing exactly on the median (logit 0: an odd N,
or ties) counts as overfit, so a study whose trials are all one model (every column equal) or
all flat (no P&L) scores PBO = 1, never the 1/2 that would pass ``max_pbo = 0.5``. A trial that
truly dominates gives PBO near 0; pure noise about 1/2 with an even N (a little more with an odd
N, where the median rank itself counts).

Rows that do not fill the blocks: CSCV needs S blocks of equal length, so with T periods the
earliest ``T mod S`` rows are dropped (at most S - 1 = 15 sessions of a year's 250 with S = 16;
``PBOResult.periods_used`` says how many were kept). With fewer than S rows, S is lowered to the
largest even number <= T.

The gate's PBO is on the tune trials' daily P&L (``statistic = "sharpe"``, S = 16); the weekly
validation AUC (``statistic = "mean"``) gives the secondary ``pbo_auc``.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import numpy as np

from lab.errors import LabError

__all__ = ["PBOResult", "probability_of_backtest_overfitting", "logit_histogram_figure"]


@dataclass(frozen=True)
class PBOResult:
    """What CSCV measured.

    Attributes
    ----------
    pbo : float
        Share of splits whose logit is <= 0 (Bailey et al. 2015), in [0, 1].
    logits : ndarray, shape (n_splits,)
        ``ln(w / (1 - w))`` per split.
    blocks : int
        S, the number of time blocks used.
    periods_used : int
        Rows used (T rounded down to a multiple of S; the earliest ``T mod S`` rows are dropped).
    """

    pbo: float
    logits: np.ndarray
    blocks: int
    periods_used: int


def probability_of_backtest_overfitting(performance: np.ndarray, *, blocks: int = 16,
                                        statistic: str = "sharpe") -> PBOResult:
    """PBO of choosing the best column of ``performance`` by CSCV.

    Parameters
    ----------
    performance : array, shape (T, N)
        Per-period performance of N trials (daily P&L, weekly AUC ...), time in rows; higher is better.
    blocks : int, default 16
        S, an even number of time blocks; lowered to the largest even number <= T when T is
        smaller. S = 16 gives C(16, 8) = 12,870 splits.
    statistic : {"sharpe", "mean"}, default "sharpe"
        How a trial is scored on a half: mean / std (ddof 1) of its rows, or their mean.

    Raises
    ------
    LabError
        Fewer than 2 trials or 2 periods, a non-finite value, an odd ``blocks`` or an unknown statistic.
    """
    x = np.asarray(performance, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] < 2 or x.shape[0] < 2:
        raise LabError(f"PBO needs a (periods x trials) matrix with at least 2 periods and 2 trials; got shape {x.shape}")
    if not np.isfinite(x).all():
        raise LabError("PBO: the performance matrix holds NaN or inf; drop the periods that are undefined first")
    if statistic not in ("sharpe", "mean"):
        raise LabError(f"PBO statistic = {statistic!r} is not one of sharpe, mean")
    if blocks < 2 or blocks % 2:
        raise LabError(f"PBO blocks = {blocks} must be an even number >= 2")
    s = min(blocks, x.shape[0] - x.shape[0] % 2)
    per_block = x.shape[0] // s
    used = per_block * s
    x = x[x.shape[0] - used:]
    n = x.shape[1]
    shaped = x.reshape(s, per_block, n)
    sums, squares = shaped.sum(axis=1), (shaped ** 2).sum(axis=1)  # (S, N)
    in_sample = _splits(s)  # (C(S, S/2), S) indicators of the in-sample blocks
    half = used // 2
    sum_in, square_in = in_sample @ sums, in_sample @ squares
    score_in = _score(sum_in, square_in, half, statistic)
    score_out = _score(sums.sum(axis=0) - sum_in, squares.sum(axis=0) - square_in, half, statistic)
    rows = np.arange(len(in_sample))
    best = np.argmax(score_in, axis=1)  # ties: the first column
    winner_out = score_out[rows, best][:, None]
    rank = (score_out < winner_out).sum(axis=1) + 0.5 * ((score_out == winner_out).sum(axis=1) - 1) + 1.0
    w = rank / (n + 1.0)
    logits = np.log(w / (1.0 - w))
    return PBOResult(float(np.mean(logits <= 0.0)), logits, s, used)


@functools.lru_cache(maxsize=8)
def _splits(blocks: int) -> np.ndarray:
    chosen = np.array(list(itertools.combinations(range(blocks), blocks // 2)))
    indicator = np.zeros((len(chosen), blocks))
    indicator[np.arange(len(chosen))[:, None], chosen] = 1.0
    indicator.setflags(write=False)
    return indicator


def _score(sums: np.ndarray, squares: np.ndarray, rows: int, statistic: str) -> np.ndarray:
    """Mean or Sharpe of each trial on a half.

    A half with no variance (a trial that did not trade there: P&L 0 every day) scores 0, what it
    earned: it ranks above a losing trial and ties with another flat one. A constant non-zero half
    scores +inf or -inf by its sign.
    """
    mean = sums / rows
    if statistic == "mean":
        return mean
    variance = (squares - rows * mean ** 2) / max(rows - 1, 1)
    flat = variance <= 1e-12 * np.maximum(squares / rows, 1e-300)
    score = mean / np.sqrt(np.where(flat, 1.0, variance))
    score[flat] = np.where(mean[flat] > 0, np.inf, np.where(mean[flat] < 0, -np.inf, 0.0))
    return score


def logit_histogram_figure(result: PBOResult, title: str = "CSCV: out-of-sample rank of the in-sample best"):
    """The histogram of the logits with PBO (the mass at or left of 0) shaded; a matplotlib Figure (Agg)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # heavy: matplotlib, only to draw
    from matplotlib.figure import Figure  # heavy: matplotlib, only to draw

    figure = Figure(figsize=(7, 4))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    logits = result.logits
    edges = np.histogram_bin_edges(logits, bins=min(40, max(5, len(np.unique(logits)))))
    axes.hist(logits[logits <= 0], bins=edges, color="tab:red", alpha=0.8, label="logit <= 0 (overfit)")
    axes.hist(logits[logits > 0], bins=edges, color="tab:blue", alpha=0.8, label="logit > 0")
    axes.axvline(0.0, color="black", linewidth=1)
    axes.set_xlabel("logit of the in-sample best trial's out-of-sample relative rank")
    axes.set_ylabel("splits")
    axes.set_title(f"{title}\nPBO = {result.pbo:.3f} over {len(logits)} splits ({result.blocks} blocks)")
    axes.legend()
    figure.tight_layout()
    return figure

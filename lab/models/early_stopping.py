"""The early-stopping rule of LightGBM's ``early_stopping`` callback, as a small object a boosting loop asks.

:func:`lab.models.boosters.train_classifier` boosts LightGBM round by round and asks
:class:`EarlyStopping` after each round's validation AUC (the value of the engine's ``auc`` metric), instead of
``lgb.train`` with the callback: the same rule (``first_metric_only``, its ``min_delta``), without a
``CallbackEnv`` and the callback machinery per round. The first round is the best so far; a later
round is better only when its AUC exceeds the best by more than ``min_delta``; training stops at the
first round ``patience`` rounds after the best, or at the last round. The best round is kept (1-based count of
trees). ``tests/lab/models/test_boosters.py`` checks that the trees, the best round and its AUC
equal ``lgb.train``'s.

Why the AUC is still computed every round: the rule needs the first round of the highest AUC, and
any round may be it; an AUC every k rounds moves the best round and the stop. Its cost is kept down
instead: :func:`lab.models.boosters.train_classifier` ranks the engine's running validation scores
itself (:func:`lab.models.evaluation.ranking_auc`, 0.8 ms a round on the default validation window
with the copy out of the engine, against 1.2-1.6 ms for LightGBM's ``auc``: the same values).
"""

from __future__ import annotations

import math

__all__ = ["EarlyStopping"]


class EarlyStopping:
    """LightGBM's early-stopping rule for a score to maximise (validation AUC).

    Parameters
    ----------
    patience : int
        Rounds without a strictly higher score after which training stops (``early_stopping_rounds``).
    last_round : int
        The round cap (``num_boost_round``): training stops there in any case.
    min_delta : float, default 0
        The gain over the best score that makes a round better (``early_stopping_min_delta``, AUC
        units); 0: any strictly higher score.

    Examples
    --------
    >>> rule = EarlyStopping(patience=2, last_round=10)
    >>> [rule.update(r, s) for r, s in enumerate([0.6, 0.7, 0.7, 0.65], start=1)]
    [False, False, False, True]
    >>> rule.best_round, rule.best_score
    (2, 0.7)
    """

    def __init__(self, patience: int, last_round: int, min_delta: float = 0.0) -> None:
        self.patience = int(patience)
        self.last_round = int(last_round)
        self.min_delta = float(min_delta)
        self.best_round = 0
        self.best_score = -math.inf

    def update(self, round_: int, score: float) -> bool:
        """Record the score after ``round_`` (1-based); True when training should stop now."""
        if self.best_round == 0 or score > self.best_score + self.min_delta:
            self.best_round, self.best_score = round_, float(score)
        return round_ - self.best_round >= self.patience or round_ >= self.last_round

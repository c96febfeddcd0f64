"""How much data the lab's statistics need, and one plain sentence when a window or a model falls short.

Pure: numbers in, a warning line (or None) out. Featurize, tune and the gate print these lines so a
weak result is said where it is made, not discovered as a NaN at the gate.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = ["MIN_PBO_SESSIONS", "MIN_SPA_SESSIONS", "FULL_PBO_SESSIONS", "MIN_STUDY_TRIALS", "study_window_warning",
           "window_span", "study_statistics_cause", "constant_predictions_warning"]

#: The study's statistics run on the trials' daily P&L (:mod:`registry.deflated`). PBO (CSCV) needs at
#: least two sessions and two trials...
MIN_PBO_SESSIONS = 2
MIN_STUDY_TRIALS = 2
#: ...and splits the sessions into S = 16 blocks at full strength (one session per block at least).
FULL_PBO_SESSIONS = 16
#: Hansen's SPA test needs at least three daily P&L differentials.
MIN_SPA_SESSIONS = 3


def study_window_warning(sessions: int, weeks: int) -> str | None:
    """A warning line when the validation window is too short for the study's PBO and SPA.

    Parameters
    ----------
    sessions, weeks : int
        Regular sessions, and calendar weeks holding at least one of them, of the validation window.

    Examples
    --------
    >>> print(study_window_warning(1, 1))
    the validation window holds 1 session (1 week): the study's SPA test needs at least 3 sessions of daily P&L and PBO at least 2 (16 for its 16 blocks); without them the gate refuses (spa_pvalue, pbo not measured): lengthen [windows] validation
    >>> study_window_warning(250, 52) is None
    True
    """
    if sessions >= FULL_PBO_SESSIONS:
        return None
    short = []
    if sessions < MIN_SPA_SESSIONS:
        short.append("spa_pvalue")
    if sessions < MIN_PBO_SESSIONS:
        short.append("pbo")
    consequence = (f"without them the gate refuses ({', '.join(short)} not measured)" if short else
                   "PBO is measured on fewer blocks than it is made for")
    return (f"the validation window holds {sessions} session{'s' if sessions != 1 else ''} ({weeks} week"
            f"{'s' if weeks != 1 else ''}): the study's SPA test needs at least {MIN_SPA_SESSIONS} sessions of daily "
            f"P&L and PBO at least {MIN_PBO_SESSIONS} ({FULL_PBO_SESSIONS} for its {FULL_PBO_SESSIONS} blocks); "
            f"{consequence}: lengthen [windows] validation")


def study_statistics_cause(name: str, sessions: float | None, trials: float | None) -> str | None:
    """Why a tune run's ``pbo`` or ``spa_pvalue`` is NaN, from its ``study_sessions``/``study_trials``
    metrics; None when those were not logged either (a run older than the study statistics).

    >>> study_statistics_cause("spa_pvalue", 2, 27)
    'the study had 2 sessions of validation P&L and 27 trials; SPA needs at least 3 sessions: lengthen [windows] validation'
    >>> study_statistics_cause("pbo", 20, 1)
    'the study had 20 sessions of validation P&L and 1 trial; PBO needs at least 2 sessions and 2 trials: tune a grid of at least 2 points'
    """
    if sessions is None or trials is None or not (math.isfinite(float(sessions)) and math.isfinite(float(trials))):
        return None
    sessions, trials = int(sessions), int(trials)
    had = (f"the study had {sessions} session{'s' if sessions != 1 else ''} of validation P&L and {trials} "
           f"trial{'s' if trials != 1 else ''}")
    if name == "spa_pvalue":
        if sessions < MIN_SPA_SESSIONS:
            return f"{had}; SPA needs at least {MIN_SPA_SESSIONS} sessions: lengthen [windows] validation"
        return f"{had}; SPA could not be computed"
    if sessions < MIN_PBO_SESSIONS:
        return (f"{had}; PBO needs at least {MIN_PBO_SESSIONS} sessions and {MIN_STUDY_TRIALS} trials: lengthen "
                "[windows] validation")
    if trials < MIN_STUDY_TRIALS:
        return (f"{had}; PBO needs at least {MIN_PBO_SESSIONS} sessions and {MIN_STUDY_TRIALS} trials: tune a grid of "
                f"at least {MIN_STUDY_TRIALS} points")
    return f"{had}; PBO could not be computed"


def constant_predictions_warning(probability: np.ndarray, where: str = "validation") -> str | None:
    """A warning line when a model predicts one value for every row (it learned nothing: AUC 0.5).

    >>> print(constant_predictions_warning(np.full(3, 0.51)))
    the model predicts 0.5100 for all 3 validation rows: it learned nothing from the features (AUC exactly 0.5); more training rows, a smaller min_data_in_leaf or another target may help
    """
    p = np.asarray(probability, dtype=np.float64)
    if p.size == 0 or np.ptp(p) > 0:
        return None
    return (f"the model predicts {p[0]:.4f} for all {p.size:,} {where} rows: it learned nothing from the features "
            "(AUC exactly 0.5); more training rows, a smaller min_data_in_leaf or another target may help")


def window_span(table: pd.DataFrame) -> tuple[int, int]:
    """Regular sessions and calendar weeks (Monday-started) of a bar table indexed by ET bar time.

    >>> idx = pd.date_range("2024-01-04 09:30", periods=5, freq="D", tz="America/New_York")  # Thursday..Monday
    >>> window_span(pd.DataFrame(index=idx))
    (5, 2)
    """
    if len(table) == 0:
        return 0, 0
    days = pd.DatetimeIndex(table.index.tz_localize(None).normalize().unique())
    weeks = (days - pd.to_timedelta(days.day_of_week, unit="D")).unique()
    return int(len(days)), int(len(weeks))

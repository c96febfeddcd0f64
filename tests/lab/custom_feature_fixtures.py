"""Custom feature functions the tests name in ``[features] custom`` (``tests.lab.custom_feature_fixtures:...``)."""

from __future__ import annotations

import pandas as pd

#: Set by :func:`spy_inputs`: the columns it received.
SEEN_COLUMNS: list[str] = []


def past_momentum(bars: pd.DataFrame) -> pd.DataFrame:
    """Honest: the 4-bar close change in points and its sign, from this bar and earlier ones."""
    change = bars["close"] - bars["close"].shift(4)
    return pd.DataFrame({"momentum_4bar_points": change, "momentum_4bar_sign": change.gt(0).astype(float)},
                        index=bars.index)


def next_close_change(bars: pd.DataFrame) -> pd.Series:
    """Leaky: the next bar's close change (shift(-1) looks one bar ahead)."""
    return (bars["close"].shift(-1) - bars["close"]).rename("peek_next_close")


def whole_series_zscore(bars: pd.DataFrame) -> pd.Series:
    """Leaky: a z-score with the whole series' mean and sd (later bars move every past value)."""
    close = bars["close"]
    return ((close - close.mean()) / close.std()).rename("close_zscore_all")


def spy_inputs(bars: pd.DataFrame) -> pd.Series:
    """Honest; records the columns it was given."""
    SEEN_COLUMNS[:] = list(bars.columns)
    return (bars["rsi_14"] - 50.0).rename("rsi_14_centred")


def returns_list(bars: pd.DataFrame):
    return [1.0] * len(bars)


def returns_short(bars: pd.DataFrame) -> pd.Series:
    return bars["close"].iloc[1:].rename("short")


def returns_text(bars: pd.DataFrame) -> pd.Series:
    return bars["close"].map(lambda v: f"{v:.2f}x").rename("as_text")


def returns_builtin_name(bars: pd.DataFrame) -> pd.Series:
    return bars["close"].rename("rsi_7")


def returns_unnamed(bars: pd.DataFrame) -> pd.Series:
    return pd.Series(bars["close"].diff().to_numpy(), index=bars.index)


def raises(bars: pd.DataFrame) -> pd.Series:
    raise KeyError("no_such_column")


NOT_A_FUNCTION = 3.0


def session_aware(bars: pd.DataFrame) -> pd.DataFrame:
    """Honest, and reads what featurize hands over: the bar start, session fields, integer volume, a core
    and an optional-set feature (used by the live-parity test)."""
    minutes_in = (bars.index.to_series() - bars["session_open"]).dt.total_seconds() / 60.0
    volume_share = bars["volume"] / bars.groupby("session")["volume"].cumsum()
    return pd.DataFrame({
        "minutes_into_session": minutes_in,
        "session_volume_share": volume_share,
        "range_rsi": bars["range_position"] * bars["rsi_7"],
        "close_vs_mean_12": bars["close"] / bars["close"].rolling(12).mean() - 1.0,
    }, index=bars.index)

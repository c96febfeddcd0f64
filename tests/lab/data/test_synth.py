"""Tests of the seeded synthetic minute generator, :mod:`lab.synth`."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from lab.errors import ConfigError
from lab.market.instruments import Instrument, get_instrument
from lab.data.synth import generate_minutes

MES = get_instrument("MES")
SEED = 20230101


def _generate(start: str, end: str, seed: int = SEED, instrument: Instrument = MES, edge_auc: float = 0.0) -> pd.DataFrame:
    return generate_minutes(dt.date.fromisoformat(start), dt.date.fromisoformat(end), seed, instrument, edge_auc=edge_auc)


@pytest.fixture(scope="module")
def thanksgiving() -> pd.DataFrame:
    """Two and a half weeks around Thanksgiving 2023 (holiday 11-23, early close 11-24)."""
    return _generate("2023-11-13", "2023-11-30")


@pytest.fixture(scope="module")
def year() -> pd.DataFrame:
    """The 250 sessions of 2023 (about 345,000 minutes), for the statistical properties."""
    return _generate("2023-01-01", "2023-12-31")


def _minute_of_day(frame: pd.DataFrame) -> np.ndarray:
    return np.asarray(frame.index.hour * 60 + frame.index.minute)


def _rth(frame: pd.DataFrame) -> pd.DataFrame:
    minute = _minute_of_day(frame)
    return frame[(minute >= 9 * 60 + 30) & (minute < 16 * 60)]


def _rth_five_minute_log_returns(frame: pd.DataFrame) -> pd.Series:
    """Log returns of RTH 5-minute closes, within each session only."""
    closes = _rth(frame)["close"].resample("5min", label="left", closed="left").last().dropna()
    day = pd.Series(closes.index.date, index=closes.index)
    returns = np.log(closes).diff()
    return returns[day == day.shift(1)]


def _one_minute_abs_returns(frame: pd.DataFrame) -> pd.Series:
    """|log close change| over consecutive minutes (no halt or omitted minute in between)."""
    step = pd.Series(frame.index).diff().to_numpy() == np.timedelta64(60, "s")
    return np.log(frame["close"]).diff().abs()[step]


def test_generate_minutes_frame_contract(thanksgiving: pd.DataFrame) -> None:
    frame = thanksgiving
    assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
    assert isinstance(frame.index, pd.DatetimeIndex)
    assert frame.index.name == "time"
    assert str(frame.index.tz) == "America/New_York"
    assert frame.index.unit == "ns"
    assert frame.index.is_monotonic_increasing and frame.index.is_unique
    assert (frame.index.second == 0).all()
    for column in ("open", "high", "low", "close"):
        assert frame[column].dtype == np.float64
        ticks = frame[column].to_numpy() / MES.tick_size
        assert np.array_equal(ticks, np.round(ticks)), column
    assert frame["volume"].dtype == np.int64
    assert (frame["volume"] >= 1).all()
    assert (frame["low"] > 0).all()
    assert (frame["low"] <= frame[["open", "close"]].min(axis=1)).all()
    assert (frame[["open", "close"]].max(axis=1) <= frame["high"]).all()
    assert not frame.isna().to_numpy().any()


def test_generate_minutes_is_deterministic() -> None:
    first = _generate("2023-05-01", "2023-05-12", seed=7)
    second = _generate("2023-05-01", "2023-05-12", seed=7)
    assert first.index.equals(second.index)
    assert np.array_equal(first.to_numpy(), second.to_numpy())
    pd.testing.assert_frame_equal(first, second, check_exact=True)


def test_generate_minutes_seed_changes_data() -> None:
    first = _generate("2023-05-01", "2023-05-12", seed=7)
    other = _generate("2023-05-01", "2023-05-12", seed=8)
    common = first.index.intersection(other.index)
    assert len(common) > 0.95 * len(first)
    assert (first.loc[common, "close"] != other.loc[common, "close"]).mean() > 0.9


def test_generate_minutes_tick_size_from_instrument() -> None:
    coarse = Instrument("XYZ", 0.5, 5.0)
    frame = _generate("2023-05-01", "2023-05-05", instrument=coarse)
    prices = frame[["open", "high", "low", "close"]].to_numpy()
    assert np.array_equal(prices / 0.5, np.round(prices / 0.5))
    assert (np.round(prices / 0.5) % 2 == 1).any()  # really on the half-point grid


def test_generate_minutes_price_level_near_history() -> None:
    mes = _generate("2019-05-01", "2019-05-10")
    assert 2700 < mes["close"].iloc[0] < 3100  # MES launched near 2,900 points in May 2019
    mnq = _generate("2019-05-01", "2019-05-10", instrument=get_instrument("MNQ"))
    assert mnq["close"].iloc[0] > 2 * mes["close"].iloc[0]


def test_generate_minutes_globex_hours(thanksgiving: pd.DataFrame) -> None:
    index = thanksgiving.index
    minute = _minute_of_day(thanksgiving)
    weekday = np.asarray(index.day_of_week)  # Monday 0 .. Sunday 6
    assert not ((minute >= 17 * 60) & (minute < 18 * 60)).any(), "minutes in the 17:00-18:00 ET halt"
    assert not ((weekday == 4) & (minute >= 17 * 60)).any(), "minutes after the Friday 17:00 ET close"
    assert not (weekday == 5).any(), "minutes on a Saturday"
    assert not ((weekday == 6) & (minute < 18 * 60)).any(), "minutes before the Sunday 18:00 ET open"
    sunday_opens = index[(weekday == 6) & (minute == 18 * 60)]
    assert len(sunday_opens) == 3  # 11-12, 11-19, 11-26
    assert index[0] == pd.Timestamp("2023-11-12 18:00", tz="America/New_York")
    assert index[-1] == pd.Timestamp("2023-11-30 16:59", tz="America/New_York")


def test_generate_minutes_every_rth_minute_present(thanksgiving: pd.DataFrame) -> None:
    rth = _rth(thanksgiving)
    per_day = rth.groupby(rth.index.date).size()
    regular = per_day.drop(dt.date(2023, 11, 24))
    assert (regular == 390).all()
    assert len(regular) == 12  # 14 weekdays minus Thanksgiving and the early close


def test_generate_minutes_holiday_absent(thanksgiving: pd.DataFrame) -> None:
    index = thanksgiving.index
    # Thanksgiving (XNYS closed): nothing from the 11-22 17:00 halt until 11-23 18:00.
    shut = (index >= pd.Timestamp("2023-11-22 17:00", tz="America/New_York")) & (
        index < pd.Timestamp("2023-11-23 18:00", tz="America/New_York")
    )
    assert not shut.any()
    july = _generate("2023-06-26", "2023-07-07")
    on_holiday = july.index[july.index.date == dt.date(2023, 7, 4)]
    assert len(on_holiday) > 0 and (on_holiday.hour >= 18).all()  # only the 07-05 trade date's evening


def test_generate_minutes_early_close(thanksgiving: pd.DataFrame) -> None:
    day = thanksgiving[thanksgiving.index.date == dt.date(2023, 11, 24)]
    minute = _minute_of_day(day)
    rth = day[(minute >= 9 * 60 + 30) & (minute < 13 * 60)]
    assert len(rth) == 210  # 09:30-12:59 ET: XNYS closes at 13:00
    assert day.index[-1] == pd.Timestamp("2023-11-24 13:14", tz="America/New_York")
    monday = thanksgiving.index[thanksgiving.index > day.index[-1]][0]
    assert monday == pd.Timestamp("2023-11-26 18:00", tz="America/New_York")


@pytest.mark.parametrize(
    ("start", "end", "sunday", "weekend_hours_elapsed"),
    [("2023-03-06", "2023-03-17", "2023-03-12", 48), ("2023-10-30", "2023-11-10", "2023-11-05", 50)],
)
def test_generate_minutes_dst_week(start: str, end: str, sunday: str, weekend_hours_elapsed: int) -> None:
    frame = _generate(start, end)
    assert frame.index.is_unique and frame.index.is_monotonic_increasing
    rth = _rth(frame)
    per_day = rth.groupby(rth.index.date).size()
    assert len(per_day) == 10 and (per_day == 390).all()
    first_rth = rth.groupby(rth.index.date).head(1).index
    assert (first_rth.hour == 9).all() and (first_rth.minute == 30).all()
    offsets = {stamp.utcoffset() for stamp in first_rth}
    assert len(offsets) == 2  # both sides of the clock change
    reopen = pd.Timestamp(f"{sunday} 18:00", tz="America/New_York")
    assert reopen in frame.index
    friday_last = frame.index[frame.index < reopen][-1]
    assert friday_last.tz_localize(None) == pd.Timestamp(f"{sunday} 16:59") - pd.Timedelta(days=2)
    # Friday 16:59 -> Sunday 18:00 is 49 h 01 min on the wall clock; one hour less or more elapses.
    assert reopen - friday_last == pd.Timedelta(hours=weekend_hours_elapsed, minutes=1)


def test_generate_minutes_rejects_bad_ranges() -> None:
    day = dt.date(2023, 5, 3)
    with pytest.raises(ConfigError, match=r"end = 2023-05-02 must be after start = 2023-05-03"):
        generate_minutes(day, dt.date(2023, 5, 2), SEED, MES)
    with pytest.raises(ConfigError, match="must be after start"):
        generate_minutes(day, day, SEED, MES)
    with pytest.raises(ConfigError, match=r"2023-12-23\.\.2023-12-25 holds no XNYS session"):
        generate_minutes(dt.date(2023, 12, 23), dt.date(2023, 12, 25), SEED, MES)
    with pytest.raises(ConfigError, match="calendar_name = 'NOPE'"):
        generate_minutes(day, dt.date(2023, 5, 10), SEED, MES, calendar_name="NOPE")


def test_generate_minutes_volatility_u_shape(year: pd.DataFrame) -> None:
    moves = _one_minute_abs_returns(year)
    minute = np.asarray(moves.index.hour * 60 + moves.index.minute)

    def mean_between(first: int, last: int) -> float:
        return float(moves[(minute >= first) & (minute < last)].mean())

    opening = mean_between(9 * 60 + 30, 10 * 60)
    closing = mean_between(15 * 60 + 30, 16 * 60)
    midday = mean_between(12 * 60, 13 * 60)
    overnight = mean_between(0, 8 * 60)
    assert opening > 1.3 * midday and closing > 1.2 * midday
    assert midday > 2.0 * overnight


def test_generate_minutes_volume_u_shape(year: pd.DataFrame) -> None:
    minute = _minute_of_day(year)
    volume = year["volume"]
    opening = volume[(minute >= 9 * 60 + 30) & (minute < 10 * 60)].mean()
    midday = volume[(minute >= 12 * 60) & (minute < 13 * 60)].mean()
    closing = volume[(minute >= 15 * 60 + 30) & (minute < 16 * 60)].mean()
    overnight = volume[minute < 8 * 60].mean()
    assert opening > 1.5 * midday and closing > 1.3 * midday and midday > 5 * overnight


def test_generate_minutes_rth_open_gaps(year: pd.DataFrame) -> None:
    jump = year["open"] - year["close"].shift(1)
    minute = _minute_of_day(year)
    at_open = jump[minute == 9 * 60 + 30]
    assert (at_open != 0).mean() > 0.8  # the 09:30 auction gaps from the 09:29 close
    assert at_open.abs().mean() > 4 * MES.tick_size
    assert abs(np.sign(at_open).mean()) < 0.15  # as often up as down
    inside = (minute > 9 * 60 + 30) & (minute < 16 * 60)
    assert (jump[inside] == 0).all()  # within the session each open is the previous close
    reopen = jump[minute == 18 * 60]
    assert (reopen != 0).mean() > 0.5  # the Globex reopen gaps from the last close too


def test_generate_minutes_direction_unpredictable(year: pd.DataFrame) -> None:
    returns = _rth_five_minute_log_returns(year)
    assert len(returns) > 19000
    assert abs(returns.autocorr(1)) < 0.03
    signs = np.sign(returns[returns != 0])
    for lag in (1, 2, 6):  # no momentum, no mean reversion, no bounce
        assert abs(signs.autocorr(lag)) < 0.03, lag
    assert abs((signs > 0).mean() - 0.5) < 0.02


def test_generate_minutes_volatility_clusters(year: pd.DataFrame) -> None:
    returns = _rth_five_minute_log_returns(year)
    size = returns.abs()
    assert size.autocorr(1) > 0.15
    # Beyond the U-shape: standardise by the mean size at each time of day.
    slot = returns.index.hour * 60 + returns.index.minute
    standardised = size / size.groupby(slot).transform("mean")
    assert standardised.autocorr(1) > 0.1
    assert standardised.autocorr(12) > 0.05  # an hour later


def _median_ranges_bp(frame: pd.DataFrame) -> tuple[float, float, float]:
    """Median regular-session range of 1-minute bars, 5-minute bars and sessions, basis points."""
    rth = _rth(frame)
    one = ((rth["high"] - rth["low"]) / rth["close"]).median() * 1e4
    five = rth.resample("5min").agg({"high": "max", "low": "min", "close": "last"}).dropna()
    day = rth.groupby(rth.index.date).agg({"high": "max", "low": "min", "close": "last"})
    return (float(one), float(((five["high"] - five["low"]) / five["close"]).median() * 1e4),
            float(((day["high"] - day["low"]) / day["close"]).median() * 1e4))


def test_generate_minutes_ranges_look_like_mes(year: pd.DataFrame) -> None:
    one, five, day = _median_ranges_bp(year)
    assert 3.0 <= one <= 4.0  # MES ~3.5 bp a minute in the regular session
    assert 7.0 <= five <= 9.0  # ~8 bp per 5-minute bar
    assert 75.0 <= day <= 105.0  # ~80-100 bp a session


@pytest.mark.slow  # generates the whole default span (2.3 M minutes)
def test_generate_minutes_price_stays_in_the_range_mes_traded() -> None:
    frame = _generate("2019-05-01", "2025-12-31")
    assert 2_100 < frame["low"].min() and frame["high"].max() < 7_400  # MES: ~2,200 (2020-03) .. ~7,000 (2025)
    assert len(frame) > 2_200_000


def test_edge_strength_inverts_the_bivariate_normal_auc() -> None:
    from lab.data.synth import _MODEL_AUC_LOSS, edge_strength

    for auc in (0.52, 0.56, 0.62):
        c = edge_strength(auc)
        rho = c / np.sqrt(6.0 * (1.0 + c * c))
        assert 0.5 + 2.0 / np.pi * np.arcsin(rho / np.sqrt(2.0)) == pytest.approx(auc + _MODEL_AUC_LOSS, abs=1e-12)
    with pytest.raises(ConfigError, match=r"edge_auc = 0.9 must be 0 \(no edge\) or between 0.5 and"):
        edge_strength(0.9)


def test_generate_minutes_planted_edge_oracle_auc_and_unchanged_ranges(year: pd.DataFrame) -> None:
    """The hidden state (drawn from its own stream) ranks target_6bar-like moves at the designed AUC,
    and planting it leaves the range statistics alone."""
    from lab.models.evaluation import roc_auc
    from lab.data.synth import _MODEL_AUC_LOSS

    edged = _generate("2023-01-01", "2023-12-31", edge_auc=0.60)
    rth = _rth(edged)
    closes = rth["close"].resample("5min").last().dropna()
    day = np.asarray(closes.index.date)
    state = np.random.default_rng([SEED, 0xED6E]).standard_normal(len(closes))
    move = closes.shift(-6).to_numpy() - closes.to_numpy()
    same = np.r_[day[6:] == day[:-6], np.zeros(6, dtype=bool)]
    keep = same & (np.abs(move) >= 2 * MES.tick_size)
    oracle = roc_auc((move[keep] > 0).astype(float), 1.0 / (1.0 + np.exp(-state[keep])))
    assert oracle == pytest.approx(0.60 + _MODEL_AUC_LOSS, abs=0.015)
    # Session ranges are kept; minute and 5-minute ranges shrink toward 1 / sqrt(1 + c**2) (the
    # drift is smooth within a minute, the diffusion is scaled down to keep each bar's variance).
    for base, planted, tolerance in zip(_median_ranges_bp(year), _median_ranges_bp(edged), (0.25, 0.20, 0.10)):
        assert planted == pytest.approx(base, rel=tolerance)
    shuffled = np.random.default_rng(1).permutation(state)
    assert abs(roc_auc((move[keep] > 0).astype(float), 1.0 / (1.0 + np.exp(-shuffled[keep]))) - 0.5) < 0.02

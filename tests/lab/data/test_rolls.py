"""Contract rolls of a continuous file: detection near the schedule, backward adjustment."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from lab.data.doctor import (diagnose, examine_for_featurize, featurize_rolls, flagged_sessions, findings_table,
                             roll_table)
from lab.data.rolls import adjust_rolls, back_adjust, detect_rolls, read_roll_table, write_roll_table
from lab.config import LabConfig
from lab.errors import DataError
from lab.features.core import compute_features
from lab.data.bars import regular_session_bars, resample_bars
from lab.market.sessions import regular_sessions
from tests.conftest import make_minutes

PRICES = ["open", "high", "low", "close"]


def plant_roll(minutes: pd.DataFrame, at: str, gap: float) -> pd.DataFrame:
    """The minutes with every price from ``at`` (ET) on raised by ``gap`` points: an unadjusted switch."""
    out = minutes.copy()
    out.loc[out.index >= pd.Timestamp(at, tz=out.index.tz), PRICES] += gap
    return out


@pytest.fixture(scope="module")
def globex():
    """Around-the-clock minutes over the March 2024 roll (Thursday 2024-03-07)."""
    return make_minutes("2024-02-12", "2024-03-28", seed=5, overnight=True)


def test_detect_rolls_finds_planted_switch_at_the_break_before_the_roll_date(globex):
    rolled = plant_roll(globex, "2024-03-06 18:00", 30.0)
    table = detect_rolls(rolled, "MES")
    assert table[["front", "next", "gap", "method"]].to_dict("records") == [
        {"front": "MESH24", "next": "MESM24", "gap": 30.0, "method": "detected"}]
    assert table["date"].tolist() == [dt.date(2024, 3, 7)]
    assert table["minute"].tolist() == [pd.Timestamp("2024-03-06 18:00", tz="America/New_York")]


def test_detect_rolls_ignores_a_jump_far_from_any_scheduled_roll(globex):
    assert detect_rolls(plant_roll(globex, "2024-02-21 18:00", 30.0), "MES").empty


def test_detect_rolls_finds_nothing_without_a_jump_or_a_schedule(globex):
    assert detect_rolls(globex, "MES").empty
    assert detect_rolls(plant_roll(globex, "2024-03-06 18:00", 30.0), "CL").empty  # no schedule: no roll


def test_back_adjust_removes_the_jump_keeps_ticks_and_session_point_moves(globex):
    rolled = plant_roll(globex, "2024-03-06 18:00", 12.5)
    adjusted = back_adjust(rolled, detect_rolls(rolled, "MES"))
    # the newest contract keeps its prices; everything before is the original walk shifted by the gap
    np.testing.assert_array_equal(adjusted[PRICES].to_numpy(), (globex[PRICES] + 12.5).to_numpy())
    assert (np.mod(adjusted[PRICES].to_numpy(), 0.25) == 0).all()
    day = adjusted.index.tz_localize(None).normalize() == pd.Timestamp("2024-03-05")
    moves = adjusted.loc[day, "close"].diff().dropna()
    pd.testing.assert_series_equal(moves, rolled.loc[day, "close"].diff().dropna())


def test_back_adjust_sums_the_gaps_of_every_later_switch(globex):
    longer = make_minutes("2024-02-12", "2024-06-28", seed=6, overnight=True)
    rolled = plant_roll(plant_roll(longer, "2024-03-06 18:00", 10.0), "2024-06-12 18:00", -7.5)
    table = detect_rolls(rolled, "MES")
    assert table["gap"].tolist() == [10.0, -7.5]
    np.testing.assert_array_equal(back_adjust(rolled, table)[PRICES].to_numpy(), (longer[PRICES] + 2.5).to_numpy())


def test_roll_adjust_back_takes_the_jump_out_of_the_features(globex):
    rolled = plant_roll(globex, "2024-03-06 18:00", 30.0)
    sessions = regular_sessions("XNYS", dt.date(2024, 2, 12), dt.date(2024, 3, 28))

    def return_24(minutes):
        bars = regular_session_bars(resample_bars(minutes), sessions)
        return compute_features(bars)

    shifted = globex.copy()
    shifted[PRICES] += 30.0  # the series as the new contract would have traded all along
    clean, raw, fixed = (return_24(m) for m in (shifted, rolled, adjust_rolls(rolled, detect_rolls(rolled, "MES"), "back")))
    first_day = (clean.index >= pd.Timestamp("2024-03-07 09:30", tz="America/New_York")) & (
        clean.index < pd.Timestamp("2024-03-07 16:00", tz="America/New_York"))
    assert (raw.loc[first_day, "return_24bar"] - clean.loc[first_day, "return_24bar"]).abs().max() > 0.005  # the jump
    pd.testing.assert_frame_equal(fixed, clean)


def test_adjust_rolls_none_keeps_the_prices_and_refuses_unknown_methods(globex):
    table = detect_rolls(plant_roll(globex, "2024-03-06 18:00", 30.0), "MES")
    assert adjust_rolls(globex, table, "none") is globex
    with pytest.raises(DataError, match="roll_adjust = 'forward'"):
        adjust_rolls(globex, table, "forward")


def test_diagnose_reports_a_roll_finding_with_its_gap_without_flagging_the_session(globex):
    rolled = plant_roll(globex, "2024-03-06 18:00", 30.0)
    sessions = regular_sessions("XNYS", rolled.index[0].date(), rolled.index[-1].date())
    report = diagnose(rolled, sessions, instrument="MES")
    rolls = [f for f in report.findings if f.kind == "roll"]
    assert [f.session for f in rolls] == ["2024-03-07"]
    assert "MESH24 -> MESM24" in rolls[0].detail and "+30.00 points (+120 ticks)" in rolls[0].detail
    assert report.counts()["roll"] == 1 and report.statistics["sessions_flagged"] == 0
    assert flagged_sessions(findings_table(report)) == []


def test_examine_for_featurize_back_adjusts_by_default_and_reports_the_table(globex):
    rolled = plant_roll(globex, "2024-03-06 18:00", 30.0)
    kept, _, summary, rolls = examine_for_featurize(rolled, LabConfig())
    assert summary["rolls"] == 1 and summary["roll_adjust"] == "back" and rolls["gap"].tolist() == [30.0]
    np.testing.assert_array_equal(kept[PRICES].to_numpy(), (globex[PRICES] + 30.0).to_numpy())
    kept, _, _, _ = examine_for_featurize(rolled, LabConfig().replace({"data.roll_adjust": "none"}))
    assert kept is rolled


def test_examine_for_featurize_takes_minutes_the_caller_adjusted_instead_of_adjusting_twice(globex):
    rolled = plant_roll(globex, "2024-03-06 18:00", 30.0)
    config = LabConfig()
    rolls = featurize_rolls(rolled, config)
    adjusted = adjust_rolls(rolled, rolls, "back")
    kept, findings, summary, table = examine_for_featurize(rolled, config, known_rolls=rolls, adjusted=adjusted)
    assert kept is adjusted
    alone = examine_for_featurize(rolled, config)
    pd.testing.assert_frame_equal(kept, alone[0])
    pd.testing.assert_frame_equal(findings, alone[1])
    pd.testing.assert_frame_equal(table, alone[3])
    assert summary == alone[2]
    with pytest.raises(ValueError, match="need the `known_rolls`"):
        examine_for_featurize(rolled, config, adjusted=adjusted)


def test_featurize_rolls_prefers_the_measured_table_and_a_roll_table_needs_an_instrument(globex):
    rolled = plant_roll(globex, "2024-03-06 18:00", 30.0)
    measured = detect_rolls(rolled, "MES").assign(method="measured")
    assert featurize_rolls(rolled, LabConfig(), measured) is measured
    assert featurize_rolls(rolled, LabConfig())["gap"].tolist() == [30.0]
    assert roll_table(rolled, None).empty and roll_table(rolled, "MES")["gap"].tolist() == [30.0]


def test_roll_table_round_trips_through_csv(globex, tmp_path):
    table = detect_rolls(plant_roll(globex, "2024-03-06 18:00", 30.0), "MES")
    back = read_roll_table(write_roll_table(table, tmp_path / "r.csv"))
    pd.testing.assert_frame_equal(back, table, check_dtype=False)

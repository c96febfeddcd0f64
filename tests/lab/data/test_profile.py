"""`lab init`: a minute file's profile and the lab.toml that fits it."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from lab.config import load_config
from lab.data.profile import (config_text, minimum_sessions, next_commands, plan_windows, profile_minutes,
                              warmup_sessions)
from lab.errors import DataError
from tests.conftest import make_minutes


def as_read(minutes: pd.DataFrame, written_in: str = "America/New_York") -> pd.DataFrame:
    """The frame `lab init` gets: the file's naive stamps (written in ``written_in``) read as UTC."""
    text = minutes.index.tz_convert(written_in).tz_localize(None)
    return minutes.set_axis(text.tz_localize("UTC").tz_convert("America/New_York"))


@pytest.fixture(scope="module")
def seven_months():
    return make_minutes("2023-01-03", "2023-07-31", seed=3, overnight=True)


def test_profile_reads_instrument_from_the_name_and_zone_from_the_break(seven_months):
    profile = profile_minutes("MES_1min.txt", as_read(seven_months))
    assert (profile.instrument, profile.timezone) == ("MES", "America/New_York")
    assert profile.sessions[0] == dt.date(2023, 1, 3) and profile.sessions[-1] == dt.date(2023, 7, 31)
    assert len(profile.sessions) == 144


def test_profile_infers_chicago_and_utc_stamps(seven_months):
    assert profile_minutes("MES.txt", as_read(seven_months, "America/Chicago")).timezone == "America/Chicago"
    rth = make_minutes("2023-01-03", "2023-07-31", seed=3)
    assert profile_minutes("MES.txt", as_read(rth, "UTC")).timezone == "UTC"
    assert profile_minutes("MES.txt", as_read(rth)).timezone == "America/New_York"


def test_profile_infers_the_micro_contract_from_the_price_level(seven_months):
    assert profile_minutes("minutes.txt", as_read(seven_months)).instrument == "MES"
    nasdaq = seven_months.copy()
    nasdaq[["open", "high", "low", "close"]] += 11_000.0
    assert profile_minutes("minutes.txt", as_read(nasdaq)).instrument == "MNQ"
    gold = seven_months.copy()
    gold[["open", "high", "low", "close"]] -= 2_000.0
    with pytest.raises(DataError, match="neither the name nor the price level tells the instrument"):
        profile_minutes("minutes.txt", as_read(gold))


def test_plan_windows_splits_sessions_after_the_warm_up(seven_months):
    plan = plan_windows(profile_minutes("MES.txt", as_read(seven_months)))
    assert plan.sessions["warmup"] == warmup_sessions(1400) == 19
    assert sum(plan.sessions.values()) == 144
    assert plan.train[0] == dt.date(2023, 1, 3) and plan.test[1] == dt.date(2023, 7, 31)
    assert plan.train[1] < plan.validation[0] <= plan.validation[1] < plan.test[0]
    assert plan.min_train_months >= 2


def test_plan_windows_refuses_a_short_file_with_the_minimum_in_sessions():
    two_weeks = make_minutes("2023-11-20", "2023-12-01", seed=1, overnight=True)
    profile = profile_minutes("NQ_sample.csv", as_read(two_weeks + 0))
    with pytest.raises(DataError, match=rf"holds 9 regular sessions \(2023-11-20..2023-12-01\); the lab needs at "
                                        rf"least {minimum_sessions()}: 19 for the 1,400-bar indicator warm-up"):
        plan_windows(profile)


def test_config_text_loads_and_holds_the_plan(seven_months, tmp_path):
    profile = profile_minutes("MES_1min.txt", as_read(seven_months))
    plan = plan_windows(profile)
    path = tmp_path / "lab.toml"
    path.write_text(config_text(profile, plan, "/data/MES_1min.txt"))
    config = load_config(path)
    assert config.data.path == "/data/MES_1min.txt" and config.data.instrument == "MES"
    assert (config.windows.train.start, config.windows.test.end) == (plan.train[0], plan.test[1])
    assert config.walk_forward.min_train_months == plan.min_train_months
    assert config.promotion.model_name == "mes-scalper"
    assert "looked at once" in path.read_text() or "ONCE" in path.read_text()
    assert len(next_commands()) == 5

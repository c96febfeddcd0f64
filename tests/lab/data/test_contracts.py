"""Per-contract files stitched into one continuous series with the measured roll table."""

from __future__ import annotations

import zipfile

import numpy as np
import pandas as pd
import pytest

from lab.config import LabConfig
from lab.data.contracts import is_contract_set, read_contract_set, stitch_contracts
from lab.data.readers import read_minutes, write_firstrate
from lab.data.rolls import back_adjust, detect_rolls, read_roll_table, roll_table_path
from lab.dataset.build import known_rolls, resolve_data_path, source_of
from lab.errors import DataError
from tests.conftest import make_minutes

PRICES = ["open", "high", "low", "close"]
SPREAD = 12.5
SWITCH = pd.Timestamp("2024-03-06 18:00", tz="America/New_York")  # the session of Thursday 2024-03-07


@pytest.fixture(scope="module")
def pair():
    """MESH24 and MESM24: one walk, the June contract 12.5 points above, overlapping around the roll."""
    base = make_minutes("2024-02-12", "2024-03-28", seed=8, overnight=True)
    front = base.loc[: "2024-03-15 16:00"]
    nxt = base.loc["2024-02-26":].copy()
    nxt[PRICES] += SPREAD
    return base, front, nxt


def test_stitched_pair_equals_the_back_adjusted_continuous_series(pair):
    base, front, nxt = pair
    minutes, rolls = stitch_contracts({"MESH24": front, "MESM24": nxt})
    assert rolls[["front", "next", "gap", "method"]].to_dict("records") == [
        {"front": "MESH24", "next": "MESM24", "gap": SPREAD, "method": "schedule"}]
    assert rolls["minute"].tolist() == [SWITCH]
    continuous = pd.concat([front.loc[front.index < SWITCH], nxt.loc[nxt.index >= SWITCH]])  # a vendor's unadjusted file
    pd.testing.assert_frame_equal(minutes, continuous, check_names=False)
    pd.testing.assert_frame_equal(back_adjust(minutes, rolls), back_adjust(continuous, detect_rolls(continuous, "MES")),
                                  check_names=False)
    np.testing.assert_array_equal(back_adjust(minutes, rolls)[PRICES].to_numpy(), (base[PRICES] + SPREAD).to_numpy())


def test_stitch_on_volume_switches_the_first_session_the_next_contract_trades_more(pair):
    _, front, nxt = pair
    nxt = nxt.copy()
    nxt["volume"] = np.where(nxt.index >= pd.Timestamp("2024-03-03 18:00", tz="America/New_York"), 10_000, 1)
    minutes, rolls = stitch_contracts({"MESH24": front, "MESM24": nxt}, rule="volume")
    assert rolls["minute"].tolist() == [pd.Timestamp("2024-03-03 18:00", tz="America/New_York")]
    assert rolls["method"].tolist() == ["volume"] and rolls["gap"].tolist() == [SPREAD]
    assert minutes.index.is_monotonic_increasing and minutes.index.is_unique


def test_stitch_refuses_contracts_that_share_no_minute_before_the_switch(pair):
    _, front, nxt = pair
    with pytest.raises(DataError, match="share no minute before the switch"):
        stitch_contracts({"MESH24": front.loc[:"2024-02-20"], "MESM24": nxt.loc["2024-03-01":]})


def test_folder_and_zip_of_vendor_named_files_read_alike(pair, tmp_path):
    _, front, nxt = pair
    folder = tmp_path / "mes"
    folder.mkdir()
    write_firstrate(front, folder / "MESH24.txt")
    write_firstrate(nxt, folder / "MES_M24.txt")
    with zipfile.ZipFile(tmp_path / "mes.zip", "w") as archive:
        for file in folder.iterdir():
            archive.write(file, f"contracts/{file.name}")
    assert is_contract_set(folder) and is_contract_set(tmp_path / "mes.zip")
    from_folder, rolls = read_contract_set(folder)
    from_zip, rolls_zip = read_contract_set(tmp_path / "mes.zip")
    pd.testing.assert_frame_equal(from_folder, from_zip)
    assert rolls["gap"].tolist() == rolls_zip["gap"].tolist() == [SPREAD]
    (folder / "notes.txt").write_text("not a contract")
    with pytest.raises(DataError, match="notes.txt: not a contract file name"):
        read_contract_set(folder)


def test_a_configured_folder_is_stitched_once_and_its_roll_table_feeds_the_digest(pair, tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_HOME", str(tmp_path))
    _, front, nxt = pair
    folder = tmp_path / "mes"
    folder.mkdir()
    write_firstrate(front, folder / "MESH24.txt")
    write_firstrate(nxt, folder / "MESM24.txt")
    config = LabConfig().replace({"data.path": str(folder)})
    said = []
    path, synthetic = resolve_data_path(config, progress=said.append)
    assert not synthetic and path.name == "mes_stitched_schedule.txt" and "stitched" in said[0]
    assert resolve_data_path(config, progress=said.append)[0] == path and len(said) == 1  # reused, not re-stitched
    assert known_rolls(path)["gap"].tolist() == [SPREAD]
    assert read_minutes(path).minutes.index[0] == front.index[0]
    before = source_of(path).sha256
    table = read_roll_table(roll_table_path(path)).assign(gap=10.0)
    table.assign(minute=table["minute"].astype(str)).to_csv(roll_table_path(path), index=False)
    assert source_of(path).sha256 != before  # the roll table is part of the dataset's input

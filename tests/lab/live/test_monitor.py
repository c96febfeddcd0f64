"""The monitor's PSI, ECE and P&L bands against cases computed by hand."""

import math

import numpy as np
import pandas as pd
import pytest

from lab.errors import LabError
from lab.models.evaluation import expected_calibration_error
from lab.live.monitor import monitor_alerts, pnl_bands, psi, psi_table


def test_psi_of_a_sample_against_itself_is_zero():
    values = np.arange(100.0)
    assert psi(values, values) == 0.0


def test_psi_two_bins_by_hand():
    # reference 0..9: median edge 4.5 -> bins {0..4}, {5..9}, shares 0.5 / 0.5
    # recent: 8 values below 4.5, 2 above -> 0.8 / 0.2
    # PSI = (0.8-0.5) ln(0.8/0.5) + (0.2-0.5) ln(0.2/0.5) = 0.3 ln 1.6 + 0.3 ln 2.5
    recent = np.array([0, 1, 1, 2, 2, 3, 3, 4, 7, 9.0])
    expected = 0.3 * math.log(1.6) + 0.3 * math.log(2.5)
    assert psi(np.arange(10.0), recent, n_bins=2) == pytest.approx(expected, rel=1e-12)


def test_psi_floors_empty_bins_and_ignores_nan():
    # all recent values in the upper bin: shares (1e-4, 1) against (0.5, 0.5)
    expected = (1e-4 - 0.5) * math.log(1e-4 / 0.5) + 0.5 * math.log(2.0)
    got = psi(np.arange(10.0), np.array([8.0, 9.0, np.nan]), n_bins=2)
    assert got == pytest.approx(expected, rel=1e-12)


def test_psi_refuses_empty_samples():
    with pytest.raises(LabError, match="PSI needs values on both sides"):
        psi(np.array([np.nan]), np.arange(3.0))


def test_psi_table_flags_the_shifted_feature():
    rng = np.random.default_rng(0)
    reference = pd.DataFrame({"calm": rng.normal(size=5000), "shifted": rng.normal(size=5000)})
    recent = pd.DataFrame({"calm": rng.normal(size=2000), "shifted": rng.normal(1.5, 1, size=2000)})
    table = psi_table(reference, recent, ["calm", "shifted"])
    assert table["feature"].tolist() == ["shifted", "calm"] and table["alert"].tolist() == [True, False]


def test_ece_by_hand_and_the_alert_rule():
    # bins: [0.1, 0.2) holds p=0.15 twice (y 0, 1): gap |0.15 - 0.5| = 0.35 over 2 rows;
    # [0.9, 1.0] holds p=0.95 twice (y 1, 1): gap 0.05 over 2 rows -> ECE = (2*0.35 + 2*0.05) / 4 = 0.2
    ece = expected_calibration_error(np.array([0, 1, 1, 1]), np.array([0.15, 0.15, 0.95, 0.95]))
    assert ece == pytest.approx(0.2)
    calm = pd.DataFrame({"feature": ["a"], "psi": [0.1]})
    assert monitor_alerts(calm, ece, 0.1) == []
    assert monitor_alerts(calm, ece, 0.09) == ["ece 0.2000 > 2 x validation ece 0.0900"]
    assert monitor_alerts(pd.DataFrame({"feature": ["a"], "psi": [0.3]}), 0.0, 0.1) == ["psi a = 0.300 > 0.25"]


def test_pnl_bands_of_constant_trades_are_exact():
    bands = pnl_bands(np.full(50, 10.0), np.array([-5.0, -5.0, 0.0]))
    assert bands["band_p05_usd"] == bands["band_p95_usd"] == 30.0
    assert bands["recent_total_pnl_usd"] == -10.0 and bands["below_band"] == 1.0 and bands["above_band"] == 0.0

import dataclasses
import datetime as dt

import pytest

from lab.config import LabConfig, load_config
from lab.errors import ConfigError
from tests.conftest import PROJECT_ROOT


def test_load_config_project_lab_toml_equals_built_in_defaults():
    config = load_config(PROJECT_ROOT / "lab.toml")
    assert dataclasses.replace(config, source="<defaults>") == LabConfig()
    assert config.windows.test.start == dt.date(2024, 1, 1)
    assert config.instrument.tick_value_usd == 1.25


@pytest.mark.parametrize(
    "text, message",
    [
        ("[data]\npaht = 'x'\n", r"\[data\]: unknown key\(s\) 'paht'; valid keys: .*path"),
        ("[dta]\npath = 'x'\n", r"top level: unknown key\(s\) 'dta'"),
        ("[data]\ninstrument = 'CL'\n", r"instrument = 'CL' is not a built-in instrument; use one of ES, MES, MNQ, NQ"),
        ("[data]\ntimezone = 'Mars/Olympus'\n", r"timezone = 'Mars/Olympus' is not an IANA time zone"),
        ("[windows]\ntest = ['2023-06-01', '2024-12-31']\n", r"validation .* must end before test starts"),
        ("[windows]\ntrain = ['2019-05-01']\n", r"windows.train = \['2019-05-01'\] must be a pair of dates"),
        ("[rules]\nentry_threshold = 0.45\n", r"\[rules\] entry_threshold = 0.45 must lie in \(0.5, 1\]"),
        ("[rules]\ntime_stop_bars = 2.5\n", r"rules.time_stop_bars = 2.5 must be a whole number"),
        ("[costs]\ncommission_per_contract_usd = -1\n", r"commission_per_contract_usd = -1.0 must be >= 0"),
        ("[model]\nengine = 'catboost'\n", r"\[model\] engine = 'catboost' is not one of lightgbm, xgboost"),
        ("[data\n", r"not valid TOML"),
        ("[costs]\ncommission_per_contract_usd = nan\n",
         r"costs.commission_per_contract_usd = nan must be a finite number \(nan and inf are not allowed\)"),
        ("[costs]\nexit_slippage_ticks = inf\n", r"costs.exit_slippage_ticks = inf must be a finite number"),
        ("[rules]\ndaily_loss_limit_usd = -inf\n", r"rules.daily_loss_limit_usd = -inf must be a finite number"),
        ("[rules]\ntime_stop_bars = inf\n", r"rules.time_stop_bars = inf must be a finite number"),
        ("[tune]\nlearning_rate = [0.1, nan]\n", r"tune.learning_rate\[1\] = nan must be a finite number"),
        ("[criteria]\nmax_daily_loss_usd = nan\n", r"criteria.max_daily_loss_usd = nan must be a finite number"),
    ],
)
def test_load_config_bad_values_name_key_value_and_fix(tmp_path, text, message):
    path = tmp_path / "lab.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_load_config_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match=r"does not exist; pass --config"):
        load_config(tmp_path / "absent.toml")


def test_load_config_overrides_apply_and_validate(tmp_path):
    config = load_config(PROJECT_ROOT / "lab.toml", {"data.path": "f.txt", "rules.stop_loss_ticks": 10})
    assert config.data.path == "f.txt" and config.rules.stop_loss_ticks == 10.0
    with pytest.raises(ConfigError, match=r"unknown configuration key 'rules.stop_ticks'"):
        load_config(PROJECT_ROOT / "lab.toml", {"rules.stop_ticks": 10})


def test_load_config_overrides_refuse_non_finite_numbers():
    with pytest.raises(ConfigError, match=r"costs.entry_slippage_ticks = 'nan' must be a finite number"):
        load_config(PROJECT_ROOT / "lab.toml", {"costs.entry_slippage_ticks": "nan"})


def test_lab_config_flat_uses_dotted_keys():
    flat = LabConfig().flat()
    assert flat["rules.stop_loss_ticks"] == "8.0"
    assert flat["windows.test"] == "2024-01-01..2025-12-31"
    assert flat["strategy.breakout.range_low"] == "0.35"
    assert "source" not in flat


def test_load_lab_config_without_a_file_here_reads_the_projects_and_a_named_file_must_exist(tmp_path, monkeypatch):
    from lab.config import load_lab_config
    from lab.paths import code_root

    monkeypatch.chdir(tmp_path)
    assert load_lab_config().source == str(code_root() / "lab.toml")  # none here: the project's
    with pytest.raises(ConfigError, match=r"configuration file '.*other.toml' does not exist; pass --config"):
        load_lab_config("other.toml")
    (tmp_path / "lab.toml").write_text("[rules]\nstop_loss_ticks = 9\n")
    assert load_lab_config().rules.stop_loss_ticks == 9.0  # ./lab.toml where the user stands wins
    assert load_lab_config("lab.toml").rules.stop_loss_ticks == 9.0


def test_data_roll_settings_are_validated_and_back_by_default():
    assert (LabConfig().data.roll_adjust, LabConfig().data.roll_rule) == ("back", "schedule")
    with pytest.raises(ConfigError, match=r"\[data\] roll_adjust = 'forward' is not one of none, back"):
        LabConfig().replace({"data.roll_adjust": "forward"})
    with pytest.raises(ConfigError, match=r"\[data\] roll_rule = 'open_interest' is not one of schedule, volume"):
        LabConfig().replace({"data.roll_rule": "open_interest"})

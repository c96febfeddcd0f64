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
        ("[rules]\nlimit_fill = 'queue'\n", r"\[rules\] limit_fill = 'queue' is not one of through, touch"),
        ("[rules]\nlimit_through_ticks = 0\n",
         r"\[rules\] limit_through_ticks = 0 must be a whole number of ticks >= 1 .* set limit_fill = \"touch\""),
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


def test_load_config_ignores_a_byte_order_mark(tmp_path):
    path = tmp_path / "lab.toml"
    path.write_bytes(b"\xef\xbb\xbf[rules]\nlimit_fill = \"touch\"\n")
    assert load_config(path).rules.limit_fill == "touch"


@pytest.mark.parametrize(
    "text, message",
    [
        ("[criteria]\nmin_win_rate = 1.5\n",
         r"^\[criteria\] min_win_rate = 1.5 must lie in \[0, 1\] \(a rate, as a fraction\); write e.g. 0.55 for 55 %$"),
        ("[criteria]\ntarget_profitable_days = 60\n", r"^\[criteria\] target_profitable_days = 60.0 must lie in \[0, 1\]"),
        ("[criteria]\nmin_trades_per_day = -1\n", r"^\[criteria\] min_trades_per_day = -1.0 must be >= 0$"),
        ("[promotion]\nmin_validation_auc = 1.5\n",
         r"^\[promotion\] min_validation_auc = 1.5 must lie in \[0.5, 1\] \(an AUC floor: 0.5 is a coin, 1 is perfect\); "
         r"write e.g. 0.55$"),
        ("[promotion]\nmin_walk_forward_auc = 0.3\n", r"^\[promotion\] min_walk_forward_auc = 0.3 must lie in \[0.5, 1\]"),
        ("[strategy.breakout]\nmin_volatility_probability = 2\n",
         r"^\[strategy.breakout\] min_volatility_probability = 2.0 must lie in \[0, 1\] \(a probability, as a fraction\)"),
        ("[tune]\nlearning_rate = [0.05, 5]\n",
         r"^\[tune\] learning_rate value = 5.0 must lie in \(0, 1\] \(the range of \[model\] learning_rate\); "
         r"write e.g. 0.05$"),
        ("[tune]\nnum_leaves = [15, -31]\n",
         r"^\[tune\] num_leaves value = -31 must lie in \[2, 131072\] \(the range of \[model\] num_leaves\); write e.g. 31$"),
        ("[tune]\nnum_leaves = ['fast']\n", r"^tune.num_leaves\[0\] = 'fast' must be a whole number$"),
        ("[tune]\nmax_depth = [0]\n", r"^\[tune\] max_depth value = 0 must be >= 1"),
        ("[model]\nnum_leaves = 1\n", r"^\[model\] num_leaves = 1 must lie in \[2, 131072\]"),
        ("[windows]\ntrain = ['2019-13-45', '2022-12-31']\n",
         r"^windows.train = '2019-13-45' is not a calendar date \(month must be in 1..12\); write an existing date as "
         r"YYYY-MM-DD, e.g. 2019-02-28$"),
        ("[windows]\nvalidation = ['2023-01-01', '2019-02-30']\n",
         r"^windows.validation = '2019-02-30' is not a calendar date \(day is out of range for month\)"),
        ("[data]\nsynthetic_start = 'soon'\n",
         r"^data.synthetic_start = 'soon' is not a date; write an existing date as YYYY-MM-DD"),
    ],
)
def test_load_config_refuses_out_of_range_rates_floors_grids_and_dates(tmp_path, text, message):
    path = tmp_path / "lab.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


@pytest.mark.parametrize(
    "option, text, message",
    [
        ("-P start", "2019-13-45", r"^-P start = '2019-13-45' is not a calendar date \(month must be in 1..12\); "
                                   r"write an existing date as YYYY-MM-DD, e.g. 2019-02-28$"),
        ("--from", "2019-02-30", r"^--from = '2019-02-30' is not a calendar date \(day is out of range for month\)"),
        ("--to", "next week", r"^--to = 'next week' is not a date; write an existing date as YYYY-MM-DD"),
    ],
)
def test_parse_date_param_names_the_parameter_value_and_fix(option, text, message):
    from lab.config.parsing import parse_date_param

    with pytest.raises(ConfigError, match=message):
        parse_date_param(option, text)
    assert parse_date_param(option, "2019-02-28") == dt.date(2019, 2, 28)


def test_parse_number_param_names_the_parameter_value_and_fix():
    from lab.config.parsing import parse_number_param

    with pytest.raises(ConfigError, match=r"^-P threshold = 'high' is not a number; write e.g. 0.6$"):
        parse_number_param("-P threshold", "high", "0.6")
    with pytest.raises(ConfigError, match=r"^-P threshold = 'nan' must be a finite number; write e.g. 0.6$"):
        parse_number_param("-P threshold", "nan", "0.6")
    assert parse_number_param("-P threshold", " 0.65 ", "0.6") == 0.65
def test_data_roll_settings_are_validated_and_back_by_default():
    assert (LabConfig().data.roll_adjust, LabConfig().data.roll_rule) == ("back", "schedule")
    with pytest.raises(ConfigError, match=r"\[data\] roll_adjust = 'forward' is not one of none, back"):
        LabConfig().replace({"data.roll_adjust": "forward"})
    with pytest.raises(ConfigError, match=r"\[data\] roll_rule = 'open_interest' is not one of schedule, volume"):
        LabConfig().replace({"data.roll_rule": "open_interest"})

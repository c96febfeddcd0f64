import pytest

from lab.errors import ConfigError
from lab.market.instruments import instrument_warnings, price_level_mismatch, symbol_in_filename


def test_symbol_in_filename_reads_firstrate_names():
    assert symbol_in_filename("NQ_full_1min_continuous_UNadjusted.zip") == "NQ"
    assert symbol_in_filename("firstrate_MES_1min_sample.csv") == "MES"
    assert symbol_in_filename("my_minutes.csv") is None
    assert symbol_in_filename("nq_lowercase.txt") is None  # only upper-case roots count


def test_instrument_warnings_on_an_nq_file_under_mes():
    found = instrument_warnings("NQ_full_1min_UNadjusted.txt", "MES", {2023: 16000.0})
    assert len(found) == 2
    assert 'the file name says NQ, but [data] instrument = \'MES\'' in found[0] and 'instrument = "NQ"' in found[0]
    assert "median price in 2023 is 16,000.00" in found[1] and "3,780..4,800" in found[1]


def test_instrument_warnings_quiet_when_file_and_config_agree():
    assert instrument_warnings("NQ_full_1min_UNadjusted.txt", "NQ", {2022: 12000.0, 2023: 15000.0}) == []
    assert instrument_warnings("MES_1min.txt", "MES", {2020: 3200.0}) == []
    assert price_level_mismatch("MES", {1999: 100.0}) is None  # years outside the table are not judged


def test_price_level_mismatch_without_a_symbol_in_the_name():
    assert instrument_warnings("minutes.csv", "NQ", {2021: 4300.0})[0].startswith("minutes.csv: the median price in 2021")


def test_es_file_under_mes_warns_about_the_name_not_the_price():
    found = instrument_warnings("ES_1min.txt", "MES", {2020: 3200.0})  # same index, ten times the tick value
    assert len(found) == 1 and "the file name says ES" in found[0]


def test_roll_date_is_the_thursday_eight_days_before_the_third_friday():
    import datetime as dt

    from lab.market.instruments import expiry_date, roll_date, scheduled_rolls

    assert [roll_date("ES", 2023, m) for m in (3, 6, 9, 12)] == [dt.date(2023, 3, 9), dt.date(2023, 6, 8),
                                                                 dt.date(2023, 9, 7), dt.date(2023, 12, 7)]
    assert all(roll_date("MNQ", 2022, m).weekday() == 3 for m in (3, 6, 9, 12))
    assert expiry_date("ES", 2008, 3) == dt.date(2008, 3, 20)  # Good Friday: the session before
    assert roll_date("ES", 2008, 3) == dt.date(2008, 3, 13)
    rolls = scheduled_rolls("NQ", dt.date(2019, 1, 1), dt.date(2019, 12, 31))
    assert [r.front for r in rolls] == ["NQH19", "NQM19", "NQU19", "NQZ19"]
    assert rolls[-1].next == "NQH20"


def test_roll_schedule_unknown_root_says_where_schedules_go():
    from lab.market.instruments import roll_schedule

    with pytest.raises(ConfigError, match="add one to ROLL_SCHEDULES in lab/market/instruments.py"):
        roll_schedule("CL")


def test_parse_contract_name_reads_vendor_spellings():
    from lab.market.instruments import parse_contract_name

    assert parse_contract_name("MESH24.txt") == ("MES", 2024, 3)
    assert parse_contract_name("MES_H24.csv") == ("MES", 2024, 3)
    assert parse_contract_name("MNQZ2023_1min.txt") == ("MNQ", 2023, 12)
    assert parse_contract_name("nq-u19.zip") == ("NQ", 2019, 9)
    assert parse_contract_name("MES_full_1min_continuous_UNadjusted.txt") is None

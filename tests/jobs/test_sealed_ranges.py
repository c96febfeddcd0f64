"""Sealed test ranges hold whatever the configuration says (issue 8, attacks 1 and 2, the synthetic/real split).

One store, one real file (market ES), one champion spent on 2023-07 under ``lab.toml``; then the
attacks, each with an ordinary command, each refused.
"""

from __future__ import annotations

import mlflow
import pytest
from click.testing import CliRunner

from lab.data.readers import write_firstrate
from tests.conftest import SMALL_CHAIN_SETTINGS, make_minutes, use_store

pytestmark = pytest.mark.slow  # its fixtures run a chain (featurize, tune, promote, final-eval) each

CONFIG = """
[data]
path = "{path}"
instrument = "{instrument}"
synthetic_start = 2022-05-01
synthetic_end = 2023-10-31
synthetic_seed = 7
[windows]
train = ["2022-06-01", "2023-04-30"]
validation = ["{validation[0]}", "{validation[1]}"]
test = ["{test[0]}", "{test[1]}"]
[promotion]
model_name = "{model}"
""" + SMALL_CHAIN_SETTINGS
SEALED = "2023-07-01..2023-07-31"


def write(folder, name, path="", instrument="MES", validation=("2023-05-01", "2023-06-30"),
          test=("2023-07-01", "2023-07-31"), model="seal-test") -> str:
    config = folder / name
    config.write_text(CONFIG.format(path=path, instrument=instrument, validation=validation, test=test, model=model))
    return str(config)


def _store(patch, tmp, uri: str) -> None:
    use_store(patch, tmp, "seals", uri)


@pytest.fixture(scope="module")
def spent(tmp_path_factory):
    """featurize, tune, promote (forced) and final-eval under lab.toml: 2023-07 is sealed and spent on ES."""
    from jobs import featurize, final_eval, tune
    from cli.main import cli

    tmp = tmp_path_factory.mktemp("seals")
    with pytest.MonkeyPatch.context() as patch:
        _store(patch, tmp, f"sqlite:///{tmp / 'mlflow.db'}")
        raw = write_firstrate(make_minutes("2022-05-01", "2023-10-31", seed=11), tmp / "raw.txt")
        config = write(tmp, "lab.toml", path=raw)
        assert featurize.main(["--config", config]) == 0
        assert tune.main(["--config", config, "--workers", "1"]) == 0
        tune_run = mlflow.search_runs(search_all_experiments=True, output_format="list",
                                      filter_string="tags.`lab.stage` = 'tune'")[0].info.run_id
        promoted = CliRunner().invoke(cli, ["promote", "--run-id", tune_run, "--config", config, "--force",
                                            "--reason", "seal test"])
        assert promoted.exit_code == 0, promoted.output
        assert final_eval.main(["--config", config]) == 0
        yield tmp, raw, tune_run
        mlflow.set_tracking_uri(None)


def _feature_folders(tmp) -> set[str]:
    folder = tmp / "data" / "features"
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


def test_peek_config_through_backtest_run_id_is_refused(spent, capsys):
    """Attack 1: a copy of lab.toml whose validation is the sealed test window, `backtest -P run_id=T`.

    Lineage refuses it first (the peek windows give another dataset digest than T's); the same
    config through featurize meets the seal.
    """
    from jobs import backtest, featurize
    from jobs.lineage import dataset_digest_of
    from lab.config import load_config

    tmp, raw, tune_run = spent
    peek = write(tmp, "peek.toml", path=raw, validation=("2023-07-01", "2023-07-31"), test=("2023-09-01", "2023-09-30"))
    own = mlflow.MlflowClient().get_run(tune_run).data.tags["lab.dataset_digest"]
    other = dataset_digest_of(load_config(peek))
    assert other != own
    before = _feature_folders(tmp)
    capsys.readouterr()
    assert backtest.main(["--config", peek, "--run-id", tune_run]) == 2
    err = capsys.readouterr().err
    assert f"backtest builds on run {tune_run}, made on dataset {own}" in err
    assert f"give(s) dataset {other}" in err and f"validation {SEALED}" in err
    assert _feature_folders(tmp) == before  # nothing of the sealed range was read or cached
    assert featurize.main(["--config", peek]) == 2
    err = capsys.readouterr().err
    assert f"[windows] validation {SEALED} overlaps the sealed test range {SEALED} of market ES" in err
    assert "by featurize run" in err and "; spent: final-eval run" in err
    assert _feature_folders(tmp) == before


@pytest.mark.parametrize("entry", ["featurize", "tune"])
def test_peek_config_through_featurize_and_tune_is_refused(spent, capsys, entry):
    from jobs import featurize, tune

    tmp, raw, _ = spent
    peek = write(tmp, f"peek-{entry}.toml", path=raw, validation=("2023-06-15", "2023-07-10"),
                 test=("2023-09-01", "2023-09-30"))
    capsys.readouterr()
    main = {"featurize": featurize.main, "tune": tune.main}[entry]
    assert main(["--config", peek] + (["--workers", "1"] if entry == "tune" else [])) == 2
    assert f"overlaps the sealed test range {SEALED} of market ES" in capsys.readouterr().err


def test_switching_the_instrument_to_the_full_size_contract_is_no_escape(spent, capsys):
    from jobs import featurize

    tmp, raw, _ = spent
    peek = write(tmp, "peek-es.toml", path=raw, instrument="ES", validation=("2023-07-01", "2023-07-31"),
                 test=("2023-09-01", "2023-09-30"))
    capsys.readouterr()
    assert featurize.main(["--config", peek]) == 2
    assert "of market ES" in capsys.readouterr().err


def test_copied_file_shares_the_seal(spent, capsys):
    import shutil

    from jobs import featurize

    tmp, raw, _ = spent
    copy = shutil.copy(raw, tmp / "renamed-download.csv.txt")
    peek = write(tmp, "peek-copy.toml", path=copy, validation=("2023-07-01", "2023-07-31"),
                 test=("2023-09-01", "2023-09-30"))
    capsys.readouterr()
    assert featurize.main(["--config", peek]) == 2
    assert "sealed test range 2023-07-01..2023-07-31 of market ES" in capsys.readouterr().err


def test_renamed_model_name_gives_no_second_look(spent, capsys):
    """Attack 2: promote the same run under another [promotion] model_name, then final-eval again."""
    from jobs import final_eval
    from cli.main import cli

    tmp, raw, tune_run = spent
    renamed = write(tmp, "renamed.toml", path=raw, model="seal-test-renamed")
    promoted = CliRunner().invoke(cli, ["promote", "--run-id", tune_run, "--config", renamed, "--force",
                                        "--reason", "second look"])
    assert promoted.exit_code == 0, promoted.output
    capsys.readouterr()
    assert final_eval.main(["--config", renamed]) == 2
    err = capsys.readouterr().err
    assert f"the test window {SEALED} of market ES was already taken" in err
    assert "model seal-test)" in err and "whatever the model is called" in err


def test_later_test_window_adds_a_seal_and_reads_around_the_sealed_one(spent, capsys):
    """A later config with another test window adds a seal (never lifts one); its read skips 2023-07."""
    from jobs import featurize
    from registry.seals import list_seals

    tmp, raw, _ = spent
    later = write(tmp, "later.toml", path=raw, validation=("2023-08-01", "2023-09-29"), test=("2023-10-01", "2023-10-31"))
    capsys.readouterr()
    assert featurize.main(["--config", later]) == 0
    captured = capsys.readouterr()
    assert f"outside sealed {SEALED}" in captured.err
    assert [str(s.window) for s in list_seals("ES")][:1] == [SEALED]
    assert "2023-10-01..2023-10-31" in [str(s.window) for s in list_seals("ES")]


def test_synthetic_data_never_seals_or_spends_real_dates(spent, capsys):
    """The lab's synthetic default is a market of its own: its seals and the real ones never meet."""
    from jobs import featurize
    from registry.seals import list_seals

    tmp, raw, _ = spent
    # Synthetic data with validation on the real market's sealed range: allowed (another market) ...
    synthetic = write(tmp, "synthetic.toml", validation=("2023-07-01", "2023-07-31"), test=("2023-09-01", "2023-09-30"))
    capsys.readouterr()
    assert featurize.main(["--config", synthetic]) == 0, capsys.readouterr().err
    markets = {s.market for s in list_seals()}
    synthetic_market = "synthetic-ES-seed7-20220501-20231031"
    assert synthetic_market in markets
    assert "2023-09-01..2023-09-30" in [str(s.window) for s in list_seals(synthetic_market)]
    # ... and what it sealed binds the synthetic market only, never the real one.
    real = write(tmp, "real-sept.toml", path=raw, validation=("2023-08-01", "2023-09-29"), test=("2023-10-01", "2023-10-31"))
    assert featurize.main(["--config", real]) == 0
    synthetic_peek = write(tmp, "synthetic-peek.toml", validation=("2023-08-01", "2023-09-29"),
                           test=("2023-10-01", "2023-10-31"))
    capsys.readouterr()
    assert featurize.main(["--config", synthetic_peek]) == 2
    assert f"of market {synthetic_market}" in capsys.readouterr().err


def test_a_copy_of_synthetic_data_without_its_record_counts_as_real(spent):
    import shutil

    from lab.config import load_config
    from lab.dataset.build import data_source, resolve_data_path
    from lab.market.identity import market_id

    tmp, _, _ = spent
    config = load_config(write(tmp, "synthetic-copy.toml"))
    generated, _ = resolve_data_path(config)
    assert market_id(config.data.instrument, data_source(config)).startswith("synthetic-")
    copy = shutil.copy(generated, tmp / "looks-real.txt")
    assert market_id(config.data.instrument, data_source(config.replace({"data.path": str(copy)}))) == "ES"


def test_status_lists_the_spent_seal_with_its_run_and_verdict(spent):
    from cli.main import cli

    tmp, raw, _ = spent
    result = CliRunner().invoke(cli, ["status", "--config", str(tmp / "lab.toml")])
    assert result.exit_code == 0, result.output
    assert f"ES {SEALED}: SPENT: final-eval run" in result.output
    assert "(model seal-test) gave the verdict" in result.output


# -- final-eval checks before it looks (attack 3) --------------------------------------------

SEPTEMBER = "2023-09-01..2023-09-30"


@pytest.fixture(scope="module")
def september(spent):
    """Champions whose own config has the test window 2023-09 on a file that fails final-eval's pre-checks.

    ``short``: the file ends 2023-09-15; ``cut``: its last line (2023-09-29 15:59) is cut mid-line.
    Tune reads only before the test window, so both tune; final-eval (lineage: the champion's own
    config and data) reaches its pre-checks on the test window.
    """
    from jobs import tune
    from cli.main import cli

    tmp, raw, _ = spent
    short = write_firstrate(make_minutes("2022-05-01", "2023-09-15", seed=11), tmp / "short.txt")
    text = raw.read_text()
    cut = tmp / "cut.txt"
    cut.write_text(text[: text.index("\n2023-09-29 15:59") + 1] + "2023-09-29 15:59:00,4001.25,40")  # cut mid-line
    configs = {}
    for name, path in (("short", short), ("cut", cut)):
        config = write(tmp, f"sep-{name}.toml", path=path, test=("2023-09-01", "2023-09-30"), model=f"seal-{name}")
        assert tune.main(["--config", config, "--workers", "1"]) == 0
        tune_run = mlflow.search_runs(search_all_experiments=True, output_format="list",
                                      filter_string=f"tags.`lab.stage` = 'tune' and tags.`lab.config_source` = '{config}'")
        promoted = CliRunner().invoke(cli, ["promote", "--run-id", tune_run[0].info.run_id, "--config", config,
                                            "--force", "--reason", "pre-check test"])
        assert promoted.exit_code == 0, promoted.output
        configs[name] = config
    return tmp, configs


def _assert_open_after(capsys, main_result: int, *needles: str) -> None:
    from registry.ticket import get_ticket

    assert main_result == 2
    err = capsys.readouterr().err
    for needle in needles:
        assert needle in err, err
    assert f"stopped before taking the ticket: the test window {SEPTEMBER} is still open" in err
    assert get_ticket("ES", SEPTEMBER) is None


def test_final_eval_with_a_missing_data_file_leaves_the_window_open(september, capsys):
    """Another -P data than the champion's is refused by lineage, naming the missing file, before the ticket."""
    from jobs import final_eval
    from registry.ticket import get_ticket

    tmp, configs = september
    for data, needle in ((tmp / "typo.txt", "typo.txt' does not exist"), (tmp, "is a folder, not a minute file")):
        capsys.readouterr()
        assert final_eval.main(["--config", configs["short"], "--data", str(data)]) == 2
        err = capsys.readouterr().err
        assert "final-eval: refused:" in err and needle in err, err
        assert get_ticket("ES", SEPTEMBER) is None


def test_final_eval_with_a_file_ending_early_leaves_the_window_open(september, capsys):
    from jobs import final_eval

    _, configs = september
    capsys.readouterr()
    _assert_open_after(capsys, final_eval.main(["--config", configs["short"]]),
                       "before the test window's last session (2023-09-29)")


def test_final_eval_with_a_cut_off_last_line_leaves_the_window_open_and_drop_then_works(september, capsys):
    """Unparsable test rows stop final-eval before the ticket; ``--on-bad-rows drop`` (test read only) then spends it."""
    from jobs import final_eval
    from registry.ticket import get_ticket

    _, configs = september
    capsys.readouterr()
    _assert_open_after(capsys, final_eval.main(["--config", configs["cut"]]), "unparsable rows",
                       "-P on_bad_rows=drop", "--on-bad-rows drop")
    assert final_eval.main(["--config", configs["cut"], "--on-bad-rows", "drop"]) == 0, capsys.readouterr().err
    assert get_ticket("ES", SEPTEMBER).verdict
    run = mlflow.search_runs(search_all_experiments=True, output_format="list",
                             filter_string="tags.`lab.stage` = 'final-eval' and tags.`lab.model_name` = 'seal-cut'",
                             order_by=["attributes.start_time DESC"])[0]
    assert run.data.params["data.on_bad_rows"] == "drop"  # the final-eval run records how it read the window


# -- the same attacks on PostgreSQL --------------------------------------------------------


def test_seals_and_ticket_hold_on_postgresql(postgres_database, tmp_path, capsys):
    """Attack 1 (featurize and tune), attack 2 (renamed model) and the synthetic/real split, on PostgreSQL."""
    from jobs import featurize, tune
    from registry.errors import TicketSpentError
    from registry.seals import list_seals
    from registry.ticket import take_ticket

    with pytest.MonkeyPatch.context() as patch:
        _store(patch, tmp_path, postgres_database)
        try:
            raw = write_firstrate(make_minutes("2022-05-01", "2023-09-30", seed=12), tmp_path / "raw.txt")
            assert featurize.main(["--config", write(tmp_path, "lab.toml", path=raw)]) == 0
            peek = write(tmp_path, "peek.toml", path=raw, validation=("2023-07-01", "2023-07-31"),
                         test=("2023-09-01", "2023-09-30"))
            capsys.readouterr()
            assert featurize.main(["--config", peek]) == 2
            assert tune.main(["--config", peek, "--workers", "1"]) == 2
            assert capsys.readouterr().err.count(f"sealed test range {SEALED} of market ES") == 2

            take_ticket("ES", SEALED, model_name="seal-test", run_id="eval1")
            with pytest.raises(TicketSpentError, match="market ES was already taken"):
                take_ticket("ES", SEALED, model_name="seal-test-renamed", run_id="eval2")

            synthetic = write(tmp_path, "synthetic.toml", validation=("2023-07-01", "2023-07-31"),
                              test=("2023-09-01", "2023-09-30"))
            assert featurize.main(["--config", synthetic]) == 0
            assert [str(s.window) for s in list_seals("ES")] == [SEALED]  # synthetic sealed no real date
            assert [str(s.window) for s in list_seals("synthetic-ES-seed7-20220501-20231031")] == ["2023-09-01..2023-09-30"]
        finally:
            mlflow.set_tracking_uri(None)

"""The lab's synthetic market is proven by the tracking store's record or by regenerating the bytes,
never by a provenance file a user can write."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

from lab.config import load_config
from lab.data.readers import write_firstrate
from lab.data.synth import generate_minutes
from lab.dataset.build import source_of, write_synthetic
from lab.market.identity import market_id, record_path, synthetic_record
from registry.provenance import trusted_source
from tests.conftest import make_minutes

START, END, SEED = dt.date(2023, 3, 1), dt.date(2023, 3, 3), 7


def _generated(tmp_path, name="synth.txt"):
    config = load_config(None)
    minutes = generate_minutes(START, END, SEED, config.instrument, config.session.calendar)
    return write_synthetic(minutes, tmp_path / name, "MES", SEED, START, END), config


def test_a_hand_written_provenance_file_leaves_real_data_real(tracking_store, tmp_path):
    real = write_firstrate(make_minutes("2023-03-01", "2023-03-03", seed=2), tmp_path / "real.txt")
    claimed = source_of(real)
    record = synthetic_record("MES", SEED, START, END, claimed.sha256)
    record_path(real).write_text(json.dumps(record))  # the attacker writes the record beside the file
    source = source_of(real)
    assert source.synthetic is not None  # the file beside it claims synthetic data...
    trusted = trusted_source(source, load_config(None))
    assert trusted.synthetic is None and market_id("MES", trusted) == "ES"  # ...the records do not


def test_lab_status_keys_a_hand_written_provenance_file_as_real_data_and_recorded_data_as_synthetic(
        tracking_store, tmp_path):
    """The ledger's market key (what `lab status` shows, reading no data) takes synthetic from the store's
    record only, as the jobs do."""
    from registry.ledger import market_key

    real = write_firstrate(make_minutes("2023-03-01", "2023-03-03", seed=2), tmp_path / "real.txt")
    record_path(real).write_text(json.dumps(synthetic_record("MES", SEED, START, END, source_of(real).sha256)))
    assert market_key(load_config(None).replace({"data.path": str(real)})) == "ES"
    path, config = _generated(tmp_path)
    assert market_key(config.replace({"data.path": str(path)})) == "ES"  # no record of it yet: real until proven
    trusted_source(dataclasses.replace(source_of(path), generated=True), config)  # the lab records what it generated
    assert market_key(config.replace({"data.path": str(path)})).startswith("synthetic-ES-seed7-")


def test_data_the_lab_generated_is_recorded_and_trusted_without_regenerating(tracking_store, tmp_path, monkeypatch):
    path, config = _generated(tmp_path)
    source = dataclasses.replace(source_of(path), generated=True)
    assert trusted_source(source, config).synthetic is not None
    monkeypatch.setattr("registry.provenance._regenerates", lambda *a: (_ for _ in ()).throw(AssertionError))
    again = trusted_source(source_of(path), config)  # the store's record now answers
    assert market_id("MES", again).startswith("synthetic-ES-seed7-")


def test_a_copy_of_generated_data_in_a_new_store_is_proven_by_regenerating_it(tracking_store, tmp_path):
    path, config = _generated(tmp_path, "copy.txt")
    assert trusted_source(source_of(path), config).synthetic is not None
    edited = path.read_text().replace(",", ",", 1)[:-40] + "\n"
    path.write_text(edited)
    record = json.loads(record_path(path).read_text())
    record["sha256"] = source_of(path).sha256  # the record rewritten to match the edited bytes
    record_path(path).write_text(json.dumps(record))
    assert trusted_source(source_of(path), config).synthetic is None  # regenerating does not give these bytes

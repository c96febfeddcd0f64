"""The feature cache: content digests, and a truncated or damaged cached table found and rebuilt, never read."""

import pandas as pd
import pytest

from lab.config import load_config
from lab.dataset.build import prepare_dataset
from lab.dataset.cache import CacheDamagedError, FeatureCache, file_sha256
from lab.errors import DataError
from tests.lab.conftest import SMALL_WINDOWS


def test_file_sha256_missing_file_is_one_clear_error(tmp_path):
    with pytest.raises(DataError, match=r"minute file '.*absent.txt' does not exist; set \[data\] path .* -P data="):
        file_sha256(tmp_path / "absent.txt")


def test_file_sha256_folder_is_refused_as_not_a_file(tmp_path):
    with pytest.raises(DataError, match=r"minute file '.*' is a folder, not a minute file; pass the minute file itself"):
        file_sha256(tmp_path)


def test_file_sha256_hashes_the_bytes(tmp_path):
    path = tmp_path / "f.txt"
    path.write_bytes(b"abc")
    assert file_sha256(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def _truncate(path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def test_feature_cache_read_names_a_truncated_table(tmp_path):
    cache = FeatureCache(tmp_path)
    cache.write("abc", {"train": pd.DataFrame({"a": range(1000)})}, {"x": 1})
    _truncate(tmp_path / "abc" / "train.parquet")
    assert cache.damage("abc").startswith(f"{tmp_path / 'abc' / 'train.parquet'} is truncated or damaged (")
    with pytest.raises(CacheDamagedError, match=r"^the cached table .*train.parquet is truncated or damaged \("):
        cache.read("abc", "train")
    cache.discard("abc")
    assert not cache.has("abc")


@pytest.mark.parametrize("name", ["train", "minutes_validation", "manifest"])
def test_prepare_dataset_rebuilds_a_truncated_cached_table(minute_file, name):
    config = load_config(None, {"data.path": str(minute_file), **SMALL_WINDOWS})
    first = prepare_dataset(config, progress=lambda m: None)
    damaged = first.folder / (f"{name}.json" if name == "manifest" else f"{name}.parquet")
    _truncate(damaged)
    lines = []
    with pytest.warns(UserWarning, match=r"; rebuilding it from the minute file \(nothing to do\)$"):
        again = prepare_dataset(config, progress=lines.append)
    assert not again.cache_hit and again.digest == first.digest
    assert any(str(damaged) in line and ("truncated or damaged" in line or "unreadable" in line) for line in lines)
    assert again.tables["train"].equals(first.tables["train"])
    pd.read_parquet(again.folder / "minutes_validation.parquet")  # whole again
    assert prepare_dataset(config, progress=lambda m: None).cache_hit

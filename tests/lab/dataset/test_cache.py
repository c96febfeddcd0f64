"""The feature cache: a truncated or damaged cached table is found and rebuilt, never read."""

import pandas as pd
import pytest

from lab.config import load_config
from lab.dataset.build import prepare_dataset
from lab.dataset.cache import CacheDamagedError, FeatureCache
from tests.lab.conftest import SMALL_WINDOWS


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

import pytest

from lab.dataset.cache import file_sha256
from lab.errors import DataError


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

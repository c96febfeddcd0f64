"""The dataset digest follows the code that shapes the tables, not where that code lives."""

from __future__ import annotations

import json
import re
import shutil

from lab.dataset import code
from lab.dataset.code import package_source_key, pipeline_code_digest, pipeline_modules
from tests.conftest import PROJECT_ROOT


def _copy_of_lab(folder):
    """A copy of the lab package (the digest of a folder is computed once per process: copy before editing)."""
    shutil.copytree(PROJECT_ROOT / "lab", folder / "lab", ignore=shutil.ignore_patterns("__pycache__"))
    return folder / "lab"


def test_moving_a_module_without_editing_it_keeps_the_dataset_digest(tmp_path):
    before = pipeline_code_digest(_copy_of_lab(tmp_path / "before"))
    lab = _copy_of_lab(tmp_path / "after")
    assert "lab.market.instruments" in pipeline_modules(tmp_path / "before" / "lab")
    (lab / "market" / "instruments.py").rename(lab / "data" / "contract_specs.py")  # moved and renamed
    for path in lab.rglob("*.py"):  # what a move edits: the import lines of its importers
        text = path.read_text()
        moved = re.sub(r"^(\s*(?:from|import) )lab\.market\.instruments\b", r"\1lab.data.contract_specs", text,
                       flags=re.M)
        if moved != text:
            path.write_text(moved)
    assert "lab.data.contract_specs" in pipeline_modules(lab) and "lab.market.instruments" not in pipeline_modules(lab)
    assert pipeline_code_digest(lab) == before


def test_editing_the_instruments_changes_the_dataset_digest(tmp_path):
    before = pipeline_code_digest(_copy_of_lab(tmp_path / "before"))
    lab = _copy_of_lab(tmp_path / "after")
    specs = lab / "market" / "instruments.py"
    text = specs.read_text()
    assert "0.25" in text
    specs.write_text(text.replace("0.25", "0.5", 1))  # a tick size: the labels follow it
    assert pipeline_code_digest(lab) != before


def test_the_digest_is_remembered_by_the_bytes_of_the_package_and_computed_again_when_one_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_HOME", str(tmp_path / "home"))
    lab = _copy_of_lab(tmp_path / "code")
    computed = code._computed_code_digest(lab)
    assert pipeline_code_digest(lab) == computed
    store = tmp_path / "home" / ".lab" / "pipeline_code.json"
    assert json.loads(store.read_text()) == {package_source_key(lab): computed}
    store.write_text(json.dumps({package_source_key(lab): "remembered"}))  # what a later process reads
    code._pipeline_code_digest.cache_clear()
    assert pipeline_code_digest(lab) == "remembered"
    rules = lab / "rules.py"
    rules.write_text(rules.read_text() + "\n# a comment: other bytes, the same code\n")
    code._pipeline_code_digest.cache_clear()
    assert pipeline_code_digest(lab) == computed

"""The dataset digest follows the code that shapes the tables, not where that code lives."""

from __future__ import annotations

import json
import re
import shutil

from lab.dataset.code import MEMO_NAME, _pipeline, pipeline_code_digest, pipeline_modules
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


def test_the_memo_serves_the_digest_only_while_the_sources_are_unchanged(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_HOME", str(tmp_path / "home"))
    lab = _copy_of_lab(tmp_path / "copy")
    parsed = pipeline_code_digest(lab)
    memo = tmp_path / "home" / ".lab" / MEMO_NAME
    record = json.loads(memo.read_text())
    assert record["digest"] == parsed and "lab.market.instruments" in record["modules"]
    memo.write_text(json.dumps({**record, "digest": "read from the memo"}))
    _pipeline.cache_clear()
    assert pipeline_code_digest(lab) == "read from the memo"  # same bytes: not parsed again
    (lab / "market" / "new_module.py").write_text("X = 1\n")  # a new file may turn an import into a module's
    _pipeline.cache_clear()
    assert pipeline_code_digest(lab) == parsed
    specs = lab / "market" / "instruments.py"
    specs.write_text(specs.read_text().replace("0.25", "0.5", 1))
    _pipeline.cache_clear()
    assert pipeline_code_digest(lab) not in (parsed, "read from the memo")
    memo.write_text("{not json")
    _pipeline.cache_clear()
    edited = pipeline_code_digest(lab)
    assert edited not in (parsed, "read from the memo") and json.loads(memo.read_text())["digest"] == edited

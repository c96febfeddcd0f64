"""The layers hold: import-linter's contracts of pyproject.toml ([tool.importlinter]), checked here.

cli > jobs > registry > lab; inside lab/ only the lab.tracking package imports mlflow; jobs/,
registry/ and cli/ reach MLflow only through lab.tracking (one door); the data and feature
modules import no numba.
"""

import os
import subprocess
import sys
import tomllib


from tests.conftest import PROJECT_ROOT

#: The data and feature modules: featurize needs no JIT compiler.
DATA_AND_FEATURE_MODULES = ["lab.readers", "lab.integrity", "lab.bars", "lab.sessions", "lab.features",
                            "lab.indicators", "lab.targets", "lab.dataset", "lab.cache", "lab.windows", "lab.synth"]


def _lint(folder, pythonpath) -> subprocess.CompletedProcess:
    code = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True, no_logo=True))"
    return subprocess.run([sys.executable, "-c", code], cwd=folder, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(pythonpath)}, timeout=300)


def test_import_contracts_of_pyproject_are_kept():
    result = _lint(PROJECT_ROOT, PROJECT_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    contracts = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    assert {c["name"] for c in contracts} == {"layers: cli > jobs > registry > lab",
                                              "lab/: only lab.tracking imports mlflow",
                                              "one door: jobs, registry, cli reach mlflow only via lab.tracking",
                                              "data and feature modules import no numba"}
    for name in ("cli", "jobs", "registry", "lab"):
        assert f"{name}" in result.stdout
    assert result.stdout.count(" KEPT") == 4
    door = next(c for c in contracts if c["name"].startswith("one door"))
    assert not door.get("ignore_imports"), "the one-door contract has no exceptions"


def test_import_contracts_catch_an_arrow_back_up_and_mlflow_in_the_core(tmp_path):
    """The same contracts on a tiny copy of the layout: lab importing jobs, lab.models and a job importing mlflow."""
    (tmp_path / "pyproject.toml").write_text((PROJECT_ROOT / "pyproject.toml").read_text())
    for package in ("cli", "jobs", "registry", "lab"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    contracts = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    for module in {m for c in contracts for m in c.get("source_modules", []) if "*" not in m and "." in m}:
        (tmp_path / (module.replace(".", "/") + ".py")).write_text("")
    (tmp_path / "mlflow").mkdir()
    (tmp_path / "mlflow" / "__init__.py").write_text("")
    (tmp_path / "numba.py").write_text("")
    (tmp_path / "lab" / "tracking").mkdir()
    (tmp_path / "lab" / "tracking" / "__init__.py").write_text("import mlflow\n")
    (tmp_path / "lab" / "tracking" / "pyfunc.py").write_text("import mlflow\n")
    (tmp_path / "lab" / "readers.py").write_text("def f():\n    import jobs\n")
    (tmp_path / "lab" / "models.py").write_text("import lab.tracking\nimport mlflow\n")
    (tmp_path / "registry" / "promote.py").write_text("import lab.tracking\n")  # through the door: fine
    (tmp_path / "jobs" / "monitor.py").write_text("def f():\n    from mlflow import MlflowClient\n")
    result = _lint(tmp_path, tmp_path)
    assert result.returncode == 1
    assert "layers: cli > jobs > registry > lab BROKEN" in result.stdout
    assert "lab/: only lab.tracking imports mlflow BROKEN" in result.stdout
    assert "one door: jobs, registry, cli reach mlflow only via lab.tracking BROKEN" in result.stdout
    assert "lab.models -> mlflow" in result.stdout and "lab.readers -> jobs" in result.stdout
    assert "jobs.monitor -> mlflow" in result.stdout and "registry.promote -> mlflow" not in result.stdout


def test_data_and_feature_modules_import_no_numba_at_run_time():
    """What the static contract cannot see: importing a submodule runs its package's __init__."""
    code = f"import sys; import {', '.join(DATA_AND_FEATURE_MODULES)}; print('numba' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"

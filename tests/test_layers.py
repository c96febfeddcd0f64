"""The layers hold: import-linter's contracts of pyproject.toml ([tool.importlinter]), checked here.

cli > jobs > registry > lab; inside lab/ the pipeline's packages in order (no arrow up, so no
circle between them); only the lab.tracking package imports mlflow; jobs/, registry/ and cli/
reach MLflow only through lab.tracking (one door); no entry point of jobs/ imports another (what they
share has modules of its own); the modules featurize imports (one derived
list, :func:`lab.dataset.code.pipeline_modules`) import no numba. No module imports another that
imports it back, type-only imports included.
"""

import os
import subprocess
import sys
import tomllib


from tests.conftest import PROJECT_ROOT

from lab.dataset.code import pipeline_modules

CONTRACTS = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def _lint(folder, pythonpath) -> subprocess.CompletedProcess:
    code = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True, no_logo=True))"
    return subprocess.run([sys.executable, "-c", code], cwd=folder, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(pythonpath)}, timeout=300)


def test_import_contracts_of_pyproject_are_kept():
    result = _lint(PROJECT_ROOT, PROJECT_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert {c["name"] for c in CONTRACTS} == {"layers: cli > jobs > registry > lab",
                                              "lab/ packages: the pipeline, top to bottom",
                                              "lab/: only lab.tracking imports mlflow",
                                              "one door: jobs, registry, cli reach mlflow only via lab.tracking",
                                              "data and feature modules import no numba",
                                              "jobs: no entry point imports another"}
    for name in ("cli", "jobs", "registry", "lab"):
        assert f"{name}" in result.stdout
    assert result.stdout.count(" KEPT") == 6
    door = next(c for c in CONTRACTS if c["name"].startswith("one door"))
    assert not door.get("ignore_imports"), "the one-door contract has no exceptions"


def test_import_contracts_catch_an_arrow_back_up_and_mlflow_in_the_core(tmp_path):
    """The same contracts on a tiny copy of the layout: lab importing jobs, lab.models and a job importing mlflow,
    an entry point importing another."""
    (tmp_path / "pyproject.toml").write_text((PROJECT_ROOT / "pyproject.toml").read_text())
    for package in ("cli", "jobs", "registry", "lab"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    layered = {m.strip() for c in CONTRACTS for layer in c.get("layers", []) for m in layer.split("|")}
    sources = {m for c in CONTRACTS for m in c.get("source_modules", [])}
    for module in sorted(m for m in layered | sources if "*" not in m and "." in m):
        folder = tmp_path / module.replace(".", "/")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "__init__.py").touch()
    for module in (m for c in CONTRACTS for m in c.get("modules", [])):  # the entry points: plain modules
        (tmp_path / (module.replace(".", "/") + ".py")).write_text("")
    (tmp_path / "mlflow").mkdir()
    (tmp_path / "mlflow" / "__init__.py").write_text("")
    (tmp_path / "numba.py").write_text("")
    (tmp_path / "lab" / "tracking" / "__init__.py").write_text("import mlflow\n")
    (tmp_path / "lab" / "tracking" / "pyfunc.py").write_text("import mlflow\n")
    (tmp_path / "lab" / "data" / "readers.py").write_text("def f():\n    import jobs\n")
    (tmp_path / "lab" / "models" / "boosters.py").write_text("import lab.tracking\nimport mlflow\n")
    (tmp_path / "lab" / "features" / "core.py").write_text("import lab.study\n")
    (tmp_path / "registry" / "promote.py").write_text("import lab.tracking\n")  # through the door: fine
    (tmp_path / "jobs" / "monitor.py").write_text("def f():\n    from mlflow import MlflowClient\n")
    (tmp_path / "jobs" / "paper.py").write_text("from jobs.final_eval import champion_version\n")
    (tmp_path / "jobs" / "trading.py").write_text("")  # a shared module: fine
    (tmp_path / "jobs" / "backtest.py").write_text("import jobs.trading\n")
    (tmp_path / "jobs" / "final_eval.py").write_text("import jobs.trading\ndef champion_version(): pass\n")
    result = _lint(tmp_path, tmp_path)
    assert result.returncode == 1
    assert "layers: cli > jobs > registry > lab BROKEN" in result.stdout
    assert "lab/: only lab.tracking imports mlflow BROKEN" in result.stdout
    assert "one door: jobs, registry, cli reach mlflow only via lab.tracking BROKEN" in result.stdout
    assert "lab/ packages: the pipeline, top to bottom BROKEN" in result.stdout
    assert "lab.models.boosters -> mlflow" in result.stdout and "lab.data.readers -> jobs" in result.stdout
    assert "lab.features.core -> lab.study" in result.stdout
    assert "jobs.monitor -> mlflow" in result.stdout and "registry.promote -> mlflow" not in result.stdout
    assert "jobs: no entry point imports another BROKEN" in result.stdout
    assert "jobs.paper -> jobs.final_eval" in result.stdout and "jobs.backtest -> jobs.final_eval" not in result.stdout


def test_the_numba_contract_covers_every_module_featurize_imports():
    contract = next(c for c in CONTRACTS if c["name"] == "data and feature modules import no numba")
    covered = tuple(contract["source_modules"])
    assert [m for m in pipeline_modules() if m != "lab" and not m.startswith(covered)] == []


def test_data_and_feature_modules_import_no_numba_at_run_time():
    """What the static contract cannot see: importing a submodule runs its package's __init__."""
    code = f"import sys; import {', '.join(pipeline_modules())}; print('numba' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's components of more than one module (each one is an import circle)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_is_part_of_an_import_circle_type_only_imports_included():
    import grimp

    graph = grimp.build_graph("lab", "jobs", "registry", "cli")  # TYPE_CHECKING imports are edges too
    edges = {module: set(graph.find_modules_directly_imported_by(module)) for module in graph.modules}
    assert _strongly_connected(edges) == []

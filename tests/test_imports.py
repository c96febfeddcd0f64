"""Project imports stand at module top. A function-level import is kept only where importing at the top
would load a heavy library the module does not load already (a heavy external such as mlflow, optuna,
matplotlib or numba, or a project module that loads one), and its line says why in a comment."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import PROJECT_ROOT

PACKAGES = ("lab", "jobs", "registry", "cli")
#: Libraries worth importing only where they are used (each costs start-up time or is optional).
HEAVY = {"mlflow", "optuna", "matplotlib", "apscheduler", "lightgbm", "xgboost", "arch", "sklearn", "sqlalchemy",
         "tqdm", "scipy", "yaml", "numba", "psycopg2", "grimp",
         "exchange_calendars",  # ~75 ms: it loads every exchange's calendar; featurize reads a kept schedule
         "pandas", "numpy"}  # nearly every module needs them; `lab`'s door (cli.launch) loads neither before it
#                            knows whether a warm interpreter runs the command


def _file(name: str) -> Path | None:
    base = PROJECT_ROOT.joinpath(*name.split("."))
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return base / "__init__.py" if (base / "__init__.py").is_file() else None


def _name(path: Path) -> str:
    parts = list(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(node: ast.Import | ast.ImportFrom) -> tuple[set[str], set[str]]:
    """Project modules (with their parent packages) and external top-level packages a statement imports."""
    names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
             [node.module] + [f"{node.module}.{a.name}" for a in node.names if _file(f"{node.module}.{a.name}")])
    project, external = set(), set()
    for name in names:
        if name.split(".")[0] in PACKAGES:
            parts = name.split(".")
            project.update(".".join(parts[:i]) for i in range(1, len(parts) + 1) if _file(".".join(parts[:i])))
        else:
            external.add(name.split(".")[0])
    if isinstance(node, ast.ImportFrom) and any(a.name == "MlflowException" for a in node.names):
        external.add("mlflow")  # lab.tracking imports MLflow's error on first use (its module __getattr__)
    return project, external


def _top_level(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    found = []

    def visit(body):
        for node in body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, (ast.Import, ast.ImportFrom)) and getattr(node, "level", 0) == 0:
                found.append(node)
            elif isinstance(node, (ast.If, ast.Try)):
                visit(node.body + [n for h in getattr(node, "handlers", []) for n in h.body] + node.orelse)

    visit(tree.body)
    return found


def _modules() -> dict[str, ast.Module]:
    return {_name(p): ast.parse(p.read_text()) for package in PACKAGES for p in sorted((PROJECT_ROOT / package).rglob("*.py"))}


def heavy_modules(trees: dict[str, ast.Module]) -> dict[str, set[str]]:
    """The heavy libraries each project module loads when imported (through its top-level imports)."""
    edges = {name: [_imported(node) for node in _top_level(tree)] for name, tree in trees.items()}
    heavy = {name: set().union(*(ext for _, ext in found)) & HEAVY if found else set() for name, found in edges.items()}
    changed = True
    while changed:
        changed = False
        for name, found in edges.items():
            more = set().union(*(heavy.get(m, set()) for proj, _ in found for m in proj)) if found else set()
            if more - heavy[name]:
                heavy[name] |= more
                changed = True
    return heavy


def test_function_level_imports_only_defer_a_heavy_library_and_say_so():
    trees = _modules()
    heavy = heavy_modules(trees)
    offenders = []
    for name, tree in trees.items():
        lines = _file(name).read_text().splitlines()
        for function in ast.walk(tree):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(function):
                if not isinstance(node, (ast.Import, ast.ImportFrom)):
                    continue
                project, external = _imported(node)
                loads = (external & HEAVY) | set().union(*(heavy.get(m, set()) for m in project))
                text = "\n".join(lines[node.lineno - 1:node.end_lineno])
                if not (loads - heavy[name]) or "#" not in text:
                    offenders.append(f"{name}:{node.lineno}: {text.strip()}")
    assert offenders == [], ("move these imports to the module's top (a function-level import only defers a heavy "
                             "library the module does not load yet, with a '# reason' comment):\n" + "\n".join(offenders))


def test_the_lab_command_and_featurize_load_no_model_store_or_plotting_library():
    trees = _modules()
    heavy = heavy_modules(trees)
    drawing = {"pandas", "numpy"}  # their data work needs these; nothing heavier
    assert heavy["cli.main"] - drawing == set() and heavy["jobs.featurize"] - drawing == set()  # a warm featurize draws nothing


def test_the_doors_load_nothing_heavy_before_they_know_whether_a_warm_interpreter_serves():
    heavy = heavy_modules(_modules())
    assert heavy["cli.launch"] == set() and heavy["jobs.__main__"] == set() and heavy["lab.forkserver"] == set()

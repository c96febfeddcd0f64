"""Project imports stand at module top; a function-level import is kept only for a heavy optional
library, with the reason in a comment on its line (the linter rule of docs/ARCHITECTURE.md)."""

from __future__ import annotations

import ast

from tests.conftest import PROJECT_ROOT

#: Libraries worth importing only where they are used (each costs start-up time or is optional).
HEAVY = {"mlflow", "optuna", "matplotlib", "apscheduler", "lightgbm", "xgboost", "arch", "sklearn", "sqlalchemy",
         "tqdm", "scipy", "yaml", "numba", "psycopg2"}


def _function_level_imports():
    for package in ("lab", "jobs", "registry", "cli"):
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            source = path.read_text()
            lines = source.splitlines()
            for function in ast.walk(ast.parse(source)):
                if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                for node in ast.walk(function):
                    if isinstance(node, (ast.Import, ast.ImportFrom)):
                        module = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
                        text = "\n".join(lines[node.lineno - 1:node.end_lineno])
                        yield f"{path.relative_to(PROJECT_ROOT)}:{node.lineno}", module or "", text


def test_function_level_imports_are_heavy_libraries_with_a_reason():
    offenders = [f"{where}: {text.strip()}" for where, module, text in _function_level_imports()
                 if module.split(".")[0] not in HEAVY or "#" not in text]
    assert offenders == [], ("move these imports to the module's top (a function-level import is only for a "
                             "heavy library, with a '# reason' comment):\n" + "\n".join(offenders))

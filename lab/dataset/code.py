"""The code that shapes the dataset's tables, derived from the imports of the featurize pipeline.

One list serves three readers: the dataset digest (:func:`pipeline_code_digest`), the layer
contract that keeps numba out of featurize (``pyproject.toml``, checked by ``tests/test_layers.py``)
and the tests. The list is not kept by hand: it is every ``lab`` module that
:mod:`lab.dataset.build` imports, directly or through other ``lab`` modules (the rules and the
instruments' tick sizes included, since the labels use them). The digest hashes each module's
*code* without its import statements, sorted, and without the modules' names: moving or renaming a
module (which edits only import lines) keeps every digest; an edit to the code of any of them
(``lab/market/instruments.py`` included) changes it.

Parsing the pipeline's modules costs 0.3 to 0.5 s, most of a warm featurize: the digest is
remembered in ``.lab/pipeline_code.json`` under the project root, keyed by the bytes of every
module of the package (a few milliseconds to hash), and computed again when any byte changes.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import hashlib
import json
import os
from pathlib import Path

import exchange_calendars

from lab.paths import project_root

__all__ = ["PIPELINE_ROOT", "pipeline_modules", "pipeline_code_digest", "module_code_hash"]

#: The module whose imports define the pipeline.
PIPELINE_ROOT = "lab.dataset.build"
_PACKAGE_DIR = Path(__file__).resolve().parents[1]  # lab/


def _module_file(name: str, package_dir: Path) -> Path | None:
    """The source file of ``lab...`` module ``name`` (a package's ``__init__.py``), or None."""
    parts = name.split(".")[1:]
    base = package_dir.joinpath(*parts)
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


def _imported_lab_modules(source: str, package_dir: Path) -> set[str]:
    """The ``lab`` modules one module's source imports at any depth of its body."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == "lab")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] != "lab":
                continue
            found.add(node.module)
            # `from lab.data import readers` names a submodule
            found.update(f"{node.module}.{alias.name}" for alias in node.names
                         if _module_file(f"{node.module}.{alias.name}", package_dir) is not None)
    # importing lab.a.b runs lab/__init__ and lab/a/__init__ too
    parents = {".".join(m.split(".")[:i]) for m in found for i in range(1, m.count(".") + 1)}
    return {m for m in found | parents if _module_file(m, package_dir) is not None}


def pipeline_modules(package_dir: Path = _PACKAGE_DIR) -> tuple[str, ...]:
    """Every ``lab`` module the featurize pipeline imports (transitively), sorted by name.

    >>> "lab.market.instruments" in pipeline_modules() and "lab.rules" in pipeline_modules()
    True
    >>> any(m.startswith(("lab.backtest", "lab.strategies", "lab.tracking")) for m in pipeline_modules())
    False
    """
    return _pipeline_modules(Path(package_dir).resolve())


@functools.lru_cache(maxsize=4)
def _pipeline_modules(package_dir: Path) -> tuple[str, ...]:
    seen: set[str] = set()
    pending = [PIPELINE_ROOT]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        path = _module_file(name, package_dir)
        if path is not None:
            pending.extend(_imported_lab_modules(path.read_text(encoding="utf-8"), package_dir) - seen)
    return tuple(sorted(seen))


def module_code_hash(source: str) -> str:
    """SHA-256 of a module's code with its import statements left out (what a move of the module edits).

    >>> module_code_hash("import a\\nX = 1\\n") == module_code_hash("from b.c import a\\n\\nX = 1\\n")
    True
    >>> module_code_hash("X = 1\\n") == module_code_hash("X = 2\\n")
    False
    """
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list):
            node.body = [child for child in body if not isinstance(child, (ast.Import, ast.ImportFrom))] or [ast.Pass()]
    return hashlib.sha256(ast.dump(tree, include_attributes=False).encode()).hexdigest()


def pipeline_code_digest(package_dir: Path = _PACKAGE_DIR) -> str:
    """SHA-256 (16 hex) of the pipeline modules' code (sorted, names and import lines left out) and the
    exchange calendar's version."""
    return _pipeline_code_digest(Path(package_dir).resolve())


@functools.lru_cache(maxsize=4)
def _pipeline_code_digest(package_dir: Path) -> str:
    key = package_source_key(package_dir)
    store = project_root() / ".lab" / "pipeline_code.json"
    with contextlib.suppress(OSError, ValueError):
        remembered = json.loads(store.read_text())
        if isinstance(remembered, dict) and isinstance(remembered.get(key), str):
            return remembered[key]
    digest = _computed_code_digest(package_dir)
    with contextlib.suppress(OSError):  # a read-only project still featurizes: it parses each time
        store.parent.mkdir(parents=True, exist_ok=True)
        partial = store.with_name(f"{store.name}.{os.getpid()}.partial")
        partial.write_text(json.dumps({key: digest}))
        partial.replace(store)
    return digest


def package_source_key(package_dir: Path = _PACKAGE_DIR) -> str:
    """SHA-256 of every module file of the package (paths and bytes) and the exchange calendar's version:
    what :func:`pipeline_code_digest` is a function of."""
    digest = hashlib.sha256(f"v1 {exchange_calendars.__version__}".encode())
    for path in sorted(Path(package_dir).rglob("*.py")):
        digest.update(f"\0{path.relative_to(package_dir).as_posix()}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _computed_code_digest(package_dir: Path) -> str:
    contents = sorted(module_code_hash(_module_file(name, package_dir).read_text(encoding="utf-8"))
                      for name in _pipeline_modules(package_dir))
    digest = hashlib.sha256(exchange_calendars.__version__.encode())
    for content in contents:
        digest.update(content.encode())
    return digest.hexdigest()[:16]

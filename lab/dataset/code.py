"""The code that shapes the dataset's tables, derived from the imports of the featurize pipeline.

One list serves three readers: the dataset digest (:func:`pipeline_code_digest`), the layer
contract that keeps numba out of featurize (``pyproject.toml``, checked by ``tests/test_layers.py``)
and the tests. The list is not kept by hand: it is every ``lab`` module that
:mod:`lab.dataset.build` imports, directly or through other ``lab`` modules (the rules and the
instruments' tick sizes included, since the labels use them). The digest hashes each module's
*code* without its import statements, sorted, and without the modules' names: moving or renaming a
module (which edits only import lines) keeps every digest; an edit to the code of any of them
(``lab/market/instruments.py`` included) changes it.

Parsing the modules costs ~0.15 s, a tenth of a cold featurize: the result is kept in
``.lab/pipeline_code.json`` under the project root with the SHA-256 of the bytes it was parsed from
(the modules, the list of the package's files, the calendar's version), and reused while they are equal.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
from pathlib import Path

from lab import paths
from lab.market.sessions import CALENDARS_VERSION

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


def _imported_lab_modules(tree: ast.AST, package_dir: Path) -> set[str]:
    """The ``lab`` modules one module's syntax tree imports at any depth of its body."""
    found: set[str] = set()
    for node in ast.walk(tree):
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
    return _pipeline(Path(package_dir).resolve())[0]


def module_code_hash(source: str) -> str:
    """SHA-256 of a module's code with its import statements left out (what a move of the module edits).

    >>> module_code_hash("import a\\nX = 1\\n") == module_code_hash("from b.c import a\\n\\nX = 1\\n")
    True
    >>> module_code_hash("X = 1\\n") == module_code_hash("X = 2\\n")
    False
    """
    return _tree_code_hash(ast.parse(source))


def _tree_code_hash(tree: ast.AST) -> str:
    """:func:`module_code_hash` of a parsed module (its import statements are removed from ``tree``)."""
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list):
            node.body = [child for child in body if not isinstance(child, (ast.Import, ast.ImportFrom))] or [ast.Pass()]
    return hashlib.sha256(ast.dump(tree, include_attributes=False).encode()).hexdigest()


def pipeline_code_digest(package_dir: Path = _PACKAGE_DIR) -> str:
    """SHA-256 (16 hex) of the pipeline modules' code (sorted, names and import lines left out) and the
    exchange calendar's version."""
    return _pipeline(Path(package_dir).resolve())[1]


@functools.lru_cache(maxsize=4)
def _pipeline(package_dir: Path) -> tuple[tuple[str, ...], str]:
    """The pipeline's modules and its code digest: from the memo when its sources are unchanged, else parsed."""
    memo = _read_memo(package_dir)
    if memo is not None and memo.get("key") == _sources_key(package_dir, memo.get("modules", ())):
        return tuple(memo["modules"]), memo["digest"]
    modules, digest = _parse_pipeline(package_dir)
    _write_memo({"package_dir": str(package_dir), "key": _sources_key(package_dir, modules), "modules": list(modules),
                 "digest": digest})
    return modules, digest


#: Where :func:`_pipeline` keeps its last result (under the project root's ``.lab/``).
MEMO_NAME = "pipeline_code.json"


def _sources_key(package_dir: Path, modules) -> str:
    """SHA-256 of what the parse reads: the bytes of ``modules``, the set of module files of the package
    (a new file can turn ``from lab.x import y`` into a module import) and the calendar's version.
    Equal keys mean :func:`_parse_pipeline` would return the same (~3 ms against ~0.15 s)."""
    key = hashlib.sha256(f"{package_dir}\n{CALENDARS_VERSION}\n".encode())
    key.update("\n".join(sorted(str(p.relative_to(package_dir)) for p in package_dir.rglob("*.py"))).encode())
    for name in modules:
        path = _module_file(name, package_dir)
        if path is None:
            return ""
        key.update(f"\n{name}\n".encode())
        key.update(path.read_bytes())
    return key.hexdigest()


def _read_memo(package_dir: Path) -> dict | None:
    try:
        memo = json.loads((paths.project_root() / ".lab" / MEMO_NAME).read_text())
    except (OSError, ValueError):
        return None
    return memo if isinstance(memo, dict) and memo.get("package_dir") == str(package_dir) else None


def _write_memo(memo: dict) -> None:
    """Write the memo atomically; a folder that cannot be written only costs the next parse."""
    paths.keep_file(paths.project_root() / ".lab" / MEMO_NAME, lambda out: out.write(json.dumps(memo).encode()))


def _parse_pipeline(package_dir: Path) -> tuple[tuple[str, ...], str]:
    """The pipeline's modules and its code digest, each module parsed once (~0.15 s for 34 modules)."""
    seen: set[str] = set()
    hashes: list[str] = []
    pending = [PIPELINE_ROOT]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        path = _module_file(name, package_dir)
        if path is not None:
            tree = ast.parse(path.read_text(encoding="utf-8"))
            pending.extend(_imported_lab_modules(tree, package_dir) - seen)
            hashes.append(_tree_code_hash(tree))  # after the imports were read: this removes them
    digest = hashlib.sha256(CALENDARS_VERSION.encode())
    for content in sorted(hashes):
        digest.update(content.encode())
    return tuple(sorted(seen)), digest.hexdigest()[:16]

"""Every ``lab.*`` tag name is spelled once, in lab/tags.py; the code names tags by those constants."""

import ast
import re

from lab import tags as tag
from tests.conftest import PROJECT_ROOT

TAG_NAME = re.compile(r"lab\.[a-z_]+(\.[a-z_]+)*")
#: "lab.*" strings that are not tags: the configuration file's name.
NOT_TAGS = {"lab.toml"}


def _constants() -> dict[str, str]:
    return {name: value for name, value in vars(tag).items() if name.isupper()}


def _is_code_path(text: str) -> bool:
    """``lab.data.synth.generate_minutes``: a module, or a name in one, of the project (not a tag unless a constant says so)."""
    parts = text.split(".")
    for end in range(len(parts), 1, -1):
        path = PROJECT_ROOT.joinpath(*parts[:end])
        if path.with_suffix(".py").is_file() or (path / "__init__.py").is_file():
            return True
    return False


def test_tag_constants_are_unique_lab_names():
    constants = _constants()
    assert len(constants) > 50
    assert len(set(constants.values())) == len(constants), "two constants name the same tag"
    assert all(TAG_NAME.fullmatch(value) for value in constants.values())


def test_tags_module_imports_nothing():
    tree = ast.parse((PROJECT_ROOT / "lab" / "tags.py").read_text())
    imports = [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert [node.module for node in imports if isinstance(node, ast.ImportFrom)] == ["__future__"]


def test_no_tag_literal_outside_the_tags_module():
    """No string constant of lab/, jobs/, registry/, cli/ code is a tag name (or a search on one)."""
    known = set(_constants().values())
    found = []
    for package in ("lab", "jobs", "registry", "cli"):
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            if path == PROJECT_ROOT / "lab" / "tags.py":
                continue
            tree = ast.parse(path.read_text())
            docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                          if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                          and node.body and isinstance(node.body[0], ast.Expr)
                          and isinstance(node.body[0].value, ast.Constant)}
            loggers = {id(arg) for node in ast.walk(tree) if isinstance(node, ast.Call)
                       and getattr(node.func, "attr", getattr(node.func, "id", "")) == "getLogger" for arg in node.args}
            for node in ast.walk(tree):
                if not (isinstance(node, ast.Constant) and isinstance(node.value, str)) or id(node) in docstrings | loggers:
                    continue
                text = node.value
                is_tag = TAG_NAME.fullmatch(text) and text not in NOT_TAGS and (text in known or not _is_code_path(text))
                if is_tag or re.search(r"tags\.`lab\.", text):
                    found.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno}: {text!r}")
    assert not found, "tag names spelled outside lab/tags.py (use lab.tags):\n" + "\n".join(found)

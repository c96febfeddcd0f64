"""docs/ARCHITECTURE.md names every module of the code (a module added without a word there fails)."""

from __future__ import annotations

from tests.conftest import PROJECT_ROOT

PACKAGES = ("lab", "jobs", "registry", "cli")


def _modules() -> list[str]:
    """Every module file, as the document names it: ``lab/data/readers.py``; packages' faces left out."""
    found = []
    for package in PACKAGES:
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            if path.name != "__init__.py":
                found.append(str(path.relative_to(PROJECT_ROOT)))
    return found


def test_architecture_names_every_module():
    text = (PROJECT_ROOT / "docs" / "ARCHITECTURE.md").read_text()
    missing = []
    for module in _modules():
        folder, name = module.rsplit("/", 1)
        # named by full path, or by its file name in the row or line of its folder
        if module in text or (f"`{folder}/" in text and f"`{name}`" in text):
            continue
        rows = [line for line in text.splitlines() if f"{folder}/" in line]
        if any(name in row for row in rows):
            continue
        missing.append(module)
    assert missing == [], f"docs/ARCHITECTURE.md does not name {missing}: say what each holds"

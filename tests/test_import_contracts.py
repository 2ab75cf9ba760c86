"""Import contracts: the core never imports a use case; use cases never import each other."""

from __future__ import annotations

import ast
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_core_never_imports_a_use_case() -> None:
    offenders = [
        f"{path.relative_to(REPO_ROOT)} imports {name}"
        for path in (REPO_ROOT / "shared").rglob("*.py")
        for name in _imported_modules(path)
        if name == "usecases" or name.startswith("usecases.")
    ]
    assert offenders == []


def test_use_cases_never_import_each_other() -> None:
    offenders = []
    for package in (p for p in (REPO_ROOT / "usecases").iterdir() if (p / "__init__.py").is_file()):
        for path in package.rglob("*.py"):
            for name in _imported_modules(path):
                parts = name.split(".")
                if parts[0] == "usecases" and len(parts) > 1 and parts[1] != package.name:
                    offenders.append(f"{path.relative_to(REPO_ROOT)} imports {name}")
    assert offenders == []

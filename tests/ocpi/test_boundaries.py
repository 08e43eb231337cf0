"""Imports point one way: rfid ← stations ← billing ← ocpi (a lower app never imports a higher one,
not even inside a function). The OCPI app reaches into rfid only through the registry rfid offers."""

import ast
from pathlib import Path

from tests.support import REPO

ORDER = ["rfid", "stations", "billing", "ocpi"]


def imported_apps(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names & set(ORDER)


def test_no_app_imports_an_app_above_it():
    violations = []
    for rank, app in enumerate(ORDER):
        higher = set(ORDER[rank + 1 :])
        for path in sorted((REPO / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            for name in imported_apps(path) & higher:
                violations.append(f"{path.relative_to(REPO)} imports {name}")

    assert violations == []

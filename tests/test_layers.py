"""The layer rules of DESIGN.md, checked on the source with ``ast``.

Arrows point one way: ui, cli, reports -> services -> domain and db.  The domain
imports nothing but the standard library and itself; only the UI touches Qt; the
UI and the domain never touch SQLAlchemy.  Every violation in the tree is
reported in one failure, so one run shows the whole list.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[1] / "app"

QT = {"PySide6", "shiboken6", "pyqtgraph"}
SQL = {"sqlalchemy", "alembic"}

# (layer, project package it must not import, why)
FORBIDDEN_PROJECT_IMPORTS = [
    ("ui", "app.db", "the UI calls services; it never opens a session"),
    ("db", "app.services", "services sit above db"),
    ("db", "app.reports", "reports sit above db"),
    ("db", "app.ui", "only app/ui and the gui command use the UI"),
    ("services", "app.ui", "only app/ui and the gui command use the UI"),
    ("reports", "app.ui", "only app/ui and the gui command use the UI"),
]


def module_name(rel_path: str) -> tuple[str, bool]:
    """``app/domain/money.py`` -> (``app.domain.money``, False); packages -> True."""
    parts = rel_path.removesuffix(".py").split("/")
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def imported_modules(source: str, rel_path: str) -> list[tuple[int, str]]:
    """Every module a file imports, as absolute dotted names, with line numbers.

    ``from app import domain`` and ``from . import money`` name the submodule
    (``app.domain``, ``app.domain.money``), since that is what gets imported.
    """
    module, is_package = module_name(rel_path)
    package = module if is_package else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source, filename=rel_path)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                keep = len(base_parts) - (node.level - 1)
                base = ".".join(base_parts[:keep])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            if target == "app" or target.startswith("app."):
                found.extend((node.lineno, f"{target}.{alias.name}") for alias in node.names)
            else:
                found.append((node.lineno, target))
    return found


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def find_violations(rel_path: str, source: str) -> list[str]:
    module, _ = module_name(rel_path)
    parts = module.split(".")
    layer = parts[1] if len(parts) > 1 else ""
    problems: list[str] = []

    def report(line: int, message: str) -> None:
        problems.append(f"{rel_path}:{line}: {message}")

    try:
        imports = imported_modules(source, rel_path)
    except SyntaxError as exc:
        return [f"{rel_path}:{exc.lineno}: cannot parse: {exc.msg}"]

    for line, name in imports:
        top = name.split(".")[0]
        if layer == "domain":
            if top == "app":
                if not _within(name, "app.domain"):
                    report(line, f"app/domain imports {name}; the domain imports only itself")
            elif top not in sys.stdlib_module_names:
                report(line, f"app/domain imports {name}; the domain uses only the standard library")
        if top in QT and layer != "ui":
            report(line, f"imports {name}; only app/ui may import Qt or pyqtgraph")
        if top in SQL and layer in ("ui", "domain"):
            report(line, f"app/{layer} imports {name}; SQL stays out of the UI and the domain")
        for from_layer, package, why in FORBIDDEN_PROJECT_IMPORTS:
            if layer == from_layer and _within(name, package):
                report(line, f"app/{layer} imports {name}; {why}")
    return problems


def test_every_module_follows_the_layer_rules() -> None:
    files = sorted(APP.rglob("*.py"))
    assert files, f"no Python files found under {APP}"
    problems: list[str] = []
    for path in files:
        rel_path = path.relative_to(APP.parent).as_posix()
        problems.extend(find_violations(rel_path, path.read_text(encoding="utf-8")))
    assert not problems, "layer rule violations:\n" + "\n".join(problems)


# The checker itself: a rule that never fires would pass the test above vacuously.
@pytest.mark.parametrize(
    ("rel_path", "source", "expected"),
    [
        ("app/domain/money.py", "import decimal\nfrom . import days\n", []),
        ("app/domain/money.py", "from app.domain.days import thirty_360\n", []),
        ("app/domain/__init__.py", "from .money import Money\n", []),
        ("app/domain/x.py", "from __future__ import annotations\n", []),
        ("app/domain/x.py", "import numpy\n", ["app/domain/x.py:1: app/domain imports numpy"]),
        ("app/domain/x.py", "from app.db import models\n", ["app/domain imports app.db.models"]),
        ("app/domain/x.py", "from app import services\n", ["app/domain imports app.services"]),
        ("app/domain/sub/x.py", "from ...ui import view\n", ["app/domain imports app.ui.view"]),
        ("app/domain/x.py", "import sqlalchemy\n", ["SQL stays out", "standard library"]),
        ("app/db/models.py", "from PySide6.QtCore import Qt\n", ["only app/ui may import Qt"]),
        ("app/services/post.py", "import pyqtgraph as pg\n", ["only app/ui may import Qt"]),
        ("app/cli_engine.py", "import PySide6\n", ["only app/ui may import Qt"]),
        ("app/ui/view.py", "from sqlalchemy import select\n", ["SQL stays out"]),
        ("app/ui/view.py", "from app.db.session import open_session\n", ["never opens a session"]),
        ("app/ui/view.py", "from PySide6.QtWidgets import QLabel\nimport pyqtgraph\n", []),
        ("app/db/models.py", "import sqlalchemy\nfrom app.domain import money\n", []),
        ("app/db/models.py", "from app.services import post\n", ["services sit above db"]),
        ("app/cli_gui.py", "def f():\n    from app.ui.application import run_gui\n", []),
        ("app/domain/x.py", "def f(:\n", ["cannot parse"]),
    ],
)
def test_checker_finds_exactly_the_expected_violations(
    rel_path: str, source: str, expected: list[str]
) -> None:
    problems = find_violations(rel_path, source)
    assert len(problems) == len(expected), problems
    for fragment in expected:
        assert any(fragment in problem for problem in problems), (fragment, problems)

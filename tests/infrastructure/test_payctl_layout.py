"""payctl is laid out by who uses it; these guard the two rules a move could quietly break."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PAYCTL = Path(__file__).resolve().parents[2] / "payctl"
# The users' tools reach a stack through a Connection only, so they work against AWS as well.
STACK_ONLY = ("payctl.local", "payctl.runtime", "payctl.devtools")
# Names every package may hold with the same meaning: its package marker and its typer commands.
SHARED_NAMES = {"__init__.py", "cli.py"}


def _imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
        elif isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
    return modules


def test_the_users_tools_never_import_the_local_stack_or_the_runtime():
    offenders = [
        f"{path.relative_to(PAYCTL.parent)}: {module}"
        for path in sorted((PAYCTL / "tools").rglob("*.py"))
        for module in sorted(_imported_modules(path))
        if module.startswith(STACK_ONLY)
    ]
    assert offenders == []


def test_no_module_name_repeats_across_payctl_packages():
    packages_by_name: dict[str, list[str]] = defaultdict(list)
    for path in sorted(PAYCTL.rglob("*.py")):
        if path.name not in SHARED_NAMES:
            packages_by_name[path.name].append(str(path.parent.relative_to(PAYCTL.parent)))
    assert {name: where for name, where in packages_by_name.items() if len(where) > 1} == {}

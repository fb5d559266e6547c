"""Guards on the test suite itself, named after failures of earlier versions of this design."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Suites that run against a deployed stack; their names must come from the stack's outputs.
STACK_SUITES = ("integration", "e2e")
# Physical names as template.yaml builds them: payments-<env>-<suffix>-..., account-scoped ARNs.
PHYSICAL_NAME = re.compile(r"payments-(dev|staging|prod)-[a-z0-9-]+|arn:aws:[a-z0-9-]+:[a-z0-9-]*:\d{12}:")


def _string_literals(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


def test_tests_take_resource_names_from_stack_outputs_not_hard_coded_strings():
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {text!r}"
        for suite in STACK_SUITES
        for path in sorted((ROOT / "tests" / suite).rglob("*.py"))
        for line, text in _string_literals(path)
        if PHYSICAL_NAME.search(text)
    ]
    assert offenders == []


def test_no_test_is_skipped_or_expected_to_fail():
    """A skipped test asserts nothing; a test against an absent stack must fail, not skip."""
    marks = re.compile(r"pytest\.mark\.(skip|skipif|xfail)\b|pytest\.(skip|xfail|importorskip)\(")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((ROOT / "tests").rglob("*.py"))
        if path.name != Path(__file__).name
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if marks.search(line)
    ]
    assert offenders == []

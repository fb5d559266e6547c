"""The session ``stack`` fixture turns a template that cannot be deployed into failures, never skips."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_stack_fixture_fails_not_skips_when_template_missing(tmp_path):
    (tmp_path / "test_needs_stack.py").write_text(
        "def test_uses_the_stack(stack):\n    assert stack.outputs\n", encoding="utf-8"
    )
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(REPO_ROOT),
        "PAYCTL_TEMPLATE": str(tmp_path / "missing-template.yaml"),
    }

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider", "-q", "-rA"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 error" in result.stdout
    assert "skipped" not in result.stdout
    assert "missing-template.yaml does not exist" in result.stdout

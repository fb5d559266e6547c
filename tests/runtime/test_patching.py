"""The guard every moto monkeypatch goes through: version check and complete undo."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from payctl.runtime._patching import Patcher, UntestedMotoVersion, require_tested_moto

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_untested_moto_version_fails_loudly():
    with pytest.raises(UntestedMotoVersion, match=r"moto 9\.9\.9 is installed"):
        require_tested_moto("any gap", version="9.9.9")


def test_patcher_restores_replaced_and_added_attributes():
    class Target:
        value = "original"

    patcher = Patcher()
    patcher.setattr(Target, "value", "patched", gap="test")
    patcher.setattr(Target, "added", "new", gap="test", create=True)
    assert (Target.value, Target.added) == ("patched", "new")

    patcher.undo_all()

    assert Target.value == "original"
    assert not hasattr(Target, "added")


def test_patcher_refuses_to_invent_an_attribute_by_accident():
    with pytest.raises(AttributeError, match="no attribute 'misspelt'"):
        Patcher().setattr(object, "misspelt", 1, gap="test")


def test_moto_session_undoes_patches_environment_and_import_finder_on_exit():
    # A fresh interpreter: this test session already holds the one moto session a process may have.
    script = textwrap.dedent(
        """
        import os, sys
        from moto.awslambda_simple.models import LambdaSimpleBackend
        from moto.stepfunctions.parser.asl.utils import json_path
        from moto import backend_index
        from payctl.runtime import moto_session

        before = (LambdaSimpleBackend.invoke, json_path.parse, len(backend_index.backend_url_patterns),
                  len(sys.meta_path), os.environ.get("POWERTOOLS_TRACE_DISABLED"))
        with moto_session():
            assert LambdaSimpleBackend.invoke is not before[0]
            assert json_path.parse is not before[1]
            assert os.environ["POWERTOOLS_TRACE_DISABLED"] == "true"
        after = (LambdaSimpleBackend.invoke, json_path.parse, len(backend_index.backend_url_patterns),
                 len(sys.meta_path), os.environ.get("POWERTOOLS_TRACE_DISABLED"))
        assert before == after, (before, after)
        print("restored")
        """
    )
    env = {"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "restored"


def test_moto_session_refuses_an_untested_moto_before_patching_anything(monkeypatch):
    import moto
    from moto.awslambda_simple.models import LambdaSimpleBackend

    from payctl.runtime import moto_session

    original_invoke = LambdaSimpleBackend.invoke
    monkeypatch.setattr(moto, "__version__", "9.9.9")

    with pytest.raises(UntestedMotoVersion), moto_session():
        pass

    assert LambdaSimpleBackend.invoke is original_invoke

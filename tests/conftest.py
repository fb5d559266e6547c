"""Session fixtures shared by every suite: one in-process moto world and the stack deployed into it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from payctl.runtime import Stack, deploy, moto_session
from payctl.runtime._state import RuntimeState

REPO_ROOT = Path(__file__).resolve().parents[1]
# Lets a test run the fixtures against another template (or a missing one).
TEMPLATE_ENV_VAR = "PAYCTL_TEMPLATE"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the tests that use the shared moto world after all the others.

    A plain ``mock_aws()`` started while ``moto_env`` is active nests inside it, and moto neither
    resets nor isolates a nested mock, so such a test would see (and collide with) the stack's
    resources. Ordering keeps the session's moto world from existing before those tests run.
    """
    items.sort(key=lambda item: "moto_env" in getattr(item, "fixturenames", ()))


@pytest.fixture(scope="session")
def moto_env() -> Iterator[RuntimeState]:
    """In-process moto with every local-runtime shim, for the whole test session."""
    with moto_session() as runtime:
        yield runtime


@pytest.fixture(scope="session")
def stack(moto_env: RuntimeState) -> Stack:
    """The repository's template.yaml, deployed once per session. Fails (never skips) if it cannot be."""
    template = Path(os.environ.get(TEMPLATE_ENV_VAR, REPO_ROOT / "template.yaml"))
    try:
        return deploy(template)
    except Exception as exc:  # any reason at all must fail the tests that need the stack
        pytest.fail(
            f"the local stack could not be deployed from {template.name}: {type(exc).__name__}: {exc}"
        )

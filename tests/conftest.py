"""Session fixtures shared by every suite: one in-process moto world and the stack deployed into it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from payctl.runtime import Stack, deploy, moto_session
from payctl.runtime._state import RuntimeState

REPO_ROOT = Path(__file__).resolve().parents[1]
# Lets a test run the fixtures against another template (or a missing one).
TEMPLATE_ENV_VAR = "PAYCTL_TEMPLATE"


# The shared moto world; closed as soon as the last test that uses it is done (see below).
_WORLD = ExitStack()


def _uses_world(item: pytest.Item | None) -> bool:
    return item is not None and "moto_env" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the tests on the shared moto world as one block, and end that world right after it.

    A plain ``mock_aws()`` started while ``moto_env`` is active nests inside it, and moto neither
    resets nor isolates a nested mock, so such a test would collide with the stack's resources.
    The block takes the place of the first test that needs the world; the rest keep their order.
    """
    first = next((index for index, item in enumerate(items) if _uses_world(item)), None)
    if first is None:
        return
    block = [item for item in items if _uses_world(item)]
    others = [item for item in items if not _uses_world(item)]
    items[:] = others[:first] + block + others[first:]


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    if _uses_world(item) and not _uses_world(nextitem):
        _WORLD.close()


@pytest.fixture(scope="session")
def moto_env() -> Iterator[RuntimeState]:
    """In-process moto with every local-runtime shim, shared by every test that asks for it."""
    yield _WORLD.enter_context(moto_session())
    _WORLD.close()


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

"""One process-mode moto session with the probe stack, for the execution environment tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from payctl.runtime import Stack, deploy, moto_session
from payctl.runtime import _state as runtime_state
from payctl.runtime._state import RuntimeState

TEMPLATE = Path(__file__).resolve().parent / "fixtures" / "template.yaml"


@pytest.fixture(scope="package")
def process_runtime() -> Iterator[RuntimeState]:
    if runtime_state.is_active():
        pytest.fail("another suite's in-process moto is still running in this process")
    with moto_session(lambda_mode="process") as state:
        yield state


@pytest.fixture(scope="package")
def probe_stack(process_runtime: RuntimeState) -> Stack:
    return deploy(TEMPLATE, stack_name="environments-probe")


@pytest.fixture(scope="package")
def lambda_client(process_runtime: RuntimeState):
    return boto3.client("lambda", region_name=process_runtime.region)

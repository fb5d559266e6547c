"""The ingest driver: one fresh API key id per test, and the payments queue left empty around it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.integration.ingest.ingest_support import IngestDriver


@pytest.fixture
def ingest(stack) -> Iterator[IngestDriver]:
    driver = IngestDriver(stack, api_key_id=f"key-{uuid.uuid4().hex[:10]}")
    driver.receive_all()
    yield driver
    driver.receive_all()

"""Local option: the state machine's retry waits multiplied by a factor, the retriers unchanged."""

from __future__ import annotations

import pytest

from payctl.runtime import retry_waits, set_retry_wait_scale
from payctl.runtime.faults import Kind, Rule


@pytest.fixture
def slept(monkeypatch, fixture_stack):
    waits: list[float] = []
    monkeypatch.setattr(retry_waits.time, "sleep", waits.append)
    yield waits
    set_retry_wait_scale(1)
    fixture_stack.faults.clear()


def test_a_retry_waits_the_scaled_interval(fixture_stack, slept):
    set_retry_wait_scale(0.1)
    fixture_stack.faults.add(Rule(Kind.LAMBDA_SERVICE_ERROR, function="EchoFunction", count=1))

    response = fixture_stack.start_sync_execution({"name": "scaled"}, name="scaled-wait")

    assert response["status"] == "SUCCEEDED"
    # The fixture's Retry waits IntervalSeconds 1 with BackoffRate 1 and no jitter.
    assert slept == [pytest.approx(0.1)]


def test_a_factor_outside_zero_to_one_is_refused(moto_env):
    with pytest.raises(ValueError, match="retry wait factor"):
        set_retry_wait_scale(2)

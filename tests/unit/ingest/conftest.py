"""The ingest API wired to in-memory adapters (the shared ones in ``tests.fakes``, and the two only
ingest has), and a way to call its handlers.

The idempotency store is the real ``IdempotencyStore``; only the table underneath is a dict that
keeps the claim condition, so the record rules under test are the store's.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from payments_core.models import PaymentMessage
from payments_core.settings import get_settings
from tests import factories
from tests.fakes import FakeAudit, FakeTransactions

# Powertools reads these when the handler modules create their Logger, Tracer and Metrics on import.
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Payments")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")

API_KEY_ID = "key-alpha"
OTHER_API_KEY_ID = "key-beta"
DASHBOARD_API_KEY_ID = "key-dashboards"

PAYMENT: dict[str, Any] = factories.payment()


def clear_settings() -> None:
    """Forget cached settings, in whichever copy of ``payments_core.settings`` the handler uses.

    A local stack in the same test session evicts the layer's modules on deploy (a cold start), so
    the module imported here at collection time may no longer be the one the handlers hold. The
    adapters the composition root built from the old settings are forgotten with them.
    """
    get_settings.cache_clear()
    importlib.import_module("payments_core.settings").get_settings.cache_clear()
    api = sys.modules.get("ingest_svc.handlers.api")
    if api is not None:
        api.get_settings.cache_clear()
    bootstrap = sys.modules.get("ingest_svc.bootstrap")
    if bootstrap is not None:
        for root in (bootstrap.api, bootstrap.consumer, bootstrap.counters):
            root.reset()


@pytest.fixture
def reset_settings() -> Any:
    """For a test that changes the environment the settings are read from."""
    return clear_settings


@pytest.fixture(autouse=True)
def _ingest_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "Payments",
        "TRANSACTIONS_TABLE": "transactions",
        "AUDIT_TABLE": "audit",
        "IDEMPOTENCY_TABLE": "idempotency",
        "PAYMENTS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/payments",
        "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:workflow",
        "DASHBOARD_API_KEY_IDS": f"{DASHBOARD_API_KEY_ID}, key-second-dashboard",
    }.items():
        monkeypatch.setenv(name, value)
    clear_settings()
    yield
    clear_settings()


class InMemoryClaims:
    """The idempotency table over a dict, with the real claim condition: a key is free when it has
    no record or its record expired. ``down`` makes every call fail as DynamoDB would."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.down = False

    def claim(self, records: Sequence[dict[str, Any]], now: int) -> list[Any]:
        # Imported here: a local stack deployed earlier in the session reloads these modules.
        from ingest_svc.dal.idempotency import Taken
        from payments_core.errors import DependencyError

        if self.down:
            raise DependencyError("idempotency table write failed")
        results: list[Taken | None] = []
        for record in records:
            held = self.records.get(record["id"])
            if held is not None and held["expiration"] >= now:
                results.append(Taken(held["validation"]))
            else:
                self.records[record["id"]] = dict(record)
                results.append(None)
        return results

    def delete(self, ids: Sequence[str]) -> None:
        from payments_core.errors import DependencyError

        if self.down:
            raise DependencyError("idempotency table delete failed")
        for key in ids:
            self.records.pop(key, None)


@dataclass
class FakeQueue:
    """Records what would be enqueued; ``refuse`` holds transaction ids SQS would report as failed."""

    messages: list[PaymentMessage] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)

    def send(self, messages: Sequence[PaymentMessage]) -> set[str]:
        failed = {m.transaction_id for m in messages if m.transaction_id in self.refuse}
        self.messages.extend(m for m in messages if m.transaction_id not in failed)
        return failed


class FakeContext:
    function_name = "ingest"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:ingest"
    aws_request_id = "request-1"

    def __init__(self, remaining_ms: int = 28_000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def make_context() -> type[FakeContext]:
    """Builds Lambda context stand-ins: ``make_context(remaining_ms)``."""
    return FakeContext


@dataclass
class Ports:
    idempotency_records: InMemoryClaims
    queue: FakeQueue
    transactions: FakeTransactions
    audit: FakeAudit

    def record_queued(self) -> None:
        """The queue consumer records every queued payment (its transaction item, by payload hash)."""
        for message in self.queue.messages:
            self.transactions.items.setdefault(
                message.transaction_id,
                {"transaction_id": message.transaction_id, "payload_hash": message.payload_hash},
            )


@pytest.fixture
def ports() -> Iterator[Ports]:
    """The API wired to in-memory adapters for one test."""
    from ingest_svc import bootstrap
    from ingest_svc.dal.idempotency import IdempotencyStore
    from ingest_svc.logic.accept import AcceptPorts

    fakes = Ports(InMemoryClaims(), FakeQueue(), FakeTransactions(), FakeAudit())
    wired = bootstrap.ApiPorts(
        accept=AcceptPorts(
            idempotency=IdempotencyStore(fakes.idempotency_records),
            queue=fakes.queue,
            recorded=fakes.transactions,
        ),
        transactions=fakes.transactions,
        audit=fakes.audit,
    )
    with bootstrap.api.override(wired):
        yield fakes


@dataclass(frozen=True)
class ApiResponse:
    status: int
    body: Any
    raw: dict[str, Any]


class ApiClient:
    """Calls ``ingest_svc.handlers.api.lambda_handler`` with v1 REST proxy events."""

    def call(self, method: str, path: str, **event_options: Any) -> ApiResponse:
        from ingest_svc.handlers import api

        event = factories.rest_event(method, path, **{"api_key_id": API_KEY_ID, **event_options})
        raw = api.lambda_handler(event, FakeContext())
        return ApiResponse(raw["statusCode"], json.loads(raw["body"]) if raw.get("body") else None, raw)

    def post_payment(
        self, key: str | None = "key-1", payment: dict[str, Any] | None = None, **options: Any
    ) -> ApiResponse:
        headers = {"Idempotency-Key": key} if key is not None else {}
        body = payment if payment is not None else PAYMENT
        return self.call("POST", "/payments", body=body, headers=headers, **options)

    def post_batch(self, items: list[dict[str, Any]], **options: Any) -> ApiResponse:
        return self.call("POST", "/payments/batch", body={"payments": items}, **options)


@pytest.fixture
def client(ports: Ports) -> ApiClient:
    return ApiClient()


@pytest.fixture
def payment() -> dict[str, Any]:
    """A valid payment body; a fresh copy per test."""
    return factories.payment()

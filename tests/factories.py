"""Test data shared by the unit and integration tests: a payment that passes every check, and the
REST proxy event that carries a request to the ingest API."""

from __future__ import annotations

import json
import uuid
from typing import Any

from payments_core.models import example_payment


def card(**changes: Any) -> dict[str, Any]:
    """The example payment's card (a US-issued visa token), with ``changes`` applied."""
    return {**example_payment()["payment_method"], **changes}


def payment(**changes: Any) -> dict[str, Any]:
    """The contract's example payment (USD 12.34 by a US customer on a US visa token): passes
    validation and scores 0.00 at fraud.

    ``changes`` replace whole fields, except ``payment_method``, whose keys are merged into the card.
    """
    method = card(**changes.pop("payment_method", {}))
    return {**example_payment(), "payment_method": method, **changes}


def new_customer() -> dict[str, Any]:
    """A customer of its own, so no other test's payments count towards its velocity."""
    return {"id": f"c_{uuid.uuid4().hex[:12]}", "country": "US"}


def fresh_payment(**changes: Any) -> dict[str, Any]:
    """``payment(**changes)`` by a customer of its own: on a shared stack it passes fraud's velocity rule."""
    return payment(**{"customer": new_customer(), **changes})


# The key's value: API Gateway checks it, the handler reads only the key id.
API_KEY_VALUE = "secret-value"


def rest_event(
    method: str,
    resource: str,
    *,
    api_key_id: str | None,
    path_parameters: dict[str, str] | None = None,
    body: Any = None,
    raw_body: str | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A v1 REST proxy event for a key-protected route, as API Gateway builds it.

    ``body`` is sent as JSON; ``raw_body`` as it stands (for bodies that are not valid JSON).
    """
    path = resource
    for name, value in (path_parameters or {}).items():
        path = path.replace("{" + name + "}", value)
    text = raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
    all_headers = {"Content-Type": "application/json", "x-api-key": API_KEY_VALUE, **(headers or {})}
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {name: [value] for name, value in all_headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/v1{path}",
            "stage": "v1",
            "requestId": str(uuid.uuid4()),
            "identity": {"apiKeyId": api_key_id, "apiKey": API_KEY_VALUE, "sourceIp": "203.0.113.9"},
        },
        "body": text,
        "isBase64Encoded": False,
    }


# A key's hex digits mapped to letters: a random uuid's digit groups, read across its dashes, can
# pass the Luhn check and be refused as a card number.
_NO_DIGITS = str.maketrans("0123456789", "ghijklmnop")


def unique_key(prefix: str = "key") -> str:
    """An idempotency key no other test uses, with no run of digits in it."""
    return f"{prefix}-{uuid.uuid4().hex.translate(_NO_DIGITS)}"

"""Test data shared by the unit and integration tests: one payment that passes every check."""

from __future__ import annotations

import uuid
from typing import Any


def card(**changes: Any) -> dict[str, Any]:
    """A US-issued visa token, with ``changes`` applied."""
    return {
        "type": "card",
        "token": "tok_visa_4242",
        "last4": "4242",
        "brand": "visa",
        "country": "US",
        **changes,
    }


def payment(**changes: Any) -> dict[str, Any]:
    """USD 12.34 by a US customer on a US visa token: passes validation and scores 0.00 at fraud.

    ``changes`` replace whole fields, except ``payment_method``, whose keys are merged into the card.
    """
    method = card(**changes.pop("payment_method", {}))
    return {
        "merchant_id": "m_123",
        "amount": "12.34",
        "currency": "USD",
        "payment_method": method,
        "customer": {"id": "c_42", "country": "US"},
        "reference": "order-1001",
        "metadata": {"cart": "a1"},
        **changes,
    }


def new_customer() -> dict[str, Any]:
    """A customer of its own, so no other test's payments count towards its velocity."""
    return {"id": f"c_{uuid.uuid4().hex[:12]}", "country": "US"}

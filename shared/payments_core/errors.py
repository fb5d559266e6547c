"""Typed domain exceptions: a stable code, a message and the offending field; nothing matches on text.

They carry no HTTP status: the API handler alone maps them to one (``ingest_svc.handlers.http``).
"""

from __future__ import annotations


def error_body(code: str, message: str, field: str | None = None) -> dict[str, dict[str, str]]:
    """``{"error": {"code", "message", "field"?}}``: the one shape of every error the system answers."""
    error = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    return {"error": error}


class PaymentsError(Exception):
    """Base of every domain error: a stable ``code`` and, where one input is at fault, its ``field``."""

    code = "payments_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_body(self) -> dict[str, dict[str, str]]:
        return error_body(self.code, self.message, self.field)


class InvalidPayment(PaymentsError):
    code = "invalid_payment"


class InvalidAmount(InvalidPayment):
    code = "invalid_amount"


class UnsupportedCurrency(InvalidPayment):
    code = "unsupported_currency"


class CardDataRejected(InvalidPayment):
    """A raw card number or CVV reached the API. Only tokens are accepted; the value is never echoed."""

    code = "card_data_not_allowed"


class InvalidRequest(PaymentsError):
    code = "invalid_request"


class BatchTooLarge(PaymentsError):
    code = "batch_too_large"


class IdempotencyKeyReused(PaymentsError):
    code = "idempotency_key_reused"


class NotFound(PaymentsError):
    code = "not_found"


class StatusTransitionRejected(PaymentsError):
    """A write tried to move a transaction's status backwards or out of a final state."""

    code = "status_transition_rejected"


class TransactionNotFound(NotFound):
    code = "transaction_not_found"


class DependencyError(PaymentsError):
    """An AWS dependency failed in a way a retry may fix."""

    code = "dependency_error"


class MissingApiKey(PaymentsError):
    """The request carries no API key id. API Gateway refuses such a request itself with 403
    ``invalid_api_key`` before it reaches the function; the function answers alike."""

    code = "invalid_api_key"


class NotPermitted(PaymentsError):
    """The API key is valid but may not use this route (the audit range is for dashboards' keys)."""

    code = "forbidden"


class EnqueueFailed(DependencyError):
    """The payment could not be put on the queue; the same request may be sent again."""

    code = "enqueue_failed"


class WorkflowFailed(DependencyError):
    """The payment's workflow did not succeed; the queue delivers the message again."""

    code = "workflow_failed"


class MalformedMessage(PaymentsError):
    """A queue message that is not a payment message; it can never succeed and ends in the DLQ."""

    code = "malformed_message"


class PayloadTooLarge(PaymentsError):
    """The request body is larger than the route accepts."""

    code = "payload_too_large"


class UnsupportedMediaType(PaymentsError):
    """The body is not declared as JSON (a missing Content-Type included)."""

    code = "unsupported_media_type"


class BodyTooDeep(InvalidRequest):
    code = "body_too_deep"


class DuplicateKey(InvalidRequest):
    code = "duplicate_key"


class InvalidEncoding(InvalidRequest):
    code = "invalid_encoding"

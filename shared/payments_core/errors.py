"""Typed domain exceptions. HTTP handlers map them in one place; nothing matches on message text."""

from __future__ import annotations


class PaymentsError(Exception):
    """Base of every domain error: a stable ``code``, the HTTP status it maps to, and the offending field."""

    code = "payments_error"
    http_status = 500

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_body(self) -> dict[str, dict[str, str]]:
        error = {"code": self.code, "message": self.message}
        if self.field:
            error["field"] = self.field
        return {"error": error}


class InvalidPayment(PaymentsError):
    code = "invalid_payment"
    http_status = 422


class InvalidAmount(InvalidPayment):
    code = "invalid_amount"


class UnsupportedCurrency(InvalidPayment):
    code = "unsupported_currency"


class CardDataRejected(InvalidPayment):
    """A raw card number or CVV reached the API. Only tokens are accepted; the value is never echoed."""

    code = "card_data_not_allowed"


class InvalidRequest(PaymentsError):
    code = "invalid_request"
    http_status = 400


class BatchTooLarge(PaymentsError):
    code = "batch_too_large"
    http_status = 413


class IdempotencyKeyReused(PaymentsError):
    code = "idempotency_key_reused"
    http_status = 422


class RequestInProgress(PaymentsError):
    code = "request_in_progress"
    http_status = 409


class NotFound(PaymentsError):
    code = "not_found"
    http_status = 404


class StatusTransitionRejected(PaymentsError):
    """A write tried to move a transaction's status backwards or out of a final state."""

    code = "status_transition_rejected"
    http_status = 409


class TransactionNotFound(NotFound):
    code = "transaction_not_found"


class DependencyError(PaymentsError):
    """An AWS dependency failed in a way a retry may fix."""

    code = "dependency_error"
    http_status = 503


class MissingApiKey(PaymentsError):
    """The request carries no API key id. API Gateway refuses such a request itself with 403
    ``invalid_api_key`` before it reaches the function; the function answers alike."""

    code = "invalid_api_key"
    http_status = 403


class NotPermitted(PaymentsError):
    """The API key is valid but may not use this route (the audit range is for dashboards' keys)."""

    code = "forbidden"
    http_status = 403


class EnqueueFailed(DependencyError):
    """The payment could not be put on the queue; the same request may be sent again."""

    code = "enqueue_failed"


class WorkflowFailed(DependencyError):
    """The payment's workflow did not succeed; the queue delivers the message again."""

    code = "workflow_failed"


class MalformedMessage(PaymentsError):
    """A queue message that is not a payment message; it can never succeed and ends in the DLQ."""

    code = "malformed_message"
    http_status = 400


class PayloadTooLarge(PaymentsError):
    """The request body is larger than the route accepts."""

    code = "payload_too_large"
    http_status = 413


class UnsupportedMediaType(PaymentsError):
    """The body is not declared as JSON (a missing Content-Type included)."""

    code = "unsupported_media_type"
    http_status = 415


class BodyTooDeep(InvalidRequest):
    code = "body_too_deep"


class DuplicateKey(InvalidRequest):
    code = "duplicate_key"


class InvalidEncoding(InvalidRequest):
    code = "invalid_encoding"

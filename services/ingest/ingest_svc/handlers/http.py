"""HTTP for the API: the status of every domain error, the one error body, and request errors.

Domain errors carry a code and no HTTP status; this module alone maps them, so a shared error
that never reaches HTTP (a malformed queue message, a refused status move) has no status at all.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any, Final

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from pydantic import ValidationError

from ingest_svc.models import IDEMPOTENCY_KEY_HEADER, invalid_payment
from payments_core.errors import (
    BatchTooLarge,
    DependencyError,
    IdempotencyKeyReused,
    InvalidPayment,
    InvalidRequest,
    MissingApiKey,
    NotFound,
    NotPermitted,
    PayloadTooLarge,
    PaymentsError,
    UnsupportedMediaType,
    error_body,
)

# The most specific class an error derives from decides; anything unmapped is a 500.
STATUS_OF: Final[dict[type[PaymentsError], int]] = {
    InvalidRequest: 400,
    MissingApiKey: 403,
    NotPermitted: 403,
    NotFound: 404,
    BatchTooLarge: 413,
    PayloadTooLarge: 413,
    UnsupportedMediaType: 415,
    InvalidPayment: 422,
    IdempotencyKeyReused: 422,
    DependencyError: 503,
}

_JSON_ONLY: Final[str] = "send the body as JSON with Content-Type: application/json"

# Query and header parameter names as clients spell them, for the ``field`` of a 400.
_PARAMETER_NAMES = {IDEMPOTENCY_KEY_HEADER.lower(): IDEMPOTENCY_KEY_HEADER}


def http_status(error: PaymentsError) -> int:
    for kind in type(error).__mro__:
        status = STATUS_OF.get(kind)
        if status is not None:
            return status
    return 500


def error_response(
    status: int, code: str, message: str, field: str | None = None
) -> Response[dict[str, Any]]:
    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, body=error_body(code, message, field)
    )


def domain_error_response(error: PaymentsError) -> Response[dict[str, Any]]:
    return error_response(http_status(error), error.code, error.message, error.field)


def request_error(errors: Sequence[Any]) -> PaymentsError:
    """Powertools' validation errors as a typed error: 400 for parameters, 422 for the body."""
    if not errors:
        return InvalidRequest("the request is not valid")
    first = errors[0]
    where, *path = first.get("loc", ()) or ("body",)
    if where == "body":
        if first.get("type") == "json_invalid":
            return InvalidRequest("the body is not valid JSON")
        return invalid_payment([{**first, "loc": tuple(path)}, *errors[1:]])
    name = str(path[0]) if path else None
    field = _PARAMETER_NAMES.get(name or "", name)
    message = (
        f"{field} is required" if first.get("type") == "missing" else str(first.get("msg", "invalid value"))
    )
    return InvalidRequest(message, field=field)


def refuse_media_type(event: dict[str, Any]) -> dict[str, Any] | None:
    """415 for a body not declared as UTF-8 JSON, before the resolver reads it.

    Powertools reads a body without a Content-Type as JSON, and form or multipart bodies as forms;
    this API takes JSON only, and says so.
    """
    if str(event.get("httpMethod", "")).upper() != "POST":
        return None
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    media_type, *parameters = headers.get("content-type", "").split(";")
    charsets = [
        p.split("=", 1)[1].strip().strip('"').lower()
        for p in parameters
        if "=" in p and p.split("=", 1)[0].strip().lower() == "charset"
    ]
    if media_type.strip().lower() == content_types.APPLICATION_JSON and all(c == "utf-8" for c in charsets):
        return None
    error = UnsupportedMediaType(_JSON_ONLY)
    return {
        "statusCode": http_status(error),
        "multiValueHeaders": {"Content-Type": [content_types.APPLICATION_JSON]},
        "body": json.dumps(error_body(error.code, error.message)),
        "isBase64Encoded": False,
    }


def install_error_handlers(app: APIGatewayRestResolver, logger: Logger) -> None:
    """Every error leaves the resolver in the one error body, with the status mapped above."""

    @app.exception_handler(PaymentsError)
    def _payments_error(error: PaymentsError) -> Response[dict[str, Any]]:
        response = domain_error_response(error)
        if response.status_code >= 500:
            logger.warning("request failed on a dependency", extra={"code": error.code})
        return response

    @app.exception_handler(RequestValidationError)
    def _validation_error(error: RequestValidationError) -> Response[dict[str, Any]]:
        errors = error.errors()
        if errors and tuple(errors[0].get("loc", ()))[:1] == ("response",):
            # Powertools reports a response that breaks its own model through the same exception.
            logger.error("response failed validation", extra={"locations": [e.get("loc") for e in errors]})
            return error_response(500, "internal_error", "internal error")
        return _payments_error(request_error(errors))

    @app.exception_handler(RequestUnsupportedContentType)
    def _unsupported_content_type(error: RequestUnsupportedContentType) -> Response[dict[str, Any]]:
        return _payments_error(UnsupportedMediaType(_JSON_ONLY))

    @app.exception_handler(ServiceError)
    def _service_error(error: ServiceError) -> Response[dict[str, Any]]:
        status = HTTPStatus(error.status_code)
        code = "route_not_found" if status is HTTPStatus.NOT_FOUND else status.name.lower()
        return error_response(status.value, code, str(error.msg or status.phrase))

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response[dict[str, Any]]:
        # A pydantic error message quotes its input, which can be payment data: log its type only.
        logger.error(
            "unhandled error",
            extra={"error_type": type(error).__name__},
            exc_info=not isinstance(error, ValidationError),
        )
        return error_response(500, "internal_error", "internal error")

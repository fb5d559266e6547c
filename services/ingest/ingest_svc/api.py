"""REST handler: ``POST /payments``, ``POST /payments/batch``, the payment and audit reads.

Thin on purpose: Powertools validates the request against the models (which also generate the
OpenAPI spec, served at ``/swagger``), ``logic`` decides, and every error leaves through the
exception handlers below as ``{"error": {"code", "message", "field"?}}``. Bodies are never logged.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ValidationError

from ingest_svc import dal, logic
from ingest_svc.body import MAX_BATCH_BODY_BYTES, MAX_SINGLE_BODY_BYTES, parse_body
from ingest_svc.models import (
    IDEMPOTENCY_KEY_HEADER,
    IDEMPOTENCY_KEY_MAX_LENGTH,
    IDEMPOTENCY_KEY_PATTERN,
    AcceptedResponse,
    AuditCountersResponse,
    AuditEventView,
    AuditRangeResponse,
    AuditTrailResponse,
    BatchEntry,
    BatchItemResult,
    BatchRequest,
    BatchResponse,
    ErrorDetail,
    ErrorResponse,
    PaymentRequest,
    PaymentView,
    invalid_payment,
)
from payments_core.audit import AuditReader
from payments_core.carddata import holds_pan
from payments_core.clock import now_iso, utc_now
from payments_core.errors import (
    CardDataRejected,
    InvalidPayment,
    InvalidRequest,
    MissingApiKey,
    NotPermitted,
    PaymentsError,
    UnsupportedMediaType,
)
from payments_core.observability import get_logger, get_metrics, get_tracer
from payments_core.settings import get_settings

SERVICE = "ingest"
logger = get_logger(SERVICE)
tracer = get_tracer(SERVICE)
metrics = get_metrics(SERVICE)


def parse_json(text: str) -> Any:
    """The body as JSON within the route's limits; numbers keep their text (see ``ingest_svc.body``)."""
    single = app.current_event.resource == "/payments"
    document = parse_body(text, max_bytes=MAX_SINGLE_BODY_BYTES if single else MAX_BATCH_BODY_BYTES)
    if not isinstance(document, dict):
        # Both bodies are objects. Powertools would validate the first element of a list instead.
        raise InvalidPayment("the body must be a JSON object")
    return document


class PaymentsResolver(APIGatewayRestResolver):
    """Powertools' resolver with a spec that claims no answer the API cannot give.

    Powertools documents a 422 on every route because it validates requests; here only the body
    rules are 422 (parameters are 400), so the routes without a body lose it.
    """

    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        schema = super().get_openapi_schema(*args, **kwargs)
        for item in (schema.paths or {}).values():
            for method in ("get", "delete", "head", "options"):
                operation = getattr(item, method, None)
                if operation is not None and operation.responses:
                    operation.responses.pop(422, None)
        return schema


app = PaymentsResolver(enable_validation=True, json_body_deserializer=parse_json)
app.enable_swagger(
    path="/swagger",
    title="Payments API",
    version="1.0.0",
    description="Submit payments idempotently, alone or in batches; read their outcome and audit trail.",
    security_schemes={"apiKey": APIKey(name="x-api-key", in_=APIKeyIn.header)},
    security=[{"apiKey": []}],
)

# Query and header parameter names as clients spell them, for the ``field`` of a 400.
_PARAMETER_NAMES = {IDEMPOTENCY_KEY_HEADER.lower(): IDEMPOTENCY_KEY_HEADER}


def _doc(description: str, model: type[BaseModel] = ErrorResponse) -> OpenAPIResponse:
    """An OpenAPI response entry whose JSON body is ``model`` (the error body unless said otherwise)."""
    return {"description": description, "content": {"application/json": {"model": model}}}


# Every answer a route can give, API Gateway's own included (the template's GatewayResponses give
# those the same error body).
_COMMON_ERRORS: dict[int, OpenAPIResponse] = {
    400: _doc("Invalid header, path or query parameter (`invalid_request`; `field` names it)."),
    403: _doc("No API key, or an unknown one (`invalid_api_key`, from API Gateway)."),
    429: _doc("Over the usage plan's rate or burst (`throttled`) or daily quota (`quota_exceeded`)."),
    500: _doc("An unexpected error (`internal_error`)."),
    502: _doc("The function failed or answered malformed (`internal_error`, from API Gateway)."),
    503: _doc("A dependency is unavailable (`dependency_error`); retry, with the same idempotency key."),
    504: _doc("The function did not answer within 29 s (`internal_error`, from API Gateway); retry."),
}
_BODY_ERRORS: dict[int, OpenAPIResponse] = {
    400: _doc(
        "Invalid header, or a body that is not JSON, is not UTF-8, nests deeper than 32 levels "
        "(`body_too_deep`) or repeats a key (`duplicate_key`); `field` names the offending input."
    ),
    413: _doc(
        "The body is too large (`payload_too_large`), or a batch holds over 500 items (`batch_too_large`)."
    ),
    415: _doc("The body is not declared `Content-Type: application/json` (`unsupported_media_type`)."),
    422: _doc(
        "The body breaks a rule; `field` names the offending input (`card_data_not_allowed` included)."
    ),
}
_NOT_FOUND = _doc("Unknown, another submitter's, or not recorded yet (`transaction_not_found`).")
_DASHBOARDS_ONLY = _doc(
    "No API key or an unknown one (`invalid_api_key`, from API Gateway), or a key that is not a "
    "dashboard key (`forbidden`)."
)


# ------------------------------------------------------------------------------------------ dependencies


@dataclass(frozen=True)
class Ports:
    idempotency: logic.IdempotencyPort
    queue: logic.QueuePort
    transactions: logic.TransactionsPort
    recorded: logic.RecordedPort
    audit: AuditReader


@lru_cache(maxsize=1)
def _queue() -> dal.PaymentsQueue:
    return dal.PaymentsQueue()


@lru_cache(maxsize=1)
def _transactions() -> dal.TransactionsTable:
    return dal.TransactionsTable()


@lru_cache(maxsize=1)
def _audit() -> AuditReader:
    return AuditReader()


def get_ports() -> Ports:
    """Production adapters; tests replace this through ``app.dependency_overrides``."""
    context = app.lambda_context
    remaining = context.get_remaining_time_in_millis if context is not None else None
    return Ports(
        idempotency=dal.IdempotencyStore(remaining_ms=remaining),
        queue=_queue(),
        transactions=_transactions(),
        recorded=_transactions(),
        audit=_audit(),
    )


def current_submitter() -> str:
    """The API key id API Gateway resolved for this request: who submitted, and who may read."""
    key_id = app.current_event.request_context.identity.api_key_id
    if not key_id:
        raise MissingApiKey("this API needs an API key in the x-api-key header")
    return key_id


def current_dashboard() -> str:
    """The caller's API key id, if it is one of the dashboards' keys; any other key is 403."""
    key_id = current_submitter()
    if key_id not in get_settings().dashboard_keys:
        raise NotPermitted("only a dashboard API key may read the audit of every payment")
    return key_id


Submitter = Annotated[str, Depends(current_submitter)]
Dashboard = Annotated[str, Depends(current_dashboard)]
Adapters = Annotated[Ports, Depends(get_ports)]


# ------------------------------------------------------------------------------------------ routes


@app.post(
    "/payments",
    status_code=202,
    summary="Submit one payment",
    description=(
        "Queues the payment and answers 202 with its transaction id. The same Idempotency-Key with the "
        "same body replays the first response with `replayed: true`; with another body it is refused "
        "(422 `idempotency_key_reused`); while the first request is still running, 409 "
        "`request_in_progress`. Keys are kept for 24 hours."
    ),
    responses={
        202: _doc("Accepted and queued.", AcceptedResponse),
        409: _doc("A request with this Idempotency-Key is still in progress (`request_in_progress`)."),
        **_COMMON_ERRORS,
        **_BODY_ERRORS,
    },
    tags=["payments"],
)
def post_payment(
    payment: Annotated[PaymentRequest, Body()],
    idempotency_key: Annotated[
        str,
        Header(
            alias=IDEMPOTENCY_KEY_HEADER,
            min_length=1,
            max_length=IDEMPOTENCY_KEY_MAX_LENGTH,
            pattern=IDEMPOTENCY_KEY_PATTERN,
            description="1-255 printable characters chosen by the client; retries reuse it.",
        ),
    ],
    submitter: Submitter,
    ports: Adapters,
) -> AcceptedResponse:
    if holds_pan(idempotency_key):
        raise CardDataRejected("an idempotency key must not be a card number", field=IDEMPOTENCY_KEY_HEADER)
    (outcome,) = logic.accept_payments(
        submitter,
        [BatchEntry(idempotency_key, payment=payment.payment())],
        idempotency=ports.idempotency,
        queue=ports.queue,
        recorded=ports.recorded,
        received_at=now_iso(),
        key_field=IDEMPOTENCY_KEY_HEADER,
    )
    if outcome.transaction_id:
        logger.set_correlation_id(outcome.transaction_id)
    _count([outcome])
    if outcome.error is not None:
        raise outcome.error
    logger.info(
        "payment accepted", extra={"transaction_id": outcome.transaction_id, "outcome": outcome.status}
    )
    return AcceptedResponse.model_validate(outcome.body)


@app.post(
    "/payments/batch",
    status_code=207,
    summary="Submit up to 500 payments",
    description=(
        "Each item carries its own `idempotency_key` and gets the same idempotency rules as a single POST. "
        "Results come back in request order; `accepted` counts new and replayed items, `replayed` the "
        "replays alone. An item rejected with `enqueue_failed` or `dependency_error` may be sent again."
    ),
    responses={
        207: _doc("One result per item.", BatchResponse),
        **_COMMON_ERRORS,
        **_BODY_ERRORS,
    },
    tags=["payments"],
)
def post_payment_batch(
    batch: Annotated[BatchRequest, Body()], submitter: Submitter, ports: Adapters
) -> BatchResponse:
    outcomes = logic.accept_payments(
        submitter,
        batch.payments,
        idempotency=ports.idempotency,
        queue=ports.queue,
        recorded=ports.recorded,
        received_at=now_iso(),
    )
    _count(outcomes)
    results = [
        BatchItemResult(
            index=outcome.index,
            idempotency_key=outcome.idempotency_key,
            status=outcome.status,
            transaction_id=outcome.transaction_id,
            error=ErrorDetail.model_validate(outcome.error.to_body()["error"]) if outcome.error else None,
        )
        for outcome in outcomes
    ]
    replayed = sum(1 for outcome in outcomes if outcome.status == "replayed")
    rejected = sum(1 for outcome in outcomes if outcome.status == "rejected")
    logger.info("batch processed", extra={"items": len(outcomes), "replayed": replayed, "rejected": rejected})
    return BatchResponse(
        results=results, accepted=len(outcomes) - rejected, replayed=replayed, rejected=rejected
    )


TransactionId = Annotated[
    str, Path(max_length=64, description="The id returned when the payment was accepted.")
]


@app.get(
    "/payments/<transaction_id>",
    summary="Read a payment's status and outcome",
    responses={
        200: _doc("The transaction.", PaymentView),
        404: _NOT_FOUND,
        **_COMMON_ERRORS,
    },
    tags=["payments"],
)
def get_payment(transaction_id: TransactionId, submitter: Submitter, ports: Adapters) -> PaymentView:
    """The transaction as recorded, for the submitter who created it.

    Between the 202 and the moment the queue consumer records the payment (usually well under a
    second) the transaction does not exist yet, so this answers 404 ``transaction_not_found`` with
    a message saying an accepted payment may not be visible yet; retry shortly. Once recorded it
    answers 200 with ``status: RECEIVED`` until the workflow finishes, then ``SETTLED``,
    ``DECLINED`` (with ``decline_reasons``) or ``FAILED``. Another API key's transaction is
    reported exactly like a missing one, so its existence never leaks.
    """
    logger.set_correlation_id(transaction_id)
    item = logic.owned_transaction(submitter, transaction_id, ports.transactions)
    return PaymentView.model_validate(logic.payment_view(item))


@app.get(
    "/payments/<transaction_id>/audit",
    summary="Read a payment's audit trail",
    responses={
        200: _doc("Events in time order.", AuditTrailResponse),
        404: _NOT_FOUND,
        **_COMMON_ERRORS,
    },
    tags=["audit"],
)
def get_payment_audit(
    transaction_id: TransactionId, submitter: Submitter, ports: Adapters
) -> AuditTrailResponse:
    """Every audit row of the transaction, oldest first; the same ownership rule and window as GET."""
    logger.set_correlation_id(transaction_id)
    logic.owned_transaction(submitter, transaction_id, ports.transactions)
    rows = logic.audit_events(ports.audit.trail(transaction_id))
    events = [
        AuditEventView.model_validate({k: v for k, v in row.items() if k != "transaction_id"}) for row in rows
    ]
    return AuditTrailResponse(transaction_id=transaction_id, events=events)


@app.get(
    "/audit",
    summary="Audit rows of all payments in a time range (dashboards)",
    responses={
        200: _doc("A page of events in time order.", AuditRangeResponse),
        **_COMMON_ERRORS,
        400: _doc("A bad time range, limit or next_token (`invalid_request`; `field` names it)."),
        403: _DASHBOARDS_ONLY,
    },
    tags=["audit"],
)
def get_audit(
    dashboard: Dashboard,
    ports: Adapters,
    from_: Annotated[
        str | None,
        Query(
            alias="from",
            description="ISO-8601; default one hour before `to`.",
            json_schema_extra={"format": "date-time"},
        ),
    ] = None,
    to: Annotated[
        str | None,
        Query(description="ISO-8601, exclusive; default now.", json_schema_extra={"format": "date-time"}),
    ] = None,
    action: Annotated[str | None, Query(max_length=64, description="e.g. payment.received")] = None,
    outcome: Annotated[
        str | None,
        Query(
            max_length=64,
            description="One of received, conflict, passed, rejected, error, settled, declined, failed.",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    next_token: Annotated[str | None, Query(max_length=4096)] = None,
) -> AuditRangeResponse:
    window = logic.audit_window(from_, to, now=utc_now())
    rows, token = ports.audit.range(
        window.start, window.end, action=action, outcome=outcome, limit=limit, next_token=next_token
    )
    events = [AuditEventView.model_validate(row) for row in logic.audit_events(rows)]
    return AuditRangeResponse(events=events, next_token=token)


@app.get(
    "/audit/counters",
    summary="The day's audit counters by action",
    responses={
        200: _doc("Counts summed over the shards.", AuditCountersResponse),
        **_COMMON_ERRORS,
        400: _doc("A bad day (`invalid_request`)."),
        403: _DASHBOARDS_ONLY,
    },
    tags=["audit"],
)
def get_audit_counters(
    dashboard: Dashboard,
    ports: Adapters,
    day: Annotated[
        str | None,
        Query(
            pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
            description="UTC day, YYYY-MM-DD; default today.",
            json_schema_extra={"format": "date"},
        ),
    ] = None,
) -> AuditCountersResponse:
    day = day or utc_now().strftime("%Y-%m-%d")
    return AuditCountersResponse(day=day, counters=ports.audit.counters(logic.check_day(day)))


# ------------------------------------------------------------------------------------------ errors


def error_response(
    status: int, code: str, message: str, field: str | None = None
) -> Response[dict[str, Any]]:
    body = ErrorResponse(error=ErrorDetail(code=code, message=message, field=field)).model_dump()
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


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


@app.exception_handler(PaymentsError)
def _payments_error(error: PaymentsError) -> Response[dict[str, Any]]:
    if error.http_status >= 500:
        logger.warning("request failed on a dependency", extra={"code": error.code})
    return error_response(error.http_status, error.code, error.message, error.field)


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
    return _payments_error(UnsupportedMediaType("send the body as JSON with Content-Type: application/json"))


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


def _count(outcomes: Sequence[logic.Outcome]) -> None:
    for status in ("accepted", "replayed", "rejected"):
        count = sum(1 for outcome in outcomes if outcome.status == status)
        if count:
            metrics.add_metric(name=f"Payments{status.capitalize()}", unit=MetricUnit.Count, value=count)


# ------------------------------------------------------------------------------------------ entry point


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    refused = refuse_media_type(event)
    if refused is not None:
        return refused
    return app.resolve(event, context)


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
    error = UnsupportedMediaType("send the body as JSON with Content-Type: application/json")
    body = ErrorResponse(error=ErrorDetail(code=error.code, message=error.message)).model_dump()
    return {
        "statusCode": error.http_status,
        "multiValueHeaders": {"Content-Type": [content_types.APPLICATION_JSON]},
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }

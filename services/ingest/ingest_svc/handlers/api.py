"""REST handler: ``POST /payments``, ``POST /payments/batch``, the payment and audit reads.

Thin on purpose: Powertools validates the request against the models (which also generate the
OpenAPI spec, served at ``/swagger``), ``ingest_svc.logic`` decides, and every error leaves through
the exception handlers below as ``{"error": {"code", "message", "field"?}}``, with the status
``handlers.http`` maps it to. Bodies are never logged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import CORSConfig
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ingest_svc import bootstrap
from ingest_svc.handlers.body import MAX_BATCH_BODY_BYTES, MAX_SINGLE_BODY_BYTES, parse_body
from ingest_svc.handlers.http import install_error_handlers, refuse_media_type
from ingest_svc.handlers.openapi import (
    BODY_ERRORS,
    COMMON_ERRORS,
    DASHBOARDS_ONLY,
    NOT_FOUND,
    PaymentsResolver,
    doc,
)
from ingest_svc.logic import views
from ingest_svc.logic.accept import KEY_FIELD, Acceptance, accept_payment, accept_payments
from ingest_svc.models import (
    IDEMPOTENCY_KEY_HEADER,
    IDEMPOTENCY_KEY_MAX_LENGTH,
    IDEMPOTENCY_KEY_PATTERN,
    AcceptedResponse,
    AuditCountersResponse,
    AuditEventView,
    AuditRangeResponse,
    AuditTrailResponse,
    BatchItemResult,
    BatchRequest,
    BatchResponse,
    ErrorDetail,
    PaymentRequest,
    PaymentResponse,
)
from payments_core.audit_reader import OUTCOME_VOCABULARY
from payments_core.carddata import holds_pan
from payments_core.clock import now_iso, utc_now
from payments_core.errors import (
    CardDataRejected,
    InvalidPayment,
    MissingApiKey,
    NotPermitted,
    PaymentsError,
)
from payments_core.observability import get_logger, get_metrics, get_tracer
from payments_core.settings import get_settings

SERVICE = "ingest"
logger = get_logger(SERVICE)
tracer = get_tracer(SERVICE)
metrics = get_metrics(SERVICE)


def parse_json(text: str) -> Any:
    """The body as JSON within the route's limits; numbers keep their text (see ``handlers.body``)."""
    single = app.current_event.resource == "/payments"
    document = parse_body(text, max_bytes=MAX_SINGLE_BODY_BYTES if single else MAX_BATCH_BODY_BYTES)
    if not isinstance(document, dict):
        # Both bodies are objects. Powertools would validate the first element of a list instead.
        raise InvalidPayment("the body must be a JSON object")
    return document


def cors_config(origin: str) -> CORSConfig | None:
    """Answers readable from ``origin`` only (API Gateway answers the preflight, not the function)."""
    return CORSConfig(allow_origin=origin, max_age=600) if origin else None


app = PaymentsResolver(
    enable_validation=True, json_body_deserializer=parse_json, cors=cors_config(get_settings().allowed_origin)
)
install_error_handlers(app, logger)
OPENAPI_DOCUMENT: dict[str, str] = {
    "title": "Payments API",
    "version": "1.0.0",
    "description": "Submit payments idempotently, alone or in batches; read their outcome and audit trail.",
}
app.enable_swagger_page("/swagger", **OPENAPI_DOCUMENT)


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


# ------------------------------------------------------------------------------------------ routes


@app.post(
    "/payments",
    status_code=202,
    summary="Submit one payment",
    description=(
        "Queues the payment and answers 202 with its transaction id. The same Idempotency-Key with the "
        "same body replays the first response with `replayed: true`, also while the first request is "
        "still running (the payment is then queued again, and recorded once); with another body it is "
        "refused (422 `idempotency_key_reused`). Keys are kept for 24 hours."
    ),
    responses={
        202: doc("Accepted and queued.", AcceptedResponse),
        **COMMON_ERRORS,
        **BODY_ERRORS,
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
) -> AcceptedResponse:
    if holds_pan(idempotency_key):
        raise CardDataRejected("an idempotency key must not be a card number", field=IDEMPOTENCY_KEY_HEADER)
    acceptance = accept_payment(
        submitter,
        idempotency_key,
        payment.payment(),
        bootstrap.api().accept,
        received_at=now_iso(),
    )
    if acceptance.transaction_id:
        logger.set_correlation_id(acceptance.transaction_id)
    _count([acceptance])
    if acceptance.error is not None:
        raise _as_header_error(acceptance.error)
    logger.info(
        "payment accepted", extra={"transaction_id": acceptance.transaction_id, "outcome": acceptance.status}
    )
    return AcceptedResponse.model_validate(acceptance.receipt)


def _as_header_error(error: PaymentsError) -> PaymentsError:
    """On a single POST the key is the Idempotency-Key header, so an error about it names the header."""
    return type(error)(error.message, field=IDEMPOTENCY_KEY_HEADER) if error.field == KEY_FIELD else error


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
        207: doc("One result per item.", BatchResponse),
        **COMMON_ERRORS,
        **BODY_ERRORS,
    },
    tags=["payments"],
)
def post_payment_batch(batch: Annotated[BatchRequest, Body()], submitter: Submitter) -> BatchResponse:
    acceptances = accept_payments(
        submitter,
        batch.payments,
        bootstrap.api().accept,
        received_at=now_iso(),
    )
    _count(acceptances)
    results = [
        BatchItemResult(
            index=acceptance.index,
            idempotency_key=acceptance.idempotency_key,
            status=acceptance.status,
            transaction_id=acceptance.transaction_id,
            error=ErrorDetail.model_validate(acceptance.error.to_body()["error"])
            if acceptance.error
            else None,
        )
        for acceptance in acceptances
    ]
    replayed = sum(1 for acceptance in acceptances if acceptance.status == "replayed")
    rejected = sum(1 for acceptance in acceptances if acceptance.status == "rejected")
    logger.info(
        "batch processed", extra={"items": len(acceptances), "replayed": replayed, "rejected": rejected}
    )
    return BatchResponse(
        results=results, accepted=len(acceptances) - rejected, replayed=replayed, rejected=rejected
    )


TransactionId = Annotated[
    str, Path(max_length=64, description="The id returned when the payment was accepted.")
]


@app.get(
    "/payments/<transaction_id>",
    summary="Read a payment's status and outcome",
    responses={
        200: doc("The transaction.", PaymentResponse),
        404: NOT_FOUND,
        **COMMON_ERRORS,
    },
    tags=["payments"],
)
def get_payment(transaction_id: TransactionId, submitter: Submitter) -> PaymentResponse:
    """The transaction as recorded, for the submitter who created it.

    Between the 202 and the moment the queue consumer records the payment (usually well under a
    second) the transaction does not exist yet, so this answers 404 ``transaction_not_found`` with
    a message saying an accepted payment may not be visible yet; retry shortly. Once recorded it
    answers 200 with ``status: RECEIVED`` until the workflow finishes, then ``SETTLED``,
    ``DECLINED`` (with ``decline_reasons``) or ``FAILED``. Another API key's transaction is
    reported exactly like a missing one, so its existence never leaks.
    """
    logger.set_correlation_id(transaction_id)
    item = views.owned_transaction(submitter, transaction_id, bootstrap.api().transactions)
    return PaymentResponse.model_validate(views.payment_view(item))


@app.get(
    "/payments/<transaction_id>/audit",
    summary="Read a payment's audit trail",
    responses={
        200: doc("Events in time order.", AuditTrailResponse),
        404: NOT_FOUND,
        **COMMON_ERRORS,
    },
    tags=["audit"],
)
def get_payment_audit(transaction_id: TransactionId, submitter: Submitter) -> AuditTrailResponse:
    """Every audit row of the transaction, oldest first; the same ownership rule and window as GET."""
    logger.set_correlation_id(transaction_id)
    adapters = bootstrap.api()
    views.owned_transaction(submitter, transaction_id, adapters.transactions)
    rows = views.audit_events(adapters.audit.trail(transaction_id))
    events = [
        AuditEventView.model_validate({k: v for k, v in row.items() if k != "transaction_id"}) for row in rows
    ]
    return AuditTrailResponse(transaction_id=transaction_id, events=events)


@app.get(
    "/audit",
    summary="Audit rows of all payments in a time range (dashboards)",
    responses={
        200: doc("A page of events in time order.", AuditRangeResponse),
        **COMMON_ERRORS,
        400: doc("A bad time range, limit or next_token (`invalid_request`; `field` names it)."),
        403: DASHBOARDS_ONLY,
    },
    tags=["audit"],
)
def get_audit(
    dashboard: Dashboard,
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
            description=f"One of {', '.join(OUTCOME_VOCABULARY)}.",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    next_token: Annotated[str | None, Query(max_length=4096)] = None,
) -> AuditRangeResponse:
    window = views.audit_window(from_, to, now=utc_now())
    rows, token = bootstrap.api().audit.range(
        window.start, window.end, action=action, outcome=outcome, limit=limit, next_token=next_token
    )
    events = [AuditEventView.model_validate(row) for row in views.audit_events(rows)]
    return AuditRangeResponse(events=events, next_token=token)


@app.get(
    "/audit/counters",
    summary="The day's audit counters by action",
    responses={
        200: doc("Counts summed over the shards.", AuditCountersResponse),
        **COMMON_ERRORS,
        400: doc("A bad day (`invalid_request`)."),
        403: DASHBOARDS_ONLY,
    },
    tags=["audit"],
)
def get_audit_counters(
    dashboard: Dashboard,
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
    return AuditCountersResponse(day=day, counters=bootstrap.api().audit.counters(views.check_day(day)))


def _count(acceptances: Sequence[Acceptance]) -> None:
    for status in ("accepted", "replayed", "rejected"):
        count = sum(1 for acceptance in acceptances if acceptance.status == status)
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

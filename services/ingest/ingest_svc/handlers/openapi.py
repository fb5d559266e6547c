"""The API's OpenAPI description: the resolver that publishes it and every answer a route can give."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel

from ingest_svc.models import ErrorResponse


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


def doc(description: str, model: type[BaseModel] = ErrorResponse) -> OpenAPIResponse:
    """An OpenAPI response entry whose JSON body is ``model`` (the error body unless said otherwise)."""
    return {"description": description, "content": {"application/json": {"model": model}}}


# Every answer a route can give, API Gateway's own included (the template's GatewayResponses give
# those the same error body).
COMMON_ERRORS: dict[int, OpenAPIResponse] = {
    400: doc("Invalid header, path or query parameter (`invalid_request`; `field` names it)."),
    403: doc("No API key, or an unknown one (`invalid_api_key`, from API Gateway)."),
    429: doc("Over the usage plan's rate or burst (`throttled`) or daily quota (`quota_exceeded`)."),
    500: doc("An unexpected error (`internal_error`)."),
    502: doc("The function failed or answered malformed (`internal_error`, from API Gateway)."),
    503: doc("A dependency is unavailable (`dependency_error`); retry, with the same idempotency key."),
    504: doc("The function did not answer within 29 s (`internal_error`, from API Gateway); retry."),
}
BODY_ERRORS: dict[int, OpenAPIResponse] = {
    400: doc(
        "Invalid header, or a body that is not JSON, is not UTF-8, nests deeper than 32 levels "
        "(`body_too_deep`) or repeats a key (`duplicate_key`); `field` names the offending input."
    ),
    413: doc(
        "The body is too large (`payload_too_large`), or a batch holds over 500 items (`batch_too_large`)."
    ),
    415: doc("The body is not declared `Content-Type: application/json` (`unsupported_media_type`)."),
    422: doc("The body breaks a rule; `field` names the offending input (`card_data_not_allowed` included)."),
}
NOT_FOUND = doc("Unknown, another submitter's, or not recorded yet (`transaction_not_found`).")
DASHBOARDS_ONLY = doc(
    "No API key or an unknown one (`invalid_api_key`, from API Gateway), or a key that is not a "
    "dashboard key (`forbidden`)."
)

"""The API's OpenAPI description: the resolver that publishes it and every answer a route can give."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel

from ingest_svc.models import ErrorResponse

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.models import SecurityScheme

# The API key header's scheme, applied to every operation.
API_KEY_SCHEME = "apiKey"


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

    def enable_swagger_page(self, path: str, **document: Any) -> None:
        """Powertools' ``enable_swagger`` (the page at ``path``, its JSON at ``?format=json``), built
        on the page's first request instead of at import.

        ``enable_swagger`` imports Powertools' OpenAPI models when it is called, and the security
        scheme is one of them: about 80 ms of every cold start of the API, for a page no payment
        waits for. The route answers exactly what Powertools' own ``swagger_handler`` answers (a test
        compares the two), with the same name, by which the local front finds it.
        """

        @self.get(path, include_in_schema=False)
        def swagger_handler() -> Response[str]:
            return self._swagger_page(document)

    def _swagger_page(self, document: dict[str, Any]) -> Response[str]:
        from aws_lambda_powertools.event_handler.openapi.compat import model_json
        from aws_lambda_powertools.event_handler.openapi.constants import DEFAULT_CONTENT_TYPE
        from aws_lambda_powertools.event_handler.openapi.models import Server
        from aws_lambda_powertools.event_handler.openapi.swagger_ui import (
            generate_oauth2_redirect_html,
            generate_swagger_html,
        )

        query = self.current_event.query_string_parameters or {}
        if query.get("format") == "oauth2-redirect":
            return Response(status_code=200, content_type="text/html", body=generate_oauth2_redirect_html())
        spec = self.get_openapi_schema(
            **document,
            servers=[Server(url=self._get_base_path() or "/")],
            security_schemes=api_key_scheme(),
            security=[{API_KEY_SCHEME: []}],
        )
        # Escaped so that the spec cannot close the page's <script> element.
        escaped = model_json(spec, by_alias=True, exclude_none=True, indent=2).replace("</", "<\\/")
        if query.get("format") == "json":
            return Response(status_code=200, content_type=DEFAULT_CONTENT_TYPE, body=escaped)
        assets = Path(swagger_ui_dir())
        page = generate_swagger_html(
            escaped,
            (assets / "swagger-ui-bundle.min.js").read_text(encoding="utf-8"),
            (assets / "swagger-ui.min.css").read_text(encoding="utf-8"),
            None,  # type: ignore[arg-type]  # no external Swagger UI: the bundled one is inlined
            None,
        )
        return Response(status_code=200, content_type="text/html", body=page)


def api_key_scheme() -> dict[str, SecurityScheme]:
    """The API key header every operation needs (API Gateway checks it)."""
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn

    return {API_KEY_SCHEME: APIKey(name="x-api-key", in_=APIKeyIn.header)}


def swagger_ui_dir() -> Path:
    """Where Powertools keeps the Swagger UI's script and style sheet, which the page inlines."""
    import aws_lambda_powertools.event_handler.openapi.swagger_ui as swagger_ui

    return Path(swagger_ui.__file__).parent


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

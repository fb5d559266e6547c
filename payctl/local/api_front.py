"""The local API front: what API Gateway (REST, v1 proxy integration) does in front of the ingest Lambda.

moto does not serve AWS_PROXY integrations, so the front plays API Gateway's part: match the
request against the template's routes, check the API key and its usage plan (throttle, then
quota), build the v1 proxy event, invoke the function through the local runtime and map the
proxy response back, with API Gateway's own error bodies where it would answer by itself.
:mod:`payctl.local.api_http_server` serves it over HTTP.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aws_lambda_powertools.event_handler.openapi import swagger_ui
from aws_lambda_powertools.event_handler.openapi.swagger_ui import generate_swagger_html

from payctl.local.api_keys import ApiKey, ApiKeyStore
from payctl.local.gateway_responses import GatewayResponses
from payctl.local.proxy_integration import (
    MAX_PAYLOAD_BYTES,
    HttpRequest,
    HttpResponse,
    MalformedProxyResponse,
    build_proxy_event,
    map_proxy_response,
)
from payctl.local.routes import ApiDefinition, Cors, NoRoute, RouteMatch, RouteTable
from payctl.local.throttle import UsagePlanEnforcer, Verdict

logger = logging.getLogger(__name__)

API_KEY_HEADER = "x-api-key"
INTEGRATION_TIMEOUT_SECONDS = 29
_DOCS_PATHS = frozenset({"/openapi.json", "/docs", "/docs/"})


Invoke = Callable[[str, dict[str, Any]], Any]
DocsProvider = Callable[[str], str | None]


class ApiFront:
    """Everything API Gateway decides for one request, independent of the HTTP server."""

    def __init__(
        self,
        api: ApiDefinition,
        invoke: Invoke,
        keys: ApiKeyStore,
        *,
        api_id: str | None = None,
        binary_media_types: Iterable[str] = (),
        openapi: DocsProvider | None = None,
        integration_timeout: float = INTEGRATION_TIMEOUT_SECONDS,
        enforcer: UsagePlanEnforcer | None = None,
        account_id: str = "123456789012",
    ) -> None:
        self.api = api
        self.api_id = api_id or api.api_id
        self.routes = RouteTable(list(api.routes))
        self._invoke = invoke
        self._keys = keys
        self._binary = tuple(binary_media_types) or api.binary_media_types
        self._responses = GatewayResponses.from_template(api.gateway_responses)
        self._openapi = openapi
        self._timeout = integration_timeout
        self._enforcer = enforcer or UsagePlanEnforcer()
        self._account_id = account_id
        # Functions run on these threads so a slow one can be abandoned after the integration
        # timeout, as API Gateway does; the function itself keeps running, as Lambda's would.
        self._pool = ThreadPoolExecutor(max_workers=64, thread_name_prefix="api-integration")
        # Called with every request to the API and its response (the card-data sweep reads every
        # body); not for the documentation pages, static text whose inlined Swagger UI bundle
        # holds digit runs such as 9007199254740991.
        self.observers: list[Callable[[HttpRequest, HttpResponse], None]] = []

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _strip_stage(self, path: str) -> str:
        prefix = f"/{self.api.stage_name}"
        if path == prefix or path.startswith(prefix + "/"):
            return path[len(prefix) :] or "/"
        return path

    def handle(self, request: HttpRequest) -> HttpResponse:
        request_id = str(uuid.uuid4())
        response = self._handle(request, request_id)
        response.headers.append(("x-amzn-RequestId", request_id))
        if urlsplit(request.raw_path).path not in _DOCS_PATHS:
            for observe in self.observers:
                observe(request, response)
        return response

    def _handle(self, request: HttpRequest, request_id: str) -> HttpResponse:
        path = urlsplit(request.raw_path).path
        docs = self._docs(request.method, path, request_id) or self._dashboard(request.method, path)
        if docs is not None:
            return docs
        resource_path = self._strip_stage(path)
        try:
            matched = self.routes.match(request.method, resource_path)
        except NoRoute as missing:
            if missing.allowed and request.method.upper() == "OPTIONS" and self.api.cors is not None:
                return self._preflight(self.api.cors, missing.allowed, request, request_id)
            if missing.allowed:
                # A known resource under a method it lacks. API Gateway would answer "Missing
                # Authentication Token"; locally the answer is the truthful 405, with Allow.
                response = self.local_error(405, "Method Not Allowed", request_id, request)
                response.headers.append(("Allow", ", ".join(missing.allowed)))
                return response
            return self._gateway("MISSING_AUTHENTICATION_TOKEN", request, request_id)
        if len(request.body) > MAX_PAYLOAD_BYTES:
            return self._gateway("REQUEST_TOO_LARGE", request, request_id)
        api_key: ApiKey | None = None
        if matched.route.api_key_required:
            admitted = self._admit(request, request_id)
            if isinstance(admitted, HttpResponse):
                return admitted
            api_key = admitted
        return self._integrate(request, request_id, matched, resource_path, api_key)

    def _admit(self, request: HttpRequest, request_id: str) -> ApiKey | HttpResponse:
        """The request's API key if it may pass: known, in a usage plan, within its limits."""
        presented = request.header(API_KEY_HEADER)
        found = None
        if presented:
            found = self._keys.authenticate(presented, self.api_id, self.api.stage_name)
        plan = found[1] if found else None
        # A valid key outside every usage plan of this stage is refused too, as in API Gateway.
        if found is None or plan is None:
            return self._gateway("INVALID_API_KEY", request, request_id)
        verdict = self._enforcer.check(plan.plan_id, found[0].id, plan.limits)
        if verdict is Verdict.THROTTLED:
            return self._gateway("THROTTLED", request, request_id)
        if verdict is Verdict.QUOTA_EXCEEDED:
            return self._gateway("QUOTA_EXCEEDED", request, request_id)
        return found[0]

    def _integrate(
        self,
        request: HttpRequest,
        request_id: str,
        matched: RouteMatch,
        resource_path: str,
        api_key: ApiKey | None,
    ) -> HttpResponse:
        """Invoke the route's function with the proxy event, within the integration timeout."""
        event = build_proxy_event(
            request,
            matched,
            api_id=self.api_id,
            stage=self.api.stage_name,
            request_id=request_id,
            api_key=api_key,
            path=resource_path,
            binary_media_types=self._binary,
            account_id=self._account_id,
        )
        future = self._pool.submit(self._invoke, matched.route.function_id, event)
        try:
            result = future.result(timeout=self._timeout)
        except FutureTimeout:
            return self._gateway("INTEGRATION_TIMEOUT", request, request_id)
        except Exception:
            # Any function error (a handler exception, a Lambda service fault) is a 502 in API
            # Gateway; the detail belongs in the function's log, never in the response.
            logger.exception(
                "integration %s failed for %s %s",
                matched.route.function_id,
                request.method,
                urlsplit(request.raw_path).path,
            )
            return self._gateway("INTEGRATION_FAILURE", request, request_id)
        try:
            return map_proxy_response(result)
        except MalformedProxyResponse as exc:
            logger.error("malformed Lambda proxy response from %s: %s", matched.route.function_id, exc)
            return self._gateway("INTEGRATION_FAILURE", request, request_id)

    def _preflight(
        self, cors: Cors, methods: tuple[str, ...], request: HttpRequest, request_id: str
    ) -> HttpResponse:
        """SAM's CORS preflight: a mock integration, answered without a function."""
        offered = request.header(API_KEY_HEADER) or ""
        if cors.key_required and not self._keys.authenticate(offered, self.api_id, self.api.stage_name):
            return self._gateway("INVALID_API_KEY", request, request_id)
        return HttpResponse(200, cors.preflight_headers(methods), b"{}\n")

    def _gateway(self, response_type: str, request: HttpRequest, request_id: str) -> HttpResponse:
        rendered = self._responses.render(
            response_type,
            request_id=request_id,
            request_headers=dict(request.headers),
            context={"stage": self.api.stage_name, "httpMethod": request.method},
        )
        return HttpResponse(rendered.status, list(rendered.headers), rendered.body)

    def bad_request(self) -> HttpResponse:
        """A request the server could not even read (a broken chunked body, say)."""
        return self.unreadable("BAD_REQUEST_BODY")

    def unreadable(self, response_type: str) -> HttpResponse:
        """One of API Gateway's own answers to a request that never got as far as a route."""
        request_id = str(uuid.uuid4())
        response = self._gateway(response_type, HttpRequest("GET", "/", [], b""), request_id)
        response.headers.append(("x-amzn-RequestId", request_id))
        return response

    def local_error(
        self, status: int, message: str, request_id: str | None = None, request: HttpRequest | None = None
    ) -> HttpResponse:
        """The HTTP server's own refusals (405, 414, 431, 501...) in the template's error shape.

        Without a ``request_id`` the answer is final (``handle`` adds none), so it gets its own.
        """
        own_id = request_id is None
        request_id = request_id or str(uuid.uuid4())
        rendered = self._responses.render_status(
            status,
            message,
            request_id=request_id,
            request_headers=dict(request.headers) if request else None,
            context={"stage": self.api.stage_name, "httpMethod": request.method if request else ""},
        )
        response = HttpResponse(rendered.status, list(rendered.headers), rendered.body)
        if own_id:
            response.headers.append(("x-amzn-RequestId", request_id))
        return response

    def _docs(self, method: str, path: str, request_id: str) -> HttpResponse | None:
        """``/openapi.json`` and the Swagger UI at ``/docs``: local conveniences outside the API's stage."""
        if method != "GET" or path not in _DOCS_PATHS or self._openapi is None:
            return None
        server_url = f"/{self.api.stage_name}"
        spec = self._openapi(server_url)
        if spec is None:
            return self.local_error(404, "no OpenAPI spec", request_id)
        if path == "/openapi.json":
            return HttpResponse(200, [("Content-Type", "application/json")], spec.encode())
        return HttpResponse(200, [("Content-Type", "text/html; charset=utf-8")], swagger_html(spec).encode())

    def _dashboard(self, method: str, path: str) -> HttpResponse | None:
        """The web dashboard at ``/dashboard/``, pointed at this stage (the page is static otherwise)."""
        if method != "GET" or path not in ("/dashboard", "/dashboard/"):
            return None
        from payctl.tools.dashboard.web import page

        return HttpResponse(
            200, [("Content-Type", "text/html; charset=utf-8")], page(f"/{self.api.stage_name}")
        )


def swagger_html(spec: str) -> str:
    """Swagger UI with its JS and CSS inlined from Powertools' bundled copy, so it works offline."""
    assets = Path(swagger_ui.__file__).parent
    js = (assets / "swagger-ui-bundle.min.js").read_text(encoding="utf-8")
    css = (assets / "swagger-ui.min.css").read_text(encoding="utf-8")
    return generate_swagger_html(spec.replace("</", "<\\/"), js, css, "", None)

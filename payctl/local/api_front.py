"""The local API front: what API Gateway (REST, v1 proxy integration) does in front of the ingest Lambda.

moto does not serve AWS_PROXY integrations, so this HTTP server plays API Gateway's part:
match the request against the template's routes, check the API key and its usage plan
(throttle, then quota), build the v1 proxy event, invoke the function through the local
runtime and map the proxy response back, with API Gateway's own error bodies where it
would answer by itself.
"""

from __future__ import annotations

import base64
import binascii
import errno
import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

from aws_lambda_powertools.event_handler.openapi import swagger_ui
from aws_lambda_powertools.event_handler.openapi.swagger_ui import generate_swagger_html

from payctl.local.gateway_responses import GatewayResponses
from payctl.local.routes import ApiDefinition, NoRoute, RouteMatch, RouteTable
from payctl.local.throttle import UsagePlanEnforcer, UsagePlanLimits, Verdict

logger = logging.getLogger(__name__)

API_KEY_HEADER = "x-api-key"
# API Gateway's hard limits for REST APIs.
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
INTEGRATION_TIMEOUT_SECONDS = 29
_DOCS_PATHS = frozenset({"/openapi.json", "/docs", "/docs/"})
_PROXY_RESPONSE_KEYS = frozenset({"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"})


@dataclass(frozen=True)
class ApiKey:
    id: str
    value: str
    enabled: bool = True
    name: str = ""


@dataclass(frozen=True)
class PlanBinding:
    """A usage plan a key belongs to, on the API stage being called."""

    plan_id: str
    limits: UsagePlanLimits


class ApiKeyStore(Protocol):
    def authenticate(self, value: str, api_id: str, stage: str) -> tuple[ApiKey, PlanBinding | None] | None:
        """The enabled key with this value and its usage plan on ``api_id``/``stage``; ``None`` if unknown."""


class StaticKeyStore:
    """Keys fixed in memory: for tests of the front itself."""

    def __init__(self, keys: Iterable[tuple[ApiKey, PlanBinding | None]]) -> None:
        self._by_value = {key.value: (key, plan) for key, plan in keys}

    def authenticate(self, value: str, api_id: str, stage: str) -> tuple[ApiKey, PlanBinding | None] | None:
        found = self._by_value.get(value)
        if found is None or not found[0].enabled:
            return None
        return found


@dataclass
class HttpRequest:
    method: str
    raw_path: str
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str = "127.0.0.1"
    host: str = "127.0.0.1"
    protocol: str = "HTTP/1.1"

    def header(self, name: str) -> str | None:
        found = None
        for key, value in self.headers:
            if key.lower() == name.lower():
                found = value
        return found


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


class MalformedProxyResponse(ValueError):
    """The function's result is not a valid proxy response: API Gateway answers 502."""


def _multi(pairs: list[tuple[str, str]]) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    if not pairs:
        return None, None
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for key, value in pairs:
        single[key] = value
        multi.setdefault(key, []).append(value)
    return single, multi


def build_proxy_event(
    request: HttpRequest,
    matched: RouteMatch,
    *,
    api_id: str,
    stage: str,
    request_id: str,
    api_key: ApiKey | None,
    path: str | None = None,
    binary_media_types: Iterable[str] = (),
    account_id: str = "123456789012",
    now: datetime | None = None,
) -> dict[str, Any]:
    """The REST API (v1) Lambda proxy integration event for ``request``."""
    now = now or datetime.now(UTC)
    parts = urlsplit(request.raw_path)
    headers, multi_headers = _multi(request.headers)
    query, multi_query = _multi(parse_qsl(parts.query, keep_blank_values=True))
    content_type = (request.header("content-type") or "").split(";")[0].strip().lower()
    binary = any(_media_type_matches(pattern, content_type) for pattern in binary_media_types)
    if not request.body:
        body: str | None = None
        is_base64 = False
    elif binary:
        body, is_base64 = base64.b64encode(request.body).decode(), True
    else:
        body, is_base64 = request.body.decode("utf-8", errors="replace"), False
    resource_path = matched.route.resource_path
    # ``path`` is the request path below the stage, as API Gateway's default endpoint reports it.
    request_path = "/" + "/".join(p for p in unquote(path or parts.path).split("/") if p)
    epoch_ms = int(now.timestamp() * 1000)
    return {
        "resource": resource_path,
        "path": request_path,
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": dict(matched.path_parameters) or None,
        "stageVariables": None,
        "requestContext": {
            "accountId": account_id,
            "apiId": api_id,
            "domainName": request.host,
            "domainPrefix": request.host.split(".")[0].split(":")[0],
            "extendedRequestId": request_id,
            "httpMethod": request.method,
            "identity": {
                "accessKey": None,
                "accountId": None,
                "apiKey": api_key.value if api_key else None,
                "apiKeyId": api_key.id if api_key else None,
                "caller": None,
                "cognitoAuthenticationProvider": None,
                "cognitoAuthenticationType": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "principalOrgId": None,
                "sourceIp": request.source_ip,
                "user": None,
                "userAgent": request.header("user-agent"),
                "userArn": None,
            },
            "path": f"/{stage}{request_path}",
            "protocol": request.protocol,
            "requestId": request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": epoch_ms,
            "resourceId": resource_path,
            "resourcePath": resource_path,
            "stage": stage,
        },
        "body": body,
        "isBase64Encoded": is_base64,
    }


def _media_type_matches(pattern: str, content_type: str) -> bool:
    pattern = pattern.replace("~1", "/").lower()
    if pattern in ("*/*", content_type):
        return True
    major, _, minor = pattern.partition("/")
    return minor == "*" and content_type.startswith(major + "/")


def map_proxy_response(result: Any) -> HttpResponse:
    """Turn a proxy integration result into the HTTP response, as API Gateway does."""
    if not isinstance(result, dict) or "statusCode" not in result:
        raise MalformedProxyResponse("result is not an object with a statusCode")
    extra = set(result) - _PROXY_RESPONSE_KEYS
    if extra:
        raise MalformedProxyResponse(f"unexpected field(s) {sorted(extra)}")
    try:
        status = int(result["statusCode"])
    except (TypeError, ValueError) as exc:
        raise MalformedProxyResponse(f"statusCode {result['statusCode']!r} is not an integer") from exc
    if not 100 <= status <= 599:
        raise MalformedProxyResponse(f"statusCode {status} is out of range")

    merged: dict[str, list[str]] = {}
    for key, values in (result.get("multiValueHeaders") or {}).items():
        if not isinstance(values, list):
            raise MalformedProxyResponse(f"multiValueHeaders[{key!r}] is not a list")
        merged.setdefault(key, []).extend(str(value) for value in values)
    # A key in both maps keeps the single-value header too, which is what API Gateway sends.
    for key, value in (result.get("headers") or {}).items():
        if str(value) not in merged.get(key, []):
            merged.setdefault(key, []).append(str(value))

    body = result.get("body")
    if body is None:
        payload = b""
    elif not isinstance(body, str):
        raise MalformedProxyResponse("body is not a string")
    elif result.get("isBase64Encoded"):
        try:
            payload = base64.b64decode(body, validate=True)
        except binascii.Error as exc:
            raise MalformedProxyResponse("isBase64Encoded body is not base64") from exc
    else:
        payload = body.encode()
    headers = [(key, value) for key, values in merged.items() for value in values]
    if not any(key.lower() == "content-type" for key, _ in headers):
        headers.append(("Content-Type", "application/json"))
    return HttpResponse(status, headers, payload)


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
            presented = request.header(API_KEY_HEADER)
            found = None
            if presented:
                found = self._keys.authenticate(presented, self.api_id, self.api.stage_name)
            plan = found[1] if found else None
            # A valid key outside every usage plan of this stage is refused too, as in API Gateway.
            if found is None or plan is None:
                return self._gateway("INVALID_API_KEY", request, request_id)
            api_key = found[0]
            verdict = self._enforcer.check(plan.plan_id, api_key.id, plan.limits)
            if verdict is Verdict.THROTTLED:
                return self._gateway("THROTTLED", request, request_id)
            if verdict is Verdict.QUOTA_EXCEEDED:
                return self._gateway("QUOTA_EXCEEDED", request, request_id)

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
                "integration %s failed for %s %s", matched.route.function_id, request.method, path
            )
            return self._gateway("INTEGRATION_FAILURE", request, request_id)
        try:
            return map_proxy_response(result)
        except MalformedProxyResponse as exc:
            logger.error("malformed Lambda proxy response from %s: %s", matched.route.function_id, exc)
            return self._gateway("INTEGRATION_FAILURE", request, request_id)

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


class _Handler(BaseHTTPRequestHandler):
    server: ApiHttpServer
    protocol_version = "HTTP/1.1"

    def _dispatch(self) -> None:
        try:
            body = self._read_body()
        except BodyTooLarge:
            # The rest of the body is never read, so the connection cannot carry another request.
            self.close_connection = True
            self._send(self.server.front.unreadable("REQUEST_TOO_LARGE"), close=True)
            return
        except ValueError:
            self._send(self.server.front.bad_request())
            return
        request = HttpRequest(
            method=self.command,
            raw_path=self.path,
            headers=list(self.headers.items()),
            body=body,
            source_ip=self.client_address[0],
            host=self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2]),
            protocol=self.request_version,
        )
        self._send(self.server.front.handle(request))

    def _read_body(self) -> bytes:
        if (self.headers.get("Transfer-Encoding") or "").lower() == "chunked":
            chunks: list[bytes] = []
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_PAYLOAD_BYTES:
                    raise BodyTooLarge
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        if length > MAX_PAYLOAD_BYTES:
            raise BodyTooLarge
        return self.rfile.read(length) if length else b""

    def _send(self, response: HttpResponse, *, close: bool = False) -> None:
        self.send_response(response.status)
        for key, value in response.headers:
            if key.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(response.body)))
        if close:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (a bad request line, 414, 431, an unknown method's 501) as JSON
        in the template's error shape rather than its HTML page."""
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "Error"
        self.log_error("code %d, message %s", code, message)
        # A request line too broken to name its version counts as HTTP/0.9, which http.server
        # would answer with a bare body; nobody speaks 0.9, so the answer keeps its status line.
        self.request_version = "HTTP/1.1"
        self.close_connection = True
        self._send(self.server.front.local_error(code, phrase), close=True)

    def __getattr__(self, name: str) -> Any:
        # Every method is routed (http.server would answer one it has no do_X for with 501), so a
        # known resource answers TRACE, QUERY or any other method it lacks 405 with Allow, and an
        # unknown path 404, as for GET or PUT.
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.client_address[0], *args)


class BodyTooLarge(Exception):
    """The body is over API Gateway's 10 MB: refused before it is read."""


class PortInUse(OSError):
    """The port asked for is already bound by another process."""


@contextmanager
def port_in_use_as(what: str, host: str, port: int) -> Iterator[None]:
    """Turn a failed bind on a taken port into :class:`PortInUse`, naming which port it was."""
    try:
        yield
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(exc.errno, f"{what} port {host}:{port} is already in use") from exc
        raise


class ApiHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    # Clients of a bursty batch submit open many connections at once.
    request_queue_size = 128

    def __init__(self, front: ApiFront, host: str = "127.0.0.1", port: int = 3000) -> None:
        self.front = front
        with port_in_use_as("API", host, port):
            super().__init__((host, port), _Handler)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.name = f"api-front:{self.port}"
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.server_close()
        self.front.close()

"""API Gateway's REST (v1) Lambda proxy integration: a request into the event, the result into the
HTTP response, as API Gateway maps them (moto does not serve AWS_PROXY integrations)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from payctl.local.routes import RouteMatch

if TYPE_CHECKING:
    from payctl.local.api_keys import ApiKey

# API Gateway's hard limit for a REST API's payload.
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
_PROXY_RESPONSE_KEYS = frozenset({"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"})


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
    body, is_base64 = _event_body(request, binary_media_types)
    resource_path = matched.route.resource_path
    # ``path`` is the request path below the stage, as API Gateway's default endpoint reports it.
    request_path = "/" + "/".join(p for p in unquote(path or parts.path).split("/") if p)
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
            "identity": _identity(request, api_key),
            "path": f"/{stage}{request_path}",
            "protocol": request.protocol,
            "requestId": request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "resourceId": resource_path,
            "resourcePath": resource_path,
            "stage": stage,
        },
        "body": body,
        "isBase64Encoded": is_base64,
    }


def _event_body(request: HttpRequest, binary_media_types: Iterable[str]) -> tuple[str | None, bool]:
    """The body as the event carries it: base64 for a binary media type, else text; and which."""
    if not request.body:
        return None, False
    content_type = (request.header("content-type") or "").split(";")[0].strip().lower()
    if any(_media_type_matches(pattern, content_type) for pattern in binary_media_types):
        return base64.b64encode(request.body).decode(), True
    return request.body.decode("utf-8", errors="replace"), False


def _identity(request: HttpRequest, api_key: ApiKey | None) -> dict[str, str | None]:
    return {
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

    headers = _response_headers(result)
    if not any(key.lower() == "content-type" for key, _ in headers):
        headers.append(("Content-Type", "application/json"))
    return HttpResponse(status, headers, _response_body(result))


def _response_headers(result: dict[str, Any]) -> list[tuple[str, str]]:
    merged: dict[str, list[str]] = {}
    for key, values in (result.get("multiValueHeaders") or {}).items():
        if not isinstance(values, list):
            raise MalformedProxyResponse(f"multiValueHeaders[{key!r}] is not a list")
        merged.setdefault(key, []).extend(str(value) for value in values)
    # A key in both maps keeps the single-value header too, which is what API Gateway sends.
    for key, value in (result.get("headers") or {}).items():
        if str(value) not in merged.get(key, []):
            merged.setdefault(key, []).append(str(value))
    return [(key, value) for key, values in merged.items() for value in values]


def _response_body(result: dict[str, Any]) -> bytes:
    body = result.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise MalformedProxyResponse("body is not a string")
    if result.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except binascii.Error as exc:
            raise MalformedProxyResponse("isBase64Encoded body is not base64") from exc
    return body.encode()

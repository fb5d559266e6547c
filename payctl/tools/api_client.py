"""The payments API over HTTP (httpx): one pooled client, connection errors retried by the transport."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

# httpx's transport retries only failures to connect, which never reached the API: always safe.
_CONNECT_RETRIES = 2


class ApiUnreachable(RuntimeError):
    """The API did not answer: refused, timed out, or the name did not resolve."""


def _json_default(value: Any) -> Any:
    # Amounts parsed as Decimal go out as strings, which the API accepts, so no float ever appears.
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(document: Any) -> bytes:
    return json.dumps(document, default=_json_default, separators=(",", ":")).encode()


@dataclass(frozen=True)
class ApiResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class ApiClient:
    """A keep-alive connection pool shared by threads, as a batch submitter would hold one."""

    def __init__(self, base_url: str, api_key: str | None = None, *, timeout: float = 35.0) -> None:
        url = httpx.URL(base_url.rstrip("/"))
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"{base_url!r} is not an http(s) URL")
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            transport=httpx.HTTPTransport(retries=_CONNECT_RETRIES),
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
        )

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        *,
        api_key: str | bool | None = True,
        params: dict[str, Any] | None = None,
    ) -> ApiResponse:
        """``api_key=True`` sends the client's key, ``None``/``False`` sends none, a string sends that.

        Raises :class:`ApiUnreachable` when no HTTP answer came back.
        """
        sent = {"Accept": "application/json", **(headers or {})}
        key = self.api_key if api_key is True else (api_key or None)
        if key:
            sent["x-api-key"] = key
        payload: bytes | None
        if body is None or isinstance(body, bytes):
            payload = body
        else:
            payload = dumps(body)
            sent.setdefault("Content-Type", "application/json")
        try:
            response = self._http.request(method, path, content=payload, headers=sent, params=params)
        except httpx.TransportError as exc:
            raise ApiUnreachable(f"{method} {self.base_url}{path}: {exc or type(exc).__name__}") from exc
        return ApiResponse(response.status_code, dict(response.headers), response.content)

    def get(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any, headers: dict[str, str] | None = None, **kwargs: Any) -> ApiResponse:
        return self.request("POST", path, body, headers, **kwargs)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

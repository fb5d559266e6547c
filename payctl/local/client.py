"""A small HTTP client for the payments API (stdlib only), and batch submission in chunks."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

# The API's own limit on POST /payments/batch (413 above it).
MAX_BATCH_ITEMS = 500
_RETRYABLE = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class ApiResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class ApiClient:
    """Keeps one connection per thread open, as a batch submitter would."""

    def __init__(self, base_url: str, api_key: str | None = None, *, timeout: float = 35.0) -> None:
        parts = urlsplit(base_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{base_url!r} is not an http(s) URL")
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path
        self._timeout = timeout
        self._local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            factory = http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
            connection = factory(self._host, self._port, timeout=self._timeout)
            self._local.connection = connection
        return connection

    def _drop_connection(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        *,
        api_key: str | bool | None = True,
    ) -> ApiResponse:
        """``api_key=True`` sends the client's key, ``None``/``False`` sends none, a string sends that."""
        sent = {"Accept": "application/json", **(headers or {})}
        key = self.api_key if api_key is True else (api_key or None)
        if key:
            sent["x-api-key"] = key
        payload: bytes | None
        if body is None or isinstance(body, bytes):
            payload = body
        else:
            payload = json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/json")
        for attempt in (1, 2):
            connection = self._connection()
            try:
                connection.request(method, self._prefix + path, body=payload, headers=sent)
                response = connection.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # A kept-alive connection the server closed; one fresh attempt is safe for these
                # idempotent-by-key requests.
                self._drop_connection()
                if attempt == 2:
                    raise
                continue
            if response.will_close:
                self._drop_connection()
            return ApiResponse(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
        raise AssertionError("unreachable")

    def get(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any, headers: dict[str, str] | None = None, **kwargs: Any) -> ApiResponse:
        return self.request("POST", path, body, headers, **kwargs)

    def close(self) -> None:
        self._drop_connection()


@dataclass
class SubmitSummary:
    accepted: int = 0
    replayed: int = 0
    rejected: int = 0
    results: list[dict[str, Any]] = field(default_factory=list)
    failed_chunks: list[dict[str, Any]] = field(default_factory=list)


def load_payments(document: Any) -> list[dict[str, Any]]:
    """A batch file is ``{"payments": [...]}`` (the API's own body) or a bare list of payments."""
    payments = document.get("payments") if isinstance(document, dict) else document
    if not isinstance(payments, list) or not all(isinstance(item, dict) for item in payments):
        raise ValueError('a batch file holds {"payments": [{...}, ...]} or a list of payment objects')
    return payments


def submit_batches(
    client: ApiClient,
    payments: Sequence[dict[str, Any]],
    *,
    chunk_size: int = MAX_BATCH_ITEMS,
    max_attempts: int = 6,
    on_chunk: Callable[[int], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> SubmitSummary:
    """POST ``payments`` to /payments/batch in chunks, retrying throttling and 5xx with backoff.

    Retrying a chunk is safe: every item carries its idempotency key, so a chunk that did reach
    the API comes back as ``replayed`` instead of being enqueued twice.
    """
    if not 1 <= chunk_size <= MAX_BATCH_ITEMS:
        raise ValueError(f"chunk_size must be 1..{MAX_BATCH_ITEMS}")
    summary = SubmitSummary()
    for offset in range(0, len(payments), chunk_size):
        chunk = list(payments[offset : offset + chunk_size])
        response = None
        for attempt in range(max_attempts):
            response = client.post("/payments/batch", {"payments": chunk})
            if response.status not in _RETRYABLE or attempt == max_attempts - 1:
                break
            sleep(min(8.0, 0.25 * 2**attempt))
        assert response is not None
        if response.status == 207:
            body = response.json()
            for result in body["results"]:
                summary.results.append({**result, "index": offset + int(result["index"])})
                status = result.get("status")
                if status == "accepted":
                    summary.accepted += 1
                elif status == "replayed":
                    summary.replayed += 1
                else:
                    summary.rejected += 1
        else:
            summary.failed_chunks.append(
                {
                    "offset": offset,
                    "size": len(chunk),
                    "status": response.status,
                    "body": response.body.decode(),
                }
            )
        if on_chunk is not None:
            on_chunk(len(chunk))
    return summary

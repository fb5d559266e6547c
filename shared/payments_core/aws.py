"""Lazily created, cached boto3 clients, and the code of an AWS error.

Nothing is created at import time: a cold start pays only for the clients a code path uses,
and endpoints come from the standard AWS_ENDPOINT_URL* variables, which boto3 honours. This is
the one client cache; a function's ``bootstrap`` holds its adapters, which ask here for clients.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

_lock = threading.Lock()
_clients: dict[tuple[str, int | None], Any] = {}

# The SDK's own retries absorb throttling; Lambda's timeout bounds the total.
_RETRIES: dict[str, Any] = {"mode": "standard", "max_attempts": 3}
# A call that must not be sent twice (StartSyncExecution would run a second execution in parallel
# after a read timeout) is tried once; the caller's own retry path takes over.
_ONE_ATTEMPT: dict[str, Any] = {"total_max_attempts": 1}
_DEFAULT_READ_TIMEOUT = 10


def client(service: str, *, read_timeout: int | None = None) -> Any:
    """The shared client for ``service``; with ``read_timeout``, a client tried once that waits that long."""
    key = (service, read_timeout)
    found = _clients.get(key)
    if found is None:
        with _lock:
            found = _clients.get(key)
            if found is None:
                config = Config(
                    retries=_RETRIES if read_timeout is None else _ONE_ATTEMPT,
                    connect_timeout=3,
                    read_timeout=_DEFAULT_READ_TIMEOUT if read_timeout is None else read_timeout,
                )
                found = _clients[key] = boto3.session.Session().client(service, config=config)
    return found


def error_code(exc: Exception) -> str:
    """The AWS error code of a failed call (``ThrottlingException``), or the exception's type."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "ClientError"))
    return type(exc).__name__

"""Lazily created, cached boto3 clients.

Nothing is created at import time: a cold start pays only for the clients a code path uses,
and endpoints come from the standard AWS_ENDPOINT_URL* variables, which boto3 honours.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

_lock = threading.Lock()
_clients: dict[str, Any] = {}

# The SDK's own retries absorb throttling; Lambda's timeout bounds the total.
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=10)


def client(service: str) -> Any:
    found = _clients.get(service)
    if found is None:
        with _lock:
            found = _clients.get(service)
            if found is None:
                found = _clients[service] = boto3.session.Session().client(service, config=_CONFIG)
    return found

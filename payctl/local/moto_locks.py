"""Serialise moto's DynamoDB request handling: moto's DynamoDB backend is not thread-safe.

Gap (moto 5.2.5): ``transact_write_items`` deep-copies every table it touches (to roll back on a
failed condition) while other threads may be writing the same table, and scans or queries iterate
the item dict unguarded. With the local stack's concurrency (the API front's threads, several
poller workers, Parallel branches) this fails with ``RuntimeError: dictionary changed size during
iteration``, which the workflow then sees as a failed step. DynamoDB calls take milliseconds in
moto, so one lock around each request costs little and makes every request atomic, as in DynamoDB.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from payctl.runtime._patching import Patcher

GAP = "moto DynamoDB backend is not thread-safe (transact_write_items deep-copies live tables)"

_LOCK = threading.RLock()


def install(patcher: Patcher) -> None:
    from moto.dynamodb.responses import DynamoHandler

    def wrap(original: Any) -> Any:
        @functools.wraps(original)
        def call_action(self: Any) -> Any:
            with _LOCK:
                return original(self)

        return call_action

    patcher.wrap(DynamoHandler, "call_action", wrap, gap=GAP)

"""Shim 18 — one lock makes every moto request atomic, for every service the stack uses.

Gap (moto 5.2.5): no backend is safe under concurrent requests. DynamoDB scans iterate the live
item dict while other threads write ("dictionary changed size during iteration"); SQS's
``delete_message`` rebuilds a queue's message list while ``SendMessage`` appends to it, so a
message sent meanwhile is silently dropped (60 of 10,000 accepted payments were lost that way
while the API sent and the pollers deleted); S3 and Step Functions keep plain dicts too.

The locking design, in one place:

- One re-entrant lock, :data:`MOTO_LOCK`, is held for the whole of every request moto serves,
  whichever way it arrives: in-process boto3 (moto's botocore stubber, which also serves the calls
  relayed from Lambda execution environments) and moto's HTTP server (other processes: the CLI, the
  AWS CLI). A request is therefore atomic, as it is in AWS, and the backends' internals need no
  locks of their own. moto's work is pure Python under the GIL anyway, so serialising it costs
  almost no throughput; what runs in parallel is everything outside moto (handlers in their own
  processes, botocore on the calling side, the API front).
- Requests that wait on other work are not held under the lock, or they would stall every other
  request (and deadlock on the calls they make): Lambda ``Invoke`` (the handler runs elsewhere and
  calls back into moto) and Step Functions ``StartSyncExecution`` (the interpreter runs the whole
  workflow, invoking functions). Each of the calls they make takes the lock for itself.
- Waiting inside a request releases the lock: SQS long polling (``WaitTimeSeconds``) waits on the
  queue's own condition with :data:`MOTO_LOCK` released, so senders can add the messages it waits for.
- Runtime code that reads or changes a backend directly, outside a request, takes :data:`MOTO_LOCK`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from payctl.runtime._patching import Patcher

GAP = "moto backends are not safe under concurrent requests"

MOTO_LOCK = threading.RLock()

_INVOKE_PATH = re.compile(r"/functions/[^/]+/invocations/?$")
_UNLOCKED_TARGETS = frozenset({"AWSStepFunctions.StartSyncExecution"})


def waits_on_other_work(path: str, target: str | None) -> bool:
    """Whether a request runs other work to its end (an invocation, a workflow) and so is not locked."""
    return target in _UNLOCKED_TARGETS or _INVOKE_PATH.search(path) is not None


@contextmanager
def released(lock: Any = MOTO_LOCK) -> Iterator[None]:
    """Release a re-entrant lock held by this thread (at any depth) for the block, then re-take it.

    ``threading.Condition`` releases its lock the same way while it waits.
    """
    try:
        saved = lock._release_save()
    except RuntimeError:  # not held by this thread: nothing to release
        yield
        return
    try:
        yield
    finally:
        lock._acquire_restore(saved)


def _target(headers: Any) -> str | None:
    value = headers.get("X-Amz-Target") if headers is not None else None
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return value


def _serialised_stubber(original: Callable[..., Any]) -> Callable[..., Any]:
    def process_request(self: Any, request: Any) -> Any:
        from urllib.parse import urlsplit

        if waits_on_other_work(urlsplit(request.url).path, _target(request.headers)):
            return original(self, request)
        with MOTO_LOCK:
            return original(self, request)

    return process_request


def _serialised_wsgi(original: Callable[..., Any]) -> Callable[..., Any]:
    def call(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        if waits_on_other_work(environ.get("PATH_INFO", ""), environ.get("HTTP_X_AMZ_TARGET")):
            return original(self, environ, start_response)
        with MOTO_LOCK:
            # moto answers with complete bodies; materialise them while the request is atomic.
            return list(original(self, environ, start_response))

    return call


def _waits_unlocked(original: Callable[..., Any]) -> Callable[..., Any]:
    def wait_for_messages(self: Any, timeout: int) -> None:
        with released():
            original(self, timeout)

    return wait_for_messages


def install(patcher: Patcher) -> None:
    from moto.core.botocore_stubber import BotocoreStubber
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication
    from moto.sqs.models import Queue

    patcher.wrap(BotocoreStubber, "process_request", _serialised_stubber, gap=GAP)
    patcher.wrap(DomainDispatcherApplication, "__call__", _serialised_wsgi, gap=GAP)
    patcher.wrap(Queue, "wait_for_messages", _waits_unlocked, gap=GAP)

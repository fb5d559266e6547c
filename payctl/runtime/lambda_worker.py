"""One Lambda execution environment: a process that runs one function's handler, one invocation at a time.

Started by :mod:`payctl.runtime.lambda_environments` as ``python -m payctl.runtime.lambda_worker FD``
with exactly the function's environment (its template variables and Lambda's own), ``PYTHONPATH``
naming its code directory and its layers (Lambda's ``/var/task`` and ``/opt/python``), and one end
of a socket pair. It never imports moto: every AWS call the handler makes is relayed, as the HTTP
request botocore prepared, to the process that holds moto's state, and answered with moto's HTTP
response, so botocore parses, retries and raises exactly as it would against AWS.

Protocol (pickled tuples over the socket): the parent sends the spec, then ``("invoke", request_id,
event_bytes, context_fields)`` or ``("exit",)``; the worker sends ``("ready",)`` or ``("init_error",
payload)`` once, ``("aws", call_id, method, url, headers, body, meta)`` for each AWS call (answered
by ``("aws_result", call_id, status, headers, body)``), and ``("result", request_id, payload,
errored, max_rss_kb)`` per invocation.
"""

from __future__ import annotations

import io
import itertools
import queue
import sys
import threading
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from payctl.runtime.lambda_payloads import (
    LambdaContext,
    decode_event,
    exception_payload,
    lambda_error_payload,
    load_handler,
    marshal,
)


class Channel:
    """The worker's end of the socket: a reader thread routes AWS answers to the threads waiting on them."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._send_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._waiting: dict[int, queue.SimpleQueue[Any]] = {}
        self._commands: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._reader = threading.Thread(target=self._read, name="lambda-runtime-channel", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                message = self._conn.recv()
            except (EOFError, OSError):
                self._commands.put(None)
                for waiter in list(self._waiting.values()):
                    waiter.put(None)
                return
            if message[0] == "aws_result":
                waiting = self._waiting.pop(message[1], None)
                if waiting is not None:
                    waiting.put(message)
            else:
                self._commands.put(message)

    def send(self, message: Any) -> None:
        with self._send_lock:
            self._conn.send(message)

    def next_command(self) -> Any:
        return self._commands.get()

    def call(self, method: str, url: str, headers: list[tuple[str, str]], body: bytes, meta: Any) -> Any:
        call_id = next(self._ids)
        waiter: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._waiting[call_id] = waiter
        self.send(("aws", call_id, method, url, headers, body, meta))
        answer = waiter.get()
        if answer is None:
            raise ConnectionError("the local runtime closed the execution environment's channel")
        return answer[2], answer[3], answer[4]


class _RawBody(io.BytesIO):
    """What botocore reads a response body from (``stream()`` for streaming outputs such as S3 bodies)."""

    def stream(self, **_: Any) -> Any:
        contents = self.read()
        while contents:
            yield contents
            contents = self.read()


class Relay:
    """botocore handlers that send each prepared request to the runtime instead of the network."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel
        self._call = threading.local()

    def remember(self, model: Any, **_: Any) -> None:
        self._call.current = (model.service_model.service_name, model.name)

    def send(self, request: Any, event_name: str, **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse
        from botocore.compat import HTTPHeaders

        parts = event_name.split(".")
        service, operation = getattr(self._call, "current", (parts[1], parts[-1]))
        body = request.body
        if hasattr(body, "read"):
            # botocore rewinds a body itself before a retry (``reset_stream``); aws-chunked
            # uploads are wrappers that cannot tell their position.
            body = body.read()
        if isinstance(body, str):
            body = body.encode("utf-8")
        meta = {"service": service, "operation": operation}
        headers = [
            (str(key), value.decode() if isinstance(value, bytes) else str(value))
            for key, value in request.headers.items()
        ]
        answer = self._channel.call(request.method, request.url, headers, body or b"", meta)
        status, answer_headers, content = answer
        response_headers = HTTPHeaders()
        for key, value in answer_headers:
            response_headers[key] = value
        return AWSResponse(request.url, status, response_headers, _RawBody(content))

    def install(self) -> None:
        # Appended to botocore's built-in handlers (as moto does), so every session the handler
        # creates later carries them.
        from botocore import handlers

        handlers.BUILTIN_HANDLERS.append(("before-parameter-build", self.remember))
        handlers.BUILTIN_HANDLERS.append(("before-send", self.send))


def _init(spec: dict[str, Any], channel: Channel) -> Any:
    try:
        return load_handler(spec["handler"], Path(spec["code_dir"]))
    except AttributeError as exc:
        channel.send(("init_error", lambda_error_payload("Runtime.HandlerNotFound", str(exc), "", [])))
    except (ImportError, SyntaxError) as exc:
        module = spec["handler"].rpartition(".")[0]
        message = f"Unable to import module '{module}': {exc}"
        channel.send(("init_error", lambda_error_payload("Runtime.ImportModuleError", message, "", [])))
    except Exception as exc:
        channel.send(("init_error", exception_payload(exc, "", __file__)))
    return None


def _invoke(handler: Any, body: bytes, fields: dict[str, Any]) -> tuple[bytes, bool]:
    context = LambdaContext(**fields)
    request_id = context.aws_request_id
    try:
        result = handler(decode_event(body), context)
    except Exception as exc:
        return exception_payload(exc, request_id, __file__), True
    return marshal(result, request_id)


def peak_rss_kb() -> int:
    """This process's peak resident memory. (``getrusage``'s ``ru_maxrss`` is no use here: on Linux
    a child inherits the parent's high-water mark across fork and exec.)"""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def main() -> None:
    conn = Connection(int(sys.argv[1]))
    spec = conn.recv()
    channel = Channel(conn)
    Relay(channel).install()
    handler = _init(spec, channel)
    if handler is None:
        return
    channel.send(("ready",))
    while True:
        command = channel.next_command()
        if command is None or command[0] == "exit":
            return
        _, request_id, body, fields = command
        payload, errored = _invoke(handler, body, fields)
        max_rss_kb = peak_rss_kb()
        channel.send(("result", request_id, payload, errored, max_rss_kb))
        sys.stdout.flush()


if __name__ == "__main__":
    main()

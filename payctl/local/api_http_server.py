"""The HTTP server in front of :class:`~payctl.local.api_front.ApiFront`: it reads each request
(bodies over API Gateway's 10 MB refused before they are read), hands it to the front, and
writes the answer; its own refusals keep the template's error shape."""

from __future__ import annotations

import logging
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from payctl.local.api_front import ApiFront
from payctl.local.ports import port_in_use_as
from payctl.local.proxy_integration import MAX_PAYLOAD_BYTES, HttpRequest, HttpResponse

logger = logging.getLogger(__name__)


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

"""moto's HTTP server over the in-process backends, so other processes see the same stack."""

from __future__ import annotations

import socket
import threading

from payctl.local.ports import port_in_use_as

LOCALHOST = "127.0.0.1"
DEFAULT_MOTO_PORT = 5000


class MotoServer:
    """moto's HTTP server on the in-process backends, bound before it returns.

    ``moto.server.ThreadedMotoServer`` binds inside its thread, so a taken port leaves ``start()``
    waiting forever, and werkzeug answers a failed bind with ``sys.exit``. The socket is bound
    here instead and handed to werkzeug, which turns a taken port into an immediate, clear error.
    """

    def __init__(self, host: str = LOCALHOST, port: int = DEFAULT_MOTO_PORT) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            with port_in_use_as("moto", host, port):
                listener.bind((host, port))
            listener.listen(128)
            app = DomainDispatcherApplication(create_backend_app)
            # werkzeug duplicates the descriptor, so this socket object can be closed afterwards.
            self._server = make_server(
                host, port, app, threaded=True, request_handler=MotoRequestHandler, fd=listener.fileno()
            )
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto-server", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)
        self._server.server_close()

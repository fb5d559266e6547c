"""Ports the local stack listens on: a taken one is said plainly, naming which server wanted it."""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterator
from contextlib import contextmanager


class PortInUse(OSError):
    """The port asked for is already bound by another process."""


@contextmanager
def port_in_use_as(what: str, host: str, port: int) -> Iterator[None]:
    """Turn a failed bind on a taken port into :class:`PortInUse`, naming which port it was."""
    try:
        yield
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(exc.errno, f"{what} port {host}:{port} is already in use") from exc
        raise


def ensure_port_free(host: str, port: int, what: str) -> None:
    """Fail before the (slow) deploy when a port is already taken, with a message that says which."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe, port_in_use_as(what, host, port):
        # As the servers themselves do: a port whose last connections are still in TIME_WAIT after
        # a stop is free to listen on again.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))

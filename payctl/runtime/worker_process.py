"""One Lambda execution environment: a ``payctl.runtime.lambda_worker`` process and the socket to
it, with what it costs (CPU, resident memory); :mod:`payctl.runtime.lambda_environments` pools them."""

from __future__ import annotations

import itertools
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

logger = logging.getLogger("payctl.runtime.lambda")

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class FunctionSpec:
    """Everything an execution environment is made from; a change makes new environments."""

    name: str
    arn: str
    version: str
    handler: str
    code_dir: Path
    layer_dirs: tuple[Path, ...]
    variables: tuple[tuple[str, str], ...]
    timeout: int  # seconds, a whole number as in Lambda
    memory_mb: int
    concurrency: int
    region: str


def _forward_log(stream: Any) -> None:
    for line in iter(stream.readline, b""):
        try:
            sys.stdout.write(line.decode("utf-8", "replace"))
            sys.stdout.flush()
        except (OSError, ValueError):  # stdout closed under us (the stack is stopping)
            return
    stream.close()


class Environment:
    """One worker process and the socket to it."""

    _numbers = itertools.count(1)

    def __init__(self, spec: FunctionSpec, environment: dict[str, str]) -> None:
        self.spec = spec
        self.number = next(self._numbers)
        parent, child = socket.socketpair()
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "payctl.runtime.lambda_worker", str(child.fileno())],
            pass_fds=[child.fileno()],
            env=environment,
            close_fds=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        child.close()
        # What the function prints is its log (CloudWatch Logs, in Lambda): forwarded line by line
        # to this process's stdout, wherever that points now.
        threading.Thread(
            target=_forward_log, args=(self.process.stdout,), name=f"log-{spec.name}", daemon=True
        ).start()
        self.conn = Connection(parent.detach())
        self.send_lock = threading.Lock()
        self.conn.send({"handler": spec.handler, "code_dir": str(spec.code_dir)})
        self._started = started
        self.init_ms: float | None = None
        self.alive = True
        self.cpu_used = 0.0
        # Until its first invocation, which reports its Init Duration.
        self.fresh = True
        self.log_stream = ""

    def send(self, message: Any) -> None:
        with self.send_lock:
            self.conn.send(message)

    def cpu_seconds(self) -> float:
        """User + system CPU the process has used so far (0 once it is gone)."""
        try:
            with open(f"/proc/{self.process.pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
        except (OSError, IndexError, ValueError):
            return 0.0

    def rss_bytes(self) -> int:
        try:
            with open(f"/proc/{self.process.pid}/statm") as statm:
                return int(statm.read().split()[1]) * _PAGE_SIZE
        except (OSError, IndexError, ValueError):
            return 0

    def kill(self) -> None:
        self.cpu_used = max(self.cpu_used, self.cpu_seconds())
        if self.alive:
            self.alive = False
            self.process.kill()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover - a killed process that does not die
            logger.error("environment %s of %s did not exit", self.number, self.spec.name)
        self.conn.close()

    def close(self) -> None:
        if self.alive:
            try:
                self.send(("exit",))
                self.process.wait(timeout=2)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()

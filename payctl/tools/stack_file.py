"""The small JSON file through which ``payctl local up`` tells later commands where the stack is.

It holds endpoints and resource names, never the API key value: that stays in API Gateway and
is revealed on request (``payctl get-api-key --include-value``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

DEFAULT_STATE_FILE = Path(".payctl") / "local.json"


class NoRunningStack(RuntimeError):
    """No state file, or the process that wrote it has gone."""


def write_state(info: dict[str, Any], path: Path = DEFAULT_STATE_FILE) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({**info, "pid": os.getpid()}, indent=2, sort_keys=True), encoding="utf-8")
    temporary.replace(path)
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_state(path: Path = DEFAULT_STATE_FILE) -> dict[str, Any]:
    if not path.is_file():
        raise NoRunningStack(
            f"no local stack found ({path} does not exist); start one with `payctl local up`"
        )
    info: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    pid = info.get("pid")
    if isinstance(pid, int) and not _alive(pid):
        raise NoRunningStack(f"the local stack recorded in {path} (pid {pid}) is no longer running")
    return info


def remove_state(path: Path = DEFAULT_STATE_FILE) -> None:
    """Forget the stack, but only if this process is the one that wrote the file."""
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return
    if info.get("pid") == os.getpid():
        path.unlink(missing_ok=True)

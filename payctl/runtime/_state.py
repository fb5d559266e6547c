"""Process-wide state of the active local runtime (there is at most one moto world per process)."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from payctl.runtime.lambda_environments import ExecutionEnvironments


class RuntimeNotActive(RuntimeError):
    """A runtime call was made outside ``payctl.runtime.moto_session()``."""


class EnvironmentConflict(RuntimeError):
    """Two functions need different values for one environment variable in the shared process."""


def _conflict(
    name: str, current: str, owners: str | list[str], value: str, function_name: str
) -> EnvironmentConflict:
    return EnvironmentConflict(
        f"environment variable {name} is {current!r} for {owners} but {value!r} for "
        f"{function_name}; functions share one process locally, so a variable must have the same "
        "value for every function"
    )


class EnvironmentScope:
    """Sets and unsets ``os.environ`` entries and restores the previous values on close."""

    def __init__(self) -> None:
        self._saved: dict[str, str | None] = {}
        self._lock = threading.Lock()

    def set(self, name: str, value: str) -> None:
        with self._lock:
            self._saved.setdefault(name, os.environ.get(name))
            os.environ[name] = value

    def unset(self, name: str) -> None:
        with self._lock:
            self._saved.setdefault(name, os.environ.get(name))
            os.environ.pop(name, None)

    def restore(self) -> None:
        with self._lock:
            for name, value in self._saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            self._saved.clear()


class FunctionEnvironments:
    """Applies each function's configured variables to the one shared process environment.

    Lambda gives every function its own process; here all handlers share one, so a variable may be
    set by several functions only if they all agree on its value.
    """

    def __init__(self, scope: EnvironmentScope) -> None:
        self._scope = scope
        self._claims: dict[str, tuple[str, set[str]]] = {}
        self._lock = threading.Lock()

    def claim(self, function_name: str, variables: Mapping[str, Any]) -> None:
        wanted = {name: str(value) for name, value in (variables or {}).items()}
        with self._lock:
            for name, value in wanted.items():
                claimed = self._claims.get(name)
                if claimed is None:
                    continue
                current, owners = claimed
                others = owners - {function_name}
                if current != value and others:
                    raise _conflict(name, current, sorted(others), value, function_name)
            for name, (_, owners) in list(self._claims.items()):
                if function_name in owners and name not in wanted:
                    owners.discard(function_name)
            for name, value in wanted.items():
                owners = self._claims.get(name, (value, set()))[1]
                owners.add(function_name)
                self._claims[name] = (value, owners)
                if os.environ.get(name) != value:
                    self._scope.set(name, value)

    def check_all(self, functions: Mapping[str, Mapping[str, Any]]) -> None:
        """Claim every function's variables, or none of them if any pair conflicts."""
        seen: dict[str, tuple[str, str]] = {
            name: (value, sorted(owners)[0]) for name, (value, owners) in self._claims.items() if owners
        }
        for function_name, variables in functions.items():
            for name, raw in (variables or {}).items():
                value = str(raw)
                if name in seen and seen[name][0] != value and seen[name][1] != function_name:
                    raise _conflict(name, seen[name][0], seen[name][1], value, function_name)
                seen.setdefault(name, (value, function_name))
        for function_name, variables in functions.items():
            self.claim(function_name, variables)


class ImportRoots(importlib.abc.MetaPathFinder):
    """Finds top-level handler and layer packages in directories named by the template.

    Consulted only after the normal import machinery, so under pytest (whose ``pythonpath`` already
    lists the code directories) it never changes which module is imported.
    """

    def __init__(self) -> None:
        self._roots: list[str] = []
        self._lock = threading.Lock()

    def add(self, directory: Path) -> None:
        with self._lock:
            text = str(directory)
            if text not in self._roots:
                self._roots.append(text)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if path is not None or "." in fullname:
            return None
        return importlib.machinery.PathFinder.find_spec(fullname, list(self._roots))


@dataclass
class LocalFunction:
    """Where a deployed function's code lives on disk, and how to call it."""

    name: str
    code_dir: Path
    _handler_callable: Any = field(default=None, repr=False)
    # Inline, a function is one execution environment: one invocation at a time.
    invocation_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


@dataclass
class RuntimeState:
    region: str
    account_id: str
    env_scope: EnvironmentScope
    import_roots: ImportRoots
    artifacts: dict[tuple[str, str], Path] = field(default_factory=dict)
    layer_dirs: dict[str, Path] = field(default_factory=dict)
    functions: dict[str, LocalFunction] = field(default_factory=dict)
    function_envs: FunctionEnvironments | None = None
    # Execution environments (one process each); None runs handlers inline, in this process.
    environments: ExecutionEnvironments | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)
    extras: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.function_envs is None:
            self.function_envs = FunctionEnvironments(self.env_scope)

    def artifact_dir(self, bucket: str | None, key: str | None) -> Path | None:
        if bucket is None or key is None:
            return None
        return self.artifacts.get((bucket, key))


_ACTIVE: RuntimeState | None = None
_ACTIVE_LOCK = threading.Lock()


def current() -> RuntimeState:
    state = _ACTIVE
    if state is None:
        raise RuntimeNotActive("no local runtime is active; use payctl.runtime.moto_session()")
    return state


def is_active() -> bool:
    return _ACTIVE is not None


def activate(state: RuntimeState) -> None:
    global _ACTIVE
    with _ACTIVE_LOCK:
        if _ACTIVE is not None:
            raise RuntimeError(
                "a local runtime is already active in this process; moto_session() does not nest"
            )
        _ACTIVE = state


def deactivate() -> None:
    global _ACTIVE
    with _ACTIVE_LOCK:
        _ACTIVE = None

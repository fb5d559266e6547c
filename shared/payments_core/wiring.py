"""The one shape of every function's composition root (its ``bootstrap`` module).

A function's adapters (boto3 clients, tables, queues, stores) are built by one function in its
``bootstrap`` module, on first use, and kept for the life of the execution environment: Lambda
reuses an environment for many invocations, so a client built once is paid for once, and nothing
touches AWS at import time. Tests swap the adapters in one way only: ``with root.override(fakes):``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

T = TypeVar("T")


class CompositionRoot(Generic[T]):
    """Builds a function's adapters once; ``root()`` returns them."""

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._built: T | None = None
        self._lock = threading.Lock()

    def __call__(self) -> T:
        built = self._built
        if built is None:
            with self._lock:
                built = self._built
                if built is None:
                    built = self._built = self._build()
        return built

    @contextmanager
    def override(self, adapters: T) -> Iterator[T]:
        """Use ``adapters`` instead of the built ones until the block ends (the tests' one hook)."""
        with self._lock:
            previous, self._built = self._built, adapters
        try:
            yield adapters
        finally:
            with self._lock:
                self._built = previous

    def reset(self) -> None:
        """Forget the built adapters, so the next call builds them again from the settings."""
        with self._lock:
            self._built = None

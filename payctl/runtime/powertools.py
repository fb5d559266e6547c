"""Shim 15 — Powertools Metrics of different functions stop sharing one metric set.

Gap (local runtime with aws-lambda-powertools 3.37.0): ``Metrics`` keeps metrics, dimensions and
metadata in class-level dicts shared by every instance, which is right when one process runs one
function one invocation at a time, as Lambda does. Here all handlers share a process and run
concurrently (Parallel branches, pollers), so one function's flush serialises and clears another's
metrics: flushes fail with "dictionary changed size during iteration" or "Must contain at least
one metric", and the workflow records a technical failure that would not happen on Lambda. This
shim gives each thread (an invocation runs on one thread) its own metric set, dimensions and
metadata; default dimensions stay shared. Handler modules are re-imported after each deploy
(``lambda_dispatch.cold_start``), so their ``Metrics`` objects pick the per-thread stores up.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, MutableMapping
from typing import Any

from payctl.runtime._patching import Patcher

GAP = "Powertools Metrics class-level stores shared by every function in the one local process"

TESTED_POWERTOOLS_VERSIONS = frozenset({"3.37.0"})
_PER_INVOCATION_STORES = ("_metrics", "_dimensions", "_metadata")


class UntestedPowertoolsVersion(RuntimeError):
    """The installed Powertools is not a release this shim was checked against."""


class PerThreadDict(MutableMapping[str, Any]):
    """A mapping whose contents belong to the calling thread."""

    def __init__(self) -> None:
        self._local = threading.local()

    def _data(self) -> dict[str, Any]:
        data = getattr(self._local, "data", None)
        if data is None:
            data = self._local.data = {}
        return data

    def __getitem__(self, key: str) -> Any:
        return self._data()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._data()[key] = value

    def __delitem__(self, key: str) -> None:
        del self._data()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._data()))

    def __len__(self) -> int:
        return len(self._data())

    def clear(self) -> None:
        self._data().clear()

    def __repr__(self) -> str:
        return f"PerThreadDict({self._data()!r})"


def install(patcher: Patcher) -> None:
    try:
        from aws_lambda_powertools.metrics.metrics import Metrics
        from aws_lambda_powertools.shared.version import VERSION
    except ImportError:
        return  # no handler can use Powertools Metrics, so nothing is shared
    if VERSION not in TESTED_POWERTOOLS_VERSIONS:
        raise UntestedPowertoolsVersion(
            f"the per-thread Metrics shim was written against aws-lambda-powertools "
            f"{', '.join(sorted(TESTED_POWERTOOLS_VERSIONS))} but {VERSION} is installed"
        )
    for store in _PER_INVOCATION_STORES:
        patcher.setattr(Metrics, store, PerThreadDict(), gap=GAP)

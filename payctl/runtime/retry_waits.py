"""Local option (not a moto gap): shorter waits between a state machine's retries.

moto's interpreter sleeps the real ``IntervalSeconds``/``BackoffRate`` wait, with its jitter,
before each ``Retry`` attempt, as Step Functions does. A fault run that retries thousands of
steps spends most of its wall time asleep there. :func:`install` multiplies those waits by a
factor (``0.1`` turns the template's 1-2-4 s into 0.1-0.2-0.4 s); the definition, its retriers
and their order are unchanged. Off unless a caller asks: ``set_retry_wait_scale()`` in a session.
"""

from __future__ import annotations

import time
from typing import Any

from payctl.runtime._patching import Patcher

GAP = "ASL retry waits are real seconds (local option to shorten them)"


class _ScaledClock:
    """Stands in for the ``time`` module inside moto's retrier: everything as is, ``sleep`` scaled."""

    def __init__(self, factor: float) -> None:
        self.factor = factor

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds * self.factor)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def install(patcher: Patcher, factor: float) -> None:
    if not 0 < factor <= 1:
        raise ValueError(f"a retry wait factor is in (0, 1], not {factor}")
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    patcher.setattr(retrier_decl, "time", _ScaledClock(factor), gap=GAP)

"""The fraud function's composition root: the only place that builds its adapters.

Built on first use and kept for the execution environment; tests swap them with
``bootstrap.fraud.override(...)``.
"""

from __future__ import annotations

from fraud_svc.dal import CustomerVelocity
from fraud_svc.logic import VelocityPort
from payments_core.wiring import CompositionRoot


def _velocity() -> VelocityPort:
    return CustomerVelocity()


fraud: CompositionRoot[VelocityPort] = CompositionRoot(_velocity)

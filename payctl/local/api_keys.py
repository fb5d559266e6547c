"""API keys and usage plans as the deployed stack holds them in (moto's) API Gateway.

The front reads keys and plans through the API Gateway API rather than from the template, so a
key created or disabled later (``aws apigateway create-api-key`` against the local endpoint, an
operator rotating a submitter's key) is honoured like in AWS, within the cache's lifetime.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from payctl.local.throttle import QuotaPeriod, UsagePlanLimits


@dataclass(frozen=True)
class ApiKey:
    id: str
    value: str
    enabled: bool = True
    name: str = ""


@dataclass(frozen=True)
class PlanBinding:
    """A usage plan a key belongs to, on the API stage being called."""

    plan_id: str
    limits: UsagePlanLimits


class ApiKeyStore(Protocol):
    def authenticate(self, value: str, api_id: str, stage: str) -> tuple[ApiKey, PlanBinding | None] | None:
        """The enabled key with this value and its usage plan on ``api_id``/``stage``; ``None`` if unknown."""


class StaticKeyStore:
    """Keys fixed in memory: for tests of the front itself."""

    def __init__(self, keys: Iterable[tuple[ApiKey, PlanBinding | None]]) -> None:
        self._by_value = {key.value: (key, plan) for key, plan in keys}

    def authenticate(self, value: str, api_id: str, stage: str) -> tuple[ApiKey, PlanBinding | None] | None:
        found = self._by_value.get(value)
        if found is None or not found[0].enabled:
            return None
        return found


# API Gateway itself takes a few seconds to apply a key or plan change; so does this cache.
CACHE_SECONDS = 2.0


def _limits(plan: dict[str, Any]) -> UsagePlanLimits:
    throttle = plan.get("throttle") or {}
    quota = plan.get("quota") or {}
    rate = throttle.get("rateLimit")
    return UsagePlanLimits(
        # The API returns the rate as a JSON number; str() keeps it exact for Decimal.
        rate_limit=Decimal(str(rate)) if rate is not None else None,
        burst_limit=int(throttle["burstLimit"]) if throttle.get("burstLimit") is not None else None,
        quota_limit=int(quota["limit"]) if quota.get("limit") is not None else None,
        quota_period=QuotaPeriod(str(quota.get("period", "DAY")).upper()),
    )


def _covers(plan: dict[str, Any], api_id: str, stage: str) -> bool:
    return any(
        item.get("apiId") == api_id and item.get("stage") == stage for item in plan.get("apiStages") or []
    )


class ApiGatewayKeyStore:
    """Keys and their usage plans read from API Gateway, for one REST API id and stage."""

    def __init__(
        self,
        client: Any,
        rest_api_id: str,
        *,
        cache_seconds: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._rest_api_id = rest_api_id
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._loaded_at: float | None = None
        self._by_value: dict[str, tuple[ApiKey, list[PlanBinding]]] = {}
        self._plan_stages: dict[str, dict[str, Any]] = {}

    def _pages(self, operation: str, **kwargs: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for page in self._client.get_paginator(operation).paginate(**kwargs):
            items.extend(page.get("items") or [])
        return items

    def _load(self) -> None:
        keys = self._pages("get_api_keys", includeValues=True)
        plans = self._pages("get_usage_plans")
        bindings: dict[str, list[PlanBinding]] = {}
        plan_by_id: dict[str, dict[str, Any]] = {}
        for plan in plans:
            plan_by_id[plan["id"]] = plan
            for key in self._pages("get_usage_plan_keys", usagePlanId=plan["id"]):
                bindings.setdefault(key["id"], []).append(PlanBinding(plan["id"], _limits(plan)))
        self._by_value = {
            key["value"]: (
                ApiKey(
                    id=key["id"],
                    value=key["value"],
                    enabled=bool(key.get("enabled")),
                    name=key.get("name", ""),
                ),
                bindings.get(key["id"], []),
            )
            for key in keys
            if key.get("value")
        }
        self._plan_stages = plan_by_id
        self._loaded_at = self._clock()

    def _fresh(self) -> bool:
        return self._loaded_at is not None and self._clock() - self._loaded_at < self._cache_seconds

    def authenticate(self, value: str, api_id: str, stage: str) -> tuple[ApiKey, PlanBinding | None] | None:
        with self._lock:
            # Reloading at most once per cache period means a flood of wrong keys cannot turn every
            # request into a scan of all keys and plans.
            if not self._fresh():
                self._load()
            found = self._by_value.get(value)
            plan_stages = self._plan_stages
        if found is None or not found[0].enabled:
            return None
        key, plans = found
        # ``api_id`` is the template's logical id; usage plans name the physical REST API id.
        for binding in plans:
            if _covers(plan_stages[binding.plan_id], self._rest_api_id, stage):
                return key, binding
        return key, None

    def reveal(self, key_id: str) -> str:
        """The value of the key with this id (``payctl get-api-key --include-value``)."""
        return str(self._client.get_api_key(apiKey=key_id, includeValue=True)["value"])

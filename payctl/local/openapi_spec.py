"""The API function's own OpenAPI spec (Powertools), for the local front's ``/openapi.json`` and ``/docs``."""

from __future__ import annotations

import importlib
import logging
import threading
import uuid
from types import ModuleType
from typing import Any

from payctl.local.proxy_integration import HttpRequest, build_proxy_event, map_proxy_response
from payctl.local.routes import ApiDefinition, Route, RouteMatch
from payctl.runtime import Stack

logger = logging.getLogger(__name__)


class OpenApiSpec:
    """The spec of the functions behind ``api``, computed once, on the first request for it.

    If the handler serves one itself (``enable_swagger``), it is asked for it through a proxy
    event, so the title, security schemes and servers are exactly what it would answer in AWS;
    otherwise its resolver generates one.
    """

    def __init__(self, stack: Stack, api: ApiDefinition) -> None:
        self._stack = stack
        self._api = api
        self._spec: str | None = None
        self._lock = threading.Lock()

    def __call__(self, server_url: str) -> str | None:
        with self._lock:
            if self._spec is None:
                self._spec = self._load(server_url)
            return self._spec

    def _load(self, server_url: str) -> str | None:
        for function_id in dict.fromkeys(route.function_id for route in self._api.routes):
            info = self._stack.functions.get(function_id)
            module = _import_handler_module(info.handler) if info else None
            resolver = _find_resolver(module) if module else None
            if resolver is None:
                continue
            swagger_path = _swagger_path(resolver)
            if swagger_path is not None:
                spec = self._ask_function(function_id, swagger_path)
                if spec is not None:
                    return spec
            from aws_lambda_powertools.event_handler.openapi.models import Server

            return str(resolver.get_openapi_json_schema(servers=[Server(url=server_url)]))
        return None

    def _ask_function(self, function_id: str, swagger_path: str) -> str | None:
        api = self._api
        route = Route(api.api_id, swagger_path, "GET", function_id, False, "OpenApiSpec")
        request = HttpRequest("GET", f"/{api.stage_name}{swagger_path}?format=json", [], b"")
        event = build_proxy_event(
            request,
            RouteMatch(route, {}),
            api_id=self._stack.resources.get(api.api_id, api.api_id),
            stage=api.stage_name,
            request_id=str(uuid.uuid4()),
            api_key=None,
            path=swagger_path,
        )
        try:
            response = map_proxy_response(self._stack.invoke(function_id, event))
        except Exception:
            logger.warning("%s did not answer GET %s", function_id, swagger_path, exc_info=True)
            return None
        return response.body.decode() if response.status == 200 else None


def _import_handler_module(handler: str) -> ModuleType | None:
    module_name = handler.rpartition(".")[0]
    try:
        return importlib.import_module(module_name)
    except ImportError:
        logger.warning("cannot import %s for its OpenAPI spec", module_name, exc_info=True)
        return None


def _swagger_path(resolver: Any) -> str | None:
    """The path ``enable_swagger`` registered, if any (Powertools names its handler swagger_handler)."""
    for route in [*getattr(resolver, "_static_routes", []), *getattr(resolver, "_dynamic_routes", [])]:
        if getattr(route.func, "__name__", "") == "swagger_handler" and route.method == "GET":
            return str(route.path)
    return None


def _find_resolver(module: ModuleType) -> Any:
    from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver

    for value in vars(module).values():
        if isinstance(value, ApiGatewayResolver):
            return value
    return None

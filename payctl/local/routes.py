"""The API's routes, read from the template's ``Api`` events and its ``AWS::Serverless::Api``.

There is no second, hand-written route list: a route added to template.yaml is served locally
as soon as the stack restarts, with the same path, method and ``ApiKeyRequired`` setting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import unquote

from payctl.local.template_parameters import (
    as_bool,
    merged_globals,
    resolve,
    resources_of_type,
)
from payctl.local.throttle import QuotaPeriod, UsagePlanLimits

# SAM names the API it creates for events without a RestApiId, and gives it this stage.
IMPLICIT_API = "ServerlessRestApi"
IMPLICIT_STAGE = "Prod"

# The Api properties the local front uses; others (log settings, tracing...) may hold intrinsics
# that only CloudFormation can resolve.
_API_PROPERTIES = ("StageName", "Auth", "GatewayResponses", "BinaryMediaTypes", "Cors")

_PARAM = re.compile(r"^\{([A-Za-z0-9._-]+)(\+?)\}$")


@dataclass(frozen=True)
class Route:
    api_id: str
    resource_path: str
    method: str  # upper case; "ANY" matches every method
    function_id: str
    api_key_required: bool
    event_name: str

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(part for part in self.resource_path.split("/") if part)

    def specificity(self) -> tuple[int, ...]:
        """Literal segments beat ``{param}``, which beats ``{proxy+}`` (API Gateway's order)."""
        ranks = []
        for segment in self.segments:
            found = _PARAM.match(segment)
            ranks.append(0 if found is None else (2 if found.group(2) else 1))
        return (*ranks, 1 if self.method == "ANY" else 0)

    def match_path(self, path: str) -> dict[str, str] | None:
        parts = [part for part in path.split("/") if part]
        params: dict[str, str] = {}
        for index, segment in enumerate(self.segments):
            found = _PARAM.match(segment)
            if found and found.group(2):
                if index >= len(parts):
                    return None
                params[found.group(1)] = unquote("/".join(parts[index:]))
                return params
            if index >= len(parts):
                return None
            if found:
                params[found.group(1)] = unquote(parts[index])
            elif segment != parts[index]:
                return None
        return params if len(parts) == len(self.segments) else None


@dataclass(frozen=True)
class ApiDefinition:
    api_id: str
    stage_name: str
    api_key_required_default: bool
    usage_plan: UsagePlanLimits | None
    routes: tuple[Route, ...] = field(default_factory=tuple)
    gateway_responses: dict[str, Any] = field(default_factory=dict)
    binary_media_types: tuple[str, ...] = ()
    cors: Cors | None = None


# Every method an ``ANY`` route stands for, as SAM lists them in a preflight's Allow-Methods.
_ALL_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


@dataclass(frozen=True)
class Cors:
    """An Api's ``Cors``: SAM answers OPTIONS on every path with these headers (a mock integration).

    Values are API Gateway header mappings, quoted literals such as ``"'x-api-key'"``.
    """

    allow_origin: str
    allow_headers: str | None = None
    allow_methods: str | None = None
    max_age: str | None = None
    allow_credentials: bool = False
    # SAM's AddApiKeyRequiredToCorsPreflight (true unless set): the preflight needs a key too.
    key_required: bool = False

    @classmethod
    def from_template(cls, spec: Any, auth: dict[str, Any]) -> Cors | None:
        if not spec:
            return None
        key_required = as_bool(auth.get("ApiKeyRequired", False)) and as_bool(
            auth.get("AddApiKeyRequiredToCorsPreflight", True)
        )
        if not isinstance(spec, dict):
            return cls(allow_origin=str(spec), key_required=key_required)
        return cls(
            key_required=key_required,
            allow_origin=str(spec.get("AllowOrigin", "'*'")),
            allow_headers=str(spec["AllowHeaders"]) if "AllowHeaders" in spec else None,
            allow_methods=str(spec["AllowMethods"]) if "AllowMethods" in spec else None,
            max_age=str(spec["MaxAge"]) if "MaxAge" in spec else None,
            allow_credentials=as_bool(spec.get("AllowCredentials", False)),
        )

    def preflight_headers(self, methods: tuple[str, ...]) -> list[tuple[str, str]]:
        """The headers of SAM's OPTIONS answer for a resource with these methods."""
        allowed = set(_ALL_METHODS) if "ANY" in methods else {*methods, "OPTIONS"}
        headers = [("Access-Control-Allow-Origin", _literal(self.allow_origin))]
        if self.allow_headers is not None:
            headers.append(("Access-Control-Allow-Headers", _literal(self.allow_headers)))
        methods_value = _literal(self.allow_methods) if self.allow_methods else ",".join(sorted(allowed))
        headers.append(("Access-Control-Allow-Methods", methods_value))
        if self.max_age is not None:
            headers.append(("Access-Control-Max-Age", _literal(self.max_age)))
        if self.allow_credentials:
            headers.append(("Access-Control-Allow-Credentials", "true"))
        return headers


def _literal(mapping: str) -> str:
    """The value of a quoted header mapping (``"'value'"``); a bare value stands for itself."""
    return mapping[1:-1] if len(mapping) >= 2 and mapping[0] == mapping[-1] == "'" else mapping


class NoRoute(LookupError):
    """API Gateway answers this with 403 "Missing Authentication Token", not 404.

    ``allowed`` holds the methods the path does have, when it names a resource under another method.
    """

    def __init__(self, message: str, allowed: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.allowed = allowed


@dataclass(frozen=True)
class RouteMatch:
    route: Route
    path_parameters: dict[str, str]


class RouteTable:
    def __init__(self, routes: list[Route]) -> None:
        self.routes = sorted(routes, key=Route.specificity)

    def match(self, method: str, path: str) -> RouteMatch:
        """The route of the most specific resource the path names, under this method.

        As in API Gateway, the path picks the resource first: ``GET /payments/batch`` names the
        ``/payments/batch`` resource, which has no GET, and does not fall through to
        ``/payments/{transaction_id}``.
        """
        method = method.upper()
        resource = next((route for route in self.routes if route.match_path(path) is not None), None)
        if resource is None:
            raise NoRoute(f"{method} {path}")
        same = [route for route in self.routes if route.resource_path == resource.resource_path]
        for route in same:
            if route.method in (method, "ANY"):
                return RouteMatch(route, route.match_path(path) or {})
        raise NoRoute(f"{method} {path}", tuple(sorted({route.method for route in same})))


def _normalise_path(path: str) -> str:
    return "/" + "/".join(part for part in path.split("/") if part)


def _usage_plan(auth: dict[str, Any]) -> UsagePlanLimits | None:
    plan = auth.get("UsagePlan") or {}
    if str(plan.get("CreateUsagePlan", "NONE")).upper() == "NONE":
        return None
    throttle = plan.get("Throttle") or {}
    quota = plan.get("Quota") or {}
    try:
        rate = Decimal(str(throttle["RateLimit"])) if "RateLimit" in throttle else None
    except InvalidOperation as exc:
        raise ValueError(f"usage plan RateLimit {throttle['RateLimit']!r} is not a number") from exc
    return UsagePlanLimits(
        rate_limit=rate,
        burst_limit=int(throttle["BurstLimit"]) if "BurstLimit" in throttle else None,
        quota_limit=int(quota["Limit"]) if "Limit" in quota else None,
        quota_period=QuotaPeriod(str(quota.get("Period", "DAY")).upper()),
    )


def _resolvable(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _api_properties(properties: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    return {key: resolve(properties[key], parameters) for key in _API_PROPERTIES if key in properties}


def api_definitions(template: dict[str, Any], parameters: dict[str, str]) -> dict[str, ApiDefinition]:
    """Every REST API in the template with its routes, resolved against ``parameters``."""
    apis: dict[str, dict[str, Any]] = {}
    for api_id, resource in resources_of_type(template, "AWS::Serverless::Api").items():
        properties = merged_globals(template, "Api", resource.get("Properties") or {})
        apis[api_id] = _api_properties(properties, parameters)

    routes: dict[str, list[Route]] = {}
    for function_id, resource in resources_of_type(template, "AWS::Serverless::Function").items():
        for event_name, event in ((resource.get("Properties") or {}).get("Events") or {}).items():
            if event.get("Type") != "Api":
                continue
            props = event.get("Properties") or {}
            rest_api = props.get("RestApiId", {"Ref": IMPLICIT_API})
            api_id = rest_api["Ref"] if isinstance(rest_api, dict) and "Ref" in rest_api else str(rest_api)
            if api_id == IMPLICIT_API and api_id not in apis:
                implicit = merged_globals(template, "Api", {"StageName": IMPLICIT_STAGE})
                apis[api_id] = _api_properties(implicit, parameters)
            if api_id not in apis:
                raise ValueError(f"{function_id}.{event_name} refers to unknown API {api_id}")
            api_auth = apis[api_id].get("Auth") or {}
            auth = resolve(props.get("Auth") or {}, parameters)
            required = auth.get("ApiKeyRequired", api_auth.get("ApiKeyRequired", False))
            routes.setdefault(api_id, []).append(
                Route(
                    api_id=api_id,
                    resource_path=_normalise_path(str(resolve(props["Path"], parameters))),
                    method=str(resolve(props["Method"], parameters)).upper(),
                    function_id=function_id,
                    api_key_required=as_bool(required),
                    event_name=event_name,
                )
            )

    definitions = {}
    for api_id, props in apis.items():
        auth = props.get("Auth") or {}
        definitions[api_id] = ApiDefinition(
            api_id=api_id,
            stage_name=str(props.get("StageName", IMPLICIT_STAGE)),
            api_key_required_default=as_bool(auth.get("ApiKeyRequired", False)),
            usage_plan=_usage_plan(auth),
            routes=tuple(routes.get(api_id, [])),
            gateway_responses=_resolvable(props.get("GatewayResponses")),
            binary_media_types=tuple(str(item) for item in props.get("BinaryMediaTypes") or ()),
            cors=Cors.from_template(props.get("Cors"), auth),
        )
    return definitions

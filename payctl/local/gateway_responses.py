"""API Gateway's own answers (403, 429, 502...) and the template's ``GatewayResponses`` that reshape them.

Without a customisation API Gateway sends ``{"message": "<text>"}``; a ``GatewayResponses`` entry
in the template may change the status code, the body (a mapping template using
``$context.error.*``) and add headers. Unset types fall back to DEFAULT_4XX or DEFAULT_5XX.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

# Response type -> (default status, default message, x-amzn-ErrorType).
RESPONSE_TYPES: dict[str, tuple[int, str, str]] = {
    "MISSING_AUTHENTICATION_TOKEN": (
        403,
        "Missing Authentication Token",
        "MissingAuthenticationTokenException",
    ),
    "INVALID_API_KEY": (403, "Forbidden", "ForbiddenException"),
    "THROTTLED": (429, "Too Many Requests", "TooManyRequestsException"),
    "QUOTA_EXCEEDED": (429, "Limit Exceeded", "LimitExceededException"),
    "REQUEST_TOO_LARGE": (413, "Request Too Long", "RequestTooLongException"),
    "BAD_REQUEST_BODY": (400, "Bad Request", "BadRequestException"),
    "INTEGRATION_TIMEOUT": (504, "Endpoint request timed out", "IntegrationTimeoutException"),
    # A Lambda proxy integration whose function errors, or returns a malformed response.
    "INTEGRATION_FAILURE": (502, "Internal server error", "InternalServerErrorException"),
}

_VARIABLE = re.compile(r"\$(?:\{context\.([A-Za-z.]+)\}|context\.([A-Za-z][A-Za-z.]*[A-Za-z]))")
_HEADER_PARAM = "gatewayresponse.header."


@dataclass(frozen=True)
class GatewayResponse:
    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class GatewayResponseConfig:
    status_code: int | None = None
    templates: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_template(cls, spec: dict[str, Any]) -> GatewayResponseConfig:
        status = spec.get("StatusCode")
        return cls(
            status_code=int(status) if status is not None else None,
            templates={str(k): str(v) for k, v in (spec.get("ResponseTemplates") or {}).items()},
            parameters=_parameters(spec.get("ResponseParameters") or {}),
        )


# SAM writes a gateway response's parameters grouped (``Headers: {Name: "'value'"}``) and turns
# them into API Gateway's ``gatewayresponse.header.Name`` keys, which a template may also use.
_SAM_GROUPS = {
    "Headers": "gatewayresponse.header.",
    "Paths": "gatewayresponse.path.",
    "QueryStrings": "gatewayresponse.querystring.",
}


def _parameters(spec: dict[str, Any]) -> dict[str, str]:
    parameters: dict[str, str] = {}
    for key, value in spec.items():
        if key in _SAM_GROUPS and isinstance(value, dict):
            parameters.update({_SAM_GROUPS[key] + str(name): str(item) for name, item in value.items()})
        else:
            parameters[str(key)] = str(value)
    return parameters


def _render(template: str, context: dict[str, str]) -> str:
    def substitute(found: re.Match[str]) -> str:
        name = found.group(1) or found.group(2)
        return context.get(name, "")

    return _VARIABLE.sub(substitute, template)


class GatewayResponses:
    def __init__(self, configured: dict[str, GatewayResponseConfig] | None = None) -> None:
        self._configured = dict(configured or {})

    @classmethod
    def from_template(cls, spec: dict[str, Any] | None) -> GatewayResponses:
        items = (spec or {}).items()
        return cls({name: GatewayResponseConfig.from_template(item or {}) for name, item in items})

    def render(
        self,
        response_type: str,
        *,
        request_id: str,
        request_headers: dict[str, str] | None = None,
        context: dict[str, str] | None = None,
    ) -> GatewayResponse:
        status, message, error_type = RESPONSE_TYPES[response_type]
        specific = self._configured.get(response_type)
        if specific is not None and specific.status_code is not None:
            status = specific.status_code
        return self._render(
            status, message, error_type, response_type, specific, request_id, request_headers, context
        )

    def render_status(
        self,
        status: int,
        message: str,
        *,
        request_id: str,
        request_headers: dict[str, str] | None = None,
        context: dict[str, str] | None = None,
    ) -> GatewayResponse:
        """An answer of the server itself that API Gateway has no response type for (405, 431, 501...):
        the template's DEFAULT_4XX or DEFAULT_5XX shapes it, with the status kept."""
        response_type = "DEFAULT_4XX" if status < 500 else "DEFAULT_5XX"
        return self._render(status, message, "", response_type, None, request_id, request_headers, context)

    def _render(
        self,
        status: int,
        message: str,
        error_type: str,
        response_type: str,
        specific: GatewayResponseConfig | None,
        request_id: str,
        request_headers: dict[str, str] | None,
        context: dict[str, str] | None,
    ) -> GatewayResponse:
        config = specific or self._configured.get("DEFAULT_4XX" if status < 500 else "DEFAULT_5XX")

        values = {
            "error.message": message,
            "error.messageString": json.dumps(message),
            "error.responseType": response_type,
            "requestId": request_id,
            "extendedRequestId": request_id,
            **(context or {}),
        }
        template = (config.templates.get("application/json") if config else None) or None
        body = _render(template, values) if template else json.dumps({"message": message})
        headers = [("Content-Type", "application/json")]
        if error_type:
            headers.append(("x-amzn-ErrorType", error_type))
        lowered = {key.lower(): value for key, value in (request_headers or {}).items()}
        for parameter, source in (config.parameters if config else {}).items():
            if not parameter.startswith(_HEADER_PARAM):
                continue
            name = parameter[len(_HEADER_PARAM) :]
            if source.startswith("'") and source.endswith("'"):
                headers.append((name, source[1:-1]))
            elif source.startswith("method.request.header."):
                value = lowered.get(source[len("method.request.header.") :].lower())
                if value is not None:
                    headers.append((name, value))
        return GatewayResponse(status, body.encode(), headers)

"""The fault plan (shim 4) for handlers in execution environments: decided here, at the relay.

A handler in an execution environment makes its AWS calls through this process
(``lambda_environments``), so the plan sees each one before and after moto answers it, with the
same plain values the in-process hooks give it. An injected dependency error is sent back as the
HTTP answer that service would give (the status, the error code in the service's own protocol),
so botocore in the environment parses it, retries it and raises it exactly as it would an error
from AWS. A crash after a call ends the environment's process, as a kill would.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit
from xml.sax.saxutils import escape

from payctl.runtime import faults
from payctl.runtime.relay_answers import Answer

_XML_SERVICES = frozenset({"s3"})
_REST_JSON_SERVICES = frozenset({"lambda"})


def wire_params(service: str, url: str, body: bytes) -> Mapping[str, Any]:
    """What the plan reads a transaction id from: the request's JSON body, or an S3 object key."""
    if service in _XML_SERVICES:
        return {"Key": unquote(urlsplit(url).path)}
    try:
        parsed = json.loads(body) if body else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def error_answer(service: str, code: str, status: int, message: str) -> Answer:
    """A service error as that service's protocol sends it."""
    if service in _XML_SERVICES:
        body = f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
        return status, [("Content-Type", "application/xml")], body.encode()
    if service in _REST_JSON_SERVICES:
        headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", code)]
        return status, headers, json.dumps({"message": message}).encode()
    headers = [("Content-Type", "application/x-amz-json-1.0")]
    if service == "sqs":  # SQS speaks JSON with its query-compatible error header
        headers.append(("x-amzn-query-error", f"{code};Sender"))
    return status, headers, json.dumps({"__type": code, "message": message}).encode()


class PlanInterceptor:
    """Asks the active fault plan about every call a handler makes from its environment."""

    def transaction_id(self, meta: Mapping[str, Any], url: str, body: bytes) -> str | None:
        service = meta["service"]
        return faults.transaction_id_of(service, meta["operation"], wire_params(service, url, body))

    def before_call(self, function_name: str, meta: Mapping[str, Any]) -> Answer | None:
        fault = faults.plan().before_aws_call(
            function_name, meta["service"], meta["operation"], meta.get("transaction_id")
        )
        if fault is None:
            return None
        return error_answer(fault.service, fault.code, fault.status, fault.message)

    def after_call(self, function_name: str, meta: Mapping[str, Any], status: int) -> bool:
        if status >= 300:
            return False
        return faults.plan().after_aws_call(
            function_name, meta["service"], meta["operation"], meta.get("transaction_id")
        )

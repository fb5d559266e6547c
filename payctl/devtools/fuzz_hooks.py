"""schemathesis hooks for ``make fuzz`` (loaded through ``SCHEMATHESIS_HOOKS``).

An accepted payment becomes readable once the queue consumer has recorded it, usually well
under a second after the 202 (the README's "window before the consumer"); until then GET is 404
``transaction_not_found``, as documented. The stateful phase follows POST -> GET at once, so after
each 202 there it waits, as a client would, until the payment is readable, at most
``READABLE_WITHIN_SECONDS``. ``ensure_resource_availability`` then checks the real promise: an
accepted payment becomes readable, soon.
"""

from __future__ import annotations

import time
from typing import Any

import requests
import schemathesis

READABLE_WITHIN_SECONDS = 20.0


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    phase = getattr(getattr(getattr(case, "meta", None), "phase", None), "name", None)
    if str(getattr(phase, "value", phase)) != "stateful" or response.status_code != 202:
        return
    transaction_id = (response.json() or {}).get("transaction_id")
    if not transaction_id:
        return
    url = response.request.url.split("/payments")[0] + f"/payments/{transaction_id}"
    headers = {"x-api-key": response.request.headers.get("x-api-key", "")}
    deadline = time.monotonic() + READABLE_WITHIN_SECONDS
    while time.monotonic() < deadline:
        if requests.get(url, headers=headers, timeout=10).status_code != 404:
            return
        time.sleep(0.1)

"""How a call relayed from an execution environment is answered: by moto's botocore stubber in
this process, as in-process boto3 calls are, so moto's state stays in one place."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

logger = logging.getLogger("payctl.runtime.lambda")

Headers = list[tuple[str, str]]
# An HTTP answer to a relayed AWS request: status, headers, body.
Answer = tuple[int, Headers, bytes]


def _headers(raw: Any) -> Headers:
    items = raw.items() if hasattr(raw, "items") else raw or []
    return [(str(key), str(value)) for key, value in items]


def _body(raw: Any) -> bytes:
    if raw is None:
        return b""
    return raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)


class MotoAnswerer:
    """Answers a relayed HTTP request the way in-process boto3 is answered: moto's botocore stubber."""

    def __call__(self, method: str, url: str, headers: Headers, body: bytes) -> Answer:
        from botocore.awsrequest import AWSPreparedRequest
        from botocore.compat import HTTPHeaders
        from moto.core.models import botocore_stubber

        prepared_headers = HTTPHeaders()
        for key, value in headers:
            prepared_headers[key] = value
        request = AWSPreparedRequest(
            method=method, url=url, headers=prepared_headers, body=body, stream_output=False
        )
        try:
            answer = botocore_stubber.process_request(request)
        except Exception as exc:  # moto itself failed: AWS would answer 500, and botocore retries it
            logger.exception("moto failed on a relayed %s %s", method, url)
            body = f'{{"message": "{type(exc).__name__}"}}'.encode()
            return 500, [("x-amzn-ErrorType", "InternalFailure")], body
        if answer is None:
            return 404, [], f"no local service answers {urlsplit(url).netloc}".encode()
        status, answer_headers, answer_body = answer
        return int(status), _headers(answer_headers), _body(answer_body)

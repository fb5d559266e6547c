"""The card-data sweep: no card number and no CVV-like field in anything the system wrote.

Reads what a run left behind (the API's response bodies, the log lines, every item of every
DynamoDB table and every object of every S3 bucket) and reports each place that holds a
Luhn-valid run of 13-19 digits, plain or printed with separators (``carddata.looks_like_pan``),
or a field named like a card number or security code. A finding names where it is (a table and
key, a bucket and object key, a line number) and the path inside it, never the digits.

One kind of 13-digit number is not card data and is let through: an epoch time in milliseconds
within a month of the sweep (Powertools' metrics ``Timestamp``, the idempotency records'
``in_progress_expiration``). About one such number in ten passes the Luhn check by chance.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from payments_core.carddata import holds_pan, is_sensitive_name, join_path, looks_like_pan

_MONTH_MS = 31 * 24 * 3600 * 1000
_THIRTEEN_DIGITS = re.compile(r"(?<![0-9])[0-9]{13}(?![0-9])")
_deserializer = TypeDeserializer()


@dataclass(frozen=True)
class Finding:
    where: str
    path: str
    what: str  # "card number" or "card field"


@dataclass
class SweepReport:
    findings: list[Finding] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def count(self, kind: str, n: int = 1) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + n

    def summary(self) -> str:
        seen = ", ".join(f"{n} {kind}" for kind, n in sorted(self.counts.items()))
        return f"card-data sweep: {len(self.findings)} finding(s) in {seen or 'nothing'}"


class Sweeper:
    def __init__(self, now_ms: int | None = None) -> None:
        self.now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
        self.report = SweepReport()

    # ------------------------------------------------------------------ values

    def _is_recent_epoch_ms(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            return False
        return value == int(value) and abs(int(value) - self.now_ms) < _MONTH_MS and int(value) >= 10**12

    def _without_recent_epochs(self, text: str) -> str:
        return _THIRTEEN_DIGITS.sub(
            lambda found: "" if self._is_recent_epoch_ms(int(found.group())) else found.group(), text
        )

    def _holds_pan(self, value: Any) -> bool:
        if self._is_recent_epoch_ms(value):
            return False
        if isinstance(value, str):
            return looks_like_pan(self._without_recent_epochs(value))
        return holds_pan(value)

    def document(self, value: Any, where: str, path: str = "") -> None:
        """Walk a decoded document (JSON, a DynamoDB item) without recursion."""
        stack: list[tuple[Any, str]] = [(value, path)]
        while stack:
            current, at = stack.pop()
            if isinstance(current, dict):
                for key, item in current.items():
                    child = join_path(at, key)
                    if self._holds_pan(key):
                        self.report.findings.append(Finding(where, child, "card number"))
                    elif is_sensitive_name(key):
                        self.report.findings.append(Finding(where, child, "card field"))
                    stack.append((item, child))
            elif isinstance(current, list | tuple | set | frozenset):
                stack.extend((item, f"{at}[{i}]") for i, item in enumerate(current))
            elif isinstance(current, bytes | bytearray):
                self.text(bytes(current).decode("utf-8", "replace"), where)
            elif (
                isinstance(current, str)
                and current[:1] in ("{", "[")
                and (nested := _json(current)) is not None
            ):
                # JSON kept as a string (an idempotency record's response, say) is walked too, so
                # a field named like a CVV cannot hide in it.
                stack.append((nested, at))
            elif self._holds_pan(current):
                self.report.findings.append(Finding(where, at or "<value>", "card number"))

    def text(self, text: str, where: str) -> None:
        """A body or log line: JSON is walked field by field, anything else scanned as text."""
        decoded = _json(text)
        if decoded is None:
            if looks_like_pan(self._without_recent_epochs(text)):
                self.report.findings.append(Finding(where, "<text>", "card number"))
            return
        self.document(decoded, where)

    # ------------------------------------------------------------------ sources

    def responses(self, bodies: Iterable[bytes | str]) -> None:
        for i, body in enumerate(bodies):
            self.report.count("response bodies")
            self.text(body.decode("utf-8", "replace") if isinstance(body, bytes) else body, f"response #{i}")

    def log_lines(self, lines: Iterable[str]) -> None:
        for i, line in enumerate(lines):
            if line.strip():
                self.report.count("log lines")
                self.text(line, f"log line {i + 1}")

    def tables(self, dynamodb: Any) -> None:
        for table in _paginate(dynamodb, "list_tables", "TableNames"):
            for item in _paginate(dynamodb, "scan", "Items", TableName=table):
                decoded = {key: _deserializer.deserialize(value) for key, value in item.items()}
                self.report.count("table items")
                self.document(decoded, f"table {table} item {_key_of(decoded)}")

    def buckets(self, s3: Any) -> None:
        for bucket in s3.list_buckets().get("Buckets", []):
            name = bucket["Name"]
            for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
                for version in page.get("Versions", []):
                    body = s3.get_object(Bucket=name, Key=version["Key"], VersionId=version["VersionId"])
                    self.report.count("archive objects")
                    self.text(body["Body"].read().decode("utf-8", "replace"), f"s3://{name}/{version['Key']}")


def _json(text: str) -> Any:
    """``text`` decoded if it is a JSON object or array, else None."""
    if text.lstrip()[:1] not in ("{", "["):
        return None
    try:
        return json.loads(text, parse_float=Decimal)
    except (ValueError, RecursionError):
        return None


def _paginate(client: Any, operation: str, result_key: str, **kwargs: Any) -> Iterator[Any]:
    for page in client.get_paginator(operation).paginate(**kwargs):
        yield from page.get(result_key, [])


def _key_of(item: dict[str, Any]) -> str:
    for name in ("transaction_id", "pk", "id"):
        if isinstance(item.get(name), str):
            return join_path("", item[name]) if holds_pan(item[name]) else item[name]
    return "?"


def sweep(
    *,
    responses: Iterable[bytes | str] = (),
    log_lines: Iterable[str] = (),
    dynamodb: Any = None,
    s3: Any = None,
) -> SweepReport:
    """Everything a run wrote, swept; ``dynamodb`` and ``s3`` are boto3 clients of the stack."""
    sweeper = Sweeper()
    sweeper.responses(responses)
    sweeper.log_lines(log_lines)
    if dynamodb is not None:
        sweeper.tables(dynamodb)
    if s3 is not None:
        sweeper.buckets(s3)
    return sweeper.report

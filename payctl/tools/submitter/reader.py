"""Payments read one row at a time from CSV, JSON Lines or JSON, so a file of any size fits in memory.

CSV columns name payment fields; a dotted name sets a nested one (``payment_method.token``,
``customer.country``, ``metadata.order``), and an empty cell leaves the field out. A JSON file is
``{"payments": [...]}`` (the batch API's own body) or a bare list, parsed incrementally (ijson).
Numbers are read as Decimal, never float.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, Any, Literal

import ijson

Format = Literal["auto", "csv", "jsonl", "json"]
FORMATS: tuple[str, ...] = ("auto", "csv", "jsonl", "json")
_SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json"}


class InputError(ValueError):
    """The file as a whole cannot be read further (not a row's fault)."""


@dataclass(frozen=True)
class Row:
    """Row ``number`` counts from 1 in file order; ``error`` says why it could not be read."""

    number: int
    payment: dict[str, Any] | None
    error: str | None = None


class CountingReader(io.RawIOBase):
    """Counts the bytes consumed, so a progress bar can show how far through the file a run is."""

    def __init__(self, raw: IO[bytes], prefix: bytes = b"") -> None:
        self._raw = raw
        self._prefix = prefix
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)
        if self._prefix:
            size = min(len(view), len(self._prefix))
            view[:size] = self._prefix[:size]
            self._prefix = self._prefix[size:]
        else:
            data = self._raw.read(len(view))
            size = len(data)
            view[:size] = data
        self.consumed += size
        return size


def format_for(name: str) -> str | None:
    for suffix, kind in _SUFFIXES.items():
        if name.lower().endswith(suffix):
            return kind
    return None


def sniff(raw: IO[bytes]) -> tuple[str, bytes]:
    """Guess the format from the first line (for stdin or an unknown suffix); returns it and the bytes read.

    ``[`` opens a JSON list; a first line that is a whole JSON object is JSON Lines, unless it is
    the batch body ``{"payments": [...]}`` on one line; anything else is CSV.
    """
    first = raw.readline()
    stripped = first.lstrip()
    if stripped.startswith(b"["):
        return "json", first
    if stripped.startswith(b"{"):
        try:
            document = json.loads(first)
        except ValueError:
            return "json", first
        if isinstance(document, dict) and isinstance(document.get("payments"), list):
            return "json", first
        return "jsonl", first
    return "csv", first


def _nest(record: dict[str, str]) -> dict[str, Any]:
    payment: dict[str, Any] = {}
    for column, value in record.items():
        if column is None or value is None or value == "":
            continue
        target = payment
        *parents, leaf = column.strip().split(".")
        for parent in parents:
            child = target.setdefault(parent, {})
            if not isinstance(child, dict):
                raise ValueError(f"column {column!r} nests under a plain value")
            target = child
        target[leaf] = value
    return payment


def _csv_rows(stream: IO[bytes]) -> Iterator[Row]:
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    reader = csv.DictReader(text)
    for number, record in enumerate(reader, start=1):
        if None in record:
            yield Row(number, None, f"{len(record[None])} more cells than the header has columns")
            continue
        try:
            yield Row(number, _nest(record))
        except ValueError as exc:
            yield Row(number, None, str(exc))


def _jsonl_rows(stream: IO[bytes]) -> Iterator[Row]:
    number = 0
    for line in io.TextIOWrapper(stream, encoding="utf-8"):
        if not line.strip():
            continue
        number += 1
        try:
            payment = json.loads(line, parse_float=Decimal)
        except ValueError as exc:
            yield Row(number, None, f"not JSON: {exc}")
            continue
        if isinstance(payment, dict):
            yield Row(number, payment)
        else:
            yield Row(number, None, "a line must hold one JSON object")


def _json_rows(stream: IO[bytes]) -> Iterator[Row]:
    events = ijson.parse(stream, use_float=False)
    try:
        prefix, event, _ = next(events)
    except StopIteration:
        return
    except ijson.JSONError as exc:
        raise InputError(f"not JSON: {exc}") from exc
    if event == "start_array":
        item_prefix = "item"
    elif event == "start_map":
        item_prefix = "payments.item"
    else:
        raise InputError('a JSON file holds {"payments": [...]} or a list of payments')
    items = ijson.items(_replay_first(prefix, event, events), item_prefix, use_float=False)
    number = 0
    try:
        for number, item in enumerate(items, start=1):
            if isinstance(item, dict):
                yield Row(number, item)
            else:
                yield Row(number, None, "an item must be a JSON object")
    except ijson.JSONError as exc:
        raise InputError(f"not JSON after item {number}: {exc}") from exc


def _replay_first(prefix: str, event: str, events: Iterator[tuple[str, str, Any]]) -> Iterator[Any]:
    yield prefix, event, None
    yield from events


def read_rows(raw: IO[bytes], name: str, kind: str = "auto") -> tuple[Iterator[Row], CountingReader]:
    """Rows of ``raw`` in file order, and the byte counter behind them."""
    prefix = b""
    if kind == "auto":
        guessed = format_for(name)
        if guessed is None:
            guessed, prefix = sniff(raw)
        kind = guessed
    counting = CountingReader(raw, prefix)
    stream = io.BufferedReader(counting, buffer_size=1 << 16)
    readers = {"csv": _csv_rows, "jsonl": _jsonl_rows, "json": _json_rows}
    if kind not in readers:
        raise InputError(f"unknown format {kind!r}; one of csv, jsonl, json")
    return readers[kind](stream), counting

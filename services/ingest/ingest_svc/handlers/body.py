"""The request body as JSON, with the limits a hostile or broken client needs.

``json.loads`` alone accepts a body nested a thousand levels deep (then raises ``RecursionError``
in whatever walks it), lets the last of two equal keys win silently, turns ``NaN`` into a number
and reads ``1e2`` as a float. Here a body is refused with a 4xx naming the problem when it is too
large, holds text that was not UTF-8, nests deeper than ``MAX_DEPTH`` or repeats a key; numbers
become ``JsonNumber`` so the amount grammar can judge the text the client wrote.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Final

from payments_core.carddata import join_path
from payments_core.errors import BodyTooDeep, DuplicateKey, InvalidEncoding, InvalidRequest, PayloadTooLarge
from payments_core.money import JsonNumber

# Lambda takes at most 6 MB per synchronous invocation, proxy event included; 500 full-size
# payments fit in 5 MiB with room to spare. A single payment is a few KB at most.
MAX_BATCH_BODY_BYTES: Final[int] = 5 * 1024 * 1024
MAX_SINGLE_BODY_BYTES: Final[int] = 64 * 1024
# A batch item's card is four levels down ({"payments": [{"payment_method": {...}}]}); 32 leaves
# room for anything the API accepts and stops a body that only nests.
MAX_DEPTH: Final[int] = 32
# API Gateway and the local front decode a text body leniently: bytes that are not UTF-8 arrive
# as U+FFFD, so that character stands for "this body was not UTF-8".
_REPLACEMENT: Final[str] = "\ufffd"


class _Pairs(dict[str, Any]):
    """A JSON object that repeated a key; ``repeated`` is the first key seen twice."""

    repeated: str


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) == len(pairs):
        return result
    marked = _Pairs(result)
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            marked.repeated = key
            break
        seen.add(key)
    return marked


def _no_constant(name: str) -> Any:
    raise InvalidRequest("the body is not valid JSON: NaN and Infinity are not JSON numbers")


def _children(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield join_path(path, key), item
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield f"{path}[{index}]", item


def _check_text(text: str, path: str) -> None:
    if _REPLACEMENT in text:
        raise InvalidEncoding("the body is not valid UTF-8", field=path or None)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate escape ("\ud800") is valid JSON but no UTF-8 text; boto3 could not send it.
        raise InvalidEncoding(
            "the body holds a string that is not valid Unicode", field=path or None
        ) from None


def _check_structure(document: Any) -> None:
    """Depth, repeated keys and unencodable strings, without recursion (the body may be hostile)."""
    stack: list[tuple[Any, str, int]] = [(document, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise BodyTooDeep(f"the body nests deeper than {MAX_DEPTH} levels")
            if isinstance(value, _Pairs):
                raise DuplicateKey(
                    "an object in the body repeats a key", field=join_path(path, value.repeated)
                )
            for key in value if isinstance(value, dict) else ():
                _check_text(key, path)
            # Reversed, so the first problem in document order is the one reported.
            stack.extend(reversed([(item, child, depth + 1) for child, item in _children(value, path)]))
        elif isinstance(value, str):
            _check_text(value, path)


def parse_body(text: str, *, max_bytes: int = MAX_BATCH_BODY_BYTES) -> Any:
    """The body as JSON, numbers as ``JsonNumber``; a ``PaymentsError`` (4xx) for a body out of bounds.

    Raises ``json.JSONDecodeError`` for text that is not JSON at all, which the caller reports as such.
    """
    if len(text) > max_bytes or len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise PayloadTooLarge(f"the body is larger than {max_bytes} bytes")
    try:
        document = json.loads(
            text,
            parse_float=JsonNumber,
            parse_int=JsonNumber,
            parse_constant=_no_constant,
            object_pairs_hook=_object,
        )
    except RecursionError:
        raise BodyTooDeep(f"the body nests deeper than {MAX_DEPTH} levels") from None
    _check_structure(document)
    return document

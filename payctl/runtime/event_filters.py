"""Lambda's event filtering (an event source's ``FilterCriteria``), for the local stream pollers.

Gap (moto 5.2.5): moto stores an event source mapping's ``FilterCriteria`` and never applies it.
Lambda drops every record that matches none of the filters before it invokes, and a batch with
no record left is not invoked at all. This module matches a record against the patterns as
Lambda does, for the operators the template uses: a list of values (any of them; ``null``
matches an absent or null value), ``exists``, ``prefix`` and ``anything-but``. Any other operator
raises :class:`UnsupportedFilter` rather than let a record through that Lambda would drop.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

_MISSING = object()


class UnsupportedFilter(ValueError):
    """A filter pattern uses an operator this runtime does not evaluate."""


def parse_filters(criteria: Mapping[str, Any] | None) -> tuple[dict[str, Any], ...]:
    """The patterns of ``FilterCriteria`` (``{"Filters": [{"Pattern": "<json>"}]}``); none for no criteria."""
    patterns = []
    for entry in (criteria or {}).get("Filters") or []:
        pattern = entry["Pattern"]
        patterns.append(json.loads(pattern) if isinstance(pattern, str) else dict(pattern))
    return tuple(patterns)


def _matches_value(rule: Any, value: Any) -> bool:
    if not isinstance(rule, Mapping):
        if rule is None:
            return value is _MISSING or value is None
        return value is not _MISSING and value == rule
    if set(rule) == {"exists"}:
        return (value is not _MISSING) is bool(rule["exists"])
    if set(rule) == {"prefix"}:
        return isinstance(value, str) and value.startswith(str(rule["prefix"]))
    if set(rule) == {"anything-but"}:
        excluded = rule["anything-but"]
        excluded = excluded if isinstance(excluded, list) else [excluded]
        return value is not _MISSING and value not in excluded
    raise UnsupportedFilter(f"filter operator {sorted(rule)} is not evaluated by the local runtime")


def matches(pattern: Mapping[str, Any], record: Any) -> bool:
    """Whether ``record`` matches one pattern: every key of the pattern, all the way down."""
    for key, rule in pattern.items():
        value = record.get(key, _MISSING) if isinstance(record, Mapping) else _MISSING
        if isinstance(rule, Mapping):
            if not matches(rule, value if isinstance(value, Mapping) else {}):
                return False
        elif isinstance(rule, Sequence) and not isinstance(rule, str):
            if not any(_matches_value(option, value) for option in rule):
                return False
        else:
            raise UnsupportedFilter(f"filter value for {key!r} must be a list or an object")
    return True


def select(patterns: Sequence[Mapping[str, Any]], records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records that match any of the patterns; every record when there are none."""
    if not patterns:
        return list(records)
    return [record for record in records if any(matches(pattern, record) for pattern in patterns)]

"""The workflow steps' payloads read by hand, without pydantic: the readers and their error.

Validation, fraud and settlement read a handful of fields from a payload the consumer already
checked, and pydantic's import plus its model construction cost more than the rest of their cold
start (``make bench-coldstart``). So their boundaries are plain frozen dataclasses and the readers
below (the checks' shared shapes are in ``payments_core.checks``).

They read the way pydantic's lax mode reads JSON: a string field takes a string only, a missing
field takes its default, ``null`` is accepted only where a field is optional, and unknown fields
are ignored. No error message quotes the input: a payload holds payment data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final


class ValidationError(ValueError):
    """A payload the step cannot read. Named as pydantic names its error, because the workflow
    records a failed task by its error's class name and the failure items carry that name."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


def record(value: Any, where: str) -> Mapping[str, Any]:
    """``value`` as an object, or a ValidationError at ``where``."""
    if not isinstance(value, Mapping):
        raise ValidationError(where, "must be an object")
    return value


def field_path(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def text(
    data: Mapping[str, Any], name: str, where: str = "", *, default: str = "", required: bool = False
) -> str:
    """A string field that may be missing (then ``default``) unless ``required``, but not null."""
    if required and name not in data:
        raise ValidationError(field_path(where, name), "is required")
    value = data.get(name, default)
    if not isinstance(value, str):
        raise ValidationError(field_path(where, name), "must be a string")
    return value


def optional_text(data: Mapping[str, Any], name: str, where: str = "") -> str | None:
    """A string field that may be missing or null."""
    value = data.get(name)
    if value is None:
        return None
    return text(data, name, where)


def required_text(data: Mapping[str, Any], name: str, where: str = "", *, max_length: int) -> str:
    """A string field that must be present, of 1 to ``max_length`` characters."""
    value = text(data, name, where, required=True)
    if not 1 <= len(value) <= max_length:
        raise ValidationError(field_path(where, name), f"must be 1 to {max_length} characters")
    return value


def texts(data: Mapping[str, Any], name: str, where: str = "", *, required: bool = True) -> list[str]:
    """A list of strings; an empty one when it is missing and not ``required``."""
    if not required and name not in data:
        return []
    value = data.get(name)
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        raise ValidationError(field_path(where, name), "must be a list of strings")
    return list(value)


TRANSACTION_ID_MAX_LENGTH: Final = 64

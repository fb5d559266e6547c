"""Read what the local API front and pollers need straight from template.yaml.

Only the small part of CloudFormation needed here is resolved: ``Ref`` to a parameter (with
the template default or an override), so a route table or a usage plan can never drift from
the template that is deployed.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any


def parameter_values(template: dict[str, Any], overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Every parameter's effective value: the override, else the template default.

    Overrides are checked against the parameter's constraints as CloudFormation checks them at
    create time, so a value the real stack would refuse is refused locally too.
    """
    declared = template.get("Parameters") or {}
    unknown = set(overrides or {}) - set(declared)
    if unknown:
        raise ValueError(f"unknown template parameter(s): {', '.join(sorted(unknown))}")
    values = {name: str(spec["Default"]) for name, spec in declared.items() if "Default" in spec}
    values.update({name: str(value) for name, value in (overrides or {}).items()})
    problems = [
        problem
        for name, value in sorted((overrides or {}).items())
        if (problem := constraint_violation(name, str(value), declared[name]))
    ]
    if problems:
        raise ValueError("; ".join(problems))
    return values


def constraint_violation(name: str, value: str, spec: dict[str, Any]) -> str | None:
    """Why ``value`` breaks the parameter's declared constraints, or ``None``."""
    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in {str(item) for item in allowed}:
        return f"{name}={value} is not one of {[str(item) for item in allowed]}"
    if spec.get("Type") == "Number":
        try:
            number = Decimal(value)
        except InvalidOperation:
            return f"{name}={value} is not a number"
        if "MinValue" in spec and number < Decimal(str(spec["MinValue"])):
            return f"{name}={value} is below its MinValue {spec['MinValue']}"
        if "MaxValue" in spec and number > Decimal(str(spec["MaxValue"])):
            return f"{name}={value} is above its MaxValue {spec['MaxValue']}"
    if "MinLength" in spec and len(value) < int(spec["MinLength"]):
        return f"{name} is shorter than its MinLength {spec['MinLength']}"
    if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
        return f"{name} is longer than its MaxLength {spec['MaxLength']}"
    pattern = spec.get("AllowedPattern")
    if pattern is not None and re.fullmatch(str(pattern), value) is None:
        return f"{name}={value} does not match {pattern}"
    return None


class Unresolvable(ValueError):
    """A value depends on something only CloudFormation knows (a GetAtt, an import...)."""


def resolve(value: Any, parameters: dict[str, str]) -> Any:
    """Resolve parameter ``Ref``s (and pseudo-free ``Fn::Sub``s of parameters) inside ``value``."""
    if isinstance(value, dict):
        if set(value) == {"Ref"}:
            name = value["Ref"]
            if name not in parameters:
                raise Unresolvable(f"Ref {name} is not a parameter")
            return parameters[name]
        if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
            text = value["Fn::Sub"]
            for name, param in parameters.items():
                text = text.replace("${" + name + "}", param)
            if "${" in text:
                raise Unresolvable(f"Fn::Sub {value['Fn::Sub']!r} needs more than parameters")
            return text
        if any(key == "Ref" or key.startswith("Fn::") for key in value):
            raise Unresolvable(f"cannot resolve {sorted(value)} locally")
        return {key: resolve(item, parameters) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, parameters) for item in value]
    return value


def as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() == "true"


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in (template.get("Resources") or {}).items()
        if resource.get("Type") == resource_type
    }


def merged_globals(template: dict[str, Any], section: str, properties: dict[str, Any]) -> dict[str, Any]:
    """A resource's properties over the template's ``Globals.<section>`` (SAM merges maps key by key)."""
    base = ((template.get("Globals") or {}).get(section)) or {}
    return _merge(base, properties)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged

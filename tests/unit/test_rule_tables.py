"""The rule tables that people read (the rule modules' docstrings and the README) say what the code does.

Each table is parsed and compared with the constants the rules run on, so a changed weight, limit
or fee that is not written down, or a table edited alone, fails here.
"""

from __future__ import annotations

import ast
import inspect
import re
from decimal import Decimal
from pathlib import Path

import pytest

from fraud_svc import logic as fraud
from payments_core.money import SUPPORTED_CURRENCIES
from settlement_svc import logic as settlement
from validation_svc import logic as validation

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
CODE = re.compile(r"`([a-z][a-z0-9]*(?:_[a-z0-9]+)+)`")


def table(text: str, header: str) -> list[list[str]]:
    """The rows of the markdown table whose header row starts with ``| header |``, header excluded."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith(f"| {header} |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.strip().startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def readme_section(title: str) -> str:
    start = README.index(f"**{title}**")
    return README[start : README.index("\n**", start + 1)]


def number(text: str) -> Decimal:
    return Decimal(text.replace(",", ""))


def reason_codes(module: object, *functions: str) -> set[str]:
    """The reason codes the named functions can return: their string constants shaped like a code."""
    tree = ast.parse(inspect.getsource(module))  # type: ignore[arg-type]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name in functions:
            for inner in ast.walk(node):
                if isinstance(inner, ast.Constant) and isinstance(inner.value, str):
                    found |= set(CODE.findall(f"`{inner.value}`"))
    return found


# ------------------------------------------------------------------------------ validation


def test_validation_docstring_lists_every_reason_code_the_rules_return():
    documented = {CODE.findall(row[0])[0] for row in table(validation.__doc__ or "", "Code")}

    assert documented == reason_codes(validation, "check_payment", "_amount_reasons", "_card_reasons")


def test_validation_readme_lists_the_same_reason_codes():
    section = readme_section("Validation")
    documented = {code for row in table(section, "Code") for code in CODE.findall(row[0])}

    assert documented == reason_codes(validation, "check_payment", "_amount_reasons", "_card_reasons")


def test_validation_docstring_charge_limits_are_the_constants():
    rows = table(validation.__doc__ or "", "Currency")

    assert {row[0]: (number(row[1]), number(row[2])) for row in rows} == {
        currency: (validation.MINIMUM_CHARGE[currency], validation.MAXIMUM_CHARGE[currency])
        for currency in SUPPORTED_CURRENCIES
    }


def test_validation_readme_charge_limits_are_the_constants():
    header, *rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in _readme_limits()]
    limits = {row[0]: dict(zip(header[1:], (number(cell) for cell in row[1:]), strict=True)) for row in rows}

    assert limits["minimum"] == dict(validation.MINIMUM_CHARGE)
    assert limits["maximum"] == dict(validation.MAXIMUM_CHARGE)


def _readme_limits() -> list[str]:
    lines = readme_section("Validation").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| Currency |"))
    return [lines[start], *(line for line in lines[start + 2 :] if line.startswith("|"))]


def _currencies(cell: str) -> frozenset[str]:
    if cell.startswith("all supported currencies"):
        excluded = set(re.findall(r"\b[A-Z]{3}\b", cell))
        return SUPPORTED_CURRENCIES - excluded
    return frozenset(re.findall(r"\b[A-Z]{3}\b", cell))


def test_validation_docstring_brand_matrix_is_the_constant():
    rows = table(validation.__doc__ or "", "Brand")
    documented = {
        brand.strip(): _currencies(row[1]) for row in rows for brand in row[0].split(",") if brand.strip()
    }

    assert documented == dict(validation.BRAND_CURRENCIES)


def test_validation_readme_brand_rules_are_the_constant():
    (row,) = [row for row in table(readme_section("Validation"), "Code") if "brand_currency" in row[0]]
    rules = dict(re.findall(r"(\w+) (only [A-Z ,]+|not in [A-Z ,]+)", row[1]))

    for brand, rule in rules.items():
        named = frozenset(re.findall(r"\b[A-Z]{3}\b", rule))
        expected = named if rule.startswith("only") else SUPPORTED_CURRENCIES - named
        assert validation.BRAND_CURRENCIES[brand] == expected, brand
    unrestricted = {
        b for b, accepted in validation.BRAND_CURRENCIES.items() if accepted == SUPPORTED_CURRENCIES
    }
    assert set(rules) == set(validation.BRAND_CURRENCIES) - unrestricted


# ------------------------------------------------------------------------------ fraud


def _weights(rows: list[list[str]], weight_column: int) -> dict[str, Decimal]:
    weights: dict[str, Decimal] = {}
    for row in rows:
        codes = CODE.findall(row[0])
        values = [Decimal(v) for v in re.findall(r"\d\.\d\d", row[weight_column])]
        weights.update(zip(codes, values * len(codes) if len(values) == 1 else values, strict=True))
    return weights


def test_fraud_docstring_weights_are_the_constants():
    assert _weights(table(fraud.__doc__ or "", "Code"), 2) == dict(fraud.WEIGHTS)


def test_fraud_readme_weights_are_the_constants():
    assert _weights(table(readme_section("Fraud"), "Code"), 2) == dict(fraud.WEIGHTS)


def test_fraud_docstring_rates_and_round_units_are_the_constants():
    rows = table(fraud.__doc__ or "", "Currency")

    assert {row[0]: Decimal(row[1]) for row in rows} == dict(fraud.USD_PER_UNIT)
    assert {row[0]: number(row[2]) for row in rows} == {
        currency: Decimal(10) ** zeros for currency, zeros in fraud.ROUND_UNIT_ZEROS.items()
    }


@pytest.mark.parametrize("text", [fraud.__doc__ or "", readme_section("Fraud")], ids=["docstring", "readme"])
def test_fraud_tables_state_the_tiers_threshold_and_high_risk_list(text):
    floors = [f"{floor:,}" for floor, _, _ in fraud.AMOUNT_TIERS]
    velocity = [str(floor) for floor, _, _ in fraud.VELOCITY_TIERS]

    assert all(f"{floor}" in text for floor in floors)
    assert all(f"≥ {floor}" in text for floor in velocity)
    assert f"{fraud.DECLINE_THRESHOLD}" in text
    assert all(re.search(rf"\b{country}\b", text) for country in fraud.HIGH_RISK_COUNTRIES)


# ------------------------------------------------------------------------------ settlement


def _fixed_fees_from_readme() -> dict[str, Decimal]:
    listed = re.search(r"a fixed fee \(([^)]*)\)", readme_section("Settlement fee").replace("\n", " "))
    assert listed is not None
    fees: dict[str, Decimal] = {}
    for group in listed.group(1).split(","):
        *currencies, fee = group.split()
        fees.update(dict.fromkeys(currencies, Decimal(fee)))
    return fees


def test_settlement_docstring_fixed_fees_are_the_constants():
    rows = table(settlement.__doc__ or "", "Currency")
    documented = {c.strip(): Decimal(row[1]) for row in rows for c in row[0].split(",")}

    assert documented == dict(settlement.FIXED_FEE)


def test_settlement_readme_fee_rule_is_the_constants_and_its_example_holds():
    section = readme_section("Settlement fee").replace("\n", " ")
    example = re.search(r"USD ([\d.]*\d) → fee ([\d.]*\d), net ([\d.]*\d)", section)
    assert example is not None
    charge = settlement.settlement_fee(Decimal(example.group(1)), "USD")

    assert _fixed_fees_from_readme() == dict(settlement.FIXED_FEE)
    assert f"{settlement.FEE_RATE * 100:.1f} %" in section
    assert (charge.fee, charge.net) == (Decimal(example.group(2)), Decimal(example.group(3)))

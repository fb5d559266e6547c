"""What ``make chaos`` sends and what it breaks: its payments and its seeded fault plan."""

from __future__ import annotations

from random import Random
from typing import Any

from payctl.runtime import faults
from payctl.runtime.faults import FaultPlan, Kind, Rule

CONSUMER_BATCH = 10
FUNCTIONS = (
    "IngestApiFunction",
    "IngestConsumerFunction",
    "ValidationFunction",
    "FraudFunction",
    "SettlementFunction",
    "ArchiveFunction",
    "AuditTrailFunction",
    "AuditCountersFunction",
)
WORKFLOW_FUNCTIONS = ("ValidationFunction", "FraudFunction", "SettlementFunction")
WRITES = {
    "dynamodb": ("PutItem", "UpdateItem", "TransactWriteItems", "BatchWriteItem"),
    "s3": ("PutObject",),
    "stepfunctions": ("StartSyncExecution",),
}
# Per decision point, how a rate is shared among the kinds asked there.
INVOKE_SHARES = (
    (Kind.LAMBDA_SERVICE_ERROR, "Lambda.ServiceException", 0.25),
    (Kind.LAMBDA_SERVICE_ERROR, "Lambda.TooManyRequestsException", 0.15),
    (Kind.LAMBDA_SERVICE_ERROR, "Lambda.ResourceNotReadyException", 0.2),
    (Kind.HANDLER_ERROR, faults.HANDLER_ERROR, 0.4),
)
RETURNED_SHARES = (
    (Kind.TIMEOUT, faults.TIMEOUT_ERROR, 0.5),
    (Kind.LOST_RESPONSE, faults.LOST_RESPONSE_ERROR, 0.5),
)


def chaos_payments(count: int, seed: int) -> list[dict[str, Any]]:
    """80% valid (four currencies), 10% that validation declines, 10% that fraud declines."""
    rng = Random(seed)
    amounts = {
        "USD": lambda: f"{rng.randint(100, 50000) / 100:.2f}",
        "EUR": lambda: f"{rng.randint(100, 50000) / 100:.2f}",
        "JPY": lambda: str(rng.randint(100, 50000)),
        "KWD": lambda: f"{rng.randint(1000, 90000) / 1000:.3f}",
    }
    payments = []
    for index in range(count):
        kind = index % 10
        currency = ("USD", "EUR", "JPY", "KWD")[index % 4]
        card_country, customer_country = "US", "US"
        amount = amounts[currency]()
        if kind == 8:
            currency, amount = "USD", "0.10"  # under the minimum charge
        elif kind == 9:
            card_country, customer_country = "KP", "IR"  # high-risk countries: fraud declines
        payments.append(
            {
                "idempotency_key": f"chaos-{seed}-{index:05d}",
                "merchant_id": f"m_chaos{index % 7}",
                "amount": amount,
                "currency": currency,
                "payment_method": {
                    "type": "card",
                    "token": f"tok_chaos_{index:05d}",
                    "last4": f"{rng.randint(0, 9999):04d}",
                    "brand": "visa",
                    "country": card_country,
                },
                "customer": {"id": f"c_chaos_{seed}_{index:05d}", "country": customer_country},
                "reference": f"chaos-{index:05d}",
            }
        )
    return payments


def fault_plan(seed: int, rate: float, function_names: dict[str, str], queue_name: str) -> FaultPlan:
    """Every kind of fault, ``rate`` per decision point (the consumer's per-call rates a tenth)."""
    plan = FaultPlan(seed=seed)
    for logical_id in FUNCTIONS:
        name = function_names[logical_id]
        per_call = rate / CONSUMER_BATCH if logical_id == "IngestConsumerFunction" else rate
        for kind, error, share in (*INVOKE_SHARES, *RETURNED_SHARES):
            plan.add(Rule(kind, error, function=name, rate=rate * share))
        for service, codes in faults.DEPENDENCY_ERRORS.items():
            for code in codes:
                plan.add(
                    Rule(
                        Kind.DEPENDENCY_ERROR,
                        code,
                        function=name,
                        service=service,
                        rate=per_call / len(codes),
                    )
                )
        if logical_id == "IngestApiFunction":
            continue
        for service, operations in WRITES.items():
            for operation in operations:
                plan.add(
                    Rule(
                        Kind.CRASH_AFTER_CALL,
                        function=name,
                        service=service,
                        operation=operation,
                        rate=per_call,
                    )
                )
    plan.add(Rule(Kind.DUPLICATE_DELIVERY, queue=queue_name, rate=rate))
    return plan

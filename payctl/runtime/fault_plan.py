"""The fault plan of shim 4 (:mod:`payctl.runtime.faults`): its kinds, rules and seeded decisions.

A :class:`FaultPlan` holds :class:`Rule` s, each a kind of fault with a rate or a count, narrowed
to a function, an AWS service and operation, a queue, or one transaction id. It is asked with
plain values only, so the same questions can be asked for a handler in another process.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final


class Kind(StrEnum):
    LAMBDA_SERVICE_ERROR = "lambda_service_error"
    HANDLER_ERROR = "handler_error"
    TIMEOUT = "timeout"
    LOST_RESPONSE = "lost_response"
    DEPENDENCY_ERROR = "dependency_error"
    CRASH_AFTER_CALL = "crash_after_call"
    DUPLICATE_DELIVERY = "duplicate_delivery"


_INVOKE_KINDS: Final = frozenset({Kind.LAMBDA_SERVICE_ERROR, Kind.HANDLER_ERROR})
_AFTER_INVOKE_KINDS: Final = frozenset({Kind.TIMEOUT, Kind.LOST_RESPONSE})

# HTTP status codes the Lambda API documents for its service-side errors.
LAMBDA_STATUS: Final[Mapping[str, int]] = {
    "ServiceException": 500,
    "TooManyRequestsException": 429,
    "ResourceNotReadyException": 502,
    "EC2ThrottledException": 502,
    "ENILimitReachedException": 502,
    "SnapStartTimeoutException": 408,
    "SdkClientException": 500,
}
# The state machine's Retry covers these Lambda service errors; the others fail the task.
RETRIED_LAMBDA_ERRORS: Final = (
    "Lambda.ServiceException",
    "Lambda.TooManyRequestsException",
    "Lambda.SdkClientException",
)
NOT_RETRIED_LAMBDA_ERRORS: Final = ("Lambda.ResourceNotReadyException",)

# Each service's own error codes and HTTP statuses, as its API returns them.
DEPENDENCY_ERRORS: Final[Mapping[str, Mapping[str, int]]] = {
    "dynamodb": {
        "ThrottlingException": 400,
        "ProvisionedThroughputExceededException": 400,
        "InternalServerError": 500,
    },
    "s3": {"SlowDown": 503, "InternalError": 500},
    "sqs": {"RequestThrottled": 403, "InternalError": 500},
    "stepfunctions": {"ThrottlingException": 400, "ServiceUnavailable": 503},
}

# Lambda's error type when a timeout ends an invocation (Step Functions shows it as the error name).
TIMEOUT_ERROR: Final = "Sandbox.Timedout"
# Lambda's error type when the runtime process exits before it answers.
EXIT_ERROR: Final = "Runtime.ExitError"
HANDLER_ERROR: Final = "InjectedHandlerError"
# What a caller sees when the response to a finished invocation is lost on the way back.
LOST_RESPONSE_ERROR: Final = "Lambda.SdkClientException"


class SimulatedCrash(BaseException):
    """The process died right after an AWS call succeeded.

    A ``BaseException``, so no ``except Exception`` in a handler can swallow it: the invocation
    ends there, as an out-of-memory kill or a timeout would end it.
    """


@dataclass(frozen=True)
class LambdaFault:
    """A fault of one invocation: its kind and the error name its caller sees."""

    kind: Kind
    error: str
    function_name: str
    transaction_id: str | None

    @property
    def service_code(self) -> str:
        """The Lambda API's error code (``Lambda.ServiceException`` → ``ServiceException``)."""
        return self.error.removeprefix("Lambda.")

    @property
    def status(self) -> int:
        return LAMBDA_STATUS.get(self.service_code, 500)

    @property
    def message(self) -> str:
        return f"injected {self.kind.value} ({self.error}) in {self.function_name}"


@dataclass(frozen=True)
class DependencyFault:
    """An AWS service's own error for one call, with the HTTP status that service sends."""

    service: str
    operation: str
    code: str
    status: int
    function_name: str
    transaction_id: str | None

    @property
    def message(self) -> str:
        return f"injected {self.code} on {self.service}.{self.operation} for {self.function_name}"


@dataclass
class Rule:
    """One kind of fault, at a rate (0..1 of the evaluations) or for a count of them.

    ``function`` (a function name), ``service``/``operation``, ``queue`` (a queue name) and
    ``transaction_id`` narrow where it applies; None matches anything.
    """

    kind: Kind
    error: str = ""
    function: str | None = None
    service: str | None = None
    operation: str | None = None
    queue: str | None = None
    transaction_id: str | None = None
    rate: float | None = None
    count: int | None = None
    fired: int = 0

    def __post_init__(self) -> None:
        self.kind = Kind(self.kind)
        if (self.rate is None) == (self.count is None):
            raise ValueError("a rule has either a rate or a count")
        if self.rate is not None and not 0 <= self.rate <= 1:
            raise ValueError(f"rate {self.rate} is not between 0 and 1")
        if self.count is not None and self.count < 1:
            raise ValueError("count must be at least 1")
        if self.kind is Kind.LAMBDA_SERVICE_ERROR:
            self.error = self.error or "Lambda.ServiceException"
            if not self.error.startswith("Lambda."):
                raise ValueError(
                    f"{self.error!r} is not a Lambda service error name (expected 'Lambda.<Code>')"
                )
        elif self.kind is Kind.DEPENDENCY_ERROR:
            codes = DEPENDENCY_ERRORS.get(self.service or "")
            if codes is None:
                raise ValueError(f"dependency errors are defined for {sorted(DEPENDENCY_ERRORS)}")
            self.error = self.error or next(iter(codes))
            if self.error not in codes:
                raise ValueError(f"{self.service} has no error {self.error!r}; known: {sorted(codes)}")
        else:
            self.error = (
                self.error
                or {
                    Kind.HANDLER_ERROR: HANDLER_ERROR,
                    Kind.TIMEOUT: TIMEOUT_ERROR,
                    Kind.LOST_RESPONSE: LOST_RESPONSE_ERROR,
                    Kind.CRASH_AFTER_CALL: EXIT_ERROR,
                    Kind.DUPLICATE_DELIVERY: "duplicate",
                }[self.kind]
            )

    @property
    def remaining(self) -> int | None:
        return None if self.count is None else max(0, self.count - self.fired)

    def matches(
        self,
        *,
        function: str | None = None,
        service: str | None = None,
        operation: str | None = None,
        queue: str | None = None,
        transaction_id: str | None = None,
    ) -> bool:
        return (
            (self.function is None or self.function == function)
            and (self.service is None or self.service == service)
            and (self.operation is None or self.operation == operation)
            and (self.queue is None or self.queue == queue)
            and (self.transaction_id is None or self.transaction_id == transaction_id)
        )


@dataclass(frozen=True)
class Fired:
    """One fault that fired: what, where, and for which payment."""

    kind: Kind
    error: str
    target: str
    transaction_id: str | None


def chance(seed: int, *parts: object) -> float:
    """A uniform number in [0, 1) that depends only on its arguments."""
    text = "|".join([str(seed), *(str(part) for part in parts)])
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@dataclass
class FaultPlan:
    """The seeded plan; thread-safe (pollers, Parallel branches and the API call it at once)."""

    seed: int = 0
    rules: list[Rule] = field(default_factory=list)
    enabled: bool = True
    fired: list[Fired] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._evaluations: Counter[tuple[str, ...]] = Counter()
        # Every invocation and every handler's AWS call the plan was asked about, faults or not:
        # what a payment costs in requests, measured on the same run.
        self.invocations: Counter[str] = Counter()
        self.calls: Counter[tuple[str, str, str]] = Counter()

    # ------------------------------------------------------------------ configuring

    def add(self, rule: Rule) -> Rule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def extend(self, rules: Iterable[Rule]) -> None:
        for rule in rules:
            self.add(rule)

    def clear(self, function: str | None = None) -> None:
        """Drop every rule, or those aimed at one function (what fired stays recorded)."""
        with self._lock:
            self.rules = [] if function is None else [r for r in self.rules if r.function != function]

    def lift(self) -> None:
        """Stop injecting; the rules and what fired stay for the report."""
        self.enabled = False

    def remaining(self, function: str) -> int:
        with self._lock:
            return sum(r.remaining or 0 for r in self.rules if r.function == function and r.count)

    def fired_counts(self) -> Counter[tuple[str, str, str]]:
        """``(kind, error, target) -> how many``, for a report."""
        with self._lock:
            return Counter((f.kind.value, f.error, f.target) for f in self.fired)

    # ------------------------------------------------------------------ deciding

    def _decide(
        self, point: str, kinds: frozenset[Kind], target: str, tid: str | None, **where: Any
    ) -> Rule | None:
        if not self.enabled:
            return None
        with self._lock:
            key = (point, target, tid or "")
            n = self._evaluations[key]
            self._evaluations[key] = n + 1
            for index, rule in enumerate(self.rules):
                if rule.kind not in kinds or not rule.matches(transaction_id=tid, **where):
                    continue
                if rule.count is not None:
                    if rule.fired >= rule.count:
                        continue
                elif chance(self.seed, index, rule.kind.value, rule.error, point, target, tid or "", n) >= (
                    rule.rate or 0
                ):
                    continue
                rule.fired += 1
                self.fired.append(Fired(rule.kind, rule.error, target, tid))
                return rule
        return None

    def on_invoke(self, function_name: str, transaction_id: str | None) -> LambdaFault | None:
        """Before the handler: a Lambda service error, or an exception inside the handler."""
        with self._lock:
            self.invocations[function_name] += 1
        rule = self._decide("invoke", _INVOKE_KINDS, function_name, transaction_id, function=function_name)
        return None if rule is None else LambdaFault(rule.kind, rule.error, function_name, transaction_id)

    def after_invoke(self, function_name: str, transaction_id: str | None) -> LambdaFault | None:
        """After the handler returned: a timeout, or a response lost on its way back."""
        rule = self._decide(
            "returned", _AFTER_INVOKE_KINDS, function_name, transaction_id, function=function_name
        )
        return None if rule is None else LambdaFault(rule.kind, rule.error, function_name, transaction_id)

    def _decide_call(
        self, point: str, kind: Kind, function_name: str, service: str, operation: str, tid: str | None
    ) -> Rule | None:
        return self._decide(
            point,
            frozenset({kind}),
            f"{function_name}:{service}.{operation}",
            tid,
            function=function_name,
            service=service,
            operation=operation,
        )

    def before_aws_call(
        self, function_name: str, service: str, operation: str, transaction_id: str | None
    ) -> DependencyFault | None:
        with self._lock:
            self.calls[(function_name, service, operation)] += 1
        rule = self._decide_call(
            "call", Kind.DEPENDENCY_ERROR, function_name, service, operation, transaction_id
        )
        if rule is None:
            return None
        status = DEPENDENCY_ERRORS[service][rule.error]
        return DependencyFault(service, operation, rule.error, status, function_name, transaction_id)

    def after_aws_call(
        self, function_name: str, service: str, operation: str, transaction_id: str | None
    ) -> bool:
        """True: the process dies now, right after this call succeeded."""
        rule = self._decide_call(
            "called", Kind.CRASH_AFTER_CALL, function_name, service, operation, transaction_id
        )
        return rule is not None

    def duplicate_delivery(self, queue_name: str, transaction_id: str | None) -> bool:
        rule = self._decide(
            "delivery", frozenset({Kind.DUPLICATE_DELIVERY}), queue_name, transaction_id, queue=queue_name
        )
        return rule is not None

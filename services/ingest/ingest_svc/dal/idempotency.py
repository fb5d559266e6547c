"""Idempotency records: Stripe-style request idempotency on Powertools' persistence layer."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Final, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from ingest_svc.logic.ports import Claim, ClaimState, IdempotentRequest
from payments_core import aws
from payments_core.errors import DependencyError
from payments_core.observability import get_logger
from payments_core.settings import get_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer
    from aws_lambda_powertools.utilities.idempotency.config import IdempotencyConfig
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

logger = get_logger("ingest")

T = TypeVar("T")
R = TypeVar("R")

# Stripe keeps keys for 24 h; a replay inside that window gets the recorded response.
IDEMPOTENCY_TTL_SECONDS: Final[int] = 24 * 60 * 60
# Stable across function renames and shared by the single and batch routes: a key used in a batch
# replays on a single POST and the other way round.
IDEMPOTENCY_KEY_PREFIX: Final[str] = "ingest.payment"
# A 500-item batch makes a thousand idempotency writes; in parallel they fit the API's time budget.
IDEMPOTENCY_WORKERS: Final[int] = 16
_CLAIM_ATTEMPTS: Final[int] = 3


def _in_parallel(function: Callable[[T], R], items: Sequence[T], workers: int) -> list[R]:
    if len(items) <= 1 or workers <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        return list(pool.map(function, items))


def idempotency_config() -> IdempotencyConfig:
    """Records are keyed on (submitter, idempotency key) and validated on the canonical payment."""
    # Powertools' idempotency is imported where it is used: the queue consumer shares this package
    # and never needs it, so its cold start does not pay for it.
    from aws_lambda_powertools.utilities.idempotency.config import IdempotencyConfig

    return IdempotencyConfig(
        event_key_jmespath="[submitter, idempotency_key]",
        payload_validation_jmespath="payment",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=IDEMPOTENCY_TTL_SECONDS,
        hash_function="sha256",
    )


def dynamodb_persistence() -> BasePersistenceLayer:
    """Powertools' DynamoDB persistence layer on IDEMPOTENCY_TABLE."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    return DynamoDBPersistenceLayer(
        table_name=get_settings().require("idempotency_table"), boto3_client=aws.client("dynamodb")
    )


def _record_data(request: IdempotentRequest) -> dict[str, Any]:
    return {
        "submitter": request.submitter,
        "idempotency_key": request.idempotency_key,
        "payment": request.document,
    }


def _claim_from_record(record: DataRecord) -> Claim | None:
    """None when the record lapsed between our write and our read: claim again."""
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import STATUS_CONSTANTS

    if record.status == STATUS_CONSTANTS["COMPLETED"]:
        stored = record.response_json_as_dict() or {}
        return Claim(ClaimState.COMPLETED, response=stored.get("body"))
    if record.status == STATUS_CONSTANTS["INPROGRESS"]:
        lock = record.in_progress_expiry_timestamp
        if lock is not None and lock < int(time.time() * 1000):
            return None
        return Claim(ClaimState.IN_PROGRESS)
    return None


class IdempotencyStore:
    """Stripe-style request idempotency on Powertools' persistence layer, one call per request.

    The layer's record API is used directly (rather than the ``@idempotent`` decorator) so that a
    batch can claim all its keys first, enqueue the new payments ten at a time, and then record the
    responses; a single POST goes through the same code with one request.
    """

    def __init__(self, persistence: BasePersistenceLayer, *, workers: int = IDEMPOTENCY_WORKERS) -> None:
        self._persistence = persistence
        if not self._persistence.configured:
            self._persistence.configure(idempotency_config(), key_prefix=IDEMPOTENCY_KEY_PREFIX)
        self._workers = workers

    def claim(self, requests: Sequence[IdempotentRequest], *, remaining_ms: Callable[[], int]) -> list[Claim]:
        return _in_parallel(lambda request: self._claim_one(request, remaining_ms), requests, self._workers)

    def complete(self, done: Sequence[tuple[IdempotentRequest, dict[str, Any]]]) -> None:
        """A failure here is logged, not raised: the payment is already queued. Until the lock
        lapses a retry gets 409; after it, the retry queues again and the consumer drops the duplicate."""

        def save(pair: tuple[IdempotentRequest, dict[str, Any]]) -> None:
            request, response = pair
            try:
                # Under "body", where records also holding the status code kept it: the code
                # before this one reads these records, and this code reads its records.
                self._persistence.save_success(data=_record_data(request), result={"body": response})
            except (ClientError, BotoCoreError) as exc:
                logger.warning(
                    "idempotency record not completed",
                    extra={"transaction_id": request.transaction_id, "aws_error": aws.error_code(exc)},
                )

        _in_parallel(save, done, self._workers)

    def release(self, requests: Sequence[IdempotentRequest]) -> None:
        """A failure here is logged, not raised: the lock lapses with this invocation anyway."""

        def delete(request: IdempotentRequest) -> None:
            try:
                self._persistence.delete_record(
                    data=_record_data(request), exception=DependencyError("payment not queued")
                )
            except (ClientError, BotoCoreError) as exc:
                logger.warning(
                    "idempotency record not released",
                    extra={"transaction_id": request.transaction_id, "aws_error": aws.error_code(exc)},
                )

        _in_parallel(delete, requests, self._workers)

    def _claim_one(self, request: IdempotentRequest, remaining_ms: Callable[[], int]) -> Claim:
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyItemAlreadyExistsError,
            IdempotencyItemNotFoundError,
            IdempotencyValidationError,
        )

        data = _record_data(request)
        for _ in range(_CLAIM_ATTEMPTS):
            try:
                self._persistence.save_inprogress(data=data, remaining_time_in_millis=remaining_ms())
                return Claim(ClaimState.NEW)
            except IdempotencyValidationError:
                return Claim(ClaimState.REUSED)
            except IdempotencyItemAlreadyExistsError as exc:
                try:
                    record = exc.old_data_record or self._persistence.get_record(data=data)
                except IdempotencyValidationError:
                    return Claim(ClaimState.REUSED)
                except IdempotencyItemNotFoundError:
                    continue
                except (ClientError, BotoCoreError) as read_exc:
                    return self._unavailable(request, read_exc)
                if record is not None and (claim := _claim_from_record(record)) is not None:
                    return claim
            except (ClientError, BotoCoreError) as exc:
                return self._unavailable(request, exc)
        return Claim(ClaimState.UNAVAILABLE)

    @staticmethod
    def _unavailable(request: IdempotentRequest, exc: Exception) -> Claim:
        logger.warning(
            "idempotency store unavailable",
            extra={"transaction_id": request.transaction_id, "aws_error": aws.error_code(exc)},
        )
        return Claim(ClaimState.UNAVAILABLE)

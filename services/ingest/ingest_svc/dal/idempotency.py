"""Idempotency records: one conditional write claims up to 100 keys, and there is no second write.

A record is ``{id, expiration, status, validation}``: the key (``ingest.payment#<transaction
id>``, itself derived from submitter and idempotency key), when DynamoDB's TTL may delete it, and
the payment's hash. Its answer, the receipt, derives from the transaction id, so the claim is
written already ``COMPLETED``: there is no completion write. A batch's claims are one
``TransactWriteItems`` per 100 keys, each ``Put`` conditional on the key being free (absent or
expired); a cancelled transaction names the keys that were taken and hands their records back,
and the others are claimed again without them.

Because a record exists from the moment it is claimed, a repeat of the key with the same body is
answered as a replay at once, even while the first request is still sending; the accepting logic
makes sure that payment is queued before it answers (``ingest_svc.logic.accept``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from ingest_svc.logic.ports import Claim, ClaimState, IdempotentRequest
from payments_core import aws
from payments_core.dynamo import DynamoTable, deserialize, serialize
from payments_core.errors import DependencyError
from payments_core.observability import get_logger

logger = get_logger("ingest")

# Stripe keeps keys for 24 h; a replay inside that window gets the recorded response.
IDEMPOTENCY_TTL_SECONDS: Final[int] = 24 * 60 * 60
# Shared by the single and batch routes: a key used in a batch replays on a single POST and the
# other way round.
IDEMPOTENCY_KEY_PREFIX: Final[str] = "ingest.payment"
COMPLETED: Final[str] = "COMPLETED"
# TransactWriteItems holds at most 100 actions.
CLAIMS_PER_TRANSACTION: Final[int] = 100
# BatchWriteItem holds at most 25 requests.
_DELETES_PER_BATCH: Final[int] = 25
# A cancelled transaction is tried again without the taken keys; a conflict with another writer's
# transaction, or throttling, is tried again as it is.
_CLAIM_ATTEMPTS: Final[int] = 4
_RETRY_CODES: Final = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})
_TAKEN: Final[str] = "ConditionalCheckFailed"


def record_id(request: IdempotentRequest) -> str:
    return f"{IDEMPOTENCY_KEY_PREFIX}#{request.transaction_id}"


@dataclass(frozen=True)
class Taken:
    """A key another request holds: the payment hash its record was claimed with."""

    payload_hash: str | None


class ClaimTablePort(Protocol):
    def claim(self, records: Sequence[dict[str, Any]], now: int) -> list[Taken | None]:
        """Put each record unless a live one (``expiration >= now``) holds its id.

        One result per record: None where it was put, else what holds the key. Raises
        ``DependencyError`` when the table cannot answer.
        """
        ...

    def delete(self, ids: Sequence[str]) -> None: ...


class ClaimTable(DynamoTable):
    """The idempotency table through TransactWriteItems (claims) and BatchWriteItem (releases)."""

    table_setting = "idempotency_table"

    def claim(self, records: Sequence[dict[str, Any]], now: int) -> list[Taken | None]:
        results: list[Taken | None] = [None] * len(records)
        for start in range(0, len(records), CLAIMS_PER_TRANSACTION):
            chunk = list(range(start, min(start + CLAIMS_PER_TRANSACTION, len(records))))
            self._claim_chunk(records, chunk, now, results)
        return results

    def _claim_chunk(
        self, records: Sequence[dict[str, Any]], pending: list[int], now: int, results: list[Taken | None]
    ) -> None:
        for _ in range(_CLAIM_ATTEMPTS):
            if not pending:
                return
            try:
                self._client.transact_write_items(
                    TransactItems=[self._put(records[i], now) for i in pending],
                    # The SDK retries a throttled call; the token makes a retry of one that had
                    # landed succeed without writing again.
                    ClientRequestToken=str(uuid.uuid4()),
                )
                return
            except (ClientError, BotoCoreError) as exc:
                reasons = exc.response.get("CancellationReasons") if isinstance(exc, ClientError) else None
                if not reasons or len(reasons) != len(pending):
                    # Throttling and 500s were retried by the SDK already.
                    raise DependencyError("idempotency table write failed") from exc
                codes = [reason.get("Code") for reason in reasons]
                if any(code not in (_TAKEN, "None", None, *_RETRY_CODES) for code in codes):
                    raise DependencyError("idempotency table write failed") from exc
                for index, reason in zip(pending, reasons, strict=True):
                    if reason.get("Code") == _TAKEN:
                        held = deserialize(reason.get("Item") or {})
                        results[index] = Taken(held.get("validation"))
                pending = [i for i, code in zip(pending, codes, strict=True) if code != _TAKEN]
        if pending:
            raise DependencyError("idempotency claims still conflicting; retry")

    def _put(self, record: dict[str, Any], now: int) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self._table,
                "Item": serialize(record),
                # Free: never claimed, or expired and not yet deleted (TTL deletes within days).
                "ConditionExpression": "attribute_not_exists(#id) OR #expiration < :now",
                "ExpressionAttributeNames": {"#id": "id", "#expiration": "expiration"},
                "ExpressionAttributeValues": serialize({":now": now}),
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    def delete(self, ids: Sequence[str]) -> None:
        for start in range(0, len(ids), _DELETES_PER_BATCH):
            pending: dict[str, Any] = {
                self._table: [
                    {"DeleteRequest": {"Key": serialize({"id": key})}}
                    for key in ids[start : start + _DELETES_PER_BATCH]
                ]
            }
            for _ in range(_CLAIM_ATTEMPTS):
                try:
                    response = self._client.batch_write_item(RequestItems=pending)
                except (ClientError, BotoCoreError) as exc:
                    raise DependencyError("idempotency table delete failed") from exc
                pending = response.get("UnprocessedItems") or {}
                if not pending:
                    break
            else:
                raise DependencyError("idempotency records not deleted: throttled")


class IdempotencyStore:
    """Stripe-style request idempotency: claims in one write per 100 keys; see the module docstring."""

    def __init__(
        self, table: ClaimTablePort | None = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._table = table or ClaimTable()
        self._clock = clock

    def claim(self, requests: Sequence[IdempotentRequest]) -> list[Claim]:
        now = int(self._clock())
        records = [
            {
                "id": record_id(request),
                "expiration": now + IDEMPOTENCY_TTL_SECONDS,
                "status": COMPLETED,
                "validation": request.payload_hash,
            }
            for request in requests
        ]
        try:
            taken = self._table.claim(records, now)
        except DependencyError as exc:
            logger.warning(
                "idempotency store unavailable",
                extra={"requests": len(requests), "aws_error": _cause(exc)},
            )
            return [Claim(ClaimState.UNAVAILABLE)] * len(requests)
        return [_claim(request, held) for request, held in zip(requests, taken, strict=True)]

    def release(self, requests: Sequence[IdempotentRequest]) -> None:
        """A failure here is logged, not raised: a retry of a released key that finds the record
        anyway is answered as a replay, and the replay queues the payment itself."""
        try:
            self._table.delete([record_id(request) for request in requests])
        except DependencyError as exc:
            logger.warning(
                "idempotency records not released",
                extra={
                    "transaction_ids": [request.transaction_id for request in requests],
                    "aws_error": _cause(exc),
                },
            )


def _cause(exc: DependencyError) -> str:
    """The AWS error code behind a dependency error, for the log line."""
    cause = exc.__cause__
    return aws.error_code(cause) if isinstance(cause, Exception) else type(exc).__name__


def _claim(request: IdempotentRequest, held: Taken | None) -> Claim:
    if held is None:
        return Claim(ClaimState.NEW)
    if held.payload_hash != request.payload_hash:
        return Claim(ClaimState.REUSED)
    return Claim(ClaimState.COMPLETED)

"""The ingest service's only AWS access: idempotency records, the payments queue, the transactions
table and the workflow. AWS errors become typed domain errors here, chained with ``raise ... from``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Final, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ingest_svc.logic import Claim, ClaimState, IdempotentRequest, WorkflowRun
from payments_core import aws
from payments_core.dynamo import deserialize, serialize
from payments_core.errors import DependencyError
from payments_core.models import PaymentMessage, Status
from payments_core.observability import get_logger
from payments_core.settings import get_settings
from payments_core.transactions import CONDITION_FAILED, TransactionStore

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
# API Gateway stops waiting after 29 s, so an in-progress lock never needs to outlive that.
DEFAULT_LOCK_MS: Final[int] = 29_000
# A 500-item batch makes a thousand idempotency writes; in parallel they fit the API's time budget.
IDEMPOTENCY_WORKERS: Final[int] = 16
SQS_BATCH_LIMIT: Final[int] = 10
_BATCH_GET_LIMIT: Final[int] = 100
_BATCH_GET_ATTEMPTS: Final[int] = 3
_BATCH_GET_BACKOFF_SECONDS: Final[float] = 0.05
_CLAIM_ATTEMPTS: Final[int] = 3


def _in_parallel(function: Callable[[T], R], items: Sequence[T], workers: int) -> list[R]:
    if len(items) <= 1 or workers <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        return list(pool.map(function, items))


def _aws_code(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "ClientError"))
    return type(exc).__name__


def idempotency_config() -> IdempotencyConfig:
    """Records are keyed on (submitter, idempotency key) and validated on the canonical payment."""
    # Powertools' idempotency is imported where it is used: the queue consumer shares this module
    # and never needs it, so its cold start does not pay for it.
    from aws_lambda_powertools.utilities.idempotency.config import IdempotencyConfig

    return IdempotencyConfig(
        event_key_jmespath="[submitter, idempotency_key]",
        payload_validation_jmespath="payment",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=IDEMPOTENCY_TTL_SECONDS,
        hash_function="sha256",
    )


_persistence_lock = threading.Lock()
_persistence: BasePersistenceLayer | None = None


def default_persistence() -> BasePersistenceLayer:
    """Powertools' DynamoDB persistence layer on IDEMPOTENCY_TABLE, created on first use."""
    global _persistence
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    with _persistence_lock:
        if _persistence is None:
            layer = DynamoDBPersistenceLayer(
                table_name=get_settings().require("idempotency_table"), boto3_client=aws.client("dynamodb")
            )
            layer.configure(idempotency_config(), key_prefix=IDEMPOTENCY_KEY_PREFIX)
            _persistence = layer
        return _persistence


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
        return Claim(ClaimState.COMPLETED, response=record.response_json_as_dict())
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

    def __init__(
        self,
        persistence: BasePersistenceLayer | None = None,
        *,
        remaining_ms: Callable[[], int] | None = None,
        workers: int = IDEMPOTENCY_WORKERS,
    ) -> None:
        self._persistence = persistence or default_persistence()
        if not self._persistence.configured:
            self._persistence.configure(idempotency_config(), key_prefix=IDEMPOTENCY_KEY_PREFIX)
        self._remaining_ms = remaining_ms or (lambda: DEFAULT_LOCK_MS)
        self._workers = workers

    def claim(self, requests: Sequence[IdempotentRequest]) -> list[Claim]:
        return _in_parallel(self._claim_one, requests, self._workers)

    def complete(self, done: Sequence[tuple[IdempotentRequest, dict[str, Any]]]) -> None:
        """A failure here is logged, not raised: the payment is already queued. Until the lock
        lapses a retry gets 409; after it, the retry queues again and the consumer drops the duplicate."""

        def save(pair: tuple[IdempotentRequest, dict[str, Any]]) -> None:
            request, response = pair
            try:
                self._persistence.save_success(data=_record_data(request), result=response)
            except (ClientError, BotoCoreError) as exc:
                logger.warning(
                    "idempotency record not completed",
                    extra={"transaction_id": request.transaction_id, "aws_error": _aws_code(exc)},
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
                    extra={"transaction_id": request.transaction_id, "aws_error": _aws_code(exc)},
                )

        _in_parallel(delete, requests, self._workers)

    def _claim_one(self, request: IdempotentRequest) -> Claim:
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyItemAlreadyExistsError,
            IdempotencyItemNotFoundError,
            IdempotencyValidationError,
        )

        data = _record_data(request)
        for _ in range(_CLAIM_ATTEMPTS):
            try:
                self._persistence.save_inprogress(data=data, remaining_time_in_millis=self._remaining_ms())
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
            extra={"transaction_id": request.transaction_id, "aws_error": _aws_code(exc)},
        )
        return Claim(ClaimState.UNAVAILABLE)


def message_body(message: PaymentMessage) -> str:
    """The queue message as JSON: the amount is the payment's canonical decimal string."""
    return json.dumps(message.model_dump(mode="json", exclude_none=True), separators=(",", ":"))


def message_attributes(message: PaymentMessage) -> dict[str, Any]:
    return {
        "transaction_id": {"DataType": "String", "StringValue": message.transaction_id},
        "submitter": {"DataType": "String", "StringValue": message.submitter},
    }


class PaymentsQueue:
    def __init__(self, queue_url: str | None = None, sqs: Any = None) -> None:
        self._url = queue_url or get_settings().require("payments_queue_url")
        self._sqs = sqs

    @property
    def _client(self) -> Any:
        return self._sqs or aws.client("sqs")

    def send(self, messages: Sequence[PaymentMessage]) -> set[str]:
        """SendMessage for one, SendMessageBatch in tens for more; the ids that were not enqueued."""
        if len(messages) == 1:
            (message,) = messages
            try:
                self._client.send_message(
                    QueueUrl=self._url,
                    MessageBody=message_body(message),
                    MessageAttributes=message_attributes(message),
                )
            except (ClientError, BotoCoreError) as exc:
                self._log_failure([message.transaction_id], _aws_code(exc))
                return {message.transaction_id}
            return set()
        failed: set[str] = set()
        for start in range(0, len(messages), SQS_BATCH_LIMIT):
            failed |= self._send_batch(messages[start : start + SQS_BATCH_LIMIT])
        return failed

    def _send_batch(self, chunk: Sequence[PaymentMessage]) -> set[str]:
        entries = [
            {
                "Id": str(position),
                "MessageBody": message_body(message),
                "MessageAttributes": message_attributes(message),
            }
            for position, message in enumerate(chunk)
        ]
        try:
            response = self._client.send_message_batch(QueueUrl=self._url, Entries=entries)
        except (ClientError, BotoCoreError) as exc:
            failed_ids = [message.transaction_id for message in chunk]
            self._log_failure(failed_ids, _aws_code(exc))
            return set(failed_ids)
        failed = {
            chunk[int(entry["Id"])].transaction_id: entry.get("Code", "")
            for entry in response.get("Failed", [])
        }
        if failed:
            self._log_failure(list(failed), ",".join(sorted(set(failed.values()))))
        return set(failed)

    @staticmethod
    def _log_failure(transaction_ids: list[str], code: str) -> None:
        logger.warning("payments not enqueued", extra={"transaction_ids": transaction_ids, "aws_error": code})


class TransactionsTable(TransactionStore):
    """Ingest's side of the transactions table: the one conditional put that creates an item, and reads."""

    # What ingest reads back (the GET view, the consumer's duplicate check): never ``metadata`` or
    # ``customer``, free-form maps that older code stored unchecked, so no odd value in them (an
    # empty key, say) can make a read fail.
    READ_ATTRIBUTES: tuple[str, ...] = (
        "transaction_id",
        "status",
        "submitter",
        "payload_hash",
        "amount",
        "currency",
        "merchant_id",
        "reference",
        "customer_id",
        "payment_method",
        "decline_reasons",
        "validation",
        "fraud",
        "settlement",
        "failure",
        "created_at",
        "updated_at",
    )

    def get(self, transaction_id: str) -> dict[str, Any] | None:
        return self._get_item(
            {"transaction_id": transaction_id}, "transactions table read", self.READ_ATTRIBUTES
        )

    def create(self, item: dict[str, Any]) -> dict[str, Any] | None:
        """Put the item if no item has its id: None when this call created it, else the item that stood."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item=serialize(item),
                ConditionExpression="attribute_not_exists(transaction_id)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != CONDITION_FAILED:
                raise DependencyError("transactions table write failed") from exc
            old = exc.response.get("Item")
            existing = deserialize(old) if old else self.get(item["transaction_id"])
            if existing is None:
                raise DependencyError("transaction vanished between write and read; retry") from exc
            if "payload_hash" not in existing:
                return self._adopt(item)
            return existing
        return None

    def payload_hashes(self, transaction_ids: Sequence[str]) -> dict[str, str]:
        """The payload hash of each of these transactions that exists, read consistently.

        BatchGetItem, 100 keys a call; keys DynamoDB leaves unprocessed are asked for again a few
        times with a short backoff, then the read fails as a dependency error (the request can be
        retried with the same idempotency keys).
        """
        found: dict[str, str] = {}
        unique = list(dict.fromkeys(transaction_ids))
        for start in range(0, len(unique), _BATCH_GET_LIMIT):
            keys = [serialize({"transaction_id": tid}) for tid in unique[start : start + _BATCH_GET_LIMIT]]
            request: dict[str, Any] = {
                self._table: {
                    "Keys": keys,
                    "ConsistentRead": True,
                    "ProjectionExpression": "transaction_id, payload_hash",
                }
            }
            for attempt in range(_BATCH_GET_ATTEMPTS):
                if attempt:
                    time.sleep(_BATCH_GET_BACKOFF_SECONDS * 2**attempt)
                try:
                    response = self._client.batch_get_item(RequestItems=request)
                except (ClientError, BotoCoreError) as exc:
                    raise DependencyError("transactions table read failed") from exc
                for item in response.get("Responses", {}).get(self._table, []):
                    plain = deserialize(item)
                    if "payload_hash" in plain:
                        found[plain["transaction_id"]] = plain["payload_hash"]
                unprocessed = (response.get("UnprocessedKeys") or {}).get(self._table)
                if not unprocessed:
                    break
                request = {self._table: unprocessed}
            else:
                raise DependencyError("transactions table read throttled; retry")
        return found

    def _adopt(self, item: dict[str, Any]) -> dict[str, Any] | None:
        """Fill in the ingest fields of an item a workflow step created first with UpdateItem.

        Only the attributes ingest owns are set, so a check result already there stays.
        """
        fields = {name: value for name, value in item.items() if name not in ("transaction_id", "status")}
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values = {f":f{i}": value for i, value in enumerate(fields.values())}
        assignments = [f"#f{i} = :f{i}" for i in range(len(fields))]
        assignments.append("#status = if_not_exists(#status, :received)")
        names.update({"#status": "status", "#hash": "payload_hash"})
        values[":received"] = Status.RECEIVED.value
        try:
            self._client.update_item(
                TableName=self._table,
                Key=serialize({"transaction_id": item["transaction_id"]}),
                UpdateExpression="SET " + ", ".join(assignments),
                ConditionExpression="attribute_not_exists(#hash)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=serialize(values),
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != CONDITION_FAILED:
                raise DependencyError("transactions table write failed") from exc
            return self.get(item["transaction_id"])
        return None


# A retried StartSyncExecution after a read timeout would run the workflow twice in parallel; the
# queue's redelivery is the retry instead.
_SYNC_RETRIES: Final[dict[str, Any]] = {"total_max_attempts": 1}
_sync_clients: dict[int, Any] = {}
_sync_lock = threading.Lock()


def _sync_client(timeout_seconds: float) -> Any:
    """A Step Functions client whose read timeout fits this call, cached per few seconds of timeout."""
    whole = max(1, int(timeout_seconds))
    read_timeout = whole if whole < 10 else whole - whole % 5
    found = _sync_clients.get(read_timeout)
    if found is None:
        with _sync_lock:
            found = _sync_clients.get(read_timeout)
            if found is None:
                config = Config(connect_timeout=3, read_timeout=read_timeout, retries=_SYNC_RETRIES)
                found = _sync_clients[read_timeout] = boto3.session.Session().client(
                    "stepfunctions", config=config
                )
    return found


class Workflow:
    def __init__(self, state_machine_arn: str | None = None, client: Any = None) -> None:
        self._arn = state_machine_arn or get_settings().require("state_machine_arn")
        self._client = client

    def run(self, name: str, payload: dict[str, Any], *, timeout_seconds: float) -> WorkflowRun:
        """StartSyncExecution, waiting at most ``timeout_seconds`` for the execution's result."""
        client = self._client or _sync_client(timeout_seconds)
        try:
            response = client.start_sync_execution(
                stateMachineArn=self._arn, name=name, input=json.dumps(payload, separators=(",", ":"))
            )
        except (ClientError, BotoCoreError) as exc:
            raise DependencyError(f"StartSyncExecution failed ({_aws_code(exc)})") from exc
        return WorkflowRun(status=str(response.get("status", "")), error=response.get("error"))

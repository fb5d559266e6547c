"""Settlement's only AWS access: the settlement record and the status, the archive objects and
the archive's stream marks."""

from __future__ import annotations

from typing import Any, Final

from botocore.exceptions import ClientError

from payments_core import aws
from payments_core.dynamo import DynamoTable, deserialize, serialize
from payments_core.errors import DependencyError
from payments_core.observability import get_tracer
from payments_core.settings import get_settings
from payments_core.status import Status
from payments_core.streams import mark_key, mark_update
from payments_core.transactions import transition_update
from settlement_svc.ports import LedgerWrite

tracer = get_tracer("settlement")

# The bucket's default encryption is SSE-S3; saying so on every put keeps a bucket policy that
# requires the header satisfied. No ACL is ever sent: the bucket enforces BucketOwnerEnforced.
ARCHIVE_ENCRYPTION: Final = "AES256"
# One archived settlement per line.
ARCHIVE_CONTENT_TYPE: Final = "application/x-ndjson"
# Object metadata (x-amz-meta-last-sequence): the last stream record the object holds.
LAST_SEQUENCE: Final = "last-sequence"
ARCHIVE_MARKS: Final = "archive"
# 412: the key exists. 409: a concurrent conditional write to the key is in flight.
_ALREADY_WRITTEN: Final = "PreconditionFailed"
_CONCURRENT_WRITE: Final = "ConditionalRequestConflict"
# A TransactWriteItems item whose condition did not hold.
_REFUSED: Final = "ConditionalCheckFailed"


class SettlementLedger(DynamoTable):
    """The settlements table: one record per transaction, written together with the SETTLED status."""

    table_setting = "settlements_table"

    def __init__(
        self, table_name: str | None = None, transactions_table: str | None = None, dynamodb: Any = None
    ):
        super().__init__(table_name, dynamodb)
        self._transactions = transactions_table or get_settings().require("transactions_table")

    @tracer.capture_method(capture_response=False)
    def settle(self, record: dict[str, Any], settlement: dict[str, Any], now: str) -> LedgerWrite:
        """In one TransactWriteItems: put the record unless one exists for the transaction, and move
        the transaction to SETTLED from an open status with ``settlement`` on it. Both or neither,
        so a decline that lands first leaves no settlement record behind, and a record never exists
        without the status that says so. Refused conditions return the items as they stood."""
        transaction_id = record["transaction_id"]
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": serialize(record),
                            "ConditionExpression": "attribute_not_exists(transaction_id)",
                            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._transactions,
                            "Key": serialize({"transaction_id": transaction_id}),
                            **transition_update(Status.SETTLED, {"settlement": settlement}, now),
                            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                        }
                    },
                ]
            )
        except ClientError as exc:
            reasons = exc.response.get("CancellationReasons") or []
            codes = [reason.get("Code") for reason in reasons]
            if len(reasons) != 2 or any(code not in (_REFUSED, "None", None) for code in codes):
                raise DependencyError("settlement write failed") from exc
            ledger, status = reasons
            earlier = ledger.get("Item") if ledger.get("Code") == _REFUSED else None
            refused = status.get("Code") == _REFUSED
            current = deserialize(status["Item"]) if refused and status.get("Item") else {}
            return LedgerWrite(
                applied=False,
                earlier=deserialize(earlier) if earlier else None,
                status_refused=refused,
                status=Status(current["status"]) if "status" in current else None,
            )
        return LedgerWrite(applied=True)


class ArchiveBucket:
    """Write-once objects: ``If-None-Match: *`` makes S3 refuse a key that already exists.

    Each object says in its metadata how far into its stream shard it reaches, so a re-run that
    finds the object written can move past what it holds without reading its body.
    """

    def __init__(self, bucket: str | None = None, s3: Any = None) -> None:
        self._bucket = bucket or get_settings().require("archive_bucket")
        self._s3 = s3

    @property
    def _client(self) -> Any:
        return self._s3 or aws.client("s3")

    @tracer.capture_method(capture_response=False)
    def put_once(self, key: str, body: bytes, last_sequence: str) -> bool:
        """Write the object unless the key exists; False if it did."""
        try:
            self._client.put_object(
                Bucket=self._bucket,
                Key=key,
                Body=body,
                ContentType=ARCHIVE_CONTENT_TYPE,
                ServerSideEncryption=ARCHIVE_ENCRYPTION,
                Metadata={LAST_SEQUENCE: last_sequence},
                IfNoneMatch="*",
            )
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code == _ALREADY_WRITTEN:
                return False
            # S3 asks the loser of a concurrent conditional write to retry; if the winner's object
            # is there, the archive is written and there is nothing to retry.
            if code == _CONCURRENT_WRITE and self.last_sequence(key) is not None:
                return False
            raise DependencyError("archive write failed") from exc
        return True

    def last_sequence(self, key: str) -> str | None:
        """The stream position an existing object reaches; None if there is no object."""
        try:
            head = self._client.head_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return None
            raise DependencyError("archive read failed") from exc
        last = head.get("Metadata", {}).get(LAST_SEQUENCE)
        if not last:
            raise DependencyError(f"archive object {key} does not say how far it reaches")
        return str(last)


class ArchiveMarks(DynamoTable):
    """The archive's high-water mark per stream shard (see ``payments_core.streams``)."""

    table_setting = "audit_table"

    def read(self, shard_id: str) -> str | None:
        item = self._get_item(mark_key(shard_id, ARCHIVE_MARKS), "archive mark read")
        return str(item["sequence"]) if item else None

    def move(self, shard_id: str, mark: str | None, last: str) -> None:
        key = mark_key(shard_id, ARCHIVE_MARKS)
        try:
            self._client.update_item(**mark_update(self._table, key, mark, last))
        except ClientError as exc:
            # Refused: another invocation moved it. The batch is delivered again and re-read.
            raise DependencyError("archive mark write failed") from exc

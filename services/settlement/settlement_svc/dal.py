"""The settlement step's only AWS access: the settlement record, the archive object, the status."""

from __future__ import annotations

from typing import Any, Final

from botocore.exceptions import ClientError

from payments_core import aws
from payments_core.dynamo import DynamoTable, deserialize, serialize
from payments_core.errors import DependencyError
from payments_core.observability import get_tracer
from payments_core.settings import get_settings
from payments_core.transactions import CONDITION_FAILED

tracer = get_tracer("settlement")

# The bucket's default encryption is SSE-S3; saying so on every put keeps a bucket policy that
# requires the header satisfied. No ACL is ever sent: the bucket enforces BucketOwnerEnforced.
ARCHIVE_ENCRYPTION: Final = "AES256"
# 412: the key exists. 409: a concurrent conditional write to the key is in flight.
_ALREADY_WRITTEN: Final = "PreconditionFailed"
_CONCURRENT_WRITE: Final = "ConditionalRequestConflict"


class SettlementLedger(DynamoTable):
    """One record per transaction in the settlements table, written with attribute_not_exists."""

    table_setting = "settlements_table"

    @tracer.capture_method(capture_response=False)
    def put_once(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """None when this call wrote the record; the record already there when one existed.

        The refused put returns the existing item with its error, so a re-run needs no read and
        the function needs no GetItem permission on the table.
        """
        try:
            self._client.put_item(
                TableName=self._table,
                Item=serialize(record),
                ConditionExpression="attribute_not_exists(transaction_id)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != CONDITION_FAILED:
                raise DependencyError("settlement record write failed") from exc
            earlier = exc.response.get("Item")
            if not earlier:
                raise DependencyError("settlement record exists but did not come back") from exc
            return deserialize(earlier)
        return None


class ArchiveBucket:
    """Write-once objects: ``If-None-Match: *`` makes S3 refuse a key that already exists."""

    def __init__(self, bucket: str | None = None, s3: Any = None) -> None:
        self._bucket = bucket or get_settings().require("archive_bucket")
        self._s3 = s3

    @property
    def _client(self) -> Any:
        return self._s3 or aws.client("s3")

    @tracer.capture_method(capture_response=False)
    def put_once(self, key: str, body: bytes) -> bool:
        try:
            self._client.put_object(
                Bucket=self._bucket,
                Key=key,
                Body=body,
                ContentType="application/json",
                ServerSideEncryption=ARCHIVE_ENCRYPTION,
                IfNoneMatch="*",
            )
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code == _ALREADY_WRITTEN:
                return False
            # S3 asks the loser of a concurrent conditional write to retry; if the winner's object
            # is there, the archive is written and there is nothing to retry.
            if code == _CONCURRENT_WRITE and self._exists(key):
                return False
            raise DependencyError("archive write failed") from exc
        return True

    def _exists(self, key: str) -> bool:
        try:
            self._client.head_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return False
            raise DependencyError("archive read failed") from exc
        return True

"""The fraud step's only AWS access: the velocity count (it writes nothing)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from payments_core.dynamo import DynamoTable, serialize
from payments_core.errors import DependencyError
from payments_core.observability import get_tracer

CUSTOMER_INDEX = "by_customer"

tracer = get_tracer("fraud")


class CustomerVelocity(DynamoTable):
    """Counts through the keys-only ``by_customer`` index: Select COUNT reads no item attributes."""

    table_setting = "transactions_table"

    @tracer.capture_method(capture_response=False)
    def recent_transactions(self, customer_id: str, since: str, exclude_transaction_id: str) -> int:
        # The transaction id is projected into every index, so the filter works on a keys-only GSI.
        # A COUNT query still pages at 1 MB scanned; follow LastEvaluatedKey.
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": CUSTOMER_INDEX,
            "Select": "COUNT",
            "KeyConditionExpression": "#customer = :customer AND #created >= :since",
            "FilterExpression": "#id <> :self",
            "ExpressionAttributeNames": {
                "#customer": "customer_id",
                "#created": "created_at",
                "#id": "transaction_id",
            },
            "ExpressionAttributeValues": serialize(
                {":customer": customer_id, ":since": since, ":self": exclude_transaction_id}
            ),
        }
        total = 0
        try:
            while True:
                page = self._client.query(**kwargs)
                total += int(page.get("Count", 0))
                if "LastEvaluatedKey" not in page:
                    return total
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        except ClientError as exc:
            raise DependencyError("customer velocity query failed") from exc

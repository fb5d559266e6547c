"""Shim 17 — DynamoDB stream event sources are polled like Lambda does, not invoked inside the write.

Gaps (moto 5.2.5):

- moto's JSON response serializer writes a map entry whose key is the empty string into the map
  itself (a structure under key ``""`` is treated as the top level), so ``GetRecords`` of an
  item with such a map key (DynamoDB allows them) answers a body botocore cannot parse. The
  shim serializes each map entry under a placeholder key and moves it to its own key.
- botocore now sends the streams API to an account endpoint,
  ``<account>.streams-ddb.<region>.amazonaws.com``, which no moto URL pattern matches, so every
  call answers 404 "Not yet implemented". The shim routes that host to moto's streams backend.
- A table with an event source mapping invokes the function from inside the write
(``StreamShard.add``), under the DynamoDB request lock, with every record the shard ever held,
and then empties the shard. That also breaks its sequence numbers, which count the records held.
This shim detaches every new stream mapping from its table (the mapping stays listable through
the Lambda API) and provides :class:`StreamPoller`, which runs Lambda's cycle per shard: read up
to ``BatchSize`` records after the last batch that succeeded, invoke once, and move on only when
the invocation succeeded. A failed batch is read again next time, which is what
``MaximumRetryAttempts: -1`` asks for. With ``TumblingWindowInSeconds`` the event carries what
Lambda adds for a window: ``shardId``, ``eventSourceARN``, ``window``, ``state`` and the flags.
The windows' state and final invokes are not modelled: the functions here keep their state in
tables. ``MaximumBatchingWindowInSeconds`` is not waited for either: a poll takes what the shard
holds, so the local counters follow the rows within a poll. ``FilterCriteria`` is applied as
Lambda applies it (:mod:`payctl.runtime.event_filters`): records that match no filter are passed
over, and a batch with none left is not invoked.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from payctl.runtime._patching import Patcher
from payctl.runtime.event_filters import parse_filters, select
from payctl.runtime.sqs_event_sources import NO_RETRIES

GAP = "moto invokes DynamoDB stream functions inside the write and empties the shard"
EMPTY_MAP_KEY_GAP = "moto's JSON serializer flattens a map entry whose key is the empty string"
_ENTRY = "__entry__"
ACCOUNT_ENDPOINT_PATTERN = r"https?://(.+)\.streams-ddb\.(.+)\.amazonaws\.com"


@dataclass(frozen=True)
class StreamSource:
    """The configuration of one DynamoDB stream → Lambda event source mapping."""

    uuid: str
    function_logical_id: str | None
    function_name: str
    function_arn: str
    stream_arn: str
    batch_size: int
    maximum_batching_window_seconds: int
    tumbling_window_seconds: int
    starting_position: str
    enabled: bool
    filters: tuple[dict[str, Any], ...] = ()


@dataclass
class StreamPollResult:
    received: int = 0
    invoked: int = 0
    failed_batches: int = 0
    errors: list[str] = field(default_factory=list)


def install(patcher: Patcher) -> None:
    import re

    from moto import backend_index
    from moto.awslambda.models import LambdaBackend
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodbstreams import urls as streams_urls

    pattern = ("dynamodbstreams", re.compile(ACCOUNT_ENDPOINT_PATTERN))
    backend_index.backend_url_patterns.insert(0, pattern)
    patcher.add_callback(lambda: backend_index.backend_url_patterns.remove(pattern))
    streams_urls.url_bases.append(ACCOUNT_ENDPOINT_PATTERN)
    patcher.add_callback(lambda: streams_urls.url_bases.remove(ACCOUNT_ENDPOINT_PATTERN))

    def wrap(original: Any) -> Any:
        def create_event_source_mapping(self: Any, spec: dict[str, Any]) -> Any:
            esm: Any = original(self, spec)
            arn: str = esm.function_arn
            for table in dynamodb_backends[self.account_id][self.region_name].tables.values():
                if table.lambda_event_source_mappings.get(arn) is esm:
                    del table.lambda_event_source_mappings[arn]
            return esm

        return create_event_source_mapping

    patcher.wrap(LambdaBackend, "create_event_source_mapping", wrap, gap=GAP)

    from moto.core.serialize import BaseJSONSerializer

    def serialize_map(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        map_obj = self.MAP_TYPE()
        self._default_serialize(serialized, map_obj, shape, key)
        for sub_key, sub_value in value.items():
            entry = self.MAP_TYPE()
            self._serialize(entry, sub_value, shape.value, _ENTRY)
            if entry:
                (map_obj[sub_key],) = entry.values()

    patcher.setattr(BaseJSONSerializer, "_serialize_type_map", serialize_map, gap=EMPTY_MAP_KEY_GAP)


def stream_sources_for_function(
    function_name: str, function_logical_id: str | None, region: str, *, lambda_client: Any = None
) -> list[StreamSource]:
    lambda_client = lambda_client or boto3.client("lambda", region_name=region)
    sources = []
    for mapping in lambda_client.list_event_source_mappings(FunctionName=function_name)[
        "EventSourceMappings"
    ]:
        arn = mapping["EventSourceArn"]
        if arn.split(":")[2] != "dynamodb" or "/stream/" not in arn:
            continue
        sources.append(
            StreamSource(
                uuid=mapping["UUID"],
                function_logical_id=function_logical_id,
                function_name=function_name,
                function_arn=mapping["FunctionArn"],
                stream_arn=arn,
                batch_size=int(mapping.get("BatchSize") or 100),
                maximum_batching_window_seconds=int(mapping.get("MaximumBatchingWindowInSeconds") or 0),
                tumbling_window_seconds=int(mapping.get("TumblingWindowInSeconds") or 0),
                starting_position=str(mapping.get("StartingPosition") or "TRIM_HORIZON"),
                enabled=mapping.get("State", "Enabled") == "Enabled",
                filters=parse_filters(mapping.get("FilterCriteria")),
            )
        )
    return sources


def _window(now: datetime, seconds: int) -> dict[str, str]:
    start = datetime.fromtimestamp(int(now.timestamp()) // seconds * seconds, tz=UTC)
    end = start + timedelta(seconds=seconds)
    return {"start": start.isoformat().replace("+00:00", "Z"), "end": end.isoformat().replace("+00:00", "Z")}


class StreamPoller:
    """Lambda's poller for one stream mapping: one batch per shard per :meth:`poll_once`."""

    def __init__(self, source: StreamSource, region: str, *, streams: Any = None, lambda_client: Any = None):
        self.source = source
        self.region = region
        self._streams = streams or boto3.client("dynamodbstreams", region_name=region)
        # The poller makes exactly one Invoke per batch, so the client must not retry.
        self._lambda = lambda_client or boto3.client("lambda", region_name=region, config=NO_RETRIES)
        # Per shard, the sequence number of the last record of the last batch that succeeded.
        self._positions: dict[str, str] = {}
        self._lock = threading.Lock()

    def _iterator(self, shard_id: str) -> str:
        after = self._positions.get(shard_id)
        kwargs: dict[str, Any] = {"StreamArn": self.source.stream_arn, "ShardId": shard_id}
        if after is not None:
            kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=after)
        else:
            kwargs["ShardIteratorType"] = self.source.starting_position
        return str(self._streams.get_shard_iterator(**kwargs)["ShardIterator"])

    def _event(self, shard_id: str, records: list[dict[str, Any]]) -> dict[str, Any]:
        event: dict[str, Any] = {
            "Records": [{**record, "eventSourceARN": self.source.stream_arn} for record in records]
        }
        if self.source.tumbling_window_seconds:
            event.update(
                {
                    "window": _window(datetime.now(UTC), self.source.tumbling_window_seconds),
                    "state": {},
                    "shardId": shard_id,
                    "eventSourceARN": self.source.stream_arn,
                    "isFinalInvokeForWindow": False,
                    "isWindowTerminatedEarly": False,
                }
            )
        return event

    def poll_once(self) -> StreamPollResult:
        """For each shard: read the next batch, invoke once, and advance only past a batch that succeeded."""
        result = StreamPollResult()
        if not self.source.enabled:
            return result
        with self._lock:
            shards = self._streams.describe_stream(StreamArn=self.source.stream_arn)["StreamDescription"][
                "Shards"
            ]
            for shard in shards:
                shard_id = shard["ShardId"]
                records = self._streams.get_records(
                    ShardIterator=self._iterator(shard_id), Limit=self.source.batch_size
                ).get("Records", [])
                if not records:
                    continue
                last = str(records[-1]["dynamodb"]["SequenceNumber"])
                records = select(self.source.filters, records)
                if not records:
                    self._positions[shard_id] = last
                    continue
                result.received += len(records)
                result.invoked += 1
                payload = json.dumps(self._event(shard_id, records), default=str).encode()
                try:
                    response = self._lambda.invoke(
                        FunctionName=self.source.function_arn,
                        InvocationType="RequestResponse",
                        Payload=payload,
                    )
                except Exception as exc:  # a service error: the batch is read again next time
                    result.failed_batches += 1
                    result.errors.append(f"{type(exc).__name__}: {exc}")
                    continue
                body = response["Payload"].read()
                if response.get("FunctionError"):
                    result.failed_batches += 1
                    result.errors.append(
                        json.loads(body or b"{}").get("errorType", response["FunctionError"])
                    )
                    continue
                self._positions[shard_id] = last
        return result

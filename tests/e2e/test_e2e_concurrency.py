"""The local stack under concurrent load: no corrupted answer, no lost payment.

Each Lambda execution environment runs one invocation at a time in its own process, and every moto
request is atomic (runtime shim 18), so concurrent clients get the answers Lambda and API Gateway
would give them, and every accepted payment is accounted for.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from payctl.local.local_stack import LocalStack
from payctl.tools.api_client import ApiClient
from tests.factories import unique_key

pytestmark = pytest.mark.e2e

TERMINAL = {"SETTLED", "DECLINED"}


def _post_all(
    local_stack: LocalStack, api_key: str, requests: list[tuple[str, Any, dict[str, str]]]
) -> list[Any]:
    """Send every request at once (one client per thread), released together by a barrier."""
    barrier = threading.Barrier(len(requests))

    def send(request: tuple[str, Any, dict[str, str]]) -> Any:
        path, body, headers = request
        client = ApiClient(local_stack.api_url, api_key, timeout=120)
        try:
            barrier.wait()
            return client.post(path, body, headers=headers)
        finally:
            client.close()

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(send, requests))


def test_32_concurrent_posts_with_one_key_make_one_payment(local_stack, api_key, payment):
    body = payment()
    key = unique_key("e2e-same")

    responses = _post_all(local_stack, api_key, [("/payments", body, {"Idempotency-Key": key})] * 32)

    # Every repeat is a replay, even one that arrives while the first request is still sending.
    statuses = sorted({response.status for response in responses})
    assert statuses == [202], [(r.status, r.body[:200]) for r in responses if r.status != 202]
    accepted = [response.json() for response in responses]
    assert len({answer["transaction_id"] for answer in accepted}) == 1
    assert sum(not answer["replayed"] for answer in accepted) == 1


def test_concurrent_batch_posts_all_get_207_with_their_own_results(local_stack, api_key, payment):
    batches = [
        {"payments": [{"idempotency_key": unique_key("e2e-batch"), **payment()} for _ in range(25)]}
        for _ in range(8)
    ]

    responses = _post_all(local_stack, api_key, [("/payments/batch", batch, {}) for batch in batches])

    assert [response.status for response in responses] == [207] * 8
    for batch, response in zip(batches, responses, strict=True):
        results = response.json()["results"]
        assert [result["idempotency_key"] for result in results] == [
            item["idempotency_key"] for item in batch["payments"]
        ]
        assert response.json()["accepted"] == 25


def _scan_statuses(aws: Callable[[str], Any], table: str) -> dict[str, str]:
    statuses: dict[str, str] = {}
    paginator = aws("dynamodb").get_paginator("scan")
    for page in paginator.paginate(
        TableName=table,
        ProjectionExpression="transaction_id, #s",
        ExpressionAttributeNames={"#s": "status"},
    ):
        for item in page["Items"]:
            statuses[item["transaction_id"]["S"]] = item["status"]["S"]
    return statuses


# 4 x 1,000 payments take minutes on a 2-core machine; the suite sends 4 x 150 and
# `make load` the full 4 x 1,000 (PAYCTL_LOAD_PER_SUBMITTER).
PER_SUBMITTER = int(os.environ.get("PAYCTL_LOAD_PER_SUBMITTER", "150"))


def test_four_submitters_while_the_pollers_drain_lose_no_payment(
    local_stack, api_key, payment, aws, queue_drained
):
    submitters, per_submitter = 4, PER_SUBMITTER
    chunk = min(50, per_submitter)
    accepted: list[str] = []
    refused: list[dict[str, Any]] = []
    lock = threading.Lock()

    def submit(number: int) -> None:
        client = ApiClient(local_stack.api_url, api_key, timeout=120)
        try:
            for start in range(0, per_submitter, chunk):
                items = [
                    {"idempotency_key": unique_key(f"e2e-load-{number}-{start + i}"), **payment()}
                    for i in range(chunk)
                ]
                response = client.post("/payments/batch", {"payments": items})
                assert response.status == 207, response.body[:300]
                results = response.json()["results"]
                with lock:
                    accepted.extend(r["transaction_id"] for r in results if r["status"] == "accepted")
                    refused.extend(r for r in results if r["status"] != "accepted")
        finally:
            client.close()

    with ThreadPoolExecutor(submitters) as pool:
        list(pool.map(submit, range(submitters)))
    assert refused == []
    assert len(accepted) == submitters * per_submitter

    queue_drained(timeout=900)
    table = local_stack.outputs["TransactionsTableName"]
    deadline = time.monotonic() + 120
    while True:
        statuses = _scan_statuses(aws, table)
        pending = [tid for tid in accepted if statuses.get(tid) not in TERMINAL]
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(1)
    missing = [tid for tid in accepted if tid not in statuses]
    assert missing == []
    assert pending == []

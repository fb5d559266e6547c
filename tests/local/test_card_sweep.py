"""The sweep itself: it finds card data planted in each kind of source, names where without the
digits, and lets a recent epoch-milliseconds time through."""

from __future__ import annotations

import json
import time

import boto3
from moto import mock_aws

from payctl.devtools.card_sweep import Sweeper, sweep
from payments_core.carddata import looks_like_pan, luhn_valid

PAN = "4111 1111 1111 1111"


def test_planted_card_data_is_found_in_every_source_and_never_quoted():
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.put_item(TableName="t", Item={"pk": {"S": "a"}, "amount": {"N": "4111111111111111.00"}})
        dynamodb.put_item(TableName="t", Item={"pk": {"S": "b"}, "data": {"S": json.dumps({"cvv": "123"})}})
        dynamodb.put_item(TableName="t", Item={"pk": {"S": "c"}, "fine": {"S": "order-1001"}})
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="archive")
        s3.put_object(Bucket="archive", Key="x.json", Body=json.dumps({"note": PAN.replace(" ", "_")}))

        report = sweep(
            responses=[json.dumps({"results": [{"idempotency_key": PAN}]}).encode(), b'{"ok": true}'],
            log_lines=['{"message": "ok"}', f"plain text {PAN.replace(' ', '-')}"],
            dynamodb=dynamodb,
            s3=s3,
        )

    where = sorted((f.where.split()[0], f.what) for f in report.findings)
    assert where == [
        ("log", "card number"),
        ("response", "card number"),
        ("s3://archive/x.json", "card number"),
        ("table", "card field"),
        ("table", "card number"),
    ]
    assert report.counts == {"archive objects": 1, "log lines": 2, "response bodies": 2, "table items": 3}
    assert not any("1111" in f"{f.where} {f.path}" for f in report.findings)


def test_a_recent_epoch_in_milliseconds_is_not_card_data():
    now_ms = int(time.time() * 1000)
    tens = now_ms - now_ms % 10  # one number in every run of ten that differ in the last digit passes Luhn
    luhn_valid_now = next(t for t in range(tens, tens + 10) if luhn_valid(str(t)))
    assert looks_like_pan(str(luhn_valid_now))  # what a plain scan would flag
    sweeper = Sweeper(now_ms=now_ms)

    sweeper.text(json.dumps({"_aws": {"Timestamp": luhn_valid_now}}), "emf line")
    sweeper.text(f"expires at {luhn_valid_now}", "text line")

    assert sweeper.report.findings == []

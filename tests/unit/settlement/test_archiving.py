"""The archive from the transactions stream: one object per run of a day, each entry exactly once."""

import json
from decimal import Decimal

import pytest

from payments_core.errors import DependencyError
from payments_core.models import example_payment
from settlement_svc.archiving import SettledRecord, archive_batch, archive_body, archive_document, archive_key

SHARD = "shardId-0001"


def settled_item(n: int, day: str = "2026-03-02") -> dict:
    """A transaction item as the stream's new image holds it once SETTLED (numbers are Decimal)."""
    return {
        **example_payment(),
        "transaction_id": f"tx-{n}",
        "status": "SETTLED",
        "amount": Decimal("12.34"),
        "metadata": {"cart": "a1"},
        "validation": {"outcome": "PASS", "reasons": [], "checked_at": "t"},
        "fraud": {"outcome": "APPROVE", "score": Decimal("0.00"), "reasons": []},
        "created_at": f"{day}T08:00:00.000000Z",
        "settlement": {
            "amount": Decimal("12.34"),
            "currency": "USD",
            "fee": Decimal("0.66"),
            "net": Decimal("11.68"),
            "settled_at": f"{day}T09:00:00.000000Z",
        },
    }


def record(n: int, day: str = "2026-03-02") -> SettledRecord:
    return SettledRecord(f"{n:040d}", settled_item(n, day))


class Objects:
    """The bucket with If-None-Match: a key is written once, and HEAD tells how far it reaches."""

    def __init__(self):
        self.objects: dict[str, tuple[bytes, str]] = {}
        self.crash_after_put = False

    def put_once(self, key, body, last_sequence):
        if key in self.objects:
            return False
        self.objects[key] = (body, last_sequence)
        if self.crash_after_put:
            self.crash_after_put = False
            raise SystemExit("crashed after PutObject")
        return True

    def last_sequence(self, key):
        found = self.objects.get(key)
        return found[1] if found else None

    def entries(self):
        return [
            json.loads(line)["transaction_id"]
            for body, _ in self.objects.values()
            for line in body.decode().splitlines()
        ]


class Marks:
    def __init__(self):
        self.marks: dict[str, str] = {}

    def read(self, shard_id):
        return self.marks.get(shard_id)

    def move(self, shard_id, mark, last):
        if self.marks.get(shard_id) != mark:
            raise DependencyError("archive mark write failed")
        self.marks[shard_id] = last


class Ledger:
    """The settlements table: a put of an existing key overwrites it (BatchWriteItem)."""

    def __init__(self):
        self.records: dict[str, dict] = {}
        self.puts = 0

    def write(self, records):
        self.puts += len(records)
        self.records.update({r["transaction_id"]: r for r in records})
        return len(records)


@pytest.fixture
def ledger():
    return Ledger()


@pytest.fixture
def objects():
    return Objects()


@pytest.fixture
def marks():
    return Marks()


def test_a_batch_is_one_object_under_its_settlement_day(ledger, objects, marks):
    archived = archive_batch(
        SHARD, [record(1), record(2), record(3)], ledger=ledger, objects=objects, marks=marks
    )

    assert archived == 3
    assert list(objects.objects) == [archive_key("2026/03/02", SHARD, f"{1:040d}")]
    assert objects.entries() == ["tx-1", "tx-2", "tx-3"]
    assert marks.marks[SHARD] == f"{3:040d}"
    assert sorted(ledger.records) == ["tx-1", "tx-2", "tx-3"]


def test_each_settlement_record_derives_from_its_settled_image(ledger, objects, marks):
    archive_batch(SHARD, [record(1)], ledger=ledger, objects=objects, marks=marks)

    assert ledger.records["tx-1"] == {
        "transaction_id": "tx-1",
        "merchant_id": example_payment()["merchant_id"],
        "reference": example_payment().get("reference"),
        "amount": Decimal("12.34"),
        "currency": "USD",
        "fee": Decimal("0.66"),
        "net": Decimal("11.68"),
        "fee_rate": "0.029",
        "fixed_fee": Decimal("0.30"),
        "received_at": "2026-03-02T08:00:00.000000Z",
        "settled_at": "2026-03-02T09:00:00.000000Z",
    }


def test_a_batch_across_midnight_is_one_object_per_day(ledger, objects, marks):
    archive_batch(
        SHARD,
        [record(1), record(2, "2026-03-03"), record(3, "2026-03-03")],
        ledger=ledger,
        objects=objects,
        marks=marks,
    )

    assert sorted(objects.objects) == [
        f"archive/2026/03/02/{SHARD}/{1:040d}.jsonl",
        f"archive/2026/03/03/{SHARD}/{2:040d}.jsonl",
    ]


def test_a_redelivered_batch_archives_nothing_twice(ledger, objects, marks):
    batch = [record(1), record(2)]
    archive_batch(SHARD, batch, ledger=ledger, objects=objects, marks=marks)

    assert archive_batch(SHARD, batch, ledger=ledger, objects=objects, marks=marks) == 0
    assert objects.entries() == ["tx-1", "tx-2"]
    # Records at or below the mark were put before their archive object: not put again.
    assert ledger.puts == 2


def test_a_crash_between_the_object_and_the_mark_is_finished_by_the_retry(ledger, objects, marks):
    """Given the object written and the mark not moved, the retry (with a record more) finds the
    object, writes only the new record and moves the mark past both."""
    objects.crash_after_put = True
    with pytest.raises(SystemExit):
        archive_batch(SHARD, [record(1), record(2)], ledger=ledger, objects=objects, marks=marks)
    assert SHARD not in marks.marks

    assert (
        archive_batch(SHARD, [record(1), record(2), record(3)], ledger=ledger, objects=objects, marks=marks)
        == 1
    )

    assert objects.entries() == ["tx-1", "tx-2", "tx-3"]
    assert marks.marks[SHARD] == f"{3:040d}"


def test_a_smaller_retry_inside_an_earlier_object_moves_the_mark_to_the_objects_end(ledger, objects, marks):
    """Given an object holding 1-3 whose mark never moved, a retry of 1-2 only moves the mark to 3,
    so the next batch (3-4) does not archive 3 again."""
    objects.crash_after_put = True
    with pytest.raises(SystemExit):
        archive_batch(SHARD, [record(1), record(2), record(3)], ledger=ledger, objects=objects, marks=marks)

    archive_batch(SHARD, [record(1), record(2)], ledger=ledger, objects=objects, marks=marks)
    archive_batch(SHARD, [record(3), record(4)], ledger=ledger, objects=objects, marks=marks)

    assert objects.entries() == ["tx-1", "tx-2", "tx-3", "tx-4"]


def test_a_mark_another_invocation_moved_fails_the_batch_so_it_is_read_again(ledger, objects, marks):
    class MovedMeanwhile(Marks):
        def read(self, shard_id):
            stale = super().read(shard_id)
            self.marks[shard_id] = f"{9:040d}"
            return stale

    with pytest.raises(DependencyError):
        archive_batch(SHARD, [record(1)], ledger=ledger, objects=objects, marks=MovedMeanwhile())


def test_the_archived_document_has_amounts_as_strings_and_no_card_token():
    """Given a settled payment, the archived line has no token and no JSON number anywhere."""
    body = archive_body([record(1)])

    assert b"tok_visa_4242" not in body
    document = json.loads(body, parse_float=lambda text: pytest.fail(f"number {text} in archive"))
    assert document == archive_document(settled_item(1))
    assert document["payment_method"] == {"type": "card", "brand": "visa", "last4": "4242", "country": "US"}
    assert (document["amount"], document["fee"], document["net"]) == ("12.34", "0.66", "11.68")
    assert document["fee_schedule"] == {"rate": "0.029", "fixed": "0.30"}
    assert document["checks"]["fraud"]["score"] == "0.00"
    assert (document["received_at"], document["settled_at"]) == (
        "2026-03-02T08:00:00.000000Z",
        "2026-03-02T09:00:00.000000Z",
    )

    def numbers(value):
        if isinstance(value, dict):
            return [n for v in value.values() for n in numbers(v)]
        if isinstance(value, list):
            return [n for v in value for n in numbers(v)]
        return [value] if isinstance(value, int | float) and not isinstance(value, bool) else []

    assert numbers(document) == []

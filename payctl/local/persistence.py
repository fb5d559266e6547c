"""A local stack that survives a restart: moto's data saved to a state directory and restored.

What is kept is what a user of the stack owns: every DynamoDB table's items, every SQS queue's
messages (in flight ones included, with their receive counts and visibility), the objects of every
bucket the stack created, and the API keys' ids and values. The stack itself (functions, state
machines, roles, the API) is deployed afresh from the template on every start, so a changed
template or handler takes effect, and the data is put back into the resources of the same names.

The API keys come back under their old ids and values, not as new ones: the key id is the
submitter's identity, from which every transaction id is derived (decision 2), so a new id would
orphan every payment. A key the template creates gets the saved id and value as it is created, so
the usage plan's keys and the stack's outputs name it as before.

A snapshot is taken under moto's lock (``locking.MOTO_LOCK``), so it is one consistent moment of
every service; it is pickled there and written outside the lock, to a temporary file renamed over
the last snapshot, so a crash while saving leaves the previous one intact.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from payctl.runtime.locking import MOTO_LOCK

logger = logging.getLogger(__name__)

DEFAULT_STATE_DIR = Path(".payctl") / "state"
SNAPSHOT_FILE = "moto-state.pickle"
FORMAT_VERSION = 1
# The runtime's own staging bucket is rebuilt from the working tree by every deploy.
_STAGING_BUCKET_PREFIX = "payctl-local-artifacts-"


# CloudFormation names a resource without a Name property "<stack>-<logical id>-<random suffix>".
_GENERATED_SUFFIX = re.compile(r"-[A-Z0-9]{12,13}$")


def _stable_name(name: str) -> str:
    """A key's name without the random part CloudFormation added, the same on every deploy."""
    return _GENERATED_SUFFIX.sub("", name)


class IncompatibleState(RuntimeError):
    """The state directory was written for another stack (other parameters or another format)."""


@dataclass
class Snapshot:
    format_version: int
    identity: dict[str, Any]
    tables: dict[str, Any] = field(default_factory=dict)
    queues: dict[str, Any] = field(default_factory=dict)
    buckets: dict[str, Any] = field(default_factory=dict)
    api_keys: dict[str, tuple[str, str]] = field(default_factory=dict)

    def summary(self) -> str:
        items = sum(len(_flat_items(items)) for items, _ in self.tables.values())
        messages = sum(len(queue["messages"]) for queue in self.queues.values())
        objects = sum(len(keys) for keys in self.buckets.values())
        return (
            f"{len(self.tables)} tables ({items} items), {len(self.queues)} queues ({messages} messages), "
            f"{objects} objects, {len(self.api_keys)} API keys"
        )


def _flat_items(items: Any) -> list[Any]:
    flat: list[Any] = []
    for value in items.values():
        flat.extend(value.values() if isinstance(value, dict) else [value])
    return flat


class _Pickler(pickle.Pickler):
    """moto's objects hold locks and conditions; those are recreated, never saved."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, type(threading.Lock())):
            return threading.Lock, ()
        if isinstance(obj, type(threading.RLock())):
            return threading.RLock, ()
        if isinstance(obj, threading.Condition):
            return threading.Condition, ()
        return NotImplemented


def _backends(account_id: str, region: str) -> tuple[Any, Any, Any, Any]:
    from moto.apigateway.models import apigateway_backends
    from moto.dynamodb.models import dynamodb_backends
    from moto.s3.models import s3_backends
    from moto.sqs.models import sqs_backends

    return (
        dynamodb_backends[account_id][region],
        sqs_backends[account_id][region],
        s3_backends[account_id]["aws"],
        apigateway_backends[account_id][region],
    )


def capture(account_id: str, region: str, identity: dict[str, Any]) -> bytes:
    """Pickle one consistent moment of the stack's data."""
    dynamodb, sqs, s3, apigateway = _backends(account_id, region)
    with MOTO_LOCK:
        snapshot = Snapshot(FORMAT_VERSION, identity)
        for name, table in dynamodb.tables.items():
            snapshot.tables[name] = (table.items, table.schema)
        for name, queue in sqs.queues.items():
            snapshot.queues[name] = {
                "messages": queue._messages,
                "pending": queue._pending_messages,
                "deleted": queue.deleted_messages,
            }
        for name, bucket in s3.buckets.items():
            if not name.startswith(_STAGING_BUCKET_PREFIX):
                snapshot.buckets[name] = bucket.keys
        for key in apigateway.keys.values():
            if key.name:
                snapshot.api_keys[_stable_name(key.name)] = (key.id, key.value)
        buffer = _Buffer()
        _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(snapshot)
    return buffer.getvalue()


class _Buffer:
    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def getvalue(self) -> bytes:
        return b"".join(self._parts)


class StateDirectory:
    """Where a local stack keeps its data between runs."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def snapshot_path(self) -> Path:
        return self.path / SNAPSHOT_FILE

    def load(self, identity: dict[str, Any]) -> Snapshot | None:
        if not self.snapshot_path.is_file():
            return None
        with self.snapshot_path.open("rb") as stream:
            snapshot = pickle.load(stream)  # written by this tool, in the user's own directory
        if not isinstance(snapshot, Snapshot) or snapshot.format_version != FORMAT_VERSION:
            raise IncompatibleState(f"{self.snapshot_path} was written by another version of payctl")
        if snapshot.identity != identity:
            raise IncompatibleState(
                f"{self.path} holds the state of another stack ({snapshot.identity}, not {identity}); "
                "use another --state-dir, or --ephemeral"
            )
        return snapshot

    def save(self, data: bytes) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(prefix=".snapshot-", dir=self.path)
        try:
            with os.fdopen(descriptor, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, self.snapshot_path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


@contextmanager
def keys_keep_their_identity(snapshot: Snapshot | None, account_id: str, region: str) -> Iterator[None]:
    """While the stack deploys, a key created under a saved name gets its saved id and value."""
    from moto.apigateway.models import APIGatewayBackend

    if snapshot is None or not snapshot.api_keys:
        yield
        return
    original = APIGatewayBackend.create_api_key

    def create_api_key(self: Any, payload: dict[str, Any]) -> Any:
        key = original(self, payload)
        saved = snapshot.api_keys.get(_stable_name(key.name or ""))
        if saved is not None and self.account_id == account_id and self.region_name == region:
            del self.keys[key.id]
            key.id, key.value = saved
            self.keys[key.id] = key
        return key

    APIGatewayBackend.create_api_key = create_api_key  # type: ignore[method-assign]
    try:
        yield
    finally:
        APIGatewayBackend.create_api_key = original  # type: ignore[method-assign]


def restore(snapshot: Snapshot, account_id: str, region: str) -> list[str]:
    """Put the saved data into the freshly deployed resources of the same names; returns what was skipped."""
    dynamodb, sqs, s3, _ = _backends(account_id, region)
    skipped = []
    with MOTO_LOCK:
        for name, (items, schema) in snapshot.tables.items():
            table = dynamodb.tables.get(name)
            if table is None or table.schema != schema:
                skipped.append(f"table {name}")
                continue
            table.items = items
        for name, saved in snapshot.queues.items():
            queue = sqs.queues.get(name)
            if queue is None:
                skipped.append(f"queue {name}")
                continue
            queue._messages = saved["messages"]
            queue._pending_messages = saved["pending"]
            queue.deleted_messages = saved["deleted"]
        for name, keys in snapshot.buckets.items():
            bucket = s3.buckets.get(name)
            if bucket is None:
                skipped.append(f"bucket {name}")
                continue
            bucket.keys = keys
    for what in skipped:
        logger.warning("the saved state has %s, which this stack no longer has; it was not restored", what)
    return skipped


class PeriodicSaver:
    """Saves the stack's state every ``interval`` seconds until stopped."""

    def __init__(self, save: Any, interval: float) -> None:
        self._save = save
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="state-saver", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._save()
            except Exception:
                logger.exception("saving the local stack's state failed; the last snapshot is kept")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

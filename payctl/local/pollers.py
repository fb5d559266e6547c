"""SQS pollers that run the stack's event source mappings continuously, the way Lambda does.

The runtime's :class:`~payctl.runtime.sqs_event_sources.EventSourcePoller` does one receive →
invoke → delete cycle with Lambda's rules (the SQS event, ``ReportBatchItemFailures``, a function
error returning the whole batch). This module keeps it running: ``MaximumConcurrency`` workers per
mapping, each long-polling (so an idle queue costs no busy loop), gathering a batch until it holds
``BatchSize`` records or the batching window, opened by the first record, closes. Visibility
timeouts and the redrive to the DLQ after maxReceiveCount stay SQS's (moto's) job.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from payctl.runtime.dynamodb_streams import StreamPoller
from payctl.runtime.sqs_event_sources import EventSource, EventSourcePoller, PollResult
from payctl.tools.operator.queues import make_visible

logger = logging.getLogger(__name__)

# ReceiveMessage returns at most 10 messages per call.
RECEIVE_MAX = 10
# Lambda caps one invocation's payload at 6 MB; gathering stops before a batch would exceed it.
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
# Without MaximumConcurrency Lambda scales to hundreds of batches; one laptop process cannot.
DEFAULT_LOCAL_CONCURRENCY = 5
# Lambda long-polls for 20 s; a one-second wait keeps shutdown prompt at no measurable cost.
LONG_POLL_SECONDS = 1


@dataclass
class PollerStats:
    batches: int = 0
    records: int = 0
    deleted: int = 0
    returned: int = 0
    errored_batches: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, result: PollResult) -> None:
        with self.lock:
            self.batches += 1
            self.records += result.received
            self.deleted += result.deleted
            self.returned += len(result.failed_message_ids)
            self.errored_batches += int(bool(result.function_error or result.service_error))


class _LongPollingEventSourcePoller(EventSourcePoller):
    """The runtime's one-shot poller with a long-polling, stop-aware batch gatherer."""

    def __init__(
        self,
        source: EventSource,
        region: str,
        stop: threading.Event,
        *,
        wait_seconds: int = LONG_POLL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        lambda_client: Any = None,
        failed_visibility_seconds: int | None = None,
    ) -> None:
        super().__init__(source, region, visibility_timeout_on_failure=failed_visibility_seconds)
        self._stop = stop
        self._wait = wait_seconds
        self._clock = clock
        if lambda_client is not None:
            self._lambda = lambda_client

    def _receive(self, max_wait_seconds: float) -> list[dict[str, Any]]:
        return self.gather()

    def gather(self) -> list[dict[str, Any]]:
        """Receive until the batch is full or the batching window (from the first message) closes."""
        source = self.source
        batch: list[dict[str, Any]] = []
        size = 0
        window_end: float | None = None
        while not self._stop.is_set() and len(batch) < source.batch_size:
            if window_end is None:
                wait = self._wait
            else:
                remaining = window_end - self._clock()
                if remaining <= 0:
                    break
                wait = min(int(remaining), 20)
            response = self._sqs.receive_message(
                QueueUrl=source.queue_url,
                MaxNumberOfMessages=min(RECEIVE_MAX, source.batch_size - len(batch)),
                WaitTimeSeconds=wait,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            messages = response.get("Messages") or []
            for message in messages:
                size += len(message["Body"].encode())
                batch.append(message)
            if not batch:
                continue
            if size >= MAX_PAYLOAD_BYTES or source.maximum_batching_window_seconds <= 0:
                break
            if window_end is None:
                window_end = self._clock() + source.maximum_batching_window_seconds
            elif not messages:
                self._stop.wait(min(0.05, max(0.0, window_end - self._clock())))
        if self._stop.is_set() and batch:
            # Gathered but never invoked (shutdown): another consumer may take them at once.
            make_visible(self._sqs, self.source.queue_url, batch)
            return []
        return batch


class SqsPoller:
    """The event source mapping for one queue: ``MaximumConcurrency`` concurrent batch loops."""

    def __init__(
        self,
        source: EventSource,
        region: str,
        *,
        wait_seconds: int = LONG_POLL_SECONDS,
        default_concurrency: int = DEFAULT_LOCAL_CONCURRENCY,
        lambda_client: Any = None,
        failed_visibility_seconds: int | None = None,
    ) -> None:
        """``failed_visibility_seconds`` (a local-only option; None keeps Lambda's behaviour): make
        the records of a failed batch visible again after this many seconds instead of the queue's
        visibility timeout, so a fault run sees its retries in seconds, not minutes."""
        self.source = source
        self.workers = source.maximum_concurrency or default_concurrency
        self._stop = threading.Event()
        self._esm = _LongPollingEventSourcePoller(
            source,
            region,
            self._stop,
            wait_seconds=wait_seconds,
            lambda_client=lambda_client,
            failed_visibility_seconds=failed_visibility_seconds,
        )
        self._threads: list[threading.Thread] = []
        self.stats = PollerStats()

    @property
    def name(self) -> str:
        return self.source.function_logical_id or self.source.function_name

    @property
    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def start(self) -> None:
        if not self.source.enabled or self._threads:
            return
        self._stop.clear()
        for index in range(self.workers):
            thread = threading.Thread(target=self._loop, name=f"sqs-poller:{self.name}:{index}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def request_stop(self) -> None:
        self._stop.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop receiving; a batch already handed to the function finishes first."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        stuck = [thread.name for thread in self._threads if thread.is_alive()]
        if stuck:
            logger.warning("pollers still finishing a batch at shutdown: %s", ", ".join(stuck))
        self._threads = []

    def poll_once(self) -> PollResult:
        """Gather one batch, invoke the function once, delete what succeeded."""
        result = self._esm.poll_once()
        if result.invoked:
            self.stats.add(result)
            if result.function_error or result.service_error:
                logger.warning(
                    "%s returned a batch of %d: %s",
                    self.name,
                    result.received,
                    result.function_error or result.service_error,
                )
        return result

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:
                # A poller outlives one bad receive or delete (as the managed ESM does), but not silently.
                logger.exception("poller for %s failed; retrying", self.name)
                self._stop.wait(1.0)


# Lambda polls each stream shard about four times a second.
STREAM_POLL_SECONDS = 0.25


class StreamPollerLoop:
    """A DynamoDB stream event source, polled continuously: one batch per shard per cycle."""

    def __init__(self, poller: StreamPoller, *, interval: float = STREAM_POLL_SECONDS) -> None:
        self.poller = poller
        self.source = poller.source
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def name(self) -> str:
        return self.source.function_logical_id or self.source.function_name

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if not self.source.enabled or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=f"stream-poller:{self.name}", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        self._stop.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
            if self._thread.is_alive():
                logger.warning("stream poller %s still finishing a batch at shutdown", self.name)
        self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                result = self.poller.poll_once()
                if result.failed_batches:
                    logger.warning("%s failed a stream batch: %s", self.name, "; ".join(result.errors))
                    # Lambda backs off before it retries a failed stream batch.
                    self._stop.wait(1.0)
                    continue
                if result.invoked:
                    continue
            except Exception:
                logger.exception("stream poller for %s failed; retrying", self.name)
            self._stop.wait(self._interval)


class PollerGroup:
    """All the stack's event sources, started and stopped together."""

    def __init__(self, pollers: list[SqsPoller | StreamPollerLoop]) -> None:
        self.pollers = pollers

    def start(self) -> None:
        for poller in self.pollers:
            poller.start()

    def stop(self, timeout: float = 10.0) -> None:
        for poller in self.pollers:
            poller.request_stop()
        for poller in self.pollers:
            poller.stop(timeout)

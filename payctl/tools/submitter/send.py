"""Sending checked rows to POST /payments/batch: batches, bounded concurrency, retries, a rate cap.

Retrying is safe because every item carries its idempotency key: an item that did reach the API
comes back ``replayed``, never as a second payment.

- 429, 5xx and connection errors are retried with exponential backoff and full jitter; a
  ``Retry-After`` header is honoured when it asks for longer.
- Items answered with a retryable error (``request_in_progress``, a dependency error) are sent
  again; other per-item errors are final.
- Any other 4xx would fail again, so it is never retried: the whole batch is rejected with it,
  except 401/403 (a wrong key), which stops the run, since every later batch would fail the same way.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

from payctl.tools.api_client import ApiClient, ApiUnreachable
from payctl.tools.submitter.journal import Journal
from payctl.tools.submitter.rows import Checked

MAX_BATCH_ITEMS = 500
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRYABLE_ITEM_CODES = frozenset(
    {"request_in_progress", "dependency_error", "enqueue_failed", "throttled", "internal_error"}
)
_MAX_RETRY_AFTER_SECONDS = 60.0


class RunStopped(RuntimeError):
    """The API refused the run itself (a wrong or missing key): nothing more can succeed."""


@dataclass
class Tally:
    rows: int = 0
    accepted: int = 0
    replayed: int = 0
    rejected: int = 0
    not_sent: int = 0
    resumed: int = 0
    last_failure: str | None = None

    @property
    def finished(self) -> int:
        return self.accepted + self.replayed + self.rejected


@dataclass(frozen=True)
class Backoff:
    base: float = 0.25
    cap: float = 20.0
    attempts: int = 8

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Full jitter (AWS's recommendation for many clients retrying at once), at least Retry-After."""
        jittered = rng.uniform(0, min(self.cap, self.base * 2**attempt))
        return max(jittered, retry_after) if retry_after is not None else jittered


def retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    # RFC 9110: Retry-After is whole delay-seconds or an HTTP date.
    seconds: float
    text = value.strip()
    if text.isascii() and text.isdigit():
        seconds = int(text)
    else:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER_SECONDS)


@dataclass
class BatchOutcome:
    results: list[tuple[Checked, dict[str, Any]]] = field(default_factory=list)
    not_sent: list[Checked] = field(default_factory=list)
    failure: str | None = None


class RateLimit:
    """At most ``per_second`` rows leave per second, over all threads (to stay under a usage plan)."""

    def __init__(self, per_second: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval = 1.0 / per_second if per_second else 0.0
        self._next = 0.0
        self._clock = clock
        self._lock = threading.Lock()

    def wait(self, rows: int, sleep: Callable[[float], None]) -> None:
        if not self._interval:
            return
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + rows * self._interval
        sleep(max(0.0, start - now))


class BatchSender:
    def __init__(
        self,
        client: ApiClient,
        *,
        backoff: Backoff | None = None,
        rate: RateLimit | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._client = client
        self._backoff = backoff or Backoff()
        self._rate = rate or RateLimit(None)
        self._sleep = sleep
        self._rng = rng or random.Random()

    def send(self, batch: list[Checked]) -> BatchOutcome:
        outcome = BatchOutcome()
        remaining = batch
        retry_after: float | None = None
        for attempt in range(self._backoff.attempts):
            if attempt:
                self._sleep(self._backoff.delay(attempt - 1, retry_after, self._rng))
                retry_after = None
            self._rate.wait(len(remaining), self._sleep)
            try:
                response = self._client.post(
                    "/payments/batch", {"payments": [checked.item for checked in remaining]}
                )
            except ApiUnreachable as exc:
                outcome.failure = str(exc)
                continue
            body = response.json() if response.body.startswith(b"{") else {}
            if response.status in (200, 207) and isinstance(body.get("results"), list):
                retry = []
                for checked, result in zip(remaining, body["results"], strict=True):
                    code = (result.get("error") or {}).get("code")
                    if result.get("status") == "rejected" and code in RETRYABLE_ITEM_CODES:
                        retry.append(checked)
                        outcome.failure = f"item error {code}"
                    else:
                        outcome.results.append((checked, result))
                remaining = retry
                if not remaining:
                    return outcome
                continue
            detail = response.body[:300].decode(errors="replace")
            if response.status in RETRYABLE_STATUSES:
                retry_after = retry_after_seconds(response.headers.get("retry-after"))
                outcome.failure = f"HTTP {response.status} {detail}"
                continue
            if response.status in (401, 403):
                raise RunStopped(f"the API refused the key: HTTP {response.status} {detail}")
            error = body.get("error") or {"code": f"http_{response.status}", "message": detail}
            outcome.results.extend((checked, {"status": "rejected", "error": error}) for checked in remaining)
            return outcome
        outcome.not_sent = remaining
        return outcome


def submit(
    rows: Iterable[Checked],
    journal: Journal,
    sender: BatchSender,
    *,
    batch_size: int = MAX_BATCH_ITEMS,
    concurrency: int = 4,
    on_progress: Callable[[Tally], None] | None = None,
) -> Tally:
    """Send every row the journal has not finished; each finished row is journaled as it comes back.

    At most ``concurrency`` batches are in flight and one more is being filled, so memory holds
    ``(concurrency + 1) * batch_size`` rows whatever the file's size.
    """
    if not 1 <= batch_size <= MAX_BATCH_ITEMS:
        raise ValueError(f"the batch size must be 1..{MAX_BATCH_ITEMS}")
    # A resumed run reports and exits on the whole file, its earlier rows included.
    tally = Tally(
        accepted=journal.counts.get("accepted", 0),
        replayed=journal.counts.get("replayed", 0),
        rejected=journal.counts.get("rejected", 0),
    )
    progress = on_progress or (lambda _tally: None)
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="submit") as pool:
        run = _InFlight(pool, sender, journal, tally, progress, concurrency)
        try:
            for batch in _batches_to_send(rows, journal, tally, batch_size):
                run.send(batch)
                progress(tally)
            run.collect(0)
        except BaseException:
            run.abandon()
            raise
    return tally


def _batches_to_send(
    rows: Iterable[Checked], journal: Journal, tally: Tally, batch_size: int
) -> Iterator[list[Checked]]:
    """The rows still to send, in batches; finished rows are counted, locally rejected ones journaled."""
    batch: list[Checked] = []
    for checked in rows:
        tally.rows += 1
        if checked.number in journal.done:
            tally.resumed += 1
            continue
        if checked.error is not None:
            journal.record(checked.number, checked.key, "rejected", error=checked.error)
            tally.rejected += 1
            continue
        batch.append(checked)
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def _count(totals: Tally | ListSummary, status: str) -> None:
    if status == "accepted":
        totals.accepted += 1
    elif status == "replayed":
        totals.replayed += 1
    else:
        totals.rejected += 1


class _InFlight:
    """The batches being sent, and the journal and tally each one finishes into."""

    def __init__(
        self,
        pool: ThreadPoolExecutor,
        sender: BatchSender,
        journal: Journal,
        tally: Tally,
        progress: Callable[[Tally], None],
        concurrency: int,
    ) -> None:
        self._pool = pool
        self._sender = sender
        self._journal = journal
        self._tally = tally
        self._progress = progress
        self._concurrency = concurrency
        self._futures: set[Future[BatchOutcome]] = set()

    def send(self, batch: list[Checked]) -> None:
        self.collect(self._concurrency - 1)
        self._futures.add(self._pool.submit(self._sender.send, batch))

    def collect(self, block_until: int) -> None:
        while len(self._futures) > block_until:
            done, _ = wait(self._futures, return_when=FIRST_COMPLETED)
            for future in done:
                self._futures.discard(future)
                self._finish(future.result())

    def abandon(self) -> None:
        """Ctrl-C or a refused key: batches already sent are still journaled, the rest is not sent."""
        for future in self._futures:
            future.cancel()
        for future in self._futures:
            if not future.cancelled():
                with contextlib.suppress(RunStopped):
                    self._finish(future.result())
        self._journal.flush()

    def _finish(self, outcome: BatchOutcome) -> None:
        tally = self._tally
        for checked, result in outcome.results:
            status = str(result.get("status"))
            self._journal.record(
                checked.number, checked.key, status, result.get("transaction_id"), result.get("error")
            )
            _count(tally, status)
        tally.not_sent += len(outcome.not_sent)
        if outcome.not_sent:
            tally.last_failure = outcome.failure
        self._journal.flush()
        self._progress(tally)


@dataclass
class ListSummary:
    accepted: int = 0
    replayed: int = 0
    rejected: int = 0
    results: list[dict[str, Any]] = field(default_factory=list)
    not_sent: int = 0
    failure: str | None = None


def submit_payments(
    client: ApiClient, payments: list[dict[str, Any]], *, batch_size: int = MAX_BATCH_ITEMS
) -> ListSummary:
    """Items already holding their ``idempotency_key`` (the demo's and the benchmark's), in order.

    ``results`` keep the batch API's shape, with ``index`` counted over the whole list.
    """
    sender = BatchSender(client)
    summary = ListSummary()
    for offset in range(0, len(payments), batch_size):
        batch = [
            Checked(offset + index, payment.get("idempotency_key"), payment)
            for index, payment in enumerate(payments[offset : offset + batch_size])
        ]
        outcome = sender.send(batch)
        summary.not_sent += len(outcome.not_sent)
        summary.failure = outcome.failure if outcome.not_sent else summary.failure
        for checked, result in sorted(outcome.results, key=lambda pair: pair[0].number):
            summary.results.append({**result, "index": checked.number})
            _count(summary, str(result.get("status")))
    return summary
